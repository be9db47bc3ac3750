//! A run against a baseline run: deltas, and whether it regressed.
//!
//! Only **judged figures** can regress: the (class, figure) pairs the scenario
//! has SLOs for (p50/p95/p99/error rate) plus those its `[regression] figures`
//! names; with neither, dashboard-load p95 and error rate. Each is judged on
//! every hold window matched by name between the two runs, by
//! [`super::regress`]: a regression is a worsening beyond the tolerance
//! (`[regression]`: latency 10 % and 1 ms, error rate one percentage point)
//! that a block bootstrap over both request logs is at least `confidence`
//! (95 %) sure of. Everything else (p50 of a class with only an error-rate
//! SLO, whole-run and per-name deltas, throughput) is context and never counts.

use std::collections::BTreeSet;

use crate::runfolder::{JudgedFigure, RegressionRules, RequestClass, SloMetric, WindowKind};

use super::collect::class_index;
use super::regress::{self, Allowance, Finding, WindowBlocks};
use super::summary::{ClassStats, Comparison, Delta, Summary};

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
        judged: false,
        sure: None,
        interval: None,
        note: None,
    }
}

/// The figures the gate judges: those with SLOs and those `[regression]`
/// names; dashboard-load p95 and error rate when there are neither.
pub fn judged_figures(s: &Summary, rules: &RegressionRules) -> BTreeSet<JudgedFigure> {
    let mut figures: BTreeSet<JudgedFigure> = s
        .slos
        .iter()
        .filter(|r| r.metric != SloMetric::MsPerPoint)
        .map(|r| JudgedFigure {
            class: r.class,
            metric: r.metric,
        })
        .chain(rules.figures.iter().copied())
        .collect();
    if figures.is_empty() {
        for metric in [SloMetric::P95, SloMetric::ErrorRate] {
            figures.insert(JudgedFigure {
                class: RequestClass::DashboardLoad,
                metric,
            });
        }
    }
    figures
}

fn allowance(metric: SloMetric, rules: &RegressionRules) -> Allowance {
    match metric {
        SloMetric::ErrorRate => Allowance::ErrorRate {
            margin: rules.error_rate,
        },
        _ => Allowance::Latency {
            relative: rules.latency,
            floor_ms: rules.latency_floor_ms,
        },
    }
}

fn find(stats: &[ClassStats], class: RequestClass) -> Option<&ClassStats> {
    stats.iter().find(|s| s.class == class)
}

/// The (current, baseline) sample blocks of one window, when both runs have them.
pub struct WindowSamples<'a> {
    /// This run's.
    pub current: &'a WindowBlocks,
    /// The baseline's.
    pub base: &'a WindowBlocks,
}

/// Latency and error-rate deltas of one class in one scope; the figures in
/// `judged` go through the gate when `samples` are given.
fn class_deltas(
    scope: &str,
    class: RequestClass,
    base: Option<&ClassStats>,
    cur: Option<&ClassStats>,
    judged: &BTreeSet<JudgedFigure>,
    samples: Option<&WindowSamples>,
    rules: &RegressionRules,
) -> Vec<Delta> {
    let lat = |s: Option<&ClassStats>, f: fn(&super::summary::Latency) -> f64| {
        s.and_then(|s| s.latency.as_ref()).map(f)
    };
    let figures: [(SloMetric, Option<f64>, Option<f64>); 4] = [
        (SloMetric::P50, lat(base, |l| l.p50), lat(cur, |l| l.p50)),
        (SloMetric::P95, lat(base, |l| l.p95), lat(cur, |l| l.p95)),
        (SloMetric::P99, lat(base, |l| l.p99), lat(cur, |l| l.p99)),
        (
            SloMetric::ErrorRate,
            base.and_then(|s| s.error_rate),
            cur.and_then(|s| s.error_rate),
        ),
    ];
    let mut out = Vec::new();
    for (metric, b, c) in figures {
        let name = match metric {
            SloMetric::ErrorRate => format!("{} error rate", class.label()),
            m => format!("{} {} ms", class.label(), m.key()),
        };
        let mut d = delta(scope, &name, b, c);
        if judged.contains(&JudgedFigure { class, metric }) {
            d.judged = true;
            match samples {
                Some(samples) => {
                    let ci = class_index(class);
                    match regress::judge(
                        metric,
                        &samples.base.class(ci),
                        &samples.current.class(ci),
                        allowance(metric, rules),
                        &format!("{scope}/{name}"),
                    ) {
                        Finding::Judged { sure, interval } => {
                            d.sure = Some(sure);
                            d.interval = Some(interval);
                            d.regression = sure >= rules.confidence;
                        }
                        Finding::NotJudged(why) => d.note = Some(why),
                    }
                }
                None => d.note = Some("no request log on one side: not judged".into()),
            }
        }
        out.push(d);
    }
    out
}

