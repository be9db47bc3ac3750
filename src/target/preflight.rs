//! Preflight: before any user starts, the target answers, the credentials work and
//! the database (or dashboard) exists. Any failure is one line saying what and how
//! to fix it, and the run ends with exit code 4 having sent nothing else.

use std::time::Duration;

use reqwest::Client;

use super::body::{Body, Reading};
use super::outside_log::{OutsideLog, OTHER, PING, PREFLIGHT, QUERY};
use super::{judge_query, Endpoints, QueryCall};
use crate::error::{Error, Result};
use crate::scenario::{Scenario, TargetKind};

/// Check the target before the run, counting every call in `calls` (they are
/// not in the request log). What it says is redacted: a target may echo the
/// credentials it was sent. On a Grafana target, the `version` its
/// `/api/health` reports (when it reports one) is returned.
pub async fn preflight(
    endpoints: &Endpoints,
    scenario: &Scenario,
    calls: &OutsideLog,
) -> Result<Option<String>> {
    checks(endpoints, scenario, calls)
        .await
        .map_err(|e| match e {
            Error::Unreachable(m) => Error::Unreachable(crate::redact::redact(&m).into_owned()),
            other => other,
        })
}

async fn checks(
    endpoints: &Endpoints,
    scenario: &Scenario,
    calls: &OutsideLog,
) -> Result<Option<String>> {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(anyhow::Error::from)?;
    let base = endpoints.base().as_str().trim_end_matches('/').to_string();
    let unreachable = |what: String| Error::Unreachable(what);
    let mut version = None;
    match endpoints.kind() {
        TargetKind::Grafana => {
            let r = send(endpoints.health(&client), &base, calls, OTHER).await?;
            if !r.0.is_success() {
                return Err(unreachable(format!(
                    "{base}/api/health answered {}: is this Grafana, and is its database up?",
                    r.0
                )));
            }
            version = health_version(&r.1);
            if let Some(v) = &scenario.viewers {
                let uid = &v.dashboard.uid;
                let (status, _) =
                    send(endpoints.dashboard(&client, uid), &base, calls, OTHER).await?;
                match status.as_u16() {
                    200 => {}
                    401 | 403 => return Err(unreachable(format!("Grafana at {base} refused the credentials ({status}): check token_env/token_file (a service-account token with Viewer role)"))),
                    404 => return Err(unreachable(format!("Grafana at {base} has no dashboard `{uid}`: import {} first", v.dashboard_path.display()))),
                    _ => return Err(unreachable(format!("Grafana at {base} answered {status} for dashboard `{uid}`"))),
                }
            }
            if let Some(w) = &scenario.target.write {
                let write = Endpoints::new(w, None);
                influx_checks(&write, &client, calls).await?;
            }
        }
        TargetKind::Influxdb1 | TargetKind::Influxdb2 | TargetKind::Sandbox => {
            influx_checks(endpoints, &client, calls).await?;
        }
    }
    Ok(version)
}

/// The `version` of a Grafana `/api/health` answer: at most 64 characters
/// (it names a release; anything longer is not one), `None` otherwise.
pub fn health_version(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let version = v.get("version")?.as_str()?;
    // Printed in logs and `check`: a short, printable version only.
    (version.len() <= 64 && version.chars().all(|c| c.is_ascii_graphic()))
        .then(|| version.to_string())
}

async fn send(
    request: reqwest::RequestBuilder,
    base: &str,
    calls: &OutsideLog,
    kind: &'static str,
) -> Result<(reqwest::StatusCode, Vec<u8>)> {
    let (status, body) =
        send_reading(request, base, calls, kind, Reading::whole(PREFLIGHT_BODY)).await?;
    Ok((status, body.head().to_vec()))
}

/// The most of a preflight answer read (a health check, a bucket list, a dashboard).
pub const PREFLIGHT_BODY: u64 = 32 * 1024 * 1024;

