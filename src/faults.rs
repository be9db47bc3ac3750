//! A run's faults on its clock: switches the sandbox's built-in faults on and
//! off, and runs command faults' `start` and `stop` (with a timeout, output to
//! `faults/<n>-start.log` and `faults/<n>-stop.log` in the run folder).
//!
//! What ran is recorded in `faults.json` ([`FaultRecord`]): each window as it
//! really ran (`start_ms`/`end_ms` on the request log's clock), so the report can
//! shade it and measure recovery after it. A failing `start` stops the run (Goose's
//! killswitch) and the run ends with an error; a `stop` always runs: when the
//! window ends, when the run ends early (ladder stop, Ctrl-C), and, should the
//! process be made to exit at once (a third Ctrl-C), from `interrupt`'s exit hook.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sandbox::SandboxState;
use crate::scenario::faults::{Fault, FaultAction};

/// The file in the run folder.
pub const FILE: &str = "faults.json";
/// The folder of command logs in the run folder.
pub const LOG_DIR: &str = "faults";

/// One fault as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// 1-based, in scenario order.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// `latency`, `error`, `refuse`, `stall` or `command`.
    pub kind: String,
    /// What it does, in one line.
    pub describe: String,
    /// The window as written (`stage 2`, `step 3`, `at 30s for 20s`).
    pub window: String,
    /// Planned start, ms since the attack started.
    pub planned_start_ms: u64,
    /// Planned end.
    pub planned_end_ms: u64,
    /// When it was switched on (None: the run ended first).
    pub start_ms: Option<u64>,
    /// When it was switched off.
    pub end_ms: Option<u64>,
    /// Requests a sandbox fault hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
    /// The start command, as it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<CommandRun>,
    /// The stop command, as it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_command: Option<CommandRun>,
    /// `recover_within` of the scenario's fault, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_within_ms: Option<u64>,
}

impl FaultRecord {
    /// The window as it ran, when it ran: (start, end) ms on the run's clock.
    pub fn ran(&self) -> Option<(u64, u64)> {
        Some((self.start_ms?, self.end_ms?))
    }
}

/// One command as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRun {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// True when it exited 0 within its timeout.
    pub ok: bool,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it ran, ms.
    pub duration_ms: u64,
    /// Its log, relative to the run folder.
    pub log: String,
}

/// Read `faults.json` of a run folder (empty when the run had no faults).
pub fn load(run_dir: &Path) -> Result<Vec<FaultRecord>> {
    let path = run_dir.join(FILE);
    match crate::runfolder::input::read_capped(&path, crate::runfolder::input::AUX_CAP) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Report(format!("{}: {e}", path.display()))),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Run `argv` with `timeout`, its output (stdout and stderr) to `log`; `shown`
/// names the log in the record.
pub async fn run_command(
    argv: &[String],
    timeout: Duration,
    log: &Path,
    shown: &str,
) -> CommandRun {
    let started = Instant::now();
    let (a, l) = (argv.to_vec(), log.to_path_buf());
    let result = tokio::task::spawn_blocking(move || run_blocking(&a, timeout, &l))
        .await
        .unwrap_or_else(|e| Err(format!("the command's thread failed: {e}")));
    let mut out = CommandRun {
        argv: argv.to_vec(),
        ok: false,
        exit_code: None,
        error: None,
        duration_ms: started.elapsed().as_millis() as u64,
        log: shown.to_string(),
    };
    match result {
        Ok(status) => {
            out.exit_code = status.code();
            out.ok = status.success();
            if !out.ok {
                out.error = Some(match status.code() {
                    Some(c) => format!("exited {c}"),
                    None => "killed by a signal".into(),
                });
            }
        }
        Err(e) => out.error = Some(e),
    }
    out
}

/// The most of a command's output its log keeps (stdout and stderr together);
/// past it the output is read and counted, and a last line says how much was dropped.
pub const MAX_LOG: usize = 1 << 20;

