//! The hand-written HTTP/1.1 keep-alive client behind `http://` URLs.
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

use super::wire::{self, find_head_end, parse_chunk_size, parse_head};
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
/// Initial input buffer; it grows only while a response head does not fit.
const IN_BUF_START: usize = 16 * 1024;
/// Cap on status line plus headers (and on the input buffer).
const MAX_HEAD: usize = 64 * 1024;
/// Cap on one chunk-size or trailer line.
const MAX_LINE: usize = 8 * 1024;
/// Cap on the total size of chunked trailers.
const MAX_TRAILERS: usize = 64 * 1024;
/// Cap on 1xx interim responses before the final one.
const MAX_INTERIM: usize = 16;
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

fn protocol(msg: &str) -> HttpError {
    HttpError::Protocol(msg.to_string())
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

/// Buffered response reader over one connection for one exchange.
struct Rd<'a> {
    conn: &'a mut Conn,
    buf: &'a mut Vec<u8>,
    start: usize,
    end: usize,
    clock: Clock,
    stop: &'a StopSignal,
    /// Whether any byte of the response arrived (a stale connection sends none).
    got_any: bool,
}

impl Rd<'_> {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more into the input buffer, compacting or growing it (up to
    /// [`MAX_HEAD`]) when full. Returns 0 at EOF.
    fn fill(&mut self) -> Result<usize, HttpError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD {
                let to = (self.buf.len() * 2).clamp(IN_BUF_START, MAX_HEAD);
                self.buf.resize(to, 0);
            } else {
                return Err(protocol("response line or header too long"));
            }
        }
        let n = read_sock(
            self.conn,
            &mut self.clock,
            self.stop,
            &mut self.buf[self.end..],
        )?;
        if n > 0 {
            self.got_any = true;
            self.end += n;
        }
        Ok(n)
    }

    /// Reads until the buffer holds a complete head (status line, headers,
    /// blank line). Returns the head's length from `start`, terminator included.
    fn read_head(&mut self) -> Result<usize, HttpError> {
        let mut scanned = 0;
        loop {
            if let Some(len) = find_head_end(self.buffered(), scanned) {
                return Ok(len);
            }
            let have = self.end - self.start;
            if have >= MAX_HEAD {
                return Err(protocol("response head exceeds 64 KiB"));
            }
            scanned = have.saturating_sub(2);
            if self.fill()? == 0 {
                return Err(HttpError::ClosedEarly);
            }
        }
    }

    /// Consumes one line; returns its range in `buf` without the line end.
    fn read_line(&mut self) -> Result<(usize, usize), HttpError> {
        let mut scanned = 0;
        loop {
            let data = self.buffered();
            if let Some(i) = data[scanned..].iter().position(|&b| b == b'\n') {
                let nl = self.start + scanned + i;
                let s = self.start;
                let e = if nl > s && self.buf[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                self.start = nl + 1;
                return Ok((s, e));
            }
            scanned = data.len();
            if scanned >= MAX_LINE {
                return Err(protocol("chunk-size or trailer line too long"));
            }
            if self.fill()? == 0 {
                return Err(HttpError::ClosedEarly);
            }
        }
    }

    /// Consumes the CRLF (or bare LF) that must follow chunk data.
    fn expect_line_end(&mut self) -> Result<(), HttpError> {
        loop {
            match self.buffered() {
                [b'\n', ..] => {
                    self.start += 1;
                    return Ok(());
                }
                [b'\r', b'\n', ..] => {
                    self.start += 2;
                    return Ok(());
                }
                [] | [b'\r'] => {
                    if self.fill()? == 0 {
                        return Err(HttpError::ClosedEarly);
                    }
                }
                _ => return Err(protocol("missing CRLF after chunk data")),
            }
        }
    }

    /// Appends exactly `n` body bytes to `body`.
    fn read_exact_into(&mut self, body: &mut Vec<u8>, mut n: u64) -> Result<(), HttpError> {
        while n > 0 {
            let avail = self.end - self.start;
            if avail > 0 {
                let take = avail.min(usize::try_from(n).unwrap_or(usize::MAX));
                body.extend_from_slice(&self.buf[self.start..self.start + take]);
                self.start += take;
                n -= take as u64;
            } else if n >= DIRECT_READ_MIN {
                let old = body.len();
                let step = usize::try_from(n).unwrap_or(usize::MAX).min(BODY_READ_STEP);
                body.resize(old + step, 0);
                let got = read_sock(self.conn, &mut self.clock, self.stop, &mut body[old..]);
                let got = got.inspect_err(|_| body.truncate(old))?;
                body.truncate(old + got);
                if got == 0 {
                    return Err(HttpError::ClosedEarly);
                }
                self.got_any = true;
                n -= got as u64;
            } else if self.fill()? == 0 {
                return Err(HttpError::ClosedEarly);
            }
        }
        Ok(())
    }

    /// Appends everything up to EOF to `body`.
    fn read_to_eof(&mut self, body: &mut Vec<u8>) -> Result<(), HttpError> {
        body.extend_from_slice(self.buffered());
        self.start = self.end;
        loop {
            let old = body.len();
            body.resize(old + BODY_READ_STEP, 0);
            let got = read_sock(self.conn, &mut self.clock, self.stop, &mut body[old..]);
            let got = got.inspect_err(|_| body.truncate(old))?;
            body.truncate(old + got);
            if got == 0 {
                return Ok(());
            }
            self.got_any = true;
        }
    }

    /// Decodes a chunked body into `body`; trailers are read and discarded.
    fn read_chunked(&mut self, body: &mut Vec<u8>) -> Result<(), HttpError> {
        loop {
            let (s, e) = self.read_line()?;
            let size = parse_chunk_size(&self.buf[s..e])?;
            if size == 0 {
                break;
            }
            self.read_exact_into(body, size)?;
            self.expect_line_end()?;
        }
        let mut total = 0;
        loop {
            let (s, e) = self.read_line()?;
            if s == e {
                return Ok(());
            }
            total += e - s + 2;
            if total > MAX_TRAILERS {
                return Err(protocol("chunked trailers exceed 64 KiB"));
            }
        }
    }
}

