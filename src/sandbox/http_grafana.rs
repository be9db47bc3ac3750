//! Grafana HTTP subset: `/api/health`, `/api/search`, `/api/dashboards/uid/{uid}`,
//! `/api/library-elements/{uid}` (from the exports' `__elements`),
//! `/api/datasources` (the one InfluxDB data source) and `/api/ds/query` for
//! InfluxQL targets (DOMAIN.md §1.2–1.5).
//!
//! `/api/ds/query` does what Grafana's backend does for an InfluxDB data source: expands
//! the backend macros (`$timeFilter`, `$__interval`, … via [`crate::workload::macros`]),
//! runs each refId's statements against the configured database (one query-pool job per
//! refId, as Grafana sends one InfluxDB request per query), and answers data frames with
//! columnar values: one frame per series and value column for `time_series`, one frame per
//! series for `table`, one frame of string columns for `SHOW` results. Any refId failing
//! turns the status into 400 with `{"error":…,"status":500}` for that refId; a full
//! query pool answers 503 with `Retry-After: 1`. Any or no `Authorization` is accepted.
//! A query naming an unbound `${DS_…}` placeholder as its data source is answered
//! 404, as Grafana answers an unknown data source, so a client that forgot to bind
//! an export's `__inputs` is caught.
//! Builder-mode targets (no `query` text) are refused per refId: the client renders them.
//! A body over [`MAX_DS_QUERY_BODY_BYTES`] answers 413, more than [`MAX_DS_QUERIES`]
//! queries 400, both as `{"message": …}`.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::influxql::{self, SeriesOut, Val};
use super::state::now_ns;
use super::SandboxState;
use crate::workload::dashboard::builder;
use crate::workload::dashboard::template::Scope;
use crate::workload::dashboard::timerange::TimeExpr;
use crate::workload::dashboard::Selections;
use crate::workload::macros::{self, MacroContext};

/// The version `/api/health` reports.
pub const GRAFANA_VERSION: &str = "10.4.2";

/// The uid of the sandbox's one data source in `/api/datasources`.
pub const DATASOURCE_UID: &str = "sandbox-influxdb";

/// The Grafana routes.
pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/api/health", get(health).head(health))
        .route("/api/search", get(search))
        .route("/api/dashboards/uid/{uid}", get(dashboard))
        .route("/api/library-elements/{uid}", get(library_element))
        .route("/api/datasources", get(datasources))
        .route("/api/ds/query", post(ds_query))
}

/// `GET /api/datasources`: the InfluxDB data source (fields as Grafana lists them).
async fn datasources(State(state): State<SandboxState>) -> Json<Value> {
    Json(json!([{
        "id": 1, "uid": DATASOURCE_UID, "orgId": 1, "name": "InfluxDB", "type": "influxdb",
        "typeName": "InfluxDB", "access": "proxy", "url": "", "database": state.config().database,
        "basicAuth": false, "isDefault": true, "readOnly": false
    }]))
}

async fn health() -> Json<Value> {
    Json(json!({"commit": "sandbox", "database": "ok", "version": GRAFANA_VERSION}))
}

/// A configured dashboard: the dashboard model and its `meta`.
struct Dash<'a> {
    index: usize,
    uid: String,
    dashboard: &'a Value,
    meta: Option<&'a Value>,
}

fn dashboards(state: &SandboxState) -> Vec<Dash<'_>> {
    state
        .config()
        .dashboards
        .iter()
        .enumerate()
        .map(|(index, v)| {
            let (dashboard, meta) = match v.get("dashboard") {
                Some(d) if d.is_object() => (d, v.get("meta")),
                _ => (v, None),
            };
            let uid = dashboard["uid"]
                .as_str()
                .map_or_else(|| format!("dash-{}", index + 1), str::to_string);
            Dash {
                index,
                uid,
                dashboard,
                meta,
            }
        })
        .collect()
}

fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

