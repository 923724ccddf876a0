//! `LD_generate_*_report` and `LD_clear_records`: reports are written from what
//! every test so far measured, keeping LoadDensity's argument names.

use crate::interpreter::Context;
use crate::plan::validate::{Args, Validator};
use crate::plan::Problem;
use crate::registry::{parse_typed, Command, CommandSpec, Param, Role};
use crate::reports;
use serde::Deserialize;
use std::path::PathBuf;

/// The formats a report command can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Summary,
    Json,
    Csv,
    Junit,
    Html,
    /// LoadDensity's `NAME_success.xml` / `NAME_failure.xml`.
    Xml,
}

impl Format {
    /// Every file a report named `name` writes.
    fn paths(self, name: &str) -> Vec<PathBuf> {
        match self {
            Format::Xml => reports::ld_pair_paths(name, "xml").to_vec(),
            // Ours, and LoadDensity's pair beside it.
            Format::Json => {
                let mut v = vec![reports::report_path(name, "json")];
                v.extend(reports::ld_pair_paths(name, "json"));
                v
            }
            _ => vec![reports::report_path(name, self.ext())],
        }
    }

    fn ext(self) -> &'static str {
        match self {
            Format::Summary | Format::Json => "json",
            Format::Csv => "csv",
            Format::Junit | Format::Xml => "xml",
            Format::Html => "html",
        }
    }
}

macro_rules! report_spec {
    ($const:ident, $name:literal, $summary:literal, $param:literal, $default:literal, $args:ident, $format:expr) => {
        pub const $const: CommandSpec = CommandSpec {
            name: $name,
            summary: $summary,
            params: &[Param {
                name: $param,
                kind: concat!("string = \"", $default, "\""),
                required: false,
                doc: "Output path without extension (the extension is appended); parent folders are created.",
            }],
            parse: |v: &mut Validator, a: &Args<'_>| {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct $args {
                    #[serde(rename = $param, default = "default_name")]
                    name: Option<String>,
                }
                fn default_name() -> Option<String> {
                    Some($default.to_string())
                }
                let args = v.typed::<$args>(a)?;
                let name = args.name.unwrap_or_else(|| $default.to_string());
                if let Err(msg) = reports::check_name(&name) {
                    v.problem(
                        Problem::new(a.at.child(concat!("args.", $param)), msg)
                            .hint("give a file name, e.g. \"reports/result\" (the extension is appended)"),
                    );
                    return None;
                }
                Some(Box::new(WriteReport {
                    format: $format,
                    name,
                }) as Box<dyn Command>)
            },
        };
    };
}

report_spec!(
    GENERATE_SUMMARY_REPORT,
    "LD_generate_summary_report",
    "Write the summary JSON (the machine contract: totals, per name, exit code)",
    "report_name",
    "loaddensity-summary",
    SummaryArgs,
    Format::Summary
);
report_spec!(
    GENERATE_JSON_REPORT,
    "LD_generate_json_report",
    "Write the full JSON report, timelines included, and LoadDensity's NAME_success.json / NAME_failure.json",
    "json_file_name",
    "default_name",
    JsonArgs,
    Format::Json
);
report_spec!(
    GENERATE_XML_REPORT,
    "LD_generate_xml_report",
    "Write LoadDensity's XML pair: NAME_success.xml and NAME_failure.xml (aggregated per name)",
    "xml_file_name",
    "default_name",
    XmlArgs,
    Format::Xml
);
report_spec!(
    GENERATE_CSV_REPORT,
    "LD_generate_csv_report",
    "Write per-name statistics as CSV",
    "csv_name",
    "default_name",
    CsvArgs,
    Format::Csv
);
report_spec!(
    GENERATE_JUNIT_REPORT,
    "LD_generate_junit_report",
    "Write a JUnit XML report (one testcase per task name)",
    "report_name",
    "loaddensity-junit",
    JunitArgs,
    Format::Junit
);
report_spec!(
    GENERATE_HTML_REPORT,
    "LD_generate_html_report",
    "Write a self-contained HTML report with charts",
    "html_name",
    "default_name",
    HtmlArgs,
    Format::Html
);

pub const SUMMARY: CommandSpec = CommandSpec {
    name: "LD_summary",
    summary: "Print LoadDensity's summary object (totals, latency_overall, per_name) of what was measured so far",
    params: &[],
    parse: parse_typed::<PrintSummary>,
};

