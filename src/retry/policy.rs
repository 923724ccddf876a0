//! Retry policies: the JSON block, its defaults (LoadDensity's), field-by-field
//! override of a run-wide block by a task's own, and the backoff formula.

use super::classify::{ErrorClass, DEFAULT_TRANSIENT_STATUS};
use crate::units;
use rand::Rng;
use serde::Deserialize;
use std::time::{Duration, SystemTime};

/// A `retry` block as written; absent fields take the run-wide block's value,
/// then the defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryArg {
    /// Retries allowed for transient failures (default 5).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub transient: Option<u32>,
    /// Retries allowed for flaky failures (default 2).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub flaky: Option<u32>,
    /// Retries allowed for permanent failures (default 0).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub permanent: Option<u32>,
    /// Seconds before the first retry (default 0.1).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub base_delay: Option<f64>,
    /// Upper bound of any delay, in seconds (default 5.0).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub max_delay: Option<f64>,
    /// Growth per retry (default 2.0).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub backoff_factor: Option<f64>,
    /// Spread of a delay as a fraction, ± (default 0.25).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub jitter: Option<f64>,
    /// Replaces the transient status set (default 429, 502, 503, 504).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_one_or_many")]
    pub retry_on_status: Option<Vec<u16>>,
    /// Run-wide only: retries may not exceed this × first attempts over 10 s (default 0.2).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub retry_ratio: Option<f64>,
    /// Run-wide only: plus this many retries per second (default 3).
    #[serde(default, deserialize_with = "crate::plan::lenient::opt_num")]
    pub retry_min_per_s: Option<f64>,
}

pub const DEFAULT_BUDGETS: [u32; 3] = [5, 2, 0];
pub const DEFAULT_BASE_DELAY: f64 = 0.1;
pub const DEFAULT_MAX_DELAY: f64 = 5.0;
pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
pub const DEFAULT_JITTER: f64 = 0.25;
pub const DEFAULT_RETRY_RATIO: f64 = 0.2;
pub const DEFAULT_RETRY_MIN_PER_S: f64 = 3.0;

impl RetryArg {
    /// Problems with the block, as (field, message). `run_wide` blocks may set
    /// the retry-storm fields; a task's own may not.
    pub fn problems(&self, run_wide: bool) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let mut seconds = |field: &'static str, v: Option<f64>| {
            if let Some(v) = v {
                if !units::valid_seconds(v) {
                    p.push((
                        field,
                        format!("{field} must be a number of seconds from 0 to 1e9, found {v}"),
                    ));
                }
            }
        };
        seconds("base_delay", self.base_delay);
        seconds("max_delay", self.max_delay);
        if let Some(f) = self.backoff_factor {
            if !(f >= 1.0 && f.is_finite()) {
                p.push((
                    "backoff_factor",
                    format!("backoff_factor must be >= 1, found {f}"),
                ));
            }
        }
        if let Some(j) = self.jitter {
            if !(0.0..=1.0).contains(&j) {
                p.push((
                    "jitter",
                    format!("jitter must be a fraction from 0 to 1, found {j}"),
                ));
            }
        }
        if let Some(codes) = &self.retry_on_status {
            for c in codes.iter().filter(|c| !(100..=599).contains(*c)) {
                p.push((
                    "retry_on_status",
                    format!("{c} is not an HTTP status (100-599)"),
                ));
            }
        }
        for (field, v) in [
            ("retry_ratio", self.retry_ratio),
            ("retry_min_per_s", self.retry_min_per_s),
        ] {
            match v {
                Some(_) if !run_wide => p.push((
                    field,
                    format!(
                        "{field} is run-wide: set it in LD_start_test's `retry`, not in a task's"
                    ),
                )),
                Some(x) if !(x >= 0.0 && x.is_finite()) => {
                    p.push((field, format!("{field} must be >= 0, found {x}")))
                }
                _ => {}
            }
        }
        p
    }

    /// This block over `base`: fields set here win, the rest come from `base`.
    pub fn over(&self, base: &RetryArg) -> RetryArg {
        RetryArg {
            transient: self.transient.or(base.transient),
            flaky: self.flaky.or(base.flaky),
            permanent: self.permanent.or(base.permanent),
            base_delay: self.base_delay.or(base.base_delay),
            max_delay: self.max_delay.or(base.max_delay),
            backoff_factor: self.backoff_factor.or(base.backoff_factor),
            jitter: self.jitter.or(base.jitter),
            retry_on_status: self
                .retry_on_status
                .clone()
                .or_else(|| base.retry_on_status.clone()),
            retry_ratio: self.retry_ratio.or(base.retry_ratio),
            retry_min_per_s: self.retry_min_per_s.or(base.retry_min_per_s),
        }
    }
}

/// A task's retry policy with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Retries allowed per class, indexed by [`ErrorClass::index`].
    pub budgets: [u32; 3],
    pub base_delay: f64,
    pub max_delay: f64,
    pub backoff_factor: f64,
    pub jitter: f64,
    pub transient_status: Vec<u16>,
}

