//! A lost worker's samples in the report: windows it ran load in while its
//! request log never arrived are *partial*. They are shown under a name that
//! says whom they miss, never judged as if whole (no PASS, no capacity rests on
//! them), and the count check names the lost worker, not "something else".
//!
//! Read from `workers.json` and the worker folders at report time, so a folder
//! completed later (`dashload report RUN --workers DIR…`) is judged whole.

use std::path::Path;

use super::merge::{worker_dir, WorkerRecord, WorkersFile};
use super::share::share_of;
use crate::runfolder::{files, StageWindow, WindowKind};

/// The workers of a distributed run whose request log is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MissingLogs {
    /// Workers in the run.
    workers: usize,
    /// Those lost (or without a result) whose `requests.csv` is not in the folder.
    missing: Vec<WorkerRecord>,
}

impl MissingLogs {
    /// The run in `run_dir`'s missing worker logs; `None` for an ordinary run
    /// or one whose every worker's log is there.
    pub fn of(run_dir: &Path, file: Option<&WorkersFile>) -> Option<MissingLogs> {
        let file = file?;
        let missing: Vec<WorkerRecord> = file
            .workers
            .iter()
            .filter(|w| !worker_dir(run_dir, w.index).join(files::REQUESTS).is_file())
            .cloned()
            .collect();
        (!missing.is_empty()).then_some(MissingLogs {
            workers: file.workers.len(),
            missing,
        })
    }

    /// The missing workers that ran load in `w` (up to their loss), and the
    /// window's viewers they held.
    fn in_window(&self, w: &StageWindow) -> (Vec<usize>, usize) {
        let mut who = Vec::new();
        let mut viewers = 0;
        for m in &self.missing {
            if m.lost_at_ms.is_some_and(|at| w.start_ms >= at) {
                // After its loss: the run's own rule (cut or degraded) applies.
                continue;
            }
            let share = share_of(w.viewers, m.index, self.workers);
            if share > 0 || m.sync_users > 0 {
                who.push(m.index);
                viewers += share;
            }
        }
        (who, viewers)
    }

    /// `windows` with every window that misses a worker's samples renamed to
    /// say whom (`stage 1 hold (partial: misses worker 2, 2 of 7 viewers)`) and
    /// shown, not judged. Returns the partial windows' new names.
    pub fn mark(&self, windows: &mut [StageWindow]) -> Vec<String> {
        let mut partial = Vec::new();
        for w in windows.iter_mut() {
            let (who, viewers) = self.in_window(w);
            if who.is_empty() {
                continue;
            }
            let names = who
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let worker = if who.len() == 1 { "worker" } else { "workers" };
            // A window already degraded by the loss (`continue`) says so once.
            let (base, label) = match w.name.strip_suffix(" (degraded)") {
                Some(base) => (base.to_string(), "degraded"),
                None => (w.name.clone(), "partial"),
            };
            w.name = format!(
                "{base} ({label}: misses {worker} {names}, {viewers} of {} viewers)",
                w.viewers
            );
            if w.kind != WindowKind::Recovery {
                w.kind = WindowKind::Ramp;
            }
            partial.push(w.name.clone());
        }
        partial
    }

    /// The cause, in words: `worker 2 was lost at 8.1 s (no tick for 3 s) and
    /// its request log is missing`.
    pub fn cause(&self) -> String {
        self.missing
            .iter()
            .map(|m| {
                let when = match (m.lost_at_ms, &m.lost_reason) {
                    (Some(at), Some(why)) => {
                        format!("was lost at {:.1} s ({why})", at as f64 / 1000.0)
                    }
                    (Some(at), None) => format!("was lost at {:.1} s", at as f64 / 1000.0),
                    _ => format!(
                        "ended by {}",
                        if m.ended_by.is_empty() {
                            "?"
                        } else {
                            &m.ended_by
                        }
                    ),
                };
                format!("worker {} {when} and its request log is missing", m.index)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(
        name: &str,
        kind: WindowKind,
        viewers: usize,
        start_ms: u64,
        end_ms: u64,
    ) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind,
            viewers,
            start_ms,
            end_ms,
        }
    }

    fn lost(index: usize, at: u64) -> WorkerRecord {
        WorkerRecord {
            index,
            ended_by: "lost".into(),
            lost_at_ms: Some(at),
            lost_reason: Some("no tick for 3 s".into()),
            ..Default::default()
        }
    }

    #[test]
    fn windows_a_lost_worker_ran_before_its_loss_are_partial_and_name_it() {
        let m = MissingLogs {
            workers: 3,
            missing: vec![lost(2, 8_000)],
        };
        let mut windows = vec![
            window("stage 1 ramp", WindowKind::Ramp, 7, 0, 1_000),
            window("stage 1 hold", WindowKind::Hold, 7, 1_000, 6_000),
            // One viewer: worker 2 (rank 1) has none of it.
            window("step 1", WindowKind::StressStep, 1, 6_000, 7_000),
            window(
                "stage 2 hold (degraded)",
                WindowKind::Ramp,
                9,
                7_000,
                16_000,
            ),
            window(
                "stage 3 hold (degraded)",
                WindowKind::Ramp,
                9,
                16_000,
                20_000,
            ),
        ];
        let partial = m.mark(&mut windows);
        assert_eq!(
            partial,
            [
                "stage 1 ramp (partial: misses worker 2, 2 of 7 viewers)",
                "stage 1 hold (partial: misses worker 2, 2 of 7 viewers)",
                "stage 2 hold (degraded: misses worker 2, 3 of 9 viewers)",
            ]
        );
        assert_eq!(windows[1].kind, WindowKind::Ramp, "not judged");
        assert_eq!(windows[2].name, "step 1");
        assert_eq!(windows[2].kind, WindowKind::StressStep);
        assert_eq!(windows[4].name, "stage 3 hold (degraded)", "after the loss");
        assert_eq!(
            m.cause(),
            "worker 2 was lost at 8.0 s (no tick for 3 s) and its request log is missing"
        );
    }

    #[test]
    fn the_sync_worker_misses_every_window_and_two_are_named_together() {
        let mut sync = lost(0, 20_000);
        sync.sync_users = 1;
        let m = MissingLogs {
            workers: 3,
            missing: vec![sync, lost(1, 20_000)],
        };
        let mut windows = vec![window("step 1", WindowKind::StressStep, 1, 0, 5_000)];
        m.mark(&mut windows);
        // Rank 0 is worker 1: the one viewer is its.
        assert_eq!(
            windows[0].name,
            "step 1 (partial: misses workers 0, 1, 1 of 1 viewers)"
        );
    }

    #[test]
    fn a_run_whose_logs_all_arrived_has_nothing_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = WorkersFile {
            workers: vec![lost(0, 5), lost(1, 5)],
            ..Default::default()
        };
        for i in 0..2 {
            std::fs::create_dir_all(worker_dir(dir.path(), i)).unwrap();
        }
        std::fs::write(worker_dir(dir.path(), 0).join(files::REQUESTS), "").unwrap();
        let m = MissingLogs::of(dir.path(), Some(&file)).expect("worker 1's log is missing");
        assert_eq!(m.missing.len(), 1);
        assert_eq!(m.missing[0].index, 1);
        std::fs::write(worker_dir(dir.path(), 1).join(files::REQUESTS), "").unwrap();
        assert_eq!(MissingLogs::of(dir.path(), Some(&file)), None);
        assert_eq!(MissingLogs::of(dir.path(), None), None);
    }
}
