//! What the console and the run's files say about a run: the top errors after
//! the end-of-test table, 80 columns, the progress lines, the per-request
//! file's timestamps, exact seeds and `init`'s paths.

use crate::common::{self, ld, Plan, Run};

fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch_dir("console", name)
}

#[test]
fn a_generated_seed_is_exact_in_a_double_and_a_large_given_one_is_also_a_string() {
    let d = scratch("seed_generated");
    let r = Run::of({
        let mut c = ld("run-str");
        c.arg(Plan::new("").text()).current_dir(&d);
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let seed = s["seed"].as_u64().unwrap();
    assert!(seed <= 1 << 53, "{seed}");
    assert!(s.get("seed_str").is_none(), "{s}");
    assert!(r.stderr.contains(&format!("--seed {seed}")), "{}", r.stderr);

    let d = scratch("seed_large");
    let r = Plan::new("").seed(u64::MAX).run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(s["seed"].as_u64(), Some(u64::MAX));
    assert_eq!(s["seed_str"], u64::MAX.to_string());
}

#[test]
fn init_shows_paths_from_where_the_user_stands_and_its_reports_land_in_the_project() {
    let d = scratch("init");
    std::fs::create_dir_all(d.join("here")).unwrap();
    // An absolute folder beside the working one.
    let o = Run::of({
        let mut c = ld("init");
        c.arg(d.join("proj")).current_dir(d.join("here"));
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains(d.to_str().unwrap()), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("created ../proj/actions/example.json and ../proj/README.md"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("next: cd ../proj && loaddensity run actions/example.json"),
        "{}",
        o.stderr
    );
    // A folder given relative to the working one stays as given.
    let o = Run::of({
        let mut c = ld("init");
        c.arg("sub").current_dir(&d);
        c
    });
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("created sub/actions/example.json"),
        "{}",
        o.stderr
    );
    // Doing what it says puts the reports inside the project.
    let r = Run::of({
        let mut c = ld("run");
        c.arg("actions/example.json").current_dir(d.join("proj"));
        c
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(d.join("proj/reports/summary.json").is_file());
    assert!(d.join("proj/reports/report.html").is_file());
    assert!(!d.join("here/reports").exists());
}

#[test]
fn per_request_rows_say_when_they_started_on_both_clocks() {
    let srv = loaddensity::demo_server::DemoServer::start(0).unwrap();
    let d = scratch("record_time");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "iterations": 10, "wait_time": 0.02, "record_csv": "rows",
            "tasks": [{{"request_url": "{}/ok", "name": "ok"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let test = &r.summary()["tests"][0];
    let started = test["started_at"].as_f64().unwrap();
    let duration = test["duration_s"].as_f64().unwrap();
    let text = std::fs::read_to_string(d.join("rows.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[8..], ["t_s", "time_utc"], "{text}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20);
    for row in &rows {
        assert_eq!(row.len(), 10, "{row:?}");
        let t: f64 = row[8].parse().unwrap();
        assert!((0.0..=duration + 0.01).contains(&t), "{t} of {duration}");
        assert_eq!(row[8].split('.').nth(1).map(str::len), Some(3), "{row:?}");
        // 2026-11-29T23:30:55.123Z, the test's start plus t_s.
        let utc = row[9];
        assert!(
            utc.len() == 24 && utc.ends_with('Z') && &utc[10..11] == "T",
            "{utc}"
        );
        let sod = |s: &str| -> f64 {
            let h: f64 = s[11..13].parse().unwrap();
            let m: f64 = s[14..16].parse().unwrap();
            let sec: f64 = s[17..23].parse().unwrap();
            h * 3600.0 + m * 60.0 + sec
        };
        let expect = (started + t).rem_euclid(86_400.0);
        let diff = (sod(utc) - expect).abs();
        // Near midnight the two may sit on either side of it.
        assert!(!(0.01..=86_399.0).contains(&diff), "{utc} vs {expect}");
    }
    // In completion order, which is close to start order for one task.
    let first: f64 = rows[0][8].parse().unwrap();
    let last: f64 = rows[19][8].parse().unwrap();
    assert!(first <= last, "{first} {last}");
}

/// Columns a console line takes (every character here is one column wide,
/// but `…`, which is one too).
fn columns(line: &str) -> usize {
    line.chars().count()
}

#[test]
fn the_console_says_why_requests_failed_within_80_columns() {
    let srv = loaddensity::demo_server::DemoServer::start(0).unwrap();
    let d = scratch("top_errors");
    let long = "a task name far longer than the twenty-two columns the table leaves";
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "iterations": 10, "host": "{}", "failure_budget": false,
            "tasks": [{{"url": "/ok", "name": "fine"}},
                      {{"url": "/status/503", "name": "{long}"}},
                      {{"url": "/ok", "name": "checked", "assertions": {{"status_code": 201}}}}]}}]"#,
        srv.base_url()
    ));
    let r = plan.run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    print!("{}", r.stdout);
    for line in r.stdout.lines() {
        assert!(columns(line) <= 80, "{} columns: {line}", columns(line));
    }
    let (table, errors) = r.stdout.split_once("Top errors:\n").expect("top errors");
    assert!(table.contains("a task name far longe…"), "{table}");
    let lines: Vec<&str> = errors.lines().collect();
    // Both failing names, 20 failures each: 20 of 20 requests = 100%.
    assert!(lines[0].ends_with("message"), "{errors}");
    assert_eq!(lines.len(), 1 + 2 * 2, "{errors}");
    let row_of = |name: &str| {
        let at = lines.iter().position(|l| l.starts_with(name)).unwrap();
        lines[at + 1]
    };
    let status = row_of("a task name far longer");
    assert!(
        status.starts_with("        20  100.00%  status  "),
        "{status}"
    );
    assert!(status.contains("503"), "{status}");
    let assertion = row_of("checked");
    assert!(
        assertion.starts_with("        20  100.00%  assertion"),
        "{assertion}"
    );
    assert!(!errors.contains("fine"), "{errors}");

    // Silenced by --quiet, like the table.
    let r = plan.clone().flags(&["--quiet"]).run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("Top errors") && !r.stdout.contains("Total"),
        "{}",
        r.stdout
    );

    // Nothing failed: no error report.
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": 3,
            "tasks": [{{"request_url": "{}/ok", "name": "fine"}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Total") && !r.stdout.contains("Top errors"),
        "{}",
        r.stdout
    );
}

#[test]
fn progress_off_a_terminal_is_a_line_every_2_s_and_one_at_the_end_within_80_columns() {
    let srv = loaddensity::demo_server::DemoServer::start(0).unwrap();
    let d = scratch("progress");
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 2, "test_time": 4.5, "wait_time": 0.05,
            "tasks": [{{"request_url": "{}/ok", "name": "ok", "retry": {{"transient": 2}}}}]}}]"#,
        srv.base_url()
    ))
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("[test 1 "))
        .collect();
    // At about 2 s and 4 s (a busy machine may skip the second), then the end.
    assert!((2..=3).contains(&lines.len()), "{}", r.stderr);
    for l in &lines {
        assert!(columns(l) <= 80, "{} columns: {l}", columns(l));
    }
    assert!(
        lines[0].contains("users 2 · ") && lines[0].contains(" req/s"),
        "{}",
        lines[0]
    );
    let done = lines[lines.len() - 1];
    assert!(lines[..lines.len() - 1].iter().all(|l| !l.contains("done")));
    assert!(done.contains("s] done · "), "{done}");
    let requests = common::n(&r.summary()["total"]["requests"]);
    assert!(
        done.contains(&format!(" {requests} reqs ")) || !done.contains(" reqs "),
        "{done} vs {requests}"
    );
    // Progress is stderr only, and --quiet has none.
    assert!(!r.stdout.contains("[test 1 "));
    let r = Plan::new("").flags(&["--quiet"]).run_in(&d);
    assert!(!r.stderr.contains("[test "), "{}", r.stderr);
}
