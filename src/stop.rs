//! The stop signal one test shares between its workers, its supervisor thread and
//! every sleep: ramp-up, think time, backoff and injected latency all wait on it,
//! so a stop is never stuck behind a sleep.

use crate::sync::lock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[allow(dead_code)]
const RUNNING: u8 = 0;
/// No new request may start; in-flight requests may finish.
const STOPPING: u8 = 1;
/// In-flight requests must end now (the grace period is over).
const ABORTED: u8 = 2;

/// Shared by reference (`&StopSignal`) between the threads of one test.
#[derive(Debug, Default)]
pub struct StopSignal {
    state: AtomicU8,
    lock: Mutex<()>,
    wake: Condvar,
    /// Event loops to wake when the state rises.
    wakers: Mutex<Vec<Arc<mio::Waker>>>,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once no new request may start.
    #[inline]
    pub fn is_stopping(&self) -> bool {
        self.state.load(Ordering::Relaxed) >= STOPPING
    }

    /// True once in-flight requests must give up at once.
    #[inline]
    pub fn is_aborted(&self) -> bool {
        self.state.load(Ordering::Relaxed) >= ABORTED
    }

    /// Ask every worker to stop starting requests. Idempotent.
    pub fn stop(&self) {
        self.raise(STOPPING);
    }

    /// Ask in-flight requests to end now. Implies [`StopSignal::stop`].
    pub fn abort(&self) {
        self.raise(ABORTED);
    }

    /// Wakes `waker`'s event loop whenever the state rises.
    pub fn add_waker(&self, waker: Arc<mio::Waker>) {
        lock(&self.wakers).push(waker);
    }

    fn raise(&self, to: u8) {
        let before = self.state.fetch_max(to, Ordering::SeqCst);
        {
            let _guard = lock(&self.lock);
            self.wake.notify_all();
        }
        if before < to {
            for w in lock(&self.wakers).iter() {
                let _ = w.wake();
            }
        }
    }

    /// Sleep for `dur` unless the test starts stopping first.
    /// Returns `true` when the full duration elapsed, `false` when cut short.
    pub fn sleep(&self, dur: Duration) -> bool {
        if dur.is_zero() {
            return !self.is_stopping();
        }
        // A duration too long to add to the clock waits for the stop alone.
        let deadline = Instant::now().checked_add(dur);
        let mut guard = lock(&self.lock);
        loop {
            if self.is_stopping() {
                return false;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => return true,
                Some(d) => d - now,
                None => Duration::from_secs(3600),
            };
            guard = match self.wake.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_runs_full_duration_when_not_stopped() {
        let s = StopSignal::new();
        let t = Instant::now();
        assert!(s.sleep(Duration::from_millis(30)));
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn stop_cuts_a_sleep_short() {
        let s = Arc::new(StopSignal::new());
        let s2 = Arc::clone(&s);
        let h = std::thread::spawn(move || {
            let t = Instant::now();
            let full = s2.sleep(Duration::from_secs(30));
            (full, t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(50));
        s.stop();
        let (full, took) = h.join().unwrap();
        assert!(!full);
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(s.is_stopping() && !s.is_aborted());
        s.abort();
        assert!(s.is_aborted());
    }
}
