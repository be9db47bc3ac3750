//! The dashboard viewer: opens a dashboard the way a browser does, watches it
//! auto-refresh, changes the time range, thinks, and comes back.
//!
//! Each Goose transaction is one dashboard load (after waiting for its turn), so a
//! user never sleeps through a shutdown in the middle of a long visit:
//! - *open*: fetch the definition (Grafana API), run the variable queries that
//!   refresh on load, pick variable values, load every panel;
//! - *refresh* × `refreshes_per_visit`: reload the panels when the refresh timer
//!   fires. A tick that falls while the previous load is still running is
//!   missed, and counted (`[viewers] busy_refresh = "skip"`, the default); with
//!   `busy_refresh = "cancel"` it replaces the load, as Grafana's query runner
//!   does: the queries in flight are dropped (their connections closed, as a
//!   browser aborts them), logged as replaced, and the new load starts at once;
//! - then think, and *change range* (time picker: refresh-2 variables, then the
//!   panels) or, every other visit, *open* again.
//!
//! A load fires every visible panel's query at once with at most `max_parallel`
//! in flight (a browser's per-host connection limit). Each panel is recorded as
//! `panel <title> [<range class>]`, the whole load (first query sent → last answer
//! in) as `load <dashboard> [<range class>]`. Same seed → same query sequence.
//!
//! A viewer's first load waits a random phase (see [`ViewerPlan::first_delay`]):
//! without it every refresh timer starts inside the ramp and the viewers refresh
//! in lockstep, so a hold alternates between bursts and silence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use goose::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::Client;

use super::numbering::ViewerNumbering;
use super::request::{self, Outcome};
use super::RunContext;
use crate::runfolder::{AnswerTotals, RequestClass};
use crate::scenario::{BusyRefresh, Target, VariableMix, Viewers};
use crate::target::body::{Body, Format, Reading};
use crate::target::outside_log::{OutsideLog, PANEL_EXTRA_QUERY, QUERY};
use crate::target::{judge_query, Endpoints, Judged, QueryCall};
use crate::workload::dashboard::flux::{self, FluxContext};
use crate::workload::dashboard::{
    Dashboard, PanelRequest, Resolution, Selection, TimeRange, Trigger, VariableKind, View,
};

/// What every viewer shares, prepared once per run.
pub struct ViewerPlan {
    dashboard: Arc<Dashboard>,
    ranges: Vec<(TimeRange, u32)>,
    /// Per dashboard variable (same order), the scenario's choice mix.
    mixes: Vec<Option<VariableMix>>,
    /// Variable indices, parents before the variables chained on them.
    order: Vec<usize>,
    max_parallel: usize,
    refresh: Option<Duration>,
    refreshes_per_visit: u32,
    busy_refresh: BusyRefresh,
    think_time: (Duration, Duration),
    first_screen_only: bool,
    grafana_api: bool,
    seed: u64,
    /// Which viewer of the whole run each launched one is.
    numbering: ViewerNumbering,
}

impl ViewerPlan {
    /// Prepare from the scenario's viewers.
    pub fn new(viewers: &Viewers, target: &Target, endpoints: &Endpoints, seed: u64) -> ViewerPlan {
        let mut dashboard = viewers.dashboard.clone();
        match &target.datasource_uid {
            Some(uid) => dashboard.bind_datasource(uid),
            None => dashboard.bind_inputs(&target.datasources),
        }
        let ranges = viewers
            .time_ranges
            .iter()
            .map(|r| {
                let range = TimeRange::parse(&r.from, &r.to)
                    .expect("time ranges are validated by the scenario");
                (range, r.weight)
            })
            .collect();
        let mixes = dashboard
            .variables
            .iter()
            .map(|v| viewers.variables.get(&v.name).cloned())
            .collect();
        ViewerPlan {
            order: Resolution::order(&dashboard),
            dashboard: Arc::new(dashboard),
            ranges,
            mixes,
            max_parallel: viewers.max_parallel,
            refresh: viewers.refresh,
            refreshes_per_visit: viewers.refreshes_per_visit,
            busy_refresh: viewers.busy_refresh,
            think_time: viewers.think_time,
            first_screen_only: viewers.first_screen_only,
            grafana_api: endpoints.uses_grafana_api(),
            seed,
            numbering: ViewerNumbering::default(),
        }
    }

