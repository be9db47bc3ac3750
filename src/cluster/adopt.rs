//! A manager killed outright still leaves a run. It writes `run.json` (no end:
//! incomplete) and `workers.json` (each worker's share) before the load, and
//! each worker stamps its own run folder with `worker.json` (the run and its
//! index). `dashload report RUN --workers DIR…` then finishes the manager's
//! folder from the workers' folders where they are: each is recovered as far
//! as its files are whole, its files are copied under `workers/<i>/`, and
//! run.json is marked interrupted, ending at the latest worker's end.
//!
//! A worker whose folder is not given keeps its record: the report shows the
//! windows that miss it as partial (`missing.rs`).

use std::path::{Path, PathBuf};

use chrono::Duration as ChronoDuration;
use serde::{Deserialize, Serialize};

use super::merge::{worker_dir, WorkersFile};
use crate::error::{Error, Result};
use crate::runfolder::recover;
use crate::runfolder::{files, write_atomic, RunCounters, RunMeta};

/// The stamp in a worker's own run folder.
pub const STAMP: &str = "worker.json";
/// The largest stamp read (it is a few dozen bytes).
const STAMP_LIMIT: u64 = 4096;
/// The files of a worker's folder that the manager's folder takes.
const TAKEN: [&str; 4] = [files::REQUESTS, files::INGEST, files::CPU, files::RUN_META];

/// Which run and which worker a worker's folder belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStamp {
    /// The run's id: the manager's folder name.
    pub run_id: String,
    /// The worker's index.
    pub index: usize,
    /// Workers in the run.
    pub workers: usize,
}

impl WorkerStamp {
    /// Write it into a worker's run folder.
    pub fn store(&self, dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(anyhow::Error::from)?;
        write_atomic(&dir.join(STAMP), &text)
    }

    fn load(dir: &Path) -> Result<WorkerStamp> {
        let path = dir.join(STAMP);
        let usage = |why: String| Error::Usage(format!("--workers {}: {why}", path.display()));
        // A FIFO or device is refused without blocking on it; the size is capped.
        let bytes = crate::runfolder::input::read_capped(&path, STAMP_LIMIT)
            .map_err(|e| usage(e.to_string()))?
            .ok_or_else(|| {
                usage(format!(
                    "no {STAMP} (a worker's run folder holds it; give the folder under its --reports-dir)"
                ))
            })?;
        serde_json::from_slice(&bytes).map_err(|e| usage(format!("not a worker's stamp: {e}")))
    }
}

/// What finishing did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adopted {
    /// Workers whose folders were taken in.
    pub taken: Vec<usize>,
    /// Workers still without a request log.
    pub missing: Vec<usize>,
    /// The end written into run.json, ms after the start (when it had none).
    pub ended_ms: Option<u64>,
}

impl std::fmt::Display for Adopted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[usize]| {
            v.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.taken.as_slice() {
            [] => write!(f, "no worker folder taken in")?,
            t => write!(f, "the folders of workers {} taken in", list(t))?,
        }
        if !self.missing.is_empty() {
            write!(
                f,
                "; no request log from workers {} (the windows they ran in are partial)",
                list(&self.missing)
            )?;
        }
        if let Some(ms) = self.ended_ms {
            write!(
                f,
                "; run.json marked interrupted, ended at {:.1} s (the workers' latest end)",
                ms as f64 / 1000.0
            )?;
        }
        Ok(())
    }
}

