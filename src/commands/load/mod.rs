//! `LD_start_test`: the main job. Arguments keep LoadDensity's names; tasks are
//! a list, a LoadDensity `{"get": {...}, "post": {...}}` map, or a scenario
//! `{"mode": ..., "tasks": [...]}`. Everything is checked before the run;
//! templates are compiled once and folded against the plan's variables when
//! the test starts.
//!
//! `args` holds the argument types as written, `task` compiles one task;
//! this module checks the test's own arguments, builds the engine's plan and
//! runs it.

mod args;
mod arrival;
mod pacing;
mod proxy;
mod segment;
mod shape;
mod task;
mod tls;

use crate::budget;
use crate::commands::vars::load_sources;
use crate::data_source::{CsvFeed, Source};
use crate::engine::scenario::{Mode, Scenario};
use crate::engine::shape::Shape;
use crate::engine::task::Task;
use crate::engine::throttle::TokenBucket;
use crate::engine::{self, TestPlan, Wait};
use crate::http::Url;
use crate::interpreter::Context;
use crate::plan::parse::RawArgs;
use crate::plan::validate::{
    other_unknown_fields, remove_at, serde_problem, unknown_field_path, Args, Validator,
};
use crate::plan::{Position, Problem};
use crate::registry::{Command, CommandSpec, Param, Role};
use crate::reports;
use crate::resolver::{self, fold, valid_var_name, Piece, Scope, Template, Vars};
use crate::retry::RetryBudgetConfig;
use crate::units;
use args::{RunnerMode, ScenarioArg, StartTestArgs, WaitArg};
use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use task::{compile_task, TaskJson, TestCx};

pub const START_TEST: CommandSpec = CommandSpec {
    name: "LD_start_test",
    summary: "Run HTTP load: users running tasks for a time or a number of passes",
    params: &[
        Param { name: "user_detail_dict", kind: "object", required: false, doc: "`{\"user\": ..., \"host\": ..., \"base_url\": ...}`: the user types `http_user`, `fast_http_user`, `async_http_user` and `http3_user` all run as the same HTTP user; `host` or `base_url` is the same as the test's `host`." },
        Param { name: "user_count", kind: "number = 50", required: false, doc: "Concurrent users, 1 to 1,000,000." },
        Param { name: "spawn_rate", kind: "number = 10", required: false, doc: "Users started per second (> 0)." },
        Param { name: "test_time", kind: "number = 60", required: false, doc: "Seconds to run (> 0). Without it and with `iterations`, users stop after their passes." },
        Param { name: "web_ui_dict", kind: "object", required: false, doc: "Accepted for LoadDensity plans and ignored (there is no web UI)." },
        Param { name: "runner_mode", kind: "string = \"local\"", required: false, doc: "LoadDensity's runner: `local` runs here; `master` and `worker` (Locust's distributed runners) are accepted by `validate` and refused by `run` (exit 2)." },
        Param { name: "master_bind_host", kind: "string", required: false, doc: "LoadDensity's master/worker setting: accepted, unused." },
        Param { name: "master_bind_port", kind: "number", required: false, doc: "LoadDensity's master/worker setting: accepted, unused." },
        Param { name: "master_host", kind: "string", required: false, doc: "LoadDensity's master/worker setting: accepted, unused." },
        Param { name: "master_port", kind: "number", required: false, doc: "LoadDensity's master/worker setting: accepted, unused." },
        Param { name: "expected_workers", kind: "number", required: false, doc: "LoadDensity's master/worker setting: accepted, unused." },
        Param { name: "tasks", kind: "list | object", required: true, doc: "The tasks: a list, a `{method: task}` map, or `{\"mode\": ..., \"tasks\": [...]}` (see below)." },
        Param { name: "variables", kind: "object", required: false, doc: "Each user's starting variables (`${var.NAME}`), private to that user." },
        Param { name: "host", kind: "string", required: false, doc: "Base URL for relative task URLs, e.g. `http://127.0.0.1:8080`." },
        Param { name: "iterations", kind: "number", required: false, doc: "Passes per user; the test ends when every user is done (or at `test_time`)." },
        Param { name: "wait_time", kind: "number | object", required: false, doc: "Think time after each task: seconds, or `{\"between\": [a, b]}`." },
        Param { name: "stop_timeout", kind: "number = 5", required: false, doc: "Seconds in-flight requests get once the test stops." },
        Param { name: "record_csv", kind: "string", required: false, doc: "Stream one CSV row per request to this file (`.csv` appended) during the test." },
        Param { name: "retry", kind: "object", required: false, doc: "Run-wide retry policy for every task (a task's own `retry` overrides it field by field); see `Retry`." },
        Param { name: "failure_budget", kind: "object | false", required: false, doc: "A failure budget for this test only, over an installed one (same fields as LD_install_failure_budget); `false` runs this test without any, the default included." },
        Param { name: "expect_requests", kind: "boolean = true", required: false, doc: "A test that completes no request fails the run (exit 1, `no_completed_requests`); `false` says that is expected." },
        Param { name: "max_redirects", kind: "number = 30", required: false, doc: "Most redirects one request follows (like Python requests); one more fails it with `too many redirects (N)`. A task's own `max_redirects` overrides it." },
        Param { name: "max_body_bytes", kind: "number = 10485760", required: false, doc: "Most bytes of a response body kept in memory for assertions and extract (10 MiB); a larger body fails the request. Bodies nothing reads are counted and discarded. A task's own `max_body_bytes` overrides it." },
        Param { name: "engine", kind: "string", required: false, doc: "LoadDensity's Locust engine (`locust` or `asyncio`): accepted and ignored; there is one engine here." },
        Param { name: "load_shape", kind: "string", required: false, doc: "A load shape, users over time: `stages`, `spike` or `soak`, set in `shape_config`. The shape decides how many users run (`user_count` is not used) and ends the test; `test_time` still caps it." },
        Param { name: "shape_config", kind: "object", required: false, doc: "The load shape's settings: `{\"stages\": [{\"duration\": s, \"users\": N, \"spawn_rate\": R}]}` (each duration the stage's end, seconds from the start), spike's `baseline_users`, `spike_users`, `spawn_rate`, `pre_seconds`, `spike_seconds`, `post_seconds`, or soak's `users`, `spawn_rate`, `ramp_seconds`, `hold_seconds`, `cooldown_seconds`." },
        Param { name: "csv_sources", kind: "list", required: false, doc: "CSV data sources for this test only, as LD_register_csv_sources' `sources`; they start at their first row each time the test runs." },
        Param { name: "verify", kind: "boolean | string = true", required: false, doc: "TLS for every task (a task's own wins): `true` verifies against the system's trust store, `false` does not verify (one warning per test), a string is a PEM file of the only CA certificates to trust." },
        Param { name: "cert", kind: "string | list", required: false, doc: "A TLS client certificate for every task (a task's own wins): a PEM file holding the chain and the key, or `[cert_path, key_path]`. Alias: `client_cert`." },
        Param { name: "executor", kind: "string = \"closed\"", required: false, doc: "How load is generated: `closed` (users looping, the default), `constant_arrival_rate` or `ramping_arrival_rate` (iterations started on the clock, k6's executors). See Open-model load." },
        Param { name: "rate", kind: "number", required: false, doc: "constant_arrival_rate: iterations (passes of the scenario) started per `time_unit`." },
        Param { name: "time_unit", kind: "number | string = 1", required: false, doc: "The unit of `rate`, `start_rate` and stage targets: seconds, or `\"1m\"`, `\"500ms\"`." },
        Param { name: "duration", kind: "number | string", required: false, doc: "constant_arrival_rate: how long the schedule runs, seconds or `\"30s\"`, `\"2m\"` (`test_time`, when given, caps it)." },
        Param { name: "pre_allocated_users", kind: "number", required: false, doc: "Arrival-rate tests: users started at the outset, waiting for iterations; default `user_count`." },
        Param { name: "max_users", kind: "number", required: false, doc: "Arrival-rate tests: the most users that may run (default `pre_allocated_users`); when all are busy, a due iteration waits for one and starts late (its wait is in the corrected latency)." },
        Param { name: "start_rate", kind: "number = 0", required: false, doc: "ramping_arrival_rate: the rate at the start, per `time_unit`." },
        Param { name: "stages", kind: "list", required: false, doc: "ramping_arrival_rate: `[{\"target\": R, \"duration\": \"30s\"}, ...]`, each a linear ramp from the rate before to `target`; the test ends after the last." },
        Param { name: "max_lag", kind: "number | string = 1", required: false, doc: "Arrival-rate tests: an iteration further behind its schedule than this is dropped (counted in `dropped_iterations`) instead of started." },
        Param { name: "proxy", kind: "string | false", required: false, doc: "A forward proxy for every request of the test, e.g. `http://user:password@proxy.internal:3128` (the password is never printed); `false` ignores the environment's `http_proxy` / `https_proxy` / `no_proxy`, which apply otherwise (never to loopback hosts). See HTTP behaviour: proxies." },
        Param { name: "strict", kind: "boolean = false", required: false, doc: "An undefined `${...}` fails the request (or the test, if it is in the test's own arguments) instead of being sent as its text; `--strict` does this for the whole run." },
    ],
    parse: parse_start_test,
};

