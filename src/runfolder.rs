//! The run folder: what one run leaves behind, and how it is written safely.
//!
//! A run writes `reports/<UTC time>-<scenario>/` holding Goose's `report.json`,
//! dashload's `report.html`, the request log `requests.csv` (Goose's CSV format),
//! `ingest.csv` (one row per sync batch write) and `run.json` ([`RunMeta`]).
//! The post-processor reads only these files, so any run folder can be
//! re-rendered later. Folders are never overwritten and every file is written
//! to a temporary name first and renamed, so a reader never sees half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod input;
pub mod past_capacity;
pub mod recover;

pub use past_capacity::{DegradationRules, PastCapacityRules};

/// File names inside a run folder.
pub mod files {
    /// dashload's own description of the run.
    pub const RUN_META: &str = "run.json";
    /// Goose's JSON report (with graph data).
    pub const GOOSE_JSON: &str = "report.json";
    /// Goose's own HTML report: no longer written (it ran script from panel
    /// titles and error texts); older run folders may hold one.
    pub const GOOSE_HTML: &str = "goose-report.html";
    /// Goose's request log, CSV.
    pub const REQUESTS: &str = "requests.csv";
    /// One row per sync batch write: `elapsed_ms,points,bytes,duration_us,status,success`.
    pub const INGEST: &str = "ingest.csv";
    /// dashload's report.
    pub const REPORT_HTML: &str = "report.html";
    /// Everything the report states, for programs.
    pub const SUMMARY: &str = "summary.json";
    /// SLO verdicts as JUnit XML, for CI systems.
    pub const JUNIT: &str = "junit.xml";
    /// The generator's own CPU, one row per second: see [`super::CPU_HEADER`].
    pub const CPU: &str = "cpu.csv";
    /// The run's compact record for the history (`crate::history::record`).
    pub const HISTORY: &str = "history.json";
    /// The target's own metrics, one row per figure per scrape (`crate::server_metrics`).
    pub const SERVER: &str = crate::server_metrics::FILE;
}

/// The error text of a request the run's end cut off: not sent because the load
/// was over, or dropped in flight after the drain (see `run_end.rs`). It is not a
/// failure of the target: the report sets such rows apart. A dashboard load whose
/// panel was cut off ends its error text with it (`<panel>: cancelled at run end`).
pub const CANCELLED: &str = "cancelled at run end";

/// The error text of a request not sent because the load was over: the target
/// never saw it, so it is no HTTP call (the server's counters leave it out too).
pub const NOT_SENT: &str = "not sent: the run had ended";

/// True when a request log error text says the run's end cut the request off
/// (dropped in flight, or never sent).
pub fn is_cancelled(error: &str) -> bool {
    error.ends_with(CANCELLED) || is_not_sent(error)
}

/// The error text of a panel query that a dashboard's next auto-refresh
/// replaced while it was in flight (`[viewers] busy_refresh = "cancel"`, as
/// Grafana does): it reached the server, which may still run it, but no
/// answer was awaited. The report counts such rows per window and in the
/// server's count check, and takes neither a latency nor a failure from them.
pub const REPLACED: &str = "cancelled: the next refresh replaced it";

/// The start of a dashboard load's error text when the next refresh replaced
/// it: the load failed to finish within its refresh interval (a timeout,
/// as the report classes it).
pub const LOAD_REPLACED: &str = "timed out at the refresh interval: the next refresh replaced it";

/// True when a request log error text says a refresh replaced the request.
pub fn is_replaced(error: &str) -> bool {
    error.ends_with(REPLACED)
}

/// True when the request was never sent (the load was over).
pub fn is_not_sent(error: &str) -> bool {
    error.ends_with(NOT_SENT)
}

/// The header of `ingest.csv`.
pub const INGEST_HEADER: &str = "elapsed_ms,points,bytes,duration_us,status,success";

/// The header of `cpu.csv`.
pub const CPU_HEADER: &str = "elapsed_ms,cpu_ms,cores_used,cores_available";

