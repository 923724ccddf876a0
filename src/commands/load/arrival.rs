//! `LD_start_test`'s open-model arguments (k6's vocabulary): `executor`,
//! `rate`, `time_unit`, `duration`, `pre_allocated_users`, `max_users`,
//! `start_rate`, `stages`, `max_lag`; checked whole and compiled into an
//! [`ArrivalPlan`].

use super::args::StartTestArgs;
use crate::engine::arrival::{ArrivalPlan, Ramp, Schedule};
use crate::plan::validate::Validator;
use crate::plan::{Position, Problem};
use serde_json::Value;
use std::time::Duration;

/// The executors a test may name.
pub(super) const EXECUTORS: [&str; 3] = ["closed", "constant_arrival_rate", "ramping_arrival_rate"];

/// Default `max_lag`: an iteration further behind its schedule is dropped.
const DEFAULT_MAX_LAG: Duration = Duration::from_secs(1);

/// Checks the test's open-model fields (all optional as written; which
/// apply depends on `executor`) and, for an arrival-rate executor, compiles
/// them; `user_count` is the default of `pre_allocated_users`. `None`: the
/// closed model (or a problem was recorded).
pub(super) fn compile(v: &mut Validator, at: &Position, a: &StartTestArgs) -> Option<ArrivalPlan> {
    let user_count = a.user_count;
    let mut c = Check { v, at };
    let executor = match a.executor.as_deref() {
        None | Some("closed") => {
            for (name, given) in [
                ("rate", a.rate.is_some()),
                ("time_unit", a.time_unit.is_some()),
                ("duration", a.duration.is_some()),
                ("pre_allocated_users", a.pre_allocated_users.is_some()),
                ("max_users", a.max_users.is_some()),
                ("start_rate", a.start_rate.is_some()),
                ("stages", a.stages.is_some()),
                ("max_lag", a.max_lag.is_some()),
            ] {
                if given {
                    c.ignored(
                        name,
                        format!("{name} is ignored: it applies to an arrival-rate test only"),
                        "add \"executor\": \"constant_arrival_rate\" (or \"ramping_arrival_rate\"), or remove it",
                    );
                }
            }
            return None;
        }
        Some("constant_arrival_rate") => "constant_arrival_rate",
        Some("ramping_arrival_rate") => "ramping_arrival_rate",
        Some(other) => {
            let hint = match crate::registry::closest_of(EXECUTORS.iter().copied(), other) {
                Some(s) => format!("did you mean {s:?}? The executors are {EXECUTORS:?}"),
                None => format!("the executors are {EXECUTORS:?}"),
            };
            c.problem("executor", format!("unknown executor {other:?}"), &hint);
            return None;
        }
    };
    // Every field is checked before any problem returns, so a plan's
    // problems are all reported at once.
    let unit = match &a.time_unit {
        None => Some(1.0),
        Some(t) => c.seconds("time_unit", t, false),
    };
    let per_second = |r: f64| r / unit.unwrap_or(1.0);
    let schedule = if executor == "constant_arrival_rate" {
        for (name, given) in [
            ("start_rate", a.start_rate.is_some()),
            ("stages", a.stages.is_some()),
        ] {
            if given {
                c.ignored(
                    name,
                    format!("{name} is ignored: it belongs to ramping_arrival_rate"),
                    "use \"executor\": \"ramping_arrival_rate\", or remove it",
                );
            }
        }
        let rate = c.need_number(
            "rate",
            a.rate.as_ref(),
            "iterations per time_unit, e.g. 100",
        );
        let seconds = match &a.duration {
            Some(d) => c.seconds("duration", d, false),
            None => {
                c.problem(
                    "duration",
                    "a constant_arrival_rate test needs a duration",
                    "give \"duration\": \"30s\" (or seconds)",
                );
                None
            }
        };
        rate.zip(seconds)
            .map(|(rate, seconds)| Schedule::constant(per_second(rate), seconds))
    } else {
        for (name, given) in [
            ("rate", a.rate.is_some()),
            ("duration", a.duration.is_some()),
        ] {
            if given {
                c.ignored(
                    name,
                    format!("{name} is ignored: it belongs to constant_arrival_rate"),
                    "a ramping_arrival_rate test takes start_rate and stages",
                );
            }
        }
        let start = match &a.start_rate {
            Some(r) => c.number("start_rate", r),
            None => Some(0.0),
        };
        let ramps = c.stages(
            a.stages.as_ref(),
            per_second(start.unwrap_or(0.0)),
            &per_second,
        );
        start.and(ramps).map(Schedule::new)
    };
    let pre = match &a.pre_allocated_users {
        Some(n) => c.count("pre_allocated_users", n),
        None => Some(user_count.max(1)),
    };
    let max = match &a.max_users {
        Some(n) => c.count("max_users", n),
        None => pre,
    };
    let max_lag = match &a.max_lag {
        Some(l) => c.seconds("max_lag", l, true).map(crate::units::secs),
        None => Some(DEFAULT_MAX_LAG),
    };
    let (Some(_), Some(schedule), Some(pre), Some(max), Some(max_lag)) =
        (unit, schedule, pre, max, max_lag)
    else {
        return None;
    };
    if max < pre {
        c.problem(
            "max_users",
            format!("max_users ({max}) is below pre_allocated_users ({pre})"),
            "raise max_users, or lower pre_allocated_users",
        );
        return None;
    }
    Some(ArrivalPlan {
        executor,
        schedule,
        pre_allocated_users: pre,
        max_users: max,
        max_lag,
        segment: Default::default(),
    })
}

