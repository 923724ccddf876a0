//! `loaddensity merge RESULT... [--summary P] [--junit P] [--html P]`:
//! reads the files, merges them, writes the reports, says what decided the
//! exit code.

use super::merge;
use crate::exit::Outcome;
use crate::reports;
use crate::result_file::ResultFile;
use crate::ui::stderr_line;
use std::path::{Path, PathBuf};

/// A report path as given, with `ext` appended when it has none.
fn with_ext(p: &str, ext: &str) -> PathBuf {
    let path = Path::new(p);
    if path.extension().is_some_and(|e| e == ext) {
        path.to_path_buf()
    } else {
        reports::report_path(p, ext)
    }
}

/// Where `--persist` keeps the merged run, and under what label.
pub struct Persist {
    pub database: PathBuf,
    pub label: Option<String>,
}

pub fn run(
    files: &[PathBuf],
    summary: Option<String>,
    junit: Option<String>,
    html: Option<String>,
    persist: Option<Persist>,
) -> Outcome {
    let mut read = Vec::new();
    let mut bad = false;
    for f in files {
        match ResultFile::read(f) {
            Ok(r) => read.push(r),
            Err(e) => {
                stderr_line(&format!("error: {e}"));
                bad = true;
            }
        }
    }
    if bad {
        stderr_line("nothing was merged.");
        return Outcome::Invalid;
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let m = match merge(read, &names) {
        Ok(m) => m,
        Err(e) => {
            stderr_line(&format!("error: {e}"));
            stderr_line("nothing was merged.");
            return Outcome::Invalid;
        }
    };
    for w in &m.warnings {
        stderr_line(&format!("warning: {w}"));
    }
    let s = &m.summary;
    for r in &s.sla {
        stderr_line(&format!(
            "sla {}: {} — {}",
            if r.passed { "PASS" } else { "FAIL" },
            r.rule,
            r.detail
        ));
    }
    let mut outcome = m.outcome;
    let mut why = m.why.clone();
    let mut outputs: Vec<(PathBuf, String)> = Vec::new();
    if let Some(p) = &summary {
        outputs.push((with_ext(p, "json"), reports::summary_json(s)));
    }
    if let Some(p) = &junit {
        outputs.push((with_ext(p, "xml"), reports::junit_of(s)));
    }
    if let Some(p) = &html {
        outputs.push((with_ext(p, "html"), reports::html_report(s)));
    }
    for (path, text) in outputs {
        match reports::write_report(&path, text.as_bytes()) {
            Ok(()) => stderr_line(&format!("wrote {}", path.display())),
            Err(e) => {
                stderr_line(&format!("error: {e:#}"));
                if Outcome::ActionFailed > outcome {
                    outcome = Outcome::ActionFailed;
                    why = Some(format!("{e:#}"));
                }
            }
        }
    }
    if let Some(p) = &persist {
        // The merged run, as one run of the store (its histograms exact).
        let info = crate::store::RunInfo {
            started_unix: s.started_at,
            label: p.label.clone(),
            metadata: serde_json::json!({"merged_segments": names}),
            plans: s.plans.clone(),
            seed: s.seed,
            exit_code: outcome.code(),
            exit_reason: outcome.reason().to_string(),
            request_logs: Default::default(),
        };
        match crate::store::persist(&p.database, &info, &m.records) {
            Ok(done) => stderr_line(&format!(
                "persisted the merged run as run {} to {}",
                done.id,
                p.database.display()
            )),
            Err(e) => {
                stderr_line(&format!("error: {e:#}"));
                if Outcome::ActionFailed > outcome {
                    outcome = Outcome::ActionFailed;
                    why = Some(format!("{e:#}"));
                }
            }
        }
    }
    let t = &s.total;
    stderr_line(&format!(
        "merged: {} requests, {} failed ({:.2}%), p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms",
        t.requests,
        t.failures,
        100.0 * t.failure_rate,
        t.latency_ms.p50,
        t.latency_ms.p95,
        t.latency_ms.p99
    ));
    stderr_line(&match why {
        Some(w) => format!("exit {}: {w}", outcome.code()),
        None => format!("exit {}: {}", outcome.code(), outcome.reason()),
    });
    outcome
}
