//! Sample planning (`dashload::sampling`) against real runs: what `check` plans
//! per hold window and judged figure is within 25 % of what the run collected,
//! and `run` warns before it sends anything when a hold cannot judge an SLO.

use dashload::report::summary::Summary;
use dashload::run::{run, RunOptions};
use dashload::runfolder::{files, RequestClass, SloMetric};
use dashload::sampling::{Purpose, SamplePlan};
use dashload::scenario::{Overrides, Scenario};
use goose::config::GooseConfiguration;

use crate::util::{dashload, text, workspace, ATTACK};

/// The samples a window collected for a figure, counted as the judgement counts
/// them: successful requests for a percentile, requests for an error rate.
fn collected(summary: &Summary, window: &str, class: RequestClass, metric: SloMetric) -> f64 {
    let w = summary
        .windows
        .iter()
        .find(|w| w.name == window)
        .unwrap_or_else(|| panic!("no window {window}"));
    let Some(stats) = w.classes.iter().find(|c| c.class == class) else {
        return 0.0;
    };
    match metric {
        SloMetric::ErrorRate | SloMetric::MsPerPoint => stats.count as f64,
        _ => (stats.count - stats.failed) as f64,
    }
}

#[test]
fn smoke_collects_what_its_sample_plan_says_within_a_quarter() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let path = dir.path().join("scenarios/smoke.toml");
    let plan = SamplePlan::of(&Scenario::load(&path).unwrap());
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: Overrides::none(),
        worker: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(run(options)).expect("the smoke run");
    let summary: Summary =
        serde_json::from_slice(&std::fs::read(result.run_dir.join(files::SUMMARY)).unwrap())
            .unwrap();
    let mut table = String::new();
    let mut off = Vec::new();
    assert!(!plan.windows.is_empty());
    for w in &plan.windows {
        for f in w.figures.iter().filter(|f| f.purpose == Purpose::Slo) {
            let planned = f.planned.expect("smoke's classes are all planned");
            let got = collected(&summary, &w.name, f.class, f.metric);
            table.push_str(&format!(
                "{} {}: planned {planned:.0}, collected {got}\n",
                w.name,
                f.name()
            ));
            if (got - planned).abs() > 0.25 * planned {
                off.push(f.name());
            }
        }
    }
    println!("{table}");
    assert!(off.is_empty(), "more than 25 % off: {off:?}\n{table}");
    // The plan said every SLO is judged: so says the report.
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    let unjudged: Vec<_> = summary
        .slos
        .iter()
        .filter(|r| r.judged && r.verdict == dashload::report::summary::SloVerdict::NoData)
        .map(|r| {
            format!(
                "{} {}.{}: {:?}",
                r.window,
                r.class.key(),
                r.metric.key(),
                r.note
            )
        })
        .collect();
    assert!(unjudged.is_empty(), "{unjudged:?}");
}

#[test]
fn run_warns_before_sending_when_a_hold_cannot_judge_an_slo() {
    let dir = workspace();
    // Nothing listens there: the run stops at preflight (exit 4), after the warning.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("target.url=\"http://127.0.0.1:{port}\"");
    let out = dashload(
        dir.path(),
        &[
            "run",
            "scenarios/smoke.toml",
            "--set",
            "target.kind=\"influxdb1\"",
            "--set",
            &url,
            "--set",
            "stages.0.hold=\"4s\"",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        stderr.contains("warning: scenarios/smoke.toml: stage 1 hold (10 viewers, 4s) cannot judge dashboard_load.p95"),
        "{}",
        text(&out)
    );
    assert!(stderr.contains("would judge every SLO"), "{}", text(&out));
    // check --strict refuses it, pointing at the hold.
    let strict = dashload(
        dir.path(),
        &[
            "check",
            "--strict",
            "scenarios/smoke.toml",
            "--set",
            "stages.0.hold=\"4s\"",
        ],
    );
    assert_eq!(strict.status.code(), Some(2), "{}", text(&strict));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("scenarios/smoke.toml:"), "{err}");
    assert!(err.contains("--strict: stage 1 hold"), "{err}");
    // As shipped, smoke passes --strict.
    let ok = dashload(dir.path(), &["check", "--strict", "scenarios/smoke.toml"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("samples   per judged window"));
}
