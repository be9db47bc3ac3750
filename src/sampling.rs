//! Sample planning: before anything is sent, how many samples each judged
//! window will collect for each figure it is judged on, and how many it needs.
//!
//! A figure is judged only on enough samples (`report::judge` for SLOs,
//! `report::regress` for the regression gate); a hold that cannot collect them
//! reports "not judged" after minutes of load. The planner finds out first:
//! it replays the scenario's load shape with the viewers' and the sync job's
//! own timing rules (Goose's evenly spaced launches, a first load at a random
//! phase over one refresh period, refreshes on the dashboard's timer, think
//! times between visits, a sync every interval) over several seeded draws, and
//! counts what starts inside each hold: dashboard loads, panel queries (loads ×
//! the panels a load sends), variable queries, batch writes. The needed counts
//! come from the judgement's own rules ([`judge::samples_needed`],
//! [`regress::min_samples`]), so the plan and the verdict cannot disagree.
//!
//! Assumed: every request succeeds (failures do not count toward a percentile),
//! a dashboard load takes [`ASSUMED_LOAD`], and a sync finishes within its
//! interval. On a target near saturation the real count is lower.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::plan::Plan;
use crate::report::baseline::{self, figures_for, Choice};
use crate::report::judge::samples_needed;
use crate::report::regress::{self, MIN_BLOCKS, MIN_BLOCK_MS};
use crate::runfolder::{RequestClass, Slo, SloMetric, WindowKind};
use crate::scenario::duration::format_duration;
use crate::scenario::{Scenario, Stage, SyncSource, TargetKind};
use crate::workload::dashboard::{Resolution, Trigger, View};

/// How long the planner assumes a dashboard load takes (think time starts after it).
pub const ASSUMED_LOAD: Duration = Duration::from_millis(250);
/// Seeded draws averaged per estimate.
const DRAWS: u64 = 24;
/// The most viewers simulated per draw; more are represented by these, weighted.
const MAX_SIMULATED_VIEWERS: usize = 200;
/// The most load events simulated over all draws (keeps `check` instant on a
/// day-long scenario with thousands of viewers).
const EVENT_BUDGET: f64 = 2_000_000.0;
/// The longest hold the search for the shortest judging hold looks at.
const SEARCH_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// Why a figure is judged on a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    /// An SLO of the scenario, with its bound.
    Slo,
    /// A figure the regression gate compares with a baseline.
    Regression,
    /// A term of the stress ladder's `stop_when` (judged on every step).
    StopRule,
}

impl Purpose {
    /// For the table's "for" column.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Slo => "SLO",
            Purpose::Regression => "regression",
            Purpose::StopRule => "stop rule",
        }
    }
}

/// One judged figure on one window: planned and needed samples.
#[derive(Debug, Clone, PartialEq)]
pub struct FigurePlan {
    /// Which requests.
    pub class: RequestClass,
    /// Which figure.
    pub metric: SloMetric,
    /// SLO or regression figure.
    pub purpose: Purpose,
    /// The SLO's bound (ms, or a fraction for an error rate); `None` for a regression figure.
    pub max: Option<f64>,
    /// Samples the window is expected to collect (successful requests for a
    /// percentile, requests for an error rate, batches for ms per point);
    /// `None` when the planner cannot tell for this class.
    pub planned: Option<f64>,
    /// Samples the judgement needs.
    pub needed: u64,
    /// The shortest window that collects them (`None`: beyond the search limit or unknown).
    pub shortest: Option<Duration>,
    /// A regression percentile the window is expected to lack samples for:
    /// the percentile the gate judges in its place, by the gate's own rule
    /// ([`baseline::window_plan`]).
    pub instead: Option<SloMetric>,
}

impl FigurePlan {
    /// True when the window is expected to collect what the figure needs.
    pub fn judged(&self, length: Duration) -> bool {
        let enough_blocks = self.purpose == Purpose::Slo || length >= min_gate_window();
        enough_blocks
            && self.instead.is_none()
            && self.planned.is_none_or(|p| p >= self.needed as f64)
    }

