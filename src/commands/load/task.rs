//! Compiling one task of `LD_start_test`: its arguments checked and its
//! templates compiled, one helper per part of the task. Problems are recorded
//! in the order the parts are listed in [`compile_task`].

use super::args::{AssertionsArg, AuthArg, ExtractArg, ExtractFrom, OneOrMany, Scalar, TaskArg};
use super::{kind, typed_value};
use crate::conditioner::{Conditioner, ConditionerArg};
use crate::engine::check::{Assertions, Extract, Source as ExtractSource};
use crate::engine::scenario::{Mode, Predicate};
use crate::engine::task::{Body, Task};
use crate::http::{Method, Url};
use crate::plan::validate::Validator;
use crate::plan::{Position, Problem};
use crate::resolver::{self, valid_var_name, CompiledValue, Template};
use crate::retry::{Policy, RetryArg};
use crate::units;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

/// Default per-request timeout.
const DEFAULT_TIMEOUT_S: f64 = 30.0;

/// What every task of one test shares.
pub(super) struct TestCx<'a> {
    /// Where the `LD_start_test` action stands.
    pub at: &'a Position,
    pub mode: Mode,
    /// Whether the test sets `host` (relative URLs need it).
    pub has_host: bool,
    /// The test's run-wide retry policy, which a task's own overrides.
    pub run_retry: Option<&'a RetryArg>,
}

/// One task's JSON and where it stands.
pub(super) struct TaskJson {
    /// Its path under the action, e.g. `args.tasks[1]`.
    pub path: String,
    /// In the `{"get": {...}}` form, the method its key names.
    pub method_key: Option<String>,
    pub value: Value,
}

