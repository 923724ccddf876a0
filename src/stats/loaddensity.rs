//! LoadDensity's view of what was measured: its names for requests (a task's
//! `name`, else its URL as written) and its summary object (`totals`,
//! `latency_overall`, `per_name`), computed from our mergeable tallies.

use super::recorder::{latency_ms, Tally};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One way the plan wrote a task that records under one of our names.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct LdAlias {
    /// LoadDensity's name: the task's `name`, else its URL as written.
    pub name: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL as written in the plan (user info redacted).
    pub url: String,
}

/// Adds `alias` to `list` unless it is there already.
pub fn push_alias(list: &mut Vec<LdAlias>, alias: &LdAlias) {
    if !list.contains(alias) {
        list.push(alias.clone());
    }
}

/// LoadDensity's `totals`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LdTotals {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// `failures / requests`, 0 without requests.
    pub failure_rate: f64,
}

/// LoadDensity's `latency_overall`: every request, failures included.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LdOverall {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One entry of LoadDensity's `per_name`: successful requests only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LdNameLatency {
    pub count: u64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// LoadDensity's summary object (`LD_summary`, and the top-level keys the
/// summary report adds beside its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LdSummary {
    pub totals: LdTotals,
    pub latency_overall: LdOverall,
    /// Keyed by LoadDensity's name; names without a success are absent.
    pub per_name: BTreeMap<String, LdNameLatency>,
}

/// How one of our names shows in LoadDensity's shapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LdName {
    /// Its key in `per_name`: its one LoadDensity name, or our name when
    /// several tasks written differently share it (or the key was taken).
    pub key: String,
    /// Every way the plan wrote its tasks, in the order first seen.
    pub aliases: Vec<LdAlias>,
}

/// LoadDensity's view of the run: its summary and, per our name, its names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LdView {
    pub summary: LdSummary,
    /// By our name.
    pub names: BTreeMap<String, LdName>,
}

impl LdView {
    /// Builds the view from the run-wide tally, the merged tallies by our
    /// name and the aliases of each name.
    pub fn build(
        total: &Tally,
        by_name: &BTreeMap<&str, Tally>,
        aliases: &BTreeMap<&str, Vec<LdAlias>>,
    ) -> LdView {
        let successes = total.requests - total.failures.min(total.requests);
        let all = latency_ms(&total.latency_us);
        let mut view = LdView {
            summary: LdSummary {
                totals: LdTotals {
                    requests: total.requests,
                    successes,
                    failures: total.failures,
                    failure_rate: if total.requests == 0 {
                        0.0
                    } else {
                        total.failures as f64 / total.requests as f64
                    },
                },
                latency_overall: LdOverall {
                    count: total.latency_us.len(),
                    p50_ms: all.p50,
                    p90_ms: all.p90,
                    p95_ms: all.p95,
                    p99_ms: all.p99,
                    max_ms: all.max,
                },
                per_name: BTreeMap::new(),
            },
            names: BTreeMap::new(),
        };
        // A name keeps its one LoadDensity name as its key unless that is
        // another of our names or was given to another name already; then
        // (as with several LoadDensity names) it is keyed by our name, which
        // no LoadDensity key given out can equal.
        let mut used = std::collections::BTreeSet::new();
        for (&ours, tally) in by_name {
            let list = aliases.get(ours).cloned().unwrap_or_default();
            let key = match list.first() {
                Some(a)
                    if distinct_names(&list) == 1
                        && (a.name == ours
                            || (!by_name.contains_key(a.name.as_str())
                                && used.insert(a.name.clone()))) =>
                {
                    a.name.clone()
                }
                _ => ours.to_string(),
            };
            let h = tally.success_latency_us();
            if !h.is_empty() {
                let l = latency_ms(&h);
                view.summary.per_name.insert(
                    key.clone(),
                    LdNameLatency {
                        count: h.len(),
                        min_ms: l.min,
                        max_ms: l.max,
                        mean_ms: l.mean,
                        p50_ms: l.p50,
                        p90_ms: l.p90,
                        p95_ms: l.p95,
                        p99_ms: l.p99,
                    },
                );
            }
            view.names
                .insert(ours.to_string(), LdName { key, aliases: list });
        }
        view
    }

