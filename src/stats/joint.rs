//! The joint model of preference on all factor differences (beyond the paper):
//! a Bradley–Terry / logistic regression without intercept,
//!
//! ```text
//! P(a preferred over b) = σ(Σ_f β_f · x_f),   x_f = sign(v_f(a) − v_f(b)) ∈ {−1, 0, +1},
//! ```
//!
//! fitted with a small L2 penalty.
//!
//! **What β_f means.** β_f is the change in the log-odds of preferring a over
//! b associated with factor f favouring a (x_f = +1 rather than 0), given the
//! signs of the other factors. It is an association within this model, and
//! the model is surely misspecified (preferences depend on more than the
//! signs of these factors): β_f is *not* the effect of changing f "with the
//! other factors held fixed", and an interval that covers 0 is not evidence
//! of no effect. Where the factor score (METHOD.md §2) is f's association
//! on its own, β_f is what is left of it once the other factors' signs are
//! known; two factors whose signs go together (|correlation| ≥
//! [`COLLINEAR`]) cannot be told apart, and are tested together instead
//! ([`PairTest`]).
//!
//! **Why the sign.** The earlier model was linear in the raw differences
//! divided by their root mean square ([`Covariate::Scaled`], kept for
//! comparison). A few pairs with extreme differences drove it: on MT-Bench,
//! length alone, leaving out the 2 of 75 inputs with the largest length
//! difference against the preference moves its β from 0.32 to 0.66 (+106%);
//! the sign model's moves from 0.77 to 0.84 (+9%). For a judge that always
//! picks the longer response, novel_words_count, which goes with length,
//! gets β 1.99 beside length's 4.10 in the scaled model, 0.77 beside 3.59
//! with signs (tests/joint.rs).
//!
//! Choices, all visible in the output:
//!
//! * **Pairs.** Only pairs with a strict preference are used (a judge's "tie"
//!   pairs are dropped and counted first), and only pairs where every factor's
//!   value is known (a pair with any missing — non-finite — difference is
//!   dropped and counted). A difference below [`FACTOR_TIE_TOLERANCE`] counts
//!   as exactly 0, as in §2 (so 1/3 and 2/6 do not differ).
//! * **Covariate.** x_f is the sign of the difference, oriented by the
//!   preference; swapping a and b in a pair negates it with the preference,
//!   so the fit does not depend on which response is called a. A factor
//!   whose sign is 0 in every pair used has no coefficient: it is reported
//!   as not estimable, with the reason, never fitted; when no factor is
//!   decisive nothing is fitted (`not_estimable` says why). A factor whose
//!   sign always agrees with the preference (separable) is fitted, and its
//!   β is bounded only by the penalty. With [`Covariate::Scaled`], x_f is
//!   the difference divided by its root mean square s_f over the pairs used.
//! * **Rows.** Identical rows within an input are merged into one row with
//!   their count as weight (with signs an input has at most 3^k distinct
//!   rows), which shortens every pass over the pairs.
//! * **Penalty.** The fit maximises ℓ(β) − λ/2 · ‖β‖² on the standardised
//!   scale with λ = [`DEFAULT_PENALTY`] = 1 unless configured: a normal prior
//!   with standard deviation 1 on each standardised coefficient. Beside the
//!   log-likelihood's curvature (at most n/4 per factor for n pairs) it is
//!   small: it shrinks a coefficient by about 4/n, 1% at 400 pairs. It keeps
//!   the fit finite on separable data and splits a coefficient evenly
//!   between two perfectly collinear factors. (The Python reference,
//!   tests/reference/joint_reference.py, fits the same model and
//!   sandwich covariance independently.)
//! * **Fit.** Newton's method (IRLS) from β = 0 with step halving on the
//!   penalised log-likelihood, until no coefficient moves by more than
//!   [`FIT_TOLERANCE`].
//! * **Standard errors** are cluster-robust (sandwich), clustered by input:
//!   V = G/(G − 1) · H⁻¹ (Σ_c u_c u_cᵀ) H⁻¹ with H = Σ σ(1 − σ) x xᵀ + λI the
//!   penalised Hessian at the fit, u_c the log-likelihood's gradient over
//!   input c's pairs and G the inputs with a pair used (no se below 2). The
//!   pairs of one input share its source and are not independent: on
//!   SummEval the Hessian-only se of the earlier model (0.023/0.071/0.072
//!   for length/novel_words/novel_words_count) was 2.5–3× too small.
//! * **Pair tests.** Fitted factors whose covariates correlate by at least
//!   [`COLLINEAR`] get a joint Wald test of both coefficients being 0 with
//!   V (χ² with 2 degrees of freedom; with 1, on βa ± βb, when the two
//!   covariates coincide and V's block is singular).
//! * **Intervals.** 95% percentile intervals over a cluster bootstrap: inputs
//!   are drawn with replacement (all pairs of one input move together), with
//!   exactly the draws [`ClusterTable::bootstrap`](super::ClusterTable::bootstrap)
//!   makes for the same [`BootstrapConfig`], so the joint and the marginal
//!   intervals come from the same resampled datasets. (With
//!   [`Covariate::Scaled`] the scale s_f stays at its full-data value, so
//!   every replicate estimates the same coefficient.)
//!   Every resample starts at the full-data fit β̂ with a step that costs no
//!   pass over the pairs: the resample's gradient, Hessian and third
//!   derivative at β̂ are weighted sums of per-input parts computed once, and
//!   the step solves that cubic model. With [`Refit::Interval`] (the
//!   default) the resamples that decide an interval are then refitted by
//!   Newton's method to within [`BOOTSTRAP_TOLERANCE`]: those at and next to
//!   the 2.5th and 97.5th percentile ranks of any factor, and any whose
//!   first-step value could reach the values there — its margin is four
//!   times its cubic correction times the largest ratio of refit change to
//!   cubic correction seen so far. The selection is repeated on the updated
//!   values until no further resample qualifies, so the intervals are those
//!   of refitting every resample ([`Refit::All`]); on SummEval and synthetic
//!   data they are identical to the last bit, with about 300 of 1000
//!   resamples refitted (3 factors). A refit warm-started at the cubic step
//!   needs 1.07 passes over its pairs on average (about 2 from β̂).
//!   [`Refit::OneStep`] (the plain Newton step from β̂ for every resample, as
//!   in Moulton & Zeger 1991) is an approximation kept for comparison: on
//!   SummEval's 100 inputs it moves interval ends by up to 6% of their width.

// exp and log1p from the `libm` crate on every target: the standard library
// uses the platform's libm natively and a different one on wasm32, whose last
// bits can differ, and the app's report must equal the CLI's bit for bit.
use libm::{exp, log1p};
use serde::{Deserialize, Serialize};

use super::{par, percentile_interval, BootstrapConfig, Rng, FACTOR_TIE_TOLERANCE};

/// The default L2 penalty λ on the standardised coefficients.
pub const DEFAULT_PENALTY: f64 = 1.0;

/// The full-data fit stops when no standardised coefficient moves by more than this.
pub const FIT_TOLERANCE: f64 = 1e-10;

/// A bootstrap refit stops when a Newton step, or the error estimated to be
/// left after it (Newton's leading term ½ H⁻¹ T[d, d]), is below this, in
/// standardised coefficient units. Intervals on real data are 0.1–1 wide and
/// their Monte Carlo error at 1000 resamples is a few per cent of that, so
/// 1e-5 is far below anything they can show. On SummEval every refit lands
/// within 1e-5 of a tight fit of its resample (unit test), after 1.07 passes
/// over its pairs on average (1.5 at 1e-7).
pub const BOOTSTRAP_TOLERANCE: f64 = 1e-5;

/// Full passes over the pairs a bootstrap refit may take before it falls back
/// to the damped fit.
const MAX_BOOTSTRAP_PASSES: u32 = 12;

/// Ranks on either side of each percentile position that [`Refit::Interval`]
/// always refits.
const INTERVAL_BAND: usize = 3;

/// [`Refit::Interval`]'s margin around a first-step value: this many times
/// its rough error size (the cubic correction it made) times the largest
/// ratio of actual error to rough size seen among the refitted resamples.
const INTERVAL_SAFETY: f64 = 4.0;

/// Newton iterations of the damped fit.
const MAX_ITERATIONS: u32 = 200;

/// How the joint model is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointConfig {
    /// λ of the L2 penalty on the standardised coefficients.
    pub penalty: f64,
    /// Resamples and seed of the cluster bootstrap (0 resamples = no intervals).
    pub bootstrap: BootstrapConfig,
    /// How bootstrap resamples are refitted.
    pub refit: Refit,
    /// What each factor enters the model as.
    #[serde(default)]
    pub covariate: Covariate,
}

impl Default for JointConfig {
    fn default() -> Self {
        JointConfig {
            penalty: DEFAULT_PENALTY,
            bootstrap: BootstrapConfig::default(),
            refit: Refit::Interval,
            covariate: Covariate::Sign,
        }
    }
}

