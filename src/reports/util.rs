//! Helpers shared by the report formats: number sanitising, markup escaping,
//! timestamps.

use crate::stats::{ConditionerStats, LatencyMs, NameStats, RunSummary, TestReport, TimePoint};

/// `x` if it is finite, else 0. Also turns `-0.0` into `0.0`.
/// No report ever shows `NaN`, `inf` or JSON `null` for a number.
#[inline]
pub(crate) fn fin(x: f64) -> f64 {
    if x.is_finite() && x != 0.0 {
        x
    } else {
        0.0
    }
}

/// `x` (sanitised by [`fin`]) with exactly `decimals` decimals.
pub(crate) fn fixed(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, fin(x));
    // Rounding a tiny negative number may print `-0.000`.
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A copy of `s` with every non-finite float replaced by 0.
///
/// When a float field is added to the model, add it here too
/// (the `no_nan_anywhere` tests of each format catch a forgotten one only if
/// the fixture sets it).
pub(crate) fn sanitized(s: &RunSummary) -> RunSummary {
    let mut s = s.clone();
    s.started_at = fin(s.started_at);
    s.duration_s = fin(s.duration_s);
    sanitize_stats(&mut s.total);
    s.by_name.values_mut().for_each(sanitize_stats);
    s.tests.iter_mut().for_each(sanitize_test);
    if let Some(r) = &mut s.retry {
        sanitize_latency(&mut r.attempt_latency_ms);
    }
    if let Some(c) = &mut s.conditioner {
        sanitize_conditioner(c);
    }
    for x in [
        &mut s.budget.threshold,
        &mut s.budget.window_seconds,
        &mut s.budget.slow_call_ms,
        &mut s.budget.slow_call_threshold,
        &mut s.budget.tripped_at_s,
        &mut s.budget.error_rate,
        &mut s.budget.slow_call_rate,
    ]
    .into_iter()
    .flatten()
    {
        *x = fin(*x);
    }
    for x in [
        &mut s.supervisor.watchdog_timeout_s,
        &mut s.supervisor.watchdog_fired_at_s,
    ]
    .into_iter()
    .flatten()
    {
        *x = fin(*x);
    }
    for r in &mut s.sla {
        if let Some(v) = &mut r.actual {
            *v = fin(*v);
        }
    }
    s
}

fn sanitize_test(t: &mut TestReport) {
    t.started_at = fin(t.started_at);
    t.duration_s = fin(t.duration_s);
    sanitize_stats(&mut t.total);
    t.by_name.values_mut().for_each(sanitize_stats);
    t.timeline.iter_mut().for_each(sanitize_point);
}

fn sanitize_point(p: &mut TimePoint) {
    p.t_s = fin(p.t_s);
    p.rps = fin(p.rps);
    p.p50_ms = fin(p.p50_ms);
    p.p95_ms = fin(p.p95_ms);
}

fn sanitize_stats(n: &mut NameStats) {
    n.failure_rate = fin(n.failure_rate);
    n.rps = fin(n.rps);
    sanitize_latency(&mut n.latency_ms);
    if let Some(r) = &mut n.retry {
        sanitize_latency(&mut r.attempt_latency_ms);
    }
    if let Some(c) = &mut n.conditioner {
        sanitize_conditioner(c);
    }
}

fn sanitize_conditioner(c: &mut ConditionerStats) {
    c.injected_delay_ms.mean = fin(c.injected_delay_ms.mean);
    c.injected_delay_ms.p95 = fin(c.injected_delay_ms.p95);
    if let Some(s) = &mut c.settings {
        s.latency_ms = fin(s.latency_ms);
        s.jitter_ms = fin(s.jitter_ms);
        s.loss_rate = fin(s.loss_rate);
        if let Some(b) = &mut s.bandwidth_kbps {
            *b = fin(*b);
        }
    }
}

fn sanitize_latency(l: &mut LatencyMs) {
    for x in [
        &mut l.min,
        &mut l.mean,
        &mut l.p50,
        &mut l.p90,
        &mut l.p95,
        &mut l.p99,
        &mut l.p999,
        &mut l.max,
    ] {
        *x = fin(*x);
    }
}

/// True for the characters XML 1.0 allows in a document.
#[inline]
fn xml_legal(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `s` for XML or HTML text (`attr == false`) or a double- or
/// single-quoted attribute value (`attr == true`): `& < > " '` become
/// entities, characters illegal in XML 1.0 (control characters, U+FFFE,
/// U+FFFF) are dropped, and in attributes tab/CR/LF become character
/// references so attribute-value normalisation keeps them.
pub(crate) fn escape_markup(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' if attr => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            c if xml_legal(c) => out.push(c),
            _ => {}
        }
    }
}

/// [`escape_markup`] into a new string.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_markup(&mut out, s, false);
    out
}

/// [`escape_markup`] for an attribute value, into a new string.
pub(crate) fn esc_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_markup(&mut out, s, true);
    out
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS` (UTC, no zone suffix, whole seconds).
pub(crate) fn iso8601_utc(unix_s: f64) -> String {
    let secs = fin(unix_s).floor() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = crate::units::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fin_and_fixed() {
        assert_eq!(fin(f64::NAN), 0.0);
        assert_eq!(fin(f64::INFINITY), 0.0);
        assert_eq!(fin(f64::NEG_INFINITY), 0.0);
        assert!(fin(-0.0).is_sign_positive());
        assert_eq!(fin(1.5), 1.5);
        assert_eq!(fixed(f64::NAN, 3), "0.000");
        assert_eq!(fixed(-0.0001, 3), "0.000");
        assert_eq!(fixed(-1.5, 1), "-1.5");
        assert_eq!(fixed(2.0 / 3.0, 3), "0.667");
    }

    #[test]
    fn escaping() {
        assert_eq!(esc(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(
            esc("bell\u{7}nul\u{0}\u{FFFE}ok\u{1F600}"),
            "bellnulok\u{1F600}"
        );
        assert_eq!(esc("a\nb\tc"), "a\nb\tc");
        assert_eq!(esc_attr("a\nb\tc\rd"), "a&#10;b&#9;c&#13;d");
    }

    #[test]
    fn timestamps() {
        assert_eq!(iso8601_utc(0.0), "1970-01-01T00:00:00");
        assert_eq!(iso8601_utc(1_700_000_000.9), "2023-11-14T22:13:20");
        assert_eq!(iso8601_utc(951_782_400.0), "2000-02-29T00:00:00");
        assert_eq!(iso8601_utc(-86_400.0), "1969-12-31T00:00:00");
        assert_eq!(iso8601_utc(f64::NAN), "1970-01-01T00:00:00");
    }
}
