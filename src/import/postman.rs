//! Postman collections (v2.1, and v2.0) → requests: folders flattened in
//! order (names `"Folder / Request"`), `{{var}}` collection variables
//! substituted, auth (basic, bearer) inherited from folders and the
//! collection.

use super::{json_or_text, Body, Request};
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};

/// How deep folders may nest.
const MAX_DEPTH: usize = 64;

/// What is substituted, and what was not known.
struct Vars {
    values: HashMap<String, String>,
    unknown: BTreeSet<String>,
    unsupported: BTreeSet<String>,
}

impl Vars {
    /// `{{name}}` → its value; an unknown name → `${var.name}` (a plan
    /// variable the run can `--set`); dynamic `{{$guid}}` / `{{$randomUUID}}`
    /// → `${uuid()}`, `{{$randomInt}}` → `${randint(0, 1000)}`.
    fn sub(&mut self, s: &str) -> String {
        let mut s = s.to_string();
        // Values may name other variables: a few rounds.
        for _ in 0..4 {
            if !s.contains("{{") {
                break;
            }
            s = self.once(&s);
        }
        s
    }

    fn once(&mut self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start + 2..].find("}}") else {
                break;
            };
            out.push_str(&rest[..start]);
            let name = rest[start + 2..start + 2 + len].trim();
            let whole = &rest[start..start + 4 + len];
            match (self.values.get(name), name) {
                (Some(v), _) => out.push_str(v),
                (None, "$guid" | "$randomUUID") => out.push_str("${uuid()}"),
                (None, "$randomInt") => out.push_str("${randint(0, 1000)}"),
                (None, n) if crate::resolver::valid_var_name(n) => {
                    self.unknown.insert(n.to_string());
                    out.push_str(&format!("${{var.{n}}}"));
                }
                (None, n) => {
                    self.unsupported.insert(n.to_string());
                    out.push_str(whole);
                }
            }
            rest = &rest[start + 4 + len..];
        }
        out.push_str(rest);
        out
    }
}

pub(super) fn requests(doc: &Value, warnings: &mut Vec<String>) -> Result<Vec<Request>, String> {
    let items = doc
        .get("item")
        .and_then(Value::as_array)
        .ok_or("not a Postman collection: it has no `item` list (export it from Postman as Collection v2.1)")?;
    if let Some(schema) = doc.pointer("/info/schema").and_then(Value::as_str) {
        if !schema.contains("v2.") {
            return Err(format!(
                "collection schema {schema} is not read: export it as Collection v2.1"
            ));
        }
    }
    let values = doc
        .get("variable")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("disabled") != Some(&json!(true)))
        .filter_map(|v| {
            let key = v.get("key").or_else(|| v.get("id"))?.as_str()?.to_string();
            let value = match v.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            Some((key, value))
        })
        .collect();
    let mut vars = Vars {
        values,
        unknown: BTreeSet::new(),
        unsupported: BTreeSet::new(),
    };
    let mut out = Vec::new();
    walk(
        items,
        &[],
        doc.get("auth"),
        &mut vars,
        &mut out,
        warnings,
        0,
    )?;
    if !vars.unknown.is_empty() {
        let names: Vec<&str> = vars.unknown.iter().map(String::as_str).collect();
        warnings.push(format!(
            "variables the collection does not define became plan variables: {}; give them with --set NAME=VALUE (or LD_register_variable)",
            names
                .iter()
                .map(|n| format!("${{var.{n}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !vars.unsupported.is_empty() {
        let names: Vec<String> = vars
            .unsupported
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect();
        warnings.push(format!(
            "left as written (no counterpart here): {}",
            names.join(", ")
        ));
    }
    Ok(out)
}

fn walk(
    items: &[Value],
    folders: &[String],
    auth: Option<&Value>,
    vars: &mut Vars,
    out: &mut Vec<Request>,
    warnings: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("folders nest deeper than {MAX_DEPTH}"));
    }
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        // A folder's own auth is inherited by what it holds.
        let auth = match item.get("auth") {
            Some(a) if a.get("type").and_then(Value::as_str) != Some("inherit") => Some(a),
            _ => auth,
        };
        if let Some(children) = item.get("item").and_then(Value::as_array) {
            let mut path = folders.to_vec();
            path.push(name);
            walk(children, &path, auth, vars, out, warnings, depth + 1)?;
        } else if let Some(req) = item.get("request") {
            let mut full: Vec<&str> = folders.iter().map(String::as_str).collect();
            full.push(&name);
            let full = full.join(" / ");
            let status = item
                .get("response")
                .and_then(|r| r.get(0))
                .and_then(|r| r.get("code"))
                .and_then(Value::as_u64)
                .filter(|s| (100..=599).contains(s))
                .map(|s| s as u16);
            out.push(request(req, &full, auth, status, vars, warnings)?);
        }
    }
    Ok(())
}

