//! CSV reports: the per-name statistics table (`LD_generate_csv_report`) and
//! the streamed per-request log (`LD_start_test`'s `record_csv`).
//!
//! Both follow RFC 4180: a field containing `,`, `"`, CR or LF is enclosed in
//! double quotes and its quotes are doubled. Records end with LF (`\n`), which
//! every common CSV reader accepts alongside the RFC's CRLF.

use super::util::fixed;
use crate::stats::{NameStats, RunSummary};
use anyhow::Context;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Header of [`stats_csv`].
pub const STATS_HEADER: &str = "test,name,requests,failures,failure_rate,rps,bytes,\
min_ms,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms";

/// Header of the [`RequestLog`] file.
pub const REQUEST_HEADER: &str =
    "outcome,method,url,name,status_code,response_time_ms,response_length,error";

/// The `name` of the total rows in [`stats_csv`].
pub const AGGREGATED: &str = "Aggregated";

/// The `test` of the run-wide total row in [`stats_csv`].
pub const ALL_TESTS: &str = "all";

fn needs_quotes(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

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

/// Writes one RFC 4180 field without allocating.
fn write_field<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    if needs_quotes(s) {
        w.write_all(b"\"")?;
        for (i, part) in s.split('"').enumerate() {
            if i > 0 {
                w.write_all(b"\"\"")?;
            }
            w.write_all(part.as_bytes())?;
        }
        w.write_all(b"\"")
    } else {
        w.write_all(s.as_bytes())
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

/// One completed request, as [`RequestLog::write_row`] records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRow<'a> {
    /// Written as `success` or `failure` in the `outcome` column.
    pub success: bool,
    pub method: &'a str,
    pub url: &'a str,
    /// The task name the request is counted under.
    pub name: &'a str,
    /// `None` when no response arrived (connection error, timeout): empty cell.
    pub status_code: Option<u16>,
    /// Written with 3 decimals (microseconds); non-finite → 0.
    pub response_time_ms: f64,
    /// Response body bytes.
    pub response_length: u64,
    /// `None` for a success: empty cell.
    pub error: Option<&'a str>,
}

/// A streaming per-request CSV writer (`record_csv: "path"`).
///
/// Buffered; rows are escaped straight into the buffer, so writing a row does
/// not allocate. `RequestLog` is `Send`: each worker thread may own one
/// (each to its own file), or the workers may share one behind a
/// `Mutex<RequestLog>`. Call [`finish`](RequestLog::finish) at the end to see
/// write errors; dropping it flushes too but ignores errors.
#[derive(Debug)]
pub struct RequestLog {
    out: BufWriter<File>,
}

impl RequestLog {
    /// Creates (or truncates) the file at `path`, creating parent folders as
    /// needed, and writes the header
    /// `outcome,method,url,name,status_code,response_time_ms,response_length,error`.
    pub fn create(path: &Path) -> anyhow::Result<RequestLog> {
        (|| -> anyhow::Result<RequestLog> {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(dir)
                    .with_context(|| format!("creating folder {}", dir.display()))?;
            }
            let file = File::create(path)?;
            let mut out = BufWriter::with_capacity(64 * 1024, file);
            out.write_all(REQUEST_HEADER.as_bytes())?;
            out.write_all(b"\n")?;
            Ok(RequestLog { out })
        })()
        .with_context(|| format!("creating request log {}", path.display()))
    }

    /// Appends one row.
    pub fn write_row(&mut self, row: &RequestRow<'_>) -> io::Result<()> {
        let w = &mut self.out;
        w.write_all(if row.success {
            b"success,"
        } else {
            b"failure,"
        })?;
        write_field(w, row.method)?;
        w.write_all(b",")?;
        write_field(w, row.url)?;
        w.write_all(b",")?;
        write_field(w, row.name)?;
        w.write_all(b",")?;
        if let Some(code) = row.status_code {
            write!(w, "{code}")?;
        }
        let ms = super::util::fin(row.response_time_ms);
        write!(w, ",{ms:.3},{},", row.response_length)?;
        if let Some(e) = row.error {
            write_field(w, e)?;
        }
        w.write_all(b"\n")
    }

    /// Flushes the buffer to the file, reporting any write error.
    pub fn finish(self) -> io::Result<()> {
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, parse_csv, poisoned, COMMA, QUOTED, UNICODE};
    use std::sync::{Arc, Mutex};

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
        for (cell, w) in row[7..].iter().zip(want) {
            assert!((num(cell) - w).abs() <= 5e-4 + 1e-9, "{cell} vs {w}");
        }
    }

    #[test]
    fn stats_csv_parses_and_agrees_with_the_summary() {
        let s = fixture();
        let recs = parse_csv(&stats_csv(&s));
        assert_eq!(recs[0].join(","), STATS_HEADER);
        assert!(recs.iter().all(|r| r.len() == 15), "{recs:?}");
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
                let j = match col.strip_suffix("_ms") {
                    Some(p) => &stats["latency_ms"][p],
                    None => &stats[col.as_str()],
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

    fn temp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "loaddensity-reqlog-{tag}-{}/nested/requests.csv",
            std::process::id()
        ))
    }

    #[test]
    fn request_log_round_trips() {
        fn assert_send<T: Send>() {}
        assert_send::<RequestLog>();

        let path = temp_path("rt");
        let rows = [
            RequestRow {
                success: true,
                method: "GET",
                url: "http://127.0.0.1:8080/search?q=a,b&x=\"y\"",
                name: QUOTED,
                status_code: Some(200),
                response_time_ms: 12.3456,
                response_length: 5120,
                error: None,
            },
            RequestRow {
                success: false,
                method: "POST",
                url: "http://127.0.0.1:8080/login",
                name: UNICODE,
                status_code: None,
                response_time_ms: f64::NAN,
                response_length: 0,
                error: Some("connection refused,\nretry \"later\""),
            },
        ];
        let mut log = RequestLog::create(&path).unwrap();
        for r in &rows {
            log.write_row(r).unwrap();
        }
        log.finish().unwrap();

        let recs = parse_csv(&fs::read_to_string(&path).unwrap());
        assert_eq!(recs[0].join(","), REQUEST_HEADER);
        assert_eq!(recs.len(), 3);
        for (rec, row) in recs[1..].iter().zip(&rows) {
            assert_eq!(rec.len(), 8);
            assert_eq!(rec[0], if row.success { "success" } else { "failure" });
            assert_eq!(rec[1], row.method);
            assert_eq!(rec[2], row.url);
            assert_eq!(rec[3], row.name);
            assert_eq!(
                rec[4],
                row.status_code.map(|c| c.to_string()).unwrap_or_default()
            );
            assert_eq!(rec[6], row.response_length.to_string());
            assert_eq!(rec[7], row.error.unwrap_or(""));
        }
        assert_eq!(recs[1][5], "12.346");
        assert_eq!(recs[2][5], "0.000");
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn request_log_shared_behind_a_mutex() {
        let path = temp_path("mutex");
        let log = Arc::new(Mutex::new(RequestLog::create(&path).unwrap()));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for j in 0..50 {
                        let name = format!("task {i}");
                        let row = RequestRow {
                            success: j % 2 == 0,
                            method: "GET",
                            url: "http://h/",
                            name: &name,
                            status_code: Some(200),
                            response_time_ms: j as f64,
                            response_length: 1,
                            error: None,
                        };
                        log.lock().unwrap().write_row(&row).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let log = Arc::try_unwrap(log).unwrap().into_inner().unwrap();
        log.finish().unwrap();
        let recs = parse_csv(&fs::read_to_string(&path).unwrap());
        assert_eq!(recs.len(), 1 + 200);
        assert!(recs.iter().all(|r| r.len() == 8));
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn request_log_error_names_the_path() {
        let err = RequestLog::create(Path::new("/proc/definitely/not/here.csv")).unwrap_err();
        assert!(format!("{err:#}").contains("/proc/definitely/not/here.csv"));
    }
}
