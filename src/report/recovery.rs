//! Time to recover: from a drop in load (the `[recovery]` phase) or the end
//! of a fault, how long until the judged figures are back within their SLOs.
//!
//! The measurement slides a window over the report's time buckets
//! ([`TimeBuckets`], 1 s wide for runs up to 10 minutes), from `from_ms` on:
//! the figures are back at the end of the first window on which every SLO is
//! judged and holds, by the same rules as a hold window ([`super::judge`]). A
//! window is at least `window_ms` long, and stretched back (never before
//! `from_ms`) until it holds the samples each SLO needs (p95: 20 successful
//! requests, an error rate ≤ 1 %: 100): at a few loads a second a 5 s window
//! could not judge them, and a longer one still forgets the first failures
//! once enough newer samples came. An SLO that cannot be judged even on the
//! whole span (the sync job's batches, a few per phase) is left out and
//! named; with none left to judge, recovery is not judged.
//!
//! **Resolution.** A window that held says the figure was back somewhere
//! within it, not where; a window too thin to judge says nothing either way.
//! Each SLO came back after the last window on which it failed (at the start
//! of the next one; at the drop if none failed), so the set came back between
//! the latest of those and the end of the first window on which all held.
//! The time to recover is that span's middle, ± half its length: a
//! sandbox that recovers at once, judged on a dashboard-load error rate that
//! needs 20 s of loads, "recovered after 10 s (±10 s)". Bucket-grained.
//!
//! **Per class.** Each request class is measured on its own SLOs and its own
//! samples ([`per_class`]): the sync job's few batches must not hold back
//! the viewers' recovery, which is the headline ([`headline`]), the sync
//! job's listed beside it.

use serde::{Deserialize, Serialize};

use crate::runfolder::{RequestClass, Slo, SloMetric};

use super::collect::{is_viewer_class, ClassAcc, IngestAcc, TimeBuckets, COARSE_SIGFIG};
use super::format::seconds;
use super::judge::{judge, slo_min_samples, ERROR_RATE_FLOOR};
use super::verdict::SloVerdict;

/// The sliding window when the scenario sets none, ms.
pub const DEFAULT_WINDOW_MS: u64 = 5_000;

/// How a recovery measurement came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recovery {
    /// The judged figures were back `after_ms` (± `resolution_ms`) after the drop.
    Recovered {
        /// The middle of the span the figures came back in, ms after the drop.
        after_ms: u64,
        /// Half that span, ms: the figures came back between
        /// `after_ms - resolution_ms` and `after_ms + resolution_ms` (0 in
        /// older summaries, which gave the span's end as `after_ms`).
        #[serde(default)]
        resolution_ms: u64,
    },
    /// Some figure was still past its SLO on every window up to `within_ms`.
    NotRecovered {
        /// How long after the drop was looked at, ms (the phase's hold, or
        /// less when the run ended sooner).
        within_ms: u64,
    },
    /// No SLO could be judged on the span, or there was no span.
    NotJudged {
        /// Why.
        reason: String,
    },
}

impl Recovery {
    /// Recovered somewhere in `lo_ms..=hi_ms` after the drop.
    pub fn between(lo_ms: u64, hi_ms: u64) -> Recovery {
        let (lo, hi) = (lo_ms.min(hi_ms), hi_ms.max(lo_ms));
        Recovery::Recovered {
            after_ms: (lo + hi) / 2,
            resolution_ms: (hi - lo) / 2,
        }
    }

    /// The span recovered in, ms after the drop: `(earliest, latest)`.
    pub fn span(&self) -> Option<(u64, u64)> {
        match self {
            Recovery::Recovered {
                after_ms,
                resolution_ms,
            } => Some((
                after_ms.saturating_sub(*resolution_ms),
                after_ms + resolution_ms,
            )),
            _ => None,
        }
    }

    /// In words: "recovered after 12 s (±2.5 s)", "did not recover within 60 s".
    pub fn sentence(&self) -> String {
        match self {
            Recovery::Recovered {
                after_ms,
                resolution_ms: 0,
            } => format!("recovered after {}", seconds(*after_ms)),
            Recovery::Recovered {
                after_ms,
                resolution_ms,
            } => format!(
                "recovered after {} (±{})",
                seconds(*after_ms),
                seconds(*resolution_ms)
            ),
            Recovery::NotRecovered { within_ms } => {
                format!("did not recover within {}", seconds(*within_ms))
            }
            Recovery::NotJudged { reason } => format!("recovery not judged: {reason}"),
        }
    }

