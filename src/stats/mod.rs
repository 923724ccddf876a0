//! Statistics: workers record into their own [`recorder::Recorder`]s; merged
//! tallies become the plain-data [`model`] that reports serialise; [`records`]
//! keeps every test of the run; [`request_log`] streams per-request rows when
//! a test asks for them.

pub mod loaddensity;
pub mod model;
pub mod recorder;
pub mod records;
pub mod request_log;
pub mod snapshot;
pub use model::*;
