//! Holds that last until judged (`hold = "until judged, at most X"`): what a
//! window needs before it ends, the samples it has, and the clock that skips
//! what an ended hold left of its cap.
//!
//! A hold ends as soon as every figure judged on its window has the samples
//! its judgement asks: the SLOs ([`judge::samples_needed`]) and, on a stage's
//! hold, the regression gate's figures ([`regress::min_samples`], over at least
//! the gate's shortest window), as the sample planner counts them
//! (`crate::sampling`); on a stress step, the SLOs and the ladder's stop rule.
//! Samples count as the report counts them: a percentile on successful
//! requests, an error rate on all, `ms_per_point` on one batch with points,
//! each in the window its row is stamped in (when it was recorded).
//!
//! Goose's test plan is fixed once the run starts. A plan with such a hold is
//! *shifted* (`Plan::shifted`): every user is launched at once, and the live
//! viewer cap lets the planned viewers load on the [`Timeline`]'s clock, which
//! jumps to a hold's planned end when the hold is judged. The windows the run
//! writes are the real ones ([`Timeline::real_windows`]).
//!
//! [`judge::samples_needed`]: crate::report::judge::samples_needed
//! [`regress::min_samples`]: crate::report::regress::min_samples

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::report::collect::class_index;
use crate::report::judge::samples_needed;
use crate::runfolder::{JudgedHold, RequestClass, Slo, SloMetric, StageWindow, WindowKind};
use crate::sampling::{self, Purpose};
use crate::scenario::Scenario;

/// One figure a window is judged on, and the samples it needs there.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    /// Which requests.
    pub class: RequestClass,
    /// Which figure.
    pub metric: SloMetric,
    /// An SLO (or stop-rule term), or a regression figure.
    pub purpose: Purpose,
    /// Samples it needs.
    pub needed: u64,
}

/// Everything one until-judged window needs before it ends.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Needs {
    /// Per judged figure.
    pub figures: Vec<Need>,
    /// The shortest the window may be (the regression gate's time blocks).
    pub min_length: Duration,
}

impl Needs {
    /// What `window` of `scenario`'s plan needs: a stage's hold, its SLOs and
    /// regression figures (the sample planner's); a stress step, its SLOs and
    /// the ladder's stop-rule terms.
    pub fn for_window(scenario: &Scenario, window: &StageWindow) -> Needs {
        match window.kind {
            WindowKind::Hold => {
                let figures: Vec<Need> = sampling::judged_figures(scenario)
                    .into_iter()
                    .map(|(class, metric, purpose, _, needed)| Need {
                        class,
                        metric,
                        purpose,
                        needed,
                    })
                    .collect();
                let gate = figures.iter().any(|f| f.purpose == Purpose::Regression);
                Needs {
                    figures,
                    min_length: if gate {
                        sampling::min_gate_window()
                    } else {
                        Duration::ZERO
                    },
                }
            }
            _ => {
                let stop = scenario.stress.iter().flat_map(|s| &s.stop_when);
                let mut figures: Vec<Need> = Vec::new();
                for slo in scenario.slos.iter().chain(stop) {
                    let need = slo_need(slo);
                    if !figures.contains(&need) {
                        figures.push(need);
                    }
                }
                Needs {
                    figures,
                    min_length: Duration::ZERO,
                }
            }
        }
    }

    /// The figures still short of samples after `held` with `counts`, in words
    /// (`dashboard_load.p95: 37 of 100 samples`); empty when the window is judged.
    pub fn missing(&self, counts: &HoldCounts, held: Duration) -> Vec<String> {
        let mut out: Vec<String> = self
            .figures
            .iter()
            .filter_map(|f| {
                let have = counts.samples(f.class, f.metric);
                (have < f.needed).then(|| {
                    let what = match f.purpose {
                        Purpose::Slo => "",
                        Purpose::Regression => " (regression)",
                        Purpose::StopRule => " (stop rule)",
                    };
                    format!(
                        "{}.{}{what}: {have} of {} samples",
                        f.class.key(),
                        f.metric.key(),
                        f.needed
                    )
                })
            })
            .collect();
        if held < self.min_length {
            out.push(format!(
                "the regression gate's {} s of time blocks",
                self.min_length.as_secs()
            ));
        }
        out
    }
}