/// What a factor's difference enters the joint model as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Covariate {
    /// The sign of the difference (−1, 0, +1): robust to extreme pairs (the default).
    #[default]
    Sign,
    /// The difference divided by its root mean square over the pairs used:
    /// the earlier model, kept for comparison (a few extreme pairs drive it).
    Scaled,
}

impl JointConfig {
    /// The default penalty and refits with these bootstrap settings.
    pub fn with_bootstrap(bootstrap: BootstrapConfig) -> Self {
        JointConfig {
            bootstrap,
            ..JointConfig::default()
        }
    }
}

/// The pairs the joint model is fitted on.
#[derive(Clone, Copy, Debug)]
pub struct JointPairs<'a> {
    /// Factors per pair.
    pub n_factors: usize,
    /// v_f(a) − v_f(b), pair-major: `differences[pair_idx * n_factors + f]`.
    /// A non-finite value means the factor is unknown for that pair.
    pub differences: &'a [f64],
    /// The agent's preference per pair: +1 (a), −1 (b), 0 (tie: not used).
    pub preferences: &'a [i8],
    /// The input (cluster) of each pair, below `n_clusters`.
    pub clusters: &'a [u32],
    /// Number of inputs (the bootstrap's resampling units).
    pub n_clusters: u32,
}

/// How bootstrap resamples were refitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refit {
    /// Every resample refitted by Newton's method to convergence, from a
    /// cubic-model step off the full-data fit.
    All,
    /// Every resample gets the cubic-model step; those that decide the
    /// intervals are refitted to convergence (the same intervals as `All`).
    Interval,
    /// One plain Newton step from the full-data fit (an approximation).
    OneStep,
}

/// One factor's part of the joint model.
#[derive(Clone, Debug, PartialEq)]
pub struct JointFactor {
    /// β_f: the change in the log-odds of preferring a over b associated with
    /// the factor favouring a (sign +1) rather than neither (0), given the
    /// signs of the other factors; `None` when the factor is not estimable
    /// (see `not_estimable`).
    pub coefficient: Option<f64>,
    /// Cluster-robust (sandwich) standard error, clustered by input.
    pub se: Option<f64>,
    /// 95% percentile cluster-bootstrap interval.
    pub ci95: Option<[f64; 2]>,
    /// What the difference was divided by: 1 for the sign covariate; for
    /// [`Covariate::Scaled`] the root mean square of the differences over the
    /// pairs used. 0 when the factor is not fitted.
    pub scale: f64,
    /// Correlation of this factor's covariate with every factor's (input
    /// order), uncentred as the model is (no intercept): Σ x_f x_g /
    /// √(Σ x_f² Σ x_g²) over the pairs used, 1 for the factor itself.
    /// `None` where either has no coefficient.
    pub correlations: Vec<Option<f64>>,
    /// Why the factor has no coefficient, when it has none.
    pub not_estimable: Option<String>,
}

/// A joint Wald test of two highly correlated factors (both coefficients
/// zero), with the cluster-robust covariance.
#[derive(Clone, Debug, PartialEq)]
pub struct PairTest {
    /// The two factors (input order).
    pub factors: [usize; 2],
    /// Their covariates' correlation (as in [`JointFactor::correlations`]).
    pub correlation: f64,
    /// The Wald statistic βᵀ V⁻¹ β on the pair (2 degrees of freedom); when
    /// the pair's covariance is singular (the covariates coincide), that of
    /// their combined effect βa + sign(r) βb (1 degree of freedom).
    pub wald: f64,
    /// Degrees of freedom of `wald`: 2, or 1 for a singular pair.
    pub df: u32,
    /// Its χ² p-value: exp(−W/2) for 2 degrees of freedom, erfc(√(W/2)) for 1.
    pub p_value: f64,
}

/// Factors whose covariates correlate at least this much (in absolute value)
/// cannot be told apart by the joint model: they are tested together.
pub const COLLINEAR: f64 = 0.7;

/// A pair's 2 × 2 covariance counts as singular when its determinant is
/// below this share of the product of its variances (|correlation| above
/// 1 − 5·10⁻¹¹).
const SINGULAR: f64 = 1e-10;

/// The fitted joint model.
#[derive(Clone, Debug, PartialEq)]
pub struct JointFit {
    /// One entry per input factor, in input order.
    pub factors: Vec<JointFactor>,
    pub n_pairs_used: u64,
    /// Inputs with a pair used (the bootstrap's units that count).
    pub n_inputs_used: u64,
    /// Pairs the agent called a tie.
    pub n_pairs_dropped_tie: u64,
    /// Pairs with a strict preference but some factor value missing.
    pub n_pairs_dropped_missing: u64,
    pub penalty: f64,
    /// What the factors entered the model as.
    pub covariate: Covariate,
    /// Unpenalised log-likelihood at the fit (natural log); `None` without pairs.
    pub log_likelihood: Option<f64>,
    pub converged: bool,
    /// Newton iterations of the full-data fit.
    pub iterations: u32,
    pub bootstrap_resamples: u32,
    /// Resamples left out of the intervals: no usable pair drawn, or no convergence.
    pub bootstrap_failed: u32,
    pub refit: Refit,
    /// Resamples refitted to convergence (all for [`Refit::All`], none for
    /// [`Refit::OneStep`], those that decide the intervals for [`Refit::Interval`]).
    pub bootstrap_refitted: u32,
    /// Joint tests of the pairs of fitted factors whose covariates correlate
    /// by at least [`COLLINEAR`].
    pub pair_tests: Vec<PairTest>,
    /// Why no coefficient could be estimated (no factor, no usable pair, or no
    /// factor that differs in any pair used); `None` when the model was fitted.
    pub not_estimable: Option<String>,
}

