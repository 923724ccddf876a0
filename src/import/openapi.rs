//! OpenAPI 3.0 / 3.1 (JSON) → requests: one per path and method, in the
//! document's order, against `servers[0].url`.

use super::{percent_encode, Body, Request};
use serde_json::{json, Map, Value};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How deep `$ref`s and example schemas are followed.
const MAX_DEPTH: usize = 16;

pub(super) fn requests(doc: &Value, warnings: &mut Vec<String>) -> Result<Vec<Request>, String> {
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.") => {}
        Some(v) => {
            return Err(format!(
                "OpenAPI {v} is not read: only 3.0 and 3.1 documents"
            ))
        }
        None if doc.get("swagger").is_some() => {
            return Err("Swagger 2.0 documents are not read: convert it to OpenAPI 3 first".into())
        }
        None => return Err("not an OpenAPI document: it has no `openapi` version field".into()),
    }
    let base = server_url(doc, warnings);
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("the document has no `paths` object")?;
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = resolve(doc, item, 0);
        let shared = item.get("parameters").and_then(Value::as_array);
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let here = format!("{} {path}", method.to_ascii_uppercase());
            out.push(operation(
                doc, &base, path, method, op, shared, &here, warnings,
            ));
        }
    }
    Ok(out)
}

/// `servers[0].url` with its variables' defaults; relative URLs (and none)
/// go to `http://localhost` (the plan's `base`, which `--set` can change).
fn server_url(doc: &Value, warnings: &mut Vec<String>) -> String {
    let server = doc.get("servers").and_then(|s| s.get(0));
    let mut url = server
        .and_then(|s| s.get("url"))
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_string();
    if let Some(vars) = server
        .and_then(|s| s.get("variables"))
        .and_then(Value::as_object)
    {
        for (name, var) in vars {
            let default = var.get("default").map(text).unwrap_or_default();
            url = url.replace(&format!("{{{name}}}"), &default);
        }
    }
    if super::split_origin(&url).is_none() {
        warnings.push(format!(
            "the document names no absolute server URL ({url:?}): requests go to http://localhost; run the plan with --set base=http://HOST:PORT"
        ));
        url = format!("http://localhost/{}", url.trim_start_matches('/'));
    }
    url.trim_end_matches('/').to_string()
}

/// A local `$ref` (`#/components/...`) followed, at most [`MAX_DEPTH`] times.
fn resolve<'d>(doc: &'d Value, v: &'d Value, depth: usize) -> &'d Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) if depth < MAX_DEPTH => {
            let target = r
                .strip_prefix('#')
                .and_then(|p| doc.pointer(p))
                .unwrap_or(&Value::Null);
            resolve(doc, target, depth + 1)
        }
        Some(_) => &Value::Null,
        None => v,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn operation(
    doc: &Value,
    base: &str,
    path: &str,
    method: &str,
    op: &Value,
    shared: Option<&Vec<Value>>,
    here: &str,
    warnings: &mut Vec<String>,
) -> Request {
    let op = resolve(doc, op, 0);
    // Operation parameters override path-level ones of the same name and place.
    let mut params: Vec<&Value> = Vec::new();
    for p in shared.into_iter().flatten().chain(
        op.get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    ) {
        let p = resolve(doc, p, 0);
        let key = |p: &Value| (text(&p["name"]), text(&p["in"]));
        params.retain(|q| key(q) != key(p));
        params.push(p);
    }
    let mut url_path = path.to_string();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for p in params {
        let name = text(&p["name"]);
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        match p.get("in").and_then(Value::as_str).unwrap_or("") {
            "path" => {
                let v = text(&example(doc, p, 0));
                url_path = url_path.replace(&format!("{{{name}}}"), &percent_encode(&v));
            }
            "query" if required => {
                query.push(format!(
                    "{}={}",
                    percent_encode(&name),
                    percent_encode(&text(&example(doc, p, 0)))
                ));
            }
            "header" if required => headers.push((name, text(&example(doc, p, 0)))),
            _ => {}
        }
    }
    if let Some(open) = url_path.find('{') {
        let name = url_path[open + 1..].split('}').next().unwrap_or("");
        warnings.push(format!(
            "{here}: path parameter {{{name}}} is not described; it is sent as written"
        ));
    }
    let mut url = format!("{base}{url_path}");
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    let body = request_body(doc, op, here, &mut headers, warnings);
    let status = op
        .get("responses")
        .and_then(Value::as_object)
        .and_then(|rs| {
            rs.keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .filter(|s| (200..300).contains(s))
                .min()
        });
    Request {
        method: method.to_string(),
        url,
        name: Some(here.to_string()),
        headers,
        body,
        status,
        ..Default::default()
    }
}

