//! Every dataset adapter, checked against an independent reading of the data.
//!
//! * Real files (SummEval, the four LLMBar sets, HH-RLHF harmless-base): the
//!   counts documented in each SOURCE.md, and every pair compared with what
//!   this test derives itself from the raw JSON with `serde_json`.
//! * Fixtures in the public shapes of SHP / SHP-2, WebGPT comparisons, TL;DR
//!   comparisons and TL;DR axis evaluations: detection, pairs, preferences,
//!   ties, input/source assignment and clustering.
//! * PROFILE's canonical schema, the `--format` override, format names and
//!   detection failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use common::*;
use profile::data::{
    load_bytes, Dataset, Format, FormatOptions, LoadError, PkuLabel, Preference, SummEvalLabel,
};
use serde_json::Value;

fn opts_label(label: SummEvalLabel) -> FormatOptions {
    FormatOptions {
        format: None,
        summeval_label: label,
        ..Default::default()
    }
}

fn opts_format(format: Format) -> FormatOptions {
    FormatOptions {
        format: Some(format),
        ..Default::default()
    }
}

fn jsonl_records(bytes: &[u8]) -> Vec<(u64, Value)> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i as u64 + 1, serde_json::from_str(l).unwrap()))
        .collect()
}

// ---------------------------------------------------------------- SummEval

/// The SummEval pairs this test expects for a label, derived from the raw
/// lines: all pairs within an article in file order, the higher rating
/// preferred, |difference| < 1e-6 a tie (SOURCE.md). Returns (pairs, ties).
fn summeval_expected(label: Option<&str>) -> (Vec<PairText>, u64) {
    let aspects = ["coherence", "consistency", "fluency", "relevance"];
    let mut by_article: BTreeMap<String, Vec<(u64, String, String, f64)>> = BTreeMap::new();
    for (line, r) in jsonl_records(&read(SUMMEVAL)) {
        let score = match label {
            None => aspects.iter().map(|a| r[a].as_f64().unwrap()).sum::<f64>() / 4.0,
            Some(a) => r[a].as_f64().unwrap(),
        };
        by_article
            .entry(r["article_id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                line,
                r["summary"].as_str().unwrap().to_owned(),
                r["article"].as_str().unwrap().to_owned(),
                score,
            ));
    }
    let (mut pairs, mut ties) = (Vec::new(), 0);
    for items in by_article.values() {
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                let (x, y) = (&items[i], &items[j]);
                let d = x.3 - y.3;
                if d.abs() < 1e-6 {
                    ties += 1;
                    continue;
                }
                pairs.push(PairText {
                    line: x.0,
                    input: None,
                    source: Some(x.2.clone()),
                    a: x.1.clone(),
                    b: y.1.clone(),
                    sign: if d > 0.0 { 1 } else { -1 },
                });
            }
        }
    }
    pairs.sort();
    (pairs, ties)
}

#[test]
fn summeval_mean_label_counts_and_pairs() {
    let ds = load_default(SUMMEVAL);
    assert_eq!(ds.format, Some(Format::SummEval));
    // SOURCE.md: 1,600 records, 100 articles, 11,342 strict pairs and 658 ties
    // under the mean of the four aspects.
    assert_eq!(ds.stats.records_read, 1600);
    assert_eq!(ds.stats.records_parsed, 1600);
    assert_eq!(ds.stats.records_skipped, 0);
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    assert_eq!(ds.pairs.len(), 11_342);
    assert_eq!(ds.stats.human_ties_dropped, 658);
    assert_eq!(ds.stats.pairs_dropped_other, 0);
    assert_eq!(ds.n_clusters, 100);
    // 1,548 distinct summaries + 100 articles (counted with Python's set()).
    assert_eq!(ds.texts.len(), 1648);

    let (expected, ties) = summeval_expected(None);
    assert_eq!(ties, 658);
    let mut got = pair_texts(&ds);
    got.sort();
    assert!(
        got == expected,
        "SummEval pairs differ from the raw ratings"
    );

    // Every pair of a cluster has the cluster's article as its source.
    for members in clusters(&ds) {
        let src: BTreeSet<_> = members.iter().map(|&i| ds.pairs[i].source).collect();
        assert_eq!(src.len(), 1);
        assert!(members.len() <= 120, "at most C(16,2) pairs per article");
    }
    assert!(ds.pairs.iter().all(|p| p.input.is_none()));
}

