//! A plan's text, checked for size and UTF-8, with a line index for positions.

use super::Problem;
use std::io::Read;
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
    /// Reads a plan file: refuses missing, unreadable, oversized and non-UTF-8
    /// files, and anything but a regular file (a device such as `/dev/zero`
    /// or a FIFO would never end or never start). The size limit holds while
    /// reading too, so a file that grows meanwhile cannot get past it.
    pub fn load(path: &Path) -> Result<Source, Problem> {
        let name = path.display().to_string();
        let cannot_read = |e: &std::io::Error| {
            Problem::file(&name, format!("cannot read plan: {}", io_reason(e)))
                .hint("check the path; plans are JSON files such as actions/quickstart.json")
        };
        // Looked at before opening: opening a FIFO waits for a writer.
        let meta = std::fs::metadata(path).map_err(|e| cannot_read(&e))?;
        check_kind(&name, &meta)?;
        check_len(&name, meta.len())?;
        let file = open_nonblocking(path).map_err(|e| cannot_read(&e))?;
        // And again on what was opened, in case the path changed meanwhile.
        let meta = file.metadata().map_err(|e| cannot_read(&e))?;
        check_kind(&name, &meta)?;
        check_len(&name, meta.len())?;
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| cannot_read(&e))?;
        check_len(&name, bytes.len() as u64)?;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Source::from_bytes(&name, Some(canonical), bytes)
    }

    /// A plan read from a stream (`loaddensity run -` reads standard input),
    /// with the size and UTF-8 checks of a file.
    pub fn from_reader(name: &str, r: impl Read) -> Result<Source, Problem> {
        let mut bytes = Vec::new();
        r.take(MAX_PLAN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Problem::file(name, format!("cannot read plan: {e}")))?;
        Source::from_bytes(name, None, bytes)
    }

    /// A plan given as a string (`loaddensity run-str`).
    pub fn from_string(name: &str, text: String) -> Source {
        Source::new(Arc::from(name), None, text)
    }

    fn from_bytes(name: &str, path: Option<PathBuf>, bytes: Vec<u8>) -> Result<Source, Problem> {
        check_len(name, bytes.len() as u64)?;
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

    fn new(name: Arc<str>, path: Option<PathBuf>, mut text: String) -> Source {
        // A UTF-8 byte order mark (some Windows editors write one) is not JSON.
        if text.starts_with(BOM) {
            text.drain(..BOM.len_utf8());
        }
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
        // The line alone: counting the column would rescan the line, and a
        // plan written on one line would take quadratic time.
        Some(self.line_starts.partition_point(|&s| s <= at - base).max(1))
    }

    /// The folder relative plan paths are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match &self.path {
            Some(p) => p.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => std::env::current_dir().unwrap_or_default(),
        }
    }
}

const BOM: char = '\u{feff}';

/// Refuses anything but a regular file.
fn check_kind(name: &str, meta: &std::fs::Metadata) -> Result<(), Problem> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        return Err(Problem::file(name, "is a directory, not a plan file")
            .hint("use `loaddensity run-dir DIR` to run every *.json below a directory"));
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(Problem::file(name, format!("is {what}, not a plan file"))
        .hint("plans are read from regular files: save the plan to a .json file and pass that"))
}

/// Refuses a plan over [`MAX_PLAN_BYTES`].
fn check_len(name: &str, len: u64) -> Result<(), Problem> {
    if len <= MAX_PLAN_BYTES {
        return Ok(());
    }
    Err(Problem::file(
        name,
        format!(
            "plan is {:.1} MB, larger than the {} MB limit",
            len as f64 / 1e6,
            MAX_PLAN_BYTES / (1024 * 1024)
        ),
    )
    .hint("split it into smaller plans and chain them with LD_execute_files"))
}

/// Opens for reading without blocking on a FIFO that appeared after the check.
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
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
        assert_eq!(s.line_of(&s.text[..0]), Some(1));
        assert_eq!(s.line_of(&s.text[9..]), Some(4));
    }

    #[test]
    fn a_plan_on_one_line_validates_in_linear_time() {
        let plan: Vec<String> = (0..50_000)
            .map(|i| format!(r#"["LD_log", {{"message": "m{i}"}}]"#))
            .collect();
        let t = std::time::Instant::now();
        let found = crate::plan::validate_str(&format!("[{}]", plan.join(",")));
        assert!(found.is_empty(), "{found:?}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let err =
            Source::from_bytes("p.json", None, b"[\n[\"LD_log\", \xff]]".to_vec()).unwrap_err();
        assert_eq!(err.at.line, Some(2));
        assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    }

    #[test]
    fn devices_and_fifos_are_refused_at_once() {
        let t = std::time::Instant::now();
        for dev in ["/dev/zero", "/dev/full", "/dev/null"] {
            let err = Source::load(Path::new(dev)).unwrap_err();
            assert_eq!(err.message, "is a device, not a plan file", "{err}");
            assert!(err.hint.as_deref().unwrap().contains("regular file"));
        }
        let dir = std::env::temp_dir().join(format!("ld-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("plan.json");
        let _ = std::fs::remove_file(&fifo);
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = Source::load(&fifo).unwrap_err();
        assert!(err.message.contains("FIFO"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_size_limit_holds_while_reading() {
        let dir = std::env::temp_dir().join(format!("ld-source-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_PLAN_BYTES + 1).unwrap();
        let err = Source::load(&big).unwrap_err();
        assert!(err.message.contains("larger than the 16 MB limit"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let s = Source::from_bytes("p.json", None, b"\xef\xbb\xbf[1]".to_vec()).unwrap();
        assert_eq!(s.text, "[1]");
        let plan = crate::plan::plan_str("\u{feff}[[\"LD_log\", {\"message\": \"x\"}]]");
        assert!(plan.is_ok(), "{plan:?}");
    }
}
