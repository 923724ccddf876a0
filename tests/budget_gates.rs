//! The failure budget and SLA gates through the real binary: a cascading run
//! stops and exits 3 with its reports written; recovered flakes don't count;
//! min_samples and the strict `>` hold; gates exit 4 with one JUnit failure
//! per failing rule; exit-code precedence.

use crate::common::{self, ld, n, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::path::PathBuf;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("budget", name)
}

/// The actions (JSON list items), a summary and a JUnit report, seeded with 5.
fn plan(actions: impl Into<String>) -> Plan {
    Plan::new(actions)
        .seed(5)
        .then(r#"["LD_generate_junit_report", {"report_name": "junit"}]"#)
}

/// Runs `plan` in a fresh folder named `name`.
fn run(name: &str, flags: &[&str], actions: impl Into<String>) -> Run {
    plan(actions).flags(flags).run_in(&scratch(name))
}

#[test]
fn a_cascading_regression_trips_exits_3_and_still_reports() {
    let srv = DemoServer::start(0).unwrap();
    // About 200 requests/s; healthy for the first 200, then every request fails.
    let r = run(
        "cascade",
        &[],
        format!(
            r#"["LD_install_failure_budget", {{"threshold": 0.1, "window_seconds": 2, "min_samples": 50}}],
               ["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "test_time": 20, "wait_time": 0.01,
                 "host": "{0}", "tasks": [{{"url": "/fail-after/k/200", "name": "checkout"}}]}}],
               ["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{0}/ok"}}]}}],
               ["LD_budget_status"]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.took < Duration::from_secs(12),
        "the test stopped early: {:?}",
        r.took
    );
    assert!(
        r.stderr.contains("failure budget tripped in test 1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("HTTP 503"),
        "the line names the top error: {}",
        r.stderr
    );
    assert!(r.stderr.contains("skipped LD_start_test"), "{}", r.stderr);
    assert_eq!(srv.hits("/ok"), 0, "later tests are skipped");
    assert!(
        r.stdout.contains("failure budget: tripped in test 1"),
        "{}",
        r.stdout
    );
    let s = r.summary();
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["exit_reason"], "budget_tripped");
    let b = &s["budget"];
    assert_eq!(b["installed"], true);
    assert_eq!(b["state"], "tripped");
    assert_eq!(b["reason"], "error_rate");
    assert_eq!(b["threshold"], 0.1);
    assert!(b["error_rate"].as_f64().unwrap() > 0.1);
    assert!(n(&b["samples"]) >= 50);
    let at = b["tripped_at_s"].as_f64().unwrap();
    // Healthy for 200 requests (~1 s), then failures push the 2 s window over
    // 10 % after a few dozen: it trips soon after the regression starts,
    // measured in requests (robust on a loaded machine) and, loosely, in time.
    assert!((0.3..12.0).contains(&at), "tripped at {at} s");
    let total = &s["total"];
    assert!(n(&total["requests"]) >= 200, "{total}");
    let failed = n(&total["failures"]);
    assert!(
        (1..=120).contains(&failed),
        "tripped after {failed} failures"
    );
    assert_eq!(b["top_errors"][0]["message"], "HTTP 503");
    assert_eq!(s["tests"][0]["ended_by"], "budget");
    assert_eq!(s["tests"].as_array().unwrap().len(), 1);
    assert!(r.file("junit.xml").exists());
}

