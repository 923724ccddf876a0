//! The hand-written HTTP/1.1 keep-alive client behind `http://` URLs: blocking
//! sockets, connections, timeouts and the stale-connection retry around the
//! sans-IO framing of [`wire`] (request writer, incremental response reader).
//!
//! Fast path per request (connection open, response fits the input buffer):
//! one `write` of a reused output buffer, one `read` into a reused input
//! buffer, no heap allocation and no clock read.
//!
//! # Timeouts without clock reads
//!
//! Each connection's socket gets a read/write timeout of one *tick*
//! ([`TICK`], or the request timeout when that is shorter) set once, not per
//! request. A read or write that times out is the slow path: it checks
//! [`StopSignal::is_aborted`] (→ [`HttpError::Cancelled`]) and only then reads
//! the clock. The response clock is started lazily: at the first tick it is
//! back-dated by one tick (the blocked read waited at least that long), so
//! the elapsed time is never over-estimated and a timeout never fires early;
//! it fires at most about one tick late. A server that trickles bytes without
//! ever blocking a read for a whole tick is caught by counting reads: after
//! [`FAST_READS`] reads in one request the clock is started and then checked
//! on every read (such a response is slow anyway). The time before the clock
//! starts is not counted, so with a trickling server the timeout can be late
//! by the time those first reads took.
//!
//! A request timeout of zero means no response timeout (only cancellation).

use super::wire::{self, ResponseReader, Step};
use super::{ClientConfig, HttpError, Method, Request, Url};
use crate::stop::StopSignal;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Socket read/write timeout: how often a blocked read looks at the stop
/// signal and the response clock.
pub(crate) const TICK: Duration = Duration::from_millis(200);
/// Smallest tick, for very short request timeouts.
const MIN_TICK: Duration = Duration::from_millis(1);
/// Input buffer: each read lands here and goes to the [`ResponseReader`] (a
/// head that does not fit collects in the caller's head buffer).
const IN_BUF: usize = 16 * 1024;
/// Remaining body at least this large is read straight into the body buffer.
const DIRECT_READ_MIN: u64 = 8 * 1024;
/// Most bytes read into the body buffer per direct read.
const BODY_READ_STEP: usize = 64 * 1024;
/// Reads in one request after which the clock is checked on every read.
const FAST_READS: u32 = 64;

/// One open keep-alive connection.
struct Conn {
    stream: TcpStream,
    /// The read/write timeout currently set on the socket.
    tick: Duration,
}

/// A (host, port) this client has talked to: its addresses, resolved once, and
/// its idle connection, if any.
struct Endpoint {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
    idle: Option<Conn>,
}

/// Plain-HTTP state of one client: endpoints and reused I/O buffers.
pub(crate) struct Plain {
    /// Usually one entry; searched linearly.
    endpoints: Vec<Endpoint>,
    pub(super) out: Vec<u8>,
    inbuf: Vec<u8>,
    reader: ResponseReader,
}

/// How a request failed, and whether the failure looks like a stale
/// keep-alive connection (nothing of the response arrived).
struct Fail {
    err: HttpError,
    stale: bool,
}

impl From<HttpError> for Fail {
    fn from(err: HttpError) -> Self {
        Fail { err, stale: false }
    }
}

/// Maps an I/O error onto the typed variants.
pub(crate) fn map_io(e: &io::Error) -> HttpError {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => HttpError::Refused,
        K::ConnectionReset => HttpError::Reset,
        K::ConnectionAborted | K::BrokenPipe | K::NotConnected => HttpError::Aborted,
        K::UnexpectedEof | K::WriteZero => HttpError::ClosedEarly,
        _ => HttpError::Io(e.to_string()),
    }
}

/// The lazily started response clock (see the module docs).
struct Clock {
    /// `None`: no limit.
    limit: Option<Duration>,
    started: Option<Instant>,
    reads: u32,
}

impl Clock {
    fn new(timeout: Duration) -> Self {
        Clock {
            limit: (!timeout.is_zero()).then_some(timeout),
            started: None,
            reads: 0,
        }
    }

    /// After a successful read or write. Free for the first [`FAST_READS`].
    #[inline]
    fn progress(&mut self, stop: &StopSignal) -> Result<(), HttpError> {
        self.reads += 1;
        if self.reads <= FAST_READS {
            return Ok(());
        }
        if stop.is_aborted() {
            return Err(HttpError::Cancelled);
        }
        self.check(Duration::ZERO)
    }

