//! `dashload generate toggl`: realistic Toggl time entries (JSON Lines) or their
//! line protocol, to stdout, streamed (constant memory at any count).

use std::io::{BufWriter, Write};

use clap::{Args, Subcommand, ValueEnum};

use crate::error::{Error, Result};
use crate::workload::generate::{write_generated, OutputFormat};

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: Generate,
}

/// What `generate` can produce.
#[derive(Debug, Subcommand)]
pub enum Generate {
    /// Toggl Track time entries (API v9 shape) or their InfluxDB line protocol.
    #[command(
        after_help = "Examples:\n  dashload generate toggl --count 1000 --format json | head -1\n  dashload generate toggl --count 1000000 --format lp --seed 7 | curl -s --data-binary @- '127.0.0.1:8086/write?db=toggl&precision=s'"
    )]
    Toggl(TogglArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines: one Toggl API v9 time-entry object per line.
    Json,
    /// InfluxDB line protocol, precision seconds.
    Lp,
}

/// Arguments of `generate toggl`.
#[derive(Debug, Args)]
pub struct TogglArgs {
    /// How many entries.
    #[arg(long)]
    pub count: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Seed: the same seed gives the same entries (relative to the end time).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// End of the generated history, unix seconds (default: now).
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub end: Option<i64>,
}

/// Write the entries to stdout.
pub fn exec(args: GenerateArgs) -> Result<u8> {
    let Generate::Toggl(args) = args.what;
    let format = match args.format {
        Format::Json => OutputFormat::Json,
        Format::Lp => OutputFormat::Lp,
    };
    let end = args.end.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result =
        write_generated(&mut out, args.count, format, args.seed, end).and_then(|()| out.flush());
    match result {
        Ok(()) => Ok(0),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::io("<stdout>", e)),
    }
}
