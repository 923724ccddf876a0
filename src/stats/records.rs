//! What every test of the run measured, kept mergeable so run-wide totals are
//! exact (histograms added, never percentiles averaged).

use super::model::{add_counts, RunSummary, TestReport};
use super::recorder::Tally;
use std::collections::BTreeMap;

/// One finished test: its report and its mergeable tallies per name.
#[derive(Debug, Clone)]
pub struct TestRecord {
    pub report: TestReport,
    pub tallies: BTreeMap<String, Tally>,
}

/// Every test since the run started or since `LD_clear_records`.
#[derive(Debug, Default)]
pub struct Records {
    pub tests: Vec<TestRecord>,
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
        let mut total = Tally::<u64>::default();
        let mut duration = 0.0;
        for t in &self.tests {
            duration += t.report.duration_s;
            for (name, tally) in &t.tallies {
                merged.entry(name).or_default().add(tally);
                total.add(tally);
            }
        }
        let total = total.stats(duration);
        let mut unresolved = BTreeMap::new();
        let mut extract_missed = BTreeMap::new();
        let mut csv_exhausted = BTreeMap::new();
        for t in &self.tests {
            add_counts(&mut unresolved, &t.report.unresolved);
            add_counts(&mut extract_missed, &t.report.extract_missed);
            add_counts(&mut csv_exhausted, &t.report.csv_exhausted);
        }
        RunSummary {
            unresolved,
            extract_missed,
            csv_exhausted,
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
