//! Factor scores computed by hand (METHOD.md §2) and the cluster bootstrap.
//!
//! * Human setting, end to end (JSONL → `score_report`): C, D, T and dropped
//!   worked out in comments for `length`, `novel_words` and
//!   `novel_words_count`; factor ties are dropped, human ties never reach the
//!   score.
//! * Evaluation, generation and improvement settings through
//!   `stats::{classify, ClusterTable, Setting}`: judge ties count in T for
//!   evaluation; factor ties count in T for generation and improvement.
//! * Bootstrap: the same seed gives bit-identical intervals, another seed
//!   different ones; a dataset whose clusters all have the same outcome mix
//!   gives an interval equal to the score; the interval contains the score on
//!   SummEval; resampling is by cluster, not by pair.

mod common;

use common::*;
use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
use profile::data::{load_bytes, FormatOptions};
use profile::factors::{Factor, Task};
use profile::report::{FactorScoreEntry, Report};
use profile::stats::{classify, compare, BootstrapConfig, ClusterTable, Counts, Outcome, Setting};

/// Scores a canonical JSONL text for the human agent.
fn report_for(jsonl: &str, factors: &[Factor], bootstrap: BootstrapConfig) -> Report {
    let ds = load_bytes(jsonl.as_bytes(), FormatOptions::default()).unwrap();
    let cfg = ScoreConfig {
        task: Task::Helpful,
        factors: Some(factors.to_vec()),
        bootstrap,
    };
    score_report(&ds, &cfg, &DatasetInfo::default())
}

fn entry<'a>(r: &'a Report, f: &str) -> &'a FactorScoreEntry {
    &r.agent("human").unwrap().factor_scores[f]
}

fn counts(e: &FactorScoreEntry) -> (u64, u64, u64, u64) {
    (e.concordant, e.discordant, e.ties, e.dropped)
}

