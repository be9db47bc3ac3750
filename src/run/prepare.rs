//! The first phase: everything before the first request. The scenario and its
//! plan (a worker's share of it), the stack (the embedded sandbox started, or
//! the target checked, and the scenario's inputs resolved), the run folder
//! with run.json marked not ended and its lock held, the users' context, and
//! Goose's attack configured; a distributed run's worker then waits at its
//! manager's barrier.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::logger::GooseLogFormat;
use goose::prelude::*;

use super::options::RunOptions;
use super::role::WorkerRole;
use crate::error::{Error, Result};
use crate::interrupt::{self, Stage};
use crate::live::Live;
use crate::plan::Plan;
use crate::runfolder::recover::{self, RunLock};
use crate::runfolder::{self, files, RunMeta};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::scenario::{Scenario, TargetKind};
use crate::target::outside_log::OutsideLog;
use crate::target::Endpoints;
use crate::users::numbering::ViewerNumbering;
use crate::users::request_log::RequestLog;
use crate::users::{self, IngestLog, RunContext};

/// A run ready for its load.
pub(super) struct Prepared {
    /// The scenario, its inputs resolved (a worker's sync users its share's).
    pub scenario: Arc<Scenario>,
    /// The plan (a worker's share of it).
    pub plan: Plan,
    pub worker: Option<Arc<dyn WorkerRole>>,
    /// The embedded sandbox, when this process runs it.
    pub sandbox: Option<Sandbox>,
    pub endpoints: Endpoints,
    pub folder: Folder,
    pub live: Arc<Live>,
    pub context: Arc<RunContext>,
    pub ingest: IngestLog,
    pub request_log: RequestLog,
    /// Goose's attack, its users registered.
    pub goose: GooseAttack,
    /// Goose prints its own lines (`-v`): stdout is not silenced.
    pub goose_verbose: bool,
}

/// The run folder while the run holds it.
pub(super) struct Folder {
    pub run_dir: PathBuf,
    /// Where files are written until complete (`runfolder::recover`).
    pub partial: PathBuf,
    pub lock: RunLock,
    /// run.json as written before the first request.
    pub meta: RunMeta,
    pub started: DateTime<Utc>,
}

