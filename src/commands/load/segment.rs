//! A test's share of a scaled-out run (`--segment I/N`): the parts of the
//! engine's plan a segment divides. Users and CSV rows are split where they
//! are made; this module splits the arrival-rate users and the load shapes.

use crate::engine::arrival::ArrivalPlan;
use crate::engine::shape::{Shape, Stage};
use crate::segment::Segment;

/// The segment's share of an arrival-rate test: every N-th iteration (the
/// dispatcher composes segment and worker) and its share of the users, at
/// least one so each of its iterations can start.
pub fn arrival(mut a: ArrivalPlan, seg: Segment) -> ArrivalPlan {
    if seg.is_whole() {
        return a;
    }
    a.pre_allocated_users = seg.share(a.pre_allocated_users).max(1);
    a.max_users = seg.share(a.max_users).max(a.pre_allocated_users);
    a.segment = seg;
    a
}

/// The segment's share of a load shape: its share of each target's users,
/// reached at its share of the spawn rate.
pub fn shape(s: &Shape, seg: Segment) -> Shape {
    if seg.is_whole() {
        return s.clone();
    }
    let users = |u: u64| seg.share(u);
    match s {
        Shape::Stages(stages) => Shape::Stages(
            stages
                .iter()
                .map(|st| Stage {
                    end_s: st.end_s,
                    users: users(st.users),
                    spawn_rate: seg.rate(st.spawn_rate),
                })
                .collect(),
        ),
        Shape::Spike {
            baseline,
            spike,
            spawn_rate,
            pre_s,
            spike_s,
            post_s,
        } => Shape::Spike {
            baseline: users(*baseline),
            spike: users(*spike),
            spawn_rate: seg.rate(*spawn_rate),
            pre_s: *pre_s,
            spike_s: *spike_s,
            post_s: *post_s,
        },
        Shape::Soak {
            users: u,
            spawn_rate,
            ramp_s,
            hold_s,
            cooldown_s,
        } => Shape::Soak {
            users: users(*u),
            spawn_rate: seg.rate(*spawn_rate),
            ramp_s: *ramp_s,
            hold_s: *hold_s,
            cooldown_s: *cooldown_s,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_split_their_users_and_rates() {
        let s = Shape::Stages(vec![
            Stage {
                end_s: 1.0,
                users: 10,
                spawn_rate: 9.0,
            },
            Stage {
                end_s: 2.0,
                users: 4,
                spawn_rate: 3.0,
            },
        ]);
        let parts: Vec<Shape> = (0..3)
            .map(|index| shape(&s, Segment { index, count: 3 }))
            .collect();
        let total: u64 = parts.iter().map(Shape::peak_users).sum();
        assert_eq!(total, 10);
        match &parts[0] {
            Shape::Stages(st) => {
                assert_eq!((st[0].users, st[1].users), (4, 2));
                assert!((st[0].spawn_rate - 3.0).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(shape(&s, Segment::WHOLE), s);
    }
}