/// What kind of request a Goose request name stands for.
///
/// Names are the contract between the users (who record requests) and the
/// report (which judges them): a dashboard load is `load <dashboard> [<range>]`,
/// a panel query `panel <title> [<range>]`, a template-variable query
/// `variable <name>`, and the sync job's steps start with `sync `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestClass {
    /// A whole dashboard load: first query sent to last answer in.
    DashboardLoad,
    /// One panel's query.
    PanelQuery,
    /// A template-variable query run on dashboard load.
    VariableQuery,
    /// Fetching the dashboard definition.
    DashboardFetch,
    /// The sync job fetching time entries.
    SyncFetch,
    /// The sync job turning entries into line protocol.
    SyncTransform,
    /// One batch write.
    IngestBatch,
    /// Time from a write landing to the point being visible to a query.
    IngestFreshness,
    /// A whole sync run by the stack's own sync service (trigger → done).
    SyncRun,
    /// Anything else.
    Other,
}

impl RequestClass {
    /// Every class, in the order reports list them.
    pub const ALL: [RequestClass; 10] = [
        RequestClass::DashboardLoad,
        RequestClass::PanelQuery,
        RequestClass::VariableQuery,
        RequestClass::DashboardFetch,
        RequestClass::SyncFetch,
        RequestClass::SyncTransform,
        RequestClass::IngestBatch,
        RequestClass::IngestFreshness,
        RequestClass::SyncRun,
        RequestClass::Other,
    ];

    /// The class of a request recorded under `name`.
    pub fn of(name: &str) -> RequestClass {
        let head = name.split_whitespace().next().unwrap_or("");
        match head {
            "load" => RequestClass::DashboardLoad,
            "panel" => RequestClass::PanelQuery,
            "variable" => RequestClass::VariableQuery,
            "dashboard" => RequestClass::DashboardFetch,
            "sync" => match name.split_whitespace().nth(1).unwrap_or("") {
                "fetch" => RequestClass::SyncFetch,
                "transform" => RequestClass::SyncTransform,
                "write" => RequestClass::IngestBatch,
                "freshness" => RequestClass::IngestFreshness,
                "run" => RequestClass::SyncRun,
                _ => RequestClass::Other,
            },
            _ => RequestClass::Other,
        }
    }

    /// The classes a viewer's requests fall in: the load the stages and the
    /// ladder scale (the sync job stays one user throughout).
    pub fn is_viewer(self) -> bool {
        matches!(
            self,
            RequestClass::DashboardLoad
                | RequestClass::PanelQuery
                | RequestClass::VariableQuery
                | RequestClass::DashboardFetch
        )
    }

    /// The key used in scenario files and JSON (`dashboard_load`, …).
    pub fn key(self) -> &'static str {
        match self {
            RequestClass::DashboardLoad => "dashboard_load",
            RequestClass::PanelQuery => "panel_query",
            RequestClass::VariableQuery => "variable_query",
            RequestClass::DashboardFetch => "dashboard_fetch",
            RequestClass::SyncFetch => "sync_fetch",
            RequestClass::SyncTransform => "sync_transform",
            RequestClass::IngestBatch => "ingest_batch",
            RequestClass::IngestFreshness => "ingest_freshness",
            RequestClass::SyncRun => "sync_run",
            RequestClass::Other => "other",
        }
    }

    /// A human label for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            RequestClass::DashboardLoad => "dashboard load",
            RequestClass::PanelQuery => "panel query",
            RequestClass::VariableQuery => "variable query",
            RequestClass::DashboardFetch => "dashboard fetch",
            RequestClass::SyncFetch => "sync fetch",
            RequestClass::SyncTransform => "sync transform",
            RequestClass::IngestBatch => "ingest batch",
            RequestClass::IngestFreshness => "ingest freshness",
            RequestClass::SyncRun => "sync run",
            RequestClass::Other => "other",
        }
    }

    /// The class for a scenario-file key.
    pub fn from_key(key: &str) -> Option<RequestClass> {
        RequestClass::ALL.into_iter().find(|c| c.key() == key)
    }
}

/// The figure an SLO bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloMetric {
    /// 50th percentile latency, milliseconds.
    P50,
    /// 95th percentile latency, milliseconds.
    P95,
    /// 99th percentile latency, milliseconds.
    P99,
    /// Failed requests ÷ all requests, a fraction in 0..=1.
    ErrorRate,
    /// Batch write time ÷ points in the batch, milliseconds (ingest only).
    MsPerPoint,
}

