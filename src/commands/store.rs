//! The run store's commands: `LD_persist_records` appends what the run
//! measured to a SQLite file, `LD_list_runs` / `LD_fetch_run_records` read it
//! back, `LD_diff_runs` compares two runs and `LD_assert_no_regression` fails
//! the run (exit 4) when the current one is worse than its baseline.
//! LoadDensity's argument names; see `crate::store` for the file.

use crate::exit::Outcome;
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{Command, CommandSpec, Param, Role};
use crate::stats::SlaResult;
use crate::store::{self, diff, RunRef};
use anyhow::{anyhow, Context as _};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

const DATABASE_PATH: Param = Param {
    name: "database_path",
    kind: "string",
    required: true,
    doc: "The SQLite file (relative to the working folder); `LD_persist_records` creates it and its folder.",
};

pub const PERSIST_RECORDS: CommandSpec = CommandSpec {
    name: "LD_persist_records",
    summary: "Append what the run measured so far (since LD_clear_records) to a SQLite run store and print the run id",
    params: &[
        DATABASE_PATH,
        Param {
            name: "label",
            kind: "string",
            required: false,
            doc: "A label for the run (`\"last:LABEL\"` finds the latest run with it).",
        },
        Param {
            name: "metadata",
            kind: "object = {}",
            required: false,
            doc: "Any JSON object kept with the run (branch, commit, ...); placeholders are resolved.",
        },
        Param {
            name: "variable",
            kind: "string",
            required: false,
            doc: "Plan variable that receives the run id (`${var.NAME}`).",
        },
    ],
    parse: parse_persist,
};

pub const LIST_RUNS: CommandSpec = CommandSpec {
    name: "LD_list_runs",
    summary: "Print the latest runs of a run store, newest first",
    params: &[
        DATABASE_PATH,
        Param {
            name: "limit",
            kind: "number = 20",
            required: false,
            doc: "How many runs to list.",
        },
    ],
    parse: parse_list,
};

pub const FETCH_RUN_RECORDS: CommandSpec = CommandSpec {
    name: "LD_fetch_run_records",
    summary:
        "Print (or write) one stored run as JSON, its statistics recomputed from its histograms",
    params: &[
        DATABASE_PATH,
        Param {
            name: "run_id",
            kind: "number or string",
            required: true,
            doc: "A run id, `\"last\"` or `\"last:LABEL\"`.",
        },
        Param {
            name: "output_file",
            kind: "string",
            required: false,
            doc: "Write the JSON to this file (parent folders are created) instead of printing it.",
        },
    ],
    parse: parse_fetch,
};

const DIFF_PARAMS: &[Param] = &[
    DATABASE_PATH,
    Param {
        name: "baseline_run_id",
        kind: "number or string",
        required: true,
        doc: "A run id, `\"last\"` or `\"last:LABEL\"`: the latest run (with that label) before the current one.",
    },
    Param {
        name: "current_run_id",
        kind: "number or string",
        required: false,
        doc: "A run id, `\"last\"` or `\"last:LABEL\"`; default: the run this plan last persisted to the same file.",
    },
    Param {
        name: "tolerance",
        kind: "number = 0.1",
        required: false,
        doc: "How much worse a metric may get, as a fraction of the baseline (0.1 = 10%), beyond its absolute floor.",
    },
];

pub const DIFF_RUNS: CommandSpec = CommandSpec {
    name: "LD_diff_runs",
    summary: "Compare two stored runs per name and overall (p50/p90/p95/p99, mean, failure rate, rps) and print the table",
    params: DIFF_PARAMS,
    parse: |v, a| parse_diff(v, a, false),
};

pub const ASSERT_NO_REGRESSION: CommandSpec = CommandSpec {
    name: "LD_assert_no_regression",
    summary: "Compare two stored runs; any regression fails the run with exit 4 (one JUnit testcase per metric; the plan goes on)",
    params: DIFF_PARAMS,
    parse: |v, a| parse_diff(v, a, true),
};

/// A run named in a plan: known now, or a placeholder resolved at run time.
#[derive(Debug, Clone, PartialEq)]
enum PlanRunRef {
    Known(RunRef),
    Later(String),
}

impl PlanRunRef {
    fn resolve(&self, ctx: &mut Context) -> anyhow::Result<RunRef> {
        match self {
            PlanRunRef::Known(r) => Ok(r.clone()),
            PlanRunRef::Later(text) => {
                let s = ctx.resolve_str(text)?;
                RunRef::parse(&s).map_err(|e| anyhow!("{text:?} resolved to {e}"))
            }
        }
    }
}