#[test]
fn summeval_aspect_labels_match_source_md() {
    // (aspect, strict pairs, ties) from SOURCE.md.
    for (label, pairs, ties) in [
        (SummEvalLabel::Relevance, 10_143, 1_857),
        (SummEvalLabel::Coherence, 10_672, 1_328),
        (SummEvalLabel::Consistency, 3_921, 8_079),
        (SummEvalLabel::Fluency, 5_429, 6_571),
    ] {
        let ds = load(SUMMEVAL, opts_label(label));
        assert_eq!(ds.pairs.len(), pairs, "{label:?} pairs");
        assert_eq!(ds.stats.human_ties_dropped, ties, "{label:?} ties");
        assert_eq!(ds.pairs.len() as u64 + ds.stats.human_ties_dropped, 12_000);
    }
    // One aspect in full: the preferences follow the relevance ratings.
    let ds = load(SUMMEVAL, opts_label(SummEvalLabel::Relevance));
    let (expected, _) = summeval_expected(Some("relevance"));
    let mut got = pair_texts(&ds);
    got.sort();
    assert!(
        got == expected,
        "relevance pairs differ from the raw ratings"
    );
}

#[test]
fn summeval_label_names() {
    assert_eq!(
        SummEvalLabel::from_name("Relevance"),
        Some(SummEvalLabel::Relevance)
    );
    assert_eq!(
        SummEvalLabel::from_name("overall"),
        Some(SummEvalLabel::Mean)
    );
    assert_eq!(SummEvalLabel::from_name("readability"), None);
}

// ------------------------------------------------------------------ LLMBar

#[test]
fn llmbar_pairs_follow_the_labels() {
    for (path, n_items) in LLMBAR_FILES {
        let items: Vec<Value> = serde_json::from_slice(&read(path)).unwrap();
        assert_eq!(items.len(), n_items, "{path}: SOURCE.md item count");
        let ds = load_default(path);
        assert_eq!(ds.format, Some(Format::LlmBar), "{path}");
        assert_eq!(ds.pairs.len(), n_items, "{path}: one pair per item");
        assert_eq!(ds.stats.records_read, n_items as u64);
        assert_eq!(ds.stats.records_parsed, n_items as u64);
        assert_eq!(ds.stats.human_ties_dropped, 0, "{path}: no ties");
        assert!(ds.diagnostics.is_empty(), "{path}: {:?}", ds.diagnostics);
        // Clusters are the distinct instructions (MT-Bench repeats questions).
        let inputs: BTreeSet<&str> = items.iter().map(|x| x["input"].as_str().unwrap()).collect();
        assert_eq!(ds.n_clusters as usize, inputs.len(), "{path}: clusters");

        let got = pair_texts(&ds);
        for (i, (item, p)) in items.iter().zip(&got).enumerate() {
            let label = item["label"].as_i64().unwrap();
            assert!(label == 1 || label == 2, "{path}[{i}]: label {label}");
            assert_eq!(p.input.as_deref(), item["input"].as_str(), "{path}[{i}]");
            assert_eq!(p.source, None);
            assert_eq!(Some(p.a.as_str()), item["output_1"].as_str(), "{path}[{i}]");
            assert_eq!(Some(p.b.as_str()), item["output_2"].as_str(), "{path}[{i}]");
            // Preference A iff label 1.
            assert_eq!(p.sign == 1, label == 1, "{path}[{i}]: label {label}");
        }
        // Element lines increase; the first element starts on line 2 ("[" is line 1).
        assert_eq!(got[0].line, 2, "{path}");
        assert!(got.windows(2).all(|w| w[0].line < w[1].line), "{path}");
        // Pairs of one instruction share a cluster and no others do.
        let mut cluster_of: BTreeMap<&str, u32> = BTreeMap::new();
        for (item, p) in items.iter().zip(&ds.pairs) {
            let c = *cluster_of
                .entry(item["input"].as_str().unwrap())
                .or_insert(p.cluster);
            assert_eq!(c, p.cluster, "{path}: same instruction, other cluster");
        }
    }
}

#[test]
fn llmbar_natural_first_items_by_hand() {
    // Read with Python: Natural labels begin 1, 1, 1, 1, 2. (SOURCE.md's example
    // says Natural[0] has label 2; the file says 1, and the file is what counts.)
    let items: Vec<Value> = serde_json::from_slice(&read(LLMBAR_NATURAL)).unwrap();
    let ds = load_default(LLMBAR_NATURAL);
    assert_eq!(items[0]["label"], 1);
    assert_eq!(ds.pairs[0].preference, Preference::A);
    assert!(ds
        .text(ds.pairs[0].input.unwrap())
        .starts_with("Summarize the following content.\n\nMy girlfriend is Malaysian"));
    assert_eq!(items[4]["label"], 2);
    assert_eq!(ds.pairs[4].preference, Preference::B);
    assert_eq!(
        ds.text(ds.pairs[4].b),
        items[4]["output_2"].as_str().unwrap()
    );
}

// ----------------------------------------------------------------- HH-RLHF

