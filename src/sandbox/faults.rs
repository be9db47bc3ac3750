//! Built-in faults of the sandbox: added latency, an error rate (5xx, or 429/503
//! with `Retry-After`), refused connections and stalls, each for queries, writes
//! or the Toggl API apart, switched on and off while it serves.
//!
//! A run switches them on its clock (`crate::faults`); `dashload sandbox` users
//! switch them through `/dashload/faults` (loopback peers only). One set of
//! active faults per sandbox ([`FaultSet`]); every request passes [`layer`],
//! which looks up what applies to its surface. A refusal cannot be a TCP refusal
//! on a port every surface shares: the connection is closed on the request
//! without an answer ([`FaultListener`] does it below HTTP, so keep-alive
//! connections see it too), which clients report as `connection closed`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::SandboxState;
use crate::scenario::duration::{format_duration, parse_duration, parse_duration_range};

/// The part of the stack a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// `/query`, `/api/v2/query`, `/api/ds/query`.
    Queries,
    /// `/write`, `/api/v2/write`.
    Writes,
    /// The Toggl API (`/api/v9/…`, `/reports/…`).
    Toggl,
}

impl Surface {
    /// The name scenario files and the admin endpoint use.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Queries => "queries",
            Surface::Writes => "writes",
            Surface::Toggl => "toggl",
        }
    }

    /// Parse `queries`, `writes` or `toggl`.
    pub fn parse(text: &str) -> Result<Surface, String> {
        match text {
            "queries" => Ok(Surface::Queries),
            "writes" => Ok(Surface::Writes),
            "toggl" => Ok(Surface::Toggl),
            other => Err(format!(
                "`{other}` is not a sandbox surface: expected queries, writes or toggl"
            )),
        }
    }

    /// The surface a request path belongs to, if any (`/ping`, dashboards and
    /// the admin routes are never faulted).
    pub fn of_path(path: &str) -> Option<Surface> {
        let path = path.split('?').next().unwrap_or(path);
        match path {
            "/query" | "/api/v2/query" | "/api/ds/query" => Some(Surface::Queries),
            "/write" | "/api/v2/write" => Some(Surface::Writes),
            p if p.starts_with("/api/v9/") || p.starts_with("/reports/") => Some(Surface::Toggl),
            _ => None,
        }
    }
}

/// What a fault does to the requests it hits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Effect {
    /// Answer as usual, `min..max` later (uniformly drawn; equal for a fixed delay).
    Latency {
        /// Least added delay, ms.
        min_ms: u64,
        /// Most added delay, ms.
        max_ms: u64,
    },
    /// Answer `status` at once (with `Retry-After` for 429 and 503 when set).
    Error {
        /// 5xx or 429.
        status: u16,
        /// `Retry-After`, whole seconds.
        retry_after_s: Option<u64>,
    },
    /// Close the connection on the request without an answer.
    Refuse,
    /// Accept the request and never answer (until the fault ends).
    Stall,
}

impl Effect {
    /// The scenario's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::Latency { .. } => "latency",
            Effect::Error { .. } => "error",
            Effect::Refuse => "refuse",
            Effect::Stall => "stall",
        }
    }
}

/// One built-in fault: an effect on a share (`rate`) of one surface's requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SandboxFault {
    /// Which requests.
    pub on: Surface,
    /// What happens to them.
    #[serde(flatten)]
    pub effect: Effect,
    /// The share of requests hit, 0..=1.
    pub rate: f64,
}

