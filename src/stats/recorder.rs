//! Recording results without a global lock: every worker owns a [`Recorder`]
//! (one [`Tally`] per task name); the supervisor merges them with `add`.
//! Memory is fixed per name whatever the run length: an HDR histogram in
//! microseconds and a bounded table of error messages.

use super::model::{
    ClassCounts, ConditionerSettings, ConditionerStats, DelayMs, ErrorCount, LatencyMs, NameStats,
    RetryStats,
};
use crate::http::url::{Scheme, Url};
use hdrhistogram::{Counter, Histogram};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Latencies above this (one hour) are recorded as this.
pub const MAX_TRACKED_US: u64 = 3_600_000_000;
/// Distinct error messages kept per name; the rest are counted together.
pub const MAX_DISTINCT_ERRORS: usize = 64;
const OTHER_ERRORS: &str = "(other errors)";

/// What kind of failure a request had. Stable names: they appear in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailKind {
    /// Refused, reset, aborted, closed early, DNS.
    Connection,
    /// Connect or read timeout.
    Timeout,
    /// A status >= 400 on a task without assertions.
    Status,
    /// An assertion did not hold.
    Assertion,
    /// The request could not be built (bad URL, undefined variable).
    Request,
    /// TLS handshake or certificate failure.
    Tls,
    /// The server's answer was not valid HTTP.
    Protocol,
    /// Still in flight when the test's grace period ended.
    Cancelled,
    /// Dropped by the network conditioner before it was sent.
    Dropped,
}

impl FailKind {
    /// Every kind.
    pub const ALL: [FailKind; 9] = [
        FailKind::Connection,
        FailKind::Timeout,
        FailKind::Status,
        FailKind::Assertion,
        FailKind::Request,
        FailKind::Tls,
        FailKind::Protocol,
        FailKind::Cancelled,
        FailKind::Dropped,
    ];

    /// The kind [`FailKind::as_str`] names.
    pub fn parse(s: &str) -> Option<FailKind> {
        FailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailKind::Connection => "connection",
            FailKind::Timeout => "timeout",
            FailKind::Status => "status",
            FailKind::Assertion => "assertion",
            FailKind::Request => "request",
            FailKind::Tls => "tls",
            FailKind::Protocol => "protocol",
            FailKind::Cancelled => "cancelled",
            FailKind::Dropped => "dropped",
        }
    }
}

pub(crate) fn new_histogram<C: Counter>() -> Histogram<C> {
    Histogram::new_with_bounds(1, MAX_TRACKED_US, 3).expect("static histogram bounds are valid")
}

/// Everything measured for one task name.
#[derive(Debug, Clone)]
pub struct Tally<C: Counter = u64> {
    pub requests: u64,
    /// Requests the end of the test cut off before they completed (not in `requests`).
    pub cancelled: u64,
    pub failures: u64,
    pub bytes: u64,
    /// Body bytes as the checks saw them: decoded from their
    /// `Content-Encoding` when they were, else as received.
    pub decoded_bytes: u64,
    /// Latency in microseconds.
    pub latency_us: Histogram<C>,
    /// Latency of the failed requests only, allocated at the first failure
    /// (so a name that never fails pays nothing); successes are
    /// `latency_us` minus this (LoadDensity's `per_name`).
    pub fail_latency_us: Option<Histogram<C>>,
    /// In an arrival-rate test, latency from each request's actual send
    /// (`latency_us` is from its scheduled start there); `None` elsewhere.
    pub raw_latency_us: Option<Histogram<C>>,
    errors: HashMap<Box<str>, (FailKind, u64)>,
    /// Present once a request with a retry policy was recorded.
    pub retry: Option<RetryTally<C>>,
    /// Present once an attempt was conditioned.
    pub cond: Option<CondTally<C>>,
}

/// What the network conditioner did to the attempts of a [`Tally`].
#[derive(Debug, Clone)]
pub struct CondTally<C: Counter = u64> {
    pub attempts: u64,
    pub drops: u64,
    pub delay_us: Histogram<C>,
    pub settings: Option<Arc<ConditionerSettings>>,
}

