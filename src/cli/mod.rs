//! The command line: one file per subcommand, each owning its arguments and `exec`.

pub mod baseline;
pub mod check;
pub mod check_dashboard;
pub mod generate;
pub mod index;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod worker;

use clap::{Parser, Subcommand};

use crate::error::Result;

/// Load tests for Grafana dashboards over InfluxDB, fed by a Toggl sync job.
#[derive(Debug, Parser)]
#[command(name = "dashload", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  dashload run                              staged run against the embedded sandbox\n  dashload run scenarios/smoke.toml         a 30-second smoke run\n  dashload check scenarios/staged.toml      validate and print the plan, send nothing\n  dashload report reports/<run> --baseline reports/<older-run>\n  dashload generate toggl --count 100000 --format lp --seed 7 > entries.lp\n  dashload sandbox --listen 127.0.0.1:8086\n  dashload index reports                    rebuild reports/index.html"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: the attack, then the report.
    Run(Box<run::RunArgs>),
    /// Validate a scenario and print the resolved plan, users and panel queries (sends nothing).
    Check(check::CheckArgs),
    /// Render (or re-render) a run folder's report.
    Report(report::ReportArgs),
    /// Generate test data to stdout.
    Generate(generate::GenerateArgs),
    /// Run the embedded sandbox stack on its own.
    Sandbox(sandbox::SandboxArgs),
    /// Rebuild a reports folder's index.html (every run, trends per scenario).
    Index(index::IndexArgs),
    /// Run as one worker of a distributed run: dial the manager, run its share.
    Worker(worker::WorkerArgs),
}

/// Run the parsed command; the returned code is the process exit code.
pub fn exec(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run::exec(*args),
        Command::Check(args) => check::exec(args),
        Command::Report(args) => report::exec(args),
        Command::Generate(args) => generate::exec(args),
        Command::Sandbox(args) => sandbox::exec(args),
        Command::Index(args) => index::exec(args),
        Command::Worker(args) => worker::exec(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn goose_flags_still_work_under_run() {
        let cli = Cli::try_parse_from([
            "dashload",
            "run",
            "scenarios/smoke.toml",
            "-u",
            "3",
            "-t",
            "10s",
            "--report-file",
            "x.json",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.goose.users, Some(3));
        assert_eq!(args.goose.run_time.as_deref(), Some("10s"));
        assert_eq!(args.goose.report_file, vec!["x.json".to_string()]);
        assert_eq!(args.scenario.to_str(), Some("scenarios/smoke.toml"));
    }
}
