//! One user as a small state machine, driven by its worker's event loop: it
//! ramps up on schedule, then runs passes of its scenario until the test stops
//! or its iterations are done, recording every request.
//!
//! Each logical request follows one fixed order: stop? → build → (per attempt:
//! conditioner drop or delay → send → judge → pace) → retry? (backoff) → … →
//! final outcome → failure budget → stats → think time. Waiting (ramp-up,
//! conditioner delay, pacing, backoff, think time, a request timeout) is a
//! timer; sending and reading wait on socket readiness. Nothing blocks.

use super::arrival::Dispatcher;
use super::check;
use super::task::{Prepared, Task};
use super::timers::Timers;
use super::{Shared, Wait};
use crate::conditioner::Conditioner;
use crate::data_source::TaskRows;
use crate::http::cookies::CookieJar;
use crate::http::session::{Progress, Resolver, Session};
use crate::http::{ClientConfig, HttpError, Method, Request, Url};
use crate::resolver::{Scope, Vars};
use crate::retry::{self, AttemptFailure, Attempts};
use crate::stats::recorder::{FailKind, Recorder, RetryOutcome};
use crate::stats::request_log::{RequestRow, RowOutcome};
use mio::{Registry, Token};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Steps a user may take in one go before it lets the other users of its
/// worker have a turn (a user whose requests all fail at once never waits).
const STEPS_PER_TURN: u32 = 256;
/// The pause after a pass that ran no task (every task gated off).
const IDLE_PASS: Duration = Duration::from_millis(10);

/// The per-user seed: the run's seed, the test and the user mixed (SplitMix64).
pub fn user_seed(seed: u64, test: usize, user: u64) -> u64 {
    let mut z = seed
        ^ (test as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ user.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a worker lends its users while one of them runs.
pub struct Cx<'w, 'a> {
    pub shared: &'w Shared<'a>,
    pub registry: &'w Registry,
    pub timers: &'w mut Timers,
    pub resolver: &'w mut Resolver,
    /// The worker's read buffer, lent to the session that reads.
    pub scratch: &'w mut [u8],
    pub client: &'w ClientConfig,
    /// This worker's recorder shard.
    pub shard: usize,
    /// This worker's share of an arrival-rate schedule.
    pub arrivals: Option<&'w mut Dispatcher<'a>>,
    /// Users of this worker that have finished.
    pub finished: &'w AtomicUsize,
    /// The lowest slot of this worker that may be parked (a shaped test).
    pub parked_from: &'w mut usize,
}

impl Cx<'_, '_> {
    fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        crate::sync::lock(&self.shared.recorders[self.shard])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Timer: its start time in the ramp-up.
    Ramp,
    /// Ready: pick the next task.
    Next,
    /// Ready: the next attempt of the current request.
    Attempt,
    /// Timer: the conditioner's delay before sending.
    CondDelay,
    /// Ready: send.
    Send,
    /// Socket readiness (and a timer for its timeout).
    InFlight,
    /// Timer: the conditioner's bandwidth pacing after the response.
    Pace,
    /// Ready: the attempt is judged; retry or finish.
    Judged,
    /// Timer: the retry backoff.
    Backoff,
    /// Timer: think time after a task.
    Think,
    /// Timer: a pass ran no task.
    Idle,
    /// Timer: the task's throttle has no token yet.
    Throttled,
    /// No timer: above a shaped test's target, until the target comes back
    /// up (or the test stops).
    Parked,
    /// No timer: an arrival-rate test's user waiting for its next iteration.
    Waiting,
    Done,
}

/// Whether the user can go on now or waits for an event.
enum Flow {
    Continue,
    Wait,
}

/// One attempt's result, owned (the session's buffers are reused by the next send).
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
    fn failed(latency: Duration, e: HttpError) -> Attempt {
        Attempt {
            latency,
            bytes: 0,
            status: None,
            failure: Some((fail_kind(&e), e.to_string())),
            class_input: Some(AttemptFailure::Transport(e)),
            retry_after: None,
        }
    }
}

/// Where a followed redirect leads: the next hop of the current attempt.
struct Hop {
    url: Url,
    method: Method,
    /// Redirects followed so far in this attempt.
    count: u32,
    /// A 301/302/303 came: no body (nor Content-Type) from here on.
    drop_body: bool,
    /// The chain left the origin: no Authorization, nor the task's own
    /// Cookie header or cookies, from here on.
    cross_origin: bool,
}

/// Whether two URLs differ in scheme, host or port.
fn other_origin(a: &Url, b: &Url) -> bool {
    a.scheme != b.scheme || a.port != b.port || !a.host.eq_ignore_ascii_case(&b.host)
}

/// The logical request in progress.
struct Current<'a> {
    task: &'a Task,
    /// Before the request was built: the start of a retried request's latency.
    t0: Instant,
    attempts: Option<Attempts<'a>>,
    cond: Option<&'a Conditioner>,
    /// Start of the attempt (before the conditioner's draw).
    attempt_t0: Instant,
    /// Start of the exchange (after any conditioner delay).
    send_t0: Instant,
    cond_delay: Duration,
    pace: Duration,
    /// The attempt that was judged, while pacing or backing off.
    result: Option<Attempt>,
}

