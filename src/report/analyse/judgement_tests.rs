//! Judgement needs good data: windows without enough samples are not judged,
//! capacity is claimed only from windows that were, and failures always count.

use super::tests::{meta, slo, uniform, window};
use super::*;
use crate::report::collect::{Collected, ErrorKind};
use crate::runfolder::SloMetric;

/// `n` panel queries in `[start_s, start_s + 10)`, every `fail_every`-th failed
/// (none when 0), at 10 ms each.
fn panels(c: &mut Collected, start_s: u64, n: u64, fail_every: u64) {
    let slot = c.name_slot(b"panel Hours [7d]");
    for i in 0..n {
        let fail = (fail_every > 0 && i % fail_every == 0).then_some(ErrorKind::Server);
        c.record(
            start_s * 1000 + i * 10_000 / n.max(1),
            slot,
            10_000,
            fail,
            b"boom",
        );
    }
}

fn result<'a>(s: &'a Summary, w: &str, class: RequestClass, metric: SloMetric) -> &'a SloResult {
    s.slos
        .iter()
        .find(|r| r.window == w && r.class == class && r.metric == metric)
        .unwrap()
}

#[test]
fn a_hold_window_without_samples_of_a_judged_class_is_not_judged() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![
            slo(RequestClass::PanelQuery, SloMetric::P95, 2000.0),
            slo(RequestClass::DashboardLoad, SloMetric::P95, 2000.0),
        ],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    uniform(&mut c, "panel Hours [7d]", 0, 100, 0);
    let s = analyse(&m, &c);
    let panel = result(&s, "stage 1 hold", RequestClass::PanelQuery, SloMetric::P95);
    assert_eq!(panel.verdict, SloVerdict::Pass);
    let load = result(
        &s,
        "stage 1 hold",
        RequestClass::DashboardLoad,
        SloMetric::P95,
    );
    assert_eq!(load.verdict, SloVerdict::NoData);
    let note = load.note.as_deref().unwrap();
    assert!(note.contains("0 successful dashboard load"), "{note}");
    assert!(note.contains("p95 needs 20"), "{note}");
    assert_eq!(
        s.windows[0].verdict,
        SloVerdict::NoData,
        "a pass elsewhere does not make the window pass"
    );
    assert_eq!(s.verdict, Verdict::NotJudged);
    let why = s.unmeasured.as_deref().expect("the run says why");
    assert!(why.contains("stage 1 hold"), "{why}");
    assert!(why.contains("dashboard load p95"), "{why}");
    assert!(why.contains("p95 needs 20"), "{why}");
    assert_eq!(s.capacity, None);
}

#[test]
fn a_percentile_needs_one_sample_expected_beyond_it() {
    let m = meta(
        vec![
            window("stage 1 hold", WindowKind::Hold, 10, 0, 50),
            window("stage 2 hold", WindowKind::Hold, 20, 50, 100),
        ],
        vec![slo(RequestClass::PanelQuery, SloMetric::P99, 2000.0)],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    panels(&mut c, 0, 99, 0);
    panels(&mut c, 50, 100, 0);
    let s = analyse(&m, &c);
    let thin = result(&s, "stage 1 hold", RequestClass::PanelQuery, SloMetric::P99);
    assert_eq!(thin.verdict, SloVerdict::NoData);
    assert!(
        thin.note
            .as_deref()
            .unwrap()
            .contains("99 successful panel query requests, p99 needs 100"),
        "{thin:?}"
    );
    let shown = thin.observed.expect("the figure is still shown");
    assert!((shown - 10.0).abs() < 0.1, "{shown}");
    let enough = result(&s, "stage 2 hold", RequestClass::PanelQuery, SloMetric::P99);
    assert_eq!(enough.verdict, SloVerdict::Pass);
    // The run is judged on the hold that had enough, and names the other.
    assert_eq!(s.verdict, Verdict::Pass);
    assert_eq!(s.unmeasured, None);
    let partly = s.partly_judged.as_deref().expect("the thin hold is named");
    assert!(partly.contains("stage 1 hold"), "{partly}");
    assert!(partly.contains("p99 needs 100"), "{partly}");
}

#[test]
fn too_few_samples_can_still_fail_on_their_own_evidence() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![
            slo(RequestClass::PanelQuery, SloMetric::P95, 5.0),
            slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.01),
        ],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    // 40 requests, all slower than 5 ms, 30 failed: whatever 60 more would have
    // been, p95 and the error rate are past their bounds.
    panels(&mut c, 0, 40, 0);
    let slot = c.name_slot(b"panel Hours [7d]");
    for i in 0..30 {
        c.record(20_000 + i, slot, 1000, Some(ErrorKind::Server), b"boom");
    }
    let s = analyse(&m, &c);
    let p95 = result(&s, "stage 1 hold", RequestClass::PanelQuery, SloMetric::P95);
    assert_eq!(p95.verdict, SloVerdict::Fail, "{p95:?}");
    let err = result(
        &s,
        "stage 1 hold",
        RequestClass::PanelQuery,
        SloMetric::ErrorRate,
    );
    assert_eq!(err.verdict, SloVerdict::Fail, "{err:?}");
    assert_eq!(s.verdict, Verdict::Fail);
    assert!(s.slo_failed);
}

