//! Distributed runs on loopback: the manager in this process (hosting the
//! embedded sandbox, so its counters are at hand) or as a process of the built
//! binary (for its exit code and signals), the workers as separate processes
//! (Goose's killswitch is process-wide). Every process is a [`Proc`]: waited for
//! with a bound, killed on drop. One test builds network namespaces and cuts a
//! worker's link (skipped, saying why, where namespaces cannot be made).

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
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

/// A process of the built binary. Its stderr is read as it comes, each line
/// with the instant it came (to wait for a line and time an event), its stdout
/// kept; killed on drop, so a failing test leaves no process behind.
struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    stdout: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How a [`Proc`] ended.
struct Exited {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Proc {
    fn spawn(name: impl Into<String>, mut command: Command) -> Proc {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (err, out) = (child.stderr.take().unwrap(), child.stdout.take().unwrap());
        let l = lines.clone();
        let o = stdout.clone();
        let readers = vec![
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
                    l.lock().unwrap().push((Instant::now(), line));
                }
            }),
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = std::io::BufReader::new(out).read_to_string(&mut text);
                *o.lock().unwrap() = text;
            }),
        ];
        Proc {
            name: name.into(),
            child,
            lines,
            stdout,
            readers,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr so far.
    fn stderr(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines.iter().map(|(_, l)| format!("{l}\n")).collect()
    }

    /// When the first stderr line holding `pattern` came; waits up to `within`.
    fn line(&self, pattern: &str, within: Duration) -> Instant {
        let deadline = Instant::now() + within;
        loop {
            if let Some((at, _)) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(_, l)| l.contains(pattern))
            {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no line with `{pattern}` within {within:?}:\n{}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send it a signal (`INT`, `TERM`, `KILL`).
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {signal} {}", self.name);
    }

    /// Send a signal to its process group (as a terminal's Ctrl-C does), when
    /// it leads one (`process_group(0)`).
    fn signal_group(&self, signal: &str) {
        let sent = Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.pid())])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -s {signal} -{}", self.name);
    }

    /// Its end, within `within` (else it is killed and the test fails).
    fn wait(mut self, within: Duration) -> Exited {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {within:?}:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = self.stdout.lock().unwrap().clone();
        Exited {
            status,
            stdout,
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every one's end, within one bound.
fn wait_all(procs: Vec<Proc>, within: Duration) -> Vec<Exited> {
    let deadline = Instant::now() + within;
    procs
        .into_iter()
        .map(|p| p.wait(deadline.saturating_duration_since(Instant::now())))
        .collect()
}

/// The built binary, inside network namespace `netns` when given.
fn binary(netns: Option<&str>) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_dashload")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_dashload")),
    }
}

/// `dashload worker` in `dir` dialling `manager` (a base URL), as `index` (or the
/// first free one); its own folder under `worker-runs/<index>`.
fn worker_command(
    dir: &Path,
    scenario: &str,
    manager: &str,
    index: Option<usize>,
    token: Option<&str>,
    netns: Option<&str>,
) -> Command {
    let mut c = binary(netns);
    c.args([
        "worker",
        scenario,
        "--manager",
        manager,
        "--reports-dir",
        &format!(
            "worker-runs/{}",
            index.map_or("any".into(), |i| i.to_string())
        ),
        "--connect-timeout",
        "30",
    ])
    .current_dir(dir)
    .env_remove("DASHLOAD_CLUSTER_TOKEN")
    .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
    .env_remove("JOB_COMPLETION_INDEX");
    if let Some(i) = index {
        c.args(["--index", &i.to_string()]);
    }
    if let Some(t) = token {
        c.env("DASHLOAD_CLUSTER_TOKEN", t);
    }
    c
}

/// Worker `index` on loopback running `scenario`, dialling the manager on `port`.
fn worker(dir: &Path, scenario: &str, port: u16, index: usize, token: Option<&str>) -> Proc {
    let manager = format!("http://127.0.0.1:{port}");
    Proc::spawn(
        format!("worker {index}"),
        worker_command(dir, scenario, &manager, Some(index), token, None),
    )
}

/// Workers 0 to n − 1 on loopback running `scenario`, without a token.
fn workers(dir: &Path, scenario: &str, port: u16, n: usize) -> Vec<Proc> {
    (0..n)
        .map(|i| worker(dir, scenario, port, i, None))
        .collect()
}

/// `dashload run <scenario> --workers <workers> --listen <listen> <extra…>` in
/// `dir`, with no cluster token from this environment.
fn manager_command(
    dir: &Path,
    scenario: &str,
    workers: &str,
    listen: &str,
    extra: &[&str],
) -> Command {
    let mut c = binary(None);
    c.args(["run", scenario, "--workers", workers, "--listen", listen])
        .args(extra)
        .current_dir(dir)
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE");
    c
}

