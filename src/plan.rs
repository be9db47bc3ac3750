//! Load shape: a scenario's stages and stress ladder → a Goose test plan, and the
//! time window of every stage and step, so the report can judge each one.
//!
//! Goose's plan counts every user; dashload's stages count dashboard viewers. The
//! sync-job users are added to every step, and Goose launches them first (see
//! `users::register`), so their number stays fixed while viewers grow.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::runfolder::{StageWindow, WindowKind};
use crate::scenario::{RecoveryPhase, Scenario, Stage, Stress};

/// All validation of a scenario file, the one function `check` and `run` call so
/// they agree: read and resolve it, then its plan. `goose_shape`: the command line
/// gives Goose's own load shape (`-u`/`-t`/`--test-plan`), so the scenario needs
/// no stages and its plan is empty but for the sync users.
pub fn validate(path: &Path, goose_shape: bool) -> Result<(Scenario, Plan)> {
    validate_with(path, &crate::scenario::Overrides::none(), goose_shape)
}

/// [`validate`] with `--set` / `DASHLOAD_TARGET_*` overrides applied to the file.
pub fn validate_with(
    path: &Path,
    overrides: &crate::scenario::Overrides,
    goose_shape: bool,
) -> Result<(Scenario, Plan)> {
    let scenario = Scenario::load_with(path, overrides)?;
    let plan = if goose_shape {
        Plan {
            steps: Vec::new(),
            windows: Vec::new(),
            sync_users: scenario.sync.users,
            refine_tail: Duration::ZERO,
            recovery_tail: Duration::ZERO,
            recovery: None,
            until_judged: Default::default(),
        }
    } else {
        Plan::for_scenario(&scenario)?
    };
    Ok((scenario, plan))
}

/// The ramp down that ends every plan: users stop within it.
pub const RAMP_DOWN: Duration = Duration::from_secs(1);

/// One step of the Goose test plan: reach `users` (all kinds) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Total users at the end of the step.
    pub users: usize,
    /// How long the step lasts (whole seconds: Goose's plan has no finer unit).
    pub duration: Duration,
}

/// The whole load shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Goose steps, in order.
    pub steps: Vec<Step>,
    /// Stage and stress-step windows, ms since the attack started.
    pub windows: Vec<StageWindow>,
    /// Sync-job users included in every step.
    pub sync_users: usize,
    /// Time planned after the ladder for `[stress] refine` (zero without it).
    pub refine_tail: Duration,
    /// Time planned after the ladder (and refine tail) for `[recovery]`.
    pub recovery_tail: Duration,
    /// `[recovery]`, when the plan has a ladder for it to follow.
    pub recovery: Option<RecoveryPhase>,
    /// The hold windows that last until judged (`hold = "until judged, at
    /// most X"`), by name; their planned length is the cap. When any is, the
    /// plan is *shifted*: see [`Plan::shifted`].
    pub until_judged: BTreeSet<String>,
}

/// Slack added to the refine tail: the monitor sees a hold end up to one tick late.
pub const REFINE_SLACK: Duration = Duration::from_secs(2);

impl Plan {
    /// The plan a `run` of the scenario follows, or why there is none. Its size
    /// was bounded by `[limits]` when the scenario loaded, so building it is cheap.
    pub fn for_scenario(scenario: &Scenario) -> Result<Plan> {
        let plan = Plan::from_scenario(scenario);
        if plan.steps.is_empty() {
            return Err(Error::config(
                format!("{}:1:1", scenario.path.display()),
                "the scenario has no [[stages]]: add one, or give `run` Goose's -u/-t or --test-plan",
            ));
        }
        Ok(plan)
    }

    /// Build the plan of a scenario (empty without stages).
    pub fn from_scenario(scenario: &Scenario) -> Plan {
        Plan::build(
            &scenario.stages,
            scenario.stress.as_ref(),
            scenario.sync.users,
        )
        .with_recovery(scenario.recovery)
    }

