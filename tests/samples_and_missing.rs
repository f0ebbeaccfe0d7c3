//! Which pairs a report covers and which it could not compare (issue 11):
//! `--sample N` draws N inputs with a seed (all the pairs of each, the seed
//! recorded), where `--limit N` takes the first N pairs; pairs a factor lost
//! to failed extraction are `missing`, apart from factor ties (`dropped`);
//! a fact repeated in a response's atomic facts counts once.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};

use profile::analysis::Selection;

mod common;

use common::MockServer as Mock;

use common::run_cli as run;

fn json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_sample_is_seeded_inputs_with_all_their_pairs() {
    let score = |extra: &[&str]| {
        let mut a = vec![
            "score",
            common::SUMMEVAL,
            "--factors",
            "length",
            "--bootstrap",
            "0",
            "--json",
        ];
        a.extend(extra);
        json(&a)
    };
    let r = score(&["--sample", "5"]);
    let d = &r["dataset"];
    assert_eq!(d["inputs"], 5);
    assert_eq!(
        d["sample"],
        serde_json::json!({"method": "inputs", "requested": 5, "inputs_loaded": 100,
                           "pairs_loaded": 11342, "seed": 42})
    );
    // The same seed draws the same inputs; another seed others.
    assert_eq!(score(&["--sample", "5"]), r);
    let r7 = score(&["--sample", "5", "--seed", "7"]);
    assert_eq!(r7["dataset"]["sample"]["seed"], 7);
    assert_ne!(
        r7["agents"][0]["factor_scores"],
        r["agents"][0]["factor_scores"]
    );

    // The core selection both the CLI and the app use: every pair of each
    // drawn input, and not simply the first inputs.
    let full = common::load_default(common::SUMMEVAL);
    let mut sample = full.clone();
    let info = Selection::Inputs { n: 5, seed: 42 }
        .apply(&mut sample)
        .unwrap();
    assert_eq!(info.seed, Some(42));
    assert_eq!(sample.pairs.len() as u64, d["pairs"].as_u64().unwrap());
    let sources = |ds: &profile::data::Dataset| -> BTreeSet<String> {
        ds.pairs
            .iter()
            .map(|p| ds.text(p.source.unwrap()).to_owned())
            .collect()
    };
    let drawn = sources(&sample);
    assert_eq!(drawn.len(), 5);
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    for p in &full.pairs {
        *per_source
            .entry(full.text(p.source.unwrap()).to_owned())
            .or_default() += 1;
    }
    let expected: usize = drawn.iter().map(|s| per_source[s]).sum();
    assert_eq!(
        sample.pairs.len(),
        expected,
        "all pairs of each drawn input"
    );
    // `--limit 500` keeps the first 500 pairs: the first 5 articles.
    let mut first = full.clone();
    let limit = Selection::FirstPairs { n: 500 }.apply(&mut first).unwrap();
    assert_eq!((first.pairs.len(), first.n_clusters), (500, 5));
    assert_eq!((limit.method.as_str(), limit.seed), ("first_pairs", None));
    assert_ne!(drawn, sources(&first), "a draw, not the first inputs");

    // The table says how the pairs were chosen.
    let (code, table, _) = run(&[
        "score",
        common::SUMMEVAL,
        "--factors",
        "length",
        "--bootstrap",
        "0",
        "--sample",
        "5",
    ]);
    assert_eq!(code, 0);
    assert!(
        table.contains(&format!(
            "pairs: {} of 11342 loaded (658 human ties dropped at load) · inputs: 5 of 100",
            sample.pairs.len()
        )) && table.contains(
            "sample: 5 inputs drawn at random with seed 42, with all their pairs (--sample)"
        ),
        "{table}"
    );
    // Usage errors.
    for bad in [
        &["--sample", "0"][..],
        &["--sample", "5", "--limit", "10"],
        &["--sample", "x"],
    ] {
        let mut a = vec!["score", common::SUMMEVAL];
        a.extend(bad);
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("--sample"), "{err}");
    }
}

