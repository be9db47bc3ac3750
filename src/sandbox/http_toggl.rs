//! Toggl Track API v9 subset: `/api/v9/me`, `/api/v9/me/time_entries`,
//! `/api/v9/me/time_entries/current`, with Toggl's auth, rate limit and quota
//! behaviour (DOMAIN.md §4.2, §4.4).
//!
//! Order of checks: Basic auth (else 401, empty body, `X-Authorization-Missing: true`) →
//! a per-token token bucket (else 429 with `Retry-After: 1`) → a sliding one-hour quota
//! per token (else 402 with `X-Toggl-Quota-Remaining`/`X-Toggl-Quota-Resets-In`; both
//! headers are also on every answer). Any token is accepted.
//!
//! Entries come from [`EntryGenerator`] over the world generated from the sandbox seed
//! (the same world the pre-seeded history was written from), computed per request for
//! the asked window "as of now": entries started up to now exist, the one in progress
//! runs, edits and deletions appear when their time has come. So a sync job polling
//! `since=` keeps getting new entries, memory stays flat (nothing is cached but the
//! generator's roster), and answers are deterministic for a given seed and instant.
//!
//! The token is the owner of `users[0]`, but, like a workspace admin's Reports query,
//! it sees every user's entries (the dashboards show the whole team). Toggl v9 does not
//! page this endpoint; the sandbox caps an answer to the newest `max_entries` (1 000 by
//! default), so a sync asking for more than that should narrow its window. A window is
//! also clamped to the year before its end, so `since=0` costs a year of generation,
//! not the whole epoch.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate};
use serde_json::{json, Value};

use super::state::{now_ns, Counters};
use super::SandboxState;
use crate::workload::toggl::{EntryGenerator, TimeEntry};

/// Toggl's rate limits and paging in the sandbox.
///
/// Real Toggl allows about 1 request/s per token (burst ~3) and, since 2025, 30 `/me`
/// requests per hour on the free plan. The sandbox defaults are looser — 20/s, burst 40,
/// 10 000 per hour — so a staged run with a few sync users is not all 429s; set
/// [`TogglConfig::strict`] to test a client's back-off against the real limits.
#[derive(Debug, Clone, PartialEq)]
pub struct TogglConfig {
    /// Token bucket refill, requests per second. Default 20.
    pub rate_per_s: f64,
    /// Token bucket size. Default 40.
    pub burst: f64,
    /// Requests per token per sliding hour; `None` = no quota. Default 10 000.
    pub hourly_quota: Option<u32>,
    /// Most entries in one answer (the newest are kept). Default 1 000.
    pub max_entries: usize,
}

impl Default for TogglConfig {
    fn default() -> Self {
        TogglConfig {
            rate_per_s: 20.0,
            burst: 40.0,
            hourly_quota: Some(10_000),
            max_entries: 1000,
        }
    }
}

impl TogglConfig {
    /// Toggl's own limits: 1/s, burst 3, 30 per hour.
    pub fn strict() -> TogglConfig {
        TogglConfig {
            rate_per_s: 1.0,
            burst: 3.0,
            hourly_quota: Some(30),
            max_entries: 1000,
        }
    }
}

/// How far before `since` entries may start and still have changed after it: the
/// longest entry (4 h) plus the latest edit (2 days after stop), with margin.
const SINCE_LOOKBACK_S: i64 = 3 * 86_400;
/// The window of a request without dates (Toggl answers about the last 9 days).
const DEFAULT_WINDOW_S: i64 = 9 * 86_400;
/// Longest window one request generates (a year): bounds the work of `since=0`.
const MAX_WINDOW_S: i64 = 366 * 86_400;
/// Most distinct tokens tracked before the table is reset (bounds memory).
const MAX_TOKENS: usize = 10_000;

struct Bucket {
    tokens: f64,
    refilled: Instant,
    hour: VecDeque<Instant>,
}

/// Per-token limiter state and the shared entry generator.
pub struct TogglState {
    config: TogglConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
    generator: OnceLock<EntryGenerator>,
}

enum Refusal {
    RateLimited,
    Quota { resets_in: u64 },
}

impl TogglState {
    /// Fresh limiter state.
    pub fn new(config: TogglConfig) -> TogglState {
        TogglState {
            config,
            buckets: Mutex::new(HashMap::new()),
            generator: OnceLock::new(),
        }
    }

