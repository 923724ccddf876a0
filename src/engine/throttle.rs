//! A task's `throttle`: a token bucket shared by every user of a test whose
//! task has the same key, on every worker thread. A user reserves a token
//! before it sends; when none is left, the reservation says how long to
//! wait, and the user waits on its worker's timer (never blocking the
//! thread). Reservations queue: each waiter gets its own slot on the
//! clock, so waiters do not all wake at once to fight over one token.
//!
//! The bucket starts full (`burst` tokens) and refills at `rps` tokens a
//! second up to `burst`. The clock is passed in, so tests drive it.

use crate::sync::lock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A task's `throttle` as checked: rate, bucket size and the bucket's key.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottleSpec {
    /// Tokens per second, > 0.
    pub rps: f64,
    /// Most tokens saved up, >= 1.
    pub burst: f64,
    /// Tasks with the same key share one bucket.
    pub key: String,
}

/// One shared token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    rps: f64,
    burst: f64,
    /// Tokens left (negative: reserved ahead) as of the instant.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(spec: &ThrottleSpec, now: Instant) -> TokenBucket {
        TokenBucket {
            rps: spec.rps,
            burst: spec.burst,
            state: Mutex::new((spec.burst, now)),
        }
    }

    /// Takes one token at `now`: how long to wait before using it (zero
    /// when one was there).
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut s = lock(&self.state);
        let (tokens, at) = *s;
        // Another thread's `now` may be a hair older than the last one seen.
        let later = now.max(at);
        let dt = later.duration_since(at).as_secs_f64();
        let tokens = (tokens + self.rps * dt).min(self.burst) - 1.0;
        *s = (tokens, later);
        if tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((-tokens / self.rps).min(crate::units::MAX_SECONDS))
                + later.duration_since(now)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(rps: f64, burst: f64, t0: Instant) -> TokenBucket {
        TokenBucket::new(
            &ThrottleSpec {
                rps,
                burst,
                key: "k".into(),
            },
            t0,
        )
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let b = bucket(10.0, 3.0, t0);
        for _ in 0..3 {
            assert_eq!(b.reserve(t0), Duration::ZERO);
        }
        // Then one token every 100 ms, each waiter in its own slot.
        let waits: Vec<f64> = (0..3).map(|_| ms(b.reserve(t0))).collect();
        for (w, want) in waits.iter().zip([100.0, 200.0, 300.0]) {
            assert!((w - want).abs() < 1e-6, "{waits:?}");
        }
    }

    #[test]
    fn tokens_refill_at_the_rate_up_to_the_burst() {
        let t0 = Instant::now();
        let b = bucket(10.0, 2.0, t0);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        // 50 ms later half a token is back: wait the other 50.
        let w = ms(b.reserve(t0 + Duration::from_millis(50)));
        assert!((w - 50.0).abs() < 1e-6, "{w}");
        // Long idle: the bucket holds `burst` tokens, not more.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert_eq!(b.reserve(later), Duration::ZERO);
        assert!(b.reserve(later) > Duration::ZERO);
    }

    #[test]
    fn over_a_long_run_the_rate_is_rps() {
        // 20 waiters taking tokens as soon as they may: 2.5 tokens a second
        // over 100 s is 250 tokens, plus the first burst.
        let t0 = Instant::now();
        let b = bucket(2.5, 1.0, t0);
        let mut next = vec![t0; 20];
        let end = t0 + Duration::from_secs(100);
        let mut sent = 0;
        loop {
            let (i, at) = next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|(_, t)| *t)
                .expect("waiters");
            let go = at + b.reserve(at);
            if go >= end {
                break;
            }
            sent += 1;
            next[i] = go;
        }
        assert!((250..=251).contains(&sent), "{sent}");
    }

    #[test]
    fn an_older_instant_from_another_thread_waits_its_share() {
        let t0 = Instant::now();
        let b = bucket(10.0, 1.0, t0);
        assert_eq!(b.reserve(t0 + Duration::from_millis(100)), Duration::ZERO);
        // Seen 100 ms late: the next token is 100 ms after the last look,
        // 200 ms after this caller's own instant.
        let w = ms(b.reserve(t0));
        assert!((w - 200.0).abs() < 1e-6, "{w}");
    }
}