impl Dash<'_> {
    fn title(&self) -> &str {
        self.dashboard["title"].as_str().unwrap_or("")
    }

    fn url(&self) -> String {
        format!("/d/{}/{}", self.uid, slug(self.title()))
    }

    fn meta_str(&self, key: &str) -> Value {
        self.meta
            .and_then(|m| m.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn search_hit(&self) -> Value {
        let folder_uid = self.meta_str("folderUid");
        json!({
            "id": self.index + 1,
            "uid": self.uid,
            "title": self.title(),
            "url": self.url(),
            "type": "dash-db",
            "tags": self.dashboard.get("tags").cloned().unwrap_or(json!([])),
            "isStarred": false,
            "folderId": self.meta.and_then(|m| m.get("folderId")).cloned().unwrap_or(json!(0)),
            "folderUid": if folder_uid.is_null() { json!("") } else { folder_uid },
            "folderTitle": self.meta.and_then(|m| m.get("folderTitle")).cloned().unwrap_or(json!("General")),
            "folderUrl": self.meta_str("folderUrl"),
        })
    }
}

async fn search(
    State(state): State<SandboxState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Json<Value> {
    fn values<'p>(
        params: &'p [(String, String)],
        k: &'static str,
    ) -> impl Iterator<Item = &'p str> {
        params
            .iter()
            .filter(move |(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    let get = |k: &'static str| values(&params, k);
    let text = get("query").next().unwrap_or("").to_lowercase();
    let tags: Vec<&str> = get("tag").collect();
    let uids: Vec<&str> = get("dashboardUIDs").flat_map(|v| v.split(',')).collect();
    let folders_only = get("type").any(|t| t == "dash-folder");
    let limit = get("limit")
        .next()
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 5000);
    let page = get("page")
        .next()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    if folders_only {
        return Json(json!([]));
    }
    let hits: Vec<Value> = dashboards(&state)
        .iter()
        .filter(|d| d.title().to_lowercase().contains(&text))
        .filter(|d| uids.is_empty() || uids.contains(&d.uid.as_str()))
        .filter(|d| {
            tags.iter().all(|t| {
                d.dashboard["tags"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(t)))
            })
        })
        .skip((page - 1) * limit)
        .take(limit)
        .map(Dash::search_hit)
        .collect();
    Json(Value::Array(hits))
}

async fn dashboard(State(state): State<SandboxState>, Path(uid): Path<String>) -> Response {
    let all = dashboards(&state);
    let Some(d) = all.iter().find(|d| d.uid == uid) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "Dashboard not found"})),
        )
            .into_response();
    };
    let mut meta = match d.meta {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    meta.entry("url").or_insert(json!(d.url()));
    meta.entry("slug").or_insert(json!(slug(d.title())));
    meta.entry("isStarred").or_insert(json!(false));
    meta.entry("canSave").or_insert(json!(true));
    meta.entry("folderUid").or_insert(json!(""));
    Json(json!({"dashboard": d.dashboard, "meta": meta})).into_response()
}

/// `GET /api/library-elements/{uid}`: a library panel from the configured
/// exports' `__elements`, in Grafana's `{result: {uid, name, kind, model}}`.
async fn library_element(State(state): State<SandboxState>, Path(uid): Path<String>) -> Response {
    let config = state.config();
    let found = config.dashboards.iter().find_map(|export| {
        let elements = export
            .get("__elements")
            .or_else(|| export.pointer("/dashboard/__elements"))?;
        elements.get(&uid).cloned()
    });
    match found {
        Some(e) => Json(json!({"result": {
            "uid": uid, "name": e["name"], "kind": e["kind"], "type": e["type"], "model": e["model"], "version": 1
        }}))
        .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "library element could not be found"})),
        )
            .into_response(),
    }
}

/// `now`, `now-6h`, `now+1d`, epoch-ms (string or number), or RFC 3339 → epoch ms.
pub fn parse_time(v: &Value, now_ms: i64) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    // The same time syntax the dashboard viewers write (`now-6h`, `now/d`, epoch ms, RFC 3339).
    TimeExpr::parse(v.as_str()?)
        .ok()
        .map(|t| t.resolve(now_ms, false))
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"message": msg, "messageId": "sandbox.badRequest", "statusCode": 400})),
    )
        .into_response()
}