/// Checks a run id argument: a positive whole number, `"last"`,
/// `"last:LABEL"`, or a string with placeholders.
fn run_ref(v: &mut Validator, a: &Args<'_>, field: &str, value: &Value) -> Option<PlanRunRef> {
    let parsed = match value {
        Value::Number(n) => match n.as_i64() {
            Some(id) if id >= 1 => Ok(PlanRunRef::Known(RunRef::Id(id))),
            _ => Err(format!("{n} is not a run id: give a positive whole number")),
        },
        Value::String(s) if s.contains("${") => Ok(PlanRunRef::Later(s.clone())),
        Value::String(s) => RunRef::parse(s).map(PlanRunRef::Known),
        other => Err(format!(
            "expected a run id (a number, \"last\" or \"last:LABEL\"), found {other}"
        )),
    };
    match parsed {
        Ok(r) => Some(r),
        Err(e) => {
            v.problem(
                Problem::new(a.at.child(&format!("args.{field}")), e)
                    .hint("run ids are what LD_persist_records prints (`loaddensity runs list DB` lists them)"),
            );
            None
        }
    }
}

fn check_path(v: &mut Validator, a: &Args<'_>, field: &str, path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or(path);
    let msg = if path.trim().is_empty() {
        format!("{field} is empty")
    } else if last.is_empty() || last == "." || last == ".." {
        format!("{field} {path:?} names a folder, not a file")
    } else {
        return true;
    };
    v.problem(
        Problem::new(a.at.child(&format!("args.{field}")), msg)
            .hint("give a file, e.g. \"results/runs.db\""),
    );
    false
}

fn default_metadata() -> Value {
    Value::Object(Default::default())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistRecords {
    database_path: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default = "default_metadata")]
    metadata: Value,
    #[serde(default)]
    variable: Option<String>,
}

fn parse_persist(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let p = v.typed::<PersistRecords>(a)?;
    let mut ok = check_path(v, a, "database_path", &p.database_path);
    if !p.metadata.is_object() {
        v.problem(
            Problem::new(
                a.at.child("args.metadata"),
                "metadata must be a JSON object",
            )
            .hint("e.g. {\"branch\": \"main\", \"commit\": \"abc1234\"}"),
        );
        ok = false;
    }
    if let Some(name) = &p.variable {
        if !crate::resolver::valid_var_name(name) {
            v.problem(Problem::new(
                a.at.child("args.variable"),
                format!("variable name {name:?} may only use A-Z a-z 0-9 _ . -"),
            ));
            ok = false;
        } else {
            v.define_var(name);
        }
    }
    ok.then(|| Box::new(p) as Box<dyn Command>)
}

impl Command for PersistRecords {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let path = ctx.resolve_str(&self.database_path)?;
        let label = self
            .label
            .as_deref()
            .map(|l| ctx.resolve_str(l))
            .transpose()?;
        let metadata = ctx.resolve_value(&self.metadata)?;
        let info = store::RunInfo {
            started_unix: ctx.started_unix,
            label,
            metadata,
            plans: ctx.records.plans.clone(),
            seed: ctx.opts.seed,
            exit_code: ctx.outcome.code(),
            exit_reason: ctx.outcome.reason().to_string(),
            request_logs: ctx.request_logs.clone(),
        };
        let t = std::time::Instant::now();
        let p = store::persist(Path::new(&path), &info, &ctx.records)?;
        let id = p.id;
        let rows = if p.request_rows > 0 {
            format!(", {} request row(s)", p.request_rows)
        } else {
            String::new()
        };
        ctx.ui.note(&format!(
            "persisted run {id} to {path} ({} test(s){rows}, {:.1} ms)",
            ctx.records.tests.len(),
            t.elapsed().as_secs_f64() * 1000.0
        ));
        for u in &p.unreadable {
            ctx.ui
                .warn(&format!("record_csv {u}: its request rows were not stored"));
        }
        ctx.persisted_run = Some((path, id));
        if let Some(name) = &self.variable {
            ctx.set_var(name, id.into());
        }
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    database_path: String,
    #[serde(
        default = "default_limit",
        deserialize_with = "crate::plan::lenient::num"
    )]
    limit: u64,
}

fn default_limit() -> u64 {
    20
}

fn parse_list(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let l = v.typed::<ListRuns>(a)?;
    check_path(v, a, "database_path", &l.database_path).then(|| Box::new(l) as Box<dyn Command>)
}

