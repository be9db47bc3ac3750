//! Distributed runs on loopback: the manager in this process (hosting the
//! embedded sandbox, so its counters are at hand), the workers as separate
//! processes of the built binary (Goose's killswitch is process-wide).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dashload::cluster::manager::{ManagerOptions, OnLoss, Workers};
use dashload::cluster::merge::{worker_dir, WorkersFile};
use dashload::run::{RunOptions, RunResult};
use dashload::runfolder::{files, RequestClass, RunMeta, WindowKind};
use goose::config::GooseConfiguration;

use crate::util::{dashload, text, workspace, ATTACK};

const SCENARIO: &str = r#"
name = "cluster"
seed = 5

[target]
kind = "sandbox"

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 3
think_time = "1s..1s"

[sync]
users = 1
source = "generate"
entries_per_sync = 200
batch_size = 100
interval = "2s"

[[stages]]
users = 7
ramp = "2s"
hold = "9s"

[slo.dashboard_load]
p95 = "10s"
"#;

/// A free loopback port (bound, then released for the manager).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn worker(dir: &Path, port: u16, index: usize, token: Option<&str>) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dashload"));
    c.args([
        "worker",
        "--manager",
        &format!("http://127.0.0.1:{port}"),
        "--index",
        &index.to_string(),
        "--reports-dir",
        &format!("worker-runs/{index}"),
        "--connect-timeout",
        "30",
    ])
    .current_dir(dir)
    .env_remove("DASHLOAD_CLUSTER_TOKEN")
    .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
    .env_remove("JOB_COMPLETION_INDEX")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(t) = token {
        c.env("DASHLOAD_CLUSTER_TOKEN", t);
    }
    c.spawn().unwrap()
}

