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
    // 2: per-request rows of tests that streamed them (`record_csv`), with
    // LoadDensity's table name and columns (and the test they belong to).
    "CREATE TABLE load_density_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        test_index INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        method TEXT,
        test_url TEXT,
        name TEXT,
        status_code TEXT,
        response_time_ms REAL,
        response_length INTEGER,
        error TEXT
     );
     CREATE INDEX idx_records_run_id ON load_density_records(run_id);
     CREATE INDEX idx_records_name ON load_density_records(name);",
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
    if v == 0 && has_table(conn, "load_density_records")? {
        return Err(
            "it holds LoadDensity's own tables (load_density_runs, load_density_records): give loaddensity a file of its own"
                .into(),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(c: &Connection) -> i64 {
        user_version(c).unwrap()
    }

    #[test]
    fn a_new_file_gets_every_version_and_an_older_one_the_rest() {
        let c = Connection::open_in_memory().unwrap();
        migrate(&c).unwrap();
        assert_eq!(version(&c), VERSION);
        assert!(has_table(&c, "load_density_records").unwrap());
        // A file written at version 1 is brought to the latest.
        let old = Connection::open_in_memory().unwrap();
        old.execute_batch(MIGRATIONS[0]).unwrap();
        old.execute_batch("PRAGMA user_version = 1").unwrap();
        assert!(!has_table(&old, "load_density_records").unwrap());
        migrate(&old).unwrap();
        assert_eq!(version(&old), VERSION);
        assert!(has_table(&old, "load_density_records").unwrap());
        // Twice is once.
        migrate(&old).unwrap();
        check_readable(&old).unwrap();
    }

    #[test]
    fn foreign_and_newer_files_are_refused() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE runs (x)").unwrap();
        assert!(migrate(&c).unwrap_err().contains("not a run store"));
        let ld = Connection::open_in_memory().unwrap();
        ld.execute_batch("CREATE TABLE load_density_records (x)")
            .unwrap();
        assert!(migrate(&ld)
            .unwrap_err()
            .contains("LoadDensity's own tables"));
        let newer = Connection::open_in_memory().unwrap();
        newer.execute_batch("PRAGMA user_version = 99").unwrap();
        assert!(migrate(&newer).unwrap_err().contains("newer"));
        let empty = Connection::open_in_memory().unwrap();
        assert!(check_readable(&empty)
            .unwrap_err()
            .contains("not a loaddensity run store"));
    }
}
