//! `LD_start_test`'s arguments as written: the serde types a plan's JSON is
//! read into before anything is checked.

use crate::budget::BudgetConfig;
use crate::conditioner::ConditionerArg;
use crate::retry::RetryArg;
use indexmap::IndexMap;
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// `LD_start_test`'s arguments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StartTestArgs {
    #[serde(
        default = "default_users",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub(super) user_count: u64,
    #[serde(
        default = "default_spawn_rate",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub(super) spawn_rate: f64,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) test_time: Option<f64>,
    pub(super) tasks: Value,
    #[serde(default)]
    pub(super) variables: Map<String, Value>,
    pub(super) user_detail_dict: Option<UserDetail>,
    #[allow(dead_code)]
    web_ui_dict: Option<IgnoredAny>,
    /// LoadDensity's distributed mode: `local` (the default) runs here.
    pub(super) runner_mode: Option<RunnerMode>,
    // LoadDensity's master/worker settings: accepted, used by no mode here.
    #[allow(dead_code)]
    master_bind_host: Option<IgnoredAny>,
    #[allow(dead_code)]
    master_bind_port: Option<IgnoredAny>,
    #[allow(dead_code)]
    master_host: Option<IgnoredAny>,
    #[allow(dead_code)]
    master_port: Option<IgnoredAny>,
    #[allow(dead_code)]
    expected_workers: Option<IgnoredAny>,
    /// LoadDensity's choice of Locust engine: accepted, ignored.
    #[allow(dead_code)]
    engine: Option<EngineArg>,
    /// LoadDensity's load shapes (`stages`, `spike`, `soak`) and their settings.
    pub(super) load_shape: Option<Value>,
    pub(super) shape_config: Option<Value>,
    pub(super) host: Option<String>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) iterations: Option<u64>,
    pub(super) wait_time: Option<WaitArg>,
    #[serde(
        default = "default_stop_timeout",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub(super) stop_timeout: f64,
    pub(super) record_csv: Option<String>,
    #[serde(
        default = "default_max_body_bytes",
        deserialize_with = "crate::plan::lenient::num"
    )]
    pub(super) max_body_bytes: u64,
    pub(super) retry: Option<RetryArg>,
    #[serde(default)]
    pub(super) failure_budget: BudgetArg,
    #[serde(default = "yes")]
    pub(super) expect_requests: bool,
    #[serde(default)]
    pub(super) csv_sources: Vec<crate::data_source::SourceArg>,
    #[serde(default)]
    pub(super) strict: bool,
    /// TLS defaults for every task (a task's own override them).
    pub(super) verify: Option<VerifyArg>,
    #[serde(alias = "client_cert")]
    pub(super) cert: Option<CertArg>,
    /// A forward proxy URL for every request, or `false` for none (over the
    /// environment's proxies).
    pub(super) proxy: Option<Value>,
    /// Open-model load (see `arrival.rs`): the executor and its settings.
    pub(super) executor: Option<String>,
    pub(super) rate: Option<Value>,
    pub(super) time_unit: Option<Value>,
    pub(super) duration: Option<Value>,
    pub(super) pre_allocated_users: Option<Value>,
    pub(super) max_users: Option<Value>,
    pub(super) start_rate: Option<Value>,
    pub(super) stages: Option<Value>,
    pub(super) max_lag: Option<Value>,
    /// Most redirects a request follows (each task's own overrides it).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) max_redirects: Option<u32>,
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
fn yes() -> bool {
    true
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}

/// A test's `failure_budget`: an object (its own budget) or `false` (none,
/// not even the default).
#[derive(Default)]
pub(super) struct BudgetArg(pub(super) crate::budget::Setting);

impl<'de> Deserialize<'de> for BudgetArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use crate::budget::Setting;
        match Value::deserialize(d)? {
            Value::Bool(false) => Ok(BudgetArg(Setting::Off)),
            Value::Null => Ok(BudgetArg(Setting::Unset)),
            v @ Value::Object(_) => BudgetConfig::deserialize(v)
                .map(|c| BudgetArg(Setting::On(c)))
                .map_err(de::Error::custom),
            _ => Err(de::Error::custom(
                "expected a failure budget object, or false to run this test without one",
            )),
        }
    }
}

/// `user_detail_dict`: the kind of user, and LoadDensity's place for the
/// base URL.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserDetail {
    #[allow(dead_code)]
    #[serde(default)]
    user: Option<UserKind>,
    pub(super) host: Option<String>,
    pub(super) base_url: Option<String>,
}

/// Every LoadDensity HTTP user type runs as the same HTTP user here.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // LoadDensity's names
enum UserKind {
    FastHttpUser,
    HttpUser,
    AsyncHttpUser,
    Http3User,
}

/// `runner_mode`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RunnerMode {
    Local,
    Master,
    Worker,
}

/// `engine`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EngineArg {
    Locust,
    Asyncio,
}

/// `wait_time`: seconds, or `{"between": [a, b]}`.
pub(super) enum WaitArg {
    Seconds(f64),
    Between { between: (f64, f64) },
}

impl<'de> Deserialize<'de> for WaitArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A number of seconds, leniently read.
        struct S(f64);
        impl<'de> Deserialize<'de> for S {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::plan::lenient::num(d).map(S)
            }
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Between {
            between: (S, S),
        }
        match Value::deserialize(d)? {
            m @ Value::Object(_) => Between::deserialize(m)
                .map(|b| WaitArg::Between {
                    between: (b.between.0 .0, b.between.1 .0),
                })
                .map_err(de::Error::custom),
            v => S::deserialize(v)
                .map(|s| WaitArg::Seconds(s.0))
                .map_err(|_| {
                    de::Error::custom("expected a number of seconds or {\"between\": [a, b]}")
                }),
        }
    }
}

