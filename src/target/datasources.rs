//! Binding a dashboard export's `__inputs` (`${DS_INFLUXDB}`) to the target
//! Grafana's data sources, so no request names a placeholder: Grafana would
//! answer every panel query with "data source not found".
//!
//! Order: `datasource_uid` (one uid for all) wins; then `[target.datasources]`;
//! what is still open is looked up in `GET /api/datasources` as Grafana's import
//! offers it (`public/app/features/manage-dashboards/state/actions.ts`
//! `getDataSourceOptions`: the data sources whose `type` is the input's
//! `pluginId`). One candidate is taken; of several, the one named as the input's
//! `label` (the exporting Grafana's name). Anything else ends the run with
//! exit 2, naming the input, before any load is sent.

use std::collections::BTreeMap;

use reqwest::Client;
use serde_json::Value;

use super::Endpoints;
use crate::error::{Error, Result};
use crate::scenario::{Scenario, TargetKind};
use crate::workload::dashboard::DatasourceInput;

/// Fill `scenario.target.datasources` for every placeholder the dashboard still uses.
pub async fn resolve_inputs(
    endpoints: &Endpoints,
    scenario: &mut Scenario,
    calls: &super::outside_log::OutsideLog,
) -> Result<()> {
    let target = &scenario.target;
    let Some(viewers) = &scenario.viewers else {
        return Ok(());
    };
    if target.kind != TargetKind::Grafana || target.datasource_uid.is_some() {
        return Ok(());
    }
    let open: Vec<String> = viewers
        .dashboard
        .unbound_inputs()
        .into_iter()
        .filter(|n| !target.datasources.contains_key(n))
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let source = viewers.dashboard_path.display().to_string();
    let base = endpoints.base().as_str().trim_end_matches('/').to_string();
    let fail = |name: &str, why: String| {
        Error::config(
            &source,
            format!(
                "dashboard input `{name}` is not bound to a Grafana data source: {why}; \
                 add `[target.datasources] {name} = \"<uid>\"` or `datasource_uid` to the scenario"
            ),
        )
    };
    let client = Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(anyhow::Error::from)?;
    // Counted like the preflight's calls: the server sees it, the request log does not.
    calls.add(super::outside_log::PREFLIGHT, super::outside_log::OTHER, 1);
    let listed = match endpoints.datasources(&client).send().await {
        // Read bounded, as every answer is (a listing past max_body is not one).
        Ok(r) if r.status().is_success() => {
            let reading = super::body::Reading::whole(endpoints.max_body());
            super::body::read(r, reading)
                .await
                .ok()
                .and_then(|b| b.whole().and_then(|w| serde_json::from_slice(w).ok()))
        }
        Ok(r) => {
            let why = format!(
                "{base}/api/datasources answered {} (listing data sources needs datasources:read)",
                r.status()
            );
            return Err(fail(&open[0], why));
        }
        Err(_) => {
            return Err(fail(
                &open[0],
                format!("{base}/api/datasources did not answer"),
            ))
        }
    };
    let listed: Vec<Listed> = listed
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Listed::from_json)
        .collect();
    let mut found = BTreeMap::new();
    for name in &open {
        let input = viewers.dashboard.inputs.iter().find(|i| &i.name == name);
        let Some(input) = input else {
            return Err(fail(
                name,
                "the export's __inputs does not describe it".into(),
            ));
        };
        let uid = pick(input, &listed).map_err(|why| fail(name, why))?;
        found.insert(name.clone(), uid);
    }
    scenario.target.datasources.extend(found);
    Ok(())
}

/// One entry of `/api/datasources` (only what matching needs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    uid: String,
    name: String,
    kind: String,
}

impl Listed {
    fn from_json(v: &Value) -> Option<Listed> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Listed {
            uid: text("uid")?,
            name: text("name").unwrap_or_default(),
            kind: text("type")?,
        })
    }
}