async fn send_reading(
    request: reqwest::RequestBuilder,
    base: &str,
    calls: &OutsideLog,
    kind: &'static str,
    reading: Reading,
) -> Result<(reqwest::StatusCode, Body)> {
    calls.add(PREFLIGHT, kind, 1);
    let response = request.send().await.map_err(|e| {
        let why = if e.is_connect() {
            "connection refused or host unreachable".to_string()
        } else if e.is_timeout() {
            "no answer within 10s".to_string()
        } else {
            e.to_string()
        };
        Error::Unreachable(format!(
            "{base}: {why}: is the server running and the scenario's url right?"
        ))
    })?;
    let status = response.status();
    let body = super::body::read(response, reading)
        .await
        .unwrap_or_default();
    Ok((status, body))
}

/// InfluxDB: `/ping`, then a query that needs the credentials and the database.
async fn influx_checks(endpoints: &Endpoints, client: &Client, calls: &OutsideLog) -> Result<()> {
    let base = endpoints.base().as_str().trim_end_matches('/').to_string();
    let (status, _) = send(endpoints.ping(client), &base, calls, PING).await?;
    if !status.is_success() {
        return Err(Error::Unreachable(format!(
            "{base}/ping answered {status}: is this InfluxDB?"
        )));
    }
    if endpoints.kind() == TargetKind::Influxdb2 {
        return bucket_check(endpoints, client, &base, calls).await;
    }
    let call = QueryCall::InfluxQl("SHOW DATABASES");
    let (status, body) = send_reading(
        endpoints.query(client, call),
        &base,
        calls,
        QUERY,
        endpoints.reading(&call, true),
    )
    .await?;
    let judged = judge_query(status.as_u16(), &body, true);
    if status.as_u16() == 401 || status.as_u16() == 403 {
        return Err(Error::Unreachable(format!(
            "InfluxDB at {base} refused the credentials ({}): check username and password_env/password_file or token_env/token_file",
            judged.error.unwrap_or_default()
        )));
    }
    if !judged.ok {
        return Err(Error::Unreachable(format!(
            "InfluxDB at {base}: {}",
            judged.error.unwrap_or_default()
        )));
    }
    let database = endpoints.database();
    if !judged.values.iter().any(|d| d == database) {
        return Err(Error::Unreachable(format!(
            "InfluxDB at {base} has no database `{database}`: create it (CREATE DATABASE \"{database}\") or fix `database` in the scenario"
        )));
    }
    Ok(())
}

