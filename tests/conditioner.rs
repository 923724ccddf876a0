//! The network conditioner against the counting demo server: drops never reach
//! the server and are transient; the drop share stays within a binomial bound;
//! retries recover drops; latency lands only on matching tasks; a seed replays
//! the same drops.

use crate::common::{self, n, Plan, Run};
use loaddensity::demo_server::DemoServer;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("conditioner", name)
}

/// Runs the actions and a summary report with `seed`, in a fresh folder `name`.
/// Drops fail requests on purpose, so the default failure budget is off.
fn run(name: &str, seed: u64, actions: impl Into<String>) -> Run {
    Plan::new(actions)
        .seed(seed)
        .flags(&["--failure-budget", "off"])
        .run_in(&scratch(name))
}

#[test]
fn total_loss_never_reaches_the_server_and_is_transient() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "loss1",
        1,
        format!(
            r#"["LD_install_network_conditioner", {{"loss_rate": 1.0}}],
               ["LD_start_test", {{"user_count": 2, "iterations": 25, "tasks": [{{"request_url": "{}/ok", "name": "ok"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert_eq!(
        srv.total_requests(),
        0,
        "the server never sees a dropped attempt"
    );
    let ok = &s["by_name"]["ok"];
    assert_eq!(n(&ok["requests"]), 50);
    assert_eq!(n(&ok["failures"]), 50);
    assert_eq!(n(&ok["failures_by_kind"]["dropped"]), 50);
    assert_eq!(n(&ok["conditioner"]["drops"]), 50);
    assert_eq!(ok["conditioner"]["settings"]["loss_rate"], 1.0);
    assert_eq!(s["conditioner"]["drops"], 50);

    // With a retry policy the drops are retried as transient and exhaust the budget.
    let r = run(
        "loss1_retry",
        1,
        format!(
            r#"["LD_install_network_conditioner", {{"loss_rate": 1.0}}],
               ["LD_start_test", {{"user_count": 1, "iterations": 3,
                  "retry": {{"transient": 2, "base_delay": 0.001, "jitter": 0}},
                  "tasks": [{{"request_url": "{}/ok", "name": "ok"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let rt = &s["by_name"]["ok"]["retry"];
    assert_eq!(n(&rt["retries"]["transient"]), 6);
    assert_eq!(n(&rt["exhausted"]["transient"]), 3);
    assert_eq!(srv.total_requests(), 0);
}

#[test]
fn partial_loss_is_within_a_binomial_bound() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "loss03",
        2,
        format!(
            r#"["LD_start_test", {{"user_count": 4, "iterations": 500, "spawn_rate": 1000,
                 "tasks": [{{"request_url": "{}/ok", "name": "ok", "network": {{"loss_rate": 0.3}}}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let drops = n(&s["by_name"]["ok"]["conditioner"]["drops"]);
    // Binomial(2000, 0.3): sd ≈ 20.5; allow 5 sd.
    assert!((drops as f64 - 600.0).abs() < 103.0, "drops {drops}");
    assert_eq!(srv.total_requests(), 2000 - drops);
}

#[test]
fn retries_recover_drops() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "recover",
        3,
        format!(
            r#"["LD_start_test", {{"user_count": 2, "iterations": 100,
                 "retry": {{"transient": 10, "base_delay": 0.001, "jitter": 0, "retry_ratio": 1.0, "retry_min_per_s": 100}},
                 "tasks": [{{"request_url": "{}/ok", "name": "ok", "network": {{"loss_rate": 0.3}}}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let ok = &s["by_name"]["ok"];
    assert_eq!(n(&ok["failures"]), 0);
    assert!(n(&ok["retry"]["recovered"]) > 20);
    assert_eq!(
        n(&ok["retry"]["retries"]["transient"]),
        n(&ok["conditioner"]["drops"])
    );
    assert_eq!(srv.total_requests(), 200);
}

#[test]
fn latency_lands_on_matching_tasks_only() {
    let srv = DemoServer::start(0).unwrap();
    let r = run(
        "latency",
        4,
        format!(
            r#"["LD_install_network_conditioner", {{"latency_ms": 100, "name_filter": "/json"}}],
               ["LD_start_test", {{"user_count": 2, "iterations": 6, "host": "{}",
                 "tasks": [{{"url": "/json", "name": "slow api"}}, {{"url": "/ok", "name": "fast"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    let slow = &s["by_name"]["slow api"];
    let fast = &s["by_name"]["fast"];
    let p50_slow = slow["latency_ms"]["p50"].as_f64().unwrap();
    let p50_fast = fast["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50_slow >= 100.0, "conditioned p50 {p50_slow}");
    assert!(p50_fast < 50.0, "unconditioned p50 {p50_fast}");
    assert!(fast.get("conditioner").is_none());
    let injected = slow["conditioner"]["injected_delay_ms"]["mean"]
        .as_f64()
        .unwrap();
    assert!((99.0..101.0).contains(&injected), "{injected}");

    // A regex filter on the resolved URL.
    let r = run(
        "regex",
        4,
        format!(
            r#"["LD_install_network_conditioner", {{"latency_ms": 60, "name_regex": "st[a-z]+/404$"}}],
               ["LD_start_test", {{"user_count": 1, "iterations": 3, "host": "{}",
                 "tasks": [{{"url": "/status/404", "name": "a"}}, {{"url": "/status/500", "name": "b"}}]}}]"#,
            srv.base_url()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.summary();
    assert!(s["by_name"]["a"]["latency_ms"]["min"].as_f64().unwrap() >= 60.0);
    assert!(s["by_name"]["b"]["latency_ms"]["max"].as_f64().unwrap() < 50.0);
}

#[test]
fn the_same_seed_drops_the_same_attempts() {
    let srv = DemoServer::start(0).unwrap();
    let pattern = |name: &str, seed: u64| -> String {
        let r = run(
            name,
            seed,
            format!(
                r#"["LD_start_test", {{"user_count": 1, "iterations": 60, "record_csv": "rows",
                     "tasks": [{{"request_url": "{}/ok", "name": "ok", "network": {{"loss_rate": 0.5}}}}]}}]"#,
                srv.base_url()
            ),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::read_to_string(r.file("rows.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| if l.starts_with("success") { '.' } else { 'x' })
            .collect()
    };
    let a = pattern("seed_a", 9);
    let b = pattern("seed_b", 9);
    let c = pattern("seed_c", 10);
    assert_eq!(a.len(), 60);
    assert!(a.contains('x') && a.contains('.'), "{a}");
    assert_eq!(a, b, "same seed, same drops");
    assert_ne!(a, c, "another seed, other drops");
}

#[test]
fn conditioner_settings_are_validated() {
    for (action, needle) in [
        (
            r#"["LD_install_network_conditioner", {"latency_ms": -5}]"#,
            "latency_ms must be",
        ),
        (
            r#"["LD_install_network_conditioner", {"jitter_ms": 1e300}]"#,
            "jitter_ms must be a number of milliseconds from 0 to 1e12",
        ),
        (
            r#"["LD_install_network_conditioner", {"loss_rate": 2}]"#,
            "loss_rate must be a fraction",
        ),
        (
            r#"["LD_install_network_conditioner", {"name_regex": "(oops"}]"#,
            "invalid regular expression",
        ),
        (
            r#"["LD_install_network_conditioner", {"preset": "5g"}]"#,
            "unknown variant `5g`",
        ),
        (
            r#"["LD_install_network_conditioner", {"lag": 5}]"#,
            "unknown field `lag`",
        ),
    ] {
        let r = run("invalid", 1, action);
        assert_eq!(r.code, 2, "{action}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{action}: {}", r.stderr);
    }
}
