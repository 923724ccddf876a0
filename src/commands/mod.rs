//! One module per family of `LD_*` commands: typed arguments, checks, handler.
//! The registry (`crate::registry`) lists them.

pub mod budget;
pub mod flow;
pub mod load;
pub mod log;
pub mod network;
pub mod reports;
pub mod server;
pub mod sla;
pub mod vars;
pub mod watchdog;
