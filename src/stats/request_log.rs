//! The streamed per-request file (`LD_start_test`'s `record_csv`): one CSV
//! row per request that was sent, written while the test runs, so memory stays
//! flat however long it lasts.
//!
//! RFC 4180: a field containing `,`, `"`, CR or LF is enclosed in double
//! quotes and its quotes are doubled. Records end with LF (`\n`).

use anyhow::Context;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Header of the [`RequestLog`] file.
pub const REQUEST_HEADER: &str =
    "outcome,method,url,name,status_code,response_time_ms,response_length,error,t_s,time_utc";

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

/// `unix_s` plus `plus_ms` milliseconds as ISO 8601 UTC with milliseconds:
/// `2026-11-29T23:30:55.123Z`. Written in place (no allocation).
fn write_utc_millis<W: Write>(w: &mut W, unix_s: f64, plus_ms: i64) -> io::Result<()> {
    let base = if unix_s.is_finite() {
        (unix_s * 1000.0).round() as i64
    } else {
        0
    };
    let ms = base.saturating_add(plus_ms);
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::units::civil_from_days(days);
    write!(
        w,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
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
    /// When the request started (its first attempt): the `t_s` and
    /// `time_utc` columns.
    pub started: Instant,
}

/// A streaming per-request CSV writer (`record_csv: "path"`).
///
/// Rows are escaped into an in-memory buffer (no allocation per row) and the
/// buffer goes to the file whole: when it passes 64 KiB, and at least once a
/// second ([`RequestLog::flush_if_due`], called by the test's clock), so a
/// killed run leaves its rows up to the last second and never a torn row.
/// The first write error is kept ([`RequestLog::error`]): later rows are
/// dropped, the file is cut back to its last whole row, and the test reports
/// it at once and fails its action.
#[derive(Debug)]
pub struct RequestLog {
    file: File,
    buf: Vec<u8>,
    /// Bytes of whole rows in the file.
    written: u64,
    last_flush: Instant,
    error: Option<String>,
    /// The test's start, on the monotonic clock and as Unix seconds.
    test_started: Instant,
    test_started_unix: f64,
}

/// How much a log buffers before it writes.
const FLUSH_BYTES: usize = 64 * 1024;
/// The longest rows stay in memory only.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

impl RequestLog {
    /// Creates (or truncates) the file at `path`, creating parent folders as
    /// needed, and writes the header [`REQUEST_HEADER`]. Rows are timed from
    /// `test_started` (`t_s`), which was `test_started_unix` on the wall clock
    /// (`time_utc`).
    pub fn create(
        path: &Path,
        test_started: Instant,
        test_started_unix: f64,
    ) -> anyhow::Result<RequestLog> {
        (|| -> anyhow::Result<RequestLog> {
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(dir)
                    .with_context(|| format!("creating folder {}", dir.display()))?;
            }
            let mut log = RequestLog {
                file: File::create(path)?,
                buf: Vec::with_capacity(FLUSH_BYTES + 1024),
                written: 0,
                last_flush: Instant::now(),
                error: None,
                test_started,
                test_started_unix,
            };
            log.buf.extend_from_slice(REQUEST_HEADER.as_bytes());
            log.buf.push(b'\n');
            log.flush();
            match log.error.take() {
                Some(e) => Err(anyhow::anyhow!(e)),
                None => Ok(log),
            }
        })()
        .with_context(|| format!("creating request log {}", path.display()))
    }

    /// Appends one row (dropped once a write has failed).
    pub fn write_row(&mut self, row: &RequestRow<'_>) {
        if self.error.is_some() {
            return;
        }
        let w = &mut self.buf;
        // Writing into a Vec cannot fail.
        let _ = (|| -> io::Result<()> {
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
            let t = row.started.saturating_duration_since(self.test_started);
            let t_ms = t.as_millis() as i64;
            write!(w, ",{}.{:03},", t_ms / 1000, t_ms % 1000)?;
            write_utc_millis(w, self.test_started_unix, t_ms)?;
            w.write_all(b"\n")
        })();
        if self.buf.len() >= FLUSH_BYTES {
            self.flush();
        }
    }

    /// Writes the buffered rows when a second has passed since the last write.
    pub fn flush_if_due(&mut self, now: Instant) {
        if now.saturating_duration_since(self.last_flush) >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// Writes the buffered rows (whole rows only). On an error the file is
    /// cut back to its last whole row and the error kept.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.error.is_some() || self.buf.is_empty() {
            return;
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => self.written += self.buf.len() as u64,
            Err(e) => {
                let _ = self.file.set_len(self.written);
                self.error = Some(e.to_string());
            }
        }
        self.buf.clear();
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Writes what is buffered; the first write error of the whole log, if any.
    pub fn finish(mut self) -> Result<(), String> {
        self.flush();
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
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
                started: Instant::now(),
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
                started: Instant::now(),
            },
        ];
        let mut log = RequestLog::create(&path, Instant::now(), 0.0).unwrap();
        for r in &rows {
            log.write_row(r);
        }
        log.finish().unwrap();

        let recs = parse_csv(&fs::read_to_string(&path).unwrap());
        assert_eq!(recs[0].join(","), REQUEST_HEADER);
        assert_eq!(recs.len(), 3);
        for (rec, row) in recs[1..].iter().zip(&rows) {
            assert_eq!(rec.len(), 10);
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

    /// A successful GET row that started at `started`.
    fn ok_row(started: Instant) -> RequestRow<'static> {
        RequestRow {
            outcome: RowOutcome::Success,
            method: "GET",
            url: "http://h/",
            name: "n",
            status_code: Some(200),
            response_time_ms: 1.0,
            response_length: 2,
            error: None,
            started,
        }
    }

    #[test]
    fn rows_say_when_their_request_started() {
        let path = temp_path("time");
        let t0 = Instant::now();
        // 2023-11-14T22:13:20.500Z
        let mut log = RequestLog::create(&path, t0, 1_700_000_000.5).unwrap();
        log.write_row(&ok_row(t0 + Duration::from_micros(1_234_900)));
        log.write_row(&ok_row(t0 + Duration::from_secs(86_400 - 80_000 + 1)));
        // A start before the test's (not possible, but never negative).
        log.write_row(&ok_row(
            t0.checked_sub(Duration::from_secs(1)).unwrap_or(t0),
        ));
        log.finish().unwrap();
        let recs = parse_csv(&fs::read_to_string(&path).unwrap());
        assert_eq!(&recs[0][8..], ["t_s", "time_utc"]);
        assert_eq!(&recs[1][8..], ["1.234", "2023-11-14T22:13:21.734Z"]);
        assert_eq!(&recs[2][8..], ["6401.000", "2023-11-15T00:00:01.500Z"]);
        assert_eq!(&recs[3][8..], ["0.000", "2023-11-14T22:13:20.500Z"]);
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn request_log_shared_behind_a_mutex() {
        let path = temp_path("mutex");
        let log = Arc::new(Mutex::new(
            RequestLog::create(&path, Instant::now(), 0.0).unwrap(),
        ));
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
                            started: Instant::now(),
                        };
                        log.lock().unwrap().write_row(&row);
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
        assert!(recs.iter().all(|r| r.len() == 10));
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn rows_reach_the_file_within_a_second_and_whole() {
        let path = temp_path("flush");
        let mut log = RequestLog::create(&path, Instant::now(), 0.0).unwrap();
        let row = ok_row(Instant::now());
        log.write_row(&row);
        // Buffered until a second has passed since the last write.
        log.flush_if_due(Instant::now());
        assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 1);
        log.flush_if_due(Instant::now() + FLUSH_EVERY);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'), "whole rows only");
        drop(log);
        fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    }

    #[test]
    fn a_write_error_is_kept_and_later_rows_are_dropped() {
        // /dev/full takes the open and fails every write.
        let err = RequestLog::create(Path::new("/dev/full"), Instant::now(), 0.0).unwrap_err();
        assert!(format!("{err:#}").contains("No space left"), "{err:#}");
    }

    #[test]
    fn request_log_error_names_the_path() {
        let err = RequestLog::create(
            Path::new("/proc/definitely/not/here.csv"),
            Instant::now(),
            0.0,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("/proc/definitely/not/here.csv"));
    }
}
