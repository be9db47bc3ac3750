//! dashload's integration tests: one binary (see STYLE.md), one module per area.
//!
//! - `cli`: exit codes and messages of the built binary.
//! - `smoke_run`: an end-to-end run of scenarios/smoke.toml against the embedded sandbox.

mod cli;
mod smoke_run;
mod util;
