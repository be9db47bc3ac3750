//! Analysis on synthetic inputs whose answers are known.

use chrono::{DateTime, Utc};

use super::*;
use crate::report::collect::{Collected, ErrorKind};
use crate::runfolder::{RunCounters, StageWindow, TargetSummary};
use crate::runfolder::{Slo, SloMetric};

pub(crate) fn window(
    name: &str,
    kind: WindowKind,
    viewers: usize,
    start_s: u64,
    end_s: u64,
) -> StageWindow {
    StageWindow {
        name: name.into(),
        kind,
        viewers,
        start_ms: start_s * 1000,
        end_ms: end_s * 1000,
    }
}

pub(crate) fn meta(windows: Vec<StageWindow>, slos: Vec<Slo>) -> RunMeta {
    let started: DateTime<Utc> = "2026-11-23T10:00:00Z".parse().unwrap();
    RunMeta {
        dashload_version: "0.1.0".into(),
        scenario: "staged".into(),
        scenario_file: "scenarios/staged.toml".into(),
        scenario_digest: "ab".into(),
        seed: 7,
        target: TargetSummary {
            kind: "sandbox".into(),
            url: "http://127.0.0.1:8086".into(),
            database: None,
        },
        test_plan: "10,10s;10,50s".into(),
        sync_users: 1,
        windows,
        slos,
        started_at: started,
        ended_at: Some(started + chrono::Duration::seconds(100)),
        interrupted: false,
        ladder_stop: None,
        counters: RunCounters::default(),
        regression: Default::default(),
        overrides: Vec::new(),
        past_capacity: Default::default(),
        skipped: Vec::new(),
        judged_holds: Default::default(),
    }
}

pub(super) fn slo(class: RequestClass, metric: SloMetric, max: f64) -> Slo {
    Slo { class, metric, max }
}

/// Records panel queries at 1, 2, …, 1000 ms spread over `[start_s, end_s)`.
pub(super) fn uniform(c: &mut Collected, name: &str, start_s: u64, end_s: u64, fail_every: u64) {
    let slot = c.name_slot(name.as_bytes());
    let span = (end_s - start_s) * 1000;
    for i in 1..=1000u64 {
        let elapsed = start_s * 1000 + (i - 1) * span / 1000;
        let fail = (fail_every > 0 && i % fail_every == 0).then_some(ErrorKind::Server);
        c.record(elapsed, slot, i * 1000, fail, b"500 Internal Server Error");
    }
}

#[test]
fn percentiles_of_a_known_distribution() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    uniform(&mut c, "panel Hours [7d]", 0, 100, 0);
    let s = analyse(&m, &c);
    let l = s.judged[0].latency.unwrap();
    let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
    assert!(near(l.p50, 500.0), "{l:?}");
    assert!(near(l.p95, 950.0), "{l:?}");
    assert!(near(l.p99, 990.0), "{l:?}");
    assert!(near(l.max, 1000.0), "{l:?}");
    assert_eq!(s.totals.requests, 1000);
    assert_eq!(s.windows[0].throughput_rps, 10.0);
    assert_eq!(s.names[0].subject, "Hours");
    assert_eq!(s.names[0].range.as_deref(), Some("7d"));
}

#[test]
fn slos_pass_fail_and_no_data_per_window() {
    let m = meta(
        vec![
            window("stage 1 ramp", WindowKind::Ramp, 10, 0, 10),
            window("stage 1 hold", WindowKind::Hold, 10, 10, 60),
            window("stage 2 hold", WindowKind::Hold, 20, 60, 100),
        ],
        vec![
            slo(RequestClass::PanelQuery, SloMetric::P95, 960.0),
            slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.05),
            slo(RequestClass::DashboardLoad, SloMetric::P99, 100.0),
            slo(RequestClass::IngestBatch, SloMetric::MsPerPoint, 0.02),
        ],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    uniform(&mut c, "panel Hours [7d]", 10, 60, 0);
    uniform(&mut c, "panel Hours [7d]", 60, 100, 10); // 10 % errors
    c.record_batch(20_000, 1000, 1, 10_000, true); // 0.01 ms per point
    let s = analyse(&m, &c);
    let get = |w: &str, class, metric| {
        s.slos
            .iter()
            .find(|r| r.window == w && r.class == class && r.metric == metric)
            .unwrap()
    };
    let p95 = get("stage 1 hold", RequestClass::PanelQuery, SloMetric::P95);
    assert_eq!(p95.verdict, SloVerdict::Pass);
    assert!(p95.judged);
    let err = get(
        "stage 2 hold",
        RequestClass::PanelQuery,
        SloMetric::ErrorRate,
    );
    assert_eq!(err.verdict, SloVerdict::Fail);
    assert_eq!(err.observed, Some(0.1));
    let load = get("stage 1 hold", RequestClass::DashboardLoad, SloMetric::P99);
    assert_eq!(load.verdict, SloVerdict::NoData);
    assert!(load
        .note
        .as_deref()
        .unwrap()
        .contains("0 successful dashboard load requests, p99 needs 100"));
    let mpp = get(
        "stage 1 hold",
        RequestClass::IngestBatch,
        SloMetric::MsPerPoint,
    );
    assert_eq!(mpp.verdict, SloVerdict::Pass);
    assert_eq!(mpp.observed, Some(0.01));
    assert_eq!(
        get(
            "stage 2 hold",
            RequestClass::IngestBatch,
            SloMetric::MsPerPoint
        )
        .verdict,
        SloVerdict::NoData
    );
    assert!(
        s.slos.iter().all(|r| r.window != "stage 1 ramp"),
        "ramps are not judged"
    );
    assert!(s.slo_failed);
    assert_eq!(s.verdict, Verdict::Fail);
    // Stage 1 held what it could judge, but had no dashboard loads to judge:
    // not judged, and no capacity is claimed from it.
    assert_eq!(s.windows[1].verdict, SloVerdict::NoData);
    assert_eq!(s.windows[2].verdict, SloVerdict::Fail);
    assert_eq!(s.capacity, None);
}

