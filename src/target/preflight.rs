//! Preflight: before any user starts, the target answers, the credentials work and
//! the database (or dashboard) exists. Any failure is one line saying what and how
//! to fix it, and the run ends with exit code 4 having sent nothing else.

use std::time::Duration;

use reqwest::Client;

use super::{judge_query, Endpoints, QueryCall};
use crate::error::{Error, Result};
use crate::scenario::{Scenario, TargetKind};

/// Check the target before the run.
pub async fn preflight(endpoints: &Endpoints, scenario: &Scenario) -> Result<()> {
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(anyhow::Error::from)?;
    let base = endpoints.base().as_str().trim_end_matches('/').to_string();
    let unreachable = |what: String| Error::Unreachable(what);
    match endpoints.kind() {
        TargetKind::Grafana => {
            let r = send(endpoints.health(&client), &base).await?;
            if !r.0.is_success() {
                return Err(unreachable(format!(
                    "{base}/api/health answered {}: is this Grafana, and is its database up?",
                    r.0
                )));
            }
            if let Some(v) = &scenario.viewers {
                let uid = &v.dashboard.uid;
                let (status, _) = send(endpoints.dashboard(&client, uid), &base).await?;
                match status.as_u16() {
                    200 => {}
                    401 | 403 => return Err(unreachable(format!("Grafana at {base} refused the credentials ({status}): check token_env/token_file (a service-account token with Viewer role)"))),
                    404 => return Err(unreachable(format!("Grafana at {base} has no dashboard `{uid}`: import {} first", v.dashboard_path.display()))),
                    _ => return Err(unreachable(format!("Grafana at {base} answered {status} for dashboard `{uid}`"))),
                }
            }
            if let Some(w) = &scenario.target.write {
                let write = Endpoints::new(w, None);
                influx_checks(&write, &client).await?;
            }
        }
        TargetKind::Influxdb1 | TargetKind::Influxdb2 | TargetKind::Sandbox => {
            influx_checks(endpoints, &client).await?;
        }
    }
    Ok(())
}

async fn send(
    request: reqwest::RequestBuilder,
    base: &str,
) -> Result<(reqwest::StatusCode, Vec<u8>)> {
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
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Ok((status, body))
}

/// InfluxDB: `/ping`, then a query that needs the credentials and the database.
async fn influx_checks(endpoints: &Endpoints, client: &Client) -> Result<()> {
    let base = endpoints.base().as_str().trim_end_matches('/').to_string();
    let (status, _) = send(endpoints.ping(client), &base).await?;
    if !status.is_success() {
        return Err(Error::Unreachable(format!(
            "{base}/ping answered {status}: is this InfluxDB?"
        )));
    }
    let (status, body) = send(
        endpoints.query(client, QueryCall::InfluxQl("SHOW DATABASES")),
        &base,
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
