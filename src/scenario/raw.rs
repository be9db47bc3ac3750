//! The scenario file exactly as written: serde types that check syntax only.
//!
//! Every table denies unknown keys, and values that need a semantic check later
//! keep their byte span (`Spanned`), so the resolver can point at `file:line:column`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub target: Option<Spanned<RawTarget>>,
    pub viewers: Option<Spanned<RawViewers>>,
    /// `[live]`: Grafana Live sessions for (a share of) the viewers.
    pub live: Option<Spanned<super::live::RawLive>>,
    pub sync: Option<Spanned<RawSync>>,
    #[serde(default)]
    pub stages: Vec<Spanned<RawStage>>,
    pub stress: Option<Spanned<RawStress>>,
    #[serde(default)]
    pub slo: BTreeMap<Spanned<String>, Spanned<RawSloSet>>,
    pub regression: Option<Spanned<RawRegression>>,
    pub sandbox: Option<Spanned<RawSandbox>>,
    pub limits: Option<Spanned<RawLimits>>,
    /// `[export]`: where `--export influxdb` writes the results (a target's keys).
    pub export: Option<Spanned<RawTarget>>,
    pub server_metrics: Option<Spanned<super::server_metrics::RawServerMetrics>>,
    /// `[recovery]`: the phase after the stress ladder.
    pub recovery: Option<Spanned<super::recovery::RawRecovery>>,
    #[serde(default)]
    pub faults: Vec<Spanned<super::faults::RawFault>>,
}

/// `[limits]`: bounds on the load's size, raised knowingly.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub users: Option<Spanned<i64>>,
    pub steps: Option<Spanned<i64>>,
    pub duration: Option<Spanned<String>>,
}

/// `[regression]`: how a run is judged against a baseline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegression {
    pub latency: Option<Spanned<String>>,
    pub latency_floor: Option<Spanned<String>>,
    pub error_rate: Option<Spanned<String>>,
    pub confidence: Option<Spanned<String>>,
    #[serde(default)]
    pub figures: Vec<Spanned<String>>,
}

/// `[sandbox]`: the embedded sandbox's cost model, made slower on purpose.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSandbox {
    pub query_cost: Option<Spanned<f64>>,
    pub write_cost: Option<Spanned<f64>>,
    /// `queue` (the default), `shed` (a short queue: fast 503s) or `stall`.
    pub overload: Option<Spanned<String>>,
    /// Grafana Live connections allowed at once (`[live] max_connections`).
    pub live_max_connections: Option<Spanned<i64>>,
}

/// `[target]` (and `[target.write]`, where writes go when they differ).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub kind: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub database: Option<String>,
    pub retention_policy: Option<String>,
    pub query_method: Option<Spanned<String>>,
    pub username: Option<String>,
    pub password_env: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
    pub org: Option<String>,
    pub bucket: Option<String>,
    pub datasource_uid: Option<String>,
    /// `[target.datasources]`: dashboard `__inputs` name → Grafana data source uid.
    pub datasources: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub org_id: Option<u32>,
    pub timeout: Option<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub write: Option<Box<Spanned<RawTarget>>>,
}

/// `[viewers]`: the dashboard viewers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawViewers {
    pub dashboard: Spanned<String>,
    pub max_parallel: Option<Spanned<u32>>,
    pub refresh: Option<Spanned<String>>,
    pub refreshes_per_visit: Option<Spanned<u32>>,
    pub busy_refresh: Option<Spanned<String>>,
    pub think_time: Option<Spanned<String>>,
    pub first_screen_only: Option<bool>,
    pub grafana: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub user: Option<Spanned<RawUser>>,
    pub org: Option<Spanned<RawOrg>>,
    #[serde(default)]
    pub time_ranges: Vec<Spanned<RawTimeRange>>,
    #[serde(default)]
    pub variables: BTreeMap<String, Spanned<RawVariableMix>>,
}

/// One entry of `[[viewers.time_ranges]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeRange {
    pub from: Spanned<String>,
    #[serde(default = "now")]
    pub to: Spanned<String>,
    pub weight: Spanned<u32>,
}

fn now() -> Spanned<String> {
    Spanned::new(0..0, "now".to_string())
}

/// `[viewers.user]`: who the viewers are signed in as (`${__user…}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub login: Option<String>,
    pub id: Option<u64>,
    pub email: Option<String>,
}

/// `[viewers.org]`: their organisation (`${__org…}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrg {
    pub id: Option<u64>,
    pub name: Option<String>,
}

/// `[viewers.variables.<name>]`: how often a viewer picks All, one value, or several.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariableMix {
    #[serde(default)]
    pub all: u32,
    #[serde(default)]
    pub one: u32,
    #[serde(default)]
    pub some: u32,
    /// A pinned value (`$__all` for All), instead of a weighted pick.
    #[serde(default)]
    pub value: Option<String>,
}

/// `[sync]`: the sync job.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub users: Option<Spanned<usize>>,
    pub source: Option<Spanned<String>>,
    pub entries_per_sync: Option<Spanned<u32>>,
    pub batch_size: Option<Spanned<u32>>,
    pub gzip: Option<bool>,
    pub interval: Option<Spanned<String>>,
    pub freshness: Option<bool>,
    pub toggl_url: Option<Spanned<String>>,
    pub toggl_token_env: Option<Spanned<String>>,
    pub toggl_token_file: Option<Spanned<String>>,
    pub trigger_url: Option<Spanned<String>>,
    pub trigger_path: Option<String>,
    pub status_path: Option<String>,
    pub status_field: Option<String>,
    pub done_value: Option<String>,
    pub failed_value: Option<String>,
    pub trigger_timeout: Option<Spanned<String>>,
    pub trigger_token_env: Option<Spanned<String>>,
    pub trigger_token_file: Option<Spanned<String>>,
}

/// One `[[stages]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub users: Spanned<usize>,
    pub ramp: Spanned<String>,
    pub hold: Spanned<String>,
}

/// `[stress]`: the ladder past the last stage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStress {
    pub step: Spanned<usize>,
    pub ramp: Option<Spanned<String>>,
    pub hold: Spanned<String>,
    pub ceiling: Spanned<usize>,
    pub stop_when: Option<Spanned<String>>,
    pub stop_on_failure_share: Option<Spanned<bool>>,
    pub refine: Option<Spanned<i64>>,
}

/// `[slo.<class>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSloSet {
    pub p50: Option<Spanned<String>>,
    pub p95: Option<Spanned<String>>,
    pub p99: Option<Spanned<String>>,
    pub error_rate: Option<Spanned<String>>,
    pub ms_per_point: Option<Spanned<f64>>,
    /// `[slo.recovery]` only: every class's bound, then a class's own.
    pub max: Option<Spanned<String>>,
    pub dashboard_load: Option<Spanned<String>>,
    pub panel_query: Option<Spanned<String>>,
    pub ingest_batch: Option<Spanned<String>>,
    /// `[slo.degradation]` only.
    pub goodput: Option<Spanned<String>>,
    pub failure_p99: Option<Spanned<String>>,
    pub loads_completed: Option<Spanned<String>>,
}
