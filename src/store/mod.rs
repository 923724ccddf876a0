//! The run store: what a run measured, kept in a SQLite file so later runs
//! can be listed, read back and compared. The schema and its migrations are
//! in [`schema`]; [`persist`] writes a run, [`load_run`] reads one back
//! (percentiles recomputed exactly from the stored HDR histograms), [`diff`]
//! compares two.

pub mod cli;
pub mod diff;
pub mod schema;

use crate::stats::recorder::Tally;
use crate::stats::records::Records;
use crate::stats::NameStats;
use anyhow::{anyhow, bail, Context as _};
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// How long a writer waits for another one to finish (two CI jobs on one file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// What a `runs` row says besides the measurements.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Unix seconds when the run started.
    pub started_unix: f64,
    pub label: Option<String>,
    /// A JSON object.
    pub metadata: serde_json::Value,
    pub plans: Vec<String>,
    pub seed: u64,
    pub exit_code: i32,
    pub exit_reason: String,
    /// The `record_csv` file of each test that streamed one, by the test's
    /// number: its rows go into `load_density_records`.
    pub request_logs: BTreeMap<usize, std::path::PathBuf>,
}

/// What [`persist`] wrote.
#[derive(Debug, Clone, Default)]
pub struct Persisted {
    pub id: i64,
    /// Rows of `load_density_records`.
    pub request_rows: u64,
    /// `record_csv` files that could not be read (their rows are missing).
    pub unreadable: Vec<String>,
}

/// One row of `runs`, as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub started_at: String,
    pub label: Option<String>,
    pub metadata: serde_json::Value,
    pub plans: Vec<String>,
    /// As text: a seed may exceed SQLite's signed 64-bit integers.
    pub seed: String,
    pub exit_code: i32,
    pub exit_reason: String,
    pub tests: i64,
    pub requests: i64,
    pub failures: i64,
    pub duration_s: f64,
}

/// A stored run read back: statistics recomputed from its histograms.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRun {
    pub run: RunRow,
    pub total: NameStats,
    pub by_name: BTreeMap<String, NameStats>,
    pub tests: Vec<StoredTest>,
}

/// One test of a stored run.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTest {
    pub index: i64,
    pub duration_s: f64,
    pub total: NameStats,
    pub by_name: BTreeMap<String, NameStats>,
}

/// UTC ISO-8601 with seconds: `2026-11-30T02:41:07Z`.
pub fn iso_utc(unix_s: f64) -> String {
    format!("{}Z", crate::reports::iso8601_utc(unix_s))
}

/// Opens (creating it and its folder) a store to write to.
pub fn open_for_write(path: &Path) -> anyhow::Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating folder {}", parent.display()))?;
    }
    let conn = Connection::open(path)
        .with_context(|| format!("run store {}: cannot open", path.display()))?;
    configure(&conn, path)?;
    Ok(conn)
}

/// Opens an existing store to read.
pub fn open_existing(path: &Path) -> anyhow::Result<Connection> {
    if !path.is_file() {
        bail!("run store {}: no such file", path.display());
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("run store {}: cannot open", path.display()))?;
    configure(&conn, path)?;
    schema::check_readable(&conn).map_err(|e| anyhow!("run store {}: {e}", path.display()))?;
    Ok(conn)
}

/// WAL (readers never block the writer, two writers queue) and a busy
/// timeout; the first statement that reads the file finds out whether it is
/// a database at all.
fn configure(conn: &Connection, path: &Path) -> anyhow::Result<()> {
    let named = |e: rusqlite::Error| {
        anyhow!(
            "run store {}: not a usable SQLite database ({e})",
            path.display()
        )
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(named)?;
    // The busy handler does not cover every lock: switching a new file to WAL
    // while another process does the same returns "locked" at once.
    retry_busy(|| {
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))?;
        }
        conn.execute_batch("PRAGMA foreign_keys=ON")
    })
    .map_err(named)?;
    Ok(())
}

/// Runs `f` again while SQLite says another connection holds the lock, for
/// at most [`BUSY_TIMEOUT`].
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

