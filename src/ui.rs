//! What the user sees on the terminal, outside the progress display: notes go to
//! stderr (silenced by `--quiet`), errors to stderr always, the plan's own
//! `LD_log` output to stdout always.
//!
//! Every write ignores its error: a closed pipe (`| head`), a full disk
//! (`2>/dev/full`) or a closed terminal never ends a run nor loses its
//! reports. Rust ignores SIGPIPE, so such writes fail with `EPIPE` here, and
//! `println!` / `eprintln!` would panic on them: the run path uses
//! [`stdout_text`] and [`stderr_line`] instead.

use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};

/// The width console output fits when it does not go to a terminal (a CI
/// log, a file, a pipe).
pub const DEFAULT_WIDTH: usize = 80;

/// Columns of the terminal on `fd`, or [`DEFAULT_WIDTH`] when it is not one.
fn width_of(fd: RawFd) -> usize {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the pointer given,
    // which lives for the call; a bad or non-terminal fd fails with -1.
    let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        DEFAULT_WIDTH
    }
}

/// The width stdout output fits: the terminal's, else 80 columns.
pub fn stdout_width() -> usize {
    width_of(std::io::stdout().as_raw_fd())
}

/// The width stderr output fits: the terminal's, else 80 columns.
pub fn stderr_width() -> usize {
    width_of(std::io::stderr().as_raw_fd())
}

/// The progress bar on the terminal, if one is drawn: stderr lines are
/// written above it, never into it.
static ACTIVE_BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Registers the progress bar being drawn (`None` once it is cleared).
pub fn set_active_bar(bar: Option<indicatif::ProgressBar>) {
    *crate::sync::lock(&ACTIVE_BAR) = bar;
}

/// Writes `text` to stdout as is and flushes it, ignoring errors.
pub fn stdout_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes `msg` and a newline to stderr, ignoring errors. While a progress
/// bar is drawn, the bar steps aside for the line and is drawn again below
/// it, so a line never lands in the middle of the bar.
pub fn stderr_line(msg: &str) {
    let write = || {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{msg}");
    };
    // Cloned out: the lock is not held while the bar is redrawn.
    let bar = crate::sync::lock(&ACTIVE_BAR).clone();
    match bar {
        Some(b) if !b.is_finished() => b.suspend(write),
        _ => write(),
    }
}

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
            stderr_line(msg);
        }
    }

    /// Warnings (stderr), unless `--quiet`.
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            stderr_line(&format!("warning: {msg}"));
        }
    }

    /// Errors (stderr), always.
    pub fn error(&self, msg: &str) {
        stderr_line(&format!("error: {msg}"));
    }

    /// The plan's own output (`LD_log`): stdout, always.
    pub fn log(&self, msg: &str) {
        stdout_text(&format!("{msg}\n"));
    }

    /// Result tables (stdout), unless `--quiet`.
    pub fn result(&self, text: &str) {
        if !self.quiet {
            stdout_text(text);
        }
    }
}

/// ` (and N more)` after the first of `count` failures named in a message;
/// nothing when there is one.
pub fn and_more(count: usize) -> String {
    if count > 1 {
        format!(" (and {} more)", count - 1)
    } else {
        String::new()
    }
}
