//! Exit codes and messages of the built binary.

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
