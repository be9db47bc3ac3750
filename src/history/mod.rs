//! Run history: the run folders under a reports folder, read back from each
//! one's compact `history.json` ([`record`]): baselines from history
//! (`--baseline last-passed`), the run index `index.html` with a trend chart per
//! scenario ([`index`], [`trend`]), and retention (`--keep N`, [`retention`]).

pub mod index;
pub mod record;
pub mod retention;
pub mod trend;

#[cfg(test)]
mod browser_tests;

use std::fs;
use std::path::{Path, PathBuf};

pub use record::{classify, record, Folder, History, RunRecord, Unfinished};

/// Every dashload run folder directly under `reports` (complete or not; folders
/// without `run.json`, files and symbolic links are left out), newest first:
/// by start, then by name. A missing folder has none.
pub fn folders(reports: &Path) -> Vec<(PathBuf, Folder)> {
    let Ok(entries) = fs::read_dir(reports) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Folder)> = entries
        .filter_map(|e| e.ok())
        // DirEntry::file_type does not follow links: a link is never a run folder here.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| {
            let dir = e.path();
            let folder = classify(&dir);
            (dir, folder)
        })
        .filter(|(_, f)| *f != Folder::NotARun)
        .collect();
    found.sort_by(|(a_dir, a), (b_dir, b)| {
        (started(b), b_dir.file_name()).cmp(&(started(a), a_dir.file_name()))
    });
    found
}

/// When a folder's run started, when known.
fn started(f: &Folder) -> Option<chrono::DateTime<chrono::Utc>> {
    match f {
        Folder::Complete(h) => Some(h.started_at),
        Folder::Incomplete { started_at, .. } => *started_at,
        Folder::NotARun => None,
    }
}

/// After a run whose folder is `run_dir` under `reports`: `--keep N` retention
/// of `scenario` (none when the run was interrupted), then the index, so that it
/// does not list removed runs. Prints each folder removed and the index's path;
/// a failure of either is a warning and never changes the run's exit code.
/// `protected`: the baselines the run used (`run_dir` is protected too).
pub fn after_run(
    reports: &Path,
    run_dir: &Path,
    scenario: &str,
    keep: Option<usize>,
    protected: &[PathBuf],
    interrupted: bool,
) {
    match keep {
        Some(keep) if interrupted => {
            println!("kept      every run (--keep {keep}: the run was interrupted)")
        }
        Some(keep) => {
            let mut protected = protected.to_vec();
            protected.push(run_dir.to_path_buf());
            match retention::prune(reports, scenario, keep, &protected) {
                Ok(pruned) => {
                    for dir in &pruned.removed {
                        println!("removed   {} (--keep {keep})", dir.display());
                    }
                    for (dir, why) in &pruned.failed {
                        eprintln!(
                            "dashload: warning: --keep {keep}: could not remove {}: {why}",
                            dir.display()
                        );
                    }
                }
                Err(e) => eprintln!("dashload: warning: --keep {keep}: {e}"),
            }
        }
        None => {}
    }
    match index::write_index(reports) {
        Ok((path, _)) => println!("index     {}", path.display()),
        Err(e) => eprintln!("dashload: warning: the run index was not written: {e}"),
    }
}

/// Every finished run folder directly under `reports`, newest first. A missing
/// folder has no runs.
pub fn runs(reports: &Path) -> Vec<RunRecord> {
    folders(reports)
        .into_iter()
        .filter_map(|(dir, f)| match f {
            Folder::Complete(h) => Some(RunRecord::from_history(&dir, &h)),
            _ => None,
        })
        .collect()
}

/// The newest run under `reports` of scenario `name` with this `digest` that
/// passed whole: the baseline `--baseline last-passed` names. A scenario whose
/// digest changed is another test, so its older runs are not compared.
pub fn last_passed(reports: &Path, name: &str, digest: &str) -> Option<RunRecord> {
    runs(reports)
        .into_iter()
        .find(|r| r.scenario == name && r.digest == digest && r.passed())
}

/// The newest `n` runs [`last_passed`] would choose from, newest first: the
/// baselines of `--baseline median:N`.
pub fn last_passed_n(reports: &Path, name: &str, digest: &str, n: usize) -> Vec<RunRecord> {
    runs(reports)
        .into_iter()
        .filter(|r| r.scenario == name && r.digest == digest && r.passed())
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::files;

    fn folder(root: &Path, dir: &str, scenario: &str, digest: &str, minute: u32, verdict: &str) {
        let d = root.join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(files::RUN_META), "{}").unwrap();
        let summary = serde_json::json!({
            "schema": 2,
            "run": {
                "scenario": scenario,
                "scenario_digest": digest,
                "started_at": format!("2026-11-29T03:{minute:02}:00Z"),
                "interrupted": verdict == "interrupted",
            },
            "verdict": if verdict == "interrupted" || verdict == "regressed" { "pass" } else { verdict },
            "regression": verdict == "regressed",
            "windows": [],
        });
        fs::write(d.join(files::SUMMARY), summary.to_string()).unwrap();
    }

    #[test]
    fn last_passed_skips_failed_interrupted_regressed_incomplete_and_other_scenarios() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        folder(r, "a-old-pass", "staging", "d1", 1, "pass");
        folder(r, "b-pass", "staging", "d1", 2, "pass");
        folder(r, "c-fail", "staging", "d1", 3, "fail");
        folder(r, "d-interrupted", "staging", "d1", 4, "interrupted");
        folder(r, "e-regressed", "staging", "d1", 5, "regressed");
        folder(r, "f-not-judged", "staging", "d1", 6, "not_judged");
        folder(r, "g-other-scenario", "smoke", "d1", 7, "pass");
        folder(r, "h-other-digest", "staging", "d2", 8, "pass");
        folder(r, "i-incomplete", "staging", "d1", 9, "pass");
        fs::create_dir(
            r.join("i-incomplete")
                .join(crate::runfolder::recover::PARTIAL),
        )
        .unwrap();
        // Not run folders at all: a file, a folder without run.json, bad JSON.
        fs::write(r.join("README.md"), "x").unwrap();
        fs::create_dir(r.join("notes")).unwrap();
        fs::create_dir(r.join("z-broken")).unwrap();
        fs::write(r.join("z-broken").join(files::RUN_META), "{}").unwrap();
        fs::write(r.join("z-broken").join(files::SUMMARY), "{not json").unwrap();

        let found = last_passed(r, "staging", "d1").expect("a passed run");
        assert_eq!(found.dir, r.join("b-pass"));
        assert_eq!(
            last_passed(r, "staging", "d2").map(|f| f.dir),
            Some(r.join("h-other-digest"))
        );
        assert_eq!(last_passed(r, "nightly", "d1"), None);
        assert_eq!(last_passed(&r.join("missing"), "staging", "d1"), None);
        let all: Vec<_> = runs(r)
            .iter()
            .map(|x| x.dir.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            all,
            [
                "h-other-digest",
                "g-other-scenario",
                "f-not-judged",
                "e-regressed",
                "d-interrupted",
                "c-fail",
                "b-pass",
                "a-old-pass"
            ],
            "newest first, incomplete and foreign folders left out"
        );
    }
}
