//! The sync job: gets Toggl time entries (generated in-process, or paged from a
//! Toggl-compatible API), turns them into line protocol, and writes them in
//! batches, recording `sync fetch`, `sync transform` and each `sync write`, with
//! points and bytes per batch in `ingest.csv`.
//!
//! From a Toggl API it runs as a backfill: each sync asks for the day window
//! before the previous one (`start_date`/`end_date`), sized to hold about
//! `entries_per_sync` entries, walking back through 90 days and then starting
//! over (re-syncing rewrites the same points, as a real re-sync does).
//! Rate limits are honoured: a 429 waits for `Retry-After` (1 s if absent) up to
//! three tries, a 402 waits for `X-Toggl-Quota-Resets-In`.
//! Writes follow DOMAIN.md §6: 5xx and timeouts are retried with back-off, a 413
//! splits the batch in half, a 400 (partial write) is recorded and not retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::prelude::*;
use reqwest::Client;

use super::request::{self, describe, Outcome};
use super::{IngestLog, RunContext};
use crate::scenario::{Scenario, SyncJob, SyncSource};
use crate::target::body::{self, Format, Reading, DEFAULT_MAX_BODY};
use crate::target::outside_log::{self, OTHER, QUERY, SYNC_STATUS_POLL};
use crate::target::{
    clip, judge_query, judge_write, Endpoints, Judged, TogglEndpoints, TriggerEndpoints,
};
use crate::users::ingest_log::{AttemptOutcome, IngestRow, SyncAttempt};
use crate::workload::line_protocol::{gzip, Names};
use crate::workload::toggl::{EntryGenerator, TimeEntry, World, WorldConfig};

const DAY: i64 = 86_400;
/// How far back a Toggl backfill walks before starting over.
const BACKFILL_DAYS: i64 = 90;
/// The request name of the related-data fetch (a `sync fetch` class request).
const RELATED: &str = "sync fetch related";
/// Tries of one request that meets 429, 5xx or a timeout.
const TRIES: u32 = 3;

/// What every sync user shares, prepared once per run.
#[derive(Clone)]
pub struct SyncPlan {
    job: SyncJob,
    seed: u64,
    world: Arc<World>,
    names: Arc<Names>,
    toggl: Option<TogglEndpoints>,
    trigger: Option<(TriggerEndpoints, crate::scenario::Trigger)>,
}

impl SyncPlan {
    /// Prepare the sync job of a scenario.
    pub fn new(scenario: &Scenario, sandbox_url: Option<&url::Url>) -> SyncPlan {
        // The same world the sandbox pre-seeds from: synced points land in the
        // series the dashboards query, as a real sync's do.
        let world = World::generate(scenario.seed, &WorldConfig::default());
        let names = Names::from_world(&world);
        let toggl = match &scenario.sync.source {
            SyncSource::Toggl { url, token } => url
                .clone()
                .or_else(|| sandbox_url.cloned())
                .map(|base| TogglEndpoints::new(base, token.as_ref())),
            SyncSource::Generate | SyncSource::Trigger(_) => None,
        };
        let trigger = match &scenario.sync.source {
            SyncSource::Trigger(t) => Some((TriggerEndpoints::new(t), t.clone())),
            _ => None,
        };
        SyncPlan {
            job: scenario.sync.clone(),
            seed: scenario.seed,
            world: Arc::new(world),
            names: Arc::new(names),
            toggl,
            trigger,
        }
    }
}

/// One sync user's state between transactions.
#[derive(Clone)]
struct SyncState {
    /// When the next sync is due, relative to the attack start.
    due: Duration,
    /// Generated entries still to sync (generate source).
    generator: Option<EntryGenerator>,
    /// Names from the API's related data (Toggl source), fetched on the first sync.
    names: Option<Arc<Names>>,
    /// End of the next backfill window (Toggl source), unix s.
    window_end: i64,
    /// Days per backfill window.
    window_days: i64,
    /// Times the generator has wrapped, to vary its seed.
    rounds: u64,
}

