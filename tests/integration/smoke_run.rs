//! An end-to-end run of scenarios/smoke.toml against the embedded sandbox: what the
//! sandbox counted must equal what Goose recorded, the sync job stays one user
//! while viewers grow, and the run folder is complete.

use std::collections::{BTreeMap, BTreeSet};

use dashload::run::{run, RunOptions};
use dashload::runfolder::{files, RequestClass, RunMeta, WindowKind};
use goose::config::GooseConfiguration;

use crate::util::{workspace, ATTACK};

/// One row of Goose's CSV request log, the columns this test reads.
struct Row {
    scenario: String,
    name: String,
    user: String,
    success: bool,
    error: String,
}

fn read_requests(path: &std::path::Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (scenario, name, user, success, error) = (
        col("scenario_name"),
        col("name"),
        col("user"),
        col("success"),
        col("error"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                scenario: r[scenario].to_string(),
                name: r[name].to_string(),
                user: r[user].to_string(),
                success: &r[success] == "true",
                error: r[error].to_string(),
            }
        })
        .collect()
}

#[test]
fn smoke_run_counts_match_the_sandbox_and_the_folder_is_complete() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let goose = GooseConfiguration::parse_args_default(&["--quiet"]).unwrap();
    let options = RunOptions {
        scenario: dir.path().join("scenarios/smoke.toml"),
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose,
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime
        .block_on(run(options))
        .expect("the smoke run succeeds");
    let run_dir = &result.run_dir;

    // The folder holds every file, and no leftovers.
    for name in [
        files::RUN_META,
        files::GOOSE_JSON,
        files::REQUESTS,
        files::INGEST,
        files::REPORT_HTML,
        files::SUMMARY,
        files::JUNIT,
    ] {
        assert!(
            run_dir.join(name).is_file(),
            "{name} missing in {}",
            run_dir.display()
        );
    }
    assert!(
        !run_dir.join(".partial").exists(),
        "the temporary folder is gone"
    );
    assert!(
        !run_dir.join(files::GOOSE_HTML).exists(),
        "Goose's HTML report (unescaped names, a CDN script) is not written"
    );

    let meta = RunMeta::load(run_dir).unwrap();
    assert!(!meta.interrupted);
    assert!(meta.ended_at.is_some());
    assert_eq!(
        meta.windows.iter().map(|w| w.kind).collect::<Vec<_>>(),
        [WindowKind::Ramp, WindowKind::Hold]
    );
    assert_eq!(meta.sync_users, 1);

    // Requests the run's end kept from being sent are logged, but never reached
    // the sandbox: they are no HTTP calls. (A dashboard load cut short that way is
    // still a load the viewer began, as run.json counts it.)
    let rows: Vec<Row> = read_requests(&run_dir.join(files::REQUESTS))
        .into_iter()
        .filter(|r| {
            RequestClass::of(&r.name) == RequestClass::DashboardLoad
                || !dashload::runfolder::is_not_sent(&r.error)
        })
        .collect();
    let mut by_class: BTreeMap<RequestClass, usize> = BTreeMap::new();
    for r in &rows {
        *by_class.entry(RequestClass::of(&r.name)).or_default() += 1;
    }
    let count = |c: RequestClass| by_class.get(&c).copied().unwrap_or(0);
    let sandbox = result
        .sandbox
        .expect("a sandbox run reports the sandbox's counters");
    let served = |key: &str| sandbox.requests.get(key).copied().unwrap_or(0) as usize;

    // Every panel and variable query Goose recorded reached the sandbox, and nothing else did.
    assert!(
        count(RequestClass::PanelQuery) > 20,
        "panel queries ran: {by_class:?}"
    );
    assert_eq!(
        count(RequestClass::PanelQuery) + count(RequestClass::VariableQuery),
        served("POST /api/ds/query"),
        "{:?}",
        sandbox.requests
    );
    assert_eq!(
        count(RequestClass::DashboardFetch),
        served("GET /api/dashboards/uid/{uid}"),
        "{:?}",
        sandbox.requests
    );
    assert_eq!(
        count(RequestClass::IngestBatch),
        served("POST /write"),
        "{:?}",
        sandbox.requests
    );
    assert!(count(RequestClass::IngestBatch) > 0, "the sync job wrote");
    assert!(
        count(RequestClass::IngestFreshness) > 0,
        "each sync probed its newest point"
    );
    assert_eq!(
        count(RequestClass::DashboardLoad) as u64,
        meta.counters.dashboard_loads
    );

    // Every panel that answered has its answers' size. A short range can
    // answer with no series (no entries in the last hour), but the shipped
    // dashboard's panels as a whole return InfluxDB series.
    assert!(
        !meta.counters.answers.is_empty(),
        "panel answers were sized"
    );
    for (name, a) in &meta.counters.answers {
        assert!(name.starts_with("panel "), "{name}");
        assert!(a.answers > 0 && a.bytes >= a.answers * 20, "{name}: {a:?}");
    }
    let series: u64 = meta.counters.answers.values().map(|a| a.series).sum();
    let answers: u64 = meta.counters.answers.values().map(|a| a.answers).sum();
    assert!(
        series >= answers / 2,
        "{series} series in {answers} answers"
    );

    // Points: what the sync job counted as stored is what the sandbox stored, and what ingest.csv says.
    assert!(meta.counters.points_written > 0);
    assert_eq!(meta.counters.points_written, sandbox.points_written);
    let mut ingest = csv::Reader::from_path(run_dir.join(files::INGEST)).unwrap();
    let ingested: u64 = ingest
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[5] == "true")
        .map(|r| r[1].parse::<u64>().unwrap())
        .sum();
    assert_eq!(ingested, sandbox.points_written);

    // The sync job is one user for the whole run while viewers grew to 8 (Goose logs
    // scenarios by machine name).
    let users_of = |scenario: &str| {
        rows.iter()
            .filter(|r| r.scenario == scenario)
            .map(|r| r.user.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(users_of("syncjob").len(), 1, "one sync user");
    assert_eq!(users_of("dashboardviewer").len(), 10, "ten viewers");

    // A healthy sandbox at 10 viewers: no failures, and the verdict passes (judged:
    // the hold has the samples its SLOs need).
    let failures: Vec<&str> = rows
        .iter()
        .filter(|r| !r.success && !dashload::runfolder::is_cancelled(&r.error))
        .map(|r| r.name.as_str())
        .collect();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    let report = result.report.expect("rendered");

    // The console: the answers first, on one screen of an 80-column terminal,
    // ending with the page's path; no line over 160 columns.
    use dashload::report::console;
    let text = &report.text;
    assert!(text.starts_with("verdict      "), "{text}");
    assert!(text.lines().next().unwrap().contains(" (smoke)"), "{text}");
    assert!(
        console::answer_rows(text) <= console::ANSWER_ROWS,
        "{} answer rows:\n{text}",
        console::answer_rows(text)
    );
    let answers: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    assert!(
        answers
            .last()
            .unwrap()
            .ends_with(&report.html.display().to_string()),
        "{text}"
    );
    assert!(console::widest(text) <= console::MAX_LINE, "{text}");
    assert!(!report.failed(), "{}", report.text);
}
