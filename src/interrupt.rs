//! Signals during a run: SIGINT (Ctrl-C), SIGTERM (a CI job cancelled, a pod
//! deleted) and SIGHUP are handled alike.
//!
//! - The first stops the load: requests in flight get a short drain, the run
//!   folder is finished and the report rendered, marked interrupted; the run
//!   exits 130. Before the load starts (sandbox start, preflight) it ends the
//!   run at once, with nothing written.
//! - The second cuts the drain: what is in flight is cancelled and the folder is
//!   finished with what was logged. Should that take more than a few seconds the
//!   process exits 130 anyway, leaving a folder `dashload report` recovers.
//! - A third exits at once.
//!
//! Goose installs its own handler (the `ctrlc` crate, one handler per process:
//! the second Ctrl-C exits 1, SIGTERM kills outright); dashload's is installed
//! first, so Goose's install fails harmlessly and this one stays.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex, Once};
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{exit_code, Error, Result};

/// Signals received so far, watched by the run.
static COUNT: LazyLock<watch::Sender<usize>> = LazyLock::new(|| watch::channel(0).0);

/// What the run is doing, for the handler.
static STAGE: Mutex<Stage> = Mutex::new(Stage::Idle);

/// Run before a signal makes the process exit (the run does not finish then):
/// e.g. the stop commands of faults still on (`crate::faults`).
static AT_HARD_EXIT: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Run `f` should a signal make the process exit; registered once however often asked.
pub fn at_hard_exit(f: fn()) {
    let mut hooks = AT_HARD_EXIT.lock().unwrap_or_else(|e| e.into_inner());
    if !hooks.iter().any(|g| std::ptr::fn_addr_eq(*g, f)) {
        hooks.push(f);
    }
}

/// The killswitch reason Goose records for a signal.
pub const REASON: &str = "interrupted by a signal (SIGINT, SIGTERM or SIGHUP)";

/// How long requests in flight may finish after the first signal.
pub const DRAIN: Duration = Duration::from_secs(2);

/// After the second signal: how long the run may take to finish its folder.
pub const FINISH_WAIT: Duration = Duration::from_secs(8);

/// Where a run is, as far as a signal is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// No run: a signal ends the process.
    Idle,
    /// Sandbox start and preflight: nothing written yet.
    Preparing,
    /// The load runs into this folder.
    Running(PathBuf),
    /// The folder is finished; the report is being rendered.
    Rendering(PathBuf),
}

/// Install the handler, once per process. A failure (another handler came
/// first) leaves Goose's behaviour and says so.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ctrlc::set_handler(on_signal) {
            eprintln!("dashload: cannot handle signals ({e}): a second Ctrl-C exits 1");
        }
    });
}

/// Say where the run is. A run starting ([`Stage::Preparing`]) counts signals
/// afresh, so a process running several (tests) does not carry one over.
pub fn enter(stage: Stage) {
    let mut current = STAGE.lock().unwrap_or_else(|e| e.into_inner());
    if stage == Stage::Preparing {
        COUNT.send_replace(0);
    }
    *current = stage;
}

/// Signals received so far.
pub fn count() -> usize {
    *COUNT.borrow()
}

/// Wait for the `n`th signal.
pub async fn received(n: usize) {
    let mut rx = COUNT.subscribe();
    let _ = rx.wait_for(|c| *c >= n).await;
}

/// Run `f` unless a signal comes first: then [`Error::Interrupted`] saying what
/// was not done.
pub async fn unless_interrupted<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    if count() > 0 {
        return Err(Error::Interrupted(what.to_string()));
    }
    tokio::select! {
        out = f => out,
        _ = received(1) => Err(Error::Interrupted(what.to_string())),
    }
}

fn on_signal() {
    // The stage first, then the count: the run sees the count and may return
    // (setting Idle) at once; read after, Idle would exit before its message.
    let stage = STAGE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut n = 0;
    COUNT.send_modify(|c| {
        *c += 1;
        n = *c;
    });
    let folder = |dir: &PathBuf| {
        format!(
            "its folder {} can be recovered with `dashload report {}`",
            dir.display(),
            dir.display()
        )
    };
    match (n, &stage) {
        (_, Stage::Idle) => exit("interrupted"),
        (1, Stage::Preparing) => {}
        (1, Stage::Running(_)) => {
            eprintln!(
                "\ndashload: stopping: requests in flight get {} s, then the report, marked interrupted (a second Ctrl-C finishes at once)",
                DRAIN.as_secs()
            );
            goose::trigger_killswitch(REASON);
        }
        (1, Stage::Rendering(_)) => {
            eprintln!("\ndashload: the load is over: writing the report (a second Ctrl-C stops)")
        }
        (_, Stage::Preparing) => exit("interrupted before the load started: nothing was written"),
        (2, Stage::Running(dir) | Stage::Rendering(dir)) => {
            eprintln!("\ndashload: finishing now with what was logged");
            let message = format!(
                "the run did not finish within {} s of the second signal: {}",
                FINISH_WAIT.as_secs(),
                folder(dir)
            );
            std::thread::spawn(move || {
                std::thread::sleep(FINISH_WAIT);
                exit(&message);
            });
        }
        (_, Stage::Running(dir) | Stage::Rendering(dir)) => {
            exit(&format!("interrupted again: {}", folder(dir)))
        }
    }
}

fn exit(message: &str) -> ! {
    eprintln!("\ndashload: {message}");
    let hooks = AT_HARD_EXIT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for hook in hooks {
        hook();
    }
    std::process::exit(i32::from(exit_code::INTERRUPTED))
}
