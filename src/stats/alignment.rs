//! Uncertainty of factor-level alignment (METHOD.md §3; beyond the paper):
//! paired cluster-bootstrap intervals and permutation p-values for Kendall's
//! τ_b, Spearman's ρ and Pearson's r between two agents' factor scores.

use serde::{Deserialize, Serialize};

use super::{
    kendall_tau_b, pearson_r, percentile_interval, rank_average, BootstrapConfig, ClusterMismatch,
    ClusterTable, Rng,
};

/// Permutation-test settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermutationConfig {
    /// Random permutations; when n! is at most this, all n! are enumerated instead.
    pub permutations: u32,
    pub seed: u64,
}

impl PermutationConfig {
    /// The most random permutations a test may ask for (`profile align
    /// --permutations`): a p-value's resolution is 1/(permutations + 1), and
    /// one million already takes seconds per agent.
    pub const MAX_PERMUTATIONS: u32 = 1_000_000;
}

impl Default for PermutationConfig {
    fn default() -> Self {
        PermutationConfig {
            permutations: 10_000,
            seed: 42,
        }
    }
}

/// Two-sided permutation p-values of τ_b, ρ and r.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PermutationTest {
    pub kendall_tau: Option<f64>,
    pub spearman_rho: Option<f64>,
    pub pearson_r: Option<f64>,
    /// Permutations evaluated (n! when exact).
    pub permutations: u64,
    /// Whether every permutation was enumerated.
    pub exact: bool,
}

/// Permutation test of the association between `x` and `y`: `x`'s values
/// are shuffled over the factors (`y` stays), and the p-value of a statistic
/// s is the share of permutations with |s_perm| ≥ |s_obs| (a margin of 1e-12
/// absorbs rounding).
///
/// * Exact when n! ≤ `cfg.permutations` (n ≤ 7 at the default 10,000): all n!
///   orders, the identity included, p = #{…} / n!.
/// * Otherwise `cfg.permutations` seeded uniform shuffles (Fisher–Yates on
///   [`Rng`]), p = (1 + #{…}) / (1 + N).
///
/// A statistic that is undefined on the data (constant vector, n < 2) has no p-value.
pub fn permutation_test(x: &[f64], y: &[f64], cfg: PermutationConfig) -> PermutationTest {
    assert_eq!(x.len(), y.len(), "vectors of different lengths");
    let n = x.len();
    let rx = rank_average(x);
    let ry = rank_average(y);
    let observed = [kendall_tau_b(x, y), pearson_r(&rx, &ry), pearson_r(x, y)];
    let mut hits = [0u64; 3];
    let mut count = 0u64;
    let mut perm: Vec<usize> = (0..n).collect();
    let (mut px, mut prx) = (vec![0.0; n], vec![0.0; n]);
    let mut tally = |perm: &[usize], hits: &mut [u64; 3]| {
        for (i, &j) in perm.iter().enumerate() {
            px[i] = x[j];
            prx[i] = rx[j];
        }
        let stats = [
            observed[0].and_then(|_| kendall_tau_b(&px, y)),
            observed[1].and_then(|_| pearson_r(&prx, &ry)),
            observed[2].and_then(|_| pearson_r(&px, y)),
        ];
        for ((h, s), o) in hits.iter_mut().zip(stats).zip(observed) {
            if let (Some(s), Some(o)) = (s, o) {
                if s.abs() >= o.abs() - 1e-12 {
                    *h += 1;
                }
            }
        }
    };
    let exact = factorial_at_most(n, u64::from(cfg.permutations));
    if exact {
        // Heap's algorithm (iterative): every permutation exactly once.
        let mut c = vec![0usize; n];
        tally(&perm, &mut hits);
        count += 1;
        let mut i = 1;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    perm.swap(0, i);
                } else {
                    perm.swap(c[i], i);
                }
                tally(&perm, &mut hits);
                count += 1;
                c[i] += 1;
                i = 1;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    } else {
        let mut rng = Rng::new(cfg.seed);
        for _ in 0..cfg.permutations {
            for i in (1..n).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                perm.swap(i, j);
            }
            tally(&perm, &mut hits);
            count += 1;
        }
    }
    let p = |k: usize| {
        observed[k].map(|_| {
            if exact {
                hits[k] as f64 / count as f64
            } else {
                (1 + hits[k]) as f64 / (1 + count) as f64
            }
        })
    };
    PermutationTest {
        kendall_tau: p(0),
        spearman_rho: p(1),
        pearson_r: p(2),
        permutations: count,
        exact,
    }
}

