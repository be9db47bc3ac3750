//! `[[faults]]`: faults on a schedule. Each entry has a window (a stage, a ladder
//! step, the recovery phase, or `at` + `duration`) and an action: a fault built
//! into the sandbox (`kind = "latency" | "error" | "refuse" | "stall"`, on
//! `queries`, `writes` or `toggl`) or commands run against a real target
//! (`kind = "command"`, `start = [...]`, `stop = [...]`, `timeout`).
//!
//! Windows resolve against the plan's windows, so a fault's times are the run's
//! (ms since the attack started, the request log's clock) and `check` can print them.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Ctx, TargetKind};
use crate::error::Result;
use crate::runfolder::StageWindow;
use crate::sandbox::faults::{FaultSpec, Field, SandboxFault};
use crate::scenario::duration::format_duration;

/// One `[[faults]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFault {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) kind: Spanned<String>,
    pub(crate) window: Option<Spanned<String>>,
    pub(crate) at: Option<Spanned<String>>,
    pub(crate) duration: Option<Spanned<String>>,
    pub(crate) on: Option<Spanned<String>>,
    pub(crate) rate: Option<Spanned<String>>,
    pub(crate) status: Option<Spanned<i64>>,
    pub(crate) retry_after: Option<Spanned<String>>,
    pub(crate) latency: Option<Spanned<String>>,
    pub(crate) start: Option<Spanned<Vec<String>>>,
    pub(crate) stop: Option<Spanned<Vec<String>>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) recover_within: Option<Spanned<String>>,
}

/// The default timeout of a fault's command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The name of the recovery phase's window in the plan.
pub const RECOVERY: &str = "recovery";

/// A scheduled fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// 1-based, in file order: names its logs (`faults/<n>-start.log`).
    pub index: usize,
    /// `name`, or what it does.
    pub name: String,
    /// What the window was written as (`stage 2 hold`, `step 3`, `at 30s for 20s`).
    pub window: String,
    /// Planned start, ms since the attack started.
    pub start_ms: u64,
    /// Planned end, ms since the attack started.
    pub end_ms: u64,
    /// What it does.
    pub action: FaultAction,
    /// `recover_within`: the time to recover allowed after the window, ms; a
    /// verdict (missed or not recovered fails the run). None: only measured.
    pub recover_within_ms: Option<u64>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// A fault built into the sandbox, switched on for the window.
    Sandbox(SandboxFault),
    /// Commands run at the window's start and end.
    Command {
        /// Program and arguments run at the start (not through a shell).
        start: Vec<String>,
        /// Program and arguments run at the end, always (Ctrl-C too); may be empty.
        stop: Vec<String>,
        /// How long each may run before it is killed (and counts as failed).
        timeout: Duration,
    },
}

impl Fault {
    /// The kind as written in the scenario.
    pub fn kind(&self) -> &'static str {
        match &self.action {
            FaultAction::Sandbox(f) => f.effect.kind(),
            FaultAction::Command { .. } => "command",
        }
    }

    /// What it does, in one line.
    pub fn describe(&self) -> String {
        match &self.action {
            FaultAction::Sandbox(f) => f.describe(),
            FaultAction::Command { start, stop, .. } => {
                let mut s = format!("run `{}`", start.join(" "));
                if !stop.is_empty() {
                    s.push_str(&format!(", then `{}`", stop.join(" ")));
                }
                s
            }
        }
    }

    /// The schedule line `check` prints.
    pub fn schedule_line(&self) -> String {
        format!(
            "  {:>2} {:<22} {:>7.1}s – {:>7.1}s  {:<16} {}",
            self.index,
            clip(&self.name, 22),
            self.start_ms as f64 / 1000.0,
            self.end_ms as f64 / 1000.0,
            clip(&self.window, 16),
            self.describe()
        ) + &self.recover_within_ms.map_or(String::new(), |ms| {
            format!(
                "; recover within {}",
                format_duration(Duration::from_millis(ms))
            )
        })
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('…');
        c
    }
}

/// Where a window name points in the plan: a window's own name, or `stage N`
/// (its ramp and hold together).
fn find_window(name: &str, windows: &[StageWindow]) -> Option<(u64, u64)> {
    let name = name.trim();
    if let Some(w) = windows.iter().find(|w| w.name == name) {
        return Some((w.start_ms, w.end_ms));
    }
    if let Some(n) = name.strip_prefix("stage ") {
        let n: usize = n.trim().parse().ok()?;
        let ramp = format!("stage {n} ramp");
        let hold = format!("stage {n} hold");
        let parts: Vec<_> = windows
            .iter()
            .filter(|w| w.name == ramp || w.name == hold)
            .collect();
        let start = parts.iter().map(|w| w.start_ms).min()?;
        let end = parts.iter().map(|w| w.end_ms).max()?;
        return Some((start, end));
    }
    None
}

