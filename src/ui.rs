//! What the user sees on the terminal, outside the progress display: notes go to
//! stderr (silenced by `--quiet`), errors to stderr always, the plan's own
//! `LD_log` output to stdout always.

use std::io::Write;

#[derive(Debug, Clone)]
pub struct Ui {
    quiet: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Ui {
        Ui { quiet }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Progress notes and results (stderr), unless `--quiet`.
    pub fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Warnings (stderr), unless `--quiet`.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// Errors (stderr), always.
    pub fn error(&self, msg: &str) {
        eprintln!("error: {msg}");
    }

    /// The plan's own output (`LD_log`): stdout, always.
    pub fn log(&self, msg: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{msg}");
        let _ = out.flush();
    }

    /// Result tables (stdout), unless `--quiet`.
    pub fn result(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
            let _ = out.flush();
        }
    }
}
