//! The process supervisor: an exact orphan-kill prelude ([`orphans`], using the
//! run marker of [`marker`]), and the run's interrupts ([`control`]): a hard
//! wall-clock watchdog and graceful SIGINT / SIGTERM.

pub mod control;
pub mod marker;
pub mod orphans;

pub use control::{Interrupt, RunControl, WatchdogGuard};
