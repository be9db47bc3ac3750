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
pub async fn resolve_inputs(endpoints: &Endpoints, scenario: &mut Scenario) -> Result<()> {
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
    let listed = match endpoints.datasources(&client).send().await {
        Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
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
}