/// One sync: wait for its turn, fetch, transform, write.
pub async fn step(user: &mut GooseUser, context: &RunContext) -> TransactionResult {
    let plan = &context.sync;
    let mut state = match user.get_session_data::<SyncState>() {
        Some(s) => s.clone(),
        None => SyncState {
            due: user.started.elapsed(),
            generator: None,
            names: None,
            window_end: now_s(),
            window_days: 1,
            rounds: 0,
        },
    };
    let now = user.started.elapsed();
    if state.due > now && !context.live.sleep(state.due - now).await {
        return Ok(());
    }
    state.due = user.started.elapsed() + plan.job.interval;
    let client = user.client.clone();
    if let Some((endpoints, settings)) = &plan.trigger {
        triggered_sync(endpoints, settings, &client, user, context).await?;
        user.set_session_data(state);
        return Ok(());
    }

    let entries = match &plan.toggl {
        None => generate(plan, &mut state, user.weighted_users_index, user, context).await?,
        Some(toggl) => match fetch(toggl, plan, &mut state, &client, user, context).await? {
            Some(entries) => entries,
            None => {
                user.set_session_data(state);
                return Ok(());
            }
        },
    };
    context.live.entries(entries.len() as u64);

    // Transform: line protocol for every entry, batches cut at line boundaries.
    let names = state.names.clone().unwrap_or_else(|| plan.names.clone());
    let started = Instant::now();
    let now = now_s();
    let batch_size = plan.job.batch_size as usize;
    let mut batches: Vec<(Vec<u8>, u64)> = Vec::new();
    for chunk in entries.chunks(batch_size) {
        let mut body = Vec::with_capacity(chunk.len() * 200);
        let counts = names.write_entries(chunk, now, &mut body);
        if counts.written > 0 {
            batches.push((body, counts.written));
        }
    }
    let transform = Outcome {
        status: 0,
        elapsed: started.elapsed(),
        judged: Judged::success(),
        retry_after: None,
    };
    record(user, context, "LP", "sync transform", &transform).await?;

    let mut all_stored = true;
    for (body, points) in batches {
        all_stored &= write_batch(
            &context.endpoints,
            &client,
            &plan.job,
            body,
            points,
            user,
            context,
        )
        .await?;
    }
    // The newest point of this sync: how long until a query sees it?
    let newest = entries
        .iter()
        .filter(|e| e.server_deleted_at.is_none())
        .max_by_key(|e| (e.start, e.id));
    if let (true, true, Some(entry)) = (plan.job.freshness, all_stored, newest) {
        freshness(
            &context.endpoints,
            &client,
            entry.id,
            entry.start.timestamp(),
            user,
            context,
        )
        .await?;
    }
    user.set_session_data(state);
    Ok(())
}

/// Generated entries: the next `entries_per_sync` of this user's generator.
async fn generate(
    plan: &SyncPlan,
    state: &mut SyncState,
    user_index: usize,
    user: &mut GooseUser,
    context: &RunContext,
) -> Result<Vec<TimeEntry>, Box<TransactionError>> {
    let started = Instant::now();
    let mut out = Vec::with_capacity(plan.job.entries_per_sync as usize);
    while out.len() < plan.job.entries_per_sync as usize {
        let generator = state.generator.get_or_insert_with(|| {
            // Each sync user and each round draws other entries of the same world.
            let seed = plan.seed ^ 0x5eed_0000 ^ ((user_index as u64) << 20) ^ state.rounds;
            let end = now_s();
            EntryGenerator::new(&plan.world, seed, end - BACKFILL_DAYS * DAY, end)
        });
        match generator.next() {
            Some(e) => out.push(e),
            None => {
                state.generator = None;
                state.rounds += 1;
            }
        }
    }
    let outcome = Outcome {
        status: 0,
        elapsed: started.elapsed(),
        judged: Judged::success(),
        retry_after: None,
    };
    record(user, context, "GEN", "sync fetch", &outcome).await?;
    Ok(out)
}