pub const CLEAR_RECORDS: CommandSpec = CommandSpec {
    name: "LD_clear_records",
    summary: "Forget what earlier tests measured; later reports start afresh",
    params: &[],
    parse: parse_typed::<ClearRecords>,
};

#[derive(Debug)]
pub struct WriteReport {
    format: Format,
    name: String,
}

impl Command for WriteReport {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        let name = ctx.resolve_str(&self.name)?;
        let paths = self.format.paths(&name);
        // Again with the placeholders resolved: `${var.n}` may name a plan of
        // the run, be empty or name a folder or a device.
        for path in &paths {
            reports::check_target(&name, path)?;
        }
        let summary = ctx.summary();
        let texts = match self.format {
            Format::Xml => {
                let (ok, failed) = reports::ld_xml_pair(&summary);
                vec![ok, failed]
            }
            Format::Json => {
                let (ok, failed) = reports::ld_json_pair(&summary);
                vec![reports::full_json(&summary), ok, failed]
            }
            _ => vec![self.render(&summary)],
        };
        for (path, text) in paths.iter().zip(texts) {
            reports::write_report(path, text.as_bytes())?;
            ctx.ui.note(&format!("wrote {}", path.display()));
            ctx.reports_written.push(path.clone());
        }
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }

    fn outputs(&self) -> Vec<PathBuf> {
        if self.name.contains("${") {
            Vec::new()
        } else {
            self.format.paths(&self.name)
        }
    }
}

impl WriteReport {
    /// The one file of a single-file format.
    fn render(&self, summary: &crate::stats::RunSummary) -> String {
        match self.format {
            Format::Summary => reports::summary_json(summary),
            Format::Json | Format::Xml => unreachable!("written as several files"),
            Format::Csv => reports::stats_csv(summary),
            Format::Junit => reports::junit_of(summary),
            Format::Html => reports::html_report(summary),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintSummary {}

impl Command for PrintSummary {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.ui.result(&reports::ld_summary_json(&ctx.summary()));
        Ok(())
    }

    fn role(&self) -> Role {
        Role::Report
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearRecords {}

impl Command for ClearRecords {
    fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        ctx.records.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::testing::{one_problem, valid};
    use serde_json::json;
    use std::path::PathBuf;

    #[test]
    fn a_report_knows_its_file_before_the_run() {
        let plan = valid("LD_generate_junit_report", json!({}));
        assert_eq!(
            plan.actions[0].command.outputs(),
            [PathBuf::from("loaddensity-junit.xml")]
        );
        let plan = valid("LD_generate_html_report", json!(["out/r"]));
        assert_eq!(
            plan.actions[0].command.outputs(),
            [PathBuf::from("out/r.html")]
        );
        // A name resolved at run time is not known yet.
        let plan = valid(
            "LD_generate_csv_report",
            json!({"csv_name": "${var.dir}/s"}),
        );
        assert!(plan.actions[0].command.outputs().is_empty());
    }

    #[test]
    fn default_names_are_loaddensity_ones() {
        for (cmd, file) in [
            ("LD_generate_summary_report", "loaddensity-summary.json"),
            ("LD_generate_json_report", "default_name.json"),
            ("LD_generate_csv_report", "default_name.csv"),
            ("LD_generate_junit_report", "loaddensity-junit.xml"),
            ("LD_generate_html_report", "default_name.html"),
        ] {
            let plan = valid(cmd, json!({}));
            assert_eq!(plan.actions[0].command.outputs()[0], PathBuf::from(file));
        }
    }

    #[test]
    fn loaddensity_pairs_are_outputs_too() {
        let plan = valid("LD_generate_json_report", json!({}));
        assert_eq!(
            plan.actions[0].command.outputs(),
            [
                "default_name.json",
                "default_name_success.json",
                "default_name_failure.json"
            ]
            .map(PathBuf::from)
        );
        let plan = valid("LD_generate_xml_report", json!(["out/r.xml"]));
        assert_eq!(
            plan.actions[0].command.outputs(),
            ["out/r_success.xml", "out/r_failure.xml"].map(PathBuf::from)
        );
    }

    #[test]
    fn each_report_names_its_own_argument() {
        one_problem(
            "LD_generate_csv_report",
            json!({"report_name": "x"}),
            "actions[0].args.report_name",
            "LD_generate_csv_report: unknown field `report_name`, expected `csv_name`",
        );
        one_problem(
            "LD_generate_summary_report",
            json!({"report_name": 5}),
            "actions[0].args.report_name",
            "LD_generate_summary_report: invalid type: integer `5`, expected a string",
        );
    }
}
