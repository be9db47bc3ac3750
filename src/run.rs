//! One run, end to end: the sandbox if needed, the run folder, the Goose attack
//! with the stress-ladder monitor beside it, run.json, then the report.
//!
//! Goose writes its files into `<run>/.partial/`; they are renamed into the run
//! folder only when complete, so a reader never sees half a file. run.json is
//! written before the first request (marked not ended), and the run holds
//! `.run.lock` until its folder is finished, so a run killed outright leaves a
//! folder `dashload report` recovers (`runfolder::recover`).
//!
//! The load ends on the plan's clock, not when Goose's last transaction returns:
//! [`end_of_load`] cuts off what users still have in flight (`run_end.rs`), and
//! signals are handled by `interrupt.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::logger::GooseLogFormat;
use goose::prelude::*;

use crate::cpu::{self, CpuLog};
use crate::error::{Error, Result};
use crate::interrupt::{self, Stage};
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;
use crate::report::{render_run, ReportOptions, ReportOutcome};
use crate::run_end::RunEnd;
use crate::runfolder::recover::{self, RunLock};
use crate::runfolder::{self, files, LadderStop, RunMeta, StageWindow, WindowKind};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::scenario::{Scenario, TargetKind};
use crate::target::outside_log::OutsideLog;
use crate::target::Endpoints;
use crate::users::numbering::ViewerNumbering;
use crate::users::request_log::RequestLog;
use crate::users::{self, IngestLog, RunContext};

/// How to run.
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Where run folders go.
    pub reports_dir: PathBuf,
    /// How to render the report: its baselines and extra outputs (`progress`
    /// is set by the run).
    pub report: ReportOptions,
    /// Goose's configuration from the command line (report and log paths are set here).
    pub goose: GooseConfiguration,
    /// True when the command line set Goose's own load shape (-u/-t/--test-plan/--iterations):
    /// the scenario's stages are then not used.
    pub goose_shape: bool,
    /// Users Goose launches in total under `goose_shape`.
    pub goose_total_users: Option<usize>,
    /// Render the report at the end.
    pub render: bool,
    /// `--set` and `DASHLOAD_TARGET_*` overrides of the scenario file.
    pub overrides: crate::scenario::Overrides,
}

/// What a run produced.
pub struct RunResult {
    /// The run folder.
    pub run_dir: PathBuf,
    /// run.json as written at the end.
    pub meta: RunMeta,
    /// The rendered report, when rendered.
    pub report: Option<ReportOutcome>,
    /// What the embedded sandbox counted (sandbox runs only).
    pub sandbox: Option<crate::sandbox::SandboxCounters>,
}

/// Run a scenario. Signals (Ctrl-C, SIGTERM) stop it as `interrupt.rs` says.
pub async fn run(options: RunOptions) -> Result<RunResult> {
    interrupt::install();
    interrupt::enter(Stage::Preparing);
    let result = run_installed(options).await;
    interrupt::enter(Stage::Idle);
    result
}

