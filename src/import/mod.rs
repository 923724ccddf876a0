//! Importers: recorded or described traffic (a HAR file, cURL commands, an
//! OpenAPI 3 document, a Postman v2.1 collection) → a plan of this tool, in
//! LoadDensity's importer conventions: one task per request, in order, in a
//! `sequence` scenario; `name` = `"METHOD /path?query"`; the recorded status
//! as a list-form `status_code` assertion; the origin as `${var.base}`.
//!
//! Each format has its own module turning its document into [`Request`]s;
//! [`build`] filters them (static assets, `include` / `exclude`) and writes
//! the plan. `loaddensity import` ([`cli`]) and the `LD_*_to_action_json`
//! commands (`crate::commands::import`) both come here.

pub mod cli;
mod curl;
mod har;
mod openapi;
mod postman;
mod yaml;

use indexmap::IndexMap;
use regex::Regex;
use serde_json::{json, Map, Value};

/// The largest document an importer reads.
pub const MAX_DOC_BYTES: u64 = 64 * 1024 * 1024;

/// The formats, with their names as the CLI and the commands spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Har,
    Curl,
    Openapi,
    Postman,
}

impl Format {
    /// `har`, `curl`, `openapi`, `postman`: the CLI's word and the inline
    /// argument of the plan command.
    pub fn word(self) -> &'static str {
        match self {
            Format::Har => "har",
            Format::Curl => "curl",
            Format::Openapi => "openapi",
            Format::Postman => "postman",
        }
    }

    /// What the document is called in messages.
    pub fn what(self) -> &'static str {
        match self {
            Format::Har => "HAR file",
            Format::Curl => "cURL file",
            Format::Openapi => "OpenAPI document",
            Format::Postman => "Postman collection",
        }
    }
}

/// A document to import: JSON for HAR, OpenAPI and Postman, text for cURL.
#[derive(Debug, Clone)]
pub enum Doc {
    Json(Value),
    Text(String),
}

/// Reads a document of `format` from its text (a file's or standard input's).
pub fn parse_doc(format: Format, text: &str) -> Result<Doc, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Curl => Ok(Doc::Text(text.to_string())),
        _ => match serde_json::from_str(text) {
            Ok(v) => Ok(Doc::Json(v)),
            // An OpenAPI document is often YAML: one that does not start
            // as JSON does is read as YAML.
            Err(_) if format == Format::Openapi && !text.trim_start().starts_with(['{', '[']) => {
                yaml::to_json(text).map(Doc::Json)
            }
            Err(e) => Err(format!("not JSON: {e}")),
        },
    }
}

/// How the plan is written: LoadDensity's `har_to_action_json` arguments,
/// plus the static-asset filter.
#[derive(Debug, Clone)]
pub struct Options {
    pub user: String,
    pub user_count: u64,
    pub spawn_rate: f64,
    pub test_time: f64,
    /// Keep only requests whose URL one of these matches (searched, not anchored).
    pub include: Vec<Regex>,
    /// Drop requests whose URL one of these matches.
    pub exclude: Vec<Regex>,
    /// Keep requests for static assets (dropped by default).
    pub include_static: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            user: "fast_http_user".into(),
            user_count: 10,
            spawn_rate: 5.0,
            test_time: 60.0,
            include: Vec::new(),
            exclude: Vec::new(),
            include_static: false,
        }
    }
}

/// Compiles `include` / `exclude` patterns; the error names the pattern.
pub fn regexes(patterns: &[String]) -> Result<Vec<Regex>, (usize, String)> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Regex::new(p).map_err(|e| {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("").trim().to_string();
                (i, format!("{p:?} is not a regular expression: {why}"))
            })
        })
        .collect()
}

/// One request a document describes.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Lower case, as LoadDensity writes it.
    pub method: String,
    /// As the document gives it, absolute (`http://host:port/path?query`),
    /// or starting with a `${...}` placeholder.
    pub url: String,
    /// A name of the document's own (Postman's); else `"METHOD /path?query"`.
    pub name: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The status the document recorded or promises.
    pub status: Option<u16>,
    /// Task fields besides these (`verify`, `timeout`).
    pub extra: Map<String, Value>,
}

