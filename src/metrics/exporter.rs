//! The `/metrics` endpoint: one thread, one connection at a time (Prometheus
//! scrapes one at a time), each answered and closed. A client that stalls is
//! dropped after [`IO_TIMEOUT`]; stopping takes at most one poll.

use super::board::Board;
use super::exposition::CONTENT_TYPE;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a scrape's request may take to arrive, and its answer to leave.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the accept loop looks for a connection or a stop.
const POLL: Duration = Duration::from_millis(10);
/// The longest request head read.
const MAX_HEAD: usize = 16 * 1024;

/// A running exporter; stopped when dropped.
pub struct Exporter {
    addr: SocketAddr,
    pub board: Arc<Board>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Exporter {
    /// Binds `addr` and serves `board` until stopped.
    pub fn start(addr: SocketAddr, board: Arc<Board>) -> io::Result<Exporter> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = {
            let (board, stopping) = (Arc::clone(&board), Arc::clone(&stopping));
            std::thread::Builder::new()
                .name("ld-metrics".into())
                .spawn(move || serve(&listener, &board, &stopping))?
        };
        Ok(Exporter {
            addr,
            board,
            stopping,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port the system picked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving (at most one poll and one scrape in progress later).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(listener: &TcpListener, board: &Board, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                // Errors are the client's (it went away, it stalled): the
                // next scrape is answered as usual.
                let _ = answer(stream, board);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of descriptors and the like: try again later.
            Err(_) => std::thread::sleep(POLL * 10),
        }
    }
}

fn answer(mut stream: TcpStream, board: &Board) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request head too large\n",
                false,
            );
        }
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = board.scrape();
            respond(
                &mut stream,
                "200 OK",
                CONTENT_TYPE,
                body.as_bytes(),
                head_only,
            )
        }
        ("GET" | "HEAD", "/") => respond(
            &mut stream,
            "200 OK",
            "text/plain; charset=utf-8",
            b"loaddensity: metrics at /metrics (OpenMetrics text)\n",
            head_only,
        ),
        ("GET" | "HEAD", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found: metrics are at /metrics\n",
            head_only,
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            false,
        ),
    }
}

fn respond(
    s: &mut TcpStream,
    status: &str,
    ctype: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    if !head_only {
        s.write_all(body)?;
    }
    s.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_metrics_and_stops() {
        let board = Arc::new(Board::new());
        let e = Exporter::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&board)).unwrap();
        let addr = e.addr();
        let r = get(addr, "/metrics");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(
            r.contains("Content-Type: application/openmetrics-text; version=1.0.0"),
            "{r}"
        );
        assert!(r.ends_with("# EOF\n"), "{r}");
        assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
        assert_eq!(board.scrapes(), 1);
        // A client that sends nothing does not block the next scrape for long.
        let idle = TcpStream::connect(addr).unwrap();
        let t = std::time::Instant::now();
        assert!(get(addr, "/metrics").contains("200 OK"));
        assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        drop(idle);
        e.stop();
        assert!(TcpStream::connect(addr).is_err(), "closed once stopped");
    }
}
