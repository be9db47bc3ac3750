//! The stress ladder's judge and what follows its stop: the stop rule the
//! monitor applies (`monitor.rs`), the `[stress] refine` bisection, the
//! `[recovery]` phase, and the windows that ran in the end. A distributed run's
//! worker runs the recovery phase here too, on its manager's order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::live::Live;
use crate::plan::Plan;
use crate::runfolder::{LadderStop, StageWindow, WindowKind};
use crate::scenario::Scenario;

/// The windows that ran: the planned ones, cut at the ladder's stop when the
/// refine steps or the recovery phase ran instead of the rest, then the refine
/// windows and the recovery window as they ran. Single and distributed runs
/// alike (`cluster::manager`).
pub(crate) fn windows_as_run(
    mut planned: Vec<StageWindow>,
    stop: Option<&LadderStop>,
    refined: Vec<StageWindow>,
    recovered: Vec<StageWindow>,
) -> Vec<StageWindow> {
    if let Some(stop) = stop.filter(|s| s.refined_until_ms.is_some() || !recovered.is_empty()) {
        let at = stop.at_ms;
        planned.retain(|w| w.start_ms < at);
        for w in &mut planned {
            w.end_ms = w.end_ms.min(at);
        }
        planned.extend(refined);
    }
    planned.extend(recovered);
    planned
}

/// What the monitor judges: the ladder's stop rule and its `[stress] refine`.
pub(super) struct Ladder {
    pub(super) stop_when: crate::live::StopRule,
    /// Bisection steps after the ladder stops (0 = none), with each one's ramp and hold.
    pub(super) refine: usize,
    pub(super) ramp: Duration,
    pub(super) hold: Duration,
    /// A distributed run's worker: the manager judges the ladder and orders the
    /// recovery phase (`cluster::worker`), so the plan's end is not the drop.
    pub(super) managed: bool,
}

impl Ladder {
    pub(super) fn of(scenario: &Scenario, plan: &Plan) -> Ladder {
        let stress = scenario.stress.as_ref();
        Ladder {
            stop_when: stress.map(|s| s.stop_rule()).unwrap_or_default(),
            // Only a plan with the refine tail has the time (and users) to refine.
            refine: match stress {
                Some(s) if !plan.refine_tail.is_zero() => s.refine,
                _ => 0,
            },
            ramp: stress.map_or(Duration::ZERO, |s| s.ramp),
            hold: stress.map_or(Duration::ZERO, |s| s.hold),
            managed: false,
        }
    }
}

/// How often the monitor, the refine steps and the recovery phase look.
pub(super) const TICK: Duration = Duration::from_millis(500);

/// Windows the monitor records as they run (refine steps, the recovery phase).
pub type SharedWindows = Arc<Mutex<Vec<StageWindow>>>;

/// What the ladder leaves for run.json, set as it happens: by the monitor, or
/// on a distributed run's worker by its manager's orders.
#[derive(Clone, Default)]
pub struct LadderOutcome {
    /// The ladder's stop, once it stopped.
    pub stop: Arc<Mutex<Option<LadderStop>>>,
    /// The ladder (not a signal or a failure) triggered Goose's killswitch.
    pub triggered: Arc<AtomicBool>,
    /// The refine steps' windows as they ran.
    pub refine_windows: SharedWindows,
    /// The recovery window as it ran.
    pub recovery_windows: SharedWindows,
}

/// The `recovery` window of a drop at `from` (attack clock), as planned.
pub(crate) fn recovery_window(
    phase: crate::scenario::RecoveryPhase,
    from: Duration,
) -> StageWindow {
    StageWindow {
        name: "recovery".into(),
        kind: WindowKind::Recovery,
        viewers: phase.viewers,
        start_ms: from.as_millis() as u64,
        end_ms: (from + phase.hold).as_millis() as u64,
    }
}

/// [`recover`], then end the run through the killswitch with `message`
/// (counted as the ladder's end, not an interruption) unless it was already
/// ending (Ctrl-C, the plan's end). A single run's monitor calls it, and a
/// distributed run's worker on the manager's order (`cluster::worker`).
pub(crate) async fn recover_and_end(
    phase: crate::scenario::RecoveryPhase,
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    (windows, triggered): (&Mutex<Vec<StageWindow>>, &AtomicBool),
    message: &str,
) {
    recover(phase, live, start, from, windows).await;
    if live.is_stopping() {
        return;
    }
    triggered.store(true, Ordering::SeqCst);
    goose::trigger_killswitch(message);
    live.stop();
}

