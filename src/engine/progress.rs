//! Live progress on stderr: an indicatif bar on a terminal, a plain status line
//! every 2 s and a last one when the test ends otherwise (CI logs), nothing
//! with `--quiet`. Never stdout. Every line fits the terminal's width, or 80
//! columns off a terminal.

use super::TestPlan;
use crate::stats::recorder::Tally;
use crate::stats::TimePoint;
use crate::ui::Ui;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

const PLAIN_EVERY_S: f64 = 2.0;

/// Columns of the bar itself.
const BAR_WIDTH: usize = 10;

pub struct Progress {
    view: View,
    /// When the previous update was (seconds into the test).
    last_t: f64,
}

enum View {
    Off,
    Bar {
        bar: ProgressBar,
        /// Columns the template takes before the message.
        lead: usize,
    },
    Plain {
        last: f64,
        index: usize,
    },
}

impl Progress {
    pub fn new(ui: &Ui, plan: &TestPlan) -> Progress {
        Progress {
            view: View::new(ui, plan),
            last_t: 0.0,
        }
    }

    /// Shows the latest interval (`point`) and the totals so far (`cum`);
    /// `last` when the test has ended.
    pub fn update(&mut self, t_s: f64, point: &TimePoint, cum: &Tally, last: bool) {
        let dt = (t_s - self.last_t).max(1e-9);
        self.last_t = t_s;
        if matches!(self.view, View::Off) {
            return;
        }
        let err = if cum.requests == 0 {
            0.0
        } else {
            100.0 * cum.failures as f64 / cum.requests as f64
        };
        let p95 = if cum.latency_us.is_empty() {
            0.0
        } else {
            cum.latency_us.value_at_quantile(0.95) as f64 / 1000.0
        };
        let retries = cum.retry.is_some().then(|| point.retries as f64 / dt);
        let status = Status {
            users: point.users,
            rps: point.rps,
            requests: cum.requests,
            err,
            p95,
            retries,
        };
        match &mut self.view {
            View::Off => {}
            View::Bar { .. } if last => self.clear(),
            View::Bar { bar, lead } => {
                let width = crate::ui::stderr_width();
                bar.set_position(t_s as u64);
                bar.set_message(status.line(width.saturating_sub(*lead)));
            }
            View::Plain { last: prev, index } => {
                let width = crate::ui::stderr_width();
                if last {
                    // The whole test: its average rate, not the last interval's.
                    let done = Status {
                        rps: cum.requests as f64 / t_s.max(1e-9),
                        ..status
                    };
                    let head = format!("[test {index} {t_s:6.1}s] done · ");
                    let line = done.done_line(width.saturating_sub(head.chars().count()));
                    crate::ui::stderr_line(&format!("{head}{line}"));
                } else if t_s - *prev >= PLAIN_EVERY_S {
                    let head = format!("[test {index} {t_s:6.1}s] ");
                    let line = status.line(width.saturating_sub(head.chars().count()));
                    crate::ui::stderr_line(&format!("{head}{line}"));
                    *prev = t_s;
                }
            }
        }
    }

    /// Takes the bar off the screen for good (the test ended, or a signal or
    /// a watchdog is stopping it): what is printed next starts on a clean
    /// line. Plain lines go on; nothing else changes.
    pub fn clear(&mut self) {
        if let View::Bar { bar, .. } = &self.view {
            bar.finish_and_clear();
            crate::ui::set_active_bar(None);
            self.view = View::Off;
        }
    }
}

impl Drop for Progress {
    /// A test that ends any other way (an error, a panic) leaves no bar behind.
    fn drop(&mut self) {
        self.clear();
    }
}

/// What a progress line says.
#[derive(Clone, Copy)]
struct Status {
    users: u64,
    rps: f64,
    requests: u64,
    err: f64,
    p95: f64,
    retries: Option<f64>,
}

impl Status {
    /// `users 20 · 1843 req/s · 9215 reqs · err 0.00% · p95 2.31 ms` (and
    /// `· 3.1 retries/s` under a retry policy), in at most `width` columns:
    /// the request count goes first when it does not fit, then the line is
    /// cut with `…`.
    fn line(&self, width: usize) -> String {
        let mut items = vec![
            format!("users {}", self.users),
            format!("{:.0} req/s", self.rps),
            format!("{} reqs", self.requests),
            format!("err {:.2}%", self.err),
            format!("p95 {:.2} ms", self.p95),
        ];
        if let Some(r) = self.retries {
            items.push(format!("{r:.1} retries/s"));
        }
        fit_items(items, 2, width)
    }

