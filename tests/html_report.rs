//! The HTML report as a browser shows it: a real short run against the demo
//! server writes it, headless Chromium renders it (its DOM and a screenshot).
//! Without Chromium the browser tests say why they skip and pass.
//!
//! Also: the timeline behind the charts ends at the test's end, with no
//! cliff drawn by a partial last slice.

use crate::common::{self, Plan};
use loaddensity::demo_server::DemoServer;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium call may take before it is killed.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(90);

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("html_report", name)
}

/// Runs headless Chromium on `page` with `args` (and a fresh profile in
/// `dir`), its stdout to a file; bounded by [`CHROMIUM_LIMIT`], then killed.
/// Returns what it wrote on stdout.
fn run_chromium(bin: &Path, dir: &Path, tag: &str, args: &[String], page: &Path) -> String {
    let profile = dir.join(format!("profile-{tag}"));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let out = dir.join(format!("chromium-{tag}.out"));
    let err = dir.join(format!("chromium-{tag}.err"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("chromium starts");
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > CHROMIUM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {tag} did not end within {CHROMIUM_LIMIT:?}; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        status.success(),
        "chromium {tag} failed ({status}); stderr:\n{}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let _ = std::fs::remove_dir_all(&profile);
    stdout
}

/// A run that trips its failure budget (exit 3) and evaluates two SLA rules,
/// then writes `report.html`. Returns the report's path.
fn tripped_run(d: &Path) -> PathBuf {
    let srv = DemoServer::start(0).unwrap();
    let base = srv.base_url();
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 3, "test_time": 6, "wait_time": 0.05,
            "failure_budget": {{"threshold": 0.2, "window_seconds": 5, "min_samples": 100}},
            "tasks": [{{"request_url": "{base}/ok", "name": "ok <b>&amp;"}},
                      {{"request_url": "{base}/status/503", "name": "busy"}}]}}]"#
    ))
    .then(
        r#"["LD_evaluate_sla", {"rules": [{"type": "latency_p95", "op": "lte", "value": 5000},
            {"type": "failure_rate", "op": "lte", "value": 0.01}]}]"#,
    )
    .then(r#"["LD_generate_html_report", {"html_name": "report"}]"#)
    .run_in(d);
    assert_eq!(r.code, 3, "the budget trips; stderr:\n{}", r.stderr);
    let page = r.file("report.html");
    assert!(page.is_file(), "no report; stderr:\n{}", r.stderr);
    page
}

