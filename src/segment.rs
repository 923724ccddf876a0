//! Scale-out: segment I of N of a run. Every test's work is split so the N
//! segments together do exactly what one run would: user `i` (closed model)
//! and iteration `k` (arrival rate) go to segment `i % N` / `k % N`, CSV row
//! `r` to segment `r % N`; rates (spawn rate, throttles) and user pools are
//! divided. Segment 1/1 is the whole run, unchanged.

use std::fmt;

/// Segment `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    pub index: u64,
    pub count: u64,
}

/// Most segments one run may be split into.
pub const MAX_SEGMENTS: u64 = 100_000;

impl Default for Segment {
    fn default() -> Segment {
        Segment::WHOLE
    }
}

impl Segment {
    /// The whole run: segment 1 of 1.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// `I/N` as the command line writes it (1-based `I`).
    pub fn parse(s: &str) -> Result<Segment, String> {
        let bad = || {
            format!(
                "--segment expects I/N with 1 <= I <= N <= {MAX_SEGMENTS} (e.g. 2/3), found {s:?}"
            )
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: u64 = i.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if i == 0 || n == 0 || i > n || n > MAX_SEGMENTS {
            return Err(bad());
        }
        Ok(Segment {
            index: i - 1,
            count: n,
        })
    }

    /// The segment Kubernetes' Indexed Jobs give: `JOB_COMPLETION_INDEX`
    /// (0-based) of `LOADDENSITY_SEGMENTS`. `None` when neither is set.
    pub fn from_env(index: Option<&str>, count: Option<&str>) -> Result<Option<Segment>, String> {
        match (index, count) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(
                "JOB_COMPLETION_INDEX is set but LOADDENSITY_SEGMENTS is not: set it to the Job's completions"
                    .to_string(),
            ),
            (i, Some(n)) => {
                let i = i.unwrap_or("0").trim();
                let i: u64 = i.parse().map_err(|_| {
                    format!("JOB_COMPLETION_INDEX must be a number from 0, found {i:?}")
                })?;
                Segment::parse(&format!("{}/{}", i.saturating_add(1), n.trim()))
                    .map(Some)
                    .map_err(|_| {
                        format!(
                            "JOB_COMPLETION_INDEX={i} and LOADDENSITY_SEGMENTS={n:?} do not make a segment: \
                             LOADDENSITY_SEGMENTS must be 1 to {MAX_SEGMENTS} and the index below it"
                        )
                    })
            }
        }
    }

    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// How many of the items `0..n` are this segment's (`i % N == index`).
    pub fn share(self, n: u64) -> u64 {
        if n <= self.index {
            0
        } else {
            (n - self.index).div_ceil(self.count)
        }
    }

    /// Whether item `i` is this segment's.
    pub fn owns(self, i: u64) -> bool {
        i % self.count == self.index
    }

    /// A rate divided among the segments.
    pub fn rate(self, r: f64) -> f64 {
        r / self.count as f64
    }

    /// The seed of this segment's draws: the run's seed plus the (0-based)
    /// segment index, so segment 1/N replays like an unsegmented run.
    pub fn seed(self, seed: u64) -> u64 {
        seed.wrapping_add(self.index)
    }

    /// Worker `w` of `W` inside this segment, as one worker of the whole
    /// test: iteration `k` is this worker's when `k % (W·N) == w·N + index`,
    /// that is `k % N == index` (this segment's) and `(k / N) % W == w`.
    pub fn worker(self, (w, workers): (u64, u64)) -> (u64, u64) {
        (
            w.saturating_mul(self.count).saturating_add(self.index),
            workers.max(1).saturating_mul(self.count),
        )
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_based_and_refuses_the_rest() {
        assert_eq!(Segment::parse("2/3"), Ok(Segment { index: 1, count: 3 }));
        assert_eq!(Segment::parse("1/1"), Ok(Segment::WHOLE));
        for bad in ["0/3", "4/3", "junk", "1/0", "/3", "2/", "-1/3", "1/3/4", ""] {
            assert!(Segment::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Segment::parse("2/3").unwrap().to_string(), "2/3");
    }

    #[test]
    fn environment_of_an_indexed_job() {
        assert_eq!(Segment::from_env(None, None), Ok(None));
        assert_eq!(
            Segment::from_env(Some("0"), Some("3")),
            Ok(Some(Segment { index: 0, count: 3 }))
        );
        assert_eq!(
            Segment::from_env(Some("2"), Some("3")),
            Ok(Some(Segment { index: 2, count: 3 }))
        );
        assert!(Segment::from_env(Some("3"), Some("3")).is_err());
        assert!(Segment::from_env(Some("x"), Some("3")).is_err());
        assert!(Segment::from_env(Some("0"), None).is_err());
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        for n in 0..50u64 {
            for count in 1..7u64 {
                let total: u64 = (0..count)
                    .map(|index| Segment { index, count }.share(n))
                    .sum();
                assert_eq!(total, n, "{n} over {count}");
                for index in 0..count {
                    let s = Segment { index, count };
                    assert_eq!(s.share(n), (0..n).filter(|&i| s.owns(i)).count() as u64);
                }
            }
        }
    }

    #[test]
    fn segment_and_worker_compose_into_a_partition() {
        let (count, workers) = (3u64, 2u64);
        let mut seen = vec![0u32; 60];
        for index in 0..count {
            for w in 0..workers {
                let (w2, ws) = Segment { index, count }.worker((w, workers));
                for k in (w2..60).step_by(ws as usize) {
                    assert_eq!(k % count, index);
                    seen[k as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}
