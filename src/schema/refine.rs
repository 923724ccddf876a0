//! The shapes a registry `kind` cannot say: `LD_start_test`'s tasks (their
//! three forms, each task's fields, both assertion forms, predicates,
//! extract, retry), its enumerations and nested settings, SLA rules and data
//! sources. Each mirrors what the parser accepts (`src/commands/load/args.rs`,
//! `task.rs`, `pacing.rs`, `shape.rs`, `arrival.rs`; `sla.rs`); a check the
//! validator only warns about is not made here.

use super::keyword;
use crate::commands::{budget, db_source, network, vars};
use serde_json::{json, Value};

/// The parameters refined here, as (command, parameter).
#[cfg(test)]
pub const REFINED: &[(&str, &str)] = &[
    ("LD_register_csv_sources", "sources"),
    ("LD_register_db_sources", "sources"),
    ("LD_install_network_conditioner", "preset"),
    ("LD_start_test", "user_detail_dict"),
    ("LD_start_test", "runner_mode"),
    ("LD_start_test", "tasks"),
    ("LD_start_test", "wait_time"),
    ("LD_start_test", "retry"),
    ("LD_start_test", "failure_budget"),
    ("LD_start_test", "engine"),
    ("LD_start_test", "load_shape"),
    ("LD_start_test", "shape_config"),
    ("LD_start_test", "csv_sources"),
    ("LD_start_test", "verify"),
    ("LD_start_test", "cert"),
    ("LD_start_test", "executor"),
    ("LD_start_test", "stages"),
    ("LD_evaluate_sla", "rules"),
    ("LD_assert_sla", "rules"),
];

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{name}") })
}

/// `n` or more `item`s.
fn list_of(item: Value, n: usize) -> Value {
    json!({"type": "array", "items": item, "minItems": n})
}

/// Exactly the `items` given, in order.
fn tuple(items: Vec<Value>) -> Value {
    let n = items.len();
    json!({"type": "array", "prefixItems": items, "items": false, "minItems": n})
}

/// One of `values` (offered by editors), or any string: for a setting the
/// validator accepts with a warning when it is something else.
fn open_enum(values: &[&str]) -> Value {
    json!({"anyOf": [{"enum": values}, {"type": "string"}]})
}

/// An object of exactly these properties (`required` among them).
fn closed(properties: Value, required: &[&str]) -> Value {
    let mut s = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        s["required"] = json!(required);
    }
    s["additionalProperties"] = json!(false);
    s
}

/// The refined schema of `command`'s parameter `param`, if any.
pub fn param(command: &str, param: &str) -> Option<Value> {
    Some(match (command, param) {
        ("LD_register_csv_sources", "sources") => list_of(r("csv_source"), 0),
        ("LD_register_db_sources", "sources") => list_of(r("db_source"), 0),
        ("LD_install_network_conditioner", "preset") => {
            json!({"enum": ["3g", "slow-4g", "fast-4g"]})
        }
        ("LD_evaluate_sla" | "LD_assert_sla", "rules") => list_of(r("sla_rule"), 1),
        ("LD_start_test", p) => start_test(p)?,
        _ => return None,
    })
}

fn start_test(param: &str) -> Option<Value> {
    Some(match param {
        "user_detail_dict" => closed(
            json!({
                "user": {"enum": ["fast_http_user", "http_user", "async_http_user", "http3_user"]},
                "host": {"type": "string"},
                "base_url": {"type": "string"}
            }),
            &[],
        ),
        "runner_mode" => json!({"enum": ["local", "master", "worker"]}),
        "engine" => json!({"enum": ["locust", "asyncio"]}),
        "tasks" => r("tasks"),
        "wait_time" => json!({"anyOf": [
            r("number"),
            closed(json!({"between": tuple(vec![r("number"), r("number")])}), &["between"])
        ]}),
        "retry" => r("retry"),
        "failure_budget" => json!({"anyOf": [r("failure_budget"), {"const": false}]}),
        "load_shape" => json!({"enum": ["stages", "spike", "soak"]}),
        "shape_config" => json!({"anyOf": [
            closed(json!({"stages": list_of(closed(json!({
                "duration": r("number"), "users": r("number"), "spawn_rate": r("number")
            }), &["duration", "users"]), 0)}), &["stages"]),
            closed(json!({
                "baseline_users": r("number"), "spike_users": r("number"), "spawn_rate": r("number"),
                "pre_seconds": r("number"), "spike_seconds": r("number"), "post_seconds": r("number")
            }), &["baseline_users"]),
            closed(json!({
                "users": r("number"), "spawn_rate": r("number"), "ramp_seconds": r("number"),
                "hold_seconds": r("number"), "cooldown_seconds": r("number")
            }), &["users"])
        ]}),
        "csv_sources" => list_of(r("csv_source"), 0),
        "verify" => r("verify"),
        "cert" => r("cert"),
        "executor" => json!({"enum": ["closed", "constant_arrival_rate", "ramping_arrival_rate"]}),
        "stages" => list_of(
            closed(
                json!({"target": r("number"), "duration": {"anyOf": [r("number"), {"type": "string"}]}}),
                &["target", "duration"],
            ),
            0,
        ),
        _ => return None,
    })
}