    /// `dashboard_load.p95`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.class.key(), self.metric.key())
    }
}

/// The shortest window the regression gate can judge at all: [`MIN_BLOCKS`] blocks.
pub fn min_gate_window() -> Duration {
    Duration::from_millis(MIN_BLOCK_MS * MIN_BLOCKS as u64)
}

/// One judged window's plan: a stage's hold or a stress ladder's step.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    /// The window's name (`stage 1 hold`, `step 2`).
    pub name: String,
    /// Its viewers.
    pub viewers: usize,
    /// Its planned length.
    pub length: Duration,
    /// Which `[[stages]]` entry it holds (0-based); a ladder step's: the last.
    pub stage: usize,
    /// A stress ladder step's number (`step 2`: 2); `None` for a stage's hold.
    pub step: Option<usize>,
    /// Every figure judged on it.
    pub figures: Vec<FigurePlan>,
    /// A hold "until judged, at most X": `length` is then the expected one
    /// (the shortest that judges every figure, up to the cap).
    pub until_judged: bool,
}

impl WindowPlan {
    /// The shortest hold that judges every figure of `purpose` (all when `None`);
    /// `None` when some figure cannot be judged within the search limit.
    pub fn shortest_hold(&self, purpose: Option<Purpose>) -> Option<Duration> {
        let mut longest = Duration::ZERO;
        for f in self
            .figures
            .iter()
            .filter(|f| purpose.is_none_or(|p| f.purpose == p))
        {
            let mut need = f.shortest?;
            if f.purpose == Purpose::Regression {
                need = need.max(min_gate_window());
            }
            longest = longest.max(need);
        }
        Some(longest)
    }

    /// The SLOs this window is not expected to judge.
    pub fn unjudged_slos(&self) -> impl Iterator<Item = &FigurePlan> {
        self.figures
            .iter()
            .filter(|f| f.purpose == Purpose::Slo && !f.judged(self.length))
    }

    /// `file:line:column` of the `hold` that sets this window's length
    /// (its `[[stages]]` entry's, or `[stress]`'s), for errors about it.
    pub fn location(&self, scenario: &Scenario) -> String {
        match self.step {
            Some(_) => table_hold_location(scenario, "[stress]", 0),
            None => hold_location(scenario, self.stage),
        }
    }
}

/// The sample plan of a scenario: one entry per judged window (stage holds,
/// then the stress ladder's steps).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplePlan {
    /// The judged windows, in plan order.
    pub windows: Vec<WindowPlan>,
}

