//! Grafana Live in the sandbox: `/api/live/ws` speaks the Centrifuge JSON protocol
//! and `/api/live/push/<stream_id>` turns line protocol into publications.
//!
//! The frames are those of Centrifuge's client protocol v2 (centrifugal/protocol
//! `client.proto`; centrifugal.dev "Client protocol" and "Error and disconnect codes"),
//! which centrifuge-go serves and centrifuge-js ≥ 3 speaks: Grafana 10 and 11's
//! Live. Grafana 8 and 9's frontend spoke protocol v1 (`{"method":1,"params":…}`),
//! which this endpoint does not. A text frame carries one or more JSON commands,
//! one per line; replies go back the same way:
//! - `{"id":1,"connect":{…}}` → `{"id":1,"connect":{"client":…,"version":…,"ping":25,"pong":true}}`;
//!   past `max_connections` (Grafana's `[live] max_connections`, default 100; its
//!   `OnConnecting` handler in pkg/services/live/live.go refuses with
//!   `DisconnectConnectionLimit`) the socket closes with code 3504 `connection limit`;
//! - `{"id":2,"subscribe":{"channel":"stream/s/m"}}` → `{"id":2,"subscribe":{}}`, or an
//!   `{"id":2,"error":{"code":105,"message":"already subscribed"}}` (102 unknown channel);
//! - `{"id":3,"unsubscribe":{"channel":…}}` → `{"id":3,"unsubscribe":{}}`;
//! - `{}` is the client's pong to the server's `{}` ping, sent every 25 s;
//! - a command before `connect`, or one that is not JSON, closes with 3501 `bad request`;
//!   no `connect` within 10 s closes with 3502 `stale`; a 129th channel on one
//!   connection closes with 3505 `channel limit` (Centrifugo's default limit), a
//!   channel name past 255 bytes is refused with 106 `limit exceeded`.
//!
//! Publications are pushed as `{"push":{"channel":…,"pub":{"data":…,"offset":N}}}`.
//! Grafana's stream channels keep no history, so it sends no offset; the sandbox
//! numbers each channel's publications from 1, as a Centrifuge channel with
//! history would, so subscribers can count what they missed.
//!
//! A push publishes one message per measurement of the body, to
//! `stream/<stream_id>/<measurement>`, its data a Grafana data frame in JSON
//! (`schema.fields` and `data.values` columns: `time` in ms, then the tags, then
//! the fields). A subscriber whose queue of unsent publications fills up is
//! closed with 3008 `slow`, as Centrifuge closes a client that cannot keep up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::lineproto::{self, Precision};
use super::state::now_ns;
use super::store::{FieldValue, Point};
use super::SandboxState;

/// Grafana's default `[live] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// How often the server pings (Centrifuge's default, which Grafana keeps).
const PING_EVERY: Duration = Duration::from_secs(25);

/// Publications queued for one connection before it counts as slow.
const QUEUE: usize = 4096;

/// Largest command frame a client may send (Centrifuge's default read limit is 64 KiB).
const MAX_FRAME: usize = 65_536;

/// Centrifuge's disconnect codes (centrifugal.dev, "Error and disconnect codes").
const BAD_REQUEST: (u16, &str) = (3501, "bad request");
const CONNECTION_LIMIT: (u16, &str) = (3504, "connection limit");
const SLOW: (u16, &str) = (3008, "slow");
const STALE: (u16, &str) = (3502, "stale");
const SHUTDOWN: (u16, &str) = (3001, "shutdown");
const CHANNEL_LIMIT: (u16, &str) = (3505, "channel limit");

/// Channels one connection may hold (Centrifugo's default `client_channel_limit`).
const MAX_CHANNELS: usize = 128;

/// Longest channel name (Centrifugo's default `channel_max_length`).
const MAX_CHANNEL_LEN: usize = 255;

/// How long a socket may stay open without `connect` (Centrifuge closes such a
/// stale connection; shorter in tests).
const STALE_AFTER: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(10)
};

/// What the Live endpoints counted, for tests, `/debug/vars` and the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Connections connected (past `connect`) now.
    pub connections_open: u64,
    /// Connections that were ever connected.
    pub connections_total: u64,
    /// `connect` commands refused by the connection limit.
    pub connections_refused: u64,
    /// Subscriptions held now.
    pub subscriptions: u64,
    /// Subscribe commands that succeeded.
    pub subscriptions_total: u64,
    /// Messages published (one per measurement of a push).
    pub publications: u64,
    /// Publications written to a subscriber's socket.
    pub deliveries: u64,
    /// Connections closed because they could not keep up.
    pub slow_disconnects: u64,
}

