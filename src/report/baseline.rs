//! A run against a baseline run: deltas, and whether it regressed.
//!
//! Only **judged figures** can regress: the (class, figure) pairs the scenario
//! has SLOs for (p50/p95/p99/error rate) plus those its `[regression] figures`
//! names. Without `figures` the gate also picks figures it can see
//! ([`judged_figures`]): panel-query p50 and p95 (a dashboard load fans out
//! into many queries, so they have the samples) and dashboard-load p50, p95
//! and error rate; and on a window too small for a percentile it judges the
//! class's highest percentile that has its samples instead (dashboard-load
//! p50 when loads are few), saying so. Each is judged on
//! every hold window matched by name between the two runs, by
//! [`super::regress`]: a regression is a worsening beyond the tolerance
//! (`[regression]`: latency 10 % and 1 ms, error rate one percentage point)
//! that a block bootstrap over both request logs is at least `confidence`
//! (95 %) sure of. Everything else (p99 of a class with only an error-rate
//! SLO, whole-run and per-name deltas, throughput) is context and never counts.
//!
//! Every verdict says what the gate could have seen: per judged figure, the
//! smallest worsening it would have flagged ([`regress::Reach`]), in the
//! comparison's `verdict` line ("no regression; +14 % on panel query p95
//! would have been caught"), and it says so when no latency was judged at all.
//!
//! The baseline may be several runs (`--baseline median:N`, or `report
//! --baseline` given more than once): each figure's baseline value is then
//! the median of those runs' values (over the runs that have it), and the gate
//! judges against all their samples pooled ([`regress::judge_runs`]).

use std::collections::BTreeSet;

use crate::runfolder::{JudgedFigure, RegressionRules, RequestClass, SloMetric, WindowKind};

use super::collect::class_index;
use super::regress::{self, Allowance, Finding, WindowBlocks};
use super::summary::{BaselineRun, ClassStats, Comparison, Delta, ReachFigure, Summary};

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
        detectable: None,
        detectable_pct: None,
        note: None,
    }
}

/// The figures the gate judges: those with SLOs and those `[regression]`
/// names. Without `figures`, also the ones chosen for their samples:
/// panel-query p50 and p95 when the run has panel queries, and dashboard-load
/// p50, p95 and error rate (p95 judged as p50 on windows with few loads, see
/// [`chosen`]).
///
/// Dashboard-load p50 is always among them: a load is one sample per viewer
/// visit (its panels share its time range and its fate), so its median is the
/// figure the block bootstrap pins down best. On smoke its reach is ≈ +15 %
/// where panel-query p50 and the p95s reach only +55 … +200 %: their samples
/// are a mixture of time ranges whose share differs from block to block.
pub fn judged_figures(s: &Summary, rules: &RegressionRules) -> BTreeSet<JudgedFigure> {
    let has_panels = s
        .judged
        .iter()
        .any(|c| c.class == RequestClass::PanelQuery && c.count > 0);
    figures_for(
        s.slos.iter().map(|r| (r.class, r.metric)),
        rules,
        has_panels,
    )
}

/// [`judged_figures`] from the SLOs' (class, figure) pairs and whether the run
/// sends panel queries: the rule the sample planner (`crate::sampling`)
/// applies to a scenario before it runs.
pub fn figures_for(
    slos: impl IntoIterator<Item = (RequestClass, SloMetric)>,
    rules: &RegressionRules,
    has_panels: bool,
) -> BTreeSet<JudgedFigure> {
    let mut figures: BTreeSet<JudgedFigure> = slos
        .into_iter()
        .filter(|(_, metric)| *metric != SloMetric::MsPerPoint)
        .map(|(class, metric)| JudgedFigure { class, metric })
        .chain(rules.figures.iter().copied())
        .collect();
    if chosen(rules) {
        let mut add = |class, metric| {
            figures.insert(JudgedFigure { class, metric });
        };
        if has_panels {
            add(RequestClass::PanelQuery, SloMetric::P50);
            add(RequestClass::PanelQuery, SloMetric::P95);
        }
        add(RequestClass::DashboardLoad, SloMetric::P50);
        add(RequestClass::DashboardLoad, SloMetric::P95);
        add(RequestClass::DashboardLoad, SloMetric::ErrorRate);
    }
    figures
}

