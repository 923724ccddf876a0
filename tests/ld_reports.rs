//! LoadDensity's report shapes and names beside ours: default file names,
//! `LD_summary`, the summary report's LoadDensity keys, the success/failure
//! JSON and XML pairs, and SLA rules naming tasks by URL or judging a given
//! summary. Real runs against the in-process demo server (127.0.0.1 only).

use crate::common::{self, n, Plan, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("ld_reports", name)
}

/// The failing task's name: everything XML and JSON must escape.
const ODD: &str = r#"tea<pot> & "kettle's""#;

/// 2 users × 3 passes over `/ok` and `/json` (unnamed) and `/status/418`
/// (named [`ODD`]): 12 successes, 6 failures.
fn load(srv: &DemoServer) -> String {
    let base = srv.base_url();
    format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "iterations": 3,
            "tasks": [{{"request_url": "{base}/ok"}},
                      {{"request_url": "{base}/json?a=1&b=2"}},
                      {{"request_url": "{base}/status/418", "name": {}}}]}}]"#,
        serde_json::to_string(ODD).unwrap()
    )
}

fn read(run: &Run, name: &str) -> String {
    std::fs::read_to_string(run.file(name))
        .unwrap_or_else(|e| panic!("no {name} ({e}); stderr: {}", run.stderr))
}

/// The first pretty-printed JSON object on stdout (`LD_summary`'s).
fn printed_object(stdout: &str) -> Value {
    let start = stdout.find("\n{\n").expect("an object on stdout") + 1;
    let end = stdout[start..].find("\n}\n").expect("its end") + start + 2;
    serde_json::from_str(&stdout[start..end]).unwrap()
}

