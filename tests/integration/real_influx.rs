//! Against a real InfluxDB 1.x (`influxd`, started per test on free loopback ports):
//! a short run whose written points all land, the shipped dashboard's queries all
//! answering series, and the preflight failures (missing database, wrong
//! credentials) exiting 4 without leaking the secret. Skipped, saying so, when
//! influxd is not installed.

use dashload::run::{run, RunOptions};
use dashload::runfolder::{files, RunMeta};
use dashload::scenario::Scenario;
use dashload::target::body::Body;
use dashload::target::{judge_query, judge_write, Endpoints, QueryCall};
use dashload::workload::dashboard::{TimeRange, View};
use dashload::workload::generate::{write_generated, OutputFormat};
use goose::config::GooseConfiguration;

use crate::influxd::Influxd;
use crate::util::{dashload, text, workspace, ATTACK};

pub(crate) fn scenario_text(url: &str, extra_target: &str) -> String {
    format!(
        r#"name = "influx"
seed = 5
[target]
kind = "influxdb1"
url = "{url}"
database = "toggl"
{extra_target}
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "3s"
refreshes_per_visit = 2
think_time = "1s..1s"
[sync]
users = 1
entries_per_sync = 400
batch_size = 150
interval = "2s"
freshness = true
[[stages]]
users = 3
ramp = "2s"
hold = "8s"
"#
    )
}

fn count_points(server: &Influxd) -> u64 {
    let answer = server.query(
        "SELECT count(\"entry_id\") FROM \"time_entry\"",
        Some("toggl"),
        None,
    );
    answer
        .pointer("/results/0/series/0/values/0/1")
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

#[test]
fn a_run_against_real_influxdb_lands_every_point_and_every_panel_has_series() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    server.query("CREATE DATABASE toggl", None, None);
    // Thirty days of history from another world (other workspace ids, so no point
    // of the run's sync job can overwrite one of these).
    let mut history = Vec::new();
    write_generated(
        &mut history,
        6000,
        OutputFormat::Lp,
        999,
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    for chunk in history
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(2000)
    {
        assert_eq!(server.write("toggl", chunk.concat()), 204);
    }
    let seeded = count_points(&server);
    assert!(seeded > 5000, "history landed: {seeded}");

    let dir = workspace();
    let path = dir.path().join("scenarios/influx.toml");
    std::fs::write(&path, scenario_text(&server.url, "")).unwrap();
    let options = RunOptions {
        scenario: path.clone(),
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds");
    let meta = RunMeta::load(&result.run_dir).unwrap();
    assert!(meta.counters.points_written > 0, "the sync job wrote");
    assert_eq!(
        count_points(&server),
        seeded + meta.counters.points_written,
        "every point written is stored"
    );
    let requests = std::fs::read_to_string(result.run_dir.join(files::REQUESTS)).unwrap();
    assert!(
        requests.contains("panel Hours tracked"),
        "viewers queried InfluxDB directly"
    );
    let fresh: Vec<&str> = requests
        .lines()
        .filter(|l| l.contains(",sync freshness,"))
        .collect();
    assert!(!fresh.is_empty(), "the sync job probed freshness");
    assert!(
        fresh.iter().all(|l| l.contains(",true,")),
        "every written point became visible: {fresh:?}"
    );

    // Every panel query of the shipped dashboard answers with series.
    let scenario = Scenario::load(&path).unwrap();
    let endpoints = Endpoints::new(&scenario.target, None);
    let dashboard = &scenario.viewers.as_ref().unwrap().dashboard;
    let selections = dashboard.saved_selections();
    let range = TimeRange::parse("now-7d", "now").unwrap();
    let view = View::new(
        dashboard,
        &range,
        chrono::Utc::now().timestamp_millis(),
        &selections,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for request in view.panel_requests() {
        for q in &request.queries {
            let influxql = q.influxql.as_deref().unwrap();
            let (status, body) = runtime.block_on(async {
                let r = endpoints
                    .query(&client, QueryCall::InfluxQl(influxql))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap())
            });
            let reading = endpoints.reading(&QueryCall::InfluxQl(influxql), false);
            let judged = judge_query(status, &Body::from_bytes(&body, reading), false);
            assert!(
                judged.ok,
                "{}: {influxql}: {:?}",
                request.name, judged.error
            );
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let series = json
                .pointer("/results/0/series")
                .and_then(|s| s.as_array())
                .map_or(0, Vec::len);
            assert!(
                series > 0,
                "{} returned no series: {influxql}",
                request.name
            );
        }
    }
}

#[test]
fn a_malformed_line_is_reported_with_influxdbs_error() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    server.query("CREATE DATABASE toggl", None, None);
    let dir = workspace();
    let path = dir.path().join("scenarios/influx.toml");
    std::fs::write(&path, scenario_text(&server.url, "")).unwrap();
    let scenario = Scenario::load(&path).unwrap();
    let endpoints = Endpoints::new(&scenario.target, None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let body = b"time_entry,user=a duration_s=1i 1700000000\nthis is bad\ntime_entry,user=b duration_s=2i 1700000000\n".to_vec();
        let r = endpoints.write(&client, body, false).send().await.unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap())
    });
    let judged = judge_write(status, &Body::from_bytes(&body, endpoints.write_reading()));
    assert!(!judged.ok);
    let error = judged.error.unwrap();
    assert!(
        error.starts_with("HTTP 400: partial write: unable to parse 'this is bad'"),
        "{error}"
    );
    // The good lines were written (DOMAIN.md §2.3): the error is recorded, not retried.
    assert_eq!(
        count_points(&server),
        0,
        "entry_id was not a field of these lines"
    );
    let answer = server.query(
        "SELECT count(\"duration_s\") FROM \"time_entry\"",
        Some("toggl"),
        None,
    );
    assert_eq!(
        answer
            .pointer("/results/0/series/0/values/0/1")
            .and_then(|v| v.as_u64()),
        Some(2)
    );
}

#[test]
fn a_missing_database_exits_four_before_any_user_starts() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let dir = workspace();
    std::fs::write(
        dir.path().join("scenarios/influx.toml"),
        scenario_text(&server.url, ""),
    )
    .unwrap();
    let out = dashload(dir.path(), &["run", "scenarios/influx.toml"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no database `toggl`"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn wrong_credentials_exit_four_and_the_password_never_shows() {
    let Some(server) = Influxd::start(true) else {
        return;
    };
    server.query(
        "CREATE USER admin WITH PASSWORD 'right-pass' WITH ALL PRIVILEGES",
        None,
        None,
    );
    server.query("CREATE DATABASE toggl", None, Some(("admin", "right-pass")));
    let dir = workspace();
    let auth = "username = \"admin\"\npassword_env = \"DASHLOAD_TEST_INFLUX_PASSWORD\"";
    std::fs::write(
        dir.path().join("scenarios/influx.toml"),
        scenario_text(&server.url, auth),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/influx.toml"])
        .current_dir(dir.path())
        .env("DASHLOAD_TEST_INFLUX_PASSWORD", "wrong-pass-Zq9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("refused the credentials"), "{all}");
    assert!(
        !all.contains("wrong-pass-Zq9"),
        "the password leaked: {all}"
    );
}