/// A paired permutation test of a mean difference over inputs: the
/// per-input differences `diffs` (e.g. pairs agreeing under one condition
/// minus under another) have their signs flipped (the two conditions swapped
/// within an input), and the p-value is the share of sign patterns with
/// |Σ ± d| ≥ |Σ d| (a margin of 1e-12 absorbs rounding).
///
/// * Exact when 2^k ≤ `cfg.permutations` (k inputs; k ≤ 13 at the default
///   10,000): all 2^k patterns, the identity included, p = #{…} / 2^k.
/// * Otherwise `cfg.permutations` seeded patterns (one fair coin per input
///   from [`Rng`]), p = (1 + #{…}) / (1 + N).
///
/// Returns `(p, patterns evaluated, exact)`; `p` is `None` without inputs.
pub fn sign_flip_test(diffs: &[f64], cfg: PermutationConfig) -> (Option<f64>, u64, bool) {
    let k = diffs.len();
    if k == 0 {
        return (None, 0, true);
    }
    let observed: f64 = diffs.iter().sum::<f64>().abs();
    let hit = |s: f64| s.abs() >= observed - 1e-12;
    if k < 64 && (1u64 << k) <= u64::from(cfg.permutations) {
        let total = 1u64 << k;
        let hits = (0..total)
            .filter(|&m| {
                hit(diffs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| if m >> i & 1 == 1 { -d } else { *d })
                    .sum())
            })
            .count() as u64;
        return (Some(hits as f64 / total as f64), total, true);
    }
    let mut rng = Rng::new(cfg.seed);
    let mut hits = 0u64;
    for _ in 0..cfg.permutations {
        let s: f64 = diffs
            .iter()
            .map(|d| if rng.next_u64() >> 63 == 1 { -d } else { *d })
            .sum();
        if hit(s) {
            hits += 1;
        }
    }
    let n = u64::from(cfg.permutations);
    (Some((1 + hits) as f64 / (1 + n) as f64), n, false)
}

/// Whether n! ≤ limit.
fn factorial_at_most(n: usize, limit: u64) -> bool {
    let mut f: u64 = 1;
    for i in 2..=n as u64 {
        f = match f.checked_mul(i) {
            Some(v) => v,
            None => return false,
        };
        if f > limit {
            return false;
        }
    }
    true
}

/// 95% paired-bootstrap intervals of the three correlations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationIntervals {
    pub kendall_tau: Option<[f64; 2]>,
    pub spearman_rho: Option<[f64; 2]>,
    pub pearson_r: Option<[f64; 2]>,
    pub resamples: u32,
    /// Resamples in which every correlated factor had a score for both agents
    /// (the others are left out of the intervals).
    pub resamples_used: u32,
    /// Per factor (in column order): the 95% interval of agent − reference
    /// factor score over the resamples where both are scored.
    pub score_differences: Vec<Option<[f64; 2]>>,
}

