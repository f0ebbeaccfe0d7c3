//! The drill-down lists are the factor scores' pairs: on the shared
//! datasets, for every rule factor and for the humans, a judge (seeded
//! verdicts with ties and missing ones) and the generation setting, the rows
//! of each kind equal the score's C, D, T, dropped and missing counts; and
//! the highlighted novel words are the ones the score counts.

use profile::analysis::{agent_scores, LlmValues};
use profile::data::{load_bytes, Dataset, FormatOptions, Preference};
use profile::drill::{self, AgentPrefs, PairKind, Verdict};
use profile::factors::rules::{stem, words, RuleExtractor};
use profile::factors::Factor;
use profile::stats::{BootstrapConfig, Rng, Setting};

fn load(rel: &str) -> Dataset {
    let path = format!("{}/../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    load_bytes(&bytes, FormatOptions::default()).unwrap()
}

const RULE_FACTORS: [Factor; 3] = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];

/// Seeded judge verdicts: A, B, a tie, or none.
fn judge(ds: &Dataset, seed: u64) -> Vec<Option<Preference>> {
    let mut rng = Rng::new(seed);
    (0..ds.pairs.len())
        .map(|_| match rng.sample_indices(10, 1)[0] {
            0 => None,
            1 => Some(Preference::Tie),
            2..=5 => Some(Preference::A),
            _ => Some(Preference::B),
        })
        .collect()
}

fn assert_lists_equal_counts(ds: &Dataset, name: &str) {
    let prefs = judge(ds, 7);
    let agents = [
        ("human", Setting::Human, None),
        ("judge", Setting::Evaluation, Some(prefs.as_slice())),
        ("writer", Setting::Generation, None),
    ];
    let boot = BootstrapConfig {
        resamples: 0,
        ..BootstrapConfig::default()
    };
    for (agent, setting, p) in agents {
        let scores = agent_scores(
            ds,
            &RULE_FACTORS,
            boot,
            &mut RuleExtractor::new(),
            None,
            setting,
            p,
        );
        assert_eq!(scores.len(), RULE_FACTORS.len());
        let mut rules = RuleExtractor::new();
        for (f, entry) in scores {
            let who = AgentPrefs { setting, prefs: p };
            let rows = drill::pairs(ds, f, who, None, &mut rules).unwrap();
            let at = format!("{name} {agent} {}", f.id());
            assert_eq!(rows.len(), ds.pairs.len(), "{at}");
            let c = drill::counts(&rows);
            assert_eq!(
                (c.concordant, c.discordant, c.ties, c.dropped, c.missing),
                (
                    entry.concordant,
                    entry.discordant,
                    entry.ties,
                    entry.dropped,
                    entry.missing
                ),
                "{at}"
            );
            assert!(c.discordant > 0 && c.concordant > 0, "{at}: {c:?}");
            // The kind follows from the row's own values and preference.
            for r in rows.iter().take(500) {
                let (va, vb) = (r.value_a.unwrap(), r.value_b.unwrap());
                let m = profile::stats::compare(va, vb);
                let want = match (r.agent, m) {
                    (Some(p), Some(m)) => PairKind::of(profile::stats::classify(setting, p, m)),
                    _ => PairKind::Missing,
                };
                assert_eq!(r.kind, want, "{at} pair {}", r.pair);
            }
        }
    }
    // The judge's agreement rows: disagreements are the verdicts off the label.
    let rows = drill::agreement(ds, &prefs);
    let dis = rows
        .iter()
        .filter(|r| r.stands == Verdict::Disagrees)
        .count();
    let want = ds
        .pairs
        .iter()
        .zip(&prefs)
        .filter(|(p, v)| v.is_some_and(|v| v != p.preference))
        .count();
    assert_eq!(dis, want, "{name}");
    assert!(dis > 0);
}

#[test]
fn drill_lists_equal_the_counts_on_summeval() {
    assert_lists_equal_counts(&load("summeval/summeval.jsonl"), "summeval");
}

#[test]
fn drill_lists_equal_the_counts_on_llmbar() {
    for rel in [
        "llmbar/LLMBar/Natural/dataset.json",
        "llmbar/LLMBar/Adversarial/Neighbor/dataset.json",
    ] {
        assert_lists_equal_counts(&load(rel), rel);
    }
}