fn gunzip(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&read(path)[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn hh_rlhf_gz_splits_at_the_last_assistant_turn() {
    const ASSISTANT: &str = "\n\nAssistant:";
    let ds = load_default(HH_GZ);
    assert_eq!(ds.format, Some(Format::HhRlhf));
    assert_eq!(ds.stats.records_read, 2312);
    assert_eq!(ds.stats.records_parsed, 2312);
    assert_eq!(ds.stats.records_skipped, 0);
    assert_eq!(ds.pairs.len(), 2307);
    assert_eq!(ds.stats.pairs_dropped_other, 5);
    assert!(ds.stats.pairs_dropped_reason.is_some());
    assert_eq!(ds.stats.human_ties_dropped, 0);
    assert_eq!(ds.stats.bytes_read, read(HH_GZ).len() as u64);
    assert!(ds.pairs.iter().all(|p| p.preference == Preference::A));

    // The same split, done here on the decompressed text.
    let mut expected = Vec::new();
    let mut dropped = Vec::new();
    for (line, r) in jsonl_records(&gunzip(HH_GZ)) {
        let (c, rj) = (
            r["chosen"].as_str().unwrap(),
            r["rejected"].as_str().unwrap(),
        );
        let (ic, ir) = (c.rfind(ASSISTANT).unwrap(), rj.rfind(ASSISTANT).unwrap());
        if c[..ic] != rj[..ir] {
            dropped.push(line);
            continue;
        }
        expected.push(PairText {
            line,
            input: Some(c[..ic].trim().to_owned()),
            source: None,
            a: c[ic + ASSISTANT.len()..].trim().to_owned(),
            b: rj[ir + ASSISTANT.len()..].trim().to_owned(),
            sign: 1,
        });
    }
    assert_eq!(dropped.len(), 5);
    let got = pair_texts(&ds);
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g, e, "line {}", e.line);
    }
    assert!(ds.pairs.iter().all(|p| !dropped.contains(&p.line)));
    // The first transcript (SOURCE.md): the prompt ends with the human's "yep".
    assert!(got[0]
        .input
        .as_deref()
        .unwrap()
        .starts_with("Human: what are some pranks with a pen i can do?"));
    // Clusters are the distinct prompts.
    let prompts: BTreeSet<_> = expected.iter().map(|p| p.input.clone()).collect();
    assert_eq!(ds.n_clusters as usize, prompts.len());
}

#[test]
fn hh_rlhf_decompressed_in_memory_loads_identically() {
    let gz = load_default(HH_GZ);
    let plain_bytes = gunzip(HH_GZ);
    let plain = load_bytes(&plain_bytes, FormatOptions::default()).unwrap();
    assert_eq!(plain.stats.bytes_read, plain_bytes.len() as u64);
    // Everything but the byte count (compressed vs plain) is the same.
    let mut gz_stats = gz.stats.clone();
    gz_stats.bytes_read = plain.stats.bytes_read;
    assert_eq!(gz_stats, plain.stats);
    assert_eq!(gz.format, plain.format);
    assert_eq!(gz.pairs, plain.pairs);
    assert_eq!(gz.n_clusters, plain.n_clusters);
    assert_eq!(gz.diagnostics, plain.diagnostics);
    assert!(texts(&gz) == texts(&plain));
}

// --------------------------------------------------------------- SHP/SHP-2

fn check_shp(path: &str) -> Dataset {
    let records = jsonl_records(&read(path));
    let ds = load_default(path);
    assert_eq!(ds.format, Some(Format::Shp), "{path}");
    assert_record_invariant(&ds, path);
    assert!(ds.diagnostics.is_empty(), "{path}: {:?}", ds.diagnostics);
    assert_eq!(ds.pairs.len(), records.len(), "{path}");
    assert_eq!(ds.stats.human_ties_dropped, 0);
    let got = pair_texts(&ds);
    for ((line, r), p) in records.iter().zip(&got) {
        assert_eq!(p.line, *line);
        assert_eq!(p.input.as_deref(), r["history"].as_str());
        assert_eq!(p.source, None);
        assert_eq!(Some(p.a.as_str()), r["human_ref_A"].as_str());
        assert_eq!(Some(p.b.as_str()), r["human_ref_B"].as_str());
        // labels: 1 = A preferred, 0 = B preferred.
        let want = if r["labels"] == 1 { 1 } else { -1 };
        assert_eq!(p.sign, want, "{path} line {line}");
        // In SHP the preferred comment has the higher score.
        let (sa, sb) = (
            r["score_A"].as_i64().unwrap(),
            r["score_B"].as_i64().unwrap(),
        );
        assert_eq!(p.sign == 1, sa > sb);
    }
    // Pairs of one post share a cluster; different posts do not.
    let posts: Vec<&str> = records
        .iter()
        .map(|(_, r)| r["post_id"].as_str().unwrap())
        .collect();
    for i in 0..posts.len() {
        for j in 0..posts.len() {
            assert_eq!(
                posts[i] == posts[j],
                ds.pairs[i].cluster == ds.pairs[j].cluster,
                "{path}: records {i} and {j}"
            );
        }
    }
    ds
}

