use super::*;
use crate::runfolder::WindowKind;

fn meta(outside: &str) -> RunMeta {
    serde_json::from_str(&format!(
        r#"{{"dashload_version":"0","scenario":"s","scenario_file":"s.toml","scenario_digest":"x",
            "seed":1,"target":{{"kind":"influxdb1","url":"http://127.0.0.1:1"}},"test_plan":"",
            "sync_users":1,"windows":[],"slos":[],"started_at":"2026-11-29T05:00:00Z",
            "counters":{{"dashboard_loads":0,"missed_refreshes":0,"entries":0,"points_written":0,"batches":0,"http_outside_log":{outside}}}}}"#
    ))
    .unwrap()
}

fn window(name: &str, start_ms: u64, end_ms: u64) -> StageWindow {
    StageWindow {
        name: name.into(),
        kind: WindowKind::Hold,
        viewers: 1,
        start_ms,
        end_ms,
    }
}

/// Scrapes every second from 0 to 3 s, each answered in 2 ms, with these query counts.
fn samples(queries: [f64; 4]) -> Vec<Sample> {
    queries
        .iter()
        .enumerate()
        .map(|(i, q)| Sample {
            elapsed_ms: i as u64 * 1000,
            scrape_ms: Some(2),
            figures: [
                (metric::QUERY_REQUESTS.to_string(), *q),
                (metric::QUERY_SECONDS.to_string(), *q * 0.01),
                (metric::HEAP_BYTES.to_string(), 1e6 * (i + 1) as f64),
            ]
            .into_iter()
            .collect(),
        })
        .collect()
}

/// Ten panel queries in each second, well clear of the scrapes, and one that
/// runs across the scrape at 3 s.
fn acc_for(samples: &[Sample]) -> CountAcc {
    let mut acc = CountAcc::new(samples, 0);
    for second in 0..3u64 {
        for i in 0..10 {
            let end = second * 1000 + 100 + i * 80 + 20;
            acc.record_row(RequestClass::PanelQuery, end, 20_000);
        }
    }
    acc.record_row(RequestClass::PanelQuery, 3_010, 20_000);
    // A dashboard load is not an HTTP call of its own.
    acc.record_row(RequestClass::DashboardLoad, 1_500, 300_000);
    acc
}

fn checks<'a>(s: &'a ServerSummary, kind: &str) -> Vec<&'a CountCheck> {
    s.count_check.iter().filter(|c| c.kind == kind).collect()
}

#[test]
fn counts_match_within_what_the_scrape_interval_explains() {
    // The call across the 3 s scrape was counted by it.
    let s = samples([0.0, 10.0, 20.0, 31.0]);
    let acc = acc_for(&s);
    let windows = [
        window("stage 1 hold", 0, 2000),
        window("stage 2 hold", 2000, 3000),
    ];
    let out = analyse(&s, 0, Some(&acc), &meta("{}"), &windows, None);
    assert!(
        out.measurement_warnings.is_empty(),
        "{:?}",
        out.measurement_warnings
    );
    let q = checks(&out, "query");
    assert_eq!(q.len(), 3);
    assert_eq!(
        (
            q[0].scope.as_str(),
            q[0].server,
            q[0].client_min,
            q[0].client_max
        ),
        ("whole run", 31, 30, 31)
    );
    assert_eq!(
        (q[1].server, q[1].client, q[1].client_min, q[1].client_max),
        (20, 20, 20, 20)
    );
    assert_eq!(
        (q[2].server, q[2].client_min, q[2].client_max),
        (11, 10, 11)
    );
    // Had the server not yet counted it, that would match too.
    let s = samples([0.0, 10.0, 20.0, 30.0]);
    let out = analyse(&s, 0, Some(&acc_for(&s)), &meta("{}"), &windows, None);
    assert!(
        out.measurement_warnings.is_empty(),
        "{:?}",
        out.measurement_warnings
    );
}

#[test]
fn calls_missing_with_a_lost_worker_are_blamed_on_it() {
    let s = samples([0.0, 10.0, 25.0, 36.0]);
    let acc = acc_for(&s);
    let windows = [window("stage 2 hold", 1000, 2000)];
    let lost = "worker 2 was lost at 1.5 s (no tick for 3 s) and its request log is missing";
    let out = analyse(&s, 0, Some(&acc), &meta("{}"), &windows, Some(lost));
    assert_eq!(out.measurement_warnings.len(), 2);
    for w in &out.measurement_warnings {
        assert!(
            w.ends_with(&format!("{lost}: its calls are not in the logs")),
            "{w}"
        );
    }
}

#[test]
fn calls_nobody_sent_are_flagged_in_their_window_only() {
    // Five queries from elsewhere in the second second.
    let s = samples([0.0, 10.0, 25.0, 36.0]);
    let acc = acc_for(&s);
    let windows = [
        window("stage 1 hold", 0, 1000),
        window("stage 2 hold", 1000, 2000),
        window("stage 3 hold", 2000, 3000),
    ];
    let out = analyse(&s, 0, Some(&acc), &meta("{}"), &windows, None);
    let bad: Vec<&str> = out
        .count_check
        .iter()
        .filter(|c| !c.matches)
        .map(|c| c.scope.as_str())
        .collect();
    assert_eq!(bad, ["whole run", "stage 2 hold"]);
    assert_eq!(out.measurement_warnings.len(), 2);
    assert!(
        out.measurement_warnings[1]
            .starts_with("stage 2 hold: the server counted 15 query HTTP calls, dashload sent 10"),
        "{}",
        out.measurement_warnings[1]
    );
}

