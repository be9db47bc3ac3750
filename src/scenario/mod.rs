//! Scenario files: parse (`raw`), then resolve into typed, validated values.
//!
//! Every mistake a user can make in a scenario is caught here, before anything is
//! sent, and reported as `file:line:column: what is wrong (the offending value)`.

pub mod duration;
pub mod faults;
pub mod file;
pub mod hold;
pub mod limits;
pub mod live;
pub mod overrides;
mod queryable;
mod raw;
mod recovery;
pub mod secret;
mod server_metrics;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::runfolder::{
    JudgedFigure, RegressionRules, RequestClass, Slo, SloMetric, TargetSummary,
};
use crate::workload::dashboard::{Dashboard, TimeRange};
use duration::{parse_duration, parse_duration_range, parse_percent};
pub use limits::Limits;
pub use overrides::Overrides;
use raw::*;
pub use recovery::RecoveryPhase;
pub use secret::{Secret, SecretSource};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name (the file stem unless `name` is set); names run folders.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The file it came from.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub digest: String,
    /// Seed every generator derives from.
    pub seed: u64,
    /// Where the load goes.
    pub target: Target,
    /// Dashboard viewers, if the scenario has any.
    pub viewers: Option<Viewers>,
    /// `[live]`: viewers' Grafana Live sessions and their publisher.
    pub live: Option<live::LiveViewers>,
    /// The sync job.
    pub sync: SyncJob,
    /// Planned stages.
    pub stages: Vec<Stage>,
    /// The stress ladder past the last stage.
    pub stress: Option<Stress>,
    /// SLOs the run is judged on.
    pub slos: Vec<Slo>,
    /// How the run is judged against a baseline.
    pub regression: RegressionRules,
    /// The embedded sandbox's cost factors (only with the sandbox target).
    pub sandbox: SandboxTuning,
    /// `[limits]`: the load's size bounds this scenario was checked against.
    pub limits: Limits,
    /// The overrides applied (`--set`, `DASHLOAD_TARGET_*`), as `check` shows them.
    pub overrides: Vec<String>,
    /// `[export]` (or `DASHLOAD_EXPORT_URL`): the InfluxDB `--export influxdb` writes to.
    pub export: Option<Target>,
    /// `[server_metrics]`: the target's own metrics, scraped during the run.
    pub server_metrics: crate::server_metrics::ServerMetrics,
    /// `[recovery]`: back at a lower load after the stress ladder.
    pub recovery: Option<RecoveryPhase>,
    /// `[recovery] window`, `[slo.recovery]`, `[slo.degradation]`.
    pub past_capacity: crate::runfolder::PastCapacityRules,
    /// `[[faults]]`: faults on a schedule, in file order.
    pub faults: Vec<faults::Fault>,
}

/// `[sandbox]`: multipliers of the embedded sandbox's service time, so a test
/// can make the stand-in stack slower on purpose (1.0 = as calibrated).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SandboxTuning {
    /// Multiplies the extra busy time of every query.
    pub query_cost: f64,
    /// Multiplies the extra busy time of every write.
    pub write_cost: f64,
    /// `overload = "stall"`: past the query queue limit the sandbox stalls
    /// (requests wait, then time out) instead of refusing with 503s.
    pub stall: bool,
    /// `overload = "shed"`: a short query queue (16), so overload is
    /// refused with fast 503s before anyone waits long.
    pub shed: bool,
    /// Grafana Live connections the sandbox allows at once (default 100, as Grafana).
    pub live_max_connections: usize,
}

impl Default for SandboxTuning {
    fn default() -> Self {
        SandboxTuning {
            query_cost: 1.0,
            write_cost: 1.0,
            stall: false,
            shed: false,
            live_max_connections: crate::sandbox::http_live::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What kind of stack the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// The embedded stand-in, started inside the process.
    Sandbox,
    /// InfluxDB 1.x: `/query` and `/write`.
    Influxdb1,
    /// InfluxDB 2.x: `/api/v2/query` and `/api/v2/write`.
    Influxdb2,
    /// Grafana: `/api/ds/query`, dashboards from `/api/dashboards/uid/…`.
    Grafana,
}

impl TargetKind {
    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Sandbox => "sandbox",
            TargetKind::Influxdb1 => "influxdb1",
            TargetKind::Influxdb2 => "influxdb2",
            TargetKind::Grafana => "grafana",
        }
    }
}

/// How InfluxQL queries are sent to InfluxDB 1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMethod {
    /// `GET /query?q=…` (Grafana's default).
    Get,
    /// `POST /query` with a form body.
    Post,
}

/// Credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// None.
    None,
    /// HTTP basic auth.
    Basic {
        /// User name (not secret).
        username: String,
        /// Password.
        password: Secret,
    },
    /// A token (`Authorization: Token …` for InfluxDB, `Bearer …` for Grafana).
    Token(Secret),
}

/// A resolved target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Kind.
    pub kind: TargetKind,
    /// Base URL; `None` for the sandbox until it has started.
    pub url: Option<url::Url>,
    /// Database (InfluxDB 1.x), default `toggl`.
    pub database: String,
    /// Retention policy, when not the default.
    pub retention_policy: Option<String>,
    /// GET or POST for `/query`.
    pub query_method: QueryMethod,
    /// Credentials.
    pub auth: Auth,
    /// InfluxDB 2.x organisation.
    pub org: Option<String>,
    /// InfluxDB 2.x bucket.
    pub bucket: Option<String>,
    /// Grafana data source uid (overrides the dashboard's).
    pub datasource_uid: Option<String>,
    /// `[target.datasources]`: the dashboard's `__inputs` (`DS_INFLUXDB`) → Grafana
    /// data source uid; preflight adds what it resolves from `/api/datasources`.
    pub datasources: BTreeMap<String, String>,
    /// Grafana organisation id.
    pub org_id: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Largest answer read (bytes); a longer one fails (`max_body`).
    pub max_body: u64,
    /// Where writes go when not to this target (Grafana's InfluxDB).
    pub write: Option<Box<Target>>,
}

impl Target {
    /// The target as reports may show it: no credentials.
    pub fn summary(&self) -> TargetSummary {
        let url = self
            .url
            .as_ref()
            .map(|u| {
                let mut u = u.clone();
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.as_str().trim_end_matches('/').to_string()
            })
            .unwrap_or_else(|| "(embedded)".into());
        TargetSummary {
            kind: self.kind.name().into(),
            url,
            database: Some(self.database.clone()),
        }
    }

    /// The target that receives writes.
    pub fn write_target(&self) -> &Target {
        self.write.as_deref().unwrap_or(self)
    }
}

/// A weighted time range, as Grafana's time picker writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedRange {
    /// e.g. `now-7d`.
    pub from: String,
    /// e.g. `now`.
    pub to: String,
    /// Relative weight, ≥ 1.
    pub weight: u32,
}

/// How often a viewer picks All, one value, or a few values for a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableMix {
    /// Weight of All.
    pub all: u32,
    /// Weight of a single value.
    pub one: u32,
    /// Weight of two or three values.
    pub some: u32,
    /// Pinned: every viewer selects this value (`$__all`: All).
    pub value: Option<String>,
}

