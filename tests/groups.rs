//! Subgroups (`--group-by FIELD`): each group's factor scores equal scoring
//! that group's pairs alone, built independently of the loader's grouping —
//! LLMBar's four human-preference files merged with a `subset` field against
//! each file loaded by the LLMBar adapter, and SummEval by `summary_id`
//! against PROFILE records written from the raw file for the pairs that
//! involve that summary. Groups of one input are not graded.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use profile::analysis::{group_scores, score_report, DatasetInfo, ScoreConfig};
use profile::data::{load_bytes, Dataset, FormatOptions, SummEvalLabel};
use profile::report::FactorScoreEntry;
use profile::stats::BootstrapConfig;
use std::collections::BTreeMap;

fn cfg(ds: &Dataset) -> ScoreConfig {
    ScoreConfig {
        task: ds.default_task(),
        factors: None,
        bootstrap: BootstrapConfig {
            resamples: 200,
            seed: 11,
        },
    }
}

fn human(ds: &Dataset) -> BTreeMap<String, FactorScoreEntry> {
    let r = score_report(ds, &cfg(ds), &DatasetInfo::default());
    r.agents[0].factor_scores.clone()
}

#[test]
fn llmbar_by_subset_equals_each_file_scored_alone() {
    let mut lines = Vec::new();
    let names = ["Natural", "FairEval", "LLMEval2", "MT-Bench"];
    for ((path, n), name) in common::LLMBAR_FILES.iter().zip(names) {
        let items: Vec<serde_json::Value> = serde_json::from_slice(&common::read(path)).unwrap();
        assert_eq!(items.len(), *n);
        for it in items {
            let pref = if it["label"] == 1 { "a" } else { "b" };
            lines.push(
                serde_json::json!({"subset": name, "input": it["input"], "response_a": it["output_1"], "response_b": it["output_2"], "preference": pref})
                    .to_string(),
            );
        }
    }
    let merged = load_bytes(lines.join("\n").as_bytes(), FormatOptions::default()).unwrap();
    let groups = group_scores(&merged, &cfg(&merged), None, "subset").unwrap();
    assert_eq!((groups.pairs_without, groups.groups_omitted), (0, 0));
    assert_eq!(groups.groups.len(), 4);
    let mut graded = 0;
    for ((path, n), name) in common::LLMBAR_FILES.iter().zip(names) {
        let alone = common::load_default(path);
        let g = groups.groups.iter().find(|g| g.value == name).unwrap();
        assert_eq!(
            (g.pairs, g.inputs),
            (*n as u64, u64::from(alone.n_clusters))
        );
        assert_eq!(g.factor_scores, human(&alone), "{name}");
        for d in g.differences.values() {
            if d.verdict == "higher" || d.verdict == "lower" {
                let [lo, hi] = d.ci95.unwrap();
                assert!(lo > 0.0 || hi < 0.0, "{name}: {d:?}");
                graded += 1;
            }
        }
    }
    eprintln!("LLMBar by subset: {graded} factor × subset differences graded clear");
}

/// PROFILE records for the SummEval pairs (within an article, mean rating,
/// ties within 1e-6 dropped, file order) that involve summary `id`.
fn summeval_pairs_with(id: &str) -> String {
    let text = String::from_utf8(common::read(common::SUMMEVAL)).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mean = |r: &serde_json::Value| {
        let mut sum = 0.0;
        for a in SummEvalLabel::ASPECTS {
            sum += r[a.name()].as_f64().unwrap();
        }
        sum / 4.0
    };
    let mut out = Vec::new();
    let mut articles: Vec<&str> = Vec::new();
    for r in &recs {
        let a = r["article_id"].as_str().unwrap();
        if !articles.contains(&a) {
            articles.push(a);
        }
    }
    for art in articles {
        let group: Vec<&serde_json::Value> =
            recs.iter().filter(|r| r["article_id"] == art).collect();
        for i in 0..group.len() {
            for j in i + 1..group.len() {
                let (x, y) = (group[i], group[j]);
                if x["summary_id"] != id && y["summary_id"] != id {
                    continue;
                }
                let d = mean(x) - mean(y);
                if d.abs() < 1e-6 {
                    continue;
                }
                out.push(
                    serde_json::json!({"source": x["article"], "response_a": x["summary"], "response_b": y["summary"], "preference": if d > 0.0 { "a" } else { "b" }})
                        .to_string(),
                );
            }
        }
    }
    out.join("\n")
}

