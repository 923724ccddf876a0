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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testing::{built, one_problem};
    use crate::stats::LatencyMs;
    use serde_json::json;

    fn rule(metric: Metric, op: Op, value: f64, name: Option<&str>) -> Rule {
        Rule {
            metric,
            name: name.map(str::to_string),
            op,
            value,
        }
    }

    /// Statistics whose every metric has its own value.
    fn stats(requests: u64) -> NameStats {
        NameStats {
            requests,
            failure_rate: 0.02,
            rps: 50.0,
            latency_ms: LatencyMs {
                mean: 80.0,
                p50: 70.0,
                p90: 120.0,
                p95: 150.0,
                p99: 300.0,
                ..LatencyMs::default()
            },
            ..NameStats::default()
        }
    }

    /// A run whose total and `login` differ.
    fn summary() -> RunSummary {
        let mut login = stats(10);
        login.latency_ms.p95 = 900.0;
        RunSummary {
            total: stats(1000),
            by_name: [("login".to_string(), login), ("idle".to_string(), stats(0))].into(),
            ..RunSummary::default()
        }
    }

    #[test]
    fn a_rule_that_holds_passes_with_what_was_measured() {
        let r = rule(Metric::LatencyP95, Op::Lte, 200.0, None).evaluate(&summary(), true);
        assert_eq!(
            r,
            SlaResult {
                rule: "latency_p95 lte 200 (all)".into(),
                passed: true,
                actual: Some(150.0),
                detail: "150.000 ms <= 200 ms: holds".into(),
                asserted: true,
            }
        );
    }

    #[test]
    fn a_rule_that_does_not_hold_fails() {
        let r = rule(Metric::Rps, Op::Gt, 100.0, None).evaluate(&summary(), false);
        assert!(!r.passed);
        assert!(!r.asserted);
        assert_eq!(r.actual, Some(50.0));
        assert_eq!(r.detail, "50.000 req/s > 100 req/s: does not hold");
    }

    #[test]
    fn a_named_rule_reads_that_name_only() {
        let r = rule(Metric::LatencyP95, Op::Lte, 200.0, Some("login")).evaluate(&summary(), true);
        assert_eq!(r.rule, "latency_p95 lte 200 (login)");
        assert_eq!(r.actual, Some(900.0));
        assert!(!r.passed);
    }

    #[test]
    fn no_samples_fail_the_rule() {
        let s = summary();
        let missing = rule(Metric::Requests, Op::Gte, 0.0, Some("nope")).evaluate(&s, true);
        assert!(!missing.passed);
        assert_eq!(missing.actual, None);
        assert_eq!(missing.detail, "no requests named \"nope\" were measured");
        let idle = rule(Metric::Requests, Op::Gte, 0.0, Some("idle")).evaluate(&s, true);
        assert!(!idle.passed);
        assert_eq!(idle.detail, "no requests named \"idle\" were measured");
        let empty =
            rule(Metric::FailureRate, Op::Lte, 1.0, None).evaluate(&RunSummary::default(), false);
        assert!(!empty.passed);
        assert_eq!(empty.detail, "no requests were measured");
        assert_eq!(empty.rule, "failure_rate lte 1 (all)");
    }

    #[test]
    fn strict_and_inclusive_operators_differ_at_the_value() {
        let s = summary();
        let at = |op| {
            rule(Metric::LatencyP50, op, 70.0, None)
                .evaluate(&s, true)
                .passed
        };
        assert!(!at(Op::Lt));
        assert!(at(Op::Lte));
        assert!(!at(Op::Gt));
        assert!(at(Op::Gte));
    }

    #[test]
    fn each_metric_reads_its_own_statistic() {
        let s = stats(1000);
        let read = [
            (Metric::LatencyP50, 70.0, " ms"),
            (Metric::LatencyP90, 120.0, " ms"),
            (Metric::LatencyP95, 150.0, " ms"),
            (Metric::LatencyP99, 300.0, " ms"),
            (Metric::LatencyMean, 80.0, " ms"),
            (Metric::FailureRate, 0.02, ""),
            (Metric::Requests, 1000.0, ""),
            (Metric::Rps, 50.0, " req/s"),
        ];
        for (m, value, unit) in read {
            assert_eq!(m.of(&s), value, "{}", m.name());
            assert_eq!(m.unit(), unit, "{}", m.name());
        }
        let r = rule(Metric::FailureRate, Op::Lt, 0.05, None).evaluate(&summary(), true);
        assert_eq!(r.detail, "0.020 < 0.05: holds");
    }

    #[test]
    fn rules_are_checked_before_the_run() {
        one_problem(
            "LD_assert_sla",
            json!({"rules": []}),
            "actions[0].args.rules",
            "rules is empty: give at least one rule",
        );
        one_problem(
            "LD_evaluate_sla",
            json!({"rules": [{"type": "latency_p42", "value": 1}]}),
            "actions[0].args.rules[0].type",
            "LD_evaluate_sla: unknown variant `latency_p42`, expected one of `latency_p50`",
        );
        one_problem(
            "LD_assert_sla",
            json!({"rules": [{"type": "rps", "op": "eq", "value": 1}]}),
            "actions[0].args.rules[0].op",
            "LD_assert_sla: unknown variant `eq`, expected one of `lt`, `lte`, `gt`, `gte`",
        );
        one_problem(
            "LD_assert_sla",
            json!({"rules": [{"type": "rps", "value": 1}, {"type": "rps"}]}),
            "actions[0].args.rules[1]",
            "LD_assert_sla: missing field `value`",
        );
    }

    #[test]
    fn op_defaults_to_lte_and_assert_marks_its_results() {
        let rules = json!({"rules": [{"type": "rps", "name": "home", "value": 5}]});
        let evaluate = built("LD_evaluate_sla", rules.clone());
        let assert = built("LD_assert_sla", rules);
        assert!(evaluate.contains("op: Lte"), "{evaluate}");
        assert!(evaluate.ends_with("asserted: false }"), "{evaluate}");
        assert!(assert.ends_with("asserted: true }"), "{assert}");
    }
}
