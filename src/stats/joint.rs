//! The joint model of preference on all factor differences (beyond the paper):
//! a Bradley–Terry / logistic regression without intercept,
//!
//! ```text
//! P(a preferred over b) = σ(Σ_f β_f · z_f),   z_f = (v_f(a) − v_f(b)) / s_f,
//! ```
//!
//! fitted with a small L2 penalty, so that correlated factors (length and
//! # facts) are told apart: β_f is the effect of factor f with the others held
//! fixed, where the factor score (METHOD.md §2) is its effect on its own.
//!
//! Choices, all visible in the output:
//!
//! * **Pairs.** Only pairs with a strict preference are used (a judge's "tie"
//!   pairs are dropped and counted first), and only pairs where every factor's
//!   value is known (a pair with any missing — non-finite — difference is
//!   dropped and counted). A difference below [`FACTOR_TIE_TOLERANCE`] counts
//!   as exactly 0, as in §2 (so 1/3 and 2/6 do not differ).
//! * **Scale.** s_f is the *root mean square* of factor f's differences over
//!   the pairs used, not the standard deviation: the model has no intercept,
//!   and swapping a and b in any pair negates its difference, which leaves the
//!   root mean square (and so the fit) unchanged but not the standard
//!   deviation. β_f is therefore "per typical difference"; β_f / s_f is the
//!   effect per unit of the factor. A factor whose differences are all 0 has
//!   no scale and gets no coefficient (it is reported, not fitted).
//! * **Penalty.** The fit maximises ℓ(β) − λ/2 · ‖β‖² on the standardised
//!   scale with λ = [`DEFAULT_PENALTY`] = 1 unless configured: a normal prior
//!   with standard deviation 1 on each standardised coefficient. Beside the
//!   log-likelihood's curvature (about n/4 per factor for n pairs) it is
//!   negligible once there are more than a few dozen pairs, and it keeps the
//!   fit finite on separable data and splits a coefficient evenly between two
//!   perfectly collinear factors.
//! * **Fit.** Newton's method (IRLS) from β = 0 with step halving on the
//!   penalised log-likelihood, until no coefficient moves by more than
//!   [`FIT_TOLERANCE`]. Standard errors are √diag(H⁻¹) of the penalised
//!   Hessian H = Σ σ(1 − σ) z zᵀ + λI at the fit.
//! * **Intervals.** 95% percentile intervals over a cluster bootstrap: inputs
//!   are drawn with replacement (all pairs of one input move together), with
//!   exactly the draws [`ClusterTable::bootstrap`](super::ClusterTable::bootstrap)
//!   makes for the same [`BootstrapConfig`], so the joint and the marginal
//!   intervals come from the same resampled datasets. The scale s_f stays at
//!   its full-data value, so every replicate estimates the same coefficient.
//!   Each resample is refitted by Newton's method warm-started at the
//!   full-data fit; its first step uses per-input gradients and Hessians
//!   precomputed there (exact, and cheap). When pairs × resamples exceeds
//!   [`JointConfig::exact_refit_limit`], only that first step is taken (a
//!   one-step bootstrap, reported as [`Refit::OneStep`]): its error is of the
//!   order of the squared sampling error, far below the interval's width on
//!   data that large.

use serde::{Deserialize, Serialize};

use super::{percentile_interval, BootstrapConfig, Rng, FACTOR_TIE_TOLERANCE};

/// The default L2 penalty λ on the standardised coefficients.
pub const DEFAULT_PENALTY: f64 = 1.0;

/// Pairs × resamples up to which every bootstrap resample is refitted to
/// convergence; above it the one-step refit is used.
pub const DEFAULT_EXACT_REFIT_LIMIT: u64 = 20_000_000;

/// The full-data fit stops when no standardised coefficient moves by more than this.
pub const FIT_TOLERANCE: f64 = 1e-10;

/// A bootstrap refit stops when its estimated remaining error (from Newton's
/// quadratic convergence: next step ≈ step³ / previous step²) is below this,
/// or when a step is itself below it.
pub const BOOTSTRAP_TOLERANCE: f64 = 1e-7;

