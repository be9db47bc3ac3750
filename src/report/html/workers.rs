//! The page's per-worker table of a distributed run.

use std::fmt::Write as _;

use crate::cluster::merge::WorkerRow;
use crate::report::format::text;

/// The per-worker table, after the generator section of the page.
pub fn section(h: &mut String, rows: &[WorkerRow]) -> std::fmt::Result {
    h.push_str("<section id=\"workers\">\n<h2>Workers</h2>\n<p class=\"note\">A distributed run: each worker's share of the viewers and its own figures. Every figure elsewhere in the report comes from the union of the workers' request logs, each shifted by its offset onto the run's clock. A worker near its cores, or far slower than the others, points at the generator rather than the target.</p>\n");
    h.push_str("<table><tr><th>worker</th><th class=\"l\">host</th><th>viewers</th><th>sync users</th><th>requests</th><th>failed</th><th>load p95 ms</th><th>cores used (peak) / cores</th><th>offset ms</th><th>clock offset ms</th><th class=\"l\">ended</th><th class=\"l\">bottleneck</th></tr>\n");
    let opt = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |v| format!("{v:.d$}"));
    for r in rows {
        let w = &r.record;
        let ended = match w.lost_at_ms {
            Some(at) => format!(
                "lost at {:.1} s: {}",
                at as f64 / 1000.0,
                w.lost_reason.as_deref().unwrap_or("")
            ),
            None => w.ended_by.clone(),
        };
        writeln!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({}) / {}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            w.index,
            text(&w.host),
            w.peak_viewers,
            w.sync_users,
            r.requests,
            r.failed,
            opt(r.load_p95_ms, 1),
            opt(r.mean_cores, 2),
            opt(r.peak_cores, 2),
            r.cores.map_or("—".into(), |c| c.to_string()),
            w.offset_ms,
            opt(w.clock_offset_ms, 1),
            text(&ended),
            r.bottleneck
                .as_deref()
                .map_or(String::new(), |b| format!("<span class=\"fail\">{}</span>", text(b))),
        )?;
    }
    h.push_str("</table>\n</section>\n");
    Ok(())
}
