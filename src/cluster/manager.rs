//! The manager of a distributed run (`dashload run … --workers`): it serves the
//! channel of `protocol.rs`, waits for its workers (naming the missing ones at
//! the timeout), refuses late, duplicate and mismatched ones, starts them
//! together, judges the stress ladder on their merged windows with the run's own
//! rule (then orders the `[recovery]` drop on every worker at once, if any),
//! notices a lost worker, and writes one run folder (`run.json`,
//! `workers.json`, `workers/<i>/`) that the usual report reads (`merge.rs`).
//!
//! The manager sends no load itself; with the embedded sandbox it hosts the one
//! sandbox every worker loads.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{OriginalUri, Path as UrlPath, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Extension, Json, Router};
use chrono::Utc;
use tokio::sync::watch;

use super::auth::{self, Key, Replays, Session};
use super::merge::{worker_dir, WorkerRecord, WorkersFile};
use super::protocol::{
    self, Assignment, ClockEstimate, Command, Done, Hello, HelloRequest, Join, Ready, Refusal,
    Start, Tick,
};
use super::share::SYNC_WORKER;
use super::tls::ServerTls;
use super::token::Token;
use super::upload;
use crate::error::{Error, Result};
use crate::interrupt::{self, Stage};
use crate::judged_hold::{HoldCounts, Holds, Timeline};
use crate::live::Live;
use crate::plan::Plan;
use crate::report::collect::ClassAcc;
use crate::run::{RunOptions, RunResult};
use crate::runfolder::recover;
use crate::runfolder::{LadderStop, RunCounters, RunMeta, StageWindow, WindowKind};
use crate::scenario::{Scenario, TargetKind};

/// Where the workers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// `local:N`: N worker processes of this executable, on this machine.
    Local(usize),
    /// `N`: N workers that dial in (`dashload worker --manager …`).
    Remote(usize),
}

impl Workers {
    /// How many.
    pub fn count(self) -> usize {
        match self {
            Workers::Local(n) | Workers::Remote(n) => n,
        }
    }

    /// Parse `local:N` or `N` (1 to 256).
    pub fn parse(text: &str) -> std::result::Result<Workers, String> {
        let (local, n) = match text.strip_prefix("local:") {
            Some(n) => (true, n),
            None => (false, text),
        };
        let n: usize = n
            .parse()
            .ok()
            .filter(|n| (1..=256).contains(n))
            .ok_or_else(|| format!("`{text}`: expected N or local:N with N from 1 to 256"))?;
        Ok(if local {
            Workers::Local(n)
        } else {
            Workers::Remote(n)
        })
    }
}

/// What to do when a worker is lost mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnLoss {
    /// Stop the others; the run is interrupted and judged up to the loss.
    Abort,
    /// Keep going; later windows are degraded, not judged (losing the sync worker still stops).
    Continue,
}

/// How to manage.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    /// The workers.
    pub workers: Workers,
    /// Where to listen.
    pub listen: SocketAddr,
    /// `--on-worker-loss`.
    pub on_loss: OnLoss,
    /// How long to wait for every worker to join and be ready.
    pub join_timeout: Duration,
    /// The `--set` overrides, passed to `local:N` workers on their command line
    /// (remote workers have their own: the digest shows they agree).
    pub set: Vec<String>,
    /// TLS for the channel.
    pub tls: TlsChoice,
    /// Plain HTTP off loopback was asked for (`--allow-plain-http`).
    pub allow_plain_http: bool,
}

/// Whether and how the manager serves TLS.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TlsChoice {
    /// Plain HTTP (loopback, or `--allow-plain-http`).
    #[default]
    None,
    /// `--tls-cert` and `--tls-key`, PEM.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
    },
    /// `--tls-self-signed`: made at start, its fingerprint printed.
    SelfSigned,
}

/// The sessions opened by `hello`. Those no request has proven yet (anyone can
/// say hello) are capped, the oldest going first; a proven one (its worker
/// knows the token) stays.
#[derive(Debug, Default)]
struct Sessions {
    map: std::collections::HashMap<String, SessionState>,
}

#[derive(Debug)]
struct SessionState {
    session: Session,
    opened: Instant,
    proven: bool,
    replays: Replays,
    /// The worker index it joined as: it speaks for that worker only.
    worker: Option<usize>,
}

/// The session a request came in, for the handlers (set by `authenticate`).
#[derive(Debug, Clone)]
struct SessionId(String);

impl Sessions {
    /// Unproven sessions kept at once.
    const UNPROVEN: usize = 1024;

    fn open(&mut self, session: Session) {
        let unproven = self.map.values().filter(|s| !s.proven).count();
        if unproven >= Self::UNPROVEN {
            if let Some(oldest) = self
                .map
                .iter()
                .filter(|(_, s)| !s.proven)
                .min_by_key(|(_, s)| s.opened)
                .map(|(id, _)| id.clone())
            {
                self.map.remove(&oldest);
            }
        }
        self.map.insert(
            session.id.clone(),
            SessionState {
                session,
                opened: Instant::now(),
                proven: false,
                replays: Replays::default(),
                worker: None,
            },
        );
    }
}

/// One worker's state at the manager.
#[derive(Debug, Default)]
struct Slot {
    join: Option<Join>,
    ready: bool,
    last_tick: Option<Instant>,
    tick: Option<Tick>,
    clock: ClockEstimate,
    /// The last tick as received, until its round trip comes with the next.
    sent: Option<(u64, protocol::Sent)>,
    done: Option<Done>,
    received: BTreeMap<String, String>,
    lost: Option<(u64, String)>,
    /// When its upload last made progress.
    uploading: Option<Instant>,
}

#[derive(Debug, Default)]
struct Book {
    slots: Vec<Slot>,
    /// Set when the load starts: no more joins.
    started: bool,
    /// The stop every tick answers with, once decided.
    stop: Option<Command>,
    /// The recovery drop every tick answers with (unless stopped), once decided.
    recovery: Option<RecoveryOrder>,
    /// Until-judged holds judged on every worker's samples: when each ends.
    hold_ends: BTreeMap<String, Instant>,
}

/// The `[recovery]` drop, as the manager decided it.
#[derive(Debug, Clone)]
struct RecoveryOrder {
    /// When every worker drops to its share.
    at: Instant,
    /// The ladder's stop, when the ladder stopped.
    ladder: Option<LadderStop>,
    /// Why the run ends after the phase.
    reason: String,
}

struct Shared {
    /// The token's key (empty on loopback without a token: remote workers then need none).
    key: Key,
    sessions: Mutex<Sessions>,
    /// The scenario file, as the manager was given it (for messages).
    scenario: String,
    digest: String,
    run_id: String,
    plan: Plan,
    seed: u64,
    sandbox_url: Option<String>,
    run_dir: PathBuf,
    book: Mutex<Book>,
    /// The run's zero, once every worker is ready (or why it will not start).
    start: watch::Sender<Option<std::result::Result<Instant, String>>>,
}

impl Shared {
    /// The session `id`, if open.
    fn session(&self, id: &str) -> Option<Session> {
        let sessions = self.sessions.lock().expect("sessions lock");
        sessions.map.get(id).map(|st| st.session.clone())
    }

    /// Take sequence number `seq` of session `id` (its proof checked): false
    /// for a replay. The session is proven from then on.
    fn accept(&self, id: &str, seq: u64) -> bool {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        let Some(state) = sessions.map.get_mut(id) else {
            return false;
        };
        let fresh = state.replays.accept(seq);
        state.proven |= fresh;
        fresh
    }

