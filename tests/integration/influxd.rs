//! A real InfluxDB 1.x server (Debian's `influxdb` package) for tests: started on
//! free loopback ports with a temporary data folder and the coordinator limits set
//! (so one bad query cannot eat the machine), stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `influxd`.
pub struct Influxd {
    child: Child,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The influxd binary, if installed.
pub fn binary() -> Option<PathBuf> {
    ["/usr/bin/influxd", "/usr/local/bin/influxd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Influxd {
    /// Start a server; `None` (with a plain message) when influxd is not installed.
    pub fn start(auth: bool) -> Option<Influxd> {
        let Some(bin) = binary() else {
            // Straight to stderr, past the test harness's capture, so it shows.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: influxd is not installed (apt-get install influxdb): the real-InfluxDB tests were not run"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (http, rpc) = (free_port(), free_port());
        let d = dir.path().display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [coordinator]\n  max-select-buckets = 100000\n  query-timeout = \"10s\"\n  max-concurrent-queries = 32\n\
             [http]\n  bind-address = \"127.0.0.1:{http}\"\n  auth-enabled = {auth}\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [continuous_queries]\n  enabled = false\n"
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(bin)
            .arg("-config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd starts");
        let server = Influxd {
            child,
            _dir: dir,
            url: format!("http://127.0.0.1:{http}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::blocking::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/ping", server.url)).send() {
                if r.status().as_u16() == 204 {
                    return Some(server);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("influxd did not answer /ping within 30 s");
    }

    /// Run an InfluxQL statement with POST (as CREATE/DROP need), optionally as a user.
    pub fn query(
        &self,
        q: &str,
        db: Option<&str>,
        auth: Option<(&str, &str)>,
    ) -> serde_json::Value {
        let mut url = format!("{}/query", self.url);
        if let Some(db) = db {
            url.push_str(&format!("?db={db}"));
        }
        let mut req = reqwest::blocking::Client::new().post(url).form(&[("q", q)]);
        if let Some((u, p)) = auth {
            req = req.basic_auth(u, Some(p));
        }
        req.send().unwrap().json().unwrap()
    }

    /// Write line protocol (precision s) into `db`; returns the HTTP status.
    pub fn write(&self, db: &str, body: Vec<u8>) -> u16 {
        reqwest::blocking::Client::new()
            .post(format!("{}/write?db={db}&precision=s", self.url))
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
