//! Importers: `loaddensity import har|curl|openapi|postman` and the
//! `LD_*_to_action_json` commands, on realistic documents of a session with
//! the demo server; every plan written validates and runs against it.

use crate::common::{ld, scratch_dir, Plan, Run};
use loaddensity::demo_server::DemoServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// `loaddensity import FORMAT FIXTURE -o plan.json EXTRA...` in `dir`: the
/// run (exit 0 asserted) and the plan it wrote.
fn import(dir: &Path, format: &str, file: &str, extra: &[&str]) -> (Run, Value) {
    let run = Run::of(
        ld("import")
            .args([format, fixture(file).to_str().unwrap(), "-o", "plan.json"])
            .args(extra)
            .current_dir(dir),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.report("plan.json");
    (run, plan)
}

/// The tasks of the plan's test.
fn tasks(plan: &Value) -> Vec<Value> {
    let actions = plan["load_density"].as_array().unwrap();
    let test = actions.last().unwrap();
    assert_eq!(test[0], "LD_start_test");
    assert_eq!(test[1]["tasks"]["mode"], "sequence");
    test[1]["tasks"]["tasks"].as_array().unwrap().clone()
}

fn names(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["name"].as_str().unwrap()).collect()
}

/// The plan registers `base` first, as the recorded origin.
fn assert_base(plan: &Value, origin: &str) {
    assert_eq!(
        plan["load_density"][0],
        json!(["LD_register_variable", {"name": "base", "value": origin}])
    );
}

/// `loaddensity validate` passes on `file` in `dir`.
fn validates(dir: &Path, file: &str) {
    let run = Run::of(ld("validate").arg(file).current_dir(dir));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("ok: 1 plan(s)"), "{}", run.stderr);
}