impl Ctx<'_> {
    /// Resolve every `[[faults]]` entry against the plan's `windows`.
    pub(super) fn faults(
        &self,
        raw: &[Spanned<RawFault>],
        kind: TargetKind,
        windows: &[StageWindow],
    ) -> Result<Vec<Fault>> {
        let plan_end = windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
        raw.iter()
            .enumerate()
            .map(|(i, f)| self.fault(i + 1, f, kind, windows, plan_end))
            .collect()
    }

    fn fault(
        &self,
        index: usize,
        raw: &Spanned<RawFault>,
        kind: TargetKind,
        windows: &[StageWindow],
        plan_end: u64,
    ) -> Result<Fault> {
        let f = raw.get_ref();
        let (window, start_ms, end_ms) = self.fault_window(raw, windows, plan_end)?;
        let action = if f.kind.get_ref() == "command" {
            self.command_fault(raw)?
        } else {
            let sandbox_only = ["start", "stop", "timeout"];
            for (set, key) in [f.start.is_some(), f.stop.is_some(), f.timeout.is_some()]
                .into_iter()
                .zip(sandbox_only)
            {
                if set {
                    return self.err(
                        f.kind.span(),
                        format!(
                            "`{key}` goes with kind = \"command\", not `{}`",
                            f.kind.get_ref()
                        ),
                    );
                }
            }
            let spec = FaultSpec {
                kind: f.kind.get_ref().clone(),
                on: f.on.as_ref().map(|v| v.get_ref().clone()),
                rate: f.rate.as_ref().map(|v| v.get_ref().clone()),
                status: f.status.as_ref().map(|v| *v.get_ref()),
                retry_after: f.retry_after.as_ref().map(|v| v.get_ref().clone()),
                latency: f.latency.as_ref().map(|v| v.get_ref().clone()),
            };
            let fault = match spec.resolve() {
                Ok(fault) => fault,
                Err((field, message)) => {
                    let span = match field {
                        Field::Kind => Some(f.kind.span()),
                        Field::On => f.on.as_ref().map(|v| v.span()),
                        Field::Rate => f.rate.as_ref().map(|v| v.span()),
                        Field::Status => f.status.as_ref().map(|v| v.span()),
                        Field::RetryAfter => f.retry_after.as_ref().map(|v| v.span()),
                        Field::Latency => f.latency.as_ref().map(|v| v.span()),
                    };
                    return self.err(span.unwrap_or(raw.span()), message);
                }
            };
            if kind != TargetKind::Sandbox {
                return self.err(
                    f.kind.span(),
                    format!(
                        "fault kind `{}` is built into the sandbox; against a `{}` target, use kind = \"command\" with start = [...] and stop = [...]",
                        f.kind.get_ref(),
                        kind.name()
                    ),
                );
            }
            FaultAction::Sandbox(fault)
        };
        let name = match &f.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return self.err(n.span(), "a fault's `name` must not be empty")
            }
            Some(n) => n.get_ref().clone(),
            None => format!("fault {index}"),
        };
        let recover_within_ms = match &f.recover_within {
            Some(d) => {
                let within = self.duration(d)?;
                if within.is_zero() {
                    return self.err(d.span(), "`recover_within` must be longer than 0s");
                }
                Some(within.as_millis() as u64)
            }
            None => None,
        };
        Ok(Fault {
            index,
            name,
            window,
            start_ms,
            end_ms,
            action,
            recover_within_ms,
        })
    }

    /// The window: `window = "…"`, or `at` and `duration`.
    fn fault_window(
        &self,
        raw: &Spanned<RawFault>,
        windows: &[StageWindow],
        plan_end: u64,
    ) -> Result<(String, u64, u64)> {
        let f = raw.get_ref();
        match (&f.window, &f.at, &f.duration) {
            (Some(w), None, None) => {
                let name = w.get_ref().trim();
                if let Some((start, end)) = find_window(name, windows) {
                    return Ok((name.to_string(), start, end));
                }
                if name == RECOVERY {
                    return self.err(
                        w.span(),
                        "window `recovery`: the scenario has no [recovery]",
                    );
                }
                let mut known: Vec<String> = Vec::new();
                for win in windows {
                    if let Some(stage) = win.name.strip_suffix(" hold").or(win.name.strip_suffix(" ramp")) {
                        if stage.starts_with("stage ") && !known.iter().any(|k| k == stage) {
                            known.push(stage.to_string());
                        }
                    }
                    known.push(win.name.clone());
                }
                let known = if known.is_empty() {
                    "the plan has no windows".to_string()
                } else {
                    format!("expected one of: {}", known.join(", "))
                };
                self.err(w.span(), format!("window `{name}` does not exist: {known}"))
            }
            (Some(w), _, _) => self.err(
                w.span(),
                "give a fault `window` or `at` and `duration`, not both",
            ),
            (None, Some(at), Some(duration)) => {
                let start = self.duration(at)?;
                let length = self.duration(duration)?;
                if length.is_zero() {
                    return self.err(duration.span(), "a fault's `duration` must be longer than 0s");
                }
                let (start_ms, end_ms) = (
                    start.as_millis() as u64,
                    (start + length).as_millis() as u64,
                );
                if start_ms >= plan_end {
                    return self.err(
                        at.span(),
                        format!(
                            "at `{}`: the window does not exist, the plan ends at {}",
                            at.get_ref(),
                            format_duration(Duration::from_millis(plan_end))
                        ),
                    );
                }
                Ok((
                    format!(
                        "at {} for {}",
                        format_duration(start),
                        format_duration(length)
                    ),
                    start_ms,
                    end_ms.min(plan_end),
                ))
            }
            (None, Some(at), None) => self.err(at.span(), "`at` needs a `duration`"),
            (None, None, Some(d)) => self.err(d.span(), "`duration` needs an `at`"),
            (None, None, None) => self.err(
                raw.span(),
                "a fault needs a window: `window = \"stage 2\"` (a stage, `step 3`, `recovery`), or `at` and `duration`",
            ),
        }
    }

    fn command_fault(&self, raw: &Spanned<RawFault>) -> Result<FaultAction> {
        let f = raw.get_ref();
        for (key, v) in [
            ("on", f.on.as_ref().map(|v| v.span())),
            ("rate", f.rate.as_ref().map(|v| v.span())),
            ("status", f.status.as_ref().map(|v| v.span())),
            ("retry_after", f.retry_after.as_ref().map(|v| v.span())),
            ("latency", f.latency.as_ref().map(|v| v.span())),
        ] {
            if let Some(span) = v {
                return self.err(
                    span,
                    format!("`{key}` is for the sandbox's built-in faults; kind = \"command\" runs start and stop"),
                );
            }
        }
        let start = match &f.start {
            Some(s) if !s.get_ref().is_empty() && !s.get_ref()[0].trim().is_empty() => {
                s.get_ref().clone()
            }
            Some(s) => {
                return self.err(s.span(), "`start` needs a program: [\"tc\", \"qdisc\", …]")
            }
            None => {
                return self.err(
                    f.kind.span(),
                    "kind = \"command\" needs `start = [\"program\", \"arg\", …]`",
                )
            }
        };
        let stop = match &f.stop {
            Some(s) if s.get_ref().first().is_some_and(|p| p.trim().is_empty()) => {
                return self.err(s.span(), "`stop` needs a program first")
            }
            Some(s) => s.get_ref().clone(),
            None => Vec::new(),
        };
        let timeout = match &f.timeout {
            Some(t) => {
                let d = self.duration(t)?;
                if d.is_zero() || d > Duration::from_secs(600) {
                    return self.err(
                        t.span(),
                        format!("timeout `{}`: from 1ms to 10m", t.get_ref()),
                    );
                }
                d
            }
            None => DEFAULT_COMMAND_TIMEOUT,
        };
        Ok(FaultAction::Command {
            start,
            stop,
            timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::error::Error;
    use crate::scenario::Scenario;

    use super::*;

    const BASE: &str = r#"
[viewers]
dashboard = "dashboards/toggl-overview.json"
[[stages]]
users = 2
ramp = "2s"
hold = "10s"
[[stages]]
users = 4
ramp = "2s"
hold = "10s"
[stress]
step = 2
ramp = "1s"
hold = "5s"
ceiling = 8
"#;

    fn parse(extra: &str) -> Result<Scenario> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/faults-test.toml");
        Scenario::parse(&format!("{BASE}{extra}"), &path)
    }

    fn config_error(extra: &str) -> (String, String) {
        match parse(extra) {
            Err(Error::Config { location, message }) => (location, message),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn windows_resolve_to_the_runs_times() {
        let s = parse(
            r#"
[[faults]]
name = "query errors"
window = "stage 2"
kind = "error"
on = "queries"
rate = "30%"
[[faults]]
window = "step 2"
kind = "stall"
on = "writes"
[[faults]]
at = "3s"
duration = "4s"
kind = "latency"
on = "toggl"
latency = "100ms..300ms"
"#,
        )
        .unwrap();
        assert_eq!(s.faults.len(), 3);
        let f = &s.faults[0];
        assert_eq!((f.start_ms, f.end_ms), (12_000, 24_000));
        assert_eq!(f.name, "query errors");
        assert!(matches!(&f.action, FaultAction::Sandbox(sf) if sf.rate == 0.3));
        // Ladder: step 1 ramp 24–25 s, step 1 25–30 s, step 2 ramp 30–31 s, step 2 31–36 s.
        assert_eq!((s.faults[1].start_ms, s.faults[1].end_ms), (31_000, 36_000));
        assert_eq!(s.faults[1].name, "fault 2");
        assert_eq!((s.faults[2].start_ms, s.faults[2].end_ms), (3_000, 7_000));
        assert_eq!(s.faults[2].window, "at 3s for 4s");
        assert!(s.faults[2]
            .schedule_line()
            .contains("+100ms..300ms latency on toggl"));
    }

    #[test]
    fn bad_entries_name_file_line_and_column() {
        let cases = [
            (
                "kind = \"explode\"\non = \"queries\"\nwindow = \"stage 1\"",
                "kind = \"explode\"",
                "unknown fault kind `explode`",
            ),
            (
                "kind = \"error\"\non = \"queries\"\nwindow = \"stage 9\"",
                "window = \"stage 9\"",
                "window `stage 9` does not exist",
            ),
            (
                "kind = \"error\"\non = \"queries\"\nrate = \"130%\"\nwindow = \"stage 1\"",
                "rate = \"130%\"",
                "at most 100%",
            ),
            (
                "kind = \"error\"\non = \"queries\"\nwindow = \"recovery\"",
                "window = \"recovery\"",
                "the scenario has no [recovery]",
            ),
            (
                "kind = \"error\"\non = \"queries\"\nat = \"5m\"\nduration = \"1s\"",
                "at = \"5m\"",
                "the plan ends at",
            ),
            (
                "kind = \"stall\"\non = \"disks\"\nwindow = \"stage 1\"",
                "on = \"disks\"",
                "not a sandbox surface",
            ),
            (
                "kind = \"command\"\nwindow = \"stage 1\"",
                "kind = \"command\"",
                "needs `start",
            ),
            (
                "kind = \"command\"\nstart = [\"true\"]\non = \"queries\"\nwindow = \"stage 1\"",
                "on = \"queries\"",
                "`on` is for the sandbox",
            ),
            (
                "kind = \"error\"\non = \"queries\"\nstatus = 404\nwindow = \"stage 1\"",
                "status = 404",
                "5xx or 429",
            ),
        ];
        for (entry, at, says) in cases {
            let extra = format!("\n[[faults]]\n{entry}\n");
            let (location, message) = config_error(&extra);
            let text = format!("{BASE}{extra}");
            let offset = text.find(at).unwrap();
            let line = text[..offset].matches('\n').count() + 1;
            let value_col = at.find('=').map_or(1, |i| i + 3);
            assert!(
                location.ends_with(&format!("faults-test.toml:{line}:{value_col}"))
                    || location.ends_with(&format!("faults-test.toml:{line}:1")),
                "{entry}: {location}"
            );
            assert!(message.contains(says), "{entry}: {message}");
        }
    }

    #[test]
    fn built_in_kinds_need_the_sandbox() {
        let text = format!(
            "[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:1\"\n{BASE}\n[[faults]]\nkind = \"error\"\non = \"queries\"\nwindow = \"stage 1\"\n"
        );
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/x.toml");
        let e = Scenario::parse(&text, &path).unwrap_err().to_string();
        assert!(e.contains("use kind = \"command\""), "{e}");
        let ok = text.replace(
            "kind = \"error\"\non = \"queries\"",
            "kind = \"command\"\nstart = [\"true\"]\nstop = [\"true\"]\ntimeout = \"5s\"",
        );
        let s = Scenario::parse(&ok, &path).unwrap();
        assert_eq!(
            s.faults[0].action,
            FaultAction::Command {
                start: vec!["true".into()],
                stop: vec!["true".into()],
                timeout: Duration::from_secs(5)
            }
        );
    }
}