/// Entries from a Toggl API: the next backfill window. `None` when the API could
/// not be read this time (already recorded).
async fn fetch(
    toggl: &TogglEndpoints,
    plan: &SyncPlan,
    state: &mut SyncState,
    client: &Client,
    user: &mut GooseUser,
    context: &RunContext,
) -> Result<Option<Vec<TimeEntry>>, Box<TransactionError>> {
    if state.names.is_none() {
        let (outcome, body) = toggl_get(toggl.related_data(client), RELATED, user, context).await?;
        record(user, context, "GET", RELATED, &outcome).await?;
        if !outcome.judged.ok {
            return Ok(None);
        }
        let names = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| Names::from_related_data(&json).ok());
        let Some(names) = names else {
            return Ok(None);
        };
        // About 4.3 entries per user per calendar day (6 per workday).
        let users = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|j| {
                j.get("workspace_users")
                    .and_then(|u| u.as_array())
                    .map(Vec::len)
            })
            .unwrap_or(plan.world.users.len())
            .max(1);
        state.window_days =
            ((f64::from(plan.job.entries_per_sync) / (users as f64 * 4.3)).round() as i64).max(1);
        state.names = Some(Arc::new(names));
    }
    let end = state.window_end;
    let start = end - state.window_days * DAY;
    let (outcome, body) = toggl_get(
        toggl.entries_between(client, start, end),
        "sync fetch",
        user,
        context,
    )
    .await?;
    let mut outcome = outcome;
    let entries = if outcome.judged.ok {
        match serde_json::from_slice::<Vec<TimeEntry>>(&body) {
            Ok(entries) => Some(entries),
            Err(e) => {
                outcome.judged = Judged::from_error(Some(format!("unreadable time entries: {e}")));
                None
            }
        }
    } else {
        None
    };
    record(user, context, "GET", "sync fetch", &outcome).await?;
    if entries.is_some() {
        state.window_end = if start <= now_s() - BACKFILL_DAYS * DAY {
            now_s()
        } else {
            start
        };
    }
    Ok(entries)
}

/// A Toggl GET honouring 429 Retry-After (up to [`TRIES`]) and 402 quota resets.
async fn toggl_get(
    request: reqwest::RequestBuilder,
    name: &str,
    user: &mut GooseUser,
    context: &RunContext,
) -> Result<(Outcome, Vec<u8>), Box<TransactionError>> {
    let max_body = context.endpoints.max_body();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(req) = request.try_clone() else {
            unreachable!("GET requests have no streaming body")
        };
        let started = Instant::now();
        let (status, wait, body, error) = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                };
                let wait = match status {
                    429 => Some(header("retry-after").unwrap_or(1)),
                    402 => Some(header("x-toggl-quota-resets-in").unwrap_or(60)),
                    _ => None,
                };
                match body::read(resp, Reading::whole(max_body)).await {
                    Ok(b) if b.oversize.is_some() => (
                        status,
                        None,
                        Vec::new(),
                        Some(format!(
                            "answer larger than max_body {}: read {} bytes, stopped",
                            body::show_size(max_body),
                            b.read
                        )),
                    ),
                    Ok(b) => (status, wait, b.head().to_vec(), None),
                    Err(e) => (status, None, Vec::new(), Some(describe(&e))),
                }
            }
            Err(e) => (0, None, Vec::new(), Some(describe(&e))),
        };
        let ok = (200..300).contains(&status) && error.is_none();
        let error = error.or_else(|| {
            (!ok).then(|| {
                let text = String::from_utf8_lossy(&body);
                if text.trim().is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {}", clip(&text))
                }
            })
        });
        let outcome = Outcome {
            status,
            elapsed: started.elapsed(),
            judged: Judged::from_error(error),
            retry_after: None,
        };
        match wait {
            Some(secs) if attempt < TRIES => {
                record(user, context, "GET", name, &outcome).await?;
                // Bounded: a quota reset far away ends this sync, not the run.
                if !context.live.sleep(Duration::from_secs(secs.min(30))).await {
                    return Ok((outcome, body));
                }
            }
            _ => return Ok((outcome, body)),
        }
    }
}