/// Run the manager here with `n` remote workers on `port`, the scenario in `dir`.
fn manage(dir: &Path, scenario: &str, port: u16, n: usize, on_loss: OnLoss) -> RunResult {
    let options = RunOptions {
        scenario: dir.join(scenario),
        reports_dir: dir.join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
    };
    let cluster = ManagerOptions {
        workers: Workers::Remote(n),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        on_loss,
        join_timeout: Duration::from_secs(60),
        set: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(dashload::cluster::manager::run(options, cluster))
        .unwrap()
}

/// `requests.csv` rows: (elapsed, name, latency µs, success, error).
fn rows(path: &Path) -> Vec<(i64, String, u64, bool, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (e, name, us, ok, err) = (
        col("elapsed"),
        col("name"),
        col("response_time_us"),
        col("success"),
        col("error"),
    );
    r.records()
        .map(|x| x.unwrap())
        .map(|x| {
            (
                x[e].parse().unwrap(),
                x[name].to_string(),
                x[us].parse().unwrap(),
                &x[ok] == "true",
                x[err].to_string(),
            )
        })
        .collect()
}

fn wait_all(children: Vec<Child>) -> Vec<(std::process::ExitStatus, String)> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn three_workers_make_one_exact_report() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), SCENARIO).unwrap();
    let port = free_port();
    let children: Vec<Child> = (0..3).map(|i| worker(dir.path(), port, i, None)).collect();
    let result = manage(dir.path(), "scenarios/cluster.toml", port, 3, OnLoss::Abort);
    let statuses = wait_all(children);
    for (i, (status, err)) in statuses.iter().enumerate() {
        assert!(status.success(), "worker {i}: {status:?}\n{err}");
    }
    let run = &result.run_dir;
    let meta = RunMeta::load(run).unwrap();
    assert!(!meta.interrupted);
    let file = WorkersFile::load(run).unwrap().expect("workers.json");
    assert_eq!(file.workers.len(), 3);
    // Each worker's files arrived, and its own copy went once acknowledged.
    for i in 0..3 {
        for f in [files::REQUESTS, files::RUN_META, files::CPU] {
            assert!(worker_dir(run, i).join(f).is_file(), "worker {i}: {f}");
        }
        assert!(
            std::fs::read_dir(dir.path().join(format!("worker-runs/{i}")))
                .map_or(true, |mut d| d.next().is_none()),
            "worker {i} kept its folder after the ack"
        );
    }
    // Shares: 7 viewers over 3 workers, the sync worker (0) ranked last.
    let shares: Vec<usize> = file.workers.iter().map(|w| w.peak_viewers).collect();
    assert_eq!(shares, [2, 3, 2]);
    let sync: Vec<usize> = file.workers.iter().map(|w| w.sync_users).collect();
    assert_eq!(sync, [1, 0, 0]);
    for w in &file.workers {
        assert!(w.viewers_started <= w.peak_viewers as u64, "{w:?}");
        assert!(w.offset_ms.abs() < 1000, "start skew: {w:?}");
    }
    let seeds: std::collections::BTreeSet<u64> = file.workers.iter().map(|w| w.seed).collect();
    assert_eq!(seeds.len(), 3, "each worker has its own viewer seed");

    // Counts: the union of the workers' logs is what the sandbox served.
    let logs: Vec<_> = (0..3)
        .map(|i| rows(&worker_dir(run, i).join(files::REQUESTS)))
        .collect();
    let mut by_class: BTreeMap<RequestClass, usize> = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        for r in log {
            let class = RequestClass::of(&r.1);
            if class != RequestClass::DashboardLoad && dashload::runfolder::is_not_sent(&r.4) {
                continue;
            }
            *by_class.entry(class).or_default() += 1;
            if matches!(class, RequestClass::IngestBatch | RequestClass::SyncFetch) {
                assert_eq!(i, 0, "sync rows come from the sync worker only: {r:?}");
            }
        }
    }
    let count = |c: RequestClass| by_class.get(&c).copied().unwrap_or(0);
    let sandbox = result.sandbox.expect("the manager's sandbox counters");
    let served = |k: &str| sandbox.requests.get(k).copied().unwrap_or(0) as usize;
    assert!(count(RequestClass::PanelQuery) > 20, "{by_class:?}");
    assert_eq!(
        count(RequestClass::PanelQuery) + count(RequestClass::VariableQuery),
        served("POST /api/ds/query"),
        "{:?}",
        sandbox.requests
    );
    assert_eq!(count(RequestClass::IngestBatch), served("POST /write"));
    assert!(count(RequestClass::IngestBatch) > 0);
    assert_eq!(meta.counters.points_written, sandbox.points_written);
    assert_eq!(
        count(RequestClass::DashboardLoad) as u64,
        meta.counters.dashboard_loads
    );
    for i in 1..3 {
        let ingest = std::fs::read_to_string(worker_dir(run, i).join(files::INGEST)).unwrap();
        assert_eq!(ingest.lines().count(), 1, "worker {i} wrote no batch");
    }

    // The merged window's p95 is the union's, each log shifted by its offset.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join(files::SUMMARY)).unwrap()).unwrap();
    let hold = meta
        .windows
        .iter()
        .find(|w| w.kind == WindowKind::Hold)
        .unwrap();
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    let mut loads = 0;
    for (i, log) in logs.iter().enumerate() {
        let offset = file.workers[i].offset_ms;
        for r in log {
            let t = (r.0 + offset).max(0) as u64;
            if RequestClass::of(&r.1) == RequestClass::PanelQuery
                && r.3
                && t >= hold.start_ms
                && t < hold.end_ms
            {
                h.record(r.2.max(1)).unwrap();
                loads += 1;
            }
        }
    }
    assert!(loads > 20);
    let window = summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == hold.name.as_str())
        .unwrap();
    let class = window["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "panel_query")
        .unwrap();
    let want = h.value_at_quantile(0.95) as f64 / 1000.0;
    let got = class["latency"]["p95"].as_f64().unwrap();
    // To histogram precision (the report's windows keep 2 significant digits).
    assert!(
        (got - want).abs() <= want * 0.01 + 0.01,
        "merged p95 {got} ms, union of the logs {want} ms"
    );
    assert_eq!(
        class["count"].as_u64().unwrap() - class["failed"].as_u64().unwrap(),
        loads as u64
    );
    // The per-worker table is in the report.
    let html = std::fs::read_to_string(run.join(files::REPORT_HTML)).unwrap();
    assert!(html.contains("<section id=\"workers\">"));
    assert_eq!(summary["workers"].as_array().unwrap().len(), 3);
}

