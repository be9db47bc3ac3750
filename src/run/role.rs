//! A distributed run's worker as its run sees it: the hooks `cluster::worker`
//! implements and hands in through [`RunOptions::worker`](super::RunOptions),
//! so a run never names the cluster. A run of its own has none.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::ladder::LadderOutcome;
use crate::error::Result;
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;

/// One worker of a distributed run: it runs its share of the plan, and its
/// manager judges the ladder and the until-judged holds for every worker.
pub trait WorkerRole: Send + Sync {
    /// This worker's share of the whole run's `plan` (checked against the manager's).
    fn share(&self, plan: &Plan) -> Result<Plan>;
    /// The manager's embedded sandbox, for a scenario that targets one.
    fn sandbox_url(&self) -> Option<url::Url>;
    /// Its rank among the run's workers, and their count: its viewers' numbers
    /// in the whole run (`users::numbering`).
    fn rank(&self) -> (usize, usize);
    /// True for the one worker that runs the scenario's command faults.
    fn runs_command_faults(&self) -> bool;
    /// Stamp the run folder with the run and this worker's index, should its
    /// manager not finish.
    fn stamp(&self, run_dir: &Path) -> Result<()>;
    /// The barrier: resolves when every worker is ready and the load is to start.
    fn wait_for_start(&self) -> BoxFuture<'_, Result<()>>;
    /// Follow the manager while the load runs, until the task is aborted: report
    /// the run's figures, and obey its orders (the ladder's stop, the recovery
    /// drop, a hold's end) through `load`.
    fn spawn_ticks(self: Arc<Self>, load: Load) -> tokio::task::JoinHandle<()>;
}

/// The running load, as a worker's ticks read and steer it.
pub struct Load {
    /// The live figures and the users' controls.
    pub live: Arc<Live>,
    /// The worker's share of the plan.
    pub plan: Plan,
    /// The run's clock zero.
    pub clock: Instant,
    /// Where the ladder's stop and the recovery window go for run.json.
    pub ladder: LadderOutcome,
    /// The until-judged holds' timeline.
    pub holds: Holds,
}
