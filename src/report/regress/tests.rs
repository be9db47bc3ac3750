//! The gate on synthetic samples whose answer is known.

use super::*;
use crate::runfolder::WindowKind;

/// A 60 s hold window.
fn window() -> StageWindow {
    StageWindow {
        name: "stage 1 hold".into(),
        kind: WindowKind::Hold,
        viewers: 10,
        start_ms: 10_000,
        end_ms: 70_000,
    }
}

/// `n` requests spread evenly over the window, latencies log-normal around
/// `median_ms` times `scale`, a share `fail` of them failed; seeded.
fn blocks(n: u64, median_ms: f64, scale: f64, fail: f64, seed: u64) -> Vec<Block> {
    let w = window();
    let mut b = WindowBlocks::new(&w);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..n {
        let at = w.start_ms + i * (w.end_ms - w.start_ms) / n;
        // Box-Muller: a standard normal, then e^(0.5 z) spreads p95 to ~2.3 × the median.
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let ms = median_ms * (0.5 * z).exp() * scale;
        let failed = rng.random::<f64>() < fail;
        b.record(at, 0, (ms * 1000.0) as u64, !failed);
    }
    b.class(0)
}

const LATENCY: Allowance = Allowance::Latency {
    relative: 0.10,
    floor_ms: 1.0,
};
const ERRORS: Allowance = Allowance::ErrorRate { margin: 0.01 };

fn sure(f: &Finding) -> f64 {
    match f {
        Finding::Judged { sure, .. } => *sure,
        Finding::NotJudged(why) => panic!("not judged: {why}"),
    }
}

#[test]
fn samples_needed_leave_five_beyond_the_percentile() {
    assert_eq!(min_samples(0.50), 10);
    assert_eq!(min_samples(0.95), 100);
    assert_eq!(min_samples(0.99), 500);
}

#[test]
fn windows_are_cut_into_bounded_blocks_of_at_least_two_seconds() {
    assert_eq!(WindowBlocks::new(&window()).len(), MAX_BLOCKS);
    let mut short = window();
    short.end_ms = short.start_ms + 9_000;
    assert_eq!(WindowBlocks::new(&short).len(), 4);
    let mut long = window();
    long.end_ms = long.start_ms + 3_600_000;
    let b = WindowBlocks::new(&long);
    assert_eq!(b.len(), MAX_BLOCKS);
    // A request at the very end still lands in the last block.
    let mut b = b;
    b.record(long.end_ms, 3, 1000, true);
    assert_eq!(b.class(3)[MAX_BLOCKS - 1].requests, 1);
}

#[test]
fn the_same_distribution_never_raises_an_alarm() {
    // 40 pairs of independent samples from one distribution, p95 and p99:
    // at 95 % confidence on a 10 % tolerance, none may be called worse.
    for seed in 0..40 {
        let a = blocks(3_000, 100.0, 1.0, 0.0, seed);
        let b = blocks(3_000, 100.0, 1.0, 0.0, seed + 1_000);
        for metric in [SloMetric::P95, SloMetric::P99] {
            let f = judge(metric, &a, &b, LATENCY, &format!("same {seed}"));
            assert!(sure(&f) < 0.95, "seed {seed} {metric:?}: {f:?}");
        }
    }
}

#[test]
fn thirty_percent_slower_is_a_regression_and_the_interval_holds_the_truth() {
    let a = blocks(3_000, 100.0, 1.0, 0.0, 1);
    let b = blocks(3_000, 100.0, 1.3, 0.0, 2);
    let f = judge(SloMetric::P95, &a, &b, LATENCY, "slower");
    assert!(sure(&f) >= 0.99, "{f:?}");
    let Finding::Judged { interval, .. } = f else {
        unreachable!()
    };
    // True p95 of the model: 100 ms × e^(0.5 × 1.645) = 227.6 ms; 30 % more is +68 ms.
    assert!(interval[0] < 68.3 && 68.3 < interval[1], "{interval:?}");
    assert!(
        interval[0] > 22.8,
        "the whole interval is beyond the 10 % tolerance"
    );
}