/// The dashboard viewers.
#[derive(Debug, Clone)]
pub struct Viewers {
    /// The dashboard file.
    pub dashboard_path: PathBuf,
    /// The dashboard they open.
    pub dashboard: Dashboard,
    /// Panel queries in flight at once per viewer (a browser's per-host limit).
    pub max_parallel: usize,
    /// Auto-refresh period; `None` disables auto-refresh.
    pub refresh: Option<Duration>,
    /// Auto-refreshes watched before the viewer changes the time range.
    pub refreshes_per_visit: u32,
    /// What a refresh tick does while the previous load is still running.
    pub busy_refresh: BusyRefresh,
    /// Think time between visits, uniformly drawn from this range.
    pub think_time: (Duration, Duration),
    /// Only query panels in the first screen (lazy loading).
    pub first_screen_only: bool,
    /// Time-range mix.
    pub time_ranges: Vec<WeightedRange>,
    /// Variable-choice mix per variable name.
    pub variables: BTreeMap<String, VariableMix>,
    /// Where the Grafana version whose rules expand the queries
    /// ([`Dashboard::grafana`]) comes from.
    pub grafana_source: GrafanaSource,
}

/// What an auto-refresh tick does while the previous load still runs
/// (`[viewers] busy_refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusyRefresh {
    /// Cancel the queries in flight and load again, as Grafana does (its
    /// query runners unsubscribe the running query before sending the new
    /// one, and the browser aborts the HTTP request).
    Cancel,
    /// Let the load finish and miss the tick: a self-throttling load no
    /// browser makes. Still the default: a replaced load is a failure, not a
    /// latency sample, so a latency rule at or above the refresh interval
    /// (`stop_when = "p95 > 2s"` with a 2 s refresh) could never trip under
    /// "cancel" until replaced loads count against percentiles.
    #[default]
    Skip,
}

impl BusyRefresh {
    fn parse(text: &str) -> std::result::Result<BusyRefresh, String> {
        match text {
            "cancel" => Ok(BusyRefresh::Cancel),
            "skip" => Ok(BusyRefresh::Skip),
            other => Err(format!(
                "busy_refresh: expected \"cancel\" (what Grafana does) or \"skip\", found {other:?}"
            )),
        }
    }
}

/// Where the emulated Grafana version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrafanaSource {
    /// None given: the newest rules.
    Newest,
    /// `[viewers] grafana = "11.3"`.
    Scenario,
    /// A grafana target's `/api/health` (at run time, or `check --probe`).
    Target,
}

/// Where the sync job gets entries.
#[derive(Debug, Clone)]
pub enum SyncSource {
    /// Generated in-process (seeded).
    Generate,
    /// Fetched from a Toggl-compatible API (`None`: the sandbox's).
    Toggl {
        /// Base URL of the API; `None` means the sandbox.
        url: Option<url::Url>,
        /// API token.
        token: Option<Secret>,
    },
    /// The stack's own sync service: POST a trigger, poll a status until done.
    Trigger(Trigger),
}

/// How to drive a stack's own sync service.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The service's base URL.
    pub url: url::Url,
    /// `POST` here starts a sync.
    pub trigger_path: String,
    /// `GET` here answers JSON whose `status_field` says how the sync is going.
    pub status_path: String,
    /// The status field.
    pub status_field: String,
    /// Its value once the sync is done.
    pub done_value: String,
    /// Its value when the sync failed.
    pub failed_value: String,
    /// The longest a sync may take before it counts as failed.
    pub timeout: Duration,
    /// Bearer token, if the service wants one.
    pub token: Option<Secret>,
}

/// The sync job.
#[derive(Debug, Clone)]
pub struct SyncJob {
    /// How many sync users run (fixed for the whole run).
    pub users: usize,
    /// Where entries come from.
    pub source: SyncSource,
    /// Entries per sync.
    pub entries_per_sync: u32,
    /// Points per batch write.
    pub batch_size: u32,
    /// Gzip batch bodies.
    pub gzip: bool,
    /// Pause between syncs.
    pub interval: Duration,
    /// After each sync, poll until its newest point is visible to a query and
    /// record the lag as `sync freshness`.
    pub freshness: bool,
}

/// A planned stage: ramp to `users` viewers, then hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// Dashboard viewers.
    pub users: usize,
    /// Time to reach them.
    pub ramp: Duration,
    /// Time to hold them: the cap of an until-judged hold.
    pub hold: Duration,
    /// `hold = "until judged, at most X"`: the hold ends once every SLO and
    /// regression figure of its window has its samples, `hold` at the latest.
    pub until_judged: bool,
}

/// The stress ladder: keep adding `step` viewers until `ceiling` or `stop_when` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stress {
    /// Viewers added per step.
    pub step: usize,
    /// Ramp time of each step.
    pub ramp: Duration,
    /// Hold time of each step: the cap of an until-judged hold.
    pub hold: Duration,
    /// `hold = "until judged, at most X"`: each step's hold ends once every SLO
    /// and stop-rule term has its samples, `hold` at the latest.
    pub until_judged: bool,
    /// The most viewers the ladder reaches.
    pub ceiling: usize,
    /// The ladder stops when any of these is exceeded over the current step,
    /// a percentile judged on the successful requests as written…
    pub stop_when: Vec<Slo>,
    /// …unless `stop_on_failure_share = true`: then a percentile term also
    /// stops it when more requests failed than the share it leaves beyond
    /// its bound (as the report judges an SLO).
    pub stop_on_failure_share: bool,
    /// Bisection steps between the last held and the first failed level once the
    /// ladder stops (0–10; each is a `ramp` then a `hold`, judged by `stop_when`).
    pub refine: usize,
}

/// The most bisection steps `[stress] refine` may ask for.
pub const MAX_REFINE: usize = 10;

impl Stress {
    /// The ladder's stop rule, as the live judge applies it.
    pub fn stop_rule(&self) -> crate::live::StopRule {
        crate::live::StopRule {
            when: self.stop_when.clone(),
            failure_share: self.stop_on_failure_share,
        }
    }
}