impl<C: Counter> CondTally<C> {
    pub(crate) fn new(settings: Option<Arc<ConditionerSettings>>) -> Self {
        CondTally {
            attempts: 0,
            drops: 0,
            delay_us: new_histogram(),
            settings,
        }
    }

    fn add<D: Counter>(&mut self, o: &CondTally<D>) {
        self.attempts += o.attempts;
        self.drops += o.drops;
        add_histogram(&mut self.delay_us, &o.delay_us);
        if self.settings.is_none() {
            self.settings.clone_from(&o.settings);
        }
    }

    fn stats(&self) -> ConditionerStats {
        let h = &self.delay_us;
        ConditionerStats {
            attempts: self.attempts,
            drops: self.drops,
            injected_delay_ms: if h.is_empty() {
                DelayMs::default()
            } else {
                DelayMs {
                    mean: finite(h.mean() / 1000.0),
                    p95: h.value_at_quantile(0.95) as f64 / 1000.0,
                }
            },
            settings: self.settings.as_deref().cloned(),
        }
    }
}

/// Attempts and retries of the logical requests in a [`Tally`].
#[derive(Debug, Clone)]
pub struct RetryTally<C: Counter = u64> {
    pub attempts: u64,
    /// By class index (transient, flaky, permanent).
    pub retries: [u64; 3],
    pub recovered: u64,
    pub exhausted: [u64; 3],
    pub storm_denied: u64,
    pub attempt_latency_us: Histogram<C>,
}

impl<C: Counter> Default for RetryTally<C> {
    fn default() -> Self {
        RetryTally {
            attempts: 0,
            retries: [0; 3],
            recovered: 0,
            exhausted: [0; 3],
            storm_denied: 0,
            attempt_latency_us: new_histogram(),
        }
    }
}

/// How one logical request went under its retry policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryOutcome {
    pub attempts: u64,
    pub retries: [u64; 3],
    /// Succeeded after at least one retry.
    pub recovered: bool,
    /// Failed because this class's budget was spent.
    pub exhausted: Option<usize>,
    /// Failed because the run-wide retry budget was spent.
    pub storm_denied: bool,
}

fn add_histogram<C: Counter, D: Counter>(into: &mut Histogram<C>, from: &Histogram<D>) {
    // Counter types may differ (workers count in u32): add bucket by bucket.
    for v in from.iter_recorded() {
        let Some(n) = C::from_u64(v.count_at_value().as_u64()) else {
            continue;
        };
        let _ = into.record_n(v.value_iterated_to(), n);
    }
}

pub(crate) fn latency_ms<C: Counter>(h: &Histogram<C>) -> LatencyMs {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return LatencyMs::default();
    }
    LatencyMs {
        min: ms(h.min()),
        mean: finite(h.mean() / 1000.0),
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

fn record_us<C: Counter>(h: &mut Histogram<C>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).clamp(1, MAX_TRACKED_US));
}

impl<C: Counter> RetryTally<C> {
    fn add<D: Counter>(&mut self, o: &RetryTally<D>) {
        self.attempts += o.attempts;
        self.recovered += o.recovered;
        self.storm_denied += o.storm_denied;
        for i in 0..3 {
            self.retries[i] += o.retries[i];
            self.exhausted[i] += o.exhausted[i];
        }
        add_histogram(&mut self.attempt_latency_us, &o.attempt_latency_us);
    }

    fn stats(&self) -> RetryStats {
        let c = |a: [u64; 3]| ClassCounts {
            transient: a[0],
            flaky: a[1],
            permanent: a[2],
        };
        RetryStats {
            attempts: self.attempts,
            retries: c(self.retries),
            recovered: self.recovered,
            exhausted: c(self.exhausted),
            retry_budget_exhausted: self.storm_denied,
            attempt_latency_ms: latency_ms(&self.attempt_latency_us),
        }
    }
}

impl<C: Counter> Default for Tally<C> {
    fn default() -> Self {
        Tally {
            requests: 0,
            cancelled: 0,
            failures: 0,
            bytes: 0,
            decoded_bytes: 0,
            latency_us: new_histogram(),
            fail_latency_us: None,
            raw_latency_us: None,
            errors: HashMap::new(),
            retry: None,
            cond: None,
        }
    }
}

