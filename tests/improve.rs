//! Feedback-driven improvement (`profile improve`, METHOD.md §8) against the
//! mock LLM server, every reply scripted by its exact prompt:
//!
//! - 12 inputs, one pair each: a LONG response and a short one; people
//!   prefer LONG on inputs 8..12 only, the evaluator (as judge) always, so
//!   their factor rankings are opposite.
//! - The writer's texts are built from words that are novel (`n<k>x<i>`
//!   tokens) and words copied from the input, so each text's length, novel
//!   words and their share are known by construction: the test computes
//!   every condition's factor scores (improvement setting: improved
//!   preferred, factor ties in T) and τ_b against the humans' and the
//!   evaluator's scores on its own.
//! - Calls per input are exact; a re-run makes 0 calls; `--into` joins an
//!   existing report; a fault-injected run resumes without repeating a
//!   successful call.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::long_short::{self, input};
use common::{MockRun as Setup, MockServer as Mock};
use profile::factors::Task;
use profile::llm::prompts;

const N: usize = 12;
const INPUTS: usize = 4;
const SEED: u64 = 7;

fn human_long(i: usize) -> bool {
    i >= 8
}

/// A text of `novel` novel words (distinct, none in the input) and `copied`
/// distinct words of the input: length `novel + copied`, novel words count
/// `novel`, novel share `novel / (novel + copied)`.
#[derive(Clone, Copy, Debug)]
struct Shape {
    novel: usize,
    copied: usize,
}

impl Shape {
    fn text(self, tag: &str, i: usize) -> String {
        const COPIED: [&str; 4] = ["please", "explain", "steps", "detail"];
        let mut words: Vec<String> = (0..self.novel).map(|k| format!("{tag}n{k}x{i}")).collect();
        words.extend(COPIED[..self.copied].iter().map(|w| (*w).to_owned()));
        words.join(" ")
    }
    /// length, novel_words, novel_words_count (the factors' id order).
    fn values(self) -> [f64; 3] {
        let n = self.novel as f64;
        [
            (self.novel + self.copied) as f64,
            n / (self.novel + self.copied) as f64,
            n,
        ]
    }
}

fn d1(i: usize) -> Shape {
    Shape {
        novel: 3 + i % 3,
        copied: 1,
    }
}
fn d2(_: usize) -> Shape {
    Shape {
        novel: 5,
        copied: 0,
    }
}
fn with_feedback(_: usize) -> Shape {
    Shape {
        novel: 6,
        copied: 2,
    }
}
fn from_both(i: usize) -> Shape {
    Shape {
        novel: 4,
        copied: 1 + i % 2,
    }
}
fn from_single(i: usize, k: usize) -> Shape {
    if k == 0 {
        d1(i) // the same shape: a tie on every factor
    } else {
        Shape {
            novel: 2,
            copied: 4,
        }
    }
}

fn better(i: usize) -> &'static str {
    ["1", "2", "tie"][i % 3]
}

fn full(p: &profile::llm::Prompt) -> String {
    format!("{}\n{}", p.system, p.user)
}

fn script(mock: &Mock) {
    let mut replies = Vec::new();
    for i in 0..N {
        let (a, b) = (d1(i).text("a", i), d2(i).text("b", i));
        let draft = prompts::improve_draft(Task::Helpful, &input(i));
        replies.push(serde_json::json!({"match": full(&draft), "json": {"responses": [a, b]}}));
        let judge = prompts::judge(Task::Helpful, &input(i), &a, &b);
        let justification = format!("scripted feedback {i}.");
        replies.push(serde_json::json!({"match": full(&judge), "json": {"better": better(i), "justification": justification}}));
        let fb = prompts::improve(
            Task::Helpful,
            &input(i),
            &[&a, &b],
            Some(prompts::FeedbackText {
                better: match better(i) {
                    "1" => 1,
                    "2" => 2,
                    _ => 0,
                },
                justification: &justification,
            }),
        );
        let reply = |s: Shape, tag: &str| serde_json::json!({"response": s.text(tag, i)});
        replies.push(serde_json::json!({"match": full(&fb), "json": reply(with_feedback(i), "f")}));
        let both = prompts::improve(Task::Helpful, &input(i), &[&a, &b], None);
        replies.push(serde_json::json!({"match": full(&both), "json": reply(from_both(i), "c")}));
        for (k, d) in [&a, &b].into_iter().enumerate() {
            let single = prompts::improve(Task::Helpful, &input(i), &[d], None);
            let tag = if k == 0 { "a" } else { "s" };
            replies.push(
                serde_json::json!({"match": full(&single), "json": reply(from_single(i, k), tag)}),
            );
        }
    }
    // The evaluator judging the dataset: LONG always.
    replies.extend(long_short::judge_prefers_long());
    mock.script(&serde_json::Value::Array(replies));
}

