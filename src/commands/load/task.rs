//! Compiling one task of `LD_start_test`: its arguments checked and its
//! templates compiled, one helper per part of the task. Problems are recorded
//! in the order the parts are listed in [`compile_task`].

use super::args::{AssertionItem, AssertionsObj, AuthArg, ExtractArg, ExtractFrom, Pairs, TaskArg};
use super::{kind, typed_value};
use crate::conditioner::{Conditioner, ConditionerArg};
use crate::engine::check::{Assertion, Assertions, Extract, ExtractSource};
use crate::engine::predicate::Predicate;
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

/// Where relative URLs go when the test sets no `host` (LoadDensity's rule).
pub(super) const DEFAULT_HOST: &str = "http://localhost";

/// Most redirects a request follows unless the test or task says otherwise
/// (Python requests' limit).
pub(super) const DEFAULT_MAX_REDIRECTS: u32 = 30;

/// Default per-request timeout.
const DEFAULT_TIMEOUT_S: f64 = 30.0;

/// What every task of one test shares.
pub(super) struct TestCx<'a> {
    /// Where the `LD_start_test` action stands.
    pub at: &'a Position,
    /// Whether the test sets `host` (relative URLs need it).
    pub has_host: bool,
    /// The test's run-wide retry policy, which a task's own overrides.
    pub run_retry: Option<&'a RetryArg>,
    /// The test's `max_body_bytes`, which a task's own overrides.
    pub max_body_bytes: u64,
    /// The test's TLS settings (`verify`, `cert`), which a task's own override.
    pub tls: super::tls::TestTls<'a>,
    /// The test's `max_redirects`, which a task's own overrides.
    pub max_redirects: u32,
    /// The plan's folder: relative `files` paths are looked for there first.
    pub base_dir: std::path::PathBuf,
}

/// Cap on one uploaded file (`files`), read into memory at validation.
pub(super) const MAX_UPLOAD_BYTES: u64 = 10 << 20;

/// One task's JSON and where it stands.
pub(super) struct TaskJson {
    /// Its path under the action, e.g. `args.tasks[1]`.
    pub path: String,
    /// In the `{"get": {...}}` form, the method its key names.
    pub method_key: Option<String>,
    pub value: Value,
    /// Its line in the plan file, when known (problems point at the task).
    pub line: Option<usize>,
}

/// Checks one task and compiles its templates; `index` names a task that has
/// neither a name nor a URL path.
pub(super) fn compile_task(
    v: &mut Validator,
    test: &TestCx<'_>,
    index: usize,
    task: TaskJson,
) -> Option<Task> {
    let mut at = test.at.child(&task.path);
    at.line = task.line.or(at.line);
    let t: TaskArg = typed_value(v, &at, "", task.value)?;
    let mut c = Compiler { v, at: &at, test };
    let retry = c.retry(t.retry.as_ref());
    let network = c.network(t.network.as_ref());
    let method = c.method(t.method, task.method_key)?;
    let (url_text, url) = c.url(t.request_url, t.url)?;
    let timeout = c.timeout(t.timeout);
    let tls = test
        .tls
        .for_task(c.v, &at, t.verify.as_ref(), t.cert.as_ref());
    c.one_body(&t.json, &t.data);
    let mut headers = c.headers(&t.headers, t.auth.is_some());
    c.extract_names(&t.extract);
    if let Some(auth) = &t.auth {
        headers.push(c.auth_header(auth));
    }
    let params = c.params(&t.params);
    let cookies = t.cookies.as_ref().map(|p| c.cookies(p)).unwrap_or_default();
    let body = match &t.files {
        Some(files) => c.multipart(files, &t.json, &t.data, &t.headers),
        None => c.body(&t.json, &t.data),
    };
    let assertions = c.assertions(t.assertions);
    let extract = c.extract(t.extract);
    let run_if = c.predicate("run_if", &t.run_if);
    let skip_if = c.predicate("skip_if", &t.skip_if);
    let name = t
        .name
        .clone()
        .unwrap_or_else(|| default_name(&url_text, index));
    let throttle = super::pacing::throttle(c.v, &at, t.throttle, &name);
    let think_time = super::pacing::think_time(c.v, &at, t.think_time);
    Some(Task {
        written: crate::engine::task::AsWritten {
            name: t.name.clone(),
            url: url_text.clone(),
        },
        name,
        slot: 0,
        method,
        host: None,
        url,
        params,
        headers,
        body,
        timeout: units::secs(timeout),
        max_body_bytes: t.max_body_bytes.unwrap_or(test.max_body_bytes),
        assertions,
        extract,
        weight: t.weight.unwrap_or(1),
        run_if,
        skip_if,
        fixed: None,
        retry,
        network,
        csv: Vec::new(),
        tls,
        follow_redirects: t.allow_redirects != Some(false),
        max_redirects: t.max_redirects.unwrap_or(test.max_redirects),
        cookies,
        throttle,
        bucket: None,
        think_time,
    })
}