impl<C: Counter> Tally<C> {
    /// Records one logical request.
    #[inline]
    pub fn record(&mut self, latency: Duration, bytes: u64, failure: Option<(FailKind, &str)>) {
        self.requests += 1;
        self.bytes += bytes;
        record_us(&mut self.latency_us, latency);
        if let Some((kind, msg)) = failure {
            record_us(
                self.fail_latency_us.get_or_insert_with(new_histogram),
                latency,
            );
            self.failures += 1;
            self.count_error(kind, msg, 1);
        }
    }

    /// Records a request's latency from its actual send, in an arrival-rate
    /// test (beside [`Tally::record`]'s, from its scheduled start).
    #[inline]
    pub fn record_raw(&mut self, latency: Duration) {
        record_us(
            self.raw_latency_us.get_or_insert_with(new_histogram),
            latency,
        );
    }

    /// Records one attempt's latency (only for tasks with a retry policy).
    #[inline]
    pub fn record_attempt(&mut self, latency: Duration) {
        record_us(
            &mut self
                .retry
                .get_or_insert_with(RetryTally::default)
                .attempt_latency_us,
            latency,
        );
    }

    /// Records one conditioned attempt: dropped, or delayed by `delay`.
    pub fn record_conditioned(
        &mut self,
        dropped: bool,
        delay: Duration,
        settings: &Arc<ConditionerSettings>,
    ) {
        let c = self
            .cond
            .get_or_insert_with(|| CondTally::new(Some(Arc::clone(settings))));
        c.attempts += 1;
        if dropped {
            c.drops += 1;
        } else {
            // Zero delays count too (1 µs is the histogram's floor).
            let _ = c
                .delay_us
                .record((delay.as_micros() as u64).clamp(1, MAX_TRACKED_US));
        }
    }

    /// Records how a logical request went under its retry policy.
    pub fn record_retry(&mut self, o: &RetryOutcome) {
        let r = self.retry.get_or_insert_with(RetryTally::default);
        r.attempts += o.attempts;
        for i in 0..3 {
            r.retries[i] += o.retries[i];
        }
        r.recovered += u64::from(o.recovered);
        if let Some(i) = o.exhausted {
            r.exhausted[i] += 1;
        }
        r.storm_denied += u64::from(o.storm_denied);
    }

    fn count_error(&mut self, kind: FailKind, msg: &str, n: u64) {
        if let Some(e) = self.errors.get_mut(msg) {
            e.1 += n;
        } else if self.errors.len() < MAX_DISTINCT_ERRORS {
            self.errors.insert(msg.into(), (kind, n));
        } else {
            self.errors
                .entry(OTHER_ERRORS.into())
                .or_insert((kind, 0))
                .1 += n;
        }
    }

    /// Every distinct error message: its kind and how often it was seen.
    pub fn errors(&self) -> impl Iterator<Item = (&str, FailKind, u64)> {
        self.errors.iter().map(|(m, (k, n))| (&**m, *k, *n))
    }

    /// Counts `n` errors of `kind` with `msg` (as recording them would).
    pub fn add_errors(&mut self, kind: FailKind, msg: &str, n: u64) {
        self.count_error(kind, msg, n);
    }

    /// Adds another tally into this one.
    pub fn add<D: Counter>(&mut self, other: &Tally<D>) {
        self.add_all(other, true);
    }

    /// [`Tally::add`] without the failed requests' own latency, which only
    /// the final reports read: for the once-a-second timeline.
    pub fn add_for_timeline<D: Counter>(&mut self, other: &Tally<D>) {
        self.add_all(other, false);
    }

    fn add_all<D: Counter>(&mut self, other: &Tally<D>, fail_latency: bool) {
        self.requests += other.requests;
        self.cancelled += other.cancelled;
        self.failures += other.failures;
        self.bytes += other.bytes;
        self.decoded_bytes += other.decoded_bytes;
        add_histogram(&mut self.latency_us, &other.latency_us);
        if let Some(r) = &other.raw_latency_us {
            add_histogram(self.raw_latency_us.get_or_insert_with(new_histogram), r);
        }
        if let (true, Some(f)) = (fail_latency, &other.fail_latency_us) {
            add_histogram(self.fail_latency_us.get_or_insert_with(new_histogram), f);
        }
        if let Some(r) = &other.retry {
            self.retry.get_or_insert_with(RetryTally::default).add(r);
        }
        if let Some(c) = &other.cond {
            self.cond.get_or_insert_with(|| CondTally::new(None)).add(c);
        }
        for (msg, (kind, n)) in &other.errors {
            self.count_error(*kind, msg, *n);
        }
    }

