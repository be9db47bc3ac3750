//! The page's "Fault windows" section.

use std::fmt::Write as _;

use crate::report::format::{clock, text};
use crate::report::summary::{SloVerdict, Summary};

/// The report's "Fault windows" section (nothing when the run had none).
pub fn section(h: &mut String, s: &Summary) -> std::fmt::Result {
    if s.faults.is_empty() {
        return Ok(());
    }
    h.push_str("<section id=\"faults\">\n<h2>Fault windows</h2>\n<p class=\"note\">Faults of the scenario's <code>[[faults]]</code>, as they ran (shaded red on every time chart). Requests and failures count the time buckets the window overlaps.</p>\n");
    h.push_str("<table><tr><th>#</th><th class=\"l\">fault</th><th class=\"l\">does</th><th class=\"l\">window</th><th>from</th><th>to</th><th>hits</th><th>requests</th><th>failed</th><th>error rate</th><th class=\"l\">failures by kind</th><th class=\"l\">commands</th><th class=\"l\">after it</th></tr>\n");
    let at = |ms: Option<u64>| {
        ms.map_or("did not run".to_string(), |ms| {
            clock(s.run.started_at, ms as f64 / 1000.0)
                + &format!(" (+{:.1} s)", ms as f64 / 1000.0)
        })
    };
    for f in &s.faults {
        let kinds: Vec<String> = f
            .failures_by_kind
            .iter()
            .map(|(k, n)| format!("{} {n}", text(k)))
            .collect();
        writeln!(
            h,
            "<tr class=\"fault-window\"><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            f.index,
            text(&f.name),
            text(&f.describe),
            text(&f.window),
            at(f.start_ms),
            at(f.end_ms),
            f.hits.map_or("—".into(), |n| n.to_string()),
            f.requests,
            f.failed,
            f.error_rate()
                .map_or("—".into(), |r| format!("{:.1} %", r * 100.0)),
            if kinds.is_empty() { "—".into() } else { kinds.join(", ") },
            f.commands.as_deref().map_or("—".into(), text),
            text(&match f.verdict {
                Some(SloVerdict::Fail) => format!("FAIL: {}", f.sentence()),
                Some(SloVerdict::NoData) => format!("NOT JUDGED: {}", f.sentence()),
                _ => f.sentence(),
            }),
        )?;
    }
    h.push_str("</table>\n</section>\n");
    Ok(())
}
