//! `summary.json`: everything the report page states, as data for programs.
//!
//! The page, the terminal summary and `junit.xml` are all rendered from one
//! [`Summary`], so they cannot disagree; a baseline is compared through its own
//! `summary.json` when it has one. Latencies are milliseconds, error rates
//! fractions in 0..=1, times ms since the attack started unless named `_s`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::runfolder::{
    LadderStop, RequestClass, RunCounters, SkippedQuery, SloMetric, TargetSummary, WindowKind,
};

use super::collect::{ErrorKind, IngestAcc, InputStatus};
pub use super::latency::Latency;
pub use super::series::{Series, SeriesBucket};
pub use super::verdict::{SloVerdict, Verdict};

/// The version of this file's layout (`schema_version`, described by
/// `docs/summary.schema.json`): bumped when a field is removed, renamed or
/// changes meaning; adding a field also updates the schema file.
pub const SCHEMA_VERSION: u32 = 3;

/// Everything the report states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`] when written (`schema_version`; `schema` up to version 2).
    #[serde(rename = "schema_version", alias = "schema")]
    pub schema: u32,
    /// What ran, where and when.
    pub run: RunInfo,
    /// How much of each input file could be used.
    pub inputs: Inputs,
    /// All requests of the run.
    pub totals: Totals,
    /// Per class over the whole run.
    pub overall: Vec<ClassStats>,
    /// Per class over the judged (hold) windows together.
    pub judged: Vec<ClassStats>,
    /// Per stage or stress-step window.
    pub windows: Vec<WindowStats>,
    /// Every SLO on every window.
    pub slos: Vec<SloResult>,
    /// The run's verdict on its hold windows.
    pub verdict: Verdict,
    /// True when an SLO failed on a hold window, or `[slo.recovery]` or
    /// `[slo.degradation]` failed.
    pub slo_failed: bool,
    /// Why the run could not be judged although it asked to be (hold windows
    /// and SLOs, but too few samples or too many rows set aside): such a run
    /// is NOT JUDGED and fails (exit 1). `None` when it was judged, or had
    /// nothing to judge by design (no SLOs, no hold window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmeasured: Option<String>,
    /// A run that passed on the hold windows judged whole, while other holds
    /// lacked the samples for some SLO: which, and how many were needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partly_judged: Option<String>,
    /// The first stress step (by viewers) on which an SLO failed.
    #[serde(default)]
    pub first_break: Option<String>,
    /// Latency and throughput per hold window or stress step, by viewers.
    pub concurrency: Vec<ConcurrencyPoint>,
    /// The most viewers at which every SLO held (see `analyse::capacity`).
    pub capacity: Option<usize>,
    /// Capacity as a bracket: held at, failed at, why, and the headroom.
    #[serde(default)]
    pub capacity_bracket: Option<CapacityBracket>,
    /// Where more viewers stopped adding throughput (see `analyse::knee`).
    pub knee: Option<Knee>,
    /// Latency distribution per class over the whole run.
    pub distributions: Vec<Distribution>,
    /// Per request name.
    pub names: Vec<NameStats>,
    /// Failures by kind and message.
    pub errors: ErrorSummary,
    /// The sync job.
    pub sync: SyncStats,
    /// Over time, for the charts.
    pub series: Series,
    /// Latency over time per charted class, in buckets wide enough for its percentiles.
    #[serde(default)]
    pub latency_series: Vec<super::latency_series::LatencySeries>,
    /// Against a baseline run, when one was given.
    #[serde(default)]
    pub baseline: Option<Comparison>,
    /// True when a judged figure got worse than the baseline by more than the tolerance.
    #[serde(default)]
    pub regression: bool,
    /// How evenly the holds' load arrived and how busy the generator was.
    #[serde(default)]
    pub health: super::health::RunHealth,
    /// The target's own figures and the count check (`server.csv`), when scraped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<super::server::ServerSummary>,
    /// The `[recovery]` phase: its time to recover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoverySummary>,
    /// How the load past capacity went: graceful or a collapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degradation: Option<super::degradation::Degradation>,
    /// `[[faults]]` windows as they ran (`faults.json`), with what failed in each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::faults::FaultWindow>,
    /// `[live]`: what the live viewers measured (`report::live`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<super::live::LiveSummary>,
    /// A distributed run's workers (`cluster::merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<crate::cluster::merge::WorkerRow>>,
}

