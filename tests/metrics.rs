//! The Prometheus exporter: scraped while a run goes on, its final figures
//! equal the run's summary; a real Prometheus (Debian's `prometheus`) scrapes
//! it during a 10 s run and PromQL gives the run's request count. Without the
//! `prometheus` binary that test says why it skips and passes.

use crate::common::{self, Plan};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("metrics", name)
}

/// A port free now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(url: &str) -> Result<String, ureq::Error> {
    ureq::get(url).call()?.body_mut().read_to_string()
}

/// The samples of a scrape: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// The sum of every sample of `metric` (with any labels).
fn total(s: &BTreeMap<String, f64>, metric: &str) -> f64 {
    s.iter()
        .filter(|(k, _)| k.split('{').next() == Some(metric))
        .map(|(_, v)| v)
        .sum()
}

fn plan_requests(summary: &Value) -> u64 {
    common::n(&summary["totals"]["requests"])
}

#[test]
fn scrapes_during_the_run_and_the_last_one_equals_the_summary() {
    let _one = common::exclusive();
    let dir = scratch("live");
    let port = free_port();
    let run = Plan::new(format!(
        r#"["LD_start_demo_server"],
           ["LD_start_prometheus_exporter", {{"port": {port}}}],
           ["LD_start_test", {{"user_count": 3, "spawn_rate": 100, "test_time": 3,
              "wait_time": 0.005,
              "tasks": [{{"name": "ok", "request_url": "${{var.demo}}/ok"}},
                        {{"name": "missing", "request_url": "${{var.demo}}/status/404"}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"])
    .spawn_in(&dir);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut during: Option<BTreeMap<String, f64>> = None;
    let mut last = String::new();
    let t = Instant::now();
    let mut running = run;
    while running.is_running() && t.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = get(&url) {
            let s = samples(&text);
            if during.is_none()
                && total(&s, "loaddensity_active_users") == 3.0
                && total(&s, "loaddensity_requests_total") > 0.0
            {
                during = Some(s);
            }
            last = text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = running.finish(Duration::from_secs(30));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let during = during.unwrap_or_else(|| panic!("no scrape saw the test running; last:\n{last}"));
    assert_eq!(total(&during, "loaddensity_test"), 1.0);
    assert!(last.ends_with("# EOF\n"), "{last}");
    assert!(
        run.stderr.contains("Prometheus scraped the final figures"),
        "{}",
        run.stderr
    );
    // The last scrape has the final figures: the summary's, exactly.
    let s = samples(&last);
    let summary = run.summary();
    let ok = r#"{test="1",name="ok"}"#;
    let missing = r#"{test="1",name="missing"}"#;
    let by_name = &summary["by_name"];
    assert_eq!(
        s[&format!("loaddensity_requests_total{ok}")],
        common::n(&by_name["ok"]["requests"]) as f64
    );
    assert_eq!(
        total(&s, "loaddensity_requests_total"),
        plan_requests(&summary) as f64
    );
    let failed = s[r#"loaddensity_failures_total{test="1",name="missing",kind="status"}"#];
    assert_eq!(failed, common::n(&by_name["missing"]["failures"]) as f64);
    assert!(failed > 0.0);
    assert_eq!(
        s[&format!("loaddensity_request_duration_seconds_count{missing}")],
        common::n(&by_name["missing"]["requests"]) as f64
    );
    // Between tests and after the last, the gauges are back to zero.
    assert_eq!(total(&s, "loaddensity_active_users"), 0.0);
    assert_eq!(total(&s, "loaddensity_in_flight_requests"), 0.0);
    assert_eq!(total(&s, "loaddensity_test"), 0.0);
}

#[test]
fn the_flag_serves_metrics_and_a_busy_port_runs_nothing() {
    let dir = scratch("flag");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let run = Plan::new(r#"["LD_log", {"message": "ran"}]"#)
        .flags(&["--metrics-addr", &addr])
        .run_in(&dir);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--metrics-addr"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was run"), "{}", run.stderr);
    assert!(!run.stdout.contains("ran"), "{}", run.stdout);
    let run = Plan::new(r#"["LD_log", {"message": "ran"}]"#)
        .flags(&["--metrics-addr", "example.com:9646"])
        .run_in(&dir);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not an IP address"), "{}", run.stderr);
    // Port 0: the chosen port is printed; nothing scrapes, so no wait.
    let run = Plan::new(r#"["LD_log", {"message": "ran"}]"#)
        .flags(&["--metrics-addr", "127.0.0.1:0"])
        .run_in(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("metrics at http://127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.took < Duration::from_secs(5), "{:?}", run.took);
}

/// One PromQL instant query's single value.
fn query(prom: u16, q: &str) -> Option<f64> {
    let url = format!(
        "http://127.0.0.1:{prom}/api/v1/query?query={}",
        q.replace('(', "%28")
            .replace(')', "%29")
            .replace('[', "%5B")
            .replace(']', "%5D")
            .replace(' ', "%20")
            .replace('"', "%22")
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('=', "%3D")
    );
    let body: Value = serde_json::from_str(&get(&url).ok()?).ok()?;
    body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_real_prometheus_counts_the_run_s_requests() {
    let Some(bin) = common::installed("prometheus") else {
        eprintln!("skipped: prometheus not installed (apt-get install prometheus)");
        return;
    };
    let _one = common::exclusive();
    let dir = scratch("prometheus");
    let (target, prom) = (free_port(), free_port());
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: loaddensity\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    let mut server = std::process::Command::new(&bin);
    server
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
        .current_dir(&dir);
    let server = common::start(server);
    common::wait_for("prometheus ready", Duration::from_secs(30), || {
        get(&format!("http://127.0.0.1:{prom}/-/ready")).is_ok()
    });
    let run = Plan::new(
        r#"["LD_start_demo_server"],
           ["LD_start_test", {"user_count": 4, "spawn_rate": 100, "test_time": 10,
              "wait_time": 0.01,
              "tasks": [{"name": "ok", "request_url": "${var.demo}/ok"},
                        {"name": "json", "request_url": "${var.demo}/json"}]}]"#,
    )
    .flags(&["--metrics-addr", &format!("127.0.0.1:{target}")])
    .run_in(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let requests = plan_requests(&run.summary()) as f64;
    assert!(requests > 1000.0, "{requests}");
    // The target is gone now: its series are stale, so ask for the last value.
    let q = "sum(last_over_time(loaddensity_requests_total[5m]))";
    let mut got = None;
    common::wait_for(
        "prometheus has the samples",
        Duration::from_secs(10),
        || {
            got = query(prom, q);
            got.is_some()
        },
    );
    let got = got.unwrap();
    server.kill();
    assert!(
        (got - requests).abs() <= requests * 0.01,
        "Prometheus counted {got}, the run {requests}; loaddensity said:\n{}",
        run.stderr
    );
    eprintln!("prometheus: {got} requests, the run's summary {requests}");
}
