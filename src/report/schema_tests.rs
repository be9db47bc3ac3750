//! `summary.json` against its published schema, `docs/summary.schema.json`.
//!
//! The schema sets `additionalProperties: false` on every object, so a field
//! added to [`Summary`] (or any type inside it) without the schema fails here;
//! the maximal summary below sets every optional field, so one that is written
//! only sometimes is checked too.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::summary::{self, Summary, SCHEMA_VERSION};
use super::synthetic::Synthetic;
use super::{render_run, ReportOptions};
use crate::runfolder::{files, LadderStop, RequestClass, SloMetric, WindowKind};
use crate::users::live_log::{LiveEvent, LiveRow};

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/summary.schema.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("the schema is valid JSON Schema 2020-12")
}

/// Every violation, with where it is.
fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn run(root: &Path, name: &str, factor: f64, seed: u64) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Synthetic {
        latency_factor: factor,
        ..Synthetic::new(8_000, seed)
    }
    .write(&dir)
    .unwrap();
    dir
}

fn rendered(dir: &Path, options: &ReportOptions) -> Value {
    render_run(dir, options).unwrap();
    serde_json::from_slice(&std::fs::read(dir.join(files::SUMMARY)).unwrap()).unwrap()
}

#[test]
fn rendered_summaries_validate_with_and_without_baselines() {
    let v = validator(&schema());
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let (a, b) = (run(r, "a", 1.0, 1), run(r, "b", 1.1, 2));
    let current = run(r, "current", 1.4, 3);
    for (what, options) in [
        ("no baseline", ReportOptions::default()),
        (
            "one baseline",
            ReportOptions {
                baselines: vec![a.clone()],
                ..Default::default()
            },
        ),
        (
            "the median of two",
            ReportOptions {
                baselines: vec![a.clone(), b.clone()],
                baseline_selection: Some("the last 2 passed runs".into()),
                ..Default::default()
            },
        ),
        (
            "none found",
            ReportOptions {
                baseline_selection: Some("none found".into()),
                ..Default::default()
            },
        ),
    ] {
        let doc = rendered(&current, &options);
        assert_eq!(doc["schema_version"], json!(SCHEMA_VERSION), "{what}");
        assert_eq!(doc["baseline"].is_object(), !options.baselines.is_empty());
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{what}");
    }
}

fn live_row(event: LiveEvent, ok: bool, us: Option<u64>, reason: &str) -> LiveRow {
    LiveRow {
        elapsed_ms: 1,
        viewer: 0,
        event,
        channel: "stream/s/probe".into(),
        duration_us: us,
        offset: 1,
        missed: 0,
        ok,
        reason: reason.into(),
    }
}