fn serialize(h: &Histogram<u64>) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut out)
        .map_err(|e| anyhow!("serializing a histogram: {e:?}"))?;
    Ok(out)
}

fn deserialize(bytes: &[u8]) -> anyhow::Result<Histogram<u64>> {
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| anyhow!("a stored histogram does not decode: {e:?}"))
}

/// Appends the run so far (`records`) as a new run.
pub fn persist(path: &Path, info: &RunInfo, records: &Records) -> anyhow::Result<Persisted> {
    let conn = open_for_write(path)?;
    let named = |e: rusqlite::Error| anyhow!("run store {}: {e}", path.display());
    // An immediate transaction takes the write lock first, so two writers
    // queue instead of one failing to upgrade a read lock.
    let tx = retry_busy(|| Transaction::new_unchecked(&conn, TransactionBehavior::Immediate))
        .map_err(named)?;
    schema::migrate(&tx).map_err(|e| anyhow!("run store {}: {e}", path.display()))?;
    let (mut requests, mut failures, mut duration) = (0u64, 0u64, 0.0);
    for t in &records.tests {
        duration += t.report.duration_s;
        for tally in t.tallies.values() {
            requests += tally.requests;
            failures += tally.failures;
        }
    }
    tx.execute(
        "INSERT INTO runs (started_at, label, metadata_json, plans_json, seed, exit_code,
                           exit_reason, tests, requests, failures, duration_s, tool_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            iso_utc(info.started_unix),
            info.label,
            info.metadata.to_string(),
            serde_json::to_string(&info.plans)?,
            info.seed.to_string(),
            info.exit_code,
            info.exit_reason,
            records.tests.len() as i64,
            requests as i64,
            failures as i64,
            duration,
            env!("CARGO_PKG_VERSION"),
        ],
    )
    .map_err(named)?;
    let id = tx.last_insert_rowid();
    let mut out = Persisted {
        id,
        ..Persisted::default()
    };
    for (i, t) in records.tests.iter().enumerate() {
        let index = i as i64 + 1;
        tx.execute(
            "INSERT INTO run_tests (run_id, test_index, action, duration_s, users)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                id,
                index,
                t.report.action,
                t.report.duration_s,
                t.report.users as i64
            ],
        )
        .map_err(named)?;
        for (name, tally) in &t.tallies {
            let opt = |h: &Option<Histogram<u64>>| h.as_ref().map(serialize).transpose();
            tx.execute(
                "INSERT INTO run_names (run_id, test_index, name, requests, cancelled, failures,
                                        bytes, decoded_bytes, latency_hist, fail_latency_hist,
                                        raw_latency_hist)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    index,
                    name,
                    tally.requests as i64,
                    tally.cancelled as i64,
                    tally.failures as i64,
                    tally.bytes as i64,
                    tally.decoded_bytes as i64,
                    serialize(&tally.latency_us)?,
                    opt(&tally.fail_latency_us)?,
                    opt(&tally.raw_latency_us)?,
                ],
            )
            .map_err(named)?;
        }
        if let Some(log) = info.request_logs.get(&t.report.index) {
            match insert_request_rows(&tx, id, index, log) {
                Ok(n) => out.request_rows += n,
                Err(RowsError::Read(e)) => out.unreadable.push(format!("{}: {e}", log.display())),
                Err(RowsError::Db(e)) => return Err(named(e)),
            }
        }
    }
    tx.commit().map_err(named)?;
    Ok(out)
}

enum RowsError {
    Read(std::io::Error),
    Db(rusqlite::Error),
}

