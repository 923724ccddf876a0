//! `LD_install_failure_budget`, `LD_uninstall_failure_budget`, `LD_budget_status`.

use crate::budget::{BudgetConfig, Setting, Source};
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::registry::{parse_typed, Command, CommandSpec, Param};
use crate::stats::{BudgetState, TripReason};
use serde::Deserialize;

pub const INSTALL_FAILURE_BUDGET: CommandSpec = CommandSpec {
    name: "LD_install_failure_budget",
    summary: "Stop later tests whose error rate over a sliding window exceeds a threshold (exit 3)",
    params: &[
        Param {
            name: "threshold",
            kind: "number = 0.05",
            required: false,
            doc: "Trip when the window's error rate is strictly greater than this fraction.",
        },
        Param {
            name: "window_seconds",
            kind: "number = 30",
            required: false,
            doc: "The sliding window, in seconds (0.1 to 86400).",
        },
        Param {
            name: "min_samples",
            kind: "number = 50",
            required: false,
            doc: "Check only once the window holds this many logical requests.",
        },
        Param {
            name: "slow_call_ms",
            kind: "number",
            required: false,
            doc: "Also count calls slower than this (ms) as slow; needs `slow_call_threshold`.",
        },
        Param {
            name: "slow_call_threshold",
            kind: "number",
            required: false,
            doc: "Trip when the window's share of slow calls exceeds this fraction.",
        },
    ],
    parse: parse_install,
};

pub const UNINSTALL_FAILURE_BUDGET: CommandSpec = CommandSpec {
    name: "LD_uninstall_failure_budget",
    summary: "Run later tests without a failure budget (the default and --failure-budget included)",
    params: &[],
    parse: parse_typed::<Uninstall>,
};

pub const BUDGET_STATUS: CommandSpec = CommandSpec {
    name: "LD_budget_status",
    summary: "Print the failure budget's settings and state",
    params: &[],
    parse: parse_typed::<Status>,
};

#[derive(Debug)]
pub struct Install(BudgetConfig);

fn parse_install(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let cfg = v.typed::<BudgetConfig>(a)?;
    v.field_problems(&a.at, "args", cfg.problems())
        .then(|| Box::new(Install(cfg)) as Box<dyn Command>)
}

impl Command for Install {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.installed_budget = Setting::On(self.0.clone());
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uninstall {}

impl Command for Uninstall {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.installed_budget = Setting::Off;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {}

impl Command for Status {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let r = &ctx.budget_report;
        let line = if r.state == BudgetState::Tripped {
            format!(
                "failure budget: tripped in test {} after {:.1} s ({}: error rate {:.1}%, {} samples)",
                r.test.unwrap_or(0),
                r.tripped_at_s.unwrap_or(0.0),
                r.reason.unwrap_or(TripReason::ErrorRate).as_str(),
                r.error_rate.unwrap_or(0.0) * 100.0,
                r.samples.unwrap_or(0)
            )
        } else {
            match ctx.budget_in_force(&Setting::Unset) {
                Some((c, source)) => format!(
                    "failure budget: {} (threshold {:.1}%, window {} s, min_samples {}{})",
                    match source {
                        Source::Default => "the default",
                        _ => "armed",
                    },
                    c.threshold * 100.0,
                    c.window_seconds,
                    c.min_samples,
                    match (c.slow_call_ms, c.slow_call_threshold) {
                        (Some(ms), Some(t)) =>
                            format!(", slow calls > {ms} ms over {:.1}%", t * 100.0),
                        _ => String::new(),
                    }
                ),
                None => "failure budget: off".to_string(),
            }
        };
        ctx.ui.log(&line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem, problems};
    use serde_json::json;

    #[test]
    fn budget_fields_are_checked_in_place() {
        one_problem(
            "LD_install_failure_budget",
            json!({"threshold": -0.1}),
            "actions[0].args.threshold",
            "threshold must be a fraction from 0 to 1, found -0.1",
        );
        one_problem(
            "LD_install_failure_budget",
            json!({"window_seconds": 0.01}),
            "actions[0].args.window_seconds",
            "window_seconds must be from 0.1 to 86400, found 0.01",
        );
        let found = problems(
            "LD_install_failure_budget",
            json!({"slow_call_ms": 0, "slow_call_threshold": 2}),
        );
        let paths: Vec<&str> = found.iter().map(|p| p.at.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "actions[0].args.slow_call_ms",
                "actions[0].args.slow_call_threshold"
            ]
        );
        one_problem(
            "LD_install_failure_budget",
            json!({"slow_call_threshold": 0.5}),
            "actions[0].args.slow_call_ms",
            "slow_call_ms and slow_call_threshold go together: give both or neither",
        );
    }

    #[test]
    fn an_installed_budget_keeps_its_settings() {
        let built = built("LD_install_failure_budget", json!([0.2, 5, 10, 300, 0.1]));
        assert!(
            built.contains("threshold: 0.2, window_seconds: 5.0, min_samples: 10"),
            "{built}"
        );
        assert!(
            built.contains("slow_call_ms: Some(300.0), slow_call_threshold: Some(0.1)"),
            "{built}"
        );
    }
}
