//! A worker's file uploads against a real manager (`dashload run --workers 1`,
//! a child process on loopback, with a token): this test joins as the worker
//! over the protocol and uploads, streamed (`cluster::upload::send`), a file far
//! larger than the upload's chunk; then a corrupted body and a connection cut
//! mid-body, which leave nothing under the file's name; and a slow upload after the
//! start, which keeps the (tickless) worker from being counted lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dashload::cluster::auth::{self, Key};
use dashload::cluster::channel::Channel;
use dashload::cluster::merge::worker_dir;
use dashload::cluster::protocol::{Assignment, Join, Ready, Start, PREFIX};
use dashload::cluster::token::Token;
use dashload::cluster::upload::{self, Announced, CHUNK};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::util::{workspace, ATTACK};

const SCENARIO: &str = r#"
name = "upload"
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
users = 2
ramp = "1s"
hold = "5s"
"#;

const TOKEN: &str = "upload-test-token-0123456789";

/// The test file: 40 MiB, not periodic in the chunk size.
const SIZE: usize = 40 << 20;

fn pattern(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The folder's entries, temporary files included.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

struct Manager(Child);

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A manager (`--workers 1`, a child process) that this test joined as worker 0.
struct Session {
    manager: Manager,
    port: u16,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    channel: Channel,
    assignment: Assignment,
    /// Worker 0's folder in the manager's run folder.
    folder: std::path::PathBuf,
    /// The run's id, as every upload carries it.
    headers: reqwest::header::HeaderMap,
    _dir: tempfile::TempDir,
}

impl Session {
    /// Start the manager (its stderr piped) and join it as `dashload worker` does.
    fn join() -> Session {
        let dir = workspace();
        std::fs::write(dir.path().join("scenarios/upload.toml"), SCENARIO).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let manager = Manager(
            Command::new(env!("CARGO_BIN_EXE_dashload"))
                .args([
                    "run",
                    "scenarios/upload.toml",
                    "--workers",
                    "1",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--join-timeout",
                    "120",
                ])
                .current_dir(dir.path())
                .env("DASHLOAD_CLUSTER_TOKEN", TOKEN)
                .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let base = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let key = Key::of(Some(&Token::parse(TOKEN, "the test").unwrap()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let channel = runtime.block_on(async {
            loop {
                match Channel::connect(client.clone(), &base, &key).await {
                    Ok(c) => break c,
                    Err(_) if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    Err(e) => panic!("the manager did not answer: {e}"),
                }
            }
        });
        let scenario = dashload::scenario::Scenario::load_with(
            &dir.path().join("scenarios/upload.toml"),
            &dashload::scenario::Overrides::none(),
        )
        .unwrap();
        let join = Join {
            version: channel.manager_version.clone(),
            digest: scenario.digest.clone(),
            index: Some(0),
            host: "test".into(),
            pid: std::process::id(),
        };
        let assignment: Assignment = runtime
            .block_on(channel.expect("join", &join, Duration::from_secs(30)))
            .unwrap();
        let folder = worker_dir(&dir.path().join("reports").join(&assignment.run_id), 0);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-dashload-run", assignment.run_id.parse().unwrap());
        Session {
            manager,
            port,
            runtime,
            client,
            channel,
            assignment,
            folder,
            headers,
            _dir: dir,
        }
    }

    /// An upload's route (its query to come).
    fn route(&self, name: &str) -> String {
        format!("files/0/{name}")
    }

    /// The headers of one raw `PUT` of `route?query`: the run and the session's proof.
    fn signed_put(&self, route_and_query: &str) -> reqwest::header::HeaderMap {
        let (mut h, _) = self.channel.sign("PUT", route_and_query, auth::STREAMED);
        h.extend(self.headers.clone());
        h
    }

    /// The same headers as raw HTTP lines.
    fn signed_put_lines(&self, route_and_query: &str) -> String {
        self.signed_put(route_and_query)
            .iter()
            .map(|(k, v)| format!("{k}: {}\r\n", v.to_str().unwrap()))
            .collect()
    }
}

#[test]
fn a_large_file_streams_to_the_manager_and_bad_uploads_leave_nothing() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let session = Session::join();
    let Session {
        port,
        runtime,
        client,
        channel,
        folder,
        headers,
        ..
    } = &session;
    let port = *port;

    // 1. A file 160 times the chunk, streamed: the same bytes arrive under its name.
    const { assert!(SIZE > 100 * CHUNK) };
    let local = tempfile::tempdir().unwrap();
    let path = local.path().join("requests.csv");
    let bytes = pattern(SIZE);
    std::fs::write(&path, &bytes).unwrap();
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let sent = runtime
        .block_on(upload::send(
            client,
            channel.root(),
            &session.route("requests.csv"),
            channel,
            headers,
            &path,
        ))
        .unwrap();
    assert_eq!(
        sent,
        Announced {
            sha256: sha256.clone(),
            size: SIZE as u64
        }
    );
    let received = std::fs::read(folder.join("requests.csv")).unwrap();
    assert_eq!(received.len(), SIZE);
    assert_eq!(hex::encode(Sha256::digest(&received)), sha256);
    assert!(received == bytes, "the manager's copy differs");
    drop(received);
    assert_eq!(entries(folder), ["requests.csv"]);

    // 2. A corrupted body (one byte flipped) is refused with the checksums; nothing is
    // written under its name, and an intact file already there is kept.
    let mut bad = bytes.clone();
    bad[SIZE / 2] ^= 0x40;
    let query = Announced {
        sha256: sha256.clone(),
        size: SIZE as u64,
    }
    .query();
    for name in ["ingest.csv", "requests.csv"] {
        let (status, reason) = runtime.block_on(async {
            let route = format!("{}?{query}", session.route(name));
            let r = client
                .put(channel.url(&route))
                .headers(session.signed_put(&route))
                .body(bad.clone())
                .send()
                .await
                .unwrap();
            (r.status(), r.text().await.unwrap())
        });
        assert_eq!(status, 422, "{reason}");
        assert!(
            reason.contains(&format!(
                "checksum {} where {} was announced",
                &hex::encode(Sha256::digest(&bad))[..12],
                &sha256[..12]
            )),
            "{reason}"
        );
    }
    assert_eq!(entries(folder), ["requests.csv"]);
    assert_eq!(
        hex::encode(Sha256::digest(
            std::fs::read(folder.join("requests.csv")).unwrap()
        )),
        sha256
    );
    drop(bad);

    // 3. A connection cut mid-body: the partial bytes reach a temporary file, and go
    // with the connection; no file under its name.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT {PREFIX}/files/0/cut.csv?{query} HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         {}content-length: {SIZE}\r\n\r\n",
        session.signed_put_lines(&format!("files/0/cut.csv?{query}"))
    )
    .unwrap();
    let half = SIZE / 2;
    stream.write_all(&bytes[..half]).unwrap();
    let partial_seen = wait_for(|| {
        std::fs::read_dir(folder).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().starts_with(".cut.csv.")
                && e.metadata().unwrap().len() >= (half - 2 * CHUNK) as u64
        })
    });
    assert!(
        partial_seen,
        "the body is written as it comes: {:?}",
        entries(folder)
    );
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(stream);
    let cleaned = wait_for(|| entries(folder) == ["requests.csv"]);
    assert!(cleaned, "left behind: {:?}", entries(folder));

    // 4. A body shorter than announced on a complete request: refused with the sizes.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "PUT {PREFIX}/files/0/short.csv?{query} HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         {}content-length: 1000\r\n\
         connection: close\r\n\r\n",
        session.signed_put_lines(&format!("files/0/short.csv?{query}"))
    )
    .unwrap();
    stream.write_all(&bytes[..1000]).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 422"), "{answer}");
    assert!(
        answer.contains(&format!(
            "short.csv: 1000 bytes where {SIZE} were announced"
        )),
        "{answer}"
    );
    assert_eq!(entries(folder), ["requests.csv"]);
}

