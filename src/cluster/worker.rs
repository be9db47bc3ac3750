//! `dashload worker`: one worker process of a distributed run. It asks the
//! manager what to run, loads the same scenario itself (secrets stay local),
//! joins, and runs its share as an ordinary run (`run.rs`) with a few hooks: its
//! share of the plan, its own viewer seed, the manager's sandbox, the barrier
//! before the load, ticks instead of judging the ladder itself (and the
//! manager's order, not its own plan's end, starts `[recovery]`). Then it uploads
//! its files with their checksums and reports; its copy goes once acknowledged.
//!
//! One worker per process: Goose's killswitch is process-wide, and so is the
//! [`role`] these hooks read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::protocol::{
    self, Assignment, Command, Done, FileSum, Hello, HoldState, Join, Ready, Refusal, Start, Tick,
    WindowState,
};
use super::token::Token;
use crate::error::{exit_code, Error, Result};
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;
use crate::run::SharedWindows;
use crate::runfolder::{LadderStop, RunMeta};

/// This process's worker role, set by `dashload worker` before its run starts.
static ROLE: OnceLock<Arc<Worker>> = OnceLock::new();

/// The worker role of this process, if it is a worker.
pub fn role() -> Option<Arc<Worker>> {
    ROLE.get().cloned()
}

/// A joined worker.
pub struct Worker {
    client: reqwest::Client,
    base: url::Url,
    token: Option<Token>,
    /// What the manager assigned.
    pub assignment: Assignment,
    /// The manager stopped answering: the run stopped itself.
    manager_lost: AtomicBool,
    /// The manager's stop, when it sent one.
    stopped: Mutex<Option<String>>,
    /// The last tick sent: the heartbeat repeats it while the files go.
    last_tick: Mutex<Option<Tick>>,
}

impl Worker {
    /// This worker's share of the global `plan` (checked against the manager's).
    pub fn share(&self, plan: &Plan) -> Result<Plan> {
        let a = &self.assignment;
        let share = plan.share(a.index, a.workers, a.index == super::share::SYNC_WORKER);
        if share.goose_test_plan() != a.plan {
            return Err(Error::Usage(format!(
                "worker {}: this scenario's share is {}, the manager's {}: not the same scenario",
                a.index,
                share.goose_test_plan(),
                a.plan
            )));
        }
        Ok(share)
    }

    /// Its viewers' seed.
    pub fn seed(&self) -> u64 {
        self.assignment.seed
    }