    /// The plain-data statistics over a measured duration.
    pub fn stats(&self, duration_s: f64) -> NameStats {
        let latency_raw_ms = self.raw_latency_us.as_ref().map(latency_ms);
        let latency_ms = latency_ms(&self.latency_us);
        let mut failures_by_kind = BTreeMap::new();
        for (kind, n) in self.errors.values() {
            *failures_by_kind
                .entry(kind.as_str().to_string())
                .or_insert(0) += n;
        }
        let mut top: Vec<ErrorCount> = self
            .errors
            .iter()
            .map(|(m, (k, n))| ErrorCount {
                kind: k.as_str().to_string(),
                message: m.to_string(),
                count: *n,
            })
            .collect();
        top.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.message.cmp(&b.message))
        });
        top.truncate(10);
        NameStats {
            requests: self.requests,
            cancelled: self.cancelled,
            failures: self.failures,
            failure_rate: if self.requests == 0 {
                0.0
            } else {
                self.failures as f64 / self.requests as f64
            },
            rps: if duration_s > 0.0 {
                self.requests as f64 / duration_s
            } else {
                0.0
            },
            bytes: self.bytes,
            decoded_bytes: self.decoded_bytes,
            latency_ms,
            failures_by_kind,
            top_errors: top,
            latency_raw_ms,
            retry: self.retry.as_ref().map(RetryTally::stats),
            conditioner: self.cond.as_ref().map(CondTally::stats),
        }
    }

    /// Latency of the successful requests (microseconds).
    pub fn success_latency_us(&self) -> Histogram<u64> {
        let mut h = new_histogram::<u64>();
        add_histogram(&mut h, &self.latency_us);
        if let Some(f) = &self.fail_latency_us {
            let mut failed = new_histogram::<u64>();
            add_histogram(&mut failed, f);
            // Every failure was recorded in both, at the same value.
            let _ = h.subtract(&failed);
        }
        h
    }

    /// Clears the counts, keeping the allocations.
    pub fn reset(&mut self) {
        self.requests = 0;
        self.cancelled = 0;
        self.failures = 0;
        self.bytes = 0;
        self.decoded_bytes = 0;
        self.latency_us.reset();
        if let Some(f) = &mut self.fail_latency_us {
            f.reset();
        }
        if let Some(r) = &mut self.raw_latency_us {
            r.reset();
        }
        self.errors.clear();
        self.retry = None;
        self.cond = None;
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// One worker's tallies, one per task name of the test (indexed by slot).
/// Worker tallies count in `u32` to halve their memory; merged ones in `u64`.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub slots: Vec<Tally<u32>>,
    /// Undefined placeholders left in place, by key (`var.x`).
    pub unresolved: BTreeMap<String, u64>,
    /// Extract values that were missing, by variable.
    pub extract_missed: BTreeMap<String, u64>,
    /// Users stopped by an exhausted CSV source, by source.
    pub csv_exhausted: BTreeMap<String, u64>,
    /// The distinct targets (scheme, host, port) requests were sent to, at
    /// most [`MAX_TARGETS`].
    pub targets: Vec<(Scheme, String, u16)>,
    /// This worker's CPU over the test (written when the worker ends).
    pub load: crate::engine::cpu::WorkerLoad,
    /// This worker's share of an arrival-rate schedule (written when it ends).
    pub lag: Option<crate::engine::arrival::LagTally>,
}

/// The most distinct targets a test's report lists.
pub const MAX_TARGETS: usize = 16;

