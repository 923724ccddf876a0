//! `LD_install_network_conditioner` and `LD_uninstall_network_conditioner`.

use crate::conditioner::{Conditioner, ConditionerArg};
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::registry::{parse_typed, Command, CommandSpec, Param};
use serde::Deserialize;
use std::sync::Arc;

pub const INSTALL_NETWORK_CONDITIONER: CommandSpec = CommandSpec {
    name: "LD_install_network_conditioner",
    summary: "Inject latency, jitter, loss and bandwidth limits into later tests' requests",
    params: &[
        Param { name: "latency_ms", kind: "number = 0", required: false, doc: "Delay before each attempt, in ms." },
        Param { name: "jitter_ms", kind: "number = 0", required: false, doc: "The delay is drawn uniformly from latency_ms ± jitter_ms (never below 0)." },
        Param { name: "loss_rate", kind: "number = 0", required: false, doc: "Chance (0 to 1) that an attempt is dropped before it is sent (a transient error)." },
        Param { name: "name_filter", kind: "string", required: false, doc: "Only tasks whose name or resolved URL contains this text (a plain substring, as in LoadDensity: `/api/` is not a regex)." },
        Param { name: "name_regex", kind: "string", required: false, doc: "Only tasks whose name or resolved URL matches this regular expression (instead of `name_filter`)." },
        Param { name: "bandwidth_kbps", kind: "number", required: false, doc: "Pace reading response bodies to this many kbit/s." },
        Param { name: "preset", kind: "string", required: false, doc: "`3g`, `slow-4g` or `fast-4g`: DevTools' latency and bandwidth; explicit fields win." },
    ],
    parse: parse_install,
};

pub const UNINSTALL_NETWORK_CONDITIONER: CommandSpec = CommandSpec {
    name: "LD_uninstall_network_conditioner",
    summary: "Remove the installed network conditioner",
    params: &[],
    parse: parse_typed::<Uninstall>,
};

#[derive(Debug)]
pub struct Install(Arc<Conditioner>);

fn parse_install(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let arg = v.typed::<ConditionerArg>(a)?;
    match Conditioner::compile(&arg) {
        Ok(c) => Some(Box::new(Install(Arc::new(c)))),
        Err(problems) => {
            v.field_problems(&a.at, "args", problems);
            None
        }
    }
}

impl Command for Install {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.conditioner = Some(Arc::clone(&self.0));
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uninstall {}

impl Command for Uninstall {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.conditioner = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem};
    use serde_json::json;

    #[test]
    fn conditioner_fields_are_checked_in_place() {
        one_problem(
            "LD_install_network_conditioner",
            json!({"loss_rate": 1.5}),
            "actions[0].args.loss_rate",
            "loss_rate must be a fraction from 0 to 1, found 1.5",
        );
        one_problem(
            "LD_install_network_conditioner",
            json!({"jitter_ms": -1}),
            "actions[0].args.jitter_ms",
            "jitter_ms",
        );
        one_problem(
            "LD_install_network_conditioner",
            json!({"preset": "5g"}),
            "actions[0].args.preset",
            "LD_install_network_conditioner: unknown variant `5g`, expected one of `3g`, `slow-4g`, `fast-4g`",
        );
    }

    #[test]
    fn explicit_fields_win_over_a_preset() {
        let preset = built("LD_install_network_conditioner", json!({"preset": "3g"}));
        let over = built(
            "LD_install_network_conditioner",
            json!({"preset": "3g", "latency_ms": 7}),
        );
        assert!(!preset.contains("latency_ms: 7.0"), "{preset}");
        assert!(over.contains("latency_ms: 7.0"), "{over}");
    }
}