    /// The manager's embedded sandbox, for a scenario that targets one.
    pub fn sandbox_url(&self) -> Option<url::Url> {
        self.assignment
            .sandbox_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{}/{path}",
            self.base.as_str().trim_end_matches('/'),
            protocol::PREFIX
        )
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        with_token(self.client.post(self.url(path)), self.token.as_ref())
    }

    /// The barrier: say ready, wait for every worker, then count down on this
    /// process's monotonic clock. Called once everything before the load is done.
    pub async fn wait_for_start(&self) -> Result<()> {
        let ready = Ready {
            run_id: self.assignment.run_id.clone(),
            index: self.assignment.index,
        };
        let answer = self
            .post("ready")
            .timeout(Duration::from_secs(3600))
            .json(&ready)
            .send()
            .await
            .map_err(|e| Error::Usage(format!("manager {}: {e}", self.base)))?;
        let received = Instant::now();
        let start: Start = accepted(answer).await?;
        let at = received + Duration::from_micros(start.start_in_us);
        tokio::time::sleep_until(at.into()).await;
        Ok(())
    }

    /// Tick every [`protocol::TICK_MS`] from `clock` (this worker's zero) until
    /// aborted: send the current stress window's state, obey a stop or the
    /// recovery drop, and stop on its own when the manager is silent for
    /// [`protocol::MANAGER_SILENT`].
    pub fn spawn_ticks(
        self: Arc<Self>,
        live: Arc<Live>,
        plan: Plan,
        clock: Instant,
        (ladder_stop, ladder_triggered): (Arc<Mutex<Option<LadderStop>>>, Arc<AtomicBool>),
        recovery_windows: SharedWindows,
        holds: Holds,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let period = Duration::from_millis(protocol::TICK_MS);
            let mut last_ok = Instant::now();
            let mut rtt_us = None;
            let mut seq = 0;
            // The recovery phase once ordered; it goes when the ticks do.
            let mut recovery: Option<AbortOnDrop> = None;
            loop {
                tokio::time::sleep(period).await;
                seq += 1;
                let elapsed = clock.elapsed();
                let mut tick = Tick {
                    run_id: self.assignment.run_id.clone(),
                    index: self.assignment.index,
                    seq,
                    since_zero_us: 0,
                    wall_us: 0,
                    // Only the round trip of the tick just before this one.
                    rtt_us: rtt_us.take(),
                    window: window_state(&plan, &live, &holds, elapsed),
                    viewers: live.viewers(),
                    dashboard_loads: live.counters().dashboard_loads,
                    hold: hold_state(&plan, &live, &holds, elapsed),
                };
                // The clocks last, and the round trip from that very instant: the
                // manager places this worker's zero within half of it.
                let sent = Instant::now();
                tick.since_zero_us = sent.duration_since(clock).as_micros() as u64;
                tick.wall_us = wall_us();
                *self.last_tick.lock().expect("last tick lock") = Some(tick.clone());
                let answer = self
                    .post("tick")
                    .timeout(Duration::from_secs(2))
                    .json(&tick)
                    .send()
                    .await;
                let command = match answer {
                    Ok(r) if r.status().is_success() => r.json::<Command>().await.ok(),
                    Ok(r) => {
                        // Refused (the manager counted this worker lost): stop.
                        let why = r
                            .json::<Refusal>()
                            .await
                            .map_or_else(|_| "refused by the manager".into(), |r| r.reason);
                        Some(Command::Stop {
                            reason: why,
                            ladder: None,
                        })
                    }
                    Err(_) => None,
                };
                let received = Instant::now();
                match command {
                    Some(Command::Run) => {
                        last_ok = received;
                        rtt_us = Some(received.duration_since(sent).as_micros() as u64);
                    }
                    Some(Command::EndHold { window, in_us }) => {
                        last_ok = received;
                        rtt_us = Some(received.duration_since(sent).as_micros() as u64);
                        let Some(w) = plan.windows.iter().find(|w| w.name == window).cloned()
                        else {
                            continue;
                        };
                        if holds.timeline().has_ended(&w.name) {
                            continue;
                        }
                        let at = received + Duration::from_micros(in_us);
                        let (holds, live) = (holds.clone(), live.clone());
                        // Every worker ends it at the manager's instant, on its own clock;
                        // the monitor moves on to the next window.
                        tokio::spawn(async move {
                            tokio::time::sleep_until(at.into()).await;
                            holds.timeline().end(&w, clock.elapsed(), Vec::new());
                            live.end_hold();
                        });
                    }
                    Some(Command::Recover {
                        reason,
                        ladder,
                        in_us,
                    }) => {
                        last_ok = received;
                        rtt_us = Some(received.duration_since(sent).as_micros() as u64);
                        // The share always has the phase when the manager's plan does
                        // (same scenario digest).
                        let Some(phase) = plan.recovery.filter(|_| recovery.is_none()) else {
                            continue;
                        };
                        if let Some(mut stop) = ladder {
                            // On this worker's clock, as its own run.json counts.
                            stop.at_ms = elapsed.as_millis() as u64;
                            *ladder_stop.lock().expect("ladder stop lock") = Some(stop);
                        }
                        let at = received + Duration::from_micros(in_us);
                        let (live, windows, triggered) = (
                            live.clone(),
                            recovery_windows.clone(),
                            ladder_triggered.clone(),
                        );
                        recovery = Some(AbortOnDrop(tokio::spawn(async move {
                            tokio::time::sleep_until(at.into()).await;
                            // The single run's drop, hold and end, on this worker's clock.
                            crate::run::recover_and_end(
                                phase,
                                &live,
                                clock.into(),
                                clock.elapsed(),
                                (&windows, &triggered),
                                &reason,
                            )
                            .await;
                        })));
                    }
                    Some(Command::Stop { reason, ladder }) => {
                        *self.stopped.lock().expect("stopped lock") = Some(reason.clone());
                        if let Some(mut stop) = ladder {
                            // On this worker's clock, as its own run.json counts.
                            stop.at_ms = elapsed.as_millis() as u64;
                            *ladder_stop.lock().expect("ladder stop lock") = Some(stop);
                            ladder_triggered.store(true, Ordering::SeqCst);
                        }
                        goose::trigger_killswitch(&reason);
                        live.stop();
                        return;
                    }
                    None if last_ok.elapsed() >= protocol::MANAGER_SILENT => {
                        self.manager_lost.store(true, Ordering::SeqCst);
                        let why = format!(
                            "manager lost: no answer for {} s",
                            protocol::MANAGER_SILENT.as_secs()
                        );
                        eprintln!("dashload worker {}: {why}; stopping", self.assignment.index);
                        goose::trigger_killswitch(&why);
                        live.stop();
                        return;
                    }
                    None => {}
                }
            }
        })
    }
}