/// A sync run by the stack's own service: POST the trigger (recorded as
/// `sync trigger`), poll the status every 250 ms until its field says done or
/// failed, and record the whole run, trigger to done, as `sync run`.
async fn triggered_sync(
    endpoints: &TriggerEndpoints,
    settings: &crate::scenario::Trigger,
    client: &Client,
    user: &mut GooseUser,
    context: &RunContext,
) -> TransactionResult {
    let started = Instant::now();
    let reading = Reading::write(DEFAULT_MAX_BODY);
    let trigger = request::send(endpoints.trigger(client), reading, |status, body| {
        let ok = (200..300).contains(&status);
        let error = (!ok).then(|| {
            format!(
                "HTTP {status}: {}",
                clip(&String::from_utf8_lossy(body.head()))
            )
        });
        Judged::from_error(error)
    })
    .await;
    record(user, context, "POST", "sync trigger", &trigger).await?;
    if !trigger.judged.ok {
        return Ok(());
    }
    let field = settings.status_field.as_str();
    let verdict = loop {
        context.outside.add(SYNC_STATUS_POLL, OTHER, 1);
        let reading = Reading::whole(DEFAULT_MAX_BODY);
        let poll = request::send(endpoints.status(client), reading, |status, body| {
            let value = serde_json::from_slice::<serde_json::Value>(body.head())
                .ok()
                .and_then(|v| {
                    v.get(field)
                        .map(|f| f.as_str().map_or_else(|| f.to_string(), str::to_string))
                });
            Judged {
                ok: (200..300).contains(&status),
                error: None,
                values: value.into_iter().collect(),
            }
        })
        .await;
        let state = poll.judged.values.first().cloned().unwrap_or_default();
        if state == settings.done_value {
            break Ok(());
        }
        if state == settings.failed_value {
            break Err(format!("the sync service says {field} = {state:?}"));
        }
        if started.elapsed() >= settings.timeout {
            break Err(format!(
                "not done after {}s (last {field} = {state:?})",
                settings.timeout.as_secs()
            ));
        }
        if !context.live.sleep(Duration::from_millis(250)).await {
            break Err("the run ended before the sync did".to_string());
        }
    };
    let outcome = Outcome {
        status: if verdict.is_ok() { 200 } else { 0 },
        elapsed: started.elapsed(),
        judged: Judged::from_error(verdict.err()),
        retry_after: None,
    };
    record(user, context, "RUN", "sync run", &outcome).await
}

/// How long a freshness probe waits for a point before calling it lost.
const FRESHNESS_LIMIT: Duration = Duration::from_secs(10);
/// Pause between freshness polls.
const FRESHNESS_POLL: Duration = Duration::from_millis(50);

/// Poll until the point of entry `id` at `start_s` answers a query, and record the
/// lag from the write's end as `sync freshness` (the polls themselves are not
/// recorded: they are the probe, not load).
async fn freshness(
    endpoints: &Endpoints,
    client: &Client,
    id: u64,
    start_s: i64,
    user: &mut GooseUser,
    context: &RunContext,
) -> TransactionResult {
    let q = format!(
        "SELECT count(\"entry_id\") FROM \"time_entry\" WHERE \"entry_id\" = {id} AND time >= {start_s}s AND time <= {start_s}s"
    );
    let started = Instant::now();
    let mut last_error = None;
    let visible = loop {
        context.outside.add(outside_log::FRESHNESS_POLL, QUERY, 1);
        let reading = Reading::query(Format::Json, endpoints.max_body(), true);
        let outcome = request::send(endpoints.write_side_query(client, &q), reading, |s, b| {
            judge_query(s, b, true)
        })
        .await;
        if outcome.judged.ok
            && outcome
                .judged
                .values
                .iter()
                .any(|v| v.parse::<u64>().is_ok_and(|n| n > 0))
        {
            break true;
        }
        last_error = outcome.judged.error.or(last_error);
        if started.elapsed() >= FRESHNESS_LIMIT || !context.live.sleep(FRESHNESS_POLL).await {
            break false;
        }
    };
    let error = (!visible).then(|| match last_error {
        Some(e) => format!(
            "point not visible after {}s: {e}",
            started.elapsed().as_secs()
        ),
        None => format!("point not visible after {}s", started.elapsed().as_secs()),
    });
    let outcome = Outcome {
        status: if visible { 200 } else { 0 },
        elapsed: started.elapsed(),
        judged: Judged::from_error(error),
        retry_after: None,
    };
    record(user, context, "POLL", "sync freshness", &outcome).await
}

