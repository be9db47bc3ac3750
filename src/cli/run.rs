//! `dashload run [SCENARIO]`: the attack, then the report; exits with the verdict.

use std::path::PathBuf;

use clap::Args;
use goose::config::GooseConfiguration;

use super::baseline::BaselineArg;
use crate::error::{exit_code, Error, Result};
use crate::run::{run, RunOptions};

/// Arguments of `run`. Every Goose option works too (`-u`, `-t`, `--test-plan`,
/// `--report-file`, `--threshold`, …); giving Goose a load shape replaces the
/// scenario's stages.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  dashload run                                   scenarios/staged.toml against the embedded sandbox\n  dashload run scenarios/smoke.toml --baseline reports/<older-run>\n  dashload run scenarios/staging.toml --baseline median:5 --keep 60 --junit out/junit.xml --markdown out/summary.md\n  dashload run scenarios/staged.toml --test-plan \"20,10s;20,1m;0,5s\"   Goose's own load shape"
)]
pub struct RunArgs {
    /// The scenario file.
    #[arg(default_value = "scenarios/staged.toml", value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Where run folders are created.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// A baseline: a run folder; `last-passed` (the newest complete, passed run of
    /// this scenario, same digest, in the reports folder); or `median:N` (the last N
    /// such runs, N from 1 to 20: each figure their median, the gate their samples
    /// pooled). None found: judged on SLOs alone. The report shows deltas and the
    /// run exits 3 on a regression.
    #[arg(long, value_name = "DIR|last-passed|median:N", value_parser = super::baseline::parse)]
    pub baseline: Option<BaselineArg>,
    /// Do not render report.html at the end (render later with `dashload report`).
    #[arg(long)]
    pub no_report: bool,
    /// Also write junit.xml to FILE (parent folders created).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary for a pull-request comment to FILE (parent folders
    /// created).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// End the Markdown summary with links to the report and the CI job, left as
    /// `{{REPORT_URL}}` and `{{JOB_URL}}` for CI to fill.
    #[arg(long, requires = "markdown")]
    pub markdown_links: bool,
    /// Override one scenario value for this run, validated as in the file
    /// (repeatable): `--set target.url=http://127.0.0.1:8086`, `--set stages.0.users=20`.
    /// The value is TOML when it parses as TOML, else a string. Never a secret.
    /// DASHLOAD_TARGET_URL / DASHLOAD_TARGET_DATABASE set target.url / target.database.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// After the report, write the run's summary and per-second series as line
    /// protocol to the scenario's [export] InfluxDB (or DASHLOAD_EXPORT_URL /
    /// DASHLOAD_EXPORT_DATABASE), never the target under test. A failed export is a
    /// warning: the exit code stays the verdict's.
    #[arg(long, value_name = "KIND", value_parser = ["influxdb"])]
    pub export: Option<String>,
    /// After the run, remove the oldest complete run folders of this scenario beyond the
    /// newest N (never a baseline in use, an incomplete folder, or anything without run.json);
    /// prints each one removed. Nothing is removed after an interrupted run.
    #[arg(long, value_name = "N", value_parser = crate::history::retention::parse_keep)]
    pub keep: Option<usize>,
    /// Distributed runs: `--workers`, `--listen`, `--on-worker-loss`.
    #[command(flatten)]
    pub cluster: super::worker::ClusterArgs,
    /// Goose's options.
    #[command(flatten)]
    pub goose: GooseConfiguration,
}

