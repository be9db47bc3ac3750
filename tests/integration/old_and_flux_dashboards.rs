//! Old exports and Flux dashboards (issue 14, part B), on the fixtures written for
//! them (`tests/fixtures/dashboards/legacy-*.json`, `flux-*.json`):
//! - `check`'s output for each, held against a reviewed snapshot
//!   (`tests/fixtures/dashboards/snapshots/`; `DASHLOAD_UPDATE_SNAPSHOTS=1` rewrites them);
//! - the migrated Grafana 2 and 4 exports' InfluxQL accepted by a real influxd and
//!   answering the seeded data;
//! - Flux on an `influxdb1` target: listed as skipped by `check`, in `run.json`,
//!   `summary.json` and the report, never sent; a Flux-only dashboard exits 2
//!   before any request (counted on a loopback server);
//! - Flux on an `influxdb2` target (a recording loopback stand-in: Debian's
//!   influxd 1.6 has no `/api/v2/query`): panel and variable queries posted to
//!   `/api/v2/query` with every macro expanded, InfluxQL to `/query`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::any;
use axum::Router;
use dashload::scenario::Scenario;
use dashload::target::body::Body;
use dashload::target::{judge_query, Endpoints, QueryCall};
use dashload::workload::dashboard::{Trigger, View};

use crate::influxd::Influxd;
use crate::util::{dashload, root, text, workspace};

/// 2025-11-23T00:00:00Z: `check`'s queries in the snapshots are expanded at this instant.
const NOW: i64 = 1_763_856_000_000;

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/dashboards")
}

/// A workspace holding `dashboard` and a scenario over it for `target` (the
/// `[target]` lines); returns the scenario's path.
fn scenario(dir: &Path, dashboard: &str, target: &str) -> PathBuf {
    let dashboards = dir.join("scenarios/dashboards");
    std::fs::copy(fixtures().join(dashboard), dashboards.join(dashboard)).unwrap();
    std::fs::write(dir.join("scenarios/token"), "test-token-Qx7\n").unwrap();
    let text = format!(
        "name = \"import\"\nseed = 3\n[target]\n{target}\n[viewers]\ndashboard = \"dashboards/{dashboard}\"\n\
         refresh = \"2s\"\nrefreshes_per_visit = 2\nthink_time = \"1s..1s\"\n[sync]\nusers = 0\n\
         [[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"3s\"\n"
    );
    let path = dir.join("scenarios/import.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn influxdb1(url: &str) -> String {
    format!("kind = \"influxdb1\"\nurl = \"{url}\"\ndatabase = \"telegraf\"")
}

fn influxdb2(url: &str) -> String {
    format!(
        "kind = \"influxdb2\"\nurl = \"{url}\"\norg = \"acme\"\nbucket = \"telegraf\"\ntoken_file = \"token\""
    )
}

/// Six hours of Telegraf-like points, a minute apart, for hosts web1 and web2.
fn telegraf_lines(now_s: i64) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..360i64 {
        let t = now_s - 6 * 3600 + 60 + i * 60;
        for (h, host) in ["web1", "web2"].iter().enumerate() {
            let x = (i as f64 / 7.0).sin() * 10.0 + 30.0 + h as f64 * 5.0;
            out.push_str(&format!(
                "cpu,host={host},cpu=cpu-total usage_user={x:.2},usage_system={:.2},usage_idle={:.2} {t}\n\
                 mem,host={host} used_percent={:.2} {t}\n\
                 net,host={host},interface=eth0 bytes_recv={}i {t}\n\
                 disk,host={host},path=/ used_percent={:.2} {t}\n",
                x / 3.0,
                100.0 - x,
                x + 20.0,
                1_000_000 + i * 2048,
                55.0 + h as f64
            ));
        }
    }
    out.into_bytes()
}

/// Compare `actual` with a snapshot file; `DASHLOAD_UPDATE_SNAPSHOTS=1` writes it instead.
fn snapshot(name: &str, actual: &str) {
    crate::util::assert_snapshot(&fixtures().join("snapshots").join(name), actual);
}

#[test]
fn check_output_of_each_fixture_matches_its_reviewed_snapshot() {
    let cases = [
        ("legacy-grafana4-rows.json", "influxdb1"),
        ("legacy-grafana2.json", "influxdb1"),
        ("flux-mixed.json", "influxdb1"),
        ("flux-mixed.json", "influxdb2"),
        ("flux-only.json", "influxdb2"),
    ];
    for (dashboard, kind) in cases {
        let dir = workspace();
        let target = match kind {
            "influxdb1" => influxdb1("http://127.0.0.1:8086"),
            _ => influxdb2("http://127.0.0.1:8086"),
        };
        let path = scenario(dir.path(), dashboard, &target);
        let (s, _) =
            dashload::plan::validate_with(&path, &dashload::scenario::Overrides::none(), false)
                .unwrap_or_else(|e| panic!("{dashboard} on {kind}: {e}"));
        let shown = dashload::cli::check::describe(&s, NOW)
            .replace(&dir.path().display().to_string(), "<workspace>");
        let name = format!("{}.{kind}.txt", dashboard.trim_end_matches(".json"));
        snapshot(&name, &shown);
    }
    // The Flux-only dashboard on influxdb1: refused, and the message is reviewed too.
    let dir = workspace();
    let path = scenario(
        dir.path(),
        "flux-only.json",
        &influxdb1("http://127.0.0.1:8086"),
    );
    let Err(e) =
        dashload::plan::validate_with(&path, &dashload::scenario::Overrides::none(), false)
    else {
        panic!("a Flux-only dashboard on influxdb1 is refused");
    };
    let shown = format!("{e}\n").replace(&dir.path().display().to_string(), "<workspace>");
    snapshot("flux-only.influxdb1.txt", &shown);
}