/// Default `test_time` when neither it nor `iterations` is given (LoadDensity's).
const DEFAULT_TEST_TIME: f64 = 60.0;

/// A validated `LD_start_test`.
#[derive(Debug)]
pub struct StartTest {
    at: Position,
    users: u64,
    spawn_rate: f64,
    duration: Option<Duration>,
    iterations: Option<u64>,
    wait: Wait,
    stop_timeout: Duration,
    mode: Mode,
    tasks: Vec<Task>,
    names: Vec<String>,
    host: Option<String>,
    variables: Map<String, Value>,
    record_csv: Option<String>,
    /// Retry-storm budget when any task retries.
    retry_storm: Option<RetryBudgetConfig>,
    /// This test's own failure budget (over an installed one), or `Off`.
    failure_budget: budget::Setting,
    /// Whether a test that completes no request fails the run (exit 1).
    expect_requests: bool,
    /// This test's own CSV sources (read at validation).
    csv_sources: Vec<Source>,
    /// `strict: true`.
    strict: bool,
    /// The test's own `proxy`, or the environment's.
    proxy: proxy::ProxySetting,
    /// Open-model load: iterations on a schedule instead of users looping.
    arrival: Option<crate::engine::arrival::ArrivalPlan>,
    /// The load shape (`users` is then its peak, `duration` its end or
    /// `test_time`).
    shape: Option<Shape>,
}

fn parse_start_test(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let mut args = v.typed::<StartTestArgs>(a)?;
    let before = v.problem_count();
    loaddensity_forms(v, &a.at, &mut args);
    // The pipeline's word wins (`--users`, `--duration`, ...), checked as
    // if the plan said it.
    let o = v.overrides();
    args.user_count = o.users.unwrap_or(args.user_count);
    args.spawn_rate = o.spawn_rate.unwrap_or(args.spawn_rate);
    args.test_time = o.duration_s.or(args.test_time);
    if let Some(h) = &o.host {
        args.host = Some(h.clone());
    }
    let wait = check_test_args(v, &a.at, &args);
    let shape = shape::compile(
        v,
        &a.at,
        args.load_shape.as_ref(),
        args.shape_config.as_ref(),
        args.spawn_rate,
    );
    let csv_sources = load_sources(v, a, "args.csv_sources", &args.csv_sources);
    let proxy =
        proxy::ProxySetting::check(v, &a.at, args.proxy.as_ref(), |k| std::env::var(k).ok());
    let arrival = arrival::compile(v, &a.at, &args);
    if let (Some(_), Some(_)) = (&arrival, args.iterations) {
        v.warn(
            Problem::new(
                a.at.child("args.iterations"),
                "iterations (passes per user) is ignored in an arrival-rate test: its schedule sets how many iterations run",
            )
            .hint("remove iterations, or the executor"),
        );
    }
    if let (Some(_), Some(_)) = (&arrival, &shape) {
        v.problem(
            Problem::new(
                a.at.child("args.load_shape"),
                "a load shape (users over time) and an arrival-rate executor (iterations over time) cannot be combined",
            )
            .hint("shape an arrival-rate test with ramping_arrival_rate's stages, or remove the executor"),
        );
    }
    if let Some(p) = &arrival {
        if p.max_users > MAX_USERS {
            v.problem(Problem::new(
                a.at.child("args.max_users"),
                format!("max_users {} is more than one run can drive (at most {MAX_USERS}); split the load over several runs", p.max_users),
            ));
        }
    }
    let base = a.src.base_dir();
    let (mode, tasks, names) = compile_tasks(v, &a.at, &args, &task_lines(a), base)?;
    if v.problem_count() != before {
        return None;
    }
    // What a user may hold: the test's variables and what its tasks extract.
    for k in args.variables.keys() {
        v.define_user_var(k);
    }
    for e in tasks.iter().flat_map(|t| &t.extract) {
        v.define_user_var(&e.var);
    }
    let iterations = args.iterations.filter(|_| arrival.is_none());
    let duration = match (&arrival, args.test_time, args.iterations, &shape) {
        // The schedule's length, capped by test_time when given.
        (Some(p), t, _, _) => Some(match t {
            Some(t) => p.schedule.duration().min(units::secs(t)),
            None => p.schedule.duration(),
        }),
        // A shaped test ends with its shape, or at test_time if sooner.
        (None, t, _, Some(s)) => Some(units::secs(t.map_or(s.length_s(), |t| t.min(s.length_s())))),
        (None, Some(t), _, None) => Some(units::secs(t)),
        (None, None, Some(_), None) => None,
        (None, None, None, None) => Some(units::secs(DEFAULT_TEST_TIME)),
    };
    let users = shape.as_ref().map_or(args.user_count, Shape::peak_users);
    let retry_storm = tasks
        .iter()
        .any(|t| t.retry.is_some())
        .then(|| RetryBudgetConfig::from_arg(&args.retry.clone().unwrap_or_default()));
    Some(Box::new(StartTest {
        at: a.at.clone(),
        users,
        spawn_rate: args.spawn_rate,
        duration,
        iterations,
        wait,
        stop_timeout: units::secs(args.stop_timeout),
        mode,
        tasks,
        names,
        host: args.host,
        variables: args.variables,
        record_csv: args.record_csv,
        retry_storm,
        failure_budget: args.failure_budget.0,
        expect_requests: args.expect_requests,
        csv_sources: csv_sources?,
        strict: args.strict,
        proxy,
        arrival,
        shape,
    }))
}