/// The request body's example: JSON as `json`, a form as a `data` object.
fn request_body(
    doc: &Value,
    op: &Value,
    here: &str,
    headers: &mut Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Body {
    let Some(rb) = op.get("requestBody") else {
        return Body::None;
    };
    let rb = resolve(doc, rb, 0);
    let Some(content) = rb.get("content").and_then(Value::as_object) else {
        return Body::None;
    };
    let pick = content
        .iter()
        .find(|(t, _)| t.contains("json"))
        .or_else(|| {
            content
                .iter()
                .find(|(t, _)| t.contains("x-www-form-urlencoded"))
        });
    let Some((ctype, media)) = pick else {
        let types: Vec<&str> = content.keys().map(String::as_str).collect();
        warnings.push(format!(
            "{here}: request body of type {} left out (JSON and forms are written)",
            types.join(", ")
        ));
        return Body::None;
    };
    let value = example(doc, media, 0);
    headers.push(("Content-Type".into(), ctype.clone()));
    if ctype.contains("json") {
        Body::Json(value)
    } else {
        match value {
            Value::Object(m) => Body::Data(Value::Object(
                m.into_iter().map(|(k, v)| (k, json!(text(&v)))).collect(),
            )),
            other => Body::Data(json!(text(&other))),
        }
    }
}

/// A value for a parameter or a media type: its `example`, its first
/// `examples` entry, its schema's example, default or first enum value, or
/// one built from the schema (`1`, `"example"`, `true`, objects and lists
/// of those).
fn example(doc: &Value, v: &Value, depth: usize) -> Value {
    let v = resolve(doc, v, 0);
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(e) = v.get("example") {
        return e.clone();
    }
    if let Some(e) = v
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|m| m.values().next())
    {
        let e = resolve(doc, e, 0);
        if let Some(val) = e.get("value") {
            return val.clone();
        }
    }
    match v.get("schema") {
        Some(schema) => from_schema(doc, schema, depth + 1),
        None => from_schema(doc, v, depth + 1),
    }
}

fn from_schema(doc: &Value, schema: &Value, depth: usize) -> Value {
    let mut refs = Vec::new();
    schema_value(doc, schema, depth, &mut refs)
}

/// [`from_schema`], with the `$ref`s being expanded: a schema that refers to
/// itself (a tree's node) stops at `null` the second time.
fn schema_value<'d>(
    doc: &'d Value,
    schema: &'d Value,
    depth: usize,
    refs: &mut Vec<&'d str>,
) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let r = schema.get("$ref").and_then(Value::as_str);
    if let Some(r) = r {
        if refs.contains(&r) {
            return Value::Null;
        }
        refs.push(r);
    }
    let v = schema_fields(doc, resolve(doc, schema, 0), depth, refs);
    if r.is_some() {
        refs.pop();
    }
    v
}

fn schema_fields<'d>(doc: &'d Value, s: &'d Value, depth: usize, refs: &mut Vec<&'d str>) -> Value {
    if let Some(e) = s.get("example").or_else(|| s.get("default")) {
        return e.clone();
    }
    if let Some(e) = s.get("examples").and_then(|e| e.get(0)) {
        return e.clone();
    }
    if let Some(e) = s.get("enum").and_then(|e| e.get(0)) {
        return e.clone();
    }
    if let Some(first) = ["allOf", "oneOf", "anyOf"]
        .iter()
        .find_map(|k| s.get(*k).and_then(Value::as_array))
    {
        // allOf: the parts merged; oneOf/anyOf: the first.
        let mut merged = Map::new();
        for part in first {
            match schema_value(doc, part, depth + 1, refs) {
                Value::Object(m) => merged.extend(m),
                other if merged.is_empty() => return other,
                _ => {}
            }
            if s.get("allOf").is_none() {
                break;
            }
        }
        return Value::Object(merged);
    }
    let kind = match s.get("type") {
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        Some(t) => t.as_str(),
        None if s.get("properties").is_some() => Some("object"),
        None => None,
    };
    match kind {
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(true),
        Some("array") => match s.get("items") {
            Some(items) => json!([schema_value(doc, items, depth + 1, refs)]),
            None => json!([]),
        },
        Some("object") => Value::Object(
            s.get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, p)| (k.clone(), schema_value(doc, p, depth + 1, refs)))
                .collect(),
        ),
        Some("string") => json!(match s.get("format").and_then(Value::as_str) {
            Some("uuid") => "00000000-0000-4000-8000-000000000000",
            Some("date") => "2026-01-01",
            Some("date-time") => "2026-01-01T00:00:00Z",
            Some("email") => "user@example.com",
            _ => "example",
        }),
        _ => json!("example"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_come_from_the_schema_when_none_is_given() {
        let doc = json!({"components": {"schemas": {"Item": {"type": "object", "properties": {
            "id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]}, "ok": {"type": ["boolean", "null"]}, "n": {"default": 7}}}}}});
        let schema = json!({"$ref": "#/components/schemas/Item"});
        assert_eq!(
            from_schema(&doc, &schema, 0),
            json!({"id": 1, "tags": ["example"], "kind": "a", "ok": true, "n": 7})
        );
        let param =
            json!({"name": "id", "in": "path", "schema": {"type": "integer", "example": 42}});
        assert_eq!(example(&doc, &param, 0), json!(42));
        let param = json!({"name": "id", "in": "path", "examples": {"one": {"value": "x"}}});
        assert_eq!(example(&doc, &param, 0), json!("x"));
    }

    #[test]
    fn a_self_referencing_schema_ends() {
        let doc = json!({"components": {"schemas": {"Node": {"type": "object", "properties": {
            "next": {"$ref": "#/components/schemas/Node"}}}}}});
        let v = from_schema(&doc, &json!({"$ref": "#/components/schemas/Node"}), 0);
        assert_eq!(v, json!({"next": null}));
    }
}
