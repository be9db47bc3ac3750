//! The report's progress bar: drawn on stderr for a large request log when stderr is a
//! terminal (here a pseudo-terminal from util-linux's `script`), never otherwise, and
//! never into the report.

use std::process::Command;

use dashload::report::synthetic;

use crate::util::dashload;

/// Large enough to pass the bar's threshold (32 MB of request log).
const ROWS: u64 = 200_000;

#[test]
fn a_large_report_shows_progress_on_a_terminal_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    synthetic::write_run(dir.path(), ROWS, 1).unwrap();
    let log_bytes = std::fs::metadata(dir.path().join("requests.csv"))
        .unwrap()
        .len();
    assert!(
        log_bytes > 32 << 20,
        "the synthetic log is {log_bytes} bytes"
    );
    let run = dir.path().to_str().unwrap();

    // Not a terminal: no bar, only the summary on stdout.
    let plain = dashload(dir.path(), &["report", run]);
    assert!(plain.status.success(), "{plain:?}");
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(
        !stderr.contains("requests.csv ["),
        "a bar off a terminal: {stderr}"
    );

    // A terminal: `script` runs the command on a pseudo-terminal and copies what it drew.
    if Command::new("script").arg("--version").output().is_err() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: `script` (util-linux) is not installed: the progress bar was not checked on a terminal"
        );
        return;
    }
    let command = format!("{} report {run}", env!("CARGO_BIN_EXE_dashload"));
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(tty.status.success(), "{tty:?}");
    let drawn = String::from_utf8_lossy(&tty.stdout);
    assert!(
        drawn.contains("requests.csv [") && drawn.contains("MiB"),
        "no progress bar on a terminal: {drawn}"
    );
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(
        !html.contains("MiB/"),
        "progress output leaked into the report"
    );
}
