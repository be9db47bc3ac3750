//! The second phase: the load. Goose's attack, and beside it the monitor (the
//! plan's clock, the stress ladder), the live status, the drain at the load's
//! end, the faults, the side logs' flusher, the CPU sampler, the server
//! scraper, and a distributed run's worker's ticks to its manager. It returns
//! once the load is over, everything it started is stopped and the logs are
//! closed.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use goose::prelude::*;
use tokio::task::JoinHandle;

use super::drain::{drain_timeout, end_of_load};
use super::ladder::{Ladder, LadderOutcome};
use super::monitor::{monitor, GooseZero};
use super::prepare::{Folder, Prepared};
use super::role::{Load, WorkerRole};
use crate::cpu::{self, CpuLog};
use crate::error::Result;
use crate::faults::FaultRun;
use crate::interrupt;
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;
use crate::sandbox::Sandbox;
use crate::scenario::faults::{Fault, FaultAction};
use crate::scenario::Scenario;
use crate::server_metrics::scrape::ScrapeStats;
use crate::users::{self, IngestLog, RunContext};

/// A load that ran, with what the run folder's end needs.
pub(super) struct Attacked {
    pub folder: Folder,
    pub sandbox: Option<Sandbox>,
    pub live: Arc<Live>,
    pub context: Arc<RunContext>,
    /// The run's clock zero.
    pub clock: Instant,
    /// How long the load ran on that clock.
    pub ran_for: Duration,
    /// How Goose's attack ended.
    pub outcome: std::result::Result<(), GooseError>,
    /// The fault that failed and stopped the run, if one did.
    pub fault_failed: Option<String>,
    /// A signal, or anything but the ladder, cut the run short.
    pub interrupted: bool,
    pub holds: Holds,
    pub ladder: LadderOutcome,
    pub scrapes: ScrapeStats,
    pub cpu_log: Arc<Mutex<CpuLog>>,
}

/// Run the load of a prepared run.
pub(super) async fn attack(prepared: Prepared) -> Result<Attacked> {
    let Prepared {
        scenario,
        plan,
        worker,
        sandbox,
        endpoints,
        folder,
        live,
        context,
        ingest,
        request_log,
        goose,
        goose_verbose,
    } = prepared;

    let outcome = LadderOutcome::default();
    // A previous run in this process may have ended through Goose's killswitch
    // (a ladder stop, the windows' end): Goose clears it only once the attack
    // starts, and until then the tasks below would take it for this run's end.
    // A signal since is counted by `interrupt`, which sets it again.
    goose::reset_killswitch();
    let holds = Holds::of(&scenario, &plan);
    if plan.shifted() {
        // Every user is launched at once: the windows' viewers load as the cap says.
        live.set_viewer_cap(plan.viewers_at(Duration::ZERO) as u64);
    }
    // The run's clock: the monitor's zero, and the one `goose_clock_offset_ms`
    // relates Goose's (the request log's) to, so a ladder stop's times convert.
    let clock = Instant::now();
    let monitor = spawn_monitor(
        (&scenario, &plan, worker.is_some()),
        clock,
        &context,
        &outcome,
        &holds,
    );

    let status = tokio::spawn(crate::progress::show(
        plan.clone(),
        live.clone(),
        crate::progress::Output::detect(),
    ));
    let ender = tokio::spawn(end_of_load(
        context.run_end.clone(),
        live.clone(),
        drain_timeout(&scenario),
    ));
    let faults = start_faults(
        &scenario,
        worker.as_deref(),
        sandbox.as_ref(),
        (&folder.run_dir, clock),
        &context,
    )?;
    let flusher = spawn_flusher(ingest.clone());
    let cpu_log: Arc<Mutex<CpuLog>> = Arc::default();
    let sampler = tokio::spawn(cpu::sample(clock, cpu_log.clone()));
    // A distributed run's manager scrapes the target once for all its workers.
    let scraper = match &worker {
        Some(_) => None,
        None => crate::server_metrics::scrape::start_for_run(
            &scenario.server_metrics,
            &endpoints,
            clock,
            &folder.partial,
        )?,
    };
    let ticker = worker.as_ref().map(|w| {
        w.clone().spawn_ticks(Load {
            live: live.clone(),
            plan: plan.clone(),
            clock,
            ladder: outcome.clone(),
            holds: holds.clone(),
        })
    });
    let quiet = if goose_verbose {
        None
    } else {
        crate::quiet_stdout::Silenced::start()
    };
    let goose_outcome = goose.execute().await.map(|_| ());
    drop(quiet);
    // Faults first: stop commands run as soon as the load is over.
    let fault_failed = faults.finish().await?;
    if let Some(t) = ticker {
        t.abort();
    }
    live.stop();
    ender.abort();
    monitor.abort();
    sampler.abort();
    status.abort();
    // Wait for the status task to go, so its terminal line is cleared before the summary.
    let _ = status.await;
    let ran_for = clock.elapsed();

    // A signal, or anything but the ladder triggering Goose's killswitch, cut the run short.
    let interrupted = interrupt::count() > 0
        || (goose::is_killswitch_triggered() && !outcome.triggered.load(Ordering::SeqCst));
    flusher.abort();
    request_log.finish()?;
    ingest.finish()?;
    if let Some(live_viewers) = &context.live_viewers {
        live_viewers.finish().await;
    }
    let scrapes = match scraper {
        // After a signal the run ends now: no last scrape.
        Some(s) => s.finish(interrupt::count() == 0).await,
        None => Default::default(),
    };
    Ok(Attacked {
        folder,
        sandbox,
        live,
        context,
        clock,
        ran_for,
        outcome: goose_outcome,
        fault_failed,
        interrupted,
        holds,
        ladder: outcome,
        scrapes,
        cpu_log,
    })
}

