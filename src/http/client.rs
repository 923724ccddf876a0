//! A blocking client over the pool's [`Session`]: one request at a time on a
//! private poller. The load engine drives sessions from its event loops
//! directly; this wrapper lets the HTTP tests exercise exactly the same
//! connection, framing and timeout code with plain calls.

use super::session::{Progress, Resolver, Session, READ_BUF};
use super::{ClientConfig, HttpError, Request, Response};
use crate::stop::StopSignal;
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};

/// How often a blocked call looks at the stop signal.
const TICK: Duration = Duration::from_millis(20);

pub struct Client {
    cfg: ClientConfig,
    poll: Poll,
    events: Events,
    session: Session,
    resolver: Resolver,
    scratch: Vec<u8>,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Client {
        Client {
            cfg,
            poll: Poll::new().expect("an epoll instance"),
            events: Events::with_capacity(16),
            session: Session::new(Token(0)),
            resolver: Resolver::default(),
            scratch: vec![0; READ_BUF],
        }
    }

    /// Sends one request and waits for the whole response (or its timeout, or
    /// `stop` aborting).
    pub fn send<'c>(
        &'c mut self,
        req: &Request<'_>,
        stop: &StopSignal,
    ) -> Result<Response<'c>, HttpError> {
        if stop.is_aborted() {
            return Err(HttpError::Cancelled);
        }
        let registry = self.poll.registry();
        let mut progress = self.session.start(
            &self.cfg,
            req,
            registry,
            &mut self.resolver,
            &mut self.scratch,
            Instant::now(),
        )?;
        loop {
            if let Progress::Done(status) = progress {
                return Ok(self.session.response(status));
            }
            let now = Instant::now();
            let mut wait = TICK;
            if let Some(d) = self.session.deadline() {
                if now >= d {
                    let e = self.session.timeout_error();
                    self.session.abandon(self.poll.registry());
                    return Err(e);
                }
                wait = wait.min(d - now);
            }
            self.poll
                .poll(&mut self.events, Some(wait))
                .map_err(|e| HttpError::Io(e.to_string()))?;
            if stop.is_aborted() {
                self.session.abandon(self.poll.registry());
                return Err(HttpError::Cancelled);
            }
            if self.events.is_empty() {
                continue;
            }
            let readable = self
                .events
                .iter()
                .any(|e| e.is_readable() || e.is_read_closed());
            progress = self.session.on_event(
                readable,
                self.poll.registry(),
                &mut self.scratch,
                Instant::now(),
            )?;
        }
    }

    /// Open keep-alive connections.
    pub fn idle_count(&self) -> usize {
        self.session.open_connections()
    }

    /// Closes every keep-alive connection.
    pub fn close_idle(&mut self) {
        self.session.close_all(self.poll.registry());
    }
}