/// Runs `plan` against a demo server (its `base` set to it) for a second
/// with one user; asserts exit 0, requests and no failure. Returns the
/// server (for its hit counts) and the summary.
fn runs_against_demo(dir: &Path, plan: &str) -> (DemoServer, Value) {
    let srv = DemoServer::start(0).unwrap();
    std::fs::write(
        dir.join("summary.json.plan"),
        r#"[["LD_generate_summary_report", {"report_name": "summary"}]]"#,
    )
    .unwrap();
    let run = Run::of(
        ld("run")
            .args(["--seed", "7", "--users", "1", "--duration", "1", "--set"])
            .arg(format!("base={}", srv.base_url()))
            .args([plan, "summary.json.plan"])
            .current_dir(dir),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.summary();
    let totals = &summary["totals"];
    assert!(totals["requests"].as_u64().unwrap() > 0, "{totals}");
    assert_eq!(totals["failures"], 0, "{summary}");
    (srv, summary)
}

#[test]
fn har_import_keeps_the_session_requests_and_runs_them() {
    let dir = scratch_dir("import", "har");
    let (run, plan) = import(&dir, "har", "session.har", &[]);
    assert_base(&plan, "http://127.0.0.1:8080");
    let t = tasks(&plan);
    // 12 entries: 4 static assets and a data: URL dropped.
    assert_eq!(
        names(&t),
        [
            "GET /json",
            "GET /token",
            "POST /echo",
            "POST /echo?form=1",
            "GET /status/201",
            "POST /g/collect?v=2&tid=G-DEMO&en=page_view",
            "GET /ok?page=2"
        ]
    );
    assert!(run.stderr.contains("4 static asset(s)"), "{}", run.stderr);
    assert!(run.stderr.contains("skipped 1 HAR entry"), "{}", run.stderr);
    assert!(run.stderr.contains("2 origins"), "{}", run.stderr);
    assert_eq!(t[0]["method"], "get");
    assert_eq!(t[0]["request_url"], "${var.base}/json");
    let h = t[0]["headers"].as_object().unwrap();
    assert_eq!(h["Cookie"], "session=abc123; theme=dark");
    assert!(h["User-Agent"].as_str().unwrap().starts_with("Mozilla/5.0"));
    for gone in ["Host", "Connection"] {
        assert!(!h.contains_key(gone), "{gone} kept: {h:?}");
    }
    assert_eq!(
        t[0]["assertions"],
        json!([{"type": "status_code", "value": 200}])
    );
    // The HTTP/2 entry: pseudo-headers and content-length dropped, JSON body.
    let h = t[2]["headers"].as_object().unwrap();
    assert!(
        h.keys()
            .all(|k| !k.starts_with(':') && k != "content-length"),
        "{h:?}"
    );
    assert_eq!(h["cookie"], "session=abc123; theme=dark");
    assert_eq!(t[2]["json"], json!({"user": "alice", "items": [1, 2, 3]}));
    assert_eq!(t[3]["data"], json!({"user": "alice", "remember": "on"}));
    assert_eq!(t[3]["request_url"], "${var.base}/echo?form=1");
    assert_eq!(
        t[4]["assertions"],
        json!([{"type": "status_code", "value": 201}])
    );
    // Another origin keeps its absolute URL.
    assert_eq!(
        t[5]["request_url"],
        "https://www.google-analytics.com/g/collect?v=2&tid=G-DEMO&en=page_view"
    );
    let test = &plan["load_density"][1][1];
    assert_eq!(test["user_detail_dict"], json!({"user": "fast_http_user"}));
    assert_eq!(
        (&test["user_count"], &test["spawn_rate"], &test["test_time"]),
        (&json!(10), &json!(5), &json!(60))
    );
    validates(&dir, "plan.json");

    // Static assets on request, with what the browser got.
    let (_, plan) = import(&dir, "har", "session.har", &["--include-static"]);
    let t = tasks(&plan);
    assert_eq!(t.len(), 11);
    let all = names(&t);
    for asset in [
        "GET /static/app.js",
        "GET /static/style.css?v=3",
        "GET /static/logo.png",
        "GET /favicon.ico",
    ] {
        assert!(all.contains(&asset), "{asset} missing: {all:?}");
    }
    let favicon = t.iter().find(|t| t["name"] == "GET /favicon.ico").unwrap();
    assert_eq!(
        favicon["assertions"],
        json!([{"type": "status_code", "value": 404}])
    );

    // include keeps only matches; exclude drops them (any pattern).
    let (_, plan) = import(&dir, "har", "session.har", &["--include", "/echo"]);
    assert_eq!(names(&tasks(&plan)), ["POST /echo", "POST /echo?form=1"]);
    let (run, plan) = import(
        &dir,
        "har",
        "session.har",
        &[
            "--exclude",
            "google-analytics",
            "--exclude",
            r"^http://127\.0\.0\.1:8080/(token|status)",
            "--user-count",
            "3",
            "--spawn-rate",
            "1.5",
            "--test-time",
            "20",
            "--user",
            "http_user",
        ],
    );
    assert_eq!(
        names(&tasks(&plan)),
        [
            "GET /json",
            "POST /echo",
            "POST /echo?form=1",
            "GET /ok?page=2"
        ]
    );
    assert!(!run.stderr.contains("origins"), "{}", run.stderr);
    let test = &plan["load_density"][1][1];
    assert_eq!(test["user_detail_dict"], json!({"user": "http_user"}));
    assert_eq!(
        (&test["user_count"], &test["spawn_rate"], &test["test_time"]),
        (&json!(3), &json!(1.5), &json!(20))
    );

    // Without the third-party beacon, the session runs against the demo server.
    import(
        &dir,
        "har",
        "session.har",
        &["--exclude", "google-analytics"],
    );
    validates(&dir, "plan.json");
    let (srv, summary) = runs_against_demo(&dir, "plan.json");
    for path in ["/json", "/token", "/echo", "/status/201", "/ok"] {
        assert!(srv.hits(path) > 0, "{path} not requested");
    }
    assert!(
        summary["per_name"]["POST /echo?form=1"].is_object(),
        "{summary}"
    );
}

#[test]
fn curl_import_reads_copy_as_curl_commands() {
    let dir = scratch_dir("import", "curl");
    let (_, plan) = import(&dir, "curl", "checkout.curl", &[]);
    assert_base(&plan, "http://127.0.0.1:8080");
    let t = tasks(&plan);
    assert_eq!(
        names(&t),
        ["POST /echo?source=checkout", "GET /json", "PUT /echo"]
    );
    assert_eq!(t[0]["method"], "post");
    assert_eq!(
        t[0]["json"],
        json!({"cart": [{"sku": "A-1", "qty": 2}], "note": "leave it at the door, it's fine"})
    );
    let h = t[0]["headers"].as_object().unwrap();
    assert_eq!(h["Cookie"], "session=abc123; theme=dark");
    assert_eq!(h["Content-Type"], "application/json");
    assert_eq!(h["Referer"], "http://127.0.0.1:8080/checkout");
    assert!(!h.contains_key("Connection"), "{h:?}");
    assert_eq!(t[1]["method"], "get");
    assert!(t[1].get("json").is_none() && t[1].get("data").is_none());
    assert_eq!(t[2]["method"], "put");
    assert_eq!(t[2]["data"], "name=ann&city=Ghent");
    assert_eq!(t[2]["headers"]["Authorization"], "Basic YW5uOnMzY3JldA==");
    assert_eq!(
        t[2]["headers"]["Content-Type"],
        "application/x-www-form-urlencoded"
    );
    // A command carries no response: no status assertion (>= 400 fails).
    assert!(t.iter().all(|t| t.get("assertions").is_none()));
    validates(&dir, "plan.json");
    let (srv, _) = runs_against_demo(&dir, "plan.json");
    assert!(srv.hits("/echo") > 0 && srv.hits("/json") > 0);

    // `-` reads standard input; without -o the plan goes to stdout.
    let run = Run::of(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "'{}' import curl - < '{}'",
                env!("CARGO_BIN_EXE_loaddensity"),
                fixture("checkout.curl").display()
            ))
            .current_dir(&dir),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed, plan);
    assert!(run.stderr.contains("3 task(s)"), "{}", run.stderr);
}

