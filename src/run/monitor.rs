//! The monitor: the run's clock beside Goose's. It follows the plan (the
//! until-judged holds, the viewer cap of shifted windows, the plan's end),
//! opens each stress step's judging window, and judges the ladder's stop rule,
//! then hands over to the refine steps and the recovery phase (`ladder.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ladder::{level_before, recover_and_end, refine, Ladder, LadderOutcome, TICK};
use crate::judged_hold::Holds;
use crate::live::Live;
use crate::plan::Plan;
use crate::runfolder::{LadderStop, StageWindow, WindowKind};

/// Goose's start (the request log's clock zero), once a user has started.
pub(super) type GooseZero = Arc<dyn Fn() -> Option<Instant> + Send + Sync>;

/// Where Goose's clock starts on the run's clock, whole ms (run.json's
/// `goose_clock_offset_ms`; the report converts with it).
pub(super) fn goose_clock_offset_ms(clock: Instant, goose_zero: Instant) -> i64 {
    match goose_zero.checked_duration_since(clock) {
        Some(after) => after.as_millis() as i64,
        None => -(clock.duration_since(goose_zero).as_millis() as i64),
    }
}

/// `goose_ms` on Goose's clock as the run's clock ms, such that the report's
/// conversion back (minus `goose_clock_offset_ms`) gives `goose_ms` exactly.
fn on_run_clock(goose_ms: u64, clock: Instant, goose_zero: Instant) -> u64 {
    (goose_ms as i64 + goose_clock_offset_ms(clock, goose_zero)).max(0) as u64
}

