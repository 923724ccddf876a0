//! A worker's timers: one min-heap of (deadline, user, generation). A user has
//! at most one live timer; arming a new one bumps its generation, so an older
//! entry still in the heap is skipped when it comes due (no removal needed).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Timers {
    pub fn new() -> Timers {
        Timers::default()
    }

    /// Arms a timer for `user` at `at`, tagged with the user's current
    /// `generation`.
    pub fn arm(&mut self, at: Instant, user: usize, generation: u64) {
        self.heap.push(Reverse((at, user, generation)));
    }

    /// The next due entry at or before `now`: `(user, generation)`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => {
                let Reverse((_, user, generation)) = self.heap.pop()?;
                Some((user, generation))
            }
            _ => None,
        }
    }

    /// How long until the earliest entry, if any (zero when one is due).
    pub fn until_next(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((at, _, _))| at.saturating_duration_since(now))
    }

    /// Drops stale entries when the heap holds many more than the users it
    /// serves (each user has at most one live timer).
    pub fn compact(&mut self, live: impl Fn(usize, u64) -> bool) {
        self.heap.retain(|Reverse((_, u, g))| live(*u, *g));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_entries_come_out_in_deadline_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Timers::new();
        t.arm(t0 + ms(30), 3, 0);
        t.arm(t0 + ms(10), 1, 0);
        t.arm(t0 + ms(20), 2, 5);
        assert_eq!(t.until_next(t0), Some(ms(10)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(t.pop_due(t0 + ms(25)), Some((1, 0)));
        assert_eq!(t.pop_due(t0 + ms(25)), Some((2, 5)));
        assert_eq!(t.pop_due(t0 + ms(25)), None);
        assert_eq!(t.until_next(t0 + ms(40)), Some(Duration::ZERO));
        t.compact(|u, _| u != 3);
        assert_eq!(t.len(), 0);
    }
}