impl SamplePlan {
    /// Plan the samples of `scenario`'s holds and ladder steps.
    pub fn of(scenario: &Scenario) -> SamplePlan {
        let plan = Plan::from_scenario(scenario);
        let rates = Rates::of(scenario);
        let hold_figures = judged_figures(scenario);
        let step_figures = step_figures(scenario);
        let mut holds = 0;
        let mut windows = Vec::new();
        for window in &plan.windows {
            // What leads up to the window, as stages (a ladder step is one more
            // stage per step), and what is judged on it.
            let (stages, stage, step, figures) = match window.kind {
                WindowKind::Hold => {
                    holds += 1;
                    // Stage i's hold (every stage with a hold has one window, in order).
                    let Some(stage) = stage_of_hold(&scenario.stages, holds - 1) else {
                        continue;
                    };
                    (
                        scenario.stages[..=stage].to_vec(),
                        stage,
                        None,
                        &hold_figures,
                    )
                }
                WindowKind::StressStep => {
                    let Some(k) = window
                        .name
                        .strip_prefix("step ")
                        .and_then(|k| k.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let Some(stages) = ladder_stages(scenario, k) else {
                        continue;
                    };
                    (
                        stages,
                        scenario.stages.len().saturating_sub(1),
                        Some(k),
                        &step_figures,
                    )
                }
                _ => continue,
            };
            let cap = Duration::from_millis(window.end_ms - window.start_ms);
            let events = simulate_hold(scenario, stages, cap);
            let plan_figure = |(class, metric, purpose, max, needed): Figure, length| FigurePlan {
                class,
                metric,
                purpose,
                max,
                planned: events.count(class, &rates, length),
                needed,
                shortest: events.shortest(class, &rates, needed),
                instead: None,
            };
            let at = |length: Duration| -> Vec<FigurePlan> {
                let mut planned: Vec<FigurePlan> =
                    figures.iter().map(|f| plan_figure(*f, length)).collect();
                // The gate's own substitutions, on the samples expected.
                for (class, metric) in gate_choices(&mut planned, &scenario.regression) {
                    planned.push(plan_figure(
                        (
                            class,
                            metric,
                            Purpose::Regression,
                            None,
                            gate_needed(metric),
                        ),
                        length,
                    ));
                }
                planned
            };
            let mut hold = WindowPlan {
                name: window.name.clone(),
                viewers: window.viewers,
                length: cap,
                stage,
                step,
                figures: at(cap),
                until_judged: plan.until_judged.contains(&window.name),
            };
            if hold.until_judged {
                // It ends once judged: expect the shortest judging hold, within its cap.
                if let Some(judged) = hold.shortest_hold(None).filter(|d| *d < cap) {
                    let length = Duration::from_secs(judged.as_secs() + 1).min(cap);
                    hold.length = length;
                    hold.figures = at(length);
                }
            }
            windows.push(hold);
        }
        SamplePlan { windows }
    }

    /// One warning per hold window that cannot judge an SLO it names: which
    /// figures, planned and needed, and the hold that would judge them all.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.windows {
            let missing: Vec<String> = w
                .unjudged_slos()
                .map(|f| {
                    format!(
                        "{} ({} planned, {} needed)",
                        f.name(),
                        planned_text(f.planned),
                        f.needed
                    )
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let fix = match w.shortest_hold(Some(Purpose::Slo)) {
                Some(h) => format!("a hold of {} would judge every SLO", whole_seconds(h)),
                None => "no hold up to 6h would judge every SLO".to_string(),
            };
            out.push(format!(
                "{} ({} viewers, {}) cannot judge {}: {fix}",
                w.name,
                w.viewers,
                format_duration(w.length),
                missing.join(", ")
            ));
        }
        out
    }

    /// The plan as the table `check` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        if self.windows.is_empty() {
            let _ = writeln!(w, "\nsamples   no hold window: nothing is judged");
            return out;
        }
        let _ = writeln!(
            w,
            "\nsamples   per judged window (stage holds, ladder steps) and figure: expected samples (all requests succeeding, {} ms per load) and what the judgement needs",
            ASSUMED_LOAD.as_millis()
        );
        let _ = writeln!(
            w,
            "  {:<14} {:<28} {:<10} {:>9} {:>7}  {:<8} {:>8}",
            "window", "figure", "for", "planned", "needed", "judged", "shortest"
        );
        for win in &self.windows {
            for f in &win.figures {
                let judged = if f.planned.is_none() {
                    "unknown".to_string()
                } else if let Some(instead) = f.instead {
                    format!("→ {}", instead.key())
                } else if f.judged(win.length) {
                    "yes".to_string()
                } else {
                    "NO".to_string()
                };
                let _ = writeln!(
                    w,
                    "  {:<14} {:<28} {:<10} {:>9} {:>7}  {:<8} {:>8}",
                    win.name,
                    f.name(),
                    f.purpose.label(),
                    planned_text(f.planned),
                    f.needed,
                    judged,
                    f.shortest.map_or("> 6h".to_string(), |d| {
                        let d = match f.purpose {
                            Purpose::Regression => d.max(min_gate_window()),
                            Purpose::Slo | Purpose::StopRule => d,
                        };
                        whole_seconds(d)
                    })
                );
            }
            for f in win.figures.iter().filter(|f| f.instead.is_some()) {
                let _ = writeln!(
                    w,
                    "  {}: {} too few for {} ({} needed): the gate judges {} in its place",
                    win.name,
                    planned_text(f.planned),
                    f.name(),
                    f.needed,
                    f.instead.map(|m| m.key()).unwrap_or_default()
                );
            }
            let any_slo = win.figures.iter().any(|f| f.purpose == Purpose::Slo);
            let slo = match win.shortest_hold(Some(Purpose::Slo)) {
                _ if !any_slo => "no SLO to judge".to_string(),
                Some(h) => format!("every SLO judged from a {} hold", whole_seconds(h)),
                None => "some SLO not judged by any hold up to 6h".to_string(),
            };
            let all = win.shortest_hold(None);
            let rest = match win.step {
                Some(_) => "every figure (SLOs and stop rule)",
                None => "every regression figure",
            };
            let _ = writeln!(
                w,
                "  {} ({}): {slo}; {rest} judged from a {} hold",
                win.name,
                format_duration(win.length),
                all.map_or("> 6h".to_string(), whole_seconds),
            );
        }
        out
    }
}

