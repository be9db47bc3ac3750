//! The post-processor: run folder → report.html, summary.json, junit.xml.

pub mod analyse;
pub mod collect;
pub mod goose_json;
pub mod load;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::error::Result;

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// A baseline run folder to compare with.
    pub baseline: Option<PathBuf>,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
}

/// What rendering found.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    /// Path of report.html.
    pub html: PathBuf,
    /// Path of summary.json.
    pub summary: PathBuf,
    /// True when an SLO failed on a judged (hold) window.
    pub slo_failed: bool,
    /// True when a baseline was given and this run regressed against it.
    pub regression: bool,
    /// The most viewers at which every SLO held, if any window passed.
    pub capacity: Option<usize>,
    /// A one-screen text summary for the terminal.
    pub text: String,
}

/// Render the report of the run in `run_dir`.
pub fn render_run(run_dir: &Path, options: &ReportOptions) -> Result<ReportOutcome> {
    let _ = (run_dir, options);
    todo!("filled in by the report work")
}
