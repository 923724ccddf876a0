//! The worker pool: today one OS thread per user (on two cores a thread per
//! connection with a lean client reaches oha's rate up to ~200 users; see
//! `bench/README.md`). Only this file knows how users map onto threads.

use super::{worker, Shared};
use crate::sync::lock;
use std::sync::atomic::Ordering;

/// Stack size of a user thread: the client's buffers live on the heap.
const USER_STACK: usize = 256 * 1024;

/// Runs every user of the test while `supervise` runs on this thread; returns
/// what `supervise` returns once all users have finished.
pub fn run_users<R>(shared: &Shared<'_>, supervise: impl FnOnce() -> R) -> R {
    std::thread::scope(|scope| {
        for user in 0..shared.plan.users {
            let spawned = std::thread::Builder::new()
                .name(format!("user-{user}"))
                .stack_size(USER_STACK)
                .spawn_scoped(scope, move || {
                    // A panicking user must neither hang the test nor take the
                    // run down: it counts as finished and the panic is kept.
                    let guard = FinishGuard(shared);
                    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        worker::run_user(shared, user)
                    }));
                    if let Err(p) = run {
                        let msg = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a user thread panicked".to_string());
                        let mut slot = lock(&shared.panicked);
                        slot.get_or_insert(msg);
                        shared.stop.stop();
                    }
                    drop(guard);
                });
            if spawned.is_err() {
                // Out of threads: this user never starts; the others carry on.
                shared.finished_users.fetch_add(1, Ordering::AcqRel);
            }
        }
        supervise()
    })
}

struct FinishGuard<'a, 'b>(&'a Shared<'b>);

impl Drop for FinishGuard<'_, '_> {
    fn drop(&mut self) {
        self.0.finished_users.fetch_add(1, Ordering::AcqRel);
    }
}