/// Fits the joint model with bootstrap intervals.
///
/// # Panics
/// If the slices' lengths disagree with each other and `n_factors`, or a
/// cluster id is not below `n_clusters` (caller bugs, not data problems).
pub fn fit_joint(pairs: &JointPairs<'_>, cfg: &JointConfig) -> JointFit {
    let nf = pairs.n_factors;
    let n = pairs.preferences.len();
    assert_eq!(
        pairs.differences.len(),
        n * nf,
        "differences must hold n_pairs × n_factors values"
    );
    assert_eq!(pairs.clusters.len(), n, "one cluster per pair");
    let n_clusters = pairs.n_clusters as usize;

    // Which pairs are used; per factor the sum of squares and the pairs
    // where a is ahead, behind, or level (unoriented signs).
    let mut used = Vec::with_capacity(n);
    let (mut ties, mut missing) = (0u64, 0u64);
    let mut sumsq = vec![0.0f64; nf];
    let mut signs = vec![[0u64; 3]; nf];
    for i in 0..n {
        let row = &pairs.differences[i * nf..(i + 1) * nf];
        let c = pairs.clusters[i];
        assert!((c as usize) < n_clusters, "cluster {c} out of range");
        if pairs.preferences[i] == 0 {
            ties += 1;
        } else if row.iter().any(|d| !d.is_finite()) {
            missing += 1;
        } else {
            used.push(i);
            for ((s, n), &d) in sumsq.iter_mut().zip(signs.iter_mut()).zip(row) {
                let d = zero_tiny(d);
                *s += d * d;
                n[sign_index(d)] += 1;
            }
        }
    }
    let n_used = used.len();
    let rms: Vec<f64> = sumsq
        .iter()
        .map(|&s| {
            if n_used == 0 {
                0.0
            } else {
                (s / n_used as f64).sqrt()
            }
        })
        .collect();
    // Why a factor cannot be fitted, if it cannot.
    let reason: Vec<Option<String>> = (0..nf)
        .map(|f| {
            let [ahead, _, behind] = signs[f];
            if n_used == 0 {
                Some("no pair with a strict preference and every factor known".to_owned())
            } else if ahead + behind == 0 || rms[f] == 0.0 {
                Some("the factor never differs within a pair used".to_owned())
            } else {
                None
            }
        })
        .collect();
    let included: Vec<usize> = (0..nf).filter(|&f| reason[f].is_none()).collect();
    let k = included.len();
    let scale: Vec<f64> = (0..nf)
        .map(|f| match (cfg.covariate, reason[f].is_none()) {
            (_, false) => 0.0,
            (Covariate::Sign, true) => 1.0,
            (Covariate::Scaled, true) => rms[f],
        })
        .collect();

    let mut fit = JointFit {
        factors: (0..nf)
            .map(|f| JointFactor {
                coefficient: None,
                se: None,
                ci95: None,
                scale: scale[f],
                correlations: vec![None; nf],
                not_estimable: reason[f].clone(),
            })
            .collect(),
        n_pairs_used: n_used as u64,
        n_inputs_used: {
            let mut seen = vec![false; n_clusters];
            used.iter()
                .filter(|&&i| !std::mem::replace(&mut seen[pairs.clusters[i] as usize], true))
                .count() as u64
        },
        n_pairs_dropped_tie: ties,
        n_pairs_dropped_missing: missing,
        penalty: cfg.penalty,
        covariate: cfg.covariate,
        log_likelihood: None,
        converged: false,
        iterations: 0,
        bootstrap_resamples: 0,
        bootstrap_failed: 0,
        refit: cfg.refit,
        bootstrap_refitted: 0,
        pair_tests: Vec::new(),
        not_estimable: None,
    };
    if nf == 0 {
        fit.not_estimable = Some("no factor to fit".into());
        return fit;
    }
    if n_used == 0 {
        fit.not_estimable = Some(format!(
            "no pair is usable ({ties} ties, {missing} with a missing factor value)"
        ));
        return fit;
    }
    if k == 0 {
        // No factor differs in any pair used: nothing to fit (and no design
        // to build). The empty model predicts 1/2 for every pair.
        fit.converged = true;
        fit.log_likelihood = Some(-(n_used as f64) * std::f64::consts::LN_2);
        fit.not_estimable = Some(format!(
            "no factor differs between the two responses in any of the {n_used} pairs used"
        ));
        return fit;
    }

    // The design: oriented covariates, grouped by cluster.
    let mut starts = vec![0usize; n_clusters + 1];
    for &i in &used {
        starts[pairs.clusters[i] as usize + 1] += 1;
    }
    for c in 0..n_clusters {
        starts[c + 1] += starts[c];
    }
    let mut next = starts.clone();
    let mut x = vec![0.0f64; n_used * k];
    for &i in &used {
        let c = pairs.clusters[i] as usize;
        let j = next[c];
        next[c] += 1;
        let p = f64::from(pairs.preferences[i].signum());
        let row = &pairs.differences[i * nf..(i + 1) * nf];
        for (slot, &f) in x[j * k..(j + 1) * k].iter_mut().zip(&included) {
            let d = zero_tiny(row[f]);
            *slot = p * match cfg.covariate {
                Covariate::Sign => f64::from(sign_of(d)),
                Covariate::Scaled => d / scale[f],
            };
        }
    }
    let design = Design::grouped(k, x, starts, cfg.penalty);
    // Uncentred correlations of the covariates.
    let mut cross = vec![0.0f64; k * k];
    for (row, &w) in design.x.chunks_exact(k).zip(&design.w) {
        for a in 0..k {
            for b in a..k {
                cross[a * k + b] += w * row[a] * row[b];
            }
        }
    }
    let corr = |a: usize, b: usize| -> f64 {
        if a == b {
            return 1.0;
        }
        let v = cross[a.min(b) * k + a.max(b)] / (cross[a * k + a] * cross[b * k + b]).sqrt();
        v.clamp(-1.0, 1.0)
    };
    for (a, &fa) in included.iter().enumerate() {
        for (b, &fb) in included.iter().enumerate() {
            fit.factors[fa].correlations[fb] = Some(corr(a, b));
        }
    }

    let mut work = Work::new(k);
    let full = design.fit(&vec![0.0; k], None, &mut work);
    fit.converged = full.converged;
    fit.iterations = full.iterations;
    fit.log_likelihood = Some(full.log_likelihood);
    let beta = full.beta;

    // Cluster-robust standard errors and covariance at the fit.
    let cov = design.robust_covariance(&beta, &full.hessian, &mut work);
    for (j, &f) in included.iter().enumerate() {
        let e = &mut fit.factors[f];
        e.coefficient = Some(beta[j]);
        e.se = cov.as_ref().map(|v| v[j * k + j].sqrt());
    }
    // Joint tests of the highly correlated pairs.
    if let Some(v) = &cov {
        for a in 0..k {
            for b in a + 1..k {
                let r = corr(a, b);
                if r.abs() < COLLINEAR {
                    continue;
                }
                let (vaa, vab, vbb) = (v[a * k + a], v[a * k + b], v[b * k + b]);
                let det = vaa * vbb - vab * vab;
                let (ba, bb) = (beta[a], beta[b]);
                let (wald, df, p_value) = if det > SINGULAR * vaa * vbb {
                    let w = (vbb * ba * ba - 2.0 * vab * ba * bb + vaa * bb * bb) / det;
                    (w, 2, exp(-0.5 * w))
                } else {
                    // The two covariates (nearly) coincide: only their
                    // combined effect βa ± βb is identified.
                    let sg = r.signum();
                    let var = vaa + vbb + 2.0 * sg * vab;
                    if var.is_nan() || var <= 0.0 {
                        continue;
                    }
                    let sum = ba + sg * bb;
                    let w = sum * sum / var;
                    (w, 1, libm::erfc((0.5 * w).sqrt()))
                };
                if !wald.is_finite() {
                    continue;
                }
                fit.pair_tests.push(PairTest {
                    factors: [included[a], included[b]],
                    correlation: r,
                    wald,
                    df,
                    p_value,
                });
            }
        }
    }

    let resamples = cfg.bootstrap.resamples;
    if resamples == 0 || !full.converged {
        return fit;
    }
    let (reps, failed, refitted) = design.bootstrap(&beta, cfg.bootstrap, cfg.refit, &mut work);
    fit.bootstrap_resamples = resamples;
    fit.bootstrap_failed = failed;
    fit.bootstrap_refitted = refitted;
    for (j, &f) in included.iter().enumerate() {
        let mut xs: Vec<f64> = reps
            .chunks_exact(k)
            .map(|r| r[j])
            .filter(|v| v.is_finite())
            .collect();
        fit.factors[f].ci95 = percentile_interval(&mut xs, 0.95);
    }
    fit
}

/// 0 for a > b (d > 0), 1 for level, 2 for a < b.
#[inline]
fn sign_index(d: f64) -> usize {
    match sign_of(d) {
        1 => 0,
        0 => 1,
        _ => 2,
    }
}

/// The sign of a (tolerance-zeroed) difference.
#[inline]
fn sign_of(d: f64) -> i8 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// A difference below the tie tolerance counts as none.
#[inline]
fn zero_tiny(d: f64) -> f64 {
    if d.abs() < FACTOR_TIE_TOLERANCE {
        0.0
    } else {
        d
    }
}

/// The oriented design grouped by cluster: rows `starts[c]..starts[c + 1]`
/// of `x` (k values each) belong to cluster c; row r stands for `w[r]`
/// identical pairs of its cluster (sign covariates repeat: with k factors a
/// cluster has at most 3^k distinct rows, so merging them shortens every
/// pass over the pairs).
struct Design {
    k: usize,
    x: Vec<f64>,
    /// How many pairs each row stands for.
    w: Vec<f64>,
    starts: Vec<usize>,
    lambda: f64,
    /// The distinct rows, when there are few (sign covariates).
    kinds: Option<Kinds>,
}

/// The distinct rows of a design and which one each row is. A pass over
/// the rows computes the logistic terms of each distinct row once (with the
/// very expressions the per-row loops use, so every sum is the same to the
/// bit) instead of an `exp` per row.
struct Kinds {
    /// Per row of the design: its distinct row.
    of_row: Vec<u32>,
    /// The distinct rows, k values each.
    rows: Vec<f64>,
}

/// A design gets [`Kinds`] when it has at most this many distinct rows…
const MAX_KINDS: usize = 4096;
/// …and at least this many rows per distinct row.
const MIN_ROWS_PER_KIND: usize = 4;

impl Kinds {
    fn new(k: usize, x: &[f64]) -> Option<Kinds> {
        let rows = x.len() / k.max(1);
        if k == 0 || rows < MIN_ROWS_PER_KIND {
            return None;
        }
        let mut index: rustc_hash::FxHashMap<&[u64], u32> = Default::default();
        let bits: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
        let mut of_row = Vec::with_capacity(rows);
        let mut distinct = Vec::new();
        for (r, row) in bits.chunks_exact(k).enumerate() {
            let next = index.len() as u32;
            let id = *index.entry(row).or_insert(next);
            if id == next {
                if index.len() > MAX_KINDS || index.len() * MIN_ROWS_PER_KIND > rows {
                    return None;
                }
                distinct.extend_from_slice(&x[r * k..(r + 1) * k]);
            }
            of_row.push(id);
        }
        Some(Kinds {
            of_row,
            rows: distinct,
        })
    }

    /// The terms of every distinct row at `beta`, into `out`.
    fn terms(&self, k: usize, beta: &[f64], out: &mut Vec<Terms>) {
        out.clear();
        out.extend(self.rows.chunks_exact(k).map(|row| Terms::new(row, beta)));
    }
}

/// What the passes over the rows compute from a row's η, for one distinct
/// row: [`kernel`]'s e = exp(−|η|), 1/(1 + e) and the factor that makes 1 − σ
/// of it, [`logistic`] of [`Design::cluster_sums`]' η, and [`Precomputed`]'s σ.
#[derive(Clone, Copy, Debug)]
struct Terms {
    e: f64,
    inv: f64,
    sel: f64,
    logistic: (f64, f64, f64),
    sig: f64,
}

