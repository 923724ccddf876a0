//! Plans: file → `source` (bytes, size and UTF-8 checks) → `parse` (the
//! action structure with positions) → `validate` (typed commands). Every
//! problem of every plan is collected before anything runs.
//!
//! [`validate_str`] does all of that for a plan given as text, so a check can
//! be unit-tested beside its code.

pub(crate) mod lenient;
pub(crate) mod parse;
pub(crate) mod problem;
pub(crate) mod source;
pub(crate) mod validate;

#[cfg(test)]
pub(crate) mod testing;

pub use problem::{Position, Problem};
pub use source::Source;
pub use validate::{Action, Plan, Validator};

/// The name problems give a plan validated from a string.
pub const STR_PLAN: &str = "<string>";

/// Parses and validates a plan given as text against every command, the way
/// `loaddensity validate` does a file: the plan ready to run, or every problem.
/// Nothing runs and no file is read, unless the plan itself names other plans
/// (`LD_execute_files`).
pub fn plan_str(json: &str) -> Result<Plan, Vec<Problem>> {
    let mut v = Validator::new(crate::commands::COMMANDS);
    let plan = v.plan_source(&Source::from_string(STR_PLAN, json.to_string()));
    let problems = v.finish();
    match plan {
        Some(plan) if problems.is_empty() => Ok(plan),
        _ => Err(problems),
    }
}

/// Every problem [`plan_str`] finds in a plan given as text (none when it is
/// valid).
pub fn validate_str(json: &str) -> Vec<Problem> {
    plan_str(json).err().unwrap_or_default()
}

/// The warnings validating a plan given as text prints (whether or not it is
/// valid).
pub fn warnings_str(json: &str) -> Vec<Problem> {
    let mut v = Validator::new(crate::commands::COMMANDS);
    v.plan_source(&Source::from_string(STR_PLAN, json.to_string()));
    v.take_warnings()
}
