//! One user's HTTP state in the executor pool: its keep-alive connections (one
//! per endpoint), reused buffers, and the exchange in flight, driven by
//! readiness events instead of blocking calls.
//!
//! An exchange is: connect (when no idle connection to the endpoint is open;
//! bounded by the connect timeout) → write the request → read the response
//! (bounded by the request timeout, counted from the moment the connection is
//! there, TLS handshake included). A reused keep-alive connection that turns
//! out to be closed before any byte of the response arrived is replaced and
//! the request resent once, as the blocking client does.

pub use super::dns::Resolver;
use super::proxy::Proxy;
use super::tls::Tls;
use super::transport::{map_io, Transport};
use super::wire::{self, ResponseReader, Step};
use super::{ClientConfig, HttpError, Method, Request, Response, Scheme, Url};
use mio::{Interest, Registry, Token};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Size of the read buffer a worker lends its sessions (a head longer than
/// this collects in `head`).
pub const READ_BUF: usize = 16 * 1024;
/// Remaining body at least this large is read straight into the body buffer.
const DIRECT_READ_MIN: u64 = 8 * 1024;
/// Most bytes read into the body buffer per direct read.
const BODY_READ_STEP: usize = 64 * 1024;

/// Where a connection goes: a target, directly or through a proxy.
#[derive(Debug, Clone)]
struct Endpoint {
    scheme: Scheme,
    host: String,
    port: u16,
    /// Where the TCP connection goes: the target's addresses, or the proxy's.
    addrs: Arc<[SocketAddr]>,
    /// The proxy it goes through, if any.
    via: Option<Arc<Proxy>>,
}

impl Endpoint {
    fn is(&self, url: &Url, via: Option<&Arc<Proxy>>) -> bool {
        self.port == url.port
            && self.scheme == url.scheme
            && self.host == url.host
            && same(self.via.as_ref(), via)
    }

    /// Whether the connection is a `CONNECT` tunnel (https through a proxy).
    fn tunnels(&self) -> bool {
        self.via.is_some() && self.scheme == Scheme::Https
    }
}

/// What an exchange came to, so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for the socket (or a timer).
    Pending,
    /// The response arrived: its status (head and body are in the session).
    Done(u16),
}

struct Conn {
    endpoint: Endpoint,
    transport: Transport,
    /// The TLS settings it was opened with (see [`Session::use_tls`]).
    tls: Option<Arc<Tls>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// TCP connect in progress to `endpoint.addrs[addr]`.
    Connecting {
        addr: usize,
    },
    /// Asking the proxy for a tunnel: `tunnel` (the `CONNECT`) sent up to
    /// `written`, its answer collecting in `head`.
    Tunneling,
    Writing,
    Reading,
}

/// One user's HTTP client for the pool.
pub struct Session {
    token: Token,
    /// Open connections, at most one per endpoint.
    conns: Vec<Conn>,
    /// The connection of the exchange in flight (index into `conns`).
    active: Option<usize>,
    phase: Phase,
    /// The active connection was reused (so a close before any byte is stale).
    reused: bool,
    close_requested: bool,
    out: Vec<u8>,
    /// Bytes of `out` (or, while tunneling, of `tunnel`) written so far.
    written: usize,
    /// A `CONNECT` request, while a tunnel through a proxy opens.
    tunnel: Vec<u8>,
    /// A large body, written after `out` (not copied behind the head).
    big_body: Vec<u8>,
    reader: ResponseReader,
    head: Vec<u8>,
    body: Vec<u8>,
    /// Scratch for decoding a kept body with a `Content-Encoding`.
    decoded: Vec<u8>,
    head_request: bool,
    /// Deadline of the current phase (connect or response), if any.
    deadline: Option<Instant>,
    connect_timeout: Duration,
    timeout: Duration,
    /// A readable event came while the request was still being written.
    read_hint: bool,
    /// See [`Session::keep_body`].
    body_limit: Option<u64>,
    /// Body bytes of the response so far (kept or not).
    body_bytes: u64,
    /// The kept body's size after decoding, when it was decoded.
    decoded_len: Option<u64>,
    /// An event came while no exchange was in flight (a kept connection the
    /// server closed, say): the next exchange on a kept connection reads
    /// after writing instead of waiting for an edge that already passed.
    idle_event: bool,
    /// TLS settings of the next exchanges (`None`: the default ones).
    tls: Option<Arc<Tls>>,
}

