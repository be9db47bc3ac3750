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
//!
//! The baseline may be several runs (`--baseline median:N`, or `report
//! --baseline` given more than once): each figure's baseline value is then
//! the median of those runs' values (over the runs that have it), and the gate
//! judges against all their samples pooled ([`regress::judge_runs`]).

use std::collections::BTreeSet;

use crate::runfolder::{JudgedFigure, RegressionRules, RequestClass, SloMetric, WindowKind};

use super::collect::class_index;
use super::regress::{self, Allowance, Finding, WindowBlocks};
use super::summary::{BaselineRun, ClassStats, Comparison, Delta, Summary};

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
    figures_for(s.slos.iter().map(|r| (r.class, r.metric)), rules)
}

/// [`judged_figures`] from the SLOs' (class, figure) pairs: the rule the sample
/// planner (`crate::sampling`) applies to a scenario before it runs.
pub fn figures_for(
    slos: impl IntoIterator<Item = (RequestClass, SloMetric)>,
    rules: &RegressionRules,
) -> BTreeSet<JudgedFigure> {
    let mut figures: BTreeSet<JudgedFigure> = slos
        .into_iter()
        .filter(|(_, metric)| *metric != SloMetric::MsPerPoint)
        .map(|(class, metric)| JudgedFigure { class, metric })
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

/// The (current, baseline) sample blocks of one window, when both sides have them.
pub struct WindowSamples<'a> {
    /// This run's.
    pub current: &'a WindowBlocks,
    /// Each baseline run's that has the window's samples (at least one).
    pub base: Vec<&'a WindowBlocks>,
}

/// One baseline run, as `compare` reads it.
pub struct BaseRun<'a> {
    /// Its run folder, as shown.
    pub dir: String,
    /// Its summary.
    pub summary: &'a Summary,
    /// Its hold windows' samples.
    pub blocks: &'a [WindowBlocks],
}