impl SloMetric {
    /// The key used in scenario files (`p95`, `error_rate`, …).
    pub fn key(self) -> &'static str {
        match self {
            SloMetric::P50 => "p50",
            SloMetric::P95 => "p95",
            SloMetric::P99 => "p99",
            SloMetric::ErrorRate => "error_rate",
            SloMetric::MsPerPoint => "ms_per_point",
        }
    }

    /// The figure in words, for prose and tables (`p95`, `error rate`, …).
    pub fn label(self) -> &'static str {
        match self {
            SloMetric::ErrorRate => "error rate",
            SloMetric::MsPerPoint => "ms per point",
            other => other.key(),
        }
    }
}

/// One service-level objective: `metric` of `class` must stay at or below `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Which requests it judges.
    pub class: RequestClass,
    /// Which figure.
    pub metric: SloMetric,
    /// The bound: milliseconds for latencies and ms per point, a fraction for error rates.
    pub max: f64,
}

/// How a run is judged against a baseline: the scenario's `[regression]`.
///
/// A figure regressed when it got worse by more than its tolerance *and* the
/// two runs' sampling noise cannot explain it: a block bootstrap over the two
/// request logs must be at least `confidence` sure that the worsening is beyond
/// the tolerance (see `report::regress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegressionRules {
    /// Relative worsening of a latency percentile that counts (0.10 = 10 %).
    pub latency: f64,
    /// Absolute worsening of a latency percentile below which nothing counts, ms.
    pub latency_floor_ms: f64,
    /// Rise of an error rate that counts, absolute (0.01 = one percentage point).
    pub error_rate: f64,
    /// How sure the bootstrap must be that a figure worsened beyond its
    /// tolerance before it is called a regression (0.95 = 95 %).
    pub confidence: f64,
    /// Figures judged besides those the scenario has SLOs for.
    pub figures: Vec<JudgedFigure>,
}

impl Default for RegressionRules {
    fn default() -> Self {
        RegressionRules {
            latency: 0.10,
            latency_floor_ms: 1.0,
            error_rate: 0.01,
            confidence: 0.95,
            figures: Vec::new(),
        }
    }
}

/// One figure of one request class, as the regression gate judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JudgedFigure {
    /// Which requests.
    pub class: RequestClass,
    /// Which figure (p50, p95, p99 or error_rate).
    pub metric: SloMetric,
}

/// What part of the load shape a window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// Users are being added or removed towards a stage's count.
    Ramp,
    /// A planned stage holding its users: runs are judged on these.
    Hold,
    /// A stress-ladder step's hold (its ramp is a `Ramp` window); expected to break.
    /// Older run.json files spanned ramp and hold here: the
    /// report splits those at the test plan's step boundary.
    StressStep,
    /// The `[recovery]` phase: back at a lower load after the ladder, judged
    /// on its time to recover (`report::recovery`), not as a hold.
    Recovery,
}

impl WindowKind {
    /// The kind in plain words, as people read it.
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::Ramp => "ramp",
            WindowKind::Hold => "hold",
            WindowKind::StressStep => "stress step",
            WindowKind::Recovery => "recovery",
        }
    }
}

/// The time window of one stage or stress step, relative to the attack start
/// (the same clock as the request log's `elapsed` column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageWindow {
    /// A stable name: `stage 1 ramp`, `stage 1 hold`, `step 3 ramp`, `step 3` (the
    /// step's hold), `refine 1 ramp`, `refine 1`, `recovery`.
    pub name: String,
    /// Ramp, hold or stress step.
    pub kind: WindowKind,
    /// Dashboard viewers at the end of the window (sync users not counted).
    pub viewers: usize,
    /// Window start, ms since the attack started.
    pub start_ms: u64,
    /// Window end, ms since the attack started.
    pub end_ms: u64,
}

