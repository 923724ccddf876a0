//! `LD_start_test`: the main job. Arguments keep LoadDensity's names; tasks are
//! a list, a LoadDensity `{"get": {...}, "post": {...}}` map, or a scenario
//! `{"mode": ..., "tasks": [...]}`. Everything is checked before the run;
//! templates are compiled once and folded against the plan's variables when
//! the test starts.

use crate::budget::BudgetConfig;
use crate::conditioner::{Conditioner, ConditionerArg};
use crate::engine::check::{Assertions, Extract, Source as ExtractSource};
use crate::engine::scenario::{Mode, Predicate, Scenario};
use crate::engine::task::{Body, Task};
use crate::engine::{self, TestPlan, Wait};
use crate::http::{Method, Url};
use crate::interpreter::Context;
use crate::plan::validate::{serde_problem, Args, Validator};
use crate::plan::{Position, Problem};
use crate::registry::{Command, CommandSpec, Param, Role};
use crate::reports;
use crate::resolver::{self, fold, valid_var_name, CompiledValue, Scope, Template, Vars};
use crate::retry::{policy, Policy, RetryArg};
use crate::units;
use indexmap::IndexMap;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;

pub const START_TEST: CommandSpec = CommandSpec {
    name: "LD_start_test",
    summary: "Run HTTP load: users running tasks for a time or a number of passes",
    params: &[
        Param { name: "user_detail_dict", kind: "object", required: false, doc: "`{\"user\": \"fast_http_user\" | \"http_user\"}`; both use the same engine." },
        Param { name: "user_count", kind: "number = 50", required: false, doc: "Concurrent users (>= 1)." },
        Param { name: "spawn_rate", kind: "number = 10", required: false, doc: "Users started per second (> 0)." },
        Param { name: "test_time", kind: "number = 60", required: false, doc: "Seconds to run (> 0). Without it and with `iterations`, users stop after their passes." },
        Param { name: "web_ui_dict", kind: "object", required: false, doc: "Accepted for LoadDensity plans and ignored (there is no web UI)." },
        Param { name: "tasks", kind: "list | object", required: true, doc: "The tasks: a list, a `{method: task}` map, or `{\"mode\": ..., \"tasks\": [...]}` (see below)." },
        Param { name: "variables", kind: "object", required: false, doc: "Each user's starting variables (`${var.NAME}`), private to that user." },
        Param { name: "host", kind: "string", required: false, doc: "Base URL for relative task URLs, e.g. `http://127.0.0.1:8080`." },
        Param { name: "iterations", kind: "number", required: false, doc: "Passes per user; the test ends when every user is done (or at `test_time`)." },
        Param { name: "wait_time", kind: "number | object", required: false, doc: "Think time after each task: seconds, or `{\"between\": [a, b]}`." },
        Param { name: "stop_timeout", kind: "number = 5", required: false, doc: "Seconds in-flight requests get once the test stops." },
        Param { name: "record_csv", kind: "string", required: false, doc: "Stream one CSV row per request to this file (`.csv` appended) during the test." },
        Param { name: "retry", kind: "object", required: false, doc: "Run-wide retry policy for every task (a task's own `retry` overrides it field by field); see `Retry`." },
        Param { name: "failure_budget", kind: "object", required: false, doc: "A failure budget for this test only, over an installed one (same fields as LD_install_failure_budget)." },
    ],
    parse: parse_start_test,
};

/// Default `test_time` when neither it nor `iterations` is given (LoadDensity's).
const DEFAULT_TEST_TIME: f64 = 60.0;
/// Default per-request timeout.
const DEFAULT_TIMEOUT_S: f64 = 30.0;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartTestArgs {
    #[serde(default = "default_users")]
    user_count: u64,
    #[serde(default = "default_spawn_rate")]
    spawn_rate: f64,
    test_time: Option<f64>,
    tasks: Value,
    #[serde(default)]
    variables: Map<String, Value>,
    #[allow(dead_code)]
    user_detail_dict: Option<UserDetail>,
    #[allow(dead_code)]
    web_ui_dict: Option<IgnoredAny>,
    host: Option<String>,
    iterations: Option<u64>,
    wait_time: Option<WaitArg>,
    #[serde(default = "default_stop_timeout")]
    stop_timeout: f64,
    record_csv: Option<String>,
    retry: Option<RetryArg>,
    failure_budget: Option<BudgetConfig>,
}

