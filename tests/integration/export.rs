//! `--export influxdb` into the real influxd the suite starts: the points land with
//! summary.json's exact values, `deploy/grafana/dashload-runs.json` (read by
//! dashload's own dashboard parser, its queries expanded by dashload's expander)
//! returns them, and a refused export only warns.

use std::process::{Command, Output};

use dashload::report::summary::Summary;
use dashload::workload::dashboard::{self, Selection, TimeRange, Trigger, View};
use serde_json::Value;

use crate::influxd::Influxd;
use crate::util::{root, text, workspace, ATTACK};

/// A shortened smoke run against the sandbox, exporting with `env`.
fn run_exporting(dir: &std::path::Path, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashload"));
    cmd.args([
        "run",
        "scenarios/smoke.toml",
        "--set",
        "stages.0.ramp=2s",
        "--set",
        "stages.0.hold=6s",
        "--export",
        "influxdb",
    ])
    .args(extra)
    .current_dir(dir);
    for var in [
        "DASHLOAD_TARGET_URL",
        "DASHLOAD_TARGET_DATABASE",
        "DASHLOAD_EXPORT_URL",
        "DASHLOAD_EXPORT_DATABASE",
        "DASHLOAD_REVISION",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the dashload binary runs")
}

/// The run folder and its summary.json.
fn the_run(dir: &std::path::Path) -> (String, Summary) {
    let runs: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let bytes = std::fs::read(runs[0].join("summary.json")).unwrap();
    let id = runs[0].file_name().unwrap().to_string_lossy().into_owned();
    (id, serde_json::from_slice(&bytes).unwrap())
}

/// The exit code the verdict alone gives (no baseline).
fn verdict_code(s: &Summary) -> i32 {
    i32::from(s.slo_failed || s.unmeasured.is_some())
}

/// `GET /query` (epoch ms): the statement's series.
fn select(server: &Influxd, db: &str, q: &str) -> Vec<Value> {
    let mut url = url::Url::parse(&format!("{}/query", server.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("db", db)
        .append_pair("epoch", "ms")
        .append_pair("q", q);
    let answer: Value = reqwest::blocking::Client::new()
        .get(url)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let result = &answer["results"][0];
    assert!(result.get("error").is_none(), "{q}: {answer}");
    result["series"].as_array().cloned().unwrap_or_default()
}

/// Rows of a series as column → value objects (tags merged in; a missing key reads null).
fn rows(series: &Value) -> Vec<Value> {
    let columns: Vec<String> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let tags = series["tags"].as_object().cloned().unwrap_or_default();
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let mut m = tags.clone();
            for (c, v) in columns.iter().zip(row.as_array().unwrap()) {
                m.insert(c.clone(), v.clone());
            }
            Value::Object(m)
        })
        .collect()
}

fn all_rows(series: &[Value]) -> Vec<Value> {
    series.iter().flat_map(rows).collect()
}

#[test]
fn the_export_lands_exactly_and_the_grafana_dashboard_reads_it() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    server.query("CREATE DATABASE dashload_results", None, None);
    let _attack = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let out = run_exporting(
        dir.path(),
        &[
            ("DASHLOAD_EXPORT_URL", server.url.as_str()),
            ("DASHLOAD_EXPORT_DATABASE", "dashload_results"),
            ("DASHLOAD_REVISION", "0123abc"),
        ],
        // Enough samples in the short hold for every SLO to be judged, so that
        // there is a capacity to export (on a very busy machine there may be none:
        // the capacity panel is then checked to be empty).
        &[
            "--set",
            "viewers.refresh=1s",
            "--set",
            "sync.interval=0s",
            "--set",
            "stages.0.users=12",
            "--set",
            "stages.0.hold=10s",
        ],
    );
    let (run_id, summary) = the_run(dir.path());
    // run.json says which values the run overrode (the digest only says that some were).
    let meta =
        dashload::runfolder::RunMeta::load(&dir.path().join("reports").join(&run_id)).unwrap();
    for set in [
        "viewers.refresh = \"1s\"  (--set)",
        "sync.interval = \"0s\"  (--set)",
        "stages.0.users = 12  (--set)",
        "stages.0.hold = \"10s\"  (--set)",
        "export.database = \"dashload_results\"  (DASHLOAD_EXPORT_DATABASE)",
    ] {
        assert!(
            meta.overrides.iter().any(|o| o == set),
            "{set}: {:?}",
            meta.overrides
        );
    }
    assert_eq!(
        out.status.code(),
        Some(verdict_code(&summary)),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("points of {run_id} to {}", server.url)),
        "{}",
        text(&out)
    );
    let db = "dashload_results";
    let start = summary.run.started_at.timestamp_millis();

    // The run's point.
    let run = all_rows(&select(
        &server,
        db,
        &format!("SELECT * FROM dashload_run WHERE run_id = '{run_id}'"),
    ));
    assert_eq!(run.len(), 1, "{run:?}");
    let run = &run[0];
    assert_eq!(run["time"], start);
    assert_eq!(run["scenario"], "smoke");
    assert_eq!(run["revision"], "0123abc");
    assert_eq!(run["requests"].as_u64(), Some(summary.totals.requests));
    assert_eq!(run["error_rate"].as_f64(), summary.totals.error_rate);
    assert_eq!(run["capacity"].as_u64(), summary.capacity.map(|c| c as u64));
    let load_p95 = summary
        .judged
        .iter()
        .find(|c| c.class.key() == "dashboard_load")
        .and_then(|c| c.latency)
        .map(|l| l.p95);
    assert_eq!(run["dashboard_load_p95"].as_f64(), load_p95);

    // One point per SLO judged on a hold window, with its exact values.
    let slos = all_rows(&select(
        &server,
        db,
        &format!("SELECT * FROM dashload_slo WHERE run_id = '{run_id}'"),
    ));
    let judged: Vec<_> = summary.slos.iter().filter(|s| s.judged).collect();
    assert!(!judged.is_empty());
    assert_eq!(slos.len(), judged.len(), "{slos:?}");
    for want in judged {
        let got = slos
            .iter()
            .find(|r| {
                r["window"] == want.window.as_str()
                    && r["class"] == want.class.key()
                    && r["figure"] == want.metric.key()
            })
            .unwrap_or_else(|| panic!("no point for {want:?}"));
        assert_eq!(got["value"].as_f64(), want.observed, "{want:?}");
        assert_eq!(got["slo"].as_f64(), Some(want.max));
        assert_eq!(got["result"], want.verdict.label());
    }

    // The series, bucket by bucket.
    let series = all_rows(&select(
        &server,
        db,
        &format!("SELECT * FROM dashload_series WHERE run_id = '{run_id}'"),
    ));
    assert_eq!(series.len(), summary.series.buckets.len());
    let width = summary.series.bucket_ms as f64 / 1000.0;
    for (i, (row, bucket)) in series.iter().zip(&summary.series.buckets).enumerate() {
        assert_eq!(
            row["time"].as_i64(),
            Some(start + (i as u64 * summary.series.bucket_ms) as i64)
        );
        assert_eq!(
            row["requests_per_s"].as_f64(),
            Some(bucket.ok as f64 / width)
        );
        assert_eq!(row["errors"].as_u64(), Some(bucket.failed));
    }
    let latency = all_rows(&select(
        &server,
        db,
        &format!(
            "SELECT * FROM dashload_latency WHERE run_id = '{run_id}' AND class = 'dashboard_load'"
        ),
    ));
    let want: Vec<f64> = summary
        .series
        .buckets
        .iter()
        .flat_map(|b| {
            b.classes
                .iter()
                .filter(|(c, _)| c.key() == "dashboard_load")
                .map(|(_, l)| l.p95)
        })
        .collect();
    let got: Vec<f64> = latency.iter().map(|r| r["p95"].as_f64().unwrap()).collect();
    assert_eq!(got, want);
    assert!(!want.is_empty());

    // The dashboard, through dashload's own parser and expander.
    let path = root().join("deploy/grafana/dashload-runs.json");
    let dash = dashboard::load(&path).unwrap();
    assert!(dash.skipped.is_empty(), "{:?}", dash.skipped);
    assert_eq!(dash.panels.len(), 10);
    let now = chrono::Utc::now().timestamp_millis();
    let range = TimeRange::parse("now-30d", "now").unwrap();
    let query_all = |selection: Selection| {
        let mut selections = dash.saved_selections();
        selections
            .set(&dash.variables, "scenario", selection)
            .unwrap();
        let view = View::new(&dash, &range, now, &selections);
        let variable: Vec<String> = view
            .variable_requests(Trigger::Load)
            .iter()
            .map(|v| v.influxql.clone())
            .collect();
        let panels: Vec<(String, Vec<Value>)> = view
            .panel_requests()
            .iter()
            .flat_map(|p| p.queries.iter().map(|q| q.influxql.clone().unwrap()))
            .map(|q| {
                let s = select(&server, db, &q);
                (q, s)
            })
            .collect();
        (variable, panels)
    };
    let (variable, panels) = query_all(Selection::Values(vec!["smoke".into()]));
    let values = all_rows(&select(&server, db, &variable[0]));
    assert_eq!(values.len(), 1);
    assert_eq!(values[0]["value"], "smoke");
    for (i, (q, series)) in panels.iter().enumerate() {
        // A run too short to hold its SLOs has no capacity to draw.
        let expected = !(i == 1 && summary.capacity.is_none());
        assert_eq!(!series.is_empty(), expected, "{q}: {series:?}");
    }
    // The p95 trend and the capacity give the run's own figures; the table its verdict.
    let first = |i: usize, column: &str| -> Vec<Value> {
        all_rows(&panels[i].1)
            .iter()
            .map(|r| r[column].clone())
            .filter(|v| !v.is_null())
            .collect()
    };
    assert_eq!(first(0, "last"), vec![serde_json::json!(load_p95.unwrap())]);
    if let Some(capacity) = summary.capacity {
        assert_eq!(first(1, "last"), vec![serde_json::json!(capacity)]);
    }
    let table = all_rows(&panels[4].1);
    assert_eq!(table.len(), 1);
    assert_eq!(table[0]["run_id"], run_id.as_str());
    assert_eq!(table[0]["status"], table[0]["verdict"]);
    assert_eq!(all_rows(&panels[5].1).len(), slos.len());
    // Another scenario's selection finds nothing of this run.
    let (_, other) = query_all(Selection::Values(vec!["other".into()]));
    assert!(other.iter().all(|(_, s)| s.is_empty()));

    // The annotation query, expanded the same way (as a panel of the same dashboard).
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let annotation = json["annotations"]["list"][1]["query"].clone();
    let mut panel = json["panels"][0].clone();
    panel["targets"][0]["query"] = annotation;
    json["panels"] = Value::Array(vec![panel]);
    let dash = dashboard::parse(&json.to_string(), "annotation").unwrap();
    let mut selections = dash.saved_selections();
    selections
        .set(
            &dash.variables,
            "scenario",
            Selection::Values(vec!["smoke".into()]),
        )
        .unwrap();
    let view = View::new(&dash, &range, now, &selections);
    let q = view.panel_requests()[0].queries[0]
        .influxql
        .clone()
        .unwrap();
    let marks = all_rows(&select(&server, db, &q));
    assert_eq!(marks.len(), 1, "{q}");
    assert_eq!(marks[0]["time"], start);
    assert_eq!(marks[0]["run_id"], run_id.as_str());
}