    /// Our name for `name`: `name` itself when we measured it, else the name
    /// one of whose LoadDensity names (or `per_name` key) it is.
    pub fn our_name<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        if self.names.contains_key(name) {
            return Some(name);
        }
        self.names
            .iter()
            .find(|(_, n)| n.key == name || n.aliases.iter().any(|a| a.name == name))
            .map(|(ours, _)| ours.as_str())
    }
}

fn distinct_names(list: &[LdAlias]) -> usize {
    let mut names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::recorder::FailKind;
    use std::time::Duration;

    fn alias(name: &str) -> LdAlias {
        LdAlias {
            name: name.into(),
            method: "GET".into(),
            url: name.into(),
        }
    }

    #[test]
    fn per_name_is_keyed_by_loaddensity_names_over_successes_only() {
        let mut get = Tally::<u64>::default();
        for ms in 1..=10 {
            get.record(Duration::from_millis(ms), 0, None);
        }
        // A slow failure: in latency_overall, never in per_name.
        get.record(
            Duration::from_millis(900),
            0,
            Some((FailKind::Status, "HTTP 500")),
        );
        let mut shared = Tally::<u64>::default();
        shared.record(Duration::from_millis(5), 0, None);
        let mut failing = Tally::<u64>::default();
        failing.record(Duration::from_millis(5), 0, Some((FailKind::Status, "x")));
        let mut total = Tally::<u64>::default();
        for t in [&get, &shared, &failing] {
            total.add(t);
        }
        let by_name: BTreeMap<&str, Tally> =
            [("/get", get), ("/a", shared), ("login", failing)].into();
        let aliases: BTreeMap<&str, Vec<LdAlias>> = [
            ("/get", vec![alias("http://h/get")]),
            ("/a", vec![alias("http://h/a"), alias("http://h/a?x=1")]),
            ("login", vec![alias("login")]),
        ]
        .into();
        let v = LdView::build(&total, &by_name, &aliases);
        let s = &v.summary;
        assert_eq!(
            s.totals,
            LdTotals {
                requests: 13,
                successes: 11,
                failures: 2,
                failure_rate: 2.0 / 13.0
            }
        );
        assert_eq!(s.latency_overall.count, 13);
        assert!((s.latency_overall.max_ms - 900.0).abs() < 1.0);
        let get = &s.per_name["http://h/get"];
        assert_eq!(get.count, 10);
        assert!((get.max_ms - 10.0).abs() < 0.1, "{get:?}");
        assert!((get.min_ms - 1.0).abs() < 0.1, "{get:?}");
        assert!((get.mean_ms - 5.5).abs() < 0.1, "{get:?}");
        // Two ways of writing one name: keyed by ours.
        assert_eq!(s.per_name["/a"].count, 1);
        // No success, no entry.
        assert!(!s.per_name.contains_key("login"));
        assert_eq!(v.our_name("http://h/get"), Some("/get"));
        assert_eq!(v.our_name("http://h/a?x=1"), Some("/a"));
        assert_eq!(v.our_name("/get"), Some("/get"));
        assert_eq!(v.our_name("nope"), None);
    }

    #[test]
    fn a_taken_key_falls_back_to_our_name() {
        // Task named "/b" explicitly, and an unnamed task whose URL is "/b"
        // but whose path-name is "/b?": both would be keyed "/b".
        let mut a = Tally::<u64>::default();
        a.record(Duration::from_millis(1), 0, None);
        let b = a.clone();
        let mut total = a.clone();
        total.add(&b);
        let by_name: BTreeMap<&str, Tally> = [("/b", a), ("other", b)].into();
        let aliases: BTreeMap<&str, Vec<LdAlias>> =
            [("/b", vec![alias("/b")]), ("other", vec![alias("/b")])].into();
        let v = LdView::build(&total, &by_name, &aliases);
        assert_eq!(v.names["/b"].key, "/b");
        assert_eq!(v.names["other"].key, "other");
        assert_eq!(v.summary.per_name.len(), 2);
    }

    #[test]
    fn an_empty_run_has_zero_totals() {
        let v = LdView::build(&Tally::default(), &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(v.summary, LdSummary::default());
    }
}
