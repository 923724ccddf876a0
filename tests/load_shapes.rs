//! Load shapes and per-task pacing through the real binary, on 127.0.0.1:
//! `stages`, `spike` and `soak` set the users over time (read from the full
//! JSON report's timeline), a task's `throttle` caps its rate across users
//! (counted by the server), a task's `think_time` spaces its user's requests
//! (timed by the server), and a bad shape is refused before anything runs.

use crate::common::{self, n, Plan};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("load_shapes", name)
}

/// A server that answers every request `200 ok` (keep-alive) and notes when
/// each arrived and its path.
struct Arrivals {
    port: u16,
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Arrivals {
    fn start() -> Arrivals {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve(stream, &log));
            }
        });
        Arrivals { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Arrival times (seconds after the first request of any path) of the
    /// requests whose path is in `paths`.
    fn times(&self, paths: &[&str]) -> Vec<f64> {
        let seen = self.seen.lock().unwrap();
        let Some((t0, _)) = seen.first() else {
            return Vec::new();
        };
        seen.iter()
            .filter(|(_, p)| paths.contains(&p.as_str()))
            .map(|(t, _)| t.duration_since(*t0).as_secs_f64())
            .collect()
    }
}

/// One connection: bodiless requests, one after another.
fn serve(mut stream: TcpStream, log: &Mutex<Vec<(Instant, String)>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let path = head.split(' ').nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push((Instant::now(), path));
            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(reply).is_err() {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

/// Runs one `LD_start_test` (its arguments) and writes the full JSON
/// report; returns the run's first test from it.
fn run_test(name: &str, args: &str) -> (common::Run, Value) {
    let r = Plan::new(format!(r#"["LD_start_test", {args}]"#))
        .then(r#"["LD_generate_json_report", {"json_file_name": "full"}]"#)
        .run_in(&scratch(name));
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    let test = r.report("full.json")["tests"][0].clone();
    (r, test)
}

/// `(t_s, users)` of each timeline point from `from` to `to` seconds (the
/// users running at that instant); at least one.
fn users_within(test: &Value, from: f64, to: f64) -> Vec<(f64, u64)> {
    let timeline = test["timeline"].as_array().expect("a timeline");
    let points: Vec<(f64, u64)> = timeline
        .iter()
        .map(|p| (p["t_s"].as_f64().unwrap(), n(&p["users"])))
        .filter(|(t, _)| (from..to).contains(t))
        .collect();
    assert!(
        !points.is_empty(),
        "no point from {from} to {to} s: {timeline:#?}"
    );
    points
}

/// Every timeline point from `from` to `to` seconds has `users` users.
#[track_caller]
fn users_are(test: &Value, from: f64, to: f64, users: u64) {
    let points = users_within(test, from, to);
    assert!(
        points.iter().all(|(_, u)| *u == users),
        "want {users} users from {from} to {to} s: {points:?}"
    );
}

/// A task that keeps a user busy without spinning: `/ok`, then 50 ms.
fn ok_task(srv: &DemoServer) -> String {
    format!(
        r#""wait_time": 0.05, "tasks": [{{"request_url": "{}/ok"}}]"#,
        srv.base_url()
    )
}

#[test]
fn stages_set_the_users_stage_by_stage_and_end_the_test() {
    let srv = DemoServer::start(0).unwrap();
    let (_, test) = run_test(
        "stages",
        &format!(
            r#"{{"load_shape": "stages", "shape_config": {{"stages": [
                {{"duration": 2, "users": 2, "spawn_rate": 100}},
                {{"duration": 4, "users": 6, "spawn_rate": 100}},
                {{"duration": 6, "users": 3, "spawn_rate": 100}}]}}, {}}}"#,
            ok_task(&srv)
        ),
    );
    // Durations are end times: 2 users to 2 s, 6 to 4 s, 3 to 6 s, then the end.
    users_are(&test, 0.3, 1.95, 2);
    users_are(&test, 2.3, 3.95, 6);
    users_are(&test, 4.3, 5.95, 3);
    assert_eq!(test["ended_by"], "time");
    assert_eq!(n(&test["users"]), 6, "the peak");
    let dur = test["duration_s"].as_f64().unwrap();
    assert!((5.9..7.0).contains(&dur), "duration {dur}");
    assert!(srv.hits("/ok") > 0);
}

#[test]
fn a_spike_rises_and_falls_back_to_the_baseline() {
    let srv = DemoServer::start(0).unwrap();
    let (_, test) = run_test(
        "spike",
        &format!(
            r#"{{"load_shape": "spike", "shape_config": {{"baseline_users": 2, "spike_users": 8,
                "spawn_rate": 100, "pre_seconds": 2, "spike_seconds": 2, "post_seconds": 2}}, {}}}"#,
            ok_task(&srv)
        ),
    );
    users_are(&test, 0.3, 1.95, 2);
    users_are(&test, 2.3, 3.95, 8);
    users_are(&test, 4.3, 5.95, 2);
    let dur = test["duration_s"].as_f64().unwrap();
    assert!((5.9..7.0).contains(&dur), "duration {dur}");
}

