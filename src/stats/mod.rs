//! Statistics: workers record into their own [`recorder`]s; merged snapshots
//! become the plain-data [`model`] that reports serialise.

pub mod model;
pub use model::*;
