//! CSV data sources: `${csv.SOURCE.COLUMN}`.
//!
//! A source's file is read once, at validation, into memory ([`CsvData`]).
//! When a test runs, each source gets a [`CsvFeed`]: a row counter shared by
//! every user on every worker. Each time a task is resolved it takes the next
//! row of every source it names ([`TaskRows`]); every `${csv.S.*}` of that
//! task (URL, params, headers, body, assertions) reads that one row.

use crate::resolver::CsvRows;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The largest CSV file a source may have.
pub const MAX_CSV_BYTES: u64 = 64 * 1024 * 1024;

/// One source as a plan writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceArg {
    pub name: String,
    pub file_path: String,
    #[serde(default = "yes")]
    pub cycle: bool,
}

fn yes() -> bool {
    true
}

/// A CSV file's header and rows, read once.
#[derive(Debug, PartialEq)]
pub struct CsvData {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A source registered and loaded at validation.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub cycle: bool,
    pub data: Arc<CsvData>,
}

impl Source {
    /// Reads the file of `arg`: a relative path is looked for in `base`
    /// (the plan's folder) first, then in the working directory.
    pub fn load(arg: &SourceArg, base: &Path) -> Result<Source, String> {
        let path = find("CSV file", &arg.file_path, base)?;
        let meta = std::fs::metadata(&path)
            .map_err(|e| format!("cannot read CSV file {}: {e}", path.display()))?;
        if meta.len() > MAX_CSV_BYTES {
            return Err(format!(
                "CSV file {} is {} bytes; a data source may have at most {MAX_CSV_BYTES} (64 MiB)",
                path.display(),
                meta.len()
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read CSV file {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("CSV file {} is not UTF-8 text", path.display()))?;
        let data = parse(text.strip_prefix('\u{feff}').unwrap_or(&text))
            .map_err(|e| format!("CSV file {}: {e}", path.display()))?;
        if data.rows.is_empty() {
            // Every user would stop at its first request.
            return Err(format!(
                "CSV file {} has a header but no rows: a data source needs at least one",
                path.display()
            ));
        }
        Ok(Source {
            name: arg.name.clone(),
            cycle: arg.cycle,
            data: Arc::new(data),
        })
    }
}

/// Where a data file is: absolute as given; relative, in `base` first and
/// then in the working directory. `what` names it in the error (`CSV file`).
pub(crate) fn find(what: &str, file_path: &str, base: &Path) -> Result<PathBuf, String> {
    let p = Path::new(file_path);
    if p.is_absolute() {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("{what} {file_path} not found"))
        };
    }
    let in_base = base.join(p);
    if in_base.is_file() {
        return Ok(in_base);
    }
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    Err(format!(
        "{what} {file_path:?} not found: looked in the plan's folder ({}) and in the working directory ({})",
        base.display(),
        cwd.display()
    ))
}

/// Parses RFC 4180 CSV: the first record is the header; fields may be quoted
/// (`"a, ""b"""`), lines end in LF or CRLF. Blank lines are skipped.
pub fn parse(text: &str) -> Result<CsvData, String> {
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut was_quoted) = (false, false);
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let end_record =
        |record: &mut Vec<String>, field: &mut String, records: &mut Vec<Vec<String>>, q: bool| {
            record.push(std::mem::take(field));
            let r = std::mem::take(record);
            if !(r.len() == 1 && r[0].is_empty() && !q) {
                records.push(r);
            }
        };
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() && !was_quoted => (quoted, was_quoted) = (true, true),
            (false, ',') => {
                record.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                end_record(&mut record, &mut field, &mut records, was_quoted);
                was_quoted = false;
                line += 1;
            }
            (false, '"') => return Err(format!("line {line}: a quote inside an unquoted field (write it as \"\" inside a quoted field)")),
            (false, c) => {
                if was_quoted {
                    return Err(format!("line {line}: text after a closing quote"));
                }
                field.push(c);
            }
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() || was_quoted {
        end_record(&mut record, &mut field, &mut records, was_quoted);
    }
    let mut records = records.into_iter();
    let columns = records
        .next()
        .ok_or("the file is empty: it needs a header row naming the columns")?;
    if columns.iter().any(String::is_empty) {
        return Err("the header row has an empty column name".to_string());
    }
    Ok(CsvData {
        columns,
        rows: records.collect(),
    })
}

/// One source during one test: its rows and the next row to hand out.
#[derive(Debug)]
pub struct CsvFeed {
    pub name: String,
    pub cycle: bool,
    pub data: Arc<CsvData>,
    next: AtomicU64,
}

impl CsvFeed {
    pub fn new(s: &Source) -> CsvFeed {
        CsvFeed {
            name: s.name.clone(),
            cycle: s.cycle,
            data: Arc::clone(&s.data),
            next: AtomicU64::new(0),
        }
    }

    /// Segment `seg`'s share of the source: row `r` is its when
    /// `r % N == index` (the whole source for an unsegmented run).
    pub fn for_segment(s: &Source, seg: crate::segment::Segment) -> CsvFeed {
        let mut feed = CsvFeed::new(s);
        if !seg.is_whole() {
            feed.data = Arc::new(CsvData {
                columns: s.data.columns.clone(),
                rows: s
                    .data
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(r, _)| seg.owns(*r as u64))
                    .map(|(_, row)| row.clone())
                    .collect(),
            });
        }
        feed
    }

    /// The next row's index; `None` when a source that does not cycle is
    /// used up (or has no rows).
    pub fn take(&self) -> Option<usize> {
        let len = self.data.rows.len() as u64;
        if len == 0 {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        match (self.cycle, n < len) {
            (_, true) => Some(n as usize),
            (true, false) => Some((n % len) as usize),
            (false, false) => None,
        }
    }
}