/// InfluxDB 2.x: the bucket exists in the org and the token may read it.
async fn bucket_check(
    endpoints: &Endpoints,
    client: &Client,
    base: &str,
    calls: &OutsideLog,
) -> Result<()> {
    let bucket = endpoints.database();
    let (status, body) = send(endpoints.bucket_lookup(client), base, calls, OTHER).await?;
    match status.as_u16() {
        200 => {}
        401 | 403 => {
            return Err(Error::Unreachable(format!(
                "InfluxDB at {base} refused the token ({status}): check token_env/token_file (an API token with read and write access to `{bucket}`)"
            )))
        }
        404 => {
            return Err(Error::Unreachable(format!(
                "InfluxDB at {base} has no such organisation: check `org` in the scenario ({})",
                String::from_utf8_lossy(&body).trim()
            )))
        }
        _ => return Err(Error::Unreachable(format!("InfluxDB at {base} answered {status} for the bucket lookup"))),
    }
    let found = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let buckets = v.get("buckets")?.as_array()?;
            Some(
                buckets
                    .iter()
                    .any(|b| b.get("name").and_then(|n| n.as_str()) == Some(bucket)),
            )
        })
        .unwrap_or(false);
    if !found {
        return Err(Error::Unreachable(format!(
            "InfluxDB at {base} has no bucket `{bucket}` in this organisation: create it (influx bucket create -n {bucket}) or fix `bucket`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The InfluxDB 2.x preflight against a fixture server on loopback that answers
    //! as InfluxDB 2.x's API docs show (`/ping`, `/api/v2/buckets`).

    use axum::extract::Query;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::get;
    use axum::{Json, Router};
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn a_reported_version_is_short_printable_text_or_nothing() {
        assert_eq!(
            health_version(br#"{"version":"11.3.0"}"#).as_deref(),
            Some("11.3.0")
        );
        // A target's answer reaches logs and `check`: no control characters,
        // no escape sequences, nothing long.
        assert_eq!(health_version(b"{\"version\":\"11.3\\n\\u001b[2J\"}"), None);
        assert_eq!(
            health_version(format!("{{\"version\":\"{}\"}}", "9".repeat(65)).as_bytes()),
            None
        );
        assert_eq!(health_version(b"{\"version\":7}"), None);
    }

    async fn buckets(
        headers: HeaderMap,
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Token good-token") {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"code": "unauthorized", "message": "unauthorized access"})),
            );
        }
        if q.get("org").map(String::as_str) != Some("acme") {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"code": "not found", "message": "organization name \"x\" not found"})),
            );
        }
        let found: Vec<Value> = ["toggl"]
            .iter()
            .filter(|b| q.get("name").map(String::as_str) == Some(**b))
            .map(|b| json!({"id": "0a1b", "name": b, "orgID": "c0ffee"}))
            .collect();
        (StatusCode::OK, Json(json!({"buckets": found})))
    }

    async fn fixture() -> String {
        let app = Router::new()
            .route("/ping", get(|| async { StatusCode::NO_CONTENT }))
            .route("/api/v2/buckets", get(buckets));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    async fn check(url: &str, bucket: &str, token: &str) -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), token).unwrap();
        let text = format!("[target]\nkind = \"influxdb2\"\nurl = \"{url}\"\norg = \"acme\"\nbucket = \"{bucket}\"\ntoken_file = \"token\"\n[sync]\nusers = 0\n");
        let scenario = Scenario::parse(&text, &dir.path().join("s.toml")).unwrap();
        let endpoints = Endpoints::new(&scenario.target, None);
        preflight(&endpoints, &scenario, &OutsideLog::default())
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn grafana_preflight_checks_health_and_the_dashboard() {
        // The sandbox speaks Grafana's API: a grafana target pointed at it.
        let dashboard: Value = serde_json::from_str(
            &std::fs::read_to_string("scenarios/dashboards/toggl-overview.json").unwrap(),
        )
        .unwrap();
        let config = crate::sandbox::SandboxConfig {
            seed_days: 0,
            dashboards: vec![dashboard],
            ..Default::default()
        };
        let sandbox = crate::sandbox::Sandbox::start(config).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dashboards")).unwrap();
        let export = std::fs::read_to_string("scenarios/dashboards/toggl-overview.json").unwrap();
        std::fs::write(dir.path().join("dashboards/ok.json"), &export).unwrap();
        std::fs::write(
            dir.path().join("dashboards/missing.json"),
            export.replace("\"uid\": \"toggl-overview\"", "\"uid\": \"not-imported\""),
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), "glsa_test").unwrap();
        for (file, expect) in [
            ("ok.json", None),
            ("missing.json", Some("has no dashboard `not-imported`")),
        ] {
            let text = format!(
                "[target]\nkind = \"grafana\"\nurl = \"{url}\"\ntoken_file = \"token\"\n[target.write]\nkind = \"influxdb1\"\nurl = \"{url}\"\n[viewers]\ndashboard = \"dashboards/{file}\"\n",
                url = sandbox.url()
            );
            let scenario = Scenario::parse(&text, &dir.path().join("s.toml")).unwrap();
            let endpoints = Endpoints::new(&scenario.target, None);
            match (
                preflight(&endpoints, &scenario, &OutsideLog::default()).await,
                expect,
            ) {
                // The version `/api/health` reports decides the rules emulated.
                (Ok(version), None) => assert_eq!(
                    version.as_deref(),
                    Some(crate::sandbox::http_grafana::GRAFANA_VERSION)
                ),
                (Err(e), Some(want)) => assert!(e.to_string().contains(want), "{e}"),
                (got, want) => panic!("{file}: got {got:?}, wanted {want:?}"),
            }
        }
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn influxdb2_preflight_checks_token_and_bucket() {
        let url = fixture().await;
        check(&url, "toggl", "good-token")
            .await
            .expect("a good token and an existing bucket pass");
        let e = check(&url, "toggl", "bad-token").await.unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::UNREACHABLE);
        assert!(
            e.to_string()
                .contains("refused the token (401 Unauthorized)"),
            "{e}"
        );
        assert!(
            !e.to_string().contains("bad-token"),
            "the token never shows: {e}"
        );
        let e = check(&url, "nope", "good-token").await.unwrap_err();
        assert!(e.to_string().contains("has no bucket `nope`"), "{e}");
    }
}
