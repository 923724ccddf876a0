//! The per-name statistics table as CSV (`LD_generate_csv_report`). The
//! streamed per-request file (`record_csv`) is [`crate::stats::request_log`];
//! both quote fields the same way.
//!
//! RFC 4180: a field containing `,`, `"`, CR or LF is enclosed in
//! double quotes and its quotes are doubled. Records end with LF (`\n`), which
//! every common CSV reader accepts alongside the RFC's CRLF.

use super::util::fixed;
use crate::stats::request_log::needs_quotes;
use crate::stats::{NameStats, RunSummary};

/// Header of [`stats_csv`].
pub const STATS_HEADER: &str = "test,name,requests,failures,failure_rate,rps,bytes,\
min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms,raw_p50_ms,raw_p95_ms,raw_p99_ms";

/// The `name` of the total rows in [`stats_csv`].
pub const AGGREGATED: &str = "Aggregated";

/// The `test` of the run-wide total row in [`stats_csv`].
pub const ALL_TESTS: &str = "all";

/// Appends one RFC 4180 field.
fn push_field(out: &mut String, s: &str) {
    if needs_quotes(s) {
        out.push('"');
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn push_stats_row(out: &mut String, test: &str, name: &str, n: &NameStats) {
    push_field(out, test);
    out.push(',');
    push_field(out, name);
    let l = &n.latency_ms;
    let cells = [
        n.requests.to_string(),
        n.failures.to_string(),
        fixed(n.failure_rate, 6),
        fixed(n.rps, 3),
        n.bytes.to_string(),
        fixed(l.min, 3),
        fixed(l.mean, 3),
        fixed(l.p50, 3),
        fixed(l.p90, 3),
        fixed(l.p95, 3),
        fixed(l.p99, 3),
        fixed(l.p999, 3),
        fixed(l.max, 3),
    ];
    for c in &cells {
        out.push(',');
        out.push_str(c);
    }
    // Arrival-rate tests: latency from the actual send (the columns above
    // are from the scheduled start); empty for closed-model tests.
    match &n.latency_raw_ms {
        Some(r) => {
            for x in [r.p50, r.p95, r.p99] {
                out.push(',');
                out.push_str(&fixed(x, 3));
            }
        }
        None => out.push_str(",,,"),
    }
    out.push('\n');
}

/// The statistics CSV: a header row, then for each test (in run order) one
/// row per task name (sorted by name) followed by the test's total row
/// (`name` = `Aggregated`), and last the run-wide total row
/// (`test` = `all`, `name` = `Aggregated`).
///
/// Columns: `test,name,requests,failures,failure_rate,rps,bytes,min_ms,
/// mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms`. `test` is the test's
/// 1-based index; `failure_rate` is a fraction (0..1, 6 decimals), `rps` and
/// the latencies have 3 decimals. Non-finite numbers are written as 0.
pub fn stats_csv(s: &RunSummary) -> String {
    let mut out = String::with_capacity(256 * (2 + s.by_name.len()));
    out.push_str(STATS_HEADER);
    out.push('\n');
    for t in &s.tests {
        let test = t.index.to_string();
        for (name, n) in &t.by_name {
            push_stats_row(&mut out, &test, name, n);
        }
        push_stats_row(&mut out, &test, AGGREGATED, &t.total);
    }
    push_stats_row(&mut out, ALL_TESTS, AGGREGATED, &s.total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, parse_csv, poisoned, COMMA, UNICODE};

    fn num(s: &str) -> f64 {
        s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
    }

    fn check_row(row: &[String], n: &NameStats) {
        let l = &n.latency_ms;
        assert_eq!(row[2].parse::<u64>().unwrap(), n.requests);
        assert_eq!(row[3].parse::<u64>().unwrap(), n.failures);
        assert!(
            (num(&row[4]) - n.failure_rate).abs() <= 5e-7 + 1e-12,
            "{row:?}"
        );
        assert!((num(&row[5]) - n.rps).abs() <= 5e-4 + 1e-9);
        assert_eq!(row[6].parse::<u64>().unwrap(), n.bytes);
        let want = [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max];
        for (cell, w) in row[7..15].iter().zip(want) {
            assert!((num(cell) - w).abs() <= 5e-4 + 1e-9, "{cell} vs {w}");
        }
        // The raw latency of an arrival-rate test; empty otherwise.
        match &n.latency_raw_ms {
            Some(r) => {
                for (cell, w) in row[15..].iter().zip([r.p50, r.p95, r.p99]) {
                    assert!((num(cell) - w).abs() <= 5e-4 + 1e-9, "{cell} vs {w}");
                }
            }
            None => assert!(row[15..].iter().all(String::is_empty), "{row:?}"),
        }
    }

    #[test]
    fn stats_csv_parses_and_agrees_with_the_summary() {
        let s = fixture();
        let recs = parse_csv(&stats_csv(&s));
        assert_eq!(recs[0].join(","), STATS_HEADER);
        assert!(recs.iter().all(|r| r.len() == 18), "{recs:?}");
        let body = &recs[1..];
        // 4 + 1 names, a total row per test, one overall row.
        assert_eq!(body.len(), 4 + 1 + 2 + 1);

        let mut i = 0;
        for t in &s.tests {
            for (name, n) in &t.by_name {
                assert_eq!(body[i][0], t.index.to_string());
                assert_eq!(&body[i][1], name);
                check_row(&body[i], n);
                i += 1;
            }
            assert_eq!(body[i][1], AGGREGATED);
            check_row(&body[i], &t.total);
            i += 1;
        }
        assert_eq!(body[i][0], ALL_TESTS);
        assert_eq!(body[i][1], AGGREGATED);
        check_row(&body[i], &s.total);

        // And against the summary JSON itself, column by column.
        let v: serde_json::Value = serde_json::from_str(&crate::reports::summary_json(&s)).unwrap();
        let header = &recs[0];
        for row in body {
            let stats = match (row[0].as_str(), row[1].as_str()) {
                (ALL_TESTS, _) => &v["total"],
                (t, AGGREGATED) => &v["tests"][t.parse::<usize>().unwrap() - 1]["total"],
                (t, name) => &v["tests"][t.parse::<usize>().unwrap() - 1]["by_name"][name],
            };
            assert!(stats.is_object(), "{row:?}");
            for (col, cell) in header.iter().zip(row).skip(2) {
                let j = match (col.strip_prefix("raw_"), col.strip_suffix("_ms")) {
                    (Some(_), _) if cell.is_empty() => {
                        assert!(stats["latency_raw_ms"].is_null(), "{row:?}");
                        continue;
                    }
                    (Some(raw), _) => &stats["latency_raw_ms"][raw.strip_suffix("_ms").unwrap()],
                    (None, Some(p)) => &stats["latency_ms"][p],
                    (None, None) => &stats[col.as_str()],
                };
                let j = j.as_f64().unwrap_or_else(|| panic!("{col} missing"));
                assert!((num(cell) - j).abs() <= 5e-4 + 1e-9, "{col}: {cell} vs {j}");
            }
        }
        assert!(body.iter().any(|r| r[1] == COMMA));
        assert!(body.iter().any(|r| r[1] == UNICODE));
    }

    #[test]
    fn stats_csv_escapes() {
        let s = fixture();
        let out = stats_csv(&s);
        assert!(out.contains(r#""GET /search?q=""rust""&page=1""#), "{out}");
        assert!(out.contains("\"login, then browse\""));
    }

    #[test]
    fn stats_csv_of_empty_run_and_no_nan() {
        let out = stats_csv(&crate::stats::RunSummary::default());
        let recs = parse_csv(&out);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1][0], ALL_TESTS);
        let out = stats_csv(&poisoned());
        assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
    }
}