/// Run and return the verdict's exit code.
pub fn exec(args: RunArgs) -> Result<u8> {
    let argv: Vec<String> = std::env::args().collect();
    let test_plan = argv
        .iter()
        .position(|a| a == "--test-plan")
        .and_then(|i| argv.get(i + 1))
        .cloned()
        .or_else(|| {
            argv.iter()
                .find_map(|a| a.strip_prefix("--test-plan=").map(str::to_string))
        });
    let goose_shape = test_plan.is_some()
        || args.goose.users.is_some()
        || args.goose.run_time.is_some()
        || args.goose.iterations.is_some();
    let goose_total_users = match (&test_plan, args.goose.users) {
        (Some(plan), _) => Some(test_plan_total_users(plan)?),
        (None, Some(users)) => Some(users),
        (None, None) if goose_shape => Some(1),
        _ => None,
    };
    if args.no_report {
        if let Some(flag) = [("--junit", &args.junit), ("--markdown", &args.markdown)]
            .into_iter()
            .find_map(|(flag, v)| v.as_ref().map(|_| flag))
        {
            return Err(Error::Usage(format!(
                "{flag} needs the report: it cannot go with --no-report"
            )));
        }
    }
    let overrides = crate::scenario::Overrides::from_env_and_flags(&args.set)?;
    // Checked before anything is sent: where the results go, and that it is not the target.
    // Read once for what is settled before the run: where results go and the
    // baselines of this scenario's name and digest (the run validates it again).
    let scenario = if args.export.is_some() || args.baseline.is_some() {
        Some(crate::scenario::Scenario::load_with(
            &args.scenario,
            &overrides,
        )?)
    } else {
        None
    };
    // Checked before anything is sent: where the results go, and that it is not the target.
    let export = match (&args.export, &scenario) {
        (Some(_), Some(scenario)) => Some(crate::export::destination(scenario)?),
        _ => None,
    };
    // Read before the load: an unreadable baseline must not cost the report after it.
    let chosen = match (&args.baseline, &scenario) {
        (Some(arg), Some(scenario)) => {
            Some(super::baseline::resolve(arg, scenario, &args.reports_dir)?)
        }
        _ => None,
    };
    let (baselines, baseline_selection, loaded) = match chosen {
        Some(c) => (c.dirs, c.selection, Some(std::sync::Arc::new(c.loaded))),
        None => (Vec::new(), None, None),
    };
    let reports_dir = args.reports_dir.clone();
    let protected: Vec<PathBuf> = baselines.clone();
    let options = RunOptions {
        scenario: args.scenario,
        reports_dir: args.reports_dir,
        report: crate::report::ReportOptions {
            baselines,
            baseline_selection,
            loaded,
            junit: args.junit,
            markdown: args.markdown,
            markdown_links: args.markdown_links,
            ..Default::default()
        },
        goose: args.goose,
        goose_shape,
        goose_total_users,
        render: !args.no_report,
        overrides,
        worker: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let result = match args.cluster.manager_options(&args.set)? {
        Some(cluster) => runtime.block_on(crate::cluster::manager::run(options, cluster))?,
        None => runtime.block_on(run(options))?,
    };
    let verdict = match &result.report {
        Some(report) => {
            println!("{}", report.text);
            if let Some(to) = &export {
                runtime.block_on(export_run(to, &report.summary, &result.run_dir));
            }
            super::report::verdict_code(report.failed(), report.regression)
        }
        None => {
            if export.is_some() {
                eprintln!("dashload: warning: nothing exported: --no-report writes no summary.json to export");
            }
            println!(
                "run folder: {} (render with `dashload report {}`)",
                result.run_dir.display(),
                result.run_dir.display()
            );
            exit_code::OK
        }
    };
    crate::history::after_run(
        &reports_dir,
        &result.run_dir,
        &result.meta.scenario,
        args.keep,
        &protected,
        result.meta.interrupted,
    );
    // A run cut short has no verdict of its own: its code says so.
    Ok(if result.meta.interrupted {
        exit_code::INTERRUPTED
    } else {
        verdict
    })
}

/// `--export influxdb`: write the run's results; a failure is a warning on stderr.
async fn export_run(
    to: &crate::scenario::Target,
    summary: &std::path::Path,
    run_dir: &std::path::Path,
) {
    let warn = |why: &str| {
        eprintln!("dashload: warning: export to InfluxDB failed: {why} (the verdict is unchanged)")
    };
    let summary: crate::report::summary::Summary = match std::fs::read(summary)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return warn(&format!("{}: {e}", summary.display())),
    };
    let run_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let revision = std::env::var(crate::export::REVISION_ENV).ok();
    let body = crate::export::lines(&summary, &run_id, revision.as_deref());
    let points = body.iter().filter(|&&b| b == b'\n').count();
    match crate::export::write(to, body).await {
        Ok(_) => eprintln!(
            "dashload: exported {points} points of {run_id} to {}",
            to.summary().url
        ),
        Err(e) => warn(&e),
    }
}

/// Users Goose launches over a `--test-plan`: the sum of every increase.
fn test_plan_total_users(plan: &str) -> Result<usize> {
    let mut previous = 0;
    let mut total = 0;
    for step in plan.split(';') {
        let users: usize = step
            .split(',')
            .next()
            .and_then(|u| u.trim().parse().ok())
            .ok_or_else(|| Error::Usage(format!("--test-plan: `{step}` is not `users,time`")))?;
        total = users.saturating_sub(previous).saturating_add(total);
        previous = users;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_plan_totals_sum_the_increases() {
        assert_eq!(
            test_plan_total_users("10,5s;10,1m;5,10s;20,10s;0,5s").unwrap(),
            25
        );
        assert!(test_plan_total_users("x,5s").is_err());
    }
}