/// Copies a `record_csv` file's rows into `load_density_records`, streaming.
fn insert_request_rows(
    tx: &Transaction<'_>,
    run_id: i64,
    test_index: i64,
    log: &Path,
) -> Result<u64, RowsError> {
    use std::io::BufRead;
    let file = std::fs::File::open(log).map_err(RowsError::Read)?;
    let mut r = std::io::BufReader::new(file);
    let mut st = tx
        .prepare(
            "INSERT INTO load_density_records (run_id, test_index, outcome, method, test_url, name,
                 status_code, response_time_ms, response_length, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(RowsError::Db)?;
    let mut buf = String::new();
    let mut n = 0;
    let mut header = true;
    loop {
        buf.clear();
        // A record ends at a newline outside quotes.
        loop {
            if r.read_line(&mut buf).map_err(RowsError::Read)? == 0 {
                break;
            }
            if buf.bytes().filter(|&b| b == b'"').count() % 2 == 0 {
                break;
            }
        }
        if buf.is_empty() {
            return Ok(n);
        }
        let f = split_record(buf.trim_end_matches(['\n', '\r']));
        if std::mem::take(&mut header) || f.len() < 8 {
            continue;
        }
        let empty_none = |s: &str| (!s.is_empty()).then(|| s.to_string());
        st.execute(params![
            run_id,
            test_index,
            f[0],
            empty_none(&f[1]),
            empty_none(&f[2]),
            empty_none(&f[3]),
            empty_none(&f[4]),
            f[5].parse::<f64>().ok(),
            f[6].parse::<i64>().ok(),
            empty_none(&f[7]),
        ])
        .map_err(RowsError::Db)?;
        n += 1;
    }
}

/// The fields of one RFC 4180 record.
fn split_record(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let metadata: String = r.get(3)?;
    let plans: String = r.get(4)?;
    Ok(RunRow {
        id: r.get(0)?,
        started_at: r.get(1)?,
        label: r.get(2)?,
        metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::String(metadata)),
        plans: serde_json::from_str(&plans).unwrap_or_default(),
        seed: r.get(5)?,
        exit_code: r.get(6)?,
        exit_reason: r.get(7)?,
        tests: r.get(8)?,
        requests: r.get(9)?,
        failures: r.get(10)?,
        duration_s: r.get(11)?,
    })
}

const RUN_COLUMNS: &str = "id, started_at, label, metadata_json, plans_json, seed, exit_code, \
                           exit_reason, tests, requests, failures, duration_s";

/// The latest `limit` runs, newest first.
pub fn list_runs(conn: &Connection, limit: u64) -> anyhow::Result<Vec<RunRow>> {
    let mut st = conn.prepare(&format!(
        "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = st.query_map([limit.min(i64::MAX as u64) as i64], run_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Which run: an id, the latest, or the latest with a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRef {
    Id(i64),
    /// `"last"` / `"last:LABEL"`.
    Last(Option<String>),
}

impl RunRef {
    /// `12`, `"12"`, `"last"` or `"last:LABEL"`.
    pub fn parse(s: &str) -> Result<RunRef, String> {
        let s = s.trim();
        if s == "last" {
            return Ok(RunRef::Last(None));
        }
        if let Some(label) = s.strip_prefix("last:") {
            if label.is_empty() {
                return Err("`last:` needs a label after the colon".into());
            }
            return Ok(RunRef::Last(Some(label.to_string())));
        }
        match s.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(RunRef::Id(n)),
            _ => Err(format!(
                "{s:?} is not a run id: give a positive number, \"last\" or \"last:LABEL\""
            )),
        }
    }

    /// The run id this names in `conn`, if there is one; `before`: only
    /// runs older than it (for `last`).
    pub fn find(&self, conn: &Connection, before: Option<i64>) -> anyhow::Result<Option<i64>> {
        Ok(match self {
            RunRef::Id(id) => conn
                .query_row("SELECT id FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()?,
            RunRef::Last(label) => conn
                .query_row(
                    "SELECT id FROM runs WHERE id < ?1 AND (?2 IS NULL OR label = ?2)
                     ORDER BY id DESC LIMIT 1",
                    params![before.unwrap_or(i64::MAX), label],
                    |r| r.get(0),
                )
                .optional()?,
        })
    }

    /// The run id this names in `conn`; none is an error.
    pub fn resolve(&self, conn: &Connection, before: Option<i64>) -> anyhow::Result<i64> {
        let found = self.find(conn, before)?;
        found.ok_or_else(|| match (self, before) {
            (RunRef::Id(id), _) => anyhow!("there is no run {id}"),
            (RunRef::Last(None), Some(b)) => anyhow!("there is no run before run {b}"),
            (RunRef::Last(None), None) => anyhow!("there are no runs"),
            (RunRef::Last(Some(l)), Some(b)) => {
                anyhow!("there is no run labelled {l:?} before run {b}")
            }
            (RunRef::Last(Some(l)), None) => anyhow!("there is no run labelled {l:?}"),
        })
    }
}

impl std::fmt::Display for RunRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunRef::Id(id) => write!(f, "{id}"),
            RunRef::Last(None) => f.write_str("last"),
            RunRef::Last(Some(l)) => write!(f, "last:{l}"),
        }
    }
}

