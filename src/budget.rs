//! The failure budget: a sliding-window circuit breaker over logical request
//! outcomes (after retries). It trips once, when the error rate over the last
//! `window_seconds` is strictly greater than `threshold` and the window holds at
//! least `min_samples` — or, with `slow_call_ms`, when the share of slower
//! calls exceeds `slow_call_threshold`.
//!
//! Constant cost per sample and constant memory: fixed 100 ms buckets in a ring
//! of atomics plus running sums; workers add without a lock, the test's
//! supervisor expires old buckets on its tick.

pub use crate::stats::model::{BudgetSource as Source, TripReason};
use crate::sync::lock;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BUCKET_MS: u64 = 100;
/// Spare buckets beyond the window, so a bucket is cleared long before reuse.
const SPARE_BUCKETS: u64 = 16;

pub const DEFAULT_THRESHOLD: f64 = 0.05;
pub const DEFAULT_WINDOW_SECONDS: f64 = 30.0;
pub const DEFAULT_MIN_SAMPLES: u64 = 50;

/// Which failure budget a layer asks for: none of its own (the next layer
/// decides), none at all, or this one. A test's own `failure_budget` is over
/// `LD_install_failure_budget` / `LD_uninstall_failure_budget`, which are over
/// `--failure-budget`, which is over the default.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Setting {
    #[default]
    Unset,
    Off,
    On(BudgetConfig),
}

impl Setting {
    /// This layer's choice, else `below`'s.
    pub fn or(
        &self,
        below: impl FnOnce() -> Option<(BudgetConfig, Source)>,
        source: Source,
    ) -> Option<(BudgetConfig, Source)> {
        match self {
            Setting::Unset => below(),
            Setting::Off => None,
            Setting::On(c) => Some((c.clone(), source)),
        }
    }

    /// `--failure-budget`: `off`, or THRESHOLD[,WINDOW[,MIN_SAMPLES]].
    pub fn parse_flag(s: &str) -> Result<Setting, String> {
        if s.trim().eq_ignore_ascii_case("off") {
            Ok(Setting::Off)
        } else {
            BudgetConfig::parse_flag(s).map(Setting::On)
        }
    }
}

/// A failure budget as a plan (or `--failure-budget`) writes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    #[serde(
        default = "default_threshold",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub threshold: f64,
    #[serde(
        default = "default_window",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub window_seconds: f64,
    #[serde(
        default = "default_min_samples",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub min_samples: u64,
    /// A call slower than this (ms) counts as slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::plan::lenient::opt_num")]
    pub slow_call_ms: Option<f64>,
    /// Trip when the share of slow calls in the window exceeds this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "crate::plan::lenient::opt_num")]
    pub slow_call_threshold: Option<f64>,
}

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}
fn default_window() -> f64 {
    DEFAULT_WINDOW_SECONDS
}
fn default_min_samples() -> u64 {
    DEFAULT_MIN_SAMPLES
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            threshold: DEFAULT_THRESHOLD,
            window_seconds: DEFAULT_WINDOW_SECONDS,
            min_samples: DEFAULT_MIN_SAMPLES,
            slow_call_ms: None,
            slow_call_threshold: None,
        }
    }
}

