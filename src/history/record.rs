//! `history.json`: the compact record (~1 KB) of one run that the report writes
//! beside `summary.json` (~460 KB for a staged run), so that the run index,
//! baseline selection and retention read thousands of folders quickly; and how
//! a folder is classified: a complete run, an incomplete one, or not a run.
//!
//! Older folders have no `history.json`: their record is read from the head of
//! `summary.json` instead (slower, same figures).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::report::summary::Summary;
use crate::runfolder::recover::{LOCK, PARTIAL};
use crate::runfolder::{files, input, write_atomic, RequestClass};

/// The version of `history.json`'s layout; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// `history.json`. Latencies in ms, the error rate a fraction in 0..=1. The
/// p95s and the error rate are over the run's hold windows pooled (the
/// figures the run is judged on; stress steps are expected to break).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// [`SCHEMA_VERSION`] when written.
    pub schema: u32,
    /// The run folder's name.
    pub run_id: String,
    /// The scenario's `name`.
    pub scenario: String,
    /// SHA-256 of the scenario as it ran.
    pub scenario_digest: String,
    /// When the load started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// `pass`, `fail` or `not_judged`.
    pub verdict: String,
    /// Cut short by a signal.
    #[serde(default)]
    pub interrupted: bool,
    /// Regressed against its baseline.
    #[serde(default)]
    pub regression: bool,
    /// The baseline run folders the report compared with, by name.
    #[serde(default)]
    pub baselines: Vec<String>,
    /// The most viewers of a window on which every SLO held.
    #[serde(default)]
    pub capacity_held: Option<usize>,
    /// The fewest viewers of a window on which an SLO failed.
    #[serde(default)]
    pub capacity_failed: Option<usize>,
    /// p95 of successful dashboard loads over the hold windows, ms.
    #[serde(default)]
    pub dashboard_load_p95_ms: Option<f64>,
    /// p95 of successful panel queries over the hold windows, ms.
    #[serde(default)]
    pub panel_query_p95_ms: Option<f64>,
    /// Failed dashboard loads ÷ dashboard loads over the hold windows.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// dashload's version that ran it.
    #[serde(default)]
    pub dashload_version: String,
}

impl History {
    /// The record of the run `run_id` as `summary` states it, compared with
    /// `baselines` (run folders).
    pub fn of<'a>(
        run_id: &str,
        summary: &Summary,
        baselines: impl IntoIterator<Item = &'a Path>,
    ) -> History {
        let class = |c: RequestClass| summary.judged.iter().find(|s| s.class == c);
        let bracket = summary.capacity_bracket.as_ref();
        History {
            schema: SCHEMA_VERSION,
            run_id: run_id.to_string(),
            scenario: summary.run.scenario.clone(),
            scenario_digest: summary.run.scenario_digest.clone(),
            started_at: summary.run.started_at,
            ended_at: summary.run.ended_at,
            verdict: verdict_key(summary.verdict),
            interrupted: summary.run.interrupted,
            regression: summary.regression,
            baselines: baselines.into_iter().map(folder_name).collect(),
            capacity_held: bracket.map_or(summary.capacity, |b| b.held_viewers),
            capacity_failed: bracket.and_then(|b| b.failed_viewers),
            dashboard_load_p95_ms: class(RequestClass::DashboardLoad)
                .and_then(|s| s.latency)
                .map(|l| l.p95),
            panel_query_p95_ms: class(RequestClass::PanelQuery)
                .and_then(|s| s.latency)
                .map(|l| l.p95),
            error_rate: class(RequestClass::DashboardLoad).and_then(|s| s.error_rate),
            dashload_version: summary.run.dashload_version.clone(),
        }
    }

    /// Passed, whole, and not a regression: fit to be a baseline.
    pub fn passed(&self) -> bool {
        self.verdict == "pass" && !self.interrupted && !self.regression
    }
}

/// The verdict as `summary.json` spells it (`pass`, `fail`, `not_judged`).
fn verdict_key(v: crate::report::summary::Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A folder's last name, or the whole path when it has none.
fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .unwrap_or(dir.as_os_str())
        .to_string_lossy()
        .into_owned()
}

