//! dashload: load tests for Grafana dashboards over InfluxDB, fed by a Toggl sync job.
//!
//! The library holds everything; `main.rs` only parses the command line and maps
//! errors to exit codes. The book's "Source layout"
//! (docs/src/layout.md) says how the parts fit.
#![warn(missing_docs)]

pub mod cli;
pub mod cluster;
pub mod cpu;
pub mod error;
pub mod export;
pub mod faults;
pub mod history;
pub mod interrupt;
pub mod judged_hold;
pub mod live;
pub mod plan;
pub mod progress;
#[cfg(test)]
mod proptest_support;
pub mod quiet_stdout;
pub mod redact;
pub mod report;
pub mod run;
pub mod run_end;
pub mod runfolder;
pub mod sampling;
pub mod sandbox;
pub mod scenario;
pub mod server_metrics;
pub mod target;
pub mod users;
pub mod workload;

pub use error::{Error, Result};
