//! Pacing of LLM calls, as pure arithmetic shared by the CLI and the browser:
//! retry delays (exponential backoff with jitter, honouring `Retry-After`) and
//! token buckets for requests and tokens per minute. Time is passed in, in
//! seconds, so everything here is deterministic and testable.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest wait any delay here turns into: a day. Waits the run accepts
/// are capped far below this ([`RetryPolicy::max_wait_s`]); this bound only
/// makes [`duration_s`] total.
pub const MAX_DURATION_S: f64 = 86_400.0;

/// `s` seconds as a [`Duration`], for any `f64`: NaN and negative values are
/// 0, values over [`MAX_DURATION_S`] (1e300, infinity) are that. Never
/// panics, unlike `Duration::from_secs_f64`.
pub fn duration_s(s: f64) -> Duration {
    if s.is_nan() || s <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(s.min(MAX_DURATION_S))
    }
}

fn default_max_wait_s() -> f64 {
    600.0
}

/// When and how often to retry a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry, in seconds; doubles each time.
    pub base_s: f64,
    /// Upper bound of a computed delay (a longer `Retry-After` is honoured).
    pub max_s: f64,
    /// Per-request timeout, in seconds.
    pub timeout_s: f64,
    /// The longest wait before a retry, in seconds (default 600, ten
    /// minutes): a server asking for more (`Retry-After: 1000000`) fails the
    /// item with that reason instead of stalling the run.
    #[serde(default = "default_max_wait_s")]
    pub max_wait_s: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_s: 1.0,
            max_s: 60.0,
            timeout_s: 120.0,
            max_wait_s: default_max_wait_s(),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 = the first retry), given the
    /// server's `Retry-After` (if any) and a uniform number `jitter` in [0, 1):
    /// "equal jitter" — half the exponential step fixed, half random — and
    /// never less than `Retry-After`.
    pub fn delay_s(&self, retry: u32, retry_after_s: Option<f64>, jitter: f64) -> f64 {
        let step =
            (self.base_s * 2f64.powi(retry.saturating_sub(1).min(30) as i32)).min(self.max_s);
        let backoff = step / 2.0 + step / 2.0 * jitter.clamp(0.0, 1.0);
        match retry_after_s {
            Some(ra) if ra.is_finite() && ra > backoff => ra,
            _ => backoff,
        }
    }

    /// Why a wait of `wait_s` seconds is not waited: `None` when it is
    /// within [`RetryPolicy::max_wait_s`].
    pub fn refuse_wait(&self, wait_s: f64) -> Option<String> {
        (wait_s.is_nan() || wait_s > self.max_wait_s).then(|| {
            format!(
                "the server asked to wait {} s before retrying, more than the {} s limit",
                fmt_seconds(wait_s),
                fmt_seconds(self.max_wait_s)
            )
        })
    }

    /// Whether another attempt is allowed after `attempts` attempts.
    pub fn may_retry(&self, attempts: u32) -> bool {
        attempts < self.max_attempts
    }
}

/// Seconds as written by a person: `1000000`, `1.5`, `1e300`.
pub fn fmt_seconds(s: f64) -> String {
    if s.is_finite() && s.abs() < 1e15 {
        format!("{s}")
    } else {
        format!("{s:e}")
    }
}

/// A token bucket: `capacity` units, refilled at `per_s` units per second.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    capacity: f64,
    per_s: f64,
    level: f64,
    at_s: f64,
}

impl TokenBucket {
    /// A full bucket allowing `per_minute` units per minute (bursts up to that many).
    pub fn per_minute(per_minute: f64, now_s: f64) -> Self {
        TokenBucket {
            capacity: per_minute.max(1.0),
            per_s: per_minute / 60.0,
            level: per_minute.max(1.0),
            at_s: now_s,
        }
    }

    fn refill(&mut self, now_s: f64) {
        if now_s > self.at_s {
            self.level = (self.level + (now_s - self.at_s) * self.per_s).min(self.capacity);
            self.at_s = now_s;
        }
    }

    /// How many seconds until `amount` units are available (0: now); takes
    /// nothing.
    pub fn wait_s(&mut self, amount: f64, now_s: f64) -> f64 {
        self.refill(now_s);
        let amount = amount.min(self.capacity);
        if self.level >= amount {
            0.0
        } else if self.per_s > 0.0 {
            (amount - self.level) / self.per_s
        } else {
            f64::INFINITY
        }
    }

    /// Takes `amount` units if available and returns 0; otherwise takes
    /// nothing and returns how many seconds to wait before trying again. An
    /// amount above the capacity is treated as the capacity (so it can pass).
    pub fn take(&mut self, amount: f64, now_s: f64) -> f64 {
        let wait = self.wait_s(amount, now_s);
        if wait <= 0.0 {
            self.level -= amount.min(self.capacity);
        }
        wait
    }
}

/// The requests-per-minute and tokens-per-minute budgets of one run, shared
/// by its workers: the one pacer of both drivers (the CLI's threads and the
/// worker's async loops). A call takes one request and its tokens together,
/// or nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Pacer {
    requests: Option<TokenBucket>,
    tokens: Option<TokenBucket>,
}