impl SandboxFault {
    /// One line, as `check`, the report and the admin endpoint show it.
    pub fn describe(&self) -> String {
        let share = if self.rate >= 1.0 {
            String::new()
        } else {
            format!("{}% of ", (self.rate * 1000.0).round() / 10.0)
        };
        let what = match &self.effect {
            Effect::Latency { min_ms, max_ms } if min_ms == max_ms => {
                format!("+{} latency", fmt_ms(*min_ms))
            }
            Effect::Latency { min_ms, max_ms } => {
                format!("+{}..{} latency", fmt_ms(*min_ms), fmt_ms(*max_ms))
            }
            Effect::Error {
                status,
                retry_after_s: Some(s),
            } => format!("HTTP {status} (Retry-After {s})"),
            Effect::Error { status, .. } => format!("HTTP {status}"),
            Effect::Refuse => "closed connections".into(),
            Effect::Stall => "stalls (no answer)".into(),
        };
        format!("{what} on {share}{}", self.on.name())
    }
}

fn fmt_ms(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

/// The fields of a fault as written (in a scenario's `[[faults]]` or the admin
/// endpoint's JSON), before they are checked.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `latency`, `error`, `refuse` or `stall`.
    pub kind: String,
    /// `queries`, `writes` or `toggl`.
    pub on: Option<String>,
    /// Share of requests hit, e.g. `30%` (default 100%).
    pub rate: Option<String>,
    /// `error`: the status (5xx or 429; default 503).
    pub status: Option<i64>,
    /// `error` with 429 or 503: `Retry-After` (whole seconds; default 1s for 429).
    pub retry_after: Option<String>,
    /// `latency`: `200ms` (fixed) or `50ms..500ms` (uniform).
    pub latency: Option<String>,
}

/// Which field of a [`FaultSpec`] a mistake is in, so a scenario can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `kind`.
    Kind,
    /// `on`.
    On,
    /// `rate`.
    Rate,
    /// `status`.
    Status,
    /// `retry_after`.
    RetryAfter,
    /// `latency`.
    Latency,
}

/// The built-in kinds.
pub const KINDS: &[&str] = &["latency", "error", "refuse", "stall"];

impl FaultSpec {
    /// Check every field: the fault, or the field that is wrong and why.
    pub fn resolve(&self) -> Result<SandboxFault, (Field, String)> {
        let on = match &self.on {
            Some(on) => Surface::parse(on).map_err(|m| (Field::On, m))?,
            None => {
                return Err((
                    Field::Kind,
                    format!("kind `{}` needs `on`: queries, writes or toggl", self.kind),
                ))
            }
        };
        let rate = match &self.rate {
            None => 1.0,
            Some(r) => crate::scenario::duration::parse_percent(r).map_err(|m| {
                let m = if m.contains("outside") {
                    format!("rate {m}: a share of requests is at most 100%")
                } else {
                    m
                };
                (Field::Rate, m)
            })?,
        };
        let only = |field: Field, set: bool, key: &str, kinds: &str| {
            if set {
                Err((field, format!("`{key}` applies to kind {kinds} only")))
            } else {
                Ok(())
            }
        };
        let effect = match self.kind.as_str() {
            "latency" => {
                only(Field::Status, self.status.is_some(), "status", "error")?;
                only(
                    Field::RetryAfter,
                    self.retry_after.is_some(),
                    "retry_after",
                    "error",
                )?;
                let text = self.latency.as_deref().ok_or((
                    Field::Kind,
                    "kind `latency` needs `latency`, e.g. \"200ms\" or \"50ms..500ms\"".to_string(),
                ))?;
                let (lo, hi) = parse_duration_range(text).map_err(|m| (Field::Latency, m))?;
                if hi > Duration::from_secs(300) {
                    return Err((
                        Field::Latency,
                        format!("`{text}`: at most 5m of added latency"),
                    ));
                }
                Effect::Latency {
                    min_ms: lo.as_millis() as u64,
                    max_ms: hi.as_millis() as u64,
                }
            }
            "error" => {
                only(Field::Latency, self.latency.is_some(), "latency", "latency")?;
                let status = self.status.unwrap_or(503);
                if !(status == 429 || (500..=599).contains(&status)) {
                    return Err((
                        Field::Status,
                        format!("status {status}: a fault answers 5xx or 429"),
                    ));
                }
                let retry_after_s = match &self.retry_after {
                    Some(text) => {
                        if !matches!(status, 429 | 503) {
                            return Err((
                                Field::RetryAfter,
                                format!("`retry_after` goes with status 429 or 503, not {status}"),
                            ));
                        }
                        let d = parse_duration(text).map_err(|m| (Field::RetryAfter, m))?;
                        if d.subsec_nanos() != 0 {
                            return Err((
                                Field::RetryAfter,
                                format!("`{text}`: Retry-After is whole seconds"),
                            ));
                        }
                        Some(d.as_secs())
                    }
                    None if status == 429 => Some(1),
                    None => None,
                };
                Effect::Error {
                    status: status as u16,
                    retry_after_s,
                }
            }
            "refuse" | "stall" => {
                only(Field::Latency, self.latency.is_some(), "latency", "latency")?;
                only(Field::Status, self.status.is_some(), "status", "error")?;
                only(
                    Field::RetryAfter,
                    self.retry_after.is_some(),
                    "retry_after",
                    "error",
                )?;
                if self.kind == "refuse" {
                    Effect::Refuse
                } else {
                    Effect::Stall
                }
            }
            other => {
                return Err((
                    Field::Kind,
                    format!(
                        "unknown fault kind `{other}`: expected {}, or command",
                        KINDS.join(", ")
                    ),
                ))
            }
        };
        Ok(SandboxFault { on, effect, rate })
    }
}