#[test]
fn migrated_legacy_dashboards_query_real_influxdb_and_get_the_seeded_data() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    server.query("CREATE DATABASE telegraf", None, None);
    let now_s = chrono::Utc::now().timestamp();
    assert_eq!(server.write("telegraf", telegraf_lines(now_s)), 204);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let send = |endpoints: &Endpoints, q: &str, values: bool| {
        let call = QueryCall::InfluxQl(q);
        let (status, body) = runtime.block_on(async {
            let r = endpoints.query(&client, call).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap())
        });
        let judged = judge_query(
            status,
            &Body::from_bytes(&body, endpoints.reading(&call, values)),
            values,
        );
        assert!(judged.ok, "{q}: {:?}", judged.error);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (json, judged.values)
    };
    for dashboard in ["legacy-grafana4-rows.json", "legacy-grafana2.json"] {
        let dir = workspace();
        let path = scenario(dir.path(), dashboard, &influxdb1(&server.url));
        let s = Scenario::load(&path).unwrap();
        let endpoints = Endpoints::new(&s.target, None);
        let d = &s.viewers.as_ref().unwrap().dashboard;
        assert!(!d.migrated.is_empty(), "{dashboard} was migrated");
        let selections = d.saved_selections();
        let view = View::new(
            d,
            &d.time,
            chrono::Utc::now().timestamp_millis(),
            &selections,
        );
        for v in view.variable_requests(Trigger::Load) {
            let (_, values) = send(&endpoints, &v.influxql, true);
            assert_eq!(values, ["web1", "web2"], "{dashboard} {}", v.name);
        }
        let mut sent = 0;
        for request in view.panel_requests() {
            for q in &request.queries {
                let influxql = q.influxql.as_deref().unwrap();
                let (json, _) = send(&endpoints, influxql, false);
                let points = json
                    .pointer("/results/0/series")
                    .and_then(|s| s.as_array())
                    .map_or(0, |series| {
                        series
                            .iter()
                            .map(|s| s["values"].as_array().map_or(0, Vec::len))
                            .sum()
                    });
                assert!(
                    points > 0,
                    "{dashboard}: {} returned no data: {influxql}",
                    request.name
                );
                sent += 1;
            }
        }
        let expected = if dashboard.contains("grafana4") { 6 } else { 4 };
        assert_eq!(sent, expected, "{dashboard}: every panel query was sent");
    }
}

#[test]
fn flux_on_influxdb1_is_listed_as_skipped_and_never_sent() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    server.query("CREATE DATABASE telegraf", None, None);
    assert_eq!(
        server.write("telegraf", telegraf_lines(chrono::Utc::now().timestamp())),
        204
    );
    let dir = workspace();
    scenario(dir.path(), "flux-mixed.json", &influxdb1(&server.url));
    let out = dashload(dir.path(), &["check", "scenarios/import.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "  2 panels and 2 queries per load",
        "  skipped: \"CPU user (Flux)\" (id 1): Flux query: an influxdb1 target runs InfluxQL only (Flux needs InfluxDB 2.x's /api/v2/query)",
        "  skipped: \"Disk (mixed)\" (id 4): target A: Flux query: an influxdb1 target runs InfluxQL only",
        "  skipped: variable \"host\": Flux query: an influxdb1 target runs InfluxQL only",
    ] {
        assert!(shown.contains(line), "{line:?} in:\n{shown}");
    }

    let out = dashload(dir.path(), &["run", "scenarios/import.toml"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the run completes: {}",
        text(&out)
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let skipped: Vec<String> = summary["run"]["skipped"]
        .as_array()
        .expect("summary.json lists what was skipped")
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["what"].as_str().unwrap(),
                s["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(skipped[0].starts_with("\"CPU user (Flux)\" (id 1): Flux query: an influxdb1 target"));
    assert!(skipped[4].starts_with("variable \"host\": Flux query"));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["skipped"], summary["run"]["skipped"]);
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.contains("<section id=\"skipped\">"),
        "the report lists them"
    );
    assert!(html.contains("Memory (Flux)"));
    let requests = std::fs::read_to_string(run.join("requests.csv")).unwrap();
    assert!(
        requests.contains("panel CPU user (InfluxQL)"),
        "InfluxQL panels ran"
    );
    assert!(
        requests.contains("panel Disk (mixed)"),
        "the mixed panel's InfluxQL ran"
    );
    assert!(requests.contains("variable qlhost"));
    for never in ["(Flux)", "variable bucket", "variable host "] {
        assert!(!requests.contains(never), "{never} was never sent");
    }
}

