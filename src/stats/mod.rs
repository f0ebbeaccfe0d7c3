//! Statistics: the factor score with its setting-dependent tie policy
//! (METHOD.md §2), the cluster bootstrap, and the correlations used for
//! factor-level alignment (§3).

mod alignment;
mod correlation;
pub mod joint;
mod par;
mod rng;

pub use alignment::{
    alignment_intervals, permutation_test, sign_flip_test, CorrelationIntervals, PermutationConfig,
    PermutationTest,
};
pub use correlation::{kendall_tau_b, pearson_r, rank_average, spearman_rho};
pub use joint::{
    fit_joint, Covariate, JointConfig, JointFactor, JointFit, JointPairs, PairTest, Refit,
};
pub use rng::Rng;

use serde::{Deserialize, Serialize};

/// Where an agent's preferences come from (METHOD.md §1). It decides how ties count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Dataset labels.
    Human,
    /// A model judging dataset pairs.
    Evaluation,
    /// A model writing responses for score levels 1..5.
    Generation,
    /// A writer improving a response after feedback.
    Improvement,
}

impl Setting {
    pub fn id(self) -> &'static str {
        match self {
            Setting::Human => "human",
            Setting::Evaluation => "evaluation",
            Setting::Generation => "generation",
            Setting::Improvement => "improvement",
        }
    }

    /// The tie policy in words, for reports.
    pub fn tie_policy(self) -> &'static str {
        match self {
            Setting::Human | Setting::Evaluation => {
                "pairs with a factor tie are dropped; T counts pairs the agent called a tie while the factor differs"
            }
            Setting::Generation | Setting::Improvement => {
                "the agent never ties; T counts pairs with a factor tie, which stay in the denominator"
            }
        }
    }
}

/// The tolerance under which two factor values tie (so that 1/3 and 2/6 tie).
pub const FACTOR_TIE_TOLERANCE: f64 = 1e-9;

/// M_f(a, b) = sign(v(a) − v(b)), 0 when the difference is below
/// [`FACTOR_TIE_TOLERANCE`]. Returns `None` when either value is missing
/// (NaN): such a pair cannot be compared ([`Outcome::Missing`]), in every setting.
pub fn compare(va: f64, vb: f64) -> Option<i8> {
    let d = va - vb;
    if d.is_nan() {
        None
    } else if d.abs() < FACTOR_TIE_TOLERANCE {
        Some(0)
    } else if d > 0.0 {
        Some(1)
    } else {
        Some(-1)
    }
}

/// How one pair counts for one factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Concordant,
    Discordant,
    Tie,
    /// Not counted by the setting's tie policy (a factor tie in the human
    /// and evaluation settings).
    Dropped,
    /// Not comparable: a value is missing (a factor value whose extraction
    /// failed, or an agent's verdict). Counted apart from `Dropped`.
    Missing,
}

/// Classifies a pair from the agent's preference `p` and the factor comparison `m`
/// (both in {−1, 0, +1}) under the setting's tie policy.
pub fn classify(setting: Setting, p: i8, m: i8) -> Outcome {
    match setting {
        Setting::Human | Setting::Evaluation => {
            if m == 0 {
                Outcome::Dropped
            } else if p == 0 {
                Outcome::Tie
            } else if p == m {
                Outcome::Concordant
            } else {
                Outcome::Discordant
            }
        }
        Setting::Generation | Setting::Improvement => {
            if p == 0 {
                // These settings have no agent ties; a stray one cannot be scored.
                Outcome::Dropped
            } else if m == 0 {
                Outcome::Tie
            } else if p == m {
                Outcome::Concordant
            } else {
                Outcome::Discordant
            }
        }
    }
}

/// C, D, T, dropped and missing pairs for one factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub concordant: u64,
    pub discordant: u64,
    pub ties: u64,
    pub dropped: u64,
    /// Pairs with a missing value ([`Outcome::Missing`]).
    #[serde(default)]
    pub missing: u64,
}