#[test]
fn shp_fixture() {
    let ds = check_shp(&fixture("shp.jsonl"));
    // Posts p1 (3 pairs), p2 (2), p3 (1).
    assert_eq!(ds.n_clusters, 3);
    let signs: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    assert_eq!(signs, [1, -1, 1, -1, 1, -1]);
    assert_eq!(Format::Shp.default_task(), profile::factors::Task::Helpful);
}

#[test]
fn shp2_fixture() {
    let ds = check_shp(&fixture("shp2.jsonl"));
    assert_eq!(ds.n_clusters, 3);
    let signs: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    assert_eq!(signs, [1, -1, 1, -1]);
}

// ------------------------------------------------------------------ WebGPT

#[test]
fn webgpt_fixture() {
    let ds = load_default(&fixture("webgpt.jsonl"));
    assert_eq!(ds.format, Some(Format::WebGpt));
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    assert_eq!(ds.stats.records_read, 6);
    assert_eq!(ds.stats.records_parsed, 6);
    // Record 3 has equal scores (0.0 vs 0.0): a human tie, dropped and counted.
    assert_eq!(ds.stats.human_ties_dropped, 1);
    assert_eq!(ds.pairs.len(), 5);
    let got = pair_texts(&ds);
    let lines: Vec<u64> = got.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 2, 4, 5, 6]);
    // score_0 > score_1 → A.
    let signs: Vec<i8> = got.iter().map(|p| p.sign).collect();
    assert_eq!(signs, [1, -1, 1, -1, 1]);
    assert_eq!(got[0].input.as_deref(), Some("Why do cats purr?"));
    assert_eq!(got[0].a, "Cats purr by vibrating their laryngeal muscles.");
    assert_eq!(got[0].b, "Nobody knows.");

    // The source is both answers' quote extracts.
    let records = jsonl_records(&read(&fixture("webgpt.jsonl")));
    for p in &got {
        let r = &records.iter().find(|(l, _)| *l == p.line).unwrap().1;
        let extracts: Vec<&str> = ["quotes_0", "quotes_1"]
            .iter()
            .flat_map(|q| r[q]["extract"].as_array().unwrap())
            .map(|x| x.as_str().unwrap())
            .collect();
        match &p.source {
            None => assert!(extracts.is_empty(), "line {}: no source", p.line),
            Some(src) => {
                assert!(!extracts.is_empty());
                for x in extracts {
                    assert!(src.contains(x), "line {}: source lacks {x:?}", p.line);
                }
            }
        }
    }
    // Line 6 has no quotes: no source, so novel words fall back to the question.
    assert_eq!(got[4].source, None);
    assert_eq!(
        ds.pairs[4].context(),
        ds.pairs[4].input,
        "context falls back to the input"
    );
    // Line 4 has a quote only for answer 0; it is still the pair's source.
    assert!(got[2]
        .source
        .as_deref()
        .unwrap()
        .contains("resembles a disease-causing microorganism"));

    // Clusters: q1 (2 strict pairs), q2 (2), q3 (1).
    assert_eq!(ds.n_clusters, 3);
    let c: Vec<u32> = ds.pairs.iter().map(|p| p.cluster).collect();
    assert_eq!(c[0], c[1], "pairs of q1 share a cluster");
    assert_eq!(c[2], c[3], "pairs of q2 share a cluster");
    assert!(c[0] != c[2] && c[2] != c[4] && c[0] != c[4]);
    assert_eq!(Format::WebGpt.default_task(), profile::factors::Task::DocQa);
}

// ------------------------------------------------------------------- TL;DR

#[test]
fn tldr_comparisons_fixture() {
    let path = fixture("tldr_comparisons.jsonl");
    let records = jsonl_records(&read(&path));
    let ds = load_default(&path);
    assert_eq!(ds.format, Some(Format::TldrComparisons));
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    assert_eq!(ds.pairs.len(), 6);
    assert_eq!(ds.stats.human_ties_dropped, 0);
    for ((line, r), p) in records.iter().zip(pair_texts(&ds)) {
        assert_eq!(p.line, *line);
        // Source = the post, input = the title.
        assert_eq!(p.source.as_deref(), r["info"]["post"].as_str());
        assert_eq!(p.input.as_deref(), r["info"]["title"].as_str());
        assert_eq!(Some(p.a.as_str()), r["summaries"][0]["text"].as_str());
        assert_eq!(Some(p.b.as_str()), r["summaries"][1]["text"].as_str());
        // choice 0 = the first summary preferred.
        assert_eq!(p.sign == 1, r["choice"] == 0, "line {line}");
    }
    let signs: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    assert_eq!(signs, [1, -1, -1, 1, -1, 1]);
    // Posts t3_a1 (3 comparisons), t3_b2 (2), t3_c3 (1).
    assert_eq!(ds.n_clusters, 3);
    let c: Vec<u32> = ds.pairs.iter().map(|p| p.cluster).collect();
    assert!(c[0] == c[1] && c[1] == c[2]);
    assert!(c[3] == c[4] && c[3] != c[0] && c[5] != c[0] && c[5] != c[3]);
}

