//! `LD_emit_github_annotations`: GitHub Actions `::error` / `::warning`
//! workflow commands for what the run found so far (see
//! [`crate::reports::github`]).

use crate::interpreter::Context;
use crate::registry::{parse_typed, Command, CommandSpec, Param, Role};
use crate::reports::github;
use serde::Deserialize;

pub const EMIT_GITHUB_ANNOTATIONS: CommandSpec = CommandSpec {
    name: "LD_emit_github_annotations",
    summary: "Print GitHub Actions ::error/::warning lines for failed gates, a tripped budget, the verdict and the top errors so far",
    params: &[Param {
        name: "title",
        kind: "string = \"LoadDensity\"",
        required: false,
        doc: "The annotations' title (placeholders are resolved).",
    }],
    parse: parse_typed::<EmitAnnotations>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitAnnotations {
    #[serde(default = "default_title")]
    title: String,
}

fn default_title() -> String {
    "LoadDensity".to_string()
}

impl Command for EmitAnnotations {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let title = ctx.resolve_str(&self.title)?;
        let lines = github::annotations(&ctx.summary(), &title, &ctx.verdict());
        // stdout, where the runner reads workflow commands; always, like
        // LD_log: the plan asked for them (--quiet silences notes only).
        for line in &lines {
            ctx.ui.log(line);
        }
        ctx.ui
            .note(&format!("emitted {} GitHub annotation(s)", lines.len()));
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}
