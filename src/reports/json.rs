//! The full JSON report (`LD_generate_json_report`): the whole [`RunSummary`]
//! serde-serialised, timelines included.

use super::util::sanitized;
use crate::stats::RunSummary;

/// Everything the run measured: pretty-printed JSON of the [`RunSummary`],
/// the same fields as [`summary_json`](super::summary_json) plus each test's
/// `timeline`. Non-finite floats are written as `0`, never `null`.
pub fn full_json(s: &RunSummary) -> String {
    let mut out =
        serde_json::to_string_pretty(&sanitized(s)).expect("the run summary always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::test_fixture::{fixture, poisoned, reparse};

    #[test]
    fn full_json_round_trips() {
        let s = fixture();
        let out = full_json(&s);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, reparse(&s));
        let back: RunSummary = serde_json::from_str(&out).unwrap();
        assert_eq!(back.tests[0].timeline.len(), 10);
        assert_eq!(
            back.tests[0].timeline[3].requests,
            s.tests[0].timeline[3].requests
        );
        assert_eq!(back.seed, s.seed);
    }

    #[test]
    fn no_nan_anywhere() {
        let out = full_json(&poisoned());
        assert!(!out.contains("null"), "{out}");
        let back: RunSummary = serde_json::from_str(&out).unwrap();
        assert_eq!(back.tests[0].timeline[0].rps, 0.0);
    }
}
