//! Models as judges and writers from the CLI, against the project's mock
//! LLM server with scripted replies: a judge that prefers marked responses
//! in both orders, one that follows the position (a flip), a reply that never
//! parses (listed with its raw text), a malformed generation (a recorded
//! failure, never a guess), and several agents side by side via `--into`.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::MockServer as Mock;

fn run(args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = common::run_cli(args);
    (code == 0, out, err)
}

fn dataset(dir: &std::path::Path) -> String {
    let mut lines = Vec::new();
    for i in 0..4 {
        // The marked response is longer and preferred by the humans, except in pair 3.
        let good = format!("GOOD answer {i}. It explains the steps. It adds a tip.");
        let plain = format!("plain answer {i}.");
        let (a, b, p) = if i % 2 == 0 {
            (good, plain, "a")
        } else {
            (plain, good, "b")
        };
        let p = if i == 3 { "a" } else { p };
        lines.push(serde_json::json!({"input": format!("Question {i}?"), "response_a": a, "response_b": b, "preference": p}).to_string());
    }
    // A pair without marks: the mock's default verdict "1" in both orders (a flip).
    lines.push(serde_json::json!({"input": "Question 4?", "response_a": "first plain.", "response_b": "second plain, longer.", "preference": "b"}).to_string());
    // A pair whose verdict never parses.
    lines.push(serde_json::json!({"input": "BADINPUT please", "response_a": "BROKEN one.", "response_b": "other one.", "preference": "a"}).to_string());
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn judge_and_writer_runs_join_one_report() {
    let mock = Mock::start();
    let replies = serde_json::json!([
        {"match": "<<<RESPONSE_1\nGOOD", "json": {"better": "1", "justification": "marked"}},
        {"match": "<<<RESPONSE_2\nGOOD", "json": {"better": "2", "justification": "marked"}},
        {"match": "BROKEN one.", "text": "I cannot decide, both are fine."},
        {"match": "BADINPUT", "text": "SCORE 1\nonly one level here"},
    ]);
    mock.script(&replies);
    let dir = std::env::temp_dir().join(format!("profile-model-runs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dataset(&dir);
    let report = dir.join("report.json").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let base = mock.url("/v1");
    let common = [
        "--provider",
        "openai-compatible",
        "--model",
        "mock",
        "--base-url",
        base.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--factors",
        "length,novel_words_count",
        "--bootstrap",
        "100",
        "--quiet",
    ];
    let judge = |extra: &[&str]| {
        let mut a = vec!["judge", file.as_str()];
        a.extend(common);
        a.extend(extra);
        run(&a)
    };
    let (ok, out, err) = judge(&["--into", &report, "--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let j = &r["agents"][1];
    assert_eq!(j["name"], "mock (judge)");
    assert_eq!(j["setting"], "evaluation");
    let run_ = &j["run"];
    assert_eq!(run_["both_orders"], true);
    // 6 pairs: 5 judged (the BROKEN pair failed in one or both orders).
    assert_eq!(run_["items"], 5, "{run_}");
    // Consistent on the 4 marked pairs; the unmarked pair followed the position.
    assert_eq!(run_["position_consistency"], 0.8);
    assert_eq!(run_["flipped_share"], 0.2);
    // Humans agree with the marked choice on pairs 0..2, not on pair 3; pair
    // 4 is a position flip: a disagreement in the strict agreement, one of
    // two verdicts in the order-averaged one, and not a genuine tie.
    assert_eq!(run_["agreement"], 0.6);
    assert_eq!(run_["agreement_order_averaged"], 0.7);
    assert_eq!(run_["tie_rate"], 0.0);
    let failures = run_["failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    assert!(failures.iter().all(|f| f["raw_reply"]
        .as_str()
        .unwrap_or("")
        .contains("cannot decide")));
    // Judged length: the judge always picks the longer marked response.
    assert_eq!(j["factor_scores"]["length"]["score"], 0.8);
    assert_eq!(r["alignments"][0]["agent"], "mock (judge)");

    // The writer joins the same report; a malformed generation is a failure, never a guess.
    let mut a = vec![
        "generate",
        file.as_str(),
        "--inputs",
        "6",
        "--into",
        report.as_str(),
        "--json",
    ];
    a.extend(common);
    let (ok, out, err) = run(&a);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names = common::agent_names(&r);
    assert_eq!(names, ["human", "mock (judge)", "mock (writer)"]);
    let w = &r["agents"][2];
    assert_eq!(w["setting"], "generation");
    assert_eq!(w["run"]["items"], 5);
    assert_eq!(w["run"]["items_planned"], 6);
    assert_eq!(w["run"]["generated_pairs"], 50);
    assert_eq!(w["run"]["failed"], 1);
    // The mock writes longer texts for higher scores: length always goes with quality.
    assert_eq!(w["factor_scores"]["length"]["score"], 1.0);
    assert_eq!(r["alignments"].as_array().unwrap().len(), 2);
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(on_disk, r);

    // Judging again: every verdict comes from the cache; only the failed one is asked again.
    let before: serde_json::Value = mock.stats();
    let (ok, out, _) = judge(&["--json"]);
    assert!(ok);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let cached = r["agents"][1]["run"]["cache_hits"].as_u64().unwrap();
    assert!(cached >= 10, "{cached}");
    let after: serde_json::Value = mock.stats();
    // The only new calls re-ask the verdicts that failed (each with its repair).
    let new_calls = after["total"].as_u64().unwrap() - before["total"].as_u64().unwrap();
    assert_eq!(new_calls, 2 * failures.len() as u64);
    assert_eq!(
        after["repeated_successes"].as_u64().unwrap()
            - before["repeated_successes"].as_u64().unwrap(),
        new_calls
    );

    // Usage errors are clear.
    let (ok, _, err) = run(&["judge", file.as_str()]);
    assert!(!ok && err.contains("needs --provider"), "{err}");
    let (ok, _, err) = judge(&["--inputs", "2"]);
    assert!(
        !ok && err.contains("--inputs applies to `profile generate`"),
        "{err}"
    );
}
