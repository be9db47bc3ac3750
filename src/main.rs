//! dashload's binary: parse, run, map the one error type to the documented exit codes.

use std::process::ExitCode;

use clap::Parser;
use dashload::cli::{exec, Cli};

fn main() -> ExitCode {
    // `parse` (not `try_parse`) so --help and --version print and exit 0, and usage
    // errors exit 2 with clap's message.
    let cli = Cli::parse();
    match exec(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("dashload: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}