/// Paired cluster bootstrap of the alignment between two agents.
///
/// `agent_cols[i]` and `reference_cols[i]` are the columns of the same factor
/// in the two tables. Each resample draws the inputs once
/// ([`ClusterTable::bootstrap_paired`]), recomputes both agents' factor scores
/// on the drawn inputs and correlates them; the intervals are the 2.5th and
/// 97.5th percentiles. A resample where some factor has no countable pair for
/// either agent is left out; one where a correlation is undefined (a constant
/// vector) is left out of that correlation's interval.
///
/// # Errors
/// [`ClusterMismatch`] when the tables do not have the same clusters.
///
/// # Panics
/// If the column lists differ in length or name a column a table lacks.
pub fn alignment_intervals(
    agent: &ClusterTable,
    agent_cols: &[usize],
    reference: &ClusterTable,
    reference_cols: &[usize],
    cfg: BootstrapConfig,
) -> Result<CorrelationIntervals, ClusterMismatch> {
    assert_eq!(
        agent_cols.len(),
        reference_cols.len(),
        "one column per factor in each table"
    );
    assert!(
        agent_cols.iter().all(|&c| c < agent.n_factors()),
        "agent column out of range"
    );
    assert!(
        reference_cols.iter().all(|&c| c < reference.n_factors()),
        "reference column out of range"
    );
    let [xa, xr] = agent.bootstrap_paired(reference, cfg)?;
    let mut stats: [Vec<f64>; 3] = Default::default();
    let mut used = 0u32;
    let n = agent_cols.len();
    let mut diffs: Vec<Vec<f64>> = vec![Vec::with_capacity(xa.len()); n];
    let (mut x, mut y) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (ra, rr) in xa.iter().zip(&xr) {
        x.clear();
        y.clear();
        x.extend(agent_cols.iter().map(|&c| ra[c]));
        y.extend(reference_cols.iter().map(|&c| rr[c]));
        for ((d, a), b) in diffs.iter_mut().zip(&x).zip(&y) {
            if !a.is_nan() && !b.is_nan() {
                d.push(a - b);
            }
        }
        if x.iter().chain(&y).any(|v| v.is_nan()) {
            continue;
        }
        used += 1;
        let rx = rank_average(&x);
        let ry = rank_average(&y);
        for (s, v) in stats.iter_mut().zip([
            kendall_tau_b(&x, &y),
            pearson_r(&rx, &ry),
            pearson_r(&x, &y),
        ]) {
            if let Some(v) = v {
                s.push(v);
            }
        }
    }
    let [mut t, mut r, mut p] = stats;
    Ok(CorrelationIntervals {
        kendall_tau: percentile_interval(&mut t, 0.95),
        spearman_rho: percentile_interval(&mut r, 0.95),
        pearson_r: percentile_interval(&mut p, 0.95),
        resamples: cfg.resamples,
        resamples_used: used,
        score_differences: diffs
            .iter_mut()
            .map(|d| percentile_interval(d, 0.95))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::sign_flip_test;

    #[test]
    fn sign_flips_are_enumerated_or_drawn() {
        let cfg = super::PermutationConfig::default();
        // Three inputs moved by +1, one by −1: |sum| ≥ 2 in 10 of 16 patterns
        // (all four signs alike: ±4, two; three alike: ±2, eight).
        assert_eq!(
            sign_flip_test(&[1.0, 1.0, 1.0, -1.0], cfg),
            (Some(10.0 / 16.0), 16, true)
        );
        assert_eq!(
            sign_flip_test(&[0.0, 0.0], cfg).0,
            Some(1.0),
            "no difference"
        );
        assert_eq!(sign_flip_test(&[], cfg), (None, 0, true));
        // 20 inputs: 2^20 patterns > 10,000, so drawn; a clear shift is rare.
        let (p, n, exact) = sign_flip_test(&[1.0; 20], cfg);
        assert_eq!((n, exact), (10_000, false));
        let p = p.unwrap();
        assert!(p < 0.001, "{p}");
        assert_eq!(sign_flip_test(&[1.0; 20], cfg).0, Some(p), "seeded");
    }

    use super::*;
    use crate::stats::{spearman_rho, Outcome};

    #[test]
    fn exact_enumeration_by_hand() {
        // n = 3, x = y = [1, 2, 3]: of the 6 orders only the identity has
        // |τ| = 1 … and its reverse (τ = −1). p = 2/6.
        let t = permutation_test(
            &[1.0, 2.0, 3.0],
            &[1.0, 2.0, 3.0],
            PermutationConfig::default(),
        );
        assert!(t.exact);
        assert_eq!(t.permutations, 6);
        assert_eq!(t.kendall_tau, Some(2.0 / 6.0));
        assert_eq!(t.spearman_rho, Some(2.0 / 6.0));
        assert_eq!(t.pearson_r, Some(2.0 / 6.0));
    }

    #[test]
    fn exact_p_values_for_four_factors() {
        // y = [1, 2, 3, 4], x = [1, 2, 4, 3]: τ = 4/6. Of the 24 orders, τ is
        // ±1 for 2, ±2/3 for 6 (3 each side) → |τ| ≥ 2/3 in 8: p = 1/3.
        let t = permutation_test(
            &[1.0, 2.0, 4.0, 3.0],
            &[1.0, 2.0, 3.0, 4.0],
            PermutationConfig::default(),
        );
        assert_eq!(t.permutations, 24);
        assert!((t.kendall_tau.unwrap() - 8.0 / 24.0).abs() < 1e-15);
    }

    #[test]
    fn monte_carlo_is_seeded_and_plausible() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y = [0.0, 2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0, 8.0];
        let cfg = PermutationConfig::default();
        let a = permutation_test(&x, &y, cfg);
        assert!(!a.exact);
        assert_eq!(a.permutations, 10_000);
        assert_eq!(a, permutation_test(&x, &y, cfg));
        // τ = 41/45 on 10 points: the exact two-sided p is about 5.5e-6, so
        // almost no shuffle reaches it and p is near 1/10001.
        assert!(a.kendall_tau.unwrap() < 0.001, "{a:?}");
        // Unrelated vectors are not significant.
        let z = [3.0, 9.0, 1.0, 7.0, 0.0, 8.0, 2.0, 6.0, 5.0, 4.0];
        assert!(spearman_rho(&x, &z).unwrap().abs() < 0.3);
        assert!(permutation_test(&x, &z, cfg).spearman_rho.unwrap() > 0.2);
        // A constant vector: no statistic, no p-value.
        let c = permutation_test(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], cfg);
        assert_eq!(
            (c.kendall_tau, c.spearman_rho, c.pearson_r),
            (None, None, None)
        );
    }

    #[test]
    fn paired_bootstrap_shares_the_draws() {
        // Agent and reference tables over 30 clusters with two factors each.
        let mut a = ClusterTable::new(2, 30);
        let mut b = ClusterTable::new(3, 30);
        for c in 0..30u32 {
            for k in 0..3 {
                let o = if (c + k) % 3 == 0 {
                    Outcome::Discordant
                } else {
                    Outcome::Concordant
                };
                a.add(0, c, o);
                a.add(
                    1,
                    c,
                    if c % 4 == 0 {
                        Outcome::Concordant
                    } else {
                        Outcome::Discordant
                    },
                );
                b.add(2, c, o);
                b.add(0, c, Outcome::Tie);
                b.add(
                    1,
                    c,
                    if c % 4 == 0 {
                        Outcome::Concordant
                    } else {
                        Outcome::Discordant
                    },
                );
            }
        }
        let cfg = BootstrapConfig {
            resamples: 300,
            seed: 3,
        };
        let [ra, rb] = a.bootstrap_paired(&b, cfg).unwrap();
        let bits =
            |v: &Vec<Vec<f64>>| -> Vec<u64> { v.iter().flatten().map(|x| x.to_bits()).collect() };
        assert_eq!(bits(&ra), bits(&a.bootstrap(cfg)));
        // Column 0 of `a` and column 2 of `b` hold the same outcomes: paired
        // resampling gives them identical replicates (independent draws would not).
        assert!(ra
            .iter()
            .zip(&rb)
            .all(|(x, y)| x[0].to_bits() == y[2].to_bits()));
        assert!(ra
            .iter()
            .zip(&rb)
            .all(|(x, y)| x[1].to_bits() == y[1].to_bits()));
        // Hence correlating (a: 0, 1) with (b: 2, 1) gives τ = 1 in every resample… with 2 factors.
        let iv = alignment_intervals(&a, &[0, 1], &b, &[2, 1], cfg).unwrap();
        assert_eq!(iv.kendall_tau, Some([1.0, 1.0]));
        assert_eq!(iv.resamples_used, 300);
        assert!(a.bootstrap_paired(&ClusterTable::new(1, 29), cfg).is_err());
    }
}