/// Write `history.json` into `run_dir` (atomically) for `summary`.
pub fn write(
    run_dir: &Path,
    summary: &Summary,
    baselines: impl IntoIterator<Item = impl AsRef<Path>>,
) -> Result<()> {
    let baselines: Vec<PathBuf> = baselines
        .into_iter()
        .map(|b| b.as_ref().to_path_buf())
        .collect();
    let history = History::of(
        &folder_name(run_dir),
        summary,
        baselines.iter().map(PathBuf::as_path),
    );
    let json = serde_json::to_vec_pretty(&history).map_err(anyhow::Error::from)?;
    write_atomic(&run_dir.join(files::HISTORY), &json)
}

/// Why a run folder is not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// `.partial/` is left: the run is going, or died before finishing its folder.
    Partial,
    /// `.run.lock` is left: a run holds it, or one died holding it.
    Locked,
    /// No `summary.json`: the report was never rendered.
    NoSummary,
    /// `summary.json` (and `history.json`) cannot be read.
    Unreadable,
}

impl Unfinished {
    /// In plain words, for the index.
    pub fn label(self) -> &'static str {
        match self {
            Unfinished::Partial => "running or unfinished (.partial/ left)",
            Unfinished::Locked => "running or unfinished (.run.lock left)",
            Unfinished::NoSummary => "no report rendered (no summary.json)",
            Unfinished::Unreadable => "summary.json unreadable",
        }
    }
}

/// What a folder under a reports folder is.
#[derive(Debug, Clone, PartialEq)]
pub enum Folder {
    /// Not a dashload run folder: no `run.json`.
    NotARun,
    /// A run folder that is not complete, with what its run.json says (when
    /// it can be read).
    Incomplete {
        /// Why.
        why: Unfinished,
        /// The scenario's name.
        scenario: Option<String>,
        /// When the load started.
        started_at: Option<DateTime<Utc>>,
    },
    /// A finished run: `history.json`, or what `summary.json` says for older folders.
    Complete(Box<History>),
}

/// Classify `dir`: a run folder has `run.json`; it is complete when no
/// `.partial/` or `.run.lock` is left and its record can be read.
pub fn classify(dir: &Path) -> Folder {
    if !dir.join(files::RUN_META).is_file() {
        return Folder::NotARun;
    }
    let why = if dir.join(PARTIAL).exists() {
        Some(Unfinished::Partial)
    } else if dir.join(LOCK).exists() {
        Some(Unfinished::Locked)
    } else {
        None
    };
    let why = match why {
        Some(w) => w,
        None => match read(dir) {
            Ok(h) => return Folder::Complete(Box::new(h)),
            Err(w) => w,
        },
    };
    let head = input::read_capped(&dir.join(files::RUN_META), input::META_CAP)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice::<MetaHead>(&b).ok());
    Folder::Incomplete {
        why,
        scenario: head.as_ref().map(|h| h.scenario.clone()),
        started_at: head.map(|h| h.started_at),
    }
}

/// The record of a finished `dir`: `history.json`, else `summary.json`'s head.
fn read(dir: &Path) -> std::result::Result<History, Unfinished> {
    // Both reads are capped and refuse FIFOs and devices: a damaged folder
    // must not hang or exhaust the index and baseline selection.
    if let Ok(Some(bytes)) = input::read_capped(&dir.join(files::HISTORY), input::HISTORY_CAP) {
        if let Ok(h) = serde_json::from_slice::<History>(&bytes) {
            return Ok(h);
        }
    }
    let bytes = match input::read_capped(&dir.join(files::SUMMARY), input::SUMMARY_CAP) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(Unfinished::NoSummary),
        Err(_) => return Err(Unfinished::Unreadable),
    };
    let head: SummaryHead = serde_json::from_slice(&bytes).map_err(|_| Unfinished::Unreadable)?;
    Ok(head.into_history(&folder_name(dir)))
}

/// What the index needs of run.json for an incomplete folder.
#[derive(Deserialize)]
struct MetaHead {
    scenario: String,
    started_at: DateTime<Utc>,
}

/// The fields of `summary.json` a record needs (the rest is skipped unread).
#[derive(Deserialize)]
struct SummaryHead {
    run: RunHead,
    verdict: String,
    #[serde(default)]
    regression: bool,
    #[serde(default)]
    capacity: Option<usize>,
    #[serde(default)]
    capacity_bracket: Option<BracketHead>,
    #[serde(default)]
    judged: Vec<ClassHead>,
    #[serde(default)]
    baseline: Option<BaselineHead>,
}

