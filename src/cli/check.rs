//! `dashload check SCENARIO`: validate a scenario and print what a run would do —
//! the load plan with its windows, the users, every panel query as it will be
//! sent, and what was skipped. Nothing is sent, except with `--probe`: the
//! dashboard's variable queries (see [`super::check_dashboard`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::check_dashboard::{self, FluxShown, Walked};
use crate::error::Result;
use crate::plan::Plan;
use crate::runfolder::SloMetric;
use crate::scenario::duration::format_duration;
use crate::scenario::{Scenario, SyncSource};

/// Arguments of `check`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  dashload check scenarios/staged.toml")]
pub struct CheckArgs {
    /// The scenario file.
    #[arg(default_value = "scenarios/staged.toml", value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Override one scenario value, as `run --set` does (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Send the dashboard's variable queries (only those) to the target and
    /// show what each returned; panel queries use the values it gave.
    #[arg(long)]
    pub probe: bool,
    /// Exit 2 when a hold window is not expected to collect the samples an SLO
    /// needs to be judged (see the `samples` table).
    #[arg(long)]
    pub strict: bool,
}

/// Validate and print: the same validation as `run` (scenario, then plan).
pub fn exec(args: CheckArgs) -> Result<u8> {
    let overrides = crate::scenario::Overrides::from_env_and_flags(&args.set)?;
    let (mut scenario, _) = crate::plan::validate_with(&args.scenario, &overrides, false)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let walked = match args.probe {
        true => {
            check_dashboard::follow_target_version(&mut scenario)?;
            Some(check_dashboard::walk_probed(&scenario, now_ms)?)
        }
        false => None,
    };
    print!("{}", describe_with(&scenario, now_ms, walked.as_ref()));
    if args.strict {
        let samples = crate::sampling::SamplePlan::of(&scenario);
        if let Some(first) = samples
            .windows
            .iter()
            .find(|w| w.unjudged_slos().next().is_some())
        {
            let warnings = samples.warnings();
            return Err(crate::error::Error::config(
                first.location(&scenario),
                format!(
                    "--strict: {} (see the samples table above)",
                    warnings.join("; ")
                ),
            ));
        }
    }
    Ok(0)
}

/// `  until judged (planned ≈ 23 s), at most 1m`: the sampling planner's
/// shortest hold that judges every figure of the window, when it has one.
fn until_judged_text(
    samples: &crate::sampling::SamplePlan,
    win: &crate::runfolder::StageWindow,
) -> String {
    let cap = std::time::Duration::from_millis(win.end_ms - win.start_ms);
    let planned = samples
        .windows
        .iter()
        .find(|p| p.name == win.name)
        .and_then(|p| p.shortest_hold(None));
    let estimate = match planned {
        Some(d) if d > cap => format!(
            " (planned ≈ {} s: above its cap, it will end not judged)",
            d.as_secs_f64().ceil()
        ),
        Some(d) => format!(" (planned ≈ {} s)", d.as_secs_f64().ceil()),
        None => String::new(),
    };
    format!("  until judged{estimate}, at most {}", format_duration(cap))
}

/// The resolved scenario as text, panel queries expanded at `now_ms`.
pub fn describe(s: &Scenario, now_ms: i64) -> String {
    describe_with(s, now_ms, None)
}