pub struct User<'a> {
    /// The user's number in the test (seeds, ramp-up).
    id: u64,
    /// Its place in the worker: the socket token and the timer key.
    slot: usize,
    generation: u64,
    state: State,
    active: bool,
    /// The timer deadline armed for the exchange in flight.
    armed: Option<Instant>,
    vars: Vars,
    rng: SmallRng,
    /// Draws of the network conditioner: its own stream, so the drop pattern
    /// depends only on the attempt's position.
    cond_rng: SmallRng,
    prepared: Prepared,
    extracted: Vec<(String, serde_json::Value)>,
    /// The CSV rows the current task took.
    rows: TaskRows,
    /// Placeholders left as text and extract values missed while building or
    /// judging the current request, counted into the recorder.
    notes: Vec<String>,
    missed: Vec<String>,
    session: Session,
    /// This user's cookies (never shared with another user).
    jar: CookieJar,
    /// The next hop when the current attempt follows a redirect.
    hop: Option<Hop>,
    /// The headers sent when they differ from the prepared ones (a cookie
    /// added, a header dropped on a redirect); buffers reused.
    headers: Vec<(String, String)>,
    cookie: String,
    pass: Vec<usize>,
    pos: usize,
    in_pass: bool,
    ran: u32,
    done: u64,
    cur: Option<Current<'a>>,
    /// Arrival-rate tests: how far behind its schedule the current
    /// iteration started (added to each of its requests' latency).
    iter_lag: Duration,
    /// The task waiting for its throttle's token.
    pending: Option<&'a Task>,
    /// The last attempt's body size once decoded, when it was.
    decoded: Option<u64>,
}

