//! `LD_start_prometheus_exporter` / `LD_stop_prometheus_exporter`: serve the
//! run's live metrics at `/metrics` (OpenMetrics) for Prometheus to scrape.
//! `--metrics-addr` starts the same exporter before the plan's first action.

use crate::interpreter::Context;
use crate::metrics::{Board, Exporter};
use crate::plan::Problem;
use crate::registry::{parse_typed, Command, CommandSpec, Param};
use anyhow::Context as _;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

pub const START_PROMETHEUS_EXPORTER: CommandSpec = CommandSpec {
    name: "LD_start_prometheus_exporter",
    summary: "Serve the run's live metrics at http://ADDR:PORT/metrics (OpenMetrics) for Prometheus",
    params: &[
        Param {
            name: "port",
            kind: "number = 9646",
            required: false,
            doc: "TCP port; 0 picks a free one (printed).",
        },
        Param {
            name: "addr",
            kind: "string = \"127.0.0.1\"",
            required: false,
            doc: "IP address to bind. Loopback unless you say otherwise: `0.0.0.0` serves every interface (a warning says so).",
        },
    ],
    parse: |v, a| {
        let s = v.typed::<StartExporter>(a)?;
        match parse_ip(&s.addr) {
            Ok(ip) => Some(Box::new(StartPrometheusExporter {
                addr: SocketAddr::new(ip, s.port),
            })),
            Err(e) => {
                v.problem(
                    Problem::new(a.at.child("args.addr"), e)
                        .hint("an IP address such as 127.0.0.1 (the default), ::1 or 0.0.0.0"),
                );
                None
            }
        }
    },
};

pub const STOP_PROMETHEUS_EXPORTER: CommandSpec = CommandSpec {
    name: "LD_stop_prometheus_exporter",
    summary: "Stop serving metrics (after Prometheus's last scrape of the final figures)",
    params: &[],
    parse: parse_typed::<StopPrometheusExporter>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartExporter {
    #[serde(
        default = "default_port",
        deserialize_with = "crate::plan::lenient::num"
    )]
    port: u16,
    #[serde(default = "default_addr")]
    addr: String,
}

fn default_port() -> u16 {
    9646
}

fn default_addr() -> String {
    "127.0.0.1".to_string()
}

/// An IP address; `localhost` is 127.0.0.1 (no name lookup).
pub fn parse_ip(s: &str) -> Result<IpAddr, String> {
    if s.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse()
        .map_err(|_| format!("{s:?} is not an IP address"))
}

/// `--metrics-addr HOST:PORT`.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("expected HOST:PORT (such as 127.0.0.1:9646), found {s:?}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{port:?} is not a TCP port (0 to 65535)"))?;
    Ok(SocketAddr::new(parse_ip(host)?, port))
}

#[derive(Debug)]
pub struct StartPrometheusExporter {
    addr: SocketAddr,
}

impl Command for StartPrometheusExporter {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        if let Some(e) = &ctx.metrics {
            ctx.ui.note(&format!(
                "LD_start_prometheus_exporter: metrics are already served at http://{}/metrics (LD_stop_prometheus_exporter first to move them)",
                e.addr()
            ));
            return Ok(());
        }
        start(ctx, self.addr)
    }
}

/// Starts the run's exporter on `addr`.
pub fn start(ctx: &mut Context, addr: SocketAddr) -> anyhow::Result<()> {
    let exporter = Exporter::start(addr, Arc::new(Board::new()))
        .with_context(|| format!("cannot serve metrics on {addr}"))?;
    let at = exporter.addr();
    if !at.ip().is_loopback() {
        ctx.ui.warn(&format!(
            "metrics are served beyond loopback, on {at}: anyone who can reach this machine can read them"
        ));
    }
    ctx.ui.note(&format!("metrics at http://{at}/metrics"));
    ctx.metrics = Some(exporter);
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopPrometheusExporter {}

impl Command for StopPrometheusExporter {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.stop_metrics();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{built, one_problem};
    use serde_json::json;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:9646").unwrap().to_string(),
            "127.0.0.1:9646"
        );
        assert_eq!(
            parse_addr("localhost:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(parse_addr("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_addr("9646").unwrap_err().contains("HOST:PORT"));
        assert!(parse_addr("example.com:80")
            .unwrap_err()
            .contains("not an IP"));
        assert!(parse_addr("127.0.0.1:99999")
            .unwrap_err()
            .contains("TCP port"));
    }

    #[test]
    fn arguments() {
        assert_eq!(
            built("LD_start_prometheus_exporter", json!({})),
            "StartPrometheusExporter { addr: 127.0.0.1:9646 }"
        );
        assert_eq!(
            built("LD_start_prometheus_exporter", json!([0, "0.0.0.0"])),
            "StartPrometheusExporter { addr: 0.0.0.0:0 }"
        );
        one_problem(
            "LD_start_prometheus_exporter",
            json!({"addr": "metrics.internal"}),
            "actions[0].args.addr",
            "\"metrics.internal\" is not an IP address",
        );
    }
}
