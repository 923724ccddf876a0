//! The process supervisor through the real binary: the watchdog ends a run
//! against a server that never answers with 124 and its reports written;
//! SIGINT / SIGTERM stop gracefully with 130 / 143; the orphan-kill prelude
//! stops an orphaned run but never a live run or an unrelated process.
//!
//! Every run here except the orphan checker passes `--no-kill-orphans` (the
//! harness's default), so tests running side by side never stop each other's
//! runs.

use crate::common::{self, ld, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("supervisor", name)
}

/// How long a readiness handshake may wait (generous: a loaded CI machine).
const READY: Duration = Duration::from_secs(30);

/// Whether SIGINT is still pending for the process (sent but not yet taken
/// by its handler): bit 2 of `ShdPnd` or `SigPnd` in `/proc/PID/status`.
fn sigint_pending(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().any(|l| {
        let (key, mask) = l.split_once(':').unwrap_or_default();
        matches!(key, "ShdPnd" | "SigPnd")
            && u64::from_str_radix(mask.trim(), 16).is_ok_and(|m| m & (1 << 1) != 0)
    })
}

/// Alive and not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn the_watchdog_ends_a_hung_run_with_124_and_its_reports() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("watchdog");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "test_time": 60, "stop_timeout": 1,
              "tasks": [{{"request_url": "{0}/hang", "name": "hang"}}]}}],
            ["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{0}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--timeout", "3s"])
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    // 3 s limit + 1 s stop_timeout + the client's abort tick.
    assert!(r.took < Duration::from_secs(8), "took {:?}", r.took);
    assert!(r.took >= Duration::from_secs(3), "took {:?}", r.took);
    assert!(r.stderr.contains("watchdog: 3.0 s elapsed"), "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["exit_code"], 124);
    assert_eq!(s["exit_reason"], "watchdog");
    assert_eq!(
        s["tests"].as_array().unwrap().len(),
        1,
        "the second test was skipped"
    );
    assert_eq!(s["tests"][0]["ended_by"], "watchdog");
    assert_eq!(s["by_name"]["hang"]["cancelled"], 3);
    let fired = s["supervisor"]["watchdog_fired_at_s"].as_f64().unwrap();
    assert!((2.5..5.0).contains(&fired), "fired at {fired}");
    assert_eq!(s["supervisor"]["watchdog_timeout_s"], 3.0);
    assert_eq!(srv.hits("/ok"), 0);
}

#[test]
fn set_watchdog_runs_its_on_timeout_actions() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("set_watchdog");
    let r = Plan::new(format!(
        r#"["LD_set_watchdog", {{"timeout_seconds": 1.5, "on_timeout": [
               ["LD_log", {{"message": "on_timeout ran"}}],
               ["LD_generate_summary_report", {{"report_name": "from_on_timeout"}}]]}}],
            ["LD_start_test", {{"user_count": 2, "test_time": 60, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .no_summary()
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    assert!(r.stdout.contains("on_timeout ran"));
    let s = r.report("from_on_timeout.json");
    assert_eq!(s["exit_reason"], "watchdog");
    assert!(
        s["total"]["requests"].as_u64().unwrap() > 0,
        "what was measured is kept"
    );
}

#[test]
fn with_watchdog_limits_a_nested_list_and_later_reports_still_run() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("with_watchdog");
    let r = Plan::new(format!(
        r#"["LD_with_watchdog", {{"timeout_seconds": 1, "actions": [
               ["LD_start_test", {{"user_count": 1, "test_time": 60, "tasks": [{{"request_url": "{0}/slow/100"}}]}}],
               ["LD_log", {{"message": "never printed"}}]],
             "on_timeout": [["LD_log", {{"message": "nested on_timeout"}}]]}}],
            ["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{0}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    assert!(
        r.stdout.contains("nested on_timeout") && !r.stdout.contains("never printed"),
        "{}",
        r.stdout
    );
    assert_eq!(srv.hits("/ok"), 0, "later load is skipped");
    assert_eq!(r.summary()["exit_code"], 124);
}

fn interrupt(sig: &str, code: i32, reason: &str) {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch(reason);
    let run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 60, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--quiet"])
    .spawn_in(&d);
    // Ready once a request was answered: with two users, a third request at
    // the server means one user got its first response and sent again.
    common::wait_for("an answered request", READY, || srv.hits("/ok") >= 3);
    let t = Instant::now();
    run.signal(sig);
    let r = run.finish(Duration::from_secs(15));
    let took = t.elapsed();
    assert_eq!(r.code, code, "{}", r.stderr);
    assert!(took < Duration::from_secs(6), "graceful stop took {took:?}");
    let s = r.summary();
    assert_eq!(s["exit_code"], code);
    assert_eq!(s["exit_reason"], reason);
    assert_eq!(s["tests"][0]["ended_by"], "signal");
    assert!(s["total"]["requests"].as_u64().unwrap() > 0);
}

#[test]
fn sigint_stops_gracefully_with_130_and_reports() {
    interrupt("-INT", 130, "interrupted_sigint");
}

#[test]
fn sigterm_stops_gracefully_with_143_and_reports() {
    interrupt("-TERM", 143, "interrupted_sigterm");
}

