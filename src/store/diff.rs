//! Comparing two stored runs, overall and per name: a metric worse by more
//! than the tolerance (a fraction of the baseline) and by more than its
//! absolute floor is a regression.

use super::StoredRun;
use crate::stats::NameStats;
use serde::Serialize;
use std::fmt::Write;

/// The least worsening that can count as a regression, whatever the
/// tolerance: tiny baselines jitter by more than any fraction of them
/// (0.1 ms → 0.2 ms is +100% and means nothing).
pub const LATENCY_FLOOR_MS: f64 = 1.0;
/// In failure rate: one percentage point.
pub const FAILURE_RATE_FLOOR: f64 = 0.01;
/// In requests per second.
pub const RPS_FLOOR: f64 = 1.0;

/// The metrics compared, in order.
pub const METRICS: [Metric; 7] = [
    Metric::P50,
    Metric::P90,
    Metric::P95,
    Metric::P99,
    Metric::Mean,
    Metric::FailureRate,
    Metric::Rps,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    #[serde(rename = "latency_p50")]
    P50,
    #[serde(rename = "latency_p90")]
    P90,
    #[serde(rename = "latency_p95")]
    P95,
    #[serde(rename = "latency_p99")]
    P99,
    #[serde(rename = "latency_mean")]
    Mean,
    FailureRate,
    Rps,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::P50 => "latency_p50",
            Metric::P90 => "latency_p90",
            Metric::P95 => "latency_p95",
            Metric::P99 => "latency_p99",
            Metric::Mean => "latency_mean",
            Metric::FailureRate => "failure_rate",
            Metric::Rps => "rps",
        }
    }

    fn of(self, s: &NameStats) -> f64 {
        match self {
            Metric::P50 => s.latency_ms.p50,
            Metric::P90 => s.latency_ms.p90,
            Metric::P95 => s.latency_ms.p95,
            Metric::P99 => s.latency_ms.p99,
            Metric::Mean => s.latency_ms.mean,
            Metric::FailureRate => s.failure_rate,
            Metric::Rps => s.rps,
        }
    }

    /// Whether a lower value is the worse one.
    fn lower_is_worse(self) -> bool {
        self == Metric::Rps
    }

    fn floor(self) -> f64 {
        match self {
            Metric::FailureRate => FAILURE_RATE_FLOOR,
            Metric::Rps => RPS_FLOOR,
            _ => LATENCY_FLOOR_MS,
        }
    }

    fn fmt(self, v: f64) -> String {
        match self {
            Metric::FailureRate => format!("{:.2}%", 100.0 * v),
            Metric::Rps => format!("{v:.1}/s"),
            _ => format!("{v:.3} ms"),
        }
    }
}

/// One metric of one name (or overall) in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// `None`: over every name.
    pub name: Option<String>,
    pub metric: Metric,
    pub baseline: f64,
    pub current: f64,
    /// How much worse it may get: `max(tolerance × baseline, floor)`.
    pub allowed: f64,
    pub regression: bool,
}

impl Comparison {
    pub fn scope(&self) -> &str {
        self.name.as_deref().unwrap_or("all")
    }

    /// `latency_p95 (all)`.
    pub fn title(&self) -> String {
        format!("{} ({})", self.metric.name(), self.scope())
    }

    /// The relative change, when the baseline is not zero.
    pub fn change(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.current - self.baseline) / self.baseline)
    }

    /// `6.100 ms → 61.300 ms (+904.9%; allowed worse by 1.000 ms): regression`.
    pub fn detail(&self) -> String {
        let m = self.metric;
        let change = self
            .change()
            .map(|c| format!("{:+.1}%; ", 100.0 * c))
            .unwrap_or_default();
        let allowed = match m {
            Metric::FailureRate => format!("{:.2} points", 100.0 * self.allowed),
            _ => m.fmt(self.allowed),
        };
        format!(
            "{} → {} ({change}allowed {} by {allowed}): {}",
            m.fmt(self.baseline),
            m.fmt(self.current),
            if m.lower_is_worse() {
                "lower"
            } else {
                "higher"
            },
            if self.regression { "regression" } else { "ok" }
        )
    }
}

/// Two runs compared.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub baseline_run_id: i64,
    pub current_run_id: i64,
    pub tolerance: f64,
    pub comparisons: Vec<Comparison>,
    /// Names measured in one run only (not compared).
    pub only_in_baseline: Vec<String>,
    pub only_in_current: Vec<String>,
}

impl Diff {
    pub fn regressions(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons.iter().filter(|c| c.regression)
    }
}

fn compare_stats(
    name: Option<&str>,
    b: &NameStats,
    c: &NameStats,
    tolerance: f64,
    out: &mut Vec<Comparison>,
) {
    if b.requests == 0 || c.requests == 0 {
        return;
    }
    for m in METRICS {
        let (baseline, current) = (m.of(b), m.of(c));
        let allowed = (tolerance * baseline.abs()).max(m.floor());
        let worse_by = if m.lower_is_worse() {
            baseline - current
        } else {
            current - baseline
        };
        out.push(Comparison {
            name: name.map(str::to_string),
            metric: m,
            baseline,
            current,
            allowed,
            regression: worse_by > allowed,
        });
    }
}

