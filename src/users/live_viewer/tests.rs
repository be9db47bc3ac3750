//! The client's side of the protocol, on exchanges written from the Centrifuge
//! client protocol v2 documentation (centrifugal.dev, "Client protocol":
//! connect and subscribe replies matched by `id`, publications pushed as
//! `{"push":{"channel":…,"pub":{…}}}`, an empty `{}` as the server's ping).

use super::*;

fn session(channels: &[&str]) -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let log = LiveLog::create(&dir.path().join("live.csv")).unwrap();
    let dashboard = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/dashboards/toggl-overview.json");
    let text = format!(
        "[viewers]\ndashboard = {:?}\n[[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"1s\"\n",
        dashboard.display().to_string()
    );
    let target = crate::scenario::Scenario::parse(&text, &dir.path().join("s.toml"))
        .unwrap()
        .target;
    let url = url::Url::parse("http://127.0.0.1:9").unwrap();
    let shared = Arc::new(Shared {
        endpoints: Endpoints::new(&target, Some(&url)),
        channels: channels.iter().map(|c| c.to_string()).collect(),
        log,
        started: std::sync::OnceLock::new(),
    });
    let s = Session {
        shared,
        viewer: 4,
        began: Instant::now(),
        connected: false,
        pending: HashMap::new(),
        offsets: HashMap::new(),
        refused: false,
        down_since: None,
    };
    (dir, s)
}

fn rows(dir: &tempfile::TempDir, s: &Session) -> Vec<LiveRow> {
    s.shared.log.flush();
    crate::users::live_log::read(&dir.path().join("live.csv")).unwrap()
}

#[test]
fn a_share_picks_evenly_spread_viewers() {
    let picked = |share: f64| (0..8).filter(|&n| selected(n, share)).collect::<Vec<u64>>();
    assert_eq!(picked(1.0), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(picked(0.5), [0, 2, 4, 6]);
    assert_eq!(picked(0.25), [0, 4]);
    assert_eq!(picked(0.01), [0]);
}

#[test]
fn replies_pings_and_publications_become_rows_and_answers() {
    let (dir, mut s) = session(&["stream/d/probe", "stream/d/other"]);
    // The connect reply: both subscribes go out in one frame.
    let out =
        s.frame(r#"{"id":1,"connect":{"client":"c1","version":"0.0.0","ping":25,"pong":true}}"#);
    assert_eq!(
        out,
        ["{\"id\":2,\"subscribe\":{\"channel\":\"stream/d/probe\"}}\n{\"id\":3,\"subscribe\":{\"channel\":\"stream/d/other\"}}"]
    );
    // Two replies in one frame, one an error; then the server's ping.
    let out = s.frame("{\"id\":2,\"subscribe\":{}}\n{\"id\":3,\"error\":{\"code\":103,\"message\":\"permission denied\"}}\n{}");
    assert_eq!(out, ["{}"]);
    let sent = now_ns() - 5_000_000;
    let frame = |offset: u64| {
        json!({"push": {"channel": "stream/d/probe", "pub": {"offset": offset, "data": {
            "schema": {"name": "probe", "fields": [{"name": "time"}, {"name": "seq"}, {"name": "sent_ns"}]},
            "data": {"values": [[1], [offset], [sent]]}
        }}}})
        .to_string()
    };
    assert!(s.frame(&frame(7)).is_empty());
    s.frame(&frame(8));
    s.frame(&frame(11));
    let rows = rows(&dir, &s);
    let events: Vec<(LiveEvent, bool, &str)> = rows
        .iter()
        .map(|r| (r.event, r.ok, r.reason.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (LiveEvent::Connect, true, ""),
            (LiveEvent::Subscribe, true, ""),
            (LiveEvent::Subscribe, false, "103 permission denied"),
            (LiveEvent::Delivery, true, ""),
            (LiveEvent::Delivery, true, ""),
            (LiveEvent::Delivery, true, ""),
        ]
    );
    let deliveries = &rows[3..];
    assert_eq!(
        deliveries
            .iter()
            .map(|r| (r.offset, r.missed))
            .collect::<Vec<_>>(),
        [(7, 0), (8, 0), (11, 2)]
    );
    for d in deliveries {
        let latency = d.duration_us.unwrap();
        assert!((5_000..2_000_000).contains(&latency), "{latency} µs");
        assert_eq!(d.viewer, 4);
    }
}

#[test]
fn a_refused_connect_is_a_failed_connect_row_with_the_servers_reason() {
    let (dir, mut s) = session(&["stream/d/probe"]);
    let out = s.frame(r#"{"id":1,"error":{"code":101,"message":"unauthorized"}}"#);
    assert!(out.is_empty());
    assert!(!s.connected);
    let rows = rows(&dir, &s);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].event, rows[0].ok), (LiveEvent::Connect, false));
    assert_eq!(rows[0].reason, "101 unauthorized");
    // A publication without a send time still counts, without a latency.
    assert_eq!(sent_ns(Some(&json!({"schema": {"fields": []}}))), None);
}