#[test]
fn tldr_axis_fixture() {
    let path = fixture("tldr_axis.jsonl");
    let ds = load_default(&path);
    assert_eq!(ds.format, Some(Format::TldrAxis));
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    assert_eq!(ds.stats.records_read, 7);
    assert_eq!(ds.stats.records_parsed, 7);
    // Post t3_x: lines 1 (overall 7), 2 (2), 4 (5), 5 (5) → C(4,2) = 6 pairs,
    // one of them (4, 5) a tie. Post t3_y: lines 3 (3), 6 (6) → 1 pair, B.
    // Post t3_z: one summary, no pair.
    assert_eq!(ds.stats.human_ties_dropped, 1);
    assert_eq!(ds.pairs.len(), 6);
    assert_eq!(ds.n_clusters, 2);
    let records = jsonl_records(&read(&path));
    let text_of = |line: u64| {
        records[line as usize - 1].1["summary"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut got: Vec<(String, String, i8)> = pair_texts(&ds)
        .into_iter()
        .map(|p| (p.a, p.b, p.sign))
        .collect();
    got.sort();
    let mut want = vec![
        (text_of(1), text_of(2), 1),
        (text_of(1), text_of(4), 1),
        (text_of(1), text_of(5), 1),
        (text_of(2), text_of(4), -1),
        (text_of(2), text_of(5), -1),
        (text_of(3), text_of(6), -1),
    ];
    want.sort();
    assert_eq!(got, want);
    // Source = the post, input = the title; one cluster per post.
    for p in pair_texts(&ds) {
        let r = &records[p.line as usize - 1].1;
        assert_eq!(p.source.as_deref(), r["info"]["post"].as_str());
        assert_eq!(p.input.as_deref(), r["info"]["title"].as_str());
    }
    let by_source: BTreeSet<(u32, Option<profile::data::TextId>)> =
        ds.pairs.iter().map(|p| (p.cluster, p.source)).collect();
    assert_eq!(by_source.len(), 2);
}

// --------------------------------------------------------- canonical schema

#[test]
fn profile_schema_fixture() {
    let ds = load_default(&fixture("profile.jsonl"));
    assert_eq!(ds.format, Some(Format::Profile));
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    assert_eq!(ds.stats.records_read, 10);
    assert_eq!(ds.stats.records_parsed, 10);
    // Lines 7 ("tie") and 8 (0) are human ties.
    assert_eq!(ds.stats.human_ties_dropped, 2);
    let got = pair_texts(&ds);
    let lines: Vec<u64> = got.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 9, 10]);
    // "a", 1, "b", -1, "a", "B", "A", -1.
    let signs: Vec<i8> = got.iter().map(|p| p.sign).collect();
    assert_eq!(signs, [1, 1, -1, -1, 1, -1, 1, -1]);
    assert_eq!(got[0].input.as_deref(), Some("q1"));
    assert_eq!(got[0].source.as_deref(), Some("s1"));
    assert_eq!(got[3].source, None);
    assert_eq!(got[4].input, None);
    assert_eq!(got[7].input, None);
    assert_eq!(got[7].source.as_deref(), Some("s1"));

    // Clusters: (q1, s1) = lines 1, 2, 9; (q1, s2) = 3; (q1, –) = 4; lines 5
    // and 6 have neither, so each is its own cluster even with equal texts;
    // (–, s1) = 10.
    let c: Vec<u32> = ds.pairs.iter().map(|p| p.cluster).collect();
    assert_eq!(ds.n_clusters, 6);
    assert!(c[0] == c[1] && c[1] == c[6]);
    let distinct: BTreeSet<u32> = [c[0], c[2], c[3], c[4], c[5], c[7]].into_iter().collect();
    assert_eq!(distinct.len(), 6);
    // Identical texts are stored once (lines 5 and 6 share "kappa"/"lambda").
    assert_eq!(ds.pairs[4].a, ds.pairs[5].a);
}

