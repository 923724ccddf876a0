//! The compact end-of-test console summary.

use super::util::fin;
use crate::stats::NameStats;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Width of the name column, in characters.
pub const NAME_WIDTH: usize = 36;

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

fn row(out: &mut String, name: &str, n: &NameStats) {
    let l = &n.latency_ms;
    let _ = writeln!(
        out,
        "{} {:>9} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        fit(name, NAME_WIDTH),
        n.requests,
        n.failures,
        format!("{:.2}%", fin(n.failure_rate) * 100.0),
        short(n.rps),
        short(l.p50),
        short(l.p95),
        short(l.p99),
        short(l.max),
    );
}

/// Renders the end-of-test table: a header, one row per name (sorted), a
/// rule, and the total row last.
///
/// ```text
/// name                                      reqs   fails   fail%      rps   p50 ms   p95 ms   p99 ms   max ms
/// GET /                                      400      12   3.00%     40.0     12.5     30.0     50.0    114.1
/// ------------------------------------------------------------------------------------------------------------
/// Total                                     1000      17   1.70%    100.0     10.0     24.0     40.0     91.3
/// ```
///
/// Names wider than [`NAME_WIDTH`] terminal columns are cut and end with `…`.
/// Double-width (CJK, emoji) characters count as two columns (approximately:
/// see `char_width`).
/// Numbers wider than their column widen the row instead of being cut.
pub fn render_table(by_name: &BTreeMap<String, NameStats>, total: &NameStats) -> String {
    let mut out = String::with_capacity(120 * (by_name.len() + 3));
    let _ = writeln!(
        out,
        "{:<w$} {:>9} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "name",
        "reqs",
        "fails",
        "fail%",
        "rps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        w = NAME_WIDTH
    );
    for (name, n) in by_name {
        row(&mut out, name, n);
    }
    // Name, 8 separating spaces, then the reqs, fails, fail% and 5 numeric columns.
    let width = NAME_WIDTH + 8 + 9 + 7 + 7 + 5 * 8;
    out.push_str(&"-".repeat(width));
    out.push('\n');
    row(&mut out, TOTAL, total);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, COMMA, QUOTED, SCRIPT, UNICODE};

    #[test]
    fn table_layout() {
        let s = fixture();
        let t = &s.tests[0];
        let out = render_table(&t.by_name, &t.total);
        print!("{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + 4 + 1 + 1);
        assert!(lines[0].starts_with("name "));
        assert!(lines[0].ends_with("max ms"));
        assert!(lines[6].starts_with("Total "));
        assert!(lines[6].contains(" 1000 ") && lines[6].contains("1.70%"));
        // Every line has the same width in terminal columns.
        let widths: Vec<usize> = lines
            .iter()
            .map(|l| l.chars().map(char_width).sum())
            .collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}");
        assert!(out.contains(QUOTED) && out.contains(SCRIPT) && out.contains(COMMA));
        // The long unicode name is cut with an ellipsis.
        assert!(!out.contains(UNICODE));
        // "café ☕ 日本語 — …": ☕ and each of 日本語 take two columns.
        let cut: String = UNICODE.chars().take(NAME_WIDTH - 1 - 4).collect();
        assert!(out.contains(&format!("{cut}… ")), "{out}");
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
    }

    #[test]
    fn empty_and_nan() {
        let out = render_table(&BTreeMap::new(), &NameStats::default());
        assert_eq!(out.lines().count(), 3);
        let p = poisoned();
        let out = render_table(&p.by_name, &p.total);
        assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
    }
}