/// The manager as a process on loopback port `port`, for `n` workers.
fn manager(dir: &Path, scenario: &str, port: u16, n: usize, extra: &[&str]) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    Proc::spawn(
        "manager",
        manager_command(dir, scenario, &n.to_string(), &listen, extra),
    )
}

/// The one run folder under `reports`.
fn the_run(reports: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(files::RUN_META).is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

/// `kill -9` of `victim` once `after` has passed since the manager's countdown line
/// (the load starts 2 s after it); when it was killed.
fn kill_after_start(manager: &Proc, victim: Proc, after: Duration) -> Instant {
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    sleep_until(countdown + after);
    victim.signal("KILL");
    let killed = Instant::now();
    let _ = victim.wait(Duration::from_secs(10));
    killed
}

/// A finished run folder: no lock, nothing partial left, the report written.
fn assert_complete(run: &Path) {
    assert!(run.join(files::REPORT_HTML).is_file(), "{}", run.display());
    assert!(run.join(files::SUMMARY).is_file());
    assert!(!run.join(".run.lock").exists());
    assert!(!run.join(".partial").exists());
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
        worker: None,
    };
    let cluster = ManagerOptions {
        workers: Workers::Remote(n),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        on_loss,
        join_timeout: Duration::from_secs(60),
        set: Vec::new(),
        tls: Default::default(),
        allow_plain_http: false,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(dashload::cluster::manager::run(options, cluster))
        .unwrap()
}

/// A `requests.csv` row: (elapsed, name, latency µs, success, error).
type Row = (i64, String, u64, bool, String);

/// `requests.csv`'s rows.
fn rows(path: &Path) -> Vec<Row> {
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

#[test]
fn three_workers_make_one_exact_report() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), SCENARIO).unwrap();
    let port = free_port();
    let children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    let result = manage(dir.path(), "scenarios/cluster.toml", port, 3, OnLoss::Abort);
    for (i, w) in wait_all(children, Duration::from_secs(60))
        .iter()
        .enumerate()
    {
        assert!(
            w.status.success(),
            "worker {i}: {:?}\n{}",
            w.status,
            w.stderr
        );
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
    // Every worker's viewers draw from the run's seed, by their global number.
    assert!(
        file.workers.iter().all(|w| w.seed == 5),
        "{:?}",
        file.workers
    );

    // Counts: the union of the workers' logs is what the sandbox served.
    let logs: Vec<_> = (0..3)
        .map(|i| rows(&worker_dir(run, i).join(files::REQUESTS)))
        .collect();
    let by_class = assert_the_sandbox_served_the_logs(&logs, &result, &meta);
    assert!(
        by_class
            .get(&RequestClass::PanelQuery)
            .copied()
            .unwrap_or(0)
            > 20,
        "{by_class:?}"
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
    // The generator's CPU: the workers' cpu.csv merged, per window.
    let cpu = &summary["health"]["generator_cpu"];
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(cpu["cores"].as_u64(), Some(3 * cores), "{cpu}");
    assert!(
        cpu["windows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["window"] == hold.name.as_str() && w["busiest_worker"].is_u64()),
        "{cpu}"
    );
    // The per-worker table is in the report.
    let html = std::fs::read_to_string(run.join(files::REPORT_HTML)).unwrap();
    assert!(!html.contains("No <code>cpu.csv</code>"));
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
    let mut children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    let victim = children.remove(2);
    let killer = std::thread::spawn(move || {
        // Kill worker 2 a few seconds into the load.
        std::thread::sleep(Duration::from_secs(9));
        let t = Instant::now();
        victim.signal("KILL");
        let _ = victim.wait(Duration::from_secs(10));
        t
    });
    let result = manage(dir.path(), "scenarios/cluster.toml", port, 3, OnLoss::Abort);
    let done = Instant::now();
    let killed_at = killer.join().unwrap();
    let _ = wait_all(children, Duration::from_secs(60));
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
    // Only the windows up to the loss are kept: they end at the loss.
    assert!(
        meta.windows.iter().all(|w| w.end_ms <= at),
        "{:?}",
        meta.windows
    );
    // And they miss worker 2's samples (its log never came): partial, not judged.
    let summary = json(&run.join(files::SUMMARY));
    let windows: Vec<&str> = summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        windows.contains(&"stage 1 hold (partial: misses worker 2, 2 of 7 viewers)"),
        "{windows:?}"
    );
    assert!(summary["slos"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["judged"] == false));
    assert_ne!(summary["verdict"], "pass");
    let report = result.report.as_ref().unwrap();
    assert!(report.failed(), "no PASS on half the samples");
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
    let manager = manager(
        dir.path(),
        "scenarios/cluster.toml",
        port,
        1,
        &["--join-timeout", "8"],
    );
    let bad =
        worker(other.path(), "scenarios/cluster.toml", port, 0, None).wait(Duration::from_secs(60));
    let err = &bad.stderr;
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("scenario mismatch"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // The manager, with nobody joined, gives up naming the missing worker.
    let out = manager.wait(Duration::from_secs(60));
    let err = &out.stderr;
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
    let listen = format!("127.0.0.1:{port}");
    let mut command = manager_command(
        dir.path(),
        "scenarios/cluster.toml",
        "1",
        &listen,
        &["--join-timeout", "6"],
    );
    command.env("DASHLOAD_CLUSTER_TOKEN", secret);
    let manager = Proc::spawn("manager", command);
    let wrong = worker(
        dir.path(),
        "scenarios/cluster.toml",
        port,
        0,
        Some("wrong-token-0123456789"),
    )
    .wait(Duration::from_secs(60));
    let err = &wrong.stderr;
    assert_eq!(wrong.status.code(), Some(2), "{err}");
    assert!(err.contains("wrong or missing cluster token"), "{err}");
    assert!(!err.contains("0123456789"), "{err}");
    // The manager gives up on time.
    let out = manager.wait(Duration::from_secs(30));
    let all = format!("{}{}", out.stdout, out.stderr);
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
    let children = workers(dir.path(), "scenarios/ladder.toml", port, 3);
    let result = manage(dir.path(), "scenarios/ladder.toml", port, 3, OnLoss::Abort);
    let statuses: Vec<_> = wait_all(children, Duration::from_secs(90))
        .into_iter()
        .map(|w| (w.status, w.stderr))
        .collect();
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
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 1, &[]);
    let w = worker(dir.path(), "scenarios/cluster.toml", port, 0, None);
    // Once the load has run a few seconds, the manager vanishes.
    manager.line("the load starts", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(5));
    manager.signal("KILL");
    let _ = manager.wait(Duration::from_secs(10));
    // The worker stops on its own.
    let out = w.wait(Duration::from_secs(40));
    let err = out.stderr;
    assert_eq!(out.status.code(), Some(130), "{err}");
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

/// Two stages: `stage 1 hold` 1–6 s is over before the loss (about 8 s in),
/// `stage 2 hold` 7–17 s is not; panel queries give the SLO its samples.
/// The one run folder under `dir` (a worker's `--reports-dir`).
fn own_run(dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(files::RUN_META).is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.into_iter().next().unwrap()
}

#[test]
fn a_manager_killed_outright_leaves_a_run_that_report_finishes_with_the_workers_folders() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"60s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 2, &[]);
    let children = workers(dir.path(), "scenarios/cluster.toml", port, 2);
    manager.line("the load starts", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(7));
    manager.signal("KILL");
    let _ = manager.wait(Duration::from_secs(10));
    // The workers stop on their own and keep their folders.
    for (i, w) in wait_all(children, Duration::from_secs(40))
        .iter()
        .enumerate()
    {
        assert_eq!(w.status.code(), Some(130), "worker {i}: {}", w.stderr);
    }
    let reports = dir.path().join("reports");
    let run = the_run(&reports);
    // The index lists the folder as incomplete.
    let out = dashload(dir.path(), &["index", "reports"]);
    assert!(out.status.success(), "{}", text(&out));
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(index.contains("1 incomplete run folder"), "{index}");
    assert!(
        index.contains("incomplete: running or unfinished"),
        "{index}"
    );
    // A folder that is not a worker of this run is refused before anything changes.
    let out = dashload(
        dir.path(),
        &["report", run.to_str().unwrap(), "--workers", "scenarios"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("worker.json"), "{}", text(&out));
    assert!(RunMeta::load(&run).unwrap().ended_at.is_none());
    // Finished with the workers' folders from where they are.
    let own: Vec<PathBuf> = (0..2)
        .map(|i| own_run(&dir.path().join(format!("worker-runs/{i}"))))
        .collect();
    let out = dashload(
        dir.path(),
        &[
            "report",
            run.to_str().unwrap(),
            "--workers",
            own[1].to_str().unwrap(),
            own[0].to_str().unwrap(),
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    assert!(
        text(&out).contains("the folders of workers 1, 0 taken in"),
        "{}",
        text(&out)
    );
    assert_complete(&run);
    let meta = RunMeta::load(&run).unwrap();
    assert!(meta.interrupted, "marked interrupted");
    let ran = (meta.ended_at.unwrap() - meta.started_at).num_milliseconds();
    assert!(
        (5_000..20_000).contains(&ran),
        "ended at the workers' end: {ran} ms"
    );
    assert!(meta.counters.dashboard_loads > 0, "{:?}", meta.counters);
    let summary = json(&run.join(files::SUMMARY));
    let rows = summary["workers"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r["requests"].as_u64().unwrap() > 10, "{r}");
        assert_eq!(r["ended_by"], "stopped (manager lost)", "{r}");
    }
    // Every worker's samples are in: no window is partial.
    assert!(
        !summary["windows"].to_string().contains("partial"),
        "{summary}"
    );
    // Rows equal the workers' own logs.
    for (i, own) in own.iter().enumerate() {
        assert_eq!(
            std::fs::read(worker_dir(&run, i).join(files::REQUESTS)).unwrap(),
            std::fs::read(own.join(files::REQUESTS)).unwrap()
        );
    }
    // And the index now lists it as an interrupted run.
    let out = dashload(dir.path(), &["index", "reports"]);
    assert!(out.status.success(), "{}", text(&out));
    let index = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(index.contains("0 incomplete run folders"), "{index}");
    assert!(index.contains("interrupted"), "{index}");
}

fn two_stages() -> String {
    SCENARIO
        .replace(
            "[[stages]]\nusers = 7\nramp = \"2s\"\nhold = \"9s\"\n",
            "[[stages]]\nusers = 7\nramp = \"1s\"\nhold = \"5s\"\n\n[[stages]]\nusers = 9\nramp = \"1s\"\nhold = \"10s\"\n",
        )
        .replace("[slo.dashboard_load]", "[slo.panel_query]")
}

/// A 4 s hold: enough panel queries for its SLO, too few dashboard loads.
fn short() -> String {
    SCENARIO
        .replace("hold = \"9s\"", "hold = \"4s\"")
        .replace("[slo.dashboard_load]", "[slo.panel_query]")
}

#[test]
fn with_continue_the_run_goes_on_without_a_lost_worker_and_later_windows_are_degraded() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), two_stages()).unwrap();
    let port = free_port();
    let manager = manager(
        dir.path(),
        "scenarios/cluster.toml",
        port,
        3,
        &["--on-worker-loss", "continue"],
    );
    let mut children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    // The line comes at the countdown's start (2 s): kill worker 2 8 s into the load.
    let killed = kill_after_start(&manager, children.remove(2), Duration::from_secs(10));
    let lost = manager.line("worker 2 lost", Duration::from_secs(10));
    assert!(lost.duration_since(killed) < Duration::from_secs(5));
    let out = manager.wait(Duration::from_secs(90));
    let rest = wait_all(children, Duration::from_secs(30));
    for (i, w) in rest.iter().enumerate() {
        assert!(
            w.status.success(),
            "worker {i}: {:?}\n{}",
            w.status,
            w.stderr
        );
    }
    // Not interrupted, but no window ran on every worker's samples: worker 2's
    // log never came, so nothing is judged whole and the run cannot pass.
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    // The live line dropped the lost worker's viewers.
    assert!(out.stderr.contains("/lost)"), "{}", out.stderr);
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    let meta = RunMeta::load(&run).unwrap();
    assert!(!meta.interrupted);
    let ran = (meta.ended_at.unwrap() - meta.started_at).num_milliseconds();
    assert!(ran >= 16_500, "the run went on to its end: {ran} ms");
    // Who was lost and when.
    let file = WorkersFile::load(&run).unwrap().unwrap();
    assert_eq!(file.on_worker_loss, "continue");
    let gone = &file.workers[2];
    assert_eq!(gone.ended_by, "lost");
    assert_eq!(gone.lost_reason.as_deref(), Some("no tick for 3 s"));
    let at = gone.lost_at_ms.unwrap();
    assert!((6_000..10_500).contains(&at), "lost at {at} ms");
    assert_eq!(file.degraded_from_ms, Some(at));
    for w in &file.workers[..2] {
        assert_eq!(w.ended_by, "plan", "{w:?}");
        for f in [files::REQUESTS, files::RUN_META, files::CPU] {
            assert!(worker_dir(&run, w.index).join(f).is_file(), "{f}");
        }
    }
    // The later windows are shown degraded, not judged, as run.json says.
    let names: Vec<(&str, WindowKind)> = meta
        .windows
        .iter()
        .map(|w| (w.name.as_str(), w.kind))
        .collect();
    assert!(
        names.contains(&("stage 2 hold (degraded)", WindowKind::Ramp)),
        "{names:?}"
    );
    // The earlier ones miss worker 2's share (2 of 7 viewers): partial, named.
    let summary = json(&run.join(files::SUMMARY));
    let partial = "stage 1 hold (partial: misses worker 2, 2 of 7 viewers)";
    let windows: Vec<&str> = summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(windows.contains(&partial), "{windows:?}");
    let degraded = "stage 2 hold (degraded: misses worker 2, 3 of 9 viewers)";
    assert!(windows.contains(&degraded), "{windows:?}");
    let slos = summary["slos"].as_array().unwrap();
    assert!(
        slos.iter().all(|s| s["judged"] == false),
        "no SLO rests on missing samples: {slos:?}"
    );
    assert_eq!(summary["verdict"], "not_judged");
    let why = summary["unmeasured"].as_str().unwrap();
    assert!(
        why.contains("worker 2 was lost at") && why.contains("its request log is missing"),
        "{why}"
    );
    assert!(summary["capacity"].is_null());
    // The count check blames the lost worker, not "something else".
    let warnings = summary["server"]["measurement_warnings"].to_string();
    assert!(!warnings.contains("something else loads"), "{warnings}");
    assert!(
        warnings.contains("whole run: the server counted")
            && warnings.contains("worker 2 was lost at"),
        "{warnings}"
    );
    let html = std::fs::read_to_string(run.join(files::REPORT_HTML)).unwrap();
    assert!(html.contains(degraded));
    assert!(
        html.contains(partial),
        "the report says which windows miss whom"
    );
}