    /// After a read or write blocked for one tick.
    fn tick(&mut self, stop: &StopSignal, tick: Duration) -> Result<(), HttpError> {
        if stop.is_aborted() {
            return Err(HttpError::Cancelled);
        }
        self.check(tick)
    }

    fn check(&mut self, backdate: Duration) -> Result<(), HttpError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let now = Instant::now();
        let started = *self
            .started
            .get_or_insert_with(|| now.checked_sub(backdate).unwrap_or(now));
        if now.saturating_duration_since(started) >= limit {
            return Err(HttpError::ReadTimeout(limit));
        }
        Ok(())
    }
}

/// Reads from the socket, riding out ticks. `Ok(0)` is EOF.
fn read_sock(
    conn: &mut Conn,
    clock: &mut Clock,
    stop: &StopSignal,
    dst: &mut [u8],
) -> Result<usize, HttpError> {
    debug_assert!(!dst.is_empty());
    loop {
        match conn.stream.read(dst) {
            Ok(n) => {
                clock.progress(stop)?;
                return Ok(n);
            }
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    clock.tick(stop, conn.tick)?
                }
                _ => return Err(map_io(&e)),
            },
        }
    }
}

/// `write_all` that rides out ticks.
fn write_sock(
    conn: &mut Conn,
    clock: &mut Clock,
    stop: &StopSignal,
    mut data: &[u8],
) -> Result<(), HttpError> {
    while !data.is_empty() {
        match conn.stream.write(data) {
            Ok(0) => return Err(HttpError::Aborted),
            Ok(n) => {
                data = &data[n..];
                clock.progress(stop)?;
            }
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => {}
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    clock.tick(stop, conn.tick)?
                }
                _ => return Err(map_io(&e)),
            },
        }
    }
    Ok(())
}

impl Plain {
    pub(crate) fn new() -> Self {
        Plain {
            endpoints: Vec::new(),
            out: Vec::new(),
            inbuf: Vec::new(),
            reader: ResponseReader::new(),
        }
    }

    /// Drops every idle connection (addresses stay cached).
    #[cfg(test)]
    pub(crate) fn close_idle(&mut self) {
        for ep in &mut self.endpoints {
            ep.idle = None;
        }
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.endpoints.iter().filter(|e| e.idle.is_some()).count()
    }

    /// Index of the endpoint for this URL, resolving its address the first time.
    fn endpoint(&mut self, url: &Url) -> Result<usize, HttpError> {
        if let Some(i) = self
            .endpoints
            .iter()
            .position(|e| e.port == url.port && e.host == url.host)
        {
            return Ok(i);
        }
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|_| HttpError::Dns(url.host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(HttpError::Dns(url.host.clone()));
        }
        self.endpoints.push(Endpoint {
            host: url.host.clone(),
            port: url.port,
            addrs,
            idle: None,
        });
        Ok(self.endpoints.len() - 1)
    }

    /// Writes the request into `out` ([`wire::write_request`]). Returns whether
    /// the caller asked for `Connection: close`.
    pub(super) fn build_request(
        &mut self,
        cfg: &ClientConfig,
        req: &Request<'_>,
    ) -> Result<bool, HttpError> {
        wire::write_request(cfg, req, &mut self.out)
    }

