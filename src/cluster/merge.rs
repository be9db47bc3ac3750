//! The report of a distributed run: every worker's raw files folded into one
//! set of accumulators, each worker's rows shifted onto the manager's clock, so
//! every percentile comes from the union of the samples (HDR histograms are
//! filled from rows, never averaged); and the per-worker table that says when a
//! generator, not the target, was the bottleneck.
//!
//! A distributed run folder holds `workers.json` (this module's [`WorkersFile`],
//! written by the manager) and `workers/<i>/` with each worker's `requests.csv`,
//! `ingest.csv` (the sync worker's only has rows) and `cpu.csv`. A folder without
//! `workers.json` is an ordinary run and reads as before.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::report::collect::{class_index, Collected};
use crate::report::generator::{self, GeneratorCpu};
use crate::report::load;
use crate::runfolder::{files, write_atomic, RequestClass, StageWindow};

/// The manager's record of its workers, in the run folder.
pub const WORKERS_FILE: &str = "workers.json";
/// The folder of the workers' raw files, one `<index>/` each.
pub const WORKERS_DIR: &str = "workers";

/// `workers.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkersFile {
    /// Every worker, by index.
    pub workers: Vec<WorkerRecord>,
    /// `abort` or `continue` (`--on-worker-loss`).
    pub on_worker_loss: String,
    /// With `continue`: from when (ms on the run's clock) a worker was missing;
    /// the windows from there on are degraded, not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_from_ms: Option<u64>,
}

/// One worker as the manager saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Its index (0 runs the sync job).
    pub index: usize,
    /// The host name it gave.
    pub host: String,
    /// Sync users it ran.
    pub sync_users: usize,
    /// Its share of the plan's peak viewers.
    pub peak_viewers: usize,
    /// Viewers it started.
    #[serde(default)]
    pub viewers_started: u64,
    /// The run's seed (its viewers draw from it by their global number).
    pub seed: u64,
    /// How far its request log's zero was after the run's zero, ms: the shift that
    /// puts its rows on the run's clock (start skew + Goose's own clock offset).
    pub offset_ms: i64,
    /// Its start after the run's zero as measured, ms (the countdown's skew).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    /// Its wall clock minus the manager's, ms (informative: the run uses monotonic clocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
    /// The shortest tick round trip, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// How it ended: `plan`, `ladder stop`, `recovery` (the phase's end),
    /// `stopped` (by the manager), `interrupted`, `lost`.
    pub ended_by: String,
    /// When it was lost, ms on the run's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_at_ms: Option<u64>,
    /// Why it was counted lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_reason: Option<String>,
    /// Files it uploaded (checksums verified).
    #[serde(default)]
    pub files: Vec<String>,
}

impl WorkersFile {
    /// Read `workers.json` from a run folder; `None` for an ordinary run.
    pub fn load(run_dir: &Path) -> Result<Option<WorkersFile>> {
        let path = run_dir.join(WORKERS_FILE);
        match crate::runfolder::input::read_capped(&path, crate::runfolder::input::AUX_CAP) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Report(format!("{}: {e}", path.display()))),
            Ok(None) => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Write it into a run folder, atomically.
    pub fn store(&self, run_dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(anyhow::Error::from)?;
        write_atomic(&run_dir.join(WORKERS_FILE), &text)
    }
}

/// Worker `index`'s folder in a run folder.
pub fn worker_dir(run_dir: &Path, index: usize) -> PathBuf {
    run_dir.join(WORKERS_DIR).join(index.to_string())
}

/// The per-worker table of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    /// The manager's record.
    #[serde(flatten)]
    pub record: WorkerRecord,
    /// HTTP requests in its log.
    pub requests: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Its successful dashboard loads' p95, ms.
    pub load_p95_ms: Option<f64>,
    /// Cores it used on average, and the cores it had (`cpu.csv`).
    pub mean_cores: Option<f64>,
    /// Its busiest second, cores.
    pub peak_cores: Option<f64>,
    /// Cores it could use.
    pub cores: Option<usize>,
    /// Why this generator looks like the bottleneck, if it does.
    pub bottleneck: Option<String>,
}

/// A worker is busy above this share of its cores (as the generator section says).
const BUSY: f64 = 0.9;
/// A worker's p95 this many times the others' median points at the generator.
const SLOW: f64 = 1.5;

