//! Damaged run folders in the reports folder (issue 26, items 7 and 8): the
//! next run's baselines are read before its load, an unreadable one is dropped
//! with a warning naming it, FIFOs and devices are never opened for reading,
//! and history reads are capped; one bad file in a run folder costs its part of
//! the report, said in a note, not the page.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{dashload, text, wait, workspace, ATTACK};

/// 2 viewers for 1 + 3 s; passes on its panel-query error rate.
const HIST: &str = "name = \"hist\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
    [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"3s\"\n[slo.panel_query]\nerror_rate = \"50%\"\n";

fn run_folders(reports: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A copy of the passed run `good` named `name`, whose history.json says it
/// started `hours` later (so `last-passed` tries it first).
fn newer_copy(reports: &Path, good: &Path, name: &str, hours: i64) -> PathBuf {
    let dir = reports.join(name);
    copy_files(good, &dir);
    let path = dir.join("history.json");
    let mut h: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let started: chrono::DateTime<chrono::Utc> = h["started_at"].as_str().unwrap().parse().unwrap();
    h["started_at"] = (started + chrono::Duration::hours(hours))
        .to_rfc3339()
        .into();
    h["run_id"] = name.into();
    std::fs::write(&path, h.to_string()).unwrap();
    dir
}

/// Run dashload with `args` in `dir`, killed after `limit` (a hang fails the test).
fn bounded(dir: &Path, args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes on threads, so a chatty child cannot block on them.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut b).unwrap();
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut b).unwrap();
        b
    });
    let status = wait(&mut child, limit);
    let output = std::process::Output {
        status: child.wait().unwrap(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "{args:?} hung for {limit:?}: {}",
        text(&output)
    );
    output
}

/// The peak RSS of every child waited for so far, in MB.
fn children_peak_rss_mb() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss / 1024
}

#[test]
fn damaged_folders_in_the_reports_dir_never_cost_the_next_run_or_the_index() {
    let _guard = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/hist.toml"), HIST).unwrap();
    let out = dashload(dir, &["run", "scenarios/hist.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reports = dir.join("reports");
    let good = run_folders(&reports).pop().unwrap();

    // Newer "passed" copies of it with the same digest, each damaged: each is
    // tried as the baseline before the good one.
    let garbage = newer_copy(&reports, &good, "29990101T000001Z-hist-garbage-meta", 1);
    std::fs::write(garbage.join("run.json"), "\u{0}garbage{").unwrap();
    let zero = newer_copy(&reports, &good, "29990101T000002Z-hist-dev-zero", 2);
    std::fs::remove_file(zero.join("requests.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero.join("requests.csv")).unwrap();
    let fifo = newer_copy(&reports, &good, "29990101T000003Z-hist-fifo-log", 3);
    std::fs::remove_file(fifo.join("requests.csv")).unwrap();
    mkfifo(&fifo.join("requests.csv"));
    let folder = newer_copy(&reports, &good, "29990101T000004Z-hist-dir-log", 4);
    std::fs::remove_file(folder.join("requests.csv")).unwrap();
    std::fs::create_dir(folder.join("requests.csv")).unwrap();
    // Damaged records that every history read meets: a FIFO history.json, a
    // 4 GB (sparse) history.json, a 4 GB summary.json without a history.json.
    let fifo_history = reports.join("00000000T000001Z-hist-fifo-history");
    copy_files(&good, &fifo_history);
    std::fs::remove_file(fifo_history.join("history.json")).unwrap();
    mkfifo(&fifo_history.join("history.json"));
    let huge = reports.join("00000000T000002Z-hist-huge-history");
    copy_files(&good, &huge);
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(huge.join("history.json"))
        .unwrap();
    f.set_len(4 << 30).unwrap();
    let huge_summary = reports.join("00000000T000003Z-hist-huge-summary");
    copy_files(&good, &huge_summary);
    std::fs::remove_file(huge_summary.join("history.json")).unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(huge_summary.join("summary.json"))
        .unwrap();
    f.set_len(4 << 30).unwrap();

    let before = run_folders(&reports);
    let out = bounded(
        dir,
        &["run", "scenarios/hist.toml", "--baseline", "last-passed"],
        Duration::from_secs(120),
    );
    let all = text(&out);
    // Judged against the good run: a pass, or a regression by chance; never 2.
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "the run completes with a verdict: {all}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("users launched"),
        "Goose's launch line stays off stdout: {all}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for damaged in [&garbage, &zero, &fifo, &folder] {
        let name = damaged.file_name().unwrap().to_string_lossy();
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("warning: baseline") && l.contains(&*name)),
            "a warning names {name}: {all}"
        );
    }
    // The warnings come before the load: before the live status and the report.
    let first_warning = stderr.find("warning: baseline").unwrap();
    let chosen = stderr.find("dashload: baseline: ").unwrap();
    assert!(first_warning < chosen, "{all}");
    let made: Vec<_> = run_folders(&reports)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(made.len(), 1, "{all}");
    let run = &made[0];
    assert!(run.join("report.html").is_file(), "{all}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let compared = summary["baseline"]["runs"].to_string();
    let good_name = good.file_name().unwrap().to_string_lossy();
    assert!(
        compared.contains(&*good_name),
        "compared with the good run: {compared}"
    );
    assert!(
        summary["baseline"]["selection"]
            .as_str()
            .unwrap()
            .contains("4 unreadable, dropped"),
        "{}",
        summary["baseline"]
    );

    // The index over the same folders: no hang, no GBs.
    let out = bounded(dir, &["index", "reports"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rss = children_peak_rss_mb();
    assert!(rss < 1024, "a child peaked at {rss} MB");
}

#[test]
fn one_bad_file_costs_its_part_of_the_report_not_the_page() {
    let _guard = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/hist.toml"), HIST).unwrap();
    let out = dashload(dir, &["run", "scenarios/hist.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = run_folders(&dir.join("reports")).pop().unwrap();

    // One invalid byte in each auxiliary CSV, malformed JSON side files, and
    // a run.json that says the run ended in the year 9999.
    for file in ["server.csv", "cpu.csv"] {
        let path = run.join(file);
        assert!(path.is_file(), "the run wrote {file}");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"12\xff34,x,1\n");
        std::fs::write(&path, bytes).unwrap();
    }
    std::fs::write(
        run.join("sync.csv"),
        b"elapsed_ms,batch,attempt,points,status,outcome,waited_ms,asked_ms\n1\xff,1,1,10,204,ok,0,0\n",
    )
    .unwrap();
    std::fs::write(run.join("faults.json"), "[{").unwrap();
    std::fs::write(run.join("workers.json"), "{\"workers\": [").unwrap();
    let meta_path = run.join("run.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta["ended_at"] = "9999-12-31T23:59:59Z".into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();

    let out = bounded(
        dir,
        &["report", run.to_str().unwrap()],
        Duration::from_secs(120),
    );
    let all = text(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "a verdict, not a usage error: {all}"
    );
    assert!(run.join("report.html").is_file(), "{all}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let notes = summary["inputs"]["notes"].to_string();
    for said in ["9999-12-31", "faults.json", "workers.json"] {
        assert!(notes.contains(said), "a note on {said}: {notes}");
    }
    assert!(summary["server"].is_object(), "the server part is kept");
    let rss = children_peak_rss_mb();
    assert!(rss < 1024, "a child peaked at {rss} MB");
}
