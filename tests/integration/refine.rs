//! `[stress] refine` on the embedded sandbox: a short ladder on a slowed sandbox
//! fails a step, and the bisection steps that follow narrow the capacity bracket
//! between the last level the ladder held and the one it failed at.

use dashload::runfolder::{files, RunMeta, WindowKind};

use crate::util::{dashload, text, workspace, ATTACK};

/// Two viewers hold; the ladder jumps by 12, so the bracket it leaves is wide.
/// `query_cost` puts the sandbox's knee between them (about 6–9 viewers here).
const SCENARIO: &str = r#"
name = "refine"
seed = 11

[target]
kind = "sandbox"

[sandbox]
query_cost = 1.5

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 10
think_time = "1s..1s"

[sync]
users = 0

[[stages]]
users = 2
ramp = "1s"
hold = "6s"

[stress]
step = 12
ramp = "2s"
hold = "8s"
ceiling = 26
stop_when = "p95 > 2s"
refine = 2

[slo.dashboard_load]
p95 = "2s"
"#;

#[test]
fn refine_steps_narrow_the_capacity_bracket_the_ladder_left() {
    // The run is a separate process (Goose's killswitch is process-wide), but one
    // attack at a time keeps the sandbox's timing undisturbed.
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    std::fs::write(dir.path().join("scenarios/refine.toml"), SCENARIO).unwrap();
    let check = dashload(dir.path(), &["check", "scenarios/refine.toml"]);
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("then refines: 2 bisection steps"),
        "{}",
        text(&check)
    );
    let out = dashload(
        dir.path(),
        &["run", "scenarios/refine.toml", "--reports-dir", "reports"],
    );
    // Its 6-8 s holds see a few dozen dashboard loads at most, fewer than the 100
    // a p95 needs to be judged: the report says NOT JUDGED (exit 1), and claims no
    // held level from them; the refine windows are this test's subject.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let run_dir = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    let meta = RunMeta::load(&run_dir).unwrap();
    assert!(
        !meta.interrupted,
        "the refine's own stop is no interruption"
    );

    // The ladder's bracket: the level before the failed step, and the failed step's.
    let stop = meta.ladder_stop.clone().expect("the ladder failed a step");
    let ladder: Vec<_> = meta
        .windows
        .iter()
        .filter(|w| !w.name.starts_with("refine") && w.kind != WindowKind::Ramp)
        .collect();
    let failed_at = ladder.iter().position(|w| w.name == stop.step).unwrap();
    assert!(failed_at > 0, "a stage held before the ladder: {ladder:?}");
    let (ladder_held, ladder_failed) = (ladder[failed_at - 1].viewers, stop.viewers);

    // The refine windows, as they ran: a ramp then a judged hold, strictly inside
    // the ladder's bracket, after the stop and up to the refine's end.
    let refine: Vec<_> = meta
        .windows
        .iter()
        .filter(|w| w.name.starts_with("refine"))
        .collect();
    let names: Vec<_> = refine.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        ["refine 1 ramp", "refine 1", "refine 2 ramp", "refine 2"],
        "{}",
        text(&out)
    );
    for w in &refine {
        assert!(
            ladder_held < w.viewers && w.viewers < ladder_failed,
            "{w:?} is not between {ladder_held} and {ladder_failed}"
        );
        assert!(w.start_ms >= stop.at_ms && w.end_ms <= stop.refined_until_ms.unwrap());
    }
    assert_eq!(refine[1].kind, WindowKind::StressStep);
    assert_eq!(refine[1].viewers, (ladder_held + ladder_failed) / 2);
    assert!(
        meta.windows
            .iter()
            .all(|w| w.start_ms < stop.at_ms || w.name.starts_with("refine")),
        "the planned steps after the stop did not run as planned, so they are not windows"
    );

    // The report's bracket uses the refine windows: narrower than the ladder's.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(files::SUMMARY)).unwrap())
            .unwrap();

    // Viewers above the refine cap stay idle: they are not counted as peak
    // users, and Goose's own transaction count stays with dashboard loads (an
    // idle stretch is one transaction, not one per quarter second).
    let launched = summary["series"]["goose_users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_u64().unwrap())
        .max()
        .unwrap();
    let most_viewers = meta.windows.iter().map(|w| w.viewers).max().unwrap() as u64;
    assert_eq!(summary["run"]["peak_users"].as_u64(), Some(most_viewers));
    let loads = summary["totals"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["class"] == "dashboard_load")
        .map(|o| o["count"].as_u64().unwrap())
        .expect("dashboard loads");
    let goose: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(files::GOOSE_JSON)).unwrap())
            .unwrap();
    let views = goose["transaction_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "view")
        .map(|t| t["number_of_requests"].as_u64().unwrap())
        .expect("Goose's view transactions");
    eprintln!(
        "Goose: {views} view transactions, {launched} users launched; dashboard loads: {loads}"
    );
    assert!(
        views <= loads + 3 * launched,
        "{views} view transactions for {loads} dashboard loads and {launched} users"
    );
    let bracket = &summary["capacity_bracket"];
    let failed = bracket["failed_viewers"].as_u64().expect("a failed level") as usize;
    // A level is claimed held only from a hold with enough samples (see above).
    let held = bracket["held_viewers"].as_u64().map(|h| h as usize);
    eprintln!(
        "ladder bracket: held at {ladder_held}, failed at {ladder_failed}; after refine: held at {held:?}, failed at {failed}"
    );
    assert!(ladder_held < failed && failed <= ladder_failed, "{bracket}");
    if let Some(held) = held {
        assert!(
            ladder_held <= held && held < failed && failed - held < ladder_failed - ladder_held,
            "the bracket narrowed: {bracket}"
        );
    }
}
