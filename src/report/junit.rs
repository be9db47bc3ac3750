//! `junit.xml`: the SLO verdicts of the judged (hold) windows, for CI systems.
//!
//! One `<testcase>` per SLO per hold window: a failed SLO is a `<failure>`
//! (so a scheduled CI run shows it), an SLO with no data is `<skipped>`.
//! Stress steps are expected to break, so they are not test cases. Every
//! case carries its observed value: in the failure message, or in
//! `<system-out>` when it passed. Error rates are written in percent. The
//! recovery phase is a case of its own (a failure when it missed
//! `[slo.recovery] max`), and so is the degradation verdict under
//! `[slo.degradation]`, and each fault with a `recover_within`.
//!
//! Against a baseline, every judged regression figure on every matched hold
//! window is a case too: a `<failure>` when it regressed (the figure, its
//! change, how sure the gate is, the change's interval), `<skipped>` with the
//! reason when it could not be judged, and a pass that says what the gate
//! could have caught. A run that exits 3 therefore always has a failed case.

use std::fmt::Write;

use super::findings::Findings;
use super::format::escape;
use super::summary::{Comparison, Delta, SloResult, SloVerdict, Summary};
use crate::runfolder::SloMetric;

/// A case beside the SLOs: (window, verdict, name, message, failure type).
type Case = (String, SloVerdict, String, String, &'static str);

/// The XML text of `junit.xml`.
pub fn junit(s: &Summary) -> String {
    let judged: Vec<_> = s.slos.iter().filter(|r| r.judged).collect();
    // A run that could not be judged is one failed case of its own.
    let unmeasured = usize::from(s.unmeasured.is_some());
    let mut extra: Vec<Case> = past_capacity_cases(s)
        .into_iter()
        .map(|(window, verdict, name, message)| (window, verdict, name, message, "SloFailed"))
        .collect();
    if let Some(b) = &s.baseline {
        extra.extend(
            regression_cases(b)
                .into_iter()
                .map(|(window, verdict, name, message)| {
                    (window, verdict, name, message, "Regression")
                }),
        );
    }
    let failures = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::Fail)
        .count()
        + unmeasured
        + extra.iter().filter(|c| c.1 == SloVerdict::Fail).count();
    let skipped = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::NoData)
        .count()
        + extra.iter().filter(|c| c.1 == SloVerdict::NoData).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `skipped` is counted on the suite only: the common schema (Jenkins, Ant)
    // has no such attribute on `<testsuites>`, and strict readers reject it.
    let suite = format!("dashload SLOs: {}", s.run.scenario);
    let _ = writeln!(
        x,
        "<testsuites name=\"{n}\" tests=\"{t}\" failures=\"{failures}\" errors=\"0\" time=\"{d:.3}\">\n  <testsuite name=\"{n}\" tests=\"{t}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" timestamp=\"{ts}\" time=\"{d:.3}\">",
        n = escape(&suite),
        t = judged.len() + unmeasured + extra.len(),
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
                let msg = slo_failure(r, &observed, &bound);
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
    for (window, verdict, name, message, kind) in &extra {
        let _ = write!(
            x,
            "    <testcase classname=\"dashload.{}.{}\" name=\"{}\" time=\"0\"",
            escape(&s.run.scenario),
            escape(window),
            escape(name)
        );
        let m = escape(message);
        let _ = match verdict {
            SloVerdict::Pass => {
                writeln!(x, ">\n      <system-out>{m}</system-out>\n    </testcase>")
            }
            SloVerdict::Fail => writeln!(
                x,
                ">\n      <failure message=\"{m}\" type=\"{kind}\">{m}</failure>\n    </testcase>"
            ),
            SloVerdict::NoData => {
                writeln!(x, ">\n      <skipped message=\"{m}\"/>\n    </testcase>")
            }
        };
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// What failed, in words. An SLO can fail on more than its observed figure
/// (a p95 whose requests failed more than its 5 % allows, a percentile
/// already past its bound on a few samples): the judge's note says which, and
/// the observed figure is then only context, never "above" a bound it is below.
fn slo_failure(r: &SloResult, observed: &str, bound: &str) -> String {
    let what = format!("{} {}", r.class.label(), r.metric.key());
    match &r.note {
        Some(why) => format!(
            "{what} failed its bound of {bound}: {why} (successful requests' {}: {observed})",
            r.metric.key()
        ),
        None => format!("{what} observed {observed}, above {bound}"),
    }
}

/// The regression gate's figures as cases: (window, verdict, name, message).
/// Only figures it judges, and those it replaced (skipped, saying by what).
fn regression_cases(b: &Comparison) -> Vec<(String, SloVerdict, String, String)> {
    let mut cases: Vec<_> = b
        .windows
        .iter()
        .filter(|d| d.judged || d.note.is_some())
        .map(|d| {
            let figure = d.figure.trim_end_matches(" ms");
            let name = format!("no regression in {figure}");
            let change = change_words(d);
            let (verdict, message) = match (d.sure, d.interval) {
                (Some(sure), Some([lo, hi])) => {
                    let how_sure = format!(
                        "{:.1} % sure it is worse beyond the tolerance (change {:.0} % interval {} … {})",
                        sure * 100.0,
                        super::regress::INTERVAL * 100.0,
                        unit(d, lo),
                        unit(d, hi)
                    );
                    if d.regression {
                        (
                            SloVerdict::Fail,
                            format!("{figure} regressed: {change}, {how_sure}"),
                        )
                    } else {
                        let reach = match (d.detectable_pct, d.detectable) {
                            (Some(pct), _) => format!("; {pct:+.0} % would have been caught"),
                            (None, Some(x)) => {
                                format!("; +{:.1} points would have been caught", x * 100.0)
                            }
                            _ => String::new(),
                        };
                        (
                            SloVerdict::Pass,
                            format!("no regression in {figure}: {change}, {how_sure}{reach}"),
                        )
                    }
                }
                _ => (
                    SloVerdict::NoData,
                    format!(
                        "not judged: {}",
                        d.note.as_deref().unwrap_or("no samples on one side")
                    ),
                ),
            };
            (d.scope.clone(), verdict, name, message)
        })
        .collect();
    if cases.is_empty() {
        cases.push((
            "baseline".to_string(),
            SloVerdict::NoData,
            "regression gate".to_string(),
            format!(
                "not judged: no hold window of this run has a namesake in {}",
                b.dir
            ),
        ));
    }
    cases
}

/// "212 → 305 ms (+43.9 %)", "0.5 % → 6 % of requests failed".
fn change_words(d: &Delta) -> String {
    let rate = d.figure.ends_with("error rate");
    let v = |x: Option<f64>| match x {
        Some(x) if rate => format!("{} %", trim(x * 100.0)),
        Some(x) => format!("{} ms", trim(x)),
        None => "?".to_string(),
    };
    let pct = d
        .change_pct
        .filter(|_| !rate)
        .map(|p| format!(" ({p:+.1} %)"))
        .unwrap_or_default();
    format!("{} → {}{pct}", v(d.baseline), v(d.current))
}

fn unit(d: &Delta, v: f64) -> String {
    if d.figure.ends_with("error rate") {
        format!("{:+.2} points", v * 100.0)
    } else {
        format!("{v:+.1} ms")
    }
}

/// The recovery phase and the degradation verdict as cases: (window, verdict,
/// name, message). The recovery phase is a case even without a bound (it then
/// passes, saying what it measured); the degradation only under `[slo.degradation]`.
fn past_capacity_cases(s: &Summary) -> Vec<(String, SloVerdict, String, String)> {
    let mut cases = Vec::new();
    if let Some(r) = &s.recovery {
        // One case per class, each judged on its own bound; a summary from
        // before the per-class measurement has one for the phase.
        if r.classes.is_empty() {
            let name = match r.max_ms {
                Some(max) => format!("time to recover <= {}", super::format::seconds(max)),
                None => "time to recover".to_string(),
            };
            cases.push((
                r.window.clone(),
                r.verdict.unwrap_or(SloVerdict::Pass),
                name,
                Findings::of(s)
                    .recovery
                    .map(|r| r.sentence)
                    .unwrap_or_default(),
            ));
        }
        for k in &r.classes {
            let name = match k.max_ms {
                Some(max) => format!(
                    "{} time to recover <= {}",
                    k.class.label(),
                    super::format::seconds(max)
                ),
                None => format!("{} time to recover", k.class.label()),
            };
            let mut message = k.sentence.clone();
            if !k.left_out.is_empty() {
                message.push_str(&format!("; left out: {}", k.left_out.join("; ")));
            }
            cases.push((
                r.window.clone(),
                k.verdict.unwrap_or(SloVerdict::Pass),
                name,
                message,
            ));
        }
    }
    if let Some(d) = s.degradation.as_ref().filter(|d| d.judged) {
        let mut message = d.verdict.clone();
        if !d.missed.is_empty() {
            message.push_str(&format!("; missed: {}", d.missed.join("; ")));
        }
        cases.push((
            "past capacity".to_string(),
            if d.graceful {
                SloVerdict::Pass
            } else {
                SloVerdict::Fail
            },
            "graceful degradation".to_string(),
            message,
        ));
    }
    for f in &s.faults {
        if let (Some(verdict), Some(max)) = (f.verdict, f.recover_within_ms) {
            cases.push((
                format!("fault {}", f.index),
                verdict,
                format!("{} recovers within {}", f.name, super::format::seconds(max)),
                f.line(),
            ));
        }
    }
    cases
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

    /// The recovery phase and the collapse past capacity are cases, each
    /// judged on its own bound.
    #[test]
    fn recovery_and_collapse_are_cases_judged_on_their_bounds() {
        use crate::report::degradation::tests::{run, shape};
        use crate::runfolder::{PastCapacityRules, RequestClass};
        let rules = |max_ms, judged| PastCapacityRules {
            recovery_max_ms: Some(max_ms),
            degradation_judged: judged,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let xml = super::junit(&run(dir.path(), rules(30_000, true), shape(false)));
        assert!(xml.contains("time to recover &lt;= 30 s\""), "{xml}");
        let dir = tempfile::tempdir().unwrap();
        let xml = super::junit(&run(dir.path(), rules(10_000, true), shape(true)));
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        let dir = tempfile::tempdir().unwrap();
        let by_class = PastCapacityRules {
            recovery_max_by_class: [(RequestClass::PanelQuery, 20_000)].into(),
            ..rules(10_000, false)
        };
        let xml = super::junit(&run(dir.path(), by_class, shape(false)));
        assert!(
            xml.contains("name=\"panel query time to recover &lt;= 20 s\""),
            "{xml}"
        );
    }

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

    #[test]
    fn a_p95_failed_by_its_failure_share_says_so_never_above_a_bound_it_is_below() {
        use crate::runfolder::{RequestClass, WindowKind};
        let note = "17 of 310 dashboard load requests failed (5.48 %): more than the 5.00 % a p95 leaves beyond its bound";
        let r = SloResult {
            window: "stage 1 hold".into(),
            window_kind: WindowKind::Hold,
            judged: true,
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 5000.0,
            observed: Some(542.0),
            verdict: SloVerdict::Fail,
            note: Some(note.into()),
        };
        let (bound, observed) = figures(r.metric, r.max, r.observed);
        let msg = slo_failure(&r, &observed, &bound);
        assert!(!msg.contains("above"), "{msg}");
        assert_eq!(
            msg,
            format!("dashboard load p95 failed its bound of 5000 ms: {note} (successful requests' p95: 542 ms)")
        );
        // A plain failure still reads as one.
        let plain = SloResult {
            observed: Some(6200.0),
            note: None,
            ..r
        };
        let (bound, observed) = figures(plain.metric, plain.max, plain.observed);
        assert_eq!(
            slo_failure(&plain, &observed, &bound),
            "dashboard load p95 observed 6200 ms, above 5000 ms"
        );
    }
}

/// `junit.xml` against the common JUnit schema (`tests/fixtures/junit.xsd`),
/// with `xmllint` (Debian: libxml2-utils).
#[cfg(test)]
mod schema_tests {
    use std::path::Path;
    use std::process::Command;

    use crate::report::synthetic::Synthetic;
    use crate::report::{render_run, ReportOptions};
    use crate::runfolder::files;

    /// Validate `xml` with xmllint; `Err` with its complaint. `None` when
    /// xmllint is missing outside CI (said on stderr); under CI
    /// (`DASHLOAD_CI=1`, set by `.ci/run`) a missing xmllint fails the test.
    fn xmllint(xml: &str) -> Option<Result<(), String>> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("junit.xml");
        std::fs::write(&file, xml).unwrap();
        let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
        let out = match Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&file)
            .output()
        {
            Ok(out) => out,
            Err(e) if std::env::var_os("DASHLOAD_CI").is_some() => {
                panic!("xmllint is required under CI (apt-get install libxml2-utils): {e}")
            }
            Err(_) => {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: xmllint is not installed (apt-get install libxml2-utils): junit.xml was not checked against its schema"
                );
                return None;
            }
        };
        Some(if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        })
    }

    fn rendered(synthetic: Synthetic, rename: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        synthetic.write(dir.path()).unwrap();
        if rename {
            // Hostile names: quotes, angle brackets, ampersands in attributes.
            let mut meta = crate::runfolder::RunMeta::load(dir.path()).unwrap();
            meta.scenario = "a \"b\" <c> & 'd'".into();
            for w in &mut meta.windows {
                w.name = format!("{} <&\">", w.name);
            }
            crate::runfolder::write_atomic(
                &dir.path().join(files::RUN_META),
                &serde_json::to_vec(&meta).unwrap(),
            )
            .unwrap();
        }
        render_run(dir.path(), &ReportOptions::default()).unwrap();
        std::fs::read_to_string(dir.path().join(files::JUNIT)).unwrap()
    }

    /// `synthetic` rendered against a normal synthetic run as its baseline.
    fn against_a_baseline(synthetic: Synthetic) -> String {
        let base = tempfile::tempdir().unwrap();
        Synthetic::new(30_000, 42).write(base.path()).unwrap();
        render_run(base.path(), &ReportOptions::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        synthetic.write(dir.path()).unwrap();
        let options = ReportOptions {
            baselines: vec![base.path().to_path_buf()],
            ..ReportOptions::default()
        };
        render_run(dir.path(), &options).unwrap();
        std::fs::read_to_string(dir.path().join(files::JUNIT)).unwrap()
    }

    fn failures(xml: &str) -> usize {
        let at = xml.find("failures=\"").unwrap() + "failures=\"".len();
        xml[at..].split('"').next().unwrap().parse().unwrap()
    }

    #[test]
    fn a_regressed_run_fails_its_gate_cases_and_a_held_one_says_what_it_could_catch() {
        let slow = against_a_baseline(Synthetic {
            latency_factor: 1.5,
            ..Synthetic::new(30_000, 43)
        });
        let regressed: Vec<&str> = slow
            .lines()
            .filter(|l| l.contains("type=\"Regression\""))
            .collect();
        assert!(!regressed.is_empty(), "{slow}");
        assert!(failures(&slow) >= regressed.len(), "{slow}");
        assert!(
            regressed
                .iter()
                .any(|l| l.contains("panel query p95 regressed: ")
                    && l.contains(
                        " % sure it is worse beyond the tolerance (change 90 % interval +"
                    )),
            "{regressed:?}"
        );
        let same = against_a_baseline(Synthetic::new(30_000, 43));
        assert!(!same.contains("type=\"Regression\""), "{same}");
        assert!(
            same.contains("no regression in panel query p95: ")
                && same.contains(" would have been caught"),
            "{same}"
        );
        for (what, xml) in [("regressed", &slow), ("held", &same)] {
            let Some(verdict) = xmllint(xml) else { return };
            assert_eq!(verdict, Ok(()), "{what}:\n{xml}");
        }
    }

    #[test]
    fn junit_validates_against_the_common_junit_schema() {
        let cases = [
            (
                "a passing run",
                rendered(Synthetic::new(20_000, 1), false),
                "<system-out>",
            ),
            (
                "a failing run",
                rendered(
                    Synthetic {
                        extra_error_rate: 0.2,
                        ..Synthetic::new(20_000, 2)
                    },
                    true,
                ),
                "<failure ",
            ),
            (
                "a run too short to judge",
                rendered(Synthetic::new(300, 3), false),
                "<skipped ",
            ),
        ];
        for (what, xml, holds) in &cases {
            assert!(xml.contains(holds), "{what} has {holds}:\n{xml}");
            let Some(verdict) = xmllint(xml) else { return };
            assert_eq!(verdict, Ok(()), "{what}:\n{xml}");
        }
        // The schema is strict where readers are: `skipped` on <testsuites>
        // (what dashload wrote before) is refused.
        let old = cases[0]
            .1
            .replacen("errors=\"0\"", "errors=\"0\" skipped=\"0\"", 1);
        let refused = xmllint(&old).unwrap().unwrap_err();
        assert!(refused.contains("skipped"), "{refused}");
    }
}