impl Plain {
    pub(crate) fn new() -> Self {
        Plain {
            endpoints: Vec::new(),
            out: Vec::new(),
            inbuf: Vec::new(),
        }
    }

    /// Drops every idle connection (addresses stay cached).
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
        if self.inbuf.len() < IN_BUF_START {
            self.inbuf.resize(IN_BUF_START, 0);
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
    inbuf: &mut Vec<u8>,
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
    let mut rd = Rd {
        conn,
        buf: inbuf,
        start: 0,
        end: 0,
        clock,
        stop,
        got_any: false,
    };
    read_response(&mut rd, req.method == Method::Head, head, body).map_err(|err| {
        let stale = !rd.got_any
            && matches!(
                err,
                HttpError::Reset | HttpError::Aborted | HttpError::ClosedEarly
            );
        Fail { err, stale }
    })
}

/// Reads a whole response (skipping 1xx). Returns the status and whether the
/// connection may be reused.
fn read_response(
    rd: &mut Rd<'_>,
    head_request: bool,
    head: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<(u16, bool), HttpError> {
    let mut interim = 0;
    let h = loop {
        let len = rd.read_head()?;
        let h = parse_head(&rd.buf[rd.start..rd.start + len])?;
        if (100..200).contains(&h.status) {
            if h.status == 101 {
                return Err(protocol("unexpected 101 Switching Protocols"));
            }
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(protocol("too many 1xx interim responses"));
            }
            rd.start += len;
            continue;
        }
        head.clear();
        head.extend_from_slice(&rd.buf[rd.start + h.lines.0..rd.start + h.lines.1]);
        rd.start += len;
        break h;
    };
    body.clear();
    let no_body = head_request || h.status == 204 || h.status == 304;
    let mut keep = if h.minor >= 1 {
        !h.conn_close
    } else {
        h.conn_keep_alive && !h.conn_close
    };
    if no_body {
    } else if h.te {
        if h.chunked {
            rd.read_chunked(body)?;
        } else {
            rd.read_to_eof(body)?;
            keep = false;
        }
    } else if let Some(n) = h.content_length {
        rd.read_exact_into(body, n)?;
    } else {
        rd.read_to_eof(body)?;
        keep = false;
    }
    // Bytes beyond the response: we never pipeline, so the stream is confused.
    if rd.start != rd.end {
        keep = false;
    }
    Ok((h.status, keep))
}
