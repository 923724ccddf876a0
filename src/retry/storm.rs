//! Retry-storm protection: over the last 10 s, retries may not exceed
//! `retry_ratio` × first attempts + `retry_min_per_s` × 10. Fixed 100 ms
//! buckets in a ring of atomics: constant memory and constant cost, no lock.

use super::policy::{RetryArg, DEFAULT_RETRY_MIN_PER_S, DEFAULT_RETRY_RATIO};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BUCKET: Duration = Duration::from_millis(100);
const BUCKETS: usize = 100;
/// The window the budget looks back over.
pub const WINDOW: Duration = Duration::from_secs(10);

struct Bucket {
    /// Which 100 ms slot since `start` this bucket holds (+1; 0 = never used).
    slot: AtomicU64,
    firsts: AtomicU64,
    retries: AtomicU64,
}

/// The retry-storm budget's settings (`retry_ratio`, `retry_min_per_s` of a
/// run-wide `retry` block).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries may not exceed this × first attempts over the window…
    pub ratio: f64,
    /// …plus this many per second.
    pub min_per_s: f64,
}

impl RetryBudgetConfig {
    /// The settings of a run-wide `retry` block, defaults filled in.
    pub fn from_arg(a: &RetryArg) -> RetryBudgetConfig {
        RetryBudgetConfig {
            ratio: a.retry_ratio.unwrap_or(DEFAULT_RETRY_RATIO),
            min_per_s: a.retry_min_per_s.unwrap_or(DEFAULT_RETRY_MIN_PER_S),
        }
    }
}

/// The run-wide retry budget of one test, shared by its workers.
pub struct RetryBudget {
    start: Instant,
    ratio: f64,
    min_per_s: f64,
    ring: Vec<Bucket>,
}

impl RetryBudget {
    pub fn new(start: Instant, cfg: RetryBudgetConfig) -> RetryBudget {
        RetryBudget {
            start,
            ratio: cfg.ratio,
            min_per_s: cfg.min_per_s,
            ring: (0..BUCKETS)
                .map(|_| Bucket {
                    slot: AtomicU64::new(0),
                    firsts: AtomicU64::new(0),
                    retries: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    fn slot(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_millis() / BUCKET.as_millis()) as u64 + 1
    }

    /// The bucket for `slot`, cleared first if it still holds an older slot.
    fn bucket(&self, slot: u64) -> &Bucket {
        let b = &self.ring[(slot % BUCKETS as u64) as usize];
        let seen = b.slot.load(Ordering::Acquire);
        if seen != slot
            && seen < slot
            && b.slot
                .compare_exchange(seen, slot, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A count or two racing with the reset may be lost: the budget is a guard, not a ledger.
            b.firsts.store(0, Ordering::Relaxed);
            b.retries.store(0, Ordering::Relaxed);
        }
        b
    }

    /// Counts a first attempt (one per logical request).
    pub fn first_attempt(&self, now: Instant) {
        self.bucket(self.slot(now))
            .firsts
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn try_retry(&self, now: Instant) -> bool {
        let slot = self.slot(now);
        let oldest = slot.saturating_sub(BUCKETS as u64 - 1);
        let (mut firsts, mut retries) = (0u64, 0u64);
        for b in &self.ring {
            let s = b.slot.load(Ordering::Acquire);
            if s >= oldest && s <= slot {
                firsts += b.firsts.load(Ordering::Relaxed);
                retries += b.retries.load(Ordering::Relaxed);
            }
        }
        let allowed = self.ratio * firsts as f64 + self.min_per_s * WINDOW.as_secs_f64();
        if (retries as f64) < allowed {
            self.bucket(slot).retries.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_can_still_retry_up_to_the_floor() {
        let t0 = Instant::now();
        let b = RetryBudget::new(
            t0,
            RetryBudgetConfig {
                ratio: 0.2,
                min_per_s: 3.0,
            },
        );
        let granted = (0..100).filter(|_| b.try_retry(t0)).count();
        assert_eq!(granted, 30, "3 per second over 10 s");
    }

    #[test]
    fn retries_scale_with_first_attempts() {
        let t0 = Instant::now();
        let b = RetryBudget::new(
            t0,
            RetryBudgetConfig {
                ratio: 0.2,
                min_per_s: 3.0,
            },
        );
        for _ in 0..1000 {
            b.first_attempt(t0);
        }
        let granted = (0..1000)
            .filter(|_| b.try_retry(t0 + Duration::from_millis(50)))
            .count();
        assert_eq!(granted, 230, "0.2 × 1000 + 30");
    }

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let b = RetryBudget::new(
            t0,
            RetryBudgetConfig {
                ratio: 0.0,
                min_per_s: 1.0,
            },
        );
        assert_eq!((0..50).filter(|_| b.try_retry(t0)).count(), 10);
        // Still inside the 10 s window: nothing more.
        assert!(!b.try_retry(t0 + Duration::from_secs(9)));
        // Once the first bucket has left the window, the budget is back.
        let later = t0 + Duration::from_millis(10_050);
        assert_eq!((0..50).filter(|_| b.try_retry(later)).count(), 10);
    }
}