/// The InfluxQL of one `/api/ds/query` target, as Grafana's backend builds it: the
/// raw `query`, or the query-builder fields rendered (variables were already
/// interpolated by the browser; backend macros are expanded by the caller).
fn target_query(q: &Value, from_ms: i64, to_ms: i64, interval_ms: u64) -> Result<String, String> {
    let raw = q["rawQuery"].as_bool().unwrap_or(false) || q.get("select").is_none();
    if raw {
        return q["query"]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| "query is empty".to_string());
    }
    let template = builder::render(q, &[])?;
    let selections = Selections(Vec::new());
    let scope = Scope {
        variables: &[],
        selections: &selections,
        from_ms,
        to_ms,
        interval_ms,
        dashboard_uid: "",
        dashboard_title: "",
        // Grafana's backend: its macros stay for `macros::expand`.
        grafana: crate::workload::dashboard::GrafanaVersion::NEWEST,
        raw_range: None,
        scoped: &[],
        globals: &Default::default(),
    };
    Ok(template.render(&scope))
}

/// Largest `/api/ds/query` body (axum's default, now answered in Grafana's shape).
pub const MAX_DS_QUERY_BODY_BYTES: usize = 2 << 20;

/// Most queries (refIds) in one `/api/ds/query`: each runs a pool job, so one
/// request must not queue thousands (a panel has a handful of targets).
pub const MAX_DS_QUERIES: usize = 100;

async fn ds_query(State(state): State<SandboxState>, body: axum::body::Body) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_DS_QUERY_BODY_BYTES).await else {
        let msg = "request body too large";
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({"message": msg, "messageId": "sandbox.tooLarge", "statusCode": 413})),
        )
            .into_response();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("bad request data");
    };
    let now_ms = now_ns() / 1_000_000;
    let from = match body.get("from") {
        None => Some(now_ms - 6 * 3_600_000),
        Some(v) => parse_time(v, now_ms),
    };
    let to = match body.get("to") {
        None => Some(now_ms),
        Some(v) => parse_time(v, now_ms),
    };
    let (Some(from_ms), Some(to_ms)) = (from, to) else {
        return bad_request("invalid time range: from/to must be epoch ms, now or now-<n><unit>");
    };
    let Some(queries) = body.get("queries").and_then(Value::as_array) else {
        return bad_request("queries is required");
    };
    if queries.len() > MAX_DS_QUERIES {
        return bad_request(&format!(
            "too many queries ({}, at most {MAX_DS_QUERIES})",
            queries.len()
        ));
    }
    let placeholder = queries.iter().find_map(|q| {
        let uid = q.pointer("/datasource/uid").and_then(Value::as_str)?;
        uid.starts_with("${").then_some(uid)
    });
    if let Some(uid) = placeholder {
        let msg = format!("data source not found: {uid}");
        return (StatusCode::NOT_FOUND, Json(json!({"message": msg}))).into_response();
    }
    let db = state.config().database.clone();
    let mut results = Map::new();
    let mut any_error = false;
    for q in queries {
        let ref_id = q["refId"].as_str().unwrap_or("A").to_string();
        let interval_ms = q["intervalMs"].as_u64().filter(|&i| i > 0).unwrap_or(1000);
        let answer = match target_query(q, from_ms, to_ms, interval_ms) {
            Err(e) => Err(e),
            Ok(text) => {
                let ctx = MacroContext {
                    from_ms,
                    to_ms,
                    interval_ms,
                };
                let expanded = macros::expand(&text, &ctx);
                match influxql::parse_query(&expanded) {
                    Err(e) => Err(format!("error parsing query: {}", e.message)),
                    Ok(stmts) => match state
                        .run_statements(Some(db.clone()), &expanded, stmts)
                        .await
                    {
                        Err(_) => {
                            let mut resp = (
                                StatusCode::SERVICE_UNAVAILABLE,
                                Json(json!({"message": "sandbox overloaded: query queue full", "status": 503})),
                            )
                                .into_response();
                            resp.headers_mut()
                                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                            return resp;
                        }
                        Ok(out) => frames(&ref_id, q, &out),
                    },
                }
            }
        };
        let entry = match answer {
            Ok(frames) => json!({"status": 200, "frames": frames}),
            Err(e) => {
                any_error = true;
                json!({"error": e, "status": 500})
            }
        };
        results.insert(ref_id, entry);
    }
    let status = if any_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Json(json!({"results": results}))).into_response()
}

