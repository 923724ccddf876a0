//! JUnit XML (`LD_generate_junit_report`), in the dialect GitLab and Jenkins
//! read: one `<testsuite>` per test run, one `<testcase>` per task name, and
//! an `sla` suite with one `<testcase>` per gate rule.

use super::util::{escape_markup, fin, iso8601_utc, sanitized};
use crate::stats::{NameStats, RunSummary};
use std::fmt::Write as _;

/// The outcome of one SLA gate rule, as the JUnit report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateResult {
    /// The rule as written in the plan, e.g. `p95_ms < 300`; the testcase name.
    pub rule: String,
    pub passed: bool,
    /// What was measured, e.g. `p95_ms = 412.5 (limit 300)`; the failure text.
    pub detail: String,
}

/// How many top errors a failure text lists at most.
const MAX_ERRORS: usize = 10;

fn attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_markup(out, value, true);
    out.push('"');
}

/// Seconds with millisecond precision, as JUnit's `time` attributes use.
fn secs(x: f64) -> String {
    format!("{:.3}", fin(x).max(0.0))
}

fn failure_text(n: &NameStats) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{} of {} requests failed ({:.2}%)",
        n.failures,
        n.requests,
        fin(n.failure_rate) * 100.0
    );
    if !n.failures_by_kind.is_empty() {
        t.push_str("failures by kind:\n");
        for (kind, count) in &n.failures_by_kind {
            let _ = writeln!(t, "  {kind}: {count}");
        }
    }
    if !n.top_errors.is_empty() {
        t.push_str("top errors:\n");
        for e in n.top_errors.iter().take(MAX_ERRORS) {
            let _ = writeln!(t, "  {}x [{}] {}", e.count, e.kind, e.message);
        }
    }
    t
}

/// The JUnit XML report.
///
/// ```text
/// <testsuites name="loaddensity" tests failures errors="0" time>
///   <testsuite name="loaddensity test N" tests failures errors="0" skipped="0" time timestamp>
///     <properties> seed, exit_code, exit_reason, tool, version </properties>   (first suite only)
///     <testcase classname="loaddensity" name="<task name>" time="<mean latency s>">
///       <failure message="F of R requests failed" type="requests">kinds, top errors</failure>
///     </testcase> ...
///   </testsuite> ...
///   <testsuite name="sla" ...>                       (only when `gates` is not empty)
///     <testcase classname="loaddensity.sla" name="<rule>" time="0">
///       <failure message="<detail>" type="sla">detail</failure>    (failed rules)
///     </testcase> ...
///   </testsuite>
/// </testsuites>
/// ```
///
/// A suite's `time` is the test's duration; a task's `time` its mean latency.
/// Every string is XML-escaped and characters illegal in XML 1.0 are dropped.
/// With no tests and no gates the document is an empty `<testsuites>`.
/// [`junit_xml`] with the gates the summary itself carries (its `sla`).
pub fn junit_of(s: &RunSummary) -> String {
    let gates: Vec<GateResult> = s
        .sla
        .iter()
        .map(|r| GateResult {
            rule: r.rule.clone(),
            passed: r.passed,
            detail: r.detail.clone(),
        })
        .collect();
    junit_xml(s, &gates)
}