/// Says how the schedule went, and judges the generator: saturated fails an
/// arrival-rate test (exit 5) and warns in a closed-model one; users
/// exhausted warns.
fn generator_check(ctx: &mut Context, index: usize, g: &crate::stats::GeneratorStats) {
    if let Some(s) = &g.schedule {
        ctx.ui.note(&format!(
            "test {index}: {} of {} iteration(s) started ({:.1}/s), lag p50 {:.1} ms p99 {:.1} ms max {:.1} ms, {} late, {} dropped, up to {} of {} user(s)",
            s.iterations,
            s.scheduled_iterations,
            s.achieved_rate,
            s.lag_ms.p50,
            s.lag_ms.p99,
            s.lag_ms.max,
            s.late_iterations,
            s.dropped_iterations,
            s.peak_users,
            s.max_users,
        ));
        if g.users_exhausted {
            ctx.ui.warn(&format!(
                "test {index}: users exhausted: {} iteration(s) started late and {} were dropped because all {} user(s) were busy (lag p99 {:.1} ms); the target is slower than the rate × max_users allows: raise max_users. The corrected latency includes the wait.",
                s.late_iterations - s.late_with_free_users,
                s.dropped_iterations,
                s.max_users,
                s.lag_ms.p99,
            ));
        }
    }
    if let Some(why) = &g.saturation_reason {
        if g.schedule.is_some() {
            ctx.ui.error(&format!(
                "test {index}: generator saturated: {why}. The measurement is not trustworthy: use more workers or machines, or a lower rate"
            ));
            ctx.fail(
                crate::exit::Outcome::GeneratorSaturated,
                format!("test {index}: generator saturated — {why}"),
            );
        } else {
            ctx.ui.warn(&format!(
                "test {index}: the generator was the bottleneck: {why}; latency includes the generator's own delay (more workers, or a paced load, gives figures about the target)"
            ));
        }
    }
}

/// LoadDensity's own ways of saying things: the base URL in
/// `user_detail_dict`, and its distributed mode (refused by `run`, with what
/// to do instead).
fn loaddensity_forms(v: &mut Validator, at: &Position, args: &mut StartTestArgs) {
    if let Some(d) = &args.user_detail_dict {
        let given: Vec<(&str, &String)> = [
            ("args.host", args.host.as_ref()),
            ("args.user_detail_dict.host", d.host.as_ref()),
            ("args.user_detail_dict.base_url", d.base_url.as_ref()),
        ]
        .into_iter()
        .filter_map(|(k, h)| h.map(|h| (k, h)))
        .collect();
        if let Some((_, first)) = given.first() {
            if let Some((path, other)) = given.iter().find(|(_, h)| h != first) {
                let shown = |u: &str| crate::http::url::redact_userinfo(u).into_owned();
                v.problem(
                    Problem::new(at.child(path), format!("{:?} differs from the base URL {:?} given before", shown(other), shown(first)))
                        .hint("give the base URL once: `host`, or user_detail_dict's `host` or `base_url`"),
                );
            }
            args.host = Some((*first).clone());
        }
    }
    if let Some(mode @ (RunnerMode::Master | RunnerMode::Worker)) = args.runner_mode {
        v.refuse(
            Problem::new(
                at.child("args.runner_mode"),
                format!("runner_mode {:?} (LoadDensity's distributed Locust runners) is not supported", format!("{mode:?}").to_lowercase()),
            )
            .hint("one loaddensity process drives many users on every core; to spread load over machines, run `loaddensity run --segment I/N` on each machine and `loaddensity merge` their result files (see `loaddensity run --help`)"),
        );
    }
}

/// The most users one test may have: each costs about 2 KB while idle, and
/// one connection (one open file) per origin it talks to.
pub const MAX_USERS: u64 = 1_000_000;