#[test]
fn losing_the_sync_worker_stops_the_run_even_with_continue() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"40s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let manager = manager(
        dir.path(),
        "scenarios/cluster.toml",
        port,
        3,
        &["--on-worker-loss", "continue"],
    );
    let mut children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    let killed = kill_after_start(&manager, children.remove(0), Duration::from_secs(6));
    let out = manager.wait(Duration::from_secs(60));
    assert!(
        killed.elapsed() < Duration::from_secs(25),
        "the run stopped, not ran its 40 s hold"
    );
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    assert!(out.stderr.contains("worker 0 lost"), "{}", out.stderr);
    for w in wait_all(children, Duration::from_secs(30)) {
        // Stopped by the manager, cleanly: a run cut short exits 130.
        assert_eq!(w.status.code(), Some(130), "{}", w.stderr);
    }
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    let meta = RunMeta::load(&run).unwrap();
    assert!(meta.interrupted);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    assert_eq!(file.workers[0].ended_by, "lost");
    assert_eq!(file.degraded_from_ms, None);
    let at = file.workers[0].lost_at_ms.unwrap();
    for w in &file.workers[1..] {
        assert_eq!(w.ended_by, "stopped", "{w:?}");
        assert!(worker_dir(&run, w.index).join(files::REQUESTS).is_file());
    }
    assert!(
        meta.windows.iter().all(|w| w.end_ms <= at),
        "judged up to the loss: {:?}",
        meta.windows
    );
}