/// After the command exits, how long its output may still take to arrive: a
/// process it left in the background may hold the pipe open for ever.
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Run `argv` (no shell) within `timeout`, output to `log`.
///
/// The command runs in a process group of its own, so that past its timeout the
/// whole group is killed, whatever it forked. It does not inherit dashload's
/// secret variables ([`crate::redact::secret_variables`]). Its log keeps the first
/// [`MAX_LOG`] bytes of output, with every secret dashload knows masked.
fn run_blocking(
    argv: &[String],
    timeout: Duration,
    log: &Path,
) -> std::result::Result<std::process::ExitStatus, String> {
    use std::os::unix::process::CommandExt;

    // Created first: an unwritable log fails before anything runs.
    std::fs::File::create(log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let (program, args) = argv.split_first().ok_or("no program")?;
    let (reader, writer) = std::io::pipe().map_err(|e| format!("no pipe for the output: {e}"))?;
    let mut child = {
        // The command (and its copies of the pipe's write end) goes out of
        // scope once spawned: the output ends when the child's copies close.
        let mut command = std::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(|e| e.to_string())?)
            .stderr(writer)
            .process_group(0);
        for var in crate::redact::secret_variables() {
            command.env_remove(var);
        }
        command
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?
    };
    let output = Arc::new(Mutex::new(Captured::default()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    {
        let output = output.clone();
        std::thread::spawn(move || {
            capture(reader, &output);
            let _ = done_tx.send(());
        });
    }
    let deadline = Instant::now() + timeout;
    let result = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Err(e) => break Err(format!("waiting for `{program}`: {e}")),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                break Err(format!(
                    "`{program}` ran past its timeout ({}) and was killed (its whole process group)",
                    crate::scenario::duration::format_duration(timeout)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    // The output so far, should a process left behind keep the pipe open.
    let _ = done_rx.recv_timeout(OUTPUT_GRACE);
    let captured = std::mem::take(&mut *output.lock().unwrap_or_else(|e| e.into_inner()));
    std::fs::write(log, captured.into_log())
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    result
}

/// Kill `child`'s process group (it leads one of its own) and reap the child.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals that process group; the
        // group is the child's own (process_group(0)), never dashload's.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A command's output as its log keeps it.
#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

impl Captured {
    fn take(&mut self, chunk: &[u8]) {
        let room = MAX_LOG.saturating_sub(self.kept.len());
        let keep = chunk.len().min(room);
        self.kept.extend_from_slice(&chunk[..keep]);
        self.dropped += (chunk.len() - keep) as u64;
    }

    /// The log's text: secrets masked, and a last line for what was dropped.
    fn into_log(self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.kept);
        let mut log = crate::redact::redact(&text).into_owned();
        if self.dropped > 0 {
            if !log.ends_with('\n') {
                log.push('\n');
            }
            log.push_str(&format!(
                "[dashload: {} more bytes of output dropped: the log keeps the first {}]\n",
                self.dropped,
                crate::scenario::file::format_size(MAX_LOG as u64)
            ));
        }
        log.into_bytes()
    }
}

/// Read the command's output to its end into `output`.
fn capture(mut reader: std::io::PipeReader, output: &Mutex<Captured>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut reader, &mut buf) {
            Ok(0) => return,
            Ok(n) => output
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A stop command still owed, for the exit hook.
#[derive(Clone)]
struct Owed {
    argv: Vec<String>,
    timeout: Duration,
    log: PathBuf,
}

/// Stop commands owed by the running faults (by fault index), across the process:
/// the exit hook runs them should the process exit before the run finishes.
static OWED: Mutex<BTreeMap<usize, Owed>> = Mutex::new(BTreeMap::new());

/// Run every owed stop command now, blocking (each within its timeout): the
/// process is about to exit.
pub fn run_owed_stops() {
    let owed: Vec<Owed> = std::mem::take(&mut *OWED.lock().unwrap_or_else(|e| e.into_inner()))
        .into_values()
        .collect();
    for o in owed {
        let _ = run_blocking(&o.argv, o.timeout, &o.log);
    }
}

struct Shared {
    faults: Vec<Fault>,
    records: Mutex<Vec<FaultRecord>>,
    sandbox: Option<SandboxState>,
    run_dir: PathBuf,
    /// Zero of the run's clock: the attack's start until Goose's is known.
    clock: Mutex<Instant>,
    /// Goose's clock zero (the request log's), once its first user started.
    goose_zero: Box<dyn Fn() -> Option<Instant> + Send + Sync>,
    /// Sandbox fault ids, by fault index.
    switched: Mutex<BTreeMap<usize, u64>>,
    /// The first start command that failed, in words.
    failed: Mutex<Option<String>>,
    /// Stops the run: Goose's killswitch (a test's own function in unit tests,
    /// which share the process's killswitch with other tests).
    stop_run: fn(&str),
}

/// The faults of one run, on its clock.
pub struct FaultRun {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FaultRun {
    /// Schedule `faults` on the request log's clock: `goose_zero` gives Goose's
    /// start once known (until then, and should it never be, `clock`, the
    /// attack's start). `sandbox`: the embedded sandbox's state, for built-in faults.
    pub fn start(
        faults: &[Fault],
        sandbox: Option<SandboxState>,
        run_dir: &Path,
        clock: Instant,
        goose_zero: impl Fn() -> Option<Instant> + Send + Sync + 'static,
    ) -> Result<FaultRun> {
        FaultRun::start_with(
            faults,
            sandbox,
            run_dir,
            clock,
            Box::new(goose_zero),
            goose::trigger_killswitch,
        )
    }

    fn start_with(
        faults: &[Fault],
        sandbox: Option<SandboxState>,
        run_dir: &Path,
        clock: Instant,
        goose_zero: Box<dyn Fn() -> Option<Instant> + Send + Sync>,
        stop_run: fn(&str),
    ) -> Result<FaultRun> {
        crate::interrupt::at_hard_exit(run_owed_stops);
        if faults
            .iter()
            .any(|f| matches!(f.action, FaultAction::Command { .. }))
        {
            let dir = run_dir.join(LOG_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let records = faults
            .iter()
            .map(|f| FaultRecord {
                index: f.index,
                name: f.name.clone(),
                kind: f.kind().into(),
                describe: f.describe(),
                window: f.window.clone(),
                planned_start_ms: f.start_ms,
                planned_end_ms: f.end_ms,
                start_ms: None,
                end_ms: None,
                hits: None,
                start_command: None,
                stop_command: None,
                recover_within_ms: f.recover_within_ms,
            })
            .collect();
        let shared = Arc::new(Shared {
            faults: faults.to_vec(),
            records: Mutex::new(records),
            sandbox,
            run_dir: run_dir.to_path_buf(),
            clock: Mutex::new(clock),
            goose_zero,
            switched: Mutex::default(),
            failed: Mutex::default(),
            stop_run,
        });
        let task = (!faults.is_empty()).then(|| tokio::spawn(schedule(shared.clone())));
        Ok(FaultRun { shared, task })
    }

    /// The load is over: switch off what is still on (running stop commands),
    /// write `faults.json`, and say whether a start command failed.
    pub async fn finish(mut self) -> Result<Option<String>> {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let on: Vec<usize> = {
            let records = self
                .shared
                .records
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            records
                .iter()
                .filter(|r| r.start_ms.is_some() && r.end_ms.is_none())
                .map(|r| r.index)
                .collect()
        };
        for index in on {
            switch_off(&self.shared, index).await;
        }
        let records = self.records();
        if !records.is_empty() {
            let json = serde_json::to_vec_pretty(&records)
                .map_err(|e| Error::Report(format!("faults.json: {e}")))?;
            crate::runfolder::write_atomic(&self.shared.run_dir.join(FILE), &json)?;
        }
        Ok(self
            .shared
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }

    /// The records so far.
    pub fn records(&self) -> Vec<FaultRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FaultRun {
    fn drop(&mut self) {
        // Dropped without finish (the run failed on its way): stop what was
        // started, blocking, so no fault outlives the run.
        if let Some(task) = self.task.take() {
            task.abort();
            if let Some(s) = &self.shared.sandbox {
                s.faults().clear();
            }
            run_owed_stops();
        }
    }
}

fn zero(shared: &Shared) -> Instant {
    *shared.clock.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms(shared: &Shared) -> u64 {
    zero(shared).elapsed().as_millis() as u64
}

/// Every window's start and end, in time order, each when it is due.
async fn schedule(shared: Arc<Shared>) {
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for f in &shared.faults {
        events.push((f.start_ms, true, f.index));
        events.push((f.end_ms, false, f.index));
    }
    // At one instant, ends go before starts: back-to-back windows do not overlap.
    events.sort_by_key(|&(t, start, i)| (t, start, i));
    // Goose's zero: its first user starts a little after the attack (bounded wait).
    for _ in 0..2000 {
        if let Some(z) = (shared.goose_zero)() {
            *shared.clock.lock().unwrap_or_else(|e| e.into_inner()) = z;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (t, start, index) in events {
        let due = zero(&shared) + Duration::from_millis(t);
        tokio::time::sleep_until(due.into()).await;
        if start {
            switch_on(&shared, index).await;
        } else {
            switch_off(&shared, index).await;
        }
    }
}

fn log_path(shared: &Shared, index: usize, what: &str) -> (PathBuf, String) {
    let shown = format!("{LOG_DIR}/{index}-{what}.log");
    (shared.run_dir.join(&shown), shown)
}

fn update(shared: &Shared, index: usize, f: impl FnOnce(&mut FaultRecord)) {
    let mut records = shared.records.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = records.iter_mut().find(|r| r.index == index) {
        f(r);
    }
}

async fn switch_on(shared: &Shared, index: usize) {
    if shared
        .failed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
    {
        return;
    }
    let Some(fault) = shared.faults.iter().find(|f| f.index == index) else {
        return;
    };
    let at = now_ms(shared);
    update(shared, index, |r| r.start_ms = Some(at));
    match &fault.action {
        FaultAction::Sandbox(sf) => {
            if let Some(s) = &shared.sandbox {
                let id = s.faults().add(sf.clone());
                shared
                    .switched
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(index, id);
            }
        }
        FaultAction::Command {
            start,
            stop,
            timeout,
        } => {
            if !stop.is_empty() {
                // Owed from now: the start may have changed something before failing.
                let (log, _) = log_path(shared, index, "stop");
                OWED.lock().unwrap_or_else(|e| e.into_inner()).insert(
                    index,
                    Owed {
                        argv: stop.clone(),
                        timeout: *timeout,
                        log,
                    },
                );
            }
            let (log, shown) = log_path(shared, index, "start");
            let ran = run_command(start, *timeout, &log, &shown).await;
            if !ran.ok {
                let message = format!(
                    "fault {index} ({}, window {}): start command `{}` failed: {} (its output: {shown})",
                    fault.name,
                    fault.window,
                    start.join(" "),
                    ran.error.as_deref().unwrap_or("failed"),
                );
                *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.clone());
                eprintln!("\ndashload: {message}: stopping the run");
                (shared.stop_run)(&message);
            }
            update(shared, index, |r| r.start_command = Some(ran));
        }
    }
}

async fn switch_off(shared: &Shared, index: usize) {
    let Some(fault) = shared.faults.iter().find(|f| f.index == index) else {
        return;
    };
    let on = {
        let records = shared.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .iter()
            .any(|r| r.index == index && r.start_ms.is_some() && r.end_ms.is_none())
    };
    if !on {
        return;
    }
    match &fault.action {
        FaultAction::Sandbox(_) => {
            let id = shared
                .switched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&index);
            if let (Some(s), Some(id)) = (&shared.sandbox, id) {
                s.faults().remove(id);
                let hits = s.faults().hits(id);
                update(shared, index, |r| r.hits = Some(hits));
            }
            let at = now_ms(shared);
            update(shared, index, |r| r.end_ms = Some(at));
        }
        FaultAction::Command { stop, timeout, .. } => {
            // The window ends when the stop command is sent: the target begins
            // to recover from then.
            let at = now_ms(shared);
            update(shared, index, |r| r.end_ms = Some(at));
            let owed = OWED
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&index);
            if owed.is_some() {
                let (log, shown) = log_path(shared, index, "stop");
                let ran = run_command(stop, *timeout, &log, &shown).await;
                if !ran.ok {
                    eprintln!(
                        "\ndashload: fault {index} ({}): stop command `{}` failed: {} (its output: {shown})",
                        fault.name,
                        stop.join(" "),
                        ran.error.as_deref().unwrap_or("failed")
                    );
                }
                update(shared, index, |r| r.stop_command = Some(ran));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::faults::{Effect, SandboxFault, Surface};

    fn command(index: usize, start_ms: u64, end_ms: u64, start: &[&str], stop: &[&str]) -> Fault {
        Fault {
            index,
            name: format!("cmd {index}"),
            window: "at".into(),
            start_ms,
            end_ms,
            action: FaultAction::Command {
                start: start.iter().map(|s| s.to_string()).collect(),
                stop: stop.iter().map(|s| s.to_string()).collect(),
                timeout: Duration::from_secs(5),
            },
            recover_within_ms: None,
        }
    }

    #[tokio::test]
    async fn commands_run_at_start_and_end_and_the_records_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("marker");
        let m = marker.display().to_string();
        let faults = vec![command(
            1,
            0,
            50,
            &["sh", "-c", &format!("echo on > {m}; echo started")],
            &["sh", "-c", &format!("echo off >> {m}")],
        )];
        let t0 = Instant::now();
        let run = FaultRun::start_with(
            &faults,
            None,
            dir.path(),
            t0,
            Box::new(move || Some(t0)),
            |_| {},
        )
        .unwrap();
        // Bounded wait for the window to end (50 ms planned).
        for _ in 0..200 {
            if run.records()[0].stop_command.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(run.finish().await.unwrap(), None);
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "on\noff\n");
        let records = load(dir.path()).unwrap();
        let r = &records[0];
        assert!(r.start_command.as_ref().unwrap().ok);
        assert!(r.stop_command.as_ref().unwrap().ok);
        assert!(r.ran().is_some());
        let log = std::fs::read_to_string(dir.path().join("faults/1-start.log")).unwrap();
        assert_eq!(log, "started\n");
    }

    #[tokio::test]
    async fn a_failing_start_is_reported_and_its_stop_still_runs_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("stopped");
        let faults = vec![command(
            7,
            0,
            60_000,
            &["sh", "-c", "echo nope >&2; exit 3"],
            &["touch", &marker.display().to_string()],
        )];
        let t0 = Instant::now();
        let run = FaultRun::start_with(
            &faults,
            None,
            dir.path(),
            t0,
            Box::new(move || Some(t0)),
            |_| {},
        )
        .unwrap();
        for _ in 0..200 {
            if run.records()[0].start_command.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let failed = run.finish().await.unwrap().expect("the start failed");
        assert!(
            failed.contains("fault 7") && failed.contains("exited 3"),
            "{failed}"
        );
        assert!(marker.exists(), "the stop command ran");
        let log = std::fs::read_to_string(dir.path().join("faults/7-start.log")).unwrap();
        assert_eq!(log, "nope\n");
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let ran = run_command(
            &["sleep".into(), "5".into()],
            Duration::from_millis(100),
            &dir.path().join("x.log"),
            "x.log",
        )
        .await;
        assert!(!ran.ok);
        assert!(ran.error.unwrap().contains("timeout"));
        assert!(ran.duration_ms < 4000);
    }

    /// Issue 25: a command that forks a grandchild and outlives its timeout
    /// leaves nothing running: its whole process group is killed.
    #[tokio::test]
    async fn past_its_timeout_the_commands_whole_process_group_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
        let ran = run_command(
            &["sh".into(), "-c".into(), script],
            Duration::from_millis(300),
            &dir.path().join("x.log"),
            "x.log",
        )
        .await;
        assert!(ran.error.unwrap().contains("process group"));
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid: i32 = pid.trim().parse().unwrap();
        // Bounded wait for the kill to land (it is sent before run_command returns).
        let mut alive = true;
        for _ in 0..100 {
            // Signal 0: does the process exist? (A zombie would be reaped by init.)
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            alive = !stat.is_empty() && !stat.contains(") Z ");
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !alive,
            "the forked `sleep 30` (pid {pid}) outlived the command's timeout"
        );
    }

    #[tokio::test]
    async fn a_commands_log_is_capped_and_says_how_much_was_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("big.log");
        // 8 MiB of output, stdout and stderr.
        let ran = run_command(
            &[
                "sh".into(),
                "-c".into(),
                "head -c 4194304 /dev/zero | tr '\\0' a; head -c 4194304 /dev/zero | tr '\\0' b >&2".into(),
            ],
            Duration::from_secs(20),
            &log,
            "big.log",
        )
        .await;
        assert!(ran.ok, "{:?}", ran.error);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.len() < MAX_LOG + 200, "{} bytes kept", text.len());
        assert!(text.starts_with("aaaa"));
        let last = text.lines().last().unwrap();
        assert_eq!(
            last,
            format!(
                "[dashload: {} more bytes of output dropped: the log keeps the first 1 MiB]",
                8 * 1024 * 1024 - MAX_LOG
            )
        );
    }

    #[tokio::test]
    async fn a_command_never_sees_nor_logs_dashloads_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("env.log");
        // Names no other test uses: tests run in threads of one process.
        std::env::set_var("DASHLOAD_TEST_FAULT_PW", "fault-cmd-s3cret-pw");
        std::env::set_var("DASHLOAD_CLUSTER_TOKEN", "cluster-t0ken-for-the-fault-test");
        std::env::set_var("DASHLOAD_TEST_FAULT_HARMLESS", "harmless-value");
        crate::redact::register_variable("DASHLOAD_TEST_FAULT_PW");
        crate::redact::register("printed-s3cret-of-the-target");
        let ran = run_command(
            &[
                "sh".into(),
                "-c".into(),
                "env; echo the password is printed-s3cret-of-the-target".into(),
            ],
            Duration::from_secs(10),
            &log,
            "env.log",
        )
        .await;
        std::env::remove_var("DASHLOAD_CLUSTER_TOKEN");
        assert!(ran.ok, "{:?}", ran.error);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("DASHLOAD_TEST_FAULT_HARMLESS=harmless-value"),
            "{text}"
        );
        for leak in [
            "DASHLOAD_TEST_FAULT_PW",
            "fault-cmd-s3cret-pw",
            "DASHLOAD_CLUSTER_TOKEN",
            "cluster-t0ken",
            "printed-s3cret",
        ] {
            assert!(!text.contains(leak), "{leak} in the command's log:\n{text}");
        }
        assert!(text.contains("the password is ***"), "{text}");
    }

    #[tokio::test]
    async fn sandbox_faults_are_on_only_in_their_window() {
        let dir = tempfile::tempdir().unwrap();
        let state = SandboxState::new(Default::default());
        let faults = vec![Fault {
            index: 1,
            name: "errors".into(),
            window: "at".into(),
            start_ms: 100,
            end_ms: 300,
            action: FaultAction::Sandbox(SandboxFault {
                on: Surface::Queries,
                effect: Effect::Stall,
                rate: 1.0,
            }),
            recover_within_ms: None,
        }];
        let t0 = Instant::now();
        let run = FaultRun::start_with(
            &faults,
            Some(state.clone()),
            dir.path(),
            t0,
            Box::new(move || Some(t0)),
            |_| {},
        )
        .unwrap();
        assert!(state.faults().list().is_empty(), "not before its window");
        let mut seen_on = false;
        for _ in 0..100 {
            let on = !state.faults().list().is_empty();
            seen_on |= on;
            if seen_on && !on {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(seen_on);
        assert!(state.faults().list().is_empty(), "off after its window");
        run.finish().await.unwrap();
        let r = &load(dir.path()).unwrap()[0];
        let (s, e) = r.ran().unwrap();
        assert!(s >= 100 && e >= 300 && e > s, "{s}..{e}");
    }
}
