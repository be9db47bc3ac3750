//! What a run is asked to do, and what it produced.

use std::path::PathBuf;
use std::sync::Arc;

use goose::config::GooseConfiguration;

use super::role::WorkerRole;
use crate::report::{ReportOptions, ReportOutcome};
use crate::runfolder::RunMeta;

/// How to run.
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Where run folders go.
    pub reports_dir: PathBuf,
    /// How to render the report: its baselines and extra outputs (`progress`
    /// is set by the run).
    pub report: ReportOptions,
    /// Goose's configuration from the command line (report and log paths are set here).
    pub goose: GooseConfiguration,
    /// True when the command line set Goose's own load shape (-u/-t/--test-plan/--iterations):
    /// the scenario's stages are then not used.
    pub goose_shape: bool,
    /// Users Goose launches in total under `goose_shape`.
    pub goose_total_users: Option<usize>,
    /// Render the report at the end.
    pub render: bool,
    /// `--set` and `DASHLOAD_TARGET_*` overrides of the scenario file.
    pub overrides: crate::scenario::Overrides,
    /// A distributed run's worker: the hooks through which it runs its share
    /// in step with its manager (`cluster::worker`). `None` for a run of its own.
    pub worker: Option<Arc<dyn WorkerRole>>,
}

/// What a run produced.
pub struct RunResult {
    /// The run folder.
    pub run_dir: PathBuf,
    /// run.json as written at the end.
    pub meta: RunMeta,
    /// The rendered report, when rendered.
    pub report: Option<ReportOutcome>,
    /// What the embedded sandbox counted (sandbox runs only).
    pub sandbox: Option<crate::sandbox::SandboxCounters>,
}