impl Counts {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Concordant => self.concordant += 1,
            Outcome::Discordant => self.discordant += 1,
            Outcome::Tie => self.ties += 1,
            Outcome::Dropped => self.dropped += 1,
            Outcome::Missing => self.missing += 1,
        }
    }

    /// All pairs considered, dropped and missing ones included.
    pub fn n_pairs(&self) -> u64 {
        self.concordant + self.discordant + self.ties + self.dropped + self.missing
    }

    /// (C − D) / (C + D + T), or `None` when no pair counts.
    pub fn score(&self) -> Option<f64> {
        score_of(
            self.concordant as f64,
            self.discordant as f64,
            self.ties as f64,
        )
    }
}

fn score_of(c: f64, d: f64, t: f64) -> Option<f64> {
    let n = c + d + t;
    (n > 0.0).then(|| (c - d) / n)
}

/// Some clusters' C, D, T counts, one `[u32; 3]` per factor: a group of a
/// table's pairs (see [`ClusterTable::bootstrap_group_differences`]).
pub type SparseCells = Vec<(u32, Vec<[u32; 3]>)>;

/// Which of a cluster's C, D, T counts an outcome adds to (`None`: dropped
/// or missing pairs are not counted).
#[inline]
pub fn cell_of(o: Outcome) -> Option<usize> {
    match o {
        Outcome::Concordant => Some(0),
        Outcome::Discordant => Some(1),
        Outcome::Tie => Some(2),
        Outcome::Dropped | Outcome::Missing => None,
    }
}

/// Bootstrap settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (0 = no intervals).
    pub resamples: u32,
    /// Seed of the resampling; the same seed gives the same intervals bit for bit.
    pub seed: u64,
}

impl BootstrapConfig {
    /// The most resamples a run may ask for (`--bootstrap`, the app and the
    /// JS library refuse more): 100000 resamples already give intervals whose
    /// ends move by less than the data's own noise, and their storage is
    /// allocated as they are drawn, at most 8 bytes × factors each.
    pub const MAX_RESAMPLES: u32 = 100_000;
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 1000,
            seed: 42,
        }
    }
}

/// Intervals from fewer inputs than this are flagged (CLI `!`, app, widget,
/// the report's `few_inputs`). The cluster bootstrap's percentile interval
/// undercovers on few inputs: on SummEval subsamples (tests/coverage.rs) the
/// nominal 95% interval of a factor score covered the full-data score about
/// 51% of the time with 2 inputs, 73% with 3, 84% with 5, 91% with 10 and
/// 95% with 20.
pub const MIN_INPUTS_FOR_INTERVALS: u64 = 10;

/// The factor score of one factor with its counts and interval.
#[derive(Clone, Debug, PartialEq)]
pub struct FactorScore {
    pub counts: Counts,
    /// (C − D) / (C + D + T); `None` when no pair counts.
    pub score: Option<f64>,
    /// 95% percentile bootstrap interval over resampled clusters.
    pub ci95: Option<[f64; 2]>,
    /// Resamples with a countable pair (the others are left out of the
    /// interval); 0 without a bootstrap.
    pub resamples_used: u32,
    /// Inputs with at least one countable pair for this factor.
    pub inputs: u64,
}

/// Per-cluster outcome counts for several factors, ready for scoring and the bootstrap.
///
/// Layout is cluster-major: `cells[cluster * n_factors + factor]` = [C, D, T].
#[derive(Clone, Debug)]
pub struct ClusterTable {
    n_factors: usize,
    n_clusters: usize,
    cells: Vec<[u32; 3]>,
    totals: Vec<Counts>,
}

impl ClusterTable {
    pub fn new(n_factors: usize, n_clusters: usize) -> Self {
        ClusterTable {
            n_factors,
            n_clusters,
            cells: vec![[0; 3]; n_factors * n_clusters],
            totals: vec![Counts::default(); n_factors],
        }
    }

    /// Records one pair's outcome for a factor.
    #[inline]
    pub fn add(&mut self, factor: usize, cluster: u32, o: Outcome) {
        self.totals[factor].add(o);
        if let Some(k) = cell_of(o) {
            self.cells[cluster as usize * self.n_factors + factor][k] += 1;
        }
    }

    /// The C, D, T counts of one cluster for every factor.
    pub fn row(&self, cluster: usize) -> &[[u32; 3]] {
        &self.cells[cluster * self.n_factors..(cluster + 1) * self.n_factors]
    }

