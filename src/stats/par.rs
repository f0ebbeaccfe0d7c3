//! Independent pieces of work spread over the cores (natively; on wasm32,
//! and for small work, on the calling thread). Callers split their work so
//! that the result does not depend on how it is spread: each piece is a
//! pure function of its index range (the bootstraps jump their generator to
//! the range's first draw, [`Rng::advanced`](super::Rng::advanced)).

use std::ops::Range;

/// Below this much work (in the caller's units, about one draw each) the
/// pieces stay on the calling thread.
pub(crate) const PARALLEL_MIN_WORK: usize = 1 << 20;

/// `f` over contiguous ranges that cover `0..n` in order, their results in
/// that order: one range per core when `work` (the caller's measure of the
/// whole job) is at least [`PARALLEL_MIN_WORK`], else one range.
pub(crate) fn map_ranges<T: Send>(
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads();
    #[cfg(test)]
    let threads = if SEQUENTIAL.with(std::cell::Cell::get) {
        1
    } else {
        threads
    };
    if threads < 2 || n < 2 || work < PARALLEL_MIN_WORK {
        return vec![f(0..n)];
    }
    let parts = threads.min(n);
    let bounds: Vec<usize> = (0..=parts).map(|i| i * n / parts).collect();
    spawn_all(&bounds, &f)
}

#[cfg(test)]
thread_local! {
    /// Tests set this to run everything the calling thread starts on it alone.
    pub(crate) static SEQUENTIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(target_arch = "wasm32")]
fn threads() -> usize {
    1
}

#[cfg(not(target_arch = "wasm32"))]
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

#[cfg(target_arch = "wasm32")]
fn spawn_all<T: Send>(bounds: &[usize], f: &(impl Fn(Range<usize>) -> T + Sync)) -> Vec<T> {
    bounds.windows(2).map(|w| f(w[0]..w[1])).collect()
}

#[cfg(not(target_arch = "wasm32"))]
fn spawn_all<T: Send>(bounds: &[usize], f: &(impl Fn(Range<usize>) -> T + Sync)) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = bounds[1..]
            .windows(2)
            .map(|w| {
                let r = w[0]..w[1];
                s.spawn(move || f(r))
            })
            .collect();
        // The first range on this thread.
        let mut out = vec![f(bounds[0]..bounds[1])];
        for h in handles {
            match h.join() {
                Ok(v) => out.push(v),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_in_order() {
        for (n, work) in [
            (0, 0),
            (1, PARALLEL_MIN_WORK),
            (7, PARALLEL_MIN_WORK),
            (1000, 0),
        ] {
            let parts = map_ranges(n, work, |r| r.collect::<Vec<_>>());
            assert_eq!(parts.concat(), (0..n).collect::<Vec<_>>());
        }
    }
}