    /// How long a new viewer waits before its first load: uniform over one refresh
    /// period (or, with refresh off, the longest think time), drawn from the
    /// viewer's own RNG so the same seed gives the same phase. Real viewers open
    /// a dashboard at unrelated moments, so their refreshes spread over the period.
    fn first_delay(&self, rng: &mut ChaCha8Rng) -> Duration {
        let period = self.refresh.unwrap_or(self.think_time.1);
        if period.is_zero() {
            return Duration::ZERO;
        }
        rng.random_range(Duration::ZERO..period)
    }

    /// Number the launched viewers as `numbering` says (the plan's, and a
    /// worker's rank): without it, the launch order is the number.
    pub fn number(&mut self, numbering: ViewerNumbering) {
        self.numbering = numbering;
    }

    /// The random stream of the viewer Goose launched as user `user_index`:
    /// from its global position and generation, so every mode draws alike.
    fn viewer_rng(&self, user_index: usize) -> ChaCha8Rng {
        let (position, generation) = self.numbering.global(user_index);
        ChaCha8Rng::seed_from_u64(
            self.seed
                ^ position.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ u64::from(generation).wrapping_mul(0xbf58_476d_1ce4_e5b9),
        )
    }

    fn pick_range(&self, rng: &mut ChaCha8Rng) -> usize {
        let total: u32 = self.ranges.iter().map(|(_, w)| w).sum();
        let mut x = rng.random_range(0..total.max(1));
        for (i, (_, w)) in self.ranges.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }
}

/// Where a viewer is in its visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Refresh { left: u32 },
    ChangeRange,
}

/// One viewer's state between transactions.
#[derive(Clone)]
struct ViewerState {
    rng: ChaCha8Rng,
    phase: Phase,
    range: usize,
    /// The variables' options and selections, as the viewer's browser holds them.
    res: Resolution,
    /// When the next load is due, relative to the attack start.
    due: Duration,
    visits: u64,
    /// This viewer's start number among viewers (0 for the first).
    number: u64,
    /// True while the live viewer cap keeps it idle (`[stress] refine`).
    idle: bool,
    /// Its Grafana Live session (`[live]`), open while the user lives.
    _live: Option<super::live_viewer::LiveSession>,
}

impl ViewerState {
    /// Viewer `index` arriving at `now` (attack clock): same seed → same sequence.
    fn new(
        plan: &ViewerPlan,
        index: usize,
        number: u64,
        now: Duration,
        live: Option<super::live_viewer::LiveSession>,
    ) -> ViewerState {
        let mut rng = plan.viewer_rng(index);
        let due = now + plan.first_delay(&mut rng);
        ViewerState {
            rng,
            phase: Phase::Open,
            range: 0,
            res: Resolution::saved(&plan.dashboard),
            due,
            visits: 0,
            number,
            idle: false,
            _live: live,
        }
    }
}

/// How long an idle viewer sleeps before looking at the cap again.
const IDLE_SLICE: Duration = Duration::from_millis(250);

