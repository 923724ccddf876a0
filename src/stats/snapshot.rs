//! Tallies as data that lasts: every [`Tally`] of a test written losslessly
//! (counters, the error table, and each HDR histogram in the V2 format,
//! base64) and read back into a `Tally` equal to the one written. The result
//! file of a segment (`--result-file`) and `loaddensity merge` use it.

use super::loaddensity::LdAlias;
use super::model::{ConditionerSettings, TestReport};
use super::recorder::{new_histogram, CondTally, FailKind, RetryTally, Tally};
use super::records::TestRecord;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One HDR histogram: V2 serialization, base64 (standard alphabet, padded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HistogramB64(pub String);

impl HistogramB64 {
    pub fn of(h: &Histogram<u64>) -> Result<HistogramB64, String> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| format!("cannot serialize a histogram: {e:?}"))?;
        Ok(HistogramB64(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    }

    /// The histogram, with the recorder's bounds.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.0.as_bytes())
            .map_err(|e| format!("a histogram is not valid base64: {e}"))?;
        let read: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("a histogram is not a valid V2 histogram: {e:?}"))?;
        let mut h = new_histogram::<u64>();
        for v in read.iter_recorded() {
            h.record_n(v.value_iterated_to(), v.count_at_value())
                .map_err(|e| format!("a histogram value is out of range: {e:?}"))?;
        }
        Ok(h)
    }
}

/// One error message of a tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSnapshot {
    pub kind: String,
    pub message: String,
    pub count: u64,
}

/// Adaptive retry's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrySnapshot {
    pub attempts: u64,
    /// By class: transient, flaky, permanent.
    pub retries: [u64; 3],
    pub recovered: u64,
    pub exhausted: [u64; 3],
    pub retry_budget_exhausted: u64,
    pub attempt_latency_us: HistogramB64,
}

/// The network conditioner's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionerSnapshot {
    pub attempts: u64,
    pub drops: u64,
    pub delay_us: HistogramB64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ConditionerSettings>,
}

/// A [`Tally`] as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TallySnapshot {
    pub requests: u64,
    pub cancelled: u64,
    pub failures: u64,
    pub bytes: u64,
    pub decoded_bytes: u64,
    pub latency_us: HistogramB64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_latency_us: Option<HistogramB64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_latency_us: Option<HistogramB64>,
    /// Sorted by message.
    pub errors: Vec<ErrorSnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditioner: Option<ConditionerSnapshot>,
}

impl TallySnapshot {
    pub fn of(t: &Tally) -> Result<TallySnapshot, String> {
        let opt = |h: &Option<Histogram<u64>>| h.as_ref().map(HistogramB64::of).transpose();
        let mut errors: Vec<ErrorSnapshot> = t
            .errors()
            .map(|(m, k, n)| ErrorSnapshot {
                kind: k.as_str().to_string(),
                message: m.to_string(),
                count: n,
            })
            .collect();
        errors.sort_by(|a, b| a.message.cmp(&b.message));
        Ok(TallySnapshot {
            requests: t.requests,
            cancelled: t.cancelled,
            failures: t.failures,
            bytes: t.bytes,
            decoded_bytes: t.decoded_bytes,
            latency_us: HistogramB64::of(&t.latency_us)?,
            fail_latency_us: opt(&t.fail_latency_us)?,
            raw_latency_us: opt(&t.raw_latency_us)?,
            errors,
            retry: t
                .retry
                .as_ref()
                .map(|r| -> Result<RetrySnapshot, String> {
                    Ok(RetrySnapshot {
                        attempts: r.attempts,
                        retries: r.retries,
                        recovered: r.recovered,
                        exhausted: r.exhausted,
                        retry_budget_exhausted: r.storm_denied,
                        attempt_latency_us: HistogramB64::of(&r.attempt_latency_us)?,
                    })
                })
                .transpose()?,
            conditioner: t
                .cond
                .as_ref()
                .map(|c| -> Result<ConditionerSnapshot, String> {
                    Ok(ConditionerSnapshot {
                        attempts: c.attempts,
                        drops: c.drops,
                        delay_us: HistogramB64::of(&c.delay_us)?,
                        settings: c.settings.as_deref().cloned(),
                    })
                })
                .transpose()?,
        })
    }

