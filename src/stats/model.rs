//! The measured results as plain data: what reports serialise and gates read.
//! Field names here are the public report contract (see `docs/reports.md`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency distribution in milliseconds (microsecond resolution underneath).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One error message and how often it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorCount {
    /// Failure kind: `connection`, `timeout`, `status`, `assertion`, ...
    pub kind: String,
    pub message: String,
    pub count: u64,
}

/// Statistics of one task name, or of all names together (`total`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NameStats {
    /// Logical requests that completed (success or failure).
    pub requests: u64,
    /// Requests the end of the test (its grace, a watchdog, a signal) cut off
    /// before they completed; not counted in `requests` or `failures`.
    #[serde(default)]
    pub cancelled: u64,
    pub failures: u64,
    /// `failures / requests`, 0 when there were no requests.
    pub failure_rate: f64,
    /// Requests per second over the test's measured duration.
    pub rps: f64,
    /// Response body bytes received (as sent: compressed bodies compressed).
    pub bytes: u64,
    /// Response body bytes as the checks saw them: a compressed body a check
    /// read counts at its decoded size, any other at its size as received.
    #[serde(default)]
    pub decoded_bytes: u64,
    /// Latency; in an arrival-rate test, from each request's scheduled start
    /// (corrected for coordinated omission: a wait for a free user counts).
    pub latency_ms: LatencyMs,
    /// In an arrival-rate test only: latency from each request's actual send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_raw_ms: Option<LatencyMs>,
    /// Failure count per kind.
    pub failures_by_kind: BTreeMap<String, u64>,
    /// The most frequent error messages, most frequent first (at most 10).
    pub top_errors: Vec<ErrorCount>,
    /// Attempts and retries, for names whose tasks have a retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStats>,
    /// What the network conditioner did to this name's attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditioner: Option<ConditionerStats>,
}

/// The network conditioner's settings, as reports show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionerSettings {
    pub latency_ms: f64,
    pub jitter_ms: f64,
    pub loss_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_kbps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

/// Injected delay of conditioned attempts, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DelayMs {
    pub mean: f64,
    pub p95: f64,
}

/// What the network conditioner did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConditionerStats {
    /// Attempts the conditioner applied to (drops included).
    pub attempts: u64,
    /// Attempts it dropped before they were sent.
    pub drops: u64,
    /// Delay it added to the attempts it let through (latency and bandwidth pacing).
    pub injected_delay_ms: DelayMs,
    /// The settings in force (for a total: those of the first conditioned name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ConditionerSettings>,
}

/// A count per error class.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCounts {
    pub transient: u64,
    pub flaky: u64,
    pub permanent: u64,
}

/// What adaptive retry did. `requests` (in the enclosing stats) counts logical
/// requests; `attempts` counts every try, retries included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RetryStats {
    pub attempts: u64,
    /// Retries made, by the class of the failure that caused them.
    pub retries: ClassCounts,
    /// Logical requests that succeeded after at least one retry.
    pub recovered: u64,
    /// Logical requests that failed because their class budget ran out, by class.
    pub exhausted: ClassCounts,
    /// Failures not retried because the run-wide retry budget was spent.
    pub retry_budget_exhausted: u64,
    /// Latency of single attempts (the enclosing `latency_ms` is end to end,
    /// backoff included).
    pub attempt_latency_ms: LatencyMs,
}

/// One point of a test's timeline (one per interval, normally one second).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Seconds since the test started, at the end of the interval.
    pub t_s: f64,
    pub requests: u64,
    pub failures: u64,
    pub rps: f64,
    /// Retries made in the interval (adaptive retry).
    #[serde(default)]
    pub retries: u64,
    pub users: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Arrival-rate tests: p95 of the latency from the actual send (`p95_ms`
    /// is from the scheduled start there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_p95_ms: Option<f64>,
}

