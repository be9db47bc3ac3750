//! A worker obeys no stranger: `dashload worker` processes against FAKE managers
//! (axum servers in this test on free loopback ports, recording every request):
//! one that does not know the token, one that knows it (a compromised manager)
//! and tries to point the worker at its own "target", its credentials and a
//! command, one whose answer is 1.5 GiB. Then the real manager against oversized
//! bodies (its peak RSS read from /proc), `local:N` workers without the token in
//! their environment, and a TLS run with a pinned certificate.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use dashload::cluster::auth::{self, Key, Session};
use dashload::cluster::protocol::{Assignment, PREFIX};
use dashload::cluster::token::Token;

use crate::util::{workspace, ATTACK};

const TOKEN: &str = "trust-test-token-0123456789abcdef";

/// A short run: one stage, no sync job.
const SHORT: &str = r#"
name = "trust"
seed = 9

[target]
kind = "sandbox"

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 2
think_time = "1s..1s"

[sync]
users = 0

[[stages]]
users = 2
ramp = "1s"
hold = "3s"
"#;

/// A request as a fake manager saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    /// Every header, `name: value` lines.
    headers: String,
    body: Vec<u8>,
}

/// How a fake manager answers.
#[derive(Clone)]
enum Fake {
    /// It does not know the token: its `hello` proof is made with another one.
    Stranger,
    /// Its `hello` answer is 1.5 GiB (streamed, never in memory).
    Huge,
    /// It knows the token and tries to steer the worker: the old `hello`'s
    /// scenario and `--set` overrides, and a sandbox URL pointing at `trap`.
    Compromised { plan: String, trap: String },
}

#[derive(Clone)]
struct FakeState {
    fake: Fake,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The session the compromised fake opened.
    session: Arc<Mutex<Option<Session>>>,
}

/// A fake manager on a free loopback port.
struct FakeManager {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

static ZEROS: [u8; 1 << 20] = [0; 1 << 20];

fn json(body: serde_json::Value) -> Response {
    axum::Json(body).into_response()
}

async fn fake_answer(State(st): State<FakeState>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let headers: String = req
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let seq: u64 = req
        .headers()
        .get(auth::SEQ_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    st.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    let route = path.strip_prefix(PREFIX).unwrap_or(&path).to_string();
    let worker_nonce = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["nonce"].as_str().map(str::to_string))
        .unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    match (&st.fake, route.as_str()) {
        (Fake::Stranger, "/hello") => {
            let nonce = auth::nonce();
            let wrong = Key::of(Some(
                &Token::parse("not-the-token-0123456789", "t").unwrap(),
            ));
            json(serde_json::json!({
                "version": version,
                "nonce": nonce,
                "proof": auth::manager_proof(&wrong, &worker_nonce, &nonce),
            }))
        }
        (Fake::Huge, "/hello") => {
            let chunks = futures::stream::iter(
                (0..1536).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from_static(&ZEROS))),
            );
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(chunks))
                .unwrap()
        }
        (Fake::Compromised { .. }, "/hello") => {
            let key = Key::of(Some(&Token::parse(TOKEN, "t").unwrap()));
            let nonce = auth::nonce();
            *st.session.lock().unwrap() = Some(Session::derive(&key, &worker_nonce, &nonce));
            // What the old protocol obeyed: another scenario and overrides that point
            // the target at this fake, with credentials from the worker's host, and a
            // command fault.
            json(serde_json::json!({
                "version": version,
                "nonce": nonce,
                "proof": auth::manager_proof(&key, &worker_nonce, &nonce),
                "scenario": "/etc/passwd",
                "set": [
                    "target.kind=influxdb1",
                    format!("target.url={}", trap_of(&st.fake)),
                    "target.username=x",
                    "target.password_env=DASHLOAD_TRUST_SECRET",
                    "faults.0.start=[\"sh\", \"-c\", \"touch pwned\"]",
                ],
            }))
        }
        (Fake::Compromised { plan, trap }, route) => {
            let session = st.session.lock().unwrap().clone().unwrap();
            let (status, body) = match route {
                "/join" => (
                    200,
                    serde_json::to_vec(&Assignment {
                        run_id: "fake-run".into(),
                        index: 0,
                        workers: 1,
                        plan: plan.clone(),
                        seed: 1,
                        sandbox_url: Some(trap.clone()),
                    })
                    .unwrap(),
                ),
                // Past the preflight: enough.
                _ => (409, br#"{"reason":"the fake manager stops here"}"#.to_vec()),
            };
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header(auth::PROOF_HEADER, session.answer_proof(seq, status, &body))
                .body(Body::from(body))
                .unwrap()
        }
        _ => (axum::http::StatusCode::NOT_FOUND, "no").into_response(),
    }
}

