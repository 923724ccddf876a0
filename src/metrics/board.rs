//! What the exporter serves: every test's counters and latency buckets so
//! far, and the gauges of the test that is running. The test's clock
//! publishes here once a second and once more when the test ends; a scrape
//! renders it. Memory is fixed per task name, however long the run.

use crate::stats::recorder::{FailKind, Tally};
use crate::supervisor::RunControl;
use crate::sync::lock;
use hdrhistogram::Counter;
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency histogram's buckets, `+Inf` aside.
/// Fixed and documented, so dashboards and alerts can rely on them.
pub const LATENCY_BUCKETS_S: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The longest the end of a run waits for Prometheus's last scrape.
pub const MAX_FINAL_SCRAPE_WAIT: Duration = Duration::from_secs(30);

/// One task name's counters in one test, cumulative since the test began.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Logical requests completed (a request and its retries count once).
    pub requests: u64,
    /// Requests the end of the test cut off (not in `requests`).
    pub cancelled: u64,
    /// Failed requests, by [`FailKind`] (indexed as [`FailKind::ALL`]).
    pub failures: [u64; FailKind::ALL.len()],
    /// Attempts sent (a request without a retry policy is one attempt).
    pub attempts: u64,
    /// Retries, by class (transient, flaky, permanent).
    pub retries: [u64; 3],
    /// Attempts the network conditioner dropped before sending.
    pub dropped: u64,
    /// Response body bytes received, as they came over the wire.
    pub bytes: u64,
    /// Requests per latency bucket: `buckets[i]` counts latencies up to
    /// `LATENCY_BUCKETS_S[i]` and above the bound before; the last one counts
    /// the rest (not cumulative: the exposition sums them).
    pub buckets: [u64; LATENCY_BUCKETS_S.len() + 1],
    /// The sum of the latencies, in seconds (to the histogram's precision).
    pub latency_sum_s: f64,
}

impl Series {
    /// Adds what `t` (one worker's tally of this name) counted.
    pub fn add<C: Counter>(&mut self, t: &Tally<C>) {
        self.requests += t.requests;
        self.cancelled += t.cancelled;
        self.bytes += t.bytes;
        for (_, kind, n) in t.errors() {
            self.failures[kind as usize] += n;
        }
        match &t.retry {
            Some(r) => {
                // Requests recorded before the policy's first outcome (none:
                // a policy is per task) are one attempt each.
                self.attempts += r.attempts;
                for (into, n) in self.retries.iter_mut().zip(r.retries) {
                    *into += n;
                }
            }
            None => self.attempts += t.requests,
        }
        if let Some(c) = &t.cond {
            self.dropped += c.drops;
        }
        for v in t.latency_us.iter_recorded() {
            let us = v.value_iterated_to();
            let n = v.count_at_value().as_u64();
            let s = us as f64 / 1e6;
            let i = LATENCY_BUCKETS_S.partition_point(|&b| b < s);
            self.buckets[i] += n;
            self.latency_sum_s += s * n as f64;
        }
    }

    /// Failed requests of every kind.
    pub fn failed(&self) -> u64 {
        self.failures.iter().sum()
    }
}

/// The failure budget of the running test, as the exporter shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetGauge {
    pub threshold: f64,
    /// Outcomes in the window now, and how many failed.
    pub samples: u64,
    pub failed: u64,
    pub tripped: bool,
}

/// The running test's gauges (all zero between tests).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauges {
    /// The number of the running test in the run (1-based); 0 between tests.
    pub test: usize,
    pub active_users: u64,
    pub in_flight: u64,
    pub budget: Option<BudgetGauge>,
}

/// One test's published series, by task name.
#[derive(Debug, Clone, Default)]
pub struct TestSeries {
    pub names: BTreeMap<String, Series>,
}

#[derive(Debug, Default)]
pub struct State {
    /// By test number.
    pub tests: BTreeMap<usize, TestSeries>,
    pub gauges: Gauges,
    /// Scrapes served so far.
    pub scrapes: u64,
    last_scrape: Option<Instant>,
    /// The time between the last two scrapes.
    scrape_gap: Option<Duration>,
    /// When the board last changed.
    published: Option<Instant>,
}

/// The board a run's exporter serves.
#[derive(Debug, Default)]
pub struct Board {
    state: Mutex<State>,
    scraped: Condvar,
}

impl Board {
    pub fn new() -> Board {
        Board::default()
    }

