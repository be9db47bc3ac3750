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
