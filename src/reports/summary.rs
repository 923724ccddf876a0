//! The summary JSON: the machine contract CI jobs read
//! (`LD_generate_summary_report`). Like [`full_json`](super::full_json) but
//! each test is compact: no timeline.

use super::util::sanitized;
use crate::stats::loaddensity::LdSummary;
use crate::stats::{
    BudgetReport, ConditionerStats, EndedBy, NameStats, RetryStats, RunSummary, SlaResult,
    SupervisorReport, TestReport,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// The run, field for field as in [`RunSummary`], with compact tests.
///
/// Keep this in step with [`RunSummary`]: a field added there must be added
/// here too (the `summary_has_every_model_field` test fails otherwise).
#[derive(Serialize)]
struct SummaryJson<'a> {
    tool: &'a str,
    version: &'a str,
    started_at: f64,
    duration_s: f64,
    exit_code: i32,
    exit_reason: &'a str,
    seed: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    plans: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    targets: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed_str: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<&'a RetryStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditioner: Option<&'a ConditionerStats>,
    budget: &'a BudgetReport,
    supervisor: &'a SupervisorReport,
    #[serde(skip_serializing_if = "<[SlaResult]>::is_empty")]
    sla: &'a [SlaResult],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    unresolved: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extract_missed: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    csv_exhausted: &'a BTreeMap<String, u64>,
    total: &'a NameStats,
    by_name: &'a BTreeMap<String, NameStats>,
    tests: Vec<TestSummaryJson<'a>>,
    /// LoadDensity's `totals`, `latency_overall` and `per_name`, beside ours.
    #[serde(flatten)]
    loaddensity: LdSummary,
}

/// One test as in [`TestReport`], without `timeline`.
#[derive(Serialize)]
struct TestSummaryJson<'a> {
    index: usize,
    action: &'a str,
    started_at: f64,
    duration_s: f64,
    users: u64,
    workers: usize,
    ended_by: EndedBy,
    total: &'a NameStats,
    by_name: &'a BTreeMap<String, NameStats>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    unresolved: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extract_missed: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    csv_exhausted: &'a BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    targets: &'a [String],
    generator: &'a crate::stats::GeneratorStats,
}

impl<'a> From<&'a TestReport> for TestSummaryJson<'a> {
    fn from(t: &'a TestReport) -> Self {
        TestSummaryJson {
            index: t.index,
            action: &t.action,
            started_at: t.started_at,
            duration_s: t.duration_s,
            users: t.users,
            workers: t.workers,
            ended_by: t.ended_by,
            total: &t.total,
            by_name: &t.by_name,
            unresolved: &t.unresolved,
            extract_missed: &t.extract_missed,
            csv_exhausted: &t.csv_exhausted,
            targets: &t.targets,
            generator: &t.generator,
        }
    }
}

