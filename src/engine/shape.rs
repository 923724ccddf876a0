//! Load shapes (closed model): how many users a test wants at each moment.
//! A [`Shape`] says the target and the spawn rate as a function of the time
//! since the test started; a [`Follower`] moves the running user count
//! toward that target no faster than the spawn rate, both ways. Pure: the
//! test's clock feeds it the time and hands its answer to the workers.
//!
//! The shapes are LoadDensity's (Locust's `LoadTestShape` examples):
//! `stages` (each stage's `duration` is the time its stage ends, counted
//! from the start of the test), `spike` and `soak`.

/// One stage: until `end_s` seconds into the test, `users` users, reached
/// at `spawn_rate` users per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub end_s: f64,
    pub users: u64,
    pub spawn_rate: f64,
}

/// A load shape, checked: times are finite and ordered, rates positive.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Stages in order; the test ends with the last one.
    Stages(Vec<Stage>),
    /// `baseline` users for `pre_s`, `spike` users for `spike_s`, `baseline`
    /// again for `post_s`.
    Spike {
        baseline: u64,
        spike: u64,
        spawn_rate: f64,
        pre_s: f64,
        spike_s: f64,
        post_s: f64,
    },
    /// Users grow linearly (at least 1) over `ramp_s`, hold at `users` for
    /// `hold_s`, shrink linearly over `cooldown_s`.
    Soak {
        users: u64,
        spawn_rate: f64,
        ramp_s: f64,
        hold_s: f64,
        cooldown_s: f64,
    },
}

/// What a shape wants at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub users: u64,
    /// Users started (or stopped) per second on the way to `users`.
    pub spawn_rate: f64,
}

impl Shape {
    /// The shape's name as plans write it.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Stages(_) => "stages",
            Shape::Spike { .. } => "spike",
            Shape::Soak { .. } => "soak",
        }
    }

    /// Seconds from the start of the test to the end of the shape.
    pub fn length_s(&self) -> f64 {
        match self {
            Shape::Stages(stages) => stages.last().map_or(0.0, |s| s.end_s),
            Shape::Spike {
                pre_s,
                spike_s,
                post_s,
                ..
            } => pre_s + spike_s + post_s,
            Shape::Soak {
                ramp_s,
                hold_s,
                cooldown_s,
                ..
            } => ramp_s + hold_s + cooldown_s,
        }
    }

    /// The most users the shape ever wants (the users a test prepares).
    pub fn peak_users(&self) -> u64 {
        match self {
            Shape::Stages(stages) => stages.iter().map(|s| s.users).max().unwrap_or(0),
            Shape::Spike {
                baseline, spike, ..
            } => (*baseline).max(*spike),
            Shape::Soak { users, .. } => *users,
        }
    }

    /// The target at `t` seconds into the test (past the end: the last one).
    pub fn target(&self, t: f64) -> Target {
        match self {
            Shape::Stages(stages) => {
                let s = stages
                    .iter()
                    .find(|s| t < s.end_s)
                    .or(stages.last())
                    .cloned()
                    .unwrap_or(Stage {
                        end_s: 0.0,
                        users: 0,
                        spawn_rate: 1.0,
                    });
                Target {
                    users: s.users,
                    spawn_rate: s.spawn_rate,
                }
            }
            Shape::Spike {
                baseline,
                spike,
                spawn_rate,
                pre_s,
                spike_s,
                ..
            } => {
                let in_spike = t >= *pre_s && t < pre_s + spike_s;
                Target {
                    users: if in_spike { *spike } else { *baseline },
                    spawn_rate: *spawn_rate,
                }
            }
            Shape::Soak {
                users,
                spawn_rate,
                ramp_s,
                hold_s,
                cooldown_s,
            } => {
                let n = *users as f64;
                let down_from = ramp_s + hold_s;
                let want = if t < *ramp_s {
                    (n * t / ramp_s).ceil().max(1.0)
                } else if t < down_from || *cooldown_s <= 0.0 {
                    n
                } else {
                    let left = (down_from + cooldown_s - t).max(0.0);
                    (n * left / cooldown_s).ceil()
                };
                Target {
                    users: (want as u64).min(*users),
                    spawn_rate: *spawn_rate,
                }
            }
        }
    }
}

/// The running user count of a shaped test: it moves toward the shape's
/// target at the target's spawn rate, up or down, from 0 at the start.
#[derive(Debug, Clone, Default)]
pub struct Follower {
    level: f64,
    last_t: f64,
}

impl Follower {
    pub fn new() -> Follower {
        Follower::default()
    }

