//! The per-worker HTTP client.
use super::plain::Plain;
use super::tls::TlsClient;
use super::{ClientConfig, HttpError, Request, Response, Scheme};
use crate::stop::StopSignal;

/// One worker's HTTP client: keep-alive connections, a cached address per
/// (host, port), and reused buffers. Not shared between threads.
///
/// `http://` uses a hand-written HTTP/1.1 client (no allocation per request
/// once buffers have grown; see `plain.rs` for the timeout scheme), `https://`
/// uses one ureq agent, created on first use.
pub struct Client {
    cfg: ClientConfig,
    pub(super) plain: Plain,
    tls: Option<TlsClient>,
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Client {
    /// A client with no connections yet; nothing is allocated or resolved
    /// until the first request.
    pub fn new(cfg: ClientConfig) -> Self {
        Client {
            cfg,
            plain: Plain::new(),
            tls: None,
            head: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Sends one request and reads the whole response into reused buffers.
    /// Gives up with [`HttpError::Cancelled`] soon after `stop.is_aborted()`.
    ///
    /// `req.timeout` bounds the time from sending to the full response (zero:
    /// no limit). A reused keep-alive connection that the server had closed is
    /// replaced and the request resent once, transparently. Any error drops the
    /// connection it happened on.
    pub fn send<'c>(
        &'c mut self,
        req: &Request<'_>,
        stop: &StopSignal,
    ) -> Result<Response<'c>, HttpError> {
        if stop.is_aborted() {
            return Err(HttpError::Cancelled);
        }
        let status = match req.url.scheme {
            Scheme::Http => {
                self.plain
                    .send(&self.cfg, req, stop, &mut self.head, &mut self.body)?
            }
            Scheme::Https => self
                .tls
                .get_or_insert_with(|| TlsClient::new(&self.cfg))
                .send(req, stop, &mut self.head, &mut self.body)?,
        };
        Ok(Response {
            status,
            head: &self.head,
            body: &self.body,
        })
    }

    /// Closes every idle keep-alive connection (cached addresses are kept).
    #[cfg(test)]
    pub fn close_idle(&mut self) {
        self.plain.close_idle();
        // ureq's pool cannot be emptied; a new agent starts with none.
        if self.tls.is_some() {
            self.tls = None;
        }
    }
}
