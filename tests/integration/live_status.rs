//! The live status of a run: one plain line every 10 s off a terminal, a redrawn
//! line on a pseudo-terminal (util-linux `script`), never inside the report; and
//! the run folder's `cpu.csv` with the report's evenness and generator figures.

use std::path::Path;
use std::process::Command;

use crate::util::{dashload, text, workspace};

/// The smoke scenario's viewers with a plan of `ramp` then `hold` seconds.
fn scenario(dir: &Path, name: &str, users: usize, ramp: u64, hold: u64) -> String {
    let smoke = std::fs::read_to_string(dir.join("scenarios/smoke.toml")).unwrap();
    let head = smoke.split("[[stages]]").next().unwrap();
    let text = format!(
        "{head}[[stages]]\nusers = {users}\nramp = \"{ramp}s\"\nhold = \"{hold}s\"\n\n\
         [slo.dashboard_load]\nerror_rate = \"50%\"\n"
    )
    .replace("name = \"smoke\"", &format!("name = \"{name}\""));
    let file = format!("scenarios/{name}.toml");
    std::fs::write(dir.join(&file), text).unwrap();
    file
}

/// A plain status line: (elapsed s, window, viewers, req/s, load p95 ms, error %).
fn parse(line: &str) -> (u64, String, u64, f64, Option<u64>, f64) {
    let fields: Vec<&str> = line
        .strip_prefix("dashload: ")
        .unwrap_or_else(|| panic!("not a status line: {line}"))
        .split(" · ")
        .collect();
    assert_eq!(fields.len(), 6, "{line}");
    let (elapsed, window) = fields[0].split_once(' ').unwrap();
    let elapsed = match elapsed.split_once('m') {
        Some((m, s)) => {
            m.parse::<u64>().unwrap() * 60 + s.trim_end_matches('s').parse::<u64>().unwrap()
        }
        None => elapsed.trim_end_matches('s').parse().unwrap(),
    };
    let number = |field: &str, prefix: &str, suffix: &str| -> String {
        field
            .strip_prefix(prefix)
            .and_then(|f| f.strip_suffix(suffix))
            .unwrap_or_else(|| panic!("{field:?} in {line}"))
            .to_string()
    };
    let p95 = number(fields[3], "load p95 ", "");
    (
        elapsed,
        window.to_string(),
        number(fields[1], "viewers ", "").parse().unwrap(),
        number(fields[2], "", " req/s").parse().unwrap(),
        p95.strip_suffix(" ms").map(|ms| ms.parse().unwrap()),
        number(fields[4], "errors ", " %").parse().unwrap(),
    )
}

#[test]
fn off_a_terminal_a_plain_line_every_ten_seconds_and_nothing_in_the_report() {
    let dir = workspace();
    let file = scenario(dir.path(), "status", 3, 2, 19);
    let out = dashload(dir.path(), &["run", &file, "--reports-dir", "reports"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains(" req/s · "))
        .map(parse)
        .collect();
    // 21 s of load: lines at about 10 s and 20 s, none missing, none doubled.
    assert!(lines.len() >= 2, "{stderr}");
    for pair in lines.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        // At least 10 s by design (9 after rounding); more only on a starved machine.
        assert!((9..=15).contains(&gap), "lines {gap} s apart: {stderr}");
    }
    let (elapsed, window, viewers, rps, p95, errors) = &lines[0];
    assert!((10..=15).contains(elapsed), "{stderr}");
    assert_eq!(window, "stage 1 hold");
    assert_eq!(*viewers, 3, "every viewer has started by 10 s");
    assert!(*rps > 0.0 && p95.is_some_and(|ms| ms > 0), "{stderr}");
    assert!((0.0..=100.0).contains(errors));

    let run = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    for name in ["report.html", "summary.json", "junit.xml", "run.json"] {
        let content = std::fs::read_to_string(run.join(name)).unwrap();
        assert!(
            !content.contains(" req/s · "),
            "the status leaked into {name}"
        );
    }

    // cpu.csv: a row a second, and the report's figures drawn from it.
    let cpu = std::fs::read_to_string(run.join("cpu.csv")).unwrap();
    assert!(cpu.starts_with("elapsed_ms,cpu_ms,cores_used,cores_available\n"));
    assert!(cpu.lines().count() >= 20, "{cpu}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let health = &summary["health"];
    assert_eq!(health["evenness"][0]["window"], "stage 1 hold");
    assert!(health["evenness"][0]["cv"].as_f64().is_some(), "{health}");
    let windows = health["generator_cpu"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "{health}");
    assert!(windows
        .iter()
        .all(|w| w["cores_used"].as_f64().unwrap() > 0.0));
}

#[test]
fn on_a_terminal_the_status_line_is_drawn() {
    if Command::new("script").arg("--version").output().is_err() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: `script` (util-linux) is not installed: the live status was not checked on a terminal"
        );
        return;
    }
    let dir = workspace();
    let file = scenario(dir.path(), "tty", 2, 1, 3);
    let command = format!(
        "{} run {file} --reports-dir reports --no-report",
        env!("CARGO_BIN_EXE_dashload")
    );
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(tty.status.success(), "{tty:?}");
    let drawn = String::from_utf8_lossy(&tty.stdout);
    assert!(
        drawn.contains("stage 1 ") && drawn.contains(" req/s · ") && drawn.contains(" left"),
        "no live status on a terminal: {drawn}"
    );
}
