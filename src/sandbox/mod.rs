//! The embedded stand-in stack: InfluxDB 1.x, Grafana and Toggl subsets over real HTTP.
//!
//! `dashload run` with no target starts one of these in-process so a newcomer gets a full
//! run on a laptop (DESIGN.md, "The sandbox"). It stores written points in memory
//! ([`store`], [`lineproto`]), answers real InfluxQL over them ([`influxql`]), serves
//! dashboards and `/api/ds/query` like Grafana ([`http_grafana`]), time entries like
//! Toggl ([`http_toggl`]), and puts every request through a load model ([`capacity`]) so a
//! stress run finds a knee and overload turns into 503/429 with `Retry-After`.
//!
//! [`router`] builds the HTTP surface apart from serving it, so tests can drive it on
//! their own listener; [`Sandbox::start`] seeds the store and serves on
//! [`SandboxConfig::listen`].

pub mod capacity;
pub mod faults;
pub mod http_debug;
pub mod http_grafana;
pub mod http_influx;
pub mod http_live;
pub mod http_toggl;
pub mod influxql;
pub mod lineproto;
pub mod query_counts;
mod state;
pub mod store;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

pub use capacity::{CacheConfig, CapacityConfig};
pub use http_toggl::TogglConfig;
pub use influxql::Limits;
pub use state::SandboxState;

use crate::error::{Error, Result};

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free one. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// Seed for the pre-seeded history and the Toggl world. Default 42.
    pub seed: u64,
    /// Days of history to pre-seed (0 = start empty). Default 90.
    pub seed_days: u32,
    /// Dashboards served by the Grafana API, as exported JSON (bare or `{dashboard, meta}`).
    pub dashboards: Vec<serde_json::Value>,
    /// The InfluxDB database that exists at start and that Grafana queries. Default `toggl`.
    pub database: String,
    /// Largest `/write` body, before and after gzip. Default 25 000 000 (InfluxDB's).
    pub max_body_bytes: usize,
    /// Worker pools, service time and cache.
    pub capacity: CapacityConfig,
    /// Query guards (`max-select-buckets`).
    pub limits: Limits,
    /// Toggl rate limits and paging.
    pub toggl: TogglConfig,
    /// `/debug/vars` answers loopback peers; with a token, also any peer that
    /// sends it (`Authorization: Token …` or `Bearer …`): `dashload sandbox
    /// --serve-counters`, so a manager in another container can scrape it.
    pub counters_token: Option<crate::cluster::token::Token>,
    /// Grafana Live connections allowed at once (Grafana's `[live] max_connections`).
    /// Default 100.
    pub live_max_connections: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 42,
            seed_days: 90,
            dashboards: Vec::new(),
            database: "toggl".to_string(),
            max_body_bytes: 25_000_000,
            capacity: CapacityConfig::default(),
            limits: Limits::default(),
            toggl: TogglConfig::default(),
            counters_token: None,
            live_max_connections: http_live::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What the sandbox counted, for tests and the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxCounters {
    /// HTTP requests per endpoint, keyed `"<METHOD> <route>"` (e.g. `"POST /api/ds/query"`);
    /// requests that matched no route count under `"<METHOD> (unmatched)"`.
    pub requests: BTreeMap<String, u64>,
    /// InfluxQL queries received (cache hits included) per text, their epoch-ms
    /// bounds relative to the first (`query_counts`): which queries a run sent.
    pub queries: BTreeMap<String, u64>,
    /// Points accepted by writes (pre-seeding not counted).
    pub points_written: u64,
    /// InfluxQL statements executed (cache hits not counted).
    pub statements_executed: u64,
    /// Total query cost: points scanned plus rows emitted.
    pub query_cost: u64,
    /// Requests refused with 503 because a pool (query or write) was full.
    pub rejected_busy: u64,
    /// Toggl requests refused with 429 (token bucket empty).
    pub rate_limited: u64,
    /// Toggl requests refused with 402 (hourly quota used up).
    pub quota_exceeded: u64,
    /// Result cache hits.
    pub cache_hits: u64,
    /// Result cache misses (only counted when the cache is on).
    pub cache_misses: u64,
    /// Statements that ended in an error.
    pub query_errors: u64,
    /// Grafana Live: connections, subscriptions, publications, deliveries.
    pub live: http_live::LiveCounters,
}

/// The whole HTTP surface: InfluxDB, Grafana and Toggl routes, counted per route.
pub fn router(state: SandboxState) -> Router {
    Router::new()
        .merge(http_influx::routes(&state))
        .merge(http_grafana::routes())
        .merge(http_toggl::routes())
        .merge(http_debug::routes())
        .merge(http_live::routes())
        .merge(faults::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn count_requests(State(state): State<SandboxState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", |p| p.as_str())
        .to_string();
    state
        .inner
        .counters
        .request(format!("{} {route}", req.method()));
    state
        .inner
        .counters
        .http
        .around(&route, next.run(req))
        .await
}

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
    state: SandboxState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Sandbox {
    /// Seed the store and start serving on `config.listen`.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox> {
        let listen = config.listen;
        let state = SandboxState::new(config);
        let seeding = state.clone();
        tokio::task::spawn_blocking(move || seeding.seed())
            .await
            .map_err(|e| Error::Other(anyhow::anyhow!("sandbox seeding failed: {e}")))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Usage(format!("sandbox cannot listen on {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("sandbox listener has no address: {e}")))?;
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        // Refused connections (a `refuse` fault) close below HTTP.
        let listener = axum::serve::ListenerExt::tap_io(
            faults::FaultListener::new(listener, state.clone()),
            |_| {},
        );
        let task = tokio::spawn(async move {
            // With the peer's address, so /debug/vars can answer loopback only.
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
        });
        Ok(Sandbox {
            addr,
            state,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it has counted so far.
    pub fn counters(&self) -> SandboxCounters {
        self.state.counters()
    }

    /// Its shared state (store, counters), e.g. to inspect after a run.
    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// Its built-in faults, switched on and off while it serves.
    pub fn faults(&self) -> &faults::FaultSet {
        &self.state.inner.faults
    }

    /// Stop serving and wait for in-flight requests (stalled ones are let go).
    pub async fn stop(self) {
        self.state.inner.faults.clear();
        // Upgraded Live sockets are not the server's to wait for: close them.
        self.state.inner.live.shut_down();
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