/// Follow the plan's clock: start a fresh judging window at each stress step's
/// hold, stop the ladder (through Goose's killswitch) when its condition holds over
/// the current hold, and tell users when the plan is over.
///
/// The stop rule looks at the hold only, not the ramp: during the ramp fewer viewers
/// than the step's count are running and the new ones are on their first loads, so
/// the figures are not the step's; and the report judges the step on its hold, so a
/// stop the live judge calls is one the report can show (a ramp-only failure would
/// leave the step's judged window empty).
///
/// With `[stress] refine = N` a stop does not end the run: [`refine`] bisects between
/// the last level held and the one that failed, then the killswitch ends it. With
/// `[recovery]` the load then drops back for the phase ([`recover`]), after the
/// stop or once the ladder held to its ceiling, and the killswitch ends the run
/// after it.
pub(super) async fn monitor(
    (start, plan, goose_zero): (tokio::time::Instant, Plan, GooseZero),
    ladder: Ladder,
    live: Arc<Live>,
    outcome: LadderOutcome,
    holds: Holds,
) {
    let LadderOutcome {
        stop,
        triggered,
        refine_windows,
        recovery_windows,
    } = outcome;
    // Users are told to stop when the load ends, so none sleeps through the ramp down.
    let end = plan.load_end();
    let mut current: Option<StageWindow> = None;
    // When the live window of `current` began (real ms): the stop rule counts
    // the requests that finished since, and the report judges the same ones.
    let mut current_from_ms = 0;
    let mut judging: Option<StageWindow> = None;
    loop {
        tokio::time::sleep(TICK).await;
        let real = start.elapsed();
        // The plan's clock: the real one unless an until-judged hold ended early.
        let mut elapsed = holds.plan_clock(real);
        if let Some(ended) = follow_holds(
            &plan,
            &holds,
            &live,
            &mut judging,
            (real, elapsed),
            ladder.managed,
        ) {
            elapsed = ended;
        }
        if plan.shifted() {
            live.set_viewer_cap(plan.viewers_at(elapsed) as u64);
        }
        if !plan.steps.is_empty() && elapsed >= end {
            // The plan's clock ran ahead of Goose's plan by what the holds saved.
            let elapsed = real;
            if let Some(phase) = plan.recovery.filter(|_| !goose::is_killswitch_triggered()) {
                if ladder.managed {
                    // The manager's order drops every worker at once: load on until then.
                    return;
                }
                recover_and_end(
                    phase,
                    &live,
                    start,
                    elapsed,
                    (&*recovery_windows, &*triggered),
                    "stress ladder held to its ceiling; the recovery phase is over",
                )
                .await;
                return;
            }
            if ladder.refine > 0 && !goose::is_killswitch_triggered() {
                // The ladder held to its ceiling: nothing to refine, and the refine
                // tail need not run.
                triggered.store(true, Ordering::SeqCst);
                goose::trigger_killswitch(
                    "stress ladder held to its ceiling: no refine steps to run",
                );
            } else if plan.shifted() && !goose::is_killswitch_triggered() {
                // Goose's plan lasts as long as every hold's cap: end with the windows.
                live.set_phase(Some("ramp down".into()));
                triggered.store(true, Ordering::SeqCst);
                goose::trigger_killswitch("the plan's windows are over");
            }
            live.stop();
            return;
        }
        let window = plan.stress_window_at(elapsed).cloned();
        if window.as_ref().map(|w| &w.name) != current.as_ref().map(|w| &w.name) {
            current = window;
            current_from_ms = match goose_zero() {
                // A cut on the log's clock: the report then reads the very
                // requests the stop rule counted (`Live::cut`).
                Some(zero) => {
                    let begun = live
                        .cut(zero, |live| {
                            live.begin_window();
                            Some(())
                        })
                        .await;
                    let (_, cut) = begun.expect("a window always begins");
                    on_run_clock(cut, start.into_std(), zero)
                }
                None => {
                    live.begin_window();
                    real.as_millis() as u64
                }
            };
        }
        let Some(step) = &current else { continue };
        if ladder.stop_when.when.is_empty() || step.kind != WindowKind::StressStep {
            continue;
        }
        let decided = match goose_zero() {
            Some(zero) => live
                .cut(zero, |live| live.exceeded(&ladder.stop_when))
                .await
                .map(|(reason, cut)| (reason, on_run_clock(cut, start.into_std(), zero))),
            None => live
                .exceeded(&ladder.stop_when)
                .map(|reason| (reason, start.elapsed().as_millis() as u64)),
        };
        if let Some((reason, at_ms)) = decided {
            // The page shows the reason: say the rule in plain words with it.
            let reason = format!("{reason} — the ladder {}", ladder.stop_when.words());
            // From here on the refine steps and the recovery phase keep real
            // time, from the stop: the cut above may have waited past `real`.
            let elapsed = start.elapsed().max(Duration::from_millis(at_ms));
            *stop.lock().expect("ladder stop lock") = Some(LadderStop {
                step: step.name.clone(),
                viewers: step.viewers,
                reason: reason.clone(),
                at_ms,
                refined_until_ms: None,
                judged_from_ms: Some(current_from_ms),
            });
            let mut message = format!(
                "stress ladder stopped at {} ({} viewers): {reason}",
                step.name, step.viewers
            );
            if ladder.refine > 0 {
                let held = level_before(&plan, step);
                let (held, failed) = refine(
                    &ladder,
                    (held, step.viewers),
                    &live,
                    start,
                    elapsed,
                    &stop,
                    &refine_windows,
                )
                .await;
                if live.is_stopping() {
                    // Ctrl-C or the plan's end came first: not the ladder's stop.
                    return;
                }
                message.push_str(&format!("; refined: held at {held}, failed at {failed}"));
            }
            if let Some(phase) = plan.recovery {
                message.push_str("; the recovery phase followed");
                let from = start.elapsed();
                let shared = (&*recovery_windows, &*triggered);
                recover_and_end(phase, &live, start, from, shared, &message).await;
                return;
            }
            triggered.store(true, Ordering::SeqCst);
            goose::trigger_killswitch(&message);
            live.stop();
            return;
        }
    }
}