    /// `[recovery]`: after the ladder (and its refine tail) the users it started
    /// stay launched for the phase's hold, as Goose's plan is fixed once the run
    /// starts; the live viewer cap lets only the phase's viewers load. Not a
    /// window: the monitor records the `recovery` window when the drop happens
    /// (the ladder's stop, or its end at the ceiling).
    pub fn with_recovery(mut self, phase: Option<RecoveryPhase>) -> Plan {
        let Some(phase) = phase else { return self };
        if !self
            .windows
            .iter()
            .any(|w| w.kind == WindowKind::StressStep)
        {
            return self;
        }
        let Some(top) = self.steps.iter().map(|s| s.users).max() else {
            return self;
        };
        let tail = phase.hold + REFINE_SLACK;
        // Before the final ramp down.
        let at = self.steps.len().saturating_sub(1);
        self.steps.insert(
            at,
            Step {
                users: top,
                duration: tail,
            },
        );
        self.recovery_tail = tail;
        self.recovery = Some(phase);
        self
    }

    /// Build a plan from stages, an optional ladder, and the fixed sync users.
    pub fn build(stages: &[Stage], stress: Option<&Stress>, sync_users: usize) -> Plan {
        let mut plan = Plan {
            steps: Vec::new(),
            windows: Vec::new(),
            sync_users,
            refine_tail: Duration::ZERO,
            recovery_tail: Duration::ZERO,
            recovery: None,
            until_judged: BTreeSet::new(),
        };
        let mut t = Duration::ZERO;
        for (i, stage) in stages.iter().enumerate() {
            let n = i + 1;
            if stage.ramp.is_zero() {
                // Goose ramps over a step's whole duration: jump with a 0s step.
                plan.steps.push(Step {
                    users: stage.users + sync_users,
                    duration: Duration::ZERO,
                });
            } else {
                plan.push(
                    &mut t,
                    stage.users,
                    stage.ramp,
                    format!("stage {n} ramp"),
                    WindowKind::Ramp,
                );
            }
            if !stage.hold.is_zero() {
                let name = format!("stage {n} hold");
                if stage.until_judged {
                    plan.until_judged.insert(name.clone());
                }
                plan.push(&mut t, stage.users, stage.hold, name, WindowKind::Hold);
            }
        }
        if let (Some(stress), Some(last)) = (stress, stages.last()) {
            let mut viewers = last.users;
            let mut k = 0;
            while viewers < stress.ceiling {
                k += 1;
                viewers = (viewers + stress.step).min(stress.ceiling);
                plan.stress_step(&mut t, k, viewers, stress);
            }
            if stress.refine > 0 && !stress.stop_when.is_empty() {
                // The refine steps run after the ladder stops, at levels below the
                // ceiling: keep the ceiling's users started for as long as they can
                // take (the live viewer cap decides which of them load). Not a
                // window: the monitor records the refine windows as they run, and
                // stops the run here if the ladder never failed.
                let each = stress.ramp + stress.hold;
                let tail = each * stress.refine as u32 + REFINE_SLACK;
                plan.steps.push(Step {
                    users: viewers + sync_users,
                    duration: tail,
                });
                plan.refine_tail = tail;
            }
        }
        if !plan.until_judged.is_empty() {
            plan.shift();
        }
        if !plan.steps.is_empty() {
            // A Goose plan whose last step has users holds them until cancelled:
            // end with a short ramp down to 0 so the run ends by itself.
            plan.steps.push(Step {
                users: 0,
                duration: RAMP_DOWN,
            });
        }
        plan
    }

    /// One stress step: its ramp is a ramp window (`step k ramp`, not judged), its
    /// hold the step's judged window (`step k`, kind `StressStep`).
    fn stress_step(&mut self, t: &mut Duration, k: usize, viewers: usize, stress: &Stress) {
        if stress.ramp.is_zero() {
            self.steps.push(Step {
                users: viewers + self.sync_users,
                duration: Duration::ZERO,
            });
        } else {
            self.push(
                t,
                viewers,
                stress.ramp,
                format!("step {k} ramp"),
                WindowKind::Ramp,
            );
        }
        let name = format!("step {k}");
        if stress.until_judged {
            self.until_judged.insert(name.clone());
        }
        self.push(t, viewers, stress.hold, name, WindowKind::StressStep);
    }

    /// True when some hold lasts until judged: Goose's test plan is fixed once
    /// the run starts, so it launches the peak's users at once and holds them
    /// for the longest the windows can take; the monitor lets the viewers load
    /// through the live viewer cap on a clock that skips what an ended hold
    /// left of its cap ([`Plan::viewers_at`], `judged_hold::Timeline`).
    pub fn shifted(&self) -> bool {
        !self.until_judged.is_empty()
    }

