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
            2,
            "needs a model: give the --provider",
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

/// The evidence of an LLM factor is the answers its values were computed
/// from: a `profile score` run on the mock server, then `profile pairs` with
/// the server stopped lists each response's atomic facts with the checks'
/// verdicts, and each raw reply is the cache entry that answer came from.
#[test]
fn pairs_show_the_model_answers_behind_an_llm_factor() {
    let mock = Mock::start();
    // The fact check of the zebra response: its first fact unsupported.
    mock.script(&serde_json::json!([
        {"match": "[1] Zebras are purple.", "json": {"response_facts": [
            {"id": 1, "supported": "no"}, {"id": 2, "supported": "yes"},
            {"id": 3, "supported": "yes"}]}},
    ]));
    let dir = common::tempdir("pairs-evidence");
    let lines = [
        (
            "What colour are zebras?",
            "Zebras are purple. Grass is green.",
            "Zebras are striped.",
            "b",
        ),
        (
            "Name a fruit.",
            "An apple. A pear. An apple.",
            "A plum.",
            "a",
        ),
        ("Say hi.", "Hi.", "Hello there. Nice day.", "a"),
    ]
    .map(|(i, a, b, p)| {
        serde_json::json!({"input": i, "response_a": a, "response_b": b, "preference": p})
            .to_string()
    });
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_string_lossy().into_owned();
    let cache_dir = dir.join("cache");
    let cache = cache_dir.to_string_lossy().into_owned();
    let base = mock.url("/v1");
    let flags: Vec<String> = [
        "--provider",
        "openai-compatible",
        "--model",
        "mock",
        "--base-url",
        &base,
        "--cache-dir",
        &cache,
        "--factors",
        "hallucination",
        "--quiet",
    ]
    .map(str::to_owned)
    .to_vec();
    let run = |head: &[&str]| {
        let mut a: Vec<&str> = head.to_vec();
        a.extend(flags.iter().map(String::as_str));
        common::run_cli(&a)
    };
    let (code, out, err) = run(&["score", &file, "--json", "--bootstrap", "0"]);
    assert_eq!(code, 0, "{err}");
    let score = json(&out)["agents"][0]["factor_scores"]["hallucination"].clone();
    // No call from here on.
    drop(mock);
    let (code, out, err) = run(&[
        "pairs",
        &file,
        "--factor",
        "hallucination",
        "--limit",
        "0",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    for f in ["concordant", "discordant", "ties", "dropped", "missing"] {
        assert_eq!(v["counts"][f], score[f], "{f}: {out}");
    }
    // The cache entries, by key.
    let entries: std::collections::HashMap<String, Value> =
        std::fs::read_to_string(cache_dir.join("cache.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let e: Value = serde_json::from_str(l).unwrap();
                (e["key"].as_str().unwrap().to_owned(), e)
            })
            .collect();
    let mut labels_seen = Vec::new();
    for p in v["pairs"].as_array().unwrap() {
        for side in ["a", "b"] {
            let e = &p["evidence"][side];
            let m = &e["model"];
            assert_eq!(m["imported"], false, "{p}");
            assert_eq!(m["model"], "openai-compatible/mock");
            assert_eq!(m["facts_of"], "response");
            let facts: Vec<&Value> = m["facts"].as_array().unwrap().iter().collect();
            let replies = m["replies"].as_array().unwrap();
            assert_eq!(
                replies
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect::<Vec<_>>(),
                ["atomic facts of the response", "fact checks"],
                "{p}"
            );
            // The facts are the cached facts answer; the verdicts the cached checks.
            let raw = p["raw_replies"][side].as_array().unwrap();
            let fact_entry = &entries[raw[0]["key"].as_str().unwrap()];
            let check_entry = &entries[raw[1]["key"].as_str().unwrap()];
            let texts: Vec<&Value> = facts.iter().map(|f| &f["text"]).collect();
            assert_eq!(
                texts,
                fact_entry["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect::<Vec<_>>()
            );
            let supported = check_entry["value"]["fact_checks"]["supported"]
                .as_array()
                .unwrap();
            for (f, s) in facts.iter().zip(supported) {
                let verdict = &f["verdicts"][0];
                assert_eq!(verdict["check"], "supported");
                assert_eq!(&verdict["yes"], s);
                labels_seen.push(verdict["label"].as_str().unwrap().to_owned());
            }
            // The value shown is the share of the distinct facts found hallucinated.
            let distinct: Vec<&&Value> = facts.iter().filter(|f| f["repeat"] == false).collect();
            let hallucinated = distinct
                .iter()
                .filter(|f| f["verdicts"][0]["label"] == "hallucinated")
                .count();
            let want = hallucinated as f64 / distinct.len() as f64;
            assert_eq!(e["value"].as_f64(), Some(want), "{p}");
            assert_eq!(p["row"][format!("value_{side}")].as_f64(), Some(want));
            // The raw replies are the entries' replies, under the same keys.
            assert_eq!(raw.len(), 2);
            for ((r, entry), q) in raw.iter().zip([fact_entry, check_entry]).zip(replies) {
                assert_eq!(&r["question"], q);
                assert_eq!(r["text"], entry["reply"], "{r}");
                assert_eq!(r["note"], Value::Null);
            }
        }
    }
    assert!(
        labels_seen.contains(&"hallucinated".to_owned()),
        "{labels_seen:?}"
    );
    assert!(
        labels_seen.contains(&"supported".to_owned()),
        "{labels_seen:?}"
    );
    // "An apple." twice: the repeat is flagged and counted once.
    assert!(out.contains("\"repeat\": true"), "{out}");
    // The text form lists the facts with their verdicts.
    let (code, out, err) = run(&["pairs", &file, "--factor", "hallucination"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1. Zebras are purple. [hallucinated]"),
        "{out}"
    );
    assert!(out.contains("2. Grass is green. [supported]"), "{out}");
    // A factor the score run did not ask: its questions would differ.
    let (code, _, err) = run(&["pairs", &file, "--factor", "off_focus"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not among the factors of this study"), "{err}");
}
