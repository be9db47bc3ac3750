//! The report post-processor's speed: prints figures, never fails on a time.
//!
//! A synthetic run folder is written once (outside the timed part), then
//! `render_run` is timed several times; the median, min and max and the
//! rows per second are printed. Peak memory at 1M and 10M rows is measured
//! by `bench/report_scale.sh` under `/usr/bin/time -v`.
//!
//! `cargo bench --bench report [-- <rows>]` (default 200,000 rows).

use std::time::Instant;

use dashload::report::{render_run, synthetic, ReportOptions};

fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    synthetic::write_run(dir.path(), rows, 1).expect("a synthetic run");
    let bytes = std::fs::metadata(dir.path().join("requests.csv")).map_or(0, |m| m.len());
    // Warm up once (page cache, allocator), then measure.
    render_run(dir.path(), &ReportOptions::default()).expect("a report");
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            render_run(dir.path(), &ReportOptions::default()).expect("a report");
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "report/render {rows} rows ({:.0} MB request log): median {median:.3} s (min {:.3}, max {:.3}) over {} runs, {:.2} M rows/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        times[0],
        times[times.len() - 1],
        times.len(),
        rows as f64 / median / 1e6,
        bytes as f64 / median / 1e6,
    );
}
