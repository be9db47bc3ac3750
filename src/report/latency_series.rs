//! Latency over time per class, in buckets wide enough for the percentiles
//! drawn from them.
//!
//! The collector's time buckets are 1 s wide (wider on long runs); a class
//! with a few requests per second (dashboard loads) would give buckets of a
//! handful of samples, where p90, p95, p99 and the maximum are all the same
//! one request. Per class, buckets are merged (×1, 2, 5, 10, 20, 50, …) until
//! most of the non-empty ones hold [`TARGET_SAMPLES`] requests, keeping at
//! least [`MIN_BUCKETS`] over the run; and each bucket gives only the
//! percentiles it holds enough samples for ([`needed`]), the same rule the
//! regression gate applies: five samples expected beyond the percentile.
//! The judged percentiles are drawn per window from the window's own
//! histogram (see `charts`), so buckets need only hold enough for p90: they
//! stay as fine as that allows, and p95 or p99 show per bucket where the
//! class is dense enough.

use serde::{Deserialize, Serialize};

use crate::runfolder::RequestClass;

use super::collect::{ClassAcc, TimeBuckets};
use super::latency::{latency, Latency};

/// The classes whose latency is charted over time.
pub const LATENCY_CLASSES: [RequestClass; 3] = [
    RequestClass::DashboardLoad,
    RequestClass::PanelQuery,
    RequestClass::IngestBatch,
];

/// Samples a bucket should hold: enough for p90 (five beyond it).
pub const TARGET_SAMPLES: u64 = 50;
/// Share of non-empty buckets that should reach [`TARGET_SAMPLES`].
const TARGET_SHARE: f64 = 0.8;
/// Buckets are never merged below this many over the run.
pub const MIN_BUCKETS: u64 = 20;

/// Latency over time of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySeries {
    /// The class.
    pub class: RequestClass,
    /// Bucket width, ms.
    pub bucket_ms: u64,
    /// Buckets from time 0; empty ones included (count 0, no latency).
    pub buckets: Vec<LatencyBucket>,
}

/// One bucket of a [`LatencySeries`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// Requests with a latency in it.
    pub count: u64,
    /// Percentiles and maximum, when it holds any request.
    pub latency: Option<Latency>,
}

/// Samples a bucket needs to draw the percentile `p` (in %): five expected
/// beyond it; the maximum (`p` = 100) needs one.
pub fn needed(p: f64) -> u64 {
    if p >= 100.0 {
        1
    } else {
        (5.0 / (1.0 - p / 100.0)).round() as u64
    }
}

/// The widening factors tried, in order: 1, 2, 5, 10, 20, 50, …
fn factors() -> impl Iterator<Item = u64> {
    (0..12u32).flat_map(|e| [1, 2, 5].map(|m| m * 10u64.pow(e)))
}

/// Counts per merged bucket when `k` collector buckets are merged.
fn merged_counts(counts: &[u64], k: usize) -> Vec<u64> {
    counts.chunks(k).map(|c| c.iter().sum()).collect()
}

/// The widening factor for one class's per-bucket counts.
pub fn factor(counts: &[u64]) -> usize {
    let limit = (counts.len() as u64 / MIN_BUCKETS).max(1);
    let mut chosen = 1;
    // The ladder below the limit, then the limit itself.
    let tries = factors().take_while(|k| *k < limit).chain([limit]);
    for k in tries {
        chosen = k;
        let merged = merged_counts(counts, k as usize);
        let busy: Vec<u64> = merged.into_iter().filter(|n| *n > 0).collect();
        let full = busy.iter().filter(|n| **n >= TARGET_SAMPLES).count();
        if busy.is_empty() || full as f64 >= TARGET_SHARE * busy.len() as f64 {
            break;
        }
    }
    chosen as usize
}

/// The latency series of each of `classes` present in `buckets`.
pub fn build(buckets: &TimeBuckets, classes: &[RequestClass]) -> Vec<LatencySeries> {
    let mut out = Vec::new();
    for class in classes {
        let accs: Vec<Option<&ClassAcc>> =
            buckets.buckets.iter().map(|b| b.class(*class)).collect();
        let counts: Vec<u64> = accs.iter().map(|a| a.map_or(0, |a| a.hist.len())).collect();
        if counts.iter().all(|n| *n == 0) {
            continue;
        }
        let k = factor(&counts);
        let merged = accs
            .chunks(k)
            .map(|chunk| {
                let mut acc: Option<ClassAcc> = None;
                for a in chunk.iter().flatten() {
                    match &mut acc {
                        None => acc = Some((*a).clone()),
                        Some(m) => m.merge(a),
                    }
                }
                LatencyBucket {
                    count: acc.as_ref().map_or(0, |a| a.hist.len()),
                    latency: acc.as_ref().and_then(latency),
                }
            })
            .collect();
        out.push(LatencySeries {
            class: *class,
            bucket_ms: buckets.width_ms * k as u64,
            buckets: merged,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_need_five_samples_beyond_them() {
        assert_eq!(needed(50.0), 10);
        assert_eq!(needed(90.0), 50);
        assert_eq!(needed(95.0), 100);
        assert_eq!(needed(99.0), 500);
        assert_eq!(needed(100.0), 1);
    }

    #[test]
    fn sparse_classes_get_wider_buckets_dense_ones_keep_theirs() {
        // 5 dashboard loads a second over 600 s: 1 s buckets hold 5.
        assert_eq!(factor(&[5u64; 600]), 10, "smallest with ≥ 50 per bucket");
        // 1 a second: 50 per bucket would leave fewer than MIN_BUCKETS.
        assert_eq!(factor(&[1u64; 600]), 30);
        // Idle stretches do not count against the share.
        let mut gaps = vec![0u64; 600];
        gaps[300..].fill(10);
        assert_eq!(factor(&gaps), 5);
        // 200 panel queries a second: 1 s is enough.
        assert_eq!(factor(&vec![200u64; 600]), 1);
        // Never fewer than MIN_BUCKETS buckets over the run.
        assert_eq!(factor(&[1u64; 100]), 5);
    }
}
