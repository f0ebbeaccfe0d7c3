//! Seeded random property tests (a small generator on `profile::stats::Rng`).
//!
//! Random canonical JSONL datasets of random texts (punctuation, Unicode,
//! shared and missing inputs/sources, every preference spelling):
//! * every score is in [−1, 1] and every interval is ordered inside [−1, 1];
//! * swapping response_a/response_b and flipping the preference changes no
//!   score, count or interval;
//! * duplicating every record leaves scores unchanged and doubles the counts;
//! * permuting the records leaves scores and counts unchanged;
//! * the human joint model on these small, often separable datasets always
//!   converges to finite coefficients with ordered intervals, is unchanged
//!   by swapping a/b with the preference, and its point estimates are
//!   unchanged by permuting the records.
//!
//! Correlations on random vectors with ties: Kendall τ_b, Spearman ρ and
//! Pearson r are symmetric and inside [−1, 1]; τ(x, x) = 1 for a non-constant
//! x; τ_b agrees with a tie-group formula computed here.

use std::collections::BTreeMap;

use profile::analysis::{score_report, DatasetInfo, ScoreConfig};
use profile::data::{load_bytes, FormatOptions};
use profile::factors::{Factor, Task};
use profile::report::{FactorScoreEntry, Report};
use profile::stats::{compare, kendall_tau_b, pearson_r, spearman_rho, BootstrapConfig, Rng};
use serde_json::{json, Value};

const WORDS: &[&str] = &[
    "the",
    "cat",
    "cats",
    "running",
    "runs",
    "ran",
    "state-of-the-art",
    "don't",
    "naïve",
    "café",
    "東京",
    "C++",
    "3.5",
    "!!!",
    "—",
    "e-mail",
    "Dogs",
    "dog's",
    "x_y",
    "Über",
    "quickly",
    "quick",
    "a",
    "an",
    "is",
    "was",
    "generously",
    "...",
    "(see",
    "above)",
];

fn pick<'a, T>(rng: &mut Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.below(xs.len() as u64) as usize]
}

fn pick_str(rng: &mut Rng, xs: &[&'static str]) -> &'static str {
    xs[rng.below(xs.len() as u64) as usize]
}

fn random_text(rng: &mut Rng) -> String {
    let n = rng.below(12);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push_str(pick_str(rng, &[" ", " ", " ", "  ", "\n", "\t"]));
        }
        if rng.below(5) == 0 {
            // A random lower-case word, so texts do not all share stems.
            let len = 1 + rng.below(6);
            s.extend((0..len).map(|_| (b'a' + rng.below(8) as u8) as char));
        } else {
            s.push_str(pick_str(rng, WORDS));
        }
    }
    s
}

/// Random canonical records: a few shared inputs and sources, some missing.
fn random_records(rng: &mut Rng) -> Vec<Value> {
    let inputs: Vec<String> = (0..1 + rng.below(5)).map(|_| random_text(rng)).collect();
    let sources: Vec<String> = (0..1 + rng.below(4)).map(|_| random_text(rng)).collect();
    let prefs = [
        json!("a"),
        json!("b"),
        json!("tie"),
        json!(1),
        json!(-1),
        json!(0),
    ];
    (0..1 + rng.below(40))
        .map(|_| {
            let mut r = json!({
                "response_a": random_text(rng),
                "response_b": random_text(rng),
                "preference": pick(rng, &prefs).clone(),
            });
            if rng.below(4) != 0 {
                r["input"] = json!(pick(rng, &inputs));
            }
            if rng.below(3) != 0 {
                r["source"] = json!(pick(rng, &sources));
            }
            r
        })
        .collect()
}

fn to_jsonl(records: &[Value]) -> String {
    records.iter().map(|r| r.to_string() + "\n").collect()
}

const FACTORS: [Factor; 3] = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];

fn report(records: &[Value], bootstrap: BootstrapConfig) -> Report {
    let ds = load_bytes(to_jsonl(records).as_bytes(), FormatOptions::default()).unwrap();
    let cfg = ScoreConfig {
        task: Task::Helpful,
        factors: Some(FACTORS.to_vec()),
        bootstrap,
    };
    score_report(&ds, &cfg, &DatasetInfo::default())
}

fn scores(r: &Report) -> &BTreeMap<String, FactorScoreEntry> {
    &r.agent("human").unwrap().factor_scores
}

fn swapped(r: &Value) -> Value {
    let mut s = r.clone();
    s["response_a"] = r["response_b"].clone();
    s["response_b"] = r["response_a"].clone();
    s["preference"] = match &r["preference"] {
        Value::String(p) if p == "a" => json!("b"),
        Value::String(p) if p == "b" => json!("a"),
        Value::Number(n) => json!(-n.as_i64().unwrap()),
        other => other.clone(),
    };
    s
}

const BOOT: BootstrapConfig = BootstrapConfig {
    resamples: 200,
    seed: 9,
};