/// Prepare a run as `options` say.
pub(super) async fn prepare(options: RunOptions) -> Result<Prepared> {
    let (scenario, plan) =
        crate::plan::validate_with(&options.scenario, &options.overrides, options.goose_shape)?;
    let worker = options.worker;
    if worker.is_none() && !options.goose_shape {
        crate::sampling::warn_at_start(&scenario);
    }
    let plan = match &worker {
        Some(w) => w.share(&plan)?,
        None => plan,
    };
    let total_users = match options.goose_total_users {
        Some(n) => goose_users_within(n, &scenario.limits)?,
        None => plan.total_launched(),
    };

    let (sandbox, sandbox_url, endpoints, scenario, preflight_calls) =
        interrupt::unless_interrupted(
            "before the load started: nothing was sent, no run folder written",
            stack(scenario, worker.as_ref().and_then(|w| w.sandbox_url())),
        )
        .await?;
    let mut scenario = scenario;
    if worker.is_some() {
        // Only the sync worker's share has the sync job.
        scenario.sync.users = plan.sync_users;
    }
    let scenario = Arc::new(scenario);

    let started = Utc::now();
    let (run_dir, lock, partial) = open_folder(&options.reports_dir, started, &scenario.name)?;

    let live = Arc::new(Live::default());
    let ingest = IngestLog::create(&partial.join(files::INGEST))?;
    let config = goose_config(options.goose, &partial, &endpoints);
    let request_log = RequestLog::create(&partial.join(files::REQUESTS))?;
    let mut context = RunContext::new(
        scenario.clone(),
        endpoints.clone(),
        sandbox_url.clone(),
        live.clone(),
        ingest.clone(),
    )?;
    if let Some(v) = context.viewer.as_mut() {
        // Viewers draw by their number in the whole run, whatever runs them.
        let (rank, workers) = worker.as_ref().map_or((0, 1), |w| w.rank());
        let sync_first = scenario.sync.users.min(total_users);
        v.number(ViewerNumbering::new(&plan.steps, sync_first, rank, workers));
    }
    context.request_log = Some(request_log.clone());
    let context = Arc::new(context);
    context.outside.absorb(&preflight_calls);

    let windows = if options.goose_shape {
        Vec::new()
    } else {
        plan.windows.clone()
    };
    let meta = RunMeta::start(
        &scenario,
        sandbox_url.as_ref().map(url::Url::as_str),
        plan.goose_test_plan(),
        windows,
        started,
    );
    meta.store(&run_dir)?;
    if let Some(w) = &worker {
        // Which run and worker this folder is, should its manager not finish.
        w.stamp(&run_dir)?;
    }

    // One HTTP client shared by every user: building one per user costs each
    // ~5 ms and ~160 KB (TLS roots, pool), which dominates start-up at 1 000
    // viewers (BENCH.md). Viewers keep their own cookies-free sessions anyway.
    let client = GooseClientBuilder::new()
        .without_cookies()
        .user_agent(concat!("dashload/", env!("CARGO_PKG_VERSION")))
        .timeout(scenario.target.timeout);
    let goose_verbose = config.verbose > 0;
    let mut goose = GooseAttack::initialize_with_config(config)
        .map_err(Error::from)?
        .set_client_builder_without_cookies(client)
        .map_err(Error::from)?;
    if !options.goose_shape {
        goose = *goose
            .set_default(GooseDefault::TestPlan, meta.test_plan.as_str())
            .map_err(Error::from)?;
    }
    goose = users::register(goose, context.clone(), total_users)?;
    if let Some(w) = &worker {
        // Everything is ready: the barrier, then the countdown.
        if let Err(e) = w.wait_for_start().await {
            lock.release();
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    }
    Ok(Prepared {
        scenario,
        plan,
        worker,
        sandbox,
        endpoints,
        folder: Folder {
            run_dir,
            partial,
            lock,
            meta,
            started,
        },
        live,
        context,
        ingest,
        request_log,
        goose,
        goose_verbose,
    })
}

/// Open the run folder of a run `started` now: created under `reports_dir`,
/// its lock held, its `.partial/` made (the run's files until complete); a
/// signal from here on names it. Returns the folder, its lock and `.partial/`.
/// A distributed run's manager opens its folder here too.
pub(crate) fn open_folder(
    reports_dir: &Path,
    started: DateTime<Utc>,
    name: &str,
) -> Result<(PathBuf, RunLock, PathBuf)> {
    let run_dir = runfolder::create_run_dir(reports_dir, started, name)?;
    let lock = RunLock::acquire(&run_dir)?;
    interrupt::enter(Stage::Running(run_dir.clone()));
    let partial = run_dir.join(recover::PARTIAL);
    std::fs::create_dir(&partial).map_err(|e| Error::io(&partial, e))?;
    Ok((run_dir, lock, partial))
}

/// The stack, ready for the load: the embedded sandbox (started) or the
/// scenario's target (checked), and the scenario with its inputs resolved.
async fn stack(
    mut scenario: Scenario,
    shared_sandbox: Option<url::Url>,
) -> Result<(
    Option<Sandbox>,
    Option<url::Url>,
    Endpoints,
    Scenario,
    OutsideLog,
)> {
    // A distributed run's workers share the manager's sandbox.
    let sandbox = match (scenario.target.kind, &shared_sandbox) {
        (TargetKind::Sandbox, None) => Some(start_sandbox(&scenario).await?),
        _ => None,
    };
    let sandbox_url = sandbox
        .as_ref()
        .map(|s| url::Url::parse(&s.url()).expect("sandbox URL"))
        .or(shared_sandbox);
    let endpoints = Endpoints::new(&scenario.target, sandbox_url.as_ref());
    let preflight_calls = OutsideLog::default();
    let health_version = crate::target::preflight(&endpoints, &scenario, &preflight_calls).await?;
    if let Some(v) = scenario.viewers.as_mut() {
        follow_grafana_version(v, health_version.as_deref());
    }
    crate::target::resolve_library_panels(&endpoints, &mut scenario, &preflight_calls).await?;
    crate::target::resolve_inputs(&endpoints, &mut scenario, &preflight_calls).await?;
    Ok((sandbox, sandbox_url, endpoints, scenario, preflight_calls))
}

/// Emulate the Grafana version a grafana target reports (`/api/health`)
/// unless the scenario names one (`[viewers] grafana`); a version dashload
/// cannot read keeps the newest rules, with a warning.
pub fn follow_grafana_version(v: &mut crate::scenario::Viewers, reported: Option<&str>) {
    use crate::scenario::GrafanaSource;
    let Some(reported) = reported.filter(|_| v.grafana_source != GrafanaSource::Scenario) else {
        return;
    };
    match crate::workload::dashboard::GrafanaVersion::parse(reported) {
        Ok(version) => {
            log::info!("emulating Grafana {version}, as the target's /api/health reports");
            v.dashboard.grafana = version;
            v.grafana_source = GrafanaSource::Target;
        }
        Err(why) => log::warn!(
            "the target's /api/health reports a version dashload does not emulate ({why}): \
             the newest rules apply; set [viewers] grafana to choose"
        ),
    }
}

/// Goose's own load shape (`-u`, `--test-plan`) obeys `[limits] users` as the
/// scenario's does: checked before anything is sent or written (Goose allocates
/// per user up front: `-u 1000000000` aborted on an 8 GB allocation).
fn goose_users_within(users: usize, limits: &crate::scenario::limits::Limits) -> Result<usize> {
    if users > limits.users {
        return Err(Error::Usage(format!(
            "-u/--test-plan launches {users} users, above `[limits] users` ({}): lower it, or raise `[limits] users` in the scenario",
            limits.users
        )));
    }
    Ok(users)
}

/// The query queue of `[sandbox] overload = "shed"`: room for a few viewers'
/// parallel panel queries (6 each by default), a fraction of a second of
/// waiting at saturation.
const SHED_QUEUE: usize = 16;

pub(crate) async fn start_sandbox(scenario: &Scenario) -> Result<Sandbox> {
    let mut config = SandboxConfig {
        seed: scenario.seed,
        ..SandboxConfig::default()
    };
    config
        .capacity
        .scale_costs(scenario.sandbox.query_cost, scenario.sandbox.write_cost);
    config.capacity.stall_when_full = scenario.sandbox.stall;
    config.live_max_connections = scenario.sandbox.live_max_connections;
    if scenario.sandbox.shed {
        // A short queue: overload is refused before anyone waits long.
        config.capacity.query_queue = SHED_QUEUE;
    }
    if let Some(v) = &scenario.viewers {
        let text = std::fs::read_to_string(&v.dashboard_path)
            .map_err(|e| Error::io(&v.dashboard_path, e))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(anyhow::Error::from)?;
        config.dashboards = vec![json];
    }
    Sandbox::start(config).await
}

/// Goose's configuration for a run: its report and log files go into `partial`.
fn goose_config(
    mut config: GooseConfiguration,
    partial: &Path,
    endpoints: &Endpoints,
) -> GooseConfiguration {
    let path = |name: &str| partial.join(name).display().to_string();
    // Goose's JSON only: its HTML report puts request names (panel titles from
    // the dashboard) and the target's error texts into the page unescaped, and
    // loads its chart library from a CDN (docs/src/run-folder.md).
    config.report_file.push(path(files::GOOSE_JSON));
    config.report_graph_data = true;
    // Goose's own request log holds only its header: dashload writes
    // requests.csv, flushed every second (`users::request_log`).
    config.request_log = Some(path(crate::users::request_log::GOOSE_SIDE));
    config.request_format = Some(GooseLogFormat::Csv);
    // No telnet controller on a fixed port: runs must not collide.
    config.no_telnet = true;
    if config.verbose == 0 {
        // dashload prints its own one-screen summary; Goose's per-user lines and
        // metrics tables come back with -v.
        config.no_print_metrics = true;
        if config.quiet == 0 {
            config.quiet = 1;
        }
    }
    if config.host.is_none() {
        config.host = Some(endpoints.base().as_str().trim_end_matches('/').to_string());
    }
    config
}

#[cfg(test)]
mod grafana_version_tests {
    use super::follow_grafana_version;
    use crate::scenario::{GrafanaSource, Scenario};
    use crate::workload::dashboard::GrafanaVersion;

    fn viewers(extra: &str) -> crate::scenario::Viewers {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("d.json"),
            r#"{"uid":"d","title":"D","panels":[{"id":1,"type":"stat","title":"P",
               "datasource":{"type":"influxdb","uid":"x"},
               "targets":[{"refId":"A","rawQuery":true,"query":"SELECT 1 FROM m WHERE $timeFilter"}]}]}"#,
        )
        .unwrap();
        let text = format!("[viewers]\ndashboard = \"d.json\"\n{extra}");
        let s = Scenario::parse(&text, &dir.path().join("s.toml")).unwrap();
        s.viewers.unwrap()
    }

    /// A grafana target's `/api/health` version decides the rules unless the
    /// scenario names one; one dashload cannot read keeps the newest.
    #[test]
    fn the_reported_version_is_followed_unless_the_scenario_names_one() {
        let mut v = viewers("");
        follow_grafana_version(&mut v, Some("10.2.1"));
        assert_eq!(
            v.dashboard.grafana,
            GrafanaVersion {
                major: 10,
                minor: 2
            }
        );
        assert_eq!(v.grafana_source, GrafanaSource::Target);
        let mut v = viewers("grafana = \"11.3\"\n");
        follow_grafana_version(&mut v, Some("10.2.1"));
        assert_eq!(
            v.dashboard.grafana,
            GrafanaVersion {
                major: 11,
                minor: 3
            }
        );
        let mut v = viewers("");
        follow_grafana_version(&mut v, Some("v.next"));
        assert_eq!(v.dashboard.grafana, GrafanaVersion::NEWEST);
        assert_eq!(v.grafana_source, GrafanaSource::Newest);
    }
}
