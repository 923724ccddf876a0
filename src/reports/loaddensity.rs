//! Reports in LoadDensity's shapes: its summary object (`LD_summary`, and the
//! keys the summary report adds), and its success/failure pair of JSON
//! (`LD_generate_json_report`) and XML (`LD_generate_xml_report`) files.
//!
//! LoadDensity writes one entry per request (`Success_Test1`: method, URL,
//! name, status, body, headers). We keep memory bounded whatever the run
//! length, so each entry is one of our names, aggregated: how many requests,
//! their latency, and for failures the most frequent errors.

use super::report_path;
use super::util::{esc, esc_attr, fin};
use crate::stats::loaddensity::{LdAlias, LdSummary};
use crate::stats::{NameStats, RunSummary};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// LoadDensity's summary object, pretty-printed (`LD_summary`).
pub fn ld_summary_json(s: &RunSummary) -> String {
    let mut out = serde_json::to_string_pretty(&sanitized(&s.loaddensity.summary))
        .expect("the summary always serialises");
    out.push('\n');
    out
}

/// The summary with every float finite.
pub(crate) fn sanitized(s: &LdSummary) -> LdSummary {
    let mut s = s.clone();
    s.totals.failure_rate = fin(s.totals.failure_rate);
    let o = &mut s.latency_overall;
    for x in [
        &mut o.p50_ms,
        &mut o.p90_ms,
        &mut o.p95_ms,
        &mut o.p99_ms,
        &mut o.max_ms,
    ] {
        *x = fin(*x);
    }
    for n in s.per_name.values_mut() {
        for x in [
            &mut n.min_ms,
            &mut n.max_ms,
            &mut n.mean_ms,
            &mut n.p50_ms,
            &mut n.p90_ms,
            &mut n.p95_ms,
            &mut n.p99_ms,
        ] {
            *x = fin(*x);
        }
    }
    s
}

/// LoadDensity's pair of files for a report named `name`:
/// `NAME_success.EXT` and `NAME_failure.EXT` (an `.EXT` already ending
/// `name` is taken off first).
pub fn ld_pair_paths(name: &str, ext: &str) -> [PathBuf; 2] {
    let full = report_path(name, ext).to_string_lossy().into_owned();
    let base = &full[..full.len() - ext.len() - 1];
    [
        PathBuf::from(format!("{base}_success.{ext}")),
        PathBuf::from(format!("{base}_failure.{ext}")),
    ]
}

/// How one of our names was written, LoadDensity's way.
fn written(s: &RunSummary, ours: &str) -> (String, Map<String, Value>) {
    let (key, aliases) = match s.loaddensity.names.get(ours) {
        Some(n) => (n.key.clone(), n.aliases.as_slice()),
        None => (ours.to_string(), &[][..]),
    };
    // Each once, in the order first written.
    let distinct = |f: fn(&LdAlias) -> &str| {
        let mut v: Vec<&str> = Vec::new();
        for x in aliases.iter().map(f) {
            if !v.contains(&x) {
                v.push(x);
            }
        }
        v
    };
    let methods = distinct(|a| a.method.as_str());
    let urls = distinct(|a| a.url.as_str());
    let mut m = Map::new();
    m.insert("Method".into(), json!(methods.join(",")));
    m.insert(
        "test_url".into(),
        json!(urls.first().copied().unwrap_or(ours)),
    );
    m.insert("test_urls".into(), json!(urls));
    m.insert("name".into(), json!(key));
    m.insert("stats_name".into(), json!(ours));
    (key, m)
}

/// The success and failure objects: `{"Success_Test1": {...}, ...}` and
/// `{"Failure_Test1": {...}, ...}`, one entry per name that had a success
/// (a failure), in name order.
pub fn ld_entries(s: &RunSummary) -> (Value, Value) {
    let ld = sanitized(&s.loaddensity.summary);
    let (mut ok, mut failed) = (Map::new(), Map::new());
    for (ours, st) in &s.by_name {
        let (key, base) = written(s, ours);
        let successes = st.requests.saturating_sub(st.failures);
        if successes > 0 {
            let mut m = base.clone();
            m.insert("count".into(), json!(successes));
            if let Some(l) = ld.per_name.get(&key) {
                m.insert(
                    "latency_ms".into(),
                    json!({"min": l.min_ms, "mean": l.mean_ms, "p50": l.p50_ms, "p90": l.p90_ms,
                           "p95": l.p95_ms, "p99": l.p99_ms, "max": l.max_ms}),
                );
            }
            ok.insert(format!("Success_Test{}", ok.len() + 1), Value::Object(m));
        }
        if st.failures > 0 {
            let mut m = base;
            failure_fields(&mut m, st);
            failed.insert(
                format!("Failure_Test{}", failed.len() + 1),
                Value::Object(m),
            );
        }
    }
    (Value::Object(ok), Value::Object(failed))
}