/// Full passes over the pairs a bootstrap refit may take before it falls back
/// to the damped fit.
const MAX_BOOTSTRAP_PASSES: u32 = 12;

/// Newton iterations of the damped fit.
const MAX_ITERATIONS: u32 = 200;

/// How the joint model is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct JointConfig {
    /// λ of the L2 penalty on the standardised coefficients.
    pub penalty: f64,
    /// Resamples and seed of the cluster bootstrap (0 resamples = no intervals).
    pub bootstrap: BootstrapConfig,
    /// Pairs × resamples up to which resamples are refitted to convergence.
    pub exact_refit_limit: u64,
}

impl Default for JointConfig {
    fn default() -> Self {
        JointConfig {
            penalty: DEFAULT_PENALTY,
            bootstrap: BootstrapConfig::default(),
            exact_refit_limit: DEFAULT_EXACT_REFIT_LIMIT,
        }
    }
}

impl JointConfig {
    /// The default penalty and refit limit with these bootstrap settings.
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
    /// Newton's method to convergence, warm-started at the full-data fit.
    Newton,
    /// One Newton step from the full-data fit.
    OneStep,
}

/// One factor's part of the joint model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JointFactor {
    /// β_f on the standardised scale; `None` when the factor has no
    /// difference in any pair used (or no pair is used).
    pub coefficient: Option<f64>,
    /// Standard error from the penalised Hessian.
    pub se: Option<f64>,
    /// 95% percentile cluster-bootstrap interval.
    pub ci95: Option<[f64; 2]>,
    /// s_f, the root mean square of the differences over the pairs used (0 when none differ).
    pub scale: f64,
}

/// The fitted joint model.
#[derive(Clone, Debug, PartialEq)]
pub struct JointFit {
    /// One entry per input factor, in input order.
    pub factors: Vec<JointFactor>,
    pub n_pairs_used: u64,
    /// Pairs the agent called a tie.
    pub n_pairs_dropped_tie: u64,
    /// Pairs with a strict preference but some factor value missing.
    pub n_pairs_dropped_missing: u64,
    pub penalty: f64,
    /// Unpenalised log-likelihood at the fit (natural log); `None` without pairs.
    pub log_likelihood: Option<f64>,
    pub converged: bool,
    /// Newton iterations of the full-data fit.
    pub iterations: u32,
    pub bootstrap_resamples: u32,
    /// Resamples left out of the intervals: no usable pair drawn, or no convergence.
    pub bootstrap_failed: u32,
    pub refit: Refit,
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

    // Which pairs are used; sums of squares per factor.
    let mut used = Vec::with_capacity(n);
    let (mut ties, mut missing) = (0u64, 0u64);
    let mut sumsq = vec![0.0f64; nf];
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
            for (s, &d) in sumsq.iter_mut().zip(row) {
                let d = zero_tiny(d);
                *s += d * d;
            }
        }
    }
    let n_used = used.len();
    let scale: Vec<f64> = sumsq
        .iter()
        .map(|&s| {
            if n_used == 0 {
                0.0
            } else {
                (s / n_used as f64).sqrt()
            }
        })
        .collect();
    let included: Vec<usize> = (0..nf).filter(|&f| scale[f] > 0.0).collect();
    let k = included.len();

    let mut fit = JointFit {
        factors: scale
            .iter()
            .map(|&s| JointFactor {
                coefficient: None,
                se: None,
                ci95: None,
                scale: s,
            })
            .collect(),
        n_pairs_used: n_used as u64,
        n_pairs_dropped_tie: ties,
        n_pairs_dropped_missing: missing,
        penalty: cfg.penalty,
        log_likelihood: None,
        converged: false,
        iterations: 0,
        bootstrap_resamples: 0,
        bootstrap_failed: 0,
        refit: Refit::Newton,
    };
    if n_used == 0 {
        return fit;
    }

    // The design: oriented standardised differences, grouped by cluster.
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
            *slot = p * zero_tiny(row[f]) / scale[f];
        }
    }
    let design = Design {
        k,
        x,
        starts,
        lambda: cfg.penalty,
    };

    let mut work = Work::new(k);
    let full = design.fit(&vec![0.0; k], None, &mut work);
    fit.converged = full.converged;
    fit.iterations = full.iterations;
    fit.log_likelihood = Some(full.log_likelihood);
    let beta = full.beta;

    // Standard errors from the penalised Hessian at the fit.
    let se = {
        let mut h = full.hessian.clone();
        if cholesky(&mut h, k) {
            Some(chol_inverse_diag(&h, k))
        } else {
            None
        }
    };
    for (j, &f) in included.iter().enumerate() {
        let e = &mut fit.factors[f];
        e.coefficient = Some(beta[j]);
        e.se = se.as_ref().map(|v| v[j].sqrt());
    }

    let resamples = cfg.bootstrap.resamples;
    if resamples == 0 || k == 0 || !full.converged {
        return fit;
    }
    let refit = if (n_used as u64).saturating_mul(u64::from(resamples)) <= cfg.exact_refit_limit {
        Refit::Newton
    } else {
        Refit::OneStep
    };
    let (reps, failed) = design.bootstrap(&beta, cfg.bootstrap, refit, &mut work);
    fit.bootstrap_resamples = resamples;
    fit.bootstrap_failed = failed;
    fit.refit = refit;
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

