//! Scale-out through the real binary: `run --segment I/N` processes against
//! one in-process server, their result files merged by `loaddensity merge`:
//! exact counts, exact percentiles, byte-identical merges, fleet-wide gates,
//! the exit precedence, the arrival-rate split and the refusals.

use crate::common::{self, ld, n, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("segments", name)
}

/// A plan file `plan.json` in `dir` holding `actions` (JSON list items).
fn write_plan(dir: &Path, actions: &str) -> PathBuf {
    let p = dir.join("plan.json");
    std::fs::write(&p, format!("{{\"load_density\": [{actions}]}}")).unwrap();
    p
}

/// `loaddensity run` of the plan in `dir` as segment `seg` (e.g. "2/3"),
/// its result file `seg-I.json`.
fn segment_cmd(dir: &Path, seg: &str) -> Command {
    let mut cmd = ld("run");
    let i = seg.split('/').next().unwrap();
    cmd.args(["--seed", "11", "--quiet", "--segment", seg, "--result-file"])
        .arg(format!("seg-{i}.json"))
        .arg("plan.json")
        .current_dir(dir);
    cmd
}

/// Runs segments 1..=n of the plan in `dir` at once, as separate processes
/// (several processes load the machine: never beside a timing test).
fn run_segments(dir: &Path, count: u32) -> Vec<Run> {
    let _machine = common::exclusive();
    let running: Vec<common::Running> = (1..=count)
        .map(|i| common::start(segment_cmd(dir, &format!("{i}/{count}"))))
        .collect();
    running
        .into_iter()
        .map(|r| r.finish(Duration::from_secs(60)))
        .collect()
}

fn merge(dir: &Path, files: &[&str], out: &str) -> Run {
    let mut cmd = ld("merge");
    cmd.args(files)
        .args(["--summary", out, "--junit", out, "--html", out])
        .current_dir(dir);
    Run::of(cmd)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn closed_plan(url: &str, extra: &str) -> String {
    format!(
        r#"["LD_start_test", {{"user_count": 7, "spawn_rate": 1000, "iterations": 5,
             "tasks": [{{"method": "get", "request_url": "{url}/ok", "name": "ok"}}]}}]{extra}"#
    )
}

