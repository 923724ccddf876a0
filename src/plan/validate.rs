//! Raw actions → typed commands. Each command's arguments are deserialised into
//! its own struct (unknown keys, wrong types and missing arguments are errors),
//! then checked; every problem is collected, nothing runs until all are fixed.

use super::parse::{self, RawAction, RawArgs};
use super::{Position, Problem, Source};
use crate::registry::{self, CommandSpec, Role};
use crate::resolver::Piece;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep action lists may nest: a plan's own list is level 1, each nested
/// list (`LD_execute_action`, `LD_with_watchdog`) and each plan run by
/// `LD_execute_files` one more.
pub const MAX_NESTING: usize = 128;

/// How many actions a run may expand to: every action of every plan, nested
/// ones included, a plan named N times by `LD_execute_files` counted N times.
pub const MAX_ACTIONS: u64 = 100_000;

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

/// One validated plan file (or string). Cloning shares the actions: a plan
/// named several times is validated once.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: Arc<str>,
    pub actions: Arc<[Action]>,
}

/// A plan file already validated in this run.
struct Done {
    /// `None` when it had problems (already reported).
    plan: Option<Plan>,
    /// Actions it expands to, nested ones and the plans it runs included.
    actions: u64,
    /// Levels of nesting it adds below the level it stands at.
    height: usize,
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
    /// Things that run but are probably not what the author meant (a
    /// LoadDensity form taken as LoadDensity takes it); printed, never fatal.
    warnings: Vec<Problem>,
    /// Forms that are valid LoadDensity but that this tool cannot run yet:
    /// `validate` shows them as warnings, `run` refuses the plan (exit 2)
    /// before anything runs.
    refusals: Vec<Problem>,
    /// Plans being validated, innermost last (cycle detection for LD_execute_files).
    stack: Vec<PathBuf>,
    /// Every plan file of the run, so no report overwrites one.
    plan_files: Vec<PathBuf>,
    /// Report files the plan writes, with the action that writes each.
    outputs: Vec<(PathBuf, Position)>,
    /// The current level of nesting (see [`MAX_NESTING`]) and the deepest so far.
    depth: usize,
    deepest: usize,
    /// Actions expanded so far (see [`MAX_ACTIONS`]), and whether that went
    /// over the limit.
    expanded: u64,
    too_many: bool,
    /// Plan files validated so far, by canonical path.
    done: HashMap<PathBuf, Done>,
    /// `--strict`: placeholders that will be undefined are problems, not warnings.
    strict: bool,
    /// What the pipeline says over the plans (`--users`, `--set`, ...).
    overrides: crate::overrides::Overrides,
    /// Variables some action may define (registered, a test's `variables`,
    /// extracted): a `${var.X}` of another name will be undefined.
    known_vars: BTreeSet<String>,
    /// The names users may hold of their own (`${session.X}` reads only those).
    user_vars: BTreeSet<String>,
    /// `${var.X}`/`${X}`/`${session.X}` seen, checked against `known_vars`
    /// once every plan is read: (key, name, where).
    var_refs: Vec<(String, String, Position)>,
    /// CSV sources registered anywhere in the run: name → columns.
    csv_sources: BTreeMap<String, BTreeSet<String>>,
    /// `${csv.S.C}` seen: (source, column, where).
    csv_refs: Vec<(String, String, Position)>,
}

impl Validator {
    /// A validator for plans made of `commands` (normally
    /// `crate::commands::COMMANDS`).
    pub fn new(commands: &'static [CommandSpec]) -> Self {
        Validator {
            commands,
            problems: Vec::new(),
            warnings: Vec::new(),
            refusals: Vec::new(),
            stack: Vec::new(),
            plan_files: Vec::new(),
            outputs: Vec::new(),
            depth: 0,
            deepest: 0,
            expanded: 0,
            too_many: false,
            done: HashMap::new(),
            strict: false,
            overrides: Default::default(),
            known_vars: BTreeSet::new(),
            user_vars: BTreeSet::new(),
            var_refs: Vec::new(),
            csv_sources: BTreeMap::new(),
            csv_refs: Vec::new(),
        }
    }

    /// Under `--strict`, a placeholder validation can tell will be undefined
    /// is a problem rather than a warning.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The pipeline's overrides, applied as each test is validated; their
    /// `--set` variables are defined.
    pub fn with_overrides(mut self, o: crate::overrides::Overrides) -> Self {
        for (name, _) in &o.vars {
            self.known_vars.insert(name.clone());
        }
        self.overrides = o;
        self
    }

