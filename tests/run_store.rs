//! The run store through the real binary: persisted runs, a regression gate
//! that exits 4 naming the metric (and its JUnit testcases), an unchanged
//! rerun that passes, two writers on one file, `runs list|show|diff`, a
//! corrupt file, and percentiles recomputed exactly from stored histograms.
//! Every test is bounded by iterations (well under 3 s of load each).

use crate::common::{self, ld, Plan, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("run_store", name)
}

/// A test of `iterations` passes of 2 users on `path`, named `api`, then the
/// run persisted to `runs.db` with label `ci`, then `more` actions.
fn persisted(srv: &DemoServer, path: &str, iterations: u64, more: &str) -> Plan {
    let mut plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "iterations": {iterations}, "host": "{}",
             "tasks": [{{"url": "{path}", "name": "api"}}]}}],
           ["LD_persist_records", {{"database_path": "runs.db", "label": "ci",
             "metadata": {{"commit": "${{var.commit}}"}}, "variable": "run"}}],
           ["LD_log", {{"message": "persisted as ${{var.run}}"}}]"#,
        srv.base_url()
    ))
    .flags(&["--set", "commit=abc1234"]);
    if !more.is_empty() {
        plan = plan.then(more);
    }
    plan.then(r#"["LD_generate_junit_report", {"report_name": "junit"}]"#)
}

fn runs(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = ld("runs");
    cmd.args(args).current_dir(dir);
    Run::of(cmd)
}

/// The JUnit testcases of the `sla` suite: (name, failed).
fn gate_cases(r: &Run) -> Vec<(String, bool)> {
    let xml = std::fs::read_to_string(r.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let Some(suite) = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some("sla"))
    else {
        return Vec::new();
    };
    suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|c| {
            (
                c.attribute("name").unwrap_or_default().to_string(),
                c.children().any(|f| f.has_tag_name("failure")),
            )
        })
        .collect()
}

const GATE: &str = r#"["LD_assert_no_regression", {"database_path": "runs.db", "baseline_run_id": "last:ci", "tolerance": 0.1}]"#;

#[test]
fn a_slower_endpoint_fails_the_regression_gate_naming_p95() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("slower");
    let first = persisted(&srv, "/slow/5", 10, GATE).run_in(&dir);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("no baseline: no run matches last:ci before run 1"),
        "a first run has nothing to compare with: {}",
        first.stderr
    );
    assert!(first.stdout.contains("persisted as 1"), "{}", first.stdout);
    assert!(gate_cases(&first).is_empty());

    let second = persisted(&srv, "/slow/60", 10, GATE).run_in(&dir);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stdout.contains("persisted as 2"),
        "{}",
        second.stdout
    );
    assert!(
        second.stderr.contains("regression: latency_p95 (all) — "),
        "{}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("exit 4: regression gate failed: run 2 against run 1: latency_p50 (all)"),
        "{}",
        second.stderr
    );
    let s = second.summary();
    assert_eq!(s["exit_reason"], "gate_failed");
    let cases = gate_cases(&second);
    // 7 metrics overall and 7 for `api`.
    assert_eq!(cases.len(), 14, "{cases:#?}");
    assert!(
        cases.contains(&(
            "no regression: latency_p95 (all) vs run 1".to_string(),
            true
        )),
        "{cases:#?}"
    );
    assert!(
        cases.contains(&(
            "no regression: latency_p95 (api) vs run 1".to_string(),
            true
        )),
        "{cases:#?}"
    );
    assert!(
        cases.contains(&(
            "no regression: failure_rate (all) vs run 1".to_string(),
            false
        )),
        "{cases:#?}"
    );

    // The row keeps the label, the resolved metadata and the exit reason
    // at the time it was persisted.
    let show = runs(&dir, &["show", "runs.db", "last:ci", "--json"]);
    let row: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(row["run"]["id"], 2);
    assert_eq!(row["run"]["label"], "ci");
    assert_eq!(
        row["run"]["metadata"],
        serde_json::json!({"commit": "abc1234"})
    );
    assert_eq!(row["run"]["exit_reason"], "pass");
    assert_eq!(row["run"]["plans"], serde_json::json!(["<run-str>"]));

    // The same comparison from the command line exits 4 too.
    let diff = runs(&dir, &["diff", "runs.db", "1", "2"]);
    assert_eq!(diff.code, 4, "{}", diff.stderr);
    assert!(diff
        .stdout
        .contains("run 1 (baseline) → run 2 (current), tolerance 10%"));
    let p95 = diff
        .stdout
        .lines()
        .find(|l| l.starts_with("all ") && l.contains("latency_p95"))
        .unwrap_or_else(|| panic!("{}", diff.stdout));
    assert!(p95.ends_with("REGRESSION"), "{p95}");
    assert!(diff.stdout.contains("regression(s): latency_p50 (all)"));
    // Compared the other way round, nothing got worse but the rps check
    // sees more requests per second: no regression.
    let back = runs(&dir, &["diff", "runs.db", "2", "1"]);
    assert_eq!(back.code, 0, "{}", back.stdout);
    assert!(back.stdout.contains("no regression in 14 metrics"));
}

