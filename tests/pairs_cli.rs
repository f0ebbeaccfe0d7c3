//! `profile pairs`: the pairs behind a factor score from the command line,
//! for the humans on SummEval and for a judge run against the mock LLM
//! server (its verdicts read back from the answer cache, never asked again).

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::MockServer as Mock;
use serde_json::Value;

const SUMMEVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/summeval/summeval.jsonl"
);

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn pairs_lists_the_discordant_pairs_the_score_counts() {
    let (code, out, err) = common::run_cli(&[
        "score",
        SUMMEVAL,
        "--factors",
        "length,novel_words",
        "--bootstrap",
        "0",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    for factor in ["length", "novel_words"] {
        let score = &report["agents"][0]["factor_scores"][factor];
        for (kind, field) in [
            ("discordant", "discordant"),
            ("concordant", "concordant"),
            ("dropped", "dropped"),
        ] {
            let (code, out, err) = common::run_cli(&[
                "pairs", SUMMEVAL, "--factor", factor, "--kind", kind, "--limit", "3", "--json",
            ]);
            assert_eq!(code, 0, "{err}");
            let v = json(&out);
            assert_eq!(v["matching"], score[field], "{factor} {kind}");
            assert_eq!(v["counts"][field], score[field], "{factor} {kind}");
            let pairs = v["pairs"].as_array().unwrap();
            assert_eq!(pairs.len(), 3);
            for p in pairs {
                assert_eq!(p["row"]["kind"], kind);
                let a = p["evidence"]["a"]["text"].as_str().unwrap();
                let spans = p["evidence"]["a"]["novel"].as_array().unwrap();
                for s in spans {
                    let (x, y) = (
                        s[0].as_u64().unwrap() as usize,
                        s[1].as_u64().unwrap() as usize,
                    );
                    assert!(x < y && y <= a.len() && !a[x..y].contains(' '));
                }
            }
        }
    }
    // The text form marks the novel words.
    let (code, out, _) = common::run_cli(&[
        "pairs",
        SUMMEVAL,
        "--factor",
        "novel_words",
        "--kind",
        "discordant",
        "--limit",
        "2",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("novel_words for human: 3722 concordant, 5236 discordant"),
        "{out}"
    );
    assert!(
        out.contains("listing 2 of 5236 discordant pairs") && out.contains('«'),
        "{out}"
    );
}

#[test]
fn pairs_usage_and_data_errors() {
    let cases: [(&[&str], i32, &str); 5] = [
        (&["pairs", SUMMEVAL], 2, "needs --factor"),
        (
            &["pairs", SUMMEVAL, "--factor", "size"],
            2,
            "unknown factor `size`",
        ),
        (
            &["pairs", SUMMEVAL, "--factor", "length", "--kind", "odd"],
            2,
            "--kind takes",
        ),
        (
            &["pairs", SUMMEVAL, "--factor", "length", "--agent", "judge"],
            2,
            "give the --provider",
        ),
        (
            &["pairs", SUMMEVAL, "--factor", "hallucination"],
            1,
            "needs a language model",
        ),
    ];
    for (args, want, msg) in cases {
        let (code, _, err) = common::run_cli(args);
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
}

#[test]
fn pairs_of_a_judge_come_from_its_cached_run() {
    let mock = Mock::start();
    mock.script(&serde_json::json!([
        {"match": "<<<RESPONSE_1\nGOOD", "json": {"better": "1", "justification": "marked"}},
        {"match": "<<<RESPONSE_2\nGOOD", "json": {"better": "2", "justification": "marked"}},
        {"match": "BROKEN one.", "text": "I cannot decide, both are fine."},
    ]));
    let dir = common::tempdir("pairs-judge");
    let mut lines = Vec::new();
    for i in 0..4 {
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
    // The mock's default verdict "1" in both orders: a position flip (a tie).
    lines.push(serde_json::json!({"input": "Question 4?", "response_a": "first plain.", "response_b": "second plain, longer.", "preference": "b"}).to_string());
    // No verdict.
    lines.push(serde_json::json!({"input": "Question 5?", "response_a": "BROKEN one.", "response_b": "other one.", "preference": "a"}).to_string());
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let base = mock.url("/v1");
    let flags = |cache: &str| -> Vec<String> {
        [
            "--provider",
            "openai-compatible",
            "--model",
            "mock",
            "--base-url",
            &base,
            "--cache-dir",
            cache,
            "--factors",
            "length",
            "--quiet",
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run_cli(&a)
    };
    // Before the judge ran: an error, and no call.
    let mut a = vec![
        "pairs".to_owned(),
        file.clone(),
        "--factor".into(),
        "length".into(),
        "--agent".into(),
        "judge".into(),
    ];
    a.extend(flags(&cache));
    let (code, _, err) = run(a.clone());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no judge answer of mock is in the cache"),
        "{err}"
    );
    let mut j = vec![
        "judge".to_owned(),
        file.clone(),
        "--json".into(),
        "--bootstrap".into(),
        "0".into(),
    ];
    j.extend(flags(&cache));
    let (code, out, err) = run(j);
    assert_eq!(code, 0, "{err}");
    let report = json(&out);
    let score = &report["agents"][1]["factor_scores"]["length"];
    assert_eq!(report["agents"][1]["name"], "mock (judge)");
    // Now the pairs, with the judge's counts; the mock is stopped, so no call can be made.
    drop(mock);
    a.extend(["--json".into(), "--limit".into(), "0".into()]);
    let (code, out, err) = run(a.clone());
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    for f in ["concordant", "discordant", "ties", "dropped", "missing"] {
        assert_eq!(v["counts"][f], score[f], "{f}: {out}");
    }
    let kinds: Vec<&str> = v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["row"]["kind"].as_str().unwrap())
        .collect();
    // The judge picks the longer, marked response: concordant with length, whatever the label.
    assert_eq!(
        kinds,
        [
            "concordant",
            "concordant",
            "concordant",
            "concordant",
            "tied",
            "missing"
        ]
    );
    // Its verdicts against the labels.
    let expect = [
        ("disagrees", vec![3, 4]),
        ("agrees", vec![0, 1, 2]),
        ("no_verdict", vec![5]),
        // Pair 4: "1" in both orders, the verdict followed the position.
        ("followed_position", vec![4]),
    ];
    for (kind, want) in expect {
        let mut b = vec![
            "pairs".to_owned(),
            file.clone(),
            "--agent".into(),
            "judge".into(),
            "--json".into(),
        ];
        b.extend(flags(&cache));
        b.extend(["--kind".into(), kind.into()]);
        let (code, out, err) = run(b);
        assert_eq!(code, 0, "{kind}: {err}");
        let v = json(&out);
        let got: Vec<u64> = v["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pair"].as_u64().unwrap())
            .collect();
        assert_eq!(got, want, "{kind}");
        if kind == "followed_position" {
            assert_eq!(v["pairs"][0]["position"], "first", "{out}");
            assert_eq!(v["matching"], 1);
        }
    }
    // The text names the position and counts the pairs judged in both orders.
    let mut b = vec![
        "pairs".to_owned(),
        file.clone(),
        "--agent".into(),
        "judge".into(),
        "--kind".into(),
        "followed_position".into(),
    ];
    b.extend(flags(&cache));
    let (code, out, err) = run(b);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(
            "1 of 5 pairs judged in both orders: the verdict followed the position (label vs verdict)"
        ),
        "{out}"
    );
    assert!(
        out.contains("named the response shown first in both orders"),
        "{out}"
    );
}
