//! Raw actions → typed commands. Each command's arguments are deserialised into
//! its own struct (unknown keys, wrong types and missing arguments are errors),
//! then checked; every problem is collected, nothing runs until all are fixed.

use super::parse::{self, RawAction, RawArgs};
use super::{Position, Problem, Source};
use crate::registry::{self, CommandSpec, Role};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A validated action: its command, ready to run, and where it stands.
#[derive(Debug)]
pub struct Action {
    pub name: &'static str,
    pub at: Position,
    pub command: Box<dyn registry::Command>,
}

impl Action {
    pub fn role(&self) -> Role {
        self.command.role()
    }
}

/// One validated plan file (or string).
#[derive(Debug)]
pub struct Plan {
    pub name: Arc<str>,
    pub actions: Vec<Action>,
}

/// The arguments of one action as the command's parser sees them.
pub struct Args<'a> {
    pub spec: &'static CommandSpec,
    pub raw: RawArgs<'a>,
    pub at: Position,
    pub src: &'a Source,
}

/// Collects problems across every plan of a run.
pub struct Validator {
    /// The commands a plan may use.
    commands: &'static [CommandSpec],
    problems: Vec<Problem>,
    /// Plans being validated, innermost last (cycle detection for LD_execute_files).
    stack: Vec<PathBuf>,
    /// Every plan file of the run, so no report overwrites one.
    plan_files: Vec<PathBuf>,
    /// Report files the plan writes, with the action that writes each.
    outputs: Vec<(PathBuf, Position)>,
}