impl Recorder {
    /// Notes the target of a request that was built (cheap when known).
    pub fn note_target(&mut self, url: &Url) {
        let known = self
            .targets
            .iter()
            .any(|(s, h, p)| *s == url.scheme && *p == url.port && *h == url.host);
        if !known && self.targets.len() < MAX_TARGETS {
            self.targets.push((url.scheme, url.host.clone(), url.port));
        }
    }

    pub fn new(names: usize) -> Recorder {
        Recorder {
            slots: (0..names).map(|_| Tally::default()).collect(),
            unresolved: BTreeMap::new(),
            extract_missed: BTreeMap::new(),
            csv_exhausted: BTreeMap::new(),
            targets: Vec::new(),
            load: Default::default(),
            lag: None,
        }
    }

    /// Counts one of each key in `keys`, draining it.
    pub fn count(into: &mut BTreeMap<String, u64>, keys: &mut Vec<String>) {
        for k in keys.drain(..) {
            *into.entry(k).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_counts() {
        let mut t: Tally<u32> = Tally::default();
        for ms in 1..=100u64 {
            t.record(Duration::from_millis(ms), 10, None);
        }
        t.record(
            Duration::from_millis(5),
            0,
            Some((FailKind::Status, "HTTP 500")),
        );
        let s = t.stats(2.0);
        assert_eq!(s.requests, 101);
        assert_eq!(s.failures, 1);
        assert_eq!(s.bytes, 1000);
        assert!((s.rps - 50.5).abs() < 1e-9);
        assert!((s.latency_ms.p50 - 50.0).abs() < 0.5, "{:?}", s.latency_ms);
        assert!((s.latency_ms.p99 - 99.0).abs() < 1.0, "{:?}", s.latency_ms);
        assert!((s.latency_ms.max - 100.0).abs() < 0.1);
        assert_eq!(s.failures_by_kind["status"], 1);
        assert_eq!(s.top_errors[0].message, "HTTP 500");
    }

    #[test]
    fn merging_adds_up_and_bounds_errors() {
        let mut a: Tally<u32> = Tally::default();
        let mut b: Tally<u32> = Tally::default();
        for i in 0..200 {
            a.record(
                Duration::from_micros(100),
                1,
                Some((FailKind::Assertion, &format!("e{i}"))),
            );
            b.record(Duration::from_micros(300), 1, None);
        }
        let mut total: Tally<u64> = Tally::default();
        total.add(&a);
        total.add(&b);
        let s = total.stats(1.0);
        assert_eq!((s.requests, s.failures, s.bytes), (400, 200, 400));
        assert_eq!(s.failures_by_kind["assertion"], 200);
        assert!(total.errors.len() <= MAX_DISTINCT_ERRORS + 1);
        assert_eq!(s.top_errors[0].message, OTHER_ERRORS);
        assert_eq!(s.top_errors.len(), 10);
    }

    #[test]
    fn successes_are_the_latencies_minus_the_failures() {
        let mut a: Tally<u32> = Tally::default();
        a.record(Duration::from_millis(1), 0, None);
        assert!(a.fail_latency_us.is_none(), "allocated only at a failure");
        a.record(
            Duration::from_millis(500),
            0,
            Some((FailKind::Timeout, "t")),
        );
        let mut b: Tally<u32> = Tally::default();
        b.record(Duration::from_millis(3), 0, None);
        let mut t: Tally<u64> = Tally::default();
        t.add(&a);
        t.add(&b);
        let ok = t.success_latency_us();
        assert_eq!(ok.len(), 2);
        assert!(ok.max() < 4_000, "{}", ok.max());
        assert_eq!(t.latency_us.len(), 3);
        t.reset();
        assert!(t.success_latency_us().is_empty());
    }

    /// What the lazily allocated failure histogram costs a worker's name.
    #[test]
    fn histogram_memory() {
        let h = new_histogram::<u32>();
        let bytes = h.distinct_values() * std::mem::size_of::<u32>();
        // About 90 KB per worker per name that failed at least once.
        assert!(bytes < 100_000, "{bytes}");
    }

    #[test]
    fn empty_tally_has_zero_stats() {
        let s = Tally::<u64>::default().stats(0.0);
        assert_eq!(s.requests, 0);
        assert_eq!(s.rps, 0.0);
        assert_eq!(s.latency_ms, LatencyMs::default());
    }
}
