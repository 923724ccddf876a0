//! loaddensity: a CI-grade HTTP load tester driven by LoadDensity action-JSON plans.
//!
//! # Where things live
//!
//! Data flows one way, and so do the imports:
//!
//! ```text
//! plan file ─► plan ─► commands ─► interpreter ─► engine ─► stats ─► reports ─► exit
//!             parse,   one module  runs actions,  users on   merged   one writer  one code
//!             validate per LD_*    owns the run   a worker   counters per format  table
//!                      family      state          pool       and HDR
//! ```
//!
//! - [`plan`]: bytes → actions with positions → typed commands. Every problem
//!   of every plan is found before anything runs (`validate_str` for tests).
//! - [`schema`]: the plan JSON Schema, generated from `commands::COMMANDS`;
//!   [`manual`]: shell completions and man pages, from the clap definition.
//! - [`registry`]: the interface a command implements (`Command`, `CommandSpec`,
//!   `Param`); [`commands`]: the commands themselves and `COMMANDS`, the one
//!   table that `loaddensity commands`, the validator and the docs test read.
//! - `interpreter`: the run state (`Context`: variables, installed controls,
//!   results so far), passed down explicitly; no process-wide globals but the
//!   signal flag and the terminal.
//! - `engine`: one test: users as state on a pool of worker threads (`pool`,
//!   `user`, `clock` decides when and why the test ends), HTTP from `http`.
//! - The reliability controls are separate modules with narrow interfaces:
//!   `retry` (classify → budget → backoff), `budget` (sliding-window breaker),
//!   `conditioner` (latency, loss, bandwidth per attempt), [`supervisor`]
//!   (orphan prelude, watchdog, signals).
//! - `stats`: what was measured, as plain data (`model`) and the per-request
//!   stream; `reports`: pure functions from that data to files; `exit`: the
//!   exit-code table and its precedence, decided in one place.
//!
//! # Never
//!
//! - The engine never imports `reports`, `commands` or `interpreter`; `stats`
//!   and `reports` never import the engine.
//! - Nothing below the interpreter sees `serde_json::Value` plans, and nothing
//!   but `main` ends the process, except the watchdog's and a second signal's
//!   hard exit (with the codes from `exit`).
//! - Code and docs stand alone: measured facts behind a design (why the
//!   HTTP/1.1 client is hand-written) are in `docs/` and `bench/README.md`.
//!
//! One import loop is meant: `registry` ↔ `interpreter` ↔ `plan::validate`,
//! because commands such as `LD_execute_action` hold nested action lists that
//! are validated with the same table and run by the same interpreter.

pub(crate) mod budget;
pub mod cli;
pub mod commands;
pub(crate) mod conditioner;
pub(crate) mod data_source;
pub mod demo_server;
pub(crate) mod engine;
pub(crate) mod exit;
pub(crate) mod http;
pub mod import;
pub(crate) mod interpreter;
pub mod manual;
pub(crate) mod merge;
pub(crate) mod metrics;
pub(crate) mod overrides;
pub mod plan;
pub mod registry;
pub(crate) mod reports;
pub(crate) mod resolver;
pub(crate) mod result_file;
pub(crate) mod retry;
pub mod schema;
pub(crate) mod segment;
pub(crate) mod start_at;
pub(crate) mod stats;
pub(crate) mod stop;
pub mod store;
pub mod supervisor;
pub(crate) mod sync;
pub(crate) mod ui;
pub(crate) mod units;
