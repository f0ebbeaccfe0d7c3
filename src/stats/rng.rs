//! A small seeded generator (SplitMix64), so bootstrap results reproduce bit for
//! bit on every platform and across dependency upgrades.

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, and is
/// more than good enough for drawing bootstrap indices.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The generator as it will be after `draws` more calls of
    /// [`Rng::next_u64`] (or [`Rng::below`], which makes one each): SplitMix64's
    /// state only counts, so a resample's draws can start without the earlier
    /// resamples' being made.
    pub fn advanced(&self, draws: u64) -> Rng {
        Rng(self
            .0
            .wrapping_add(draws.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    /// A uniform integer in `0..n` (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A uniform float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `k` distinct indices of `0..n` drawn uniformly without replacement
    /// (a partial Fisher–Yates shuffle), in ascending order; all of them
    /// when `k >= n`.
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx.sort_unstable();
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_and_uniformity() {
        // First outputs of SplitMix64 seeded with 0 (reference implementation).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut r = Rng::new(7);
        let mut hist = [0u32; 10];
        for _ in 0..100_000 {
            hist[r.below(10) as usize] += 1;
        }
        assert!(
            hist.iter().all(|&h| (9_500..10_500).contains(&h)),
            "{hist:?}"
        );
    }

    #[test]
    fn samples_without_replacement_uniformly() {
        let mut r = Rng::new(3);
        assert_eq!(r.sample_indices(5, 9), [0, 1, 2, 3, 4]);
        assert!(r.sample_indices(0, 3).is_empty());
        let mut hist = [0u32; 10];
        for _ in 0..20_000 {
            let s = r.sample_indices(10, 3);
            assert_eq!(s.len(), 3);
            assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
            for i in s {
                hist[i] += 1;
            }
        }
        // Each index is drawn with probability 3/10: 6000 of 20000 times.
        assert!(
            hist.iter().all(|&h| (5_700..6_300).contains(&h)),
            "{hist:?}"
        );
    }
}