impl Scenario {
    /// Read, parse and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        Scenario::load_with(path, &Overrides::none())
    }

    /// Read a scenario file, apply `overrides`, then parse and validate the result.
    pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Scenario> {
        let shown = path.display().to_string();
        let bytes = file::read_capped(path, file::MAX_SCENARIO_BYTES, "scenario")
            .map_err(|m| Error::config(&shown, m))?;
        let text = file::utf8(bytes).map_err(|(line, column, why)| {
            Error::config(
                format!("{shown}:{line}:{column}"),
                format!("scenario is {why}"),
            )
        })?;
        Scenario::parse_with(&text, path, overrides)
    }

    /// Parse and validate scenario text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario> {
        Scenario::parse_with(text, path, &Overrides::none())
    }

    /// [`Scenario::parse`] with `overrides` applied to the text first: every value
    /// they set is validated as if written in the file.
    pub fn parse_with(text: &str, path: &Path, overrides: &Overrides) -> Result<Scenario> {
        if overrides.is_empty() {
            let ctx = Ctx {
                file: path,
                text,
                applied: None,
                digest_extra: String::new(),
            };
            let raw: RawScenario = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
            return ctx.resolve(raw);
        }
        let applied = match overrides.apply(text, &path.display().to_string()) {
            Ok(a) => a,
            // Not TOML as written: the plain parser locates the mistake.
            Err(Error::Config { .. }) => return Scenario::parse(text, path),
            Err(e) => return Err(e),
        };
        let ctx = Ctx {
            file: path,
            text: &applied.text,
            applied: Some(&applied),
            digest_extra: overrides.digest_input(),
        };
        let raw: RawScenario = toml::from_str(&applied.text).map_err(|e| ctx.toml_error(&e))?;
        let mut scenario = ctx.resolve(raw)?;
        scenario.overrides = overrides.iter().map(|o| o.describe()).collect();
        Ok(scenario)
    }

    /// Dashboard viewers at the end of the last stage (0 without stages).
    pub fn planned_peak(&self) -> usize {
        self.stages.iter().map(|s| s.users).max().unwrap_or(0)
    }
}

/// Why a `name` with a newline or another control character is refused.
const NAME_ONE_LINE: &str =
    "`name` must be one line of text: no newline, tab or other control character";

/// Resolution context: the file, for locations.
struct Ctx<'a> {
    file: &'a Path,
    /// The text parsed (the file, overrides applied).
    text: &'a str,
    /// The overrides' edits, to locate a span in the file or in an override.
    applied: Option<&'a overrides::Applied>,
    /// What the digest adds to the file's bytes (the overrides, sorted).
    digest_extra: String,
}

