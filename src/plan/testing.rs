//! Helpers for unit tests of argument checks: validate a one-action plan and
//! look at its problems.

use super::{plan_str, validate_str, Plan, Problem};
use serde_json::{json, Value};

/// The problems of the plan `[[name, args]]`.
pub fn problems(name: &str, args: Value) -> Vec<Problem> {
    validate_str(&json!([[name, args]]).to_string())
}

/// Asserts that `[[name, args]]` is valid; returns the plan.
#[track_caller]
pub fn valid(name: &str, args: Value) -> Plan {
    plan_str(&json!([[name, args]]).to_string())
        .unwrap_or_else(|problems| panic!("expected no problem: {problems:#?}"))
}