    /// The last line of a test: `1843 reqs · 1843 req/s · err 0.00% · p95
    /// 2.31 ms`, the rate over the whole test.
    fn done_line(&self, width: usize) -> String {
        let items = vec![
            format!("{} reqs", self.requests),
            format!("{:.0} req/s", self.rps),
            format!("err {:.2}%", self.err),
            format!("p95 {:.2} ms", self.p95),
        ];
        fit_items(items, 0, width)
    }
}

/// `items` joined with ` · ` in at most `width` columns: without
/// `items[drop]` when they do not fit, then cut with `…`.
fn fit_items(mut items: Vec<String>, drop: usize, width: usize) -> String {
    let joined = |items: &[String]| items.join(" · ");
    let mut line = joined(&items);
    if line.chars().count() > width && drop < items.len() {
        items.remove(drop);
        line = joined(&items);
    }
    if line.chars().count() > width {
        line = line.chars().take(width.saturating_sub(1)).collect();
        line.push('…');
    }
    line
}

impl View {
    fn new(ui: &Ui, plan: &TestPlan) -> View {
        if ui.quiet() {
            return View::Off;
        }
        if !std::io::stderr().is_terminal() {
            return View::Plain {
                last: 0.0,
                index: plan.index,
            };
        }
        let prefix = format!("test {}", plan.index);
        // The message is fitted to what the rest leaves; `wide_msg` also cuts
        // it should the terminal narrow meanwhile.
        let (len, template, lead) = match plan.duration {
            Some(d) => {
                let secs = d.as_secs().max(1);
                (
                    Some(secs),
                    format!("{{prefix}} {{bar:{BAR_WIDTH}}} {{pos}}/{{len}}s {{wide_msg}}"),
                    prefix.len() + 1 + BAR_WIDTH + 1 + 2 * secs.to_string().len() + 2 + 1,
                )
            }
            None => (
                None,
                "{prefix} [{elapsed_precise}] {spinner} {wide_msg}".to_string(),
                prefix.len() + 1 + 10 + 1 + 1 + 1,
            ),
        };
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(prefix);
        crate::ui::set_active_bar(Some(bar.clone()));
        View::Bar { bar, lead }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(retries: Option<f64>) -> Status {
        Status {
            users: 20,
            rps: 1843.4,
            requests: 9215,
            err: 0.0,
            p95: 2.314,
            retries,
        }
    }

    #[test]
    fn a_status_line_fits_its_width() {
        let s = status(None);
        assert_eq!(
            s.line(80),
            "users 20 · 1843 req/s · 9215 reqs · err 0.00% · p95 2.31 ms"
        );
        let r = status(Some(3.12));
        let full = "users 20 · 1843 req/s · 9215 reqs · err 0.00% · p95 2.31 ms · 3.1 retries/s";
        assert_eq!(r.line(200), full);
        // The plain line's head takes 17 columns of 80: the count goes first.
        assert_eq!(
            r.line(63),
            "users 20 · 1843 req/s · err 0.00% · p95 2.31 ms · 3.1 retries/s"
        );
        let cut = r.line(30);
        assert_eq!(cut.chars().count(), 30);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(r.line(0).chars().count() <= 1);
    }

    #[test]
    fn plain_lines_fit_80_columns() {
        let big = Status {
            users: 100_000,
            rps: 123_456.0,
            requests: 123_456_789_012,
            err: 100.0,
            p95: 60_000.0,
            retries: Some(12_345.6),
        };
        let head = format!("[test {} {:6.1}s] done · ", 12, 86_400.0);
        let line = format!("{head}{}", big.done_line(80 - head.chars().count()));
        assert!(line.chars().count() <= 80, "{line}");
        let head = format!("[test {} {:6.1}s] ", 12, 86_400.0);
        let line = format!("{head}{}", big.line(80 - head.chars().count()));
        assert!(line.chars().count() <= 80, "{line}");
        assert_eq!(
            status(Some(1.0)).done_line(80),
            "9215 reqs · 1843 req/s · err 0.00% · p95 2.31 ms"
        );
    }
}
