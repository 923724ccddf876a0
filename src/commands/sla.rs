//! `LD_evaluate_sla` and `LD_assert_sla`: gates over what the tests measured,
//! with LoadDensity's rule shape. A failed `LD_assert_sla` rule fails the run
//! with exit 4; the plan carries on so its reports are written.

use crate::exit::Outcome;
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{Command, CommandSpec, Param, Role};
use crate::stats::{NameStats, RunSummary, SlaResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const RULES: &[Param] = &[
    Param {
        name: "rules",
        kind: "list of rules",
        required: true,
        doc: "`{\"type\": metric, \"name\": task name (optional), \"op\": \"lt|lte|gt|gte\" (default lte), \"value\": number, \"basis\": \"corrected|raw\" (default corrected: in an arrival-rate test, latency from the scheduled start; raw: from the send)}`.",
    },
    Param {
        name: "summary",
        kind: "object",
        required: false,
        doc: "A LoadDensity summary object (`totals`, `latency_overall`, `per_name`) to judge instead of what was measured.",
    },
];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The metric of `s`; a latency on `basis` (an arrival-rate test has a
    /// raw figure beside the corrected one; elsewhere the two are one).
    fn of(self, s: &NameStats, basis: Basis) -> f64 {
        let l = match (basis, &s.latency_raw_ms) {
            (Basis::Raw, Some(raw)) => raw,
            _ => &s.latency_ms,
        };
        match self {
            Metric::LatencyP50 => l.p50,
            Metric::LatencyP90 => l.p90,
            Metric::LatencyP95 => l.p95,
            Metric::LatencyP99 => l.p99,
            Metric::LatencyMean => l.mean,
            Metric::FailureRate => s.failure_rate,
            Metric::Requests => s.requests as f64,
            Metric::Rps => s.rps,
        }
    }
}

/// Which latency a rule judges in an arrival-rate test: from each request's
/// scheduled start (`corrected`, the default) or from its send (`raw`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Basis {
    #[default]
    Corrected,
    Raw,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    #[serde(rename = "type")]
    metric: Metric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default)]
    op: Op,
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    value: f64,
    #[serde(default)]
    basis: Basis,
}

impl Rule {
    fn text(&self) -> String {
        format!(
            "{} {} {} ({}{})",
            self.metric.name(),
            self.op.name(),
            self.value,
            self.name.as_deref().unwrap_or("all"),
            if self.basis == Basis::Raw {
                ", raw"
            } else {
                ""
            }
        )
    }

    /// Evaluates the rule; a metric with no samples fails. A name is ours
    /// or LoadDensity's (a task's URL as written).
    fn evaluate(&self, s: &RunSummary, asserted: bool) -> SlaResult {
        let stats = match &self.name {
            Some(n) => s.by_name.get(n).or_else(|| {
                let ours = s.loaddensity.our_name(n)?;
                s.by_name.get(ours)
            }),
            None => Some(&s.total),
        };
        let actual = stats
            .filter(|st| st.requests > 0)
            .map(|st| self.metric.of(st, self.basis));
        self.result(actual, "", asserted)
    }