/// One connection as the publishers see it.
struct Subscriber {
    tx: mpsc::Sender<Arc<str>>,
    slow: AtomicBool,
}

#[derive(Default)]
struct Channel {
    offset: u64,
    subscribers: HashMap<u64, Arc<Subscriber>>,
}

/// Channels and their subscribers, and the counters.
#[derive(Default)]
pub struct LiveHub {
    channels: Mutex<HashMap<String, Channel>>,
    next_client: AtomicU64,
    open: AtomicU64,
    total: AtomicU64,
    refused: AtomicU64,
    subscriptions: AtomicU64,
    subscriptions_total: AtomicU64,
    publications: AtomicU64,
    deliveries: AtomicU64,
    slow: AtomicU64,
    /// Cancelled when the sandbox stops: every connection closes with 3001.
    shutdown: tokio_util::sync::CancellationToken,
}

impl LiveHub {
    /// Close every connection with Centrifuge's 3001 `shutdown`, as a server
    /// going down does (clients reconnect), and refuse new ones the same way.
    pub fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> LiveCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LiveCounters {
            connections_open: get(&self.open),
            connections_total: get(&self.total),
            connections_refused: get(&self.refused),
            subscriptions: get(&self.subscriptions),
            subscriptions_total: get(&self.subscriptions_total),
            publications: get(&self.publications),
            deliveries: get(&self.deliveries),
            slow_disconnects: get(&self.slow),
        }
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a connection slot unless `max` are open.
    fn try_open(&self, max: usize) -> bool {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max as u64).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.total.fetch_add(1, Ordering::Relaxed);
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    fn subscribe(&self, channel: &str, client: u64, sub: &Arc<Subscriber>) {
        self.channels()
            .entry(channel.to_string())
            .or_default()
            .subscribers
            .insert(client, Arc::clone(sub));
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
        self.subscriptions_total.fetch_add(1, Ordering::Relaxed);
    }

