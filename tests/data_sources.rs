//! LoadDensity's data features, end to end against the in-process demo
//! server: CSV data sources, session extract, undefined placeholders left in
//! place and counted, `--strict`.

use crate::common::{n, scratch_dir, Plan};
use loaddensity::demo_server::DemoServer;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    scratch_dir("data_sources", name)
}

/// Four users, names and ids that belong together.
const USERS: &str = "name,id\r\nann,1\r\n\"bob\",2\r\ncy,3\r\n\"d\"\"ee\",4\r\n";

#[test]
fn every_task_resolution_takes_the_next_row_shared_by_all_users() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("cycle");
    std::fs::write(d.join("users.csv"), USERS).unwrap();
    // 3 users × 4 passes over 4 rows: every row exactly 3 times.
    let r = Plan::new(r#"["LD_register_csv_source", {"name": "users", "file_path": "users.csv"}]"#)
        .then(format!(
            r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 1000, "iterations": 4, "host": "{}",
                "tasks": [{{"url": "/c/${{csv.users.id}}", "name": "c", "assertions": {{"status_code": 404}}}}]}}]"#,
            srv.base_url()
        ))
        // A test's own source starts at its first row; all of a task's
        // placeholders read one row (URL, header, assertions).
        .then(format!(
            r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 1000, "iterations": 3, "host": "{}",
                "csv_sources": [{{"name": "own", "file_path": "users.csv", "cycle": true}}],
                "tasks": [{{"url": "/echo?name=${{csv.own.name}}", "name": "echo",
                           "headers": {{"X-Id": "${{csv.own.id}}"}},
                           "assertions": {{"json_path": {{"query.name": "${{csv.own.name}}", "headers.x-id": "${{csv.own.id}}"}}}}}}]}}]"#,
            srv.base_url()
        ))
        .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for id in 1..=4 {
        assert_eq!(srv.hits(&format!("/c/{id}")), 3, "row {id}");
    }
    let s = r.summary();
    assert_eq!(n(&s["by_name"]["c"]["requests"]), 12);
    assert_eq!(n(&s["by_name"]["echo"]["requests"]), 9);
    assert_eq!(
        n(&s["by_name"]["echo"]["failures"]),
        0,
        "{}",
        s["by_name"]["echo"]
    );
    assert!(s.get("unresolved").is_none(), "{s}");
    assert!(s.get("csv_exhausted").is_none(), "{s}");
}