#[test]
fn scores_and_intervals_are_bounded() {
    let mut rng = Rng::new(1);
    let mut with_ci = 0;
    for case in 0..60 {
        let records = random_records(&mut rng);
        let r = report(&records, BOOT);
        for (f, e) in scores(&r) {
            assert_eq!(e.n_pairs, e.concordant + e.discordant + e.ties + e.dropped);
            assert_eq!(e.n_pairs, r.dataset.pairs, "case {case} {f}");
            if let Some(s) = e.score {
                assert!((-1.0..=1.0).contains(&s), "case {case} {f}: {s}");
            }
            if let Some([lo, hi]) = e.ci95 {
                with_ci += 1;
                assert!(lo <= hi, "case {case} {f}: [{lo}, {hi}]");
                assert!(-1.0 <= lo && hi <= 1.0, "case {case} {f}: [{lo}, {hi}]");
            }
            assert_eq!(e.score.is_some(), e.ci95.is_some(), "case {case} {f}");
        }
        let joint = r.agent("human").unwrap().joint.as_ref().unwrap();
        assert_eq!(joint.n_pairs_used, r.dataset.pairs, "case {case}");
        if joint.n_pairs_used > 0 {
            assert!(joint.converged, "case {case}: {joint:?}");
        }
        for (f, c) in &joint.coefficients {
            if let Some(b) = c.coefficient {
                // The cluster-robust se needs two inputs with a pair used.
                assert!(
                    b.is_finite() && c.se.is_none_or(|s| s > 0.0),
                    "case {case} {f}"
                );
            }
            if let Some([lo, hi]) = c.ci95 {
                assert!(
                    lo <= hi && lo.is_finite() && hi.is_finite(),
                    "case {case} {f}"
                );
            }
        }
    }
    assert!(with_ci > 50, "the generator rarely produced scorable data");
}

#[test]
fn swapping_responses_and_flipping_preferences_changes_nothing() {
    let mut rng = Rng::new(2);
    for case in 0..60 {
        let records = random_records(&mut rng);
        let flipped: Vec<Value> = records.iter().map(swapped).collect();
        let (r1, r2) = (report(&records, BOOT), report(&flipped, BOOT));
        assert_eq!(scores(&r1), scores(&r2), "case {case}");
        assert_eq!(
            r1.agent("human").unwrap().joint,
            r2.agent("human").unwrap().joint,
            "case {case}"
        );
        assert_eq!(r1.dataset.pairs, r2.dataset.pairs);
        assert_eq!(r1.dataset.human_ties_dropped, r2.dataset.human_ties_dropped);
        assert_eq!(r1.dataset.inputs, r2.dataset.inputs);
    }
}

#[test]
fn duplicating_every_record_leaves_scores_unchanged() {
    let mut rng = Rng::new(3);
    for case in 0..60 {
        let records = random_records(&mut rng);
        let doubled: Vec<Value> = records
            .iter()
            .flat_map(|r| [r.clone(), r.clone()])
            .collect();
        let (r1, r2) = (report(&records, BOOT), report(&doubled, BOOT));
        for (f, e1) in scores(&r1) {
            let e2 = &scores(&r2)[f];
            assert_eq!(e1.score, e2.score, "case {case} {f}");
            assert_eq!(
                (
                    2 * e1.concordant,
                    2 * e1.discordant,
                    2 * e1.ties,
                    2 * e1.dropped
                ),
                (e2.concordant, e2.discordant, e2.ties, e2.dropped),
                "case {case} {f}"
            );
        }
    }
}

#[test]
fn permuting_records_leaves_counts_unchanged() {
    let mut rng = Rng::new(4);
    for case in 0..60 {
        let records = random_records(&mut rng);
        let mut shuffled = records.clone();
        // Fisher–Yates.
        for i in (1..shuffled.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            shuffled.swap(i, j);
        }
        let (r1, r2) = (report(&records, BOOT), report(&shuffled, BOOT));
        for (f, e1) in scores(&r1) {
            let e2 = &scores(&r2)[f];
            assert_eq!(e1.score, e2.score, "case {case} {f}");
            assert_eq!(
                (e1.concordant, e1.discordant, e1.ties, e1.dropped),
                (e2.concordant, e2.discordant, e2.ties, e2.dropped),
                "case {case} {f}"
            );
        }
        assert_eq!(r1.dataset.inputs, r2.dataset.inputs, "case {case}");
        assert_eq!(r1.dataset.unique_texts, r2.dataset.unique_texts);
        // The joint model's point estimates (input ids may be numbered in
        // another order, so the bootstrap draws, and intervals, may differ).
        let (j1, j2) = (
            r1.agent("human").unwrap().joint.as_ref().unwrap(),
            r2.agent("human").unwrap().joint.as_ref().unwrap(),
        );
        for (f, c1) in &j1.coefficients {
            let c2 = &j2.coefficients[f];
            match (c1.coefficient, c2.coefficient) {
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "case {case} {f}: {a} {b}"),
                (a, b) => assert_eq!(a, b, "case {case} {f}"),
            }
            assert!((c1.scale - c2.scale).abs() <= 1e-12 * c1.scale.max(1.0));
        }
    }
}

