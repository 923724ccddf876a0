//! Forward proxies and name lookups, against an in-process counting proxy on
//! 127.0.0.1. The proxy answers plain requests itself (counting those sent
//! to it as a proxy, in absolute form, apart from those sent to it as a
//! server) and opens `CONNECT` tunnels to 127.0.0.1 only, whatever host is
//! asked for, so every byte stays on this machine.

use crate::common::{self, n, Plan};
use crate::tls::{error, fixture_str, server as tls_server, ClientAuth};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy saw.
#[derive(Default)]
struct Seen {
    /// Requests sent to it as a proxy (`GET http://...`).
    proxied: Vec<String>,
    /// Requests sent to it as a server (`GET /...`).
    direct: usize,
    /// `CONNECT` targets it opened tunnels to.
    tunnels: Vec<String>,
    /// `Proxy-Authorization` values it was given.
    credentials: Vec<String>,
}

/// A proxy that wants `Proxy-Authorization: <required>` when given one.
fn proxy(required: Option<&'static str>) -> (u16, Arc<Mutex<Seen>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        while let Ok((s, _)) = l.accept() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(s, &log, required));
        }
    });
    (port, seen)
}

fn serve(mut s: TcpStream, log: &Mutex<Seen>, required: Option<&str>) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        buf.drain(..end + 4);
        let line = head.lines().next().unwrap_or("").to_string();
        let auth = head
            .lines()
            .find_map(|l| l.strip_prefix("Proxy-Authorization: "))
            .map(str::to_string);
        let mut seen = log.lock().unwrap();
        if let Some(a) = &auth {
            seen.credentials.push(a.clone());
        }
        if required.is_some() && auth.as_deref() != required {
            drop(seen);
            let _ = s.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        if let Some(target) = line
            .strip_prefix("CONNECT ")
            .and_then(|r| r.strip_suffix(" HTTP/1.1"))
        {
            seen.tunnels.push(target.to_string());
            drop(seen);
            let port = target.rsplit_once(':').unwrap().1;
            let up = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
            s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .unwrap();
            let (mut down, mut to_up) = (s.try_clone().unwrap(), up.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut down, &mut to_up));
            let (mut from_up, mut to_down) = (up, s);
            let _ = std::io::copy(&mut from_up, &mut to_down);
            return;
        }
        if line.starts_with("GET http://") {
            seen.proxied.push(line);
        } else {
            seen.direct += 1;
        }
        drop(seen);
        if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// A host no resolver answers for, at once and without asking a DNS server
/// (a label over 63 octets).
fn unresolvable() -> String {
    format!("{}.invalid", "p".repeat(64))
}