    fn unsubscribe(&self, channel: &str, client: u64) {
        if let Some(c) = self.channels().get_mut(channel) {
            if c.subscribers.remove(&client).is_some() {
                self.subscriptions.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Publish `data` to `channel`: one frame, queued for every subscriber.
    /// Returns the subscribers it was queued for.
    pub fn publish(&self, channel: &str, data: &Value) -> usize {
        let mut channels = self.channels();
        let c = channels.entry(channel.to_string()).or_default();
        c.offset += 1;
        self.publications.fetch_add(1, Ordering::Relaxed);
        if c.subscribers.is_empty() {
            return 0;
        }
        let frame: Arc<str> =
            json!({"push": {"channel": channel, "pub": {"data": data, "offset": c.offset}}})
                .to_string()
                .into();
        let mut queued = 0;
        for sub in c.subscribers.values() {
            match sub.tx.try_send(Arc::clone(&frame)) {
                Ok(()) => queued += 1,
                Err(mpsc::error::TrySendError::Full(_)) => sub.slow.store(true, Ordering::Relaxed),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        queued
    }
}

/// `GET /api/live/ws` and `POST /api/live/push/{stream_id}`.
pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/api/live/ws", get(upgrade))
        .route("/api/live/push/{stream_id}", post(push))
}

fn plain(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

/// The WebSocket handshake (RFC 6455 §4.2), then the connection runs on its own task.
async fn upgrade(State(state): State<SandboxState>, mut req: Request) -> Response {
    let headers = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return plain(
            StatusCode::BAD_REQUEST,
            "websocket: the client is not using the websocket protocol",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return plain(
            StatusCode::BAD_REQUEST,
            "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header",
        );
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing",
        );
    };
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the connection cannot be upgraded",
        );
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME));
        let ws = WebSocketStream::from_raw_socket(
            hyper_util::rt::TokioIo::new(upgraded),
            Role::Server,
            Some(config),
        )
        .await;
        Connection::new(state).serve(ws).await;
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

/// What a command asks of the connection.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A reply frame.
    Reply(String),
    /// Nothing (a pong).
    Nothing,
    /// Close with this code and reason.
    Disconnect(u16, &'static str),
}

/// One client's connection.
struct Connection {
    state: SandboxState,
    client: u64,
    connected: bool,
    channels: HashSet<String>,
    sub: Arc<Subscriber>,
    rx: mpsc::Receiver<Arc<str>>,
}

impl Connection {
    fn new(state: SandboxState) -> Connection {
        let (tx, rx) = mpsc::channel(QUEUE);
        let client = state.inner.live.next_client.fetch_add(1, Ordering::Relaxed) + 1;
        Connection {
            state,
            client,
            connected: false,
            channels: HashSet::new(),
            sub: Arc::new(Subscriber {
                tx,
                slow: AtomicBool::new(false),
            }),
            rx,
        }
    }

    fn hub(&self) -> &LiveHub {
        &self.state.inner.live
    }

    async fn serve<S>(mut self, ws: WebSocketStream<S>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut sink, mut stream) = ws.split();
        let stale = tokio::time::sleep(STALE_AFTER);
        tokio::pin!(stale);
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let close = loop {
            tokio::select! {
                msg = stream.next() => {
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Binary(_))) => break Some(BAD_REQUEST),
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                        Some(Ok(_)) => continue,
                    };
                    let mut replies = Vec::new();
                    let mut disconnect = None;
                    for line in text.as_str().split('\n').filter(|l| !l.trim().is_empty()) {
                        match self.command(line) {
                            Answer::Reply(r) => replies.push(r),
                            Answer::Nothing => {}
                            Answer::Disconnect(code, reason) => {
                                disconnect = Some((code, reason));
                                break;
                            }
                        }
                    }
                    if !replies.is_empty()
                        && sink.send(Message::text(replies.join("\n"))).await.is_err()
                    {
                        break None;
                    }
                    if disconnect.is_some() {
                        break disconnect;
                    }
                }
                publication = self.rx.recv() => {
                    let Some(frame) = publication else { break None };
                    if sink.send(Message::text(frame.to_string())).await.is_err() {
                        break None;
                    }
                    self.hub().deliveries.fetch_add(1, Ordering::Relaxed);
                    if self.sub.slow.load(Ordering::Relaxed) {
                        self.hub().slow.fetch_add(1, Ordering::Relaxed);
                        break Some(SLOW);
                    }
                }
                _ = &mut stale, if !self.connected => break Some(STALE),
                _ = self.state.inner.live.shutdown.cancelled() => break Some(SHUTDOWN),
                _ = ping.tick(), if self.connected => {
                    if sink.send(Message::text("{}")).await.is_err() {
                        break None;
                    }
                }
            }
        };
        self.leave();
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        // Sends the answer to the client's close, if it sent one.
        let _ = sink.close().await;
    }

    /// Drop the subscriptions and the connection slot.
    fn leave(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            self.hub().unsubscribe(&channel, self.client);
        }
        if std::mem::take(&mut self.connected) {
            self.hub().open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Answer one JSON command.
    fn command(&mut self, line: &str) -> Answer {
        let Ok(Value::Object(cmd)) = serde_json::from_str::<Value>(line) else {
            return Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1);
        };
        let id = cmd.get("id").and_then(Value::as_u64);
        let Some(id) = id.filter(|&i| i > 0) else {
            // `{}`: the pong to a server ping; anything else needs an id.
            return if cmd.is_empty() {
                Answer::Nothing
            } else {
                Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1)
            };
        };
        let reply =
            |kind: &str, body: Value| Answer::Reply(json!({"id": id, kind: body}).to_string());
        let error = |code: u32, message: &str| {
            Answer::Reply(
                json!({"id": id, "error": {"code": code, "message": message}}).to_string(),
            )
        };
        if let Some(_connect) = cmd.get("connect") {
            if self.connected {
                return Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1);
            }
            let max = self.state.inner.config.live_max_connections;
            if !self.hub().try_open(max) {
                return Answer::Disconnect(CONNECTION_LIMIT.0, CONNECTION_LIMIT.1);
            }
            self.connected = true;
            return reply(
                "connect",
                json!({
                    "client": format!("sandbox-{:012x}", self.client),
                    "version": "dashload-sandbox",
                    "ping": PING_EVERY.as_secs(),
                    "pong": true,
                }),
            );
        }
        if !self.connected {
            return Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1);
        }
        let channel_of = |body: &Value| {
            body.get("channel")
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(body) = cmd.get("subscribe") {
            let Some(channel) = channel_of(body).filter(|c| !c.is_empty()) else {
                return Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1);
            };
            if channel.len() > MAX_CHANNEL_LEN {
                return error(106, "limit exceeded");
            }
            if !grafana_channel(&channel) {
                return error(102, "unknown channel");
            }
            if self.channels.contains(&channel) {
                return error(105, "already subscribed");
            }
            if self.channels.len() >= MAX_CHANNELS {
                return Answer::Disconnect(CHANNEL_LIMIT.0, CHANNEL_LIMIT.1);
            }
            self.state
                .inner
                .live
                .subscribe(&channel, self.client, &self.sub);
            self.channels.insert(channel);
            return reply("subscribe", json!({}));
        }
        if let Some(body) = cmd.get("unsubscribe") {
            let Some(channel) = channel_of(body) else {
                return Answer::Disconnect(BAD_REQUEST.0, BAD_REQUEST.1);
            };
            if self.channels.remove(&channel) {
                self.hub().unsubscribe(&channel, self.client);
            }
            return reply("unsubscribe", json!({}));
        }
        if cmd.contains_key("ping") {
            return reply("ping", json!({}));
        }
        if cmd.contains_key("publish") {
            // Grafana lets browsers publish to a few plugin channels only.
            return error(103, "permission denied");
        }
        error(104, "method not found")
    }
}