/// Checks the test's own arguments (everything but `tasks`); returns its
/// think time.
fn check_test_args(v: &mut Validator, at: &Position, args: &StartTestArgs) -> Wait {
    let mut bad = |path: &str, msg: String| v.problem(Problem::new(at.child(path), msg));
    if args.user_count == 0 {
        bad("args.user_count", "user_count must be at least 1".into());
    } else if args.user_count > MAX_USERS {
        bad(
            "args.user_count",
            format!(
                "user_count {} is more than one run can drive (at most {MAX_USERS}); split the load over several runs",
                args.user_count
            ),
        );
    }
    if !(args.spawn_rate > 0.0 && args.spawn_rate.is_finite()) {
        bad(
            "args.spawn_rate",
            "spawn_rate must be a positive number of users per second".into(),
        );
    } else if !units::valid_seconds(args.user_count.saturating_sub(1) as f64 / args.spawn_rate) {
        bad(
            "args.spawn_rate",
            format!(
                "spawn_rate {} would start the last user more than 1e9 s after the test starts; give at least {}",
                args.spawn_rate,
                args.user_count as f64 / units::MAX_SECONDS
            ),
        );
    }
    if let Some(t) = args.test_time {
        if !(t > 0.0 && units::valid_seconds(t)) {
            bad(
                "args.test_time",
                "test_time must be a positive number of seconds (at most 1e9)".into(),
            );
        }
    }
    if args.iterations == Some(0) {
        bad("args.iterations", "iterations must be at least 1".into());
    }
    if !units::valid_seconds(args.stop_timeout) {
        bad(
            "args.stop_timeout",
            "stop_timeout must be a number of seconds from 0 to 1e9".into(),
        );
    }
    let wait = match args.wait_time {
        None => Wait::None,
        Some(WaitArg::Seconds(s)) if units::valid_seconds(s) => Wait::Constant(units::secs(s)),
        Some(WaitArg::Between { between: (lo, hi) })
            if units::valid_seconds(lo) && units::valid_seconds(hi) && hi >= lo =>
        {
            Wait::Between(units::secs(lo), units::secs(hi))
        }
        Some(_) => {
            bad(
                "args.wait_time",
                "wait_time must be seconds >= 0 or {\"between\": [a, b]} with 0 <= a <= b".into(),
            );
            Wait::None
        }
    };
    if let Some(h) = &args.host {
        if !h.contains("${") {
            if let Err(e) = Url::parse(h) {
                bad("args.host", format!("host: {e}"));
            }
        }
    }
    for k in args.variables.keys().filter(|k| !valid_var_name(k)) {
        bad(
            "args.variables",
            format!("variable name {k:?} may only use A-Z a-z 0-9 _ . -"),
        );
    }
    if let Some(r) = &args.retry {
        v.field_problems(at, "args.retry", r.problems(true));
    }
    if let budget::Setting::On(b) = &args.failure_budget.0 {
        v.field_problems(at, "args.failure_budget", b.problems());
    }
    wait
}

/// The scenario mode, every task compiled, and the distinct task names (each
/// task's `slot` indexes them).
fn compile_tasks(
    v: &mut Validator,
    at: &Position,
    args: &StartTestArgs,
    lines: &HashMap<String, usize>,
    base: std::path::PathBuf,
) -> Option<(Mode, Vec<Task>, Vec<String>)> {
    let (mode, mut task_values) = scenario_shape(v, at, &args.tasks)?;
    for t in &mut task_values {
        t.line = lines.get(&t.path).copied();
    }
    if task_values.is_empty() {
        v.problem(Problem::new(
            at.child("args.tasks"),
            "tasks is empty: give at least one task",
        ));
    }
    let test = TestCx {
        at,
        has_host: args.host.is_some(),
        run_retry: args.retry.as_ref(),
        max_body_bytes: args.max_body_bytes,
        tls: tls::TestTls::new(
            v,
            at,
            args.verify.as_ref(),
            args.cert.as_ref(),
            base.clone(),
        ),
        max_redirects: args.max_redirects.unwrap_or(task::DEFAULT_MAX_REDIRECTS),
        base_dir: base,
    };
    let mut tasks: Vec<Task> = Vec::with_capacity(task_values.len());
    let mut throttled: Vec<Position> = Vec::new();
    for (i, task) in task_values.into_iter().enumerate() {
        let path = task.path.clone();
        if let Some(t) = compile_task(v, &test, i, task) {
            if t.throttle.is_some() {
                throttled.push(at.child(&path));
            }
            tasks.push(t);
        }
    }
    let specs: Vec<(Position, &crate::engine::throttle::ThrottleSpec)> = throttled
        .into_iter()
        .zip(tasks.iter().filter_map(|t| t.throttle.as_ref()))
        .collect();
    pacing::check_shared_keys(v, &specs);
    if mode == Mode::Weighted && !tasks.is_empty() && tasks.iter().all(|t| t.weight == 0) {
        v.problem(
            Problem::new(
                at.child("args.tasks"),
                "every task has weight 0, so none would ever run",
            )
            .hint("give at least one task a weight of 1 or more"),
        );
    }
    let mut names: Vec<String> = Vec::new();
    for t in &mut tasks {
        t.slot = match names.iter().position(|n| *n == t.name) {
            Some(i) => i,
            None => {
                names.push(t.name.clone());
                names.len() - 1
            }
        };
    }
    Some((mode, tasks, names))
}

/// The scenario mode and each task's JSON, with its path and (for the
/// LoadDensity map form) the method its key names.
fn scenario_shape(
    v: &mut Validator,
    at: &Position,
    tasks: &Value,
) -> Option<(Mode, Vec<TaskJson>)> {
    match tasks {
        Value::Object(m) if m.contains_key("tasks") || m.contains_key("mode") => {
            let s: ScenarioArg = typed_value(v, at, "args.tasks", tasks.clone())?;
            let mode = match s.mode.as_deref() {
                None | Some("sequence") => Mode::Sequence,
                Some("weighted") => Mode::Weighted,
                Some("conditional") => Mode::Conditional,
                Some(other) => {
                    // LoadDensity runs any other mode as a sequence.
                    v.warn(
                        Problem::new(
                            at.child("args.tasks.mode"),
                            format!("unknown mode {other:?} runs as \"sequence\""),
                        )
                        .hint("use sequence, weighted or conditional"),
                    );
                    Mode::Sequence
                }
            };
            let tasks = task_list(v, at, &s.tasks, "args.tasks.tasks")?;
            Some((mode, tasks))
        }
        other => Some((Mode::Sequence, task_list(v, at, other, "args.tasks")?)),
    }
}

/// A list of tasks, or LoadDensity's `{method: task}` map, each with its path
/// and (in the map form) the method its key names.
fn task_list(
    v: &mut Validator,
    at: &Position,
    tasks: &Value,
    prefix: &str,
) -> Option<Vec<TaskJson>> {
    match tasks {
        Value::Array(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, value)| TaskJson {
                    path: format!("{prefix}[{i}]"),
                    method_key: None,
                    value: value.clone(),
                    line: None,
                })
                .collect(),
        ),
        Value::Object(m) => Some(
            m.iter()
                .map(|(k, t)| TaskJson {
                    path: format!("{prefix}.{k}"),
                    method_key: Some(k.clone()),
                    value: t.clone(),
                    line: None,
                })
                .collect(),
        ),
        other => {
            v.problem(
                Problem::new(at.child(prefix), format!("tasks must be a list or an object, found {}", kind(other)))
                    .hint("e.g. \"tasks\": [{\"method\": \"get\", \"request_url\": \"http://127.0.0.1:8080/\"}]"),
            );
            None
        }
    }
}

/// What kind of JSON value `v` is, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Where the installed tool describes the task fields and the test's nested
/// settings (the plan schema's `$defs`).
pub(super) const TASKS_HINT: &str =
    "`loaddensity schema` describes every task field (`$defs.task`) and LD_start_test's settings";