fn assert_close(a: Option<f64>, b: f64) {
    let a = a.expect("a score");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

const NO_BOOTSTRAP: BootstrapConfig = BootstrapConfig {
    resamples: 0,
    seed: 0,
};

#[test]
fn human_length_by_hand() {
    let jsonl = r#"
{"input": "q1", "response_a": "one two three", "response_b": "one", "preference": "a"}
{"input": "q1", "response_a": "x y", "response_b": "x y z w", "preference": "b"}
{"input": "q2", "response_a": "long long long long", "response_b": "short", "preference": "b"}
{"input": "q2", "response_a": "same len", "response_b": "also two", "preference": "a"}
{"input": "q3", "response_a": "tie tie tie", "response_b": "t", "preference": "tie"}
{"input": "q3", "response_a": "state-of-the-art, don't!", "response_b": "a b c", "preference": "b"}
"#;
    // length (words after deleting non-word characters):
    //   line 2: 3 vs 1, P = +1, M = +1 → C
    //   line 3: 2 vs 4, P = −1, M = −1 → C
    //   line 4: 4 vs 1, P = −1, M = +1 → D
    //   line 5: 2 vs 2, M = 0 → dropped (factor tie, human setting)
    //   line 6: human tie → dropped at load, never scored
    //   line 7: "state-of-the-art, don't!" = 2 words vs 3, P = −1, M = −1 → C
    // C = 3, D = 1, T = 0, dropped = 1 → (3 − 1) / (3 + 1 + 0) = 0.5
    let r = report_for(jsonl, &[Factor::Length], NO_BOOTSTRAP);
    let e = entry(&r, "length");
    assert_eq!(counts(e), (3, 1, 0, 1));
    assert_eq!(e.n_pairs, 5);
    assert_close(e.score, 0.5);
    assert_eq!(e.ci95, None, "no resamples, no interval");
    assert_eq!(r.dataset.human_ties_dropped, 1);
    assert_eq!(r.dataset.pairs, 5);
}

#[test]
fn human_novel_words_by_hand() {
    let jsonl = r#"
{"source": "The cat sat on the mat.", "response_a": "The cat sat.", "response_b": "A dog sat!", "preference": "a"}
{"source": "Cats and dogs.", "response_a": "cats, dogs, birds", "response_b": "Cat and dog and fish and eel and mouse and dogs", "preference": "b"}
{"input": "Why is the sky blue?", "response_a": "The sky scatters blue light.", "response_b": "Because.", "preference": "a"}
{"source": "Running fast.", "response_a": "...", "response_b": "runs quickly", "preference": "b"}
"#;
    // Stems (lower-cased, Porter2), unique per text:
    //   line 2: source {the, cat, sat, on, mat}
    //     a "The cat sat." {the, cat, sat} → novel 0/3 = 0, count 0
    //     b "A dog sat!"   {a, dog, sat}   → novel {a, dog} 2/3, count 2
    //     P = +1; share M = sign(0 − 2/3) = −1 → D; count M = −1 → D
    //   line 3: source {cat, and, dog}
    //     a {cat, dog, bird} → novel {bird} 1/3, count 1
    //     b {cat, and, dog, fish, eel, mous} → novel {fish, eel, mous} 3/6, count 3
    //     P = −1; share M = sign(1/3 − 1/2) = −1 → C; count M = −1 → C
    //   line 4: no source, so the input is the context: {whi, is, the, sky, blue}
    //     a {the, sky, scatter, blue, light} → novel {scatter, light} 2/5, count 2
    //     b {becaus} → novel 1/1, count 1
    //     P = +1; share M = −1 → D; count M = +1 → C
    //   line 5: source {run, fast}
    //     a "..." has no words → 0, count 0
    //     b {run, quick} → novel {quick} 1/2, count 1
    //     P = −1; share M = −1 → C; count M = −1 → C
    // novel_words:       C = 2, D = 2 → 0
    // novel_words_count: C = 3, D = 1 → 0.5
    let r = report_for(
        jsonl,
        &[Factor::NovelWords, Factor::NovelWordsCount],
        NO_BOOTSTRAP,
    );
    assert_eq!(counts(entry(&r, "novel_words")), (2, 2, 0, 0));
    assert_close(entry(&r, "novel_words").score, 0.0);
    assert_eq!(counts(entry(&r, "novel_words_count")), (3, 1, 0, 0));
    assert_close(entry(&r, "novel_words_count").score, 0.5);
}

#[test]
fn human_ratio_ties_are_dropped() {
    // Source {cat, dog, fish, mous}. a {cat, dog, bird} → 1/3 novel;
    // b {cat, dog, fish, mous, bird, eel} → 2/6 novel: equal shares, a factor
    // tie, dropped. The counts (1 vs 2) differ: b has more, P = +1 → D.
    let jsonl = r#"{"source": "cat dog fish mouse", "response_a": "cat dog bird", "response_b": "cat dog fish mouse bird eel", "preference": "a"}"#;
    let r = report_for(
        jsonl,
        &[Factor::NovelWords, Factor::NovelWordsCount],
        NO_BOOTSTRAP,
    );
    let e = entry(&r, "novel_words");
    assert_eq!(counts(e), (0, 0, 0, 1));
    assert_eq!(e.score, None, "no countable pair, no score");
    assert_eq!(counts(entry(&r, "novel_words_count")), (0, 1, 0, 0));
    assert_close(entry(&r, "novel_words_count").score, -1.0);
}

#[test]
fn llm_factors_are_listed_as_skipped_not_scored() {
    let r = report_for(
        r#"{"response_a": "a b", "response_b": "c", "preference": "a"}"#,
        &[Factor::Length, Factor::Hallucination, Factor::Fluency],
        NO_BOOTSTRAP,
    );
    let human = r.agent("human").unwrap();
    assert_eq!(human.factor_scores.len(), 1);
    let skipped: Vec<&str> = r.skipped_factors.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(skipped, ["hallucination", "fluency"]);
    assert_eq!(r.config.factors, ["length", "hallucination", "fluency"]);
}

/// (cluster, P, M) triples through one setting's tie policy.
fn table(setting: Setting, rows: &[(u32, i8, i8)]) -> ClusterTable {
    let n_clusters = rows.iter().map(|r| r.0 + 1).max().unwrap_or(0);
    let mut t = ClusterTable::new(1, n_clusters as usize);
    for &(c, p, m) in rows {
        t.add(0, c, classify(setting, p, m));
    }
    t
}

fn cdt(c: Counts) -> (u64, u64, u64, u64) {
    (c.concordant, c.discordant, c.ties, c.dropped)
}

#[test]
fn evaluation_setting_counts_judge_ties() {
    // (cluster, judge P, factor M):
    //   (0, +1, +1) C
    //   (0,  0, +1) T  the judge said tie, the factor differs
    //   (0, −1, +1) D
    //   (1,  0,  0) dropped (factor tie)
    //   (1, +1,  0) dropped (factor tie)
    //   (1, −1, −1) C
    //   (2,  0, −1) T
    // C = 2, D = 1, T = 2, dropped = 2 → (2 − 1) / 5 = 0.2
    let rows = [
        (0, 1, 1),
        (0, 0, 1),
        (0, -1, 1),
        (1, 0, 0),
        (1, 1, 0),
        (1, -1, -1),
        (2, 0, -1),
    ];
    let t = table(Setting::Evaluation, &rows);
    assert_eq!(cdt(t.totals(0)), (2, 1, 2, 2));
    assert_close(t.totals(0).score(), 0.2);
    // The human setting uses the same policy (human ties never reach it).
    assert_eq!(cdt(table(Setting::Human, &rows).totals(0)), (2, 1, 2, 2));
}

#[test]
fn generation_setting_keeps_factor_ties_in_the_denominator() {
    // Five responses written for score levels 1..5 with lengths 10, 20, 20, 30,
    // 25. All C(5,2) = 10 pairs (i < j): the level-j response is preferred, so
    // P = −1 (B) and M = sign(len_i − len_j).
    //   (1,2) 10<20 C  (1,3) 10<20 C  (1,4) 10<30 C  (1,5) 10<25 C
    //   (2,3) 20=20 T  (2,4) 20<30 C  (2,5) 20<25 C  (3,4) 20<30 C
    //   (3,5) 20<25 C  (4,5) 30>25 D
    // C = 8, D = 1, T = 1 → (8 − 1) / 10 = 0.7. (Dropping the tie as the human
    // policy does would give 7/9.)
    let lengths = [10.0, 20.0, 20.0, 30.0, 25.0];
    let mut rows = Vec::new();
    for i in 0..5 {
        for j in i + 1..5 {
            rows.push((0, -1, compare(lengths[i], lengths[j]).unwrap()));
        }
    }
    assert_eq!(rows.len(), 10);
    let t = table(Setting::Generation, &rows);
    assert_eq!(cdt(t.totals(0)), (8, 1, 1, 0));
    assert_close(t.totals(0).score(), 0.7);
    let h = table(Setting::Human, &rows);
    assert_eq!(cdt(h.totals(0)), (8, 1, 0, 1));
    assert_close(h.totals(0).score(), 7.0 / 9.0);
}

#[test]
fn improvement_setting_by_hand() {
    // (initial, improved) lengths per input; the improved one (B) is preferred.
    //   10 → 15: M = −1 → C;  12 → 12: M = 0 → T;  20 → 18: M = +1 → D
    //   30 → 45: C
    // C = 2, D = 1, T = 1 → 1/4.
    let rows: Vec<(u32, i8, i8)> = [(10.0, 15.0), (12.0, 12.0), (20.0, 18.0), (30.0, 45.0)]
        .iter()
        .enumerate()
        .map(|(c, &(a, b))| (c as u32, -1, compare(a, b).unwrap()))
        .collect();
    let t = table(Setting::Improvement, &rows);
    assert_eq!(cdt(t.totals(0)), (2, 1, 1, 0));
    assert_close(t.totals(0).score(), 0.25);
    // A stray agent tie cannot be scored in these settings.
    assert_eq!(classify(Setting::Improvement, 0, 1), Outcome::Dropped);
    assert_eq!(classify(Setting::Generation, 0, 0), Outcome::Dropped);
}

#[test]
fn compare_uses_the_tolerance() {
    assert_eq!(compare(1.0 / 3.0, 2.0 / 6.0), Some(0));
    assert_eq!(compare(0.1 + 0.2, 0.3), Some(0));
    assert_eq!(compare(1.0, 1.0 + 5e-10), Some(0));
    assert_eq!(compare(1.0, 1.0 + 2e-9), Some(-1));
    assert_eq!(compare(3.0, 2.0), Some(1));
}

#[test]
fn empty_counts_have_no_score() {
    assert_eq!(Counts::default().score(), None);
    let t = ClusterTable::new(2, 0);
    let s = t.scores(BootstrapConfig::default());
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|f| f.score.is_none() && f.ci95.is_none()));
}

