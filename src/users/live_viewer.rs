//! Live viewers: a share of the dashboard viewers also hold a Grafana Live
//! session for their whole visit, as a browser tab does (one WebSocket,
//! `connect`, one `subscribe` per channel, publications until the viewer
//! leaves), and a publisher pushes probe points whose send time each receipt
//! turns into a delivery latency. Every event is a row of `live.csv`
//! (`live_log`).
//!
//! A session is a task beside its viewer, not inside its transactions, so the
//! HTTP loads keep their timing; it lives as long as the viewer's Goose user
//! (its guard is in the viewer's state: when Goose stops the user, the guard
//! drops and the session closes), so the stages and the ladder govern how many
//! are open. The frames are Centrifuge's client protocol v2 JSON, as the
//! sandbox's `http_live` module documents. A session that loses its connection
//! (no close code, or a non-terminal one such as 3001 `shutdown`) reconnects
//! after centrifuge-js's back-off; a terminal code (3500-3999, 4500-4999) or a
//! refused `connect` ends it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::live_log::{LiveEvent, LiveLog, LiveRow};
use crate::error::{Error, Result};
use crate::scenario::live::{LiveViewers, Publisher, PROBE_MEASUREMENT};
use crate::target::Endpoints;

/// How long the handshake and the `connect` reply may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a leaving viewer waits for the server to answer its close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the run's end waits for sessions and the publisher to finish.
const FINISH_TIMEOUT: Duration = Duration::from_secs(5);

/// The field of a probe point that carries its send time (ns since the epoch).
pub const SENT_FIELD: &str = "sent_ns";

