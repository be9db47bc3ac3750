//! `dashload report RUN_DIR [--baseline DIR]`: render a run folder's report.

use std::path::PathBuf;

use clap::Args;

use crate::error::{exit_code, Result};
use crate::report::{render_run, ReportOptions};

/// Arguments of `report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  dashload report reports/20261123T101500Z-staged --baseline reports/20261116T101500Z-staged"
)]
pub struct ReportArgs {
    /// The run folder (reports/<run-id>).
    pub run_dir: PathBuf,
    /// A baseline run folder: the report shows deltas and exits 3 on a regression.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
}

/// Render, print the summary, and return the verdict's exit code.
pub fn exec(args: ReportArgs) -> Result<u8> {
    let options = ReportOptions {
        baseline: args.baseline,
        progress: true,
        ..Default::default()
    };
    // A folder its run left unfinished (killed, or stopped by a second signal) is
    // finished first, as far as its files are whole.
    if let Some(recovery) = crate::runfolder::recover::recover(&args.run_dir)? {
        eprintln!("dashload report: {}: {recovery}", args.run_dir.display());
    }
    let outcome = render_run(&args.run_dir, &options)?;
    println!("{}", outcome.text);
    Ok(verdict_code(outcome.failed(), outcome.regression))
}

/// The exit code of a verdict: a failed run (an SLO failed, or the run could not
/// be judged) outranks a regression.
pub fn verdict_code(failed: bool, regression: bool) -> u8 {
    if failed {
        exit_code::SLO_FAILED
    } else if regression {
        exit_code::REGRESSION
    } else {
        exit_code::OK
    }
}
