//! What makes a response a success: assertions, and values extracted from it
//! into the user's own variables.

use crate::http::Response;
use crate::resolver::{CompiledValue, Lookup, Template};
use crate::stats::recorder::FailKind;
use serde_json::Value;

/// One assertion, compiled.
#[derive(Debug, Clone)]
pub enum Assertion {
    /// The status is one of these.
    Status(Vec<u16>),
    /// The body contains this text.
    Contains(Template),
    /// The body does not contain this text.
    NotContains(Template),
    /// This header's value contains this text.
    Header(String, Template),
    /// The value at this dotted path equals this one.
    JsonPath(String, CompiledValue),
}

/// A task's assertions, compiled, in the order they are checked: the first
/// that fails is the request's error.
#[derive(Debug, Clone, Default)]
pub struct Assertions {
    pub checks: Vec<Assertion>,
}

impl Assertions {
    fn needs_json(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c, Assertion::JsonPath(..)))
    }

    fn has_status(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c, Assertion::Status(_)))
    }

    /// Whether any assertion looks at the body.
    pub fn reads_body(&self) -> bool {
        self.checks.iter().any(|c| {
            matches!(
                c,
                Assertion::Contains(_) | Assertion::NotContains(_) | Assertion::JsonPath(..)
            )
        })
    }
}

/// Where an extracted value comes from.
#[derive(Debug, Clone)]
pub enum ExtractSource {
    JsonPath(String),
    Header(String),
    StatusCode,
}

/// One `extract` entry: a value for the user's variable `var`.
#[derive(Debug, Clone)]
pub struct Extract {
    pub var: String,
    pub from: ExtractSource,
}

/// A response judged: `Err((kind, message))` when it is a failure.
pub type Verdict = Result<(), (FailKind, String)>;

/// Checks a response against the assertions, then extracts values into `out`.
/// A value that is not there (header absent, path absent, body not JSON) is
/// skipped, its variable's name pushed to `missed`: never a failure.
pub fn judge(
    resp: &Response<'_>,
    asserts: &Assertions,
    extract: &[Extract],
    scope: &mut dyn Lookup,
    out: &mut Vec<(String, Value)>,
    missed: &mut Vec<String>,
) -> Verdict {
    let need_json = asserts.needs_json()
        || extract
            .iter()
            .any(|e| matches!(e.from, ExtractSource::JsonPath(_)));
    let mut json: Option<Result<Value, String>> = None;
    let body_json = || -> Result<Value, String> {
        serde_json::from_slice::<Value>(resp.body)
            .map_err(|e| format!("response body is not JSON ({e})"))
    };
    if need_json {
        json = Some(body_json());
    }
    for check in &asserts.checks {
        assert_one(resp, check, json.as_ref(), scope)?;
    }
    // Without a status_code assertion, a status >= 400 fails the request once
    // every other assertion held (a failed assertion is the more telling error).
    if !asserts.has_status() && resp.status >= 400 {
        return Err((FailKind::Status, format!("HTTP {}", resp.status)));
    }
    for e in extract {
        let value = match &e.from {
            ExtractSource::StatusCode => Some(Value::from(resp.status)),
            ExtractSource::Header(name) => resp.header(name).map(Value::from),
            ExtractSource::JsonPath(path) => match json.as_ref().expect("parsed above") {
                Ok(doc) => lookup(doc, path).cloned(),
                Err(_) => None,
            },
        };
        match value {
            Some(v) => out.push((e.var.clone(), v)),
            None => missed.push(e.var.clone()),
        }
    }
    Ok(())
}

/// Checks one assertion.
fn assert_one(
    resp: &Response<'_>,
    check: &Assertion,
    json: Option<&Result<Value, String>>,
    scope: &mut dyn Lookup,
) -> Verdict {
    let fail = |msg: String| Err((FailKind::Assertion, msg));
    match check {
        Assertion::Status(codes) if !codes.contains(&resp.status) => fail(format!(
            "expected status {}, got {}",
            list(codes),
            resp.status
        )),
        Assertion::Status(_) => Ok(()),
        Assertion::Contains(t) => {
            let needle = render(t, scope)?;
            if contains(resp.body, needle.as_bytes()) {
                Ok(())
            } else {
                fail(format!("expected the body to contain {}", quote(&needle)))
            }
        }
        Assertion::NotContains(t) => {
            let needle = render(t, scope)?;
            if contains(resp.body, needle.as_bytes()) {
                fail(format!(
                    "expected the body not to contain {}",
                    quote(&needle)
                ))
            } else {
                Ok(())
            }
        }
        Assertion::Header(name, t) => {
            let want = render(t, scope)?;
            match resp.header(name) {
                Some(v) if v.contains(want.as_str()) => Ok(()),
                Some(v) => {
                    let (want, got) = if is_secret_name(name) {
                        (REDACTED.to_string(), REDACTED.to_string())
                    } else {
                        (quote(&want), quote(v))
                    };
                    fail(format!(
                        "expected header {name} to contain {want}, got {got}"
                    ))
                }
                None => fail(format!("expected header {name}, it is missing")),
            }
        }
        Assertion::JsonPath(path, expected) => {
            let doc = match json.expect("parsed when a json_path is asserted") {
                Ok(v) => v,
                Err(e) => return fail(e.clone()),
            };
            let want = expected
                .render(scope)
                .map_err(|e| (FailKind::Request, e.to_string()))?;
            match lookup(doc, path) {
                Some(got) if loosely_equal(got, &want) => Ok(()),
                Some(got) => {
                    let (want, got) = if path_is_secret(path) {
                        (REDACTED.to_string(), REDACTED.to_string())
                    } else {
                        (shown_json(&want), shown_json(got))
                    };
                    fail(format!("expected json_path {path} = {want}, got {got}"))
                }
                None => fail(format!("json_path {path} not found in the response")),
            }
        }
    }
}

