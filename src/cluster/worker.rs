//! `dashload worker SCENARIO`: one worker process of a distributed run. It
//! makes the manager prove it knows the token (`channel.rs`), loads its own
//! scenario with its own overrides (command line, environment: nothing the
//! manager says changes where it connects, which credentials it uses or what it
//! runs), joins with that scenario's digest (the manager refuses a mismatch),
//! and runs its share as an ordinary run (`run/`) with a few hooks, its
//! [`WorkerRole`]: its share of the plan and rank (its viewers' numbers), the
//! manager's sandbox, the barrier before the load, ticks instead of judging the
//! ladder itself (and the manager's order, not its own plan's end, starts
//! `[recovery]`). Then it uploads its files with their checksums and reports;
//! its copy goes once acknowledged.
//!
//! One worker per process: Goose's killswitch is process-wide.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

use super::channel::{Answer, Channel};
use super::protocol::{
    self, Assignment, Command, Done, FileSum, HoldState, Join, Ready, Start, Tick, WindowState,
};
use super::token::Token;
use crate::error::{exit_code, Error, Result};
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;
use crate::run::ladder::{recover_and_end, LadderOutcome};
use crate::run::role::{Load, WorkerRole};
use crate::runfolder::RunMeta;

/// A worker has joined in this process (one per process).
static JOINED: AtomicBool = AtomicBool::new(false);

/// A joined worker.
pub struct Worker {
    client: reqwest::Client,
    channel: Channel,
    /// The manager's embedded sandbox, accepted only for this worker's own
    /// `sandbox` scenario and only on loopback.
    sandbox: Option<url::Url>,
    /// What the manager assigned.
    pub assignment: Assignment,
    /// The manager stopped answering: the run stopped itself.
    manager_lost: AtomicBool,
    /// The manager's stop, when it sent one.
    stopped: Mutex<Option<String>>,
    /// The last tick sent: the heartbeat repeats it while the files go.
    last_tick: Mutex<Option<Tick>>,
}

