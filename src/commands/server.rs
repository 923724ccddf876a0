//! `LD_start_demo_server`: the built-in demo target, for the duration of the plan.

use crate::demo_server::DemoServer;
use crate::interpreter::Context;
use crate::registry::{Command, CommandSpec, Param};
use anyhow::Context as _;
use serde::Deserialize;

pub const START_DEMO_SERVER: CommandSpec = CommandSpec {
    name: "LD_start_demo_server",
    summary: "Start the built-in demo target on 127.0.0.1 and set ${var.demo} to its URL",
    params: &[
        Param {
            name: "port",
            kind: "number = 0",
            required: false,
            doc: "Port to bind on 127.0.0.1; 0 picks a free one.",
        },
        Param {
            name: "variable",
            kind: "string = \"demo\"",
            required: false,
            doc: "Variable that receives the base URL (`http://127.0.0.1:PORT`).",
        },
    ],
    parse: |v, a| {
        let s = v.typed::<StartDemoServer>(a)?;
        v.define_var(&s.variable);
        Some(Box::new(s))
    },
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartDemoServer {
    #[serde(default, deserialize_with = "crate::plan::lenient::num")]
    port: u16,
    #[serde(default = "default_variable")]
    variable: String,
}

fn default_variable() -> String {
    "demo".to_string()
}

impl Command for StartDemoServer {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let server = DemoServer::start(self.port)
            .with_context(|| format!("cannot start the demo server on 127.0.0.1:{}", self.port))?;
        let url = server.base_url();
        ctx.ui.note(&format!("demo server listening on {url}"));
        ctx.set_var(&self.variable, url.into());
        ctx.demo_servers.push(server);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem};
    use serde_json::json;

    #[test]
    fn the_port_is_a_tcp_port() {
        one_problem(
            "LD_start_demo_server",
            json!({"port": 70000}),
            "actions[0].args.port",
            "LD_start_demo_server: 70000 is out of range (from 0 to 65535)",
        );
        let built = built("LD_start_demo_server", json!([8089, "target"]));
        assert_eq!(
            built,
            "StartDemoServer { port: 8089, variable: \"target\" }"
        );
    }
}