#[test]
fn a_summary_with_every_optional_field_set_validates() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let base = run(r, "base", 1.0, 1);
    let current = run(r, "current", 1.5, 2);
    let doc = rendered(
        &current,
        &ReportOptions {
            baselines: vec![base],
            baseline_selection: Some("chosen".into()),
            ..Default::default()
        },
    );
    let mut s: Summary = serde_json::from_value(doc).unwrap();
    s.unmeasured = Some("why".into());
    s.partly_judged = Some("which".into());
    s.first_break = Some("step 1".into());
    s.run.target.database = Some("db".into());
    s.run.ended_at = Some(s.run.started_at);
    s.run.ladder_stop = Some(LadderStop {
        step: "step 1".into(),
        viewers: 60,
        reason: "p95".into(),
        at_ms: 1,
        refined_until_ms: Some(2),
        judged_from_ms: None,
    });
    s.run.counters.answers.insert(
        "panel x".into(),
        crate::runfolder::AnswerTotals {
            answers: 1,
            bytes: 2,
            series: 3,
        },
    );
    s.run
        .counters
        .http_outside_log
        .entry("preflight".into())
        .or_default()
        .insert("ping".into(), 1);
    let input = &mut s.inputs.requests;
    input.first_corrupt = Some("line 2".into());
    input.first_out_of_range = Some("line 3".into());
    input.note = Some("note".into());
    s.names[0].answers = Some(summary::AnswerSize {
        bytes: 1.0,
        series: 2.0,
    });
    s.names[0].range = Some("7d".into());
    let bracket = s.capacity_bracket.as_mut().unwrap();
    bracket.failing_slo = Some(summary::FailingSlo {
        class: RequestClass::PanelQuery,
        metric: SloMetric::P95,
        observed: 2.0,
        max: 1.0,
    });
    s.knee = Some(summary::Knee {
        viewers: 1,
        next_viewers: 2,
        next_window: "w".into(),
        slope_ratio: 0.1,
        fraction: 0.5,
    });
    let cmp = s.baseline.as_mut().unwrap();
    let d = &mut cmp.windows[0];
    d.sure = Some(0.5);
    d.interval = Some([-1.0, 1.0]);
    d.detectable = Some(12.0);
    d.detectable_pct = Some(14.0);
    d.note = Some("note".into());
    s.health.generator_cpu = Some(super::generator::GeneratorCpu {
        cores: 2,
        mean_cores: 0.5,
        peak_cores: 1.0,
        windows: vec![super::generator::WindowCpu {
            window: "stage 1 hold".into(),
            cores_used: 0.5,
            share: 0.25,
            busy: false,
            busiest_worker: Some(1),
        }],
    });
    s.health.warnings.push("warning".into());
    s.run.skipped.push(crate::runfolder::SkippedQuery {
        what: "\"CPU\" (id 4)".into(),
        reason: "Flux query: an influxdb1 target runs InfluxQL only".into(),
    });
    s.run.counters.server_scrapes = 3;
    s.run.counters.server_scrape_failures = 1;
    s.run.counters.goose_clock_offset_ms = Some(-4);
    s.server = Some(super::server::ServerSummary {
        scrapes: 3,
        failed_scrapes: 1,
        unreadable_rows: 0,
        metrics: vec!["query_req".into()],
        windows: vec![super::server::ServerWindow {
            window: "stage 1 hold".into(),
            query_rps: Some(1.0),
            ..Default::default()
        }],
        count_check: vec![super::server::CountCheck {
            scope: "whole run".into(),
            kind: "query".into(),
            from_ms: 0,
            to_ms: 10,
            server: 4,
            client: 4,
            client_min: 4,
            client_max: 5,
            matches: true,
        }],
        measurement_warnings: vec!["warning".into()],
        series: vec![super::server::ServerSeries {
            metric: "query_req".into(),
            points: vec![(1.0, 2.0)],
        }],
        diagnosis: Some("queueing".into()),
    });
    s.recovery = Some(summary::RecoverySummary {
        window: "recovery".into(),
        viewers: 40,
        start_ms: 1000,
        end_ms: 61_000,
        sliding_window_ms: 5000,
        recovery: super::recovery::Recovery::between(7_000, 17_000),
        left_out: vec!["ingest batch p95: 3 samples in 60 s, 20 needed".into()],
        max_ms: Some(30_000),
        verdict: Some(summary::SloVerdict::Pass),
        sentence: "viewers recovered after 12 s (±5 s) (dashboard load recovered after 12 s (±5 s) (allowed: 30 s))".into(),
        classes: vec![summary::ClassRecovery {
            class: crate::runfolder::RequestClass::DashboardLoad,
            recovery: super::recovery::Recovery::between(7_000, 17_000),
            left_out: Vec::new(),
            max_ms: Some(30_000),
            verdict: Some(summary::SloVerdict::Pass),
            sentence: "dashboard load recovered after 12 s (±5 s) (allowed: 30 s)".into(),
        }],
    });
    s.degradation = Some(super::degradation::Degradation {
        graceful: true,
        verdict: "graceful: goodput held at 94 % of peak".into(),
        missed: Vec::new(),
        judged: true,
        steps: vec!["step 1".into()],
        peak_goodput_rps: 10.0,
        peak_window: "stage 1 hold".into(),
        goodput_rps: 9.4,
        goodput_window: "step 1".into(),
        goodput_fraction: 0.94,
        requests: 100,
        failed: 3,
        failures_by_kind: vec![(super::collect::ErrorKind::Shed, 3)],
        failure_mode: Some(super::degradation::FailureMode::Refusals),
        failed_p99_ms: Some(3.0),
        loads: 10,
        loads_completed: Some(0.9),
        rules: Default::default(),
    });
    s.sync.resilience = Some(super::sync_attempts::SyncResilience {
        batches: 3,
        retries: 1,
        retry_wait_ms: Some([500, 500, 500]),
        retries_following_backoff: 1,
        split: 0,
        dropped: 1,
        dropped_points: 10,
        possibly_written_twice: 1,
        backlog: vec![(0, 10)],
        freshness_lag_ms: vec![(0, 900)],
        faults: vec![super::sync_attempts::FaultBacklog {
            fault: 1,
            peak_points: 10,
            retries: 1,
            drain_ms: None,
        }],
        cannot_keep_up: Some("the sync job cannot keep up".into()),
    });
    s.live = Some(super::live::summarise(&[
        live_row(LiveEvent::Connect, true, Some(1200), ""),
        live_row(LiveEvent::Reconnect, true, Some(800), ""),
        live_row(LiveEvent::Connect, false, None, "3504 connection limit"),
        live_row(LiveEvent::Subscribe, true, Some(300), ""),
        live_row(LiveEvent::Subscribe, false, None, "102 unknown channel"),
        live_row(LiveEvent::Delivery, true, Some(900), ""),
        live_row(LiveEvent::Disconnect, false, None, "3008 slow"),
        live_row(LiveEvent::Push, true, Some(400), ""),
    ]));
    assert!(s.live.as_ref().unwrap().delivery_ms.is_some());
    s.faults = vec![super::faults::FaultWindow {
        index: 1,
        name: "proxy down".into(),
        kind: "command".into(),
        describe: "run `x`".into(),
        window: "stage 1".into(),
        start_ms: Some(1),
        end_ms: None,
        hits: Some(3),
        requests: 4,
        failed: 2,
        failures_by_kind: vec![("timeout".into(), 2)],
        commands: Some("start ok; stop ok".into()),
        // A span (resolution_ms) on the headline: the published schema once
        // refused it there.
        recovery: Some(super::recovery::Recovery::between(2000, 4000)),
        recovery_by_class: vec![
            super::faults::ClassRecovered {
                class: crate::runfolder::RequestClass::PanelQuery,
                recovery: super::recovery::Recovery::between(2000, 4000),
            },
            super::faults::ClassRecovered {
                class: crate::runfolder::RequestClass::IngestBatch,
                recovery: super::recovery::Recovery::NotRecovered { within_ms: 5000 },
            },
        ],
        recover_within_ms: Some(3000),
        verdict: Some(super::summary::SloVerdict::Fail),
    }];
    s.workers = Some(vec![crate::cluster::merge::WorkerRow {
        record: crate::cluster::merge::WorkerRecord {
            index: 1,
            host: "h".into(),
            start_skew_ms: Some(1.0),
            clock_offset_ms: Some(-2.0),
            rtt_ms: Some(0.5),
            lost_at_ms: Some(9),
            lost_reason: Some("no tick for 3 s".into()),
            ..Default::default()
        },
        requests: 1,
        failed: 0,
        load_p95_ms: Some(1.0),
        mean_cores: Some(0.5),
        peak_cores: Some(1.0),
        cores: Some(2),
        bottleneck: Some("CPU".into()),
    }]);
    let doc = serde_json::to_value(&s).unwrap();
    // The other outcomes of a recovery validate too.
    for outcome in [
        super::recovery::Recovery::NotRecovered { within_ms: 60_000 },
        super::recovery::Recovery::NotJudged {
            reason: "why".into(),
        },
    ] {
        let mut other = s.clone();
        other.recovery.as_mut().unwrap().recovery = outcome;
        let v = validator(&schema());
        let doc = serde_json::to_value(&other).unwrap();
        assert_eq!(errors(&v, &doc), Vec::<String>::new());
    }
    // Every optional field named in the schema is present somewhere in `doc`.
    for key in [
        "unmeasured",
        "partly_judged",
        "database",
        "refined_until_ms",
        "answers",
        "first_corrupt",
        "first_out_of_range",
        "note",
        "selection",
        "sure",
        "interval",
        "server_scrapes",
        "server_scrape_failures",
        "goose_clock_offset_ms",
        "diagnosis",
        "after_ms",
        "max_ms",
        "degradation",
        "skipped",
        "what",
        "hits",
        "commands",
        "resilience",
        "cannot_keep_up",
        "lost_reason",
        "clock_offset_ms",
    ] {
        assert!(has_key(&doc, key), "{key} set in the maximal summary");
    }
    assert!(doc["health"]["generator_cpu"].is_object());
    let v = validator(&schema());
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
}

fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key(x, key)),
        Value::Array(a) => a.iter().any(|x| has_key(x, key)),
        _ => false,
    }
}

#[test]
fn fields_the_schema_does_not_name_and_missing_ones_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let base = run(root.path(), "base", 1.0, 1);
    let doc = rendered(
        &run(root.path(), "current", 1.0, 2),
        &ReportOptions {
            baselines: vec![base],
            ..Default::default()
        },
    );
    let v = validator(&schema());
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut d = doc.clone();
        f(&mut d);
        errors(&v, &d)
    };
    assert!(!broken(&|d| d["new_field"] = json!(1)).is_empty());
    assert!(!broken(&|d| d["baseline"]["windows"][0]["new_field"] = json!(1)).is_empty());
    assert!(!broken(&|d| d["run"]["counters"]["new_counter"] = json!(1)).is_empty());
    assert!(!broken(&|d| {
        d["run"].as_object_mut().unwrap().remove("scenario_digest");
    })
    .is_empty());
    assert!(!broken(&|d| d["schema_version"] = json!(SCHEMA_VERSION + 1)).is_empty());
    assert!(!broken(&|d| d["verdict"] = json!("maybe")).is_empty());
    assert!(!broken(&|d| d["run"]["started_at"] = json!("yesterday")).is_empty());
}

