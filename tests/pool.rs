//! The executor pool: a few worker threads drive every user over
//! non-blocking sockets, so stops are immediate (even during a connect or a
//! TLS handshake), timers are accurate, the thread count does not follow the
//! user count, and capacity is checked before anything is sent.

use crate::common::{self, n, wait_for, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("pool", name)
}

/// A listener whose accept queue is full: it never accepts, its backlog is
/// one, and two connections already wait in it, so new SYNs are dropped and
/// a connect to it hangs.
fn full_accept_queue() -> (TcpListener, Vec<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) on a descriptor the listener owns; it only sets the backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let addr = l.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            held.push(s);
        }
    }
    // The proof that it is full: one more connect does not complete.
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the accept queue did not fill"
    );
    (l, held)
}

#[test]
fn the_watchdog_ends_a_run_stuck_in_connects_within_a_second() {
    let _machine = common::exclusive();
    let (l, _held) = full_accept_queue();
    let d = scratch("watchdog_connect");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 5, "spawn_rate": 100, "test_time": 30,
            "tasks": [{{"request_url": "http://{}/"}}]}}]"#,
        l.local_addr().unwrap()
    ))
    .flags(&["--timeout", "2s"])
    .run_in(&d);
    assert_eq!(r.code, 124, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(3), "took {:?}", r.took);
    let t = &r.summary()["tests"][0];
    assert_eq!(t["ended_by"], "watchdog");
    assert_eq!(n(&t["total"]["cancelled"]), 5, "the five stuck connects");
}

#[test]
fn sigterm_during_a_stalled_connect_exits_143_with_reports() {
    let _machine = common::exclusive();
    let (l, _held) = full_accept_queue();
    let d = scratch("sigterm_connect");
    let run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 100, "test_time": 30,
            "tasks": [{{"request_url": "http://{}/"}}]}}]"#,
        l.local_addr().unwrap()
    ))
    .spawn_in(&d);
    // Ready when its users are connecting: the start line is out.
    wait_for("the test started", Duration::from_secs(10), || {
        run.stderr_so_far().contains("test 1:")
    });
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    run.signal("-TERM");
    let r = run.finish(Duration::from_secs(10));
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(r.code, 143, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["exit_reason"], "interrupted_sigterm");
    assert_eq!(s["tests"][0]["ended_by"], "signal");
    assert_eq!(n(&s["total"]["cancelled"]), 3);
}

#[test]
fn a_silent_https_server_is_a_read_timeout_not_a_connect_timeout() {
    let _machine = common::exclusive();
    // Accepts, reads the ClientHello, never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
            let _ = s.read(&mut [0u8; 1024]);
            held.push(s);
            if held.len() > 8 {
                break;
            }
        }
    });
    let d = scratch("silent_https");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 1,
            "tasks": [{{"request_url": "https://127.0.0.1:{port}/", "timeout": 0.5}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let total = &r.summary()["total"];
    assert_eq!(n(&total["failures_by_kind"]["timeout"]), 1, "{total}");
    let msg = total["top_errors"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with("no response within 500ms"), "{msg}");
    let ms = total["latency_ms"]["max"].as_f64().unwrap();
    assert!((500.0..600.0).contains(&ms), "failed after {ms} ms");
}

#[test]
fn two_thousand_users_end_within_a_second_of_the_test() {
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("two_thousand");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2000, "spawn_rate": 100000, "test_time": 2,
            "wait_time": 0.1, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(3), "took {:?}", r.took);
    let t = &r.summary()["tests"][0];
    assert_eq!(t["ended_by"], "time");
    assert!(n(&t["total"]["requests"]) > 2000, "{}", t["total"]);
}

#[test]
fn a_timeout_fires_on_time_and_is_recorded_as_such() {
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("timeout_accuracy");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 20, "spawn_rate": 1000, "iterations": 2,
            "tasks": [{{"request_url": "{}/slow/5000", "timeout": 0.3}}]}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let total = &r.summary()["total"];
    assert_eq!(n(&total["failures_by_kind"]["timeout"]), 40, "{total}");
    let lat = &total["latency_ms"];
    let (min, max) = (lat["min"].as_f64().unwrap(), lat["max"].as_f64().unwrap());
    // The histograms keep 3 significant digits: 300 ms lands in a bucket
    // reported as 299.776 ms, so "not early" allows that bucket.
    assert!(min >= 299.7, "fired early: {min} ms");
    assert!(max < 320.0, "fired late: {max} ms");
}

/// Threads of a process, from /proc.
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn a_thousand_users_run_on_the_workers_alone() {
    let _machine = common::exclusive();
    // The target in its own process, so its threads are not counted.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = common::start(common::ld("demo-server").args(["--port", &port.to_string()]));
    wait_for("the demo server", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let d = scratch("thousand_threads");
    let mut run = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1000, "spawn_rate": 100000, "test_time": 3,
            "wait_time": 0.05, "tasks": [{{"request_url": "http://127.0.0.1:{port}/ok"}}]}}]"#
    ))
    .flags(&["--workers", "2"])
    .spawn_in(&d);
    wait_for("the test started", Duration::from_secs(10), || {
        run.stderr_so_far().contains("test 1:")
    });
    let mut most = 0;
    let t = Instant::now();
    while run.is_running() && t.elapsed() < Duration::from_secs(10) {
        most = most.max(threads(run.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = run.finish(Duration::from_secs(10));
    server.signal("-TERM");
    let _ = server.finish(Duration::from_secs(10));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(most >= 3, "threads were not seen: {most}");
    assert!(most <= 2 + 4, "{most} threads for 1000 users on 2 workers");
    let t = &r.summary()["tests"][0];
    assert_eq!(t["workers"], 2);
    assert!(n(&t["total"]["requests"]) > 1000, "{}", t["total"]);
}

#[test]
fn user_counts_are_capped_at_validation() {
    let d = scratch("user_cap");
    let r = Plan::new(
        r#"["LD_start_test", {"user_count": 1000000000000, "tasks": [{"request_url": "http://127.0.0.1:9/"}]}]"#,
    )
    .run_in(&d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("user_count"), "{}", r.stderr);
    assert!(r.stderr.contains("1000000"), "{}", r.stderr);
}

#[test]
fn users_that_cannot_hold_their_connections_are_refused_before_any_load() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("open_files");
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 20000, "spawn_rate": 100, "test_time": 2,
            "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ));
    let mut cmd = plan.command(&d);
    // SAFETY: setrlimit in the child between fork and exec touches nothing else.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let r = Run::of(cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("20000 connections"), "{}", r.stderr);
    assert!(r.stderr.contains("open-file limit is 1024"), "{}", r.stderr);
    assert!(r.stderr.contains("ulimit -n"), "{}", r.stderr);
    assert_eq!(srv.total_requests(), 0, "nothing was sent");
    assert!(!d.join("summary.json").exists());
}

#[test]
fn twenty_thousand_users_start_as_fast_as_their_spawn_rate() {
    let _machine = common::exclusive();
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_max < 20_000 {
        eprintln!(
            "skipped: 20000 users need an open-file hard limit of 20000; this machine's is {} (the run would be refused, as the next test checks)",
            lim.rlim_max
        );
        return;
    }
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("twenty_thousand");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 20000, "spawn_rate": 100, "test_time": 2,
            "wait_time": 0.5, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.took < Duration::from_secs(4), "took {:?}", r.took);
    // About 200 users started (100 a second for 2 s), each with one connection.
    let c = srv.connections();
    assert!((150..=210).contains(&c), "{c} connections");
}
