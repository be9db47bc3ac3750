//! Render a run folder's report, or write a synthetic run folder; used by
//! `bench/report_scale.sh` to measure the post-processor under `/usr/bin/time -v`.
//!
//! ```text
//! cargo run --release --example report_render -- gen <dir> <rows> [seed]
//! cargo run --release --example report_render -- gen-windows <dir> <rows> <windows>
//! cargo run --release --example report_render -- render <dir> [baseline-dir]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dashload::report::{render_run, synthetic, ReportOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") if args.len() >= 3 => (|| {
            let dir = PathBuf::from(&args[1]);
            std::fs::create_dir_all(&dir).map_err(|e| dashload::Error::io(&dir, e))?;
            let rows: u64 = args[2]
                .parse()
                .map_err(|e| dashload::Error::Usage(format!("rows: {e}")))?;
            let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
            let started = Instant::now();
            synthetic::write_run(&dir, rows, seed)?;
            eprintln!(
                "wrote {rows} rows into {} in {:.2} s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        })(),
        Some("gen-windows") if args.len() >= 4 => (|| {
            let dir = PathBuf::from(&args[1]);
            std::fs::create_dir_all(&dir).map_err(|e| dashload::Error::io(&dir, e))?;
            let number = |s: &str, what: &str| {
                s.parse::<u64>()
                    .map_err(|e| dashload::Error::Usage(format!("{what}: {e}")))
            };
            let rows = number(&args[2], "rows")?;
            let windows = number(&args[3], "windows")? as usize;
            synthetic::write_many_windows(&dir, rows, windows, 1)?;
            eprintln!("wrote {rows} rows in {windows} windows into {}", dir.display());
            Ok(())
        })(),
        Some("render") if args.len() >= 2 => (|| {
            let options = ReportOptions {
                baselines: args.get(2).map(PathBuf::from).into_iter().collect(),
                progress: true,
                ..ReportOptions::default()
            };
            let started = Instant::now();
            let outcome = render_run(&PathBuf::from(&args[1]), &options)?;
            print!("{}", outcome.text);
            eprintln!("rendered in {:.3} s", started.elapsed().as_secs_f64());
            Ok(())
        })(),
        _ => Err(dashload::Error::Usage(
            "usage: report_render gen <dir> <rows> [seed] | gen-windows <dir> <rows> <windows> | render <dir> [baseline-dir]".into(),
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
