//! Report writers: each format is a pure function of a [`RunSummary`].
//!
//! | function | format | command (argument) |
//! |---|---|---|
//! | [`summary_json`] | compact JSON contract (no timelines) | `LD_generate_summary_report {report_name}` → `.json` |
//! | [`full_json`] | JSON with every field, timelines included | `LD_generate_json_report {json_file_name}` → `.json` |
//! | [`stats_csv`] | one row per (test, name), totals | `LD_generate_csv_report {csv_name}` → `.csv` |
//! | [`junit_of`] | JUnit XML (GitLab, Jenkins) | `LD_generate_junit_report {report_name}` → `.xml` |
//! | [`html_report`] | one self-contained HTML file | `LD_generate_html_report {html_name}` → `.html` |
//! | [`ld_json_pair`] | LoadDensity's success/failure JSON pair | `LD_generate_json_report {json_file_name}` → `_success.json`, `_failure.json` |
//! | [`ld_xml_pair`] | LoadDensity's success/failure XML pair | `LD_generate_xml_report {xml_file_name}` → `_success.xml`, `_failure.xml` |
//! | [`ld_summary_json`] | LoadDensity's summary object | `LD_summary` (printed) |
//! | [`github::annotations`], [`github::step_summary_markdown`] | GitHub Actions workflow commands and job summary | `LD_emit_github_annotations` (printed); `$GITHUB_STEP_SUMMARY` (appended by the CLI) |
//! | [`render_table`], [`render_errors`] | console end-of-test table and top errors | — |
//! | [`RequestLog`] | streamed per-request CSV | `LD_start_test` `record_csv: "path"` |
//!
//! Callers check the name with [`check_name`] (when the plan is validated, and
//! again once its placeholders are resolved), build the file name with
//! [`report_path`], check it with [`check_target`] and write it with
//! [`write_report`] (atomic). The formats are described in `docs/reports.md`.
//!
//! [`RunSummary`]: crate::stats::RunSummary
//! [`RequestLog`]: crate::stats::request_log::RequestLog

use anyhow::Context;
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub mod csv;
pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod loaddensity;
pub mod summary;
pub mod table;
mod util;

#[cfg(test)]
pub(crate) mod test_fixture;

pub use csv::stats_csv;
pub use html::html_report;
pub use json::full_json;
pub use junit::junit_of;
pub use loaddensity::{ld_json_pair, ld_pair_paths, ld_summary_json, ld_xml_pair};
pub use summary::summary_json;
pub use table::{render_errors, render_table};
pub(crate) use util::iso8601_utc;

/// The file a report named `name` is written to: `name` + `.ext`.
///
/// LoadDensity convention: `report_name: "out/result"` → `out/result.json`.
/// If `name` already ends with `.ext` (ASCII case-insensitive) it is returned
/// unchanged, so `"out/result.json"` does not become `out/result.json.json`.
/// `ext` may be given with or without its leading dot.
pub fn report_path(name: &str, ext: &str) -> PathBuf {
    let ext = ext.trim_start_matches('.');
    if ext.is_empty() {
        return PathBuf::from(name);
    }
    let suffix = format!(".{ext}");
    let already = name.len() >= suffix.len()
        && name.is_char_boundary(name.len() - suffix.len())
        && name[name.len() - suffix.len()..].eq_ignore_ascii_case(&suffix);
    if already {
        PathBuf::from(name)
    } else {
        PathBuf::from(format!("{name}{suffix}"))
    }
}

/// Why `name` cannot name a report file, if it cannot: it is empty, or it
/// names a folder (ends with `/`, or its last part is `.` or `..`).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the report name is empty".to_string());
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.is_empty() || last == "." || last == ".." {
        return Err(format!(
            "the report name {name:?} names a folder, not a file"
        ));
    }
    Ok(())
}

/// The plan files of this run (canonical paths): no report may replace one.
static PLAN_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Adds the run's plan files (canonical paths, as validation found them) to
/// those no report may replace, even through a name resolved at run time.
pub fn protect_plan_files(files: &[PathBuf]) {
    let mut known = PLAN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    for f in files {
        if !known.contains(f) {
            known.push(f.clone());
        }
    }
}

