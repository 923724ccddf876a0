//! `LD_har_to_action_json`, `LD_curl_to_action_json`,
//! `LD_openapi_to_action_json`, `LD_postman_to_action_json`: what
//! `loaddensity import` does, from a plan. LoadDensity's arguments (the
//! document inline, `user`, `user_count`, `spawn_rate`, `test_time`,
//! `include`, `exclude`), or the document's file; the plan is made when the
//! plan is validated (a missing file or a document that cannot be imported
//! is exit 2) and written to `output_file`, or printed, when the action runs.

use crate::import::{self, Doc, Format, Options};
use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{Command, CommandSpec, Param};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

const USER: Param = Param {
    name: "user",
    kind: "string = \"fast_http_user\"",
    required: false,
    doc: "The plan's user type (`user_detail_dict.user`).",
};
const USER_COUNT: Param = Param {
    name: "user_count",
    kind: "number = 10",
    required: false,
    doc: "The plan's `user_count`.",
};
const SPAWN_RATE: Param = Param {
    name: "spawn_rate",
    kind: "number = 5",
    required: false,
    doc: "The plan's `spawn_rate`.",
};
const TEST_TIME: Param = Param {
    name: "test_time",
    kind: "number = 60",
    required: false,
    doc: "The plan's `test_time`, in seconds.",
};
const INCLUDE: Param = Param {
    name: "include",
    kind: "list",
    required: false,
    doc: "Regular expressions: keep only requests whose URL one of them matches (searched, not anchored).",
};
const EXCLUDE: Param = Param {
    name: "exclude",
    kind: "list",
    required: false,
    doc: "Regular expressions: drop requests whose URL one of them matches.",
};
const INCLUDE_STATIC: Param = Param {
    name: "include_static",
    kind: "boolean = false",
    required: false,
    doc: "Keep requests for static assets (`.js`, `.css`, images, fonts, ...), which are dropped by default.",
};
const OUTPUT_FILE: Param = Param {
    name: "output_file",
    kind: "string",
    required: false,
    doc: "Write the plan (pretty JSON) to this file, parent folders created; without it the plan is printed to stdout.",
};

/// The arguments every importer command shares, whatever its document is called.
struct Given {
    doc: Option<Value>,
    file: Option<String>,
    user: String,
    user_count: u64,
    spawn_rate: f64,
    test_time: f64,
    include: Vec<String>,
    exclude: Vec<String>,
    include_static: bool,
    output_file: Option<String>,
}

fn default_user() -> String {
    "fast_http_user".into()
}
fn default_user_count() -> u64 {
    10
}
fn default_spawn_rate() -> f64 {
    5.0
}
fn default_test_time() -> f64 {
    60.0
}

/// One importer command: its spec (LoadDensity's positional order, then
/// this tool's `*_file`, `include_static`, `output_file`) and its arguments.
macro_rules! importer {
    ($spec:ident, $args:ident, $name:literal, $format:expr, $doc:ident, $file:ident,
     $doc_kind:literal, $doc_doc:literal, $file_doc:literal, $summary:literal) => {
        pub const $spec: CommandSpec = CommandSpec {
            name: $name,
            summary: $summary,
            params: &[
                Param {
                    name: stringify!($doc),
                    kind: $doc_kind,
                    required: false,
                    doc: $doc_doc,
                },
                USER,
                USER_COUNT,
                SPAWN_RATE,
                TEST_TIME,
                INCLUDE,
                EXCLUDE,
                Param {
                    name: stringify!($file),
                    kind: "string",
                    required: false,
                    doc: $file_doc,
                },
                INCLUDE_STATIC,
                OUTPUT_FILE,
            ],
            parse: |v, a| {
                // Shallow: a recorded document holds any text, `${` included.
                let g = v.typed_shallow::<$args>(a)?;
                parse(v, a, $format, g.into())
            },
        };

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $args {
            #[serde(default)]
            $doc: Option<Value>,
            #[serde(default = "default_user")]
            user: String,
            #[serde(
                default = "default_user_count",
                deserialize_with = "crate::plan::lenient::num"
            )]
            user_count: u64,
            #[serde(
                default = "default_spawn_rate",
                deserialize_with = "crate::plan::lenient::num"
            )]
            spawn_rate: f64,
            #[serde(
                default = "default_test_time",
                deserialize_with = "crate::plan::lenient::num"
            )]
            test_time: f64,
            #[serde(default)]
            include: Option<Vec<String>>,
            #[serde(default)]
            exclude: Option<Vec<String>>,
            #[serde(default)]
            $file: Option<String>,
            #[serde(default)]
            include_static: bool,
            #[serde(default)]
            output_file: Option<String>,
        }

        impl From<$args> for Given {
            fn from(a: $args) -> Given {
                Given {
                    doc: a.$doc,
                    file: a.$file,
                    user: a.user,
                    user_count: a.user_count,
                    spawn_rate: a.spawn_rate,
                    test_time: a.test_time,
                    include: a.include.unwrap_or_default(),
                    exclude: a.exclude.unwrap_or_default(),
                    include_static: a.include_static,
                    output_file: a.output_file,
                }
            }
        }
    };
}

