//! `[server_metrics]` against a real influxd: its `/debug/vars` scraped into
//! `server.csv`, and the report's count check — exact on a run with no other
//! load, and flagging, in that window only, a second writer the test starts.
//! Skipped, saying so, when influxd is not installed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dashload::run::{run, RunOptions};
use dashload::runfolder::{files, RunMeta};
use goose::config::GooseConfiguration;

use crate::influxd::Influxd;
use crate::util::{workspace, ATTACK};

/// Windows: `stage 1 ramp` 0–1 s, `stage 1 hold` 1–5 s, `stage 2 ramp` 5–6 s,
/// `stage 2 hold` 6–10 s;
/// no freshness polls (calls outside the log have no time).
fn scenario(url: &str) -> String {
    format!(
        r#"name = "metrics"
seed = 11
[target]
kind = "influxdb1"
url = "{url}"
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 2
think_time = "1s..1s"
[sync]
entries_per_sync = 200
batch_size = 100
interval = "1s"
[[stages]]
users = 2
ramp = "1s"
hold = "4s"
[[stages]]
users = 2
ramp = "1s"
hold = "4s"
[server_metrics]
interval = "500ms"
"#
    )
}

fn run_scenario(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("scenarios/metrics.toml");
    std::fs::write(&path, scenario(url)).unwrap();
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds")
        .run_dir
}

fn server_summary(run_dir: &Path) -> serde_json::Value {
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join(files::SUMMARY)).unwrap()).unwrap();
    summary["server"].clone()
}

#[test]
fn a_run_with_no_other_load_matches_the_servers_counts_exactly() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    server.query("CREATE DATABASE toggl", None, None);
    let dir = workspace();
    let run_dir = run_scenario(dir.path(), &server.url);

    let csv = std::fs::read_to_string(run_dir.join(files::SERVER)).unwrap();
    assert!(csv.starts_with("elapsed_ms,metric,value\n"));
    let meta = RunMeta::load(&run_dir).unwrap();
    assert!(
        meta.counters.server_scrapes >= 16,
        "every 500 ms over 10 s: {:?}",
        meta.counters
    );
    assert_eq!(meta.counters.server_scrape_failures, 0);

    let s = server_summary(&run_dir);
    assert_eq!(s["scrapes"], meta.counters.server_scrapes);
    for m in [
        "query_requests",
        "write_requests",
        "points_written",
        "goroutines",
        "heap_bytes",
    ] {
        assert!(
            s["metrics"].as_array().unwrap().iter().any(|x| x == m),
            "{m}: {s:#}"
        );
    }
    assert_eq!(s["measurement_warnings"], serde_json::json!([]), "{s:#}");
    let checks = s["count_check"].as_array().unwrap();
    let whole: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| c["scope"] == "whole run")
        .collect();
    for kind in ["query", "write", "points"] {
        let c = whole.iter().find(|c| c["kind"] == kind).expect(kind);
        assert_eq!(c["server"], c["client"], "whole run, {kind}: {c}");
        assert!(c["server"].as_u64().unwrap() > 0, "{kind}: {c}");
    }
    assert_eq!(
        whole.iter().find(|c| c["kind"] == "ping").unwrap()["server"],
        0
    );
    for window in ["stage 1 hold", "stage 2 hold"] {
        let mine: Vec<&serde_json::Value> =
            checks.iter().filter(|c| c["scope"] == window).collect();
        assert_eq!(mine.len(), 4, "{window}: {s:#}");
        assert!(mine.iter().all(|c| c["matches"] == true), "{mine:#?}");
    }
    // Exact wherever no call ran across a scrape (most, at a few calls a second).
    let exact = checks
        .iter()
        .filter(|c| c["client_min"] == c["client_max"] && c["server"] == c["client"])
        .count();
    assert!(exact * 2 > checks.len(), "{checks:#?}");

    let page = std::fs::read_to_string(run_dir.join(files::REPORT_HTML)).unwrap();
    assert!(
        page.contains("Server metrics"),
        "the report has the section"
    );
}