fn request(
    req: &Value,
    name: &str,
    inherited: Option<&Value>,
    status: Option<u16>,
    vars: &mut Vars,
    warnings: &mut Vec<String>,
) -> Result<Request, String> {
    // A request may be just its URL.
    let (method, url) = match req {
        Value::String(u) => ("GET".to_string(), vars.sub(u)),
        _ => (
            req.get("method")
                .and_then(Value::as_str)
                .unwrap_or("GET")
                .to_string(),
            url(req.get("url"), vars),
        ),
    };
    if url.is_empty() {
        return Err(format!("request {name:?} has no URL"));
    }
    let headers: Vec<(String, String)> = req
        .get("header")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|h| h.get("disabled") != Some(&json!(true)))
        .filter_map(|h| {
            let k = h.get("key")?.as_str()?;
            let v = h.get("value").and_then(Value::as_str).unwrap_or("");
            Some((vars.sub(k), vars.sub(v)))
        })
        .collect();
    let auth = match req.get("auth") {
        Some(a) if a.get("type").and_then(Value::as_str) != Some("inherit") => Some(a),
        _ => inherited,
    };
    let mut extra = Map::new();
    if let Some(a) = auth {
        if let Some(t) = task_auth(a, name, vars, warnings) {
            // A request's own Authorization header wins.
            if super::header(&headers, "authorization").is_none() {
                extra.insert("auth".into(), t);
            }
        }
    }
    let body = body(req.get("body"), &headers, name, vars, warnings);
    Ok(Request {
        method: method.to_ascii_lowercase(),
        url,
        name: Some(name.to_string()),
        headers,
        body,
        status,
        extra,
    })
}

