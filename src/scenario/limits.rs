//! The range of every scenario value, and `[limits]`: the bounds on the size of
//! the load that a user raises knowingly in the scenario itself.
//!
//! A scenario can ask for more than a machine holds (`ceiling = 100000` with
//! `step = 1` is 200 000 plan steps; `users = 1000000000000` asks Goose for
//! terabytes). The load's size is checked arithmetically, before any plan or user
//! is built, against `[limits]` (defaults below, raised up to hard maxima); each
//! other value has a fixed range. The book's docs/src/limits.md
//! lists them all.

use std::ops::RangeInclusive;
use std::time::Duration;

use toml::Spanned;

use super::duration::{format_duration, MAX_DURATION};
use super::raw::{RawLimits, RawScenario};
use super::{Ctx, Stage, Stress, SyncJob};
use crate::error::Result;

/// Users Goose may launch over a plan by default (every rise of viewers, plus the sync users).
pub const DEFAULT_USERS: usize = 10_000;
/// The most `[limits] users` may allow.
pub const MAX_USERS: usize = 1_000_000;
/// Plan steps (stages, ladder steps and refine steps) by default.
pub const DEFAULT_STEPS: usize = 1_000;
/// The most `[limits] steps` may allow.
pub const MAX_STEPS: usize = 100_000;
/// The longest planned run by default.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// `[target] timeout` (and `[target.write]`'s).
pub const TIMEOUT: RangeInclusive<Duration> = ms(1)..=secs(3600);
/// `[viewers] refresh` (and a dashboard's own `refresh`).
pub const REFRESH: RangeInclusive<Duration> = secs(1)..=secs(86_400);
/// Each end of `[viewers] think_time`.
pub const THINK_TIME: RangeInclusive<Duration> = ms(0)..=secs(3600);
/// `[sync] interval`.
pub const SYNC_INTERVAL: RangeInclusive<Duration> = ms(0)..=secs(86_400);
/// `[server_metrics] interval`.
pub const SERVER_METRICS_INTERVAL: RangeInclusive<Duration> = ms(100)..=secs(600);
/// `[sync] trigger_timeout`.
pub const TRIGGER_TIMEOUT: RangeInclusive<Duration> = secs(1)..=secs(86_400);
/// Latency bounds: `[slo.*] p50/p95/p99` and `stop_when` terms.
pub const LATENCY_BOUND: RangeInclusive<Duration> = ms(1)..=secs(3600);
/// `[regression] latency_floor`.
pub const LATENCY_FLOOR: RangeInclusive<Duration> = ms(0)..=secs(3600);
/// `[viewers] max_parallel`.
pub const MAX_PARALLEL: RangeInclusive<u32> = 1..=100;
/// `[viewers] refreshes_per_visit`.
pub const REFRESHES_PER_VISIT: RangeInclusive<u32> = 0..=1_000;
/// `[[viewers.time_ranges]] weight`, and each weight of `[viewers.variables.*]` (0 allowed there).
pub const WEIGHT: RangeInclusive<u32> = 1..=1_000_000;
/// `[sync] entries_per_sync`.
pub const ENTRIES_PER_SYNC: RangeInclusive<u32> = 1..=1_000_000;
/// `[slo.ingest_batch] ms_per_point` (above 0).
pub const MS_PER_POINT_MAX: f64 = 60_000.0;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `[limits]`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Users Goose launches over the plan: each rise of viewers, plus the sync users.
    pub users: usize,
    /// Plan steps: stages, stress-ladder steps and refine steps.
    pub steps: usize,
    /// The planned run's length (stages, ladder and refine tail).
    pub duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            users: DEFAULT_USERS,
            steps: DEFAULT_STEPS,
            duration: DEFAULT_DURATION,
        }
    }
}

/// A count against a range, for messages: `must be 1..=100 (got 0)`.
pub fn count_in(value: u64, range: RangeInclusive<u32>, what: &str) -> Result<(), String> {
    if (u64::from(*range.start())..=u64::from(*range.end())).contains(&value) {
        return Ok(());
    }
    Err(format!(
        "{what} must be {}..={} (got {value})",
        range.start(),
        range.end()
    ))
}

