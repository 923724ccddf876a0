//! The retry bookkeeping of one logical request: after each attempt, the
//! engine asks [`Attempts::next`] whether to send again and after what delay.
//! The decision is pure (no clock reads but the storm budget's `now`, no
//! sleeping), so every exit is tested here; the engine only waits.

use super::classify::{classify, AttemptFailure};
use super::policy::Policy;
use super::storm::RetryBudget;
use crate::stats::recorder::RetryOutcome;
use rand::Rng;
use std::time::{Duration, Instant};

/// The attempts of one logical request under a retry policy.
pub struct Attempts<'p> {
    policy: &'p Policy,
    /// Retries granted so far, per error class.
    used: [u32; 3],
    /// The class of a retry granted but not sent yet (waiting out its backoff).
    pending: Option<usize>,
    out: RetryOutcome,
}

impl<'p> Attempts<'p> {
    pub fn new(policy: &'p Policy) -> Self {
        Attempts {
            policy,
            used: [0; 3],
            pending: None,
            out: RetryOutcome::default(),
        }
    }

    /// Counts the attempt that just ended and decides what follows: `Some(delay)`
    /// to retry after `delay` (call [`Attempts::retrying`] when it is sent),
    /// `None` when this attempt is the final outcome.
    ///
    /// In order: success → done; not retryable (cancelled) → done; the class's
    /// budget spent → done (`exhausted`); the test stopping → done; the run-wide
    /// storm budget spent → done (`storm_denied`); else retry after the
    /// server's `Retry-After` (capped) or the policy's backoff.
    pub fn next(
        &mut self,
        failure: Option<&AttemptFailure>,
        retry_after: Option<Duration>,
        stopping: bool,
        storm: Option<&RetryBudget>,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        self.out.attempts += 1;
        let Some(failure) = failure else {
            self.out.recovered = self.out.attempts > 1;
            return None;
        };
        let class = classify(failure, &self.policy.transient_status)?;
        let i = class.index();
        if !self.policy.allows(class, self.used[i]) {
            if self.policy.budgets[i] > 0 {
                self.out.exhausted = Some(i);
            }
            return None;
        }
        if stopping {
            return None;
        }
        if storm.is_some_and(|s| !s.try_retry(now)) {
            self.out.storm_denied = true;
            return None;
        }
        self.used[i] += 1;
        self.pending = Some(i);
        let n: u32 = self.used.iter().sum();
        Some(match retry_after {
            Some(asked) => self.policy.retry_after(asked),
            None => self.policy.delay(n, rng),
        })
    }

    /// The retry granted by [`Attempts::next`] is being sent: it counts now. A
    /// retry whose backoff the end of the test cut short is never sent and
    /// never counted, so the counts match what the server saw.
    pub fn retrying(&mut self) {
        if let Some(i) = self.pending.take() {
            self.out.retries[i] += 1;
        }
    }

