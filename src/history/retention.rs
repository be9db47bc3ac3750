//! Retention (`dashload run … --keep N`): the oldest complete run folders of a
//! scenario beyond its newest N are removed.
//!
//! Only what is surely a finished run of that scenario goes: never a folder the
//! caller protects (the run just made, the baselines it used), never an
//! incomplete folder (`.partial/` or `.run.lock` left, no readable summary:
//! a run going on, or one `dashload report` can still recover), never
//! anything without `run.json`, never a symbolic link. A folder goes only when
//! its `run.json` parses as dashload's and names the scenario, and when every
//! file in it is one a run writes ([`foreign`]): a folder holding anything else
//! (notes, a thesis) is left whole and named in a warning.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::{folders, Folder};
use crate::error::{Error, Result};
use crate::runfolder::files;

/// What [`prune`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pruned {
    /// Folders removed, oldest last.
    pub removed: Vec<PathBuf>,
    /// Folders that could not be removed, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Remove the complete run folders of `scenario` under `reports` older than its
/// newest `keep`, except those in `protected` (compared as canonical paths).
/// `keep` 0 is refused: it would remove every run, the one just made included.
pub fn prune(reports: &Path, scenario: &str, keep: usize, protected: &[PathBuf]) -> Result<Pruned> {
    if keep == 0 {
        return Err(Error::Usage(
            "--keep 0: keep at least 1 run (0 would remove every run of the scenario)".into(),
        ));
    }
    let protected: HashSet<PathBuf> = protected
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    let mut pruned = Pruned::default();
    let complete = folders(reports).into_iter().filter_map(|(dir, f)| match f {
        Folder::Complete(h) if h.scenario == scenario => Some(dir),
        _ => None,
    });
    for dir in complete.skip(keep) {
        let canonical = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if protected.contains(&canonical) {
            continue;
        }
        if let Some(why) = foreign(&dir, scenario) {
            pruned.failed.push((dir, why));
            continue;
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => pruned.removed.push(dir),
            Err(e) => pruned.failed.push((dir, e.to_string())),
        }
    }
    Ok(pruned)
}

/// The files a run writes at the top of its folder.
const RUN_FILES: [&str; 14] = [
    files::RUN_META,
    files::GOOSE_JSON,
    files::GOOSE_HTML,
    files::REQUESTS,
    files::INGEST,
    files::REPORT_HTML,
    files::SUMMARY,
    files::JUNIT,
    files::CPU,
    files::HISTORY,
    files::SERVER,
    crate::users::ingest_log::ATTEMPTS,
    crate::faults::FILE,
    crate::cluster::merge::WORKERS_FILE,
];

