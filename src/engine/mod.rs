//! The load engine: runs one test's users on a worker [`pool`], supervises the
//! clock, collects statistics and returns what it measured.
//!
//! One fixed order per request: stop? → build → send → judge → extract → record.

pub mod check;
pub mod pool;
pub mod progress;
pub mod scenario;
pub mod task;
pub mod worker;

use crate::budget::{BudgetConfig, BudgetWindow, Trip};
use crate::reports::RequestLog;
use crate::resolver::Vars;
use crate::retry::storm::RetryBudget;
use crate::stats::recorder::{Recorder, Tally};
use crate::stats::records::TestRecord;
use crate::stats::{TestReport, TimePoint};
use crate::stop::StopSignal;
use crate::supervisor::{Interrupt, RunControl};
use crate::ui::Ui;
use progress::Progress;
use scenario::Scenario;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Think time between a user's tasks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    None,
    Constant(Duration),
    Between(Duration, Duration),
}

/// Everything one test needs, compiled and checked.
#[derive(Debug, Clone)]
pub struct TestPlan {
    pub users: u64,
    /// Users started per second.
    pub spawn_rate: f64,
    /// Stop after this long (`test_time`).
    pub duration: Option<Duration>,
    /// Stop each user after this many passes.
    pub iterations: Option<u64>,
    pub wait: Wait,
    /// Grace for in-flight requests once the test stops.
    pub stop_timeout: Duration,
    pub scenario: Scenario,
    /// Statistics names, indexed by `Task::slot`.
    pub names: Vec<String>,
    /// The test's own `variables`, each user's starting point.
    pub variables: Vars,
    /// Stream per-request rows here.
    pub record_csv: Option<PathBuf>,
    /// Retry-storm budget (`retry_ratio`, `retry_min_per_s`) when any task retries.
    pub retry_storm: Option<(f64, f64)>,
    /// The failure budget in force for this test.
    pub budget: Option<BudgetConfig>,
    pub seed: u64,
    /// 1-based test number in the run.
    pub index: usize,
    /// Where the test stands in the plan.
    pub action: String,
}

/// State the workers and the supervisor share for one test.
pub struct Shared<'a> {
    pub plan: &'a TestPlan,
    pub plan_vars: &'a Vars,
    pub stop: Arc<StopSignal>,
    /// The run's interrupts (watchdog, signals).
    pub control: &'a RunControl,
    pub started: Instant,
    /// Recorder shards: user `i` records into shard `i % len`, locked per
    /// request (a handful of users share one) and by the supervisor once per
    /// tick: never a global lock on the hot path, and memory that does not grow
    /// with the number of users.
    pub recorders: Vec<Mutex<Recorder>>,
    pub active_users: AtomicU64,
    pub finished_users: AtomicU64,
    pub request_log: Option<Mutex<RequestLog>>,
    /// The run-wide retry budget, when the test has a retry policy.
    pub storm: Option<RetryBudget>,
    /// The failure budget's window, when one is in force.
    pub budget: Option<BudgetWindow>,
    /// The first panic of a user thread, if any.
    pub panicked: Mutex<Option<String>>,
}

/// What one test measured, and whether its failure budget tripped.
pub struct TestOutcome {
    pub record: TestRecord,
    pub trip: Option<Trip>,
    /// A user thread panicked (its message); the measurements still stand.
    pub panic: Option<String>,
}