/// Read the request and ingest logs of the run in `run_dir` into `c`: the root
/// files of an ordinary run, or each worker's with its offset. Returns the
/// per-worker rows of a distributed run.
pub fn read_logs(
    c: &mut Collected,
    run_dir: &Path,
    windows: &[StageWindow],
    progress: bool,
) -> Result<Option<Vec<WorkerRow>>> {
    let file = WorkersFile::load(run_dir).unwrap_or_else(|e| {
        // A damaged workers.json costs the per-worker merge, not the report:
        // the run folder's own logs (if any) are read instead.
        c.notes
            .push(format!("{e}: the workers' logs were not merged"));
        None
    });
    let Some(file) = file else {
        load::read_requests(c, &run_dir.join(files::REQUESTS), progress)?;
        load::read_ingest(c, &run_dir.join(files::INGEST))?;
        return Ok(None);
    };
    let load = class_index(RequestClass::DashboardLoad);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for w in &file.workers {
        let dir = worker_dir(run_dir, w.index);
        c.shift_ms = w.offset_ms;
        let before = (c.http.count, c.http.failed, c.totals[load].hist.clone());
        load::read_requests(c, &dir.join(files::REQUESTS), progress)?;
        load::read_ingest(c, &dir.join(files::INGEST))?;
        for (what, status) in [
            ("requests", &mut c.requests_input),
            ("ingest", &mut c.ingest_input),
        ] {
            if let Some(n) = status.note.take() {
                // The sync job's log is only on its worker: the others' are empty.
                if !(what == "ingest" && w.sync_users == 0) {
                    notes.push(format!("worker {}: {n}", w.index));
                }
            }
        }
        let mut hist = c.totals[load].hist.clone();
        hist.subtract(&before.2)
            .map_err(|e| Error::Report(e.to_string()))?;
        let cpu = generator::read(&dir.join(files::CPU))
            .unwrap_or_else(|e| {
                c.notes
                    .push(format!("worker {}: {e}: its CPU is not shown", w.index));
                None
            })
            .and_then(|r| generator::analyse(&r, windows));
        rows.push(WorkerRow {
            record: w.clone(),
            requests: c.http.count - before.0,
            failed: c.http.failed - before.1,
            load_p95_ms: (!hist.is_empty()).then(|| hist.value_at_quantile(0.95) as f64 / 1000.0),
            mean_cores: cpu.as_ref().map(|g| g.mean_cores),
            peak_cores: cpu.as_ref().map(|g| g.peak_cores),
            cores: cpu.as_ref().map(|g| g.cores),
            bottleneck: None,
        });
    }
    c.shift_ms = 0;
    if !notes.is_empty() {
        c.requests_input.note = Some(notes.join("; "));
    }
    flag_bottlenecks(&mut rows);
    Ok(Some(rows))
}

/// The generator's CPU of the distributed run in `run_dir`: each worker's
/// `cpu.csv` shifted onto the run's clock by its offset, analysed over
/// `windows`, then merged (`generator::merge`). `None` for an ordinary run or
/// when no worker recorded its CPU.
pub fn generator_cpu(run_dir: &Path, windows: &[StageWindow]) -> Result<Option<GeneratorCpu>> {
    let Some(file) = WorkersFile::load(run_dir)? else {
        return Ok(None);
    };
    let mut each = Vec::new();
    for w in &file.workers {
        let Some(rows) = generator::read(&worker_dir(run_dir, w.index).join(files::CPU))? else {
            continue;
        };
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(t, cpu, cores)| (t.saturating_add_signed(w.offset_ms), cpu, cores))
            .collect();
        if let Some(g) = generator::analyse(&rows, windows) {
            each.push((w.index, g));
        }
    }
    Ok(generator::merge(&each))
}

/// Mark the workers whose CPU was near their cores, or whose p95 stood well
/// above the others' median: their figures measure the generator.
fn flag_bottlenecks(rows: &mut [WorkerRow]) {
    let mut p95s: Vec<f64> = rows.iter().filter_map(|r| r.load_p95_ms).collect();
    p95s.sort_by(f64::total_cmp);
    let median = p95s.get(p95s.len() / 2).copied();
    for r in rows.iter_mut() {
        let mut why = Vec::new();
        if let (Some(used), Some(cores)) = (r.mean_cores, r.cores) {
            if used > BUSY * cores as f64 {
                why.push(format!("CPU {used:.2} of {cores} cores"));
            }
        }
        if let (Some(p), Some(m)) = (r.load_p95_ms, median) {
            if rows_len_ok(p95s.len()) && p > SLOW * m && p - m > 20.0 {
                why.push(format!(
                    "load p95 {p:.0} ms against the workers' median {m:.0} ms"
                ));
            }
        }
        r.bottleneck = (!why.is_empty()).then(|| why.join("; "));
    }
}