impl Terms {
    fn new(row: &[f64], beta: &[f64]) -> Terms {
        // As in `kernel`.
        let mut eta = 0.0;
        for (x, b) in row.iter().zip(beta) {
            eta += x * b;
        }
        let e = exp(-eta.abs());
        let inv = 1.0 / (1.0 + e);
        let sel = if eta >= 0.0 { e } else { 1.0 };
        // As in `cluster_sums` and `Precomputed::new`.
        let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
        Terms {
            e,
            inv,
            sel,
            logistic: logistic(eta),
            sig: 1.0 / (1.0 + exp(-eta)),
        }
    }
}

/// A fit's result.
struct Solution {
    beta: Vec<f64>,
    /// Penalised Hessian (full k × k) at `beta`.
    hessian: Vec<f64>,
    log_likelihood: f64,
    converged: bool,
    iterations: u32,
}

/// Scratch space reused across passes.
struct Work {
    g: Vec<f64>,
    h: Vec<f64>,
    cg: Vec<f64>,
    ch: Vec<f64>,
    step: Vec<f64>,
    /// The design's per-distinct-row terms at the point evaluated.
    terms: Vec<Terms>,
    /// Weighted passes over the pairs made by bootstrap refits.
    passes: u64,
}

impl Work {
    fn new(k: usize) -> Self {
        Work {
            g: vec![0.0; k],
            h: vec![0.0; k * k],
            cg: vec![0.0; k],
            ch: vec![0.0; k * k],
            step: vec![0.0; k],
            terms: Vec::new(),
            passes: 0,
        }
    }
}

/// log σ(η), 1 − σ(η) and σ(η)(1 − σ(η)), computed without overflow.
#[inline]
fn logistic(eta: f64) -> (f64, f64, f64) {
    let e = exp(-eta.abs());
    let inv = 1.0 / (1.0 + e);
    // For η ≥ 0: σ = 1/(1+e), 1 − σ = e/(1+e); for η < 0 the other way round.
    let (sig, one_minus) = if eta >= 0.0 {
        (inv, e * inv)
    } else {
        (e * inv, inv)
    };
    let log_sig = if eta >= 0.0 {
        -log1p(e)
    } else {
        eta - log1p(e)
    };
    (log_sig, one_minus, sig * one_minus)
}

