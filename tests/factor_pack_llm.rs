//! LLM factors defined by a question (issue 15 §1): a factor pack's
//! `llm_yes_no` and `llm_rating` factors through the `profile` binary and
//! the mock LLM server, asked by the same engine as the built-in factors.
//!
//! * Calls are counted exactly: one call per custom factor and unique
//!   (response, texts the question sees) — a response shared by two inputs
//!   is asked twice by a question that sees the request, once by one that
//!   sees nothing — and `--estimate` says the same number beforehand.
//! * A re-run makes no call (the mock's counter does not move) and gives
//!   the identical report; the estimate then says 0 calls.
//! * Scores are the hand-counted C/D of the values the mock was scripted
//!   to give, without log-probabilities (yes 1 / no 0, ratings 1–5) and
//!   with them (P(yes), the expected rating).
//! * A fault run lists what failed; the resumed run asks only that.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use serde_json::{json, Value};

/// (input, response text marker, cites a source, rating)
const RESPONSES: [(usize, &str, bool, u8); 9] = [
    (0, "m00z", true, 5),
    (0, "m01z", false, 2),
    (0, "m02z", false, 1),
    (1, "m10z", true, 4),
    (1, "mSz", false, 3),
    (1, "m12z", false, 1),
    (2, "m20z", true, 4),
    (2, "mSz", false, 3),
    (2, "m22z", false, 2),
];

/// The response text with marker `m` (ends with the marker, so a scripted
/// reply can match the end of its block).
fn text(m: &str) -> String {
    match m {
        "m00z" => "Hold the reset button for ten seconds, as the manual says [1]. m00z".into(),
        "mSz" => "It depends on many things. mSz".into(),
        other => format!("A short answer number {other}. {other}"),
    }
}

/// Three pairs per input: (first, second, preference), indices into
/// RESPONSES. Input 1's third pair prefers the response that cites less
/// and rates lower: one discordant pair for both factors.
const PAIRS: [(usize, usize, &str); 9] = [
    (0, 1, "a"),
    (0, 2, "a"),
    (1, 2, "a"),
    (3, 4, "a"),
    (4, 5, "a"),
    (3, 5, "b"),
    (6, 7, "a"),
    (7, 8, "a"),
    (6, 8, "a"),
];

fn dataset(dir: &std::path::Path) -> String {
    let lines: Vec<String> = PAIRS
        .iter()
        .map(|&(a, b, pref)| {
            let input = format!("Question number {} about something?", RESPONSES[a].0);
            json!({"input": input, "response_a": text(RESPONSES[a].1),
                   "response_b": text(RESPONSES[b].1), "preference": pref})
            .to_string()
        })
        .collect();
    let p = dir.join("pairs.jsonl");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&p, lines.join("\n")).unwrap();
    p.to_string_lossy().into_owned()
}

/// The mock answers each response's question as scripted; the match is the
/// end of the RESPONSE block and the prompt's last line.
fn script(mock: &MockServer) {
    let mut replies = Vec::new();
    for (_, m, cites, rating) in RESPONSES {
        replies.push(
            json!({"match": format!("{m}\nRESPONSE>>>\n\nAnswer yes or no."),
                            "text": if cites { "yes" } else { "no" }}),
        );
        replies.push(
            json!({"match": format!("{m}\nRESPONSE>>>\n\nAnswer with one digit from 1 to 5."),
                            "text": rating.to_string()}),
        );
    }
    mock.script(&Value::Array(replies));
}

const PACK: &str = r#"{"version": 1, "factors": [
  {"id": "cites_sources", "name": "cites sources", "kind": "llm_yes_no",
   "question": "Does the response cite a source?", "sees": ["request"]},
  {"id": "overall_rating", "name": "overall rating", "kind": "llm_rating",
   "question": "How complete is the response?"}]}"#;

/// Unique (response, input) sides: 9 (the shared response `mSz` twice);
/// unique responses: 8. `cites_sources` sees the request: 9 calls;
/// `overall_rating` sees nothing: 8 calls.
const CALLS: u64 = 9 + 8;

fn setup(name: &str) -> (MockRun, String) {
    let run = MockRun::start(name, script, dataset);
    let pack = run.dir.join("pack.json");
    std::fs::write(&pack, PACK).unwrap();
    let pack = pack.to_string_lossy().into_owned();
    (run, pack)
}

fn score(run: &MockRun, pack: &str, extra: &[&str]) -> (i32, String, String) {
    let mut rest = vec![
        "--factor-pack",
        pack,
        "--factors",
        "cites_sources,overall_rating,length",
        "--bootstrap",
        "0",
        "--json",
    ];
    rest.extend_from_slice(extra);
    run.run(&["score"], &rest)
}

