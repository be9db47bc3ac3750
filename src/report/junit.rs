//! `junit.xml`: the SLO verdicts of the judged (hold) windows, for CI systems.
//!
//! One `<testcase>` per SLO per hold window: a failed SLO is a `<failure>`
//! (so a scheduled CI run shows it), an SLO with no data is `<skipped>`.
//! Stress steps are expected to break, so they are not test cases.

use std::fmt::Write;

use super::html::escape;
use super::summary::{SloVerdict, Summary};

/// The XML text of `junit.xml`.
pub fn junit(s: &Summary) -> String {
    let judged: Vec<_> = s.slos.iter().filter(|r| r.judged).collect();
    let failures = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::Fail)
        .count();
    let skipped = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::NoData)
        .count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let suite = format!("dashload SLOs: {}", s.run.scenario);
    let _ = writeln!(
        x,
        "<testsuites name=\"{n}\" tests=\"{t}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  <testsuite name=\"{n}\" tests=\"{t}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" timestamp=\"{ts}\" time=\"{d:.3}\">",
        n = escape(&suite),
        t = judged.len(),
        ts = s.run.started_at.format("%Y-%m-%dT%H:%M:%S"),
        d = s.run.duration_s,
    );
    // The run's counts, for CI dashboards: HTTP calls apart from operations.
    let t = &s.totals;
    let mut props = vec![
        ("http_requests".to_string(), t.requests.to_string()),
        ("http_failed".to_string(), t.failed.to_string()),
        ("http_outside_log".to_string(), t.outside_log.to_string()),
    ];
    for o in &t.operations {
        props.push((format!("{}_count", o.class.key()), o.count.to_string()));
        props.push((format!("{}_failed", o.class.key()), o.failed.to_string()));
    }
    x.push_str("    <properties>\n");
    for (name, value) in props {
        let _ = writeln!(x, "      <property name=\"{name}\" value=\"{value}\"/>");
    }
    x.push_str("    </properties>\n");
    for r in judged {
        let unit = match r.metric {
            crate::runfolder::SloMetric::ErrorRate => "",
            crate::runfolder::SloMetric::MsPerPoint => " ms/point",
            _ => " ms",
        };
        let name = format!("{} {} <= {}{unit}", r.class.key(), r.metric.key(), r.max);
        let _ = write!(
            x,
            "    <testcase classname=\"dashload.{}.{}\" name=\"{}\" time=\"0\"",
            escape(&s.run.scenario),
            escape(&r.window),
            escape(&name)
        );
        match r.verdict {
            SloVerdict::Pass => x.push_str("/>\n"),
            SloVerdict::Fail => {
                let msg = format!(
                    "{} {} observed {}{unit}, above {}{unit}",
                    r.class.label(),
                    r.metric.key(),
                    r.observed.map_or("?".into(), |v| format!("{v:.4}")),
                    r.max
                );
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{m}\" type=\"SloFailed\">{m}</failure>\n    </testcase>",
                    m = escape(&msg)
                );
            }
            SloVerdict::NoData => {
                let _ = writeln!(
                    x,
                    ">\n      <skipped message=\"no data: {}\"/>\n    </testcase>",
                    escape(r.note.as_deref().unwrap_or("nothing to judge"))
                );
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