/// The `[recovery]` phase's time to recover (see `report::recovery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoverySummary {
    /// The phase's window (`recovery`).
    pub window: String,
    /// Viewers during the phase.
    pub viewers: usize,
    /// The drop, ms.
    pub start_ms: u64,
    /// The phase's end, ms.
    pub end_ms: u64,
    /// The sliding window's least length, ms.
    pub sliding_window_ms: u64,
    /// `recovered` (with `after_ms`), `not_recovered` (with `within_ms`) or
    /// `not_judged` (with `reason`).
    #[serde(flatten)]
    pub recovery: super::recovery::Recovery,
    /// SLOs left out: too few samples even over the whole phase.
    pub left_out: Vec<String>,
    /// `[slo.recovery] max`, ms, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    /// Against `max_ms`: pass, fail, or not judged; `None` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<SloVerdict>,
    /// In words: "viewers recovered after 10 s (±10 s) (dashboard load …,
    /// panel query …); ingest batch recovered after 25 s (±25 s)".
    pub sentence: String,
    /// Per request class with SLOs, its own time to recover on its own
    /// samples; the headline above is the viewers' (every viewer class back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRecovery>,
}

/// One request class's time to recover after the drop (see `report::recovery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRecovery {
    /// The class.
    pub class: RequestClass,
    /// `recovered` (with `after_ms` ± `resolution_ms`), `not_recovered` (with
    /// `within_ms`) or `not_judged` (with `reason`).
    #[serde(flatten)]
    pub recovery: super::recovery::Recovery,
    /// Its SLOs left out: too few samples even over the whole phase.
    pub left_out: Vec<String>,
    /// Its bound, ms: `[slo.recovery]`'s for the class, else `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    /// Against `max_ms`: pass, fail, or not judged; `None` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<SloVerdict>,
    /// In words: "dashboard load recovered after 10 s (±10 s) (allowed: 30 s)".
    pub sentence: String,
}

/// Capacity as a bracket: the most viewers that held, the fewest above them that
/// failed, the SLO that failed there, and the headroom against the planned load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityBracket {
    /// The most viewers of a window on which every SLO with data held (the capacity).
    pub held_viewers: Option<usize>,
    /// That window's name.
    pub held_window: Option<String>,
    /// The fewest viewers of a window on which an SLO failed.
    pub failed_viewers: Option<usize>,
    /// That window's name.
    pub failed_window: Option<String>,
    /// The SLO that failed there (the one furthest past its bound).
    pub failing_slo: Option<FailingSlo>,
    /// The most viewers of the planned stages (their holds).
    pub planned_peak: Option<usize>,
    /// `held_viewers / planned_peak`: 1.0 is no headroom, below 1 the plan does not hold.
    pub headroom: Option<f64>,
}

/// An SLO that failed, with what was observed against its bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailingSlo {
    /// The class judged.
    pub class: RequestClass,
    /// The figure judged.
    pub metric: SloMetric,
    /// What was observed.
    pub observed: f64,
    /// The bound.
    pub max: f64,
}

impl FailingSlo {
    /// `dashboard load error rate 6.10 % > 1.00 %`: an error rate with the
    /// SLO table's two decimals, so both cite the same figure.
    pub fn sentence(&self) -> String {
        let f = |v: f64| match self.metric {
            SloMetric::ErrorRate => super::format::percent(Some(v)),
            SloMetric::MsPerPoint => format!("{v:.4} ms/point"),
            _ => format!("{v:.0} ms"),
        };
        let metric = self.metric.label();
        format!(
            "{} {metric} {} > {}",
            self.class.label(),
            f(self.observed),
            f(self.max)
        )
    }
}

impl CapacityBracket {
    /// `held at 100, failed at 200 (dashboard load error rate 6.10 % > 1.00 %)`.
    pub fn sentence(&self) -> String {
        let held = self
            .held_viewers
            .map_or("held at no level".into(), |v| format!("held at {v}"));
        match (self.failed_viewers, &self.failing_slo) {
            (Some(f), Some(slo)) => format!("{held}, failed at {f} ({})", slo.sentence()),
            (Some(f), None) => format!("{held}, failed at {f}"),
            (None, _) => format!("{held}, no level failed"),
        }
    }

