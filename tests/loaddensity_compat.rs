//! LoadDensity plans run unchanged: every plan of `tests/corpus/loaddensity`
//! is written the way LoadDensity's docs and importers write plans. Each one
//! validates (exit 0), runs against an in-process server (exit 0), reaches the
//! paths it should, and writes its reports under LoadDensity's names.

use crate::common::{self, n, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/loaddensity")
        .join(name)
}

/// Validates, then runs, one corpus plan against a fresh demo server from a
/// fresh folder; returns the run, the server and the folder.
fn run(name: &str) -> (Run, DemoServer, PathBuf) {
    let plan = corpus(name);
    let v = Run::of(common::ld("validate").arg(&plan));
    assert_eq!(v.code, 0, "{name}: validate: {}", v.stderr);
    let srv = DemoServer::start(0).unwrap();
    let dir = common::scratch_dir("loaddensity_compat", name.trim_end_matches(".json"));
    let r = Run::of(
        common::ld("run")
            .args(["--seed", "3"])
            .arg(&plan)
            .env("LD_TARGET", srv.base_url())
            .current_dir(&dir),
    );
    assert_eq!(r.code, 0, "{name}: run: {}", r.stderr);
    (r, srv, dir)
}

fn summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("loaddensity-summary.json"))
        .expect("the summary report under LoadDensity's name");
    serde_json::from_str(&text).unwrap()
}

/// Every request of the run succeeded, and there were some.
#[track_caller]
fn all_passed(s: &Value) {
    assert!(n(&s["total"]["requests"]) > 0, "{s:#}");
    assert_eq!(
        n(&s["total"]["failures"]),
        0,
        "{:#}",
        s["total"]["top_errors"]
    );
}

#[test]
fn list_assertions_of_all_five_types_and_numbers_as_strings() {
    let (_, srv, dir) = run("01_list_assertions.json");
    assert!(srv.hits("/json") > 0);
    let s = summary(&dir);
    all_passed(&s);
    // Two users, as the string "2" said.
    assert_eq!(n(&s["tests"][0]["users"]), 2, "{:#}", s["tests"][0]);
}

#[test]
fn the_sixth_positional_argument_is_runner_mode() {
    let (_, srv, dir) = run("02_positional_runner_mode.json");
    assert!(srv.hits("/ok") > 0);
    all_passed(&summary(&dir));
}

#[test]
fn pairs_truthy_numbers_zero_weights_and_method_maps() {
    let (r, srv, dir) = run("03_pairs_weights_map_tasks.json");
    assert!(srv.hits("/echo") > 0 && srv.hits("/ok") > 0 && srv.hits("/json") > 0);
    assert_eq!(srv.hits("/status/500"), 0, "a task of weight 0 never runs");
    all_passed(&summary(&dir));
    assert!(
        r.stderr
            .contains("unknown mode \"round_robin\" runs as \"sequence\""),
        "{}",
        r.stderr
    );
}

#[test]
fn csv_sources_in_all_three_forms() {
    let (_, srv, dir) = run("04_csv_sources.json");
    assert!(srv.hits("/echo") > 0);
    all_passed(&summary(&dir));
}

#[test]
fn session_extract_bare_and_missing_placeholders() {
    let (_, srv, dir) = run("05_session_extract_placeholders.json");
    assert!(srv.hits("/token") > 0 && srv.hits("/echo") > 0);
    let s = summary(&dir);
    all_passed(&s);
    let text = s.to_string();
    assert!(
        text.contains("never_set"),
        "the unresolved placeholder is counted: {s:#}"
    );
    assert!(
        text.contains("absent"),
        "the missed extract is counted: {s:#}"
    );
}

#[test]
fn a_plan_shaped_like_loaddensitys_har_importer_output() {
    let (_, srv, dir) = run("08_har_import_shape.json");
    assert!(srv.hits("/json") > 0 && srv.hits("/echo") > 0);
    let s = summary(&dir);
    all_passed(&s);
    assert!(
        s["by_name"]["POST /echo"]["requests"].as_u64() > Some(0),
        "{s:#}"
    );
}

#[test]
fn load_shapes_throttles_and_think_times_as_loaddensity_writes_them() {
    let (_, srv, dir) = run("09_load_shape_stages_throttle.json");
    let s = summary(&dir);
    all_passed(&s);
    // Stages of 2 then 5 users, durations the stages' end times: 2.5 s.
    let t = &s["tests"][0];
    assert_eq!(n(&t["users"]), 5, "{t:#}");
    let dur = t["duration_s"].as_f64().unwrap();
    assert!((2.4..3.5).contains(&dur), "duration {dur}");
    // One bucket of 20 a second (5 at once) for both tasks.
    let both = srv.hits("/ok") + srv.hits("/json");
    assert!(
        both > 0 && both as f64 <= 5.0 + 20.0 * 3.0,
        "{both} requests"
    );
    let (_, srv, dir) = run("10_load_shape_spike_think_time.json");
    let s = summary(&dir);
    all_passed(&s);
    assert!(srv.hits("/ok") > 0 && srv.hits("/json") > 0);
    assert_eq!(n(&s["tests"][0]["users"]), 4);
    assert_eq!(n(&s["tests"][1]["users"]), 3);
}

