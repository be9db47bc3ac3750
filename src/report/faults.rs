//! Fault windows in the report: what ran (`faults.json`, see `crate::faults`),
//! with the requests and failures in each window (from the run's time series) and
//! the sync job's backlog built in it and the time to drain it after.
//!
//! Each window's `start_ms`/`end_ms` is on the request log's clock, the input
//! `report::recovery::time_to_recover` takes to measure recovery after a fault.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::collect::ErrorKind;
use super::series::Series;
use super::verdict::SloVerdict;
use crate::error::Result;
use crate::faults::FaultRecord;
use crate::runfolder::RequestClass;

/// One fault window as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// 1-based, in scenario order.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// `latency`, `error`, `refuse`, `stall` or `command`.
    pub kind: String,
    /// What it does.
    pub describe: String,
    /// The window as written.
    pub window: String,
    /// When it was on, ms since the attack started (None: the run ended before it).
    pub start_ms: Option<u64>,
    /// When it went off.
    pub end_ms: Option<u64>,
    /// Requests a sandbox fault hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits: Option<u64>,
    /// Requests that ended in the window (whole time buckets overlapping it).
    pub requests: u64,
    /// Of which failed.
    pub failed: u64,
    /// Failures in the window by kind (as the errors chart labels them), most first.
    pub failures_by_kind: Vec<(String, u64)>,
    /// A command fault's commands: `ok`, or why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<String>,
    /// The time to recover after the window ended (as after the `[recovery]`
    /// drop): looked at up to the next fault's start or the run's end. The
    /// viewers' (every viewer class back), or every class's when no viewer
    /// class has SLOs; `recover_within` bounds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<super::recovery::Recovery>,
    /// Each class's own recovery, on its own SLOs and samples (the ingest
    /// job's beside the viewers'), when the SLOs name more than one class.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_by_class: Vec<ClassRecovered>,
    /// The scenario's `recover_within`, ms: the time to recover allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_within_ms: Option<u64>,
    /// The recovery against `recover_within`: pass, fail (missed, or not
    /// recovered before the next fault or the run's end) or not judged.
    /// None without a bound, or when the window never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<SloVerdict>,
}

/// One request class's recovery after a fault window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRecovered {
    /// The class.
    pub class: RequestClass,
    /// Its recovery.
    pub recovery: super::recovery::Recovery,
}

impl FaultWindow {
    /// The failed share of requests in the window.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failed as f64 / self.requests as f64)
    }
}

/// The fault windows of the run in `run_dir`, counted over `series`.
pub fn read(run_dir: &Path, series: &Series) -> Result<Vec<FaultWindow>> {
    Ok(crate::faults::load(run_dir)?
        .iter()
        .map(|r| window(r, series))
        .collect())
}

fn window(r: &FaultRecord, series: &Series) -> FaultWindow {
    let mut out = FaultWindow {
        index: r.index,
        name: r.name.clone(),
        kind: r.kind.clone(),
        describe: r.describe.clone(),
        window: r.window.clone(),
        start_ms: r.start_ms,
        end_ms: r.end_ms,
        hits: r.hits,
        requests: 0,
        failed: 0,
        failures_by_kind: Vec::new(),
        commands: None,
        recovery: None,
        recovery_by_class: Vec::new(),
        recover_within_ms: r.recover_within_ms,
        verdict: None,
    };
    if r.kind == "command" {
        let said = |c: &Option<crate::faults::CommandRun>, what: &str| match c {
            None => format!("{what} did not run"),
            Some(c) if c.ok => format!("{what} ok"),
            Some(c) => format!(
                "{what} failed: {} ({})",
                c.error.as_deref().unwrap_or("failed"),
                c.log
            ),
        };
        out.commands = Some(format!(
            "{}; {}",
            said(&r.start_command, "start"),
            said(&r.stop_command, "stop")
        ));
    }
    let Some((start, end)) = r.ran() else {
        return out;
    };
    let width = series.bucket_ms.max(1);
    let mut kinds = vec![0u64; ErrorKind::ALL.len()];
    for (i, b) in series.buckets.iter().enumerate() {
        let (b0, b1) = (i as u64 * width, (i as u64 + 1) * width);
        if b1 <= start || b0 >= end {
            continue;
        }
        out.requests += b.ok + b.failed;
        out.failed += b.failed;
        for (k, n) in kinds.iter_mut().zip(&b.errors) {
            *k += n;
        }
    }
    let mut by_kind: Vec<(String, u64)> = ErrorKind::ALL
        .iter()
        .zip(kinds)
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.label().to_string(), n))
        .collect();
    by_kind.sort_by_key(|k| std::cmp::Reverse(k.1));
    out.failures_by_kind = by_kind;
    out
}

