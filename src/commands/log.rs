//! `LD_log`: print a message (resolved) to stdout.

use crate::interpreter::Context;
use crate::registry::{parse_typed, Command, CommandSpec, Param};
use serde::Deserialize;

pub const LOG: CommandSpec = CommandSpec {
    name: "LD_log",
    summary: "Print a message to stdout, with ${...} resolved",
    params: &[Param {
        name: "message",
        kind: "string",
        required: true,
        doc: "The text to print.",
    }],
    parse: parse_typed::<Log>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    message: String,
}

impl Command for Log {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let msg = ctx.resolve_str(&self.message)?;
        ctx.ui.log(&msg);
        Ok(())
    }
}
