//! The board as OpenMetrics 1.0 text: one metric family after another, each
//! with its `# TYPE` and `# HELP`, label values escaped, `# EOF` last.
//! Every family and label is documented in `docs/metrics.md`.

use super::board::{Series, State, LATENCY_BUCKETS_S};
use crate::stats::recorder::FailKind;
use std::fmt::Write;

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const RETRY_CLASSES: [&str; 3] = ["transient", "flaky", "permanent"];

/// Renders the whole board.
pub fn render(st: &State) -> String {
    let mut out = String::with_capacity(4096);
    let o = &mut out;
    family(
        o,
        "loaddensity_build",
        "info",
        "The loaddensity that serves these metrics.",
    );
    line(
        o,
        "loaddensity_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        "1",
    );

    let g = &st.gauges;
    family(
        o,
        "loaddensity_test",
        "gauge",
        "The number of the test running in the run (1-based); 0 between tests.",
    );
    line(o, "loaddensity_test", &[], &g.test.to_string());
    family(o, "loaddensity_active_users", "gauge", "Users running now.");
    line(
        o,
        "loaddensity_active_users",
        &[],
        &g.active_users.to_string(),
    );
    family(
        o,
        "loaddensity_in_flight_requests",
        "gauge",
        "Requests begun and not yet complete (think time and pacing aside).",
    );
    line(
        o,
        "loaddensity_in_flight_requests",
        &[],
        &g.in_flight.to_string(),
    );
    if let Some(b) = g.budget {
        let rate = if b.samples == 0 {
            0.0
        } else {
            b.failed as f64 / b.samples as f64
        };
        family(
            o,
            "loaddensity_budget_threshold",
            "gauge",
            "The failure budget's error-rate threshold (0..1) for the running test.",
        );
        line(o, "loaddensity_budget_threshold", &[], &num(b.threshold));
        family(
            o,
            "loaddensity_budget_error_rate",
            "gauge",
            "The error rate (0..1) in the failure budget's sliding window now.",
        );
        line(o, "loaddensity_budget_error_rate", &[], &num(rate));
        family(
            o,
            "loaddensity_budget_window_samples",
            "gauge",
            "Outcomes in the failure budget's sliding window now.",
        );
        line(
            o,
            "loaddensity_budget_window_samples",
            &[],
            &b.samples.to_string(),
        );
        family(
            o,
            "loaddensity_budget_tripped",
            "gauge",
            "1 once the running test's failure budget tripped, else 0.",
        );
        line(
            o,
            "loaddensity_budget_tripped",
            &[],
            if b.tripped { "1" } else { "0" },
        );
    }

    let series: Vec<(String, &str, &Series)> = st
        .tests
        .iter()
        .flat_map(|(test, t)| {
            t.names
                .iter()
                .map(move |(name, s)| (test.to_string(), name.as_str(), s))
        })
        .collect();
    let counter = |o: &mut String, name: &str, help: &str, value: &dyn Fn(&Series) -> u64| {
        family(o, name, "counter", help);
        let sample = format!("{name}_total");
        for (test, n, s) in &series {
            line(
                o,
                &sample,
                &[("test", test), ("name", n)],
                &value(s).to_string(),
            );
        }
    };
    counter(
        o,
        "loaddensity_requests",
        "Logical requests completed (a request and its retries count once).",
        &|s| s.requests,
    );
    let kinds = FailKind::ALL.map(FailKind::as_str);
    by_label(
        o,
        &series,
        (
            "loaddensity_failures",
            "Failed requests, by kind of failure.",
        ),
        ("kind", &kinds),
        &|s, i| s.failures[i],
    );
    counter(
        o,
        "loaddensity_cancelled",
        "Requests the end of a test cut off before they completed.",
        &|s| s.cancelled,
    );
    counter(
        o,
        "loaddensity_attempts",
        "Attempts sent (a request without a retry policy is one attempt).",
        &|s| s.attempts,
    );
    by_label(
        o,
        &series,
        (
            "loaddensity_retries",
            "Retries, by the class of the failure retried.",
        ),
        ("class", &RETRY_CLASSES),
        &|s, i| s.retries[i],
    );
    counter(
        o,
        "loaddensity_received_bytes",
        "Response body bytes received, as they came over the wire (a compressed body compressed).",
        &|s| s.bytes,
    );
    counter(
        o,
        "loaddensity_conditioner_drops",
        "Attempts the network conditioner dropped before sending.",
        &|s| s.dropped,
    );

    let h = "loaddensity_request_duration_seconds";
    family(o, h, "histogram", "Latency of the completed requests (as the reports count it: from the scheduled start in an arrival-rate test).");
    let _ = writeln!(o, "# UNIT {h} seconds");
    for (test, n, s) in &series {
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS_S.iter().enumerate() {
            cumulative += s.buckets[i];
            let le = num(*bound);
            line(
                o,
                &format!("{h}_bucket"),
                &[("test", test), ("name", n), ("le", &le)],
                &cumulative.to_string(),
            );
        }
        cumulative += s.buckets[LATENCY_BUCKETS_S.len()];
        line(
            o,
            &format!("{h}_bucket"),
            &[("test", test), ("name", n), ("le", "+Inf")],
            &cumulative.to_string(),
        );
        line(
            o,
            &format!("{h}_count"),
            &[("test", test), ("name", n)],
            &cumulative.to_string(),
        );
        line(
            o,
            &format!("{h}_sum"),
            &[("test", test), ("name", n)],
            &num(s.latency_sum_s),
        );
    }
    out.push_str("# EOF\n");
    out
}