/// True when the gate chooses the figures for their samples: the scenario
/// names no `[regression] figures`. A latency percentile a window has too
/// few samples for is then judged as the class's highest percentile it has
/// them for, rather than not at all.
pub fn chosen(rules: &RegressionRules) -> bool {
    rules.figures.is_empty()
}

/// A figure's name in the deltas: `panel query p95 ms`, `dashboard load error rate`.
fn figure_name(class: RequestClass, metric: SloMetric) -> String {
    match metric {
        SloMetric::ErrorRate => format!("{} error rate", class.label()),
        m => format!("{} {} ms", class.label(), m.key()),
    }
}

fn quantile(metric: SloMetric) -> Option<f64> {
    match metric {
        SloMetric::P50 => Some(0.50),
        SloMetric::P95 => Some(0.95),
        SloMetric::P99 => Some(0.99),
        _ => None,
    }
}

/// What the gate does with one judged figure on one window.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Judge it.
    Judge,
    /// Too few samples for it: another percentile is judged in its place.
    Replaced {
        /// The percentile judged instead.
        instead: SloMetric,
        /// Why, in words (the samples there are and those needed).
        why: String,
    },
}

/// The metrics of one class judged on one window: `judged` (the class's
/// judged figures), a percentile replaced by the highest one the window has
/// the samples for (on both sides, `have`: the fewer successful requests of
/// the two) when the gate chooses figures. The sample planner
/// (`crate::sampling`) applies this same rule to the samples it expects, so
/// `check` names the figures the gate will judge.
pub fn window_plan(
    judged: &BTreeSet<SloMetric>,
    have: Option<u64>,
    chosen: bool,
) -> Vec<(SloMetric, Choice)> {
    let mut plan: Vec<(SloMetric, Choice)> = Vec::new();
    for &metric in judged {
        let replacement = match (quantile(metric), have) {
            (Some(q), Some(have)) if chosen && have < regress::min_samples(q) => {
                [SloMetric::P95, SloMetric::P50].into_iter().find(|m| {
                    let mq = quantile(*m).unwrap_or(1.0);
                    mq < q && have >= regress::min_samples(mq)
                })
            }
            _ => None,
        };
        match replacement {
            Some(instead) => {
                let why = format!(
                    "too few samples for {}: {have} successful on the thinner side, {} needed; {} judged in its place",
                    metric.key(),
                    regress::min_samples(quantile(metric).unwrap_or(0.5)),
                    instead.key(),
                    have = have.unwrap_or(0),
                );
                plan.push((metric, Choice::Replaced { instead, why }));
            }
            None => plan.push((metric, Choice::Judge)),
        }
    }
    let replacements: Vec<SloMetric> = plan
        .iter()
        .filter_map(|(_, p)| match p {
            Choice::Replaced { instead, .. } => Some(*instead),
            Choice::Judge => None,
        })
        .collect();
    for m in replacements {
        if !plan.iter().any(|(x, _)| *x == m) {
            plan.push((m, Choice::Judge));
        }
    }
    plan
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
    let ci = class_index(class);
    // The class's blocks on both sides, when the window kept them.
    let blocks = samples.map(|samples| {
        let base: Vec<Vec<regress::Block>> = samples.base.iter().map(|b| b.class(ci)).collect();
        (base, samples.current.class(ci))
    });
    let have = blocks.as_ref().map(|(base, current)| {
        let base: Vec<regress::Block> = base.iter().flatten().cloned().collect();
        regress::successes(&base).min(regress::successes(current))
    });
    let metrics: BTreeSet<SloMetric> = judged
        .iter()
        .filter(|f| f.class == class)
        .map(|f| f.metric)
        .collect();
    let plan = window_plan(&metrics, have, chosen(rules));
    let mut out = Vec::new();
    for (metric, b, c) in figures {
        let name = figure_name(class, metric);
        let mut d = delta(scope, &name, b, c);
        match plan.iter().find(|(m, _)| *m == metric).map(|(_, p)| p) {
            None => {}
            Some(Choice::Replaced { why, .. }) => d.note = Some(why.clone()),
            Some(Choice::Judge) => {
                d.judged = true;
                match &blocks {
                    Some((base, current)) => {
                        let base: Vec<&[regress::Block]> = base.iter().map(Vec::as_slice).collect();
                        match regress::judge_runs(
                            metric,
                            &base,
                            current,
                            allowance(metric, rules),
                            &format!("{scope}/{name}"),
                        ) {
                            Finding::Judged {
                                sure,
                                interval,
                                reach,
                            } => {
                                d.sure = Some(sure);
                                d.interval = Some(interval);
                                d.regression = sure >= rules.confidence;
                                if let Some(x) = reach.at(rules.confidence) {
                                    if metric == SloMetric::ErrorRate {
                                        d.detectable = Some(x);
                                    } else {
                                        d.detectable_pct = Some(x * 100.0);
                                        d.detectable = b.map(|b| b * x);
                                    }
                                }
                            }
                            Finding::NotJudged(why) => d.note = Some(why),
                        }
                    }
                    None => d.note = Some("no request log on one side: not judged".into()),
                }
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
    let regressions: Vec<String> = windows
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
    let reach = reach(&windows);
    let verdict = verdict_line(&regressions, &reach, &windows);
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
        reach,
        verdict,
    }
}

/// Per figure judged on some window, the smallest worsening the gate would
/// have flagged, on the window where it sees best (latencies first).
fn reach(windows: &[Delta]) -> Vec<ReachFigure> {
    let mut best: Vec<(RequestClass, SloMetric, &Delta)> = Vec::new();
    for d in windows.iter().filter(|d| d.judged && d.sure.is_some()) {
        let Some((class, metric)) = RequestClass::ALL
            .iter()
            .flat_map(|c| SLO_FIGURES.map(|m| (*c, m)))
            .find(|(c, m)| figure_name(*c, *m) == d.figure)
        else {
            continue;
        };
        let size = |d: &Delta| d.detectable_pct.or(d.detectable).unwrap_or(f64::INFINITY);
        match best
            .iter_mut()
            .find(|(c, m, _)| *c == class && *m == metric)
        {
            Some(slot) if size(d) < size(slot.2) => slot.2 = d,
            Some(_) => {}
            None => best.push((class, metric, d)),
        }
    }
    best.sort_by_key(|(c, m, _)| (*m == SloMetric::ErrorRate, *c, *m));
    best.into_iter()
        .map(|(class, metric, d)| ReachFigure {
            figure: format!("{}.{}", class.key(), metric.key()),
            label: d.figure.trim_end_matches(" ms").to_string(),
            window: d.scope.clone(),
            detectable: d.detectable,
            detectable_pct: d.detectable_pct,
        })
        .collect()
}

/// The figures a judged delta can be.
const SLO_FIGURES: [SloMetric; 4] = [
    SloMetric::P50,
    SloMetric::P95,
    SloMetric::P99,
    SloMetric::ErrorRate,
];

/// "+14 % on panel query p95", "+1.5 points on dashboard load error rate".
pub fn reach_phrase(r: &ReachFigure, with_window: bool) -> String {
    let size = match (r.detectable_pct, r.detectable) {
        (Some(pct), _) => format!("{pct:+.0} %"),
        (None, Some(rate)) => format!("+{:.1} points", rate * 100.0),
        (None, None) => "no change".to_string(),
    };
    if with_window {
        format!("{size} on {} ({})", r.label, r.window)
    } else {
        format!("{size} on {}", r.label)
    }
}

/// The gate's verdict in one line, saying what a "no regression" could have
/// caught, and when it could catch no slowdown at all.
fn verdict_line(regressions: &[String], reach: &[ReachFigure], windows: &[Delta]) -> String {
    if let Some(first) = regressions.first() {
        return match regressions.len() {
            1 => format!("regression: {first}"),
            n => format!("regression in {n} figures, first {first}"),
        };
    }
    let several_windows = {
        let mut scopes: Vec<&str> = windows.iter().map(|d| d.scope.as_str()).collect();
        scopes.dedup();
        scopes.len() > 1
    };
    let phrases = |latency: bool| -> Vec<String> {
        reach
            .iter()
            .filter(|r| r.detectable_pct.is_some() == latency)
            .filter(|r| r.detectable.is_some() || r.detectable_pct.is_some())
            .map(|r| reach_phrase(r, several_windows))
            .collect()
    };
    let (latency, errors) = (phrases(true), phrases(false));
    if !latency.is_empty() {
        let all: Vec<String> = latency.into_iter().chain(errors).collect();
        return format!("no regression; {} would have been caught", all.join(", "));
    }
    // No latency was judged: say why, from the first judged latency's note.
    let why = windows
        .iter()
        .filter(|d| !d.figure.ends_with("error rate") && d.note.is_some())
        .find(|d| d.judged)
        .or_else(|| {
            windows
                .iter()
                .find(|d| !d.figure.ends_with("error rate") && d.note.is_some())
        })
        .map(|d| {
            format!(
                " ({}: {}: {})",
                d.scope,
                d.figure.trim_end_matches(" ms"),
                d.note.as_deref().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let mut line =
        format!("no regression, but no latency figure was judged{why}: a slowdown would not have been caught");
    if !errors.is_empty() {
        line.push_str(&format!("; {} would have been caught", errors.join(", ")));
    }
    line
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

#[cfg(test)]
mod choice_tests {
    use super::*;

    fn metrics(m: &[SloMetric]) -> BTreeSet<SloMetric> {
        m.iter().copied().collect()
    }

    #[test]
    fn few_loads_judge_p50_in_place_of_p95_and_say_so() {
        let judged = metrics(&[SloMetric::P95, SloMetric::ErrorRate]);
        let plan = window_plan(&judged, Some(37), true);
        let p95 = plan.iter().find(|(m, _)| *m == SloMetric::P95).unwrap();
        match &p95.1 {
            Choice::Replaced { instead, why } => {
                assert_eq!(*instead, SloMetric::P50);
                assert!(why.contains("37") && why.contains("100"), "{why}");
            }
            Choice::Judge => panic!("p95 on 37 loads: {plan:?}"),
        }
        assert!(plan.contains(&(SloMetric::P50, Choice::Judge)), "{plan:?}");
        assert!(plan.contains(&(SloMetric::ErrorRate, Choice::Judge)));
        // Enough loads: p95 itself.
        let plan = window_plan(&judged, Some(150), true);
        assert!(plan.contains(&(SloMetric::P95, Choice::Judge)), "{plan:?}");
        assert!(!plan.iter().any(|(m, _)| *m == SloMetric::P50));
        // p99 falls to p95 when that has its samples.
        let plan = window_plan(&metrics(&[SloMetric::P99]), Some(300), true);
        assert!(plan.contains(&(SloMetric::P95, Choice::Judge)), "{plan:?}");
    }

    #[test]
    fn the_chosen_figures_include_the_dashboard_load_median_however_many_loads() {
        // Smoke with its hold until judged has the 100 loads p95 needs, so p50
        // is no longer judged in its place: it must be chosen on its own.
        let rules = RegressionRules::default();
        let figures = figures_for([], &rules, true);
        for metric in [SloMetric::P50, SloMetric::P95, SloMetric::ErrorRate] {
            let f = JudgedFigure {
                class: RequestClass::DashboardLoad,
                metric,
            };
            assert!(figures.contains(&f), "{f:?} in {figures:?}");
        }
        let judged = metrics(&[SloMetric::P50, SloMetric::P95, SloMetric::ErrorRate]);
        let plan = window_plan(&judged, Some(150), true);
        assert!(plan.contains(&(SloMetric::P50, Choice::Judge)), "{plan:?}");
        assert!(plan.contains(&(SloMetric::P95, Choice::Judge)), "{plan:?}");
        // Few loads: p95 is replaced, p50 judged once.
        let plan = window_plan(&judged, Some(37), true);
        assert_eq!(
            plan.iter().filter(|(m, _)| *m == SloMetric::P50).count(),
            1,
            "{plan:?}"
        );
        // Named figures: only those.
        let named = RegressionRules {
            figures: vec![JudgedFigure {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P95,
            }],
            ..RegressionRules::default()
        };
        assert_eq!(figures_for([], &named, true).len(), 1);
    }

    #[test]
    fn figures_named_by_the_scenario_are_judged_as_named() {
        let judged = metrics(&[SloMetric::P95]);
        assert_eq!(
            window_plan(&judged, Some(37), false),
            vec![(SloMetric::P95, Choice::Judge)]
        );
        // Too few even for p50: judged as named, and the gate says why.
        assert_eq!(
            window_plan(&judged, Some(5), true),
            vec![(SloMetric::P95, Choice::Judge)]
        );
    }

    fn judged(scope: &str, figure: &str, pct: Option<f64>, rate: Option<f64>) -> Delta {
        let mut d = delta(scope, figure, Some(100.0), Some(101.0));
        d.judged = true;
        d.sure = Some(0.1);
        d.interval = Some([-5.0, 6.0]);
        d.detectable_pct = pct;
        d.detectable = rate.or(pct);
        d
    }

    #[test]
    fn no_regression_says_what_it_would_have_caught() {
        let windows = vec![
            judged("hold", "panel query p95 ms", Some(14.2), None),
            judged("hold", "panel query p50 ms", Some(11.0), None),
            judged("hold", "dashboard load error rate", None, Some(0.021)),
        ];
        let line = verdict_line(&[], &reach(&windows), &windows);
        assert_eq!(
            line,
            "no regression; +11 % on panel query p50, +14 % on panel query p95, +2.1 points on dashboard load error rate would have been caught"
        );
    }

    #[test]
    fn the_best_window_is_the_reach_and_windows_are_named_when_several() {
        let windows = vec![
            judged("stage 1 hold", "panel query p95 ms", Some(30.0), None),
            judged("stage 2 hold", "panel query p95 ms", Some(14.0), None),
        ];
        let r = reach(&windows);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].figure.as_str(), r[0].window.as_str()),
            ("panel_query.p95", "stage 2 hold")
        );
        assert_eq!(
            verdict_line(&[], &r, &windows),
            "no regression; +14 % on panel query p95 (stage 2 hold) would have been caught"
        );
    }

    #[test]
    fn without_a_judged_latency_it_never_says_no_regression_alone() {
        let mut p95 = delta("hold", "dashboard load p95 ms", Some(300.0), Some(310.0));
        p95.judged = true;
        p95.note = Some(
            "too few samples for p95: 37 successful in the baseline, 40 in this run, 100 needed"
                .into(),
        );
        let windows = vec![
            p95,
            judged("hold", "dashboard load error rate", None, Some(0.03)),
        ];
        let line = verdict_line(&[], &reach(&windows), &windows);
        assert!(
            line.starts_with("no regression, but no latency figure was judged (hold: dashboard load p95: too few samples"),
            "{line}"
        );
        assert!(
            line.contains("a slowdown would not have been caught"),
            "{line}"
        );
        assert!(
            line.ends_with("+3.0 points on dashboard load error rate would have been caught"),
            "{line}"
        );
    }
}