/// A URL as a string, or as an object: its `raw`, else built from its parts.
fn url(u: Option<&Value>, vars: &mut Vars) -> String {
    match u {
        Some(Value::String(s)) => vars.sub(s),
        Some(o @ Value::Object(_)) => {
            let enabled = |q: &&Value| q.get("disabled") != Some(&json!(true));
            let query: Vec<String> = o
                .get("query")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(enabled)
                .filter_map(|q| {
                    let k = q.get("key")?.as_str()?;
                    match q.get("value").and_then(Value::as_str) {
                        Some(v) => Some(format!("{k}={v}")),
                        None => Some(k.to_string()),
                    }
                })
                .collect();
            let with_query = |s: String| {
                if query.is_empty() {
                    s
                } else {
                    format!("{s}?{}", query.join("&"))
                }
            };
            if let Some(raw) = o.get("raw").and_then(Value::as_str) {
                // The query list says which parameters are on; raw has them all.
                let raw = match o.get("query") {
                    Some(Value::Array(_)) => {
                        with_query(raw.split('?').next().unwrap_or("").to_string())
                    }
                    _ => raw.to_string(),
                };
                return vars.sub(&raw);
            }
            let join = |v: Option<&Value>, sep: &str| match v {
                Some(Value::Array(parts)) => parts
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(sep),
                Some(Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let protocol = o.get("protocol").and_then(Value::as_str).unwrap_or("http");
            let host = join(o.get("host"), ".");
            let port = o
                .get("port")
                .and_then(Value::as_str)
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let path = join(o.get("path"), "/");
            let s = with_query(format!(
                "{protocol}://{host}{port}/{}",
                path.trim_start_matches('/')
            ));
            vars.sub(&s)
        }
        _ => String::new(),
    }
}

/// The value of entry `key` of an auth's list (`[{"key": ..., "value": ...}]`).
fn auth_value(list: Option<&Value>, key: &str) -> String {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("key").and_then(Value::as_str) == Some(key))
        .and_then(|e| e.get("value"))
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default()
}

/// Postman's basic or bearer auth as a task's `auth` (resolved when the
/// request is sent, so a `${var.NAME}` in it works).
fn task_auth(a: &Value, name: &str, vars: &mut Vars, warnings: &mut Vec<String>) -> Option<Value> {
    match a.get("type").and_then(Value::as_str).unwrap_or("noauth") {
        "noauth" => None,
        "basic" => Some(json!({
            "type": "basic",
            "username": vars.sub(&auth_value(a.get("basic"), "username")),
            "password": vars.sub(&auth_value(a.get("basic"), "password")),
        })),
        "bearer" => Some(json!({
            "type": "bearer",
            "token": vars.sub(&auth_value(a.get("bearer"), "token")),
        })),
        other => {
            warnings.push(format!(
                "{name}: auth type {other:?} left out (basic and bearer are written); add the header it sends"
            ));
            None
        }
    }
}

fn body(
    b: Option<&Value>,
    headers: &[(String, String)],
    name: &str,
    vars: &mut Vars,
    warnings: &mut Vec<String>,
) -> Body {
    let Some(b) = b else { return Body::None };
    if b.get("disabled") == Some(&json!(true)) {
        return Body::None;
    }
    let fields = |list: Option<&Value>, vars: &mut Vars, warnings: &mut Vec<String>| {
        let mut form = Map::new();
        for f in list.and_then(Value::as_array).into_iter().flatten() {
            if f.get("disabled") == Some(&json!(true)) {
                continue;
            }
            let Some(k) = f.get("key").and_then(Value::as_str) else {
                continue;
            };
            if f.get("type").and_then(Value::as_str) == Some("file") {
                warnings.push(format!(
                    "{name}: form file field {k:?} left out (text fields are written)"
                ));
                continue;
            }
            let v = f.get("value").and_then(Value::as_str).unwrap_or("");
            form.insert(vars.sub(k), json!(vars.sub(v)));
        }
        form
    };
    match b.get("mode").and_then(Value::as_str).unwrap_or("") {
        "raw" => {
            let raw = vars.sub(b.get("raw").and_then(Value::as_str).unwrap_or(""));
            if raw.is_empty() {
                return Body::None;
            }
            let language = b.pointer("/options/raw/language").and_then(Value::as_str);
            let ctype = super::header(headers, "content-type").unwrap_or("");
            if language == Some("json") || ctype.contains("json") {
                json_or_text(&raw)
            } else {
                Body::Data(json!(raw))
            }
        }
        "urlencoded" => {
            let form = fields(b.get("urlencoded"), vars, warnings);
            if form.is_empty() {
                Body::None
            } else {
                Body::Data(Value::Object(form))
            }
        }
        "formdata" => {
            let form = fields(b.get("formdata"), vars, warnings);
            if !form.is_empty() {
                warnings.push(format!(
                    "{name}: form-data fields are sent URL-encoded (a plan's `data` object)"
                ));
                Body::Data(Value::Object(form))
            } else {
                Body::None
            }
        }
        "graphql" => {
            let g = b.get("graphql").cloned().unwrap_or_default();
            let query = vars.sub(g.get("query").and_then(Value::as_str).unwrap_or(""));
            let variables = g
                .get("variables")
                .and_then(Value::as_str)
                .map(|v| vars.sub(v))
                .and_then(|v| serde_json::from_str::<Value>(&v).ok())
                .unwrap_or(json!({}));
            Body::Json(json!({"query": query, "variables": variables}))
        }
        "" => Body::None,
        other => {
            warnings.push(format!("{name}: body mode {other:?} left out (raw, urlencoded, formdata text fields and graphql are written)"));
            Body::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_substituted_and_unknown_ones_become_plan_variables() {
        let mut v = Vars {
            values: [
                ("base".to_string(), "http://h:1".to_string()),
                ("api".to_string(), "{{base}}/api".to_string()),
            ]
            .into_iter()
            .collect(),
            unknown: BTreeSet::new(),
            unsupported: BTreeSet::new(),
        };
        assert_eq!(
            v.sub("{{api}}/x?t={{token}}&id={{$guid}}"),
            "http://h:1/api/x?t=${var.token}&id=${uuid()}"
        );
        assert_eq!(
            v.sub("{{$timestamp}} {{ unclosed"),
            "{{$timestamp}} {{ unclosed"
        );
        assert_eq!(v.unknown.iter().collect::<Vec<_>>(), ["token"]);
        assert_eq!(v.unsupported.iter().collect::<Vec<_>>(), ["$timestamp"]);
    }
}