#[test]
fn reports_under_loaddensitys_default_names() {
    let (r, _, dir) = run("06_report_default_names.json");
    for f in [
        "default_name.html",
        "default_name.csv",
        "default_name_success.json",
        "default_name_failure.json",
        "default_name_success.xml",
        "default_name_failure.xml",
        "loaddensity-junit.xml",
        "loaddensity-summary.json",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing; stderr: {}", r.stderr);
    }
    let s = summary(&dir);
    all_passed(&s);
    // LoadDensity's own keys sit beside this project's.
    assert_eq!(s["totals"]["requests"], s["total"]["requests"], "{s:#}");
    // LD_summary printed LoadDensity's object.
    assert!(r.stdout.contains("\"latency_overall\""), "{}", r.stdout);
}

#[test]
fn a_relative_url_without_host_goes_to_localhost_with_a_warning() {
    let v = Run::of(common::ld("validate").arg(corpus("07_relative_url_without_host.json")));
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stderr.contains("warning: ".to_string().as_str())
            && v.stderr
                .contains("relative URL \"/health\" without `host` goes to http://localhost"),
        "{}",
        v.stderr
    );
}

#[test]
fn loaddensitys_distributed_mode_is_refused_before_anything_runs() {
    let dir = common::scratch_dir("loaddensity_compat", "master");
    let plan = dir.join("master.json");
    std::fs::write(
        &plan,
        r#"[["LD_log", {"message": "must not print"}],
            ["LD_start_test", {"runner_mode": "master", "expected_workers": 2,
              "tasks": [{"request_url": "http://127.0.0.1:9/", "think_time": 1}]}]]"#,
    )
    .unwrap();
    let v = Run::of(common::ld("validate").arg(&plan));
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert_eq!(
        v.stderr
            .matches("`loaddensity run` refuses this plan")
            .count(),
        1,
        "{}",
        v.stderr
    );
    let r = Run::of(common::ld("run").arg(&plan).current_dir(&dir));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    for needle in [
        "runner_mode \"master\" (LoadDensity's distributed Locust runners) is not supported",
        "`loaddensity run --segment I/N` on each machine and `loaddensity merge` their result files",
        "nothing was run.",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    // The hint points at the installed tool, not at a checkout's files.
    assert!(!r.stderr.contains("docs/"), "{}", r.stderr);
}

#[test]
fn every_problem_of_a_loaddensity_plan_is_listed_at_once() {
    let dir = common::scratch_dir("loaddensity_compat", "problems");
    let plan = dir.join("p.json");
    std::fs::write(
        &plan,
        "{\"load_density\": [\n\
         [\"LD_start_test\", {\n\
           \"user_count\": 2, \"ramp\": 1, \"locale\": \"en\",\n\
           \"spawn_rate\": 1, \"profile\": \"x\",\n\
           \"tasks\": [\n\
             {\"request_url\": \"http://127.0.0.1:9/a\", \"tags\": [\"x\"]},\n\
             {\"request_url\": \"http://127.0.0.1:9/b\",\n\
              \"catch\": 1, \"label\": \"b\"},\n\
             {\"request_url\": \"http://127.0.0.1:9/c\", \"timeout\": \"soon\"}\n\
           ]\n\
         }]\n\
         ]}",
    )
    .unwrap();
    let r = Run::of(common::ld("validate").arg(&plan));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let p = plan.display().to_string();
    for needle in [
        format!("{p}:3: actions[0].args.ramp: LD_start_test: unknown field `ramp`"),
        format!("{p}:3: actions[0].args.locale: LD_start_test: unknown field `locale`"),
        format!("{p}:4: actions[0].args.profile: LD_start_test: unknown field `profile`"),
        format!("{p}:6: actions[0].args.tasks[0].tags: LD_start_test: unknown field `tags`"),
        format!("{p}:7: actions[0].args.tasks[1].catch: LD_start_test: unknown field `catch`"),
        format!("{p}:7: actions[0].args.tasks[1].label: LD_start_test: unknown field `label`"),
        format!("{p}:9: actions[0].args.tasks[2].timeout: LD_start_test: expected a number, found \"soon\""),
        "7 problems found; nothing was run.".to_string(),
    ] {
        assert!(r.stderr.contains(&needle), "{needle}\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("untagged"), "{}", r.stderr);
}