/// Poll `f` every 50 ms for up to 30 s.
fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A worker sending its files sends no ticks; the manager counts it alive while
/// the bytes arrive (a long run's files take a while), and lost only once they stop.
#[test]
fn a_worker_is_alive_while_its_upload_progresses() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let mut session = Session::join();
    let stderr = session.manager.0.stderr.take().unwrap();
    let (lines, lost) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let Ok(line) = line else { break };
            if line.contains("worker 0 lost at") && lines.send(line).is_err() {
                break;
            }
        }
    });
    let s = &session;
    // Through the barrier to the start; then no tick, only a slow upload: a chunk
    // every 0.5 s for 6 s (twice the loss timeout).
    const CHUNKS: usize = 12;
    let bytes = pattern(CHUNKS * CHUNK);
    let announced = Announced {
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
    };
    let upload_ended = s.runtime.block_on(async {
        let ready = Ready {
            run_id: s.assignment.run_id.clone(),
            index: 0,
        };
        let start: Start = s
            .channel
            .expect("ready", &ready, Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_micros(start.start_in_us)).await;
        let t0 = Instant::now();
        let parts: Vec<bytes::Bytes> = bytes
            .chunks(CHUNK)
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        let body = futures::stream::iter(parts).then(|c| async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok::<_, std::io::Error>(c)
        });
        let route = format!("{}?{}", s.route("requests.csv"), announced.query());
        let r = s
            .client
            .put(s.channel.url(&route))
            .headers(s.signed_put(&route))
            .header("content-length", announced.size)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the upload broke off (the worker given up?): {e}"));
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
        t0.elapsed()
    });
    assert!(upload_ended >= Duration::from_secs(6), "{upload_ended:?}");
    assert_eq!(std::fs::read(s.folder.join("requests.csv")).unwrap(), bytes);
    // Silent from then on, it is lost: after the upload, not 3 s into it.
    let line = lost
        .recv_timeout(Duration::from_secs(30))
        .expect("the silent worker is lost once its upload ended");
    let at: f64 = line
        .split("lost at ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(at >= 6.0, "lost during its upload: {line}");
}
