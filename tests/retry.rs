//! Adaptive retry against the in-process demo server: each error class
//! recovers or surfaces as documented, with the exact attempt counts the
//! server saw, delays within bounds, and the run-wide retry budget capping a
//! storm.

use crate::common::{self, n, Plan, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("retry", name)
}

/// Runs one LD_start_test (its JSON arguments), seeded with 11. Its
/// failures are on purpose: no failure budget.
fn run_test(name: &str, args: &str) -> Run {
    Plan::new(format!(r#"["LD_start_test", {args}]"#))
        .seed(11)
        .flags(&["--failure-budget", "off"])
        .run_in(&scratch(name))
}

/// One user, one pass, one task with a retry block: the summary of that task.
fn one_request(
    name: &str,
    srv: &DemoServer,
    path: &str,
    task_extra: &str,
    retry: &str,
) -> (Value, Run) {
    let r = run_test(
        name,
        &format!(
            r#"{{"user_count": 1, "iterations": 1, "host": "{}",
                 "tasks": [{{"url": "{path}", "name": "t" {task_extra}, "retry": {retry}}}]}}"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    (r.summary()["by_name"]["t"].clone(), r)
}

const FAST: &str = r#""base_delay": 0.01, "jitter": 0"#;

#[test]
fn transient_503_recovers_with_the_exact_attempts() {
    let srv = DemoServer::start(0).unwrap();
    let (t, r) = one_request("t503", &srv, "/flaky/a/3", "", &format!("{{{FAST}}}"));
    assert_eq!(srv.hits("/flaky/a/3"), 4);
    assert_eq!(n(&t["requests"]), 1);
    assert_eq!(n(&t["failures"]), 0);
    let rt = &t["retry"];
    assert_eq!(n(&rt["attempts"]), 4);
    assert_eq!(n(&rt["retries"]["transient"]), 3);
    assert_eq!(n(&rt["recovered"]), 1);
    let s = r.summary();
    assert_eq!(s["retry"], s["total"]["retry"]);
}

#[test]
fn dropped_connections_recover() {
    let srv = DemoServer::start(0).unwrap();
    let (t, _) = one_request("reset", &srv, "/reset/b/2", "", &format!("{{{FAST}}}"));
    assert_eq!(srv.hits("/reset/b/2"), 3);
    assert_eq!(n(&t["failures"]), 0);
    assert_eq!(n(&t["retry"]["retries"]["transient"]), 2);
}

#[test]
fn a_refused_port_exhausts_the_transient_budget_with_backoff() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run_test(
        "refused",
        &format!(
            r#"{{"user_count": 1, "iterations": 1,
                 "tasks": [{{"url": "http://127.0.0.1:{port}/x", "name": "t",
                   "retry": {{"transient": 3, "base_delay": 0.1, "backoff_factor": 2, "jitter": 0}}}}]}}"#
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = &r.summary()["by_name"]["t"];
    assert_eq!(n(&t["failures"]), 1);
    assert_eq!(
        t["top_errors"][0]["message"], "connection refused",
        "the original error is reported"
    );
    assert_eq!(n(&t["retry"]["attempts"]), 4);
    assert_eq!(n(&t["retry"]["exhausted"]["transient"]), 1);
    // 0.1 + 0.2 + 0.4 s of backoff, end to end.
    let ms = t["latency_ms"]["max"].as_f64().unwrap();
    assert!((690.0..3000.0).contains(&ms), "latency {ms} ms");
    let attempt_ms = t["retry"]["attempt_latency_ms"]["max"].as_f64().unwrap();
    assert!(
        attempt_ms < 500.0,
        "a refused attempt is fast: {attempt_ms}"
    );
}

#[test]
fn retry_after_sets_the_delay_capped_by_max_delay() {
    let srv = DemoServer::start(0).unwrap();
    let (t, _) = one_request(
        "ra",
        &srv,
        "/retry-after/c/1/1",
        "",
        r#"{"base_delay": 0.01}"#,
    );
    assert_eq!(srv.hits("/retry-after/c/1/1"), 2);
    let ms = t["latency_ms"]["max"].as_f64().unwrap();
    assert!((990.0..3000.0).contains(&ms), "Retry-After: 1 → {ms} ms");

    let (t, _) = one_request(
        "ra_cap",
        &srv,
        "/retry-after/d/1/30",
        "",
        r#"{"base_delay": 0.01, "max_delay": 0.2}"#,
    );
    assert_eq!(n(&t["failures"]), 0);
    let ms = t["latency_ms"]["max"].as_f64().unwrap();
    assert!(
        (190.0..1500.0).contains(&ms),
        "capped at max_delay: {ms} ms"
    );
}

#[test]
fn a_failed_assertion_is_flaky_and_recovers_within_its_budget() {
    let srv = DemoServer::start(0).unwrap();
    // With an empty transient set, a 503 that fails an assertion is flaky.
    let retry = format!(r#"{{{FAST}, "retry_on_status": []}}"#);
    let extra = r#", "assertions": {"contains": "recovered"}"#;
    let (t, _) = one_request("flaky_ok", &srv, "/flaky/e/2", extra, &retry);
    assert_eq!(srv.hits("/flaky/e/2"), 3);
    assert_eq!(n(&t["failures"]), 0);
    assert_eq!(n(&t["retry"]["retries"]["flaky"]), 2);
    assert_eq!(n(&t["retry"]["recovered"]), 1);

    let (t, _) = one_request("flaky_out", &srv, "/flaky/f/5", extra, &retry);
    assert_eq!(srv.hits("/flaky/f/5"), 3, "budget 2: three attempts");
    assert_eq!(n(&t["failures"]), 1);
    assert_eq!(n(&t["retry"]["exhausted"]["flaky"]), 1);
    assert_eq!(
        t["top_errors"][0]["message"],
        "expected the body to contain \"recovered\""
    );
}

#[test]
fn a_permanent_failure_makes_exactly_one_attempt() {
    let srv = DemoServer::start(0).unwrap();
    let (t, _) = one_request("perm", &srv, "/status/404", "", &format!("{{{FAST}}}"));
    assert_eq!(srv.hits("/status/404"), 1);
    assert_eq!(n(&t["failures"]), 1);
    assert_eq!(n(&t["retry"]["attempts"]), 1);
    assert_eq!(t["top_errors"][0]["message"], "HTTP 404");
}

#[test]
fn without_a_retry_block_nothing_retries() {
    let srv = DemoServer::start(0).unwrap();
    let r = run_test(
        "none",
        &format!(
            r#"{{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{}/flaky/g/3"}}]}}"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0);
    assert_eq!(srv.hits("/flaky/g/3"), 1);
    let s = r.summary();
    assert!(s.get("retry").is_none());
    assert!(s["total"].get("retry").is_none());
}

#[test]
fn a_run_wide_policy_applies_and_tasks_override_it_field_by_field() {
    let srv = DemoServer::start(0).unwrap();
    let r = run_test(
        "runwide",
        &format!(
            r#"{{"user_count": 1, "iterations": 1, "host": "{}",
                 "retry": {{"transient": 1, "base_delay": 0.01, "jitter": 0}},
                 "tasks": [{{"url": "/flaky/h/3", "name": "inherits"}},
                           {{"url": "/flaky/i/3", "name": "overrides", "retry": {{"transient": 3}}}}]}}"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(srv.hits("/flaky/h/3"), 2, "run-wide transient budget 1");
    assert_eq!(srv.hits("/flaky/i/3"), 4, "task's own budget 3");
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["inherits"]["failures"]), 1);
    assert_eq!(n(&b["overrides"]["failures"]), 0);
}

#[test]
fn the_retry_budget_caps_a_storm() {
    let srv = DemoServer::start(0).unwrap();
    let r = run_test(
        "storm",
        &format!(
            r#"{{"user_count": 4, "spawn_rate": 1000, "test_time": 1.5, "host": "{}", "failure_budget": false,
                 "retry": {{"transient": 1000, "base_delay": 0, "jitter": 0, "retry_ratio": 0.2, "retry_min_per_s": 3}},
                 "tasks": [{{"url": "/status/503", "name": "down"}}]}}"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let down = &r.summary()["by_name"]["down"];
    let rt = &down["retry"];
    let firsts = n(&down["requests"]);
    let retries = n(&rt["retries"]["transient"]);
    assert!(firsts > 100, "the test ran: {firsts}");
    // 0.2 × first attempts + 3/s × 10 s, plus a little slack for racing workers.
    let cap = (0.2 * firsts as f64 + 30.0 + 8.0) as u64;
    assert!(
        retries <= cap,
        "retries {retries} > cap {cap} ({firsts} first attempts)"
    );
    assert!(n(&rt["retry_budget_exhausted"]) > 0);
    assert_eq!(srv.hits("/status/503"), firsts + retries);
}

#[test]
fn backoff_stops_early_when_the_test_ends() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run_test(
        "early",
        &format!(
            r#"{{"user_count": 2, "spawn_rate": 100, "test_time": 1,
                 "tasks": [{{"url": "http://127.0.0.1:{port}/", "name": "t",
                   "retry": {{"base_delay": 30, "max_delay": 30, "jitter": 0}}}}]}}"#
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(8), "took {:?}", r.took);
    assert_eq!(n(&r.summary()["by_name"]["t"]["requests"]), 2);
}

#[test]
fn retry_blocks_are_validated() {
    for (retry_where, needle) in [
        (
            r#""retry": {"transient": 3, "bogus": 1}"#,
            "unknown field `bogus`",
        ),
        (r#""retry": {"jitter": 2}"#, "jitter must be a fraction"),
        (
            r#""retry": {"transient": "many"}"#,
            "expected a whole number, found \"many\"",
        ),
    ] {
        let r = run_test(
            "invalid",
            &format!(
                r#"{{"user_count": 1, "iterations": 1, {retry_where}, "tasks": [{{"request_url": "http://127.0.0.1:9/"}}]}}"#
            ),
        );
        assert_eq!(r.code, 2, "{retry_where}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{retry_where}: {}", r.stderr);
    }
    let r = run_test(
        "invalid_task",
        r#"{"user_count": 1, "iterations": 1, "tasks": [{"request_url": "http://127.0.0.1:9/", "retry": {"retry_ratio": 0.5}}]}"#,
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("tasks[0].retry.retry_ratio: retry_ratio is run-wide"),
        "{}",
        r.stderr
    );
}
