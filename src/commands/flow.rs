//! `LD_execute_action` (a nested action list) and `LD_execute_files` (other
//! plan files, relative to the plan that names them). Both are validated with
//! the plan that contains them, before anything runs.

use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::{Action, Plan, Problem};
use crate::registry::{Command, CommandSpec, Param};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const EXECUTE_ACTION: CommandSpec = CommandSpec {
    name: "LD_execute_action",
    summary: "Run a nested list of actions",
    params: &[Param {
        name: "action_list",
        kind: "list of actions",
        required: true,
        doc: "The actions, in the same shape as a plan's.",
    }],
    parse: parse_execute_action,
};

pub const EXECUTE_FILES: CommandSpec = CommandSpec {
    name: "LD_execute_files",
    summary: "Run other plan files, in order",
    params: &[Param {
        name: "execute_files_list",
        kind: "list of strings",
        required: true,
        doc: "Plan paths: a relative one is looked up beside the plan that names it, then in the working folder (LoadDensity's rule). Cycles are an error.",
    }],
    parse: parse_execute_files,
};

#[derive(Debug)]
pub struct ExecuteAction {
    actions: Vec<Action>,
}

fn parse_execute_action(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    // The nested actions are validated as actions (placeholders included), so
    // only the argument names are checked here.
    if !v.only_keys(a, &["action_list"], &["action_list"]) {
        return None;
    }
    let actions = v.nested_actions(a, "action_list")?;
    Some(Box::new(ExecuteAction { actions }))
}

impl Command for ExecuteAction {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.run_actions(&self.actions)?;
        Ok(())
    }

    fn connections(&self) -> u64 {
        crate::registry::max_connections(&self.actions)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteFilesArgs {
    execute_files_list: Vec<String>,
}

#[derive(Debug)]
pub struct ExecuteFiles {
    plans: Vec<Plan>,
}

fn parse_execute_files(v: &mut Validator, a: &Args<'_>) -> Option<Box<dyn Command>> {
    let args = v.typed::<ExecuteFilesArgs>(a)?;
    let base = a.src.base_dir();
    let before = v.problem_count();
    let mut plans = Vec::new();
    for (i, file) in args.execute_files_list.iter().enumerate() {
        if file.contains("${") {
            v.problem(
                Problem::new(
                    a.at.child(&format!("args.execute_files_list[{i}]")),
                    "plan paths cannot use ${...}: they are loaded and validated before the run",
                )
                .hint("write the path literally"),
            );
            continue;
        }
        // LoadDensity's rule: beside the plan first, then the working folder.
        let tried: Vec<PathBuf> = if Path::new(file).is_absolute() {
            vec![PathBuf::from(file)]
        } else {
            let mut t = vec![base.join(file)];
            if let Ok(cwd) = std::env::current_dir() {
                let here = cwd.join(file);
                if crate::plan::validate::absolute(&here) != crate::plan::validate::absolute(&t[0])
                {
                    t.push(here);
                }
            }
            t
        };
        let Some(found) = tried.iter().find(|p| p.exists()) else {
            let places: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            v.problem(
                Problem::new(
                    a.at.child(&format!("args.execute_files_list[{i}]")),
                    format!("plan {file:?} not found; tried {}", places.join(" and ")),
                )
                .hint("a relative path is looked up beside the plan that names it, then in the working folder"),
            );
            continue;
        };
        if let Some(p) = v.plan_file(found) {
            plans.push(p);
        }
    }
    (v.problem_count() == before).then(|| Box::new(ExecuteFiles { plans }) as Box<dyn Command>)
}

impl Command for ExecuteFiles {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        for plan in &self.plans {
            ctx.run_actions(&plan.actions)?;
        }
        Ok(())
    }

    fn connections(&self) -> u64 {
        self.plans
            .iter()
            .map(|p| crate::registry::max_connections(&p.actions))
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{one_problem, problems, valid};
    use serde_json::json;

    #[test]
    fn plan_paths_are_literal() {
        let p = one_problem(
            "LD_execute_files",
            json!({"execute_files_list": ["${var.dir}/plan.json"]}),
            "actions[0].args.execute_files_list[0]",
            "plan paths cannot use ${...}: they are loaded and validated before the run",
        );
        assert_eq!(p.hint.as_deref(), Some("write the path literally"));
    }

    #[test]
    fn named_plans_are_loaded_and_validated_now() {
        let missing = "surely/missing/ld-plan.json";
        let found = problems(
            "LD_execute_files",
            json!({ "execute_files_list": [missing] }),
        );
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].at.path, "actions[0].args.execute_files_list[0]");
        // A plan given as text sits in the working folder: one place to try.
        let cwd = std::env::current_dir().unwrap().join(missing);
        assert_eq!(
            found[0].message,
            format!("plan {missing:?} not found; tried {}", cwd.display())
        );
    }

    #[test]
    fn a_nested_list_is_a_list_of_actions() {
        valid("LD_execute_action", json!({"action_list": []}));
        one_problem(
            "LD_execute_action",
            json!({"action_list": {"LD_log": {}}}),
            "actions[0].args.action_list",
            "expected a list of actions, found an object",
        );
        one_problem(
            "LD_execute_action",
            json!({"action_list": [["LD_log", 5]]}),
            "actions[0].args.action_list[0].args",
            "LD_log: arguments must be an object or a list, found a number",
        );
    }
}