/// One transaction: wait for the next load, then do it.
pub async fn step(user: &mut GooseUser, context: &RunContext) -> TransactionResult {
    let Some(plan) = context.viewer.as_ref() else {
        return Ok(());
    };
    let now = user.started.elapsed();
    let mut state = match user.get_session_data::<ViewerState>() {
        Some(s) => s.clone(),
        None => {
            let number = context.live.viewer_started();
            let live = context
                .live_viewers
                .as_ref()
                .and_then(|l| l.arrive(number, user.started));
            ViewerState::new(plan, user.weighted_users_index, number, now, live)
        }
    };
    // Above the viewer cap (the ladder stopped, `[stress] refine`): idle, no
    // request, nothing recorded. The whole idle stretch is one transaction, so
    // Goose's own transaction counts are not swollen by capped users waking
    // every slice. A viewer the cap lets back in arrives afresh, at a random
    // phase, as a ramp's do.
    if !context.live.viewer_active(state.number) {
        state.idle = true;
        let number = state.number;
        user.set_session_data(state);
        while !context.live.viewer_active(number) {
            if !context.live.sleep(IDLE_SLICE).await {
                break;
            }
        }
        return Ok(());
    }
    if state.idle {
        state.idle = false;
        state.phase = Phase::Open;
        state.due = now + plan.first_delay(&mut state.rng);
    }
    if state.due > now && !context.live.sleep(state.due - now).await {
        return Ok(());
    }
    if !context.live.viewer_active(state.number) {
        // The cap fell while this viewer waited for its turn.
        state.idle = true;
        user.set_session_data(state);
        return Ok(());
    }
    let due = state.due.max(now);
    let client = user.client.clone();
    let endpoints = &context.endpoints;

    match state.phase {
        Phase::Open => {
            state.range = plan.pick_range(&mut state.rng);
            // A fresh open starts from the dashboard as saved.
            state.res = Resolution::saved(&plan.dashboard);
            if plan.grafana_api {
                let uid = &plan.dashboard.uid;
                let reading = Reading::query(Format::Json, endpoints.max_body(), false);
                let outcome = request::send(endpoints.dashboard(&client, uid), reading, |s, b| {
                    judge_query(s, b, false)
                })
                .await;
                request::record(user, "GET", &format!("dashboard {uid}"), &outcome).await?;
                context.live.record(
                    RequestClass::DashboardFetch,
                    outcome.elapsed,
                    outcome.judged.ok,
                );
            }
            variables(
                plan,
                &mut state,
                Trigger::Load,
                &client,
                endpoints,
                user,
                context,
            )
            .await?;
        }
        Phase::ChangeRange => {
            state.range = plan.pick_range(&mut state.rng);
            variables(
                plan,
                &mut state,
                Trigger::TimeChange,
                &client,
                endpoints,
                user,
                context,
            )
            .await?;
        }
        Phase::Refresh { .. } => {}
    }

    // What comes next. When it is a refresh, its timer ticks every interval
    // from this load's start, and the first tick replaces this load if it is
    // still running (Grafana cancels the running queries and sends new ones).
    let after = next_phase(plan, state.phase, state.visits);
    let tick = match (after, plan.refresh) {
        (Phase::Refresh { .. }, Some(interval)) => Some(due + interval),
        _ => None,
    };
    let replace_at = tick.filter(|_| plan.busy_refresh == BusyRefresh::Cancel);
    let (finished, replaced_at) = load(
        plan,
        &state,
        (&client, endpoints),
        replace_at,
        user,
        context,
    )
    .await?;

    if !matches!(after, Phase::Refresh { .. }) {
        state.visits += 1;
    }
    state.phase = after;
    state.due = match (tick, replaced_at) {
        // Replaced at a tick: the new load starts now.
        (Some(_), Some(at)) => at,
        (Some(mut next), None) => {
            // Skipping (`busy_refresh = "skip"`): ticks that fell while the
            // load ran are missed.
            let interval = plan.refresh.unwrap_or_default();
            let mut missed = 0;
            while next <= finished {
                missed += 1;
                next += interval;
            }
            context.live.missed_refreshes(missed);
            next
        }
        (None, _) => {
            let (lo, hi) = plan.think_time;
            let think = if hi > lo {
                state.rng.random_range(lo..=hi)
            } else {
                lo
            };
            finished + think
        }
    };
    user.set_session_data(state);
    Ok(())
}

/// The phase after a load in `phase`: the visit's refreshes, then a think and
/// a new range, or (every other visit, counting this one) a fresh open.
fn next_phase(plan: &ViewerPlan, phase: Phase, visits: u64) -> Phase {
    match (phase, plan.refresh) {
        (Phase::Open | Phase::ChangeRange, Some(_)) if plan.refreshes_per_visit > 0 => {
            Phase::Refresh {
                left: plan.refreshes_per_visit,
            }
        }
        (Phase::Refresh { left }, Some(_)) if left > 1 => Phase::Refresh { left: left - 1 },
        _ if (visits + 1).is_multiple_of(2) => Phase::Open,
        _ => Phase::ChangeRange,
    }
}

