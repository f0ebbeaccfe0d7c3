//! Hostile data against the `profile` binary (issue 10, the data side): each
//! case with its exit code and message. Never an abort (rc 134), never rc 0
//! when nothing usable came out, bounded memory on gzip bombs.
//!
//! * A file whose pairs tie on every factor: the joint model is "not
//!   estimable" with the reason (it used to abort in `chunks_exact(0)`).
//! * An empty file, a wrong `--format` (0 records parsed), only bad records:
//!   rc 1 with the first located problems; `--factors ""`: rc 2.
//! * A record over the size limit (8 MiB, `--max-record-mb`): skipped with
//!   a located diagnostic, read without buffering it; a gzip bomb whose one
//!   line decompresses to 160 MB stays under 64 MB of peak memory.
//! * Duplicate JSON keys: the record is skipped with its line and the key
//!   (also in `align` and `--into` reading).
//! * `--bootstrap` above 100000 and `--permutations` above 1000000: rc 2.
//! * A JSON array without its `]`, problems in a one-line array (element
//!   index), trailing bytes after the gzip data (not called truncated).
//! * `--into`: type errors with the field path, out-of-range scores refused.
//! * Pearson's r on a constant vector (null) and on ±1e200 scores.

mod common;

use std::io::Write;
#[cfg(target_os = "linux")]
use std::process::Stdio;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