#[test]
fn default_names_and_loaddensity_shapes() {
    let srv = DemoServer::start(0).unwrap();
    let base = srv.base_url();
    let d = scratch("defaults");
    let run = Plan::new(load(&srv))
        .then(r#"["LD_summary"]"#)
        .then(r#"["LD_generate_summary_report"]"#)
        .then(r#"["LD_generate_json_report"]"#)
        .then(r#"["LD_generate_xml_report"]"#)
        .then(r#"["LD_generate_csv_report"]"#)
        .then(r#"["LD_generate_html_report"]"#)
        .then(r#"["LD_generate_junit_report"]"#)
        .no_summary()
        .flags(&["--failure-budget", "off"])
        .run_in(&d);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(srv.total_requests(), 18);
    for f in [
        "loaddensity-summary.json",
        "default_name.json",
        "default_name_success.json",
        "default_name_failure.json",
        "default_name_success.xml",
        "default_name_failure.xml",
        "default_name.csv",
        "default_name.html",
        "loaddensity-junit.xml",
    ] {
        assert!(run.file(f).is_file(), "{f} missing; stderr: {}", run.stderr);
        assert!(run.stderr.contains(&format!("wrote {f}")), "{}", run.stderr);
    }

    // The summary report: ours and LoadDensity's keys side by side.
    let s = run.report("loaddensity-summary.json");
    assert_eq!(n(&s["total"]["requests"]), 18);
    assert_eq!(n(&s["totals"]["requests"]), 18);
    assert_eq!(n(&s["totals"]["successes"]), 12);
    assert_eq!(n(&s["totals"]["failures"]), 6);
    assert!((s["totals"]["failure_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(n(&s["latency_overall"]["count"]), 18);
    let per_name = s["per_name"].as_object().unwrap();
    let keys: Vec<&str> = per_name.keys().map(String::as_str).collect();
    let ok_url = format!("{base}/ok");
    let json_url = format!("{base}/json?a=1&b=2");
    assert_eq!(keys, [json_url.as_str(), ok_url.as_str()], "{s}");
    for k in &keys {
        let e = &per_name[*k];
        assert_eq!(n(&e["count"]), 6);
        let (min, p50, max) = (
            e["min_ms"].as_f64().unwrap(),
            e["p50_ms"].as_f64().unwrap(),
            e["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= p50 && p50 <= max, "{e}");
    }
    // Our names are untouched.
    assert_eq!(n(&s["by_name"]["/ok"]["requests"]), 6);
    assert_eq!(n(&s["by_name"][ODD]["failures"]), 6);

    // LD_summary printed the same object.
    let printed = printed_object(&run.stdout);
    for key in ["totals", "latency_overall", "per_name"] {
        assert_eq!(printed[key], s[key], "{key}");
    }
    assert_eq!(printed.as_object().unwrap().len(), 3);

    // The JSON pair: one aggregated entry per name.
    let ok = run.report("default_name_success.json");
    let ok = ok.as_object().unwrap();
    assert_eq!(ok.len(), 2, "{ok:?}");
    let json_entry = &ok["Success_Test1"];
    assert_eq!(json_entry["stats_name"], "/json");
    assert_eq!(json_entry["name"], json_url.as_str());
    assert_eq!(json_entry["test_url"], json_url.as_str());
    assert_eq!(json_entry["Method"], "GET");
    assert_eq!(n(&json_entry["count"]), 6);
    assert_eq!(
        json_entry["latency_ms"]["p95"],
        per_name[&json_url]["p95_ms"]
    );
    assert_eq!(ok["Success_Test2"]["name"], ok_url.as_str());
    let failed = run.report("default_name_failure.json");
    let failed = failed.as_object().unwrap();
    assert_eq!(failed.len(), 1);
    let f = &failed["Failure_Test1"];
    assert_eq!(f["name"], ODD);
    assert_eq!(f["test_url"], format!("{base}/status/418").as_str());
    assert_eq!(n(&f["count"]), 6);
    assert!(f["error"].as_str().unwrap().contains("418"), "{f}");
    assert_eq!(n(&f["failures_by_kind"]["status"]), 6);

    // The XML pair: one root, escaped text.
    let ok_xml = read(&run, "default_name_success.xml");
    let failed_xml = read(&run, "default_name_failure.xml");
    for doc in [&ok_xml, &failed_xml] {
        well_formed(doc).unwrap_or_else(|e| panic!("{e}:\n{doc}"));
    }
    assert!(ok_xml.contains(&format!("<test_url>{base}/json?a=1&amp;b=2</test_url>")));
    assert_eq!(ok_xml.matches("<Success_Test").count(), 2);
    assert!(failed_xml.contains("<name>tea&lt;pot&gt; &amp; &quot;kettle&#39;s&quot;</name>"));
    assert!(failed_xml.contains("<count>6</count>"));

    // Ours are still written in full.
    let full = run.report("default_name.json");
    assert_eq!(n(&full["total"]["requests"]), 18);
    assert!(full.get("totals").is_none(), "the full JSON stays ours");
}

#[test]
fn named_pairs_and_a_run_without_failures() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("named");
    let run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 2,
            "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .then(r#"["LD_generate_json_report", {"json_file_name": "out/r.json"}]"#)
    .then(r#"["LD_generate_xml_report", ["out/r"]]"#)
    .run_in(&d);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(n(&run.report("out/r.json")["total"]["requests"]), 2);
    assert_eq!(run.report("out/r_failure.json"), serde_json::json!({}));
    assert_eq!(
        n(&run.report("out/r_success.json")["Success_Test1"]["count"]),
        2
    );
    assert!(read(&run, "out/r_failure.xml").ends_with("<xml_data/>\n"));
    well_formed(&read(&run, "out/r_success.xml")).unwrap();
}

#[test]
fn sla_rules_name_tasks_by_their_url_and_judge_a_given_summary() {
    let srv = DemoServer::start(0).unwrap();
    let base = srv.base_url();
    let d = scratch("sla");
    let given = r#"{"totals": {"requests": 40, "successes": 40, "failures": 0, "failure_rate": 0},
                    "latency_overall": {"count": 40, "p50_ms": 5, "p90_ms": 9, "p95_ms": 900, "p99_ms": 950, "max_ms": 990},
                    "per_name": {"http://x/a": {"count": 40, "min_ms": 1, "max_ms": 9, "mean_ms": 4,
                                 "p50_ms": 4, "p90_ms": 8, "p95_ms": 8.5, "p99_ms": 9}}}"#;
    let run = Plan::new(load(&srv))
        .then(format!(
            r#"["LD_assert_sla", {{"rules": [
                {{"type": "requests", "name": "{base}/ok", "op": "gte", "value": 6}},
                {{"type": "failure_rate", "name": {}, "op": "gte", "value": 1}}]}}]"#,
            serde_json::to_string(ODD).unwrap()
        ))
        .then(format!(
            r#"["LD_evaluate_sla", {{"rules": [
                {{"type": "latency_p95", "name": "http://x/a", "value": 10}},
                {{"type": "latency_p95", "value": 500}}], "summary": {given}}}]"#
        ))
        .flags(&["--failure-budget", "off"])
        .run_in(&d);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sla = run.summary()["sla"].as_array().unwrap().clone();
    let passed: Vec<bool> = sla.iter().map(|r| r["passed"].as_bool().unwrap()).collect();
    assert_eq!(passed, [true, true, true, false], "{sla:?}");
    assert_eq!(sla[0]["actual"].as_f64(), Some(6.0));
    assert!(sla[3]["detail"]
        .as_str()
        .unwrap()
        .ends_with("in the given summary: does not hold"));

    // Asserted, the failing rule over the given summary fails the run (exit 4).
    let run = Plan::new(format!(
        r#"["LD_assert_sla", {{"rules": [{{"type": "latency_p95", "value": 500}}], "summary": {given}}}]"#
    ))
    .run_in(&d);
    assert_eq!(run.code, 4, "{}", run.stderr);

    // A metric the given summary cannot answer is refused before anything runs.
    let run = Plan::new(format!(
        r#"["LD_assert_sla", {{"rules": [{{"type": "rps", "value": 1}}], "summary": {given}}}]"#
    ))
    .run_in(&d);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("actions[0].args.rules[0]")
            && run.stderr.contains("has no request rate"),
        "{}",
        run.stderr
    );
}

/// Checks that tags nest under one root and that text holds no raw `<` or a
/// `&` that starts no entity.
fn well_formed(doc: &str) -> Result<(), String> {
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
                if !tag.starts_with("xml_data") {
                    return Err(format!("root <{tag}>"));
                }
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
        let end = t[i..].find(';').map_or(t.len(), |j| i + j + 1);
        if ![
            "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#10;", "&#13;", "&#9;",
        ]
        .contains(&&t[i..end])
        {
            return Err(format!("raw & in {t:?}"));
        }
    }
    Ok(())
}
