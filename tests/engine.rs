//! The load engine through the real binary, against the in-process demo server
//! on 127.0.0.1 (port 0): counts, assertions, extraction, scenario modes,
//! ramp-up, iterations, stop_timeout and every report.

use crate::common::{self, ld, n, Plan};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("engine", name)
}

#[test]
fn client_and_server_counts_add_up() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("counts");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 4, "spawn_rate": 100, "iterations": 25,
                "tasks": [{{"method": "get", "request_url": "{0}/ok"}}, {{"method": "get", "request_url": "{0}/json"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &r.summary();
    assert_eq!(n(&s["total"]["requests"]), 200);
    assert_eq!(n(&s["total"]["failures"]), 0);
    assert_eq!(srv.total_requests(), 200);
    assert_eq!(srv.hits("/ok"), 100);
    assert_eq!(n(&s["by_name"]["/ok"]["requests"]), 100);
    assert_eq!(n(&s["by_name"]["/json"]["requests"]), 100);
    assert_eq!(s["tests"][0]["ended_by"], "iterations");
    // 4 users keep their connections alive.
    assert!(srv.connections() <= 8, "connections: {}", srv.connections());
}

#[test]
fn latencies_measure_a_known_server_delay() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("latency");
    // `/slow/100` answers after 100 ms, `/ok` at once.
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "iterations": 5, "host": "{}",
                "tasks": [{{"url": "/slow/100", "name": "slow"}}, {{"url": "/ok", "name": "fast"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["slow"]["requests"]), 10);
    // Every slow request waited the delay, in milliseconds: not 0.1 (seconds)
    // nor 100 000 (microseconds), and on loopback far less than a second more.
    let slow = &b["slow"]["latency_ms"];
    for q in ["min", "p50", "p99", "max"] {
        let ms = slow[q].as_f64().unwrap();
        assert!((100.0..1100.0).contains(&ms), "slow {q}: {ms} ms");
    }
    // An immediate answer's median is well under the delay.
    let fast = b["fast"]["latency_ms"]["p50"].as_f64().unwrap();
    assert!((0.0..50.0).contains(&fast), "fast p50: {fast} ms");
}

#[test]
fn assertions_fail_requests_with_a_message_but_with_the_budget_off_not_the_run() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("assertions");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "iterations": 5, "host": "{}",
                "failure_budget": false,
                "tasks": [
                  {{"url": "/status/500", "name": "plain 500"}},
                  {{"url": "/status/404", "name": "wanted 404", "assertions": {{"status_code": 404}}}},
                  {{"url": "/json", "name": "wrong json", "assertions": {{"json_path": {{"items.0.name": "gamma"}}}}}},
                  {{"url": "/ok", "name": "contains", "assertions": {{"contains": "ok", "not_contains": "error"}}}},
                  {{"url": "/json", "name": "header", "assertions": {{"header": {{"content-type": "application/json"}}}}}},
                  {{"url": "/ok", "name": "missing text", "assertions": {{"contains": "nope"}}}}
                ]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(
        r.code, 0,
        "with the budget off, failed requests alone do not fail the run: {}",
        r.stderr
    );
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["plain 500"]["failures"]), 10);
    assert_eq!(b["plain 500"]["top_errors"][0]["message"], "HTTP 500");
    assert_eq!(n(&b["plain 500"]["failures_by_kind"]["status"]), 10);
    assert_eq!(n(&b["wanted 404"]["failures"]), 0);
    assert_eq!(n(&b["contains"]["failures"]), 0);
    assert_eq!(n(&b["header"]["failures"]), 0);
    assert_eq!(n(&b["wrong json"]["failures"]), 10);
    let msg = b["wrong json"]["top_errors"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("items.0.name") && msg.contains("gamma") && msg.contains("alpha"),
        "{msg}"
    );
    assert_eq!(b["missing text"]["top_errors"][0]["kind"], "assertion");
    assert_eq!(n(&r.summary()["total"]["failures"]), 30);
}

#[test]
fn extracted_values_stay_with_their_user() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("isolation");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 8, "spawn_rate": 1000, "iterations": 30, "host": "{}",
                "tasks": [
                  {{"url": "/token", "name": "login", "extract": [{{"var": "token", "from": "json_path", "path": "token"}}]}},
                  {{"method": "post", "url": "/use/${{var.token}}", "name": "use"}}
                ]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["login"]["requests"]), 240);
    assert_eq!(n(&b["use"]["requests"]), 240);
    assert_eq!(
        n(&b["use"]["failures"]),
        0,
        "a token was used twice or not at all: {}",
        b["use"]
    );
    assert_eq!(srv.hits("/token"), 240);
}

