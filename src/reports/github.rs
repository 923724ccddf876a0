//! GitHub Actions: workflow-command annotations (`::error title=T::message`)
//! for what a run found, and the Markdown job summary appended to
//! `$GITHUB_STEP_SUMMARY`. Both are pure functions of a [`RunSummary`] and
//! the verdict line; `LD_emit_github_annotations` prints the first, the CLI
//! appends the second at the end of every run. See `docs/github-actions.md`.

use super::util::{fixed, sanitized};
use crate::stats::{BudgetState, NameStats, RunSummary, SlaResult, TestReport};
use std::fmt::Write;
use std::path::PathBuf;

/// At most this many top-error warnings, over every name of the run.
pub const MAX_ERROR_LINES: usize = 10;
/// Names shown per test in the job summary; the rest are counted.
pub const MAX_NAMES_PER_TEST: usize = 50;
/// Tests shown in the job summary; the rest are counted.
pub const MAX_TESTS: usize = 20;
/// SLA rules shown in the job summary; the rest are counted.
pub const MAX_RULES: usize = 100;
/// Report paths listed in the job summary; the rest are counted.
pub const MAX_REPORTS: usize = 50;
/// GitHub caps a step's summary at 1 MiB; ours stays well below.
pub const MAX_SUMMARY_BYTES: usize = 512 * 1024;
/// Characters kept of a name or an error message.
const MAX_TEXT: usize = 300;

/// Escapes an annotation's message (GitHub's rules for workflow-command
/// data): `%` → `%25`, `\r` → `%0D`, `\n` → `%0A`.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (`title=...`): as
/// [`escape_data`], and `:` → `%3A`, `,` → `%2C`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// How serious an annotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// Where a rule was judged, for [`annotation_at`].
fn rule_at(r: &SlaResult) -> Option<(&str, Option<usize>)> {
    r.file.as_deref().map(|f| (f, r.line))
}

/// One workflow-command line: `::error title=TITLE::MESSAGE`.
pub fn annotation(level: Level, title: &str, message: &str) -> String {
    annotation_at(level, None, title, message)
}

/// [`annotation`] pointing at a place in a plan file (`file=F,line=L`), so
/// GitHub shows it on that line of the file; names such as `<run-str>`
/// are no file and are left out.
pub fn annotation_at(
    level: Level,
    at: Option<(&str, Option<usize>)>,
    title: &str,
    message: &str,
) -> String {
    let level = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut props = String::new();
    if let Some((file, line)) = at.filter(|(f, _)| !f.is_empty() && !f.starts_with('<')) {
        let _ = write!(props, "file={},", escape_property(file));
        if let Some(l) = line {
            let _ = write!(props, "line={l},");
        }
    }
    format!(
        "::{level} {props}title={}::{}",
        escape_property(title),
        escape_data(&clip(message, 4 * MAX_TEXT))
    )
}

