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
