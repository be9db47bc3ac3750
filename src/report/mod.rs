//! The post-processor: run folder → `report.html`, `summary.json`, `junit.xml`
//! (and `history.json`, the run's compact record: `crate::history::record`).
//!
//! [`render_run`] reads the run folder's files once ([`load`], streaming;
//! [`goose_json`] as a fallback), folds them into bounded accumulators
//! ([`collect`]), analyses them into a [`summary::Summary`] ([`analyse`],
//! [`baseline`]) and renders that one summary three ways: the page
//! ([`charts`] + [`html`]), `summary.json` and `junit.xml` ([`junit`]),
//! plus a one-screen text for the terminal. Rendering is CPU work and
//! synchronous: async callers run it under `spawn_blocking`.

pub mod analyse;
pub mod baseline;
pub mod charts;
pub mod classes;
pub mod collect;
pub mod console;
pub mod degradation;
pub mod evenness;
pub mod faults;
pub mod findings;
pub mod format;
pub mod generator;
pub mod goose_json;
pub mod health;
pub mod html;
pub mod judge;
pub mod junit;
pub mod latency;
pub mod latency_series;
pub mod live;
pub mod load;
pub mod markdown;
pub mod recovery;
pub mod regress;
pub mod series;
pub mod server;
pub mod span;
pub mod summary;
pub mod sync_attempts;
pub mod synthetic;
pub mod verdict;
pub mod window_index;

#[cfg(test)]
mod baseline_tests;
#[cfg(test)]
mod browser_server_tests;
#[cfg(test)]
pub(crate) mod browser_tests;
#[cfg(test)]
mod findings_tests;
#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::runfolder::{files, write_atomic, RunMeta, StageWindow, WindowKind};

use self::collect::Collected;
use self::regress::WindowBlocks;
use self::summary::{Summary, Verdict};
use crate::cluster::missing::MissingLogs;

/// How to render.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Baseline run folders to compare with: several are one baseline, each
    /// figure their median and the gate their samples pooled (`median:N`).
    pub baselines: Vec<PathBuf>,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// What counts as a regression against the baseline; `None`: the run's
    /// own `[regression]` rules from `run.json`.
    pub rules: Option<crate::runfolder::RegressionRules>,
    /// How the baselines were chosen, in words (`--baseline median:3`: which
    /// runs, or that none was found), shown with the comparison.
    pub baseline_selection: Option<String>,
    /// Also write `junit.xml` here (`--junit FILE`).
    pub junit: Option<PathBuf>,
    /// Also write the Markdown summary here (`--markdown FILE`).
    pub markdown: Option<PathBuf>,
    /// End the Markdown summary with placeholder links for CI to fill
    /// (`--markdown-links`).
    pub markdown_links: bool,
    /// `baselines` already read and analysed, in their order: `run` reads them
    /// before its load, so a baseline that cannot be read is dropped before
    /// anything is sent rather than costing the report after it.
    pub loaded: Option<Arc<Vec<LoadedBaseline>>>,
}

/// A baseline run read back: its summary and its hold windows' samples.
pub type LoadedBaseline = (Summary, Vec<WindowBlocks>);

/// What rendering found.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    /// Path of report.html.
    pub html: PathBuf,
    /// Path of summary.json.
    pub summary: PathBuf,
    /// True when an SLO failed on a judged (hold) window.
    pub slo_failed: bool,
    /// True when a baseline was given and this run regressed against it.
    pub regression: bool,
    /// The most viewers at which every SLO held, if any window passed.
    pub capacity: Option<usize>,
    /// Why a run that asked to be judged could not be (see `Summary::unmeasured`).
    pub unmeasured: Option<String>,
    /// A one-screen text summary for the terminal.
    pub text: String,
}

impl ReportOutcome {
    /// True when the verdict fails the run (exit 1): an SLO failed on a hold
    /// window, or the run could not be judged for lack of good data.
    pub fn failed(&self) -> bool {
        self.slo_failed || self.unmeasured.is_some()
    }
}

