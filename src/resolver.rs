//! `${...}` placeholders in plan strings: compiled once, rendered many times.
//!
//! # Syntax
//!
//! | Placeholder          | Renders as                                                    |
//! |----------------------|---------------------------------------------------------------|
//! | `${var.NAME}`        | the plan or per-user variable `NAME` (see [`Vars`])           |
//! | `${NAME}`            | the same as `${var.NAME}` (LoadDensity's bare form)           |
//! | `${session.NAME}`    | the user's own variable `NAME` only (test `variables`, extracts), never the plan's |
//! | `${env.NAME}`        | the process environment variable `NAME`                       |
//! | `${csv.SOURCE.COLUMN}` | column `COLUMN` of the row the task took from CSV source `SOURCE` |
//! | `${uuid()}`          | a fresh random v4 UUID, e.g. `1b4e28ba-2fa1-41d2-883f-0016d3cca427` |
//! | `${now()}`           | the local time, ISO 8601 to the second, no offset (`2026-11-29T19:04:24`) |
//! | `${now_unix()}`      | the current time as Unix seconds, an integer string (`1718000000`) |
//! | `${randint(a, b)}`   | a uniform integer in `[a, b]` (inclusive, `i64`, `a <= b`)    |
//! | `$${`                | a literal `${`                                                |
//!
//! * Names use only `A-Z a-z 0-9 _ . -`. Spaces are allowed just inside the braces
//!   and around function arguments (`${ randint( 1 , 6 ) }`), nowhere else.
//! * A `$` that does not start `${` or `$${` is literal, as is any `}` outside a
//!   placeholder. Placeholders do not nest.
//! * Limitation: because `$${` is the escape, a literal `$` cannot directly precede
//!   a placeholder (`$${var.price}` is the literal text `${var.price}`); put the `$`
//!   in the variable instead.
//! * A variable's value is JSON: a string renders as-is, numbers/bools as JSON text,
//!   `null` as `null`, objects/arrays as compact JSON.
//! * An undefined variable, session variable, environment variable or CSV
//!   column is left in place as its original text (LoadDensity's rule: missing
//!   data is visible) and reported to [`Lookup::unresolved`] under its key
//!   (`var.x`, `session.x`, `env.X`, `csv.S.C`). A strict lookup
//!   ([`Lookup::strict`], `--strict`) makes it an error ([`ResolveError`]) instead.
//!
//! # Use
//!
//! Parse with [`Template::parse`] (or check a whole JSON tree with [`check_value`]
//! at validation time), then [`Template::render`] per request into a reused `String`.
//! JSON bodies/headers rendered per request use [`CompiledValue`]; one-shot JSON
//! resolution uses [`resolve_value`]. Randomness (`uuid()`, `randint`) comes only from
//! the RNG the caller provides through [`Lookup`], so a seeded run replays exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::{Rng, RngCore};
use serde_json::{Map, Value};

/// The placeholder forms, listed in error messages.
const VALID_FORMS: &str =
    "`${var.NAME}`, `${NAME}`, `${session.NAME}`, `${env.NAME}`, `${csv.SOURCE.COLUMN}`, `${uuid()}`, `${now()}`, `${now_unix()}`, `${randint(a, b)}` (write `$${` for a literal `${`)";

/// A syntax error in a template string. `at` is the byte offset of the `${` that
/// starts the faulty placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `${` without a closing `}`.
    #[error(
        "unterminated `${{` at byte {at}: add a closing `}}` or write `$${{` for a literal `${{`"
    )]
    Unterminated {
        /// Byte offset of the `${`.
        at: usize,
    },
    /// `${}` or `${   }`.
    #[error("empty placeholder `${{}}` at byte {at}: expected one of {VALID_FORMS}")]
    Empty {
        /// Byte offset of the `${`.
        at: usize,
    },
    /// `${var.}`, `${env.}`, `${session.}` or `${csv.}`.
    #[error("empty name in `${{{kind}.}}` at byte {at}")]
    EmptyName {
        /// `var`, `env`, `session` or `csv`.
        kind: &'static str,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// A name with a character outside `[A-Za-z0-9_.-]`.
    #[error("invalid character {bad:?} in name `{name}` at byte {at}: names may only use A-Z, a-z, 0-9, `_`, `.` and `-`")]
    InvalidName {
        /// The whole name as written.
        name: String,
        /// The first offending character.
        bad: char,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// `${${...}}`.
    #[error("nested `${{` inside a placeholder at byte {at}: placeholders do not nest")]
    Nested {
        /// Byte offset of the outer `${`.
        at: usize,
    },
    /// `${foo()}`.
    #[error("unknown function `{name}()` at byte {at}: expected one of {VALID_FORMS}")]
    UnknownFunction {
        /// The function name as written.
        name: String,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// `${csv.SOURCE}` without a column.
    #[error("`${{csv.{name}}}` at byte {at} needs a column: write `${{csv.SOURCE.COLUMN}}`")]
    CsvColumn {
        /// What follows `csv.`.
        name: String,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// `${db.SOURCE}` without a column.
    #[error("`${{db.{name}}}` at byte {at} needs a column: write `${{db.SOURCE.COLUMN}}`")]
    DbColumn {
        /// What follows `db.`.
        name: String,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// Anything else, e.g. `${uuid}` or `${a b}`.
    #[error("unknown placeholder `${{{text}}}` at byte {at}: expected one of {VALID_FORMS}")]
    UnknownPlaceholder {
        /// The text between the braces.
        text: String,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// Wrong arguments to a known function (including `randint` with `a > b`).
    #[error("bad arguments to `{func}()` at byte {at}: {detail}")]
    BadArgs {
        /// `uuid`, `now`, `now_unix` or `randint`.
        func: &'static str,
        /// What is wrong.
        detail: String,
        /// Byte offset of the `${`.
        at: usize,
    },
}

/// An error while rendering (the template itself was valid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A resolved string longer than [`MAX_RESOLVED_BYTES`].
    #[error("a resolved value is longer than 16 MiB (does a variable include itself, e.g. \"${{var.a}}${{var.a}}\"?)")]
    TooLarge,
    /// `${var.NAME}` with no such variable in scope.
    #[error("undefined variable `{0}`: register it with LD_register_variable or extract it in an earlier task")]
    UndefinedVar(String),
    /// `${session.NAME}` with no such variable in the user's own store.
    #[error("undefined session variable `{0}`: set it in the test's `variables` or extract it in an earlier task")]
    UndefinedSession(String),
    /// `${csv.SOURCE.COLUMN}` with no row of that source for this task.
    #[error("no CSV row for `csv.{0}.{1}`: register the source with LD_register_csv_source(s) or the test's `csv_sources`")]
    UndefinedCsv(String, String),
    /// `${env.NAME}` with no such environment variable (or one that is not UTF-8).
    #[error("environment variable `{0}` is not set")]
    UndefinedEnv(String),
    /// A syntax error found by [`resolve_value`], at a JSON path such as
    /// `args.tasks[1].url` (empty for the root value).
    #[error("{}{error}", at_path(.path))]
    Syntax {
        /// Where in the value the bad string is.
        path: String,
        /// What is wrong with it.
        error: TemplateError,
    },
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("at `{path}`: ")
    }
}

/// The longest string a template may resolve to (the size of the largest plan).
pub const MAX_RESOLVED_BYTES: usize = 16 * 1024 * 1024;

/// Where placeholders get their values from.
///
/// [`Scope`] is the ready-made implementation; tests or callers with special needs
/// (e.g. a fake environment) can implement it themselves.
pub trait Lookup {
    /// The value of variable `name`, if defined.
    fn var(&self, name: &str) -> Option<&Value>;
    /// The user's own variable `name` (`${session.NAME}`); none by default.
    fn session(&self, _name: &str) -> Option<&Value> {
        None
    }
    /// Column `column` of the current row of CSV source `source`; none by default.
    fn csv(&self, _source: &str, _column: &str) -> Option<&str> {
        None
    }
    /// The environment variable `name`; defaults to the process environment.
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    /// The RNG used by `uuid()` and `randint`. Must be caller-seeded for replayable runs.
    fn rng(&mut self) -> &mut dyn RngCore;
    /// Whether an undefined placeholder is an error (true by default) rather
    /// than left in place as its text.
    fn strict(&self) -> bool {
        true
    }
    /// An undefined placeholder was left in place; `key` is e.g. `var.x`.
    fn unresolved(&mut self, _key: &str) {}
}

/// A lookup made strict: an undefined placeholder is an error (predicates
/// must see "undefined", not the placeholder's text).
pub struct Strict<'l>(pub &'l mut dyn Lookup);

impl Lookup for Strict<'_> {
    fn var(&self, name: &str) -> Option<&Value> {
        self.0.var(name)
    }
    fn session(&self, name: &str) -> Option<&Value> {
        self.0.session(name)
    }
    fn csv(&self, source: &str, column: &str) -> Option<&str> {
        self.0.csv(source, column)
    }
    fn env(&self, name: &str) -> Option<String> {
        self.0.env(name)
    }
    fn rng(&mut self) -> &mut dyn RngCore {
        self.0.rng()
    }
}

/// A variable store: names to JSON values.
///
/// A plan has one (its registered variables); each load-test user has its own,
/// holding only what that user registered or extracted. [`Scope`] looks in the
/// user's store first, then the plan's, so one user's extracted token never
/// leaks into another user and the plan's store is shared without cloning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    map: BTreeMap<String, Value>,
}

