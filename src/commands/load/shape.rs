//! `load_shape` and `shape_config`: LoadDensity's load shapes (Locust's
//! `LoadTestShape` examples), read and checked whole into an engine
//! [`Shape`]. Every problem names its field, e.g.
//! `args.shape_config.stages[1].duration`.

use super::{kind, MAX_USERS, START_TEST};
use crate::engine::shape::{Shape, Stage};
use crate::plan::validate::{serde_problem, Validator};
use crate::plan::{Position, Problem};
use crate::units;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// The shapes, as plans name them.
const SHAPES: [&str; 3] = ["stages", "spike", "soak"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StagesArg {
    stages: Vec<StageArg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StageArg {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    duration: f64,
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    users: f64,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    spawn_rate: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpikeArg {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    baseline_users: f64,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    spike_users: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    spawn_rate: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pre_seconds: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    spike_seconds: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    post_seconds: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SoakArg {
    #[serde(deserialize_with = "crate::plan::lenient::num")]
    users: f64,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    spawn_rate: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    ramp_seconds: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    hold_seconds: Option<f64>,
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    cooldown_seconds: Option<f64>,
}

/// Checks one shape's numbers, recording a problem per bad field.
struct Checker<'v> {
    v: &'v mut Validator,
    at: Position,
    bad: bool,
}

impl Checker<'_> {
    fn problem(&mut self, field: &str, msg: String) {
        self.bad = true;
        let path = match field {
            "" => "args.shape_config".to_string(),
            f => format!("args.shape_config.{f}"),
        };
        self.v.problem(Problem::new(self.at.child(&path), msg));
    }

    /// A user count: whole, from `min` to [`MAX_USERS`].
    fn users(&mut self, field: &str, n: f64, min: u64) -> u64 {
        if n.fract() == 0.0 && n >= min as f64 && n <= MAX_USERS as f64 {
            return n as u64;
        }
        self.problem(
            field,
            format!("{field} must be a whole number of users from {min} to {MAX_USERS}, found {n}"),
        );
        0
    }

    /// Seconds: > 0, or >= 0 when `zero_ok`; at most 1e9.
    fn seconds(&mut self, field: &str, s: f64, zero_ok: bool) -> f64 {
        let ok = units::valid_seconds(s) && (zero_ok || s > 0.0);
        if !ok {
            let what = if zero_ok { ">= 0" } else { "> 0" };
            self.problem(
                field,
                format!("{field} must be a number of seconds {what} (at most 1e9), found {s}"),
            );
        }
        s
    }

    /// Users started (or stopped) per second: > 0.
    fn rate(&mut self, field: &str, r: f64) -> f64 {
        if !(r > 0.0 && r.is_finite()) {
            self.problem(
                field,
                format!("{field} must be a positive number of users per second, found {r}"),
            );
        }
        r
    }
}

/// The test's load shape, when `load_shape` names one; `spawn_rate` is the
/// test's, the default of each stage's. `None` with problems recorded when
/// anything is wrong.
pub(super) fn compile(
    v: &mut Validator,
    at: &Position,
    load_shape: Option<&Value>,
    config: Option<&Value>,
    spawn_rate: f64,
) -> Option<Shape> {
    let before = v.problem_count();
    let name = match (load_shape, config) {
        (None, None) => return None,
        (None, Some(_)) => {
            v.problem(
                Problem::new(
                    at.child("args.shape_config"),
                    "shape_config without load_shape: say which shape it configures",
                )
                .hint("add \"load_shape\": \"stages\", \"spike\" or \"soak\""),
            );
            return None;
        }
        (Some(Value::String(s)), _) => s.as_str(),
        (Some(other), _) => {
            v.problem(
                Problem::new(
                    at.child("args.load_shape"),
                    format!(
                        "load_shape must be a shape's name (stages, spike or soak), found {}",
                        kind(other)
                    ),
                )
                .hint("e.g. \"load_shape\": \"stages\", with the stages in \"shape_config\""),
            );
            return None;
        }
    };
    if !SHAPES.contains(&name) {
        let hint = match crate::registry::closest_of(SHAPES.into_iter(), name) {
            Some(near) => format!("did you mean `{near}`? the shapes are stages, spike and soak"),
            None => "the shapes are stages, spike and soak".to_string(),
        };
        v.problem(
            Problem::new(
                at.child("args.load_shape"),
                format!("unknown load_shape {name:?}"),
            )
            .hint(hint),
        );
        return None;
    }
    let Some(config) = config else {
        let example = match name {
            "stages" => "{\"stages\": [{\"duration\": 60, \"users\": 10, \"spawn_rate\": 2}]}",
            "spike" => "{\"baseline_users\": 10, \"spike_users\": 100}",
            _ => "{\"users\": 50}",
        };
        v.problem(
            Problem::new(
                at.child("args.shape_config"),
                format!("load_shape {name:?} needs shape_config"),
            )
            .hint(format!("e.g. \"shape_config\": {example}")),
        );
        return None;
    };
    let shape = match name {
        "stages" => {
            let a = typed(v, at, config)?;
            stages(&mut Checker::new(v, at), a, spawn_rate)
        }
        "spike" => {
            let a = typed(v, at, config)?;
            spike(&mut Checker::new(v, at), a)
        }
        _ => {
            let a = typed(v, at, config)?;
            soak(&mut Checker::new(v, at), a)
        }
    };
    let mut c = Checker::new(v, at);
    if c.v.problem_count() != before {
        return None;
    }
    if shape.peak_users() == 0 {
        c.problem(
            "",
            "the shape never has a user: nothing would run".to_string(),
        );
    }
    (!c.bad).then_some(shape)
}

impl<'v> Checker<'v> {
    fn new(v: &'v mut Validator, at: &Position) -> Checker<'v> {
        Checker {
            v,
            at: at.clone(),
            bad: false,
        }
    }
}

/// `shape_config` read into `T`; a problem at the field that failed.
fn typed<T: DeserializeOwned>(v: &mut Validator, at: &Position, config: &Value) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(config.clone()) {
        Ok(t) => Some(t),
        Err(e) => {
            v.problem(serde_problem(
                START_TEST.name,
                at,
                "args.shape_config",
                None,
                e,
            ));
            None
        }
    }
}

fn stages(c: &mut Checker<'_>, a: StagesArg, spawn_rate: f64) -> Shape {
    if a.stages.is_empty() {
        c.problem(
            "stages",
            "stages is empty: give at least one {\"duration\": s, \"users\": n}".to_string(),
        );
    }
    let mut out: Vec<Stage> = Vec::with_capacity(a.stages.len());
    for (i, s) in a.stages.iter().enumerate() {
        let end_s = c.seconds(&format!("stages[{i}].duration"), s.duration, false);
        if let Some(prev) = out.last().map(|p| p.end_s) {
            if end_s > 0.0 && end_s <= prev {
                c.bad = true;
                c.v.problem(
                    Problem::new(
                        c.at.child(&format!("args.shape_config.stages[{i}].duration")),
                        format!(
                            "stages[{i}].duration {end_s} is not after stages[{}].duration {prev}: a stage's duration is the time it ends, in seconds from the start of the test",
                            i - 1
                        ),
                    )
                    .hint(format!(
                        "for a stage {end_s} s long after that one, write {}",
                        prev + end_s
                    )),
                );
            }
        }
        out.push(Stage {
            end_s,
            users: c.users(&format!("stages[{i}].users"), s.users, 0),
            spawn_rate: c.rate(
                &format!("stages[{i}].spawn_rate"),
                s.spawn_rate.unwrap_or(spawn_rate),
            ),
        });
    }
    Shape::Stages(out)
}

fn spike(c: &mut Checker<'_>, a: SpikeArg) -> Shape {
    let baseline = c.users("baseline_users", a.baseline_users, 0);
    Shape::Spike {
        baseline,
        spike: match a.spike_users {
            Some(n) => c.users("spike_users", n, 0),
            None => baseline,
        },
        spawn_rate: c.rate("spawn_rate", a.spawn_rate.unwrap_or(10.0)),
        pre_s: c.seconds("pre_seconds", a.pre_seconds.unwrap_or(30.0), true),
        spike_s: c.seconds("spike_seconds", a.spike_seconds.unwrap_or(30.0), false),
        post_s: c.seconds("post_seconds", a.post_seconds.unwrap_or(30.0), true),
    }
}

fn soak(c: &mut Checker<'_>, a: SoakArg) -> Shape {
    let users = c.users("users", a.users, 1);
    let default_rate = (users as f64 / 10.0).max(1.0);
    Shape::Soak {
        users,
        spawn_rate: c.rate("spawn_rate", a.spawn_rate.unwrap_or(default_rate)),
        ramp_s: c.seconds("ramp_seconds", a.ramp_seconds.unwrap_or(60.0), true),
        hold_s: c.seconds("hold_seconds", a.hold_seconds.unwrap_or(600.0), false),
        cooldown_s: c.seconds("cooldown_seconds", a.cooldown_seconds.unwrap_or(60.0), true),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem, problems, with};
    use serde_json::{json, Value};

    fn args(extra: Value) -> Value {
        with(
            json!({"tasks": [{"request_url": "http://127.0.0.1:8080/"}]}),
            extra,
        )
    }

    #[track_caller]
    fn one(extra: Value, path: &str, msg: &str) -> crate::plan::Problem {
        one_problem("LD_start_test", args(extra), path, msg)
    }

    #[test]
    fn stages_end_the_test_with_the_last_stage_and_use_the_peak_users() {
        let plan = built(
            "LD_start_test",
            args(json!({"load_shape": "stages", "shape_config": {"stages": [
                {"duration": 10, "users": 5, "spawn_rate": 5},
                {"duration": 30, "users": "20"},
                {"duration": 40, "users": 0, "spawn_rate": 1}]}})),
        );
        assert!(plan.contains("users: 20,"), "{plan}");
        assert!(plan.contains("duration: Some(40s)"), "{plan}");
        // The second stage takes the test's spawn_rate (10).
        assert!(
            plan.contains("Stage { end_s: 30.0, users: 20, spawn_rate: 10.0 }"),
            "{plan}"
        );
        // test_time still caps the test.
        let capped = built(
            "LD_start_test",
            args(json!({"test_time": 5, "load_shape": "stages",
                        "shape_config": {"stages": [{"duration": 10, "users": 5}]}})),
        );
        assert!(capped.contains("duration: Some(5s)"), "{capped}");
    }

    #[test]
    fn spike_and_soak_defaults() {
        let plan = built(
            "LD_start_test",
            args(json!({"load_shape": "spike", "shape_config": {"baseline_users": 4}})),
        );
        assert!(
            plan.contains("Spike { baseline: 4, spike: 4, spawn_rate: 10.0, pre_s: 30.0, spike_s: 30.0, post_s: 30.0 }"),
            "{plan}"
        );
        assert!(plan.contains("duration: Some(90s)"), "{plan}");
        let plan = built(
            "LD_start_test",
            args(json!({"load_shape": "soak", "shape_config": {"users": 50}})),
        );
        assert!(
            plan.contains("Soak { users: 50, spawn_rate: 5.0, ramp_s: 60.0, hold_s: 600.0, cooldown_s: 60.0 }"),
            "{plan}"
        );
        assert!(plan.contains("duration: Some(720s)"), "{plan}");
        let plan = built(
            "LD_start_test",
            args(json!({"load_shape": "soak", "shape_config": {"users": 3}})),
        );
        assert!(plan.contains("spawn_rate: 1.0"), "{plan}");
    }

    #[test]
    fn a_shape_name_is_checked_with_a_suggestion() {
        let p = one(
            json!({"load_shape": "stagse", "shape_config": {}}),
            "actions[0].args.load_shape",
            "unknown load_shape \"stagse\"",
        );
        assert!(p.hint.unwrap().contains("did you mean `stages`"));
        one(
            json!({"load_shape": {"stages": []}}),
            "actions[0].args.load_shape",
            "load_shape must be a shape's name (stages, spike or soak), found an object",
        );
        one(
            json!({"shape_config": {"users": 2}}),
            "actions[0].args.shape_config",
            "shape_config without load_shape",
        );
        one(
            json!({"load_shape": "soak"}),
            "actions[0].args.shape_config",
            "load_shape \"soak\" needs shape_config",
        );
    }

    #[test]
    fn every_bad_field_is_reported_with_its_position() {
        let p = one(
            json!({"load_shape": "spike", "shape_config": {"baseline_users": 2, "spike_user": 9}}),
            "actions[0].args.shape_config.spike_user",
            "unknown field `spike_user`",
        );
        assert!(p.hint.unwrap().contains("did you mean `spike_users`"));
        one(
            json!({"load_shape": "stages", "shape_config": {"stages": [
                {"duration": 10, "users": 1}, {"duration": 5, "users": 2}]}}),
            "actions[0].args.shape_config.stages[1].duration",
            "stages[1].duration 5 is not after stages[0].duration 10: a stage's duration is the time it ends",
        );
        one(
            json!({"load_shape": "stages", "shape_config": {"stages": [{"duration": 10}]}}),
            "actions[0].args.shape_config.stages[0]",
            "missing field `users`",
        );
        let found = problems(
            "LD_start_test",
            args(json!({"load_shape": "soak", "shape_config": {
                "users": -3, "spawn_rate": 0, "ramp_seconds": -1, "hold_seconds": 0}})),
        );
        let got: Vec<(String, String)> = found
            .iter()
            .map(|p| (p.at.path.clone(), p.message.clone()))
            .collect();
        let want = [
            (
                "users",
                "users must be a whole number of users from 1 to 1000000, found -3",
            ),
            (
                "spawn_rate",
                "spawn_rate must be a positive number of users per second, found 0",
            ),
            (
                "ramp_seconds",
                "ramp_seconds must be a number of seconds >= 0 (at most 1e9), found -1",
            ),
            (
                "hold_seconds",
                "hold_seconds must be a number of seconds > 0 (at most 1e9), found 0",
            ),
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for ((path, msg), (field, text)) in got.iter().zip(want) {
            assert_eq!(path, &format!("actions[0].args.shape_config.{field}"));
            assert_eq!(msg, text);
        }
        one(
            json!({"load_shape": "stages", "shape_config": {"stages": [{"duration": 0, "users": 1}]}}),
            "actions[0].args.shape_config.stages[0].duration",
            "stages[0].duration must be a number of seconds > 0",
        );
        one(
            json!({"load_shape": "stages", "shape_config": {"stages": [{"duration": 3, "users": 0}]}}),
            "actions[0].args.shape_config",
            "the shape never has a user",
        );
        one(
            json!({"load_shape": "stages", "shape_config": {"stages": []}}),
            "actions[0].args.shape_config.stages",
            "stages is empty",
        );
    }
}