impl BudgetConfig {
    /// Problems with the settings, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if !(0.0..=1.0).contains(&self.threshold) {
            p.push((
                "threshold",
                format!(
                    "threshold must be a fraction from 0 to 1, found {}",
                    self.threshold
                ),
            ));
        }
        if !(self.window_seconds >= 0.1 && self.window_seconds <= 86_400.0) {
            p.push((
                "window_seconds",
                format!(
                    "window_seconds must be from 0.1 to 86400, found {}",
                    self.window_seconds
                ),
            ));
        }
        match (self.slow_call_ms, self.slow_call_threshold) {
            (None, None) => {}
            (Some(ms), Some(t)) => {
                if !(ms > 0.0 && ms.is_finite()) {
                    p.push((
                        "slow_call_ms",
                        format!("slow_call_ms must be a positive number of ms, found {ms}"),
                    ));
                }
                if !(0.0..=1.0).contains(&t) {
                    p.push((
                        "slow_call_threshold",
                        format!("slow_call_threshold must be a fraction from 0 to 1, found {t}"),
                    ));
                }
            }
            _ => p.push((
                "slow_call_ms",
                "slow_call_ms and slow_call_threshold go together: give both or neither"
                    .to_string(),
            )),
        }
        p
    }

    /// Parses `--failure-budget THRESHOLD[,WINDOW[,MIN_SAMPLES]]`, e.g.
    /// `0.05,30s,50`; the window takes `ms`, `s`, `m` or `h` (seconds when bare).
    pub fn parse_flag(s: &str) -> Result<BudgetConfig, String> {
        let mut parts = s.split(',').map(str::trim);
        let mut c = BudgetConfig::default();
        let t = parts.next().unwrap_or("");
        c.threshold = t
            .parse()
            .map_err(|_| format!("threshold {t:?} is not a number"))?;
        if let Some(w) = parts.next() {
            c.window_seconds = crate::units::parse_duration(w)?.as_secs_f64();
        }
        if let Some(m) = parts.next() {
            c.min_samples = m
                .parse()
                .map_err(|_| format!("min_samples {m:?} is not a whole number"))?;
        }
        if parts.next().is_some() {
            return Err("expected THRESHOLD[,WINDOW[,MIN_SAMPLES]], e.g. 0.05,30s,50".to_string());
        }
        match c.problems().first() {
            Some((_, msg)) => Err(msg.clone()),
            None => Ok(c),
        }
    }
}

/// Why a budget tripped.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    pub reason: TripReason,
    /// Seconds since the test started.
    pub at_s: f64,
    pub error_rate: f64,
    pub slow_call_rate: Option<f64>,
    /// Samples in the window when it tripped.
    pub samples: u64,
    /// Judged when the test ended, on fewer than `min_samples` outcomes.
    pub at_end: bool,
}

struct Bucket {
    total: AtomicU64,
    failed: AtomicU64,
    slow: AtomicU64,
}

/// One test's live window.
pub struct BudgetWindow {
    pub cfg: BudgetConfig,
    start: Instant,
    window_buckets: u64,
    ring: Vec<Bucket>,
    sum_total: AtomicU64,
    sum_failed: AtomicU64,
    sum_slow: AtomicU64,
    /// Buckets (slots) below this have left the window and been subtracted.
    expired_upto: AtomicU64,
    slow_us: u64,
    tripped: AtomicBool,
    trip: Mutex<Option<Trip>>,
}

impl BudgetWindow {
    pub fn new(cfg: BudgetConfig, start: Instant) -> BudgetWindow {
        let window_buckets =
            ((cfg.window_seconds * 1000.0 / BUCKET_MS as f64).ceil() as u64).max(1);
        let slow_us = cfg.slow_call_ms.map_or(u64::MAX, |ms| (ms * 1000.0) as u64);
        BudgetWindow {
            start,
            window_buckets,
            ring: (0..window_buckets + SPARE_BUCKETS)
                .map(|_| Bucket {
                    total: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    slow: AtomicU64::new(0),
                })
                .collect(),
            sum_total: AtomicU64::new(0),
            sum_failed: AtomicU64::new(0),
            sum_slow: AtomicU64::new(0),
            expired_upto: AtomicU64::new(0),
            slow_us,
            tripped: AtomicBool::new(false),
            trip: Mutex::new(None),
            cfg,
        }
    }

    fn slot(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64 / BUCKET_MS
    }

    /// Whether a request cut off by the end of the test after waiting
    /// `waited` counts as a sample: a slow call, as it waited longer than the
    /// slow threshold (never without `slow_call_ms`). A request that outlives
    /// its timeout fails on its own.
    pub fn counts_cut_off(&self, waited: Duration) -> bool {
        waited.as_micros() as u64 > self.slow_us
    }