#[test]
fn summeval_by_summary_equals_its_pairs_scored_alone_and_one_article_is_not_graded() {
    let ds = common::load_default(common::SUMMEVAL);
    let c = cfg(&ds);
    let groups = group_scores(&ds, &c, None, "summary_id").unwrap();
    assert_eq!(groups.groups.len(), 16);
    for id in ["S0", "S7", "S15"] {
        let alone =
            load_bytes(summeval_pairs_with(id).as_bytes(), FormatOptions::default()).unwrap();
        let g = groups.groups.iter().find(|g| g.value == id).unwrap();
        assert_eq!(g.pairs, alone.pairs.len() as u64, "{id}");
        // The same task (summarization) for both.
        let r = score_report(
            &alone,
            &ScoreConfig {
                task: ds.default_task(),
                ..c.clone()
            },
            &DatasetInfo::default(),
        );
        assert_eq!(g.factor_scores, r.agents[0].factor_scores, "{id}");
    }
    // A group per article: one input each, never graded.
    let by_article = group_scores(&ds, &c, None, "article_id").unwrap();
    assert_eq!(by_article.groups.len(), Groups::MAX_SHOWN);
    assert_eq!(by_article.groups_omitted, 100 - Groups::MAX_SHOWN as u64);
    for g in &by_article.groups {
        assert_eq!(g.inputs, 1);
        assert!(g
            .differences
            .values()
            .all(|d| d.verdict == "too few inputs"));
        assert!(g
            .factor_scores
            .values()
            .all(|s| s.few_inputs || s.ci95.is_none()));
    }
    // Fields that are texts, or absent, cannot group.
    assert!(group_scores(&ds, &c, None, "summary")
        .unwrap_err()
        .contains("article_id, summary_id"));
}

use profile::report::Groups;

#[test]
fn the_cli_prints_groups_side_by_side_and_says_when_too_few() {
    let (code, out, err) = common::run_cli(&[
        "score",
        common::SUMMEVAL,
        "--group-by",
        "summary_id",
        "--bootstrap",
        "100",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("by summary_id (16 groups)"), "{out}");
    assert!(out.contains("differ from the rest:"), "{out}");
    let (code, out, err) = common::run_cli(&[
        "score",
        common::SUMMEVAL,
        "--group-by",
        "article_id",
        "--bootstrap",
        "50",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["groups"]["field"], "article_id");
    assert_eq!(r["groups"]["groups_omitted"], 50);
    let (code, out, _) = common::run_cli(&[
        "score",
        common::SUMMEVAL,
        "--group-by",
        "article_id",
        "--bootstrap",
        "50",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("no group's factor score differs clearly"),
        "{out}"
    );
    assert!(
        out.contains("too few inputs to compare with the rest"),
        "{out}"
    );
    let (code, _, err) = common::run_cli(&["score", common::SUMMEVAL, "--group-by", "model"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--group-by: no record has a short string field `model`; fields to group by: article_id, summary_id"),
        "{err}"
    );
    // A huge field name is echoed shortened, and markup-free of control
    // characters.
    let huge = format!("{}\u{1b}[31m", "x".repeat(100_000));
    let (code, _, err) = common::run_cli(&["score", common::SUMMEVAL, "--group-by", &huge]);
    assert_eq!(code, 2);
    let first = err.lines().next().unwrap();
    assert!(
        first.len() < 300,
        "{} bytes: {}",
        first.len(),
        first.chars().take(600).collect::<String>()
    );
    assert!(
        err.contains("`xxxxxxxxxx") && err.contains("…` (100005 characters)"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err}");
}
