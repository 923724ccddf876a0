//! Client tests against scripted in-process servers on 127.0.0.1 (real sockets).
//! Every server-side wait is bounded, so a client bug fails a test instead of
//! hanging it.

use super::*;
use crate::http::wire;
use crate::stop::StopSignal;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);

/// Starts a scripted server; the script gets the listener.
fn server<T: Send + 'static>(
    script: impl FnOnce(TcpListener) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, thread::spawn(move || script(listener)))
}

/// Accepts one connection, or panics after [`WAIT`].
fn accept(l: &TcpListener) -> TcpStream {
    try_accept(l, WAIT).expect("client never connected")
}

/// Accepts one connection within `wait`.
fn try_accept(l: &TcpListener, wait: Duration) -> Option<TcpStream> {
    l.set_nonblocking(true).unwrap();
    let t = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                return Some(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if t.elapsed() > wait {
                    return None;
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Reads one request (head plus Content-Length body). Empty at EOF.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..i]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if got.len() >= i + 4 + len {
                return got;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits (bounded) until the client closes the connection.
fn wait_for_close(s: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let t = Instant::now();
    while t.elapsed() < WAIT {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn url(port: u16, path: &str) -> Url {
    Url::parse(&format!("http://127.0.0.1:{port}{path}")).unwrap()
}

fn get(u: &Url) -> Request<'_> {
    Request {
        method: Method::Get,
        url: u,
        headers: &[],
        body: b"",
        timeout: WAIT,
    }
}

fn client() -> Client {
    Client::new(ClientConfig {
        connect_timeout: Duration::from_secs(2),
        user_agent: "test-agent/1".to_string(),
        proxies: None,
    })
}

const OK_HELLO: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// Sends `req` and returns (status, body) or the error.
fn fetch(c: &mut Client, req: &Request<'_>) -> Result<(u16, Vec<u8>), HttpError> {
    let stop = StopSignal::new();
    c.send(req, &stop).map(|r| (r.status, r.body.to_vec()))
}

#[test]
fn keep_alive_reuses_one_connection() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        for _ in 0..3 {
            assert!(!read_request(&mut s).is_empty());
            s.write_all(OK_HELLO).unwrap();
        }
        try_accept(&l, Duration::from_millis(200)).is_none()
    });
    let u = url(port, "/");
    let mut c = client();
    for _ in 0..3 {
        assert_eq!(fetch(&mut c, &get(&u)).unwrap(), (200, b"hello".to_vec()));
        assert_eq!(c.idle_count(), 1);
    }
    assert!(srv.join().unwrap(), "client opened a second connection");
}

#[test]
fn request_bytes_as_the_server_sees_them() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        let mut reqs = Vec::new();
        for _ in 0..3 {
            reqs.push(String::from_utf8(read_request(&mut s)).unwrap());
            s.write_all(b"HTTP/1.1 200 OK\r\nX-Thing: One\r\ncontent-TYPE: text/plain\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        }
        reqs
    });
    let u = url(port, "/p/a?q=1");
    let mut c = client();
    let headers = vec![
        ("X-Custom".to_string(), "v1".to_string()),
        ("Content-Type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), "999".to_string()),
    ];
    let stop = StopSignal::new();
    let post = Request {
        method: Method::Post,
        url: &u,
        headers: &headers,
        body: b"{\"a\":1}",
        timeout: WAIT,
    };
    let r = c.send(&post, &stop).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-thing"), Some("One"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("missing"), None);
    assert_eq!(r.headers().count(), 3);

    let overrides = vec![
        ("host".to_string(), "example.test".to_string()),
        ("USER-AGENT".to_string(), "mine".to_string()),
    ];
    let get_override = Request {
        headers: &overrides,
        ..get(&u)
    };
    c.send(&get_override, &stop).unwrap();
    let empty_post = Request {
        method: Method::Put,
        body: b"",
        ..get(&u)
    };
    c.send(&empty_post, &stop).unwrap();

    let reqs = srv.join().unwrap();
    let count = |req: &str, name: &str| {
        req.lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .count()
    };
    let first = &reqs[0];
    assert!(first.starts_with("POST /p/a?q=1 HTTP/1.1\r\n"), "{first}");
    assert!(
        first.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")),
        "{first}"
    );
    assert!(first.contains("\r\nUser-Agent: test-agent/1\r\n"));
    assert!(first.contains("\r\nContent-Length: 7\r\n"));
    assert!(first.contains("\r\nX-Custom: v1\r\n"));
    assert!(first.contains("\r\nContent-Type: application/json\r\n"));
    assert!(first.ends_with("\r\n\r\n{\"a\":1}"));
    for name in ["host", "user-agent", "content-length", "content-type"] {
        assert_eq!(count(first, name), 1, "{name} in {first}");
    }
    let second = &reqs[1];
    assert!(second.starts_with("GET /p/a?q=1 HTTP/1.1\r\n"));
    assert!(second.contains("\r\nhost: example.test\r\n"), "{second}");
    assert!(second.contains("\r\nUSER-AGENT: mine\r\n"));
    assert_eq!(count(second, "host"), 1);
    assert_eq!(count(second, "user-agent"), 1);
    assert_eq!(count(second, "content-length"), 0);
    let third = &reqs[2];
    assert!(third.starts_with("PUT "));
    assert!(third.contains("\r\nContent-Length: 0\r\n"));
}

#[test]
fn default_port_is_left_out_of_host() {
    let u = Url::parse("http://localhost/x").unwrap();
    let mut out = Vec::new();
    let cfg = ClientConfig::default();
    wire::write_request(&cfg, &get(&u), None, &mut out).unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("\r\nHost: localhost\r\n"), "{text}");
    let u6 = Url::parse("http://[::1]:8080/").unwrap();
    wire::write_request(&cfg, &get(&u6), None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\r\nHost: [::1]:8080\r\n"), "{text}");
}

#[test]
fn header_injection_is_refused() {
    let u = url(1, "/");
    let bad = vec![("X".to_string(), "a\r\nEvil: 1".to_string())];
    let req = Request {
        headers: &bad,
        ..get(&u)
    };
    assert!(matches!(
        fetch(&mut client(), &req),
        Err(HttpError::InvalidRequest(_))
    ));
}

#[test]
fn chunked_body_with_extensions_and_trailers_in_pieces() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        let pieces: [&[u8]; 6] = [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            b"lo\r\n",
            b"7;ext=1\r\n, world\r\n1",
            b"0\r\n0123456789abcdef\r\n0\r\n",
            b"Trailer-One: x\r\n",
            b"\r\n",
        ];
        for p in pieces {
            s.write_all(p).unwrap();
            s.flush().unwrap();
            thread::sleep(Duration::from_millis(10));
        }
        read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    let (status, body) = fetch(&mut c, &get(&u)).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"hello, world0123456789abcdef");
    // The connection stays usable after the trailers.
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    srv.join().unwrap();
}

