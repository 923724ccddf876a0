//! The load engine: runs one test's users on a worker [`pool`], supervises the
//! clock, collects statistics and returns what it measured.
//!
//! One fixed order per request: stop? → build → send → judge → extract → record.

pub mod arrival;
pub mod capacity;
pub mod check;
pub mod clock;
pub mod cpu;
pub mod executor;
pub mod in_flight;
pub mod pool;
pub mod population;
pub mod predicate;
pub mod progress;
pub mod scenario;
pub mod shape;
pub mod task;
pub mod throttle;
pub mod timers;
pub mod user;
pub mod verdict;
pub mod wakeup;

use crate::budget::{BudgetConfig, BudgetWindow, Trip};
use crate::resolver::Vars;
use crate::retry::storm::{RetryBudget, RetryBudgetConfig};
use crate::stats::model::add_counts;
use crate::stats::recorder::{Recorder, Tally};
use crate::stats::records::TestRecord;
use crate::stats::request_log::RequestLog;
use crate::stats::TestReport;
use crate::stop::StopSignal;
use crate::supervisor::RunControl;
use crate::sync::lock;
use crate::ui::Ui;
use clock::TestClock;
use scenario::Scenario;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
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

impl Wait {
    /// One wait: `Between` draws uniformly from `rng` (nothing is drawn
    /// for the other kinds).
    pub fn draw(&self, rng: &mut impl rand::Rng) -> Duration {
        match *self {
            Wait::None => Duration::ZERO,
            Wait::Constant(d) => d,
            Wait::Between(a, b) if b > a => rng.random_range(a..=b),
            Wait::Between(a, _) => a,
        }
    }
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
    /// Open-model load: iterations started on this schedule (users are
    /// `max_users`); `None`: the closed model, users looping.
    pub arrival: Option<arrival::ArrivalPlan>,
    /// The forward proxies requests go through (the test's `proxy`, or the
    /// environment's), if any.
    pub proxies: Option<Arc<crate::http::proxy::Proxies>>,
    /// Retry-storm budget when any task retries.
    pub retry_storm: Option<RetryBudgetConfig>,
    /// The failure budget in force for this test.
    pub budget: Option<BudgetConfig>,
    /// Whether it is the default budget, which also judges a test that ends
    /// below `min_samples` on all its outcomes.
    pub budget_is_default: bool,
    pub seed: u64,
    /// 1-based test number in the run.
    pub index: usize,
    /// Worker threads asked for (`--workers`); a test uses at most one per user.
    pub workers: usize,
    /// Where the test stands in the plan.
    pub action: String,
    /// An undefined placeholder fails the request instead of being sent as its text.
    pub strict: bool,
    /// The load shape: users over time (then `users` is its peak and
    /// `duration` ends the test with the shape, or at `test_time`).
    pub shape: Option<shape::Shape>,
}

/// State the workers and the supervisor share for one test.
pub struct Shared<'a> {
    pub plan: &'a TestPlan,
    pub plan_vars: &'a Vars,
    pub stop: Arc<StopSignal>,
    /// The run's interrupts (watchdog, signals).
    pub control: &'a RunControl,
    pub started: Instant,
    /// One recorder per worker thread, locked per request by that worker and
    /// once per tick by the clock: never a contended lock on the hot path, and
    /// memory that does not grow with the number of users.
    pub recorders: Vec<Mutex<Recorder>>,
    pub active_users: AtomicU64,
    /// How many users may run now (a shaped test's target; all otherwise).
    pub population: population::Population,
    pub finished_users: AtomicU64,
    pub request_log: Option<Mutex<RequestLog>>,
    /// The run-wide retry budget, when the test has a retry policy.
    pub storm: Option<RetryBudget>,
    /// The failure budget's window, when one is in force.
    pub budget: Option<BudgetWindow>,
    /// The first panic (or failure) of a worker thread, if any.
    pub panicked: Mutex<Option<String>>,
    /// Requests in flight, per worker.
    pub in_flight: in_flight::InFlight,
    /// The live metrics board the clock publishes to, when an exporter runs.
    pub metrics: Option<&'a crate::metrics::Board>,
}

/// What one test measured, and whether its failure budget tripped.
pub struct TestOutcome {
    pub record: TestRecord,
    pub trip: Option<Trip>,
    /// A worker thread panicked (its message); the measurements still stand.
    pub panic: Option<String>,
    /// Writing `record_csv` failed (the first error).
    pub log_error: Option<String>,
}

