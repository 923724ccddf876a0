//! The test's clock: decides when and why a test ends, escalates a stop to an
//! abort after the grace, samples the timeline and drives the progress
//! display. It runs on the thread that started the test, beside the users.

use super::progress::Progress;
use super::shape::Follower;
use super::{Shared, INTERRUPT_STOP_GRACE};
use crate::metrics::board::{BudgetGauge, Gauges, Series};
use crate::stats::recorder::Tally;
use crate::stats::{EndedBy, TimePoint};
use crate::supervisor::Interrupt;
use crate::sync::lock;
use crate::ui::Ui;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Most points a timeline keeps; past it, neighbours merge (memory stays flat).
const MAX_TIMELINE_POINTS: usize = 1024;

/// A final timeline slice shorter than this (seconds) is merged into the
/// point before it: a few requests over a fraction of a second would
/// otherwise draw a cliff or a spike at the end of the charts.
const MIN_FINAL_SLICE_S: f64 = 0.5;

/// One test's clock.
pub struct TestClock<'a> {
    shared: &'a Shared<'a>,
    progress: Progress,
    pub timeline: Vec<TimePoint>,
    /// Cumulative total at the end of the last timeline point (for
    /// per-interval figures), and its time.
    prev: Tally,
    prev_t: f64,
    /// Cumulative total at the start of the last timeline point, and its
    /// time: a short final slice is merged into that point.
    before_prev: Tally,
    before_prev_t: f64,
    last_sample: Instant,
    /// When the test began to stop (its end condition held).
    pub stopping_since: Option<Instant>,
    /// Users running when the test began to stop.
    users_at_stop: u64,
    ended_by: EndedBy,
    ui: Ui,
    /// The per-request file's write error was printed.
    log_error_said: bool,
    /// A shaped test's running user count, moved toward the shape's target.
    follower: Follower,
}

impl<'a> TestClock<'a> {
    pub fn new(shared: &'a Shared<'a>, ui: &Ui) -> Self {
        TestClock {
            shared,
            progress: Progress::new(ui, shared.plan),
            ui: ui.clone(),
            log_error_said: false,
            follower: Follower::new(),
            timeline: Vec::new(),
            prev: Tally::default(),
            prev_t: 0.0,
            before_prev: Tally::default(),
            before_prev_t: 0.0,
            last_sample: shared.started,
            stopping_since: None,
            users_at_stop: 0,
            ended_by: EndedBy::Iterations,
        }
    }

    /// Loops until every user has finished; returns why the test ended.
    pub fn supervise(&mut self) -> EndedBy {
        let s = self.shared;
        let tick = Duration::from_millis(50);
        loop {
            if s.finished_users.load(Ordering::Acquire) == s.plan.users {
                break;
            }
            let now = Instant::now();
            if let Some(b) = &s.budget {
                b.expire(now);
            }
            if let (Some(shape), None) = (&s.plan.shape, self.stopping_since) {
                s.population
                    .set(self.follower.advance(shape, self.secs(now)));
            }
            if self.stopping_since.is_none() {
                if let Some(why) = self.end_reason(now) {
                    self.ended_by = why;
                    // Stopped early (a signal, a watchdog, the budget): the
                    // bar goes at once, before the grace and what follows.
                    if why != EndedBy::Time {
                        self.progress.clear();
                    }
                    self.begin_stop(now);
                }
            }
            // Sleep a tick, but wake at the test's end, at the end of the
            // grace, and (while running) at once when it is stopped.
            let mut wait = tick;
            match self.stopping_since {
                None => {
                    if let Some(end) = s.plan.duration.and_then(|d| s.started.checked_add(d)) {
                        wait = wait.min(end.saturating_duration_since(now));
                    }
                }
                Some(since) if !s.stop.is_aborted() => {
                    // After a watchdog or a signal the grace is capped: the run
                    // must end within a second (a container's stop grace, the
                    // watchdog's limit), with its reports.
                    let grace = match s.control.interrupted() {
                        Some(_) => s.plan.stop_timeout.min(INTERRUPT_STOP_GRACE),
                        None => s.plan.stop_timeout,
                    };
                    let left = since
                        .checked_add(grace)
                        .map_or(tick, |at| at.saturating_duration_since(now));
                    if left.is_zero() {
                        s.stop.abort();
                    }
                    wait = wait.min(left);
                }
                Some(_) => {}
            }
            if now.duration_since(self.last_sample) >= Duration::from_secs(1) {
                self.tick();
            }
            self.flush_request_log(now);
            if self.stopping_since.is_none() {
                s.stop.sleep(wait);
            } else {
                std::thread::sleep(wait);
            }
        }
        // Users may all have finished before a tick saw why: otherwise they
        // ran out of iterations.
        if self.stopping_since.is_none() {
            if let Some(why) = self.end_reason(Instant::now()) {
                self.ended_by = why;
            }
        }
        if !s.stop.is_stopping() {
            s.stop.stop();
        }
        self.ended_by
    }