#[test]
fn large_bodies_content_length_and_chunked() {
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let expect = big.clone();
    let (port, srv) = server(move |l| {
        let mut s = accept(&l);
        read_request(&mut s);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len());
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&big).unwrap();
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        for part in big.chunks(100_000) {
            s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                .unwrap();
            s.write_all(part).unwrap();
            s.write_all(b"\r\n").unwrap();
        }
        s.write_all(b"0\r\n\r\n").unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, expect);
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, expect);
    srv.join().unwrap();
}

#[test]
fn big_request_body_is_sent_whole() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8 + b'a').collect();
    let expect_len = body.len();
    let (port, srv) = server(move |l| {
        let mut s = accept(&l);
        let req = read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
        req
    });
    let u = url(port, "/");
    let req = Request {
        method: Method::Post,
        body: &body,
        ..get(&u)
    };
    fetch(&mut client(), &req).unwrap();
    let got = srv.join().unwrap();
    let i = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert_eq!(&got[i + 4..], &body[..]);
    assert_eq!(got.len() - i - 4, expect_len);
}

#[test]
fn close_delimited_body_then_reconnect() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nuntil the end")
            .unwrap();
        drop(s);
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(
        fetch(&mut c, &get(&u)).unwrap(),
        (200, b"until the end".to_vec())
    );
    assert_eq!(c.idle_count(), 0);
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    srv.join().unwrap();
}

#[test]
fn interim_100_continue_is_skipped() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        thread::sleep(Duration::from_millis(20));
        s.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    let stop = StopSignal::new();
    let r = c.send(&get(&u), &stop).unwrap();
    assert_eq!((r.status, r.body), (201, &b"ok"[..]));
    assert_eq!(r.head, b"Content-Length: 2\r\n");
    srv.join().unwrap();
}