    /// Evaluates the rule against a given LoadDensity summary.
    fn evaluate_given(&self, g: &Given, asserted: bool) -> anyhow::Result<SlaResult> {
        let actual = self
            .answer(g)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.text()))?;
        Ok(self.result(actual, " in the given summary", asserted))
    }

    /// What a given summary says the rule's metric is: `Ok(None)` when it
    /// measured no requests (of that name), an error when it cannot say.
    fn answer(&self, g: &Given) -> Result<Option<f64>, String> {
        let field = |v: Option<f64>, path: String| {
            v.ok_or_else(|| format!("the given summary has no `{path}`"))
        };
        let cannot = |what: &str| {
            format!(
                "LoadDensity's summary has no {what}, so `{}` cannot be judged from it",
                self.metric.name()
            )
        };
        match &self.name {
            None => {
                let t = g.totals.clone().unwrap_or_default();
                let o = g.latency_overall.clone().unwrap_or_default();
                let value = match self.metric {
                    Metric::LatencyP50 => field(o.p50_ms, "latency_overall.p50_ms".into()),
                    Metric::LatencyP90 => field(o.p90_ms, "latency_overall.p90_ms".into()),
                    Metric::LatencyP95 => field(o.p95_ms, "latency_overall.p95_ms".into()),
                    Metric::LatencyP99 => field(o.p99_ms, "latency_overall.p99_ms".into()),
                    Metric::LatencyMean => Err(cannot("overall mean latency")),
                    Metric::FailureRate => field(t.failure_rate, "totals.failure_rate".into()),
                    Metric::Requests => field(t.requests, "totals.requests".into()),
                    Metric::Rps => Err(cannot("request rate")),
                }?;
                let requests = field(t.requests, "totals.requests".into())?;
                Ok((requests > 0.0).then_some(value))
            }
            Some(n) => {
                let Some(e) = g.per_name.as_ref().and_then(|p| p.get(n)) else {
                    // Judged like a name never measured, once the metric is
                    // one a per-name entry has.
                    return match self.metric {
                        Metric::FailureRate => Err(cannot("failure rate per name")),
                        Metric::Rps => Err(cannot("request rate")),
                        _ => Ok(None),
                    };
                };
                let at = |f: &str| format!("per_name.{n}.{f}");
                let value = match self.metric {
                    Metric::LatencyP50 => field(e.p50_ms, at("p50_ms")),
                    Metric::LatencyP90 => field(e.p90_ms, at("p90_ms")),
                    Metric::LatencyP95 => field(e.p95_ms, at("p95_ms")),
                    Metric::LatencyP99 => field(e.p99_ms, at("p99_ms")),
                    Metric::LatencyMean => field(e.mean_ms, at("mean_ms")),
                    // LoadDensity counts a name's successful requests only.
                    Metric::Requests => field(e.count, at("count")),
                    Metric::FailureRate => Err(cannot("failure rate per name")),
                    Metric::Rps => Err(cannot("request rate")),
                }?;
                let count = field(e.count, at("count"))?;
                Ok((count > 0.0).then_some(value))
            }
        }
    }

    /// The result of the rule over `actual` (`None`: no samples, it fails).
    fn result(&self, actual: Option<f64>, source: &str, asserted: bool) -> SlaResult {
        let rule = self.text();
        match actual {
            Some(actual) => {
                let passed = self.op.holds(actual, self.value);
                let unit = self.metric.unit();
                SlaResult {
                    detail: format!(
                        "{actual:.3}{unit} {} {}{unit}{source}: {}",
                        self.op.symbol(),
                        self.value,
                        if passed { "holds" } else { "does not hold" }
                    ),
                    rule,
                    passed,
                    actual: Some(actual),
                    asserted,
                    file: None,
                    line: None,
                }
            }
            None => SlaResult {
                detail: match &self.name {
                    Some(n) => format!("no requests named {n:?} were measured{source}"),
                    None => format!("no requests were measured{source}"),
                },
                rule,
                passed: false,
                actual: None,
                asserted,
                file: None,
                line: None,
            },
        }
    }
}