    /// Take one request from `token`'s allowance; on success, the quota left.
    fn admit(&self, token: &str) -> Result<Option<(u32, u64)>, Refusal> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TOKENS && !buckets.contains_key(token) {
            buckets.clear();
        }
        let b = buckets.entry(token.to_string()).or_insert_with(|| Bucket {
            tokens: self.config.burst,
            refilled: now,
            hour: VecDeque::new(),
        });
        let elapsed = now.duration_since(b.refilled).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.config.rate_per_s).min(self.config.burst);
        b.refilled = now;
        if b.tokens < 1.0 {
            return Err(Refusal::RateLimited);
        }
        let Some(quota) = self.config.hourly_quota else {
            b.tokens -= 1.0;
            return Ok(None);
        };
        let hour = Duration::from_secs(3600);
        while b
            .hour
            .front()
            .is_some_and(|t| now.duration_since(*t) >= hour)
        {
            b.hour.pop_front();
        }
        let resets_in = |b: &Bucket| {
            b.hour
                .front()
                .map_or(3600, |t| (hour - now.duration_since(*t)).as_secs().max(1))
        };
        if b.hour.len() >= quota as usize {
            return Err(Refusal::Quota {
                resets_in: resets_in(b),
            });
        }
        b.tokens -= 1.0;
        b.hour.push_back(now);
        Ok(Some((quota - b.hour.len() as u32, resets_in(b))))
    }
}

/// The Toggl routes.
pub fn routes() -> Router<SandboxState> {
    Router::new()
        .route("/api/v9/me", get(me))
        .route("/api/v9/me/time_entries", get(time_entries))
        .route("/api/v9/me/time_entries/current", get(current))
}

/// Decode `Authorization: Basic base64(user:pass)` and return the user part.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, _) = decoded.split_once(':')?;
    (!user.is_empty()).then(|| user.to_string())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Auth, rate limit and quota; `Ok` carries the quota headers to add.
fn gate(state: &SandboxState, headers: &HeaderMap) -> Result<Option<(u32, u64)>, Box<Response>> {
    let Some(token) = basic_user(headers) else {
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        resp.headers_mut()
            .insert("X-Authorization-Missing", HeaderValue::from_static("true"));
        return Err(Box::new(resp));
    };
    let counters = &state.inner.counters;
    match state.inner.toggl.admit(&token) {
        Ok(quota) => Ok(quota),
        Err(Refusal::RateLimited) => {
            Counters::add(&counters.rate_limited, 1);
            let mut resp = StatusCode::TOO_MANY_REQUESTS.into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(Box::new(resp))
        }
        Err(Refusal::Quota { resets_in }) => {
            Counters::add(&counters.quota_exceeded, 1);
            let mut resp = (
                StatusCode::PAYMENT_REQUIRED,
                axum::Json(json!("You have hit your hourly limit for API calls.")),
            )
                .into_response();
            add_quota(&mut resp, Some((0, resets_in)));
            Err(Box::new(resp))
        }
    }
}

fn add_quota(resp: &mut Response, quota: Option<(u32, u64)>) {
    if let Some((remaining, resets_in)) = quota {
        let h = resp.headers_mut();
        h.insert("X-Toggl-Quota-Remaining", HeaderValue::from(remaining));
        h.insert("X-Toggl-Quota-Resets-In", HeaderValue::from(resets_in));
    }
}

fn json_answer(status: StatusCode, body: Vec<u8>, quota: Option<(u32, u64)>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    add_quota(&mut resp, quota);
    resp
}

fn bad_request(msg: &str, quota: Option<(u32, u64)>) -> Response {
    let body = serde_json::to_vec(&json!(msg)).unwrap_or_default();
    json_answer(StatusCode::BAD_REQUEST, body, quota)
}

async fn me(
    State(state): State<SandboxState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let quota = match gate(&state, &headers) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let mut body = state.world().related_data_json();
    if params.get("with_related_data").map(String::as_str) != Some("true") {
        if let Value::Object(m) = &mut body {
            for k in [
                "workspaces",
                "projects",
                "clients",
                "tags",
                "time_entries",
                "workspace_users",
            ] {
                m.remove(k);
            }
        }
    }
    json_answer(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
        quota,
    )
}

