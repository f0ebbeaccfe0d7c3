//! A judge that always answers "1" (the mock LLM server's default verdict)
//! on HH-RLHF, where the preferred response is always response A: the worst
//! case of issue 11. In single order the shown order must be a seeded coin
//! flip, so such a judge agrees with people about half the time, not always;
//! in both orders its position flips must be reported as flips (not ties),
//! its order-averaged agreement as one half, and the summary must say that it
//! follows the position, never that it "weighs the factors much as people do".

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::MockServer as Mock;

fn run(args: &[&str]) -> (bool, String, String) {
    let (code, out, err) = common::run_cli(args);
    (code == 0, out, err)
}

/// `profile judge` on the first 60 HH-RLHF pairs with the always-"1" mock.
fn judge(mock: &Mock, cache: &str, extra: &[&str]) -> (bool, String, String) {
    let base = mock.url("/v1");
    let mut a = vec![
        "judge",
        common::HH_GZ,
        "--provider",
        "openai-compatible",
        "--model",
        "always-first",
        "--base-url",
        base.as_str(),
        "--cache-dir",
        cache,
        "--limit",
        "60",
        "--factors",
        "length",
        "--bootstrap",
        "200",
        "--quiet",
    ];
    a.extend(extra);
    run(&a)
}

fn cache_dir(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("profile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.to_string_lossy().into_owned()
}

#[test]
fn single_order_shows_each_pair_in_a_seeded_random_order() {
    let mock = Mock::start();
    let cache = cache_dir("judge-single");
    let (ok, out, err) = judge(&mock, &cache, &["--single-order", "--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run_ = &r["agents"][1]["run"];
    assert_eq!(run_["items"], 60, "{run_}");
    assert_eq!(run_["both_orders"], false);
    assert_eq!(run_["order_seed"], 42, "the coin flip's seed is recorded");
    let swapped = run_["swapped"].as_u64().unwrap();
    assert!(
        (18..=42).contains(&swapped),
        "{swapped} of 60 shown B first"
    );
    // The judge always names response 1, which is the preferred response
    // only when the pair was not swapped: about half, never all.
    let agreement = run_["agreement"].as_f64().unwrap();
    assert_eq!(agreement, (60 - swapped) as f64 / 60.0);
    assert!((0.3..=0.7).contains(&agreement), "{agreement}");
    assert_eq!(run_["agreement_order_averaged"], run_["agreement"]);
    assert_eq!(run_["first_position_share"], 1.0);
    let policy = r["agents"][1]["tie_policy"].as_str().unwrap();
    assert!(policy.contains("coin flip per pair (seed 42)"), "{policy}");
    // Its factor scores are no longer the humans' by construction.
    assert_ne!(
        r["agents"][1]["factor_scores"]["length"]["score"],
        r["agents"][0]["factor_scores"]["length"]["score"]
    );

    // The summary names the position bias, even in single order.
    let (ok, table, err) = judge(&mock, &cache, &["--single-order"]);
    assert!(ok, "{err}");
    assert!(
        table.contains("follows the position of the responses, not their content"),
        "{table}"
    );
    assert!(!table.contains("much as people do"), "{table}");
    assert!(
        table.contains("one order per pair, a coin flip with seed 42"),
        "{table}"
    );
    // Another seed shows other pairs swapped (and asks only for those).
    let (ok, out, err) = judge(&mock, &cache, &["--single-order", "--json", "--seed", "7"]);
    assert!(ok, "{err}");
    let r7: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r7["agents"][1]["run"]["order_seed"], 7);
    assert_ne!(r7["agents"][1]["run"]["swapped"], run_["swapped"]);
}

#[test]
fn position_flips_are_reported_apart_from_ties() {
    let mock = Mock::start();
    let cache = cache_dir("judge-both");
    let (ok, out, err) = judge(&mock, &cache, &["--json"]);
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let judge_ = &r["agents"][1];
    let run_ = &judge_["run"];
    assert_eq!(run_["items"], 60, "{run_}");
    // "1" in both orders on every pair: all flips, no genuine tie.
    assert_eq!(run_["flipped_share"], 1.0);
    assert_eq!(run_["position_consistency"], 0.0);
    assert_eq!(run_["tie_rate"], 0.0, "a flip is not a tie");
    assert_eq!(run_["half_tie_share"], 0.0);
    // Strict agreement 0 (a flip disagrees); order-averaged one half (each
    // flip has one verdict for the preferred response).
    assert_eq!(run_["agreement"], 0.0);
    assert_eq!(run_["agreement_order_averaged"], 0.5);
    let ag = &r["alignments"][0]["agreement"];
    assert_eq!(
        (
            &ag["rate"],
            &ag["order_averaged"],
            &ag["tie_rate"],
            &ag["flip_rate"]
        ),
        (
            &serde_json::json!(0.0),
            &serde_json::json!(0.5),
            &serde_json::json!(0.0),
            &serde_json::json!(1.0)
        )
    );
    let policy = judge_["tie_policy"].as_str().unwrap();
    assert!(
        policy.contains("position flip") && policy.contains("order-averaged"),
        "{policy}"
    );
    // The flips make every length comparison a judge tie (the policy above).
    assert_eq!(judge_["factor_scores"]["length"]["score"], 0.0);

    let (ok, table, err) = judge(&mock, &cache, &[]);
    assert!(ok, "{err}");
    assert!(
        table.contains("agreement with humans: 50.0% order-averaged"),
        "{table}"
    );
    assert!(table.contains("0.0% strict"), "{table}");
    assert!(
        table.contains("position flips 100.0%, genuine ties 0.0%"),
        "{table}"
    );
    assert!(
        table.contains(
            "follows the position of the responses, not their content: on 100% of the pairs"
        ),
        "{table}"
    );
    assert!(!table.contains("much as people do"), "{table}");
}