/// Compare `current` with `base` (read from `dir`): `current_blocks` and
/// `base_blocks` are the two runs' hold-window samples, matched by name.
pub fn compare(
    current: &Summary,
    current_blocks: &[WindowBlocks],
    base: &Summary,
    base_blocks: &[WindowBlocks],
    dir: &str,
    rules: &RegressionRules,
) -> Comparison {
    let judged = judged_figures(current, rules);
    let classes: BTreeSet<RequestClass> = judged.iter().map(|f| f.class).collect();
    let none = BTreeSet::new();
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
            &none,
            None,
            rules,
        ));
    }
    totals.extend(ladder_deltas(base, current));
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
        let samples = match (
            current_blocks.iter().find(|x| x.name == w.name),
            base_blocks.iter().find(|x| x.name == w.name),
        ) {
            (Some(current), Some(base)) => Some(WindowSamples { current, base }),
            _ => None,
        };
        for class in &classes {
            windows.extend(class_deltas(
                &w.name,
                *class,
                find(&b.classes, *class),
                find(&w.classes, *class),
                &judged,
                samples.as_ref(),
                rules,
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
                class_deltas(
                    &n.name,
                    n.class,
                    Some(&b.stats),
                    Some(&n.stats),
                    &none,
                    None,
                    rules,
                )
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
                "{}: {} {} → {}{}{}",
                d.scope,
                d.figure,
                fmt(d.baseline),
                fmt(d.current),
                d.change_pct
                    .map(|p| format!(" ({p:+.1} %)"))
                    .unwrap_or_default(),
                sureness(d)
            )
        })
        .collect();
    Comparison {
        dir: dir.to_string(),
        scenario: base.run.scenario.clone(),
        started_at: base.run.started_at,
        tolerance: rules.latency,
        latency_floor_ms: rules.latency_floor_ms,
        error_margin: rules.error_rate,
        confidence: rules.confidence,
        judged_figures: judged
            .iter()
            .map(|f| format!("{}.{}", f.class.key(), f.metric.key()))
            .collect(),
        totals,
        windows,
        names,
        unmatched_windows,
        regressions,
    }
}

/// The stress ladder's capacity, knee and first broken step, in viewers
/// (context, never judged).
fn ladder_deltas(base: &Summary, current: &Summary) -> Vec<Delta> {
    let broke = |s: &Summary| {
        let step = s.first_break.as_ref()?;
        s.windows
            .iter()
            .find(|w| &w.name == step)
            .map(|w| w.viewers as f64)
    };
    vec![
        delta(
            "stress ladder",
            "capacity (viewers)",
            base.capacity.map(|c| c as f64),
            current.capacity.map(|c| c as f64),
        ),
        delta(
            "stress ladder",
            "knee (viewers)",
            base.knee.as_ref().map(|k| k.viewers as f64),
            current.knee.as_ref().map(|k| k.viewers as f64),
        ),
        delta(
            "stress ladder",
            "first broken step (viewers)",
            broke(base),
            broke(current),
        ),
    ]
}

/// How sure the gate is, in words: ", 99.8 % sure beyond the tolerance
/// (90 % interval +12 … +30 ms)"; empty for figures it did not judge.
pub fn sureness(d: &Delta) -> String {
    let (Some(sure), Some([lo, hi])) = (d.sure, d.interval) else {
        return String::new();
    };
    let unit = |v: f64| {
        if d.figure.ends_with("error rate") {
            format!("{:+.2} pp", v * 100.0)
        } else {
            format!("{v:+.1} ms")
        }
    };
    format!(
        ", {:.1} % sure it is worse beyond the tolerance (change {:.0} % interval {} … {})",
        sure * 100.0,
        regress::INTERVAL * 100.0,
        unit(lo),
        unit(hi)
    )
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
    fn a_judged_figure_without_samples_says_so_and_others_stay_context() {
        let judged: BTreeSet<JudgedFigure> = [JudgedFigure {
            class: RequestClass::PanelQuery,
            metric: SloMetric::P95,
        }]
        .into();
        let deltas = class_deltas(
            "stage 1 hold",
            RequestClass::PanelQuery,
            None,
            None,
            &judged,
            None,
            &RegressionRules::default(),
        );
        let p95 = deltas
            .iter()
            .find(|d| d.figure.ends_with("p95 ms"))
            .unwrap();
        assert!(p95.judged && !p95.regression);
        assert_eq!(
            p95.note.as_deref(),
            Some("no request log on one side: not judged")
        );
        assert!(deltas
            .iter()
            .filter(|d| !d.figure.ends_with("p95 ms"))
            .all(|d| !d.judged && d.note.is_none()));
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