/// The monitor beside the attack: judges the ladder's stop condition per step
/// (a worker's manager judges it instead), and wakes sleeping users when the
/// plan is over.
fn spawn_monitor(
    (scenario, plan, managed): (&Scenario, &Plan, bool),
    clock: Instant,
    context: &Arc<RunContext>,
    outcome: &LadderOutcome,
    holds: &Holds,
) -> JoinHandle<()> {
    let mut ladder = Ladder::of(scenario, plan);
    if managed {
        // The manager judges the ladder on every worker's figures, and orders
        // the recovery phase on every worker at once.
        ladder.stop_when.when.clear();
        ladder.managed = true;
    }
    let goose_zero: GooseZero = {
        let context = context.clone();
        Arc::new(move || context.goose_started.get().copied())
    };
    tokio::spawn(monitor(
        (
            tokio::time::Instant::from_std(clock),
            plan.clone(),
            goose_zero,
        ),
        ladder,
        context.live.clone(),
        outcome.clone(),
        holds.clone(),
    ))
}

/// Start the scenario's faults on the run's `clock`. A distributed run's
/// command faults run once: on worker 0, the sync job's (its loss stops the
/// run anyway), never on every worker.
fn start_faults(
    scenario: &Scenario,
    worker: Option<&dyn WorkerRole>,
    sandbox: Option<&Sandbox>,
    (run_dir, clock): (&Path, Instant),
    context: &Arc<RunContext>,
) -> Result<FaultRun> {
    let faults: Vec<Fault> = scenario
        .faults
        .iter()
        .filter(|f| match worker {
            Some(w) => w.runs_command_faults() || !matches!(f.action, FaultAction::Command { .. }),
            None => true,
        })
        .cloned()
        .collect();
    FaultRun::start(
        &faults,
        sandbox.map(|s| s.state().clone()),
        run_dir,
        clock,
        {
            let context = context.clone();
            move || context.goose_started.get().copied()
        },
    )
}

/// Flush the side logs every second, so `kill -9` loses at most a second of
/// them (the request log flushes itself: `users::request_log`).
fn spawn_flusher(ingest: IngestLog) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(users::request_log::FLUSH_EVERY);
        loop {
            every.tick().await;
            ingest.flush();
        }
    })
}