/// Settle the variables as Grafana does on `trigger`: in dependency order,
/// each query that `trigger` runs sent with its parents' chosen values, its
/// answer becoming the options; on load, each variable then gets the
/// scenario's pick (All / one / some) before its children are queried.
async fn variables(
    plan: &ViewerPlan,
    state: &mut ViewerState,
    trigger: Trigger,
    client: &Client,
    endpoints: &Endpoints,
    user: &mut GooseUser,
    context: &RunContext,
) -> TransactionResult {
    let (range, _) = &plan.ranges[state.range];
    let now_ms = chrono::Utc::now().timestamp_millis();
    let (from_ms, to_ms) = range.resolve(now_ms);
    state.res.set_range(from_ms, to_ms);
    for &i in &plan.order {
        if !state.res.runs_query(i, trigger) {
            if trigger == Trigger::Load {
                state.res.settle(i);
                choose(plan, state, i);
            }
            continue;
        }
        let Some(v) =
            View::resolved(&plan.dashboard, range, now_ms, &state.res).variable_request(i)
        else {
            // A Flux query skipped on an InfluxQL-only target (`skip_flux`): the
            // variable keeps its saved value (not validated: a migrated export
            // has its saved options cleared); the scenario's pick still applies.
            if trigger == Trigger::Load {
                choose(plan, state, i);
            }
            continue;
        };
        let expanded;
        let call = if plan.grafana_api {
            QueryCall::DsQuery {
                body: &v.body,
                dashboard_uid: &plan.dashboard.uid,
                datasource_uid: &v.datasource.uid,
                panel_id: None,
            }
        } else if v.flux {
            // Grafana's backend posts a Flux variable query to /api/v2/query; an
            // InfluxQL-only target had it taken out at load (`skip_flux`).
            let ctx = FluxContext {
                from_ms,
                to_ms,
                interval_ms: flux::VARIABLE_INTERVAL_MS,
                default_bucket: endpoints.database(),
                organization: endpoints.org(),
            };
            expanded = flux::expand(&v.text, &ctx, &Default::default());
            QueryCall::Flux(&expanded)
        } else {
            QueryCall::InfluxQl(&v.influxql)
        };
        let reading = endpoints.reading(&call, true);
        let outcome = request::send(endpoints.query(client, call), reading, |s, b| {
            judge_query(s, b, true)
        })
        .await;
        let method = if plan.grafana_api
            || !matches!(endpoints.kind(), crate::scenario::TargetKind::Influxdb1)
        {
            "POST"
        } else {
            "GET"
        };
        request::record(user, method, &v.name, &outcome).await?;
        context.live.record(
            RequestClass::VariableQuery,
            outcome.elapsed,
            outcome.judged.ok,
        );
        if outcome.judged.ok {
            state.res.answer(i, &outcome.judged.values);
        } else {
            // Grafana keeps the options it had when a variable query fails.
            state.res.settle(i);
        }
        if trigger == Trigger::Load {
            choose(plan, state, i);
        }
    }
    Ok(())
}

/// Pick every variable's values from the scenario's mix, parents first.
#[cfg(test)]
fn choose_selections(plan: &ViewerPlan, state: &mut ViewerState) {
    for i in plan.order.clone() {
        choose(plan, state, i);
    }
}

