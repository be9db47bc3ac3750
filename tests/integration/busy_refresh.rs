//! A refresh tick that falls while the dashboard is still loading replaces the
//! load, as Grafana does (`[viewers] busy_refresh = "cancel"`):
//! the panel queries in flight are dropped and logged as replaced, counted per
//! window and in the server's count check, never as latencies or failures. With
//! `busy_refresh = "skip"` the tick is missed instead. Against the sandbox with
//! its queries slowed past the refresh interval.

use std::path::Path;

use serde_json::Value;

use crate::util::{dashload, text, workspace, ATTACK};

const SCENARIO: &str = r#"name = "busy-refresh"
seed = 11
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "1s"
refreshes_per_visit = 4
think_time = "1s..1s"
busy_refresh = "cancel"
[[stages]]
users = 3
ramp = "1s"
hold = "8s"
[[faults]]
name = "slow queries"
window = "stage 1"
kind = "latency"
on = "queries"
latency = "1500ms"
"#;

/// (panel rows, of which replaced, cut off by the run's end, loads replaced).
fn logged(run: &Path) -> (u64, u64, u64, u64) {
    let mut reader = csv::Reader::from_path(run.join("requests.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (name, error) = (col("name"), col("error"));
    let (mut panels, mut replaced, mut cut, mut loads) = (0, 0, 0, 0);
    for row in reader.records() {
        let row = row.unwrap();
        let e = &row[error];
        if row[name].starts_with("panel ") {
            panels += 1;
            replaced += u64::from(dashload::runfolder::is_replaced(e));
            cut += u64::from(dashload::runfolder::is_cancelled(e));
        } else if row[name].starts_with("load ") {
            loads += u64::from(e.starts_with(dashload::runfolder::LOAD_REPLACED));
        }
    }
    (panels, replaced, cut, loads)
}

fn run_once(dir: &Path, extra: &[&str]) -> (std::path::PathBuf, String) {
    let reports = format!("reports-{}", extra.len());
    let mut args = vec!["run", "scenarios/busy.toml", "--reports-dir", &reports];
    args.extend_from_slice(extra);
    let out = dashload(dir, &args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the run ends with a verdict: {}",
        text(&out)
    );
    let run = std::fs::read_dir(dir.join(&reports))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    (run, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_refresh_replaces_a_running_load_and_its_queries_are_counted_apart() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/busy.toml"), SCENARIO).unwrap();

    let (run, console) = run_once(dir.path(), &[]);
    let (panels, replaced, cut, loads_replaced) = logged(&run);
    assert!(replaced > 0, "queries slower than the refresh are replaced");
    assert!(loads_replaced > 0, "and their loads fail as replaced");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["totals"]["replaced_by_refresh"], replaced);
    let in_windows: u64 = summary["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["replaced_by_refresh"].as_u64().unwrap())
        .sum();
    assert!(
        in_windows > 0 && in_windows <= replaced,
        "{in_windows} of {replaced}"
    );
    // Neither a latency sample nor a failure: the class counts the others.
    let panel = summary["overall"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "panel_query")
        .unwrap();
    assert_eq!(panel["count"], panels - replaced - cut, "{panel}");
    // Each may have reached the server or not (dropped before it was
    // written): the server's count lies within the client's range.
    let query = summary["server"]["count_check"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scope"] == "whole run" && c["kind"] == "query")
        .cloned()
        .unwrap();
    assert!(
        query["server"].as_u64().unwrap() > 0 && query["matches"] == true,
        "{query}"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "panel rows {panels}: replaced {replaced}, cut off {cut}; loads replaced \
         {loads_replaced}; count check {query}"
    );

    // Skipping instead: no query replaced, the ticks missed and counted.
    // The console and the page say how many.
    assert!(
        console.contains(&format!(
            "; {replaced} replaced in flight by the next refresh"
        )),
        "{console}"
    );
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains(&format!(
            "<td>Replaced by a refresh</td><td>{replaced} panel queries"
        )),
        "the page's run table"
    );

    let (skip, _) = run_once(dir.path(), &["--set", "viewers.busy_refresh=skip"]);
    let (_, replaced, _, loads_replaced) = logged(&skip);
    assert_eq!((replaced, loads_replaced), (0, 0));
    let meta: Value =
        serde_json::from_slice(&std::fs::read(skip.join("run.json")).unwrap()).unwrap();
    assert!(
        meta["counters"]["missed_refreshes"].as_u64().unwrap() > 0,
        "{}",
        meta["counters"]
    );
}