/// A date parameter: RFC 3339, or `YYYY-MM-DD` (midnight UTC), or unix seconds.
fn parse_date(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
    }
    s.parse().ok()
}

fn generator(state: &SandboxState) -> &EntryGenerator {
    state
        .inner
        .toggl
        .generator
        .get_or_init(|| EntryGenerator::new(state.world(), state.config().seed, 0, 0))
}

/// The newest `cap` entries starting in `[from_s, to_s)` as they look at `now_s` that
/// pass `keep`, newest first. The generator yields in start order, so a ring of `cap`
/// entries is all that is held; windows are clamped to [`MAX_WINDOW_S`] before `to_s`.
fn newest(
    state: &SandboxState,
    from_s: i64,
    to_s: i64,
    now_s: i64,
    cap: usize,
    keep: impl Fn(&TimeEntry) -> bool,
) -> Vec<TimeEntry> {
    let to_s = to_s.min(now_s + 1);
    let from_s = from_s.max(to_s - MAX_WINDOW_S);
    if from_s >= to_s || cap == 0 {
        return Vec::new();
    }
    let mut ring: VecDeque<TimeEntry> = VecDeque::with_capacity(cap.min(4096));
    for e in generator(state)
        .reframe(from_s, to_s, now_s)
        .filter(|e| keep(e))
    {
        if ring.len() == cap {
            ring.pop_front();
        }
        ring.push_back(e);
    }
    let mut list: Vec<TimeEntry> = ring.into();
    list.sort_by(|a, b| b.start.cmp(&a.start).then(b.id.cmp(&a.id)));
    list
}

async fn time_entries(
    State(state): State<SandboxState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let quota = match gate(&state, &headers) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let now_s = now_ns() / 1_000_000_000;
    let cap = state.inner.toggl.config.max_entries;
    let param = |k: &str| params.get(k).filter(|v| !v.is_empty()).map(String::as_str);
    let job_state = state.clone();
    let list = if let Some(since) = param("since") {
        if param("before").is_some() {
            return bad_request(
                "'since' and 'before' can not be present simultaneously",
                quota,
            );
        }
        let Ok(since) = since.parse::<i64>() else {
            return bad_request("Invalid since", quota);
        };
        tokio::task::spawn_blocking(move || {
            let changed = |e: &TimeEntry| e.at.timestamp() >= since;
            newest(
                &job_state,
                since - SINCE_LOOKBACK_S,
                now_s + 1,
                now_s,
                cap,
                changed,
            )
        })
        .await
    } else {
        let (from, to) = match (param("start_date"), param("end_date"), param("before")) {
            (_, _, Some(before)) => match parse_date(before) {
                Some(b) => (b - DEFAULT_WINDOW_S, b),
                None => return bad_request("Invalid before", quota),
            },
            (Some(s), e, None) => match (parse_date(s), e.map(parse_date)) {
                (Some(s), None) => (s, now_s + 1),
                (Some(s), Some(Some(e))) => (s, e),
                (None, _) => return bad_request("Invalid start_date", quota),
                (_, Some(None)) => return bad_request("Invalid end_date", quota),
            },
            (None, Some(_), None) => {
                return bad_request("start_date is required with end_date", quota)
            }
            (None, None, None) => (now_s - DEFAULT_WINDOW_S, now_s + 1),
        };
        tokio::task::spawn_blocking(move || {
            let live = |e: &TimeEntry| e.server_deleted_at.is_none();
            newest(&job_state, from, to, now_s, cap, live)
        })
        .await
    };
    let list = list.unwrap_or_default();
    json_answer(
        StatusCode::OK,
        serde_json::to_vec(&list).unwrap_or_default(),
        quota,
    )
}

async fn current(State(state): State<SandboxState>, headers: HeaderMap) -> Response {
    let quota = match gate(&state, &headers) {
        Ok(q) => q,
        Err(resp) => return *resp,
    };
    let now_s = now_ns() / 1_000_000_000;
    let me = state.world().users[0].id;
    let mine = |e: &TimeEntry| e.user_id == me && e.server_deleted_at.is_none();
    let running = newest(&state, now_s - 5 * 3600, now_s + 1, now_s, 1, mine)
        .into_iter()
        .find(TimeEntry::is_running);
    let body = serde_json::to_vec(&running).unwrap_or_default();
    json_answer(StatusCode::OK, body, quota)
}