#[test]
fn three_segments_do_exactly_what_one_run_does() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("exact");
    write_plan(&dir, &closed_plan(&srv.base_url(), ""));
    let runs = run_segments(&dir, 3);
    for (i, r) in runs.iter().enumerate() {
        assert_eq!(r.code, 0, "segment {}: {}", i + 1, r.stderr);
    }
    // 7 users: 3, 2 and 2 of them, 5 passes each.
    let per: Vec<u64> = (1..=3)
        .map(|i| {
            n(
                &json(&dir.join(format!("seg-{i}.json")))["tests"][0]["report"]["total"]
                    ["requests"],
            )
        })
        .collect();
    assert_eq!(per, vec![15, 10, 10]);
    assert_eq!(srv.hits("/ok"), 35);
    assert_eq!(srv.total_requests(), 35);

    let m = merge(&dir, &["seg-3.json", "seg-1.json", "seg-2.json"], "merged");
    assert_eq!(m.code, 0, "{}", m.stderr);
    let s = json(&dir.join("merged.json"));
    assert_eq!(n(&s["total"]["requests"]), 35, "{s}");
    assert_eq!(n(&s["total"]["failures"]), 0);
    assert_eq!(n(&s["tests"][0]["users"]), 7);
    assert_eq!(s["tests"].as_array().unwrap().len(), 1);
    // Merged extremes are the segments' extremes exactly (histograms added).
    let seg_lat: Vec<Value> = (1..=3)
        .map(|i| {
            json(&dir.join(format!("seg-{i}.json")))["tests"][0]["report"]["total"]["latency_ms"]
                .clone()
        })
        .collect();
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap();
    let max = seg_lat.iter().map(|l| f(l, "max")).fold(0.0, f64::max);
    let min = seg_lat.iter().map(|l| f(l, "min")).fold(f64::MAX, f64::min);
    assert_eq!(f(&s["total"]["latency_ms"], "max"), max);
    assert_eq!(f(&s["total"]["latency_ms"], "min"), min);
    let p50 = f(&s["total"]["latency_ms"], "p50");
    let lo = seg_lat.iter().map(|l| f(l, "p50")).fold(f64::MAX, f64::min);
    let hi = seg_lat.iter().map(|l| f(l, "p50")).fold(0.0, f64::max);
    assert!(lo <= p50 && p50 <= hi, "{p50} within [{lo}, {hi}]");

    // `--persist`: the merged run lands in a run store as one run, with the
    // merged percentiles exactly.
    let mut cmd = ld("merge");
    cmd.args([
        "seg-1.json",
        "seg-2.json",
        "seg-3.json",
        "--persist",
        "runs.db",
    ])
    .args(["--label", "fleet"])
    .current_dir(&dir);
    let p = Run::of(cmd);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert!(
        p.stderr.contains("persisted the merged run as run 1"),
        "{}",
        p.stderr
    );
    let mut show = ld("runs");
    show.args(["show", "runs.db", "last:fleet", "--json"])
        .current_dir(&dir);
    let shown = Run::of(show);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let stored: Value = serde_json::from_str(&shown.stdout).unwrap();
    let text = stored.to_string();
    assert!(text.contains("\"requests\":35"), "{text}");
    assert!(
        text.contains(&format!("\"p50\":{}", s["total"]["latency_ms"]["p50"])),
        "{text}"
    );

    // A single run of the same plan: the same configured work.
    let mut one = ld("run");
    one.args([
        "--seed",
        "11",
        "--quiet",
        "--result-file",
        "whole.json",
        "plan.json",
    ])
    .current_dir(&dir);
    let r = Run::of(one);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(srv.hits("/ok"), 70);
    let whole = json(&dir.join("whole.json"));
    assert_eq!(
        whole["segment"],
        serde_json::json!({"index": 1, "count": 1})
    );
    assert_eq!(n(&whole["tests"][0]["report"]["total"]["requests"]), 35);
    // The merge of N = 1 is that run's own summary, percentiles exactly.
    let m1 = merge(&dir, &["whole.json"], "whole-merged");
    assert_eq!(m1.code, 0, "{}", m1.stderr);
    let w = json(&dir.join("whole-merged.json"));
    assert_eq!(
        w["total"]["latency_ms"],
        whole["tests"][0]["report"]["total"]["latency_ms"]
    );
    assert_eq!(n(&w["total"]["requests"]), 35);
}

#[test]
fn merging_twice_gives_the_same_bytes_and_argument_order_does_not_matter() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("twice");
    write_plan(
        &dir,
        &closed_plan(
            &srv.base_url(),
            r#", ["LD_assert_sla", {"rules": [{"type": "latency_p95", "op": "lte", "value": 5000}]}]"#,
        ),
    );
    let runs = run_segments(&dir, 2);
    assert!(runs.iter().all(|r| r.code == 0), "{runs:?}");
    let a = merge(&dir, &["seg-1.json", "seg-2.json"], "a");
    let b = merge(&dir, &["seg-2.json", "seg-1.json"], "b");
    assert_eq!((a.code, b.code), (0, 0), "{} {}", a.stderr, b.stderr);
    for ext in ["json", "xml", "html"] {
        let x = std::fs::read(dir.join(format!("a.{ext}"))).unwrap();
        let y = std::fs::read(dir.join(format!("b.{ext}"))).unwrap();
        assert!(x == y, "a.{ext} and b.{ext} differ");
    }
    let s = json(&dir.join("a.json"));
    assert_eq!(s["sla"][0]["passed"], true, "{}", s["sla"]);
    assert!(std::fs::read_to_string(dir.join("a.xml"))
        .unwrap()
        .contains("latency_p95"));
}