// ---------------------------------------------------------------- bootstrap

/// A table with varied outcomes over 40 clusters (deterministic pattern).
fn varied_table() -> ClusterTable {
    let mut t = ClusterTable::new(2, 40);
    for c in 0..40u32 {
        for k in 0..(1 + c % 5) {
            let o = match (c * 7 + k * 3) % 5 {
                0 | 1 => Outcome::Concordant,
                2 | 3 => Outcome::Discordant,
                _ => Outcome::Tie,
            };
            t.add(0, c, o);
            t.add(1, c, if c % 3 == 0 { Outcome::Discordant } else { o });
        }
    }
    t
}

fn bits(ci: Option<[f64; 2]>) -> Option<[u64; 2]> {
    ci.map(|[a, b]| [a.to_bits(), b.to_bits()])
}

#[test]
fn same_seed_same_intervals_bit_for_bit() {
    let t = varied_table();
    let cfg = BootstrapConfig {
        resamples: 500,
        seed: 7,
    };
    let a = t.scores(cfg);
    let b = t.clone().scores(cfg);
    for (x, y) in a.iter().zip(&b) {
        assert!(x.ci95.is_some());
        assert_eq!(bits(x.ci95), bits(y.ci95));
    }
    let other = t.scores(BootstrapConfig { seed: 8, ..cfg });
    assert!(
        a.iter()
            .zip(&other)
            .any(|(x, y)| bits(x.ci95) != bits(y.ci95)),
        "seeds 7 and 8 gave identical intervals"
    );
    // The replicates themselves differ too.
    assert_ne!(
        format!("{:?}", t.bootstrap(cfg)),
        format!("{:?}", t.bootstrap(BootstrapConfig { seed: 8, ..cfg }))
    );
}