/// A difference below the tie tolerance counts as none.
#[inline]
fn zero_tiny(d: f64) -> f64 {
    if d.abs() < FACTOR_TIE_TOLERANCE {
        0.0
    } else {
        d
    }
}

/// The oriented, standardised design grouped by cluster: rows
/// `starts[c]..starts[c + 1]` of `x` (k values each) belong to cluster c.
struct Design {
    k: usize,
    x: Vec<f64>,
    starts: Vec<usize>,
    lambda: f64,
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
}

impl Work {
    fn new(k: usize) -> Self {
        Work {
            g: vec![0.0; k],
            h: vec![0.0; k * k],
            cg: vec![0.0; k],
            ch: vec![0.0; k * k],
            step: vec![0.0; k],
        }
    }
}

/// log σ(η), 1 − σ(η) and σ(η)(1 − σ(η)), computed without overflow.
#[inline]
fn logistic(eta: f64) -> (f64, f64, f64) {
    let e = (-eta.abs()).exp();
    let inv = 1.0 / (1.0 + e);
    // For η ≥ 0: σ = 1/(1+e), 1 − σ = e/(1+e); for η < 0 the other way round.
    let (sig, one_minus) = if eta >= 0.0 {
        (inv, e * inv)
    } else {
        (e * inv, inv)
    };
    let log_sig = if eta >= 0.0 {
        -e.ln_1p()
    } else {
        eta - e.ln_1p()
    };
    (log_sig, one_minus, sig * one_minus)
}

impl Design {
    fn n_clusters(&self) -> usize {
        self.starts.len() - 1
    }

