//! `kill -9` mid-run (issue 26, item 6): the logs are flushed every second, so
//! `dashload report` recovers every request logged up to a second before the
//! kill, and the sync job's rows with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{dashload, signal, text, wait, workspace, ATTACK};

/// Eight viewers refreshing every second and the sync job, for 60 s (cut at ~6 s).
const LONG: &str = "name = \"killed\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n\
    refresh = \"1s\"\nrefreshes_per_visit = 100\n\
    [sync]\nusers = 1\nsource = \"generate\"\nentries_per_sync = 50\nbatch_size = 50\ninterval = \"1s\"\n\
    [[stages]]\nusers = 9\nramp = \"1s\"\nhold = \"60s\"\n[slo.panel_query]\nerror_rate = \"50%\"\n";

fn new_folder(reports: &Path) -> Option<PathBuf> {
    std::fs::read_dir(reports)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.join(".partial").is_dir())
}

/// The largest value of `column` in the CSV at `path` (0 when none).
fn max_of(path: &Path, column: &str) -> (u64, usize) {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    // An empty file (nothing flushed) has no header either.
    let Some(i) = r.headers().unwrap().iter().position(|h| h == column) else {
        return (0, 0);
    };
    let mut rows = 0;
    let mut max = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        rows += 1;
        max = max.max(rec[i].parse::<u64>().unwrap());
    }
    (max, rows)
}

#[test]
fn kill_9_mid_run_loses_at_most_the_last_second_of_each_log() {
    let _guard = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/long.toml"), LONG).unwrap();
    let reports = dir.join("reports");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/long.toml"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let folder = loop {
        if let Some(f) = new_folder(&reports) {
            break f;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no run started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let requests = folder.join(".partial/requests.csv");
    // Wait until rows are flowing, then 5 s more.
    let start = Instant::now();
    while std::fs::metadata(&requests).map_or(0, |m| m.len()) < 400 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no request logged"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(5));
    signal(&child, "KILL");
    let killed_at = chrono::Utc::now();
    assert!(wait(&mut child, Duration::from_secs(10)).is_some());

    let out = dashload(dir, &["report", folder.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the folder is recovered and rendered: {}",
        text(&out)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("run.json")).unwrap()).unwrap();
    let started: chrono::DateTime<chrono::Utc> =
        meta["started_at"].as_str().unwrap().parse().unwrap();
    // The kill on the run's clock (Goose's clock starts a little later: this
    // errs against the test).
    let kill_ms = (killed_at - started).num_milliseconds() as u64;
    let (last_request, requests_logged) = max_of(&folder.join("requests.csv"), "elapsed");
    let (last_batch, batches) = max_of(&folder.join("ingest.csv"), "elapsed_ms");
    eprintln!(
        "killed at {kill_ms} ms: last request {last_request} ms ({requests_logged} rows), last batch {last_batch} ms ({batches} rows)"
    );
    // Rows come several times a second: a flush a second leaves at most the
    // last second (and the gap to the next row) unwritten.
    assert!(
        last_request + 1_500 >= kill_ms,
        "the last logged request at {last_request} ms, killed at {kill_ms} ms ({requests_logged} rows)"
    );
    // One batch a second; its row is written when the write ends.
    assert!(
        batches > 0 && last_batch + 2_500 >= kill_ms,
        "the last sync batch at {last_batch} ms, killed at {kill_ms} ms ({batches} rows)"
    );
    let ran_ms = {
        let ended: chrono::DateTime<chrono::Utc> =
            meta["ended_at"].as_str().unwrap().parse().unwrap();
        (ended - started).num_milliseconds() as u64
    };
    assert!(
        ran_ms >= last_request && ran_ms + 1_500 >= kill_ms,
        "recovered as ending at {ran_ms} ms, killed at {kill_ms} ms"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["inputs"]["requests"]["rows"].as_u64(),
        Some(requests_logged as u64),
        "every logged row is in the report"
    );
    assert!(summary["totals"]["requests"].as_u64().unwrap() > 0);
}
