//! Response bodies are read into memory only when a check reads them, and
//! then only up to `max_body_bytes`; otherwise they are counted and dropped.

use crate::common::{self, n, wait_for, Plan};
use loaddensity::demo_server::DemoServer;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("bodies", name)
}

/// A server whose every response is a chunked body that never ends (64 KiB
/// chunks, for at most `limit`).
fn endless_body_server(limit: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let started = Instant::now();
        while let Ok((mut s, _)) = l.accept() {
            std::thread::spawn(move || {
                let _ = s.read(&mut [0u8; 4096]);
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                while started.elapsed() < limit && s.write_all(chunk.as_bytes()).is_ok() {}
            });
            if started.elapsed() > limit {
                break;
            }
        }
    });
    port
}

/// Resident memory of a process now, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `plan` in the background and returns its run and the most resident
/// memory seen while it ran.
fn run_watching_memory(plan: Plan, dir: &std::path::Path) -> (common::Run, u64) {
    let mut run = plan.spawn_in(dir);
    wait_for("the test started", Duration::from_secs(10), || {
        run.stderr_so_far().contains("test 1:")
    });
    let mut most = 0;
    while run.is_running() {
        most = most.max(rss_kib(run.pid()));
        std::thread::sleep(Duration::from_millis(20));
    }
    (run.finish(Duration::from_secs(30)), most)
}

#[test]
fn an_endless_body_nothing_reads_is_counted_not_kept() {
    let _machine = common::exclusive();
    let port = endless_body_server(Duration::from_secs(20));
    let d = scratch("endless_unread");
    let (r, most) = run_watching_memory(
        Plan::new(format!(
            r#"["LD_start_test", {{"user_count": 1, "test_time": 2, "stop_timeout": 0, "expect_requests": false,
                "tasks": [{{"request_url": "http://127.0.0.1:{port}/", "assertions": {{"status_code": 200}}}}]}}]"#
        )),
        &d,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(most < 50 * 1024, "peak RSS {most} KiB");
    // The one request never ended: cut off at the end of the test.
    assert_eq!(n(&r.summary()["total"]["cancelled"]), 1);
}

#[test]
fn an_endless_body_a_check_reads_fails_at_the_cap() {
    let _machine = common::exclusive();
    let port = endless_body_server(Duration::from_secs(20));
    let d = scratch("endless_read");
    let (r, most) = run_watching_memory(
        Plan::new(format!(
            r#"["LD_start_test", {{"user_count": 2, "test_time": 2, "stop_timeout": 0, "failure_budget": false,
                "tasks": [{{"request_url": "http://127.0.0.1:{port}/", "assertions": {{"contains": "ok"}}}}]}}]"#
        )),
        &d,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        most < 100 * 1024,
        "peak RSS {most} KiB with two 10 MiB caps"
    );
    let total = &r.summary()["total"];
    assert!(n(&total["failures_by_kind"]["protocol"]) >= 2, "{total}");
    assert_eq!(
        total["top_errors"][0]["message"],
        "response body larger than max_body_bytes (10485760 bytes)"
    );
}

#[test]
fn max_body_bytes_caps_what_a_check_reads_and_counts_the_rest() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("cap");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 2, "host": "{}", "max_body_bytes": 1024,
            "tasks": [
              {{"url": "/bytes/5000", "name": "read", "assertions": {{"contains": "x"}}}},
              {{"url": "/bytes/5000", "name": "own cap", "max_body_bytes": 8000, "assertions": {{"contains": "x"}}}},
              {{"url": "/bytes/200000", "name": "unread"}}
            ]}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["read"]["failures"]), 2, "{}", b["read"]);
    assert_eq!(
        b["read"]["top_errors"][0]["message"],
        "response body larger than max_body_bytes (1024 bytes)"
    );
    assert_eq!(n(&b["own cap"]["failures"]), 0, "{}", b["own cap"]);
    assert_eq!(n(&b["own cap"]["bytes"]), 10_000);
    // Not read by any check: counted in full, kept nowhere.
    assert_eq!(n(&b["unread"]["failures"]), 0);
    assert_eq!(n(&b["unread"]["bytes"]), 400_000);
}