/// Held in a live viewer's state: dropping the last clone closes the session.
#[derive(Clone)]
pub struct LiveSession(#[allow(dead_code)] Arc<DropGuard>);

/// What the live viewers share, for one run.
pub struct LivePlan {
    share: f64,
    shared: Arc<Shared>,
    publisher: Option<Publisher>,
    publisher_started: std::sync::Once,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    endpoints: Endpoints,
    channels: Vec<String>,
    log: LiveLog,
    /// Goose's clock zero, which `elapsed_ms` counts from.
    started: std::sync::OnceLock<Instant>,
}

impl Shared {
    fn elapsed_ms(&self) -> u64 {
        self.started
            .get()
            .map_or(0, |s| s.elapsed().as_millis() as u64)
    }

    fn row(&self, viewer: u64, event: LiveEvent, channel: &str) -> LiveRow {
        LiveRow {
            elapsed_ms: self.elapsed_ms(),
            viewer,
            event,
            channel: channel.to_string(),
            duration_us: None,
            offset: 0,
            missed: 0,
            ok: true,
            reason: String::new(),
        }
    }
}

/// True when the viewer numbered `number` (0, 1, …) holds a live session: the
/// share spread evenly over the arrivals, from the first (50 % → 0, 2, 4, …),
/// so any share gives the first viewer one.
pub fn selected(number: u64, share: f64) -> bool {
    let up_to = |n: u64| (n as f64 * share - 1e-9).ceil();
    up_to(number + 1) > up_to(number)
}

impl LivePlan {
    /// Prepare from `[live]`; `log` is `live.csv`.
    pub fn new(live: &LiveViewers, endpoints: &Endpoints, log: LiveLog) -> Result<LivePlan> {
        // Checked once here, so a session cannot fail on it.
        endpoints.live_socket().map_err(Error::Usage)?;
        Ok(LivePlan {
            share: live.share,
            shared: Arc::new(Shared {
                endpoints: endpoints.clone(),
                channels: live.channels.clone(),
                log,
                started: std::sync::OnceLock::new(),
            }),
            publisher: live.publisher.clone(),
            publisher_started: std::sync::Once::new(),
            cancel: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// A viewer numbered `number` arrives (Goose's clock started at `started`):
    /// its session, if its number is in the share. The first one also starts
    /// the publisher.
    pub fn arrive(&self, number: u64, started: Instant) -> Option<LiveSession> {
        self.shared.started.get_or_init(|| started);
        if self.cancel.is_cancelled() || !selected(number, self.share) {
            return None;
        }
        self.publisher_started.call_once(|| {
            if let Some(p) = &self.publisher {
                let task = tokio::spawn(publish(
                    self.shared.clone(),
                    p.clone(),
                    self.cancel.child_token(),
                ));
                self.tasks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(task);
            }
        });
        let token = self.cancel.child_token();
        let task = tokio::spawn(session(self.shared.clone(), number, token.clone()));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
        Some(LiveSession(Arc::new(token.drop_guard())))
    }

    /// The run is over: close every session and stop the publisher, wait for
    /// them (bounded), and write `live.csv` out.
    pub async fn finish(&self) {
        self.cancel.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = tokio::time::timeout(FINISH_TIMEOUT, futures::future::join_all(tasks)).await;
        self.shared.log.flush();
    }

    /// Write out what `live.csv` buffers (every second, as the other side logs).
    pub fn flush(&self) {
        self.shared.log.flush();
    }
}

/// What a received frame means for the session.
enum Incoming {
    Text(String),
    /// The connection ended: the server's close code, if it sent one, and
    /// the reason in words.
    Closed(Option<u16>, String),
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn receive(ws: &mut Socket) -> Incoming {
    loop {
        return match ws.next().await {
            Some(Ok(Message::Text(t))) => Incoming::Text(t.to_string()),
            Some(Ok(Message::Close(Some(f)))) => {
                let code = u16::from(f.code);
                Incoming::Closed(Some(code), format!("{code} {}", f.reason))
            }
            Some(Ok(Message::Close(None))) | None => {
                Incoming::Closed(None, "connection closed".to_string())
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => Incoming::Closed(None, e.to_string()),
        };
    }
}

/// A session's state between frames.
struct Session {
    shared: Arc<Shared>,
    viewer: u64,
    began: Instant,
    connected: bool,
    /// Subscribe commands waiting for their reply: id → (channel, sent).
    pending: HashMap<u64, (String, Instant)>,
    /// Last offset seen per channel.
    offsets: HashMap<String, u64>,
    /// Set when the server answered `connect` with an error.
    refused: bool,
    /// When the session lost its connection, until it is back.
    down_since: Option<Instant>,
}

impl Session {
    fn log(&self, row: LiveRow) {
        self.shared.log.append(&row);
    }

    fn failed(&self, event: LiveEvent, channel: &str, reason: String) {
        let mut row = self.shared.row(self.viewer, event, channel);
        row.ok = false;
        row.reason = reason;
        self.log(row);
    }

    /// Handle one text frame; returns the frames to send back.
    fn frame(&mut self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
            let received_ns = now_ns();
            let Ok(Value::Object(reply)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if reply.is_empty() {
                // The server's ping: answer with a pong.
                out.push("{}".to_string());
                continue;
            }
            if let Some(publication) = reply.get("push").and_then(|p| p.get("pub").map(|x| (p, x)))
            {
                let (push, publication) = publication;
                let channel = push.get("channel").and_then(Value::as_str).unwrap_or("");
                self.delivery(channel, publication, received_ns);
                continue;
            }
            let Some(id) = reply.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let error = reply.get("error").map(|e| {
                format!(
                    "{} {}",
                    e.get("code").and_then(Value::as_u64).unwrap_or(0),
                    e.get("message").and_then(Value::as_str).unwrap_or("")
                )
            });
            if id == 1 && !self.connected {
                match error {
                    Some(reason) => {
                        self.refused = true;
                        self.failed(LiveEvent::Connect, "", reason)
                    }
                    None => {
                        self.connected = true;
                        let mut row = self.shared.row(self.viewer, LiveEvent::Connect, "");
                        row.duration_us = Some(self.began.elapsed().as_micros() as u64);
                        self.log(row);
                        if let Some(down) = self.down_since.take() {
                            let mut row = self.shared.row(self.viewer, LiveEvent::Reconnect, "");
                            row.duration_us = Some(down.elapsed().as_micros() as u64);
                            self.log(row);
                        }
                        out.push(self.subscribe_all());
                    }
                }
                continue;
            }
            if let Some((channel, sent)) = self.pending.remove(&id) {
                match error {
                    Some(reason) => self.failed(LiveEvent::Subscribe, &channel, reason),
                    None => {
                        let mut row = self.shared.row(self.viewer, LiveEvent::Subscribe, &channel);
                        row.duration_us = Some(sent.elapsed().as_micros() as u64);
                        self.log(row);
                    }
                }
            }
        }
        out
    }

    /// One frame of subscribe commands, one per channel (as centrifuge-js batches them).
    fn subscribe_all(&mut self) -> String {
        let now = Instant::now();
        let mut lines = Vec::new();
        for (i, channel) in self.shared.channels.iter().enumerate() {
            let id = i as u64 + 2;
            self.pending.insert(id, (channel.clone(), now));
            lines.push(json!({"id": id, "subscribe": {"channel": channel}}).to_string());
        }
        lines.join("\n")
    }

    fn delivery(&mut self, channel: &str, publication: &Value, received_ns: i64) {
        let mut row = self.shared.row(self.viewer, LiveEvent::Delivery, channel);
        row.offset = publication
            .get("offset")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        // Offsets only of the channels asked for: a server cannot grow the map.
        if row.offset > 0 && self.shared.channels.iter().any(|c| c == channel) {
            let last = self.offsets.insert(channel.to_string(), row.offset);
            if let Some(last) = last.filter(|&l| row.offset > l + 1) {
                row.missed = row.offset - last - 1;
            }
        }
        row.duration_us = sent_ns(publication.get("data"))
            .map(|sent| (received_ns.saturating_sub(sent).max(0) / 1_000) as u64);
        self.log(row);
    }
}

/// The send time a probe point carries: the `sent_ns` column of a data frame.
fn sent_ns(data: Option<&Value>) -> Option<i64> {
    let data = data?;
    let fields = data.get("schema")?.get("fields")?.as_array()?;
    let column = fields
        .iter()
        .position(|f| f.get("name").and_then(Value::as_str) == Some(SENT_FIELD))?;
    data.get("data")?
        .get("values")?
        .get(column)?
        .get(0)?
        .as_i64()
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// How one connection of a session ended.
#[derive(Debug, PartialEq)]
enum End {
    /// The viewer left (or the run ended).
    Left,
    /// The server said not to come back (a terminal code, a refused connect).
    Terminal,
    /// Lost: reconnect after a back-off.
    Retry,
}

/// Centrifuge's terminal disconnect codes: the client does not reconnect
/// (centrifugal.dev, "Error and disconnect codes").
fn terminal(code: Option<u16>) -> bool {
    code.is_some_and(|c| matches!(c, 3500..=3999 | 4500..=4999))
}

/// The wait before reconnect attempt `step` (0, 1, …): centrifuge-js's
/// full-jitter back-off with its defaults, 500 ms growing to at most 20 s.
pub fn backoff(step: u32) -> Duration {
    use rand::Rng as _;
    const MIN_MS: u64 = 500;
    const MAX_MS: u64 = 20_000;
    let interval = MAX_MS.min(MIN_MS.saturating_mul(1 << step.min(31)));
    let jitter = rand::rng().random_range(0..=interval);
    Duration::from_millis(MAX_MS.min(MIN_MS + jitter))
}

/// One viewer's session, until `cancel` (the viewer left, or the run ended):
/// connections one after another, as the Centrifuge client reconnects after
/// a lost one.
async fn session(shared: Arc<Shared>, viewer: u64, cancel: CancellationToken) {
    let mut s = Session {
        shared,
        viewer,
        began: Instant::now(),
        connected: false,
        pending: HashMap::new(),
        offsets: HashMap::new(),
        refused: false,
        down_since: None,
    };
    let mut step = 0;
    loop {
        match connection(&mut s, &cancel).await {
            End::Left | End::Terminal => return,
            End::Retry => {}
        }
        s.down_since.get_or_insert_with(Instant::now);
        // The back-off grows while attempts fail, and starts over after a connection.
        if s.connected {
            step = 0;
        }
        let wait = backoff(step);
        step += 1;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One connection: handshake, `connect`, subscribe, publications, until it ends.
async fn connection(s: &mut Session, cancel: &CancellationToken) -> End {
    s.began = Instant::now();
    s.connected = false;
    s.refused = false;
    s.pending.clear();
    s.offsets.clear();
    let request = match s.shared.endpoints.live_socket() {
        Ok(r) => r,
        Err(e) => {
            s.failed(LiveEvent::Connect, "", e);
            return End::Terminal;
        }
    };
    let handshake = tokio::select! {
        _ = cancel.cancelled() => return End::Left,
        r = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(request, Some(answer_limits()), false),
        ) => r,
    };
    let mut ws = match handshake {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            s.failed(LiveEvent::Connect, "", format!("handshake: {e}"));
            return End::Retry;
        }
        Err(_) => {
            s.failed(LiveEvent::Connect, "", "handshake timed out".into());
            return End::Retry;
        }
    };
    let connect = json!({"id": 1, "connect": {"name": "dashload"}}).to_string();
    if let Err(e) = ws.send(Message::text(connect)).await {
        s.failed(LiveEvent::Connect, "", e.to_string());
        return End::Retry;
    }
    let deadline = tokio::time::Instant::from_std(s.began + CONNECT_TIMEOUT);
    loop {
        let incoming = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(deadline), if !s.connected => {
                s.failed(LiveEvent::Connect, "", "no connect reply in time".into());
                return End::Retry;
            }
            incoming = receive(&mut ws) => incoming,
        };
        match incoming {
            Incoming::Text(text) => {
                for reply in s.frame(&text) {
                    if ws.send(Message::text(reply)).await.is_err() {
                        break;
                    }
                }
                if s.refused {
                    let _ = ws.close(None).await;
                    return End::Terminal;
                }
            }
            Incoming::Closed(code, reason) => {
                let event = if s.connected {
                    LiveEvent::Disconnect
                } else {
                    LiveEvent::Connect
                };
                s.failed(event, "", reason);
                return if terminal(code) {
                    End::Terminal
                } else {
                    End::Retry
                };
            }
        }
    }
    // Leave as a browser tab does: close, then read what was already on its
    // way until the server's answer (those publications were delivered too).
    let _ = ws.close(None).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Incoming::Text(text) = receive(&mut ws).await {
            s.frame(&text);
        }
    })
    .await;
    let row = s.shared.row(s.viewer, LiveEvent::Close, "");
    s.log(row);
    End::Left
}

/// Push one probe point `rate` times a second until `cancel`.
async fn publish(shared: Arc<Shared>, publisher: Publisher, cancel: CancellationToken) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / publisher.rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let seq = AtomicU64::new(0);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let sent = now_ns();
        let body = format!("{PROBE_MEASUREMENT} seq={n}i,{SENT_FIELD}={sent}i {sent}");
        let began = Instant::now();
        let answer = shared
            .endpoints
            .live_push(&client, &publisher.stream, body)
            .send()
            .await;
        let mut row = shared.row(n, LiveEvent::Push, &publisher.channel());
        row.duration_us = Some(began.elapsed().as_micros() as u64);
        match answer {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                row.ok = false;
                row.reason = r.status().as_u16().to_string();
            }
            Err(e) => {
                row.ok = false;
                row.reason = e.to_string();
            }
        }
        shared.log.append(&row);
    }
}

/// The largest frame or message a target may send a live session: the
/// target is untrusted, and tungstenite's defaults (16 MiB frames, 64 MiB
/// messages) would let one answer hold that much per viewer. A Grafana Live
/// publication is a data frame of a few KB.
pub const MAX_ANSWER: usize = 1 << 20;

fn answer_limits() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_ANSWER))
        .max_frame_size(Some(MAX_ANSWER))
}

#[cfg(test)]
mod tests;