impl<'a> User<'a> {
    pub fn new(shared: &Shared<'a>, id: u64, slot: usize) -> User<'a> {
        let plan = shared.plan;
        let seed = user_seed(plan.seed, plan.index, id);
        User {
            id,
            slot,
            generation: 0,
            state: State::Ramp,
            active: false,
            armed: None,
            vars: Vars::default(),
            rng: SmallRng::seed_from_u64(seed),
            cond_rng: SmallRng::seed_from_u64(seed ^ 0x5EED_C0DE_D15C_0A11),
            prepared: Prepared::default(),
            extracted: Vec::new(),
            rows: TaskRows::default(),
            notes: Vec::new(),
            missed: Vec::new(),
            session: Session::new(Token(slot)),
            jar: CookieJar::default(),
            hop: None,
            headers: Vec::new(),
            cookie: String::new(),
            pass: Vec::new(),
            pos: 0,
            in_pass: false,
            ran: 0,
            done: 0,
            cur: None,
            iter_lag: Duration::ZERO,
            pending: None,
            decoded: None,
        }
    }

    /// Arrival-rate tests: the user waits for iterations; `running` starts
    /// it now (a pre-allocated user), otherwise it starts with its first.
    pub fn await_iterations(&mut self, cx: &mut Cx<'_, 'a>, running: bool) {
        if running {
            self.activate(cx);
        }
        self.state = State::Waiting;
    }

    /// Arrival-rate tests: an iteration for this user, `lag` behind its
    /// schedule.
    pub fn start_iteration(&mut self, cx: &mut Cx<'_, 'a>, lag: Duration, new_user: bool) {
        if self.state != State::Waiting {
            return;
        }
        if new_user {
            self.activate(cx);
        }
        self.iter_lag = lag;
        self.in_pass = false;
        self.state = State::Next;
        self.run(cx);
    }

    /// Whether a timer entry `(slot, generation)` is still this user's.
    pub fn owns_timer(&self, generation: u64) -> bool {
        generation == self.generation && self.state != State::Done
    }

    /// Schedules the user's start in the ramp-up; in a shaped test it waits
    /// parked until the target reaches it.
    pub fn schedule(&mut self, cx: &mut Cx<'_, 'a>) {
        let plan = cx.shared.plan;
        if plan.shape.is_some() {
            self.generation += 1;
            self.state = State::Parked;
            return;
        }
        let start_at = if plan.spawn_rate > 0.0 {
            crate::units::secs(self.id as f64 / plan.spawn_rate)
        } else {
            Duration::ZERO
        };
        let started = cx.shared.started;
        self.wait(cx, State::Ramp, started, start_at);
    }

    /// A timer of this user came due.
    pub fn on_timer(&mut self, cx: &mut Cx<'_, 'a>, now: Instant) {
        let stopping = cx.shared.stop.is_stopping();
        match self.state {
            State::Ramp => {
                if stopping {
                    return self.quit(cx);
                }
                self.activate(cx);
            }
            State::Throttled => {
                if stopping {
                    return self.quit(cx);
                }
                if cx.shared.population.over(self.id) {
                    return self.park(cx);
                }
                let task = self.pending.take().expect("a throttled task is pending");
                let _ = self.begin_request(cx, task);
            }
            State::Parked | State::Waiting => {
                if stopping {
                    return self.quit(cx);
                }
                return;
            }
            State::CondDelay => {
                self.state = State::Send;
                if stopping {
                    self.cancelled_attempt(now);
                }
            }
            State::Pace => self.paced(cx, now),
            State::Backoff => {
                if stopping {
                    // The last attempt's failure is the outcome.
                    self.finish_current(cx, now);
                } else {
                    self.retry();
                }
            }
            State::Think | State::Idle => {
                if stopping {
                    return self.quit(cx);
                }
                self.state = State::Next;
            }
            State::InFlight => {
                match self.session.deadline() {
                    Some(d) if now >= d => {
                        let e = self.session.timeout_error();
                        self.session.abandon(cx.registry);
                        self.responded(cx, Err(e), now);
                    }
                    // An older deadline; the current one is armed.
                    _ => return,
                }
            }
            // A turn handed back after `STEPS_PER_TURN`.
            State::Next | State::Attempt | State::Send | State::Judged => {}
            State::Done => return,
        }
        self.run(cx);
    }

    /// A readiness event for this user's sockets.
    pub fn on_event(&mut self, cx: &mut Cx<'_, 'a>, readable: bool) {
        let now = Instant::now();
        if self.state != State::InFlight {
            // Its kept connections may have changed (closed by the server).
            let _ = self
                .session
                .on_event(readable, cx.registry, cx.scratch, now);
            return;
        }
        match self
            .session
            .on_event(readable, cx.registry, cx.scratch, now)
        {
            Ok(Progress::Pending) => return self.arm_deadline(cx),
            Ok(Progress::Done(status)) => self.responded(cx, Ok(status), Instant::now()),
            Err(e) => self.responded(cx, Err(e), Instant::now()),
        }
        self.run(cx);
    }

    /// The test began to stop (or to abort): waits end, and on abort the
    /// exchange in flight is cancelled.
    pub fn on_stop(&mut self, cx: &mut Cx<'_, 'a>) {
        let now = Instant::now();
        match self.state {
            State::Ramp
            | State::CondDelay
            | State::Pace
            | State::Backoff
            | State::Think
            | State::Idle
            | State::Throttled
            | State::Parked
            | State::Waiting => self.on_timer(cx, now),
            State::InFlight if cx.shared.stop.is_aborted() => {
                self.session.abandon(cx.registry);
                self.responded(cx, Err(HttpError::Cancelled), now);
                self.run(cx);
            }
            _ => {}
        }
    }

    /// Takes steps until the user must wait.
    fn run(&mut self, cx: &mut Cx<'_, 'a>) {
        for _ in 0..STEPS_PER_TURN {
            let flow = match self.state {
                State::Next => self.next_task(cx),
                State::Attempt => self.begin_attempt(cx),
                State::Send => self.send(cx),
                State::Judged => self.judged(cx),
                _ => Flow::Wait,
            };
            if let Flow::Wait = flow {
                return;
            }
        }
        // Let the worker's other users have a turn; carry on right after
        // (just after: a timer due at the worker's `now` would run again at once).
        let state = self.state;
        self.wait(cx, state, Instant::now(), Duration::from_micros(1));
    }

    /// Waits in `state` for `d` from `from`. A wait longer than the clock
    /// can count (a delay of centuries) waits for the stop alone.
    fn wait(&mut self, cx: &mut Cx<'_, 'a>, state: State, from: Instant, d: Duration) -> Flow {
        self.generation += 1;
        self.state = state;
        if let Some(at) = from.checked_add(d) {
            cx.timers.arm(at, self.slot, self.generation);
        }
        Flow::Wait
    }

    /// Starts running (its ramp-up time came, or a shaped test's target
    /// reached it): a fresh user, with the test's variables and no cookies.
    fn activate(&mut self, cx: &mut Cx<'_, 'a>) {
        self.active = true;
        cx.shared.active_users.fetch_add(1, Ordering::Relaxed);
        self.vars = cx.shared.plan.variables.clone();
        self.jar = CookieJar::default();
        self.in_pass = false;
        self.state = State::Next;
    }

    /// Above the target between tasks: stops running (its connections
    /// closed) until the target comes back up.
    fn park(&mut self, cx: &mut Cx<'_, 'a>) {
        self.session.close_all(cx.registry);
        self.drop_current(cx);
        self.hop = None;
        self.pending = None;
        if self.active {
            self.active = false;
            cx.shared.active_users.fetch_sub(1, Ordering::Relaxed);
        }
        self.generation += 1;
        self.state = State::Parked;
        *cx.parked_from = (*cx.parked_from).min(self.slot);
    }

    /// The target fell below this user: one waiting between tasks parks
    /// now; one in a task finishes it first.
    pub fn shrink(&mut self, cx: &mut Cx<'_, 'a>) {
        if matches!(self.state, State::Think | State::Idle | State::Throttled)
            && cx.shared.population.over(self.id)
        {
            self.park(cx);
        }
    }

    /// The target rose over this user: a parked one starts.
    pub fn grow(&mut self, cx: &mut Cx<'_, 'a>) {
        if self.state == State::Parked
            && !cx.shared.population.over(self.id)
            && !cx.shared.stop.is_stopping()
        {
            self.activate(cx);
            self.run(cx);
        }
    }

    fn quit(&mut self, cx: &mut Cx<'_, 'a>) {
        if self.state == State::Done {
            return;
        }
        self.session.close_all(cx.registry);
        self.state = State::Done;
        self.drop_current(cx);
        if self.active {
            cx.shared.active_users.fetch_sub(1, Ordering::Relaxed);
        }
        cx.finished.fetch_add(1, Ordering::Relaxed);
        cx.shared.finished_users.fetch_add(1, Ordering::AcqRel);
    }

    fn next_task(&mut self, cx: &mut Cx<'_, 'a>) -> Flow {
        let plan = cx.shared.plan;
        loop {
            if cx.shared.stop.is_stopping() {
                self.quit(cx);
                return Flow::Wait;
            }
            if cx.shared.population.over(self.id) {
                self.park(cx);
                return Flow::Wait;
            }
            if !self.in_pass {
                plan.scenario.pass(&mut self.rng, &mut self.pass);
                self.pos = 0;
                self.ran = 0;
                self.in_pass = true;
            }
            if let Some(&i) = self.pass.get(self.pos) {
                self.pos += 1;
                let task = &plan.scenario.tasks[i];
                if !self.gate(cx, task) {
                    continue;
                }
                self.ran += 1;
                if let Some(bucket) = &task.bucket {
                    let now = Instant::now();
                    let wait = bucket.reserve(now);
                    if !wait.is_zero() {
                        // Waiting for a token is not part of the latency.
                        self.pending = Some(task);
                        return self.wait(cx, State::Throttled, now, wait);
                    }
                }
                return self.begin_request(cx, task);
            }
            self.in_pass = false;
            self.done += 1;
            if plan.iterations.is_some_and(|n| self.done >= n) {
                self.quit(cx);
                return Flow::Wait;
            }
            if let Some(d) = cx.arrivals.as_deref_mut() {
                // One pass is one iteration: on with the next one due, or
                // wait for it.
                match d.user_free(self.slot, Instant::now()) {
                    Some(lag) => {
                        self.iter_lag = lag;
                        continue;
                    }
                    None => {
                        self.state = State::Waiting;
                        return Flow::Wait;
                    }
                }
            }
            if self.ran == 0 {
                return self.wait(cx, State::Idle, Instant::now(), IDLE_PASS);
            }
        }
    }

    fn gate(&mut self, cx: &Cx<'_, 'a>, task: &Task) -> bool {
        if task.run_if.is_none() && task.skip_if.is_none() {
            return true;
        }
        let mut scope = Scope::new(cx.shared.plan_vars, &mut self.rng)
            .with_user(&self.vars)
            .with_csv(&self.rows);
        task.run_if.as_ref().is_none_or(|p| p.holds(&mut scope))
            && !task.skip_if.as_ref().is_some_and(|p| p.holds(&mut scope))
    }

    /// Builds the request (once per logical request: retries resend it as is).
    fn begin_request(&mut self, cx: &mut Cx<'_, 'a>, task: &'a Task) -> Flow {
        let t0 = Instant::now();
        self.extracted.clear();
        if !task.csv.is_empty() {
            if let Err(source) = self.rows.take(&task.csv) {
                // A source that does not cycle is used up: this user is done.
                *cx.recorder().csv_exhausted.entry(source).or_insert(0) += 1;
                self.quit(cx);
                return Flow::Wait;
            }
        }
        if task.fixed.is_none() {
            let mut scope = Scope::new(cx.shared.plan_vars, &mut self.rng)
                .with_user(&self.vars)
                .with_csv(&self.rows)
                .with_strict(cx.shared.plan.strict)
                .noting(&mut self.notes);
            let built = task.build(&mut scope, &mut self.prepared);
            if !self.notes.is_empty() {
                Recorder::count(&mut cx.recorder().unresolved, &mut self.notes);
            }
            if let Err(e) = built {
                // A request that cannot be built (bad URL, undefined variable)
                // never leaves, and is permanent: never retried.
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
                self.finish(cx, task, t0, a, out);
                return self.think(cx, task);
            }
        }
        let req = task.fixed.as_ref().unwrap_or(&self.prepared);
        let cond = task
            .network
            .as_deref()
            .filter(|c| c.matches(&task.name, &req.full_url));
        let attempts = task.retry.as_ref().map(Attempts::new);
        if attempts.is_some() {
            if let Some(storm) = &cx.shared.storm {
                storm.first_attempt(t0);
            }
        }
        cx.shared.in_flight.begin(cx.shard);
        self.cur = Some(Current {
            task,
            t0,
            attempts,
            cond,
            attempt_t0: t0,
            send_t0: t0,
            cond_delay: Duration::ZERO,
            pace: Duration::ZERO,
            result: None,
        });
        self.state = State::Attempt;
        Flow::Continue
    }

    /// One attempt through the network conditioner, when one applies: a drop
    /// fails it before any byte is sent; otherwise the drawn delay is waited
    /// first, inside the measured latency.
    fn begin_attempt(&mut self, cx: &mut Cx<'_, 'a>) -> Flow {
        let now = Instant::now();
        let cur = self.cur.as_mut().expect("an attempt belongs to a request");
        // Every attempt starts at the task's own URL.
        self.hop = None;
        cur.attempt_t0 = now;
        cur.cond_delay = Duration::ZERO;
        cur.pace = Duration::ZERO;
        let Some(c) = cur.cond else {
            self.state = State::Send;
            return Flow::Continue;
        };
        let d = c.draw(&mut self.cond_rng);
        if d.drop {
            cx.recorder().slots[cur.task.slot].record_conditioned(
                true,
                Duration::ZERO,
                &c.settings,
            );
            cur.result = Some(Attempt {
                latency: now.elapsed(),
                bytes: 0,
                status: None,
                failure: Some((
                    FailKind::Dropped,
                    "dropped by the network conditioner".to_string(),
                )),
                class_input: Some(AttemptFailure::Dropped),
                retry_after: None,
            });
            self.state = State::Judged;
            return Flow::Continue;
        }
        cur.cond_delay = d.delay;
        if d.delay.is_zero() {
            self.state = State::Send;
            return Flow::Continue;
        }
        self.wait(cx, State::CondDelay, now, d.delay)
    }

    /// A conditioner delay cut short by the stop: the attempt is cancelled.
    fn cancelled_attempt(&mut self, now: Instant) {
        let cur = self.cur.as_mut().expect("an attempt belongs to a request");
        cur.result = Some(Attempt::failed(now - cur.attempt_t0, HttpError::Cancelled));
        self.state = State::Judged;
    }

    fn send(&mut self, cx: &mut Cx<'_, 'a>) -> Flow {
        let now = Instant::now();
        let cur = self.cur.as_mut().expect("a send belongs to a request");
        // A redirect's hop is part of the same exchange: its latency spans all hops.
        if self.hop.is_none() {
            cur.send_t0 = now;
        }
        let task = cur.task;
        if cx.shared.stop.is_aborted() {
            self.responded(cx, Err(HttpError::Cancelled), now);
            return Flow::Continue;
        }
        let prepared = task.fixed.as_ref().unwrap_or(&self.prepared);
        let (method, url, body) = match &self.hop {
            None => (
                task.method,
                prepared.url.as_ref().expect("a built request has a URL"),
                &prepared.body[..],
            ),
            Some(h) => (
                h.method,
                &h.url,
                if h.drop_body {
                    &[][..]
                } else {
                    &prepared.body[..]
                },
            ),
        };
        // The prepared headers as they are, unless a cookie joins them or a
        // redirect drops some.
        let headers = if self.hop.is_none() && self.jar.is_empty() && prepared.cookie.is_empty() {
            &prepared.headers[..]
        } else {
            own_headers(
                &mut self.headers,
                &mut self.cookie,
                &mut self.jar,
                prepared,
                self.hop.as_ref(),
                url,
            );
            &self.headers[..]
        };
        let req = Request {
            method,
            url,
            headers,
            body,
            timeout: task.timeout,
        };
        // A body is kept (up to its cap) only when a check reads it.
        self.session
            .keep_body(task.reads_body().then_some(task.max_body_bytes));
        self.session.use_tls(task.tls.as_ref());
        let progress =
            self.session
                .start(cx.client, &req, cx.registry, cx.resolver, cx.scratch, now);
        match progress {
            Ok(Progress::Pending) => {
                self.state = State::InFlight;
                self.armed = None;
                self.arm_deadline(cx);
                Flow::Wait
            }
            Ok(Progress::Done(status)) => {
                self.responded(cx, Ok(status), Instant::now());
                Flow::Continue
            }
            Err(e) => {
                self.responded(cx, Err(e), Instant::now());
                Flow::Continue
            }
        }
    }

    /// Keeps a timer at the exchange's deadline.
    fn arm_deadline(&mut self, cx: &mut Cx<'_, 'a>) {
        let d = self.session.deadline();
        if d != self.armed {
            self.armed = d;
            if let Some(at) = d {
                self.generation += 1;
                cx.timers.arm(at, self.slot, self.generation);
            }
        }
    }

    /// The exchange ended (`now` is when): judge it, then pace if the
    /// conditioner limits bandwidth.
    fn responded(&mut self, cx: &mut Cx<'_, 'a>, result: Result<u16, HttpError>, now: Instant) {
        let cur = self.cur.as_mut().expect("a response belongs to a request");
        let task = cur.task;
        let latency = now - cur.send_t0;
        self.decoded = None;
        let a = match result {
            Err(e) => Attempt::failed(latency, e),
            Ok(status) => {
                let resp = self.session.response(status);
                let bytes = resp.body_bytes;
                self.decoded = resp.decoded_bytes;
                let prepared = task.fixed.as_ref().unwrap_or(&self.prepared);
                let url = match &self.hop {
                    Some(h) => &h.url,
                    None => prepared.url.as_ref().expect("a sent request has a URL"),
                };
                store_cookies(&mut self.jar, url, resp.head);
                if task.follow_redirects && matches!(status, 301 | 302 | 303 | 307 | 308) {
                    if let Some(location) = resp.header("location") {
                        let count = self.hop.as_ref().map_or(0, |h| h.count);
                        let next = if count >= task.max_redirects {
                            Err(None)
                        } else {
                            url.join(location).map_err(Some)
                        };
                        match next {
                            Ok(next) => {
                                let left = other_origin(url, &next);
                                let prev = self.hop.take();
                                let (method, drop_body, cross) = match &prev {
                                    Some(h) => (h.method, h.drop_body, h.cross_origin),
                                    None => (task.method, false, false),
                                };
                                let see_other = matches!(status, 301..=303);
                                self.hop = Some(Hop {
                                    method: if see_other && method != Method::Head {
                                        Method::Get
                                    } else {
                                        method
                                    },
                                    drop_body: drop_body || see_other,
                                    cross_origin: cross || left,
                                    url: next,
                                    count: count + 1,
                                });
                                self.state = State::Send;
                                return;
                            }
                            Err(e) => {
                                let (kind, msg, err) = match e {
                                    None => {
                                        let msg =
                                            format!("too many redirects ({})", task.max_redirects);
                                        (FailKind::Protocol, msg.clone(), HttpError::Protocol(msg))
                                    }
                                    Some(e) => (
                                        fail_kind(&e),
                                        format!(
                                            "redirect to {:?}: {e}",
                                            crate::http::secret::redact_url(location)
                                        ),
                                        e,
                                    ),
                                };
                                cur.result = Some(Attempt {
                                    latency,
                                    bytes,
                                    status: Some(status),
                                    failure: Some((kind, msg)),
                                    class_input: Some(AttemptFailure::Transport(err)),
                                    retry_after: None,
                                });
                                self.state = State::Judged;
                                return self.pace_after(cx, bytes, now);
                            }
                        }
                    }
                }
                let verdict = {
                    let mut scope = Scope::new(cx.shared.plan_vars, &mut self.rng)
                        .with_user(&self.vars)
                        .with_csv(&self.rows)
                        .with_strict(cx.shared.plan.strict)
                        .noting(&mut self.notes);
                    check::judge(
                        &resp,
                        &task.assertions,
                        &task.extract,
                        &mut scope,
                        &mut self.extracted,
                        &mut self.missed,
                    )
                };
                if !self.notes.is_empty() || !self.missed.is_empty() {
                    let mut r = cx.recorder();
                    Recorder::count(&mut r.unresolved, &mut self.notes);
                    Recorder::count(&mut r.extract_missed, &mut self.missed);
                }
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
                                unexpected_body: false,
                            }),
                            failure: Some((kind, msg)),
                            retry_after,
                        }
                    }
                }
            }
        };
        let bytes = a.bytes;
        cur.result = Some(a);
        self.state = State::Judged;
        self.pace_after(cx, bytes, now);
    }

    /// After the attempt's result: pace when the conditioner limits bandwidth.
    fn pace_after(&mut self, cx: &mut Cx<'_, 'a>, bytes: u64, now: Instant) {
        let cur = self.cur.as_mut().expect("a response belongs to a request");
        if let Some(c) = cur.cond {
            cur.pace = c.pace(bytes);
            if !cur.pace.is_zero() && !cx.shared.stop.is_stopping() {
                let pace = cur.pace;
                self.wait(cx, State::Pace, now, pace);
                return;
            }
            self.paced(cx, now);
        }
    }

    /// After pacing: a conditioned attempt's latency runs from before its
    /// delay to the end of its pacing.
    fn paced(&mut self, cx: &mut Cx<'_, 'a>, now: Instant) {
        let cur = self.cur.as_mut().expect("pacing belongs to a request");
        let c = cur.cond.expect("pacing needs a conditioner");
        if let Some(a) = cur.result.as_mut() {
            a.latency = now - cur.attempt_t0;
        }
        cx.recorder().slots[cur.task.slot].record_conditioned(
            false,
            cur.cond_delay + cur.pace,
            &c.settings,
        );
        self.state = State::Judged;
    }

    /// Retry or finish.
    fn judged(&mut self, cx: &mut Cx<'_, 'a>) -> Flow {
        let now = Instant::now();
        let cur = self.cur.as_mut().expect("a verdict belongs to a request");
        let Some(attempts) = cur.attempts.as_mut() else {
            return self.finish_current(cx, now);
        };
        let a = cur.result.as_ref().expect("a judged attempt");
        cx.recorder().slots[cur.task.slot].record_attempt(a.latency);
        let next = attempts.next(
            a.class_input.as_ref(),
            a.retry_after,
            cx.shared.stop.is_stopping(),
            cx.shared.storm.as_ref(),
            now,
            &mut self.rng,
        );
        match next {
            None => self.finish_current(cx, now),
            // Granted while the test ran: sent, even if the stop comes now.
            Some(delay) if delay.is_zero() => {
                self.retry();
                Flow::Continue
            }
            Some(delay) => self.wait(cx, State::Backoff, now, delay),
        }
    }

    /// The next attempt of the current request goes out.
    fn retry(&mut self) {
        if let Some(a) = self.cur.as_mut().and_then(|c| c.attempts.as_mut()) {
            a.retrying();
        }
        self.extracted.clear();
        self.state = State::Attempt;
    }

    /// Forgets the request in progress, if any (parked or quitting).
    fn drop_current(&mut self, cx: &mut Cx<'_, 'a>) {
        if self.cur.take().is_some() {
            cx.shared.in_flight.end(cx.shard);
        }
    }

    fn finish_current(&mut self, cx: &mut Cx<'_, 'a>, _now: Instant) -> Flow {
        let Some(mut cur) = self.cur.take() else {
            return Flow::Continue;
        };
        cx.shared.in_flight.end(cx.shard);
        let a = cur
            .result
            .take()
            .expect("a finished request has an attempt");
        let out = cur.attempts.as_ref().map(Attempts::outcome);
        self.finish(cx, cur.task, cur.t0, a, out);
        self.think(cx, cur.task)
    }

    /// Records the final outcome of a logical request; stores what it extracted.
    fn finish(
        &mut self,
        cx: &mut Cx<'_, 'a>,
        task: &Task,
        t0: Instant,
        a: Attempt,
        retry: Option<RetryOutcome>,
    ) {
        let shared = cx.shared;
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
            let mut r = cx.recorder();
            let built = task.fixed.as_ref().unwrap_or(&self.prepared);
            if let Some(url) = &built.url {
                r.note_target(url);
            }
            let tally = &mut r.slots[task.slot];
            if cancelled {
                tally.cancelled += 1;
            } else if cx.arrivals.is_some() {
                // Corrected: from when the request would have been sent had
                // its iteration started on schedule. Raw: from its send.
                tally.record(latency + self.iter_lag, a.bytes, failure);
                tally.decoded_bytes += self.decoded.unwrap_or(a.bytes);
                tally.record_raw(latency);
                if let Some(o) = &retry {
                    tally.record_retry(o);
                }
            } else {
                tally.record(latency, a.bytes, failure);
                tally.decoded_bytes += self.decoded.unwrap_or(a.bytes);
                if let Some(o) = &retry {
                    tally.record_retry(o);
                }
            }
        }
        // The failure budget sees logical outcomes, after retries, while the
        // test is running (not what completes during its stop); and a request
        // the end of the test cut off once it had waited longer than the
        // budget's slow threshold, as the slow call it is (not after a
        // watchdog or signal: those cut requests off themselves).
        if let Some(b) = &shared.budget {
            let sample = if cancelled {
                (b.counts_cut_off(latency) && shared.control.interrupted().is_none())
                    .then_some(false)
            } else {
                (!shared.stop.is_stopping()).then_some(failure.is_some())
            };
            if let Some(failed) = sample {
                if b.record(Instant::now(), failed, latency).is_some() {
                    shared.stop.stop();
                }
            }
        }
        if let Some(log) = &shared.request_log {
            let url = crate::http::secret::redact_url(
                task.fixed
                    .as_ref()
                    .map_or(self.prepared.full_url.as_str(), |p| p.full_url.as_str()),
            );
            let row = RequestRow {
                outcome: match failure {
                    None => RowOutcome::Success,
                    Some(_) if cancelled => RowOutcome::Cancelled,
                    Some(_) => RowOutcome::Failure,
                },
                method: task.method.as_str(),
                url: &url,
                name: &task.name,
                status_code: a.status,
                response_time_ms: latency.as_secs_f64() * 1000.0,
                response_length: a.bytes,
                error: failure.map(|(_, m)| m),
                started: t0,
            };
            crate::sync::lock(log).write_row(&row);
        }
        if failure.is_none() {
            for (k, v) in self.extracted.drain(..) {
                self.vars.set(k, v);
            }
        }
    }

    /// Think time after a task: the test's `wait_time`, then the task's
    /// own `think_time`, both drawn from the user's seeded stream. A user
    /// above a shaped test's target parks instead.
    fn think(&mut self, cx: &mut Cx<'_, 'a>, task: &Task) -> Flow {
        let plan = cx.shared.plan;
        if plan.wait == Wait::None && task.think_time == Wait::None {
            self.state = State::Next;
            return Flow::Continue;
        }
        let d = plan.wait.draw(&mut self.rng) + task.think_time.draw(&mut self.rng);
        if cx.shared.stop.is_stopping() {
            self.quit(cx);
            return Flow::Wait;
        }
        if cx.shared.population.over(self.id) {
            self.park(cx);
            return Flow::Wait;
        }
        self.wait(cx, State::Think, Instant::now(), d)
    }
}