#[test]
fn ctrl_c_on_the_manager_stops_every_worker_and_writes_the_merged_report() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"40s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 3, &[]);
    let children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    sleep_until(countdown + Duration::from_secs(6));
    manager.signal("INT");
    let sent = Instant::now();
    let out = manager.wait(Duration::from_secs(60));
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "{:?} after Ctrl-C",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    for (i, w) in wait_all(children, Duration::from_secs(15))
        .iter()
        .enumerate()
    {
        // Each exited on its own (no signal), its run cut short.
        assert_eq!(w.status.code(), Some(130), "worker {i}: {}", w.stderr);
        // Its copy went once the manager had its files.
        assert!(
            std::fs::read_dir(dir.path().join(format!("worker-runs/{i}")))
                .map_or(true, |mut d| d.next().is_none()),
            "worker {i} kept its folder"
        );
    }
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    let meta = RunMeta::load(&run).unwrap();
    assert!(meta.interrupted);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    for w in &file.workers {
        assert_eq!(w.ended_by, "stopped", "{w:?}");
        for f in [files::REQUESTS, files::RUN_META, files::CPU] {
            assert!(worker_dir(&run, w.index).join(f).is_file(), "{f}");
        }
    }
    let summary = json(&run.join(files::SUMMARY));
    assert_eq!(summary["run"]["interrupted"], true);
    assert!(summary["totals"]["requests"].as_u64().unwrap_or(1) > 0);
    let html = std::fs::read_to_string(run.join(files::REPORT_HTML)).unwrap();
    assert!(html.contains("id=\"interrupted\""));
}