fn slo_need(slo: &Slo) -> Need {
    Need {
        class: slo.class,
        metric: slo.metric,
        purpose: Purpose::Slo,
        needed: samples_needed(slo),
    }
}

/// Samples of one window as they are recorded, per request class: what a
/// hold's end is decided on. A distributed run's workers send theirs to the
/// manager, which adds them up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldCounts {
    /// Requests recorded, per class (index in `RequestClass::ALL`).
    pub requests: Vec<u64>,
    /// Those that succeeded.
    pub ok: Vec<u64>,
    /// Batch writes that stored points.
    pub batches_with_points: u64,
}

impl HoldCounts {
    /// Count one request of `class`.
    pub fn record(&mut self, class: RequestClass, ok: bool) {
        let i = class_index(class);
        if self.requests.len() <= i {
            self.requests.resize(RequestClass::ALL.len(), 0);
            self.ok.resize(RequestClass::ALL.len(), 0);
        }
        self.requests[i] += 1;
        self.ok[i] += u64::from(ok);
    }

    /// Add another worker's counts.
    pub fn merge(&mut self, other: &HoldCounts) {
        let n = RequestClass::ALL.len();
        for (into, from) in [
            (&mut self.requests, &other.requests),
            (&mut self.ok, &other.ok),
        ] {
            into.resize(n.max(into.len()), 0);
            for (a, b) in into.iter_mut().zip(from) {
                *a += b;
            }
        }
        self.batches_with_points += other.batches_with_points;
    }

    /// Samples toward `metric` of `class`, by the judgement's rule: successes
    /// for a percentile, requests for an error rate, batches with points for
    /// `ms_per_point`.
    pub fn samples(&self, class: RequestClass, metric: SloMetric) -> u64 {
        let i = class_index(class);
        match metric {
            SloMetric::ErrorRate => self.requests.get(i).copied().unwrap_or(0),
            SloMetric::MsPerPoint => self.batches_with_points,
            _ => self.ok.get(i).copied().unwrap_or(0),
        }
    }
}

/// One until-judged hold as it ran.
#[derive(Debug, Clone, PartialEq)]
struct Ended {
    /// Its window as planned (the cap's length).
    planned: StageWindow,
    /// Its real end, ms since the attack started.
    end_ms: u64,
    /// What its cap saved: planned end minus the clock's reading at the end.
    saved_ms: u64,
    judged: bool,
    short: Vec<String>,
}

/// The plan's clock in a run with until-judged holds: the real time plus
/// what the ended holds left of their caps. Windows keep their planned
/// times on it; [`Timeline::real_windows`] gives the times they ran at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    ended: Vec<Ended>,
}

impl Timeline {
    /// The plan's clock at `real` (time since the attack started).
    pub fn plan_clock(&self, real: Duration) -> Duration {
        let real_ms = real.as_millis() as u64;
        let saved: u64 = self
            .ended
            .iter()
            .filter(|e| e.end_ms <= real_ms)
            .map(|e| e.saved_ms)
            .sum();
        real + Duration::from_millis(saved)
    }

    /// The real time of `planned_ms` on the plan's clock (a window boundary).
    pub fn real_ms(&self, planned_ms: u64) -> u64 {
        let saved: u64 = self
            .ended
            .iter()
            .filter(|e| e.planned.end_ms <= planned_ms)
            .map(|e| e.saved_ms)
            .sum();
        planned_ms.saturating_sub(saved)
    }

    /// End the until-judged `window` (as planned) at `real`: judged (`short`
    /// empty), or at its cap with the figures still short. The plan's clock
    /// jumps to the window's planned end there.
    pub fn end(&mut self, window: &StageWindow, real: Duration, short: Vec<String>) {
        if self.ended.iter().any(|e| e.planned.name == window.name) {
            return;
        }
        let at = self.plan_clock(real).as_millis() as u64;
        self.ended.push(Ended {
            planned: window.clone(),
            end_ms: real.as_millis() as u64,
            saved_ms: window.end_ms.saturating_sub(at),
            judged: short.is_empty(),
            short,
        });
    }