#[test]
fn a_soak_ramps_up_holds_and_cools_down() {
    let srv = DemoServer::start(0).unwrap();
    // test_time caps the 10 s shape at 8 s: mid-cooldown.
    let (_, test) = run_test(
        "soak",
        &format!(
            r#"{{"test_time": 8, "load_shape": "soak", "shape_config": {{"users": 6, "spawn_rate": 100,
                "ramp_seconds": 3, "hold_seconds": 2, "cooldown_seconds": 5}}, {}}}"#,
            ok_task(&srv)
        ),
    );
    // Ramp: 6 users over 3 s (2 a second, at least 1), hold 6, then down 6
    // over 5 s (1.2 a second).
    let near = |points: Vec<(f64, u64)>, want: &dyn Fn(f64) -> f64| {
        for (t, users) in points {
            let want = want(t).ceil() as u64;
            assert!(
                users.abs_diff(want) <= 1,
                "{users} users at {t} s, want {want}: {test:#}"
            );
        }
    };
    near(users_within(&test, 0.5, 2.9), &|t| (2.0 * t).max(1.0));
    users_are(&test, 3.3, 4.95, 6);
    near(users_within(&test, 5.3, 7.9), &|t| 6.0 * (10.0 - t) / 5.0);
    // Up, then down.
    let all = users_within(&test, 0.0, 99.0);
    let peak = all.iter().position(|(_, u)| *u == 6).expect("the hold");
    assert!(all[..peak].windows(2).all(|w| w[0].1 <= w[1].1), "{all:?}");
    assert!(all[peak..].windows(2).all(|w| w[0].1 >= w[1].1), "{all:?}");
    let dur = test["duration_s"].as_f64().unwrap();
    assert!((7.9..9.0).contains(&dur), "test_time caps the shape: {dur}");
}

#[test]
fn a_throttle_caps_the_rate_of_its_key_across_users_and_is_not_latency() {
    let srv = Arrivals::start();
    // 20 users, two tasks sharing one bucket of 50 a second.
    let (r, test) = run_test(
        "throttle",
        &format!(
            r#"{{"user_count": 20, "spawn_rate": 1000, "test_time": 3.5, "tasks": [
                {{"request_url": "{}", "name": "a", "throttle": {{"rps": 50, "key": "api"}}}},
                {{"request_url": "{}", "name": "b", "throttle": {{"rps": 50, "key": "api"}}}}]}}"#,
            srv.url("/a"),
            srv.url("/b")
        ),
    );
    let times = srv.times(&["/a", "/b"]);
    // After the first burst (50 tokens at once), 50 a second: count over
    // the 2 s from 0.75 s to 2.75 s.
    let window = times.iter().filter(|t| (0.75..2.75).contains(*t)).count();
    let rate = window as f64 / 2.0;
    assert!(
        (rate - 50.0).abs() <= 2.5,
        "server-side rate {rate}/s, want 50 ± 5 %"
    );
    eprintln!("throttle: {rate} requests/s at the server for rps 50 (20 users)");
    // The whole test: the burst plus 50 a second, never more.
    let total = times.len() as f64;
    assert!(total <= 50.0 + 50.0 * 3.6 + 2.0, "{total} requests");
    // Each user waits about 0.4 s for its token; that wait is not latency.
    let p50 = r.report("full.json")["total"]["latency_ms"]["p50"]
        .as_f64()
        .unwrap();
    assert!(p50 < 100.0, "p50 {p50} ms includes the throttle's wait");
    assert_eq!(test["ended_by"], "time");
}

#[test]
fn think_time_spaces_a_users_requests_at_the_server() {
    let srv = Arrivals::start();
    let (_, _test) = run_test(
        "think_time",
        &format!(
            r#"{{"user_count": 1, "test_time": 3, "tasks": [
                {{"request_url": "{}", "think_time": 0.3}},
                {{"request_url": "{}", "think_time": {{"min": 0.1, "max": 0.2}}}}]}}"#,
            srv.url("/a"),
            srv.url("/b")
        ),
    );
    let seen = srv.seen.lock().unwrap().clone();
    assert!(seen.len() >= 6, "{} requests", seen.len());
    let mut after_b = Vec::new();
    for w in seen.windows(2) {
        let gap = w[1].0.duration_since(w[0].0).as_secs_f64();
        match w[0].1.as_str() {
            // After /a: its fixed 0.3 s.
            "/a" => assert!((0.3..0.45).contains(&gap), "gap after /a: {gap}"),
            // After /b: drawn from 0.1 to 0.2 s.
            _ => {
                assert!((0.1..0.3).contains(&gap), "gap after /b: {gap}");
                after_b.push(gap);
            }
        }
    }
    // Drawn, not fixed.
    let (lo, hi) = after_b
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), g| (lo.min(*g), hi.max(*g)));
    assert!(hi - lo > 0.005, "the /b gaps do not vary: {after_b:?}");
}

#[test]
fn a_bad_shape_is_refused_before_anything_runs_naming_the_field() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("bad_shape");
    for (shape, path, msg) in [
        (
            r#""load_shape": "stages", "shape_config": {"stages": [{"duration": 5, "users": 2}, {"duration": 3, "users": 4}]}"#,
            "actions[1].args.shape_config.stages[1].duration",
            "stages[1].duration 3 is not after stages[0].duration 5",
        ),
        (
            r#""load_shape": "spike", "shape_config": {"baseline_users": 2, "spawn_rate": -1}"#,
            "actions[1].args.shape_config.spawn_rate",
            "spawn_rate must be a positive number of users per second, found -1",
        ),
        (
            r#""load_shape": "sok", "shape_config": {"users": 2}"#,
            "actions[1].args.load_shape",
            "unknown load_shape \"sok\"",
        ),
    ] {
        let r = Plan::new(format!(
            r#"["LD_log", {{"message": "must not print"}}],
               ["LD_start_test", {{{shape}, "tasks": [{{"request_url": "{}/ok"}}]}}]"#,
            srv.base_url()
        ))
        .run_in(&d);
        assert_eq!(r.code, 2, "{shape}: {}", r.stderr);
        assert!(r.stderr.contains(path), "{path}: {}", r.stderr);
        assert!(r.stderr.contains(msg), "{msg}: {}", r.stderr);
        assert!(!r.stdout.contains("must not print"), "{}", r.stdout);
    }
    assert_eq!(srv.total_requests(), 0);
}
