//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Goose keeps process-wide state (its killswitch, its Ctrl-C handler): attacks in
/// one test process run one at a time.
pub static ATTACK: Mutex<()> = Mutex::new(());

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the built binary with `args` in `dir`.
pub fn dashload(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the dashload binary runs")
}

/// A temp folder holding a copy of `scenarios/` (so relative dashboard paths resolve).
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("scenarios"), &dir.path().join("scenarios"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// stdout and stderr of an output, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Compare `actual` with the reviewed snapshot at `path`, or, with
/// `DASHLOAD_UPDATE_SNAPSHOTS=1`, rewrite it (then review the diff).
pub fn assert_snapshot(path: &Path, actual: &str) {
    if std::env::var_os("DASHLOAD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with DASHLOAD_UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "`check` output differs from {} (review, then DASHLOAD_UPDATE_SNAPSHOTS=1):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Wait for `child` at most `limit`; None if it is still running (then killed).
pub fn wait(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Send `child` the signal `name` (`INT`, `TERM`, `KILL`) with kill(1).
pub fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}