/// Six inputs with two pairs each; the responses' sentences are the mock's
/// atomic facts, except two scripted ones.
fn dataset(dir: &std::path::Path) -> String {
    let mut lines = Vec::new();
    for i in 0..6 {
        let first = match i {
            0 => "BROKEN facts here.".to_owned(),
            1 => "REPEATS the sky. The sky is blue. Really.".to_owned(),
            _ => format!("Answer {i}. It has two facts."),
        };
        lines.push(serde_json::json!({"input": format!("Question {i}?"), "response_a": first, "response_b": format!("Short {i}."), "preference": "a"}).to_string());
        lines.push(serde_json::json!({"input": format!("Question {i}?"), "response_a": format!("Short {i}."), "response_b": format!("Other {i}. With two. And three."), "preference": "b"}).to_string());
    }
    let path = dir.join("pairs.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn missing_values_are_counted_apart_and_repeated_facts_once() {
    let mock = Mock::start();
    let replies = serde_json::json!([
        // The facts of one response never parse: its pair is missing for n_facts.
        {"match": "BROKEN facts", "text": "I would rather not list facts."},
        // A weak model lists one fact three times: two distinct facts, as
        // many as the mock finds in the other response ("Short 1." and the
        // block's "TEXT" line).
        {"match": "REPEATS the sky", "json": {"facts": ["The sky is blue.", "the sky is  blue.", "THE SKY IS BLUE.", "It is day."]}},
    ]);
    mock.script(&replies);
    let dir = std::env::temp_dir().join(format!("profile-missing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dataset(&dir);
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
        "length,n_facts",
        "--bootstrap",
        "50",
        "--quiet",
    ];
    let cmd = |head: &[&str], extra: &[&str]| {
        let mut a: Vec<&str> = head.to_vec();
        a.push(file.as_str());
        a.extend(common);
        a.extend(extra);
        run(&a)
    };
    let (code, out, err) = cmd(&["score"], &["--json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let nf = &r["agents"][0]["factor_scores"]["n_facts"];
    // 10 pairs with more facts preferred; the repeated fact ties its pair
    // (1 fact against 1: a factor tie, dropped); the failed extraction makes
    // its pair missing, not dropped.
    assert_eq!(
        (
            &nf["concordant"],
            &nf["discordant"],
            &nf["dropped"],
            &nf["missing"],
            &nf["n_pairs"]
        ),
        (&10.into(), &0.into(), &1.into(), &1.into(), &12.into()),
        "{nf}"
    );
    assert_eq!(r["agents"][0]["factor_scores"]["length"]["missing"], 0);
    assert!(r["llm"]["failed"].as_u64().unwrap() >= 1);
    let (code, table, err) = cmd(&["score"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("dropped  missing"), "{table}");
    assert!(
        table.contains("missing: pairs not compared for a missing value (a factor value whose extraction failed), apart from factor ties (dropped): n_facts 1"),
        "{table}"
    );

    // --limit is recorded as the first pairs.
    let (code, out, err) = cmd(&["score"], &["--limit", "3", "--json"]);
    assert_eq!(code, 0, "{err}");
    let l: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        l["dataset"]["sample"],
        serde_json::json!({"method": "first_pairs", "requested": 3, "inputs_loaded": 6, "pairs_loaded": 12})
    );
    assert_eq!(
        (&l["dataset"]["pairs"], &l["dataset"]["inputs"]),
        (&3.into(), &2.into())
    );

    // --sample for judge, generate and batch export: the pairs of 2 inputs.
    let (code, out, err) = cmd(&["judge"], &["--sample", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["dataset"]["sample"]["requested"], 2);
    assert_eq!(j["dataset"]["sample"]["seed"], 42);
    assert_eq!(
        (&j["dataset"]["inputs"], &j["dataset"]["pairs"]),
        (&2.into(), &4.into())
    );
    assert_eq!(j["agents"][1]["run"]["items_planned"], 4);
    let (code, out, err) = cmd(&["generate"], &["--sample", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let g: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(g["agents"][1]["run"]["items_planned"], 2);
    assert_eq!(g["dataset"]["sample"], j["dataset"]["sample"]);
    let (code, out, err) = cmd(
        &["batch", "export"],
        &[
            "--run",
            "judge",
            "--sample",
            "2",
            "--cache-dir",
            dir.join("empty").to_str().unwrap(),
        ],
    );
    // --bootstrap is not a batch option.
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    let empty = dir.join("empty").to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "batch",
        "export",
        file.as_str(),
        "--provider",
        "openai-compatible",
        "--model",
        "other",
        "--base-url",
        base.as_str(),
        "--cache-dir",
        empty.as_str(),
        "--run",
        "judge",
        "--sample",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().count(),
        8,
        "2 inputs × 2 pairs × 2 orders: {err}"
    );
}
