//! `data::sort`: stable sorting with one instance of the standard library's sort for the
//! whole crate.
//!
//! Each `slice::sort_by` (or `sort`, `sort_unstable`, …) call site with its
//! own element type or comparator gets its own copy of the standard sort,
//! about 3.5 KB of WebAssembly each. The web app's first-load module is
//! measured in kilobytes, so the places that sort rarely and little (a
//! dataset's diagnostics, a summary's candidates, a table's rows, …) sort
//! here instead: the positions of the elements are sorted by one shared,
//! non-generic sort of `u32`s, then the elements are moved into that order.
//! The result is exactly a stable sort's (`slice::sort_by`'s); where the
//! standard library's unstable sort was used, it is the same whenever
//! elements that compare equal are identical (integers, tuples of them).
//! Hot loops (ranks, percentiles, sampling) keep the standard sorts.

use std::cmp::Ordering;

/// The stable sorted order of `n` elements compared by `cmp` (by position).
fn order(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let n = u32::try_from(n).expect("at most 2^32 elements");
    let mut idx: Vec<u32> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a as usize, b as usize));
    idx
}

/// Puts `v` in `order`: afterwards `v[k]` is the element that was at
/// `order[k]` (each cycle of the permutation is followed once).
fn permute<T>(v: &mut [T], order: &[u32]) {
    let mut done = vec![false; v.len()];
    for start in 0..v.len() {
        if done[start] {
            continue;
        }
        done[start] = true;
        let mut j = start;
        loop {
            let k = order[j] as usize;
            if k == start {
                break;
            }
            v.swap(j, k);
            done[k] = true;
            j = k;
        }
    }
}

/// As `v.sort_by(cmp)`.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let o = order(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    permute(v, &o);
}

/// As `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// As `v.sort()`.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same order as the standard stable sort, ties kept in their
    /// original order, on random data with many ties.
    #[test]
    fn sorts_as_the_standard_stable_sort() {
        let mut state = 7u64;
        let mut below = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for n in [0usize, 1, 2, 3, 5, 17, 100, 1000] {
            for ties in [1u64, 3, 1000] {
                let v: Vec<(u64, usize)> = (0..n).map(|i| (below(ties), i)).collect();
                let mut ours = v.clone();
                sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
                let mut std = v.clone();
                std.sort_by_key(|a| a.0);
                assert_eq!(ours, std, "n {n}, ties {ties}");
                let mut by_key = v.clone();
                sort_by_key(&mut by_key, |x| std::cmp::Reverse(x.0));
                std.sort_by_key(|x| std::cmp::Reverse(x.0));
                assert_eq!(by_key, std);
                let mut whole = v.clone();
                sort(&mut whole);
                let mut unstable = v;
                unstable.sort_unstable();
                assert_eq!(whole, unstable);
            }
        }
    }
}