/// Deserialises part of the arguments (at `path` under `at`) into `T`,
/// reporting the path of the first problem.
fn typed_value<T: DeserializeOwned>(
    v: &mut Validator,
    at: &Position,
    path: &str,
    value: Value,
) -> Option<T> {
    let problem = |e| {
        let mut p = serde_problem(START_TEST.name, at, path, None, e);
        let near = p
            .hint
            .as_deref()
            .and_then(|h| h.strip_prefix("did you mean "));
        let near = near.and_then(|h| h.split('?').next()).map(str::to_string);
        p.hint = Some(match near {
            Some(n) => format!("did you mean {n}? {TASKS_HINT}"),
            None => TASKS_HINT.to_string(),
        });
        p
    };
    match serde_path_to_error::deserialize::<_, T>(value.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            let more = unknown_field_path(&e);
            v.problem(problem(e));
            let mut value = value;
            if more.is_some_and(|first| remove_at(&mut value, &first)) {
                let (rest, cleaned) = other_unknown_fields::<T>(value, problem);
                for p in rest {
                    v.problem(p);
                }
                return cleaned;
            }
            None
        }
    }
}

/// Records the line of each task of `list` (a list or a `{method: task}`
/// map) under `prefix`; for a scenario object, returns its inner `tasks`.
fn add_lines<'s>(
    a: &Args<'s>,
    lines: &mut HashMap<String, usize>,
    prefix: &str,
    list: &'s RawValue,
) -> Option<&'s RawValue> {
    if let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list.get()) {
        for (i, t) in items.iter().enumerate() {
            if let Some(l) = a.src.line_of(t.get()) {
                lines.insert(format!("{prefix}[{i}]"), l);
            }
        }
    } else if let Ok(map) = serde_json::from_str::<IndexMap<String, &RawValue>>(list.get()) {
        if prefix == "args.tasks" && (map.contains_key("tasks") || map.contains_key("mode")) {
            return map.get("tasks").copied();
        }
        for (k, t) in &map {
            if let Some(l) = a.src.line_of(t.get()) {
                lines.insert(format!("{prefix}.{k}"), l);
            }
        }
    }
    None
}

/// The line of each task in the plan file, by its path under the action
/// (`args.tasks[1]`, `args.tasks.get`, `args.tasks.tasks[0]`), when the
/// arguments are written as an object.
fn task_lines(a: &Args<'_>) -> HashMap<String, usize> {
    #[derive(Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        tasks: Option<&'a RawValue>,
    }
    let mut lines = HashMap::new();
    let RawArgs::Keyword(raw) = a.raw else {
        return lines;
    };
    let Ok(Outer { tasks: Some(tasks) }) = serde_json::from_str::<Outer>(raw.get()) else {
        return lines;
    };
    if let Some(inner) = add_lines(a, &mut lines, "args.tasks", tasks) {
        add_lines(a, &mut lines, "args.tasks.tasks", inner);
    }
    lines
}

impl StartTest {
    /// Resolves what is fixed for the whole test and builds its engine plan.
    fn plan(&self, ctx: &mut Context) -> anyhow::Result<TestPlan> {
        let strict = self.strict || ctx.opts.strict;
        let saved = ctx.opts.strict;
        ctx.opts.strict = strict;
        let plan = self.plan_strict(ctx, strict);
        ctx.opts.strict = saved;
        plan
    }

    /// The sources this test's tasks read: its own (from their first row),
    /// else the registered ones.
    fn feeds(&self, ctx: &Context) -> BTreeMap<String, Arc<CsvFeed>> {
        let mut feeds: BTreeMap<String, Arc<CsvFeed>> = ctx.csv_sources.clone();
        for s in &self.csv_sources {
            feeds.insert(
                s.name.clone(),
                Arc::new(CsvFeed::for_segment(s, ctx.opts.segment)),
            );
        }
        feeds
    }

    fn plan_strict(&self, ctx: &mut Context, strict: bool) -> anyhow::Result<TestPlan> {
        let host = match &self.host {
            Some(h) => {
                let h = ctx.resolve_str(h)?;
                Url::parse(&h).map_err(|e| {
                    let shown = crate::http::url::redact_userinfo(&h);
                    anyhow::anyhow!("host {shown:?}: {e}")
                })?;
                Some(h)
            }
            None => Some(task::DEFAULT_HOST.to_string()),
        };
        let mut variables = Vars::default();
        for (k, val) in &self.variables {
            variables.set(k.clone(), ctx.resolve_value(val)?);
        }
        // Variables a user may set for itself: never folded.
        let per_user: BTreeSet<String> = self
            .tasks
            .iter()
            .flat_map(|t| t.extract.iter().map(|e| e.var.clone()))
            .collect();
        let mut tasks = self.tasks.clone();
        let ctx_conditioner = ctx.conditioner.clone();
        let feeds = self.feeds(ctx);
        {
            let mut scope = Scope::new(&ctx.vars, &mut ctx.rng)
                .with_user(&variables)
                .with_strict(strict);
            for t in &mut tasks {
                let used: BTreeSet<&str> = t
                    .templates()
                    .into_iter()
                    .flat_map(Template::lookups)
                    .filter_map(|p| match p {
                        Piece::Csv(source, _) => Some(source.as_str()),
                        _ => None,
                    })
                    .collect();
                // A source registered nowhere leaves its placeholders as text
                // (validation has refused a source no action registers).
                t.csv = used.iter().filter_map(|s| feeds.get(*s).cloned()).collect();
                let ctx_err = |e: resolver::ResolveError| anyhow::anyhow!("task {:?}: {e}", t.name);
                t.host = host.clone();
                if t.network.is_none() {
                    t.network.clone_from(&ctx_conditioner);
                }
                t.url = fold(&t.url, &mut scope, &per_user).map_err(ctx_err)?;
                for (_, h) in &mut t.headers {
                    *h = fold(h, &mut scope, &per_user).map_err(ctx_err)?;
                }
                for (_, p) in &mut t.params {
                    *p = fold(p, &mut scope, &per_user).map_err(ctx_err)?;
                }
                t.prepare_fixed();
            }
        }
        // One token bucket per throttle key, new each time the test runs;
        // a segment of a scaled-out run gets its share of the rate.
        let seg = ctx.opts.segment;
        let mut buckets: HashMap<String, Arc<TokenBucket>> = HashMap::new();
        let now = std::time::Instant::now();
        for t in &mut tasks {
            if let Some(spec) = &mut t.throttle {
                spec.rps = seg.rate(spec.rps);
                spec.burst = seg.rate(spec.burst).max(1.0);
                let b = buckets
                    .entry(spec.key.clone())
                    .or_insert_with(|| Arc::new(TokenBucket::new(spec, now)));
                t.bucket = Some(Arc::clone(b));
            }
        }
        // The default TLS settings read the system's trust store: once per
        // run, before the test, when a task may go to an https:// URL.
        let may_be_https = |t: &Task| {
            t.fixed
                .as_ref()
                .and_then(|p| p.url.as_ref())
                .is_none_or(|u| u.scheme == crate::http::Scheme::Https)
        };
        if tasks.iter().any(|t| t.tls.is_none() && may_be_https(t)) {
            crate::http::tls::system();
        }
        ctx.tests_started += 1;
        let arrival = self.arrival.clone().map(|a| segment::arrival(a, seg));
        Ok(TestPlan {
            // An arrival-rate test has as many users as it may start.
            users: arrival
                .as_ref()
                .map_or(seg.share(self.users), |a| a.max_users),
            arrival,
            spawn_rate: seg.rate(self.spawn_rate),
            duration: self.duration,
            iterations: self.iterations,
            wait: self.wait,
            stop_timeout: self.stop_timeout,
            scenario: Scenario::new(self.mode, tasks),
            names: self.names.clone(),
            variables,
            record_csv: match &self.record_csv {
                Some(p) => Some(reports::report_path(&ctx.resolve_str(p)?, "csv")),
                None => None,
            },
            retry_storm: self.retry_storm,
            proxies: self.proxy.make(|s| ctx.resolve_str(s))?,
            budget: ctx.budget_in_force(&self.failure_budget).map(|(c, _)| c),
            budget_is_default: matches!(
                ctx.budget_in_force(&self.failure_budget),
                Some((_, budget::Source::Default))
            ),
            seed: seg.seed(ctx.opts.seed),
            index: ctx.tests_started,
            workers: ctx.opts.workers,
            action: self.at.to_string(),
            strict,
            shape: self.shape.as_ref().map(|s| segment::shape(s, seg)),
        })
    }
}

