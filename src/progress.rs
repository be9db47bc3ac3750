//! The live status of a running attack, on stderr: on a terminal one line
//! redrawn every second (indicatif), elsewhere (CI logs) one plain line every
//! [`PLAIN_EVERY`]. Figures cover the last [`SPAN`]: the current window, viewers,
//! viewer requests per second, dashboard-load p95, error rate and time left.
//! It is only ever printed: nothing of it reaches the run folder or the report.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::live::{Live, Recent};
use crate::plan::Plan;

/// How far back the shown figures reach.
pub const SPAN: Duration = Duration::from_secs(10);
/// The cadence of plain lines off a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Where the status goes.
pub enum Output {
    /// A redrawn line on a terminal.
    Terminal(indicatif::ProgressBar),
    /// A plain line every [`PLAIN_EVERY`] on stderr.
    Plain,
}

impl Output {
    /// A redrawn line when stderr is a terminal, plain lines otherwise.
    pub fn detect() -> Output {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            Output::Terminal(bar)
        } else {
            Output::Plain
        }
    }
}

/// The figures of the last [`SPAN`], one entry per second.
pub struct Status {
    plan: Plan,
    seconds: VecDeque<(Duration, Recent)>,
    next_plain: Duration,
    /// What the run is doing when the plan's windows no longer say (`[stress] refine`).
    phase: Option<String>,
    /// When that phase ends, when known: the time left counts down to it.
    phase_end: Option<Duration>,
}

impl Status {
    /// A status for a run of `plan` (no steps: Goose's own load shape).
    pub fn new(plan: Plan) -> Status {
        Status {
            plan,
            seconds: VecDeque::new(),
            next_plain: PLAIN_EVERY,
            phase: None,
            phase_end: None,
        }
    }

    /// Name the current phase instead of the plan's window (None: the plan's).
    pub fn set_phase(&mut self, phase: Option<String>) {
        self.phase = phase;
        self.phase_end = None;
    }

    /// The current phase's end (None: the plan's load end).
    pub fn set_phase_end(&mut self, end: Option<Duration>) {
        self.phase_end = end;
    }

    /// Add what happened up to `elapsed` since the previous call.
    pub fn push(&mut self, elapsed: Duration, recent: Recent) {
        self.seconds.push_back((elapsed, recent));
        while let Some((t, _)) = self.seconds.front() {
            if elapsed.saturating_sub(*t) < SPAN {
                break;
            }
            self.seconds.pop_front();
        }
    }

    /// True once per [`PLAIN_EVERY`]: when a plain line is due at `elapsed`.
    pub fn plain_due(&mut self, elapsed: Duration) -> bool {
        if elapsed < self.next_plain {
            return false;
        }
        while self.next_plain <= elapsed {
            self.next_plain += PLAIN_EVERY;
        }
        true
    }

    /// The status line at `elapsed` with `viewers` running.
    pub fn line(&self, elapsed: Duration, viewers: u64) -> String {
        let ms = elapsed.as_millis() as u64;
        let planned = self
            .plan
            .windows
            .iter()
            .find(|w| w.start_ms <= ms && ms < w.end_ms);
        let window = self.phase.as_deref().or(planned.map(|w| w.name.as_str()));
        let window = window.unwrap_or(if self.plan.steps.is_empty() {
            "run"
        } else {
            "ramp down"
        });
        let mut requests = 0;
        let mut failures = 0;
        let mut loads = Histogram::<u64>::new(2).expect("2 digits is valid");
        for (_, r) in &self.seconds {
            requests += r.requests;
            failures += r.failures;
            let _ = loads.add(&r.loads_ms);
        }
        // Over the seconds held, so the first lines are not diluted by a full span.
        let span = match (self.seconds.front(), self.seconds.back()) {
            (Some(first), Some(last)) if self.seconds.len() > 1 => last.0 - first.0,
            _ => Duration::ZERO,
        };
        let counted = requests - self.seconds.front().map_or(0, |f| f.1.requests);
        let rps = if span.is_zero() {
            0.0
        } else {
            counted as f64 / span.as_secs_f64()
        };
        let p95 = if loads.is_empty() {
            "—".to_string()
        } else {
            format!("{} ms", loads.value_at_quantile(0.95))
        };
        let errors = if requests == 0 {
            0.0
        } else {
            failures as f64 * 100.0 / requests as f64
        };
        let left = match self.phase_end {
            Some(end) => clock(end.saturating_sub(elapsed)),
            None if self.plan.steps.is_empty() => "—".to_string(),
            None => clock(self.plan.load_end().saturating_sub(elapsed)),
        };
        format!(
            "{} {window} · viewers {viewers} · {rps:.1} req/s · load p95 {p95} · errors {errors:.2} % · {left} left",
            clock(elapsed)
        )
    }
}