impl Vars {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set `name` to `value`, returning the previous value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.map.insert(name.into(), value.into())
    }
    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name)
    }
    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    /// Unset `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name)
    }
    /// Unset everything (e.g. when a user starts a new iteration).
    pub fn clear(&mut self) {
        self.map.clear();
    }
    /// Number of variables set.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Vars {
    /// Set every pair, later ones overwriting earlier ones.
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.set(k, v);
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut vars = Vars::new();
        vars.extend(iter);
        vars
    }
}

/// The standard [`Lookup`]: a user's variables layered over the plan's, the
/// process environment, and a caller-provided RNG. Cheap to build per request.
///
/// Lenient by default: an undefined placeholder renders as its text and, with
/// [`Scope::noting`], its key is pushed to a list the caller counts.
pub struct Scope<'a> {
    plan: &'a Vars,
    user: Option<&'a Vars>,
    rng: &'a mut dyn RngCore,
    csv: Option<&'a dyn CsvRows>,
    strict: bool,
    notes: Option<&'a mut Vec<String>>,
}

/// The CSV rows one task resolution took, by source name.
pub trait CsvRows {
    /// Column `column` of the row taken from `source`.
    fn cell(&self, source: &str, column: &str) -> Option<&str>;
}

impl<'a> Scope<'a> {
    /// A scope over the plan's variables only.
    pub fn new(plan: &'a Vars, rng: &'a mut dyn RngCore) -> Self {
        Scope {
            plan,
            user: None,
            rng,
            csv: None,
            strict: false,
            notes: None,
        }
    }
    /// Layer one user's variables over the plan's: they win on a name clash.
    pub fn with_user(mut self, user: &'a Vars) -> Self {
        self.user = Some(user);
        self
    }
    /// The CSV rows `${csv.S.C}` reads.
    pub fn with_csv(mut self, rows: &'a dyn CsvRows) -> Self {
        self.csv = Some(rows);
        self
    }
    /// Make an undefined placeholder an error (`--strict`).
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
    /// Push the key of every placeholder left in place to `notes`.
    pub fn noting(mut self, notes: &'a mut Vec<String>) -> Self {
        self.notes = Some(notes);
        self
    }
}

impl Lookup for Scope<'_> {
    fn var(&self, name: &str) -> Option<&Value> {
        self.user
            .and_then(|u| u.get(name))
            .or_else(|| self.plan.get(name))
    }
    fn session(&self, name: &str) -> Option<&Value> {
        self.user.and_then(|u| u.get(name))
    }
    fn csv(&self, source: &str, column: &str) -> Option<&str> {
        self.csv.and_then(|c| c.cell(source, column))
    }
    fn rng(&mut self) -> &mut dyn RngCore {
        &mut *self.rng
    }
    fn strict(&self) -> bool {
        self.strict
    }
    fn unresolved(&mut self, key: &str) {
        if let Some(n) = self.notes.as_mut() {
            n.push(key.to_string());
        }
    }
}

/// One part of a compiled [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text copied as-is (escapes already applied; never empty, never two in a row).
    Literal(String),
    /// `${var.NAME}` (or the bare `${NAME}`).
    Var(String),
    /// `${session.NAME}`.
    Session(String),
    /// `${env.NAME}`.
    Env(String),
    /// `${csv.SOURCE.COLUMN}`: source and column.
    Csv(String, String),
    /// `${uuid()}`.
    Uuid,
    /// `${now()}`: local ISO 8601 time to the second.
    Now,
    /// `${now_unix()}`: Unix seconds.
    NowUnix,
    /// `${randint(a, b)}`, with `a <= b`.
    RandInt(i64, i64),
}

/// A string compiled once: literal pieces and placeholders.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
    /// Each piece's text as written (empty for literals): what an undefined
    /// placeholder renders as.
    raw: Vec<Box<str>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("pieces", &self.pieces)
            .finish()
    }
}

