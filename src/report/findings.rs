//! The run's findings: the answers every output states (what broke first,
//! capacity, knee, recovery, what happened past capacity), worked out once
//! from the [`Summary`]. The page, the console and the Markdown render these
//! values and work out none of them on their own, so they cannot disagree.

use crate::runfolder::WindowKind;

use super::analyse::KNEE_FRACTION;
use super::format::seconds;
use super::summary::{FailingSlo, SloResult, SloVerdict, Summary};

/// The answers of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    /// Why the holds failed the run: the judged SLO furthest past its bound.
    pub worst_hold_failure: Option<Breach>,
    /// The first window on which an SLO failed, or why none did.
    pub first_break: FirstBreak,
    /// Capacity and headroom.
    pub capacity: Capacity,
    /// Where added viewers stopped adding throughput, or why no such point.
    pub knee: Knee,
    /// The recovery phase, when the scenario has one.
    pub recovery: Option<Recovery>,
    /// What the stress ladder did past capacity.
    pub degradation: Degradation,
}

impl Findings {
    /// The findings of `s`.
    pub fn of(s: &Summary) -> Findings {
        Findings {
            worst_hold_failure: Breach::worst(s, s.slos.iter().filter(|r| r.judged)),
            first_break: FirstBreak::of(s),
            capacity: Capacity::of(s),
            knee: Knee::of(s),
            recovery: Recovery::of(s),
            degradation: Degradation::of(s),
        }
    }
}

/// An SLO that failed on a window: the figure against its bound, where.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// The window.
    pub window: String,
    /// Its viewers.
    pub viewers: Option<usize>,
    /// The failed figure against its bound.
    pub failing: FailingSlo,
}

impl Breach {
    /// The failed result of `results` furthest past its bound.
    fn worst<'a>(s: &Summary, results: impl Iterator<Item = &'a SloResult>) -> Option<Breach> {
        let worst = results
            .filter(|r| r.verdict == SloVerdict::Fail && r.observed.is_some())
            .max_by(|a, b| overshoot(a).total_cmp(&overshoot(b)))?;
        Some(Breach {
            window: worst.window.clone(),
            viewers: s
                .windows
                .iter()
                .find(|w| w.name == worst.window)
                .map(|w| w.viewers),
            failing: FailingSlo {
                class: worst.class,
                metric: worst.metric,
                observed: worst.observed.unwrap_or(f64::NAN),
                max: worst.max,
            },
        })
    }

    /// `dashboard load p95 1449 ms > 900 ms on step 2 (80 viewers)`.
    pub fn sentence(&self) -> String {
        let viewers = self
            .viewers
            .map(|v| format!(" ({v} viewers)"))
            .unwrap_or_default();
        format!("{} on {}{viewers}", self.failing.sentence(), self.window)
    }
}

/// What broke first.
#[derive(Debug, Clone, PartialEq)]
pub enum FirstBreak {
    /// The earliest window (by start) on which an SLO failed, with its figure
    /// furthest past its bound. Recovery windows are left out: they measure
    /// the aftermath of the load, which [`Recovery`] answers.
    Slo(Breach),
    /// No SLO failed, but the stress ladder stopped early.
    LadderStop {
        /// The step it stopped at.
        step: String,
        /// That step's viewers.
        viewers: usize,
        /// Why.
        reason: String,
    },
    /// Nothing broke.
    Nothing {
        /// The most viewers of any window.
        up_to: usize,
        /// Whether a stress ladder ran.
        ladder: bool,
    },
}

