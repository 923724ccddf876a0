//! Safe by default in CI: a dead, failing or hung target fails the build fast
//! with the reason on stderr and in the reports; the default budget has three
//! off switches; the pipeline steers a run with flags and environment
//! variables, and may pipe the plan in.

use crate::common::{self, n, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("safe_defaults", name)
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A 30 s test of `users` users on `url` (with `task` fields), then the
/// summary, JUnit and HTML reports.
fn thirty_seconds(users: u32, url: &str, task: &str) -> Plan {
    Plan::new(format!(
        r#"["LD_start_test", {{"user_count": {users}, "spawn_rate": 1000, "test_time": 30,
             "tasks": [{{"request_url": "{url}", "name": "target"{task}}}]}}]"#
    ))
    .then(r#"["LD_generate_junit_report", {"report_name": "junit"}]"#)
    .then(r#"["LD_generate_html_report", {"html_name": "report"}]"#)
}

/// The run failed fast with `code`, said why on stderr, and every report
/// carries the reason.
#[track_caller]
fn failed_fast(r: &Run, code: i32, reason: &str, because: &str) {
    assert_eq!(r.code, code, "{}", r.stderr);
    assert!(
        r.took < Duration::from_secs(5),
        "took {:?} of a 30 s test",
        r.took
    );
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("exit {code}: ")),
        "verdict: {last}"
    );
    assert!(last.contains(because), "verdict: {last}");
    let s = r.summary();
    assert_eq!(s["exit_reason"], reason, "{s:#}");
    let junit = std::fs::read_to_string(r.file("junit.xml")).unwrap();
    assert!(junit.contains(&format!("value=\"{reason}\"")), "{junit}");
    let html = std::fs::read_to_string(r.file("report.html")).unwrap();
    assert!(html.contains(reason), "the HTML report names {reason}");
}

#[test]
fn a_refused_port_trips_the_default_budget_at_once() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let r = thirty_seconds(1, &url, "").run_in(&scratch("refused"));
    failed_fast(&r, 3, "budget_tripped", "connection refused");
    let s = r.summary();
    assert_eq!(s["budget"]["source"], "default", "{:#}", s["budget"]);
    let html = std::fs::read_to_string(r.file("report.html")).unwrap();
    assert!(
        html.contains("<dd id=\"budget-source\">default — "),
        "the HTML report says the budget was the default"
    );
    assert_eq!(n(&s["total"]["requests"]), 50, "stopped at min_samples");
}

#[test]
fn a_404_everywhere_target_trips_the_default_budget() {
    let srv = DemoServer::start(0).unwrap();
    let r =
        thirty_seconds(2, &format!("{}/status/404", srv.base_url()), "").run_in(&scratch("404"));
    failed_fast(&r, 3, "budget_tripped", "HTTP 404");
    assert!(
        srv.total_requests() < 200,
        "{} requests",
        srv.total_requests()
    );
}

