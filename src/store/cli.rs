//! `loaddensity runs list|show|diff DB ...`: the run store from the command
//! line. A store that cannot be read exits 1; bad arguments exit 2; a
//! regression found by `diff` exits 4.

use super::{diff, RunRef};
use crate::exit::Outcome;
use crate::ui::{stderr_line, stdout_text};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum RunsCmd {
    /// List the latest runs of a run store, newest first
    List {
        /// The SQLite file LD_persist_records writes
        db: PathBuf,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print the runs as a JSON array (the same fields, in full)
        #[arg(long)]
        json: bool,
    },
    /// Show one stored run: its row and per-name statistics, recomputed from
    /// its histograms
    Show {
        db: PathBuf,
        /// A run id, `last` or `last:LABEL`
        run_id: String,
        /// Print the run as JSON (what LD_fetch_run_records writes)
        #[arg(long)]
        json: bool,
    },
    /// Compare two stored runs per name and overall; exits 4 on a regression
    Diff {
        db: PathBuf,
        /// A run id, `last` or `last:LABEL` (the latest run, with that label,
        /// before CURRENT)
        baseline: String,
        /// A run id, `last` or `last:LABEL`
        current: String,
        /// How much worse a metric may get, as a fraction of the baseline
        #[arg(long, default_value_t = 0.1, value_parser = parse_tolerance)]
        tolerance: f64,
        /// Print the comparison as JSON
        #[arg(long)]
        json: bool,
    },
}

/// A fraction, 0 or more.
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t >= 0.0 && t.is_finite() => Ok(t),
        _ => Err(format!(
            "expected a fraction of 0 or more (0.1 = 10%), found {s:?}"
        )),
    }
}

fn run_ref(s: &str) -> Result<RunRef, Outcome> {
    RunRef::parse(s).map_err(|e| {
        stderr_line(&format!("error: {e}"));
        Outcome::Invalid
    })
}

pub fn main(cmd: RunsCmd) -> Outcome {
    match run(cmd) {
        Ok(o) => o,
        Err(Failed::Usage) => Outcome::Invalid,
        Err(Failed::Store(e)) => {
            stderr_line(&format!("error: {e:#}"));
            Outcome::ActionFailed
        }
    }
}

enum Failed {
    Usage,
    Store(anyhow::Error),
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Failed {
        Failed::Store(e)
    }
}

fn named(db: &std::path::Path) -> impl Fn(anyhow::Error) -> anyhow::Error + '_ {
    move |e| e.context(format!("run store {}", db.display()))
}

fn run(cmd: RunsCmd) -> Result<Outcome, Failed> {
    match cmd {
        RunsCmd::List { db, limit, json } => {
            let conn = super::open_existing(&db)?;
            let rows = super::list_runs(&conn, limit).map_err(named(&db))?;
            stdout_text(&if json {
                json_text(&rows)
            } else {
                super::render_runs(&rows)
            });
            Ok(Outcome::Pass)
        }
        RunsCmd::Show { db, run_id, json } => {
            let r = run_ref(&run_id).map_err(|_| Failed::Usage)?;
            let conn = super::open_existing(&db)?;
            let id = r.resolve(&conn, None).map_err(named(&db))?;
            let run = super::load_run(&conn, id).map_err(named(&db))?;
            stdout_text(&if json {
                super::run_json(&run)
            } else {
                super::render_run(&run, crate::ui::stdout_width())
            });
            Ok(Outcome::Pass)
        }
        RunsCmd::Diff {
            db,
            baseline,
            current,
            tolerance,
            json,
        } => {
            let b = run_ref(&baseline).map_err(|_| Failed::Usage)?;
            let c = run_ref(&current).map_err(|_| Failed::Usage)?;
            let conn = super::open_existing(&db)?;
            let current = c.resolve(&conn, None).map_err(named(&db))?;
            let baseline = b.resolve(&conn, Some(current)).map_err(named(&db))?;
            let d = diff::diff(
                &super::load_run(&conn, baseline).map_err(named(&db))?,
                &super::load_run(&conn, current).map_err(named(&db))?,
                tolerance,
            );
            if json {
                stdout_text(&json_text(&d));
            } else {
                stdout_text(&diff::render(&d));
            }
            Ok(if d.regressions().next().is_some() {
                Outcome::GateFailed
            } else {
                Outcome::Pass
            })
        }
    }
}

/// Pretty JSON with a final newline.
fn json_text(v: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(v).unwrap_or_default();
    text.push('\n');
    text
}
