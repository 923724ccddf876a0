//! Which tasks a user runs in one pass: `sequence` (all, in order),
//! `conditional` (all, in order, each gated by `run_if` / `skip_if`) and
//! `weighted` (one task per pass, drawn by weight). Predicates
//! ([`super::predicate`]) gate tasks in every mode.

use super::task::Task;
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sequence,
    Weighted,
    Conditional,
}

/// The tasks of a test and how a pass picks them.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub mode: Mode,
    pub tasks: Vec<Task>,
    total_weight: u64,
}

impl Scenario {
    pub fn new(mode: Mode, tasks: Vec<Task>) -> Scenario {
        let total_weight = tasks.iter().map(|t| u64::from(t.weight)).sum();
        Scenario {
            mode,
            tasks,
            total_weight,
        }
    }

    /// Appends the task indices of one pass to `out`.
    pub fn pass(&self, rng: &mut impl Rng, out: &mut Vec<usize>) {
        out.clear();
        match self.mode {
            Mode::Sequence | Mode::Conditional => out.extend(0..self.tasks.len()),
            Mode::Weighted => {
                if self.total_weight == 0 {
                    return;
                }
                let mut draw = rng.random_range(0..self.total_weight);
                for (i, t) in self.tasks.iter().enumerate() {
                    let w = u64::from(t.weight);
                    if draw < w {
                        out.push(i);
                        return;
                    }
                    draw -= w;
                }
            }
        }
    }
}