/// The rows one task resolution took: one per source it names.
#[derive(Debug, Default)]
pub struct TaskRows {
    rows: Vec<(Arc<CsvFeed>, usize)>,
}

impl TaskRows {
    /// Takes the next row of each of `feeds`; on an exhausted source returns
    /// its name (and the rows taken stay cleared).
    pub fn take(&mut self, feeds: &[Arc<CsvFeed>]) -> Result<(), String> {
        self.rows.clear();
        for f in feeds {
            match f.take() {
                Some(i) => self.rows.push((Arc::clone(f), i)),
                None => {
                    self.rows.clear();
                    return Err(f.name.clone());
                }
            }
        }
        Ok(())
    }
}

impl CsvRows for TaskRows {
    fn cell(&self, source: &str, column: &str) -> Option<&str> {
        let (feed, row) = self.rows.iter().find(|(f, _)| f.name == source)?;
        let col = feed.data.columns.iter().position(|c| c == column)?;
        feed.data.rows[*row].get(col).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> CsvData {
        parse(text).unwrap()
    }

    #[test]
    fn segments_take_every_nth_row() {
        let src = Source {
            name: "s".into(),
            cycle: false,
            data: Arc::new(CsvData {
                columns: vec!["n".into()],
                rows: (0..7).map(|i| vec![i.to_string()]).collect(),
            }),
        };
        let rows = |index| {
            let f = CsvFeed::for_segment(&src, crate::segment::Segment { index, count: 3 });
            f.data.rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>()
        };
        assert_eq!(rows(0), ["0", "3", "6"]);
        assert_eq!(rows(1), ["1", "4"]);
        assert_eq!(rows(2), ["2", "5"]);
        let whole = CsvFeed::for_segment(&src, crate::segment::Segment::WHOLE);
        assert!(Arc::ptr_eq(&whole.data, &src.data));
    }

    #[test]
    fn a_source_needs_a_row() {
        let dir = std::env::temp_dir().join(format!("ld-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.csv"), "name,id\n").unwrap();
        let arg = SourceArg {
            name: "users".into(),
            file_path: "empty.csv".into(),
            cycle: true,
        };
        let e = Source::load(&arg, &dir).unwrap_err();
        assert!(
            e.ends_with("has a header but no rows: a data source needs at least one"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rfc4180_fields() {
        let d = data("name,note\r\nann,\"a, \"\"quoted\"\" note\"\r\n\"bo\nb\",\r\n\r\ncy,x\n");
        assert_eq!(d.columns, ["name", "note"]);
        assert_eq!(
            d.rows,
            [
                vec!["ann".to_string(), "a, \"quoted\" note".to_string()],
                vec!["bo\nb".to_string(), String::new()],
                vec!["cy".to_string(), "x".to_string()],
            ]
        );
        assert_eq!(data("a,b\n1,2").rows, [vec!["1", "2"]]);
        assert_eq!(data("a\n\"\"\n").rows, [vec![""]]);
        assert!(data("a,b\n").rows.is_empty());
    }

    #[test]
    fn malformed_files_say_where() {
        assert!(parse("").unwrap_err().contains("needs a header row"));
        assert!(parse("\n\n").unwrap_err().contains("needs a header row"));
        assert_eq!(
            parse("a,\n").unwrap_err(),
            "the header row has an empty column name"
        );
        assert_eq!(
            parse("a\n\"x").unwrap_err(),
            "line 2: a quoted field is not closed"
        );
        assert!(parse("a\nx\"y\n")
            .unwrap_err()
            .starts_with("line 2: a quote inside"));
        assert!(parse("a\n\"x\"y\n")
            .unwrap_err()
            .starts_with("line 2: text after"));
    }

    fn feed(rows: usize, cycle: bool) -> Arc<CsvFeed> {
        let data = CsvData {
            columns: vec!["n".into()],
            rows: (0..rows).map(|i| vec![i.to_string()]).collect(),
        };
        Arc::new(CsvFeed::new(&Source {
            name: "s".into(),
            cycle,
            data: Arc::new(data),
        }))
    }

    #[test]
    fn feeds_cycle_or_run_out() {
        let f = feed(3, true);
        let got: Vec<_> = (0..7).map(|_| f.take().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        let f = feed(2, false);
        assert_eq!((f.take(), f.take(), f.take()), (Some(0), Some(1), None));
        assert_eq!(feed(0, true).take(), None);
    }

    #[test]
    fn a_task_reads_the_row_it_took() {
        let f = feed(2, false);
        let mut rows = TaskRows::default();
        rows.take(&[Arc::clone(&f)]).unwrap();
        assert_eq!(rows.cell("s", "n"), Some("0"));
        assert_eq!(rows.cell("s", "m"), None);
        assert_eq!(rows.cell("t", "n"), None);
        rows.take(&[Arc::clone(&f)]).unwrap();
        assert_eq!(rows.cell("s", "n"), Some("1"));
        assert_eq!(rows.take(&[f]).unwrap_err(), "s");
        assert_eq!(rows.cell("s", "n"), None);
    }
}