fn dataset(dir: &std::path::Path) -> String {
    long_short::write(dir, N, human_long)
}

fn setup(name: &str) -> Setup {
    Setup::start(name, script, dataset)
}

const FACTORS: &str = "length,novel_words,novel_words_count";

fn cli(s: &Setup, cmd: &str, extra: &[&str]) -> (i32, String, String) {
    let seed = SEED.to_string();
    let mut a = vec![
        "--factors",
        FACTORS,
        "--bootstrap",
        "200",
        "--seed",
        seed.as_str(),
        "--quiet",
    ];
    a.extend(extra);
    s.run(&[cmd], &a)
}

/// (C − D) / (C + D + T) over the (initial, improved) pairs, improved
/// preferred, factor ties in T (METHOD.md §2, improvement setting).
fn improvement_scores(pairs: &[(Shape, Shape)]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (f, slot) in out.iter_mut().enumerate() {
        let (mut c, mut d, mut t) = (0.0, 0.0, 0.0);
        for (initial, improved) in pairs {
            let diff = improved.values()[f] - initial.values()[f];
            if diff.abs() < 1e-9 {
                t += 1.0;
            } else if diff > 0.0 {
                c += 1.0;
            } else {
                d += 1.0;
            }
        }
        *slot = (c - d) / (c + d + t);
    }
    out
}

fn condition_pairs(condition: &str) -> Vec<(Shape, Shape)> {
    (0..INPUTS)
        .flat_map(|i| match condition {
            "feedback" => vec![(d1(i), with_feedback(i)), (d2(i), with_feedback(i))],
            "both" => vec![(d1(i), from_both(i)), (d2(i), from_both(i))],
            _ => vec![(d1(i), from_single(i, 0)), (d2(i), from_single(i, 1))],
        })
        .collect()
}

/// Factor scores of a preference over the dataset's pairs (`long_wins(i)`:
/// LONG preferred on pair i), evaluation/human setting: factor ties dropped.
fn dataset_scores(long_wins: impl Fn(usize) -> bool) -> [f64; 3] {
    // LONG: 13 words, 9 unique stems of which 1 ("long") novel;
    // short: 3 words, 3 unique stems of which 2 novel.
    let long_v = [13.0, 1.0 / 9.0, 1.0];
    let short_v = [3.0, 2.0 / 3.0, 2.0];
    let mut out = [0.0; 3];
    for (f, slot) in out.iter_mut().enumerate() {
        let (mut c, mut d) = (0.0, 0.0);
        for i in 0..N {
            let long_more = long_v[f] > short_v[f];
            if long_more == long_wins(i) {
                c += 1.0;
            } else {
                d += 1.0;
            }
        }
        *slot = (c - d) / (c + d);
    }
    out
}

/// Kendall's τ_b (as scipy.stats.kendalltau).
fn tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    let (mut s, mut tx, mut ty, mut n0) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let a = (x[i] - x[j]).signum() * f64::from(u8::from((x[i] - x[j]).abs() > 1e-12));
            let b = (y[i] - y[j]).signum() * f64::from(u8::from((y[i] - y[j]).abs() > 1e-12));
            n0 += 1.0;
            s += a * b;
            if a == 0.0 {
                tx += 1.0;
            }
            if b == 0.0 {
                ty += 1.0;
            }
        }
    }
    let den = ((n0 - tx) * (n0 - ty)).sqrt();
    (den > 0.0).then(|| s / den)
}

