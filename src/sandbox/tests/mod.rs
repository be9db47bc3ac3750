//! HTTP-level tests: a real server on 127.0.0.1:0 per test, driven with reqwest.

mod capacity;
mod grafana;
mod influx;
mod limits;
mod toggl;

use std::time::Duration;

use super::{router, CapacityConfig, SandboxConfig, SandboxState};

/// Five entries over two hours (precision s); see `influxql/tests.rs` for the table.
pub(super) const DATA: &str = "\
time_entry,project=A,user=u1 duration_s=3600i,billable_s=3600i,description=\"a1\" 0
time_entry,project=A,user=u2 duration_s=1800i,billable_s=0i,description=\"a2\" 600
time_entry,project=B,user=u1 duration_s=7200i,billable_s=7200i,description=\"b1\" 1200
time_entry,project=B,user=u1 duration_s=600i,billable_s=0i,description=\"b2\" 3600
time_entry,project=C,user=u1 duration_s=900i,billable_s=900i,description=\"c1\" 4000
";

/// `base` + `path` with `params` URL-encoded (reqwest's `query` needs a feature we do not enable).
pub(super) fn url(base: &str, path: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{base}{path}")).unwrap();
    u.query_pairs_mut().extend_pairs(params);
    u.to_string()
}

/// A server for one test; stops when dropped.
pub(super) struct TestServer {
    pub url: String,
    pub state: SandboxState,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A test configuration: nothing seeded, no modelled service time.
pub(super) fn config() -> SandboxConfig {
    SandboxConfig {
        seed_days: 0,
        capacity: CapacityConfig::unthrottled(),
        ..SandboxConfig::default()
    }
}

pub(super) async fn serve(config: SandboxConfig) -> TestServer {
    let state = SandboxState::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    TestServer {
        url,
        state,
        client,
        task,
    }
}

impl TestServer {
    /// Write `body` (line protocol, precision s) into `toggl`; asserts 204.
    pub async fn write(&self, body: &str) {
        let resp = self
            .client
            .post(format!("{}/write?db=toggl&precision=s", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    }

    /// `GET /query?db=toggl&epoch=ms&q=…` → (status, JSON).
    pub async fn query(&self, q: &str) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .get(url(
                &self.url,
                "/query",
                &[("db", "toggl"), ("epoch", "ms"), ("q", q)],
            ))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }
}
