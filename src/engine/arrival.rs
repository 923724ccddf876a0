//! Open-model load: iterations (one pass of the scenario each) started on the
//! clock, whether or not earlier ones finished — k6's `constant_arrival_rate`
//! and `ramping_arrival_rate`.
//!
//! - [`Schedule`]: when the k-th iteration of the test is due (a piecewise
//!   linear rate, integrated and inverted exactly; no drift however long).
//! - [`Dispatcher`]: one worker's share of the schedule and of the users.
//!   Worker `w` of `W` takes iterations `w, w + W, w + 2W, ...`, and its own
//!   users, so no lock is taken per iteration. A due iteration goes to a free
//!   user; with none free, a new user starts (up to the worker's share of
//!   `max_users`); with none startable, the iteration waits for the next user
//!   that frees and starts late, its lag carried into the corrected latency.
//!   An iteration more than `max_lag` behind its schedule is dropped instead.
//! - [`LagTally`]: what the schedule came to: lag, late and dropped
//!   iterations, and the two causes of lateness kept apart (no free user, or
//!   a free user the worker's loop was too busy to start).

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// An iteration this far behind its schedule is late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// A stretch of the schedule over which the rate (iterations per second)
/// changes linearly from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    pub seconds: f64,
    pub from: f64,
    pub to: f64,
}

impl Ramp {
    /// Iterations due within the first `t` seconds of the stretch.
    fn due_within(&self, t: f64) -> f64 {
        let slope = (self.to - self.from) / self.seconds;
        self.from * t + slope * t * t / 2.0
    }

    /// Seconds into the stretch at which `n` iterations are due (`n` at most
    /// [`Ramp::due_within`] of its length).
    fn time_of(&self, n: f64) -> f64 {
        if n <= 0.0 {
            return 0.0;
        }
        let a = (self.to - self.from) / self.seconds / 2.0;
        let b = self.from;
        // a t² + b t = n, in the form that stays exact when a is 0 or b is.
        let disc = (b * b + 4.0 * a * n).max(0.0);
        let den = b + disc.sqrt();
        if den <= 0.0 {
            return self.seconds;
        }
        (2.0 * n / den).min(self.seconds)
    }
}

/// When each iteration of the test is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    ramps: Vec<Ramp>,
    /// Iterations due by the start of each ramp.
    before: Vec<f64>,
    total: f64,
}

impl Schedule {
    /// A schedule from its stretches (each of positive length).
    pub fn new(ramps: Vec<Ramp>) -> Schedule {
        let mut before = Vec::with_capacity(ramps.len());
        let mut total = 0.0;
        for r in &ramps {
            before.push(total);
            total += r.due_within(r.seconds);
        }
        Schedule {
            ramps,
            before,
            total,
        }
    }

    /// One rate for `seconds`.
    pub fn constant(rate: f64, seconds: f64) -> Schedule {
        Schedule::new(vec![Ramp {
            seconds,
            from: rate,
            to: rate,
        }])
    }

    /// The schedule's length.
    pub fn duration(&self) -> Duration {
        crate::units::secs(self.ramps.iter().map(|r| r.seconds).sum())
    }

    /// Iterations the whole schedule starts.
    pub fn iterations(&self) -> u64 {
        // Iteration k is due when k iterations are: 0, 1, ... up to (but
        // not at) the schedule's end.
        let t = self.total;
        if t <= 0.0 {
            0
        } else {
            t.ceil() as u64
        }
    }

    /// When iteration `k` (from 0) is due, from the test's start; `None`
    /// past the schedule's end.
    pub fn time_of(&self, k: u64) -> Option<Duration> {
        let n = k as f64;
        if n >= self.total {
            return None;
        }
        // The last stretch due to start it (past any that start nothing:
        // they share its `before`).
        let i = self.before.partition_point(|&b| b <= n).saturating_sub(1);
        let start: f64 = self.ramps[..i].iter().map(|r| r.seconds).sum();
        let at = start + self.ramps[i].time_of(n - self.before[i]);
        Some(crate::units::secs(at))
    }
}

/// An arrival-rate test's settings, compiled.
#[derive(Debug, Clone)]
pub struct ArrivalPlan {
    /// `constant_arrival_rate` or `ramping_arrival_rate`.
    pub executor: &'static str,
    pub schedule: Schedule,
    /// Users started at the outset, and the most that may run.
    pub pre_allocated_users: u64,
    pub max_users: u64,
    /// An iteration further behind its schedule is dropped.
    pub max_lag: Duration,
    /// The segment of a scaled-out run: iterations `k % N == index` are
    /// this run's.
    pub segment: crate::segment::Segment,
}