/// The shared definitions the refined parameters refer to.
pub fn definitions() -> Vec<(&'static str, Value)> {
    vec![
        ("tasks", tasks()),
        ("task_list", list_of(r("task"), 1)),
        (
            "task_map",
            json!({
                "description": "LoadDensity's {method: task} map: the key is the task's method unless the task has its own.",
                "type": "object",
                "minProperties": 1,
                "additionalProperties": r("task")
            }),
        ),
        ("task", task()),
        ("text", json!({"type": ["string", "number", "boolean"]})),
        (
            "texts",
            json!({"anyOf": [r("text"), {"type": "array", "items": r("text")}]}),
        ),
        (
            "pairs",
            json!({"anyOf": [
                {"type": "object", "additionalProperties": r("text")},
                {"type": "array", "items": tuple(vec![r("text"), r("text")])}
            ]}),
        ),
        (
            "status_codes",
            json!({"anyOf": [r("number"), {"type": "array", "items": r("number")}]}),
        ),
        ("assertions", assertions()),
        ("assertion_item", assertion_item()),
        ("predicate", predicate()),
        ("extract", extract()),
        ("auth", auth()),
        ("retry", retry()),
        (
            "verify",
            json!({
                "description": "true: verify against the system's trust store; false: do not verify; a string: a PEM file of the only CA certificates to trust.",
                "anyOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]
            }),
        ),
        (
            "cert",
            json!({
                "description": "A PEM file holding the client certificate chain and its key, or [cert_path, key_path].",
                "anyOf": [
                    {"type": "string", "minLength": 1},
                    tuple(vec![json!({"type": "string", "minLength": 1}), json!({"type": "string", "minLength": 1})])
                ]
            }),
        ),
        ("failure_budget", keyword(&budget::INSTALL_FAILURE_BUDGET)),
        ("network", keyword(&network::INSTALL_NETWORK_CONDITIONER)),
        ("csv_source", keyword(&vars::REGISTER_CSV_SOURCE)),
        ("db_source", keyword(&db_source::REGISTER_DB_SOURCE)),
        ("sla_rule", sla_rule()),
    ]
}