impl Template {
    /// Compile `s`. Linear time; never panics. Reports the first syntax error.
    pub fn parse(s: &str) -> Result<Template, TemplateError> {
        let bytes = s.as_bytes();
        let mut pieces = Vec::new();
        let mut raw: Vec<Box<str>> = Vec::new();
        let mut lit = String::new();
        let mut start = 0; // start of the pending literal run in `s`
        let mut i = 0;
        while let Some(off) = s[i..].find('$') {
            i += off;
            let rest = &bytes[i..];
            if rest.starts_with(b"$${") {
                lit.push_str(&s[start..i]);
                lit.push_str("${");
                i += 3;
                start = i;
            } else if rest.starts_with(b"${") {
                lit.push_str(&s[start..i]);
                let body_start = i + 2;
                let close = s[body_start..]
                    .find('}')
                    .ok_or(TemplateError::Unterminated { at: i })?;
                let piece = parse_placeholder(&s[body_start..body_start + close], i)?;
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                    raw.push("".into());
                }
                pieces.push(piece);
                raw.push(s[i..=body_start + close].into());
                i = body_start + close + 1;
                start = i;
            } else {
                i += 1;
            }
        }
        lit.push_str(&s[start..]);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
            raw.push("".into());
        }
        Ok(Template { pieces, raw })
    }

    /// True when there are no placeholders: rendering just copies the text.
    pub fn is_constant(&self) -> bool {
        self.as_constant().is_some()
    }

    /// The text, when there are no placeholders (escapes applied).
    pub fn as_constant(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// The variable names referenced, in order of appearance (repeats included).
    #[cfg(test)]
    fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The compiled pieces.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Append the rendered text to `out` (so the caller can reuse one `String`).
    /// On error `out` is left as it was.
    pub fn render(&self, ctx: &mut dyn Lookup, out: &mut String) -> Result<(), ResolveError> {
        let mark = out.len();
        let result = self.render_inner(ctx, out, mark);
        if result.is_err() {
            out.truncate(mark);
        }
        result
    }

    fn render_inner(
        &self,
        ctx: &mut dyn Lookup,
        out: &mut String,
        mark: usize,
    ) -> Result<(), ResolveError> {
        for (piece, raw) in self.pieces.iter().zip(&self.raw) {
            // A value that doubles itself (`${var.a}${var.a}` registered again
            // and again) stops here, not at the end of memory.
            if out.len() - mark > MAX_RESOLVED_BYTES {
                return Err(ResolveError::TooLarge);
            }
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Var(name) | Piece::Session(name) => {
                    let v = match piece {
                        Piece::Var(_) => ctx.var(name),
                        _ => ctx.session(name),
                    };
                    match v {
                        Some(Value::String(s)) => out.push_str(s),
                        // `Value`'s Display is compact JSON.
                        Some(v) => write!(out, "{v}").expect("writing to a String"),
                        None => missing(piece, raw, ctx, out)?,
                    }
                }
                Piece::Env(name) => match ctx.env(name) {
                    Some(v) => out.push_str(&v),
                    None => missing(piece, raw, ctx, out)?,
                },
                Piece::Csv(source, column) => match ctx.csv(source, column) {
                    Some(v) => out.push_str(v),
                    None => missing(piece, raw, ctx, out)?,
                },
                Piece::Uuid => push_uuid_v4(ctx.rng(), out),
                Piece::Now => push_local_iso(out),
                Piece::NowUnix => {
                    let secs = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs();
                    write!(out, "{secs}").expect("writing to a String");
                }
                Piece::RandInt(a, b) => {
                    let n: i64 = ctx.rng().random_range(*a..=*b);
                    write!(out, "{n}").expect("writing to a String");
                }
            }
        }
        if out.len() - mark > MAX_RESOLVED_BYTES {
            return Err(ResolveError::TooLarge);
        }
        Ok(())
    }

    /// Render into a new `String`.
    pub fn render_to_string(&self, ctx: &mut dyn Lookup) -> Result<String, ResolveError> {
        let mut out = String::new();
        self.render(ctx, &mut out)?;
        Ok(out)
    }

    /// Render to a JSON value: a template that is exactly one `${var.NAME}` yields
    /// that variable's value with its JSON type (a number stays a number); anything
    /// else yields a string.
    pub fn render_value(&self, ctx: &mut dyn Lookup) -> Result<Value, ResolveError> {
        let found = match self.pieces.as_slice() {
            [Piece::Var(name)] => ctx.var(name).cloned(),
            [Piece::Session(name)] => ctx.session(name).cloned(),
            _ => None,
        };
        match found {
            Some(v) => Ok(v),
            None => self.render_to_string(ctx).map(Value::String),
        }
    }

    /// Every placeholder that reads a value (`var`, `session`, `env`, `csv`).
    pub fn lookups(&self) -> impl Iterator<Item = &Piece> {
        self.pieces.iter().filter(|p| p.is_lookup())
    }
}

impl Piece {
    /// Whether it reads a value that may be undefined.
    pub fn is_lookup(&self) -> bool {
        matches!(
            self,
            Piece::Var(_) | Piece::Session(_) | Piece::Env(_) | Piece::Csv(..)
        )
    }

    /// The key an undefined placeholder is counted under: `var.x`,
    /// `session.x`, `env.X`, `csv.S.C` (`None` for the others).
    pub fn key(&self) -> Option<String> {
        Some(match self {
            Piece::Var(n) => format!("var.{n}"),
            Piece::Session(n) => format!("session.{n}"),
            Piece::Env(n) => format!("env.{n}"),
            Piece::Csv(s, c) if s.starts_with("db.") => format!("{s}.{c}"),
            Piece::Csv(s, c) => format!("csv.{s}.{c}"),
            _ => return None,
        })
    }

    fn undefined(&self) -> ResolveError {
        match self {
            Piece::Session(n) => ResolveError::UndefinedSession(n.clone()),
            Piece::Env(n) => ResolveError::UndefinedEnv(n.clone()),
            Piece::Csv(s, c) => ResolveError::UndefinedCsv(s.clone(), c.clone()),
            Piece::Var(n) => ResolveError::UndefinedVar(n.clone()),
            other => unreachable!("{other:?} is always defined"),
        }
    }
}

/// An undefined placeholder: an error when the lookup is strict, else left in
/// place as its text and noted.
fn missing(
    piece: &Piece,
    raw: &str,
    ctx: &mut dyn Lookup,
    out: &mut String,
) -> Result<(), ResolveError> {
    if ctx.strict() {
        return Err(piece.undefined());
    }
    if let Some(key) = piece.key() {
        ctx.unresolved(&key);
    }
    out.push_str(raw);
    Ok(())
}

/// Appends the local time as `YYYY-MM-DDTHH:MM:SS` (Python's
/// `datetime.now().isoformat(timespec="seconds")`).
fn push_local_iso(out: &mut String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let local = secs + utc_offset(secs);
    let (y, m, d) = crate::units::civil_from_days(local.div_euclid(86_400));
    let s = local.rem_euclid(86_400);
    write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
    .expect("writing to a String");
}

