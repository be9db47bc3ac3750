//! Grafana API subset: health, search, dashboards, `/api/ds/query` frames and errors.

use serde_json::{json, Value};

use super::{config, serve, DATA};
use crate::sandbox::http_grafana::parse_time;
use crate::sandbox::SandboxConfig;

fn dashboards() -> Vec<Value> {
    vec![
        json!({"dashboard": {"uid": "toggl-main", "title": "Toggl time", "tags": ["toggl"], "panels": []},
               "meta": {"folderUid": "f-ops", "folderTitle": "Ops", "folderId": 2}}),
        json!({"uid": "other", "title": "Other board", "tags": [], "panels": []}),
    ]
}

#[tokio::test]
async fn health_search_and_dashboards() {
    let s = serve(SandboxConfig {
        dashboards: dashboards(),
        ..config()
    })
    .await;
    let get = |path: &str| s.client.get(format!("{}{path}", s.url)).send();
    let health: Value = get("/api/health").await.unwrap().json().await.unwrap();
    assert_eq!(
        health,
        json!({"commit": "sandbox", "database": "ok", "version": "10.4.2"})
    );

    let all: Value = get("/api/search").await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["uid"], "toggl-main");
    assert_eq!(all[0]["url"], "/d/toggl-main/toggl-time");
    assert_eq!(all[0]["type"], "dash-db");
    assert_eq!(all[0]["folderUid"], "f-ops");
    let tagged: Value = get("/api/search?tag=toggl")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    let found: Value = get("/api/search?query=other")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found[0]["uid"], "other");

    let resp = get("/api/dashboards/uid/toggl-main").await.unwrap();
    assert_eq!(resp.status(), 200);
    let d: Value = resp.json().await.unwrap();
    assert_eq!(d["dashboard"]["title"], "Toggl time");
    assert_eq!(d["meta"]["folderUid"], "f-ops");
    assert_eq!(d["meta"]["url"], "/d/toggl-main/toggl-time");

    let resp = get("/api/dashboards/uid/missing").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Dashboard not found"})
    );
    let counters = s.state.counters();
    assert_eq!(counters.requests["GET /api/dashboards/uid/{uid}"], 2);
    assert_eq!(counters.requests["GET /api/search"], 3);
}

#[tokio::test]
async fn ds_query_expands_macros_and_answers_frames() {
    let s = serve(config()).await;
    s.write(DATA).await;
    let body = json!({
        "from": "0", "to": "7199000",
        "queries": [{
            "refId": "A", "rawQuery": true, "resultFormat": "time_series",
            "query": "SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE $timeFilter GROUP BY time($__interval), \"project\" fill(null)",
            "intervalMs": 3_600_000, "maxDataPoints": 1000,
        }]
    });
    let resp = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .header("Authorization", "Bearer glsa_whatever")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let a = &v["results"]["A"];
    assert_eq!(a["status"], 200);
    let frames = a["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    let f = &frames[0];
    assert_eq!(f["schema"]["name"], "time_entry.sum { project: A }");
    assert_eq!(f["schema"]["refId"], "A");
    assert_eq!(f["schema"]["fields"][0]["type"], "time");
    assert_eq!(f["schema"]["fields"][1]["labels"], json!({"project": "A"}));
    assert_eq!(
        f["schema"]["fields"][1]["config"]["displayNameFromDS"],
        "time_entry.sum { project: A }"
    );
    assert_eq!(f["data"]["values"], json!([[0, 3_600_000], [5400.0, null]]));
    assert_eq!(s.state.counters().requests["POST /api/ds/query"], 1);
}

#[tokio::test]
async fn query_builder_targets_are_rendered_like_grafanas_backend() {
    let s = serve(config()).await;
    s.write(DATA).await;
    // A builder-mode target as the browser sends it: fields, no query text.
    let builder = json!({
        "refId": "A", "measurement": "time_entry", "policy": "default", "resultFormat": "time_series",
        "select": [[{"type": "field", "params": ["duration_s"]}, {"type": "sum", "params": []}]],
        "groupBy": [{"type": "time", "params": ["$__interval"]}, {"type": "tag", "params": ["project"]}, {"type": "fill", "params": ["null"]}],
        "tags": [], "intervalMs": 3_600_000, "maxDataPoints": 1000,
    });
    let raw = json!({
        "refId": "B", "rawQuery": true,
        "query": "SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE $timeFilter GROUP BY time($__interval), \"project\" fill(null)",
        "intervalMs": 3_600_000, "maxDataPoints": 1000,
    });
    let body = json!({"from": "0", "to": "7199000", "queries": [builder, raw]});
    let resp = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["results"]["A"]["status"], 200, "{v}");
    // The builder's rendering answers exactly what the same raw query answers.
    let values = |r: &str| -> Vec<Value> {
        v["results"][r]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["data"]["values"].clone())
            .collect()
    };
    assert_eq!(values("A"), values("B"));
    assert_eq!(values("A").len(), 3);
}