#[derive(Deserialize)]
struct RunHead {
    scenario: String,
    scenario_digest: String,
    started_at: DateTime<Utc>,
    #[serde(default)]
    ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    interrupted: bool,
    #[serde(default)]
    dashload_version: String,
}

#[derive(Deserialize)]
struct BracketHead {
    held_viewers: Option<usize>,
    failed_viewers: Option<usize>,
}

#[derive(Deserialize)]
struct ClassHead {
    class: RequestClass,
    #[serde(default)]
    error_rate: Option<f64>,
    #[serde(default)]
    latency: Option<LatencyHead>,
}

#[derive(Deserialize)]
struct LatencyHead {
    p95: f64,
}

#[derive(Deserialize)]
struct BaselineHead {
    dir: String,
}

impl SummaryHead {
    fn into_history(self, run_id: &str) -> History {
        let class = |c: RequestClass| self.judged.iter().find(|s| s.class == c);
        let p95 = |c| class(c).and_then(|s| s.latency.as_ref()).map(|l| l.p95);
        History {
            schema: SCHEMA_VERSION,
            run_id: run_id.to_string(),
            dashboard_load_p95_ms: p95(RequestClass::DashboardLoad),
            panel_query_p95_ms: p95(RequestClass::PanelQuery),
            error_rate: class(RequestClass::DashboardLoad).and_then(|s| s.error_rate),
            capacity_held: self
                .capacity_bracket
                .as_ref()
                .map_or(self.capacity, |b| b.held_viewers),
            capacity_failed: self
                .capacity_bracket
                .as_ref()
                .and_then(|b| b.failed_viewers),
            baselines: self
                .baseline
                .iter()
                .map(|b| folder_name(Path::new(&b.dir)))
                .collect(),
            scenario: self.run.scenario,
            scenario_digest: self.run.scenario_digest,
            started_at: self.run.started_at,
            ended_at: self.run.ended_at,
            verdict: self.verdict,
            interrupted: self.run.interrupted,
            regression: self.regression,
            dashload_version: self.run.dashload_version,
        }
    }
}

/// One finished run folder, as baseline selection sees it.
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

    /// The record of the run in `dir` described by `h`.
    pub fn from_history(dir: &Path, h: &History) -> RunRecord {
        RunRecord {
            dir: dir.to_path_buf(),
            scenario: h.scenario.clone(),
            digest: h.scenario_digest.clone(),
            started_at: h.started_at,
            verdict: h.verdict.clone(),
            interrupted: h.interrupted,
            regression: h.regression,
        }
    }
}

