//! The worker pool: a few threads (by default one per available core), each
//! an event loop ([`super::executor`]) driving many users over non-blocking
//! sockets. The thread count does not depend on the number of users, and a
//! stop wakes every loop at once. Only this file knows how users map onto
//! threads: user `i` runs on worker `i % workers`, so a ramp-up spreads evenly.

use super::executor::{self, WAKE};
use super::Shared;
use crate::sync::lock;
use mio::{Poll, Waker};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Worker threads when the run does not say (`--workers`): one per available core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Workers a test of `users` users runs on: never more than its users.
pub fn workers_for(requested: usize, users: u64) -> usize {
    (requested.max(1) as u64).min(users.max(1)) as usize
}

/// Runs every user of the test on `shared.workers` threads while `supervise`
/// runs on this thread; returns what `supervise` returns once all users have
/// finished.
pub fn run_users<R>(shared: &Shared<'_>, supervise: impl FnOnce() -> R) -> anyhow::Result<R> {
    let workers = shared.recorders.len();
    let mut polls = Vec::with_capacity(workers);
    for _ in 0..workers {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        shared.stop.add_waker(Arc::clone(&waker));
        shared.population.add_waker(waker);
        polls.push(poll);
    }
    let users = shared.plan.users;
    Ok(std::thread::scope(|scope| {
        for (w, poll) in polls.into_iter().enumerate() {
            let ids: Vec<u64> = (w as u64..users).step_by(workers).collect();
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{w}"))
                .spawn_scoped(scope, move || {
                    // A panicking worker must neither hang the test nor take
                    // the run down: its users count as finished and the panic
                    // is kept.
                    let finished = AtomicUsize::new(0);
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        executor::run_worker(shared, w, &ids, poll, &finished)
                    }));
                    let msg = match run {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(format!("worker {w} failed: {e}")),
                        Err(p) => Some(
                            p.downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| p.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "a worker thread panicked".to_string()),
                        ),
                    };
                    if let Some(msg) = msg {
                        lock(&shared.panicked).get_or_insert(msg);
                        shared.stop.stop();
                        let left = ids.len() - finished.load(Ordering::Relaxed).min(ids.len());
                        shared
                            .finished_users
                            .fetch_add(left as u64, Ordering::AcqRel);
                    }
                });
            if spawned.is_err() {
                lock(&shared.panicked).get_or_insert(format!("could not start worker {w}"));
                shared.stop.stop();
                let ids = (w as u64..users).step_by(workers).count();
                shared
                    .finished_users
                    .fetch_add(ids as u64, Ordering::AcqRel);
            }
        }
        supervise()
    }))
}