pub fn junit_xml(s: &RunSummary, gates: &[GateResult]) -> String {
    let s = sanitized(s);
    let mut out = String::with_capacity(1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");

    let name_count: usize = s.tests.iter().map(|t| t.by_name.len()).sum();
    let name_failures: usize = s
        .tests
        .iter()
        .flat_map(|t| t.by_name.values())
        .filter(|n| n.failures > 0)
        .count();
    let gate_failures = gates.iter().filter(|g| !g.passed).count();

    out.push_str("<testsuites");
    attr(&mut out, "name", "loaddensity");
    attr(&mut out, "tests", &(name_count + gates.len()).to_string());
    attr(
        &mut out,
        "failures",
        &(name_failures + gate_failures).to_string(),
    );
    attr(&mut out, "errors", "0");
    attr(&mut out, "time", &secs(s.duration_s));
    out.push_str(">\n");

    for (i, t) in s.tests.iter().enumerate() {
        let failures = t.by_name.values().filter(|n| n.failures > 0).count();
        out.push_str("  <testsuite");
        attr(&mut out, "name", &format!("loaddensity test {}", t.index));
        attr(&mut out, "tests", &t.by_name.len().to_string());
        attr(&mut out, "failures", &failures.to_string());
        attr(&mut out, "errors", "0");
        attr(&mut out, "skipped", "0");
        attr(&mut out, "time", &secs(t.duration_s));
        attr(&mut out, "timestamp", &iso8601_utc(t.started_at));
        out.push_str(">\n");

        if i == 0 {
            out.push_str("    <properties>\n");
            for (k, v) in [
                ("tool", s.tool.clone()),
                ("version", s.version.clone()),
                ("seed", s.seed.to_string()),
                ("exit_code", s.exit_code.to_string()),
                ("exit_reason", s.exit_reason.clone()),
            ] {
                out.push_str("      <property");
                attr(&mut out, "name", k);
                attr(&mut out, "value", &v);
                out.push_str("/>\n");
            }
            out.push_str("    </properties>\n");
        }

        for (name, n) in &t.by_name {
            out.push_str("    <testcase");
            attr(&mut out, "classname", "loaddensity");
            attr(&mut out, "name", name);
            attr(&mut out, "time", &secs(n.latency_ms.mean / 1000.0));
            // Arrival-rate tests: both latencies, in words, beside the case.
            let latency = n.latency_raw_ms.as_ref().map(|raw| {
                format!(
                    "latency from the scheduled start (corrected): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms; from the actual send (raw): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
                    n.latency_ms.p50, n.latency_ms.p95, n.latency_ms.p99, raw.p50, raw.p95, raw.p99
                )
            });
            if n.failures == 0 && latency.is_none() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            if n.failures > 0 {
                out.push_str("      <failure");
                attr(
                    &mut out,
                    "message",
                    &format!("{} of {} requests failed", n.failures, n.requests),
                );
                attr(&mut out, "type", "requests");
                out.push('>');
                escape_markup(&mut out, &failure_text(n), false);
                out.push_str("</failure>\n");
            }
            if let Some(text) = &latency {
                out.push_str("      <system-out>");
                escape_markup(&mut out, text, false);
                out.push_str("</system-out>\n");
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }

    if !gates.is_empty() {
        out.push_str("  <testsuite");
        attr(&mut out, "name", "sla");
        attr(&mut out, "tests", &gates.len().to_string());
        attr(&mut out, "failures", &gate_failures.to_string());
        attr(&mut out, "errors", "0");
        attr(&mut out, "skipped", "0");
        attr(&mut out, "time", "0.000");
        out.push_str(">\n");
        for g in gates {
            out.push_str("    <testcase");
            attr(&mut out, "classname", "loaddensity.sla");
            attr(&mut out, "name", &g.rule);
            attr(&mut out, "time", "0.000");
            if g.passed {
                if g.detail.is_empty() {
                    out.push_str("/>\n");
                } else {
                    out.push_str(">\n      <system-out>");
                    escape_markup(&mut out, &g.detail, false);
                    out.push_str("</system-out>\n    </testcase>\n");
                }
                continue;
            }
            out.push_str(">\n      <failure");
            attr(&mut out, "message", &g.detail);
            attr(&mut out, "type", "sla");
            out.push('>');
            escape_markup(&mut out, &g.detail, false);
            out.push_str("</failure>\n    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }

    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, COMMA, QUOTED, SCRIPT, UNICODE};
    use roxmltree::{Document, Node};

    fn gates() -> Vec<GateResult> {
        vec![
            GateResult {
                rule: "p95_ms < 300".to_string(),
                passed: true,
                detail: "p95_ms = 30.0".to_string(),
            },
            GateResult {
                rule: "failure_rate < 0.01 && name == \"<login>\"".to_string(),
                passed: false,
                detail: "failure_rate = 0.017 > 0.01 & 'too high'\u{0}".to_string(),
            },
        ]
    }

    fn children<'a, 'i>(n: Node<'a, 'i>, tag: &str) -> Vec<Node<'a, 'i>> {
        n.children()
            .filter(|c| c.is_element() && c.tag_name().name() == tag)
            .collect()
    }

    #[test]
    fn junit_parses_with_the_right_counts() {
        let s = fixture();
        let xml = junit_xml(&s, &gates());
        let doc = Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("7"));
        assert_eq!(root.attribute("failures"), Some("3"));

        let suites = children(root, "testsuite");
        assert_eq!(suites.len(), 3);
        assert_eq!(suites[0].attribute("name"), Some("loaddensity test 1"));
        assert_eq!(suites[0].attribute("tests"), Some("4"));
        assert_eq!(suites[0].attribute("failures"), Some("2"));
        assert_eq!(suites[0].attribute("errors"), Some("0"));
        assert_eq!(suites[0].attribute("time"), Some("10.000"));
        assert_eq!(
            suites[0].attribute("timestamp"),
            Some("2023-11-14T22:13:20")
        );
        assert_eq!(suites[1].attribute("name"), Some("loaddensity test 2"));
        assert_eq!(suites[1].attribute("failures"), Some("0"));

        // Properties on the first suite only.
        let props = children(children(suites[0], "properties")[0], "property");
        let seed = props
            .iter()
            .find(|p| p.attribute("name") == Some("seed"))
            .unwrap();
        assert_eq!(seed.attribute("value"), Some(s.seed.to_string().as_str()));
        assert!(children(suites[1], "properties").is_empty());

        // Names survive escaping exactly.
        let cases = children(suites[0], "testcase");
        let names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
        for want in [QUOTED, SCRIPT, COMMA, UNICODE] {
            assert!(names.contains(&want), "{want} not in {names:?}");
        }
        let quoted = cases
            .iter()
            .find(|c| c.attribute("name") == Some(QUOTED))
            .unwrap();
        assert_eq!(quoted.attribute("classname"), Some("loaddensity"));
        let mean_s = s.tests[0].by_name[QUOTED].latency_ms.mean / 1000.0;
        assert_eq!(
            quoted.attribute("time"),
            Some(format!("{mean_s:.3}").as_str())
        );
        let failure = children(*quoted, "failure")[0];
        assert_eq!(
            failure.attribute("message"),
            Some("12 of 400 requests failed")
        );
        assert_eq!(failure.attribute("type"), Some("requests"));
        let text = failure.text().unwrap();
        assert!(text.contains("status: 9"), "{text}");
        assert!(text.contains("9x [status] HTTP 500 Internal Server Error <html>&\"oops\"</html>"));
        assert!(text.contains("3x [timeout] read timed out after 5s, retrying\nline two"));
        assert!(!text.contains('\u{1}'));
        let script = cases
            .iter()
            .find(|c| c.attribute("name") == Some(SCRIPT))
            .unwrap();
        assert!(children(*script, "failure").is_empty());

        // The SLA suite.
        let sla = suites[2];
        assert_eq!(sla.attribute("name"), Some("sla"));
        assert_eq!(sla.attribute("tests"), Some("2"));
        assert_eq!(sla.attribute("failures"), Some("1"));
        let gate_cases = children(sla, "testcase");
        assert!(children(gate_cases[0], "failure").is_empty());
        assert_eq!(
            gate_cases[1].attribute("name"),
            Some("failure_rate < 0.01 && name == \"<login>\"")
        );
        let f = children(gate_cases[1], "failure")[0];
        assert_eq!(
            f.attribute("message"),
            Some("failure_rate = 0.017 > 0.01 & 'too high'")
        );
        assert_eq!(f.attribute("type"), Some("sla"));
    }

    #[test]
    fn arrival_rate_cases_carry_both_latencies() {
        let xml = junit_xml(&fixture(), &[]);
        assert_eq!(
            xml.matches("<system-out>latency from the scheduled start (corrected): p50 11.00 ms")
                .count(),
            1
        );
        assert!(xml.contains(
            "from the actual send (raw): p50 3.00 ms, p95 6.00 ms, p99 8.00 ms</system-out>"
        ));
    }

    #[test]
    fn no_gates_no_sla_suite() {
        let xml = junit_xml(&fixture(), &[]);
        let doc = Document::parse(&xml).unwrap();
        let suites = children(doc.root_element(), "testsuite");
        assert_eq!(suites.len(), 2);
        assert!(suites.iter().all(|s| s.attribute("name") != Some("sla")));
    }

    #[test]
    fn empty_run_and_nan() {
        let xml = junit_xml(&RunSummary::default(), &[]);
        let doc = Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("tests"), Some("0"));
        let xml = junit_xml(&poisoned(), &gates());
        Document::parse(&xml).unwrap();
        assert!(!xml.contains("NaN") && !xml.contains("inf"), "{xml}");
    }
}
