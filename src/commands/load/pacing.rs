//! A task's pacing fields, checked: `throttle` (a token bucket the test's
//! tasks with the same key share) and `think_time` (a pause after the task).

use super::{kind, typed_value};
use crate::engine::throttle::ThrottleSpec;
use crate::engine::Wait;
use crate::plan::validate::Validator;
use crate::plan::{Position, Problem};
use crate::units;
use serde::Deserialize;
use serde_json::Value;

/// `throttle` as an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThrottleArg {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    rps: f64,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    burst: Option<f64>,
    key: Option<String>,
}

/// `think_time` as a range.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeArg {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    min: f64,
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    max: f64,
}

/// Most tokens a second a throttle may ask for.
const MAX_RPS: f64 = 1e9;

/// The task's `throttle` (`at` is the task): `{"rps": R, "burst": B, "key":
/// K}`, or a number for `rps` alone. `burst` defaults to max(1, floor(R)),
/// `key` to the task's `name`.
pub(super) fn throttle(
    v: &mut Validator,
    at: &Position,
    value: Option<Value>,
    name: &str,
) -> Option<ThrottleSpec> {
    let arg = match value? {
        Value::Number(n) => ThrottleArg {
            rps: n.as_f64().unwrap_or(f64::NAN),
            burst: None,
            key: None,
        },
        o @ Value::Object(_) => typed_value::<ThrottleArg>(v, at, "throttle", o)?,
        other => {
            v.problem(
                Problem::new(
                    at.child("throttle"),
                    format!(
                        "throttle must be {{\"rps\": R, \"burst\": B, \"key\": K}} (or a number of requests per second), found {}",
                        kind(&other)
                    ),
                )
                .hint("e.g. \"throttle\": {\"rps\": 50}"),
            );
            return None;
        }
    };
    let before = v.problem_count();
    if !(arg.rps > 0.0 && arg.rps <= MAX_RPS) {
        v.problem(Problem::new(
            at.child("throttle.rps"),
            format!(
                "throttle rps must be a positive number of requests per second (at most 1e9), found {}",
                arg.rps
            ),
        ));
    }
    let burst = arg.burst.unwrap_or_else(|| arg.rps.floor().max(1.0));
    if !(1.0..=MAX_RPS).contains(&burst) {
        v.problem(Problem::new(
            at.child("throttle.burst"),
            format!("throttle burst must be a number of requests from 1 to 1e9, found {burst}"),
        ));
    }
    let key = arg.key.unwrap_or_else(|| name.to_string());
    if key.is_empty() {
        v.problem(Problem::new(
            at.child("throttle.key"),
            "throttle key must not be empty",
        ));
    }
    (v.problem_count() == before).then_some(ThrottleSpec {
        rps: arg.rps,
        burst,
        key,
    })
}

/// The task's `think_time` (`at` is the task): seconds, or `{"min": a,
/// "max": b}` drawn uniformly.
pub(super) fn think_time(v: &mut Validator, at: &Position, value: Option<Value>) -> Wait {
    let Some(value) = value else {
        return Wait::None;
    };
    let bad = |v: &mut Validator| {
        v.problem(
            Problem::new(
                at.child("think_time"),
                "think_time must be seconds >= 0 or {\"min\": a, \"max\": b} with 0 <= a <= b",
            )
            .hint("e.g. \"think_time\": 0.5 or \"think_time\": {\"min\": 1, \"max\": 3}"),
        );
        Wait::None
    };
    match value {
        o @ Value::Object(_) => {
            let Some(r) = typed_value::<RangeArg>(v, at, "think_time", o) else {
                return Wait::None;
            };
            if units::valid_seconds(r.min) && units::valid_seconds(r.max) && r.min <= r.max {
                Wait::Between(units::secs(r.min), units::secs(r.max))
            } else {
                bad(v)
            }
        }
        other => {
            let s = crate::plan::lenient::num::<_, f64>(other).unwrap_or(f64::NAN);
            if units::valid_seconds(s) {
                Wait::Constant(units::secs(s))
            } else {
                bad(v)
            }
        }
    }
}