/// As [`describe`], with the variables settled by `--probe` when given.
pub fn describe_with(s: &Scenario, now_ms: i64, probed: Option<&Walked>) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "scenario  {} ({}, sha256 {})",
        s.name,
        s.path.display(),
        &s.digest[..12.min(s.digest.len())]
    );
    if let Some(d) = &s.description {
        let _ = writeln!(w, "          {d}");
    }
    let t = s.target.summary();
    let _ = writeln!(
        w,
        "target    {} {} (database {})",
        t.kind,
        t.url,
        t.database.unwrap_or_default()
    );
    for o in &s.overrides {
        let _ = writeln!(w, "override  {o}");
    }
    if let Some(e) = &s.export {
        let e = e.summary();
        let _ = writeln!(
            w,
            "export    {} {} (database {}) with --export influxdb",
            e.kind,
            e.url,
            e.database.unwrap_or_default()
        );
    }
    let _ = writeln!(w, "seed      {}", s.seed);
    if let Some(l) = &s.live {
        let publisher = match &l.publisher {
            Some(p) => format!(
                "; a publisher pushes to /api/live/push/{} {} times a second",
                p.stream, p.rate
            ),
            None => "; no publisher".to_string(),
        };
        let _ = writeln!(
            w,
            "live      {} % of the viewers hold a Grafana Live session on {}{publisher}",
            (l.share * 100.0 * 100.0).round() / 100.0,
            l.channels.join(", ")
        );
    }

    let plan = Plan::from_scenario(s);
    let _ = writeln!(
        w,
        "\nplan      {} ({} in all, {} viewers at most, {} sync user{} throughout)",
        plan.goose_test_plan(),
        format_duration(plan.duration()),
        plan.peak_viewers(),
        plan.sync_users,
        if plan.sync_users == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        w,
        "  limits: at most {} users launched, {} steps (stages, ladder, refine), {} planned (raise with [limits])",
        s.limits.users,
        s.limits.steps,
        format_duration(s.limits.duration)
    );
    let samples = plan.shifted().then(|| crate::sampling::SamplePlan::of(s));
    for win in &plan.windows {
        let until = match &samples {
            Some(samples) if plan.until_judged.contains(&win.name) => {
                until_judged_text(samples, win)
            }
            _ => String::new(),
        };
        let _ = writeln!(
            w,
            "  {:<14} {:<12} {:>5} viewers  {:>7.1}s – {:>7.1}s{until}",
            win.name,
            win.kind.label(),
            win.viewers,
            win.start_ms as f64 / 1000.0,
            win.end_ms as f64 / 1000.0
        );
    }
    if plan.shifted() {
        let _ = writeln!(
            w,
            "  times are the longest each window can take: a hold until judged ends once every SLO and regression figure has its samples, and the later windows move earlier"
        );
    }
    if let Some(stress) = &s.stress {
        let terms: Vec<String> = stress
            .stop_when
            .iter()
            .map(|t| {
                format!(
                    "{} {} > {}",
                    t.class.key(),
                    t.metric.key(),
                    fmt_limit(t.metric, t.max)
                )
            })
            .collect();
        let _ = writeln!(
            w,
            "  ladder stops early when: {}",
            if terms.is_empty() {
                "never (runs to the ceiling)".into()
            } else {
                terms.join(" or ")
            }
        );
        if stress.refine > 0 {
            let _ = writeln!(
                w,
                "  then refines: {} bisection steps ({}s ramp + {}s hold each) between the last level held and the first failed; {} planned at the ceiling after the ladder for them",
                stress.refine,
                stress.ramp.as_secs(),
                stress.hold.as_secs(),
                format_duration(plan.refine_tail)
            );
        }
        if let Some(phase) = plan.recovery {
            let rules = &s.past_capacity;
            let _ = writeln!(
                w,
                "  then recovers: back to {} viewers for {} once the ladder stops or reaches its ceiling; time to recover judged over sliding windows of at least {}{}",
                phase.viewers,
                format_duration(phase.hold),
                format_duration(phase.window),
                rules
                    .recovery_max_ms
                    .map(|m| format!(", at most {} ([slo.recovery])", format_duration(std::time::Duration::from_millis(m))))
                    .unwrap_or_default()
            );
        }
        let d = &s.past_capacity.degradation;
        let _ = writeln!(
            w,
            "  past capacity: graceful when goodput stays ≥ {:.0} % of peak, failures are fast (p99 ≤ {:.0} ms) and not mostly timeouts or connection errors, ≥ {:.0} % of dashboard loads complete{}",
            d.min_goodput * 100.0,
            d.max_failure_p99_ms,
            d.min_loads_completed * 100.0,
            if s.past_capacity.degradation_judged {
                " ([slo.degradation]: a collapse fails the run)"
            } else {
                " (reported, not judged)"
            }
        );
    }

    if !s.faults.is_empty() {
        let _ = writeln!(
            w,
            "\nfaults    {} scheduled (times in the run; a window the ladder does not reach never starts)",
            s.faults.len()
        );
        for f in &s.faults {
            let _ = writeln!(w, "{}", f.schedule_line());
        }
    }

    let _ = writeln!(
        w,
        "\nsync      {} user(s), {} entries per sync every {}, batches of {} points{}, source {}",
        s.sync.users,
        s.sync.entries_per_sync,
        format_duration(s.sync.interval),
        s.sync.batch_size,
        if s.sync.gzip { " (gzip)" } else { "" },
        match &s.sync.source {
            SyncSource::Generate => "generated".to_string(),
            SyncSource::Toggl { url: Some(u), .. } => format!("Toggl API at {u}"),
            SyncSource::Toggl { url: None, .. } => "the sandbox's Toggl API".to_string(),
            SyncSource::Trigger(t) => format!(
                "the stack's sync service ({}{} until {} = {})",
                t.url.as_str().trim_end_matches('/'),
                t.trigger_path,
                t.status_field,
                t.done_value
            ),
        }
    );

    if !s.slos.is_empty() {
        let _ = writeln!(w, "\nslos");
        for slo in &s.slos {
            let _ = writeln!(
                w,
                "  {:<16} {:<12} ≤ {}",
                slo.class.key(),
                slo.metric.key(),
                fmt_limit(slo.metric, slo.max)
            );
        }
    }

    let r = &s.regression;
    let extra: Vec<String> = r
        .figures
        .iter()
        .map(|f| format!("{}.{}", f.class.key(), f.metric.key()))
        .collect();
    let _ = writeln!(
        w,
        "\nregression against a baseline: the SLO figures{}; latency worse by > {:.0} % and > {} ms, error rate up by > {:.1} points, at {:.0} % confidence",
        if extra.is_empty() {
            // No `[regression] figures`: the gate chooses figures for their samples.
            " and, chosen for their samples, panel_query.p50, panel_query.p95, dashboard_load.p50, dashboard_load.p95 (p50 alone on a hold with too few loads) and dashboard_load.error_rate".to_string()
        } else {
            format!(" and {}", extra.join(", "))
        },
        r.latency * 100.0,
        r.latency_floor_ms,
        r.error_rate * 100.0,
        r.confidence * 100.0
    );
    out.push_str(&crate::sampling::SamplePlan::of(s).table());
    let w = &mut out;
    if s.sandbox != crate::scenario::SandboxTuning::default() {
        let _ = writeln!(
            w,
            "sandbox   query cost × {}, write cost × {} (slower on purpose)",
            s.sandbox.query_cost, s.sandbox.write_cost
        );
    }

    if let Some(v) = &s.viewers {
        let d = &v.dashboard;
        let _ = writeln!(
            w,
            "\nviewers   dashboard \"{}\" (uid {}, {})",
            d.title,
            d.uid,
            v.dashboard_path.display()
        );
        let _ = writeln!(
            w,
            "          {}",
            check_dashboard::grafana_line(v, &s.target)
        );
        if !d.migrated.is_empty() {
            let _ = writeln!(
                w,
                "          migrated as Grafana does on load: {}",
                d.migrated.join(", ")
            );
        }
        let _ = writeln!(w, "          refresh {}, {} refreshes per visit, think {}..{}, at most {} queries in flight{}",
            v.refresh.map(format_duration).unwrap_or_else(|| "off".into()), v.refreshes_per_visit,
            format_duration(v.think_time.0), format_duration(v.think_time.1), v.max_parallel,
            if v.first_screen_only { ", first screen only" } else { "" });
        let ranges: Vec<String> = v
            .time_ranges
            .iter()
            .map(|r| format!("{}..{} ×{}", r.from, r.to, r.weight))
            .collect();
        let _ = writeln!(w, "          time ranges: {}", ranges.join(", "));
        for (name, mix) in &v.variables {
            if let Some(value) = &mix.value {
                let _ = writeln!(w, "          variable {name}: pinned to {value}");
                continue;
            }
            let _ = writeln!(
                w,
                "          variable {name}: all ×{}, one ×{}, some ×{}",
                mix.all, mix.one, mix.some
            );
        }
        let range = check_dashboard::default_range(d);
        let offline;
        let walked = match probed {
            Some(w) => w,
            None => {
                offline =
                    check_dashboard::walk_offline(d, &range, now_ms, FluxShown::new(&s.target));
                &offline
            }
        };
        check_dashboard::write_queries(w, d, &range, now_ms, walked, probed.is_some());
    }
    out
}

fn fmt_limit(metric: SloMetric, max: f64) -> String {
    match metric {
        SloMetric::ErrorRate => format!("{}%", max * 100.0),
        SloMetric::MsPerPoint => format!("{max}ms per point"),
        _ => format!("{max}ms"),
    }
}