impl Design {
    /// The design from one row per pair (grouped by cluster), with identical
    /// rows of a cluster merged into one of weight their count.
    fn grouped(k: usize, x: Vec<f64>, starts: Vec<usize>, lambda: f64) -> Design {
        let nc = starts.len() - 1;
        // Grown as rows are merged: merging usually leaves far fewer rows.
        let mut gx = Vec::new();
        let mut gw = Vec::new();
        let mut gstarts = Vec::with_capacity(nc + 1);
        gstarts.push(0usize);
        let mut idx: Vec<usize> = Vec::new();
        for c in 0..nc {
            idx.clear();
            idx.extend(starts[c]..starts[c + 1]);
            let row = |r: usize| &x[r * k..(r + 1) * k];
            idx.sort_unstable_by(|&a, &b| {
                row(a)
                    .iter()
                    .zip(row(b))
                    .map(|(p, q)| p.total_cmp(q))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.cmp(&b))
            });
            let mut last: Option<usize> = None;
            for &r in &idx {
                match last {
                    Some(l) if row(l) == row(r) => {
                        *gw.last_mut().expect("a row") += 1.0;
                    }
                    _ => {
                        gx.extend_from_slice(row(r));
                        gw.push(1.0);
                        last = Some(r);
                    }
                }
            }
            gstarts.push(gw.len());
        }
        drop(x);
        gx.shrink_to_fit();
        gw.shrink_to_fit();
        Design {
            k,
            kinds: Kinds::new(k, &gx),
            x: gx,
            w: gw,
            starts: gstarts,
            lambda,
        }
    }

    /// The per-distinct-row terms at `beta` into `out` (left empty when the
    /// design has no [`Kinds`]).
    fn terms(&self, beta: &[f64], out: &mut Vec<Terms>) {
        out.clear();
        if let Some(kinds) = &self.kinds {
            kinds.terms(self.k, beta, out);
        }
    }

    fn n_clusters(&self) -> usize {
        self.starts.len() - 1
    }

    /// The cluster-robust (sandwich) covariance of the coefficients at
    /// `beta`: H⁻¹ (Σ_c g_c g_cᵀ) H⁻¹ · G / (G − 1), with H the penalised
    /// Hessian (full, symmetric) at `beta`, g_c the log-likelihood's
    /// gradient over input c's pairs and G the inputs with a pair used.
    /// `None` with fewer than two such inputs or a singular H.
    fn robust_covariance(
        &self,
        beta: &[f64],
        hessian: &[f64],
        work: &mut Work,
    ) -> Option<Vec<f64>> {
        let k = self.k;
        let mut meat = vec![0.0f64; k * k];
        let mut g_count = 0usize;
        let mut cg = vec![0.0f64; k];
        let mut ch = vec![0.0f64; k * k];
        let mut terms = Vec::new();
        self.terms(beta, &mut terms);
        for c in 0..self.n_clusters() {
            if self.starts[c] == self.starts[c + 1] {
                continue;
            }
            g_count += 1;
            self.cluster_sums(c, beta, &terms, &mut cg, &mut ch, false);
            for a in 0..k {
                for b in 0..k {
                    meat[a * k + b] += cg[a] * cg[b];
                }
            }
        }
        if g_count < 2 {
            return None;
        }
        let mut l = hessian.to_vec();
        if !cholesky(&mut l, k) {
            return None;
        }
        // H⁻¹ column by column.
        let mut hinv = vec![0.0f64; k * k];
        for j in 0..k {
            work.step.iter_mut().for_each(|v| *v = 0.0);
            work.step[j] = 1.0;
            chol_solve(&l, k, &mut work.step);
            for i in 0..k {
                hinv[i * k + j] = work.step[i];
            }
        }
        let mut tmp = vec![0.0f64; k * k];
        for i in 0..k {
            for j in 0..k {
                tmp[i * k + j] = (0..k).map(|p| hinv[i * k + p] * meat[p * k + j]).sum();
            }
        }
        let factor = g_count as f64 / (g_count - 1) as f64;
        let mut v = vec![0.0f64; k * k];
        for i in 0..k {
            for j in 0..k {
                v[i * k + j] = factor
                    * (0..k)
                        .map(|p| tmp[i * k + p] * hinv[p * k + j])
                        .sum::<f64>();
            }
        }
        v.iter().all(|x| x.is_finite()).then_some(v)
    }

    /// The data part of the gradient (Σ (1 − σ) x) and of the Hessian's upper
    /// triangle (Σ σ(1 − σ) x xᵀ) over one cluster's rows, into `g` and `h`
    /// (overwritten); returns the cluster's log-likelihood when `with_ll`.
    /// `terms` are [`Design::terms`] at `beta` (empty: computed per row).
    #[inline]
    fn cluster_sums(
        &self,
        c: usize,
        beta: &[f64],
        terms: &[Terms],
        g: &mut [f64],
        h: &mut [f64],
        with_ll: bool,
    ) -> f64 {
        let k = self.k;
        let rows = &self.x[self.starts[c] * k..self.starts[c + 1] * k];
        let ws = &self.w[self.starts[c]..self.starts[c + 1]];
        if let (Some(kinds), false) = (&self.kinds, terms.is_empty()) {
            let of_row = &kinds.of_row[self.starts[c]..self.starts[c + 1]];
            return self.cluster_sums_by_kind(rows, ws, of_row, terms, g, h, with_ll);
        }
        if !with_ll {
            // The bootstrap's hot loop: a kernel per number of factors.
            match k {
                1 => return kernel::<1>(rows, ws, beta, g, h),
                2 => return kernel::<2>(rows, ws, beta, g, h),
                3 => return kernel::<3>(rows, ws, beta, g, h),
                4 => return kernel::<4>(rows, ws, beta, g, h),
                5 => return kernel::<5>(rows, ws, beta, g, h),
                6 => return kernel::<6>(rows, ws, beta, g, h),
                7 => return kernel::<7>(rows, ws, beta, g, h),
                8 => return kernel::<8>(rows, ws, beta, g, h),
                9 => return kernel::<9>(rows, ws, beta, g, h),
                10 => return kernel::<10>(rows, ws, beta, g, h),
                11 => return kernel::<11>(rows, ws, beta, g, h),
                12 => return kernel::<12>(rows, ws, beta, g, h),
                _ => {}
            }
        }
        g.iter_mut().for_each(|v| *v = 0.0);
        h.iter_mut().for_each(|v| *v = 0.0);
        let mut ll = 0.0;
        for (row, &n) in rows.chunks_exact(k).zip(ws) {
            let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
            let (log_sig, r, w) = logistic(eta);
            let (r, w) = (n * r, n * w);
            if with_ll {
                ll += n * log_sig;
            }
            for a in 0..k {
                let xa = row[a];
                g[a] += r * xa;
                let wa = w * xa;
                let hrow = &mut h[a * k..(a + 1) * k];
                for b in a..k {
                    hrow[b] += wa * row[b];
                }
            }
        }
        ll
    }

    /// [`Design::cluster_sums`] with each row's terms looked up: the same
    /// operations on the same values, in the same order, without an `exp`
    /// per row.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn cluster_sums_by_kind(
        &self,
        rows: &[f64],
        ws: &[f64],
        of_row: &[u32],
        terms: &[Terms],
        g: &mut [f64],
        h: &mut [f64],
        with_ll: bool,
    ) -> f64 {
        let k = self.k;
        if !with_ll {
            match k {
                1 => return kernel_by_kind::<1>(rows, ws, of_row, terms, g, h),
                2 => return kernel_by_kind::<2>(rows, ws, of_row, terms, g, h),
                3 => return kernel_by_kind::<3>(rows, ws, of_row, terms, g, h),
                4 => return kernel_by_kind::<4>(rows, ws, of_row, terms, g, h),
                5 => return kernel_by_kind::<5>(rows, ws, of_row, terms, g, h),
                6 => return kernel_by_kind::<6>(rows, ws, of_row, terms, g, h),
                7 => return kernel_by_kind::<7>(rows, ws, of_row, terms, g, h),
                8 => return kernel_by_kind::<8>(rows, ws, of_row, terms, g, h),
                9 => return kernel_by_kind::<9>(rows, ws, of_row, terms, g, h),
                10 => return kernel_by_kind::<10>(rows, ws, of_row, terms, g, h),
                11 => return kernel_by_kind::<11>(rows, ws, of_row, terms, g, h),
                12 => return kernel_by_kind::<12>(rows, ws, of_row, terms, g, h),
                _ => {}
            }
        }
        g.iter_mut().for_each(|v| *v = 0.0);
        h.iter_mut().for_each(|v| *v = 0.0);
        let mut ll = 0.0;
        for ((row, &n), &kind) in rows.chunks_exact(k).zip(ws).zip(of_row) {
            let (log_sig, r, w) = terms[kind as usize].logistic;
            let (r, w) = (n * r, n * w);
            if with_ll {
                ll += n * log_sig;
            }
            for a in 0..k {
                let xa = row[a];
                g[a] += r * xa;
                let wa = w * xa;
                let hrow = &mut h[a * k..(a + 1) * k];
                for b in a..k {
                    hrow[b] += wa * row[b];
                }
            }
        }
        ll
    }

    /// Penalised log-likelihood, gradient and Hessian (full, symmetric) at
    /// `beta` with cluster weights (`None` = every cluster once). Returns
    /// (penalised objective, log-likelihood, whether any row had weight).
    fn evaluate(
        &self,
        beta: &[f64],
        weights: Option<&[u32]>,
        with_ll: bool,
        work: &mut Work,
    ) -> (f64, f64, bool) {
        let k = self.k;
        work.g.iter_mut().for_each(|v| *v = 0.0);
        work.h.iter_mut().for_each(|v| *v = 0.0);
        let mut ll = 0.0;
        let mut any = false;
        let mut terms = std::mem::take(&mut work.terms);
        self.terms(beta, &mut terms);
        for c in 0..self.n_clusters() {
            let w = weights.map_or(1, |w| w[c]);
            if w == 0 || self.starts[c] == self.starts[c + 1] {
                continue;
            }
            any = true;
            let mut cg = std::mem::take(&mut work.cg);
            let mut ch = std::mem::take(&mut work.ch);
            let cll = self.cluster_sums(c, beta, &terms, &mut cg, &mut ch, with_ll);
            let wf = f64::from(w);
            ll += wf * cll;
            for (t, v) in work.g.iter_mut().zip(&cg) {
                *t += wf * v;
            }
            for a in 0..k {
                for b in a..k {
                    work.h[a * k + b] += wf * ch[a * k + b];
                }
            }
            work.cg = cg;
            work.ch = ch;
        }
        work.terms = terms;
        let pen = self.add_penalty(beta, &mut work.g, &mut work.h);
        (ll - pen, ll, any)
    }

    /// Adds the penalty to a data gradient and upper-triangular data Hessian,
    /// mirrors the Hessian, and returns λ/2 · ‖β‖².
    fn add_penalty(&self, beta: &[f64], g: &mut [f64], h: &mut [f64]) -> f64 {
        let k = self.k;
        let mut pen = 0.0;
        for a in 0..k {
            g[a] -= self.lambda * beta[a];
            h[a * k + a] += self.lambda;
            pen += beta[a] * beta[a];
            for b in a + 1..k {
                h[b * k + a] = h[a * k + b];
            }
        }
        0.5 * self.lambda * pen
    }

    /// Damped Newton from `start`: steps are halved until the penalised
    /// log-likelihood does not decrease.
    fn fit(&self, start: &[f64], weights: Option<&[u32]>, work: &mut Work) -> Solution {
        let k = self.k;
        let mut beta = start.to_vec();
        let (mut obj, mut ll, _) = self.evaluate(&beta, weights, true, work);
        let mut iterations = 0;
        let mut converged = false;
        let mut cand = vec![0.0; k];
        while iterations < MAX_ITERATIONS && obj.is_finite() {
            iterations += 1;
            let mut l = work.h.clone();
            if !cholesky(&mut l, k) {
                break;
            }
            let mut step = work.g.clone();
            chol_solve(&l, k, &mut step);
            let (g_old, h_old) = (work.g.clone(), work.h.clone());
            let mut t = 1.0;
            let accepted = loop {
                for a in 0..k {
                    cand[a] = beta[a] + t * step[a];
                }
                let (o, l2, _) = self.evaluate(&cand, weights, true, work);
                if o.is_finite() && o >= obj - 1e-12 * (1.0 + obj.abs()) {
                    obj = o;
                    ll = l2;
                    break true;
                }
                t *= 0.5;
                if t < 1e-12 {
                    break false;
                }
            };
            if !accepted {
                // Restore the evaluation at `beta`.
                work.g = g_old;
                work.h = h_old;
                break;
            }
            beta.copy_from_slice(&cand);
            let moved = step.iter().fold(0.0f64, |m, s| m.max((t * s).abs()));
            if moved < FIT_TOLERANCE {
                converged = true;
                break;
            }
        }
        Solution {
            beta,
            hessian: work.h.clone(),
            log_likelihood: ll,
            converged,
            iterations,
        }
    }

    /// Bootstrap replicates (`resamples × k`, `NaN` for a failed resample),
    /// the number that failed and the number refitted to convergence.
    fn bootstrap(
        &self,
        beta_hat: &[f64],
        cfg: BootstrapConfig,
        refit: Refit,
        work: &mut Work,
    ) -> (Vec<f64>, u32, u32) {
        let k = self.k;
        let nc = self.n_clusters();
        let r_total = cfg.resamples as usize;
        let pre = Precomputed::new(self, beta_hat, refit != Refit::OneStep);
        let mode = match refit {
            Refit::All => Step::Converge,
            Refit::Interval => Step::Model,
            Refit::OneStep => Step::Plain,
        };
        // Resample r makes draws r·nc … (r + 1)·nc − 1 of the generator
        // ([`Rng::advanced`]), and its refit depends on nothing else, so
        // ranges of resamples run apart (natively on every core) and give
        // the sequential results bit for bit.
        let rng0 = Rng::new(cfg.seed);
        let draws_of = |r: usize| rng0.advanced(r as u64 * nc as u64);
        // One pass over the inputs per resample, and a few over the rows
        // for a refit.
        let rows = self.w.len();
        let first = par::map_ranges(r_total, r_total.saturating_mul(nc), |range| {
            let mut rng = draws_of(range.start);
            let mut weights = vec![0u32; nc];
            let mut beta = vec![0.0; k];
            let mut work = Work::new(k);
            let mut sc = Scratch::new(k, pre.triples.len());
            let mut done = Vec::with_capacity(range.len());
            for _ in range {
                draw(&mut rng, &mut weights);
                let ok = self.refit(
                    beta_hat, &weights, &pre, mode, &mut beta, &mut work, &mut sc,
                );
                done.push(ok.then(|| (beta.clone(), sc.est)));
            }
            (done, work.passes)
        });
        let mut out = Vec::with_capacity(r_total * k);
        let mut failed = 0u32;
        // Whether a resample's value is final (refitted, or failed), and the
        // rough error size of a first step.
        let mut done = vec![mode != Step::Model; r_total];
        let mut est = vec![0.0f64; r_total];
        let mut r = 0;
        for (part, passes) in first {
            work.passes += passes;
            for v in part {
                match v {
                    Some((b, e)) => {
                        out.extend_from_slice(&b);
                        est[r] = e;
                    }
                    None => {
                        failed += 1;
                        done[r] = true;
                        out.extend(std::iter::repeat_n(f64::NAN, k));
                    }
                }
                r += 1;
            }
        }
        if mode != Step::Model {
            let refitted = if mode == Step::Converge {
                cfg.resamples - failed
            } else {
                0
            };
            return (out, failed, refitted);
        }
        let mut refitted = 0u32;
        // How far refitting moved a resample, in multiples of its rough
        // error size (the largest seen so far).
        let mut ratio = 0.0f64;
        let mut margin = vec![0.0f64; r_total];
        loop {
            for r in 0..r_total {
                margin[r] = if done[r] {
                    0.0
                } else {
                    INTERVAL_SAFETY * ratio * est[r]
                };
            }
            let need = interval_deciders(&out, k, &done, &margin);
            if need.is_empty() {
                break;
            }
            // The refits of one round are independent of each other (the
            // ratio they update is only read in the next round).
            let work_units = need.len().saturating_mul(nc + 2 * rows);
            let refits = par::map_ranges(need.len(), work_units, |range| {
                let mut weights = vec![0u32; nc];
                let mut beta = vec![0.0; k];
                let mut work = Work::new(k);
                let mut sc = Scratch::new(k, pre.triples.len());
                let mut done = Vec::with_capacity(range.len());
                for &r in &need[range] {
                    draw(&mut draws_of(r), &mut weights);
                    let ok = self.refit(
                        beta_hat,
                        &weights,
                        &pre,
                        Step::Converge,
                        &mut beta,
                        &mut work,
                        &mut sc,
                    );
                    done.push(ok.then(|| beta.clone()));
                }
                (done, work.passes)
            });
            let mut i = 0;
            for (part, passes) in refits {
                work.passes += passes;
                for v in part {
                    let r = need[i];
                    i += 1;
                    done[r] = true;
                    refitted += 1;
                    let row = &mut out[r * k..(r + 1) * k];
                    match v {
                        Some(beta) => {
                            let moved = row
                                .iter()
                                .zip(&beta)
                                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                            ratio = ratio.max(moved / est[r].max(1e-300));
                            row.copy_from_slice(&beta);
                        }
                        None => {
                            failed += 1;
                            row.iter_mut().for_each(|v| *v = f64::NAN);
                        }
                    }
                }
            }
        }
        (out, failed, refitted)
    }

    /// Refits one resample into `beta`; false when it has no usable pair or
    /// does not converge.
    ///
    /// 1. The resample's gradient g, Hessian H and third derivative T of the
    ///    penalised log-likelihood at the full-data fit β̂ are weighted sums
    ///    of per-input parts computed once, so the first step costs no pass
    ///    over the pairs. It solves the cubic model g − H δ − ½ T[δ, δ] = 0
    ///    by fixed-point iteration from the Newton step δ₀ = H⁻¹ g
    ///    ([`Step::Plain`] stops at δ₀, [`Step::Model`] after the cubic step).
    /// 2. Newton passes over the resample's pairs follow until a step d is
    ///    below [`BOOTSTRAP_TOLERANCE`] or the error left after it, estimated
    ///    as ‖½ H⁻¹ T[d, d]‖∞ (Newton's leading error term), is.
    /// 3. Should that not happen within a few passes, the damped fit runs from β̂.
    #[allow(clippy::too_many_arguments)]
    fn refit(
        &self,
        beta_hat: &[f64],
        weights: &[u32],
        pre: &Precomputed,
        mode: Step,
        beta: &mut [f64],
        work: &mut Work,
        sc: &mut Scratch,
    ) -> bool {
        let k = self.k;
        let kk = k * k;
        let np = pre.triples.len();
        work.g.iter_mut().for_each(|v| *v = 0.0);
        work.h.iter_mut().for_each(|v| *v = 0.0);
        sc.t_packed.iter_mut().for_each(|v| *v = 0.0);
        let use_t = mode != Step::Plain && !pre.t.is_empty();
        let mut any = false;
        for (c, &w) in weights.iter().enumerate() {
            if w == 0 || self.starts[c] == self.starts[c + 1] {
                continue;
            }
            any = true;
            let wf = f64::from(w);
            for (t, v) in work.g.iter_mut().zip(&pre.g[c * k..(c + 1) * k]) {
                *t += wf * v;
            }
            for (t, v) in work.h.iter_mut().zip(&pre.h[c * kk..(c + 1) * kk]) {
                *t += wf * v;
            }
            if use_t {
                for (t, v) in sc.t_packed.iter_mut().zip(&pre.t[c * np..(c + 1) * np]) {
                    *t += wf * v;
                }
            }
        }
        if !any {
            return false;
        }
        self.add_penalty(beta_hat, &mut work.g, &mut work.h);
        if !cholesky(&mut work.h, k) {
            return false;
        }
        sc.l_hat.copy_from_slice(&work.h);
        sc.d0.copy_from_slice(&work.g);
        chol_solve(&sc.l_hat, k, &mut sc.d0);
        if use_t {
            expand_symmetric(&pre.triples, &sc.t_packed, k, &mut sc.t_full);
            // δ ← H⁻¹ (g − ½ T[δ, δ]) from δ₀, three times; kept only if
            // the iteration contracts (the model is only good to O(δ³), so
            // solving it further would not help).
            sc.delta.copy_from_slice(&sc.d0);
            let mut first = f64::NAN;
            let mut settled = false;
            for i in 0..3 {
                contract(&sc.t_full, k, &sc.delta, &mut sc.v);
                for a in 0..k {
                    sc.v[a] = work.g[a] - 0.5 * sc.v[a];
                }
                chol_solve(&sc.l_hat, k, &mut sc.v);
                let moved =
                    sc.v.iter()
                        .zip(&sc.delta)
                        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                if !moved.is_finite() {
                    break;
                }
                sc.delta.copy_from_slice(&sc.v);
                if i == 0 {
                    first = moved;
                } else {
                    settled = moved <= 0.5 * first || moved <= 1e-12;
                }
            }
            if settled {
                // The next term of the series is smaller than the correction made.
                sc.est = sc
                    .delta
                    .iter()
                    .zip(&sc.d0)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            } else {
                sc.delta.copy_from_slice(&sc.d0);
                sc.est = sc.d0.iter().fold(0.0f64, |m, d| m.max(d.abs()));
            }
        } else {
            sc.delta.copy_from_slice(&sc.d0);
            sc.est = sc.d0.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        }
        let mut prev = sc.delta.iter().fold(0.0f64, |m, d| m.max(d.abs()));
        for (b, (h, d)) in beta.iter_mut().zip(beta_hat.iter().zip(&sc.delta)) {
            *b = h + d;
        }
        if mode != Step::Converge || prev <= BOOTSTRAP_TOLERANCE {
            return beta.iter().all(|b| b.is_finite());
        }
        for _ in 0..MAX_BOOTSTRAP_PASSES {
            work.passes += 1;
            self.evaluate(beta, Some(weights), false, work);
            let Some(d) = self.newton_step(beta, work) else {
                break;
            };
            let left = if use_t {
                // ½ H⁻¹ T[d, d] with H and T of the resample at β̂.
                contract(&sc.t_full, k, &work.step, &mut sc.v);
                chol_solve(&sc.l_hat, k, &mut sc.v);
                0.5 * sc.v.iter().fold(0.0f64, |m, v| m.max(v.abs()))
            } else if d < 0.5 * prev {
                // Quadratic convergence: next step ≈ d · (d / prev)².
                d * (d / prev) * (d / prev)
            } else {
                f64::INFINITY
            };
            if d <= BOOTSTRAP_TOLERANCE || left <= BOOTSTRAP_TOLERANCE {
                return beta.iter().all(|b| b.is_finite());
            }
            prev = d;
        }
        // Fall back to the damped fit from the full-data solution.
        let s = self.fit(beta_hat, Some(weights), work);
        beta.copy_from_slice(&s.beta);
        s.converged
    }

    /// β += H⁻¹ g from the gradient and Hessian in `work`; returns the largest
    /// coefficient change, or `None` when H is not positive definite or the
    /// step is not finite.
    fn newton_step(&self, beta: &mut [f64], work: &mut Work) -> Option<f64> {
        let k = self.k;
        if !cholesky(&mut work.h, k) {
            return None;
        }
        work.step.copy_from_slice(&work.g);
        chol_solve(&work.h, k, &mut work.step);
        let mut d = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&work.step) {
            *b += s;
            d = d.max(s.abs());
        }
        d.is_finite().then_some(d)
    }
}