/// The local time zone's offset from UTC in seconds at `secs`, asked of
/// libc at most once a minute per thread: `localtime_r` takes a process-wide
/// lock, and workers rendering `${now()}` per request would queue on it.
/// No local zone to be had: 0 (UTC).
fn utc_offset(secs: i64) -> i64 {
    thread_local! {
        static CACHE: std::cell::Cell<(i64, i64)> = const { std::cell::Cell::new((i64::MIN, 0)) };
    }
    let minute = secs.div_euclid(60);
    CACHE.with(|c| {
        let (at, offset) = c.get();
        if at == minute {
            return offset;
        }
        let t = libc::time_t::try_from(secs).unwrap_or(0);
        // SAFETY: `tm` is plain data, zero is a valid value; localtime_r only
        // writes into it and returns null on failure.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        let offset = if ok { tm.tm_gmtoff } else { 0 };
        c.set((minute, offset));
        offset
    })
}

impl std::str::FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

/// Escape `s` so that it parses back to exactly `s` with no placeholders.
pub fn escape(s: &str) -> String {
    s.replace("${", "$${")
}

/// Whether `c` may appear in a variable or environment name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Variable names `${var.NAME}` can refer to.
pub fn valid_var_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_name_char)
}

/// Renders now the parts of a template that are the same for every user and
/// request: plan variables (not shadowed by a user's own), the test's
/// variables, environment variables. Placeholders that vary stay.
pub fn fold(
    t: &Template,
    scope: &mut Scope<'_>,
    per_user: &BTreeSet<String>,
) -> Result<Template, ResolveError> {
    if t.is_constant() {
        return Ok(t.clone());
    }
    // An undefined placeholder stays when the scope is lenient, so each
    // request left with its text is counted.
    let foldable = t.pieces().iter().all(|p| match p {
        Piece::Literal(_) => true,
        Piece::Env(name) => scope.strict() || scope.env(name).is_some(),
        Piece::Var(name) => {
            !per_user.contains(name) && (scope.strict() || scope.var(name).is_some())
        }
        _ => false,
    });
    if !foldable {
        return Ok(t.clone());
    }
    let s = t.render_to_string(scope)?;
    Ok(Template::parse(&escape(&s)).expect("escaped text parses"))
}

/// Parse the text between `${` and `}`; `at` is the offset of the `${`.
fn parse_placeholder(body: &str, at: usize) -> Result<Piece, TemplateError> {
    if body.contains("${") {
        return Err(TemplateError::Nested { at });
    }
    let expr = body.trim();
    if expr.is_empty() {
        return Err(TemplateError::Empty { at });
    }
    if let Some(name) = expr.strip_prefix("var.") {
        return check_name(name, "var", at).map(Piece::Var);
    }
    if let Some(name) = expr.strip_prefix("env.") {
        return check_name(name, "env", at).map(Piece::Env);
    }
    if let Some(name) = expr.strip_prefix("session.") {
        return check_name(name, "session", at).map(Piece::Session);
    }
    if let Some(rest) = expr.strip_prefix("db.") {
        // A database source reads like a CSV source named `db.NAME`.
        let rest = check_name(rest, "db", at)?;
        return match rest.split_once('.') {
            Some((source, column)) if !source.is_empty() && !column.is_empty() => {
                Ok(Piece::Csv(format!("db.{source}"), column.to_string()))
            }
            _ => Err(TemplateError::DbColumn { name: rest, at }),
        };
    }
    if let Some(rest) = expr.strip_prefix("csv.") {
        let rest = check_name(rest, "csv", at)?;
        return match rest.split_once('.') {
            Some((source, column)) if !source.is_empty() && !column.is_empty() => {
                Ok(Piece::Csv(source.to_string(), column.to_string()))
            }
            _ => Err(TemplateError::CsvColumn { name: rest, at }),
        };
    }
    let Some((func, args)) = expr.split_once('(') else {
        // LoadDensity's bare `${NAME}` is `${var.NAME}`.
        if expr.chars().all(is_name_char) {
            return Ok(Piece::Var(expr.to_string()));
        }
        return Err(TemplateError::UnknownPlaceholder {
            text: body.to_string(),
            at,
        });
    };
    let func = func.trim();
    let Some(args) = args.strip_suffix(')') else {
        return Err(TemplateError::UnknownPlaceholder {
            text: body.to_string(),
            at,
        });
    };
    let no_args = |func: &'static str, piece: Piece| {
        if args.trim().is_empty() {
            Ok(piece)
        } else {
            Err(TemplateError::BadArgs {
                func,
                detail: format!("takes no arguments, got `{args}`"),
                at,
            })
        }
    };
    match func {
        "uuid" => no_args("uuid", Piece::Uuid),
        "now" => no_args("now", Piece::Now),
        "now_unix" => no_args("now_unix", Piece::NowUnix),
        "randint" => parse_randint(args, at),
        _ => Err(TemplateError::UnknownFunction {
            name: func.to_string(),
            at,
        }),
    }
}

fn parse_randint(args: &str, at: usize) -> Result<Piece, TemplateError> {
    let bad = |detail: String| TemplateError::BadArgs {
        func: "randint",
        detail,
        at,
    };
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let [a, b] = parts.as_slice() else {
        return Err(bad(format!(
            "expected two integers `randint(a, b)`, got `{args}`"
        )));
    };
    let int = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| bad(format!("`{s}` is not a 64-bit integer")))
    };
    let (a, b) = (int(a)?, int(b)?);
    if a > b {
        return Err(bad(format!(
            "lower bound {a} is greater than upper bound {b}"
        )));
    }
    Ok(Piece::RandInt(a, b))
}

fn check_name(name: &str, kind: &'static str, at: usize) -> Result<String, TemplateError> {
    if name.is_empty() {
        return Err(TemplateError::EmptyName { kind, at });
    }
    match name.chars().find(|c| !is_name_char(*c)) {
        Some(bad) => Err(TemplateError::InvalidName {
            name: name.to_string(),
            bad,
            at,
        }),
        None => Ok(name.to_string()),
    }
}

