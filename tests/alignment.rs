//! Alignment inference (METHOD.md §3, beyond the paper): paired cluster
//! bootstrap intervals and permutation p-values for τ_b, ρ and r.
//!
//! * Exact permutation p-values equal a plain enumeration of all 720 orders
//!   of six factors with scipy's statistics (values below).
//! * `Alignment::between_with_bootstrap` gives the same point estimates as
//!   `Alignment::between` on the tables' scores; its intervals are seeded,
//!   contain the estimate, and collapse to [1, 1] for an agent identical to
//!   the reference (which only a *paired* bootstrap does).
//! * Tables over different inputs are an error, not a wrong answer.
//! * The new report fields are optional: alignments without them parse, and
//!   they are not written when absent.

use std::collections::BTreeMap;

use profile::report::{AgentTable, Alignment, AlignmentConfig};
use profile::stats::{
    classify, permutation_test, BootstrapConfig, ClusterTable, Outcome, PermutationConfig, Rng,
    Setting,
};

#[test]
fn exact_p_values_match_an_enumeration() {
    // Python (scipy 1.17.1), all 720 permutations of x against y, two-sided,
    // counting |stat(perm)| >= |stat(obs)| - 1e-12:
    //   from itertools import permutations
    //   kendalltau: 82/720, spearmanr: 86/720, pearsonr: 86/720
    let x = [0.1, 0.4, 0.4, -0.2, 0.3, 0.0];
    let y = [0.2, 0.5, 0.1, -0.1, 0.5, 0.0];
    let t = permutation_test(&x, &y, PermutationConfig::default());
    assert!(t.exact);
    assert_eq!(t.permutations, 720);
    assert_eq!(t.kendall_tau, Some(82.0 / 720.0));
    assert_eq!(t.spearman_rho, Some(86.0 / 720.0));
    assert_eq!(t.pearson_r, Some(86.0 / 720.0));
    // With fewer permutations allowed than 6!, the test samples instead.
    let s = permutation_test(
        &x,
        &y,
        PermutationConfig {
            permutations: 719,
            seed: 1,
        },
    );
    assert!(!s.exact);
    assert_eq!(s.permutations, 719);
    assert!((s.kendall_tau.unwrap() - 82.0 / 720.0).abs() < 0.05);
}

/// One pair's outcome for one factor: (cluster, factor, human, judge).
type Event = (u32, usize, Outcome, Outcome);

/// Human and judge outcomes over the same pairs: `n_factors` factors whose
/// human "strength" runs from −0.3 to +0.3; the judge agrees with the human
/// on 75% of the pairs and says "tie" on 5%; `judge_boost` adds to the
/// judge's strength of the last factor (its misalignment).
fn events(n_clusters: u32, n_factors: usize, judge_boost: f64, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for c in 0..n_clusters {
        for _ in 0..1 + rng.below(6) {
            let p: i8 = if rng.below(2) == 0 { 1 } else { -1 };
            let u = rng.unit();
            let j: i8 = if u < 0.05 {
                0
            } else if u < 0.80 {
                p
            } else {
                -p
            };
            for f in 0..n_factors {
                let strength = -0.3 + 0.6 * f as f64 / (n_factors - 1) as f64;
                let boost = if f == n_factors - 1 { judge_boost } else { 0.0 };
                // The factor comparison follows the human, and for the
                // boosted factor the judge.
                let follow = if boost > 0.0 && j != 0 { j } else { p };
                let m: i8 = if rng.below(10) == 0 {
                    0
                } else if rng.unit() < 0.5 + strength + boost {
                    follow
                } else {
                    -follow
                };
                out.push((
                    c,
                    f,
                    classify(Setting::Human, p, m),
                    classify(Setting::Evaluation, j, m),
                ));
            }
        }
    }
    out
}

/// The human and judge tables of `events`; `column[f]` is where factor f goes
/// in the judge's table of `judge_columns` columns.
fn build(
    events: &[Event],
    n_clusters: u32,
    n_factors: usize,
    column: &[usize],
    judge_columns: usize,
) -> (ClusterTable, ClusterTable) {
    let mut human = ClusterTable::new(n_factors, n_clusters as usize);
    let mut judge = ClusterTable::new(judge_columns, n_clusters as usize);
    for &(c, f, h, j) in events {
        human.add(f, c, h);
        judge.add(column[f], c, j);
    }
    (human, judge)
}

fn tables(
    n_clusters: u32,
    n_factors: usize,
    judge_boost: f64,
    seed: u64,
) -> (ClusterTable, ClusterTable) {
    let ev = events(n_clusters, n_factors, judge_boost, seed);
    let column: Vec<usize> = (0..n_factors).collect();
    build(&ev, n_clusters, n_factors, &column, n_factors)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|f| format!("f{f}")).collect()
}

