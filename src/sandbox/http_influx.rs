//! InfluxDB 1.x HTTP subset: `/ping`, `/write`, `/query`, with the status codes and
//! bodies of DOMAIN.md §2.1–2.4.
//!
//! `/write` answers 204, 404 `database not found: "x"`, 400 `database is required`,
//! 400 `partial write: … dropped=N` (good lines stored), 413 over `max_body_bytes` (before
//! or after gzip; nothing stored), 500 for an unknown retention policy, 405 on GET, and 503
//! with `Retry-After: 1` when the write pool is full. `/query` answers 400 for a missing
//! `q` or a parse error (nothing runs; deep or long queries too, see
//! [`influxql::guard`]), 413 for a body over [`MAX_QUERY_BODY_BYTES`], 200 with per-statement `error`s otherwise, and 503
//! when the query pool is full. Not modelled: auth, chunked responses, CSV.

use std::collections::HashMap;
use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::influxql::{self, Epoch};
use super::lineproto::{self, Precision};
use super::state::{now_ns, Counters};
use super::SandboxState;

/// Largest `/query` body: Go's form limit (`maxFormSize`, 10 MiB), which influxd's
/// `r.FormValue` inherits. Past it influxd drops the form and answers `missing
/// required parameter "q"`; the sandbox answers the 413 `/write` answers instead,
/// which names the cause. A request body is never gunzipped here (nor by influxd).
pub const MAX_QUERY_BODY_BYTES: usize = 10 << 20;

/// The version the sandbox reports in `X-Influxdb-Version`.
pub const INFLUXDB_VERSION: &str = "1.8.10-dashload-sandbox";

/// `/ping`, `/write`, `/query`.
pub fn routes(_state: &SandboxState) -> Router<SandboxState> {
    Router::new()
        .route("/ping", get(ping).head(ping))
        .route("/write", post(write).get(write_get))
        .route("/query", get(query).post(query))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

fn with_version(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        "X-Influxdb-Version",
        HeaderValue::from_static(INFLUXDB_VERSION),
    );
    h.insert("X-Influxdb-Build", HeaderValue::from_static("OSS"));
    resp
}

/// A JSON `{"error": msg}` answer, with the message also in `X-Influxdb-Error`.
fn error(status: StatusCode, msg: &str) -> Response {
    let mut resp = (status, axum::Json(json!({ "error": msg }))).into_response();
    if let Ok(v) = HeaderValue::from_str(&msg.replace(['\n', '\r'], " ")) {
        resp.headers_mut().insert("X-Influxdb-Error", v);
    }
    with_version(resp)
}

fn busy(what: &str) -> Response {
    let mut resp = error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("sandbox overloaded: {what} queue full"),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

async fn ping() -> Response {
    with_version(StatusCode::NO_CONTENT.into_response())
}

async fn write_get() -> Response {
    let mut resp = (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    with_version(resp)
}

fn too_large() -> Response {
    let mut resp = error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

async fn write(
    State(state): State<SandboxState>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let cfg = state.config();
    let Some(db) = params.get("db").filter(|d| !d.is_empty()).cloned() else {
        return error(StatusCode::BAD_REQUEST, "database is required");
    };
    let exists = state
        .inner
        .store
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .database(&db)
        .is_some();
    if !exists {
        return error(
            StatusCode::NOT_FOUND,
            &format!("database not found: \"{db}\""),
        );
    }
    if let Some(rp) = params
        .get("rp")
        .filter(|r| !r.is_empty() && *r != "autogen")
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("retention policy not found: {rp}"),
        );
    }
    let max = cfg.max_body_bytes;
    let Ok(raw) = axum::body::to_bytes(body, max).await else {
        return too_large();
    };
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body: Bytes = if gzipped {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(&raw[..]).take(max as u64 + 1);
        if decoder.read_to_end(&mut out).is_err() {
            // Go's gzip reader: a body shorter than a gzip header is "unexpected EOF",
            // a longer one without the magic bytes "gzip: invalid header".
            let msg = if raw.len() >= 10 && !raw.starts_with(&[0x1f, 0x8b]) {
                "gzip: invalid header"
            } else {
                "unexpected EOF"
            };
            return error(StatusCode::BAD_REQUEST, msg);
        }
        if out.len() > max {
            return too_large();
        }
        out.into()
    } else {
        raw
    };
    let precision = Precision::from_param(params.get("precision").map(String::as_str));
    let job_state = state.clone();
    let outcome = state
        .inner
        .writes
        .run(move || {
            let text = String::from_utf8_lossy(&body);
            let batch = lineproto::parse_batch(&text, precision, now_ns());
            let mut store = job_state
                .inner
                .store
                .write()
                .unwrap_or_else(|e| e.into_inner());
            let outcome = store
                .database_mut(&db)
                .map(|d| lineproto::write_batch(d, &batch));
            let n = batch.points.len() as u64;
            (outcome.ok_or(db), n, 1)
        })
        .await;
    match outcome {
        Err(_) => {
            Counters::add(&state.inner.counters.rejected_busy, 1);
            busy("write")
        }
        // Dropped while the write waited.
        Ok(Err(db)) => error(
            StatusCode::NOT_FOUND,
            &format!("database not found: \"{db}\""),
        ),
        Ok(Ok(outcome)) => {
            Counters::add(&state.inner.counters.points_written, outcome.written);
            match outcome.error {
                None => with_version(StatusCode::NO_CONTENT.into_response()),
                Some(msg) => error(StatusCode::BAD_REQUEST, &msg),
            }
        }
    }
}

async fn query(
    State(state): State<SandboxState>,
    method: Method,
    Query(mut params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(body) = axum::body::to_bytes(body, MAX_QUERY_BODY_BYTES).await else {
        return too_large();
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if method == Method::POST && is_form {
        for (k, v) in url::form_urlencoded::parse(&body) {
            params.insert(k.into_owned(), v.into_owned());
        }
    }
    let Some(q) = params.get("q").filter(|q| !q.trim().is_empty()).cloned() else {
        return error(StatusCode::BAD_REQUEST, "missing required parameter \"q\"");
    };
    let statements = match influxql::parse_query(&q) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("error parsing query: {}", e.message),
            )
        }
    };
    let db = params.get("db").filter(|d| !d.is_empty()).cloned();
    let epoch = params.get("epoch").and_then(|e| Epoch::from_param(e));
    let pretty = params.get("pretty").is_some_and(|p| p == "true");
    let out = match state.run_statements(db, &q, statements).await {
        Ok(out) => out,
        Err(_) => return busy("query"),
    };
    let json = influxql::results_json(&out.results, epoch);
    let text = if pretty {
        serde_json::to_string_pretty(&json)
    } else {
        serde_json::to_string(&json)
    }
    .unwrap_or_else(|_| "{}".to_string());
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    with_version(resp)
}
