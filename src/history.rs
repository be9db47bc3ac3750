//! The runs already in a reports folder, read back from their summaries: which
//! ones are complete, passed, of which scenario, so that a scheduled run can
//! take the newest passed run of the same scenario as its baseline
//! (`--baseline last-passed`).

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::runfolder::files;

/// The fields of `summary.json` a history needs (the rest is skipped unread).
#[derive(Debug, Deserialize)]
struct SummaryHead {
    run: RunHead,
    verdict: String,
    #[serde(default)]
    regression: bool,
}

#[derive(Debug, Deserialize)]
struct RunHead {
    scenario: String,
    scenario_digest: String,
    started_at: DateTime<Utc>,
    #[serde(default)]
    interrupted: bool,
}

/// One finished run folder.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run folder.
    pub dir: PathBuf,
    /// The scenario's `name`.
    pub scenario: String,
    /// SHA-256 of the scenario as it ran.
    pub digest: String,
    /// When the load started.
    pub started_at: DateTime<Utc>,
    /// `pass`, `fail` or `not_judged`.
    pub verdict: String,
    /// Cut short by a signal.
    pub interrupted: bool,
    /// Regressed against its own baseline.
    pub regression: bool,
}

impl RunRecord {
    /// Passed, whole, and not a regression: fit to be a baseline.
    pub fn passed(&self) -> bool {
        self.verdict == "pass" && !self.interrupted && !self.regression
    }
}

/// The record of `dir` when it is a finished dashload run folder (`run.json`
/// and `summary.json`, no `.partial/` left); `None` for anything else.
pub fn record(dir: &Path) -> Option<RunRecord> {
    if !dir.join(files::RUN_META).is_file() || dir.join(crate::runfolder::recover::PARTIAL).exists()
    {
        return None;
    }
    let text = fs::read(dir.join(files::SUMMARY)).ok()?;
    let head: SummaryHead = serde_json::from_slice(&text).ok()?;
    Some(RunRecord {
        dir: dir.to_path_buf(),
        scenario: head.run.scenario,
        digest: head.run.scenario_digest,
        started_at: head.run.started_at,
        verdict: head.verdict,
        interrupted: head.run.interrupted,
        regression: head.regression,
    })
}

/// Every finished run folder directly under `reports`, newest first. A missing
/// folder has no runs.
pub fn runs(reports: &Path) -> Vec<RunRecord> {
    let Ok(entries) = fs::read_dir(reports) else {
        return Vec::new();
    };
    let mut runs: Vec<RunRecord> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| record(&e.path()))
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    runs
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