importer!(
    HAR_TO_ACTION_JSON,
    HarArgs,
    "LD_har_to_action_json",
    Format::Har,
    har,
    har_file,
    "object",
    "The HAR document itself (`{\"log\": {\"entries\": [...]}}`), as LoadDensity's Python API takes it. Give it or `har_file`.",
    "The HAR file (relative to the plan's folder, then the working folder); read when the plan is validated.",
    "Write a plan from a HAR recording: one task per request, static assets dropped"
);

importer!(
    CURL_TO_ACTION_JSON,
    CurlArgs,
    "LD_curl_to_action_json",
    Format::Curl,
    curl,
    curl_file,
    "string",
    "One or more curl commands (\"Copy as cURL (bash)\"), one request each. Give it or `curl_file`.",
    "A file of curl commands (relative to the plan's folder, then the working folder); read when the plan is validated.",
    "Write a plan from curl commands: one task per command"
);

importer!(
    OPENAPI_TO_ACTION_JSON,
    OpenapiArgs,
    "LD_openapi_to_action_json",
    Format::Openapi,
    openapi,
    openapi_file,
    "object",
    "The OpenAPI 3.0/3.1 document itself. Give it or `openapi_file`.",
    "The OpenAPI document, JSON or YAML (relative to the plan's folder, then the working folder); read when the plan is validated.",
    "Write a plan from an OpenAPI 3 document: one task per path and method"
);

importer!(
    POSTMAN_TO_ACTION_JSON,
    PostmanArgs,
    "LD_postman_to_action_json",
    Format::Postman,
    postman,
    postman_file,
    "object",
    "The Postman collection (v2.1) itself. Give it or `postman_file`.",
    "The exported collection (relative to the plan's folder, then the working folder); read when the plan is validated.",
    "Write a plan from a Postman v2.1 collection: one task per request, folders flattened"
);

fn parse(v: &mut Validator, a: &Args<'_>, format: Format, g: Given) -> Option<Box<dyn Command>> {
    let word = format.word();
    let file_key = format!("{word}_file");
    let mut ok = true;
    let mut problem = |v: &mut Validator, field: &str, msg: String, hint: &str| {
        let at = a.at.child(&if field.is_empty() {
            "args".to_string()
        } else {
            format!("args.{field}")
        });
        let p = Problem::new(at, msg);
        v.problem(if hint.is_empty() { p } else { p.hint(hint) });
        ok = false;
    };
    if g.user_count == 0 {
        problem(v, "user_count", "user_count must be at least 1".into(), "");
    }
    for (field, x) in [("spawn_rate", g.spawn_rate), ("test_time", g.test_time)] {
        if !(x > 0.0 && x.is_finite()) {
            problem(
                v,
                field,
                format!("{field} must be a positive number, found {x}"),
                "",
            );
        }
    }
    let mut patterns = |v: &mut Validator, field: &str, list: &[String]| match import::regexes(list)
    {
        Ok(r) => r,
        Err((i, e)) => {
            problem(
                v,
                &format!("{field}[{i}]"),
                e,
                "a pattern is a regular expression searched in the URL, e.g. \"/api/\" or \"\\\\.example\\\\.com\"",
            );
            Vec::new()
        }
    };
    let include = patterns(v, "include", &g.include);
    let exclude = patterns(v, "exclude", &g.exclude);
    if let Some(out) = &g.output_file {
        if let Err(e) = crate::reports::check_name(out) {
            problem(
                v,
                "output_file",
                e,
                "give a file, e.g. \"plans/imported.json\"",
            );
        }
    }
    let (doc, field) = match (g.doc, &g.file) {
        (Some(_), Some(_)) => {
            problem(
                v,
                "",
                format!("{}: give `{word}` or `{file_key}`, not both", a.spec.name),
                "",
            );
            return None;
        }
        (None, None) => {
            problem(
                v,
                "",
                format!(
                    "{}: give the document as `{word}` or its path as `{file_key}`",
                    a.spec.name
                ),
                "",
            );
            return None;
        }
        (Some(doc), None) => match (format, doc) {
            (Format::Curl, Value::String(s)) => (Doc::Text(s), word.to_string()),
            (Format::Curl, other) => {
                problem(
                    v,
                    word,
                    format!(
                        "expected the curl command text, found {}",
                        crate::commands::load::kind(&other)
                    ),
                    "",
                );
                return None;
            }
            (_, d @ Value::Object(_)) => (Doc::Json(d), word.to_string()),
            (_, other) => {
                problem(
                    v,
                    word,
                    format!(
                        "expected the {} as a JSON object, found {}",
                        format.what(),
                        crate::commands::load::kind(&other)
                    ),
                    &format!("or give its path as `{file_key}`"),
                );
                return None;
            }
        },
        (None, Some(path)) => {
            let read = crate::data_source::find(format.what(), path, &a.src.base_dir())
                .and_then(|p| import::cli::read_doc(format.what(), &p))
                .and_then(|text| {
                    import::parse_doc(format, &text)
                        .map_err(|e| format!("{} {path}: {e}", format.what()))
                });
            match read {
                Ok(doc) => (doc, file_key.clone()),
                Err(e) => {
                    problem(v, &file_key, e, "");
                    return None;
                }
            }
        }
    };
    if !ok {
        return None;
    }
    let opts = Options {
        user: g.user,
        user_count: g.user_count,
        spawn_rate: g.spawn_rate,
        test_time: g.test_time,
        include,
        exclude,
        include_static: g.include_static,
    };
    match import::import(format, &doc, &opts) {
        Ok(out) => {
            for w in out.warnings {
                v.warn(Problem::new(a.at.child(&format!("args.{field}")), w));
            }
            Some(Box::new(WritePlan {
                text: import::plan_text(&out.plan),
                tasks: out.tasks,
                output_file: g.output_file,
            }))
        }
        Err(e) => {
            v.problem(
                Problem::new(a.at.child(&format!("args.{field}")), e)
                    .hint("`loaddensity import --help` says what each format is"),
            );
            None
        }
    }
}