#[test]
fn a_second_writer_during_one_window_is_flagged_in_that_window_only() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    server.query("CREATE DATABASE toggl", None, None);
    let dir = workspace();
    let reports = dir.path().join("reports");
    let url = server.url.clone();
    // The other writer: three writes of 10 points 7.5 s into the attack (stage 2 hold, 6–10 s).
    let writer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let meta = loop {
            assert!(Instant::now() < deadline, "the run never wrote run.json");
            let found = std::fs::read_dir(&reports)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| RunMeta::load(&e.ok()?.path()).ok());
            if let Some(meta) = found {
                break meta;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let at = meta.started_at + chrono::Duration::milliseconds(7_500);
        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        std::thread::sleep(wait);
        let client = reqwest::blocking::Client::new();
        for batch in 0..3 {
            let body: String = (0..10)
                .map(|i| {
                    format!(
                        "other,writer=test v={i}i {}\n",
                        1_700_000_000 + batch * 10 + i
                    )
                })
                .collect();
            let r = client
                .post(format!("{url}/write?db=toggl&precision=s"))
                .body(body)
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let run_dir = run_scenario(dir.path(), &server.url);
    writer.join().unwrap();

    let s = server_summary(&run_dir);
    let checks = s["count_check"].as_array().unwrap();
    let mut flagged: Vec<(String, String)> = checks
        .iter()
        .filter(|c| c["matches"] == false)
        .map(|c| {
            (
                c["scope"].as_str().unwrap().into(),
                c["kind"].as_str().unwrap().into(),
            )
        })
        .collect();
    flagged.sort();
    let pairs = |scope: &str| {
        [
            (scope.to_string(), "points".to_string()),
            (scope.to_string(), "write".to_string()),
        ]
    };
    let mut expected: Vec<(String, String)> = pairs("stage 2 hold")
        .into_iter()
        .chain(pairs("whole run"))
        .collect();
    expected.sort();
    assert_eq!(flagged, expected, "{s:#}");
    let write = checks
        .iter()
        .find(|c| c["scope"] == "stage 2 hold" && c["kind"] == "write")
        .unwrap();
    assert!(
        write["server"].as_u64().unwrap() >= write["client_max"].as_u64().unwrap() + 3,
        "{write}"
    );
    let warnings = s["measurement_warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("stage 2 hold: the server counted")),
        "{warnings:#?}"
    );
}

#[test]
fn the_sandboxs_own_counters_appear_in_the_report_and_match() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let path = dir.path().join("scenarios/sandboxed.toml");
    std::fs::write(
        &path,
        r#"name = "sandboxed"
seed = 3
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
think_time = "1s..1s"
[sync]
entries_per_sync = 200
batch_size = 100
interval = "1s"
[[stages]]
users = 2
ramp = "1s"
hold = "5s"
"#,
    )
    .unwrap();
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let run_dir = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds")
        .run_dir;
    let s = server_summary(&run_dir);
    assert!(s["scrapes"].as_u64().unwrap() >= 6, "{s:#}");
    assert_eq!(s["failed_scrapes"], 0);
    for m in [
        "query_requests",
        "write_requests",
        "points_written",
        "cache_hits",
        "rejected_busy",
    ] {
        assert!(
            s["metrics"].as_array().unwrap().iter().any(|x| x == m),
            "{m}: {s:#}"
        );
    }
    assert_eq!(s["measurement_warnings"], serde_json::json!([]), "{s:#}");
    let whole = |kind: &str| {
        s["count_check"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["scope"] == "whole run" && c["kind"] == kind)
            .cloned()
            .unwrap()
    };
    for kind in ["query", "write", "points"] {
        let c = whole(kind);
        assert!(
            c["server"].as_u64().unwrap() > 0 && c["server"] == c["client"],
            "{kind}: {c}"
        );
    }
    let page = std::fs::read_to_string(run_dir.join(files::REPORT_HTML)).unwrap();
    // The sandbox's cache panel is drawn when its cache saw lookups, and left
    // out when its lines are all zero (a chart only where it carries data).
    let lookups = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["metric"] == "cache_hits" || x["metric"] == "cache_misses")
        .flat_map(|x| x["points"].as_array().unwrap().clone())
        .any(|p| p[1].as_f64().unwrap() > 0.0);
    assert_eq!(
        page.contains("Server: result cache per second"),
        lookups,
        "the sandbox's cache panel, drawn only with lookups"
    );
    assert!(page.contains("id=\"count-check\""));
}
