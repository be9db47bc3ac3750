//! Exit codes and messages of the built binary.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::util::{dashload, text, workspace};

#[test]
fn help_and_version_exit_zero() {
    let dir = workspace();
    for args in [
        &["--help"][..],
        &["--version"],
        &["run", "--help"],
        &["check", "--help"],
        &["generate", "toggl", "--help"],
    ] {
        let out = dashload(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    }
}

#[test]
fn usage_errors_exit_two() {
    let dir = workspace();
    let out = dashload(dir.path(), &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_bad_scenario_exits_two_with_file_line_column_before_sending_anything() {
    let dir = workspace();
    let path = dir.path().join("scenarios/bad.toml");
    std::fs::write(&path, "[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n[[stages]]\nusers = 5\nramp = \"5 sec\"\nhold = \"5s\"\n").unwrap();
    for sub in ["check", "run"] {
        let out = dashload(dir.path(), &[sub, "scenarios/bad.toml"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("scenarios/bad.toml:5:8: `5 sec` has unknown unit ` sec`"),
            "{sub}: {}",
            text(&out)
        );
        assert!(
            !dir.path().join("reports").exists(),
            "{sub}: nothing may start: no run folder"
        );
    }
}

#[test]
fn a_missing_scenario_exits_two() {
    let dir = workspace();
    let out = dashload(dir.path(), &["check", "scenarios/nope.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("scenarios/nope.toml: cannot read scenario"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_unreachable_target_exits_four_and_sends_nothing() {
    let dir = workspace();
    // A port nothing listens on: bind one, learn it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scenario = format!(
        "[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:{port}\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"1s\"\n"
    );
    std::fs::write(dir.path().join("scenarios/down.toml"), scenario).unwrap();
    let out = dashload(dir.path(), &["run", "scenarios/down.toml"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("connection refused"), "{}", text(&out));
    assert!(
        !dir.path().join("reports").exists(),
        "no run folder for a run that never started"
    );
}

#[test]
fn a_failed_slo_exits_one_and_a_regression_exits_three() {
    use dashload::report::synthetic::Synthetic;
    let dir = workspace();
    let base = dir.path().join("base");
    let slow = dir.path().join("slow");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&slow).unwrap();
    Synthetic::new(20_000, 1).write(&base).unwrap();
    Synthetic {
        latency_factor: 2.0,
        ..Synthetic::new(20_000, 1)
    }
    .write(&slow)
    .unwrap();
    let out = dashload(dir.path(), &["report", "base"]);
    let code = out.status.code();
    assert!(code == Some(0) || code == Some(1), "{}", text(&out));
    let out = dashload(dir.path(), &["report", "slow", "--baseline", "base"]);
    // Twice the latency: a regression (3) unless an SLO already failed (1, which outranks it).
    match out.status.code() {
        Some(3) => assert!(
            String::from_utf8_lossy(&out.stdout)
                .to_lowercase()
                .contains("regress"),
            "{}",
            text(&out)
        ),
        Some(1) => {}
        _ => panic!("{}", text(&out)),
    }
    let out = dashload(dir.path(), &["report", "base", "--baseline", "base"]);
    assert_eq!(
        out.status.code(),
        code,
        "a run is no regression of itself: {}",
        text(&out)
    );
}

#[test]
fn an_impossible_slo_fails_the_run_with_exit_one() {
    let _one_attack_at_a_time = crate::util::ATTACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let scenario = "name = \"strict\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
        [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"4s\"\n[slo.dashboard_load]\np50 = \"1ms\"\n";
    std::fs::write(dir.path().join("scenarios/strict.toml"), scenario).unwrap();
    let out = dashload(dir.path(), &["run", "scenarios/strict.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn ctrl_c_leaves_a_complete_folder_marked_interrupted() {
    let _one_attack_at_a_time = crate::util::ATTACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/smoke.toml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(8));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    // Run folders only: the reports folder also holds the run index (index.html).
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(runs.len(), 1, "{}", text(&out));
    let run = &runs[0];
    let meta = dashload::runfolder::RunMeta::load(run).unwrap();
    assert!(
        meta.interrupted,
        "run.json says interrupted: {}",
        text(&out)
    );
    assert!(meta.ended_at.is_some());
    for name in ["requests.csv", "report.json", "report.html", "summary.json"] {
        assert!(run.join(name).is_file(), "{name} missing: {}", text(&out));
    }
    assert!(!run.join(".partial").exists());
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        html.to_lowercase().contains("interrupted"),
        "the report says so"
    );
}

/// `dashload` with `args` in `dir` under a 4 GB address-space limit (an input
/// that reads or allocates without bound aborts instead of taking the machine),
/// stopped after 30 s: its output, or None when it was still running.
fn bounded(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Option<Output> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 4000000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_dashload"))
        .args(args)
        .env_remove("DASHLOAD_CLUSTER_TOKEN")
        .env_remove("DASHLOAD_CLUSTER_TOKEN_FILE")
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if crate::util::wait(&mut child, Duration::from_secs(30)).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(child.wait_with_output().unwrap())
}

/// Issue 25: inputs that took the process down (an 8 GB allocation, a panic)
/// end with exit 2 and a message naming the value, before anything is written.
#[test]
fn goose_shapes_and_waits_past_the_limits_exit_two_before_anything_is_written() {
    let dir = workspace();
    for shape in [["-u", "1000000000"], ["--test-plan", "1000000000,1s;0,1s"]] {
        let mut args = vec!["run", "scenarios/smoke.toml", "--reports-dir", "reports"];
        args.extend(shape);
        let out = bounded(dir.path(), &args, &[]).expect("it ends at once");
        assert_eq!(out.status.code(), Some(2), "{shape:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("launches 1000000000 users, above `[limits] users` (10000)"),
            "{shape:?}: {stderr}"
        );
        assert!(!dir.path().join("reports").exists(), "{shape:?}");
    }
    let huge = "18446744073709551615";
    for args in [
        vec![
            "run",
            "scenarios/smoke.toml",
            "--workers",
            "2",
            "--join-timeout",
            huge,
        ],
        vec![
            "worker",
            "scenarios/smoke.toml",
            "--manager",
            "http://127.0.0.1:9",
            "--connect-timeout",
            huge,
        ],
    ] {
        let out = bounded(dir.path(), &args, &[]).expect("it ends at once");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{huge} is not in 1..=86400")),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Issue 25: `DASHLOAD_CLUSTER_TOKEN_FILE` follows the secret-file rules: a
/// device or a FIFO is refused at once (not read until memory runs out, not
/// waited on for ever).
#[test]
fn a_cluster_token_file_must_be_a_small_regular_file() {
    let dir = workspace();
    let fifo = dir.path().join("token.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big = dir.path().join("token.big");
    std::fs::write(&big, "t".repeat(100 * 1024)).unwrap();
    for (file, why) in [
        (
            "/dev/zero",
            "must be a regular file, not a device, FIFO or socket",
        ),
        (
            fifo.to_str().unwrap(),
            "must be a regular file, not a device, FIFO or socket",
        ),
        (
            big.to_str().unwrap(),
            "above the 64 KiB a secret file may have",
        ),
    ] {
        let out = bounded(
            dir.path(),
            &[
                "worker",
                "scenarios/smoke.toml",
                "--manager",
                "http://127.0.0.1:9",
                "--connect-timeout",
                "1",
            ],
            &[("DASHLOAD_CLUSTER_TOKEN_FILE", file)],
        )
        .unwrap_or_else(|| panic!("{file}: still reading after 30 s"));
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("DASHLOAD_CLUSTER_TOKEN_FILE") && stderr.contains(why),
            "{file}: {stderr}"
        );
    }
}

/// Issue 25: a `--set` of a key the scenario does not know never echoes its
/// value (a secret under a misspelt key); `name` is one line of text.
#[test]
fn refused_keys_hide_their_value_and_a_name_is_one_line() {
    let dir = workspace();
    let out = dashload(
        dir.path(),
        &[
            "check",
            "scenarios/smoke.toml",
            "--set",
            "target.passwrd=hunter2-s3cr3t",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--set target.passwrd=…: unknown field `passwrd`"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));
    let smoke = std::fs::read_to_string(dir.path().join("scenarios/smoke.toml")).unwrap();
    let two_lines = smoke.replace(
        "name = \"smoke\"",
        "name = \"smoke\\nFAKE: all SLOs passed\"",
    );
    assert_ne!(two_lines, smoke);
    std::fs::write(dir.path().join("scenarios/two.toml"), two_lines).unwrap();
    let out = dashload(dir.path(), &["check", "scenarios/two.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "scenarios/two.toml:3:8: `name` must be one line of text: no newline, tab or other control character"
        ),
        "{}",
        text(&out)
    );
}
