//! Sans-IO HTTP/1.1 for the client side: [`write_request`] builds a request,
//! [`ResponseReader`] parses a response from whatever pieces the connection
//! delivers. No I/O happens here: the pool's sessions (`session.rs`) drive it
//! over non-blocking sockets, plain or under TLS.

use super::proxy::Proxy;
use super::{ClientConfig, HttpError, Method, Request};

/// Bodies up to this size are copied behind the head by [`write_request`]
/// (one write); a larger one is left out, to save the copy, and written by the
/// caller after the head ([`separate_body`]).
pub(crate) const INLINE_BODY_MAX: usize = 16 * 1024;
/// Cap on one response head: status line, headers and the blank line.
const MAX_HEAD: usize = 64 * 1024;
/// Cap on one chunk-size or trailer line.
const MAX_LINE: usize = 8 * 1024;
/// Cap on the total size of chunked trailers.
const MAX_TRAILERS: usize = 64 * 1024;
/// Cap on 1xx interim responses before the final one.
const MAX_INTERIM: usize = 16;

fn protocol(msg: &str) -> HttpError {
    HttpError::Protocol(msg.to_string())
}

/// Writes `req` as HTTP/1.1 into `out` (cleared first): the request head, then
/// the body if it is at most [`INLINE_BODY_MAX`] bytes. A larger body is left
/// out, for the caller to write after `out` ([`separate_body`]). Returns
/// whether the request's own headers ask for `Connection: close`.
///
/// `proxy`: the request goes to this forward proxy as it is (an `http://`
/// one): the target is written in absolute form, with the proxy's
/// `Proxy-Authorization`.
pub(crate) fn write_request(
    cfg: &ClientConfig,
    req: &Request<'_>,
    proxy: Option<&Proxy>,
    out: &mut Vec<u8>,
) -> Result<bool, HttpError> {
    out.clear();
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    if proxy.is_some() {
        out.extend_from_slice(b"http://");
        push_authority(out, req.url);
    }
    out.extend_from_slice(req.url.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(auth) = proxy.and_then(|p| p.authorization.as_deref()) {
        out.extend_from_slice(b"Proxy-Authorization: ");
        out.extend_from_slice(auth.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let (mut has_host, mut has_ua, mut has_ae, mut close) = (false, false, false, false);
    for (name, value) in req.headers {
        if name.eq_ignore_ascii_case("host") {
            has_host = true;
        } else if name.eq_ignore_ascii_case("user-agent") {
            has_ua = true;
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            has_ae = true;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= has_token(value, "close");
        }
    }
    if !has_host {
        out.extend_from_slice(b"Host: ");
        push_authority(out, req.url);
        out.extend_from_slice(b"\r\n");
    }
    if !has_ua && !cfg.user_agent.is_empty() {
        out.extend_from_slice(b"User-Agent: ");
        out.extend_from_slice(cfg.user_agent.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_ae {
        out.extend_from_slice(b"Accept-Encoding: ");
        out.extend_from_slice(super::encoding::ACCEPT_ENCODING.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !req.body.is_empty() || matches!(req.method, Method::Post | Method::Put | Method::Patch) {
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, req.body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in req.headers {
        // Message framing is always the client's own.
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        check_header(name, value)?;
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if req.body.len() <= INLINE_BODY_MAX {
        out.extend_from_slice(req.body);
    }
    Ok(close)
}

/// `host[:port]` of `url` as a `Host` header gives it (the port only when it
/// is not the scheme's default).
fn push_authority(out: &mut Vec<u8>, url: &super::Url) {
    if url.is_ipv6() {
        out.push(b'[');
        out.extend_from_slice(url.host.as_bytes());
        out.push(b']');
    } else {
        out.extend_from_slice(url.host.as_bytes());
    }
    if !url.is_default_port() {
        out.push(b':');
        push_decimal(out, u64::from(url.port));
    }
}

/// A `CONNECT` request opening a tunnel through `proxy` to `host:port`.
pub(crate) fn write_connect(proxy: &Proxy, host: &str, port: u16, out: &mut Vec<u8>) {
    let target = Proxy::authority(host, port);
    out.clear();
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(auth) = &proxy.authorization {
        out.extend_from_slice(b"Proxy-Authorization: ");
        out.extend_from_slice(auth.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The body [`write_request`] left out of its output (one larger than
/// [`INLINE_BODY_MAX`]): the caller writes it right after the head.
pub(crate) fn separate_body<'a>(req: &Request<'a>) -> Option<&'a [u8]> {
    (req.body.len() > INLINE_BODY_MAX).then_some(req.body)
}

/// What a [`ResponseReader`] needs next, or the finished response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The response is not complete: feed more bytes, or report EOF.
    NeedMore,
    /// The response is complete. `keep_alive`: the response lets the
    /// connection carry another request (the caller still rules it out for
    /// bytes left over after the response, or for its own `Connection: close`).
    Done { status: u16, keep_alive: bool },
}

/// Where a [`ResponseReader`] is in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No response expected: before [`ResponseReader::start`], after an error.
    Idle,
    /// A head (interim or final). `stored`: its first bytes arrived in an
    /// earlier `feed` and wait in the caller's `head` buffer.
    Head { stored: bool },
    /// A `Content-Length` body: this many bytes (> 0) still to come.
    Length(u64),
    /// A body that ends when the connection does.
    ToEof,
    /// Chunked: a chunk-size line.
    ChunkSize,
    /// Chunked: this many bytes (> 0) of the current chunk still to come.
    ChunkData(u64),
    /// Chunked: the line end after chunk data; `cr`: its CR has arrived.
    ChunkEnd { cr: bool },
    /// Chunked: trailer lines, `total` bytes of them so far.
    Trailers { total: usize },
    /// The response is complete.
    Done { keep_alive: bool },
}

/// Incremental parser of one response at a time, fed whatever bytes the
/// connection gives, in pieces of any size, with the same result however the
/// bytes are cut. Single pass: a later `feed` never scans earlier bytes again,
/// except that a head split across feeds is parsed once, whole, when its end
/// has arrived (the search for that end resumes where the last one stopped).
/// Allocation-free once its buffers have grown.
///
/// 1xx interim responses are skipped (at most [`MAX_INTERIM`]; 101 is an
/// error). Bodies: none for HEAD, 204 and 304; `Transfer-Encoding` whose last
/// coding is `chunked` (extensions ignored, trailers read and dropped); other
/// `Transfer-Encoding`, or no length at all: up to EOF; else `Content-Length`.
pub(crate) struct ResponseReader {
    state: State,
    head_request: bool,
    /// Final status, once its head is parsed.
    status: u16,
    /// Whether the final head allows keep-alive (HTTP/1.1 unless `Connection:
    /// close`; HTTP/1.0 only with `Connection: keep-alive`).
    keep_alive: bool,
    interim: usize,
    got_any: bool,
    /// The final head has a `Content-Encoding` header.
    encoded: bool,
    /// A chunk-size or trailer line split across feeds (empty otherwise).
    line: Vec<u8>,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader::new()
    }
}

impl ResponseReader {
    /// A reader expecting no response yet ([`start`](Self::start) one).
    pub fn new() -> Self {
        ResponseReader {
            state: State::Idle,
            head_request: false,
            status: 0,
            keep_alive: false,
            interim: 0,
            got_any: false,
            encoded: false,
            line: Vec::new(),
        }
    }

    /// Begins a response to a request (`head_request`: the method was HEAD, so
    /// no body). Forgets anything of an earlier response.
    pub fn start(&mut self, head_request: bool) {
        self.state = State::Head { stored: false };
        self.head_request = head_request;
        self.status = 0;
        self.keep_alive = false;
        self.interim = 0;
        self.got_any = false;
        self.encoded = false;
        self.line.clear();
    }

    /// Consumes bytes the connection gave. The final response's header lines
    /// (after the status line, raw, line ends included) end up in `head`, its
    /// body, de-chunked, in `body`. The reader clears both before it writes
    /// to them; pass the same two buffers to every `feed` of one response
    /// (`head` also holds a head split across feeds until it is complete).
    ///
    /// Returns how many bytes were consumed, and the step. Every byte is
    /// consumed unless the response completes: bytes after it are left (we
    /// never pipeline, so they mean the connection is not reusable). Once
    /// `Done`, further feeds consume nothing and return `Done` again. After an
    /// error the reader expects nothing until the next [`start`](Self::start).
    pub fn feed(
        &mut self,
        input: &[u8],
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<(usize, Step), HttpError> {
        let res = self.advance(input, head, body);
        if res.is_err() {
            self.state = State::Idle;
        }
        res.map(|used| (used, self.step()))
    }

    /// The peer closed the connection: a body delimited by the close is
    /// complete (not keep-alive); anything else unfinished is
    /// [`HttpError::ClosedEarly`].
    pub fn eof(&mut self) -> Result<Step, HttpError> {
        match self.state {
            State::ToEof => self.state = State::Done { keep_alive: false },
            State::Done { .. } => {}
            _ => {
                self.state = State::Idle;
                return Err(HttpError::ClosedEarly);
            }
        }
        Ok(self.step())
    }

    /// Whether any byte of this response arrived. (A reused keep-alive
    /// connection that fails before any byte was most likely closed by the
    /// server while idle.)
    pub fn got_any(&self) -> bool {
        self.got_any
    }

    /// Whether the final response's head has a `Content-Encoding` header
    /// (its body may need decoding before anything reads it).
    pub fn encoded(&self) -> bool {
        self.encoded
    }

    /// How many of the next bytes are plain body bytes, no framing among them:
    /// the rest of a `Content-Length` body or of the current chunk, `u64::MAX`
    /// for a body that runs to EOF, else 0. A caller may read up to that many
    /// bytes straight onto the end of `body` and report them with
    /// [`direct_body_read`](Self::direct_body_read) instead of feeding them,
    /// which saves a copy for large bodies.
    pub fn direct_body_len(&self) -> u64 {
        match self.state {
            State::Length(n) | State::ChunkData(n) => n,
            State::ToEof => u64::MAX,
            _ => 0,
        }
    }

    /// `n` body bytes (at most [`direct_body_len`](Self::direct_body_len))
    /// were read straight onto the end of `body`.
    pub fn direct_body_read(&mut self, n: usize) -> Step {
        debug_assert!(n as u64 <= self.direct_body_len());
        if n > 0 {
            self.got_any = true;
            self.body_taken(n as u64);
        }
        self.step()
    }

    fn step(&self) -> Step {
        match self.state {
            State::Done { keep_alive } => Step::Done {
                status: self.status,
                keep_alive,
            },
            _ => Step::NeedMore,
        }
    }

    /// Consumes what it can of `input`; returns how much.
    fn advance(
        &mut self,
        input: &[u8],
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<usize, HttpError> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            match self.state {
                State::Idle => return Err(protocol("response bytes with no request outstanding")),
                State::Done { .. } => break,
                State::Head { stored } => {
                    self.got_any = true;
                    pos += self.head_bytes(rest, stored, head, body)?;
                }
                State::Length(n) | State::ChunkData(n) => {
                    let take = usize::try_from(n).map_or(rest.len(), |n| n.min(rest.len()));
                    body.extend_from_slice(&rest[..take]);
                    pos += take;
                    self.body_taken(take as u64);
                }
                State::ToEof => {
                    body.extend_from_slice(rest);
                    pos = input.len();
                }
                State::ChunkSize => {
                    let (used, line) = take_line(&mut self.line, rest)?;
                    pos += used;
                    let Some(line) = line else { continue };
                    let size = parse_chunk_size(line)?;
                    self.line.clear();
                    self.state = match size {
                        0 => State::Trailers { total: 0 },
                        n => State::ChunkData(n),
                    };
                }
                State::ChunkEnd { cr } => {
                    pos += 1;
                    self.state = match (cr, rest[0]) {
                        (_, b'\n') => State::ChunkSize,
                        (false, b'\r') => State::ChunkEnd { cr: true },
                        _ => return Err(protocol("missing CRLF after chunk data")),
                    };
                }
                State::Trailers { total } => {
                    let (used, line) = take_line(&mut self.line, rest)?;
                    pos += used;
                    let Some(line) = line else { continue };
                    let len = line.len();
                    self.line.clear();
                    self.state = if len == 0 {
                        State::Done {
                            keep_alive: self.keep_alive,
                        }
                    } else {
                        let total = total + len + 2;
                        if total > MAX_TRAILERS {
                            return Err(protocol("chunked trailers exceed 64 KiB"));
                        }
                        State::Trailers { total }
                    };
                }
            }
        }
        Ok(pos)
    }

    /// `n` bytes of a `Content-Length` body or of a chunk arrived.
    fn body_taken(&mut self, n: u64) {
        self.state = match self.state {
            State::Length(left) if left == n => State::Done {
                keep_alive: self.keep_alive,
            },
            State::Length(left) => State::Length(left - n),
            State::ChunkData(left) if left == n => State::ChunkEnd { cr: false },
            State::ChunkData(left) => State::ChunkData(left - n),
            other => other,
        };
    }

    /// Consumes head bytes from `rest` (non-empty); returns how many.
    ///
    /// Fast path: the whole head is in `rest`; it is parsed in place and only
    /// its header lines are copied to `head`. Otherwise the head collects in
    /// `head` (up to [`MAX_HEAD`]) and its end is searched for from where the
    /// previous search stopped.
    fn head_bytes(
        &mut self,
        rest: &[u8],
        stored: bool,
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<usize, HttpError> {
        if !stored {
            let window = &rest[..rest.len().min(MAX_HEAD)];
            if let Some(len) = find_head_end(window, 0) {
                let raw = &window[..len];
                let h = parse_head(raw)?;
                if self.is_final(&h)? {
                    head.clear();
                    head.extend_from_slice(&raw[h.lines.0..h.lines.1]);
                    self.begin_body(&h, body);
                }
                return Ok(len);
            }
            if window.len() == MAX_HEAD {
                return Err(protocol("response head exceeds 64 KiB"));
            }
            head.clear();
            head.extend_from_slice(window);
            self.state = State::Head { stored: true };
            return Ok(window.len());
        }
        let old = head.len();
        let take = rest.len().min(MAX_HEAD.saturating_sub(old));
        head.extend_from_slice(&rest[..take]);
        // A terminator cut by the previous feed starts at most 2 bytes back.
        let Some(len) = find_head_end(head, old.saturating_sub(2)) else {
            if head.len() >= MAX_HEAD {
                return Err(protocol("response head exceeds 64 KiB"));
            }
            return Ok(take);
        };
        head.truncate(len);
        let h = parse_head(head)?;
        if self.is_final(&h)? {
            head.copy_within(h.lines.0..h.lines.1, 0);
            head.truncate(h.lines.1 - h.lines.0);
            self.begin_body(&h, body);
        } else {
            head.clear();
        }
        Ok(len - old)
    }

    /// Whether a parsed head is the final one; an interim (1xx) one is
    /// skipped: the next head is awaited.
    fn is_final(&mut self, h: &Head) -> Result<bool, HttpError> {
        if !(100..200).contains(&h.status) {
            return Ok(true);
        }
        if h.status == 101 {
            return Err(protocol("unexpected 101 Switching Protocols"));
        }
        self.interim += 1;
        if self.interim > MAX_INTERIM {
            return Err(protocol("too many 1xx interim responses"));
        }
        self.state = State::Head { stored: false };
        Ok(false)
    }

    /// After the final head: how its body is framed.
    fn begin_body(&mut self, h: &Head, body: &mut Vec<u8>) {
        body.clear();
        self.status = h.status;
        self.encoded = h.encoded;
        self.keep_alive = if h.minor >= 1 {
            !h.conn_close
        } else {
            h.conn_keep_alive && !h.conn_close
        };
        let done = State::Done {
            keep_alive: self.keep_alive,
        };
        self.state = if self.head_request || h.status == 204 || h.status == 304 {
            done
        } else if h.te {
            if h.chunked {
                State::ChunkSize
            } else {
                State::ToEof
            }
        } else {
            match h.content_length {
                Some(0) => done,
                Some(n) => State::Length(n),
                None => State::ToEof,
            }
        };
    }
}

/// Takes one chunk-size or trailer line from `rest`, continuing `partial` (its
/// start, from earlier feeds). Returns the bytes used and, once the line is
/// complete, the line without its line end (`partial` then holds it unless it
/// was all in `rest`); an incomplete line is added to `partial`. A line whose
/// content reaches [`MAX_LINE`] bytes is an error however it arrives.
fn take_line<'a>(
    partial: &'a mut Vec<u8>,
    rest: &'a [u8],
) -> Result<(usize, Option<&'a [u8]>), HttpError> {
    let room = MAX_LINE - partial.len();
    let window = &rest[..rest.len().min(room)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) if partial.is_empty() => Ok((i + 1, Some(trim_cr(&rest[..i])))),
        Some(i) => {
            partial.extend_from_slice(&rest[..i]);
            Ok((i + 1, Some(trim_cr(partial))))
        }
        None if window.len() == room => Err(protocol("chunk-size or trailer line too long")),
        None => {
            partial.extend_from_slice(window);
            Ok((window.len(), None))
        }
    }
}

/// Finds the end of a head: the first empty line. `from` is where the previous
/// search stopped (minus overlap). Returns the length including the blank line.
fn find_head_end(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < data.len() {
        let nl = i + data[i..].iter().position(|&b| b == b'\n')?;
        match data.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') => match data.get(nl + 2) {
                Some(b'\n') => return Some(nl + 3),
                Some(_) => {}
                None => return None,
            },
            Some(_) => {}
            None => return None,
        }
        i = nl + 1;
    }
    None
}

/// Parses a chunk-size line (`1a;ext=1`).
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let digits = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    };
    let digits = digits.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(protocol("bad chunk size"));
    }
    let mut n: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return Err(protocol("bad chunk size")),
        };
        n = n * 16 + u64::from(d);
    }
    Ok(n)
}

