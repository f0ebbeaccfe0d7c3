//! Coverage of the nominal 95% factor-score interval on few inputs (issue
//! 11.8), measured, not assumed. Ignored by default (it takes a while):
//!
//! ```sh
//! cargo test --release --test coverage -- --ignored --nocapture
//! ```
//!
//! SummEval's human preferences on the rule-based factors (length,
//! novel_words, novel_words_count): for each number of inputs n in
//! 2/3/5/10/20, draw 1000 seeded samples of n of the 100 articles, compute
//! each factor's 95% cluster-bootstrap interval (500 resamples) on the
//! sample, and count how often it covers the factor's score on all 100
//! articles (the target the sample estimates). Measured: 0.51 / 0.73 / 0.84
//! / 0.91 / 0.95 — why intervals from fewer than
//! `stats::MIN_INPUTS_FOR_INTERVALS` (10) inputs are flagged.

mod common;

use profile::factors::rules::RuleExtractor;
use profile::factors::Factor;
use profile::stats::{
    classify, compare, BootstrapConfig, ClusterTable, Rng, Setting, MIN_INPUTS_FOR_INTERVALS,
};

#[test]
#[ignore = "slow: measures interval coverage on SummEval subsamples"]
fn coverage_of_the_factor_score_interval_on_few_inputs() {
    let ds = common::load_default(common::SUMMEVAL);
    let factors = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];
    let mut rules = RuleExtractor::new();
    // Per pair: its input and each factor's outcome.
    let mut outcomes = Vec::new();
    for p in &ds.pairs {
        let row: Vec<_> = factors
            .iter()
            .map(|&f| {
                let va = rules.value(f, &ds.texts, p.a, p.context()).unwrap();
                let vb = rules.value(f, &ds.texts, p.b, p.context()).unwrap();
                classify(
                    Setting::Human,
                    p.preference.sign(),
                    compare(va, vb).unwrap(),
                )
            })
            .collect();
        outcomes.push((p.cluster, row));
    }
    let nc = ds.n_clusters as usize;
    let table = |inputs: &[usize]| {
        let mut t = ClusterTable::new(factors.len(), inputs.len());
        for (cluster, row) in &outcomes {
            if let Some(j) = inputs.iter().position(|&c| c == *cluster as usize) {
                for (f, &o) in row.iter().enumerate() {
                    t.add(f, j as u32, o);
                }
            }
        }
        t
    };
    let all: Vec<usize> = (0..nc).collect();
    let truth: Vec<f64> = table(&all)
        .scores(BootstrapConfig {
            resamples: 0,
            seed: 0,
        })
        .iter()
        .map(|s| s.score.unwrap())
        .collect();
    let samples = 1000;
    let mut rng = Rng::new(2026);
    let mut coverage = Vec::new();
    for n in [2usize, 3, 5, 10, 20] {
        let (mut covered, mut total) = (0u32, 0u32);
        for s in 0..samples {
            // n distinct inputs (partial Fisher–Yates).
            let mut ids = all.clone();
            for i in 0..n {
                let j = i + rng.below((nc - i) as u64) as usize;
                ids.swap(i, j);
            }
            let scores = table(&ids[..n]).scores(BootstrapConfig {
                resamples: 500,
                seed: s,
            });
            for (sc, &t) in scores.iter().zip(&truth) {
                if let Some([lo, hi]) = sc.ci95 {
                    total += 1;
                    covered += u32::from(lo <= t && t <= hi);
                }
            }
        }
        let c = f64::from(covered) / f64::from(total);
        eprintln!("{n:>3} inputs: coverage of the nominal 95% interval {c:.2} ({covered}/{total})");
        coverage.push((n, c));
    }
    // Few inputs undercover; from the flagging threshold on, coverage is
    // near nominal (Monte Carlo error at 3000 intervals is about ±0.01).
    for &(n, c) in &coverage {
        if (n as u64) < MIN_INPUTS_FOR_INTERVALS {
            assert!(c < 0.9, "{n} inputs: {c}");
        } else {
            assert!(c > 0.85, "{n} inputs: {c}");
        }
    }
}