impl Session {
    pub fn new(token: Token) -> Session {
        Session {
            token,
            conns: Vec::new(),
            active: None,
            phase: Phase::Idle,
            reused: false,
            close_requested: false,
            out: Vec::new(),
            written: 0,
            tunnel: Vec::new(),
            big_body: Vec::new(),
            reader: ResponseReader::new(),
            head: Vec::new(),
            body: Vec::new(),
            decoded: Vec::new(),
            head_request: false,
            deadline: None,
            connect_timeout: Duration::ZERO,
            timeout: Duration::ZERO,
            read_hint: false,
            idle_event: false,
            body_limit: Some(u64::MAX),
            body_bytes: 0,
            decoded_len: None,
            tls: None,
        }
    }

    /// When the exchange in flight times out, if it can.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The error for an exchange whose deadline passed.
    pub fn timeout_error(&self) -> HttpError {
        match self.phase {
            Phase::Connecting { .. } | Phase::Tunneling => {
                HttpError::ConnectTimeout(self.connect_timeout)
            }
            _ => HttpError::ReadTimeout(self.timeout),
        }
    }

    /// The response of the exchange that just completed.
    pub fn response(&self, status: u16) -> Response<'_> {
        Response {
            status,
            head: &self.head,
            body: &self.body,
            body_bytes: self.body_bytes,
            decoded_bytes: self.decoded_len,
        }
    }

    /// How much of the next responses' bodies to keep in memory: `Some(limit)`
    /// keeps up to `limit` bytes (a larger body fails the request with
    /// [`HttpError::BodyTooLarge`]); `None` keeps nothing and only counts the
    /// bytes, for requests whose body nothing looks at. Default: keep all.
    pub fn keep_body(&mut self, limit: Option<u64>) {
        self.body_limit = limit;
    }

    /// The TLS settings of the next exchanges (`None`: the default ones). A
    /// kept connection is reused only by exchanges with the same settings.
    pub fn use_tls(&mut self, tls: Option<&Arc<Tls>>) {
        if !same(self.tls.as_ref(), tls) {
            self.tls = tls.cloned();
        }
    }

    /// Starts an exchange and drives it as far as it goes without waiting.
    pub fn start(
        &mut self,
        cfg: &ClientConfig,
        req: &Request<'_>,
        registry: &Registry,
        resolver: &mut Resolver,
        scratch: &mut [u8],
        now: Instant,
    ) -> Result<Progress, HttpError> {
        self.abandon(registry);
        let via = cfg.proxies.as_ref().and_then(|p| p.for_url(req.url));
        // Through a proxy, an http:// request goes to it as it is; an
        // https:// one goes through a tunnel, as if sent directly.
        let plain_via = via.filter(|_| req.url.scheme == Scheme::Http);
        self.close_requested =
            wire::write_request(cfg, req, plain_via.map(|p| &**p), &mut self.out)?;
        self.big_body.clear();
        if let Some(body) = wire::separate_body(req) {
            self.big_body.extend_from_slice(body);
        }
        self.head_request = req.method == Method::Head;
        self.connect_timeout = cfg.connect_timeout;
        self.timeout = req.timeout;
        match self
            .conns
            .iter()
            .position(|c| c.endpoint.is(req.url, via) && same(c.tls.as_ref(), self.tls.as_ref()))
        {
            Some(i) => {
                self.active = Some(i);
                self.reused = true;
                self.begin_exchange(now);
                self.read_hint = std::mem::take(&mut self.idle_event);
            }
            None => {
                let addrs = match via {
                    Some(p) => resolver.lookup(&p.host, p.port)?,
                    None => resolver.lookup(&req.url.host, req.url.port)?,
                };
                let endpoint = Endpoint {
                    scheme: req.url.scheme,
                    host: req.url.host.clone(),
                    port: req.url.port,
                    addrs,
                    via: via.cloned(),
                };
                self.connect(registry, endpoint, 0, now)?;
            }
        }
        self.drive(registry, scratch, now)
    }

    /// A readiness event for this session's token. `scratch` is the worker's
    /// read buffer (one per worker, not per user: a session reads only while
    /// it handles an event).
    pub fn on_event(
        &mut self,
        readable: bool,
        registry: &Registry,
        scratch: &mut [u8],
        now: Instant,
    ) -> Result<Progress, HttpError> {
        if self.phase == Phase::Idle {
            self.idle_event = true;
            return Ok(Progress::Pending);
        }
        if readable {
            self.read_hint = true;
        }
        self.drive(registry, scratch, now)
    }

    /// Gives up on the exchange in flight (timeout, cancel): its connection is
    /// closed, since a late response would confuse the next exchange.
    pub fn abandon(&mut self, registry: &Registry) {
        if let Some(i) = self.active.take() {
            if self.phase != Phase::Idle {
                self.close(registry, i);
            }
        }
        self.phase = Phase::Idle;
        self.deadline = None;
    }

    /// Connections open (idle or in use).
    #[cfg(test)]
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Closes every connection (the user is done).
    pub fn close_all(&mut self, registry: &Registry) {
        self.abandon(registry);
        while !self.conns.is_empty() {
            self.close(registry, 0);
        }
    }

    fn close(&mut self, registry: &Registry, i: usize) {
        let mut c = self.conns.swap_remove(i);
        let _ = registry.deregister(c.transport.stream());
    }

    /// Opens a connection to the first of `endpoint.addrs[from..]` that does
    /// not fail at once.
    fn connect(
        &mut self,
        registry: &Registry,
        endpoint: Endpoint,
        from: usize,
        now: Instant,
    ) -> Result<(), HttpError> {
        let mut last = HttpError::Refused;
        for (k, addr) in endpoint.addrs.iter().enumerate().skip(from) {
            let mut stream = match mio::net::TcpStream::connect(*addr) {
                Ok(s) => s,
                Err(e) => {
                    last = map_io(&e);
                    continue;
                }
            };
            registry
                .register(
                    &mut stream,
                    self.token,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| map_io(&e))?;
            let tls_host = (endpoint.scheme == Scheme::Https).then_some(endpoint.host.as_str());
            let transport = Transport::new(stream, tls_host, self.tls.as_ref())?;
            self.conns.push(Conn {
                endpoint,
                transport,
                tls: self.tls.clone(),
            });
            self.active = Some(self.conns.len() - 1);
            self.reused = false;
            self.phase = Phase::Connecting { addr: k };
            self.deadline = deadline(now, self.connect_timeout);
            return Ok(());
        }
        Err(last)
    }

    fn begin_exchange(&mut self, now: Instant) {
        self.phase = Phase::Writing;
        self.written = 0;
        self.read_hint = false;
        self.reader.start(self.head_request);
        self.head.clear();
        self.body.clear();
        self.body_bytes = 0;
        self.decoded_len = None;
        self.deadline = deadline(now, self.timeout);
    }

    /// Moves the exchange forward until it must wait; an error closes the
    /// connection it happened on.
    fn drive(
        &mut self,
        registry: &Registry,
        scratch: &mut [u8],
        now: Instant,
    ) -> Result<Progress, HttpError> {
        loop {
            let Some(i) = self.active else {
                return Ok(Progress::Pending);
            };
            let err = match self.step(registry, i, scratch, now) {
                Ok(p) => return Ok(p),
                Err(e) => e,
            };
            let stale = self.reused
                && !self.reader.got_any()
                && matches!(
                    err,
                    HttpError::Reset | HttpError::Aborted | HttpError::ClosedEarly
                );
            let phase = self.phase;
            let endpoint = self.conns[i].endpoint.clone();
            self.abandon(registry);
            match phase {
                // A keep-alive connection the server had closed: once more on a
                // fresh one (which is never `reused`, so at most once).
                _ if stale => self.connect(registry, endpoint, 0, now)?,
                // Refused or unreachable: the next address, if any.
                Phase::Connecting { addr } if addr + 1 < endpoint.addrs.len() => {
                    self.connect(registry, endpoint, addr + 1, now)?
                }
                _ => return Err(err),
            }
        }
    }

    fn step(
        &mut self,
        registry: &Registry,
        i: usize,
        scratch: &mut [u8],
        now: Instant,
    ) -> Result<Progress, HttpError> {
        loop {
            match self.phase {
                Phase::Idle => return Ok(Progress::Pending),
                Phase::Connecting { .. } => {
                    let stream = self.conns[i].transport.stream();
                    match stream.take_error() {
                        Ok(Some(e)) | Err(e) => return Err(map_io(&e)),
                        Ok(None) => {}
                    }
                    match stream.peer_addr() {
                        Ok(_) => {
                            let _ = stream.set_nodelay(true);
                            let endpoint = &self.conns[i].endpoint;
                            match &endpoint.via {
                                Some(proxy) if endpoint.tunnels() => {
                                    wire::write_connect(
                                        proxy,
                                        &endpoint.host,
                                        endpoint.port,
                                        &mut self.tunnel,
                                    );
                                    self.written = 0;
                                    self.head.clear();
                                    self.phase = Phase::Tunneling;
                                }
                                _ => self.begin_exchange(now),
                            }
                        }
                        Err(e)
                            if e.kind() == std::io::ErrorKind::NotConnected
                                || e.kind() == std::io::ErrorKind::WouldBlock =>
                        {
                            return Ok(Progress::Pending)
                        }
                        Err(e) => return Err(map_io(&e)),
                    }
                }
                Phase::Tunneling => {
                    if !self.tunnel_step(i, scratch)? {
                        return Ok(Progress::Pending);
                    }
                    self.begin_exchange(now);
                }
                Phase::Writing => {
                    let t = &mut self.conns[i].transport;
                    let total = self.out.len() + self.big_body.len();
                    while self.written < total {
                        let chunk = if self.written < self.out.len() {
                            &self.out[self.written..]
                        } else {
                            &self.big_body[self.written - self.out.len()..]
                        };
                        match t.write(chunk)? {
                            Some(0) => return Err(HttpError::ClosedEarly),
                            Some(n) => self.written += n,
                            None => return Ok(Progress::Pending),
                        }
                    }
                    if !t.flush()? {
                        return Ok(Progress::Pending);
                    }
                    self.phase = Phase::Reading;
                    // Over plain TCP no response byte can be there before a
                    // readable event says so: wait for it (saves a read that
                    // would block). Over TLS, records may already be buffered.
                    if !self.read_hint && matches!(t, Transport::Plain(_)) {
                        return Ok(Progress::Pending);
                    }
                }
                Phase::Reading => {
                    let t = &mut self.conns[i].transport;
                    if !t.flush()? {
                        return Ok(Progress::Pending);
                    }
                    let direct = self.reader.direct_body_len();
                    if direct >= DIRECT_READ_MIN && self.body_limit.is_none() {
                        // A body nothing looks at: count it, keep none of it.
                        let step =
                            usize::try_from(direct).map_or(scratch.len(), |n| n.min(scratch.len()));
                        let step = match t.read(&mut scratch[..step])? {
                            None => return Ok(Progress::Pending),
                            Some(0) => self.reader.eof()?,
                            Some(n) => {
                                self.body_bytes += n as u64;
                                self.reader.direct_body_read(n)
                            }
                        };
                        if let Step::Done { status, keep_alive } = step {
                            return self.finish(registry, i, status, keep_alive);
                        }
                        continue;
                    }
                    if direct >= DIRECT_READ_MIN {
                        // Much plain body to come: read it straight into `body`.
                        let old = self.body.len();
                        let step = usize::try_from(direct)
                            .map_or(BODY_READ_STEP, |n| n.min(BODY_READ_STEP));
                        self.body.resize(old + step, 0);
                        let got = t.read(&mut self.body[old..]);
                        let got = got.inspect_err(|_| self.body.truncate(old))?;
                        self.body.truncate(old + got.unwrap_or(0));
                        let step = match got {
                            None => return Ok(Progress::Pending),
                            Some(0) => self.reader.eof()?,
                            Some(n) => {
                                self.body_bytes += n as u64;
                                self.check_body_limit()?;
                                self.reader.direct_body_read(n)
                            }
                        };
                        if let Step::Done { status, keep_alive } = step {
                            return self.finish(registry, i, status, keep_alive);
                        }
                        continue;
                    }
                    let n = match t.read(scratch)? {
                        None => return Ok(Progress::Pending),
                        Some(n) => n,
                    };
                    let (step, leftover) = if n == 0 {
                        (self.reader.eof()?, false)
                    } else {
                        let before = self.body.len();
                        let (used, step) =
                            self.reader
                                .feed(&scratch[..n], &mut self.head, &mut self.body)?;
                        self.body_bytes += (self.body.len() - before) as u64;
                        match self.body_limit {
                            // Counted; none of it kept.
                            None => self.body.clear(),
                            Some(_) => self.check_body_limit()?,
                        }
                        (step, used < n)
                    };
                    if let Step::Done { status, keep_alive } = step {
                        // Bytes beyond the response: never pipelined, so the
                        // stream is confused; it is not reused.
                        return self.finish(registry, i, status, keep_alive && !leftover);
                    }
                }
            }
        }
    }

    /// Moves a `CONNECT` forward: `Ok(true)` once the proxy has opened the
    /// tunnel (TLS to the target then starts inside it), `Ok(false)` while
    /// it must wait. The proxy's refusal fails the exchange in words.
    fn tunnel_step(&mut self, i: usize, scratch: &mut [u8]) -> Result<bool, HttpError> {
        let conn = &mut self.conns[i];
        let proxy = conn.endpoint.via.clone().expect("a tunnel has a proxy");
        let target = Proxy::authority(&conn.endpoint.host, conn.endpoint.port);
        let stream = conn.transport.stream();
        while self.written < self.tunnel.len() {
            match stream.write(&self.tunnel[self.written..]) {
                Ok(0) => return Err(HttpError::ClosedEarly),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(map_io(&e)),
            }
        }
        loop {
            let n = match stream.read(scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(map_io(&e)),
            };
            if n == 0 {
                return Err(HttpError::Proxy(
                    0,
                    format!(
                        "proxy {} closed the connection instead of opening a tunnel to {target}",
                        proxy.shown
                    ),
                ));
            }
            self.head.extend_from_slice(&scratch[..n]);
            if let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") {
                // Nothing may follow the answer before the client's first
                // TLS bytes: the proxy answered something else.
                let extra = end + 4 < self.head.len();
                let status_line = self.head[..end]
                    .split(|&b| b == b'\n')
                    .next()
                    .unwrap_or(&[]);
                let status_line = String::from_utf8_lossy(status_line).trim().to_string();
                let status = status_line
                    .strip_prefix("HTTP/1.")
                    .and_then(|r| r.get(2..5))
                    .and_then(|c| c.parse::<u16>().ok());
                self.head.clear();
                return match status {
                    Some(200..=299) if !extra => Ok(true),
                    Some(code) if !(200..=299).contains(&code) => Err(HttpError::Proxy(
                        code,
                        format!(
                            "proxy {} refused the tunnel to {target}: {}{}",
                            proxy.shown,
                            status_line.get(9..).unwrap_or("").trim(),
                            if code == 407 {
                                " (give the proxy's user:password in its URL)"
                            } else {
                                ""
                            }
                        ),
                    )),
                    _ => Err(HttpError::Proxy(
                        0,
                        format!(
                            "proxy {} gave an answer to CONNECT {target} that is not HTTP/1.x: {status_line:?}",
                            proxy.shown
                        ),
                    )),
                };
            }
            if self.head.len() > 16 * 1024 {
                return Err(HttpError::Proxy(
                    0,
                    format!(
                        "proxy {}: its answer to CONNECT {target} is too long",
                        proxy.shown
                    ),
                ));
            }
        }
    }

    /// A kept body over its limit fails the exchange (its connection closes:
    /// the rest of the body is never read).
    fn check_body_limit(&self) -> Result<(), HttpError> {
        match self.body_limit {
            Some(limit) if self.body.len() as u64 > limit => Err(HttpError::BodyTooLarge(limit)),
            _ => Ok(()),
        }
    }

    /// The response is in: its kept body decoded, then [`complete`](Self::complete).
    /// A body that cannot be decoded fails the exchange.
    fn finish(
        &mut self,
        registry: &Registry,
        i: usize,
        status: u16,
        keep_alive: bool,
    ) -> Result<Progress, HttpError> {
        if self.reader.encoded() {
            self.decode_body()?;
        }
        Ok(self.complete(registry, i, status, keep_alive))
    }

    /// Decodes a kept body by its `Content-Encoding` (up to the body limit);
    /// a body nothing reads (not kept) is never decoded.
    fn decode_body(&mut self) -> Result<(), HttpError> {
        let Some(limit) = self.body_limit else {
            return Ok(());
        };
        if self.body.is_empty() {
            return Ok(());
        }
        let codings = self
            .response(0)
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-encoding"))
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .join(",");
        if super::encoding::decode(&codings, &self.body, limit, &mut self.decoded)? {
            std::mem::swap(&mut self.body, &mut self.decoded);
            self.decoded_len = Some(self.body.len() as u64);
        }
        Ok(())
    }

    /// The response is in: the connection stays open for the next request
    /// unless either side asked to close it.
    fn complete(
        &mut self,
        registry: &Registry,
        i: usize,
        status: u16,
        keep_alive: bool,
    ) -> Progress {
        self.phase = Phase::Idle;
        self.deadline = None;
        self.active = None;
        if !keep_alive || self.close_requested {
            self.close(registry, i);
        }
        Progress::Done(status)
    }
}

/// `limit` from `now`; none for a zero limit (no timeout) or one past what the
/// clock can count.
fn deadline(now: Instant, limit: Duration) -> Option<Instant> {
    if limit.is_zero() {
        None
    } else {
        now.checked_add(limit)
    }
}

/// Whether two shared settings (TLS, a proxy) are the same ones: the same
/// build, or both none.
fn same<T>(a: Option<&Arc<T>>, b: Option<&Arc<T>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}