#[test]
fn a_second_sigint_ends_the_run_at_once_with_130() {
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("second_signal");
    // After a signal in-flight requests get at most 0.1 s, whatever their
    // stop_timeout, so the graceful stop itself is short: a second SIGINT
    // right behind the first must end the run with 130 either way (at once,
    // or by the graceful path winning the race), never with a hang or a
    // panic.
    let mut run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 60, "stop_timeout": 60, "tasks": [{{"request_url": "{}/hang"}}]}}]"#,
        srv.base_url()
    ))
    .no_summary()
    .flags(&["--quiet"])
    .spawn_in(&d);
    common::wait_for("both requests hanging at the server", READY, || {
        srv.hits("/hang") >= 2
    });
    let t = Instant::now();
    run.signal("-INT");
    // Two pending SIGINTs would merge into one: send the second only once the
    // first has been taken.
    common::wait_for("the first SIGINT taken", READY, || {
        !sigint_pending(run.pid()) || !run.is_running()
    });
    if run.is_running() {
        run.signal("-INT");
    }
    let r = run.finish(Duration::from_secs(10));
    assert_eq!(r.code, 130, "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}

#[test]
fn the_prelude_stops_an_orphan_but_not_a_live_run_or_a_bystander() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("orphans");
    let load = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 30, "wait_time": 0.05, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .no_summary()
    .flags(&["--quiet"]);
    let orphan = common::start_orphan(Path::new(env!("CARGO_BIN_EXE_loaddensity")), &load, &d);
    // A live run (its parent, this test, is alive) and a bystander whose command line mentions loaddensity.
    let live = load.spawn_in(&d);
    let mut bystander = Command::new("sh")
        .arg("-c")
        .arg("sleep 30 # loaddensity run plan.json")
        .spawn()
        .unwrap();
    // The live run carries a marker too, so `orphans` sees it and must pass it over.
    common::wait_for("the live run marked", READY, || common::marked(live.pid()));
    assert!(alive(orphan) && alive(live.pid()) && alive(bystander.id()));

    // `orphans` lists it and stops nothing.
    let listed = Run::of(ld("orphans")).stdout;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{orphan}\t"))),
        "{listed}"
    );
    assert!(!listed.contains(&format!("{}\t", live.pid())), "{listed}");
    assert!(alive(orphan));

    // The next run's prelude stops the orphan, and only it.
    let r = Plan::new("").kill_orphans().run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("pid {orphan}")), "{}", r.stderr);
    common::wait_for("the orphan stopped", Duration::from_secs(5), || {
        !alive(orphan)
    });
    assert!(alive(live.pid()), "a live run is never touched");
    assert!(
        alive(bystander.id()),
        "an unrelated process is never touched"
    );
    let killed = &r.summary()["supervisor"]["orphans_killed"];
    assert!(
        killed
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["pid"] == orphan),
        "{killed}"
    );

    live.kill();
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn precedence_a_signal_outranks_the_watchdog() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("p_signal_watchdog");
    let run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 60, "stop_timeout": 3, "tasks": [{{"request_url": "{}/hang"}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--quiet", "--timeout", "1s"])
    .spawn_in(&d);
    // The watchdog fires at 1 s; the hung request has 3 s of grace; SIGINT
    // comes meanwhile, as soon as the request hangs at the server and the
    // watchdog has said it fired (on stderr, even with --quiet; the seconds
    // it names are what was left of the limit at start-up, so not matched).
    common::wait_for("the request hanging at the server", READY, || {
        srv.hits("/hang") >= 1
    });
    common::wait_for("the watchdog fired", READY, || {
        run.stderr_so_far().contains(" s elapsed; stopping the run")
    });
    run.signal("-INT");
    let r = run.finish(Duration::from_secs(15));
    assert_eq!(r.code, 130, "{}", r.stderr);
    assert_eq!(r.summary()["exit_reason"], "interrupted_sigint");
}

#[test]
fn precedence_the_watchdog_outranks_a_tripped_budget() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("p_watchdog_budget");
    // User 0 fails once, then sits in a 3 s request; user 1 starts at 1 s and
    // fails too: the budget trips at 1 s, the watchdog fires at 2 s while user
    // 0's request is still in its grace.
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 1, "test_time": 60, "stop_timeout": 10,
              "failure_budget": {{"threshold": 0.5, "min_samples": 2}}, "host": "{}",
              "tasks": [{{"url": "/status/500"}}, {{"url": "/slow/3000"}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--timeout", "2s"])
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["exit_reason"], "watchdog");
    assert_eq!(s["budget"]["state"], "tripped");
}

#[test]
fn a_watchdog_caps_a_long_stop_timeout_so_reports_are_written() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("watchdog_long_grace");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 60, "stop_timeout": 60,
              "tasks": [{{"request_url": "{}/hang", "timeout": 120}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--quiet", "--timeout", "1s"])
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    // 1 s limit + at most 5 s of grace after a watchdog, well before the 15 s hard exit.
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
    assert_eq!(r.summary()["exit_reason"], "watchdog");
}

#[test]
fn values_too_large_for_a_clock_never_panic() {
    // A spawn time and a conditioner latency too large for any clock: the user
    // sleeps until the test stops instead of panicking; the run ends normally.
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("huge_values");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 1, "spawn_rate": 1e-300, "expect_requests": false,
              "tasks": [{{"request_url": "{}/ok", "network": {{"latency_ms": 1e9}}}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--quiet"])
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.summary()["exit_code"], 0);
    // Durations no clock can hold are validation errors, not panics.
    for bad in [
        r#""test_time": 1e20"#,
        r#""stop_timeout": 1e20"#,
        r#""wait_time": 1e20"#,
    ] {
        // Bounded even if it were accepted: one user, one pass.
        let r = Plan::new(format!(
            r#"["LD_start_test", {{{bad}, "user_count": 1, "iterations": 1, "tasks": [{{"request_url": "http://127.0.0.1:9/"}}]}}]"#
        ))
        .no_summary()
        .run_in(&d);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
    }
}