#[test]
fn a_refused_export_warns_and_keeps_the_exit_code() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _attack = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    // No such database: influxd answers 404.
    let out = run_exporting(
        dir.path(),
        &[
            ("DASHLOAD_EXPORT_URL", server.url.as_str()),
            ("DASHLOAD_EXPORT_DATABASE", "missing"),
            ("DASHLOAD_TEST_EXPORT_PW", "s3cr3t-export"),
        ],
        &[
            "--set",
            "export.username=u",
            "--set",
            "export.password_env=DASHLOAD_TEST_EXPORT_PW",
        ],
    );
    let (_, summary) = the_run(dir.path());
    assert_eq!(
        out.status.code(),
        Some(verdict_code(&summary)),
        "{}",
        text(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: export to InfluxDB failed:") && stderr.contains("404"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("s3cr3t-export"));
}

#[test]
fn exporting_to_the_target_under_test_is_refused_before_anything_is_sent() {
    let dir = workspace();
    let url = "http://127.0.0.1:9";
    let out = run_exporting(
        dir.path(),
        &[("DASHLOAD_EXPORT_URL", "http://127.0.0.1:9/")],
        &[
            "--set",
            "target.kind=influxdb1",
            "--set",
            &format!("target.url={url}"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is the target under test"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("reports").exists());
    // Without an export destination at all: exit 2, saying how to give one.
    let out = run_exporting(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DASHLOAD_EXPORT_URL"));
    assert!(!dir.path().join("reports").exists());
}

/// A destination answering every write 500 with a `mb` MB body, streamed;
/// counts the bytes it managed to send. Its base URL.
fn huge_error_destination(
    mb: u64,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> (String, tokio::runtime::Runtime) {
    use axum::body::{Body, Bytes};
    use futures::stream::{self, StreamExt};
    use std::sync::atomic::Ordering;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move || {
        let sent = sent.clone();
        async move {
            let chunk = Bytes::from(vec![b'x'; 1 << 20]);
            let body = stream::iter(0..mb).map(move |_| {
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                Ok::<_, std::io::Error>(chunk.clone())
            });
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                Body::from_stream(body),
            )
        }
    });
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, runtime)
}

/// Issue 25: an export destination's 512 MB error body is read only as far as
/// an error message needs (it took 1.1 GB of memory read whole): the run's peak
/// RSS stays small and the warning still says what was answered.
#[test]
fn a_huge_error_answer_from_the_destination_is_read_with_a_cap() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let _attack = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let (url, _runtime) = huge_error_destination(512, sent.clone());
    let dir = workspace();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashload"));
    cmd.args([
        "run",
        "scenarios/smoke.toml",
        "--set",
        "stages.0.ramp=1s",
        "--set",
        "stages.0.hold=3s",
        "--export",
        "influxdb",
    ])
    .current_dir(dir.path())
    .env("DASHLOAD_EXPORT_URL", &url)
    .env("DASHLOAD_EXPORT_DATABASE", "dashload")
    .env_remove("DASHLOAD_TARGET_URL")
    .env_remove("DASHLOAD_TARGET_DATABASE")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let started = std::time::Instant::now();
    loop {
        if let Some(kb) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(180),
            "the run did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: export to InfluxDB failed:") && stderr.contains("500"),
        "{}",
        text(&out)
    );
    let sent_mb = sent.load(Ordering::Relaxed) >> 20;
    eprintln!(
        "peak RSS {} MiB; the destination sent {sent_mb} MiB",
        peak_kb >> 10
    );
    assert!(
        peak_kb < 300 * 1024,
        "peak RSS {} MiB reading a 512 MB error answer",
        peak_kb >> 10
    );
    assert!(sent_mb < 512, "the whole body was read ({sent_mb} MiB)");
}