/// An importer command, validated: the plan it writes, made already.
#[derive(Debug)]
pub struct WritePlan {
    text: String,
    tasks: usize,
    output_file: Option<String>,
}

impl Command for WritePlan {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        match &self.output_file {
            Some(out) => {
                let out = PathBuf::from(ctx.resolve_str(out)?);
                crate::reports::write_report(&out, self.text.as_bytes())?;
                ctx.ui.note(&format!(
                    "wrote plan {} ({} task(s))",
                    out.display(),
                    self.tasks
                ));
            }
            // The plan is this action's output, as LD_log's text is.
            None => ctx.ui.log(self.text.trim_end()),
        }
        Ok(())
    }

    fn outputs(&self) -> Vec<PathBuf> {
        match &self.output_file {
            Some(o) if !o.contains("${") => vec![PathBuf::from(o)],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{one_problem, valid, warnings};
    use serde_json::json;

    #[test]
    fn the_document_is_given_once() {
        one_problem(
            "LD_curl_to_action_json",
            json!({"curl": "curl http://h/", "curl_file": "x.curl"}),
            "actions[0].args",
            "LD_curl_to_action_json: give `curl` or `curl_file`, not both",
        );
        one_problem(
            "LD_har_to_action_json",
            json!({"user_count": 1}),
            "actions[0].args",
            "LD_har_to_action_json: give the document as `har` or its path as `har_file`",
        );
        // `null` is LoadDensity's None: not given.
        valid(
            "LD_curl_to_action_json",
            json!({"curl": "curl http://h/", "curl_file": null}),
        );
        one_problem(
            "LD_openapi_to_action_json",
            json!({"openapi": "{}"}),
            "actions[0].args.openapi",
            "expected the OpenAPI document as a JSON object, found a string",
        );
    }

    #[test]
    fn patterns_files_and_documents_are_checked_at_validation() {
        one_problem(
            "LD_curl_to_action_json",
            json!({"curl": "curl http://h/", "exclude": ["ok", "[a-"]}),
            "actions[0].args.exclude[1]",
            "\"[a-\" is not a regular expression",
        );
        one_problem(
            "LD_postman_to_action_json",
            json!({"postman_file": "no/such/collection.json"}),
            "actions[0].args.postman_file",
            "Postman collection \"no/such/collection.json\" not found",
        );
        one_problem(
            "LD_har_to_action_json",
            json!({"har": {"log": {"entries": []}}}),
            "actions[0].args.har",
            "the document holds no request to import",
        );
        one_problem(
            "LD_curl_to_action_json",
            json!({"curl": "curl --proxy http://p http://h/"}),
            "actions[0].args.curl",
            "curl command 1: unsupported curl option --proxy",
        );
        one_problem(
            "LD_curl_to_action_json",
            json!({"curl": "curl http://h/", "spawn_rate": 0}),
            "actions[0].args.spawn_rate",
            "spawn_rate must be a positive number",
        );
    }

    #[test]
    fn what_the_importer_skips_is_a_warning() {
        let found = warnings(
            "LD_har_to_action_json",
            json!({"har": {"log": {"entries": [
                {"request": {"method": "GET", "url": "data:,x"}},
                {"request": {"method": "GET", "url": "http://h/ok"}, "response": {"status": 200}}]}}}),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("actions[0].args.har: skipped 1 HAR entry"),
            "{found:?}"
        );
    }
}