#[test]
fn sigterm_on_a_worker_stops_it_cleanly_and_counts_as_a_loss() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"40s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let port = free_port();
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 3, &[]);
    let mut children = workers(dir.path(), "scenarios/cluster.toml", port, 3);
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    sleep_until(countdown + Duration::from_secs(6));
    // A pod deletion: SIGTERM, then a grace period before SIGKILL (30 s by default).
    let pod = children.remove(2);
    pod.signal("TERM");
    let out = pod.wait(Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    let m = manager.wait(Duration::from_secs(60));
    assert_eq!(m.status.code(), Some(130), "{}", m.stderr);
    assert!(
        m.stderr.contains("worker 2 lost") && m.stderr.contains("signal"),
        "{}",
        m.stderr
    );
    for w in wait_all(children, Duration::from_secs(30)) {
        assert_eq!(w.status.code(), Some(130), "{}", w.stderr);
    }
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    assert!(RunMeta::load(&run).unwrap().interrupted);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    let w2 = &file.workers[2];
    assert_eq!(w2.ended_by, "interrupted", "{w2:?}");
    assert_eq!(
        w2.lost_reason.as_deref(),
        Some("stopped by a signal on the worker"),
        "{w2:?}"
    );
    // Its files were flushed and sent, its own copy deleted once acknowledged.
    for f in [files::REQUESTS, files::RUN_META, files::CPU] {
        assert!(worker_dir(&run, 2).join(f).is_file(), "{f}");
    }
    let own = RunMeta::load(&worker_dir(&run, 2)).unwrap();
    assert!(own.interrupted && own.ended_at.is_some());
    assert!(std::fs::read_dir(dir.path().join("worker-runs/2"))
        .map_or(true, |mut d| d.next().is_none()));
    for w in &file.workers[..2] {
        assert_eq!(w.ended_by, "stopped", "{w:?}");
    }
}