#[test]
fn a_fleet_wide_gate_is_decided_by_the_merged_data_only() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("fleet-gate");
    // 35 requests in all; no segment makes 30 alone.
    write_plan(
        &dir,
        &closed_plan(
            &srv.base_url(),
            r#", ["LD_assert_sla", {"rules": [{"type": "requests", "op": "gte", "value": 30}]}]"#,
        ),
    );
    let runs = run_segments(&dir, 3);
    for r in &runs {
        assert_eq!(
            r.code, 0,
            "a segment does not judge the fleet's gate: {}",
            r.stderr
        );
    }
    let seg = json(&dir.join("seg-1.json"));
    assert_eq!(seg["sla"][0]["passed"], false, "alone, a segment fails it");
    assert_eq!(seg["sla"][0]["asserted"], false);
    assert_eq!(seg["sla_rules"][0]["type"], "requests");
    let m = merge(&dir, &["seg-1.json", "seg-2.json", "seg-3.json"], "m");
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(json(&dir.join("m.json"))["sla"][0]["passed"], true);

    // Two segments of three make 25: the same rule fails fleet-wide (exit 4),
    // and the merge says which segment is missing.
    let m = merge(&dir, &["seg-1.json", "seg-2.json"], "m2");
    assert_eq!(m.code, 4, "{}", m.stderr);
    assert!(m.stderr.contains("segment(s) 3/3 missing"), "{}", m.stderr);
    assert!(
        m.stderr.contains("fleet-wide SLA gate failed"),
        "{}",
        m.stderr
    );
    let s = json(&dir.join("m2.json"));
    assert_eq!(s["exit_code"], 4);
    assert_eq!(n(&s["total"]["requests"]), 25);
}

#[test]
fn a_segment_that_tripped_its_budget_makes_the_merge_exit_3_naming_it() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("budget");
    // CSV rows go to segments by row: segment 2 of 3 gets only row 1, a failing path.
    std::fs::write(dir.join("paths.csv"), "path\n/ok\n/status/500\n/ok\n").unwrap();
    let url = srv.base_url();
    write_plan(
        &dir,
        &format!(
            r#"["LD_register_csv_sources", {{"sources": [{{"name": "p", "file_path": "paths.csv", "cycle": true}}]}}],
               ["LD_start_test", {{"user_count": 6, "spawn_rate": 1000, "iterations": 5,
                 "failure_budget": {{"threshold": 0.5, "window_seconds": 10, "min_samples": 5}},
                 "tasks": [{{"method": "get", "request_url": "{url}${{csv.p.path}}", "name": "page"}}]}}]"#
        ),
    );
    let runs = run_segments(&dir, 3);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(runs[1].code, 3, "{}", runs[1].stderr);
    assert_eq!(runs[2].code, 0, "{}", runs[2].stderr);
    assert_eq!(
        srv.hits("/status/500") + srv.hits("/ok"),
        srv.total_requests()
    );
    assert!(srv.hits("/status/500") >= 5);
    let m = merge(&dir, &["seg-1.json", "seg-2.json", "seg-3.json"], "m");
    assert_eq!(m.code, 3, "{}", m.stderr);
    assert!(m.stderr.contains("segment 2/3"), "{}", m.stderr);
    let s = json(&dir.join("m.json"));
    assert_eq!(s["exit_reason"], "budget_tripped");
    assert_eq!(s["budget"]["state"], "tripped");
    assert_eq!(n(&s["total"]["requests"]), srv.total_requests());
}

#[test]
fn an_arrival_rate_splits_its_iterations_over_the_segments() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("arrival");
    let url = srv.base_url();
    write_plan(
        &dir,
        &format!(
            r#"["LD_start_test", {{"executor": "constant_arrival_rate", "rate": 90, "duration": 2,
                 "pre_allocated_users": 6, "max_users": 12,
                 "tasks": [{{"method": "get", "request_url": "{url}/ok", "name": "ok"}}]}}]"#
        ),
    );
    let runs = run_segments(&dir, 3);
    for r in &runs {
        assert!(r.code == 0 || r.code == 5, "{}", r.stderr);
    }
    for i in 1..=3 {
        let g = &json(&dir.join(format!("seg-{i}.json")))["tests"][0]["report"]["generator"];
        assert_eq!(n(&g["schedule"]["scheduled_iterations"]), 60, "{g}");
        assert_eq!(n(&g["schedule"]["max_users"]), 4, "{g}");
    }
    let m = merge(&dir, &["seg-1.json", "seg-2.json", "seg-3.json"], "m");
    let s = json(&dir.join("m.json"));
    let total = n(&s["total"]["requests"]);
    assert!((176..=184).contains(&total), "{total}: {}", m.stderr);
    assert_eq!(total, srv.total_requests());
    let sched = &s["tests"][0]["generator"]["schedule"];
    assert_eq!(n(&sched["scheduled_iterations"]), 180, "{sched}");
    assert_eq!(n(&sched["max_users"]), 12);
}