    /// Against a bound of `max_ms`: pass when surely recovered within it (the
    /// span's end at most the bound: a bound below the resolution cannot be
    /// met), not judged when it could not be measured, else fail.
    pub fn verdict_within(&self, max_ms: u64) -> SloVerdict {
        match self {
            Recovery::Recovered { .. } if self.span().is_some_and(|(_, hi)| hi <= max_ms) => {
                SloVerdict::Pass
            }
            Recovery::NotJudged { .. } => SloVerdict::NoData,
            _ => SloVerdict::Fail,
        }
    }
}

/// A measurement with what it left out.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryCheck {
    /// The outcome.
    pub recovery: Recovery,
    /// SLOs not judgeable on the whole span, with why (`ingest batch p95: …`).
    pub left_out: Vec<String>,
}

/// Samples `slo` needs in a window before it is judged (see [`super::judge`]).
fn needed(slo: &Slo) -> u64 {
    match slo.metric {
        SloMetric::P50 => slo_min_samples(0.50),
        SloMetric::P95 => slo_min_samples(0.95),
        SloMetric::P99 => slo_min_samples(0.99),
        SloMetric::ErrorRate => slo_min_samples(1.0 - slo.max.clamp(ERROR_RATE_FLOOR, 1.0)),
        SloMetric::MsPerPoint => 1,
    }
}

/// Samples of `slo`'s kind in bucket `i`: successful requests for a
/// percentile, all requests for an error rate, batches for ms per point.
fn samples(buckets: &TimeBuckets, i: usize, slo: &Slo) -> u64 {
    let Some(b) = buckets.buckets.get(i) else {
        return 0;
    };
    match slo.metric {
        SloMetric::MsPerPoint => b.ingest.batches,
        SloMetric::ErrorRate => b.class(slo.class).map_or(0, |a| a.count),
        _ => b.class(slo.class).map_or(0, |a| a.count - a.failed),
    }
}

/// Judge `slo` on buckets `lo..hi` merged.
fn judge_span(buckets: &TimeBuckets, lo: usize, hi: usize, slo: &Slo) -> SloVerdict {
    let mut acc = ClassAcc::new(COARSE_SIGFIG);
    let mut ingest = IngestAcc::default();
    for b in buckets
        .buckets
        .get(lo..hi.min(buckets.buckets.len()))
        .unwrap_or(&[])
    {
        if let Some(a) = b.class(slo.class) {
            acc.merge(a);
        }
        if slo.class == RequestClass::IngestBatch {
            ingest.merge(&b.ingest);
        }
    }
    judge(slo, &acc, &ingest).verdict
}

/// The window ending at bucket `end` that `slo` is judged on: at least
/// `span` buckets, stretched back (not before `first`) to the samples it
/// needs. Its first bucket, and the SLO's verdict on it.
fn window_at(
    buckets: &TimeBuckets,
    first: usize,
    end: usize,
    span: usize,
    slo: &Slo,
) -> (usize, SloVerdict) {
    let mut lo = end.saturating_sub(span).max(first);
    let mut have: u64 = (lo..end).map(|i| samples(buckets, i, slo)).sum();
    while lo > first && have < needed(slo) {
        lo -= 1;
        have += samples(buckets, lo, slo);
    }
    (lo, judge_span(buckets, lo, end, slo))
}

/// The earliest `slo` can have come back, knowing it held on the window
/// ending at `end`: the start of the first window after the last one that
/// failed (one not judged, too thin, is no evidence either way), else the drop.
fn back_from(buckets: &TimeBuckets, first: usize, end: usize, span: usize, slo: &Slo) -> usize {
    let mut lo = window_at(buckets, first, end, span, slo).0;
    let mut e = end;
    while e > first + span {
        let (l, verdict) = window_at(buckets, first, e - 1, span, slo);
        if verdict == SloVerdict::Fail {
            return lo;
        }
        e -= 1;
        lo = l;
    }
    first
}

