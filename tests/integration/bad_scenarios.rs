//! Every bad scenario of `tests/fixtures/bad-scenarios` (one per file, its first
//! line `# value: …` the offending value) makes `check` and `run` exit 2 with
//! `file:line:col` and that value, before anything is sent; plus the files that
//! cannot be fixtures (oversized, FIFO). `bench/bad_scenarios.sh` runs the same
//! cases through any binary and tallies how each ended.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{root, text, workspace};

/// Run the binary, killed (and the test failed) after 30 s: a case that is not
/// refused could otherwise start a load.
fn bounded(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the dashload binary runs");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("dashload {args:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `path:` followed by `line:col: ` in `stderr`.
fn located(stderr: &str, path: &str) -> bool {
    stderr.match_indices(&format!("{path}:")).any(|(i, m)| {
        let rest = &stderr[i + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && !col.is_empty()
            && col.bytes().all(|b| b.is_ascii_digit())
    })
}

fn copy_fixtures(to: &Path) {
    let from = root().join("tests/fixtures/bad-scenarios");
    for sub in ["", "dashboards"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
}

#[test]
fn every_bad_scenario_exits_two_from_check_and_run_with_its_location_and_value() {
    let dir = workspace();
    let bad = dir.path().join("scenarios/bad");
    copy_fixtures(&bad);
    let mut names: Vec<String> = std::fs::read_dir(&bad)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 50, "{} cases", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let path = format!("scenarios/bad/{name}");
        let bytes = std::fs::read(dir.path().join(&path)).unwrap();
        let head = String::from_utf8_lossy(&bytes);
        let value = head
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# value: "))
            .unwrap_or_else(|| panic!("{name}: no `# value:` line"))
            .to_string();
        for sub in ["check", "run"] {
            let out = bounded(dir.path(), &[sub, &path]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(2) || !located(&stderr, &path) || !stderr.contains(&value)
            {
                failures.push(format!("{sub} {name} (value {value}): {}", text(&out)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        !dir.path().join("reports").exists(),
        "nothing may start: no run folder"
    );
}

#[test]
fn oversized_and_special_files_are_refused_with_their_path_and_size() {
    let dir = workspace();
    let scenarios = dir.path().join("scenarios");
    // Sparse: the size is refused from the metadata, nothing is read.
    std::fs::File::create(scenarios.join("huge.toml"))
        .unwrap()
        .set_len(3 << 20)
        .unwrap();
    std::fs::File::create(scenarios.join("dashboards/huge.json"))
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    std::fs::write(
        scenarios.join("huge-dashboard.toml"),
        "[viewers]\ndashboard = \"dashboards/huge.json\"\n[[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"1s\"\n",
    )
    .unwrap();
    let fifo = Command::new("mkfifo")
        .arg(scenarios.join("fifo.toml"))
        .status()
        .is_ok_and(|s| s.success());
    let mut cases = vec![
        (
            "scenarios/huge.toml",
            "scenarios/huge.toml: scenario is 3 MiB (3145728 bytes), above the 1 MiB a scenario may have",
        ),
        (
            "scenarios/huge-dashboard.toml",
            "scenarios/huge-dashboard.toml:2:13: dashboard `dashboards/huge.json`: scenarios/dashboards/huge.json: dashboard is 100 MiB (104857600 bytes), above the 64 MiB a dashboard may have",
        ),
        (
            "scenarios",
            "scenarios: a scenario must be a regular file, not a directory",
        ),
    ];
    if fifo {
        cases.push((
            "scenarios/fifo.toml",
            "scenarios/fifo.toml: a scenario must be a regular file, not a device, FIFO or socket",
        ));
    }
    for (path, message) in cases {
        for sub in ["check", "run"] {
            let out = bounded(dir.path(), &[sub, path]);
            assert_eq!(out.status.code(), Some(2), "{}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(message),
                "{sub} {path}: {}",
                text(&out)
            );
        }
    }
}
