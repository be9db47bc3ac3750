//! `junit.xml`: the SLO verdicts of the judged (hold) windows, for CI systems.
//!
//! One `<testcase>` per SLO per hold window: a failed SLO is a `<failure>`
//! (so a scheduled CI run shows it), an SLO with no data is `<skipped>`.
//! Stress steps are expected to break, so they are not test cases. Every
//! case carries its observed value: in the failure message, or in
//! `<system-out>` when it passed. Error rates are written in percent.

use std::fmt::Write;

use super::html::escape;
use super::summary::{SloVerdict, Summary};
use crate::runfolder::SloMetric;

/// The XML text of `junit.xml`.
pub fn junit(s: &Summary) -> String {
    let judged: Vec<_> = s.slos.iter().filter(|r| r.judged).collect();
    // A run that could not be judged is one failed case of its own.
    let unmeasured = usize::from(s.unmeasured.is_some());
    let failures = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::Fail)
        .count()
        + unmeasured;
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
        t = judged.len() + unmeasured,
        ts = s.run.started_at.format("%Y-%m-%dT%H:%M:%S"),
        d = s.run.duration_s,
    );
    // The run's counts, for CI dashboards: HTTP calls apart from operations.
    let t = &s.totals;
    let mut props = vec![
        ("http_requests".to_string(), t.requests.to_string()),
        ("http_failed".to_string(), t.failed.to_string()),
        ("http_outside_log".to_string(), t.outside_log.to_string()),
        (
            "requests_unreadable_rows".to_string(),
            s.inputs.requests.corrupt_rows.to_string(),
        ),
        (
            "requests_out_of_range_rows".to_string(),
            s.inputs.requests.out_of_range_rows.to_string(),
        ),
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
    if let Some(why) = &s.unmeasured {
        let _ = writeln!(
            x,
            "    <testcase classname=\"dashload.{}\" name=\"run judged\" time=\"0\">\n      <failure message=\"{m}\" type=\"NotJudged\">{m}</failure>\n    </testcase>",
            escape(&s.run.scenario),
            m = escape(&format!("not judged: {why}"))
        );
    }
    for r in judged {
        let (bound, observed) = figures(r.metric, r.max, r.observed);
        let name = format!("{} {} <= {bound}", r.class.key(), r.metric.key());
        let _ = write!(
            x,
            "    <testcase classname=\"dashload.{}.{}\" name=\"{}\" time=\"0\"",
            escape(&s.run.scenario),
            escape(&r.window),
            escape(&name)
        );
        match r.verdict {
            SloVerdict::Pass => {
                let msg = format!(
                    "{} {} observed {observed}, within {bound}",
                    r.class.label(),
                    r.metric.key(),
                );
                let _ = writeln!(
                    x,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&msg)
                );
            }
            SloVerdict::Fail => {
                let msg = format!(
                    "{} {} observed {observed}, above {bound}",
                    r.class.label(),
                    r.metric.key(),
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

/// The bound and the observed value of an SLO, with units: error rates in
/// percent, latencies in ms, write cost in ms/point.
fn figures(metric: SloMetric, max: f64, observed: Option<f64>) -> (String, String) {
    let f = |v: f64| match metric {
        SloMetric::ErrorRate => format!("{} %", trim(v * 100.0)),
        SloMetric::MsPerPoint => format!("{} ms/point", trim(v)),
        _ => format!("{} ms", trim(v)),
    };
    (f(max), observed.map_or("?".into(), f))
}

/// Up to four decimals, without trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rates_are_in_percent_and_latencies_in_ms() {
        assert_eq!(
            figures(SloMetric::ErrorRate, 0.01, Some(0.0123)),
            ("1 %".to_string(), "1.23 %".to_string())
        );
        assert_eq!(
            figures(SloMetric::P95, 250.0, Some(212.5)),
            ("250 ms".to_string(), "212.5 ms".to_string())
        );
        assert_eq!(figures(SloMetric::P99, 400.0, None).1, "?");
    }
}
