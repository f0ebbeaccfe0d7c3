//! Correlations between factor-score vectors, with ties handled as scipy does.
//!
//! Each returns `None` where scipy returns NaN: fewer than two points, or a
//! constant vector.

/// Ranks 1..n with tied values given the average of their ranks
/// (`scipy.stats.rankdata(method="average")`).
pub fn rank_average(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&i, &j| xs[i].total_cmp(&xs[j]));
    let mut ranks = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && xs[idx[j]] == xs[idx[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share the average of ranks i+1..=j.
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = avg;
        }
        i = j;
    }
    ranks
}

/// −1, 0 or +1; −0.0 and 0.0 (and NaN) are 0, so equal values tie.
fn sign(d: f64) -> i8 {
    if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        0
    }
}

/// Pearson's r. `None` for fewer than two points, a constant vector
/// (exactly: every value equal) or a value that is not finite. Where the
/// plain sums would overflow or underflow (scores of ±1e200, or 1e-200),
/// the values are first scaled by a power of two near each vector's largest
/// magnitude, which is exact, so the result does not depend on the units.
/// Allocates nothing.
pub fn pearson_r(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "vectors of different lengths");
    if x.len() < 2 {
        return None;
    }
    match pearson_scaled(x, y, 1.0, 1.0) {
        Sums::Constant => None,
        Sums::Fine(r) => Some(r),
        Sums::OutOfRange => pearson_scaled(x, y, scale_of(x)?, scale_of(y)?).r(),
    }
}

enum Sums {
    /// A vector is constant.
    Constant,
    Fine(f64),
    /// A sum overflowed or underflowed (or a value is not finite).
    OutOfRange,
}

impl Sums {
    fn r(self) -> Option<f64> {
        match self {
            Sums::Fine(r) => Some(r),
            _ => None,
        }
    }
}

/// r of `x · kx` and `y · ky`, computed as the textbook two-pass formula.
fn pearson_scaled(x: &[f64], y: &[f64], kx: f64, ky: f64) -> Sums {
    let n = x.len() as f64;
    let mx = x.iter().map(|a| a * kx).sum::<f64>() / n;
    let my = y.iter().map(|b| b * ky).sum::<f64>() / n;
    let (x0, y0) = (x[0], y[0]);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    let (mut vx, mut vy) = (false, false);
    for (&a, &b) in x.iter().zip(y) {
        vx |= a != x0;
        vy |= b != y0;
        let (dx, dy) = (a * kx - mx, b * ky - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (x0.is_finite() && !vx) || (y0.is_finite() && !vy) {
        return Sums::Constant;
    }
    let normal = |s: f64| s.is_finite() && s >= f64::MIN_POSITIVE;
    if !(normal(sxx) && normal(syy) && sxy.is_finite()) {
        return Sums::OutOfRange;
    }
    Sums::Fine((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// For a vector that is all finite and not constant, the power of two that
/// brings its largest magnitude into [1, 2) (as near as the exponent range
/// allows); `None` otherwise.
fn scale_of(v: &[f64]) -> Option<f64> {
    let first = v[0];
    let (mut max, mut varies) = (0.0f64, false);
    for &a in v {
        if !a.is_finite() {
            return None;
        }
        max = max.max(a.abs());
        varies |= a != first;
    }
    if !varies {
        return None;
    }
    let e = ((max.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let e = e.clamp(-1022, 1022);
    Some(f64::from_bits(((1023 - e) as u64) << 52))
}

/// Spearman's ρ: Pearson's r of average ranks.
pub fn spearman_rho(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson_r(&rank_average(x), &rank_average(y))
}

/// Kendall's τ_b (`scipy.stats.kendalltau`, variant "b"):
/// (P − Q) / sqrt((n0 − n1)(n0 − n2)), where n1 and n2 count the pairs tied in
/// x and in y (pairs tied in both count in each).
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    assert_eq!(x.len(), y.len(), "vectors of different lengths");
    let n = x.len();
    if n < 2 {
        return None;
    }
    let (mut p, mut q, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = sign(x[i] - x[j]);
            let dy = sign(y[i] - y[j]);
            if dx == 0 {
                tx += 1;
            }
            if dy == 0 {
                ty += 1;
            }
            if dx != 0 && dy != 0 {
                if dx == dy {
                    p += 1;
                } else {
                    q += 1;
                }
            }
        }
    }
    let n0 = (n * (n - 1) / 2) as i64;
    let denom = ((n0 - tx) as f64 * (n0 - ty) as f64).sqrt();
    if denom == 0.0 {
        return None;
    }
    Some(((p - q) as f64 / denom).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) {
        let a = a.expect("a value");
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            rank_average(&[10.0, 20.0, 10.0, 30.0, 20.0]),
            [1.5, 3.5, 1.5, 5.0, 3.5]
        );
    }

    // Reference values computed independently with scipy 1.17:
    //   x = [0.1, 0.4, 0.4, -0.2, 0.3, 0.0]; y = [0.2, 0.5, 0.1, -0.1, 0.5, 0.0]
    //   kendalltau(x, y).statistic = 0.6428571428571429
    //   spearmanr(x, y).statistic  = 0.7205882352941176 (ties in both)
    //   pearsonr(x, y).statistic   = 0.7507098913089469
    // Hand check of τ_b: P = 11, Q = 2, one tie in x, one in y, n0 = 15 → 9/14.
    #[test]
    fn correlations_with_ties() {
        let x = [0.1, 0.4, 0.4, -0.2, 0.3, 0.0];
        let y = [0.2, 0.5, 0.1, -0.1, 0.5, 0.0];
        close(kendall_tau_b(&x, &y), 0.6428571428571429);
        close(spearman_rho(&x, &y), 0.7205882352941176);
        close(pearson_r(&x, &y), 0.7507098913089469);
    }

    #[test]
    fn degenerate_inputs_are_none() {
        assert_eq!(kendall_tau_b(&[1.0], &[2.0]), None);
        assert_eq!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson_r(&[3.0, 3.0, 3.0], &[1.0, 2.0, 3.0]), None);
        // The mean of three 0.1s is not 0.1 in floating point: still constant.
        assert_eq!(pearson_r(&[0.1, 0.1, 0.1], &[1.0, 2.0, 4.0]), None);
        assert_eq!(pearson_r(&[f64::NAN, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn ten_factors_without_ties_give_multiples_of_one_45th() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y = [0.0, 2.0, 1.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0, 8.0];
        close(kendall_tau_b(&x, &y), 41.0 / 45.0);
        close(spearman_rho(&x, &x), 1.0);
    }
}