    /// The data part of the gradient (Σ (1 − σ) x) and of the Hessian's upper
    /// triangle (Σ σ(1 − σ) x xᵀ) over one cluster's rows, into `g` and `h`
    /// (overwritten); returns the cluster's log-likelihood when `with_ll`.
    #[inline]
    fn cluster_sums(
        &self,
        c: usize,
        beta: &[f64],
        g: &mut [f64],
        h: &mut [f64],
        with_ll: bool,
    ) -> f64 {
        let k = self.k;
        g.iter_mut().for_each(|v| *v = 0.0);
        h.iter_mut().for_each(|v| *v = 0.0);
        let mut ll = 0.0;
        let rows = &self.x[self.starts[c] * k..self.starts[c + 1] * k];
        for row in rows.chunks_exact(k) {
            let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
            let (log_sig, r, w) = if with_ll {
                logistic(eta)
            } else {
                let e = (-eta.abs()).exp();
                let inv = 1.0 / (1.0 + e);
                let (sig, om) = if eta >= 0.0 {
                    (inv, e * inv)
                } else {
                    (e * inv, inv)
                };
                (0.0, om, sig * om)
            };
            ll += log_sig;
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
        for c in 0..self.n_clusters() {
            let w = weights.map_or(1, |w| w[c]);
            if w == 0 || self.starts[c] == self.starts[c + 1] {
                continue;
            }
            any = true;
            let mut cg = std::mem::take(&mut work.cg);
            let mut ch = std::mem::take(&mut work.ch);
            let cll = self.cluster_sums(c, beta, &mut cg, &mut ch, with_ll);
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

    /// Bootstrap replicates (`resamples × k`, `NaN` for a failed resample)
    /// and the number that failed.
    fn bootstrap(
        &self,
        beta_hat: &[f64],
        cfg: BootstrapConfig,
        refit: Refit,
        work: &mut Work,
    ) -> (Vec<f64>, u32) {
        let k = self.k;
        let nc = self.n_clusters();
        let kk = k * k;
        // Per-cluster data gradient and Hessian at the full-data fit.
        let mut pg = vec![0.0; nc * k];
        let mut ph = vec![0.0; nc * kk];
        for c in 0..nc {
            if self.starts[c] < self.starts[c + 1] {
                self.cluster_sums(
                    c,
                    beta_hat,
                    &mut pg[c * k..(c + 1) * k],
                    &mut ph[c * kk..(c + 1) * kk],
                    false,
                );
            }
        }
        let mut out = Vec::with_capacity(cfg.resamples as usize * k);
        let mut failed = 0u32;
        let mut rng = Rng::new(cfg.seed);
        let mut weights = vec![0u32; nc];
        let mut beta = vec![0.0; k];
        for _ in 0..cfg.resamples {
            weights.iter_mut().for_each(|w| *w = 0);
            for _ in 0..nc {
                weights[rng.below(nc as u64) as usize] += 1;
            }
            let result = self.refit(beta_hat, &weights, &pg, &ph, refit, &mut beta, work);
            if result {
                out.extend_from_slice(&beta);
            } else {
                failed += 1;
                out.extend(std::iter::repeat_n(f64::NAN, k));
            }
        }
        (out, failed)
    }

    /// Refits one resample into `beta`; false when it has no usable pair or
    /// does not converge.
    #[allow(clippy::too_many_arguments)]
    fn refit(
        &self,
        beta_hat: &[f64],
        weights: &[u32],
        pg: &[f64],
        ph: &[f64],
        refit: Refit,
        beta: &mut [f64],
        work: &mut Work,
    ) -> bool {
        let k = self.k;
        let kk = k * k;
        // First step from the precomputed per-cluster sums.
        work.g.iter_mut().for_each(|v| *v = 0.0);
        work.h.iter_mut().for_each(|v| *v = 0.0);
        let mut any = false;
        for (c, &w) in weights.iter().enumerate() {
            if w == 0 || self.starts[c] == self.starts[c + 1] {
                continue;
            }
            any = true;
            let wf = f64::from(w);
            for (t, v) in work.g.iter_mut().zip(&pg[c * k..(c + 1) * k]) {
                *t += wf * v;
            }
            for (t, v) in work.h.iter_mut().zip(&ph[c * kk..(c + 1) * kk]) {
                *t += wf * v;
            }
        }
        if !any {
            return false;
        }
        {
            let (g, h) = (&mut work.g, &mut work.h);
            self.add_penalty(beta_hat, g, h);
        }
        beta.copy_from_slice(beta_hat);
        let Some(mut prev) = self.newton_step(beta, work) else {
            return false;
        };
        if refit == Refit::OneStep || prev <= BOOTSTRAP_TOLERANCE {
            return beta.iter().all(|b| b.is_finite());
        }
        for _ in 0..MAX_BOOTSTRAP_PASSES {
            self.evaluate(beta, Some(weights), false, work);
            let Some(d) = self.newton_step(beta, work) else {
                break;
            };
            // In the quadratic regime the next step is about d³ / prev² … d · (d / prev)².
            if d <= BOOTSTRAP_TOLERANCE
                || (d < 0.5 * prev && d * (d / prev) * (d / prev) <= BOOTSTRAP_TOLERANCE)
            {
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

/// The diagonal of (L Lᵀ)⁻¹.
fn chol_inverse_diag(l: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; k];
    let mut e = vec![0.0; k];
    for j in 0..k {
        e.iter_mut().for_each(|v| *v = 0.0);
        e[j] = 1.0;
        chol_solve(l, k, &mut e);
        out[j] = e[j];
    }
    out
}
