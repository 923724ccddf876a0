//! HTTP for the load engine: a hand-written HTTP/1.1 client
//! (`docs/http-client.md` has the measurements: a general-purpose client's
//! per-request cost kept it near 0.8× oha), keep-alive connections, typed
//! errors, no per-request allocation once warm.
//!
//! - `wire`: sans-IO framing (request bytes out, response parsed as bytes come in).
//! - `transport`: a non-blocking connection, plain TCP or rustls over it.
//! - [`session`]: one user's connections and its exchange in flight, driven by
//!   readiness events from a worker's event loop.
//! - [`tls`]: TLS settings (trust, `verify`, client certificates) and its
//!   failures in words.
//! - `client` (tests): the same session behind a blocking call.

use std::time::Duration;

pub mod url;
pub use url::{Scheme, Url};

pub mod cookies;
pub mod dns;
mod encoding;
pub mod multipart;
pub mod proxy;
pub mod secret;
pub mod session;
pub mod tls;
mod transport;
pub(crate) mod wire;

/// HTTP request methods a task may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    /// Parses a method name in any case (`get`, `GET`, `Get`).
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            _ => return None,
        })
    }

    /// The method name in upper case, as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

/// Why an attempt failed below the HTTP status level. A typed enum so the retry
/// classifier matches on variants, never on message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("connection refused")]
    Refused,
    #[error("connection reset by peer")]
    Reset,
    #[error("connection aborted")]
    Aborted,
    #[error("connection closed before a full response")]
    ClosedEarly,
    #[error("could not resolve host {0}")]
    Dns(String),
    /// The name lookup took longer than its limit (the DNS server is slow or
    /// unreachable).
    #[error("could not resolve host {0}: no answer within {1:?}")]
    DnsTimeout(String, Duration),
    /// The proxy would not carry the request: its status (0 when it closed
    /// or answered something that is not HTTP) and what happened, in words.
    #[error("{1}")]
    Proxy(u16, String),
    #[error("connect timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("no response within {0:?}")]
    ReadTimeout(Duration),
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("malformed HTTP response: {0}")]
    Protocol(String),
    #[error("request cancelled: the test is stopping")]
    Cancelled,
    #[error("I/O error: {0}")]
    Io(String),
    #[error("response body larger than max_body_bytes ({0} bytes)")]
    BodyTooLarge(u64),
    /// A body that must be read could not be decoded (its `Content-Encoding`
    /// is unknown or corrupt, or it decodes past `max_body_bytes`).
    #[error("{0}")]
    Decode(String),
    /// The request itself cannot be sent as built (a header with CR/LF).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// Settings that hold for every request of one client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Limit for opening a TCP connection (and, over https, the TLS handshake).
    /// Zero: the operating system's limit.
    pub connect_timeout: Duration,
    /// `User-Agent` sent unless a request gives its own; empty: none.
    pub user_agent: String,
    /// The forward proxies requests go through, if any.
    pub proxies: Option<std::sync::Arc<proxy::Proxies>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            user_agent: concat!("loaddensity/", env!("CARGO_PKG_VERSION")).to_string(),
            proxies: None,
        }
    }
}

/// One request. Everything is borrowed: the engine prepares it once per task
/// where nothing in it varies.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a Url,
    /// Extra headers. `Host`, `User-Agent` and `Accept-Encoding` (`gzip,
    /// deflate`) are set by the client unless given here (case-insensitive match; never sent twice). Message framing is the
    /// client's own: `Content-Length` (sent when there is a body or the method is
    /// POST/PUT/PATCH) is always computed, and a `Content-Length` or
    /// `Transfer-Encoding` given here is ignored on `http://`. A name or value
    /// with CR/LF/control characters fails with [`HttpError::Protocol`].
    pub headers: &'a [(String, String)],
    /// Request body; empty for none.
    pub body: &'a [u8],
    /// Limit for the whole response to arrive once the connection is there.
    /// Zero: no limit (a stop abort still cancels).
    pub timeout: Duration,
}

/// A response, borrowing the client's reused buffers until the next `send`.
#[derive(Debug)]
pub struct Response<'a> {
    /// Final status code (1xx interim responses are skipped).
    pub status: u16,
    /// Raw header lines after the status line (`Name: value\r\n`...).
    pub head: &'a [u8],
    /// The body, de-chunked and, when kept, decoded from its
    /// `Content-Encoding` (empty for HEAD, 204 and 304, and when the session
    /// was told not to keep it).
    pub body: &'a [u8],
    /// Body bytes received (as sent, before any decoding), whether kept or not.
    pub body_bytes: u64,
    /// The kept body's size once decoded from its `Content-Encoding`, when
    /// it was (a body nothing reads is never decoded).
    pub decoded_bytes: Option<u64>,
}

impl<'a> Response<'a> {
    /// First header with this name (case-insensitive), value trimmed.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// All headers in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let head: &'a [u8] = self.head;
        head.split(|&b| b == b'\n').filter_map(|line| {
            let line = std::str::from_utf8(line).ok()?;
            let (n, v) = line.split_once(':')?;
            Some((n.trim(), v.trim()))
        })
    }
}

/// The `Authorization` (or `Proxy-Authorization`) value for HTTP Basic
/// credentials: `Basic ` and base64 of `user:password` (RFC 7617).
pub fn basic_auth(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::from("Basic ");
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
pub mod client;
#[cfg(test)]
pub use client::Client;

#[cfg(test)]
mod tests;