    /// Turn the planned steps into a shifted plan's: every user the plan ever
    /// runs, launched at once, for the planned steps' whole length.
    fn shift(&mut self) {
        let peak = self.steps.iter().map(|s| s.users).max().unwrap_or(0);
        let length: Duration = self.steps.iter().map(|s| s.duration).sum();
        self.steps = vec![
            Step {
                users: peak,
                duration: Duration::ZERO,
            },
            Step {
                users: peak,
                duration: length,
            },
        ];
    }

    /// Viewers the windows ask for at `t` on the plan's clock: a ramp's rise
    /// from the previous window's count, linear as Goose launches; a hold's
    /// count; the last window's after the last. A shifted plan's monitor sets
    /// the live viewer cap to it.
    pub fn viewers_at(&self, t: Duration) -> usize {
        let ms = t.as_millis() as u64;
        let mut before = 0;
        for w in &self.windows {
            if ms < w.start_ms {
                return before;
            }
            if ms < w.end_ms {
                if w.kind != WindowKind::Ramp {
                    return w.viewers;
                }
                let span = (w.end_ms - w.start_ms) as f64;
                let done = (ms - w.start_ms) as f64 / span;
                let v = before as f64 + (w.viewers as f64 - before as f64) * done;
                return v.round().max(0.0) as usize;
            }
            before = w.viewers;
        }
        before
    }

    /// The window at `t` on the plan's clock that lasts until judged, if any.
    pub fn until_judged_at(&self, t: Duration) -> Option<&StageWindow> {
        let ms = t.as_millis() as u64;
        self.windows
            .iter()
            .find(|w| w.start_ms <= ms && ms < w.end_ms && self.until_judged.contains(&w.name))
    }

    fn push(
        &mut self,
        t: &mut Duration,
        viewers: usize,
        d: Duration,
        name: String,
        kind: WindowKind,
    ) {
        let start = *t;
        *t += d;
        self.steps.push(Step {
            users: viewers + self.sync_users,
            duration: d,
        });
        self.windows.push(StageWindow {
            name,
            kind,
            viewers,
            start_ms: start.as_millis() as u64,
            end_ms: t.as_millis() as u64,
        });
    }