    /// Adds one logical outcome and checks the budget. Returns the trip when
    /// this very sample tripped it (exactly once per window).
    pub fn record(&self, now: Instant, failed: bool, latency: Duration) -> Option<Trip> {
        let b = &self.ring[(self.slot(now) % self.ring.len() as u64) as usize];
        let slow = latency.as_micros() as u64 > self.slow_us;
        b.total.fetch_add(1, Ordering::Relaxed);
        let total = self.sum_total.fetch_add(1, Ordering::AcqRel) + 1;
        let failed_sum = if failed {
            b.failed.fetch_add(1, Ordering::Relaxed);
            self.sum_failed.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.sum_failed.load(Ordering::Acquire)
        };
        let slow_sum = if slow {
            b.slow.fetch_add(1, Ordering::Relaxed);
            self.sum_slow.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.sum_slow.load(Ordering::Acquire)
        };
        if self.tripped.load(Ordering::Relaxed) || total < self.cfg.min_samples.max(1) {
            return None;
        }
        let trip = self.judge(now, total, failed_sum, slow_sum, false)?;
        if self.tripped.swap(true, Ordering::AcqRel) {
            return None;
        }
        *lock(&self.trip) = Some(trip.clone());
        Some(trip)
    }

    /// The trip these window sums call for, if any.
    fn judge(
        &self,
        now: Instant,
        total: u64,
        failed: u64,
        slow: u64,
        at_end: bool,
    ) -> Option<Trip> {
        let rate = failed as f64 / total as f64;
        let slow_rate = self.cfg.slow_call_ms.map(|_| slow as f64 / total as f64);
        let reason = if rate > self.cfg.threshold {
            TripReason::ErrorRate
        } else if matches!((slow_rate, self.cfg.slow_call_threshold), (Some(r), Some(t)) if r > t) {
            TripReason::SlowCalls
        } else {
            return None;
        };
        Some(Trip {
            reason,
            at_s: now.saturating_duration_since(self.start).as_secs_f64(),
            error_rate: rate,
            slow_call_rate: slow_rate,
            samples: total,
            at_end,
        })
    }

    /// Drops the buckets that have left the window from the running sums.
    /// Called by the supervisor on its tick.
    pub fn expire(&self, now: Instant) {
        let current = self.slot(now);
        let oldest_valid = (current + 1).saturating_sub(self.window_buckets);
        let mut s = self.expired_upto.load(Ordering::Acquire);
        // After a long pause at most one ring's worth of buckets can hold data.
        s = s.max(oldest_valid.saturating_sub(self.ring.len() as u64));
        while s < oldest_valid {
            let b = &self.ring[(s % self.ring.len() as u64) as usize];
            self.sum_total
                .fetch_sub(b.total.swap(0, Ordering::AcqRel), Ordering::AcqRel);
            self.sum_failed
                .fetch_sub(b.failed.swap(0, Ordering::AcqRel), Ordering::AcqRel);
            self.sum_slow
                .fetch_sub(b.slow.swap(0, Ordering::AcqRel), Ordering::AcqRel);
            s += 1;
        }
        self.expired_upto.store(s, Ordering::Release);
    }

    pub fn tripped(&self) -> Option<Trip> {
        lock(&self.trip).clone()
    }

    /// At the end of a test that did not trip: a window that never reached
    /// `min_samples` is judged on what it holds, so a short test against a
    /// dead target (10 requests, 10 failures) does not pass.
    pub fn judge_at_end(&self, now: Instant) -> Option<Trip> {
        let total = self.sum_total.load(Ordering::Acquire);
        if self.tripped.load(Ordering::Acquire) || total == 0 || total >= self.cfg.min_samples {
            return self.tripped();
        }
        let failed = self.sum_failed.load(Ordering::Acquire);
        let slow = self.sum_slow.load(Ordering::Acquire);
        let trip = self.judge(now, total, failed, slow, true)?;
        self.tripped.store(true, Ordering::Release);
        *lock(&self.trip) = Some(trip.clone());
        Some(trip)
    }