    /// What the pipeline says over the plans.
    pub fn overrides(&self) -> &crate::overrides::Overrides {
        &self.overrides
    }

    /// An action may define variable `name` (for the undefined-placeholder check).
    pub fn define_var(&mut self, name: &str) {
        self.known_vars.insert(name.to_string());
    }

    /// A user may hold variable `name` of its own (a test's `variables`, an
    /// extract): what `${session.NAME}` can read.
    pub fn define_user_var(&mut self, name: &str) {
        self.known_vars.insert(name.to_string());
        self.user_vars.insert(name.to_string());
    }

    /// A CSV source `name` with these columns is registered somewhere.
    pub fn define_csv(&mut self, name: &str, columns: &[String]) {
        self.csv_sources
            .entry(name.to_string())
            .or_default()
            .extend(columns.iter().cloned());
    }

    /// Notes the placeholders of an action's arguments: an unset `${env.X}`
    /// now, variables and CSV columns once every plan is read.
    fn note_lookups(&mut self, value: &Value, at: &Position) {
        for (path, piece) in crate::resolver::lookups_in(value, "args") {
            let key = piece.key().unwrap_or_default();
            match piece {
                Piece::Var(name) | Piece::Session(name) => {
                    self.var_refs.push((key, name, at.child(&path)));
                }
                Piece::Env(name) if std::env::var(&name).is_err() => {
                    self.undefined(
                        Problem::new(
                            at.child(&path),
                            format!("`${{{key}}}`: environment variable `{name}` is not set"),
                        )
                        .hint("set it before the run, or it is sent as the text `${env.NAME}`"),
                    );
                }
                Piece::Csv(source, column) => self.csv_refs.push((source, column, at.child(&path))),
                _ => {}
            }
        }
    }

    /// A placeholder that will be undefined: a warning, or a problem under `--strict`.
    fn undefined(&mut self, p: Problem) {
        if self.strict {
            self.problems.push(p);
        } else {
            self.warnings.push(p);
        }
    }

    /// Checks the placeholders noted so far against what the plans define.
    fn settle(&mut self) {
        let mut seen = BTreeSet::new();
        for (key, name, at) in std::mem::take(&mut self.var_refs) {
            let known = if key.starts_with("session.") {
                &self.user_vars
            } else {
                &self.known_vars
            };
            if known.contains(&name) || !seen.insert(key.clone()) {
                continue;
            }
            self.undefined(
                Problem::new(at, format!("`${{{key}}}` is never defined by this run"))
                    .hint("register it (LD_register_variable), set it in the test's `variables`, or extract it; else it is sent as its text"),
            );
        }
        for (source, column, at) in std::mem::take(&mut self.csv_refs) {
            // `${db.S.C}` reads source `db.S`.
            let (shown, kind, register) = match source.strip_prefix("db.") {
                Some(n) => (
                    format!("db.{n}.{column}"),
                    "database",
                    "LD_register_db_source(s)",
                ),
                None => (
                    format!("csv.{source}.{column}"),
                    "CSV",
                    "LD_register_csv_source(s) or LD_start_test's `csv_sources`",
                ),
            };
            match self.csv_sources.get(&source) {
                None => self.problems.push(
                    Problem::new(
                        at,
                        format!(
                            "`${{{shown}}}`: no {kind} source `{}` is registered",
                            source.strip_prefix("db.").unwrap_or(&source)
                        ),
                    )
                    .hint(format!("register it with {register}")),
                ),
                Some(cols) if !cols.contains(&column) => {
                    let list: Vec<&str> = cols.iter().map(String::as_str).collect();
                    self.problems.push(
                        Problem::new(
                            at,
                            format!(
                                "`${{{shown}}}`: {kind} source `{}` has no column `{column}`",
                                source.strip_prefix("db.").unwrap_or(&source)
                            ),
                        )
                        .hint(format!(
                            "its {}: {}",
                            if kind == "CSV" {
                                "header names"
                            } else {
                                "columns"
                            },
                            list.join(", ")
                        )),
                    );
                }
                Some(_) => {}
            }
        }
    }