#[test]
fn openapi_import_fills_path_parameters_and_bodies() {
    let dir = scratch_dir("import", "openapi");
    let (_, plan) = import(&dir, "openapi", "demo-openapi.json", &[]);
    // The same document as YAML (response codes unquoted) gives the same plan.
    let (_, from_yaml) = import(&dir, "openapi", "demo-openapi.yaml", &[]);
    assert_eq!(from_yaml, plan);
    // servers[0].url with its variables' defaults.
    assert_base(&plan, "http://127.0.0.1:8080");
    let t = tasks(&plan);
    assert_eq!(
        names(&t),
        [
            "GET /json",
            "GET /status/{code}",
            "GET /bytes/{n}",
            "GET /slow/{ms}",
            "GET /flaky/{key}/{n}",
            "POST /echo",
            "PUT /echo",
            "POST /token"
        ]
    );
    let urls: Vec<&str> = t
        .iter()
        .map(|t| t["request_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "${var.base}/json",
            "${var.base}/status/201",          // the parameter's example
            "${var.base}/bytes/64",            // its schema's default
            "${var.base}/slow/5",              // a $ref'd parameter's schema example
            "${var.base}/flaky/alpha/0",       // enum[0]; the operation's n over the path's
            "${var.base}/echo?source=openapi", // a required query parameter
            "${var.base}/echo",
            "${var.base}/token"
        ]
    );
    // The lowest 2xx response.
    assert_eq!(
        t[1]["assertions"],
        json!([{"type": "status_code", "value": 201}])
    );
    assert_eq!(
        t[5]["assertions"],
        json!([{"type": "status_code", "value": 200}])
    );
    assert_eq!(
        t[5]["json"],
        json!({"sku": "A-1", "qty": 1, "gift": true, "lines": [{"note": "example"}]})
    );
    assert_eq!(t[5]["headers"]["Content-Type"], "application/json");
    assert!(t[5]["headers"]["X-Request-Id"].is_string());
    assert_eq!(t[6]["data"], json!({"name": "ann", "age": "41"}));
    validates(&dir, "plan.json");
    let (srv, _) = runs_against_demo(&dir, "plan.json");
    for path in [
        "/status/201",
        "/bytes/64",
        "/flaky/alpha/0",
        "/echo",
        "/token",
    ] {
        assert!(srv.hits(path) > 0, "{path} not requested");
    }
}