/// Finish the distributed run in `run_dir` that its manager left unfinished,
/// taking in the workers' own folders `worker_dirs`. `None` for an ordinary
/// run, or a distributed one its manager finished when no folder is given.
/// Every folder is checked (stamp, run, index) before anything is changed.
pub fn finish(run_dir: &Path, worker_dirs: &[PathBuf]) -> Result<Option<Adopted>> {
    // Without folders to take in, a damaged workers.json is the report's to
    // note (it reads the folder's own logs instead), not a reason to refuse.
    let loaded = match WorkersFile::load(run_dir) {
        Err(_) if worker_dirs.is_empty() => return Ok(None),
        other => other?,
    };
    let Some(mut file) = loaded else {
        if worker_dirs.is_empty() {
            return Ok(None);
        }
        return Err(Error::Usage(format!(
            "--workers: {} is not a distributed run's folder (no workers.json)",
            run_dir.display()
        )));
    };
    let mut meta = RunMeta::load(run_dir)?;
    if meta.ended_at.is_some() && worker_dirs.is_empty() {
        return Ok(None);
    }
    if recover::held(run_dir) {
        return Err(Error::Usage(format!(
            "{}: its manager is still going (it holds {}): wait for its end",
            run_dir.display(),
            recover::LOCK
        )));
    }
    let run_id = run_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let n = file.workers.len();
    let mut given: Vec<(usize, &PathBuf)> = Vec::new();
    for dir in worker_dirs {
        let stamp = WorkerStamp::load(dir)?;
        let refuse = |why: String| Err(Error::Usage(format!("--workers {}: {why}", dir.display())));
        if stamp.run_id != run_id {
            return refuse(format!(
                "a worker of run {}, not of {run_id}",
                stamp.run_id.chars().take(80).collect::<String>()
            ));
        }
        if stamp.workers != n || stamp.index >= n {
            return refuse(format!(
                "worker {} of {}, but the run has {n} workers",
                stamp.index, stamp.workers
            ));
        }
        if let Some((_, other)) = given.iter().find(|(i, _)| *i == stamp.index) {
            return refuse(format!(
                "worker {} again (also {})",
                stamp.index,
                other.display()
            ));
        }
        given.push((stamp.index, dir));
    }
    let mut taken = Vec::new();
    for (i, dir) in given {
        // A worker killed too left its own folder unfinished: finish it first.
        recover::recover(dir)?;
        let own = RunMeta::load(dir)?;
        let to = worker_dir(run_dir, i);
        std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
        let record = &mut file.workers[i];
        let uploaded = !record.files.is_empty();
        for name in TAKEN {
            let from = dir.join(name);
            // What the manager received and checked stays as it is.
            if from.is_file() && !to.join(name).exists() {
                std::fs::copy(&from, to.join(name)).map_err(|e| Error::io(&from, e))?;
                record.files.push(name.to_string());
            }
        }
        record.files.sort();
        record.files.dedup();
        if !uploaded {
            // The manager never got its result: its own run says how it ended.
            // Its start skew was the manager's to measure (under a second).
            record.offset_ms = own.counters.goose_clock_offset_ms.unwrap_or(0);
            record.ended_by = if own.interrupted {
                "stopped (manager lost)".into()
            } else {
                "plan".into()
            };
        }
        taken.push(i);
    }
    let mut ended_ms = None;
    if meta.ended_at.is_none() {
        let mut counters = RunCounters::default();
        let mut end = 0u64;
        for w in &file.workers {
            let Ok(own) = RunMeta::load(&worker_dir(run_dir, w.index)) else {
                continue;
            };
            super::manager::add_counters(&mut counters, &own.counters);
            if let Some(e) = own.ended_at {
                let ran = (e - own.started_at).num_milliseconds().max(0);
                end = end.max((ran + w.offset_ms).max(0) as u64);
            }
        }
        meta.counters = counters;
        meta.interrupted = true;
        meta.ended_at = Some(meta.started_at + ChronoDuration::milliseconds(end as i64));
        ended_ms = Some(end);
    }
    let missing = file
        .workers
        .iter()
        .filter(|w| !worker_dir(run_dir, w.index).join(files::REQUESTS).is_file())
        .map(|w| w.index)
        .collect();
    file.store(run_dir)?;
    meta.store(run_dir)?;
    Ok(Some(Adopted {
        taken,
        missing,
        ended_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::merge::WorkerRecord;
    use chrono::Utc;

    fn meta(ended_after_ms: Option<i64>, loads: u64) -> RunMeta {
        let started = Utc::now();
        let mut m: RunMeta = serde_json::from_value(serde_json::json!({
            "dashload_version": "0", "scenario": "s", "scenario_file": "s.toml",
            "scenario_digest": "", "seed": 1,
            "target": {"kind": "sandbox", "url": "http://127.0.0.1:1"},
            "test_plan": "1,1s", "sync_users": 0, "windows": [], "slos": [],
            "started_at": started,
        }))
        .unwrap();
        m.ended_at = ended_after_ms.map(|ms| started + ChronoDuration::milliseconds(ms));
        m.interrupted = ended_after_ms.is_some();
        m.counters.dashboard_loads = loads;
        m
    }

    /// A manager's folder left at the start (2 workers) and two workers' own folders.
    fn crashed(root: &Path) -> (PathBuf, Vec<PathBuf>) {
        let run = root.join("reports/20261207T170000Z-s");
        std::fs::create_dir_all(&run).unwrap();
        meta(None, 0).store(&run).unwrap();
        WorkersFile {
            workers: (0..2)
                .map(|index| WorkerRecord {
                    index,
                    ended_by: "no result".into(),
                    ..Default::default()
                })
                .collect(),
            on_worker_loss: "abort".into(),
            degraded_from_ms: None,
        }
        .store(&run)
        .unwrap();
        let own: Vec<PathBuf> = (0..2)
            .map(|i| {
                let d = root.join(format!("w{i}/20261207T170001Z-s"));
                std::fs::create_dir_all(&d).unwrap();
                meta(Some(4_000 + 1_000 * i as i64), 10 + i as u64)
                    .store(&d)
                    .unwrap();
                std::fs::write(d.join(files::REQUESTS), format!("elapsed\n{i}\n")).unwrap();
                WorkerStamp {
                    run_id: "20261207T170000Z-s".into(),
                    index: i,
                    workers: 2,
                }
                .store(&d)
                .unwrap();
                d
            })
            .collect();
        (run, own)
    }

    #[test]
    fn the_workers_folders_finish_a_run_whose_manager_died() {
        let dir = tempfile::tempdir().unwrap();
        let (run, own) = crashed(dir.path());
        let a = finish(&run, &own).unwrap().unwrap();
        assert_eq!(
            (a.taken, a.missing, a.ended_ms),
            (vec![0, 1], vec![], Some(5_000))
        );
        let m = RunMeta::load(&run).unwrap();
        assert!(m.interrupted);
        assert_eq!(
            (m.ended_at.unwrap() - m.started_at).num_milliseconds(),
            5_000
        );
        assert_eq!(m.counters.dashboard_loads, 21);
        let file = WorkersFile::load(&run).unwrap().unwrap();
        assert_eq!(file.workers[1].ended_by, "stopped (manager lost)");
        assert_eq!(file.workers[1].files, [files::REQUESTS, files::RUN_META]);
        assert_eq!(
            std::fs::read_to_string(worker_dir(&run, 1).join(files::REQUESTS)).unwrap(),
            "elapsed\n1\n"
        );
    }

    #[test]
    fn a_folder_of_another_run_or_worker_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (run, own) = crashed(dir.path());
        let before = std::fs::read(run.join(files::RUN_META)).unwrap();
        let refused = |dirs: &[PathBuf], want: &str| {
            let e = finish(&run, dirs).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
            assert_eq!(std::fs::read(run.join(files::RUN_META)).unwrap(), before);
            assert!(!worker_dir(&run, 0).exists());
        };
        refused(&[own[0].clone(), own[0].clone()], "worker 0 again");
        refused(&[dir.path().to_path_buf()], "worker.json");
        // A stamp that is a FIFO is refused at once, not waited on.
        let fifo = dir.path().join("fifo-worker");
        std::fs::create_dir(&fifo).unwrap();
        let c = std::ffi::CString::new(fifo.join(STAMP).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        refused(&[fifo], "a FIFO, not a regular file");
        WorkerStamp {
            run_id: "20261207T180000Z-other".into(),
            index: 1,
            workers: 2,
        }
        .store(&own[1])
        .unwrap();
        refused(
            &[own[0].clone(), own[1].clone()],
            "not of 20261207T170000Z-s",
        );
        WorkerStamp {
            run_id: "20261207T170000Z-s".into(),
            index: 2,
            workers: 3,
        }
        .store(&own[1])
        .unwrap();
        refused(
            &[own[1].clone()],
            "worker 2 of 3, but the run has 2 workers",
        );
        // An ordinary run takes no --workers.
        let single = dir.path().join("single");
        std::fs::create_dir_all(&single).unwrap();
        meta(Some(1), 0).store(&single).unwrap();
        assert!(finish(&single, &own[..1]).is_err());
        assert_eq!(finish(&single, &[]).unwrap(), None);
    }
}
