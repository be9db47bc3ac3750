//! Latency of successful and failed requests apart (Gatling's OK/KO), with
//! mean and standard deviation, on synthetic logs whose answers are known.

use super::tests::{meta, slo, uniform, window};
use super::*;
use crate::report::collect::{Collected, ErrorKind};
use crate::runfolder::SloMetric;

fn near(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 0.001 + 0.001
}

/// 1000 successes at 1..=1000 ms and `fast_failures` 503s answered in 0.5 ms.
fn with_fast_failures(fast_failures: u64) -> Summary {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![slo(RequestClass::PanelQuery, SloMetric::P95, 960.0)],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    uniform(&mut c, "panel Hours [7d]", 0, 100, 0);
    let slot = c.name_slot(b"panel Hours [7d]");
    for i in 0..fast_failures {
        c.record(i * 50, slot, 500, Some(ErrorKind::Shed), b"503 shed");
    }
    analyse(&m, &c)
}

#[test]
fn fast_503s_do_not_lower_the_success_p95() {
    let clean = with_fast_failures(0);
    let shed = with_fast_failures(1000);
    let ok = shed.judged[0].latency.unwrap();
    assert_eq!(ok, clean.judged[0].latency.unwrap());
    assert!(near(ok.p95, 950.0), "{ok:?}");
    assert!(near(ok.p50, 500.0), "{ok:?}");
    let ko = shed.judged[0].failed_latency.unwrap();
    assert!(near(ko.p95, 0.5) && near(ko.max, 0.5), "{ko:?}");
    assert_eq!(clean.judged[0].failed_latency, None);
    // The SLO judges the successes' p95 (950 ms), not the mix (~900 ms).
    let observed = shed.slos[0].observed.unwrap();
    assert!(near(observed, 950.0), "{observed}");
    assert_eq!(shed.judged[0].failed, 1000);
}

#[test]
fn mean_and_standard_deviation_are_exact() {
    let s = with_fast_failures(0);
    let l = s.judged[0].latency.unwrap();
    // 1..=1000 ms: mean 500.5 ms, population sd √((1000² − 1) / 12) ms.
    assert!((l.mean - 500.5).abs() < 1e-9, "{l:?}");
    assert!(
        (l.stddev - (999_999f64 / 12.0).sqrt()).abs() < 1e-9,
        "{l:?}"
    );
    let ko = with_fast_failures(10).judged[0].failed_latency.unwrap();
    assert!((ko.mean - 0.5).abs() < 1e-12 && ko.stddev == 0.0, "{ko:?}");
}

#[test]
fn a_window_where_every_request_failed_has_no_success_latency() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 10, 0, 100)],
        vec![slo(RequestClass::PanelQuery, SloMetric::P95, 960.0)],
    );
    let mut c = Collected::new(&m.windows, 100_000);
    uniform(&mut c, "panel Hours [7d]", 0, 100, 1);
    let s = analyse(&m, &c);
    assert_eq!(s.judged[0].latency, None);
    assert!(s.judged[0].failed_latency.is_some());
    // Every request failed: the p95 cannot hold, whatever the (absent)
    // successful latencies would have been.
    assert_eq!(s.slos[0].verdict, SloVerdict::Fail);
    assert!(s.slos[0]
        .note
        .as_deref()
        .unwrap()
        .contains("1000 of 1000 panel query requests failed"));
}