/// Follow the until-judged holds at `real` (plan clock `elapsed`): count the
/// samples of the one running, end it on the timeline once judged (`decide`;
/// a distributed run's manager decides for its workers) or when the plan's
/// clock passes its cap, and name it in the live status. Returns the plan's
/// clock after a hold ended now.
fn follow_holds(
    plan: &Plan,
    holds: &Holds,
    live: &Live,
    judging: &mut Option<StageWindow>,
    (real, elapsed): (Duration, Duration),
    managed: bool,
) -> Option<Duration> {
    if !plan.shifted() {
        return None;
    }
    let now = plan.until_judged_at(elapsed).cloned();
    if let Some(w) = judging.take() {
        let started = Duration::from_millis(holds.timeline().real_ms(w.start_ms));
        let counts = live.hold_counts().unwrap_or_default();
        if now.as_ref().map(|n| &n.name) != Some(&w.name) {
            // The plan's clock passed its cap (or a manager's order ended it).
            let capped = Duration::from_millis(holds.timeline().real_ms(w.end_ms));
            let short = holds.missing(&w.name, &counts, capped.saturating_sub(started));
            holds.timeline().end(&w, capped.min(real), short);
            live.end_hold();
        } else if !managed && holds.missing(&w.name, &counts, real - started).is_empty() {
            holds.timeline().end(&w, real, Vec::new());
            live.end_hold();
            live.set_phase(None);
            return Some(holds.plan_clock(real));
        } else {
            *judging = Some(w);
            return None;
        }
    }
    if let Some(w) = now.filter(|w| !holds.timeline().has_ended(&w.name)) {
        live.begin_hold();
        let cap = Duration::from_millis(holds.timeline().real_ms(w.end_ms));
        live.set_phase_until(format!("{} (until judged)", w.name), cap);
        *judging = Some(w);
    } else {
        // The status names the window on the plan's clock, and counts down to
        // the load's end as it now falls.
        let ms = elapsed.as_millis() as u64;
        match plan
            .windows
            .iter()
            .find(|w| w.start_ms <= ms && ms < w.end_ms)
        {
            Some(w) => {
                let end = holds.timeline().real_ms(plan.load_end().as_millis() as u64);
                live.set_phase_until(w.name.clone(), Duration::from_millis(end));
            }
            None => live.set_phase(None),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{RequestClass, Slo, SloMetric};

    #[test]
    fn an_until_judged_hold_ends_once_judged_and_the_plan_clock_skips_the_rest_of_its_cap() {
        let stages = [crate::scenario::Stage {
            users: 4,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(60),
            until_judged: true,
        }];
        let plan = Plan::build(&stages, None, 0);
        let slo = Slo {
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 1000.0,
        };
        let needs = crate::judged_hold::Needs {
            figures: vec![crate::judged_hold::Need {
                class: slo.class,
                metric: slo.metric,
                purpose: crate::sampling::Purpose::Slo,
                needed: crate::report::judge::samples_needed(&slo),
            }],
            min_length: Duration::ZERO,
        };
        let holds = Holds {
            needs: [("stage 1 hold".to_string(), needs)].into(),
            ..Holds::default()
        };
        let live = Live::default();
        let mut judging = None;
        let s = Duration::from_secs;
        let mut follow = |real: Duration, live: &Live| {
            let elapsed = holds.plan_clock(real);
            follow_holds(&plan, &holds, live, &mut judging, (real, elapsed), false)
        };
        assert_eq!(follow(s(1), &live), None, "the ramp");
        // Loads before the hold do not count toward it.
        for _ in 0..30 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        assert_eq!(follow(s(2), &live), None, "the hold starts counting");
        for _ in 0..19 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        // A failed load is no sample of a percentile.
        live.record(
            RequestClass::DashboardLoad,
            Duration::from_millis(10),
            false,
        );
        assert_eq!(follow(s(10), &live), None, "19 of 20");
        live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        assert_eq!(follow(s(11), &live), Some(s(62)), "judged: the plan's end");
        assert_eq!(holds.plan_clock(s(12)), s(63));
        let holds_run = holds.timeline().holds();
        assert_eq!(holds_run.len(), 1);
        assert!(holds_run[0].judged);
        assert_eq!(holds_run[0].held_ms, 9_000);
        let real = holds.timeline().real_windows(&plan.windows);
        assert_eq!((real[1].start_ms, real[1].end_ms), (2_000, 11_000));
    }

    #[test]
    fn an_until_judged_hold_short_of_samples_ends_at_its_cap_and_says_what_it_lacked() {
        let stages = [crate::scenario::Stage {
            users: 4,
            ramp: Duration::ZERO,
            hold: Duration::from_secs(10),
            until_judged: true,
        }];
        let plan = Plan::build(&stages, None, 0);
        let slo = Slo {
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 1000.0,
        };
        let needs = crate::judged_hold::Needs {
            figures: vec![crate::judged_hold::Need {
                class: slo.class,
                metric: slo.metric,
                purpose: crate::sampling::Purpose::Slo,
                needed: 20,
            }],
            min_length: Duration::ZERO,
        };
        let holds = Holds {
            needs: [("stage 1 hold".to_string(), needs)].into(),
            ..Holds::default()
        };
        let live = Live::default();
        let mut judging = None;
        let s = Duration::from_secs;
        let mut follow = |real: Duration| {
            let elapsed = holds.plan_clock(real);
            follow_holds(&plan, &holds, &live, &mut judging, (real, elapsed), false)
        };
        assert_eq!(follow(Duration::from_millis(500)), None);
        for _ in 0..5 {
            live.record(RequestClass::DashboardLoad, Duration::from_millis(10), true);
        }
        assert_eq!(follow(s(9)), None);
        assert_eq!(follow(s(10)), None, "the cap: no jump");
        let holds_run = holds.timeline().holds();
        assert_eq!(holds_run.len(), 1);
        assert!(!holds_run[0].judged);
        assert_eq!(holds_run[0].held_ms, 10_000);
        assert_eq!(holds_run[0].short, ["dashboard_load.p95: 5 of 20 samples"]);
        assert_eq!(holds.plan_clock(s(11)), s(11));
    }
}
