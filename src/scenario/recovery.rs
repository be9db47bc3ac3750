//! `[recovery]`, `[slo.recovery]` and `[slo.degradation]`: the phase after the
//! stress ladder, back at a lower load, and how the load past capacity and
//! after it is judged (see `report::recovery` and `report::degradation`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::duration::{format_duration, parse_percent};
use super::raw::RawSloSet;
use super::{limits, Ctx, Stage, Stress};
use crate::error::Result;
use crate::runfolder::{DegradationRules, PastCapacityRules, RequestClass};

/// `[recovery]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecovery {
    pub users: Option<Spanned<i64>>,
    pub hold: Option<Spanned<String>>,
    pub window: Option<Spanned<String>>,
}

/// The recovery phase: when the ladder stops (or reaches its ceiling) the load
/// drops back to `viewers` and holds for `hold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPhase {
    /// Viewers loading during the phase (the last stage's by default).
    pub viewers: usize,
    /// How long the phase lasts (60 s by default).
    pub hold: Duration,
    /// The sliding window recovery is judged on (5 s by default).
    pub window: Duration,
}

/// The keys `[slo.recovery]` and `[slo.degradation]` take, which no request
/// class does.
pub(super) const SECTIONS: [&str; 2] = ["recovery", "degradation"];

/// The keys of `[slo.recovery]`: every class's bound, then a class's own.
const RECOVERY_KEYS: [&str; 4] = ["max", "dashboard_load", "panel_query", "ingest_batch"];

/// The smallest sliding window: the report's time buckets are 1 s.
const MIN_WINDOW: Duration = Duration::from_secs(1);

