//! `LD_start_test`'s arguments as written: the serde types a plan's JSON is
//! read into before anything is checked.

use crate::budget::BudgetConfig;
use crate::conditioner::ConditionerArg;
use crate::engine::scenario::Mode;
use crate::retry::RetryArg;
use indexmap::IndexMap;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `LD_start_test`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StartTestArgs {
    #[serde(default = "default_users")]
    pub(super) user_count: u64,
    #[serde(default = "default_spawn_rate")]
    pub(super) spawn_rate: f64,
    pub(super) test_time: Option<f64>,
    pub(super) tasks: Value,
    #[serde(default)]
    pub(super) variables: Map<String, Value>,
    #[allow(dead_code)]
    user_detail_dict: Option<UserDetail>,
    #[allow(dead_code)]
    web_ui_dict: Option<IgnoredAny>,
    pub(super) host: Option<String>,
    pub(super) iterations: Option<u64>,
    pub(super) wait_time: Option<WaitArg>,
    #[serde(default = "default_stop_timeout")]
    pub(super) stop_timeout: f64,
    pub(super) record_csv: Option<String>,
    #[serde(default = "default_max_body_bytes")]
    pub(super) max_body_bytes: u64,
    pub(super) retry: Option<RetryArg>,
    pub(super) failure_budget: Option<BudgetConfig>,
    #[serde(default)]
    pub(super) csv_sources: Vec<crate::data_source::SourceArg>,
    #[serde(default)]
    pub(super) strict: bool,
}

// The defaults START_TEST's params document (`number = 50`, ...); a test in
// `commands` fails if a documented default and the parsed one differ.
fn default_users() -> u64 {
    50
}
fn default_spawn_rate() -> f64 {
    10.0
}
fn default_stop_timeout() -> f64 {
    5.0
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
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

/// `wait_time`: seconds, or `{"between": [a, b]}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum WaitArg {
    Seconds(f64),
    Between { between: (f64, f64) },
}

/// The scenario form of `tasks`: `{"mode": ..., "tasks": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioArg {
    #[serde(default)]
    pub(super) mode: ModeArg,
    pub(super) tasks: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(super) enum ModeArg {
    #[default]
    Sequence,
    Weighted,
    Conditional,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Sequence => Mode::Sequence,
            ModeArg::Weighted => Mode::Weighted,
            ModeArg::Conditional => Mode::Conditional,
        }
    }
}

/// One task as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskArg {
    #[serde(alias = "request_method")]
    pub(super) method: Option<String>,
    pub(super) request_url: Option<String>,
    pub(super) url: Option<String>,
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) headers: IndexMap<String, String>,
    #[serde(default)]
    pub(super) params: IndexMap<String, Scalar>,
    pub(super) json: Option<Value>,
    pub(super) data: Option<Value>,
    pub(super) timeout: Option<f64>,
    pub(super) auth: Option<AuthArg>,
    #[serde(default)]
    pub(super) assertions: AssertionsArg,
    #[serde(default)]
    pub(super) extract: Vec<ExtractArg>,
    pub(super) weight: Option<u32>,
    pub(super) run_if: Option<Value>,
    pub(super) skip_if: Option<Value>,
    pub(super) retry: Option<RetryArg>,
    pub(super) network: Option<ConditionerArg>,
    pub(super) max_body_bytes: Option<u64>,
}

/// A query parameter value: string, number or boolean.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Scalar {
    S(String),
    N(serde_json::Number),
    B(bool),
}

impl Scalar {
    pub(super) fn text(&self) -> String {
        match self {
            Scalar::S(s) => s.clone(),
            Scalar::N(n) => n.to_string(),
            Scalar::B(b) => b.to_string(),
        }
    }
}

/// A task's `auth`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(super) enum AuthArg {
    Basic { username: String, password: String },
    Bearer { token: String },
}

/// One value or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub(super) fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A task's `assertions`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AssertionsArg {
    pub(super) status_code: Option<OneOrMany<u16>>,
    pub(super) contains: Option<OneOrMany<String>>,
    pub(super) not_contains: Option<OneOrMany<String>>,
    #[serde(default)]
    pub(super) json_path: IndexMap<String, Value>,
    #[serde(default)]
    pub(super) header: IndexMap<String, String>,
}

/// One entry of a task's `extract`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtractArg {
    pub(super) var: String,
    /// LoadDensity's default source is the JSON body.
    #[serde(default)]
    pub(super) from: ExtractFrom,
    pub(super) path: Option<String>,
    pub(super) name: Option<String>,
    /// Only `session` (the user's own variables, which is also the default).
    #[allow(dead_code)]
    pub(super) scope: Option<ExtractScope>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub(super) enum ExtractFrom {
    #[default]
    JsonPath,
    Header,
    StatusCode,
}

/// Where an extracted value is stored: the user's own variables, read by
/// `${session.NAME}` and `${var.NAME}` alike.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ExtractScope {
    Session,
}
