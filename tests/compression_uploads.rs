//! Compressed responses are decoded only when a check reads them (and never
//! past `max_body_bytes`); `files` uploads go as `multipart/form-data`.

use crate::common::{self, n, Plan};
use loaddensity::demo_server::DemoServer;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("compression_uploads", name)
}

/// Runs one test of `tasks` (a JSON list) against `srv`, `iterations` times.
fn run(srv: &DemoServer, dir: &std::path::Path, iterations: u32, tasks: &str) -> common::Run {
    Plan::new(format!(
        r#"["LD_start_test", {{"user_count": 1, "iterations": {iterations}, "host": "{}",
            "tasks": {tasks}}}]"#,
        srv.base_url()
    ))
    .flags(&["--failure-budget", "off"])
    .run_in(dir)
}

#[test]
fn gzip_and_deflate_bodies_are_decoded_for_the_checks() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("decoded");
    let r = run(
        &srv,
        &d,
        3,
        r#"[{"url": "/gzip", "name": "gzip",
              "assertions": {"json_path": {"items.1.name": "beta"}, "contains": "alpha",
                             "header": {"Content-Encoding": "gzip"}}},
            {"url": "/deflate", "name": "deflate",
              "assertions": {"json_path": {"nested.flag": true}},
              "extract": [{"var": "n", "from": "json_path", "path": "count"}]},
            {"url": "/gzip", "name": "identity", "headers": {"Accept-Encoding": "identity"},
              "assertions": {"json_path": {"count": 2}, "header": {"Content-Type": "json"}}}]"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    for name in ["gzip", "deflate", "identity"] {
        assert_eq!(n(&b[name]["requests"]), 3, "{name}: {}", b[name]);
        assert_eq!(n(&b[name]["failures"]), 0, "{name}: {}", b[name]);
    }
    // `bytes` counts the body as it came: compressed, smaller than the JSON.
    let plain = loaddensity::demo_server::JSON_DOC.len() as u64;
    assert_eq!(n(&b["identity"]["bytes"]), 3 * plain);
    assert!(n(&b["gzip"]["bytes"]) != 3 * plain, "{}", b["gzip"]);
    // `decoded_bytes` counts it as the checks read it: the JSON itself.
    for name in ["gzip", "deflate", "identity"] {
        assert_eq!(
            n(&b[name]["decoded_bytes"]),
            3 * plain,
            "{name}: {}",
            b[name]
        );
    }
}

#[test]
fn a_decompression_bomb_fails_plainly_and_an_unread_one_is_never_decoded() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("bomb");
    let r = run(
        &srv,
        &d,
        2,
        r#"[{"url": "/bomb/50000000", "name": "read", "max_body_bytes": 1000000,
              "assertions": {"contains": "x"}},
            {"url": "/bomb/50000000", "name": "unread", "max_body_bytes": 1000000,
              "assertions": {"status_code": 200}},
            {"url": "/encoded/br", "name": "br", "assertions": {"contains": "x"}},
            {"url": "/encoded/br", "name": "br unread"}]"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    assert_eq!(n(&b["read"]["failures"]), 2, "{}", b["read"]);
    assert_eq!(n(&b["read"]["failures_by_kind"]["protocol"]), 2);
    assert_eq!(
        b["read"]["top_errors"][0]["message"],
        "decoded body larger than max_body_bytes (1000000 bytes)"
    );
    // Nothing reads it: counted as it came (about 50 KB of gzip), not decoded,
    // so it does not fail.
    assert_eq!(n(&b["unread"]["failures"]), 0, "{}", b["unread"]);
    let wire = n(&b["unread"]["bytes"]);
    assert!(wire > 0 && wire < 1_000_000, "{wire}");
    assert_eq!(n(&b["unread"]["decoded_bytes"]), wire, "{}", b["unread"]);
    assert_eq!(n(&b["br"]["failures"]), 2, "{}", b["br"]);
    assert_eq!(
        b["br"]["top_errors"][0]["message"],
        "unsupported Content-Encoding \"br\""
    );
    assert_eq!(n(&b["br unread"]["failures"]), 0, "{}", b["br unread"]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn files_upload_as_multipart_form_data_the_server_parses() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("upload");
    let bin: Vec<u8> = (0..=255u8)
        .chain(b"\r\n--not a boundary\r\n".iter().copied())
        .collect();
    std::fs::write(d.join("blob.bin"), &bin).unwrap();
    std::fs::create_dir_all(d.join("docs")).unwrap();
    std::fs::write(d.join("docs/note.txt"), b"hello upload").unwrap();
    let tasks = format!(
        r#"[{{"url": "/multipart", "method": "post", "name": "upload",
              "files": {{"blob": {{"path": "blob.bin", "filename": "renamed.dat", "content_type": "application/x-test"}},
                         "note": "docs/note.txt"}},
              "data": {{"kind": "report", "run": "${{uuid()}}"}},
              "assertions": {{"json_path": {{
                  "files.0.field": "blob", "files.0.filename": "renamed.dat",
                  "files.0.content_type": "application/x-test", "files.0.size": {},
                  "files.0.hex": "{}",
                  "files.1.filename": "note.txt", "files.1.content_type": "text/plain",
                  "files.1.hex": "{}",
                  "fields.kind": "report"}}}}}},
            {{"url": "/multipart", "method": "post", "name": "constant",
              "files": {{"note": "docs/note.txt"}},
              "assertions": {{"json_path": {{"files.0.size": 12}}}}}}]"#,
        bin.len(),
        hex(&bin),
        hex(b"hello upload"),
    );
    let r = run(&srv, &d, 2, &tasks);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b = &r.summary()["by_name"];
    for name in ["upload", "constant"] {
        assert_eq!(n(&b[name]["requests"]), 2, "{name}: {}", b[name]);
        assert_eq!(n(&b[name]["failures"]), 0, "{name}: {}", b[name]);
    }
}

#[test]
fn a_missing_upload_file_is_a_validation_problem() {
    let srv = DemoServer::start(0).unwrap();
    let d = scratch("missing");
    let r = run(
        &srv,
        &d,
        1,
        r#"[{"url": "/multipart", "method": "post", "files": {"doc": "nowhere/missing.pdf"}}]"#,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("files.doc") && r.stderr.contains("\"nowhere/missing.pdf\" not found"),
        "{}",
        r.stderr
    );
    assert_eq!(srv.hits("/multipart"), 0);
}
