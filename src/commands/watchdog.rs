//! `LD_set_watchdog` (a hard wall-clock limit on the rest of the run) and
//! `LD_with_watchdog` (a limit on a nested action list).

use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::{Action, Problem};
use crate::registry::{Command, CommandSpec, Param};
use crate::supervisor::WatchdogGuard;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long after a watchdog fires the process may take to wind down (stop
/// the test, write reports, run `on_timeout`) before it is ended with 124.
pub const HARD_GRACE: Duration = Duration::from_secs(15);

pub const SET_WATCHDOG: CommandSpec = CommandSpec {
    name: "LD_set_watchdog",
    summary: "Put a hard wall-clock limit on the rest of the run (exit 124 when it fires)",
    params: &[
        Param {
            name: "timeout_seconds",
            kind: "number",
            required: true,
            doc: "Seconds from this action until the watchdog fires.",
        },
        Param {
            name: "on_timeout",
            kind: "list of actions",
            required: false,
            doc: "Actions to run when it fires (e.g. report actions), bounded by the hard grace.",
        },
    ],
    parse: parse_set,
};

pub const WITH_WATCHDOG: CommandSpec = CommandSpec {
    name: "LD_with_watchdog",
    summary: "Run a nested action list under a wall-clock limit",
    params: &[
        Param {
            name: "timeout_seconds",
            kind: "number",
            required: true,
            doc: "Seconds the nested actions may take.",
        },
        Param {
            name: "actions",
            kind: "list of actions",
            required: true,
            doc: "The actions to run under the limit.",
        },
        Param {
            name: "on_timeout",
            kind: "list of actions",
            required: false,
            doc: "Actions to run when the limit is hit.",
        },
    ],
    parse: parse_with,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutOnly {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    timeout_seconds: f64,
    #[allow(dead_code)]
    on_timeout: Option<IgnoredAny>,
    #[allow(dead_code)]
    actions: Option<IgnoredAny>,
}

fn timeout(
    v: &mut Validator,
    a: &Args<'_>,
    allowed: &[&str],
    required: &[&str],
) -> Option<Duration> {
    if !v.only_keys(a, allowed, required) {
        return None;
    }
    let t: TimeoutOnly = v.typed_shallow(a)?;
    match Duration::try_from_secs_f64(t.timeout_seconds) {
        Ok(d) if !d.is_zero() => Some(d),
        _ => {
            v.problem(Problem::new(
                a.at.child("args.timeout_seconds"),
                format!(
                    "timeout_seconds must be a positive number of seconds, found {}",
                    t.timeout_seconds
                ),
            ));
            None
        }
    }
}

#[derive(Debug)]
pub struct SetWatchdog {
    timeout: Duration,
    on_timeout: Arc<Vec<Action>>,
}

fn parse_set(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let timeout = timeout(
        v,
        a,
        &["timeout_seconds", "on_timeout"],
        &["timeout_seconds"],
    )?;
    let on_timeout = v.nested_actions(a, "on_timeout")?;
    Some(Box::new(SetWatchdog {
        timeout,
        on_timeout: Arc::new(on_timeout),
    }))
}

impl Command for SetWatchdog {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let guard = WatchdogGuard::arm(&ctx.control, Instant::now(), self.timeout, HARD_GRACE);
        ctx.supervisor.watchdog_timeout_s = Some(self.timeout.as_secs_f64());
        ctx.watchdogs.push((guard, Arc::clone(&self.on_timeout)));
        Ok(())
    }

    fn connections(&self) -> u64 {
        crate::registry::max_connections(&self.on_timeout)
    }
}

#[derive(Debug)]
pub struct WithWatchdog {
    timeout: Duration,
    actions: Vec<Action>,
    on_timeout: Vec<Action>,
}

fn parse_with(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let timeout = timeout(
        v,
        a,
        &["timeout_seconds", "actions", "on_timeout"],
        &["timeout_seconds", "actions"],
    )?;
    let actions = v.nested_actions(a, "actions")?;
    let on_timeout = v.nested_actions(a, "on_timeout")?;
    Some(Box::new(WithWatchdog {
        timeout,
        actions,
        on_timeout,
    }))
}

impl Command for WithWatchdog {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let guard = WatchdogGuard::arm(&ctx.control, Instant::now(), self.timeout, HARD_GRACE);
        // The rest of the nested list is abandoned once the watchdog fired.
        let result = ctx.run_actions_while(&self.actions, || !guard.fired());
        if guard.fired() {
            // The run is now interrupted (exit 124 at the end): later load is
            // skipped, later report actions still run.
            ctx.acknowledge_interrupt();
            ctx.ui.error(&format!(
                "LD_with_watchdog: the actions did not finish within {:.1} s",
                self.timeout.as_secs_f64()
            ));
            let _ = ctx.run_actions(&self.on_timeout);
            return Ok(());
        }
        drop(guard);
        result?;
        Ok(())
    }

    fn connections(&self) -> u64 {
        crate::registry::max_connections(&self.actions)
            .max(crate::registry::max_connections(&self.on_timeout))
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem};
    use serde_json::json;

    #[test]
    fn timeout_seconds_must_be_positive() {
        // Too large for a Duration counts as not a number of seconds either.
        for (t, shown) in [
            (json!(0), "0"),
            (json!(-3), "-3"),
            (json!(1e300), "1000000"),
        ] {
            for (name, args) in [
                ("LD_set_watchdog", json!({ "timeout_seconds": t })),
                (
                    "LD_with_watchdog",
                    json!({ "timeout_seconds": t, "actions": [] }),
                ),
            ] {
                one_problem(
                    name,
                    args,
                    "actions[0].args.timeout_seconds",
                    &format!("timeout_seconds must be a positive number of seconds, found {shown}"),
                );
            }
        }
        one_problem(
            "LD_with_watchdog",
            json!({"timeout_seconds": "ten", "actions": []}),
            "actions[0].args.timeout_seconds",
            "LD_with_watchdog: expected a number, found \"ten\"",
        );
        // LoadDensity writes numbers as strings too.
        built(
            "LD_with_watchdog",
            json!({"timeout_seconds": "10", "actions": []}),
        );
    }

    #[test]
    fn argument_names_are_checked_per_command() {
        one_problem(
            "LD_set_watchdog",
            json!({"timeout_seconds": 1, "actions": []}),
            "actions[0].args.actions",
            "LD_set_watchdog: unknown field `actions`, expected timeout_seconds, on_timeout",
        );
        one_problem(
            "LD_with_watchdog",
            json!({"timeout_seconds": 1}),
            "actions[0].args",
            "LD_with_watchdog: missing field `actions`",
        );
    }

    #[test]
    fn the_limit_and_the_nested_actions_are_built() {
        let built = built(
            "LD_with_watchdog",
            json!([0.25, [["LD_log", ["inside"]]], [["LD_log", ["late"]]]]),
        );
        assert!(
            built.starts_with("WithWatchdog { timeout: 250ms"),
            "{built}"
        );
        assert_eq!(built.matches("name: \"LD_log\"").count(), 2, "{built}");
        one_problem(
            "LD_set_watchdog",
            json!({"timeout_seconds": 1, "on_timeout": [["LD_log", {}]]}),
            "actions[0].args.on_timeout[0].args",
            "LD_log: missing field `message`",
        );
    }
}