impl Worker {
    /// Between the load's end and the manager's acknowledgement (writing the
    /// run folder, hashing a long request log), keep telling the manager this
    /// worker is there: the last tick again, without a window (nothing more to
    /// judge) and without a round trip (no clock sample). Its answers are not
    /// orders any more: the load is over.
    fn spawn_heartbeat(self: Arc<Self>) -> AbortOnDrop {
        AbortOnDrop(tokio::spawn(async move {
            let period = Duration::from_millis(protocol::TICK_MS);
            loop {
                let last = self.last_tick.lock().expect("last tick lock").clone();
                if let Some(mut tick) = last {
                    tick.seq += 1;
                    tick.rtt_us = None;
                    tick.window = None;
                    *self.last_tick.lock().expect("last tick lock") = Some(tick.clone());
                    let _ = self
                        .post("tick")
                        .timeout(Duration::from_secs(2))
                        .json(&tick)
                        .send()
                        .await;
                }
                tokio::time::sleep(period).await;
            }
        }))
    }
}

/// A task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The window a tick reports: the plan's current stress step once it has been
/// current for longer than the local monitor's period, so the live window holds
/// that step's figures (the monitor opens it on its next tick).
fn window_state(plan: &Plan, live: &Live, holds: &Holds, elapsed: Duration) -> Option<WindowState> {
    // On the plan's clock (an ended until-judged hold moves it ahead).
    let now = plan.stress_window_at(holds.plan_clock(elapsed))?;
    let settled = elapsed.checked_sub(Duration::from_millis(protocol::TICK_MS + 100))?;
    if plan
        .stress_window_at(holds.plan_clock(settled))
        .map(|w| &w.name)
        != Some(&now.name)
    {
        return None;
    }
    let classes = live.window_state()?;
    Some(WindowState {
        name: now.name.clone(),
        classes: classes.each_ref().map(protocol::ClassState::of),
    })
}

fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn with_token(r: reqwest::RequestBuilder, token: Option<&Token>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => r.header(reqwest::header::AUTHORIZATION, t.header()),
        None => r,
    }
}

/// The body of a 2xx answer, or the manager's one-line refusal as a usage error.
async fn accepted<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T> {
    let status = r.status();
    if status.is_success() {
        return r
            .json()
            .await
            .map_err(|e| Error::Usage(format!("manager's answer unreadable: {e}")));
    }
    let reason = match r.json::<Refusal>().await {
        Ok(r) => r.reason,
        Err(_) => status.to_string(),
    };
    Err(Error::Usage(format!("refused by the manager: {reason}")))
}

/// How to run a worker.
pub struct WorkerOptions {
    /// The manager's base URL.
    pub manager: url::Url,
    /// The index asked for.
    pub index: Option<usize>,
    /// Where its run folder goes.
    pub reports_dir: PathBuf,
    /// Keep its run folder after the manager acknowledged the files.
    pub keep_files: bool,
    /// How long to keep trying to reach the manager.
    pub connect_timeout: Duration,
}

