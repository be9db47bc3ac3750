//! The page's table of the sync job's retries, batches and backlog.

use std::fmt::Write as _;

use crate::report::summary::Summary;

/// The sync job under faults, in the report's sync section (nothing without `sync.csv`).
pub fn section(h: &mut String, s: &Summary) -> std::fmt::Result {
    let Some(r) = &s.sync.resilience else {
        return Ok(());
    };
    // `cannot_keep_up` is the page's to show, outside any folded block.
    h.push_str("<h3>Retries, batches and backlog</h3>\n<table class=\"kv\">\n");
    let mut row = |k: &str, v: String| writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    row(
        "Batches written (halves of a split count apart)",
        r.batches.to_string(),
    )?;
    row(
        "Retries",
        match r.retry_wait_ms {
            Some([lo, mid, hi]) => format!(
                "{} (waits {lo} / {mid} / {hi} ms shortest / median / longest; {} of {} followed the back-off asked)",
                r.retries, r.retries_following_backoff, r.retries
            ),
            None => "0".into(),
        },
    )?;
    row("Batches split (413)", r.split.to_string())?;
    row(
        "Batches dropped (points lost)",
        format!("{} ({} points)", r.dropped, r.dropped_points),
    )?;
    row(
        "Batches possibly written twice (stored after an attempt that got no answer)",
        r.possibly_written_twice.to_string(),
    )?;
    row(
        "Largest backlog (points fetched, not yet stored)",
        r.backlog.iter().map(|b| b.1).max().unwrap_or(0).to_string(),
    )?;
    row(
        "Largest freshness lag (age of the newest stored data)",
        r.freshness_lag_ms
            .iter()
            .map(|l| l.1)
            .max()
            .map_or("—".into(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
    )?;
    for f in &r.faults {
        row(
            &format!(
                "Fault {}: backlog built, retries until drained, time to drain",
                f.fault
            ),
            format!(
                "{} points, {} retries, {}",
                f.peak_points,
                f.retries,
                f.drain_ms
                    .map_or("did not drain before the run ended".into(), |ms| {
                        format!("drained {:.1} s after the window", ms as f64 / 1000.0)
                    })
            ),
        )?;
    }
    h.push_str("</table>\n");
    Ok(())
}
