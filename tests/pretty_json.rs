//! `report::pretty_json` indents compact JSON exactly as
//! `serde_json::to_string_pretty` does (the report's pretty JSON, in the CLI
//! and the app's export, goes through it).

use profile::report::pretty_json;
use serde_json::{json, Value};

fn check(v: &Value) {
    let compact = serde_json::to_string(v).unwrap();
    assert_eq!(
        pretty_json(&compact),
        serde_json::to_string_pretty(v).unwrap(),
        "{compact}"
    );
}

#[test]
fn indents_as_serde_json() {
    for v in [
        json!(null),
        json!(1.5e-7),
        json!("a"),
        json!([]),
        json!({}),
        json!([[], {}, [[]], {"a": {}}, [1, [2, [3]]]]),
        json!({"a": [], "b": {}, "c": {"d": [1, 2.5, -3, true, false, null]}}),
        json!({"s": "quote \" backslash \\ end\\", "t": "{[,:]} \"{\" \\\" ", "u": "é ∑ 😀 \u{1} \n\t"}),
        json!({"": "", "\\": "\"", "k:": ",", "k,": ":"}),
        json!([
            1e300,
            -0.0,
            0.1,
            12345678901234567890u64,
            -9007199254740993i64
        ]),
    ] {
        check(&v);
    }
}

#[test]
fn indents_the_repository_s_json_files_as_serde_json() {
    let mut seen = 0;
    for dir in [
        "tests/fixtures",
        "tests/snapshots",
        "tests/reference",
        "www/example",
    ] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            check(&v);
            seen += 1;
        }
    }
    assert!(seen >= 4, "only {seen} JSON files");
}

/// A scored report (with bootstrap intervals and the joint model) writes the
/// same pretty JSON as before.
#[test]
fn a_report_s_pretty_json_is_serde_json_s() {
    use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
    use profile::stats::BootstrapConfig;
    let ds = profile::data::load_bytes(
        include_bytes!("../www/example/example.jsonl"),
        profile::data::FormatOptions::default(),
    )
    .unwrap();
    let cfg = ScoreConfig {
        task: ds.default_task(),
        factors: None,
        bootstrap: BootstrapConfig {
            resamples: 20,
            seed: 1,
        },
    };
    let info = DatasetInfo {
        name: Some("example \"x\".jsonl".into()),
        label: None,
        sample: None,
    };
    let r = score_report(&ds, &cfg, &info);
    assert_eq!(
        r.to_json_pretty(),
        serde_json::to_string_pretty(&r).unwrap()
    );
}
