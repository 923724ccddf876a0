//! A plan's text, checked for size and UTF-8, with a line index for positions.

use super::Problem;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Plans larger than this are refused before they are parsed.
pub const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

/// The text of one plan.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name problems use (the path as the user gave it, or `<run-str>`).
    pub name: Arc<str>,
    /// The file, canonicalised, when the plan came from one.
    pub path: Option<PathBuf>,
    pub text: String,
    line_starts: Vec<usize>,
}

impl Source {
    /// Reads a plan file: refuses missing, unreadable, oversized and non-UTF-8 files.
    pub fn load(path: &Path) -> Result<Source, Problem> {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| {
            Problem::file(&name, format!("cannot read plan: {}", io_reason(&e)))
                .hint("check the path; plans are JSON files such as actions/quickstart.json")
        })?;
        if meta.is_dir() {
            return Err(Problem::file(&name, "is a directory, not a plan file")
                .hint("use `loaddensity run-dir DIR` to run every *.json below a directory"));
        }
        if meta.len() > MAX_PLAN_BYTES {
            return Err(Problem::file(
                &name,
                format!(
                    "plan is {:.1} MB, larger than the {} MB limit",
                    meta.len() as f64 / 1e6,
                    MAX_PLAN_BYTES / (1024 * 1024)
                ),
            )
            .hint("split it into smaller plans and chain them with LD_execute_files"));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Problem::file(&name, format!("cannot read plan: {}", io_reason(&e))))?;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Source::from_bytes(&name, Some(canonical), bytes)
    }

    /// A plan given as a string (`loaddensity run-str`).
    pub fn from_string(name: &str, text: String) -> Source {
        Source::new(Arc::from(name), None, text)
    }

    fn from_bytes(name: &str, path: Option<PathBuf>, bytes: Vec<u8>) -> Result<Source, Problem> {
        if bytes.len() as u64 > MAX_PLAN_BYTES {
            return Err(Problem::file(name, "plan is larger than the 16 MB limit"));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Source::new(Arc::from(name), path, text)),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let prefix = String::from_utf8_lossy(&bytes[..valid]).into_owned();
                let tmp = Source::new(Arc::from(name), None, prefix);
                let (line, col) = tmp.line_col(valid);
                let mut p = Problem::file(name, "is not valid UTF-8 text").column(col);
                p.at.line = Some(line);
                Err(p.hint("save the plan as UTF-8 JSON"))
            }
        }
    }

    fn new(name: Arc<str>, path: Option<PathBuf>, text: String) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            name,
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line.max(1), col)
    }

    /// 1-based line of a slice that borrows from this source's text.
    pub fn line_of(&self, slice: &str) -> Option<usize> {
        let base = self.text.as_ptr() as usize;
        let at = slice.as_ptr() as usize;
        if at < base || at > base + self.text.len() {
            return None;
        }
        Some(self.line_col(at - base).0)
    }

    /// The folder relative plan paths are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match &self.path {
            Some(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => std::env::current_dir().unwrap_or_default(),
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = Source::from_string("x", "ab\ncd\n\nef".to_string());
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(1), (1, 2));
        assert_eq!(s.line_col(3), (2, 1));
        assert_eq!(s.line_col(7), (4, 1));
        assert_eq!(s.line_of(&s.text[4..]), Some(2));
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err =
            Source::from_bytes("p.json", None, b"[\n[\"LD_log\", \xff]]".to_vec()).unwrap_err();
        assert_eq!(err.at.line, Some(2));
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }
}
