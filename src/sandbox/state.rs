//! What every handler shares: the store, the pools and cache, the Toggl world, and the
//! counters, behind one cheap-to-clone [`SandboxState`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use super::capacity::{Pool, ResultCache};
use super::http_toggl::TogglState;
use super::influxql::{self, QueryOutput, Statement};
use super::lineproto::{self, Precision};
use super::store::Store;
use super::{SandboxConfig, SandboxCounters};
use crate::workload::toggl::{backfill_line_protocol, World, WorldConfig};

/// Shared state of one sandbox; clones share everything.
#[derive(Clone)]
pub struct SandboxState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: SandboxConfig,
    pub store: RwLock<Store>,
    pub queries: Pool,
    pub writes: Pool,
    pub cache: Option<ResultCache<QueryOutput>>,
    pub counters: Counters,
    pub toggl: TogglState,
    world: OnceLock<World>,
    /// Built-in faults switched on now.
    pub faults: super::faults::FaultSet,
    /// Grafana Live channels, subscribers and counters.
    pub live: super::http_live::LiveHub,
}

/// Live counters, read as a [`SandboxCounters`] snapshot.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: Mutex<BTreeMap<String, u64>>,
    pub queries: super::query_counts::QueryCounts,
    pub points_written: AtomicU64,
    pub statements: AtomicU64,
    pub cost: AtomicU64,
    pub rejected_busy: AtomicU64,
    pub rate_limited: AtomicU64,
    pub quota_exceeded: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    pub query_errors: AtomicU64,
    /// What `/debug/vars` serves (influxd's `httpd` and `queryExecutor` figures).
    pub http: super::http_debug::HttpCounters,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn request(&self, key: String) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(0) += 1;
    }

    fn snapshot(&self) -> SandboxCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SandboxCounters {
            requests: self
                .requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            queries: self.queries.snapshot(),
            points_written: get(&self.points_written),
            statements_executed: get(&self.statements),
            query_cost: get(&self.cost),
            rejected_busy: get(&self.rejected_busy),
            rate_limited: get(&self.rate_limited),
            quota_exceeded: get(&self.quota_exceeded),
            cache_hits: get(&self.cache_hits),
            cache_misses: get(&self.cache_misses),
            query_errors: get(&self.query_errors),
            live: Default::default(),
        }
    }
}

/// Now, ns since the epoch.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl SandboxState {
    /// Fresh state for `config`: its database created, nothing seeded yet.
    pub fn new(config: SandboxConfig) -> SandboxState {
        let cap = &config.capacity;
        let queries = Pool::new(
            cap.query_workers,
            cap.query_queue,
            cap.query_base_cost,
            cap.query_cost_per_1k,
        )
        .stalling(cap.stall_when_full);
        let writes = Pool::new(
            cap.write_workers,
            cap.write_queue,
            std::time::Duration::ZERO,
            cap.write_cost_per_1k,
        );
        let cache = cap.cache.clone().map(ResultCache::new);
        let store = RwLock::new(Store::with_databases([config.database.as_str()]));
        let toggl = TogglState::new(config.toggl.clone());
        SandboxState {
            inner: Arc::new(Inner {
                config,
                store,
                queries,
                writes,
                cache,
                counters: Counters::default(),
                toggl,
                world: OnceLock::new(),
                faults: Default::default(),
                live: Default::default(),
            }),
        }
    }

    /// Write `seed_days` of generated history (ending now) into the database, as the
    /// write path would, without counting it as written points. Returns the points.
    pub fn seed(&self) -> u64 {
        let cfg = &self.inner.config;
        if cfg.seed_days == 0 {
            return 0;
        }
        let now_s = now_ns() / 1_000_000_000;
        let mut lp = Vec::new();
        backfill_line_protocol(cfg.seed, cfg.seed_days, now_s, &mut lp);
        let body = String::from_utf8_lossy(&lp);
        let batch = lineproto::parse_batch(&body, Precision::Seconds, now_ns());
        let mut store = self.inner.store.write().unwrap_or_else(|e| e.into_inner());
        let db = store
            .database_mut(&cfg.database)
            .expect("the configured database exists at start");
        lineproto::write_batch(db, &batch).written
    }

    /// What has been counted so far.
    pub fn counters(&self) -> SandboxCounters {
        SandboxCounters {
            live: self.inner.live.counters(),
            ..self.inner.counters.snapshot()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// The Toggl world (generated on first use from the sandbox seed).
    pub(crate) fn world(&self) -> &World {
        self.inner
            .world
            .get_or_init(|| World::generate(self.inner.config.seed, &WorldConfig::default()))
    }

    /// Run read statements through the cache and the query pool. `Err(Busy)` when
    /// the pool is full. Statement errors are inside the output.
    pub(crate) async fn run_statements(
        &self,
        db: Option<String>,
        cache_key_query: &str,
        statements: Vec<Statement>,
    ) -> Result<Arc<QueryOutput>, super::capacity::Busy> {
        let inner = &self.inner;
        inner.counters.queries.count(cache_key_query);
        let cacheable = !statements.iter().any(Statement::writes);
        let key = match (&inner.cache, cacheable) {
            (Some(cache), true) => {
                let key = cache.key(db.as_deref().unwrap_or(""), cache_key_query);
                if let Some(hit) = cache.get(&key) {
                    Counters::add(&inner.counters.cache_hits, 1);
                    return Ok(hit);
                }
                Counters::add(&inner.counters.cache_misses, 1);
                Some(key)
            }
            _ => None,
        };
        let state = self.clone();
        let n = statements.len() as u64;
        let out = inner
            .queries
            .run(move || {
                let out = influxql::execute(
                    &state.inner.store,
                    db.as_deref(),
                    &statements,
                    now_ns(),
                    state.inner.config.limits,
                );
                let cost = out.cost;
                (out, cost, n)
            })
            .await;
        let out = match out {
            Ok(out) => Arc::new(out),
            Err(busy) => {
                Counters::add(&inner.counters.rejected_busy, 1);
                return Err(busy);
            }
        };
        Counters::add(&inner.counters.statements, n);
        Counters::add(&inner.counters.cost, out.cost);
        let errors = out.results.iter().filter(|r| r.error.is_some()).count();
        Counters::add(&inner.counters.query_errors, errors as u64);
        if let (Some(cache), Some(key)) = (&inner.cache, key) {
            cache.put(key, Arc::clone(&out));
        }
        Ok(out)
    }
}