/// The median of the values present (the mean of the middle two for an even
/// count); `None` without any.
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = values
        .into_iter()
        .flatten()
        .filter(|x| !x.is_nan())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Latency and error-rate deltas of one class in one scope (the baseline's
/// value: the median over `bases`); the figures in `judged` go through the
/// gate when `samples` are given.
fn class_deltas(
    scope: &str,
    class: RequestClass,
    bases: &[Option<&ClassStats>],
    cur: Option<&ClassStats>,
    judged: &BTreeSet<JudgedFigure>,
    samples: Option<&WindowSamples>,
    rules: &RegressionRules,
) -> Vec<Delta> {
    let lat = |s: Option<&ClassStats>, f: fn(&super::summary::Latency) -> f64| {
        s.and_then(|s| s.latency.as_ref()).map(f)
    };
    let med = |f: fn(&super::summary::Latency) -> f64| median(bases.iter().map(|b| lat(*b, f)));
    let figures: [(SloMetric, Option<f64>, Option<f64>); 4] = [
        (SloMetric::P50, med(|l| l.p50), lat(cur, |l| l.p50)),
        (SloMetric::P95, med(|l| l.p95), lat(cur, |l| l.p95)),
        (SloMetric::P99, med(|l| l.p99), lat(cur, |l| l.p99)),
        (
            SloMetric::ErrorRate,
            median(bases.iter().map(|b| b.and_then(|s| s.error_rate))),
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
                    let base: Vec<Vec<regress::Block>> =
                        samples.base.iter().map(|b| b.class(ci)).collect();
                    let base: Vec<&[regress::Block]> = base.iter().map(Vec::as_slice).collect();
                    match regress::judge_runs(
                        metric,
                        &base,
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

/// Compare `current` with its baseline runs `bases` (at least one; the first
/// is the one shown when there is one): `current_blocks` and each base's
/// blocks are the runs' hold-window samples, matched by window name.
pub fn compare(
    current: &Summary,
    current_blocks: &[WindowBlocks],
    bases: &[BaseRun],
    rules: &RegressionRules,
) -> Comparison {
    let judged = judged_figures(current, rules);
    let classes: BTreeSet<RequestClass> = judged.iter().map(|f| f.class).collect();
    let none = BTreeSet::new();
    let all = |f: &dyn Fn(&Summary) -> Option<f64>| median(bases.iter().map(|b| f(b.summary)));
    let mut totals = vec![
        delta(
            "run",
            "requests",
            all(&|b| Some(b.totals.requests as f64)),
            Some(current.totals.requests as f64),
        ),
        delta(
            "run",
            "error rate",
            all(&|b| b.totals.error_rate),
            current.totals.error_rate,
        ),
    ];
    for class in &classes {
        let base: Vec<_> = bases
            .iter()
            .map(|b| find(&b.summary.judged, *class))
            .collect();
        totals.extend(class_deltas(
            "judged windows",
            *class,
            &base,
            find(&current.judged, *class),
            &none,
            None,
            rules,
        ));
    }
    totals.extend(ladder_deltas(bases, current));
    let mut windows = Vec::new();
    let mut unmatched_windows = Vec::new();
    for w in current
        .windows
        .iter()
        .filter(|w| w.kind == WindowKind::Hold)
    {
        // The baseline runs that have this window, with its samples if they kept them.
        let matched: Vec<_> = bases
            .iter()
            .filter_map(|b| {
                let stats = b.summary.windows.iter().find(|x| x.name == w.name)?;
                Some((stats, b.blocks.iter().find(|x| x.name == w.name)))
            })
            .collect();
        if matched.is_empty() {
            unmatched_windows.push(w.name.clone());
            continue;
        }
        windows.push(delta(
            &w.name,
            "throughput req/s",
            median(matched.iter().map(|(b, _)| Some(b.throughput_rps))),
            Some(w.throughput_rps),
        ));
        let base_samples: Vec<&WindowBlocks> = matched.iter().filter_map(|(_, x)| *x).collect();
        let samples = match current_blocks.iter().find(|x| x.name == w.name) {
            Some(current) if !base_samples.is_empty() => Some(WindowSamples {
                current,
                base: base_samples,
            }),
            _ => None,
        };
        for class in &classes {
            let base: Vec<_> = matched
                .iter()
                .map(|(b, _)| find(&b.classes, *class))
                .collect();
            windows.extend(class_deltas(
                &w.name,
                *class,
                &base,
                find(&w.classes, *class),
                &judged,
                samples.as_ref(),
                rules,
            ));
        }
    }
    let mut names = Vec::new();
    for n in &current.names {
        let matched: Vec<_> = bases
            .iter()
            .filter_map(|b| b.summary.names.iter().find(|b| b.name == n.name))
            .collect();
        if !matched.is_empty() {
            names.push(delta(
                &n.name,
                "count",
                median(matched.iter().map(|b| Some(b.stats.count as f64))),
                Some(n.stats.count as f64),
            ));
            let base: Vec<_> = matched.iter().map(|b| Some(&b.stats)).collect();
            names.extend(
                class_deltas(&n.name, n.class, &base, Some(&n.stats), &none, None, rules)
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
    let first = &bases[0];
    Comparison {
        dir: first.dir.clone(),
        scenario: first.summary.run.scenario.clone(),
        started_at: first.summary.run.started_at,
        runs: bases
            .iter()
            .map(|b| BaselineRun {
                dir: b.dir.clone(),
                scenario: b.summary.run.scenario.clone(),
                scenario_digest: b.summary.run.scenario_digest.clone(),
                started_at: b.summary.run.started_at,
            })
            .collect(),
        selection: None,
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
/// (context, never judged; the baseline's: the median over `bases`).
fn ladder_deltas(bases: &[BaseRun], current: &Summary) -> Vec<Delta> {
    let broke = |s: &Summary| {
        let step = s.first_break.as_ref()?;
        s.windows
            .iter()
            .find(|w| &w.name == step)
            .map(|w| w.viewers as f64)
    };
    let capacity = |s: &Summary| s.capacity.map(|c| c as f64);
    let knee = |s: &Summary| s.knee.as_ref().map(|k| k.viewers as f64);
    let base = |f: &dyn Fn(&Summary) -> Option<f64>| median(bases.iter().map(|b| f(b.summary)));
    vec![
        delta(
            "stress ladder",
            "capacity (viewers)",
            base(&capacity),
            capacity(current),
        ),
        delta(
            "stress ladder",
            "knee (viewers)",
            base(&knee),
            knee(current),
        ),
        delta(
            "stress ladder",
            "first broken step (viewers)",
            base(&broke),
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
            &[None],
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
    fn medians_take_the_middle_of_the_values_present() {
        assert_eq!(median([Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(median([Some(4.0), Some(1.0)]), Some(2.5));
        assert_eq!(median([None, None]), None);
        assert_eq!(median([Some(7.0)]), Some(7.0));
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