struct Check<'v, 'p> {
    v: &'v mut Validator,
    at: &'p Position,
}

impl Check<'_, '_> {
    /// A field that does not apply: a warning (the plan still runs).
    fn ignored(&mut self, field: &str, msg: impl Into<String>, hint: &str) {
        self.v.warn(
            Problem::new(self.at.child(&format!("args.{field}")), msg).hint(hint.to_string()),
        );
    }

    fn problem(&mut self, field: &str, msg: impl Into<String>, hint: &str) {
        self.v.problem(
            Problem::new(self.at.child(&format!("args.{field}")), msg).hint(hint.to_string()),
        );
    }

    /// A non-negative number (or a string holding one).
    fn number(&mut self, field: &str, v: &Value) -> Option<f64> {
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (0.0..=1e9).contains(&n) => Some(n),
            _ => {
                self.problem(
                    field,
                    format!("{field} must be a number >= 0, found {v}"),
                    "e.g. 100",
                );
                None
            }
        }
    }

    fn need_number(&mut self, field: &str, v: Option<&Value>, example: &str) -> Option<f64> {
        match v {
            Some(v) => self.number(field, v),
            None => {
                self.problem(field, format!("{field} is required here"), example);
                None
            }
        }
    }

    /// A whole number >= 1.
    fn count(&mut self, field: &str, v: &Value) -> Option<u64> {
        match self.number(field, v) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 => Some(n as u64),
            Some(_) => {
                self.problem(
                    field,
                    format!("{field} must be a whole number >= 1, found {v}"),
                    "e.g. 50",
                );
                None
            }
            None => None,
        }
    }

    /// Seconds, or a string such as `30s`, `2m`, `250ms`; zero only when
    /// `zero_ok`.
    fn seconds(&mut self, field: &str, v: &Value, zero_ok: bool) -> Option<f64> {
        let s = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => crate::units::parse_duration(s)
                .ok()
                .map(|d| d.as_secs_f64()),
            _ => None,
        };
        match s {
            Some(s) if crate::units::valid_seconds(s) && (zero_ok || s > 0.0) => Some(s),
            _ => {
                self.problem(
                    field,
                    format!(
                        "{field} must be a duration{}, found {v}",
                        if zero_ok { "" } else { " above 0" }
                    ),
                    "seconds, or a string such as \"30s\", \"2m\", \"500ms\"",
                );
                None
            }
        }
    }

    /// `stages: [{"target": R, "duration": "30s"}, ...]`: linear ramps from
    /// the rate before to each target.
    fn stages(
        &mut self,
        stages: Option<&Value>,
        start: f64,
        per_second: &dyn Fn(f64) -> f64,
    ) -> Option<Vec<Ramp>> {
        let hint = "give \"stages\": [{\"target\": 100, \"duration\": \"30s\"}, ...]";
        let list = match stages {
            Some(Value::Array(l)) if !l.is_empty() => l,
            Some(Value::Array(_)) | None => {
                self.problem("stages", "a ramping_arrival_rate test needs stages", hint);
                return None;
            }
            Some(other) => {
                self.problem(
                    "stages",
                    format!("stages must be a list, found {other}"),
                    hint,
                );
                return None;
            }
        };
        let mut ramps = Vec::with_capacity(list.len());
        let mut from = start;
        let mut ok = true;
        for (i, s) in list.iter().enumerate() {
            let field = format!("stages[{i}]");
            let Some(obj) = s.as_object() else {
                self.problem(&field, format!("a stage is an object, found {s}"), hint);
                ok = false;
                continue;
            };
            if let Some(k) = obj
                .keys()
                .find(|k| !matches!(k.as_str(), "target" | "duration"))
            {
                self.problem(
                    &format!("{field}.{k}"),
                    format!("unknown stage field {k:?}"),
                    "a stage has `target` (iterations per time_unit) and `duration`",
                );
                ok = false;
                continue;
            }
            let target = self.need_number(&format!("{field}.target"), obj.get("target"), hint);
            let seconds = match obj.get("duration") {
                Some(d) => self.seconds(&format!("{field}.duration"), d, false),
                None => {
                    self.problem(
                        &format!("{field}.duration"),
                        "a stage needs a duration",
                        hint,
                    );
                    None
                }
            };
            let (Some(target), Some(seconds)) = (target, seconds) else {
                ok = false;
                continue;
            };
            let to = per_second(target);
            ramps.push(Ramp { seconds, from, to });
            from = to;
        }
        ok.then_some(ramps)
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{one_problem, problems, valid};
    use serde_json::{json, Value};

    fn test(extra: Value) -> Value {
        let mut args = json!({"tasks": [{"request_url": "http://127.0.0.1:9/"}]});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    }

    #[test]
    fn arrival_rate_tests_validate_whole_with_positions_and_fixes() {
        valid(
            "LD_start_test",
            test(json!({"executor": "constant_arrival_rate", "rate": 50, "duration": "2s"})),
        );
        valid(
            "LD_start_test",
            test(
                json!({"executor": "ramping_arrival_rate", "start_rate": "5", "time_unit": "1m",
                        "stages": [{"target": 60, "duration": 1}, {"target": 0, "duration": "500ms"}]}),
            ),
        );
        let p = one_problem(
            "LD_start_test",
            test(json!({"executor": "constant_arival_rate", "rate": 5, "duration": 1})),
            "actions[0].args.executor",
            "unknown executor \"constant_arival_rate\"",
        );
        assert!(p
            .hint
            .unwrap()
            .contains("did you mean \"constant_arrival_rate\""));
        one_problem(
            "LD_start_test",
            test(json!({"executor": "constant_arrival_rate", "rate": 5})),
            "actions[0].args.duration",
            "needs a duration",
        );
        one_problem(
            "LD_start_test",
            test(json!({"executor": "constant_arrival_rate", "duration": 5})),
            "actions[0].args.rate",
            "rate is required",
        );
        one_problem(
            "LD_start_test",
            test(
                json!({"executor": "constant_arrival_rate", "rate": 5, "duration": 5,
                        "pre_allocated_users": 10, "max_users": 4}),
            ),
            "actions[0].args.max_users",
            "max_users (4) is below pre_allocated_users (10)",
        );
        one_problem(
            "LD_start_test",
            test(json!({"executor": "ramping_arrival_rate",
                        "stages": [{"target": 5, "duration": 1}, {"target": 5, "for": 2}]})),
            "actions[0].args.stages[1].for",
            "unknown stage field \"for\"",
        );
        one_problem(
            "LD_start_test",
            test(json!({"executor": "ramping_arrival_rate", "stages": []})),
            "actions[0].args.stages",
            "needs stages",
        );
        // Every problem at once, not the first only.
        let all = problems(
            "LD_start_test",
            test(
                json!({"executor": "constant_arrival_rate", "rate": -1, "duration": "soon",
                        "max_lag": "x"}),
            ),
        );
        assert!(all.len() >= 2, "{all:#?}");
    }
}