#[test]
fn a_change_within_the_tolerance_is_not_a_regression_however_many_samples() {
    let a = blocks(20_000, 100.0, 1.0, 0.0, 3);
    let b = blocks(20_000, 100.0, 1.05, 0.0, 4);
    assert!(sure(&judge(SloMetric::P95, &a, &b, LATENCY, "5 %")) < 0.5);
}

#[test]
fn the_same_change_needs_enough_samples_to_be_sure_of() {
    // 20 % slower: beyond the tolerance, but with 120 samples the p95's noise
    // is wider than the 10 % margin; with 20 000 it is not.
    let few = judge(
        SloMetric::P95,
        &blocks(120, 100.0, 1.0, 0.0, 5),
        &blocks(120, 100.0, 1.2, 0.0, 6),
        LATENCY,
        "few",
    );
    let many = judge(
        SloMetric::P95,
        &blocks(20_000, 100.0, 1.0, 0.0, 5),
        &blocks(20_000, 100.0, 1.2, 0.0, 6),
        LATENCY,
        "many",
    );
    assert!(sure(&few) < 0.95, "{few:?}");
    assert!(sure(&many) >= 0.95, "{many:?}");
}

#[test]
fn percentiles_without_enough_samples_are_not_judged_and_say_why() {
    let a = blocks(300, 100.0, 1.0, 0.0, 7);
    let b = blocks(300, 100.0, 3.0, 0.0, 8);
    match judge(SloMetric::P99, &a, &b, LATENCY, "p99") {
        Finding::NotJudged(why) => {
            assert!(why.contains("too few samples for p99"), "{why}");
            assert!(why.contains("500 needed"), "{why}");
        }
        f => panic!("judged on 300 samples: {f:?}"),
    }
    // p95 of the same samples can be judged, and the threefold slowdown shows.
    assert!(sure(&judge(SloMetric::P95, &a, &b, LATENCY, "p95")) > 0.99);
}

#[test]
fn latency_floor_keeps_sub_millisecond_jitter_out() {
    // 0.5 ms → 0.8 ms is 60 % worse but only 0.3 ms: under the 1 ms floor.
    let a = blocks(5_000, 0.5, 1.0, 0.0, 9);
    let b = blocks(5_000, 0.5, 1.6, 0.0, 10);
    assert_eq!(sure(&judge(SloMetric::P95, &a, &b, LATENCY, "floor")), 0.0);
}

#[test]
fn error_rates_are_judged_on_their_absolute_rise_beyond_noise() {
    let clean = blocks(2_000, 50.0, 1.0, 0.0, 11);
    let broken = blocks(2_000, 50.0, 1.0, 0.05, 12);
    let slightly = blocks(2_000, 50.0, 1.0, 0.004, 13);
    assert!(sure(&judge(SloMetric::ErrorRate, &clean, &broken, ERRORS, "e")) > 0.99);
    assert!(sure(&judge(SloMetric::ErrorRate, &clean, &slightly, ERRORS, "e")) < 0.05);
    assert_eq!(
        sure(&judge(SloMetric::ErrorRate, &clean, &clean, ERRORS, "e")),
        0.0
    );
}

#[test]
fn short_windows_are_not_judged() {
    let short = vec![Block::default(); 3];
    let f = judge(SloMetric::ErrorRate, &short, &short, ERRORS, "short");
    assert!(
        matches!(f, Finding::NotJudged(ref why) if why.contains("too short")),
        "{f:?}"
    );
}