/// The faults switched on in one sandbox, by id.
#[derive(Default)]
pub struct FaultSet {
    active: RwLock<BTreeMap<u64, SandboxFault>>,
    next: AtomicU64,
    /// Bumped whenever a fault goes: stalled requests wake and see whether theirs went.
    changed: watch::Sender<u64>,
    /// Requests each fault has hit, by id (kept after the fault goes).
    hits: RwLock<BTreeMap<u64, u64>>,
}

/// What [`FaultSet::decide`] says about one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Serve it, after `delay`.
    Serve(Duration),
    /// Answer this error (after the delay of any latency fault).
    Error(Duration, u16, Option<u64>),
    /// Close the connection without an answer.
    Refuse,
    /// Never answer while fault `id` is on.
    Stall(u64),
}

impl FaultSet {
    /// Switch `fault` on; its id switches it off.
    pub fn add(&self, fault: SandboxFault) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.write().insert(id, fault);
        id
    }

    /// Switch fault `id` off; false when it was not on.
    pub fn remove(&self, id: u64) -> bool {
        let gone = self.write().remove(&id).is_some();
        self.changed.send_modify(|n| *n += 1);
        gone
    }

    /// Switch every fault off.
    pub fn clear(&self) {
        self.write().clear();
        self.changed.send_modify(|n| *n += 1);
    }

    /// The faults on now, by id.
    pub fn list(&self) -> Vec<(u64, SandboxFault)> {
        let a = self.active.read().unwrap_or_else(|e| e.into_inner());
        a.iter().map(|(id, f)| (*id, f.clone())).collect()
    }

    /// Requests fault `id` has hit so far.
    pub fn hits(&self, id: u64) -> u64 {
        let h = self.hits.read().unwrap_or_else(|e| e.into_inner());
        h.get(&id).copied().unwrap_or(0)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, SandboxFault>> {
        self.active.write().unwrap_or_else(|e| e.into_inner())
    }

    fn hit(&self, id: u64) {
        let mut h = self.hits.write().unwrap_or_else(|e| e.into_inner());
        *h.entry(id).or_insert(0) += 1;
    }

    /// True when any fault is on (the common case, none, costs one read lock).
    fn any(&self) -> bool {
        !self
            .active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Whether a request to `surface` is refused (closed without an answer).
    pub fn refuses(&self, surface: Surface) -> bool {
        let mut rng = rand::rng();
        let roll = |rate: f64| rng.random::<f64>() < rate;
        !matches!(self.decide_with(surface, roll, true), Decision::Serve(_))
    }

    /// What happens to one request to `surface`: latencies add up; the first
    /// error, refusal or stall (in id order) whose rate roll hits decides.
    pub fn decide(&self, surface: Surface) -> Decision {
        let mut rng = rand::rng();
        self.decide_with(surface, |rate| rng.random::<f64>() < rate, false)
    }

    fn decide_with(
        &self,
        surface: Surface,
        mut roll: impl FnMut(f64) -> bool,
        refuse_only: bool,
    ) -> Decision {
        let active = self.list();
        let mut delay = Duration::ZERO;
        for (id, f) in active.iter().filter(|(_, f)| f.on == surface) {
            if refuse_only != matches!(f.effect, Effect::Refuse) {
                continue;
            }
            if !roll(f.rate) {
                continue;
            }
            match f.effect {
                Effect::Latency { min_ms, max_ms } => {
                    self.hit(*id);
                    let ms = if max_ms > min_ms {
                        rand::rng().random_range(min_ms..=max_ms)
                    } else {
                        min_ms
                    };
                    delay += Duration::from_millis(ms);
                }
                Effect::Error {
                    status,
                    retry_after_s,
                } => {
                    self.hit(*id);
                    return Decision::Error(delay, status, retry_after_s);
                }
                Effect::Refuse => {
                    self.hit(*id);
                    return Decision::Refuse;
                }
                Effect::Stall => {
                    self.hit(*id);
                    return Decision::Stall(*id);
                }
            }
        }
        Decision::Serve(delay)
    }

    /// Wait until fault `id` is off.
    async fn until_off(&self, id: u64) {
        let mut rx = self.changed.subscribe();
        loop {
            if !self
                .active
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&id)
            {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

impl SandboxState {
    /// Its built-in faults, switched on and off while it serves.
    pub fn faults(&self) -> &FaultSet {
        &self.inner.faults
    }
}

/// The body of a faulted answer: says it was injected, so nobody chases it as a bug.
pub const INJECTED: &str = "injected by a dashload sandbox fault";

/// The router's layer: apply what the active faults say to each request.
pub async fn layer(State(state): State<SandboxState>, req: Request, next: Next) -> Response {
    let faults = &state.inner.faults;
    if !faults.any() {
        return next.run(req).await;
    }
    let Some(surface) = Surface::of_path(req.uri().path()) else {
        return next.run(req).await;
    };
    match faults.decide(surface) {
        Decision::Serve(delay) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            next.run(req).await
        }
        Decision::Error(delay, status, retry_after) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = (
                status,
                Json(
                    serde_json::json!({ "error": format!("{INJECTED}: HTTP {}", status.as_u16()) }),
                ),
            )
                .into_response();
            if let Some(s) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(s));
            }
            response
        }
        Decision::Stall(id) => {
            faults.until_off(id).await;
            // The fault is over: the client has most likely given up; answer
            // something so the connection (and a graceful shutdown) can end.
            (StatusCode::GATEWAY_TIMEOUT, format!("{INJECTED}: stalled")).into_response()
        }
        Decision::Refuse => {
            // Reached only on a connection the listener had not checked (a
            // router served without [`FaultListener`]): close it after this answer.
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{INJECTED}: refused"),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// `/dashload/faults`: list (GET), switch on (POST a [`FaultSpec`] as JSON),
/// switch all off (DELETE); `/dashload/faults/{id}`: switch one off (DELETE).
pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/dashload/faults", get(list).post(add).delete(clear))
        .route("/dashload/faults/{id}", delete(remove))
        .route_layer(axum::middleware::from_fn(loopback_only))
}

/// The fault switch answers loopback peers only (a router served without peer
/// addresses, as in tests, cannot tell and answers).
async fn loopback_only(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !super::http_debug::peer_allowed(peer) {
        return (
            StatusCode::FORBIDDEN,
            "the fault switch answers loopback peers only",
        )
            .into_response();
    }
    next.run(req).await
}

fn listing(state: &SandboxState) -> serde_json::Value {
    let faults = &state.inner.faults;
    let list: Vec<_> = faults
        .list()
        .into_iter()
        .map(|(id, f)| {
            serde_json::json!({
                "id": id,
                "fault": f,
                "describe": f.describe(),
                "hits": faults.hits(id),
            })
        })
        .collect();
    serde_json::json!({ "faults": list })
}

async fn list(State(state): State<SandboxState>) -> Response {
    Json(listing(&state)).into_response()
}

async fn add(State(state): State<SandboxState>, body: axum::body::Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a fault: {e}")).into_response(),
    };
    match spec.resolve() {
        Ok(fault) => {
            let describe = fault.describe();
            let id = state.inner.faults.add(fault);
            (
                StatusCode::CREATED,
                Json(serde_json::json!({ "id": id, "describe": describe })),
            )
                .into_response()
        }
        Err((_, message)) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

async fn clear(State(state): State<SandboxState>) -> Response {
    state.inner.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn remove(State(state): State<SandboxState>, Path(id): Path<u64>) -> Response {
    if state.inner.faults.remove(id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::NOT_FOUND, format!("no fault {id} is on")).into_response()
    }
}

/// A listener whose connections close, without an answer, on a request to a
/// surface a `refuse` fault is on: checked on every request line read, so
/// kept-alive connections are refused too.
pub struct FaultListener {
    inner: tokio::net::TcpListener,
    faults: Arc<SandboxState>,
}

impl FaultListener {
    /// Wrap `inner`; `state`'s faults decide.
    pub fn new(inner: tokio::net::TcpListener, state: SandboxState) -> FaultListener {
        FaultListener {
            inner,
            faults: Arc::new(state),
        }
    }
}

impl axum::serve::Listener for FaultListener {
    type Io = FaultStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (
            FaultStream {
                inner: io,
                state: self.faults.clone(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// One accepted connection, checked for refusals as requests arrive.
pub struct FaultStream {
    inner: tokio::net::TcpStream,
    state: Arc<SandboxState>,
}

impl FaultStream {
    /// The peer's address.
    pub fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

/// The path of an HTTP/1 request line at the start of `bytes`, if it is one.
fn request_path(bytes: &[u8]) -> Option<&str> {
    let line = &bytes[..bytes.len().min(512)];
    let text = std::str::from_utf8(line).ok().or_else(|| {
        // Cut inside a multi-byte character: the line before it is enough.
        let valid = std::str::from_utf8(line).err()?.valid_up_to();
        std::str::from_utf8(&line[..valid]).ok()
    })?;
    let (method, rest) = text.split_once(' ')?;
    if !matches!(
        method,
        "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH" | "OPTIONS"
    ) {
        return None;
    }
    rest.split([' ', '\r', '\n']).next()
}

impl AsyncRead for FaultStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let faults = &self.state.inner.faults;
            if faults.any() {
                let read = &buf.filled()[before..];
                if let Some(surface) = request_path(read).and_then(Surface::of_path) {
                    if faults.refuses(surface) {
                        // Linger 0: the close is a reset, as a refusal is.
                        #[allow(deprecated)] // set_zero_linger needs a newer tokio
                        let _ = self.inner.set_linger(Some(Duration::ZERO));
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            INJECTED,
                        )));
                    }
                }
            }
        }
        polled
    }
}

impl AsyncWrite for FaultStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: &str, on: &str) -> FaultSpec {
        FaultSpec {
            kind: kind.into(),
            on: Some(on.into()),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn specs_resolve_or_name_the_wrong_field() {
        let mut s = spec("error", "queries");
        s.rate = Some("30%".into());
        let f = s.resolve().unwrap();
        assert_eq!(f.rate, 0.3);
        assert_eq!(
            f.effect,
            Effect::Error {
                status: 503,
                retry_after_s: None
            }
        );
        s.rate = Some("130%".into());
        assert_eq!(s.resolve().unwrap_err().0, Field::Rate);
        let mut s = spec("error", "toggl");
        s.status = Some(429);
        assert_eq!(
            s.resolve().unwrap().effect,
            Effect::Error {
                status: 429,
                retry_after_s: Some(1)
            }
        );
        s.status = Some(404);
        assert_eq!(s.resolve().unwrap_err().0, Field::Status);
        assert_eq!(
            spec("explode", "writes").resolve().unwrap_err().0,
            Field::Kind
        );
        assert_eq!(spec("stall", "disks").resolve().unwrap_err().0, Field::On);
        let mut s = spec("latency", "writes");
        assert_eq!(s.resolve().unwrap_err().0, Field::Kind);
        s.latency = Some("50ms..500ms".into());
        assert_eq!(
            s.resolve().unwrap().effect,
            Effect::Latency {
                min_ms: 50,
                max_ms: 500
            }
        );
        s.status = Some(503);
        assert_eq!(s.resolve().unwrap_err().0, Field::Status);
    }

    #[test]
    fn paths_map_to_surfaces() {
        assert_eq!(Surface::of_path("/query?q=x"), Some(Surface::Queries));
        assert_eq!(Surface::of_path("/api/ds/query"), Some(Surface::Queries));
        assert_eq!(Surface::of_path("/write"), Some(Surface::Writes));
        assert_eq!(
            Surface::of_path("/api/v9/me/time_entries"),
            Some(Surface::Toggl)
        );
        assert_eq!(Surface::of_path("/ping"), None);
        assert_eq!(Surface::of_path("/dashload/faults"), None);
        assert_eq!(
            request_path(b"POST /write?db=x HTTP/1.1\r\n"),
            Some("/write?db=x")
        );
        assert_eq!(request_path(b"time_entry,user=1 x=1 1\n"), None);
    }

    #[test]
    fn decisions_follow_the_active_faults_and_stop_when_switched_off() {
        let set = FaultSet::default();
        assert_eq!(
            set.decide(Surface::Queries),
            Decision::Serve(Duration::ZERO)
        );
        let lat = set.add(SandboxFault {
            on: Surface::Queries,
            effect: Effect::Latency {
                min_ms: 20,
                max_ms: 20,
            },
            rate: 1.0,
        });
        let err = set.add(SandboxFault {
            on: Surface::Queries,
            effect: Effect::Error {
                status: 500,
                retry_after_s: None,
            },
            rate: 1.0,
        });
        set.add(SandboxFault {
            on: Surface::Writes,
            effect: Effect::Refuse,
            rate: 1.0,
        });
        assert_eq!(
            set.decide(Surface::Queries),
            Decision::Error(Duration::from_millis(20), 500, None)
        );
        assert!(set.refuses(Surface::Writes));
        assert!(!set.refuses(Surface::Queries));
        assert_eq!(set.decide(Surface::Toggl), Decision::Serve(Duration::ZERO));
        assert!(set.remove(err));
        assert!(!set.remove(err));
        assert_eq!(
            set.decide(Surface::Queries),
            Decision::Serve(Duration::from_millis(20))
        );
        assert_eq!(set.hits(lat), 2);
        assert_eq!(set.hits(err), 1);
        set.clear();
        assert!(!set.refuses(Surface::Writes));
        // A zero rate never hits.
        set.add(SandboxFault {
            on: Surface::Toggl,
            effect: Effect::Stall,
            rate: 0.0,
        });
        for _ in 0..100 {
            assert_eq!(set.decide(Surface::Toggl), Decision::Serve(Duration::ZERO));
        }
    }
}