fn planned_text(planned: Option<f64>) -> String {
    planned.map_or("?".to_string(), |p| format!("{}", p.round() as u64))
}

/// A duration rounded up to whole seconds (Goose's plan has no finer unit), as written in a scenario.
fn whole_seconds(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    format_duration(Duration::from_secs(s.max(1)))
}

/// The `[[stages]]` index of the `i`-th hold window.
fn stage_of_hold(stages: &[Stage], i: usize) -> Option<usize> {
    stages
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.hold.is_zero())
        .nth(i)
        .map(|(n, _)| n)
}

/// A judged figure: class, metric, why, the SLO's bound, samples needed.
pub type Figure = (RequestClass, SloMetric, Purpose, Option<f64>, u64);

/// Every figure judged on a hold: the SLOs, then the regression gate's figures.
pub fn judged_figures(scenario: &Scenario) -> Vec<Figure> {
    let mut out: Vec<Figure> = scenario
        .slos
        .iter()
        .map(|slo: &Slo| {
            (
                slo.class,
                slo.metric,
                Purpose::Slo,
                Some(slo.max),
                samples_needed(slo),
            )
        })
        .collect();
    let gate: BTreeSet<_> = figures_for(
        scenario.slos.iter().map(|s| (s.class, s.metric)),
        &scenario.regression,
        // Every viewer's dashboard load sends panel queries.
        true,
    );
    for f in gate {
        out.push((
            f.class,
            f.metric,
            Purpose::Regression,
            None,
            gate_needed(f.metric),
        ));
    }
    out
}

/// Every figure judged on a stress ladder step: the SLOs (the capacity
/// bracket's), then the ladder's stop-rule terms.
pub fn step_figures(scenario: &Scenario) -> Vec<Figure> {
    let slo = |purpose| {
        move |slo: &Slo| -> Figure {
            (
                slo.class,
                slo.metric,
                purpose,
                Some(slo.max),
                samples_needed(slo),
            )
        }
    };
    let stop = scenario.stress.iter().flat_map(|s| &s.stop_when);
    scenario
        .slos
        .iter()
        .map(slo(Purpose::Slo))
        .chain(stop.map(slo(Purpose::StopRule)))
        .collect()
}

/// The stages up to ladder step `k` (1-based): the scenario's, then one per
/// step as the plan builds them (`Plan::build`); `None` without a ladder.
fn ladder_stages(scenario: &Scenario, k: usize) -> Option<Vec<Stage>> {
    let stress = scenario.stress.as_ref()?;
    let mut stages = scenario.stages.clone();
    let mut viewers = stages.last()?.users;
    for _ in 0..k {
        viewers = (viewers + stress.step).min(stress.ceiling);
        stages.push(Stage {
            users: viewers,
            ramp: stress.ramp,
            hold: stress.hold,
            until_judged: false,
        });
    }
    Some(stages)
}

