//! A run's lifecycle, on the built binary: it ends on its plan's clock against a
//! target that never answers (requests cut off at the end are logged as
//! cancelled), and signals (SIGTERM, a second Ctrl-C) leave a finished,
//! reportable folder and exit 130; `dashload report` recovers a folder a run
//! left unfinished.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashload::runfolder::{files, RunMeta};

use crate::util::{signal, text, wait, workspace};

/// The binary under test; `DASHLOAD_TEST_BIN` points these tests at another
/// build (to see them fail on one without the fix).
fn bin() -> PathBuf {
    std::env::var_os("DASHLOAD_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_dashload")))
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dashload binary starts")
}

/// stdout and stderr of a finished child.
fn output(child: &mut Child) -> String {
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    format!("stdout:\n{out}\nstderr:\n{err}")
}

/// An InfluxDB 1.x that passes preflight (`/ping`, `SHOW DATABASES`) and then
/// never answers: every other request is read and left hanging. With
/// `stall_ping` even `/ping` hangs. Connections are held until it is dropped.
struct Stalling {
    addr: std::net::SocketAddr,
    done: Arc<AtomicBool>,
}

impl Stalling {
    fn start(stall_ping: bool) -> Stalling {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            // Bounded: the test drops it within minutes; 10 minutes at most.
            let until = Instant::now() + Duration::from_secs(600);
            while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(s) = answer(stream, stall_ping) {
                            held.push(s);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Stalling { addr, done }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Stalling {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Answer preflight's requests; return the stream to hold for any other.
fn answer(mut stream: TcpStream, stall_ping: bool) -> Option<TcpStream> {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("");
    let reply = if line.contains("/ping") && !stall_ping {
        "HTTP/1.1 204 No Content\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_string()
    } else if line.contains("SHOW+DATABASES") || line.contains("SHOW%20DATABASES") {
        let body = r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["toggl"]]}]}]}"#;
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    } else {
        return Some(stream);
    };
    let _ = stream.write_all(reply.as_bytes());
    None
}

/// The smoke scenario's viewers and sync job against `url` (or the sandbox),
/// with one stage of `ramp` + `hold` seconds and the given request timeout.
fn scenario(
    dir: &Path,
    name: &str,
    url: Option<&str>,
    ramp: u64,
    hold: u64,
    timeout: &str,
) -> String {
    let smoke = std::fs::read_to_string(dir.join("scenarios/smoke.toml")).unwrap();
    let head = smoke.split("[[stages]]").next().unwrap();
    let target = match url {
        Some(url) => format!("kind = \"influxdb1\"\nurl = \"{url}\"\ntimeout = \"{timeout}\""),
        None => format!("kind = \"sandbox\"\ntimeout = \"{timeout}\""),
    };
    let text = format!(
        "{head}[[stages]]\nusers = 3\nramp = \"{ramp}s\"\nhold = \"{hold}s\"\n\n\
         [slo.dashboard_load]\nerror_rate = \"50%\"\n"
    )
    .replace("name = \"smoke\"", &format!("name = \"{name}\""))
    .replace("kind = \"sandbox\"", &target);
    let file = format!("scenarios/{name}.toml");
    std::fs::write(dir.join(&file), text).unwrap();
    file
}