#[test]
fn the_back_off_is_centrifuge_js_full_jitter_from_half_a_second_to_twenty() {
    for _ in 0..50 {
        let first = backoff(0);
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(1000));
        let third = backoff(2);
        assert!(third >= Duration::from_millis(500) && third <= Duration::from_millis(2500));
        assert!(backoff(40) <= Duration::from_secs(20));
    }
    assert!(terminal(Some(3504)) && terminal(Some(4501)));
    assert!(!terminal(Some(3001)) && !terminal(None) && !terminal(Some(4000)));
}

/// Wait (at most 5 s) until `sandbox` holds one subscription.
async fn subscribed_on(sandbox: &crate::sandbox::Sandbox, what: &str) {
    for _ in 0..200 {
        if sandbox.counters().live.subscriptions == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no subscription on the {what} sandbox");
}

/// A sandbox restart: the session is closed with 3001 `shutdown`, reconnects
/// with back-off to the new sandbox on the same port, subscribes again and
/// receives there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_comes_back_after_a_sandbox_restart() {
    use crate::sandbox::{Sandbox, SandboxConfig};
    let config = || SandboxConfig {
        seed_days: 0,
        ..SandboxConfig::default()
    };
    let first = Sandbox::start(config()).await.unwrap();
    let addr = first.addr();
    let (dir, s) = session(&["stream/d/probe"]);
    let url = url::Url::parse(&first.url()).unwrap();
    let endpoints = Endpoints::new(
        &crate::scenario::Scenario::parse(
            &format!(
                "[viewers]\ndashboard = {:?}\n[[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"1s\"\n",
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("scenarios/dashboards/toggl-overview.json")
                    .display()
                    .to_string()
            ),
            &dir.path().join("s.toml"),
        )
        .unwrap()
        .target,
        Some(&url),
    );
    let live = LiveViewers {
        share: 1.0,
        channels: vec!["stream/d/probe".into()],
        publisher: None,
    };
    let log = s.shared.log.clone();
    let plan = LivePlan::new(&live, &endpoints, log).unwrap();
    let _session = plan.arrive(0, Instant::now()).expect("share 100 %");
    subscribed_on(&first, "first").await;
    first.stop().await;
    let second = Sandbox::start(SandboxConfig {
        listen: addr,
        ..config()
    })
    .await
    .unwrap();
    subscribed_on(&second, "restarted").await;
    let push = reqwest::Client::new()
        .post(format!("{}/api/live/push/d", second.url()))
        .body(format!("probe {SENT_FIELD}={}i", now_ns()))
        .send()
        .await
        .unwrap();
    assert_eq!(push.status().as_u16(), 200);
    for _ in 0..200 {
        if second.counters().live.deliveries == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    plan.finish().await;
    second.stop().await;
    let rows = rows(&dir, &s);
    let events: Vec<(LiveEvent, &str)> =
        rows.iter().map(|r| (r.event, r.reason.as_str())).collect();
    let disconnect = events
        .iter()
        .position(|e| *e == (LiveEvent::Disconnect, "3001 shutdown"))
        .unwrap_or_else(|| panic!("{events:?}"));
    let back = events
        .iter()
        .position(|e| e.0 == LiveEvent::Reconnect)
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(back > disconnect);
    let downtime = rows[back].duration_us.unwrap();
    assert!(
        downtime >= 500_000,
        "the back-off waits at least 500 ms: {downtime} µs"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.event == LiveEvent::Subscribe && r.ok)
            .count(),
        2,
        "subscribed again: {events:?}"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.event == LiveEvent::Delivery)
            .count(),
        1,
        "{events:?}"
    );
    assert_eq!(events.last().unwrap().0, LiveEvent::Close);
}
