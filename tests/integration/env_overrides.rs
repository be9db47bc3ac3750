//! `--set` and `DASHLOAD_TARGET_*` on the built binary, and `scenarios/staging.toml`.

use std::process::{Command, Output};

use crate::util::{text, workspace};

/// Run the binary in `dir` with exactly these `DASHLOAD_TARGET_*` variables.
fn dashload_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashload"));
    cmd.args(args).current_dir(dir);
    for var in [
        "DASHLOAD_TARGET_URL",
        "DASHLOAD_TARGET_DATABASE",
        "DASHLOAD_TARGET_PASSWORD",
        "DASHLOAD_TARGET_PASSWORD_FILE",
        "DASHLOAD_EXPORT_URL",
        "DASHLOAD_EXPORT_DATABASE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the dashload binary runs")
}

#[test]
fn staging_checks_with_its_environment_and_says_what_is_missing_without() {
    let dir = workspace();
    let env = [
        ("DASHLOAD_TARGET_URL", "http://127.0.0.1:18086"),
        ("DASHLOAD_TARGET_DATABASE", "toggl_staging"),
        ("DASHLOAD_TARGET_PASSWORD", "hunter2"),
    ];
    let out = dashload_env(dir.path(), &["check", "scenarios/staging.toml"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("target    influxdb1 http://127.0.0.1:18086 (database toggl_staging)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("override  target.url = \"http://127.0.0.1:18086\"  (DASHLOAD_TARGET_URL)"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("override  target.database = \"toggl_staging\"  (DASHLOAD_TARGET_DATABASE)"),
        "{stdout}"
    );
    assert!(!text(&out).contains("hunter2"));
    // The export destination from the environment is shown too.
    let out = dashload_env(
        dir.path(),
        &["check", "scenarios/staging.toml"],
        &[
            env[0],
            env[1],
            env[2],
            ("DASHLOAD_EXPORT_URL", "http://127.0.0.1:18087"),
            ("DASHLOAD_EXPORT_DATABASE", "results"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "export    influxdb1 http://127.0.0.1:18087 (database results) with --export influxdb"
        ),
        "{}",
        text(&out)
    );

    // No URL: exit 2, naming the variable.
    let out = dashload_env(
        dir.path(),
        &["check", "scenarios/staging.toml"],
        &[("DASHLOAD_TARGET_PASSWORD", "hunter2")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("scenarios/staging.toml:17:1: target kind `influxdb1` needs a `url`: write it in [target], or give it with DASHLOAD_TARGET_URL=… or --set target.url=…"),
        "{stderr}"
    );
    // A URL but no password: names the variable and its _FILE form.
    let out = dashload_env(dir.path(), &["check", "scenarios/staging.toml"], &env[..2]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("environment variable `DASHLOAD_TARGET_PASSWORD` is not set (nor `DASHLOAD_TARGET_PASSWORD_FILE`, naming a file)"),
        "{stderr}"
    );
    // The password from a file named by DASHLOAD_TARGET_PASSWORD_FILE.
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "hunter2\n").unwrap();
    let pw = pw.display().to_string();
    let out = dashload_env(
        dir.path(),
        &["check", "scenarios/staging.toml"],
        &[
            env[0],
            env[1],
            ("DASHLOAD_TARGET_PASSWORD_FILE", pw.as_str()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn set_errors_exit_two_naming_the_key_and_send_nothing() {
    let dir = workspace();
    for sub in ["check", "run"] {
        for (args, want) in [
            (
                &["--set", "stages.0.ramp=5 sec"][..],
                "--set stages.0.ramp=5 sec: `5 sec` has unknown unit ` sec`",
            ),
            (
                &["--set", "viewers.nope=1"],
                "--set viewers.nope=…: unknown field `nope`",
            ),
            (
                &["--set", "target.password=hunter2"],
                "--set target.password=…: secrets are not taken on the command line",
            ),
            (
                &["--set", "stages.9.users=1"],
                "--set stages.9.users=1: `stages` has 1 entry (index 0): there is no entry 9",
            ),
        ] {
            let mut argv = vec![sub, "scenarios/smoke.toml"];
            argv.extend_from_slice(args);
            let out = dashload_env(dir.path(), &argv, &[]);
            assert_eq!(out.status.code(), Some(2), "{argv:?}\n{}", text(&out));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(want), "{argv:?}: {}", text(&out));
            assert!(!text(&out).contains("hunter2"), "{}", text(&out));
            assert!(
                !dir.path().join("reports").exists(),
                "{argv:?}: nothing may start"
            );
        }
    }
}

#[test]
fn run_uses_the_overrides() {
    // The smoke scenario pointed at a closed loopback port by --set and the
    // environment: the run's preflight fails there (exit 4), so the override took.
    let dir = workspace();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = dashload_env(
        dir.path(),
        &[
            "run",
            "scenarios/smoke.toml",
            "--set",
            "target.kind=influxdb1",
        ],
        &[("DASHLOAD_TARGET_URL", url.as_str())],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&out)
    );
}
