//! Holds that last until judged (`hold = "until judged, at most X"`) on the
//! embedded sandbox: a hold that ends as soon as every SLO and regression
//! figure has its samples, and one that reaches its cap first.

use std::path::Path;
use std::time::Instant;

use dashload::report::summary::{SloVerdict, Summary};
use dashload::runfolder::{files, RunMeta, WindowKind};

use crate::util::{dashload, text, workspace, ATTACK};

/// The only run folder under `dir/reports`.
fn the_run_dir(dir: &Path) -> std::path::PathBuf {
    let runs: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(files::RUN_META).is_file())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// The only run folder's run.json and summary.json.
fn the_run(dir: &Path) -> (RunMeta, Summary) {
    let runs = [the_run_dir(dir)];
    let meta: RunMeta =
        serde_json::from_slice(&std::fs::read(runs[0].join(files::RUN_META)).unwrap()).unwrap();
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(runs[0].join(files::SUMMARY)).unwrap()).unwrap();
    (meta, summary)
}

#[test]
fn a_hold_until_judged_ends_well_before_its_cap_with_every_slo_judged() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let set = [
        "--set",
        "stages.0.users=16",
        "--set",
        "stages.0.hold=\"until judged, at most 60s\"",
    ];
    let mut args = vec!["check", "scenarios/smoke.toml"];
    args.extend(set);
    let check = dashload(dir.path(), &args);
    let shown = String::from_utf8_lossy(&check.stdout);
    assert!(
        shown.contains("until judged (planned ≈ ") && shown.contains("s), at most 1m"),
        "{}",
        text(&check)
    );
    let mut args = vec!["run", "scenarios/smoke.toml"];
    args.extend(set);
    let started = Instant::now();
    let out = dashload(dir.path(), &args);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (meta, summary) = the_run(dir.path());
    let hold = &meta.judged_holds[0];
    assert!(hold.judged, "{hold:?}");
    assert_eq!(hold.at_most_ms, 60_000);
    assert!(hold.held_ms < 45_000, "not well before its cap: {hold:?}");
    // run.json's window is the real one, and the report judged that one.
    let w = meta
        .windows
        .iter()
        .find(|w| w.name == "stage 1 hold")
        .unwrap();
    assert_eq!(w.kind, WindowKind::Hold);
    assert!(
        (w.end_ms - w.start_ms).abs_diff(hold.held_ms) <= 1,
        "{w:?} {hold:?}"
    );
    let judged: Vec<_> = summary.slos.iter().filter(|r| r.judged).collect();
    assert_eq!(judged.len(), 4, "{:?}", summary.slos);
    assert!(
        judged.iter().all(|r| r.verdict == SloVerdict::Pass),
        "{:?}",
        summary.slos
    );
    assert!(
        summary
            .inputs
            .notes
            .iter()
            .any(|n| n.starts_with("stage 1 hold held until judged: ")),
        "{:?}",
        summary.inputs.notes
    );
    // The run ended with the hold, not at its planned 65 s.
    assert!(took.as_secs() < 58, "took {took:?}");
    println!(
        "judged after {} ms; run took {:.1} s",
        hold.held_ms,
        took.as_secs_f64()
    );
}

#[test]
fn a_hold_until_judged_that_reaches_its_cap_is_not_judged_and_says_why() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let started = Instant::now();
    let out = dashload(
        dir.path(),
        &[
            "run",
            "scenarios/smoke.toml",
            "--set",
            "stages.0.users=2",
            "--set",
            "stages.0.hold=\"until judged, at most 6s\"",
        ],
    );
    let took = started.elapsed();
    let (meta, summary) = the_run(dir.path());
    let hold = &meta.judged_holds[0];
    assert!(!hold.judged, "{hold:?}");
    assert_eq!(hold.held_ms, 6_000, "{hold:?}");
    assert!(
        hold.short
            .iter()
            .any(|s| s.starts_with("dashboard_load.p95: ") && s.ends_with(" of 20 samples")),
        "{hold:?}"
    );
    let w = meta
        .windows
        .iter()
        .find(|w| w.name == "stage 1 hold")
        .unwrap();
    assert_eq!((w.start_ms, w.end_ms), (5_000, 11_000));
    let p95 = summary
        .slos
        .iter()
        .find(|r| r.judged && r.class.key() == "dashboard_load" && r.metric.key() == "p95")
        .unwrap();
    assert_eq!(p95.verdict, SloVerdict::NoData, "{p95:?}");
    let note = p95.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("needs 20")
            && note.ends_with("the hold hit its cap (until judged, at most 6s)"),
        "{note}"
    );
    assert!(
        summary
            .inputs
            .notes
            .iter()
            .any(|n| n.starts_with("stage 1 hold hit its cap: held 6.0 s")),
        "{:?}",
        summary.inputs.notes
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("hit its cap"), "{}", text(&out));
    println!(
        "exit {:?}; run took {:.1} s",
        out.status.code(),
        took.as_secs_f64()
    );
}