/// A Grafana Live channel: `<scope>/<namespace>/<path>` in one of Grafana's scopes.
pub fn grafana_channel(channel: &str) -> bool {
    let mut parts = channel.splitn(3, '/');
    let (Some(scope), Some(ns), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    matches!(scope, "grafana" | "stream" | "ds" | "plugin") && !ns.is_empty() && !path.is_empty()
}

/// A stream id as Grafana accepts it in `/api/live/push/<stream_id>`.
pub fn valid_stream_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

#[derive(serde::Deserialize)]
struct PushParams {
    precision: Option<String>,
}

/// `POST /api/live/push/<stream_id>`: line protocol in, one publication per measurement.
async fn push(
    State(state): State<SandboxState>,
    Path(stream_id): Path<String>,
    Query(params): Query<PushParams>,
    body: String,
) -> Response {
    if !valid_stream_id(&stream_id) {
        return plain(
            StatusCode::BAD_REQUEST,
            format!("invalid stream id `{stream_id}`: letters, digits, `-`, `_` and `.` only"),
        );
    }
    let precision = Precision::from_param(params.precision.as_deref());
    let batch = lineproto::parse_batch(&body, precision, now_ns());
    if let Some(first) = batch.errors.first() {
        return plain(StatusCode::BAD_REQUEST, first.clone());
    }
    let mut by_measurement: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
    for p in &batch.points {
        by_measurement.entry(&p.measurement).or_default().push(p);
    }
    for (measurement, points) in by_measurement {
        let channel = format!("stream/{stream_id}/{measurement}");
        state
            .inner
            .live
            .publish(&channel, &data_frame(measurement, &points));
    }
    StatusCode::OK.into_response()
}

/// Points of one measurement as a Grafana data frame in JSON: a `time` column
/// (ms), a column per tag key, a column per field (`null` where a point lacks it).
fn data_frame(measurement: &str, points: &[&Point]) -> Value {
    let mut tag_keys: Vec<&str> = Vec::new();
    let mut field_keys: Vec<(&str, &'static str)> = Vec::new();
    for p in points {
        for (k, _) in &p.tags {
            if !tag_keys.contains(&k.as_str()) {
                tag_keys.push(k);
            }
        }
        for (k, v) in &p.fields {
            if !field_keys.iter().any(|(f, _)| f == k) {
                let kind = match v {
                    FieldValue::Float(_) | FieldValue::Integer(_) => "number",
                    FieldValue::String(_) => "string",
                    FieldValue::Boolean(_) => "boolean",
                };
                field_keys.push((k, kind));
            }
        }
    }
    let mut fields = vec![json!({"name": "time", "type": "time"})];
    let mut values = vec![Value::Array(
        points.iter().map(|p| json!(p.time / 1_000_000)).collect(),
    )];
    for key in &tag_keys {
        fields.push(json!({"name": key, "type": "string"}));
        values.push(Value::Array(
            points
                .iter()
                .map(|p| {
                    p.tags
                        .iter()
                        .find(|(k, _)| k == key)
                        .map_or(Value::Null, |(_, v)| json!(v))
                })
                .collect(),
        ));
    }
    for (key, kind) in &field_keys {
        fields.push(json!({"name": key, "type": kind}));
        values.push(Value::Array(
            points
                .iter()
                .map(|p| {
                    p.fields
                        .iter()
                        .find(|(k, _)| k == key)
                        .map_or(Value::Null, |(_, v)| match v {
                            FieldValue::Float(f) => json!(f),
                            FieldValue::Integer(i) => json!(i),
                            FieldValue::String(s) => json!(&**s),
                            FieldValue::Boolean(b) => json!(b),
                        })
                })
                .collect(),
        ));
    }
    json!({"schema": {"name": measurement, "fields": fields}, "data": {"values": values}})
}

#[cfg(test)]
mod tests;