#[test]
fn a_strict_test_with_an_undefined_plan_variable_fails_before_it_sends() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("undefined");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 3, "host": "{}", "strict": true,
                "tasks": [{{"url": "/use/${{var.never_set}}", "name": "use"}}], "variables": {{"x": 1}}}}]"#,
        srv.base_url()
    ))
    .flags(&["--keep-going"])
    .run_in(&d);
    assert_eq!(
        r.code, 1,
        "a plan variable that no task extracts is checked at test start"
    );
    assert!(r.stderr.contains("never_set"), "{}", r.stderr);
    assert_eq!(srv.total_requests(), 0);
    assert_eq!(r.summary()["exit_code"], 1);
    assert_eq!(r.summary()["exit_reason"], "action_failed");
}

#[test]
fn a_strict_test_with_an_undefined_user_variable_fails_the_request_not_the_process() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("undefined_user");
    // `token` is extracted by a task, so it is per-user and resolved per request;
    // the first task never sets it.
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 2, "host": "{}", "strict": true,
                "tasks": [{{"url": "/use/${{var.token}}", "name": "use"}},
                          {{"url": "/status/404", "name": "never", "extract": [{{"var": "token", "from": "status_code"}}]}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let u = &r.summary()["by_name"]["use"];
    assert_eq!(n(&u["failures_by_kind"]["request"]), 2, "{u}");
    assert!(u["top_errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("undefined variable `token`"));
}

#[test]
fn weighted_mix_is_within_statistical_bounds() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("weighted");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 4, "spawn_rate": 1000, "iterations": 500, "host": "{}",
                "tasks": {{"mode": "weighted", "tasks": [
                   {{"url": "/ok", "weight": 3}}, {{"url": "/json", "weight": 1}}]}}}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ok = n(&r.summary()["by_name"]["/ok"]["requests"]) as f64;
    let json = n(&r.summary()["by_name"]["/json"]["requests"]) as f64;
    assert_eq!(ok + json, 2000.0);
    // Binomial(2000, 0.75): sd ≈ 19.4; allow 5 sd.
    assert!((ok - 1500.0).abs() < 97.0, "ok = {ok}");
}

#[test]
fn conditional_tasks_follow_their_predicates() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("conditional");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "iterations": 4, "host": "{}",
                "variables": {{"role": "admin"}},
                "tasks": {{"mode": "conditional", "tasks": [
                   {{"url": "/ok", "name": "admins", "run_if": {{"equals": ["${{var.role}}", "admin"]}}}},
                   {{"url": "/ok", "name": "guests", "run_if": {{"equals": ["${{var.role}}", "guest"]}}}},
                   {{"url": "/ok", "name": "skipped", "skip_if": true}},
                   {{"url": "/token", "name": "login", "run_if": {{"not_equals": ["${{var.token}}", "x"]}},
                     "extract": [{{"var": "token", "from": "json_path", "path": "token"}}]}},
                   {{"url": "/json", "name": "after login", "run_if": "${{var.token}}"}}
                ]}}}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["admins"]["requests"]), 8);
    assert!(
        b.get("guests").is_none() && b.get("skipped").is_none(),
        "{b}"
    );
    // `not_equals` on an undefined variable is false: login never runs, so neither does "after login".
    assert!(
        b.get("login").is_none() && b.get("after login").is_none(),
        "{b}"
    );
}

#[test]
fn ramp_up_follows_spawn_rate() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("ramp");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 5, "spawn_rate": 5, "iterations": 1,
                "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // User i starts at i / 5 s: the last one at 0.8 s.
    let dur = r.summary()["tests"][0]["duration_s"].as_f64().unwrap();
    assert!((0.75..3.0).contains(&dur), "duration {dur}");
    assert_eq!(srv.total_requests(), 5);
}