/// The headers of a request that differ from the prepared ones, into `out`
/// (its strings reused): the ones a redirect drops left out, and a `Cookie`
/// header with the task's cookies and the jar's, unless the task sets one.
fn own_headers(
    out: &mut Vec<(String, String)>,
    cookie: &mut String,
    jar: &mut CookieJar,
    prepared: &Prepared,
    hop: Option<&Hop>,
    url: &Url,
) {
    fn put(out: &mut Vec<(String, String)>, n: &mut usize, k: &str, v: &str) {
        match out.get_mut(*n) {
            Some((ok, ov)) => {
                ok.clear();
                ok.push_str(k);
                ov.clear();
                ov.push_str(v);
            }
            None => out.push((k.to_string(), v.to_string())),
        }
        *n += 1;
    }
    let (drop_body, cross) = hop.map_or((false, false), |h| (h.drop_body, h.cross_origin));
    let mut n = 0;
    let mut has_cookie = false;
    for (k, v) in &prepared.headers {
        let is = |name: &str| k.eq_ignore_ascii_case(name);
        if (cross && (is("authorization") || is("cookie")))
            || (drop_body
                && (is("content-type") || is("content-length") || is("transfer-encoding")))
        {
            continue;
        }
        has_cookie |= is("cookie");
        put(out, &mut n, k, v);
    }
    if !has_cookie {
        cookie.clear();
        if !cross {
            cookie.push_str(&prepared.cookie);
        }
        if !jar.is_empty() {
            jar.header_for(url, std::time::SystemTime::now(), cookie);
        }
        if !cookie.is_empty() {
            put(out, &mut n, "Cookie", cookie);
        }
    }
    out.truncate(n);
}

