//! `loaddensity merge`: the result files of a scaled-out run's segments
//! merged into one run, exactly: tallies added (histograms bucket by bucket,
//! never percentiles averaged), counts added, timelines aligned on the wall
//! clock; the plan's asserted SLA rules judged over the merged data; the
//! exit code by the usual precedence. The output depends only on the files,
//! sorted by segment, so merging the same files twice gives the same bytes.

pub mod cli;

use crate::exit::Outcome;
use crate::result_file::ResultFile;
use crate::stats::model::add_counts;
use crate::stats::records::{Records, TestRecord};
use crate::stats::{
    BudgetState, EndedBy, GeneratorStats, LagMs, RunSummary, ScheduleStats, SupervisorReport,
    TestReport, TimePoint,
};
use std::collections::BTreeMap;

/// The merged run: its summary (every report's input), the exit outcome
/// and what decided it, and warnings about the inputs.
#[derive(Debug)]
pub struct Merged {
    pub summary: RunSummary,
    /// The merged tests, with their tallies (what a run store keeps).
    pub records: Records,
    pub outcome: Outcome,
    pub why: Option<String>,
    pub warnings: Vec<String>,
}

/// The outcome a result file's `exit_reason` names.
fn outcome_of(reason: &str) -> Option<Outcome> {
    Outcome::ALL.into_iter().find(|o| o.reason() == reason)
}

/// Checks the files belong together; sorts them by segment.
fn check(files: &mut [ResultFile], names: &[String]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let Some(first) = files.first() else {
        return Err("no result files to merge".to_string());
    };
    let (plan_id, count) = (first.plan_id.clone(), first.segment.count);
    for (f, name) in files.iter().zip(names) {
        if f.plan_id != plan_id {
            return Err(format!(
                "{name} is from another plan (plan_id {} against {plan_id} of {}): merge the segments of one run",
                f.plan_id, names[0]
            ));
        }
        if f.segment.count != count {
            return Err(format!(
                "{name} is segment {}/{} but {} is of {count} segments: merge the segments of one run",
                f.segment.index, f.segment.count, names[0]
            ));
        }
    }
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].segment.index);
    for w in order.windows(2) {
        if files[w[0]].segment.index == files[w[1]].segment.index {
            return Err(format!(
                "{} and {} are both segment {}/{count}: give each segment once",
                names[w[0]], names[w[1]], files[w[0]].segment.index
            ));
        }
    }
    let have: Vec<u64> = order.iter().map(|&i| files[i].segment.index).collect();
    let missing: Vec<String> = (1..=count)
        .filter(|i| !have.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "segment(s) {} missing: the merged figures cover {} of {count} segments",
            missing.join(", "),
            have.len()
        ));
    }
    files.sort_by_key(|f| f.segment.index);
    Ok(warnings)
}

/// Merges result files (any order); `names` name them in messages.
pub fn merge(mut files: Vec<ResultFile>, names: &[String]) -> Result<Merged, String> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| files[i].segment.index);
    let names: Vec<String> = order.iter().map(|&i| names[i].clone()).collect();
    files.sort_by_key(|f| f.segment.index);
    let warnings = check(&mut files, &names)?;
    let count = files[0].segment.count;
    let label = |f: &ResultFile| format!("segment {}/{count}", f.segment.index);

    // Tests by their number in the run.
    let mut by_test: BTreeMap<usize, Vec<(String, TestRecord)>> = BTreeMap::new();
    for f in &files {
        for t in &f.tests {
            let rec = t.record().map_err(|e| format!("{}: {e}", label(f)))?;
            by_test
                .entry(t.report.index)
                .or_default()
                .push((label(f), rec));
        }
    }
    let mut records = Records {
        tests: by_test.into_values().map(merge_test).collect(),
        plans: files[0].plans.clone(),
    };
    records.tests.sort_by_key(|t| t.report.index);

    let mut summary = records.summary();
    let started = files
        .iter()
        .map(|f| f.started_at)
        .fold(f64::INFINITY, f64::min);
    let ended = files
        .iter()
        .map(|f| f.started_at + f.duration_s)
        .fold(f64::NEG_INFINITY, f64::max);
    summary.tool = "loaddensity".to_string();
    summary.version = env!("CARGO_PKG_VERSION").to_string();
    summary.started_at = started;
    summary.duration_s = (ended - started).max(0.0);
    summary.seed = files[0].seed;
    summary.seed_str = crate::units::seed_str(summary.seed);
    for f in &files {
        add_counts(&mut summary.unresolved, &f.unresolved);
    }
    // The budget: the first segment that tripped it, else the first armed.
    let tripped = files
        .iter()
        .find(|f| f.budget.state == BudgetState::Tripped);
    summary.budget = tripped
        .or_else(|| files.iter().find(|f| f.budget.installed))
        .map(|f| f.budget.clone())
        .unwrap_or_default();
    summary.supervisor = merge_supervisor(&files);

    // The exit: the most specific of the segments', then the fleet's gates.
    let mut outcome = Outcome::Pass;
    let mut why: Option<String> = None;
    for f in &files {
        let o = outcome_of(&f.exit_reason).unwrap_or(Outcome::ActionFailed);
        if o > outcome {
            outcome = o;
            let said = f
                .verdict
                .split_once(": ")
                .map_or(f.verdict.as_str(), |(_, w)| w);
            why = Some(format!("{}: {said}", label(f)));
        }
    }
    let mut rules: Vec<serde_json::Value> = Vec::new();
    for f in &files {
        for r in &f.sla_rules {
            if !rules.contains(r) {
                rules.push(r.clone());
            }
        }
    }
    let sla = crate::commands::sla::judge(&rules, &summary)?;
    let failed: Vec<&crate::stats::SlaResult> = sla.iter().filter(|r| !r.passed).collect();
    if let Some(first) = failed.first() {
        if Outcome::GateFailed > outcome {
            outcome = Outcome::GateFailed;
            let more = crate::ui::and_more(failed.len());
            why = Some(format!(
                "fleet-wide SLA gate failed: {} — {}{more}",
                first.rule, first.detail
            ));
        }
    }
    summary.sla = sla;
    summary.exit_code = outcome.code();
    summary.exit_reason = outcome.reason().to_string();
    Ok(Merged {
        summary,
        records,
        outcome,
        why,
        warnings,
    })
}