#[test]
fn head_request_and_204_304_have_no_body() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
            .unwrap();
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")
            .unwrap();
        read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    let head = Request {
        method: Method::Head,
        ..get(&u)
    };
    assert_eq!(fetch(&mut c, &head).unwrap(), (200, vec![]));
    assert_eq!(fetch(&mut c, &get(&u)).unwrap(), (204, vec![]));
    assert_eq!(fetch(&mut c, &get(&u)).unwrap(), (304, vec![]));
    assert_eq!(fetch(&mut c, &get(&u)).unwrap(), (200, b"hello".to_vec()));
    srv.join().unwrap();
}

#[test]
fn connection_close_then_next_request_reconnects() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        // Keep this connection open: the client must not reuse it.
        let mut s2 = accept(&l);
        read_request(&mut s2);
        s2.write_all(OK_HELLO).unwrap();
        drop(s);
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"ok");
    assert_eq!(c.idle_count(), 0);
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    srv.join().unwrap();
}

#[test]
fn http10_keep_alive_only_when_asked() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na")
            .unwrap();
        let mut s2 = accept(&l);
        read_request(&mut s2);
        s2.write_all(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb")
            .unwrap();
        read_request(&mut s2);
        s2.write_all(OK_HELLO).unwrap();
        drop(s);
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"a");
    assert_eq!(c.idle_count(), 0);
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"b");
    assert_eq!(c.idle_count(), 1);
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    srv.join().unwrap();
}

#[test]
fn server_closing_idle_connection_is_retried_transparently() {
    for post in [false, true] {
        let (port, srv) = server(|l| {
            let mut s = accept(&l);
            read_request(&mut s);
            s.write_all(OK_HELLO).unwrap();
            drop(s); // idle keep-alive connection closed by the server
            let mut s = accept(&l);
            let req = read_request(&mut s);
            s.write_all(OK_HELLO).unwrap();
            req
        });
        let u = url(port, "/");
        let mut c = client();
        let req = Request {
            method: if post { Method::Post } else { Method::Get },
            body: if post { b"data" } else { b"" },
            ..get(&u)
        };
        assert_eq!(fetch(&mut c, &req).unwrap().1, b"hello");
        thread::sleep(Duration::from_millis(50)); // let the FIN arrive
        assert_eq!(c.idle_count(), 1);
        assert_eq!(fetch(&mut c, &req).unwrap().1, b"hello");
        let resent = srv.join().unwrap();
        if post {
            assert!(resent.ends_with(b"\r\n\r\ndata"));
        }
    }
}

#[test]
fn server_reset_on_idle_connection_is_retried_transparently() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
        // Unread data on close makes the kernel send RST, not FIN.
        thread::sleep(Duration::from_millis(200));
        drop(s);
        let mut s2 = accept(&l);
        read_request(&mut s2);
        s2.write_all(OK_HELLO).unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    // This request lands on the first connection while the server is not
    // reading; closing it with unread data resets it; the retry reconnects.
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    srv.join().unwrap();
}

#[test]
fn close_mid_response_is_closed_early() {
    let (port, srv) = server(|l| {
        // Fresh connection: head and part of the body, then close.
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            .unwrap();
        drop(s);
        // Reused connection: one good response, then a partial one. Not retried.
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(OK_HELLO).unwrap();
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-").unwrap();
        drop(s);
        try_accept(&l, Duration::from_millis(200)).is_none()
    });
    let u = url(port, "/");
    let mut c = client();
    assert_eq!(fetch(&mut c, &get(&u)), Err(HttpError::ClosedEarly));
    assert_eq!(fetch(&mut c, &get(&u)).unwrap().1, b"hello");
    assert_eq!(fetch(&mut c, &get(&u)), Err(HttpError::ClosedEarly));
    assert!(srv.join().unwrap(), "partial response was retried");
}

#[test]
fn fresh_connection_closed_without_response_is_closed_early() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        drop(s);
        try_accept(&l, Duration::from_millis(200)).is_none()
    });
    let u = url(port, "/");
    assert_eq!(fetch(&mut client(), &get(&u)), Err(HttpError::ClosedEarly));
    assert!(srv.join().unwrap(), "fresh connection was retried");
}

