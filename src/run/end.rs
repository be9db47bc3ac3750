//! The third phase: the run folder finished. The partial files go in, the CPU
//! log is stored, run.json is completed (its end, the windows as they ran, the
//! holds, the counters) and the lock released; the embedded sandbox stops.
//! Then how the load ended says whether the run stands: Goose refusing its
//! options removes the folder, a failed fault or Goose failing is an error
//! that names the folder kept.

use goose::prelude::*;

use super::attack::Attacked;
use super::ladder::windows_as_run;
use super::monitor::goose_clock_offset_ms;
use crate::cpu;
use crate::error::{Error, Result};
use crate::runfolder::recover;
use crate::runfolder::{RunMeta, StageWindow};
use crate::sandbox::{Sandbox, SandboxCounters};

/// A finished run folder.
pub(super) struct Ended {
    pub run_dir: std::path::PathBuf,
    /// run.json as written at the end.
    pub meta: RunMeta,
    /// What the embedded sandbox counted (sandbox runs only).
    pub sandbox: Option<SandboxCounters>,
}

/// Finish the run folder of a load that ran.
pub(super) async fn end(attacked: Attacked) -> Result<Ended> {
    let Attacked {
        folder,
        sandbox,
        live,
        context,
        clock,
        ran_for,
        outcome,
        fault_failed,
        interrupted,
        holds,
        ladder,
        scrapes,
        cpu_log,
    } = attacked;
    let run_dir = folder.run_dir;
    let mut meta = folder.meta;
    recover::finish_partial(&run_dir)?;
    {
        let mut log = cpu_log.lock().expect("cpu log lock");
        if let Some(cpu) = cpu::process_cpu() {
            log.push(clock.elapsed(), cpu);
        }
        cpu::store(&log, &run_dir)?;
    }
    meta.ended_at = Some(folder.started + chrono::Duration::from_std(ran_for).unwrap_or_default());
    meta.interrupted = interrupted;
    meta.ladder_stop = ladder.stop.lock().expect("ladder stop lock").clone();
    let recovered: Vec<StageWindow> = ladder
        .recovery_windows
        .lock()
        .expect("recovery windows lock")
        .iter()
        .map(|w| StageWindow {
            // Cut short by Ctrl-C: it ended with the run.
            end_ms: w.end_ms.min(ran_for.as_millis() as u64),
            ..w.clone()
        })
        .collect();
    let refined = ladder
        .refine_windows
        .lock()
        .expect("refine windows lock")
        .clone();
    meta.windows = windows_as_run(
        holds.timeline().real_windows(&meta.windows),
        meta.ladder_stop.as_ref(),
        refined,
        recovered,
    );
    meta.judged_holds = holds.timeline().holds();
    meta.counters = live.counters();
    meta.counters.http_outside_log = context.outside.snapshot();
    meta.counters.server_scrapes = scrapes.scrapes;
    meta.counters.server_scrape_failures = scrapes.failed;
    meta.counters.goose_clock_offset_ms = context
        .goose_started
        .get()
        .map(|g| goose_clock_offset_ms(clock, *g));
    meta.store(&run_dir)?;
    folder.lock.release();
    let sandbox_counters = stop_sandbox(sandbox).await;
    if let Err(e) = outcome {
        // Thresholds are judged by our report. Goose refuses bad options before the
        // first request: that run never happened, so its folder goes. Any other
        // failure keeps the folder (with run.json) for inspection.
        match e {
            GooseError::ThresholdsFailed { .. } => {}
            refused @ GooseError::InvalidOption { .. } => {
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(Error::from(refused));
            }
            other => {
                return Err(Error::Goose(format!(
                    "{} (run folder: {})",
                    Error::from(other),
                    run_dir.display()
                )))
            }
        }
    }

    if let Some(failed) = fault_failed {
        return Err(Error::Other(anyhow::anyhow!(
            "{failed}: the run stopped after {:.1} s; its folder {} holds what ran (`dashload report {}` renders it)",
            ran_for.as_secs_f64(),
            run_dir.display(),
            run_dir.display()
        )));
    }
    Ok(Ended {
        run_dir,
        meta,
        sandbox: sandbox_counters,
    })
}

/// Stop the embedded sandbox, if this process ran one, with what it counted.
/// A distributed run's manager stops its own here too.
pub(crate) async fn stop_sandbox(sandbox: Option<Sandbox>) -> Option<SandboxCounters> {
    let sandbox = sandbox?;
    let counted = sandbox.counters();
    sandbox.stop().await;
    Some(counted)
}
