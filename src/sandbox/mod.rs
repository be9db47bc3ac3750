//! The embedded stand-in stack: InfluxDB 1.x, Grafana and Toggl subsets over real HTTP.
//! (Interface stub: to be filled in.)

pub mod influxql;
pub mod lineproto;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::error::Result;

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Seed for the pre-seeded history.
    pub seed: u64,
    /// Days of history to pre-seed (0 = start empty).
    pub seed_days: u32,
    /// Dashboards served by the Grafana API, as exported JSON.
    pub dashboards: Vec<serde_json::Value>,
}

/// What the sandbox counted, for tests and the run summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxCounters {
    /// HTTP requests per endpoint, keyed `"<METHOD> <route>"` (e.g. `"POST /api/ds/query"`).
    pub requests: BTreeMap<String, u64>,
    /// Points accepted by writes (pre-seeding not counted).
    pub points_written: u64,
}

/// A running sandbox.
pub struct Sandbox {
    addr: SocketAddr,
}

impl Sandbox {
    /// Start the sandbox on `config.listen`.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox> {
        let _ = config;
        todo!("filled in by the sandbox work")
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
        todo!("filled in by the sandbox work")
    }

    /// Stop serving and wait for in-flight requests.
    pub async fn stop(self) {}
}