/// The target of a run, as it may be shown: never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    /// `sandbox`, `influxdb1`, `influxdb2` or `grafana`.
    pub kind: String,
    /// Base URL (credentials stripped).
    pub url: String,
    /// Database, bucket or data source, when the kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// Why the stress ladder stopped early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderStop {
    /// The step window's name.
    pub step: String,
    /// Viewers at that step.
    pub viewers: usize,
    /// The condition that held, with the observed figures.
    pub reason: String,
    /// When it stopped, ms since the attack started.
    pub at_ms: u64,
    /// With `[stress] refine`: when the bisection steps that followed the stop
    /// ended. The run's windows from `at_ms` on are theirs (`refine i ramp`,
    /// `refine i`), written as they ran; absent in older run.json files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refined_until_ms: Option<u64>,
    /// When the live stop rule began counting the step (a monitor tick after
    /// the step's start), ms since the attack started, on the clock of `at_ms`.
    /// The stop decision judged the requests recorded from this up to, not
    /// including, `at_ms` (both cuts between log rows: `Live::cut`); the
    /// report judges the step on the same requests, so the
    /// banner, the capacity line and the SLO table cite one count. Absent in
    /// older run.json files and distributed runs (whose manager judges the
    /// workers' merged windows): the step is then judged from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_from_ms: Option<u64>,
}

/// Counters the users keep that the request log cannot carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunCounters {
    /// Whole dashboard loads completed.
    pub dashboard_loads: u64,
    /// Auto-refreshes skipped because the previous load was still running.
    pub missed_refreshes: u64,
    /// Time entries the sync job fetched or generated.
    pub entries: u64,
    /// Points the sync job wrote successfully.
    pub points_written: u64,
    /// Batches the sync job wrote (successful or not).
    pub batches: u64,
    /// HTTP calls made outside the request log: purpose (`preflight`,
    /// `freshness_poll`, `sync_status_poll`, `panel_extra_query`) → endpoint
    /// kind (`ping`, `query`, `other`) → calls. With the log's HTTP rows they
    /// are every call dashload made.
    #[serde(default)]
    pub http_outside_log: OutsideLogCalls,
    /// What successful panel queries returned, per request name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub answers: std::collections::BTreeMap<String, AnswerTotals>,
    /// Scrapes of the target's metrics endpoint (`[server_metrics]`): HTTP
    /// calls apart from the load, never in the request log; a server that
    /// counts every request counts these too.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_scrapes: u64,
    /// Of those, the scrapes that failed (gaps in `server.csv`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub server_scrape_failures: u64,
    /// How long after the run's clock zero (its windows, `cpu.csv`,
    /// `server.csv`) Goose's started (the request log's and `ingest.csv`'s
    /// `elapsed` 0), ms; absent in older run.json files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goose_clock_offset_ms: Option<i64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The answers of one request name: how many, their bytes and their series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AnswerTotals {
    /// Successful answers counted.
    pub answers: u64,
    /// Body bytes as read (after decompression).
    pub bytes: u64,
    /// Series (InfluxDB 1.x JSON) or data frames (Grafana); Flux CSV tables are not counted.
    pub series: u64,
}

impl AnswerTotals {
    /// What opens one series in InfluxDB 1.x JSON.
    pub const INFLUX_SERIES: &'static [u8] = b"\"columns\":";
    /// What opens one data frame in Grafana's `/api/ds/query` answer.
    pub const GRAFANA_FRAME: &'static [u8] = b"\"schema\":";

    /// Count the series of one answer body by its format's `marker`
    /// ([`Self::INFLUX_SERIES`] or [`Self::GRAFANA_FRAME`]): one scan, as the
    /// caller knows which format it asked for.
    pub fn series_in(body: &[u8], marker: &[u8]) -> u64 {
        memchr::memmem::find_iter(body, marker).count() as u64
    }
}

/// HTTP calls outside the request log: purpose → endpoint kind → calls.
pub type OutsideLogCalls =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>;

impl RunCounters {
    /// Every HTTP call made outside the request log.
    pub fn outside_log_calls(&self) -> u64 {
        self.http_outside_log
            .values()
            .flat_map(|k| k.values())
            .sum()
    }

    /// Calls outside the request log per purpose, in name order.
    pub fn outside_log_by_purpose(&self) -> Vec<(String, u64)> {
        self.http_outside_log
            .iter()
            .map(|(p, kinds)| (p.clone(), kinds.values().sum()))
            .collect()
    }
}