    /// True once `name` has ended (judged or at its cap).
    pub fn has_ended(&self, name: &str) -> bool {
        self.ended.iter().any(|e| e.planned.name == name)
    }

    /// `planned` windows at the times they ran.
    pub fn real_windows(&self, planned: &[StageWindow]) -> Vec<StageWindow> {
        planned
            .iter()
            .map(|w| StageWindow {
                start_ms: self.real_ms(w.start_ms),
                end_ms: self.real_ms(w.end_ms),
                ..w.clone()
            })
            .collect()
    }

    /// How each until-judged hold ended, for run.json.
    pub fn holds(&self) -> Vec<JudgedHold> {
        self.ended
            .iter()
            .map(|e| JudgedHold {
                window: e.planned.name.clone(),
                at_most_ms: e.planned.end_ms - e.planned.start_ms,
                held_ms: e.end_ms.saturating_sub(self.real_ms(e.planned.start_ms)),
                judged: e.judged,
                short: e.short.clone(),
            })
            .collect()
    }
}

/// A run's until-judged holds: each one's needs, and the clock they share
/// between the monitor (or a distributed run's ticks) and the run's end.
#[derive(Debug, Clone, Default)]
pub struct Holds {
    /// The plan's clock.
    pub timeline: Arc<Mutex<Timeline>>,
    /// Per until-judged window (by name), what it needs.
    pub needs: BTreeMap<String, Needs>,
}

impl Holds {
    /// The holds of `plan`, with what `scenario` judges on each.
    pub fn of(scenario: &Scenario, plan: &Plan) -> Holds {
        let needs = plan
            .windows
            .iter()
            .filter(|w| plan.until_judged.contains(&w.name))
            .map(|w| (w.name.clone(), Needs::for_window(scenario, w)))
            .collect();
        Holds {
            timeline: Arc::default(),
            needs,
        }
    }

    /// The plan's clock at `real`.
    pub fn plan_clock(&self, real: Duration) -> Duration {
        self.timeline().plan_clock(real)
    }

    /// The timeline, locked.
    pub fn timeline(&self) -> std::sync::MutexGuard<'_, Timeline> {
        self.timeline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `window` still lacks after `held` with `counts` (empty: judged).
    pub fn missing(&self, window: &str, counts: &HoldCounts, held: Duration) -> Vec<String> {
        self.needs
            .get(window)
            .map_or_else(Vec::new, |n| n.missing(counts, held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str, kind: WindowKind, start: u64, end: u64) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind,
            viewers: 10,
            start_ms: start,
            end_ms: end,
        }
    }

    fn slo(class: RequestClass, metric: SloMetric, max: f64) -> Slo {
        Slo { class, metric, max }
    }

    #[test]
    fn a_window_is_judged_once_every_figure_has_its_samples_by_the_judgements_rule() {
        let needs = Needs {
            figures: vec![
                slo_need(&slo(RequestClass::DashboardLoad, SloMetric::P95, 5000.0)),
                slo_need(&slo(RequestClass::PanelQuery, SloMetric::ErrorRate, 0.05)),
                slo_need(&slo(RequestClass::IngestBatch, SloMetric::MsPerPoint, 1.0)),
            ],
            min_length: Duration::from_secs(8),
        };
        assert_eq!(needs.figures[0].needed, 20);
        assert_eq!(needs.figures[1].needed, 20);
        let mut counts = HoldCounts::default();
        // Failed loads do not count toward a percentile…
        for i in 0..25 {
            counts.record(RequestClass::DashboardLoad, i % 5 != 0);
        }
        // …but every request counts toward an error rate.
        for i in 0..20 {
            counts.record(RequestClass::PanelQuery, i != 0);
        }
        let short = needs.missing(&counts, Duration::from_secs(3));
        assert_eq!(
            short,
            [
                "ingest_batch.ms_per_point: 0 of 1 samples",
                "the regression gate's 8 s of time blocks",
            ]
        );
        counts.batches_with_points = 1;
        assert_eq!(
            needs.missing(&counts, Duration::from_secs(3)),
            ["the regression gate's 8 s of time blocks"]
        );
        assert!(needs.missing(&counts, Duration::from_secs(8)).is_empty());
        // One success fewer: p95 is short again.
        let mut fewer = HoldCounts::default();
        for i in 0..24 {
            fewer.record(RequestClass::DashboardLoad, i % 5 != 0);
        }
        fewer.record(RequestClass::PanelQuery, true);
        fewer.batches_with_points = 1;
        let short = needs.missing(&fewer, Duration::from_secs(9));
        assert_eq!(
            short,
            [
                "dashboard_load.p95: 19 of 20 samples",
                "panel_query.error_rate: 1 of 20 samples"
            ]
        );
    }