/// Append a random RFC 4122 version-4 UUID (lowercase hex, 8-4-4-4-12).
fn push_uuid_v4(rng: &mut dyn RngCore, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx
    out.reserve(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
}

/// A JSON tree with every string pre-compiled, for values rendered repeatedly
/// (per-request JSON bodies and headers). Subtrees without placeholders are kept
/// as ready JSON and just cloned. Object keys are never templated.
///
/// Typed substitution: a string that is exactly one `${var.NAME}` becomes that
/// variable's JSON value with its type, so `{"count": "${var.n}"}` with `n = 5`
/// renders `{"count": 5}`; every other string renders as a string.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledValue(Node);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Const(Value),
    Text(Template),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl CompiledValue {
    /// Compile every string in `v`; on failure, every syntax error with its path
    /// (as [`check_value`] reports them, relative to the root).
    pub fn compile(v: &Value) -> Result<CompiledValue, Vec<(String, TemplateError)>> {
        let mut errors = Vec::new();
        let node = compile_node(v, &mut String::new(), &mut errors);
        if errors.is_empty() {
            Ok(CompiledValue(node))
        } else {
            Err(errors)
        }
    }

    /// True when the value has no placeholders anywhere.
    pub fn is_constant(&self) -> bool {
        matches!(self.0, Node::Const(_))
    }

    /// Render a fresh JSON value.
    pub fn render(&self, ctx: &mut dyn Lookup) -> Result<Value, ResolveError> {
        render_node(&self.0, ctx)
    }

    /// Every template in it.
    pub fn templates(&self) -> Vec<&Template> {
        fn walk<'n>(n: &'n Node, out: &mut Vec<&'n Template>) {
            match n {
                Node::Const(_) => {}
                Node::Text(t) => out.push(t),
                Node::Array(items) => items.iter().for_each(|i| walk(i, out)),
                Node::Object(fields) => fields.iter().for_each(|(_, i)| walk(i, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

fn compile_node(v: &Value, path: &mut String, errors: &mut Vec<(String, TemplateError)>) -> Node {
    match v {
        Value::String(s) => match Template::parse(s) {
            Ok(t) => match t.as_constant() {
                Some(c) => Node::Const(Value::String(c.to_string())),
                None => Node::Text(t),
            },
            Err(e) => {
                errors.push((path.clone(), e));
                Node::Const(Value::Null)
            }
        },
        Value::Array(items) => {
            let mark = path.len();
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    write!(path, "[{i}]").expect("writing to a String");
                    let node = compile_node(item, path, errors);
                    path.truncate(mark);
                    node
                })
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                Node::Const(Value::Array(nodes.into_iter().map(into_const).collect()))
            } else {
                Node::Array(nodes)
            }
        }
        Value::Object(map) => {
            let mark = path.len();
            let fields: Vec<(String, Node)> = map
                .iter()
                .map(|(k, item)| {
                    push_key(path, k);
                    let node = compile_node(item, path, errors);
                    path.truncate(mark);
                    (k.clone(), node)
                })
                .collect();
            if fields.iter().all(|(_, n)| matches!(n, Node::Const(_))) {
                Node::Const(Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, n)| (k, into_const(n)))
                        .collect(),
                ))
            } else {
                Node::Object(fields)
            }
        }
        other => Node::Const(other.clone()),
    }
}

fn into_const(node: Node) -> Value {
    match node {
        Node::Const(v) => v,
        _ => unreachable!("only called on Const nodes"),
    }
}

/// Append an object key to a JSON path: `.key`, or `["odd key"]` when it has
/// characters beyond `A-Za-z0-9_-` (no dot at the root).
fn push_key(path: &mut String, key: &str) {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if simple {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_string()).to_string());
        path.push(']');
    }
}