fn default_users() -> u64 {
    50
}
fn default_spawn_rate() -> f64 {
    10.0
}
fn default_stop_timeout() -> f64 {
    5.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserDetail {
    #[allow(dead_code)]
    user: UserKind,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum UserKind {
    FastHttpUser,
    HttpUser,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WaitArg {
    Seconds(f64),
    Between { between: (f64, f64) },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioArg {
    #[serde(default)]
    mode: ModeArg,
    tasks: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
enum ModeArg {
    #[default]
    Sequence,
    Weighted,
    Conditional,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskArg {
    #[serde(alias = "request_method")]
    method: Option<String>,
    request_url: Option<String>,
    url: Option<String>,
    name: Option<String>,
    #[serde(default)]
    headers: IndexMap<String, String>,
    #[serde(default)]
    params: IndexMap<String, Scalar>,
    json: Option<Value>,
    data: Option<Value>,
    timeout: Option<f64>,
    auth: Option<AuthArg>,
    #[serde(default)]
    assertions: AssertionsArg,
    #[serde(default)]
    extract: Vec<ExtractArg>,
    weight: Option<u32>,
    run_if: Option<Value>,
    skip_if: Option<Value>,
    retry: Option<RetryArg>,
    network: Option<ConditionerArg>,
}

/// A query parameter value: string, number or boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    N(serde_json::Number),
    B(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::S(s) => s.clone(),
            Scalar::N(n) => n.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum AuthArg {
    Basic { username: String, password: String },
    Bearer { token: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AssertionsArg {
    status_code: Option<OneOrMany<u16>>,
    contains: Option<OneOrMany<String>>,
    not_contains: Option<OneOrMany<String>>,
    #[serde(default)]
    json_path: IndexMap<String, Value>,
    #[serde(default)]
    header: IndexMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtractArg {
    var: String,
    from: ExtractFrom,
    path: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ExtractFrom {
    JsonPath,
    Header,
    StatusCode,
}

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
    retry_storm: Option<(f64, f64)>,
    /// This test's own failure budget (over an installed one).
    failure_budget: Option<BudgetConfig>,
}

fn parse_start_test(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let args = v.typed::<StartTestArgs>(a)?;
    let before = v.problem_count();
    let at = &a.at;
    let bad =
        |v: &mut Validator, path: &str, msg: String| v.problem(Problem::new(at.child(path), msg));
    if args.user_count == 0 {
        bad(v, "args.user_count", "user_count must be at least 1".into());
    }
    if !(args.spawn_rate > 0.0 && args.spawn_rate.is_finite()) {
        bad(
            v,
            "args.spawn_rate",
            "spawn_rate must be a positive number of users per second".into(),
        );
    }
    if let Some(t) = args.test_time {
        if !(t > 0.0 && units::valid_seconds(t)) {
            bad(
                v,
                "args.test_time",
                "test_time must be a positive number of seconds (at most 1e9)".into(),
            );
        }
    }
    if args.iterations == Some(0) {
        bad(v, "args.iterations", "iterations must be at least 1".into());
    }
    if !units::valid_seconds(args.stop_timeout) {
        bad(
            v,
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
                v,
                "args.wait_time",
                "wait_time must be seconds >= 0 or {\"between\": [a, b]} with 0 <= a <= b".into(),
            );
            Wait::None
        }
    };
    if let Some(h) = &args.host {
        if !h.contains("${") {
            if let Err(e) = Url::parse(h) {
                bad(v, "args.host", format!("host: {e}"));
            }
        }
    }
    for k in args.variables.keys().filter(|k| !valid_var_name(k)) {
        bad(
            v,
            "args.variables",
            format!("variable name {k:?} may only use A-Z a-z 0-9 _ . -"),
        );
    }
    if let Some(r) = &args.retry {
        v.field_problems(at, "args.retry", r.problems(true));
    }
    if let Some(b) = &args.failure_budget {
        v.field_problems(at, "args.failure_budget", b.problems());
    }
    let (mode, task_values) = scenario_shape(v, at, &args.tasks)?;
    if task_values.is_empty() {
        bad(
            v,
            "args.tasks",
            "tasks is empty: give at least one task".into(),
        );
    }
    let mut tasks = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, (path, method_key, value)) in task_values.into_iter().enumerate() {
        let tat = at.child(&path);
        if let Some(t) = compile_task(
            v,
            &tat,
            method_key,
            value,
            args.host.is_some(),
            mode,
            i,
            args.retry.as_ref(),
        ) {
            tasks.push(t);
        }
    }
    for t in &mut tasks {
        t.slot = match names.iter().position(|n| *n == t.name) {
            Some(i) => i,
            None => {
                names.push(t.name.clone());
                names.len() - 1
            }
        };
    }
    if v.problem_count() != before {
        return None;
    }
    let duration = match (args.test_time, args.iterations) {
        (Some(t), _) => Some(units::secs(t)),
        (None, Some(_)) => None,
        (None, None) => Some(units::secs(DEFAULT_TEST_TIME)),
    };
    let retry_storm = tasks.iter().any(|t| t.retry.is_some()).then(|| {
        let r = args.retry.clone().unwrap_or_default();
        (
            r.retry_ratio.unwrap_or(policy::DEFAULT_RETRY_RATIO),
            r.retry_min_per_s.unwrap_or(policy::DEFAULT_RETRY_MIN_PER_S),
        )
    });
    Some(Box::new(StartTest {
        at: a.at.clone(),
        users: args.user_count,
        spawn_rate: args.spawn_rate,
        duration,
        iterations: args.iterations,
        wait,
        stop_timeout: units::secs(args.stop_timeout),
        mode,
        tasks,
        names,
        host: args.host,
        variables: args.variables,
        record_csv: args.record_csv,
        retry_storm,
        failure_budget: args.failure_budget,
    }))
}

type TaskValue = (String, Option<String>, Value);

/// The scenario mode and each task's JSON, with its path and (for the
/// LoadDensity map form) the method its key names.
fn scenario_shape(
    v: &mut Validator,
    at: &Position,
    tasks: &Value,
) -> Option<(Mode, Vec<TaskValue>)> {
    let list = |items: Vec<Value>, prefix: &str| -> Vec<TaskValue> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, t)| (format!("{prefix}[{i}]"), None, t))
            .collect()
    };
    match tasks {
        Value::Array(items) => Some((Mode::Sequence, list(items.clone(), "args.tasks"))),
        Value::Object(m) if m.contains_key("tasks") || m.contains_key("mode") => {
            let s: ScenarioArg = typed_value(v, at, "args.tasks", tasks.clone())?;
            let mode = match s.mode {
                ModeArg::Sequence => Mode::Sequence,
                ModeArg::Weighted => Mode::Weighted,
                ModeArg::Conditional => Mode::Conditional,
            };
            Some((mode, list(s.tasks, "args.tasks.tasks")))
        }
        Value::Object(m) => Some((
            Mode::Sequence,
            m.iter()
                .map(|(k, t)| (format!("args.tasks.{k}"), Some(k.clone()), t.clone()))
                .collect(),
        )),
        other => {
            v.problem(
                Problem::new(at.child("args.tasks"), format!("tasks must be a list or an object, found {}", kind(other)))
                    .hint("e.g. \"tasks\": [{\"method\": \"get\", \"request_url\": \"http://127.0.0.1:8080/\"}]"),
            );
            None
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Deserialises a JSON value into `T`, reporting the path of the first problem.
fn typed_value<T: DeserializeOwned>(
    v: &mut Validator,
    at: &Position,
    path: &str,
    value: Value,
) -> Option<T> {
    serde_path_to_error::deserialize::<_, T>(value)
        .map_err(|e| {
            v.problem(
                serde_problem(START_TEST.name, at, path, None, e)
                    .hint("see `Tasks` in docs/commands.md"),
            );
        })
        .ok()
}

fn template(v: &mut Validator, at: &Position, path: &str, s: &str) -> Template {
    match Template::parse(s) {
        Ok(t) => t,
        Err(e) => {
            v.problem(Problem::new(at.child(path), e.to_string()));
            Template::default()
        }
    }
}

fn compiled(v: &mut Validator, at: &Position, path: &str, value: &Value) -> CompiledValue {
    match CompiledValue::compile(value) {
        Ok(c) => c,
        Err(errs) => {
            for (p, e) in errs {
                v.problem(Problem::new(at.child(&format!("{path}{p}")), e.to_string()));
            }
            CompiledValue::compile(&Value::Null).expect("null compiles")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_task(
    v: &mut Validator,
    at: &Position,
    method_key: Option<String>,
    value: Value,
    has_host: bool,
    mode: Mode,
    index: usize,
    run_retry: Option<&RetryArg>,
) -> Option<Task> {
    let t: TaskArg = typed_value(v, at, "", value)?;
    if let Some(r) = &t.retry {
        v.field_problems(at, "retry", r.problems(false));
    }
    let network = match t.network.as_ref().map(Conditioner::compile) {
        None => None,
        Some(Ok(c)) => Some(std::sync::Arc::new(c)),
        Some(Err(problems)) => {
            v.field_problems(at, "network", problems);
            None
        }
    };
    let retry = match (&t.retry, run_retry) {
        (None, None) => None,
        (Some(own), Some(run)) => Some(Policy::from_arg(&own.over(run))),
        (Some(one), None) | (None, Some(one)) => Some(Policy::from_arg(one)),
    };
    let method_name = t.method.or(method_key).unwrap_or_else(|| "get".to_string());
    let Some(method) = Method::parse(&method_name) else {
        v.problem(
            Problem::new(
                at.child("method"),
                format!("unknown method `{method_name}`"),
            )
            .hint("use get, post, put, patch, delete, head or options"),
        );
        return None;
    };
    let url_text = match (t.request_url, t.url) {
        (Some(u), None) | (None, Some(u)) => u,
        (Some(_), Some(_)) => {
            v.problem(Problem::new(
                at.child("url"),
                "give `request_url` or `url`, not both",
            ));
            return None;
        }
        (None, None) => {
            v.problem(Problem::new(
                at.clone(),
                "a task needs `request_url` (or `url`)",
            ));
            return None;
        }
    };
    let url = template(v, at, "request_url", &url_text);
    if let Some(u) = url.as_constant() {
        if u.starts_with("http://") || u.starts_with("https://") {
            if let Err(e) = Url::parse(u) {
                v.problem(Problem::new(at.child("request_url"), e.to_string()));
            }
        } else if !has_host {
            v.problem(
                Problem::new(
                    at.child("request_url"),
                    format!("relative URL {u:?} needs `host`"),
                )
                .hint("set LD_start_test's `host`, or write an absolute http:// URL"),
            );
        }
    }
    if mode == Mode::Weighted && t.weight == Some(0) {
        v.problem(Problem::new(
            at.child("weight"),
            "weight must be at least 1",
        ));
    }
    let timeout = t.timeout.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(timeout > 0.0 && units::valid_seconds(timeout)) {
        v.problem(Problem::new(
            at.child("timeout"),
            "timeout must be a positive number of seconds",
        ));
    }
    if t.json.is_some() && t.data.is_some() {
        v.problem(Problem::new(
            at.child("json"),
            "give `json` or `data`, not both",
        ));
    }
    let mut headers: Vec<(String, Template)> = t
        .headers
        .iter()
        .map(|(k, val)| (k.clone(), template(v, at, &format!("headers.{k}"), val)))
        .collect();
    if t.auth.is_some()
        && t.headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("authorization"))
    {
        v.problem(Problem::new(
            at.child("auth"),
            "give `auth` or an Authorization header, not both",
        ));
    }
    for e in &t.extract {
        if !valid_var_name(&e.var) {
            v.problem(Problem::new(
                at.child("extract"),
                format!("variable name {:?} may only use A-Z a-z 0-9 _ . -", e.var),
            ));
        }
    }
    match &t.auth {
        None => {}
        Some(AuthArg::Bearer { token }) => {
            headers.push((
                "Authorization".into(),
                template(v, at, "auth.token", &format!("Bearer {token}")),
            ));
        }
        Some(AuthArg::Basic { username, password }) => {
            let creds = resolver::escape(&base64(format!("{username}:{password}").as_bytes()));
            if username.contains("${") || password.contains("${") {
                v.problem(Problem::new(
                    at.child("auth"),
                    "basic auth credentials cannot use ${...}; use a header instead",
                ));
            }
            headers.push((
                "Authorization".into(),
                template(v, at, "auth", &format!("Basic {creds}")),
            ));
        }
    }
    let params = t
        .params
        .iter()
        .map(|(k, s)| {
            (
                k.clone(),
                template(v, at, &format!("params.{k}"), &s.text()),
            )
        })
        .collect();
    let body = match (&t.json, &t.data) {
        (Some(j), _) => Body::Json(compiled(v, at, "json", j)),
        (None, Some(Value::String(s))) => Body::Raw(template(v, at, "data", s)),
        (None, Some(Value::Object(m))) => Body::Form(
            m.iter()
                .map(|(k, val)| {
                    let text = match val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), template(v, at, &format!("data.{k}"), &text))
                })
                .collect(),
        ),
        (None, Some(other)) => {
            v.problem(Problem::new(
                at.child("data"),
                format!("data must be a string or an object, found {}", kind(other)),
            ));
            Body::None
        }
        (None, None) => Body::None,
    };
    let a = t.assertions;
    let assertions = Assertions {
        status_code: a.status_code.map(OneOrMany::into_vec),
        contains: a
            .contains
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|s| template(v, at, "assertions.contains", s))
            .collect(),
        not_contains: a
            .not_contains
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
            .iter()
            .map(|s| template(v, at, "assertions.not_contains", s))
            .collect(),
        json_path: a
            .json_path
            .iter()
            .map(|(p, val)| {
                (
                    p.clone(),
                    compiled(v, at, &format!("assertions.json_path.{p}"), val),
                )
            })
            .collect(),
        header: a
            .header
            .iter()
            .map(|(n, val)| {
                (
                    n.clone(),
                    template(v, at, &format!("assertions.header.{n}"), val),
                )
            })
            .collect(),
    };
    let mut extract = Vec::new();
    for (i, e) in t.extract.into_iter().enumerate() {
        let from = match (e.from, e.path, e.name) {
            (ExtractFrom::JsonPath, Some(p), None) => ExtractSource::JsonPath(p),
            (ExtractFrom::Header, None, Some(n)) => ExtractSource::Header(n),
            (ExtractFrom::StatusCode, None, None) => ExtractSource::StatusCode,
            _ => {
                v.problem(
                    Problem::new(at.child(&format!("extract[{i}]")), "extract needs `path` with json_path, `name` with header, and neither with status_code"),
                );
                continue;
            }
        };
        extract.push(Extract { var: e.var, from });
    }
    let predicate = |v: &mut Validator, field: &str, p: &Option<Value>| -> Option<Predicate> {
        let p = p.as_ref()?;
        match Predicate::compile(p) {
            Ok(p) => Some(p),
            Err(e) => {
                v.problem(Problem::new(at.child(field), e));
                None
            }
        }
    };
    let run_if = predicate(v, "run_if", &t.run_if);
    let skip_if = predicate(v, "skip_if", &t.skip_if);
    let name = t.name.unwrap_or_else(|| default_name(&url_text, index));
    Some(Task {
        name,
        slot: 0,
        method,
        host: None,
        url,
        params,
        headers,
        body,
        timeout: units::secs(timeout),
        assertions,
        extract,
        weight: t.weight.unwrap_or(1),
        run_if,
        skip_if,
        fixed: None,
        retry,
        network,
    })
}

/// A task's default statistics name: its URL's path, without scheme, host or a
/// leading `${var.X}` base.
fn default_name(url: &str, index: usize) -> String {
    let mut rest = url;
    for scheme in ["http://", "https://"] {
        if let Some(r) = rest.strip_prefix(scheme) {
            rest = r.find('/').map_or("/", |i| &r[i..]);
        }
    }
    if rest.starts_with("${") {
        if let Some(end) = rest.find('}') {
            rest = &rest[end + 1..];
        }
    }
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        if url.is_empty() {
            format!("task {index}")
        } else {
            "/".to_string()
        }
    } else {
        path.to_string()
    }
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

impl StartTest {
    /// Resolves what is fixed for the whole test and builds its engine plan.
    fn plan(&self, ctx: &mut Context) -> anyhow::Result<TestPlan> {
        let host = match &self.host {
            Some(h) => {
                let h = ctx.resolve_str(h)?;
                Url::parse(&h).map_err(|e| anyhow::anyhow!("host {h:?}: {e}"))?;
                Some(h)
            }
            None => None,
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
        {
            let mut scope = Scope::new(&ctx.vars, &mut ctx.rng).with_user(&variables);
            for t in &mut tasks {
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
        ctx.tests_started += 1;
        Ok(TestPlan {
            users: self.users,
            spawn_rate: self.spawn_rate,
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
            budget: self
                .failure_budget
                .clone()
                .or_else(|| ctx.budget_in_force()),
            seed: ctx.opts.seed,
            index: ctx.tests_started,
            action: self.at.to_string(),
        })
    }
}

impl Command for StartTest {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let plan = self.plan(ctx)?;
        ctx.ui.note(&format!(
            "test {}: {} user(s), {} task(s), {}",
            plan.index,
            plan.users,
            plan.scenario.tasks.len(),
            match (plan.duration, plan.iterations) {
                (Some(d), Some(n)) => format!("{:.1} s or {n} pass(es) per user", d.as_secs_f64()),
                (Some(d), None) => format!("{:.1} s", d.as_secs_f64()),
                (None, Some(n)) => format!("{n} pass(es) per user"),
                (None, None) => "until stopped".to_string(),
            }
        ));
        let outcome = engine::run_test(&plan, &ctx.vars, &ctx.ui, &ctx.control)?;
        let record = outcome.record;
        ctx.ui.result(&reports::render_table(
            &record.report.by_name,
            &record.report.total,
        ));
        if let Some(cfg) = &plan.budget {
            ctx.budget_armed(cfg);
        }
        if let (Some(cfg), Some(trip)) = (&plan.budget, &outcome.trip) {
            ctx.budget_tripped(cfg, trip, plan.index, &record.report.total.top_errors);
        }
        ctx.records.push(record);
        match outcome.panic {
            Some(p) => Err(anyhow::anyhow!(
                "a user thread panicked ({p}); what was measured is kept"
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(default_name("http://127.0.0.1:8080/a/b?x=1", 0), "/a/b");
        assert_eq!(default_name("http://127.0.0.1:8080", 0), "/");
        assert_eq!(default_name("${var.demo}/ok", 0), "/ok");
        assert_eq!(default_name("/json", 0), "/json");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