#[test]
fn a_killed_worker_is_lost_and_stops_the_run() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"40s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let mut children: Vec<Child> = (0..3).map(|i| worker(dir.path(), port, i, None)).collect();
    let victim = children.remove(2);
    let pid = victim.id();
    let killer = std::thread::spawn(move || {
        // Kill worker 2 a few seconds into the load.
        std::thread::sleep(Duration::from_secs(9));
        let t = Instant::now();
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        let mut victim = victim;
        let _ = victim.wait();
        t
    });
    let result = manage(dir.path(), "scenarios/cluster.toml", port, 3, OnLoss::Abort);
    let done = Instant::now();
    let killed_at = killer.join().unwrap();
    let _ = wait_all(children);
    assert!(
        done.duration_since(killed_at) < Duration::from_secs(20),
        "the run ended {:?} after the kill",
        done.duration_since(killed_at)
    );
    let run = &result.run_dir;
    let meta = RunMeta::load(run).unwrap();
    assert!(meta.interrupted, "a lost worker interrupts the run");
    let file = WorkersFile::load(run).unwrap().unwrap();
    let lost = &file.workers[2];
    assert_eq!(lost.ended_by, "lost");
    let at = lost.lost_at_ms.expect("when");
    assert!(lost.lost_reason.is_some());
    // Counted lost after 3 s without a tick (its last tick at most half a second
    // before the kill): within 5 s of it.
    assert!(at > 0 && at < 40_000, "{at}");
    assert_eq!(lost.lost_reason.as_deref(), Some("no tick for 3 s"));
    // The others stopped and sent their files: the folder is complete.
    for i in 0..2 {
        assert_ne!(file.workers[i].ended_by, "lost");
        assert!(worker_dir(run, i).join(files::REQUESTS).is_file());
    }
    assert!(run.join(files::REPORT_HTML).is_file());
    assert!(run.join(files::SUMMARY).is_file());
    // Only the windows every worker ran are judged: they end at the loss.
    assert!(
        meta.windows.iter().all(|w| w.end_ms <= at),
        "{:?}",
        meta.windows
    );
}

#[test]
fn mismatched_and_unauthorised_workers_are_refused() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), SCENARIO).unwrap();
    // A worker whose copy of the scenario differs is refused at join, in one line.
    let other = workspace();
    std::fs::write(
        other.path().join("scenarios/cluster.toml"),
        SCENARIO.replace("seed = 5", "seed = 6"),
    )
    .unwrap();
    let port = free_port();
    let manager = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args([
            "run",
            "scenarios/cluster.toml",
            "--workers",
            "1",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--join-timeout",
            "8",
        ])
        .current_dir(dir.path())
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bad = worker(other.path(), port, 0, None);
    let out = bad.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("scenario mismatch"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // The manager, with nobody joined, gives up naming the missing worker.
    let out = manager.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("workers missing after 8 s: 0 (not joined)"),
        "{err}"
    );
    assert!(
        !dir.path().join("reports").exists()
            || std::fs::read_dir(dir.path().join("reports"))
                .unwrap()
                .all(|e| !e.unwrap().path().join(files::RUN_META).exists()),
        "no run folder for a run that never started"
    );

    // A manager with a token refuses a worker with the wrong one; the token is not printed.
    let out = dashload(
        dir.path(),
        &[
            "run",
            "scenarios/cluster.toml",
            "--workers",
            "1",
            "--listen",
            "0.0.0.0:0",
            "--join-timeout",
            "1",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        err.contains("DASHLOAD_CLUSTER_TOKEN"),
        "off loopback a token is required: {err}"
    );
}

