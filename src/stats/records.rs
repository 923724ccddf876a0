//! What every test of the run measured, kept mergeable so run-wide totals are
//! exact (histograms added, never percentiles averaged).

use super::loaddensity::{push_alias, LdAlias, LdView};
use super::model::{add_counts, RunSummary, TestReport};
use super::recorder::Tally;
use std::collections::BTreeMap;

/// One finished test: its report and its mergeable tallies per name.
#[derive(Debug, Clone)]
pub struct TestRecord {
    pub report: TestReport,
    pub tallies: BTreeMap<String, Tally>,
    /// LoadDensity's names for each of our names (see [`LdAlias`]).
    pub aliases: BTreeMap<String, Vec<LdAlias>>,
}

/// Every test since the run started or since `LD_clear_records`.
#[derive(Debug, Default)]
pub struct Records {
    pub tests: Vec<TestRecord>,
    /// The plan files the run was given (kept by `clear`).
    pub plans: Vec<String>,
}

impl Records {
    pub fn push(&mut self, t: TestRecord) {
        self.tests.push(t);
    }

    pub fn clear(&mut self) {
        self.tests.clear();
    }

    /// The measured part of the summary: per test and merged over all tests.
    /// Run-wide rates use the summed durations of the tests.
    pub fn summary(&self) -> RunSummary {
        let mut merged: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut aliases: BTreeMap<&str, Vec<LdAlias>> = BTreeMap::new();
        let mut total = Tally::<u64>::default();
        let mut duration = 0.0;
        for t in &self.tests {
            duration += t.report.duration_s;
            for (name, list) in &t.aliases {
                let into = aliases.entry(name).or_default();
                list.iter().for_each(|a| push_alias(into, a));
            }
            for (name, tally) in &t.tallies {
                merged.entry(name).or_default().add(tally);
                total.add(tally);
            }
        }
        let loaddensity = LdView::build(&total, &merged, &aliases);
        let total = total.stats(duration);
        let mut unresolved = BTreeMap::new();
        let mut extract_missed = BTreeMap::new();
        let mut csv_exhausted = BTreeMap::new();
        for t in &self.tests {
            add_counts(&mut unresolved, &t.report.unresolved);
            add_counts(&mut extract_missed, &t.report.extract_missed);
            add_counts(&mut csv_exhausted, &t.report.csv_exhausted);
        }
        let mut targets: Vec<String> = self
            .tests
            .iter()
            .flat_map(|t| t.report.targets.iter().cloned())
            .collect();
        targets.sort();
        targets.dedup();
        RunSummary {
            plans: self.plans.clone(),
            targets,
            unresolved,
            extract_missed,
            csv_exhausted,
            loaddensity,
            retry: total.retry.clone(),
            conditioner: total.conditioner.clone(),
            total,
            by_name: merged
                .into_iter()
                .map(|(n, t)| (n.to_string(), t.stats(duration)))
                .collect(),
            tests: self.tests.iter().map(|t| t.report.clone()).collect(),
            ..RunSummary::default()
        }
    }
}