impl Command for StartTest {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let plan = self.plan(ctx)?;
        if plan.users == 0 {
            ctx.ui.warn(&format!(
                "test {}: segment {} has none of its {} user(s); the other segments run them",
                plan.index, ctx.opts.segment, self.users
            ));
            return Ok(());
        }
        if let Some(p) = &plan.record_csv {
            ctx.request_logs.insert(plan.index, p.clone());
        }
        match &plan.arrival {
            None => {
                let users = match &plan.shape {
                    Some(s) => format!("load shape {} of up to {} user(s)", s.name(), plan.users),
                    None => format!("{} user(s)", plan.users),
                };
                ctx.ui.note(&format!(
                    "test {}: {users}, {} task(s), {}",
                    plan.index,
                    plan.scenario.tasks.len(),
                    match (plan.duration, plan.iterations) {
                        (Some(d), Some(n)) =>
                            format!("{:.1} s or {n} pass(es) per user", d.as_secs_f64()),
                        (Some(d), None) => format!("{:.1} s", d.as_secs_f64()),
                        (None, Some(n)) => format!("{n} pass(es) per user"),
                        (None, None) => "until stopped".to_string(),
                    }
                ));
            }
            Some(a) => ctx.ui.note(&format!(
                "test {}: {}, {} iteration(s) over {:.1} s, {} to {} user(s), {} task(s)",
                plan.index,
                a.executor,
                a.schedule.iterations(),
                a.schedule.duration().as_secs_f64(),
                a.pre_allocated_users,
                a.max_users,
                plan.scenario.tasks.len(),
            )),
        }
        if plan
            .scenario
            .tasks
            .iter()
            .any(|t| t.tls.as_ref().is_some_and(|t| t.verify_off))
        {
            ctx.ui.warn(&format!(
                "test {}: TLS certificates are not verified (verify: false): any server is trusted",
                plan.index
            ));
        }
        if let Some(p) = &plan.proxies {
            ctx.ui.note(&format!(
                "test {}: requests go through proxy {}",
                plan.index,
                p.describe()
            ));
        }
        let outcome = engine::run_test(
            &plan,
            &ctx.vars,
            &ctx.ui,
            &ctx.control,
            ctx.metrics.as_ref().map(|m| &*m.board),
        )?;
        let record = outcome.record;
        // The table, then why requests failed (nothing when none did).
        let width = crate::ui::stdout_width();
        let mut console =
            reports::render_table(&record.report.by_name, &record.report.total, width);
        console.push_str(&reports::render_errors(&record.report.by_name, width));
        ctx.ui.result(&console);
        let in_force = ctx.budget_in_force(&self.failure_budget);
        if let Some((cfg, source)) = &in_force {
            ctx.budget_armed(cfg, *source);
        }
        if let (Some(b), Some(trip)) = (&in_force, &outcome.trip) {
            ctx.budget_tripped(b, trip, plan.index, &record.report.total.top_errors);
        }
        no_data_check(ctx, plan.index, self.expect_requests, &record.report);
        generator_check(ctx, plan.index, &record.report.generator);
        if let Some(raw) = &record.report.total.latency_raw_ms {
            let c = &record.report.total.latency_ms;
            ctx.ui.note(&format!(
                "test {}: latency from the scheduled start (corrected) p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms; from the send (raw) p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms",
                plan.index, c.p50, c.p95, c.p99, raw.p50, raw.p95, raw.p99
            ));
        }
        ctx.records.push(record);
        if let Some(e) = outcome.log_error {
            // The test ran and its reports must still be written: the run
            // fails (exit 1) without stopping the actions that follow.
            ctx.ui.error(&format!(
                "LD_start_test: record_csv could not be written ({e}); its rows stop at the last whole row before the error"
            ));
            ctx.fail(
                crate::exit::Outcome::ActionFailed,
                format!("test {}: record_csv could not be written ({e})", plan.index),
            );
        }
        match outcome.panic {
            Some(p) => Err(anyhow::anyhow!(
                "a worker thread panicked ({p}); what was measured is kept"
            )),
            None => Ok(()),
        }
    }

    fn role(&self) -> Role {
        Role::Load
    }

    fn outputs(&self) -> Vec<std::path::PathBuf> {
        match &self.record_csv {
            Some(p) if !p.contains("${") => vec![reports::report_path(p, "csv")],
            _ => Vec::new(),
        }
    }

    /// Each user keeps one connection per origin its tasks go to.
    fn connections(&self) -> u64 {
        let origins: BTreeSet<String> = self.tasks.iter().map(|t| origin_key(&t.url)).collect();
        let users = self.arrival.as_ref().map_or(self.users, |a| a.max_users);
        users.saturating_mul(origins.len().max(1) as u64)
    }
}

