//! The plan JSON Schema: the checked-in `loaddensity.schema.json` is what
//! `loaddensity schema` prints, it is a valid draft 2020-12 schema, every plan
//! the validator accepts here (actions/, the docs' examples, the LoadDensity
//! corpus) validates against it with a real JSON Schema validator, and plans
//! the validator refuses for a reason the schema can see fail it too.

use crate::common::{self, Run};
use crate::docs_sync::{as_plan, documents, json_blocks, read};
use serde_json::Value;
use std::path::{Path, PathBuf};

const REGENERATE: &str = "cargo run -- schema > loaddensity.schema.json";

fn schema() -> Value {
    serde_json::from_str(&loaddensity::schema::text()).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema()).unwrap_or_else(|e| panic!("the schema compiles: {e}"))
}

/// The schema's complaints about `plan`, one line each.
fn schema_errors(v: &jsonschema::Validator, plan: &Value) -> Vec<String> {
    v.iter_errors(plan)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn parse(text: &str, what: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
}

#[test]
fn the_checked_in_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("loaddensity.schema.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == loaddensity::schema::text(),
        "loaddensity.schema.json is not what `loaddensity schema` prints (a command or parameter \
         changed): regenerate it from the repository root with\n\n    {REGENERATE}\n"
    );
}

#[test]
fn the_schema_subcommand_prints_it() {
    let r = Run::of(common::ld("schema"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, loaddensity::schema::text());
}

#[test]
fn the_schema_is_a_draft_2020_12_schema_with_id_title_and_description() {
    let s = schema();
    jsonschema::draft202012::meta::validate(&s)
        .unwrap_or_else(|e| panic!("not a valid draft 2020-12 schema: {e}"));
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    for key in ["$id", "title", "description"] {
        assert!(s[key].as_str().is_some_and(|t| !t.is_empty()), "{key}");
    }
    // Defaults and descriptions come from the registry.
    let users =
        &s["$defs"]["LD_start_test"]["prefixItems"][1]["anyOf"][0]["properties"]["user_count"];
    assert_eq!(users["default"], 50);
    assert_eq!(users["description"], "Concurrent users, 1 to 1,000,000.");
}

/// Every plan the repository ships or documents, with where it comes from.
fn known_plans() -> Vec<(String, String)> {
    let mut plans = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = common::example_plans();
    let corpus = root.join("tests/corpus/loaddensity");
    let mut more: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    more.sort();
    assert!(
        more.len() >= 10,
        "the LoadDensity corpus has {}",
        more.len()
    );
    files.extend(more);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        plans.push((name, text));
    }
    for rel in documents() {
        for (line, block) in json_blocks(&read(&rel)) {
            if let Some(plan) = as_plan(&block) {
                plans.push((format!("{rel}:{line}"), plan));
            }
        }
    }
    plans
}

#[test]
fn every_shipped_and_documented_plan_validates_against_the_schema() {
    let v = validator();
    let mut failures = Vec::new();
    let plans = known_plans();
    for (name, text) in &plans {
        let errors = schema_errors(&v, &parse(text, name));
        if !errors.is_empty() {
            failures.push(format!("{name}:\n  {}", errors.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "plans loaddensity accepts fail the schema (it must not be stricter than `validate`):\n{}",
        failures.join("\n")
    );
    assert!(plans.len() >= 50, "only {} plans checked", plans.len());
}

/// Plans `validate` refuses, each for a reason the schema sees too.
#[test]
fn plans_the_validator_refuses_fail_the_schema() {
    let v = validator();
    let task = r#"{"request_url": "http://127.0.0.1:9/"}"#;
    let cases = [
        ("unknown command", r#"[["LD_fly_to_the_moon"]]"#.to_string()),
        (
            "a LoadDensity command refused here",
            r#"[["LD_start_socket_server"]]"#.to_string(),
        ),
        (
            "a string param given a number",
            r#"[["LD_log", {"message": 5}]]"#.to_string(),
        ),
        (
            "a number param given a list",
            format!(r#"[["LD_start_test", {{"user_count": [1], "tasks": [{task}]}}]]"#),
        ),
        (
            "a number param given a word",
            format!(r#"[["LD_start_test", {{"spawn_rate": "fast", "tasks": [{task}]}}]]"#),
        ),
        ("a required param left out", r#"[["LD_log"]]"#.to_string()),
        (
            "an unknown argument",
            r#"[["LD_log", {"message": "x", "mesage": "y"}]]"#.to_string(),
        ),
        (
            "too many positional arguments",
            r#"[["LD_log", ["a", "b"]]]"#.to_string(),
        ),
        (
            "a task without request_url",
            r#"[["LD_start_test", {"tasks": [{"method": "get"}]}]]"#.to_string(),
        ),
        (
            "a task with request_url and url",
            r#"[["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/", "url": "/x"}]}]]"#
                .to_string(),
        ),
        (
            "an unknown task field",
            r#"[["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/", "tags": []}]}]]"#
                .to_string(),
        ),
        (
            "an unknown method",
            r#"[["LD_start_test", {"tasks": [{"method": "fetch", "request_url": "http://127.0.0.1:9/"}]}]]"#
                .to_string(),
        ),
        (
            "an assertion item of an unknown type",
            r#"[["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/",
                   "assertions": [{"type": "regex", "value": "x"}]}]}]]"#
                .to_string(),
        ),
        (
            "an unknown key in the assertion object",
            r#"[["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/",
                   "assertions": {"status": 200}}]}]]"#
                .to_string(),
        ),
        (
            "a header assertion item without its name",
            r#"[["LD_start_test", {"tasks": [{"request_url": "http://127.0.0.1:9/",
                   "assertions": [{"type": "header", "value": "json"}]}]}]]"#
                .to_string(),
        ),
        (
            "a scenario with another key",
            format!(r#"[["LD_start_test", {{"tasks": {{"mode": "weighted", "tasks": [{task}], "x": 1}}}}]]"#),
        ),
        (
            "an empty task list",
            r#"[["LD_start_test", {"tasks": []}]]"#.to_string(),
        ),
        (
            "an unknown executor",
            format!(r#"[["LD_start_test", {{"executor": "open", "tasks": [{task}]}}]]"#),
        ),
        (
            "an unknown SLA metric",
            r#"[["LD_assert_sla", {"rules": [{"type": "latency_p42", "value": 1}]}]]"#.to_string(),
        ),
        (
            "an unknown top-level key",
            r#"{"load_density": [["LD_summary"]], "lod_density": []}"#.to_string(),
        ),
        ("an empty plan", "[]".to_string()),
        (
            "an action with three elements",
            r#"[["LD_log", {"message": "x"}, 1]]"#.to_string(),
        ),
    ];
    for (what, plan) in &cases {
        assert!(
            !loaddensity::plan::validate_str(plan).is_empty(),
            "{what}: the validator accepts it, so the schema must too:\n{plan}"
        );
        assert!(
            !v.is_valid(&parse(plan, what)),
            "{what}: the schema accepts a plan `validate` refuses:\n{plan}"
        );
    }
}