fn profile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .output()
        .expect("run the profile binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command that must exit with `code`; returns (stdout, stderr).
fn exits(args: &[&str], code: i32) -> (String, String) {
    let o = profile(args);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(
        o.status.code(),
        Some(code),
        "profile {args:?}: stdout {out} stderr {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    (out, err)
}

fn tmp(name: &str, bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("profile-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

const TIED: &str = r#"{"response_a":"cat","response_b":"dog","preference":"a"}"#;

fn diagnostics(report: &Value) -> Vec<String> {
    report["dataset"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

// ------------------------------------------------------------ item 1: ties

#[test]
fn pairs_tied_on_every_factor_make_the_joint_model_not_estimable() {
    let lines = [TIED; 20].join("\n");
    let ident = r#"{"response_a":"same words","response_b":"same words","preference":"b"}"#;
    for (name, body) in [
        ("tied.jsonl", lines),
        ("identical.jsonl", [ident; 5].join("\n")),
    ] {
        let path = tmp(name, body.as_bytes());
        let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "50"], 0);
        let v = json(&out);
        let joint = &v["agents"][0]["joint"];
        let reason = joint["not_estimable"]
            .as_str()
            .unwrap_or_else(|| panic!("{joint}"));
        assert!(reason.contains("no factor differs"), "{reason}");
        let (table, _) = exits(&["score", &path, "--bootstrap", "50"], 0);
        assert!(table.contains("not estimable"), "{table}");
    }
}

#[test]
fn empty_responses_do_not_abort() {
    let body = r#"{"response_a":"","response_b":"","preference":"a"}"#;
    let path = tmp("empty_responses.jsonl", body.as_bytes());
    let o = profile(&["score", &path, "--bootstrap", "10"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{o:?}");
    assert!(!text(&o.stderr).contains("panicked"));
}

// ------------------------------------------------- item 15: nothing usable

#[test]
fn an_empty_file_is_nothing_usable() {
    let path = tmp("empty.jsonl", b"");
    let (_, err) = exits(&["score", &path], 1);
    assert!(err.contains("nothing usable"), "{err}");
    assert!(err.contains("0 records"), "{err}");
    let blank = tmp("blank.jsonl", b"\n  \n\n");
    exits(&["score", &blank], 1);
}

#[test]
fn a_wrong_format_that_parses_nothing_is_rc_1_with_located_problems() {
    let path = fixture("profile.jsonl");
    let (_, err) = exits(&["score", &path, "--format", "summeval"], 1);
    assert!(err.contains("nothing usable"), "{err}");
    assert!(err.contains("0 of 10 records parsed"), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn an_empty_factor_list_is_a_usage_error() {
    let path = fixture("profile.jsonl");
    for list in ["", " , ", ","] {
        let (_, err) = exits(&["score", &path, "--factors", list], 2);
        assert!(err.contains("--factors"), "{err}");
    }
}

// ----------------------------------------------- item 12: record-size limit

#[test]
fn a_record_over_the_limit_is_skipped_with_its_line() {
    let big = format!(
        r#"{{"response_a":"{}","response_b":"b","preference":"a"}}"#,
        "x ".repeat(9 << 19)
    );
    let body = format!("{TIED}\n{big}\n{TIED}\n");
    let path = tmp("big.jsonl", body.as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    assert_eq!(v["dataset"]["records_read"], 3);
    assert_eq!(v["dataset"]["records_skipped"], 1);
    let d = &v["dataset"]["diagnostics"][0];
    assert_eq!(d["line"], 2, "{d}");
    assert!(
        d["reason"].as_str().unwrap().contains("record over 8 MiB"),
        "{d}"
    );
    // Raised: the record is read.
    let (out, _) = exits(
        &[
            "score",
            &path,
            "--json",
            "--bootstrap",
            "0",
            "--max-record-mb",
            "16",
        ],
        0,
    );
    assert_eq!(json(&out)["dataset"]["records_skipped"], 0);
    // The same inside a JSON array.
    let arr = format!("[{TIED},\n{big},\n{TIED}]");
    let path = tmp("big.json", arr.as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    assert_eq!(v["dataset"]["records_skipped"], 1);
    assert_eq!(v["dataset"]["records_parsed"], 2);
    assert_eq!(v["dataset"]["diagnostics"][0]["line"], 2);
}

#[test]
fn max_record_mb_takes_a_positive_count() {
    let path = fixture("profile.jsonl");
    for bad in ["0", "-1", "abc", "1e9", "5000"] {
        let (_, err) = exits(&["score", &path, "--max-record-mb", bad], 2);
        assert!(err.contains("--max-record-mb"), "{bad}: {err}");
    }
}

/// Peak resident memory of a child, polled from /proc (Linux).
#[cfg(target_os = "linux")]
fn peak_rss_mb(args: &[&str]) -> (Option<i32>, String, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let code = loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
            {
                peak = peak.max(kb / 1024);
            }
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (code, err, peak)
}

#[cfg(target_os = "linux")]
#[test]
fn a_gzip_bomb_stays_under_the_memory_bound() {
    // One line of 160 MB of spaces inside a record, then a good record.
    let mut body = Vec::with_capacity(170 << 20);
    body.extend_from_slice(br#"{"response_a":""#);
    body.resize(160 << 20, b' ');
    body.extend_from_slice(b"\",\"response_b\":\"b\",\"preference\":\"a\"}\n");
    body.extend_from_slice(TIED.as_bytes());
    body.push(b'\n');
    let gz = gzip(&body);
    drop(body);
    let path = tmp("bomb.jsonl.gz", &gz);
    let (code, err, peak) = peak_rss_mb(&["score", &path, "--bootstrap", "0"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(peak < 64, "peak RSS {peak} MB");
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    assert_eq!(v["dataset"]["records_skipped"], 1);
    assert!(diagnostics(&v)[0].contains("record over 8 MiB"));
}

// -------------------------------------------------- item 16: duplicate keys

#[test]
fn duplicate_keys_skip_the_record_with_its_line_and_key() {
    let dup = r#"{"response_a":"a b c","response_b":"x","preference":"a","preference":"b"}"#;
    let path = tmp("dup.jsonl", format!("{TIED}\n{dup}\n").as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    assert_eq!(v["dataset"]["records_skipped"], 1);
    let d = &v["dataset"]["diagnostics"][0];
    assert_eq!(d["line"], 2);
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("duplicate key `preference`"),
        "{d}"
    );
    // Nested too.
    let nested = r#"{"response_a":"a","response_b":"b","preference":"a","meta":{"k":1,"k":2}}"#;
    let path = tmp("dup_nested.jsonl", format!("{TIED}\n{nested}\n").as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    assert_eq!(json(&out)["dataset"]["records_skipped"], 1);
    // Only duplicates: nothing usable.
    let path = tmp("dup_only.jsonl", dup.as_bytes());
    let (_, err) = exits(&["score", &path], 1);
    assert!(err.contains("duplicate key `preference`"), "{err}");
}

#[test]
fn align_rejects_duplicate_keys() {
    let path = tmp(
        "agents_dup.json",
        br#"{"human": {"length": 0.1, "length": 0.2, "n_facts": 0.3}, "judge": {"length": 0.5, "n_facts": 0.1}}"#,
    );
    let (_, err) = exits(&["align", &path], 1);
    assert!(err.contains("duplicate key `length`"), "{err}");
}

// ------------------------------------------------ items 13, 14: bounds

#[test]
fn resample_and_permutation_counts_are_bounded() {
    let path = fixture("profile.jsonl");
    let (_, err) = exits(&["score", &path, "--bootstrap", "100001"], 2);
    assert!(err.contains("at most 100000"), "{err}");
    exits(&["score", &path, "--bootstrap", "1000000000"], 2);
    let agents = fixture("agents.json");
    let (_, err) = exits(&["align", &agents, "--permutations", "1000001"], 2);
    assert!(err.contains("at most 1000000"), "{err}");
    exits(&["align", &agents, "--permutations", "1000000000"], 2);
}

// --------------------------------------------------------- item 17: pearson

#[test]
fn pearson_on_a_constant_vector_is_null_and_huge_scores_do_not_overflow() {
    let x = [0.1, 0.1, 0.1, 0.1];
    assert_eq!(profile::stats::pearson_r(&x, &[0.3, 0.1, 0.2, 0.5]), None);
    let big = [1e200, -1e200, 0.5e200, 2e200, -0.7e200];
    let y = [0.3, -0.2, 0.1, 0.4, 0.0];
    let small: Vec<f64> = big.iter().map(|v| v * 1e-200).collect();
    let want = profile::stats::pearson_r(&small, &y).unwrap();
    let got = profile::stats::pearson_r(&big, &y).expect("finite");
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert!(want.abs() > 0.5);
    let tiny: Vec<f64> = small.iter().map(|v| v * 1e-300).collect();
    let got = profile::stats::pearson_r(&tiny, &y).expect("finite");
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}

#[test]
fn align_with_huge_scores_reports_their_correlation() {
    let path = tmp(
        "agents_huge.json",
        br#"{"human": {"length": 1e200, "n_facts": -1e200, "coherence": 5e199, "fluency": 2e200},
             "judge": {"length": 0.3, "n_facts": -0.2, "coherence": 0.1, "fluency": 0.4}}"#,
    );
    let (out, _) = exits(&["align", &path, "--json"], 0);
    let v = json(&out);
    let r = v[0]["pearson_r"].as_f64().expect("a value");
    let want = profile::stats::pearson_r(&[1.0, -1.0, 0.5, 2.0], &[0.3, -0.2, 0.1, 0.4]).unwrap();
    assert!((r - want).abs() < 1e-9, "{r} vs {want}");
}

// ------------------------------------------------------ item 19: the rest

#[test]
fn a_json_array_without_its_closing_bracket_is_reported() {
    let body = format!("[{TIED},\n{TIED}\n");
    let path = tmp("unclosed.json", body.as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    assert!(
        diagnostics(&v).iter().any(|d| d.contains("`]`")),
        "{:?}",
        diagnostics(&v)
    );
}

#[test]
fn problems_in_a_one_line_array_name_the_element() {
    let body = format!(r#"[{TIED}, {{"response_a": 3}}, {TIED}, 17]"#);
    let path = tmp("oneline.json", body.as_bytes());
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    let d = &v["dataset"]["diagnostics"];
    assert_eq!(d[0]["element"], 2, "{d}");
    assert_eq!(d[1]["element"], 4, "{d}");
    let (table, _) = exits(&["score", &path, "--bootstrap", "0"], 0);
    assert!(table.contains("line 1, element 2"), "{table}");
}

#[test]
fn trailing_bytes_after_gzip_data_are_not_called_truncated() {
    let mut gz = gzip(format!("{TIED}\n{TIED}\n").as_bytes());
    gz.extend_from_slice(b"garbage after the end, long enough to look like a header");
    let path = tmp("trailing.jsonl.gz", &gz);
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let v = json(&out);
    let ds = diagnostics(&v);
    assert_eq!(v["dataset"]["records_parsed"], 2);
    assert!(
        ds.iter()
            .any(|d| d.contains("after the end of the gzip data")),
        "{ds:?}"
    );
    assert!(
        !ds.iter()
            .any(|d| d.contains("truncated") || d.contains("damaged")),
        "{ds:?}"
    );
    let mut short = gzip(TIED.as_bytes());
    short.extend_from_slice(b"xy");
    let path = tmp("trailing2.jsonl.gz", &short);
    let (out, _) = exits(&["score", &path, "--json", "--bootstrap", "0"], 0);
    let ds = diagnostics(&json(&out));
    assert!(!ds.iter().any(|d| d.contains("truncated")), "{ds:?}");
}

fn a_report() -> Value {
    let (out, _) = exits(
        &[
            "score",
            &fixture("profile.jsonl"),
            "--json",
            "--bootstrap",
            "20",
        ],
        0,
    );
    json(&out)
}

/// A judge run into `path` against a server that is not there: the report
/// must be checked before any call is attempted.
fn judge_into(path: &str) -> Vec<&str> {
    vec![
        "judge",
        Box::leak(fixture("profile.jsonl").into_boxed_str()),
        "--bootstrap",
        "20",
        "--provider",
        "openai-compatible",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--cache-dir",
        Box::leak(
            std::env::temp_dir()
                .join(format!("profile-hostile-cache-{}", std::process::id()))
                .to_string_lossy()
                .into_owned()
                .into_boxed_str(),
        ),
        "--into",
        Box::leak(path.to_owned().into_boxed_str()),
    ]
}

#[test]
fn into_reports_type_errors_with_the_field_path_and_checks_ranges() {
    let mut r = a_report();
    r["agents"][0]["factor_scores"]["length"]["score"] = Value::String("high".into());
    let path = tmp("into_type.json", r.to_string().as_bytes());
    let (_, err) = exits(&judge_into(&path), 1);
    assert!(
        err.contains("agents[0].factor_scores.length.score"),
        "{err}"
    );
    let mut r = a_report();
    r["agents"][0]["factor_scores"]["length"]["score"] = Value::from(5.0);
    let path = tmp("into_range.json", r.to_string().as_bytes());
    let (_, err) = exits(&judge_into(&path), 1);
    assert!(
        err.contains("agents[0].factor_scores.length.score"),
        "{err}"
    );
    let dup = r#"{"schema": "profile-report/1", "schema": "x"}"#;
    let path = tmp("into_dup.json", dup.as_bytes());
    let (_, err) = exits(&judge_into(&path), 1);
    assert!(err.contains("duplicate key `schema`"), "{err}");
}

#[test]
fn fit_joint_without_a_differing_factor_says_why() {
    use profile::stats::{fit_joint, JointConfig, JointPairs};
    let cfg = JointConfig::default();
    let clusters = [0u32, 1, 2];
    let prefs = [1i8, -1, 1];
    let zeros = [0.0; 6];
    for (nf, diffs, want) in [
        (2, &zeros[..], "no factor differs"),
        (0, &[][..], "no factor"),
    ] {
        let fit = fit_joint(
            &JointPairs {
                n_factors: nf,
                differences: diffs,
                preferences: &prefs,
                clusters: &clusters,
                n_clusters: 3,
            },
            &cfg,
        );
        let why = fit.not_estimable.expect("a reason");
        assert!(why.contains(want), "{why}");
        assert!(fit.factors.iter().all(|f| f.coefficient.is_none()));
    }
    let fit = fit_joint(
        &JointPairs {
            n_factors: 1,
            differences: &[0.5, 0.2, -0.1],
            preferences: &[0, 0, 0],
            clusters: &clusters,
            n_clusters: 3,
        },
        &cfg,
    );
    assert!(fit.not_estimable.unwrap().contains("no pair is usable"));
}
