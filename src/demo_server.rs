//! The built-in demo target: a small multi-threaded HTTP/1.1 server on `std` only.
//!
//! It is used three ways: by `loaddensity demo-server [--port N]` (through
//! [`serve_forever`]), by the `LD_start_demo_server` plan action (a [`DemoServer`]
//! that lives while the plan runs) and as the loopback target of integration tests.
//!
//! Design: one accept thread plus one thread per connection, keep-alive,
//! `TCP_NODELAY`, binds `127.0.0.1` only. Each connection parses requests out of one
//! reused buffer and writes every response with a single `write_all`; the `/ok` path
//! does no heap allocation per request and counts with two relaxed atomics.
//!
//! # Endpoints
//!
//! Every endpoint answers any method (`HEAD` gets the headers only). All responses
//! carry `Content-Length` (except `204`/`304` and the chunked one); JSON responses
//! carry `Content-Type: application/json`.
//!
//! | path | response |
//! |------|----------|
//! | `/ok` | 200 `ok` |
//! | `/json` | 200, a small fixed JSON document ([`JSON_DOC`]) |
//! | `/status/{code}` | that status (200..=599), body `status {code}` |
//! | `/slow/{ms}` | waits `ms` milliseconds (capped at 60 000), then 200 `slow` |
//! | `/flaky/{key}/{n}` | 503 for the first `n` hits of `key`, then 200 `recovered` |
//! | `/fail-after/{key}/{n}` | 200 `ok` for the first `n` hits of `key`, then 503 `regressed` |
//! | `/reset/{key}/{n}` | closes the connection without a response for the first `n` hits of `key`, then 200 `ok` |
//! | `/retry-after/{key}/{n}/{secs}` | 429 with `Retry-After: {secs}` for the first `n` hits of `key`, then 200 `ok` |
//! | `/echo` | 200 JSON `{"method","path","query","headers","body"}` describing the request |
//! | `/token` | 200 JSON `{"token":"tok-N"}`, `N` unique within the process |
//! | `/use/{token}` | 200 on the first use of an issued token, 409 on reuse, 404 for unknown tokens |
//! | `/bytes/{n}` | 200 with `n` bytes of `x` (capped at 10 MiB) |
//! | `/chunked` | 200 with a `Transfer-Encoding: chunked` body of three chunks ([`CHUNKED_BODY`]) |
//! | `/hang` | reads the request and never answers (until the client closes or the server stops) |
//! | `/gzip`, `/deflate` | 200, [`JSON_DOC`] compressed that way (`Content-Encoding`) when the request's `Accept-Encoding` names it, else plain |
//! | `/bomb/{n}` | 200, `n` zero bytes gzipped (capped at 64 MiB), always `Content-Encoding: gzip` |
//! | `/encoded/{coding}` | 200 `x` labelled `Content-Encoding: {coding}` |
//! | `/multipart` | 200 JSON `{"fields": {name: text}, "files": [{"field","filename","content_type","size","hex"}]}` of a `multipart/form-data` body; 400 if it does not parse |
//! | anything else | 404 `not found` |
//!
//! Keys of `/flaky`, `/reset` and `/retry-after` are counted separately per endpoint
//! and per server.
//!
//! # Request handling
//!
//! Request line + headers are capped at 64 KiB (431 and close), at most 100 header
//! lines (431). Bodies come with `Content-Length` (capped at 10 MiB, 413 and close)
//! or `Transfer-Encoding: chunked`. `Expect: 100-continue` gets an interim
//! `100 Continue`. `Connection: close` and HTTP/1.0 (without `Connection:
//! keep-alive`) close after the response. Malformed requests get 400 and a close;
//! the server never panics on garbage input.

use crate::sync::lock;
use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Cap on request line + headers, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Cap on the number of header lines of one request.
const MAX_HEADERS: usize = 100;
/// Cap on a request body (decoded), in bytes.
const MAX_BODY: usize = 10 * 1024 * 1024;
/// Cap on the raw bytes of a chunked request (head + body + chunk framing).
const MAX_CHUNKED_RAW: usize = MAX_HEAD + 2 * MAX_BODY;
/// Cap on a chunk-size line or a trailer section.
const MAX_CHUNK_LINE: usize = 4096;
/// Cap on `/bytes/{n}`.
const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Cap on `/slow/{ms}`.
const MAX_SLOW_MS: u64 = 60_000;
/// Read timeout of connection sockets: how often a blocked reader checks for stop.
const POLL: Duration = Duration::from_millis(100);
/// Bound on each of the waits of [`DemoServer::stop`].
const STOP_WAIT: Duration = Duration::from_secs(2);
/// How many distinct paths (besides `/ok` and `/json`) get a hit counter.
const MAX_TRACKED_PATHS: usize = 100_000;
/// Initial size of the per-connection buffers.
const INITIAL_BUF: usize = 8 * 1024;
/// Per-connection buffers larger than this are shrunk back after a request.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// Stack size of connection threads (they do no deep recursion).
const CONN_STACK: usize = 256 * 1024;

/// The body of `GET /json`.
pub const JSON_DOC: &str = r#"{"status":"ok","items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}],"count":2,"nested":{"flag":true}}"#;

/// The decoded body of `GET /chunked` (sent as three chunks).
pub const CHUNKED_BODY: &str = "chunk one\nchunk two\nchunk three\n";

/// The three chunks that make up [`CHUNKED_BODY`].
const CHUNKS: [&str; 3] = ["chunk one\n", "chunk two\n", "chunk three\n"];

/// The whole `/ok` response on a keep-alive HTTP/1.1 connection.
const OK_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

const TEXT: Option<&str> = Some("text/plain");
const JSON: Option<&str> = Some("application/json");

/// Process-wide token counter of `/token` (tokens are unique across servers).
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A running demo server (see the [module docs](self) for its endpoints).
///
/// Stopped by [`DemoServer::stop`] or when dropped.
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// State shared by the accept thread, the connection threads and the handle.
#[derive(Debug, Default)]
struct Shared {
    stopping: AtomicBool,
    total: AtomicU64,
    connections: AtomicU64,
    /// Connection threads still running.
    active: AtomicUsize,
    ok_hits: AtomicU64,
    json_hits: AtomicU64,
    path_hits: Mutex<HashMap<String, u64>>,
    keys: Mutex<KeyCounters>,
    /// Tokens this server issued, and whether they were used.
    tokens: Mutex<HashMap<u64, bool>>,
    /// Clones of open connection sockets, so `stop` can shut them down.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_conn_id: AtomicU64,
    /// Set (and notified) when the accept thread has returned.
    accept_exited: Mutex<bool>,
    /// When `/stall` was first hit: its periods count from there.
    stall_epoch: std::sync::OnceLock<Instant>,
    accept_exit: Condvar,
}

/// Hit counters per key of the failure-injecting endpoints.
#[derive(Debug, Default)]
struct KeyCounters {
    flaky: HashMap<String, u64>,
    fail_after: HashMap<String, u64>,
    reset: HashMap<String, u64>,
    retry_after: HashMap<String, u64>,
}

/// Increments the counter of `key` and returns its new value (1 on the first hit).
fn bump(map: &mut HashMap<String, u64>, key: &str) -> u64 {
    if let Some(c) = map.get_mut(key) {
        *c += 1;
        return *c;
    }
    map.insert(key.to_owned(), 1);
    1
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    fn count_path(&self, path: &str) {
        match path {
            "/ok" => {
                self.ok_hits.fetch_add(1, Ordering::Relaxed);
            }
            "/json" => {
                self.json_hits.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                let mut map = lock(&self.path_hits);
                if let Some(c) = map.get_mut(path) {
                    *c += 1;
                } else if map.len() < MAX_TRACKED_PATHS {
                    map.insert(path.to_owned(), 1);
                }
            }
        }
    }
}