/// `[recovery]`: drop the load to the phase's viewers at `from` (attack clock)
/// through the live viewer cap, record the `recovery` window, and hold until its
/// end (or the run's). The report measures the time to recover on it.
pub(super) async fn recover(
    phase: crate::scenario::RecoveryPhase,
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    windows: &Mutex<Vec<StageWindow>>,
) {
    live.set_viewer_cap(phase.viewers as u64);
    let end = from + phase.hold;
    live.set_phase_until("recovery".into(), end);
    windows
        .lock()
        .expect("recovery windows lock")
        .push(recovery_window(phase, from));
    while start.elapsed() < end && !live.is_stopping() {
        tokio::time::sleep((end - start.elapsed()).min(TICK)).await;
    }
}

/// The ladder's level before `step`: the previous step's viewers, or the last
/// stage's for the first step.
pub(super) fn level_before(plan: &Plan, step: &StageWindow) -> usize {
    let own_ramp = format!("{} ramp", step.name);
    plan.windows
        .iter()
        .rev()
        .find(|w| w.end_ms <= step.start_ms && w.name != own_ramp)
        .map_or(0, |w| w.viewers)
}

/// `[stress] refine`: up to `ladder.refine` bisection steps between `held` and
/// `failed` viewers, from `from` (attack clock). Each sets the viewer cap to the
/// middle level, ramps, and judges its hold with the ladder's stop rule; the
/// windows go to `windows` as they run, and the stop's `refined_until_ms` follows.
/// Returns the narrowed (held, failed).
pub(super) async fn refine(
    ladder: &Ladder,
    (mut held, mut failed): (usize, usize),
    live: &Live,
    start: tokio::time::Instant,
    from: Duration,
    stop: &Mutex<Option<LadderStop>>,
    windows: &Mutex<Vec<StageWindow>>,
) -> (usize, usize) {
    let mut t = from;
    for i in 1..=ladder.refine {
        let level = (held + failed) / 2;
        if level <= held {
            break; // adjacent levels: nothing left between them
        }
        live.set_viewer_cap(level as u64);
        live.set_phase(Some(format!("refine {i} ramp")));
        let hold_start = t + ladder.ramp;
        let hold_end = hold_start + ladder.hold;
        tokio::time::sleep_until(start + hold_start).await;
        if live.is_stopping() {
            break;
        }
        live.begin_window();
        live.set_phase(Some(format!("refine {i}")));
        let mut end = hold_end;
        let mut failed_here = false;
        loop {
            let now = start.elapsed();
            if now >= hold_end {
                break;
            }
            tokio::time::sleep((hold_end - now).min(TICK)).await;
            if live.is_stopping() {
                return (held, failed);
            }
            if live.exceeded(&ladder.stop_when).is_some() {
                end = start.elapsed().min(hold_end);
                failed_here = true;
                break;
            }
        }
        if failed_here {
            failed = level;
        } else {
            held = level;
        }
        let ms = |d: Duration| d.as_millis() as u64;
        {
            let mut w = windows.lock().expect("refine windows lock");
            if !ladder.ramp.is_zero() {
                w.push(StageWindow {
                    name: format!("refine {i} ramp"),
                    kind: WindowKind::Ramp,
                    viewers: level,
                    start_ms: ms(t),
                    end_ms: ms(hold_start),
                });
            }
            w.push(StageWindow {
                name: format!("refine {i}"),
                kind: WindowKind::StressStep,
                viewers: level,
                start_ms: ms(hold_start),
                end_ms: ms(end),
            });
        }
        if let Some(s) = stop.lock().expect("ladder stop lock").as_mut() {
            s.refined_until_ms = Some(ms(end));
        }
        t = end;
    }
    (held, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{RequestClass, Slo, SloMetric};

    fn ladder(refine: usize) -> Ladder {
        Ladder {
            stop_when: crate::live::StopRule {
                when: vec![Slo {
                    class: RequestClass::DashboardLoad,
                    metric: SloMetric::P95,
                    max: 1000.0,
                }],
                failure_share: false,
            },
            refine,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(8),
            managed: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refine_bisects_sets_the_viewer_cap_and_records_its_windows() {
        let live = Live::default();
        let stop = Mutex::new(Some(LadderStop {
            step: "step 1".into(),
            viewers: 14,
            reason: "p95".into(),
            at_ms: 15_000,
            refined_until_ms: None,
            judged_from_ms: None,
        }));
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        // No loads are recorded, so every refine hold holds: the levels climb.
        let narrowed = refine(
            &ladder(3),
            (2, 14),
            &live,
            start,
            Duration::from_secs(15),
            &stop,
            &windows,
        )
        .await;
        assert_eq!(narrowed, (12, 14), "8, then 11, then 12 held");
        assert!(live.viewer_active(11) && !live.viewer_active(12));
        assert_eq!(live.phase().as_deref(), Some("refine 3"));
        let shape: Vec<_> = windows
            .lock()
            .unwrap()
            .iter()
            .map(|w| (w.name.clone(), w.kind, w.viewers, w.start_ms, w.end_ms))
            .collect();
        assert_eq!(
            shape[..2],
            [
                ("refine 1 ramp".into(), WindowKind::Ramp, 8, 15_000, 17_000),
                ("refine 1".into(), WindowKind::StressStep, 8, 17_000, 25_000),
            ]
        );
        assert_eq!(shape.len(), 6);
        assert_eq!(shape[3].2, 11);
        assert_eq!(shape[5].2, 12);
        let until = stop.lock().unwrap().as_ref().unwrap().refined_until_ms;
        assert_eq!(until, Some(45_000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_refine_hold_ends_early_and_lowers_the_failed_level() {
        let live = Live::default();
        let stop = Mutex::new(None);
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let slow = async {
            // Every load is slow, from the first hold on: each refine step fails.
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                live.record(RequestClass::DashboardLoad, Duration::from_secs(3), true);
            }
        };
        let two = ladder(2);
        let narrowed = tokio::select! {
            n = refine(&two, (10, 20), &live, start, Duration::ZERO, &stop, &windows) => n,
            _ = slow => unreachable!(),
        };
        assert_eq!(narrowed, (10, 12), "15 failed, then 12");
        let w = windows.lock().unwrap();
        assert_eq!(w[1].name, "refine 1");
        assert!(w[1].end_ms < 10_000, "the hold stopped early: {:?}", w[1]);
        assert_eq!(
            w[2].start_ms, w[1].end_ms,
            "the next ramp starts at the stop"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn recovery_drops_the_viewer_cap_and_records_its_window() {
        let live = Live::default();
        let windows = Mutex::new(Vec::new());
        let start = tokio::time::Instant::now();
        let phase = crate::scenario::RecoveryPhase {
            viewers: 7,
            hold: Duration::from_secs(20),
            window: Duration::from_secs(5),
        };
        recover(phase, &live, start, Duration::from_secs(30), &windows).await;
        assert!(live.viewer_active(6) && !live.viewer_active(7));
        assert_eq!(live.phase().as_deref(), Some("recovery"));
        // The live status counts down to the phase's end, not the plan's.
        assert_eq!(live.phase_end(), Some(Duration::from_secs(50)));
        assert!(start.elapsed() >= Duration::from_secs(50), "it held");
        let w = windows.lock().unwrap();
        assert_eq!(
            (
                w[0].name.as_str(),
                w[0].kind,
                w[0].viewers,
                w[0].start_ms,
                w[0].end_ms
            ),
            ("recovery", WindowKind::Recovery, 7, 30_000, 50_000)
        );
    }

    #[test]
    fn the_level_before_a_step_is_the_previous_hold() {
        let stages = [crate::scenario::Stage {
            users: 5,
            ramp: Duration::from_secs(1),
            hold: Duration::from_secs(5),
            until_judged: false,
        }];
        let stress = crate::scenario::Stress {
            step: 10,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(8),
            ceiling: 30,
            stop_when: Vec::new(),
            stop_on_failure_share: false,
            refine: 0,
            until_judged: false,
        };
        let plan = Plan::build(&stages, Some(&stress), 0);
        let step = |name: &str| plan.windows.iter().find(|w| w.name == name).unwrap();
        assert_eq!(level_before(&plan, step("step 1")), 5);
        assert_eq!(level_before(&plan, step("step 2")), 15);
    }
}
