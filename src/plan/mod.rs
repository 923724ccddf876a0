//! Plans: file → [`source`] (bytes, size and UTF-8 checks) → [`parse`] (the
//! action structure with positions) → [`validate`] (typed commands). Every
//! problem of every plan is collected before anything runs.

pub mod parse;
pub mod problem;
pub mod source;
pub mod validate;

pub use problem::{Position, Problem};
pub use source::Source;
pub use validate::{Action, Plan, Validator};
