//! A run against a baseline run: deltas, and whether it regressed.
//!
//! A **regression** is a judged figure that got worse by more than the
//! tolerance, on hold windows matched by name between the two runs, for the
//! judged classes (those the scenario has SLOs for; dashboard loads and panel
//! queries when it has none):
//! - p95 or p99 latency above `baseline × (1 + relative)` *and* more than
//!   `latency_floor_ms` above the baseline (sub-millisecond jitter on fast
//!   requests is not a regression);
//! - error rate more than `error_margin` (absolute, e.g. 0.01 = one
//!   percentage point) above the baseline's.
//!
//! Whole-run and per-name deltas are shown for context and never count.

use std::collections::BTreeSet;

use crate::runfolder::{RequestClass, WindowKind};

use super::summary::{ClassStats, Comparison, Delta, Summary};

/// What counts as worse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative worsening of p95/p99 that counts (0.10 = 10 %).
    pub relative: f64,
    /// Absolute worsening of p95/p99 below which nothing counts, ms.
    pub latency_floor_ms: f64,
    /// Absolute rise of an error rate that counts.
    pub error_margin: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            relative: 0.10,
            latency_floor_ms: 1.0,
            error_margin: 0.01,
        }
    }
}

/// A delta between two optional figures; `regression` decided by the caller.
pub fn delta(scope: &str, figure: &str, baseline: Option<f64>, current: Option<f64>) -> Delta {
    let change = match (baseline, current) {
        (Some(b), Some(c)) => Some(c - b),
        _ => None,
    };
    Delta {
        scope: scope.to_string(),
        figure: figure.to_string(),
        baseline,
        current,
        change,
        change_pct: match (baseline, change) {
            (Some(b), Some(d)) if b != 0.0 => Some(d / b * 100.0),
            _ => None,
        },
        regression: false,
    }
}

/// True when latency `current` is worse than `baseline` beyond the tolerance.
pub fn latency_regressed(baseline: f64, current: f64, t: &Tolerance) -> bool {
    current > baseline * (1.0 + t.relative) && current - baseline > t.latency_floor_ms
}

/// True when error rate `current` rose more than the margin above `baseline`.
pub fn errors_regressed(baseline: f64, current: f64, t: &Tolerance) -> bool {
    current - baseline > t.error_margin
}

/// The classes a run is judged on: those with SLOs, else loads and panel queries.
pub fn judged_classes(s: &Summary) -> BTreeSet<RequestClass> {
    let classes: BTreeSet<RequestClass> = s.slos.iter().map(|r| r.class).collect();
    if classes.is_empty() {
        [RequestClass::DashboardLoad, RequestClass::PanelQuery].into()
    } else {
        classes
    }
}

fn find(stats: &[ClassStats], class: RequestClass) -> Option<&ClassStats> {
    stats.iter().find(|s| s.class == class)
}

/// Latency and error-rate deltas of one class in one scope; regressions
/// flagged when `judge` is set.
fn class_deltas(
    scope: &str,
    class: RequestClass,
    base: Option<&ClassStats>,
    cur: Option<&ClassStats>,
    judge: bool,
    t: &Tolerance,
) -> Vec<Delta> {
    let lat = |s: Option<&ClassStats>, f: fn(&super::summary::Latency) -> f64| {
        s.and_then(|s| s.latency.as_ref()).map(f)
    };
    let mut out = Vec::new();
    for (label, f) in [
        (
            "p50",
            (|l: &super::summary::Latency| l.p50) as fn(&_) -> f64,
        ),
        ("p95", |l| l.p95),
        ("p99", |l| l.p99),
    ] {
        let mut d = delta(
            scope,
            &format!("{} {label} ms", class.label()),
            lat(base, f),
            lat(cur, f),
        );
        if judge && label != "p50" {
            if let (Some(b), Some(c)) = (d.baseline, d.current) {
                d.regression = latency_regressed(b, c, t);
            }
        }
        out.push(d);
    }
    let mut d = delta(
        scope,
        &format!("{} error rate", class.label()),
        base.and_then(|s| s.error_rate),
        cur.and_then(|s| s.error_rate),
    );
    if judge {
        if let (Some(b), Some(c)) = (d.baseline, d.current) {
            d.regression = errors_regressed(b, c, t);
        }
    }
    out.push(d);
    out
}