#[test]
fn the_verdict_is_the_same_every_time_it_is_rendered() {
    let a = blocks(600, 100.0, 1.0, 0.0, 14);
    let b = blocks(600, 100.0, 1.12, 0.0, 15);
    let first = judge(SloMetric::P95, &a, &b, LATENCY, "again");
    for _ in 0..3 {
        assert_eq!(judge(SloMetric::P95, &a, &b, LATENCY, "again"), first);
    }
}

#[test]
fn quantiles_match_hdr_histograms() {
    let mut h = Histogram::<u64>::new(2).unwrap();
    for v in [5u64, 7, 7, 100, 250, 251, 900, 1_000, 40_000, 70_000] {
        h.record(v).unwrap();
    }
    let values: Vec<u64> = h
        .iter_recorded()
        .map(|v| h.highest_equivalent(v.value_iterated_to()))
        .collect();
    let counts: Vec<u64> = h.iter_recorded().map(|v| v.count_at_value()).collect();
    for q in [0.1, 0.5, 0.9, 0.95, 0.99, 1.0] {
        assert_eq!(
            quantile(&values, &counts, h.len(), q),
            Some(h.value_at_quantile(q)),
            "q = {q}"
        );
    }
}

#[test]
fn a_baseline_of_identical_runs_pooled_passes_the_same_run_and_flags_a_slower_one() {
    let run = blocks(3_000, 100.0, 1.0, 0.01, 11);
    let copies: [&[Block]; 3] = [&run, &run, &run];
    for metric in [SloMetric::P50, SloMetric::P95, SloMetric::P99] {
        let f = judge_runs(metric, &copies, &run, LATENCY, "same");
        assert!(sure(&f) < 0.05, "{metric:?} against its own copies: {f:?}");
    }
    assert!(
        sure(&judge_runs(
            SloMetric::ErrorRate,
            &copies,
            &run,
            ERRORS,
            "same"
        )) < 0.05
    );
    let slow = blocks(3_000, 100.0, 1.5, 0.01, 12);
    let f = judge_runs(SloMetric::P95, &copies, &slow, LATENCY, "slow");
    assert!(sure(&f) >= 0.95, "1.5 × slower is flagged: {f:?}");
    let broken = blocks(3_000, 100.0, 1.0, 0.08, 13);
    assert!(
        sure(&judge_runs(
            SloMetric::ErrorRate,
            &copies,
            &broken,
            ERRORS,
            "e"
        )) >= 0.95
    );
}

#[test]
fn one_baseline_run_draws_exactly_as_the_single_run_gate() {
    let (a, b) = (
        blocks(2_000, 100.0, 1.0, 0.02, 21),
        blocks(2_000, 100.0, 1.15, 0.03, 22),
    );
    for metric in [SloMetric::P95, SloMetric::ErrorRate] {
        let allowance = if metric == SloMetric::ErrorRate {
            ERRORS
        } else {
            LATENCY
        };
        assert_eq!(
            judge_runs(metric, &[&a], &b, allowance, "k"),
            judge(metric, &a, &b, allowance, "k")
        );
    }
}

#[test]
fn baseline_runs_that_disagree_make_the_gate_less_sure_than_runs_that_agree() {
    // Three baseline runs whose medians spread ±15 % (three nights of a noisy
    // staging), against the same runs' middle one repeated: the same pooled
    // middle, but the spread between runs must widen the baseline's draws.
    let (lo, mid, hi) = (
        blocks(3_000, 100.0, 0.85, 0.0, 31),
        blocks(3_000, 100.0, 1.0, 0.0, 32),
        blocks(3_000, 100.0, 1.15, 0.0, 33),
    );
    let current = blocks(3_000, 100.0, 1.25, 0.0, 34);
    let spread = sure(&judge_runs(
        SloMetric::P95,
        &[&lo, &mid, &hi],
        &current,
        LATENCY,
        "k",
    ));
    let agree = sure(&judge_runs(
        SloMetric::P95,
        &[&mid, &mid, &mid],
        &current,
        LATENCY,
        "k",
    ));
    assert!(spread < agree, "spread {spread} agree {agree}");
}