#[test]
fn a_distributed_hold_until_judged_ends_on_the_workers_merged_samples() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let started = Instant::now();
    let out = dashload(
        dir.path(),
        &[
            "run",
            "scenarios/smoke.toml",
            "--workers",
            "local:2",
            "--listen",
            "127.0.0.1:0",
            "--set",
            "stages.0.users=16",
            "--set",
            "stages.0.hold=\"until judged, at most 60s\"",
        ],
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stage 1 hold judged on every worker's samples after"),
        "{}",
        text(&out)
    );
    let (meta, summary) = the_run(dir.path());
    let hold = &meta.judged_holds[0];
    assert!(hold.judged, "{hold:?}");
    assert!(hold.held_ms < 45_000, "{hold:?}");
    let w = meta
        .windows
        .iter()
        .find(|w| w.name == "stage 1 hold")
        .unwrap();
    assert_eq!(w.end_ms - w.start_ms, hold.held_ms);
    // Every worker ended it at the manager's instant: each one's run.json agrees
    // within a tick of the manager's window.
    for i in 0..2 {
        let worker: RunMeta = serde_json::from_slice(
            &std::fs::read(
                dashload::cluster::merge::worker_dir(&the_run_dir(dir.path()), i)
                    .join(files::RUN_META),
            )
            .unwrap(),
        )
        .unwrap();
        let ww = worker
            .windows
            .iter()
            .find(|x| x.name == "stage 1 hold")
            .unwrap();
        let length = ww.end_ms - ww.start_ms;
        assert!(
            length.abs_diff(hold.held_ms) < 1_000,
            "worker {i}: {ww:?} against {hold:?}"
        );
    }
    // The merged report judged every SLO on the real window.
    let judged: Vec<_> = summary.slos.iter().filter(|r| r.judged).collect();
    assert!(
        !judged.is_empty() && judged.iter().all(|r| r.verdict == SloVerdict::Pass),
        "{:?}",
        summary.slos
    );
    assert!(took.as_secs() < 60, "took {took:?}");
    println!(
        "distributed: judged after {} ms; run took {:.1} s",
        hold.held_ms,
        took.as_secs_f64()
    );
}

#[test]
fn ladder_steps_until_judged_end_once_judged_and_the_next_step_follows_at_once() {
    let _one = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let smoke = std::fs::read_to_string(dir.path().join("scenarios/smoke.toml")).unwrap();
    let head = smoke.split("[[stages]]").next().unwrap();
    let scenario = format!(
        "{head}[[stages]]\nusers = 6\nramp = \"3s\"\nhold = \"10s\"\n\n[stress]\nstep = 4\nramp = \"2s\"\nhold = \"until judged, at most 40s\"\nceiling = 14\nstop_when = \"p95 > 4s\"\n\n[slo.dashboard_load]\np95 = \"5s\"\n"
    );
    std::fs::write(dir.path().join("scenarios/ladder.toml"), scenario).unwrap();
    let started = Instant::now();
    let out = dashload(dir.path(), &["run", "scenarios/ladder.toml"]);
    let took = started.elapsed();
    let (meta, _) = the_run(dir.path());
    assert!(meta.ladder_stop.is_none(), "{}", text(&out));
    let names: Vec<_> = meta
        .judged_holds
        .iter()
        .map(|h| h.window.as_str())
        .collect();
    assert_eq!(names, ["step 1", "step 2"], "{}", text(&out));
    assert!(meta
        .judged_holds
        .iter()
        .all(|h| h.judged && h.held_ms < 30_000));
    let at = |name: &str| {
        meta.windows
            .iter()
            .find(|w| w.name == name)
            .unwrap()
            .clone()
    };
    // Each step's ramp starts where the previous step ended: the windows ran back to back.
    assert_eq!(at("step 2 ramp").start_ms, at("step 1").end_ms);
    assert_eq!(at("step 2").start_ms, at("step 2 ramp").end_ms);
    assert_eq!(
        at("step 2").end_ms - at("step 2").start_ms,
        meta.judged_holds[1].held_ms
    );
    // Planned at most 1m37s: the run ended with its last step.
    assert!(took.as_secs() < 75, "took {took:?}");
    println!(
        "ladder: steps held {} and {} ms; run took {:.1} s",
        meta.judged_holds[0].held_ms,
        meta.judged_holds[1].held_ms,
        took.as_secs_f64()
    );
}