/// Tasks that share a throttle key share one bucket, so they must agree on
/// its rate and size: a problem at each task that differs from the first.
pub(super) fn check_shared_keys(v: &mut Validator, tasks: &[(Position, &ThrottleSpec)]) {
    for (i, (at, spec)) in tasks.iter().enumerate() {
        let first = tasks[..i].iter().find(|(_, s)| s.key == spec.key);
        if let Some((first_at, first)) = first {
            if first.rps != spec.rps || first.burst != spec.burst {
                v.problem(
                    Problem::new(
                        at.child("throttle"),
                        format!(
                            "throttle key {:?} is rps {} burst {} here but rps {} burst {} at {}: tasks with one key share one bucket",
                            spec.key, spec.rps, spec.burst, first.rps, first.burst, first_at.path
                        ),
                    )
                    .hint("give them the same rps and burst, or different keys"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem};
    use serde_json::{json, Value};

    const URL: &str = "http://127.0.0.1:8080/";

    fn task(extra: Value) -> Value {
        let mut t = json!({"request_url": URL});
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"tasks": [t]})
    }

    #[test]
    fn throttle_defaults_burst_and_key() {
        let plan = built("LD_start_test", task(json!({"throttle": {"rps": 2.5}})));
        assert!(
            plan.contains("throttle: Some(ThrottleSpec { rps: 2.5, burst: 2.0, key: \"/\" })"),
            "{plan}"
        );
        let plan = built(
            "LD_start_test",
            task(json!({"throttle": {"rps": "0.5", "key": "api"}})),
        );
        assert!(
            plan.contains("rps: 0.5, burst: 1.0, key: \"api\""),
            "{plan}"
        );
        let plan = built("LD_start_test", task(json!({"name": "n", "throttle": 7})));
        assert!(plan.contains("rps: 7.0, burst: 7.0, key: \"n\""), "{plan}");
    }

    #[test]
    fn bad_throttles_name_the_field() {
        one_problem(
            "LD_start_test",
            task(json!({"throttle": {"rps": 0}})),
            "actions[0].args.tasks[0].throttle.rps",
            "throttle rps must be a positive number",
        );
        one_problem(
            "LD_start_test",
            task(json!({"throttle": {"rps": 5, "burst": 0.5}})),
            "actions[0].args.tasks[0].throttle.burst",
            "throttle burst must be a number of requests from 1",
        );
        let p = one_problem(
            "LD_start_test",
            task(json!({"throttle": {"rps": 5, "brust": 2}})),
            "actions[0].args.tasks[0].throttle.brust",
            "unknown field `brust`",
        );
        assert!(p.hint.unwrap().contains("did you mean `burst`"));
        one_problem(
            "LD_start_test",
            task(json!({"throttle": "fast"})),
            "actions[0].args.tasks[0].throttle",
            "throttle must be {\"rps\": R",
        );
        one_problem(
            "LD_start_test",
            json!({"tasks": [
                {"request_url": URL, "throttle": {"rps": 5, "key": "k"}},
                {"request_url": URL, "throttle": {"rps": 6, "key": "k"}}]}),
            "actions[0].args.tasks[1].throttle",
            "throttle key \"k\" is rps 6 burst 6 here but rps 5 burst 5 at actions[0].args.tasks[0]",
        );
    }

    #[test]
    fn think_time_is_seconds_or_a_range() {
        assert!(built("LD_start_test", task(json!({"think_time": 0.25})))
            .contains("think_time: Constant(250ms)"));
        assert!(built(
            "LD_start_test",
            task(json!({"think_time": {"min": 1, "max": "2"}}))
        )
        .contains("think_time: Between(1s, 2s)"));
        for bad in [json!(-1), json!({"min": 2, "max": 1}), json!("soon")] {
            one_problem(
                "LD_start_test",
                task(json!({ "think_time": bad })),
                "actions[0].args.tasks[0].think_time",
                "think_time must be seconds >= 0 or {\"min\": a, \"max\": b}",
            );
        }
        one_problem(
            "LD_start_test",
            task(json!({"think_time": {"min": 1, "maxx": 2}})),
            "actions[0].args.tasks[0].think_time.maxx",
            "unknown field `maxx`",
        );
    }
}