/// One `LD_start_test` that ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// 1-based, in the order the plan ran them.
    pub index: usize,
    /// Where in the plan the test stands (`plan.json: actions[2]`).
    pub action: String,
    /// Unix time (seconds) at the start.
    pub started_at: f64,
    pub duration_s: f64,
    pub users: u64,
    /// Worker threads that drove the users.
    #[serde(default)]
    pub workers: usize,
    /// Why the test ended.
    pub ended_by: EndedBy,
    pub total: NameStats,
    pub by_name: BTreeMap<String, NameStats>,
    pub timeline: Vec<TimePoint>,
    /// Undefined placeholders left in place as their text, by key
    /// (`var.x`, `session.x`, `env.X`, `csv.S.C`): how many renders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unresolved: BTreeMap<String, u64>,
    /// Extract values that were missing (skipped), by variable name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extract_missed: BTreeMap<String, u64>,
    /// CSV sources with `cycle: false` that ran out, by source: users stopped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub csv_exhausted: BTreeMap<String, u64>,
    /// The targets its requests were sent to, `scheme://host:port`, sorted
    /// (at most 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// How the load was generated, and whether the generator kept up.
    #[serde(default)]
    pub generator: GeneratorStats,
}

/// How a test's load was generated and whether the generator itself kept
/// up: its workers' CPU, and in an arrival-rate test the schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStats {
    /// `closed` (users looping), `constant_arrival_rate` or
    /// `ramping_arrival_rate`.
    pub executor: String,
    /// Each worker thread's CPU over the test, as a share of one core (0-1).
    pub cpu_per_worker: Vec<f64>,
    /// Each worker's event loop: the share of the test it was busy, not
    /// waiting for events (0-1).
    #[serde(default)]
    pub busy_per_worker: Vec<f64>,
    /// The generator was the bottleneck (see `saturation_reason`); in an
    /// arrival-rate test the run exits 5.
    pub generator_saturated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturation_reason: Option<String>,
    /// Arrival-rate tests: every user was busy, so iterations waited for
    /// one (the target is slower than rate × `max_users` allows).
    pub users_exhausted: bool,
    /// Arrival-rate tests only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleStats>,
}

/// What an arrival-rate test's schedule came to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleStats {
    /// Iterations the schedule called for, and those started.
    pub scheduled_iterations: u64,
    pub iterations: u64,
    /// Iterations started per second over the schedule's length.
    pub achieved_rate: f64,
    /// Started more than 10 ms behind schedule.
    pub late_iterations: u64,
    /// Of those, late although a user was free (the generator's own delay).
    pub late_with_free_users: u64,
    /// More than `max_lag` behind: never started.
    pub dropped_iterations: u64,
    /// Between an iteration's scheduled and actual start.
    pub lag_ms: LagMs,
    pub max_users: u64,
    /// Most users running at once.
    pub peak_users: u64,
}

/// Schedule lag in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Why a test ended, as the summary's `ended_by` says it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// `test_time` ran out.
    Time,
    /// Every user finished its `iterations`.
    #[default]
    Iterations,
    /// The failure budget tripped.
    Budget,
    /// A watchdog fired.
    Watchdog,
    /// SIGINT or SIGTERM.
    Signal,
    /// Stopped for another reason (a user panicked).
    Stopped,
}

impl EndedBy {
    /// The word the summary uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EndedBy::Time => "time",
            EndedBy::Iterations => "iterations",
            EndedBy::Budget => "budget",
            EndedBy::Watchdog => "watchdog",
            EndedBy::Signal => "signal",
            EndedBy::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for EndedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failure budget's state in the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// No budget was in force for any test.
    #[default]
    #[serde(rename = "none")]
    NotInstalled,
    Armed,
    Tripped,
}

/// Where the failure budget of the run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetSource {
    /// The test's own `failure_budget`.
    Test,
    /// `LD_install_failure_budget`.
    Installed,
    /// `--failure-budget` (or `LOADDENSITY_FAILURE_BUDGET`).
    Flag,
    /// None was given: LoadDensity's defaults (0.05, 30 s, 50 samples).
    Default,
}

/// Why a failure budget tripped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripReason {
    /// The error rate over the window passed the threshold.
    ErrorRate,
    /// The share of slow calls over the window passed its threshold.
    SlowCalls,
}

impl TripReason {
    /// The word the summary uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TripReason::ErrorRate => "error_rate",
            TripReason::SlowCalls => "slow_calls",
        }
    }
}