#[test]
fn an_unchanged_rerun_passes_the_gate() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("unchanged");
    let gate = r#"["LD_assert_no_regression", {"database_path": "runs.db", "baseline_run_id": "last", "tolerance": 1.0}]"#;
    for expect_cases in [0, 14] {
        let r = persisted(&srv, "/slow/50", 6, gate).run_in(&dir);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let cases = gate_cases(&r);
        assert_eq!(cases.len(), expect_cases, "{cases:#?}");
        assert!(cases.iter().all(|(_, failed)| !failed), "{cases:#?}");
    }
    let diff = runs(&dir, &["diff", "runs.db", "last", "2", "--tolerance", "1"]);
    assert_eq!(diff.code, 0, "{}", diff.stdout);
    assert!(diff
        .stdout
        .contains("run 1 (baseline) → run 2 (current), tolerance 100%"));
    // LD_diff_runs prints the table and never fails the run.
    let r = Plan::new(
        r#"["LD_diff_runs", {"database_path": "runs.db", "baseline_run_id": 2, "current_run_id": "1", "tolerance": 0}]"#,
    )
    .run_in(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("run 2 (baseline) → run 1 (current)"),
        "{}",
        r.stdout
    );
}

#[test]
fn two_writers_on_one_database_both_land() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("writers");
    let persist = r#"["LD_persist_records", {"database_path": "db/shared.db", "label": "w"}]"#;
    let plan = |who: &str| {
        let mut p = Plan::new(format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 20, "host": "{}",
                 "tasks": [{{"url": "/ok", "name": "{who}"}}]}}]"#,
            srv.base_url()
        ))
        .no_summary();
        for _ in 0..5 {
            p = p.then(persist);
        }
        p
    };
    let a = plan("a").spawn_in(&dir);
    let b = plan("b").spawn_in(&dir);
    let (a, b) = (a.finish(common::RUN_LIMIT), b.finish(common::RUN_LIMIT));
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let list = runs(&dir, &["list", "db/shared.db", "--limit", "100"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows: Vec<&str> = list.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 10, "{}", list.stdout);
    let mut ids: Vec<u64> = rows
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=10).collect::<Vec<u64>>());
    assert!(
        rows.iter().all(|l| l.contains(" w ") && l.contains("20")),
        "{}",
        list.stdout
    );
    // The same list as JSON, newest first, every column.
    let json = runs(&dir, &["list", "db/shared.db", "--limit", "3", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let listed = v.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{}", json.stdout);
    assert_eq!(
        listed
            .iter()
            .map(|r| common::n(&r["id"]))
            .collect::<Vec<_>>(),
        [10, 9, 8]
    );
    assert!(
        listed
            .iter()
            .all(|r| common::n(&r["requests"]) == 20 && r["label"] == "w" && r["exit_code"] == 0),
        "{}",
        json.stdout
    );
    // Each process's runs hold its own name.
    for id in ["1", "10"] {
        let show = runs(&dir, &["show", "db/shared.db", id, "--json"]);
        let v: Value = serde_json::from_str(&show.stdout).unwrap();
        let names: Vec<&String> = v["by_name"].as_object().unwrap().keys().collect();
        assert!(names == ["a"] || names == ["b"], "{names:?}");
    }
}

#[test]
fn stored_histograms_give_the_summarys_percentiles() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("exact");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "iterations": 40, "host": "{0}", "record_csv": "out/requests",
             "tasks": [{{"url": "/slow/3", "name": "slow"}}, {{"url": "/ok", "name": "ok"}},
                       {{"url": "/status/500", "name": "broken"}}]}}],
           ["LD_start_test", {{"user_count": 1, "iterations": 30, "host": "{0}",
             "tasks": [{{"url": "/ok", "name": "ok"}}]}}],
           ["LD_persist_records", ["runs.db"]],
           ["LD_fetch_run_records", {{"database_path": "runs.db", "run_id": "last", "output_file": "out/run.json"}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let stored = r.report("out/run.json");
    assert_eq!(stored["run"]["id"], 1);
    assert_eq!(stored["run"]["label"], Value::Null);
    assert_eq!(stored["run"]["seed"], "7");
    assert_eq!(stored["run"]["exit_reason"], "pass");
    assert_eq!(stored["tests"].as_array().unwrap().len(), 2);
    let started = stored["run"]["started_at"].as_str().unwrap();
    assert!(
        started.len() == 20 && started.ends_with('Z') && started.as_bytes()[10] == b'T',
        "{started}"
    );
    let same = |a: &Value, b: &Value, what: &str| {
        for k in ["min", "p50", "p90", "p95", "p99", "p999", "max"] {
            let (x, y) = (a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
            assert!((x - y).abs() < 1e-9, "{what} {k}: stored {x}, summary {y}");
        }
        let (x, y) = (a["mean"].as_f64().unwrap(), b["mean"].as_f64().unwrap());
        assert!((x - y).abs() < 1e-3, "{what} mean: stored {x}, summary {y}");
    };
    same(
        &stored["total"]["latency_ms"],
        &s["total"]["latency_ms"],
        "total",
    );
    for name in ["slow", "ok", "broken"] {
        let (a, b) = (&stored["by_name"][name], &s["by_name"][name]);
        same(&a["latency_ms"], &b["latency_ms"], name);
        assert_eq!(a["requests"], b["requests"], "{name}");
        assert_eq!(a["failures"], b["failures"], "{name}");
        let (x, y) = (a["rps"].as_f64().unwrap(), b["rps"].as_f64().unwrap());
        assert!((x - y).abs() < 1e-3 * y.max(1.0), "{name} rps: {x} vs {y}");
    }
    assert_eq!(stored["by_name"]["ok"]["requests"], 120 + 30);
    assert_eq!(stored["by_name"]["broken"]["failures"], 120);
    // The first test streamed its requests: they are in LoadDensity's table.
    assert!(
        r.stderr
            .contains("persisted run 1 to runs.db (2 test(s), 360 request row(s), "),
        "{}",
        r.stderr
    );
    let db = rusqlite::Connection::open(dir.join("runs.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM load_density_records WHERE run_id = 1 AND test_index = 1"),
        360
    );
    assert_eq!(count("SELECT count(*) FROM load_density_records WHERE outcome = 'failure' AND name = 'broken' AND status_code = '500'"), 120);
    assert_eq!(count("SELECT count(*) FROM load_density_records WHERE method = 'GET' AND test_url LIKE 'http://127.0.0.1:%/slow/3' AND response_time_ms >= 3"), 120);
    // The CLI shows the same table.
    let show = runs(&dir, &["show", "runs.db", "1"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.starts_with("run 1 · "), "{}", show.stdout);
    assert!(show.stdout.contains("broken"), "{}", show.stdout);
    assert!(show.stdout.contains("Total"), "{}", show.stdout);
}

#[test]
fn a_corrupt_or_missing_database_is_a_clear_error() {
    let dir = scratch("corrupt");
    std::fs::write(
        dir.join("bad.db"),
        "this is not a SQLite file\n".repeat(200),
    )
    .unwrap();
    let r = Plan::new(r#"["LD_persist_records", {"database_path": "bad.db"}]"#).run_in(&dir);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("run store bad.db: not a usable SQLite database"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for args in [
        &["list", "bad.db"][..],
        &["show", "bad.db", "1"],
        &["diff", "bad.db", "1", "2"],
    ] {
        let r = runs(&dir, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("run store bad.db: not a usable SQLite database"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let missing = runs(&dir, &["list", "nope.db"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("run store nope.db: no such file"),
        "{}",
        missing.stderr
    );
    assert!(
        !dir.join("nope.db").exists(),
        "reading never creates a store"
    );
    let bad_ref = runs(&dir, &["show", "bad.db", "yesterday"]);
    assert_eq!(bad_ref.code, 2);
    assert!(
        bad_ref.stderr.contains("\"yesterday\" is not a run id"),
        "{}",
        bad_ref.stderr
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_runs() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("invalid");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{}/ok"}}]}}],
           ["LD_persist_records", {{"label": "x"}}],
           ["LD_diff_runs", {{"database_path": "runs.db", "baseline_run_id": "yesterday"}}],
           ["LD_assert_no_regression", {{"database_path": "runs.db", "baseline_run_id": 1, "tolerance": "lots"}}]"#,
        srv.base_url()
    ))
    .run_in(&dir);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(srv.hits("/ok"), 0, "nothing ran");
    assert!(r.stderr.contains("actions[1]"), "{}", r.stderr);
    assert!(r.stderr.contains("database_path"), "{}", r.stderr);
    assert!(
        r.stderr.contains("actions[2].args.baseline_run_id"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("run ids are what LD_persist_records prints"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("actions[3].args.tolerance"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("runs.db").exists());
}

/// A SQLite file `users.db` in `dir` with `users(id, name)`: 3 rows.
fn users_db(dir: &Path) {
    let c = rusqlite::Connection::open(dir.join("users.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO users (id, name) VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');",
    )
    .unwrap();
}

#[test]
fn a_db_source_feeds_its_rows_to_placeholders() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("db_source");
    users_db(&dir);
    let r = Plan::new(format!(
        r#"["LD_register_db_source", {{"name": "u", "connection_string": "sqlite:///users.db",
             "query": "SELECT id + 200 AS code, name FROM users ORDER BY id", "cycle": false}}],
           ["LD_start_test", {{"user_count": 1, "iterations": 5, "host": "{}",
             "tasks": [{{"url": "/status/${{db.u.code}}?who=${{db.u.name}}", "name": "by-row"}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&dir);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for code in ["/status/201", "/status/202", "/status/203"] {
        assert_eq!(srv.hits(code), 1, "{code}");
    }
    // cycle false: the fourth pass finds the source used up.
    assert_eq!(r.summary()["by_name"]["by-row"]["requests"], 3);
}

#[test]
fn a_bad_db_source_is_refused_before_anything_runs() {
    let dir = scratch("db_source_bad");
    users_db(&dir);
    std::fs::write(dir.join("junk.db"), "not a database\n".repeat(100)).unwrap();
    let cases = [
        (
            r#"["LD_register_db_source", {"name": "u", "connection_string": "postgres://x", "query": "SELECT 1"}]"#,
            "is not a SQLite connection string",
        ),
        (
            r#"["LD_register_db_source", {"name": "u", "connection_string": "sqlite:///missing.db", "query": "SELECT 1"}]"#,
            "database file \"missing.db\" not found",
        ),
        (
            r#"["LD_register_db_source", {"name": "u", "connection_string": "sqlite:///users.db", "query": "DELETE FROM users"}]"#,
            "the query must only read",
        ),
        (
            r#"["LD_register_db_source", {"name": "u", "connection_string": "sqlite:///users.db", "query": "SELECT * FROM users WHERE id > 10"}]"#,
            "the query returns no rows",
        ),
        (
            r#"["LD_register_db_source", {"name": "u", "connection_string": "sqlite:///junk.db", "query": "SELECT 1"}]"#,
            "junk.db: file is not a database",
        ),
        (
            r#"["LD_register_db_sources", {"sources": [{"name": "u", "connection_string": "sqlite:///users.db", "query": "SELECT name FROM users"}]}],
               ["LD_log", {"message": "${db.u.nope}"}]"#,
            "`${db.u.nope}`: database source `u` has no column `nope`",
        ),
    ];
    for (actions, expect) in cases {
        let r = Plan::new(actions).run_in(&dir);
        assert_eq!(r.code, 2, "{actions}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{actions}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    let rows: i64 = rusqlite::Connection::open(dir.join("users.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 3, "the query was never run for writing");
}