/// Run one worker: join, run, upload, report. Returns the exit code.
pub async fn run(options: WorkerOptions) -> Result<u8> {
    let token = Token::from_env()?;
    let loopback = match options.manager.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    super::token::require(
        loopback,
        token.as_ref(),
        &format!("the manager {}", options.manager),
    )?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("dashload-worker/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Other(e.into()))?;
    let base = options.manager.clone();
    let url = |p: &str| {
        format!(
            "{}{}/{p}",
            base.as_str().trim_end_matches('/'),
            protocol::PREFIX
        )
    };
    // The manager may still be starting: keep trying for a while.
    let deadline = Instant::now() + options.connect_timeout;
    let hello: Hello = loop {
        match with_token(client.get(url("hello")), token.as_ref())
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) => break accepted(r).await?,
            Err(e) if Instant::now() >= deadline => {
                return Err(Error::Unreachable(format!("manager {base}: {e}")))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let overrides = crate::scenario::Overrides::from_env_and_flags(&hello.set)?;
    let scenario = crate::scenario::Scenario::load_with(Path::new(&hello.scenario), &overrides)?;
    let join = Join {
        version: env!("CARGO_PKG_VERSION").into(),
        digest: scenario.digest.clone(),
        index: options.index,
        host: host_name(),
        pid: std::process::id(),
    };
    drop(scenario);
    let answer = with_token(client.post(url("join")), token.as_ref())
        .json(&join)
        .send()
        .await
        .map_err(|e| Error::Unreachable(format!("manager {base}: {e}")))?;
    let assignment: Assignment = accepted(answer).await?;
    let index = assignment.index;
    eprintln!(
        "dashload worker {index}: joined run {} ({} workers), plan {}",
        assignment.run_id, assignment.workers, assignment.plan
    );
    let worker = Arc::new(Worker {
        client: client.clone(),
        base: base.clone(),
        token: token.clone(),
        assignment,
        manager_lost: AtomicBool::new(false),
        stopped: Mutex::new(None),
        last_tick: Mutex::new(None),
    });
    if ROLE.set(worker.clone()).is_err() {
        return Err(Error::Usage("one worker per process".into()));
    }
    let goose = goose::config::GooseConfiguration::parse_args_default(&["--quiet"])
        .map_err(|e| Error::Usage(format!("goose defaults: {e}")))?;
    let result = crate::run::run(crate::run::RunOptions {
        scenario: PathBuf::from(&hello.scenario),
        reports_dir: options.reports_dir.clone(),
        report: Default::default(),
        goose,
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides,
    })
    .await?;
    if worker.manager_lost.load(Ordering::SeqCst) {
        eprintln!(
            "dashload worker {index}: the manager was lost; this worker's run folder is kept: {}",
            result.run_dir.display()
        );
        return Ok(exit_code::INTERRUPTED);
    }
    // Until `done` is acknowledged (dropped on every way out).
    let _heartbeat = worker.clone().spawn_heartbeat();
    let files = match upload(&worker, &result.run_dir).await {
        Ok(files) => files,
        Err(e) => {
            eprintln!(
                "dashload worker {index}: upload failed ({e}); run folder kept: {}",
                result.run_dir.display()
            );
            return Ok(exit_code::INTERRUPTED);
        }
    };
    let done = Done {
        run_id: worker.assignment.run_id.clone(),
        index,
        interrupted: result.meta.interrupted,
        counters: result.meta.counters.clone(),
        viewers_started: viewers_started(&result.meta),
        files,
    };
    let acked = worker
        .post("done")
        .timeout(Duration::from_secs(30))
        .json(&done)
        .send()
        .await
        .map_err(|e| Error::Unreachable(e.to_string()))
        .and_then(|r| {
            if r.status().is_success() {
                Ok(())
            } else {
                Err(Error::Usage(format!("done refused: {}", r.status())))
            }
        });
    match acked {
        Ok(()) if !options.keep_files => {
            let _ = std::fs::remove_dir_all(&result.run_dir);
        }
        Ok(()) => {}
        Err(e) => {
            eprintln!(
                "dashload worker {index}: the manager did not acknowledge ({e}); run folder kept: {}",
                result.run_dir.display()
            );
            return Ok(exit_code::INTERRUPTED);
        }
    }
    Ok(if result.meta.interrupted {
        exit_code::INTERRUPTED
    } else {
        exit_code::OK
    })
}

/// The viewers a worker started: Goose's users less its sync users (run.json
/// has no live count; the windows say the planned share).
fn viewers_started(meta: &RunMeta) -> u64 {
    meta.windows.iter().map(|w| w.viewers).max().unwrap_or(0) as u64
}

/// Upload every file of the finished run folder, streamed with its SHA-256
/// (`upload.rs`); the manager writes each atomically once it checks out.
async fn upload(worker: &Worker, run_dir: &Path) -> Result<Vec<FileSum>> {
    let mut sums = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(run_dir)
        .map_err(|e| Error::io(run_dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = &worker.token {
        let value = reqwest::header::HeaderValue::from_str(&t.header())
            .map_err(|e| Error::Other(e.into()))?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let run = reqwest::header::HeaderValue::from_str(&worker.assignment.run_id)
        .map_err(|e| Error::Other(e.into()))?;
    headers.insert("x-dashload-run", run);
    for name in names {
        let url = worker.url(&format!("files/{}/{name}", worker.assignment.index));
        let sent =
            super::upload::send(&worker.client, &url, &headers, &run_dir.join(&name)).await?;
        sums.push(FileSum {
            name,
            sha256: sent.sha256,
        });
    }
    Ok(sums)
}

/// This host's name, for the manager's table.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The until-judged hold a tick reports: the one running on the plan's clock,
/// once the local monitor counts its samples, and not yet ended here.
fn hold_state(plan: &Plan, live: &Live, holds: &Holds, elapsed: Duration) -> Option<HoldState> {
    let w = plan.until_judged_at(holds.plan_clock(elapsed))?;
    if holds.timeline().has_ended(&w.name) {
        return None;
    }
    Some(HoldState {
        name: w.name.clone(),
        counts: live.hold_counts()?,
    })
}