/// Runs one test to its end and returns what it measured.
pub fn run_test(
    plan: &TestPlan,
    plan_vars: &Vars,
    ui: &Ui,
    control: &RunControl,
) -> anyhow::Result<TestOutcome> {
    let request_log = match &plan.record_csv {
        Some(p) => Some(Mutex::new(RequestLog::create(p)?)),
        None => None,
    };
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let shared = Shared {
        plan,
        plan_vars,
        stop: Arc::new(StopSignal::new()),
        control,
        started: Instant::now(),
        recorders: (0..plan.users.min(RECORDER_SHARDS))
            .map(|_| Mutex::new(Recorder::new(plan.names.len())))
            .collect(),
        active_users: AtomicU64::new(0),
        finished_users: AtomicU64::new(0),
        request_log,
        budget: plan
            .budget
            .clone()
            .map(|c| BudgetWindow::new(c, Instant::now())),
        storm: plan
            .retry_storm
            .map(|(ratio, min_per_s)| RetryBudget::new(Instant::now(), ratio, min_per_s)),
        panicked: Mutex::new(None),
    };
    control.enter_test(Arc::clone(&shared.stop));
    let mut sup = Supervisor::new(&shared, ui);
    let ended_by = pool::run_users(&shared, || sup.supervise());
    control.leave_test();
    // Measured until the test stopped (its end condition), not through the
    // grace given to in-flight requests, so rates are not diluted by it.
    let ended = sup.stopping_since.unwrap_or_else(Instant::now);
    let duration_s = ended.duration_since(shared.started).as_secs_f64();
    sup.tick(true);
    let timeline = std::mem::take(&mut sup.timeline);
    drop(sup);
    if let Some(log) = shared.request_log {
        // The measurements stand even when the per-request file cannot be finished.
        if let Err(e) = log.into_inner().unwrap_or_else(|e| e.into_inner()).finish() {
            ui.error(&format!(
                "record_csv: could not finish the per-request file: {e}"
            ));
        }
    }
    let panic_msg = shared
        .panicked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for r in &shared.recorders {
        let r = r.lock().unwrap_or_else(|e| e.into_inner());
        for (slot, t) in r.slots.iter().enumerate() {
            if t.requests > 0 || t.cancelled > 0 {
                tallies.entry(plan.names[slot].clone()).or_default().add(t);
            }
        }
    }
    let mut total = Tally::<u64>::default();
    for t in tallies.values() {
        total.add(t);
    }
    let report = TestReport {
        index: plan.index,
        action: plan.action.clone(),
        started_at: started_unix,
        duration_s,
        users: plan.users,
        ended_by: ended_by.to_string(),
        total: total.stats(duration_s),
        by_name: tallies
            .iter()
            .map(|(n, t)| (n.clone(), t.stats(duration_s)))
            .collect(),
        timeline,
    };
    let trip = shared.budget.as_ref().and_then(BudgetWindow::tripped);
    Ok(TestOutcome {
        record: TestRecord { report, tallies },
        trip,
        panic: panic_msg,
    })
}

/// The most grace in-flight requests get once a watchdog fired.
pub const WATCHDOG_STOP_GRACE: Duration = Duration::from_secs(5);

/// Recorder shards of a test (at most; fewer for fewer users).
const RECORDER_SHARDS: u64 = 16;

/// Most points a timeline keeps; past it, neighbours merge (memory stays flat).
const MAX_TIMELINE_POINTS: usize = 1024;

/// The test's clock: ends the test, escalates a stop, samples the timeline and
/// drives the progress display. Runs on the thread that started the test.
struct Supervisor<'a> {
    shared: &'a Shared<'a>,
    progress: Progress,
    timeline: Vec<TimePoint>,
    /// Cumulative total at the previous sample (for per-interval figures).
    prev: Tally,
    prev_t: f64,
    last_sample: Instant,
    pub stopping_since: Option<Instant>,
    ended_by: &'static str,
}

impl<'a> Supervisor<'a> {
    fn new(shared: &'a Shared<'a>, ui: &Ui) -> Self {
        Supervisor {
            shared,
            progress: Progress::new(ui, shared.plan),
            timeline: Vec::new(),
            prev: Tally::default(),
            prev_t: 0.0,
            last_sample: shared.started,
            stopping_since: None,
            ended_by: "iterations",
        }
    }

