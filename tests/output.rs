//! Console output and report files: a broken stdout or stderr never ends a
//! run nor loses its reports; a report never replaces a plan of the run, a
//! folder or a device; an orphan stopped by the prelude still writes its
//! summary.

use crate::common::{self, ld, Plan, Run};
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

/// The binary under another path (a hard link, else a copy). The prelude only
/// stops runs of its own executable, so runs of this one and the orphan test
/// of `supervisor` never stop each other's orphans.
fn private_binary(d: &std::path::Path) -> PathBuf {
    let bin = d.join("loaddensity-private");
    let _ = std::fs::remove_file(&bin);
    let original = env!("CARGO_BIN_EXE_loaddensity");
    if std::fs::hard_link(original, &bin).is_err() {
        std::fs::copy(original, &bin).unwrap();
    }
    // A copy may be briefly "text file busy" while another test forks.
    common::wait_for("the private binary runs", Duration::from_secs(10), || {
        Command::new(&bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    bin
}

#[test]
fn an_orphan_hung_on_a_request_writes_its_summary_when_the_prelude_stops_it() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("hung_orphan");
    let bin = private_binary(&d);
    // Hung on `/hang` with the default stop_timeout (5 s): the prelude's
    // SIGTERM caps its grace, and it writes its summary before the SIGKILL.
    let hung = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "test_time": 30, "tasks": [{{"request_url": "{}/hang"}}]}}]"#,
        srv.base_url()
    ))
    .then(r#"["LD_generate_summary_report", {"report_name": "orphan"}]"#)
    .no_summary();
    let orphan = common::start_orphan(&bin, &hung, &d);
    common::wait_for("the orphan hangs on /hang", Duration::from_secs(30), || {
        srv.hits("/hang") >= 1
    });

    let mut prelude = Command::new(&bin);
    prelude
        .args(["run-str", "--seed", "7"])
        .arg(Plan::new("").text())
        .current_dir(&d);
    let r = Run::of(prelude);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let killed = &r.summary()["supervisor"]["orphans_killed"];
    let entry = killed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["pid"] == orphan)
        .unwrap_or_else(|| panic!("the orphan was not stopped: {killed}"));
    assert_eq!(
        entry["signal"], "SIGTERM",
        "it exited within the grace: {killed}"
    );
    // It wrote its summary on its way out: stopped by SIGTERM (143).
    let text = std::fs::read_to_string(d.join("orphan.json"))
        .unwrap_or_else(|e| panic!("the orphan left no summary ({e}); prelude: {}", r.stderr));
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(summary["exit_code"], 143, "{summary}");
    let _ = std::fs::remove_file(&bin);
}

#[test]
fn a_report_name_resolved_to_the_running_plan_fails_and_overwrites_nothing() {
    let d = scratch("overwrite_plan");
    let text = r#"{"load_density": [
        ["LD_register_variable", {"name": "n", "value": "plan"}],
        ["LD_generate_summary_report", {"report_name": "${var.n}"}]
    ]}"#;
    std::fs::write(d.join("plan.json"), text).unwrap();
    let r = Run::of({
        let mut c = ld("run");
        c.arg("plan.json").current_dir(&d);
        c
    });
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("report path plan.json would overwrite a plan file of this run"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(d.join("plan.json")).unwrap(), text);
}

#[test]
fn empty_and_folder_report_names_are_refused_before_anything_runs() {
    for (i, name) in ["", "dir/", "${var.d}/", "out/.."].into_iter().enumerate() {
        let d = scratch(&format!("bad_name_{i}"));
        let r = Plan::new(format!(
            r#"["LD_generate_summary_report", {{"report_name": {name:?}}}]"#
        ))
        .no_summary()
        .run_in(&d);
        assert_eq!(r.code, 2, "{name:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("actions[0].args.report_name")
                && r.stderr.contains("nothing was run"),
            "{name:?}: {}",
            r.stderr
        );
        let left: Vec<_> = std::fs::read_dir(&d).unwrap().collect();
        assert!(left.is_empty(), "{name:?} wrote {left:?}");
    }
}

#[test]
fn a_report_never_replaces_a_folder_a_pipe_or_a_device() {
    let d = scratch("not_regular");
    std::fs::create_dir(d.join("folder.json")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(d.join("pipe.json"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let stray = std::path::Path::new("/dev/null.json");
    let stray_before = stray.exists();
    let cases = [
        ("folder", "report path folder.json is a folder"),
        ("pipe", "report path pipe.json is a pipe"),
        ("/dev/null", "the report name /dev/null is a device"),
        // Resolved at run time to an empty name.
        ("${var.empty}", "the report name is empty"),
    ];
    for (name, message) in cases {
        let r = Plan::new(r#"["LD_register_variable", {"name": "empty", "value": ""}]"#)
            .then(format!(
                r#"["LD_generate_summary_report", {{"report_name": "{name}"}}]"#
            ))
            .flags(&["--keep-going"])
            .run_in(&d);
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{name}: {}", r.stderr);
        // The rest of the plan ran: its summary is there.
        assert_eq!(r.summary()["exit_code"], 1, "{name}");
    }
    assert!(d.join("folder.json").is_dir());
    let pipe = std::fs::symlink_metadata(d.join("pipe.json")).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&pipe.file_type()));
    assert!(stray_before || !stray.exists(), "wrote /dev/null.json");
    assert!(!d.join(".json").exists());
}