/// `run.json`: dashload's own record of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// dashload's version.
    pub dashload_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given.
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes, hex.
    pub scenario_digest: String,
    /// The seed every generator was derived from.
    pub seed: u64,
    /// Where the load went.
    pub target: TargetSummary,
    /// The Goose test plan that ran (total users, sync job included).
    pub test_plan: String,
    /// Sync-job users (fixed for the whole run).
    pub sync_users: usize,
    /// Every stage and stress-step window.
    pub windows: Vec<StageWindow>,
    /// The SLOs the run is judged on.
    pub slos: Vec<Slo>,
    /// When the attack started (the zero of every `*_ms` figure).
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while running.
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// True when the run was cut short by Ctrl-C or a signal.
    #[serde(default)]
    pub interrupted: bool,
    /// Set when the stress ladder stopped early on its stop condition.
    #[serde(default)]
    pub ladder_stop: Option<LadderStop>,
    /// Counters from the users.
    #[serde(default)]
    pub counters: RunCounters,
    /// How this run is judged against a baseline (`[regression]`).
    #[serde(default)]
    pub regression: RegressionRules,
    /// Scenario values overridden for this run (`--set`, `DASHLOAD_TARGET_*`),
    /// as `check` shows them (`target.url = "…"  (DASHLOAD_TARGET_URL)`); the
    /// digest covers them, this says which they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// `[recovery]`, `[slo.recovery]`, `[slo.degradation]`: how the load past
    /// capacity and after it is judged (left out when all defaults).
    #[serde(default, skip_serializing_if = "PastCapacityRules::is_default")]
    pub past_capacity: PastCapacityRules,
    /// What the dashboard import left out of every load, and why (as `check`
    /// lists it): panels of other data sources, Flux on an InfluxQL-only target, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedQuery>,
    /// How each hold that lasts until judged ended (`windows` has its real
    /// times): judged, or at its cap with the figures still short.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judged_holds: Vec<JudgedHold>,
}

/// A hold written `"until judged, at most X"`, as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedHold {
    /// Its window's name (`stage 1 hold`, `step 2`).
    pub window: String,
    /// Its cap, ms.
    pub at_most_ms: u64,
    /// How long it held, ms.
    pub held_ms: u64,
    /// True when it ended because every figure had its samples; false when
    /// it reached its cap first (or the run ended before either).
    pub judged: bool,
    /// The figures still short of samples at its end (`dashboard_load.p95: 37 of 100 samples`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short: Vec<String>,
}

/// A panel, target or variable query of the dashboard that no load sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedQuery {
    /// `"<title>" (id <id>)` for a panel, `variable "<name>"` for a variable.
    pub what: String,
    /// Why it was left out.
    pub reason: String,
}

impl SkippedQuery {
    /// What the scenario's dashboard imports left out of every load, as
    /// `run.json` records it (one list for single and distributed runs).
    pub fn of(scenario: &crate::scenario::Scenario) -> Vec<SkippedQuery> {
        scenario
            .viewers
            .iter()
            .flat_map(|v| &v.dashboard.skipped)
            .map(|s| SkippedQuery {
                what: s.panel.clone(),
                reason: s.reason.clone(),
            })
            .collect()
    }
}

impl RunMeta {
    /// run.json as a run (single or distributed) starts: everything `scenario`
    /// says, the target (`sandbox_url`: the embedded sandbox it loads), the
    /// Goose plan and windows; not ended, nothing counted yet. The one place a
    /// new field gets its value for both kinds of run.
    pub fn start(
        scenario: &crate::scenario::Scenario,
        sandbox_url: Option<&str>,
        test_plan: String,
        windows: Vec<StageWindow>,
        started_at: DateTime<Utc>,
    ) -> RunMeta {
        let mut target = scenario.target.summary();
        if let Some(url) = sandbox_url {
            target.url = format!("{} (embedded sandbox)", url.trim_end_matches('/'));
        }
        RunMeta {
            dashload_version: env!("CARGO_PKG_VERSION").into(),
            scenario: scenario.name.clone(),
            scenario_file: scenario.path.display().to_string(),
            scenario_digest: scenario.digest.clone(),
            seed: scenario.seed,
            target,
            test_plan,
            sync_users: scenario.sync.users,
            windows,
            slos: scenario.slos.clone(),
            started_at,
            ended_at: None,
            interrupted: false,
            ladder_stop: None,
            counters: RunCounters::default(),
            regression: scenario.regression.clone(),
            overrides: scenario.overrides.clone(),
            past_capacity: scenario.past_capacity.clone(),
            skipped: SkippedQuery::of(scenario),
            judged_holds: Vec::new(),
        }
    }