fn failure_fields(m: &mut Map<String, Value>, st: &NameStats) {
    m.insert("count".into(), json!(st.failures));
    m.insert(
        "error".into(),
        json!(st.top_errors.first().map_or("", |e| e.message.as_str())),
    );
    m.insert("failures_by_kind".into(), json!(st.failures_by_kind));
    m.insert("errors".into(), json!(st.top_errors));
}

/// `NAME_success.json` and `NAME_failure.json`, pretty-printed.
pub fn ld_json_pair(s: &RunSummary) -> (String, String) {
    let (ok, failed) = ld_entries(s);
    let pretty = |v: &Value| {
        let mut out = serde_json::to_string_pretty(v).expect("JSON values serialise");
        out.push('\n');
        out
    };
    (pretty(&ok), pretty(&failed))
}

/// `NAME_success.xml` and `NAME_failure.xml`: the JSON pair's objects under
/// a `<xml_data>` root, as LoadDensity writes them.
pub fn ld_xml_pair(s: &RunSummary) -> (String, String) {
    let (ok, failed) = ld_entries(s);
    (xml_document(&ok), xml_document(&failed))
}

fn xml_document(v: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml_element(&mut out, "xml_data", v, 0);
    out
}

/// Whether `s` can be an element name as it is (ASCII names only).
fn xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.to_ascii_lowercase().starts_with("xml")
        || s == "xml_data"
}