/// The demo server's accept queue.
const LISTEN_BACKLOG: i32 = 4096;

impl DemoServer {
    /// Binds `127.0.0.1:port` (`0` picks any free port) and starts serving in
    /// background threads.
    pub fn start(port: u16) -> io::Result<DemoServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        // std listens with a backlog of 128: thousands of users connecting at
        // once would see dropped SYNs and 1 s retransmits. Listening again on
        // a listening socket only changes its backlog (the kernel caps it at
        // net.core.somaxconn).
        // SAFETY: listen(2) on a descriptor this listener owns.
        unsafe {
            libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), LISTEN_BACKLOG);
        }
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("ld-demo-accept".into())
            .spawn(move || {
                accept_loop(&listener, &accept_shared);
                drop(listener);
                *lock(&accept_shared.accept_exited) = true;
                accept_shared.accept_exit.notify_all();
            })?;
        Ok(DemoServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address the server listens on (always `127.0.0.1`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request the server parsed (request line and headers valid), all paths.
    pub fn total_requests(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }

    /// Requests whose path (without the query string) equals `path`.
    ///
    /// Besides `/ok` and `/json`, at most 100 000 distinct paths are tracked.
    pub fn hits(&self, path: &str) -> u64 {
        match path {
            "/ok" => self.shared.ok_hits.load(Ordering::Relaxed),
            "/json" => self.shared.json_hits.load(Ordering::Relaxed),
            _ => lock(&self.shared.path_hits).get(path).copied().unwrap_or(0),
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops accepting, closes every open connection and joins the accept thread.
    ///
    /// Bounded: each wait (accept thread, connection threads) gives up after two
    /// seconds, so a stuck client can never block it for long.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept thread out of its blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        let exited = self
            .shared
            .accept_exit
            .wait_timeout_while(lock(&self.shared.accept_exited), STOP_WAIT, |exited| {
                !*exited
            })
            .map(|(exited, _)| *exited)
            .unwrap_or(false);
        if exited {
            if let Some(handle) = self.accept.take() {
                let _ = handle.join();
            }
        }
        // No connection is registered after the accept thread saw `stopping`.
        for (_, stream) in lock(&self.shared.open).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + STOP_WAIT;
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for DemoServer {
    /// Stops the server like [`DemoServer::stop`].
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs a demo server on `127.0.0.1:port` until the process is killed.
///
/// Prints `demo server listening on http://127.0.0.1:PORT` to stderr once bound.
/// Returns only if binding fails.
pub fn serve_forever(port: u16) -> io::Result<()> {
    let server = DemoServer::start(port)?;
    eprintln!("demo server listening on {}", server.base_url());
    loop {
        thread::park();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => spawn_connection(stream, shared),
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Unregisters a connection when its thread ends (even by panic).
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock(&self.shared.open).remove(&self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn spawn_connection(stream: TcpStream, shared: &Arc<Shared>) {
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let id = shared.next_conn_id.fetch_add(1, Ordering::Relaxed);
    if let Ok(clone) = stream.try_clone() {
        lock(&shared.open).insert(id, clone);
    }
    shared.active.fetch_add(1, Ordering::SeqCst);
    let guard = ConnGuard {
        shared: Arc::clone(shared),
        id,
    };
    let spawned = thread::Builder::new()
        .name("ld-demo-conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let guard = guard;
            serve_connection(stream, &guard.shared);
        });
    // On spawn failure the closure (stream and guard) is dropped: the guard
    // unregisters the connection and the stream closes.
    drop(spawned);
}

/// The read side of a connection: the socket and its reused request buffer.
struct Reader<'a> {
    stream: TcpStream,
    shared: &'a Shared,
    buf: Vec<u8>,
    len: usize,
}

enum Fill {
    /// At least one more byte is in the buffer.
    Data,
    /// The buffer is full and may not grow past the limit.
    TooBig,
    /// EOF, an error, or the server is stopping.
    Closed,
}

impl Reader<'_> {
    /// Reads more bytes, growing the buffer up to `limit` bytes if it is full.
    fn fill(&mut self, limit: usize) -> Fill {
        if self.len == self.buf.len() {
            if self.buf.len() >= limit {
                return Fill::TooBig;
            }
            let new_len = (self.buf.len() * 2).max(INITIAL_BUF).min(limit);
            self.buf.resize(new_len, 0);
        }
        loop {
            match (&self.stream).read(&mut self.buf[self.len..]) {
                Ok(0) => return Fill::Closed,
                Ok(n) => {
                    self.len += n;
                    return Fill::Data;
                }
                Err(e) => match e.kind() {
                    ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                        if self.shared.stopping() {
                            return Fill::Closed;
                        }
                    }
                    ErrorKind::Interrupted => {}
                    _ => return Fill::Closed,
                },
            }
        }
    }

    /// Makes sure `buf[..need]` is filled. `false` if the connection ended first.
    fn fill_to(&mut self, need: usize, limit: usize) -> Result<(), BodyError> {
        while self.len < need {
            match self.fill(limit) {
                Fill::Data => {}
                Fill::TooBig => return Err(BodyError::Status(413)),
                Fill::Closed => return Err(BodyError::Closed),
            }
        }
        Ok(())
    }
}

/// Per-request response settings.
#[derive(Clone, Copy)]
struct Ctx {
    head_only: bool,
    close: bool,
    http10: bool,
}

/// What the connection does after routing a request.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// Send `out`; then close if `close`.
    Write { close: bool },
    /// Close the connection without answering.
    Reset,
    /// Never answer; keep the connection until the client or the server ends it.
    Hang,
}

/// One parsed request, borrowed from the connection buffers.
struct Req<'a> {
    method: &'a [u8],
    target: &'a [u8],
    /// Request line and headers, including the final blank line.
    head: &'a [u8],
    body: &'a [u8],
    ctx: Ctx,
}

enum BodyError {
    Status(u16),
    Closed,
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let mut rd = Reader {
        stream,
        shared,
        buf: vec![0; INITIAL_BUF],
        len: 0,
    };
    let mut out: Vec<u8> = Vec::with_capacity(INITIAL_BUF);
    let mut body: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    loop {
        // Move the unconsumed bytes (a pipelined next request) to the front.
        if pos >= rd.len {
            rd.len = 0;
        } else if pos > 0 {
            rd.buf.copy_within(pos..rd.len, 0);
            rd.len -= pos;
        }
        if rd.buf.len() > SHRINK_ABOVE && rd.len <= INITIAL_BUF {
            rd.buf.truncate(INITIAL_BUF);
            rd.buf.shrink_to_fit();
        }
        if out.capacity() > SHRINK_ABOVE {
            out = Vec::with_capacity(INITIAL_BUF);
        }
        if body.capacity() > SHRINK_ABOVE {
            body = Vec::new();
        }

        // Request line and headers.
        let mut scan = 0;
        let head_end = loop {
            // Tolerate blank lines between requests (RFC 9112 §2.2).
            let blank = rd.buf[..rd.len]
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if blank > 0 {
                rd.buf.copy_within(blank..rd.len, 0);
                rd.len -= blank;
                scan = 0;
            }
            if let Some(end) = find_head_end(&rd.buf[..rd.len], scan) {
                break end;
            }
            if rd.len >= MAX_HEAD {
                send_error(&rd, &mut out, 431);
                return;
            }
            scan = rd.len.saturating_sub(3);
            match rd.fill(MAX_HEAD) {
                Fill::Data => {}
                Fill::TooBig => {
                    send_error(&rd, &mut out, 431);
                    return;
                }
                Fill::Closed => {
                    if rd.len > 0 && !shared.stopping() {
                        // A half-closed client sent an incomplete request.
                        send_error(&rd, &mut out, 400);
                    }
                    return;
                }
            }
        };
        let meta = match parse_head(&rd.buf[..head_end]) {
            Ok(meta) => meta,
            Err(status) => {
                send_error(&rd, &mut out, status);
                return;
            }
        };
        shared.total.fetch_add(1, Ordering::Relaxed);
        let keep_alive = if meta.http10 {
            meta.keep_alive && !meta.close
        } else {
            !meta.close
        };
        let method = &rd.buf[meta.method.0..meta.method.1];
        let ctx = Ctx {
            head_only: method == b"HEAD",
            close: !keep_alive,
            http10: meta.http10,
        };

        // Body.
        let continue_ok = meta.expect_continue && !meta.http10;
        let (body_range, req_end) = if meta.chunked {
            if continue_ok && rd.len == head_end {
                send_continue(&rd);
            }
            body.clear();
            match read_chunked(&mut rd, head_end, &mut body) {
                Ok(end) => (None, end),
                Err(BodyError::Status(status)) => {
                    send_error(&rd, &mut out, status);
                    return;
                }
                Err(BodyError::Closed) => return,
            }
        } else if let Some(cl) = meta.content_length {
            if cl > MAX_BODY {
                send_error(&rd, &mut out, 413);
                return;
            }
            let need = head_end + cl;
            if continue_ok && rd.len < need {
                send_continue(&rd);
            }
            if rd.fill_to(need, need).is_err() {
                return;
            }
            (Some((head_end, need)), need)
        } else {
            (Some((head_end, head_end)), head_end)
        };

        let req = Req {
            method: &rd.buf[meta.method.0..meta.method.1],
            target: &rd.buf[meta.target.0..meta.target.1],
            head: &rd.buf[..head_end],
            body: match body_range {
                Some((a, b)) => &rd.buf[a..b],
                None => &body,
            },
            ctx,
        };
        match route(shared, &req, &mut out) {
            Action::Write { close } => {
                if (&rd.stream).write_all(&out).is_err() {
                    return;
                }
                if close {
                    linger_close(&rd);
                    return;
                }
            }
            Action::Reset => {
                let _ = rd.stream.shutdown(Shutdown::Both);
                return;
            }
            Action::Hang => {
                hang(&mut rd);
                return;
            }
        }
        pos = req_end;
    }
}

/// Index just past the `\r\n\r\n` that ends the head, searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    if buf.len() < 4 {
        return None;
    }
    let mut i = from;
    while i < buf.len() {
        match buf[i..].iter().position(|&b| b == b'\n') {
            None => return None,
            Some(off) => {
                let lf = i + off;
                if lf >= 3 && &buf[lf - 3..=lf] == b"\r\n\r\n" {
                    return Some(lf + 1);
                }
                i = lf + 1;
            }
        }
    }
    None
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn send_continue(rd: &Reader) {
    let _ = (&rd.stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// Sends an error response with `Connection: close` and closes gracefully.
fn send_error(rd: &Reader, out: &mut Vec<u8>, status: u16) {
    let ctx = Ctx {
        head_only: false,
        close: true,
        http10: false,
    };
    let text = match status {
        413 => "request body too large",
        431 => "request header fields too large",
        501 => "not implemented",
        505 => "http version not supported",
        _ => "bad request",
    };
    respond(out, ctx, status, TEXT, &[], text.as_bytes(), true);
    if (&rd.stream).write_all(out).is_ok() {
        linger_close(rd);
    }
}

/// Half-closes the connection and drains what the client still sends for a short
/// while, so unread request bytes do not turn the close into a reset that could
/// destroy the response before the client reads it.
fn linger_close(rd: &Reader) {
    let _ = rd.stream.shutdown(Shutdown::Write);
    let _ = rd.stream.set_read_timeout(Some(Duration::from_millis(50)));
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut scratch = [0u8; 4096];
    let mut drained = 0usize;
    while Instant::now() < deadline && drained < 1024 * 1024 && !rd.shared.stopping() {
        match (&rd.stream).read(&mut scratch) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

/// `/hang`: keep reading (and discarding) until the client closes or the server stops.
fn hang(rd: &mut Reader) {
    loop {
        match (&rd.stream).read(&mut rd.buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted => {
                    if rd.shared.stopping() {
                        return;
                    }
                }
                _ => return,
            },
        }
    }
}

/// Reads a chunked body starting at `start`, decoding it into `body`.
/// Returns the index just past the request (after the trailers).
fn read_chunked(rd: &mut Reader, start: usize, body: &mut Vec<u8>) -> Result<usize, BodyError> {
    let mut cur = start;
    loop {
        let line_end = read_line(rd, cur)?;
        let line = &rd.buf[cur..line_end];
        let size_part = match line.iter().position(|&b| b == b';') {
            Some(i) => &line[..i],
            None => line,
        };
        let size = parse_hex(trim_ows(size_part)).ok_or(BodyError::Status(400))?;
        if size == 0 {
            // Trailer section: lines until an empty one.
            let mut t = line_end + 2;
            loop {
                let end = read_line(rd, t)?;
                if end == t {
                    return Ok(end + 2);
                }
                if end - line_end > MAX_HEAD {
                    return Err(BodyError::Status(431));
                }
                t = end + 2;
            }
        }
        if size > MAX_BODY - body.len() {
            return Err(BodyError::Status(413));
        }
        let data_start = line_end + 2;
        let data_end = data_start + size;
        rd.fill_to(data_end + 2, MAX_CHUNKED_RAW)?;
        if &rd.buf[data_end..data_end + 2] != b"\r\n" {
            return Err(BodyError::Status(400));
        }
        body.extend_from_slice(&rd.buf[data_start..data_end]);
        cur = data_end + 2;
    }
}

/// Index of the CRLF ending the line that starts at `from`, reading as needed.
fn read_line(rd: &mut Reader, from: usize) -> Result<usize, BodyError> {
    loop {
        if let Some(i) = find_crlf(&rd.buf[from..rd.len]) {
            return Ok(from + i);
        }
        if rd.len - from > MAX_CHUNK_LINE {
            return Err(BodyError::Status(400));
        }
        match rd.fill(MAX_CHUNKED_RAW) {
            Fill::Data => {}
            Fill::TooBig => return Err(BodyError::Status(413)),
            Fill::Closed => return Err(BodyError::Closed),
        }
    }
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let mut n = 0usize;
    for &b in s {
        let d = (b as char).to_digit(16)? as usize;
        n = n * 16 + d;
    }
    Some(n)
}

fn parse_dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &b| n * 10 + u64::from(b - b'0')))
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What the connection needs to know about a request head. Ranges index the buffer.
#[derive(Debug, Default, PartialEq, Eq)]
struct Meta {
    method: (usize, usize),
    target: (usize, usize),
    http10: bool,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

/// Splits a head (ending with `\r\n\r\n`) into lines, without the blank line.
fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let content = &head[..head.len().saturating_sub(4)];
    let mut rest = Some(content);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_crlf(r) {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Splits a header line into name and trimmed value (no validation).
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((&line[..colon], trim_ows(&line[colon + 1..])))
}

/// Parses and validates the request line and headers. `Err` is the status to send.
fn parse_head(head: &[u8]) -> Result<Meta, u16> {
    let mut lines = head_lines(head);
    let request_line = lines.next().ok_or(400u16)?;
    let mut meta = Meta::default();

    // Request line: METHOD SP TARGET SP VERSION.
    let sp1 = request_line.iter().position(|&b| b == b' ').ok_or(400u16)?;
    let rest = &request_line[sp1 + 1..];
    let sp2 = rest.iter().position(|&b| b == b' ').ok_or(400u16)?;
    let method = &request_line[..sp1];
    let target = &rest[..sp2];
    let version = &rest[sp2 + 1..];
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(400);
    }
    if target.is_empty() || !target.iter().all(|&b| b > b' ' && b != 0x7f) {
        return Err(400);
    }
    meta.method = (0, sp1);
    let target_start = sp1 + 1;
    meta.target = if target[0] == b'/' || target == b"*" {
        (target_start, target_start + target.len())
    } else {
        // absolute-form: http://host[:port]/path
        let after_scheme = if target.len() > 7 && target[..7].eq_ignore_ascii_case(b"http://") {
            7
        } else if target.len() > 8 && target[..8].eq_ignore_ascii_case(b"https://") {
            8
        } else {
            return Err(400);
        };
        let slash = target[after_scheme..]
            .iter()
            .position(|&b| b == b'/')
            .ok_or(400u16)?;
        (
            target_start + after_scheme + slash,
            target_start + target.len(),
        )
    };
    match version {
        b"HTTP/1.1" => {}
        b"HTTP/1.0" => meta.http10 = true,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(505)
        }
        _ => return Err(400),
    }

    // Header fields.
    for (count, line) in lines.enumerate() {
        if count >= MAX_HEADERS {
            return Err(431);
        }
        let (name, value) = split_header(line).ok_or(400u16)?;
        // No obs-fold, no space before the colon, no control bytes in values.
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(400);
        }
        if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(400);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_dec(value).ok_or(400u16)?;
            let n = usize::try_from(n).map_err(|_| 413u16)?;
            if meta.content_length.is_some_and(|old| old != n) {
                return Err(400);
            }
            meta.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(|&b| b == b',').next().map(trim_ows);
            match last {
                Some(coding) if coding.eq_ignore_ascii_case(b"chunked") => meta.chunked = true,
                _ => return Err(501),
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                if token.eq_ignore_ascii_case(b"close") {
                    meta.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    meta.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect")
            && value.eq_ignore_ascii_case(b"100-continue")
        {
            meta.expect_continue = true;
        }
    }
    if meta.chunked && meta.content_length.is_some() {
        // RFC 9112 §6.3: Transfer-Encoding wins; close afterwards.
        meta.content_length = None;
        meta.close = true;
    }
    Ok(meta)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Writes a whole response into `out` (cleared first).
///
/// `extra` holds preformatted header lines (each ending with CRLF).
fn respond(
    out: &mut Vec<u8>,
    ctx: Ctx,
    status: u16,
    content_type: Option<&str>,
    extra: &[u8],
    body: &[u8],
    force_close: bool,
) -> Action {
    out.clear();
    let close = ctx.close || force_close;
    let no_body = status == 204 || status == 304;
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason(status));
    if !no_body {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
        if let Some(ct) = content_type {
            let _ = write!(out, "Content-Type: {ct}\r\n");
        }
    }
    out.extend_from_slice(extra);
    finish_head(out, Ctx { close, ..ctx });
    if !ctx.head_only && !no_body {
        out.extend_from_slice(body);
    }
    Action::Write { close }
}

fn text(out: &mut Vec<u8>, ctx: Ctx, status: u16, body: &str) -> Action {
    respond(out, ctx, status, TEXT, &[], body.as_bytes(), false)
}

fn json(out: &mut Vec<u8>, ctx: Ctx, status: u16, value: &serde_json::Value) -> Action {
    let body = serde_json::to_vec(value).unwrap_or_default();
    respond(out, ctx, status, JSON, &[], &body, false)
}

fn bad_request(out: &mut Vec<u8>, ctx: Ctx) -> Action {
    text(out, ctx, 400, "bad request")
}

/// Dispatches one request, leaving the response in `out`.
fn route(shared: &Shared, req: &Req, out: &mut Vec<u8>) -> Action {
    let ctx = req.ctx;
    let path_bytes = match req.target.iter().position(|&b| b == b'?') {
        Some(i) => &req.target[..i],
        None => req.target,
    };
    let Ok(path) = std::str::from_utf8(path_bytes) else {
        return respond(out, ctx, 400, TEXT, &[], b"bad request", true);
    };
    shared.count_path(path);

    match path {
        "/ok" => {
            if !ctx.close && !ctx.http10 && !ctx.head_only {
                out.clear();
                out.extend_from_slice(OK_RESPONSE);
                Action::Write { close: false }
            } else {
                text(out, ctx, 200, "ok")
            }
        }
        "/json" => respond(out, ctx, 200, JSON, &[], JSON_DOC.as_bytes(), false),
        "/echo" => echo(req, out),
        "/token" => {
            let n = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
            lock(&shared.tokens).insert(n, false);
            json(
                out,
                ctx,
                200,
                &serde_json::json!({ "token": format!("tok-{n}") }),
            )
        }
        "/chunked" => chunked(out, ctx),
        "/hang" => Action::Hang,
        "/redirect-to" => redirect_to(req, out),
        "/redirect-loop" => respond(
            out,
            ctx,
            302,
            TEXT,
            b"Location: /redirect-loop\r\n",
            b"",
            false,
        ),
        "/set-cookie" => set_cookie(req, out),
        "/cookies" => {
            let cookie = head_lines(req.head)
                .skip(1)
                .filter_map(split_header)
                .find(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
            json(
                out,
                ctx,
                200,
                &serde_json::json!({ "cookie": cookie.unwrap_or_default() }),
            )
        }
        "/gzip" | "/deflate" => compressed(req, &path[1..], out),
        "/multipart" => multipart(req, out),
        _ => route_param(shared, path, ctx, out),
    }
}

/// The endpoints with path parameters.
fn route_param(shared: &Shared, path: &str, ctx: Ctx, out: &mut Vec<u8>) -> Action {
    if let Some(code) = path.strip_prefix("/status/") {
        return match code.parse::<u16>() {
            Ok(code @ 200..=599) => text(out, ctx, code, &format!("status {code}")),
            _ => bad_request(out, ctx),
        };
    }
    if let Some(rest) = path.strip_prefix("/stall/") {
        // Answers at once, except in the last `stall` ms of every `period`
        // ms (counted from the first /stall hit), when it holds the answer
        // until the stall ends: a server that stalls now and then.
        let parsed = rest
            .split_once('/')
            .and_then(|(p, s)| Some((parse_dec(p.as_bytes())?, parse_dec(s.as_bytes())?)));
        let Some((period, stall)) = parsed.filter(|(p, s)| *p > 0 && s <= p && *p <= MAX_SLOW_MS)
        else {
            return bad_request(out, ctx);
        };
        let epoch = *shared.stall_epoch.get_or_init(Instant::now);
        let into = (Instant::now() - epoch).as_millis() as u64 % period;
        if into >= period - stall {
            let deadline = Instant::now() + Duration::from_millis(period - into);
            loop {
                let now = Instant::now();
                if now >= deadline || shared.stopping() {
                    break;
                }
                thread::sleep((deadline - now).min(Duration::from_millis(5)));
            }
        }
        return text(out, ctx, 200, "ok");
    }
    if let Some(ms) = path.strip_prefix("/slow/") {
        let Some(ms) = parse_dec(ms.as_bytes()) else {
            return bad_request(out, ctx);
        };
        let deadline = Instant::now() + Duration::from_millis(ms.min(MAX_SLOW_MS));
        loop {
            let now = Instant::now();
            if now >= deadline || shared.stopping() {
                break;
            }
            thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
        return text(out, ctx, 200, "slow");
    }
    if let Some(rest) = path.strip_prefix("/flaky/") {
        let Some((key, n)) = key_and_n(rest) else {
            return bad_request(out, ctx);
        };
        let hit = bump(&mut lock(&shared.keys).flaky, key);
        return if hit <= n {
            text(out, ctx, 503, "unavailable")
        } else {
            text(out, ctx, 200, "recovered")
        };
    }
    if let Some(rest) = path.strip_prefix("/fail-after/") {
        let Some((key, n)) = key_and_n(rest) else {
            return bad_request(out, ctx);
        };
        let hit = bump(&mut lock(&shared.keys).fail_after, key);
        return if hit <= n {
            text(out, ctx, 200, "ok")
        } else {
            text(out, ctx, 503, "regressed")
        };
    }
    if let Some(rest) = path.strip_prefix("/reset/") {
        let Some((key, n)) = key_and_n(rest) else {
            return bad_request(out, ctx);
        };
        let hit = bump(&mut lock(&shared.keys).reset, key);
        return if hit <= n {
            Action::Reset
        } else {
            text(out, ctx, 200, "ok")
        };
    }
    if let Some(rest) = path.strip_prefix("/retry-after/") {
        let Some((key_n, secs)) = rest.rsplit_once('/') else {
            return bad_request(out, ctx);
        };
        let (Some((key, n)), Some(secs)) = (key_and_n(key_n), parse_dec(secs.as_bytes())) else {
            return bad_request(out, ctx);
        };
        let hit = bump(&mut lock(&shared.keys).retry_after, key);
        return if hit <= n {
            let extra = format!("Retry-After: {secs}\r\n");
            respond(out, ctx, 429, TEXT, extra.as_bytes(), b"retry later", false)
        } else {
            text(out, ctx, 200, "ok")
        };
    }
    if let Some(token) = path.strip_prefix("/use/") {
        let id = token
            .strip_prefix("tok-")
            .and_then(|n| parse_dec(n.as_bytes()));
        let mut tokens = lock(&shared.tokens);
        let (status, result) = match id.and_then(|id| tokens.get_mut(&id)) {
            None => (404, "unknown token"),
            Some(used) if *used => (409, "token already used"),
            Some(used) => {
                *used = true;
                (200, "ok")
            }
        };
        drop(tokens);
        return json(
            out,
            ctx,
            status,
            &serde_json::json!({ "token": token, "result": result }),
        );
    }
    if let Some(n) = path.strip_prefix("/redirect/") {
        return match parse_dec(n.as_bytes()) {
            Some(n @ 1..=100) => {
                let to = if n == 1 {
                    "/ok".to_string()
                } else {
                    format!("/redirect/{}", n - 1)
                };
                let extra = format!("Location: {to}\r\n");
                respond(out, ctx, 302, TEXT, extra.as_bytes(), b"", false)
            }
            _ => bad_request(out, ctx),
        };
    }
    if let Some(n) = path.strip_prefix("/bomb/") {
        let Some(n) = parse_dec(n.as_bytes()) else {
            return bad_request(out, ctx);
        };
        let zeros = vec![0u8; n.min(MAX_BOMB) as usize];
        let body = compress("gzip", &zeros);
        drop(zeros);
        return respond(
            out,
            ctx,
            200,
            JSON,
            b"Content-Encoding: gzip\r\n",
            &body,
            false,
        );
    }
    if let Some(coding) = path.strip_prefix("/encoded/") {
        if coding.is_empty()
            || !coding
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad_request(out, ctx);
        }
        let extra = format!("Content-Encoding: {coding}\r\n");
        return respond(out, ctx, 200, TEXT, extra.as_bytes(), b"x", false);
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        let Some(n) = parse_dec(n.as_bytes()) else {
            return bad_request(out, ctx);
        };
        let n = usize::try_from(n).unwrap_or(MAX_BYTES).min(MAX_BYTES);
        out.clear();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nContent-Type: text/plain\r\n"
        );
        finish_head(out, ctx);
        if !ctx.head_only {
            out.resize(out.len() + n, b'x');
        }
        return Action::Write { close: ctx.close };
    }
    text(out, ctx, 404, "not found")
}

/// Ends a hand-built head with the connection header and the blank line.
fn finish_head(out: &mut Vec<u8>, ctx: Ctx) {
    if ctx.close {
        out.extend_from_slice(b"Connection: close\r\n");
    } else if ctx.http10 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Parses `{key}/{n}` (key non-empty, without `/`).
fn key_and_n(s: &str) -> Option<(&str, u64)> {
    let (key, n) = s.split_once('/')?;
    if key.is_empty() {
        return None;
    }
    Some((key, parse_dec(n.as_bytes())?))
}

/// `/chunked`: three chunks (plain `Content-Length` for HTTP/1.0 clients).
fn chunked(out: &mut Vec<u8>, ctx: Ctx) -> Action {
    if ctx.http10 {
        return text(out, ctx, 200, CHUNKED_BODY);
    }
    out.clear();
    out.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n",
    );
    finish_head(out, ctx);
    if !ctx.head_only {
        for chunk in CHUNKS {
            let _ = write!(out, "{:x}\r\n{chunk}\r\n", chunk.len());
        }
        out.extend_from_slice(b"0\r\n\r\n");
    }
    Action::Write { close: ctx.close }
}

/// Decodes `%XX` escapes and `+` (as a space) of a query component.
fn percent_decode(s: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        bytes.push(b);
                        i += 3;
                        continue;
                    }
                    None => bytes.push(b'%'),
                }
            }
            b'+' => bytes.push(b' '),
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The decoded `name=value` pairs of a request's query.
fn query_pairs(req: &Req) -> Vec<(String, String)> {
    let Some(i) = req.target.iter().position(|&b| b == b'?') else {
        return Vec::new();
    };
    req.target[i + 1..]
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (percent_decode(&pair[..eq]), percent_decode(&pair[eq + 1..])),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

/// `/redirect-to?url=…&status=…`: a redirect (302 unless `status` says
/// which 3xx) to `url`, as given (relative or absolute).
fn redirect_to(req: &Req, out: &mut Vec<u8>) -> Action {
    let q = query_pairs(req);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let status = match get("status").map(str::parse::<u16>) {
        None => 302,
        Some(Ok(s @ 300..=399)) => s,
        Some(_) => return bad_request(out, req.ctx),
    };
    match get("url") {
        Some(url) if !url.contains(['\r', '\n']) => {
            let extra = format!("Location: {url}\r\n");
            respond(out, req.ctx, status, TEXT, extra.as_bytes(), b"", false)
        }
        _ => bad_request(out, req.ctx),
    }
}

/// `/set-cookie?name=value&…`: sets each cookie (`Path=/`); with
/// `redirect=URL`, as a `302` to that URL (a login that redirects).
fn set_cookie(req: &Req, out: &mut Vec<u8>) -> Action {
    let mut extra = String::new();
    let mut status = 200;
    for (k, v) in query_pairs(req) {
        if k.contains(['\r', '\n', ';']) || v.contains(['\r', '\n', ';']) {
            return bad_request(out, req.ctx);
        }
        if k == "redirect" {
            status = 302;
            extra.push_str(&format!("Location: {v}\r\n"));
        } else {
            extra.push_str(&format!("Set-Cookie: {k}={v}; Path=/\r\n"));
        }
    }
    respond(out, req.ctx, status, TEXT, extra.as_bytes(), b"ok", false)
}

/// Cap on the decoded size of a `/bomb/{n}` body.
const MAX_BOMB: u64 = 64 << 20;

/// The first value of a request header (case-insensitive name).
fn req_header<'a>(req: &Req<'a>, name: &str) -> Option<&'a [u8]> {
    head_lines(req.head)
        .skip(1)
        .filter_map(split_header)
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v)
}

