//! The process supervisor: an exact orphan-kill prelude (`orphans`, using the
//! run marker of [`marker`]), and the run's interrupts (`control`): a hard
//! wall-clock watchdog and graceful SIGINT / SIGTERM.

pub(crate) mod control;
pub mod marker;
pub(crate) mod orphans;

pub(crate) use control::{Interrupt, RunControl, WatchdogGuard};