/// Checks, at run time, that the report named `name` may be written to
/// `path` (see [`report_path`]): the name is a file name ([`check_name`]) and
/// not a device, pipe or socket (`/dev/null` would otherwise become
/// `/dev/null.json`), `path` is not a plan file of this run, and if `path`
/// exists it is a regular file (never a folder or a device to replace).
pub fn check_target(name: &str, path: &Path) -> anyhow::Result<()> {
    check_name(name).map_err(anyhow::Error::msg)?;
    if let Ok(m) = fs::metadata(name) {
        if !m.is_file() && !m.is_dir() {
            anyhow::bail!(
                "the report name {name} is {}, not a file name; reports are written to regular files",
                kind(&m)
            );
        }
    }
    let canonical = crate::plan::validate::absolute(path);
    let protected = PLAN_FILES.lock().unwrap_or_else(|e| e.into_inner());
    if protected.contains(&canonical) {
        anyhow::bail!(
            "report path {} would overwrite a plan file of this run; give the report another name",
            path.display()
        );
    }
    drop(protected);
    if let Ok(m) = fs::metadata(path) {
        if !m.is_file() {
            anyhow::bail!(
                "report path {} is {}, not a regular file; nothing was written",
                path.display(),
                kind(&m)
            );
        }
    }
    Ok(())
}

/// What a non-regular file is, for messages.
fn kind(m: &fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_fifo() {
        "a pipe"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Writes `bytes` to `path` atomically: parent folders are created as needed,
/// the bytes go to a temporary file in the same folder, which is then renamed
/// over `path`. A reader never sees a half-written report.
///
/// Errors name the path (`writing report out/result.json: ...`).
pub fn write_report(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, bytes).with_context(|| format!("writing report {}", path.display()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let file_name = path
        .file_name()
        .with_context(|| "the path has no file name")?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => {
            fs::create_dir_all(p).with_context(|| format!("creating folder {}", p.display()))?;
            p.to_path_buf()
        }
        _ => PathBuf::from("."),
    };

    let mut tmp_name = OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);

    let result = (|| -> anyhow::Result<()> {
        let mut f = fs::File::create(&tmp)
            .with_context(|| format!("creating temporary file {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_path_appends_extension() {
        assert_eq!(
            report_path("out/result", "json"),
            PathBuf::from("out/result.json")
        );
        assert_eq!(report_path("result", ".csv"), PathBuf::from("result.csv"));
        assert_eq!(
            report_path("out/result.v2", "html"),
            PathBuf::from("out/result.v2.html")
        );
        assert_eq!(
            report_path("out/result.json", "csv"),
            PathBuf::from("out/result.json.csv")
        );
    }

    #[test]
    fn report_path_does_not_double_extension() {
        assert_eq!(
            report_path("out/result.json", "json"),
            PathBuf::from("out/result.json")
        );
        assert_eq!(report_path("out/R.XML", "xml"), PathBuf::from("out/R.XML"));
        assert_eq!(
            report_path("ünïcode.html", ".html"),
            PathBuf::from("ünïcode.html")
        );
        // A multi-byte char right before where the suffix would start.
        assert_eq!(report_path("é", "json"), PathBuf::from("é.json"));
        assert_eq!(report_path("x", ""), PathBuf::from("x"));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "loaddensity-reports-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn check_name_refuses_empty_and_folder_names() {
        for bad in ["", "/", "dir/", "out/.", "out/..", ".", ".."] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for ok in [
            "result",
            "out/result",
            ".hidden",
            "out/r.json",
            "a..b",
            "${var.n}",
        ] {
            assert!(check_name(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn check_target_refuses_what_is_not_a_regular_file() {
        let dir = temp_dir("target");
        fs::create_dir_all(dir.join("folder.json")).unwrap();
        let folder = dir.join("folder.json");
        let msg = format!("{:#}", check_target("x", &folder).unwrap_err());
        assert!(msg.contains("is a folder"), "{msg}");
        let msg = format!(
            "{:#}",
            check_target("/dev/null", Path::new("/dev/null.json")).unwrap_err()
        );
        assert!(msg.contains("is a device"), "{msg}");
        fs::write(dir.join("old.json"), b"x").unwrap();
        check_target("old", &dir.join("old.json")).unwrap();
        check_target("new", &dir.join("new.json")).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_report_creates_parent_dirs_and_replaces() {
        let dir = temp_dir("write");
        let path = dir.join("a/b/c/result.json");
        write_report(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_report(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        // No temporary files are left behind.
        let left: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![OsString::from("result.json")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn write_report_error_names_the_path() {
        let dir = temp_dir("err");
        fs::create_dir_all(&dir).unwrap();
        // A file where a folder is needed.
        fs::write(dir.join("blocker"), b"x").unwrap();
        let path = dir.join("blocker/sub/result.json");
        let err = write_report(&path, b"x").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