/// The uid for `input` among `listed`, or why there is none.
fn pick(input: &DatasourceInput, listed: &[Listed]) -> std::result::Result<String, String> {
    let of_type: Vec<&Listed> = listed
        .iter()
        .filter(|d| d.kind == input.plugin_id)
        .collect();
    match of_type.as_slice() {
        [] => Err(format!(
            "Grafana has no data source of type `{}`",
            input.plugin_id
        )),
        [only] => Ok(only.uid.clone()),
        several => match several.iter().find(|d| d.name == input.label) {
            Some(d) => Ok(d.uid.clone()),
            None => {
                let names: Vec<String> = several
                    .iter()
                    .map(|d| format!("{:?} ({})", d.name, d.uid))
                    .collect();
                Err(format!(
                    "Grafana has {} data sources of type `{}` and none is named {:?}: {}",
                    several.len(),
                    input.plugin_id,
                    input.label,
                    names.join(", ")
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(uid: &str, name: &str, kind: &str) -> Listed {
        Listed {
            uid: uid.into(),
            name: name.into(),
            kind: kind.into(),
        }
    }

    fn input(label: &str) -> DatasourceInput {
        DatasourceInput {
            name: "DS_INFLUXDB".into(),
            plugin_id: "influxdb".into(),
            label: label.into(),
        }
    }

    #[test]
    fn the_only_data_source_of_the_type_is_taken() {
        let all = [
            listed("p1", "Prom", "prometheus"),
            listed("i1", "Influx prod", "influxdb"),
        ];
        assert_eq!(pick(&input("InfluxDB"), &all), Ok("i1".into()));
    }

    #[test]
    fn of_several_the_one_named_as_the_label_is_taken() {
        let all = [
            listed("i1", "Influx A", "influxdb"),
            listed("i2", "InfluxDB", "influxdb"),
        ];
        assert_eq!(pick(&input("InfluxDB"), &all), Ok("i2".into()));
        let err = pick(&input("Other"), &all).unwrap_err();
        assert_eq!(
            err,
            "Grafana has 2 data sources of type `influxdb` and none is named \"Other\": \"Influx A\" (i1), \"InfluxDB\" (i2)"
        );
    }

    #[test]
    fn no_data_source_of_the_type_is_an_error() {
        let all = [listed("p1", "InfluxDB", "prometheus")];
        assert_eq!(
            pick(&input("InfluxDB"), &all),
            Err("Grafana has no data source of type `influxdb`".into())
        );
    }

    fn scenario(dir: &std::path::Path, url: &str, extra: &str) -> crate::Result<Scenario> {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dashboards/grafana11-builtins.json"
        );
        std::fs::write(dir.join("token"), "glsa_test").unwrap();
        let text = format!(
            "[target]\nkind = \"grafana\"\nurl = \"{url}\"\ntoken_file = \"token\"\n{extra}[viewers]\ndashboard = \"{fixture}\"\n[sync]\nusers = 0\n"
        );
        Scenario::parse(&text, &dir.join("s.toml"))
    }

    #[tokio::test]
    async fn inputs_resolve_from_the_sandbox_grafana_over_http_or_the_scenario() {
        let config = crate::sandbox::SandboxConfig {
            seed_days: 0,
            ..Default::default()
        };
        let sandbox = crate::sandbox::Sandbox::start(config).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut s = scenario(dir.path(), &sandbox.url(), "").unwrap();
        let endpoints = Endpoints::new(&s.target, None);
        let calls = crate::target::outside_log::OutsideLog::default();
        resolve_inputs(&endpoints, &mut s, &calls).await.unwrap();
        assert_eq!(
            calls.snapshot()["preflight"]["other"],
            1,
            "the lookup is one HTTP call outside the request log"
        );
        let uid = crate::sandbox::http_grafana::DATASOURCE_UID;
        assert_eq!(
            s.target.datasources,
            [("DS_TOGGL".to_string(), uid.to_string())].into()
        );
        // A scenario mapping wins and needs no lookup.
        let extra = "[target.datasources]\nDS_TOGGL = \"mine\"\n";
        let mut s = scenario(dir.path(), &sandbox.url(), extra).unwrap();
        let calls = crate::target::outside_log::OutsideLog::default();
        resolve_inputs(&endpoints, &mut s, &calls).await.unwrap();
        assert_eq!(s.target.datasources["DS_TOGGL"], "mine");
        assert!(calls.snapshot().is_empty(), "no lookup, no call");
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn an_unresolvable_input_is_exit_2_naming_it() {
        use axum::{routing::get, Json, Router};
        let app = Router::new().route(
            "/api/datasources",
            get(|| async {
                Json(serde_json::json!([{"uid": "p", "name": "Prom", "type": "prometheus"}]))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let mut s = scenario(dir.path(), &url, "").unwrap();
        let endpoints = Endpoints::new(&s.target, None);
        let e = resolve_inputs(&endpoints, &mut s, &Default::default())
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        let msg = e.to_string();
        assert!(
            msg.contains("dashboard input `DS_TOGGL` is not bound"),
            "{msg}"
        );
        assert!(
            msg.contains("Grafana has no data source of type `influxdb`"),
            "{msg}"
        );
        assert!(!msg.contains("glsa_test"), "no secret in errors: {msg}");
    }

    #[test]
    fn scenario_datasources_are_validated_with_their_location() {
        let dir = tempfile::tempdir().unwrap();
        let extra = "[target.datasources]\nDS_NOPE = \"x\"\n";
        let e = scenario(dir.path(), "http://127.0.0.1:1", extra).unwrap_err();
        assert!(e.to_string().contains("s.toml:6:1"), "{e}");
        assert!(
            e.to_string().contains(
                "`DS_NOPE` is not a data-source input (__inputs) of the dashboard: it has DS_TOGGL"
            ),
            "{e}"
        );
        let extra = "[target.datasources]\nDS_TOGGL = \" \"\n";
        let e = scenario(dir.path(), "http://127.0.0.1:1", extra).unwrap_err();
        assert!(
            e.to_string()
                .contains("data source uid for `DS_TOGGL` is empty"),
            "{e}"
        );
    }
}