fn close(a: &serde_json::Value, b: f64, what: &str) {
    let a = a
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {a}"));
    assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}");
}

const IDS: [&str; 3] = ["length", "novel_words", "novel_words_count"];

fn check(r: &serde_json::Value) {
    let human = dataset_scores(human_long);
    let evaluator = dataset_scores(|_| true);
    let agent = |name: &str| {
        r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no agent {name}"))
            .clone()
    };
    // The report's own human and judge agents agree with the construction.
    for (k, id) in IDS.iter().enumerate() {
        close(&agent("human")["factor_scores"][id]["score"], human[k], id);
        close(
            &agent("mock (judge)")["factor_scores"][id]["score"],
            evaluator[k],
            id,
        );
    }
    let sec = &r["improvement"];
    assert_eq!(sec["writer"], "mock");
    assert_eq!(sec["evaluator"], "mock (judge)");
    assert_eq!(sec["inputs_planned"], INPUTS as u64);
    assert_eq!(sec["inputs"], INPUTS as u64);
    close(&sec["questions_per_input"], 6.0, "questions per input");
    assert_eq!(sec["too_few"], true, "4 inputs and 3 factors are too few");
    let conds = sec["conditions"].as_array().unwrap();
    let names: Vec<&str> = conds
        .iter()
        .map(|c| c["condition"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["feedback", "both", "single"]);
    for c in conds {
        let name = c["condition"].as_str().unwrap();
        let expected = improvement_scores(&condition_pairs(name));
        let a = agent(c["agent"].as_str().unwrap());
        assert_eq!(a["setting"], "improvement");
        assert_eq!(c["pairs"], (2 * INPUTS) as u64);
        for (k, id) in IDS.iter().enumerate() {
            close(
                &a["factor_scores"][id]["score"],
                expected[k],
                &format!("{name} {id}"),
            );
        }
        let th = tau_b(&expected, &human);
        let te = tau_b(&expected, &evaluator);
        match th {
            Some(t) => close(&c["kendall_tau_human"], t, &format!("{name} τ humans")),
            None => assert!(c["kendall_tau_human"].is_null(), "{name}: {c}"),
        }
        match te {
            Some(t) => close(
                &c["kendall_tau_evaluator"],
                t,
                &format!("{name} τ evaluator"),
            ),
            None => assert!(c["kendall_tau_evaluator"].is_null(), "{name}: {c}"),
        }
        assert_eq!(c["n_factors_human"], 3);
        for key in ["kendall_tau_human_ci95", "kendall_tau_evaluator_ci95"] {
            if let Some(ci) = c[key].as_array() {
                assert!(
                    ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap(),
                    "{key}: {c}"
                );
            }
        }
        // The human alignment of the agent is the report's.
        let al = r["alignments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["agent"] == c["agent"])
            .unwrap();
        assert_eq!(al["kendall_tau"], c["kendall_tau_human"]);
        assert_eq!(al["reference"], "human");
        assert_eq!(c["evaluator_alignment"]["reference"], "mock (judge)");
    }
    // Every input's texts, to read.
    let items = sec["items"].as_array().unwrap();
    assert_eq!(items.len(), INPUTS);
    assert_eq!(items[1]["responses"][1], d2(1).text("b", 1));
    assert_eq!(items[1]["better"], "2");
    assert_eq!(items[2]["better"], "tie");
    assert_eq!(items[0]["justification"], "scripted feedback 0.");
    assert_eq!(items[0]["improved_feedback"], with_feedback(0).text("f", 0));
}

#[test]
fn improve_scores_each_condition_and_its_tau_with_calls_per_input_exact() {
    let s = setup("improve-main");
    let inputs = INPUTS.to_string();
    let (code, out, err) = cli(&s, "improve", &["--inputs", &inputs, "--json"]);
    assert_eq!(code, 0, "{err}");
    // The evaluator judges 12 pairs in both orders, then 6 calls per input.
    assert_eq!(s.mock.total(), 24 + 6 * INPUTS as u64);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    if std::env::var("SHOW").is_ok() {
        eprintln!(
            "{}",
            serde_json::to_string_pretty(&r["improvement"]["conditions"]).unwrap()
        );
        for a in r["agents"].as_array().unwrap() {
            eprintln!(
                "{} {}",
                a["name"],
                a["factor_scores"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v["score"]))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    check(&r);
    assert_eq!(r["improvement"]["calls"], (6 * INPUTS) as u64);
    // A cached re-run makes no call and gives the same report.
    let (code, again, err) = cli(&s, "improve", &["--inputs", &inputs, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        s.mock.total(),
        24 + 6 * INPUTS as u64,
        "a re-run makes 0 calls"
    );
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    check(&again);
    assert_eq!(again["improvement"]["calls"], 0);
    assert_eq!(again["improvement"]["judge_calls"], 0);
    assert_eq!(r["improvement"]["judge_calls"], 24);
    assert_eq!(again["improvement"]["cache_hits"], (6 * INPUTS) as u64);
    // The text output says how few the numbers are.
    let (code, text, err) = cli(&s, "improve", &["--inputs", &inputs]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("Too few to mean much"), "{text}");
    if std::env::var("SHOW").is_ok() {
        eprintln!("{text}");
    }
}

#[test]
fn an_earlier_judge_makes_the_evaluator_free_and_into_joins_the_report() {
    let s = setup("improve-into");
    let report = s.dir.join("report.json").to_string_lossy().into_owned();
    let (code, _, err) = cli(&s, "judge", &["--into", &report]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 24);
    let inputs = INPUTS.to_string();
    let (code, out, err) = cli(
        &s,
        "improve",
        &["--inputs", &inputs, "--into", &report, "--json"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        s.mock.total(),
        24 + 6 * INPUTS as u64,
        "the judge's verdicts are cached"
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    check(&r);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(written, r);
    assert_eq!(
        common::agent_names(&r),
        [
            "human",
            "mock (judge)",
            "mock (improved, feedback)",
            "mock (improved, both)",
            "mock (improved, single)"
        ]
    );
    // The report is one the report check (`profile.check`, the widget) accepts.
    let checked = profile::embed::check::check_report(&std::fs::read_to_string(&report).unwrap());
    assert!(checked.is_ok(), "{:?}", checked.err());
}

#[test]
fn a_second_evaluator_model_answers_the_judge_and_feedback_stages() {
    let s = setup("improve-evaluator");
    let (code, out, err) = cli(
        &s,
        "improve",
        &["--inputs", "1", "--evaluator-model", "mock-eval", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["improvement"]["evaluator"], "mock-eval (judge)");
    assert_eq!(r["improvement"]["writer"], "mock");
    assert!(common::agent_names(&r).contains(&"mock-eval (judge)"));
    assert_eq!(s.mock.total(), 30);
    // The evaluator's answers are its own: with the writer as evaluator, the
    // judge (24) and feedback (1) stages are asked again, the writer's 5 not.
    let (code, out, err) = cli(&s, "improve", &["--inputs", "1", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 30 + 25);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["improvement"]["evaluator"], "mock (judge)");
    // --evaluator-provider without a model is a usage error.
    let (code, _, err) = cli(&s, "improve", &["--evaluator-provider", "openai"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_improve_run_with_faults_resumes_without_repeating_a_success() {
    let s = setup("improve-faults");
    s.mock
        .faults(r#"{"rate": 0.3, "seed": 5, "retry_after": 0, "kinds": ["429", "500"]}"#);
    let inputs = INPUTS.to_string();
    let args = ["--inputs", inputs.as_str(), "--attempts", "1", "--json"];
    let (code, _, err) = cli(&s, "improve", &args);
    assert!(s.mock.stats()["faulted_total"].as_u64().unwrap() > 0);
    assert!(code == 0 || code == 1, "rc {code}: {err}");
    s.mock.faults("{}");
    // A failed stage stops the run before its report; the next run goes on.
    let mut out = String::new();
    for _ in 0..4 {
        let (code, o, err) = cli(&s, "improve", &args);
        if code == 0 {
            out = o;
            break;
        }
        assert_eq!(code, 1, "{err}");
    }
    let st = s.mock.stats();
    assert_eq!(st["repeated_successes"].as_u64(), Some(0), "{st}");
    assert_eq!(
        st["total"].as_u64().unwrap() - st["faulted_total"].as_u64().unwrap(),
        24 + 6 * INPUTS as u64,
        "{st}"
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    check(&r);
}

/// The OpenAI Batch API result line for an exported request, answered by
/// the mock (the same scripted replies as a live call).
fn batch_result(mock: &Mock, i: usize, request: &serde_json::Value) -> String {
    let url = request["url"].as_str().unwrap();
    let body = ureq::post(&mock.url(url))
        .set("content-type", "application/json")
        .send_string(&request["body"].to_string())
        .unwrap()
        .into_string()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    serde_json::json!({"id": format!("batch_req_{i}"), "custom_id": request["custom_id"],
           "response": {"status_code": 200, "request_id": format!("req_{i}"), "body": body},
           "error": null})
    .to_string()
}

#[test]
fn batch_export_run_improve_stage_by_stage_then_improve_makes_no_call() {
    let s = setup("improve-batch");
    let inputs = INPUTS.to_string();
    let flags = |cmd: &[&str]| -> Vec<String> {
        let rest = [
            "--factors",
            FACTORS,
            "--seed",
            "7",
            "--run",
            "improve",
            "--inputs",
            inputs.as_str(),
        ];
        s.args(cmd, &rest)
    };
    let mut sizes = Vec::new();
    for round in 0..6 {
        let out = s.dir.join(format!("requests-{round}.jsonl"));
        let mut args = flags(&["batch", "export"]);
        args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = common::run_cli(&a);
        assert_eq!(code, 0, "{err}");
        let Ok(text) = std::fs::read_to_string(&out) else {
            assert!(
                err.contains("every stage of the improvement run is answered"),
                "{err}"
            );
            break;
        };
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        sizes.push(lines.len());
        let results: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| batch_result(&s.mock, i, l))
            .collect();
        let path = s.dir.join(format!("results-{round}.jsonl"));
        std::fs::write(&path, results.join("\n") + "\n").unwrap();
        let mut args = flags(&["batch", "import"]);
        args.insert(2, path.to_string_lossy().into_owned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = common::run_cli(&a);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("{} new answers", lines.len())),
            "{out}"
        );
    }
    // The evaluator's judge (12 pairs × 2 orders), the first responses, the
    // feedback, the improved responses (4 per input).
    assert_eq!(sizes, [24, INPUTS, INPUTS, 4 * INPUTS]);
    let before = s.mock.total();
    let (code, out, err) = cli(&s, "improve", &["--inputs", &inputs, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), before, "the live run makes no call");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    check(&r);
    assert_eq!(r["improvement"]["calls"], 0);
}

/// The numbers of one stage line of `improve --estimate`.
fn stage_line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(what))
        .unwrap_or_else(|| panic!("no `{what}` line in\n{out}"))
}

fn number_after(line: &str, before: &str) -> u64 {
    let at = line
        .find(before)
        .unwrap_or_else(|| panic!("no `{before}` in {line}"));
    line[at + before.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after `{before}` in {line}"))
}

#[test]
fn the_estimate_covers_every_stage_with_bounds_for_replies_not_received_yet() {
    let s = setup("improve-estimate");
    let inputs = INPUTS.to_string();
    let prices = ["--price-in", "1", "--price-out", "2"];
    let args = |extra: &[&'static str]| {
        let mut a = vec!["--inputs", inputs.as_str()];
        a.extend(prices);
        a.extend(extra);
        a
    };
    let (code, out, err) = cli(&s, "improve", &args(&["--estimate"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 0, "an estimate makes no call");
    eprintln!("{out}");
    // Known now: the evaluator's judging (12 pairs, both orders) and the
    // first responses (one call per input).
    let judge = stage_line(&out, "evaluator, judge");
    assert_eq!(number_after(judge, "(evaluator): "), 24);
    assert_eq!(number_after(judge, "~"), 24);
    assert!(!judge.contains("at most"), "{judge}");
    let drafts = stage_line(&out, "writer, first responses");
    assert_eq!(number_after(drafts, "(writer): "), INPUTS as u64);
    // Bounded: the feedback (one per input) and the improved responses (4
    // per input), their prompts quoting first responses not written yet.
    let feedback = stage_line(&out, "evaluator, feedback");
    assert_eq!(number_after(feedback, "(evaluator): "), 0);
    assert_eq!(number_after(feedback, "at most "), INPUTS as u64);
    assert_eq!(number_after(feedback, "≤ "), INPUTS as u64);
    let revise = stage_line(&out, "writer, improved responses");
    assert_eq!(number_after(revise, "at most "), 4 * INPUTS as u64);
    // Their replies at max_tokens: 1024 tokens (the default) each.
    assert!(
        revise.contains(&format!("+ ≤ {:.1}k output", 1.024 * 4.0 * INPUTS as f64)),
        "{revise}"
    );
    let total_line = stage_line(&out, "total:");
    assert_eq!(number_after(total_line, "at most "), 24 + 6 * INPUTS as u64);
    assert!(out.contains("upper bounds"), "{out}");

    // The run makes exactly the calls the estimate allowed, and its input
    // tokens (the mock counts them as the estimate does) stay within the
    // bound of the stages estimated with bounds.
    let (code, run, err) = cli(&s, "improve", &args(&["--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.mock.total(), 24 + 6 * INPUTS as u64);
    let r: serde_json::Value = serde_json::from_str(&run).unwrap();
    let writer_in = r["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "mock (improved, both)")
        .unwrap()["run"]["input_tokens"]
        .as_f64()
        .unwrap();
    let k = |line: &str, before: &str| -> f64 {
        let at = line.find(before).unwrap() + before.len();
        let n: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        n.parse::<f64>().unwrap() * 1e3
    };
    let drafts_in = k(drafts, "calls, ~");
    let revise_in = k(revise, "calls, ≤ ");
    assert!(
        writer_in <= drafts_in + revise_in + 100.0,
        "the writer's input tokens {writer_in} within {drafts_in} + {revise_in}"
    );

    // Once run, every stage is known and cached: no call, no bound.
    let (code, out, err) = cli(&s, "improve", &args(&["--estimate"]));
    assert_eq!(code, 0, "{err}");
    for what in [
        "evaluator, judge",
        "writer, first responses",
        "evaluator, feedback",
        "writer, improved responses",
    ] {
        let l = stage_line(&out, what);
        assert!(l.contains("~0 calls") && !l.contains("at most"), "{l}");
    }
    assert!(stage_line(&out, "total:").contains("~0 calls"), "{out}");
    assert_eq!(s.mock.total(), 24 + 6 * INPUTS as u64);
}

/// The worker's path (`protocol::run_model`: the async driver under
/// `block_on`, an in-memory store) on the same data: the report and the
/// calls it made.
/// The app's improvement run on `INPUTS` inputs: both orders or one, the
/// run's evaluator or `mock-eval` at `evaluator_at`.
fn improve_kind(single_order: bool, evaluator_at: Option<String>) -> profile::protocol::ModelKind {
    profile::protocol::ModelKind::Improve {
        inputs: Some(INPUTS),
        evaluator: evaluator_at.as_ref().map(|_| "mock-eval".to_owned()),
        single_order,
        evaluator_base_url: evaluator_at,
    }
}

fn through_worker(
    s: &Setup,
    store: &profile::llm::drive::MemoryStore,
    estimate: bool,
    run: profile::protocol::ModelKind,
) -> (
    serde_json::Value,
    u64,
    Option<profile::protocol::FromWorker>,
) {
    use profile::data::{FormatOptions, Loader};
    use profile::factors::Factor;
    use profile::llm::drive::{Control, Store as _};
    use profile::llm::engine::RunSettings;
    use profile::llm::provider::{ModelConfig, Provider};
    use profile::llm::settings::ModelChoice;
    use profile::llm::threads::{block_on, BlockingHttp};
    use profile::protocol::{run_model, FromWorker, LlmRequest, ScoreRequest, Session};
    let score = ScoreRequest {
        task: Some(Task::Helpful),
        factors: Some(vec![
            Factor::Length,
            Factor::NovelWords,
            Factor::NovelWordsCount,
        ]),
        bootstrap: profile::stats::BootstrapConfig {
            resamples: 200,
            seed: SEED,
        },
        group_by: None,
        factor_pack: None,
    };
    let session = std::cell::RefCell::new(Session::new());
    let mut loader = Loader::new(FormatOptions::default());
    loader.push(std::fs::read(&s.file).unwrap().as_slice());
    let loaded = session.borrow_mut().finish_load(
        "pairs.jsonl".into(),
        loader,
        Default::default(),
        &score,
        || 0.0,
    );
    assert!(matches!(loaded, FromWorker::Loaded { .. }));
    let mut model = ModelConfig::new(Provider::OpenAiCompatible, "mock");
    model.base_url = Some(s.base.clone());
    let req = LlmRequest {
        choice: ModelChoice {
            settings: RunSettings {
                seed: SEED,
                ..RunSettings::default()
            },
            model,
            price: None,
            sample: None,
        },
        score,
        run,
    };
    let est = estimate.then(|| {
        let cache = store.memory().borrow();
        session.borrow().estimate_model(&req, &*cache)
    });
    let transport = BlockingHttp::new(&req.choice.model, std::time::Duration::from_secs(30));
    let before = s.mock.total();
    let msg = block_on(run_model(
        &session,
        &req,
        "",
        &transport,
        &transport,
        store,
        &Control::default(),
        &|_| {},
    ));
    let FromWorker::LlmFinished { report, warning } = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(warning, None);
    (
        serde_json::to_value(&report).unwrap(),
        s.mock.total() - before,
        est,
    )
}

#[test]
fn the_worker_runs_improvement_with_the_clis_calls_and_report() {
    let s = setup("improve-worker");
    let inputs = INPUTS.to_string();
    let (code, out, err) = cli(&s, "improve", &["--inputs", &inputs, "--json"]);
    assert_eq!(code, 0, "{err}");
    let cli_calls = s.mock.total();
    let cli_report: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The worker's store starts empty: it asks everything again.
    let store = profile::llm::drive::MemoryStore::default();
    let (worker, calls, est) = through_worker(&s, &store, true, improve_kind(false, None));
    eprintln!(
        "improve calls: CLI {cli_calls}, worker {calls}; per input (the experiment): CLI {}, worker {}",
        cli_report["improvement"]["questions_per_input"], worker["improvement"]["questions_per_input"]
    );
    assert_eq!(calls, cli_calls, "the same calls");
    check(&worker);
    assert_eq!(worker["improvement"], cli_report["improvement"]);
    assert_eq!(worker["agents"], cli_report["agents"]);
    assert_eq!(worker["alignments"], cli_report["alignments"]);
    // The estimate the app shows: every stage, the later ones bounded.
    let Some(profile::protocol::FromWorker::LlmEstimate {
        stages, estimate, ..
    }) = est
    else {
        panic!("no estimate")
    };
    let whats: Vec<&str> = stages.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "evaluator, judge",
            "writer, first responses",
            "evaluator, feedback",
            "writer, improved responses"
        ]
    );
    assert_eq!(estimate.calls, cli_calls);
    assert_eq!(stages[2].bound_questions, INPUTS as u64);
    // A cached re-run makes no call.
    let (again, calls, _) = through_worker(&s, &store, false, improve_kind(false, None));
    assert_eq!(calls, 0, "a cached re-run makes no call");
    assert_eq!(again["improvement"]["calls"], 0);
    assert_eq!(again["improvement"]["cache_hits"], (6 * INPUTS) as u64);
}

#[test]
fn the_worker_runs_single_order_improvement_as_the_cli_does() {
    let s = setup("improve-worker-single");
    let inputs = INPUTS.to_string();
    let (code, out, err) = cli(
        &s,
        "improve",
        &["--inputs", &inputs, "--single-order", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let cli_calls = s.mock.total();
    let cli_report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let store = profile::llm::drive::MemoryStore::default();
    let (worker, calls, est) = through_worker(&s, &store, true, improve_kind(true, None));
    assert_eq!(calls, cli_calls, "the same calls");
    assert_eq!(worker["improvement"], cli_report["improvement"]);
    assert_eq!(worker["agents"], cli_report["agents"]);
    // The evaluator saw each pair once: half the judge questions of both
    // orders, and its record says so.
    let judge = &worker["agents"][1]["run"];
    let pairs = worker["dataset"]["pairs"].as_u64().unwrap();
    assert_eq!(judge["both_orders"], false, "{judge}");
    assert!(judge["order_seed"].is_u64(), "{judge}");
    assert_eq!(judge["calls"], pairs, "one call a pair: {judge}");
    let Some(profile::protocol::FromWorker::LlmEstimate { stages, .. }) = est else {
        panic!("no estimate")
    };
    assert_eq!(stages[0].known_questions, pairs, "{stages:?}");
}

#[test]
fn the_worker_asks_an_evaluator_at_its_own_address_as_the_cli_does() {
    let s = setup("improve-worker-evaluator-address");
    let evaluator = common::MockServer::start();
    script(&evaluator);
    let at = evaluator.url("/v1");
    let inputs = INPUTS.to_string();
    let (code, out, err) = cli(
        &s,
        "improve",
        &[
            "--inputs",
            &inputs,
            "--evaluator-model",
            "mock-eval",
            "--evaluator-base-url",
            &at,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let cli_report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (writer_calls, evaluator_calls) = (s.mock.total(), evaluator.total());
    let pairs = cli_report["dataset"]["pairs"].as_u64().unwrap();
    // The evaluator's judging (both orders) and feedback went to its address.
    assert_eq!(evaluator_calls, 2 * pairs + INPUTS as u64);
    let store = profile::llm::drive::MemoryStore::default();
    let (worker, calls, _) =
        through_worker(&s, &store, false, improve_kind(false, Some(at.clone())));
    assert_eq!(
        calls, writer_calls,
        "the writer's calls at the run's address"
    );
    assert_eq!(
        evaluator.total(),
        2 * evaluator_calls,
        "the evaluator's at its own"
    );
    assert_eq!(worker["improvement"], cli_report["improvement"]);
    assert_eq!(worker["agents"], cli_report["agents"]);
    // An address that is not http(s), or one without a model, is refused
    // (`Session::plan_model` asks this before any call).
    for (kind, why) in [
        (
            profile::protocol::ModelKind::Improve {
                inputs: None,
                evaluator: Some("mock-eval".into()),
                single_order: false,
                evaluator_base_url: Some("ftp://x".into()),
            },
            "evaluator address: must start with",
        ),
        (
            profile::protocol::ModelKind::Improve {
                inputs: None,
                evaluator: None,
                single_order: false,
                evaluator_base_url: Some(at.clone()),
            },
            "evaluator address: give the evaluator model too",
        ),
    ] {
        assert!(
            kind.evaluator_problem().is_some_and(|p| p.starts_with(why)),
            "{kind:?}"
        );
    }
}
