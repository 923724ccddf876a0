//! The built-in demo target.
