//! The Live endpoints over real WebSocket and HTTP on loopback, frame by frame.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::sandbox::{Sandbox, SandboxConfig};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn sandbox(max_connections: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        seed_days: 0,
        live_max_connections: max_connections,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn open(sandbox: &Sandbox) -> Ws {
    let url = format!("ws://{}/api/live/ws", sandbox.addr());
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next text frame as JSON, or the close frame's code and reason.
async fn next(ws: &mut Ws) -> Result<Value, (u16, String)> {
    let wait = std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout(wait, ws.next())
            .await
            .expect("a frame in 5 s")
        {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(Some(f)))) => {
                return Err((u16::from(f.code), f.reason.to_string()))
            }
            Some(Ok(Message::Close(None))) | None => return Err((0, String::new())),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("websocket error: {e}"),
        }
    }
}

async fn connect(ws: &mut Ws) -> Value {
    send(ws, json!({"id": 1, "connect": {"name": "js"}})).await;
    next(ws).await.unwrap()
}

async fn push(sandbox: &Sandbox, stream: &str, body: &str) -> (u16, String) {
    let url = format!("{}/api/live/push/{stream}", sandbox.url());
    let resp = reqwest::Client::new()
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_push_reaches_every_subscriber_as_a_numbered_data_frame() {
    let sandbox = sandbox(100).await;
    let mut a = open(&sandbox).await;
    let mut b = open(&sandbox).await;
    let reply = connect(&mut a).await;
    assert_eq!(reply["id"], 1);
    assert_eq!(reply["connect"]["pong"], true);
    assert_eq!(reply["connect"]["ping"], 25);
    connect(&mut b).await;
    // Two commands in one frame, one per line, as centrifuge-js batches them.
    let batch = "{\"id\":2,\"subscribe\":{\"channel\":\"stream/toggl/entries\"}}\n{\"id\":3,\"subscribe\":{\"channel\":\"stream/toggl/other\"}}";
    a.send(Message::text(batch)).await.unwrap();
    let replies = loop {
        if let Some(Ok(Message::Text(t))) = a.next().await {
            break t.to_string();
        }
    };
    let replies: Vec<Value> = replies
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        replies,
        vec![
            json!({"id": 2, "subscribe": {}}),
            json!({"id": 3, "subscribe": {}})
        ]
    );
    send(
        &mut b,
        json!({"id": 2, "subscribe": {"channel": "stream/toggl/entries"}}),
    )
    .await;
    assert_eq!(
        next(&mut b).await.unwrap(),
        json!({"id": 2, "subscribe": {}})
    );

    let body = "entries,user=ann sent_ns=1700000000000000000i,hours=1.5 1700000000000000000\nentries,user=bob sent_ns=1700000000000000001i 1700000000001000000\ncpu value=1";
    assert_eq!(push(&sandbox, "toggl", body).await.0, 200);
    for ws in [&mut a, &mut b] {
        let frame = next(ws).await.unwrap();
        let publication = &frame["push"];
        assert_eq!(publication["channel"], "stream/toggl/entries");
        assert_eq!(publication["pub"]["offset"], 1);
        let data = &publication["pub"]["data"];
        assert_eq!(data["schema"]["name"], "entries");
        let names: Vec<&str> = data["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["time", "user", "sent_ns", "hours"]);
        assert_eq!(
            data["data"]["values"],
            json!([
                [1_700_000_000_000i64, 1_700_000_000_001i64],
                ["ann", "bob"],
                [1_700_000_000_000_000_000i64, 1_700_000_000_000_000_001i64],
                [1.5, null]
            ])
        );
    }
    assert_eq!(push(&sandbox, "toggl", "entries sent_ns=5i").await.0, 200);
    let second = next(&mut b).await.unwrap();
    assert_eq!(second["push"]["pub"]["offset"], 2);
    next(&mut a).await.unwrap();

    let live = sandbox.counters().live;
    // entries twice, cpu once; nobody listens to cpu.
    assert_eq!(live.publications, 3);
    assert_eq!(live.deliveries, 4);
    assert_eq!(live.connections_open, 2);
    assert_eq!(live.subscriptions, 3);
    send(
        &mut a,
        json!({"id": 4, "unsubscribe": {"channel": "stream/toggl/entries"}}),
    )
    .await;
    assert_eq!(
        next(&mut a).await.unwrap(),
        json!({"id": 4, "unsubscribe": {}})
    );
    a.close(None).await.unwrap();
    while a.next().await.is_some() {}
    assert_eq!(push(&sandbox, "toggl", "entries sent_ns=6i").await.0, 200);
    assert_eq!(next(&mut b).await.unwrap()["push"]["pub"]["offset"], 3);
    let live = sandbox.counters().live;
    assert_eq!((live.connections_open, live.subscriptions), (1, 1));
    assert_eq!(live.deliveries, 5);
    sandbox.stop().await;
}

#[tokio::test]
async fn past_max_connections_connect_is_refused_with_centrifuges_connection_limit() {
    let sandbox = sandbox(1).await;
    let mut first = open(&sandbox).await;
    connect(&mut first).await;
    let mut second = open(&sandbox).await;
    send(&mut second, json!({"id": 1, "connect": {}})).await;
    assert_eq!(
        next(&mut second).await,
        Err((3504, "connection limit".to_string()))
    );
    let live = sandbox.counters().live;
    assert_eq!((live.connections_open, live.connections_refused), (1, 1));
    // A slot freed by a leaving client is taken again.
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    let mut third = open(&sandbox).await;
    assert!(connect(&mut third).await["connect"].is_object());
    assert_eq!(sandbox.counters().live.connections_total, 2);
    sandbox.stop().await;
}

#[tokio::test]
async fn protocol_errors_get_centrifuges_codes() {
    let sandbox = sandbox(100).await;
    // A command before connect is a bad request.
    let mut ws = open(&sandbox).await;
    send(
        &mut ws,
        json!({"id": 1, "subscribe": {"channel": "stream/a/b"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await, Err((3501, "bad request".to_string())));
    // So is a frame that is not JSON.
    let mut ws = open(&sandbox).await;
    ws.send(Message::text("not json")).await.unwrap();
    assert_eq!(next(&mut ws).await, Err((3501, "bad request".to_string())));

    let mut ws = open(&sandbox).await;
    connect(&mut ws).await;
    send(
        &mut ws,
        json!({"id": 2, "subscribe": {"channel": "nowhere"}}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"id": 2, "error": {"code": 102, "message": "unknown channel"}})
    );
    send(
        &mut ws,
        json!({"id": 3, "subscribe": {"channel": "grafana/dashboard/uid/abc"}}),
    )
    .await;
    next(&mut ws).await.unwrap();
    send(
        &mut ws,
        json!({"id": 4, "subscribe": {"channel": "grafana/dashboard/uid/abc"}}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"id": 4, "error": {"code": 105, "message": "already subscribed"}})
    );
    send(&mut ws, json!({"id": 5, "rpc": {"method": "x"}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["error"]["code"], 104);
    // A pong needs no answer; a ping command gets one.
    send(&mut ws, json!({})).await;
    send(&mut ws, json!({"id": 6, "ping": {}})).await;
    assert_eq!(next(&mut ws).await.unwrap(), json!({"id": 6, "ping": {}}));
    sandbox.stop().await;
}

#[tokio::test]
async fn untrusted_clients_are_bounded_stale_sockets_closed_and_channels_capped() {
    let sandbox = sandbox(100).await;
    // A socket that never connects is closed as stale.
    let mut idle = open(&sandbox).await;
    assert_eq!(next(&mut idle).await, Err((3502, "stale".to_string())));

    let mut ws = open(&sandbox).await;
    connect(&mut ws).await;
    let long = format!("stream/s/{}", "x".repeat(300));
    send(&mut ws, json!({"id": 2, "subscribe": {"channel": long}})).await;
    assert_eq!(next(&mut ws).await.unwrap()["error"]["code"], 106);
    for i in 0..128 {
        let channel = format!("stream/s/m{i}");
        send(
            &mut ws,
            json!({"id": 10 + i, "subscribe": {"channel": channel}}),
        )
        .await;
        assert_eq!(next(&mut ws).await.unwrap()["subscribe"], json!({}));
    }
    send(
        &mut ws,
        json!({"id": 999, "subscribe": {"channel": "stream/s/one-more"}}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await,
        Err((3505, "channel limit".to_string()))
    );
    // Its subscriptions went with it.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let live = sandbox.counters().live;
    assert_eq!((live.subscriptions, live.connections_open), (0, 0));
    sandbox.stop().await;
}

#[tokio::test]
async fn push_and_upgrade_refuse_bad_requests_over_http() {
    let sandbox = sandbox(100).await;
    let (status, text) = push(&sandbox, "toggl", "entries,=x y").await;
    assert_eq!(status, 400);
    assert!(text.contains("unable to parse"), "{text}");
    assert_eq!(push(&sandbox, "to%20ggl", "m v=1").await.0, 400);
    let plain = reqwest::get(format!("{}/api/live/ws", sandbox.url()))
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 400);
    assert_eq!(sandbox.counters().live.publications, 0);
    sandbox.stop().await;
}
