//! Redirects are followed (like Python requests) as one logical request, and
//! each user keeps its own cookie jar.

use crate::common::{self, n, Plan};
use loaddensity::demo_server::DemoServer;
use serde_json::Value;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir("redirects_cookies", name)
}

/// Runs one bounded test of `tasks` (a JSON list) against `srv` and returns
/// its summary's `by_name`.
fn run(srv: &DemoServer, users: u32, extra: &str, tasks: &str, dir: &str) -> Value {
    let r = Plan::new(format!(
        r#"["LD_start_test", {{"user_count": {users}, "spawn_rate": {users}, "iterations": 1, "host": "{}", "failure_budget": false {extra},
            "tasks": {tasks}}}]"#,
        srv.base_url()
    ))
    .run_in(&scratch(dir));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    r.summary()["by_name"].clone()
}

fn failures(b: &Value, name: &str) -> u64 {
    n(&b[name]["failures"])
}

fn first_error(b: &Value, name: &str) -> String {
    b[name]["top_errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_redirect_chain_is_followed_as_one_request() {
    let srv = DemoServer::start(0).unwrap();
    let b = run(
        &srv,
        1,
        "",
        r#"[{"url": "/redirect/3", "name": "chain", "assertions": {"status_code": 200, "contains": "ok"}}]"#,
        "chain",
    );
    assert_eq!(n(&b["chain"]["requests"]), 1, "{b}");
    assert_eq!(failures(&b, "chain"), 0, "{b}");
    for hop in ["/redirect/3", "/redirect/2", "/redirect/1", "/ok"] {
        assert_eq!(srv.hits(hop), 1, "{hop}");
    }
}

#[test]
fn a_redirect_loop_fails_with_too_many_redirects() {
    let srv = DemoServer::start(0).unwrap();
    let b = run(
        &srv,
        1,
        r#", "max_redirects": 5"#,
        r#"[{"url": "/redirect-loop", "name": "loop"},
            {"url": "/redirect/3", "name": "short", "max_redirects": 2},
            {"url": "/redirect/30", "name": "default", "max_redirects": 30}]"#,
        "loop",
    );
    assert_eq!(failures(&b, "loop"), 1, "{b}");
    assert_eq!(first_error(&b, "loop"), "too many redirects (5)");
    assert_eq!(srv.hits("/redirect-loop"), 6);
    assert_eq!(first_error(&b, "short"), "too many redirects (2)");
    assert_eq!(failures(&b, "default"), 0, "{b}");
}

#[test]
fn see_other_turns_post_into_get_and_307_keeps_post_and_body() {
    let srv = DemoServer::start(0).unwrap();
    let b = run(
        &srv,
        1,
        "",
        r#"[{"method": "post", "url": "/redirect-to?url=/echo&status=303", "name": "303", "json": {"a": 1},
             "assertions": {"json_path": {"method": "GET", "body": ""}, "not_contains": "content-type"}},
            {"method": "post", "url": "/redirect-to?url=/echo&status=307", "name": "307", "json": {"a": 1},
             "assertions": {"json_path": {"method": "POST", "body": "{\"a\":1}", "headers.content-type": "application/json"}}},
            {"method": "put", "url": "/redirect-to?url=/echo&status=308", "name": "308", "data": "x",
             "assertions": {"json_path": {"method": "PUT", "body": "x"}}}]"#,
        "methods",
    );
    for name in ["303", "307", "308"] {
        assert_eq!(failures(&b, name), 0, "{name}: {}", b[name]);
    }
}

#[test]
fn allow_redirects_false_records_the_redirect_itself() {
    let srv = DemoServer::start(0).unwrap();
    let b = run(
        &srv,
        1,
        "",
        r#"[{"url": "/redirect/1", "name": "off", "allow_redirects": false, "assertions": {"status_code": 302}}]"#,
        "off",
    );
    assert_eq!(failures(&b, "off"), 0, "{b}");
    assert_eq!(srv.hits("/ok"), 0);
}

#[test]
fn a_cross_origin_redirect_drops_authorization() {
    let srv = DemoServer::start(0).unwrap();
    let other = DemoServer::start(0).unwrap();
    let to = format!("{}/echo", other.base_url()).replace(':', "%3A");
    let tasks = format!(
        r#"[{{"url": "/redirect-to?url={to}", "name": "away", "headers": {{"Authorization": "Bearer s3cret", "X-Keep": "1"}},
              "cookies": {{"task": "1"}},
              "assertions": {{"not_contains": ["authorization", "s3cret", "task=1"], "contains": "x-keep"}}}},
            {{"url": "/redirect-to?url=/echo", "name": "same", "headers": {{"Authorization": "Bearer s3cret"}},
              "assertions": {{"json_path": {{"headers.authorization": "Bearer s3cret"}}}}}}]"#
    );
    let b = run(&srv, 1, "", &tasks, "cross");
    assert_eq!(failures(&b, "away"), 0, "{}", b["away"]);
    assert_eq!(failures(&b, "same"), 0, "{}", b["same"]);
    assert_eq!(other.hits("/echo"), 1);
}

#[test]
fn cookies_go_back_to_the_server_and_never_to_another_user() {
    let srv = DemoServer::start(0).unwrap();
    // The second user starts half a second after the first has its cookie.
    let b = run(
        &srv,
        2,
        "",
        r#"[{"url": "/cookies", "name": "before", "assertions": {"json_path": {"cookie": ""}}},
            {"url": "/set-cookie?seen=1", "name": "set"},
            {"url": "/cookies", "name": "after", "assertions": {"json_path": {"cookie": "seen=1"}}},
            {"url": "/cookies", "name": "own", "cookies": {"mine": "2"},
             "assertions": {"json_path": {"cookie": "mine=2; seen=1"}}}]"#,
        "jar",
    );
    for name in ["before", "set", "after", "own"] {
        assert_eq!(n(&b[name]["requests"]), 2, "{name}: {b}");
        assert_eq!(failures(&b, name), 0, "{name}: {}", b[name]);
    }
}

#[test]
fn a_cookie_set_on_a_redirect_is_sent_on_the_next_hop() {
    let srv = DemoServer::start(0).unwrap();
    // A login that answers 302 with its session cookie, then the page.
    let b = run(
        &srv,
        1,
        "",
        r#"[{"url": "/set-cookie?sid=42&redirect=/cookies", "name": "login",
             "assertions": {"status_code": 200, "json_path": {"cookie": "sid=42"}}},
            {"url": "/redirect-to?url=/ok?x=a%20b", "name": "spaced"}]"#,
        "redirect_cookie",
    );
    assert_eq!(failures(&b, "login"), 0, "{}", b["login"]);
    assert_eq!(srv.hits("/cookies"), 1);
    // A Location with a space in it is sent percent-encoded, as a browser does.
    assert_eq!(failures(&b, "spaced"), 0, "{}", b["spaced"]);
    assert_eq!(srv.hits("/ok"), 1);
}