    /// Loads and validates a plan file, once per run: a file named again
    /// (on the command line or by `LD_execute_files`) shares the plan
    /// validated the first time, and its problems are not reported again.
    pub fn plan_file(&mut self, path: &Path) -> Option<Plan> {
        let name = path.display().to_string();
        let key = std::fs::canonicalize(path).ok();
        if let Some(done) = key.as_ref().and_then(|k| self.done.get(k)) {
            let (plan, actions, height) = (done.plan.clone(), done.actions, done.height);
            let plan = plan?;
            // `height` counts the plan's own level.
            let fits = self.depth + height <= MAX_NESTING;
            self.deepest = self.deepest.max(self.depth + height);
            if !fits {
                self.problems
                    .push(too_deep_problem(Problem::file(&name, "")));
                return None;
            }
            return self
                .count(actions, || Problem::file(&name, ""))
                .then_some(plan);
        }
        let (deepest, expanded) = (self.deepest, self.expanded);
        self.deepest = self.depth;
        let plan = match Source::load(path) {
            Ok(src) => self.plan_source(&src),
            Err(p) => {
                self.problems.push(p);
                None
            }
        };
        if let Some(key) = key {
            let done = Done {
                plan: plan.clone(),
                actions: self.expanded.saturating_sub(expanded),
                height: self.deepest - self.depth,
            };
            self.done.insert(key, done);
        }
        self.deepest = self.deepest.max(deepest);
        plan
    }

    /// Goes one level of nesting deeper, unless that passes [`MAX_NESTING`]
    /// (then the problem `at` gives is recorded); `depth` is left as it was
    /// when this says no.
    fn enter(&mut self, at: impl FnOnce() -> Problem) -> bool {
        if self.depth >= MAX_NESTING {
            self.problems.push(too_deep_problem(at()));
            return false;
        }
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        true
    }

