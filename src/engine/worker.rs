//! One user: ramps up on schedule, then runs passes of its scenario until the
//! test stops or its iterations are done, recording every request.

use super::check;
use super::task::{Prepared, Task};
use super::{Shared, Wait};
use crate::http::{Client, ClientConfig, HttpError, Request};
use crate::reports::RequestRow;
use crate::resolver::{Scope, Vars};
use crate::stats::recorder::FailKind;
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
        Duration::from_secs_f64(user as f64 / plan.spawn_rate)
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
    };
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
            u.execute(shared, task, user as usize);
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

    fn execute(&mut self, shared: &Shared<'_>, task: &Task, worker: usize) {
        let t0 = Instant::now();
        self.extracted.clear();
        let prepared: &Prepared = match &task.fixed {
            Some(p) => p,
            None => {
                let mut scope = Scope::new(shared.plan_vars, &mut self.rng).with_user(&self.vars);
                if let Err(e) = task.build(&mut scope, &mut self.prepared) {
                    // A request that cannot be built (bad URL, undefined variable) never leaves.
                    let kind = FailKind::Request;
                    let msg = e.to_string();
                    record(
                        shared,
                        task,
                        worker,
                        t0.elapsed(),
                        0,
                        None,
                        Some((kind, &msg)),
                        &self.prepared.full_url,
                    );
                    return;
                }
                &self.prepared
            }
        };
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
                let failure = verdict.as_ref().err().map(|(k, m)| (*k, m.as_str()));
                record(
                    shared,
                    task,
                    worker,
                    latency,
                    bytes,
                    Some(status),
                    failure,
                    &prepared.full_url,
                );
                if verdict.is_ok() {
                    for (k, v) in self.extracted.drain(..) {
                        self.vars.set(k, v);
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                record(
                    shared,
                    task,
                    worker,
                    latency,
                    0,
                    None,
                    Some((fail_kind(&e), &msg)),
                    &prepared.full_url,
                );
            }
        }
    }
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

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared<'_>,
    task: &Task,
    worker: usize,
    latency: Duration,
    bytes: u64,
    status: Option<u16>,
    failure: Option<(FailKind, &str)>,
    url: &str,
) {
    {
        let mut r = shared.recorders[worker]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        r.slots[task.slot].record(latency, bytes, failure);
    }
    if let Some(log) = &shared.request_log {
        let row = RequestRow {
            success: failure.is_none(),
            method: task.method.as_str(),
            url,
            name: &task.name,
            status_code: status,
            response_time_ms: latency.as_secs_f64() * 1000.0,
            response_length: bytes,
            error: failure.map(|(_, m)| m),
        };
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let _ = log.write_row(&row);
    }
}