/// Time to recover after `from_ms` (ms since the attack started), looking
/// `limit_ms` ahead, with windows at least `window_ms` long, every SLO of
/// `slos` together: see the module.
pub fn time_to_recover(
    buckets: &TimeBuckets,
    slos: &[Slo],
    from_ms: u64,
    limit_ms: u64,
    window_ms: u64,
) -> RecoveryCheck {
    let width = buckets.width_ms.max(1);
    // Whole buckets after the drop, up to the limit or the last data.
    let first = from_ms.div_ceil(width) as usize;
    let last = (((from_ms + limit_ms) / width) as usize).min(buckets.buckets.len());
    let span = window_ms.div_ceil(width).max(1) as usize;
    let ms_at = |end: usize| (end as u64 * width).saturating_sub(from_ms);
    if slos.is_empty() {
        return RecoveryCheck {
            recovery: Recovery::NotJudged {
                reason: "the scenario sets no SLOs".into(),
            },
            left_out: Vec::new(),
        };
    }
    if last < first + span {
        return RecoveryCheck {
            recovery: Recovery::NotJudged {
                reason: format!(
                    "the span after the drop ({}) is shorter than one window ({})",
                    seconds(ms_at(last.max(first))),
                    seconds(span as u64 * width)
                ),
            },
            left_out: Vec::new(),
        };
    }
    let mut judged = Vec::new();
    let mut left_out = Vec::new();
    for slo in slos {
        let have: u64 = (first..last).map(|i| samples(buckets, i, slo)).sum();
        let whole = judge_span(buckets, first, last, slo);
        if have >= needed(slo) || whole == SloVerdict::Fail {
            judged.push(slo);
        } else {
            left_out.push(format!(
                "{} {}: {have} samples in {}, {} needed",
                slo.class.label(),
                slo.metric.label(),
                seconds(ms_at(last)),
                needed(slo)
            ));
        }
    }
    if judged.is_empty() {
        return RecoveryCheck {
            recovery: Recovery::NotJudged {
                reason: format!("no SLO had the samples to judge ({})", left_out.join("; ")),
            },
            left_out,
        };
    }
    for end in first + span..=last {
        if !judged
            .iter()
            .all(|slo| window_at(buckets, first, end, span, slo).1 == SloVerdict::Pass)
        {
            continue;
        }
        // Each SLO came back after its last failed window; the set, after
        // the latest of those.
        let back_from = judged
            .iter()
            .map(|slo| back_from(buckets, first, end, span, slo))
            .max()
            .unwrap_or(first);
        return RecoveryCheck {
            recovery: Recovery::between(ms_at(back_from), ms_at(end)),
            left_out,
        };
    }
    RecoveryCheck {
        recovery: Recovery::NotRecovered {
            within_ms: ms_at(last),
        },
        left_out,
    }
}

/// [`time_to_recover`] per request class, each on its own SLOs and samples,
/// in the classes' order (dashboard load, panel query, …, ingest batch).
pub fn per_class(
    buckets: &TimeBuckets,
    slos: &[Slo],
    from_ms: u64,
    limit_ms: u64,
    window_ms: u64,
) -> Vec<(RequestClass, RecoveryCheck)> {
    let mut classes: Vec<RequestClass> = slos.iter().map(|s| s.class).collect();
    classes.sort();
    classes.dedup();
    classes
        .into_iter()
        .map(|class| {
            let own: Vec<Slo> = slos.iter().filter(|s| s.class == class).cloned().collect();
            (
                class,
                time_to_recover(buckets, &own, from_ms, limit_ms, window_ms),
            )
        })
        .collect()
}

/// The headline of per-class recoveries: the viewers' (every viewer class
/// back: from the latest start of their spans to the latest end), or every
/// class's when no viewer class has SLOs. A class not judged is left to its
/// own line; one not recovered means the whole did not.
pub fn headline(classes: &[(RequestClass, RecoveryCheck)]) -> Recovery {
    let viewers = classes.iter().any(|(c, _)| is_viewer_class(*c));
    let parts: Vec<&Recovery> = classes
        .iter()
        .filter(|(c, _)| !viewers || is_viewer_class(*c))
        .map(|(_, check)| &check.recovery)
        .collect();
    combine(&parts)
}