    /// The plan in Goose's `--test-plan` syntax: `users,seconds;…`.
    pub fn goose_test_plan(&self) -> String {
        self.steps
            .iter()
            .map(|s| format!("{},{}s", s.users, s.duration.as_secs()))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Users Goose launches over the run: the sum of every increase.
    pub fn total_launched(&self) -> usize {
        let mut previous = 0;
        let mut total = 0;
        for s in &self.steps {
            total += s.users.saturating_sub(previous);
            previous = s.users;
        }
        total
    }

    /// The whole run's length, the final ramp down included.
    pub fn duration(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }

    /// When the load ends: the end of the last window (the ramp down follows).
    pub fn load_end(&self) -> Duration {
        Duration::from_millis(self.windows.iter().map(|w| w.end_ms).max().unwrap_or(0))
    }

    /// The most viewers at any time.
    pub fn peak_viewers(&self) -> usize {
        self.windows.iter().map(|w| w.viewers).max().unwrap_or(0)
    }

    /// The stress step running at `elapsed`, if any.
    pub fn stress_window_at(&self, elapsed: Duration) -> Option<&StageWindow> {
        let ms = elapsed.as_millis() as u64;
        self.windows
            .iter()
            .find(|w| w.kind == WindowKind::StressStep && w.start_ms <= ms && ms < w.end_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn stages_and_ladder_become_a_goose_plan_with_sync_users_in_every_step() {
        let stages = [
            Stage {
                users: 50,
                ramp: secs(10),
                hold: secs(20),
                until_judged: false,
            },
            Stage {
                users: 100,
                ramp: secs(10),
                hold: secs(30),
                until_judged: false,
            },
        ];
        let stress = Stress {
            step: 60,
            ramp: secs(5),
            hold: secs(15),
            ceiling: 200,
            stop_when: vec![],
            stop_on_failure_share: false,
            refine: 0,
            until_judged: false,
        };
        let plan = Plan::build(&stages, Some(&stress), 1);
        assert_eq!(
            plan.goose_test_plan(),
            "51,10s;51,20s;101,10s;101,30s;161,5s;161,15s;201,5s;201,15s;0,1s"
        );
        assert_eq!(plan.total_launched(), 201);
        assert_eq!(plan.duration(), secs(111));
        assert_eq!(plan.load_end(), secs(110));
        assert_eq!(plan.peak_viewers(), 200);
        let names: Vec<_> = plan
            .windows
            .iter()
            .map(|w| (w.name.as_str(), w.start_ms, w.end_ms, w.viewers))
            .collect();
        assert_eq!(
            names,
            [
                ("stage 1 ramp", 0, 10_000, 50),
                ("stage 1 hold", 10_000, 30_000, 50),
                ("stage 2 ramp", 30_000, 40_000, 100),
                ("stage 2 hold", 40_000, 70_000, 100),
                ("step 1 ramp", 70_000, 75_000, 160),
                ("step 1", 75_000, 90_000, 160),
                ("step 2 ramp", 90_000, 95_000, 200),
                ("step 2", 95_000, 110_000, 200),
            ]
        );
        assert_eq!(plan.stress_window_at(secs(95)).unwrap().name, "step 2");
        assert!(plan.stress_window_at(secs(50)).is_none());
        // A step's ramp is not its judged window: the ladder's stop rule waits for the hold.
        assert!(plan.stress_window_at(secs(92)).is_none());
        let kinds: Vec<_> = plan.windows[4..].iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [
                WindowKind::Ramp,
                WindowKind::StressStep,
                WindowKind::Ramp,
                WindowKind::StressStep
            ]
        );
    }

    #[test]
    fn refine_keeps_the_ceiling_running_after_the_ladder_without_windows() {
        let stages = [Stage {
            users: 10,
            ramp: secs(2),
            hold: secs(5),
            until_judged: false,
        }];
        let stress = Stress {
            step: 10,
            ramp: secs(2),
            hold: secs(8),
            ceiling: 30,
            stop_when: vec![crate::runfolder::Slo {
                class: crate::runfolder::RequestClass::DashboardLoad,
                metric: crate::runfolder::SloMetric::P95,
                max: 1000.0,
            }],
            stop_on_failure_share: false,
            refine: 3,
            until_judged: false,
        };
        let plan = Plan::build(&stages, Some(&stress), 1);
        assert_eq!(
            plan.goose_test_plan(),
            "11,2s;11,5s;21,2s;21,8s;31,2s;31,8s;31,32s;0,1s"
        );
        assert_eq!(plan.refine_tail, secs(32));
        // The load's planned end is the ladder's: the refine windows are the monitor's.
        assert_eq!(plan.load_end(), secs(27));
        assert_eq!(plan.windows.len(), 6);
        // Without a stop rule the ladder never fails: nothing to refine.
        let never = Stress {
            stop_when: vec![],
            stop_on_failure_share: false,
            ..stress
        };
        assert_eq!(Plan::build(&stages, Some(&never), 1).refine_tail, secs(0));
    }

    #[test]
    fn recovery_holds_the_ladders_users_after_it_and_its_refine_tail() {
        let stages = [Stage {
            users: 10,
            ramp: secs(2),
            hold: secs(5),
            until_judged: false,
        }];
        let stress = Stress {
            step: 10,
            ramp: secs(2),
            hold: secs(8),
            ceiling: 30,
            stop_when: vec![crate::runfolder::Slo {
                class: crate::runfolder::RequestClass::DashboardLoad,
                metric: crate::runfolder::SloMetric::P95,
                max: 1000.0,
            }],
            stop_on_failure_share: false,
            refine: 1,
            until_judged: false,
        };
        let phase = RecoveryPhase {
            viewers: 10,
            hold: secs(20),
            window: secs(5),
        };
        let plan = Plan::build(&stages, Some(&stress), 1).with_recovery(Some(phase));
        assert_eq!(
            plan.goose_test_plan(),
            "11,2s;11,5s;21,2s;21,8s;31,2s;31,8s;31,12s;31,22s;0,1s"
        );
        assert_eq!(plan.recovery_tail, secs(22));
        assert_eq!(plan.recovery, Some(phase));
        assert_eq!(plan.load_end(), secs(27), "the monitor records the phase");
        assert_eq!(plan.total_launched(), 31, "no user launched for it");
        // Without a ladder there is nothing to recover from.
        let flat = Plan::build(&stages, None, 1).with_recovery(Some(phase));
        assert_eq!(flat.recovery, None);
        assert_eq!(flat.goose_test_plan(), "11,2s;11,5s;0,1s");
    }

    #[test]
    fn plan_size_follows_steps_never_users_or_seconds() {
        let stages = [Stage {
            users: 0,
            ramp: secs(86_400),
            hold: secs(86_400),
            until_judged: false,
        }];
        let stress = Stress {
            step: 100_000,
            ramp: secs(3600),
            hold: secs(86_400),
            ceiling: 1_000_000,
            stop_when: vec![],
            stop_on_failure_share: false,
            refine: 0,
            until_judged: false,
        };
        let plan = Plan::build(&stages, Some(&stress), 1);
        assert_eq!(plan.windows.len(), 2 + 2 * 10);
        assert_eq!(plan.steps.len(), 2 + 2 * 10 + 1);
    }

    #[test]
    fn check_and_run_refuse_a_scenario_without_stages_alike() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = dir.path().join("s.toml");
        let dashboard = root.join("scenarios/dashboards/toggl-overview.json");
        std::fs::write(
            &path,
            format!(
                "[viewers]\ndashboard = {:?}\n",
                dashboard.display().to_string()
            ),
        )
        .unwrap();
        // `check` validates as a plain `run` does.
        let e = validate(&path, false).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        assert_eq!(
            e.to_string(),
            format!("{}:1:1: the scenario has no [[stages]]: add one, or give `run` Goose's -u/-t or --test-plan", path.display())
        );
        // Goose's own shape needs no stages.
        let (_, plan) = validate(&path, true).unwrap();
        assert!(plan.steps.is_empty());
    }

    #[test]
    fn a_stage_without_ramp_has_no_ramp_window() {
        let plan = Plan::build(
            &[Stage {
                users: 5,
                ramp: Duration::ZERO,
                hold: secs(10),
                until_judged: false,
            }],
            None,
            0,
        );
        assert_eq!(plan.goose_test_plan(), "5,0s;5,10s;0,1s");
        assert_eq!(plan.windows.len(), 1);
        assert_eq!(plan.windows[0].kind, WindowKind::Hold);
    }

    #[test]
    fn an_until_judged_hold_shifts_the_plan_users_launched_at_once_the_cap_follows_the_windows() {
        let stages = [
            Stage {
                users: 10,
                ramp: secs(10),
                hold: secs(60),
                until_judged: true,
            },
            Stage {
                users: 4,
                ramp: Duration::ZERO,
                hold: secs(20),
                until_judged: false,
            },
        ];
        let plan = Plan::build(&stages, None, 1);
        assert!(plan.shifted());
        assert_eq!(
            plan.until_judged.iter().collect::<Vec<_>>(),
            ["stage 1 hold"]
        );
        // Goose launches every user at once and holds them for the longest run.
        assert_eq!(plan.goose_test_plan(), "11,0s;11,90s;0,1s");
        assert_eq!(plan.total_launched(), 11);
        // The windows keep their planned (longest) times.
        assert_eq!(plan.load_end(), secs(90));
        // The viewer cap: a linear ramp, the hold, then the drop to stage 2.
        let at = |ms: u64| plan.viewers_at(Duration::from_millis(ms));
        assert_eq!([at(0), at(5_000), at(9_999), at(10_000)], [0, 5, 10, 10]);
        assert_eq!([at(69_999), at(70_000), at(95_000)], [10, 4, 4]);
        assert_eq!(plan.until_judged_at(secs(30)).unwrap().name, "stage 1 hold");
        assert!(plan.until_judged_at(secs(75)).is_none());
        assert!(plan.until_judged_at(secs(5)).is_none());
        // A ladder's steps can last until judged too; without any, nothing shifts.
        let stress = Stress {
            step: 5,
            ramp: secs(2),
            hold: secs(30),
            ceiling: 14,
            stop_when: vec![],
            stop_on_failure_share: false,
            refine: 0,
            until_judged: true,
        };
        let fixed = [Stage {
            until_judged: false,
            ..stages[1]
        }];
        let ladder = Plan::build(&fixed, Some(&stress), 0);
        assert_eq!(
            ladder.until_judged.iter().collect::<Vec<_>>(),
            ["step 1", "step 2"]
        );
        assert_eq!(ladder.goose_test_plan(), "14,0s;14,84s;0,1s");
        assert!(!Plan::build(&fixed, None, 0).shifted());
        assert_eq!(
            Plan::build(&fixed, None, 0).goose_test_plan(),
            "4,0s;4,20s;0,1s"
        );
    }
}
