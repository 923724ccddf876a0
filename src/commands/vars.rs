//! `LD_register_variable`, `LD_register_variables`, `LD_clear_resolver`,
//! `LD_register_csv_source`, `LD_register_csv_sources`.

use crate::data_source::{CsvFeed, Source, SourceArg};
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{parse_typed, Command, CommandSpec, Param};
use crate::resolver::valid_var_name;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

pub const REGISTER_VARIABLE: CommandSpec = CommandSpec {
    name: "LD_register_variable",
    summary: "Set one plan variable, usable as ${var.NAME} in later actions",
    params: &[
        Param {
            name: "name",
            kind: "string",
            required: true,
            doc: "Variable name ([A-Za-z0-9_.-]).",
        },
        Param {
            name: "value",
            kind: "any JSON",
            required: true,
            doc: "Its value; `${...}` in strings is resolved now.",
        },
    ],
    parse: |v, a| {
        let r = v.typed::<RegisterVariable>(a)?;
        check_names(v, a, std::iter::once(r.name.as_str()))?;
        v.define_var(&r.name);
        Some(Box::new(r))
    },
};

pub const REGISTER_VARIABLES: CommandSpec = CommandSpec {
    name: "LD_register_variables",
    summary: "Set several plan variables at once",
    params: &[Param {
        name: "variables",
        kind: "object",
        required: true,
        doc: "Name → value; values are resolved now, in key order.",
    }],
    parse: |v, a| {
        let r = v.typed::<RegisterVariables>(a)?;
        check_names(v, a, r.variables.keys().map(String::as_str))?;
        for name in r.variables.keys() {
            v.define_var(name);
        }
        Some(Box::new(r))
    },
};

pub const CLEAR_RESOLVER: CommandSpec = CommandSpec {
    name: "LD_clear_resolver",
    summary: "Forget every plan variable and registered CSV source",
    params: &[],
    parse: parse_typed::<ClearResolver>,
};

/// A data source's `cycle` parameter (CSV and database sources alike).
pub(super) const CYCLE: Param = Param {
    name: "cycle",
    kind: "boolean = true",
    required: false,
    doc: "Start again at the first row after the last; with `false` a user that finds the source used up stops its passes.",
};

pub const REGISTER_CSV_SOURCE: CommandSpec = CommandSpec {
    name: "LD_register_csv_source",
    summary: "Register a CSV file as data source SOURCE for ${csv.SOURCE.COLUMN}",
    params: &[
        Param {
            name: "name",
            kind: "string",
            required: true,
            doc: "Source name ([A-Za-z0-9_-]).",
        },
        Param {
            name: "file_path",
            kind: "string",
            required: true,
            doc: "The CSV file (header row first); relative to the plan's folder, then the working directory. Read once, at validation (at most 64 MiB).",
        },
        CYCLE,
    ],
    parse: |v, a| {
        let arg = v.typed::<SourceArg>(a)?;
        let source = load_source(v, a, "args", &arg)?;
        Some(Box::new(RegisterCsvSources {
            sources: vec![source],
        }))
    },
};