/// Pick variable `i`'s values from the scenario's mix (All / one / a few).
fn choose(plan: &ViewerPlan, state: &mut ViewerState, i: usize) {
    let variable = &state.res.variables[i];
    let Some(mix) = &plan.mixes[i] else { return };
    if let Some(value) = &mix.value {
        let pinned = match value.as_str() {
            "$__all" => Selection::All,
            v => Selection::Values(vec![v.to_string()]),
        };
        if variable.kind != VariableKind::Constant {
            state.res.select(i, pinned);
        }
        return;
    }
    let mut options: Vec<String> = variable
        .options
        .iter()
        .map(|o| o.value.clone())
        .filter(|v| v != "$__all" && v != "All")
        .collect();
    if options.is_empty() && !variable.include_all {
        return;
    }
    let some = if variable.multi { mix.some } else { 0 };
    let all = if variable.include_all { mix.all } else { 0 };
    let total = all + mix.one + some;
    if total == 0 {
        return;
    }
    let x = state.rng.random_range(0..total);
    let selection = if x < all || options.is_empty() {
        Selection::All
    } else if x < all + mix.one {
        Selection::Values(vec![
            options[state.rng.random_range(0..options.len())].clone()
        ])
    } else {
        let n = state.rng.random_range(2..=3).min(options.len());
        let mut picked = Vec::with_capacity(n);
        for _ in 0..n {
            let j = state.rng.random_range(0..options.len());
            picked.push(options.swap_remove(j));
        }
        Selection::Values(picked)
    };
    if variable.kind != VariableKind::Constant {
        state.res.select(i, selection);
    }
}

/// Load the dashboard's panels: every visible panel's request at once, at most
/// `max_parallel` in flight. Returns when the last answer came in (attack clock).
/// One dashboard load; when it ends (on the user's clock), and the refresh
/// tick that replaced it before every panel answered, if one did: the first
/// tick from `replace_at` (same clock) on after the panels' queries went out
/// (the ticks that fell while the variables were queried are missed).
async fn load(
    plan: &ViewerPlan,
    state: &ViewerState,
    (client, endpoints): (&Client, &Endpoints),
    replace_at: Option<Duration>,
    user: &mut GooseUser,
    context: &RunContext,
) -> Result<(Duration, Option<Duration>), Box<TransactionError>> {
    let (range, _) = &plan.ranges[state.range];
    let now_ms = chrono::Utc::now().timestamp_millis();
    // Interval variables on `auto` follow this load's range.
    let (from_ms, to_ms) = range.resolve(now_ms);
    let mut res = std::borrow::Cow::Borrowed(&state.res);
    if plan
        .dashboard
        .variables
        .iter()
        .any(|v| v.extra.auto.is_some())
    {
        res.to_mut().set_range(from_ms, to_ms);
    }
    let view = View::resolved(&plan.dashboard, range, now_ms, &res);
    // Only panels a browser would load get their queries expanded; a repeated
    // panel is one request per copy.
    let requests: Vec<PanelRequest<'_>> = plan
        .dashboard
        .panels
        .iter()
        .filter(|p| !p.in_collapsed_row && (!plan.first_screen_only || p.first_screen))
        .flat_map(|p| view.panel_requests_of(p))
        .filter(|r| sendable(plan, r, endpoints))
        .collect();
    let bodies: Vec<String> = if plan.grafana_api {
        requests.iter().map(|r| view.ds_query_body(r)).collect()
    } else {
        Vec::new()
    };
    let started = Instant::now();
    let method = if plan.grafana_api { "POST" } else { "GET" };
    // A failed load carries its first failed panel's status and error, so the
    // report classes it as that failure (timeout, 5xx, refused…), not "other".
    let mut first_error: Option<(u16, String)> = None;
    // Each query is logged the moment it completes: Goose stamps a custom
    // request's row with the time it is recorded, so recording them all after
    // the load would put every query at the load's end (its window, its
    // second, the server's count check all off by up to the slowest panel).
    // At most `max_parallel` panel futures exist at once, each made when a slot
    // frees (as `buffer_unordered` would): a panel's future holds its request,
    // timers and body scan, several KB, and a load has dozens of panels, so
    // making them all up front cost every viewer that much memory and copying.
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0;
    // When each panel in flight was sent, to log the ones a refresh replaces.
    let mut sent_at: Vec<Option<Instant>> = vec![None; requests.len()];
    let replace_at = replace_at.map(|mut at| {
        let now = user.started.elapsed();
        let interval = plan.refresh.unwrap_or(Duration::from_secs(1));
        while at <= now {
            context.live.missed_refreshes(1);
            at += interval;
        }
        at
    });
    // One timer for the whole load (not one armed per answer).
    let mut tick =
        replace_at.map(|at| Box::pin(tokio::time::sleep_until((user.started + at).into())));
    let mut replaced = false;
    loop {
        while next < requests.len() && in_flight.len() < plan.max_parallel.max(1) {
            sent_at[next] = Some(Instant::now());
            let body = bodies.get(next).map(String::as_str);
            in_flight.push(indexed_panel(
                next,
                plan,
                &requests[next],
                body,
                client,
                endpoints,
                &context.outside,
            ));
            next += 1;
        }
        let done = match tick.as_mut() {
            Some(tick) => tokio::select! {
                biased;
                done = in_flight.next() => done,
                _ = tick => {
                    replaced = true;
                    break;
                }
            },
            None => in_flight.next().await,
        };
        let Some((i, (outcome, answer))) = done else {
            break;
        };
        sent_at[i] = None;
        let name = &requests[i].name;
        let counted = context.live.recording().await;
        request::record(user, method, name, &outcome).await?;
        context
            .live
            .record(RequestClass::PanelQuery, outcome.elapsed, outcome.judged.ok);
        drop(counted);
        if outcome.judged.ok {
            context
                .live
                .record_answer(name, answer.bytes, answer.series);
        }
        if let (None, Some(e)) = (&first_error, &outcome.judged.error) {
            first_error = Some((outcome.status, format!("{}: {e}", requests[i].panel.title)));
        }
    }
    if replaced {
        // Dropping the futures drops their requests: hyper closes each
        // connection with a request in flight, as a browser aborts a query.
        drop(in_flight);
        let unanswered = sent_at.iter().filter(|s| s.is_some()).count();
        for (i, sent) in sent_at.iter().enumerate() {
            let Some(sent) = sent else { continue };
            let cut = Outcome {
                status: 0,
                elapsed: sent.elapsed(),
                judged: Judged::from_error(Some(crate::runfolder::REPLACED.into())),
                retry_after: None,
            };
            request::record(user, method, &requests[i].name, &cut).await?;
        }
        first_error = Some((
            0,
            format!(
                "{}: {unanswered} of {} panels still loading",
                crate::runfolder::LOAD_REPLACED,
                requests.len()
            ),
        ));
    }
    let load_elapsed = started.elapsed();
    let load = Outcome {
        status: first_error.as_ref().map_or(200, |(status, _)| *status),
        elapsed: load_elapsed,
        judged: Judged::from_error(first_error.map(|(_, e)| e)),
        retry_after: None,
    };
    let name = format!("load {} [{}]", plan.dashboard.title, view.class());
    let counted = context.live.recording().await;
    request::record(user, "LOAD", &name, &load).await?;
    context
        .live
        .record(RequestClass::DashboardLoad, load.elapsed, load.judged.ok);
    drop(counted);
    Ok((user.started.elapsed(), replace_at.filter(|_| replaced)))
}