    /// `headroom 1.50 × the planned 100 viewers`, when there is a plan and a level that held.
    pub fn headroom_sentence(&self) -> Option<String> {
        Some(format!(
            "headroom {:.2} × the planned {} viewers",
            self.headroom?, self.planned_peak?
        ))
    }
}

/// What ran, where and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given.
    pub scenario_file: String,
    /// SHA-256 of the scenario file, hex.
    pub scenario_digest: String,
    /// dashload's version that ran.
    pub dashload_version: String,
    /// The seed.
    pub seed: u64,
    /// Where the load went (no secrets: only what `run.json` holds).
    pub target: TargetSummary,
    /// The Goose test plan.
    pub test_plan: String,
    /// When the attack started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it did.
    pub ended_at: Option<DateTime<Utc>>,
    /// How long it ran, seconds.
    pub duration_s: f64,
    /// The most dashboard viewers of any window.
    pub peak_viewers: usize,
    /// The most Goose users (viewers and sync users).
    pub peak_users: usize,
    /// Sync-job users.
    pub sync_users: usize,
    /// Cut short by Ctrl-C or a signal.
    pub interrupted: bool,
    /// Why the stress ladder stopped early, if it did.
    pub ladder_stop: Option<LadderStop>,
    /// Counters the users kept.
    pub counters: RunCounters,
    /// Dashboard panels, targets and variable queries no load sent, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedQuery>,
}

/// How much of each input file could be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// `requests.csv`.
    pub requests: InputStatus,
    /// `ingest.csv`.
    pub ingest: InputStatus,
    /// `report.json` (used only when the request log is missing or empty).
    pub goose_report: InputStatus,
    /// What the report could not use or show, in words.
    pub notes: Vec<String>,
}

/// The run's HTTP calls, and the operations dashload timed that are not calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// HTTP requests in the request log (operations left out).
    pub requests: u64,
    /// Failed HTTP requests.
    pub failed: u64,
    /// `failed / requests`, `None` without requests.
    pub error_rate: Option<f64>,
    /// HTTP calls made outside the request log (`run.json`'s counters: preflight,
    /// polls, …); with `requests`, every call the target answered.
    #[serde(default)]
    pub outside_log: u64,
    /// Requests the run's end cut off ("cancelled at run end"): left out of
    /// `requests`, `failed` and every latency.
    #[serde(default)]
    pub cancelled: u64,
    /// Panel queries the dashboards' next refresh replaced in flight: sent
    /// (the count check counts them), left out of `requests`, `failed` and
    /// every latency.
    #[serde(default)]
    pub replaced_by_refresh: u64,
    /// Rows that are not HTTP calls, per class: dashboard loads, sync transforms,
    /// sync runs, freshness lags, generated fetches.
    #[serde(default)]
    pub operations: Vec<Operation>,
}

/// Operations of one class that are not HTTP calls, and how many failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The class.
    pub class: RequestClass,
    /// Operations.
    pub count: u64,
    /// Failed operations.
    pub failed: u64,
    /// `failed / count`.
    pub error_rate: Option<f64>,
}

/// Requests of one class in one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// The class.
    pub class: RequestClass,
    /// Requests.
    pub count: u64,
    /// Failed requests.
    pub failed: u64,
    /// `failed / count`.
    pub error_rate: Option<f64>,
    /// Latency of the successful requests, ms; `None` when none is known.
    /// SLOs, charts and the capacity judge this one.
    pub latency: Option<Latency>,
    /// Latency of the failed requests, ms; `None` when none failed.
    #[serde(default)]
    pub failed_latency: Option<Latency>,
}