    /// Samples in the window and how many failed, now.
    pub fn current(&self) -> (u64, u64) {
        (
            self.sum_total.load(Ordering::Acquire),
            self.sum_failed.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(threshold: f64, window: f64, min: u64) -> BudgetConfig {
        BudgetConfig {
            threshold,
            window_seconds: window,
            min_samples: min,
            ..BudgetConfig::default()
        }
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn min_samples_and_strictly_greater_are_respected() {
        let t0 = Instant::now();
        let w = BudgetWindow::new(cfg(0.5, 30.0, 10), t0);
        // 9 failures: below min_samples, never trips.
        for _ in 0..9 {
            assert!(w.record(t0, true, MS).is_none());
        }
        // 10th sample: 9/10 > 0.5 → trips, once.
        let trip = w.record(t0, false, MS).expect("trips at min_samples");
        assert_eq!(trip.samples, 10);
        assert!((trip.error_rate - 0.9).abs() < 1e-9);
        assert_eq!(trip.reason, TripReason::ErrorRate);
        assert!(w.record(t0, true, MS).is_none(), "trips once");

        // Exactly at the threshold does not trip.
        let w = BudgetWindow::new(cfg(0.5, 30.0, 4), t0);
        for failed in [true, false, true, false, true, false] {
            let r = w.record(t0, failed, MS);
            let (n, f) = w.current();
            if f * 2 > n && n >= 4 {
                assert!(r.is_some());
                return;
            }
            assert!(r.is_none(), "{f}/{n} must not trip");
        }
    }

    #[test]
    fn old_failures_leave_the_window() {
        let t0 = Instant::now();
        let w = BudgetWindow::new(cfg(0.5, 1.0, 5), t0);
        for _ in 0..4 {
            w.record(t0, true, MS);
        }
        // 1.5 s later the four failures have left the 1 s window.
        let later = t0 + Duration::from_millis(1500);
        w.expire(later);
        assert_eq!(w.current(), (0, 0));
        for _ in 0..10 {
            assert!(w.record(later, false, MS).is_none());
        }
        assert_eq!(w.current(), (10, 0));
        // After a pause far longer than the ring, expiry still ends cleanly.
        w.expire(t0 + Duration::from_secs(3600));
        assert_eq!(w.current(), (0, 0));
    }

    #[test]
    fn slow_calls_trip_with_their_own_reason() {
        let t0 = Instant::now();
        let c = BudgetConfig {
            slow_call_ms: Some(100.0),
            slow_call_threshold: Some(0.5),
            ..cfg(0.5, 10.0, 4)
        };
        let w = BudgetWindow::new(c, t0);
        let slow = Duration::from_millis(200);
        assert!(w.record(t0, false, slow).is_none());
        assert!(w.record(t0, false, MS).is_none());
        assert!(w.record(t0, false, slow).is_none());
        let trip = w.record(t0, false, slow).expect("3 of 4 slow");
        assert_eq!(trip.reason, TripReason::SlowCalls);
        assert_eq!(trip.slow_call_rate, Some(0.75));
    }

    #[test]
    fn the_flag_parses_and_validates() {
        let c = BudgetConfig::parse_flag("0.05,30s,50").unwrap();
        assert_eq!(
            (c.threshold, c.window_seconds, c.min_samples),
            (0.05, 30.0, 50)
        );
        let c = BudgetConfig::parse_flag("0.1,2m").unwrap();
        assert_eq!(
            (c.threshold, c.window_seconds, c.min_samples),
            (0.1, 120.0, 50)
        );
        assert_eq!(
            BudgetConfig::parse_flag("0.2").unwrap().window_seconds,
            30.0
        );
        assert!(BudgetConfig::parse_flag("2").is_err());
        assert!(BudgetConfig::parse_flag("x").is_err());
        assert!(BudgetConfig::parse_flag("0.1,30s,5,9").is_err());
        assert!(BudgetConfig::parse_flag("0.1,soon").is_err());
    }
}