/// Samples the gate needs to judge `metric` (per side).
fn gate_needed(metric: SloMetric) -> u64 {
    match metric {
        SloMetric::P50 => regress::min_samples(0.50),
        SloMetric::P95 => regress::min_samples(0.95),
        SloMetric::P99 => regress::min_samples(0.99),
        // An error rate is compared on any count, over enough blocks.
        _ => 1,
    }
}

/// Apply the gate's substitution rule ([`baseline::window_plan`]) to the
/// regression figures of one window as planned: mark each percentile the gate
/// will judge another one in place of (`instead`), and return the figures it
/// will judge that are not planned yet.
fn gate_choices(
    figures: &mut [FigurePlan],
    rules: &crate::runfolder::RegressionRules,
) -> Vec<(RequestClass, SloMetric)> {
    let gate = |f: &FigurePlan| f.purpose == Purpose::Regression;
    let classes: BTreeSet<RequestClass> = figures
        .iter()
        .filter(|f| gate(f))
        .map(|f| f.class)
        .collect();
    let mut added = Vec::new();
    for class in classes {
        let metrics: BTreeSet<SloMetric> = figures
            .iter()
            .filter(|f| gate(f) && f.class == class)
            .map(|f| f.metric)
            .collect();
        // Successful requests expected: what any percentile of the class has.
        let have = figures
            .iter()
            .find(|f| gate(f) && f.class == class && f.metric != SloMetric::ErrorRate)
            .and_then(|f| f.planned)
            .map(|p| p.floor() as u64);
        for (metric, choice) in baseline::window_plan(&metrics, have, baseline::chosen(rules)) {
            match choice {
                Choice::Replaced { instead, .. } => {
                    if let Some(f) = figures
                        .iter_mut()
                        .find(|f| gate(f) && f.class == class && f.metric == metric)
                    {
                        f.instead = Some(instead);
                    }
                }
                Choice::Judge if !metrics.contains(&metric) => added.push((class, metric)),
                Choice::Judge => {}
            }
        }
    }
    added
}

/// What one load, one visit and one sync send, per class.
struct Rates {
    panels_per_load: f64,
    variables_on_open: f64,
    variables_on_change: f64,
    dashboard_fetch_on_open: f64,
    batches_per_sync: f64,
    /// Sync fetch, transform and freshness requests per sync.
    fetch_per_sync: f64,
    freshness_per_sync: f64,
    run_per_sync: f64,
}

impl Rates {
    fn of(s: &Scenario) -> Rates {
        let (mut panels, mut on_open, mut on_change, mut fetch) = (0.0, 0.0, 0.0, 0.0);
        if let Some(v) = &s.viewers {
            let d = &v.dashboard;
            let grafana = s.target.kind == TargetKind::Grafana;
            let flux = s.target.kind == TargetKind::Influxdb2;
            let res = Resolution::saved(d);
            let range = crate::cli::check_dashboard::default_range(d);
            let view = View::resolved(d, &range, chrono::Utc::now().timestamp_millis(), &res);
            panels = d
                .panels
                .iter()
                .filter(|p| !p.in_collapsed_row && (!v.first_screen_only || p.first_screen))
                .flat_map(|p| view.panel_requests_of(p))
                .filter(|r| grafana || r.queries.iter().any(|q| q.influxql.is_some() || flux))
                .count() as f64;
            on_open = view.variable_requests(Trigger::Load).len() as f64;
            on_change = view.variable_requests(Trigger::TimeChange).len() as f64;
            fetch = if grafana { 1.0 } else { 0.0 };
        }
        let job = &s.sync;
        let (batches, sync_fetch, run) = match job.source {
            SyncSource::Trigger(_) => (0.0, 0.0, 1.0),
            SyncSource::Toggl { .. } => (
                f64::from(job.entries_per_sync.div_ceil(job.batch_size.max(1))),
                1.0,
                0.0,
            ),
            SyncSource::Generate => (
                f64::from(job.entries_per_sync.div_ceil(job.batch_size.max(1))),
                0.0,
                0.0,
            ),
        };
        Rates {
            panels_per_load: panels,
            variables_on_open: on_open,
            variables_on_change: on_change,
            dashboard_fetch_on_open: fetch,
            batches_per_sync: batches,
            fetch_per_sync: sync_fetch,
            freshness_per_sync: if job.freshness && run == 0.0 {
                1.0
            } else {
                0.0
            },
            run_per_sync: run,
        }
    }
}

