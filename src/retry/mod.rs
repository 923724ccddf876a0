//! Adaptive retry: every failed attempt gets one [`ErrorClass`]; each class has
//! a retry budget per logical request; delays grow exponentially with jitter
//! and never exceed `max_delay`; a run-wide [`storm::RetryBudget`] stops a
//! degraded service from being hammered harder by its own tester.
//!
//! After each attempt the engine asks [`Attempts::next`], which answers, in
//! this order: success? → [`classify`] → [`Policy::allows`] (class budget) →
//! stopping? → [`storm::RetryBudget::try_retry`] (run-wide budget) → the delay
//! ([`Policy::delay`] or `Retry-After`), which the engine waits on the stop
//! signal.

pub mod attempts;
pub mod classify;
pub mod policy;
pub mod storm;

pub use attempts::Attempts;
pub use classify::AttemptFailure;
pub use policy::{Policy, RetryArg};
pub use storm::RetryBudgetConfig;