    /// Session `id` joined as worker `index`.
    fn bind(&self, id: &SessionId, index: usize) {
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if let Some(state) = sessions.map.get_mut(&id.0) {
            state.worker = Some(index);
        }
    }

    /// A refusal unless session `id` joined as worker `index` (a worker speaks
    /// for itself only: its ticks, files and result).
    fn speaks_for(&self, id: &SessionId, index: usize) -> Option<Response> {
        let sessions = self.sessions.lock().expect("sessions lock");
        let joined = sessions.map.get(&id.0).and_then(|s| s.worker);
        (joined != Some(index)).then(|| {
            refuse(
                StatusCode::FORBIDDEN,
                format!("this session did not join as worker {index}"),
            )
        })
    }
}

fn refuse(status: StatusCode, reason: impl Into<String>) -> Response {
    (
        status,
        Json(Refusal {
            reason: reason.into(),
        }),
    )
        .into_response()
}

/// A refusal before any session: the worker cannot check it, and it says no more.
fn unauthenticated(why: &str) -> Response {
    refuse(StatusCode::UNAUTHORIZED, why)
}

fn too_large() -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "a control request's body is limited to {} KiB",
            protocol::CONTROL_BODY_LIMIT / 1024
        ),
    )
}

/// Every route after `hello`: an oversized body is refused before it is read;
/// the request must carry a known session, a fresh sequence number and that
/// session's proof over method, path and query, and body digest (an upload's
/// query names its SHA-256, which `upload.rs` checks); the answer is signed.
async fn authenticate(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let streamed = req.method() == axum::http::Method::PUT;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if !streamed && declared.is_some_and(|n| n > protocol::CONTROL_BODY_LIMIT as u64) {
        return too_large();
    }
    let headers = req.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let signed = (
        header(auth::SESSION_HEADER),
        header(auth::SEQ_HEADER).and_then(|v| v.parse::<u64>().ok()),
        header(auth::PROOF_HEADER),
    );
    let (Some(id), Some(seq), Some(proof)) = signed else {
        return unauthenticated("wrong or missing cluster token (no session: say hello first)");
    };
    let Some(session) = s.session(&id) else {
        return unauthenticated("wrong or missing cluster token (unknown session)");
    };
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().clone(), |o| o.0.clone());
    let path = uri.path_and_query().map_or("", |p| p.as_str()).to_string();
    let method = req.method().as_str().to_string();
    let (parts, body) = req.into_parts();
    let (digest, body) = if streamed {
        (auth::STREAMED.to_string(), body)
    } else {
        match axum::body::to_bytes(body, protocol::CONTROL_BODY_LIMIT).await {
            Ok(bytes) => (auth::body_digest(&bytes), Body::from(bytes)),
            Err(_) => return too_large(),
        }
    };
    if !session.request_holds(&method, &path, seq, &digest, &proof) {
        return unauthenticated("wrong or missing cluster token (bad request proof)");
    }
    if !s.accept(&id, seq) {
        return unauthenticated("replayed request");
    }
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(SessionId(id));
    let answer = next.run(req).await;
    let (mut parts, body) = answer.into_parts();
    let bytes = axum::body::to_bytes(body, protocol::ANSWER_LIMIT)
        .await
        .unwrap_or_default();
    let signed = session.answer_proof(seq, parts.status.as_u16(), &bytes);
    parts.headers.insert(
        auth::PROOF_HEADER,
        signed.parse().expect("hex is a header value"),
    );
    Response::from_parts(parts, Body::from(bytes))
}

/// `hello`: open a session and prove the manager knows the token.
async fn hello(State(s): State<Arc<Shared>>, Json(h): Json<HelloRequest>) -> Response {
    if !auth::is_nonce(&h.nonce) {
        return refuse(StatusCode::BAD_REQUEST, "hello: not a nonce");
    }
    let nonce = auth::nonce();
    let proof = auth::manager_proof(&s.key, &h.nonce, &nonce);
    s.sessions
        .lock()
        .expect("sessions lock")
        .open(Session::derive(&s.key, &h.nonce, &nonce));
    Json(Hello {
        version: env!("CARGO_PKG_VERSION").into(),
        nonce,
        proof,
    })
    .into_response()
}

async fn join(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<SessionId>,
    Json(j): Json<Join>,
) -> Response {
    if j.version != env!("CARGO_PKG_VERSION") {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "version mismatch: worker runs dashload {}, the manager {}",
                j.version.chars().take(40).collect::<String>(),
                env!("CARGO_PKG_VERSION")
            ),
        );
    }
    if j.digest != s.digest {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "scenario mismatch: the worker's scenario (overrides included) has digest {}, the manager's {} has {}",
                short(&j.digest),
                s.scenario,
                short(&s.digest)
            ),
        );
    }
    let mut book = s.book.lock().expect("book lock");
    if book.started {
        return refuse(StatusCode::CONFLICT, "late: the run has already started");
    }
    let n = book.slots.len();
    let index = match j.index {
        Some(i) if i >= n => {
            return refuse(
                StatusCode::CONFLICT,
                format!(
                    "index {i} out of range: the run has {n} workers (0 to {})",
                    n - 1
                ),
            )
        }
        Some(i) => i,
        None => match book.slots.iter().position(|s| s.join.is_none()) {
            Some(i) => i,
            None => return refuse(StatusCode::CONFLICT, format!("all {n} workers have joined")),
        },
    };
    if let Some(other) = &book.slots[index].join {
        return refuse(
            StatusCode::CONFLICT,
            format!(
                "duplicate: worker {index} already joined from {} (pid {})",
                other.host, other.pid
            ),
        );
    }
    eprintln!(
        "dashload: worker {index} joined from {} (pid {})",
        j.host, j.pid
    );
    book.slots[index].join = Some(j);
    s.bind(&id, index);
    Json(Assignment {
        run_id: s.run_id.clone(),
        index,
        workers: n,
        plan: s
            .plan
            .share(index, n, index == SYNC_WORKER)
            .goose_test_plan(),
        seed: s.seed,
        sandbox_url: s.sandbox_url.clone(),
    })
    .into_response()
}

async fn ready(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<SessionId>,
    Json(r): Json<Ready>,
) -> Response {
    if r.run_id != s.run_id {
        return refuse(StatusCode::CONFLICT, "not this run");
    }
    if let Some(refusal) = s.speaks_for(&id, r.index) {
        return refusal;
    }
    {
        let mut book = s.book.lock().expect("book lock");
        match book.slots.get_mut(r.index) {
            Some(slot) if slot.join.is_some() => slot.ready = true,
            _ => return refuse(StatusCode::CONFLICT, "ready before joining"),
        }
    }
    let mut rx = s.start.subscribe();
    let start = match rx.wait_for(Option::is_some).await {
        Ok(v) => v.clone(),
        Err(_) => return refuse(StatusCode::CONFLICT, "the manager stopped"),
    };
    match start {
        Some(Ok(t0)) => Json(Start {
            start_in_us: t0.saturating_duration_since(Instant::now()).as_micros() as u64,
        })
        .into_response(),
        Some(Err(why)) => refuse(StatusCode::CONFLICT, why),
        None => unreachable!(),
    }
}