/// Compares `current` with `baseline`: overall first, then each name both
/// measured.
pub fn diff(baseline: &StoredRun, current: &StoredRun, tolerance: f64) -> Diff {
    let mut comparisons = Vec::new();
    compare_stats(
        None,
        &baseline.total,
        &current.total,
        tolerance,
        &mut comparisons,
    );
    for (name, b) in &baseline.by_name {
        if let Some(c) = current.by_name.get(name) {
            compare_stats(Some(name), b, c, tolerance, &mut comparisons);
        }
    }
    let only = |a: &StoredRun, b: &StoredRun| {
        a.by_name
            .keys()
            .filter(|n| !b.by_name.contains_key(*n))
            .cloned()
            .collect()
    };
    Diff {
        baseline_run_id: baseline.run.id,
        current_run_id: current.run.id,
        tolerance,
        comparisons,
        only_in_baseline: only(baseline, current),
        only_in_current: only(current, baseline),
    }
}

/// The comparison as a table, then a verdict line.
pub fn render(d: &Diff) -> String {
    let mut out = format!(
        "run {} (baseline) → run {} (current), tolerance {}%\n",
        d.baseline_run_id,
        d.current_run_id,
        100.0 * d.tolerance
    );
    let name_width = d
        .comparisons
        .iter()
        .map(|c| c.scope().chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:<13} {:>14} {:>14} {:>9}  verdict",
        "name", "metric", "baseline", "current", "change"
    );
    for c in &d.comparisons {
        let scope: String = c.scope().chars().take(name_width).collect();
        let _ = writeln!(
            out,
            "{scope:<name_width$}  {:<13} {:>14} {:>14} {:>9}  {}",
            c.metric.name(),
            c.metric.fmt(c.baseline),
            c.metric.fmt(c.current),
            c.change()
                .map(|x| format!("{:+.1}%", 100.0 * x))
                .unwrap_or_else(|| "-".into()),
            if c.regression { "REGRESSION" } else { "ok" }
        );
    }
    for n in &d.only_in_baseline {
        let _ = writeln!(out, "{n}: only in the baseline (not compared)");
    }
    for n in &d.only_in_current {
        let _ = writeln!(out, "{n}: only in the current run (not compared)");
    }
    let regressions: Vec<String> = d.regressions().map(|c| c.title()).collect();
    if d.comparisons.is_empty() {
        out.push_str("nothing to compare: a run measured no requests\n");
    } else if regressions.is_empty() {
        let _ = writeln!(out, "no regression in {} metrics", d.comparisons.len());
    } else {
        let _ = writeln!(
            out,
            "{} regression(s): {}",
            regressions.len(),
            regressions.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencyMs;

    fn stats(p: f64, rps: f64, failure_rate: f64) -> NameStats {
        NameStats {
            requests: 100,
            failure_rate,
            rps,
            latency_ms: LatencyMs {
                p50: p,
                p90: p,
                p95: p,
                p99: p,
                mean: p,
                ..LatencyMs::default()
            },
            ..NameStats::default()
        }
    }

    fn cmp(b: NameStats, c: NameStats, tol: f64) -> Vec<Comparison> {
        let mut out = Vec::new();
        compare_stats(None, &b, &c, tol, &mut out);
        out
    }

    #[test]
    fn worse_beyond_the_tolerance_is_a_regression() {
        let out = cmp(stats(10.0, 100.0, 0.0), stats(11.5, 100.0, 0.0), 0.1);
        let p95 = out.iter().find(|c| c.metric == Metric::P95).unwrap();
        assert!(p95.regression);
        assert_eq!(p95.title(), "latency_p95 (all)");
        assert!(p95.detail().contains("+15.0%"), "{}", p95.detail());
        let out = cmp(stats(10.0, 100.0, 0.0), stats(10.9, 100.0, 0.0), 0.1);
        assert!(out.iter().all(|c| !c.regression));
    }

    #[test]
    fn tiny_baselines_have_a_floor() {
        let out = cmp(stats(0.1, 100.0, 0.0), stats(0.2, 100.0, 0.0), 0.1);
        assert!(out.iter().all(|c| !c.regression), "{out:#?}");
        let out = cmp(stats(0.1, 100.0, 0.0), stats(1.2, 100.0, 0.005), 0.1);
        let bad: Vec<Metric> = out
            .iter()
            .filter(|c| c.regression)
            .map(|c| c.metric)
            .collect();
        assert_eq!(
            bad.len(),
            5,
            "latency only, not a half-point failure rate: {bad:?}"
        );
    }

    #[test]
    fn fewer_requests_per_second_is_worse_more_is_not() {
        let out = cmp(stats(10.0, 100.0, 0.0), stats(10.0, 80.0, 0.0), 0.1);
        let bad: Vec<Metric> = out
            .iter()
            .filter(|c| c.regression)
            .map(|c| c.metric)
            .collect();
        assert_eq!(bad, [Metric::Rps]);
        let out = cmp(stats(10.0, 100.0, 0.0), stats(5.0, 200.0, 0.0), 0.1);
        assert!(out.iter().all(|c| !c.regression));
    }

    #[test]
    fn a_failure_rate_rise_beyond_a_point_is_a_regression() {
        let out = cmp(stats(10.0, 100.0, 0.0), stats(10.0, 100.0, 0.05), 0.1);
        let bad: Vec<Metric> = out
            .iter()
            .filter(|c| c.regression)
            .map(|c| c.metric)
            .collect();
        assert_eq!(bad, [Metric::FailureRate]);
    }
}
