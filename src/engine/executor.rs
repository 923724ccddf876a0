//! One worker of the pool: an event loop over its users' sockets and timers.
//! Users never move between workers, so nothing on the hot path is shared but
//! the worker's own recorder shard (locked once per request, uncontended).

use super::arrival::Dispatcher;
use super::cpu::Sampler;
use super::population::slots_within;
use super::timers::Timers;
use super::user::{Cx, User};
use super::wakeup::Wakeup;
use super::Shared;
use crate::http::session::{Resolver, READ_BUF};
use crate::http::ClientConfig;
use mio::{Events, Poll, Token};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The token of the worker's waker (stop, abort).
pub const WAKE: Token = Token(usize::MAX);
/// The token of the worker's precise wake-up (an arrival-rate schedule).
const SCHEDULE: Token = Token(usize::MAX - 1);

/// Longest sleep between looks at the stop signal, should a wake-up be missed.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// Runs the users `ids` to the end of the test on this thread. Returns when
/// every one of them has finished.
pub fn run_worker(
    shared: &Shared<'_>,
    shard: usize,
    ids: &[u64],
    mut poll: Poll,
    finished: &AtomicUsize,
) -> std::io::Result<()> {
    let mut users: Vec<User<'_>> = ids
        .iter()
        .enumerate()
        .map(|(slot, &id)| User::new(shared, id, slot))
        .collect();
    let mut timers = Timers::new();
    let mut resolver = Resolver::new(Some(std::sync::Arc::clone(&shared.stop)));
    let mut scratch = vec![0u8; READ_BUF];
    let client = ClientConfig {
        proxies: shared.plan.proxies.clone(),
        ..ClientConfig::default()
    };
    let mut events = Events::with_capacity(1024);
    let registry = poll.registry().try_clone()?;
    // An arrival-rate test: this worker's share of the schedule, and of the
    // pre-allocated users (user `id` runs here; ids ascend with slots).
    let mut dispatcher = shared.plan.arrival.as_ref().map(|a| {
        let ready = ids.iter().filter(|&&id| id < a.pre_allocated_users).count();
        Dispatcher::new(
            &a.schedule,
            shared.started,
            a.max_lag,
            a.segment
                .worker((shard as u64, shared.recorders.len() as u64)),
            users.len(),
            ready,
        )
    });
    let mut cpu = Sampler::start(Instant::now());
    // Iterations are due to the microsecond: a timerfd wakes the loop for
    // them (epoll's own timeout counts whole milliseconds).
    let mut wakeup = dispatcher
        .as_ref()
        .and_then(|_| Wakeup::new(&registry, SCHEDULE));
    // A shaped test's users wait parked until the target reaches them:
    // `seen` users of this worker are within the target as last seen, and
    // none below `parked_from` is parked.
    let workers = shared.recorders.len();
    let mut seen = users.len();
    let mut parked_from = users.len();
    if shared.plan.shape.is_some() {
        seen = 0;
        parked_from = 0;
    }
    macro_rules! cx {
        () => {
            Cx {
                shared,
                registry: &registry,
                timers: &mut timers,
                resolver: &mut resolver,
                scratch: &mut scratch,
                client: &client,
                shard,
                finished,
                arrivals: dispatcher.as_mut(),
                parked_from: &mut parked_from,
            }
        };
    }
    match dispatcher.as_ref().map(Dispatcher::ready_users) {
        None => {
            for u in &mut users {
                u.schedule(&mut cx!());
            }
        }
        Some(ready) => {
            for (slot, u) in users.iter_mut().enumerate() {
                u.await_iterations(&mut cx!(), slot < ready);
            }
        }
    }
    let mut seen_stop = (false, false);
    while finished.load(Ordering::Relaxed) < users.len() {
        // The target moved: users above it park between tasks, parked
        // users below it start.
        let within = slots_within(shared.population.allowed(), shard, workers, users.len());
        for u in users.iter_mut().take(seen).skip(within) {
            u.shrink(&mut cx!());
        }
        seen = within;
        if parked_from < within {
            let from = std::mem::replace(&mut parked_from, within);
            for u in users.iter_mut().take(within).skip(from) {
                u.grow(&mut cx!());
            }
        }
        let now = Instant::now();
        let mut sleep = timers
            .until_next(now)
            .map_or(MAX_SLEEP, |d| d.min(MAX_SLEEP));
        if let Some(at) = dispatcher.as_ref().and_then(Dispatcher::wake_at) {
            match &mut wakeup {
                Some(w) if at > now => w.arm(at),
                _ => sleep = sleep.min(at.saturating_duration_since(now)),
            }
        }
        let polled = poll.poll(&mut events, Some(sleep));
        cpu.waited(now.elapsed());
        if let Err(e) = polled {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for ev in events.iter() {
            let t = ev.token();
            if t == WAKE {
                continue;
            }
            if t == SCHEDULE {
                if let Some(w) = &mut wakeup {
                    w.fired();
                }
                continue;
            }
            if let Some(u) = users.get_mut(t.0) {
                u.on_event(&mut cx!(), ev.is_readable() || ev.is_read_closed());
            }
        }
        let stop = (shared.stop.is_stopping(), shared.stop.is_aborted());
        if stop != seen_stop {
            seen_stop = stop;
            if let Some(d) = &mut dispatcher {
                d.close(Instant::now());
            }
            for u in &mut users {
                u.on_stop(&mut cx!());
            }
        }
        let now = Instant::now();
        while let Some((slot, generation)) = timers.pop_due(now) {
            let u = &mut users[slot];
            if u.owns_timer(generation) {
                u.on_timer(&mut cx!(), now);
            }
        }
        // Iterations due: to free users, or to new ones.
        if !shared.stop.is_stopping() {
            while let Some(start) = dispatcher.as_mut().and_then(|d| d.take(now)) {
                users[start.slot].start_iteration(&mut cx!(), start.lag, start.new_user);
            }
        }
        cpu.tick(now);
        if timers.len() > 4 * users.len() + 1024 {
            timers.compact(|slot, generation| users[slot].owns_timer(generation));
        }
    }
    let mut r = crate::sync::lock(&shared.recorders[shard]);
    r.load = cpu.finish(Instant::now());
    r.lag = dispatcher.map(|d| d.tally);
    Ok(())
}