pub const REGISTER_CSV_SOURCES: CommandSpec = CommandSpec {
    name: "LD_register_csv_sources",
    summary: "Register several CSV data sources at once",
    params: &[Param {
        name: "sources",
        kind: "list",
        required: true,
        doc: "`[{\"name\": ..., \"file_path\": ..., \"cycle\": true}, ...]`, each as LD_register_csv_source's arguments.",
    }],
    parse: |v, a| {
        let r = v.typed::<SourcesArg>(a)?;
        let sources = load_sources(v, a, "args.sources", &r.sources)?;
        Some(Box::new(RegisterCsvSources { sources }))
    },
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesArg {
    sources: Vec<SourceArg>,
}

/// Loads every source of a list with `load` (problems at `path[i]`); `None`
/// if any failed, every one checked all the same.
pub(crate) fn load_each<T>(
    v: &mut Validator,
    a: &Args<'_>,
    path: &str,
    args: &[T],
    load: fn(&mut Validator, &Args<'_>, &str, &T) -> Option<Source>,
) -> Option<Vec<Source>> {
    let loaded: Vec<Option<Source>> = args
        .iter()
        .enumerate()
        .map(|(i, s)| load(v, a, &format!("{path}[{i}]"), s))
        .collect();
    loaded.into_iter().collect()
}

/// Loads every CSV source of a list (problems at `path[i]`).
pub(crate) fn load_sources(
    v: &mut Validator,
    a: &Args<'_>,
    path: &str,
    args: &[SourceArg],
) -> Option<Vec<Source>> {
    load_each(v, a, path, args, load_source)
}

/// Whether a source's name is one placeholders can use; otherwise a problem
/// at `path.name` naming the `kind` of source (`CSV source`).
pub(crate) fn source_name_ok(
    v: &mut Validator,
    a: &Args<'_>,
    path: &str,
    kind: &str,
    name: &str,
) -> bool {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        v.problem(Problem::new(
            a.at.child(&format!("{path}.name")),
            format!("{kind} name {name:?} may only use A-Z a-z 0-9 _ -"),
        ));
    }
    ok
}

/// Checks a source's name and reads its file now, so a bad file stops the
/// run before anything is sent.
fn load_source(v: &mut Validator, a: &Args<'_>, path: &str, arg: &SourceArg) -> Option<Source> {
    if !source_name_ok(v, a, path, "CSV source", &arg.name) {
        return None;
    }
    match Source::load(arg, &a.src.base_dir()) {
        Ok(s) => {
            v.define_csv(&s.name, &s.data.columns);
            Some(s)
        }
        Err(e) => {
            v.problem(
                Problem::new(a.at.child(&format!("{path}.file_path")), e)
                    .hint("a CSV data source is a UTF-8 file whose first row names the columns"),
            );
            None
        }
    }
}

/// `LD_register_csv_source(s)`: the sources, read at validation.
#[derive(Debug)]
pub struct RegisterCsvSources {
    pub(crate) sources: Vec<Source>,
}

impl Command for RegisterCsvSources {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        for s in &self.sources {
            ctx.csv_sources.insert(
                s.name.clone(),
                Arc::new(CsvFeed::for_segment(s, ctx.opts.segment)),
            );
        }
        Ok(())
    }
}

/// Reports names `${var.NAME}` could never refer to.
fn check_names<'n>(
    v: &mut Validator,
    a: &Args<'_>,
    names: impl Iterator<Item = &'n str>,
) -> Option<()> {
    let mut ok = true;
    for n in names.filter(|n| !valid_var_name(n)) {
        v.problem(Problem::new(
            a.at.child("args"),
            format!("variable name {n:?} may only use A-Z a-z 0-9 _ . -"),
        ));
        ok = false;
    }
    ok.then_some(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterVariable {
    name: String,
    value: Value,
}

impl Command for RegisterVariable {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let v = ctx.resolve_value(&self.value)?;
        ctx.set_var(&self.name, v);
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterVariables {
    variables: Map<String, Value>,
}

impl Command for RegisterVariables {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        for (name, value) in &self.variables {
            let v = ctx.resolve_value(value)?;
            ctx.set_var(name, v);
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearResolver {}

impl Command for ClearResolver {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.clear_vars();
        ctx.csv_sources.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{one_problem, valid};
    use serde_json::json;

    #[test]
    fn variable_names_use_the_placeholder_alphabet() {
        valid(
            "LD_register_variable",
            json!({"name": "a.b-c_1", "value": null}),
        );
        one_problem(
            "LD_register_variable",
            json!({"name": "a b", "value": 1}),
            "actions[0].args",
            "variable name \"a b\" may only use A-Z a-z 0-9 _ . -",
        );
        one_problem(
            "LD_register_variable",
            json!({"name": "", "value": 1}),
            "actions[0].args",
            "variable name \"\" may only use",
        );
    }

    #[test]
    fn every_bad_name_of_a_batch_is_reported() {
        let found = crate::plan::testing::problems(
            "LD_register_variables",
            json!({"variables": {"ok": 1, "b@d": 2, "sp ace": 3}}),
        );
        let messages: Vec<&str> = found.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "variable name \"b@d\" may only use A-Z a-z 0-9 _ . -",
                "variable name \"sp ace\" may only use A-Z a-z 0-9 _ . -",
            ]
        );
    }

    #[test]
    fn values_are_any_json_but_their_placeholders_are_checked() {
        valid(
            "LD_register_variables",
            json!({"variables": {"list": [1, {"a": "${var.x}"}], "n": null}}),
        );
        one_problem(
            "LD_register_variable",
            json!({"name": "x", "value": "${uuid(1)}"}),
            "actions[0].args.value",
            "takes no arguments",
        );
    }
}
