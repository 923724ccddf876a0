//! Open-model load: iterations started on the clock (arrival-rate
//! executors), latency corrected for coordinated omission beside the raw
//! figure, and the verdict on the generator itself (exit 5). Every test is a
//! few seconds against an in-process server on 127.0.0.1; counts are taken
//! on the server's side.

use crate::common::{self, n, Plan};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch_dir("open_model", name)
}

/// One arrival-rate test of one GET `path` against `base`, with `fields`
/// (JSON object members) on `LD_start_test`.
fn plan(base: &str, path: &str, fields: &str) -> Plan {
    Plan::new(format!(
        r#"["LD_start_test", {{"host": "{base}", {fields},
            "tasks": [{{"name": "t", "url": "{path}"}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"])
}

fn generator(r: &common::Run) -> Value {
    r.summary()["tests"][0]["generator"].clone()
}

/// A keep-alive server that notes when each request arrived.
fn timestamp_server() -> (String, Arc<Mutex<Vec<Instant>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = l.accept() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        log.lock().unwrap().push(Instant::now());
                        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                }
            });
        }
    });
    (base, seen)
}

#[test]
fn a_constant_rate_starts_the_scheduled_iterations() {
    // Timing on a shared two-core machine: one such test at a time.
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    let r = plan(
        &srv.base_url(),
        "/ok",
        r#""executor": "constant_arrival_rate", "rate": 200, "duration": "3s", "pre_allocated_users": 4, "max_users": 20"#,
    )
    .run_in(&scratch("constant"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hits = srv.hits("/ok");
    assert!(
        (588..=612).contains(&hits),
        "{hits} requests for 600 iterations"
    );
    let g = generator(&r);
    assert_eq!(g["executor"], "constant_arrival_rate");
    let s = &g["schedule"];
    assert_eq!(n(&s["scheduled_iterations"]), 600, "{g}");
    assert_eq!(n(&s["iterations"]), hits, "{g}");
    assert_eq!(n(&s["dropped_iterations"]), 0, "{g}");
    assert_eq!(g["generator_saturated"], false, "{g}");
    assert!(
        r.stderr.contains("600 of 600 iteration(s) started"),
        "{}",
        r.stderr
    );
    // Both latencies are reported.
    let total = &r.summary()["tests"][0]["total"];
    assert!(total["latency_raw_ms"]["p99"].as_f64().is_some(), "{total}");
}

#[test]
fn ramping_stages_start_the_expected_iterations_per_stage() {
    // Timing on a shared two-core machine: one such test at a time.
    let _machine = common::exclusive();
    let (base, seen) = timestamp_server();
    // 0 → 100/s over 2 s (100 iterations), then 100/s for 1 s (100 more).
    let r = plan(
        &base,
        "/",
        r#""executor": "ramping_arrival_rate", "start_rate": 0, "pre_allocated_users": 5, "max_users": 20,
           "stages": [{"target": 100, "duration": "2s"}, {"target": 100, "duration": 1}]"#,
    )
    .run_in(&scratch("ramping"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let times = seen.lock().unwrap().clone();
    let t0 = times[0];
    let within = |from: f64, to: f64| {
        times
            .iter()
            .filter(|t| {
                let s = t.duration_since(t0).as_secs_f64();
                s >= from && s < to
            })
            .count()
    };
    // n(t) = 25 t² over the ramp: 25 in the first second, 75 in the second.
    let (first, second, third) = (within(0.0, 1.0), within(1.0, 2.0), within(2.0, 3.5));
    // Generous bounds: another test may share the two cores.
    assert!((18..=32).contains(&first), "{first} {second} {third}");
    assert!((66..=84).contains(&second), "{first} {second} {third}");
    assert!((90..=110).contains(&third), "{first} {second} {third}");
    assert_eq!(times.len(), 200, "{first} {second} {third}");
}

#[test]
fn too_few_users_for_a_slow_target_are_users_exhausted_and_a_long_stall_drops() {
    // Timing on a shared two-core machine: one such test at a time.
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    // 2 users, 100 ms per request: at most 20 iterations/s against 50/s.
    let r = plan(
        &srv.base_url(),
        "/slow/100",
        r#""executor": "constant_arrival_rate", "rate": 50, "duration": 2, "pre_allocated_users": 2, "max_lag": "300ms""#,
    )
    .run_in(&scratch("exhausted"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let g = generator(&r);
    let s = &g["schedule"];
    assert_eq!(g["users_exhausted"], true, "{g}");
    assert_eq!(g["generator_saturated"], false, "{g}");
    assert!(n(&s["late_iterations"]) > 10, "{g}");
    assert!(n(&s["dropped_iterations"]) > 20, "{g}");
    assert!(
        n(&s["iterations"]) + n(&s["dropped_iterations"]) <= 100,
        "{g}"
    );
    assert!(
        r.stderr.contains("users exhausted")
            && r.stderr.contains("because all 2 user(s) were busy")
            && r.stderr.contains("raise max_users"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_rate_the_generator_cannot_make_exits_5_with_its_reason() {
    // Timing on a shared two-core machine: one such test at a time.
    let _machine = common::exclusive();
    // A port nobody listens on: each request fails at once, so the one
    // worker does nothing but start iterations, as fast as its core allows.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = plan(
        &format!("http://127.0.0.1:{port}"),
        "/",
        r#""executor": "constant_arrival_rate", "rate": 1000000, "duration": "3s", "pre_allocated_users": 10, "expect_requests": false"#,
    )
    .flags(&["--workers", "1"])
    .run_in(&scratch("saturated"));
    assert_eq!(r.code, 5, "{}", r.stderr);
    let g = generator(&r);
    assert_eq!(g["generator_saturated"], true, "{g}");
    let why = g["saturation_reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("although a user was free") || why.contains("of a core"),
        "{why}"
    );
    assert_eq!(r.summary()["exit_reason"], "generator_saturated");
    assert!(
        r.stderr.contains("generator saturated") && r.stderr.contains("not trustworthy"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_stalling_server_shows_in_the_corrected_latency_not_the_raw() {
    // Timing on a shared two-core machine: one such test at a time.
    let _machine = common::exclusive();
    let srv = DemoServer::start(0).unwrap();
    // Stalls 300 ms every 2 s (from 1.7 s and 3.7 s); 400 iterations/s
    // with at most 5 users.
    let r = plan(
        &srv.base_url(),
        "/stall/2000/300",
        r#""executor": "constant_arrival_rate", "rate": 400, "duration": 4, "pre_allocated_users": 5"#,
    )
    .run_in(&scratch("stall"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = &r.summary()["tests"][0]["total"];
    let corrected = t["latency_ms"]["p99"].as_f64().unwrap();
    let raw = t["latency_raw_ms"]["p99"].as_f64().unwrap();
    // About 120 iterations wait out each stall (15 % of them); only the 5 in
    // flight when it starts see it raw (0.6 %).
    assert!(
        corrected >= 200.0,
        "corrected p99 {corrected} ms, raw {raw} ms"
    );
    assert!(
        raw * 2.0 < corrected,
        "corrected p99 {corrected} ms, raw {raw} ms"
    );
}