/// The record of `dir` when it is a finished dashload run folder (`run.json`
/// and `history.json` or `summary.json`, no `.partial/` or `.run.lock` left);
/// `None` for anything else.
pub fn record(dir: &Path) -> Option<RunRecord> {
    match classify(dir) {
        Folder::Complete(h) => Some(RunRecord::from_history(dir, &h)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::report::summary::Summary;
    use crate::report::{render_run, synthetic, ReportOptions};

    /// A rendered synthetic run in `<root>/<name>`, with its summary.
    fn rendered(root: &Path, name: &str, seed: u64, baseline: Option<PathBuf>) -> Summary {
        let dir = root.join(name);
        fs::create_dir(&dir).unwrap();
        synthetic::write_run(&dir, 20_000, seed).unwrap();
        let options = ReportOptions {
            baselines: baseline.into_iter().collect(),
            ..Default::default()
        };
        render_run(&dir, &options).unwrap();
        serde_json::from_slice(&fs::read(dir.join(files::SUMMARY)).unwrap()).unwrap()
    }

    #[test]
    fn the_report_writes_a_compact_record_of_the_summary() {
        let tmp = tempfile::tempdir().unwrap();
        rendered(tmp.path(), "base", 3, None);
        let run = tmp.path().join("run");
        let s = rendered(tmp.path(), "run", 9, Some(tmp.path().join("base")));
        let bytes = fs::read(run.join(files::HISTORY)).unwrap();
        assert!(bytes.len() < 2_048, "history.json is {} bytes", bytes.len());
        let h: History = serde_json::from_slice(&bytes).unwrap();
        let judged = |c: RequestClass| s.judged.iter().find(|x| x.class == c).unwrap();
        assert_eq!(h.schema, SCHEMA_VERSION);
        assert_eq!(h.run_id, "run");
        assert_eq!(h.scenario, s.run.scenario);
        assert_eq!(h.scenario_digest, s.run.scenario_digest);
        assert_eq!(h.started_at, s.run.started_at);
        assert_eq!(h.ended_at, s.run.ended_at);
        assert_eq!(
            serde_json::to_value(s.verdict).unwrap(),
            serde_json::Value::from(h.verdict.as_str())
        );
        assert_eq!(h.regression, s.regression);
        assert_eq!(h.baselines, ["base"]);
        let bracket = s.capacity_bracket.as_ref().expect("a bracket");
        assert_eq!(h.capacity_held, bracket.held_viewers);
        assert_eq!(h.capacity_failed, bracket.failed_viewers);
        assert!(h.capacity_held.is_some() && h.capacity_failed.is_some());
        let load = judged(RequestClass::DashboardLoad);
        assert_eq!(h.dashboard_load_p95_ms, load.latency.map(|l| l.p95));
        assert!(h.dashboard_load_p95_ms.is_some());
        assert_eq!(
            h.panel_query_p95_ms,
            judged(RequestClass::PanelQuery).latency.map(|l| l.p95)
        );
        assert_eq!(h.error_rate, load.error_rate);
        assert_eq!(h.dashload_version, s.run.dashload_version);
        assert_eq!(classify(&run), Folder::Complete(Box::new(h.clone())));

        // An older folder, without history.json: the same record from summary.json.
        fs::remove_file(run.join(files::HISTORY)).unwrap();
        assert_eq!(classify(&run), Folder::Complete(Box::new(h)));
    }

    #[test]
    fn history_json_is_read_before_the_summary() {
        let tmp = tempfile::tempdir().unwrap();
        rendered(tmp.path(), "run", 5, None);
        let dir = tmp.path().join("run");
        let path = dir.join(files::HISTORY);
        let mut h: History = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        h.verdict = "fail".into();
        h.scenario = "from history.json".into();
        fs::write(&path, serde_json::to_vec(&h).unwrap()).unwrap();
        let r = record(&dir).unwrap();
        assert_eq!(
            (r.scenario.as_str(), r.verdict.as_str()),
            ("from history.json", "fail")
        );
        // A damaged history.json: the summary still says.
        fs::write(&path, "{\"schema\":").unwrap();
        assert_eq!(record(&dir).unwrap().scenario, "synthetic");
    }

    #[test]
    fn folders_are_classified() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let meta = r#"{"scenario":"nightly","started_at":"2026-11-29T03:00:00Z"}"#;
        let make = |name: &str, files_: &[(&str, &str)]| {
            let dir = d.join(name);
            fs::create_dir_all(&dir).unwrap();
            for (f, text) in files_ {
                fs::write(dir.join(f), text).unwrap();
            }
            dir
        };
        let started = "2026-11-29T03:00:00Z".parse().ok();
        let incomplete = |why| Folder::Incomplete {
            why,
            scenario: Some("nightly".into()),
            started_at: started,
        };
        assert_eq!(classify(&make("none", &[])), Folder::NotARun);
        assert_eq!(
            classify(&make("summary-only", &[(files::SUMMARY, "{}")])),
            Folder::NotARun
        );
        assert_eq!(
            classify(&make("no-summary", &[(files::RUN_META, meta)])),
            incomplete(Unfinished::NoSummary)
        );
        assert_eq!(
            classify(&make(
                "broken",
                &[(files::RUN_META, meta), (files::SUMMARY, "[")]
            )),
            incomplete(Unfinished::Unreadable)
        );
        let locked = make("locked", &[(files::RUN_META, meta), (LOCK, "")]);
        assert_eq!(classify(&locked), incomplete(Unfinished::Locked));
        let partial = make("partial", &[(files::RUN_META, "{}")]);
        fs::create_dir(partial.join(PARTIAL)).unwrap();
        assert_eq!(
            classify(&partial),
            Folder::Incomplete {
                why: Unfinished::Partial,
                scenario: None,
                started_at: None
            }
        );
    }
}