#[test]
fn a_wrong_token_is_refused_and_never_printed() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), SCENARIO).unwrap();
    let port = free_port();
    let secret = "right-token-0123456789";
    let mut manager = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args([
            "run",
            "scenarios/cluster.toml",
            "--workers",
            "1",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--join-timeout",
            "6",
        ])
        .current_dir(dir.path())
        .env("DASHLOAD_CLUSTER_TOKEN", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wrong = worker(dir.path(), port, 0, Some("wrong-token-0123456789"));
    let out = wrong.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("wrong or missing cluster token"), "{err}");
    assert!(!err.contains("0123456789"), "{err}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while manager.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the manager gave up on time");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = manager.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("workers missing after 6 s"), "{all}");
    assert!(!all.contains(secret), "{all}");
}

/// A ladder that trips the slowed sandbox's capacity (as `refine.rs`'s does).
const LADDER: &str = r#"
name = "cluster-ladder"
seed = 11

[target]
kind = "sandbox"

[sandbox]
query_cost = 1.5

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 10
think_time = "1s..1s"

[sync]
users = 0

[[stages]]
users = 3
ramp = "1s"
hold = "5s"

[stress]
step = 12
ramp = "2s"
hold = "10s"
ceiling = 39
stop_when = "p95 > 2s"

[slo.dashboard_load]
p95 = "2s"
"#;

#[test]
fn the_merged_ladder_stops_every_worker_within_a_second_and_a_half() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/ladder.toml"), LADDER).unwrap();
    let port = free_port();
    let children: Vec<Child> = (0..3).map(|i| worker(dir.path(), port, i, None)).collect();
    let result = manage(dir.path(), "scenarios/ladder.toml", port, 3, OnLoss::Abort);
    let statuses = wait_all(children);
    let run = &result.run_dir;
    let meta = RunMeta::load(run).unwrap();
    let stop = meta
        .ladder_stop
        .clone()
        .unwrap_or_else(|| panic!("the ladder stopped: {:?}", statuses));
    assert!(!meta.interrupted, "a ladder stop is no interruption");
    assert!(stop.step.starts_with("step "), "{stop:?}");
    // Global viewers, not a worker's share.
    assert_eq!(stop.viewers % 3, 0, "{stop:?}");
    let file = WorkersFile::load(run).unwrap().unwrap();
    for w in &file.workers {
        assert_eq!(w.ended_by, "ladder stop", "{w:?}");
        // The last request each worker started (on the run's clock) came at most
        // 1.5 s after the manager's decision.
        let last_start = rows(&worker_dir(run, w.index).join(files::REQUESTS))
            .iter()
            .filter(|r| !dashload::runfolder::is_not_sent(&r.4))
            .filter(|r| RequestClass::of(&r.1) != RequestClass::DashboardLoad)
            .map(|r| r.0 + w.offset_ms - (r.2 / 1000) as i64)
            .max()
            .unwrap();
        assert!(
            last_start <= stop.at_ms as i64 + 1500,
            "worker {}: last request started at {last_start} ms, the stop was at {} ms",
            w.index,
            stop.at_ms
        );
    }
}

#[test]
fn a_worker_whose_manager_vanishes_stops_and_keeps_its_folder() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"60s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let mut manager = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args([
            "run",
            "scenarios/cluster.toml",
            "--workers",
            "1",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir.path())
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = worker(dir.path(), port, 0, None);
    // Once the load has run a few seconds, the manager vanishes.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = manager.stderr.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("the load starts") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the worker joined and the load started");
    std::thread::sleep(Duration::from_secs(5));
    manager.kill().unwrap();
    let _ = manager.wait();
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = w.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(40),
            "the worker stopped on its own"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(w.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("manager lost"), "{err}");
    // Its own run folder is complete and kept.
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("worker-runs/0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(files::RUN_META).is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{err}");
    let meta = RunMeta::load(&runs[0]).unwrap();
    assert!(meta.interrupted && meta.ended_at.is_some());
    assert!(runs[0].join(files::REQUESTS).is_file());
    assert!(!runs[0].join(".run.lock").exists());
}

