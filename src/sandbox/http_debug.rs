//! The sandbox's own counters at `/debug/vars`, in InfluxDB 1.x's shape (an
//! `httpd` module with `queryReq`, `writeReq`, `pingReq`, `pointsWrittenOK`,
//! a `queryExecutor` with `queriesActive`), plus a `sandbox` module (result
//! cache, requests refused busy), so the server-metrics scraper reads it as it
//! reads influxd. Query requests are those to `/query` and `/api/ds/query`.
//!
//! Answered to loopback peers only: `dashload sandbox --listen 0.0.0.0:8086`
//! must not hand its internals to the network; with `--serve-counters` also
//! to a peer that sends the sandbox's counters token.

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
    let token = state.inner.config.counters_token.as_ref();
    if !peer_allowed(peer) && !token.is_some_and(|t| t.matches_header(req.headers())) {
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
        "live": {"name": "live", "tags": null, "values": {
            "connectionsOpen": snapshot.live.connections_open,
            "connectionsTotal": snapshot.live.connections_total,
            "connectionsRefused": snapshot.live.connections_refused,
            "subscriptions": snapshot.live.subscriptions,
            "subscriptionsTotal": snapshot.live.subscriptions_total,
            "publications": snapshot.live.publications,
            "deliveries": snapshot.live.deliveries,
            "slowDisconnects": snapshot.live.slow_disconnects,
        }},
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::token::Token;
    use crate::sandbox::SandboxConfig;

    async fn ask(state: &SandboxState, peer: &str, auth: Option<&str>) -> StatusCode {
        let mut req = Request::builder().uri("/debug/vars");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let mut req = req.body(axum::body::Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        debug_vars(State(state.clone()), req).await.status()
    }

    #[tokio::test]
    async fn counters_go_off_loopback_only_with_the_token() {
        let secret = "0123456789abcdef0123";
        let open = SandboxState::new(SandboxConfig::default());
        assert_eq!(ask(&open, "127.0.0.1:5000", None).await, StatusCode::OK);
        let far = "10.1.2.3:5000";
        assert_eq!(
            ask(&open, far, Some(&format!("Token {secret}"))).await,
            StatusCode::NOT_FOUND,
            "no token configured: loopback only"
        );
        let served = SandboxState::new(SandboxConfig {
            counters_token: Some(Token::parse(secret, "test").unwrap()),
            ..SandboxConfig::default()
        });
        assert_eq!(ask(&served, far, None).await, StatusCode::NOT_FOUND);
        assert_eq!(
            ask(&served, far, Some("Token 0123456789abcdef0124")).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ask(&served, far, Some(&format!("Token {secret}"))).await,
            StatusCode::OK
        );
        assert_eq!(
            ask(&served, far, Some(&format!("Bearer {secret}"))).await,
            StatusCode::OK
        );
    }
}