#[test]
fn refused_port_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let u = url(port, "/");
    assert_eq!(fetch(&mut client(), &get(&u)), Err(HttpError::Refused));
}

/// A host name that fails to resolve without any DNS traffic: its first
/// label is 64 octets, one more than DNS allows (RFC 1035 2.3.4), so the
/// resolver refuses to build a query for it (glibc's `getaddrinfo` answers
/// "Name or service not known" with no `connect`/`sendto` to port 53, as
/// `strace -f -e trace=connect,sendto` shows); and under `.invalid`
/// (RFC 6761) it could have no answer anyway. Tests send only to 127.0.0.1.
fn unresolvable_host() -> String {
    format!("{}.invalid", "x".repeat(64))
}

#[test]
fn unknown_host_is_dns() {
    let host = unresolvable_host();
    let u = Url::parse(&format!("http://{host}/")).unwrap();
    assert_eq!(fetch(&mut client(), &get(&u)), Err(HttpError::Dns(host)));
}

#[test]
fn silent_server_gives_read_timeout() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        wait_for_close(&mut s);
    });
    let u = url(port, "/");
    let req = Request {
        timeout: Duration::from_millis(300),
        ..get(&u)
    };
    let t = Instant::now();
    let res = fetch(&mut client(), &req);
    let took = t.elapsed();
    assert_eq!(res, Err(HttpError::ReadTimeout(Duration::from_millis(300))));
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    srv.join().unwrap();
}

#[test]
fn trickling_server_still_times_out() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            .unwrap();
        let t = Instant::now();
        while t.elapsed() < WAIT {
            if s.write_all(b"x").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
    });
    let u = url(port, "/");
    let req = Request {
        timeout: Duration::from_millis(400),
        ..get(&u)
    };
    let t = Instant::now();
    let res = fetch(&mut client(), &req);
    assert_eq!(res, Err(HttpError::ReadTimeout(Duration::from_millis(400))));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    srv.join().unwrap();
}

#[test]
fn abort_cancels_a_hanging_read() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
        wait_for_close(&mut s);
    });
    let u = url(port, "/");
    let stop = Arc::new(StopSignal::new());
    let stop2 = Arc::clone(&stop);
    let aborter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        stop2.abort();
    });
    let req = Request {
        timeout: Duration::from_secs(30),
        ..get(&u)
    };
    let mut c = client();
    let t = Instant::now();
    let res = c.send(&req, &stop).map(|r| r.status);
    let took = t.elapsed();
    assert_eq!(res, Err(HttpError::Cancelled));
    assert!(took < Duration::from_secs(1), "{took:?}");
    aborter.join().unwrap();
    srv.join().unwrap();
    // Once aborted, nothing new is sent.
    assert_eq!(
        c.send(&req, &stop).map(|r| r.status),
        Err(HttpError::Cancelled)
    );
}

#[test]
fn head_larger_than_the_initial_buffer_is_read() {
    let big_value = "v".repeat(40_000);
    let (port, srv) = server(move |l| {
        let mut s = accept(&l);
        read_request(&mut s);
        let resp = format!("HTTP/1.1 200 OK\r\nX-Big: {big_value}\r\nContent-Length: 2\r\n\r\nok");
        s.write_all(resp.as_bytes()).unwrap();
    });
    let u = url(port, "/");
    let mut c = client();
    let stop = StopSignal::new();
    let r = c.send(&get(&u), &stop).unwrap();
    assert_eq!(r.header("x-big").map(str::len), Some(40_000));
    assert_eq!(r.body, b"ok");
    srv.join().unwrap();
}

#[test]
fn garbage_responses_are_protocol_errors() {
    let huge_head = {
        let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
        while v.len() < 70 * 1024 {
            v.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        v
    };
    let cases: Vec<Vec<u8>> = vec![
        b"this is not http\r\n\r\n".to_vec(),
        b"HTTP/1.1 OK\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX".to_vec(),
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec(),
        b"\x00\x01\x02\xff\xfe\r\n\r\n".to_vec(),
        huge_head,
        [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            &[b'1'; 20_000],
        ]
        .concat(),
    ];
    let n = cases.len();
    let (port, srv) = server(move |l| {
        for case in cases {
            let mut s = accept(&l);
            read_request(&mut s);
            let _ = s.write_all(&case);
            wait_for_close(&mut s);
        }
    });
    let u = url(port, "/");
    let mut c = client();
    for i in 0..n {
        let res = fetch(&mut c, &get(&u));
        assert!(
            matches!(res, Err(HttpError::Protocol(_))),
            "case {i}: {res:?}"
        );
    }
    srv.join().unwrap();
}

#[test]
fn https_to_a_plain_http_port_is_a_tls_error() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let u = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    let res = fetch(&mut client(), &get(&u));
    assert!(
        matches!(res, Err(HttpError::Tls(_) | HttpError::Protocol(_))),
        "{res:?}"
    );
    srv.join().unwrap();
}

