//! The `trigger` sync source against a stand-in sync service on loopback: each sync
//! POSTs the trigger, polls the status until done, and records the whole run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use dashload::run::{run, RunOptions};
use dashload::runfolder::files;
use goose::config::GooseConfiguration;
use serde_json::{json, Value};

use crate::util::{workspace, ATTACK};

/// A sync service whose syncs take 300 ms.
#[derive(Clone, Default)]
struct Service {
    started: Arc<Mutex<Option<Instant>>>,
    triggers: Arc<AtomicU64>,
}

async fn trigger(State(s): State<Service>) -> Json<Value> {
    s.triggers.fetch_add(1, Ordering::SeqCst);
    *s.started.lock().unwrap() = Some(Instant::now());
    Json(json!({"id": s.triggers.load(Ordering::SeqCst)}))
}

async fn status(State(s): State<Service>) -> Json<Value> {
    let done = s
        .started
        .lock()
        .unwrap()
        .is_none_or(|t| t.elapsed() >= Duration::from_millis(300));
    Json(json!({"state": if done { "finished" } else { "running" }}))
}

#[test]
fn triggered_syncs_are_timed_from_trigger_to_done() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let service = Service::default();
    let url = runtime.block_on(async {
        let app = Router::new()
            .route("/api/sync", post(trigger))
            .route("/api/sync/status", get(status))
            .with_state(service.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });
    let dir = workspace();
    let scenario = format!(
        "[sync]\nsource = \"trigger\"\ntrigger_url = \"{url}\"\ntrigger_path = \"/api/sync\"\nstatus_path = \"/api/sync/status\"\n\
         status_field = \"state\"\ndone_value = \"finished\"\ninterval = \"1s\"\n[[stages]]\nusers = 0\nramp = \"0s\"\nhold = \"4s\"\n"
    );
    let path = dir.path().join("scenarios/trigger.toml");
    std::fs::write(&path, scenario).unwrap();
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = runtime.block_on(run(options)).expect("the run succeeds");
    let mut reader = csv::Reader::from_path(result.run_dir.join(files::REQUESTS)).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (name, success, ms) = (col("name"), col("success"), col("response_time"));
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let runs: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[name] == "sync run").collect();
    let triggers = rows.iter().filter(|r| &r[name] == "sync trigger").count() as u64;
    assert_eq!(
        triggers,
        service.triggers.load(Ordering::SeqCst),
        "every trigger the service saw was recorded"
    );
    assert!(runs.len() >= 2, "several syncs ran: {}", runs.len());
    for r in &runs {
        assert_eq!(&r[success], "true");
        let took: u64 = r[ms].parse().unwrap();
        assert!(
            took >= 300,
            "a sync takes the service's 300 ms at least, got {took}"
        );
    }
}
