//! Whether an SLO can be judged on a window, and its verdict.
//!
//! A verdict needs data. An SLO percentile `q` is judged when at least one
//! successful sample is expected beyond it, `1 / (1 − q)` of them (p50 needs 2,
//! p95 20, p99 100): with fewer, "p99" is only the slowest of a handful. An
//! error rate bounded by `e` is judged on at least `1 / e` requests (one
//! failure is then at most the bound), with `e` taken as at least
//! [`ERROR_RATE_FLOOR`] so that strict bounds stay judgeable (at most 100
//! requests). The regression gate asks five times more ([`regress::min_samples`]):
//! it compares two distributions, not one figure with a bound. Below that, the
//! SLO is *not judged* and says why (which class and figure, how many samples,
//! how many needed) — unless the samples there already decide it: when more
//! samples lie beyond the bound than the needed sample could hold (more than
//! one for a percentile, more failures than `e × needed` for an error rate), it
//! fails on its own evidence. Failed requests always count toward the error
//! rate, latencies or not, and a percentile fails when more than `1 − q` of
//! the requests failed (its promise is about all of them, not the survivors).
//!
//! A window passes only when every SLO on it was judged and held: a failure
//! beats *not judged*, which beats a pass.
//!
//! [`regress::min_samples`]: super::regress::min_samples

use crate::runfolder::{RequestClass, Slo, SloMetric};

use super::collect::{ClassAcc, IngestAcc};
use super::verdict::SloVerdict;

/// The smallest error-rate bound the sample rule uses: a bound of 0.1 % still
/// needs only the 100 requests of a 1 % bound.
pub const ERROR_RATE_FLOOR: f64 = 0.01;

/// An SLO on one window: what was observed, the verdict, and why when it is
/// not a plain pass or fail.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The observed figure, when there was any sample (shown even when not judged).
    pub observed: Option<f64>,
    /// Pass, fail, or not judged ([`SloVerdict::NoData`]).
    pub verdict: SloVerdict,
    /// Why it was not judged, or judged on fewer samples than the rule asks.
    pub note: Option<String>,
}

/// Samples an SLO needs before it is judged: one expected beyond the
/// percentile `q`, or one failure at most the error-rate bound (`q = 1 − e`).
pub fn slo_min_samples(q: f64) -> u64 {
    // 1 / (1 − 0.99) is 100.000…01 in floating point: round away the noise first.
    (((1.0 / (1.0 - q)) * 1e6).round() / 1e6).ceil().max(1.0) as u64
}

/// Samples `slo` needs on a window before it is judged on them alone: successful
/// requests for a percentile, requests for an error rate, one batch with points
/// for `ms_per_point`. The sample planner (`crate::sampling`) asks the same.
pub fn samples_needed(slo: &Slo) -> u64 {
    match slo.metric {
        SloMetric::ErrorRate => error_rate_needed(slo.max),
        SloMetric::MsPerPoint => 1,
        metric => slo_min_samples(quantile(metric).unwrap_or(0.5)),
    }
}

fn error_rate_needed(max: f64) -> u64 {
    slo_min_samples(1.0 - max.clamp(ERROR_RATE_FLOOR, 1.0))
}

fn quantile(metric: SloMetric) -> Option<f64> {
    match metric {
        SloMetric::P50 => Some(0.50),
        SloMetric::P95 => Some(0.95),
        SloMetric::P99 => Some(0.99),
        _ => None,
    }
}

fn not_judged(observed: Option<f64>, note: String) -> Judgement {
    Judgement {
        observed,
        verdict: SloVerdict::NoData,
        note: Some(note),
    }
}

fn plain(observed: f64, max: f64) -> Judgement {
    Judgement {
        observed: Some(observed),
        verdict: if observed <= max {
            SloVerdict::Pass
        } else {
            SloVerdict::Fail
        },
        note: None,
    }
}

fn percent(v: f64) -> String {
    super::format::percent(Some(v))
}

/// Judge `slo` on a window whose requests of the SLO's class are `acc` and
/// whose batch writes are `ingest`.
pub fn judge(slo: &Slo, acc: &ClassAcc, ingest: &IngestAcc) -> Judgement {
    judge_with(slo, acc, ingest, true)
}