#[test]
fn profile_schema_rejects_bad_preferences() {
    for (pref, ok) in [
        ("\"a\"", true),
        ("\"TIE\"", true),
        ("\"1\"", true),
        ("\"-1\"", true),
        ("1.0", true),
        ("2", false),
        ("0.5", false),
        ("true", false),
        ("[1]", false),
        ("null", false),
    ] {
        let line = format!(r#"{{"response_a": "x", "response_b": "y", "preference": {pref}}}"#);
        let ds = load_bytes(line.as_bytes(), FormatOptions::default()).unwrap();
        assert_eq!(ds.stats.records_parsed == 1, ok, "preference {pref}");
        if !ok {
            assert_eq!(ds.diagnostics.len(), 1);
            assert_eq!(ds.diagnostics[0].field.as_deref(), Some("preference"));
        }
    }
}

// ------------------------------------------------- format override, failure

#[test]
fn format_override() {
    // A record with both the canonical and the HH-RLHF fields is detected as
    // canonical; --format hh-rlhf reads it as a transcript pair instead.
    let rec = br#"{"response_a": "left", "response_b": "right", "preference": "b", "chosen": "\n\nHuman: hi\n\nAssistant: hello there", "rejected": "\n\nHuman: hi\n\nAssistant: go away"}"#;
    let ds = load_bytes(rec, FormatOptions::default()).unwrap();
    assert_eq!(ds.format, Some(Format::Profile));
    assert_eq!(ds.text(ds.pairs[0].a), "left");
    assert_eq!(ds.pairs[0].preference, Preference::B);
    let ds = load_bytes(rec, opts_format(Format::HhRlhf)).unwrap();
    assert_eq!(ds.format, Some(Format::HhRlhf));
    assert_eq!(ds.text(ds.pairs[0].a), "hello there");
    assert_eq!(ds.text(ds.pairs[0].b), "go away");
    assert_eq!(ds.text(ds.pairs[0].input.unwrap()), "Human: hi");
    assert_eq!(ds.pairs[0].preference, Preference::A);

    // Forcing the wrong format skips every record with a located diagnostic;
    // it is not a detection failure.
    let ds = load(LLMBAR_NATURAL, opts_format(Format::Profile));
    assert_eq!(ds.format, Some(Format::Profile));
    assert!(ds.pairs.is_empty());
    assert_eq!(ds.stats.records_read, 100);
    assert_eq!(ds.stats.records_skipped, 100);
    assert_eq!(ds.diagnostics.len(), 100);
    assert!(ds
        .diagnostics
        .iter()
        .all(|d| d.field.as_deref() == Some("response_a")));
    assert_eq!(ds.diagnostics[0].line, 2);
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(Format::from_name(f.name()), Some(f));
        assert_eq!(Format::from_name(&f.name().to_uppercase()), Some(f));
        assert!(!f.description().is_empty());
    }
    assert_eq!(Format::from_name("shp-2"), Some(Format::Shp));
    assert_eq!(Format::from_name("tldr_axis"), Some(Format::TldrAxis));
    assert_eq!(Format::from_name("hh"), Some(Format::HhRlhf));
    assert_eq!(Format::from_name("csv"), None);
}