/// The one run folder under `reports`.
fn run_dir(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("reports"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

/// Start a sandbox run of `hold` seconds and wait until its load has run a few
/// seconds (its `.partial/` exists, then 3 s more).
fn started_run(dir: &Path, name: &str, hold: u64) -> Child {
    let file = scenario(dir, name, None, 1, hold, "10s");
    let mut child = spawn(dir, &["run", &file, "--reports-dir", "reports"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if run_dir(dir).is_some_and(|d| d.join(".partial").is_dir()) {
            std::thread::sleep(Duration::from_secs(3));
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = wait(&mut child, Duration::ZERO);
    panic!("the run did not start within 60 s");
}

/// A folder the report can use: run.json ended, the logs in place, the report
/// rendered and marked interrupted, nothing left in `.partial/`.
fn assert_finished_and_interrupted(run: &Path, out: &str) {
    for name in [
        files::RUN_META,
        files::REQUESTS,
        files::INGEST,
        files::REPORT_HTML,
        files::SUMMARY,
    ] {
        assert!(
            run.join(name).is_file(),
            "{name} missing in {}\n{out}",
            run.display()
        );
    }
    assert!(!run.join(".partial").exists(), "{out}");
    let meta = RunMeta::load(run).unwrap();
    assert!(meta.interrupted && meta.ended_at.is_some(), "{meta:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join(files::SUMMARY)).unwrap()).unwrap();
    assert_eq!(summary["run"]["interrupted"], true, "{out}");
    let html = std::fs::read_to_string(run.join(files::REPORT_HTML)).unwrap();
    assert!(html.contains("id=\"interrupted\""), "the page says so");
    let rows = std::fs::read_to_string(run.join(files::REQUESTS)).unwrap();
    assert!(rows.lines().count() > 1, "requests were logged: {out}");
}

#[test]
fn against_a_target_that_never_answers_the_run_ends_on_its_plan_and_logs_the_cut_off_requests_as_cancelled(
) {
    let target = Stalling::start(false);
    let dir = workspace();
    // Ramp 1 s, hold 4 s, Goose's ramp down 1 s: a 6 s plan; requests time out at 10 s.
    let file = scenario(dir.path(), "stall", Some(&target.url()), 1, 4, "10s");
    let plan = Duration::from_secs(6);
    let timeout = Duration::from_secs(10);
    let start = Instant::now();
    let mut child = spawn(dir.path(), &["run", &file, "--reports-dir", "reports"]);
    // Before the fix a viewer's first load alone took 5 timeouts (variables in
    // turn, then the panels six at a time): over 50 s.
    let status = wait(&mut child, Duration::from_secs(120));
    let took = start.elapsed();
    let out = output(&mut child);
    assert!(status.is_some(), "still running after 120 s\n{out}");
    // The grace covers the process's start and the report besides the 2 s.
    let bound = plan + timeout + Duration::from_secs(3);
    assert!(
        took < bound,
        "took {took:?}, more than plan + timeout + grace ({bound:?})\n{out}"
    );

    let run = run_dir(dir.path()).expect("a run folder");
    let text = std::fs::read_to_string(run.join(files::REQUESTS)).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (elapsed, response_time, error) = (col("elapsed"), col("response_time"), col("error"));
    let load_end_ms = 5_000;
    let (mut cancelled, mut timeouts) = (0, 0);
    for row in reader.records() {
        let row = row.unwrap();
        let took_ms: u64 = row[response_time].parse().unwrap();
        let ended_ms: u64 = row[elapsed].parse().unwrap();
        let sent_ms = ended_ms.saturating_sub(took_ms);
        assert!(
            took_ms <= 10_500,
            "no request outlives its timeout: {row:?}"
        );
        if dashload::runfolder::is_cancelled(&row[error]) {
            // Dropped in flight (`cancelled at run end`) or never sent.
            cancelled += 1;
        } else {
            // Whatever the target failed (here: timeouts) was sent during the load.
            assert!(
                sent_ms <= load_end_ms + 500,
                "sent after the load's end: {row:?}"
            );
            if &row[error] == "timeout" {
                timeouts += 1;
                assert!(took_ms >= 9_500, "a timeout waited its timeout: {row:?}");
            }
        }
    }
    assert!(
        cancelled > 0,
        "the requests cut off are logged as cancelled\n{text}"
    );
    assert!(
        timeouts > 0,
        "requests in flight at the end had their timeout\n{text}"
    );
}

#[test]
fn sigterm_stops_the_run_like_ctrl_c_finishes_the_folder_and_exits_130() {
    let dir = workspace();
    let mut child = started_run(dir.path(), "sigterm", 60);
    let sent = Instant::now();
    signal(&child, "TERM");
    let status = wait(&mut child, Duration::from_secs(60));
    let out = output(&mut child);
    let status = status.unwrap_or_else(|| panic!("still running 60 s after SIGTERM\n{out}"));
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "{:?}\n{out}",
        sent.elapsed()
    );
    assert!(out.contains("stopping"), "{out}");
    assert_finished_and_interrupted(&run_dir(dir.path()).unwrap(), &out);
}

#[test]
fn a_second_ctrl_c_finishes_within_seconds_with_a_usable_folder() {
    let dir = workspace();
    let mut child = started_run(dir.path(), "twice", 60);
    let sent = Instant::now();
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "INT");
    let status = wait(&mut child, Duration::from_secs(30));
    let out = output(&mut child);
    let status = status.unwrap_or_else(|| panic!("still running 30 s after two SIGINTs\n{out}"));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}\n{out}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{out}");
    assert_finished_and_interrupted(&run_dir(dir.path()).unwrap(), &out);
}

#[test]
fn a_signal_during_preflight_ends_the_run_with_nothing_written() {
    let target = Stalling::start(true);
    let dir = workspace();
    let file = scenario(dir.path(), "early", Some(&target.url()), 1, 4, "10s");
    let mut child = spawn(dir.path(), &["run", &file, "--reports-dir", "reports"]);
    // Preflight's /ping hangs (for up to 10 s): stop it meanwhile (4 s in, so a
    // slow start on a loaded machine has installed the handler).
    std::thread::sleep(Duration::from_secs(4));
    signal(&child, "TERM");
    let status = wait(&mut child, Duration::from_secs(20));
    let out = output(&mut child);
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{out}");
    assert!(
        out.contains("interrupted: before the load started"),
        "{out}"
    );
    assert!(run_dir(dir.path()).is_none(), "no run folder: {out}");
}

#[test]
fn report_recovers_a_folder_a_run_left_unfinished_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    dashload::report::synthetic::write_run(&run, 2_000, 7).unwrap();
    let _ = std::fs::remove_file(run.join(files::GOOSE_JSON));
    // As a killed run leaves it: run.json not ended, the logs still in
    // .partial/ (the request log cut mid-line), Goose's report half written.
    let mut meta = RunMeta::load(&run).unwrap();
    meta.ended_at = None;
    meta.interrupted = false;
    meta.store(&run).unwrap();
    let partial = run.join(".partial");
    std::fs::create_dir(&partial).unwrap();
    for name in [files::REQUESTS, files::INGEST] {
        std::fs::rename(run.join(name), partial.join(name)).unwrap();
    }
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(partial.join(files::REQUESTS))
        .unwrap();
    log.write_all(b"123456,0,dashboard vie").unwrap();
    std::fs::write(partial.join(files::GOOSE_JSON), "{\"raw_metrics\":").unwrap();
    std::fs::write(run.join(".run.lock"), "").unwrap();

    let out = Command::new(bin())
        .args(["report", "run"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{all}");
    assert!(all.contains("recovered an unfinished run"), "{all}");
    assert!(
        all.contains("requests.csv: an incomplete last line"),
        "{all}"
    );
    assert!(run.join("report.json.incomplete").is_file(), "{all}");
    assert!(!run.join(".run.lock").exists());
    assert_finished_and_interrupted(&run, &all);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join(files::SUMMARY)).unwrap()).unwrap();
    assert!(
        summary.to_string().contains("dashboard_load"),
        "the recovered log is reported"
    );
}