/// What a load starts with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Visit {
    Open,
    ChangeRange,
    Refresh,
}

/// Events of one hold (times in ms from the hold's start), pooled over the
/// draws, each with its weight (a simulated viewer may stand for several).
#[derive(Default)]
struct HoldEvents {
    loads: Vec<(u64, f64, Visit)>,
    syncs: Vec<(u64, f64)>,
    draws: f64,
}

impl HoldEvents {
    /// Samples per draw of `class` in the hold's first `length`; `None` for
    /// classes the planner does not model.
    fn count(&self, class: RequestClass, rates: &Rates, length: Duration) -> Option<f64> {
        let until = length.as_millis() as u64;
        let mut total = 0.0;
        let per = self.weight_fn(class, rates)?;
        for e in self.loads.iter().filter(|e| e.0 < until) {
            total += e.1 * per.0(e.2);
        }
        for e in self.syncs.iter().filter(|e| e.0 < until) {
            total += e.1 * per.1;
        }
        Some(total / self.draws.max(1.0))
    }

    /// The shortest length from the hold's start over which `needed` samples of
    /// `class` are expected (`None` when the simulated hold never gets there).
    fn shortest(&self, class: RequestClass, rates: &Rates, needed: u64) -> Option<Duration> {
        let per = self.weight_fn(class, rates)?;
        let mut events: Vec<(u64, f64)> = self
            .loads
            .iter()
            .map(|e| (e.0, e.1 * per.0(e.2)))
            .chain(self.syncs.iter().map(|e| (e.0, e.1 * per.1)))
            .filter(|e| e.1 > 0.0)
            .collect();
        events.sort_by_key(|e| e.0);
        let target = needed as f64 * self.draws.max(1.0);
        let mut sum = 0.0;
        for (t, w) in events {
            sum += w;
            if sum >= target - 1e-9 {
                // The event must start inside the window: end just after it.
                return Some(Duration::from_millis(t + 1));
            }
        }
        None
    }

    /// Samples per load (by its visit kind) and per sync of `class`.
    #[allow(clippy::type_complexity)]
    fn weight_fn(
        &self,
        class: RequestClass,
        rates: &Rates,
    ) -> Option<(Box<dyn Fn(Visit) -> f64 + '_>, f64)> {
        let panels = rates.panels_per_load;
        let (open, change, fetch) = (
            rates.variables_on_open,
            rates.variables_on_change,
            rates.dashboard_fetch_on_open,
        );
        Some(match class {
            RequestClass::DashboardLoad => (Box::new(|_| 1.0), 0.0),
            RequestClass::PanelQuery => (Box::new(move |_| panels), 0.0),
            RequestClass::VariableQuery => (
                Box::new(move |v| match v {
                    Visit::Open => open,
                    Visit::ChangeRange => change,
                    Visit::Refresh => 0.0,
                }),
                0.0,
            ),
            RequestClass::DashboardFetch => (
                Box::new(move |v| if v == Visit::Open { fetch } else { 0.0 }),
                0.0,
            ),
            RequestClass::IngestBatch => (Box::new(|_| 0.0), rates.batches_per_sync),
            RequestClass::SyncFetch => (Box::new(|_| 0.0), rates.fetch_per_sync),
            RequestClass::SyncTransform => (
                Box::new(|_| 0.0),
                if rates.run_per_sync > 0.0 { 0.0 } else { 1.0 },
            ),
            RequestClass::IngestFreshness => (Box::new(|_| 0.0), rates.freshness_per_sync),
            RequestClass::SyncRun => (Box::new(|_| 0.0), rates.run_per_sync),
            RequestClass::Other => return None,
        })
    }
}