async fn run_installed(options: RunOptions) -> Result<RunResult> {
    let (scenario, plan) =
        crate::plan::validate_with(&options.scenario, &options.overrides, options.goose_shape)?;
    // A distributed run's worker runs its share (`cluster::worker`).
    let cluster = crate::cluster::worker::role();
    if cluster.is_none() && !options.goose_shape {
        crate::sampling::warn_at_start(&scenario);
    }
    let plan = match &cluster {
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
            prepare(scenario, cluster.as_ref().and_then(|w| w.sandbox_url())),
        )
        .await?;
    let mut scenario = scenario;
    if cluster.is_some() {
        // Only the sync worker's share has the sync job.
        scenario.sync.users = plan.sync_users;
    }
    let scenario = Arc::new(scenario);

    let started = Utc::now();
    let run_dir = runfolder::create_run_dir(&options.reports_dir, started, &scenario.name)?;
    let lock = RunLock::acquire(&run_dir)?;
    interrupt::enter(Stage::Running(run_dir.clone()));
    let partial = run_dir.join(recover::PARTIAL);
    std::fs::create_dir(&partial).map_err(|e| Error::io(&partial, e))?;

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
        let (rank, workers) = cluster.as_ref().map_or((0, 1), |w| w.rank());
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
    let mut meta = RunMeta::start(
        &scenario,
        sandbox_url.as_ref().map(url::Url::as_str),
        plan.goose_test_plan(),
        windows,
        started,
    );
    meta.store(&run_dir)?;
    if let Some(w) = &cluster {
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
    let mut attack = GooseAttack::initialize_with_config(config)
        .map_err(Error::from)?
        .set_client_builder_without_cookies(client)
        .map_err(Error::from)?;
    if !options.goose_shape {
        attack = *attack
            .set_default(GooseDefault::TestPlan, meta.test_plan.as_str())
            .map_err(Error::from)?;
    }
    attack = users::register(attack, context.clone(), total_users)?;
    if let Some(w) = &cluster {
        // Everything is ready: the barrier, then the countdown.
        if let Err(e) = w.wait_for_start().await {
            lock.release();
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    }

    // The monitor: judges the ladder's stop condition per step, and wakes sleeping
    // users when the plan is over.
    let ladder_stop: Arc<Mutex<Option<LadderStop>>> = Arc::default();
    let ladder_triggered = Arc::new(AtomicBool::new(false));
    let refine_windows: Arc<Mutex<Vec<StageWindow>>> = Arc::default();
    let recovery_windows: Arc<Mutex<Vec<StageWindow>>> = Arc::default();
    let mut ladder = Ladder::of(&scenario, &plan);
    if cluster.is_some() {
        // The manager judges the ladder on every worker's figures, and orders
        // the recovery phase on every worker at once.
        ladder.stop_when.when.clear();
        ladder.managed = true;
    }
    // A previous run in this process may have ended through Goose's killswitch
    // (a ladder stop, the windows' end): Goose clears it only once the attack
    // starts, and until then the tasks below would take it for this run's end.
    // A signal since is counted by `interrupt`, which sets it again.
    goose::reset_killswitch();
    let holds = Holds::of(&scenario, &plan);
    if plan.shifted() {
        // Every user is launched at once: the windows' viewers load as the cap says.
        live.set_viewer_cap(plan.viewers_at(Duration::ZERO) as u64);
    }
    // The run's clock: the monitor's zero, and the one `goose_clock_offset_ms`
    // relates Goose's (the request log's) to, so a ladder stop's times convert.
    let clock = Instant::now();
    let goose_zero: GooseZero = {
        let context = context.clone();
        Arc::new(move || context.goose_started.get().copied())
    };
    let monitor = tokio::spawn(monitor(
        (
            tokio::time::Instant::from_std(clock),
            plan.clone(),
            goose_zero,
        ),
        ladder,
        live.clone(),
        ladder_stop.clone(),
        ladder_triggered.clone(),
        (refine_windows.clone(), recovery_windows.clone()),
        holds.clone(),
    ));

    let status = tokio::spawn(crate::progress::show(
        plan.clone(),
        live.clone(),
        crate::progress::Output::detect(),
    ));
    let ender = tokio::spawn(end_of_load(
        context.run_end.clone(),
        live.clone(),
        drain_timeout(&scenario),
    ));
    // A distributed run's command faults run once: on worker 0, the sync job's
    // (its loss stops the run anyway), never on every worker.
    let faults: Vec<crate::scenario::faults::Fault> = scenario
        .faults
        .iter()
        .filter(|f| match &cluster {
            Some(w) => {
                w.assignment.index == crate::cluster::share::SYNC_WORKER
                    || !matches!(
                        f.action,
                        crate::scenario::faults::FaultAction::Command { .. }
                    )
            }
            None => true,
        })
        .cloned()
        .collect();
    let faults = crate::faults::FaultRun::start(
        &faults,
        sandbox.as_ref().map(|s| s.state().clone()),
        &run_dir,
        clock,
        {
            let context = context.clone();
            move || context.goose_started.get().copied()
        },
    )?;
    // The side logs are flushed every second, so `kill -9` loses at most a
    // second of them (the request log flushes itself: `users::request_log`).
    let flusher = {
        let ingest = ingest.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(users::request_log::FLUSH_EVERY);
            loop {
                every.tick().await;
                ingest.flush();
            }
        })
    };
    let cpu_log: Arc<Mutex<CpuLog>> = Arc::default();
    let sampler = tokio::spawn(cpu::sample(clock, cpu_log.clone()));
    // A distributed run's manager scrapes the target once for all its workers.
    let scraper = match cluster {
        Some(_) => None,
        None => crate::server_metrics::scrape::start_for_run(
            &scenario.server_metrics,
            &endpoints,
            clock,
            &partial,
        )?,
    };
    let ticker = cluster.as_ref().map(|w| {
        w.clone().spawn_ticks(
            live.clone(),
            plan.clone(),
            clock,
            (ladder_stop.clone(), ladder_triggered.clone()),
            recovery_windows.clone(),
            holds.clone(),
        )
    });
    let quiet = if goose_verbose {
        None
    } else {
        crate::quiet_stdout::Silenced::start()
    };
    let outcome = attack.execute().await;
    drop(quiet);
    // Faults first: stop commands run as soon as the load is over.
    let fault_failed = faults.finish().await?;
    if let Some(t) = ticker {
        t.abort();
    }
    live.stop();
    ender.abort();
    monitor.abort();
    sampler.abort();
    status.abort();
    // Wait for the status task to go, so its terminal line is cleared before the summary.
    let _ = status.await;
    let ran_for = clock.elapsed();

    // A signal, or anything but the ladder triggering Goose's killswitch, cut the run short.
    let interrupted = interrupt::count() > 0
        || (goose::is_killswitch_triggered() && !ladder_triggered.load(Ordering::SeqCst));
    flusher.abort();
    request_log.finish()?;
    ingest.finish()?;
    if let Some(live_viewers) = &context.live_viewers {
        live_viewers.finish().await;
    }
    let scrapes = match scraper {
        // After a signal the run ends now: no last scrape.
        Some(s) => s.finish(interrupt::count() == 0).await,
        None => Default::default(),
    };
    recover::finish_partial(&run_dir)?;
    {
        let mut log = cpu_log.lock().expect("cpu log lock");
        if let Some(cpu) = cpu::process_cpu() {
            log.push(clock.elapsed(), cpu);
        }
        cpu::store(&log, &run_dir)?;
    }
    meta.ended_at = Some(started + chrono::Duration::from_std(ran_for).unwrap_or_default());
    meta.interrupted = interrupted;
    meta.ladder_stop = ladder_stop.lock().expect("ladder stop lock").clone();
    let recovered: Vec<StageWindow> = recovery_windows
        .lock()
        .expect("recovery windows lock")
        .iter()
        .map(|w| StageWindow {
            // Cut short by Ctrl-C: it ended with the run.
            end_ms: w.end_ms.min(ran_for.as_millis() as u64),
            ..w.clone()
        })
        .collect();
    let refined = refine_windows.lock().expect("refine windows lock").clone();
    meta.windows = windows_as_run(
        holds.timeline().real_windows(&meta.windows),
        meta.ladder_stop.as_ref(),
        refined,
        recovered,
    );
    meta.judged_holds = holds.timeline().holds();
    meta.counters = live.counters();
    meta.counters.http_outside_log = context.outside.snapshot();
    meta.counters.server_scrapes = scrapes.scrapes;
    meta.counters.server_scrape_failures = scrapes.failed;
    meta.counters.goose_clock_offset_ms = context
        .goose_started
        .get()
        .map(|g| goose_clock_offset_ms(clock, *g));
    meta.store(&run_dir)?;
    lock.release();
    let sandbox_counters = match sandbox {
        Some(s) => {
            let c = s.counters();
            s.stop().await;
            Some(c)
        }
        None => None,
    };
    if let Err(e) = outcome {
        // Thresholds are judged by our report. Goose refuses bad options before the
        // first request: that run never happened, so its folder goes. Any other
        // failure keeps the folder (with run.json) for inspection.
        match e {
            GooseError::ThresholdsFailed { .. } => {}
            refused @ GooseError::InvalidOption { .. } => {
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(Error::from(refused));
            }
            other => {
                return Err(Error::Goose(format!(
                    "{} (run folder: {})",
                    Error::from(other),
                    run_dir.display()
                )))
            }
        }
    }

    if let Some(failed) = fault_failed {
        return Err(Error::Other(anyhow::anyhow!(
            "{failed}: the run stopped after {:.1} s; its folder {} holds what ran (`dashload report {}` renders it)",
            ran_for.as_secs_f64(),
            run_dir.display(),
            run_dir.display()
        )));
    }
    interrupt::enter(Stage::Rendering(run_dir.clone()));
    let report = if options.render {
        let dir = run_dir.clone();
        let report_options = ReportOptions {
            progress: true,
            ..options.report
        };
        Some(
            tokio::task::spawn_blocking(move || render_run(&dir, &report_options))
                .await
                .map_err(|e| Error::Report(format!("report rendering panicked: {e}")))??,
        )
    } else {
        None
    };
    Ok(RunResult {
        run_dir,
        meta,
        report,
        sandbox: sandbox_counters,
    })
}