    /// Replaces test `test`'s series and the gauges with what was measured now.
    pub fn publish(&self, test: usize, names: BTreeMap<String, Series>, gauges: Gauges) {
        let mut st = lock(&self.state);
        st.tests.insert(test, TestSeries { names });
        st.gauges = gauges;
        st.published = Some(Instant::now());
    }

    /// The test ended: its series stay (counters never go back), its gauges go.
    pub fn test_ended(&self) {
        let mut st = lock(&self.state);
        st.gauges = Gauges::default();
        st.published = Some(Instant::now());
    }

    /// Renders the board for one scrape (and notes the scrape).
    pub fn scrape(&self) -> String {
        let mut st = lock(&self.state);
        let now = Instant::now();
        if let Some(prev) = st.last_scrape {
            st.scrape_gap = Some(now.duration_since(prev));
        }
        st.last_scrape = Some(now);
        st.scrapes += 1;
        let text = super::exposition::render(&st);
        drop(st);
        self.scraped.notify_all();
        text
    }

    /// Scrapes served so far.
    pub fn scrapes(&self) -> u64 {
        lock(&self.state).scrapes
    }

    /// At the end of a run: when Prometheus has scraped the board, waits for
    /// one scrape of its final state, so the last second of the run is not
    /// lost. Waits at most one and a half of the scrape interval seen (plus
    /// a second), never more than [`MAX_FINAL_SCRAPE_WAIT`], and not at all
    /// when nothing scraped or the run was interrupted (a watchdog or a
    /// signal: the run must end now). Returns how long it waited, and
    /// whether the final state was scraped.
    pub fn await_final_scrape(&self, control: &RunControl) -> Option<(Duration, bool)> {
        let start = Instant::now();
        let mut st = lock(&self.state);
        let (Some(_), Some(published)) = (st.last_scrape, st.published) else {
            return None;
        };
        if control.interrupted().is_some() {
            return None;
        }
        let gap = st.scrape_gap.unwrap_or(Duration::from_secs(15));
        let deadline =
            start + (gap.mul_f64(1.5) + Duration::from_secs(1)).min(MAX_FINAL_SCRAPE_WAIT);
        loop {
            if st.last_scrape.is_some_and(|at| at > published) {
                return Some((start.elapsed(), true));
            }
            let now = Instant::now();
            if now >= deadline || control.interrupted().is_some() {
                return Some((start.elapsed(), false));
            }
            let step = (deadline - now).min(Duration::from_millis(50));
            st = self
                .scraped
                .wait_timeout(st, step)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_their_buckets() {
        let mut t: Tally<u32> = Tally::default();
        t.record(Duration::from_micros(900), 0, None);
        t.record(Duration::from_millis(1), 0, None);
        t.record(
            Duration::from_millis(7),
            0,
            Some((FailKind::Status, "HTTP 500")),
        );
        t.record(
            Duration::from_secs(200),
            0,
            Some((FailKind::Timeout, "timed out")),
        );
        let mut s = Series::default();
        s.add(&t);
        assert_eq!(s.requests, 4);
        assert_eq!(s.attempts, 4);
        // 0.9 ms and 1 ms are in le=0.001 (to the histogram's 0.1 %).
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[3], 1, "7 ms is in le=0.01");
        assert_eq!(
            s.buckets[LATENCY_BUCKETS_S.len()],
            1,
            "200 s is above 120 s"
        );
        assert_eq!(s.failures[FailKind::Status as usize], 1);
        assert_eq!(s.failures[FailKind::Timeout as usize], 1);
        assert_eq!(s.failed(), 2);
        assert!(
            (s.latency_sum_s - 200.0089).abs() < 0.3,
            "{}",
            s.latency_sum_s
        );
    }

    #[test]
    fn the_final_scrape_is_awaited_only_when_prometheus_scrapes() {
        let control = RunControl::new(Instant::now());
        let board = Board::new();
        board.publish(1, BTreeMap::new(), Gauges::default());
        assert_eq!(board.await_final_scrape(&control), None, "never scraped");
        board.scrape();
        board.scrape();
        board.test_ended();
        let b = std::sync::Arc::new(board);
        let scraper = {
            let b = std::sync::Arc::clone(&b);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                b.scrape();
            })
        };
        let (waited, seen) = b.await_final_scrape(&control).expect("scraped before");
        scraper.join().unwrap();
        assert!(seen);
        assert!(waited >= Duration::from_millis(90), "{waited:?}");
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        // Nobody scrapes again: gives up after 1.5 gaps and a second.
        b.test_ended();
        let (waited, seen) = b.await_final_scrape(&control).unwrap();
        assert!(!seen);
        assert!(waited >= Duration::from_secs(1), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }
}