/// Compare `current` with `base` (read from `dir`).
pub fn compare(current: &Summary, base: &Summary, dir: &str, t: &Tolerance) -> Comparison {
    let classes = judged_classes(current);
    let mut totals = vec![
        delta(
            "run",
            "requests",
            Some(base.totals.requests as f64),
            Some(current.totals.requests as f64),
        ),
        delta(
            "run",
            "error rate",
            base.totals.error_rate,
            current.totals.error_rate,
        ),
    ];
    for class in &classes {
        totals.extend(class_deltas(
            "judged windows",
            *class,
            find(&base.judged, *class),
            find(&current.judged, *class),
            false,
            t,
        ));
    }
    let mut windows = Vec::new();
    let mut unmatched_windows = Vec::new();
    for w in current
        .windows
        .iter()
        .filter(|w| w.kind == WindowKind::Hold)
    {
        let Some(b) = base.windows.iter().find(|b| b.name == w.name) else {
            unmatched_windows.push(w.name.clone());
            continue;
        };
        windows.push(delta(
            &w.name,
            "throughput req/s",
            Some(b.throughput_rps),
            Some(w.throughput_rps),
        ));
        for class in &classes {
            windows.extend(class_deltas(
                &w.name,
                *class,
                find(&b.classes, *class),
                find(&w.classes, *class),
                true,
                t,
            ));
        }
    }
    let mut names = Vec::new();
    for n in &current.names {
        if let Some(b) = base.names.iter().find(|b| b.name == n.name) {
            names.push(delta(
                &n.name,
                "count",
                Some(b.stats.count as f64),
                Some(n.stats.count as f64),
            ));
            names.extend(
                class_deltas(&n.name, n.class, Some(&b.stats), Some(&n.stats), false, t)
                    .into_iter()
                    .filter(|d| !d.figure.ends_with("p50 ms")),
            );
        }
    }
    let regressions = windows
        .iter()
        .filter(|d| d.regression)
        .map(|d| {
            format!(
                "{}: {} {} → {}{}",
                d.scope,
                d.figure,
                fmt(d.baseline),
                fmt(d.current),
                d.change_pct
                    .map(|p| format!(" ({p:+.1} %)"))
                    .unwrap_or_default()
            )
        })
        .collect();
    Comparison {
        dir: dir.to_string(),
        scenario: base.run.scenario.clone(),
        started_at: base.run.started_at,
        tolerance: t.relative,
        latency_floor_ms: t.latency_floor_ms,
        error_margin: t.error_margin,
        totals,
        windows,
        names,
        unmatched_windows,
        regressions,
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_regressions_need_both_the_relative_and_the_absolute_step() {
        let t = Tolerance::default();
        assert!(latency_regressed(100.0, 111.0, &t));
        assert!(!latency_regressed(100.0, 109.0, &t));
        assert!(!latency_regressed(2.0, 2.9, &t), "under the 1 ms floor");
        assert!(latency_regressed(2.0, 3.5, &t));
        assert!(!latency_regressed(100.0, 50.0, &t), "better is not worse");
    }

    #[test]
    fn error_rate_regressions_are_absolute() {
        let t = Tolerance::default();
        assert!(errors_regressed(0.0, 0.02, &t));
        assert!(!errors_regressed(0.10, 0.105, &t));
        assert!(!errors_regressed(0.05, 0.0, &t));
    }

    #[test]
    fn deltas_have_absolute_and_relative_change() {
        let d = delta("w", "p95", Some(200.0), Some(250.0));
        assert_eq!(d.change, Some(50.0));
        assert_eq!(d.change_pct, Some(25.0));
        let d = delta("w", "error rate", Some(0.0), Some(0.1));
        assert_eq!(d.change_pct, None);
        assert_eq!(delta("w", "x", None, Some(1.0)).change, None);
    }
}
