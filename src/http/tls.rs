//! `https://` through one ureq agent per client (ureq keeps the connections
//! alive). The response is copied into the client's reused buffers so both
//! schemes return the same [`Response`](super::Response).
//!
//! Timeouts: ureq's connect timeout (`ClientConfig::connect_timeout`) and a
//! per-read timeout of `req.timeout` per request. The deadline-style timeouts
//! (global / per-call / resolve) are deliberately not used: with ureq's
//! default resolver they start a thread per request (`docs/http-client.md`).
//! While the body is read the client also checks the stop signal and the total
//! elapsed time between reads. A read that blocks inside ureq can only be
//! interrupted by its per-read timeout, so over https cancellation may take up
//! to `req.timeout` (plain http: one tick).

use super::plain::map_io;
use super::{ClientConfig, HttpError, Method, Request};
use crate::stop::StopSignal;
use std::fmt::Write as _;
use std::io::{self, Read};
use std::time::{Duration, Instant};

/// Body bytes read per call into the body buffer.
const READ_STEP: usize = 16 * 1024;

/// The https side of a [`Client`](super::Client).
pub(crate) struct TlsClient {
    agent: ureq::Agent,
    connect_timeout: Duration,
    /// Reused for the absolute URI string.
    uri: String,
}

impl TlsClient {
    pub(crate) fn new(cfg: &ClientConfig) -> Self {
        let connect_timeout = (!cfg.connect_timeout.is_zero()).then_some(cfg.connect_timeout);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .timeout_connect(connect_timeout)
            .user_agent(cfg.user_agent.as_str())
            .max_response_header_size(64 * 1024)
            .input_buffer_size(64 * 1024)
            .output_buffer_size(16 * 1024)
            .build()
            .new_agent();
        TlsClient {
            agent,
            connect_timeout: cfg.connect_timeout,
            uri: String::new(),
        }
    }

    fn run<B: ureq::AsSendBody>(
        &self,
        request: ureq::http::Request<B>,
        timeout: Duration,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let per_read = (!timeout.is_zero()).then_some(timeout);
        let request = self
            .agent
            .configure_request(request)
            .timeout_per_read(per_read)
            .timeout_per_write(per_read)
            .build();
        self.agent.run(request)
    }

    /// Sends one request; the status comes back, the headers (`Name: value\r\n`)
    /// and the body land in `head` and `body`.
    pub(crate) fn send(
        &mut self,
        req: &Request<'_>,
        stop: &StopSignal,
        head: &mut Vec<u8>,
        body: &mut Vec<u8>,
    ) -> Result<u16, HttpError> {
        let started = Instant::now();
        let url = req.url;
        self.uri.clear();
        let _ = write!(self.uri, "{}{}", url.origin(), url.path_and_query);
        let mut builder = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(self.uri.as_str());
        for (name, value) in req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let with_body = !req.body.is_empty()
            || matches!(req.method, Method::Post | Method::Put | Method::Patch);
        let built = if with_body {
            builder.body(req.body).map(|r| self.run(r, req.timeout))
        } else {
            builder.body(()).map(|r| self.run(r, req.timeout))
        };
        let mut resp = built
            .map_err(|e| HttpError::InvalidUrl(format!("cannot build request: {e}")))?
            .map_err(|e| self.map_err(e, req))?;

        head.clear();
        for (name, value) in resp.headers() {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let status = resp.status().as_u16();

        body.clear();
        let mut reader = resp.body_mut().as_reader();
        loop {
            if stop.is_aborted() {
                return Err(HttpError::Cancelled);
            }
            if !req.timeout.is_zero() && started.elapsed() >= req.timeout {
                return Err(HttpError::ReadTimeout(req.timeout));
            }
            let old = body.len();
            body.resize(old + READ_STEP, 0);
            match reader.read(&mut body[old..]) {
                Ok(0) => {
                    body.truncate(old);
                    break;
                }
                Ok(n) => body.truncate(old + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => body.truncate(old),
                Err(e) => {
                    body.truncate(old);
                    return Err(self.map_err(ureq::Error::from(e), req));
                }
            }
        }
        Ok(status)
    }

    fn map_err(&self, e: ureq::Error, req: &Request<'_>) -> HttpError {
        map_ureq_error(e, &req.url.host, self.connect_timeout, req.timeout)
    }
}

/// Maps a ureq error onto the typed variants.
fn map_ureq_error(
    e: ureq::Error,
    host: &str,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> HttpError {
    use ureq::Error as E;
    match e {
        E::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                HttpError::ReadTimeout(read_timeout)
            }
            // rustls reports bad records as InvalidData inside the TLS stream.
            io::ErrorKind::InvalidData => HttpError::Tls(io.to_string()),
            _ => match map_io(&io) {
                HttpError::Io(msg) if msg.contains("failed to lookup address") => {
                    HttpError::Dns(host.to_string())
                }
                other => other,
            },
        },
        E::Timeout(t) => match t {
            ureq::Timeout::Connect => HttpError::ConnectTimeout(connect_timeout),
            ureq::Timeout::Resolve => HttpError::Dns(host.to_string()),
            _ => HttpError::ReadTimeout(read_timeout),
        },
        E::HostNotFound => HttpError::Dns(host.to_string()),
        E::Tls(msg) => HttpError::Tls(msg.to_string()),
        e @ (E::Rustls(_) | E::Pem(_) | E::TlsRequired) => HttpError::Tls(e.to_string()),
        e @ (E::Protocol(_) | E::LargeResponseHeader(..) | E::BodyStalled) => {
            HttpError::Protocol(e.to_string())
        }
        e @ (E::BadUri(_) | E::Http(_)) => HttpError::InvalidUrl(e.to_string()),
        E::ConnectionFailed => HttpError::Refused,
        e => HttpError::Io(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_io_kinds() {
        let m = |k: io::ErrorKind| {
            map_ureq_error(
                ureq::Error::Io(io::Error::new(k, "x")),
                "h",
                Duration::from_secs(1),
                Duration::from_secs(2),
            )
        };
        assert_eq!(m(io::ErrorKind::ConnectionRefused), HttpError::Refused);
        assert_eq!(m(io::ErrorKind::ConnectionReset), HttpError::Reset);
        assert_eq!(m(io::ErrorKind::BrokenPipe), HttpError::Aborted);
        assert_eq!(m(io::ErrorKind::ConnectionAborted), HttpError::Aborted);
        assert_eq!(m(io::ErrorKind::UnexpectedEof), HttpError::ClosedEarly);
        assert_eq!(
            m(io::ErrorKind::TimedOut),
            HttpError::ReadTimeout(Duration::from_secs(2))
        );
        assert!(matches!(m(io::ErrorKind::InvalidData), HttpError::Tls(_)));
    }

    #[test]
    fn maps_ureq_variants() {
        let m = |e| map_ureq_error(e, "h", Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(m(ureq::Error::HostNotFound), HttpError::Dns("h".into()));
        assert_eq!(
            m(ureq::Error::Timeout(ureq::Timeout::Connect)),
            HttpError::ConnectTimeout(Duration::from_secs(1))
        );
        assert_eq!(
            m(ureq::Error::Timeout(ureq::Timeout::PerRead)),
            HttpError::ReadTimeout(Duration::from_secs(2))
        );
        assert!(matches!(m(ureq::Error::Tls("bad")), HttpError::Tls(_)));
        assert!(matches!(
            m(ureq::Error::LargeResponseHeader(1, 2)),
            HttpError::Protocol(_)
        ));
    }
}
