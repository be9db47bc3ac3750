//! The HTTP calls dashload says it made equal what a real influxd counted
//! (`SHOW STATS`, module `httpd`: queryReq, writeReq, pingReq): the request
//! log's HTTP rows plus run.json's outside-log counters, by endpoint kind.
//! Skipped, saying so, when influxd is not installed.

use dashload::run::{run, RunOptions};
use dashload::runfolder::{files, RunMeta};
use goose::config::GooseConfiguration;

use crate::influxd::Influxd;
use crate::real_influx::scenario_text;
use crate::util::{workspace, ATTACK};

/// `[query, write, ping]` requests influxd's HTTP service has counted.
fn httpd_stats(server: &Influxd) -> [u64; 3] {
    let answer = server.query("SHOW STATS", None, None);
    let series = answer
        .pointer("/results/0/series")
        .and_then(|s| s.as_array())
        .expect("SHOW STATS answers series");
    let httpd = series
        .iter()
        .find(|s| s["name"] == "httpd")
        .expect("an httpd module");
    let columns = httpd["columns"].as_array().unwrap();
    let field = |name: &str| {
        let i = columns.iter().position(|c| c == name).unwrap();
        httpd["values"][0][i].as_u64().unwrap()
    };
    [field("queryReq"), field("writeReq"), field("pingReq")]
}

/// The method label of a request-log row (`custom_method` in Goose's raw request).
fn method(raw: &str) -> &str {
    let start = raw.rfind("custom_method: \"").unwrap() + "custom_method: \"".len();
    let len = raw[start..].find('"').unwrap();
    &raw[start..start + len]
}

#[test]
fn influxd_counts_exactly_the_http_calls_dashload_reports() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    server.query("CREATE DATABASE toggl", None, None);
    let dir = workspace();
    let path = dir.path().join("scenarios/influx.toml");
    std::fs::write(&path, scenario_text(&server.url, "")).unwrap();

    // Each SHOW STATS is itself one query request: measure how many of them
    // land between two snapshots, so the test's own calls are accounted for.
    let s0 = httpd_stats(&server);
    let before = httpd_stats(&server);
    let own = [before[0] - s0[0], before[1] - s0[1], before[2] - s0[2]];
    assert_eq!(own, [1, 0, 0], "one SHOW STATS is one query request");

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
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds");
    let after = httpd_stats(&server);
    let server_saw = [
        after[0] - before[0] - own[0],
        after[1] - before[1],
        after[2] - before[2],
    ];

    // The request log: every row an HTTP call (GET/POST) or an operation.
    // A request the run's end cut off is logged as such: one never sent is
    // nothing the server could count; one dropped in flight was sent. The
    // report leaves both out of its request totals.
    let mut log = [0u64; 3];
    let (mut not_sent, mut cut_in_flight, mut cut_rows) = (0u64, 0u64, 0u64);
    let mut reader = csv::Reader::from_path(result.run_dir.join(files::REQUESTS)).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (name_col, raw_col, error_col) = (col("name"), col("raw"), col("error"));
    for row in reader.records() {
        let row = row.unwrap();
        let (name, method, error) = (&row[name_col], method(&row[raw_col]), &row[error_col]);
        cut_rows += u64::from(dashload::runfolder::is_cancelled(error));
        let kind = match method {
            "GET" | "POST" if name.starts_with("panel ") || name.starts_with("variable ") => 0,
            "GET" | "POST" if name == "sync write" => 1,
            "LOAD" | "LP" | "GEN" | "POLL" => continue,
            _ => panic!("unexpected row {method} {name}"),
        };
        if dashload::runfolder::is_not_sent(error) {
            not_sent += 1;
            continue;
        }
        cut_in_flight += u64::from(dashload::runfolder::is_cancelled(error));
        log[kind] += 1;
    }
    let meta = RunMeta::load(&result.run_dir).unwrap();
    let mut outside = [0u64; 3];
    for kinds in meta.counters.http_outside_log.values() {
        for (kind, n) in kinds {
            match kind.as_str() {
                "query" => outside[0] += n,
                "write" => outside[1] += n,
                "ping" => outside[2] += n,
                other => panic!("no {other} endpoint on influxdb1"),
            }
        }
    }
    let dashload = [
        log[0] + outside[0],
        log[1] + outside[1],
        log[2] + outside[2],
    ];
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "influxd httpd [query, write, ping]: {server_saw:?}; dashload: {dashload:?} \
         (request log {log:?} + outside it {outside:?}: {:?}; \
         cut off by the run's end: {cut_in_flight} in flight, {not_sent} never sent)",
        meta.counters.http_outside_log
    );
    assert!(log[0] > 0 && log[1] > 0, "the run queried and wrote");
    assert_eq!(server_saw, dashload);

    // The report's headline counts the same HTTP calls.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(result.run_dir.join(files::SUMMARY)).unwrap())
            .unwrap();
    assert_eq!(
        summary["totals"]["requests"],
        log[0] + log[1] - cut_in_flight
    );
    // Cut-off operations (a dashboard load) are counted apart with them.
    assert_eq!(summary["totals"]["cancelled"], cut_rows);
    assert_eq!(
        summary["totals"]["outside_log"],
        outside.iter().sum::<u64>()
    );
}