async fn tick(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<SessionId>,
    Json(t): Json<Tick>,
) -> Response {
    let now = Instant::now();
    if let Some(refusal) = s.speaks_for(&id, t.index) {
        return refusal;
    }
    let t0 = match s.start.borrow().clone() {
        Some(Ok(t0)) => t0,
        _ => return refuse(StatusCode::CONFLICT, "the run has not started"),
    };
    let mut book = s.book.lock().expect("book lock");
    let answer = match (&book.stop, &book.recovery) {
        (Some(stop), _) => stop.clone(),
        (None, Some(r)) => Command::Recover {
            reason: r.reason.clone(),
            ladder: r.ladder.clone(),
            in_us: r.at.saturating_duration_since(now).as_micros() as u64,
        },
        (None, None) => match t
            .hold
            .as_ref()
            .and_then(|h| Some((h.name.clone(), *book.hold_ends.get(&h.name)?)))
        {
            Some((window, at)) => Command::EndHold {
                window,
                in_us: at.saturating_duration_since(now).as_micros() as u64,
            },
            None => Command::Run,
        },
    };
    let Some(slot) = book.slots.get_mut(t.index).filter(|_| t.run_id == s.run_id) else {
        return refuse(StatusCode::CONFLICT, "not this run");
    };
    if let Some((at, why)) = &slot.lost {
        return refuse(
            StatusCode::CONFLICT,
            format!("this worker was counted lost at {} ms: {why}", at),
        );
    }
    // The round trip in this tick is the previous tick's: pair them.
    if let (Some((seq, sent)), Some(rtt)) = (slot.sent, t.rtt_us) {
        if seq + 1 == t.seq {
            slot.clock.observe(&sent, rtt);
        }
    }
    slot.sent = Some((
        t.seq,
        protocol::Sent {
            since_zero_us: t.since_zero_us,
            wall_us: t.wall_us,
            recv_us: signed_us(t0, now),
            recv_wall_us: wall_us(),
        },
    ));
    slot.last_tick = Some(now);
    slot.tick = Some(t);
    Json(answer).into_response()
}