/// What a response head says.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    minor: u8,
    /// Header lines (after the status line), relative to the head start.
    lines: (usize, usize),
    content_length: Option<u64>,
    /// A `Transfer-Encoding` header was present.
    te: bool,
    /// Its last coding is `chunked`.
    chunked: bool,
    conn_close: bool,
    conn_keep_alive: bool,
    /// A `Content-Encoding` header was present.
    encoded: bool,
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses a complete head (as found by [`find_head_end`]).
fn parse_head(data: &[u8]) -> Result<Head, HttpError> {
    let nl = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| protocol("no status line"))?;
    let status_line = trim_cr(&data[..nl]);
    let rest = status_line
        .strip_prefix(b"HTTP/1.")
        .ok_or_else(|| protocol("status line does not start with HTTP/1.x"))?;
    let minor = match rest.first() {
        Some(b'0') => 0,
        Some(b'1'..=b'9') => 1,
        _ => return Err(protocol("bad HTTP version")),
    };
    let code = match rest.get(1..5) {
        Some([b' ', a, b, c]) if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(protocol("bad status code")),
    };
    if code < 100 || !matches!(rest.get(5), None | Some(b' ')) {
        return Err(protocol("bad status code"));
    }
    let mut head = Head {
        status: code,
        minor,
        lines: (nl + 1, nl + 1),
        content_length: None,
        te: false,
        chunked: false,
        conn_close: false,
        conn_keep_alive: false,
        encoded: false,
    };
    let mut pos = nl + 1;
    while pos < data.len() {
        let len = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| protocol("unterminated header line"))?;
        let line = trim_cr(&data[pos..pos + len]);
        if line.is_empty() {
            break;
        }
        pos += len + 1;
        head.lines.1 = pos;
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // obsolete line folding: kept in `head`, not interpreted
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| protocol("header line without ':'"))?;
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|&b| b <= b' ' || b == 0x7f) {
            return Err(protocol("bad header name"));
        }
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let n = parse_decimal(part.trim_ascii())
                    .ok_or_else(|| protocol("bad Content-Length"))?;
                if head.content_length.is_some_and(|m| m != n) {
                    return Err(protocol("conflicting Content-Length values"));
                }
                head.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            head.te = true;
            let last = value.rsplit(|&b| b == b',').next().unwrap_or(b"");
            head.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            head.encoded = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    head.conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    head.conn_keep_alive = true;
                }
            }
        }
    }
    Ok(head)
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Appends `n` in decimal without allocating.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn check_header(name: &str, value: &str) -> Result<(), HttpError> {
    let bad_name = name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b == 0x7f);
    let bad_value = value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if bad_name || bad_value {
        return Err(HttpError::InvalidRequest(format!(
            "header {name:?} has a control character, space or ':' in its name, or CR/LF in its value"
        )));
    }
    Ok(())
}

fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn head_end_is_found_across_line_ending_styles() {
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r\nbody", 0), Some(19));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\n\nbody", 0), Some(17));
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n", 0), None);
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\n\r", 0), None);
        assert_eq!(find_head_end(b"", 0), None);
    }

    #[test]
    fn accept_encoding_is_sent_unless_the_request_names_its_own() {
        let url = crate::http::Url::parse("http://127.0.0.1:8080/x").unwrap();
        let cfg = ClientConfig::default();
        let mut out = Vec::new();
        let mut send = |headers: &[(String, String)]| {
            let req = Request {
                method: Method::Get,
                url: &url,
                headers,
                body: b"",
                timeout: std::time::Duration::ZERO,
            };
            write_request(&cfg, &req, None, &mut out).unwrap();
            String::from_utf8(out.clone()).unwrap()
        };
        let plain = send(&[]);
        assert!(
            plain.contains("\r\nAccept-Encoding: gzip, deflate\r\n"),
            "{plain}"
        );
        let own = send(&[("accept-encoding".into(), "identity".into())]);
        assert_eq!(own.matches("ccept-").count(), 1, "{own}");
        assert!(own.contains("\r\naccept-encoding: identity\r\n"), "{own}");
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\n\r\n").unwrap();
        assert!(h.encoded);
        assert!(!parse_head(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().encoded);
    }

    #[test]
    fn parses_head_fields() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: Keep-Alive, close\r\nX: y\r\n\r\n";
        let h = parse_head(raw).unwrap();
        assert_eq!(h.status, 201);
        assert_eq!(h.minor, 1);
        assert_eq!(h.content_length, Some(5));
        assert!(h.conn_close && h.conn_keep_alive);
        assert_eq!(
            &raw[h.lines.0..h.lines.1],
            b"Content-Length: 5\r\nConnection: Keep-Alive, close\r\nX: y\r\n"
        );
        let h = parse_head(b"HTTP/1.0 200\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap();
        assert_eq!((h.status, h.minor, h.te, h.chunked), (200, 0, true, true));
    }

    #[test]
    fn rejects_bad_heads() {
        for raw in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 099 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(raw), Err(HttpError::Protocol(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"FF;name=value").unwrap(), 255);
        assert_eq!(parse_chunk_size(b"0 ").unwrap(), 0);
        assert!(parse_chunk_size(b"").is_err());
        assert!(parse_chunk_size(b"xyz").is_err());
        assert!(parse_chunk_size(b"-1").is_err());
        assert!(parse_chunk_size(b"1234567890abcdef0").is_err());
    }

    #[test]
    fn decimal_formatting() {
        let mut v = Vec::new();
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            v.clear();
            push_decimal(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
        }
    }

    /// How one response ended for the reader.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Outcome {
        Done {
            status: u16,
            keep_alive: bool,
            head: Vec<u8>,
            body: Vec<u8>,
            /// Bytes of the input consumed.
            used: usize,
        },
        Failed(HttpError),
    }

    fn done(status: u16, keep_alive: bool, head: &[u8], body: &[u8], used: usize) -> Outcome {
        Outcome::Done {
            status,
            keep_alive,
            head: head.to_vec(),
            body: body.to_vec(),
            used,
        }
    }

    fn failed(msg: &str) -> Outcome {
        Outcome::Failed(HttpError::Protocol(msg.to_string()))
    }

    /// Feeds `input` cut at `cuts` (ascending), then reports EOF if the
    /// response is still open. Buffers start dirty: the reader must clear them.
    fn run(r: &mut ResponseReader, head_request: bool, input: &[u8], cuts: &[usize]) -> Outcome {
        r.start(head_request);
        let mut head = b"stale head".to_vec();
        let mut body = b"stale body".to_vec();
        let mut from = 0;
        for &to in cuts.iter().chain([&input.len()]) {
            let piece = &input[from..to];
            match r.feed(piece, &mut head, &mut body) {
                Err(e) => return Outcome::Failed(e),
                Ok((used, Step::Done { status, keep_alive })) => {
                    assert!(r.got_any());
                    // Done is sticky and consumes nothing more.
                    let again = r.feed(&input[from + used..], &mut head, &mut body);
                    assert_eq!(again, Ok((0, Step::Done { status, keep_alive })));
                    return Outcome::Done {
                        status,
                        keep_alive,
                        head,
                        body,
                        used: from + used,
                    };
                }
                Ok((used, Step::NeedMore)) => assert_eq!(used, piece.len(), "NeedMore left bytes"),
            }
            from = to;
        }
        match r.eof() {
            Err(e) => Outcome::Failed(e),
            Ok(Step::Done { status, keep_alive }) => Outcome::Done {
                status,
                keep_alive,
                head,
                body,
                used: input.len(),
            },
            Ok(Step::NeedMore) => panic!("NeedMore after EOF"),
        }
    }

    /// Responses (to GET unless `head_request`) and how each must end.
    fn cases() -> Vec<(&'static str, bool, Vec<u8>, Outcome)> {
        const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let mut v: Vec<(&'static str, bool, Vec<u8>, Outcome)> = Vec::new();
        let mut add = |name, head_req, raw: &[u8], out: Outcome| {
            v.push((name, head_req, raw.to_vec(), out));
        };
        let all = |raw: &[u8]| raw.len();
        add(
            "content-length",
            false,
            HELLO,
            done(200, true, b"Content-Length: 5\r\n", b"hello", all(HELLO)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer-One: x\r\nTrailer-Two: y\r\n\r\n";
        add(
            "chunked, extensions, trailers",
            false,
            raw,
            done(
                200,
                true,
                b"Transfer-Encoding: chunked\r\n",
                b"hello, world0123456789abcdef",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhe\n 3 ;x \r\nllo\n0\n\n";
        add(
            "chunked, bare LF and padded size",
            false,
            raw,
            done(
                200,
                true,
                b"Transfer-Encoding: chunked\n",
                b"hello",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok";
        add(
            "bare LF",
            false,
            raw,
            done(200, true, b"Content-Length: 2\n", b"ok", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\nContent-Length: 2\n\r\nok";
        add(
            "LF then CRLF",
            false,
            raw,
            done(200, true, b"Content-Length: 2\n", b"ok", all(raw)),
        );
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        add(
            "1xx skipped",
            false,
            raw,
            done(201, true, b"Content-Length: 2\r\n", b"ok", all(raw)),
        );
        let raw = [&b"HTTP/1.1 100 Continue\r\n\r\n".repeat(16)[..], HELLO].concat();
        add(
            "16 interim",
            false,
            &raw,
            done(200, true, b"Content-Length: 5\r\n", b"hello", all(&raw)),
        );
        let raw = [&b"HTTP/1.1 100 Continue\r\n\r\n".repeat(17)[..], HELLO].concat();
        add(
            "17 interim",
            false,
            &raw,
            failed("too many 1xx interim responses"),
        );
        let raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n";
        add(
            "101",
            false,
            raw,
            failed("unexpected 101 Switching Protocols"),
        );
        let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
        add(
            "204",
            false,
            raw,
            done(204, true, b"Content-Length: 10\r\n", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n";
        add(
            "304",
            false,
            raw,
            done(304, true, b"Content-Length: 50\r\n", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        add(
            "HEAD",
            true,
            raw,
            done(200, true, b"Content-Length: 10\r\n", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        add(
            "HEAD, chunked",
            true,
            raw,
            done(200, true, b"Transfer-Encoding: chunked\r\n", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        add(
            "empty body",
            false,
            raw,
            done(200, true, b"Content-Length: 0\r\n", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil the end";
        add(
            "close-delimited",
            false,
            raw,
            done(200, false, b"X: y\r\n", b"until the end", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\n\r\n";
        add(
            "close-delimited, empty",
            false,
            raw,
            done(200, false, b"", b"", all(raw)),
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabcdef";
        add(
            "transfer-encoding without chunked",
            false,
            raw,
            done(
                200,
                false,
                b"Transfer-Encoding: gzip\r\nContent-Length: 2\r\n",
                b"abcdef",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        add(
            "chunked wins over content-length",
            false,
            raw,
            done(
                200,
                true,
                b"Content-Length: 99\r\nTransfer-Encoding: gzip, chunked\r\n",
                b"x",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na";
        add(
            "HTTP/1.0",
            false,
            raw,
            done(200, false, b"Content-Length: 1\r\n", b"a", all(raw)),
        );
        let raw = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb";
        add(
            "HTTP/1.0 keep-alive",
            false,
            raw,
            done(
                200,
                true,
                b"Connection: keep-alive\r\nContent-Length: 1\r\n",
                b"b",
                all(raw),
            ),
        );
        let raw =
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, close\r\nContent-Length: 2\r\n\r\nok";
        add(
            "connection close",
            false,
            raw,
            done(
                200,
                false,
                b"Connection: Keep-Alive, close\r\nContent-Length: 2\r\n",
                b"ok",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok";
        add(
            "repeated equal content-length",
            false,
            raw,
            done(
                200,
                true,
                b"Content-Length: 2, 2\r\nContent-Length: 2\r\n",
                b"ok",
                all(raw),
            ),
        );
        let raw = b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 1\r\n\r\nz";
        add(
            "obsolete line folding kept",
            false,
            raw,
            done(
                200,
                true,
                b"X-Folded: a\r\n  b\r\nContent-Length: 1\r\n",
                b"z",
                all(raw),
            ),
        );
        let raw = [HELLO, b"HTTP/1.1 200 OK\r\n"].concat();
        add(
            "bytes after the response",
            false,
            &raw,
            done(200, true, b"Content-Length: 5\r\n", b"hello", HELLO.len()),
        );
        let raw = b"HTTP/1.1 204 No Content\r\n\r\nextra";
        add(
            "bytes after a bodyless response",
            false,
            raw,
            done(204, true, b"", b"", raw.len() - 5),
        );
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX";
        add(
            "bytes after chunked",
            false,
            raw,
            done(
                200,
                true,
                b"Transfer-Encoding: chunked\r\n",
                b"",
                raw.len() - 1,
            ),
        );
        // Caps: exactly at the limit passes, one more fails.
        let fill_head = |total: usize| {
            let mut v = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Fill: ".to_vec();
            v.resize(total - 4, b'a');
            v.extend_from_slice(b"\r\n\r\n");
            v
        };
        let raw = fill_head(MAX_HEAD);
        let lines = raw[17..raw.len() - 2].to_vec();
        add(
            "head of MAX_HEAD",
            false,
            &raw,
            done(200, true, &lines, b"", raw.len()),
        );
        add(
            "head over MAX_HEAD",
            false,
            &fill_head(MAX_HEAD + 1),
            failed("response head exceeds 64 KiB"),
        );
        let chunk_line = |content: usize| {
            let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
            v.resize(47 + content, b'e');
            v.extend_from_slice(b"\nx\r\n0\r\n\r\n");
            v
        };
        let raw = chunk_line(MAX_LINE - 1);
        add(
            "chunk line under MAX_LINE",
            false,
            &raw,
            done(
                200,
                true,
                b"Transfer-Encoding: chunked\r\n",
                b"x",
                raw.len(),
            ),
        );
        add(
            "chunk line of MAX_LINE",
            false,
            &chunk_line(MAX_LINE),
            failed("chunk-size or trailer line too long"),
        );
        let trailers = |lines: usize| {
            let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
            for _ in 0..lines {
                v.extend_from_slice(b"T: ");
                v.extend(std::iter::repeat_n(b't', MAX_TRAILERS / 16 - 5));
                v.extend_from_slice(b"\r\n");
            }
            v.extend_from_slice(b"\r\n");
            v
        };
        let raw = trailers(16);
        add(
            "trailers of MAX_TRAILERS",
            false,
            &raw,
            done(200, true, b"Transfer-Encoding: chunked\r\n", b"", raw.len()),
        );
        add(
            "trailers over MAX_TRAILERS",
            false,
            &trailers(17),
            failed("chunked trailers exceed 64 KiB"),
        );
        let raw = [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            &[b'1'; 20_000],
        ]
        .concat();
        add(
            "endless chunk-size line",
            false,
            &raw,
            failed("chunk-size or trailer line too long"),
        );
        // Malformed.
        add(
            "not http",
            false,
            b"this is not http\r\n\r\n",
            failed("status line does not start with HTTP/1.x"),
        );
        add(
            "no status code",
            false,
            b"HTTP/1.1 OK\r\n\r\n",
            failed("bad status code"),
        );
        add(
            "binary",
            false,
            b"\x00\x01\x02\xff\xfe\r\n\r\n",
            failed("status line does not start with HTTP/1.x"),
        );
        add(
            "no colon",
            false,
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            failed("header line without ':'"),
        );
        add(
            "negative length",
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
            failed("bad Content-Length"),
        );
        add(
            "conflicting lengths",
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            failed("conflicting Content-Length values"),
        );
        add(
            "bad chunk size",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            failed("bad chunk size"),
        );
        add(
            "no CRLF after chunk",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
            failed("missing CRLF after chunk data"),
        );
        add(
            "CR CR after chunk",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\r\n",
            failed("missing CRLF after chunk data"),
        );
        // Cut short.
        let early = Outcome::Failed(HttpError::ClosedEarly);
        add("nothing", false, b"", early.clone());
        add(
            "head cut",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-",
            early.clone(),
        );
        add(
            "head cut after CR LF CR",
            false,
            b"HTTP/1.1 200 OK\r\n\r",
            early.clone(),
        );
        add(
            "bad head cut before its end",
            false,
            b"garbage\r\n",
            early.clone(),
        );
        add(
            "only an interim response",
            false,
            b"HTTP/1.1 100 Continue\r\n\r\n",
            early.clone(),
        );
        add(
            "body cut",
            false,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
            early.clone(),
        );
        add(
            "chunk cut",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            early.clone(),
        );
        add(
            "chunk end cut",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r",
            early.clone(),
        );
        add(
            "trailers cut",
            false,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n",
            early,
        );
        v
    }

    #[test]
    fn every_response_parses_alike_however_it_is_cut() {
        let mut r = ResponseReader::new();
        for (name, head_req, raw, expect) in cases() {
            let whole = run(&mut r, head_req, &raw, &[]);
            assert_eq!(whole, expect, "{name}: fed whole");
            // Every single cut; for the big inputs (the caps' cases), cuts
            // near both ends and a sample in between.
            let n = raw.len();
            let step = if n <= 4096 { 1 } else { n / 100 };
            let cuts = (0..=n.min(64))
                .chain((0..=n).step_by(step))
                .chain(n.saturating_sub(64)..=n);
            for k in cuts {
                assert_eq!(
                    run(&mut r, head_req, &raw, &[k]),
                    whole,
                    "{name}: cut at {k}"
                );
            }
            // Byte by byte.
            let bytes: Vec<usize> = (1..raw.len()).collect();
            assert_eq!(
                run(&mut r, head_req, &raw, &bytes),
                whole,
                "{name}: byte by byte"
            );
            // Every pair of cuts in short responses.
            if raw.len() <= 160 {
                for a in 0..=raw.len() {
                    for b in a..=raw.len() {
                        assert_eq!(
                            run(&mut r, head_req, &raw, &[a, b]),
                            whole,
                            "{name}: cut at {a}, {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn responses_back_to_back_on_one_reader() {
        // A keep-alive connection: each response starts where the last ended.
        let stream = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\nHTTP/1.1 201 OK\r\n\r\nrest";
        let mut r = ResponseReader::new();
        let (mut head, mut body) = (Vec::new(), Vec::new());
        let mut at = 0;
        let mut got = Vec::new();
        for _ in 0..2 {
            r.start(false);
            let (used, step) = r.feed(&stream[at..], &mut head, &mut body).unwrap();
            assert!(matches!(
                step,
                Step::Done {
                    status: 200,
                    keep_alive: true
                }
            ));
            got.push(body.clone());
            at += used;
        }
        r.start(false);
        assert_eq!(
            r.feed(&stream[at..], &mut head, &mut body).unwrap().1,
            Step::NeedMore
        );
        assert_eq!(
            r.eof(),
            Ok(Step::Done {
                status: 201,
                keep_alive: false
            })
        );
        assert_eq!(got, [b"a", b"b"]);
        assert_eq!(body, b"rest");
    }

    #[test]
    fn large_bodies_can_skip_the_reader() {
        let mut r = ResponseReader::new();
        let (mut head, mut body) = (Vec::new(), Vec::new());
        // Content-Length: the head, then the body read "directly" in pieces.
        r.start(false);
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc";
        assert_eq!(
            r.feed(raw, &mut head, &mut body),
            Ok((raw.len(), Step::NeedMore))
        );
        assert_eq!(r.direct_body_len(), 100_000 - 3);
        body.extend(std::iter::repeat_n(b'x', 50_000));
        assert_eq!(r.direct_body_read(50_000), Step::NeedMore);
        assert_eq!(r.direct_body_len(), 50_000 - 3);
        body.extend(std::iter::repeat_n(b'x', 49_997));
        let done = Step::Done {
            status: 200,
            keep_alive: true,
        };
        assert_eq!(r.direct_body_read(49_997), done);
        assert_eq!((body.len(), r.direct_body_len()), (100_000, 0));
        // Chunked: a chunk's data is direct, its framing is fed.
        r.start(false);
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n";
        assert_eq!(
            r.feed(raw, &mut head, &mut body),
            Ok((raw.len(), Step::NeedMore))
        );
        assert_eq!((body.len(), r.direct_body_len()), (0, 0x4000));
        body.resize(0x4000, b'y');
        assert_eq!(r.direct_body_read(0x4000), Step::NeedMore);
        assert_eq!(r.direct_body_len(), 0);
        assert_eq!(
            r.feed(b"\r\n0\r\n\r\n", &mut head, &mut body),
            Ok((7, done))
        );
        // To EOF: unbounded.
        r.start(false);
        let raw = b"HTTP/1.1 200 OK\r\n\r\n";
        assert_eq!(
            r.feed(raw, &mut head, &mut body),
            Ok((raw.len(), Step::NeedMore))
        );
        assert_eq!(r.direct_body_len(), u64::MAX);
        body.extend_from_slice(b"zz");
        assert_eq!(r.direct_body_read(2), Step::NeedMore);
        assert_eq!(
            r.eof(),
            Ok(Step::Done {
                status: 200,
                keep_alive: false
            })
        );
        assert_eq!(body, b"zz");
    }

    #[test]
    fn got_any_and_errors_end_the_response() {
        let mut r = ResponseReader::new();
        let (mut head, mut body) = (Vec::new(), Vec::new());
        assert!(
            r.feed(b"x", &mut head, &mut body).is_err(),
            "nothing was started"
        );
        r.start(false);
        assert!(!r.got_any());
        assert_eq!(r.feed(b"", &mut head, &mut body), Ok((0, Step::NeedMore)));
        assert!(!r.got_any());
        assert_eq!(r.feed(b"H", &mut head, &mut body), Ok((1, Step::NeedMore)));
        assert!(r.got_any());
        assert_eq!(r.eof(), Err(HttpError::ClosedEarly));
        assert!(r
            .feed(b"TTP/1.1 200 OK\r\n\r\n", &mut head, &mut body)
            .is_err());
        r.start(false);
        assert!(!r.got_any());
    }
}