impl Validator {
    /// A validator for plans made of `commands` (normally
    /// `crate::commands::COMMANDS`).
    pub fn new(commands: &'static [CommandSpec]) -> Self {
        Validator {
            commands,
            problems: Vec::new(),
            stack: Vec::new(),
            plan_files: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Loads and validates a plan file.
    pub fn plan_file(&mut self, path: &Path) -> Option<Plan> {
        match Source::load(path) {
            Ok(src) => self.plan_source(&src),
            Err(p) => {
                self.problems.push(p);
                None
            }
        }
    }

    /// Validates a plan from its source text.
    pub fn plan_source(&mut self, src: &Source) -> Option<Plan> {
        if let Some(p) = &src.path {
            if self.stack.contains(p) {
                let chain: Vec<String> = self
                    .stack
                    .iter()
                    .chain(std::iter::once(p))
                    .map(|p| p.display().to_string())
                    .collect();
                self.problems.push(
                    Problem::file(
                        &src.name,
                        format!("LD_execute_files cycle: {}", chain.join(" → ")),
                    )
                    .hint("a plan must not (directly or indirectly) execute itself"),
                );
                return None;
            }
            self.stack.push(p.clone());
            if !self.plan_files.contains(p) {
                self.plan_files.push(p.clone());
            }
        }
        let actions = match parse::parse_plan(src) {
            Ok(raw) => self.raw_actions(src, raw),
            Err(problems) => {
                self.problems.extend(problems);
                None
            }
        };
        if src.path.is_some() {
            self.stack.pop();
        }
        actions.map(|actions| Plan {
            name: src.name.clone(),
            actions,
        })
    }

    fn raw_actions(&mut self, src: &Source, raw: Vec<RawAction<'_>>) -> Option<Vec<Action>> {
        let before = self.problems.len();
        let actions: Vec<Action> = raw
            .into_iter()
            .filter_map(|r| self.action(src, r))
            .collect();
        (self.problems.len() == before).then_some(actions)
    }

    fn action(&mut self, src: &Source, raw: RawAction<'_>) -> Option<Action> {
        let Some(spec) = registry::find(self.commands, &raw.name) else {
            let mut p = Problem::new(raw.at.clone(), format!("unknown command `{}`", raw.name));
            p = match registry::closest(self.commands, &raw.name) {
                Some(s) => p.hint(format!(
                    "did you mean {s}? `loaddensity commands` lists them all"
                )),
                None => p.hint("`loaddensity commands` lists every command"),
            };
            self.problems.push(p);
            return None;
        };
        let args = Args {
            spec,
            raw: raw.args,
            at: raw.at,
            src,
        };
        let command = (spec.parse)(self, &args)?;
        for out in command.outputs() {
            self.outputs.push((out, args.at.clone()));
        }
        Some(Action {
            name: spec.name,
            at: args.at,
            command,
        })
    }

    /// Deserialises an action's arguments into `T` (keyword or positional),
    /// after checking the syntax of every `${...}` placeholder in them.
    pub fn typed<T: DeserializeOwned>(&mut self, a: &Args<'_>) -> Option<T> {
        let (value, line_base) = self.args_value(a)?;
        let before = self.problems.len();
        for (path, err) in crate::resolver::check_value(&value, "args") {
            self.problems
                .push(Problem::new(a.at.child(&path), err.to_string()));
        }
        let result = match a.raw {
            // Straight from the source text, so serde's line numbers are the file's.
            RawArgs::Keyword(raw) => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                serde_path_to_error::deserialize::<_, T>(&mut de)
            }
            _ => serde_path_to_error::deserialize::<_, T>(value),
        };
        match result {
            Ok(t) if self.problems.len() == before => Some(t),
            Ok(_) => None,
            Err(e) => {
                self.problems
                    .push(serde_problem(a.spec.name, &a.at, "args", line_base, e));
                None
            }
        }
    }

    /// Like [`Validator::typed`], without the placeholder check: for commands
    /// whose nested action lists are validated as actions.
    pub fn typed_shallow<T: DeserializeOwned>(&mut self, a: &Args<'_>) -> Option<T> {
        let (value, _) = self.args_value(a)?;
        serde_path_to_error::deserialize::<_, T>(value)
            .map_err(|e| {
                self.problems
                    .push(serde_problem(a.spec.name, &a.at, "args", None, e));
            })
            .ok()
    }

    /// The arguments as one JSON object, positional ones mapped onto the
    /// command's parameters in their documented order.
    fn args_value(&mut self, a: &Args<'_>) -> Option<(Value, Option<usize>)> {
        match a.raw {
            RawArgs::None => Some((Value::Object(Map::new()), None)),
            RawArgs::Keyword(raw) => match serde_json::from_str(raw.get()) {
                Ok(v) => Some((v, a.src.line_of(raw.get()))),
                Err(e) => {
                    self.problems.push(parse::json_error(a.src, &e));
                    None
                }
            },
            RawArgs::Positional(raw) => {
                let items: Vec<Value> = match serde_json::from_str(raw.get()) {
                    Ok(v) => v,
                    Err(e) => {
                        self.problems.push(parse::json_error(a.src, &e));
                        return None;
                    }
                };
                let params = a.spec.params;
                if items.len() > params.len() {
                    let names: Vec<&str> = params.iter().map(|p| p.name).collect();
                    self.problems.push(
                        Problem::new(
                            a.at.child("args"),
                            format!(
                                "{} takes at most {} positional argument(s), found {}",
                                a.spec.name,
                                params.len(),
                                items.len()
                            ),
                        )
                        .hint(format!("its parameters, in order: {}", names.join(", "))),
                    );
                    return None;
                }
                let map = params
                    .iter()
                    .map(|p| p.name.to_string())
                    .zip(items)
                    .collect();
                Some((Value::Object(map), None))
            }
        }
    }

    /// Checks that the arguments name only `allowed` keys and all `required`
    /// ones, for commands whose arguments are validated piecewise.
    pub fn only_keys(&mut self, a: &Args<'_>, allowed: &[&str], required: &[&str]) -> bool {
        let keys: Vec<String> = match a.raw {
            RawArgs::None => Vec::new(),
            RawArgs::Keyword(raw) => match serde_json::from_str::<
                std::collections::BTreeMap<String, &RawValue>,
            >(raw.get())
            {
                Ok(m) => m.into_keys().collect(),
                Err(e) => {
                    self.problems.push(parse::json_error(a.src, &e));
                    return false;
                }
            },
            RawArgs::Positional(raw) => {
                let n = serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_or(0, |v| v.len());
                if n > a.spec.params.len() {
                    self.problems.push(Problem::new(
                        a.at.child("args"),
                        format!(
                            "{} takes at most {} positional argument(s), found {n}",
                            a.spec.name,
                            a.spec.params.len()
                        ),
                    ));
                    return false;
                }
                a.spec
                    .params
                    .iter()
                    .take(n)
                    .map(|p| p.name.to_string())
                    .collect()
            }
        };
        let before = self.problems.len();
        for k in keys.iter().filter(|k| !allowed.contains(&k.as_str())) {
            self.problems.push(
                Problem::new(
                    a.at.child(&format!("args.{k}")),
                    format!(
                        "{}: unknown field `{k}`, expected {}",
                        a.spec.name,
                        allowed.join(", ")
                    ),
                )
                .hint(format!("see `{}` in docs/commands.md", a.spec.name)),
            );
        }
        for r in required.iter().filter(|r| !keys.iter().any(|k| k == *r)) {
            self.problems.push(Problem::new(
                a.at.child("args"),
                format!("{}: missing field `{r}`", a.spec.name),
            ));
        }
        self.problems.len() == before
    }

    /// The raw JSON of one named argument (keyword or positional).
    pub fn arg_raw<'a>(&mut self, a: &Args<'a>, name: &str) -> Option<&'a RawValue> {
        match a.raw {
            RawArgs::None => None,
            RawArgs::Keyword(raw) => {
                let map: std::collections::BTreeMap<String, &'a RawValue> =
                    serde_json::from_str(raw.get()).ok()?;
                map.get(name).copied()
            }
            RawArgs::Positional(raw) => {
                let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).ok()?;
                let idx = a.spec.params.iter().position(|p| p.name == name)?;
                items.get(idx).copied()
            }
        }
    }

    /// Validates the nested action list in argument `name` (e.g. `action_list`).
    pub fn nested_actions(&mut self, a: &Args<'_>, name: &str) -> Option<Vec<Action>> {
        let Some(raw) = self.arg_raw(a, name) else {
            return Some(Vec::new());
        };
        let at = a.at.child(&format!("args.{name}"));
        match parse::parse_action_list(a.src, raw, &at) {
            Ok(list) => self.raw_actions(a.src, list),
            Err(problems) => {
                self.problems.extend(problems);
                None
            }
        }
    }

    /// Records a command's own `(field, message)` problems under `prefix`
    /// (e.g. `args.retry`); true when there were none.
    pub fn field_problems(
        &mut self,
        at: &Position,
        prefix: &str,
        problems: Vec<(&'static str, String)>,
    ) -> bool {
        let none = problems.is_empty();
        for (field, msg) in problems {
            self.problems
                .push(Problem::new(at.child(&format!("{prefix}.{field}")), msg));
        }
        none
    }

    /// Records a problem found by a command's own checks.
    pub fn problem(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// Number of problems so far.
    pub fn problem_count(&self) -> usize {
        self.problems.len()
    }

    /// Ends validation: the problems of the whole run, if any.
    pub fn finish(mut self) -> Vec<Problem> {
        // Without plan files (a plan given as text) there is nothing to overwrite.
        if self.plan_files.is_empty() {
            return self.problems;
        }
        for (out, at) in std::mem::take(&mut self.outputs) {
            let canonical = absolute(&out);
            if self.plan_files.contains(&canonical) {
                self.problems.push(
                    Problem::new(
                        at,
                        format!(
                            "report path {} would overwrite a plan file of this run",
                            out.display()
                        ),
                    )
                    .hint("give the report another name"),
                );
            }
        }
        self.problems
    }
}

/// A path made absolute against the current directory, `..` and `.` folded,
/// without requiring it to exist (reports usually don't yet).
pub fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let joined = std::env::current_dir().unwrap_or_default().join(p);
    let parent = joined.parent().and_then(|d| std::fs::canonicalize(d).ok());
    match (parent, joined.file_name()) {
        (Some(d), Some(f)) => d.join(f),
        _ => joined,
    }
}