    /// What the attempts came to, for the statistics.
    pub fn outcome(&self) -> RetryOutcome {
        self.out.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpError;
    use crate::retry::storm::RetryBudgetConfig;
    use crate::retry::RetryArg;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn policy(transient: u32, flaky: u32) -> Policy {
        Policy::from_arg(&RetryArg {
            transient: Some(transient),
            flaky: Some(flaky),
            jitter: Some(0.0),
            base_delay: Some(0.1),
            ..RetryArg::default()
        })
    }

    const REFUSED: AttemptFailure = AttemptFailure::Transport(HttpError::Refused);
    const ASSERTION: AttemptFailure = AttemptFailure::Response {
        status: 200,
        assertion_failed: true,
        unexpected_body: false,
    };

    /// Feeds `results` (None = success) until the attempts end; returns the
    /// delays asked for and the outcome.
    fn drive(p: &Policy, results: &[Option<AttemptFailure>]) -> (Vec<Duration>, RetryOutcome) {
        let mut a = Attempts::new(p);
        let mut rng = SmallRng::seed_from_u64(7);
        let mut delays = Vec::new();
        for r in results {
            match a.next(r.as_ref(), None, false, None, Instant::now(), &mut rng) {
                Some(d) => {
                    delays.push(d);
                    a.retrying();
                }
                None => return (delays, a.outcome()),
            }
        }
        panic!("the attempts did not end after {} results", results.len());
    }

    #[test]
    fn a_first_success_is_one_attempt() {
        let (delays, o) = drive(&policy(5, 2), &[None]);
        assert!(delays.is_empty());
        assert_eq!((o.attempts, o.recovered, o.retries), (1, false, [0, 0, 0]));
    }

    #[test]
    fn transient_failures_back_off_and_recover() {
        let (delays, o) = drive(
            &policy(5, 2),
            &[Some(REFUSED), Some(REFUSED), Some(REFUSED), None],
        );
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 200, 400], "exponential, no jitter");
        assert_eq!(o.attempts, 4);
        assert!(o.recovered);
        assert_eq!(o.retries, [3, 0, 0]);
        assert_eq!(o.exhausted, None);
    }

    #[test]
    fn a_spent_class_budget_ends_with_exhausted() {
        let fails = vec![Some(ASSERTION); 10];
        let (delays, o) = drive(&policy(5, 2), &fails);
        assert_eq!(delays.len(), 2, "two flaky retries");
        assert_eq!(o.attempts, 3);
        assert_eq!(o.retries, [0, 2, 0]);
        assert_eq!(o.exhausted, Some(1));
        assert!(!o.recovered);
    }

    #[test]
    fn a_class_without_budget_is_not_called_exhausted() {
        let not_found = AttemptFailure::Response {
            status: 404,
            assertion_failed: false,
            unexpected_body: false,
        };
        let (delays, o) = drive(&policy(5, 2), &[Some(not_found)]);
        assert!(delays.is_empty());
        assert_eq!((o.attempts, o.exhausted), (1, None));
    }

    #[test]
    fn cancelled_attempts_and_stopping_tests_are_not_retried() {
        let p = policy(5, 2);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p);
        let cancelled = AttemptFailure::Transport(HttpError::Cancelled);
        assert_eq!(
            a.next(
                Some(&cancelled),
                None,
                false,
                None,
                Instant::now(),
                &mut rng
            ),
            None
        );
        let mut a = Attempts::new(&p);
        assert_eq!(
            a.next(Some(&REFUSED), None, true, None, Instant::now(), &mut rng),
            None
        );
        assert_eq!(a.outcome().retries, [0, 0, 0]);
    }

    #[test]
    fn the_storm_budget_denies_and_says_so() {
        let p = policy(5, 2);
        let now = Instant::now();
        let storm = RetryBudget::new(
            now,
            RetryBudgetConfig {
                ratio: 0.0,
                min_per_s: 0.1,
            },
        );
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p);
        // 0.1 per second over 10 s: one retry in the window.
        assert!(a
            .next(Some(&REFUSED), None, false, Some(&storm), now, &mut rng)
            .is_some());
        a.retrying();
        assert_eq!(
            a.next(Some(&REFUSED), None, false, Some(&storm), now, &mut rng),
            None
        );
        let o = a.outcome();
        assert!(o.storm_denied);
        assert_eq!((o.attempts, o.retries), (2, [1, 0, 0]));
    }

    #[test]
    fn a_retry_cut_short_before_it_is_sent_is_not_counted() {
        let p = policy(5, 2);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut a = Attempts::new(&p);
        assert!(a
            .next(Some(&REFUSED), None, false, None, Instant::now(), &mut rng)
            .is_some());
        // The test ends during the backoff: the retry never leaves.
        let o = a.outcome();
        assert_eq!((o.attempts, o.retries), (1, [0, 0, 0]));
    }

    #[test]
    fn retry_after_is_honoured_up_to_max_delay() {
        let p = Policy::from_arg(&RetryArg {
            max_delay: Some(2.0),
            ..RetryArg::default()
        });
        let mut rng = SmallRng::seed_from_u64(1);
        let busy = AttemptFailure::Response {
            status: 503,
            assertion_failed: false,
            unexpected_body: false,
        };
        let mut a = Attempts::new(&p);
        let d = a.next(
            Some(&busy),
            Some(Duration::from_secs(1)),
            false,
            None,
            Instant::now(),
            &mut rng,
        );
        assert_eq!(d, Some(Duration::from_secs(1)));
        let d = a.next(
            Some(&busy),
            Some(Duration::from_secs(60)),
            false,
            None,
            Instant::now(),
            &mut rng,
        );
        assert_eq!(d, Some(Duration::from_secs(2)));
    }
}