/// Write one batch, retrying 5xx/timeouts with back-off and splitting on 413.
/// Returns whether every point was stored.
async fn write_batch(
    endpoints: &Endpoints,
    client: &Client,
    job: &SyncJob,
    body: Vec<u8>,
    points: u64,
    user: &mut GooseUser,
    context: &RunContext,
) -> Result<bool, Box<TransactionError>> {
    let mut stored = true;
    let log = &context.ingest;
    let mut pending = vec![(body, points, log.next_batch())];
    while let Some((body, points, batch)) = pending.pop() {
        let mut attempt = 0;
        // The wait before this attempt: as long as it was, and as asked.
        let (mut waited_ms, mut asked_ms) = (0, 0);
        loop {
            attempt += 1;
            let (payload, gzipped) = if job.gzip {
                let mut gz = Vec::new();
                gzip(&body, &mut gz);
                (gz, true)
            } else {
                (body.clone(), false)
            };
            let bytes = payload.len() as u64;
            let reading = endpoints.write_reading();
            let outcome = request::send(
                endpoints.write(client, payload, gzipped),
                reading,
                judge_write,
            )
            .await;
            record(user, context, "POST", "sync write", &outcome).await?;
            log_batch(&context.ingest, user, &outcome, points, bytes);
            if outcome.judged.ok {
                context.live.batch(points);
            } else {
                context.live.batch(0);
            }
            // Transport failures, 5xx and 429 (the server shedding load) are retried.
            let retry = outcome.status == 0 || outcome.status >= 500 || outcome.status == 429;
            let split = outcome.status == 413 && points > 1;
            let next = match () {
                _ if outcome.judged.ok => AttemptOutcome::Stored,
                _ if split => AttemptOutcome::Split,
                _ if retry && attempt < TRIES => AttemptOutcome::Retry,
                _ => AttemptOutcome::Dropped,
            };
            let cancelled =
                (outcome.judged.error.as_deref()).is_some_and(crate::runfolder::is_cancelled);
            if !cancelled {
                log.attempt(SyncAttempt {
                    elapsed_ms: user.started.elapsed().as_millis() as u64,
                    batch,
                    attempt,
                    points,
                    status: outcome.status,
                    outcome: next,
                    waited_ms,
                    asked_ms,
                });
            }
            if split {
                let (a, b) = split_lines(&body);
                let half = points / 2;
                pending.push((b, points - half, log.next_batch()));
                pending.push((a, half, log.next_batch()));
                break;
            }
            if !retry || attempt >= TRIES {
                stored &= outcome.judged.ok;
                break;
            }
            // Back off as the server asks (Retry-After, capped), else 0.5 s, 1 s, ….
            let wait = outcome
                .retry_after
                .unwrap_or(Duration::from_millis(500 * u64::from(attempt)));
            let slept = Instant::now();
            if !context.live.sleep(wait).await {
                return Ok(false);
            }
            (waited_ms, asked_ms) = (slept.elapsed().as_millis() as u64, wait.as_millis() as u64);
        }
    }
    Ok(stored)
}

/// Record a sync request in Goose's log, and count it toward an until-judged
/// hold (`judged_hold`) under the class the report files it in.
async fn record(
    user: &mut GooseUser,
    context: &RunContext,
    method: &str,
    name: &str,
    outcome: &Outcome,
) -> TransactionResult {
    context
        .live
        .count(crate::runfolder::RequestClass::of(name), outcome.judged.ok);
    request::record(user, method, name, outcome).await
}

fn log_batch(log: &IngestLog, user: &GooseUser, outcome: &Outcome, points: u64, bytes: u64) {
    // ingest.csv has no error column: a write the run's end cut off would read
    // as a failed batch. The request log keeps it, as cancelled.
    if (outcome.judged.error.as_deref()).is_some_and(crate::runfolder::is_cancelled) {
        return;
    }
    log.append(IngestRow {
        elapsed_ms: user.started.elapsed().as_millis() as u64,
        points,
        bytes,
        duration_us: outcome.elapsed.as_micros() as u64,
        status: outcome.status,
        success: outcome.judged.ok,
    });
}

/// Split line protocol into two halves at a line boundary.
fn split_lines(body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let lines = body.iter().filter(|&&b| b == b'\n').count();
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate() {
        if b == b'\n' {
            seen += 1;
            if seen == lines / 2 {
                return (body[..=i].to_vec(), body[i + 1..].to_vec());
            }
        }
    }
    (body.to_vec(), Vec::new())
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_at_line_boundaries() {
        let (a, b) = split_lines(b"a 1\nb 2\nc 3\nd 4\n");
        assert_eq!(a, b"a 1\nb 2\n");
        assert_eq!(b, b"c 3\nd 4\n");
        let (a, b) = split_lines(b"a 1\nb 2\nc 3\n");
        assert_eq!(a, b"a 1\n");
        assert_eq!(b, b"b 2\nc 3\n");
    }
}