/// What one worker's schedule came to (added across workers at the end).
#[derive(Debug, Clone)]
pub struct LagTally {
    /// Iterations started.
    pub started: u64,
    /// Started more than [`LATE_AFTER`] behind schedule.
    pub late: u64,
    /// Of those, late although a user was free: the worker's loop itself
    /// was behind (the generator, not the target, is the bottleneck).
    pub late_with_free_users: u64,
    /// More than `max_lag` behind, never started.
    pub dropped: u64,
    /// Lag between schedule and start, microseconds (1 µs floor).
    pub lag_us: Histogram<u64>,
    /// Most users this worker had started at once.
    pub peak_users: u64,
}

impl Default for LagTally {
    fn default() -> Self {
        LagTally {
            started: 0,
            late: 0,
            late_with_free_users: 0,
            dropped: 0,
            lag_us: Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("static histogram bounds are valid"),
            peak_users: 0,
        }
    }
}

impl LagTally {
    pub fn add(&mut self, o: &LagTally) {
        self.started += o.started;
        self.late += o.late;
        self.late_with_free_users += o.late_with_free_users;
        self.dropped += o.dropped;
        let _ = self.lag_us.add(&o.lag_us);
        self.peak_users += o.peak_users;
    }

    fn started(&mut self, lag: Duration, free_user: bool) {
        self.started += 1;
        let _ = self
            .lag_us
            .record((lag.as_micros() as u64).clamp(1, 3_600_000_000));
        if lag > LATE_AFTER {
            self.late += 1;
            if free_user {
                self.late_with_free_users += 1;
            }
        }
    }
}

/// An iteration handed to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The user's slot in the worker.
    pub slot: usize,
    /// How far behind its schedule the iteration starts.
    pub lag: Duration,
    /// The user was not running yet: it starts now.
    pub new_user: bool,
}

/// One worker's share of an arrival-rate test.
pub struct Dispatcher<'s> {
    schedule: &'s Schedule,
    started_at: Instant,
    max_lag: Duration,
    /// This worker's place among the workers, and how many there are.
    worker: u64,
    workers: u64,
    /// This worker's next iteration (its `j`-th: the test's `j * W + w`-th).
    next: u64,
    /// When it is due, while the schedule lasts.
    next_at: Option<Instant>,
    /// Running users waiting for an iteration.
    free: Vec<usize>,
    /// Users not started yet (the last one starts first).
    unstarted: Vec<usize>,
    running: u64,
    pub tally: LagTally,
}

