//! TLS as services need it, against an in-process rustls server on
//! 127.0.0.1 with the certificates in `tests/fixtures/tls` (a test CA, a
//! server and a client certificate it signed, one for another host, an
//! expired one, and a self-signed one). The machine's trust store is never
//! touched: the "system store" is pointed at a file with `SSL_CERT_FILE`.

use crate::common::{self, n, Plan};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

pub(crate) fn fixture_str(name: &str) -> String {
    fixture(name).display().to_string()
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("tls", name)
}

/// Who the server asks for a client certificate.
pub(crate) enum ClientAuth {
    None,
    /// Required, signed by the test CA.
    Required,
}

/// A keep-alive HTTPS server presenting `cert` (a fixture stem); it answers
/// every request `200 ok` and lives as long as the test process.
pub(crate) fn server(cert: &str, auth: ClientAuth) -> u16 {
    serve(cert, auth, false).0
}

/// As [`server`]; with `close`, each response closes its connection. Also
/// returns how many handshakes resumed a session.
fn serve(cert: &str, auth: ClientAuth, close: bool) -> (u16, Arc<AtomicUsize>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture(&format!("{cert}.pem")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{cert}.key"))).unwrap();
    let builder = rustls::ServerConfig::builder();
    let builder = match auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let resumed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&resumed);
    std::thread::spawn(move || {
        while let Ok((s, _)) = l.accept() {
            let config = Arc::clone(&config);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, s);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => buf.extend_from_slice(&chunk[..k]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if tls.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        let reply: &[u8] = if close {
                            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
                        } else {
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                        };
                        if tls.write_all(reply).and_then(|_| tls.flush()).is_err() || close {
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, resumed)
}

/// One user, `passes` passes of one GET to `url` with the task fields
/// `extra` (and the test fields `test_extra`).
fn plan(url: &str, extra: &str, test_extra: &str, passes: u64) -> Plan {
    Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": {passes}, "expect_requests": false {test_extra},
            "tasks": [{{"name": "t", "request_url": "{url}" {extra}}}]}}]"#
    ))
    .flags(&["--failure-budget", "off"])
}

/// A run's task summary and its stderr.
fn run(plan: Plan, dir: &str, env: &[(&str, String)]) -> (serde_json::Value, common::Run) {
    let d = scratch(dir);
    let mut cmd = plan.command(&d);
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = common::Run::of(cmd);
    (r.summary()["by_name"]["t"].clone(), r)
}