#[test]
fn identical_clusters_give_a_degenerate_interval() {
    // Every cluster has C = 2, D = 1: any resample of n clusters has
    // C = 2n, D = n, so every replicate is exactly n / 3n = 1/3.
    let mut t = ClusterTable::new(1, 25);
    for c in 0..25 {
        t.add(0, c, Outcome::Concordant);
        t.add(0, c, Outcome::Concordant);
        t.add(0, c, Outcome::Discordant);
        t.add(0, c, Outcome::Dropped);
    }
    let s = &t.scores(BootstrapConfig::default())[0];
    let score = s.score.unwrap();
    assert_eq!(score, 1.0 / 3.0);
    assert_eq!(s.ci95, Some([score, score]));
}

#[test]
fn bootstrap_resamples_clusters_not_pairs() {
    // One input with mixed outcomes: resampling the only cluster always
    // returns all its pairs, so the interval is the score itself (resampling
    // pairs would give a wide interval).
    let jsonl: String = (0..12)
        .map(|i| {
            let (a, b) = if i % 3 == 0 { ("w", "w w") } else { ("w w", "w") };
            format!(
                "{{\"input\": \"one question\", \"response_a\": \"{a}\", \"response_b\": \"{b}\", \"preference\": \"a\"}}\n"
            )
        })
        .collect();
    // 8 pairs with the longer response preferred (C), 4 with the shorter (D).
    let r = report_for(&jsonl, &[Factor::Length], BootstrapConfig::default());
    let e = entry(&r, "length");
    assert_eq!(counts(e), (8, 4, 0, 0));
    assert_close(e.score, 1.0 / 3.0);
    assert_eq!(r.dataset.inputs, 1);
    let [lo, hi] = e.ci95.unwrap();
    assert_eq!((lo, hi), (e.score.unwrap(), e.score.unwrap()));

    // The same pairs, each with its own input: now the interval has width.
    let jsonl: String = jsonl
        .lines()
        .enumerate()
        .map(|(i, l)| l.replace("one question", &format!("question {i}")) + "\n")
        .collect();
    let r = report_for(&jsonl, &[Factor::Length], BootstrapConfig::default());
    let e = entry(&r, "length");
    assert_eq!(r.dataset.inputs, 12);
    let [lo, hi] = e.ci95.unwrap();
    assert!(lo < e.score.unwrap() && e.score.unwrap() < hi, "{lo} {hi}");
}

#[test]
fn interval_contains_the_score_on_summeval() {
    let ds = load_default(SUMMEVAL);
    let cfg = ScoreConfig::for_task(Task::Summarization);
    assert_eq!(cfg.bootstrap.resamples, 1000);
    let r = score_report(&ds, &cfg, &DatasetInfo::default());
    for f in ["length", "novel_words"] {
        let e = entry(&r, f);
        let s = e.score.unwrap();
        let [lo, hi] = e.ci95.unwrap();
        assert!(lo <= s && s <= hi, "{f}: {s} outside [{lo}, {hi}]");
        assert!(lo < hi, "{f}: degenerate interval on real data");
        assert!((-1.0..=1.0).contains(&lo) && (-1.0..=1.0).contains(&hi));
    }
    // Same seed, same interval; the report records what was used.
    let again = score_report(&ds, &cfg, &DatasetInfo::default());
    assert_eq!(
        bits(entry(&r, "length").ci95),
        bits(entry(&again, "length").ci95)
    );
    assert_eq!(r.config.seed, 42);
    assert_eq!(r.config.bootstrap_resamples, 1000);
}