fn score_map(t: &ClusterTable, ids: &[String]) -> BTreeMap<String, Option<f64>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), t.totals(i).score()))
        .collect()
}

#[test]
fn bootstrap_alignment_by_tables() {
    let names = ids(8);
    let (human, judge) = tables(60, 8, 0.15, 3);
    let cfg = AlignmentConfig {
        bootstrap: BootstrapConfig {
            resamples: 500,
            seed: 9,
        },
        ..AlignmentConfig::default()
    };
    let at = |name, table| AgentTable {
        name,
        factors: &names,
        table,
    };
    let a = Alignment::between_with_bootstrap(&at("judge", &judge), &at("human", &human), &cfg)
        .unwrap();
    let plain = Alignment::between(
        "judge",
        &score_map(&judge, &names),
        "human",
        &score_map(&human, &names),
    );
    assert_eq!(
        (a.kendall_tau, a.spearman_rho, a.pearson_r),
        (plain.kendall_tau, plain.spearman_rho, plain.pearson_r)
    );
    assert_eq!(a.factors, plain.factors);
    assert_eq!(a.n_factors, 8);
    for (est, ci) in [
        (a.kendall_tau, a.kendall_tau_ci95),
        (a.spearman_rho, a.spearman_rho_ci95),
        (a.pearson_r, a.pearson_r_ci95),
    ] {
        let (est, [lo, hi]) = (est.unwrap(), ci.unwrap());
        assert!(lo <= est && est <= hi && lo < hi, "{est} [{lo}, {hi}]");
        assert!((-1.0..=1.0).contains(&lo) && (-1.0..=1.0).contains(&hi));
    }
    assert_eq!(a.bootstrap_resamples, Some(500));
    assert_eq!(a.bootstrap_resamples_used, Some(500));
    // 8! > 10,000: sampled permutations. The judge follows the human, so the
    // factor rankings agree far beyond chance.
    assert_eq!(
        (a.permutations, a.permutation_exact),
        (Some(10_000), Some(false))
    );
    assert!(a.kendall_tau.unwrap() > 0.5, "{a:?}");
    assert!(a.kendall_tau_p.unwrap() < 0.01, "{a:?}");
    // Seeded: the same again.
    let b = Alignment::between_with_bootstrap(&at("judge", &judge), &at("human", &human), &cfg)
        .unwrap();
    assert_eq!(a, b);
    // Another seed moves the intervals (τ's are multiples of 1/28, r's are not).
    let other = AlignmentConfig {
        bootstrap: BootstrapConfig {
            resamples: 500,
            seed: 10,
        },
        ..cfg
    };
    let c = Alignment::between_with_bootstrap(&at("judge", &judge), &at("human", &human), &other)
        .unwrap();
    assert_ne!(a.pearson_r_ci95, c.pearson_r_ci95);
}

#[test]
fn an_agent_identical_to_the_reference_has_a_degenerate_interval() {
    // The same table as agent and reference: a paired bootstrap draws the
    // same inputs for both, so every resample correlates a vector with
    // itself (an unpaired one would not).
    let names = ids(6);
    let (human, _) = tables(40, 6, 0.0, 5);
    let t = AgentTable {
        name: "human",
        factors: &names,
        table: &human,
    };
    let copy = AgentTable { name: "copy", ..t };
    let a = Alignment::between_with_bootstrap(&copy, &t, &AlignmentConfig::default()).unwrap();
    assert_eq!(a.kendall_tau, Some(1.0));
    assert_eq!(a.kendall_tau_ci95, Some([1.0, 1.0]));
    assert_eq!(a.spearman_rho_ci95, Some([1.0, 1.0]));
    // 6! = 720 ≤ 10,000: exact; only the identity and … no other order
    // reaches |τ| = 1 but the reverse: p = 2/720.
    assert_eq!(a.permutation_exact, Some(true));
    assert_eq!(a.kendall_tau_p, Some(2.0 / 720.0));
}