    /// For each group of this table's pairs (`groups[g]`: its per-cluster
    /// C, D, T counts, one `[u32; 3]` per factor; every count at most the
    /// table's), the bootstrap replicates of the group's score minus the
    /// rest's (the table less the group), per factor, resamples where
    /// either side has no countable pair left out. The draws are those of
    /// [`ClusterTable::bootstrap`] for `cfg`, and each group's replicates
    /// equal the differences of `group.bootstrap_paired(&rest, cfg)` (same
    /// integer sums); one pass of draws serves every group.
    pub fn bootstrap_group_differences(
        &self,
        groups: &[SparseCells],
        cfg: BootstrapConfig,
    ) -> Vec<Vec<Vec<f64>>> {
        let (nf, n) = (self.n_factors, self.n_clusters);
        let mut out = vec![vec![Vec::new(); nf]; groups.len()];
        if n == 0 {
            return out;
        }
        let mut rng = Rng::new(cfg.seed);
        let mut w = vec![0u64; n];
        let mut total = vec![[0u64; 3]; nf];
        let mut sub = vec![[0u64; 3]; nf];
        let score = |s: [u64; 3]| score_of(s[0] as f64, s[1] as f64, s[2] as f64);
        for _ in 0..cfg.resamples {
            w.iter_mut().for_each(|x| *x = 0);
            for _ in 0..n {
                w[rng.below(n as u64) as usize] += 1;
            }
            total.iter_mut().for_each(|s| *s = [0; 3]);
            for (c, &k) in w.iter().enumerate().filter(|(_, &k)| k > 0) {
                for (s, cell) in total.iter_mut().zip(self.row(c)) {
                    for j in 0..3 {
                        s[j] += k * u64::from(cell[j]);
                    }
                }
            }
            for (g, rows) in groups.iter().enumerate() {
                sub.iter_mut().for_each(|s| *s = [0; 3]);
                for (c, row) in rows {
                    let k = w.get(*c as usize).copied().unwrap_or(0);
                    if k == 0 {
                        continue;
                    }
                    for (s, cell) in sub.iter_mut().zip(row) {
                        for j in 0..3 {
                            s[j] += k * u64::from(cell[j]);
                        }
                    }
                }
                for f in 0..nf {
                    let rest = [0, 1, 2].map(|j| total[f][j].saturating_sub(sub[f][j]));
                    if let (Some(a), Some(b)) = (score(sub[f]), score(rest)) {
                        out[g][f].push(a - b);
                    }
                }
            }
        }
        out
    }

    pub fn totals(&self, factor: usize) -> Counts {
        self.totals[factor]
    }

    /// Number of factors (columns).
    pub fn n_factors(&self) -> usize {
        self.n_factors
    }

    /// Number of clusters (inputs).
    pub fn n_clusters(&self) -> usize {
        self.n_clusters
    }

    /// Bootstrap replicates of two agents' tables over the *same* resampled
    /// clusters: each resample draws clusters once and sums both tables over
    /// that draw. The first result equals `self.bootstrap(cfg)` bit for bit
    /// (same draws, same arithmetic); the second is `other`'s under those draws.
    ///
    /// Both tables must index the same inputs: cluster id `c` must mean the
    /// same dataset input in both (for a writer scored on its own responses,
    /// the input the responses were written for).
    ///
    /// # Errors
    /// [`ClusterMismatch`] when the tables have different numbers of clusters.
    pub fn bootstrap_paired(
        &self,
        other: &ClusterTable,
        cfg: BootstrapConfig,
    ) -> Result<[Vec<Vec<f64>>; 2], ClusterMismatch> {
        if self.n_clusters != other.n_clusters {
            return Err(ClusterMismatch {
                left: self.n_clusters,
                right: other.n_clusters,
            });
        }
        let r = cfg.resamples as usize;
        if self.n_clusters == 0 {
            return Ok([
                vec![vec![f64::NAN; self.n_factors]; r],
                vec![vec![f64::NAN; other.n_factors]; r],
            ]);
        }
        let tables = [self, other];
        let mut out = [Vec::new(), Vec::new()];
        let mut rng = Rng::new(cfg.seed);
        let mut sums = [
            vec![[0u64; 3]; self.n_factors],
            vec![[0u64; 3]; other.n_factors],
        ];
        for _ in 0..cfg.resamples {
            sums.iter_mut()
                .for_each(|s| s.iter_mut().for_each(|s| *s = [0; 3]));
            for _ in 0..self.n_clusters {
                let c = rng.below(self.n_clusters as u64) as usize;
                for (t, s) in tables.iter().zip(sums.iter_mut()) {
                    let nf = t.n_factors;
                    let row = &t.cells[c * nf..(c + 1) * nf];
                    for (s, cell) in s.iter_mut().zip(row) {
                        s[0] += cell[0] as u64;
                        s[1] += cell[1] as u64;
                        s[2] += cell[2] as u64;
                    }
                }
            }
            for (o, s) in out.iter_mut().zip(&sums) {
                o.push(
                    s.iter()
                        .map(|s| {
                            score_of(s[0] as f64, s[1] as f64, s[2] as f64).unwrap_or(f64::NAN)
                        })
                        .collect(),
                );
            }
        }
        Ok(out)
    }