impl Ctx<'_> {
    /// `[recovery]`, checked against the ladder it follows.
    pub(super) fn recovery(
        &self,
        raw: Option<&Spanned<RawRecovery>>,
        stages: &[Stage],
        stress: Option<&Stress>,
    ) -> Result<Option<RecoveryPhase>> {
        let Some(raw) = raw else { return Ok(None) };
        let (Some(stress), Some(last)) = (stress, stages.last()) else {
            return self.err(
                raw.span(),
                "the recovery phase follows the stress ladder, but there is no [stress]",
            );
        };
        let r = raw.get_ref();
        let viewers = match &r.users {
            Some(u) => match usize::try_from(*u.get_ref()) {
                Ok(n) if (1..stress.ceiling).contains(&n) => n,
                _ => {
                    return self.err(
                        u.span(),
                        format!(
                            "recovery users {} must be 1..{} (below the ladder's ceiling, so the load drops)",
                            u.get_ref(),
                            stress.ceiling
                        ),
                    )
                }
            },
            None => last.users.max(1),
        };
        let hold = match &r.hold {
            Some(h) => {
                let d = self.plan_duration(h)?;
                self.check_duration(h, d, MIN_WINDOW..=limits::DEFAULT_DURATION, "recovery hold")?;
                d
            }
            None => Duration::from_secs(60),
        };
        let window = match &r.window {
            Some(w) => {
                let d = self.duration(w)?;
                if d < MIN_WINDOW || d > hold {
                    return self.err(
                        w.span(),
                        format!(
                            "recovery window `{}` must be 1s..{} (the phase's hold)",
                            w.get_ref(),
                            format_duration(hold)
                        ),
                    );
                }
                d
            }
            None => Duration::from_secs(5).min(hold),
        };
        Ok(Some(RecoveryPhase {
            viewers,
            hold,
            window,
        }))
    }

    /// `[slo.recovery]` and `[slo.degradation]`, with the phase's window.
    pub(super) fn past_capacity(
        &self,
        slo: &BTreeMap<Spanned<String>, Spanned<RawSloSet>>,
        recovery: Option<&RecoveryPhase>,
        stress: bool,
    ) -> Result<PastCapacityRules> {
        let mut rules = PastCapacityRules::default();
        if let Some(phase) = recovery {
            rules.recovery_window_ms = phase.window.as_millis() as u64;
        }
        for (key, set) in slo {
            let s = set.get_ref();
            match key.get_ref().as_str() {
                "recovery" => {
                    let Some(phase) = recovery else {
                        return self.err(
                            key.span(),
                            "[slo.recovery] judges the recovery phase, but there is no [recovery]",
                        );
                    };
                    self.only(set, &RECOVERY_KEYS, "recovery")?;
                    let bounds = [
                        (None, &s.max),
                        (Some(RequestClass::DashboardLoad), &s.dashboard_load),
                        (Some(RequestClass::PanelQuery), &s.panel_query),
                        (Some(RequestClass::IngestBatch), &s.ingest_batch),
                    ];
                    if bounds.iter().all(|(_, v)| v.is_none()) {
                        return self.err(
                            set.span(),
                            "[slo.recovery] needs `max` (e.g. max = \"30s\"), or a class's own bound (dashboard_load, panel_query, ingest_batch)",
                        );
                    }
                    for (class, value) in bounds {
                        let Some(value) = value else { continue };
                        let name = class.map_or("max", |c| c.key());
                        if let Some(c) =
                            class.filter(|c| !slo.keys().any(|k| k.get_ref() == c.key()))
                        {
                            return self.err(
                                value.span(),
                                format!(
                                    "[slo.recovery] {name}: a class's recovery is judged on its SLOs, but there is no [slo.{}]",
                                    c.key()
                                ),
                            );
                        }
                        let d = self.duration(value)?;
                        if d.is_zero() || d > phase.hold {
                            return self.err(
                                value.span(),
                                format!(
                                    "[slo.recovery] {name} `{}` must be above 0s and at most the recovery hold ({})",
                                    value.get_ref(),
                                    format_duration(phase.hold)
                                ),
                            );
                        }
                        let ms = d.as_millis() as u64;
                        match class {
                            None => rules.recovery_max_ms = Some(ms),
                            Some(c) => {
                                rules.recovery_max_by_class.insert(c, ms);
                            }
                        }
                    }
                }
                "degradation" => {
                    if !stress {
                        return self.err(
                            key.span(),
                            "[slo.degradation] judges the stress steps past capacity, but there is no [stress]",
                        );
                    }
                    self.only(
                        set,
                        &["goodput", "failure_p99", "loads_completed"],
                        "degradation",
                    )?;
                    let mut d = DegradationRules::default();
                    let percent = |v: &Spanned<String>| {
                        parse_percent(v.get_ref()).or_else(|m| self.err(v.span(), m))
                    };
                    if let Some(v) = &s.goodput {
                        d.min_goodput = percent(v)?;
                    }
                    if let Some(v) = &s.loads_completed {
                        d.min_loads_completed = percent(v)?;
                    }
                    if let Some(v) = &s.failure_p99 {
                        let t = self.duration_in(v, limits::LATENCY_BOUND, "failure_p99")?;
                        d.max_failure_p99_ms = t.as_secs_f64() * 1000.0;
                    }
                    rules.degradation = d;
                    rules.degradation_judged = true;
                }
                _ => {
                    // A request class: the keys of these two sections are not its.
                    for (name, given) in [
                        ("max", s.max.as_ref().map(|v| v.span())),
                        (
                            "dashboard_load",
                            s.dashboard_load.as_ref().map(|v| v.span()),
                        ),
                        ("panel_query", s.panel_query.as_ref().map(|v| v.span())),
                        ("ingest_batch", s.ingest_batch.as_ref().map(|v| v.span())),
                        ("goodput", s.goodput.as_ref().map(|v| v.span())),
                        ("failure_p99", s.failure_p99.as_ref().map(|v| v.span())),
                        (
                            "loads_completed",
                            s.loads_completed.as_ref().map(|v| v.span()),
                        ),
                    ] {
                        if let Some(span) = given {
                            return self.err(
                                span,
                                format!(
                                    "`{name}` is not an objective of [slo.{}]: it belongs in [slo.{}]",
                                    key.get_ref(),
                                    if RECOVERY_KEYS.contains(&name) { "recovery" } else { "degradation" }
                                ),
                            );
                        }
                    }
                }
            }
        }
        Ok(rules)
    }

    /// Refuse the keys of `set` outside `allowed` (a request class's objectives).
    fn only(&self, set: &Spanned<RawSloSet>, allowed: &[&str], section: &str) -> Result<()> {
        let s = set.get_ref();
        let given = [
            ("p50", s.p50.as_ref().map(|v| v.span())),
            ("p95", s.p95.as_ref().map(|v| v.span())),
            ("p99", s.p99.as_ref().map(|v| v.span())),
            ("error_rate", s.error_rate.as_ref().map(|v| v.span())),
            ("ms_per_point", s.ms_per_point.as_ref().map(|v| v.span())),
            ("max", s.max.as_ref().map(|v| v.span())),
            (
                "dashboard_load",
                s.dashboard_load.as_ref().map(|v| v.span()),
            ),
            ("panel_query", s.panel_query.as_ref().map(|v| v.span())),
            ("ingest_batch", s.ingest_batch.as_ref().map(|v| v.span())),
            ("goodput", s.goodput.as_ref().map(|v| v.span())),
            ("failure_p99", s.failure_p99.as_ref().map(|v| v.span())),
            (
                "loads_completed",
                s.loads_completed.as_ref().map(|v| v.span()),
            ),
        ];
        for (name, span) in given {
            if let (Some(span), false) = (span, allowed.contains(&name)) {
                return self.err(
                    span,
                    format!("[slo.{section}] takes {}, not `{name}`", allowed.join(", ")),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::scenario::Scenario;

    /// A scenario with one stage of 20 viewers and a ladder to 60, plus `extra`;
    /// parsed as `s.toml` in a temp folder.
    fn parse(extra: &str) -> (tempfile::TempDir, crate::error::Result<Scenario>) {
        let dir = tempfile::tempdir().unwrap();
        let dashboard = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/dashboards/toggl-overview.json");
        let text = format!(
            "[viewers]\ndashboard = {:?}\n[[stages]]\nusers = 20\nramp = \"5s\"\nhold = \"10s\"\n[stress]\nstep = 20\nhold = \"10s\"\nceiling = 60\n{extra}",
            dashboard.display().to_string()
        );
        let path = dir.path().join("s.toml");
        let parsed = Scenario::parse(&text, &path);
        (dir, parsed)
    }

    fn error(extra: &str) -> String {
        let (dir, parsed) = parse(extra);
        let e = parsed.expect_err("refused");
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        e.to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn recovery_defaults_to_the_last_stage_for_a_minute_on_five_second_windows() {
        let (_dir, s) = parse("[recovery]\n");
        let s = s.unwrap();
        let phase = s.recovery.unwrap();
        assert_eq!(phase.viewers, 20);
        assert_eq!(phase.hold, Duration::from_secs(60));
        assert_eq!(phase.window, Duration::from_secs(5));
        assert_eq!(s.past_capacity.recovery_max_ms, None);
        assert!(!s.past_capacity.degradation_judged);
        let (_dir, s) = parse(
            "[recovery]\nusers = 30\nhold = \"40s\"\nwindow = \"10s\"\n[slo.recovery]\nmax = \"30s\"\n[slo.degradation]\ngoodput = \"80%\"\nfailure_p99 = \"200ms\"\nloads_completed = \"50%\"\n[slo.panel_query]\np95 = \"1s\"\n",
        );
        let s = s.unwrap();
        assert_eq!(s.recovery.unwrap().viewers, 30);
        let rules = &s.past_capacity;
        assert_eq!(rules.recovery_window_ms, 10_000);
        assert_eq!(rules.recovery_max_ms, Some(30_000));
        assert!(rules.degradation_judged);
        assert_eq!(rules.degradation.min_goodput, 0.8);
        assert_eq!(rules.degradation.max_failure_p99_ms, 200.0);
        assert_eq!(rules.degradation.min_loads_completed, 0.5);
        assert_eq!(s.slos.len(), 1, "the two sections are no request class");
        // A class's own bound, over `max`.
        let (_dir, s) = parse(
            "[recovery]\n[slo.recovery]\npanel_query = \"10s\"\n[slo.panel_query]\np95 = \"1s\"\n",
        );
        let rules = s.unwrap().past_capacity;
        assert_eq!(rules.recovery_max_ms, None);
        assert_eq!(
            rules.recovery_max_by_class,
            [(crate::runfolder::RequestClass::PanelQuery, 10_000)].into()
        );
        let (_dir, s) = parse("");
        assert_eq!(s.unwrap().recovery, None);
    }

    #[test]
    fn bad_recovery_entries_are_refused_where_they_are() {
        assert_eq!(
            error("[recovery]\nusers = 60\n"),
            "DIR/s.toml:12:9: recovery users 60 must be 1..60 (below the ladder's ceiling, so the load drops)"
        );
        assert_eq!(
            error("[recovery]\nhold = \"30s\"\nwindow = \"31s\"\n"),
            "DIR/s.toml:13:10: recovery window `31s` must be 1s..30s (the phase's hold)"
        );
        assert_eq!(
            error("[recovery]\nhold = \"1.5s\"\n"),
            "DIR/s.toml:12:8: `1.5s`: stage and step durations are whole seconds"
        );
        assert!(
            error("[recovery]\nspeed = 1\n").starts_with("DIR/s.toml:12:1: unknown field `speed`")
        );
        assert_eq!(
            error("[recovery]\n[slo.recovery]\nmax = \"2m\"\n"),
            "DIR/s.toml:13:7: [slo.recovery] max `2m` must be above 0s and at most the recovery hold (1m)"
        );
        assert_eq!(
            error("[slo.recovery]\nmax = \"20s\"\n"),
            "DIR/s.toml:11:6: [slo.recovery] judges the recovery phase, but there is no [recovery]"
        );
        assert_eq!(
            error("[recovery]\n[slo.recovery]\np95 = \"1s\"\n"),
            "DIR/s.toml:13:7: [slo.recovery] takes max, dashboard_load, panel_query, ingest_batch, not `p95`"
        );
        assert_eq!(
            error("[recovery]\n[slo.recovery]\ningest_batch = \"20s\"\n"),
            "DIR/s.toml:13:16: [slo.recovery] ingest_batch: a class's recovery is judged on its SLOs, but there is no [slo.ingest_batch]"
        );
        assert_eq!(
            error("[recovery]\n[slo.recovery]\ndashboard_load = \"2m\"\n[slo.dashboard_load]\np95 = \"1s\"\n"),
            "DIR/s.toml:13:18: [slo.recovery] dashboard_load `2m` must be above 0s and at most the recovery hold (1m)"
        );
        assert_eq!(
            error("[slo.panel_query]\npanel_query = \"30s\"\n"),
            "DIR/s.toml:12:15: `panel_query` is not an objective of [slo.panel_query]: it belongs in [slo.recovery]"
        );
        assert_eq!(
            error("[slo.degradation]\ngoodput = \"150%\"\n"),
            "DIR/s.toml:12:11: `150%` is outside 0%..100%"
        );
        assert_eq!(
            error("[slo.panel_query]\nmax = \"30s\"\n"),
            "DIR/s.toml:12:7: `max` is not an objective of [slo.panel_query]: it belongs in [slo.recovery]"
        );
    }

    #[test]
    fn recovery_needs_a_ladder_to_follow() {
        let dir = tempfile::tempdir().unwrap();
        let dashboard = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/dashboards/toggl-overview.json");
        let text = format!(
            "[viewers]\ndashboard = {:?}\n[[stages]]\nusers = 2\nhold = \"5s\"\nramp = \"1s\"\n[recovery]\n",
            dashboard.display().to_string()
        );
        let e = Scenario::parse(&text, &dir.path().join("s.toml")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        assert!(
            e.to_string().ends_with(
                "s.toml:7:1: the recovery phase follows the stress ladder, but there is no [stress]"
            ),
            "{e}"
        );
    }
}
