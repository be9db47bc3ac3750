//! `dashload worker --manager URL`, and `run`'s distributed-run flags: a
//! manager with its workers (`cluster/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cluster::manager::{ManagerOptions, OnLoss, Workers};
use crate::error::Result;

/// The longest `--join-timeout` / `--connect-timeout` (one day, in seconds): a
/// wait is added to the clock, and 2^64 - 1 seconds overflowed it (a panic).
pub const MAX_WAIT_SECS: u64 = 86_400;

/// `run`'s flags for a distributed run.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Run distributed: `local:N` starts N worker processes on this machine; `N`
    /// waits for N workers to dial in (`dashload worker --manager …`). Each worker
    /// runs its share of every stage and step; one report comes out.
    #[arg(long, value_name = "local:N|N", value_parser = Workers::parse)]
    pub workers: Option<Workers>,
    /// Where the manager listens for its workers. Off loopback a token is
    /// required (DASHLOAD_CLUSTER_TOKEN or DASHLOAD_CLUSTER_TOKEN_FILE).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        requires = "workers"
    )]
    pub listen: SocketAddr,
    /// When a worker is lost mid-run: `abort` stops the others (the run is
    /// interrupted, judged up to the loss); `continue` keeps going and marks the
    /// later windows degraded, not judged. Losing the sync job's worker always stops.
    #[arg(long, value_enum, default_value = "abort", requires = "workers")]
    pub on_worker_loss: OnLoss,
    /// How long the manager waits for every worker to join and be ready (seconds).
    #[arg(long, value_name = "SECS", default_value_t = 120, requires = "workers",
          value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS))]
    pub join_timeout: u64,
}

impl ClusterArgs {
    /// The manager's options, when `--workers` was given.
    pub fn manager_options(&self, set: &[String]) -> Result<Option<ManagerOptions>> {
        Ok(self.workers.map(|workers| ManagerOptions {
            workers,
            listen: self.listen,
            on_loss: self.on_worker_loss,
            join_timeout: Duration::from_secs(self.join_timeout),
            set: set.to_vec(),
        }))
    }
}

/// Arguments of `worker`.
#[derive(Debug, Args)]
#[command(
    after_help = "The token comes from DASHLOAD_CLUSTER_TOKEN or DASHLOAD_CLUSTER_TOKEN_FILE (never a flag).\nExample:\n  DASHLOAD_CLUSTER_TOKEN_FILE=/etc/dashload/token dashload worker --manager http://manager:7700"
)]
pub struct WorkerArgs {
    /// The manager's URL (`dashload run … --workers N --listen ADDR`).
    #[arg(long, value_name = "URL")]
    pub manager: url::Url,
    /// This worker's index (0 runs the sync job); default: the Kubernetes Indexed
    /// Job's JOB_COMPLETION_INDEX, else the first free one.
    #[arg(long, value_name = "N", env = "JOB_COMPLETION_INDEX")]
    pub index: Option<usize>,
    /// Where this worker's own run folder goes until the manager has its files.
    #[arg(long, value_name = "DIR", default_value = "worker-runs")]
    pub reports_dir: PathBuf,
    /// Keep the worker's run folder after the manager acknowledged its files.
    #[arg(long)]
    pub keep_files: bool,
    /// How long to keep trying to reach the manager (seconds).
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT_SECS))]
    pub connect_timeout: u64,
}

/// Run one worker; its exit code.
pub fn exec(args: WorkerArgs) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    runtime.block_on(crate::cluster::worker::run(
        crate::cluster::worker::WorkerOptions {
            manager: args.manager,
            index: args.index,
            reports_dir: args.reports_dir,
            keep_files: args.keep_files,
            connect_timeout: Duration::from_secs(args.connect_timeout),
        },
    ))
}