/// `tasks`: a list, a scenario (an object with `mode` or `tasks`), or a
/// `{method: task}` map.
fn tasks() -> Value {
    json!({
        "anyOf": [
            r("task_list"),
            {
                "description": "A scenario: {\"mode\": \"sequence\" | \"weighted\" | \"conditional\", \"tasks\": [...]}; an unknown mode runs as sequence (with a warning).",
                "type": "object",
                "properties": {
                    "mode": open_enum(&["sequence", "weighted", "conditional"]),
                    "tasks": {"anyOf": [r("task_list"), r("task_map")]}
                },
                "required": ["tasks"],
                "additionalProperties": false
            },
            {
                "allOf": [
                    r("task_map"),
                    {"not": {"anyOf": [{"required": ["tasks"]}, {"required": ["mode"]}]}}
                ]
            }
        ]
    })
}

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// A method name in any case: `[gG][eE][tT]|...`.
fn method() -> Value {
    let any_case: Vec<String> = METHODS
        .iter()
        .map(|m| {
            m.chars()
                .map(|c| format!("[{c}{}]", c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    json!({
        "description": "get, post, put, patch, delete, head or options, any case (default: the map key, else get).",
        "anyOf": [
            {"enum": METHODS},
            {"type": "string", "pattern": format!("^({})$", any_case.join("|"))}
        ]
    })
}

fn task() -> Value {
    let string = json!({"type": "string"});
    json!({
        "description": "One request: `request_url` (or `url`) and how to send and judge it.",
        "type": "object",
        "properties": {
            "method": method(),
            "request_method": method(),
            "request_url": {"type": "string", "description": "Absolute http:// or https:// URL, or a path joined to the test's host."},
            "url": {"type": "string", "description": "Alias of request_url (give one, not both)."},
            "name": {"type": "string", "description": "The statistics name (default: the URL's path)."},
            "headers": {"type": "object", "additionalProperties": string, "description": "Request headers, name → value."},
            "params": {"$ref": "#/$defs/pairs", "description": "Query parameters: an object, or a list of [name, value] pairs."},
            "json": {"description": "JSON body."},
            "data": {
                "description": "Raw body (a string) or a form body (an object, or a list of [name, value] pairs).",
                "anyOf": [{"type": "string"}, r("pairs")]
            },
            "files": {
                "description": "Files to upload as multipart/form-data: field → path, or field → {\"path\", \"filename\", \"content_type\"}.",
                "type": "object",
                "additionalProperties": {"anyOf": [
                    string,
                    closed(json!({"path": string, "filename": string, "content_type": string}), &["path"])
                ]}
            },
            "timeout": {"$ref": "#/$defs/number", "description": "Seconds the response may take (> 0).", "default": 30},
            "auth": r("auth"),
            "assertions": r("assertions"),
            "extract": {"type": "array", "items": r("extract")},
            "weight": {"$ref": "#/$defs/number", "description": "Relative chance in weighted mode.", "default": 1},
            "run_if": r("predicate"),
            "skip_if": r("predicate"),
            "retry": r("retry"),
            "network": r("network"),
            "max_body_bytes": {"$ref": "#/$defs/number", "description": "This task's cap on the response body kept in memory."},
            "throttle": {
                "description": "A token bucket shared by the tasks with the same key: {\"rps\": R, \"burst\": B, \"key\": K}, or a number for rps.",
                "anyOf": [
                    {"type": "number"},
                    closed(json!({"rps": r("number"), "burst": r("number"), "key": string}), &["rps"])
                ]
            },
            "think_time": {
                "description": "Seconds slept after this task: a number, or {\"min\": a, \"max\": b}.",
                "anyOf": [r("number"), closed(json!({"min": r("number"), "max": r("number")}), &["min", "max"])]
            },
            "cookies": {"$ref": "#/$defs/pairs", "description": "Cookies sent with this request, besides the user's cookie jar."},
            "max_redirects": {"$ref": "#/$defs/number", "description": "Most redirects this request follows (default: the test's)."},
            "allow_redirects": {"type": "boolean", "description": "Follow redirects (default true).", "default": true},
            "verify": r("verify"),
            "cert": r("cert"),
            "client_cert": r("cert")
        },
        "additionalProperties": false,
        "anyOf": [{"required": ["request_url"]}, {"required": ["url"]}],
        "allOf": [
            {"not": {"required": ["request_url", "url"]}},
            {"not": {"required": ["json", "data"]}}
        ]
    })
}

/// This project's object form or LoadDensity's list of `{"type": ...}` items.
fn assertions() -> Value {
    json!({
        "description": "What makes a response a success: {\"status_code\": ..., \"contains\": ..., \"not_contains\": ..., \"header\": {...}, \"json_path\": {...}}, or LoadDensity's list of {\"type\": ...} items.",
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "status_code": r("status_codes"),
                    "contains": r("texts"),
                    "not_contains": r("texts"),
                    "header": {"type": "object", "additionalProperties": r("text")},
                    "json_path": {"type": "object"}
                },
                "additionalProperties": false
            },
            {"type": "array", "items": r("assertion_item")}
        ]
    })
}

fn assertion_item() -> Value {
    let forms = [
        (
            "status_code",
            json!({"value": r("status_codes")}),
            vec!["value"],
        ),
        ("contains", json!({"value": r("text")}), vec!["value"]),
        ("not_contains", json!({"value": r("text")}), vec!["value"]),
        (
            "json_path",
            json!({"path": {"type": "string"}, "value": {}}),
            vec!["path", "value"],
        ),
        (
            "header",
            json!({"name": {"type": "string"}, "value": r("text")}),
            vec!["name", "value"],
        ),
    ];
    let types: Vec<&str> = forms.iter().map(|f| f.0).collect();
    let per_type: Vec<Value> = forms
        .into_iter()
        .map(|(t, mut props, required)| {
            props["type"] = json!({"const": t});
            json!({
                "if": {"properties": {"type": {"const": t}}},
                "then": closed(props, &required)
            })
        })
        .collect();
    json!({
        "type": "object",
        "properties": {"type": {"enum": types}},
        "required": ["type"],
        "allOf": per_type
    })
}

fn predicate() -> Value {
    let pair = tuple(vec![json!({}), json!({})]);
    json!({
        "description": "true/false, a number (0 is false), a string such as \"${var.x}\" (truthy), or {\"equals\" | \"not_equals\" | \"in\": [a, b]} or {\"truthy\": v}.",
        "anyOf": [
            {"type": ["boolean", "number", "string"]},
            {
                "type": "object",
                "properties": {"equals": pair, "not_equals": pair, "in": pair, "truthy": {}},
                "additionalProperties": false,
                "minProperties": 1,
                "maxProperties": 1
            }
        ]
    })
}

fn extract() -> Value {
    closed(
        json!({
            "var": {"type": "string", "description": "The user variable the value goes into."},
            "from": {"enum": ["json_path", "header", "status_code"], "default": "json_path"},
            "path": {"type": "string", "description": "With json_path: the dotted path."},
            "name": {"type": "string", "description": "With header: the header name."},
            "scope": {"enum": ["session"]}
        }),
        &["var"],
    )
}

fn auth() -> Value {
    let string = json!({"type": "string"});
    json!({
        "description": "{\"type\": \"basic\", \"username\": ..., \"password\": ...} or {\"type\": \"bearer\", \"token\": ...}.",
        "type": "object",
        "properties": {"type": {"enum": ["basic", "bearer"]}},
        "required": ["type"],
        "allOf": [
            {
                "if": {"properties": {"type": {"const": "basic"}}},
                "then": closed(json!({"type": {}, "username": string, "password": string}), &["username", "password"])
            },
            {
                "if": {"properties": {"type": {"const": "bearer"}}},
                "then": closed(json!({"type": {}, "token": string}), &["token"])
            }
        ]
    })
}

fn retry() -> Value {
    let n = |doc: &str, default: Value| json!({"$ref": "#/$defs/number", "description": doc, "default": default});
    json!({
        "description": "A retry policy: budgets per failure class, backoff, and (run-wide) the retry-storm budget.",
        "type": "object",
        "properties": {
            "transient": n("Retries allowed for transient failures, per logical request.", json!(5)),
            "flaky": n("Retries allowed for flaky failures.", json!(2)),
            "permanent": n("Retries allowed for permanent failures.", json!(0)),
            "base_delay": n("Seconds before the first retry.", json!(0.1)),
            "max_delay": n("No delay is longer, jitter and Retry-After included.", json!(5.0)),
            "backoff_factor": n("Growth per retry (>= 1).", json!(2.0)),
            "jitter": n("Spread of each delay, ± this fraction (0 to 1).", json!(0.25)),
            "retry_on_status": {"$ref": "#/$defs/status_codes", "description": "Replaces the transient status set.", "default": [429, 502, 503, 504]},
            "retry_ratio": n("Run-wide only: the retry-storm budget's ratio of retries to first attempts.", json!(0.2)),
            "retry_min_per_s": n("Run-wide only: the retry-storm floor, retries per second.", json!(3))
        },
        "additionalProperties": false
    })
}

fn sla_rule() -> Value {
    closed(
        json!({
            "type": {"enum": ["latency_p50", "latency_p90", "latency_p95", "latency_p99", "latency_mean", "failure_rate", "requests", "rps"]},
            "name": {"type": "string", "description": "A task name (default: all)."},
            "op": {"enum": ["lt", "lte", "gt", "gte"], "default": "lte"},
            "value": r("number"),
            "basis": {"enum": ["corrected", "raw"], "default": "corrected"}
        }),
        &["type", "value"],
    )
}