    /// The users wanted `t` seconds into the test (`t` never goes back).
    /// A user starts as soon as the level passes its number, as the first
    /// user of a plain ramp-up starts at once.
    pub fn advance(&mut self, shape: &Shape, t: f64) -> u64 {
        let dt = (t - self.last_t).max(0.0);
        self.last_t = self.last_t.max(t);
        let target = shape.target(t);
        let goal = target.users as f64;
        let step = target.spawn_rate * dt;
        self.level = if goal > self.level {
            (self.level + step).min(goal)
        } else {
            (self.level - step).max(goal)
        };
        // Float steps that land a hair off a whole number count as it.
        let near = self.level.round();
        if (self.level - near).abs() < 1e-9 {
            near as u64
        } else {
            self.level.ceil() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(end_s: f64, users: u64, spawn_rate: f64) -> Stage {
        Stage {
            end_s,
            users,
            spawn_rate,
        }
    }

    /// The follower's users at each of `times`, advanced in 10 ms steps.
    fn users_at(shape: &Shape, times: &[f64]) -> Vec<u64> {
        let mut f = Follower::new();
        let mut t = 0.0;
        let mut out = Vec::new();
        for &want in times {
            let mut n = f.advance(shape, t);
            while t < want - 1e-9 {
                t = (t + 0.01).min(want);
                n = f.advance(shape, t);
            }
            out.push(n);
        }
        out
    }

    #[test]
    fn stage_durations_are_end_times_from_the_start() {
        let s = Shape::Stages(vec![
            stage(10.0, 5, 100.0),
            stage(30.0, 20, 100.0),
            stage(40.0, 2, 100.0),
        ]);
        assert_eq!(s.length_s(), 40.0);
        assert_eq!(s.peak_users(), 20);
        assert_eq!(s.target(0.0).users, 5);
        assert_eq!(s.target(9.99).users, 5);
        assert_eq!(s.target(10.0).users, 20);
        assert_eq!(s.target(29.0).users, 20);
        assert_eq!(s.target(35.0).users, 2);
        assert_eq!(s.target(99.0).users, 2, "past the end: the last stage");
        assert_eq!(users_at(&s, &[1.0, 11.0, 31.0]), [5, 20, 2]);
    }

    #[test]
    fn the_spawn_rate_paces_the_way_up_and_down() {
        let s = Shape::Stages(vec![stage(4.0, 10, 5.0), stage(8.0, 0, 2.0)]);
        let mut f = Follower::new();
        // The first user starts at once, then 5 a second.
        assert_eq!(f.advance(&s, 0.0), 0);
        assert_eq!(f.advance(&s, 0.001), 1);
        assert_eq!(f.advance(&s, 1.0), 5);
        assert_eq!(f.advance(&s, 2.0), 10);
        assert_eq!(f.advance(&s, 3.9), 10);
        // Down at 2 a second from t = 4.
        assert_eq!(f.advance(&s, 4.0), 10);
        assert_eq!(f.advance(&s, 5.0), 8);
        assert_eq!(f.advance(&s, 7.0), 4);
        assert_eq!(f.advance(&s, 20.0), 0);
    }

    #[test]
    fn a_spike_goes_up_and_comes_back() {
        let s = Shape::Spike {
            baseline: 2,
            spike: 10,
            spawn_rate: 1000.0,
            pre_s: 2.0,
            spike_s: 1.0,
            post_s: 2.0,
        };
        assert_eq!(s.length_s(), 5.0);
        assert_eq!(s.peak_users(), 10);
        assert_eq!(users_at(&s, &[1.0, 2.5, 4.0]), [2, 10, 2]);
        let slow = Shape::Spike {
            baseline: 2,
            spike: 10,
            spawn_rate: 4.0,
            pre_s: 2.0,
            spike_s: 1.0,
            post_s: 2.0,
        };
        // From 2 toward 10 at 4 a second: 4.4 at 0.6 s into the spike.
        assert_eq!(users_at(&slow, &[1.0, 2.6, 2.95]), [2, 5, 6]);
    }

    #[test]
    fn a_soak_ramps_holds_and_cools_down_linearly() {
        let s = Shape::Soak {
            users: 10,
            spawn_rate: 1000.0,
            ramp_s: 10.0,
            hold_s: 5.0,
            cooldown_s: 10.0,
        };
        assert_eq!(s.length_s(), 25.0);
        assert_eq!(s.target(0.0).users, 1, "at least one user");
        assert_eq!(s.target(0.5).users, 1);
        assert_eq!(s.target(5.0).users, 5);
        assert_eq!(s.target(10.0).users, 10);
        assert_eq!(s.target(14.9).users, 10);
        assert_eq!(s.target(20.0).users, 5);
        assert_eq!(s.target(25.0).users, 0);
        assert_eq!(users_at(&s, &[2.0, 12.0, 22.5]), [2, 10, 3]);
        let instant = Shape::Soak {
            users: 10,
            spawn_rate: 1000.0,
            ramp_s: 0.0,
            hold_s: 5.0,
            cooldown_s: 0.0,
        };
        assert_eq!(instant.target(0.0).users, 10);
        assert_eq!(instant.target(4.0).users, 10);
    }

    #[test]
    fn time_never_runs_backwards() {
        let s = Shape::Stages(vec![stage(10.0, 10, 1.0)]);
        let mut f = Follower::new();
        assert_eq!(f.advance(&s, 3.0), 3);
        assert_eq!(f.advance(&s, 2.0), 3);
        assert_eq!(f.advance(&s, 3.5), 4);
    }
}