#[test]
fn stress_steps_break_without_failing_the_run() {
    let m = meta(
        vec![
            window("stage 1 hold", WindowKind::Hold, 5, 0, 20),
            window("step 1", WindowKind::StressStep, 10, 20, 40),
            window("step 2", WindowKind::StressStep, 20, 40, 60),
        ],
        vec![slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.05)],
    );
    let mut c = Collected::new(&m.windows, 60_000);
    uniform(&mut c, "panel A [1h]", 0, 20, 0);
    uniform(&mut c, "panel A [1h]", 20, 40, 0);
    uniform(&mut c, "panel A [1h]", 40, 60, 2);
    let s = analyse(&m, &c);
    assert!(!s.slo_failed);
    assert_eq!(s.verdict, Verdict::Pass);
    assert_eq!(s.first_break.as_deref(), Some("step 2"));
    assert_eq!(s.capacity, Some(10));
    let b = s.capacity_bracket.expect("a bracket");
    assert_eq!(b.held_viewers, Some(10));
    assert_eq!(b.held_window.as_deref(), Some("step 1"));
    assert_eq!(b.failed_viewers, Some(20));
    assert_eq!(b.failed_window.as_deref(), Some("step 2"));
    let slo = b.failing_slo.clone().expect("the failing SLO");
    assert_eq!(
        (slo.class, slo.metric),
        (RequestClass::PanelQuery, SloMetric::ErrorRate)
    );
    assert!(slo.observed > 0.05, "{slo:?}");
    assert_eq!(b.planned_peak, Some(5));
    assert_eq!(b.headroom, Some(2.0));
    assert!(
        b.sentence()
            .starts_with("held at 10, failed at 20 (panel query error rate "),
        "{}",
        b.sentence()
    );
    assert!(b.sentence().ends_with(" > 5.00 %)"), "{}", b.sentence());
    assert_eq!(
        b.headroom_sentence().as_deref(),
        Some("headroom 2.00 × the planned 5 viewers")
    );
}

/// A stress step's concurrency point.
fn point(window: &str, viewers: usize, held: Option<bool>) -> ConcurrencyPoint {
    ConcurrencyPoint {
        window: window.into(),
        kind: WindowKind::StressStep,
        viewers,
        viewer_throughput_rps: 1.0,
        p95_ms: Vec::new(),
        held,
    }
}

/// A dashboard-load SLO result on a stress step.
fn result(
    window: &str,
    metric: SloMetric,
    max: f64,
    observed: f64,
    verdict: SloVerdict,
) -> SloResult {
    SloResult {
        window: window.into(),
        window_kind: WindowKind::StressStep,
        judged: false,
        class: RequestClass::DashboardLoad,
        metric,
        max,
        observed: Some(observed),
        verdict,
        note: None,
    }
}

#[test]
fn the_bracket_names_the_slo_furthest_past_its_bound() {
    let points = [
        point("step 1", 100, Some(true)),
        point("step 3", 300, Some(false)),
        point("step 2", 200, Some(false)),
    ];
    let slos = [
        result("step 2", SloMetric::P95, 2000.0, 2400.0, SloVerdict::Fail),
        result(
            "step 2",
            SloMetric::ErrorRate,
            0.01,
            0.061,
            SloVerdict::Fail,
        ),
        result("step 3", SloMetric::ErrorRate, 0.01, 0.5, SloVerdict::Fail),
    ];
    let b = capacity_bracket(&points, &slos, Some(100)).unwrap();
    assert_eq!(
        b.sentence(),
        "held at 100, failed at 200 (dashboard load error rate 6.10 % > 1.00 %)"
    );
    assert_eq!(b.headroom, Some(1.0));
    let none_held = capacity_bracket(&points[1..], &slos, None).unwrap();
    assert_eq!(none_held.held_viewers, None);
    assert_eq!(none_held.headroom, None);
    assert!(none_held
        .sentence()
        .starts_with("held at no level, failed at 200"));
    let only_held = capacity_bracket(&points[..1], &slos, Some(50)).unwrap();
    assert_eq!(only_held.sentence(), "held at 100, no level failed");
    assert_eq!(only_held.headroom, Some(2.0));
    assert_eq!(capacity_bracket(&[], &slos, Some(50)), None);
}

