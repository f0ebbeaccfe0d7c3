//! The `profile` binary, run as a user would run it.
//!
//! * `score` on SummEval: the JSON report's shape and counts (the human
//!   joint model included), the text table (with joint coefficients and the
//!   summary), `--factors`, `--bootstrap 0`, `--seed`, `--label`, `--out`, stdin.
//! * `align` on `fixtures/agents.json`, against values computed with scipy,
//!   with permutation p-values.
//! * `formats`, `factors`, `--version`.
//! * Failures: a non-zero exit code and a clear message on stderr for a
//!   missing file, an undetectable format, an unknown factor, format, option
//!   or command, and an `align` file without a "human" agent.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;
use profile::data::Format;
use profile::factors::{Factor, Task};
use profile::report::Report;
use serde_json::Value;

fn profile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .output()
        .expect("run the profile binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs a command that must succeed and returns its standard output.
fn ok(args: &[&str]) -> String {
    let o = profile(args);
    assert!(
        o.status.success(),
        "profile {args:?} failed ({:?}): {}",
        o.status.code(),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a command that must fail with `code`; returns its standard error.
fn fails(args: &[&str], code: i32) -> String {
    let o = profile(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "profile {args:?}: stdout {} stderr {}",
        stdout(&o),
        stderr(&o)
    );
    assert!(o.stdout.is_empty(), "profile {args:?} wrote to stdout");
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

// -------------------------------------------------------------------- score

#[test]
fn score_summeval_json_report() {
    let out = ok(&["score", SUMMEVAL, "--json"]);
    let v = json(&out);
    assert_eq!(v["schema"], "profile-report/1");
    assert_eq!(v["agents"][0]["name"], "human");
    assert_eq!(v["agents"][0]["setting"], "human");
    let d = &v["dataset"];
    assert_eq!(d["format"], "summeval");
    assert_eq!(d["label"], "mean");
    assert_eq!(d["name"], "summeval.jsonl");
    assert_eq!(d["records_read"], 1600);
    assert_eq!(d["pairs"], 11_342);
    assert_eq!(d["human_ties_dropped"], 658);
    assert_eq!(d["inputs"], 100);
    assert_eq!(v["config"]["task"], "summarization");
    assert_eq!(v["config"]["bootstrap_resamples"], 1000);

    let length = &v["agents"][0]["factor_scores"]["length"];
    for key in [
        "score",
        "ci95",
        "concordant",
        "discordant",
        "ties",
        "dropped",
        "n_pairs",
    ] {
        assert!(
            length.get(key).is_some(),
            "factor_scores.length lacks {key}"
        );
    }
    // The Python reference's counts (tests/reference.rs).
    assert_eq!(length["concordant"], 5817);
    assert_eq!(length["discordant"], 5217);
    assert_eq!(length["dropped"], 308);
    assert_eq!(length["n_pairs"], 11_342);
    let ci = length["ci95"].as_array().unwrap();
    assert_eq!(ci.len(), 2);
    let (lo, hi, s) = (
        ci[0].as_f64().unwrap(),
        ci[1].as_f64().unwrap(),
        length["score"].as_f64().unwrap(),
    );
    assert!(lo <= s && s <= hi);

    // The human joint model over the scored factors (tests/joint.rs checks its numbers).
    let joint = &v["agents"][0]["joint"];
    assert_eq!(joint["n_pairs_used"], 11_342);
    assert_eq!(joint["converged"], true);
    assert_eq!(joint["bootstrap_resamples"], 1000);
    for f in ["length", "novel_words"] {
        let c = &joint["coefficients"][f];
        for key in ["coefficient", "se", "ci95", "scale", "correlations"] {
            assert!(c.get(key).is_some(), "joint.coefficients.{f} lacks {key}");
        }
    }

    // Skipped: the summarization preset's factors that need a model.
    let skipped: Vec<&str> = v["skipped_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = Task::Summarization
        .factors()
        .iter()
        .filter(|f| f.needs_model())
        .map(|f| f.id())
        .collect();
    assert_eq!(skipped, want);
    assert_eq!(skipped.len(), 8);
    assert!(v["skipped_factors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("language model"));

    // And it is a report the crate reads back.
    let r = Report::from_json(&out).unwrap();
    assert_eq!(r.agent("human").unwrap().ranking, ["length", "novel_words"]);
    // Readers reject another major version of the schema.
    let v2 = out.replacen("profile-report/1", "profile-report/2", 1);
    assert!(matches!(
        Report::from_json(&v2),
        Err(profile::report::ReportError::UnsupportedSchema(_))
    ));
}

#[test]
fn score_text_table_mentions_skipped_factors() {
    let out = ok(&["score", SUMMEVAL, "--bootstrap", "100"]);
    assert!(out.contains("summeval"), "{out}");
    assert!(out.contains("agent: human"), "{out}");
    assert!(out.contains("length") && out.contains("novel_words"));
    assert!(out.contains("skipped factors"), "{out}");
    assert!(out.contains("joint β"), "{out}");
    for f in Task::Summarization
        .factors()
        .iter()
        .filter(|f| f.needs_model())
    {
        assert!(out.contains(f.id()), "the table does not mention {f}");
    }
    assert!(out.contains("658"), "human ties are reported: {out}");
}

#[test]
fn score_with_chosen_factors_and_no_bootstrap() {
    let out = ok(&[
        "score",
        SUMMEVAL,
        "--factors",
        "length,novel_words_count",
        "--bootstrap",
        "0",
        "--json",
    ]);
    let v = json(&out);
    let scores = v["agents"][0]["factor_scores"].as_object().unwrap();
    let keys: Vec<&str> = scores.keys().map(String::as_str).collect();
    assert_eq!(keys, ["length", "novel_words_count"]);
    assert_eq!(
        v["config"]["factors"],
        json(r#"["length", "novel_words_count"]"#)
    );
    assert_eq!(v["skipped_factors"], json("[]"));
    for (f, e) in scores {
        assert!(e["ci95"].is_null(), "{f}: ci95 with --bootstrap 0");
        assert!(e["score"].is_number(), "{f}");
    }
    assert_eq!(v["config"]["bootstrap_resamples"], 0);
}

#[test]
fn same_seed_same_report() {
    let args = [
        "score",
        SUMMEVAL,
        "--bootstrap",
        "200",
        "--seed",
        "7",
        "--json",
    ];
    let a = ok(&args);
    assert_eq!(a, ok(&args), "two runs with the same seed differ");
    let b = ok(&[
        "score",
        SUMMEVAL,
        "--bootstrap",
        "200",
        "--seed",
        "8",
        "--json",
    ]);
    let ci = |s: &str| json(s)["agents"][0]["factor_scores"]["length"]["ci95"].clone();
    assert_ne!(ci(&a), ci(&b), "seeds 7 and 8 gave the same interval");
    assert_eq!(json(&a)["config"]["seed"], 7);
}

#[test]
fn score_with_a_summeval_label() {
    let v = json(&ok(&[
        "score",
        SUMMEVAL,
        "--label",
        "relevance",
        "--bootstrap",
        "0",
        "--json",
    ]));
    assert_eq!(v["dataset"]["label"], "relevance");
    assert_eq!(v["dataset"]["pairs"], 10_143);
    assert_eq!(v["dataset"]["human_ties_dropped"], 1_857);
}

#[test]
fn score_out_writes_the_json_report() {
    let path = std::env::temp_dir().join(format!("profile-cli-test-{}.json", std::process::id()));
    let path_s = path.to_str().unwrap();
    let json_out = ok(&[
        "score",
        &fixture("profile.jsonl"),
        "--bootstrap",
        "50",
        "--json",
        "--out",
        path_s,
    ]);
    let written = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(written, json_out);
    assert_eq!(json(&written)["dataset"]["format"], "profile");
}

#[test]
fn score_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(["score", "-", "--json", "--bootstrap", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&read(&fixture("tldr_axis.jsonl")))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&stdout(&o));
    assert_eq!(v["dataset"]["format"], "tldr-axis");
    assert_eq!(v["dataset"]["pairs"], 6);
    // TL;DR data default to the summarization preset.
    assert_eq!(v["config"]["task"], "summarization");
}

#[test]
fn score_reports_problems_in_the_table() {
    let out = ok(&["score", &fixture("broken.jsonl"), "--bootstrap", "0"]);
    assert!(out.contains("problems (8)"), "{out}");
    assert!(out.contains("line 6: field `response_b`"), "{out}");
}

// -------------------------------------------------------------------- align

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-12, "{got} != {want}");
}

#[test]
fn align_matches_scipy() {
    // Reference values (scipy 1.17.1), over the factors both agents scored:
    //   judge (10 factors, a tie at 0.10):
    //     kendalltau  0.6292532049656926
    //     spearmanr   0.8389096502784892
    //     pearsonr    0.863720968397491
    //   writer (8 factors: fluency is null, off_focus missing):
    //     kendalltau  0.3571428571428571
    //     spearmanr   0.523809523809524
    //     pearsonr    0.4019141730755448
    //   flat (3 factors, constant): all NaN in scipy → null
    let v = json(&ok(&["align", &fixture("agents.json"), "--json"]));
    let alignments = v.as_array().unwrap();
    assert_eq!(alignments.len(), 3, "one per agent but human");
    let get = |name: &str| {
        alignments
            .iter()
            .find(|a| a["agent"] == name)
            .unwrap_or_else(|| panic!("no alignment for {name}"))
    };
    let judge = get("judge");
    assert_eq!(judge["reference"], "human");
    assert_eq!(judge["n_factors"], 10);
    close(&judge["kendall_tau"], 0.6292532049656926);
    close(&judge["spearman_rho"], 0.8389096502784892);
    close(&judge["pearson_r"], 0.863720968397491);
    let writer = get("writer");
    assert_eq!(writer["n_factors"], 8);
    let factors: Vec<&str> = writer["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(!factors.contains(&"fluency") && !factors.contains(&"off_focus"));
    close(&writer["kendall_tau"], 0.3571428571428571);
    close(&writer["spearman_rho"], 0.523809523809524);
    close(&writer["pearson_r"], 0.4019141730755448);
    let flat = get("flat");
    assert_eq!(flat["n_factors"], 3);
    assert!(flat["kendall_tau"].is_null() && flat["spearman_rho"].is_null());
    assert!(flat["pearson_r"].is_null());
    // Permutation p-values: 10! orders are too many, so 10,000 seeded
    // shuffles for the judge; 8! too for the writer; none for the constant
    // agent. τ = 0.63 on 10 factors is significant, τ = 0.36 on 8 is not.
    assert_eq!(judge["permutations"], 10_000);
    assert_eq!(judge["permutation_exact"], false);
    let p = |a: &Value, k: &str| a[k].as_f64().unwrap_or_else(|| panic!("{k}: {a}"));
    assert!(
        (0.001..0.05).contains(&p(judge, "kendall_tau_p")),
        "{judge}"
    );
    assert!(p(writer, "kendall_tau_p") > 0.1, "{writer}");
    for k in ["spearman_rho_p", "pearson_r_p"] {
        assert!((0.0..=1.0).contains(&p(judge, k)));
    }
    assert!(flat.get("kendall_tau_p").is_none(), "{flat}");
    // Seeded: the same again, another seed or count changes them.
    let again = json(&ok(&["align", &fixture("agents.json"), "--json"]));
    assert_eq!(again, v);
    let other = json(&ok(&[
        "align",
        &fixture("agents.json"),
        "--json",
        "--seed",
        "7",
        "--permutations",
        "2000",
    ]));
    assert_eq!(other[1]["permutations"], 2000);

    // The table shows the same numbers to three places.
    let table = ok(&["align", &fixture("agents.json")]);
    assert!(table.contains("kendall_tau"), "{table}");
    let judge_row = table.lines().find(|l| l.starts_with("judge")).unwrap();
    assert!(
        judge_row.contains("0.629") && judge_row.contains("0.839") && judge_row.contains("0.864"),
        "{judge_row}"
    );
}

#[test]
fn align_reads_the_papers_published_scores_task_by_task() {
    // ../shared/data/paper/factor_scores.json: task → agent → factor → score.
    // Expected values from scipy.stats (kendalltau, spearmanr, pearsonr) on
    // the factors both agents have:
    //   summarization, GPT-4o (judge), 10 factors: 0.8222222222222221,
    //     0.9393939393939393, 0.9832393634454972
    //   helpful, GPT-4o (writer), 9 factors: 0.5555555555555556,
    //     0.7333333333333334, 0.7575249986385081
    //   doc_qa, GPT-4o (writer), 10 factors: 0.6, 0.7696969696969697,
    //     0.4800204246211792
    let paper = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/paper/factor_scores.json"
    );
    let v = json(&ok(&["align", paper, "--json", "--permutations", "0"]));
    let tasks: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(tasks, ["doc_qa", "helpful", "summarization"]);
    let get = |task: &str, agent: &str| {
        v[task]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == agent)
            .unwrap_or_else(|| panic!("{task}: no {agent}"))
            .clone()
    };
    for (task, agent, n, tau, rho, r) in [
        (
            "summarization",
            "GPT-4o (judge)",
            10,
            0.8222222222222221,
            0.9393939393939393,
            0.9832393634454972,
        ),
        (
            "helpful",
            "GPT-4o (writer)",
            9,
            0.5555555555555556,
            0.7333333333333334,
            0.7575249986385081,
        ),
        (
            "doc_qa",
            "GPT-4o (writer)",
            10,
            0.6,
            0.7696969696969697,
            0.4800204246211792,
        ),
    ] {
        let a = get(task, agent);
        assert_eq!(a["n_factors"], n, "{task} {agent}");
        close(&a["kendall_tau"], tau);
        close(&a["spearman_rho"], rho);
        close(&a["pearson_r"], r);
    }
    // 16 model agents per task but doc_qa's 10 (no Tulu models there).
    assert_eq!(v["summarization"].as_array().unwrap().len(), 16);
    assert_eq!(v["doc_qa"].as_array().unwrap().len(), 10);
    // --task picks one; the table names it.
    let one = ok(&["align", paper, "--task", "helpful", "--permutations", "0"]);
    assert!(one.starts_with("task helpful:\n"), "{one}");
    assert!(!one.contains("summarization"), "{one}");
    let row = one
        .lines()
        .find(|l| l.starts_with("GPT-4o (writer)"))
        .unwrap();
    assert!(
        row.contains("0.556") && row.contains("0.733") && row.contains("0.758"),
        "{row}"
    );
    // An unknown task, or --task on a file of agents: usage errors.
    let (code, _, err) = common::run_cli(&["align", paper, "--task", "chat"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("its tasks: doc_qa, helpful, summarization"),
        "{err}"
    );
    let (code, _, err) = common::run_cli(&["align", &fixture("agents.json"), "--task", "helpful"]);
    assert_eq!(code, 2, "{err}");
}

// ------------------------------------------------------------ other commands

#[test]
fn formats_factors_and_version() {
    let formats = ok(&["formats"]);
    for f in Format::ALL {
        assert!(formats.contains(f.name()), "formats lacks {f}");
    }
    let factors = ok(&["factors"]);
    for f in Factor::ALL {
        assert!(factors.contains(f.id()), "factors lacks {f}");
    }
    for t in Task::ALL {
        assert!(factors.contains(t.id()), "factors lacks the preset {t}");
    }
    assert!(ok(&["--version"]).starts_with("profile "));
    assert!(ok(&["--help"]).contains("profile score FILE"));
}

// ----------------------------------------------------------------- failures

#[test]
fn missing_file() {
    let path = fixture("does-not-exist.jsonl");
    let err = fails(&["score", &path], 1);
    assert!(
        err.contains("cannot open") && err.contains("does-not-exist.jsonl"),
        "{err}"
    );
    let err = fails(&["align", &path], 1);
    assert!(err.contains("does-not-exist.jsonl"), "{err}");
}

#[test]
fn unknown_format_file_lists_the_known_formats() {
    let err = fails(&["score", &fixture("unknown_format.jsonl")], 1);
    assert!(err.contains("unknown format"), "{err}");
    // The fields it did find, and every format it knows.
    assert!(
        err.contains("completion") && err.contains("rating"),
        "{err}"
    );
    for f in Format::ALL {
        assert!(err.contains(f.name()), "stderr lacks {f}: {err}");
    }
}

#[test]
fn unknown_factor_lists_the_known_factors() {
    let err = fails(&["score", SUMMEVAL, "--factors", "length,verbosity"], 2);
    assert!(err.contains("unknown factor `verbosity`"), "{err}");
    for f in Factor::ALL {
        assert!(err.contains(f.id()), "stderr lacks {f}: {err}");
    }
}

#[test]
fn unknown_format_name_option_and_command() {
    let err = fails(&["score", SUMMEVAL, "--format", "csv"], 2);
    assert!(err.contains("unknown format `csv`"), "{err}");
    for f in Format::ALL {
        assert!(err.contains(f.name()), "stderr lacks {f}: {err}");
    }
    let err = fails(&["score", SUMMEVAL, "--frobnicate"], 2);
    assert!(err.contains("unknown option --frobnicate"), "{err}");
    let err = fails(&["score", SUMMEVAL, "--bootstrap", "many"], 2);
    assert!(err.contains("--bootstrap"), "{err}");
    let err = fails(&["score", SUMMEVAL, "--seed"], 2);
    assert!(err.contains("--seed needs a value"), "{err}");
    let err = fails(&["score"], 2);
    assert!(err.contains("one FILE"), "{err}");
    let err = fails(&["frobnicate"], 2);
    assert!(err.contains("unknown command `frobnicate`"), "{err}");
    let err = fails(&[], 2);
    assert!(err.contains("no command"), "{err}");
}

#[test]
fn label_on_data_that_is_not_summeval() {
    let err = fails(
        &["score", &fixture("profile.jsonl"), "--label", "relevance"],
        2,
    );
    assert!(err.contains("--label applies to SummEval"), "{err}");
    let err = fails(&["score", SUMMEVAL, "--label", "readability"], 2);
    assert!(err.contains("unknown label `readability`"), "{err}");
}

#[test]
fn align_without_human() {
    let err = fails(&["align", &fixture("agents_no_human.json")], 1);
    assert!(err.contains("no \"human\" agent"), "{err}");
    let err = fails(&["align", &fixture("profile.jsonl")], 1);
    assert!(err.contains("expected an object"), "{err}");
}

/// The CLI reads files in 64 KiB pieces: gzip members larger than that must
/// decode across pieces (HH-RLHF inflates ~4.4×, so the output buffer fills mid-input).
#[test]
fn gzipped_hh_rlhf_reads_whole() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profile"))
        .args([
            "score",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/data/hh-rlhf-harmless-base/test.jsonl.gz"
            ),
            "--json",
            "--bootstrap",
            "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["dataset"]["records_read"], 2312);
    assert_eq!(r["dataset"]["records_skipped"], 0);
    assert_eq!(r["dataset"]["pairs"], 2307);
    assert_eq!(r["dataset"]["pairs_dropped_other"], 5);
}