async fn file(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<SessionId>,
    UrlPath((index, name)): UrlPath<(usize, String)>,
    Query(announced): Query<upload::Announced>,
    req: Request,
) -> Response {
    if let Some(refusal) = s.speaks_for(&id, index) {
        return refusal;
    }
    let run = req
        .headers()
        .get("x-dashload-run")
        .and_then(|v| v.to_str().ok());
    if run != Some(s.run_id.as_str()) {
        return refuse(StatusCode::CONFLICT, "not this run");
    }
    let joined = {
        let book = s.book.lock().expect("book lock");
        book.slots.get(index).is_some_and(|s| s.join.is_some())
    };
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !joined || !valid {
        return refuse(StatusCode::BAD_REQUEST, "no such worker or file name");
    }
    // Streamed to a temporary file and renamed once checked; the worker counts
    // as alive while its bytes arrive, however long its files take.
    let body = req.into_body().into_data_stream();
    let alive = || s.book.lock().expect("book lock").slots[index].uploading = Some(Instant::now());
    let dir = worker_dir(&s.run_dir, index);
    match upload::receive(body, &dir, &name, &announced, alive).await {
        Ok(_) => {
            let mut book = s.book.lock().expect("book lock");
            book.slots[index].received.insert(name, announced.sha256);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => refuse(e.status(), e.to_string()),
    }
}

async fn done(
    State(s): State<Arc<Shared>>,
    Extension(id): Extension<SessionId>,
    Json(d): Json<Done>,
) -> Response {
    if let Some(refusal) = s.speaks_for(&id, d.index) {
        return refusal;
    }
    let mut book = s.book.lock().expect("book lock");
    let Some(slot) = book.slots.get_mut(d.index).filter(|_| d.run_id == s.run_id) else {
        return refuse(StatusCode::CONFLICT, "not this run");
    };
    let missing: Vec<&str> = d
        .files
        .iter()
        .filter(|f| slot.received.get(&f.name) != Some(&f.sha256))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        return refuse(
            StatusCode::CONFLICT,
            format!("files not received intact: {}", missing.join(", ")),
        );
    }
    eprintln!(
        "dashload: worker {} done ({} files)",
        d.index,
        d.files.len()
    );
    slot.done = Some(d);
    StatusCode::NO_CONTENT.into_response()
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

fn signed_us(t0: Instant, t: Instant) -> i64 {
    match t.checked_duration_since(t0) {
        Some(d) => d.as_micros() as i64,
        None => -(t0.duration_since(t).as_micros() as i64),
    }
}

fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Merge the workers' current-window accumulators for window `name` (the
/// report's own merge: the union of their samples), when every worker still
/// running reports it; `None` otherwise (never judge a subset).
fn merged_window(book: &Book, name: &str) -> Option<[ClassAcc; 2]> {
    let mut merged: Option<[ClassAcc; 2]> = None;
    for slot in book
        .slots
        .iter()
        .filter(|s| s.lost.is_none() && s.done.is_none())
    {
        let w = slot.tick.as_ref()?.window.as_ref()?;
        if w.name != name {
            return None;
        }
        let m = merged.get_or_insert_with(|| [ClassAcc::new(3), ClassAcc::new(3)]);
        for (into, state) in m.iter_mut().zip(&w.classes) {
            into.merge(&state.decode()?);
        }
    }
    merged
}

/// The samples of until-judged hold `name` over every worker still running,
/// when every one reports it; `None` otherwise (never decide on a subset).
fn merged_hold(book: &Book, name: &str) -> Option<HoldCounts> {
    let mut merged: Option<HoldCounts> = None;
    for slot in book
        .slots
        .iter()
        .filter(|s| s.lost.is_none() && s.done.is_none())
    {
        let h = slot.tick.as_ref()?.hold.as_ref()?;
        if h.name != name {
            return None;
        }
        merged
            .get_or_insert_with(HoldCounts::default)
            .merge(&h.counts);
    }
    merged
}

/// The until-judged holds, decided on the workers' merged samples: a hold
/// whose every figure has its samples ends [`protocol::RECOVERY_LEAD`] from
/// `now` on every worker (each tick reporting it hears when); one the plan's
/// clock carried past its cap is recorded with what it lacked.
fn decide_holds(book: &mut Book, holds: &Holds, plan: &Plan, (t0, now): (Instant, Instant)) {
    let real = now.duration_since(t0);
    let clock = holds.plan_clock(real).as_millis() as u64;
    let real_of = |ms: u64| Duration::from_millis(holds.timeline().real_ms(ms));
    for w in plan.windows.iter().filter(|w| {
        plan.until_judged.contains(&w.name)
            && w.end_ms <= clock
            && !holds.timeline().has_ended(&w.name)
    }) {
        let counts = merged_hold(book, &w.name).unwrap_or_default();
        let (start, end) = (real_of(w.start_ms), real_of(w.end_ms));
        let short = holds.missing(&w.name, &counts, end.saturating_sub(start));
        holds.timeline().end(w, end, short);
    }
    let Some(w) = plan.until_judged_at(holds.plan_clock(real)) else {
        return;
    };
    if book.hold_ends.contains_key(&w.name) {
        return;
    }
    let Some(counts) = merged_hold(book, &w.name) else {
        return;
    };
    let at = real + protocol::RECOVERY_LEAD;
    let (start, cap) = (real_of(w.start_ms), real_of(w.end_ms));
    if at >= cap || !holds.missing(&w.name, &counts, at - start).is_empty() {
        return;
    }
    eprintln!(
        "dashload: {} judged on every worker's samples after {:.1} s: it ends now",
        w.name,
        (at - start).as_secs_f64()
    );
    book.hold_ends
        .insert(w.name.clone(), now + protocol::RECOVERY_LEAD);
    holds.timeline().end(w, at, Vec::new());
}

/// The ladder's rule (`run.rs`'s: the same `Live::exceeded`, the same minimum
/// of samples) on the workers' merged window.
fn judge(
    judge: &Live,
    book: &Book,
    window: &StageWindow,
    stop_when: &crate::live::StopRule,
) -> Option<String> {
    let merged = merged_window(book, &window.name)?;
    judge.set_window_state(Some(merged));
    judge.exceeded(stop_when)
}

/// Run a distributed run; the manager's side.
pub async fn run(options: RunOptions, cluster: ManagerOptions) -> Result<RunResult> {
    interrupt::install();
    interrupt::enter(Stage::Preparing);
    let result = manage(options, cluster).await;
    interrupt::enter(Stage::Idle);
    result
}

async fn manage(options: RunOptions, cluster: ManagerOptions) -> Result<RunResult> {
    let n = cluster.workers.count();
    if options.goose_shape {
        return Err(Error::Usage(
            "--workers splits the scenario's stages: Goose's -u/-t/--test-plan cannot be split"
                .into(),
        ));
    }
    let (scenario, plan) =
        crate::plan::validate_with(&options.scenario, &options.overrides, false)?;
    crate::sampling::warn_at_start(&scenario);
    if scenario.stress.as_ref().is_some_and(|s| s.refine > 0) {
        return Err(Error::Config {
            location: format!("{}", scenario.path.display()),
            message:
                "[stress] refine is not supported in a distributed run (--workers): set refine = 0"
                    .into(),
        });
    }
    if let Some(i) = (0..n).find(|&i| plan.share_is_empty(i, n)) {
        return Err(Error::Usage(format!(
            "--workers {n}: worker {i} would run no user at all (the plan peaks at {} viewers)",
            plan.peak_viewers()
        )));
    }
    let local = matches!(cluster.workers, Workers::Local(_));
    let token = match super::token::Token::from_env()? {
        Some(t) => Some(t),
        None => {
            super::token::require(
                is_loopback(&cluster.listen),
                None,
                &format!("--listen {}", cluster.listen),
            )?;
            // On loopback without a token: local workers get a fresh one through
            // their environment; workers that dial in need none.
            local.then(Token::generate)
        }
    };
    let tls = match &cluster.tls {
        TlsChoice::None if !is_loopback(&cluster.listen) && !cluster.allow_plain_http => {
            return Err(Error::Usage(format!(
                "--listen {} is off loopback: serve TLS (--tls-cert and --tls-key, or --tls-self-signed) or accept plain HTTP with --allow-plain-http (the token never crosses the wire either way)",
                cluster.listen
            )))
        }
        TlsChoice::None => None,
        TlsChoice::Files { cert, key } => Some(ServerTls::from_files(cert, key)?),
        TlsChoice::SelfSigned => Some(ServerTls::self_signed(vec![
            cluster.listen.ip().to_string(),
            "localhost".into(),
            super::worker::host_name(),
        ])?),
    };
    if scenario.target.kind == TargetKind::Sandbox && !local && !is_loopback(&cluster.listen) {
        return Err(Error::Usage(
            "the embedded sandbox listens on loopback: remote workers need a real target or a standalone `dashload sandbox` (--set target.url=…)".into(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(cluster.listen)
        .await
        .map_err(|e| Error::Usage(format!("--listen {}: {e}", cluster.listen)))?;
    let addr = listener.local_addr().map_err(|e| Error::Other(e.into()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    match &tls {
        Some(t) => eprintln!(
            "dashload: manager listening on https://{addr} for {n} workers; certificate SHA-256 {} (each worker's --manager-fingerprint)",
            t.fingerprint
        ),
        None => eprintln!("dashload: manager listening on http://{addr} for {n} workers"),
    }

    let sandbox = match scenario.target.kind {
        TargetKind::Sandbox => Some(
            interrupt::unless_interrupted(
                "before the load started: nothing was sent, no run folder written",
                crate::run::prepare::start_sandbox(&scenario),
            )
            .await?,
        ),
        _ => None,
    };
    let sandbox_url = sandbox.as_ref().map(|s| s.url());
    let started = Utc::now();
    let (run_dir, lock, partial) =
        crate::run::prepare::open_folder(&options.reports_dir, started, &scenario.name)?;
    let run_id = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Killed outright, the manager still leaves a run: run.json without an end
    // (incomplete, as the index lists it) and each worker's share, which
    // `dashload report RUN --workers DIR…` finishes (`adopt.rs`).
    RunMeta::start(
        &scenario,
        sandbox_url.as_deref(),
        plan.goose_test_plan(),
        plan.windows.clone(),
        started,
    )
    .store(&run_dir)?;
    WorkersFile {
        workers: (0..n)
            .map(|i| {
                let share = plan.share(i, n, i == SYNC_WORKER);
                WorkerRecord {
                    index: i,
                    sync_users: share.sync_users,
                    peak_viewers: share.peak_viewers(),
                    seed: scenario.seed,
                    ended_by: "no result".into(),
                    ..Default::default()
                }
            })
            .collect(),
        on_worker_loss: match cluster.on_loss {
            OnLoss::Abort => "abort".into(),
            OnLoss::Continue => "continue".into(),
        },
        degraded_from_ms: None,
    }
    .store(&run_dir)?;

    let shared = Arc::new(Shared {
        key: Key::of(token.as_ref()),
        sessions: Mutex::new(Sessions::default()),
        scenario: options.scenario.display().to_string(),
        digest: scenario.digest.clone(),
        run_id: run_id.clone(),
        plan: plan.clone(),
        seed: scenario.seed,
        sandbox_url: sandbox_url.clone(),
        run_dir: run_dir.clone(),
        book: Mutex::new(Book {
            slots: (0..n).map(|_| Slot::default()).collect(),
            ..Default::default()
        }),
        start: watch::channel(None).0,
    });
    // Control bodies are bounded by `authenticate` (uploads by their
    // announced size, `upload.rs`), `hello`'s by its extractor.
    let app = Router::new()
        .route("/join", post(join))
        .route("/ready", post(ready))
        .route("/tick", post(tick))
        .route("/files/{index}/{name}", put(file))
        .route("/done", post(done))
        .route_layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            authenticate,
        ))
        .route(
            "/hello",
            post(hello).layer(axum::extract::DefaultBodyLimit::max(4096)),
        )
        .with_state(shared.clone());
    let app = Router::new().nest(protocol::PREFIX, app);
    let server = match &tls {
        Some(t) => {
            let listener = super::tls::TlsListener::new(listener, t)
                .map_err(|e| Error::Usage(format!("--listen {}: {e}", cluster.listen)))?;
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            })
        }
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
    };

    let mut children = Vec::new();
    let tmp = std::env::temp_dir().join(format!("dashload-workers-{run_id}"));
    if local {
        let exe = std::env::current_exe().map_err(|e| Error::Other(e.into()))?;
        for i in 0..n {
            let log = local_log(&run_dir, i)?;
            // The worker's own scenario and overrides are the manager's; the
            // token goes through its stdin, never its environment or arguments.
            let mut command = std::process::Command::new(&exe);
            command
                .arg("worker")
                .arg(&options.scenario)
                .arg("--manager")
                .arg(format!("{scheme}://{addr}"))
                .arg("--index")
                .arg(i.to_string())
                .arg("--reports-dir")
                .arg(tmp.join(i.to_string()))
                .arg("--token-stdin");
            for set in &cluster.set {
                command.arg("--set").arg(set);
            }
            if let Some(t) = &tls {
                command
                    .arg("--manager-fingerprint")
                    .arg(t.fingerprint.to_string());
            }
            let mut child = command
                .env_remove(super::token::ENV)
                .env_remove(super::token::FILE_ENV)
                .stdin(std::process::Stdio::piped())
                .stdout(log.try_clone().map_err(|e| Error::io(&run_dir, e))?)
                .stderr(log)
                .spawn()
                .map_err(|e| Error::io(&exe, e))?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write as _;
                let secret = token.as_ref().map_or("", |t| t.secret());
                // A worker that died at once leaves a broken pipe: it shows as exited.
                let _ = writeln!(stdin, "{secret}");
            }
            children.push(Some(child));
        }
    }

    let endpoints = crate::target::Endpoints::new(
        &scenario.target,
        sandbox_url
            .as_ref()
            .and_then(|u| url::Url::parse(u).ok())
            .as_ref(),
    );
    let mut scraper = None;
    let mut scrape_error = None;
    let mut on_start = |t0: Instant| match crate::server_metrics::scrape::start_for_run(
        &scenario.server_metrics,
        &endpoints,
        t0,
        &partial,
    ) {
        Ok(s) => scraper = s,
        Err(e) => scrape_error = Some(e),
    };
    let outcome = drive(
        &shared,
        &cluster,
        &scenario,
        &plan,
        &mut children,
        &mut on_start,
    )
    .await;
    if let Some(e) = scrape_error {
        eprintln!("dashload: warning: server metrics not scraped: {e}");
    }
    let scrapes = match scraper {
        Some(s) => s.finish(interrupt::count() == 0).await,
        None => Default::default(),
    };
    // Whatever happened, no worker process outlives the manager's wait.
    let wait_until = Instant::now() + Duration::from_secs(5);
    for c in children.iter_mut().flatten() {
        while c.try_wait().ok().flatten().is_none() {
            if Instant::now() >= wait_until {
                let _ = c.kill();
                let _ = c.wait();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    server.abort();
    if local {
        settle_local_logs(
            &run_dir,
            &mut children,
            outcome.as_ref().map_or(true, |o| o.not_started.is_some()),
        );
        remove_empty_tree(&tmp);
    }
    let Outcome {
        ran_for,
        interrupted,
        ladder_stop,
        degraded_from,
        recovery,
        not_started,
        holds,
    } = match outcome {
        Ok(o) => o,
        Err(e) => {
            lock.release();
            let _ = std::fs::remove_dir_all(&run_dir);
            if let Some(s) = sandbox {
                s.stop().await;
            }
            return Err(e);
        }
    };
    if let Some(why) = not_started {
        lock.release();
        let _ = std::fs::remove_dir_all(&run_dir);
        if let Some(s) = sandbox {
            s.stop().await;
        }
        // A signal while waiting for the workers is an interruption (130), not a usage error.
        return Err(if interrupt::count() > 0 {
            Error::Interrupted(why)
        } else {
            Error::Usage(why)
        });
    }
    recover::finish_partial(&run_dir)?;

    let book = std::mem::take(&mut *shared.book.lock().expect("book lock"));
    let mut counters = RunCounters::default();
    let mut records = Vec::new();
    let mut first_loss: Option<u64> = None;
    for (i, slot) in book.slots.iter().enumerate() {
        let share = plan.share(i, n, i == SYNC_WORKER);
        let goose_offset = slot
            .done
            .as_ref()
            .and_then(|d| d.counters.goose_clock_offset_ms)
            .unwrap_or(0);
        if let Some(d) = &slot.done {
            add_counters(&mut counters, &d.counters);
        }
        counters.server_scrapes = scrapes.scrapes;
        counters.server_scrape_failures = scrapes.failed;
        let zero_ms = slot.clock.zero_us as f64 / 1000.0;
        if let Some((at, _)) = &slot.lost {
            first_loss = Some(first_loss.map_or(*at, |f| f.min(*at)));
        }
        let clock_offset_ms = slot
            .clock
            .rtt_us
            .map(|_| slot.clock.wall_offset_us as f64 / 1000.0);
        if clock_offset_ms.is_some_and(|o| o.abs() > protocol::CLOCK_WARN_MS) {
            eprintln!(
                "dashload: warning: worker {i}'s wall clock is {:.0} ms off the manager's (the run uses monotonic clocks; its logs are placed by the measured start)",
                clock_offset_ms.unwrap_or(0.0)
            );
        }
        records.push(WorkerRecord {
            index: i,
            host: slot
                .join
                .as_ref()
                .map_or_else(String::new, |j| j.host.clone()),
            sync_users: share.sync_users,
            peak_viewers: share.peak_viewers(),
            viewers_started: slot.tick.as_ref().map_or(0, |t| t.viewers),
            seed: scenario.seed,
            offset_ms: zero_ms.round() as i64 + goose_offset,
            start_skew_ms: slot.clock.rtt_us.map(|_| zero_ms),
            clock_offset_ms,
            rtt_ms: slot.clock.rtt_us.map(|r| r as f64 / 1000.0),
            ended_by: match (&slot.lost, &slot.done, &ladder_stop) {
                (Some((_, why)), Some(_), _) if why == SIGNALLED => "interrupted".into(),
                (Some(_), _, _) => "lost".into(),
                (None, Some(d), _) if recovery.is_some() && !d.interrupted => "recovery".into(),
                (None, Some(_), Some(_)) => "ladder stop".into(),
                (None, Some(d), None) if !d.interrupted => "plan".into(),
                (None, Some(_), None) => "stopped".into(),
                (None, None, _) => "no result".into(),
            },
            lost_at_ms: slot.lost.as_ref().map(|l| l.0),
            lost_reason: slot.lost.as_ref().map(|l| l.1.clone()),
            files: slot.received.keys().cloned().collect(),
        });
    }
    let mut windows = crate::run::ladder::windows_as_run(
        holds.real_windows(&plan.windows),
        ladder_stop.as_ref(),
        Vec::new(),
        recovery.into_iter().collect(),
    );
    match (cluster.on_loss, first_loss, degraded_from) {
        (OnLoss::Continue, _, Some(from)) => {
            // Later windows ran without every worker: shown, not judged.
            for w in windows.iter_mut().filter(|w| w.end_ms > from) {
                if w.kind != WindowKind::Ramp {
                    w.kind = WindowKind::Ramp;
                    w.name = format!("{} (degraded)", w.name);
                }
            }
        }
        (_, Some(at), _) => {
            // Only the windows every worker ran, up to the loss.
            windows.retain(|w| w.start_ms < at);
            for w in &mut windows {
                w.end_ms = w.end_ms.min(at);
            }
        }
        _ => {}
    }
    let meta = RunMeta {
        ended_at: Some(started + chrono::Duration::from_std(ran_for).unwrap_or_default()),
        interrupted,
        ladder_stop,
        counters,
        judged_holds: holds.holds(),
        ..RunMeta::start(
            &scenario,
            sandbox_url.as_deref(),
            plan.goose_test_plan(),
            windows,
            started,
        )
    };
    WorkersFile {
        workers: records,
        on_worker_loss: match cluster.on_loss {
            OnLoss::Abort => "abort".into(),
            OnLoss::Continue => "continue".into(),
        },
        degraded_from_ms: degraded_from,
    }
    .store(&run_dir)?;
    meta.store(&run_dir)?;
    lock.release();
    let sandbox_counters = crate::run::end::stop_sandbox(sandbox).await;
    let report =
        crate::run::report::report(&run_dir, options.render.then_some(options.report)).await?;
    Ok(RunResult {
        run_dir,
        meta,
        report,
        sandbox: sandbox_counters,
    })
}

/// Where a local worker's console output goes while it runs: its folder in the
/// run folder, under a temporary name until it has exited.
fn local_log_partial(run_dir: &std::path::Path, i: usize) -> PathBuf {
    worker_dir(run_dir, i).join(".worker.log.partial")
}

/// A `local:N` worker's stdout and stderr: a file, so the manager's console
/// shows only its own lines (joined, lost, done).
fn local_log(run_dir: &std::path::Path, i: usize) -> Result<std::fs::File> {
    let path = local_log_partial(run_dir, i);
    std::fs::create_dir_all(worker_dir(run_dir, i)).map_err(|e| Error::io(&path, e))?;
    std::fs::File::create(&path).map_err(|e| Error::io(&path, e))
}

/// Once the local workers have exited: each log becomes `workers/<i>/worker.log`.
/// A run that never started leaves no folder, so a worker that failed says why
/// here (its last line) instead.
fn settle_local_logs(
    run_dir: &std::path::Path,
    children: &mut [Option<std::process::Child>],
    not_started: bool,
) {
    for (i, child) in children.iter_mut().enumerate() {
        let partial = local_log_partial(run_dir, i);
        let failed = child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .is_some_and(|s| !s.success());
        if not_started && failed {
            let text = std::fs::read_to_string(&partial).unwrap_or_default();
            if let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) {
                eprintln!("dashload: worker {i}: {}", last.trim());
            }
        }
        if let Err(e) = std::fs::rename(&partial, worker_dir(run_dir, i).join("worker.log")) {
            eprintln!("dashload: warning: worker {i}'s log not kept: {e}");
        }
    }
}

/// Remove the local workers' reports folder `dir` as far as it is empty: a
/// worker that uploaded everything leaves empty folders behind; one that
/// left files (a lost worker's `.partial/`) keeps them where they are.
fn remove_empty_tree(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_tree(&e.path());
            }
        }
    }
    // Only an empty folder goes: remove_dir refuses any other.
    let _ = std::fs::remove_dir(dir);
}

/// Sum a worker's counters into the run's.
pub(crate) fn add_counters(to: &mut RunCounters, c: &RunCounters) {
    to.dashboard_loads += c.dashboard_loads;
    to.missed_refreshes += c.missed_refreshes;
    to.entries += c.entries;
    to.points_written += c.points_written;
    to.batches += c.batches;
    for (purpose, kinds) in &c.http_outside_log {
        let into = to.http_outside_log.entry(purpose.clone()).or_default();
        for (kind, n) in kinds {
            *into.entry(kind.clone()).or_default() += n;
        }
    }
    for (name, a) in &c.answers {
        let into = to.answers.entry(name.clone()).or_default();
        into.answers += a.answers;
        into.bytes += a.bytes;
        into.series += a.series;
    }
}

/// Why a worker that stopped early on its own (SIGTERM from a pod deletion,
/// Ctrl-C; its files sent) counts as gone: a loss under `--on-worker-loss`.
const SIGNALLED: &str = "stopped by a signal on the worker";

struct Outcome {
    ran_for: Duration,
    interrupted: bool,
    ladder_stop: Option<LadderStop>,
    degraded_from: Option<u64>,
    /// The recovery window, when the phase was ordered (cut at a later stop).
    recovery: Option<StageWindow>,
    /// The run never started: why.
    not_started: Option<String>,
    /// The until-judged holds as they ran.
    holds: Timeline,
}

/// Wait for the workers, start them, watch them until every one is done or lost.
async fn drive(
    s: &Arc<Shared>,
    cluster: &ManagerOptions,
    scenario: &Scenario,
    plan: &Plan,
    children: &mut [Option<std::process::Child>],
    on_start: &mut dyn FnMut(Instant),
) -> Result<Outcome> {
    let n = cluster.workers.count();
    let look = Duration::from_millis(100);
    // 1. Join and ready, with the timeout naming who is missing.
    let deadline = Instant::now() + cluster.join_timeout;
    loop {
        let (all_ready, missing) = {
            let book = s.book.lock().expect("book lock");
            let missing: Vec<String> = book
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.ready)
                .map(|(i, s)| match &s.join {
                    None => format!("{i} (not joined)"),
                    Some(_) => format!("{i} (not ready)"),
                })
                .collect();
            (missing.is_empty(), missing)
        };
        if all_ready {
            break;
        }
        let exited = children.iter_mut().enumerate().find_map(|(i, c)| {
            let status = c.as_mut()?.try_wait().ok()??;
            Some(format!("worker {i} exited before the start ({status})"))
        });
        let why = if let Some(e) = exited {
            Some(e)
        } else if interrupt::count() > 0 {
            Some("interrupted before the start: no load was sent".to_string())
        } else if Instant::now() >= deadline {
            Some(format!(
                "workers missing after {} s: {}",
                cluster.join_timeout.as_secs(),
                missing.join(", ")
            ))
        } else {
            None
        };
        if let Some(why) = why {
            s.start
                .send_replace(Some(Err(format!("the run will not start: {why}"))));
            s.book.lock().expect("book lock").started = true;
            // Let the waiting workers hear it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Ok(Outcome {
                ran_for: Duration::ZERO,
                interrupted: false,
                ladder_stop: None,
                degraded_from: None,
                recovery: None,
                not_started: Some(why),
                holds: Timeline::default(),
            });
        }
        tokio::time::sleep(look).await;
    }
    // 2. The barrier is passed: the countdown.
    let t0 = Instant::now() + protocol::START_IN;
    s.book.lock().expect("book lock").started = true;
    s.start.send_replace(Some(Ok(t0)));
    on_start(t0);
    eprintln!(
        "dashload: {n} workers ready; the load starts in {} s",
        protocol::START_IN.as_secs()
    );
    tokio::time::sleep_until(t0.into()).await;

    // 3. Watch.
    let stop_when = scenario
        .stress
        .as_ref()
        .map(|st| st.stop_rule())
        .unwrap_or_default();
    let judge_live = Live::default();
    let holds = Holds::of(scenario, plan);
    let mut ladder_stop: Option<LadderStop> = None;
    let mut interrupted = false;
    let mut degraded_from: Option<u64> = None;
    let mut stop_sent_at: Option<Instant> = None;
    // A stop after the recovery drop cuts its window there.
    let mut stopped_at_ms: Option<u64> = None;
    let mut recovery: Option<(StageWindow, Instant)> = None;
    let mut last_status = Instant::now();
    // The run ends by its plan, plus the requests' timeout and a grace to upload.
    let plan_end = t0 + plan.duration();
    let hard_end = plan_end + scenario.target.timeout + Duration::from_secs(60);
    loop {
        tokio::time::sleep(look).await;
        let now = Instant::now();
        let at_ms = now.duration_since(t0).as_millis() as u64;
        let mut book = s.book.lock().expect("book lock");
        // Losses: silent for too long, or the process gone without its result.
        for (i, slot) in book.slots.iter_mut().enumerate() {
            // A worker that stopped early on its own (SIGTERM, Ctrl-C: it sent its
            // files) is gone for the rest of the run like a lost one.
            let early = stop_sent_at.is_none()
                && slot.lost.is_none()
                && slot.done.as_ref().is_some_and(|d| d.interrupted);
            if (slot.lost.is_some() || slot.done.is_some()) && !early {
                continue;
            }
            // Sending its files (a long run's requests.csv): alive, however long.
            if !early
                && slot
                    .uploading
                    .is_some_and(|t| now.duration_since(t) < protocol::LOST_AFTER)
            {
                continue;
            }
            let exited = children
                .get_mut(i)
                .and_then(|c| c.as_mut())
                .and_then(|c| c.try_wait().ok().flatten());
            let last = slot.last_tick.unwrap_or(t0);
            let why = if early {
                Some(SIGNALLED.to_string())
            } else if let Some(status) = exited {
                // Its last files may still be on their way: a moment's grace.
                if now.duration_since(last) > Duration::from_millis(1500) {
                    Some(format!("process exited ({status}) without its result"))
                } else {
                    None
                }
            } else if stop_sent_at.is_none()
                && now.min(plan_end).saturating_duration_since(last) > protocol::LOST_AFTER
            {
                // After the plan's end a worker is quiet while it finishes and
                // uploads (a large log takes seconds): only the silence before counts.
                Some(format!("no tick for {} s", protocol::LOST_AFTER.as_secs()))
            } else if stop_sent_at.is_some_and(|t| now.duration_since(t) > Duration::from_secs(90))
            {
                Some("no result 90 s after the stop".into())
            } else if now > hard_end {
                Some("no result by the plan's end".into())
            } else {
                None
            };
            if let Some(why) = why {
                eprintln!(
                    "dashload: worker {i} lost at {:.1} s: {why}",
                    at_ms as f64 / 1000.0
                );
                let lost_at = slot
                    .last_tick
                    .map_or(0, |t| t.duration_since(t0).as_millis() as u64)
                    .min(at_ms);
                slot.lost = Some((lost_at, why.clone()));
                let fatal = cluster.on_loss == OnLoss::Abort || i == SYNC_WORKER;
                if book.stop.is_none() && fatal && stop_sent_at.is_none() {
                    interrupted = true;
                    let reason = if i == SYNC_WORKER && cluster.on_loss == OnLoss::Continue {
                        format!(
                            "worker {i} (the sync job's) lost at {:.1} s: {why}",
                            at_ms as f64 / 1000.0
                        )
                    } else {
                        format!("worker {i} lost at {:.1} s: {why}", at_ms as f64 / 1000.0)
                    };
                    book.stop = Some(Command::Stop {
                        reason,
                        ladder: None,
                    });
                    stop_sent_at = Some(now);
                } else if !fatal {
                    degraded_from.get_or_insert(lost_at);
                }
                break;
            }
        }
        if interrupt::count() > 0 && book.stop.is_none() {
            interrupted = true;
            book.stop = Some(Command::Stop {
                reason: "the manager was interrupted (SIGINT, SIGTERM or SIGHUP)".into(),
                ladder: None,
            });
            stop_sent_at = Some(now);
        }
        if book.stop.is_none() && degraded_from.is_none() {
            decide_holds(&mut book, &holds, plan, (t0, now));
        }
        // The plan's clock: ahead of the real one by what ended holds saved.
        let on_plan = holds.plan_clock(now.duration_since(t0));
        // The ladder, judged on the merged window of every worker.
        if book.stop.is_none()
            && book.recovery.is_none()
            && !stop_when.when.is_empty()
            && degraded_from.is_none()
        {
            if let Some(step) = plan.stress_window_at(on_plan) {
                if let Some(reason) = judge(&judge_live, &book, step, &stop_when) {
                    let reason = format!("{reason} — the ladder {}", stop_when.words());
                    let stop = LadderStop {
                        step: step.name.clone(),
                        viewers: step.viewers,
                        reason: reason.clone(),
                        at_ms,
                        refined_until_ms: None,
                        judged_from_ms: None,
                    };
                    eprintln!(
                        "dashload: stress ladder stopped at {} ({} viewers over {n} workers): {reason}",
                        step.name, step.viewers
                    );
                    ladder_stop = Some(stop.clone());
                    let reason = format!("stress ladder stopped at {}: {reason}", step.name);
                    match plan.recovery {
                        // As a single run: the recovery phase instead of the end.
                        Some(phase) => {
                            recovery = Some(order_recovery(
                                &mut book,
                                phase,
                                (t0, now),
                                Some(stop),
                                format!("{reason}; the recovery phase followed"),
                            ));
                        }
                        None => {
                            book.stop = Some(Command::Stop {
                                reason,
                                ladder: Some(stop),
                            });
                            stop_sent_at = Some(now);
                        }
                    }
                }
            }
        }
        // The ladder held to its ceiling: the recovery phase, as a single run.
        if let Some(phase) = plan.recovery.filter(|_| {
            book.stop.is_none() && book.recovery.is_none() && on_plan >= plan.load_end()
        }) {
            recovery = Some(order_recovery(
                &mut book,
                phase,
                (t0, now),
                None,
                "stress ladder held to its ceiling; the recovery phase is over".into(),
            ));
        }
        if let Some((_, end)) = recovery.as_ref().filter(|(_, end)| now >= *end) {
            // The workers end by themselves now: silence is no loss any more.
            stop_sent_at.get_or_insert(*end);
        }
        if book.stop.is_some() && stop_sent_at.is_none() {
            stop_sent_at = Some(now);
        }
        if book.stop.is_some() {
            stopped_at_ms.get_or_insert(at_ms);
        }
        if now.duration_since(last_status) >= Duration::from_secs(5) {
            last_status = now;
            // A lost worker's viewers are gone: its last tick no longer counts.
            let viewers: Vec<String> = book
                .slots
                .iter()
                .map(|s| match (&s.lost, &s.tick) {
                    (Some(_), _) => "lost".to_string(),
                    (None, t) => t.as_ref().map_or(0, |t| t.viewers).to_string(),
                })
                .collect();
            let loads: u64 = book
                .slots
                .iter()
                .filter_map(|s| s.tick.as_ref().map(|t| t.dashboard_loads))
                .sum();
            eprintln!(
                "dashload: {:>4} s  viewers {} ({})  dashboard loads {loads}",
                at_ms / 1000,
                viewers
                    .iter()
                    .map(|v| v.parse::<u64>().unwrap_or(0))
                    .sum::<u64>(),
                viewers.join("/")
            );
        }
        if book
            .slots
            .iter()
            .all(|s| s.done.is_some() || s.lost.is_some())
        {
            let ran_for = now.duration_since(t0);
            return Ok(Outcome {
                ran_for,
                interrupted: interrupted
                    || book.slots.iter().any(|s| {
                        s.done.as_ref().is_some_and(|d| d.interrupted)
                            && ladder_stop.is_none()
                            && book.stop.is_none()
                    }),
                ladder_stop,
                degraded_from,
                recovery: recovery.map(|(mut w, _)| {
                    if let Some(at) = stopped_at_ms {
                        w.end_ms = w.end_ms.min(at);
                    }
                    w
                }),
                not_started: None,
                holds: holds.timeline().clone(),
            });
        }
    }
}