/// `recovery.rs`'s shedding sandbox past its knee, with the sync job: three
/// viewers hold, the ladder jumps to 15 and stops (or holds to that ceiling),
/// then the load drops back to the three for 20 s.
const RECOVERY: &str = r#"
name = "cluster-recovery"
seed = 11

[target]
kind = "sandbox"
timeout = "3s"

[sandbox]
query_cost = 20
overload = "shed"

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 10
think_time = "1s..1s"

[[viewers.time_ranges]]
from = "now-24h"
weight = 1

[sync]
users = 1
source = "generate"
entries_per_sync = 100
batch_size = 100
interval = "4s"

[[stages]]
users = 3
ramp = "1s"
hold = "6s"

[stress]
step = 12
ramp = "2s"
hold = "10s"
ceiling = 15
stop_when = "errors > 10%"

[recovery]
hold = "20s"

[slo.panel_query]
p95 = "1s"
"#;

#[test]
fn every_worker_drops_to_its_share_of_the_recovery_phase_at_once() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/recovery.toml"), RECOVERY).unwrap();
    let port = free_port();
    let children: Vec<Child> = (0..2).map(|i| worker(dir.path(), port, i, None)).collect();
    let result = manage(
        dir.path(),
        "scenarios/recovery.toml",
        port,
        2,
        OnLoss::Abort,
    );
    let statuses = wait_all(children);
    for (i, (status, err)) in statuses.iter().enumerate() {
        assert!(status.success(), "worker {i}: {status:?}\n{err}");
    }
    let run = &result.run_dir;
    let meta = RunMeta::load(run).unwrap();
    assert!(!meta.interrupted, "the phase's own end is no interruption");
    // The drop: at the ladder's stop, or at its end when it held to the ceiling.
    let ladder_end = meta
        .windows
        .iter()
        .filter(|w| w.kind != WindowKind::Recovery)
        .map(|w| w.end_ms)
        .max()
        .unwrap();
    let drop = meta.ladder_stop.as_ref().map_or(ladder_end, |s| s.at_ms);
    let w = meta
        .windows
        .iter()
        .find(|w| w.kind == WindowKind::Recovery)
        .unwrap_or_else(|| panic!("a recovery window: {:?}", meta.windows));
    assert_eq!((w.name.as_str(), w.viewers), ("recovery", 3));
    // Decided on the manager's next look, dropped a tick and a margin later.
    assert!(
        w.start_ms >= drop && w.start_ms <= drop + 1_500,
        "{w:?} at the drop ({drop} ms)"
    );
    assert_eq!(w.end_ms - w.start_ms, 20_000, "held for its 20 s: {w:?}");
    assert!(
        meta.windows
            .iter()
            .all(|x| x.kind == WindowKind::Recovery || x.start_ms < drop),
        "the planned steps after the drop are not windows: {:?}",
        meta.windows
    );

    // Every worker ran the phase with its share of the cap (the sync worker
    // ranks last: 1 and 2), dropping at the manager's instant (within a tick).
    let file = WorkersFile::load(run).unwrap().expect("workers.json");
    let mut caps = Vec::new();
    for rec in &file.workers {
        let i = rec.index;
        assert_eq!(rec.ended_by, "recovery", "{rec:?}");
        let own = RunMeta::load(&worker_dir(run, i)).unwrap();
        assert!(!own.interrupted, "worker {i}");
        let mine = own
            .windows
            .iter()
            .find(|x| x.kind == WindowKind::Recovery)
            .unwrap_or_else(|| panic!("worker {i} recovered: {:?}", own.windows));
        let share = dashload::cluster::share::share_of(3, i, 2);
        assert_eq!(mine.viewers, share, "worker {i}");
        caps.push(mine.viewers);
        assert_eq!(mine.end_ms - mine.start_ms, 20_000, "worker {i}: {mine:?}");
        // Its run.json counts from its own zero (its request log from Goose's).
        let start = mine.start_ms as f64 + rec.start_skew_ms.unwrap_or(0.0);
        assert!(
            (start - w.start_ms as f64).abs() <= 500.0,
            "worker {i} dropped at {start} ms on the run's clock, the manager's drop {} ms",
            w.start_ms
        );
        // Its log: once the loads in flight at the drop are over, only its
        // share of viewers sends panel queries.
        let users: std::collections::BTreeSet<String> =
            rows_with_user(&worker_dir(run, i).join(files::REQUESTS))
                .into_iter()
                .filter(|(t, name, us, _)| {
                    let started = t + rec.offset_ms - (*us / 1000) as i64;
                    RequestClass::of(name) == RequestClass::PanelQuery
                        && started >= w.start_ms as i64 + 7_000
                        && started < w.end_ms as i64
                })
                .map(|(_, _, _, user)| user)
                .collect();
        assert!(
            !users.is_empty() && users.len() <= share,
            "worker {i}: {} viewers loading in the phase, its share {share}: {users:?}",
            users.len()
        );
    }
    assert_eq!(caps, [1, 2]);

    // The merged report measured the time to recover on the merged log.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join(files::SUMMARY)).unwrap()).unwrap();
    let r = &summary["recovery"];
    eprintln!("distributed recovery: {}", r["sentence"]);
    assert_eq!(r["outcome"], "recovered", "{r}");
    let after = r["after_ms"].as_u64().unwrap();
    assert!((5_000..=20_000).contains(&after), "{r}");

    // Counts: the union of the workers' logs is what the sandbox served.
    let mut by_class: BTreeMap<RequestClass, usize> = BTreeMap::new();
    for i in 0..2 {
        for r in rows(&worker_dir(run, i).join(files::REQUESTS)) {
            let class = RequestClass::of(&r.1);
            if class != RequestClass::DashboardLoad && dashload::runfolder::is_not_sent(&r.4) {
                continue;
            }
            *by_class.entry(class).or_default() += 1;
            if matches!(class, RequestClass::IngestBatch | RequestClass::SyncFetch) {
                assert_eq!(i, 0, "sync rows come from the sync worker only: {r:?}");
            }
        }
    }
    let count = |c: RequestClass| by_class.get(&c).copied().unwrap_or(0);
    let sandbox = result.sandbox.expect("the manager's sandbox counters");
    let served = |k: &str| sandbox.requests.get(k).copied().unwrap_or(0) as usize;
    assert_eq!(
        count(RequestClass::PanelQuery) + count(RequestClass::VariableQuery),
        served("POST /api/ds/query"),
        "{by_class:?} {:?}",
        sandbox.requests
    );
    assert_eq!(count(RequestClass::IngestBatch), served("POST /write"));
    assert!(count(RequestClass::IngestBatch) > 0);
    assert_eq!(meta.counters.points_written, sandbox.points_written);
    assert_eq!(
        count(RequestClass::DashboardLoad) as u64,
        meta.counters.dashboard_loads
    );
}

/// `requests.csv` rows: (elapsed, name, latency µs, Goose user).
fn rows_with_user(path: &Path) -> Vec<(i64, String, u64, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (e, name, us, user) = (
        col("elapsed"),
        col("name"),
        col("response_time_us"),
        col("user"),
    );
    r.records()
        .map(|x| x.unwrap())
        .map(|x| {
            (
                x[e].parse().unwrap(),
                x[name].to_string(),
                x[us].parse().unwrap(),
                x[user].to_string(),
            )
        })
        .collect()
}