/// One stage or stress-step window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Its name in `run.json`.
    pub name: String,
    /// Ramp, hold or stress step.
    pub kind: WindowKind,
    /// Viewers at its end.
    pub viewers: usize,
    /// Start, ms.
    pub start_ms: u64,
    /// End, ms.
    pub end_ms: u64,
    /// HTTP requests started in it.
    pub requests: u64,
    /// Failed HTTP requests started in it.
    pub failed: u64,
    /// Successful HTTP requests per second, all classes.
    pub throughput_rps: f64,
    /// Successful viewer HTTP requests per second (sync job and dashboard
    /// loads left out).
    pub viewer_throughput_rps: f64,
    /// Per class present.
    pub classes: Vec<ClassStats>,
    /// Sync batches written in it.
    pub ingest: IngestAcc,
    /// Pass when every SLO with data held, fail when one failed.
    pub verdict: SloVerdict,
    /// Panel queries the dashboards' next refresh replaced in flight
    /// (`[viewers] busy_refresh = "cancel"`): sent, not in `requests`, no
    /// latency, no failure.
    #[serde(default)]
    pub replaced_by_refresh: u64,
}

/// One SLO judged on one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The window's name.
    pub window: String,
    /// Its kind.
    pub window_kind: WindowKind,
    /// True on hold windows: the run is judged on these.
    pub judged: bool,
    /// The class judged.
    pub class: RequestClass,
    /// The figure judged.
    pub metric: SloMetric,
    /// The bound.
    pub max: f64,
    /// What was observed, when there was data.
    pub observed: Option<f64>,
    /// Pass, fail or no data.
    pub verdict: SloVerdict,
    /// Why there is no data, when there is none.
    #[serde(default)]
    pub note: Option<String>,
}

/// One point of the concurrency charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencyPoint {
    /// The window.
    pub window: String,
    /// Hold or stress step.
    pub kind: WindowKind,
    /// Viewers.
    pub viewers: usize,
    /// Successful viewer requests per second.
    pub viewer_throughput_rps: f64,
    /// p95 per class present, ms.
    pub p95_ms: Vec<(RequestClass, f64)>,
    /// Whether every SLO with data held (`None`: no SLO had data).
    pub held: Option<bool>,
}

/// Where more viewers stop adding throughput.
///
/// With the windows sorted by viewers and the initial slope taken as
/// throughput ÷ viewers at the lowest window, the knee is at the last
/// viewers count before the first step whose added throughput per added
/// viewer is below `fraction` of the initial slope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Viewers at the knee (the last count that still scaled).
    pub viewers: usize,
    /// Viewers of the first step past it.
    pub next_viewers: usize,
    /// The window name of that step.
    pub next_window: String,
    /// That step's slope ÷ the initial slope.
    pub slope_ratio: f64,
    /// The fraction the slope fell below.
    pub fraction: f64,
}

/// Latency distribution of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// The class.
    pub class: RequestClass,
    /// Requests per latency bin, ten bins per decade.
    pub bins: Vec<Bin>,
    /// `(percentile, ms)`, percentile in 0..=100.
    pub percentiles: Vec<(f64, f64)>,
}

/// Requests with a latency in `[lo_ms, hi_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower bound, ms.
    pub lo_ms: f64,
    /// Upper bound, ms.
    pub hi_ms: f64,
    /// Requests.
    pub count: u64,
}

/// Requests recorded under one name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameStats {
    /// The Goose request name.
    pub name: String,
    /// Its class.
    pub class: RequestClass,
    /// The panel title, dashboard, variable, … (the name without its class word and range).
    pub subject: String,
    /// The time-range class (`7d`, …), when the name has one.
    pub range: Option<String>,
    /// Counts and latencies.
    pub stats: ClassStats,
    /// Counts and latencies per kind of window (ramp, hold, stress step).
    #[serde(default)]
    pub by_kind: Vec<(WindowKind, ClassStats)>,
    /// Panel queries: what a successful answer held on average (run.json's
    /// `counters.answers`; the request log does not carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<AnswerSize>,
}

/// The average successful answer of one request name.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnswerSize {
    /// Body bytes.
    pub bytes: f64,
    /// Series (InfluxDB) or data frames (Grafana).
    pub series: f64,
}

/// Failures by kind and message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSummary {
    /// All failures.
    pub total: u64,
    /// Per kind with failures.
    pub by_kind: Vec<(ErrorKind, u64)>,
    /// Messages, most frequent first.
    pub messages: Vec<ErrorMessage>,
    /// Failures whose message was not kept (too many distinct messages).
    pub other_messages: u64,
}

/// One distinct error message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// The message, cut to a few hundred characters.
    pub message: String,
    /// How often it occurred.
    pub count: u64,
}

