//! The process supervisor through the real binary: the watchdog ends a run
//! against a server that never answers with 124 and its reports written;
//! SIGINT / SIGTERM stop gracefully with 130 / 143; the orphan-kill prelude
//! stops an orphaned run but never a live run or an unrelated process.
//!
//! Every run here except the orphan checker passes `--no-kill-orphans`, so
//! tests running side by side never stop each other's runs.

mod common;
use assert_cmd::cargo::CommandCargoExt;
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("supervisor", name)
}

fn bin() -> Command {
    Command::cargo_bin("loaddensity").unwrap()
}

fn summary(dir: &Path, name: &str) -> Value {
    let t = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&t).unwrap()
}

/// Waits for a child, at most `limit`; returns its exit code and how long it took.
fn wait(child: &mut Child, limit: Duration) -> (i32, Duration) {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), t.elapsed());
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a quiet run in the background (no orphan prelude, output discarded).
fn spawn_run(dir: Option<&Path>, flags: &[&str], plan: &str) -> Child {
    let mut cmd = bin();
    cmd.args(["run-str", "--no-kill-orphans", "--quiet"])
        .args(flags)
        .arg(plan)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.spawn().unwrap()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
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
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 3, "test_time": 60, "stop_timeout": 1,
              "tasks": [{{"request_url": "{0}/hang", "name": "hang"}}]}}],
            ["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{0}/ok"}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let t = Instant::now();
    let o = bin()
        .args(["run-str", "--no-kill-orphans", "--timeout", "3s", &plan])
        .current_dir(&d)
        .output()
        .unwrap();
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(124), "{err}");
    // 3 s limit + 1 s stop_timeout + the client's abort tick.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(took >= Duration::from_secs(3), "took {took:?}");
    assert!(err.contains("watchdog: 3.0 s elapsed"), "{err}");
    let s = summary(&d, "summary.json");
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
    let plan = format!(
        r#"[["LD_set_watchdog", {{"timeout_seconds": 1.5, "on_timeout": [
               ["LD_log", {{"message": "on_timeout ran"}}],
               ["LD_generate_summary_report", {{"report_name": "from_on_timeout"}}]]}}],
            ["LD_start_test", {{"user_count": 2, "test_time": 60, "tasks": [{{"request_url": "{}/ok"}}]}}]]"#,
        srv.base_url()
    );
    let o = bin()
        .args(["run-str", "--no-kill-orphans", &plan])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("on_timeout ran"));
    let s = summary(&d, "from_on_timeout.json");
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
    let plan = format!(
        r#"[["LD_with_watchdog", {{"timeout_seconds": 1, "actions": [
               ["LD_start_test", {{"user_count": 1, "test_time": 60, "tasks": [{{"request_url": "{0}/slow/100"}}]}}],
               ["LD_log", {{"message": "never printed"}}]],
             "on_timeout": [["LD_log", {{"message": "nested on_timeout"}}]]}}],
            ["LD_start_test", {{"user_count": 1, "iterations": 1, "tasks": [{{"request_url": "{0}/ok"}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let o = bin()
        .args(["run-str", "--no-kill-orphans", &plan])
        .current_dir(&d)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("nested on_timeout") && !out.contains("never printed"),
        "{out}"
    );
    assert_eq!(srv.hits("/ok"), 0, "later load is skipped");
    assert_eq!(summary(&d, "summary.json")["exit_code"], 124);
}

fn interrupt(sig: &str, code: i32, reason: &str) {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch(reason);
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 2, "test_time": 60, "tasks": [{{"request_url": "{}/ok"}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let mut child = spawn_run(Some(&d), &[], &plan);
    std::thread::sleep(Duration::from_millis(1500));
    signal(child.id(), sig);
    let (rc, took) = wait(&mut child, Duration::from_secs(15));
    assert_eq!(rc, code);
    assert!(took < Duration::from_secs(6), "graceful stop took {took:?}");
    let s = summary(&d, "summary.json");
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
fn a_second_sigint_exits_at_once() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("second_signal");
    // In-flight requests would get 60 s of grace after the first signal.
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 2, "test_time": 60, "stop_timeout": 60, "tasks": [{{"request_url": "{}/hang"}}]}}]]"#,
        srv.base_url()
    );
    let mut child = spawn_run(Some(&d), &[], &plan);
    std::thread::sleep(Duration::from_millis(1000));
    signal(child.id(), "-INT");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still winding down after the first signal"
    );
    signal(child.id(), "-INT");
    let (rc, took) = wait(&mut child, Duration::from_secs(10));
    assert_eq!(rc, 130);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn the_prelude_stops_an_orphan_but_not_a_live_run_or_a_bystander() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("orphans");
    let exe = assert_cmd::cargo::cargo_bin("loaddensity");
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 1, "test_time": 30, "wait_time": 0.05, "tasks": [{{"request_url": "{}/ok"}}]}}]]"#,
        srv.base_url()
    );
    // The orphan: started through a shell that exits once the run has marked itself.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' run-str --no-kill-orphans --quiet '{}' >/dev/null 2>&1 & echo $!; sleep 1",
            exe.display(),
            plan
        ))
        .output()
        .unwrap();
    let orphan: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // A live run (its parent, this test, is alive) and a bystander whose command line mentions loaddensity.
    let mut live = spawn_run(None, &[], &plan);
    let mut bystander = Command::new("sh")
        .arg("-c")
        .arg("sleep 30 # loaddensity run plan.json")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(orphan) && alive(live.id()) && alive(bystander.id()));

    // `orphans` lists it and stops nothing.
    let o = bin().arg("orphans").output().unwrap();
    let listed = String::from_utf8_lossy(&o.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&format!("{orphan}\t"))),
        "{listed}"
    );
    assert!(!listed.contains(&format!("{}\t", live.id())), "{listed}");
    assert!(alive(orphan));

    // The next run's prelude stops the orphan, and only it.
    let o = bin()
        .args([
            "run-str",
            r#"[["LD_generate_summary_report", {"report_name": "summary"}]]"#,
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("pid {orphan}")), "{err}");
    let t = Instant::now();
    while alive(orphan) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(orphan), "the orphan was stopped");
    assert!(alive(live.id()), "a live run is never touched");
    assert!(
        alive(bystander.id()),
        "an unrelated process is never touched"
    );
    let killed = &summary(&d, "summary.json")["supervisor"]["orphans_killed"];
    assert!(
        killed
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["pid"] == orphan),
        "{killed}"
    );

    let _ = live.kill();
    let _ = bystander.kill();
    let _ = live.wait();
    let _ = bystander.wait();
}

