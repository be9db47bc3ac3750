//! Smaller operations items of issue 26 (item 9), through the binary: Ctrl-C
//! on a manager still waiting for its workers, a worker given a manager URL it
//! cannot use, and `local:N` leaving no temp folder behind.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{signal, text, wait, workspace, ATTACK};

/// 2 viewers for 1 + 2 s.
const SHORT: &str = "name = \"small\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
    [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"2s\"\n[slo.panel_query]\nerror_rate = \"50%\"\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn ctrl_c_on_a_manager_waiting_for_its_workers_exits_130() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/small.toml"), SHORT).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut manager = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args([
            "run",
            "scenarios/small.toml",
            "--workers",
            "2",
            "--listen",
            &listen,
        ])
        .current_dir(dir)
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Listening, its preparation done: it waits for workers that never come.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = manager.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
            all += &line;
            all.push('\n');
        }
        all
    });
    let start = Instant::now();
    while !rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the manager says it listens")
        .contains("listening on")
    {
        assert!(start.elapsed() < Duration::from_secs(60), "never listened");
    }
    drop(rx);
    // Its sandbox up and its run folder made: it waits for the workers (the
    // join timeout is minutes).
    let reports = dir.join("reports");
    while !std::fs::read_dir(&reports).is_ok_and(|mut d| d.next().is_some()) {
        assert!(start.elapsed() < Duration::from_secs(90), "no run folder");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    signal(&manager, "INT");
    let status = wait(&mut manager, Duration::from_secs(20)).expect("it stops");
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted before the start"), "{err}");
}

#[test]
fn a_worker_given_a_manager_it_cannot_dial_exits_2_at_once() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/small.toml"), SHORT).unwrap();
    for manager in ["ftp://127.0.0.1:7700", "ftp://manager.example:7700"] {
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_dashload"))
            .args([
                "worker",
                "scenarios/small.toml",
                "--manager",
                manager,
                "--index",
                "0",
            ])
            .current_dir(dir)
            .env("DASHLOAD_CLUSTER_TOKEN", "0123456789abcdef0123456789abcdef")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{manager}: {}", text(&out));
        assert!(
            start.elapsed() < Duration::from_millis(1_500),
            "{manager}: {:?}",
            start.elapsed()
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("`ftp` is not http or https"), "{err}");
    }
}

#[test]
fn local_workers_leave_no_temp_folder() {
    let _guard = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("scenarios/small.toml"), SHORT).unwrap();
    // The workers' temp folder goes under TMPDIR: a fresh one to look in.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/small.toml", "--workers", "local:2"])
        .current_dir(dir)
        .env("TMPDIR", tmp.path())
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("dashload-workers-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
