//! Requests in flight, for the live metrics: one counter per worker, each on
//! its own cache line and written by its worker only (a load and a store, no
//! read-modify-write), read by the clock once a second.

use std::sync::atomic::{AtomicU64, Ordering};

#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// One counter per worker.
pub struct InFlight(Vec<Padded>);

impl InFlight {
    pub fn new(workers: usize) -> InFlight {
        InFlight((0..workers).map(|_| Padded::default()).collect())
    }

    /// Worker `shard` began a request. Only that worker calls it.
    #[inline]
    pub fn begin(&self, shard: usize) {
        let c = &self.0[shard].0;
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Worker `shard` finished (or dropped) a request it began.
    #[inline]
    pub fn end(&self, shard: usize) {
        let c = &self.0[shard].0;
        c.store(
            c.load(Ordering::Relaxed).saturating_sub(1),
            Ordering::Relaxed,
        );
    }

    /// Requests in flight on every worker now.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|p| p.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_worker() {
        let f = InFlight::new(2);
        f.begin(0);
        f.begin(1);
        f.begin(1);
        f.end(1);
        assert_eq!(f.total(), 2);
        f.end(0);
        f.end(0);
        assert_eq!(f.total(), 1, "never below zero");
    }
}
