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
    let options = RunOptions {
        scenario: dir.path().join("scenarios/live.toml"),
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: true,
        overrides: dashload::scenario::Overrides::none(),
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
}