    /// The tally again, equal to the one written.
    pub fn tally(&self) -> Result<Tally, String> {
        let opt = |h: &Option<HistogramB64>| h.as_ref().map(HistogramB64::histogram).transpose();
        let mut t = Tally::<u64>::default();
        t.requests = self.requests;
        t.cancelled = self.cancelled;
        t.failures = self.failures;
        t.bytes = self.bytes;
        t.decoded_bytes = self.decoded_bytes;
        t.latency_us = self.latency_us.histogram()?;
        t.fail_latency_us = opt(&self.fail_latency_us)?;
        t.raw_latency_us = opt(&self.raw_latency_us)?;
        for e in &self.errors {
            let kind = FailKind::parse(&e.kind)
                .ok_or_else(|| format!("unknown failure kind {:?}", e.kind))?;
            t.add_errors(kind, &e.message, e.count);
        }
        if let Some(r) = &self.retry {
            t.retry = Some(RetryTally {
                attempts: r.attempts,
                retries: r.retries,
                recovered: r.recovered,
                exhausted: r.exhausted,
                storm_denied: r.retry_budget_exhausted,
                attempt_latency_us: r.attempt_latency_us.histogram()?,
            });
        }
        if let Some(c) = &self.conditioner {
            let mut cond = CondTally::new(c.settings.clone().map(Arc::new));
            cond.attempts = c.attempts;
            cond.drops = c.drops;
            cond.delay_us = c.delay_us.histogram()?;
            t.cond = Some(cond);
        }
        Ok(t)
    }
}

/// One finished test as data: its report and its tallies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSnapshot {
    pub report: TestReport,
    pub tallies: BTreeMap<String, TallySnapshot>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<LdAlias>>,
}

impl TestSnapshot {
    pub fn of(t: &TestRecord) -> Result<TestSnapshot, String> {
        Ok(TestSnapshot {
            report: t.report.clone(),
            tallies: t
                .tallies
                .iter()
                .map(|(n, t)| Ok((n.clone(), TallySnapshot::of(t)?)))
                .collect::<Result<_, String>>()?,
            aliases: t.aliases.clone(),
        })
    }

    pub fn record(&self) -> Result<TestRecord, String> {
        Ok(TestRecord {
            report: self.report.clone(),
            tallies: self
                .tallies
                .iter()
                .map(|(n, t)| Ok((n.clone(), t.tally()?)))
                .collect::<Result<_, String>>()?,
            aliases: self.aliases.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> Tally {
        let mut w: Tally<u32> = Tally::default();
        for ms in 1..=300u64 {
            w.record(Duration::from_micros(ms * 997), 7, None);
            w.record_raw(Duration::from_micros(ms * 500));
        }
        w.record(
            Duration::from_millis(40),
            0,
            Some((FailKind::Status, "HTTP 503")),
        );
        w.record(
            Duration::from_millis(41),
            0,
            Some((FailKind::Timeout, "read timed out")),
        );
        w.record_attempt(Duration::from_millis(3));
        w.record_retry(&super::super::recorder::RetryOutcome {
            attempts: 2,
            retries: [1, 0, 0],
            recovered: true,
            ..Default::default()
        });
        let settings = Arc::new(ConditionerSettings {
            latency_ms: 5.0,
            ..Default::default()
        });
        w.record_conditioned(false, Duration::from_millis(5), &settings);
        w.record_conditioned(true, Duration::ZERO, &settings);
        w.decoded_bytes = 99;
        w.cancelled = 2;
        let mut t = Tally::default();
        t.add(&w);
        t
    }

    #[test]
    fn a_tally_comes_back_exactly() {
        let t = sample();
        let snap = TallySnapshot::of(&t).unwrap();
        let back = snap.tally().unwrap();
        assert_eq!(back.latency_us, t.latency_us);
        assert_eq!(back.fail_latency_us, t.fail_latency_us);
        assert_eq!(back.raw_latency_us, t.raw_latency_us);
        assert_eq!(back.stats(2.0), t.stats(2.0));
        assert_eq!(
            back.retry.as_ref().unwrap().attempt_latency_us,
            t.retry.as_ref().unwrap().attempt_latency_us
        );
        // Written again, the same data.
        let again = TallySnapshot::of(&back).unwrap();
        assert_eq!(again, snap);
        let json = serde_json::to_string(&snap).unwrap();
        let read: TallySnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(read, snap);
    }

    #[test]
    fn bad_histograms_are_errors_not_panics() {
        assert!(HistogramB64("not base64!".into()).histogram().is_err());
        assert!(HistogramB64("AAAA".into()).histogram().is_err());
        let mut snap = TallySnapshot::of(&sample()).unwrap();
        snap.errors[0].kind = "nonsense".into();
        assert!(snap.tally().is_err());
    }
}