/// A LoadDensity summary object given to judge, as far as rules read it.
/// Other keys (ours, when a whole summary report is given) are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
struct Given {
    totals: Option<GivenTotals>,
    latency_overall: Option<GivenOverall>,
    per_name: Option<BTreeMap<String, GivenName>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct GivenTotals {
    requests: Option<f64>,
    failure_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct GivenOverall {
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct GivenName {
    count: Option<f64>,
    mean_ms: Option<f64>,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaArgs {
    rules: Vec<Rule>,
    summary: Option<Given>,
}

#[derive(Debug)]
pub struct Sla {
    /// Where the action stands (the results carry it, for annotations).
    at: RuleAt,
    rules: Vec<Rule>,
    asserted: bool,
    /// Judged instead of what was measured.
    summary: Option<Given>,
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
    if let Some(g) = &args.summary {
        // Everything is known now: a rule the summary cannot answer is a
        // plan error.
        for (i, r) in args.rules.iter().enumerate() {
            if let Err(e) = r.answer(g) {
                v.problem(
                    Problem::new(a.at.child(&format!("args.rules[{i}]")), e)
                        .hint("LoadDensity's summary answers latency_p50/p90/p95/p99, failure_rate and requests overall; latency_* and requests (successes) per name"),
                );
            }
        }
    }
    Some(Box::new(Sla {
        at: RuleAt::of(&a.at),
        rules: args.rules,
        asserted,
        summary: args.summary,
    }))
}

/// The plan file and line of an action whose results are SLA results.
#[derive(Debug, Clone)]
pub struct RuleAt {
    file: std::sync::Arc<str>,
    line: Option<usize>,
}

impl RuleAt {
    pub fn of(at: &crate::plan::Position) -> RuleAt {
        RuleAt {
            file: std::sync::Arc::clone(&at.file),
            line: at.line,
        }
    }

    /// Notes on `r` where it was judged.
    pub fn mark(&self, r: &mut SlaResult) {
        r.file = Some(self.file.to_string());
        r.line = self.line;
    }
}

/// Judges asserted rules, as a result file keeps them, over a merged run
/// (`loaddensity merge`): fleet-wide gates.
pub fn judge(rules: &[serde_json::Value], s: &RunSummary) -> Result<Vec<SlaResult>, String> {
    rules
        .iter()
        .map(|v| {
            let rule: Rule = serde_json::from_value(v.clone())
                .map_err(|e| format!("an SLA rule of the result file ({v}): {e}"))?;
            Ok(rule.evaluate(s, true))
        })
        .collect()
}

impl Command for Sla {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let summary = ctx.summary();
        let mut failed = 0;
        let mut first = None;
        // A segment of a scaled-out run sees part of the load: its asserted
        // rules are kept for `loaddensity merge`, which judges them over
        // every segment, and only reported here.
        let segmented = !ctx.opts.segment.is_whole();
        let asserted = self.asserted && !(segmented && self.summary.is_none());
        if self.asserted && self.summary.is_none() {
            for rule in &self.rules {
                if let Ok(v) = serde_json::to_value(rule) {
                    if !ctx.sla_rules.contains(&v) {
                        ctx.sla_rules.push(v);
                    }
                }
            }
            if segmented {
                ctx.ui.note(&format!(
                    "segment {}: LD_assert_sla rules are judged by `loaddensity merge` over every segment; shown here on this segment's share",
                    ctx.opts.segment
                ));
            }
        }
        for rule in &self.rules {
            let r = match &self.summary {
                Some(g) => rule.evaluate_given(g, asserted)?,
                None => rule.evaluate(&summary, asserted),
            };
            let mut r = r;
            self.at.mark(&mut r);
            let line = format!(
                "sla {}: {} — {}",
                if r.passed { "PASS" } else { "FAIL" },
                r.rule,
                r.detail
            );
            if r.passed {
                ctx.ui.note(&line);
            } else if asserted {
                ctx.ui.error(&line);
                failed += 1;
                first.get_or_insert_with(|| format!("{} — {}", r.rule, r.detail));
            } else {
                ctx.ui.warn(&line);
            }
            ctx.sla.push(r);
        }
        if let Some(first) = first {
            let more = crate::ui::and_more(failed);
            ctx.fail(
                Outcome::GateFailed,
                format!("SLA gate failed: {first}{more}"),
            );
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
            basis: Basis::Corrected,
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
                file: None,
                line: None,
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
    fn a_rule_may_name_a_task_the_loaddensity_way() {
        use crate::stats::loaddensity::{LdAlias, LdName};
        let mut s = summary();
        let url = "http://127.0.0.1:8080/login";
        s.loaddensity.names.insert(
            "login".into(),
            LdName {
                key: url.into(),
                aliases: vec![LdAlias {
                    name: url.into(),
                    method: "GET".into(),
                    url: url.into(),
                }],
            },
        );
        let r = rule(Metric::LatencyP95, Op::Lte, 200.0, Some(url)).evaluate(&s, true);
        assert_eq!(r.actual, Some(900.0));
        assert_eq!(r.rule, format!("latency_p95 lte 200 ({url})"));
        let ours = rule(Metric::LatencyP95, Op::Lte, 200.0, Some("login")).evaluate(&s, true);
        assert_eq!(ours.actual, Some(900.0));
    }

    fn given() -> Given {
        serde_json::from_value(json!({
            "totals": {"requests": 10, "successes": 9, "failures": 1, "failure_rate": 0.1},
            "latency_overall": {"count": 10, "p50_ms": 5, "p90_ms": 9, "p95_ms": 12, "p99_ms": 30, "max_ms": 40},
            "per_name": {"http://h/get": {"count": 9, "min_ms": 1, "max_ms": 20, "mean_ms": 6,
                                          "p50_ms": 5, "p90_ms": 8, "p95_ms": 11, "p99_ms": 19}},
            "tool": "loaddensity"
        }))
        .unwrap()
    }

    #[test]
    fn a_given_summary_is_judged_instead() {
        let g = given();
        let overall = [
            (Metric::LatencyP50, 5.0),
            (Metric::LatencyP90, 9.0),
            (Metric::LatencyP95, 12.0),
            (Metric::LatencyP99, 30.0),
            (Metric::FailureRate, 0.1),
            (Metric::Requests, 10.0),
        ];
        for (m, v) in overall {
            assert_eq!(
                rule(m, Op::Lte, 0.0, None).answer(&g),
                Ok(Some(v)),
                "{}",
                m.name()
            );
        }
        let name = Some("http://h/get");
        for (m, v) in [
            (Metric::LatencyP50, 5.0),
            (Metric::LatencyP95, 11.0),
            (Metric::LatencyMean, 6.0),
            (Metric::Requests, 9.0),
        ] {
            assert_eq!(
                rule(m, Op::Lte, 0.0, name).answer(&g),
                Ok(Some(v)),
                "{}",
                m.name()
            );
        }
        let r = rule(Metric::LatencyP95, Op::Lte, 10.0, name)
            .evaluate_given(&g, true)
            .unwrap();
        assert!(!r.passed);
        assert_eq!(
            r.detail,
            "11.000 ms <= 10 ms in the given summary: does not hold"
        );
        let missing = rule(Metric::LatencyP95, Op::Lte, 10.0, Some("/nope"))
            .evaluate_given(&g, false)
            .unwrap();
        assert!(!missing.passed);
        assert_eq!(
            missing.detail,
            "no requests named \"/nope\" were measured in the given summary"
        );
        let empty: Given =
            serde_json::from_value(json!({"totals": {"requests": 0, "failure_rate": 0}})).unwrap();
        let r = rule(Metric::FailureRate, Op::Lte, 1.0, None)
            .evaluate_given(&empty, true)
            .unwrap();
        assert!(!r.passed);
    }

    #[test]
    fn a_metric_the_given_summary_cannot_answer_is_a_plan_error() {
        let summary =
            json!({"totals": {"requests": 3, "failure_rate": 0}, "per_name": {"a": {"count": 3}}});
        let p = one_problem(
            "LD_assert_sla",
            json!({"rules": [{"type": "p", "value": 1}]}),
            "actions[0].args.rules[0].type",
            "unknown variant",
        );
        assert!(p.message.contains("latency_p50"));
        for (r, msg) in [
            (
                json!({"type": "rps", "value": 1}),
                "LoadDensity's summary has no request rate, so `rps` cannot be judged from it",
            ),
            (
                json!({"type": "latency_mean", "value": 1}),
                "no overall mean latency",
            ),
            (
                json!({"type": "failure_rate", "name": "a", "value": 1}),
                "no failure rate per name",
            ),
            (
                json!({"type": "latency_p95", "value": 1}),
                "the given summary has no `latency_overall.p95_ms`",
            ),
            (
                json!({"type": "latency_p95", "name": "a", "value": 1}),
                "the given summary has no `per_name.a.p95_ms`",
            ),
        ] {
            one_problem(
                "LD_evaluate_sla",
                json!({"rules": [r], "summary": summary}),
                "actions[0].args.rules[0]",
                msg,
            );
        }
        one_problem(
            "LD_evaluate_sla",
            json!({"rules": [{"type": "requests", "value": 1}], "summary": {"totals": "x"}}),
            "actions[0].args.summary.totals",
            "invalid type",
        );
        // What it can answer is fine, unknown keys (ours) included.
        crate::plan::testing::valid(
            "LD_assert_sla",
            json!({"rules": [{"type": "requests", "value": 1}, {"type": "requests", "name": "b", "value": 1}],
                   "summary": {"totals": {"requests": 3}, "total": {}}}),
        );
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
            assert_eq!(m.of(&s, Basis::Corrected), value, "{}", m.name());
            // Without a raw figure (a closed-model test), raw is the same.
            assert_eq!(m.of(&s, Basis::Raw), value, "{}", m.name());
            assert_eq!(m.unit(), unit, "{}", m.name());
        }
        // An arrival-rate test: `basis: raw` reads the latency from the send.
        let mut arrival = s.clone();
        arrival.latency_raw_ms = Some(LatencyMs {
            p95: 4.0,
            ..LatencyMs::default()
        });
        assert_eq!(Metric::LatencyP95.of(&arrival, Basis::Corrected), 150.0);
        assert_eq!(Metric::LatencyP95.of(&arrival, Basis::Raw), 4.0);
        let raw = Rule {
            basis: Basis::Raw,
            ..rule(Metric::LatencyP95, Op::Lte, 10.0, None)
        };
        assert_eq!(raw.text(), "latency_p95 lte 10 (all, raw)");
        assert!(built(
            "LD_assert_sla",
            json!({"rules": [{"type": "latency_p95", "value": 10, "basis": "raw"}]})
        )
        .contains("Raw"));
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
        assert!(
            evaluate.ends_with("asserted: false, summary: None }"),
            "{evaluate}"
        );
        assert!(
            assert.ends_with("asserted: true, summary: None }"),
            "{assert}"
        );
    }
}