/// The frames of one refId, or its first statement error.
fn frames(ref_id: &str, q: &Value, out: &influxql::QueryOutput) -> Result<Vec<Value>, String> {
    let table = q["resultFormat"].as_str() == Some("table");
    let alias = q["alias"].as_str().filter(|a| !a.is_empty());
    let mut frames = Vec::new();
    for r in &out.results {
        if let Some(e) = &r.error {
            return Err(e.clone());
        }
        for s in &r.series {
            if !s.has_time {
                frames.push(untimed_frame(ref_id, s));
            } else if table {
                frames.push(table_frame(ref_id, s));
            } else {
                for col in 1..s.columns.len() {
                    frames.push(series_frame(ref_id, s, col, alias));
                }
            }
        }
    }
    Ok(frames)
}

/// Field type and JSON values of one column.
fn column(s: &SeriesOut, col: usize) -> (&'static str, &'static str, Vec<Value>) {
    let vals: Vec<&Val> = s.rows.iter().map(|r| &r[col]).collect();
    let kind = vals
        .iter()
        .find(|v| !v.is_null())
        .map_or("number", |v| match v {
            Val::Str(_) => "string",
            Val::Bool(_) => "boolean",
            _ => "number",
        });
    let frame_type = match kind {
        "string" => "string",
        "boolean" => "bool",
        _ => "float64",
    };
    let json = vals
        .iter()
        .map(|v| match (kind, v) {
            ("number", Val::Int(i)) => json!(*i as f64),
            _ => v.to_json(),
        })
        .collect();
    (kind, frame_type, json)
}

fn times(s: &SeriesOut) -> Value {
    Value::Array(
        s.rows
            .iter()
            .map(|r| match &r[0] {
                Val::Int(ns) => json!(ns.div_euclid(1_000_000)),
                _ => Value::Null,
            })
            .collect(),
    )
}

fn series_name(s: &SeriesOut, col: usize, alias: Option<&str>) -> String {
    let column = &s.columns[col];
    let tags = s.tags.as_deref().unwrap_or_default();
    if let Some(alias) = alias {
        let mut name = alias
            .replace("$measurement", &s.name)
            .replace("$m", &s.name)
            .replace("$col", column);
        for (k, v) in tags {
            name = name
                .replace(&format!("$tag_{k}"), v)
                .replace(&format!("[[tag_{k}]]"), v);
        }
        return name;
    }
    let mut name = format!("{}.{column}", s.name);
    if !tags.is_empty() {
        let inner: Vec<String> = tags.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        name.push_str(&format!(" {{ {} }}", inner.join(", ")));
    }
    name
}

fn series_frame(ref_id: &str, s: &SeriesOut, col: usize, alias: Option<&str>) -> Value {
    let name = series_name(s, col, alias);
    let (kind, frame_type, values) = column(s, col);
    let mut value_field = json!({
        "name": "Value",
        "type": kind,
        "typeInfo": {"frame": frame_type, "nullable": true},
        "config": {"displayNameFromDS": name},
    });
    if let Some(tags) = s.tags.as_ref().filter(|t| !t.is_empty()) {
        let labels: Map<String, Value> = tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        value_field["labels"] = Value::Object(labels);
    }
    json!({
        "schema": {
            "name": name,
            "refId": ref_id,
            "fields": [
                {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}},
                value_field,
            ],
        },
        "data": {"values": [times(s), values]},
    })
}

fn table_frame(ref_id: &str, s: &SeriesOut) -> Value {
    let mut fields =
        vec![json!({"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}})];
    let mut values = vec![times(s)];
    for (k, v) in s.tags.as_deref().unwrap_or_default() {
        fields.push(
            json!({"name": k, "type": "string", "typeInfo": {"frame": "string", "nullable": true}}),
        );
        values.push(Value::Array(vec![json!(v); s.rows.len()]));
    }
    columns_frame(ref_id, s, 1, fields, values)
}

fn untimed_frame(ref_id: &str, s: &SeriesOut) -> Value {
    columns_frame(ref_id, s, 0, Vec::new(), Vec::new())
}

/// A frame of the given leading fields and values, then every column from `first`.
fn columns_frame(
    ref_id: &str,
    s: &SeriesOut,
    first: usize,
    mut fields: Vec<Value>,
    mut values: Vec<Value>,
) -> Value {
    for col in first..s.columns.len() {
        let (kind, frame_type, vals) = column(s, col);
        fields.push(json!({"name": s.columns[col], "type": kind, "typeInfo": {"frame": frame_type, "nullable": true}}));
        values.push(Value::Array(vals));
    }
    json!({
        "schema": {"name": s.name, "refId": ref_id, "fields": fields},
        "data": {"values": values},
    })
}