/// The part of `html` from the element with `id` to the end of its table.
fn table_by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let from = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[from..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

#[test]
fn the_report_renders_its_verdict_checks_and_charts_in_chromium() {
    let Some(bin) = common::installed("chromium") else {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let d = scratch("dom");
    let page = tripped_run(&d);
    let written = std::fs::read_to_string(&page).unwrap();
    // User-controlled text is escaped in the file.
    assert!(
        written.contains("ok &lt;b&gt;&amp;amp;"),
        "task name escaped"
    );
    assert!(!written.contains("<b>&amp;"));

    let dom = run_chromium(&bin, &d, "dom", &["--dump-dom".to_string()], &page);
    assert!(dom.contains("<html"), "no DOM dumped: {dom:.200}");
    // The verdict, at the top.
    let verdict = dom.find("id=\"verdict\"").expect("a verdict");
    assert!(verdict < dom.find("Requests by name").unwrap());
    assert!(dom.contains("class=\"verdict fail\""));
    assert!(dom.contains("<b id=\"exit-code\">3</b>"));
    assert!(dom.contains("<code id=\"exit-reason\">budget_tripped</code>"));
    assert!(
        dom.contains("<code>&lt;run-str&gt;</code>"),
        "the plan name"
    );
    let srv_target = table_by_id(&dom, "targets");
    assert!(
        srv_target.contains("<code>http://127.0.0.1:"),
        "{srv_target}"
    );
    // SLA rows: one holds, one does not, with measured values.
    let sla = table_by_id(&dom, "sla");
    assert_eq!(sla.matches("<tr class=\"sla pass\">").count(), 1, "{sla}");
    assert_eq!(sla.matches("<tr class=\"sla fail\">").count(), 1, "{sla}");
    assert!(sla.contains("failure_rate lte 0.01"));
    // The budget tripped, with when.
    assert!(dom.contains("id=\"budget-state\">tripped<"));
    assert!(dom.contains("id=\"budget-trip\""));
    // Top errors: kind, message, count.
    let errors = table_by_id(&dom, "top-errors");
    assert!(errors.contains("<tr class=\"error\">"), "{errors}");
    assert!(
        errors.contains(">status<") && errors.contains("503"),
        "{errors}"
    );
    // Charts: inline SVG in the rendered DOM, lines drawn, the trip marked.
    for kind in ["rps", "latency", "users"] {
        let at = dom
            .find(&format!("data-chart=\"{kind}\""))
            .unwrap_or_else(|| panic!("no {kind} chart"));
        let chart = &dom[at..at + dom[at..].find("</svg>").unwrap()];
        assert!(chart.contains("<polyline"), "{kind} chart has no line");
        assert!(
            chart.contains("class=\"trip\""),
            "{kind} chart: no trip mark"
        );
    }
}

/// Width, height and the summed length of the IDAT chunks of a PNG.
fn png_facts(png: &[u8]) -> (u32, u32, usize) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let (mut w, mut h, mut idat) = (0, 0, 0);
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = be(&png[at..]) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..(at + 8 + len).min(png.len())];
        match kind {
            b"IHDR" => (w, h) = (be(data), be(&data[4..])),
            b"IDAT" => idat += len,
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    (w, h, idat)
}

#[test]
fn the_report_screenshot_is_a_real_picture() {
    let Some(bin) = common::installed("chromium") else {
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let d = scratch("screenshot");
    let page = tripped_run(&d);
    let shot = d.join("report.png");
    run_chromium(
        &bin,
        &d,
        "shot",
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".to_string(),
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    let (w, h, idat) = png_facts(&png);
    assert_eq!((w, h), (1280, 1600), "the window size");
    // A page of one colour compresses to a few KB; text, tables and charts
    // do not.
    assert!(
        idat > 30_000,
        "a near-blank screenshot: {idat} bytes of pixels"
    );
    // Kept in the scratch folder for a look.
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn the_timeline_ends_at_the_test_end_without_a_cliff() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("timeline");
    // Slow requests in flight at the end complete in the grace; the test
    // ends 0.3 s into its third second.
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 6, "test_time": 2.3, "wait_time": 0.01,
            "tasks": [{{"request_url": "{0}/ok", "name": "ok"}},
                      {{"request_url": "{0}/slow/250", "name": "slow"}}]}}]"#,
        srv.base_url()
    ))
    .then(r#"["LD_generate_json_report", {"json_file_name": "full"}]"#)
    .run_in(&d);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let full = r.report("full.json");
    let t = &full["tests"][0];
    let timeline = t["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 2, "{timeline:?}");
    let last = timeline.last().unwrap();
    let duration = t["duration_s"].as_f64().unwrap();
    // It ends when the test ended, not when the grace did.
    assert!(
        (last["t_s"].as_f64().unwrap() - duration).abs() < 1e-6,
        "{last} vs {duration}"
    );
    // Every completed request is in it, in-flight ones included.
    let sum: u64 = timeline.iter().map(|p| common::n(&p["requests"])).sum();
    assert_eq!(sum, common::n(&t["total"]["requests"]));
    // No slice shorter than half a second at the end.
    let before = timeline[timeline.len() - 2]["t_s"].as_f64().unwrap();
    assert!(duration - before >= 0.5, "{before} → {duration}");
    // The last point's rate is of the same order as the test's: no cliff.
    let rps = t["total"]["rps"].as_f64().unwrap();
    let last_rps = last["rps"].as_f64().unwrap();
    assert!(
        last_rps > 0.5 * rps,
        "last point {last_rps} req/s vs {rps} over the test: {timeline:?}"
    );
    assert_eq!(common::n(&last["users"]), 6, "users running at the end");
}
