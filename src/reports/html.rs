//! The HTML report (`LD_generate_html_report`): one self-contained file with
//! inline CSS and charts drawn as inline SVG. No scripts, fonts, images or
//! style sheets are loaded from anywhere; a Content-Security-Policy meta tag
//! forbids it.

use super::util::{esc, esc_attr, fin, fixed, iso8601_utc, sanitized};
use crate::stats::{
    BudgetReport, BudgetSource, BudgetState, ErrorCount, NameStats, RunSummary, TestReport,
    TimePoint,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many errors the top-errors table of a test lists at most.
const MAX_ERRORS: usize = 10;

const CSS: &str = "\
:root{--fg:#1f2933;--muted:#616e7c;--line:#d9e2ec;--bg:#fff;--alt:#f5f7fa;--ok:#1f7a3a;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:16px 24px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}small,.muted{color:var(--muted);font-weight:normal}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
svg.chart{width:100%;height:auto;border:1px solid var(--line);border-radius:4px;background:#fff}
svg.chart text{font:11px system-ui,sans-serif;fill:#52606d}svg.chart text.title{font-size:13px;fill:var(--fg);font-weight:600}
svg.chart .grid{stroke:#e4e7eb;stroke-width:1}svg.chart .axis{stroke:#9aa5b1;stroke-width:1}
table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-variant-numeric:tabular-nums}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--alt);font-weight:600;white-space:nowrap}td.n,th.n{text-align:right;white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #9aa5b1}
td.name{word-break:break-word}td.msg{white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
footer{margin-top:32px;color:var(--muted);font-size:12px}
.verdict{border:2px solid var(--line);border-radius:6px;padding:10px 14px;margin:8px 0 16px}
.verdict.pass{border-color:var(--ok);background:#ecfdf3}.verdict.fail{border-color:var(--bad);background:#fef3f2}
.verdict p.line{font-size:17px;margin:0 0 8px}.verdict p.line .muted{font-size:14px}
.badge{display:inline-block;padding:1px 10px;border-radius:4px;color:#fff;font-weight:700;margin-right:8px;letter-spacing:.04em}
.verdict.pass .badge,span.badge.ok{background:var(--ok);color:#fff}.verdict.fail .badge,span.badge.bad{background:var(--bad);color:#fff}
ul.plain{margin:0;padding:0;list-style:none}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
";

/// The HTML report: title; the verdict (exit code and reason, plan files,
/// targets); the checks (SLA rules with their measured values, the failure
/// budget's state and trip, the run's top errors); run facts (started,
/// duration, exit code and reason, seed); a table of all tests together;
/// then per test a requests-per-second chart, a latency (p50, p95) chart and
/// an active-users chart from its timeline (the budget's trip marked), its
/// per-name table (requests, failures, failure %, rps,
/// min/mean/p50/p90/p95/p99/p99.9/max ms) and its top errors.
///
/// Every string from the plan or the server is HTML-escaped. An empty
/// timeline draws an empty chart saying so; a run without tests says so.
pub fn html_report(s: &RunSummary) -> String {
    let s = sanitized(s);
    let mut out = String::with_capacity(32 * 1024);
    let title = format!("{} report — {}", s.tool, iso8601_utc(s.started_at));
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(out, "<style>\n{CSS}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        "<h1>{} report <small>{}</small></h1>",
        esc(&s.tool),
        esc(&s.version)
    );

    verdict(&mut out, &s);
    checks(&mut out, &s);
    out.push_str("<h2>Run</h2>\n");
    facts(&mut out, &s);

    if s.tests.is_empty() {
        out.push_str("<p class=\"muted\">No tests have run.</p>\n");
    } else {
        if s.tests.len() > 1 {
            out.push_str("<h2>All tests</h2>\n");
            name_table(&mut out, &s.by_name, &s.total);
        }
        for t in &s.tests {
            test_section(&mut out, t, &s.budget);
        }
    }

    let _ = writeln!(
        out,
        "<footer>Generated by {} {}. Times are UTC.</footer>\n</body>\n</html>",
        esc(&s.tool),
        esc(&s.version)
    );
    out
}

/// What an `exit_reason` means, in words.
fn reason_words(reason: &str) -> &'static str {
    match reason {
        "pass" => "every check held",
        "action_failed" => "an action of the plan failed",
        "invalid_plan" => "the plan is invalid; nothing was run",
        "budget_tripped" => "the failure budget tripped and stopped the load",
        "gate_failed" => "a gate failed (an asserted SLA rule did not hold)",
        "watchdog" => "a watchdog stopped the run",
        "interrupted_sigint" => "the run was interrupted (SIGINT)",
        "interrupted_sigterm" => "the run was terminated (SIGTERM)",
        "no_completed_requests" => "no request completed",
        _ => "see the exit codes in the docs",
    }
}

/// The verdict at the top: pass or fail, exit code and reason, the plan
/// files and the targets.
fn verdict(out: &mut String, s: &RunSummary) {
    let (class, word) = if s.exit_code == 0 {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let _ = writeln!(
        out,
        "<section id=\"verdict\" class=\"verdict {class}\">\n<p class=\"line\"><span class=\"badge\">{word}</span>\
         exit code <b id=\"exit-code\">{}</b> · <code id=\"exit-reason\">{}</code> \
         <span class=\"muted\">— {}</span></p>",
        s.exit_code,
        esc(&s.exit_reason),
        reason_words(&s.exit_reason)
    );
    out.push_str("<dl class=\"facts\">\n");
    let list = |out: &mut String, key: &str, id: &str, items: &[String], none: &str| {
        let _ = write!(out, "<dt>{key}</dt><dd id=\"{id}\">");
        if items.is_empty() {
            let _ = write!(out, "<span class=\"muted\">{none}</span>");
        } else {
            out.push_str("<ul class=\"plain\">");
            for i in items {
                let _ = write!(out, "<li><code>{}</code></li>", esc(i));
            }
            out.push_str("</ul>");
        }
        out.push_str("</dd>\n");
    };
    list(out, "Plan", "plans", &s.plans, "not recorded");
    list(out, "Target", "targets", &s.targets, "no request was sent");
    let _ = writeln!(
        out,
        "<dt>As of</dt><dd>{} into the run, when this report was written</dd>\n</dl>\n</section>",
        duration(s.duration_s)
    );
}

/// The checks: SLA rules, the failure budget, the run's top errors.
fn checks(out: &mut String, s: &RunSummary) {
    out.push_str("<h2>SLA rules</h2>\n");
    if s.sla.is_empty() {
        out.push_str("<p class=\"muted\" id=\"sla\">No SLA rule was evaluated.</p>\n");
    } else {
        out.push_str(
            "<table id=\"sla\">\n<thead><tr><th>Result</th><th>Rule</th><th class=\"n\">Measured</th>\
             <th>Detail</th><th>Kind</th></tr></thead>\n<tbody>\n",
        );
        for r in &s.sla {
            let (class, word) = if r.passed {
                ("ok", "pass")
            } else {
                ("bad", "fail")
            };
            let actual = r.actual.map_or("—".to_string(), |v| fixed(v, 2));
            let kind = if r.asserted {
                "gate (<code>LD_assert_sla</code>)"
            } else {
                "report only (<code>LD_evaluate_sla</code>)"
            };
            let _ = writeln!(
                out,
                "<tr class=\"sla {word}\"><td><span class=\"badge {class}\">{word}</span></td>\
                 <td class=\"name\"><code>{}</code></td><td class=\"n\">{actual}</td>\
                 <td class=\"msg\">{}</td><td>{kind}</td></tr>",
                esc(&r.rule),
                esc(&r.detail)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }

    out.push_str("<h2>Failure budget</h2>\n");
    budget(out, &s.budget);

    out.push_str("<h2>Top errors</h2>\n");
    let errors = run_errors(s);
    if errors.is_empty() {
        out.push_str("<p class=\"muted\" id=\"top-errors\">No errors.</p>\n");
    } else {
        out.push_str("<table id=\"top-errors\">\n");
        error_rows(out, &errors);
        out.push_str("</table>\n");
    }
}

/// The failure budget: its state, settings, where it came from, its trip.
fn budget(out: &mut String, b: &BudgetReport) {
    let (class, state) = match b.state {
        BudgetState::NotInstalled => ("muted", "none"),
        BudgetState::Armed => ("ok", "armed — did not trip"),
        BudgetState::Tripped => ("bad", "tripped"),
    };
    out.push_str("<dl class=\"facts\" id=\"budget\">\n");
    let _ = writeln!(
        out,
        "<dt>State</dt><dd class=\"{class}\" id=\"budget-state\">{state}</dd>"
    );
    if b.state == BudgetState::NotInstalled {
        out.push_str("<dt></dt><dd class=\"muted\">No failure budget was in force.</dd>\n</dl>\n");
        return;
    }
    if let Some(src) = b.source {
        let (name, words) = match src {
            BudgetSource::Default => ("default", "none was given, LoadDensity's defaults applied"),
            BudgetSource::Flag => ("flag", "<code>--failure-budget</code>"),
            BudgetSource::Installed => ("installed", "<code>LD_install_failure_budget</code>"),
            BudgetSource::Test => ("test", "the test's own <code>failure_budget</code>"),
        };
        let _ = writeln!(
            out,
            "<dt>Source</dt><dd id=\"budget-source\">{name} — {words}</dd>"
        );
    }
    let mut settings = Vec::new();
    if let Some(t) = b.threshold {
        settings.push(format!("error rate above {}%", fixed(t * 100.0, 2)));
    }
    if let (Some(ms), Some(t)) = (b.slow_call_ms, b.slow_call_threshold) {
        settings.push(format!(
            "or over {}% of calls slower than {} ms",
            fixed(t * 100.0, 2),
            fixed(ms, 0)
        ));
    }
    if let Some(w) = b.window_seconds {
        settings.push(format!("over the last {} s", fixed(w, 1)));
    }
    if let Some(n) = b.min_samples {
        settings.push(format!("after at least {n} samples"));
    }
    if !settings.is_empty() {
        let _ = writeln!(
            out,
            "<dt>Trips at</dt><dd>{}</dd>",
            esc(&settings.join(", "))
        );
    }
    if b.state == BudgetState::Tripped {
        let mut at = String::new();
        if let Some(t) = b.test {
            let _ = write!(at, "test {t}, ");
        }
        let _ = write!(
            at,
            "{} s after it started",
            fixed(b.tripped_at_s.unwrap_or(0.0), 2)
        );
        let _ = writeln!(
            out,
            "<dt>Tripped</dt><dd id=\"budget-trip\" class=\"bad\">{}</dd>",
            esc(&at)
        );
        let mut why = Vec::new();
        if let Some(r) = b.reason {
            why.push(r.as_str().to_string());
        }
        if let Some(e) = b.error_rate {
            why.push(format!("error rate {}%", fixed(e * 100.0, 2)));
        }
        if let Some(r) = b.slow_call_rate {
            why.push(format!("slow calls {}%", fixed(r * 100.0, 2)));
        }
        if let Some(n) = b.samples {
            why.push(format!("{n} samples in the window"));
        }
        let _ = writeln!(out, "<dt>Why</dt><dd>{}</dd>", esc(&why.join(", ")));
    }
    out.push_str("</dl>\n");
    if b.state == BudgetState::Tripped && !b.top_errors.is_empty() {
        out.push_str("<h3>Errors when it tripped</h3>\n<table>\n");
        error_rows(out, &b.top_errors);
        out.push_str("</table>\n");
    }
}

/// The run's most frequent errors: the run total's, else merged over the
/// tests (kind and message), most frequent first, at most [`MAX_ERRORS`].
fn run_errors(s: &RunSummary) -> Vec<ErrorCount> {
    if !s.total.top_errors.is_empty() {
        return s
            .total
            .top_errors
            .iter()
            .take(MAX_ERRORS)
            .cloned()
            .collect();
    }
    let mut merged: Vec<ErrorCount> = Vec::new();
    for e in s.tests.iter().flat_map(|t| &t.total.top_errors) {
        match merged
            .iter_mut()
            .find(|m| m.kind == e.kind && m.message == e.message)
        {
            Some(m) => m.count += e.count,
            None => merged.push(e.clone()),
        }
    }
    merged.sort_by_key(|e| std::cmp::Reverse(e.count));
    merged.truncate(MAX_ERRORS);
    merged
}

/// A header and a row per error: count, kind, message.
fn error_rows(out: &mut String, errors: &[ErrorCount]) {
    out.push_str(
        "<thead><tr><th class=\"n\">Count</th><th>Kind</th><th>Message</th></tr></thead>\n<tbody>\n",
    );
    for e in errors {
        let _ = writeln!(
            out,
            "<tr class=\"error\"><td class=\"n\">{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
            e.count,
            esc(&e.kind),
            esc(&e.message)
        );
    }
    out.push_str("</tbody>\n");
}

fn facts(out: &mut String, s: &RunSummary) {
    let class = if s.exit_code == 0 { "ok" } else { "bad" };
    out.push_str("<dl class=\"facts\">\n");
    let rows = [
        ("Started", format!("{} UTC", iso8601_utc(s.started_at))),
        ("Duration", duration(s.duration_s)),
        ("Seed", s.seed.to_string()),
        ("Tests", s.tests.len().to_string()),
        (
            "Requests",
            format!(
                "{} ({} failed, {}%)",
                s.total.requests,
                s.total.failures,
                fixed(s.total.failure_rate * 100.0, 2)
            ),
        ),
    ];
    for (k, v) in &rows[..2] {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{}</dd>", esc(v));
    }
    let _ = writeln!(
        out,
        "<dt>Exit</dt><dd class=\"{class}\">{} ({})</dd>",
        s.exit_code,
        esc(&s.exit_reason)
    );
    for (k, v) in &rows[2..] {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{}</dd>", esc(v));
    }
    out.push_str("</dl>\n");
}

/// `12.5 s`, `2 min 05.3 s`, `1 h 02 min 03 s`.
fn duration(secs: f64) -> String {
    let secs = fin(secs).max(0.0);
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let m = (secs / 60.0).floor();
        format!("{m:.0} min {:04.1} s", secs - m * 60.0)
    } else {
        let whole = secs.round() as u64;
        format!(
            "{} h {:02} min {:02} s",
            whole / 3600,
            (whole / 60) % 60,
            whole % 60
        )
    }
}

fn test_section(out: &mut String, t: &TestReport, budget: &BudgetReport) {
    let _ = writeln!(
        out,
        "<section class=\"test\">\n<h2>Test {} <small>{}</small></h2>",
        t.index,
        esc(&t.action)
    );
    let _ = writeln!(
        out,
        "<p class=\"muted\">Started {} UTC · {} · {} users · ended by {}</p>",
        iso8601_utc(t.started_at),
        duration(t.duration_s),
        t.users,
        t.ended_by
    );

    if !t.targets.is_empty() {
        let targets: Vec<String> = t.targets.iter().map(|x| esc(x)).collect();
        let _ = writeln!(
            out,
            "<p class=\"muted\">Target: <code>{}</code></p>",
            targets.join("</code>, <code>")
        );
    }

    // The budget's trip, marked on the charts of the test it tripped in.
    let trip = match (budget.state, budget.test, budget.tripped_at_s) {
        (BudgetState::Tripped, Some(i), Some(at)) if i == t.index => Some(at),
        _ => None,
    };
    out.push_str("<div class=\"charts\">\n");
    let rps: Vec<(f64, f64)> = t.timeline.iter().map(|p| (p.t_s, p.rps)).collect();
    let fails: Vec<(f64, f64)> = failures_per_second(&t.timeline);
    line_chart(
        out,
        "rps",
        trip,
        "Requests per second",
        &[
            Series {
                label: "requests/s",
                color: "#2563eb",
                points: rps,
            },
            Series {
                label: "failures/s",
                color: "#dc2626",
                points: fails,
            },
        ],
    );
    // An arrival-rate test: the corrected p95 (from the schedule) and the
    // raw one (from the send) on one chart.
    let raw: Vec<(f64, f64)> = t
        .timeline
        .iter()
        .filter_map(|p| p.raw_p95_ms.map(|v| (p.t_s, v)))
        .collect();
    let mut latency = vec![
        Series {
            label: "p50",
            color: "#2563eb",
            points: t.timeline.iter().map(|p| (p.t_s, p.p50_ms)).collect(),
        },
        Series {
            label: if raw.is_empty() {
                "p95"
            } else {
                "p95 corrected"
            },
            color: "#d97706",
            points: t.timeline.iter().map(|p| (p.t_s, p.p95_ms)).collect(),
        },
    ];
    if !raw.is_empty() {
        latency.push(Series {
            label: "p95 raw",
            color: "#7c3aed",
            points: raw,
        });
    }
    line_chart(out, "latency", trip, "Latency (ms)", &latency);
    line_chart(
        out,
        "users",
        trip,
        "Active users",
        &[Series {
            label: "users",
            color: "#059669",
            // No user runs at the start; each point is the count at its end.
            points: std::iter::once((0.0, 0.0))
                .filter(|_| !t.timeline.is_empty())
                .chain(t.timeline.iter().map(|p| (p.t_s, p.users as f64)))
                .collect(),
        }],
    );
    out.push_str("</div>\n<h3>Requests by name</h3>\n");
    name_table(out, &t.by_name, &t.total);
    generator_facts(out, t);
    out.push_str("<h3>Top errors</h3>\n");
    errors_table(out, t);
    out.push_str("</section>\n");
}

/// An arrival-rate test's schedule and raw latency, and the verdict on the
/// generator when there is one to give.
fn generator_facts(out: &mut String, t: &TestReport) {
    let g = &t.generator;
    if let Some(s) = &g.schedule {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Open model ({}): {} of {} iterations started ({}/s) · \
             lag p50 {} ms, p99 {} ms, max {} ms · {} late, {} dropped · up to {} of {} users. \
             Latency above is from each request's scheduled start (corrected for coordinated omission).</p>",
            esc(&g.executor),
            s.iterations,
            s.scheduled_iterations,
            fixed(s.achieved_rate, 1),
            fixed(s.lag_ms.p50, 1),
            fixed(s.lag_ms.p99, 1),
            fixed(s.lag_ms.max, 1),
            s.late_iterations,
            s.dropped_iterations,
            s.peak_users,
            s.max_users,
        );
        out.push_str(
            "<h3>Raw latency (from the actual send)</h3>\n<table>\n<thead><tr><th>Name</th>\
             <th class=\"n\">p50 ms</th><th class=\"n\">p95 ms</th><th class=\"n\">p99 ms</th>\
             <th class=\"n\">Max ms</th></tr></thead>\n<tbody>\n",
        );
        let rows = t.by_name.iter().map(|(n, s)| ("", n.as_str(), s));
        for (attr, name, n) in rows.chain(std::iter::once((" class=\"total\"", "Total", &t.total)))
        {
            if let Some(r) = &n.latency_raw_ms {
                let _ = writeln!(
                    out,
                    "<tr{attr}><td class=\"name\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                     <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(name),
                    fixed(r.p50, 2),
                    fixed(r.p95, 2),
                    fixed(r.p99, 2),
                    fixed(r.max, 2),
                );
            }
        }
        out.push_str("</tbody>\n</table>\n");
        if g.users_exhausted {
            out.push_str("<p><strong>Users exhausted:</strong> iterations waited for a free user (raise <code>max_users</code>); the corrected latency includes the wait.</p>\n");
        }
    }
    if let Some(why) = &g.saturation_reason {
        let _ = writeln!(
            out,
            "<p class=\"bad\">Generator saturated: {}. Its figures are not trustworthy.</p>",
            esc(why)
        );
    }
}

/// Failures per second of each timeline interval (an interval ends at `t_s`
/// and starts at the previous point, or at 0 for the first).
fn failures_per_second(timeline: &[TimePoint]) -> Vec<(f64, f64)> {
    let mut prev = 0.0;
    timeline
        .iter()
        .map(|p| {
            let dt = p.t_s - prev;
            prev = p.t_s;
            let dt = if dt > 0.0 { dt } else { 1.0 };
            (p.t_s, p.failures as f64 / dt)
        })
        .collect()
}

fn name_table(out: &mut String, by_name: &BTreeMap<String, NameStats>, total: &NameStats) {
    out.push_str(
        "<table>\n<thead><tr><th>Name</th><th class=\"n\">Requests</th><th class=\"n\">Failures</th>\
         <th class=\"n\">Failure %</th><th class=\"n\">RPS</th><th class=\"n\">Min ms</th>\
         <th class=\"n\">Mean ms</th><th class=\"n\">p50 ms</th><th class=\"n\">p90 ms</th>\
         <th class=\"n\">p95 ms</th><th class=\"n\">p99 ms</th><th class=\"n\">p99.9 ms</th>\
         <th class=\"n\">Max ms</th></tr></thead>\n<tbody>\n",
    );
    for (name, n) in by_name {
        name_row(out, "", name, n);
    }
    name_row(out, " class=\"total\"", "Total", total);
    out.push_str("</tbody>\n</table>\n");
}

fn name_row(out: &mut String, tr_attr: &str, name: &str, n: &NameStats) {
    let l = &n.latency_ms;
    let fail_class = if n.failures > 0 { " bad" } else { "" };
    let _ = write!(
        out,
        "<tr{tr_attr}><td class=\"name\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n{fail_class}\">{}</td><td class=\"n{fail_class}\">{}</td><td class=\"n\">{}</td>",
        esc(name),
        n.requests,
        n.failures,
        fixed(n.failure_rate * 100.0, 2),
        fixed(n.rps, 1),
    );
    for x in [l.min, l.mean, l.p50, l.p90, l.p95, l.p99, l.p999, l.max] {
        let _ = write!(out, "<td class=\"n\">{}</td>", fixed(x, 2));
    }
    out.push_str("</tr>\n");
}

fn errors_table(out: &mut String, t: &TestReport) {
    let mut errors: Vec<(&str, &ErrorCount)> = t
        .by_name
        .iter()
        .flat_map(|(name, n)| n.top_errors.iter().map(move |e| (name.as_str(), e)))
        .collect();
    if errors.is_empty() {
        // Errors recorded only on the total (not per name).
        errors = t.total.top_errors.iter().map(|e| ("(all)", e)).collect();
    }
    if errors.is_empty() {
        out.push_str("<p class=\"muted\">No errors.</p>\n");
        return;
    }
    errors.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    out.push_str(
        "<table>\n<thead><tr><th class=\"n\">Count</th><th>Name</th><th>Kind</th>\
         <th>Message</th></tr></thead>\n<tbody>\n",
    );
    for (name, e) in errors.iter().take(MAX_ERRORS) {
        let _ = writeln!(
            out,
            "<tr><td class=\"n\">{}</td><td class=\"name\">{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
            e.count,
            esc(name),
            esc(&e.kind),
            esc(&e.message)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// One line of a chart.
struct Series<'a> {
    label: &'a str,
    /// A CSS colour (a constant, never user input).
    color: &'a str,
    /// `(x, y)`: seconds since the test started, value.
    points: Vec<(f64, f64)>,
}

const W: f64 = 600.0;
const H: f64 = 230.0;
const ML: f64 = 52.0;
const MR: f64 = 14.0;
const MT: f64 = 32.0;
const MB: f64 = 34.0;

/// A "nice" step (1, 2 or 5 × 10ⁿ) at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nf = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nf * mag
}

/// A tick label with as many decimals as `step` needs.
fn tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    };
    fixed(v, decimals)
}

/// Appends an inline `<svg>` line chart (`kind` goes in its `data-chart`
/// attribute; a `trip` time draws a dashed "budget tripped" line). Always
/// emits an `<svg>`; with no points it says "No timeline data".
fn line_chart(out: &mut String, kind: &str, trip: Option<f64>, title: &str, series: &[Series<'_>]) {
    let _ = writeln!(
        out,
        "<svg class=\"chart\" data-chart=\"{}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc_attr(kind),
        esc_attr(title)
    );
    let _ = writeln!(out, "<title>{}</title>", esc(title));
    let _ = writeln!(
        out,
        "<text class=\"title\" x=\"{ML}\" y=\"18\">{}</text>",
        esc(title)
    );

    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max, mut any) = (0.0f64, 0.0f64, false);
    for &(x, y) in all {
        any = true;
        x_max = x_max.max(fin(x));
        y_max = y_max.max(fin(y));
    }
    if any {
        if let Some(at) = trip {
            x_max = x_max.max(fin(at));
        }
    }
    let (pw, ph) = (W - ML - MR, H - MT - MB);
    let (x0, y0) = (ML, MT + ph); // the plot's origin, bottom left

    if !any {
        let _ = writeln!(
            out,
            "<rect x=\"{ML}\" y=\"{MT}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" class=\"axis\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">No timeline data</text>\n</svg>",
            ML + pw / 2.0,
            MT + ph / 2.0
        );
        return;
    }

    let y_step = nice_step(if y_max > 0.0 { y_max / 4.0 } else { 0.25 });
    let y_top = ((y_max / y_step).ceil() * y_step).max(y_step);
    let x_step = nice_step(if x_max > 0.0 { x_max / 6.0 } else { 1.0 / 6.0 });
    let x_right = ((x_max / x_step).ceil() * x_step).max(x_step);
    let px = |x: f64| x0 + fin(x).clamp(0.0, x_right) / x_right * pw;
    let py = |y: f64| y0 - fin(y).clamp(0.0, y_top) / y_top * ph;

    // Grid and y labels.
    let mut v = 0.0;
    for _ in 0..=20 {
        if v > y_top + y_step / 2.0 {
            break;
        }
        let y = py(v);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 + pw,
            x0 - 6.0,
            y + 4.0,
            tick(v, y_step)
        );
        v += y_step;
    }
    // X axis and labels.
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{x0}\" y1=\"{y0}\" x2=\"{:.1}\" y2=\"{y0}\"/>\
         <line class=\"axis\" x1=\"{x0}\" y1=\"{MT}\" x2=\"{x0}\" y2=\"{y0}\"/>",
        x0 + pw
    );
    let mut v = 0.0;
    for _ in 0..=20 {
        if v > x_right + x_step / 2.0 {
            break;
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            px(v),
            y0 + 16.0,
            tick(v, x_step)
        );
        v += x_step;
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">seconds</text>",
        x0 + pw,
        H - 2.0
    );

    if let Some(at) = trip {
        let x = px(at);
        // The label on the right of the line, or on its left near the edge.
        let (lx, anchor) = if x + 100.0 > W - MR {
            (x - 4.0, "end")
        } else {
            (x + 4.0, "start")
        };
        let _ = writeln!(
            out,
            "<line class=\"trip\" x1=\"{x:.1}\" y1=\"{MT}\" x2=\"{x:.1}\" y2=\"{y0}\" \
             stroke=\"#b42318\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#b42318\">budget tripped</text>",
            MT + 12.0
        );
    }
    // Lines, then the legend (top right).
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        out.push_str(
            "<polyline fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\" stroke=\"",
        );
        out.push_str(&esc_attr(s.color));
        out.push_str("\" points=\"");
        for (i, &(x, y)) in s.points.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{:.1},{:.1}", px(x), py(y));
        }
        out.push_str("\"/>\n");
        if s.points.len() == 1 {
            let (x, y) = s.points[0];
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
                px(x),
                py(y),
                esc_attr(s.color)
            );
        }
    }
    let mut lx = W - MR;
    for s in series.iter().rev() {
        let text_w = 7.0 * s.label.chars().count() as f64;
        lx -= text_w;
        let _ = writeln!(out, "<text x=\"{lx:.1}\" y=\"18\">{}</text>", esc(s.label));
        lx -= 16.0;
        let _ = writeln!(
            out,
            "<rect x=\"{lx:.1}\" y=\"10\" width=\"12\" height=\"4\" fill=\"{}\"/>",
            esc_attr(s.color)
        );
        lx -= 14.0;
    }
    out.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, COMMA, QUOTED, SCRIPT, UNICODE};

    #[test]
    fn html_is_self_contained() {
        // Targets are shown as text; without them no URL is in the page.
        let mut s = fixture();
        s.targets.clear();
        s.tests.iter_mut().for_each(|t| t.targets.clear());
        let html = html_report(&s);
        let lower = html.to_ascii_lowercase();
        for bad in [
            "http://", "https://", "<script", "<link", "<img", "<iframe", "@import", "url(", "src=",
        ] {
            assert!(!lower.contains(bad), "found {bad:?}");
        }
        assert!(lower.starts_with("<!doctype html>"));
        assert!(html.contains("<style>"));
    }

    #[test]
    fn html_has_a_chart_per_test_and_kind() {
        let s = fixture();
        let html = html_report(&s);
        // Three charts per test; the second test's timeline is empty.
        assert_eq!(html.matches("<svg").count(), 3 * s.tests.len());
        assert_eq!(html.matches("</svg>").count(), 3 * s.tests.len());
        assert_eq!(html.matches("No timeline data").count(), 3);
        assert_eq!(html.matches("<polyline").count(), 5);
        assert!(html.contains("Requests per second") && html.contains("Latency (ms)"));
        assert!(html.contains("Active users"));
        // One active-users chart per test.
        assert_eq!(html.matches("data-chart=\"users\"").count(), 2);
    }

    #[test]
    fn html_escapes_plan_strings() {
        let html = html_report(&fixture());
        assert!(!html.contains(SCRIPT));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("GET /search?q=&quot;rust&quot;&amp;page=1"));
        assert!(!html.contains(QUOTED));
        assert!(html.contains(COMMA));
        assert!(html.contains(UNICODE)); // not truncated
        assert!(html.contains("&lt;html&gt;&amp;&quot;oops&quot;&lt;/html&gt;"));
        assert!(!html.contains('\u{1}'));
    }

    #[test]
    fn html_shows_facts_tables_and_errors() {
        let s = fixture();
        let html = html_report(&s);
        assert!(html.contains("2023-11-14T22:13:19 UTC")); // run start
        assert!(html.contains(&s.seed.to_string()));
        assert!(html.contains("gate_failed"));
        assert!(html.contains("p99.9 ms"));
        assert!(html.contains("connection refused (os error 111)"));
        assert!(html.contains("No errors."), "the second test has none");
        // The all-tests table plus one per test.
        assert_eq!(html.matches("<th class=\"n\">p99.9 ms</th>").count(), 3);
        // The second test is an arrival-rate one: its schedule, its raw
        // latency, and the users-exhausted note.
        assert!(html
            .contains("Open model (constant_arrival_rate): 80 of 80 iterations started (20.0/s)"));
        assert_eq!(
            html.matches("<h3>Raw latency (from the actual send)</h3>")
                .count(),
            1
        );
        assert!(html.contains("<strong>Users exhausted:</strong>"));
        assert!(!html.contains("Generator saturated"));
    }

    #[test]
    fn html_draws_corrected_and_raw_latency_on_one_chart() {
        let mut s = fixture();
        for p in &mut s.tests[0].timeline {
            p.raw_p95_ms = Some(p.p95_ms / 4.0);
        }
        let html = html_report(&s);
        assert!(html.contains("p95 corrected") && html.contains("p95 raw"));
        let plain = html_report(&fixture());
        assert!(!plain.contains("p95 raw"));
    }

    #[test]
    fn html_shows_the_verdict_first() {
        let s = fixture();
        let html = html_report(&s);
        let verdict = html.find("id=\"verdict\"").unwrap();
        assert!(verdict < html.find("<h2>Run</h2>").unwrap());
        assert!(html.contains("class=\"verdict fail\""));
        assert!(html.contains("<b id=\"exit-code\">1</b>"));
        assert!(html.contains("<code id=\"exit-reason\">gate_failed</code>"));
        assert!(html.contains("an asserted SLA rule did not hold"));
        // Plan and targets, escaped.
        assert!(html.contains("<code>plans/&lt;smoke&gt;&amp;&quot;main&quot;.json</code>"));
        assert!(html.contains("<code>https://api.example.com:443</code>"));
        let pass = RunSummary {
            exit_reason: "pass".to_string(),
            ..RunSummary::default()
        };
        let html = html_report(&pass);
        assert!(html.contains("class=\"verdict pass\"") && html.contains(">PASS<"));
        assert!(html.contains("No SLA rule was evaluated."));
        assert!(html.contains("No failure budget was in force."));
        assert!(html.contains("no request was sent"));
    }

    #[test]
    fn html_shows_sla_budget_and_top_errors() {
        use crate::stats::{SlaResult, TripReason};
        let mut s = fixture();
        s.sla = vec![
            SlaResult {
                rule: "latency_p95 lte 200 (<login>)".to_string(),
                passed: true,
                actual: Some(123.456),
                detail: "123.46 <= 200".to_string(),
                asserted: true,
                file: None,
                line: None,
            },
            SlaResult {
                rule: "error_rate lte 0.01".to_string(),
                passed: false,
                actual: None,
                detail: "no samples".to_string(),
                asserted: false,
                file: None,
                line: None,
            },
        ];
        s.budget = BudgetReport {
            installed: true,
            threshold: Some(0.05),
            window_seconds: Some(30.0),
            min_samples: Some(50),
            state: BudgetState::Tripped,
            reason: Some(TripReason::ErrorRate),
            test: Some(1),
            tripped_at_s: Some(4.25),
            error_rate: Some(0.5),
            samples: Some(80),
            top_errors: vec![ErrorCount {
                kind: "status".to_string(),
                message: "HTTP 503 <busy>".to_string(),
                count: 40,
            }],
            ..BudgetReport::default()
        };
        let html = html_report(&s);
        assert!(html.contains("<code>latency_p95 lte 200 (&lt;login&gt;)</code>"));
        assert!(html.contains("<td class=\"n\">123.46</td>"));
        assert_eq!(html.matches("<tr class=\"sla pass\">").count(), 1);
        assert_eq!(html.matches("<tr class=\"sla fail\">").count(), 1);
        assert!(html.contains("report only"));
        assert!(html.contains("id=\"budget-state\">tripped<"));
        assert!(html.contains("test 1, 4.25 s after it started"));
        assert!(html.contains("error rate above 5.00%"));
        assert!(html.contains("HTTP 503 &lt;busy&gt;"));
        // Marked on the three charts of test 1 only.
        assert_eq!(html.matches("class=\"trip\"").count(), 3);
        // The run's top errors, merged over tests (the fixture's run total has none).
        let top = &html[html.find("id=\"top-errors\"").unwrap()..];
        let top = &top[..top.find("</table>").unwrap()];
        assert_eq!(top.matches("<tr class=\"error\">").count(), 3);
        assert!(top.contains("connection refused (os error 111)"));
        assert!(top.find(">9<").unwrap() < top.find(">5<").unwrap());
        // Armed: no trip shown.
        s.budget.state = BudgetState::Armed;
        let html = html_report(&s);
        assert!(html.contains("armed — did not trip"));
        assert!(!html.contains("class=\"trip\""));
    }

    #[test]
    fn html_without_tests_and_with_nan() {
        let html = html_report(&RunSummary::default());
        assert!(html.contains("No tests have run."));
        assert!(!html.contains("<svg"));
        let html = html_report(&poisoned());
        assert!(!html.contains("NaN") && !html.contains("inf"));
    }

    #[test]
    fn single_point_and_flat_timelines() {
        let mut s = fixture();
        s.tests[0].timeline.truncate(1);
        s.tests[1].timeline = vec![TimePoint::default(); 3];
        let html = html_report(&s);
        assert!(html.contains("<circle"));
        assert!(!html.contains("No timeline data"));
    }

    #[test]
    fn nice_steps_and_durations() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(23.0), 50.0);
        assert_eq!(nice_step(100.0), 100.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
        assert_eq!(tick(0.25, 0.05), "0.25");
        assert_eq!(duration(12.54), "12.5 s");
        assert_eq!(duration(125.3), "2 min 05.3 s");
        assert_eq!(duration(3723.0), "1 h 02 min 03 s");
    }
}