impl Pacer {
    /// Full buckets for the given rates (`None`: no limit).
    pub fn new(
        requests_per_minute: Option<f64>,
        tokens_per_minute: Option<f64>,
        now_s: f64,
    ) -> Self {
        Pacer {
            requests: requests_per_minute.map(|r| TokenBucket::per_minute(r, now_s)),
            tokens: tokens_per_minute.map(|r| TokenBucket::per_minute(r, now_s)),
        }
    }

    /// Takes one request and `tokens` tokens and returns 0 when both budgets
    /// allow them; otherwise takes nothing and returns how many seconds to
    /// wait before asking again (at most 5, so a stop is seen soon).
    pub fn take(&mut self, tokens: f64, now_s: f64) -> f64 {
        let wait = |b: &mut Option<TokenBucket>, amount: f64| {
            b.as_mut().map_or(0.0, |b| b.wait_s(amount, now_s))
        };
        let w = wait(&mut self.requests, 1.0).max(wait(&mut self.tokens, tokens));
        if w > 0.0 {
            return w.min(5.0);
        }
        for (b, amount) in [(&mut self.requests, 1.0), (&mut self.tokens, tokens)] {
            if let Some(b) = b {
                b.take(amount, now_s);
            }
        }
        0.0
    }
}

/// The seed of worker `w`'s jitter generator in a run seeded with `seed`:
/// the one rule of both drivers.
pub fn worker_seed(seed: u64, w: usize) -> u64 {
    seed ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_s(1, None, 0.0), 0.5);
        assert_eq!(p.delay_s(1, None, 1.0), 1.0);
        assert_eq!(p.delay_s(3, None, 1.0), 4.0);
        assert_eq!(p.delay_s(20, None, 1.0), 60.0);
        assert_eq!(p.delay_s(1, Some(7.0), 0.3), 7.0);
        assert_eq!(p.delay_s(3, Some(0.1), 0.0), 2.0);
        assert!(p.may_retry(4) && !p.may_retry(5));
    }

    #[test]
    fn any_number_of_seconds_is_a_bounded_duration() {
        assert_eq!(duration_s(f64::NAN), Duration::ZERO);
        assert_eq!(duration_s(-1.0), Duration::ZERO);
        assert_eq!(duration_s(1.5), Duration::from_millis(1500));
        for huge in [1e300, f64::INFINITY, f64::MAX, 1e20] {
            assert_eq!(duration_s(huge), Duration::from_secs(86_400));
        }
        let p = RetryPolicy::default();
        assert_eq!(p.refuse_wait(600.0), None);
        let why = p.refuse_wait(1e300).unwrap();
        assert!(why.contains("1e300 s") && why.contains("600 s"), "{why}");
        assert!(p.refuse_wait(1_000_000.0).unwrap().contains("1000000 s"));
        assert!(p.refuse_wait(f64::NAN).is_some());
        // Stored policies without the field get the default.
        let old: RetryPolicy = serde_json::from_str(
            r#"{"max_attempts": 5, "base_s": 1, "max_s": 60, "timeout_s": 120}"#,
        )
        .unwrap();
        assert_eq!(old.max_wait_s, 600.0);
    }

    #[test]
    fn bucket_limits_rate_and_refills() {
        let mut b = TokenBucket::per_minute(60.0, 0.0);
        for _ in 0..60 {
            assert_eq!(b.take(1.0, 0.0), 0.0);
        }
        let wait = b.take(1.0, 0.0);
        assert!((wait - 1.0).abs() < 1e-9, "{wait}");
        assert_eq!(b.take(1.0, 1.0), 0.0);
        let mut t = TokenBucket::per_minute(1000.0, 0.0);
        assert_eq!(
            t.take(5000.0, 0.0),
            0.0,
            "oversized requests pass when the bucket is full"
        );
        assert!(t.take(10.0, 0.0) > 0.0);
    }

    #[test]
    fn the_pacer_takes_a_request_and_its_tokens_together_or_nothing() {
        let mut p = Pacer::new(Some(60.0), Some(100.0), 0.0);
        assert_eq!(p.take(90.0, 0.0), 0.0);
        // Tokens short: waits, and the request budget is left as it was.
        let w = p.take(30.0, 0.0);
        assert!((w - 5.0).abs() < 1e-9, "capped at 5 s: {w}");
        assert!((p.tokens.as_mut().unwrap().wait_s(30.0, 0.0) - 12.0).abs() < 1e-9);
        assert_eq!(p.requests.as_mut().unwrap().wait_s(59.0, 0.0), 0.0);
        assert_eq!(p.take(30.0, 12.0), 0.0);
        assert_eq!(Pacer::new(None, None, 0.0).take(1e9, 0.0), 0.0);
        assert_ne!(worker_seed(7, 0), worker_seed(7, 1));
        assert_eq!(
            worker_seed(7, 2),
            7 ^ 3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
    }
}