/// Measure the time to recover after each fault window that ran, per request
/// class on its own SLOs and samples (as after the `[recovery]` drop): each
/// class's judged SLOs back within their bounds over a sliding window of
/// `window_ms`, looked at until the next fault starts (another fault's
/// failures are not a slow recovery) or up to `run_ms`. The headline, which
/// `recover_within` bounds, is the viewers'; a slower class (the ingest job
/// needing its batches) is listed beside it, not folded into it.
pub fn measure_recovery(
    faults: &mut [FaultWindow],
    buckets: &super::collect::TimeBuckets,
    slos: &[crate::runfolder::Slo],
    window_ms: u64,
    run_ms: u64,
) {
    let starts: Vec<u64> = faults.iter().filter_map(|f| f.start_ms).collect();
    for f in faults.iter_mut() {
        let Some(end) = f.end_ms.filter(|_| f.start_ms.is_some()) else {
            continue;
        };
        let next = starts.iter().copied().filter(|&s| s >= end).min();
        let until = next.unwrap_or(run_ms).max(end);
        let checks = super::recovery::per_class(buckets, slos, end, until - end, window_ms);
        let recovery = match checks.as_slice() {
            [] => {
                super::recovery::time_to_recover(buckets, slos, end, until - end, window_ms)
                    .recovery
            }
            _ => super::recovery::headline(&checks),
        };
        f.verdict = f.recover_within_ms.map(|max| recovery.verdict_within(max));
        f.recovery = Some(recovery);
        f.recovery_by_class = if checks.len() > 1 {
            checks
                .into_iter()
                .map(|(class, check)| ClassRecovered {
                    class,
                    recovery: check.recovery,
                })
                .collect()
        } else {
            Vec::new()
        };
    }
}

impl FaultWindow {
    /// What came after the window, in words: "recovered after 8 s (allowed: 30 s)".
    pub fn sentence(&self) -> String {
        let Some(r) = &self.recovery else {
            return "—".into();
        };
        let viewers = self
            .recovery_by_class
            .iter()
            .any(|k| super::collect::is_viewer_class(k.class));
        let mut said = if viewers {
            format!("viewers {}", r.sentence())
        } else {
            r.sentence()
        };
        if let Some(max) = self.recover_within_ms {
            said.push_str(&format!(" (allowed: {})", super::format::seconds(max)));
        }
        let class = |k: &ClassRecovered| format!("{} {}", k.class.label(), k.recovery.sentence());
        let (own, others): (Vec<_>, Vec<_>) = self
            .recovery_by_class
            .iter()
            .partition(|k| !viewers || super::collect::is_viewer_class(k.class));
        if !own.is_empty() {
            let own: Vec<String> = own.into_iter().map(class).collect();
            said.push_str(&format!(" ({})", own.join(", ")));
        }
        for other in others {
            said.push_str(&format!("; {}", class(other)));
        }
        said
    }

    /// One console line: "fault 1 query 503s (at 2s for 2s): 120 requests, 48.3 % failed; recovered after 3 s".
    pub fn line(&self) -> String {
        let verdict = match self.verdict {
            Some(SloVerdict::Fail) => "FAIL: ",
            Some(SloVerdict::Pass) => "pass: ",
            Some(SloVerdict::NoData) => "NOT JUDGED: ",
            None => "",
        };
        if self.start_ms.is_none() {
            return format!("{} ({}): did not run", self.name, self.window);
        }
        format!(
            "{verdict}{} ({}): {} requests, {} failed; {}",
            self.name,
            self.window,
            self.requests,
            self.error_rate()
                .map_or("—".into(), |r| format!("{:.1} %", r * 100.0)),
            self.sentence()
        )
    }
}