impl Ctx<'_> {
    /// A duration within `range`; the error quotes the value as written.
    pub(super) fn duration_in(
        &self,
        value: &Spanned<String>,
        range: RangeInclusive<Duration>,
        what: &str,
    ) -> Result<Duration> {
        let d = self.duration(value)?;
        self.check_duration(value, d, range, what)?;
        Ok(d)
    }

    pub(super) fn check_duration(
        &self,
        value: &Spanned<String>,
        d: Duration,
        range: RangeInclusive<Duration>,
        what: &str,
    ) -> Result<()> {
        if range.contains(&d) {
            return Ok(());
        }
        self.err(
            value.span(),
            format!(
                "{what} `{}` is outside {}..{}",
                value.get_ref(),
                format_duration(*range.start()),
                format_duration(*range.end())
            ),
        )
    }

    /// A count within `range`.
    pub(super) fn count_in<T: Copy + Into<u64>>(
        &self,
        value: &Spanned<T>,
        range: RangeInclusive<u32>,
        what: &str,
    ) -> Result<T> {
        let v = *value.get_ref();
        count_in(v.into(), range, what).or_else(|m| self.err(value.span(), m))?;
        Ok(v)
    }

    /// `[limits]`: each within its hard maximum.
    pub(super) fn limits(&self, raw: Option<&Spanned<RawLimits>>) -> Result<Limits> {
        let mut limits = Limits::default();
        let Some(raw) = raw else {
            return Ok(limits);
        };
        let l = raw.get_ref();
        if let Some(u) = &l.users {
            limits.users = self.limit(u, MAX_USERS, "users")?;
        }
        if let Some(s) = &l.steps {
            limits.steps = self.limit(s, MAX_STEPS, "steps")?;
        }
        if let Some(d) = &l.duration {
            limits.duration = self.duration_in(
                d,
                secs(1)..=MAX_DURATION,
                "[limits] duration (the longest planned run)",
            )?;
        }
        Ok(limits)
    }

    fn limit(&self, value: &Spanned<i64>, max: usize, what: &str) -> Result<usize> {
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => self.err(
                value.span(),
                format!(
                    "[limits] {what} must be 1..={max} (got {})",
                    value.get_ref()
                ),
            ),
        }
    }

    /// The load's size against `[limits]`, computed without building the plan:
    /// users launched, plan steps and planned length.
    pub(super) fn check_load(
        &self,
        raw: &RawScenario,
        limits: &Limits,
        stages: &[Stage],
        stress: Option<&Stress>,
        sync: &SyncJob,
    ) -> Result<()> {
        let sync_span = || {
            raw.sync
                .as_ref()
                .and_then(|s| s.get_ref().users.as_ref())
                .map_or(0..0, |u| u.span())
        };
        let raise = |what: &str, max: String| {
            format!("lower it, or raise [limits] {what} knowingly (at most {max})")
        };
        if sync.users > limits.users {
            return self.err(
                sync_span(),
                format!(
                    "{} sync users are above [limits] users = {}: {}",
                    sync.users,
                    limits.users,
                    raise("users", MAX_USERS.to_string())
                ),
            );
        }
        // Users Goose launches: every rise of the total (viewers + sync users).
        let mut launched = 0usize;
        let mut level = 0usize;
        let mut steps = 0usize;
        let mut length = Duration::ZERO;
        for (stage, raw_stage) in stages.iter().zip(&raw.stages) {
            let s = raw_stage.get_ref();
            let total = stage.users.saturating_add(sync.users);
            launched = launched.saturating_add(total.saturating_sub(level));
            level = total;
            if launched > limits.users {
                return self.err(
                    s.users.span(),
                    format!(
                        "stage users {} make Goose launch {launched} users (every rise counts, sync users included), above [limits] users = {}: {}",
                        stage.users,
                        limits.users,
                        raise("users", MAX_USERS.to_string())
                    ),
                );
            }
            steps += 1;
            if steps > limits.steps {
                return self.err(
                    raw_stage.span(),
                    format!(
                        "{steps} stages are above [limits] steps = {}: {}",
                        limits.steps,
                        raise("steps", MAX_STEPS.to_string())
                    ),
                );
            }
            length = length.saturating_add(stage.ramp).saturating_add(stage.hold);
            if length > limits.duration {
                return self.err(
                    s.hold.span(),
                    self.too_long(length, limits, "the stages up to this one"),
                );
            }
        }
        if let (Some(stress), Some(last), Some(raw_stress)) = (stress, stages.last(), &raw.stress) {
            let r = raw_stress.get_ref();
            let rise = stress.ceiling - last.users;
            launched = launched.saturating_add(rise);
            if launched > limits.users {
                return self.err(
                    r.ceiling.span(),
                    format!(
                        "ceiling {} makes Goose launch {launched} users (every rise counts, sync users included), above [limits] users = {}: {}",
                        stress.ceiling,
                        limits.users,
                        raise("users", MAX_USERS.to_string())
                    ),
                );
            }
            let ladder = rise.div_ceil(stress.step);
            let total = steps + ladder + stress.refine;
            if total > limits.steps {
                return self.err(
                    r.step.span(),
                    format!(
                        "step {} climbs from {} to {} viewers in {ladder} steps: with {} stage(s) and {} refine steps the plan has {total} steps, above [limits] steps = {}: {}",
                        stress.step,
                        last.users,
                        stress.ceiling,
                        stages.len(),
                        stress.refine,
                        limits.steps,
                        raise("steps", MAX_STEPS.to_string())
                    ),
                );
            }
            let each = stress.ramp.saturating_add(stress.hold);
            let n = u32::try_from(ladder + stress.refine).unwrap_or(u32::MAX);
            length = length.saturating_add(each.saturating_mul(n));
            if length > limits.duration {
                return self.err(
                    r.hold.span(),
                    self.too_long(
                        length,
                        limits,
                        &format!("{n} ladder and refine steps of {}", format_duration(each)),
                    ),
                );
            }
        }
        if !stages.is_empty() && launched == 0 {
            let last = raw.stages.last().map_or(0..0, |s| s.span());
            return self.err(
                last,
                "the plan starts no user: every stage has 0 viewers and [sync] users = 0",
            );
        }
        Ok(())
    }

    fn too_long(&self, length: Duration, limits: &Limits, what: &str) -> String {
        format!(
            "{what} last {}, above [limits] duration = {}: lower it, or raise [limits] duration knowingly (at most {})",
            format_duration(length),
            format_duration(limits.duration),
            format_duration(MAX_DURATION)
        )
    }
}
