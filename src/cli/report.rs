//! `dashload report RUN_DIR [--baseline DIR]…`: render a run folder's report.

use std::path::PathBuf;

use clap::Args;

use crate::error::{exit_code, Result};
use crate::report::{render_run, ReportOptions};

/// Arguments of `report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  dashload report reports/20261123T101500Z-staged --baseline reports/20261116T101500Z-staged\n  dashload report RUN --baseline A --baseline B --baseline C   the median of three runs\n  dashload report RUN --workers w0/RUN0 w1/RUN1          a distributed run whose manager died"
)]
pub struct ReportArgs {
    /// The run folder (reports/<run-id>).
    pub run_dir: PathBuf,
    /// A baseline run folder: the report shows deltas and exits 3 on a regression.
    /// Given more than once, the baseline is those runs: each figure their median,
    /// the gate their samples pooled (what `run --baseline median:N` does).
    #[arg(long, value_name = "DIR")]
    pub baseline: Vec<PathBuf>,
    /// Also write junit.xml to FILE (parent folders created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary for a pull-request comment to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// End the Markdown summary with links to the report and the CI job, left as
    /// `{{REPORT_URL}}` and `{{JOB_URL}}` for CI to fill.
    #[arg(long, requires = "markdown")]
    pub markdown_links: bool,
    /// A distributed run whose manager died: the workers' own run folders
    /// (each holds worker.json), taken in to finish it. Give each worker's folder.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub workers: Vec<PathBuf>,
}

/// Render, print the summary, and return the verdict's exit code.
pub fn exec(args: ReportArgs) -> Result<u8> {
    let options = ReportOptions {
        baselines: args.baseline,
        junit: args.junit,
        markdown: args.markdown,
        markdown_links: args.markdown_links,
        progress: true,
        ..Default::default()
    };
    // A distributed run whose manager died takes in its workers' folders; then
    // a folder its run left unfinished (killed, or stopped by a second signal)
    // is finished, as far as its files are whole.
    if let Some(adopted) = crate::cluster::adopt::finish(&args.run_dir, &args.workers)? {
        eprintln!("dashload report: {}: {adopted}", args.run_dir.display());
    }
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