    /// Read `run.json` from a run folder.
    pub fn load(run_dir: &Path) -> Result<RunMeta> {
        let path = run_dir.join(files::RUN_META);
        let text = input::read_text(&path, input::META_CAP)
            .and_then(|t| t.ok_or_else(|| std::io::ErrorKind::NotFound.into()))
            .map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Report(format!("{}: {e}", path.display())))
    }

    /// Write `run.json` into a run folder, atomically.
    pub fn store(&self, run_dir: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(anyhow::Error::from)?;
        write_atomic(&run_dir.join(files::RUN_META), &text)
    }
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename,
/// so `path` holds either the old content or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_name(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| Error::io(path, e))
}

/// The temporary name a file is written under before its rename: `.<name>.tmp`.
pub fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Create a new run folder `<parent>/<UTC time>-<scenario>`, never reusing one:
/// if the name exists, `-2`, `-3`, … is appended.
pub fn create_run_dir(parent: &Path, started: DateTime<Utc>, scenario: &str) -> Result<PathBuf> {
    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let safe: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("{}-{safe}", started.format("%Y%m%dT%H%M%SZ"));
    for n in 1.. {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let dir = parent.join(name);
        // create_dir (not create_dir_all) fails if the folder exists: no race, no overwrite.
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    unreachable!("the loop only ends by returning")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_counted_in_influxdb_json_and_grafana_frames() {
        let influx = br#"{"results":[{"statement_id":0,"series":[{"name":"time_entry","tags":{"project":"A"},"columns":["time","sum"],"values":[[1,2]]},{"name":"time_entry","tags":{"project":"B"},"columns":["time","sum"],"values":[[1,3]]}]},{"statement_id":1}]}"#;
        assert_eq!(
            AnswerTotals::series_in(influx, AnswerTotals::INFLUX_SERIES),
            2
        );
        let grafana = br#"{"results":{"A":{"status":200,"frames":[{"schema":{"fields":[]},"data":{"values":[]}},{"schema":{"fields":[]},"data":{"values":[]}},{"schema":{"fields":[]},"data":{"values":[]}}]}}}"#;
        assert_eq!(
            AnswerTotals::series_in(grafana, AnswerTotals::GRAFANA_FRAME),
            3
        );
        assert_eq!(
            AnswerTotals::series_in(
                br#"{"results":[{"statement_id":0}]}"#,
                AnswerTotals::INFLUX_SERIES
            ),
            0
        );
    }

    #[test]
    fn request_classes_follow_the_naming_contract() {
        assert_eq!(
            RequestClass::of("load Toggl time [7d]"),
            RequestClass::DashboardLoad
        );
        assert_eq!(
            RequestClass::of("panel Hours per project [24h]"),
            RequestClass::PanelQuery
        );
        assert_eq!(
            RequestClass::of("variable project"),
            RequestClass::VariableQuery
        );
        assert_eq!(
            RequestClass::of("dashboard toggl-overview"),
            RequestClass::DashboardFetch
        );
        assert_eq!(RequestClass::of("sync fetch"), RequestClass::SyncFetch);
        assert_eq!(RequestClass::of("sync write"), RequestClass::IngestBatch);
        assert_eq!(
            RequestClass::of("sync freshness"),
            RequestClass::IngestFreshness
        );
        assert_eq!(RequestClass::of("sync run"), RequestClass::SyncRun);
        assert_eq!(RequestClass::of("GET /"), RequestClass::Other);
        for class in RequestClass::ALL {
            assert_eq!(RequestClass::from_key(class.key()), Some(class));
        }
    }

    #[test]
    fn run_dirs_are_never_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = create_run_dir(tmp.path(), t, "staged").unwrap();
        let b = create_run_dir(tmp.path(), t, "staged").unwrap();
        assert_ne!(a, b);
        assert!(a.ends_with("20261123T100000Z-staged"));
        assert!(b.ends_with("20261123T100000Z-staged-2"));
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("run.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!temp_name(&path).exists());
    }
}
