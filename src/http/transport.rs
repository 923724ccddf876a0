//! A non-blocking connection for the executor pool: a `mio` TCP stream, plain
//! or under rustls. rustls is sans-IO (it turns bytes into records and back),
//! so a TLS connection is driven over the same non-blocking socket as a plain
//! one: the event loop never blocks in a handshake or a read.
//!
//! Every call returns `Ok(None)` where the socket would block: the caller
//! waits for the next readiness event.

use super::HttpError;
use mio::net::TcpStream;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// One connection.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsTransport>),
}

pub(crate) struct TlsTransport {
    stream: TcpStream,
    tls: rustls::ClientConnection,
    /// The server name, for the words of a certificate failure.
    host: Box<str>,
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

fn tls_error(e: &rustls::Error, host: &str) -> HttpError {
    HttpError::Tls(super::tls::describe(e, host))
}

/// `Ok(Some(v))`, or `Ok(None)` when the socket would block.
fn nb<T>(r: io::Result<T>) -> Result<Option<T>, HttpError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(map_io(&e)),
    }
}

impl Transport {
    /// Wraps a connected stream; `tls_host` starts a TLS client session for
    /// that server name (its handshake runs as the connection is used) with
    /// `tls`'s settings (the default ones when `None`). The settings are
    /// shared, never rebuilt here: their session cache lets a reconnect
    /// resume.
    pub(crate) fn new(
        stream: TcpStream,
        tls_host: Option<&str>,
        tls: Option<&Arc<super::tls::Tls>>,
    ) -> Result<Transport, HttpError> {
        let Some(host) = tls_host else {
            return Ok(Transport::Plain(stream));
        };
        let config = match tls {
            Some(t) => Arc::clone(&t.config),
            None => Arc::clone(&super::tls::system().config),
        };
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| HttpError::Tls(format!("{host:?} is not a valid TLS server name")))?;
        let mut tls =
            rustls::ClientConnection::new(config, name).map_err(|e| tls_error(&e, host))?;
        // The request is already in memory: let rustls take all of it before
        // the handshake ends (its default 64 KiB limit would stall a larger
        // body until the handshake, which only reading the socket advances).
        tls.set_buffer_limit(None);
        Ok(Transport::Tls(Box::new(TlsTransport {
            stream,
            tls,
            host: host.into(),
        })))
    }

    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &mut t.stream,
        }
    }

    /// Writes what it can of `data` now: `Ok(Some(n))` bytes taken (over TLS
    /// all of it, encrypted records then go out with [`Transport::flush`]).
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<Option<usize>, HttpError> {
        match self {
            Transport::Plain(s) => nb(s.write(data)),
            Transport::Tls(t) => {
                let n = t
                    .tls
                    .writer()
                    .write(data)
                    .map_err(|e| HttpError::Io(e.to_string()))?;
                t.flush()?;
                Ok(Some(n))
            }
        }
    }

    /// Sends TLS records still buffered: `Ok(true)` when none is left.
    pub(crate) fn flush(&mut self) -> Result<bool, HttpError> {
        match self {
            Transport::Plain(_) => Ok(true),
            Transport::Tls(t) => t.flush(),
        }
    }

    /// Reads response bytes: `Ok(Some(0))` when the peer closed the connection.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, HttpError> {
        match self {
            Transport::Plain(s) => nb(s.read(buf)),
            Transport::Tls(t) => t.read(buf),
        }
    }
}

impl TlsTransport {
    fn flush(&mut self) -> Result<bool, HttpError> {
        while self.tls.wants_write() {
            match nb(self.tls.write_tls(&mut self.stream))? {
                Some(_) => {}
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, HttpError> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the end of the stream all the same.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(0)),
                Err(e) => return Err(map_io(&e)),
            }
            // No plaintext yet: take in more records.
            match nb(self.tls.read_tls(&mut self.stream))? {
                None => return Ok(None),
                Some(0) => return Ok(Some(0)),
                Some(_) => {
                    self.tls
                        .process_new_packets()
                        .map_err(|e| tls_error(&e, &self.host))?;
                    // Handshake replies and alerts go out as soon as they exist.
                    self.flush()?;
                }
            }
        }
    }
}