#[test]
fn every_enum_value_dashload_writes_is_in_the_schema() {
    let schema = schema();
    let check = |def: &str, values: Vec<Value>| {
        let v = validator(&json!({
            "$defs": schema["$defs"],
            "$ref": format!("#/$defs/{def}"),
        }));
        for value in values {
            assert_eq!(errors(&v, &value), Vec::<String>::new(), "{def} {value}");
        }
    };
    check(
        "RequestClass",
        RequestClass::ALL.iter().map(|c| json!(c)).collect(),
    );
    check(
        "SloMetric",
        [
            SloMetric::P50,
            SloMetric::P95,
            SloMetric::P99,
            SloMetric::ErrorRate,
            SloMetric::MsPerPoint,
        ]
        .iter()
        .map(|m| json!(m))
        .collect(),
    );
    check(
        "WindowKind",
        [
            WindowKind::Ramp,
            WindowKind::Hold,
            WindowKind::StressStep,
            WindowKind::Recovery,
        ]
        .iter()
        .map(|k| json!(k))
        .collect(),
    );
    check(
        "FailureMode",
        [
            super::degradation::FailureMode::Refusals,
            super::degradation::FailureMode::Timeouts,
            super::degradation::FailureMode::ConnectionErrors,
            super::degradation::FailureMode::Errors,
        ]
        .iter()
        .map(|k| json!(k))
        .collect(),
    );
    check(
        "ErrorKind",
        super::collect::ErrorKind::ALL
            .iter()
            .map(|k| json!(k))
            .collect(),
    );
    check(
        "SloVerdict",
        [
            summary::SloVerdict::Pass,
            summary::SloVerdict::Fail,
            summary::SloVerdict::NoData,
        ]
        .iter()
        .map(|k| json!(k))
        .collect(),
    );
}