/// Whether Flux targets can be sent straight to the target (InfluxDB 2.x only).
fn sends_flux(endpoints: &Endpoints) -> bool {
    endpoints.kind() == crate::scenario::TargetKind::Influxdb2
}

/// Whether a panel has anything to send to this target.
fn sendable(plan: &ViewerPlan, request: &PanelRequest<'_>, endpoints: &Endpoints) -> bool {
    plan.grafana_api
        || request
            .queries
            .iter()
            .any(|q| q.influxql.is_some() || sends_flux(endpoints))
}

/// What a panel's answers held: body bytes and series, over all its queries.
#[derive(Debug, Default, Clone, Copy)]
struct Answer {
    bytes: u64,
    series: u64,
}

impl Answer {
    /// Count one body, read with its format's series marker (none for Flux
    /// CSV, whose tables are not counted): every byte read, and the markers
    /// counted as it streamed in.
    fn add(&mut self, body: &Body) {
        self.bytes += body.read;
        self.series += body.series;
    }
}

/// [`panel`], tagged with the request's index in the load.
async fn indexed_panel(
    i: usize,
    plan: &ViewerPlan,
    request: &PanelRequest<'_>,
    body: Option<&str>,
    client: &Client,
    endpoints: &Endpoints,
    outside: &OutsideLog,
) -> (usize, (Outcome, Answer)) {
    (
        i,
        panel(plan, request, body, client, endpoints, outside).await,
    )
}

