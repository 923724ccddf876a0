//! Statistics: workers record into their own [`recorder::Recorder`]s; merged
//! tallies become the plain-data [`model`] that reports serialise; [`records`]
//! keeps every test of the run.

pub mod model;
pub mod recorder;
pub mod records;
pub use model::*;