    /// Bootstrap replicates: for each resample, the score of every factor
    /// (`NaN` where a resample has no countable pair). Clusters are drawn with
    /// replacement, the same draw for all factors.
    pub fn bootstrap(&self, cfg: BootstrapConfig) -> Vec<Vec<f64>> {
        let nf = self.n_factors;
        let nc = self.n_clusters;
        if nc == 0 {
            return vec![vec![f64::NAN; nf]; cfg.resamples as usize];
        }
        // Resample r makes draws r·nc … (r + 1)·nc − 1 of the generator, so
        // ranges of resamples can run apart (natively on every core) and
        // give the sequential results; the sums are integers.
        let work = (cfg.resamples as usize).saturating_mul(nc);
        let parts = par::map_ranges(cfg.resamples as usize, work, |range| {
            let mut rng = Rng::new(cfg.seed).advanced(range.start as u64 * nc as u64);
            // Grown as resamples are drawn: nothing is reserved up front.
            let mut out = Vec::new();
            let mut sums = vec![[0u64; 3]; nf];
            for _ in range {
                sums.iter_mut().for_each(|s| *s = [0; 3]);
                for _ in 0..nc {
                    let c = rng.below(nc as u64) as usize;
                    let row = &self.cells[c * nf..(c + 1) * nf];
                    for (s, cell) in sums.iter_mut().zip(row) {
                        s[0] += cell[0] as u64;
                        s[1] += cell[1] as u64;
                        s[2] += cell[2] as u64;
                    }
                }
                out.push(
                    sums.iter()
                        .map(|s| {
                            score_of(s[0] as f64, s[1] as f64, s[2] as f64).unwrap_or(f64::NAN)
                        })
                        .collect::<Vec<f64>>(),
                );
            }
            out
        });
        parts.into_iter().flatten().collect()
    }

    /// Scores with 95% intervals for every factor.
    pub fn scores(&self, cfg: BootstrapConfig) -> Vec<FactorScore> {
        let reps = if cfg.resamples > 0 {
            self.bootstrap(cfg)
        } else {
            Vec::new()
        };
        (0..self.n_factors)
            .map(|f| {
                let counts = self.totals[f];
                let score = counts.score();
                let mut xs: Vec<f64> = reps.iter().map(|r| r[f]).filter(|x| !x.is_nan()).collect();
                let resamples_used = xs.len() as u32;
                let ci95 = score.and_then(|_| percentile_interval(&mut xs, 0.95));
                let inputs = (0..self.n_clusters)
                    .filter(|&c| self.cells[c * self.n_factors + f].iter().any(|&v| v > 0))
                    .count() as u64;
                FactorScore {
                    counts,
                    score,
                    ci95,
                    resamples_used,
                    inputs,
                }
            })
            .collect()
    }
}

/// Two agents' cluster tables do not cover the same inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterMismatch {
    /// Clusters of the first (agent's) table.
    pub left: usize,
    /// Clusters of the second (reference's) table.
    pub right: usize,
}