/// Why `dir` is not removed, when it is not surely dashload's run of `scenario`:
/// its `run.json` is not dashload's, or it holds a file or folder a run does
/// not write (a run's own files, their temporary and set-aside forms, command
/// fault logs, the workers' folders of a distributed run).
fn foreign(dir: &Path, scenario: &str) -> Option<String> {
    match crate::runfolder::RunMeta::load(dir) {
        Ok(meta) if meta.scenario == scenario => {}
        Ok(meta) => {
            return Some(format!(
                "its run.json names scenario `{}`, not `{scenario}`; nothing in it was touched",
                meta.scenario
            ))
        }
        Err(_) => {
            return Some("its run.json is not a dashload run's; nothing in it was touched".into())
        }
    }
    let mut strangers = Vec::new();
    unknown_entries(dir, Path::new(""), Level::Run, &mut strangers);
    if strangers.is_empty() {
        return None;
    }
    let shown: Vec<String> = strangers.iter().take(5).cloned().collect();
    let more = strangers.len().saturating_sub(shown.len());
    Some(format!(
        "it holds what dashload did not write ({}{}); nothing in it was touched",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// Where in a run folder a listing is.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// The run folder, or a worker's folder in `workers/<i>/`.
    Run,
    /// `faults/`: command logs.
    FaultLogs,
    /// `workers/`: one folder per worker index.
    Workers,
}

/// Collect into `out` (as paths relative to the run folder) each entry under
/// `dir` that a run does not write; a symbolic link is always one.
fn unknown_entries(dir: &Path, at: &Path, level: Level, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        out.push(format!("{} (unreadable)", at.display()));
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let shown = at.join(&name);
        let Ok(kind) = entry.file_type() else {
            out.push(shown.display().to_string());
            continue;
        };
        let known = match level {
            Level::Run if kind.is_dir() => {
                let inner = match name.as_str() {
                    crate::faults::LOG_DIR => Some(Level::FaultLogs),
                    crate::cluster::merge::WORKERS_DIR => Some(Level::Workers),
                    _ => None,
                };
                if let Some(inner) = inner {
                    unknown_entries(&entry.path(), &shown, inner, out);
                    continue;
                }
                false
            }
            Level::Run => kind.is_file() && is_run_file(&name),
            Level::FaultLogs => kind.is_file() && is_fault_log(&name),
            Level::Workers if kind.is_dir() && name.parse::<usize>().is_ok() => {
                unknown_entries(&entry.path(), &shown, Level::Run, out);
                continue;
            }
            Level::Workers => false,
        };
        if !known {
            out.push(shown.display().to_string());
        }
    }
}

/// A run's own file, or its temporary (`.name.tmp`, an upload's
/// `.name.N.partial`, a worker's `.worker.log.partial`) or set-aside
/// (`name.incomplete`) form.
fn is_run_file(name: &str) -> bool {
    let own = |n: &str| RUN_FILES.contains(&n) || n == "worker.log";
    if own(name) {
        return true;
    }
    if let Some(n) = name.strip_suffix(".incomplete") {
        return own(n);
    }
    if let Some(hidden) = name.strip_prefix('.') {
        if let Some(n) = hidden.strip_suffix(".tmp") {
            return own(n);
        }
        if let Some(rest) = hidden.strip_suffix(".partial") {
            let n = rest
                .rsplit_once('.')
                .filter(|(_, seq)| seq.parse::<u64>().is_ok())
                .map_or(rest, |(n, _)| n);
            return own(n);
        }
    }
    false
}

/// A command fault's log: `<n>-start.log` or `<n>-stop.log`.
fn is_fault_log(name: &str) -> bool {
    let Some(stem) = name
        .strip_suffix("-start.log")
        .or_else(|| name.strip_suffix("-stop.log"))
    else {
        return false;
    };
    !stem.is_empty() && stem.parse::<usize>().is_ok()
}

/// `--keep N`'s value: a whole number of runs, at least 1.
pub fn parse_keep(value: &str) -> std::result::Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(0) => Err(
            "keep at least 1 run (0 would remove every run of the scenario, this one included)"
                .into(),
        ),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{value}` is not a number of runs")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::files;
    use crate::runfolder::recover::{LOCK, PARTIAL};

    /// run.json as dashload writes it (its required fields), of `scenario`.
    pub(super) fn run_json(scenario: &str, started_at: &str) -> String {
        serde_json::json!({
            "dashload_version": "0.1.0", "scenario": scenario, "scenario_file": "s.toml",
            "scenario_digest": "d", "seed": 1,
            "target": {"kind": "sandbox", "url": "http://127.0.0.1:1"},
            "test_plan": "1,1s;0,1s", "sync_users": 0, "windows": [], "slos": [],
            "started_at": started_at,
        })
        .to_string()
    }

    /// A complete run folder of `scenario` started at minute `minute`, with a history.json.
    fn run(root: &Path, name: &str, scenario: &str, minute: u32) -> PathBuf {
        let d = root.join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join(files::RUN_META),
            run_json(scenario, &format!("2026-11-29T03:{minute:02}:00Z")),
        )
        .unwrap();
        fs::write(d.join(files::SUMMARY), "{}").unwrap();
        let h = serde_json::json!({
            "schema": 1, "run_id": name, "scenario": scenario, "scenario_digest": "d",
            "started_at": format!("2026-11-29T03:{minute:02}:00Z"), "verdict": "pass",
        });
        fs::write(d.join(files::HISTORY), h.to_string()).unwrap();
        d
    }

    fn left(root: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_oldest_complete_runs_of_the_scenario_beyond_n_go() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for m in 1..=5 {
            run(r, &format!("s{m}"), "staged", m);
        }
        run(r, "o1", "smoke", 0);
        let now = run(r, "s6", "staged", 6);
        let pruned = prune(r, "staged", 2, &[now]).unwrap();
        assert_eq!(
            pruned.removed,
            ["s4", "s3", "s2", "s1"].map(|n| r.join(n)),
            "newest first"
        );
        assert!(pruned.failed.is_empty());
        assert_eq!(
            left(r),
            ["o1", "s5", "s6"],
            "other scenarios are not counted"
        );
        assert_eq!(prune(r, "staged", 2, &[]).unwrap(), Pruned::default());
    }

    #[test]
    fn protected_incomplete_and_foreign_folders_are_never_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        // The run just made, oldest by clock (a machine whose clock jumped back).
        let now = run(r, "a-now", "staged", 0);
        let base1 = run(r, "b-base1", "staged", 1);
        let base2 = run(r, "c-base2", "staged", 2);
        run(r, "d-old", "staged", 3);
        // Incomplete: logs still in .partial/, a lock left, no summary, a broken one.
        fs::create_dir(run(r, "e-partial", "staged", 4).join(PARTIAL)).unwrap();
        fs::write(run(r, "f-locked", "staged", 5).join(LOCK), "").unwrap();
        let no_summary = r.join("g-no-summary");
        fs::create_dir(&no_summary).unwrap();
        fs::write(
            no_summary.join(files::RUN_META),
            r#"{"scenario":"staged","started_at":"2026-11-29T03:06:00Z"}"#,
        )
        .unwrap();
        let broken = r.join("h-broken");
        fs::create_dir(&broken).unwrap();
        fs::write(broken.join(files::RUN_META), "{}").unwrap();
        fs::write(broken.join(files::SUMMARY), "{not json").unwrap();
        // Not run folders: no run.json (yet a summary and history), a file, a link.
        let foreign = run(r, "i-foreign", "staged", 7);
        fs::remove_file(foreign.join(files::RUN_META)).unwrap();
        fs::write(r.join("notes.txt"), "x").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let linked = run(elsewhere.path(), "linked", "staged", 8);
        std::os::unix::fs::symlink(&linked, r.join("j-link")).unwrap();
        // The newest two complete runs.
        run(r, "y-new1", "staged", 10);
        run(r, "z-new2", "staged", 11);

        // Protected as given on the command line: relative and through `..`.
        let base1_odd = r.join("y-new1").join("..").join("b-base1");
        let pruned = prune(r, "staged", 2, &[now, base1_odd, base2.clone()]).unwrap();
        assert_eq!(pruned.removed, [r.join("d-old")]);
        assert_eq!(
            left(r),
            [
                "a-now",
                "b-base1",
                "c-base2",
                "e-partial",
                "f-locked",
                "g-no-summary",
                "h-broken",
                "i-foreign",
                "j-link",
                "notes.txt",
                "y-new1",
                "z-new2"
            ]
        );
        assert!(
            linked.join(files::RUN_META).exists(),
            "a link is not followed"
        );
        assert!(base1.exists());
        // Keep 1 now: only the unprotected complete ones beyond the newest go.
        let pruned = prune(r, "staged", 1, &[base2]).unwrap();
        assert_eq!(
            pruned.removed,
            [r.join("y-new1"), r.join("b-base1"), r.join("a-now")]
        );
    }

    /// Issue 25: `run.json = {}`, a history.json naming the scenario and a
    /// thesis: not dashload's, never removed.
    #[test]
    fn a_folder_dashload_did_not_write_is_never_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let thesis = r.join("a-thesis");
        fs::create_dir(&thesis).unwrap();
        fs::write(thesis.join(files::RUN_META), "{}").unwrap();
        let h = serde_json::json!({
            "schema": 1, "run_id": "a-thesis", "scenario": "staged", "scenario_digest": "d",
            "started_at": "2026-11-29T03:00:00Z", "verdict": "pass",
        });
        fs::write(thesis.join(files::HISTORY), h.to_string()).unwrap();
        fs::write(thesis.join("thesis.tex"), "\\documentclass{book}").unwrap();
        // A real run's folder with a file a person put there: left whole too.
        let notes = run(r, "b-notes", "staged", 1);
        fs::write(notes.join("notes.txt"), "why it failed").unwrap();
        fs::create_dir(notes.join("faults")).unwrap();
        fs::write(notes.join("faults").join("1-start.log"), "ok").unwrap();
        // A run's own files only (fault logs, a worker's folder, a set-aside file): removed.
        let own = run(r, "c-own", "staged", 2);
        fs::create_dir_all(own.join("faults")).unwrap();
        fs::write(own.join("faults").join("2-stop.log"), "").unwrap();
        fs::create_dir_all(own.join("workers").join("0")).unwrap();
        fs::write(own.join("workers").join("0").join("requests.csv"), "").unwrap();
        fs::write(own.join("workers").join("0").join("worker.log"), "").unwrap();
        fs::write(own.join("report.json.incomplete"), "{").unwrap();
        for f in [
            files::REQUESTS,
            files::REPORT_HTML,
            files::JUNIT,
            "sync.csv",
        ] {
            fs::write(own.join(f), "").unwrap();
        }
        let newest = run(r, "z-new", "staged", 9);

        let pruned = prune(r, "staged", 1, &[newest]).unwrap();
        assert_eq!(pruned.removed, [r.join("c-own")]);
        let why: Vec<(String, String)> = pruned
            .failed
            .iter()
            .map(|(d, w)| {
                (
                    d.file_name().unwrap().to_string_lossy().into_owned(),
                    w.clone(),
                )
            })
            .collect();
        assert_eq!(why.len(), 2, "{why:?}");
        assert_eq!(why[0].0, "b-notes");
        assert!(why[0].1.contains("notes.txt"), "{why:?}");
        assert_eq!(why[1].0, "a-thesis");
        assert!(
            why[1].1.contains("run.json is not a dashload run's"),
            "{why:?}"
        );
        assert!(thesis.join("thesis.tex").is_file());
        assert!(notes.join("notes.txt").is_file() && notes.join(files::RUN_META).is_file());
        assert_eq!(left(r), ["a-thesis", "b-notes", "z-new"]);
    }

    #[test]
    fn keep_zero_is_a_usage_error_and_removes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        run(tmp.path(), "s1", "staged", 1);
        let e = prune(tmp.path(), "staged", 0, &[]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        assert!(e.to_string().contains("--keep 0"), "{e}");
        assert_eq!(left(tmp.path()), ["s1"]);
    }

    #[test]
    fn a_missing_reports_folder_has_nothing_to_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let pruned = prune(&tmp.path().join("nope"), "staged", 3, &[]).unwrap();
        assert_eq!(pruned, Pruned::default());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::runfolder::files;
    use crate::runfolder::recover::{LOCK, PARTIAL};

    /// What one folder under the reports folder is.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Complete,
        Partial,
        Locked,
        NoSummary,
        Foreign,
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            4 => Just(Kind::Complete),
            1 => Just(Kind::Partial),
            1 => Just(Kind::Locked),
            1 => Just(Kind::NoSummary),
            1 => Just(Kind::Foreign),
        ]
    }

    /// Folders: (kind, scenario a or b, start minute, protected).
    fn layout() -> impl Strategy<Value = Vec<(Kind, bool, u32, bool)>> {
        prop::collection::vec(
            (kind(), any::<bool>(), 0u32..60, prop::bool::weighted(0.2)),
            0..14,
        )
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(24))]

        /// Whatever the folders, prune leaves every protected, incomplete,
        /// foreign and other-scenario folder, keeps the newest `keep` complete
        /// runs of the scenario, and removes only complete, unprotected runs of
        /// it older than those.
        #[test]
        fn prop_prune_removes_only_old_unprotected_complete_runs(
            folders_ in layout(),
            keep in 1usize..4,
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let r = tmp.path();
            let mut protected = Vec::new();
            for (i, (kind, a, minute, prot)) in folders_.iter().enumerate() {
                let scenario = if *a { "a" } else { "b" };
                let d = r.join(format!("{i:02}-{scenario}"));
                fs::create_dir(&d).unwrap();
                let started = format!("2026-11-29T03:{minute:02}:{:02}Z", i);
                if *kind != Kind::Foreign {
                    fs::write(
                        d.join(files::RUN_META),
                        super::tests::run_json(scenario, &started),
                    )
                    .unwrap();
                }
                if *kind != Kind::NoSummary {
                    let h = serde_json::json!({
                        "schema": 1, "run_id": i.to_string(), "scenario": scenario,
                        "scenario_digest": "d", "started_at": started, "verdict": "pass",
                    });
                    fs::write(d.join(files::HISTORY), h.to_string()).unwrap();
                    fs::write(d.join(files::SUMMARY), "{}").unwrap();
                }
                match kind {
                    Kind::Partial => fs::create_dir(d.join(PARTIAL)).unwrap(),
                    Kind::Locked => fs::write(d.join(LOCK), "").unwrap(),
                    _ => {}
                }
                if *prot {
                    protected.push(d);
                }
            }
            let pruned = prune(r, "a", keep, &protected).unwrap();
            prop_assert!(pruned.failed.is_empty());
            // The scenario's complete runs, newest first (start minute, then index).
            let mut complete: Vec<(u32, usize)> = folders_
                .iter()
                .enumerate()
                .filter(|(_, f)| f.0 == Kind::Complete && f.1)
                .map(|(i, f)| (f.2, i))
                .collect();
            complete.sort_by(|x, y| y.cmp(x));
            let newest: Vec<usize> = complete.iter().take(keep).map(|c| c.1).collect();
            for (i, (kind, a, _, prot)) in folders_.iter().enumerate() {
                let d = r.join(format!("{i:02}-{}", if *a { "a" } else { "b" }));
                let removable = *kind == Kind::Complete && *a && !*prot && !newest.contains(&i);
                prop_assert_eq!(pruned.removed.contains(&d), removable, "{:?}", d);
                prop_assert_eq!(d.exists(), !removable, "{:?}", d);
            }
        }
    }
}