/// `s` cut to `max` characters, with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The annotations for what the run found, errors first: each failed
/// `LD_assert_sla` rule, a tripped failure budget, the verdict when it is
/// not a pass; then warnings: failed `LD_evaluate_sla` rules, a saturated
/// generator, retries that hid failures, and the top errors over every
/// name (at most [`MAX_ERROR_LINES`]). `verdict` is the run's verdict line
/// (`exit 4: ...`).
pub fn annotations(s: &RunSummary, title: &str, verdict: &str) -> Vec<String> {
    let s = sanitized(s);
    let mut out = Vec::new();
    let error = |out: &mut Vec<String>, m: String| out.push(annotation(Level::Error, title, &m));
    let warning =
        |out: &mut Vec<String>, m: String| out.push(annotation(Level::Warning, title, &m));
    for r in s.sla.iter().filter(|r| !r.passed && r.asserted) {
        out.push(annotation_at(
            Level::Error,
            rule_at(r),
            title,
            &format!("SLA gate failed: {} — {}", r.rule, r.detail),
        ));
    }
    if s.budget.state == BudgetState::Tripped {
        error(&mut out, budget_message(&s));
    }
    if s.exit_code != 0 {
        error(&mut out, format!("{verdict} ({})", s.exit_reason));
    }
    for r in s.sla.iter().filter(|r| !r.passed && !r.asserted) {
        out.push(annotation_at(
            Level::Warning,
            rule_at(r),
            title,
            &format!("SLA rule failed (not asserted): {} — {}", r.rule, r.detail),
        ));
    }
    for t in s.tests.iter().filter(|t| t.generator.generator_saturated) {
        warning(
            &mut out,
            format!(
                "test {} ({}): the generator was saturated, its figures are not trustworthy: {}",
                t.index,
                t.action,
                t.generator
                    .saturation_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        );
    }
    if let Some(r) = s.retry.as_ref().filter(|r| r.recovered > 0) {
        let c = &r.retries;
        warning(
            &mut out,
            format!(
                "{} request(s) passed only after retrying ({} retries: {} transient, {} flaky, {} permanent); \
                 the target failed more often than the failure rate shows",
                r.recovered,
                c.transient + c.flaky + c.permanent,
                c.transient,
                c.flaky,
                c.permanent
            ),
        );
    }
    for m in top_errors(&s) {
        warning(&mut out, m);
    }
    out
}

/// The tripped budget in words: where, the window's error rate against the
/// threshold, and what tripped it.
fn budget_message(s: &RunSummary) -> String {
    let b = &s.budget;
    let pct = |x: Option<f64>| x.map_or("?".to_string(), |x| format!("{:.1}%", x * 100.0));
    let mut m = format!(
        "failure budget tripped in test {} after {} s: ",
        b.test.map_or("?".to_string(), |t| t.to_string()),
        fixed(b.tripped_at_s.unwrap_or(0.0), 1)
    );
    match (b.reason, b.slow_call_ms) {
        (Some(crate::stats::TripReason::SlowCalls), Some(ms)) => {
            let _ = write!(
                m,
                "{} of calls slower than {ms} ms > threshold {}",
                pct(b.slow_call_rate),
                pct(b.slow_call_threshold)
            );
        }
        _ => {
            let _ = write!(
                m,
                "error rate {} > threshold {}",
                pct(b.error_rate),
                pct(b.threshold)
            );
        }
    }
    let _ = write!(
        m,
        " over a {} s window ({} samples, min_samples {})",
        b.window_seconds.map_or("?".to_string(), |w| fixed(w, 1)),
        b.samples.unwrap_or(0),
        b.min_samples.unwrap_or(0)
    );
    if let Some(e) = b.top_errors.first() {
        let _ = write!(
            m,
            "; tripped by {} ×{}: {}",
            e.kind,
            e.count,
            clip(&e.message, MAX_TEXT)
        );
    }
    m
}

/// The most frequent errors over every name of the run, most frequent
/// first, at most [`MAX_ERROR_LINES`] lines; the last says how many more
/// there were.
fn top_errors(s: &RunSummary) -> Vec<String> {
    let mut all: Vec<(&str, &crate::stats::ErrorCount)> = s
        .by_name
        .iter()
        .flat_map(|(name, n)| n.top_errors.iter().map(move |e| (name.as_str(), e)))
        .collect();
    all.sort_by(|a, b| {
        b.1.count
            .cmp(&a.1.count)
            .then(a.0.cmp(b.0))
            .then(a.1.message.cmp(&b.1.message))
    });
    let more = all.len().saturating_sub(MAX_ERROR_LINES);
    let mut lines: Vec<String> = all
        .iter()
        .take(MAX_ERROR_LINES)
        .map(|(name, e)| {
            format!(
                "{}: {} ×{}: {}",
                clip(name, MAX_TEXT),
                e.kind,
                e.count,
                clip(&e.message, MAX_TEXT)
            )
        })
        .collect();
    if more > 0 {
        if let Some(last) = lines.last_mut() {
            let _ = write!(
                last,
                " (and {more} more error message(s): see the summary report)"
            );
        }
    }
    lines
}

/// What the job summary shows beside the measurements.
#[derive(Debug, Clone, Default)]
pub struct StepSummary {
    /// The run's verdict line (`exit 3: failure budget tripped ...`).
    pub verdict: String,
    /// The reports the run wrote, in order.
    pub reports: Vec<PathBuf>,
}

/// The Markdown job summary of a run: the verdict with its exit code and
/// meaning, a table per test (one row per name, capped at
/// [`MAX_NAMES_PER_TEST`]), the SLA rules, the failure budget and the
/// reports written. Never longer than [`MAX_SUMMARY_BYTES`].
pub fn step_summary_markdown(s: &RunSummary, extra: &StepSummary) -> String {
    let s = sanitized(s);
    let mut out = String::new();
    let mark = if s.exit_code == 0 { "✅" } else { "❌" };
    let _ = writeln!(
        out,
        "## {mark} loaddensity: exit {} ({})\n",
        s.exit_code, s.exit_reason
    );
    let _ = writeln!(out, "{}\n", md(&extra.verdict));
    let _ = writeln!(out, "- meaning: {}", meaning(s.exit_code, &s.exit_reason));
    if !s.plans.is_empty() {
        let plans: Vec<String> = s.plans.iter().map(|p| format!("`{}`", code(p))).collect();
        let _ = writeln!(out, "- plans: {}", plans.join(", "));
    }
    let _ = writeln!(
        out,
        "- {} test(s), {} requests, {} failed ({}%), {} s, seed {}\n",
        s.tests.len(),
        s.total.requests,
        s.total.failures,
        fixed(s.total.failure_rate * 100.0, 2),
        fixed(s.duration_s, 1),
        s.seed
    );
    for t in s.tests.iter().take(MAX_TESTS) {
        test_table(&mut out, t);
    }
    if s.tests.len() > MAX_TESTS {
        let _ = writeln!(
            out,
            "_and {} more test(s): see the summary report_\n",
            s.tests.len() - MAX_TESTS
        );
    }
    if !s.sla.is_empty() {
        out.push_str("### SLA rules\n\n| rule | result | measured |\n|---|---|---|\n");
        for r in s.sla.iter().take(MAX_RULES) {
            let result = match (r.passed, r.asserted) {
                (true, _) => "✅ pass",
                (false, true) => "❌ fail (gate)",
                (false, false) => "⚠️ fail (not asserted)",
            };
            let _ = writeln!(out, "| {} | {result} | {} |", md(&r.rule), md(&r.detail));
        }
        if s.sla.len() > MAX_RULES {
            let _ = writeln!(out, "\n_and {} more rule(s)_", s.sla.len() - MAX_RULES);
        }
        out.push('\n');
    }
    budget_section(&mut out, &s);
    if !extra.reports.is_empty() {
        out.push_str("### Reports\n\n");
        for p in extra.reports.iter().take(MAX_REPORTS) {
            let _ = writeln!(out, "- `{}`", code(&p.display().to_string()));
        }
        if extra.reports.len() > MAX_REPORTS {
            let _ = writeln!(out, "- _and {} more_", extra.reports.len() - MAX_REPORTS);
        }
        out.push('\n');
    }
    if out.len() > MAX_SUMMARY_BYTES {
        let mut end = MAX_SUMMARY_BYTES;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str(
            "\n\n_(cut: the job summary is kept under 512 KiB; see the summary report)_\n\n",
        );
    }
    out
}

/// One test: a heading and a row per name, then the total.
fn test_table(out: &mut String, t: &TestReport) {
    let _ = writeln!(
        out,
        "### Test {}: {}\n\n{} user(s), {} s, ended by {}\n",
        t.index,
        md(&t.action),
        t.users,
        fixed(t.duration_s, 1),
        t.ended_by
    );
    out.push_str(
        "| name | requests | failures | failure % | rps | p50 ms | p95 ms | p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    // Past the cap, the names with the most failures, then requests, stay.
    let mut names: Vec<(&String, &NameStats)> = t.by_name.iter().collect();
    if names.len() > MAX_NAMES_PER_TEST {
        names.sort_by(|a, b| {
            (b.1.failures, b.1.requests)
                .cmp(&(a.1.failures, a.1.requests))
                .then(a.0.cmp(b.0))
        });
        names.truncate(MAX_NAMES_PER_TEST);
        names.sort_by(|a, b| a.0.cmp(b.0));
    }
    for (name, n) in &names {
        row(out, &md(name), n);
    }
    row(out, "**total**", &t.total);
    if t.by_name.len() > MAX_NAMES_PER_TEST {
        let _ = writeln!(
            out,
            "\n_(and {} more): see the summary report_",
            t.by_name.len() - MAX_NAMES_PER_TEST
        );
    }
    out.push('\n');
}

fn row(out: &mut String, name: &str, n: &NameStats) {
    let l = &n.latency_ms;
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {} | {} |",
        n.requests,
        n.failures,
        fixed(n.failure_rate * 100.0, 2),
        fixed(n.rps, 1),
        fixed(l.p50, 2),
        fixed(l.p95, 2),
        fixed(l.p99, 2)
    );
}

/// The failure budget: none, armed (its settings) or tripped (where, why).
fn budget_section(out: &mut String, s: &RunSummary) {
    let b = &s.budget;
    out.push_str("### Failure budget\n\n");
    match b.state {
        BudgetState::NotInstalled => out.push_str("none in force\n\n"),
        BudgetState::Armed => {
            let _ = writeln!(
                out,
                "armed, not tripped: threshold {}% over {} s, from {} samples\n",
                fixed(b.threshold.unwrap_or(0.0) * 100.0, 1),
                fixed(b.window_seconds.unwrap_or(0.0), 1),
                b.min_samples.unwrap_or(0)
            );
        }
        BudgetState::Tripped => {
            let _ = writeln!(out, "❌ {}\n", md(&budget_message(s)));
        }
    }
}

/// What an exit code means, in words.
fn meaning(code: i32, reason: &str) -> &'static str {
    match (code, reason) {
        (0, _) => "pass",
        (1, "no_completed_requests") => "a test completed no request",
        (1, _) => "an action failed",
        (2, _) => "bad usage or invalid plan: nothing was run",
        (3, _) => "the failure budget tripped",
        (4, _) => "a gate (LD_assert_sla, LD_assert_no_regression) failed",
        (5, _) => "the generator itself was the bottleneck: the figures are not trustworthy",
        (124, _) => "the watchdog stopped the run",
        (130, _) => "interrupted by SIGINT",
        (143, _) => "interrupted by SIGTERM",
        _ => "unknown",
    }
}