    /// Loops until every user has finished; returns why the test ended.
    fn supervise(&mut self) -> &'static str {
        let s = self.shared;
        let tick = Duration::from_millis(50);
        loop {
            if s.finished_users.load(Ordering::Acquire) == s.plan.users {
                break;
            }
            let now = Instant::now();
            if let Some(b) = &s.budget {
                b.expire(now);
            }
            if self.stopping_since.is_none() {
                if s.budget.as_ref().is_some_and(|b| b.tripped().is_some()) {
                    self.ended_by = "budget";
                    self.begin_stop(now);
                } else if s
                    .plan
                    .duration
                    .is_some_and(|d| now.duration_since(s.started) >= d)
                {
                    self.ended_by = "time";
                    self.begin_stop(now);
                } else if s.stop.is_stopping() {
                    // Stopped from outside the test: the watchdog or a signal.
                    self.ended_by = self.external_reason();
                    self.begin_stop(now);
                }
            } else if let Some(since) = self.stopping_since {
                // After a watchdog the grace is capped, so the reports still
                // get time before the watchdog's hard limit.
                let grace = match s.control.interrupted() {
                    Some(Interrupt::Watchdog) => s.plan.stop_timeout.min(WATCHDOG_STOP_GRACE),
                    _ => s.plan.stop_timeout,
                };
                if now.duration_since(since) >= grace && !s.stop.is_aborted() {
                    s.stop.abort();
                }
            }
            if now.duration_since(self.last_sample) >= Duration::from_secs(1) {
                self.tick(false);
            }
            std::thread::sleep(tick);
        }
        if !s.stop.is_stopping() {
            s.stop.stop();
        }
        // Users may all have finished before a tick saw why.
        if self.stopping_since.is_none() {
            if s.budget.as_ref().is_some_and(|b| b.tripped().is_some()) {
                self.ended_by = "budget";
            } else if s.control.interrupted().is_some() {
                self.ended_by = self.external_reason();
            }
        }
        self.ended_by
    }

    fn external_reason(&self) -> &'static str {
        match self.shared.control.interrupted() {
            Some(Interrupt::Watchdog) => "watchdog",
            Some(_) => "signal",
            None if self
                .shared
                .budget
                .as_ref()
                .is_some_and(|b| b.tripped().is_some()) =>
            {
                "budget"
            }
            None => "stopped",
        }
    }

    fn begin_stop(&mut self, now: Instant) {
        self.stopping_since = Some(now);
        self.shared.stop.stop();
    }

    /// Samples the merged totals into the timeline and refreshes progress.
    fn tick(&mut self, last: bool) {
        let s = self.shared;
        let mut cum = Tally::<u64>::default();
        for r in &s.recorders {
            let r = r.lock().unwrap_or_else(|e| e.into_inner());
            for t in &r.slots {
                cum.add(t);
            }
        }
        let now = Instant::now();
        let t_s = now.duration_since(s.started).as_secs_f64();
        let dt = (t_s - self.prev_t).max(1e-9);
        let mut interval = cum.latency_us.clone();
        let _ = interval.subtract(&self.prev.latency_us);
        let requests = cum.requests - self.prev.requests;
        let retries_of = |t: &Tally| {
            t.retry
                .as_ref()
                .map_or(0, |r| r.retries.iter().sum::<u64>())
        };
        let retries = retries_of(&cum).saturating_sub(retries_of(&self.prev));
        let failures = cum.failures - self.prev.failures;
        let q = |p: f64| {
            if interval.is_empty() {
                0.0
            } else {
                interval.value_at_quantile(p) as f64 / 1000.0
            }
        };
        let point = TimePoint {
            t_s,
            requests,
            failures,
            rps: requests as f64 / dt,
            retries,
            users: s.active_users.load(Ordering::Relaxed),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
        };
        if requests > 0 || !last {
            push_point(&mut self.timeline, point.clone());
        }
        self.progress.update(t_s, &point, &cum, last);
        self.prev = cum;
        self.prev_t = t_s;
        self.last_sample = now;
    }
}

/// Appends a point; when the timeline is full, merges neighbours pairwise so
/// it covers the whole test at half the resolution.
fn push_point(timeline: &mut Vec<TimePoint>, p: TimePoint) {
    if timeline.len() >= MAX_TIMELINE_POINTS {
        let mut merged = Vec::with_capacity(timeline.len() / 2 + 1);
        // Each merged point spans from the end of the point before it.
        let mut start = 0.0;
        for c in timeline.chunks(2) {
            let last = c.last().expect("chunks are non-empty");
            let requests: u64 = c.iter().map(|p| p.requests).sum();
            let span = (last.t_s - start).max(1e-9);
            merged.push(TimePoint {
                t_s: last.t_s,
                retries: c.iter().map(|p| p.retries).sum(),
                requests,
                failures: c.iter().map(|p| p.failures).sum(),
                rps: requests as f64 / span,
                users: last.users,
                p50_ms: c.iter().map(|p| p.p50_ms).fold(0.0, f64::max),
                p95_ms: c.iter().map(|p| p.p95_ms).fold(0.0, f64::max),
            });
            start = last.t_s;
        }
        *timeline = merged;
    }
    timeline.push(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_stays_bounded() {
        let mut tl = Vec::new();
        for i in 0..10_000 {
            push_point(
                &mut tl,
                TimePoint {
                    t_s: i as f64 + 1.0,
                    requests: 10,
                    rps: 10.0,
                    ..TimePoint::default()
                },
            );
        }
        assert!(tl.len() <= MAX_TIMELINE_POINTS);
        let total: u64 = tl.iter().map(|p| p.requests).sum();
        assert_eq!(total, 100_000);
        // 10 requests a second, merged or not; idle seconds don't inflate it.
        assert!(
            tl.iter().all(|p| (p.rps - 10.0).abs() < 1e-6),
            "{:?}",
            &tl[..3]
        );
        let mut idle = Vec::new();
        for i in 0..(MAX_TIMELINE_POINTS + 1) {
            let requests = if i % 2 == 0 { 0 } else { 10 };
            push_point(
                &mut idle,
                TimePoint {
                    t_s: i as f64 + 1.0,
                    requests,
                    rps: requests as f64,
                    ..TimePoint::default()
                },
            );
        }
        assert!(idle[..idle.len() - 1]
            .iter()
            .all(|p| (p.rps - 5.0).abs() < 1e-6));
    }
}