impl std::fmt::Display for ClusterMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the agents were scored on different inputs ({} vs {} clusters); a paired bootstrap needs the same cluster ids",
            self.left, self.right
        )
    }
}

impl std::error::Error for ClusterMismatch {}

/// The central `level` percentile interval of `xs` (numpy's default linear
/// interpolation), or `None` for no data.
pub fn percentile_interval(xs: &mut [f64], level: f64) -> Option<[f64; 2]> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Some([quantile_sorted(xs, alpha), quantile_sorted(xs, 1.0 - alpha)])
}

/// Linear-interpolation quantile of sorted data.
pub fn quantile_sorted(xs: &[f64], q: f64) -> f64 {
    let pos = q * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One pass of draws for every group gives each group's paired
    /// bootstrap against the rest, bit for bit.
    #[test]
    fn group_differences_equal_the_paired_bootstrap_of_group_and_rest() {
        let mut rng = Rng::new(5);
        let (nf, n) = (2, 23);
        let outcomes = [
            Outcome::Concordant,
            Outcome::Discordant,
            Outcome::Tie,
            Outcome::Dropped,
        ];
        let mut total = ClusterTable::new(nf, n);
        let mut group = ClusterTable::new(nf, n);
        let mut rest = ClusterTable::new(nf, n);
        let mut rows: std::collections::BTreeMap<u32, Vec<[u32; 3]>> = Default::default();
        for _ in 0..200 {
            let c = rng.below(n as u64) as u32;
            let in_group = rng.below(3) == 0;
            for f in 0..nf {
                let o = outcomes[rng.below(4) as usize];
                total.add(f, c, o);
                if in_group {
                    group.add(f, c, o);
                    if let Some(k) = cell_of(o) {
                        rows.entry(c).or_insert_with(|| vec![[0; 3]; nf])[f][k] += 1;
                    }
                } else {
                    rest.add(f, c, o);
                }
            }
        }
        let cfg = BootstrapConfig {
            resamples: 300,
            seed: 9,
        };
        let sparse: Vec<(u32, Vec<[u32; 3]>)> = rows.into_iter().collect();
        let got = total.bootstrap_group_differences(&[sparse], cfg);
        let [bg, br] = group.bootstrap_paired(&rest, cfg).unwrap();
        for f in 0..nf {
            let want: Vec<f64> = bg
                .iter()
                .zip(&br)
                .map(|(g, r)| g[f] - r[f])
                .filter(|x| !x.is_nan())
                .collect();
            assert!(!want.is_empty());
            assert_eq!(got[0][f], want, "factor {f}");
        }
    }

    #[test]
    fn tie_policy_by_setting() {
        use Outcome::*;
        for s in [Setting::Human, Setting::Evaluation] {
            assert_eq!(classify(s, 1, 1), Concordant);
            assert_eq!(classify(s, -1, 1), Discordant);
            assert_eq!(classify(s, 1, 0), Dropped);
            assert_eq!(classify(s, 0, 0), Dropped);
            assert_eq!(classify(s, 0, -1), Tie);
        }
        for s in [Setting::Generation, Setting::Improvement] {
            assert_eq!(classify(s, -1, -1), Concordant);
            assert_eq!(classify(s, 1, -1), Discordant);
            assert_eq!(classify(s, 1, 0), Tie);
            assert_eq!(classify(s, 0, 1), Dropped);
        }
    }

    #[test]
    fn compare_ties_ratios() {
        assert_eq!(compare(1.0 / 3.0, 2.0 / 6.0), Some(0));
        assert_eq!(compare(0.1 + 0.2, 0.3), Some(0));
        assert_eq!(compare(2.0, 1.0), Some(1));
        assert_eq!(compare(1.0, 1.0 + 1e-6), Some(-1));
        assert_eq!(compare(f64::NAN, 1.0), None);
        assert_eq!(compare(1.0, f64::NAN), None);
    }

    /// With enough work to run on several threads, the bootstrap gives the
    /// sequential draws' results bit for bit (`bootstrap_paired` draws in
    /// one sequence), and `Rng::advanced` is the generator after the draws.
    #[test]
    fn spread_bootstrap_equals_the_sequential_draws() {
        let mut rng = Rng::new(9);
        let jumped = rng.advanced(1000);
        (0..1000).for_each(|_| {
            rng.next_u64();
        });
        assert_eq!(rng.next_u64(), jumped.clone().next_u64());
        let nc = 3000;
        let mut t = ClusterTable::new(2, nc);
        let mut other = ClusterTable::new(1, nc);
        for c in 0..nc as u32 {
            for i in 0..(c % 5) {
                let o = match (c + i) % 3 {
                    0 => Outcome::Concordant,
                    1 => Outcome::Discordant,
                    _ => Outcome::Tie,
                };
                t.add((i % 2) as usize, c, o);
                other.add(0, c, o);
            }
        }
        let cfg = BootstrapConfig {
            resamples: 400,
            seed: 42,
        };
        assert!(cfg.resamples as usize * nc >= par::PARALLEL_MIN_WORK);
        let [seq, _] = t.bootstrap_paired(&other, cfg).unwrap();
        let spread = t.bootstrap(cfg);
        let bits =
            |v: &Vec<Vec<f64>>| -> Vec<u64> { v.iter().flatten().map(|x| x.to_bits()).collect() };
        assert_eq!(bits(&spread), bits(&seq));
    }

    #[test]
    fn percentile_matches_numpy() {
        // numpy.percentile([1,2,3,4,5,6,7,8,9,10], [2.5, 97.5]) = [1.225, 9.775]
        let mut xs: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let [lo, hi] = percentile_interval(&mut xs, 0.95).unwrap();
        assert!(
            (lo - 1.225).abs() < 1e-12 && (hi - 9.775).abs() < 1e-12,
            "{lo} {hi}"
        );
    }
}