/// One user, `passes` passes of a GET to `url`; the task's summary and the run.
fn run(
    url: &str,
    test_extra: &str,
    passes: u64,
    dir: &str,
    env: &[(&str, String)],
) -> (serde_json::Value, common::Run) {
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": {passes}, "expect_requests": false {test_extra},
            "tasks": [{{"name": "t", "request_url": "{url}"}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"]);
    let d = common::scratch_dir("proxy", dir);
    let mut cmd = plan.command(&d);
    for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        cmd.env_remove(var).env_remove(var.to_ascii_uppercase());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = common::Run::of(cmd);
    (r.summary()["by_name"]["t"].clone(), r)
}

#[test]
fn http_proxy_from_the_environment_carries_requests_and_no_proxy_bypasses_it() {
    let (port, seen) = proxy(None);
    let host = unresolvable();
    let url = format!("http://{host}:8080/a");
    let env = vec![("HTTP_PROXY", format!("http://127.0.0.1:{port}"))];
    let (t, r) = run(&url, "", 4, "env_proxy", &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((n(&t["requests"]), n(&t["failures"])), (4, 0), "{t}");
    assert_eq!(
        seen.lock().unwrap().proxied,
        vec![format!("GET http://{host}:8080/a HTTP/1.1"); 4]
    );
    assert!(
        r.stderr.contains(&format!(
            "requests go through proxy http://127.0.0.1:{port} for http:// (from the environment"
        )),
        "{}",
        r.stderr
    );
    // NO_PROXY names the domain: the request goes straight to a name that
    // does not resolve, and fails at once in words.
    let mut env2 = env.clone();
    env2.push(("no_proxy", "localhost,.invalid".to_string()));
    let (t, r) = run(&url, "", 3, "no_proxy", &env2);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 3, "{t}");
    assert_eq!(error(&t), format!("could not resolve host {host}"));
    assert_eq!(seen.lock().unwrap().proxied.len(), 4);
    // A loopback target never goes through an environment proxy.
    let (t, r) = run(
        &format!("http://127.0.0.1:{port}/"),
        "",
        2,
        "loopback",
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
    let s = seen.lock().unwrap();
    assert_eq!((s.proxied.len(), s.direct), (4, 2));
}

#[test]
fn a_tests_own_proxy_tunnels_https_with_connect_and_hides_its_password() {
    let tls_port = tls_server("server", ClientAuth::None);
    let (port, seen) = proxy(Some("Basic dTpzM2NyZXQ="));
    let ca = fixture_str("ca.pem");
    let url = format!("https://localhost:{tls_port}/");
    let extra = format!(r#", "verify": "{ca}", "proxy": "http://u:s3cret@127.0.0.1:{port}""#);
    let (t, r) = run(&url, &extra, 3, "tunnel", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((n(&t["requests"]), n(&t["failures"])), (3, 0), "{t}");
    // One tunnel, kept alive for all three requests.
    assert_eq!(
        seen.lock().unwrap().tunnels,
        vec![format!("localhost:{tls_port}")]
    );
    assert!(
        r.stderr.contains(&format!(
            "requests go through proxy http://u:***@127.0.0.1:{port}"
        )),
        "{}",
        r.stderr
    );
    // A wrong password: the proxy's 407, in words, and no password printed.
    let extra = format!(r#", "verify": "{ca}", "proxy": "http://u:wrong@127.0.0.1:{port}""#);
    let (t, r) = run(&url, &extra, 2, "tunnel_407", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 2, "{t}");
    assert_eq!(
        error(&t),
        format!("proxy http://u:***@127.0.0.1:{port} refused the tunnel to localhost:{tls_port}: 407 Proxy Authentication Required (give the proxy's user:password in its URL)")
    );
    let summary = std::fs::read_to_string(r.file("summary.json")).unwrap();
    for text in [&r.stdout, &r.stderr, &summary] {
        assert!(!text.contains("wrong"), "{text}");
    }
}

#[test]
fn proxy_false_ignores_the_environment_and_bad_proxies_stop_the_plan() {
    let (port, seen) = proxy(None);
    let host = unresolvable();
    let env = vec![("HTTP_PROXY", format!("http://127.0.0.1:{port}"))];
    let (t, _) = run(
        &format!("http://{host}/"),
        r#", "proxy": false"#,
        1,
        "off",
        &env,
    );
    assert_eq!(error(&t), format!("could not resolve host {host}"));
    assert!(seen.lock().unwrap().proxied.is_empty());
    // A proxy the tool cannot use is a plan problem: nothing runs (exit 2).
    let d = common::scratch_dir("proxy", "bad");
    let r = common::Run::of(
        Plan::new(
            r#"["LD_start_test", {"user_count": 1, "iterations": 1, "proxy": "socks5://u:pw@127.0.0.1:1080",
                "tasks": [{"request_url": "http://127.0.0.1:9/"}]}]"#,
        )
        .command(&d),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("args.proxy"), "{}", r.stderr);
    assert!(
        r.stderr.contains("socks5:// proxies are not supported"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(":pw@"), "{}", r.stderr);
    let mut cmd = Plan::new(
        r#"["LD_start_test", {"user_count": 1, "iterations": 1,
            "tasks": [{"request_url": "http://127.0.0.1:9/"}]}]"#,
    )
    .command(&d);
    cmd.env_remove("https_proxy")
        .env("HTTPS_PROXY", "ftp://proxy.internal");
    let r = common::Run::of(cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("environment variable HTTPS_PROXY: proxy \"ftp://proxy.internal\""),
        "{}",
        r.stderr
    );
}

#[test]
fn an_unknown_host_fails_fast_instead_of_stretching_the_test() {
    let host = unresolvable();
    let plan = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 4, "spawn_rate": 100, "test_time": 2, "expect_requests": false,
            "tasks": [{{"name": "t", "request_url": "http://{host}/"}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"]);
    let r = plan.run_in(&common::scratch_dir("proxy", "dns"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = &r.summary()["by_name"]["t"];
    assert!(n(&t["failures"]) > 10, "{t}");
    assert_eq!(error(t), format!("could not resolve host {host}"));
    assert!(r.took < Duration::from_secs(4), "took {:?}", r.took);
}