/// Checks one task and compiles its templates; `index` names a task that has
/// neither a name nor a URL path.
pub(super) fn compile_task(
    v: &mut Validator,
    test: &TestCx<'_>,
    index: usize,
    task: TaskJson,
) -> Option<Task> {
    let at = test.at.child(&task.path);
    let t: TaskArg = typed_value(v, &at, "", task.value)?;
    let mut c = Compiler { v, at: &at, test };
    let retry = c.retry(t.retry.as_ref());
    let network = c.network(t.network.as_ref());
    let method = c.method(t.method, task.method_key)?;
    let (url_text, url) = c.url(t.request_url, t.url)?;
    c.weight(t.weight);
    let timeout = c.timeout(t.timeout);
    c.one_body(&t.json, &t.data);
    let mut headers = c.headers(&t.headers, t.auth.is_some());
    c.extract_names(&t.extract);
    if let Some(auth) = &t.auth {
        headers.push(c.auth_header(auth));
    }
    let params = c.params(&t.params);
    let body = c.body(&t.json, &t.data);
    let assertions = c.assertions(t.assertions);
    let extract = c.extract(t.extract);
    let run_if = c.predicate("run_if", &t.run_if);
    let skip_if = c.predicate("skip_if", &t.skip_if);
    Some(Task {
        name: t.name.unwrap_or_else(|| default_name(&url_text, index)),
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

/// Compiles the parts of one task, recording problems at its position.
struct Compiler<'v, 'a> {
    v: &'v mut Validator,
    at: &'a Position,
    test: &'a TestCx<'a>,
}

impl Compiler<'_, '_> {
    fn problem(&mut self, field: &str, msg: impl Into<String>) {
        self.v.problem(Problem::new(self.at.child(field), msg));
    }

    fn template(&mut self, path: &str, s: &str) -> Template {
        Template::parse(s).unwrap_or_else(|e| {
            self.problem(path, e.to_string());
            Template::default()
        })
    }

    fn compiled(&mut self, path: &str, value: &Value) -> CompiledValue {
        CompiledValue::compile(value).unwrap_or_else(|errs| {
            for (p, e) in errs {
                self.problem(&format!("{path}{p}"), e.to_string());
            }
            CompiledValue::compile(&Value::Null).expect("null compiles")
        })
    }

    /// The task's retry policy: its own over the test's, field by field.
    fn retry(&mut self, own: Option<&RetryArg>) -> Option<Policy> {
        if let Some(r) = own {
            self.v.field_problems(self.at, "retry", r.problems(false));
        }
        match (own, self.test.run_retry) {
            (None, None) => None,
            (Some(own), Some(run)) => Some(Policy::from_arg(&own.over(run))),
            (Some(one), None) | (None, Some(one)) => Some(Policy::from_arg(one)),
        }
    }

    /// The task's own network conditioner.
    fn network(&mut self, arg: Option<&ConditionerArg>) -> Option<Arc<Conditioner>> {
        match Conditioner::compile(arg?) {
            Ok(c) => Some(Arc::new(c)),
            Err(problems) => {
                self.v.field_problems(self.at, "network", problems);
                None
            }
        }
    }

    /// `method` (or `request_method`), else the map key, else GET.
    fn method(&mut self, own: Option<String>, key: Option<String>) -> Option<Method> {
        let name = own.or(key).unwrap_or_else(|| "get".to_string());
        let method = Method::parse(&name);
        if method.is_none() {
            self.v.problem(
                Problem::new(self.at.child("method"), format!("unknown method `{name}`"))
                    .hint("use get, post, put, patch, delete, head or options"),
            );
        }
        method
    }

    /// `request_url` or `url` (exactly one), as written and compiled; a
    /// constant URL is checked now.
    fn url(
        &mut self,
        request_url: Option<String>,
        url: Option<String>,
    ) -> Option<(String, Template)> {
        let text = match (request_url, url) {
            (Some(u), None) | (None, Some(u)) => u,
            (Some(_), Some(_)) => {
                self.problem("url", "give `request_url` or `url`, not both");
                return None;
            }
            (None, None) => {
                self.problem("", "a task needs `request_url` (or `url`)");
                return None;
            }
        };
        let url = self.template("request_url", &text);
        if let Some(u) = url.as_constant() {
            if u.starts_with("http://") || u.starts_with("https://") {
                if let Err(e) = Url::parse(u) {
                    self.problem("request_url", e.to_string());
                }
            } else if !self.test.has_host {
                self.v.problem(
                    Problem::new(
                        self.at.child("request_url"),
                        format!("relative URL {u:?} needs `host`"),
                    )
                    .hint("set LD_start_test's `host`, or write an absolute http:// URL"),
                );
            }
        }
        Some((text, url))
    }

    fn weight(&mut self, weight: Option<u32>) {
        if self.test.mode == Mode::Weighted && weight == Some(0) {
            self.problem("weight", "weight must be at least 1");
        }
    }

    /// The request timeout in seconds.
    fn timeout(&mut self, timeout: Option<f64>) -> f64 {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(timeout > 0.0 && units::valid_seconds(timeout)) {
            self.problem("timeout", "timeout must be a positive number of seconds");
        }
        timeout
    }

    fn one_body(&mut self, json: &Option<Value>, data: &Option<Value>) {
        if json.is_some() && data.is_some() {
            self.problem("json", "give `json` or `data`, not both");
        }
    }

    /// The task's headers; `auth` and an Authorization header exclude each other.
    fn headers(
        &mut self,
        headers: &IndexMap<String, String>,
        has_auth: bool,
    ) -> Vec<(String, Template)> {
        let compiled = headers
            .iter()
            .map(|(k, val)| (k.clone(), self.template(&format!("headers.{k}"), val)))
            .collect();
        if has_auth
            && headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("authorization"))
        {
            self.problem("auth", "give `auth` or an Authorization header, not both");
        }
        compiled
    }

    /// The Authorization header `auth` stands for.
    fn auth_header(&mut self, auth: &AuthArg) -> (String, Template) {
        let value = match auth {
            AuthArg::Bearer { token } => self.template("auth.token", &format!("Bearer {token}")),
            AuthArg::Basic { username, password } => {
                let creds = resolver::escape(&base64(format!("{username}:{password}").as_bytes()));
                if username.contains("${") || password.contains("${") {
                    self.problem(
                        "auth",
                        "basic auth credentials cannot use ${...}; use a header instead",
                    );
                }
                self.template("auth", &format!("Basic {creds}"))
            }
        };
        ("Authorization".into(), value)
    }

    fn params(&mut self, params: &IndexMap<String, Scalar>) -> Vec<(String, Template)> {
        params
            .iter()
            .map(|(k, s)| (k.clone(), self.template(&format!("params.{k}"), &s.text())))
            .collect()
    }

    /// `json`, or `data` as raw text (a string) or a form (an object).
    fn body(&mut self, json: &Option<Value>, data: &Option<Value>) -> Body {
        match (json, data) {
            (Some(j), _) => Body::Json(self.compiled("json", j)),
            (None, Some(Value::String(s))) => Body::Raw(self.template("data", s)),
            (None, Some(Value::Object(m))) => Body::Form(
                m.iter()
                    .map(|(k, val)| {
                        let text = match val {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), self.template(&format!("data.{k}"), &text))
                    })
                    .collect(),
            ),
            (None, Some(other)) => {
                self.problem(
                    "data",
                    format!("data must be a string or an object, found {}", kind(other)),
                );
                Body::None
            }
            (None, None) => Body::None,
        }
    }

    fn assertions(&mut self, a: AssertionsArg) -> Assertions {
        let texts = |c: &mut Self, field: &str, list: Option<OneOrMany<String>>| {
            list.map(OneOrMany::into_vec)
                .unwrap_or_default()
                .iter()
                .map(|s| c.template(field, s))
                .collect()
        };
        Assertions {
            status_code: a.status_code.map(OneOrMany::into_vec),
            contains: texts(self, "assertions.contains", a.contains),
            not_contains: texts(self, "assertions.not_contains", a.not_contains),
            json_path: a
                .json_path
                .iter()
                .map(|(p, val)| {
                    let path = format!("assertions.json_path.{p}");
                    (p.clone(), self.compiled(&path, val))
                })
                .collect(),
            header: a
                .header
                .iter()
                .map(|(n, val)| {
                    let path = format!("assertions.header.{n}");
                    (n.clone(), self.template(&path, val))
                })
                .collect(),
        }
    }

    /// Extracted values land in variables, so their names must be usable.
    fn extract_names(&mut self, extract: &[ExtractArg]) {
        for e in extract.iter().filter(|e| !valid_var_name(&e.var)) {
            self.problem(
                "extract",
                format!("variable name {:?} may only use A-Z a-z 0-9 _ . -", e.var),
            );
        }
    }

    /// Each extraction's source: `path` with json_path, `name` with header,
    /// neither with status_code.
    fn extract(&mut self, extract: Vec<ExtractArg>) -> Vec<Extract> {
        let mut out = Vec::new();
        for (i, e) in extract.into_iter().enumerate() {
            let from = match (e.from, e.path, e.name) {
                (ExtractFrom::JsonPath, Some(p), None) => ExtractSource::JsonPath(p),
                (ExtractFrom::Header, None, Some(n)) => ExtractSource::Header(n),
                (ExtractFrom::StatusCode, None, None) => ExtractSource::StatusCode,
                _ => {
                    self.problem(
                        &format!("extract[{i}]"),
                        "extract needs `path` with json_path, `name` with header, and neither with status_code",
                    );
                    continue;
                }
            };
            out.push(Extract { var: e.var, from });
        }
        out
    }

    /// `run_if` / `skip_if`.
    fn predicate(&mut self, field: &str, p: &Option<Value>) -> Option<Predicate> {
        Predicate::compile(p.as_ref()?)
            .map_err(|e| self.problem(field, e))
            .ok()
    }
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
