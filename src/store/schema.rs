//! The run store's schema, versioned with SQLite's `user_version`: each
//! entry of [`MIGRATIONS`] takes the file from one version to the next, run
//! in the writer's transaction, so two writers never migrate twice.

use rusqlite::Connection;

/// Migration `i` takes `user_version` `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: runs, their tests, and per test and name the counters and the HDR
    // histograms (V2 serialization, microseconds).
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        label TEXT,
        metadata_json TEXT NOT NULL DEFAULT '{}',
        plans_json TEXT NOT NULL DEFAULT '[]',
        seed TEXT NOT NULL,
        exit_code INTEGER NOT NULL,
        exit_reason TEXT NOT NULL,
        tests INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        duration_s REAL NOT NULL,
        tool_version TEXT NOT NULL
     );
     CREATE INDEX runs_label ON runs(label, id);
     CREATE TABLE run_tests (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        test_index INTEGER NOT NULL,
        action TEXT NOT NULL,
        duration_s REAL NOT NULL,
        users INTEGER NOT NULL,
        PRIMARY KEY (run_id, test_index)
     );
     CREATE TABLE run_names (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        test_index INTEGER NOT NULL,
        name TEXT NOT NULL,
        requests INTEGER NOT NULL,
        cancelled INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        decoded_bytes INTEGER NOT NULL,
        latency_hist BLOB NOT NULL,
        fail_latency_hist BLOB,
        raw_latency_hist BLOB,
        PRIMARY KEY (run_id, test_index, name)
     );
     CREATE INDEX run_names_name ON run_names(name);",
];

/// The schema version this build writes and reads.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

fn user_version(conn: &Connection) -> Result<i64, String> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| format!("not a usable SQLite database ({e})"))
}

fn has_table(conn: &Connection, name: &str) -> Result<bool, String> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| format!("not a usable SQLite database ({e})"))
}

/// Brings the file to [`VERSION`]; a file of a newer version, or a SQLite
/// file with tables of its own, is refused.
pub fn migrate(conn: &Connection) -> Result<(), String> {
    let mut v = user_version(conn)?;
    if v > VERSION {
        return Err(format!(
            "schema version {v} is newer than this loaddensity's ({VERSION}): upgrade loaddensity"
        ));
    }
    if v == 0 && has_table(conn, "runs")? {
        return Err("it has a `runs` table loaddensity did not create: not a run store".into());
    }
    while v < VERSION {
        conn.execute_batch(MIGRATIONS[v as usize])
            .map_err(|e| format!("migrating to schema version {}: {e}", v + 1))?;
        v += 1;
        conn.execute_batch(&format!("PRAGMA user_version = {v}"))
            .map_err(|e| format!("migrating to schema version {v}: {e}"))?;
    }
    Ok(())
}

/// A file to read from must be a run store of a version this build reads.
pub fn check_readable(conn: &Connection) -> Result<(), String> {
    let v = user_version(conn)?;
    if v == 0 || !has_table(conn, "runs")? {
        return Err("not a loaddensity run store (no runs were persisted to it)".into());
    }
    if v > VERSION {
        return Err(format!(
            "schema version {v} is newer than this loaddensity's ({VERSION}): upgrade loaddensity"
        ));
    }
    Ok(())
}