fn render(t: &Template, scope: &mut dyn Lookup) -> Result<String, (FailKind, String)> {
    t.render_to_string(scope)
        .map_err(|e| (FailKind::Request, e.to_string()))
}

/// What a message shows instead of a credential's value.
const REDACTED: &str = "\"***\"";

/// How many characters of a value a message quotes before `…`.
pub const QUOTE_LIMIT: usize = 64;

pub use crate::http::secret::is_secret_name;

/// Whether any segment of a dotted JSON path names a credential.
fn path_is_secret(path: &str) -> bool {
    path.split(['.', '[', ']']).any(is_secret_name)
}

/// `s` quoted for a message, cut to [`QUOTE_LIMIT`] characters plus `…`.
pub fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_LIMIT) {
        Some((i, _)) => format!("{:?}", format!("{}…", &s[..i])),
        None => format!("{s:?}"),
    }
}

/// A JSON value for a message: the values of credential-named keys, at any
/// depth, replaced by `"***"`, and the text cut to [`QUOTE_LIMIT`]
/// characters plus `…`.
fn shown_json(v: &Value) -> String {
    fn redact(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if is_secret_name(k) {
                        *x = Value::from("***");
                    } else {
                        redact(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(redact),
            _ => {}
        }
    }
    let mut v = v.clone();
    redact(&mut v);
    let text = v.to_string();
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn list(codes: &[u16]) -> String {
    let v: Vec<String> = codes.iter().map(u16::to_string).collect();
    if v.len() == 1 {
        v[0].clone()
    } else {
        format!("one of {}", v.join(", "))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Follows a dotted path (`items.0.id`, `items[0].id`) into a JSON document.
pub fn lookup<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = doc;
    for seg in path.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Equality that treats `1` and `1.0`, and `"5"` and `5`, as the same: values
/// from `${...}` placeholders arrive as strings.
pub fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), other) | (other, Value::String(s)) if !other.is_string() => {
            match other {
                Value::Number(n) => s.parse::<f64>().ok() == n.as_f64(),
                Value::Bool(b) => s == if *b { "true" } else { "false" },
                Value::Null => s == "null",
                _ => false,
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_dots_and_brackets() {
        let d = json!({"items": [{"id": 1}, {"id": 2}], "a": {"b": "c"}});
        assert_eq!(lookup(&d, "items.1.id"), Some(&json!(2)));
        assert_eq!(lookup(&d, "items[0].id"), Some(&json!(1)));
        assert_eq!(lookup(&d, "a.b"), Some(&json!("c")));
        assert_eq!(lookup(&d, "a.x"), None);
        assert_eq!(lookup(&d, "items.9"), None);
    }

    #[test]
    fn lookup_takes_numeric_list_indices_at_any_depth() {
        let d =
            json!({"data": {"users": [{"tags": ["a", "b"]}, {"tags": [], "id": 7}]}, "0": "key"});
        assert_eq!(lookup(&d, "data.users.0.tags.1"), Some(&json!("b")));
        assert_eq!(lookup(&d, "data.users.1.id"), Some(&json!(7)));
        assert_eq!(
            lookup(&d, "0"),
            Some(&json!("key")),
            "a digit key of an object"
        );
        assert_eq!(lookup(&d, "data.users.-1"), None);
        assert_eq!(lookup(&d, "data.users.x"), None);
        assert_eq!(lookup(&json!([[1, [2, 3]]]), "0.1.1"), Some(&json!(3)));
        assert_eq!(lookup(&d, ""), Some(&d));
    }

    #[test]
    fn missing_extract_values_are_skipped_not_failures() {
        let resp = Response {
            status: 201,
            head: b"Location: /x/1\r\n",
            body: b"{\"items\": [{\"id\": 5}]}",
            body_bytes: 0,
            decoded_bytes: None,
        };
        let ex = |var: &str, from: ExtractSource| Extract {
            var: var.into(),
            from,
        };
        let extract = [
            ex("id", ExtractSource::JsonPath("items.0.id".into())),
            ex("gone", ExtractSource::JsonPath("items.3.id".into())),
            ex("loc", ExtractSource::Header("location".into())),
            ex("etag", ExtractSource::Header("ETag".into())),
            ex("code", ExtractSource::StatusCode),
        ];
        let vars = crate::resolver::Vars::default();
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(0);
        let mut scope = crate::resolver::Scope::new(&vars, &mut rng);
        let (mut out, mut missed) = (Vec::new(), Vec::new());
        let v = judge(
            &resp,
            &Assertions::default(),
            &extract,
            &mut scope,
            &mut out,
            &mut missed,
        );
        assert_eq!(v, Ok(()));
        assert_eq!(
            out,
            [
                ("id".to_string(), json!(5)),
                ("loc".to_string(), json!("/x/1")),
                ("code".to_string(), json!(201)),
            ]
        );
        assert_eq!(missed, ["gone", "etag"]);
        // A body that is not JSON: skipped too.
        let text = Response {
            body: b"not json",
            ..resp
        };
        let (mut out, mut missed) = (Vec::new(), Vec::new());
        let v = judge(
            &text,
            &Assertions::default(),
            &extract[..1],
            &mut scope,
            &mut out,
            &mut missed,
        );
        assert_eq!((v, out.len(), missed), (Ok(()), 0, vec!["id".to_string()]));
    }

    #[test]
    fn loose_equality() {
        assert!(loosely_equal(&json!(1), &json!(1.0)));
        assert!(loosely_equal(&json!("5"), &json!(5)));
        assert!(loosely_equal(&json!(true), &json!("true")));
        assert!(!loosely_equal(&json!("5"), &json!(6)));
        assert!(!loosely_equal(&json!([1]), &json!("[1]")));
    }

    /// The failure message of `asserts` on a 200 response with `head` and `body`.
    fn message(head: &str, body: &str, asserts: &Assertions) -> String {
        let resp = Response {
            status: 200,
            head: head.as_bytes(),
            body: body.as_bytes(),
            body_bytes: body.len() as u64,
            decoded_bytes: None,
        };
        let vars = crate::resolver::Vars::default();
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(0);
        let mut scope = crate::resolver::Scope::new(&vars, &mut rng);
        match judge(
            &resp,
            asserts,
            &[],
            &mut scope,
            &mut Vec::new(),
            &mut Vec::new(),
        ) {
            Err((_, m)) => m,
            Ok(()) => panic!("expected a failure"),
        }
    }

    fn header(name: &str, want: &str) -> Assertions {
        Assertions {
            checks: vec![Assertion::Header(
                name.to_string(),
                Template::parse(want).unwrap(),
            )],
        }
    }

    fn json_path(path: &str, want: Value) -> Assertions {
        Assertions {
            checks: vec![Assertion::JsonPath(
                path.to_string(),
                CompiledValue::compile(&want).unwrap(),
            )],
        }
    }

    #[test]
    fn credential_header_values_are_redacted_in_messages() {
        for name in [
            "Authorization",
            "set-cookie",
            "X-Api-Key",
            "X-Session-Token",
        ] {
            let head = format!("{name}: Bearer SECRETVALUE\r\nContent-Type: text/plain\r\n");
            let m = message(&head, "", &header(name, "OTHERSECRET"));
            assert_eq!(
                m,
                format!("expected header {name} to contain \"***\", got \"***\"")
            );
        }
        // Other headers are quoted as they are.
        let m = message(
            "Content-Type: text/plain\r\n",
            "",
            &header("content-type", "json"),
        );
        assert_eq!(
            m,
            "expected header content-type to contain \"json\", got \"text/plain\""
        );
    }

    #[test]
    fn credential_json_values_are_redacted_in_messages() {
        let body = r#"{"headers": {"authorization": "Bearer SECRETVALUE", "host": "h"},
                       "data": {"access_token": "SECRETVALUE", "n": 1}}"#;
        let m = message("", body, &json_path("headers.authorization", json!("x")));
        assert_eq!(
            m,
            "expected json_path headers.authorization = \"***\", got \"***\""
        );
        let m = message("", body, &json_path("headers", json!("x")));
        assert_eq!(
            m,
            r#"expected json_path headers = "x", got {"authorization":"***","host":"h"}"#
        );
        let m = message("", body, &json_path("data", json!([])));
        assert!(!m.contains("SECRETVALUE"), "{m}");
        assert!(m.contains(r#""access_token":"***""#), "{m}");
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "é".repeat(100);
        let head = format!("X-Long: {long}\r\n");
        let m = message(&head, "", &header("X-Long", "nope"));
        let got = format!("got \"{}…\"", "é".repeat(QUOTE_LIMIT));
        assert!(m.ends_with(&got), "{m}");
        let m = message(
            "",
            &format!("{{\"a\": \"{long}\"}}"),
            &json_path("a", json!(1)),
        );
        assert!(m.ends_with('…') && m.chars().count() < 120, "{m}");
        let needle = "n".repeat(200);
        let asserts = Assertions {
            checks: vec![Assertion::Contains(Template::parse(&needle).unwrap())],
        };
        let m = message("", "body", &asserts);
        assert_eq!(
            m,
            format!(
                "expected the body to contain \"{}…\"",
                "n".repeat(QUOTE_LIMIT)
            )
        );
        assert_eq!(quote("short"), "\"short\"");
    }
}
