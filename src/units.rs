//! Small shared helpers: durations such as `90s`, `10m`, `1.5h`, `250ms` on the
//! command line, and fresh random ids.

use std::time::Duration;

/// Parses a duration: a number with `ms`, `s`, `m` or `h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 90s, 10m, 1.5h, 250ms)"))?;
    Duration::try_from_secs_f64(v * scale).map_err(|_| format!("{s:?} is not a valid duration"))
}

/// The longest duration a plan may give, in seconds (about 31 years).
pub const MAX_SECONDS: f64 = 1e9;

/// A positive, finite number written as text (`"2.5"`), for flags.
pub fn positive_number(s: &str) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| *x > 0.0 && x.is_finite())
}

/// Seconds as a `Duration`, saturating: negative or NaN is zero, too large is
/// `Duration::MAX` (never a panic).
pub fn secs(s: f64) -> std::time::Duration {
    if s.is_nan() || s <= 0.0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::try_from_secs_f64(s).unwrap_or(std::time::Duration::MAX)
}

/// Whether `s` is a usable number of seconds: finite, >= 0 and at most [`MAX_SECONDS`].
pub fn valid_seconds(s: f64) -> bool {
    (0.0..=MAX_SECONDS).contains(&s)
}

/// A fresh random 64-bit value (a default seed, a run id): the std hasher's
/// per-process random keys over the clock and the pid.
pub fn fresh_random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1-12, day 1-31) → days since 1970-01-01, proleptic
/// Gregorian (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The largest seed a JSON reader that reads numbers as doubles (JavaScript,
/// `jq` before 1.7) reads exactly: 2^53.
pub const MAX_EXACT_SEED: u64 = 1 << 53;

/// A fresh random seed for a run without `--seed`: at most
/// [`MAX_EXACT_SEED`] (53 random bits), so every JSON reader reads it exactly.
pub fn fresh_seed() -> u64 {
    fresh_random_u64() & (MAX_EXACT_SEED - 1)
}

/// The seed as a string when a double cannot hold it exactly (above
/// [`MAX_EXACT_SEED`]): the summary's `seed_str`.
pub fn seed_str(seed: u64) -> Option<String> {
    (seed > MAX_EXACT_SEED).then(|| seed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for days in [-1, 0, 11_016, 19_723, 20_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m.into(), d.into()), days);
        }
    }

    #[test]
    fn fresh_seeds_are_exact_in_a_double() {
        for _ in 0..1000 {
            let s = fresh_seed();
            assert!(s <= MAX_EXACT_SEED);
            assert_eq!(s as f64 as u64, s);
        }
        assert_eq!(seed_str(MAX_EXACT_SEED), None);
        assert_eq!(seed_str(42), None);
        assert_eq!(
            seed_str(MAX_EXACT_SEED + 1).as_deref(),
            Some("9007199254740993")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
