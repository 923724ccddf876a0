//! Helpers for unit tests of argument checks: validate a one-action plan and
//! look at its problems.

use super::{plan_str, validate_str, warnings_str, Plan, Problem};
use serde_json::{json, Value};

/// The problems of the plan `[[name, args]]`.
pub fn problems(name: &str, args: Value) -> Vec<Problem> {
    validate_str(&json!([[name, args]]).to_string())
}

/// Asserts that `[[name, args]]` has exactly one problem, at `path`, whose
/// message contains `msg`; returns it (for its hint).
#[track_caller]
pub fn one_problem(name: &str, args: Value, path: &str, msg: &str) -> Problem {
    let mut problems = problems(name, args);
    assert_eq!(problems.len(), 1, "expected one problem: {problems:#?}");
    let p = problems.remove(0);
    assert_eq!(p.at.path, path, "{p}");
    assert!(p.message.contains(msg), "expected {msg:?} in: {p}");
    p
}

/// Asserts that `[[name, args]]` is valid; returns the plan.
#[track_caller]
pub fn valid(name: &str, args: Value) -> Plan {
    plan_str(&json!([[name, args]]).to_string())
        .unwrap_or_else(|problems| panic!("expected no problem: {problems:#?}"))
}

/// The command `[[name, args]]` builds (it must be valid), as its `Debug`
/// text: what a test can see of a command's private fields.
#[track_caller]
pub fn built(name: &str, args: Value) -> String {
    format!("{:?}", valid(name, args).actions[0].command)
}

/// `base` (a JSON object) with the fields of `extra` set over it.
pub fn with(mut base: Value, extra: Value) -> Value {
    let (Value::Object(b), Value::Object(e)) = (&mut base, extra) else {
        panic!("with() merges two objects");
    };
    b.extend(e);
    base
}

/// The warnings of the plan `[[name, args]]`, as `path: message` lines.
pub fn warnings(name: &str, args: Value) -> Vec<String> {
    warnings_str(&json!([[name, args]]).to_string())
        .into_iter()
        .map(|w| format!("{}: {}", w.at.path, w.message))
        .collect()
}