    /// Writes the per-request rows at least once a second; says at once when
    /// the file cannot be written.
    fn flush_request_log(&mut self, now: Instant) {
        let Some(log) = &self.shared.request_log else {
            return;
        };
        let mut log = crate::sync::lock(log);
        log.flush_if_due(now);
        if let (Some(e), false) = (log.error(), self.log_error_said) {
            self.log_error_said = true;
            self.ui.error(&format!(
                "record_csv: writing the per-request file failed ({e}); no more rows are written, the test goes on and its action fails"
            ));
        }
    }

    /// Why the test must end now, if it must: the one place that decides.
    /// In order: the failure budget tripped; a watchdog or a signal; the
    /// test's time ran out; something else stopped it (a user panicked).
    fn end_reason(&self, now: Instant) -> Option<EndedBy> {
        let s = self.shared;
        if s.budget.as_ref().is_some_and(|b| b.tripped().is_some()) {
            return Some(EndedBy::Budget);
        }
        match s.control.interrupted() {
            Some(Interrupt::Watchdog) => return Some(EndedBy::Watchdog),
            Some(_) => return Some(EndedBy::Signal),
            None => {}
        }
        if s.plan
            .duration
            .is_some_and(|d| now.duration_since(s.started) >= d)
        {
            return Some(EndedBy::Time);
        }
        s.stop.is_stopping().then_some(EndedBy::Stopped)
    }

    fn begin_stop(&mut self, now: Instant) {
        self.stopping_since = Some(now);
        self.users_at_stop = self.shared.active_users.load(Ordering::Relaxed);
        self.shared.stop.stop();
    }

    /// The merged cumulative totals of every worker.
    fn cumulative(&self) -> Tally {
        let mut cum = Tally::<u64>::default();
        for r in &self.shared.recorders {
            let r = lock(r);
            for t in &r.slots {
                cum.add_for_timeline(t);
            }
        }
        cum
    }

    /// Publishes what was measured so far to the live metrics board, when
    /// an exporter runs: every name of the test (those with nothing yet at
    /// zero, so a rate starts from the first request) and the gauges.
    fn publish(&self, ended: bool) {
        let s = self.shared;
        let Some(board) = s.metrics else {
            return;
        };
        let mut names: BTreeMap<String, Series> = s
            .plan
            .names
            .iter()
            .map(|n| (n.clone(), Series::default()))
            .collect();
        for r in &s.recorders {
            let r = lock(r);
            for (slot, t) in r.slots.iter().enumerate() {
                if t.requests > 0 || t.cancelled > 0 {
                    if let Some(series) = names.get_mut(&s.plan.names[slot]) {
                        series.add(t);
                    }
                }
            }
        }
        let gauges = Gauges {
            test: s.plan.index,
            active_users: s.active_users.load(Ordering::Relaxed),
            in_flight: s.in_flight.total(),
            budget: s.budget.as_ref().map(|b| {
                let (samples, failed) = b.current();
                BudgetGauge {
                    threshold: b.cfg.threshold,
                    samples,
                    failed,
                    tripped: b.tripped().is_some(),
                }
            }),
        };
        board.publish(s.plan.index, names, gauges);
        if ended {
            board.test_ended();
        }
    }

    /// Seconds since the test started.
    fn secs(&self, at: Instant) -> f64 {
        at.duration_since(self.shared.started).as_secs_f64()
    }

    /// Samples the merged totals into the timeline (while the test runs) and
    /// refreshes progress. Once the test is stopping, no point is added: what
    /// completes in the grace goes into the last point ([`TestClock::finish`]).
    fn tick(&mut self) {
        let cum = self.cumulative();
        let now = Instant::now();
        let t_s = self.secs(now);
        let users = self.shared.active_users.load(Ordering::Relaxed);
        let point = point_between(&self.prev, self.prev_t, &cum, t_s, users);
        self.progress.update(t_s, &point, &cum, false);
        self.last_sample = now;
        self.publish(false);
        if self.stopping_since.is_none() {
            push_point(&mut self.timeline, point);
            self.before_prev = std::mem::replace(&mut self.prev, cum);
            self.before_prev_t = std::mem::replace(&mut self.prev_t, t_s);
        }
    }

