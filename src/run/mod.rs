//! One run, end to end, as a sequence of phases that a run of its own and a
//! distributed run's worker both go through: [`prepare`] (the scenario, the
//! stack, the run folder, Goose), the attack (the load, with the monitor and
//! the stress ladder beside it), the end (run.json, the folder finished), then
//! the report. A worker's part comes in as a [`WorkerRole`] in
//! [`RunOptions::worker`]; nothing here knows the cluster.
//!
//! Goose writes its files into `<run>/.partial/`; they are renamed into the run
//! folder only when complete, so a reader never sees half a file. run.json is
//! written before the first request (marked not ended), and the run holds
//! `.run.lock` until its folder is finished, so a run killed outright leaves a
//! folder `dashload report` recovers (`runfolder::recover`).
//!
//! The load ends on the plan's clock, not when Goose's last transaction returns
//! (`drain.rs`, `run_end.rs`), and signals are handled by `interrupt.rs`.

mod attack;
mod drain;
pub(crate) mod end;
pub mod ladder;
mod monitor;
mod options;
pub mod prepare;
pub(crate) mod report;
pub mod role;

use crate::error::Result;
use crate::interrupt::{self, Stage};

pub use options::{RunOptions, RunResult};
pub use role::WorkerRole;

/// Run a scenario. Signals (Ctrl-C, SIGTERM) stop it as `interrupt.rs` says.
pub async fn run(options: RunOptions) -> Result<RunResult> {
    interrupt::install();
    interrupt::enter(Stage::Preparing);
    let result = phases(options).await;
    interrupt::enter(Stage::Idle);
    result
}

/// Prepare, attack, end, report.
async fn phases(options: RunOptions) -> Result<RunResult> {
    let report_options = options.render.then(|| options.report.clone());
    let prepared = prepare::prepare(options).await?;
    let attacked = attack::attack(prepared).await?;
    let ended = end::end(attacked).await?;
    let report = report::report(&ended.run_dir, report_options).await?;
    Ok(RunResult {
        run_dir: ended.run_dir,
        meta: ended.meta,
        report,
        sandbox: ended.sandbox,
    })
}