/// A request's body, as a task carries it.
#[derive(Debug, Clone, Default)]
pub enum Body {
    #[default]
    None,
    /// `json`: sent as JSON.
    Json(Value),
    /// `data`: text as it is, or an object sent as a form.
    Data(Value),
}

/// What an importer made of a document.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The plan, `{"load_density": [...]}`.
    pub plan: Value,
    /// Things the user should know (skipped parts, unknown variables).
    pub warnings: Vec<String>,
    pub tasks: usize,
    /// Requests dropped as static assets.
    pub static_dropped: usize,
    /// Requests dropped by `include` / `exclude`.
    pub filtered: usize,
}

/// Imports a document: its requests, filtered, as a plan.
pub fn import(format: Format, doc: &Doc, opts: &Options) -> Result<Imported, String> {
    let mut warnings = Vec::new();
    let requests = match (format, doc) {
        (Format::Curl, Doc::Text(t)) => curl::requests(t, &mut warnings)?,
        (Format::Curl, Doc::Json(Value::String(t))) => curl::requests(t, &mut warnings)?,
        (Format::Curl, Doc::Json(_)) => {
            return Err("expected the cURL command text as a string".into())
        }
        (_, Doc::Text(t)) => {
            let doc = parse_doc(format, t)?;
            return import(format, &doc, opts);
        }
        (Format::Har, Doc::Json(v)) => har::requests(v, &mut warnings)?,
        (Format::Openapi, Doc::Json(v)) => openapi::requests(v, &mut warnings)?,
        (Format::Postman, Doc::Json(v)) => postman::requests(v, &mut warnings)?,
    };
    build(requests, opts, warnings)
}

/// File extensions (of the URL's path) of static assets, dropped unless
/// `include_static`: what a browser fetches besides the application's own
/// requests.
pub const STATIC_EXTENSIONS: &[&str] = &[
    "css", "js", "mjs", "cjs", "map", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico",
    "bmp", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "wav",
];

/// Whether `url` names a static asset: its path's last segment ends in one
/// of [`STATIC_EXTENSIONS`] (any case).
pub fn is_static(url: &str) -> bool {
    let rest = split_origin(url).map_or(url, |(_, rest)| rest);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => STATIC_EXTENSIONS
            .iter()
            .any(|e| e.eq_ignore_ascii_case(ext)),
        _ => false,
    }
}

/// `http://Host:8080/a?b` → (`http://host:8080`, `/a?b`): the origin (scheme
/// and host lower-cased) and the rest as written. `None` when `url` is not an
/// absolute http(s) URL.
pub fn split_origin(url: &str) -> Option<(String, &str)> {
    let (scheme, after) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let host = &after[..end];
    if host.is_empty() || host.contains("${") {
        return None;
    }
    let origin = format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    );
    Some((origin, &after[end..]))
}

/// The path and query of `rest` (after the origin): fragment dropped, `/`
/// when empty.
fn path_and_query(rest: &str) -> String {
    let rest = rest.split('#').next().unwrap_or("");
    if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    }
}

/// Headers no task sends as written: the client sets them (LoadDensity's
/// list), and HTTP/2 pseudo-headers (`:authority`, ...).
pub fn dropped_header(name: &str) -> bool {
    name.starts_with(':')
        || ["host", "content-length", "connection"]
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
}

/// The header set a task sends: dropped ones left out, repeated names
/// joined (`Cookie` with `; `, others with `, `), the first spelling kept.
pub fn task_headers(headers: &[(String, String)]) -> IndexMap<String, String> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    for (name, value) in headers {
        let name = name.trim();
        if name.is_empty() || dropped_header(name) {
            continue;
        }
        let existing = out.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
        match existing {
            Some(k) => {
                let sep = if name.eq_ignore_ascii_case("cookie") {
                    "; "
                } else {
                    ", "
                };
                let v = out.get_mut(&k).expect("the key is there");
                v.push_str(sep);
                v.push_str(value);
            }
            None => {
                out.insert(name.to_string(), value.clone());
            }
        }
    }
    out
}