/// The windows that ran, `(start s, end s, label)`, for the charts' shading.
pub fn bands(faults: &[FaultWindow]) -> Vec<(f64, f64, String)> {
    faults
        .iter()
        .filter_map(|f| {
            let (s, e) = (f.start_ms?, f.end_ms?);
            Some((
                s as f64 / 1000.0,
                e as f64 / 1000.0,
                format!("fault {}", f.index),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::SeriesBucket;

    fn bucket(ok: u64, failed: u64) -> SeriesBucket {
        let mut errors = vec![0; ErrorKind::ALL.len()];
        errors[0] = failed;
        SeriesBucket {
            ok,
            failed,
            errors,
            points: 0,
            classes: Vec::new(),
        }
    }

    #[test]
    fn a_window_counts_the_buckets_it_overlaps_only() {
        let series = Series {
            bucket_ms: 1000,
            buckets: vec![bucket(10, 0), bucket(5, 5), bucket(2, 8), bucket(10, 0)],
            goose_users: Vec::new(),
        };
        let record = FaultRecord {
            index: 2,
            name: "n".into(),
            kind: "error".into(),
            describe: "HTTP 503 on queries".into(),
            window: "at 1s for 2s".into(),
            planned_start_ms: 1000,
            planned_end_ms: 3000,
            start_ms: Some(1010),
            end_ms: Some(2990),
            hits: Some(13),
            start_command: None,
            stop_command: None,
            recover_within_ms: None,
        };
        let w = window(&record, &series);
        assert_eq!((w.requests, w.failed), (20, 13));
        assert_eq!(w.failures_by_kind[0].1, 13);
        assert_eq!(w.error_rate(), Some(0.65));
        let not_run = FaultRecord {
            start_ms: None,
            end_ms: None,
            ..record
        };
        let w = window(&not_run, &series);
        assert_eq!((w.requests, w.failed), (0, 0));
        assert!(bands(&[w]).is_empty());
    }

    fn fault(index: usize, start_ms: u64, end_ms: u64) -> FaultWindow {
        FaultWindow {
            index,
            name: format!("f{index}"),
            kind: "error".into(),
            describe: String::new(),
            window: String::new(),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
            hits: None,
            requests: 0,
            failed: 0,
            failures_by_kind: Vec::new(),
            commands: None,
            recovery: None,
            recovery_by_class: Vec::new(),
            recover_within_ms: None,
            verdict: None,
        }
    }

    #[test]
    fn recovery_is_measured_after_each_fault_up_to_the_next_one() {
        use crate::report::collect::TimeBuckets;
        use crate::report::recovery::Recovery;
        use crate::runfolder::{RequestClass, Slo, SloMetric};
        // 40 queries a second for 100 s; slow (3 s) during 10..20 s and until
        // 23 s after it, and again from 50 s to the end.
        let mut b = TimeBuckets::for_run_length(100_000);
        for t in (0..100_000u64).step_by(25) {
            let slow = (10_000..23_000).contains(&t) || t >= 50_000;
            let ms = if slow { 3000 } else { 100 };
            b.record(t, RequestClass::PanelQuery, ms * 1000, None, true);
        }
        let p95 = [Slo {
            class: RequestClass::PanelQuery,
            metric: SloMetric::P95,
            max: 1000.0,
        }];
        let mut faults = vec![fault(1, 10_000, 20_000), fault(2, 50_000, 60_000)];
        let mut never = fault(3, 0, 0);
        never.start_ms = None;
        never.end_ms = None;
        faults.push(never);
        measure_recovery(&mut faults, &b, &p95, 5_000, 100_000);
        // Clean from 23 s: the first clean 5 s window is 23..28 s, 3..8 s after.
        assert_eq!(faults[0].recovery, Some(Recovery::between(3_000, 8_000)));
        // Slow to the run's end: not within the 40 s left.
        assert_eq!(
            faults[1].recovery,
            Some(Recovery::NotRecovered { within_ms: 40_000 })
        );
        assert_eq!(faults[2].recovery, None, "a fault that never ran");
    }

    /// The viewers back at once while the ingest job's batches come slowly:
    /// the headline and `recover_within` are the viewers'; ingest's own
    /// recovery is listed beside it, not folded into it.
    #[test]
    fn a_faults_recovery_is_the_viewers_with_each_class_beside_it() {
        use crate::report::collect::TimeBuckets;
        use crate::report::recovery::Recovery;
        use crate::runfolder::{RequestClass, Slo, SloMetric};
        let mut b = TimeBuckets::for_run_length(120_000);
        // Fault 10..20 s. Panel queries: 40 a second, failing in the window only.
        for t in (0..120_000u64).step_by(25) {
            let failed = (10_000..20_000).contains(&t);
            let fail = failed.then_some(ErrorKind::Server);
            b.record(t, RequestClass::PanelQuery, 50_000, fail, true);
        }
        // Ingest: one batch every 2 s, failing until 40 s.
        for t in (0..120_000u64).step_by(2_000) {
            let fail = (10_000..40_000).contains(&t).then_some(ErrorKind::Server);
            b.record(t, RequestClass::IngestBatch, 80_000, fail, true);
        }
        let slos = [
            Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::ErrorRate,
                max: 0.05,
            },
            Slo {
                class: RequestClass::IngestBatch,
                metric: SloMetric::ErrorRate,
                max: 0.10,
            },
        ];
        let mut faults = vec![fault(1, 10_000, 20_000)];
        faults[0].recover_within_ms = Some(10_000);
        measure_recovery(&mut faults, &b, &slos, 5_000, 120_000);
        let f = &faults[0];
        let viewers = f.recovery.as_ref().unwrap();
        let (_, hi) = viewers.span().expect("the viewers recovered");
        assert!(hi <= 5_000, "viewers back within a window: {viewers:?}");
        assert_eq!(f.verdict, Some(SloVerdict::Pass), "{}", f.sentence());
        let classes: Vec<RequestClass> = f.recovery_by_class.iter().map(|k| k.class).collect();
        assert_eq!(
            classes,
            [RequestClass::PanelQuery, RequestClass::IngestBatch]
        );
        let ingest = &f.recovery_by_class[1].recovery;
        // Its batches failed until 20 s after the window: within its span,
        // whose end is past the viewers' bound.
        let (lo, hi) = ingest.span().expect("ingest recovered");
        assert!(
            lo <= 20_000 && 20_000 <= hi && hi > 10_000,
            "ingest failed until 20 s after the window: {ingest:?}"
        );
        assert!(!matches!(ingest, Recovery::NotJudged { .. }));
        let said = f.sentence();
        assert!(said.starts_with("viewers recovered after"), "{said}");
        assert!(said.contains("(allowed: 10 s)"), "{said}");
        assert!(said.contains("; ingest batch "), "{said}");
    }
}