fn trap_of(fake: &Fake) -> String {
    match fake {
        Fake::Compromised { trap, .. } => trap.clone(),
        _ => String::new(),
    }
}

impl FakeManager {
    fn start(fake: Fake) -> FakeManager {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            fake,
            seen: seen.clone(),
            session: Arc::new(Mutex::new(None)),
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(fake_answer).with_state(state);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeManager {
            addr,
            seen,
            _runtime: runtime,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A child process killed on drop.
struct Killed(Child);

impl Killed {
    /// Its exit status, within `within`.
    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "no exit within {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait for `child` (killed after `within`); its exit code and stderr.
fn finish(mut child: Child, within: Duration) -> (Option<i32>, String) {
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("no exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap())
}

/// `dashload worker <scenario> --manager <url>` in `dir` with the test's token.
fn worker(dir: &Path, scenario: &str, manager: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dashload"));
    c.args([
        "worker",
        scenario,
        "--manager",
        manager,
        "--index",
        "0",
        "--reports-dir",
        "worker-runs",
        "--connect-timeout",
        "20",
    ])
    .current_dir(dir)
    .env("DASHLOAD_CLUSTER_TOKEN", TOKEN)
    .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
    .env_remove("JOB_COMPLETION_INDEX")
    .env_remove("DASHLOAD_MANAGER_FINGERPRINT")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

/// A manager that cannot prove it knows the token gets a refusal in one line
/// (exit 2), and only a random nonce: no token, no bearer header, nothing keyed
/// by the token that could be guessed offline.
#[test]
fn a_worker_refuses_a_manager_that_does_not_know_the_token() {
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/trust.toml"), SHORT).unwrap();
    let fake = FakeManager::start(Fake::Stranger);
    let child = worker(
        dir.path(),
        "scenarios/trust.toml",
        &format!("http://{}", fake.addr),
    )
    .spawn()
    .unwrap();
    let (code, err) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("did not prove it knows the cluster token"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains(TOKEN), "{err}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "only hello: {seen:?}");
    assert_eq!(seen[0].path, format!("{PREFIX}/hello"));
    let hello: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    let fields: Vec<&String> = hello.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["nonce"], "{hello}");
    assert!(auth::is_nonce(hello["nonce"].as_str().unwrap()));
    let all = format!(
        "{}{}",
        seen[0].headers,
        String::from_utf8_lossy(&seen[0].body)
    );
    assert!(!all.to_lowercase().contains("authorization"), "{all}");
    assert!(!all.contains(TOKEN), "{all}");
    assert!(!all.contains(auth::PROOF_HEADER), "{all}");
}

/// A manager whose answer never ends: the worker reads 1 MiB of it and stops
/// with a clear error (exit 2), not an abort on memory.
#[test]
fn a_huge_answer_ends_the_worker_with_a_clear_error() {
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/trust.toml"), SHORT).unwrap();
    let fake = FakeManager::start(Fake::Huge);
    let started = Instant::now();
    let child = worker(
        dir.path(),
        "scenarios/trust.toml",
        &format!("http://{}", fake.addr),
    )
    .spawn()
    .unwrap();
    let pid = child.id();
    let peak = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let (code, err) = finish(child, Duration::from_secs(60));
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("larger than 1024 KiB"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let peak_mib = peak.load(Ordering::SeqCst) / 1024;
    eprintln!("worker peak RSS seen: {peak_mib} MiB");
    assert!(peak_mib < 200, "peak RSS {peak_mib} MiB");
}

/// A manager that knows the token (compromised) cannot steer the worker: the
/// worker runs its own scenario against its own target (a standalone sandbox);
/// the manager's scenario, overrides and sandbox URL are ignored, so its
/// "target" sees no connection, the worker's secret never reaches it, and the
/// command it named never runs.
#[test]
fn a_compromised_manager_cannot_point_the_worker_elsewhere_or_run_anything() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    // The worker's own target: a standalone sandbox.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_dashload"));
    sandbox
        .args([
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--seed-days",
            "2",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut sandbox = Killed(sandbox.spawn().unwrap());
    let lines = std::io::BufReader::new(sandbox.0.stderr.take().unwrap());
    for line in lines.lines() {
        if line.unwrap().contains("listening") {
            break;
        }
    }
    let own = SHORT.replace(
        "kind = \"sandbox\"",
        &format!("kind = \"influxdb1\"\nurl = \"http://127.0.0.1:{port}\""),
    );
    std::fs::write(dir.path().join("scenarios/own.toml"), &own).unwrap();
    // The trap: where the fake wants the worker to connect.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    let (_, plan) = dashload::plan::validate_with(
        &dir.path().join("scenarios/own.toml"),
        &dashload::scenario::Overrides::none(),
        false,
    )
    .unwrap();
    let fake = FakeManager::start(Fake::Compromised {
        plan: plan.share(0, 1, true).goose_test_plan(),
        trap: trap_url.clone(),
    });
    let secret = "s3cret-on-the-worker-host-42";
    let child = worker(
        dir.path(),
        "scenarios/own.toml",
        &format!("http://{}", fake.addr),
    )
    .env("DASHLOAD_TRUST_SECRET", secret)
    .spawn()
    .unwrap();
    let (code, err) = finish(child, Duration::from_secs(90));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the fake manager stops here"), "{err}");
    // It got as far as the barrier: its preflight ran, against its own target.
    let seen = fake.seen();
    let routes: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        routes,
        [
            format!("{PREFIX}/hello"),
            format!("{PREFIX}/join"),
            format!("{PREFIX}/ready")
        ],
        "{err}"
    );
    assert!(
        matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the worker connected to the manager's \"target\""
    );
    for s in &seen {
        let all = format!("{}{}", s.headers, String::from_utf8_lossy(&s.body));
        assert!(!all.contains(secret), "{all}");
        assert!(!all.contains(TOKEN), "{all}");
    }
    assert!(
        !dir.path().join("pwned").exists(),
        "the manager's command ran"
    );
    assert!(!err.contains(secret), "{err}");
}

/// The peak resident set of a process, KiB.
fn vm_hwm_kib(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The real manager (a process, waiting for one worker), its address from its
/// first line.
fn real_manager(
    dir: &Path,
    scenario: &str,
    extra: &[&str],
) -> (Killed, String, std::thread::JoinHandle<()>) {
    std::fs::write(dir.join("scenarios/trust.toml"), scenario).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_dashload"));
    c.args([
        "run",
        "scenarios/trust.toml",
        "--workers",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--join-timeout",
        "120",
    ])
    .args(extra)
    .current_dir(dir)
    .env("DASHLOAD_CLUSTER_TOKEN", TOKEN)
    .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = Killed(c.spawn().unwrap());
    let mut lines = std::io::BufReader::new(child.0.stderr.take().unwrap()).lines();
    let first = loop {
        let line = lines.next().expect("the manager's listening line").unwrap();
        if line.contains("manager listening on") {
            break line;
        }
    };
    // Keep draining its stderr.
    let drain = std::thread::spawn(move || for _ in lines {});
    (child, first, drain)
}

/// Send `total` bytes of body to `path` on `addr` with `head` (request line and
/// headers, without the blank line), `chunked` or with a content length;
/// return the answer's status line and how many body bytes went out.
fn flood(addr: &str, path: &str, head: &str, total: usize, chunked: bool) -> (String, usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let framing = if chunked {
        "transfer-encoding: chunked".to_string()
    } else {
        format!("content-length: {total}")
    };
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n{head}{framing}\r\n\r\n"
    )
    .unwrap();
    let reader = stream.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let answered = Arc::new(AtomicBool::new(false));
    let status = {
        let answered = answered.clone();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = std::io::BufReader::new(reader).read_line(&mut first);
            answered.store(true, Ordering::SeqCst);
            first.trim().to_string()
        })
    };
    let block = vec![b'7'; 64 * 1024];
    let mut sent = 0;
    while sent < total && !answered.load(Ordering::SeqCst) {
        let wrote = if chunked {
            write!(stream, "{:x}\r\n", block.len())
                .and_then(|()| stream.write_all(&block))
                .and_then(|()| stream.write_all(b"\r\n"))
        } else {
            stream.write_all(&block)
        };
        if wrote.is_err() {
            break;
        }
        sent += block.len();
    }
    (status.join().unwrap(), sent)
}

/// 200 MiB bodies at the manager's control routes are refused with 413 after at
/// most a few KiB read, with or without a declared length, before or after the
/// handshake; its peak RSS does not grow.
#[test]
fn oversized_control_bodies_are_refused_quickly_and_take_no_memory() {
    let dir = workspace();
    // A target the manager never dials (no sandbox growing beside the measure).
    let scenario = SHORT.replace(
        "kind = \"sandbox\"",
        "kind = \"influxdb1\"\nurl = \"http://127.0.0.1:9\"",
    );
    let (manager, line, _drain) = real_manager(dir.path(), &scenario, &[]);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let pid = manager.0.id();
    let before = vm_hwm_kib(pid).unwrap();
    const TOTAL: usize = 200 << 20;
    let started = Instant::now();
    // No session: refused on the declared length, or unheard (no session) when chunked.
    for route in ["join", "tick", "hello"] {
        let (status, sent) = flood(&addr, &format!("{PREFIX}/{route}"), "", TOTAL, false);
        assert!(status.starts_with("HTTP/1.1 413"), "{route}: {status}");
        assert!(sent < TOTAL, "{route}: all {sent} bytes went");
    }
    let (status, _) = flood(&addr, &format!("{PREFIX}/join"), "", TOTAL, true);
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    let (status, _) = flood(&addr, &format!("{PREFIX}/hello"), "", TOTAL, true);
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    // With a session (this test knows the token), chunked: cut at the limit.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = Key::of(Some(&Token::parse(TOKEN, "t").unwrap()));
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let channel = runtime
        .block_on(dashload::cluster::channel::Channel::connect(
            reqwest::Client::new(),
            &base,
            &key,
        ))
        .unwrap();
    let (headers, _) = channel.sign("POST", "join", "whatever");
    let head: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {}\r\n", v.to_str().unwrap()))
        .collect();
    let (status, _) = flood(&addr, &format!("{PREFIX}/join"), &head, TOTAL, true);
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    let took = started.elapsed();
    let after = vm_hwm_kib(pid).unwrap();
    eprintln!(
        "manager VmHWM {} MiB before, {} MiB after 7 floods in {took:?}",
        before / 1024,
        after / 1024
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert!(
        after < before + 16 * 1024,
        "VmHWM grew from {before} to {after} KiB"
    );
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // After the command's closing parenthesis: state, then the parent.
                    let rest = &s[s.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// `local:N` workers get the token on their stdin: it is in neither their
/// environment nor their arguments (`ps auxe` shows both), and the run works.
#[test]
fn local_workers_get_the_token_out_of_their_environment() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/trust.toml"), SHORT).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_dashload"));
    c.args([
        "run",
        "scenarios/trust.toml",
        "--workers",
        "local:2",
        "--no-report",
    ])
    .current_dir(dir.path())
    .env("DASHLOAD_CLUSTER_TOKEN", TOKEN)
    .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id();
    let mut workers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while workers.len() < 2 && Instant::now() < deadline {
        workers = children_of(pid);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(workers.len(), 2, "the manager's workers");
    for w in &workers {
        let environ = std::fs::read(format!("/proc/{w}/environ")).unwrap();
        let cmdline = std::fs::read(format!("/proc/{w}/cmdline")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("worker"), "{cmdline}");
        assert!(cmdline.contains("--token-stdin"), "{cmdline}");
        assert!(
            !environ.contains("DASHLOAD_CLUSTER_TOKEN"),
            "worker {w}'s environment"
        );
        assert!(!environ.contains(TOKEN) && !cmdline.contains(TOKEN));
    }
    let (code, err) = finish(child, Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("worker 1 done"), "{err}");
}

/// Over TLS with a self-signed certificate: a worker pinning another fingerprint
/// refuses in one line (exit 2); one pinning the printed one runs the run.
#[test]
fn a_tls_manager_is_joined_only_with_its_pinned_fingerprint() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let (manager, line, _drain) = real_manager(dir.path(), SHORT, &["--tls-self-signed"]);
    let addr = line
        .split("https://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let fingerprint = line
        .split("SHA-256 ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    let url = format!("https://{addr}");
    // Plain HTTP to it, or the wrong pin: refused.
    let wrong = "AB:".repeat(31) + "AB";
    let mut c = worker(dir.path(), "scenarios/trust.toml", &url);
    c.args(["--manager-fingerprint", &wrong]);
    let (code, err) = finish(c.spawn().unwrap(), Duration::from_secs(60));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not the pinned"), "{err}");
    assert!(
        err.contains(&fingerprint),
        "names the certificate it met: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // The right pin: the run goes through.
    let mut c = worker(dir.path(), "scenarios/trust.toml", &url);
    c.env("DASHLOAD_MANAGER_FINGERPRINT", &fingerprint);
    let (code, err) = finish(c.spawn().unwrap(), Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    let mut manager = manager;
    assert_eq!(manager.wait(Duration::from_secs(60)).code(), Some(0));
}

/// Past the handshake: a request whose body is not the one signed, a replayed
/// one, and one session speaking for a worker it did not join as are refused.
#[test]
fn signed_requests_cannot_be_altered_replayed_or_borrowed() {
    let dir = workspace();
    let scenario = SHORT.replace(
        "kind = \"sandbox\"",
        "kind = \"influxdb1\"\nurl = \"http://127.0.0.1:9\"",
    );
    let (_manager, line, _drain) = real_manager(dir.path(), &scenario, &[]);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = Key::of(Some(&Token::parse(TOKEN, "t").unwrap()));
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let client = reqwest::Client::new();
    let connect = || {
        runtime
            .block_on(dashload::cluster::channel::Channel::connect(
                client.clone(),
                &base,
                &key,
            ))
            .unwrap()
    };
    let (joined, stranger) = (connect(), connect());
    let digest = dashload::scenario::Scenario::load_with(
        &dir.path().join("scenarios/trust.toml"),
        &dashload::scenario::Overrides::none(),
    )
    .unwrap()
    .digest;
    let join = dashload::cluster::protocol::Join {
        version: joined.manager_version.clone(),
        digest,
        index: Some(0),
        host: "test".into(),
        pid: 1,
    };
    let assignment: Assignment = runtime
        .block_on(joined.expect("join", &join, Duration::from_secs(30)))
        .unwrap();
    let ready = dashload::cluster::protocol::Ready {
        run_id: assignment.run_id.clone(),
        index: 0,
    };
    // Another session (it knows the token, but joined as nobody) cannot speak for worker 0.
    let borrowed = runtime
        .block_on(stranger.call::<serde_json::Value>("ready", &ready, Duration::from_secs(10)))
        .unwrap();
    match borrowed {
        dashload::cluster::channel::Answer::Refused(why) => {
            assert!(why.contains("did not join as worker 0"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // Raw: a signed body, then the same request again, then another body under its proof.
    let send = |headers: reqwest::header::HeaderMap, body: &'static str| {
        runtime.block_on(async {
            let r = client
                .post(joined.url("done"))
                .headers(headers)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    let body = r#"{"not":"a done"}"#;
    let (headers, _) = joined.sign("POST", "done", &auth::body_digest(body.as_bytes()));
    let (first, why) = send(headers.clone(), body);
    assert_eq!(first, 422, "signed, then judged on its content: {why}");
    let (again, why) = send(headers, body);
    assert_eq!((again, why.contains("replayed")), (401, true), "{why}");
    let (headers, _) = joined.sign("POST", "done", &auth::body_digest(body.as_bytes()));
    let (altered, why) = send(headers, r#"{"not":"a dune"}"#);
    assert_eq!(
        (altered, why.contains("bad request proof")),
        (401, true),
        "{why}"
    );
}

/// Off loopback the manager serves TLS or is told plainly that it may not
/// (the worker's side is `tls.rs`'s unit test: it refuses before dialling).
#[test]
fn a_manager_off_loopback_refuses_plain_http_unless_allowed() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("scenarios/trust.toml"),
        SHORT.replace(
            "kind = \"sandbox\"",
            "kind = \"influxdb1\"\nurl = \"http://127.0.0.1:9\"",
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dashload"));
        c.args(["run", "scenarios/trust.toml", "--workers", "1"])
            .args(["--listen", "0.0.0.0:0", "--join-timeout", "1"])
            .args(extra)
            .current_dir(dir.path())
            .env("DASHLOAD_CLUSTER_TOKEN", TOKEN)
            .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        finish(c.spawn().unwrap(), Duration::from_secs(60))
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is off loopback: serve TLS"), "{err}");
    assert!(err.contains("--allow-plain-http"), "{err}");
    // Allowed, or over TLS: it listens, then gives up on its missing worker.
    for extra in [&["--allow-plain-http"][..], &["--tls-self-signed"]] {
        let (code, err) = run(extra);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("workers missing after 1 s"),
            "{extra:?}: {err}"
        );
    }
    let (_, err) = run(&["--tls-cert", "missing.crt", "--tls-key", "missing.key"]);
    assert!(err.contains("missing.crt: no PEM certificate"), "{err}");
}