#[test]
fn postman_import_flattens_folders_and_substitutes_variables() {
    let dir = scratch_dir("import", "postman");
    let (run, plan) = import(&dir, "postman", "demo.postman_collection.json", &[]);
    assert_base(&plan, "http://127.0.0.1:8080");
    let t = tasks(&plan);
    assert_eq!(
        names(&t),
        [
            "Catalog / List products",
            "Catalog / Admin / Reset flaky",
            "Checkout / Create order",
            "Checkout / Subscribe",
            "Checkout / Upload note",
            "Health"
        ]
    );
    // Disabled headers and query parameters are left out.
    assert_eq!(t[0]["headers"], json!({"Accept": "application/json"}));
    assert_eq!(
        t[0]["assertions"],
        json!([{"type": "status_code", "value": 200}])
    );
    // The collection's bearer auth, inherited; a request's own basic auth.
    assert_eq!(
        t[0]["auth"],
        json!({"type": "bearer", "token": "demo-token"})
    );
    assert_eq!(t[1]["request_url"], "${var.base}/flaky/A-1/0?dry=true");
    assert_eq!(
        t[1]["auth"],
        json!({"type": "basic", "username": "admin", "password": "s3cret"})
    );
    // The Checkout folder says noauth.
    assert!(t[2].get("auth").is_none());
    assert_eq!(t[2]["json"], json!({"sku": "A-1", "qty": 2}));
    assert_eq!(t[3]["data"], json!({"email": "ann@example.com"}));
    assert_eq!(t[4]["data"], json!({"note": "fragile"}));
    assert!(
        run.stderr.contains("form file field \"photo\" left out"),
        "{}",
        run.stderr
    );
    assert_eq!(t[5]["method"], "get");
    assert_eq!(t[5]["request_url"], "${var.base}/ok");
    validates(&dir, "plan.json");
    let (srv, _) = runs_against_demo(&dir, "plan.json");
    for path in ["/json", "/flaky/A-1/0", "/echo", "/ok"] {
        assert!(srv.hits(path) > 0, "{path} not requested");
    }
}

