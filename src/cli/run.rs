//! `dashload run [SCENARIO]`: the attack, then the report; exits with the verdict.

use std::path::PathBuf;

use clap::Args;
use goose::config::GooseConfiguration;

use crate::error::{exit_code, Error, Result};
use crate::run::{run, RunOptions};

/// Arguments of `run`. Every Goose option works too (`-u`, `-t`, `--test-plan`,
/// `--report-file`, `--threshold`, …); giving Goose a load shape replaces the
/// scenario's stages.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  dashload run                                   scenarios/staged.toml against the embedded sandbox\n  dashload run scenarios/smoke.toml --baseline reports/<older-run>\n  dashload run scenarios/staged.toml --baseline last-passed --keep 60\n  dashload run scenarios/staged.toml --test-plan \"20,10s;20,1m;0,5s\"   Goose's own load shape"
)]
pub struct RunArgs {
    /// The scenario file.
    #[arg(default_value = "scenarios/staged.toml", value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Where run folders are created.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,
    /// A baseline: a run folder, or `last-passed` (the newest complete, passed run of
    /// this scenario, same digest, in the reports folder; none: judged on SLOs alone).
    /// The report shows deltas and the run exits 3 on a regression.
    #[arg(long, value_name = "DIR|last-passed")]
    pub baseline: Option<PathBuf>,
    /// Do not render report.html at the end (render later with `dashload report`).
    #[arg(long)]
    pub no_report: bool,
    /// After the run, remove the oldest complete run folders of this scenario beyond the
    /// newest N (never a baseline in use, an incomplete folder, or anything without run.json);
    /// prints each one removed. Nothing is removed after an interrupted run.
    #[arg(long, value_name = "N", value_parser = crate::history::retention::parse_keep)]
    pub keep: Option<usize>,
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
    let baseline = match args.baseline {
        Some(b) if b.as_os_str() == LAST_PASSED => last_passed(&args.scenario, &args.reports_dir)?,
        other => other,
    };
    if let Some(baseline) = &baseline {
        if !baseline.join(crate::runfolder::files::RUN_META).is_file() {
            return Err(Error::Usage(format!(
                "--baseline {}: not a run folder (no run.json)",
                baseline.display()
            )));
        }
    }
    let reports_dir = args.reports_dir.clone();
    let protected: Vec<PathBuf> = baseline.iter().cloned().collect();
    let options = RunOptions {
        scenario: args.scenario,
        reports_dir: args.reports_dir,
        baseline,
        goose: args.goose,
        goose_shape,
        goose_total_users,
        render: !args.no_report,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?;
    let result = runtime.block_on(run(options))?;
    let verdict = match &result.report {
        Some(report) => {
            println!("{}", report.text);
            super::report::verdict_code(report.failed(), report.regression)
        }
        None => {
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

/// `--baseline last-passed`.
const LAST_PASSED: &str = "last-passed";

/// The newest passed run of this scenario (same name and digest) under
/// `reports`, said on stderr; `None`, said too, when there is none.
fn last_passed(scenario: &std::path::Path, reports: &std::path::Path) -> Result<Option<PathBuf>> {
    let scenario = crate::scenario::Scenario::load(scenario)?;
    let found = crate::history::last_passed(reports, &scenario.name, &scenario.digest);
    match &found {
        Some(run) => eprintln!(
            "dashload: baseline: {} (the newest passed run of {} with this scenario digest)",
            run.dir.display(),
            scenario.name
        ),
        None => eprintln!(
            "dashload: baseline: no passed run of {} with this scenario digest under {}: judged on its SLOs alone",
            scenario.name,
            reports.display()
        ),
    }
    Ok(found.map(|r| r.dir))
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
        total += users.saturating_sub(previous);
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
