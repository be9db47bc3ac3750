//! `[server_metrics]` scraping a real process that serves Prometheus text:
//! Debian's `prometheus-node-exporter` (a Go program, like InfluxDB 2.x and
//! Grafana, exposing the same `go_*` and `process_*` families) on a loopback
//! port of its own, beside a sandbox run. Skipped, saying so, when it is not
//! installed; required under CI (`DASHLOAD_CI`, set by `.ci/run`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{dashload, text, workspace};

const EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// The exporter, killed when dropped.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the exporter on a free loopback port; its `/metrics` URL.
fn start_exporter() -> Option<(Exporter, String)> {
    if !Path::new(EXPORTER).exists() {
        assert!(
            std::env::var_os("DASHLOAD_CI").is_none(),
            "{EXPORTER} is required under CI (apt-get install prometheus-node-exporter)"
        );
        eprintln!(
            "SKIPPED: {EXPORTER} is not installed (apt-get install prometheus-node-exporter)"
        );
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(EXPORTER)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Only the exporter's own Go and process figures: nothing read from the host.
        .arg("--collector.disable-defaults")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let exporter = Exporter(child);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let start = Instant::now();
    while reqwest::blocking::get(&url).map_or(true, |r| !r.status().is_success()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the exporter never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((exporter, url))
}

#[test]
fn a_real_prometheus_endpoint_is_scraped_into_server_csv_and_the_report() {
    let Some((_exporter, url)) = start_exporter() else {
        return;
    };
    let dir = workspace();
    let scenario = format!(
        "name = \"prom\"\nseed = 2\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
         [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"4s\"\n\
         [server_metrics]\nurl = \"{url}\"\ninterval = \"500ms\"\n"
    );
    std::fs::write(dir.path().join("scenarios/prom.toml"), scenario).unwrap();
    let out = dashload(dir.path(), &["run", "scenarios/prom.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();

    // server.csv: every scrape gave the process's figures, under dashload's names.
    let csv = std::fs::read_to_string(run.join("server.csv")).unwrap();
    let rows = |metric: &str| -> Vec<f64> {
        csv.lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.split(',');
                let (_, m, v) = (f.next()?, f.next()?, f.next()?);
                (m == metric).then(|| v.parse().unwrap())
            })
            .collect()
    };
    assert!(rows("scrape_error").is_empty(), "{csv}");
    let scrapes = rows("scrape_ms").len();
    assert!(
        scrapes >= 8,
        "{scrapes} scrapes in about 6 s at 500 ms: {csv}"
    );
    for metric in ["goroutines", "rss_bytes", "heap_bytes", "cpu_seconds"] {
        let values = rows(metric);
        assert_eq!(values.len(), scrapes, "{metric} in every scrape: {csv}");
        assert!(
            values.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{metric}: {values:?}"
        );
    }
    // RSS of a running Go program is megabytes; goroutines at least one.
    assert!(rows("rss_bytes").iter().all(|&v| v > 1e6), "{csv}");
    assert!(rows("goroutines").iter().all(|&v| v >= 1.0), "{csv}");
    // No query counters on this endpoint: no count to check, so no warning either.
    assert!(rows("query_requests").is_empty(), "{csv}");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let server = &summary["server"];
    assert_eq!(server["failed_scrapes"], 0, "{server:#}");
    assert_eq!(
        server["measurement_warnings"],
        serde_json::json!([]),
        "{server:#}"
    );
    let hold = server["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["window"] == "stage 1 hold")
        .expect("the hold window's server figures");
    assert!(hold["rss_max"].as_f64().unwrap() > 1e6, "{hold:#}");
    assert!(hold["goroutines_max"].as_f64().unwrap() >= 1.0, "{hold:#}");
}