impl WorkerRole for Worker {
    /// This worker's share of the global `plan` (checked against the manager's).
    fn share(&self, plan: &Plan) -> Result<Plan> {
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

    /// Stamp its run folder with the run and its index (`adopt.rs`).
    fn stamp(&self, run_dir: &Path) -> Result<()> {
        let a = &self.assignment;
        super::adopt::WorkerStamp {
            run_id: a.run_id.clone(),
            index: a.index,
            workers: a.workers,
        }
        .store(run_dir)
    }

    /// Its rank among the run's workers, and their count: its viewers are
    /// the run's viewers `q·workers + rank` (`users::numbering`).
    fn rank(&self) -> (usize, usize) {
        let a = &self.assignment;
        (super::share::rank(a.index, a.workers), a.workers)
    }

    /// The manager's embedded sandbox, for a scenario that targets one.
    fn sandbox_url(&self) -> Option<url::Url> {
        self.sandbox.clone()
    }

    /// Worker 0, the sync job's, runs the command faults.
    fn runs_command_faults(&self) -> bool {
        self.assignment.index == super::share::SYNC_WORKER
    }

    /// The barrier: say ready, wait for every worker, then count down on this
    /// process's monotonic clock. Called once everything before the load is done.
    fn wait_for_start(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let ready = Ready {
                run_id: self.assignment.run_id.clone(),
                index: self.assignment.index,
            };
            let start: Start = self
                .channel
                .expect("ready", &ready, Duration::from_secs(3600))
                .await?;
            let received = Instant::now();
            let at = received + Duration::from_micros(start.start_in_us);
            tokio::time::sleep_until(at.into()).await;
            Ok(())
        })
    }

    /// Tick every [`protocol::TICK_MS`] from `clock` (this worker's zero) until
    /// aborted: send the current stress window's state, obey a stop or the
    /// recovery drop, and stop on its own when the manager is silent for
    /// [`protocol::MANAGER_SILENT`].
    fn spawn_ticks(self: Arc<Self>, load: Load) -> tokio::task::JoinHandle<()> {
        let Load {
            live,
            plan,
            clock,
            ladder:
                LadderOutcome {
                    stop: ladder_stop,
                    triggered: ladder_triggered,
                    recovery_windows,
                    ..
                },
            holds,
        } = load;
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
                    .channel
                    .call::<Command>("tick", &tick, Duration::from_secs(2))
                    .await;
                let command = match answer {
                    Ok(Answer::Accepted(c)) => Some(c),
                    // Refused (the manager counted this worker lost): stop.
                    Ok(Answer::Refused(why)) => Some(Command::Stop {
                        reason: why,
                        ladder: None,
                    }),
                    // Unreachable, or an answer the session did not sign: silence.
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
                            recover_and_end(
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
                        .channel
                        .call::<serde::de::IgnoredAny>("tick", &tick, Duration::from_secs(2))
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

/// How to run a worker.
pub struct WorkerOptions {
    /// Its own scenario file.
    pub scenario: PathBuf,
    /// Its own `--set` overrides.
    pub set: Vec<String>,
    /// The manager's base URL.
    pub manager: url::Url,
    /// The manager's certificate's SHA-256 (`https` managers).
    pub fingerprint: Option<super::tls::Fingerprint>,
    /// Plain HTTP to a manager off loopback was asked for.
    pub allow_plain_http: bool,
    /// The token, when it came another way than the environment (stdin).
    pub token: Option<Token>,
    /// The index asked for.
    pub index: Option<usize>,
    /// Where its run folder goes.
    pub reports_dir: PathBuf,
    /// Keep its run folder after the manager acknowledged the files.
    pub keep_files: bool,
    /// How long to keep trying to reach the manager.
    pub connect_timeout: Duration,
}

/// True for a loopback host (`localhost` included).
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Check what the manager assigned against what this worker asked for and
/// runs: an index in range (its own if it asked for one), a known worker count,
/// and the embedded sandbox only for its own `sandbox` scenario, on loopback.
fn check_assignment(
    a: &Assignment,
    asked: Option<usize>,
    scenario: &crate::scenario::Scenario,
) -> Result<Option<url::Url>> {
    let bad = |what: String| {
        Err(Error::Usage(format!(
            "the manager's assignment: {what}: refused"
        )))
    };
    if !(1..=256).contains(&a.workers) || a.index >= a.workers {
        return bad(format!("worker {} of {}", a.index, a.workers));
    }
    if asked.is_some_and(|i| i != a.index) {
        return bad(format!(
            "index {} where {} was asked for",
            a.index,
            asked.unwrap_or(0)
        ));
    }
    let sandbox = match (&a.sandbox_url, scenario.target.kind) {
        (None, _) => None,
        (Some(u), crate::scenario::TargetKind::Sandbox) => match url::Url::parse(u) {
            Ok(url) if url.scheme() == "http" && is_loopback_host(&url) => Some(url),
            _ => return bad(format!("a sandbox off loopback ({u})")),
        },
        // Not this worker's kind of target: it loads its own.
        (Some(_), _) => None,
    };
    if scenario.target.kind == crate::scenario::TargetKind::Sandbox && sandbox.is_none() {
        return bad("no shared sandbox for a sandbox scenario".into());
    }
    Ok(sandbox)
}

/// Run one worker: join, run, upload, report. Returns the exit code.
pub async fn run(options: WorkerOptions) -> Result<u8> {
    let token = match options.token.clone() {
        Some(t) => Some(t),
        None => Token::from_env()?,
    };
    let loopback = is_loopback_host(&options.manager);
    super::token::require(
        loopback,
        token.as_ref(),
        &format!("the manager {}", options.manager),
    )?;
    let client = super::tls::client_for(
        &options.manager,
        options.fingerprint.as_ref(),
        options.allow_plain_http,
    )?;
    // Its own scenario and overrides, checked before the manager is dialled.
    let overrides = crate::scenario::Overrides::from_env_and_flags(&options.set)?;
    let scenario = crate::scenario::Scenario::load_with(&options.scenario, &overrides)?;
    let key = super::auth::Key::of(token.as_ref());
    let base = options.manager.clone();
    // The manager may still be starting: keep trying for a while.
    let deadline = Instant::now() + options.connect_timeout;
    let channel = loop {
        match Channel::connect(client.clone(), &base, &key).await {
            Ok(c) => break c,
            Err(Error::Unreachable(e)) if Instant::now() >= deadline => {
                return Err(Error::Unreachable(e))
            }
            Err(Error::Unreachable(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
            Err(e) => return Err(e),
        }
    };
    let join = Join {
        version: env!("CARGO_PKG_VERSION").into(),
        digest: scenario.digest.clone(),
        index: options.index,
        host: host_name(),
        pid: std::process::id(),
    };
    let assignment: Assignment = channel
        .expect("join", &join, Duration::from_secs(30))
        .await?;
    let sandbox = check_assignment(&assignment, options.index, &scenario)?;
    drop(scenario);
    let index = assignment.index;
    eprintln!(
        "dashload worker {index}: joined run {} ({} workers), plan {}",
        assignment.run_id, assignment.workers, assignment.plan
    );
    let worker = Arc::new(Worker {
        client: client.clone(),
        channel,
        sandbox,
        assignment,
        manager_lost: AtomicBool::new(false),
        stopped: Mutex::new(None),
        last_tick: Mutex::new(None),
    });
    if JOINED.swap(true, Ordering::SeqCst) {
        return Err(Error::Usage("one worker per process".into()));
    }
    let goose = goose::config::GooseConfiguration::parse_args_default(&["--quiet"])
        .map_err(|e| Error::Usage(format!("goose defaults: {e}")))?;
    let result = crate::run::run(crate::run::RunOptions {
        scenario: options.scenario.clone(),
        reports_dir: options.reports_dir.clone(),
        report: Default::default(),
        goose,
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides,
        worker: Some(worker.clone()),
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
    let acked = match worker
        .channel
        .call::<serde::de::IgnoredAny>("done", &done, Duration::from_secs(30))
        .await
    {
        Ok(Answer::Accepted(_)) => Ok(()),
        Ok(Answer::Refused(why)) => Err(Error::Usage(format!("done refused: {why}"))),
        Err(e) => Err(e),
    };
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
    let run = reqwest::header::HeaderValue::from_str(&worker.assignment.run_id)
        .map_err(|e| Error::Other(e.into()))?;
    headers.insert("x-dashload-run", run);
    for name in names {
        let route = format!("files/{}/{name}", worker.assignment.index);
        let sent = super::upload::send(
            &worker.client,
            worker.channel.root(),
            &route,
            &worker.channel,
            &headers,
            &run_dir.join(&name),
        )
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(target: &str) -> crate::scenario::Scenario {
        let text = format!(
            "name = \"w\"\n[target]\n{target}\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"1s\"\n"
        );
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        crate::scenario::Scenario::parse(&text, &dir.join("w.toml")).unwrap()
    }

    fn assignment(index: usize, workers: usize, sandbox: Option<&str>) -> Assignment {
        Assignment {
            run_id: "r".into(),
            index,
            workers,
            plan: String::new(),
            seed: 1,
            sandbox_url: sandbox.map(str::to_string),
        }
    }

    #[test]
    fn a_manager_cannot_point_a_worker_elsewhere_through_its_assignment() {
        let sandbox = scenario("kind = \"sandbox\"");
        let own = scenario("kind = \"influxdb1\"\nurl = \"http://127.0.0.1:8086\"");
        let local = Some("http://127.0.0.1:4100");
        assert_eq!(
            check_assignment(&assignment(0, 2, local), Some(0), &sandbox)
                .unwrap()
                .map(String::from),
            Some("http://127.0.0.1:4100/".to_string())
        );
        // A sandbox off loopback, for the worker's own sandbox scenario: refused.
        for url in [
            "http://10.1.2.3:8086",
            "http://manager.example:8086",
            "file:///etc/passwd",
        ] {
            let e = check_assignment(&assignment(0, 2, Some(url)), None, &sandbox).unwrap_err();
            assert!(e.to_string().contains("off loopback"), "{e}");
        }
        // A worker with its own target never takes the manager's sandbox.
        assert_eq!(
            check_assignment(&assignment(0, 2, local), None, &own).unwrap(),
            None
        );
        // An index it did not ask for, or out of range: refused.
        assert!(check_assignment(&assignment(1, 2, None), Some(0), &own).is_err());
        assert!(check_assignment(&assignment(2, 2, None), None, &own).is_err());
        assert!(check_assignment(&assignment(0, 100_000, None), None, &own).is_err());
    }
}