/// The summary report: pretty-printed JSON with `tool`, `version`,
/// `started_at`, `duration_s`, `exit_code`, `exit_reason`, `seed`, `total`,
/// `by_name` and `tests` (each test without its `timeline`).
///
/// Non-finite floats are written as `0`, never `null`. The format is
/// documented field by field in `docs/reports.md`.
pub fn summary_json(s: &RunSummary) -> String {
    let s = sanitized(s);
    let view = SummaryJson {
        tool: &s.tool,
        version: &s.version,
        started_at: s.started_at,
        duration_s: s.duration_s,
        exit_code: s.exit_code,
        exit_reason: &s.exit_reason,
        seed: s.seed,
        plans: &s.plans,
        targets: &s.targets,
        seed_str: s.seed_str.as_deref(),
        retry: s.retry.as_ref(),
        conditioner: s.conditioner.as_ref(),
        budget: &s.budget,
        supervisor: &s.supervisor,
        sla: &s.sla,
        unresolved: &s.unresolved,
        extract_missed: &s.extract_missed,
        csv_exhausted: &s.csv_exhausted,
        total: &s.total,
        by_name: &s.by_name,
        tests: s.tests.iter().map(TestSummaryJson::from).collect(),
        loaddensity: super::loaddensity::sanitized(&s.loaddensity.summary),
    };
    let mut out = serde_json::to_string_pretty(&view).expect("the summary always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, reparse, QUOTED, SCRIPT, UNICODE};
    use serde_json::Value;

    #[test]
    fn summary_parses_back_with_the_required_keys() {
        let s = fixture();
        let v: Value = serde_json::from_str(&summary_json(&s)).unwrap();
        for key in [
            "tool",
            "version",
            "started_at",
            "duration_s",
            "exit_code",
            "exit_reason",
            "seed",
            "total",
            "by_name",
            "tests",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["tool"], "loaddensity");
        assert_eq!(v["exit_code"], 1);
        assert_eq!(v["exit_reason"], "gate_failed");
        assert_eq!(v["seed"].as_u64(), Some(s.seed));
        // Above 2^53 the seed is also a string, which any JSON reader reads exactly.
        assert_eq!(v["seed_str"], "18446744073709551557");
        assert_eq!(v["started_at"].as_f64(), Some(s.started_at));
        assert_eq!(v["duration_s"].as_f64(), Some(s.duration_s));

        let tests = v["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 2);
        for (tv, t) in tests.iter().zip(&s.tests) {
            assert!(
                tv.get("timeline").is_none(),
                "summary tests must be compact"
            );
            assert_eq!(tv["index"].as_u64(), Some(t.index as u64));
            assert_eq!(tv["ended_by"], t.ended_by.as_str());
            // Numbers come back equal, awkward names intact.
            assert_eq!(tv["total"], reparse(&t.total));
            assert_eq!(tv["by_name"], reparse(&t.by_name));
            let total: NameStats = serde_json::from_value(tv["total"].clone()).unwrap();
            assert_eq!(total.requests, t.total.requests);
            assert!((total.latency_ms.p95 - t.total.latency_ms.p95).abs() < 1e-9);
        }
        assert!(v["tests"][0]["by_name"].get(QUOTED).is_some());
        assert!(v["tests"][0]["by_name"].get(SCRIPT).is_some());
        assert!(v["tests"][0]["by_name"].get(UNICODE).is_some());
        assert_eq!(v["total"], reparse(&s.total));
        assert_eq!(v["by_name"], reparse(&s.by_name));
        let top = &v["tests"][0]["by_name"][QUOTED]["top_errors"][0];
        assert_eq!(top["kind"], "status");
        assert_eq!(top["count"], 9);
    }

    #[test]
    fn summary_has_every_model_field() {
        // Everything the full model serialises, minus the timelines.
        let s = fixture();
        let mut full = reparse(&s);
        for t in full["tests"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("timeline");
        }
        let mut summary: Value = serde_json::from_str(&summary_json(&s)).unwrap();
        // LoadDensity's keys, beside ours.
        for key in ["totals", "latency_overall", "per_name"] {
            assert!(summary.as_object_mut().unwrap().remove(key).is_some());
        }
        assert_eq!(summary, full);
    }

    #[test]
    fn loaddensity_keys_sit_beside_ours_without_a_clash() {
        let mut s = fixture();
        s.loaddensity.summary.totals.requests = 7;
        s.loaddensity.summary.per_name.insert(
            "http://h/get".into(),
            crate::stats::loaddensity::LdNameLatency {
                count: 7,
                p95_ms: f64::NAN,
                ..Default::default()
            },
        );
        let v: Value = serde_json::from_str(&summary_json(&s)).unwrap();
        assert_eq!(v["totals"]["requests"], 7);
        assert_eq!(v["per_name"]["http://h/get"]["count"], 7);
        assert_eq!(v["per_name"]["http://h/get"]["p95_ms"].as_f64(), Some(0.0));
        assert_eq!(v["latency_overall"]["count"], 0);
        // Ours are untouched: `total` and `totals` are different keys.
        assert_eq!(v["total"], reparse(&s.total));
        let ours = serde_json::to_value(&s).unwrap();
        for key in ["totals", "latency_overall", "per_name"] {
            assert!(ours.get(key).is_none(), "{key} clashes with the model");
        }
    }

    #[test]
    fn summary_of_empty_run() {
        let v: Value = serde_json::from_str(&summary_json(&RunSummary::default())).unwrap();
        assert_eq!(v["tests"].as_array().unwrap().len(), 0);
        assert_eq!(v["total"]["requests"], 0);
    }

    #[test]
    fn no_nan_anywhere() {
        let out = summary_json(&poisoned());
        assert!(!out.contains("null"), "{out}");
        assert!(!out.contains("NaN") && !out.contains("inf"));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["total"]["latency_ms"]["max"].as_f64(), Some(0.0));
    }
}