#[test]
fn bad_segments_and_mismatched_result_files_are_refused() {
    let dir = scratch("refused");
    write_plan(&dir, r#"["LD_log", {"message": "hello"}]"#);
    for bad in ["0/3", "4/3", "junk", "1/0"] {
        let mut cmd = ld("run");
        cmd.args(["--segment", bad, "plan.json"]).current_dir(&dir);
        let r = Run::of(cmd);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("I/N"), "{bad}: {}", r.stderr);
    }
    // An Indexed Job's environment: index 3 of 3 is no segment.
    let mut cmd = ld("run");
    cmd.arg("plan.json")
        .env("JOB_COMPLETION_INDEX", "3")
        .env("LOADDENSITY_SEGMENTS", "3")
        .current_dir(&dir);
    let r = Run::of(cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("JOB_COMPLETION_INDEX=3"), "{}", r.stderr);
    // Index 1 of 3: segment 2/3, its result file where it belongs.
    let mut cmd = ld("run");
    cmd.arg("plan.json")
        .env("JOB_COMPLETION_INDEX", "1")
        .env("LOADDENSITY_SEGMENTS", "3")
        .current_dir(&dir);
    let r = Run::of(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seg = json(&dir.join("loaddensity-result-2-of-3.json"));
    assert_eq!(seg["segment"], serde_json::json!({"index": 2, "count": 3}));

    // A start barrier a day and more away is refused; one in the past starts at once.
    for (at, code) in [("2999-01-01T00:00:00Z", 2), ("2001-01-01T00:00:00Z", 0)] {
        let mut cmd = ld("run");
        cmd.args(["--start-at", at, "--result-file", "x.json", "plan.json"])
            .current_dir(&dir);
        let r = Run::of(cmd);
        assert_eq!(r.code, code, "{at}: {}", r.stderr);
    }
    let mut cmd = ld("run");
    cmd.args(["--start-at", "tomorrow", "plan.json"])
        .current_dir(&dir);
    assert_eq!(Run::of(cmd).code, 2);

    // The same segment twice, another plan's file, something else.
    let m = merge(
        &dir,
        &[
            "loaddensity-result-2-of-3.json",
            "loaddensity-result-2-of-3.json",
        ],
        "m",
    );
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(m.stderr.contains("both segment 2/3"), "{}", m.stderr);
    std::fs::write(
        dir.join("plan.json"),
        r#"{"load_density": [["LD_log", {"message": "other"}]]}"#,
    )
    .unwrap();
    let mut cmd = ld("run");
    cmd.args([
        "--segment",
        "1/3",
        "--result-file",
        "other.json",
        "plan.json",
    ])
    .current_dir(&dir);
    assert_eq!(Run::of(cmd).code, 0);
    let m = merge(&dir, &["loaddensity-result-2-of-3.json", "other.json"], "m");
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(m.stderr.contains("another plan"), "{}", m.stderr);
    let m = merge(&dir, &["plan.json"], "m");
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(
        m.stderr.contains("not a loaddensity result file"),
        "{}",
        m.stderr
    );
}

#[test]
fn a_sigterm_during_the_start_barrier_still_writes_the_result_file() {
    let dir = scratch("barrier-signal");
    write_plan(&dir, r#"["LD_log", {"message": "hello"}]"#);
    // An hour ahead: only the signal ends the wait.
    let at = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        loaddensity::store::iso_utc(now as f64)
    };
    let mut cmd = ld("run");
    cmd.args(["--segment", "1/2", "--start-at", &at, "plan.json"])
        .current_dir(&dir);
    let running = common::start(cmd);
    common::wait_for("the wait", Duration::from_secs(10), || {
        running.stderr_so_far().contains("waiting for --start-at")
    });
    running.signal("-TERM");
    let r = running.finish(Duration::from_secs(10));
    assert_eq!(r.code, 143, "{}", r.stderr);
    let seg = json(&dir.join("loaddensity-result-1-of-2.json"));
    assert_eq!(seg["exit_code"], 143);
    assert_eq!(seg["exit_reason"], "interrupted_sigterm");
}

#[test]
fn a_segment_stopped_by_its_watchdog_still_writes_its_result_and_the_merge_says_so() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("watchdog");
    let url = srv.base_url();
    write_plan(
        &dir,
        &format!(
            r#"["LD_start_test", {{"user_count": 2, "spawn_rate": 100, "test_time": 30, "wait_time": 0.01,
                 "tasks": [{{"method": "get", "request_url": "{url}/ok", "name": "ok"}}]}}]"#
        ),
    );
    let mut first = segment_cmd(&dir, "1/2");
    first.args(["--timeout", "1s"]);
    let r = Run::of(first);
    assert_eq!(r.code, 124, "{}", r.stderr);
    let seg = json(&dir.join("seg-1.json"));
    assert_eq!(seg["exit_reason"], "watchdog");
    assert_eq!(seg["tests"][0]["report"]["ended_by"], "watchdog");
    let done = n(&seg["tests"][0]["report"]["total"]["requests"]);
    assert!(done > 0, "what it measured is kept");
    let mut second = segment_cmd(&dir, "2/2");
    second.args(["--duration", "1s"]);
    // Another --duration is another run: the merge refuses to mix them.
    assert_eq!(Run::of(second).code, 0);
    let m = merge(&dir, &["seg-1.json", "seg-2.json"], "m");
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(m.stderr.contains("another plan"), "{}", m.stderr);
    let mut second = segment_cmd(&dir, "2/2");
    second.args(["--timeout", "1s"]);
    assert_eq!(Run::of(second).code, 124);
    let m = merge(&dir, &["seg-1.json", "seg-2.json"], "m");
    assert_eq!(m.code, 124, "{}", m.stderr);
    assert!(m.stderr.contains("exit 124: segment 1/2"), "{}", m.stderr);
    let s = json(&dir.join("m.json"));
    assert_eq!(s["exit_reason"], "watchdog");
    let second = n(&json(&dir.join("seg-2.json"))["tests"][0]["report"]["total"]["requests"]);
    assert_eq!(n(&s["total"]["requests"]), done + second);
}