impl Command for ListRuns {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let path = ctx.resolve_str(&self.database_path)?;
        let conn = store::open_existing(Path::new(&path))?;
        let rows =
            store::list_runs(&conn, self.limit).with_context(|| format!("run store {path}"))?;
        ctx.ui.result(&store::render_runs(&rows));
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchArgs {
    database_path: String,
    run_id: Value,
    #[serde(default)]
    output_file: Option<String>,
}

#[derive(Debug)]
pub struct FetchRunRecords {
    database_path: String,
    run_id: PlanRunRef,
    output_file: Option<String>,
}

fn parse_fetch(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let f = v.typed::<FetchArgs>(a)?;
    let mut ok = check_path(v, a, "database_path", &f.database_path);
    if let Some(out) = &f.output_file {
        ok &= check_path(v, a, "output_file", out);
    }
    let run_id = run_ref(v, a, "run_id", &f.run_id)?;
    ok.then(|| {
        Box::new(FetchRunRecords {
            database_path: f.database_path,
            run_id,
            output_file: f.output_file,
        }) as Box<dyn Command>
    })
}

impl Command for FetchRunRecords {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let path = ctx.resolve_str(&self.database_path)?;
        let r = self.run_id.resolve(ctx)?;
        let conn = store::open_existing(Path::new(&path))?;
        let id = r
            .resolve(&conn, None)
            .with_context(|| format!("run store {path}"))?;
        let run = store::load_run(&conn, id).with_context(|| format!("run store {path}"))?;
        let text = store::run_json(&run);
        match &self.output_file {
            Some(out) => {
                let out = PathBuf::from(ctx.resolve_str(out)?);
                crate::reports::write_report(&out, text.as_bytes())?;
                ctx.ui.note(&format!("wrote run {id} to {}", out.display()));
            }
            None => ctx.ui.result(&text),
        }
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }

    fn outputs(&self) -> Vec<PathBuf> {
        match &self.output_file {
            Some(o) if !o.contains("${") => vec![PathBuf::from(o)],
            _ => Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffArgs {
    database_path: String,
    baseline_run_id: Value,
    #[serde(default)]
    current_run_id: Option<Value>,
    #[serde(
        default = "default_tolerance",
        deserialize_with = "crate::plan::lenient::num"
    )]
    tolerance: f64,
}

fn default_tolerance() -> f64 {
    0.1
}

#[derive(Debug)]
pub struct DiffRuns {
    /// Where the action stands (its gate results carry it).
    at: super::sla::RuleAt,
    database_path: String,
    baseline: PlanRunRef,
    /// `None`: the run this plan last persisted to the same file.
    current: Option<PlanRunRef>,
    tolerance: f64,
    asserted: bool,
}

fn parse_diff(v: &mut Validator, a: &Args<'_>, asserted: bool) -> Option<Box<dyn Command>> {
    let d = v.typed::<DiffArgs>(a)?;
    let mut ok = check_path(v, a, "database_path", &d.database_path);
    if !(d.tolerance.is_finite() && d.tolerance >= 0.0) {
        v.problem(
            Problem::new(
                a.at.child("args.tolerance"),
                format!("tolerance {} must be a fraction of 0 or more", d.tolerance),
            )
            .hint("0.1 lets each metric get 10% worse than the baseline"),
        );
        ok = false;
    }
    let baseline = run_ref(v, a, "baseline_run_id", &d.baseline_run_id);
    let current = match &d.current_run_id {
        None | Some(Value::Null) => Some(None),
        Some(c) => run_ref(v, a, "current_run_id", c).map(Some),
    };
    let (Some(baseline), Some(current)) = (baseline, current) else {
        return None;
    };
    ok.then(|| {
        Box::new(DiffRuns {
            at: super::sla::RuleAt::of(&a.at),
            database_path: d.database_path,
            baseline,
            current,
            tolerance: d.tolerance,
            asserted,
        }) as Box<dyn Command>
    })
}

impl DiffRuns {
    /// The comparison; `None` when `baseline_run_id` is `last` and there is
    /// no earlier run (a first run has nothing to compare with).
    fn compare(&self, ctx: &mut Context) -> anyhow::Result<Option<diff::Diff>> {
        let path = ctx.resolve_str(&self.database_path)?;
        let baseline = self.baseline.resolve(ctx)?;
        let current = self.current.as_ref().map(|c| c.resolve(ctx)).transpose()?;
        let conn = store::open_existing(Path::new(&path))?;
        let in_store = |e: anyhow::Error| e.context(format!("run store {path}"));
        let current_id = match current {
            Some(c) => c.resolve(&conn, None).map_err(in_store)?,
            None => match &ctx.persisted_run {
                Some((p, id)) if Path::new(p) == Path::new(&path) => *id,
                Some((p, _)) => {
                    return Err(anyhow!(
                    "current_run_id not given, and this plan persisted its run to {p}, not {path}"
                ))
                }
                None => {
                    return Err(anyhow!(
                        "current_run_id not given and no LD_persist_records ran before: give one, or persist the run first"
                    ))
                }
            },
        };
        let baseline_id = match &baseline {
            RunRef::Last(_) => match baseline.find(&conn, Some(current_id)).map_err(in_store)? {
                Some(id) => id,
                None => {
                    ctx.ui.warn(&format!(
                        "no baseline: no run matches {baseline} before run {current_id} in {path}; nothing compared"
                    ));
                    return Ok(None);
                }
            },
            RunRef::Id(_) => baseline
                .resolve(&conn, Some(current_id))
                .map_err(in_store)?,
        };
        let b = store::load_run(&conn, baseline_id).map_err(in_store)?;
        let c = store::load_run(&conn, current_id).map_err(in_store)?;
        Ok(Some(diff::diff(&b, &c, self.tolerance)))
    }
}

impl Command for DiffRuns {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let Some(d) = self.compare(ctx)? else {
            return Ok(());
        };
        if !self.asserted {
            ctx.ui.result(&diff::render(&d));
            return Ok(());
        }
        ctx.ui.note(&diff::render(&d));
        let mut first = None;
        let mut failed = 0;
        for c in &d.comparisons {
            let rule = format!("no regression: {} vs run {}", c.title(), d.baseline_run_id);
            let detail = c.detail();
            if c.regression {
                ctx.ui
                    .error(&format!("regression: {} — {detail}", c.title()));
                failed += 1;
                first.get_or_insert_with(|| format!("{} — {detail}", c.title()));
            }
            let mut r = SlaResult {
                rule,
                passed: !c.regression,
                actual: Some(c.current),
                detail,
                asserted: true,
                file: None,
                line: None,
            };
            self.at.mark(&mut r);
            ctx.sla.push(r);
        }
        if d.comparisons.is_empty() {
            ctx.ui.warn(&format!(
                "no regression check: run {} or run {} measured no requests",
                d.baseline_run_id, d.current_run_id
            ));
        }
        if let Some(first) = first {
            let more = crate::ui::and_more(failed);
            ctx.fail(
                Outcome::GateFailed,
                format!(
                    "regression gate failed: run {} against run {}: {first}{more}",
                    d.current_run_id, d.baseline_run_id
                ),
            );
        }
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{built, one_problem};
    use serde_json::json;

