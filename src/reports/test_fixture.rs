//! A hand-built, realistic [`RunSummary`] shared by the report tests, and a
//! tiny RFC 4180 parser to read CSV output back.

use crate::stats::{EndedBy, ErrorCount, LatencyMs, NameStats, RunSummary, TestReport, TimePoint};
use std::collections::BTreeMap;

/// Task names that need escaping in every format.
pub const QUOTED: &str = r#"GET /search?q="rust"&page=1"#;
pub const SCRIPT: &str = "<script>alert('x')</script>";
pub const COMMA: &str = "login, then browse";
pub const UNICODE: &str = "café ☕ 日本語 — a very long task name that is going to be truncated";

fn stats(
    requests: u64,
    failures: u64,
    duration_s: f64,
    base_ms: f64,
    errors: &[(&str, &str, u64)],
) -> NameStats {
    let mut failures_by_kind = BTreeMap::new();
    for (kind, _, n) in errors {
        *failures_by_kind.entry(kind.to_string()).or_insert(0) += n;
    }
    NameStats {
        requests,
        cancelled: 0,
        failures,
        failure_rate: if requests == 0 {
            0.0
        } else {
            failures as f64 / requests as f64
        },
        rps: requests as f64 / duration_s,
        bytes: requests * 1234,
        decoded_bytes: requests * 1234,
        latency_ms: LatencyMs {
            min: base_ms * 0.25,
            mean: base_ms * 1.1,
            p50: base_ms,
            p90: base_ms * 1.9,
            p95: base_ms * 2.4,
            p99: base_ms * 4.0,
            p999: base_ms * 7.5,
            max: base_ms * 9.125,
        },
        latency_raw_ms: None,
        failures_by_kind,
        top_errors: errors
            .iter()
            .map(|(k, m, n)| ErrorCount {
                kind: k.to_string(),
                message: m.to_string(),
                count: *n,
            })
            .collect(),
        retry: None,
        conditioner: None,
    }
}

/// Two tests: the first with four awkward names, failures and a timeline,
/// the second with one name, no failures and an empty timeline.
pub fn fixture() -> RunSummary {
    let d1 = 10.0;
    let mut by1 = BTreeMap::new();
    by1.insert(
        QUOTED.to_string(),
        stats(
            400,
            12,
            d1,
            12.5,
            &[
                (
                    "status",
                    "HTTP 500 Internal Server Error <html>&\"oops\"</html>",
                    9,
                ),
                (
                    "timeout",
                    "read timed out after 5s, retrying\nline two\u{1}",
                    3,
                ),
            ],
        ),
    );
    by1.insert(SCRIPT.to_string(), stats(250, 0, d1, 3.0, &[]));
    by1.insert(
        COMMA.to_string(),
        stats(
            150,
            5,
            d1,
            40.0,
            &[("connection", "connection refused (os error 111)", 5)],
        ),
    );
    by1.insert(UNICODE.to_string(), stats(200, 0, d1, 7.25, &[]));
    let total1 = stats(
        1000,
        17,
        d1,
        10.0,
        &[
            (
                "status",
                "HTTP 500 Internal Server Error <html>&\"oops\"</html>",
                9,
            ),
            ("connection", "connection refused (os error 111)", 5),
            (
                "timeout",
                "read timed out after 5s, retrying\nline two\u{1}",
                3,
            ),
        ],
    );
    let timeline = (1..=10)
        .map(|i| TimePoint {
            t_s: i as f64,
            requests: 90 + i * 2,
            failures: i % 3,
            rps: (90 + i * 2) as f64,
            retries: i % 2,
            users: 10.min(i * 2),
            p50_ms: 9.0 + i as f64 * 0.3,
            p95_ms: 22.0 + (i as f64).sqrt(),
            raw_p95_ms: None,
        })
        .collect();
    let t1 = TestReport {
        index: 1,
        action: "plan.json: actions[2]".to_string(),
        started_at: 1_700_000_000.25,
        duration_s: d1,
        users: 10,
        workers: 2,
        ended_by: EndedBy::Time,
        total: total1,
        by_name: by1,
        timeline,
        targets: vec![
            "http://127.0.0.1:8080".to_string(),
            "https://api.example.com:443".to_string(),
        ],
        ..TestReport::default()
    };

    // The second is an arrival-rate test: corrected and raw latency.
    let d2 = 4.0;
    let mut arrival = stats(80, 0, d2, 11.0, &[]);
    arrival.latency_raw_ms = Some(LatencyMs {
        min: 1.0,
        mean: 3.5,
        p50: 3.0,
        p90: 5.0,
        p95: 6.0,
        p99: 8.0,
        p999: 9.0,
        max: 9.5,
    });
    let mut by2 = BTreeMap::new();
    by2.insert(QUOTED.to_string(), arrival.clone());
    let t2 = TestReport {
        index: 2,
        action: "plan.json: actions[4]".to_string(),
        started_at: 1_700_000_011.0,
        duration_s: d2,
        users: 2,
        workers: 1,
        ended_by: EndedBy::Iterations,
        total: arrival,
        by_name: by2,
        timeline: Vec::new(),
        generator: crate::stats::GeneratorStats {
            executor: "constant_arrival_rate".to_string(),
            cpu_per_worker: vec![0.42],
            busy_per_worker: vec![0.5],
            generator_saturated: false,
            saturation_reason: None,
            users_exhausted: true,
            schedule: Some(crate::stats::ScheduleStats {
                scheduled_iterations: 80,
                iterations: 80,
                achieved_rate: 20.0,
                late_iterations: 12,
                late_with_free_users: 0,
                dropped_iterations: 0,
                lag_ms: crate::stats::LagMs {
                    p50: 0.5,
                    p99: 140.0,
                    max: 180.0,
                },
                max_users: 2,
                peak_users: 2,
            }),
        },
        ..TestReport::default()
    };

    let mut by_all = t1.by_name.clone();
    by_all.insert(QUOTED.to_string(), stats(480, 12, 14.0, 12.0, &[]));
    RunSummary {
        tool: "loaddensity".to_string(),
        version: "0.1.0".to_string(),
        started_at: 1_699_999_999.5,
        duration_s: 15.5,
        exit_code: 1,
        exit_reason: "gate_failed".to_string(),
        seed: 18_446_744_073_709_551_557,
        plans: vec!["plans/<smoke>&\"main\".json".to_string()],
        targets: vec![
            "http://127.0.0.1:8080".to_string(),
            "https://api.example.com:443".to_string(),
        ],
        seed_str: crate::units::seed_str(18_446_744_073_709_551_557),
        retry: None,
        conditioner: None,
        budget: Default::default(),
        supervisor: Default::default(),
        sla: Vec::new(),
        total: stats(1080, 17, 14.0, 10.2, &[]),
        by_name: by_all,
        tests: vec![t1, t2],
        ..RunSummary::default()
    }
}