#[test]
fn https_to_a_closed_port_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let u = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    assert_eq!(fetch(&mut client(), &get(&u)), Err(HttpError::Refused));
}

#[test]
fn https_unknown_host_is_dns() {
    let host = unresolvable_host();
    let u = Url::parse(&format!("https://{host}/")).unwrap();
    assert_eq!(fetch(&mut client(), &get(&u)), Err(HttpError::Dns(host)));
}

/// Counts heap allocations per thread, to check the plain-HTTP fast path
/// makes none. (Test-only; the `unsafe` just forwards to the system allocator.)
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }

    fn bump() {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }

    pub struct Counting;

    // SAFETY: every call forwards unchanged to `System`.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            bump();
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            bump();
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            bump();
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Allocations made by this thread so far.
    pub fn count() -> u64 {
        COUNT.with(Cell::get)
    }
}

#[test]
fn keep_alive_requests_do_not_allocate() {
    const N: usize = 30;
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        for i in 0..N {
            read_request(&mut s);
            if i % 2 == 0 {
                s.write_all(b"HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\n\r\nhello")
                    .unwrap();
            } else {
                s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n")
                    .unwrap();
            }
        }
    });
    let u = url(port, "/some/path?x=1");
    let headers = vec![("Accept".to_string(), "*/*".to_string())];
    let req = Request {
        method: Method::Post,
        headers: &headers,
        body: b"payload",
        ..get(&u)
    };
    let stop = StopSignal::new();
    let mut c = client();
    let measure = |c: &mut Client| {
        let before = alloc_count::count();
        let r = c.send(&req, &stop).unwrap();
        assert_eq!((r.status, r.body), (200, &b"hello"[..]));
        alloc_count::count() - before
    };
    // Warm-up: resolve, connect, grow buffers. (Also shows the counter counts.)
    assert!(measure(&mut c) > 0);
    for _ in 1..4 {
        measure(&mut c);
    }
    let allocs: u64 = (4..N).map(|_| measure(&mut c)).sum();
    assert_eq!(allocs, 0, "allocations in {} keep-alive requests", N - 4);
    srv.join().unwrap();
}

#[test]
fn mutated_responses_never_panic_or_hang() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    const CASES: usize = 150;
    let seeds: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n",
        b"HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\nbody until close",
    ];
    let mut rng = SmallRng::seed_from_u64(0x10ad);
    let cases: Vec<Vec<u8>> = (0..CASES)
        .map(|i| {
            let mut v = seeds[i % seeds.len()].to_vec();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(0..v.len());
                match rng.random_range(0..3) {
                    0 => v[at] = rng.random(),
                    1 => {
                        v.remove(at);
                    }
                    _ => v.insert(at, *b"\r\n:0 ;f-".get(rng.random_range(0..8)).unwrap()),
                }
            }
            v
        })
        .collect();
    let sent = cases.clone();
    let (port, srv) = server(move |l| {
        for case in cases {
            let mut s = accept(&l);
            read_request(&mut s);
            let _ = s.write_all(&case);
            // Closing ends any response the client still waits on.
        }
    });
    let u = url(port, "/");
    let mut c = client();
    let t = Instant::now();
    // Each case is a parsed response, a malformed one, or one cut short by
    // the close: never a transport, URL, TLS or timeout error.
    let (mut parsed, mut malformed, mut cut_short) = (0, 0, 0);
    for (i, case) in sent.iter().enumerate() {
        c.close_idle(); // one connection per case, like the server
        match fetch(&mut c, &get(&u)) {
            Ok((status, _)) => {
                // 1xx are interim: a final status has three digits, 200 or more.
                assert!(
                    (200..1000).contains(&status),
                    "case {i}: status {status} from {:?}",
                    String::from_utf8_lossy(case)
                );
                parsed += 1;
            }
            Err(HttpError::Protocol(_)) => malformed += 1,
            Err(HttpError::ClosedEarly) => cut_short += 1,
            Err(e) => panic!(
                "case {i}: unexpected {e:?} from {:?}",
                String::from_utf8_lossy(case)
            ),
        }
    }
    assert!(t.elapsed() < Duration::from_secs(10));
    // The seeded mutations reach all three outcomes.
    assert!(
        parsed > 0 && malformed > 0 && cut_short > 0,
        "parsed {parsed}, malformed {malformed}, cut short {cut_short}"
    );
    srv.join().unwrap();
}

