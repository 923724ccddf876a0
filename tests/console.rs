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
