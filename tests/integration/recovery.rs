//! The recovery phase and the degradation verdict on the embedded sandbox: a
//! short ladder past a slowed sandbox's capacity, then the load drops back.
//! A sandbox that sheds with fast 503s is judged graceful, one that stalls a
//! collapse; either way the time to recover after the drop is measured
//! (bounded by the phase, not timed to the millisecond).

use dashload::runfolder::{files, RunMeta, WindowKind};
use serde_json::Value;

use crate::util::{dashload, text, workspace, ATTACK};

/// Three viewers hold; the ladder jumps to 15, past the knee `query_cost`
/// puts between them (24 h ranges only: the modelled cost, not a debug
/// build's real execution, sets it), and stops there (or holds to that
/// ceiling when its step is too slow to gather the loads the stop rule
/// needs); the load then drops back to the three for 20 s. `shed` refuses
/// past a short queue; `stall` never answers past the queue.
fn scenario(overload: &str) -> String {
    format!(
        r#"
name = "recovery-{overload}"
seed = 11

[target]
kind = "sandbox"
timeout = "3s"

[sandbox]
query_cost = 20
overload = "{overload}"

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 10
think_time = "1s..1s"

[[viewers.time_ranges]]
from = "now-24h"
weight = 1

[sync]
users = 0

[[stages]]
users = 3
ramp = "1s"
hold = "6s"

[stress]
step = 12
ramp = "2s"
hold = "10s"
ceiling = 15
stop_when = "errors > 10%"

[recovery]
hold = "20s"

[slo.panel_query]
p95 = "1s"

[slo.degradation]
goodput = "50%"
failure_p99 = "1s"
"#
    )
}

/// Run the scenario; its summary.json and run.json.
fn run(overload: &str) -> (Value, RunMeta, String) {
    let dir = workspace();
    let path = format!("scenarios/recovery-{overload}.toml");
    std::fs::write(dir.path().join(&path), scenario(overload)).unwrap();
    let check = dashload(dir.path(), &["check", &path]);
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("then recovers: back to 3 viewers for 20s"),
        "{}",
        text(&check)
    );
    let out = dashload(dir.path(), &["run", &path, "--reports-dir", "reports"]);
    // A collapse fails the run ([slo.degradation]); the hold may be too thin to judge.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", text(&out));
    let run_dir = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    let meta = RunMeta::load(&run_dir).unwrap();
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(files::SUMMARY)).unwrap())
            .unwrap();
    (summary, meta, text(&out))
}

/// The recovery window follows the stop, and its time to recover is within the phase.
fn assert_recovery_measured(summary: &Value, meta: &RunMeta, out: &str) {
    assert!(
        !meta.interrupted,
        "the phase's own end is no interruption: {out}"
    );
    // The drop: at the ladder's stop, or at its end when it held to the ceiling.
    let ladder_end = meta
        .windows
        .iter()
        .filter(|w| w.kind != WindowKind::Recovery)
        .map(|w| w.end_ms)
        .max()
        .unwrap();
    let drop = meta.ladder_stop.as_ref().map_or(ladder_end, |s| s.at_ms);
    let w = meta
        .windows
        .iter()
        .find(|w| w.kind == WindowKind::Recovery)
        .unwrap_or_else(|| panic!("a recovery window: {:?}\n{out}", meta.windows));
    assert_eq!((w.name.as_str(), w.viewers), ("recovery", 3));
    assert!(
        w.start_ms >= drop && w.start_ms <= drop + 1_000,
        "{w:?} at the drop ({drop} ms)"
    );
    assert!(
        (19_000..=21_000).contains(&(w.end_ms - w.start_ms)),
        "held for its 20 s: {w:?}"
    );
    assert!(
        meta.windows
            .iter()
            .all(|x| x.kind == WindowKind::Recovery || x.start_ms < drop),
        "the planned steps after the drop are not windows: {:?}",
        meta.windows
    );
    let r = &summary["recovery"];
    eprintln!("{}: {}", meta.scenario, r["sentence"]);
    assert_eq!(r["outcome"], "recovered", "{r}\n{out}");
    let after = r["after_ms"].as_u64().unwrap();
    let resolution = r["resolution_ms"].as_u64().unwrap();
    // Back within the phase; the span it came back in is at least one 5 s window.
    assert!(after + resolution <= 20_000, "{r}");
    assert!(2 * resolution >= 5_000 - 1_000, "{r}");
    assert!(out.contains("recovery  viewers recovered after"), "{out}");
    assert!(
        summary["concurrency"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["kind"] != "recovery"),
        "the phase is no level of load"
    );
}