/// A loopback server that counts every connection and answers 204.
struct Counter {
    url: String,
    seen: Arc<Mutex<u64>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Counter {
    fn start() -> Counter {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !st.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        *s.lock().unwrap() += 1;
                        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
                        let _ = conn.read(&mut [0u8; 4096]);
                        let _ =
                            conn.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Counter {
            url,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> u64 {
        *self.seen.lock().unwrap()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_flux_only_dashboard_on_influxdb1_exits_2_before_any_request() {
    let counter = Counter::start();
    let dir = workspace();
    scenario(dir.path(), "flux-only.json", &influxdb1(&counter.url));
    for command in ["check", "run"] {
        let out = dashload(dir.path(), &[command, "scenarios/import.toml"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no panel a load opens has a query the influxdb1 target can run")
                && err
                    .contains("\"CPU\" (id 1): Flux query: an influxdb1 target runs InfluxQL only"),
            "{command}: {err}"
        );
    }
    assert!(!dir.path().join("reports").exists(), "no run folder");
    assert_eq!(counter.seen(), 0, "nothing was sent");
}

/// What the InfluxDB 2.x stand-in was asked: `(method, path, query string, body)`.
type Seen = Arc<Mutex<Vec<(String, String, String, String)>>>;

async fn influxdb2_stand_in(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: String,
) -> axum::response::Response {
    let path = uri.path().to_string();
    seen.lock().unwrap().push((
        method.to_string(),
        path.clone(),
        query.clone().unwrap_or_default(),
        body.clone(),
    ));
    match path.as_str() {
        "/ping" => StatusCode::NO_CONTENT.into_response(),
        "/api/v2/buckets" => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"buckets":[{"name":"telegraf"}]}"#,
        )
            .into_response(),
        "/api/v2/query" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            ",result,table,_value\r\n,_result,0,web1\r\n,_result,0,web2\r\n\r\n",
        )
            .into_response(),
        "/query" => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","value"],"values":[[1763856000000,"web1"]]}]}]}"#,
        )
            .into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

#[test]
fn flux_panels_and_variables_go_to_api_v2_query_on_influxdb2_with_macros_expanded() {
    let seen: Seen = Arc::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new()
        .fallback(any(influxdb2_stand_in))
        .with_state(seen.clone());
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let dir = workspace();
    scenario(dir.path(), "flux-mixed.json", &influxdb2(&url));
    let out = dashload(dir.path(), &["run", "scenarios/import.toml"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));

    let seen = seen.lock().unwrap().clone();
    let flux: Vec<&(String, String, String, String)> =
        seen.iter().filter(|r| r.1 == "/api/v2/query").collect();
    let influxql: Vec<&(String, String, String, String)> =
        seen.iter().filter(|r| r.1 == "/query").collect();
    assert!(!flux.is_empty() && !influxql.is_empty(), "{seen:?}");
    let leftover = regex::Regex::new(r"\bv\.[A-Za-z]|\$__interval|\$\{?host").unwrap();
    for (method, _, query, body) in &flux {
        assert_eq!(method, "POST");
        assert_eq!(query, "org=acme");
        assert!(!leftover.is_match(body), "a macro left in: {body}");
    }
    let bodies: Vec<&str> = flux.iter().map(|r| r.3.as_str()).collect();
    // The two Flux variable queries, the three Flux panel targets.
    assert!(bodies.contains(&"buckets()"), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.starts_with(
        "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"telegraf\", tag: \"host\""
    )));
    for start in [
        "from(bucket: \"telegraf\")\n  |> range(start: 20",
        "import \"influxdata/influxdb/schema\"\n\nfrom(bucket: \"telegraf\")",
    ] {
        assert!(
            bodies.iter().any(|b| b.starts_with(start)),
            "{start:?} in {bodies:?}"
        );
    }
    assert!(bodies
        .iter()
        .any(|b| b.contains("aggregateWindow(every: ") && b.contains("fn: max)")));
    assert!(bodies
        .iter()
        .any(|b| b.contains("r.host == \"web1\"") || b.contains("r.host == \"web2\"")));
    // InfluxQL (the variable and panels of the InfluxQL data source) to /query, never Flux.
    for (_, _, query, body) in &influxql {
        let q: String = url::form_urlencoded::parse(query.as_bytes())
            .chain(url::form_urlencoded::parse(body.as_bytes()))
            .filter(|(k, _)| k == "q")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert!(
            q.starts_with("SELECT") || q.starts_with("SHOW"),
            "InfluxQL only on /query: {q:?}"
        );
    }
    drop(runtime);
}