#[test]
fn capacity_stops_at_the_first_failure() {
    assert_eq!(capacity(&[]), None);
    assert_eq!(capacity(&[(10, Some(true)), (20, Some(true))]), Some(20));
    assert_eq!(
        capacity(&[(10, Some(true)), (20, Some(false)), (30, Some(true))]),
        Some(10),
        "a lucky window above a failure does not count"
    );
    assert_eq!(capacity(&[(10, Some(false)), (20, Some(true))]), None);
    assert_eq!(
        capacity(&[(10, Some(true)), (20, None), (30, Some(true))]),
        Some(30)
    );
    assert_eq!(capacity(&[(10, Some(true)), (10, Some(false))]), None);
}

#[test]
fn knee_where_added_viewers_stop_adding_throughput() {
    // Linear at 2 req/s per viewer up to 40 viewers, then flat.
    let points = [
        (10, 20.0, "step 1"),
        (20, 40.0, "step 2"),
        (30, 60.0, "step 3"),
        (40, 80.0, "step 4"),
        (50, 82.0, "step 5"),
        (60, 83.0, "step 6"),
    ];
    let k = knee(&points, 0.5).unwrap();
    assert_eq!((k.viewers, k.next_viewers), (40, 50));
    assert_eq!(k.next_window, "step 5");
    assert!((k.slope_ratio - 0.1).abs() < 1e-9);
    // Still linear: no knee.
    assert_eq!(knee(&points[..4], 0.5), None);
    // Same viewers are averaged; order does not matter.
    let shuffled = [
        (20, 38.0, "b"),
        (10, 20.0, "a"),
        (20, 42.0, "c"),
        (30, 41.0, "d"),
    ];
    let k = knee(&shuffled, 0.5).unwrap();
    assert_eq!((k.viewers, k.next_viewers), (20, 30));
    assert_eq!(knee(&[(10, 0.0, "a"), (20, 0.0, "b")], 0.5), None);
    assert_eq!(knee(&[(10, 5.0, "a")], 0.5), None);
}

#[test]
fn names_split_into_subject_and_range() {
    assert_eq!(
        split_name("panel Hours per project [24h]", RequestClass::PanelQuery),
        ("Hours per project".into(), Some("24h".into()))
    );
    assert_eq!(
        split_name("variable project", RequestClass::VariableQuery),
        ("project".into(), None)
    );
    assert_eq!(
        split_name("sync write", RequestClass::IngestBatch),
        ("write".into(), None)
    );
    assert_eq!(
        split_name("GET /", RequestClass::Other),
        ("GET /".into(), None)
    );
}

#[test]
fn an_empty_run_is_not_judged_and_says_so() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![slo(RequestClass::PanelQuery, SloMetric::P95, 100.0)],
    );
    let c = Collected::new(&m.windows, 100_000);
    let s = analyse(&m, &c);
    assert_eq!(s.verdict, Verdict::NotJudged);
    assert!(!s.slo_failed);
    assert_eq!(s.capacity, None);
    assert_eq!(s.totals.error_rate, None);
    assert!(s.inputs.notes.iter().any(|n| n.contains("No requests")));
}

#[test]
fn the_ladder_stop_is_a_failed_level_when_no_lower_level_failed() {
    use crate::runfolder::LadderStop;
    let stop = LadderStop {
        step: "step 2".into(),
        viewers: 300,
        reason: "dashboard load error_rate 26.1% > 10.0% over 23 requests".into(),
        at_ms: 1,
        refined_until_ms: None,
        judged_from_ms: None,
    };
    // The stopped step had too few samples for its SLOs to be judged.
    let points = [point("step 1", 200, Some(true)), point("step 2", 300, None)];
    let b = with_ladder_stop(
        capacity_bracket(&points, &[], Some(100)),
        Some(&stop),
        Some(100),
    )
    .unwrap();
    assert_eq!(b.sentence(), "held at 200, failed at 300");
    assert_eq!(b.failed_window.as_deref(), Some("step 2"));
    // Nothing judged at all: the stop alone still brackets from above.
    let only_stop = with_ladder_stop(None, Some(&stop), Some(100)).unwrap();
    assert_eq!(only_stop.sentence(), "held at no level, failed at 300");
    // A lower level that failed its SLOs stays the failed level, with its reason.
    let slos = [result(
        "step 1",
        SloMetric::P95,
        2000.0,
        2400.0,
        SloVerdict::Fail,
    )];
    let lower = [point("step 1", 200, Some(false))];
    let b = with_ladder_stop(
        capacity_bracket(&lower, &slos, Some(100)),
        Some(&stop),
        Some(100),
    )
    .unwrap();
    assert_eq!(b.failed_viewers, Some(200));
    assert!(b.failing_slo.is_some());
    // No ladder stop: unchanged.
    assert_eq!(with_ladder_stop(None, None, Some(100)), None);
}
