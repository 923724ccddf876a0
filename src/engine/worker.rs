//! One user: ramps up on schedule, then runs passes of its scenario until the
//! test stops or its iterations are done, recording every request.

use super::check;
use super::task::{Prepared, Task};
use super::{Shared, Wait};
use crate::conditioner::Conditioner;
use crate::http::{Client, ClientConfig, HttpError, Request};
use crate::resolver::{Scope, Vars};
use crate::retry::{self, AttemptFailure, Attempts};
use crate::stats::recorder::{FailKind, RetryOutcome};
use crate::stats::request_log::{RequestRow, RowOutcome};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The per-user seed: the run's seed, the test and the user mixed (SplitMix64).
pub fn user_seed(seed: u64, test: usize, user: u64) -> u64 {
    let mut z = seed
        ^ (test as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ user.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn run_user(shared: &Shared<'_>, user: u64) {
    let plan = shared.plan;
    let start_at = if plan.spawn_rate > 0.0 {
        crate::units::secs(user as f64 / plan.spawn_rate)
    } else {
        Duration::ZERO
    };
    let wait = (shared.started + start_at).saturating_duration_since(Instant::now());
    if !shared.stop.sleep(wait) {
        return;
    }
    shared.active_users.fetch_add(1, Ordering::Relaxed);
    let mut u = User {
        vars: plan.variables.clone(),
        rng: SmallRng::seed_from_u64(user_seed(plan.seed, plan.index, user)),
        client: Client::new(ClientConfig::default()),
        prepared: Prepared::default(),
        extracted: Vec::new(),
        // Its own stream, so the drop pattern depends only on the attempt's position.
        cond_rng: SmallRng::seed_from_u64(
            user_seed(plan.seed, plan.index, user) ^ 0x5EED_C0DE_D15C_0A11,
        ),
    };
    let shard = (user % shared.recorders.len() as u64) as usize;
    let mut pass = Vec::new();
    let mut done = 0u64;
    'passes: while !shared.stop.is_stopping() {
        plan.scenario.pass(&mut u.rng, &mut pass);
        let mut ran = 0;
        for &i in &pass {
            if shared.stop.is_stopping() {
                break 'passes;
            }
            let task = &plan.scenario.tasks[i];
            if !u.gate(shared, task) {
                continue;
            }
            ran += 1;
            u.execute(shared, task, shard);
            if !think(shared, plan.wait, &mut u.rng) {
                break 'passes;
            }
        }
        done += 1;
        if plan.iterations.is_some_and(|n| done >= n) {
            break;
        }
        if ran == 0 && !shared.stop.sleep(Duration::from_millis(10)) {
            break;
        }
    }
    shared.active_users.fetch_sub(1, Ordering::Relaxed);
}

/// Sleeps the think time; false when the test stopped meanwhile.
fn think(shared: &Shared<'_>, wait: Wait, rng: &mut SmallRng) -> bool {
    match wait {
        Wait::None => true,
        Wait::Constant(d) => shared.stop.sleep(d),
        Wait::Between(a, b) => {
            let d = if b > a { rng.random_range(a..=b) } else { a };
            shared.stop.sleep(d)
        }
    }
}

struct User {
    /// This user's own variables (the test's `variables` plus what it extracted).
    vars: Vars,
    rng: SmallRng,
    client: Client,
    prepared: Prepared,
    extracted: Vec<(String, serde_json::Value)>,
    /// Draws of the network conditioner.
    cond_rng: SmallRng,
}

impl User {
    fn gate(&mut self, shared: &Shared<'_>, task: &Task) -> bool {
        if task.run_if.is_none() && task.skip_if.is_none() {
            return true;
        }
        let mut scope = Scope::new(shared.plan_vars, &mut self.rng).with_user(&self.vars);
        task.run_if.as_ref().is_none_or(|p| p.holds(&mut scope))
            && !task.skip_if.as_ref().is_some_and(|p| p.holds(&mut scope))
    }

    /// One logical request: attempts, retried under the task's policy.
    /// Order per attempt: stop? → build → send → judge → classify → retry?
    /// (backoff) → … → final outcome → stats.
    fn execute(&mut self, shared: &Shared<'_>, task: &Task, worker: usize) {
        let t0 = Instant::now();
        self.extracted.clear();
        // Built once per logical request: retries resend the same request.
        let mut prep = std::mem::take(&mut self.prepared);
        let built = match &task.fixed {
            Some(_) => Ok(()),
            None => {
                let mut scope = Scope::new(shared.plan_vars, &mut self.rng).with_user(&self.vars);
                task.build(&mut scope, &mut prep)
            }
        };
        let req: &Prepared = task.fixed.as_ref().unwrap_or(&prep);
        match built {
            Ok(()) => self.logical(shared, task, worker, t0, req),
            Err(e) => {
                // A request that cannot be built (bad URL, undefined variable) never
                // leaves, and is permanent: never retried.
                let a = Attempt {
                    latency: t0.elapsed(),
                    bytes: 0,
                    status: None,
                    failure: Some((FailKind::Request, e.to_string())),
                    class_input: Some(AttemptFailure::NotBuilt),
                    retry_after: None,
                };
                let out = task.retry.as_ref().map(|_| RetryOutcome {
                    attempts: 1,
                    ..RetryOutcome::default()
                });
                self.finish(shared, task, worker, t0, a, out, &req.full_url);
            }
        }
        self.prepared = prep;
    }

    /// Attempts of one built request, retried under the task's policy.
    fn logical(
        &mut self,
        shared: &Shared<'_>,
        task: &Task,
        worker: usize,
        t0: Instant,
        req: &Prepared,
    ) {
        let url = req.full_url.as_str();
        let cond = task
            .network
            .as_deref()
            .filter(|c| c.matches(&task.name, url));
        let Some(policy) = &task.retry else {
            let a = self.conditioned_attempt(shared, task, req, cond, worker);
            self.finish(shared, task, worker, t0, a, None, url);
            return;
        };
        if let Some(storm) = &shared.storm {
            storm.first_attempt(t0);
        }
        let mut attempts = Attempts::new(policy);
        loop {
            let a = self.conditioned_attempt(shared, task, req, cond, worker);
            recorder(shared, worker).slots[task.slot].record_attempt(a.latency);
            let next = attempts.next(
                a.class_input.as_ref(),
                a.retry_after,
                shared.stop.is_stopping(),
                shared.storm.as_ref(),
                Instant::now(),
                &mut self.rng,
            );
            match next {
                Some(delay) if shared.stop.sleep(delay) => self.extracted.clear(),
                _ => {
                    return self.finish(shared, task, worker, t0, a, Some(attempts.outcome()), url)
                }
            }
        }
    }

    /// Records the final outcome of a logical request; stores what it extracted.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        shared: &Shared<'_>,
        task: &Task,
        worker: usize,
        t0: Instant,
        a: Attempt,
        retry: Option<RetryOutcome>,
        url: &str,
    ) {
        let latency = if retry.is_some() {
            t0.elapsed()
        } else {
            a.latency
        };
        let failure = a.failure.as_ref().map(|(k, m)| (*k, m.as_str()));
        // Cut off by the end of the test before it completed: not a request
        // outcome (no latency, no verdict), counted apart.
        let cancelled = matches!(failure, Some((FailKind::Cancelled, _)));
        {
            let mut r = recorder(shared, worker);
            let tally = &mut r.slots[task.slot];
            if cancelled {
                tally.cancelled += 1;
            } else {
                tally.record(latency, a.bytes, failure);
                if let Some(o) = &retry {
                    tally.record_retry(o);
                }
            }
        }
        // The failure budget sees logical outcomes, after retries, while the
        // test is running (not what completes during its stop).
        if let Some(b) = &shared.budget {
            if !cancelled
                && !shared.stop.is_stopping()
                && b.record(Instant::now(), failure.is_some(), latency)
                    .is_some()
            {
                shared.stop.stop();
            }
        }
        if let Some(log) = &shared.request_log {
            let row = RequestRow {
                outcome: match failure {
                    None => RowOutcome::Success,
                    Some(_) if cancelled => RowOutcome::Cancelled,
                    Some(_) => RowOutcome::Failure,
                },
                method: task.method.as_str(),
                url,
                name: &task.name,
                status_code: a.status,
                response_time_ms: latency.as_secs_f64() * 1000.0,
                response_length: a.bytes,
                error: failure.map(|(_, m)| m),
            };
            let mut log = crate::sync::lock(log);
            let _ = log.write_row(&row);
        }
        if failure.is_none() {
            for (k, v) in self.extracted.drain(..) {
                self.vars.set(k, v);
            }
        }
    }

    /// One attempt through the network conditioner, when one applies: a drop
    /// fails it before any byte is sent; otherwise the drawn delay is slept
    /// first and the body read is paced, both inside the measured latency.
    fn conditioned_attempt(
        &mut self,
        shared: &Shared<'_>,
        task: &Task,
        req: &Prepared,
        cond: Option<&Conditioner>,
        shard: usize,
    ) -> Attempt {
        let Some(c) = cond else {
            return self.attempt(shared, task, req);
        };
        let t0 = Instant::now();
        let d = c.draw(&mut self.cond_rng);
        if d.drop {
            recorder(shared, shard).slots[task.slot].record_conditioned(
                true,
                Duration::ZERO,
                &c.settings,
            );
            return Attempt::failed(
                t0.elapsed(),
                FailKind::Dropped,
                "dropped by the network conditioner".to_string(),
                AttemptFailure::Dropped,
            );
        }
        if !shared.stop.sleep(d.delay) {
            let e = HttpError::Cancelled;
            return Attempt::failed(
                t0.elapsed(),
                FailKind::Cancelled,
                e.to_string(),
                AttemptFailure::Transport(e),
            );
        }
        let mut a = self.attempt(shared, task, req);
        let pace = c.pace(a.bytes);
        if !pace.is_zero() {
            shared.stop.sleep(pace);
        }
        a.latency = t0.elapsed();
        recorder(shared, shard).slots[task.slot].record_conditioned(
            false,
            d.delay + pace,
            &c.settings,
        );
        a
    }

    /// One attempt: send, judge.
    fn attempt(&mut self, shared: &Shared<'_>, task: &Task, prepared: &Prepared) -> Attempt {
        let t0 = Instant::now();
        let url = prepared.url.as_ref().expect("a built request has a URL");
        let req = Request {
            method: task.method,
            url,
            headers: &prepared.headers,
            body: &prepared.body,
            timeout: task.timeout,
        };
        let result = self.client.send(&req, &shared.stop);
        let latency = t0.elapsed();
        match result {
            Ok(resp) => {
                let status = resp.status;
                let bytes = resp.body.len() as u64;
                let verdict = {
                    let mut scope =
                        Scope::new(shared.plan_vars, &mut self.rng).with_user(&self.vars);
                    check::judge(
                        &resp,
                        &task.assertions,
                        &task.extract,
                        &mut scope,
                        &mut self.extracted,
                    )
                };
                match verdict {
                    Ok(()) => Attempt {
                        latency,
                        bytes,
                        status: Some(status),
                        failure: None,
                        class_input: None,
                        retry_after: None,
                    },
                    Err((kind, msg)) => {
                        let retry_after = if matches!(status, 429 | 503) {
                            resp.header("retry-after").and_then(|v| {
                                retry::policy::parse_retry_after(v, std::time::SystemTime::now())
                            })
                        } else {
                            None
                        };
                        Attempt {
                            latency,
                            bytes,
                            status: Some(status),
                            class_input: Some(AttemptFailure::Response {
                                status,
                                assertion_failed: kind == FailKind::Assertion,
                                unexpected_body: kind == FailKind::Extract,
                            }),
                            failure: Some((kind, msg)),
                            retry_after,
                        }
                    }
                }
            }
            Err(e) => Attempt {
                latency,
                bytes: 0,
                status: None,
                failure: Some((fail_kind(&e), e.to_string())),
                class_input: Some(AttemptFailure::Transport(e)),
                retry_after: None,
            },
        }
    }
}