/// `1m05s`, `42s`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Show the status until aborted: sample `live` every second from the attack's start.
pub async fn show(plan: Plan, live: Arc<Live>, output: Output) {
    let start = tokio::time::Instant::now();
    let mut status = Status::new(plan);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Clears the terminal line when the task is aborted at the run's end.
    let _guard = ClearOnDrop(match &output {
        Output::Terminal(bar) => Some(bar.clone()),
        Output::Plain => None,
    });
    loop {
        tick.tick().await;
        let elapsed = start.elapsed();
        status.push(elapsed, live.take_recent());
        status.set_phase(live.phase());
        status.set_phase_end(live.phase_end());
        match &output {
            Output::Terminal(bar) => bar.set_message(status.line(elapsed, live.active_viewers())),
            Output::Plain => {
                if status.plain_due(elapsed) {
                    eprintln!("dashload: {}", status.line(elapsed, live.active_viewers()));
                }
            }
        }
    }
}

struct ClearOnDrop(Option<indicatif::ProgressBar>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Stage;

    fn recent(requests: u64, failures: u64, load_ms: &[u64]) -> Recent {
        let mut r = Recent {
            requests,
            failures,
            ..Recent::default()
        };
        for ms in load_ms {
            r.loads_ms.record(*ms).unwrap();
        }
        r
    }

    fn plan() -> Plan {
        let s = Duration::from_secs;
        Plan::build(
            &[Stage {
                users: 5,
                ramp: s(5),
                hold: s(30),
                until_judged: false,
            }],
            None,
            1,
        )
    }

    #[test]
    fn plain_lines_come_every_ten_seconds_whatever_the_ticks() {
        let mut status = Status::new(plan());
        // Ticks a little late, and one skipped second, as on a busy machine.
        let ticks = [
            1_000, 2_050, 4_900, 9_990, 10_020, 11_000, 19_500, 21_300, 29_000, 30_001,
        ];
        let due: Vec<u64> = ticks
            .into_iter()
            .filter(|ms| status.plain_due(Duration::from_millis(*ms)))
            .collect();
        assert_eq!(due, [10_020, 21_300, 30_001]);
    }

    #[test]
    fn the_line_shows_the_window_and_the_last_seconds_figures() {
        let mut status = Status::new(plan());
        let s = Duration::from_secs;
        // 20 s of 50 requests a second, one failure in four, loads of 100 ms; the
        // last second's loads took 900 ms.
        for t in 1..=20 {
            let loads: &[u64] = if t == 20 { &[900; 10] } else { &[100; 10] };
            status.push(s(t), recent(50, if t % 4 == 0 { 50 } else { 0 }, loads));
        }
        assert_eq!(
            status.line(s(20), 5),
            "20s stage 1 hold · viewers 5 · 50.0 req/s · load p95 903 ms · errors 30.00 % · 15s left"
        );
        assert!(status
            .line(s(2), 3)
            .starts_with("2s stage 1 ramp · viewers 3"));
        assert!(status.line(s(36), 0).contains("ramp down"));
        // A refine step names itself: the plan's windows no longer say.
        status.set_phase(Some("refine 1 ramp".into()));
        assert!(status
            .line(s(36), 0)
            .contains("s refine 1 ramp · viewers 0"));
        // The recovery phase counts down to its own end, past the plan's.
        status.set_phase(Some("recovery".into()));
        status.set_phase_end(Some(s(96)));
        let line = status.line(s(36), 3);
        assert!(
            line.starts_with("36s recovery · viewers 3") && line.ends_with(" · 1m00s left"),
            "{line}"
        );
        status.set_phase(None);
        assert!(status.line(s(36), 0).ends_with("0s left"));
        let goose_shape = Status::new(Plan {
            steps: Vec::new(),
            windows: Vec::new(),
            sync_users: 0,
            refine_tail: Duration::ZERO,
            recovery_tail: Duration::ZERO,
            recovery: None,
            until_judged: Default::default(),
        });
        assert_eq!(
            goose_shape.line(s(75), 2),
            "1m15s run · viewers 2 · 0.0 req/s · load p95 — · errors 0.00 % · — left"
        );
    }
}