/// How far a bootstrap refit goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The Newton step from β̂.
    Plain,
    /// The cubic-model step from β̂.
    Model,
    /// The cubic-model step, then Newton passes to convergence.
    Converge,
}

/// One resample's draws (those of `ClusterTable::bootstrap`) as cluster weights.
fn draw(rng: &mut Rng, weights: &mut [u32]) {
    let nc = weights.len() as u64;
    weights.iter_mut().for_each(|w| *w = 0);
    for _ in 0..nc {
        weights[rng.below(nc) as usize] += 1;
    }
}

/// The resamples not yet `done` that decide an interval: for every factor
/// and both ends of the 95% interval, those within [`INTERVAL_BAND`] ranks
/// of the percentile position (as [`percentile_interval`] computes it), and
/// those whose value is within their `margin` of the values there.
fn interval_deciders(values: &[f64], k: usize, done: &[bool], margin: &[f64]) -> Vec<usize> {
    let mut need = Vec::new();
    let mut col: Vec<(f64, usize)> = Vec::with_capacity(done.len());
    let alpha = (1.0 - 0.95) / 2.0;
    for j in 0..k {
        col.clear();
        col.extend(
            values
                .chunks_exact(k)
                .enumerate()
                .filter(|(_, row)| row[j].is_finite())
                .map(|(r, row)| (row[j], r)),
        );
        if col.is_empty() {
            continue;
        }
        col.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let last = col.len() - 1;
        for q in [alpha, 1.0 - alpha] {
            let pos = q * last as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            need.extend(
                col[lo.saturating_sub(INTERVAL_BAND)..=(hi + INTERVAL_BAND).min(last)]
                    .iter()
                    .map(|&(_, r)| r),
            );
            let (a, b) = (col[lo].0, col[hi].0);
            need.extend(
                col.iter()
                    .filter(|&&(v, r)| v + margin[r] >= a && v - margin[r] <= b)
                    .map(|&(_, r)| r),
            );
        }
    }
    crate::data::sort::sort(&mut need);
    need.dedup();
    need.retain(|&r| !done[r]);
    need
}