/// Simulate `stages`, the last one's hold lasting long enough to find the
/// shortest judging hold (at least `length`), and keep what starts in it.
fn simulate_hold(scenario: &Scenario, mut stages: Vec<Stage>, length: Duration) -> HoldEvents {
    let search = (length * 4).max(Duration::from_secs(600)).min(SEARCH_LIMIT);
    let Some(last) = stages.last_mut() else {
        return HoldEvents::default();
    };
    last.hold = search.max(length);
    for s in &mut stages {
        // The viewers a shifted plan's cap lets in arrive as Goose's launches do:
        // simulate Goose's plan. (An earlier until-judged hold is taken at its cap.)
        s.until_judged = false;
    }
    let plan = Plan::build(&stages, None, scenario.sync.users);
    let Some(hold) = plan
        .windows
        .iter()
        .rev()
        .find(|w| w.kind == WindowKind::Hold)
    else {
        return HoldEvents::default();
    };
    let (from, to) = (hold.start_ms, hold.end_ms);
    let lifetimes = lifetimes(&plan);
    let mut events = HoldEvents::default();
    let viewers = lifetimes.viewers.len();
    // Bound the work: simulate a spread of the viewers, each standing for several.
    let per_viewer = match &scenario.viewers {
        Some(v) => {
            let cycle = v
                .refresh
                .unwrap_or(Duration::MAX)
                .min(ASSUMED_LOAD + v.think_time.0)
                .max(ASSUMED_LOAD);
            to as f64 / cycle.as_millis().max(1) as f64
        }
        None => 0.0,
    };
    let simulated = viewers.clamp(1, MAX_SIMULATED_VIEWERS);
    let draws = ((EVENT_BUDGET / (simulated as f64 * per_viewer.max(1.0))) as u64).clamp(1, DRAWS);
    events.draws = draws as f64;
    let weight = viewers as f64 / simulated as f64;
    for draw in 0..draws {
        let mut rng =
            ChaCha8Rng::seed_from_u64(scenario.seed ^ (draw + 1).wrapping_mul(0x9E37_79B9));
        if let Some(v) = &scenario.viewers {
            for k in 0..simulated.min(viewers) {
                let i = k * viewers / simulated;
                let (start, end) = lifetimes.viewers[i];
                viewer_loads(v, start, end.min(to), &mut rng, |t, visit| {
                    if t >= from {
                        events.loads.push((t - from, weight, visit));
                    }
                });
            }
        }
        for &(start, end) in &lifetimes.sync {
            let interval = scenario.sync.interval.as_millis().max(1) as u64;
            let mut t = start;
            while t < end.min(to) {
                if t >= from {
                    events.syncs.push((t - from, 1.0));
                }
                t += interval;
            }
        }
    }
    events
}

/// When each user runs, ms: Goose launches a step's new users evenly over it,
/// the first at its start, sync users first; a step with fewer users stops the
/// newest.
struct Lifetimes {
    viewers: Vec<(u64, u64)>,
    sync: Vec<(u64, u64)>,
}