#[test]
fn a_shedding_sandbox_degrades_gracefully_and_recovers_after_the_drop() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let (summary, meta, out) = run("shed");
    assert_recovery_measured(&summary, &meta, &out);
    let d = &summary["degradation"];
    eprintln!("shed: {}", d["verdict"]);
    assert_eq!(d["graceful"], true, "{d}\n{out}");
    assert_eq!(d["judged"], true);
    // Graceful needs a better window to compare with: when the one step past
    // capacity is also the run's best, the verdict says nothing was compared.
    let word = if d["peak_window"] == d["goodput_window"] {
        "no collapse seen: "
    } else {
        "graceful: "
    };
    assert!(d["verdict"].as_str().unwrap().starts_with(word), "{d}");
    assert!(out.contains(&format!("degradation  {word}")), "{out}");
}

#[test]
fn a_stalling_sandbox_collapses_into_timeouts() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let (summary, meta, out) = run("stall");
    assert_recovery_measured(&summary, &meta, &out);
    let d = &summary["degradation"];
    eprintln!("stall: {}", d["verdict"]);
    assert_eq!(d["graceful"], false, "{d}\n{out}");
    assert_eq!(d["failure_mode"], "timeouts", "{d}");
    assert!(
        d["verdict"].as_str().unwrap().starts_with("collapse: "),
        "{d}"
    );
    assert_eq!(
        summary["slo_failed"], true,
        "[slo.degradation] fails the run"
    );
    assert!(out.contains("degradation  collapse: "), "{out}");
}

/// A sandbox that recovers at once (the ladder never overloads it), judged on
/// dashboard loads (p95 and a 5 % error rate: 20 loads, a few seconds of them
/// at 12 viewers refreshing every 2 s), panel queries and the sync job's
/// batches (a p95 needs 20 batches, one every 2 s or more): each class is
/// measured on its own samples, so the viewers' recovery is not held back
/// until the sync job has written its 20 batches (about 40 s: judged all
/// together, the time to recover could not come out under that).
#[test]
fn each_class_recovers_on_its_own_samples_and_the_viewers_lead() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let path = "scenarios/recovery-at-once.toml";
    std::fs::write(
        dir.path().join(path),
        r#"
name = "recovery-at-once"
seed = 12

[target]
kind = "sandbox"

[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 10
think_time = "1s..1s"

[[viewers.time_ranges]]
from = "now-24h"
weight = 1

[sync]
users = 1
source = "generate"
entries_per_sync = 100
batch_size = 100
interval = "2s"

[[stages]]
users = 12
ramp = "2s"
hold = "6s"

[stress]
step = 4
ramp = "1s"
hold = "5s"
ceiling = 16
stop_when = "p95 > 30s"

[recovery]
hold = "45s"

[slo.dashboard_load]
p95 = "5s"
error_rate = "5%"

[slo.panel_query]
p95 = "2s"

[slo.ingest_batch]
p95 = "2s"
"#,
    )
    .unwrap();
    let out = dashload(dir.path(), &["run", path, "--reports-dir", "reports"]);
    let run_dir = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run folder");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(files::SUMMARY)).unwrap())
            .unwrap();
    let r = &summary["recovery"];
    eprintln!("{}", r["sentence"]);
    assert_eq!(r["outcome"], "recovered", "{r}\n{}", text(&out));
    let classes: Vec<&str> = r["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["dashboard_load", "panel_query", "ingest_batch"],
        "{r}"
    );
    let span = |c: &Value| {
        let (after, res) = (
            c["after_ms"].as_u64().unwrap(),
            c["resolution_ms"].as_u64().unwrap(),
        );
        (after - res, after + res)
    };
    // The headline is the viewers': at most 15 s, its span from the drop.
    let after = r["after_ms"].as_u64().unwrap();
    assert!(after <= 15_000, "{r}");
    let (earliest, latest) = span(r);
    assert!(earliest <= 1_000, "back at once: {r}");
    let loads = span(&r["classes"][0]);
    assert_eq!(latest, loads.1.max(span(&r["classes"][1]).1), "{r}");
    // The sync job's batches, listed beside, took longer to gather.
    let ingest = &r["classes"][2];
    assert!(
        ingest["outcome"] == "not_judged" || span(ingest).1 > latest,
        "{ingest}"
    );
    let sentence = r["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("viewers recovered after "),
        "{sentence}"
    );
    assert!(sentence.contains("; ingest batch "), "{sentence}");
    assert!(
        text(&out).contains("recovery  viewers recovered after"),
        "{}",
        text(&out)
    );
}
