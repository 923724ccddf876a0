//! How many users of a shaped test may run now: one number the test's clock
//! sets (from its [`super::shape::Follower`]) and every worker reads. Users
//! `0..allowed` run; the others wait parked. A worker is woken when the
//! number changes, so it starts or parks its users at once.
//!
//! A test without a shape allows every user from the start, and its users
//! ramp up on their own timers as before.

use crate::sync::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct Population {
    allowed: AtomicU64,
    /// The workers' event loops, woken on a change.
    wakers: Mutex<Vec<Arc<mio::Waker>>>,
}

impl Population {
    /// Shaped: no user runs until the clock says; unshaped: all may.
    pub fn new(shaped: bool) -> Population {
        Population {
            allowed: AtomicU64::new(if shaped { 0 } else { u64::MAX }),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Users `0..allowed()` may run.
    #[inline]
    pub fn allowed(&self) -> u64 {
        self.allowed.load(Ordering::Relaxed)
    }

    /// Whether user `id` is above the target and must park.
    #[inline]
    pub fn over(&self, id: u64) -> bool {
        id >= self.allowed()
    }

    /// Sets the users that may run; wakes the workers when it changed.
    pub fn set(&self, allowed: u64) {
        if self.allowed.swap(allowed, Ordering::AcqRel) != allowed {
            for w in lock(&self.wakers).iter() {
                let _ = w.wake();
            }
        }
    }

    pub fn add_waker(&self, waker: Arc<mio::Waker>) {
        lock(&self.wakers).push(waker);
    }
}

/// How many of worker `worker`'s `len` users (ids `worker`, `worker +
/// workers`, ...: its slots in order) have an id below `allowed`.
pub fn slots_within(allowed: u64, worker: usize, workers: usize, len: usize) -> usize {
    let (w, n) = (worker as u64, workers.max(1) as u64);
    if allowed <= w {
        return 0;
    }
    let below = (allowed - w).div_ceil(n);
    below.min(len as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_within_counts_a_workers_ids_below_the_target() {
        // 3 workers, 10 users: worker 0 has 0 3 6 9, worker 1 has 1 4 7,
        // worker 2 has 2 5 8.
        assert_eq!(slots_within(0, 0, 3, 4), 0);
        assert_eq!(slots_within(1, 0, 3, 4), 1);
        assert_eq!(slots_within(1, 1, 3, 3), 0);
        assert_eq!(slots_within(5, 0, 3, 4), 2);
        assert_eq!(slots_within(5, 1, 3, 3), 2);
        assert_eq!(slots_within(5, 2, 3, 3), 1);
        assert_eq!(slots_within(10, 0, 3, 4), 4);
        assert_eq!(slots_within(u64::MAX, 2, 3, 3), 3);
        assert_eq!(slots_within(7, 0, 1, 10), 7);
    }

    #[test]
    fn unshaped_allows_everyone_shaped_nobody_until_set() {
        let open = Population::new(false);
        assert!(!open.over(1_000_000));
        let shaped = Population::new(true);
        assert!(shaped.over(0));
        shaped.set(2);
        assert!(!shaped.over(1) && shaped.over(2));
    }
}