pub(crate) fn error(t: &serde_json::Value) -> String {
    t["top_errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Plain words: no Rust debug text in a failure.
fn assert_plain(msg: &str) {
    for debug in [
        "Other(",
        "OtherError",
        "InvalidCertificate",
        "AlertReceived",
        "{",
        "::",
    ] {
        assert!(!msg.contains(debug), "debug text in {msg:?}");
    }
}

#[test]
fn a_ca_bundle_path_is_trusted() {
    let port = server("server", ClientAuth::None);
    let url = format!("https://127.0.0.1:{port}/");
    let ca = fixture_str("ca.pem");
    let (t, r) = run(
        plan(&url, &format!(r#", "verify": "{ca}""#), "", 3),
        "ca_bundle",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["requests"]), 3, "{t}");
    assert_eq!(n(&t["failures"]), 0, "{t}");
    // The test-level default works too, for `localhost` as well.
    let url = format!("https://localhost:{port}/");
    let (t, r) = run(
        plan(&url, "", &format!(r#", "verify": "{ca}""#), 2),
        "ca_bundle_test_level",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
}

#[test]
fn verify_false_takes_a_self_signed_certificate_and_says_so_once() {
    let port = server("self", ClientAuth::None);
    let url = format!("https://127.0.0.1:{port}/");
    let (t, r) = run(plan(&url, r#", "verify": false"#, "", 3), "verify_off", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
    assert_eq!(
        r.stderr
            .matches("TLS certificates are not verified")
            .count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn default_verification_refuses_a_self_signed_certificate_in_plain_words() {
    let port = server("self", ClientAuth::None);
    let url = format!("https://127.0.0.1:{port}/");
    let (t, r) = run(plan(&url, "", "", 1), "self_signed", &[]);
    assert_eq!(n(&t["failures"]), 1, "{t}");
    let msg = error(&t);
    assert!(
        msg.contains("self-signed certificate") || msg.contains("unknown authority"),
        "{msg}"
    );
    assert_plain(&msg);
    assert!(!r.stderr.contains("not verified"), "{}", r.stderr);
}

#[test]
fn certificate_failures_read_as_words() {
    let ca = fixture_str("ca.pem");
    let verify = format!(r#", "verify": "{ca}""#);
    for (cert, words) in [
        ("expired", "certificate has expired"),
        ("other", "certificate is not valid for host \"127.0.0.1\""),
    ] {
        let port = server(cert, ClientAuth::None);
        let url = format!("https://127.0.0.1:{port}/");
        let (t, _) = run(plan(&url, &verify, "", 1), cert, &[]);
        let msg = error(&t);
        assert!(msg.contains(words), "{cert}: {msg}");
        assert_plain(&msg);
    }
}

#[test]
fn mtls_passes_with_a_client_certificate_and_fails_plainly_without() {
    let port = server("server", ClientAuth::Required);
    let url = format!("https://127.0.0.1:{port}/");
    let ca = fixture_str("ca.pem");
    let pair = format!(
        r#", "verify": "{ca}", "cert": ["{}", "{}"]"#,
        fixture_str("client.pem"),
        fixture_str("client.key")
    );
    let (t, r) = run(plan(&url, &pair, "", 3), "mtls_pair", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
    // One file holding both, under LoadDensity's other name, on the test.
    let bundle = format!(
        r#", "verify": "{ca}", "client_cert": "{}""#,
        fixture_str("client-bundle.pem")
    );
    let (t, r) = run(plan(&url, "", &bundle, 2), "mtls_bundle", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");

    let (t, _) = run(
        plan(&url, &format!(r#", "verify": "{ca}""#), "", 1),
        "mtls_none",
        &[],
    );
    assert_eq!(n(&t["failures"]), 1, "{t}");
    let msg = error(&t);
    assert!(msg.contains("requires a client certificate"), "{msg}");
    assert_plain(&msg);
}

#[test]
fn the_system_store_is_trusted_by_default() {
    let port = server("server", ClientAuth::None);
    let url = format!("https://127.0.0.1:{port}/");
    // The test CA as the "system" store.
    let (t, r) = run(
        plan(&url, "", "", 2),
        "system_store",
        &[("SSL_CERT_FILE", fixture_str("ca.pem"))],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
    // An unreadable store falls back to the bundled web roots, which do not
    // know the test CA.
    let (t, _) = run(
        plan(&url, "", "", 1),
        "system_store_missing",
        &[("SSL_CERT_FILE", fixture_str("no-such-file.pem"))],
    );
    let msg = error(&t);
    assert!(
        msg.contains("certificate signed by an unknown authority"),
        "{msg}"
    );
}

#[test]
fn tls_files_are_read_at_validation() {
    let missing = fixture_str("no-such-file.pem");
    let not_pem = fixture_str("../users.csv");
    for (extra, path, field) in [
        (format!(r#", "verify": "{missing}""#), &missing, "verify"),
        (format!(r#", "cert": "{not_pem}""#), &not_pem, "cert"),
        (
            format!(
                r#", "cert": ["{}", "{missing}"]"#,
                fixture_str("client.pem")
            ),
            &missing,
            "cert",
        ),
    ] {
        let d = scratch("validation");
        let r = plan("https://127.0.0.1:9/", &extra, "", 1).run_in(&d);
        assert_eq!(r.code, 2, "{extra}: {}", r.stderr);
        assert!(r.stderr.contains(path.as_str()), "{extra}: {}", r.stderr);
        assert!(r.stderr.contains(field), "{extra}: {}", r.stderr);
    }
    // Both wrong: both said at once.
    let d = scratch("validation_both");
    let extra = format!(r#", "verify": "{missing}", "cert": "{not_pem}""#);
    let r = plan("https://127.0.0.1:9/", &extra, "", 1).run_in(&d);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("verify: {missing}")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!("cert: {not_pem}")),
        "{}",
        r.stderr
    );
}

#[test]
fn a_user_that_reconnects_resumes_its_tls_session() {
    let (port, resumed) = serve("server", ClientAuth::None, true);
    let url = format!("https://127.0.0.1:{port}/");
    let ca = fixture_str("ca.pem");
    let (t, r) = run(
        plan(&url, &format!(r#", "verify": "{ca}""#), "", 4),
        "resumption",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(n(&t["failures"]), 0, "{t}");
    // Four connections: the first a full handshake, the others resumed.
    assert_eq!(resumed.load(Ordering::SeqCst), 3);
}