impl<'s> Dispatcher<'s> {
    /// Worker `worker` of `workers`, whose users are the slots `0..users`;
    /// the first `ready` of them start at once and wait for iterations.
    pub fn new(
        schedule: &'s Schedule,
        started_at: Instant,
        max_lag: Duration,
        (worker, workers): (u64, u64),
        users: usize,
        ready: usize,
    ) -> Dispatcher<'s> {
        let ready = ready.min(users);
        let mut d = Dispatcher {
            schedule,
            started_at,
            max_lag,
            worker,
            workers: workers.max(1),
            next: 0,
            next_at: None,
            free: (0..ready).rev().collect(),
            unstarted: (ready..users).rev().collect(),
            running: ready as u64,
            tally: LagTally::default(),
        };
        d.tally.peak_users = d.running;
        d.next_at = d.due(0);
        d
    }

    fn due(&self, j: u64) -> Option<Instant> {
        let k = j.checked_mul(self.workers)?.checked_add(self.worker)?;
        self.started_at.checked_add(self.schedule.time_of(k)?)
    }

    /// How many users start at the outset (they wait for iterations): the
    /// slots below this.
    pub fn ready_users(&self) -> usize {
        self.free.len()
    }

    /// When the next iteration is due; `None` once the schedule is over.
    #[cfg(test)]
    pub fn next_due(&self) -> Option<Instant> {
        self.next_at
    }

    /// When the worker should wake for the schedule: the next due iteration,
    /// unless no user could take it (every one busy, none left to start):
    /// then a user freeing up takes it, and the worker waits for that.
    pub fn wake_at(&self) -> Option<Instant> {
        if self.free.is_empty() && self.unstarted.is_empty() {
            None
        } else {
            self.next_at
        }
    }

    /// The test stops at `now`: iterations due by then that never started
    /// are dropped; none starts after.
    pub fn close(&mut self, now: Instant) {
        while self.next_at.is_some_and(|at| at <= now) {
            self.tally.dropped += 1;
            self.advance();
        }
        self.next_at = None;
    }

    /// Whether every iteration of this worker was started or dropped.
    #[cfg(test)]
    pub fn schedule_done(&self) -> bool {
        self.next_at.is_none()
    }

    /// Drops the due iterations already more than `max_lag` behind at `now`;
    /// the lag of the next one, if it is due.
    fn due_now(&mut self, now: Instant) -> Option<Duration> {
        loop {
            let at = self.next_at?;
            if at > now {
                return None;
            }
            let lag = now - at;
            if lag <= self.max_lag {
                return Some(lag);
            }
            self.tally.dropped += 1;
            self.advance();
        }
    }

    fn advance(&mut self) {
        self.next += 1;
        self.next_at = self.due(self.next);
    }

    /// The next due iteration for a free or new user, if there is one:
    /// called when the worker wakes, until it returns `None`.
    pub fn take(&mut self, now: Instant) -> Option<Start> {
        let lag = self.due_now(now)?;
        let (slot, new_user) = match self.free.pop() {
            Some(slot) => (slot, false),
            None => {
                let slot = self.unstarted.pop()?;
                self.running += 1;
                self.tally.peak_users = self.tally.peak_users.max(self.running);
                (slot, true)
            }
        };
        self.tally.started(lag, true);
        self.advance();
        Some(Start {
            slot,
            lag,
            new_user,
        })
    }

    /// User `slot` finished its iteration at `now`: the lag of the next one
    /// it goes on with, or `None` when none is due (it waits, free).
    pub fn user_free(&mut self, slot: usize, now: Instant) -> Option<Duration> {
        let Some(lag) = self.due_now(now) else {
            self.free.push(slot);
            return None;
        };
        // Late with users to spare: the loop, not the users, held it up.
        let spare = !self.free.is_empty() || !self.unstarted.is_empty();
        self.tally.started(lag, spare);
        self.advance();
        Some(lag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn a_constant_rate_is_evenly_spaced_without_drift() {
        let s = Schedule::constant(200.0, 3.0);
        assert_eq!(s.iterations(), 600);
        assert_eq!(s.time_of(0), Some(Duration::ZERO));
        assert!((secs(s.time_of(1).unwrap()) - 0.005).abs() < 1e-9);
        assert!((secs(s.time_of(599).unwrap()) - 2.995).abs() < 1e-9);
        assert_eq!(s.time_of(600), None);
        // A long test stays on the clock: the millionth iteration is exact.
        let long = Schedule::constant(1000.0, 3600.0);
        assert!((secs(long.time_of(1_000_000).unwrap()) - 1000.0).abs() < 1e-6);
    }

    #[test]
    fn a_ramp_integrates_the_rate() {
        // 0 → 100/s over 2 s (100 iterations), then 100/s for 1 s (100 more).
        let s = Schedule::new(vec![
            Ramp {
                seconds: 2.0,
                from: 0.0,
                to: 100.0,
            },
            Ramp {
                seconds: 1.0,
                from: 100.0,
                to: 100.0,
            },
        ]);
        assert_eq!(s.iterations(), 200);
        // n(t) = 25 t² over the ramp: the 25th iteration at 1 s.
        assert!((secs(s.time_of(25).unwrap()) - 1.0).abs() < 1e-9);
        assert!((secs(s.time_of(100).unwrap()) - 2.0).abs() < 1e-9);
        assert!((secs(s.time_of(150).unwrap()) - 2.5).abs() < 1e-9);
        // Times only grow.
        let times: Vec<Duration> = (0..200).map(|k| s.time_of(k).unwrap()).collect();
        for (k, w) in times.windows(2).enumerate() {
            assert!(w[0] <= w[1], "{k}: {:?} {:?}", w[0], w[1]);
        }
        // Ramping down, and a stretch at rate 0 in between.
        let down = Schedule::new(vec![
            Ramp {
                seconds: 1.0,
                from: 100.0,
                to: 0.0,
            },
            Ramp {
                seconds: 1.0,
                from: 0.0,
                to: 0.0,
            },
            Ramp {
                seconds: 1.0,
                from: 10.0,
                to: 10.0,
            },
        ]);
        assert_eq!(down.iterations(), 60);
        let t49 = secs(down.time_of(49).unwrap());
        assert!(t49 > 0.5 && t49 < 1.0, "{t49}");
        assert!((secs(down.time_of(50).unwrap()) - 2.0).abs() < 1e-9);
        assert_eq!(down.time_of(60), None);
    }

    #[test]
    fn workers_share_the_iterations_exactly() {
        let s = Schedule::constant(100.0, 1.0);
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(2);
        let mut total = 0;
        for w in 0..3 {
            let mut d = Dispatcher::new(&s, t0, Duration::from_secs(10), (w, 3), 1000, 1000);
            while d.take(end).is_some() {}
            assert!(d.schedule_done());
            total += d.tally.started;
        }
        assert_eq!(total, 100);
    }

    #[test]
    fn with_every_user_busy_an_iteration_waits_for_one_and_starts_late() {
        let s = Schedule::constant(10.0, 1.0);
        let t0 = Instant::now();
        let mut d = Dispatcher::new(&s, t0, Duration::from_secs(1), (0, 1), 2, 1);
        assert_eq!(d.ready_users(), 1);
        // At 0 s: the ready user takes the first iteration.
        let first = d.take(t0).unwrap();
        assert_eq!((first.slot, first.new_user), (0, false));
        // At 0.1 s: nobody free, so a second user starts.
        let at = t0 + Duration::from_millis(100);
        let second = d.take(at).unwrap();
        assert_eq!((second.slot, second.new_user), (1, true));
        // At 0.2 s: both busy, none left to start: it waits.
        let at = t0 + Duration::from_millis(200);
        assert_eq!(d.take(at), None);
        // User 0 frees at 0.25 s and takes it, 50 ms late.
        let lag = d.user_free(0, t0 + Duration::from_millis(250)).unwrap();
        assert_eq!(lag, Duration::from_millis(50));
        assert_eq!((d.tally.late, d.tally.late_with_free_users), (1, 0));
        assert_eq!(d.tally.peak_users, 2);
        // Nothing due at 0.26 s: user 1 frees and waits.
        assert_eq!(d.wake_at(), None);
        assert_eq!(d.user_free(1, t0 + Duration::from_millis(260)), None);
        assert_eq!(d.wake_at(), d.next_due());
        assert_eq!(d.take(t0 + Duration::from_millis(290)), None);
        // Both busy again: the worker does not wake for the schedule.
        d.take(t0 + Duration::from_millis(300)).unwrap();
        assert_eq!(d.take(t0 + Duration::from_millis(400)), None);
        assert_eq!(d.wake_at(), None);
        // Stopped at 0.65 s: the 0.4, 0.5 and 0.6 s iterations never started.
        d.close(t0 + Duration::from_millis(650));
        assert_eq!(d.tally.dropped, 3);
        assert!(d.schedule_done());
    }

    #[test]
    fn an_iteration_past_max_lag_is_dropped() {
        let s = Schedule::constant(10.0, 1.0);
        let t0 = Instant::now();
        let mut d = Dispatcher::new(&s, t0, Duration::from_millis(150), (0, 1), 1, 1);
        d.take(t0).unwrap();
        // The only user stalls until 0.52 s: iterations due at 0.1, 0.2,
        // 0.3 s are over 150 ms behind and dropped; 0.4 s is 120 ms late.
        let lag = d.user_free(0, t0 + Duration::from_millis(520)).unwrap();
        assert_eq!(d.tally.dropped, 3);
        assert_eq!(lag, Duration::from_millis(120));
        // Done at 0.53 s, it goes on with the 0.5 s one; free at 0.55 s, it
        // waits.
        let lag = d.user_free(0, t0 + Duration::from_millis(530)).unwrap();
        assert_eq!(lag, Duration::from_millis(30));
        assert_eq!(d.user_free(0, t0 + Duration::from_millis(550)), None);
        assert_eq!(d.tally.late_with_free_users, 0);
        // The worker's loop wakes 120 ms after the 0.6 s iteration was due
        // although a user was free: late for the generator's own reason.
        let s2 = d.take(t0 + Duration::from_millis(720)).unwrap();
        assert_eq!(s2.lag, Duration::from_millis(120));
        assert_eq!((d.tally.late, d.tally.late_with_free_users), (3, 1));
    }
}