/// The value of header `name` (any case), if given.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A number as JSON: whole numbers without a fraction (`5`, not `5.0`).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Filters the requests and writes the plan.
pub fn build(
    requests: Vec<Request>,
    opts: &Options,
    mut warnings: Vec<String>,
) -> Result<Imported, String> {
    let found = requests.len();
    let mut static_dropped = 0;
    let mut filtered = 0;
    let mut kept = Vec::new();
    for r in requests {
        if !opts.include_static && is_static(&r.url) {
            static_dropped += 1;
        } else if (!opts.include.is_empty() && !opts.include.iter().any(|p| p.is_match(&r.url)))
            || opts.exclude.iter().any(|p| p.is_match(&r.url))
        {
            filtered += 1;
        } else {
            kept.push(r);
        }
    }
    if kept.is_empty() {
        return Err(if found == 0 {
            "the document holds no request to import".to_string()
        } else {
            format!(
                "no request left to import: {found} found, {static_dropped} dropped as static assets, {filtered} by include/exclude (--include-static keeps static assets; check the patterns)"
            )
        });
    }
    // The most common origin becomes ${var.base}; the first seen wins a tie.
    let mut origins: IndexMap<String, usize> = IndexMap::new();
    for r in &kept {
        if let Some((o, _)) = split_origin(&r.url) {
            *origins.entry(o).or_default() += 1;
        }
    }
    let base = origins
        .iter()
        .fold(None::<(&String, usize)>, |best, (o, &n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((o, n)),
        })
        .map(|(o, _)| o.clone());
    if origins.len() > 1 {
        let others: Vec<&str> = origins
            .keys()
            .filter(|o| Some(*o) != base.as_ref())
            .map(String::as_str)
            .collect();
        warnings.push(format!(
            "requests go to {} origins: {} is ${{var.base}}, the requests to {} keep their absolute URLs",
            origins.len(),
            base.as_deref().unwrap_or(""),
            others.join(", ")
        ));
    }
    let tasks: Vec<Value> = kept.iter().map(|r| task(r, base.as_deref())).collect();
    let mut test = Map::new();
    test.insert("user_detail_dict".into(), json!({ "user": opts.user }));
    test.insert("tasks".into(), json!({"mode": "sequence", "tasks": tasks}));
    test.insert("user_count".into(), json!(opts.user_count));
    test.insert("spawn_rate".into(), number(opts.spawn_rate));
    test.insert("test_time".into(), number(opts.test_time));
    let mut actions = Vec::new();
    if let Some(base) = &base {
        actions.push(json!(["LD_register_variable", {"name": "base", "value": base}]));
    }
    actions.push(json!(["LD_start_test", Value::Object(test)]));
    let plan = json!({ "load_density": actions });
    // The plan must be one this tool runs; say so when it is not.
    for p in crate::plan::validate_str(&plan.to_string()) {
        warnings.push(format!(
            "the written plan does not validate: {}: {}",
            p.at.path, p.message
        ));
    }
    Ok(Imported {
        plan,
        warnings,
        tasks: kept.len(),
        static_dropped,
        filtered,
    })
}

/// One request as a task.
fn task(r: &Request, base: Option<&str>) -> Value {
    let (url, shown) = match split_origin(&r.url) {
        Some((origin, rest)) => {
            let pq = path_and_query(rest);
            let url = if Some(origin.as_str()) == base {
                format!("${{var.base}}{pq}")
            } else {
                format!("{origin}{pq}")
            };
            (url, pq)
        }
        None => (r.url.clone(), r.url.clone()),
    };
    let mut t = Map::new();
    t.insert("method".into(), json!(r.method));
    t.insert("request_url".into(), json!(url));
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{} {shown}", r.method.to_ascii_uppercase()));
    t.insert("name".into(), json!(name));
    let headers = task_headers(&r.headers);
    if !headers.is_empty() {
        t.insert("headers".into(), json!(headers));
    }
    match &r.body {
        Body::None => {}
        Body::Json(v) => {
            t.insert("json".into(), v.clone());
        }
        Body::Data(v) => {
            t.insert("data".into(), v.clone());
        }
    }
    for (k, v) in &r.extra {
        t.insert(k.clone(), v.clone());
    }
    if let Some(s) = r.status {
        t.insert(
            "assertions".into(),
            json!([{"type": "status_code", "value": s}]),
        );
    }
    Value::Object(t)
}