/// One panel's request: one `/api/ds/query` through Grafana, or (straight to
/// InfluxDB) one `/query` per target in turn, as Grafana's backend sends them.
async fn panel(
    plan: &ViewerPlan,
    request: &PanelRequest<'_>,
    body: Option<&str>,
    client: &Client,
    endpoints: &Endpoints,
    outside: &OutsideLog,
) -> (Outcome, Answer) {
    let mut answer = Answer::default();
    if let Some(body) = body {
        let call = QueryCall::DsQuery {
            body,
            dashboard_uid: &plan.dashboard.uid,
            datasource_uid: &request.panel.datasource.uid,
            panel_id: Some(request.panel.id.max(0) as u64),
        };
        let reading = endpoints
            .reading(&call, false)
            .counting(Some(AnswerTotals::GRAFANA_FRAME));
        let outcome = request::send(endpoints.query(client, call), reading, |s, b| {
            answer.add(b);
            judge_query(s, b, false)
        })
        .await;
        return (outcome, answer);
    }
    let mut total = Outcome {
        status: 200,
        elapsed: Duration::ZERO,
        judged: Judged::success(),
        retry_after: None,
    };
    let mut sent = 0;
    for (q, target) in request.queries.iter().zip(&request.panel.targets) {
        let flux;
        let call = match (&q.influxql, sends_flux(endpoints)) {
            (Some(influxql), _) => QueryCall::InfluxQl(influxql),
            (None, true) => {
                let ctx = FluxContext {
                    from_ms: request.from_ms,
                    to_ms: request.to_ms,
                    interval_ms: request.interval_ms,
                    default_bucket: endpoints.database(),
                    organization: endpoints.org(),
                };
                flux = flux::expand(&q.text, &ctx, &target.flux_options);
                QueryCall::Flux(&flux)
            }
            (None, false) => continue,
        };
        // One row per panel: its queries after the first are counted apart.
        if sent > 0 {
            outside.add(PANEL_EXTRA_QUERY, QUERY, 1);
        }
        sent += 1;
        let marker = matches!(call, QueryCall::InfluxQl(_)).then_some(AnswerTotals::INFLUX_SERIES);
        let reading = endpoints.reading(&call, false).counting(marker);
        let outcome = request::send(endpoints.query(client, call), reading, |s, b| {
            answer.add(b);
            judge_query(s, b, false)
        })
        .await;
        total.elapsed += outcome.elapsed;
        total.status = outcome.status;
        if !outcome.judged.ok {
            total.judged = outcome.judged;
            break;
        }
    }
    (total, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use crate::workload::dashboard::Selections;

    fn plan(seed: u64) -> ViewerPlan {
        plan_with(seed, "")
    }

    /// A plan of the shipped dashboard with `viewers` lines added to `[viewers]`.
    fn plan_with(seed: u64, viewers: &str) -> ViewerPlan {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = format!(
            "seed = {seed}\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n{viewers}\n\
             [viewers.variables.project]\nall = 1\none = 1\nsome = 1\n[viewers.variables.user]\nall = 1\none = 2\n"
        );
        let scenario = Scenario::parse(&text, &root.join("scenarios/x.toml")).unwrap();
        let sandbox = url::Url::parse("http://127.0.0.1:1").unwrap();
        let endpoints = Endpoints::new(&scenario.target, Some(&sandbox));
        ViewerPlan::new(
            scenario.viewers.as_ref().unwrap(),
            &scenario.target,
            &endpoints,
            seed,
        )
    }

    /// The ranges and variable values a viewer with this RNG seed picks over 50 visits.
    fn choices(plan: &ViewerPlan, rng_seed: u64) -> Vec<(usize, Selections)> {
        let mut res = Resolution::saved(&plan.dashboard);
        let values: Vec<String> = ["Proj-01", "Proj-02", "Proj-03", "Proj-04"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for i in 0..plan.dashboard.variables.len() {
            res.answer(i, &values);
        }
        let mut state = ViewerState {
            rng: ChaCha8Rng::seed_from_u64(rng_seed),
            phase: Phase::Open,
            range: 0,
            res,
            due: Duration::ZERO,
            visits: 0,
            number: 0,
            idle: false,
            _live: None,
        };
        (0..50)
            .map(|_| {
                state.range = plan.pick_range(&mut state.rng);
                choose_selections(plan, &mut state);
                (state.range, state.res.selections.clone())
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_choices_and_another_seed_others() {
        let a = plan(7);
        assert_eq!(
            choices(&a, 1),
            choices(&plan(7), 1),
            "same seed, same sequence"
        );
        assert_ne!(
            choices(&a, 1),
            choices(&a, 2),
            "another viewer, another sequence"
        );
        let picked = choices(&a, 1);
        let ranges: std::collections::BTreeSet<usize> = picked.iter().map(|(r, _)| *r).collect();
        assert!(
            ranges.len() > 2,
            "the weighted mix is drawn from: {ranges:?}"
        );
        let project = a
            .dashboard
            .variables
            .iter()
            .position(|v| v.name == "project")
            .unwrap();
        let kinds: std::collections::BTreeSet<usize> = picked
            .iter()
            .map(|(_, s)| match &s.0[project] {
                Selection::All => 0,
                Selection::Values(v) => v.len().min(2),
            })
            .collect();
        assert_eq!(
            kinds,
            [0, 1, 2].into(),
            "All, one value and several values all occur"
        );
    }

    #[test]
    fn a_pinned_value_is_every_viewers_choice() {
        let p = plan_with(7, "[viewers.variables.client]\nvalue = \"Proj-03\"");
        let client = p
            .dashboard
            .variables
            .iter()
            .position(|v| v.name == "client")
            .unwrap();
        for (_, s) in choices(&p, 1) {
            assert_eq!(s.0[client], Selection::Values(vec!["Proj-03".into()]));
        }
        let all = plan_with(7, "[viewers.variables.client]\nvalue = \"$__all\"");
        assert!(choices(&all, 1)
            .iter()
            .all(|(_, s)| s.0[client] == Selection::All));
    }

    /// When each of `n` viewers arriving at 10 s first loads, relative to its arrival.
    fn first_delays(plan: &ViewerPlan, n: usize) -> Vec<Duration> {
        let arrival = Duration::from_secs(10);
        (0..n)
            .map(|i| ViewerState::new(plan, i, i as u64, arrival, None).due - arrival)
            .collect()
    }

    #[test]
    fn first_loads_start_at_a_seeded_random_phase_over_one_refresh_period() {
        let a = plan(7);
        assert_eq!(a.refresh, Some(Duration::from_secs(30)), "the dashboard's");
        let delays = first_delays(&a, 60);
        assert_eq!(delays, first_delays(&plan(7), 60), "same seed, same phases");
        assert_ne!(delays, first_delays(&plan(8), 60), "another seed, others");
        assert!(delays.iter().all(|d| *d < Duration::from_secs(30)));
        // Spread over the whole period, not bunched: every sixth of it is used.
        let mut sixths = [0; 6];
        for d in &delays {
            sixths[(d.as_secs() / 5) as usize] += 1;
        }
        assert!(sixths.iter().all(|n| *n > 0), "{sixths:?}");
        // The phase comes from the viewer's own RNG: its choices stay seeded too.
        let mut x = ViewerState::new(&a, 3, 0, Duration::ZERO, None);
        let mut y = ViewerState::new(&plan(7), 3, 0, Duration::from_secs(99), None);
        assert_eq!(x.due + Duration::from_secs(99), y.due);
        assert_eq!(a.pick_range(&mut x.rng), a.pick_range(&mut y.rng));

        // Refresh off: over the longest think time.
        let off = plan_with(7, "refresh = \"off\"\nthink_time = \"2s..8s\"");
        let delays = first_delays(&off, 60);
        assert!(delays.iter().all(|d| *d < Duration::from_secs(8)));
        assert!(delays.iter().any(|d| *d >= Duration::from_secs(6)));
        assert!(delays.iter().any(|d| *d < Duration::from_secs(2)));
    }
}