#[test]
fn calls_outside_the_log_count_for_the_run_and_may_fall_in_any_window() {
    let s = samples([0.0, 12.0, 22.0, 33.0]);
    let acc = acc_for(&s);
    let windows = [
        window("stage 1 hold", 0, 1000),
        window("stage 2 hold", 1000, 3000),
    ];
    // Two freshness polls without a time; the preflight's calls came before the first scrape.
    let outside = r#"{"freshness_poll":{"query":2},"preflight":{"query":4,"ping":1}}"#;
    let out = analyse(&s, 0, Some(&acc), &meta(outside), &windows, None);
    assert!(
        out.measurement_warnings.is_empty(),
        "{:?}",
        out.measurement_warnings
    );
    let q = checks(&out, "query");
    assert_eq!((q[0].client_min, q[0].client_max), (32, 33));
    assert_eq!((q[1].client_min, q[1].client_max), (10, 12));
    // No ping figure in these scrapes: nothing to check.
    assert!(checks(&out, "ping").is_empty());
}

#[test]
fn points_written_are_checked_from_stored_batches() {
    let mut s = samples([0.0; 4]);
    for (i, p) in [0.0, 500.0, 500.0, 900.0].iter().enumerate() {
        s[i].figures.insert(metric::POINTS_WRITTEN.into(), *p);
    }
    let mut acc = CountAcc::new(&s, 0);
    acc.record_batch(600, 50_000, 500);
    acc.record_batch(2_600, 50_000, 400);
    let out = analyse(
        &s,
        0,
        Some(&acc),
        &meta("{}"),
        &[window("w", 1000, 3000)],
        None,
    );
    let p = checks(&out, "points");
    assert_eq!((p[0].server, p[0].client), (900, 900));
    assert_eq!((p[1].server, p[1].client), (400, 400));
    assert!(p.iter().all(|c| c.matches));
}

#[test]
fn window_figures_and_series_come_from_the_scrapes() {
    let mut s = samples([0.0, 10.0, 20.0, 30.0]);
    s.insert(
        2,
        Sample {
            elapsed_ms: 1500,
            scrape_ms: None,
            figures: Default::default(),
        },
    );
    let out = analyse(&s, 1, None, &meta("{}"), &[window("w", 0, 3000)], None);
    assert_eq!(
        (out.scrapes, out.failed_scrapes, out.unreadable_rows),
        (5, 1, 1)
    );
    assert!(out.count_check.is_empty(), "no log folded: no check");
    let w = &out.windows[0];
    assert_eq!(w.query_rps, Some(10.0));
    assert!((w.query_ms.unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(w.heap_max, Some(4e6));
    assert_eq!(w.rss_max, None, "absent figures stay absent");
    let heap = out
        .series
        .iter()
        .find(|x| x.metric == metric::HEAP_BYTES)
        .unwrap();
    assert_eq!(heap.points.len(), 4, "levels as scraped, the gap left out");
    let rate = out
        .series
        .iter()
        .find(|x| x.metric == metric::QUERY_REQUESTS)
        .unwrap();
    assert_eq!(rate.points, [(1.0, 10.0), (2.0, 10.0), (3.0, 10.0)]);
    assert!(out.series.iter().any(|x| x.metric == "query_ms"));
}

#[test]
fn the_nearest_scrape_to_an_edge() {
    let e = [(0, 2), (1000, 1002), (2000, 2001)];
    assert_eq!(nearest(&e, 0), Some(0));
    assert_eq!(nearest(&e, 400), Some(0));
    assert_eq!(nearest(&e, 600), Some(1));
    assert_eq!(nearest(&e, 99_000), Some(2));
    assert_eq!(nearest(&[], 5), None);
}

#[test]
fn log_times_are_moved_onto_the_scrapes_clock() {
    // Goose started 150 ms after the scrapes' clock: a write logged at 900 ms
    // (Goose) happened at 1050 ms, after the scrape at 1000 ms.
    let mut s = samples([0.0; 4]);
    for (i, w) in [0.0, 0.0, 1.0, 1.0].iter().enumerate() {
        s[i].figures.insert(metric::WRITE_REQUESTS.into(), *w);
    }
    let windows = [window("a", 0, 1000), window("b", 1000, 2000)];
    let mut early = CountAcc::new(&s, 150);
    early.record_row(RequestClass::IngestBatch, 900, 10_000);
    let out = analyse(&s, 0, Some(&early), &meta("{}"), &windows, None);
    assert!(
        out.measurement_warnings.is_empty(),
        "{:?}",
        out.measurement_warnings
    );
    let mut unshifted = CountAcc::new(&s, 0);
    unshifted.record_row(RequestClass::IngestBatch, 900, 10_000);
    let out = analyse(&s, 0, Some(&unshifted), &meta("{}"), &windows, None);
    assert_eq!(
        out.measurement_warnings.len(),
        2,
        "{:?}",
        out.measurement_warnings
    );
}

#[test]
fn a_count_says_its_noun_once() {
    assert_eq!(counted(2387, "points"), "2387 points written");
    assert_eq!(counted(15, "query"), "15 query HTTP calls");
}
