//! Time to recover: from a drop in load (the `[recovery]` phase) or the end
//! of a fault, how long until every judged figure is back within its SLO.
//!
//! The measurement slides a window over the report's time buckets
//! ([`TimeBuckets`], 1 s wide for runs up to 10 minutes), from `from_ms` on:
//! the system is back at the end of the first window on which every SLO is
//! judged and holds, by the same rules as a hold window ([`super::judge`]). A
//! window is at least `window_ms` long, and stretched back (never before
//! `from_ms`) until it holds the samples each SLO needs (p95: 20 successful
//! requests, an error rate ≤ 1 %: 100): at a few loads a second a 5 s window
//! could not judge them, and a longer one still forgets the first failures
//! once enough newer samples came. An SLO that cannot be judged even on the
//! whole span (the sync job's batches, a few per phase) is left out and
//! named; with none left to judge, recovery is not judged.
//!
//! Times are bucket-grained: "recovered after 17 s" means the first window
//! that held ended 17 s (± one bucket) after the drop.

use serde::{Deserialize, Serialize};

use crate::runfolder::{RequestClass, Slo, SloMetric};

use super::collect::{ClassAcc, IngestAcc, TimeBuckets, COARSE_SIGFIG};
use super::judge::{judge, slo_min_samples, ERROR_RATE_FLOOR};
use super::summary::SloVerdict;

/// The sliding window when the scenario sets none, ms.
pub const DEFAULT_WINDOW_MS: u64 = 5_000;

/// How a recovery measurement came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Recovery {
    /// Every judged figure was back within its SLO `after_ms` after the drop.
    Recovered {
        /// From the drop to the end of the first window that held, ms.
        after_ms: u64,
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
    /// In words: "recovered after 12 s", "did not recover within 60 s".
    pub fn sentence(&self) -> String {
        match self {
            Recovery::Recovered { after_ms } => format!("recovered after {}", seconds(*after_ms)),
            Recovery::NotRecovered { within_ms } => {
                format!("did not recover within {}", seconds(*within_ms))
            }
            Recovery::NotJudged { reason } => format!("recovery not judged: {reason}"),
        }
    }

    /// Against a bound of `max_ms`: pass when recovered within it, not judged
    /// when it could not be measured, else fail (slower, or not at all).
    pub fn verdict_within(&self, max_ms: u64) -> SloVerdict {
        match self {
            Recovery::Recovered { after_ms } if *after_ms <= max_ms => SloVerdict::Pass,
            Recovery::NotJudged { .. } => SloVerdict::NoData,
            _ => SloVerdict::Fail,
        }
    }
}

/// `ms` as people read it: `17 s`, `5.5 s`.
pub fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
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

/// Time to recover after `from_ms` (ms since the attack started), looking
/// `limit_ms` ahead, with windows at least `window_ms` long: see the module.
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
                slo.metric.key(),
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
        let back = judged.iter().all(|slo| {
            // The shortest window ending here, at least `span` long, with the
            // samples the SLO needs (or back to the drop without them).
            let mut lo = end - span;
            let mut have: u64 = (lo..end).map(|i| samples(buckets, i, slo)).sum();
            while lo > first && have < needed(slo) {
                lo -= 1;
                have += samples(buckets, lo, slo);
            }
            judge_span(buckets, lo, end, slo) == SloVerdict::Pass
        });
        if back {
            return RecoveryCheck {
                recovery: Recovery::Recovered {
                    after_ms: ms_at(end),
                },
                left_out,
            };
        }
    }
    RecoveryCheck {
        recovery: Recovery::NotRecovered {
            within_ms: ms_at(last),
        },
        left_out,
    }
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
        // The first 5 s window without a slow answer is 42..47 s.
        assert_eq!(check.recovery, Recovery::Recovered { after_ms: 17_000 });
        assert!(check.left_out.is_empty());
        // A 10 s window needs 10 s clean: 42..52 s.
        let ten = time_to_recover(&b, &p95, 30_000, 60_000, 10_000);
        assert_eq!(ten.recovery, Recovery::Recovered { after_ms: 22_000 });
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
        assert_eq!(check.recovery, Recovery::Recovered { after_ms: 30_000 });
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
        assert_eq!(check.recovery, Recovery::Recovered { after_ms: 30_000 });
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
        assert_eq!(check.recovery, Recovery::Recovered { after_ms: 5_500 });
    }
}
