//! scenarios/live.toml end to end against the embedded sandbox: the live
//! viewers' receipts in live.csv are exactly the publications the sandbox
//! wrote to their sockets, and every live viewer connected and subscribed.

use std::collections::BTreeSet;

use dashload::run::{run, RunOptions};
use dashload::users::live_log::{self, LiveEvent};
use goose::config::GooseConfiguration;

use crate::util::{workspace, ATTACK};

#[test]
fn the_sandbox_delivered_exactly_what_the_live_viewers_received() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let markdown = dir.path().join("summary.md");
    let options = RunOptions {
        scenario: dir.path().join("scenarios/live.toml"),
        reports_dir: dir.path().join("reports"),
        report: dashload::report::ReportOptions {
            markdown: Some(markdown.clone()),
            ..Default::default()
        },
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds");
    let sandbox = result.sandbox.expect("a sandbox run").live;
    let rows = live_log::read(&result.run_dir.join(live_log::LIVE)).unwrap();
    let count = |event: LiveEvent, ok: bool| {
        rows.iter()
            .filter(|r| r.event == event && r.ok == ok)
            .count() as u64
    };
    let deliveries = count(LiveEvent::Delivery, true);
    assert!(deliveries > 100, "{deliveries} deliveries");
    assert_eq!(sandbox.deliveries, deliveries, "sandbox {sandbox:?}");
    // 8 viewers at 50 %: 4 sessions, each connected and subscribed once, closed at the end.
    let viewers: BTreeSet<u64> = rows
        .iter()
        .filter(|r| r.event == LiveEvent::Connect)
        .map(|r| r.viewer)
        .collect();
    assert_eq!(viewers.len(), 4, "{viewers:?}");
    assert_eq!(count(LiveEvent::Connect, true), 4);
    assert_eq!(count(LiveEvent::Connect, false), 0);
    assert_eq!(count(LiveEvent::Subscribe, true), 4);
    assert_eq!(count(LiveEvent::Close, true), 4);
    assert_eq!(sandbox.connections_total, 4);
    assert_eq!(sandbox.connections_open, 0, "every session closed");
    // The publisher's pushes are the sandbox's publications, every one of them
    // delivered to each subscriber connected at the time: no gaps on loopback.
    assert_eq!(sandbox.publications, count(LiveEvent::Push, true));
    assert_eq!(count(LiveEvent::Push, false), 0);
    assert!(rows.iter().all(|r| r.missed == 0));
    let latencies: Vec<u64> = rows
        .iter()
        .filter(|r| r.event == LiveEvent::Delivery)
        .map(|r| r.duration_us.expect("probe points carry their send time"))
        .collect();
    assert!(latencies.iter().all(|&l| l < 5_000_000), "{latencies:?}");

    // Every output carries the Live figures.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(result.run_dir.join("summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["live"]["messages"], deliveries);
    assert_eq!(summary["live"]["connected"], 4);
    assert!(summary["live"]["delivery_ms"]["p99"].as_f64().unwrap() > 0.0);
    let line = "live      4/4 connected";
    let report = result.report.expect("rendered");
    assert!(report.text.contains(line), "{}", report.text);
    let md = std::fs::read_to_string(&markdown).unwrap();
    assert!(md.contains("Live: 4/4 connected"), "{md}");
    let page = std::fs::read_to_string(result.run_dir.join("report.html")).unwrap();
    assert!(page.contains("<section id=\"live\">"));
    assert!(page.contains(&format!(
        "<tr><td>Messages received</td><td>{deliveries}</td></tr>"
    )));
}

/// Past the sandbox's Live connection limit, the viewers that could not connect
/// are counted with the server's reason (Centrifuge's 3504), in live.csv and in
/// summary.json, and the others still receive.
#[test]
fn viewers_past_the_live_connection_limit_are_refused_with_the_servers_reason() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let path = dir.path().join("scenarios/live-limit.toml");
    std::fs::write(
        &path,
        "name = \"live-limit\"\n[target]\nkind = \"sandbox\"\n[sandbox]\nlive_max_connections = 2\n\
         [viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"5s\"\n\
         [live]\nstream = \"dashload\"\nrate = 10\n\
         [[stages]]\nusers = 5\nramp = \"1s\"\nhold = \"6s\"\n",
    )
    .unwrap();
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds");
    let sandbox = result.sandbox.expect("a sandbox run").live;
    assert_eq!(
        (sandbox.connections_total, sandbox.connections_refused),
        (2, 3)
    );
    let rows = live_log::read(&result.run_dir.join(live_log::LIVE)).unwrap();
    let refused: Vec<&str> = rows
        .iter()
        .filter(|r| r.event == LiveEvent::Connect && !r.ok)
        .map(|r| r.reason.as_str())
        .collect();
    assert_eq!(refused, ["3504 connection limit"; 3]);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(result.run_dir.join("summary.json")).unwrap(),
    )
    .unwrap();
    let live = &summary["live"];
    assert_eq!(live["connect_attempts"], 5);
    assert_eq!(live["reconnects"], 0);
    assert_eq!(live["connected"], 2);
    assert_eq!(live["connect_failures"]["3504 connection limit"], 3);
    assert_eq!(live["messages"], sandbox.deliveries);
    assert!(sandbox.deliveries > 0);
}

/// The stages govern the live sessions: when the load drops from 4 viewers to
/// 1, three sessions close as their viewers leave, the last at the run's end.
#[test]
fn live_sessions_close_when_their_viewers_leave() {
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let path = dir.path().join("scenarios/live-down.toml");
    std::fs::write(
        &path,
        "name = \"live-down\"\n[target]\nkind = \"sandbox\"\n\
         [viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\nrefreshes_per_visit = 1\nthink_time = \"1s..1s\"\n\
         [sync]\nusers = 0\n[live]\nstream = \"dashload\"\nrate = 5\n\
         [[stages]]\nusers = 4\nramp = \"1s\"\nhold = \"5s\"\n\
         [[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"6s\"\n",
    )
    .unwrap();
    let options = RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(run(options))
        .expect("the run succeeds");
    let rows = live_log::read(&result.run_dir.join(live_log::LIVE)).unwrap();
    let mut closes: Vec<u64> = rows
        .iter()
        .filter(|r| r.event == LiveEvent::Close)
        .map(|r| r.elapsed_ms)
        .collect();
    closes.sort_unstable();
    assert_eq!(closes.len(), 4, "{closes:?}");
    // Three leave with the ramp down (about 6-7 s in), one stays to the end (about 13 s).
    assert!(closes[3] >= closes[2] + 3_000, "{closes:?}");
    let sandbox = result.sandbox.expect("a sandbox run").live;
    assert_eq!(
        (sandbox.connections_total, sandbox.connections_open),
        (4, 0)
    );
}