#[test]
fn precedence_a_signal_outranks_the_watchdog() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("p_signal_watchdog");
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 1, "test_time": 60, "stop_timeout": 3, "tasks": [{{"request_url": "{}/hang"}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let mut child = spawn_run(Some(&d), &["--timeout", "1s"], &plan);
    // The watchdog fires at 1 s; the hung request has 3 s of grace; SIGINT comes meanwhile.
    std::thread::sleep(Duration::from_millis(2000));
    signal(child.id(), "-INT");
    let (rc, _) = wait(&mut child, Duration::from_secs(15));
    assert_eq!(rc, 130);
    assert_eq!(
        summary(&d, "summary.json")["exit_reason"],
        "interrupted_sigint"
    );
}

#[test]
fn precedence_the_watchdog_outranks_a_tripped_budget() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("p_watchdog_budget");
    // User 0 fails once, then sits in a 3 s request; user 1 starts at 1 s and
    // fails too: the budget trips at 1 s, the watchdog fires at 2 s while user
    // 0's request is still in its grace.
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 2, "spawn_rate": 1, "test_time": 60, "stop_timeout": 10,
              "failure_budget": {{"threshold": 0.5, "min_samples": 2}}, "host": "{}",
              "tasks": [{{"url": "/status/500"}}, {{"url": "/slow/3000"}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let o = bin()
        .args(["run-str", "--no-kill-orphans", "--timeout", "2s", &plan])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = summary(&d, "summary.json");
    assert_eq!(s["exit_reason"], "watchdog");
    assert_eq!(s["budget"]["state"], "tripped");
}

#[test]
fn a_watchdog_caps_a_long_stop_timeout_so_reports_are_written() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("watchdog_long_grace");
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 2, "test_time": 60, "stop_timeout": 60,
              "tasks": [{{"request_url": "{}/hang", "timeout": 120}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let t = Instant::now();
    let o = bin()
        .args([
            "run-str",
            "--no-kill-orphans",
            "--quiet",
            "--timeout",
            "1s",
            &plan,
        ])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(124));
    // 1 s limit + at most 5 s of grace after a watchdog, well before the 15 s hard exit.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(summary(&d, "summary.json")["exit_reason"], "watchdog");
}

#[test]
fn values_too_large_for_a_clock_never_panic() {
    // A spawn time and a conditioner latency too large for any clock: the user
    // sleeps until the test stops instead of panicking; the run ends normally.
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("huge_values");
    let plan = format!(
        r#"[["LD_start_test", {{"user_count": 1, "test_time": 1, "spawn_rate": 1e-300,
              "tasks": [{{"request_url": "{}/ok", "network": {{"latency_ms": 1e9}}}}]}}],
            ["LD_generate_summary_report", {{"report_name": "summary"}}]]"#,
        srv.base_url()
    );
    let o = bin()
        .args(["run-str", "--no-kill-orphans", "--quiet", &plan])
        .current_dir(&d)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(summary(&d, "summary.json")["exit_code"], 0);
    // Durations no clock can hold are validation errors, not panics.
    for bad in [
        r#""test_time": 1e20"#,
        r#""stop_timeout": 1e20"#,
        r#""wait_time": 1e20"#,
    ] {
        // Bounded even if it were accepted: one user, one pass.
        let plan = format!(
            r#"[["LD_start_test", {{{bad}, "user_count": 1, "iterations": 1, "tasks": [{{"request_url": "http://127.0.0.1:9/"}}]}}]]"#
        );
        let o = bin()
            .args(["run-str", "--no-kill-orphans", &plan])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
