//! HTTP requests apart from operations, on synthetic logs with known answers.

use super::tests::{meta, window};
use super::*;
use crate::report::collect::{Collected, ErrorKind};

/// Ten panel queries (one a 503) and the one dashboard load they make up,
/// failed because of that 503; a transform; two sync writes.
pub(crate) fn one_failed_load() -> Collected {
    let windows = vec![window("stage 1 hold", WindowKind::Hold, 1, 0, 10)];
    let mut c = Collected::new(&windows, 10_000);
    let panel = c.name_slot(b"panel Hours [7d]");
    for i in 0..10u64 {
        let fail = (i == 3).then_some(ErrorKind::Shed);
        c.record_row(i * 100, panel, 20_000, fail, b"503 shed", true);
    }
    let load = c.name_slot(b"load Toggl [7d]");
    c.record_row(
        0,
        load,
        90_000,
        Some(ErrorKind::Other),
        b"Hours: 503",
        false,
    );
    let transform = c.name_slot(b"sync transform");
    c.record_row(2_000, transform, 1_000, None, b"", false);
    let write = c.name_slot(b"sync write");
    c.record_row(3_000, write, 5_000, None, b"", true);
    c.record_row(4_000, write, 5_000, None, b"", true);
    c
}

#[test]
fn a_failed_dashboard_load_is_not_a_second_failed_request() {
    let m = meta(
        vec![window("stage 1 hold", WindowKind::Hold, 1, 0, 10)],
        vec![],
    );
    let s = analyse(&m, &one_failed_load());
    assert_eq!((s.totals.requests, s.totals.failed), (12, 1));
    assert_eq!(s.totals.error_rate, Some(1.0 / 12.0));
    assert_eq!(s.errors.total, 1);
    assert_eq!(s.errors.by_kind, vec![(ErrorKind::Shed, 1)]);
    let ops: Vec<_> = s
        .totals
        .operations
        .iter()
        .map(|o| (o.class, o.count, o.failed))
        .collect();
    assert_eq!(
        ops,
        [
            (RequestClass::DashboardLoad, 1, 1),
            (RequestClass::SyncTransform, 1, 0)
        ]
    );
    // The load stays a class of its own, SLO-able, with its failure rate.
    let load = s
        .overall
        .iter()
        .find(|c| c.class == RequestClass::DashboardLoad)
        .unwrap();
    assert_eq!(load.error_rate, Some(1.0));
    let w = &s.windows[0];
    assert_eq!((w.requests, w.failed), (12, 1));
    assert_eq!(w.throughput_rps, 1.1);
    assert_eq!(w.viewer_throughput_rps, 0.9, "panel queries only");
    let (ok, failed): (u64, u64) = s
        .series
        .buckets
        .iter()
        .fold((0, 0), |(o, f), b| (o + b.ok, f + b.failed));
    assert_eq!((ok, failed), (11, 1));
}