/// A counter family with one more label than `test` and `name`: a sample
/// per series and per value of `label` (every value, zeros included).
fn by_label(
    o: &mut String,
    series: &[(String, &str, &Series)],
    (name, help): (&str, &str),
    (label, values): (&str, &[&str]),
    value: &dyn Fn(&Series, usize) -> u64,
) {
    family(o, name, "counter", help);
    let sample = format!("{name}_total");
    for (test, n, s) in series {
        for (i, v) in values.iter().enumerate() {
            line(
                o,
                &sample,
                &[("test", test), ("name", n), (label, v)],
                &value(s, i).to_string(),
            );
        }
    }
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# TYPE {name} {kind}");
    let _ = writeln!(o, "# HELP {name} {}", escape_help(help));
}

fn line(o: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    o.push_str(name);
    if !labels.is_empty() {
        o.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{k}=\"{}\"", escape_label(v));
        }
        o.push('}');
    }
    o.push(' ');
    o.push_str(value);
    o.push('\n');
}

/// A float as OpenMetrics writes it: no exponent for the usual range.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "0".to_string()
    }
}

/// Label values: backslash, double quote and line feed are escaped.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `# HELP` text: backslash and line feed are escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::super::board::{Board, BudgetGauge, Gauges, Series};
    use crate::stats::recorder::{FailKind, Tally};
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn kinds_index_their_own_slot() {
        for (i, k) in FailKind::ALL.into_iter().enumerate() {
            assert_eq!(k as usize, i, "{k:?}");
        }
    }

    #[test]
    fn renders_openmetrics() {
        let mut t: Tally<u32> = Tally::default();
        for _ in 0..3 {
            t.record(Duration::from_millis(2), 10, None);
        }
        t.record(
            Duration::from_millis(20),
            0,
            Some((FailKind::Status, "HTTP 503")),
        );
        let mut s = Series::default();
        s.add(&t);
        let board = Board::new();
        let names = BTreeMap::from([("GET \"/a\"\\b\nc".to_string(), s)]);
        board.publish(
            2,
            names,
            Gauges {
                test: 2,
                active_users: 5,
                in_flight: 3,
                budget: Some(BudgetGauge {
                    threshold: 0.1,
                    samples: 4,
                    failed: 1,
                    tripped: true,
                }),
            },
        );
        let text = board.scrape();
        let l = r#"{test="2",name="GET \"/a\"\\b\nc""#;
        for want in [
            "# TYPE loaddensity_requests counter\n",
            &format!("loaddensity_requests_total{l}}} 4\n"),
            &format!("loaddensity_failures_total{l},kind=\"status\"}} 1\n"),
            &format!("loaddensity_failures_total{l},kind=\"timeout\"}} 0\n"),
            &format!("loaddensity_attempts_total{l}}} 4\n"),
            &format!("loaddensity_received_bytes_total{l}}} 30\n"),
            &format!("loaddensity_retries_total{l},class=\"flaky\"}} 0\n"),
            &format!("loaddensity_request_duration_seconds_bucket{l},le=\"0.001\"}} 0\n"),
            &format!("loaddensity_request_duration_seconds_bucket{l},le=\"0.0025\"}} 3\n"),
            &format!("loaddensity_request_duration_seconds_bucket{l},le=\"0.025\"}} 4\n"),
            &format!("loaddensity_request_duration_seconds_bucket{l},le=\"+Inf\"}} 4\n"),
            &format!("loaddensity_request_duration_seconds_count{l}}} 4\n"),
            "# UNIT loaddensity_request_duration_seconds seconds\n",
            "loaddensity_active_users 5\n",
            "loaddensity_in_flight_requests 3\n",
            "loaddensity_budget_error_rate 0.25\n",
            "loaddensity_budget_tripped 1\n",
            "loaddensity_test 2\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        // Every sample line belongs to the family declared before it.
        let mut family = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                assert!(line.starts_with(&family), "{line} outside {family}");
            }
        }
    }
}