/// Everything the run measured so far: the input of every report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub tool: String,
    pub version: String,
    /// Unix time (seconds) when the run started.
    pub started_at: f64,
    /// Seconds since the run started.
    pub duration_s: f64,
    /// The code the process would exit with if the run ended now.
    pub exit_code: i32,
    /// Why: `pass`, `action_failed`, `budget_tripped`, `gate_failed`, `watchdog`, `interrupted`.
    pub exit_reason: String,
    /// The seed every random draw of the run derives from.
    pub seed: u64,
    /// The plan files the run was given, as given (`<run-str>` for a plan
    /// given as text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<String>,
    /// The targets of every test, `scheme://host:port`, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// `seed` as a string when it is above 2^53, where readers that take JSON
    /// numbers as doubles would round it; absent otherwise. Derived from
    /// `seed` (`crate::units::seed_str`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_str: Option<String>,
    /// Adaptive retry over all tests (the same block as `total.retry`); absent
    /// when no task had a retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStats>,
    /// The network conditioner over all tests (the same as
    /// `total.conditioner`); absent when no attempt was conditioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditioner: Option<ConditionerStats>,
    /// The failure budget: its settings and state (absent fields when none was
    /// ever in force).
    #[serde(default)]
    pub budget: BudgetReport,
    /// What the process supervisor did.
    #[serde(default)]
    pub supervisor: SupervisorReport,
    /// SLA rules evaluated so far (`LD_evaluate_sla`, `LD_assert_sla`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sla: Vec<SlaResult>,
    /// Undefined placeholders left in place, over all tests and the plan's
    /// own actions (see [`TestReport::unresolved`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unresolved: BTreeMap<String, u64>,
    /// Missed extract values over all tests, by variable name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extract_missed: BTreeMap<String, u64>,
    /// Users stopped by an exhausted CSV source over all tests, by source.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub csv_exhausted: BTreeMap<String, u64>,
    /// All tests together (histograms merged, not averaged).
    pub total: NameStats,
    pub by_name: BTreeMap<String, NameStats>,
    pub tests: Vec<TestReport>,
    /// LoadDensity's view (its names and summary object); reports that
    /// show it add it themselves, so it is not serialised here.
    #[serde(skip)]
    pub loaddensity: super::loaddensity::LdView,
}

/// The failure budget in the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// Whether a budget was in force for any test of the run.
    pub installed: bool,
    /// Where it came from: `test`, `installed`, `flag` or `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<BudgetSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_threshold: Option<f64>,
    /// `armed` or `tripped` (`none` when no budget was installed).
    pub state: BudgetState,
    /// Why it tripped: `error_rate` or `slow_calls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<TripReason>,
    /// The test (1-based) in which it tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<usize>,
    /// Seconds after that test started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tripped_at_s: Option<f64>,
    /// Error rate over the window when it tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Share of slow calls over the window when it tripped (slow-call budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_call_rate: Option<f64>,
    /// Samples in the window when it tripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// The most frequent errors of the test when it tripped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_errors: Vec<ErrorCount>,
}

/// One SLA rule and how it went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaResult {
    /// The rule as text: `latency_p95 lte 200 (login)`.
    pub rule: String,
    pub passed: bool,
    /// The measured value (absent when there were no samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<f64>,
    /// What was measured against what, or why it failed.
    pub detail: String,
    /// From `LD_assert_sla` (a failure fails the run) rather than `LD_evaluate_sla`.
    pub asserted: bool,
    /// The plan file of the action that judged it (absent for a rule
    /// `loaddensity merge` judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line of that action in its file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// An orphaned loaddensity run that the prelude stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KilledOrphan {
    pub pid: u32,
    /// Seconds it had been running.
    pub age_s: u64,
    pub command: String,
    /// The last signal it got: `SIGTERM`, or `SIGKILL` when it outlived the grace.
    pub signal: String,
}

/// What the process supervisor did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SupervisorReport {
    /// Orphaned runs the prelude stopped.
    pub orphans_killed: Vec<KilledOrphan>,
    /// The watchdog limit in force (seconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog_timeout_s: Option<f64>,
    /// Seconds after the run started when a watchdog fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog_fired_at_s: Option<f64>,
    /// `SIGINT` or `SIGTERM` when the run was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Adds the counts of `from` into `into`.
pub fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, n) in from {
        *into.entry(k.clone()).or_insert(0) += n;
    }
}