/// Reads run `id` back, recomputing every statistic from the histograms
/// exactly as the summary report computes it (tallies added, rates over the
/// summed test durations).
pub fn load_run(conn: &Connection, id: i64) -> anyhow::Result<StoredRun> {
    let run = conn
        .query_row(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            [id],
            run_row,
        )
        .optional()?
        .ok_or_else(|| anyhow!("there is no run {id}"))?;
    let mut tests: BTreeMap<i64, (f64, BTreeMap<String, Tally>)> = BTreeMap::new();
    let mut st = conn.prepare(
        "SELECT test_index, duration_s FROM run_tests WHERE run_id = ?1 ORDER BY test_index",
    )?;
    for row in st.query_map([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))? {
        let (index, duration) = row?;
        tests.insert(index, (duration, BTreeMap::new()));
    }
    let mut st = conn.prepare(
        "SELECT test_index, name, requests, cancelled, failures, bytes, decoded_bytes,
                latency_hist, fail_latency_hist, raw_latency_hist
         FROM run_names WHERE run_id = ?1",
    )?;
    let mut rows = st.query([id])?;
    while let Some(r) = rows.next()? {
        let index: i64 = r.get(0)?;
        let name: String = r.get(1)?;
        let mut t = Tally::<u64>::default();
        t.requests = r.get::<_, i64>(2)? as u64;
        t.cancelled = r.get::<_, i64>(3)? as u64;
        t.failures = r.get::<_, i64>(4)? as u64;
        t.bytes = r.get::<_, i64>(5)? as u64;
        t.decoded_bytes = r.get::<_, i64>(6)? as u64;
        t.latency_us = deserialize(&r.get::<_, Vec<u8>>(7)?)?;
        t.fail_latency_us = r
            .get::<_, Option<Vec<u8>>>(8)?
            .map(|b| deserialize(&b))
            .transpose()?;
        t.raw_latency_us = r
            .get::<_, Option<Vec<u8>>>(9)?
            .map(|b| deserialize(&b))
            .transpose()?;
        tests
            .entry(index)
            .or_insert_with(|| (0.0, BTreeMap::new()))
            .1
            .insert(name, t);
    }
    let mut merged: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = Tally::<u64>::default();
    let mut duration = 0.0;
    let mut out_tests = Vec::new();
    for (index, (d, tallies)) in &tests {
        duration += d;
        let mut test_total = Tally::<u64>::default();
        for (name, t) in tallies {
            merged.entry(name.clone()).or_default().add(t);
            total.add(t);
            test_total.add(t);
        }
        out_tests.push(StoredTest {
            index: *index,
            duration_s: *d,
            total: test_total.stats(*d),
            by_name: tallies
                .iter()
                .map(|(n, t)| (n.clone(), t.stats(*d)))
                .collect(),
        });
    }
    Ok(StoredRun {
        run,
        total: total.stats(duration),
        by_name: merged
            .into_iter()
            .map(|(n, t)| (n, t.stats(duration)))
            .collect(),
        tests: out_tests,
    })
}

/// A stored run as the JSON `LD_fetch_run_records` and `runs show --json` give.
pub fn run_json(r: &StoredRun) -> String {
    let mut text = serde_json::to_string_pretty(r).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// The runs as a table, newest first.
pub fn render_runs(rows: &[RunRow]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5}  {:<20}  {:<16}  {:>5}  {:>9}  {:>7}  {:<22}",
        "id", "started_at", "label", "tests", "requests", "fail%", "exit"
    );
    for r in rows {
        let rate = if r.requests > 0 {
            100.0 * r.failures as f64 / r.requests as f64
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<20}  {:<16}  {:>5}  {:>9}  {:>6.2}%  {} ({})",
            r.id,
            r.started_at,
            r.label.as_deref().unwrap_or("-"),
            r.tests,
            r.requests,
            rate,
            r.exit_code,
            r.exit_reason
        );
    }
    if rows.is_empty() {
        out.push_str("(no runs)\n");
    }
    out
}