/// Render the report of the run in `run_dir`: writes `report.html`,
/// `summary.json` and `junit.xml` into it (each atomically), and the copies
/// `options` asks for.
pub fn render_run(run_dir: &Path, options: &ReportOptions) -> Result<ReportOutcome> {
    let meta = RunMeta::load(run_dir)?;
    let (mut summary, blocks) = summarise_with_samples(run_dir, &meta, options.progress)?;
    let bases = match &options.loaded {
        Some(loaded) => loaded.clone(),
        None => Arc::new(
            options
                .baselines
                .iter()
                .map(|dir| load_baseline(dir, options.progress))
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    if !bases.is_empty() {
        let rules = options
            .rules
            .clone()
            .unwrap_or_else(|| meta.regression.clone());
        let runs: Vec<baseline::BaseRun> = options
            .baselines
            .iter()
            .zip(bases.iter())
            .map(|(dir, (summary, blocks))| baseline::BaseRun {
                dir: dir.display().to_string(),
                summary,
                blocks,
            })
            .collect();
        let mut comparison = baseline::compare(&summary, &blocks, &runs, &rules);
        comparison.selection = options.baseline_selection.clone();
        summary.regression = !comparison.regressions.is_empty();
        summary.baseline = Some(comparison);
    } else if let Some(why) = &options.baseline_selection {
        summary.inputs.notes.push(format!("baseline: {why}"));
    }
    // The charts overlay one baseline: the first (the newest when chosen from history).
    let charts = charts::draw_all(&summary, bases.first().map(|(s, _)| s));
    let page = html::page(&summary, &charts);
    let html_path = run_dir.join(files::REPORT_HTML);
    let summary_path = run_dir.join(files::SUMMARY);
    write_atomic(&html_path, page.as_bytes())?;
    let json = serde_json::to_vec_pretty(&summary).map_err(anyhow::Error::from)?;
    write_atomic(&summary_path, &json)?;
    let junit = junit::junit(&summary);
    write_atomic(&run_dir.join(files::JUNIT), junit.as_bytes())?;
    if let Some(path) = &options.junit {
        write_out(path, junit.as_bytes())?;
    }
    if let Some(path) = &options.markdown {
        write_out(
            path,
            markdown::markdown(&summary, options.markdown_links).as_bytes(),
        )?;
    }
    // Last: the compact record the run index and baseline selection read.
    crate::history::record::write(run_dir, &summary, options.baselines.iter())?;
    Ok(ReportOutcome {
        text: console::text(&summary, &html_path),
        html: html_path,
        summary: summary_path,
        slo_failed: summary.slo_failed,
        regression: summary.regression,
        capacity: summary.capacity,
        unmeasured: summary.unmeasured.clone(),
    })
}

/// Write `bytes` to `path` atomically, creating its parent folders first
/// (`--junit out/junit.xml` in a fresh CI workspace).
fn write_out(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    write_atomic(path, bytes)
}

/// Read and analyse the run in `run_dir` (described by `meta`), without a baseline.
pub fn summarise(run_dir: &Path, meta: &RunMeta, progress: bool) -> Result<Summary> {
    summarise_with_samples(run_dir, meta, progress).map(|(s, _)| s)
}

/// [`summarise`], keeping each hold window's sample blocks for the regression gate.
pub fn summarise_with_samples(
    run_dir: &Path,
    meta: &RunMeta,
    progress: bool,
) -> Result<(Summary, Vec<WindowBlocks>)> {
    // The report's memory grows with the run's length: a run.json claiming an
    // absurd span (an end in the year 9999) is judged over a sane one instead.
    let (meta, span_note) = span::clamp(meta);
    let mut notes: Vec<String> = span_note.into_iter().collect();
    let ran_ms = meta
        .ended_at
        .map(|e| (e - meta.started_at).num_milliseconds().max(0) as u64)
        .unwrap_or(0);
    let mut meta = reached(&split_old_steps(&meta), ran_ms);
    // A lost worker's log never arrived: the windows it ran in are partial.
    let workers_file = crate::cluster::merge::WorkersFile::load(run_dir)
        .ok()
        .flatten();
    let missing = MissingLogs::of(run_dir, workers_file.as_ref());
    let partial = missing
        .as_ref()
        .map(|m| m.mark(&mut meta.windows))
        .unwrap_or_default();
    let meta = &meta;
    let planned_ms = meta.windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
    let mut c = Collected::new(&meta.windows, planned_ms.max(ran_ms));
    // Each auxiliary file that cannot be read costs its own part, said in a note.
    let mut degrade = |what: &str, e: Error| {
        notes.push(format!("{e}: {what}"));
    };
    let server = crate::server_metrics::read(&run_dir.join(files::SERVER)).unwrap_or_else(|e| {
        degrade("the server's counters are not shown", e);
        None
    });
    let offset = meta.counters.goose_clock_offset_ms.unwrap_or(0);
    if let Some(stop) = &meta.ladder_stop {
        if let Some(from) = stop.judged_from_ms {
            // The stop's times are on the run's clock; the log's on Goose's.
            let log = |ms: u64| (ms as i64 - offset).max(0) as u64;
            c.judge_as_stopped(&stop.step, log(from), log(stop.at_ms));
        }
    }
    c.server = server
        .as_ref()
        .map(|(s, _)| server::CountAcc::new(s, offset));
    let workers = crate::cluster::merge::read_logs(&mut c, run_dir, &meta.windows, progress)?;
    let no_log = c.requests_input.rows == 0;
    goose_json::read_goose_report(&mut c, &run_dir.join(files::GOOSE_JSON), no_log)?;
    let mut summary = analyse::analyse(meta, &c);
    // A distributed run's CPU is its workers' (each uploaded its cpu.csv).
    let cpu = match generator::read(&run_dir.join(files::CPU)) {
        Ok(Some(rows)) => generator::analyse(&rows, &meta.windows),
        Ok(None) if workers.is_some() => {
            crate::cluster::merge::generator_cpu(run_dir, &meta.windows).unwrap_or_else(|e| {
                degrade("the workers' CPU is not shown", e);
                None
            })
        }
        Ok(None) => None,
        Err(e) => {
            degrade("the generator's CPU is not shown", e);
            None
        }
    };
    summary.workers = workers;
    summary.health = health::RunHealth::new(std::mem::take(&mut summary.health.evenness), cpu);
    summary.server = server.map(|(samples, bad)| {
        server::analyse(
            &samples,
            bad,
            c.server.as_ref(),
            meta,
            &meta.windows,
            missing.as_ref().map(MissingLogs::cause).as_deref(),
        )
    });
    if let Some(m) = missing.as_ref().filter(|_| !partial.is_empty()) {
        not_judged_on_missing(&mut summary, m, &partial, !meta.slos.is_empty());
    }
    if let Some(d) = server::diagnose::diagnose(&summary) {
        if let Some(x) = summary.server.as_mut() {
            x.diagnosis = Some(d);
        }
    }
    summary.faults = faults::read(run_dir, &summary.series).unwrap_or_else(|e| {
        degrade("the fault timeline is not shown", e);
        Vec::new()
    });
    faults::measure_recovery(
        &mut summary.faults,
        &c.buckets,
        &meta.slos,
        meta.past_capacity.recovery_window_ms,
        ran_ms,
    );
    analyse::fold_fault_verdicts(&mut summary);
    summary.sync.resilience =
        sync_attempts::read(run_dir, &summary.faults, ran_ms).unwrap_or_else(|e| {
            degrade("the sync job's retries are not shown", e);
            None
        });
    summary.live = live::read(run_dir).unwrap_or_else(|e| {
        degrade("the Live section is not shown", e);
        None
    });
    summary.inputs.notes.append(&mut c.notes);
    summary.inputs.notes.append(&mut notes);
    // Goose's per-second graph data has counts but no latencies: no samples to judge.
    let blocks = if no_log {
        Vec::new()
    } else {
        c.windows.into_iter().filter_map(|w| w.blocks).collect()
    };
    Ok((summary, blocks))
}

/// Partial windows are shown, not judged (`cluster::missing`): the notes say
/// whom they miss, and a run left with no window judged whole fails as NOT
/// JUDGED on that cause, never passes on what is left.
fn not_judged_on_missing(summary: &mut Summary, m: &MissingLogs, partial: &[String], slos: bool) {
    let cause = m.cause();
    summary.inputs.notes.push(format!(
        "{cause}: {} shown, not judged.",
        partial.join("; ")
    ));
    if slos && summary.verdict == Verdict::NotJudged {
        summary.unmeasured = Some(match summary.unmeasured.take() {
            Some(why) => format!("{cause}; {why}"),
            None => format!("{cause}: no window was judged on every worker's samples"),
        });
    }
}

/// `meta` with only the windows the run reached: a ladder that stopped early or an
/// interrupted run never got to the later ones, and the one it stopped in ends there.
/// When `[stress] refine` followed the stop, its windows (written as they ran, from
/// the stop on) are kept up to the refine's end.
fn reached(meta: &RunMeta, ran_ms: u64) -> RunMeta {
    let (until, refined) = match (&meta.ladder_stop, meta.interrupted) {
        (Some(stop), _) => (stop.at_ms, stop.refined_until_ms),
        (None, true) if ran_ms > 0 => (ran_ms, None),
        _ => return meta.clone(),
    };
    let mut meta = meta.clone();
    // The recovery window, like the refine windows, was written as it ran.
    meta.windows.retain(|w| {
        w.start_ms < until
            || refined.is_some_and(|r| w.start_ms < r)
            || w.kind == WindowKind::Recovery
    });
    for w in &mut meta.windows {
        if w.kind == WindowKind::Recovery && w.start_ms >= until {
            continue;
        }
        let end = if w.start_ms < until {
            until
        } else {
            refined.unwrap_or(until)
        };
        w.end_ms = w.end_ms.min(end);
    }
    meta
}

/// `meta` with stress steps of older run.json files split into their ramp and hold.
///
/// Older dashload wrote one `step k` window (kind `stress_step`) over the step's
/// ramp and hold. The test plan says where the ramp ends: a step whose window holds
/// exactly one plan boundary inside it, and is not already preceded by its ramp
/// window, becomes `step k ramp` (kind `ramp`) and `step k` (the hold), as now.
fn split_old_steps(meta: &RunMeta) -> RunMeta {
    let Some(boundaries) = plan_boundaries_ms(&meta.test_plan) else {
        return meta.clone();
    };
    let mut out = meta.clone();
    out.windows.clear();
    for w in &meta.windows {
        let has_ramp = out
            .windows
            .last()
            .is_some_and(|p: &StageWindow| p.kind == WindowKind::Ramp && p.end_ms == w.start_ms);
        let inside: Vec<u64> = boundaries
            .iter()
            .copied()
            .filter(|b| w.start_ms < *b && *b < w.end_ms)
            .collect();
        // Refine windows (after a refined ladder stop) are written as they ran.
        let refine = meta
            .ladder_stop
            .as_ref()
            .is_some_and(|s| s.refined_until_ms.is_some() && w.start_ms >= s.at_ms);
        if w.kind == WindowKind::StressStep && !has_ramp && !refine && inside.len() == 1 {
            out.windows.push(StageWindow {
                name: format!("{} ramp", w.name),
                kind: WindowKind::Ramp,
                end_ms: inside[0],
                ..w.clone()
            });
            out.windows.push(StageWindow {
                start_ms: inside[0],
                ..w.clone()
            });
        } else {
            out.windows.push(w.clone());
        }
    }
    out
}

/// The end of every step of a Goose test plan (`users,5s;users,1m;…`), ms since the
/// start; `None` when the plan cannot be read.
fn plan_boundaries_ms(plan: &str) -> Option<Vec<u64>> {
    let mut t = 0;
    let mut out = Vec::new();
    for step in plan.split(';').filter(|s| !s.trim().is_empty()) {
        let (_, d) = step.split_once(',')?;
        let d = d.trim();
        let (n, unit) = d.split_at(d.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = n.parse().ok()?;
        t += n * match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        out.push(t);
    }
    Some(out)
}

/// The summary of a baseline run and its hold windows' samples, analysed
/// again from its files (the gate needs every sample, which `summary.json`
/// does not keep).
///
/// Its request log must be readable: a report degrades to a note without it,
/// but a baseline without samples cannot judge anything.
pub fn load_baseline(dir: &Path, progress: bool) -> Result<LoadedBaseline> {
    let unreadable =
        |e: &dyn std::fmt::Display| Error::Report(format!("baseline {}: {e}", dir.display()));
    let meta = RunMeta::load(dir).map_err(|e| unreadable(&e))?;
    let log = dir.join(files::REQUESTS);
    if let Err(e) = crate::runfolder::input::open_regular(&log) {
        return Err(unreadable(&format!("{}: {e}", log.display())));
    }
    summarise_with_samples(dir, &meta, progress).map_err(|e| unreadable(&e))
}

#[cfg(test)]
mod reached_tests {
    use super::*;
    use crate::runfolder::{LadderStop, RunCounters, StageWindow, TargetSummary, WindowKind};

    fn meta() -> RunMeta {
        let window = |name: &str, kind, viewers, start_ms, end_ms| StageWindow {
            name: name.into(),
            kind,
            viewers,
            start_ms,
            end_ms,
        };
        RunMeta {
            dashload_version: "test".into(),
            scenario: "s".into(),
            scenario_file: "s.toml".into(),
            scenario_digest: String::new(),
            seed: 1,
            target: TargetSummary {
                kind: "sandbox".into(),
                url: "(embedded)".into(),
                database: None,
            },
            test_plan: String::new(),
            sync_users: 1,
            windows: vec![
                window("stage 1 hold", WindowKind::Hold, 10, 0, 10_000),
                window("step 1", WindowKind::StressStep, 20, 10_000, 20_000),
                window("step 2", WindowKind::StressStep, 30, 20_000, 30_000),
            ],
            slos: Vec::new(),
            started_at: chrono::Utc::now(),
            ended_at: None,
            interrupted: false,
            ladder_stop: None,
            counters: RunCounters::default(),
            regression: Default::default(),
            overrides: Vec::new(),
            past_capacity: Default::default(),
            skipped: Vec::new(),
            judged_holds: Default::default(),
        }
    }

    #[test]
    fn only_windows_the_run_reached_are_kept() {
        let full = meta();
        assert_eq!(
            reached(&full, 31_000).windows,
            full.windows,
            "a run that ran its plan keeps every window"
        );
        let mut stopped = meta();
        stopped.ladder_stop = Some(LadderStop {
            step: "step 1".into(),
            viewers: 20,
            reason: "p95".into(),
            at_ms: 15_000,
            refined_until_ms: None,
            judged_from_ms: None,
        });
        let kept = reached(&stopped, 16_000).windows;
        assert_eq!(
            kept.iter()
                .map(|w| (w.name.as_str(), w.end_ms))
                .collect::<Vec<_>>(),
            [("stage 1 hold", 10_000), ("step 1", 15_000)]
        );
        let mut interrupted = meta();
        interrupted.interrupted = true;
        assert_eq!(reached(&interrupted, 5_000).windows.len(), 1);
    }

    #[test]
    fn refine_windows_after_a_ladder_stop_are_kept() {
        let window = |name: &str, kind, viewers, start_ms, end_ms| StageWindow {
            name: String::from(name),
            kind,
            viewers,
            start_ms,
            end_ms,
        };
        let mut refined = meta();
        // As run.rs writes it: the planned windows up to the stop, then the refine's.
        refined.windows.truncate(2);
        // A refine step without ramp (`ramp = "0s"`), spanning one plan boundary (20 s).
        refined.windows.push(window(
            "refine 1",
            WindowKind::StressStep,
            15,
            15_000,
            21_000,
        ));
        refined.test_plan = "11,0s;11,10s;21,2s;21,8s;31,2s;31,8s;31,22s;0,1s".into();
        refined.ladder_stop = Some(LadderStop {
            step: "step 1".into(),
            viewers: 20,
            reason: "p95".into(),
            at_ms: 15_000,
            refined_until_ms: Some(21_000),
            judged_from_ms: None,
        });
        let kept = reached(&split_old_steps(&refined), 26_000).windows;
        assert_eq!(
            kept.iter()
                .map(|w| (w.name.as_str(), w.viewers, w.start_ms, w.end_ms))
                .collect::<Vec<_>>(),
            [
                ("stage 1 hold", 10, 0, 10_000),
                ("step 1 ramp", 20, 10_000, 12_000),
                ("step 1", 20, 12_000, 15_000),
                ("refine 1", 15, 15_000, 21_000),
            ]
        );
    }

    #[test]
    fn old_stress_steps_spanning_ramp_and_hold_are_split_at_the_plan_boundary() {
        let mut old = meta();
        // stage 1 held 10 s; each step ramped 2 s and held 8 s.
        old.test_plan = "11,0s;11,10s;21,2s;21,8s;31,2s;31,8s;0,1s".into();
        let split = split_old_steps(&old);
        let shape: Vec<_> = split
            .windows
            .iter()
            .map(|w| (w.name.as_str(), w.kind, w.viewers, w.start_ms, w.end_ms))
            .collect();
        assert_eq!(
            shape,
            [
                ("stage 1 hold", WindowKind::Hold, 10, 0, 10_000),
                ("step 1 ramp", WindowKind::Ramp, 20, 10_000, 12_000),
                ("step 1", WindowKind::StressStep, 20, 12_000, 20_000),
                ("step 2 ramp", WindowKind::Ramp, 30, 20_000, 22_000),
                ("step 2", WindowKind::StressStep, 30, 22_000, 30_000),
            ]
        );
        assert_eq!(
            split_old_steps(&split).windows,
            split.windows,
            "a run.json of today's shape is left alone"
        );
        old.test_plan = "garbage".into();
        assert_eq!(split_old_steps(&old).windows, old.windows);
    }
}