#[test]
fn test_time_and_stop_timeout_bound_a_test() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("stop_timeout");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 100, "test_time": 1, "stop_timeout": 0.5,
                "record_csv": "rows", "expect_requests": false,
                "tasks": [{{"request_url": "{}/slow/20000", "name": "slow"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // 1 s of test, 0.5 s of grace, then the hung requests are cut off.
    assert!(r.took >= Duration::from_millis(1400), "took {:?}", r.took);
    assert!(r.took < Duration::from_secs(6), "took {:?}", r.took);
    let t = &r.summary()["tests"][0];
    assert_eq!(t["ended_by"], "time");
    // The duration runs to the stop, not through the grace.
    let dur = t["duration_s"].as_f64().unwrap();
    assert!((0.95..2.0).contains(&dur), "duration {dur}");
    // Cut off before they completed: cancelled, neither requests nor failures.
    let slow = &r.summary()["by_name"]["slow"];
    assert_eq!(n(&slow["cancelled"]), 3);
    assert_eq!(n(&slow["requests"]), 0);
    assert_eq!(n(&slow["failures"]), 0);
    // The per-request file says the same: three cancelled rows, no failure.
    let rows = std::fs::read_to_string(d.join("rows.csv")).unwrap();
    let outcomes: Vec<&str> = rows
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(outcomes, ["cancelled"; 3], "{rows}");
}

#[test]
fn every_report_parses_and_agrees_with_the_summary() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("reports");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "iterations": 20, "host": "{}",
                "record_csv": "out/requests", "failure_budget": false,
                "tasks": [{{"url": "/ok", "name": "ok <&> \"quoted\""}}, {{"url": "/status/503", "name": "bad,name"}}]}}],
               ["LD_generate_json_report", {{"json_file_name": "out/full"}}],
               ["LD_generate_csv_report", {{"csv_name": "out/stats"}}],
               ["LD_generate_junit_report", {{"report_name": "out/junit"}}],
               ["LD_generate_html_report", {{"html_name": "out/report"}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = &r.summary();
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["exit_reason"], "pass");
    assert_eq!(s["seed"], 7);
    assert_eq!(n(&s["total"]["requests"]), 80);
    assert_eq!(n(&s["total"]["failures"]), 40);

    let full: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/full.json")).unwrap()).unwrap();
    assert_eq!(full["total"], s["total"]);
    assert!(full["tests"][0]["timeline"].is_array());

    let csv = std::fs::read_to_string(d.join("out/stats.csv")).unwrap();
    let last = csv.lines().last().unwrap();
    assert!(last.starts_with("all,Aggregated,80,40,"), "{last}");

    let xml = std::fs::read_to_string(d.join("out/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 2);
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert!(cases
        .iter()
        .any(|c| c.attribute("name") == Some("ok <&> \"quoted\"")));

    let html = std::fs::read_to_string(d.join("out/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("ok &lt;&amp;&gt;"));
    assert!(!html.contains("<script src") && !html.contains("<link"));

    let rows = std::fs::read_to_string(d.join("out/requests.csv")).unwrap();
    assert_eq!(rows.lines().count(), 81, "header + one row per request");
    assert!(rows
        .lines()
        .next()
        .unwrap()
        .starts_with("outcome,method,url,name,status_code"));
    assert_eq!(
        rows.lines().filter(|l| l.starts_with("failure,")).count(),
        40
    );
}

#[test]
fn bodies_params_headers_and_auth_reach_the_server() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("bodies");
    let r = Plan::new(format!(
        r#"["LD_register_variable", {{"name": "greeting", "value": "hi there"}}],
               ["LD_start_test", {{"user_count": 1, "iterations": 1, "host": "{}",
                "tasks": [
                  {{"method": "POST", "url": "/echo", "name": "json", "json": {{"g": "${{var.greeting}}"}},
                    "assertions": {{"json_path": {{"method": "POST", "headers.content-type": "application/json", "body": "{{\"g\":\"hi there\"}}"}}}}}},
                  {{"method": "post", "url": "/echo", "name": "form", "data": {{"a": "1 2", "b": "&"}},
                    "assertions": {{"json_path": {{"body": "a=1%202&b=%26"}}}}}},
                  {{"method": "put", "url": "/echo", "name": "params", "params": {{"q": "x y", "n": 3}},
                    "headers": {{"X-Test": "${{var.greeting}}"}}, "auth": {{"type": "bearer", "token": "abc"}},
                    "assertions": {{"json_path": {{"query.q": "x y", "query.n": "3", "headers.x-test": "hi there", "headers.authorization": "Bearer abc"}}}}}},
                  {{"method": "get", "url": "/echo", "name": "basic", "auth": {{"type": "basic", "username": "user", "password": "pass"}},
                    "assertions": {{"json_path": {{"headers.authorization": "Basic dXNlcjpwYXNz"}}}}}}
                ]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        n(&r.summary()["total"]["failures"]),
        0,
        "{}",
        r.summary()["by_name"]
    );
}

#[test]
fn every_example_plan_runs_green_against_the_demo_target() {
    let plans = common::example_plans();
    let d = scratch("examples");
    for plan in plans {
        let r = common::start(
            ld("run")
                .args(["--quiet", "--seed", "3"])
                .arg(&plan)
                .current_dir(&d),
        )
        .finish(Duration::from_secs(120));
        assert_eq!(r.code, 0, "{}: {}", plan.display(), r.stderr);
    }
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("reports/retry_summary.json")).unwrap(),
    )
    .unwrap();
    let b = &s["by_name"];
    assert_eq!(n(&b["503 twice, then ok"]["failures"]), 0);
    assert_eq!(
        n(&b["503 twice, then ok"]["retry"]["retries"]["transient"]),
        160
    );
    assert_eq!(n(&b["dropped once, then ok"]["failures"]), 0);
    assert_eq!(n(&b["429 with Retry-After"]["failures"]), 0);
    // Its first attempt gets a 503 that fails the assertion; with no
    // transient statuses that is flaky, retried once, and recovers.
    let flaky = &b["assertion (flaky budget 1)"];
    assert_eq!(n(&flaky["failures"]), 0);
    assert_eq!(n(&flaky["retry"]["attempts"]), 160);
    assert_eq!(n(&flaky["retry"]["retries"]["flaky"]), 80);
    assert_eq!(n(&flaky["retry"]["recovered"]), 80);
    assert_eq!(n(&b["404 surfaces at once"]["failures"]), 80);
    assert_eq!(n(&b["404 surfaces at once"]["retry"]["attempts"]), 80);
}

#[test]
fn a_header_built_with_a_line_break_fails_the_request_not_the_response() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("header_injection");
    let r =
        Plan::new(r#"["LD_register_variable", {"name": "evil", "value": "a\r\nX-Injected: 1"}]"#)
            .then(format!(
                r#"["LD_start_test", {{"user_count": 1, "iterations": 3, "host": "{}",
            "tasks": [{{"url": "/ok", "headers": {{"X-Note": "${{var.evil}}"}}}}]}}]"#,
                srv.base_url()
            ))
            .flags(&["--failure-budget", "off"])
            .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let total = &r.summary()["total"];
    assert_eq!(n(&total["failures_by_kind"]["request"]), 3, "{total}");
    let msg = total["top_errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("invalid request: header \"X-Note\""),
        "{msg}"
    );
    assert_eq!(
        srv.total_requests(),
        0,
        "nothing with a line break was sent"
    );
}

#[test]
fn a_variable_that_doubles_itself_stops_at_the_cap() {
    let d = scratch("doubling");
    let mut plan = Plan::new(r#"["LD_register_variable", {"name": "a", "value": "x"}]"#);
    for _ in 0..40 {
        plan = plan.then(r#"["LD_register_variable", {"name": "a", "value": "${var.a}${var.a}"}]"#);
    }
    let r = plan.run_in(&d);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("a resolved value is longer than 16 MiB"),
        "{}",
        r.stderr
    );
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
}

#[test]
fn record_csv_survives_a_kill_with_whole_rows() {
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("record_kill");
    let mut run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 30, "wait_time": 0.01, "record_csv": "rows",
            "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .spawn_in(&d);
    common::wait_for(
        "a second and a half of requests",
        Duration::from_secs(10),
        || srv.total_requests() > 50 && run.is_running(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    run.signal("-KILL");
    let _ = run.finish(Duration::from_secs(10));
    let rows = std::fs::read_to_string(d.join("rows.csv")).unwrap();
    assert!(rows.lines().count() > 10, "rows of the last second: {rows}");
    assert!(rows.ends_with('\n'), "a torn last row");
}

#[test]
fn a_record_csv_write_error_fails_the_run_and_keeps_the_reports() {
    use std::os::unix::process::CommandExt;
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("record_full");
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 1.5, "record_csv": "rows",
            "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ));
    let mut cmd = plan.command(&d);
    // Files may grow to 200 KB: the rows outgrow that, the summary does not.
    // SAFETY: setrlimit and signal in the child between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 200_000,
                rlim_max: 200_000,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &lim);
            Ok(())
        });
    }
    let r = common::Run::of(cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("record_csv"), "{}", r.stderr);
    assert_eq!(r.summary()["exit_reason"], "action_failed");
    let rows = std::fs::read(d.join("rows.csv")).unwrap();
    assert!(
        rows.len() <= 200_000 && rows.len() > 1000,
        "{} bytes",
        rows.len()
    );
    assert_eq!(rows.last(), Some(&b'\n'), "a torn last row");
}
