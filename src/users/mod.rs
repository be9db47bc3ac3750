//! The Goose scenarios: dashboard viewers and the sync job, built from the
//! resolved scenario as closure transactions (one module per kind of user).
//!
//! Goose counts all users together; dashload's stages count viewers, with a fixed
//! number of sync users. Goose builds its user list by walking scenarios in
//! registration order (`Serial` scheduler) and launches users from the *end* of that
//! list, so registering the viewers first (weight = total − sync users) and one
//! sync scenario per sync user (weight 1 each, so no common divisor shuffles the
//! list) makes the sync users launch first and stay, while viewers come and go.

pub mod ingest_log;
pub mod live_log;
pub mod live_viewer;
pub mod numbering;
pub(crate) mod request;
pub mod request_log;
pub mod sync;
pub mod viewer;

use std::sync::Arc;

use goose::prelude::*;
use goose::GooseScheduler;

use crate::error::{Error, Result};
use crate::live::Live;
use crate::scenario::Scenario;
use crate::target::outside_log::OutsideLog;
use crate::target::Endpoints;
pub use ingest_log::IngestLog;

/// Everything users share during a run.
pub struct RunContext {
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// Where requests go.
    pub endpoints: Endpoints,
    /// The embedded sandbox's URL, when there is one.
    pub sandbox_url: Option<url::Url>,
    /// Live counters and the ladder's window.
    pub live: Arc<Live>,
    /// One row per batch write.
    pub ingest: IngestLog,
    /// The viewers' precomputed dashboard, when the scenario has viewers.
    pub viewer: Option<viewer::ViewerPlan>,
    /// The sync job's precomputed setup.
    pub sync: sync::SyncPlan,
    /// HTTP calls users make outside the request log, for `run.json`.
    pub outside: OutsideLog,
    /// The run's end as requests see it: every transaction runs under it.
    pub run_end: crate::run_end::RunEnd,
    /// Goose's clock zero (the request log's `elapsed` 0), as the first
    /// transaction sees it: the run's own clock (windows, `server.csv`) started
    /// before it, and the report needs the difference.
    pub goose_started: std::sync::OnceLock<std::time::Instant>,
    /// `requests.csv`, flushed every second; each user's log is routed to it
    /// at its first step. `None`: Goose writes its own request log.
    pub request_log: Option<request_log::RequestLog>,
    /// `[live]`: the viewers' Grafana Live sessions and their publisher.
    pub live_viewers: Option<live_viewer::LivePlan>,
}

impl RunContext {
    /// Prepare what users need, once per run.
    pub fn new(
        scenario: Arc<Scenario>,
        endpoints: Endpoints,
        sandbox_url: Option<url::Url>,
        live: Arc<Live>,
        ingest: IngestLog,
    ) -> Result<RunContext> {
        let viewer = scenario
            .viewers
            .as_ref()
            .map(|v| viewer::ViewerPlan::new(v, &scenario.target, &endpoints, scenario.seed));
        let sync = sync::SyncPlan::new(&scenario, sandbox_url.as_ref());
        let live_viewers = match &scenario.live {
            Some(live) => {
                let log = live_log::LiveLog::create(&ingest.path().with_file_name(live_log::LIVE))?;
                Some(live_viewer::LivePlan::new(live, &endpoints, log)?)
            }
            None => None,
        };
        Ok(RunContext {
            scenario,
            endpoints,
            sandbox_url,
            live,
            ingest,
            viewer,
            sync,
            outside: OutsideLog::default(),
            run_end: Default::default(),
            goose_started: Default::default(),
            request_log: None,
            live_viewers,
        })
    }
}

/// Register the viewer and sync scenarios so that `total_users` users launch as
/// the module doc explains.
pub fn register(
    mut attack: GooseAttack,
    context: Arc<RunContext>,
    total_users: usize,
) -> Result<GooseAttack> {
    let goose = Error::from;
    let sync_users = context.scenario.sync.users.min(total_users);
    let viewers = total_users - sync_users;
    let host = context
        .endpoints
        .base()
        .as_str()
        .trim_end_matches('/')
        .to_string();
    if viewers > 0 {
        if context.viewer.is_none() {
            return Err(Error::Usage(
                "the load shape starts viewers, but the scenario has no [viewers]".into(),
            ));
        }
        let c = context.clone();
        let view: TransactionFunction = Arc::new(move |user| {
            let c = c.clone();
            c.goose_started.get_or_init(|| user.started);
            if let Some(log) = &c.request_log {
                log.adopt(user);
            }
            Box::pin(async move { c.run_end.scope(viewer::step(user, &c), Ok(())).await })
        });
        attack = attack.register_scenario(
            goose::goose::Scenario::new("dashboard viewer")
                .set_host(&host)
                .set_weight(viewers)
                .map_err(goose)?
                .register_transaction(Transaction::new(view).set_name("view")),
        );
    }
    for n in 1..=sync_users {
        let c = context.clone();
        let sync_step: TransactionFunction = Arc::new(move |user| {
            let c = c.clone();
            c.goose_started.get_or_init(|| user.started);
            if let Some(log) = &c.request_log {
                log.adopt(user);
            }
            Box::pin(async move { c.run_end.scope(sync::step(user, &c), Ok(())).await })
        });
        let name = if sync_users == 1 {
            "sync job".to_string()
        } else {
            format!("sync job {n}")
        };
        attack = attack.register_scenario(
            goose::goose::Scenario::new(&name)
                .set_host(&host)
                .set_weight(1)
                .map_err(goose)?
                .register_transaction(Transaction::new(sync_step).set_name("sync")),
        );
    }
    Ok(attack.set_scheduler(GooseScheduler::Serial))
}