/// The body of a JSON request (`mime` names JSON): its parsed value as
/// `json`, else the text as `data` (LoadDensity's fallback).
pub fn json_or_text(text: &str) -> Body {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => Body::Json(v),
        Err(_) => Body::Data(json!(text)),
    }
}

/// Percent-encodes `s` for a URL's query or path (unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The plan as the CLI writes it: pretty JSON and a final newline.
pub fn plan_text(plan: &Value) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_assets_are_known_by_their_path_extension() {
        for url in [
            "http://h/static/app.js",
            "http://h/favicon.ico",
            "https://h:8443/a/b/style.CSS?v=3",
            "http://h/fonts/x.woff2#top",
            "http://h/app.js.map",
            "/logo.png",
        ] {
            assert!(is_static(url), "{url}");
        }
        for url in [
            "http://h/json",
            "http://h/",
            "http://h",
            "http://h/api/v1.2/users",
            "http://h/echo?file=x.js",
            "http://h/.css",
            "http://cdn.js/api",
        ] {
            assert!(!is_static(url), "{url}");
        }
    }

    #[test]
    fn origins_are_split_and_lower_cased() {
        assert_eq!(
            split_origin("HTTP://Example.COM:8080/A?b=C"),
            Some(("http://example.com:8080".into(), "/A?b=C"))
        );
        assert_eq!(
            split_origin("https://h?x=1"),
            Some(("https://h".into(), "?x=1"))
        );
        assert_eq!(split_origin("https://h"), Some(("https://h".into(), "")));
        assert_eq!(split_origin("ftp://h/x"), None);
        assert_eq!(split_origin("/relative"), None);
        assert_eq!(split_origin("${var.host}/x"), None);
        assert_eq!(path_and_query("?x=1#frag"), "/?x=1");
    }

    #[test]
    fn headers_drop_what_the_client_sets_and_join_repeats() {
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
        let out = task_headers(&[
            h(":authority", "x"),
            h("Host", "x"),
            h("content-length", "3"),
            h("Connection", "keep-alive"),
            h("cookie", "a=1"),
            h("Accept", "*/*"),
            h("Cookie", "b=2"),
        ]);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            [h("cookie", "a=1; b=2"), h("Accept", "*/*")]
        );
    }

    #[test]
    fn the_most_common_origin_is_the_base() {
        let r = |url: &str| Request {
            method: "get".into(),
            url: url.into(),
            ..Default::default()
        };
        let out = build(
            vec![
                r("http://a:1/x"),
                r("http://b:2/y?q=1"),
                r("http://b:2"),
                r("http://a:1/static/app.js"),
            ],
            &Options::default(),
            Vec::new(),
        )
        .unwrap();
        assert_eq!(out.static_dropped, 1);
        assert_eq!(
            out.plan["load_density"][0],
            json!(["LD_register_variable", {"name": "base", "value": "http://b:2"}])
        );
        let tasks = &out.plan["load_density"][1][1]["tasks"]["tasks"];
        assert_eq!(tasks[0]["request_url"], "http://a:1/x");
        assert_eq!(tasks[1]["request_url"], "${var.base}/y?q=1");
        assert_eq!(tasks[1]["name"], "GET /y?q=1");
        assert_eq!(tasks[2]["request_url"], "${var.base}/");
        assert!(out.warnings[0].contains("2 origins"), "{:?}", out.warnings);
        let test = &out.plan["load_density"][1][1];
        assert_eq!(test["spawn_rate"], json!(5));
        assert_eq!(test["test_time"], json!(60));
    }

    #[test]
    fn nothing_left_is_an_error_that_says_why() {
        let r = Request {
            method: "get".into(),
            url: "http://a/app.js".into(),
            ..Default::default()
        };
        let e = build(vec![r], &Options::default(), Vec::new()).unwrap_err();
        assert!(e.contains("1 dropped as static assets"), "{e}");
    }

    #[test]
    fn bad_patterns_are_named() {
        let (i, e) = regexes(&["ok".into(), "(".into()]).unwrap_err();
        assert_eq!(i, 1);
        assert!(e.starts_with("\"(\" is not a regular expression"), "{e}");
    }
}