/// The stack, ready for the load: the embedded sandbox (started) or the
/// scenario's target (checked), and the scenario with its inputs resolved.
async fn prepare(
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

/// How long requests in flight at the plan's end may take: the longest request
/// timeout (queries, or writes to a separate write target).
fn drain_timeout(scenario: &Scenario) -> Duration {
    let write = scenario
        .target
        .write
        .as_ref()
        .map_or(Duration::ZERO, |w| w.timeout);
    scenario.target.timeout.max(write)
}

/// After the requests in flight are cancelled, how long transactions get to
/// record them and return before they are dropped.
const RECORD_GRACE: Duration = Duration::from_secs(1);

/// End the load on time (see `run_end.rs`). When the load ends (the plan's end
/// seen by the monitor, the ladder's stop, a signal), no request starts any
/// more; requests in flight get `timeout` to finish (they end by it anyway),
/// [`interrupt::DRAIN`] after a signal, nothing after a second one; then what is
/// still in flight is cancelled, and [`RECORD_GRACE`] later transactions still
/// running are dropped. Goose's users, which stop only between transactions,
/// then exit: the run ends within its plan + one request timeout + a grace.
async fn end_of_load(end: RunEnd, live: Arc<Live>, timeout: Duration) {
    const LOOK: Duration = Duration::from_millis(100);
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut signalled = false;
    loop {
        let signals = interrupt::count();
        let now = tokio::time::Instant::now();
        if signals > 0 {
            // Goose clears its killswitch when the attack starts: a signal that
            // came before must still stop it.
            goose::trigger_killswitch(interrupt::REASON);
        }
        if deadline.is_none() && (signals > 0 || live.is_stopping()) {
            end.end_load();
            live.stop();
            deadline = Some(now + timeout);
        }
        if let Some(d) = deadline.as_mut() {
            if signals > 0 && !signalled {
                signalled = true;
                *d = (*d).min(now + interrupt::DRAIN);
            }
            if signals > 1 || now >= *d {
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK) => {}
            _ = interrupt::received(signals + 1) => {}
        }
    }
    end.abort_in_flight();
    if interrupt::count() < 2 {
        tokio::select! {
            _ = tokio::time::sleep(RECORD_GRACE) => {}
            _ = interrupt::received(2) => {}
        }
    }
    end.stop_transactions();
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

/// The windows that ran: the planned ones, cut at the ladder's stop when the
/// refine steps or the recovery phase ran instead of the rest, then the refine
/// windows and the recovery window as they ran. Single and distributed runs
/// alike (`cluster::manager`).
pub(crate) fn windows_as_run(
    mut planned: Vec<StageWindow>,
    stop: Option<&LadderStop>,
    refined: Vec<StageWindow>,
    recovered: Vec<StageWindow>,
) -> Vec<StageWindow> {
    if let Some(stop) = stop.filter(|s| s.refined_until_ms.is_some() || !recovered.is_empty()) {
        let at = stop.at_ms;
        planned.retain(|w| w.start_ms < at);
        for w in &mut planned {
            w.end_ms = w.end_ms.min(at);
        }
        planned.extend(refined);
    }
    planned.extend(recovered);
    planned
}

/// What the monitor judges: the ladder's stop rule and its `[stress] refine`.
struct Ladder {
    stop_when: crate::live::StopRule,
    /// Bisection steps after the ladder stops (0 = none), with each one's ramp and hold.
    refine: usize,
    ramp: Duration,
    hold: Duration,
    /// A distributed run's worker: the manager judges the ladder and orders the
    /// recovery phase (`cluster::worker`), so the plan's end is not the drop.
    managed: bool,
}

impl Ladder {
    fn of(scenario: &Scenario, plan: &Plan) -> Ladder {
        let stress = scenario.stress.as_ref();
        Ladder {
            stop_when: stress.map(|s| s.stop_rule()).unwrap_or_default(),
            // Only a plan with the refine tail has the time (and users) to refine.
            refine: match stress {
                Some(s) if !plan.refine_tail.is_zero() => s.refine,
                _ => 0,
            },
            ramp: stress.map_or(Duration::ZERO, |s| s.ramp),
            hold: stress.map_or(Duration::ZERO, |s| s.hold),
            managed: false,
        }
    }
}

/// How often the monitor looks.
const TICK: Duration = Duration::from_millis(500);

/// Follow the plan's clock: start a fresh judging window at each stress step's
/// hold, stop the ladder (through Goose's killswitch) when its condition holds over
/// the current hold, and tell users when the plan is over.
///
/// Goose's start (the request log's clock zero), once a user has started.
type GooseZero = Arc<dyn Fn() -> Option<Instant> + Send + Sync>;

/// Where Goose's clock starts on the run's clock, whole ms (run.json's
/// `goose_clock_offset_ms`; the report converts with it).
fn goose_clock_offset_ms(clock: Instant, goose_zero: Instant) -> i64 {
    match goose_zero.checked_duration_since(clock) {
        Some(after) => after.as_millis() as i64,
        None => -(clock.duration_since(goose_zero).as_millis() as i64),
    }
}

/// `goose_ms` on Goose's clock as the run's clock ms, such that the report's
/// conversion back (minus `goose_clock_offset_ms`) gives `goose_ms` exactly.
fn on_run_clock(goose_ms: u64, clock: Instant, goose_zero: Instant) -> u64 {
    (goose_ms as i64 + goose_clock_offset_ms(clock, goose_zero)).max(0) as u64
}

/// The stop rule looks at the hold only, not the ramp: during the ramp fewer viewers
/// than the step's count are running and the new ones are on their first loads, so
/// the figures are not the step's; and the report judges the step on its hold, so a
/// stop the live judge calls is one the report can show (a ramp-only failure would
/// leave the step's judged window empty).
///
/// With `[stress] refine = N` a stop does not end the run: [`refine`] bisects between
/// the last level held and the one that failed, then the killswitch ends it. With
/// `[recovery]` the load then drops back for the phase ([`recover`]), after the
/// stop or once the ladder held to its ceiling, and the killswitch ends the run
/// after it.
async fn monitor(
    (start, plan, goose_zero): (tokio::time::Instant, Plan, GooseZero),
    ladder: Ladder,
    live: Arc<Live>,
    stop: Arc<Mutex<Option<LadderStop>>>,
    triggered: Arc<AtomicBool>,
    (refine_windows, recovery_windows): (SharedWindows, SharedWindows),
    holds: Holds,
) {
    // Users are told to stop when the load ends, so none sleeps through the ramp down.
    let end = plan.load_end();
    let mut current: Option<StageWindow> = None;
    // When the live window of `current` began (real ms): the stop rule counts
    // the requests that finished since, and the report judges the same ones.
    let mut current_from_ms = 0;
    let mut judging: Option<StageWindow> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let real = start.elapsed();
        // The plan's clock: the real one unless an until-judged hold ended early.
        let mut elapsed = holds.plan_clock(real);
        if let Some(ended) = follow_holds(
            &plan,
            &holds,
            &live,
            &mut judging,
            (real, elapsed),
            ladder.managed,
        ) {
            elapsed = ended;
        }
        if plan.shifted() {
            live.set_viewer_cap(plan.viewers_at(elapsed) as u64);
        }
        if !plan.steps.is_empty() && elapsed >= end {
            // The plan's clock ran ahead of Goose's plan by what the holds saved.
            let elapsed = real;
            if let Some(phase) = plan.recovery.filter(|_| !goose::is_killswitch_triggered()) {
                if ladder.managed {
                    // The manager's order drops every worker at once: load on until then.
                    return;
                }
                recover_and_end(
                    phase,
                    &live,
                    start,
                    elapsed,
                    (&*recovery_windows, &*triggered),
                    "stress ladder held to its ceiling; the recovery phase is over",
                )
                .await;
                return;
            }
            if ladder.refine > 0 && !goose::is_killswitch_triggered() {
                // The ladder held to its ceiling: nothing to refine, and the refine
                // tail need not run.
                triggered.store(true, Ordering::SeqCst);
                goose::trigger_killswitch(
                    "stress ladder held to its ceiling: no refine steps to run",
                );
            } else if plan.shifted() && !goose::is_killswitch_triggered() {
                // Goose's plan lasts as long as every hold's cap: end with the windows.
                live.set_phase(Some("ramp down".into()));
                triggered.store(true, Ordering::SeqCst);
                goose::trigger_killswitch("the plan's windows are over");
            }
            live.stop();
            return;
        }
        let window = plan.stress_window_at(elapsed).cloned();
        if window.as_ref().map(|w| &w.name) != current.as_ref().map(|w| &w.name) {
            current = window;
            current_from_ms = match goose_zero() {
                // A cut on the log's clock: the report then reads the very
                // requests the stop rule counted (`Live::cut`).
                Some(zero) => {
                    let begun = live
                        .cut(zero, |live| {
                            live.begin_window();
                            Some(())
                        })
                        .await;
                    let (_, cut) = begun.expect("a window always begins");
                    on_run_clock(cut, start.into_std(), zero)
                }
                None => {
                    live.begin_window();
                    real.as_millis() as u64
                }
            };
        }
        let Some(step) = &current else { continue };
        if ladder.stop_when.when.is_empty() || step.kind != WindowKind::StressStep {
            continue;
        }
        let decided = match goose_zero() {
            Some(zero) => live
                .cut(zero, |live| live.exceeded(&ladder.stop_when))
                .await
                .map(|(reason, cut)| (reason, on_run_clock(cut, start.into_std(), zero))),
            None => live
                .exceeded(&ladder.stop_when)
                .map(|reason| (reason, start.elapsed().as_millis() as u64)),
        };
        if let Some((reason, at_ms)) = decided {
            // The page shows the reason: say the rule in plain words with it.
            let reason = format!("{reason} — the ladder {}", ladder.stop_when.words());
            // From here on the refine steps and the recovery phase keep real time.
            let elapsed = real;
            *stop.lock().expect("ladder stop lock") = Some(LadderStop {
                step: step.name.clone(),
                viewers: step.viewers,
                reason: reason.clone(),
                at_ms,
                refined_until_ms: None,
                judged_from_ms: Some(current_from_ms),
            });
            let mut message = format!(
                "stress ladder stopped at {} ({} viewers): {reason}",
                step.name, step.viewers
            );
            if ladder.refine > 0 {
                let held = level_before(&plan, step);
                let (held, failed) = refine(
                    &ladder,
                    (held, step.viewers),
                    &live,
                    start,
                    elapsed,
                    &stop,
                    &refine_windows,
                )
                .await;
                if live.is_stopping() {
                    // Ctrl-C or the plan's end came first: not the ladder's stop.
                    return;
                }
                message.push_str(&format!("; refined: held at {held}, failed at {failed}"));
            }
            if let Some(phase) = plan.recovery {
                message.push_str("; the recovery phase followed");
                let from = start.elapsed();
                let shared = (&*recovery_windows, &*triggered);
                recover_and_end(phase, &live, start, from, shared, &message).await;
                return;
            }
            triggered.store(true, Ordering::SeqCst);
            goose::trigger_killswitch(&message);
            live.stop();
            return;
        }
    }
}

/// Follow the until-judged holds at `real` (plan clock `elapsed`): count the
/// samples of the one running, end it on the timeline once judged (`decide`;
/// a distributed run's manager decides for its workers) or when the plan's
/// clock passes its cap, and name it in the live status. Returns the plan's
/// clock after a hold ended now.
fn follow_holds(
    plan: &Plan,
    holds: &Holds,
    live: &Live,
    judging: &mut Option<StageWindow>,
    (real, elapsed): (Duration, Duration),
    managed: bool,
) -> Option<Duration> {
    if !plan.shifted() {
        return None;
    }
    let now = plan.until_judged_at(elapsed).cloned();
    if let Some(w) = judging.take() {
        let started = Duration::from_millis(holds.timeline().real_ms(w.start_ms));
        let counts = live.hold_counts().unwrap_or_default();
        if now.as_ref().map(|n| &n.name) != Some(&w.name) {
            // The plan's clock passed its cap (or a manager's order ended it).
            let capped = Duration::from_millis(holds.timeline().real_ms(w.end_ms));
            let short = holds.missing(&w.name, &counts, capped.saturating_sub(started));
            holds.timeline().end(&w, capped.min(real), short);
            live.end_hold();
        } else if !managed && holds.missing(&w.name, &counts, real - started).is_empty() {
            holds.timeline().end(&w, real, Vec::new());
            live.end_hold();
            live.set_phase(None);
            return Some(holds.plan_clock(real));
        } else {
            *judging = Some(w);
            return None;
        }
    }
    if let Some(w) = now.filter(|w| !holds.timeline().has_ended(&w.name)) {
        live.begin_hold();
        let cap = Duration::from_millis(holds.timeline().real_ms(w.end_ms));
        live.set_phase_until(format!("{} (until judged)", w.name), cap);
        *judging = Some(w);
    } else {
        // The status names the window on the plan's clock, and counts down to
        // the load's end as it now falls.
        let ms = elapsed.as_millis() as u64;
        match plan
            .windows
            .iter()
            .find(|w| w.start_ms <= ms && ms < w.end_ms)
        {
            Some(w) => {
                let end = holds.timeline().real_ms(plan.load_end().as_millis() as u64);
                live.set_phase_until(w.name.clone(), Duration::from_millis(end));
            }
            None => live.set_phase(None),
        }
    }
    None
}

/// Windows the monitor records as they run (refine steps, the recovery phase).
pub(crate) type SharedWindows = Arc<Mutex<Vec<StageWindow>>>;

/// The `recovery` window of a drop at `from` (attack clock), as planned.
pub(crate) fn recovery_window(
    phase: crate::scenario::RecoveryPhase,
    from: Duration,
) -> StageWindow {
    StageWindow {
        name: "recovery".into(),
        kind: WindowKind::Recovery,
        viewers: phase.viewers,
        start_ms: from.as_millis() as u64,
        end_ms: (from + phase.hold).as_millis() as u64,
    }
}

/// [`recover`], then end the run through the killswitch with `message`
/// (counted as the ladder's end, not an interruption) unless it was already
/// ending (Ctrl-C, the plan's end). A single run's monitor calls it, and a
/// distributed run's worker on the manager's order (`cluster::worker`).
pub(crate) async fn recover_and_end(
    phase: crate::scenario::RecoveryPhase,
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    (windows, triggered): (&Mutex<Vec<StageWindow>>, &AtomicBool),
    message: &str,
) {
    recover(phase, live, start, from, windows).await;
    if live.is_stopping() {
        return;
    }
    triggered.store(true, Ordering::SeqCst);
    goose::trigger_killswitch(message);
    live.stop();
}

/// `[recovery]`: drop the load to the phase's viewers at `from` (attack clock)
/// through the live viewer cap, record the `recovery` window, and hold until its
/// end (or the run's). The report measures the time to recover on it.
async fn recover(
    phase: crate::scenario::RecoveryPhase,
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    windows: &Mutex<Vec<StageWindow>>,
) {
    live.set_viewer_cap(phase.viewers as u64);
    let end = from + phase.hold;
    live.set_phase_until("recovery".into(), end);
    windows
        .lock()
        .expect("recovery windows lock")
        .push(recovery_window(phase, from));
    while start.elapsed() < end && !live.is_stopping() {
        tokio::time::sleep((end - start.elapsed()).min(TICK)).await;
    }
}

/// The ladder's level before `step`: the previous step's viewers, or the last
/// stage's for the first step.
fn level_before(plan: &Plan, step: &StageWindow) -> usize {
    let own_ramp = format!("{} ramp", step.name);
    plan.windows
        .iter()
        .rev()
        .find(|w| w.end_ms <= step.start_ms && w.name != own_ramp)
        .map_or(0, |w| w.viewers)
}

/// `[stress] refine`: up to `ladder.refine` bisection steps between `held` and
/// `failed` viewers, from `from` (attack clock). Each sets the viewer cap to the
/// middle level, ramps, and judges its hold with the ladder's stop rule; the
/// windows go to `windows` as they run, and the stop's `refined_until_ms` follows.
/// Returns the narrowed (held, failed).
async fn refine(
    ladder: &Ladder,
    (mut held, mut failed): (usize, usize),
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    stop: &Mutex<Option<LadderStop>>,
    windows: &Mutex<Vec<StageWindow>>,
) -> (usize, usize) {
    let mut t = from;
    for i in 1..=ladder.refine {
        let level = (held + failed) / 2;
        if level <= held {
            break; // adjacent levels: nothing left between them
        }
        live.set_viewer_cap(level as u64);
        live.set_phase(Some(format!("refine {i} ramp")));
        let hold_start = t + ladder.ramp;
        let hold_end = hold_start + ladder.hold;
        tokio::time::sleep_until(start + hold_start).await;
        if live.is_stopping() {
            break;
        }
        live.begin_window();
        live.set_phase(Some(format!("refine {i}")));
        let mut end = hold_end;
        let mut failed_here = false;
        loop {
            let now = start.elapsed();
            if now >= hold_end {
                break;
            }
            tokio::time::sleep((hold_end - now).min(TICK)).await;
            if live.is_stopping() {
                return (held, failed);
            }
            if live.exceeded(&ladder.stop_when).is_some() {
                end = start.elapsed().min(hold_end);
                failed_here = true;
                break;
            }
        }
        if failed_here {
            failed = level;
        } else {
            held = level;
        }
        let ms = |d: Duration| d.as_millis() as u64;
        {
            let mut w = windows.lock().expect("refine windows lock");
            if !ladder.ramp.is_zero() {
                w.push(StageWindow {
                    name: format!("refine {i} ramp"),
                    kind: WindowKind::Ramp,
                    viewers: level,
                    start_ms: ms(t),
                    end_ms: ms(hold_start),
                });
            }
            w.push(StageWindow {
                name: format!("refine {i}"),
                kind: WindowKind::StressStep,
                viewers: level,
                start_ms: ms(hold_start),
                end_ms: ms(end),
            });
        }
        if let Some(s) = stop.lock().expect("ladder stop lock").as_mut() {
            s.refined_until_ms = Some(ms(end));
        }
        t = end;
    }
    (held, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{RequestClass, Slo, SloMetric};

    fn ladder(refine: usize) -> Ladder {
        Ladder {
            stop_when: crate::live::StopRule {
                when: vec![Slo {
                    class: RequestClass::DashboardLoad,
                    metric: SloMetric::P95,
                    max: 1000.0,
                }],
                failure_share: false,
            },
            refine,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(8),
            managed: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refine_bisects_sets_the_viewer_cap_and_records_its_windows() {
        let live = Live::default();
        let stop = Mutex::new(Some(LadderStop {
            step: "step 1".into(),
            viewers: 14,
            reason: "p95".into(),
            at_ms: 15_000,
            refined_until_ms: None,
            judged_from_ms: None,
        }));
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        // No loads are recorded, so every refine hold holds: the levels climb.
        let narrowed = refine(
            &ladder(3),
            (2, 14),
            &live,
            start,
            Duration::from_secs(15),
            &stop,
            &windows,
        )
        .await;
        assert_eq!(narrowed, (12, 14), "8, then 11, then 12 held");
        assert!(live.viewer_active(11) && !live.viewer_active(12));
        assert_eq!(live.phase().as_deref(), Some("refine 3"));
        let shape: Vec<_> = windows
            .lock()
            .unwrap()
            .iter()
            .map(|w| (w.name.clone(), w.kind, w.viewers, w.start_ms, w.end_ms))
            .collect();
        assert_eq!(
            shape[..2],
            [
                ("refine 1 ramp".into(), WindowKind::Ramp, 8, 15_000, 17_000),
                ("refine 1".into(), WindowKind::StressStep, 8, 17_000, 25_000),
            ]
        );
        assert_eq!(shape.len(), 6);
        assert_eq!(shape[3].2, 11);
        assert_eq!(shape[5].2, 12);
        let until = stop.lock().unwrap().as_ref().unwrap().refined_until_ms;
        assert_eq!(until, Some(45_000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_refine_hold_ends_early_and_lowers_the_failed_level() {
        let live = Live::default();
        let stop = Mutex::new(None);
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let slow = async {
            // Every load is slow, from the first hold on: each refine step fails.
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                live.record(RequestClass::DashboardLoad, Duration::from_secs(3), true);
            }
        };
        let two = ladder(2);
        let narrowed = tokio::select! {
            n = refine(&two, (10, 20), &live, start, Duration::ZERO, &stop, &windows) => n,
            _ = slow => unreachable!(),
        };
        assert_eq!(narrowed, (10, 12), "15 failed, then 12");
        let w = windows.lock().unwrap();
        assert_eq!(w[1].name, "refine 1");
        assert!(w[1].end_ms < 10_000, "the hold stopped early: {:?}", w[1]);
        assert_eq!(
            w[2].start_ms, w[1].end_ms,
            "the next ramp starts at the stop"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn recovery_drops_the_viewer_cap_and_records_its_window() {
        let live = Live::default();
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let phase = crate::scenario::RecoveryPhase {
            viewers: 7,
            hold: Duration::from_secs(20),
            window: Duration::from_secs(5),
        };
        recover(phase, &live, start, Duration::from_secs(30), &windows).await;
        assert!(live.viewer_active(6) && !live.viewer_active(7));
        assert_eq!(live.phase().as_deref(), Some("recovery"));
        // The live status counts down to the phase's end, not the plan's.
        assert_eq!(live.phase_end(), Some(Duration::from_secs(50)));
        assert!(start.elapsed() >= Duration::from_secs(50), "it held");
        let w = windows.lock().unwrap();
        assert_eq!(
            (
                w[0].name.as_str(),
                w[0].kind,
                w[0].viewers,
                w[0].start_ms,
                w[0].end_ms
            ),
            ("recovery", WindowKind::Recovery, 7, 30_000, 50_000)
        );
    }

    #[test]
    fn the_level_before_a_step_is_the_previous_hold() {
        let stages = [crate::scenario::Stage {
            users: 5,
            ramp: Duration::from_secs(1),
            hold: Duration::from_secs(5),
            until_judged: false,
        }];
        let stress = crate::scenario::Stress {
            step: 10,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(8),
            ceiling: 30,
            stop_when: Vec::new(),
            stop_on_failure_share: false,
            refine: 0,
            until_judged: false,
        };
        let plan = Plan::build(&stages, Some(&stress), 0);
        let step = |name: &str| plan.windows.iter().find(|w| w.name == name).unwrap();
        assert_eq!(level_before(&plan, step("step 1")), 5);
        assert_eq!(level_before(&plan, step("step 2")), 15);
    }

    #[test]
    fn an_until_judged_hold_ends_once_judged_and_the_plan_clock_skips_the_rest_of_its_cap() {
        let stages = [crate::scenario::Stage {
            users: 4,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(60),
            until_judged: true,
        }];
        let plan = Plan::build(&stages, None, 0);
        let slo = Slo {
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 1000.0,
        };
        let needs = crate::judged_hold::Needs {
            figures: vec![crate::judged_hold::Need {
                class: slo.class,
                metric: slo.metric,
                purpose: crate::sampling::Purpose::Slo,
                needed: crate::report::judge::samples_needed(&slo),
            }],
            min_length: Duration::ZERO,
        };
        let holds = Holds {
            needs: [("stage 1 hold".to_string(), needs)].into(),
            ..Holds::default()
        };
        let live = Live::default();
        let mut judging = None;
        let s = Duration::from_secs;
        let mut follow = |real: Duration, live: &Live| {
            let elapsed = holds.plan_clock(real);
            follow_holds(&plan, &holds, live, &mut judging, (real, elapsed), false)
        };
        assert_eq!(follow(s(1), &live), None, "the ramp");
        // Loads before the hold do not count toward it.
        for _ in 0..30 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        assert_eq!(follow(s(2), &live), None, "the hold starts counting");
        for _ in 0..19 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        // A failed load is no sample of a percentile.
        live.record(
            RequestClass::DashboardLoad,
            Duration::from_millis(10),
            false,
        );
        assert_eq!(follow(s(10), &live), None, "19 of 20");
        live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        assert_eq!(follow(s(11), &live), Some(s(62)), "judged: the plan's end");
        assert_eq!(holds.plan_clock(s(12)), s(63));
        let holds_run = holds.timeline().holds();
        assert_eq!(holds_run.len(), 1);
        assert!(holds_run[0].judged);
        assert_eq!(holds_run[0].held_ms, 9_000);
        let real = holds.timeline().real_windows(&plan.windows);
        assert_eq!((real[1].start_ms, real[1].end_ms), (2_000, 11_000));
    }

    #[test]
    fn an_until_judged_hold_short_of_samples_ends_at_its_cap_and_says_what_it_lacked() {
        let stages = [crate::scenario::Stage {
            users: 4,
            ramp: Duration::ZERO,
            hold: Duration::from_secs(10),
            until_judged: true,
        }];
        let plan = Plan::build(&stages, None, 0);
        let slo = Slo {
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 1000.0,
        };
        let needs = crate::judged_hold::Needs {
            figures: vec![crate::judged_hold::Need {
                class: slo.class,
                metric: slo.metric,
                purpose: crate::sampling::Purpose::Slo,
                needed: 20,
            }],
            min_length: Duration::ZERO,
        };
        let holds = Holds {
            needs: [("stage 1 hold".to_string(), needs)].into(),
            ..Holds::default()
        };
        let live = Live::default();
        let mut judging = None;
        let s = Duration::from_secs;
        let mut follow = |real: Duration| {
            let elapsed = holds.plan_clock(real);
            follow_holds(&plan, &holds, &live, &mut judging, (real, elapsed), false)
        };
        assert_eq!(follow(Duration::from_millis(500)), None);
        for _ in 0..5 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        assert_eq!(follow(s(9)), None);
        assert_eq!(follow(s(10)), None, "the cap: no jump");
        let holds_run = holds.timeline().holds();
        assert_eq!(holds_run.len(), 1);
        assert!(!holds_run[0].judged);
        assert_eq!(holds_run[0].held_ms, 10_000);
        assert_eq!(holds_run[0].short, ["dashboard_load.p95: 5 of 20 samples"]);
        assert_eq!(holds.plan_clock(s(11)), s(11));
    }
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
