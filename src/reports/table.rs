//! The compact end-of-test console summary: the table, then the top errors.
//! Both fit the width they are given (the terminal's, else 80 columns).

use super::util::fin;
use crate::stats::NameStats;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The name column is never narrower than this, however narrow the width.
const MIN_NAME_WIDTH: usize = 12;

/// The numeric columns (reqs, fails, fail%, rps, p50, p95, p99, max) and the
/// space before each: what the table needs beside the name column.
const NUMBERS_WIDTH: usize = 8 + 7 + 6 + 7 + 6 + 4 * 6;

/// Error rows shown per name, and in all, by [`render_errors`].
pub const ERRORS_PER_NAME: usize = 5;
pub const ERRORS_IN_ALL: usize = 20;

/// Label of the total row.
const TOTAL: &str = "Total";

/// Columns a character takes in a terminal: 0 for combining marks, 2 for
/// East Asian wide/fullwidth characters and emoji, else 1. An approximation of
/// Unicode's East Asian Width (no new crate for it), good for the common cases.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x231A..=0x231B
        | 0x2329..=0x232A
        | 0x23E9..=0x23EC
        | 0x2614..=0x2615
        | 0x2648..=0x2653
        | 0x26A1
        | 0x26AA..=0x26AB
        | 0x26BD..=0x26BE
        | 0x26C4..=0x26C5
        | 0x26D4
        | 0x26EA
        | 0x26F2..=0x26F5
        | 0x26FA
        | 0x26FD
        | 0x2705
        | 0x270A..=0x270B
        | 0x2728
        | 0x274C
        | 0x2753..=0x2755
        | 0x2757
        | 0x2795..=0x2797
        | 0x27B0
        | 0x27BF
        | 0x2B1B..=0x2B1C
        | 0x2B50
        | 0x2B55
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Terminal columns `s` takes.
fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `name` fitted to exactly `width` terminal columns: cut and ended with `…`
/// when longer, padded with spaces when shorter. Control characters (a
/// newline in a task name) are shown as spaces so a row stays one line.
fn fit(name: &str, width: usize) -> String {
    let clean = || name.chars().map(|c| if c.is_control() { ' ' } else { c });
    let total: usize = clean().map(char_width).sum();
    let mut s = String::with_capacity(name.len() + width);
    let mut used = 0;
    if total <= width {
        s.extend(clean());
        used = total;
    } else {
        for c in clean() {
            let w = char_width(c);
            if used + w > width - 1 {
                break;
            }
            s.push(c);
            used += w;
        }
        s.push('…');
        used += 1;
    }
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    s
}

/// `text` cut to at most `width` columns (ending with `…` when cut), on one
/// line, without padding.
fn cut(text: &str, width: usize) -> String {
    fit(text, width).trim_end().to_string()
}