#[tokio::test]
async fn any_failed_ref_id_makes_a_400_with_per_ref_id_errors() {
    let s = serve(config()).await;
    s.write(DATA).await;
    let body = json!({
        "from": "0", "to": "7199000",
        "queries": [
            {"refId": "A", "query": "SELECT count(\"duration_s\") FROM \"time_entry\" WHERE $timeFilter", "intervalMs": 60000},
            {"refId": "B", "query": "SELECT foo(\"duration_s\") FROM \"time_entry\""},
            {"refId": "C", "query": "SELECT FROM"},
        ]
    });
    let resp = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["results"]["A"]["status"], 200);
    assert_eq!(
        v["results"]["A"]["frames"][0]["data"]["values"],
        json!([[0], [5.0]])
    );
    assert_eq!(
        v["results"]["B"],
        json!({"error": "undefined function foo()", "status": 500})
    );
    assert_eq!(v["results"]["C"]["status"], 500);
    assert!(v["results"]["C"]["error"]
        .as_str()
        .unwrap()
        .starts_with("error parsing query: "));
}

#[tokio::test]
async fn variable_queries_tables_and_aliases() {
    let s = serve(config()).await;
    s.write(DATA).await;
    let body = json!({
        "from": "now-7d", "to": "now",
        "queries": [
            {"refId": "metricFindQuery", "query": "SHOW TAG VALUES FROM \"time_entry\" WITH KEY = \"project\""},
            {"refId": "T", "resultFormat": "table",
             "query": "SELECT \"user\", \"duration_s\" FROM \"time_entry\" WHERE time >= 0ms ORDER BY time DESC LIMIT 2"},
            {"refId": "L", "alias": "$m $col $tag_user",
             "query": "SELECT sum(\"duration_s\") AS \"total\" FROM \"time_entry\" WHERE time >= 0ms GROUP BY \"user\""},
        ]
    });
    let v: Value = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let var = &v["results"]["metricFindQuery"]["frames"][0];
    assert_eq!(var["schema"]["fields"][1]["name"], "value");
    assert_eq!(var["data"]["values"][1], json!(["A", "B", "C"]));
    let table = &v["results"]["T"]["frames"][0];
    let names: Vec<&str> = table["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Time", "user", "duration_s"]);
    assert_eq!(
        table["data"]["values"],
        json!([[4_000_000, 3_600_000], ["u1", "u1"], [900.0, 600.0]])
    );
    let aliased = &v["results"]["L"]["frames"];
    assert_eq!(aliased[0]["schema"]["name"], "time_entry total u1");
    assert_eq!(aliased[1]["schema"]["name"], "time_entry total u2");
}

#[test]
fn grafana_time_strings() {
    let now = 1_000_000_000;
    assert_eq!(parse_time(&json!("now"), now), Some(now));
    assert_eq!(parse_time(&json!("now-6h"), now), Some(now - 6 * 3_600_000));
    assert_eq!(
        parse_time(&json!("now-7d"), now),
        Some(now - 7 * 86_400_000)
    );
    assert_eq!(
        parse_time(&json!("1763251200000"), now),
        Some(1_763_251_200_000)
    );
    assert_eq!(
        parse_time(&json!(1763251200000i64), now),
        Some(1_763_251_200_000)
    );
    assert_eq!(
        parse_time(&json!("2025-11-16T00:00:00.000Z"), now),
        Some(1_763_251_200_000)
    );
    assert_eq!(parse_time(&json!("yesterday"), now), None);
    assert_eq!(parse_time(&json!("now-5q"), now), None);
}