impl Policy {
    pub fn from_arg(a: &RetryArg) -> Policy {
        Policy {
            budgets: [
                a.transient.unwrap_or(DEFAULT_BUDGETS[0]),
                a.flaky.unwrap_or(DEFAULT_BUDGETS[1]),
                a.permanent.unwrap_or(DEFAULT_BUDGETS[2]),
            ],
            base_delay: a.base_delay.unwrap_or(DEFAULT_BASE_DELAY),
            max_delay: a.max_delay.unwrap_or(DEFAULT_MAX_DELAY),
            backoff_factor: a.backoff_factor.unwrap_or(DEFAULT_BACKOFF_FACTOR),
            jitter: a.jitter.unwrap_or(DEFAULT_JITTER),
            transient_status: a
                .retry_on_status
                .clone()
                .unwrap_or_else(|| DEFAULT_TRANSIENT_STATUS.to_vec()),
        }
    }

    /// May a failure of `class` be retried after `used` retries of that class?
    pub fn allows(&self, class: ErrorClass, used: u32) -> bool {
        used < self.budgets[class.index()]
    }

    /// The delay before retry `n` (1-based):
    /// `min(max_delay, base_delay * backoff_factor^(n-1))`, spread by ±`jitter`,
    /// never above `max_delay`.
    pub fn delay(&self, n: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .backoff_factor
            .powi(n.saturating_sub(1).min(1024) as i32);
        let d = (self.base_delay * exp).min(self.max_delay);
        let spread = if self.jitter > 0.0 {
            1.0 + rng.random_range(-self.jitter..=self.jitter)
        } else {
            1.0
        };
        units::secs((d * spread).clamp(0.0, self.max_delay))
    }

    /// The delay a `Retry-After` asks for, capped by `max_delay`.
    pub fn retry_after(&self, asked: Duration) -> Duration {
        asked.min(units::secs(self.max_delay))
    }
}

/// Parses a `Retry-After` value: delay-seconds or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate only (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let rest = s.split_once(", ")?.1;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if parts.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = crate::units::days_from_civil(year, month as i64, day as i64);
    let secs = days.checked_mul(86_400)? + (h * 3600 + m * 60 + sec) as i64;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn defaults_are_loaddensity_s() {
        let p = Policy::from_arg(&RetryArg::default());
        assert_eq!(p.budgets, [5, 2, 0]);
        assert_eq!(
            (p.base_delay, p.max_delay, p.backoff_factor, p.jitter),
            (0.1, 5.0, 2.0, 0.25)
        );
        assert_eq!(p.transient_status, vec![429, 502, 503, 504]);
        assert!(p.allows(ErrorClass::Transient, 4) && !p.allows(ErrorClass::Transient, 5));
        assert!(!p.allows(ErrorClass::Permanent, 0));
    }

    #[test]
    fn task_blocks_override_field_by_field() {
        let run = RetryArg {
            transient: Some(3),
            base_delay: Some(0.5),
            ..RetryArg::default()
        };
        let task = RetryArg {
            base_delay: Some(0.2),
            flaky: Some(0),
            ..RetryArg::default()
        };
        let p = Policy::from_arg(&task.over(&run));
        assert_eq!(p.budgets, [3, 0, 0]);
        assert_eq!(p.base_delay, 0.2);
        assert_eq!(p.max_delay, 5.0);
    }

    #[test]
    fn delays_follow_the_formula_without_jitter() {
        let p = Policy::from_arg(&RetryArg {
            jitter: Some(0.0),
            max_delay: Some(1.0),
            ..RetryArg::default()
        });
        let mut rng = SmallRng::seed_from_u64(1);
        let ms: Vec<u128> = (1..=6).map(|n| p.delay(n, &mut rng).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_spreads_but_never_exceeds_max_delay() {
        let p = Policy::from_arg(&RetryArg {
            jitter: Some(0.5),
            max_delay: Some(1.0),
            ..RetryArg::default()
        });
        let mut rng = SmallRng::seed_from_u64(42);
        let (mut lo, mut hi) = (f64::MAX, 0.0f64);
        for _ in 0..2000 {
            let d = p.delay(2, &mut rng).as_secs_f64();
            lo = lo.min(d);
            hi = hi.max(d);
            assert!((0.1 - 1e-9..=0.3 + 1e-9).contains(&d), "{d}");
            let capped = p.delay(10, &mut rng).as_secs_f64();
            assert!((0.5 - 1e-9..=1.0).contains(&capped), "{capped}");
        }
        assert!(lo < 0.12 && hi > 0.28, "jitter used its range: {lo}..{hi}");
        // Same seed, same delays.
        let a: Vec<Duration> = (1..5)
            .map(|n| p.delay(n, &mut SmallRng::seed_from_u64(9)))
            .collect();
        let b: Vec<Duration> = (1..5)
            .map(|n| p.delay(n, &mut SmallRng::seed_from_u64(9)))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        let p = Policy::from_arg(&RetryArg::default());
        assert_eq!(
            p.retry_after(Duration::from_secs(60)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn bad_blocks_are_reported() {
        let bad = RetryArg {
            jitter: Some(1.5),
            backoff_factor: Some(0.5),
            base_delay: Some(-1.0),
            retry_on_status: Some(vec![42]),
            retry_ratio: Some(0.5),
            ..RetryArg::default()
        };
        let fields: Vec<&str> = bad.problems(false).iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            vec![
                "base_delay",
                "backoff_factor",
                "jitter",
                "retry_on_status",
                "retry_ratio"
            ]
        );
        assert_eq!(bad.problems(true).len(), 4);
    }
}
