//! SummEval rule-based factor counts against the independent Python reference.
//!
//! `tests/reference/summeval_reference.py` was written from METHOD.md alone
//! (regex words, NLTK's Snowball stemmer, plain counting) and shares no code
//! with the crate. Its output on `../shared/data/summeval/summeval.jsonl`:
//!
//! ```text
//! length:      C = 5817  D = 5217  dropped = 308   human ties = 658  score =  0.054377379010331704
//! novel_words: C = 3722  D = 5236  dropped = 2384  human ties = 658  score = -0.16901093994195132
//! ```
//!
//! The crate must reproduce these through `analysis::score_report` with the
//! summarization preset.

mod common;

use common::*;
use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
use profile::factors::Task;

#[test]
fn summeval_matches_the_python_reference() {
    let ds = load_default(SUMMEVAL);
    let mut cfg = ScoreConfig::for_task(Task::Summarization);
    cfg.bootstrap.resamples = 200;
    let r = score_report(&ds, &cfg, &DatasetInfo::default());
    assert_eq!(r.dataset.human_ties_dropped, 658);
    assert_eq!(r.dataset.pairs, 11_342);

    let human = r.agent("human").unwrap();
    // The preset's two rule-based factors are scored; the other eight need a model.
    let scored: Vec<&str> = human.factor_scores.keys().map(String::as_str).collect();
    assert_eq!(scored, ["length", "novel_words"]);
    assert_eq!(r.skipped_factors.len(), 8);

    // (factor, C, D, dropped, Python's score)
    for (f, c, d, dropped, py_score) in [
        ("length", 5817, 5217, 308, 0.054377379010331704),
        ("novel_words", 3722, 5236, 2384, -0.16901093994195132),
    ] {
        let e = &human.factor_scores[f];
        assert_eq!(
            (e.concordant, e.discordant, e.ties, e.dropped),
            (c, d, 0, dropped),
            "{f}"
        );
        assert_eq!(e.n_pairs, 11_342, "{f}");
        let s = e.score.unwrap();
        assert!((s - py_score).abs() < 1e-12, "{f}: {s} vs {py_score}");
    }
    // Humans prefer longer summaries slightly and fewer novel words.
    assert_eq!(human.ranking, ["length", "novel_words"]);
}