/// `data` compressed with `coding` (`gzip`, or `deflate`: zlib-wrapped), on
/// a helper thread: the compressor's state does not fit a connection
/// thread's small stack. Bodies are cached by coding and size of `data`
/// (they are [`JSON_DOC`] or zeros).
fn compress(coding: &'static str, data: &[u8]) -> Arc<[u8]> {
    /// (coding, size of the data, compressed body)
    type Entry = (&'static str, usize, Arc<[u8]>);
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let key = (coding, data.len());
    if let Some((_, _, b)) = lock(&CACHE).iter().find(|(c, n, _)| (*c, *n) == key) {
        return b.clone();
    }
    let body: Arc<[u8]> = thread::scope(|s| {
        let work = move || {
            use flate2::write::{GzEncoder, ZlibEncoder};
            use flate2::Compression;
            let level = Compression::fast();
            if coding == "gzip" {
                let mut e = GzEncoder::new(Vec::new(), level);
                let _ = e.write_all(data);
                e.finish().unwrap_or_default()
            } else {
                let mut e = ZlibEncoder::new(Vec::new(), level);
                let _ = e.write_all(data);
                e.finish().unwrap_or_default()
            }
        };
        thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(s, work)
            .ok()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    })
    .into();
    let mut cache = lock(&CACHE);
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.push((coding, data.len(), body.clone()));
    body
}

/// `/gzip`, `/deflate`: [`JSON_DOC`], compressed when the client accepts it.
fn compressed(req: &Req, coding: &str, out: &mut Vec<u8>) -> Action {
    let accepts = req_header(req, "accept-encoding").is_some_and(|v| {
        v.split(|&b| b == b',').any(|c| {
            let c = c.split(|&b| b == b';').next().unwrap_or_default();
            c.trim_ascii().eq_ignore_ascii_case(coding.as_bytes())
        })
    });
    if !accepts {
        return respond(out, req.ctx, 200, JSON, &[], JSON_DOC.as_bytes(), false);
    }
    let coding = if coding == "gzip" { "gzip" } else { "deflate" };
    let body = compress(coding, JSON_DOC.as_bytes());
    let extra = format!("Content-Encoding: {coding}\r\nVary: Accept-Encoding\r\n");
    respond(out, req.ctx, 200, JSON, extra.as_bytes(), &body, false)
}

/// `/multipart`: the parts of a `multipart/form-data` body, as JSON.
fn multipart(req: &Req, out: &mut Vec<u8>) -> Action {
    match parse_multipart(req) {
        Some(doc) => json(out, req.ctx, 200, &doc),
        None => bad_request(out, req.ctx),
    }
}

fn parse_multipart(req: &Req) -> Option<serde_json::Value> {
    use serde_json::{json, Map, Value};
    let ct = std::str::from_utf8(req_header(req, "content-type")?).ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let boundary = params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
    })?;
    let delim = format!("--{boundary}").into_bytes();
    let body = req.body;
    let mut at = find(body, &delim, 0)?;
    let (mut fields, mut files) = (Map::new(), Vec::new());
    loop {
        let after = at + delim.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        let start = after + 2; // CRLF after the delimiter
        if !body[after..].starts_with(b"\r\n") {
            return None;
        }
        let next = find(body, &[b"\r\n", &delim[..]].concat(), start)?;
        let part = &body[start..next];
        let head_end = find(part, b"\r\n\r\n", 0)?;
        let (mut name, mut filename, mut ctype) = (None, None, None);
        for line in part[..head_end].split(|&b| b == b'\n') {
            let line = std::str::from_utf8(line).ok()?.trim();
            let (n, v) = line.split_once(':')?;
            if n.trim().eq_ignore_ascii_case("content-type") {
                ctype = Some(v.trim().to_string());
            } else if n.trim().eq_ignore_ascii_case("content-disposition") {
                for p in v.split(';').skip(1) {
                    let (k, v) = p.split_once('=')?;
                    let v = v.trim().trim_matches('"').to_string();
                    match k.trim() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        }
        let content = &part[head_end + 4..];
        let name = name?;
        match filename {
            Some(f) => files.push(json!({
                "field": name,
                "filename": f,
                "content_type": ctype,
                "size": content.len(),
                "hex": content.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            })),
            None => {
                fields.insert(name, Value::from(String::from_utf8_lossy(content)));
            }
        }
        at = next + 2;
    }
    Some(json!({"fields": fields, "files": files}))
}

/// Where `needle` first occurs in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `/echo`: describes the request as JSON.
fn echo(req: &Req, out: &mut Vec<u8>) -> Action {
    use serde_json::{Map, Value};
    let mut query = Map::new();
    if let Some(i) = req.target.iter().position(|&b| b == b'?') {
        for pair in req.target[i + 1..].split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            query.insert(percent_decode(k), Value::String(percent_decode(v)));
        }
    }
    let mut headers = Map::new();
    for line in head_lines(req.head).skip(1) {
        let Some((name, value)) = split_header(line) else {
            continue;
        };
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value);
        match headers.get_mut(&name) {
            Some(Value::String(old)) => {
                old.push_str(", ");
                old.push_str(&value);
            }
            _ => {
                headers.insert(name, Value::String(value.into_owned()));
            }
        }
    }
    let doc = serde_json::json!({
        "method": String::from_utf8_lossy(req.method),
        "path": String::from_utf8_lossy(req.target),
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(req.body),
    });
    json(out, req.ctx, 200, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// A parsed response as a test client sees it.
    #[derive(Debug)]
    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Resp {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn text(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }

        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// A hand-written HTTP/1.1 client over one connection.
    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
    }

    impl Conn {
        fn open(server: &DemoServer) -> Conn {
            let stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream.set_write_timeout(Some(TIMEOUT)).unwrap();
            Conn {
                stream,
                buf: Vec::new(),
            }
        }

        fn send(&mut self, raw: &[u8]) {
            self.stream.write_all(raw).unwrap();
        }

        fn get(&mut self, path: &str) -> Resp {
            self.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
            self.read_response(false).expect("a response")
        }

        /// More bytes into `buf`; false on EOF or error.
        fn more(&mut self) -> bool {
            let mut tmp = [0u8; 8192];
            match self.stream.read(&mut tmp) {
                Ok(0) | Err(_) => false,
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    true
                }
            }
        }

        fn line(&mut self) -> Option<String> {
            loop {
                if let Some(i) = find_crlf(&self.buf) {
                    let line = String::from_utf8(self.buf[..i].to_vec()).unwrap();
                    self.buf.drain(..i + 2);
                    return Some(line);
                }
                if !self.more() {
                    return None;
                }
            }
        }

        fn take(&mut self, n: usize) -> Option<Vec<u8>> {
            while self.buf.len() < n {
                if !self.more() {
                    return None;
                }
            }
            Some(self.buf.drain(..n).collect())
        }

        /// Reads one response; `None` if the connection closed before a status line.
        fn read_response(&mut self, head_only: bool) -> Option<Resp> {
            let status_line = self.line()?;
            let mut parts = status_line.splitn(3, ' ');
            assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
            let status: u16 = parts.next().unwrap().parse().unwrap();
            let mut headers = Vec::new();
            loop {
                let line = self.line().expect("header line");
                if line.is_empty() {
                    break;
                }
                let (n, v) = line.split_once(':').unwrap();
                headers.push((n.to_string(), v.trim().to_string()));
            }
            let mut resp = Resp {
                status,
                headers,
                body: Vec::new(),
            };
            if head_only || status == 204 || status == 304 || status < 200 {
                return Some(resp);
            }
            if resp.header("transfer-encoding") == Some("chunked") {
                loop {
                    let size = usize::from_str_radix(&self.line().unwrap(), 16).unwrap();
                    if size == 0 {
                        assert_eq!(self.line().unwrap(), "");
                        break;
                    }
                    let data = self.take(size + 2).unwrap();
                    resp.body.extend_from_slice(&data[..size]);
                }
            } else {
                let len: usize = resp
                    .header("content-length")
                    .expect("length")
                    .parse()
                    .unwrap();
                resp.body = self.take(len).expect("full body");
            }
            Some(resp)
        }

        /// True once the server closed the connection (EOF or reset).
        fn closed(&mut self) -> bool {
            let mut tmp = [0u8; 64];
            match self.stream.read(&mut tmp) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            }
        }
    }

    fn get(server: &DemoServer, path: &str) -> Resp {
        Conn::open(server).get(path)
    }

    fn wait_for(cond: impl Fn() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !cond() {
            assert!(Instant::now() < deadline, "condition not met in time");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn ok_and_json() {
        let server = DemoServer::start(0).unwrap();
        assert!(server.base_url().starts_with("http://127.0.0.1:"));
        assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
        let r = get(&server, "/ok");
        assert_eq!((r.status, r.text()), (200, "ok"));
        assert_eq!(r.header("content-length"), Some("2"));
        let r = get(&server, "/json");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc = r.json();
        assert_eq!(doc["count"], 2);
        assert_eq!(doc["items"][1]["name"], "beta");
        assert_eq!(doc["nested"]["flag"], true);
        let r = get(&server, "/nope");
        assert_eq!((r.status, r.text()), (404, "not found"));
    }

    #[test]
    fn keep_alive_and_counts() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        for _ in 0..5 {
            assert_eq!(c.get("/ok").status, 200);
        }
        assert_eq!(c.get("/ok?x=1&y=2").status, 200);
        assert_eq!(c.get("/json").status, 200);
        assert_eq!(c.get("/status/418").status, 418);
        assert_eq!(c.get("/status/418").status, 418);
        assert_eq!(c.get("/missing").status, 404);
        assert_eq!(server.connections(), 1);
        assert_eq!(server.hits("/ok"), 6);
        assert_eq!(server.hits("/json"), 1);
        assert_eq!(server.hits("/status/418"), 2);
        assert_eq!(server.hits("/missing"), 1);
        assert_eq!(server.hits("/never"), 0);
        assert_eq!(server.total_requests(), 10);
    }

    #[test]
    fn pipelined_requests_and_head() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        c.send(b"GET /ok HTTP/1.1\r\n\r\nGET /status/201 HTTP/1.1\r\n\r\nHEAD /bytes/10 HTTP/1.1\r\n\r\nGET /json HTTP/1.1\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().text(), "ok");
        assert_eq!(c.read_response(false).unwrap().status, 201);
        let head = c.read_response(true).unwrap();
        assert_eq!(head.header("content-length"), Some("10"));
        // Had HEAD sent a body, this would not parse as the /json response.
        assert_eq!(c.read_response(false).unwrap().json()["count"], 2);
        assert_eq!(server.connections(), 1);
    }

    #[test]
    fn status_codes() {
        let server = DemoServer::start(0).unwrap();
        for code in [200, 201, 302, 404, 418, 429, 500, 503, 599] {
            let r = get(&server, &format!("/status/{code}"));
            assert_eq!(r.status, code);
            assert_eq!(r.text(), format!("status {code}"));
        }
        let mut c = Conn::open(&server);
        let r = c.get("/status/204");
        assert_eq!((r.status, r.body.len()), (204, 0));
        assert_eq!(c.get("/ok").text(), "ok");
        for bad in ["/status/99", "/status/600", "/status/abc", "/status/"] {
            assert_eq!(get(&server, bad).status, 400, "{bad}");
        }
    }

    #[test]
    fn slow_waits() {
        let server = DemoServer::start(0).unwrap();
        let t = Instant::now();
        let r = get(&server, "/slow/150");
        assert!(t.elapsed() >= Duration::from_millis(150));
        assert_eq!((r.status, r.text()), (200, "slow"));
        assert_eq!(get(&server, "/slow/x").status, 400);
    }

    #[test]
    fn flaky_per_key() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        let seq: Vec<u16> = (0..4).map(|_| c.get("/flaky/a/2").status).collect();
        assert_eq!(seq, [503, 503, 200, 200]);
        assert_eq!(c.get("/flaky/a/2").text(), "recovered");
        assert_eq!(c.get("/flaky/b/1").status, 503);
        assert_eq!(c.get("/flaky/b/1").status, 200);
        assert_eq!(c.get("/flaky/c/0").status, 200);
        assert_eq!(c.get("/flaky//1").status, 400);
        let seq: Vec<u16> = (0..4).map(|_| c.get("/fail-after/z/2").status).collect();
        assert_eq!(seq, vec![200, 200, 503, 503]);
        assert_eq!(server.hits("/flaky/a/2"), 5);
        // Keys are per server.
        let other = DemoServer::start(0).unwrap();
        assert_eq!(get(&other, "/flaky/a/2").status, 503);
    }

    #[test]
    fn reset_drops_connection_first_n_times() {
        let server = DemoServer::start(0).unwrap();
        for _ in 0..2 {
            let mut c = Conn::open(&server);
            c.send(b"GET /reset/k/2 HTTP/1.1\r\n\r\n");
            assert!(c.read_response(false).is_none(), "expected no response");
        }
        let r = get(&server, "/reset/k/2");
        assert_eq!((r.status, r.text()), (200, "ok"));
        // Another key starts over.
        let mut c = Conn::open(&server);
        c.send(b"GET /reset/other/1 HTTP/1.1\r\n\r\n");
        assert!(c.read_response(false).is_none());
        assert_eq!(server.hits("/reset/k/2"), 3);
    }

    #[test]
    fn retry_after_sequence() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        for _ in 0..2 {
            let r = c.get("/retry-after/k/2/3");
            assert_eq!(r.status, 429);
            assert_eq!(r.header("retry-after"), Some("3"));
        }
        let r = c.get("/retry-after/k/2/3");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("retry-after"), None);
        assert_eq!(c.get("/retry-after/j/1/0").header("retry-after"), Some("0"));
        assert_eq!(c.get("/retry-after/k/2").status, 400);
        // Separate counters from /flaky.
        assert_eq!(c.get("/flaky/k/1").status, 503);
    }

    #[test]
    fn echo_reports_request() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        c.send(
            b"POST /echo?a=1&b=x%20y&c HTTP/1.1\r\nHost: t\r\nX-Test: Hello\r\nx-test: again\r\n\
              Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"name\":\"n\"}\n",
        );
        let r = c.read_response(false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let doc = r.json();
        assert_eq!(doc["method"], "POST");
        assert_eq!(doc["path"], "/echo?a=1&b=x%20y&c");
        assert_eq!(
            doc["query"],
            serde_json::json!({"a": "1", "b": "x y", "c": ""})
        );
        assert_eq!(doc["headers"]["x-test"], "Hello, again");
        assert_eq!(doc["headers"]["content-type"], "application/json");
        assert_eq!(doc["body"], "{\"name\":\"n\"}\n");
        // Chunked request body, then a plain GET on the same connection.
        c.send(
            b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
        );
        let doc = c.read_response(false).unwrap().json();
        assert_eq!(
            (doc["method"].as_str(), doc["body"].as_str()),
            (Some("PUT"), Some("hello, world"))
        );
        let doc = c.get("/echo").json();
        assert_eq!(
            (doc["method"].as_str(), doc["body"].as_str()),
            (Some("GET"), Some(""))
        );
        assert_eq!(server.connections(), 1);
        assert_eq!(server.hits("/echo"), 3);
    }

    #[test]
    fn expect_continue() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        c.send(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        let interim = c.read_response(false).unwrap();
        assert_eq!(interim.status, 100);
        c.send(b"data");
        let r = c.read_response(false).unwrap();
        assert_eq!(r.json()["body"], "data");
    }

    #[test]
    fn tokens_are_single_use() {
        let server = DemoServer::start(0).unwrap();
        let t1 = get(&server, "/token").json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        let t2 = get(&server, "/token").json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(t1, t2);
        assert!(t1.starts_with("tok-"));
        let mut c = Conn::open(&server);
        assert_eq!(c.get(&format!("/use/{t1}")).status, 200);
        assert_eq!(c.get(&format!("/use/{t1}")).status, 409);
        assert_eq!(c.get(&format!("/use/{t2}")).status, 200);
        assert_eq!(c.get("/use/tok-999999999999").status, 404);
        assert_eq!(c.get("/use/garbage").status, 404);
        // A token issued by another server is unknown here.
        let other = DemoServer::start(0).unwrap();
        let t3 = get(&other, "/token").json()["token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(c.get(&format!("/use/{t3}")).status, 404);
    }

    #[test]
    fn bytes_and_chunked() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        let r = c.get("/bytes/1000");
        assert_eq!(r.body.len(), 1000);
        assert!(r.body.iter().all(|&b| b == b'x'));
        assert_eq!(c.get("/bytes/0").body.len(), 0);
        let r = c.get("/bytes/20000000");
        assert_eq!(r.body.len(), MAX_BYTES);
        let r = c.get("/chunked");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert_eq!(r.text(), CHUNKED_BODY);
        assert_eq!(c.get("/ok").text(), "ok");
        assert_eq!(server.connections(), 1);
    }

    #[test]
    fn connection_close_and_http10() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        c.send(b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n");
        let r = c.read_response(false).unwrap();
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed());

        let mut c = Conn::open(&server);
        c.send(b"GET /ok HTTP/1.0\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().text(), "ok");
        assert!(c.closed());

        let mut c = Conn::open(&server);
        c.send(b"GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read_response(false).unwrap();
        assert_eq!(r.header("connection"), Some("keep-alive"));
        assert_eq!(r.text(), CHUNKED_BODY);
        c.send(b"GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().text(), "ok");
    }

    #[test]
    fn garbage_gets_400_and_close() {
        let server = DemoServer::start(0).unwrap();
        let cases: [&[u8]; 9] = [
            b"GARBAGE\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /ok\r\n\r\n",
            b"GET /ok HTTP/1.1 extra\r\n\r\n",
            b"G(T /ok HTTP/1.1\r\n\r\n",
            b"GET ok HTTP/1.1\r\n\r\n",
            b"GET /ok HTTP/1.1\r\nNo colon here\r\n\r\n",
            b"GET /ok HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            b"\x00\xff\xfe GET / \x01\r\n\r\n",
        ];
        for raw in cases {
            let mut c = Conn::open(&server);
            c.send(raw);
            let r = c.read_response(false).expect("a 400");
            assert_eq!(r.status, 400, "{raw:?}");
            assert_eq!(r.header("connection"), Some("close"));
            assert!(c.closed());
        }
        let mut c = Conn::open(&server);
        c.send(b"GET /ok HTTP/2.0\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().status, 505);
        let mut c = Conn::open(&server);
        c.send(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().status, 501);
        let mut c = Conn::open(&server);
        c.send(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        assert_eq!(c.read_response(false).unwrap().status, 400);
        // Incomplete request, then half-close.
        let mut c = Conn::open(&server);
        c.send(b"GET /ok HTT");
        c.stream.shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read_response(false).unwrap().status, 400);

        // Pseudo-random bytes: whatever happens, the server keeps serving.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..50 {
            let mut raw = Vec::new();
            for _ in 0..200 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                raw.push(seed as u8);
            }
            raw.extend_from_slice(b"\r\n\r\n");
            let mut c = Conn::open(&server);
            c.send(&raw);
            let _ = c.stream.shutdown(Shutdown::Write);
            if let Some(r) = c.read_response(false) {
                assert!(r.status >= 400, "{}", r.status);
            }
        }
        assert_eq!(get(&server, "/ok").text(), "ok");
    }

    #[test]
    fn oversized_requests_are_refused() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        let mut raw = b"GET /ok HTTP/1.1\r\nX-Big: ".to_vec();
        raw.resize(raw.len() + MAX_HEAD, b'a');
        raw.extend_from_slice(b"\r\n\r\n");
        // The server may answer and close before reading everything.
        let _ = c.stream.write_all(&raw);
        assert_eq!(c.read_response(false).unwrap().status, 431);

        let mut c = Conn::open(&server);
        let mut raw = b"GET /ok HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            raw.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        c.send(&raw);
        assert_eq!(c.read_response(false).unwrap().status, 431);

        let mut c = Conn::open(&server);
        c.send(b"POST /echo HTTP/1.1\r\nContent-Length: 10485761\r\n\r\n");
        assert_eq!(c.read_response(false).unwrap().status, 413);
        assert_eq!(get(&server, "/ok").status, 200);
    }

    #[test]
    fn stop_is_prompt_with_hanging_connection() {
        let server = DemoServer::start(0).unwrap();
        let addr = server.addr();
        let mut hanging = Conn::open(&server);
        hanging.send(b"GET /hang HTTP/1.1\r\n\r\n");
        let mut idle = Conn::open(&server);
        assert_eq!(idle.get("/ok").status, 200);
        wait_for(|| server.hits("/hang") == 1);
        let t = Instant::now();
        server.stop();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert!(hanging.read_response(false).is_none());
        assert!(idle.closed());
        assert!(TcpStream::connect(addr).is_err(), "still accepting");
    }

    #[test]
    fn hang_ends_when_client_closes() {
        let server = DemoServer::start(0).unwrap();
        let mut c = Conn::open(&server);
        c.send(b"GET /hang HTTP/1.1\r\n\r\n");
        wait_for(|| server.hits("/hang") == 1);
        c.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(!c.closed(), "no answer expected");
        drop(c);
        wait_for(|| server.shared.active.load(Ordering::SeqCst) == 0);
    }

    #[test]
    fn drop_stops_server() {
        let server = DemoServer::start(0).unwrap();
        let addr = server.addr();
        assert_eq!(get(&server, "/ok").status, 200);
        drop(server);
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn many_concurrent_keep_alive_connections() {
        let server = DemoServer::start(0).unwrap();
        thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let mut c = Conn::open(&server);
                    for _ in 0..200 {
                        assert_eq!(c.get("/ok").status, 200);
                    }
                });
            }
        });
        assert_eq!(server.hits("/ok"), 1600);
        assert_eq!(server.total_requests(), 1600);
        assert_eq!(server.connections(), 8);
    }

    #[test]
    fn head_parser_units() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r", 0), None);
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n", 0), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n", 15), Some(18));
        assert_eq!(find_head_end(b"\n\n\n\n", 0), None);
        let m = parse_head(b"GET http://h:1/p?q HTTP/1.1\r\nContent-Length: 3\r\n\r\n").unwrap();
        assert_eq!(&b"GET http://h:1/p?q"[m.target.0..m.target.1], b"/p?q");
        assert_eq!(m.content_length, Some(3));
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(400)
        );
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n folded\r\n\r\n"), Err(400));
        assert_eq!(percent_decode(b"a%2Fb+c%zz%"), "a/b c%zz%");
        assert_eq!(parse_hex(b"1aF"), Some(0x1af));
        assert_eq!(parse_hex(b""), None);
    }
}
