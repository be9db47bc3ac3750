//! The last phase: the report, rendered from the finished run folder. A
//! distributed run's manager renders its merged folder here too.

use std::path::Path;

use crate::error::{Error, Result};
use crate::interrupt::{self, Stage};
use crate::report::{render_run, ReportOptions, ReportOutcome};

/// Render the report of `run_dir` when `options` ask for one, its progress
/// shown; a signal from here on stops the rendering, not the run.
pub(crate) async fn report(
    run_dir: &Path,
    options: Option<ReportOptions>,
) -> Result<Option<ReportOutcome>> {
    interrupt::enter(Stage::Rendering(run_dir.to_path_buf()));
    let Some(options) = options else {
        return Ok(None);
    };
    let options = ReportOptions {
        progress: true,
        ..options
    };
    let dir = run_dir.to_path_buf();
    let outcome = tokio::task::spawn_blocking(move || render_run(&dir, &options))
        .await
        .map_err(|e| Error::Report(format!("report rendering panicked: {e}")))??;
    Ok(Some(outcome))
}
