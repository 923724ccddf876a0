//! loaddensity: a CI-grade HTTP load tester driven by LoadDensity action-JSON plans.
//!
//! Data flows one way:
//! file → [`plan`] (parse, validate) → [`registry`] → [`interpreter`] → [`engine`]
//! → [`stats`] → [`reports`] → [`exit`] code.

pub mod budget;
pub mod cli;
pub mod commands;
pub mod conditioner;
pub mod demo_server;
pub mod engine;
pub mod exit;
pub mod http;
pub mod interpreter;
pub mod plan;
pub mod registry;
pub mod reports;
pub mod resolver;
pub mod retry;
pub mod stats;
pub mod stop;
pub mod supervisor;
pub mod sync;
pub mod ui;
pub mod units;