/// A deserialisation error as a problem at the field that failed: `base` is
/// where the value stands under `at` (e.g. `args`), `line_base` the line of
/// its first byte when it was read from the plan's text. The message is
/// `command: what serde said`; a missing or unknown field gets a pointer to
/// the command's documentation.
pub fn serde_problem(
    command: &str,
    at: &Position,
    base: &str,
    line_base: Option<usize>,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> Problem {
    let path = format!("{base}{}", dotted(&e.path().to_string()));
    let inner = e.into_inner();
    let mut at = at.child(path.trim_start_matches('.'));
    let text = inner.to_string();
    // serde_json appends a position only when it knows one (line > 0).
    let msg = if inner.line() == 0 {
        text.as_str()
    } else {
        if let Some(base) = line_base {
            at.line = Some(base + inner.line() - 1);
        }
        parse::strip_position(&text)
    };
    let mut p = Problem::new(at, format!("{command}: {msg}"));
    if msg.starts_with("missing field") || msg.starts_with("unknown field") {
        p = p.hint(format!("see `{command}` in docs/commands.md"));
    }
    p
}

/// serde_path_to_error prints `tasks[1].method`; ours reads `args.tasks[1].method`.
fn dotted(path: &str) -> String {
    if path == "." || path.is_empty() {
        String::new()
    } else if path.starts_with('[') {
        path.to_string()
    } else {
        format!(".{path}")
    }
}