#[test]
fn an_error_rate_needs_enough_requests_to_pass() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.05)],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    panels(&mut c, 0, 19, 0);
    let s = analyse(&m, &c);
    let err = result(
        &s,
        "stage 1 hold",
        RequestClass::PanelQuery,
        SloMetric::ErrorRate,
    );
    assert_eq!(err.verdict, SloVerdict::NoData, "{err:?}");
    assert!(
        err.note
            .as_deref()
            .unwrap()
            .contains("19 panel query requests, an error rate ≤ 5.00 % needs 20"),
        "{err:?}"
    );
    assert_eq!(s.verdict, Verdict::NotJudged);
}

#[test]
fn a_run_where_most_requests_failed_does_not_pass() {
    // Only a latency SLO: 95 % of the requests failed, the 5 % left are fast.
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![slo(RequestClass::PanelQuery, SloMetric::P95, 2000.0)],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    let slot = c.name_slot(b"panel Hours [7d]");
    for i in 0..1000u64 {
        let fail = (i % 20 != 0).then_some(ErrorKind::Connection);
        c.record(i * 100, slot, 5_000, fail, b"connection refused");
    }
    let s = analyse(&m, &c);
    assert_eq!(s.verdict, Verdict::Fail);
    let p95 = result(&s, "stage 1 hold", RequestClass::PanelQuery, SloMetric::P95);
    let why = p95.note.as_deref().expect("why the p95 failed");
    assert!(
        why.contains("950 of 1000 panel query requests failed"),
        "{why}"
    );
    // With an error-rate SLO, the failures fail the run.
    let m = meta(
        m.windows.clone(),
        vec![
            slo(RequestClass::PanelQuery, SloMetric::P95, 2000.0),
            slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.05),
        ],
    );
    let s = analyse(&m, &c);
    assert_eq!(s.verdict, Verdict::Fail);
}

#[test]
fn capacity_is_claimed_only_from_windows_with_good_data() {
    let m = meta(
        vec![
            window("step 1", WindowKind::StressStep, 10, 0, 20),
            window("step 2", WindowKind::StressStep, 20, 20, 40),
        ],
        vec![slo(RequestClass::PanelQuery, SloMetric::P95, 2000.0)],
    );
    let mut c = Collected::new(&m.windows, 40_000);
    panels(&mut c, 0, 200, 0);
    panels(&mut c, 20, 15, 0); // fast, but only 15
    let s = analyse(&m, &c);
    assert_eq!(s.concurrency[1].held, None, "{:?}", s.concurrency);
    assert_eq!(s.capacity, Some(10));
    assert_eq!(
        s.capacity_bracket
            .as_ref()
            .and_then(|b| b.held_window.as_deref()),
        Some("step 1")
    );
}

#[test]
fn a_level_holds_on_its_viewer_slos_when_the_sync_job_had_too_few_batches() {
    let m = meta(
        vec![
            window("step 1", WindowKind::StressStep, 10, 0, 20),
            window("step 2", WindowKind::StressStep, 20, 20, 40),
        ],
        vec![
            slo(RequestClass::PanelQuery, SloMetric::P95, 2000.0),
            slo(RequestClass::IngestBatch, SloMetric::ErrorRate, 0.05),
        ],
    );
    let mut c = Collected::new(&m.windows, 40_000);
    panels(&mut c, 0, 200, 0);
    panels(&mut c, 20, 200, 0);
    // Five batch writes a step: too few to judge a 5 % error rate (20 needed)...
    let write = c.name_slot(b"sync write batch");
    for i in 0..5 {
        c.record(i * 1000, write, 10_000, None, b"");
    }
    // ...but two failures of five on step 2 fail it on their own evidence.
    for i in 0..5 {
        let fail = (i < 2).then_some(ErrorKind::Server);
        c.record(20_000 + i * 1000, write, 10_000, fail, b"boom");
    }
    let s = analyse(&m, &c);
    let step1 = result(
        &s,
        "step 1",
        RequestClass::IngestBatch,
        SloMetric::ErrorRate,
    );
    assert_eq!(step1.verdict, SloVerdict::NoData, "{step1:?}");
    assert_eq!(s.windows[0].verdict, SloVerdict::NoData);
    assert_eq!(s.concurrency[0].held, Some(true), "{:?}", s.concurrency);
    assert_eq!(s.concurrency[1].held, Some(false), "{:?}", s.concurrency);
    assert_eq!(s.capacity, Some(10));
}