/// The scenario form of `tasks`: `{"mode": ..., "tasks": [...] or {method: task}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScenarioArg {
    pub(super) mode: Option<String>,
    pub(super) tasks: Value,
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
    pub(super) params: Pairs,
    pub(super) json: Option<Value>,
    pub(super) data: Option<Value>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) timeout: Option<f64>,
    pub(super) auth: Option<AuthArg>,
    pub(super) assertions: Option<Value>,
    #[serde(default)]
    pub(super) extract: Vec<ExtractArg>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) weight: Option<u32>,
    pub(super) run_if: Option<Value>,
    pub(super) skip_if: Option<Value>,
    pub(super) retry: Option<RetryArg>,
    pub(super) network: Option<ConditionerArg>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) max_body_bytes: Option<u64>,
    /// LoadDensity's per-task pacing: a shared token bucket, a pause after.
    pub(super) throttle: Option<Value>,
    pub(super) think_time: Option<Value>,
    /// Cookies sent with this request (besides the user's cookie jar).
    pub(super) cookies: Option<Pairs>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub(super) max_redirects: Option<u32>,
    /// LoadDensity's (requests') request options: the ones this client
    /// cannot honour yet are refused by `run`.
    pub(super) files: Option<Value>,
    pub(super) allow_redirects: Option<bool>,
    /// TLS: how the server's certificate is checked, and a client certificate.
    pub(super) verify: Option<VerifyArg>,
    #[serde(alias = "client_cert")]
    pub(super) cert: Option<CertArg>,
}

/// `verify`: `true`, `false`, or the path of a PEM CA bundle.
#[derive(Debug, Clone)]
pub(super) enum VerifyArg {
    Bool(bool),
    CaFile(String),
}

impl<'de> Deserialize<'de> for VerifyArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(VerifyArg::Bool(b)),
            Value::String(s) if !s.is_empty() => Ok(VerifyArg::CaFile(s)),
            _ => Err(de::Error::custom(
                "expected true, false, or the path of a PEM file of CA certificates",
            )),
        }
    }
}

/// `cert` (`client_cert`): a PEM file with the chain and the key, or
/// `[cert_path, key_path]`.
#[derive(Debug, Clone)]
pub(super) struct CertArg {
    pub(super) cert: String,
    pub(super) key: Option<String>,
}

impl<'de> Deserialize<'de> for CertArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let err = || {
            de::Error::custom(
                "expected the path of a PEM file holding the certificate and its key, or [cert_path, key_path]",
            )
        };
        match Value::deserialize(d)? {
            Value::String(s) if !s.is_empty() => Ok(CertArg { cert: s, key: None }),
            Value::Array(items) => match items.as_slice() {
                [Value::String(c), Value::String(k)] if !c.is_empty() && !k.is_empty() => {
                    Ok(CertArg {
                        cert: c.clone(),
                        key: Some(k.clone()),
                    })
                }
                _ => Err(err()),
            },
            _ => Err(err()),
        }
    }
}

/// A text value: a string, or a number or boolean written for one (as
/// LoadDensity's `str(value)` takes it).
#[derive(Debug, Clone, Default)]
pub(super) struct Text(pub(super) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Text(s)),
            v @ (Value::Number(_) | Value::Bool(_)) => Ok(Text(v.to_string())),
            other => Err(de::Error::custom(format!(
                "expected a string (or a number), found {}",
                super::kind(&other)
            ))),
        }
    }
}

/// One text or a list of them.
#[derive(Default)]
pub(super) struct Texts(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Array(items) => items
                .into_iter()
                .map(|v| Text::deserialize(v).map(|t| t.0).map_err(de::Error::custom))
                .collect::<Result<_, _>>()
                .map(Texts),
            v => Text::deserialize(v)
                .map(|t| Texts(vec![t.0]))
                .map_err(de::Error::custom),
        }
    }
}

/// Name/value pairs: an object, or LoadDensity's (requests') list of
/// `[name, value]` pairs, which may repeat a name.
#[derive(Default)]
pub(super) struct Pairs(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = |v: Value| Text::deserialize(v).map(|t| t.0).map_err(de::Error::custom);
        match Value::deserialize(d)? {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| Ok((k, text(v)?)))
                .collect::<Result<_, D::Error>>()
                .map(Pairs),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Array(mut kv) if kv.len() == 2 => {
                        let v = kv.pop().expect("two");
                        let k = kv.pop().expect("two");
                        Ok((text(k)?, text(v)?))
                    }
                    _ => Err(de::Error::custom(
                        "expected a list of [name, value] pairs, e.g. [[\"q\", \"rust\"], [\"page\", 2]]",
                    )),
                })
                .collect::<Result<_, D::Error>>()
                .map(Pairs),
            other => Err(de::Error::custom(format!(
                "expected an object or a list of [name, value] pairs, found {}",
                super::kind(&other)
            ))),
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

/// A task's `assertions` in the object form.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AssertionsObj {
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_one_or_many")]
    pub(super) status_code: Option<Vec<u16>>,
    #[serde(default)]
    pub(super) contains: Texts,
    #[serde(default)]
    pub(super) not_contains: Texts,
    #[serde(default)]
    pub(super) json_path: IndexMap<String, Value>,
    #[serde(default)]
    pub(super) header: IndexMap<String, Text>,
}

/// One assertion in LoadDensity's list form: `{"type": ..., ...}`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum AssertionItem {
    StatusCode {
        #[serde(deserialize_with = "crate::plan::lenient::one_or_many")]
        value: Vec<u16>,
    },
    Contains {
        value: Text,
    },
    NotContains {
        value: Text,
    },
    JsonPath {
        path: String,
        value: Value,
    },
    Header {
        name: String,
        value: Text,
    },
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