/// No data is not a pass: a test that completed no request fails the run
/// (unless its plan expects that, or a watchdog or signal cut it short), and
/// many requests cut off by its end are worth a warning.
fn no_data_check(
    ctx: &mut Context,
    index: usize,
    expect_requests: bool,
    r: &crate::stats::TestReport,
) {
    use crate::stats::EndedBy;
    let (done, cut) = (r.total.requests, r.total.cancelled);
    let interrupted = matches!(r.ended_by, EndedBy::Watchdog | EndedBy::Signal);
    if done == 0 && expect_requests && !interrupted {
        let msg = format!(
            "test {index}: no request completed ({cut} cut off by the end of the test){}",
            if cut > 0 {
                ": the target may be hung, or slower than the test is long"
            } else {
                ""
            }
        );
        ctx.ui.error(&format!(
            "{msg}; a test that measures nothing does not pass"
        ));
        ctx.fail(crate::exit::Outcome::NoCompletedRequests, msg);
    } else if cut * 100 > done + cut && done + cut > 0 {
        ctx.ui.warn(&format!(
            "test {index}: {cut} of {} requests ({:.1}%) were cut off by the end of the test, not measured",
            done + cut,
            100.0 * cut as f64 / (done + cut) as f64
        ));
    }
}

/// What decides which connection a task's URL uses: its scheme and authority
/// as written (a placeholder there counts by its name), or the test's `host`
/// for a relative URL.
fn origin_key(url: &Template) -> String {
    let mut key = String::new();
    for piece in url.pieces() {
        match piece {
            Piece::Literal(text) => {
                let start = key.len();
                key.push_str(text);
                let from = key.find("://").map_or(start, |i| (i + 3).max(start));
                if let Some(slash) = key[from..].find(['/', '?']) {
                    key.truncate(from + slash);
                    return key;
                }
            }
            other => key.push_str(&format!("{other:?}")),
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::MAX_USERS;
    use crate::plan::testing::{built, one_problem, problems, valid, warnings, with};
    use serde_json::{json, Value};

    const URL: &str = "http://127.0.0.1:8080/";

    /// `LD_start_test`'s arguments: one valid task, then `extra`.
    fn args(extra: Value) -> Value {
        with(json!({"tasks": [{"request_url": URL}]}), extra)
    }

    #[track_caller]
    fn one(extra: Value, path: &str, msg: &str) {
        one_problem("LD_start_test", args(extra), path, msg);
    }

    /// The command these arguments build, as its `Debug` text.
    fn start_test(extra: Value) -> String {
        built("LD_start_test", args(extra))
    }

    #[test]
    fn user_count_must_be_at_least_one() {
        one(
            json!({"user_count": 0}),
            "actions[0].args.user_count",
            "user_count must be at least 1",
        );
        valid("LD_start_test", args(json!({"user_count": 1})));
        valid("LD_start_test", args(json!({"user_count": MAX_USERS})));
        one(
            json!({"user_count": MAX_USERS + 1}),
            "actions[0].args.user_count",
            "at most 1000000",
        );
    }

    #[test]
    fn spawn_rate_must_be_positive() {
        for rate in [json!(0), json!(-2.5)] {
            one(
                json!({ "spawn_rate": rate }),
                "actions[0].args.spawn_rate",
                "spawn_rate must be a positive number of users per second",
            );
        }
        valid("LD_start_test", args(json!({"spawn_rate": 0.5})));
        one(
            json!({"user_count": 10, "spawn_rate": 1e-300}),
            "actions[0].args.spawn_rate",
            "would start the last user more than 1e9 s after the test starts",
        );
    }

    #[test]
    fn test_time_must_be_positive_and_bounded() {
        for t in [json!(0), json!(-1), json!(2e9)] {
            one(
                json!({ "test_time": t }),
                "actions[0].args.test_time",
                "test_time must be a positive number of seconds (at most 1e9)",
            );
        }
    }

    #[test]
    fn test_time_defaults_to_a_minute_unless_iterations_bound_the_test() {
        assert!(start_test(json!({})).contains("duration: Some(60s), iterations: None"));
        assert!(
            start_test(json!({"iterations": 3})).contains("duration: None, iterations: Some(3)")
        );
        assert!(start_test(json!({"iterations": 3, "test_time": 2}))
            .contains("duration: Some(2s), iterations: Some(3)"));
        one(
            json!({"iterations": 0}),
            "actions[0].args.iterations",
            "iterations must be at least 1",
        );
    }

    #[test]
    fn stop_timeout_must_be_seconds() {
        one(
            json!({"stop_timeout": -1}),
            "actions[0].args.stop_timeout",
            "stop_timeout must be a number of seconds from 0 to 1e9",
        );
        assert!(start_test(json!({"stop_timeout": 0})).contains("stop_timeout: 0ns"));
    }

    #[test]
    fn wait_time_is_seconds_or_an_ordered_range() {
        assert!(start_test(json!({"wait_time": 0.5})).contains("wait: Constant(500ms)"));
        assert!(
            start_test(json!({"wait_time": {"between": [1, 2]}})).contains("wait: Between(1s, 2s)")
        );
        for w in [
            json!(-1),
            json!({"between": [2, 1]}),
            json!({"between": [-1, 1]}),
        ] {
            one(
                json!({ "wait_time": w }),
                "actions[0].args.wait_time",
                "wait_time must be seconds >= 0 or {\"between\": [a, b]} with 0 <= a <= b",
            );
        }
    }

    #[test]
    fn host_must_be_an_http_url_unless_it_is_resolved_later() {
        one(
            json!({"host": "ftp://example.com"}),
            "actions[0].args.host",
            "host: invalid URL: unsupported scheme \"ftp\"",
        );
        valid("LD_start_test", args(json!({"host": "${var.demo}"})));
        valid(
            "LD_start_test",
            args(json!({"host": "https://example.com:8443"})),
        );
    }

    #[test]
    fn variable_names_use_the_placeholder_alphabet() {
        one(
            json!({"variables": {"ok.name-1": 1, "not ok": 2}}),
            "actions[0].args.variables",
            "variable name \"not ok\" may only use A-Z a-z 0-9 _ . -",
        );
    }

    #[test]
    fn run_wide_retry_and_budget_fields_are_checked_in_place() {
        one(
            json!({"retry": {"jitter": 2}}),
            "actions[0].args.retry.jitter",
            "jitter must be a fraction from 0 to 1, found 2",
        );
        one(
            json!({"failure_budget": {"threshold": 1.5}}),
            "actions[0].args.failure_budget.threshold",
            "threshold must be a fraction from 0 to 1, found 1.5",
        );
        one(
            json!({"failure_budget": {"slow_call_ms": 100}}),
            "actions[0].args.failure_budget.slow_call_ms",
            "slow_call_ms and slow_call_threshold go together",
        );
    }

    #[test]
    fn a_retry_storm_budget_exists_only_when_a_task_retries() {
        assert!(start_test(json!({})).contains("retry_storm: None"));
        assert!(start_test(json!({"retry": {"transient": 1}}))
            .contains("retry_storm: Some(RetryBudgetConfig { ratio: 0.2, min_per_s: 3.0 })"));
        let custom = json!({"retry": {"retry_ratio": 0.5, "retry_min_per_s": 1}});
        assert!(start_test(custom)
            .contains("retry_storm: Some(RetryBudgetConfig { ratio: 0.5, min_per_s: 1.0 })"));
    }

    #[test]
    fn tasks_are_a_list_a_method_map_or_a_scenario() {
        let p = one_problem(
            "LD_start_test",
            json!({"tasks": "GET /"}),
            "actions[0].args.tasks",
            "tasks must be a list or an object, found a string",
        );
        assert!(p.hint.unwrap().starts_with("e.g. \"tasks\": [{"));
        one_problem(
            "LD_start_test",
            json!({"tasks": []}),
            "actions[0].args.tasks",
            "tasks is empty: give at least one task",
        );
        one_problem(
            "LD_start_test",
            json!({"tasks": {"mode": "sequence", "tasks": []}}),
            "actions[0].args.tasks",
            "tasks is empty",
        );
        let random = json!({"tasks": {"mode": "random", "tasks": [{"request_url": URL}]}});
        assert!(built("LD_start_test", random.clone()).contains("mode: Sequence"));
        assert_eq!(
            warnings("LD_start_test", random),
            ["actions[0].args.tasks.mode: unknown mode \"random\" runs as \"sequence\""]
        );
        let inner_map =
            json!({"tasks": {"mode": "weighted", "tasks": {"post": {"request_url": URL}}}});
        let plan = built("LD_start_test", inner_map);
        assert!(
            plan.contains("mode: Weighted") && plan.contains("method: Post"),
            "{plan}"
        );
        let map = json!({"tasks": {"post": {"request_url": URL}, "get": {"url": URL}}});
        let plan = built("LD_start_test", map);
        assert!(plan.contains("mode: Sequence"), "{plan}");
        assert!(plan.contains("method: Post"), "{plan}");
        let weighted = json!({"tasks": {"mode": "weighted", "tasks": [{"request_url": URL}]}});
        let plan = built("LD_start_test", weighted);
        assert!(plan.contains("mode: Weighted"), "{plan}");
    }

    #[test]
    fn tasks_with_one_name_share_a_statistics_slot() {
        let a = json!({"tasks": [
            {"request_url": "http://h/a"}, {"request_url": "http://h/b"}, {"request_url": "http://h/a?x=1"}
        ]});
        let plan = built("LD_start_test", a);
        assert!(plan.contains("names: [\"/a\", \"/b\"]"), "{plan}");
        let slots: Vec<&str> = plan
            .match_indices("slot: ")
            .map(|(i, _)| &plan[i + 6..i + 7])
            .collect();
        assert_eq!(slots, ["0", "1", "0"]);
    }

    #[test]
    fn every_problem_of_the_test_and_its_tasks_is_reported() {
        let found = problems(
            "LD_start_test",
            json!({"user_count": 0, "tasks": [{"request_url": URL, "timeout": 0}, {"method": "fetch", "url": URL}]}),
        );
        let paths: Vec<&str> = found.iter().map(|p| p.at.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "actions[0].args.user_count",
                "actions[0].args.tasks[0].timeout",
                "actions[0].args.tasks[1].method",
            ]
        );
    }

    #[test]
    fn loaddensitys_base_url_may_sit_in_user_detail_dict() {
        let rel = json!([{"request_url": "/x"}]);
        for key in ["host", "base_url"] {
            let a = json!({"user_detail_dict": {"user": "http3_user", key: URL}, "tasks": rel});
            assert!(built("LD_start_test", a.clone())
                .contains("host: Some(\"http://127.0.0.1:8080/\")"));
            assert!(warnings("LD_start_test", a).is_empty());
        }
        one_problem(
            "LD_start_test",
            json!({"host": URL, "user_detail_dict": {"base_url": "http://127.0.0.1:9/"}, "tasks": rel}),
            "actions[0].args.user_detail_dict.base_url",
            "\"http://127.0.0.1:9/\" differs from the base URL \"http://127.0.0.1:8080/\" given before",
        );
        one_problem(
            "LD_start_test",
            json!({"user_detail_dict": {"user": "grpc_user"}, "tasks": rel}),
            "actions[0].args.user_detail_dict.user",
            "unknown variant `grpc_user`",
        );
    }

    #[test]
    fn loaddensitys_positional_order_puts_runner_mode_sixth() {
        let a = json!([{"user": "fast_http_user"}, "5", 2.0, 1, null, "local", "*", 5557, "127.0.0.1", 5557, 0, [{"request_url": URL}]]);
        let plan = built("LD_start_test", a);
        assert!(plan.contains("users: 5, spawn_rate: 2.0"), "{plan}");
        one_problem(
            "LD_start_test",
            json!([{}, 1, 1, 1, null, "cluster", "*", 1, "h", 1, 0, [{"request_url": URL}]]),
            "actions[0].args.runner_mode",
            "unknown variant `cluster`, expected one of `local`, `master`, `worker`",
        );
    }

    #[test]
    fn differing_base_urls_hide_their_passwords() {
        let p = one_problem(
            "LD_start_test",
            json!({"host": URL, "user_detail_dict": {"base_url": "http://admin:hunter2@127.0.0.1:9/"},
                   "tasks": [{"request_url": "/x"}]}),
            "actions[0].args.user_detail_dict.base_url",
            "differs from the base URL",
        );
        assert!(!p.message.contains("hunter2"), "{p}");
    }

    #[test]
    fn session_placeholders_read_only_what_a_user_holds() {
        let plan = |header: &str| {
            json!([
                ["LD_register_variable", {"name": "token", "value": "t"}],
                ["LD_start_test", {"variables": {"mine": 1}, "tasks": [
                    {"request_url": URL, "headers": {"X": header}}
                ]}]
            ])
            .to_string()
        };
        let w = crate::plan::warnings_str(&plan("${session.token}"));
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(
            w[0].message.contains("`${session.token}` is never defined"),
            "{}",
            w[0]
        );
        assert!(crate::plan::warnings_str(&plan("${var.token}")).is_empty());
        assert!(crate::plan::warnings_str(&plan("${session.mine}")).is_empty());
    }
}
