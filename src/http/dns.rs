//! Name lookups for one worker of the pool, cached, bounded in time and
//! cut short by a stop.
//!
//! The system resolver (`getaddrinfo`) blocks, and a worker drives many
//! users, so a lookup runs on a short-lived thread of its own while the worker
//! waits at most [`LOOKUP_TIMEOUT`] for it, looking at the stop signal as it
//! waits. Each (host, port) is looked up once per worker and test:
//! - an answer is kept for [`POSITIVE_TTL`], then looked up again (a failed
//!   refresh keeps the old addresses for another period);
//! - a failure (no such host, or no answer in time) is remembered for
//!   [`NEGATIVE_TTL`], so a mistyped host fails every request at once instead
//!   of holding the worker up on each one.
//!
//! An IP address is never looked up.

use super::HttpError;
use crate::stop::StopSignal;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker waits for one lookup.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an answer is used before it is looked up again.
pub const POSITIVE_TTL: Duration = Duration::from_secs(300);
/// How long a failed lookup is remembered.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(1);
/// How often a waiting lookup looks at the stop signal.
const STOP_POLL: Duration = Duration::from_millis(20);

struct Entry {
    host: String,
    port: u16,
    /// The addresses (empty after a failure), and since when.
    addrs: Arc<[SocketAddr]>,
    at: Instant,
    /// Why the lookup failed, when it did.
    failed: Option<HttpError>,
}

/// A worker's lookups.
pub struct Resolver {
    entries: Vec<Entry>,
    /// A lookup waits no longer than an abort of this signal.
    stop: Option<Arc<StopSignal>>,
    timeout: Duration,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new(None)
    }
}

impl Resolver {
    pub fn new(stop: Option<Arc<StopSignal>>) -> Resolver {
        Resolver {
            entries: Vec::new(),
            stop,
            timeout: LOOKUP_TIMEOUT,
        }
    }

    /// The addresses of `host:port`.
    pub fn lookup(&mut self, host: &str, port: u16) -> Result<Arc<[SocketAddr]>, HttpError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Arc::from([SocketAddr::new(ip, port)]));
        }
        let now = Instant::now();
        let i = self
            .entries
            .iter()
            .position(|e| e.port == port && e.host == host);
        if let Some(e) = i.map(|i| &self.entries[i]) {
            let ttl = if e.failed.is_some() {
                NEGATIVE_TTL
            } else {
                POSITIVE_TTL
            };
            if now.duration_since(e.at) < ttl {
                return match &e.failed {
                    Some(err) => Err(err.clone()),
                    None => Ok(Arc::clone(&e.addrs)),
                };
            }
        }
        let result = self.ask(host, port);
        let entry = match (result, i) {
            (Ok(addrs), _) => Entry {
                host: host.to_string(),
                port,
                addrs: addrs.into(),
                at: now,
                failed: None,
            },
            (Err(HttpError::Cancelled), _) => return Err(HttpError::Cancelled),
            // A failed refresh: the old addresses serve another period.
            (Err(_), Some(i)) if self.entries[i].failed.is_none() => Entry {
                host: host.to_string(),
                port,
                addrs: Arc::clone(&self.entries[i].addrs),
                at: now,
                failed: None,
            },
            (Err(err), _) => Entry {
                host: host.to_string(),
                port,
                addrs: Arc::from([]),
                at: now,
                failed: Some(err),
            },
        };
        let out = match &entry.failed {
            Some(err) => Err(err.clone()),
            None => Ok(Arc::clone(&entry.addrs)),
        };
        match i {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
        out
    }

    /// One lookup on a thread of its own, waited for at most `timeout`.
    fn ask(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, HttpError> {
        let (tx, rx) = mpsc::channel();
        let name = host.to_string();
        let spawned = std::thread::Builder::new()
            .name("loaddensity-dns".into())
            .spawn(move || {
                let found: Vec<SocketAddr> = (name.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                // The worker may have stopped waiting: nobody to tell then.
                let _ = tx.send(found);
            });
        if spawned.is_err() {
            // No thread to spare: look up on this one.
            return found_or_error(
                host,
                (host, port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default(),
            );
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let now = Instant::now();
            if self.stop.as_deref().is_some_and(StopSignal::is_aborted) {
                return Err(HttpError::Cancelled);
            }
            if now >= deadline {
                return Err(HttpError::DnsTimeout(host.to_string(), self.timeout));
            }
            match rx.recv_timeout((deadline - now).min(STOP_POLL)) {
                Ok(found) => return found_or_error(host, found),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(HttpError::Dns(host.to_string()))
                }
            }
        }
    }
}

fn found_or_error(host: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, HttpError> {
    if found.is_empty() {
        Err(HttpError::Dns(host.to_string()))
    } else {
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_is_never_looked_up() {
        let mut r = Resolver::default();
        let a = r.lookup("127.0.0.1", 9).unwrap();
        assert_eq!(&a[..], &["127.0.0.1:9".parse::<SocketAddr>().unwrap()]);
        assert!(r.entries.is_empty());
    }

    #[test]
    fn a_failed_lookup_is_remembered_for_a_while() {
        // A label longer than 63 octets never resolves, and fails at once.
        let host = "a".repeat(64) + ".invalid";
        let mut r = Resolver::default();
        assert!(matches!(r.lookup(&host, 80), Err(HttpError::Dns(h)) if h == host));
        let first = r.entries[0].at;
        // Within the TTL the same host fails from memory, without a lookup.
        assert!(matches!(r.lookup(&host, 80), Err(HttpError::Dns(_))));
        assert_eq!(r.entries[0].at, first);
        // Past it, it is looked up again.
        r.entries[0].at = Instant::now() - NEGATIVE_TTL;
        assert!(r.lookup(&host, 80).is_err());
        assert!(r.entries[0].at > first);
        assert_eq!(r.entries.len(), 1);
    }

    #[test]
    fn an_answer_is_kept_and_survives_a_failed_refresh() {
        let mut r = Resolver::default();
        let a = r.lookup("localhost", 80).unwrap();
        assert!(a.iter().all(|s| s.ip().is_loopback()), "{a:?}");
        // Stands in for a record that stopped resolving: the refresh fails,
        // the old addresses stay in use.
        r.entries[0].host = "a".repeat(64) + ".invalid";
        let host = r.entries[0].host.clone();
        r.entries[0].at = Instant::now() - POSITIVE_TTL;
        assert_eq!(r.lookup(&host, 80).unwrap(), a);
        assert!(r.entries[0].failed.is_none());
    }

    #[test]
    fn a_slow_lookup_times_out_and_an_abort_cuts_it_short() {
        // Stands in for a DNS server that never answers: no lookup can
        // finish within a zero timeout.
        let mut r = Resolver {
            timeout: Duration::ZERO,
            ..Resolver::default()
        };
        let e = r.lookup("localhost", 80).unwrap_err();
        assert_eq!(e, HttpError::DnsTimeout("localhost".into(), Duration::ZERO));
        assert!(e.to_string().contains("no answer within"), "{e}");
        let stop = Arc::new(StopSignal::new());
        stop.abort();
        let mut r = Resolver::new(Some(stop));
        r.timeout = Duration::from_secs(60);
        let t = Instant::now();
        assert_eq!(r.lookup("localhost", 81), Err(HttpError::Cancelled));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