/// A latency or rate in a fixed-width column: one decimal below 1000,
/// whole numbers above.
fn short(x: f64) -> String {
    let x = fin(x);
    if x.abs() < 1000.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// A share as a percentage with two decimals.
fn percent(x: f64) -> String {
    format!("{:.2}%", fin(x) * 100.0)
}

fn row(out: &mut String, name: &str, name_width: usize, n: &NameStats) {
    let l = &n.latency_ms;
    let _ = writeln!(
        out,
        "{} {:>7} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}",
        fit(name, name_width),
        n.requests,
        n.failures,
        percent(n.failure_rate),
        short(n.rps),
        short(l.p50),
        short(l.p95),
        short(l.p99),
        short(l.max),
    );
}

/// Renders the end-of-test table in at most `width` terminal columns: a
/// header, one row per name (sorted), a rule, and the total row last.
///
/// ```text
/// name                      reqs  fails   fail%    rps p50 ms p95 ms p99 ms max ms
/// GET /search?q="rust"&p…    400     12   3.00%   40.0   12.5   30.0   50.0  114.1
/// ---------------------------------------------------------------------------------
/// Total                     1000     17   1.70%  100.0   10.0   24.0   40.0   91.3
/// ```
///
/// The name column is as wide as the longest name, but no wider than the
/// width leaves beside the numbers (22 columns at 80) and never narrower than
/// 12; longer names are cut and end with `…`. Double-width (CJK, emoji)
/// characters count as two columns (approximately: see `char_width`).
/// Numbers wider than their column widen the row instead of being cut.
pub fn render_table(
    by_name: &BTreeMap<String, NameStats>,
    total: &NameStats,
    width: usize,
) -> String {
    let longest = by_name
        .keys()
        .map(|n| text_width(n))
        .chain([TOTAL.len()])
        .max()
        .unwrap_or(0);
    let name_width = longest
        .min(width.saturating_sub(NUMBERS_WIDTH))
        .max(MIN_NAME_WIDTH.min(longest));
    let mut out = String::with_capacity((width + 8) * (by_name.len() + 3));
    let _ = writeln!(
        out,
        "{} {:>7} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6}",
        fit("name", name_width),
        "reqs",
        "fails",
        "fail%",
        "rps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
    );
    for (name, n) in by_name {
        row(&mut out, name, name_width, n);
    }
    out.push_str(&"-".repeat(name_width + NUMBERS_WIDTH));
    out.push('\n');
    row(&mut out, TOTAL, name_width, total);
    out
}

/// Renders the most frequent errors of each name that failed, after the
/// table, in at most `width` columns: the names with the most failures
/// first, for each at most [`ERRORS_PER_NAME`] messages (and
/// [`ERRORS_IN_ALL`] in all) with their count, their share of the name's
/// requests, their kind and the message (cut with `…` to fit). When the
/// messages shown do not cover all of a name's failures, a last row counts
/// the rest. Empty when nothing failed.
///
/// ```text
/// Top errors:
///      count    share  kind        message
/// GET /search?q="rust"&page=1
///         10    2.50%  status      HTTP 503
///          2    0.50%  timeout     no response within 5s
/// ```
pub fn render_errors(by_name: &BTreeMap<String, NameStats>, width: usize) -> String {
    let mut failing: Vec<(&String, &NameStats)> =
        by_name.iter().filter(|(_, n)| n.failures > 0).collect();
    if failing.is_empty() {
        return String::new();
    }
    failing.sort_by(|a, b| b.1.failures.cmp(&a.1.failures).then(a.0.cmp(b.0)));
    // count, share, kind and the spaces after them, before the message.
    const LEAD: usize = 10 + 2 + 7 + 2 + 10 + 2;
    let message_width = width.saturating_sub(LEAD).max(16);
    let mut out = String::from("Top errors:\n");
    let _ = writeln!(
        out,
        "{:>10}  {:>7}  {:<10}  message",
        "count", "share", "kind"
    );
    let line = |out: &mut String, count: u64, n: &NameStats, kind: &str, message: &str| {
        let share = if n.requests == 0 {
            0.0
        } else {
            count as f64 / n.requests as f64
        };
        let _ = writeln!(
            out,
            "{count:>10}  {:>7}  {}  {}",
            percent(share),
            fit(kind, 10),
            cut(message, message_width)
        );
    };
    let mut shown = 0;
    let mut names_left = 0;
    for (name, n) in &failing {
        if shown >= ERRORS_IN_ALL {
            names_left += 1;
            continue;
        }
        let _ = writeln!(out, "{}", cut(name, width));
        let mut covered = 0;
        for e in n.top_errors.iter().take(ERRORS_PER_NAME) {
            if shown >= ERRORS_IN_ALL {
                break;
            }
            line(&mut out, e.count, n, &e.kind, &e.message);
            covered += e.count;
            shown += 1;
        }
        let rest = n.failures.saturating_sub(covered);
        if rest > 0 {
            line(&mut out, rest, n, "…", "(other messages)");
        }
    }
    if names_left > 0 {
        let _ = writeln!(
            out,
            "{}",
            cut(
                &format!(
                    "… {names_left} more name(s) with failures: see top_errors in the summary"
                ),
                width
            )
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, COMMA, QUOTED, SCRIPT, UNICODE};
    use crate::stats::ErrorCount;

    fn widths(out: &str) -> Vec<usize> {
        out.lines().map(text_width).collect()
    }

    #[test]
    fn table_layout() {
        let s = fixture();
        let t = &s.tests[0];
        let out = render_table(&t.by_name, &t.total, 80);
        print!("{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + 4 + 1 + 1);
        assert!(lines[0].starts_with("name "));
        assert!(lines[0].ends_with("max ms"));
        assert!(lines[6].starts_with("Total "));
        assert!(lines[6].contains(" 1000 ") && lines[6].contains("1.70%"));
        // Every line has the same width in terminal columns: 80.
        assert!(widths(&out).iter().all(|w| *w == 80), "{:?}", widths(&out));
        assert!(out.contains(COMMA) && out.contains("<script>alert('x')</s…"));
        // Long names are cut with an ellipsis, by columns: ☕ and each of
        // 日本語 take two.
        assert!(!out.contains(QUOTED) && !out.contains(UNICODE) && !out.contains(SCRIPT));
        assert!(out.contains(&format!("{} ", fit(UNICODE, 22))), "{out}");
        assert!(out.contains("café ☕ 日本語 — a ve… "), "{out}");
    }

    #[test]
    fn a_wider_terminal_shows_longer_names_and_short_names_make_a_narrow_table() {
        let s = fixture();
        let t = &s.tests[0];
        let out = render_table(&t.by_name, &t.total, 200);
        assert!(out.contains(QUOTED) && out.contains(SCRIPT) && out.contains(UNICODE));
        let w = widths(&out);
        assert!(w.iter().all(|x| *x == w[0] && *x < 200), "{w:?}");
        let out = render_table(&t.by_name, &t.total, 100);
        assert!(widths(&out).iter().all(|x| *x == 100), "{out}");
        let mut one = BTreeMap::new();
        one.insert("ok".to_string(), t.total.clone());
        let out = render_table(&one, &t.total, 80);
        assert!(
            widths(&out).iter().all(|x| *x == 5 + NUMBERS_WIDTH),
            "{out}"
        );
        // Narrower than 80: the name column keeps 12 columns, rows widen.
        let out = render_table(&t.by_name, &t.total, 40);
        assert!(
            widths(&out).iter().all(|x| *x == 12 + NUMBERS_WIDTH),
            "{out}"
        );
    }

    #[test]
    fn fit_cuts_and_pads_by_columns() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("abcd", 3), "ab…");
        assert_eq!(fit("日本語日本", 6), "日本… ");
        assert_eq!(fit("日本語", 6), "日本語");
        assert_eq!(fit("a\nb", 5), "a b  ");
        assert_eq!(fit("e\u{301}", 2), "e\u{301} ");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("ab", 4), "ab");
    }

    #[test]
    fn empty_and_nan() {
        let out = render_table(&BTreeMap::new(), &NameStats::default(), 80);
        assert_eq!(out.lines().count(), 3);
        let p = poisoned();
        let out = render_table(&p.by_name, &p.total, 80);
        assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
        assert!(!render_errors(&p.by_name, 80).contains("NaN"));
    }

    #[test]
    fn errors_say_why_per_name_most_failures_first() {
        let s = fixture();
        let t = &s.tests[0];
        let out = render_errors(&t.by_name, 80);
        print!("{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Top errors:");
        assert!(lines[1].trim_start().starts_with("count") && lines[1].ends_with("message"));
        // Every name that failed, with its messages, nothing else.
        let failing = t.by_name.values().filter(|n| n.failures > 0).count();
        let rows: usize = t
            .by_name
            .values()
            .map(|n| n.top_errors.len().min(ERRORS_PER_NAME))
            .sum();
        assert!(lines.len() >= 2 + failing + rows, "{out}");
        assert!(out.contains("connection refused (os error 111)"), "{out}");
        assert!(widths(&out).iter().all(|w| *w <= 80), "{:?}", widths(&out));
        // Control characters in a message never break a row.
        assert!(!out.contains('\u{1}'));
        // Nothing failed: nothing at all.
        let mut ok = t.by_name.clone();
        ok.values_mut().for_each(|n| n.failures = 0);
        assert_eq!(render_errors(&ok, 80), "");
    }

    fn failing(requests: u64, errors: &[(&str, &str, u64)]) -> NameStats {
        NameStats {
            requests,
            failures: errors.iter().map(|e| e.2).sum(),
            top_errors: errors
                .iter()
                .map(|(k, m, c)| ErrorCount {
                    kind: k.to_string(),
                    message: m.to_string(),
                    count: *c,
                })
                .collect(),
            ..NameStats::default()
        }
    }

    #[test]
    fn error_rows_count_share_kind_and_a_cut_message() {
        let mut by = BTreeMap::new();
        let long = format!("HTTP 503 Service Unavailable: {}", "x".repeat(200));
        by.insert(
            "a few".to_string(),
            failing(200, &[("timeout", "no response within 5s", 2)]),
        );
        by.insert(
            "many".to_string(),
            failing(80, &[("status", &long, 40), ("connection", "refused", 1)]),
        );
        let out = render_errors(&by, 80);
        print!("{out}");
        let lines: Vec<&str> = out.lines().collect();
        // Most failures first, whatever the names' order.
        assert_eq!(lines[2], "many");
        assert!(lines[3].starts_with("        40   50.00%  status      HTTP 503 Service"));
        assert!(
            lines[3].ends_with('…') && text_width(lines[3]) == 80,
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "         1    1.25%  connection  refused");
        assert_eq!(lines[5], "a few");
        assert_eq!(
            lines[6],
            "         2    1.00%  timeout     no response within 5s"
        );
        assert_eq!(lines.len(), 7);
        // A wider terminal shows more of the message.
        let wide = render_errors(&by, 300);
        assert!(wide.contains(&long), "{wide}");
    }

    #[test]
    fn errors_are_bounded_per_name_and_in_all() {
        let mut by = BTreeMap::new();
        let messages: Vec<(String, u64)> = (0..10).map(|i| (format!("m{i}"), 10 - i)).collect();
        let errs: Vec<(&str, &str, u64)> = messages
            .iter()
            .map(|(m, c)| ("status", m.as_str(), *c))
            .collect();
        for i in 0..8 {
            let mut n = failing(1000, &errs);
            // Failures beyond the messages kept are counted in a last row.
            n.failures += 7;
            by.insert(format!("name {i}"), n);
        }
        let out = render_errors(&by, 80);
        print!("{out}");
        let rows = out.lines().filter(|l| l.contains("  status  ")).count();
        assert_eq!(rows, ERRORS_IN_ALL);
        assert!(!out.contains(" m5"), "at most 5 per name: {out}");
        // 4 names shown, 5 messages each, then what the rest were.
        assert_eq!(out.matches("(other messages)").count(), 4);
        // 10+9+8+7+6 = 40 shown of 55 + 7.
        assert!(
            out.contains("        22    2.20%  …           (other messages)"),
            "{out}"
        );
        assert!(out.ends_with("… 4 more name(s) with failures: see top_errors in the summary\n"));
    }
}