/// A stored run as text: its row, then the per-name table.
pub fn render_run(r: &StoredRun, width: usize) -> String {
    let row = &r.run;
    let mut out = format!(
        "run {} · {} · label {} · seed {} · exit {} ({})\nplans: {}\nmetadata: {}\n\n",
        row.id,
        row.started_at,
        row.label.as_deref().unwrap_or("-"),
        row.seed,
        row.exit_code,
        row.exit_reason,
        if row.plans.is_empty() {
            "-".to_string()
        } else {
            row.plans.join(", ")
        },
        row.metadata
    );
    out.push_str(&crate::reports::render_table(&r.by_name, &r.total, width));
    out
}

/// The most rows a database source may hold in memory.
pub const MAX_SOURCE_ROWS: usize = 1_000_000;

/// Runs a read-only `query` on the SQLite file at `path` and returns its
/// column names and every row as text (NULL as ``, numbers as written,
/// BLOBs as UTF-8 when they are). For `LD_register_db_source`.
pub fn query_rows(path: &Path, query: &str) -> Result<crate::data_source::CsvData, String> {
    let name = path.display();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("database {name}: cannot open ({e})"))?;
    let _ = conn.busy_timeout(BUSY_TIMEOUT);
    let mut st = conn
        .prepare(query)
        .map_err(|e| format!("database {name}: {e}"))?;
    if !st.readonly() {
        return Err(format!(
            "database {name}: the query must only read (a SELECT)"
        ));
    }
    let columns: Vec<String> = st.column_names().map(str::to_string).collect();
    if columns.is_empty() {
        return Err(format!("database {name}: the query returns no columns"));
    }
    let mut rows = Vec::new();
    let mut q = st.query([]).map_err(|e| format!("database {name}: {e}"))?;
    while let Some(r) = q.next().map_err(|e| format!("database {name}: {e}"))? {
        if rows.len() == MAX_SOURCE_ROWS {
            return Err(format!(
                "database {name}: the query returns more than {MAX_SOURCE_ROWS} rows"
            ));
        }
        let mut row = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            use rusqlite::types::ValueRef;
            let v = r.get_ref(i).map_err(|e| format!("database {name}: {e}"))?;
            row.push(match v {
                ValueRef::Null => String::new(),
                ValueRef::Integer(n) => n.to_string(),
                ValueRef::Real(x) => x.to_string(),
                ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
            });
        }
        rows.push(row);
    }
    Ok(crate::data_source::CsvData { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_rows_split_as_rfc_4180() {
        assert_eq!(
            split_record(
                r#"failure,GET,http://h/a?x=1,/a,,12.5,0,"refused, ""twice""
again",0.1,t"#
            ),
            [
                "failure",
                "GET",
                "http://h/a?x=1",
                "/a",
                "",
                "12.5",
                "0",
                "refused, \"twice\"\nagain",
                "0.1",
                "t"
            ]
        );
        assert_eq!(split_record(""), [""]);
    }

    #[test]
    fn run_refs_parse() {
        assert_eq!(RunRef::parse("12"), Ok(RunRef::Id(12)));
        assert_eq!(RunRef::parse(" last "), Ok(RunRef::Last(None)));
        assert_eq!(
            RunRef::parse("last:main"),
            Ok(RunRef::Last(Some("main".into())))
        );
        assert!(RunRef::parse("0").is_err());
        assert!(RunRef::parse("-3").is_err());
        assert!(RunRef::parse("last:").is_err());
        assert_eq!(RunRef::Last(Some("x".into())).to_string(), "last:x");
    }

    #[test]
    fn started_at_is_utc_iso_8601() {
        assert_eq!(iso_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(1_764_470_467.9), "2025-11-30T02:41:07Z");
        assert_eq!(iso_utc(f64::NAN), "1970-01-01T00:00:00Z");
    }
}