/// Reads an upload: a relative path in the plan's folder first, then in the
/// working directory; at most [`MAX_UPLOAD_BYTES`].
fn read_upload(path: &str, base: &std::path::Path) -> Result<Vec<u8>, String> {
    let p = std::path::Path::new(path);
    let found = if p.is_absolute() {
        p.is_file().then(|| p.to_path_buf())
    } else {
        let in_base = base.join(p);
        if in_base.is_file() {
            Some(in_base)
        } else {
            p.is_file().then(|| p.to_path_buf())
        }
    };
    let Some(found) = found else {
        let cwd = std::env::current_dir().unwrap_or_default();
        return Err(if p.is_absolute() {
            format!("file {path:?} not found")
        } else {
            format!(
                "file {path:?} not found: looked in the plan's folder ({}) and in the working directory ({})",
                base.display(),
                cwd.display()
            )
        });
    };
    let meta = std::fs::metadata(&found)
        .map_err(|e| format!("cannot read file {}: {e}", found.display()))?;
    if meta.len() > MAX_UPLOAD_BYTES {
        return Err(format!(
            "file {} is {} bytes; an upload may have at most {MAX_UPLOAD_BYTES} (10 MiB)",
            found.display(),
            meta.len()
        ));
    }
    std::fs::read(&found).map_err(|e| format!("cannot read file {}: {e}", found.display()))
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
                // LoadDensity sends it to http://localhost; so do we, but say so.
                self.v.warn(
                    Problem::new(
                        self.at.child("request_url"),
                        format!("relative URL {u:?} without `host` goes to {DEFAULT_HOST}"),
                    )
                    .hint("set LD_start_test's `host`, or write an absolute http:// URL"),
                );
            }
        }
        Some((text, url))
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
        for (k, val) in headers {
            // RFC 9110 token characters only; a value is one line.
            let bad_name = k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if bad_name {
                self.problem(
                    &format!("headers.{k}"),
                    format!("header name {k:?} must be a non-empty HTTP token (letters, digits, - and a few other marks)"),
                );
            }
            if val.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                self.problem(
                    &format!("headers.{k}"),
                    format!("header {k:?} has a line break or NUL in its value"),
                );
            }
        }
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
                let value = resolver::escape(&crate::http::basic_auth(username, password));
                if username.contains("${") || password.contains("${") {
                    self.problem(
                        "auth",
                        "basic auth credentials cannot use ${...}; use a header instead",
                    );
                }
                self.template("auth", &value)
            }
        };
        ("Authorization".into(), value)
    }

    fn params(&mut self, params: &Pairs) -> Vec<(String, Template)> {
        params
            .0
            .iter()
            .map(|(k, val)| (k.clone(), self.template(&format!("params.{k}"), val)))
            .collect()
    }

    /// The task's `cookies`: names are HTTP tokens; a value has no `;`,
    /// comma, quote, backslash, space or control character.
    fn cookies(&mut self, cookies: &Pairs) -> Vec<(String, Template)> {
        cookies
            .0
            .iter()
            .map(|(k, val)| {
                let at = format!("cookies.{k}");
                if k.is_empty()
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                {
                    self.problem(
                        &at,
                        format!("cookie name {k:?} must be a non-empty HTTP token (letters, digits, - and a few other marks)"),
                    );
                }
                if val
                    .bytes()
                    .any(|b| b.is_ascii_control() || b" \",;\\".contains(&b))
                {
                    self.problem(
                        &at,
                        format!("cookie {k:?} has a space, `;`, `,`, quote, backslash or control character in its value"),
                    );
                }
                (k.clone(), self.template(&at, val))
            })
            .collect()
    }

    /// `json`, or `data` as raw text (a string) or a form (an object, or a
    /// list of `[name, value]` pairs).
    fn body(&mut self, json: &Option<Value>, data: &Option<Value>) -> Body {
        match (json, data) {
            (Some(j), _) => Body::Json(self.compiled("json", j)),
            (None, Some(Value::String(s))) => Body::Raw(self.template("data", s)),
            (None, Some(form @ (Value::Object(_) | Value::Array(_)))) => {
                match serde_json::from_value::<Pairs>(form.clone()) {
                    Ok(pairs) => Body::Form(
                        pairs
                            .0
                            .iter()
                            .map(|(k, val)| (k.clone(), self.template(&format!("data.{k}"), val)))
                            .collect(),
                    ),
                    Err(e) => {
                        self.problem("data", e.to_string());
                        Body::None
                    }
                }
            }
            (None, Some(other)) => {
                self.problem(
                    "data",
                    format!(
                        "data must be a string, an object or a list of [name, value] pairs, found {}",
                        kind(other)
                    ),
                );
                Body::None
            }
            (None, None) => Body::None,
        }
    }

    /// `files` (`{"field": "path"}` or `{"field": {"path", "filename",
    /// "content_type"}}`), with `data`'s fields as text parts: a
    /// `multipart/form-data` body. Files are read now.
    fn multipart(
        &mut self,
        files: &Value,
        json: &Option<Value>,
        data: &Option<Value>,
        headers: &IndexMap<String, String>,
    ) -> Body {
        use crate::http::multipart::{boundary_for, guess_type, FilePart};
        if json.is_some() {
            self.problem("files", "give `files` or `json`, not both");
        }
        if headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            self.problem(
                "files",
                "give `files` or a Content-Type header, not both: the multipart boundary is the client's",
            );
        }
        let fields = match data {
            None => Vec::new(),
            Some(Value::String(_)) => {
                self.problem(
                    "data",
                    "with `files`, data must be an object (or [name, value] pairs): its fields become text parts",
                );
                Vec::new()
            }
            Some(_) => match self.body(&None, data) {
                Body::Form(f) => f,
                _ => Vec::new(),
            },
        };
        let Value::Object(map) = files else {
            self.problem(
                "files",
                format!(
                    "files must be an object of field → path (or {{\"path\", \"filename\", \"content_type\"}}), found {}",
                    kind(files)
                ),
            );
            return Body::None;
        };
        let mut parts = Vec::new();
        for (field, spec) in map {
            let at = format!("files.{field}");
            let (path, filename, content_type) = match spec {
                Value::String(p) => (p.clone(), None, None),
                Value::Object(o) => {
                    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
                    if let Some(k) = o
                        .keys()
                        .find(|k| !["path", "filename", "content_type"].contains(&k.as_str()))
                    {
                        self.problem(
                            &at,
                            format!("unknown field `{k}`: expected path, filename or content_type"),
                        );
                    }
                    let Some(p) = text("path") else {
                        self.problem(&at, "a file needs `path` (a string)");
                        continue;
                    };
                    (p, text("filename"), text("content_type"))
                }
                other => {
                    self.problem(
                        &at,
                        format!(
                            "expected a path or an object with `path`, found {}",
                            kind(other)
                        ),
                    );
                    continue;
                }
            };
            let bytes = match read_upload(&path, &self.test.base_dir) {
                Ok(b) => b,
                Err(e) => {
                    self.problem(&at, e);
                    continue;
                }
            };
            let filename = filename.unwrap_or_else(|| {
                std::path::Path::new(&path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.clone())
            });
            let content_type = content_type.unwrap_or_else(|| guess_type(&path).to_string());
            if content_type
                .bytes()
                .any(|b| b == b'\r' || b == b'\n' || b == 0)
            {
                self.problem(&at, "content_type has a line break or NUL");
            }
            parts.push(FilePart {
                field: field.clone(),
                filename,
                content_type,
                bytes: bytes.into(),
            });
        }
        let boundary = boundary_for(&parts);
        Body::Multipart(crate::engine::task::Multipart {
            fields,
            files: parts,
            boundary,
        })
    }

    /// `assertions`: this project's object form, or LoadDensity's list of
    /// `{"type": ...}` items (checked in the order written).
    fn assertions(&mut self, a: Option<Value>) -> Assertions {
        let mut checks = Vec::new();
        match a {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    let path = format!("assertions[{i}]");
                    let Some(item) = self.typed::<AssertionItem>(&path, item) else {
                        continue;
                    };
                    checks.push(match item {
                        AssertionItem::StatusCode { value } => Assertion::Status(value),
                        AssertionItem::Contains { value } => {
                            Assertion::Contains(self.template(&path, &value.0))
                        }
                        AssertionItem::NotContains { value } => {
                            Assertion::NotContains(self.template(&path, &value.0))
                        }
                        AssertionItem::Header { name, value } => {
                            Assertion::Header(name, self.template(&path, &value.0))
                        }
                        AssertionItem::JsonPath { path: p, value } => {
                            Assertion::JsonPath(p, self.compiled(&path, &value))
                        }
                    });
                }
            }
            Some(obj @ Value::Object(_)) => {
                let Some(a) = self.typed::<AssertionsObj>("assertions", obj) else {
                    return Assertions::default();
                };
                if let Some(codes) = a.status_code {
                    checks.push(Assertion::Status(codes));
                }
                for t in &a.contains.0 {
                    checks.push(Assertion::Contains(self.template("assertions.contains", t)));
                }
                for t in &a.not_contains.0 {
                    let t = self.template("assertions.not_contains", t);
                    checks.push(Assertion::NotContains(t));
                }
                for (n, val) in a.header {
                    let t = self.template(&format!("assertions.header.{n}"), &val.0);
                    checks.push(Assertion::Header(n, t));
                }
                for (p, val) in &a.json_path {
                    let path = format!("assertions.json_path.{p}");
                    checks.push(Assertion::JsonPath(p.clone(), self.compiled(&path, val)));
                }
            }
            Some(other) => self.problem(
                "assertions",
                format!(
                    "assertions must be an object or a list of {{\"type\": ...}} items, found {}",
                    kind(&other)
                ),
            ),
        }
        Assertions { checks }
    }

    /// Part of the task read into `T`, or a problem at `path`.
    fn typed<T: serde::de::DeserializeOwned>(&mut self, path: &str, value: Value) -> Option<T> {
        typed_value(self.v, &self.at.child(path), "", value)
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
        let p = p.as_ref()?;
        let reads_csv = crate::resolver::lookups_in(p, "")
            .iter()
            .any(|(_, piece)| matches!(piece, crate::resolver::Piece::Csv(..)));
        if reads_csv {
            // The row is taken when the request is built, after the gate.
            self.v.problem(
                Problem::new(self.at.child(field), format!("{field} cannot read `${{csv...}}`: a task takes its CSV row when it is sent, after {field} is decided"))
                    .hint("extract the value into a variable in an earlier task, or gate on a variable"),
            );
            return None;
        }
        Predicate::compile(p)
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
    // Leading placeholders are the base URL (`${var.demo}`), unless the rest
    // is nothing but placeholders: then they are the path too.
    let mut base = rest;
    while base.starts_with("${") {
        match base.find('}') {
            Some(end) => base = &base[end + 1..],
            None => break,
        }
    }
    if base.starts_with('/') {
        rest = base;
    } else if rest.starts_with("${") {
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

#[cfg(test)]
mod tests {
    use super::default_name;
    use crate::plan::testing::{built, one_problem, problems, valid, warnings, with};
    use crate::plan::Problem;
    use serde_json::{json, Value};

    const URL: &str = "http://127.0.0.1:8080/x";

    /// The task `{"request_url": URL}` with `fields` over it.
    fn task(fields: Value) -> Value {
        with(json!({ "request_url": URL }), fields)
    }

    /// Asserts one problem at `tasks[0]` + `field` of a test with this task.
    #[track_caller]
    fn one(task: Value, field: &str, msg: &str) -> Problem {
        let path = match field {
            "" => "actions[0].args.tasks[0]".to_string(),
            f => format!("actions[0].args.tasks[0].{f}"),
        };
        one_problem("LD_start_test", json!({ "tasks": [task] }), &path, msg)
    }

    /// The test this one task builds, as its `Debug` text.
    fn with_task(task: Value) -> String {
        built("LD_start_test", json!({ "tasks": [task] }))
    }

    #[test]
    fn a_task_is_an_object_of_known_fields() {
        let p = one(json!(5), "", "LD_start_test: invalid type: integer `5`");
        assert_eq!(p.hint.as_deref(), Some(super::super::TASKS_HINT));
        assert!(!p.hint.as_deref().unwrap_or("").contains("docs/"));
        one(
            task(json!({"headers": {"X": 1}})),
            "headers.X",
            "LD_start_test: invalid type: integer `1`, expected a string",
        );
        one(
            task(json!({"urls": URL})),
            "urls",
            "LD_start_test: unknown field `urls`",
        );
    }

    #[test]
    fn files_are_read_now_and_checked_against_the_other_body_fields() {
        // Cargo.toml: a file beside the working folder of the unit tests.
        let built = with_task(task(
            json!({"files": {"f": "Cargo.toml"}, "data": {"k": "v"}}),
        ));
        assert!(built.contains("Multipart"), "{built}");
        assert!(built.contains("filename: \"Cargo.toml\""), "{built}");
        assert!(
            built.contains("content_type: \"application/octet-stream\""),
            "{built}"
        );
        one(
            task(json!({"files": {"f": "Cargo.toml"}, "json": {}})),
            "files",
            "give `files` or `json`, not both",
        );
        one(
            task(json!({"files": {"f": "Cargo.toml"}, "headers": {"content-type": "x"}})),
            "files",
            "give `files` or a Content-Type header, not both: the multipart boundary is the client's",
        );
        one(
            task(json!({"files": {"f": "Cargo.toml"}, "data": "raw"})),
            "data",
            "with `files`, data must be an object (or [name, value] pairs): its fields become text parts",
        );
        one(
            task(json!({"files": {"f": {"filename": "x"}}})),
            "files.f",
            "a file needs `path` (a string)",
        );
        one(
            task(json!({"files": {"f": {"path": "Cargo.toml", "mime": "x"}}})),
            "files.f",
            "unknown field `mime`: expected path, filename or content_type",
        );
        one(
            task(json!({"files": ["Cargo.toml"]})),
            "files",
            "files must be an object of field → path (or {\"path\", \"filename\", \"content_type\"}), found a list",
        );
    }

    #[test]
    fn exactly_one_of_url_and_request_url() {
        one(
            json!({"url": URL, "request_url": URL}),
            "url",
            "give `request_url` or `url`, not both",
        );
        one(
            json!({"method": "get"}),
            "",
            "a task needs `request_url` (or `url`)",
        );
        assert!(with_task(json!({ "url": URL })).contains("Literal(\"http://127.0.0.1:8080/x\")"));
    }

    #[test]
    fn a_constant_url_is_checked_now() {
        let relative = json!({ "tasks": [task(json!({"request_url": "/health"}))] });
        valid("LD_start_test", relative.clone());
        assert_eq!(
            warnings("LD_start_test", relative),
            ["actions[0].args.tasks[0].request_url: relative URL \"/health\" without `host` goes to http://localhost"]
        );
        valid(
            "LD_start_test",
            json!({"host": "http://127.0.0.1:8080", "tasks": [{"request_url": "/health"}]}),
        );
        one(
            task(json!({"request_url": "http://[::1"})),
            "request_url",
            "invalid URL: unclosed '['",
        );
        one(
            task(json!({"request_url": "http://h/${var.}"})),
            "request_url",
            "empty name in `${var.}`",
        );
        with_task(task(json!({"request_url": "${var.base}/x"})));
    }

    #[test]
    fn the_method_comes_from_the_task_the_map_key_or_get() {
        let p = one(
            task(json!({"method": "fetch"})),
            "method",
            "unknown method `fetch`",
        );
        assert_eq!(
            p.hint.as_deref(),
            Some("use get, post, put, patch, delete, head or options")
        );
        assert!(with_task(task(json!({"request_method": "DELETE"}))).contains("method: Delete"));
        assert!(with_task(task(json!({}))).contains("method: Get"));
        one_problem(
            "LD_start_test",
            json!({"tasks": {"fetch": {"request_url": URL}}}),
            "actions[0].args.tasks.fetch.method",
            "unknown method `fetch`",
        );
    }

    #[test]
    fn weight_zero_is_never_picked_but_one_task_must_run() {
        valid(
            "LD_start_test",
            json!({"tasks": {"mode": "weighted", "tasks": [task(json!({"weight": 0})), task(json!({}))]}}),
        );
        one_problem(
            "LD_start_test",
            json!({"tasks": {"mode": "weighted", "tasks": [task(json!({"weight": 0}))]}}),
            "actions[0].args.tasks",
            "every task has weight 0, so none would ever run",
        );
    }

    #[test]
    fn timeout_must_be_positive_seconds() {
        for t in [json!(0), json!(-1), json!(1e10)] {
            one(
                task(json!({ "timeout": t })),
                "timeout",
                "timeout must be a positive number of seconds",
            );
        }
        assert!(with_task(task(json!({}))).contains("timeout: 30s"));
        assert!(with_task(task(json!({"timeout": 2.5}))).contains("timeout: 2.5s"));
    }

    #[test]
    fn json_and_data_exclude_each_other() {
        one(
            task(json!({"json": {"a": 1}, "data": "a=1"})),
            "json",
            "give `json` or `data`, not both",
        );
        one(
            task(json!({"data": [1, 2]})),
            "data",
            "expected a list of [name, value] pairs",
        );
        one(
            task(json!({"data": 5})),
            "data",
            "data must be a string, an object or a list of [name, value] pairs, found a number",
        );
        assert!(with_task(task(json!({"data": [["a", 1], ["a", "b"]]})))
            .contains("body: Form([(\"a\", Template { pieces: [Literal(\"1\")] }), (\"a\", Template { pieces: [Literal(\"b\")] })])"));
        assert!(with_task(task(json!({"data": "raw"}))).contains("body: Raw("));
        assert!(with_task(task(json!({"data": {"n": 1}})))
            .contains("body: Form([(\"n\", Template { pieces: [Literal(\"1\")] })])"));
        one(
            task(json!({"data": {"n": "${x"}})),
            "data.n",
            "unterminated `${`",
        );
    }

    #[test]
    fn header_names_and_values_are_checked() {
        one(
            task(json!({"headers": {"X-A\r\nInjected": "v"}})),
            "headers.X-A\r\nInjected",
            "must be a non-empty HTTP token",
        );
        one(
            task(json!({"headers": {"": "v"}})),
            "headers.",
            "must be a non-empty HTTP token",
        );
        one(
            task(json!({"headers": {"X-A": "v\r\nX-Injected: 1"}})),
            "headers.X-A",
            "has a line break or NUL in its value",
        );
        assert!(!with_task(task(json!({"headers": {"X-Request-Id": "${uuid()}"}}))).is_empty());
    }

    #[test]
    fn auth_and_an_authorization_header_exclude_each_other() {
        one(
            task(
                json!({"auth": {"type": "bearer", "token": "t"}, "headers": {"authorization": "x"}}),
            ),
            "auth",
            "give `auth` or an Authorization header, not both",
        );
        let p = one(
            task(json!({"auth": {"type": "digest"}})),
            "auth.type",
            "LD_start_test: unknown variant `digest`, expected `basic` or `bearer`",
        );
        assert!(p.hint.is_some());
    }

    #[test]
    fn auth_becomes_an_authorization_header() {
        let basic = with_task(task(
            json!({"auth": {"type": "basic", "username": "user", "password": "pass"}}),
        ));
        assert!(
            basic.contains(
                "(\"Authorization\", Template { pieces: [Literal(\"Basic dXNlcjpwYXNz\")] })"
            ),
            "{basic}"
        );
        let bearer = with_task(task(
            json!({"auth": {"type": "bearer", "token": "${var.token}"}}),
        ));
        assert!(
            bearer.contains("Literal(\"Bearer \"), Var(\"token\")"),
            "{bearer}"
        );
        one(
            task(json!({"auth": {"type": "basic", "username": "${var.u}", "password": "p"}})),
            "auth",
            "basic auth credentials cannot use ${...}; use a header instead",
        );
    }

    #[test]
    fn extract_names_a_usable_variable_and_one_source() {
        one(
            task(json!({"extract": [{"var": "a b", "from": "status_code"}]})),
            "extract",
            "variable name \"a b\" may only use A-Z a-z 0-9 _ . -",
        );
        let shape =
            "extract needs `path` with json_path, `name` with header, and neither with status_code";
        for bad in [
            json!({"var": "v", "from": "json_path"}),
            json!({"var": "v", "from": "header", "path": "x"}),
            json!({"var": "v", "from": "status_code", "name": "x"}),
        ] {
            let extract = json!([{"var": "ok", "from": "status_code"}, bad]);
            one(task(json!({ "extract": extract })), "extract[1]", shape);
        }
        let good = json!({"extract": [
            {"var": "id", "from": "json_path", "path": "data.id"},
            {"var": "loc", "from": "header", "name": "Location"},
            {"var": "code", "from": "status_code"},
        ]});
        let b = with_task(task(good));
        assert!(
            b.contains("Extract { var: \"id\", from: JsonPath(\"data.id\") }"),
            "{b}"
        );
        assert!(
            b.contains("Extract { var: \"loc\", from: Header(\"Location\") }"),
            "{b}"
        );
        assert!(
            b.contains("Extract { var: \"code\", from: StatusCode }"),
            "{b}"
        );
    }

    #[test]
    fn predicates_are_compiled_now() {
        one(
            task(json!({"run_if": {"bogus": 1}})),
            "run_if",
            "unknown predicate `bogus`: use equals, not_equals, in or truthy",
        );
        one(
            task(json!({"skip_if": [1]})),
            "skip_if",
            "a predicate is true/false",
        );
        assert!(with_task(task(json!({"run_if": 1, "skip_if": 0})))
            .contains("run_if: Some(Const(true)), skip_if: Some(Const(false))"));
        one(
            task(json!({"run_if": {"equals": [1]}})),
            "run_if",
            "`equals` takes a list of two values",
        );
        let b = with_task(task(json!({"run_if": "${var.token}", "skip_if": false})));
        assert!(b.contains("run_if: Some(Truthy("), "{b}");
        assert!(b.contains("skip_if: Some(Const(false))"), "{b}");
    }

    #[test]
    fn templates_are_checked_where_they_stand() {
        let t = task(json!({
            "headers": {"X": "${nope()}"},
            "params": {"q": "${env.}"},
            "assertions": {"contains": "${x", "json_path": {"a.b": {"deep": "${var.}"}}, "header": {"H": "${y"}},
        }));
        // The placeholder check of the whole arguments finds them first.
        let paths: Vec<String> = problems("LD_start_test", json!({ "tasks": [t] }))
            .into_iter()
            .map(|p| p.at.path)
            .collect();
        assert_eq!(
            paths,
            [
                "actions[0].args.tasks[0].headers.X",
                "actions[0].args.tasks[0].params.q",
                "actions[0].args.tasks[0].assertions.contains",
                "actions[0].args.tasks[0].assertions.json_path[\"a.b\"].deep",
                "actions[0].args.tasks[0].assertions.header.H",
            ]
        );
    }

    #[test]
    fn a_tasks_retry_and_network_are_checked_in_place() {
        one(
            task(json!({"retry": {"backoff_factor": 0.5}})),
            "retry.backoff_factor",
            "backoff_factor must be >= 1, found 0.5",
        );
        one(
            task(json!({"retry": {"retry_ratio": 0.5}})),
            "retry.retry_ratio",
            "retry_ratio is run-wide: set it in LD_start_test's `retry`, not in a task's",
        );
        one(
            task(json!({"network": {"loss_rate": 2}})),
            "network.loss_rate",
            "loss_rate must be a fraction from 0 to 1, found 2",
        );
    }

    #[test]
    fn a_tasks_retry_overrides_the_run_wide_one_field_by_field() {
        let a = json!({
            "retry": {"transient": 4, "flaky": 3},
            "tasks": [task(json!({"retry": {"flaky": 1}})), task(json!({}))],
        });
        let b = built("LD_start_test", a);
        let policies: Vec<&str> = b
            .match_indices("retry: Some(Policy")
            .map(|(i, _)| &b[i..])
            .collect();
        assert_eq!(policies.len(), 2, "{b}");
        assert!(policies[0].contains("budgets: [4, 1,"), "{b}");
        assert!(policies[1].contains("budgets: [4, 3,"), "{b}");
    }

    #[test]
    fn default_names() {
        assert_eq!(default_name("http://127.0.0.1:8080/a/b?x=1", 0), "/a/b");
        assert_eq!(default_name("http://127.0.0.1:8080", 0), "/");
        assert_eq!(default_name("${var.demo}/ok", 0), "/ok");
        assert_eq!(default_name("${var.demo}${var.path}/x", 0), "/x");
        assert_eq!(default_name("${var.demo}${var.path}", 0), "${var.path}");
        assert_eq!(default_name("/json", 0), "/json");
    }

    #[test]
    fn assertions_in_load_densitys_list_form_keep_their_order() {
        let b = with_task(task(json!({"assertions": [
            {"type": "contains", "value": "ok"},
            {"type": "status_code", "value": "200"},
            {"type": "not_contains", "value": 404},
            {"type": "json_path", "path": "data.items.0.id", "value": 7},
            {"type": "header", "name": "Content-Type", "value": "application/json"},
        ]})));
        let order: Vec<usize> = [
            "Contains(",
            "Status([200])",
            "NotContains(",
            "JsonPath(\"data.items.0.id\"",
            "Header(\"Content-Type\"",
        ]
        .iter()
        .map(|k| b.find(k).unwrap_or_else(|| panic!("{k} in {b}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{b}");
    }

    #[test]
    fn an_unknown_assertion_type_names_the_five() {
        let p = one(
            task(json!({"assertions": [{"type": "status_code", "value": 200}, {"type": "regex", "value": "x"}]})),
            "assertions[1].type",
            "unknown variant `regex`, expected one of `status_code`, `contains`, `not_contains`, `json_path`, `header`",
        );
        assert!(!p.message.contains("untagged"), "{p}");
        one(
            task(json!({"assertions": [{"type": "header", "value": "x"}]})),
            "assertions[0]",
            "missing field `name`",
        );
        // Inside the tagged item serde gives no path: reported once.
        one(
            task(json!({"assertions": [{"type": "contains", "value": "a", "bogus": 1}]})),
            "assertions[0]",
            "unknown field `bogus`",
        );
        one(
            task(json!({"assertions": {"status_code": "ok"}})),
            "assertions.status_code",
            "expected a whole number, found \"ok\"",
        );
        one(
            task(json!({"assertions": 5})),
            "assertions",
            "assertions must be an object or a list",
        );
    }

    #[test]
    fn params_are_an_object_or_a_list_of_pairs() {
        let b = with_task(task(
            json!({"params": [["q", "rust"], ["page", 2], ["q", "go"]]}),
        ));
        assert!(b.contains("params: [(\"q\", Template { pieces: [Literal(\"rust\")] }), (\"page\", Template { pieces: [Literal(\"2\")] }), (\"q\""), "{b}");
        one(
            task(json!({"params": [["q"]]})),
            "params",
            "expected a list of [name, value] pairs",
        );
        one(
            task(json!({"params": {"q": [1]}})),
            "params",
            "expected a string (or a number), found a list",
        );
    }

    #[test]
    fn numbers_may_be_written_as_strings_or_integral_floats() {
        assert!(with_task(task(json!({"timeout": "5"}))).contains("timeout: 5s"));
        assert!(with_task(task(json!({"weight": 2.0}))).contains("weight: 2"));
        one(
            task(json!({"weight": "heavy"})),
            "weight",
            "expected a whole number, found \"heavy\"",
        );
    }

    #[test]
    fn a_predicate_cannot_read_a_csv_row() {
        let found = problems(
            "LD_start_test",
            json!({"csv_sources": [{"name": "u", "file_path": "missing.csv"}],
                   "tasks": [task(json!({"run_if": {"equals": ["${csv.u.role}", "admin"]}}))]}),
        );
        assert!(
            found
                .iter()
                .any(|p| p.at.path == "actions[0].args.tasks[0].run_if"
                    && p.message.starts_with("run_if cannot read `${csv...}`")),
            "{found:#?}"
        );
    }
}