/// `s` as Markdown table-cell text: one line, markup characters escaped,
/// HTML shown as text, at most [`MAX_TEXT`] characters.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in clip(s, MAX_TEXT).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` for inside a code span: one line, no backticks.
fn code(s: &str) -> String {
    clip(s, MAX_TEXT)
        .chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect()
}

/// Appends a newline and `text` to the file at `path` (created when
/// missing, never truncated): the job summaries of every step and run add up.
pub fn append(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    // A blank line first: what an earlier step left never runs into ours.
    f.write_all(b"\n")?;
    f.write_all(text.as_bytes())?;
    f.flush()
}

/// The summary for a run refused before anything ran (exit 2).
pub fn invalid_markdown() -> String {
    "## ❌ loaddensity: exit 2 (invalid_plan)\n\n\
     The plans did not validate (or the command line was wrong): nothing was run. \
     The job log lists every problem with its file and position.\n\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, COMMA, QUOTED, SCRIPT};
    use crate::stats::{BudgetReport, ErrorCount, SlaResult};

    #[test]
    fn data_and_properties_are_escaped_by_githubs_rules() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("50% a\r\nb: c, d"),
            "50%25 a%0D%0Ab%3A c%2C d"
        );
        // `%` first: an escape is never escaped twice.
        assert_eq!(escape_data("%0A"), "%250A");
        // A rule's place in its plan file; a plan given inline has none.
        assert_eq!(
            annotation_at(Level::Error, Some(("ci/a,b.json", Some(7))), "T", "m"),
            "::error file=ci/a%2Cb.json,line=7,title=T::m"
        );
        assert_eq!(
            annotation_at(Level::Error, Some(("<run-str>", Some(1))), "T", "m"),
            "::error title=T::m"
        );
        assert_eq!(
            annotation(Level::Error, "Load: test, 1", "p95 100%\nover"),
            "::error title=Load%3A test%2C 1::p95 100%25%0Aover"
        );
        assert_eq!(
            annotation(Level::Warning, "T", "a:b,c"),
            "::warning title=T::a:b,c"
        );
    }

    #[test]
    fn a_pass_gives_no_error() {
        let mut s = fixture();
        s.exit_code = 0;
        s.exit_reason = "pass".into();
        for n in s.by_name.values_mut() {
            n.top_errors.clear();
        }
        assert!(annotations(&s, "LoadDensity", "exit 0: pass").is_empty());
    }

    #[test]
    fn gates_budget_and_verdict_are_errors() {
        let mut s = fixture();
        s.exit_code = 3;
        s.exit_reason = "budget_tripped".into();
        s.sla = vec![
            SlaResult {
                rule: "latency_p95 lte 1 (all)".into(),
                passed: false,
                actual: Some(24.0),
                detail: "24.000 ms <= 1 ms: does not hold".into(),
                asserted: true,
                file: None,
                line: None,
            },
            SlaResult {
                rule: "rps gte 1 (all)".into(),
                passed: true,
                actual: Some(77.0),
                detail: "holds".into(),
                asserted: true,
                file: None,
                line: None,
            },
        ];
        s.budget = BudgetReport {
            installed: true,
            threshold: Some(0.05),
            window_seconds: Some(2.0),
            min_samples: Some(10),
            state: BudgetState::Tripped,
            reason: Some(crate::stats::TripReason::ErrorRate),
            test: Some(1),
            tripped_at_s: Some(0.5),
            error_rate: Some(1.0),
            samples: Some(12),
            top_errors: vec![ErrorCount {
                kind: "status".into(),
                message: "HTTP 500".into(),
                count: 12,
            }],
            ..BudgetReport::default()
        };
        let lines = annotations(&s, "LD", "exit 3: failure budget tripped");
        let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(errors.len(), 3, "{lines:#?}");
        assert!(
            errors[0].contains("latency_p95 lte 1 (all)"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("24.000 ms <= 1 ms"), "{}", errors[0]);
        assert!(
            errors[1].contains("failure budget tripped in test 1")
                && errors[1].contains("error rate 100.0%25 > threshold 5.0%25")
                && errors[1].contains("2.0 s window")
                && errors[1].contains("status ×12: HTTP 500"),
            "{}",
            errors[1]
        );
        assert!(errors[2].ends_with("exit 3: failure budget tripped (budget_tripped)"));
        // Every line is one line.
        assert!(lines.iter().all(|l| !l.contains('\n')));
    }

    #[test]
    fn top_errors_are_capped_over_every_name() {
        let mut s = fixture();
        for i in 0..30u64 {
            s.by_name
                .entry(format!("name{i:02}"))
                .or_default()
                .top_errors = (0..5)
                .map(|j| ErrorCount {
                    kind: "status".into(),
                    message: format!("HTTP {} from {i}", 400 + j),
                    count: 100 + i * 5 + j,
                })
                .collect();
        }
        let warnings: Vec<String> = annotations(&s, "LD", "exit 1: x")
            .into_iter()
            .filter(|l| l.starts_with("::warning"))
            .collect();
        assert_eq!(warnings.len(), MAX_ERROR_LINES, "{warnings:#?}");
        // The most frequent first, and the last counts the rest.
        assert!(
            warnings[0].contains("name29: status ×249"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[9].contains("more error message(s)"),
            "{}",
            warnings[9]
        );
    }

    #[test]
    fn the_summary_has_the_verdict_a_row_per_name_and_escapes_them() {
        let s = fixture();
        let md_text = step_summary_markdown(
            &s,
            &StepSummary {
                verdict: "exit 4: 1 SLA rule failed".into(),
                reports: vec![PathBuf::from("reports/summary.json")],
            },
        );
        assert!(md_text.starts_with("## ❌ loaddensity: exit 1 (gate_failed)"));
        assert!(md_text.contains("exit 4: 1 SLA rule failed"));
        assert!(
            md_text.contains("| login, then browse | 150 | 5 | 3.33 |"),
            "{md_text}"
        );
        assert!(!md_text.contains(SCRIPT), "HTML is shown as text");
        assert!(md_text.contains("&lt;script&gt;"));
        assert!(!md_text.contains(QUOTED) && md_text.contains("GET /search?q=\"rust\"&amp;page=1"));
        assert!(md_text.contains(COMMA));
        assert!(md_text.contains("- `reports/summary.json`"));
        assert!(md_text.contains("### Failure budget\n\nnone in force"));
    }

    #[test]
    fn the_summary_caps_names_and_size() {
        let mut s = fixture();
        let t = &mut s.tests[0];
        for i in 0..500 {
            t.by_name.insert(
                format!("{i:04}{}", "x".repeat(1000)),
                NameStats {
                    requests: i,
                    ..NameStats::default()
                },
            );
        }
        let text = step_summary_markdown(&s, &StepSummary::default());
        // The two failing names of the fixture stay, then those with the
        // most requests.
        let rows = text.lines().filter(|l| l.starts_with("| 0")).count();
        assert_eq!(rows, MAX_NAMES_PER_TEST - 2);
        // The names with the most requests stay.
        assert!(text.contains("| 0499x"));
        assert!(
            text.contains("(and 454 more): see the summary report"),
            "{text}"
        );
        assert!(text.len() < MAX_SUMMARY_BYTES);
    }
}
