//! How busy a worker thread is, sampled once a second two ways:
//! - its CPU time (`CLOCK_THREAD_CPUTIME_ID`, read through the vDSO, so
//!   sampling costs nothing the loop would notice) over wall-clock time;
//! - its event loop's busy share: the time it did not spend waiting in
//!   `epoll_wait` over wall-clock time. A loop that always has work when it
//!   looks is saturated even when the core is shared (another process, the
//!   target on the same machine) and its CPU share stays lower.
//!
//! A worker saturated either way cannot keep a schedule: the generator, not
//! the target, is then the bottleneck.

use std::time::{Duration, Instant};

/// A second at or above this share of one core counts as saturated.
pub const HOT: f64 = 0.95;
/// How long one sample spans.
const SAMPLE: Duration = Duration::from_secs(1);

/// This thread's CPU time so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the struct given.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// One worker's CPU use over a test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerLoad {
    /// Whole samples taken, and how many were at or above [`HOT`] (CPU or
    /// loop busy share).
    pub samples: u32,
    pub hot_samples: u32,
    /// CPU time, time waiting for events, and wall time over the test.
    pub cpu: Duration,
    pub idle: Duration,
    pub wall: Duration,
}

impl WorkerLoad {
    /// The share of one core used over the test (0 to 1).
    pub fn share(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            (self.cpu.as_secs_f64() / self.wall.as_secs_f64()).min(1.0)
        }
    }

    /// The share of the test its event loop was busy (not waiting), 0 to 1.
    pub fn busy(&self) -> f64 {
        if self.wall.is_zero() {
            0.0
        } else {
            (1.0 - self.idle.as_secs_f64() / self.wall.as_secs_f64()).clamp(0.0, 1.0)
        }
    }

    /// Whether the worker was saturated for most of the test.
    pub fn mostly_hot(&self) -> bool {
        self.samples > 0 && self.hot_samples * 2 > self.samples
    }
}

/// Samples the calling thread (a worker) once a second.
pub struct Sampler {
    since: Instant,
    cpu_since: Duration,
    /// Time spent waiting for events since the last sample.
    idle: Duration,
    started: Instant,
    cpu_started: Duration,
    pub load: WorkerLoad,
}

impl Sampler {
    pub fn start(now: Instant) -> Sampler {
        let cpu = thread_cpu_time();
        Sampler {
            since: now,
            cpu_since: cpu,
            idle: Duration::ZERO,
            started: now,
            cpu_started: cpu,
            load: WorkerLoad::default(),
        }
    }

    /// The loop waited for events this long.
    #[inline]
    pub fn waited(&mut self, d: Duration) {
        self.idle += d;
        self.load.idle += d;
    }

    /// Takes a sample when one is due (cheap otherwise: one comparison).
    #[inline]
    pub fn tick(&mut self, now: Instant) {
        if now.duration_since(self.since) >= SAMPLE {
            self.sample(now);
        }
    }

    fn sample(&mut self, now: Instant) {
        let cpu = thread_cpu_time();
        let wall = now.duration_since(self.since);
        let used = cpu.saturating_sub(self.cpu_since);
        self.load.samples += 1;
        let w = wall.as_secs_f64();
        let busy = w - self.idle.as_secs_f64().min(w);
        if used.as_secs_f64() >= HOT * w || busy >= HOT * w {
            self.load.hot_samples += 1;
        }
        self.since = now;
        self.cpu_since = cpu;
        self.idle = Duration::ZERO;
    }

    /// The load over the whole test, at its end.
    pub fn finish(mut self, now: Instant) -> WorkerLoad {
        self.load.cpu = thread_cpu_time().saturating_sub(self.cpu_started);
        self.load.wall = now.duration_since(self.started);
        self.load
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_is_hot_and_a_sleeping_one_is_not() {
        let t0 = Instant::now();
        let mut busy = Sampler::start(t0);
        let mut x = 0u64;
        while t0.elapsed() < Duration::from_millis(1100) {
            x = x.wrapping_mul(31).wrapping_add(7);
            busy.tick(Instant::now());
        }
        std::hint::black_box(x);
        let load = busy.finish(Instant::now());
        assert_eq!(load.samples, 1);
        // Generous: another process may share the core.
        assert!(load.share() > 0.5, "{load:?}");
        let t1 = Instant::now();
        let mut idle = Sampler::start(t1);
        let slept = Instant::now();
        std::thread::sleep(Duration::from_millis(1050));
        idle.waited(slept.elapsed());
        idle.tick(Instant::now());
        let load = idle.finish(Instant::now());
        assert_eq!((load.samples, load.hot_samples), (1, 0));
        assert!(load.share() < 0.2, "{load:?}");
        assert!(load.busy() < 0.2, "{load:?}");
        assert!(!load.mostly_hot());
        // A loop that never waits is hot whatever its CPU share says.
        let t2 = Instant::now();
        let mut starved = Sampler::start(t2);
        std::thread::sleep(Duration::from_millis(1050));
        starved.tick(Instant::now());
        let load = starved.finish(Instant::now());
        assert_eq!((load.samples, load.hot_samples), (1, 1));
        assert!(load.busy() > 0.9, "{load:?}");
    }
}