fn merge_supervisor(files: &[ResultFile]) -> SupervisorReport {
    let mut s = SupervisorReport::default();
    for f in files {
        let o = &f.supervisor;
        s.orphans_killed.extend(o.orphans_killed.iter().cloned());
        s.watchdog_timeout_s = s.watchdog_timeout_s.or(o.watchdog_timeout_s);
        s.watchdog_fired_at_s = s.watchdog_fired_at_s.or(o.watchdog_fired_at_s);
        s.signal = s.signal.clone().or_else(|| o.signal.clone());
    }
    s
}

/// How much an ending says, for choosing the merged test's `ended_by`.
fn ending_rank(e: EndedBy) -> u8 {
    match e {
        EndedBy::Iterations => 0,
        EndedBy::Time => 1,
        EndedBy::Stopped => 2,
        EndedBy::Signal => 3,
        EndedBy::Watchdog => 4,
        EndedBy::Budget => 5,
    }
}

/// One test over every segment (in segment order).
fn merge_test(parts: Vec<(String, TestRecord)>) -> TestRecord {
    let started = parts
        .iter()
        .map(|(_, t)| t.report.started_at)
        .fold(f64::INFINITY, f64::min);
    let ended = parts
        .iter()
        .map(|(_, t)| t.report.started_at + t.report.duration_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let duration = (ended - started).max(0.0);
    let first = &parts[0].1;
    let mut tallies: BTreeMap<String, crate::stats::recorder::Tally> = BTreeMap::new();
    let mut aliases: BTreeMap<String, Vec<crate::stats::loaddensity::LdAlias>> = BTreeMap::new();
    let mut report = TestReport {
        index: first.report.index,
        action: first.report.action.clone(),
        started_at: started,
        duration_s: duration,
        ended_by: first.report.ended_by,
        ..TestReport::default()
    };
    for (_, t) in &parts {
        for (n, tally) in &t.tallies {
            tallies.entry(n.clone()).or_default().add(tally);
        }
        for (n, list) in &t.aliases {
            let into = aliases.entry(n.clone()).or_default();
            list.iter()
                .for_each(|a| crate::stats::loaddensity::push_alias(into, a));
        }
        let r = &t.report;
        report.users += r.users;
        report.workers += r.workers;
        if ending_rank(r.ended_by) > ending_rank(report.ended_by) {
            report.ended_by = r.ended_by;
        }
        add_counts(&mut report.unresolved, &r.unresolved);
        add_counts(&mut report.extract_missed, &r.extract_missed);
        add_counts(&mut report.csv_exhausted, &r.csv_exhausted);
        report.targets.extend(r.targets.iter().cloned());
    }
    report.targets.sort();
    report.targets.dedup();
    report.targets.truncate(crate::stats::recorder::MAX_TARGETS);
    let mut total = crate::stats::recorder::Tally::<u64>::default();
    tallies.values().for_each(|t| total.add(t));
    report.total = total.stats(duration);
    report.by_name = tallies
        .iter()
        .map(|(n, t)| (n.clone(), t.stats(duration)))
        .collect();
    report.timeline = merge_timelines(started, &parts);
    report.generator = merge_generators(&parts);
    TestRecord {
        report,
        tallies,
        aliases,
    }
}

/// The segments' timelines on one wall clock: each point moves to the
/// merged test's interval its end falls in (by each segment's own
/// `started_at`), and points of one interval add up. Percentiles of an
/// interval are the request-weighted mean of the segments' (a timeline's
/// per-interval figures are not kept as histograms).
fn merge_timelines(started: f64, parts: &[(String, TestRecord)]) -> Vec<TimePoint> {
    // (interval end in ms) → (point, weight for p50/p95, raw p95 weight)
    let mut at: BTreeMap<i64, (TimePoint, f64, f64, f64)> = BTreeMap::new();
    for (_, t) in parts {
        let shift = t.report.started_at - started;
        for p in &t.report.timeline {
            let end = ((p.t_s + shift) * 1000.0).round() as i64;
            // Whole seconds from the merged start: intervals align.
            let key = ((end + 999) / 1000) * 1000;
            let e = at.entry(key).or_insert_with(|| {
                (
                    TimePoint {
                        t_s: key as f64 / 1000.0,
                        ..TimePoint::default()
                    },
                    0.0,
                    0.0,
                    0.0,
                )
            });
            let w = p.requests as f64;
            e.0.requests += p.requests;
            e.0.failures += p.failures;
            e.0.rps += p.rps;
            e.0.retries += p.retries;
            e.0.users += p.users;
            e.0.p50_ms += p.p50_ms * w;
            e.0.p95_ms += p.p95_ms * w;
            e.1 += w;
            if let Some(r) = p.raw_p95_ms {
                *e.0.raw_p95_ms.get_or_insert(0.0) += r * w;
                e.2 += w;
            }
            e.3 += 1.0;
        }
    }
    at.into_values()
        .map(|(mut p, w, wr, _)| {
            if w > 0.0 {
                p.p50_ms /= w;
                p.p95_ms /= w;
            }
            if let Some(r) = &mut p.raw_p95_ms {
                if wr > 0.0 {
                    *r /= wr;
                }
            }
            p
        })
        .collect()
}

/// The generators of every segment: their workers side by side, saturated
/// when any was, schedules added (lag: the worst segment's).
fn merge_generators(parts: &[(String, TestRecord)]) -> GeneratorStats {
    let mut g = GeneratorStats {
        executor: parts[0].1.report.generator.executor.clone(),
        ..GeneratorStats::default()
    };
    let mut reasons = Vec::new();
    let mut schedule: Option<ScheduleStats> = None;
    for (label, t) in parts {
        let o = &t.report.generator;
        g.cpu_per_worker.extend(o.cpu_per_worker.iter().copied());
        g.busy_per_worker.extend(o.busy_per_worker.iter().copied());
        g.generator_saturated |= o.generator_saturated;
        g.users_exhausted |= o.users_exhausted;
        if let Some(r) = &o.saturation_reason {
            reasons.push(format!("{label}: {r}"));
        }
        if let Some(s) = &o.schedule {
            let m = schedule.get_or_insert_with(|| ScheduleStats {
                lag_ms: LagMs::default(),
                ..ScheduleStats::default()
            });
            m.scheduled_iterations += s.scheduled_iterations;
            m.iterations += s.iterations;
            m.achieved_rate += s.achieved_rate;
            m.late_iterations += s.late_iterations;
            m.late_with_free_users += s.late_with_free_users;
            m.dropped_iterations += s.dropped_iterations;
            m.max_users += s.max_users;
            m.peak_users += s.peak_users;
            m.lag_ms.p50 = m.lag_ms.p50.max(s.lag_ms.p50);
            m.lag_ms.p99 = m.lag_ms.p99.max(s.lag_ms.p99);
            m.lag_ms.max = m.lag_ms.max.max(s.lag_ms.max);
        }
    }
    if !reasons.is_empty() {
        g.saturation_reason = Some(reasons.join("; "));
    }
    g.schedule = schedule;
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result_file::{SegmentInfo, FORMAT, FORMAT_VERSION};
    use crate::stats::recorder::{FailKind, Tally};
    use crate::stats::snapshot::TestSnapshot;
    use std::time::Duration;

    fn file(index: u64, count: u64, tally: &Tally, started_at: f64) -> ResultFile {
        let rec = TestRecord {
            report: TestReport {
                index: 1,
                started_at,
                duration_s: 2.0,
                users: 1,
                timeline: vec![
                    TimePoint {
                        t_s: 1.0,
                        requests: 10,
                        rps: 10.0,
                        p50_ms: 2.0,
                        p95_ms: 4.0,
                        ..TimePoint::default()
                    },
                    TimePoint {
                        t_s: 2.0,
                        requests: 30,
                        rps: 30.0,
                        p50_ms: 4.0,
                        p95_ms: 8.0,
                        ..TimePoint::default()
                    },
                ],
                ..TestReport::default()
            },
            tallies: [("ok".to_string(), tally.clone())].into_iter().collect(),
            aliases: BTreeMap::new(),
        };
        ResultFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            version: "test".into(),
            segment: SegmentInfo { index, count },
            plan_id: "p".into(),
            plans: vec!["plan.json".into()],
            seed: 1,
            segment_seed: index,
            started_at,
            duration_s: 2.0,
            exit_code: 0,
            exit_reason: "pass".into(),
            verdict: "exit 0: pass".into(),
            budget: Default::default(),
            supervisor: Default::default(),
            sla_rules: vec![serde_json::json!({"type": "requests", "op": "gte", "value": 100})],
            sla: vec![],
            unresolved: BTreeMap::new(),
            tests: vec![TestSnapshot::of(&rec).unwrap()],
        }
    }

    #[test]
    fn merged_percentiles_are_those_of_all_samples() {
        let mut all: Tally = Tally::default();
        let mut parts: Vec<Tally> = (0..3).map(|_| Tally::<u64>::default()).collect();
        for i in 0..3000u64 {
            // A skewed, uneven spread: each segment's own percentiles differ.
            let us = 100 + (i * i * 7919) % 250_000 / (1 + i % 3);
            let fail = (i % 17 == 0).then_some((FailKind::Status, "HTTP 500"));
            let mut one: Tally<u32> = Tally::default();
            one.record(Duration::from_micros(us), 1, fail);
            all.add(&one);
            parts[(i % 3) as usize].add(&one);
        }
        let files: Vec<ResultFile> = parts
            .iter()
            .enumerate()
            .map(|(i, t)| file(i as u64 + 1, 3, t, 1000.0 + i as f64 * 0.5))
            .collect();
        let names: Vec<String> = (1..=3).map(|i| format!("s{i}")).collect();
        let m = merge(files, &names).unwrap();
        let want = all.stats(1.0);
        let got = &m.summary.tests[0].by_name["ok"];
        assert_eq!(got.latency_ms, want.latency_ms);
        assert_eq!(got.requests, 3000);
        assert_eq!(got.failures, want.failures);
        assert_eq!(got.failures_by_kind, want.failures_by_kind);
        assert_eq!(m.summary.total.latency_ms, want.latency_ms);
        // 3000 requests pass `requests >= 100` fleet-wide.
        assert!(m.summary.sla[0].passed);
        assert_eq!(m.outcome, Outcome::Pass);
        // Timelines on one clock: starts 0, 0.5 and 1 s apart.
        let tl = &m.summary.tests[0].timeline;
        assert_eq!(
            tl.iter().map(|p| p.t_s).collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0]
        );
        assert_eq!(tl.iter().map(|p| p.requests).sum::<u64>(), 120);
        assert!((m.summary.tests[0].duration_s - 3.0).abs() < 1e-9);
    }

    #[test]
    fn the_most_specific_segment_outcome_wins_and_is_named() {
        let t: Tally = Tally::default();
        let mut files: Vec<ResultFile> = (1..=3).map(|i| file(i, 3, &t, 5.0)).collect();
        files[1].exit_reason = "generator_saturated".into();
        files[1].verdict = "exit 5: test 1: generator saturated".into();
        files[2].exit_reason = "budget_tripped".into();
        files[2].verdict = "exit 3: failure budget tripped at 1.0 s in test 1".into();
        let names: Vec<String> = (1..=3).map(|i| format!("s{i}")).collect();
        let m = merge(files.clone(), &names).unwrap();
        assert_eq!(m.outcome, Outcome::BudgetTripped);
        assert!(m
            .why
            .as_deref()
            .unwrap()
            .starts_with("segment 3/3: failure budget"));
        files[2].exit_reason = "pass".into();
        let m = merge(files.clone(), &names).unwrap();
        assert_eq!(m.outcome, Outcome::GeneratorSaturated);
        // No requests at all: the fleet-wide gate fails, below a saturated generator.
        files[1].exit_reason = "pass".into();
        let m = merge(files, &names).unwrap();
        assert_eq!(m.outcome, Outcome::GateFailed);
    }
}
