//! Adaptive retry: every failed attempt gets one [`ErrorClass`]; each class has
//! a retry budget per logical request; delays grow exponentially with jitter
//! and never exceed `max_delay`; a run-wide [`storm::RetryBudget`] stops a
//! degraded service from being hammered harder by its own tester.
//!
//! The engine asks three questions per failed attempt, in this order:
//! [`classify`] → [`Policy::allows`] (class budget) → [`storm::RetryBudget::try_retry`]
//! (run-wide budget), then sleeps [`Policy::delay`] on the stop signal.

pub mod classify;
pub mod policy;
pub mod storm;

pub use classify::{classify, AttemptFailure, ErrorClass};
pub use policy::{Policy, RetryArg};