    #[test]
    fn counts_of_workers_add_up() {
        let mut a = HoldCounts::default();
        a.record(RequestClass::DashboardLoad, true);
        let mut b = HoldCounts::default();
        b.record(RequestClass::DashboardLoad, false);
        b.record(RequestClass::IngestBatch, true);
        b.batches_with_points = 2;
        a.merge(&b);
        assert_eq!(a.samples(RequestClass::DashboardLoad, SloMetric::P95), 1);
        assert_eq!(
            a.samples(RequestClass::DashboardLoad, SloMetric::ErrorRate),
            2
        );
        assert_eq!(a.samples(RequestClass::IngestBatch, SloMetric::P50), 1);
        assert_eq!(a.batches_with_points, 2);
        let mut empty = HoldCounts::default();
        empty.merge(&a);
        assert_eq!(empty, a);
    }

    #[test]
    fn an_ended_hold_moves_every_later_window_earlier_by_what_it_saved() {
        let planned = [
            window("stage 1 ramp", WindowKind::Ramp, 0, 5_000),
            window("stage 1 hold", WindowKind::Hold, 5_000, 65_000),
            window("stage 2 ramp", WindowKind::Ramp, 65_000, 70_000),
            window("stage 2 hold", WindowKind::Hold, 70_000, 130_000),
        ];
        let mut t = Timeline::default();
        assert_eq!(
            t.plan_clock(Duration::from_secs(20)),
            Duration::from_secs(20)
        );
        // Stage 1's hold judged 17.5 s in, at 22.5 s: 42.5 s of its cap saved.
        t.end(&planned[1], Duration::from_millis(22_500), Vec::new());
        assert_eq!(
            t.plan_clock(Duration::from_millis(22_500)),
            Duration::from_secs(65)
        );
        assert_eq!(
            t.plan_clock(Duration::from_millis(22_400)),
            Duration::from_millis(22_400),
            "before the end the clocks agree"
        );
        // Stage 2's hold runs to its cap: 60 s from its real start at 27.5 s.
        let real_end = Duration::from_millis(87_500);
        assert_eq!(t.plan_clock(real_end), Duration::from_secs(130));
        t.end(&planned[3], real_end, vec!["x: 1 of 2 samples".into()]);
        t.end(&planned[3], Duration::from_secs(99), Vec::new());
        let real: Vec<_> = t
            .real_windows(&planned)
            .iter()
            .map(|w| (w.start_ms, w.end_ms))
            .collect();
        assert_eq!(
            real,
            [
                (0, 5_000),
                (5_000, 22_500),
                (22_500, 27_500),
                (27_500, 87_500)
            ]
        );
        let holds = t.holds();
        assert_eq!(
            holds,
            [
                JudgedHold {
                    window: "stage 1 hold".into(),
                    at_most_ms: 60_000,
                    held_ms: 17_500,
                    judged: true,
                    short: vec![],
                },
                JudgedHold {
                    window: "stage 2 hold".into(),
                    at_most_ms: 60_000,
                    held_ms: 60_000,
                    judged: false,
                    short: vec!["x: 1 of 2 samples".into()],
                }
            ]
        );
        assert!(t.has_ended("stage 2 hold") && !t.has_ended("stage 3 hold"));
    }
}