#[test]
fn late_and_duplicate_workers_are_refused_in_one_line() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let short = short();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), short).unwrap();
    let port = free_port();
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 2, &[]);
    let first = worker(dir.path(), "scenarios/cluster.toml", port, 0, None);
    manager.line("worker 0 joined", Duration::from_secs(60));
    let twin =
        worker(dir.path(), "scenarios/cluster.toml", port, 0, None).wait(Duration::from_secs(60));
    assert_eq!(twin.status.code(), Some(2), "{}", twin.stderr);
    assert!(
        twin.stderr.contains("duplicate: worker 0 already joined"),
        "{}",
        twin.stderr
    );
    assert_eq!(twin.stderr.trim().lines().count(), 1, "{}", twin.stderr);
    let second = worker(dir.path(), "scenarios/cluster.toml", port, 1, None);
    manager.line("the load starts", Duration::from_secs(60));
    let manager_url = format!("http://127.0.0.1:{port}");
    let late = Proc::spawn(
        "late worker",
        worker_command(
            dir.path(),
            "scenarios/cluster.toml",
            &manager_url,
            None,
            None,
            None,
        ),
    )
    .wait(Duration::from_secs(60));
    assert_eq!(late.status.code(), Some(2), "{}", late.stderr);
    assert!(
        late.stderr.contains("late: the run has already started"),
        "{}",
        late.stderr
    );
    assert_eq!(late.stderr.trim().lines().count(), 1, "{}", late.stderr);
    // The run itself is untouched by either.
    let out = manager.wait(Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    for w in wait_all(vec![first, second], Duration::from_secs(30)) {
        assert!(w.status.success(), "{}", w.stderr);
    }
    let file = WorkersFile::load(&the_run(&dir.path().join("reports")))
        .unwrap()
        .unwrap();
    assert!(file.workers.iter().all(|w| w.ended_by == "plan"));
}

#[test]
fn local_workers_write_their_console_to_their_own_log() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let short = short();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), short).unwrap();
    let out = Proc::spawn(
        "manager",
        manager_command(
            dir.path(),
            "scenarios/cluster.toml",
            "local:2",
            "127.0.0.1:0",
            &[],
        ),
    )
    .wait(Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    // The manager's console: its own lines, one per worker event, no worker's.
    assert!(
        !out.stderr.contains("dashload worker "),
        "a worker's line on the manager's console:\n{}",
        out.stderr
    );
    for i in 0..2 {
        for event in ["joined", "done"] {
            assert!(
                out.stderr.contains(&format!("worker {i} {event}")),
                "{}",
                out.stderr
            );
        }
    }
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    for i in 0..2 {
        let log = std::fs::read_to_string(worker_dir(&run, i).join("worker.log")).unwrap();
        assert!(
            log.contains(&format!("dashload worker {i}: joined run")),
            "{log}"
        );
        assert!(!worker_dir(&run, i).join(".worker.log.partial").exists());
    }
}

