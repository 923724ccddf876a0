//! `LD_evaluate_sla` and `LD_assert_sla`: gates over what the tests measured,
//! with LoadDensity's rule shape. A failed `LD_assert_sla` rule fails the run
//! with exit 4; the plan carries on so its reports are written.

use crate::exit::Outcome;
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{Command, CommandSpec, Param, Role};
use crate::stats::{NameStats, RunSummary, SlaResult};
use serde::Deserialize;

const RULES: &[Param] = &[Param {
    name: "rules",
    kind: "list of rules",
    required: true,
    doc: "`{\"type\": metric, \"name\": task name (optional), \"op\": \"lt|lte|gt|gte\" (default lte), \"value\": number}`.",
}];

pub const EVALUATE_SLA: CommandSpec = CommandSpec {
    name: "LD_evaluate_sla",
    summary: "Check SLA rules against what the tests measured and report each result",
    params: RULES,
    parse: |v, a| parse_rules(v, a, false),
};

pub const ASSERT_SLA: CommandSpec = CommandSpec {
    name: "LD_assert_sla",
    summary: "Check SLA rules; any failing rule fails the run with exit 4 (the plan goes on)",
    params: RULES,
    parse: |v, a| parse_rules(v, a, true),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Metric {
    LatencyP50,
    LatencyP90,
    LatencyP95,
    LatencyP99,
    LatencyMean,
    FailureRate,
    Requests,
    Rps,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::LatencyP50 => "latency_p50",
            Metric::LatencyP90 => "latency_p90",
            Metric::LatencyP95 => "latency_p95",
            Metric::LatencyP99 => "latency_p99",
            Metric::LatencyMean => "latency_mean",
            Metric::FailureRate => "failure_rate",
            Metric::Requests => "requests",
            Metric::Rps => "rps",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Metric::FailureRate | Metric::Requests => "",
            Metric::Rps => " req/s",
            _ => " ms",
        }
    }

    fn of(self, s: &NameStats) -> f64 {
        match self {
            Metric::LatencyP50 => s.latency_ms.p50,
            Metric::LatencyP90 => s.latency_ms.p90,
            Metric::LatencyP95 => s.latency_ms.p95,
            Metric::LatencyP99 => s.latency_ms.p99,
            Metric::LatencyMean => s.latency_ms.mean,
            Metric::FailureRate => s.failure_rate,
            Metric::Requests => s.requests as f64,
            Metric::Rps => s.rps,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    Lt,
    #[default]
    Lte,
    Gt,
    Gte,
}

impl Op {
    fn holds(self, actual: f64, value: f64) -> bool {
        match self {
            Op::Lt => actual < value,
            Op::Lte => actual <= value,
            Op::Gt => actual > value,
            Op::Gte => actual >= value,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Gt => ">",
            Op::Gte => ">=",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(rename = "type")]
    metric: Metric,
    name: Option<String>,
    #[serde(default)]
    op: Op,
    value: f64,
}

impl Rule {
    fn text(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.metric.name(),
            self.op.name(),
            self.value,
            self.name.as_deref().unwrap_or("all")
        )
    }

    /// Evaluates the rule; a metric with no samples fails.
    fn evaluate(&self, s: &RunSummary, asserted: bool) -> SlaResult {
        let stats = match &self.name {
            Some(n) => s.by_name.get(n),
            None => Some(&s.total),
        };
        let rule = self.text();
        match stats {
            Some(st) if st.requests > 0 => {
                let actual = self.metric.of(st);
                let passed = self.op.holds(actual, self.value);
                let unit = self.metric.unit();
                SlaResult {
                    detail: format!(
                        "{actual:.3}{unit} {} {}{unit}: {}",
                        self.op.symbol(),
                        self.value,
                        if passed { "holds" } else { "does not hold" }
                    ),
                    rule,
                    passed,
                    actual: Some(actual),
                    asserted,
                }
            }
            _ => SlaResult {
                detail: match &self.name {
                    Some(n) => format!("no requests named {n:?} were measured"),
                    None => "no requests were measured".to_string(),
                },
                rule,
                passed: false,
                actual: None,
                asserted,
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaArgs {
    rules: Vec<Rule>,
}

#[derive(Debug)]
pub struct Sla {
    rules: Vec<Rule>,
    asserted: bool,
}

fn parse_rules(v: &mut Validator, a: &Args<'_>, asserted: bool) -> Option<Box<dyn Command>> {
    let args = v.typed::<SlaArgs>(a)?;
    if args.rules.is_empty() {
        v.problem(Problem::new(
            a.at.child("args.rules"),
            "rules is empty: give at least one rule",
        ));
        return None;
    }
    for (i, r) in args.rules.iter().enumerate() {
        if !r.value.is_finite() {
            v.problem(Problem::new(
                a.at.child(&format!("args.rules[{i}].value")),
                "value must be a finite number",
            ));
        }
    }
    Some(Box::new(Sla {
        rules: args.rules,
        asserted,
    }))
}

impl Command for Sla {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let summary = ctx.summary();
        let mut failed = 0;
        for rule in &self.rules {
            let r = rule.evaluate(&summary, self.asserted);
            let line = format!(
                "sla {}: {} — {}",
                if r.passed { "PASS" } else { "FAIL" },
                r.rule,
                r.detail
            );
            if r.passed {
                ctx.ui.note(&line);
            } else if self.asserted {
                ctx.ui.error(&line);
                failed += 1;
            } else {
                ctx.ui.warn(&line);
            }
            ctx.sla.push(r);
        }
        if failed > 0 {
            ctx.outcome = ctx.outcome.max(Outcome::GateFailed);
        }
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}