#[test]
fn factor_columns_are_matched_by_id() {
    // The same outcomes with the judge's columns reversed and an extra
    // column the human lacks: columns are matched by id, the extra factor is
    // not correlated, and the result is the same as in column order.
    let names = ids(5);
    let ev = events(30, 5, 0.1, 8);
    let (human, judge) = build(&ev, 30, 5, &[0, 1, 2, 3, 4], 5);
    let (_, reversed) = build(&ev, 30, 5, &[4, 3, 2, 1, 0], 6);
    let rev_names: Vec<String> = names
        .iter()
        .rev()
        .cloned()
        .chain(["extra".to_owned()])
        .collect();
    let h = AgentTable {
        name: "human",
        factors: &names,
        table: &human,
    };
    let cfg = AlignmentConfig::default();
    let a = Alignment::between_with_bootstrap(
        &AgentTable {
            name: "judge",
            factors: &names,
            table: &judge,
        },
        &h,
        &cfg,
    )
    .unwrap();
    let b = Alignment::between_with_bootstrap(
        &AgentTable {
            name: "judge",
            factors: &rev_names,
            table: &reversed,
        },
        &h,
        &cfg,
    )
    .unwrap();
    assert_eq!(a.n_factors, 5);
    assert_eq!(a, b);
}

#[test]
fn different_inputs_are_an_error() {
    let names = ids(3);
    let (human, _) = tables(20, 3, 0.0, 1);
    let (_, judge) = tables(21, 3, 0.0, 1);
    let e = Alignment::between_with_bootstrap(
        &AgentTable {
            name: "judge",
            factors: &names,
            table: &judge,
        },
        &AgentTable {
            name: "human",
            factors: &names,
            table: &human,
        },
        &AlignmentConfig::default(),
    )
    .unwrap_err();
    assert_eq!((e.left, e.right), (21, 20));
    assert!(e.to_string().contains("same cluster ids"), "{e}");
}

#[test]
fn new_alignment_fields_are_optional() {
    let old = r#"{"agent": "judge", "reference": "human", "factors": ["a", "b"], "n_factors": 2,
                  "kendall_tau": 1.0, "spearman_rho": 1.0, "pearson_r": null}"#;
    let a: Alignment = serde_json::from_str(old).unwrap();
    assert_eq!(a.kendall_tau_ci95, None);
    assert_eq!(a.agreement, None);
    let v = serde_json::to_value(&a).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent",
            "factors",
            "kendall_tau",
            "n_factors",
            "pearson_r",
            "reference",
            "spearman_rho"
        ]
    );
}

#[test]
fn two_rater_panels_on_summeval() {
    // SummEval rated by aspect: the coherence ratings and the mean rating
    // order different sets of pairs (their ties differ) of the same 100
    // articles, so they are two agents on the same inputs, as a writer and
    // the humans are. The human tables come from `analysis::human_table`.
    use profile::analysis::{human_table, score_report, DatasetInfo, ScoreConfig};
    use profile::data::{load_bytes, FormatOptions, SummEvalLabel};
    use profile::factors::rules::RuleExtractor;
    use profile::factors::{Factor, Task};

    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/summeval/summeval.jsonl"
    ))
    .unwrap();
    let factors = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];
    let load = |label| {
        load_bytes(
            &bytes,
            FormatOptions {
                summeval_label: label,
                ..FormatOptions::default()
            },
        )
        .unwrap()
    };
    let (mean, coherence) = (load(SummEvalLabel::Mean), load(SummEvalLabel::Coherence));
    assert_ne!(mean.pairs.len(), coherence.pairs.len());
    assert_eq!(mean.n_clusters, coherence.n_clusters);
    let (f1, t1) = human_table(&mean, &factors, &mut RuleExtractor::new(), None, None);
    let (f2, t2) = human_table(&coherence, &factors, &mut RuleExtractor::new(), None, None);
    assert_eq!(f1, f2);
    let names: Vec<String> = f1.iter().map(|f| f.id().to_owned()).collect();

    // The table's scores are the report's.
    let mut cfg = ScoreConfig::for_task(Task::Summarization);
    cfg.factors = Some(factors.to_vec());
    cfg.bootstrap.resamples = 0;
    let r = score_report(&mean, &cfg, &DatasetInfo::default());
    assert_eq!(
        score_map(&t1, &names),
        r.agent("human").unwrap().score_map()
    );

    let a = Alignment::between_with_bootstrap(
        &AgentTable {
            name: "coherence raters",
            factors: &names,
            table: &t2,
        },
        &AgentTable {
            name: "human",
            factors: &names,
            table: &t1,
        },
        &AlignmentConfig::default(),
    )
    .unwrap();
    assert_eq!(a.n_factors, 3);
    // 3! = 6 orders: exact p-values, multiples of 1/6.
    assert_eq!(a.permutation_exact, Some(true));
    let p = a.kendall_tau_p.unwrap();
    assert!((p * 6.0 - (p * 6.0).round()).abs() < 1e-12, "{p}");
    let [lo, hi] = a.pearson_r_ci95.unwrap();
    let r = a.pearson_r.unwrap();
    assert!(lo <= r && r <= hi, "{r} [{lo}, {hi}]");
}
