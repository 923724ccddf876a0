//! A verdict on the generator itself, with its two causes kept apart:
//!
//! - **users exhausted**: iterations started late because every user was busy
//!   (the target is slower than rate × `max_users` allows). The corrected
//!   latency carries the wait, which is the honest figure; a warning says
//!   what to raise.
//! - **generator saturated**: iterations started late while users were free,
//!   or a worker's CPU stayed at or above 95 % for most of the test: the
//!   generator was the bottleneck, and what it measured is not trustworthy
//!   (in an arrival-rate test the run exits 5).

use super::arrival::{ArrivalPlan, LagTally};
use super::cpu::WorkerLoad;
use crate::stats::{GeneratorStats, LagMs, ScheduleStats};

/// Iterations late with a user free, as a share of those started, past which
/// the generator is saturated (with at least [`MIN_LATE_FREE`] of them).
const LATE_FREE_SHARE: f64 = 0.01;
const MIN_LATE_FREE: u64 = 10;

/// Judges a test's generator from its workers' loads and, in an arrival-rate
/// test, its schedule.
pub fn judge(
    arrival: Option<(&ArrivalPlan, &LagTally)>,
    loads: &[WorkerLoad],
    duration_s: f64,
) -> GeneratorStats {
    let mut reasons = Vec::new();
    let hot: Vec<String> = loads
        .iter()
        .enumerate()
        .filter(|(_, l)| l.mostly_hot())
        .map(|(i, l)| {
            format!(
                "worker {i} was saturated (95 % or more of a core, or of its time with work waiting) for {} of {} s",
                l.hot_samples, l.samples
            )
        })
        .collect();
    if !hot.is_empty() {
        reasons.push(hot.join(", "));
    }
    let schedule = arrival.map(|(plan, lag)| {
        let late_free = lag.late_with_free_users;
        if late_free >= MIN_LATE_FREE && late_free as f64 > LATE_FREE_SHARE * lag.started as f64 {
            reasons.push(format!(
                "{late_free} of {} iterations started more than 10 ms late although a user was free: the workers could not keep the schedule",
                lag.started
            ));
        }
        let h = &lag.lag_us;
        let ms = |us: u64| us as f64 / 1000.0;
        ScheduleStats {
            scheduled_iterations: plan.segment.share(plan.schedule.iterations()),
            iterations: lag.started,
            achieved_rate: if duration_s > 0.0 {
                lag.started as f64 / duration_s.min(plan.schedule.duration().as_secs_f64().max(1e-9))
            } else {
                0.0
            },
            late_iterations: lag.late,
            late_with_free_users: late_free,
            dropped_iterations: lag.dropped,
            lag_ms: if h.is_empty() {
                LagMs::default()
            } else {
                LagMs {
                    p50: ms(h.value_at_quantile(0.5)),
                    p99: ms(h.value_at_quantile(0.99)),
                    max: ms(h.max()),
                }
            },
            max_users: plan.max_users,
            peak_users: lag.peak_users,
        }
    });
    let users_exhausted = schedule
        .as_ref()
        .is_some_and(|s| s.late_iterations > s.late_with_free_users || s.dropped_iterations > 0);
    let saturated = !reasons.is_empty();
    GeneratorStats {
        executor: arrival.map_or("closed", |(p, _)| p.executor).to_string(),
        cpu_per_worker: loads
            .iter()
            .map(|l| (l.share() * 1000.0).round() / 1000.0)
            .collect(),
        busy_per_worker: loads
            .iter()
            .map(|l| (l.busy() * 1000.0).round() / 1000.0)
            .collect(),
        generator_saturated: saturated,
        saturation_reason: saturated.then(|| reasons.join("; ")),
        users_exhausted,
        schedule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::arrival::Schedule;
    use std::time::Duration;

    fn plan() -> ArrivalPlan {
        ArrivalPlan {
            executor: "constant_arrival_rate",
            schedule: Schedule::constant(100.0, 10.0),
            pre_allocated_users: 5,
            max_users: 10,
            segment: Default::default(),
            max_lag: Duration::from_secs(1),
        }
    }

    fn load(samples: u32, hot: u32) -> WorkerLoad {
        WorkerLoad {
            samples,
            hot_samples: hot,
            cpu: Duration::from_secs(u64::from(hot)),
            idle: Duration::ZERO,
            wall: Duration::from_secs(u64::from(samples)),
        }
    }

    #[test]
    fn late_iterations_with_busy_users_are_users_exhausted_not_saturation() {
        let lag = LagTally {
            started: 1000,
            late: 300,
            late_with_free_users: 2,
            ..LagTally::default()
        };
        let p = plan();
        let g = judge(Some((&p, &lag)), &[load(10, 1)], 10.0);
        assert!(g.users_exhausted);
        assert!(!g.generator_saturated, "{g:?}");
        let s = g.schedule.unwrap();
        assert_eq!((s.scheduled_iterations, s.iterations), (1000, 1000));
        assert!((s.achieved_rate - 100.0).abs() < 1e-9);
        assert_eq!(g.cpu_per_worker, vec![0.1]);
    }

    #[test]
    fn late_with_free_users_or_a_hot_worker_is_saturation_with_its_reason() {
        let lag = LagTally {
            started: 1000,
            late: 50,
            late_with_free_users: 50,
            ..LagTally::default()
        };
        let p = plan();
        let g = judge(Some((&p, &lag)), &[load(10, 2)], 10.0);
        assert!(g.generator_saturated);
        assert!(!g.users_exhausted);
        let why = g.saturation_reason.unwrap();
        assert!(
            why.starts_with(
                "50 of 1000 iterations started more than 10 ms late although a user was free"
            ),
            "{why}"
        );
        let g = judge(None, &[load(4, 1), load(4, 3)], 4.0);
        assert_eq!(g.executor, "closed");
        assert_eq!(
            g.saturation_reason.as_deref(),
            Some("worker 1 was saturated (95 % or more of a core, or of its time with work waiting) for 3 of 4 s")
        );
    }
}