fn render_node(node: &Node, ctx: &mut dyn Lookup) -> Result<Value, ResolveError> {
    Ok(match node {
        Node::Const(v) => v.clone(),
        Node::Text(t) => t.render_value(ctx)?,
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|n| render_node(n, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Node::Object(fields) => {
            let mut map = Map::new();
            for (k, n) in fields {
                map.insert(k.clone(), render_node(n, ctx)?);
            }
            Value::Object(map)
        }
    })
}

/// Resolve every string in `v` once (object keys are left alone), with typed
/// substitution: a string that is exactly one `${var.NAME}` becomes the variable's
/// JSON value with its type (`"${var.n}"` → `5`), every other string stays a string.
/// A syntax error is reported as [`ResolveError::Syntax`] with its path.
/// For values rendered repeatedly, compile once with [`CompiledValue`].
pub fn resolve_value(v: &Value, ctx: &mut dyn Lookup) -> Result<Value, ResolveError> {
    match CompiledValue::compile(v) {
        Ok(c) => c.render(ctx),
        Err(mut errors) => {
            let (path, error) = errors.swap_remove(0);
            Err(ResolveError::Syntax { path, error })
        }
    }
}

/// Every placeholder that reads a value (`var`, `session`, `env`, `csv`) in
/// the strings of `v`, with its JSON path under `path` (strings that do not
/// parse are left out: [`check_value`] reports them).
pub fn lookups_in(v: &Value, path: &str) -> Vec<(String, Piece)> {
    fn walk(v: &Value, path: &mut String, out: &mut Vec<(String, Piece)>) {
        match v {
            Value::String(s) if s.contains("${") => {
                if let Ok(t) = Template::parse(s) {
                    out.extend(t.lookups().map(|p| (path.clone(), p.clone())));
                }
            }
            Value::Array(items) => {
                let mark = path.len();
                for (i, item) in items.iter().enumerate() {
                    write!(path, "[{i}]").expect("writing to a String");
                    walk(item, path, out);
                    path.truncate(mark);
                }
            }
            Value::Object(map) => {
                let mark = path.len();
                for (k, item) in map {
                    push_key(path, k);
                    walk(item, path, out);
                    path.truncate(mark);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut path.to_string(), &mut out);
    out
}

/// Syntax-check every string in `v` without resolving anything, returning every
/// error with its JSON path (`path` is the root's, e.g. `args` gives
/// `args.tasks[1].url`; keys outside `A-Za-z0-9_-` are written `["odd key"]`).
/// Each string reports its first error only.
pub fn check_value(v: &Value, path: &str) -> Vec<(String, TemplateError)> {
    let mut errors = Vec::new();
    compile_node(v, &mut path.to_string(), &mut errors);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use serde_json::json;

    /// A lookup with a fake environment.
    struct Ctx {
        vars: Vars,
        env: BTreeMap<String, String>,
        rng: SmallRng,
    }

    impl Ctx {
        fn new(seed: u64) -> Self {
            let mut vars = Vars::new();
            vars.set("name", "alice");
            vars.set("n", 5);
            vars.set("pi", 3.5);
            vars.set("ok", true);
            vars.set("nothing", Value::Null);
            vars.set("obj", json!({"a": [1, "x"], "b": null}));
            let env = [("HOME_DIR".to_string(), "/home/a".to_string())].into();
            Ctx {
                vars,
                env,
                rng: SmallRng::seed_from_u64(seed),
            }
        }
    }

    impl Lookup for Ctx {
        fn var(&self, name: &str) -> Option<&Value> {
            self.vars.get(name)
        }
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn rng(&mut self) -> &mut dyn RngCore {
            &mut self.rng
        }
    }

    fn render(s: &str) -> Result<String, ResolveError> {
        Template::parse(s)
            .unwrap()
            .render_to_string(&mut Ctx::new(1))
    }

    fn parse_err(s: &str) -> TemplateError {
        Template::parse(s).expect_err(s)
    }

    fn is_uuid_v4(s: &str) -> bool {
        let b = s.as_bytes();
        s.len() == 36
            && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
            && s.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
    }

    #[test]
    fn vars_render_by_json_type() {
        assert_eq!(render("hi ${var.name}!").unwrap(), "hi alice!");
        assert_eq!(
            render("${var.n}/${var.pi}/${var.ok}").unwrap(),
            "5/3.5/true"
        );
        assert_eq!(render("${var.nothing}").unwrap(), "null");
        assert_eq!(render("${var.obj}").unwrap(), r#"{"a":[1,"x"],"b":null}"#);
        assert_eq!(render("${ var.name }").unwrap(), "alice");
    }

    #[test]
    fn env_placeholder() {
        assert_eq!(render("${env.HOME_DIR}/x").unwrap(), "/home/a/x");
        let err = render("${env.NOPE_X}").unwrap_err();
        assert_eq!(err, ResolveError::UndefinedEnv("NOPE_X".into()));
        assert_eq!(err.to_string(), "environment variable `NOPE_X` is not set");
    }

    #[test]
    fn undefined_var_is_an_error_naming_it() {
        let err = render("a ${var.token} b").unwrap_err();
        assert_eq!(err, ResolveError::UndefinedVar("token".into()));
        let msg = err.to_string();
        assert!(
            msg.contains("`token`") && msg.contains("LD_register_variable"),
            "{msg}"
        );
    }

    #[test]
    fn scope_uses_process_env_and_layers_user_over_plan() {
        let mut plan = Vars::new();
        plan.extend([("host", "example.com"), ("token", "plan")]);
        let mut alice = plan.clone();
        alice.clear();
        alice.set("token", "alice-tok");
        let bob = Vars::new();
        let mut rng = SmallRng::seed_from_u64(3);
        let t = Template::parse("${var.host} ${var.token}").unwrap();
        let out = t
            .render_to_string(&mut Scope::new(&plan, &mut rng).with_user(&alice))
            .unwrap();
        assert_eq!(out, "example.com alice-tok");
        let out = t
            .render_to_string(&mut Scope::new(&plan, &mut rng).with_user(&bob))
            .unwrap();
        assert_eq!(out, "example.com plan");
        let err = Template::parse("${env.LOADDENSITY_SURELY_UNSET_42}")
            .unwrap()
            .render_to_string(&mut Scope::new(&plan, &mut rng).with_strict(true))
            .unwrap_err();
        assert_eq!(
            err,
            ResolveError::UndefinedEnv("LOADDENSITY_SURELY_UNSET_42".into())
        );
        // PATH is set in any sane test environment.
        if let Ok(path) = std::env::var("PATH") {
            let t = Template::parse("${env.PATH}").unwrap();
            assert_eq!(
                t.render_to_string(&mut Scope::new(&plan, &mut rng))
                    .unwrap(),
                path
            );
        }
    }

    #[test]
    fn uuid_and_now() {
        let u = render("${uuid()}").unwrap();
        assert!(is_uuid_v4(&u), "{u}");
        let two = render("${uuid()} ${ uuid( ) }").unwrap();
        let (a, b) = two.split_once(' ').unwrap();
        assert!(is_uuid_v4(a) && is_uuid_v4(b) && a != b, "{two}");

        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let now: u64 = render("${now_unix()}").unwrap().parse().unwrap();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(before <= now && now <= after);
    }

    #[test]
    fn randint_bounds_and_seeded_replay() {
        let t = Template::parse("${randint(-3, 4)}").unwrap();
        let mut ctx = Ctx::new(7);
        let mut seen = [false; 8];
        for _ in 0..2000 {
            let n: i64 = t.render_to_string(&mut ctx).unwrap().parse().unwrap();
            assert!((-3..=4).contains(&n), "{n}");
            seen[(n + 3) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "every value drawn: {seen:?}");

        let t = Template::parse(
            "${randint(5,5)}|${randint( -9223372036854775808 , 9223372036854775807 )}",
        )
        .unwrap();
        assert!(t.render_to_string(&mut ctx).unwrap().starts_with("5|"));

        let t = Template::parse("${uuid()} ${randint(0, 1000000)} ${uuid()}").unwrap();
        let run = |seed| {
            let mut ctx = Ctx::new(seed);
            (0..20)
                .map(|_| t.render_to_string(&mut ctx).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn escapes_and_stray_characters() {
        assert_eq!(render("$${var.name}").unwrap(), "${var.name}");
        assert_eq!(render("a $${ b").unwrap(), "a ${ b");
        assert_eq!(render("$$${var.name}").unwrap(), "$${var.name}");
        assert_eq!(render("$ $$ }} { $").unwrap(), "$ $$ }} { $");
        assert_eq!(render("€${var.name}é$").unwrap(), "€aliceé$");
        assert_eq!(render("").unwrap(), "");
        let t = Template::parse("x $${y} z").unwrap();
        assert!(t.is_constant());
        assert_eq!(t.as_constant(), Some("x ${y} z"));
        assert_eq!(t.pieces(), [Piece::Literal("x ${y} z".into())]);
        for s in ["plain", "a ${var.x} $${b}", "$${", "$$${", "${", "€$${}$"] {
            assert_eq!(Template::parse(&escape(s)).unwrap().as_constant(), Some(s));
        }
    }

    #[test]
    fn constants_and_var_listing() {
        let t = Template::parse("no placeholders here").unwrap();
        assert!(t.is_constant());
        assert_eq!(t.as_constant(), Some("no placeholders here"));
        assert!(Template::parse("").unwrap().is_constant());
        let t = Template::parse("${var.a}-${env.E}-${var.b.c}-${var.a}").unwrap();
        assert!(!t.is_constant());
        assert_eq!(t.as_constant(), None);
        assert_eq!(t.vars().collect::<Vec<_>>(), ["a", "b.c", "a"]);
        assert_eq!(
            "${now()}".parse::<Template>().unwrap().pieces(),
            [Piece::Now]
        );
    }

    #[test]
    fn render_appends_into_reused_string_and_restores_on_error() {
        let t = Template::parse("/users/${var.name}").unwrap();
        let bad = Template::parse("/x/${var.missing}").unwrap();
        let mut ctx = Ctx::new(1);
        let mut buf = String::with_capacity(64);
        buf.push_str("GET ");
        t.render(&mut ctx, &mut buf).unwrap();
        assert_eq!(buf, "GET /users/alice");
        assert!(bad.render(&mut ctx, &mut buf).is_err());
        assert_eq!(buf, "GET /users/alice", "partial output rolled back");
        let cap = buf.capacity();
        for _ in 0..100 {
            buf.clear();
            t.render(&mut ctx, &mut buf).unwrap();
        }
        assert_eq!(buf, "/users/alice");
        assert_eq!(buf.capacity(), cap);
    }

    #[test]
    fn syntax_errors_and_messages() {
        let e = parse_err("ab${var.x");
        assert_eq!(e, TemplateError::Unterminated { at: 2 });
        assert!(e.to_string().contains("unterminated `${` at byte 2"), "{e}");
        assert_eq!(parse_err("${"), TemplateError::Unterminated { at: 0 });

        assert_eq!(parse_err("${}"), TemplateError::Empty { at: 0 });
        assert_eq!(parse_err("x${  }"), TemplateError::Empty { at: 1 });

        let e = parse_err("${var.}");
        assert_eq!(e, TemplateError::EmptyName { kind: "var", at: 0 });
        assert_eq!(e.to_string(), "empty name in `${var.}` at byte 0");
        assert_eq!(
            parse_err("${env.}"),
            TemplateError::EmptyName { kind: "env", at: 0 }
        );

        let e = parse_err("${var.a b}");
        assert_eq!(
            e,
            TemplateError::InvalidName {
                name: "a b".into(),
                bad: ' ',
                at: 0
            }
        );
        assert!(
            e.to_string()
                .contains("invalid character ' ' in name `a b`"),
            "{e}"
        );
        assert!(matches!(
            parse_err("${env.Ü}"),
            TemplateError::InvalidName { bad: 'Ü', .. }
        ));

        let e = parse_err("${foo()}");
        assert_eq!(
            e,
            TemplateError::UnknownFunction {
                name: "foo".into(),
                at: 0
            }
        );
        let msg = e.to_string();
        for form in [
            "${var.NAME}",
            "${env.NAME}",
            "${uuid()}",
            "${now()}",
            "${randint(a, b)}",
        ] {
            assert!(msg.contains(form), "{msg} lists {form}");
        }
        let e = parse_err("${a b}");
        assert!(matches!(e, TemplateError::UnknownPlaceholder { ref text, .. } if text == "a b"));
        assert!(e.to_string().contains("${uuid()}"), "{e}");
        for form in [
            "${NAME}",
            "${session.NAME}",
            "${csv.SOURCE.COLUMN}",
            "${now_unix()}",
        ] {
            assert!(e.to_string().contains(form), "{e} lists {form}");
        }
        // LoadDensity's bare form is a variable, even one named like a function.
        assert_eq!(
            Template::parse("${name}").unwrap().pieces(),
            [Piece::Var("name".into())]
        );
        assert_eq!(
            Template::parse("${ uuid }").unwrap().pieces(),
            [Piece::Var("uuid".into())]
        );
        let e = parse_err("${csv.users}");
        assert_eq!(
            e.to_string(),
            "`${csv.users}` at byte 0 needs a column: write `${csv.SOURCE.COLUMN}`"
        );
        assert!(matches!(
            parse_err("${csv.users.}"),
            TemplateError::CsvColumn { .. }
        ));
        assert_eq!(
            parse_err("${session.}"),
            TemplateError::EmptyName {
                kind: "session",
                at: 0
            }
        );
        assert!(matches!(
            parse_err("${uuid(}"),
            TemplateError::UnknownPlaceholder { .. }
        ));

        assert_eq!(parse_err("${${var.x}}"), TemplateError::Nested { at: 0 });
    }

    #[test]
    fn bad_function_arguments() {
        let detail = |s: &str| match parse_err(s) {
            TemplateError::BadArgs { detail, .. } => detail,
            other => panic!("{s}: {other:?}"),
        };
        assert!(detail("${uuid(1)}").contains("takes no arguments"));
        assert!(detail("${now(x)}").contains("takes no arguments"));
        assert!(detail("${randint(1)}").contains("expected two integers"));
        assert!(detail("${randint(1,2,3)}").contains("expected two integers"));
        assert!(detail("${randint()}").contains("expected two integers"));
        assert!(detail("${randint(a, 2)}").contains("`a` is not a 64-bit integer"));
        assert!(detail("${randint(1, 1.5)}").contains("`1.5` is not"));
        assert!(detail("${randint(1, 99999999999999999999)}").contains("not a 64-bit"));
        let e = parse_err("${randint(9, 2)}");
        assert_eq!(
            e.to_string(),
            "bad arguments to `randint()` at byte 0: lower bound 9 is greater than upper bound 2"
        );
        assert_eq!(
            Template::parse("${randint( -2 ,+3 )}").unwrap().pieces(),
            [Piece::RandInt(-2, 3)]
        );
    }

    #[test]
    fn resolve_value_is_typed_for_single_var_strings() {
        let v = json!({
            "count": "${var.n}",
            "label": "n=${var.n}",
            "flag": "${ var.ok }",
            "obj": "${var.obj}",
            "list": ["${var.name}", 1, null, {"deep": "${var.pi}"}],
            "${var.name}": "keys are not templated",
            "id": "${uuid()}",
        });
        let out = resolve_value(&v, &mut Ctx::new(1)).unwrap();
        assert_eq!(out["count"], json!(5));
        assert_eq!(out["label"], json!("n=5"));
        assert_eq!(out["flag"], json!(true));
        assert_eq!(out["obj"], json!({"a": [1, "x"], "b": null}));
        assert_eq!(out["list"], json!(["alice", 1, null, {"deep": 3.5}]));
        assert_eq!(out["${var.name}"], json!("keys are not templated"));
        assert!(is_uuid_v4(out["id"].as_str().unwrap()));

        let err = resolve_value(&json!({"a": ["ok", "${nope()}"]}), &mut Ctx::new(1)).unwrap_err();
        assert!(
            matches!(&err, ResolveError::Syntax { path, .. } if path == "a[1]"),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("at `a[1]`: unknown function"),
            "{err}"
        );
        let err = resolve_value(&json!(["${var.zzz}"]), &mut Ctx::new(1)).unwrap_err();
        assert_eq!(err, ResolveError::UndefinedVar("zzz".into()));
    }

    #[test]
    fn compiled_value_renders_repeatedly() {
        let body = json!({"user": "${var.name}", "n": "${var.n}", "req": "${uuid()}", "fixed": [1, {"a": "b"}]});
        let c = CompiledValue::compile(&body).unwrap();
        assert!(!c.is_constant());
        let mut ctx = Ctx::new(9);
        let a = c.render(&mut ctx).unwrap();
        let b = c.render(&mut ctx).unwrap();
        assert_eq!(a["user"], "alice");
        assert_eq!(a["n"], 5);
        assert_eq!(a["fixed"], json!([1, {"a": "b"}]));
        assert_ne!(a["req"], b["req"], "fresh uuid per render");

        let k = json!({"a": [1, "two", {"b": "$${literal}"}]});
        let c = CompiledValue::compile(&k).unwrap();
        assert!(c.is_constant());
        assert_eq!(
            c.render(&mut ctx).unwrap(),
            json!({"a": [1, "two", {"b": "${literal}"}]})
        );
        assert!(CompiledValue::compile(&json!("${var.x")).is_err());
    }

    #[test]
    fn check_value_reports_every_error_with_its_path() {
        let v = json!({
            "name": "ok ${var.x}",
            "tasks": [
                {"url": "/a"},
                {"url": "/b/${var.}", "headers": {"X-Id": "${foo()}", "odd key": "${"}},
            ],
            "n": 3,
        });
        let errs = check_value(&v, "args");
        let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            // serde_json keeps the plan's key order (`preserve_order`).
            [
                "args.tasks[1].url",
                "args.tasks[1].headers.X-Id",
                "args.tasks[1].headers[\"odd key\"]",
            ]
        );
        assert_eq!(errs[0].1, TemplateError::EmptyName { kind: "var", at: 3 });
        assert!(check_value(&json!({"a": ["${var.ok}"]}), "").is_empty());
        assert_eq!(check_value(&json!(["${}"]), "")[0].0, "[0]");
        assert_eq!(check_value(&json!("${}"), "root")[0].0, "root");
        assert_eq!(CompiledValue::compile(&v).unwrap_err(), check_value(&v, ""));
    }

    #[test]
    fn fuzz_never_panics() {
        const ALPHABET: &[&str] = &[
            "$", "$", "{", "}", "${", "$${", "(", ")", ",", " ", ".", "-", "var.", "env.", "uuid",
            "now", "randint", "1", "9", "x", "é", "€", "😀", "\u{0}",
        ];
        let mut rng = SmallRng::seed_from_u64(0xF022);
        let mut ctx = Ctx::new(5);
        let mut out = String::new();
        for _ in 0..20_000 {
            let len = rng.random_range(0..24);
            let s: String = if rng.random_bool(0.3) {
                let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..len)
                    .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
                    .collect()
            };
            if let Ok(t) = Template::parse(&s) {
                out.clear();
                let _ = t.render(&mut ctx, &mut out);
                if !s.contains('$') {
                    assert_eq!(t.as_constant(), Some(s.as_str()));
                }
            }
            assert_eq!(
                Template::parse(&escape(&s)).unwrap().as_constant(),
                Some(s.as_str())
            );
            let _ = check_value(&json!({"k": [s.clone()]}), "p");
        }
    }

    #[test]
    fn parse_is_linear_on_pathological_input() {
        // Many unterminated or stray openers must not cause quadratic rescans.
        let s = "$x".repeat(200_000) + "${";
        assert!(Template::parse(&s).is_err());
        let s = "${var.a}".repeat(50_000) + "$$ {";
        assert_eq!(Template::parse(&s).unwrap().vars().count(), 50_000);
    }

    #[test]
    fn var_names_use_the_placeholder_alphabet() {
        assert!(valid_var_name("user_1.id-x"));
        assert!(!valid_var_name(""));
        assert!(!valid_var_name("a b"));
        assert!(!valid_var_name("tök"));
    }

    #[test]
    fn fold_renders_only_what_is_the_same_for_every_user() {
        let mut plan = Vars::new();
        plan.extend([("host", "h"), ("token", "plan-tok")]);
        let mut rng = SmallRng::seed_from_u64(1);
        let per_user: BTreeSet<String> = ["token".to_string()].into();
        let folded = |s: &str, rng: &mut SmallRng| {
            fold(
                &Template::parse(s).unwrap(),
                &mut Scope::new(&plan, rng),
                &per_user,
            )
        };
        // A plan variable folds; what it renders to is escaped back.
        let t = folded("${var.host}/a", &mut rng).unwrap();
        assert_eq!(t.as_constant(), Some("h/a"));
        // A variable a user may set for itself stays, and so does randomness.
        let t = folded("${var.host}/${var.token}", &mut rng).unwrap();
        assert!(!t.is_constant());
        assert!(!folded("${uuid()}", &mut rng).unwrap().is_constant());
        // Lenient: an undefined plan variable stays, to be counted per request.
        let t = folded("${var.nope}/a", &mut rng).unwrap();
        assert!(!t.is_constant());
        // Strict: it is an error now, not at request time.
        assert_eq!(
            fold(
                &Template::parse("${var.nope}").unwrap(),
                &mut Scope::new(&plan, &mut rng).with_strict(true),
                &per_user,
            )
            .unwrap_err(),
            ResolveError::UndefinedVar("nope".into())
        );
    }

    #[test]
    fn now_is_local_iso_time_to_the_second() {
        let s = render("${now()}").unwrap();
        let b = s.as_bytes();
        assert_eq!(s.len(), 19, "{s}");
        for (i, c) in b.iter().enumerate() {
            match i {
                4 | 7 => assert_eq!(*c, b'-', "{s}"),
                10 => assert_eq!(*c, b'T', "{s}"),
                13 | 16 => assert_eq!(*c, b':', "{s}"),
                _ => assert!(c.is_ascii_digit(), "{s}"),
            }
        }
        assert!(s.starts_with("20"), "{s}");
    }

    /// A lenient scope over `plan` and `user`, noting into `notes`.
    fn lenient(
        s: &str,
        plan: &Vars,
        user: &Vars,
        csv: &dyn CsvRows,
        notes: &mut Vec<String>,
    ) -> String {
        let mut rng = SmallRng::seed_from_u64(1);
        let mut scope = Scope::new(plan, &mut rng)
            .with_user(user)
            .with_csv(csv)
            .noting(notes);
        Template::parse(s)
            .unwrap()
            .render_to_string(&mut scope)
            .unwrap()
    }

    struct OneRow;
    impl CsvRows for OneRow {
        fn cell(&self, source: &str, column: &str) -> Option<&str> {
            (source == "users" && column == "name").then_some("ann")
        }
    }

    #[test]
    fn undefined_placeholders_stay_as_written_and_are_noted() {
        let plan: Vars = [("host", "h")].into_iter().collect();
        let user: Vars = [("token", "t1")].into_iter().collect();
        let mut notes = Vec::new();
        let out = lenient(
            "${host} ${var.token} ${session.token} ${ var.x } ${y} ${session.host} ${env.LOADDENSITY_SURELY_UNSET_42} ${csv.users.name} ${csv.users.age}",
            &plan,
            &user,
            &OneRow,
            &mut notes,
        );
        assert_eq!(
            out,
            "h t1 t1 ${ var.x } ${y} ${session.host} ${env.LOADDENSITY_SURELY_UNSET_42} ann ${csv.users.age}"
        );
        assert_eq!(
            notes,
            [
                "var.x",
                "var.y",
                "session.host",
                "env.LOADDENSITY_SURELY_UNSET_42",
                "csv.users.age"
            ]
        );
        // Typed substitution keeps a lone session variable's type; an undefined one is its text.
        let user: Vars = [("n", 5)].into_iter().collect();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut scope = Scope::new(&plan, &mut rng).with_user(&user);
        let v = resolve_value(
            &json!({"a": "${session.n}", "b": "${session.m}"}),
            &mut scope,
        )
        .unwrap();
        assert_eq!(v, json!({"a": 5, "b": "${session.m}"}));
        // Strict: errors naming what is missing.
        let mut scope = Scope::new(&plan, &mut rng)
            .with_user(&user)
            .with_strict(true);
        let err = Template::parse("${session.host}")
            .unwrap()
            .render_to_string(&mut scope)
            .unwrap_err();
        assert_eq!(err, ResolveError::UndefinedSession("host".into()));
        let err = Template::parse("${csv.s.c}")
            .unwrap()
            .render_to_string(&mut scope)
            .unwrap_err();
        assert_eq!(err, ResolveError::UndefinedCsv("s".into(), "c".into()));
        // A predicate's view is strict whatever the scope.
        let mut scope = Scope::new(&plan, &mut rng);
        let mut strict = Strict(&mut scope);
        assert!(Template::parse("${var.x}")
            .unwrap()
            .render_to_string(&mut strict)
            .is_err());
    }
}