/// Per-input parts of the gradient, Hessian and third derivative of the
/// log-likelihood at the full-data fit, for the bootstrap's first step.
struct Precomputed {
    /// `g[c * k + a]`: Σ (1 − σ) x_a over input c.
    g: Vec<f64>,
    /// `h[c * k² + a * k + b]` (a ≤ b): Σ σ(1 − σ) x_a x_b.
    h: Vec<f64>,
    /// `t[c * P + j]`: Σ σ(1 − σ)(1 − 2σ) x_a x_b x_c for `triples[j]` = (a, b, c),
    /// a ≤ b ≤ c; empty when not used (one-step refits, or too large).
    t: Vec<f64>,
    triples: Vec<[usize; 3]>,
}

/// At most this many numbers are held for the per-input third derivatives.
const MAX_TENSOR_VALUES: usize = 4_000_000;

impl Precomputed {
    fn new(d: &Design, beta_hat: &[f64], with_tensor: bool) -> Precomputed {
        let k = d.k;
        let nc = d.n_clusters();
        let kk = k * k;
        let mut g = vec![0.0; nc * k];
        let mut h = vec![0.0; nc * kk];
        let mut terms = Vec::new();
        d.terms(beta_hat, &mut terms);
        for c in 0..nc {
            if d.starts[c] < d.starts[c + 1] {
                d.cluster_sums(
                    c,
                    beta_hat,
                    &terms,
                    &mut g[c * k..(c + 1) * k],
                    &mut h[c * kk..(c + 1) * kk],
                    false,
                );
            }
        }
        let mut triples = Vec::new();
        for a in 0..k {
            for b in a..k {
                for c in b..k {
                    triples.push([a, b, c]);
                }
            }
        }
        let np = triples.len();
        let mut t = Vec::new();
        if with_tensor && nc.saturating_mul(np) <= MAX_TENSOR_VALUES {
            t = vec![0.0; nc * np];
            for c in 0..nc {
                let tc = &mut t[c * np..(c + 1) * np];
                let ws = &d.w[d.starts[c]..d.starts[c + 1]];
                for (i, (row, &n)) in d.x[d.starts[c] * k..d.starts[c + 1] * k]
                    .chunks_exact(k)
                    .zip(ws)
                    .enumerate()
                {
                    let sig = match &d.kinds {
                        Some(kinds) => terms[kinds.of_row[d.starts[c] + i] as usize].sig,
                        None => {
                            let eta: f64 = row.iter().zip(beta_hat).map(|(a, b)| a * b).sum();
                            1.0 / (1.0 + exp(-eta))
                        }
                    };
                    let s = n * sig * (1.0 - sig) * (1.0 - 2.0 * sig);
                    for (v, &[a, b, cc]) in tc.iter_mut().zip(&triples) {
                        *v += s * row[a] * row[b] * row[cc];
                    }
                }
            }
        } else {
            triples.clear();
        }
        Precomputed { g, h, t, triples }
    }
}

/// Scratch space of one bootstrap refit.
struct Scratch {
    t_packed: Vec<f64>,
    t_full: Vec<f64>,
    l_hat: Vec<f64>,
    d0: Vec<f64>,
    delta: Vec<f64>,
    v: Vec<f64>,
    /// A rough size of the first step's error (the cubic correction it made,
    /// or the whole step when there was none).
    est: f64,
}

impl Scratch {
    fn new(k: usize, n_triples: usize) -> Scratch {
        Scratch {
            t_packed: vec![0.0; n_triples],
            t_full: vec![0.0; k * k * k],
            l_hat: vec![0.0; k * k],
            d0: vec![0.0; k],
            delta: vec![0.0; k],
            v: vec![0.0; k],
            est: 0.0,
        }
    }
}

/// The full symmetric k × k × k tensor from its entries at a ≤ b ≤ c.
fn expand_symmetric(triples: &[[usize; 3]], packed: &[f64], k: usize, full: &mut [f64]) {
    for (&[a, b, c], &v) in triples.iter().zip(packed) {
        for [i, j, l] in [
            [a, b, c],
            [a, c, b],
            [b, a, c],
            [b, c, a],
            [c, a, b],
            [c, b, a],
        ] {
            full[(i * k + j) * k + l] = v;
        }
    }
}

/// out_a = Σ_bc T_abc d_b d_c.
fn contract(t: &[f64], k: usize, d: &[f64], out: &mut [f64]) {
    for (a, o) in out.iter_mut().enumerate() {
        let mut s = 0.0;
        for b in 0..k {
            let row = &t[(a * k + b) * k..(a * k + b + 1) * k];
            let inner: f64 = row.iter().zip(d).map(|(x, y)| x * y).sum();
            s += inner * d[b];
        }
        *o = s;
    }
}

/// Gradient and Hessian sums (as [`Design::cluster_sums`] without the
/// log-likelihood) over `rows` of K factors, with the loops unrolled and the
/// sign of η selected without a branch (it is unpredictable).
#[inline(always)]
fn kernel<const K: usize>(
    rows: &[f64],
    ws: &[f64],
    beta: &[f64],
    g: &mut [f64],
    h: &mut [f64],
) -> f64 {
    let beta: &[f64; K] = beta.try_into().expect("K coefficients");
    let mut gl = [0.0f64; K];
    let mut hl = [[0.0f64; K]; K];
    for (row, &n) in rows.chunks_exact(K).zip(ws) {
        let x: &[f64; K] = row.try_into().expect("K values");
        let mut eta = 0.0;
        for a in 0..K {
            eta += x[a] * beta[a];
        }
        let e = exp(-eta.abs());
        let inv = 1.0 / (1.0 + e);
        // 1 − σ(η): e/(1+e) for η ≥ 0, 1/(1+e) otherwise; σ(1 − σ) = e/(1+e)².
        let r = n * inv * if eta >= 0.0 { e } else { 1.0 };
        let w = n * e * inv * inv;
        for a in 0..K {
            gl[a] += r * x[a];
            let wa = w * x[a];
            for b in a..K {
                hl[a][b] += wa * x[b];
            }
        }
    }
    g.copy_from_slice(&gl);
    for a in 0..K {
        h[a * K..(a + 1) * K].copy_from_slice(&hl[a]);
    }
    0.0
}

/// [`kernel`] with each row's terms looked up by its distinct row.
#[inline(always)]
fn kernel_by_kind<const K: usize>(
    rows: &[f64],
    ws: &[f64],
    of_row: &[u32],
    terms: &[Terms],
    g: &mut [f64],
    h: &mut [f64],
) -> f64 {
    let mut gl = [0.0f64; K];
    let mut hl = [[0.0f64; K]; K];
    for ((row, &n), &kind) in rows.chunks_exact(K).zip(ws).zip(of_row) {
        let x: &[f64; K] = row.try_into().expect("K values");
        let t = &terms[kind as usize];
        let (e, inv) = (t.e, t.inv);
        let r = n * inv * t.sel;
        let w = n * e * inv * inv;
        for a in 0..K {
            gl[a] += r * x[a];
            let wa = w * x[a];
            for b in a..K {
                hl[a][b] += wa * x[b];
            }
        }
    }
    g.copy_from_slice(&gl);
    for a in 0..K {
        h[a * K..(a + 1) * K].copy_from_slice(&hl[a]);
    }
    0.0
}

/// In-place Cholesky factorisation A = L Lᵀ of a symmetric k × k matrix
/// (row-major); L is left in the lower triangle. False if A is not positive definite.
fn cholesky(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut d = a[j * k + j];
        for p in 0..j {
            d -= a[j * k + p] * a[j * k + p];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = s / d;
        }
    }
    true
}