#[test]
fn detection_failure_lists_the_fields() {
    let bytes = b"{\"prompt\": \"p\", \"completion\": \"c\", \"score\": 3}\nnot json\n{\"x\": 1}\n";
    let err = load_bytes(bytes, FormatOptions::default()).unwrap_err();
    match &err {
        LoadError::UnknownFormat {
            first_fields,
            diagnostics,
        } => {
            let fields: BTreeSet<&str> = first_fields
                .as_ref()
                .expect("first fields")
                .iter()
                .map(String::as_str)
                .collect();
            assert_eq!(fields, BTreeSet::from(["completion", "prompt", "score"]));
            // The invalid line 2 is reported for context.
            assert!(diagnostics.iter().any(|d| d.line == 2), "{diagnostics:?}");
        }
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
    let msg = err.to_string();
    for f in Format::ALL {
        assert!(msg.contains(f.name()), "message lacks {}: {msg}", f.name());
    }
    assert!(msg.contains("prompt"));

    // No JSON object at all.
    match load_bytes(b"[1, 2]\n", FormatOptions::default()) {
        Err(LoadError::UnknownFormat { first_fields, .. }) => assert_eq!(first_fields, None),
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

#[test]
fn empty_input_is_an_empty_dataset() {
    for bytes in [&b""[..], b"\n\n  \r\n", b"[]", b"[\n]\n"] {
        let ds = load_bytes(bytes, FormatOptions::default()).unwrap();
        assert!(ds.pairs.is_empty());
        assert_eq!(ds.stats.records_read, 0, "{bytes:?}");
        assert_eq!(ds.n_clusters, 0);
    }
}

// ------------------------------------------- preference datasets (issue 15)
//
// Fixtures written from the documented schemas of Chatbot Arena
// conversations, UltraFeedback binarized, PKU-SafeRLHF, HelpSteer2
// preference and MultiPref (every field as distributed).

fn group_values(ds: &Dataset, field: &str) -> Vec<Option<String>> {
    let f = ds.fields.field(field).unwrap();
    ds.pairs
        .iter()
        .map(|p| f.get(p.rows[0]).map(str::to_owned))
        .collect()
}

#[test]
fn arena_fixture_two_tie_kinds_and_multi_turn() {
    let ds = load_default(&fixture("arena.jsonl"));
    assert_eq!(ds.format, Some(Format::Arena));
    assert_record_invariant(&ds, "arena");
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    // q3 `tie` and q4 `tie (bothbad)` are both human ties.
    assert_eq!(ds.stats.human_ties_dropped, 2);
    let p = pair_texts(&ds);
    assert_eq!(p.len(), 3);
    assert_eq!(
        p[0].input.as_deref(),
        Some("What is the capital of France?")
    );
    assert_eq!((p[0].a.as_str(), p[0].sign), ("Paris.", -1));
    // Two turns: the user turns are the prompt, the assistant turns the responses.
    assert_eq!(p[1].input.as_deref(), Some("Hola\n\nCuéntame un chiste"));
    assert_eq!(
        p[1].b, "Hola.\n\nNo sé chistes.",
        "responses are the assistant turns joined"
    );
    assert_eq!(p[1].sign, 1);
    assert_eq!(p[2].sign, 1);
    assert_eq!(
        group_values(&ds, "model_a"),
        [Some("chatglm-6b"), Some("vicuna-13b"), Some("vicuna-13b")].map(|s| s.map(str::to_owned))
    );
    assert_eq!(group_values(&ds, "language")[1].as_deref(), Some("Spanish"));
    assert!(
        ds.fields.field("winner").is_err(),
        "the label is not a group"
    );
    assert!(ds.fields.names().contains(&"model_b"));
}

#[test]
fn arena_bad_winner_and_differing_user_turns_are_located() {
    let rec = |winner: &str, user_b: &str| {
        serde_json::json!({"model_a": "x", "model_b": "y", "winner": winner,
            "conversation_a": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a1"}],
            "conversation_b": [{"role": "user", "content": user_b}, {"role": "assistant", "content": "a2"}]})
        .to_string()
    };
    let text = format!(
        "{}\n{}\n{}\n",
        rec("model_a", "q"),
        rec("model_c", "q"),
        rec("model_b", "other")
    );
    let ds = load_bytes(text.as_bytes(), FormatOptions::default()).unwrap();
    assert_record_invariant(&ds, "arena bad");
    assert_eq!(ds.pairs.len(), 1);
    assert_eq!(ds.diagnostics.len(), 1);
    assert_eq!(ds.diagnostics[0].line, 2);
    assert_eq!(ds.diagnostics[0].field.as_deref(), Some("winner"));
    assert_eq!(ds.stats.pairs_dropped_other, 1);
}

#[test]
fn ultrafeedback_message_lists_prompt_from_shared_turns() {
    let ds = load_default(&fixture("ultrafeedback.jsonl"));
    assert_eq!(ds.format, Some(Format::Messages));
    assert_record_invariant(&ds, "ultrafeedback");
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    let p = pair_texts(&ds);
    assert_eq!(p.len(), 4);
    assert!(p.iter().all(|p| p.sign == 1), "chosen is response A");
    assert_eq!(p[0].input.as_deref(), Some("How do I boil an egg?"));
    assert_eq!(p[1].a, "Katze");
    assert_eq!(p[1].b, "Hund");
    // Several shared turns are the prompt as a labelled transcript.
    assert_eq!(
        p[3].input.as_deref(),
        Some("System: You are a storyteller.\n\nUser: Once upon a time\n\nAssistant: there was a king.\n\nUser: Continue the story")
    );
    assert_eq!(p[3].b, "The end.");
    assert!(ds.fields.names().contains(&"prompt_id"));
    assert!(ds.fields.field("prompt").is_err());
}

#[test]
fn message_lists_last_turn_must_be_the_assistant() {
    let text = r#"{"chosen": [{"role": "user", "content": "q"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 3}], "rejected": []}
"#;
    let ds = load_bytes(text.as_bytes(), FormatOptions::default()).unwrap();
    assert_eq!(ds.format, Some(Format::Messages));
    assert_record_invariant(&ds, "messages bad");
    let d: Vec<(u64, Option<&str>)> = ds
        .diagnostics
        .iter()
        .map(|d| (d.line, d.field.as_deref()))
        .collect();
    assert_eq!(d, [(1, Some("chosen")), (2, Some("chosen[1].content"))]);
}

#[test]
fn pku_saferlhf_better_and_safer_labels() {
    let better = load_default(&fixture("pku_saferlhf.jsonl"));
    assert_eq!(better.format, Some(Format::PkuSafeRlhf));
    assert_record_invariant(&better, "pku");
    let signs = |ds: &Dataset| {
        ds.pairs
            .iter()
            .map(|p| p.preference.sign())
            .collect::<Vec<_>>()
    };
    assert_eq!(signs(&better), [-1, 1, -1]);
    let safer = load(
        &fixture("pku_saferlhf.jsonl"),
        FormatOptions {
            pku_label: PkuLabel::Safer,
            ..Default::default()
        },
    );
    assert_eq!(signs(&safer), [1, 1, 1]);
    assert_eq!(
        pair_texts(&safer)[0].input.as_deref(),
        Some("How can I pick a lock?")
    );
    assert_eq!(
        group_values(&better, "response_1_source")[0].as_deref(),
        Some("Alpaca-13B")
    );
    assert_eq!(PkuLabel::from_name("safer"), Some(PkuLabel::Safer));
    assert_eq!(PkuLabel::from_name("Better"), Some(PkuLabel::Better));
    assert_eq!(PkuLabel::from_name("mean"), None);
}

#[test]
fn helpsteer2_preference_strength_sign() {
    let ds = load_default(&fixture("helpsteer2.jsonl"));
    assert_eq!(ds.format, Some(Format::HelpSteer2));
    assert_record_invariant(&ds, "helpsteer2");
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    // -2, -3: response 1 better (A); 3, 1: response 2 (B); 0 a tie.
    let signs: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    assert_eq!(signs, [1, 1, -1, -1]);
    assert_eq!(ds.stats.human_ties_dropped, 1);
    let p = pair_texts(&ds);
    assert_eq!(p[2].a, "2");
    assert_eq!(p[2].b, "2.5");
    assert_eq!(ds.fields.names(), ["split"]);
}

#[test]
fn multipref_votes_of_all_annotators() {
    let ds = load_default(&fixture("multipref.jsonl"));
    assert_eq!(ds.format, Some(Format::MultiPref));
    assert_record_invariant(&ds, "multipref");
    assert!(ds.diagnostics.is_empty(), "{:?}", ds.diagnostics);
    // c1: 3 A, 1 tie → A; c2: 3 B, 1 A → B; c3: 1 A, 1 B, 2 ties → tie; c4: B.
    let signs: Vec<i8> = ds.pairs.iter().map(|p| p.preference.sign()).collect();
    assert_eq!(signs, [1, -1, -1]);
    assert_eq!(ds.stats.human_ties_dropped, 1);
    // c1 and c4 share prompt p1: one cluster.
    assert_eq!(ds.n_clusters, 2);
    assert_eq!(
        group_values(&ds, "model_b"),
        [Some("tulu-2-70b"), Some("gpt-4-turbo"), Some("gpt-4-turbo")]
            .map(|s| s.map(str::to_owned))
    );
    assert_eq!(group_values(&ds, "category")[0].as_deref(), Some("Coding"));
    assert!(ds.fields.names().contains(&"source"));
}

/// Every fixture is detected as its own format, from its first record alone.
#[test]
fn every_fixture_is_detected_as_its_own_format() {
    let cases = [
        ("profile.jsonl", Format::Profile),
        ("shp.jsonl", Format::Shp),
        ("shp2.jsonl", Format::Shp),
        ("webgpt.jsonl", Format::WebGpt),
        ("tldr_comparisons.jsonl", Format::TldrComparisons),
        ("tldr_axis.jsonl", Format::TldrAxis),
        ("arena.jsonl", Format::Arena),
        ("ultrafeedback.jsonl", Format::Messages),
        ("pku_saferlhf.jsonl", Format::PkuSafeRlhf),
        ("helpsteer2.jsonl", Format::HelpSteer2),
        ("multipref.jsonl", Format::MultiPref),
    ];
    for (name, format) in cases {
        let bytes = read(&fixture(name));
        for line in std::str::from_utf8(&bytes).unwrap().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            assert_eq!(Format::detect(&obj), Some(format), "{name}: {line}");
        }
        assert_eq!(load_default(&fixture(name)).format, Some(format), "{name}");
    }
    let hh = gunzip(HH_GZ);
    let first = std::str::from_utf8(&hh).unwrap().lines().next().unwrap();
    let obj: serde_json::Map<String, Value> = serde_json::from_str(first).unwrap();
    assert_eq!(Format::detect(&obj), Some(Format::HhRlhf));
    assert_eq!(load_default(SUMMEVAL).format, Some(Format::SummEval));
    for (path, _) in LLMBAR_FILES {
        assert_eq!(load_default(path).format, Some(Format::LlmBar));
    }
}

#[test]
fn pku_label_flag_in_the_cli_and_where_it_does_not_apply() {
    let file = fixture("pku_saferlhf.jsonl");
    let report = |args: &[&str]| {
        let mut all = vec!["score", file.as_str(), "--factors", "length", "--json"];
        all.extend_from_slice(args);
        let (rc, out, err) = run_cli(&all);
        assert_eq!(rc, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    assert_eq!(report(&[])["dataset"]["label"], "better");
    assert_eq!(report(&["--label", "safer"])["dataset"]["label"], "safer");
    let (rc, _, err) = run_cli(&["score", &file, "--label", "coherence"]);
    assert_eq!(rc, 2);
    assert!(
        err.contains("does not apply") && err.contains("pku-saferlhf"),
        "{err}"
    );
    let (rc, _, err) = run_cli(&["score", &fixture("arena.jsonl"), "--label", "safer"]);
    assert_eq!(rc, 2, "{err}");
}
