//! One module per family of `LD_*` commands: typed arguments, checks, handler.
//! [`COMMANDS`] lists them all; the interface they implement is
//! [`crate::registry`].

pub(crate) mod budget;
pub(crate) mod db_source;
pub(crate) mod flow;
pub(crate) mod github;
pub(crate) mod import;
pub(crate) mod load;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod network;
pub(crate) mod reports;
pub(crate) mod server;
pub(crate) mod sla;
pub(crate) mod store;
pub(crate) mod vars;
pub(crate) mod watchdog;

use crate::registry::CommandSpec;

/// Every command, in the order `loaddensity commands` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    vars::REGISTER_VARIABLE,
    vars::REGISTER_VARIABLES,
    vars::CLEAR_RESOLVER,
    vars::REGISTER_CSV_SOURCE,
    vars::REGISTER_CSV_SOURCES,
    db_source::REGISTER_DB_SOURCE,
    db_source::REGISTER_DB_SOURCES,
    log::LOG,
    flow::EXECUTE_ACTION,
    flow::EXECUTE_FILES,
    watchdog::SET_WATCHDOG,
    watchdog::WITH_WATCHDOG,
    server::START_DEMO_SERVER,
    budget::INSTALL_FAILURE_BUDGET,
    budget::UNINSTALL_FAILURE_BUDGET,
    budget::BUDGET_STATUS,
    network::INSTALL_NETWORK_CONDITIONER,
    network::UNINSTALL_NETWORK_CONDITIONER,
    load::START_TEST,
    sla::EVALUATE_SLA,
    sla::ASSERT_SLA,
    reports::GENERATE_SUMMARY_REPORT,
    reports::GENERATE_JSON_REPORT,
    reports::GENERATE_XML_REPORT,
    reports::GENERATE_CSV_REPORT,
    reports::GENERATE_JUNIT_REPORT,
    reports::GENERATE_HTML_REPORT,
    reports::SUMMARY,
    reports::CLEAR_RECORDS,
    github::EMIT_GITHUB_ANNOTATIONS,
    store::PERSIST_RECORDS,
    store::LIST_RUNS,
    store::FETCH_RUN_RECORDS,
    store::DIFF_RUNS,
    store::ASSERT_NO_REGRESSION,
    metrics::START_PROMETHEUS_EXPORTER,
    metrics::STOP_PROMETHEUS_EXPORTER,
    import::HAR_TO_ACTION_JSON,
    import::CURL_TO_ACTION_JSON,
    import::OPENAPI_TO_ACTION_JSON,
    import::POSTMAN_TO_ACTION_JSON,
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plan::testing::{built, problems, valid, with};
    use crate::registry::{closest, Param};
    use serde_json::{json, Map, Value};

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
        assert!(names.iter().all(|n| n.starts_with("LD_")));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len());
    }

    #[test]
    fn misspellings_find_their_command() {
        assert_eq!(
            closest(COMMANDS, "LD_register_variabels"),
            Some("LD_register_variables")
        );
        assert_eq!(closest(COMMANDS, "ld_start_tset"), Some("LD_start_test"));
        assert_eq!(closest(COMMANDS, "completely_else_entirely"), None);
    }

    /// Per command: valid arguments giving only the required parameters, and
    /// valid arguments giving every parameter.
    pub(crate) fn example(name: &str) -> (Value, Value) {
        let task = json!({"request_url": "http://127.0.0.1:8080/"});
        let report = |param: &str| (json!({}), json!({ param: "reports/out" }));
        match name {
            "LD_register_variable" => {
                let a = json!({"name": "x", "value": 1});
                (a.clone(), a)
            }
            "LD_register_variables" => {
                let a = json!({"variables": {"x": 1}});
                (a.clone(), a)
            }
            "LD_register_csv_source" => (
                json!({"name": "users", "file_path": "tests/fixtures/users.csv"}),
                json!({"name": "users", "file_path": "tests/fixtures/users.csv", "cycle": false}),
            ),
            "LD_register_csv_sources" => {
                let a = json!({"sources": [{"name": "users", "file_path": "tests/fixtures/users.csv"}]});
                (a.clone(), a)
            }
            "LD_register_db_source" => (
                json!({"name": "users", "connection_string": "sqlite:///actions/data/users.db",
                       "query": "SELECT id, name FROM users"}),
                json!({"name": "users", "connection_string": "sqlite:///actions/data/users.db",
                       "query": "SELECT id, name FROM users", "cycle": false}),
            ),
            "LD_register_db_sources" => {
                let a = json!({"sources": [{"name": "users", "connection_string": "sqlite:///actions/data/users.db",
                                            "query": "SELECT id, name FROM users"}]});
                (a.clone(), a)
            }
            "LD_log" => {
                let a = json!({"message": "hi"});
                (a.clone(), a)
            }
            "LD_execute_action" => {
                let a = json!({"action_list": [["LD_log", {"message": "hi"}]]});
                (a.clone(), a)
            }
            "LD_execute_files" => {
                let a = json!({"execute_files_list": []});
                (a.clone(), a)
            }
            "LD_set_watchdog" => (
                json!({"timeout_seconds": 5}),
                json!({"timeout_seconds": 5, "on_timeout": [["LD_log", {"message": "late"}]]}),
            ),
            "LD_with_watchdog" => (
                json!({"timeout_seconds": 5, "actions": []}),
                json!({"timeout_seconds": 5, "actions": [], "on_timeout": []}),
            ),
            "LD_start_demo_server" => (json!({}), json!({"port": 0, "variable": "demo"})),
            "LD_install_failure_budget" => (
                json!({}),
                json!({"threshold": 0.1, "window_seconds": 10, "min_samples": 5,
                       "slow_call_ms": 200, "slow_call_threshold": 0.5}),
            ),
            "LD_install_network_conditioner" => (
                json!({}),
                json!({"latency_ms": 10, "jitter_ms": 2, "loss_rate": 0.01, "name_filter": "/a/", "name_regex": "^/a",
                       "bandwidth_kbps": 500, "preset": "3g"}),
            ),
            "LD_start_test" => (
                json!({"tasks": [task]}),
                json!({
                    "user_detail_dict": {"user": "fast_http_user"},
                    "user_count": 2, "spawn_rate": 5, "test_time": 1,
                    "web_ui_dict": {"port": 8089},
                    "runner_mode": "local", "master_bind_host": "*", "master_bind_port": 5557,
                    "master_host": "127.0.0.1", "master_port": 5557, "expected_workers": 0,
                    "engine": "locust", "load_shape": "stages", "shape_config": {"stages": [{"duration": 2, "users": 1}]},
                    "tasks": [{"request_url": "/"}],
                    "variables": {"id": 1},
                    "host": "http://127.0.0.1:8080",
                    "iterations": 3,
                    "wait_time": {"between": [0, 0.1]},
                    "stop_timeout": 1,
                    "record_csv": "reports/requests",
                    "retry": {"transient": 1},
                    "failure_budget": {"threshold": 0.5},
                    "expect_requests": true,
                    "max_body_bytes": 1024,
                    "max_redirects": 5,
                    "csv_sources": [{"name": "u", "file_path": "tests/fixtures/users.csv", "cycle": true}],
                    "verify": "tests/fixtures/tls/ca.pem",
                    "cert": ["tests/fixtures/tls/client.pem", "tests/fixtures/tls/client.key"],
                    "proxy": "http://ci:secret@127.0.0.1:3128",
                    "executor": "closed",
                    "rate": 100, "time_unit": 1, "duration": "30s", "pre_allocated_users": 5,
                    "max_users": 10, "start_rate": 0, "stages": [{"target": 10, "duration": 5}],
                    "max_lag": 1,
                    "strict": true,
                }),
            ),
            "LD_evaluate_sla" | "LD_assert_sla" => {
                let a = json!({"rules": [{"type": "latency_p95", "op": "lt", "value": 200}]});
                let given = json!({"totals": {"requests": 1, "failure_rate": 0},
                                   "latency_overall": {"p95_ms": 1}});
                (a.clone(), with(a, json!({ "summary": given })))
            }
            "LD_generate_summary_report" | "LD_generate_junit_report" => report("report_name"),
            "LD_generate_json_report" => report("json_file_name"),
            "LD_generate_csv_report" => report("csv_name"),
            "LD_generate_html_report" => report("html_name"),
            "LD_generate_xml_report" => report("xml_file_name"),
            "LD_emit_github_annotations" => (json!({}), json!({"title": "Load test"})),
            "LD_persist_records" => (
                json!({"database_path": "reports/runs.db"}),
                json!({"database_path": "reports/runs.db", "label": "main",
                       "metadata": {"commit": "abc1234"}, "variable": "run"}),
            ),
            "LD_list_runs" => (
                json!({"database_path": "reports/runs.db"}),
                json!({"database_path": "reports/runs.db", "limit": 5}),
            ),
            "LD_fetch_run_records" => (
                json!({"database_path": "reports/runs.db", "run_id": 1}),
                json!({"database_path": "reports/runs.db", "run_id": "last", "output_file": "reports/run.json"}),
            ),
            "LD_diff_runs" | "LD_assert_no_regression" => (
                json!({"database_path": "reports/runs.db", "baseline_run_id": "last"}),
                json!({"database_path": "reports/runs.db", "baseline_run_id": "last:main",
                       "current_run_id": 3, "tolerance": 0.2}),
            ),
            "LD_start_prometheus_exporter" => (json!({}), json!({"port": 0, "addr": "127.0.0.1"})),
            "LD_har_to_action_json"
            | "LD_curl_to_action_json"
            | "LD_openapi_to_action_json"
            | "LD_postman_to_action_json" => importer_example(name),
            "LD_clear_resolver"
            | "LD_stop_prometheus_exporter"
            | "LD_summary"
            | "LD_uninstall_failure_budget"
            | "LD_budget_status"
            | "LD_uninstall_network_conditioner"
            | "LD_clear_records" => (json!({}), json!({})),
            other => panic!("{other}: add an example to commands::tests::example"),
        }
    }

    /// An importer command's examples: the document inline (minimal), and
    /// every parameter with the document as a fixture file (`null` inline).
    fn importer_example(name: &str) -> (Value, Value) {
        let (word, minimal_doc, file) = match name {
            "LD_har_to_action_json" => (
                "har",
                json!({"log": {"entries": [{"request": {"method": "GET", "url": "http://127.0.0.1:8080/ok"},
                                            "response": {"status": 200}}]}}),
                "tests/fixtures/import/session.har",
            ),
            "LD_curl_to_action_json" => (
                "curl",
                json!("curl http://127.0.0.1:8080/ok"),
                "tests/fixtures/import/checkout.curl",
            ),
            "LD_openapi_to_action_json" => (
                "openapi",
                json!({"openapi": "3.0.3", "servers": [{"url": "http://127.0.0.1:8080"}],
                       "paths": {"/ok": {"get": {"responses": {"200": {"description": "ok"}}}}}}),
                "tests/fixtures/import/demo-openapi.json",
            ),
            _ => (
                "postman",
                json!({"info": {"name": "c"}, "item": [{"name": "ok", "request": "http://127.0.0.1:8080/ok"}]}),
                "tests/fixtures/import/demo.postman_collection.json",
            ),
        };
        let minimal = json!({ word: minimal_doc });
        let full = json!({
            word: null, format!("{word}_file"): file,
            "user": "http_user", "user_count": 2, "spawn_rate": 1, "test_time": 3,
            "include": ["127\\.0\\.0\\.1"], "exclude": ["/never/"],
            "include_static": true, "output_file": "reports/imported.json",
        });
        (minimal, full)
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("examples are objects, found {other}"),
        }
    }

    #[test]
    fn examples_name_exactly_the_documented_params() {
        for c in COMMANDS {
            let (minimal, full) = example(c.name);
            let (minimal, full) = (object(minimal), object(full));
            let documented: Vec<&str> = c.params.iter().map(|p| p.name).collect();
            let mut given: Vec<&str> = full.keys().map(String::as_str).collect();
            given.sort_unstable();
            let mut want = documented.clone();
            want.sort_unstable();
            assert_eq!(
                given, want,
                "{}: the full example gives every param",
                c.name
            );
            for p in c.params.iter().filter(|p| p.required) {
                assert!(minimal.contains_key(p.name), "{}: {}", c.name, p.name);
            }
            assert!(
                minimal.keys().all(|k| documented.contains(&k.as_str())),
                "{}: the minimal example uses only documented params",
                c.name
            );
        }
    }

    #[test]
    fn every_param_is_accepted_by_its_parser() {
        for c in COMMANDS {
            let (minimal, full) = example(c.name);
            let (minimal, full) = (object(minimal), object(full));
            valid(c.name, Value::Object(minimal.clone()));
            valid(c.name, Value::Object(full.clone()));
            // One at a time (some go together, so only the name is at stake).
            for p in c.params {
                let mut args = minimal.clone();
                args.insert(p.name.to_string(), full[p.name].clone());
                let found = problems(c.name, Value::Object(args));
                assert!(
                    !found.iter().any(|f| f.message.contains("unknown field")),
                    "{} rejects `{}`: {found:#?}",
                    c.name,
                    p.name
                );
            }
            // Positionally, in the documented order.
            let positional: Vec<Value> = c.params.iter().map(|p| full[p.name].clone()).collect();
            let found = problems(c.name, Value::Array(positional));
            assert!(found.is_empty(), "{} positional: {found:#?}", c.name);
        }
    }

    #[test]
    fn every_parser_rejects_an_unknown_key() {
        for c in COMMANDS {
            let mut args = object(example(c.name).0);
            args.insert("no_such_arg".into(), json!(1));
            let found = problems(c.name, Value::Object(args));
            assert_eq!(found.len(), 1, "{}: {found:#?}", c.name);
            assert_eq!(
                found[0].at.path, "actions[0].args.no_such_arg",
                "{}",
                c.name
            );
            assert!(
                found[0]
                    .message
                    .starts_with(&format!("{}: unknown field `no_such_arg`", c.name)),
                "{}",
                found[0]
            );
        }
    }

    /// The default a parameter documents (`number = 50` → `50`), as JSON.
    fn documented_default(p: &Param) -> Option<Value> {
        let (_, text) = p.kind.split_once(" = ")?;
        Some(serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "{}: default {text:?} in `{}` is not JSON: {e}",
                p.name, p.kind
            )
        }))
    }

    #[test]
    fn every_documented_default_is_the_parsed_default() {
        let mut checked = 0;
        for c in COMMANDS {
            let minimal = object(example(c.name).0);
            for p in c.params {
                let Some(default) = documented_default(p) else {
                    continue;
                };
                assert!(
                    !p.required,
                    "{}: `{}` is required and has a default",
                    c.name, p.name
                );
                assert!(!minimal.contains_key(p.name), "{}: {}", c.name, p.name);
                let mut explicit = minimal.clone();
                explicit.insert(p.name.to_string(), default);
                assert_eq!(
                    built(c.name, Value::Object(minimal.clone())),
                    built(c.name, Value::Object(explicit)),
                    "{}: leaving `{}` out must mean `{}`",
                    c.name,
                    p.name,
                    p.kind
                );
                checked += 1;
            }
        }
        // user_count, spawn_rate, test_time, runner_mode, stop_timeout,
        // max_body_bytes, verify, max_redirects, strict, expect_requests, a CSV
        // source's cycle, port,
        // variable, three failure-budget and three conditioner fields, six
        // report names; executor, time_unit, start_rate, max_lag; the run
        // store's metadata, limit and two tolerances; a database source's
        // cycle; the GitHub annotations' title; the metrics exporter's port
        // and addr; the four importers' user, user_count, spawn_rate,
        // test_time and include_static.
        assert_eq!(checked, 57);
    }

    #[test]
    fn the_default_check_sees_a_different_value() {
        // The comparison above only proves something if a different value
        // builds a different command.
        let minimal = example("LD_start_test").0;
        assert_ne!(
            built("LD_start_test", minimal.clone()),
            built("LD_start_test", with(minimal, json!({"user_count": 51})))
        );
    }
}