/// [`judge`], with failed requests counted against a percentile or not. An
/// SLO counts them (its promise is about every request); the stress ladder's
/// `stop_when` judges a percentile term as its author wrote it, on the
/// successful requests alone, unless the scenario asks for more
/// (`[stress] stop_on_failure_share`).
pub fn judge_with(
    slo: &Slo,
    acc: &ClassAcc,
    ingest: &IngestAcc,
    failures_count: bool,
) -> Judgement {
    let label = slo.class.label();
    let key = slo.metric.key();
    match slo.metric {
        SloMetric::ErrorRate => error_rate(slo, acc),
        SloMetric::MsPerPoint if slo.class == RequestClass::IngestBatch => {
            match ingest.ms_per_point() {
                Some(v) => plain(v, slo.max),
                None => not_judged(
                    None,
                    "no points written in this window (ingest.csv)".to_string(),
                ),
            }
        }
        SloMetric::MsPerPoint => not_judged(
            None,
            "ms per point applies to ingest batches only".to_string(),
        ),
        metric => {
            let q = quantile(metric).unwrap_or(0.5);
            let needed = samples_needed(slo);
            if acc.count > 0 && acc.hist.is_empty() && acc.failed_hist.is_empty() {
                return not_judged(
                    None,
                    "no latencies for this window (no request log)".to_string(),
                );
            }
            let n = acc.hist.len();
            let observed = (n > 0).then(|| acc.hist.value_at_quantile(q) as f64 / 1000.0);
            let failed = if acc.failed > 0 {
                format!(" ({} failed)", acc.failed)
            } else {
                String::new()
            };
            // A percentile promises that share q of the requests answered within
            // the bound: when more than 1 − q of them failed, it cannot hold,
            // whatever the successful ones took.
            let total = n + acc.failed;
            if failures_count && total > 0 && acc.failed as f64 / total as f64 > 1.0 - q {
                return Judgement {
                    observed,
                    verdict: SloVerdict::Fail,
                    note: Some(format!(
                        "{} of {total} {label} requests failed ({}): more than the {} a {key} leaves beyond its bound",
                        acc.failed,
                        percent(acc.failed as f64 / total as f64),
                        percent(1.0 - q)
                    )),
                };
            }
            if n >= needed {
                return plain(observed.unwrap_or_default(), slo.max);
            }
            let bound_us = (slo.max * 1000.0).max(0.0) as u64;
            let beyond = n - acc.hist.count_between(0, bound_us).min(n);
            if beyond as f64 > (1.0 - q) * needed as f64 {
                return Judgement {
                    observed,
                    verdict: SloVerdict::Fail,
                    note: Some(format!(
                        "{n} successful {label} requests, {key} needs {needed}, but {beyond} are already past the bound{failed}"
                    )),
                };
            }
            not_judged(
                observed,
                format!("{n} successful {label} requests, {key} needs {needed}{failed}"),
            )
        }
    }
}

fn error_rate(slo: &Slo, acc: &ClassAcc) -> Judgement {
    let label = slo.class.label();
    let needed = error_rate_needed(slo.max);
    let (n, failed) = (acc.count, acc.failed);
    let observed = (n > 0).then(|| failed as f64 / n as f64);
    if n >= needed {
        return plain(observed.unwrap_or_default(), slo.max);
    }
    if failed as f64 > slo.max * needed as f64 {
        return Judgement {
            observed,
            verdict: SloVerdict::Fail,
            note: Some(format!(
                "{n} {label} requests, an error rate ≤ {} needs {needed}, but {failed} failed already",
                percent(slo.max)
            )),
        };
    }
    not_judged(
        observed,
        format!(
            "{n} {label} requests, an error rate ≤ {} needs {needed}",
            percent(slo.max)
        ),
    )
}

/// A window's (or a run's) verdict from its SLO verdicts: a failure beats
/// *not judged*, which beats a pass; nothing to judge is not judged.
pub fn combine(verdicts: impl IntoIterator<Item = SloVerdict>) -> SloVerdict {
    let mut any = false;
    let mut unjudged = false;
    for v in verdicts {
        match v {
            SloVerdict::Fail => return SloVerdict::Fail,
            SloVerdict::NoData => unjudged = true,
            SloVerdict::Pass => {}
        }
        any = true;
    }
    if any && !unjudged {
        SloVerdict::Pass
    } else {
        SloVerdict::NoData
    }
}