#[test]
fn a_hung_target_fails_at_the_task_timeout() {
    let srv = DemoServer::start(0).unwrap();
    let r = thirty_seconds(50, &format!("{}/hang", srv.base_url()), r#", "timeout": 1"#)
        .run_in(&scratch("hang"));
    failed_fast(&r, 3, "budget_tripped", "no response within 1s");
}

#[test]
fn a_test_that_completes_nothing_is_not_a_pass() {
    let srv = DemoServer::start(0).unwrap();
    let hang = |extra: &str| {
        Plan::new(format!(
            r#"["LD_start_test", {{"user_count": 2, "test_time": 1, "stop_timeout": 0{extra},
                 "tasks": [{{"request_url": "{}/hang"}}]}}]"#,
            srv.base_url()
        ))
    };
    let r = hang("").run_in(&scratch("nothing"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.summary()["exit_reason"], "no_completed_requests");
    assert!(
        r.stderr.contains("test 1: no request completed (2 cut off"),
        "{}",
        r.stderr
    );
    // The plan may say that is expected.
    let r = hang(r#", "expect_requests": false"#).run_in(&scratch("nothing_expected"));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn each_switch_turns_the_default_budget_off() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let test = |extra: &str| {
        format!(
            r#"["LD_start_test", {{"user_count": 1, "iterations": 60{extra},
                 "tasks": [{{"request_url": "{url}"}}]}}]"#
        )
    };
    let off = [
        ("test", Plan::new(test(r#", "failure_budget": false"#))),
        (
            "uninstall",
            Plan::new(r#"["LD_uninstall_failure_budget"]"#).then(test("")),
        ),
        (
            "flag",
            Plan::new(test("")).flags(&["--failure-budget", "off"]),
        ),
    ];
    for (name, plan) in off {
        let r = plan.run_in(&scratch(&format!("off_{name}")));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let s = r.summary();
        assert_eq!(n(&s["total"]["failures"]), 60, "{name}: every pass ran");
        assert_eq!(s["budget"]["state"], "none", "{name}");
    }
    // The environment variable says it too.
    let mut cmd = Plan::new(test("")).command(&scratch("off_env"));
    cmd.env("LOADDENSITY_FAILURE_BUDGET", "off");
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn the_pipeline_steers_users_duration_host_and_variables() {
    let srv = DemoServer::start(0).unwrap();
    let plan = Plan::new(
        r#"["LD_register_variable", {"name": "path", "value": "/status/500"}],
           ["LD_start_test", {"user_count": 1, "iterations": 1, "host": "http://127.0.0.1:9",
             "tasks": [{"request_url": "${var.path}", "name": "t"}]}]"#,
    );
    let d = scratch("steer");
    let mut cmd = plan.command(&d);
    cmd.args([
        "--users",
        "3",
        "--host",
        &srv.base_url(),
        "--set",
        "path=/ok",
    ]);
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        srv.hits("/ok"),
        3,
        "three users, one pass each, on the --set path"
    );
    assert_eq!(srv.hits("/status/500"), 0);
    assert!(
        r.stderr
            .contains("variable path: keeping the value given by --set"),
        "{}",
        r.stderr
    );

    // The environment does the same, and a flag wins over it.
    let mut cmd = plan.command(&scratch("steer_env"));
    cmd.env("LOADDENSITY_USERS", "2")
        .env("LOADDENSITY_HOST", srv.base_url())
        .env("LOADDENSITY_SET_path", "/json");
    assert_eq!(Run::of(cmd).code, 0);
    assert_eq!(srv.hits("/json"), 2);
    let mut cmd = plan.command(&scratch("steer_both"));
    cmd.env("LOADDENSITY_USERS", "2")
        .env("LOADDENSITY_HOST", srv.base_url())
        .args(["--users", "4", "--set", "path=/status/204"]);
    assert_eq!(Run::of(cmd).code, 0);
    assert_eq!(srv.hits("/status/204"), 4);

    // --duration bounds a test that would run for a minute.
    let long = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 60, "wait_time": 0.1,
             "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ));
    let r = long
        .flags(&["--duration", "1s"])
        .run_in(&scratch("duration"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(10), "took {:?}", r.took);
    assert_eq!(
        r.summary()["tests"][0]["duration_s"]
            .as_f64()
            .map(f64::round),
        Some(1.0)
    );

    // Bad values are exit 2, nothing run.
    for bad in [
        ["--users", "0"],
        ["--spawn-rate", "-1"],
        ["--host", "ftp://x"],
        ["--set", "a b=1"],
    ] {
        let r = Run::of(common::ld("run-str").args(bad).arg("[]"));
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
    }
}

#[test]
fn a_plan_may_come_from_standard_input() {
    let srv = DemoServer::start(0).unwrap();
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 1, "iterations": 2, "tasks": [{{"request_url": "{}/ok"}}]}}]]"#,
        srv.base_url()
    );
    let mut child = common::ld("run")
        .arg("-")
        .current_dir(scratch("stdin"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(srv.hits("/ok"), 2);
    // A broken plan on stdin is named <stdin>.
    let mut child = common::ld("validate")
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[[\"LD_lgo\"]]")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("<stdin>:1: actions[0]: unknown command `LD_lgo`"));
}

#[test]
fn a_short_test_against_a_dead_target_fails_too() {
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 5, "iterations": 2, "tasks": [{{"request_url": "{url}"}}]}}]"#
    ))
    .run_in(&scratch("short"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(n(&r.summary()["total"]["requests"]), 10, "every pass ran");
    assert!(
        r.stderr.contains("failure budget tripped when test 1 ended (10 samples, fewer than min_samples 50: all of them judged)"),
        "{}",
        r.stderr
    );
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("exit 3: failure budget tripped when test 1 ended — 100.0% of 10 requests failed in the whole test"),
        "{last}"
    );
}

#[test]
fn set_wins_over_the_demo_server_and_an_empty_variable_is_unset() {
    let srv = DemoServer::start(0).unwrap();
    let plan = Plan::new(
        r#"["LD_start_demo_server"],
           ["LD_start_test", {"user_count": 1, "iterations": 1, "tasks": [{"request_url": "${var.demo}/ok"}]}]"#,
    );
    let mut cmd = plan.command(&scratch("set_demo"));
    cmd.args(["--set", &format!("demo={}", srv.base_url())])
        .env("LOADDENSITY_USERS", "")
        .env("LOADDENSITY_TIMEOUT", "");
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(srv.hits("/ok"), 1, "the request went to the --set target");
}