/// Stores the cookies of a response's `Set-Cookie` headers. Nothing is
/// allocated when there is none.
fn store_cookies(jar: &mut CookieJar, url: &Url, head: &[u8]) {
    const NAME: &[u8] = b"set-cookie:";
    for line in head.split(|&b| b == b'\n') {
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            if let Ok(v) = std::str::from_utf8(&line[NAME.len()..]) {
                jar.store(url, v.trim(), std::time::SystemTime::now());
            }
        }
    }
}

/// The statistics kind of a transport error.
pub fn fail_kind(e: &HttpError) -> FailKind {
    match e {
        HttpError::ConnectTimeout(_) | HttpError::ReadTimeout(_) => FailKind::Timeout,
        HttpError::InvalidUrl(_) | HttpError::InvalidRequest(_) => FailKind::Request,
        HttpError::Tls(_) => FailKind::Tls,
        HttpError::Protocol(_) | HttpError::BodyTooLarge(_) | HttpError::Decode(_) => {
            FailKind::Protocol
        }
        HttpError::Cancelled => FailKind::Cancelled,
        HttpError::Refused
        | HttpError::Reset
        | HttpError::Aborted
        | HttpError::ClosedEarly
        | HttpError::Dns(_)
        | HttpError::DnsTimeout(..)
        | HttpError::Proxy(..)
        | HttpError::Io(_) => FailKind::Connection,
    }
}