    /// Sends one request; the status comes back, the header lines and the body
    /// land in `head` and `body`.
    pub(crate) fn send(
        &mut self,
        cfg: &ClientConfig,
        req: &Request<'_>,
        stop: &StopSignal,
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<u16, HttpError> {
        let ep = self.endpoint(req.url)?;
        let close_requested = self.build_request(cfg, req)?;
        if self.inbuf.len() < IN_BUF {
            self.inbuf.resize(IN_BUF, 0);
        }
        let tick = if req.timeout.is_zero() {
            TICK
        } else {
            req.timeout.clamp(MIN_TICK, TICK)
        };
        loop {
            let (mut conn, reused) = match self.endpoints[ep].idle.take() {
                Some(c) => (c, true),
                None => (
                    connect(&self.endpoints[ep].addrs, cfg.connect_timeout)?,
                    false,
                ),
            };
            if conn.tick != tick {
                set_tick(&conn.stream, tick)?;
                conn.tick = tick;
            }
            let big_body = wire::separate_body(req);
            match exchange(
                &mut conn,
                &self.out,
                big_body,
                &mut self.inbuf,
                &mut self.reader,
                req,
                stop,
                head,
                body,
            ) {
                Ok((status, keep)) => {
                    if keep && !close_requested {
                        self.endpoints[ep].idle = Some(conn);
                    }
                    return Ok(status);
                }
                // A reused connection the server had already closed: once more
                // on a fresh connection (which is never `reused`, so this
                // retries at most once).
                Err(f) if f.stale && reused => continue,
                Err(f) => return Err(f.err),
            }
        }
    }
}

fn set_tick(stream: &TcpStream, tick: Duration) -> Result<(), HttpError> {
    stream
        .set_read_timeout(Some(tick))
        .and_then(|()| stream.set_write_timeout(Some(tick)))
        .map_err(|e| map_io(&e))
}

/// Opens a connection to the first address that accepts.
fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<Conn, HttpError> {
    let mut last = HttpError::Refused;
    for addr in addrs {
        let res = if timeout.is_zero() {
            TcpStream::connect(addr)
        } else {
            TcpStream::connect_timeout(addr, timeout)
        };
        match res {
            Ok(stream) => {
                stream.set_nodelay(true).map_err(|e| map_io(&e))?;
                return Ok(Conn {
                    stream,
                    tick: Duration::ZERO,
                });
            }
            Err(e) => {
                last = match e.kind() {
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        HttpError::ConnectTimeout(timeout)
                    }
                    _ => map_io(&e),
                }
            }
        }
    }
    Err(last)
}

/// One request/response on `conn`. Returns the status and whether the
/// connection may be reused.
#[allow(clippy::too_many_arguments)]
fn exchange(
    conn: &mut Conn,
    out: &[u8],
    big_body: Option<&[u8]>,
    inbuf: &mut [u8],
    reader: &mut ResponseReader,
    req: &Request<'_>,
    stop: &StopSignal,
    head: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), Fail> {
    let mut clock = Clock::new(req.timeout);
    let written = write_sock(conn, &mut clock, stop, out)
        .and_then(|()| big_body.map_or(Ok(()), |b| write_sock(conn, &mut clock, stop, b)));
    if let Err(err) = written {
        let stale = matches!(
            err,
            HttpError::Reset | HttpError::Aborted | HttpError::ClosedEarly
        );
        return Err(Fail { err, stale });
    }
    reader.start(req.method == Method::Head);
    read_response(conn, &mut clock, stop, inbuf, reader, head, body).map_err(|err| {
        let stale = !reader.got_any()
            && matches!(
                err,
                HttpError::Reset | HttpError::Aborted | HttpError::ClosedEarly
            );
        Fail { err, stale }
    })
}

/// Reads until `reader` (started) has a whole response. Returns the status
/// and whether the connection may be reused.
fn read_response(
    conn: &mut Conn,
    clock: &mut Clock,
    stop: &StopSignal,
    inbuf: &mut [u8],
    reader: &mut ResponseReader,
    head: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), HttpError> {
    loop {
        let direct = reader.direct_body_len();
        let step = if direct >= DIRECT_READ_MIN {
            // Much plain body to come: read it straight into `body`.
            let old = body.len();
            let step = usize::try_from(direct).map_or(BODY_READ_STEP, |n| n.min(BODY_READ_STEP));
            body.resize(old + step, 0);
            let got = read_sock(conn, clock, stop, &mut body[old..]);
            let got = got.inspect_err(|_| body.truncate(old))?;
            body.truncate(old + got);
            if got == 0 {
                reader.eof()?
            } else {
                reader.direct_body_read(got)
            }
        } else {
            let n = read_sock(conn, clock, stop, inbuf)?;
            if n == 0 {
                reader.eof()?
            } else {
                match reader.feed(&inbuf[..n], head, body)? {
                    // Bytes beyond the response: we never pipeline, so the
                    // stream is confused.
                    (used, Step::Done { status, keep_alive }) => {
                        return Ok((status, keep_alive && used == n))
                    }
                    (_, step) => step,
                }
            }
        };
        if let Step::Done { status, keep_alive } = step {
            return Ok((status, keep_alive));
        }
    }
}
