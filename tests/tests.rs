//! The integration tests, one binary: a module per area, one harness in
//! `common`. Every test sends traffic to 127.0.0.1 only.

mod common;

mod bodies;
mod budget_gates;
mod cli_plans;
mod compression_uploads;
mod conditioner;
mod console;
mod data_sources;
mod deploy_files;
mod docs_sync;
mod engine;
mod github;
mod html_report;
mod import;
mod install;
mod ld_reports;
mod load_shapes;
mod loaddensity_compat;
mod metrics;
mod open_model;
mod output;
mod pool;
mod proxy;
mod redirects_cookies;
mod retry;
mod run_store;
mod safe_defaults;
mod schema;
mod secrets;
mod segments;
mod supervisor;
mod tls;
