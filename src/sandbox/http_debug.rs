//! The sandbox's own counters at `/debug/vars`, in InfluxDB 1.x's shape (an
//! `httpd` module with `queryReq`, `writeReq`, `pingReq`, `pointsWrittenOK`,
//! a `queryExecutor` with `queriesActive`), plus a `sandbox` module (result
//! cache, requests refused busy), so the server-metrics scraper reads it as it
//! reads influxd. Query requests are those to `/query` and `/api/ds/query`.
//!
//! Answered to loopback peers only: `dashload sandbox --listen 0.0.0.0:8086`
//! must not hand its internals to the network.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::SandboxState;

/// influxd's `httpd` and `queryExecutor` figures, counted by the router's layer.
#[derive(Default)]
pub struct HttpCounters {
    req: AtomicU64,
    query_req: AtomicU64,
    write_req: AtomicU64,
    ping_req: AtomicU64,
    client_error: AtomicU64,
    server_error: AtomicU64,
    query_duration_ns: AtomicU64,
    queries_active: AtomicI64,
}

impl HttpCounters {
    /// Count one request to `route` and the answer `respond` gives.
    pub async fn around(
        &self,
        route: &str,
        respond: impl std::future::Future<Output = Response>,
    ) -> Response {
        let add = |c: &AtomicU64| c.fetch_add(1, Ordering::Relaxed);
        add(&self.req);
        let query = matches!(route, "/query" | "/api/ds/query");
        match route {
            _ if query => add(&self.query_req),
            "/write" => add(&self.write_req),
            "/ping" => add(&self.ping_req),
            _ => 0,
        };
        let started = Instant::now();
        if query {
            self.queries_active.fetch_add(1, Ordering::Relaxed);
        }
        let response = respond.await;
        if query {
            self.queries_active.fetch_sub(1, Ordering::Relaxed);
            self.query_duration_ns
                .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        match response.status().as_u16() {
            400..=499 => add(&self.client_error),
            500..=599 => add(&self.server_error),
            _ => 0,
        };
        response
    }
}

/// `GET /debug/vars`.
pub fn routes() -> Router<SandboxState> {
    Router::new().route("/debug/vars", get(debug_vars))
}

/// True when `/debug/vars` may answer a peer: a loopback one (a router served
/// without peer addresses, as in tests, cannot tell and answers).
pub fn peer_allowed(peer: Option<SocketAddr>) -> bool {
    peer.is_none_or(|p| p.ip().is_loopback())
}

async fn debug_vars(State(state): State<SandboxState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer_allowed(peer) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let c = &state.inner.counters;
    let h = &c.http;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let snapshot = state.counters();
    Json(json!({
        "httpd": {"name": "httpd", "tags": {}, "values": {
            "req": get(&h.req),
            "queryReq": get(&h.query_req),
            "writeReq": get(&h.write_req),
            "pingReq": get(&h.ping_req),
            "pointsWrittenOK": snapshot.points_written,
            "clientError": get(&h.client_error),
            "serverError": get(&h.server_error),
            "queryReqDurationNs": get(&h.query_duration_ns),
        }},
        "queryExecutor": {"name": "queryExecutor", "tags": null, "values": {
            "queriesActive": h.queries_active.load(Ordering::Relaxed).max(0),
            "queriesExecuted": snapshot.statements_executed,
        }},
        "sandbox": {"name": "sandbox", "tags": null, "values": {
            "cacheHits": snapshot.cache_hits,
            "cacheMisses": snapshot.cache_misses,
            "rejectedBusy": snapshot.rejected_busy,
            "queryErrors": snapshot.query_errors,
            "rateLimited": snapshot.rate_limited,
        }},
    }))
    .into_response()
}
