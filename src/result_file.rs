//! The result file of a run (`--result-file`, and every `--segment` run):
//! everything `loaddensity merge` needs to rebuild the run's reports
//! exactly: each test's report and its tallies (histograms losslessly, see
//! `stats::snapshot`), the budget, supervisor and SLA blocks, the plan's
//! asserted SLA rules, the segment and the exit code. Format: docs/reports.md.

use crate::interpreter::Context;
use crate::segment::Segment;
use crate::stats::snapshot::TestSnapshot;
use crate::stats::{BudgetReport, SlaResult, SupervisorReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `format` of every result file.
pub const FORMAT: &str = "loaddensity-result";
/// The version of the format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Segment I of N, 1-based as the command line writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub index: u64,
    pub count: u64,
}

impl From<Segment> for SegmentInfo {
    fn from(s: Segment) -> SegmentInfo {
        SegmentInfo {
            index: s.index + 1,
            count: s.count,
        }
    }
}

/// A run's result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub format: String,
    pub format_version: u32,
    /// The loaddensity version that wrote it.
    pub version: String,
    pub segment: SegmentInfo,
    /// Identifies the plans and the flags that change the work (a hash):
    /// segments of one run have the same.
    pub plan_id: String,
    pub plans: Vec<String>,
    /// `--seed`, and the seed this segment's draws derive from.
    pub seed: u64,
    pub segment_seed: u64,
    pub started_at: f64,
    pub duration_s: f64,
    pub exit_code: i32,
    pub exit_reason: String,
    /// The run's last line: what decided the exit code.
    pub verdict: String,
    pub budget: BudgetReport,
    pub supervisor: SupervisorReport,
    /// The `LD_assert_sla` rules the plan reached, as written: the merge
    /// judges them over every segment's data.
    pub sla_rules: Vec<serde_json::Value>,
    /// How the rules went on this run's own data.
    pub sla: Vec<SlaResult>,
    /// Undefined placeholders the plan's own actions left in place.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unresolved: BTreeMap<String, u64>,
    pub tests: Vec<TestSnapshot>,
}

/// Where the result file goes when `--result-file` does not say: the
/// working folder, `loaddensity-result.json`, or for a segment
/// `loaddensity-result-I-of-N.json` (so segments run in one folder keep
/// theirs).
pub fn default_path(seg: Segment) -> PathBuf {
    if seg.is_whole() {
        PathBuf::from("loaddensity-result.json")
    } else {
        PathBuf::from(format!(
            "loaddensity-result-{}-of-{}.json",
            seg.index + 1,
            seg.count
        ))
    }
}

/// FNV-1a, 64 bits: a stable hash (not a secure one) naming a plan.
pub fn plan_id(parts: &[Vec<u8>]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain((p.len() as u64).to_le_bytes().iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

impl ResultFile {
    /// The result of the run so far.
    pub fn of(ctx: &Context, plan_id: &str, verdict: &str) -> Result<ResultFile, String> {
        let s = ctx.summary();
        Ok(ResultFile {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            segment: ctx.opts.segment.into(),
            plan_id: plan_id.to_string(),
            plans: ctx.records.plans.clone(),
            seed: ctx.opts.seed,
            segment_seed: ctx.opts.segment.seed(ctx.opts.seed),
            started_at: s.started_at,
            duration_s: s.duration_s,
            exit_code: s.exit_code,
            exit_reason: s.exit_reason,
            verdict: verdict.to_string(),
            budget: s.budget,
            supervisor: s.supervisor,
            sla_rules: ctx.sla_rules.clone(),
            sla: s.sla,
            unresolved: ctx.unresolved.clone(),
            tests: ctx
                .records
                .tests
                .iter()
                .map(TestSnapshot::of)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads and checks one result file.
    pub fn read(path: &Path) -> Result<ResultFile, String> {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{shown} is not JSON: {e}"))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(format!(
                "{shown} is not a loaddensity result file (no \"format\": \"{FORMAT}\"); \
                 write one with `loaddensity run --segment I/N` or `--result-file`"
            ));
        }
        let version = v.get("format_version").and_then(|f| f.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(format!(
                "{shown} has format_version {}, this loaddensity reads {FORMAT_VERSION}",
                version.map_or("(none)".to_string(), |v| v.to_string())
            ));
        }
        let r: ResultFile = serde_path_to_error::deserialize(v)
            .map_err(|e| format!("{shown}: {} at {}", e.inner(), e.path()))?;
        if r.segment.index == 0 || r.segment.index > r.segment.count {
            return Err(format!(
                "{shown}: segment {}/{} is not a segment",
                r.segment.index, r.segment.count
            ));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_and_plan_ids() {
        assert_eq!(
            default_path(Segment::WHOLE),
            PathBuf::from("loaddensity-result.json")
        );
        assert_eq!(
            default_path(Segment { index: 1, count: 3 }),
            PathBuf::from("loaddensity-result-2-of-3.json")
        );
        let a = plan_id(&[b"ab".to_vec(), b"c".to_vec()]);
        assert_eq!(a, plan_id(&[b"ab".to_vec(), b"c".to_vec()]));
        assert_ne!(a, plan_id(&[b"a".to_vec(), b"bc".to_vec()]));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn other_files_are_refused_with_a_reason() {
        let d = std::env::temp_dir().join(format!("ld-result-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x.json");
        std::fs::write(&p, "{\"tool\": \"loaddensity\"}").unwrap();
        assert!(ResultFile::read(&p)
            .unwrap_err()
            .contains("not a loaddensity result file"));
        std::fs::write(&p, "nope").unwrap();
        assert!(ResultFile::read(&p).unwrap_err().contains("not JSON"));
        std::fs::write(
            &p,
            "{\"format\": \"loaddensity-result\", \"format_version\": 9}",
        )
        .unwrap();
        assert!(ResultFile::read(&p)
            .unwrap_err()
            .contains("format_version 9"));
        assert!(ResultFile::read(&d.join("missing.json")).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