/// Network namespaces this test made, with the links inside them: deleted on
/// drop, even when the test panics.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The manager and a standalone sandbox in one namespace on a bridge
/// (10.213.0.1/24), each worker in its own namespace on a veth pair into that
/// bridge; worker 1's link is cut mid-run.
#[test]
fn a_worker_cut_off_by_its_link_is_lost_and_stops_itself() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    let m = format!("dl{pid}m");
    let w: Vec<String> = (0..2).map(|i| format!("dl{pid}w{i}")).collect();
    if !ip(&["netns", "add", &m]) {
        eprintln!(
            "skipped: cannot create a network namespace (`ip netns add` needs root or CAP_SYS_ADMIN, and iproute2)"
        );
        return;
    }
    let mut namespaces = Namespaces(vec![m.clone()]);
    let mut setup: Vec<Vec<String>> = Vec::new();
    let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    for ns in &w {
        setup.push(cmd(&format!("netns add {ns}")));
    }
    setup.push(cmd(&format!("-n {m} link set lo up")));
    setup.push(cmd(&format!("-n {m} link add br0 type bridge")));
    setup.push(cmd(&format!("-n {m} addr add 10.213.0.1/24 dev br0")));
    setup.push(cmd(&format!("-n {m} link set br0 up")));
    for (i, ns) in w.iter().enumerate() {
        setup.push(cmd(&format!(
            "link add vm{i} netns {m} type veth peer name vw netns {ns}"
        )));
        setup.push(cmd(&format!("-n {m} link set vm{i} master br0")));
        setup.push(cmd(&format!("-n {m} link set vm{i} up")));
        setup.push(cmd(&format!(
            "-n {ns} addr add 10.213.0.{}/24 dev vw",
            10 + i
        )));
        setup.push(cmd(&format!("-n {ns} link set vw up")));
        setup.push(cmd(&format!("-n {ns} link set lo up")));
    }
    for args in &setup {
        if args[0] == "netns" {
            namespaces.0.push(args[2].clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if !ip(&args) {
            eprintln!(
                "skipped: `ip {}` failed: this machine cannot build veth pairs and bridges in network namespaces",
                args.join(" ")
            );
            return;
        }
    }

    let dir = workspace();
    let token = dir.path().join("cluster.token");
    std::fs::write(&token, "netns-token-0123456789abcdef\n").unwrap();
    // Off loopback: a real target (the standalone sandbox) and a token.
    let scenario = two_stages()
        .replace(
            "kind = \"sandbox\"",
            "kind = \"influxdb1\"\nurl = \"http://10.213.0.1:8086\"",
        )
        .replace("hold = \"10s\"", "hold = \"14s\"");
    std::fs::write(dir.path().join("scenarios/net.toml"), scenario).unwrap();
    let mut sandbox = binary(Some(&m));
    sandbox
        .args(["sandbox", "--listen", "10.213.0.1:8086", "--seed-days", "7"])
        .current_dir(dir.path());
    let sandbox = Proc::spawn("sandbox", sandbox);
    sandbox.line("dashload sandbox listening", Duration::from_secs(60));
    let mut manager = binary(Some(&m));
    manager
        .args([
            "run",
            "scenarios/net.toml",
            "--workers",
            "2",
            "--listen",
            "10.213.0.1:7700",
            "--on-worker-loss",
            "continue",
            "--allow-plain-http",
        ])
        .current_dir(dir.path())
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .env("DASHLOAD_CLUSTER_TOKEN_FILE", &token);
    let manager = Proc::spawn("manager", manager);
    let workers: Vec<Proc> = w
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let mut c = worker_command(
                dir.path(),
                "scenarios/net.toml",
                "http://10.213.0.1:7700",
                Some(i),
                None,
                Some(ns),
            );
            c.arg("--allow-plain-http");
            c.env("DASHLOAD_CLUSTER_TOKEN_FILE", &token);
            Proc::spawn(format!("worker {i}"), c)
        })
        .collect();
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    sleep_until(countdown + Duration::from_secs(9));
    assert!(ip(&["-n", &w[1], "link", "set", "vw", "down"]));
    let cut = Instant::now();
    let lost = manager.line("worker 1 lost", Duration::from_secs(10));
    assert!(
        lost.duration_since(cut) < Duration::from_secs(5),
        "lost {:?} after the cut",
        lost.duration_since(cut)
    );
    let mut workers = workers.into_iter();
    let (w0, w1) = (workers.next().unwrap(), workers.next().unwrap());
    // The cut worker hears nothing for 10 s, stops and keeps its folder.
    let cut_off = w1.wait(Duration::from_secs(40));
    assert_eq!(cut_off.status.code(), Some(130), "{}", cut_off.stderr);
    assert!(
        cut_off.stderr.contains("manager lost"),
        "{}",
        cut_off.stderr
    );
    let kept = the_run(&dir.path().join("worker-runs/1"));
    let own = RunMeta::load(&kept).unwrap();
    assert!(own.interrupted && own.ended_at.is_some());
    assert!(kept.join(files::REQUESTS).is_file());
    assert!(!kept.join(".run.lock").exists());
    // The run goes on to its end with worker 0 (`continue`).
    let out = manager.wait(Duration::from_secs(90));
    let w0 = w0.wait(Duration::from_secs(30));
    assert!(w0.status.success(), "{}", w0.stderr);
    // Worker 1's log never came: no window has every worker's samples, so the
    // run is NOT JUDGED (exit 1), never passed on half of them.
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("worker 1 was lost at"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("netns-token"),
        "the token is never printed"
    );
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    assert_eq!(file.workers[1].ended_by, "lost");
    assert_eq!(
        file.workers[1].lost_reason.as_deref(),
        Some("no tick for 3 s")
    );
    assert_eq!(file.workers[0].ended_by, "plan");
    assert_eq!(file.degraded_from_ms, file.workers[1].lost_at_ms);
    assert!(!RunMeta::load(&run).unwrap().interrupted);
    drop(sandbox);
}