    /// The last point, once every user has finished. It ends at `ended`, when
    /// the test ended (began to stop): the end of its measured duration. It
    /// counts every request that completed since the point before, in-flight
    /// ones that completed in the grace included, over that span, as the
    /// test's own `rps` counts them, so the grace does not dilute its rate.
    /// A slice shorter than [`MIN_FINAL_SLICE_S`] is merged into the point
    /// before it; a test that completed nothing has no point.
    pub fn finish(&mut self, ended: Instant) {
        let cum = self.cumulative();
        let end_s = self.secs(ended).max(self.prev_t);
        let users = match self.stopping_since {
            Some(_) => self.users_at_stop,
            None => self.shared.active_users.load(Ordering::Relaxed),
        };
        let point = if end_s - self.prev_t < MIN_FINAL_SLICE_S && !self.timeline.is_empty() {
            let merged = point_between(&self.before_prev, self.before_prev_t, &cum, end_s, users);
            self.timeline.pop();
            Some(merged)
        } else if cum.requests > 0 {
            Some(point_between(&self.prev, self.prev_t, &cum, end_s, users))
        } else {
            None
        };
        let t_s = self.secs(Instant::now());
        let shown = point.clone().unwrap_or_default();
        self.progress.update(t_s, &shown, &cum, true);
        if let Some(p) = point {
            push_point(&mut self.timeline, p);
        }
        self.publish(true);
    }
}

/// The point for the interval from `from` (cumulative totals at `from_t`
/// seconds) to `to` (at `to_t`): its counts, its rate over its real length,
/// its latency percentiles.
fn point_between(from: &Tally, from_t: f64, to: &Tally, to_t: f64, users: u64) -> TimePoint {
    let dt = (to_t - from_t).max(1e-9);
    let mut interval = to.latency_us.clone();
    let _ = interval.subtract(&from.latency_us);
    let requests = to.requests - from.requests;
    let retries_of = |t: &Tally| {
        t.retry
            .as_ref()
            .map_or(0, |r| r.retries.iter().sum::<u64>())
    };
    let q = |p: f64| {
        if interval.is_empty() {
            0.0
        } else {
            interval.value_at_quantile(p) as f64 / 1000.0
        }
    };
    let raw_p95_ms = to.raw_latency_us.as_ref().map(|raw| {
        let mut interval = raw.clone();
        if let Some(before) = &from.raw_latency_us {
            let _ = interval.subtract(before);
        }
        if interval.is_empty() {
            0.0
        } else {
            interval.value_at_quantile(0.95) as f64 / 1000.0
        }
    });
    TimePoint {
        t_s: to_t,
        requests,
        failures: to.failures - from.failures,
        rps: requests as f64 / dt,
        retries: retries_of(to).saturating_sub(retries_of(from)),
        users,
        p50_ms: q(0.5),
        p95_ms: q(0.95),
        raw_p95_ms,
    }
}

/// Appends a point; when the timeline is full, merges neighbours pairwise so
/// it covers the whole test at half the resolution.
fn push_point(timeline: &mut Vec<TimePoint>, p: TimePoint) {
    if timeline.len() >= MAX_TIMELINE_POINTS {
        let mut merged = Vec::with_capacity(timeline.len() / 2 + 1);
        // Each merged point spans from the end of the point before it.
        let mut start = 0.0;
        for c in timeline.chunks(2) {
            let last = c.last().expect("chunks are non-empty");
            let requests: u64 = c.iter().map(|p| p.requests).sum();
            let span = (last.t_s - start).max(1e-9);
            merged.push(TimePoint {
                t_s: last.t_s,
                retries: c.iter().map(|p| p.retries).sum(),
                requests,
                failures: c.iter().map(|p| p.failures).sum(),
                rps: requests as f64 / span,
                users: last.users,
                p50_ms: c.iter().map(|p| p.p50_ms).fold(0.0, f64::max),
                p95_ms: c.iter().map(|p| p.p95_ms).fold(0.0, f64::max),
                raw_p95_ms: c.iter().filter_map(|p| p.raw_p95_ms).reduce(f64::max),
            });
            start = last.t_s;
        }
        *timeline = merged;
    }
    timeline.push(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_stays_bounded() {
        let mut tl = Vec::new();
        for i in 0..10_000 {
            push_point(
                &mut tl,
                TimePoint {
                    t_s: i as f64 + 1.0,
                    requests: 10,
                    rps: 10.0,
                    ..TimePoint::default()
                },
            );
        }
        assert!(tl.len() <= MAX_TIMELINE_POINTS);
        let total: u64 = tl.iter().map(|p| p.requests).sum();
        assert_eq!(total, 100_000);
        // 10 requests a second, merged or not; idle seconds don't inflate it.
        assert!(
            tl.iter().all(|p| (p.rps - 10.0).abs() < 1e-6),
            "{:?}",
            &tl[..3]
        );
        let mut idle = Vec::new();
        for i in 0..(MAX_TIMELINE_POINTS + 1) {
            let requests = if i % 2 == 0 { 0 } else { 10 };
            push_point(
                &mut idle,
                TimePoint {
                    t_s: i as f64 + 1.0,
                    requests,
                    rps: requests as f64,
                    ..TimePoint::default()
                },
            );
        }
        assert!(idle[..idle.len() - 1]
            .iter()
            .all(|p| (p.rps - 5.0).abs() < 1e-6));
    }
}
