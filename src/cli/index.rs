//! `dashload index [DIR]`: rebuild a reports folder's `index.html` from its run folders.

use std::path::PathBuf;

use clap::Args;

use crate::error::{exit_code, Result};

/// Arguments of `index`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  dashload index                 rebuild reports/index.html\n  dashload index /srv/dashload/reports"
)]
pub struct IndexArgs {
    /// The reports folder (holding run folders).
    #[arg(default_value = "reports", value_name = "DIR")]
    pub dir: PathBuf,
}

/// Write the index and say what it holds.
pub fn exec(args: IndexArgs) -> Result<u8> {
    let (path, n) = crate::history::index::write_index(&args.dir)?;
    println!("{}: {}", path.display(), n.counts());
    Ok(exit_code::OK)
}