#[test]
fn compare_is_antisymmetric_for_finite_values() {
    let mut rng = Rng::new(5);
    for _ in 0..10_000 {
        let a = (rng.unit() - 0.5) * 10f64.powi(rng.below(6) as i32);
        let b = if rng.below(4) == 0 {
            a + (rng.unit() - 0.5) * 1e-9
        } else {
            (rng.unit() - 0.5) * 100.0
        };
        assert_eq!(compare(a, b).map(|m| -m), compare(b, a), "{a} {b}");
    }
}

// ------------------------------------------------------------- correlations

/// A random vector; values from a small set when `ties` so that ties occur.
fn random_vec(rng: &mut Rng, n: usize, ties: bool) -> Vec<f64> {
    (0..n)
        .map(|_| {
            if ties {
                rng.below(4) as f64 / 4.0 - 0.5
            } else {
                rng.unit() * 2.0 - 1.0
            }
        })
        .collect()
}

fn close(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{what}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    }
}

/// τ_b from tie groups: (n_c − n_d) / sqrt((n0 − Σ t(t−1)/2)(n0 − Σ u(u−1)/2)).
fn tau_b_by_tie_groups(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    let (mut nc, mut nd) = (0i64, 0i64);
    for i in 0..n {
        for j in 0..i {
            let s = (x[i] - x[j]).signum() * (y[i] - y[j]).signum();
            if x[i] != x[j] && y[i] != y[j] {
                if s > 0.0 {
                    nc += 1;
                } else {
                    nd += 1;
                }
            }
        }
    }
    let tied = |v: &[f64]| -> i64 {
        let mut groups: BTreeMap<u64, i64> = BTreeMap::new();
        for x in v {
            *groups.entry(x.to_bits()).or_default() += 1;
        }
        groups.values().map(|t| t * (t - 1) / 2).sum()
    };
    let n0 = (n * (n - 1) / 2) as i64;
    let d = ((n0 - tied(x)) as f64 * (n0 - tied(y)) as f64).sqrt();
    (d > 0.0).then(|| (nc - nd) as f64 / d)
}

#[test]
fn correlations_are_symmetric_and_bounded() {
    let mut rng = Rng::new(6);
    for case in 0..2000 {
        let n = 2 + rng.below(12) as usize;
        let ties = rng.below(2) == 0;
        let x = random_vec(&mut rng, n, ties);
        let y = random_vec(&mut rng, n, ties);
        for (name, f) in [
            (
                "kendall",
                kendall_tau_b as fn(&[f64], &[f64]) -> Option<f64>,
            ),
            ("spearman", spearman_rho),
            ("pearson", pearson_r),
        ] {
            let (xy, yx) = (f(&x, &y), f(&y, &x));
            close(xy, yx, &format!("case {case} {name} symmetry"));
            if let Some(v) = xy {
                assert!((-1.0..=1.0).contains(&v), "case {case} {name}: {v}");
            }
        }
        close(
            kendall_tau_b(&x, &y),
            tau_b_by_tie_groups(&x, &y),
            &format!("case {case} tau_b formula"),
        );
        let constant = x.iter().all(|v| *v == x[0]);
        let tau_xx = kendall_tau_b(&x, &x);
        if constant {
            assert_eq!(tau_xx, None, "case {case}: constant vector");
        } else {
            close(tau_xx, Some(1.0), &format!("case {case} tau(x, x)"));
            close(
                spearman_rho(&x, &x),
                Some(1.0),
                &format!("case {case} rho(x, x)"),
            );
            let neg: Vec<f64> = x.iter().map(|v| -v).collect();
            close(
                kendall_tau_b(&x, &neg),
                Some(-1.0),
                &format!("case {case} tau(x, -x)"),
            );
            // Rank correlations ignore monotone transformations.
            let cubed: Vec<f64> = y.iter().map(|v| v * v * v + 3.0).collect();
            close(
                kendall_tau_b(&x, &y),
                kendall_tau_b(&x, &cubed),
                &format!("case {case} tau monotone"),
            );
        }
    }
}

#[test]
fn kendall_treats_negative_zero_as_zero() {
    // scipy.stats.kendalltau([0.0, -0.0, 1.0], [1, 2, 3]).statistic = 0.816496580927726:
    // P = 2, Q = 0, one tie in x, n0 = 3 → 2 / sqrt(2 · 3). A score of -0.0
    // arises e.g. from Python's round(-0.0001, 3) in an `align` input file.
    close(
        kendall_tau_b(&[0.0, -0.0, 1.0], &[1.0, 2.0, 3.0]),
        Some(0.816496580927726),
        "tau_b with -0.0",
    );
}

#[test]
fn compare_is_antisymmetric_and_missing_values_do_not_compare() {
    // M_f(a, b) must equal −M_f(b, a); a missing value (NaN) must not count as
    // concordant or discordant either way.
    let mut rng = profile::stats::Rng::new(5);
    for _ in 0..1000 {
        let (a, b) = (rng.unit() * 4.0 - 2.0, rng.unit() * 4.0 - 2.0);
        assert_eq!(compare(a, b).map(|m| -m), compare(b, a));
    }
    assert_eq!(compare(f64::NAN, 1.0), None);
    assert_eq!(compare(1.0, f64::NAN), None);
}