/// Forms the validator accepts (some with a warning) that a strict-looking
/// schema could wrongly refuse.
#[test]
fn lenient_forms_the_validator_accepts_pass_the_schema() {
    let v = validator();
    let plans = [
        // `$schema` in an object plan: what editors need.
        r#"{"$schema": "../loaddensity.schema.json", "load_density": [["LD_summary"]]}"#,
        // Numbers as strings, positional nulls, the map form, an unknown mode.
        r#"[["LD_start_test", [null, "2", " 2.5 ", 1, null, "local", "*", 5557, "127.0.0.1", 5557, 0,
            {"GET": {"request_url": "http://127.0.0.1:9/", "assertions": [{"type": "status_code", "value": "200"}]}}]]]"#,
        r#"[["LD_start_test", {"tasks": {"mode": "round_robin", "tasks": {"post": {"url": "http://127.0.0.1:9/", "data": [["a", 1]]}}}}]]"#,
        r#"[["LD_start_test", {"host": "http://127.0.0.1:9", "tasks": [
            {"request_method": "Patch", "request_url": "/a", "timeout": "5", "weight": 2.0,
             "assertions": {"status_code": ["200", 201], "contains": 404, "header": {"X": true}},
             "run_if": {"in": ["${var.role}", ["a"]]}, "skip_if": 0, "throttle": 5,
             "think_time": {"min": 0, "max": "1"}, "client_cert": ["tests/fixtures/tls/client.pem", "tests/fixtures/tls/client.key"],
             "extract": [{"var": "s", "from": "status_code"}]}]}]]"#,
        r#"[["LD_register_variable", ["x", {"any": "json"}]], ["LD_with_watchdog", [5, []]]]"#,
        // null leaves an optional argument out; arrival-rate settings in a
        // closed-model test are ignored with a warning.
        r#"[["LD_start_test", {"host": null, "test_time": null, "stages": [],
            "tasks": [{"request_url": "http://127.0.0.1:9/"}]}]]"#,
    ];
    for plan in plans {
        let problems = loaddensity::plan::validate_str(plan);
        assert!(problems.is_empty(), "{plan}\n{problems:#?}");
        let errors = schema_errors(&v, &parse(plan, plan));
        assert!(errors.is_empty(), "{plan}\n{}", errors.join("\n"));
    }
}

#[test]
fn a_plan_with_a_schema_key_validates_and_runs() {
    let dir = common::scratch_dir("schema", "dollar_schema");
    let plan = dir.join("plan.json");
    std::fs::write(
        &plan,
        r#"{"$schema": "../loaddensity.schema.json",
            "load_density": [["LD_log", {"message": "schema key ignored"}]]}"#,
    )
    .unwrap();
    let v = Run::of(common::ld("validate").arg(&plan));
    assert_eq!(v.code, 0, "{}", v.stderr);
    let r = Run::of(common::ld("run").arg(&plan).current_dir(&dir));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("schema key ignored") || r.stderr.contains("schema key ignored"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}