/// The sync job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStats {
    /// From `ingest.csv` over the whole run.
    pub ingest: IngestAcc,
    /// Write time per point, ms.
    pub ms_per_point: Option<f64>,
    /// Points per second over the run.
    pub points_per_s: Option<f64>,
    /// Retries, split/dropped/doubled batches, backlog and freshness lag (`sync.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resilience: Option<super::sync_attempts::SyncResilience>,
}

/// A run against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline's run folder (the first of `runs`).
    pub dir: String,
    /// The baseline's scenario.
    pub scenario: String,
    /// When the baseline started.
    pub started_at: DateTime<Utc>,
    /// Every baseline run used (newest first when chosen from history). With
    /// more than one, each figure's baseline value is their median and the gate
    /// judges against their samples pooled.
    #[serde(default)]
    pub runs: Vec<BaselineRun>,
    /// How the baseline runs were chosen, when the run chose them
    /// (`--baseline last-passed` or `median:N`), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<String>,
    /// Relative worsening of p95/p99 that counts as a regression (0.10 = 10 %).
    pub tolerance: f64,
    /// Absolute worsening below which a latency change never counts, ms.
    pub latency_floor_ms: f64,
    /// Absolute rise of an error rate that counts as a regression.
    pub error_margin: f64,
    /// How sure the gate must be that a figure worsened beyond its tolerance.
    #[serde(default)]
    pub confidence: f64,
    /// The figures judged (`class.figure`); everything else is context.
    #[serde(default)]
    pub judged_figures: Vec<String>,
    /// Whole-run totals.
    pub totals: Vec<Delta>,
    /// Per hold window matched by name, per judged class.
    pub windows: Vec<Delta>,
    /// Per request name present in both.
    pub names: Vec<Delta>,
    /// Hold windows of this run with no namesake in the baseline.
    pub unmatched_windows: Vec<String>,
    /// The deltas that count as regressions, in words.
    pub regressions: Vec<String>,
    /// What the gate could have caught: per judged figure judged on at least
    /// one window, the smallest worsening it would have flagged there (the
    /// window where it sees best).
    #[serde(default)]
    pub reach: Vec<ReachFigure>,
    /// The verdict in one line, with what the gate could have caught: "no
    /// regression; +14 % on panel query p95 would have been caught".
    #[serde(default)]
    pub verdict: String,
}

/// The smallest worsening of one judged figure the gate would have flagged
/// at its confidence (see `report::regress::Reach`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReachFigure {
    /// `class.figure`, e.g. `panel_query.p95`.
    pub figure: String,
    /// The figure in words, e.g. `panel query p95`.
    pub label: String,
    /// The hold window it was seen best on.
    pub window: String,
    /// In the figure's unit: ms for a latency, a fraction for an error rate.
    pub detectable: Option<f64>,
    /// Relative, percent (latencies only).
    pub detectable_pct: Option<f64>,
}

/// One baseline run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRun {
    /// Its run folder.
    pub dir: String,
    /// Its scenario's name.
    pub scenario: String,
    /// Its scenario's SHA-256.
    pub scenario_digest: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// One figure against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Where: a window, a name or `run`.
    pub scope: String,
    /// What: `dashboard_load p95`, `error_rate`, …
    pub figure: String,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// This run's value.
    pub current: Option<f64>,
    /// `current - baseline`.
    pub change: Option<f64>,
    /// `change / baseline`, when the baseline is not 0.
    pub change_pct: Option<f64>,
    /// True when this delta is a regression.
    pub regression: bool,
    /// True when the figure is one the gate judges (it may still lack data).
    #[serde(default)]
    pub judged: bool,
    /// Share of bootstrap draws in which this run was worse beyond the
    /// tolerance: how sure the gate is that it regressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sure: Option<f64>,
    /// The bootstrap's 90 % interval of `current − baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
    /// The smallest worsening the gate would have flagged on this figure at
    /// its confidence, in the figure's unit (ms; a fraction for an error
    /// rate): what a "no regression" here could have seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable: Option<f64>,
    /// The same relative to the baseline's value, percent (latencies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectable_pct: Option<f64>,
    /// Why a judged figure was not judged (too few samples, …), or judged as
    /// another percentile in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
