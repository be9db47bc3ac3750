//! Latency percentiles of a class's requests, from its histogram and exact sums.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::collect::{ClassAcc, Moments};

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// 50th percentile.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    #[serde(default)]
    pub mean: f64,
    /// Population standard deviation.
    #[serde(default)]
    pub stddev: f64,
}

/// Latency of the successful requests of `acc`, ms; `None` when none.
/// SLOs, the knee and the charts judge this one (see [`ClassAcc`]).
pub fn latency(acc: &ClassAcc) -> Option<Latency> {
    latency_of(&acc.hist, &acc.ok_moments)
}

/// Latency of the failed requests of `acc`, ms; `None` when none failed.
pub fn failed_latency(acc: &ClassAcc) -> Option<Latency> {
    latency_of(&acc.failed_hist, &acc.failed_moments)
}

fn latency_of(h: &Histogram<u64>, m: &Moments) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    // Exact sums when every value went through them; Goose's aggregates
    // (report.json fallback) fill the histogram only.
    let (mean, stddev) = match (m.n == h.len(), m.mean_us(), m.stddev_us()) {
        (true, Some(mean), Some(sd)) => (mean, sd),
        _ => (h.mean(), h.stdev()),
    };
    Some(Latency {
        p50: ms(h.value_at_quantile(0.50)),
        p90: ms(h.value_at_quantile(0.90)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
        mean: mean / 1000.0,
        stddev: stddev / 1000.0,
    })
}
