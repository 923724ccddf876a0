//! The per-worker HTTP client.
use super::{ClientConfig, HttpError, Request, Response};
use crate::stop::StopSignal;

pub struct Client {
    _cfg: ClientConfig,
}

impl Client {
    pub fn new(cfg: ClientConfig) -> Self {
        Client { _cfg: cfg }
    }

    /// Sends one request and reads the whole response into reused buffers.
    /// Gives up with [`HttpError::Cancelled`] soon after `stop.is_aborted()`.
    pub fn send<'c>(
        &'c mut self,
        _req: &Request<'_>,
        _stop: &StopSignal,
    ) -> Result<Response<'c>, HttpError> {
        todo!("helper: http client")
    }
}
