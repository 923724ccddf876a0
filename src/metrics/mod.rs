//! Live metrics for Prometheus: the test's clock publishes what the workers
//! measured into a [`board::Board`] once a second; the [`exporter`] serves
//! the board as OpenMetrics text ([`exposition`]) at `/metrics`. A scrape
//! reads the board only: it never touches a worker's recorder, so scraping
//! costs the load nothing.

pub mod board;
pub mod exporter;
pub mod exposition;

pub use board::Board;
pub use exporter::Exporter;