/// One attempt's result, owned (the response's buffers are reused by the next send).
struct Attempt {
    latency: Duration,
    bytes: u64,
    status: Option<u16>,
    failure: Option<(FailKind, String)>,
    /// What the retry classifier needs; `None` on success.
    class_input: Option<AttemptFailure>,
    /// A `Retry-After` on a 429/503.
    retry_after: Option<Duration>,
}

impl Attempt {
    fn failed(latency: Duration, kind: FailKind, msg: String, input: AttemptFailure) -> Attempt {
        Attempt {
            latency,
            bytes: 0,
            status: None,
            failure: Some((kind, msg)),
            class_input: Some(input),
            retry_after: None,
        }
    }
}

/// The recorder shard `worker` records into, locked.
fn recorder<'s>(
    shared: &'s Shared<'_>,
    worker: usize,
) -> std::sync::MutexGuard<'s, crate::stats::recorder::Recorder> {
    crate::sync::lock(&shared.recorders[worker])
}

/// The statistics kind of a transport error.
pub fn fail_kind(e: &HttpError) -> FailKind {
    match e {
        HttpError::ConnectTimeout(_) | HttpError::ReadTimeout(_) => FailKind::Timeout,
        HttpError::InvalidUrl(_) => FailKind::Request,
        HttpError::Tls(_) => FailKind::Tls,
        HttpError::Protocol(_) => FailKind::Protocol,
        HttpError::Cancelled => FailKind::Cancelled,
        HttpError::Refused
        | HttpError::Reset
        | HttpError::Aborted
        | HttpError::ClosedEarly
        | HttpError::Dns(_)
        | HttpError::Io(_) => FailKind::Connection,
    }
}