impl FirstBreak {
    fn of(s: &Summary) -> FirstBreak {
        let window = |name: &str| s.windows.iter().find(|w| w.name == name);
        let failed = |r: &&SloResult| {
            r.verdict == SloVerdict::Fail
                && r.window_kind != WindowKind::Recovery
                && r.observed.is_some()
        };
        let first = s
            .slos
            .iter()
            .filter(failed)
            .min_by_key(|r| window(&r.window).map_or(u64::MAX, |w| w.start_ms));
        if let Some(first) = first {
            let on_first = s
                .slos
                .iter()
                .filter(failed)
                .filter(|r| r.window == first.window);
            if let Some(breach) = Breach::worst(s, on_first) {
                return FirstBreak::Slo(breach);
            }
        }
        if let Some(stop) = &s.run.ladder_stop {
            return FirstBreak::LadderStop {
                step: stop.step.clone(),
                viewers: stop.viewers,
                reason: stop.reason.clone(),
            };
        }
        FirstBreak::Nothing {
            up_to: s.windows.iter().map(|w| w.viewers).max().unwrap_or(0),
            ladder: s.windows.iter().any(|w| w.kind == WindowKind::StressStep),
        }
    }

    /// The window that broke, if one did.
    pub fn window(&self) -> Option<&str> {
        match self {
            FirstBreak::Slo(b) => Some(&b.window),
            _ => None,
        }
    }

    /// `dashboard load p95 1449 ms > 900 ms on step 2 (80 viewers)`.
    pub fn sentence(&self) -> String {
        match self {
            FirstBreak::Slo(b) => b.sentence(),
            FirstBreak::LadderStop {
                step,
                viewers,
                reason,
            } => {
                format!("no SLO failed; the ladder stopped at {step} ({viewers} viewers): {reason}")
            }
            FirstBreak::Nothing { up_to, ladder } => format!(
                "nothing: every SLO held on every window, up to {up_to} viewers{}",
                if *ladder { "" } else { " (no stress ladder)" }
            ),
        }
    }
}

/// How far past its bound an SLO result is: observed ÷ bound.
fn overshoot(r: &SloResult) -> f64 {
    match r.observed {
        Some(v) if r.max > 0.0 => v / r.max,
        Some(_) => f64::INFINITY,
        None => 0.0,
    }
}

/// Capacity: the bracket and headroom, or the most viewers that held.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// `held at 50, failed at 100 (…); headroom …`.
    pub sentence: String,
    /// Held viewers ÷ planned peak, when known.
    pub headroom: Option<f64>,
}

impl Capacity {
    fn of(s: &Summary) -> Capacity {
        let sentence = match &s.capacity_bracket {
            Some(b) => match b.headroom_sentence() {
                Some(h) => format!("{}; {h}", b.sentence()),
                None => b.sentence(),
            },
            None => s
                .capacity
                .map_or("not found: no window where every SLO held".into(), |c| {
                    format!("{c} viewers")
                }),
        };
        Capacity {
            sentence,
            headroom: s.capacity_bracket.as_ref().and_then(|b| b.headroom),
        }
    }
}

/// The knee, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Knee {
    /// Added viewers stopped adding throughput after `viewers`.
    At(super::summary::Knee),
    /// Fewer than two viewer counts held or stepped.
    TooFewLevels(usize),
    /// No successful viewer request to measure throughput by.
    NoThroughput,
    /// Every step added at least [`KNEE_FRACTION`] of the first level's
    /// throughput per viewer, up to `up_to` viewers.
    KeptGrowing {
        /// The most viewers stepped.
        up_to: usize,
    },
}

impl Knee {
    fn of(s: &Summary) -> Knee {
        if let Some(k) = &s.knee {
            return Knee::At(k.clone());
        }
        let mut counts: Vec<usize> = s
            .concurrency
            .iter()
            .map(|p| p.viewers)
            .filter(|v| *v > 0)
            .collect();
        counts.sort_unstable();
        counts.dedup();
        if counts.len() < 2 {
            return Knee::TooFewLevels(counts.len());
        }
        if s.concurrency.iter().all(|p| p.viewer_throughput_rps <= 0.0) {
            return Knee::NoThroughput;
        }
        Knee::KeptGrowing {
            up_to: counts[counts.len() - 1],
        }
    }

    /// The knee's viewers, if there is one.
    pub fn viewers(&self) -> Option<usize> {
        match self {
            Knee::At(k) => Some(k.viewers),
            _ => None,
        }
    }