#[test]
fn run_str_plans_are_told_apart_by_their_text() {
    let dir = scratch("run-str");
    let seg = |msg: &str, s: &str, out: &str| {
        common::Plan::new(format!(r#"["LD_log", {{"message": "{msg}"}}]"#))
            .no_summary()
            .flags(&["--segment", s, "--result-file", out])
            .run_in(&dir)
    };
    assert_eq!(seg("a", "1/2", "a1.json").code, 0);
    assert_eq!(seg("a", "2/2", "a2.json").code, 0);
    assert_eq!(seg("b", "2/2", "b2.json").code, 0);
    let m = merge(&dir, &["a1.json", "b2.json"], "m");
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(m.stderr.contains("another plan"), "{}", m.stderr);
    let m = merge(&dir, &["a1.json", "a2.json"], "m");
    assert_eq!(m.code, 0, "{}", m.stderr);
}

#[test]
fn a_throttle_is_shared_out_so_the_segments_together_keep_its_rate() {
    let srv = DemoServer::start(0).unwrap();
    let dir = scratch("throttle");
    let url = srv.base_url();
    // 30/s with a burst of 30: about 30 + 30 × 1.5 = 75 requests in 1.5 s,
    // however many segments share it.
    write_plan(
        &dir,
        &format!(
            r#"["LD_start_test", {{"user_count": 3, "spawn_rate": 1000, "test_time": 1.5,
                 "tasks": [{{"request_url": "{url}/ok", "name": "ok", "throttle": {{"rps": 30, "key": "api"}}}}]}}]"#
        ),
    );
    let runs = run_segments(&dir, 3);
    assert!(runs.iter().all(|r| r.code == 0), "{runs:?}");
    let m = merge(&dir, &["seg-1.json", "seg-2.json", "seg-3.json"], "m");
    assert_eq!(m.code, 0, "{}", m.stderr);
    let total = n(&json(&dir.join("m.json"))["total"]["requests"]);
    assert!((62..=85).contains(&total), "{total} requests, not ~75");
    assert_eq!(total, srv.total_requests());
}