fn lifetimes(plan: &Plan) -> Lifetimes {
    let mut running: Vec<(bool, u64)> = Vec::new(); // (is sync, start)
    let mut done = Lifetimes {
        viewers: Vec::new(),
        sync: Vec::new(),
    };
    let mut t = 0u64;
    let mut launched_sync = 0;
    for step in &plan.steps {
        let d = step.duration.as_millis() as u64;
        let now = running.len();
        if step.users > now {
            let n = step.users - now;
            for k in 0..n {
                let at = t + d * k as u64 / n as u64;
                let sync = launched_sync < plan.sync_users;
                launched_sync += usize::from(sync);
                running.push((sync, at));
            }
        } else {
            for k in 0..now - step.users {
                let at = t + d * k as u64 / (now - step.users) as u64;
                if let Some((sync, start)) = running.pop() {
                    let list = if sync {
                        &mut done.sync
                    } else {
                        &mut done.viewers
                    };
                    list.push((start, at.max(start)));
                }
            }
        }
        t += d;
    }
    for (sync, start) in running {
        let list = if sync {
            &mut done.sync
        } else {
            &mut done.viewers
        };
        list.push((start, u64::MAX));
    }
    done.viewers.sort();
    done
}

/// The start of every load of a viewer running from `start` to `end` (ms), by
/// the rules of `users::viewer`: first load at a random phase over one refresh
/// period, refreshes on the timer, think time after the last one.
fn viewer_loads(
    v: &crate::scenario::Viewers,
    start: u64,
    end: u64,
    rng: &mut ChaCha8Rng,
    mut emit: impl FnMut(u64, Visit),
) {
    let ms = |d: Duration| d.as_millis() as u64;
    let period = ms(v.refresh.unwrap_or(v.think_time.1));
    let load = ms(ASSUMED_LOAD);
    let mut due = start
        + if period > 0 {
            rng.random_range(0..period)
        } else {
            0
        };
    let mut visit = Visit::Open;
    let mut left = 0u32;
    let mut visits = 0u32;
    while due < end {
        emit(due, visit);
        let finished = due + load;
        let refreshing = match (visit, v.refresh) {
            (Visit::Open | Visit::ChangeRange, Some(_)) if v.refreshes_per_visit > 0 => {
                left = v.refreshes_per_visit;
                true
            }
            (Visit::Refresh, Some(_)) if left > 1 => {
                left -= 1;
                true
            }
            _ => false,
        };
        if let (true, Some(interval)) = (refreshing, v.refresh) {
            let interval = ms(interval).max(1);
            let mut next = due + interval;
            while next <= finished {
                next += interval;
            }
            visit = Visit::Refresh;
            due = next;
        } else {
            visits += 1;
            visit = if visits.is_multiple_of(2) {
                Visit::Open
            } else {
                Visit::ChangeRange
            };
            let (lo, hi) = (ms(v.think_time.0), ms(v.think_time.1));
            let think = if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            };
            due = finished + think;
        }
    }
}

/// `file:line:column` of the `hold` of `[[stages]]` entry `stage` (0-based),
/// for errors about it; the file alone when it cannot be found there (a
/// `--set` override, an inline table).
pub fn hold_location(scenario: &Scenario, stage: usize) -> String {
    table_hold_location(scenario, "[[stages]]", stage)
}

/// `file:line:column` of the `hold` in the `nth` (0-based) table headed `header`.
fn table_hold_location(scenario: &Scenario, header: &str, nth: usize) -> String {
    let stage = nth;
    let file = scenario.path.display().to_string();
    let Ok(text) = std::fs::read_to_string(&scenario.path) else {
        return file;
    };
    let mut seen = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with(header) {
            seen = Some(seen.map_or(0, |s: usize| s + 1));
        } else if trimmed.starts_with('[') {
            if seen == Some(stage) {
                break;
            }
        } else if seen == Some(stage) && trimmed.starts_with("hold") {
            let col = line.len() - trimmed.len() + 1;
            return format!("{file}:{}:{col}", n + 1);
        }
    }
    file
}

/// Print to stderr, before a run sends anything, one warning per hold window
/// that cannot judge an SLO it names ([`SamplePlan::warnings`]).
pub fn warn_at_start(scenario: &Scenario) {
    for w in SamplePlan::of(scenario).warnings() {
        eprintln!(
            "dashload: warning: {}: {w} (`dashload check` shows the samples per window)",
            scenario.path.display()
        );
    }
}

#[cfg(test)]
mod tests;