/// Order the `[recovery]` drop [`protocol::RECOVERY_LEAD`] from `now`: every
/// worker's next tick hears it, and drops to its share at that instant. Returns
/// the recovery window on the run's clock (`t0`) and when the phase ends.
fn order_recovery(
    book: &mut Book,
    phase: crate::scenario::RecoveryPhase,
    (t0, now): (Instant, Instant),
    ladder: Option<LadderStop>,
    reason: String,
) -> (StageWindow, Instant) {
    let at = now + protocol::RECOVERY_LEAD;
    eprintln!(
        "dashload: the recovery phase: {} viewers over every worker for {} s",
        phase.viewers,
        phase.hold.as_secs()
    );
    book.recovery = Some(RecoveryOrder { at, ladder, reason });
    (
        crate::run::ladder::recovery_window(phase, at.duration_since(t0)),
        at + phase.hold,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_workers_folder_goes_as_far_as_it_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("dashload-workers-x");
        std::fs::create_dir_all(tmp.join("0/a/b")).unwrap();
        std::fs::create_dir_all(tmp.join("1")).unwrap();
        remove_empty_tree(&tmp);
        assert!(!tmp.exists());
        // A lost worker's rows stay where they are.
        std::fs::create_dir_all(tmp.join("0/run/.partial")).unwrap();
        std::fs::create_dir_all(tmp.join("1")).unwrap();
        std::fs::write(tmp.join("0/run/.partial/requests.csv"), "x").unwrap();
        remove_empty_tree(&tmp);
        assert!(tmp.join("0/run/.partial/requests.csv").is_file());
        assert!(!tmp.join("1").exists());
    }
    use crate::runfolder::{RequestClass, Slo, SloMetric};
    use protocol::{ClassState, WindowState};

    /// A worker's tick on window `name` after these dashboard loads (µs, ok),
    /// recorded as a worker records them, through JSON as sent.
    fn tick_with(name: &str, loads: &[(u64, bool)]) -> Tick {
        let live = Live::default();
        live.begin_window();
        for &(us, ok) in loads {
            live.record(RequestClass::DashboardLoad, Duration::from_micros(us), ok);
        }
        let classes = live.window_state().unwrap();
        let tick = Tick {
            run_id: "r".into(),
            index: 0,
            seq: 1,
            since_zero_us: 0,
            wall_us: 0,
            rtt_us: None,
            window: Some(WindowState {
                name: name.into(),
                classes: classes.each_ref().map(ClassState::of),
            }),
            viewers: 1,
            dashboard_loads: loads.len() as u64,
            hold: None,
        };
        serde_json::from_str(&serde_json::to_string(&tick).unwrap()).unwrap()
    }

    fn step(name: &str) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind: WindowKind::StressStep,
            viewers: 30,
            start_ms: 0,
            end_ms: 10_000,
        }
    }

    #[test]
    fn split_samples_are_judged_as_the_unsplit_ones() {
        let slo = crate::live::StopRule {
            when: vec![Slo {
                class: RequestClass::DashboardLoad,
                metric: SloMetric::P95,
                max: 500.0,
            }],
            failure_share: false,
        };
        // 63 loads: 56 fast, 4 slow (p95 above 500 ms), and 3 failures after
        // 4 s or more, dealt unevenly over 3 workers.
        let all: Vec<(u64, bool)> = (0..63)
            .map(|i| {
                if i % 21 == 5 {
                    (4_000_000 + i * 1000, false)
                } else if i % 15 == 7 {
                    (900_000, true)
                } else {
                    (10_000 + i * 1000, true)
                }
            })
            .collect();
        let single = Live::default();
        single.begin_window();
        for &(us, ok) in &all {
            single.record(RequestClass::DashboardLoad, Duration::from_micros(us), ok);
        }
        let expected = single.exceeded(&slo);
        assert!(expected.is_some());
        let parts = [&all[..8], &all[8..22], &all[22..]];
        let mut book = Book {
            slots: parts
                .iter()
                .map(|p| Slot {
                    tick: Some(tick_with("step 2", p)),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let live = Live::default();
        assert_eq!(judge(&live, &book, &step("step 2"), &slo), expected);
        assert!(expected
            .as_deref()
            .unwrap()
            .ends_with("over 60 successful requests"));
        // The judged accumulators are the unsplit ones, to the failures'
        // latencies (the degradation verdict's failure p99) and the moments.
        let (want, got) = (single.window_state().unwrap(), live.window_state().unwrap());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!((g.count, g.failed), (w.count, w.failed));
            assert_eq!(w.hist, g.hist);
            assert_eq!(w.failed_hist, g.failed_hist);
            assert_eq!(
                (g.ok_moments, g.failed_moments),
                (w.ok_moments, w.failed_moments)
            );
        }
        assert_eq!(got[0].failed, 3);
        assert!(got[0].failed_hist.min() >= 4_000_000, "real latencies");
        assert_eq!(
            got[0].failed_moments.sum,
            3 * 4_000_000 + 1000 * (5 + 26 + 47)
        );
        // A part alone says otherwise: too thin to judge.
        let one = Book {
            slots: vec![Slot {
                tick: Some(tick_with("step 2", parts[1])),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(judge(&live, &one, &step("step 2"), &slo), None);
        // A worker still on another window: no judgement on a subset.
        book.slots[2].tick = Some(tick_with("step 1", parts[2]));
        assert_eq!(judge(&live, &book, &step("step 2"), &slo), None);
        // A lost worker's figures no longer count: the other two's 22 loads pass.
        book.slots[2].tick = Some(tick_with("step 2", parts[2]));
        book.slots[2].lost = Some((1, "gone".into()));
        assert_eq!(judge(&live, &book, &step("step 2"), &slo), None);
    }

    #[test]
    fn worker_counts_parse() {
        assert_eq!(Workers::parse("local:3"), Ok(Workers::Local(3)));
        assert_eq!(Workers::parse("4"), Ok(Workers::Remote(4)));
        assert!(Workers::parse("local:0").is_err());
        assert!(Workers::parse("x").is_err());
    }

    /// A tick reporting until-judged hold `name` with `loads` successful dashboard loads.
    fn hold_tick(name: &str, loads: u64) -> Tick {
        let mut counts = HoldCounts::default();
        for _ in 0..loads {
            counts.record(RequestClass::DashboardLoad, true);
        }
        Tick {
            hold: Some(protocol::HoldState {
                name: name.into(),
                counts,
            }),
            ..tick_with("x", &[])
        }
    }

    #[test]
    fn the_manager_ends_a_hold_on_every_workers_samples_added_up() {
        let stages = [crate::scenario::Stage {
            users: 4,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(60),
            until_judged: true,
        }];
        let plan = Plan::build(&stages, None, 0);
        let hold = plan.windows[1].clone();
        let slo = Slo {
            class: RequestClass::DashboardLoad,
            metric: SloMetric::P95,
            max: 1000.0,
        };
        let holds = Holds {
            needs: [(
                hold.name.clone(),
                crate::judged_hold::Needs {
                    figures: vec![crate::judged_hold::Need {
                        class: slo.class,
                        metric: slo.metric,
                        purpose: crate::sampling::Purpose::Slo,
                        needed: crate::report::judge::samples_needed(&slo),
                    }],
                    min_length: Duration::ZERO,
                },
            )]
            .into(),
            ..Holds::default()
        };
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(10);
        let mut book = Book {
            slots: (0..2).map(|_| Slot::default()).collect(),
            ..Book::default()
        };
        // 12 loads on each worker: neither has the 20 a p95 needs, together they do.
        // But one worker not yet in the hold: nothing is decided on a subset.
        book.slots[0].tick = Some(hold_tick(&hold.name, 12));
        book.slots[1].tick = Some(tick_with("x", &[]));
        decide_holds(&mut book, &holds, &plan, (t0, now));
        assert!(book.hold_ends.is_empty());
        book.slots[1].tick = Some(hold_tick(&hold.name, 7));
        decide_holds(&mut book, &holds, &plan, (t0, now));
        assert!(book.hold_ends.is_empty(), "19 of 20");
        book.slots[1].tick = Some(hold_tick(&hold.name, 8));
        decide_holds(&mut book, &holds, &plan, (t0, now));
        let at = book.hold_ends[&hold.name];
        assert_eq!(
            at,
            now + protocol::RECOVERY_LEAD,
            "every worker ends it then"
        );
        let ran = holds.timeline().holds();
        assert!(ran[0].judged);
        assert_eq!(
            ran[0].held_ms,
            (Duration::from_secs(8) + protocol::RECOVERY_LEAD).as_millis() as u64
        );
        // The plan's clock jumps to the hold's planned end at that instant.
        let after = (at - t0) + Duration::from_millis(1);
        assert_eq!(holds.plan_clock(after), Duration::from_millis(62_001));
    }
}