impl Ctx<'_> {
    fn location(&self, span: Range<usize>) -> String {
        self.located(span, true)
    }

    /// `file:line:column`, or the override that wrote `span` (with its value
    /// when `with_value`).
    fn located(&self, span: Range<usize>, with_value: bool) -> String {
        let (text, start) = match self.applied.map(|a| (a, a.origin(span.start))) {
            Some((_, overrides::Origin::Override(o))) if with_value => return o.shown(),
            Some((_, overrides::Origin::Override(o))) => return o.shown_without_value(),
            Some((a, overrides::Origin::File(pos))) => (a.original.as_str(), pos),
            None => (self.text, span.start),
        };
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let (line, column) = file::line_column(&text[..start]);
        format!("{}:{line}:{column}", self.file.display())
    }

    /// SHA-256 of the file's bytes, and of the overrides when there are any: a
    /// run with other values is not compared with one without them.
    fn digest(&self) -> String {
        let Some(applied) = self.applied else {
            return hex::encode(Sha256::digest(self.text.as_bytes()));
        };
        if self.digest_extra.is_empty() {
            return hex::encode(Sha256::digest(applied.original.as_bytes()));
        }
        let mut h = Sha256::new();
        h.update(applied.original.as_bytes());
        h.update(b"\0dashload overrides\n");
        h.update(self.digest_extra.as_bytes());
        hex::encode(h.finalize())
    }

    /// `span`, widened to the whole number when it marks only where one starts
    /// (TOML's "number too large" points at its first digit).
    fn token(&self, span: Range<usize>) -> Range<usize> {
        let Some(rest) = self.text.get(span.start..) else {
            return span;
        };
        if span.len() > 1 || !rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        {
            return span;
        }
        let len = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}' | '#'))
            .unwrap_or(rest.len());
        span.start..span.start + len
    }

    fn err<T>(&self, span: Range<usize>, message: impl Into<String>) -> Result<T> {
        Err(Error::config(self.location(span), message))
    }

    /// An http(s) URL without credentials in it (they belong in the
    /// password/token fields, read from the environment or a file).
    fn http_url(&self, u: &Spanned<String>) -> Result<url::Url> {
        let parsed = url::Url::parse(u.get_ref())
            .or_else(|e| self.err(u.span(), format!("`{}` is not a URL: {e}", u.get_ref())))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return self.err(
                u.span(),
                format!("`{}`: only http and https URLs", u.get_ref()),
            );
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return self.err(
                u.span(),
                "credentials must not be written in the URL: use password_env/password_file or token_env/token_file",
            );
        }
        Ok(parsed)
    }

    fn toml_error(&self, e: &toml::de::Error) -> Error {
        let mut message = e.message().trim_end().to_string();
        let Some(span) = e.span() else {
            // Every TOML error carries a span; should one not, the file still names it.
            return Error::config(format!("{}:1:1", self.file.display()), message);
        };
        // A key the scenario does not know: its value is not echoed (a secret
        // given under a misspelt key must not be printed).
        if message.starts_with("unknown field") {
            return Error::config(self.located(span, false), message);
        }
        // Echo the offending value (`seed = 99999999999999999999999`: "number too
        // large"), when it is short, on one line and not already quoted.
        if let Some(value) = self.text.get(self.token(span.clone())) {
            let value = value.trim();
            if !value.is_empty()
                && value.len() <= 80
                && !value.contains('\n')
                && !message.contains(value)
            {
                message.push_str(&format!(" (`{value}`)"));
            }
        }
        Error::config(self.location(span), message)
    }

    fn duration(&self, value: &Spanned<String>) -> Result<Duration> {
        parse_duration(value.get_ref()).or_else(|m| self.err(value.span(), m))
    }

    /// A stage or step duration: whole seconds, since Goose's test plan has no finer unit.
    fn plan_duration(&self, value: &Spanned<String>) -> Result<Duration> {
        let d = self.duration(value)?;
        if d.subsec_nanos() != 0 {
            return self.err(
                value.span(),
                format!(
                    "`{}`: stage and step durations are whole seconds",
                    value.get_ref()
                ),
            );
        }
        Ok(d)
    }

    fn relative(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.file.parent().unwrap_or(Path::new(".")).join(p)
        }
    }

    fn secret(
        &self,
        env: &Option<Spanned<String>>,
        file: &Option<Spanned<String>>,
    ) -> Result<Option<Secret>> {
        let (source, span) = match (env, file) {
            (Some(e), Some(f)) => {
                return self.err(
                    f.span(),
                    format!("give `{}` or a file, not both", e.get_ref()),
                )
            }
            (Some(e), None) => {
                // Commands dashload runs (fault commands) never inherit it.
                crate::redact::register_variable(e.get_ref());
                (SecretSource::Env(e.get_ref().clone()), e.span())
            }
            (None, Some(f)) => (SecretSource::File(self.relative(f.get_ref())), f.span()),
            (None, None) => return Ok(None),
        };
        source.read().map(Some).or_else(|m| self.err(span, m))
    }

    fn resolve(&self, mut raw: RawScenario) -> Result<Scenario> {
        let export = self.export(raw.export.take())?;
        let name = match &raw.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return self.err(n.span(), "`name` must not be empty")
            }
            // It names the run folder and heads every report, log line and
            // JUnit suite: one line of text.
            Some(n) if n.get_ref().chars().any(char::is_control) => {
                return self.err(n.span(), NAME_ONE_LINE)
            }
            Some(n) => n.get_ref().clone(),
            None => self
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "scenario".into()),
        };
        let limits = self.limits(raw.limits.as_ref())?;
        let target = match &raw.target {
            Some(t) if t.get_ref().url.is_none() && self.needs_url(t.get_ref()) => {
                // Said apart: a staging scenario leaves the URL to the environment.
                return self.err(
                    t.span(),
                    format!(
                        "target kind `{}` needs a `url`: write it in [target], or give it with DASHLOAD_TARGET_URL=… or --set target.url=…",
                        t.get_ref().kind.as_ref().map_or("", |k| k.get_ref().as_str())
                    ),
                );
            }
            Some(t) => self.target(t.get_ref(), t.span())?,
            None => self.target(&RawTarget::default(), 0..0)?,
        };
        let viewers = raw
            .viewers
            .as_ref()
            .map(|v| self.viewers(v, target.kind))
            .transpose()?;
        if let (Some(v), Some(t)) = (&viewers, &raw.target) {
            self.check_inputs(t.get_ref(), &v.dashboard)?;
        }
        let live = self.live(raw.live.as_ref(), viewers.as_ref(), target.kind)?;
        let sync = self.sync(raw.sync.as_ref())?;
        if target.kind == TargetKind::Grafana && target.write.is_none() && sync.users > 0 {
            let span = raw.target.as_ref().map_or(0..0, |t| t.span());
            return self.err(
                span,
                "the sync job writes to InfluxDB, not Grafana: add [target.write] (the InfluxDB behind Grafana) or set [sync] users = 0",
            );
        }
        let stages = raw
            .stages
            .iter()
            .map(|s| self.stage(s))
            .collect::<Result<Vec<_>>>()?;
        if viewers.is_none() {
            if let Some(s) = raw.stages.iter().find(|s| *s.get_ref().users.get_ref() > 0) {
                return self.err(
                    s.span(),
                    "stages add dashboard viewers, but there is no [viewers] table",
                );
            }
        }
        let stress = raw
            .stress
            .as_ref()
            .map(|s| self.stress(s, &stages))
            .transpose()?;
        self.check_load(&raw, &limits, &stages, stress.as_ref(), &sync)?;
        let mut slos = Vec::new();
        let recovery = self.recovery(raw.recovery.as_ref(), &stages, stress.as_ref())?;
        let past_capacity = self.past_capacity(&raw.slo, recovery.as_ref(), stress.is_some())?;
        for (class, set) in &raw.slo {
            if !recovery::SECTIONS.contains(&class.get_ref().as_str()) {
                slos.extend(self.slo_set(class, set)?);
            }
        }
        let regression = raw
            .regression
            .as_ref()
            .map(|r| self.regression(r))
            .transpose()?
            .unwrap_or_default();
        let sandbox = match &raw.sandbox {
            Some(s) => self.sandbox_tuning(s, target.kind)?,
            None => SandboxTuning::default(),
        };
        let faults = self.faults(
            &raw.faults,
            target.kind,
            &crate::plan::Plan::build(&stages, stress.as_ref(), sync.users).windows,
        )?;
        if !faults.is_empty() {
            // Faults fire on the planned clock; an until-judged hold moves the
            // windows after it earlier, so a fault would land in the wrong one.
            let until = raw
                .stages
                .iter()
                .zip(&stages)
                .find(|(_, s)| s.until_judged)
                .map(|(r, _)| r.get_ref().hold.span())
                .or_else(|| {
                    raw.stress
                        .as_ref()
                        .zip(stress.as_ref())
                        .filter(|(_, s)| s.until_judged)
                        .map(|(r, _)| r.get_ref().hold.span())
                });
            if let Some(span) = until {
                return self.err(
                    span,
                    "a hold until judged moves the windows after it, but [[faults]] are scheduled on the planned windows: give this hold a fixed length, or run the faults in a scenario of their own",
                );
            }
        }
        Ok(Scenario {
            name,
            description: raw.description,
            path: self.file.to_path_buf(),
            digest: self.digest(),
            seed: raw.seed.unwrap_or(42),
            target,
            viewers,
            live,
            sync,
            stages,
            stress,
            slos,
            regression,
            sandbox,
            limits,
            overrides: Vec::new(),
            export,
            server_metrics: self.server_metrics(raw.server_metrics.as_ref())?,
            recovery,
            past_capacity,
            faults,
        })
    }

    /// `[export]`: an influxdb1 (the default) or influxdb2 target's keys, checked as a
    /// target's are; what only a load target has is refused.
    fn export(&self, raw: Option<Spanned<RawTarget>>) -> Result<Option<Target>> {
        let Some(raw) = raw else { return Ok(None) };
        let span = raw.span();
        let mut t = raw.into_inner();
        match t.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
            None => t.kind = Some(Spanned::new(span.clone(), "influxdb1".to_string())),
            Some(("influxdb1" | "influxdb2", _)) => {}
            Some((other, s)) => {
                return self.err(
                    s,
                    format!("[export] kind `{other}`: expected influxdb1 or influxdb2"),
                )
            }
        }
        let load_only = [
            ("write", t.write.is_some()),
            ("datasources", t.datasources.is_some()),
            ("datasource_uid", t.datasource_uid.is_some()),
            ("query_method", t.query_method.is_some()),
        ];
        if let Some((key, _)) = load_only.iter().find(|(_, set)| *set) {
            return self.err(
                span,
                format!("[export] takes no `{key}` (only a load target has it)"),
            );
        }
        if t.url.is_none() {
            return self.err(
                span,
                "[export] needs a `url`: write it in [export], or give it with DASHLOAD_EXPORT_URL=… or --set export.url=…",
            );
        }
        self.target(&t, span).map(Some)
    }

    /// A known target kind other than the sandbox (the kind's own check says the rest).
    fn needs_url(&self, raw: &RawTarget) -> bool {
        raw.kind
            .as_ref()
            .is_some_and(|k| matches!(k.get_ref().as_str(), "influxdb1" | "influxdb2" | "grafana"))
    }

    fn regression(&self, raw: &Spanned<RawRegression>) -> Result<RegressionRules> {
        let r = raw.get_ref();
        let mut rules = RegressionRules::default();
        let percent = |v: &Spanned<String>| -> Result<f64> {
            parse_percent(v.get_ref()).or_else(|m| self.err(v.span(), m))
        };
        if let Some(v) = &r.latency {
            rules.latency = percent(v)?;
        }
        if let Some(v) = &r.latency_floor {
            let floor = self.duration_in(v, limits::LATENCY_FLOOR, "latency_floor")?;
            rules.latency_floor_ms = floor.as_secs_f64() * 1000.0;
        }
        if let Some(v) = &r.error_rate {
            rules.error_rate = percent(v)?;
        }
        if let Some(v) = &r.confidence {
            let c = percent(v)?;
            if !(0.5..=0.999).contains(&c) {
                return self.err(
                    v.span(),
                    format!("confidence `{}` must be between 50% and 99.9%", v.get_ref()),
                );
            }
            rules.confidence = c;
        }
        for f in &r.figures {
            let text = f.get_ref();
            let parsed = text.split_once('.').and_then(|(class, metric)| {
                let class = RequestClass::from_key(class)?;
                let metric = match metric {
                    "p50" => SloMetric::P50,
                    "p95" => SloMetric::P95,
                    "p99" => SloMetric::P99,
                    "error_rate" => SloMetric::ErrorRate,
                    _ => return None,
                };
                Some(JudgedFigure { class, metric })
            });
            match parsed {
                Some(fig) => rules.figures.push(fig),
                None => {
                    return self.err(
                        f.span(),
                        format!("`{text}` is not a figure: expected <class>.<p50|p95|p99|error_rate>, e.g. panel_query.p95"),
                    )
                }
            }
        }
        Ok(rules)
    }

    fn sandbox_tuning(&self, raw: &Spanned<RawSandbox>, kind: TargetKind) -> Result<SandboxTuning> {
        if kind != TargetKind::Sandbox {
            return self.err(
                raw.span(),
                format!(
                    "[sandbox] tunes the embedded sandbox, but the target is {}",
                    kind.name()
                ),
            );
        }
        let mut tuning = SandboxTuning::default();
        for (value, slot) in [
            (&raw.get_ref().query_cost, &mut tuning.query_cost),
            (&raw.get_ref().write_cost, &mut tuning.write_cost),
        ] {
            if let Some(v) = value {
                let f = *v.get_ref();
                if !(0.01..=100.0).contains(&f) {
                    return self.err(
                        v.span(),
                        format!("cost factor {f} must be between 0.01 and 100"),
                    );
                }
                *slot = f;
            }
        }
        if let Some(n) = &raw.get_ref().live_max_connections {
            const MOST: i64 = 1_000_000;
            if !(1..=MOST).contains(n.get_ref()) {
                return self.err(
                    n.span(),
                    format!(
                        "live_max_connections {} must be between 1 and {MOST}",
                        n.get_ref()
                    ),
                );
            }
            tuning.live_max_connections = *n.get_ref() as usize;
        }
        if let Some(o) = &raw.get_ref().overload {
            match o.get_ref().as_str() {
                "queue" => {}
                "shed" => tuning.shed = true,
                "stall" => tuning.stall = true,
                other => {
                    return self.err(
                        o.span(),
                        format!(
                            "overload `{other}`: expected queue (the default: 503 past a 64-deep queue), shed (fast 503s) or stall (never refuse)"
                        ),
                    )
                }
            }
        }
        Ok(tuning)
    }

    /// Every `[target.datasources]` key names a data-source input of the dashboard.
    fn check_inputs(&self, raw: &RawTarget, dashboard: &Dashboard) -> Result<()> {
        for name in raw.datasources.iter().flat_map(|m| m.keys()) {
            if !dashboard.inputs.iter().any(|i| &i.name == name.get_ref()) {
                let known: Vec<&str> = dashboard.inputs.iter().map(|i| i.name.as_str()).collect();
                let known = if known.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("it has {}", known.join(", "))
                };
                return self.err(
                    name.span(),
                    format!(
                        "`{}` is not a data-source input (__inputs) of the dashboard: {known}",
                        name.get_ref()
                    ),
                );
            }
        }
        Ok(())
    }

    fn target(&self, raw: &RawTarget, span: Range<usize>) -> Result<Target> {
        let kind = match &raw.kind {
            None => TargetKind::Sandbox,
            Some(k) => match k.get_ref().as_str() {
                "sandbox" => TargetKind::Sandbox,
                "influxdb1" => TargetKind::Influxdb1,
                "influxdb2" => TargetKind::Influxdb2,
                "grafana" => TargetKind::Grafana,
                other => {
                    return self.err(
                        k.span(),
                        format!("unknown target kind `{other}`: expected sandbox, influxdb1, influxdb2 or grafana"),
                    )
                }
            },
        };
        let url = match &raw.url {
            Some(u) => Some(self.http_url(u)?),
            None if kind == TargetKind::Sandbox => None,
            None => return self.err(span, format!("target kind `{}` needs a `url`", kind.name())),
        };
        if kind == TargetKind::Sandbox && url.is_some() {
            let u = raw.url.as_ref().expect("checked above");
            return self.err(
                u.span(),
                "the sandbox target starts inside dashload and takes no `url`",
            );
        }
        let password = self.secret(&raw.password_env, &raw.password_file)?;
        let token = self.secret(&raw.token_env, &raw.token_file)?;
        let auth = match (raw.username.clone(), password, token) {
            (_, Some(_), Some(_)) => return self.err(span, "give a password or a token, not both"),
            (Some(username), Some(password), None) => Auth::Basic { username, password },
            (None, Some(_), None) => return self.err(span, "a password needs a `username`"),
            (_, None, Some(token)) => Auth::Token(token),
            (_, None, None) => Auth::None,
        };
        let query_method = match raw
            .query_method
            .as_ref()
            .map(|m| (m.get_ref().to_ascii_uppercase(), m.span()))
        {
            None => QueryMethod::Get,
            Some((m, _)) if m == "GET" => QueryMethod::Get,
            Some((m, _)) if m == "POST" => QueryMethod::Post,
            Some((m, s)) => {
                return self.err(s, format!("query_method `{m}`: expected GET or POST"))
            }
        };
        let timeout = match &raw.timeout {
            Some(t) => self.duration_in(t, limits::TIMEOUT, "timeout")?,
            None => Duration::from_secs(30),
        };
        let max_body = match &raw.max_body {
            Some(m) => match crate::target::body::parse_size(m.get_ref()) {
                Ok(n) if (1024..=1 << 32).contains(&n) => n,
                Ok(_) => {
                    return self.err(
                        m.span(),
                        format!("max_body `{}`: expected 1 KB to 4 GB", m.get_ref()),
                    )
                }
                Err(e) => return self.err(m.span(), format!("max_body {e}")),
            },
            None => crate::target::body::DEFAULT_MAX_BODY,
        };
        if kind == TargetKind::Influxdb2 {
            for (key, value) in [("org", &raw.org), ("bucket", &raw.bucket)] {
                if value.as_deref().is_none_or(str::is_empty) {
                    return self.err(span, format!("target kind `influxdb2` needs `{key}`"));
                }
            }
            if !matches!(auth, Auth::Token(_)) {
                return self.err(
                    span,
                    "target kind `influxdb2` needs an API token: token_env or token_file",
                );
            }
        }
        let write = match &raw.write {
            Some(w) => {
                let t = self.target(w.get_ref(), w.span())?;
                if t.kind == TargetKind::Grafana || t.kind == TargetKind::Sandbox {
                    return self.err(
                        w.span(),
                        "[target.write] must be an influxdb1 or influxdb2 target",
                    );
                }
                Some(Box::new(t))
            }
            None => None,
        };
        let mut datasources = BTreeMap::new();
        for (name, uid) in raw.datasources.iter().flatten() {
            if kind != TargetKind::Grafana {
                return self.err(
                    name.span(),
                    "`datasources` maps a dashboard's __inputs to Grafana data sources: only a grafana target has them",
                );
            }
            if uid.get_ref().trim().is_empty() {
                return self.err(
                    uid.span(),
                    format!("data source uid for `{}` is empty", name.get_ref()),
                );
            }
            datasources.insert(name.get_ref().clone(), uid.get_ref().clone());
        }
        Ok(Target {
            kind,
            url,
            database: raw.database.clone().unwrap_or_else(|| "toggl".into()),
            retention_policy: raw.retention_policy.clone(),
            query_method,
            auth,
            org: raw.org.clone(),
            bucket: raw.bucket.clone(),
            datasource_uid: raw.datasource_uid.clone(),
            datasources,
            org_id: raw.org_id.unwrap_or(1),
            timeout,
            max_body,
            write,
        })
    }

    fn viewers(&self, raw: &Spanned<RawViewers>, kind: TargetKind) -> Result<Viewers> {
        let v = raw.get_ref();
        let dashboard_path = self.relative(v.dashboard.get_ref());
        let mut dashboard = crate::workload::dashboard::load(&dashboard_path).map_err(|e| {
            // A dashboard error is located in the dashboard file; say which scenario line named it.
            let why = match e {
                Error::Config { location, message } => format!("{location}: {message}"),
                other => other.to_string(),
            };
            Error::config(
                self.location(v.dashboard.span()),
                format!("dashboard `{}`: {why}", v.dashboard.get_ref()),
            )
        })?;
        let max_parallel = match &v.max_parallel {
            Some(m) => self.count_in(m, limits::MAX_PARALLEL, "max_parallel")? as usize,
            None => 6,
        };
        let refresh = match &v.refresh {
            Some(r) if r.get_ref() == "off" => None,
            Some(r) => Some(self.duration_in(r, limits::REFRESH, "refresh")?),
            None => match dashboard.refresh {
                Some(d) if !limits::REFRESH.contains(&d) => {
                    return self.err(
                        v.dashboard.span(),
                        format!(
                        "dashboard `{}`: its refresh {} is outside {}..{}: set [viewers] refresh",
                        v.dashboard.get_ref(),
                        duration::format_duration(d),
                        duration::format_duration(*limits::REFRESH.start()),
                        duration::format_duration(*limits::REFRESH.end())
                    ),
                    )
                }
                other => other,
            },
        };
        let refreshes_per_visit = match &v.refreshes_per_visit {
            Some(n) => self.count_in(n, limits::REFRESHES_PER_VISIT, "refreshes_per_visit")?,
            None => 3,
        };
        let busy_refresh = match &v.busy_refresh {
            Some(b) => BusyRefresh::parse(b.get_ref()).or_else(|m| self.err(b.span(), m))?,
            None => BusyRefresh::default(),
        };
        let think_time = match &v.think_time {
            Some(t) => {
                let (lo, hi) =
                    parse_duration_range(t.get_ref()).or_else(|m| self.err(t.span(), m))?;
                self.check_duration(t, hi, limits::THINK_TIME, "think_time")?;
                (lo, hi)
            }
            None => (Duration::from_secs(2), Duration::from_secs(8)),
        };
        let first_screen_only = v.first_screen_only.unwrap_or(false);
        if let Some(g) = &v.grafana {
            dashboard.grafana = crate::workload::dashboard::GrafanaVersion::parse(g.get_ref())
                .or_else(|m| self.err(g.span(), format!("grafana: {m}")))?;
        }
        self.globals(v, &mut dashboard)?;
        if let Some(why) = queryable::flux_unsupported(kind) {
            dashboard.skip_flux(why);
        }
        self.check_queryable(v, &dashboard, kind, first_screen_only)?;
        let mut time_ranges = Vec::new();
        for r in &v.time_ranges {
            let tr = r.get_ref();
            if *tr.weight.get_ref() == 0 {
                return self.err(
                    tr.weight.span(),
                    "weight must be at least 1 (remove the entry instead)",
                );
            }
            self.count_in(&tr.weight, limits::WEIGHT, "weight")?;
            for end in [&tr.from, &tr.to] {
                if let Err(Error::Config { message, .. }) = TimeRange::parse(end.get_ref(), "now") {
                    let span = if end.span().is_empty() {
                        r.span()
                    } else {
                        end.span()
                    };
                    return self.err(span, message);
                }
            }
            time_ranges.push(WeightedRange {
                from: tr.from.get_ref().clone(),
                to: tr.to.get_ref().clone(),
                weight: *tr.weight.get_ref(),
            });
        }
        if time_ranges.is_empty() {
            time_ranges = default_time_ranges(&dashboard);
        }
        let mut variables = BTreeMap::new();
        for (name, mix) in &v.variables {
            if !dashboard.variables.iter().any(|var| &var.name == name) {
                let known: Vec<&str> = dashboard
                    .variables
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect();
                return self.err(
                    mix.span(),
                    format!(
                        "the dashboard has no variable `{name}` (it has: {})",
                        known.join(", ")
                    ),
                );
            }
            let m = mix.get_ref();
            for (key, w) in [("all", m.all), ("one", m.one), ("some", m.some)] {
                if w > *limits::WEIGHT.end() {
                    return self.err(
                        mix.span(),
                        format!(
                            "variable `{name}`: weight {key} must be 0..={} (got {w})",
                            limits::WEIGHT.end()
                        ),
                    );
                }
            }
            if m.all + m.one + m.some == 0 && m.value.is_none() {
                return self.err(
                    mix.span(),
                    format!("variable `{name}`: all weights are zero"),
                );
            }
            variables.insert(
                name.clone(),
                VariableMix {
                    all: m.all,
                    one: m.one,
                    some: m.some,
                    value: m.value.clone(),
                },
            );
        }
        Ok(Viewers {
            dashboard_path,
            dashboard,
            max_parallel,
            refresh,
            refreshes_per_visit,
            busy_refresh,
            think_time,
            first_screen_only,
            time_ranges,
            variables,
            grafana_source: if v.grafana.is_some() {
                GrafanaSource::Scenario
            } else {
                GrafanaSource::Newest
            },
        })
    }

    /// `${__user…}`, `${__org…}`, `${__timezone}` from `[viewers.user]`,
    /// `[viewers.org]` and `timezone` (the viewers' browser zone, used when
    /// the dashboard's own is empty or `browser`).
    fn globals(&self, v: &raw::RawViewers, dashboard: &mut Dashboard) -> Result<()> {
        let g = &mut dashboard.globals;
        let text = |s: &Spanned<String>, what: &str| -> Result<String> {
            let t = s.get_ref();
            if t.is_empty() || t.len() > 256 || t.chars().any(char::is_control) {
                return self.err(
                    s.span(),
                    format!("{what} must be 1 to 256 characters without control characters"),
                );
            }
            Ok(t.clone())
        };
        if let Some(tz) = &v.timezone {
            let tz = text(tz, "timezone")?;
            if matches!(dashboard.timezone.as_str(), "" | "browser") {
                g.timezone = tz;
            }
        }
        let checked = |value: &Option<String>, span: std::ops::Range<usize>, what: &str| match value
        {
            Some(t) => text(&Spanned::new(span, t.clone()), what).map(Some),
            None => Ok(None),
        };
        if let Some(u) = &v.user {
            let span = u.span();
            let u = u.get_ref();
            if let Some(login) = checked(&u.login, span.clone(), "user.login")? {
                g.user_login = login;
            }
            if let Some(email) = checked(&u.email, span, "user.email")? {
                g.user_email = email;
            }
            if let Some(id) = u.id {
                g.user_id = id;
            }
        }
        if let Some(o) = &v.org {
            let span = o.span();
            let o = o.get_ref();
            if let Some(name) = checked(&o.name, span, "org.name")? {
                g.org_name = name;
            }
            if let Some(id) = o.id {
                g.org_id = id;
            }
        }
        Ok(())
    }

    fn sync(&self, raw: Option<&Spanned<RawSync>>) -> Result<SyncJob> {
        let Some(raw) = raw else {
            return Ok(SyncJob {
                users: 1,
                source: SyncSource::Generate,
                entries_per_sync: 500,
                batch_size: 5000,
                gzip: true,
                interval: Duration::from_secs(10),
                freshness: false,
            });
        };
        let s = raw.get_ref();
        let positive = |v: &Option<Spanned<u32>>, default: u32, what: &str| -> Result<u32> {
            match v {
                Some(x) if *x.get_ref() == 0 => {
                    self.err(x.span(), format!("{what} must be at least 1"))
                }
                Some(x) => Ok(*x.get_ref()),
                None => Ok(default),
            }
        };
        let token = self.secret(&s.toggl_token_env, &s.toggl_token_file)?;
        let toggl_url =
            match &s.toggl_url {
                Some(u) => Some(url::Url::parse(u.get_ref()).or_else(|e| {
                    self.err(u.span(), format!("`{}` is not a URL: {e}", u.get_ref()))
                })?),
                None => None,
            };
        let source = match s.source.as_ref().map(|x| (x.get_ref().as_str(), x.span())) {
            None | Some(("generate", _)) => SyncSource::Generate,
            Some(("toggl", _)) => SyncSource::Toggl {
                url: toggl_url,
                token,
            },
            Some(("trigger", span)) => {
                let Some(u) = &s.trigger_url else {
                    return self.err(
                        span,
                        "sync source `trigger` needs `trigger_url` (the sync service's base URL)",
                    );
                };
                let url = url::Url::parse(u.get_ref()).or_else(|e| {
                    self.err(u.span(), format!("`{}` is not a URL: {e}", u.get_ref()))
                })?;
                SyncSource::Trigger(Trigger {
                    url,
                    trigger_path: s.trigger_path.clone().unwrap_or_else(|| "/sync".into()),
                    status_path: s
                        .status_path
                        .clone()
                        .unwrap_or_else(|| "/sync/status".into()),
                    status_field: s.status_field.clone().unwrap_or_else(|| "status".into()),
                    done_value: s.done_value.clone().unwrap_or_else(|| "done".into()),
                    failed_value: s.failed_value.clone().unwrap_or_else(|| "failed".into()),
                    timeout: match &s.trigger_timeout {
                        Some(t) => {
                            self.duration_in(t, limits::TRIGGER_TIMEOUT, "trigger_timeout")?
                        }
                        None => Duration::from_secs(300),
                    },
                    token: self.secret(&s.trigger_token_env, &s.trigger_token_file)?,
                })
            }
            Some((other, span)) => {
                return self.err(
                    span,
                    format!("sync source `{other}`: expected generate, toggl or trigger"),
                )
            }
        };
        let batch_size = positive(&s.batch_size, 5000, "batch_size")?;
        if let Some(b) = &s.batch_size {
            if *b.get_ref() > 100_000 {
                return self.err(
                    b.span(),
                    format!(
                        "batch_size {} is above 100000 (InfluxDB's body limit is 25 MB)",
                        b.get_ref()
                    ),
                );
            }
        }
        if let Some(e) = &s.entries_per_sync {
            self.count_in(e, limits::ENTRIES_PER_SYNC, "entries_per_sync")?;
        }
        Ok(SyncJob {
            users: s.users.as_ref().map_or(1, |u| *u.get_ref()),
            source,
            entries_per_sync: positive(&s.entries_per_sync, 500, "entries_per_sync")?,
            batch_size,
            gzip: s.gzip.unwrap_or(true),
            interval: match &s.interval {
                Some(i) => self.duration_in(i, limits::SYNC_INTERVAL, "interval")?,
                None => Duration::from_secs(10),
            },
            freshness: s.freshness.unwrap_or(false),
        })
    }

    /// A `hold` value: its length (an until-judged hold's cap) and whether it
    /// lasts until judged.
    fn hold(&self, value: &Spanned<String>) -> Result<(Duration, bool)> {
        let text = hold::parse_hold(value.get_ref()).or_else(|m| self.err(value.span(), m))?;
        let length = Spanned::new(value.span(), text.length.to_string());
        let d = self.plan_duration(&length)?;
        if text.until_judged && d.is_zero() {
            return self.err(
                value.span(),
                format!(
                    "hold `{}`: the cap of an until-judged hold must be longer than 0s",
                    value.get_ref()
                ),
            );
        }
        Ok((d, text.until_judged))
    }

    fn stage(&self, raw: &Spanned<RawStage>) -> Result<Stage> {
        let s = raw.get_ref();
        let (hold, until_judged) = self.hold(&s.hold)?;
        let ramp = self.plan_duration(&s.ramp)?;
        if hold.is_zero() && ramp.is_zero() {
            return self.err(raw.span(), "a stage needs a ramp or a hold longer than 0s");
        }
        Ok(Stage {
            users: *s.users.get_ref(),
            ramp,
            hold,
            until_judged,
        })
    }

    fn stress(&self, raw: &Spanned<RawStress>, stages: &[Stage]) -> Result<Stress> {
        let s = raw.get_ref();
        let Some(last) = stages.last() else {
            return self.err(
                raw.span(),
                "a stress ladder starts from the last stage, but there is no [[stages]] entry",
            );
        };
        if *s.step.get_ref() == 0 {
            return self.err(s.step.span(), "step must be at least 1");
        }
        if *s.ceiling.get_ref() <= last.users {
            return self.err(
                s.ceiling.span(),
                format!(
                    "ceiling {} is not above the last stage's {} users",
                    s.ceiling.get_ref(),
                    last.users
                ),
            );
        }
        let (hold, until_judged) = self.hold(&s.hold)?;
        if hold.is_zero() {
            return self.err(s.hold.span(), "a stress step needs a hold longer than 0s");
        }
        let stop_when = match &s.stop_when {
            Some(c) => parse_stop_condition(c.get_ref()).or_else(|m| self.err(c.span(), m))?,
            None => Vec::new(),
        };
        if let (Some(c), false) = (&s.stop_when, stop_when.iter().all(latency_bound_in_range)) {
            return self.err(
                c.span(),
                format!(
                    "`{}`: a latency bound must be within {}..{}",
                    c.get_ref(),
                    duration::format_duration(*limits::LATENCY_BOUND.start()),
                    duration::format_duration(*limits::LATENCY_BOUND.end())
                ),
            );
        }
        let refine = match &s.refine {
            Some(r) => match usize::try_from(*r.get_ref()) {
                Ok(n) if n <= MAX_REFINE => n,
                _ => {
                    return self.err(
                        r.span(),
                        format!(
                            "refine must be 0..={MAX_REFINE} bisection steps (got {})",
                            r.get_ref()
                        ),
                    )
                }
            },
            None => 0,
        };
        if let (Some(b), true) = (&s.stop_on_failure_share, stop_when.is_empty()) {
            return self.err(
                b.span(),
                "stop_on_failure_share changes how stop_when judges a percentile, but there is no stop_when",
            );
        }
        if refine > 0 && stop_when.is_empty() {
            let span = s.refine.as_ref().map(|r| r.span()).unwrap_or(raw.span());
            return self.err(
                span,
                "refine bisects after the ladder stops, but there is no stop_when to stop it",
            );
        }
        Ok(Stress {
            step: *s.step.get_ref(),
            ramp: match &s.ramp {
                Some(r) => self.plan_duration(r)?,
                None => Duration::from_secs(10),
            },
            hold,
            until_judged,
            ceiling: *s.ceiling.get_ref(),
            stop_when,
            stop_on_failure_share: s
                .stop_on_failure_share
                .as_ref()
                .is_some_and(|b| *b.get_ref()),
            refine,
        })
    }

    fn slo_set(&self, class: &Spanned<String>, raw: &Spanned<RawSloSet>) -> Result<Vec<Slo>> {
        let Some(class_value) = RequestClass::from_key(class.get_ref()) else {
            let keys: Vec<&str> = RequestClass::ALL.iter().map(|c| c.key()).collect();
            return self.err(
                class.span(),
                format!(
                    "unknown request class `{}` in [slo]: expected one of {}",
                    class.get_ref(),
                    keys.join(", ")
                ),
            );
        };
        let set = raw.get_ref();
        let mut slos = Vec::new();
        for (metric, value) in [
            (SloMetric::P50, &set.p50),
            (SloMetric::P95, &set.p95),
            (SloMetric::P99, &set.p99),
        ] {
            if let Some(v) = value {
                let d = self.duration_in(v, limits::LATENCY_BOUND, metric.key())?;
                slos.push(Slo {
                    class: class_value,
                    metric,
                    max: d.as_secs_f64() * 1000.0,
                });
            }
        }
        if let Some(v) = &set.error_rate {
            let fraction = parse_percent(v.get_ref()).or_else(|m| self.err(v.span(), m))?;
            slos.push(Slo {
                class: class_value,
                metric: SloMetric::ErrorRate,
                max: fraction,
            });
        }
        if let Some(v) = &set.ms_per_point {
            if class_value != RequestClass::IngestBatch {
                return self.err(v.span(), "ms_per_point applies only to [slo.ingest_batch]");
            }
            let ms = *v.get_ref();
            if !(ms > 0.0 && ms <= limits::MS_PER_POINT_MAX) {
                return self.err(
                    v.span(),
                    format!(
                        "ms_per_point {ms} must be above 0 and at most {}",
                        limits::MS_PER_POINT_MAX
                    ),
                );
            }
            slos.push(Slo {
                class: class_value,
                metric: SloMetric::MsPerPoint,
                max: *v.get_ref(),
            });
        }
        if slos.is_empty() {
            return self.err(
                raw.span(),
                format!(
                    "[slo.{}] sets no objective (p50, p95, p99, error_rate, ms_per_point)",
                    class.get_ref()
                ),
            );
        }
        Ok(slos)
    }
}

