//! HAR 1.2 (what browsers' DevTools save) → requests, as LoadDensity's
//! `har_importer` reads it: `log.entries[]`, each entry's `request` (method,
//! url, headers, postData) and its `response.status`.

use super::{json_or_text, Body, Request};
use serde_json::{json, Map, Value};

pub(super) fn requests(har: &Value, warnings: &mut Vec<String>) -> Result<Vec<Request>, String> {
    let entries = har
        .get("log")
        .and_then(|l| l.get("entries"))
        .ok_or("not a HAR document: it has no `log.entries` (save it from the browser's Network panel: \"Save all as HAR\")")?;
    let entries = entries.as_array().ok_or("`log.entries` is not a list")?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let request = entry.get("request").unwrap_or(&Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let url = request.get("url").and_then(Value::as_str).unwrap_or("");
        if method.is_empty() || url.is_empty() {
            skipped.push(format!("entries[{i}] (no method or url)"));
            continue;
        }
        if super::split_origin(url).is_none() {
            // data:, blob:, chrome-extension:, ws: ... are no HTTP requests.
            skipped.push(format!("entries[{i}] ({})", short(url)));
            continue;
        }
        let headers = request
            .get("headers")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| {
                        let name = h.get("name")?.as_str()?.trim().to_string();
                        let value = match h.get("value")? {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Some((name, value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = request.get("postData").map(post_body).unwrap_or_default();
        let status = entry
            .get("response")
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64)
            .filter(|s| (100..=599).contains(s))
            .map(|s| s as u16);
        out.push(Request {
            method: method.to_ascii_lowercase(),
            url: url.to_string(),
            headers,
            body,
            status,
            ..Default::default()
        });
    }
    if !skipped.is_empty() {
        warnings.push(format!(
            "skipped {} HAR {} no HTTP request: {}",
            skipped.len(),
            if skipped.len() == 1 {
                "entry that is"
            } else {
                "entries that are"
            },
            skipped.join(", ")
        ));
    }
    Ok(out)
}

/// `postData` as a body: JSON text (`mimeType` names JSON) as `json`, falling
/// back to the text; form `params` as a `data` object; other text as `data`.
fn post_body(post: &Value) -> Body {
    let mime = post
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = post.get("text").and_then(Value::as_str).unwrap_or("");
    if mime.contains("application/json") && !text.is_empty() {
        return json_or_text(text);
    }
    if let Some(params) = post.get("params").and_then(Value::as_array) {
        let form: Map<String, Value> = params
            .iter()
            .filter_map(|p| {
                let name = p.get("name")?.as_str().filter(|n| !n.is_empty())?;
                let value = p.get("value").cloned().unwrap_or(json!(""));
                Some((name.to_string(), value))
            })
            .collect();
        if !form.is_empty() {
            return Body::Data(Value::Object(form));
        }
    }
    if text.is_empty() {
        Body::None
    } else {
        Body::Data(json!(text))
    }
}

fn short(url: &str) -> String {
    match url.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &url[..i]),
        None => url.to_string(),
    }
}