#[test]
fn failures_recovered_by_retries_do_not_trip() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "recovered",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 2, "iterations": 40, "host": "{}",
                 "failure_budget": {{"threshold": 0.01, "window_seconds": 30, "min_samples": 10}},
                 "retry": {{"base_delay": 0.001, "jitter": 0, "retry_ratio": 1.0}},
                 "tasks": [{{"url": "/flaky/${{uuid()}}/1", "name": "flaky once"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["budget"]["state"], "armed");
    assert_eq!(n(&s["total"]["failures"]), 0);
    assert_eq!(n(&s["total"]["retry"]["recovered"]), 80);
}

#[test]
fn min_samples_and_the_strict_threshold_hold() {
    let srv = DemoServer::start(0).unwrap();
    // 100 % failures but fewer samples than min_samples: a budget given
    // keeps its min_samples (only the default judges a short test at its end).
    let r = run(
        "min_samples",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 19, "failure_budget": {{"threshold": 0.0, "min_samples": 20}},
                 "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.summary()["budget"]["state"], "armed");
    // One more sample reaches min_samples: 20/20 > 0 trips.
    let r = run(
        "min_samples_reached",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 20, "failure_budget": {{"threshold": 0.0, "min_samples": 20}},
                 "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    // Exactly at the threshold (every request fails, threshold 1.0) never trips.
    let r = run(
        "strict",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 30, "failure_budget": {{"threshold": 1.0, "min_samples": 5}},
                 "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn the_cli_flag_applies_to_every_test_and_uninstall_turns_budgets_off() {
    let srv = DemoServer::start(0).unwrap();
    let test = format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 30, "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
        srv.base_url()
    );
    let r = run("flag", &["--failure-budget", "0.5,10s,10"], &test);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.summary()["budget"]["min_samples"], 10);

    // An installed budget wins over the flag; uninstalling turns budgets off,
    // the flag's included, until another is installed.
    let r = run(
        "installed",
        &["--failure-budget", "0.5,10s,10"],
        format!(
            r#"["LD_install_failure_budget", {{"threshold": 1.0}}], {test},
               ["LD_uninstall_failure_budget"], ["LD_budget_status"], {test}"#
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("failure budget: off"), "{}", r.stdout);

    for bad in ["2", "0.1,soon", "x"] {
        let r = Run::of(ld("run-str").args(["--failure-budget", bad, "[[\"LD_log\", [\"x\"]]]"]));
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
    }
}

#[test]
fn slow_calls_trip_the_budget_too() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "slow",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 4, "spawn_rate": 100, "test_time": 20,
                 "failure_budget": {{"threshold": 0.5, "min_samples": 8, "slow_call_ms": 50, "slow_call_threshold": 0.5}},
                 "tasks": [{{"request_url": "{}/slow/100"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(10));
    let b = &r.summary()["budget"];
    assert_eq!(b["reason"], "slow_calls");
    assert!(b["slow_call_rate"].as_f64().unwrap() > 0.5);
}

#[test]
fn a_failed_gate_exits_4_with_one_junit_failure_per_rule() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "gates",
        &["--failure-budget", "off"],
        format!(
            r#"["LD_start_test", {{"user_count": 2, "iterations": 10, "host": "{}",
                 "tasks": [{{"url": "/ok", "name": "ok"}}, {{"url": "/status/500", "name": "broken"}}]}}],
               ["LD_evaluate_sla", {{"rules": [{{"type": "requests", "name": "nobody", "op": "gte", "value": 0}}]}}],
               ["LD_assert_sla", {{"rules": [
                  {{"type": "latency_p95", "op": "lte", "value": 10000}},
                  {{"type": "failure_rate", "name": "ok", "value": 0}},
                  {{"type": "failure_rate", "value": 0.1}},
                  {{"type": "requests", "op": "gte", "value": 1000000}},
                  {{"type": "rps", "op": "gt", "value": 0}}
               ]}}],
               ["LD_log", {{"message": "the plan goes on"}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stdout.contains("the plan goes on"));
    assert!(
        r.stderr.contains("sla FAIL: failure_rate lte 0.1 (all)"),
        "{}",
        r.stderr
    );
    let s = r.summary();
    assert_eq!(s["exit_code"], 4);
    assert_eq!(s["exit_reason"], "gate_failed");
    let sla = s["sla"].as_array().unwrap();
    assert_eq!(sla.len(), 6);
    assert_eq!(
        sla[0]["passed"], false,
        "a rule over no samples fails: {}",
        sla[0]
    );
    assert_eq!(sla[0]["asserted"], false);
    let passed: Vec<bool> = sla[1..]
        .iter()
        .map(|r| r["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, vec![true, true, false, false, true]);

    let xml = std::fs::read_to_string(r.file("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some("sla"))
        .expect("an sla suite");
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 6);
    let failing = cases
        .iter()
        .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
        .count();
    assert_eq!(
        failing, 3,
        "one failure per failing rule (the evaluated one included)"
    );
}

#[test]
fn exit_code_precedence_rows() {
    let srv = DemoServer::start(0).unwrap();
    let failing_test = format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 20, "failure_budget": {{"threshold": 0.5, "min_samples": 5}},
             "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
        srv.base_url()
    );
    let failing_gate =
        r#"["LD_assert_sla", {"rules": [{"type": "requests", "op": "gte", "value": 1000000}]}]"#;
    // Fails at run time: the port is taken (by `srv`).
    let port = srv.base_url().rsplit(':').next().unwrap().to_string();
    let failing_action = format!(r#"["LD_start_demo_server", {{"port": {port}}}]"#);
    let failing_action = failing_action.as_str();

    // 3 (budget) > 4 (gate)
    let r = run(
        "p_budget_gate",
        &[],
        format!("{failing_test}, {failing_gate}"),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(r.summary()["exit_reason"], "budget_tripped");
    // 4 (gate) > 1 (action failed)
    let r = run(
        "p_gate_action",
        &["--keep-going"],
        format!("{failing_gate}, {failing_action}"),
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(r.summary()["exit_code"], 4);
    // 3 > 1
    let r = run(
        "p_budget_action",
        &["--keep-going"],
        format!("{failing_test}, {failing_action}"),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    // 1 > 0
    let r = run("p_action", &["--keep-going"], failing_action);
    assert_eq!(r.code, 1);
    assert_eq!(r.summary()["exit_reason"], "action_failed");
    // 2 (invalid) > everything: nothing runs.
    let r = run(
        "p_invalid",
        &[],
        format!("{failing_test}, {failing_gate}, [\"LD_bogus\"]"),
    );
    assert_eq!(r.code, 2);
    assert!(!r.file("summary.json").exists());
    // Each budget run trips at its 5th sample and stops; the invalid plan sends nothing.
    assert_eq!(srv.hits("/status/500"), 10);
}

#[test]
fn budget_and_gate_arguments_are_validated() {
    for (action, needle) in [
        (
            r#"["LD_install_failure_budget", {"threshold": 1.5}]"#,
            "threshold must be a fraction",
        ),
        (
            r#"["LD_install_failure_budget", {"window": 30}]"#,
            "unknown field `window`",
        ),
        (
            r#"["LD_install_failure_budget", {"slow_call_ms": 100}]"#,
            "go together",
        ),
        (r#"["LD_assert_sla", {"rules": []}]"#, "rules is empty"),
        (
            r#"["LD_assert_sla", {"rules": [{"type": "latency_p42", "value": 1}]}]"#,
            "unknown variant `latency_p42`",
        ),
        (
            r#"["LD_assert_sla", {"rules": [{"type": "rps", "op": "eq", "value": 1}]}]"#,
            "unknown variant `eq`",
        ),
        (
            r#"["LD_assert_sla", {"rules": [{"type": "rps"}]}]"#,
            "missing field `value`",
        ),
    ] {
        let r = run("validate", &[], action);
        assert_eq!(r.code, 2, "{action}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{action}: {}", r.stderr);
    }
}

#[test]
fn a_trip_stops_a_thousand_users_within_seconds() {
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "thousand",
        &[],
        format!(
            r#"["LD_start_test", {{"user_count": 1000, "spawn_rate": 100000, "test_time": 60, "stop_timeout": 5,
                 "failure_budget": {{"threshold": 0.05, "min_samples": 50}},
                 "tasks": [{{"request_url": "{}/status/500"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let t = &r.summary()["tests"][0];
    assert_eq!(t["ended_by"], "budget");
    assert_eq!(t["users"], 1000);
    // Measured to the process's exit, not to the moment the stop began: the
    // trip, stopping every user, the reports and the exit, all within the
    // 5 s stop_timeout (the 500s are answered at once, so no user needs the
    // grace) and far from the 60 s test_time.
    assert!(
        r.took < Duration::from_secs(5),
        "1000 users: the run ended after {:?}",
        r.took
    );
}

#[test]
fn requests_cut_off_at_the_end_never_trip_a_healthy_run() {
    let srv = DemoServer::start(0).unwrap();
    // Every user is inside a 400 ms conditioner delay or a 400 ms request when
    // the test ends: those are cancelled, not failures, and the budget is inert
    // once the test is stopping.
    let r = run(
        "cut_off",
        &[],
        format!(
            r#"["LD_install_failure_budget", {{"threshold": 0.05, "min_samples": 5}}],
               ["LD_install_network_conditioner", {{"latency_ms": 400}}],
               ["LD_start_test", {{"user_count": 10, "spawn_rate": 1000, "test_time": 1.1, "stop_timeout": 0,
                 "host": "{}", "tasks": [{{"url": "/slow/400", "name": "slow"}}]}}],
               ["LD_assert_sla", {{"rules": [{{"type": "failure_rate", "value": 0}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["budget"]["state"], "armed");
    assert_eq!(n(&s["total"]["failures"]), 0);
    assert!(n(&s["total"]["cancelled"]) > 0, "{}", s["total"]);
}