/// How often a judge picks what the humans picked (METHOD.md §3, §7).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Share of pairs where the judge's choice equals the human label; a judge
    /// "tie" counts as disagreement, and so does (both orders) a pair whose
    /// two verdicts differ. `None` for no pairs.
    pub rate: Option<f64>,
    /// Share of pairs the judge called a tie (in both orders: a tie in both;
    /// position flips are not ties, see `flip_rate`).
    pub tie_rate: Option<f64>,
    pub n_pairs: u64,
    /// Every verdict counted on its own and averaged over the orders shown: a
    /// position flip counts one half. In single order the same as `rate`.
    /// This is the agreement comparable between single-order and both-order
    /// judges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_averaged: Option<f64>,
    /// Both orders: share of pairs whose verdict followed the position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip_rate: Option<f64>,
    /// Both orders: share of pairs called a tie in one order only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_tie_rate: Option<f64>,
}

/// Agreement between human labels and a judge's verdicts on the same pairs.
/// Pairs where the human label is a tie are not counted (they are dropped at load).
pub fn agreement(
    human: &[crate::data::Preference],
    judge: &[crate::data::Preference],
) -> Agreement {
    use crate::data::Preference;
    assert_eq!(human.len(), judge.len(), "one verdict per pair");
    let (mut n, mut agree, mut ties) = (0u64, 0u64, 0u64);
    for (&h, &j) in human.iter().zip(judge) {
        if h == Preference::Tie {
            continue;
        }
        n += 1;
        if j == Preference::Tie {
            ties += 1;
        } else if j == h {
            agree += 1;
        }
    }
    let share = |k: u64| (n > 0).then(|| k as f64 / n as f64);
    Agreement {
        rate: share(agree),
        tie_rate: share(ties),
        n_pairs: n,
        order_averaged: share(agree),
        flip_rate: None,
        half_tie_rate: None,
    }
}

#[cfg(test)]
mod agreement_tests {
    use super::*;
    use crate::data::Preference::{Tie, A, B};

    #[test]
    fn judge_ties_disagree_and_human_ties_do_not_count() {
        let a = agreement(&[A, B, A, B, Tie], &[A, A, Tie, B, A]);
        assert_eq!(a.n_pairs, 4);
        assert_eq!(a.rate, Some(0.5));
        assert_eq!(a.tie_rate, Some(0.25));
        assert_eq!(agreement(&[], &[]).rate, None);
    }
}
