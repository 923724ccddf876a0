//! Live progress on stderr: an indicatif bar on a terminal, a plain status line
//! every 5 s otherwise (CI logs), nothing with `--quiet`. Never stdout.

use super::TestPlan;
use crate::stats::recorder::Tally;
use crate::stats::TimePoint;
use crate::ui::Ui;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

const PLAIN_EVERY_S: f64 = 5.0;

pub struct Progress {
    view: View,
    /// When the previous update was (seconds into the test).
    last_t: f64,
}

enum View {
    Off,
    Bar(ProgressBar),
    Plain { last: f64, index: usize },
}

impl Progress {
    pub fn new(ui: &Ui, plan: &TestPlan) -> Progress {
        Progress {
            view: View::new(ui, plan),
            last_t: 0.0,
        }
    }

    /// Shows the latest interval (`point`) and the totals so far (`cum`).
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
        let mut msg = format!(
            "users {} · {:.0} req/s · {} reqs · err {:.2}% · p95 {:.2} ms",
            point.users, point.rps, cum.requests, err, p95
        );
        if cum.retry.is_some() {
            msg.push_str(&format!(" · {:.1} retries/s", point.retries as f64 / dt));
        }
        match &mut self.view {
            View::Off => {}
            View::Bar(b) => {
                b.set_position(t_s as u64);
                b.set_message(msg);
                if last {
                    b.finish_and_clear();
                }
            }
            View::Plain { last: prev, index } => {
                if t_s - *prev >= PLAIN_EVERY_S && !last {
                    crate::ui::stderr_line(&format!("[test {index} {t_s:6.1}s] {msg}"));
                    *prev = t_s;
                }
            }
        }
    }
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
        let (len, template) = match plan.duration {
            Some(d) => (
                Some(d.as_secs().max(1)),
                "{prefix} [{elapsed_precise}] {bar:24} {pos}/{len}s {msg}",
            ),
            None => (None, "{prefix} [{elapsed_precise}] {spinner} {msg}"),
        };
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("test {}", plan.index));
        View::Bar(bar)
    }
}