#[test]
fn importer_commands_write_or_print_the_plan() {
    let dir = scratch_dir("import", "commands");
    let read = |name: &str| std::fs::read_to_string(fixture(name)).unwrap();
    let har = fixture("session.har");
    let plan = Plan::new(format!(
        r#"["LD_har_to_action_json", {{"har_file": {}, "exclude": ["google-analytics"], "output_file": "out/har.json"}}]"#,
        json!(har.to_str().unwrap())
    ))
    .then(r#"["LD_curl_to_action_json", {"curl": "curl http://127.0.0.1:8080/ok -H 'Accept: text/plain'"}]"#)
    .then(format!(
        r#"["LD_openapi_to_action_json", [{}, "http_user", 2, 1, 3, null, ["/slow/"], null, false, "out/openapi.json"]]"#,
        read("demo-openapi.json")
    ))
    .then(format!(
        r#"["LD_postman_to_action_json", {{"postman": {}, "include": ["/echo"], "output_file": "out/postman.json"}}]"#,
        read("demo.postman_collection.json")
    ))
    .no_summary();
    let run = plan.run_in(&dir);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // No output_file: the plan is printed.
    let printed: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(names(&tasks(&printed)), ["GET /ok"]);
    assert!(
        run.stderr.contains("wrote plan out/har.json (6 task(s))"),
        "{}",
        run.stderr
    );

    let har = run.report("out/har.json");
    assert_eq!(tasks(&har).len(), 6);
    let openapi = run.report("out/openapi.json");
    let t = tasks(&openapi);
    assert_eq!(t.len(), 7, "/slow/ excluded");
    let test = &openapi["load_density"][1][1];
    assert_eq!(test["user_detail_dict"]["user"], "http_user");
    assert_eq!(
        (&test["user_count"], &test["test_time"]),
        (&json!(2), &json!(3))
    );
    let postman = run.report("out/postman.json");
    assert_eq!(
        names(&tasks(&postman)),
        [
            "Checkout / Create order",
            "Checkout / Subscribe",
            "Checkout / Upload note"
        ]
    );
    // The round trip: what each importer wrote validates.
    std::fs::write(dir.join("out/curl.json"), &run.stdout).unwrap();
    let run = Run::of(
        ld("validate")
            .args([
                "out/har.json",
                "out/curl.json",
                "out/openapi.json",
                "out/postman.json",
            ])
            .current_dir(&dir),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("ok: 4 plan(s), 8 action(s) valid"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_importer_action_stops_the_plan_before_anything_runs() {
    let dir = scratch_dir("import", "invalid");
    std::fs::write(
        dir.join("bad.json"),
        r#"{"load_density": [
  ["LD_log", {"message": "must not run"}],
  ["LD_har_to_action_json", {"har": {"log": {"entries": []}}, "har_file": "x.har"}],
  ["LD_curl_to_action_json", {"user_count": 2}],
  ["LD_openapi_to_action_json", {"openapi_file": "missing.json", "include": ["(unclosed"]}],
  ["LD_postman_to_action_json", {"postman_file": "bad.json"}]
]}
"#,
    )
    .unwrap();
    for sub in ["validate", "run"] {
        let run = Run::of(ld(sub).arg("bad.json").current_dir(&dir));
        assert_eq!(run.code, 2, "{sub}: {}", run.stderr);
        assert!(
            !run.stdout.contains("must not run"),
            "{sub}: {}",
            run.stdout
        );
        for (at, msg) in [
            (
                "bad.json:3: actions[1].args",
                "give `har` or `har_file`, not both",
            ),
            (
                "bad.json:4: actions[2].args",
                "give the document as `curl` or its path as `curl_file`",
            ),
            (
                "bad.json:5: actions[3].args.include[0]",
                "\"(unclosed\" is not a regular expression",
            ),
            (
                "bad.json:5: actions[3].args.openapi_file",
                "OpenAPI document \"missing.json\" not found",
            ),
            (
                "bad.json:6: actions[4].args.postman_file",
                "not a Postman collection",
            ),
        ] {
            let line = run
                .stderr
                .lines()
                .find(|l| l.contains(at) && l.contains(msg))
                .unwrap_or_else(|| panic!("{sub}: no `{at}` … `{msg}` in:\n{}", run.stderr));
            assert!(line.starts_with("error: "), "{line}");
        }
    }
}

#[test]
fn import_errors_exit_2_and_say_what_to_do() {
    let dir = scratch_dir("import", "errors");
    let case = |args: &[&str], want: &str| {
        let run = Run::of(ld("import").args(args).current_dir(&dir));
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(want),
            "{args:?}: want {want:?} in {}",
            run.stderr
        );
        assert!(!dir.join("plan.json").exists());
    };
    let curl = fixture("checkout.curl");
    let curl = curl.to_str().unwrap();
    case(
        &["har", "nope.har", "-o", "plan.json"],
        "cannot read HAR file nope.har",
    );
    case(
        &["curl", curl, "--include", "(", "-o", "plan.json"],
        "error: --include \"(\" is not a regular expression",
    );
    case(
        &["curl", curl, "--exclude", ".", "-o", "plan.json"],
        "no request left to import: 3 found, 0 dropped as static assets, 3 by include/exclude",
    );
    case(
        &[
            "openapi",
            fixture("session.har").to_str().unwrap(),
            "-o",
            "plan.json",
        ],
        "not an OpenAPI document",
    );
    std::fs::write(dir.join("api.yaml"), "openapi: 3.0.0\npaths: [/a\n").unwrap();
    case(&["openapi", "api.yaml", "-o", "plan.json"], "not YAML:");
    std::fs::write(
        dir.join("x.curl"),
        "curl --socks5 127.0.0.1:1 http://127.0.0.1:8080/\n",
    )
    .unwrap();
    case(
        &["curl", "x.curl"],
        "curl command 1: unsupported curl option --socks5",
    );
    std::fs::copy(fixture("checkout.curl"), dir.join("same.curl")).unwrap();
    case(
        &["curl", "same.curl", "-o", "./same.curl"],
        "-o ./same.curl is the cURL file being imported",
    );
    case(&["soap", curl], "invalid value 'soap'");
    case(&["curl", curl, "--user-count", "0"], "--user-count");
}