    #[test]
    fn run_ids_are_checked_before_the_run() {
        one_problem(
            "LD_diff_runs",
            json!({"database_path": "r.db", "baseline_run_id": "yesterday"}),
            "actions[0].args.baseline_run_id",
            "\"yesterday\" is not a run id: give a positive number, \"last\" or \"last:LABEL\"",
        );
        one_problem(
            "LD_assert_no_regression",
            json!({"database_path": "r.db", "baseline_run_id": 0}),
            "actions[0].args.baseline_run_id",
            "0 is not a run id: give a positive whole number",
        );
        one_problem(
            "LD_fetch_run_records",
            json!({"database_path": "r.db", "run_id": "last:"}),
            "actions[0].args.run_id",
            "`last:` needs a label after the colon",
        );
    }

    #[test]
    fn tolerance_and_path_are_checked() {
        one_problem(
            "LD_diff_runs",
            json!({"database_path": "r.db", "baseline_run_id": 1, "tolerance": -0.5}),
            "actions[0].args.tolerance",
            "tolerance -0.5 must be a fraction of 0 or more",
        );
        one_problem(
            "LD_persist_records",
            json!({"database_path": ""}),
            "actions[0].args.database_path",
            "database_path is empty",
        );
        one_problem(
            "LD_persist_records",
            json!({"database_path": "r.db", "metadata": [1]}),
            "actions[0].args.metadata",
            "metadata must be a JSON object",
        );
    }

    #[test]
    fn placeholders_and_labels_wait_for_the_run() {
        let b = built(
            "LD_assert_no_regression",
            json!({"database_path": "r.db", "baseline_run_id": "last:main", "current_run_id": "${var.run}"}),
        );
        assert!(b.contains("Last(Some(\"main\"))"), "{b}");
        assert!(b.contains("Later(\"${var.run}\")"), "{b}");
    }
}
