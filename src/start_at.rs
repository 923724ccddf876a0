//! `--start-at RFC3339`: a start barrier, so the segments of a scaled-out
//! run begin together. The run sleeps until then (SIGINT/SIGTERM end the
//! wait); a time more than 24 h away is refused as a mistake.

use crate::supervisor::RunControl;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The furthest a start barrier may be.
pub const MAX_AHEAD_S: f64 = 24.0 * 3600.0;

/// Unix seconds of an RFC 3339 time: `2026-11-30T03:00:00Z`,
/// `2026-11-30T04:00:00.250+01:00` (a space or `t` may stand for `T`).
pub fn parse_rfc3339(s: &str) -> Result<f64, String> {
    let bad = |why: &str| {
        format!(
            "--start-at expects an RFC 3339 time such as 2026-11-30T03:00:00Z, found {s:?} ({why})"
        )
    };
    let b = s.trim().as_bytes();
    if b.len() < 20 {
        return Err(bad("too short"));
    }
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = b.get(from..from + len).ok_or_else(|| bad("too short"))?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad("a digit was expected"));
        }
        Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, ok: &[u8]| {
        if b.get(at).is_some_and(|c| ok.contains(c)) {
            Ok(())
        } else {
            Err(bad("a separator is missing"))
        }
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    sep(4, b"-")?;
    sep(7, b"-")?;
    sep(10, b"Tt ")?;
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":")?;
    sep(16, b":")?;
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad("no such month")),
    };
    if d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 60 {
        return Err(bad("no such date or time"));
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad("digits must follow the point"));
        }
        let digits = std::str::from_utf8(&b[start..i]).map_err(|_| bad("not text"))?;
        frac = format!("0.{digits}")
            .parse()
            .map_err(|_| bad("bad fraction"))?;
    }
    let offset_s = match b.get(i..) {
        Some(b"Z") | Some(b"z") => 0,
        Some(tz) if tz.len() == 6 && (tz[0] == b'+' || tz[0] == b'-') && tz[3] == b':' => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return Err(bad("no such offset"));
            }
            let o = oh * 3600 + om * 60;
            if tz[0] == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad("the time zone must be Z or +HH:MM")),
    };
    let days = crate::units::days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Ok(secs as f64 + frac)
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long until `at`, checked: `Err` when it is more than 24 h away;
/// zero when it has passed.
pub fn wait_for(at: f64, now: f64) -> Result<Duration, String> {
    let ahead = at - now;
    if ahead > MAX_AHEAD_S {
        return Err(format!(
            "--start-at is {:.1} h away; at most 24 h is allowed (is the date or the time zone wrong?)",
            ahead / 3600.0
        ));
    }
    Ok(Duration::from_secs_f64(ahead.max(0.0)))
}

/// Sleeps until `at` (unix seconds); returns early, `false`, when the run
/// is interrupted.
pub fn sleep_until(at: f64, control: &RunControl) -> bool {
    loop {
        if control.interrupted().is_some() {
            return false;
        }
        let left = at - now_unix();
        if left <= 0.0 {
            return true;
        }
        std::thread::sleep(Duration::from_secs_f64(left.min(0.05)));
    }
}

/// The current unix time, for the caller's check.
pub fn now() -> f64 {
    now_unix()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0.0));
        assert_eq!(parse_rfc3339("2026-11-30T03:00:00Z"), Ok(1_796_007_600.0));
        assert_eq!(
            parse_rfc3339("2026-11-30T04:00:00.5+01:00"),
            Ok(1_796_007_600.5)
        );
        assert_eq!(
            parse_rfc3339("2026-11-29t22:00:00-05:00"),
            Ok(1_796_007_600.0)
        );
        for bad in [
            "",
            "junk",
            "2026-11-30",
            "2026-11-30T03:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-30T03:00:00.Z",
            "2026-11-30T03:00:00+1:00",
            "2026-11-30T25:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_far_times_and_starts_at_once_for_past_ones() {
        assert!(wait_for(100.0 + MAX_AHEAD_S + 1.0, 100.0).is_err());
        assert_eq!(wait_for(50.0, 100.0), Ok(Duration::ZERO));
        assert_eq!(wait_for(102.0, 100.0), Ok(Duration::from_secs(2)));
    }
}