/// Solves L Lᵀ x = b in place.
fn chol_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let mut s = b[i];
        for p in 0..i {
            s -= l[i * k + p] * b[p];
        }
        b[i] = s / l[i * k + i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for p in i + 1..k {
            s -= l[p * k + i] * b[p];
        }
        b[i] = s / l[i * k + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factors::rules::RuleExtractor;
    use crate::factors::Factor;

    /// With enough resamples × inputs to run on several threads, the fit
    /// (every refit mode) equals the one computed on the calling thread alone
    /// bit for bit.
    #[test]
    fn spread_bootstrap_equals_the_sequential_one() {
        let (nc, per, nf) = (2500u32, 6usize, 3usize);
        let mut rng = Rng::new(5);
        let mut differences = Vec::new();
        let mut preferences = Vec::new();
        let mut clusters = Vec::new();
        for c in 0..nc {
            for _ in 0..per {
                let row: Vec<f64> = (0..nf)
                    .map(|f| (rng.below(5) as f64 - 2.0) * (f + 1) as f64)
                    .collect();
                let lean = row[0] + 0.5 * row[1] + rng.unit() * 8.0 - 4.0;
                preferences.push(if lean > 0.0 {
                    1
                } else if lean < 0.0 {
                    -1
                } else {
                    0
                });
                differences.extend(row);
                clusters.push(c);
            }
        }
        let pairs = JointPairs {
            n_factors: nf,
            differences: &differences,
            preferences: &preferences,
            clusters: &clusters,
            n_clusters: nc,
        };
        for refit in [Refit::Interval, Refit::All, Refit::OneStep] {
            let cfg = JointConfig {
                bootstrap: BootstrapConfig {
                    resamples: 500,
                    seed: 11,
                },
                refit,
                ..JointConfig::default()
            };
            assert!(500 * nc as usize >= par::PARALLEL_MIN_WORK);
            let spread = fit_joint(&pairs, &cfg);
            par::SEQUENTIAL.with(|s| s.set(true));
            let alone = fit_joint(&pairs, &cfg);
            par::SEQUENTIAL.with(|s| s.set(false));
            assert!(spread.factors.iter().all(|f| f.ci95.is_some()));
            if refit == Refit::Interval {
                assert!(spread.bootstrap_refitted > 0);
            }
            assert_eq!(format!("{spread:?}"), format!("{alone:?}"), "{refit:?}");
        }
    }

    /// SummEval's pairs with length, novel_words and novel_words_count, as a design.
    fn summeval_design() -> (Design, Vec<f64>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/summeval/summeval.jsonl"
        );
        let bytes = std::fs::read(path).expect("the SummEval file");
        let ds = crate::data::load_bytes(&bytes, Default::default()).unwrap();
        let factors = [Factor::Length, Factor::NovelWords, Factor::NovelWordsCount];
        let mut rules = RuleExtractor::new();
        let mut x = Vec::new();
        let mut order: Vec<usize> = (0..ds.pairs.len()).collect();
        order.sort_by_key(|&i| ds.pairs[i].cluster);
        let mut starts = vec![0usize; ds.n_clusters as usize + 1];
        for &i in &order {
            let p = &ds.pairs[i];
            starts[p.cluster as usize + 1] += 1;
            for f in factors {
                let d = rules.value(f, &ds.texts, p.a, p.context()).unwrap()
                    - rules.value(f, &ds.texts, p.b, p.context()).unwrap();
                x.push(f64::from(p.preference.sign()) * d);
            }
        }
        for c in 0..ds.n_clusters as usize {
            starts[c + 1] += starts[c];
        }
        // Standardise by the root mean square.
        let n = order.len() as f64;
        for f in 0..3 {
            let s = (x.iter().skip(f).step_by(3).map(|v| v * v).sum::<f64>() / n).sqrt();
            x.iter_mut().skip(f).step_by(3).for_each(|v| *v /= s);
        }
        let d = Design::grouped(3, x, starts, DEFAULT_PENALTY);
        let mut work = Work::new(3);
        let beta = d.fit(&[0.0; 3], None, &mut work).beta;
        (d, beta)
    }

    /// Looking the logistic terms up per distinct row changes no bit of
    /// the fit, its covariance or any bootstrap replicate.
    #[test]
    fn terms_by_distinct_row_change_nothing() {
        let mut rng = Rng::new(7);
        for k in [1usize, 2, 3, 13] {
            let nc = 300;
            let mut x = Vec::new();
            let mut starts = vec![0usize];
            for c in 0..nc {
                let n = 1 + rng.below(12) as usize;
                for _ in 0..n {
                    for f in 0..k {
                        // Signs, leaning positive for the first factors.
                        // (past the third, one sign per input: few distinct rows).
                        let u = rng.unit() + if f < 2 { 0.15 } else { 0.0 } + 0.01 * (c % 3) as f64;
                        x.push(if f >= 3 {
                            if (c + f) % 2 == 0 {
                                1.0
                            } else {
                                -1.0
                            }
                        } else if u < 0.3 {
                            -1.0
                        } else if u < 0.45 {
                            0.0
                        } else {
                            1.0
                        });
                    }
                }
                starts.push(starts[c] + n);
            }
            let with = Design::grouped(k, x.clone(), starts.clone(), DEFAULT_PENALTY);
            let mut without = Design::grouped(k, x, starts, DEFAULT_PENALTY);
            assert!(with.kinds.is_some(), "k = {k}");
            without.kinds = None;
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let (mut wa, mut wb) = (Work::new(k), Work::new(k));
            let (fa, fb) = (
                with.fit(&vec![0.0; k], None, &mut wa),
                without.fit(&vec![0.0; k], None, &mut wb),
            );
            assert_eq!(bits(&fa.beta), bits(&fb.beta));
            assert_eq!(bits(&fa.hessian), bits(&fb.hessian));
            assert_eq!(fa.log_likelihood.to_bits(), fb.log_likelihood.to_bits());
            assert_eq!(
                with.robust_covariance(&fa.beta, &fa.hessian, &mut wa)
                    .map(|v| bits(&v)),
                without
                    .robust_covariance(&fb.beta, &fb.hessian, &mut wb)
                    .map(|v| bits(&v))
            );
            for refit in [Refit::Interval, Refit::All, Refit::OneStep] {
                let cfg = BootstrapConfig {
                    resamples: 60,
                    seed: 3,
                };
                let (ra, fa2, na) = with.bootstrap(&fa.beta, cfg, refit, &mut wa);
                let (rb, fb2, nb) = without.bootstrap(&fb.beta, cfg, refit, &mut wb);
                assert_eq!(
                    (bits(&ra), fa2, na),
                    (bits(&rb), fb2, nb),
                    "k = {k}, {refit:?}"
                );
            }
        }
    }

    #[test]
    fn bootstrap_refits_reach_the_resample_optimum() {
        // Every Newton refit is within the tolerance of a tight damped fit of
        // the same resample; the one-step refit is not (that is why it is
        // kept for large data).
        let (d, beta_hat) = summeval_design();
        let nc = d.n_clusters();
        let pre = Precomputed::new(&d, &beta_hat, true);
        let mut work = Work::new(3);
        let mut sc = Scratch::new(3, pre.triples.len());
        let mut rng = Rng::new(42);
        let mut weights = vec![0u32; nc];
        let (mut worst, mut worst_one) = (0.0f64, 0.0f64);
        let resamples = 200;
        for _ in 0..resamples {
            weights.iter_mut().for_each(|w| *w = 0);
            for _ in 0..nc {
                weights[rng.below(nc as u64) as usize] += 1;
            }
            let mut b = vec![0.0; 3];
            assert!(d.refit(
                &beta_hat,
                &weights,
                &pre,
                Step::Converge,
                &mut b,
                &mut work,
                &mut sc
            ));
            let mut one = vec![0.0; 3];
            let mut w2 = Work::new(3);
            assert!(d.refit(
                &beta_hat,
                &weights,
                &pre,
                Step::Plain,
                &mut one,
                &mut w2,
                &mut sc
            ));
            let exact = d.fit(&beta_hat, Some(&weights), &mut Work::new(3));
            assert!(exact.converged);
            for j in 0..3 {
                worst = worst.max((b[j] - exact.beta[j]).abs());
                worst_one = worst_one.max((one[j] - exact.beta[j]).abs());
            }
        }
        let per = work.passes as f64 / f64::from(resamples);
        eprintln!(
            "max error: Newton refit {worst:e}, one step {worst_one:e}; passes per resample {per}"
        );
        // The stopping rule estimates the error to leading order.
        assert!(worst <= 2.0 * BOOTSTRAP_TOLERANCE, "{worst}");
        assert!(worst_one > 10.0 * BOOTSTRAP_TOLERANCE);
        assert!(per < 1.5, "{per} passes per resample");
    }
}
