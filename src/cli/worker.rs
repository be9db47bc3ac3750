//! `dashload worker --manager URL`, and `run`'s distributed-run flags: a
//! manager with its workers (`cluster/`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cluster::manager::{ManagerOptions, OnLoss, TlsChoice, Workers};
use crate::cluster::tls::Fingerprint;
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
    /// Serve the workers over TLS with this PEM certificate (chain); its
    /// SHA-256 fingerprint is printed for the workers' --manager-fingerprint.
    #[arg(long, value_name = "FILE", requires_all = ["workers", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate made at start (its fingerprint printed).
    #[arg(long, requires = "workers", conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Listen off loopback in plain HTTP (the token still never crosses the
    /// wire, and every message is signed, but the run's messages and files are
    /// readable on the network).
    #[arg(long, requires = "workers")]
    pub allow_plain_http: bool,
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
            tls: match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
                (Some(cert), Some(key), _) => TlsChoice::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                },
                (_, _, true) => TlsChoice::SelfSigned,
                _ => TlsChoice::None,
            },
            allow_plain_http: self.allow_plain_http,
        }))
    }
}

/// Arguments of `worker`.
#[derive(Debug, Args)]
#[command(
    after_help = "The token comes from DASHLOAD_CLUSTER_TOKEN or DASHLOAD_CLUSTER_TOKEN_FILE (never a flag), or --token-stdin.\nThe worker runs its own SCENARIO and --set overrides; the manager refuses it unless their digest is its own.\nExample:\n  DASHLOAD_CLUSTER_TOKEN_FILE=/etc/dashload/token dashload worker scenarios/staging.toml --manager https://manager:7700 --manager-fingerprint AB:CD:…"
)]
pub struct WorkerArgs {
    /// This worker's scenario file: the manager's, on this host's disk.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Override one scenario value, as `run --set` (repeatable; the same as the manager's).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The manager's URL (`dashload run … --workers N --listen ADDR`): https://
    /// with --manager-fingerprint, or http:// on loopback (or --allow-plain-http).
    #[arg(long, value_name = "URL")]
    pub manager: url::Url,
    /// The SHA-256 fingerprint of the manager's TLS certificate (printed by the
    /// manager at start; not a secret): the only certificate accepted.
    #[arg(long, value_name = "HEX", env = crate::cluster::tls::FINGERPRINT_ENV, value_parser = Fingerprint::parse)]
    pub manager_fingerprint: Option<Fingerprint>,
    /// Dial a manager off loopback in plain HTTP.
    #[arg(long)]
    pub allow_plain_http: bool,
    /// Read the cluster token from the first line of standard input (how
    /// `--workers local:N` hands it over, out of the process's environment).
    #[arg(long)]
    pub token_stdin: bool,
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
    let token = if args.token_stdin {
        Some(crate::cluster::token::Token::from_stdin()?)
    } else {
        None
    };
    runtime.block_on(crate::cluster::worker::run(
        crate::cluster::worker::WorkerOptions {
            scenario: args.scenario,
            set: args.set,
            fingerprint: args.manager_fingerprint,
            allow_plain_http: args.allow_plain_http,
            token,
            manager: args.manager,
            index: args.index,
            reports_dir: args.reports_dir,
            keep_files: args.keep_files,
            connect_timeout: Duration::from_secs(args.connect_timeout),
        },
    ))
}
