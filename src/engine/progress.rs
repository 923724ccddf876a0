//! Live progress on stderr: an indicatif bar on a terminal, a plain status line
//! every 5 s otherwise (CI logs), nothing with `--quiet`. Never stdout.

use super::TestPlan;
use crate::stats::recorder::Tally;
use crate::stats::TimePoint;
use crate::ui::Ui;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

const PLAIN_EVERY_S: f64 = 5.0;

pub enum Progress {
    Off,
    Bar(ProgressBar),
    Plain { last: f64, index: usize },
}

impl Progress {
    pub fn new(ui: &Ui, plan: &TestPlan) -> Progress {
        if ui.quiet() {
            return Progress::Off;
        }
        if !std::io::stderr().is_terminal() {
            return Progress::Plain {
                last: 0.0,
                index: plan.index,
            };
        }
        let bar = match plan.duration {
            Some(d) => {
                let b = ProgressBar::with_draw_target(
                    Some(d.as_secs().max(1)),
                    ProgressDrawTarget::stderr(),
                );
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{elapsed_precise}] {bar:24} {pos}/{len}s {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b
            }
            None => {
                let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                b.set_style(
                    ProgressStyle::with_template("{prefix} [{elapsed_precise}] {spinner} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b
            }
        };
        bar.set_prefix(format!("test {}", plan.index));
        Progress::Bar(bar)
    }

    /// Shows the latest interval (`point`) and the totals so far (`cum`).
    pub fn update(&mut self, t_s: f64, point: &TimePoint, cum: &Tally, last: bool) {
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
        let msg = format!(
            "users {} · {:.0} req/s · {} reqs · err {:.2}% · p95 {:.2} ms",
            point.users, point.rps, cum.requests, err, p95
        );
        match self {
            Progress::Off => {}
            Progress::Bar(b) => {
                b.set_position(t_s as u64);
                b.set_message(msg);
                if last {
                    b.finish_and_clear();
                }
            }
            Progress::Plain { last: prev, index } => {
                if t_s - *prev >= PLAIN_EVERY_S && !last {
                    eprintln!("[test {index} {t_s:6.1}s] {msg}");
                    *prev = t_s;
                }
            }
        }
    }
}