/// The fixture with NaN and infinities in every float field.
pub fn poisoned() -> RunSummary {
    fn poison_stats(n: &mut NameStats) {
        n.failure_rate = f64::NAN;
        n.rps = f64::INFINITY;
        let l = &mut n.latency_ms;
        l.min = f64::NAN;
        l.mean = f64::NEG_INFINITY;
        l.p50 = f64::NAN;
        l.p90 = f64::NAN;
        l.p95 = f64::INFINITY;
        l.p99 = f64::NAN;
        l.p999 = f64::NAN;
        l.max = f64::INFINITY;
    }
    let mut s = fixture();
    s.started_at = f64::NAN;
    s.duration_s = f64::INFINITY;
    poison_stats(&mut s.total);
    s.by_name.values_mut().for_each(poison_stats);
    for t in &mut s.tests {
        t.started_at = f64::NAN;
        t.duration_s = f64::NAN;
        poison_stats(&mut t.total);
        t.by_name.values_mut().for_each(poison_stats);
        for p in &mut t.timeline {
            p.t_s = f64::NAN;
            p.rps = f64::INFINITY;
            p.p50_ms = f64::NAN;
            p.p95_ms = f64::NEG_INFINITY;
        }
    }
    s
}

/// `x` serialised and parsed back as a JSON value. serde_json's default float
/// parser is not exactly round-tripping, so JSON output is compared with
/// this (the same text parses to the same value) rather than with the model.
pub fn reparse<T: serde::Serialize>(x: &T) -> serde_json::Value {
    serde_json::from_str(&serde_json::to_string(x).unwrap()).unwrap()
}

/// Parses RFC 4180 CSV (CRLF or LF line ends) into records of fields.
/// Panics on malformed input (a quote inside an unquoted field, an
/// unterminated quoted field, text after a closing quote).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    let mut quoted_field = false;
    while let Some(c) = chars.next() {
        if at_field_start && c == '"' {
            quoted_field = true;
            at_field_start = false;
            loop {
                match chars.next().expect("unterminated quoted field") {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    other => field.push(other),
                }
            }
            match chars.peek() {
                None | Some(',') | Some('\n') | Some('\r') => {}
                Some(other) => panic!("text {other:?} after closing quote"),
            }
            continue;
        }
        at_field_start = false;
        match c {
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
                quoted_field = false;
            }
            '"' => panic!("quote inside unquoted field {field:?}"),
            other => {
                assert!(!quoted_field);
                field.push(other)
            }
        }
    }
    if !record.is_empty() || !field.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[test]
fn parse_csv_handles_rfc4180() {
    let recs = parse_csv("a,\"b,c\",\"d\"\"e\"\r\n\"multi\nline\",,x\n");
    assert_eq!(
        recs,
        vec![vec!["a", "b,c", "d\"e"], vec!["multi\nline", "", "x"]]
    );
}