/// A median is only a yardstick with at least three workers.
fn rows_len_ok(n: usize) -> bool {
    n >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize, p95: Option<f64>, cores: Option<(f64, usize)>) -> WorkerRow {
        WorkerRow {
            record: WorkerRecord {
                index,
                ..Default::default()
            },
            requests: 10,
            failed: 0,
            load_p95_ms: p95,
            mean_cores: cores.map(|c| c.0),
            peak_cores: cores.map(|c| c.0),
            cores: cores.map(|c| c.1),
            bottleneck: None,
        }
    }

    #[test]
    fn a_busy_or_slow_generator_is_named() {
        let mut rows = vec![
            row(0, Some(100.0), Some((0.5, 2))),
            row(1, Some(110.0), Some((1.9, 2))),
            row(2, Some(400.0), Some((0.6, 2))),
            row(3, Some(105.0), None),
        ];
        flag_bottlenecks(&mut rows);
        assert_eq!(rows[0].bottleneck, None);
        assert_eq!(rows[1].bottleneck.as_deref(), Some("CPU 1.90 of 2 cores"));
        assert!(rows[2]
            .bottleneck
            .as_deref()
            .unwrap()
            .starts_with("load p95 400 ms"));
        assert_eq!(rows[3].bottleneck, None);
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;
    use crate::runfolder::RunMeta;

    /// A synthetic run, and the same rows dealt over three workers whose logs
    /// each start `offset` ms after the run's zero.
    fn split_run(offsets: [i64; 3]) -> (tempfile::TempDir, tempfile::TempDir) {
        let single = tempfile::tempdir().unwrap();
        crate::report::synthetic::write_run(single.path(), 30_000, 9).unwrap();
        let split = tempfile::tempdir().unwrap();
        std::fs::copy(
            single.path().join(files::RUN_META),
            split.path().join(files::RUN_META),
        )
        .unwrap();
        let text = std::fs::read_to_string(single.path().join(files::REQUESTS)).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        let mut logs: Vec<String> = (0..3).map(|_| format!("{header}\n")).collect();
        for (n, line) in lines.enumerate() {
            let (elapsed, rest) = line.split_once(',').unwrap();
            let elapsed: i64 = elapsed.parse().unwrap();
            // Deal round robin; a row before a worker's zero goes to worker 0.
            let w = if elapsed >= offsets[n % 3] { n % 3 } else { 0 };
            logs[w].push_str(&format!("{},{rest}\n", elapsed - offsets[w]));
        }
        let mut file = WorkersFile {
            on_worker_loss: "abort".into(),
            ..Default::default()
        };
        for (i, log) in logs.iter().enumerate() {
            let dir = worker_dir(split.path(), i);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(files::REQUESTS), log).unwrap();
            if i == 0 {
                std::fs::copy(single.path().join(files::INGEST), dir.join(files::INGEST)).unwrap();
            }
            file.workers.push(WorkerRecord {
                index: i,
                host: "localhost".into(),
                sync_users: usize::from(i == 0),
                offset_ms: offsets[i],
                ended_by: "plan".into(),
                ..Default::default()
            });
        }
        file.store(split.path()).unwrap();
        (single, split)
    }

    #[test]
    fn split_logs_with_offsets_are_judged_exactly_as_the_single_log() {
        let (single, split) = split_run([0, 3, 11]);
        let meta = RunMeta::load(single.path()).unwrap();
        let one = crate::report::summarise(single.path(), &meta, false).unwrap();
        let many = crate::report::summarise(split.path(), &meta, false).unwrap();
        let json = |v: &dyn erased::Ser| v.json();
        assert_eq!(json(&one.windows), json(&many.windows));
        assert_eq!(json(&one.slos), json(&many.slos));
        assert_eq!(json(&one.totals), json(&many.totals));
        assert_eq!(json(&one.overall), json(&many.overall));
        assert_eq!(one.verdict, many.verdict);
        assert_eq!(json(&one.sync), json(&many.sync));
        let rows = many
            .workers
            .expect("a distributed run has its workers' table");
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows.iter().map(|r| r.requests).sum::<u64>(),
            one.totals.requests
        );
        assert!(rows
            .iter()
            .all(|r| r.requests > 1_000 && r.load_p95_ms.is_some()));
        assert!(one.workers.is_none());
    }

    #[test]
    fn an_offset_that_is_not_applied_changes_the_windows() {
        // The check above is not vacuous: shifting a worker by a lot moves rows
        // across window edges.
        let (single, split) = split_run([0, 3, 11]);
        let mut file = WorkersFile::load(split.path()).unwrap().unwrap();
        file.workers[2].offset_ms += 20_000;
        file.store(split.path()).unwrap();
        let meta = RunMeta::load(single.path()).unwrap();
        let one = crate::report::summarise(single.path(), &meta, false).unwrap();
        let many = crate::report::summarise(split.path(), &meta, false).unwrap();
        assert_ne!(
            serde_json::to_string(&one.windows).unwrap(),
            serde_json::to_string(&many.windows).unwrap()
        );
    }

    /// Serialise any summary part for comparison.
    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