/// Runs one test to its end and returns what it measured.
pub fn run_test(
    plan: &TestPlan,
    plan_vars: &Vars,
    ui: &Ui,
    control: &RunControl,
    metrics: Option<&crate::metrics::Board>,
) -> anyhow::Result<TestOutcome> {
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let request_log = match &plan.record_csv {
        Some(p) => Some(Mutex::new(RequestLog::create(p, started, started_unix)?)),
        None => None,
    };
    let workers = pool::workers_for(plan.workers, plan.users);
    let shared = Shared {
        plan,
        plan_vars,
        stop: Arc::new(StopSignal::new()),
        control,
        started,
        // One recorder per worker: locked once per request, by its own
        // worker only (and by the clock once per tick).
        recorders: (0..workers)
            .map(|_| Mutex::new(Recorder::new(plan.names.len())))
            .collect(),
        active_users: AtomicU64::new(0),
        population: population::Population::new(plan.shape.is_some()),
        finished_users: AtomicU64::new(0),
        request_log,
        budget: plan
            .budget
            .clone()
            .map(|c| BudgetWindow::new(c, Instant::now())),
        storm: plan
            .retry_storm
            .map(|cfg| RetryBudget::new(Instant::now(), cfg)),
        panicked: Mutex::new(None),
        in_flight: in_flight::InFlight::new(workers),
        metrics,
    };
    control.enter_test(Arc::clone(&shared.stop));
    let mut clock = TestClock::new(&shared, ui);
    let ended_by = pool::run_users(&shared, || clock.supervise());
    let ended_by = match ended_by {
        Ok(e) => e,
        Err(e) => {
            control.leave_test();
            return Err(e.context("starting the worker threads"));
        }
    };
    control.leave_test();
    // Measured until the test stopped (its end condition), not through the
    // grace given to in-flight requests, so rates are not diluted by it.
    let ended = clock.stopping_since.unwrap_or_else(Instant::now);
    let duration_s = ended.duration_since(shared.started).as_secs_f64();
    clock.finish(ended);
    let timeline = std::mem::take(&mut clock.timeline);
    drop(clock);
    // The measurements stand even when the per-request file failed; the
    // failure fails the test's action once its reports are in.
    let log_error = shared.request_log.and_then(|log| {
        log.into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .finish()
            .err()
    });
    let panic_msg = lock(&shared.panicked).take();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for r in &shared.recorders {
        let r = lock(r);
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
    let (mut unresolved, mut extract_missed, mut csv_exhausted) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for r in &shared.recorders {
        let r = lock(r);
        add_counts(&mut unresolved, &r.unresolved);
        add_counts(&mut extract_missed, &r.extract_missed);
        add_counts(&mut csv_exhausted, &r.csv_exhausted);
    }
    let mut targets: Vec<String> = Vec::new();
    for r in &shared.recorders {
        for (scheme, host, port) in &lock(r).targets {
            let url = crate::http::Url {
                scheme: *scheme,
                host: host.clone(),
                port: *port,
                path_and_query: "/".to_string(),
            };
            targets.push(url.target());
        }
    }
    let mut loads = Vec::new();
    let mut lag: Option<arrival::LagTally> = None;
    for r in &shared.recorders {
        let r = lock(r);
        loads.push(r.load.clone());
        if let Some(l) = &r.lag {
            lag.get_or_insert_with(Default::default).add(l);
        }
    }
    let generator = verdict::judge(plan.arrival.as_ref().zip(lag.as_ref()), &loads, duration_s);
    targets.sort();
    targets.dedup();
    targets.truncate(crate::stats::recorder::MAX_TARGETS);
    let report = TestReport {
        index: plan.index,
        action: plan.action.clone(),
        started_at: started_unix,
        duration_s,
        users: plan.users,
        workers: shared.recorders.len(),
        ended_by,
        total: total.stats(duration_s),
        by_name: tallies
            .iter()
            .map(|(n, t)| (n.clone(), t.stats(duration_s)))
            .collect(),
        timeline,
        unresolved,
        extract_missed,
        csv_exhausted,
        targets,
        generator,
    };
    // A test cut short by a watchdog or a signal is not judged at its end.
    let trip = shared.budget.as_ref().and_then(|b| {
        match (control.interrupted(), plan.budget_is_default) {
            (None, true) => b.judge_at_end(Instant::now()),
            _ => b.tripped(),
        }
    });
    Ok(TestOutcome {
        record: TestRecord {
            report,
            tallies,
            aliases: task::ld_aliases(&plan.scenario.tasks),
        },
        trip,
        panic: panic_msg,
        log_error,
    })
}

/// The most grace in-flight requests get once a watchdog fired or a signal
/// came: then they are cancelled, so the run ends within a second.
pub const INTERRUPT_STOP_GRACE: Duration = Duration::from_millis(100);