/// `v` as element `tag`: objects as child elements (a key that is no XML
/// name becomes `<item key="...">`), arrays as `<item>` children, scalars as
/// escaped text.
fn xml_element(out: &mut String, tag: &str, v: &Value, depth: usize) {
    let pad = "  ".repeat(depth);
    let (open, close) = if xml_name(tag) {
        (tag.to_string(), tag.to_string())
    } else {
        (
            format!("item key=\"{}\"", esc_attr(tag)),
            "item".to_string(),
        )
    };
    let children: Vec<(&str, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Value::Array(a) => a.iter().map(|v| ("item", v)).collect(),
        _ => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            out.push_str(&format!("{pad}<{open}>{}</{close}>\n", esc(&text)));
            return;
        }
    };
    if children.is_empty() {
        out.push_str(&format!("{pad}<{open}/>\n"));
        return;
    }
    out.push_str(&format!("{pad}<{open}>\n"));
    for (k, child) in children {
        xml_element(out, k, child, depth + 1);
    }
    out.push_str(&format!("{pad}</{close}>\n"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, QUOTED, SCRIPT};
    use crate::stats::loaddensity::{LdName, LdNameLatency};

    #[test]
    fn pair_paths_take_an_extension_off_first() {
        assert_eq!(
            ld_pair_paths("default_name", "xml"),
            [
                PathBuf::from("default_name_success.xml"),
                PathBuf::from("default_name_failure.xml")
            ]
        );
        assert_eq!(
            ld_pair_paths("out/r.JSON", "json")[1],
            PathBuf::from("out/r_failure.json")
        );
    }

    /// The fixture, with LoadDensity's name for the quoted name.
    fn with_names() -> RunSummary {
        let mut s = fixture();
        let alias = LdAlias {
            name: "http://h/q?a=<1>&b=\"2\"".into(),
            method: "POST".into(),
            url: "http://h/q?a=<1>&b=\"2\"".into(),
        };
        s.loaddensity.names.insert(
            QUOTED.into(),
            LdName {
                key: alias.name.clone(),
                aliases: vec![alias.clone()],
            },
        );
        s.loaddensity.summary.per_name.insert(
            alias.name,
            LdNameLatency {
                count: 1,
                p95_ms: 12.5,
                ..LdNameLatency::default()
            },
        );
        s
    }

    #[test]
    fn entries_aggregate_each_name() {
        let s = with_names();
        let (ok, failed) = ld_entries(&s);
        let ok = ok.as_object().unwrap();
        let failed = failed.as_object().unwrap();
        let with_success = s
            .by_name
            .values()
            .filter(|n| n.requests > n.failures)
            .count();
        let with_failure = s.by_name.values().filter(|n| n.failures > 0).count();
        assert_eq!(ok.len(), with_success);
        assert_eq!(failed.len(), with_failure);
        assert!(ok.contains_key("Success_Test1"));
        let quoted = ok
            .values()
            .find(|e| e["stats_name"] == QUOTED)
            .expect("the quoted name succeeded");
        assert_eq!(quoted["Method"], "POST");
        assert_eq!(quoted["name"], "http://h/q?a=<1>&b=\"2\"");
        assert_eq!(quoted["latency_ms"]["p95"], 12.5);
        let f = failed.values().find(|e| e["stats_name"] == QUOTED).unwrap();
        let st = &s.by_name[QUOTED];
        assert_eq!(f["count"], st.failures);
        assert_eq!(
            f["error"],
            st.top_errors.first().map_or("", |e| e.message.as_str())
        );
        // A name without aliases is written as our name.
        let script = ok.values().find(|e| e["stats_name"] == SCRIPT).unwrap();
        assert_eq!(script["name"], SCRIPT);
        assert_eq!(script["test_url"], SCRIPT);
    }

    #[test]
    fn xml_is_escaped_under_one_root() {
        let (ok, failed) = ld_xml_pair(&with_names());
        for doc in [&ok, &failed] {
            assert!(doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml_data>"));
            assert!(doc.trim_end().ends_with("</xml_data>"), "{doc}");
            assert!(!doc.contains(SCRIPT), "unescaped: {doc}");
            assert!(!doc.contains("a=<1>"), "unescaped: {doc}");
            well_formed(doc).unwrap();
        }
        assert!(ok.contains("<name>http://h/q?a=&lt;1&gt;&amp;b=&quot;2&quot;</name>"));
        assert!(ok.contains("<Success_Test1>"));
        assert!(failed.contains("<Failure_Test1>"));
    }

    /// Checks that tags nest and that text and attributes hold no raw `<`
    /// or a `&` that starts no entity.
    pub(crate) fn well_formed(doc: &str) -> Result<(), String> {
        let body = doc
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .ok_or("no XML declaration")?;
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = body;
        let mut roots = 0;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
            let tag = &rest[open + 1..close];
            check_text(tag)?;
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop() != Some(name) {
                    return Err(format!("</{name}> closes nothing open"));
                }
            } else {
                if stack.is_empty() {
                    roots += 1;
                }
                if !tag.ends_with('/') {
                    stack.push(tag.split(' ').next().unwrap());
                }
            }
            rest = &rest[close + 1..];
        }
        check_text(rest)?;
        if !stack.is_empty() || roots != 1 {
            return Err(format!("{roots} roots, {stack:?} left open"));
        }
        Ok(())
    }

    fn check_text(t: &str) -> Result<(), String> {
        if t.contains('<') {
            return Err(format!("raw < in {t:?}"));
        }
        for (i, _) in t.match_indices('&') {
            let entity = &t[i..t[i..].find(';').map_or(t.len(), |j| i + j + 1)];
            let ok = [
                "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#10;", "&#13;", "&#9;",
            ];
            if !ok.contains(&entity) {
                return Err(format!("raw & in {t:?}"));
            }
        }
        Ok(())
    }

    #[test]
    fn methods_and_urls_are_listed_once_each() {
        let mut s = fixture();
        let a = |m: &str, u: &str| LdAlias {
            name: u.into(),
            method: m.into(),
            url: u.into(),
        };
        s.loaddensity.names.insert(
            SCRIPT.into(),
            LdName {
                key: SCRIPT.into(),
                aliases: vec![a("GET", "/x"), a("POST", "/x?1"), a("GET", "/x")],
            },
        );
        let (ok, _) = ld_entries(&s);
        let e = ok
            .as_object()
            .unwrap()
            .values()
            .find(|e| e["stats_name"] == SCRIPT)
            .unwrap();
        assert_eq!(e["Method"], "GET,POST");
        assert_eq!(e["test_urls"], json!(["/x", "/x?1"]));
        assert_eq!(e["test_url"], "/x");
    }

    #[test]
    fn odd_keys_become_items() {
        let mut out = String::new();
        xml_element(
            &mut out,
            "x",
            &json!({"a b": 1, "ok": [true, null], "xmlish": "<"}),
            0,
        );
        assert_eq!(
            out,
            "<x>\n  <item key=\"a b\">1</item>\n  <ok>\n    <item>true</item>\n    <item></item>\n  </ok>\n  <item key=\"xmlish\">&lt;</item>\n</x>\n"
        );
    }

    #[test]
    fn empty_run_writes_empty_roots() {
        let (ok, failed) = ld_xml_pair(&RunSummary::default());
        assert!(ok.ends_with("<xml_data/>\n"));
        assert!(failed.ends_with("<xml_data/>\n"));
        let (ok, _) = ld_json_pair(&RunSummary::default());
        assert_eq!(ok, "{}\n");
    }
}