    /// `80 viewers: on to 100 (step 3), each added viewer added only 12 % …`, or why none.
    pub fn sentence(&self) -> String {
        match self {
            Knee::At(k) if k.slope_ratio < 0.0 => format!(
                "{} viewers: throughput fell on to {} viewers ({})",
                k.viewers, k.next_viewers, k.next_window
            ),
            Knee::At(k) => format!(
                "{} viewers: on to {} ({}), each added viewer added only {:.0} % of the first level's throughput per viewer (a knee: below {:.0} %)",
                k.viewers,
                k.next_viewers,
                k.next_window,
                k.slope_ratio * 100.0,
                k.fraction * 100.0
            ),
            Knee::TooFewLevels(n) => format!(
                "none: too few windows ({n} viewer count{} held or stepped; a knee needs two)",
                if *n == 1 { "" } else { "s" }
            ),
            Knee::NoThroughput => {
                "none: no successful viewer requests to measure throughput by".into()
            }
            Knee::KeptGrowing { up_to } => format!(
                "none: throughput kept growing with viewers (every step up to {up_to} viewers added at least {:.0} % of the first level's throughput per viewer)",
                KNEE_FRACTION * 100.0
            ),
        }
    }
}

/// The recovery phase: its verdict and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// Pass or fail against the allowed time; `None` when no bound was set.
    pub verdict: Option<SloVerdict>,
    /// `FAIL: viewers did not recover within 59.7 s (allowed 30 s; back to 40 viewers at …)`.
    pub sentence: String,
}

impl Recovery {
    fn of(s: &Summary) -> Option<Recovery> {
        let r = s.recovery.as_ref()?;
        let verdict = match r.verdict {
            Some(SloVerdict::Fail) => "FAIL: ",
            Some(SloVerdict::Pass) => "pass: ",
            Some(SloVerdict::NoData) => "NOT JUDGED: ",
            None => "",
        };
        let allowed = r
            .max_ms
            .map(|m| format!("allowed {}; ", seconds(m)))
            .unwrap_or_default();
        Some(Recovery {
            verdict: r.verdict,
            sentence: format!(
                "{verdict}{} ({allowed}back to {} viewers at {}, judged over sliding windows of at least {})",
                r.sentence,
                r.viewers,
                seconds(r.start_ms),
                seconds(r.sliding_window_ms)
            ),
        })
    }

    /// The recovery of `f`, or that the scenario has none.
    pub fn sentence_of(f: &Findings) -> String {
        f.recovery.as_ref().map_or_else(
            || "not measured: no recovery phase in this scenario".into(),
            |r| r.sentence.clone(),
        )
    }
}

/// What the stress ladder did past capacity.
#[derive(Debug, Clone, PartialEq)]
pub enum Degradation {
    /// Assessed over the steps past capacity.
    Assessed {
        /// `graceful: goodput held at 92 % of peak`.
        verdict: String,
        /// The steps it was assessed over.
        steps: Vec<String>,
        /// Whether it degraded gracefully.
        graceful: bool,
        /// Whether goodput peaked on the step past capacity it is measured against.
        peak_is_goodput: bool,
    },
    /// A stress ladder ran but never went past capacity.
    NeverPastCapacity,
    /// The scenario has no stress ladder.
    NoLadder,
}

impl Degradation {
    fn of(s: &Summary) -> Degradation {
        match &s.degradation {
            Some(d) => Degradation::Assessed {
                verdict: d.verdict.clone(),
                steps: d.steps.clone(),
                graceful: d.graceful,
                peak_is_goodput: d.peak_window == d.goodput_window,
            },
            None if s.windows.iter().any(|w| w.kind == WindowKind::StressStep) => {
                Degradation::NeverPastCapacity
            }
            None => Degradation::NoLadder,
        }
    }

    /// `graceful: … (over step 3, step 4)`, or why not assessed.
    pub fn sentence(&self) -> String {
        match self {
            Degradation::Assessed { verdict, steps, .. } => {
                format!("{verdict} (over {})", steps.join(", "))
            }
            Degradation::NeverPastCapacity => {
                "not assessed: the stress ladder never went past capacity".into()
            }
            Degradation::NoLadder => "not assessed: no stress ladder in this scenario".into(),
        }
    }
}
