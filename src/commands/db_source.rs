//! `LD_register_db_source(s)`: rows of a SQLite query as a data source for
//! `${db.NAME.COLUMN}`, LoadDensity's `sqlite:///path` connection strings.
//! The rows are read once, at validation; at run time a database source is a
//! CSV source named `db.NAME` (the same row-per-task rules, the same
//! `cycle`).

use crate::commands::vars::RegisterCsvSources;
use crate::data_source::Source;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{CommandSpec, Param};
use serde::Deserialize;
use std::sync::Arc;

pub const REGISTER_DB_SOURCE: CommandSpec = CommandSpec {
    name: "LD_register_db_source",
    summary: "Register the rows of a SQLite query as data source NAME for ${db.NAME.COLUMN}",
    params: &[
        Param {
            name: "name",
            kind: "string",
            required: true,
            doc: "Source name ([A-Za-z0-9_-]).",
        },
        Param {
            name: "connection_string",
            kind: "string",
            required: true,
            doc: "`sqlite:///relative/path.db` (the plan's folder, then the working directory) or `sqlite:////absolute/path.db`.",
        },
        Param {
            name: "query",
            kind: "string",
            required: true,
            doc: "A query that only reads (`SELECT ...`); its column names are the COLUMNs. Run once, at validation.",
        },
        super::vars::CYCLE,
    ],
    parse: |v, a| {
        let arg = v.typed::<DbSourceArg>(a)?;
        let source = load_db_source(v, a, "args", &arg)?;
        Some(Box::new(RegisterCsvSources {
            sources: vec![source],
        }))
    },
};

pub const REGISTER_DB_SOURCES: CommandSpec = CommandSpec {
    name: "LD_register_db_sources",
    summary: "Register several database data sources at once",
    params: &[Param {
        name: "sources",
        kind: "list",
        required: true,
        doc: "`[{\"name\": ..., \"connection_string\": ..., \"query\": ..., \"cycle\": true}, ...]`, each as LD_register_db_source's arguments.",
    }],
    parse: |v, a| {
        let r = v.typed::<SourcesArg>(a)?;
        let sources = super::vars::load_each(v, a, "args.sources", &r.sources, load_db_source)?;
        Some(Box::new(RegisterCsvSources { sources }))
    },
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DbSourceArg {
    name: String,
    connection_string: String,
    query: String,
    #[serde(default = "yes")]
    cycle: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourcesArg {
    sources: Vec<DbSourceArg>,
}

/// The file a `sqlite:///...` connection string names.
fn sqlite_path(conn: &str) -> Result<&str, String> {
    match conn.strip_prefix("sqlite:///") {
        Some(p) if !p.is_empty() => Ok(p),
        _ => Err(format!(
            "{conn:?} is not a SQLite connection string: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )),
    }
}

fn load_db_source(
    v: &mut Validator,
    a: &Args<'_>,
    path: &str,
    arg: &DbSourceArg,
) -> Option<Source> {
    if !super::vars::source_name_ok(v, a, path, "database source", &arg.name) {
        return None;
    }
    let file = match sqlite_path(&arg.connection_string)
        .and_then(|f| crate::data_source::find("database file", f, &a.src.base_dir()))
    {
        Ok(f) => f,
        Err(e) => {
            v.problem(
                Problem::new(a.at.child(&format!("{path}.connection_string")), e)
                    .hint("only SQLite files are supported: sqlite:///PATH"),
            );
            return None;
        }
    };
    let data = match crate::store::query_rows(&file, &arg.query) {
        Ok(d) if d.rows.is_empty() => Err(format!(
            "database {}: the query returns no rows: a data source needs at least one",
            file.display()
        )),
        other => other,
    };
    match data {
        Ok(data) => {
            let name = format!("db.{}", arg.name);
            v.define_csv(&name, &data.columns);
            Some(Source {
                name,
                cycle: arg.cycle,
                data: Arc::new(data),
            })
        }
        Err(e) => {
            v.problem(
                Problem::new(a.at.child(&format!("{path}.query")), e)
                    .hint("the query runs once, now, read-only; its column names are the placeholders' COLUMNs"),
            );
            None
        }
    }
}