    /// Counts `n` more actions; past [`MAX_ACTIONS`] records the problem `at`
    /// gives (once per run) and says no.
    fn count(&mut self, n: u64, at: impl FnOnce() -> Problem) -> bool {
        self.expanded = self.expanded.saturating_add(n);
        if self.expanded <= MAX_ACTIONS {
            return true;
        }
        if !self.too_many {
            self.too_many = true;
            let mut p = at();
            p.message = format!("the run expands to more than {MAX_ACTIONS} actions");
            self.problems.push(p.hint(
                "nested lists count every action they hold, and a plan named N times by \
                 LD_execute_files counts N times; run fewer or smaller plans",
            ));
        }
        false
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
            if !self.plan_files.contains(p) {
                self.plan_files.push(p.clone());
            }
        }
        if !self.enter(|| Problem::file(&src.name, "")) {
            return None;
        }
        if let Some(p) = &src.path {
            self.stack.push(p.clone());
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
        self.depth -= 1;
        actions.map(|actions| Plan {
            name: src.name.clone(),
            actions: actions.into(),
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
        // Past the limit nothing more is validated: the run is refused anyway.
        if self.too_many || !self.count(1, || Problem::new(raw.at.clone(), "")) {
            return None;
        }
        let Some(spec) = registry::find(self.commands, &raw.name) else {
            let mut p = Problem::new(raw.at.clone(), format!("unknown command `{}`", raw.name));
            p = match registry::closest(self.commands, &raw.name) {
                // LoadDensity's HAR helpers return to a Python caller.
                _ if matches!(raw.name.as_str(), "LD_load_har" | "LD_har_to_tasks") => p.hint(
                    "LD_har_to_action_json writes the whole plan from a HAR file (`har_file`), \
                     as does `loaddensity import har FILE`",
                ),
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
        // A strict-mode placeholder problem does not stop the arguments from
        // being read (a plan with one is refused anyway).
        self.note_lookups(&value, &a.at);
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
            _ => serde_path_to_error::deserialize::<_, T>(value.clone()),
        };
        match result {
            Ok(t) if self.problems.len() == before => Some(t),
            Ok(_) => None,
            Err(e) => {
                let more = unknown_field_path(&e).map(|path| (path, value.clone()));
                self.problems
                    .push(serde_problem(a.spec.name, &a.at, "args", line_base, e));
                if let Some((path, mut value)) = more {
                    // Every other unknown field too, each with its line.
                    if !remove_at(&mut value, &path) {
                        return None;
                    }
                    let text = match a.raw {
                        RawArgs::Keyword(raw) => Some(raw.get()),
                        _ => None,
                    };
                    let (rest, cleaned) = other_unknown_fields::<T>(value, |e| {
                        let mut p = serde_problem(a.spec.name, &a.at, "args", None, e);
                        if let (Some(text), Some(base)) = (text, line_base) {
                            p.at.line = key_line(text, &p.at.path).map(|l| base + l);
                        }
                        p
                    });
                    self.problems.extend(rest);
                    // The plan is invalid already; the command is built only
                    // so that its own checks report their problems too.
                    return cleaned;
                }
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
                .hint(params_hint(a.spec.name)),
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
        if !self.enter(|| Problem::new(at.clone(), "")) {
            return None;
        }
        let actions = match parse::parse_action_list(a.src, raw, &at) {
            Ok(list) => self.raw_actions(a.src, list),
            Err(problems) => {
                self.problems.extend(problems);
                None
            }
        };
        self.depth -= 1;
        actions
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

    /// Records a warning: the plan runs, but the author should know.
    pub fn warn(&mut self, p: Problem) {
        self.warnings.push(p);
    }

    /// The warnings so far, taken (each is printed once).
    pub fn take_warnings(&mut self) -> Vec<Problem> {
        self.settle();
        std::mem::take(&mut self.warnings)
    }

    /// Records a form `run` refuses (see [`Validator::take_refusals`]).
    pub fn refuse(&mut self, p: Problem) {
        self.refusals.push(p);
    }

    /// What `run` refuses, taken.
    pub fn take_refusals(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.refusals)
    }

    /// Number of problems so far.
    pub fn problem_count(&self) -> usize {
        self.problems.len()
    }

    /// Ends validation: the problems of the whole run, if any.
    pub fn finish(mut self) -> Vec<Problem> {
        self.settle();
        // A report name resolved at run time is checked against them then
        // (`reports::check_target`).
        crate::reports::protect_plan_files(&self.plan_files);
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

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown
/// variant"), the expected name closest to `x`.
fn did_you_mean(msg: &str) -> Option<&str> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))?;
    let (given, expected) = rest.split_once('`')?;
    let names = expected.split('`').skip(1).step_by(2);
    crate::registry::closest_of(names, given).filter(|n| *n != given)
}

/// Where an "unknown field" error points (the field itself), if it is one.
pub fn unknown_field_path(
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> Option<Vec<serde_path_to_error::Segment>> {
    e.inner()
        .to_string()
        .starts_with("unknown field")
        .then(|| e.path().iter().cloned().collect())
}

/// Removes the object key `path` points to from `value`; false when there
/// was none (serde gives no path inside an internally tagged enum).
pub fn remove_at(value: &mut Value, path: &[serde_path_to_error::Segment]) -> bool {
    use serde_path_to_error::Segment;
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        let next = match (seg, cur) {
            (Segment::Map { key }, Value::Object(m)) => m.get_mut(key),
            (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match (last, cur) {
        (Segment::Map { key }, Value::Object(m)) => m.shift_remove(key).is_some(),
        _ => false,
    }
}

/// After a first unknown field: every other one, found by taking each out
/// and reading the value again (serde stops at the first); and the value
/// read without them, when nothing else is wrong, so the checks that follow
/// can still find their problems. The field list serde's message gives is
/// kept for the first unknown field only.
pub fn other_unknown_fields<T: DeserializeOwned>(
    mut value: Value,
    mut problem: impl FnMut(serde_path_to_error::Error<serde_json::Error>) -> Problem,
) -> (Vec<Problem>, Option<T>) {
    let mut out = Vec::new();
    // Bounded: each round removes one key.
    for _ in 0..64 {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(t) => return (out, Some(t)),
            Err(e) => e,
        };
        let Some(path) = unknown_field_path(&e) else {
            break;
        };
        if !remove_at(&mut value, &path) {
            break;
        }
        let mut p = problem(e);
        if let Some(i) = p.message.find(", expected one of") {
            p.message.truncate(i);
        }
        out.push(p);
    }
    (out, None)
}

/// The line (counting from 0) of the last key of a dotted problem path in
/// the JSON `text`: the first `"key"` followed by a colon.
fn key_line(text: &str, path: &str) -> Option<usize> {
    let key = path.rsplit('.').next()?;
    let needle = format!("{:?}", key);
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let at = from + i;
        let after = text[at + needle.len()..].trim_start();
        if after.starts_with(':') {
            return Some(text[..at].matches('\n').count());
        }
        from = at + needle.len();
    }
    None
}

/// The nesting problem at `p`'s position.
fn too_deep_problem(mut p: Problem) -> Problem {
    p.message = format!("actions nest more than {MAX_NESTING} levels deep");
    p.hint(
        "each nested action list and each plan run by LD_execute_files is one level; \
         flatten the plan",
    )
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
    if let Some(near) = did_you_mean(msg) {
        p = p.hint(format!("did you mean `{near}`? {}", params_hint(command)));
    } else if msg.starts_with("missing field") || msg.starts_with("unknown field") {
        p = p.hint(params_hint(command));
    }
    p
}

/// Where the installed tool lists a command's parameters.
pub fn params_hint(command: &str) -> String {
    format!("`loaddensity commands --json` lists {command}'s parameters")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::COMMANDS;
    use crate::plan::testing::{one_problem, problems, valid};
    use crate::plan::{plan_str, validate_str};
    use serde_json::json;

    #[test]
    fn an_unknown_field_suggests_the_closest() {
        assert_eq!(
            did_you_mean("unknown field `user_cont`, expected one of `user_count`, `spawn_rate`"),
            Some("user_count")
        );
        assert_eq!(
            did_you_mean("unknown variant `sequense`, expected one of `sequence`, `weighted`"),
            Some("sequence")
        );
        assert_eq!(
            did_you_mean("unknown field `zzz`, expected `csv_name`"),
            None
        );
        assert_eq!(did_you_mean("missing field `tasks`"), None);
    }

    #[test]
    fn an_unknown_command_suggests_the_closest() {
        let p = one_problem(
            "LD_lgo",
            json!({}),
            "actions[0]",
            "unknown command `LD_lgo`",
        );
        assert_eq!(
            p.hint.as_deref(),
            Some("did you mean LD_log? `loaddensity commands` lists them all")
        );
        let p = one_problem(
            "LD_fly_to_the_moon",
            json!({}),
            "actions[0]",
            "unknown command",
        );
        assert_eq!(
            p.hint.as_deref(),
            Some("`loaddensity commands` lists every command")
        );
    }

    #[test]
    fn loaddensitys_har_helpers_point_at_the_importer() {
        for name in ["LD_load_har", "LD_har_to_tasks"] {
            let p = one_problem(name, json!({}), "actions[0]", "unknown command");
            assert!(
                p.hint
                    .as_deref()
                    .unwrap()
                    .starts_with("LD_har_to_action_json writes"),
                "{p}"
            );
        }
    }

    #[test]
    fn commands_come_from_the_table_the_validator_is_given() {
        let src = Source::from_string("p", r#"[["LD_log", {"message": "hi"}]]"#.into());
        let mut v = Validator::new(&[]);
        assert!(v.plan_source(&src).is_none());
        let problems = v.finish();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "unknown command `LD_log`");
        let mut v = Validator::new(COMMANDS);
        assert_eq!(v.plan_source(&src).unwrap().actions[0].name, "LD_log");
        assert!(v.finish().is_empty());
    }

    #[test]
    fn a_valid_plan_keeps_names_and_positions() {
        let plan =
            plan_str("[\n  [\"LD_log\", {\"message\": \"a\"}],\n  [\"LD_clear_resolver\"]\n]")
                .unwrap();
        assert_eq!(&*plan.name, "<string>");
        let names: Vec<&str> = plan.actions.iter().map(|a| a.name).collect();
        assert_eq!(names, ["LD_log", "LD_clear_resolver"]);
        assert_eq!(plan.actions[1].at.path, "actions[1]");
        assert_eq!(plan.actions[1].at.line, Some(3));
    }

    #[test]
    fn a_wrong_type_names_the_field_and_its_line() {
        let found = validate_str("[\n  [\"LD_log\", {\n    \"message\": 5\n  }]\n]");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].at.path, "actions[0].args.message");
        assert_eq!(found[0].at.line, Some(3));
        assert_eq!(
            found[0].message,
            "LD_log: invalid type: integer `5`, expected a string"
        );
        assert_eq!(found[0].hint, None);
    }

    #[test]
    fn a_missing_or_unknown_field_points_at_the_docs() {
        let p = one_problem(
            "LD_log",
            json!({}),
            "actions[0].args",
            "LD_log: missing field `message`",
        );
        assert_eq!(
            p.hint.as_deref(),
            Some("`loaddensity commands --json` lists LD_log's parameters")
        );
        let p = one_problem(
            "LD_log",
            json!({"message": "x", "mesage": "y"}),
            "actions[0].args.mesage",
            "LD_log: unknown field `mesage`, expected `message`",
        );
        assert_eq!(
            p.hint.as_deref(),
            Some("did you mean `message`? `loaddensity commands --json` lists LD_log's parameters")
        );
    }

    #[test]
    fn positional_arguments_follow_the_documented_order() {
        valid("LD_register_variable", json!(["x", {"any": "json"}]));
        one_problem(
            "LD_log",
            json!([5]),
            "actions[0].args.message",
            "LD_log: invalid type: integer `5`",
        );
        let p = one_problem(
            "LD_log",
            json!(["a", "b"]),
            "actions[0].args",
            "LD_log takes at most 1 positional argument(s), found 2",
        );
        assert_eq!(p.hint.as_deref(), Some("its parameters, in order: message"));
    }

    #[test]
    fn placeholders_in_arguments_are_checked() {
        one_problem(
            "LD_log",
            json!({"message": "hi ${var.name"}),
            "actions[0].args.message",
            "unterminated `${`",
        );
        one_problem(
            "LD_register_variable",
            json!({"name": "x", "value": {"list": ["${no pe}"]}}),
            "actions[0].args.value.list[0]",
            "unknown placeholder `${no pe}`",
        );
    }

    #[test]
    fn piecewise_arguments_are_checked_by_name() {
        let found = problems("LD_execute_action", json!({"actions": []}));
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].at.path, "actions[0].args.actions");
        assert_eq!(
            found[0].message,
            "LD_execute_action: unknown field `actions`, expected action_list"
        );
        assert_eq!(found[1].at.path, "actions[0].args");
        assert_eq!(
            found[1].message,
            "LD_execute_action: missing field `action_list`"
        );
        one_problem(
            "LD_execute_action",
            json!([[], 1]),
            "actions[0].args",
            "LD_execute_action takes at most 1 positional argument(s), found 2",
        );
        valid("LD_execute_action", json!([[["LD_log", ["nested"]]]]));
    }

    #[test]
    fn nested_actions_are_validated_where_they_stand() {
        one_problem(
            "LD_execute_action",
            json!({"action_list": [["LD_log", {"message": "ok"}], ["LD_log", {}]]}),
            "actions[0].args.action_list[1].args",
            "LD_log: missing field `message`",
        );
        one_problem(
            "LD_with_watchdog",
            json!({"timeout_seconds": 1, "actions": [], "on_timeout": [["LD_nope"]]}),
            "actions[0].args.on_timeout[0]",
            "unknown command `LD_nope`",
        );
    }

    #[test]
    fn every_action_is_checked() {
        let found = validate_str(r#"[["LD_log", {}], ["LD_log", {"message": "ok"}], ["LD_lgo"]]"#);
        let paths: Vec<&str> = found.iter().map(|p| p.at.path.as_str()).collect();
        assert_eq!(paths, ["actions[0].args", "actions[2]"]);
    }

    /// A fresh folder under the system's temporary one.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ld-validate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_report_may_not_overwrite_a_plan_of_the_run() {
        let d = scratch("overwrite");
        let plan = d.join("plan.json");
        let report = d.join("plan");
        let text = json!([["LD_generate_json_report", {"json_file_name": report}]]);
        std::fs::write(&plan, text.to_string()).unwrap();
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&plan).is_some());
        let found = v.finish();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].at.path, "actions[0]");
        assert!(found[0]
            .message
            .contains("would overwrite a plan file of this run"));
        // The same plan as text has no plan file to overwrite.
        assert!(validate_str(&text.to_string()).is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn plans_that_execute_each_other_are_a_cycle() {
        let d = scratch("cycle");
        for (me, other) in [("a.json", "b.json"), ("b.json", "a.json")] {
            let text = json!([["LD_execute_files", {"execute_files_list": [other]}]]);
            std::fs::write(d.join(me), text.to_string()).unwrap();
        }
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&d.join("a.json")).is_none());
        let found = v.finish();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.starts_with("LD_execute_files cycle: "),
            "{}",
            found[0]
        );
        assert!(found[0].message.ends_with("a.json"), "{}", found[0]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn serde_problems_read_like_plan_paths() {
        let at = Position::new(Arc::from("p"), "actions[2]", Some(4));
        let err = serde_path_to_error::deserialize::<_, Vec<u8>>(json!([1, "x"])).unwrap_err();
        let p = serde_problem("LD_x", &at, "args", None, err);
        assert_eq!(p.at.path, "actions[2].args[1]");
        assert_eq!(p.at.line, Some(4));
        assert_eq!(p.message, "LD_x: invalid type: string \"x\", expected u8");
        // Without a base, the path starts at the field.
        let err = serde_path_to_error::deserialize::<_, std::collections::BTreeMap<String, u8>>(
            json!({"k": -1}),
        )
        .unwrap_err();
        assert_eq!(
            serde_problem("LD_x", &at, "", None, err).at.path,
            "actions[2].k"
        );
        // serde's own position is cut; text that merely looks like one is kept.
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            A,
        }
        let err = serde_path_to_error::deserialize::<_, Kind>(json!("b at line 1")).unwrap_err();
        assert!(serde_problem("LD_x", &at, "args", None, err)
            .message
            .starts_with("LD_x: unknown variant `b at line 1`"));
        let mut de = serde_json::Deserializer::from_str("\n\n{\"k\": true}");
        let err =
            serde_path_to_error::deserialize::<_, std::collections::BTreeMap<String, u8>>(&mut de)
                .unwrap_err();
        let p = serde_problem("LD_x", &at, "args", Some(10), err);
        assert_eq!(p.at.line, Some(12));
        assert_eq!(p.message, "LD_x: invalid type: boolean `true`, expected u8");
    }

    /// Writes `name` in `d`: a plan that runs the plans `files`.
    fn runs_files(d: &Path, name: &str, files: &[String]) {
        let text = json!([["LD_execute_files", {"execute_files_list": files}]]);
        std::fs::write(d.join(name), text.to_string()).unwrap();
    }

    #[test]
    fn plans_run_by_each_other_nest_at_most_128_levels() {
        let d = scratch("chain");
        // c0 → c1 → ... → c129 → leaf: 131 levels.
        std::fs::write(d.join("leaf.json"), r#"[["LD_log", ["x"]]]"#).unwrap();
        for i in 0..130 {
            let next = if i == 129 {
                "leaf.json".to_string()
            } else {
                format!("c{}.json", i + 1)
            };
            runs_files(&d, &format!("c{i}.json"), &[next]);
        }
        let t = std::time::Instant::now();
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&d.join("c0.json")).is_none());
        let found = v.finish();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].message, "actions nest more than 128 levels deep");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        // 128 levels are fine: c3 → ... → leaf.
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&d.join("c3.json")).is_some());
        assert!(v.finish().is_empty());
        // A plan validated where it fits still counts its height where it
        // is named again, deeper.
        let mut v = Validator::new(COMMANDS);
        runs_files(&d, "top.json", &["c100.json".into(), "c2.json".into()]);
        assert!(v.plan_file(&d.join("top.json")).is_none());
        let found = v.finish();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].message, "actions nest more than 128 levels deep");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_plan_named_many_times_is_validated_once_and_the_expansion_is_capped() {
        let d = scratch("fanout");
        // p0 logs; p(i) runs p(i-1) ten times: p8 expands to over 10^8 actions.
        std::fs::write(d.join("p0.json"), r#"[["LD_log", ["x"]]]"#).unwrap();
        for i in 1..=8 {
            runs_files(
                &d,
                &format!("p{i}.json"),
                &vec![format!("p{}.json", i - 1); 10],
            );
        }
        let t = std::time::Instant::now();
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&d.join("p8.json")).is_none());
        let found = v.finish();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].message,
            "the run expands to more than 100000 actions"
        );
        assert!(found[0].hint.as_deref().unwrap().contains("counts N times"));
        // p4 expands to 11 111 actions and is shared, not copied.
        let mut v = Validator::new(COMMANDS);
        let plan = v.plan_file(&d.join("p4.json")).unwrap();
        assert!(v.finish().is_empty());
        assert_eq!(v_expanded(&d.join("p4.json")), 11_111);
        drop(plan);
        // A broken plan named twice is reported once.
        std::fs::write(d.join("bad.json"), r#"[["LD_lgo"]]"#).unwrap();
        runs_files(&d, "twice.json", &["bad.json".into(), "bad.json".into()]);
        let mut v = Validator::new(COMMANDS);
        assert!(v.plan_file(&d.join("twice.json")).is_none());
        assert_eq!(v.finish().len(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// How many actions the plan file expands to.
    fn v_expanded(path: &Path) -> u64 {
        let mut v = Validator::new(COMMANDS);
        v.plan_file(path).unwrap();
        v.expanded
    }
}