/// Several figures' recoveries as one: all back (span from the latest start
/// to the latest end), any not recovered, or not judged when none was.
pub fn combine(parts: &[&Recovery]) -> Recovery {
    if let Some(within_ms) = parts
        .iter()
        .filter_map(|r| match r {
            Recovery::NotRecovered { within_ms } => Some(*within_ms),
            _ => None,
        })
        .max()
    {
        return Recovery::NotRecovered { within_ms };
    }
    let spans: Vec<(u64, u64)> = parts.iter().filter_map(|r| r.span()).collect();
    if spans.is_empty() {
        let reasons: Vec<&str> = parts
            .iter()
            .filter_map(|r| match r {
                Recovery::NotJudged { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        return Recovery::NotJudged {
            reason: if reasons.is_empty() {
                "the scenario sets no SLOs".into()
            } else {
                reasons.join("; ")
            },
        };
    }
    let lo = spans.iter().map(|s| s.0).max().unwrap_or_default();
    let hi = spans.iter().map(|s| s.1).max().unwrap_or_default();
    Recovery::between(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::collect::ErrorKind;

    fn slo(class: RequestClass, metric: SloMetric, max: f64) -> Slo {
        Slo { class, metric, max }
    }

    /// `per_s` requests of `class` every second of `0..secs`, each taking
    /// `latency(t_ms)` ms, failing when `fails(t_ms)`.
    fn fill(
        b: &mut TimeBuckets,
        class: RequestClass,
        secs: u64,
        per_s: u64,
        latency: impl Fn(u64) -> u64,
        fails: impl Fn(u64) -> bool,
    ) {
        for s in 0..secs {
            for k in 0..per_s {
                let t = s * 1000 + k * 1000 / per_s;
                let fail = fails(t).then_some(ErrorKind::Shed);
                b.record(t, class, latency(t) * 1000, fail, true);
            }
        }
    }

    #[test]
    fn slow_answers_until_twelve_seconds_after_the_drop_recover_after_seventeen() {
        let mut b = TimeBuckets::for_run_length(100_000);
        // Drop at 30 s; queries take 3 s until 42 s, then 100 ms.
        fill(
            &mut b,
            RequestClass::PanelQuery,
            100,
            40,
            |t| if t < 42_000 { 3000 } else { 100 },
            |_| false,
        );
        let p95 = [slo(RequestClass::PanelQuery, SloMetric::P95, 1000.0)];
        let check = time_to_recover(&b, &p95, 30_000, 60_000, 5_000);
        // The first 5 s window without a slow answer is 42..47 s: back
        // between 12 and 17 s after the drop.
        assert_eq!(check.recovery, Recovery::between(12_000, 17_000));
        assert_eq!(check.recovery.sentence(), "recovered after 14.5 s (±2.5 s)");
        assert!(check.left_out.is_empty());
        // A 10 s window needs 10 s clean: 42..52 s, a coarser resolution.
        let ten = time_to_recover(&b, &p95, 30_000, 60_000, 10_000);
        assert_eq!(ten.recovery, Recovery::between(12_000, 22_000));
        // Within 15 s it did not.
        let short = time_to_recover(&b, &p95, 30_000, 15_000, 5_000);
        assert_eq!(short.recovery, Recovery::NotRecovered { within_ms: 15_000 });
        assert_eq!(short.recovery.sentence(), "did not recover within 15 s");
    }

    #[test]
    fn a_sparse_error_rate_stretches_its_window_back_to_enough_samples() {
        let mut b = TimeBuckets::for_run_length(100_000);
        // 5 loads a second failing until 10 s after the drop at 0: an error
        // rate ≤ 1 % needs 100 requests, 20 s of them; the first 20 s free of
        // failures end at 30 s.
        fill(
            &mut b,
            RequestClass::DashboardLoad,
            90,
            5,
            |_| 200,
            |t| t < 10_000,
        );
        let rate = [slo(RequestClass::DashboardLoad, SloMetric::ErrorRate, 0.01)];
        let check = time_to_recover(&b, &rate, 0, 60_000, 5_000);
        assert_eq!(check.recovery, Recovery::between(10_000, 30_000));
        assert_eq!(check.recovery.sentence(), "recovered after 20 s (±10 s)");
    }

    #[test]
    fn every_judged_slo_must_hold_and_unjudgeable_ones_are_named() {
        let mut b = TimeBuckets::for_run_length(100_000);
        fill(
            &mut b,
            RequestClass::PanelQuery,
            80,
            40,
            |t| if t < 5_000 { 3000 } else { 100 },
            |_| false,
        );
        // Loads fail until 25 s: panel queries are back at 10 s, loads later.
        fill(
            &mut b,
            RequestClass::DashboardLoad,
            80,
            40,
            |_| 500,
            |t| t < 25_000,
        );
        // Two batches only: an ingest p95 (20 needed) cannot be judged.
        b.at(3_000).ingest.record(100, 1000, 50_000, true);
        b.at(9_000).ingest.record(100, 1000, 50_000, true);
        for i in [3_000, 9_000] {
            b.record(i, RequestClass::IngestBatch, 50_000, None, true);
        }
        let slos = [
            slo(RequestClass::PanelQuery, SloMetric::P95, 1000.0),
            slo(RequestClass::DashboardLoad, SloMetric::ErrorRate, 0.01),
            slo(RequestClass::IngestBatch, SloMetric::P95, 2000.0),
        ];
        let check = time_to_recover(&b, &slos, 0, 60_000, 5_000);
        // Loads back from 25 s (their first clean window, 25..30 s); panel
        // queries long before.
        assert_eq!(check.recovery, Recovery::between(25_000, 30_000));
        assert_eq!(check.left_out.len(), 1, "{:?}", check.left_out);
        assert!(
            check.left_out[0].starts_with("ingest batch p95: 2 samples"),
            "{:?}",
            check.left_out
        );
        // Only the sync job's SLO: nothing to judge.
        let none = time_to_recover(&b, &slos[2..], 0, 60_000, 5_000);
        assert!(matches!(none.recovery, Recovery::NotJudged { .. }));
    }

    #[test]
    fn a_run_ending_before_the_limit_is_looked_at_up_to_its_end() {
        let mut b = TimeBuckets::for_run_length(100_000);
        fill(
            &mut b,
            RequestClass::PanelQuery,
            40,
            40,
            |_| 3000,
            |_| false,
        );
        let p95 = [slo(RequestClass::PanelQuery, SloMetric::P95, 1000.0)];
        let check = time_to_recover(&b, &p95, 20_000, 60_000, 5_000);
        assert_eq!(check.recovery, Recovery::NotRecovered { within_ms: 20_000 });
        // Less than one window after the drop: not judged.
        let late = time_to_recover(&b, &p95, 37_000, 60_000, 5_000);
        assert!(matches!(late.recovery, Recovery::NotJudged { .. }));
    }

    #[test]
    fn an_immediate_recovery_takes_one_window() {
        let mut b = TimeBuckets::for_run_length(100_000);
        fill(&mut b, RequestClass::PanelQuery, 60, 40, |_| 50, |_| false);
        let p95 = [slo(RequestClass::PanelQuery, SloMetric::P95, 1000.0)];
        // A drop in the middle of a bucket starts at the next whole one.
        let check = time_to_recover(&b, &p95, 10_500, 30_000, 5_000);
        assert_eq!(check.recovery, Recovery::between(500, 5_500));
        assert_eq!(check.recovery.sentence(), "recovered after 3 s (±2.5 s)");
    }

    /// A staged-like recovery phase on a target back at once: 5 dashboard
    /// loads and 40 panel queries a second, a sync batch every 2.5 s.
    fn back_at_once() -> (TimeBuckets, Vec<Slo>) {
        let mut b = TimeBuckets::for_run_length(100_000);
        fill(
            &mut b,
            RequestClass::DashboardLoad,
            60,
            5,
            |_| 500,
            |_| false,
        );
        fill(&mut b, RequestClass::PanelQuery, 60, 40, |_| 100, |_| false);
        for t in (0..60_000).step_by(2_500) {
            b.at(t).ingest.record(500, 40_000, 300_000, true);
            b.record(t, RequestClass::IngestBatch, 300_000, None, true);
        }
        let slos = vec![
            slo(RequestClass::DashboardLoad, SloMetric::P95, 2000.0),
            slo(RequestClass::DashboardLoad, SloMetric::ErrorRate, 0.01),
            slo(RequestClass::PanelQuery, SloMetric::P95, 1000.0),
            slo(RequestClass::PanelQuery, SloMetric::P99, 2000.0),
            slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.01),
            slo(RequestClass::IngestBatch, SloMetric::P95, 2000.0),
            slo(RequestClass::IngestBatch, SloMetric::ErrorRate, 0.05),
        ];
        (b, slos)
    }

    #[test]
    fn each_class_recovers_on_its_own_samples_and_the_viewers_lead() {
        let (b, slos) = back_at_once();
        // Judged all together, the time to recover is the time the sync
        // job takes to write the 20 batches its p95 needs: the 20th is
        // written at 47.5 s, in the bucket ending at 48 s.
        let together = time_to_recover(&b, &slos, 0, 60_000, 5_000);
        assert_eq!(together.recovery.span().unwrap().1, 48_000);
        let classes = per_class(&b, &slos, 0, 60_000, 5_000);
        let of = |c: RequestClass| {
            classes
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, check)| check.recovery.clone())
                .unwrap()
        };
        assert_eq!(
            classes.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
            [
                RequestClass::DashboardLoad,
                RequestClass::PanelQuery,
                RequestClass::IngestBatch
            ]
        );
        // 100 loads (the 1 % error rate's samples) take 20 s.
        assert_eq!(
            of(RequestClass::DashboardLoad),
            Recovery::between(0, 20_000)
        );
        // 100 panel queries (p99, 1 %) take 2.5 s: one 5 s window.
        assert_eq!(of(RequestClass::PanelQuery), Recovery::between(0, 5_000));
        assert_eq!(of(RequestClass::IngestBatch), Recovery::between(0, 48_000));
        let viewers = headline(&classes);
        assert_eq!(viewers.sentence(), "recovered after 10 s (±10 s)");
        let (_, latest) = viewers.span().unwrap();
        assert!(latest <= 20_000, "{viewers:?}");
    }

    #[test]
    fn a_class_still_failing_holds_the_headline_and_one_not_judged_does_not() {
        let (mut b, mut slos) = back_at_once();
        // Panel queries slow until 8 s after the drop.
        fill(&mut b, RequestClass::PanelQuery, 8, 40, |_| 3000, |_| false);
        let classes = per_class(&b, &slos, 0, 60_000, 5_000);
        assert_eq!(
            classes[1].1.recovery,
            Recovery::between(8_000, 13_000),
            "panel queries back from 8 s"
        );
        assert_eq!(headline(&classes), Recovery::between(8_000, 20_000));
        // A variable query SLO with no sample: its class is not judged, the
        // headline stands on the others.
        slos.push(slo(RequestClass::VariableQuery, SloMetric::P95, 1000.0));
        let classes = per_class(&b, &slos, 0, 60_000, 5_000);
        assert!(matches!(
            classes
                .iter()
                .find(|(c, _)| *c == RequestClass::VariableQuery)
                .unwrap()
                .1
                .recovery,
            Recovery::NotJudged { .. }
        ));
        assert_eq!(headline(&classes), Recovery::between(8_000, 20_000));
        // Loads failing throughout: the viewers did not recover.
        fill(
            &mut b,
            RequestClass::DashboardLoad,
            60,
            5,
            |_| 500,
            |_| true,
        );
        let classes = per_class(&b, &slos, 0, 60_000, 5_000);
        assert_eq!(
            headline(&classes),
            Recovery::NotRecovered { within_ms: 60_000 }
        );
    }

    #[test]
    fn a_bound_is_met_only_by_the_whole_span() {
        let r = Recovery::between(0, 20_000);
        assert_eq!(r.verdict_within(20_000), SloVerdict::Pass);
        assert_eq!(r.verdict_within(15_000), SloVerdict::Fail);
        assert_eq!(
            Recovery::between(16_000, 20_000).verdict_within(15_000),
            SloVerdict::Fail
        );
        assert_eq!(
            Recovery::NotRecovered { within_ms: 60_000 }.verdict_within(60_000),
            SloVerdict::Fail
        );
    }
}
