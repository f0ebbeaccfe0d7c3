//! Intervals on few inputs (issue 11.8): the report says how many bootstrap
//! resamples each interval used and from how many inputs it came, and an
//! interval from fewer than `stats::MIN_INPUTS_FOR_INTERVALS` (10) inputs is
//! flagged (`!` in the CLI table, with a legend).

#![cfg(not(target_arch = "wasm32"))]

use std::process::Command;

mod common;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_profile"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn score(sample: &str, json: bool) -> String {
    let mut a = vec![
        "score",
        common::SUMMEVAL,
        "--factors",
        "length,novel_words",
        "--bootstrap",
        "200",
        "--sample",
        sample,
    ];
    if json {
        a.push("--json");
    }
    run(&a)
}

#[test]
fn intervals_say_how_many_resamples_and_inputs_they_come_from() {
    assert_eq!(profile::stats::MIN_INPUTS_FOR_INTERVALS, 10);
    let r: serde_json::Value = serde_json::from_str(&score("3", true)).unwrap();
    let e = &r["agents"][0]["factor_scores"]["length"];
    assert_eq!(e["inputs"], 3, "{e}");
    let used = e["bootstrap_resamples_used"].as_u64().unwrap();
    assert!(used > 0 && used <= 200, "{e}");
    assert_eq!(e["few_inputs"], true, "{e}");
    let j = &r["agents"][0]["joint"];
    assert!(
        j["bootstrap_resamples_used"].as_u64().unwrap() <= 200,
        "{j}"
    );

    let r: serde_json::Value = serde_json::from_str(&score("20", true)).unwrap();
    let e = &r["agents"][0]["factor_scores"]["length"];
    assert_eq!(e["inputs"], 20, "{e}");
    assert_eq!(e["bootstrap_resamples_used"], 200, "{e}");
    assert!(e.get("few_inputs").is_none(), "{e}");
}

#[test]
fn the_table_flags_intervals_from_few_inputs() {
    let t = score("3", false);
    let row = t
        .lines()
        .find(|l| l.trim_start().starts_with("length"))
        .unwrap();
    assert!(row.contains("]!"), "{t}");
    assert!(
        t.contains("! interval from fewer than 10 inputs"),
        "the legend: {t}"
    );
    let t = score("20", false);
    let row = t
        .lines()
        .find(|l| l.trim_start().starts_with("length"))
        .unwrap();
    assert!(!row.contains("]!"), "{t}");
    assert!(!t.contains("! interval from fewer than"), "{t}");
}
