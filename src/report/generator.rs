//! The generator's own CPU per window, from `cpu.csv` (see `crate::cpu`), and
//! the warning when dashload kept its cores too busy for its figures to be
//! about the target: above [`BUSY_SHARE`] of them, requests queue inside the
//! generator and latencies include that wait.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runfolder::{input, StageWindow};

/// The share of its cores above which a window's figures measure the generator.
pub const BUSY_SHARE: f64 = 0.8;

/// The generator's CPU over the run and per window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorCpu {
    /// Cores dashload could run on.
    pub cores: usize,
    /// Cores busy on average over the run.
    pub mean_cores: f64,
    /// The busiest second, cores.
    pub peak_cores: f64,
    /// Per window of `run.json` that has samples, in its order.
    pub windows: Vec<WindowCpu>,
}

/// The generator's CPU over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowCpu {
    /// The window's name.
    pub window: String,
    /// Cores busy on average over the window.
    pub cores_used: f64,
    /// `cores_used / cores`, 0..=1.
    pub share: f64,
    /// True when `share` is above [`BUSY_SHARE`].
    pub busy: bool,
    /// A distributed run: the worker with the highest share of its cores
    /// (`share` and `busy` are its; `cores_used` is every worker's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busiest_worker: Option<usize>,
}

/// One row of `cpu.csv`: (elapsed ms, cpu ms so far, cores available).
type Row = (u64, u64, usize);

/// Read `cpu.csv`; `None` when the run has none (older runs, or not Linux).
pub fn read(path: &Path) -> Result<Option<Vec<Row>>> {
    let text = match input::read_text(path, input::AUX_CAP) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // A row that does not parse is skipped: this file only adds a warning.
    let rows = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            let elapsed = f.next()?.parse().ok()?;
            let cpu = f.next()?.parse().ok()?;
            let cores = f.nth(1)?.parse().ok()?;
            Some((elapsed, cpu, cores))
        })
        .collect();
    Ok(Some(rows))
}

/// CPU per window, from samples in time order.
pub fn analyse(rows: &[Row], windows: &[StageWindow]) -> Option<GeneratorCpu> {
    let (first, last) = (rows.first()?, rows.last()?);
    let cores = last.2.max(1);
    let per = |a: &Row, b: &Row| {
        let wall = b.0.saturating_sub(a.0);
        (wall > 0).then(|| b.1.saturating_sub(a.1) as f64 / wall as f64)
    };
    let peak_cores = rows
        .windows(2)
        .filter_map(|p| per(&p[0], &p[1]))
        .fold(0.0, f64::max);
    let windows = windows
        .iter()
        .filter_map(|w| {
            // The samples nearest inside the window's edges (one a second).
            let a = rows.iter().find(|r| r.0 >= w.start_ms)?;
            let b = rows.iter().rev().find(|r| r.0 <= w.end_ms)?;
            let cores_used = per(a, b)?;
            let share = cores_used / cores as f64;
            Some(WindowCpu {
                window: w.name.clone(),
                cores_used,
                share,
                busy: share > BUSY_SHARE,
                busiest_worker: None,
            })
        })
        .collect();
    Some(GeneratorCpu {
        cores,
        mean_cores: per(first, last).unwrap_or(0.0),
        peak_cores,
        windows,
    })
}

/// The generator's CPU of a distributed run from each worker's (`(index,
/// figures)`, on the run's clock): cores and core-seconds added up; per window
/// the workers' cores added up, and the share of the busiest worker, since one
/// saturated worker is enough to distort the samples it took.
pub fn merge(each: &[(usize, GeneratorCpu)]) -> Option<GeneratorCpu> {
    let first = &each.first()?.1;
    let windows = first
        .windows
        .iter()
        .map(|w| {
            let mut merged = WindowCpu {
                window: w.window.clone(),
                cores_used: 0.0,
                share: 0.0,
                busy: false,
                busiest_worker: None,
            };
            for (index, g) in each {
                let Some(x) = g.windows.iter().find(|x| x.window == w.window) else {
                    continue;
                };
                merged.cores_used += x.cores_used;
                if merged.busiest_worker.is_none() || x.share > merged.share {
                    merged.share = x.share;
                    merged.busiest_worker = Some(*index);
                }
            }
            merged.busy = merged.share > BUSY_SHARE;
            merged
        })
        .collect();
    Some(GeneratorCpu {
        cores: each.iter().map(|(_, g)| g.cores).sum(),
        mean_cores: each.iter().map(|(_, g)| g.mean_cores).sum(),
        // The workers' busiest seconds need not coincide: an upper bound.
        peak_cores: each.iter().map(|(_, g)| g.peak_cores).sum(),
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::WindowKind;

    fn window(name: &str, start_ms: u64, end_ms: u64) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind: WindowKind::Hold,
            viewers: 1,
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn workers_merge_by_adding_cores_and_flagging_the_busiest() {
        let windows = [window("stage 1 hold", 0, 10_000)];
        // Worker 0: 2 cores, 0.4 busy; worker 1: 2 cores, 1.8 busy (90 %).
        let rows =
            |per_s: u64| -> Vec<Row> { (0..=10).map(|s| (s * 1000, s * per_s, 2)).collect() };
        let each = [
            (0, analyse(&rows(400), &windows).unwrap()),
            (1, analyse(&rows(1800), &windows).unwrap()),
        ];
        let g = merge(&each).unwrap();
        assert_eq!(g.cores, 4);
        assert!((g.mean_cores - 2.2).abs() < 1e-9, "{g:?}");
        let w = &g.windows[0];
        assert!((w.cores_used - 2.2).abs() < 1e-9);
        assert!((w.share - 0.9).abs() < 1e-9);
        assert!(w.busy, "one worker near its cores distorts its samples");
        assert_eq!(w.busiest_worker, Some(1));
        assert_eq!(merge(&[]), None);
    }

    #[test]
    fn windows_busier_than_the_share_are_flagged() {
        // 2 cores: 0.5 core for 10 s, then 1.8 cores for 10 s.
        let rows: Vec<Row> = (0..=20)
            .map(|s| {
                let cpu = if s <= 10 {
                    s * 500
                } else {
                    5_000 + (s - 10) * 1_800
                };
                (s * 1000, cpu, 2)
            })
            .collect();
        let windows = [window("calm", 0, 10_000), window("busy", 10_000, 20_000)];
        let g = analyse(&rows, &windows).unwrap();
        assert_eq!(g.cores, 2);
        assert_eq!(g.windows[0].cores_used, 0.5);
        assert!(!g.windows[0].busy);
        assert_eq!(g.windows[1].share, 0.9);
        assert!(g.windows[1].busy);
        assert_eq!(g.peak_cores, 1.8);
        assert!((g.mean_cores - 1.15).abs() < 1e-9);
        assert_eq!(analyse(&[], &windows), None);
    }

    #[test]
    fn the_file_is_read_and_bad_rows_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cpu.csv");
        assert_eq!(read(&path).unwrap(), None, "no file, no figures");
        std::fs::write(
            &path,
            "elapsed_ms,cpu_ms,cores_used,cores_available\n0,0,0.000,2\nbroken\n1000,700,0.700,2\n",
        )
        .unwrap();
        assert_eq!(read(&path).unwrap(), Some(vec![(0, 0, 2), (1000, 700, 2)]));
    }
}
