//! Console output and report files: a broken stdout or stderr never ends a
//! run nor loses its reports.

use crate::common::{self, Plan};
use loaddensity::demo_server::DemoServer;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("output", name)
}

/// Waits for `cmd`, already set up with its own stdio, at most `limit`.
fn exit_code(mut cmd: Command, limit: Duration) -> i32 {
    let mut child = cmd.stdin(Stdio::null()).spawn().expect("the binary starts");
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A short plan that prints on both streams: a log line, notes, the
/// end-of-test table, then the summary.
fn chatty_plan(srv: &DemoServer) -> Plan {
    Plan::new(r#"["LD_log", {"message": "hello on stdout"}]"#).then(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 1, "wait_time": 0.01,
            "tasks": [{{"request_url": "{}/ok", "name": "ok"}}]}}]"#,
        srv.base_url()
    ))
}

#[test]
fn a_full_stdout_and_stderr_never_end_the_run() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("dev_full");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut cmd = chatty_plan(&srv).command(&d);
    cmd.stdout(full()).stderr(full());
    assert_eq!(exit_code(cmd, common::RUN_LIMIT), 0);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["exit_code"], 0, "{summary}");
}

#[test]
fn a_closed_pipe_on_stdout_and_stderr_never_ends_the_run() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("closed_pipe");
    let (reader, writer) = std::io::pipe().unwrap();
    // Nobody reads: every write fails with EPIPE (Rust ignores SIGPIPE).
    drop(reader);
    let mut cmd = chatty_plan(&srv).command(&d);
    cmd.stdout(writer.try_clone().unwrap()).stderr(writer);
    assert_eq!(exit_code(cmd, common::RUN_LIMIT), 0);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["exit_code"], 0, "{summary}");
}
