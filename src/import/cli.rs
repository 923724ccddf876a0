//! `loaddensity import har|curl|openapi|postman FILE [-o PLAN]`.

use super::{Doc, Format, Options};
use crate::exit::Outcome;
use crate::ui::{stderr_line, stdout_text};
use clap::{Args, ValueEnum};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The formats as the command line names them.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum FormatArg {
    /// A HAR file saved from a browser's Network panel
    Har,
    /// Text holding one or more curl commands ("Copy as cURL (bash)")
    Curl,
    /// An OpenAPI 3.0/3.1 document (JSON or YAML)
    Openapi,
    /// A Postman Collection v2.1 (JSON)
    Postman,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Har => Format::Har,
            FormatArg::Curl => Format::Curl,
            FormatArg::Openapi => Format::Openapi,
            FormatArg::Postman => Format::Postman,
        }
    }
}

/// `import`'s arguments.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// What FILE is
    #[arg(value_enum)]
    pub format: FormatArg,
    /// The document; `-` reads standard input
    pub file: PathBuf,
    /// Write the plan here (parent folders are created) instead of to stdout
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Keep only requests whose URL this regular expression matches
    /// (searched, not anchored); repeatable: any may match
    #[arg(long, value_name = "RE")]
    pub include: Vec<String>,
    /// Drop requests whose URL this regular expression matches; repeatable
    #[arg(long, value_name = "RE")]
    pub exclude: Vec<String>,
    /// Keep requests for static assets (.js, .css, images, fonts, ...)
    #[arg(long)]
    pub include_static: bool,
    /// The plan's user type (user_detail_dict.user)
    #[arg(long, value_name = "NAME", default_value = "fast_http_user")]
    pub user: String,
    /// The plan's user_count
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=crate::commands::load::MAX_USERS))]
    pub user_count: u64,
    /// The plan's spawn_rate (users started per second)
    #[arg(long, value_name = "N", default_value_t = 5.0, value_parser = positive)]
    pub spawn_rate: f64,
    /// The plan's test_time, in seconds
    #[arg(long, value_name = "S", default_value_t = 60.0, value_parser = positive)]
    pub test_time: f64,
}

fn positive(s: &str) -> Result<f64, String> {
    crate::units::positive_number(s)
        .ok_or_else(|| format!("expected a positive number, found {s:?}"))
}

/// Runs `loaddensity import`: exit 0 with the plan written, else 2 with
/// what to do.
pub fn main(a: ImportArgs) -> Outcome {
    match import(&a) {
        Ok(()) => Outcome::Pass,
        Err(msg) => {
            stderr_line(&format!("error: {msg}"));
            Outcome::Invalid
        }
    }
}

fn import(a: &ImportArgs) -> Result<(), String> {
    let format = Format::from(a.format);
    let include = super::regexes(&a.include).map_err(|(_, e)| format!("--include {e}"))?;
    let exclude = super::regexes(&a.exclude).map_err(|(_, e)| format!("--exclude {e}"))?;
    let opts = Options {
        user: a.user.clone(),
        user_count: a.user_count,
        spawn_rate: a.spawn_rate,
        test_time: a.test_time,
        include,
        exclude,
        include_static: a.include_static,
    };
    if let Some(out) = &a.output {
        let same = std::fs::canonicalize(out)
            .ok()
            .is_some_and(|o| std::fs::canonicalize(&a.file).ok() == Some(o));
        if same {
            return Err(format!(
                "-o {} is the {} being imported; write the plan to another file",
                out.display(),
                format.what()
            ));
        }
    }
    let (name, text) = read_input(&a.file, format)?;
    let doc: Doc = super::parse_doc(format, &text).map_err(|e| format!("{name}: {e}"))?;
    let out = super::import(format, &doc, &opts).map_err(|e| format!("{name}: {e}"))?;
    for w in &out.warnings {
        stderr_line(&format!("warning: {name}: {w}"));
    }
    let text = super::plan_text(&out.plan);
    let dropped = match (out.static_dropped, out.filtered) {
        (0, 0) => String::new(),
        (s, f) => format!(" ({s} static asset(s) and {f} filtered request(s) left out)"),
    };
    match &a.output {
        Some(path) => {
            crate::reports::write_report(path, text.as_bytes()).map_err(|e| format!("{e:#}"))?;
            stderr_line(&format!(
                "wrote {} with {} task(s){dropped}; next: loaddensity validate {}",
                path.display(),
                out.tasks,
                path.display()
            ));
        }
        None => {
            stdout_text(&text);
            stderr_line(&format!("{} task(s){dropped}", out.tasks));
        }
    }
    Ok(())
}

/// The document's name (for messages) and text: FILE, or standard input for `-`.
fn read_input(file: &Path, format: Format) -> Result<(String, String), String> {
    let what = format.what();
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .take(super::MAX_DOC_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the {what} from standard input: {e}"))?;
        if text.len() as u64 > super::MAX_DOC_BYTES {
            return Err(format!(
                "the {what} on standard input is larger than 64 MiB"
            ));
        }
        return Ok(("<stdin>".into(), text));
    }
    let name = file.display().to_string();
    read_doc(what, file).map(|t| (name, t))
}

/// Reads a document file: a regular file, at most 64 MiB, UTF-8.
pub(crate) fn read_doc(what: &str, path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {what} {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{what} {shown} is not a regular file"));
    }
    if meta.len() > super::MAX_DOC_BYTES {
        return Err(format!(
            "{what} {shown} is {} bytes; an importer reads at most 64 MiB",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {what} {shown}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{what} {shown} is not UTF-8 text"))
}