#[test]
fn drill_of_a_model_factor_without_values_says_why() {
    let ds = load("llmbar/LLMBar/Natural/dataset.json");
    let err = drill::pairs(
        &ds,
        Factor::Hallucination,
        AgentPrefs::HUMAN,
        None,
        &mut RuleExtractor::new(),
    )
    .unwrap_err();
    assert!(err.contains("needs a language model"), "{err}");
    // Imported values make it drillable, with the score's counts.
    let mut imported = String::new();
    for (i, (_, text)) in ds.texts.iter().enumerate() {
        let line = serde_json::json!({"text": text, "factors": {"hallucination": (i % 3) as f64}});
        imported.push_str(&line.to_string());
        imported.push('\n');
    }
    let (a, problems) = profile::llm::annotations::Annotations::parse_jsonl(&imported);
    assert!(problems.is_empty(), "{problems:?}");
    let llm = LlmValues {
        imported: a,
        ..Default::default()
    };
    let rows = drill::pairs(
        &ds,
        Factor::Hallucination,
        AgentPrefs::HUMAN,
        Some(&llm),
        &mut RuleExtractor::new(),
    )
    .unwrap();
    let scores = agent_scores(
        &ds,
        &[Factor::Hallucination],
        BootstrapConfig {
            resamples: 0,
            ..BootstrapConfig::default()
        },
        &mut RuleExtractor::new(),
        Some(&llm),
        Setting::Human,
        None,
    );
    let c = drill::counts(&rows);
    assert_eq!(c.concordant, scores[0].1.concordant);
    assert_eq!(c.discordant, scores[0].1.discordant);
    assert_eq!(c.dropped, scores[0].1.dropped);
}

#[test]
fn evidence_highlights_the_novel_words_the_score_counts() {
    let ds = load("summeval/summeval.jsonl");
    let mut rules = RuleExtractor::new();
    for i in [0, 1, 17, 400, ds.pairs.len() - 1] {
        let e = drill::evidence(&ds, i, Factor::NovelWordsCount, None, &mut rules).unwrap();
        for side in [&e.a, &e.b] {
            let mut stems: Vec<String> = side
                .novel
                .iter()
                .map(|[s, t]| stem(&words(&side.text[*s..*t]).concat()))
                .collect();
            stems.sort();
            stems.dedup();
            assert_eq!(stems.len(), side.novel_count, "pair {i}");
            assert_eq!(side.value, Some(side.novel_count as f64), "pair {i}");
        }
        assert!(e.context.is_some());
    }
    assert!(drill::evidence(&ds, ds.pairs.len(), Factor::Length, None, &mut rules).is_none());
}

