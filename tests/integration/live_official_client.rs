//! Someone else's client: the official Centrifuge JavaScript client (npm
//! `centrifuge`, installed by `.ci/run` into tests/live-client) connects to the
//! sandbox's `/api/live/ws`, subscribes, and receives the probe points pushed
//! to `/api/live/push/<stream>` in dashload's publisher format. Skipped, saying
//! so, without node or the package; required under CI (`DASHLOAD_CI`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use dashload::sandbox::{Sandbox, SandboxConfig};
use dashload::scenario::live::PROBE_MEASUREMENT;
use dashload::users::live_viewer::SENT_FIELD;

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/live-client")
}

/// `node`, run in tests/live-client, when it and the packages are there.
fn node() -> Option<Command> {
    let works = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let installed = client_dir()
        .join("node_modules/centrifuge/package.json")
        .exists()
        && client_dir().join("node_modules/ws/package.json").exists();
    if !works || !installed {
        let why = "node and tests/live-client's packages (npm ci --prefix tests/live-client)";
        assert!(
            std::env::var_os("DASHLOAD_CI").is_none(),
            "{why} are required under CI"
        );
        eprintln!("SKIPPED: needs {why}");
        return None;
    }
    let mut cmd = Command::new("node");
    cmd.current_dir(client_dir());
    Some(cmd)
}

#[test]
fn the_official_centrifuge_client_receives_what_was_pushed() {
    let Some(mut node) = node() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(Sandbox::start(SandboxConfig {
            seed_days: 0,
            ..SandboxConfig::default()
        }))
        .unwrap();
    let channel = format!("stream/dashload/{PROBE_MEASUREMENT}");
    let mut child = node
        .args([
            "check.mjs",
            &format!("ws://{}/api/live/ws", sandbox.addr()),
            &channel,
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().and_then(Result::ok).as_deref(),
        Some("SUBSCRIBED"),
        "the client subscribes"
    );
    let client = reqwest::blocking::Client::new();
    let mut sent = Vec::new();
    for seq in 1..=3 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        sent.push(now);
        let status = client
            .post(format!("{}/api/live/push/dashload", sandbox.url()))
            .body(format!(
                "{PROBE_MEASUREMENT} seq={seq}i,{SENT_FIELD}={now}i {now}"
            ))
            .timeout(Duration::from_secs(5))
            .send()
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 200);
    }
    let received: Vec<serde_json::Value> = lines
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(received.len(), 3, "{received:?}");
    for (i, publication) in received.iter().enumerate() {
        assert_eq!(publication["offset"], i as u64 + 1);
        let data = &publication["data"];
        assert_eq!(data["schema"]["name"], PROBE_MEASUREMENT);
        let names: Vec<&str> = data["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["time", "seq", SENT_FIELD]);
        assert_eq!(data["data"]["values"][1][0], i as u64 + 1);
        // JavaScript numbers are doubles: the send time survives to the µs.
        let sent_ns = data["data"]["values"][2][0].as_f64().unwrap();
        assert!((sent_ns - sent[i] as f64).abs() < 1_000.0, "{sent_ns}");
    }
    let live = sandbox.counters().live;
    assert_eq!((live.connections_total, live.publications), (1, 3));
    assert_eq!(live.deliveries, 3);
    runtime.block_on(sandbox.stop());
}