#[test]
fn basic_auth_is_base64_of_user_colon_password() {
    assert_eq!(super::basic_auth("user", "pass"), "Basic dXNlcjpwYXNz");
    assert_eq!(super::basic_auth("a", ""), "Basic YTo=");
    assert_eq!(super::basic_auth("ab", "c"), "Basic YWI6Yw==");
}

fn proxied_client(proxy: &str) -> Client {
    let p = proxy::Proxy::parse(proxy).unwrap();
    Client::new(ClientConfig {
        proxies: Some(Arc::new(proxy::Proxies::all(p))),
        ..ClientConfig::default()
    })
}

#[test]
fn plain_http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
    // The target's name is never resolved: only the proxy is connected to.
    let target = unresolvable_host();
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        let mut reqs = Vec::new();
        for _ in 0..2 {
            reqs.push(String::from_utf8(read_request(&mut s)).unwrap());
            s.write_all(OK_HELLO).unwrap();
        }
        reqs
    });
    let mut c = proxied_client(&format!("http://al%40ice:pw@127.0.0.1:{port}"));
    let u = Url::parse(&format!("http://{target}:8080/a?b=1")).unwrap();
    assert_eq!(fetch(&mut c, &get(&u)), Ok((200, b"hello".to_vec())));
    // The same keep-alive connection to the proxy carries the next one.
    assert_eq!(fetch(&mut c, &get(&u)), Ok((200, b"hello".to_vec())));
    let reqs = srv.join().unwrap();
    for r in &reqs {
        assert!(
            r.starts_with(&format!("GET http://{target}:8080/a?b=1 HTTP/1.1\r\n")),
            "{r}"
        );
        assert!(r.contains(&format!("\r\nHost: {target}:8080\r\n")), "{r}");
        // base64("al@ice:pw")
        assert!(
            r.contains("\r\nProxy-Authorization: Basic YWxAaWNlOnB3\r\n"),
            "{r}"
        );
    }
}

#[test]
fn a_proxy_refusing_the_tunnel_fails_in_plain_words() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        let req = String::from_utf8(read_request(&mut s)).unwrap();
        s.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        req
    });
    let mut c = proxied_client(&format!("http://u:secret@127.0.0.1:{port}"));
    let u = Url::parse("https://api.example:8443/x").unwrap();
    let err = fetch(&mut c, &get(&u)).unwrap_err();
    let req = srv.join().unwrap();
    assert!(
        req.starts_with("CONNECT api.example:8443 HTTP/1.1\r\nHost: api.example:8443\r\n"),
        "{req}"
    );
    assert!(
        req.contains("Proxy-Authorization: Basic dTpzZWNyZXQ="),
        "{req}"
    );
    let HttpError::Proxy(407, text) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        text,
        &format!("proxy http://u:***@127.0.0.1:{port} refused the tunnel to api.example:8443: 407 Proxy Authentication Required (give the proxy's user:password in its URL)")
    );
}

#[test]
fn a_proxy_closing_instead_of_tunneling_is_a_proxy_failure() {
    let (port, srv) = server(|l| {
        let mut s = accept(&l);
        read_request(&mut s);
    });
    let mut c = proxied_client(&format!("http://127.0.0.1:{port}"));
    let u = Url::parse("https://api.example/").unwrap();
    let err = fetch(&mut c, &get(&u)).unwrap_err();
    srv.join().unwrap();
    assert!(
        matches!(&err, HttpError::Proxy(0, t) if t.contains("closed the connection instead of opening a tunnel to api.example:443")),
        "{err:?}"
    );
}