#[test]
fn worker_pages_equal_the_report_counts_and_never_carry_texts() {
    use profile::protocol::{DrillRequest, FromWorker, ScoreRequest, Session};
    let path = format!(
        "{}/../shared/data/summeval/summeval.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let mut loader = profile::data::Loader::new(FormatOptions::default());
    loader.push(&bytes);
    let mut s = Session::new();
    let score = ScoreRequest {
        factor_pack: None,
        factors: Some(vec![Factor::Length]),
        bootstrap: BootstrapConfig {
            resamples: 0,
            ..BootstrapConfig::default()
        },
        ..ScoreRequest::default()
    };
    let FromWorker::Loaded { report, .. } = s.finish_load(
        "summeval.jsonl".into(),
        loader,
        Default::default(),
        &score,
        || 0.0,
    ) else {
        panic!("not loaded")
    };
    let entry = &report.agents[0].factor_scores["length"];
    let mut page = |agent: &str, filter: &str, offset, count| {
        s.drill_page(DrillRequest {
            factor: Some("length".into()),
            agent: agent.into(),
            filter: filter.into(),
            offset,
            count,
        })
    };
    let FromWorker::DrillPage {
        matching,
        pairs,
        counts,
        rows,
        ..
    } = page("human", "discordant", 5000, 10_000)
    else {
        panic!("no page")
    };
    assert_eq!(matching, entry.discordant);
    assert_eq!(pairs, entry.n_pairs);
    assert_eq!(counts[1], ("discordant".to_owned(), entry.discordant));
    assert_eq!(counts[0], ("concordant".to_owned(), entry.concordant));
    // A page is capped and starts at the offset.
    assert_eq!(rows.len() as u64, entry.discordant - 5000);
    assert!(rows.len() as u64 <= profile::protocol::MAX_DRILL_PAGE);
    assert!(rows.iter().all(|r| r.kind == "discordant"));
    // An agent this session did not run is an error, not an empty list.
    assert!(matches!(
        page("gpt (judge)", "discordant", 0, 10),
        FromWorker::DrillFailed { .. }
    ));
    // The evidence of a listed pair.
    let FromWorker::Evidence { evidence, note, .. } =
        s.evidence(Some("length"), "human", rows[0].pair)
    else {
        panic!("no evidence")
    };
    let e = evidence.unwrap();
    assert_eq!(e.a.value, rows[0].value_a);
    assert!(note.unwrap().contains("not available"));
}

#[test]
fn worker_lists_the_pairs_where_a_judge_followed_the_position() {
    use profile::llm::parse::Better;
    use profile::llm::roles::JudgeOutcome;
    use profile::protocol::{DrillRequest, FromWorker, ScoreRequest, Session};
    // Six pairs of six inputs, labels A, B, A, B, A, B.
    let bytes: String = (0..6)
        .map(|i| {
            let label = if i % 2 == 0 { "a" } else { "b" };
            serde_json::json!({"input": format!("q{i}"), "response_a": format!("a {i}"),
                "response_b": format!("b b {i}"), "preference": label})
            .to_string()
                + "\n"
        })
        .collect();
    let bytes = bytes.into_bytes();
    let mut loader = profile::data::Loader::new(FormatOptions::default());
    loader.push(&bytes);
    let mut s = Session::new();
    let score = ScoreRequest {
        factors: Some(vec![Factor::Length]),
        ..ScoreRequest::default()
    };
    let FromWorker::Loaded { .. } =
        s.finish_load("p.jsonl".into(), loader, Default::default(), &score, || 0.0)
    else {
        panic!("not loaded")
    };
    let data = s.run_dataset(None, 42).unwrap();
    assert_eq!(data.dataset.pairs.len(), 6);
    // Pairs 1 and 4 followed the position (a tie); pair 5 has no verdict.
    let outcome = JudgeOutcome {
        preferences: vec![
            Some(Preference::A),
            Some(Preference::Tie),
            Some(Preference::A),
            Some(Preference::B),
            Some(Preference::Tie),
            None,
        ],
        followed_position: vec![(1, Better::First), (4, Better::Second)],
        ..JudgeOutcome::default()
    };
    let record = profile::report::AgentRun {
        kind: "judge".into(),
        model: "gpt".into(),
        ..Default::default()
    };
    s.add_judge(&data, outcome, record);
    let FromWorker::DrillPage {
        matching,
        counts,
        rows,
        ..
    } = s.drill_page(DrillRequest {
        factor: None,
        agent: "gpt (judge)".into(),
        filter: "followed_position".into(),
        offset: 0,
        count: 10,
    })
    else {
        panic!("no page")
    };
    assert_eq!(matching, 2);
    let pairs: Vec<(u32, Option<&str>)> = rows
        .iter()
        .map(|r| (r.pair, r.position.as_deref()))
        .collect();
    assert_eq!(pairs, [(1, Some("first")), (4, Some("second"))]);
    let count = |k: &str| counts.iter().find(|(n, _)| n == k).map(|c| c.1);
    assert_eq!(count("followed_position"), Some(2));
    assert_eq!(count("disagrees"), Some(2));
    assert_eq!(count("agrees"), Some(3));
    assert_eq!(count("no_verdict"), Some(1));
}

/// A raw reply is shown only when the cache entry under the answer's key
/// still holds that answer, and bounded in size.
#[test]
fn a_raw_reply_is_shown_only_for_the_answer_it_gave_and_bounded() {
    use profile::drill::{raw_reply, ReplyRef, MAX_RAW_REPLY_CHARS};
    use profile::llm::cache::CacheEntry;
    use profile::llm::question::Answer;
    let r = ReplyRef {
        question: "atomic facts of the response".into(),
        key: Some("v2-k".into()),
    };
    let answer = Answer::Facts(vec!["A fact.".into()]);
    let entry = |value: serde_json::Value, reply: String| CacheEntry {
        key: "v2-k".into(),
        template: "atomic_facts@1".into(),
        provider: "mock".into(),
        model: "m".into(),
        decoding: Default::default(),
        reply,
        value,
        input_tokens: 0,
        output_tokens: 0,
    };
    let same = entry(
        serde_json::json!(["A fact."]),
        "{\"facts\": [\"A fact.\"]}".into(),
    );
    let shown = raw_reply(&r, &answer, Some(&same));
    assert_eq!(shown.text.as_deref(), Some("{\"facts\": [\"A fact.\"]}"));
    assert!(!shown.truncated && shown.note.is_none());
    // Another answer under the key: not shown as this value's reply.
    let other = entry(serde_json::json!(["Another fact."]), "x".into());
    let shown = raw_reply(&r, &answer, Some(&other));
    assert!(shown.text.is_none());
    assert!(shown.note.unwrap().contains("no longer holds"));
    assert!(raw_reply(&r, &answer, None)
        .note
        .unwrap()
        .contains("no entry"));
    // A long reply: its first characters, and its size.
    let long = "é".repeat(MAX_RAW_REPLY_CHARS + 10);
    let shown = raw_reply(
        &r,
        &answer,
        Some(&entry(serde_json::json!(["A fact."]), long.clone())),
    );
    assert!(shown.truncated);
    assert_eq!(shown.bytes, long.len() as u64);
    assert_eq!(shown.text.unwrap().chars().count(), MAX_RAW_REPLY_CHARS + 1);
}