#[test]
fn a_short_run_among_the_baselines_keeps_the_window_from_being_judged() {
    let long = blocks(2_000, 100.0, 1.0, 0.0, 41);
    let short = &long[..2];
    assert!(matches!(
        judge_runs(SloMetric::P95, &[&long, short], &long, LATENCY, "k"),
        Finding::NotJudged(_)
    ));
}

fn reach(f: &Finding) -> &Reach {
    match f {
        Finding::Judged { reach, .. } => reach,
        Finding::NotJudged(why) => panic!("not judged: {why}"),
    }
}

#[test]
fn the_reach_is_the_slowdown_at_which_the_verdict_flips() {
    // This run against itself: its reach x says that the same samples made
    // (1 + x) slower would be flagged, and a little less slow would not.
    let a = blocks(1_000, 100.0, 1.0, 0.0, 11);
    for metric in [SloMetric::P50, SloMetric::P95] {
        let x = reach(&judge(metric, &a, &a, LATENCY, "reach"))
            .at(0.95)
            .expect("a judged latency has a reach");
        assert!(x > 0.10, "{metric:?}: never within the 10 % tolerance: {x}");
        // Latencies are kept at 1 % resolution: 3 % either side of the flip.
        let slower = |f: f64| blocks(1_000, 100.0, (1.0 + x) * f, 0.0, 11);
        let above = judge(metric, &a, &slower(1.03), LATENCY, "reach");
        let below = judge(metric, &a, &slower(0.97), LATENCY, "reach");
        assert!(sure(&above) >= 0.95, "{metric:?} x {x}: {above:?}");
        assert!(sure(&below) < 0.95, "{metric:?} x {x}: {below:?}");
    }
}

#[test]
fn more_samples_see_smaller_slowdowns_and_the_reach_ignores_how_this_run_fell() {
    let p95 = |n, scale, seed_b, key| {
        let f = judge(
            SloMetric::P95,
            &blocks(n, 100.0, 1.0, 0.0, 21),
            &blocks(n, 100.0, scale, 0.0, seed_b),
            LATENCY,
            key,
        );
        reach(&f).at(0.95).unwrap()
    };
    let (few, many) = (p95(200, 1.0, 22, "k"), p95(20_000, 1.0, 22, "k"));
    assert!(many < few, "20 000 samples see {many}, 200 see {few}");
    assert!(
        many < 0.16,
        "20 000 samples see close to the 10 % tolerance: {many}"
    );
    // A run that happened to be 20 % slower has the same reach, not 20 points less.
    let slower = p95(20_000, 1.2, 22, "k");
    assert!((slower - many).abs() < 0.02, "{slower} vs {many}");
}

#[test]
fn the_reach_of_an_error_rate_is_in_points_beyond_the_margin() {
    let clean = blocks(3_000, 100.0, 1.0, 0.02, 31);
    let x = reach(&judge(SloMetric::ErrorRate, &clean, &clean, ERRORS, "e"))
        .at(0.95)
        .unwrap();
    assert!(
        x > 0.01 && x < 0.03,
        "beyond the 1-point margin, within noise: {x}"
    );
    let worse = blocks(3_000, 100.0, 1.0, 0.02 + x + 0.01, 32);
    assert!(sure(&judge(SloMetric::ErrorRate, &clean, &worse, ERRORS, "e")) >= 0.95);
}

#[test]
fn a_reach_needs_the_share_of_draws_the_confidence_asks() {
    let r = Reach {
        shifts: (1..=100).map(|i| i as f64 / 100.0).collect(),
    };
    assert_eq!(r.at(0.95), Some(0.95));
    assert_eq!(r.at(0.5), Some(0.5));
    let r = Reach {
        shifts: vec![0.2, f64::INFINITY],
    };
    assert_eq!(r.at(0.95), None, "a draw no shift can flag");
}