fn report(r: (i32, String, String)) -> Value {
    let (rc, out, err) = r;
    assert_eq!(rc, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn cd(r: &Value, f: &str) -> (u64, u64, u64, u64) {
    let s = &r["agents"][0]["factor_scores"][f];
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    (n("concordant"), n("discordant"), n("ties"), n("dropped"))
}

/// The cached answers of one template: the `custom` values in file order.
fn cached_values(cache: &str, template: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(format!("{cache}/cache.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["template"].as_str() == Some(template))
        .map(|e| e["value"]["custom"].as_f64().expect("a custom value"))
        .collect()
}

#[test]
fn a_custom_llm_factor_counts_its_calls_and_reruns_from_the_cache() {
    let (run, pack) = setup("pack-llm-calls");
    // The estimate first: nothing cached, every question a call.
    let (rc, out, err) = score(&run, &pack, &["--estimate", "--no-logprobs"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&format!("~{CALLS} calls")), "{out}");
    assert!(out.contains(&format!("{CALLS} questions")), "{out}");
    assert_eq!(run.mock.total(), 0, "an estimate makes no call");

    let r = report(score(&run, &pack, &["--no-logprobs"]));
    assert_eq!(run.mock.total(), CALLS, "calls counted exactly");
    assert_eq!(r["llm"]["calls"], CALLS);
    assert_eq!(r["llm"]["failed"], 0);
    // Hand counts (values: yes 1 / no 0; ratings as scripted): see PAIRS.
    // cites: C in input 0 (2), 1 (1), 2 (2); D in input 1; the no/no pairs
    // (one per input) dropped.
    assert_eq!(cd(&r, "cites_sources"), (5, 1, 0, 3));
    assert_eq!(cd(&r, "overall_rating"), (8, 1, 0, 0));
    let s = &r["agents"][0]["factor_scores"];
    assert!((s["cites_sources"]["score"].as_f64().unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert!((s["overall_rating"]["score"].as_f64().unwrap() - 7.0 / 9.0).abs() < 1e-12);
    // Marked as custom LLM factors; the report records the pack.
    let meta: Vec<&Value> = r["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["custom"] == true)
        .collect();
    assert_eq!(meta.len(), 2, "{}", r["factors"]);
    assert!(meta
        .iter()
        .all(|f| f["extraction"] == "LLM question (factor pack)"));
    assert_eq!(
        r["config"]["factor_pack"]["factors"][0]["question"],
        "Does the response cite a source?"
    );
    let mut yes_no = cached_values(&run.cache, "custom_yes_no@1");
    yes_no.sort_by(f64::total_cmp);
    assert_eq!(yes_no, [0., 0., 0., 0., 0., 0., 1., 1., 1.]);
    assert_eq!(cached_values(&run.cache, "custom_rating@1").len(), 8);

    // The re-run: no call, the identical report.
    let r2 = report(score(&run, &pack, &["--no-logprobs"]));
    assert_eq!(run.mock.total(), CALLS, "the re-run made a call");
    assert_eq!(r2["llm"]["calls"], 0);
    assert_eq!(r2["agents"], r["agents"]);
    assert_eq!(r2["factors"], r["factors"]);
    let (rc, out, _) = score(&run, &pack, &["--estimate", "--no-logprobs"]);
    assert_eq!(rc, 0);
    assert!(out.contains("~0 calls"), "{out}");
    assert_eq!(run.mock.stats()["repeated_successes"], 0);
}

/// As [`score`] with the `openai` provider (whose log-probabilities the
/// mock returns; `openai-compatible` offers none) and a test key.
fn score_openai(run: &MockRun, pack: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = run.args(
        &["score"],
        &[
            "--factor-pack",
            pack,
            "--factors",
            "cites_sources,overall_rating,length",
            "--bootstrap",
            "0",
            "--json",
        ],
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    let i = args.iter().position(|a| a == "openai-compatible").unwrap();
    args[i] = "openai".into();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(&args)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn log_probabilities_give_p_yes_and_the_expected_rating() {
    let (run, pack) = setup("pack-llm-logprobs");
    let r = report(score_openai(&run, &pack, &[]));
    assert_eq!(run.mock.total(), CALLS);
    // The mock's yes token: yes 0.9 + 0.01 + 0.005 against no 0.08.
    let mut yes_no = cached_values(&run.cache, "custom_yes_no@1");
    yes_no.sort_by(f64::total_cmp);
    let (yes, no) = (0.915 / 0.995, 0.08 / 0.995);
    for (i, v) in yes_no.iter().enumerate() {
        let want = if i < 6 { no } else { yes };
        assert!((v - want).abs() < 1e-9, "{yes_no:?}");
    }
    // A digit's own probability dominates: the expected rating is near it
    // and keeps the order, so the counts equal the words' counts.
    let mut ratings = cached_values(&run.cache, "custom_rating@1");
    ratings.sort_by(f64::total_cmp);
    let scripted = [1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0];
    assert_eq!(ratings.len(), 8);
    for (v, k) in ratings.iter().zip(scripted) {
        assert!((v - k).abs() < 0.1, "{ratings:?}");
    }
    assert_eq!(cd(&r, "cites_sources"), (5, 1, 0, 3));
    assert_eq!(cd(&r, "overall_rating"), (8, 1, 0, 0));
    // Log-probabilities are part of the question: a run without them asks
    // again (other prompts, other keys).
    let before = run.mock.total();
    report(score_openai(&run, &pack, &["--no-logprobs"]));
    assert_eq!(run.mock.total(), before + CALLS);
}

#[test]
fn a_failed_custom_question_is_listed_and_the_resumed_run_asks_only_it() {
    let (run, pack) = setup("pack-llm-resume");
    // Two replies that do not parse (the repair is asked too, and fails).
    run.mock
        .faults(r#"{"sequence": ["wrong_shape", "wrong_shape", "wrong_shape", "wrong_shape"]}"#);
    let r = report(score(&run, &pack, &["--no-logprobs", "--concurrency", "1"]));
    let first = run.mock.total();
    let failed = r["llm"]["failed"].as_u64().unwrap();
    assert!(failed >= 1, "{}", r["llm"]);
    run.mock.faults("{}");
    let r2 = report(score(&run, &pack, &["--no-logprobs"]));
    assert_eq!(r2["llm"]["failed"], 0);
    let asked = run.mock.total() - first;
    assert_eq!(
        asked, failed,
        "the resumed run asks only the failed questions"
    );
    // Each faulted request was an original or its repair: every question
    // answered exactly once over both runs.
    assert_eq!(first - 4 + asked, CALLS);
    assert_eq!(run.mock.stats()["repeated_successes"], 0);
    assert_eq!(cd(&r2, "cites_sources"), (5, 1, 0, 3));
}

#[test]
fn a_pack_with_llm_factors_without_a_model_skips_them_with_the_reason() {
    let dir = tempdir("pack-llm-nomodel");
    let data = dataset(&dir);
    // The README's example pack.
    let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/www/example/pack-llm.json");
    let (rc, out, err) = run_cli(&[
        "score",
        &data,
        "--factor-pack",
        pack,
        "--bootstrap",
        "0",
        "--json",
    ]);
    assert_eq!(rc, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let skipped: Vec<&str> = r["skipped_factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        skipped.contains(&"cites_sources") && skipped.contains(&"empathy"),
        "{}",
        r["skipped_factors"]
    );
    // A hostile pack: located errors, exit code 1, no call.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"factors": [{"id": "q", "name": "q", "kind": "llm_yes_no", "question": "", "sees": ["answer"]}]}"#,
    )
    .unwrap();
    let (rc, _, err) = run_cli(&["score", &data, "--factor-pack", bad.to_str().unwrap()]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.contains("factor 0 (`q`), field `question`: is empty")
            && err.contains("field `sees[0]`: `answer` is not a text a question can see"),
        "{err}"
    );
}

/// Batch export: the custom questions are exported like the built-in ones
/// (one request each, stage 1 of 1), their results imported into the cache,
/// and `profile score` then makes no call and gives the live run's scores.
#[test]
fn custom_questions_export_and_import_as_a_batch() {
    let (run, pack) = setup("pack-llm-batch");
    let dead = "http://127.0.0.1:9/v1";
    let flags = |cmd: &[&str], extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.extend(
            [
                run.file.as_str(),
                "--provider",
                "openai",
                "--model",
                "mock",
                "--base-url",
                dead,
                "--cache-dir",
                run.cache.as_str(),
                "--task",
                "helpful",
                "--factor-pack",
                pack.as_str(),
                "--factors",
                "cites_sources,overall_rating,length",
                "--no-logprobs",
            ]
            .map(String::from),
        );
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let profile = |args: &[String]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_profile"))
            .args(args)
            .env("OPENAI_API_KEY", "sk-test")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "profile {args:?}: {err}");
        (String::from_utf8_lossy(&o.stdout).into_owned(), err)
    };
    let requests = run.dir.join("requests.jsonl");
    let (_, err) = profile(&flags(
        &["batch", "export"],
        &["--out", requests.to_str().unwrap()],
    ));
    let lines: Vec<Value> = std::fs::read_to_string(&requests)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, CALLS, "{err}");
    let mut results = Vec::new();
    for (i, r) in lines.iter().enumerate() {
        let body = ureq::post(&run.mock.url("/v1/chat/completions"))
            .set("content-type", "application/json")
            .send_string(&r["body"].to_string())
            .unwrap()
            .into_string()
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        results.push(
            json!({"id": format!("batch_req_{i}"), "custom_id": r["custom_id"],
                   "response": {"status_code": 200, "request_id": format!("req_{i}"), "body": body},
                   "error": null})
            .to_string(),
        );
    }
    let path = run.dir.join("results.jsonl");
    std::fs::write(&path, results.join("\n") + "\n").unwrap();
    let mut import = vec![
        "batch".to_owned(),
        "import".to_owned(),
        path.to_string_lossy().into_owned(),
    ];
    import.extend(flags(&[], &[]));
    profile(&import);
    // Nothing left to export; scoring makes no call (nothing listens).
    let (out, _) = profile(&flags(&["score"], &["--bootstrap", "0", "--json"]));
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["llm"]["calls"], 0);
    assert_eq!(r["llm"]["failed"], 0);
    assert_eq!(cd(&r, "cites_sources"), (5, 1, 0, 3));
    assert_eq!(cd(&r, "overall_rating"), (8, 1, 0, 0));
}

/// The app's worker path (`protocol`: the pack in the message's score
/// request, `Session::estimate_model`, `run_model` over the async driver):
/// the estimate counts the custom questions, the run asks exactly them and
/// scores them as the CLI does.
#[test]
fn the_worker_estimates_and_runs_custom_llm_factors_as_the_cli_does() {
    use profile::llm::drive::{Control, MemoryStore};
    use profile::llm::provider::{ModelConfig, Provider};
    use profile::llm::settings::ModelChoice;
    use profile::llm::threads::{block_on, BlockingHttp};
    use profile::protocol::{run_model, FromWorker, LlmRequest, ModelKind, ToWorker};
    use std::cell::RefCell;

    let (run, pack) = setup("pack-llm-worker");
    let cli = report(score(&run, &pack, &["--no-logprobs"]));
    let after_cli = run.mock.total();
    assert_eq!(after_cli, CALLS);

    // The score request as the app sends it: the pack travels with it.
    let msg = json!({"kind": "score", "factor_pack": serde_json::from_str::<Value>(PACK).unwrap(),
        "task": "helpful", "factors": ["cites_sources", "overall_rating", "length"],
        "bootstrap": {"resamples": 0, "seed": 1}});
    let ToWorker::Score(score) = ToWorker::from_json(&msg.to_string()).unwrap() else {
        panic!("a score message")
    };
    let session = RefCell::new(profile::protocol::Session::new());
    let mut loader = profile::data::Loader::new(profile::data::FormatOptions::default());
    loader.push(&std::fs::read(&run.file).unwrap());
    let loaded = session.borrow_mut().finish_load(
        "pairs.jsonl".into(),
        loader,
        Default::default(),
        &score,
        || 0.0,
    );
    assert!(matches!(loaded, FromWorker::Loaded { .. }));
    let mut model = ModelConfig::new(Provider::OpenAiCompatible, "mock");
    model.base_url = Some(run.base.clone());
    let choice = ModelChoice {
        settings: Default::default(),
        model,
        price: None,
        sample: None,
    };
    let req = LlmRequest {
        choice: choice.clone(),
        score,
        run: ModelKind::Extract,
    };
    let FromWorker::LlmEstimate {
        estimate,
        questions,
        ..
    } = session
        .borrow()
        .estimate_model(&req, &profile::llm::cache::MemoryCache::default())
    else {
        panic!("an estimate")
    };
    assert_eq!((estimate.calls, questions), (CALLS, CALLS));
    let transport = BlockingHttp::new(&choice.model, std::time::Duration::from_secs(30));
    let store = MemoryStore::default();
    let msg = block_on(run_model(
        &session,
        &req,
        "",
        &transport,
        &transport,
        &store,
        &Control::default(),
        &|_| {},
    ));
    let FromWorker::LlmFinished { report: r, .. } = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(run.mock.total() - after_cli, CALLS, "the worker's calls");
    let r = serde_json::to_value(&r).unwrap();
    for f in ["cites_sources", "overall_rating", "length"] {
        assert_eq!(
            r["agents"][0]["factor_scores"][f], cli["agents"][0]["factor_scores"][f],
            "{f}"
        );
    }
}
