//! Run history through the binary: every run writes `history.json` and
//! rebuilds `reports/index.html`; `--keep N` removes the oldest complete runs
//! of the scenario and never a baseline in use, an incomplete folder, another
//! scenario's run or a folder that is not a run; `dashload index [DIR]`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{dashload, text, workspace};

/// A run of a few seconds against the embedded sandbox that passes its SLO.
const TINY: &str = "name = \"tiny\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
    [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"4s\"\n[slo.dashboard_load]\np50 = \"30s\"\n";

/// The folder names under `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The run folder a run's output names (its `report` line).
fn run_dir_of(root: &Path, stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("report    "))
        .unwrap_or_else(|| panic!("no report line in {stdout}"));
    root.join(Path::new(line.trim()).parent().unwrap())
}

#[test]
fn keep_removes_the_oldest_runs_of_the_scenario_and_never_a_baseline_or_incomplete_folder() {
    let _one_attack_at_a_time = crate::util::ATTACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ws = workspace();
    let root = ws.path();
    fs::write(root.join("scenarios/tiny.toml"), TINY).unwrap();
    let reports = root.join("reports");
    // Already there: not a run folder, an incomplete run of the same scenario
    // (oldest of all), and an old complete run of another scenario.
    fs::create_dir_all(reports.join("notes")).unwrap();
    fs::write(reports.join("notes").join("keep.txt"), "mine").unwrap();
    let partial = reports.join("20200101T000000Z-tiny");
    fs::create_dir_all(partial.join(".partial")).unwrap();
    fs::write(
        partial.join("run.json"),
        r#"{"scenario":"tiny","started_at":"2020-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let other = reports.join("20200101T000000Z-other");
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("run.json"), "{}").unwrap();
    fs::write(
        other.join("history.json"),
        r#"{"schema":1,"run_id":"x","scenario":"other","scenario_digest":"d","started_at":"2020-01-01T00:00:00Z","verdict":"pass"}"#,
    )
    .unwrap();

    let mut runs = Vec::new();
    for i in 0..4 {
        let mut args = vec!["run", "scenarios/tiny.toml", "--keep", "2"];
        // The fourth run compares with the second: it must stay.
        let base;
        if i == 3 {
            base = format!("reports/{}", runs[1]);
            args.extend(["--baseline", base.as_str()]);
        }
        let out = dashload(root, &args);
        assert_eq!(out.status.code(), Some(0), "run {i}: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = run_dir_of(root, &stdout);
        let h: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("history.json")).unwrap()).unwrap();
        assert_eq!(h["scenario"], "tiny");
        assert_eq!(h["verdict"], "pass");
        assert!(h["dashboard_load_p95_ms"].as_f64().unwrap() > 0.0, "{h}");
        assert!(
            stdout.contains("index     reports/index.html"),
            "{}",
            text(&out)
        );
        let removed: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("removed   "))
            .collect();
        match i {
            0 | 1 => assert!(removed.is_empty(), "run {i}: {}", text(&out)),
            2 => assert_eq!(
                removed,
                [format!("reports/{} (--keep 2)", runs[0])],
                "{}",
                text(&out)
            ),
            _ => {
                assert!(removed.is_empty(), "the baseline stays: {}", text(&out));
                assert_eq!(h["baselines"], serde_json::json!([runs[1]]));
            }
        }
        runs.push(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    let mut expected = vec![
        "20200101T000000Z-other".to_string(),
        "20200101T000000Z-tiny".to_string(),
        runs[1].clone(),
        runs[2].clone(),
        runs[3].clone(),
        "index.html".to_string(),
        "notes".to_string(),
    ];
    expected.sort();
    assert_eq!(names(&reports), expected);
    assert_eq!(
        fs::read_to_string(reports.join("notes/keep.txt")).unwrap(),
        "mine"
    );

    // The index lists what is left, and only that.
    let index = fs::read_to_string(reports.join("index.html")).unwrap();
    for run in &runs[1..] {
        assert!(
            index.contains(&format!("href=\"{run}/report.html\"")),
            "{run}"
        );
    }
    assert!(!index.contains(&runs[0]), "a removed run is listed");
    assert!(index.contains("incomplete: running or unfinished (.partial/ left)"));
    assert!(!index.contains("notes"));

    // `dashload index` rebuilds the same rows from the folders.
    fs::remove_file(reports.join("index.html")).unwrap();
    let out = dashload(root, &["index"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("reports/index.html: 4 runs of 2 scenarios, 1 incomplete run folder"),
        "{}",
        text(&out)
    );
    let rebuilt = fs::read_to_string(reports.join("index.html")).unwrap();
    let rows = |page: &str| -> Vec<String> {
        page.lines()
            .filter(|l| l.starts_with("<tr class="))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(rows(&rebuilt), rows(&index));
}

#[test]
fn keep_zero_and_a_missing_index_folder_are_usage_errors() {
    let ws = workspace();
    let out = dashload(ws.path(), &["run", "scenarios/smoke.toml", "--keep", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--keep") && stderr.contains("'0'"),
        "{stderr}"
    );
    assert!(!ws.path().join("reports").exists(), "nothing ran");
    let out = dashload(ws.path(), &["index", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope: not a folder"),
        "{}",
        text(&out)
    );
}
