//! The exit-code table: the public contract between a run and the CI pipeline
//! that reads its status. One place decides; `main` only reports.

use crate::supervisor::Interrupt;
use std::fmt;
use std::process::ExitCode;

/// Why the run ended, declared in precedence order (the derived `Ord` is the
/// precedence): when several happen, the most specific wins, so combining two
/// is `a.max(b)`: `Invalid`, `Interrupted*`, `Watchdog`, `BudgetTripped`,
/// `GeneratorSaturated`, `GateFailed`, `ActionFailed`, `NoCompletedRequests`,
/// `Pass`, highest first. A saturated generator outranks a failed gate: a
/// latency gate judged on figures the generator itself distorted says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// `0`: everything passed.
    Pass,
    /// `1`: a test completed no request (all cut off, or none sent), and its
    /// plan did not say that was expected.
    NoCompletedRequests,
    /// `1`: an action failed at run time.
    ActionFailed,
    /// `4`: a threshold/gate (`LD_assert_sla`) failed.
    GateFailed,
    /// `5`: in an arrival-rate test, the generator itself was the bottleneck
    /// (iterations started late while users were free, or its workers' CPU
    /// stayed saturated): the measurement is not trustworthy.
    GeneratorSaturated,
    /// `3`: the failure budget tripped.
    BudgetTripped,
    /// `124`: the watchdog fired.
    Watchdog,
    /// `143`: interrupted by SIGTERM.
    InterruptedTerm,
    /// `130`: interrupted by SIGINT.
    InterruptedInt,
    /// `2`: bad usage or an invalid plan; nothing was run.
    Invalid,
}

impl Outcome {
    /// Every outcome, lowest precedence first.
    pub const ALL: [Outcome; 10] = [
        Outcome::Pass,
        Outcome::NoCompletedRequests,
        Outcome::ActionFailed,
        Outcome::GateFailed,
        Outcome::GeneratorSaturated,
        Outcome::BudgetTripped,
        Outcome::Watchdog,
        Outcome::InterruptedTerm,
        Outcome::InterruptedInt,
        Outcome::Invalid,
    ];

    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            Outcome::Pass => 0,
            Outcome::ActionFailed | Outcome::NoCompletedRequests => 1,
            Outcome::Invalid => 2,
            Outcome::BudgetTripped => 3,
            Outcome::GateFailed => 4,
            Outcome::GeneratorSaturated => 5,
            Outcome::Watchdog => 124,
            Outcome::InterruptedInt => 130,
            Outcome::InterruptedTerm => 143,
        }
    }

    /// The `exit_reason` the summary report carries.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::ActionFailed => "action_failed",
            Outcome::NoCompletedRequests => "no_completed_requests",
            Outcome::Invalid => "invalid_plan",
            Outcome::BudgetTripped => "budget_tripped",
            Outcome::GateFailed => "gate_failed",
            Outcome::GeneratorSaturated => "generator_saturated",
            Outcome::Watchdog => "watchdog",
            Outcome::InterruptedInt => "interrupted_sigint",
            Outcome::InterruptedTerm => "interrupted_sigterm",
        }
    }
}

impl From<Interrupt> for Outcome {
    fn from(why: Interrupt) -> Outcome {
        match why {
            Interrupt::Watchdog => Outcome::Watchdog,
            Interrupt::SigTerm => Outcome::InterruptedTerm,
            Interrupt::SigInt => Outcome::InterruptedInt,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        // Every code in the table fits a byte.
        ExitCode::from(o.code() as u8)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let codes: Vec<i32> = Outcome::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(codes, vec![0, 1, 1, 4, 5, 3, 124, 143, 130, 2]);
    }

    #[test]
    fn precedence_follows_the_table() {
        use Outcome::*;
        assert_eq!(Pass.max(NoCompletedRequests), NoCompletedRequests);
        assert_eq!(NoCompletedRequests.max(ActionFailed), ActionFailed);
        assert_eq!(Pass.max(ActionFailed), ActionFailed);
        assert_eq!(ActionFailed.max(GateFailed), GateFailed);
        assert_eq!(GateFailed.max(GeneratorSaturated), GeneratorSaturated);
        assert_eq!(GeneratorSaturated.max(BudgetTripped), BudgetTripped);
        assert_eq!(GateFailed.max(BudgetTripped), BudgetTripped);
        assert_eq!(BudgetTripped.max(Watchdog), Watchdog);
        assert_eq!(Watchdog.max(InterruptedTerm), InterruptedTerm);
        assert_eq!(Watchdog.max(InterruptedInt), InterruptedInt);
        assert_eq!(InterruptedInt.max(Invalid), Invalid);
        assert_eq!(Invalid.max(Pass), Invalid);
        assert_eq!(BudgetTripped.max(GateFailed), BudgetTripped);
        // ALL lists the outcomes in precedence order.
        assert!(Outcome::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn interrupts_map_to_their_codes() {
        assert_eq!(Outcome::from(Interrupt::Watchdog).code(), 124);
        assert_eq!(Outcome::from(Interrupt::SigInt).code(), 130);
        assert_eq!(Outcome::from(Interrupt::SigTerm).code(), 143);
    }
}