#[test]
fn a_source_that_does_not_cycle_stops_the_users_that_find_it_used_up() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("no_cycle");
    std::fs::write(d.join("users.csv"), USERS).unwrap();
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 1000, "iterations": 10, "test_time": 20, "host": "{}",
            "csv_sources": [{{"name": "users", "file_path": "users.csv", "cycle": false}}],
            "tasks": [{{"url": "/c/${{csv.users.id}}", "name": "c", "assertions": {{"status_code": 404}}}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for id in 1..=4 {
        assert_eq!(srv.hits(&format!("/c/{id}")), 1, "row {id}");
    }
    let s = r.summary();
    assert_eq!(n(&s["total"]["requests"]), 4);
    assert_eq!(s["csv_exhausted"], serde_json::json!({"users": 3}));
    assert_eq!(
        s["tests"][0]["csv_exhausted"],
        serde_json::json!({"users": 3})
    );
    assert_eq!(
        s["tests"][0]["ended_by"], "iterations",
        "every user finished"
    );
}

#[test]
fn session_extract_is_reused_and_a_missing_value_is_skipped_and_counted() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("session");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 1000, "iterations": 3, "host": "{}",
            "tasks": [
              {{"name": "login", "method": "post", "url": "/token",
                "extract": [{{"var": "tok", "path": "token", "scope": "session"}},
                            {{"var": "nothing", "path": "no.such.0"}},
                            {{"var": "etag", "from": "header", "name": "ETag"}}]}},
              {{"name": "use", "url": "/use/${{session.tok}}"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(n(&s["by_name"]["login"]["failures"]), 0, "{s}");
    assert_eq!(n(&s["by_name"]["use"]["requests"]), 6);
    assert_eq!(
        n(&s["by_name"]["use"]["failures"]),
        0,
        "{}",
        s["by_name"]["use"]
    );
    assert_eq!(srv.hits("/token"), 6);
    assert_eq!(
        s["extract_missed"],
        serde_json::json!({"etag": 6, "nothing": 6})
    );
    assert!(s.get("unresolved").is_none(), "{s}");
}

#[test]
fn an_undefined_placeholder_is_sent_as_its_text_and_counted() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("undefined");
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 1000, "iterations": 2, "host": "{}",
            "tasks": [{{"url": "/echo", "name": "echo",
                       "headers": {{"X-T": "${{var.missing}}", "X-S": "${{session.gone}}"}},
                       "assertions": {{"json_path": {{"headers.x-t": "$${{var.missing}}", "headers.x-s": "$${{session.gone}}"}}}}}}]}}]"#,
        srv.base_url()
    ))
    .then(r#"["LD_log", {"message": "${never}"}]"#);
    let r = plan.run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("warning: <run-str>:1: actions[0].args.tasks[0].headers.X-T: `${var.missing}` is never defined by this run"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("`${session.gone}` is never defined"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.lines().any(|l| l == "${never}"), "{}", r.stdout);
    let s = r.summary();
    assert_eq!(
        n(&s["by_name"]["echo"]["failures"]),
        0,
        "{}",
        s["by_name"]["echo"]
    );
    assert_eq!(
        s["tests"][0]["unresolved"],
        serde_json::json!({"var.missing": 4, "session.gone": 4})
    );
    assert_eq!(
        s["unresolved"],
        serde_json::json!({"var.missing": 4, "session.gone": 4, "var.never": 1})
    );

    // --strict: what validation can tell is refused before anything runs.
    let r = plan.clone().flags(&["--strict"]).run_in(&d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: <run-str>:1: actions[0].args.tasks[0].headers.X-T: `${var.missing}` is never defined by this run"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("`${var.never}` is never defined"),
        "{}",
        r.stderr
    );
    assert_eq!(srv.hits("/echo"), 4, "the strict run sent nothing");
}

#[test]
fn csv_problems_are_found_at_validation() {
    let d = scratch("invalid");
    std::fs::write(d.join("users.csv"), USERS).unwrap();
    std::fs::write(d.join("empty.csv"), "").unwrap();
    let task = |url: &str| {
        format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 1, "host": "http://127.0.0.1:9", "tasks": [{{"url": "{url}"}}]}}]"#
        )
    };
    let r = Plan::new(r#"["LD_register_csv_source", {"name": "users", "file_path": "users.csv"}]"#)
        .then(r#"["LD_register_csv_source", {"name": "gone", "file_path": "nowhere/x.csv"}]"#)
        .then(r#"["LD_register_csv_sources", {"sources": [{"name": "empty", "file_path": "empty.csv"}]}]"#)
        .then(task("/a/${csv.users.age}"))
        .then(task("/b/${csv.other.id}"))
        .run_in(&d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let e = &r.stderr;
    assert!(
        e.contains("actions[1].args.file_path: CSV file \"nowhere/x.csv\" not found: looked in the plan's folder (")
            && e.contains("and in the working directory ("),
        "{e}"
    );
    assert!(
        e.contains("actions[2].args.sources[0].file_path: CSV file ")
            && e.contains("empty.csv: the file is empty: it needs a header row"),
        "{e}"
    );
    assert!(
        e.contains("actions[3].args.tasks[0].url: `${csv.users.age}`: CSV source `users` has no column `age`"),
        "{e}"
    );
    assert!(e.contains("its header names: id, name"), "{e}");
    assert!(
        e.contains(
            "actions[4].args.tasks[0].url: `${csv.other.id}`: no CSV source `other` is registered"
        ),
        "{e}"
    );
}