#[test]
fn a_worker_slow_to_finish_after_the_plan_is_not_lost() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/cluster.toml"), short()).unwrap();
    let (_, plan) = dashload::plan::validate_with(
        &dir.path().join("scenarios/cluster.toml"),
        &dashload::scenario::Overrides::none(),
        false,
    )
    .unwrap();
    let port = free_port();
    let manager = manager(dir.path(), "scenarios/cluster.toml", port, 2, &[]);
    let children = workers(dir.path(), "scenarios/cluster.toml", port, 2);
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    // As its load ends, worker 1 takes 5 s to finish (frozen: as a large log's
    // upload would keep it quiet): silence after the plan's end is no loss.
    sleep_until(countdown + Duration::from_secs(2) + plan.load_end() + Duration::from_millis(200));
    children[1].signal("STOP");
    std::thread::sleep(Duration::from_secs(5));
    children[1].signal("CONT");
    let out = manager.wait(Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("lost"), "{}", out.stderr);
    for w in wait_all(children, Duration::from_secs(30)) {
        assert!(w.status.success(), "{}", w.stderr);
    }
    let run = the_run(&dir.path().join("reports"));
    assert!(!RunMeta::load(&run).unwrap().interrupted);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    assert!(
        file.workers.iter().all(|w| w.ended_by == "plan"),
        "{file:?}"
    );
}

#[test]
fn ctrl_c_in_a_terminal_stops_a_local_run_and_its_workers() {
    use std::os::unix::process::CommandExt;
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let long = SCENARIO.replace("hold = \"9s\"", "hold = \"40s\"");
    std::fs::write(dir.path().join("scenarios/cluster.toml"), long).unwrap();
    let mut command = manager_command(
        dir.path(),
        "scenarios/cluster.toml",
        "local:3",
        "127.0.0.1:0",
        &[],
    );
    // Its own process group, as a shell's foreground job: Ctrl-C reaches the
    // manager and every local worker at once.
    command.process_group(0);
    let manager = Proc::spawn("manager", command);
    let group = manager.pid();
    let countdown = manager.line("the load starts", Duration::from_secs(90));
    sleep_until(countdown + Duration::from_secs(6));
    manager.signal_group("INT");
    let out = manager.wait(Duration::from_secs(40));
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    // No worker outlives its manager.
    let alive = Command::new("kill")
        .args(["-0", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!alive.success(), "a process of the group is left");
    let run = the_run(&dir.path().join("reports"));
    assert_complete(&run);
    assert!(RunMeta::load(&run).unwrap().interrupted);
    let file = WorkersFile::load(&run).unwrap().unwrap();
    for w in &file.workers {
        assert!(
            ["stopped", "interrupted"].contains(&w.ended_by.as_str()),
            "{w:?}"
        );
        for f in [files::REQUESTS, files::RUN_META, "worker.log"] {
            assert!(worker_dir(&run, w.index).join(f).is_file(), "{f}");
        }
    }
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
    let children = workers(dir.path(), "scenarios/recovery.toml", port, 2);
    let result = manage(
        dir.path(),
        "scenarios/recovery.toml",
        port,
        2,
        OnLoss::Abort,
    );
    for (i, w) in wait_all(children, Duration::from_secs(60))
        .iter()
        .enumerate()
    {
        assert!(
            w.status.success(),
            "worker {i}: {:?}\n{}",
            w.status,
            w.stderr
        );
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
    // The span it came back in: at least one 5 s window, within the phase.
    let (after, res) = (
        r["after_ms"].as_u64().unwrap(),
        r["resolution_ms"].as_u64().unwrap(),
    );
    assert!(after + res <= 20_000 && 2 * res >= 4_000, "{r}");

    // Counts: the union of the workers' logs is what the sandbox served.
    let logs: Vec<_> = (0..2)
        .map(|i| rows(&worker_dir(run, i).join(files::REQUESTS)))
        .collect();
    assert_the_sandbox_served_the_logs(&logs, &result, &meta);
}

/// The union of the workers' request logs (`logs[i]`: worker i's rows) is what
/// the manager's sandbox served, by its own counters: queries, writes, points and
/// dashboard loads; the sync job's rows come from worker 0 only. The rows by class.
fn assert_the_sandbox_served_the_logs(
    logs: &[Vec<Row>],
    result: &RunResult,
    meta: &RunMeta,
) -> BTreeMap<RequestClass, usize> {
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
    let sandbox = result
        .sandbox
        .as_ref()
        .expect("the manager's sandbox counters");
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
    by_class
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
