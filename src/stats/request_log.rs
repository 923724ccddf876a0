//! The streamed per-request file (`LD_start_test`'s `record_csv`): one CSV
//! row per request that was sent, written while the test runs, so memory stays
//! flat however long it lasts.
//!
//! RFC 4180: a field containing `,`, `"`, CR or LF is enclosed in double
//! quotes and its quotes are doubled. Records end with LF (`\n`).

use anyhow::Context;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Header of the [`RequestLog`] file.
pub const REQUEST_HEADER: &str =
    "outcome,method,url,name,status_code,response_time_ms,response_length,error";

/// Whether an RFC 4180 field must be quoted.
pub fn needs_quotes(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
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

/// How a request ended, as the `outcome` column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Success,
    Failure,
    /// Cut off by the end of the test before it completed: the summary
    /// counts it `cancelled`, not as a request.
    Cancelled,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Success => "success",
            RowOutcome::Failure => "failure",
            RowOutcome::Cancelled => "cancelled",
        }
    }
}

/// One request that was sent, as [`RequestLog::write_row`] records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRow<'a> {
    pub outcome: RowOutcome,
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
        w.write_all(row.outcome.as_str().as_bytes())?;
        w.write_all(b",")?;
        write_field(w, row.method)?;
        w.write_all(b",")?;
        write_field(w, row.url)?;
        w.write_all(b",")?;
        write_field(w, row.name)?;
        w.write_all(b",")?;
        if let Some(code) = row.status_code {
            write!(w, "{code}")?;
        }
        let ms = if row.response_time_ms.is_finite() {
            row.response_time_ms
        } else {
            0.0
        };
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
    use crate::reports::test_fixture::{parse_csv, QUOTED, UNICODE};
    use std::sync::{Arc, Mutex};

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
                outcome: RowOutcome::Success,
                method: "GET",
                url: "http://127.0.0.1:8080/search?q=a,b&x=\"y\"",
                name: QUOTED,
                status_code: Some(200),
                response_time_ms: 12.3456,
                response_length: 5120,
                error: None,
            },
            RequestRow {
                outcome: RowOutcome::Failure,
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
            assert_eq!(rec[0], row.outcome.as_str());
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
                            outcome: [RowOutcome::Success, RowOutcome::Cancelled][j % 2],
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