/// The time-range mix used when a scenario sets none: mostly the dashboard's own
/// default, some shorter and longer ranges, a few 90-day outliers.
fn default_time_ranges(dashboard: &Dashboard) -> Vec<WeightedRange> {
    let mut mix = vec![
        ("now-1h", 10),
        ("now-24h", 20),
        ("now-7d", 30),
        ("now-30d", 15),
        ("now-90d", 5),
    ];
    let default = dashboard.time.raw_from.as_str();
    match mix.iter_mut().find(|(from, _)| *from == default) {
        Some(entry) => entry.1 += 20,
        None => mix.push((default, 20)),
    }
    mix.into_iter()
        .map(|(from, weight)| WeightedRange {
            from: from.into(),
            to: "now".into(),
            weight,
        })
        .collect()
}

/// Whether a stop-condition term's latency bound is within [`limits::LATENCY_BOUND`].
fn latency_bound_in_range(term: &Slo) -> bool {
    term.metric == SloMetric::ErrorRate
        || limits::LATENCY_BOUND.contains(&Duration::from_secs_f64(term.max / 1000.0))
}

/// Parse a stop condition: terms `[class.]metric > value` joined by `or`, e.g.
/// `p95 > 2s or errors > 5%` or `panel_query.p99 > 3s`. The class defaults to
/// dashboard loads; `errors` is the error rate.
pub fn parse_stop_condition(text: &str) -> std::result::Result<Vec<Slo>, String> {
    // The ladder stops when any term holds: `and` would read as something else.
    if let Some(and) = text
        .split_whitespace()
        .find(|w| w.eq_ignore_ascii_case("and") || *w == "&&")
    {
        return Err(format!(
            "`{text}`: `{and}` is not supported: the ladder stops as soon as any term holds, so join terms with `or` (e.g. `p95 > 2s or errors > 5%`)"
        ));
    }
    let mut terms = Vec::new();
    for term in text.split(" or ") {
        let (left, right) = term.split_once('>').ok_or_else(|| {
            format!(
                "`{}`: expected `<metric> > <value>`, e.g. `p95 > 2s or errors > 5%`",
                term.trim()
            )
        })?;
        let left = left.trim();
        let right = right.trim();
        let (class, metric) = match left.split_once('.') {
            Some((c, m)) => (
                RequestClass::from_key(c).ok_or_else(|| format!("`{c}` is not a request class"))?,
                m,
            ),
            None => (RequestClass::DashboardLoad, left),
        };
        let slo = match metric {
            "p50" | "p95" | "p99" => {
                let d = parse_duration(right)?;
                let metric = match metric {
                    "p50" => SloMetric::P50,
                    "p95" => SloMetric::P95,
                    _ => SloMetric::P99,
                };
                Slo {
                    class,
                    metric,
                    max: d.as_secs_f64() * 1000.0,
                }
            }
            "errors" | "error_rate" => Slo {
                class,
                metric: SloMetric::ErrorRate,
                max: parse_percent(right)?,
            },
            other => return Err(format!("`{other}`: expected p50, p95, p99 or errors")),
        };
        terms.push(slo);
    }
    Ok(terms)
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod stop_condition_tests {
    use super::parse_stop_condition;

    #[test]
    fn and_is_refused_with_what_to_write_instead() {
        let e = parse_stop_condition("p95 > 2s and errors > 5%").unwrap_err();
        assert!(
            e.contains("`and` is not supported") && e.contains("join terms with `or`"),
            "{e}"
        );
        assert!(!e.contains("unknown unit"), "{e}");
        assert!(parse_stop_condition("p95 > 2s && errors > 5%").is_err());
        assert_eq!(
            parse_stop_condition("p95 > 2s or errors > 5%")
                .unwrap()
                .len(),
            2
        );
    }
}
