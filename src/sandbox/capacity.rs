//! The load model: bounded worker pools with a queue limit, service time that grows with
//! the work a request does, and an optional result cache.
//!
//! A request first takes a place in its pool (`workers` running + `queue` waiting). When
//! every place is taken it is refused at once — the handler answers 503 with
//! `Retry-After: 1` — so overload degrades into fast errors instead of a pile-up. Once a
//! worker is free the job runs for real on tokio's blocking pool (never on the runtime's
//! core threads), then the worker stays busy for a calibrated extra time,
//! `base_cost + cost_per_1k × cost / 1000`, where `cost` is the points the query scanned
//! plus the rows it emitted. The extra time is a sleep, not CPU, so the knee depends on
//! the model rather than on how fast this machine is.
//!
//! # Default calibration (the lead tunes after integration)
//!
//! Measured on the default pre-seed (seed 42, 90 days × 50 users = 18 396 points) with
//! the 13 queries one load of `scenarios/dashboards/toggl-overview.json` sends (panels,
//! all variables "All", `$__interval` at 940 px with the panels' 1 h minimum):
//!
//! | range | cost per refresh (points scanned + rows) | real execution, release / debug |
//! |------:|-----------------------------------------:|--------------------------------:|
//! |  7 d  |  27 k |  5 ms /  78 ms |
//! | 30 d  | 109 k | 17 ms / 163 ms |
//! | 90 d  | 283 k | 52 ms / 421 ms |
//!
//! With the scenario's range mix (20 % 24 h, 50 % 7 d, 20 % 30 d, 10 % 90 d) a refresh
//! costs ≈ 67 k units, ≈ 5 k per query. At the defaults (6 ms per 1 000 units, 2 ms per
//! statement) that is ≈ 0.43 s of worker time per refresh, so 2 × 2 cores = 4 workers
//! serve ≈ 9 refreshes/s. Real execution adds ≈ 3 % in a release build (≈ 25 % in a
//! debug build), so the knee depends on the model, not on this machine's CPU.
//! A viewer refreshing every 30 s with a few seconds of think time asks ≈ 0.03
//! refreshes/s: saturation at ≈ 300 viewers, with latency climbing from ≈ 200–230
//! (utilisation ≳ 0.7); every 15 s (`scenarios/staged.toml`) halves that, ≈ 150. 503s
//! start once the 64-deep queue (≈ 0.5 s of waiting at saturation) overflows. The cache
//! is off by default: Grafana OSS does not cache, and with the cache on, viewers of the
//! same dashboard share results for 10 s and the knee moves far out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// How the pools and the cache are sized.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityConfig {
    /// Queries run at once (`/query` and `/api/ds/query`). Default 2 × CPU cores.
    pub query_workers: usize,
    /// Queries allowed to wait for a worker; more get 503. Default 64.
    pub query_queue: usize,
    /// Writes run at once. Default 2.
    pub write_workers: usize,
    /// Writes allowed to wait; more get 503. Default 16.
    pub write_queue: usize,
    /// Extra busy time of a query worker per statement. Default 2 ms.
    pub query_base_cost: Duration,
    /// Extra busy time per 1 000 points scanned or rows emitted. Default 6 ms.
    pub query_cost_per_1k: Duration,
    /// Extra busy time of a write worker per 1 000 points written. Default 2 ms.
    pub write_cost_per_1k: Duration,
    /// The result cache; `None` (the default) turns it off.
    pub cache: Option<CacheConfig>,
    /// Past the queue limit, stall instead of refusing: the request is
    /// accepted and never answered (until the client gives up), so overload
    /// turns into timeouts (a store that collapses) instead of fast 503s.
    /// Default false.
    pub stall_when_full: bool,
}

impl CapacityConfig {
    /// Multiply the extra busy time of queries by `query` and of writes by
    /// `write` (a scenario's `[sandbox]`: a slower stack on purpose).
    pub fn scale_costs(&mut self, query: f64, write: f64) {
        self.query_base_cost = self.query_base_cost.mul_f64(query);
        self.query_cost_per_1k = self.query_cost_per_1k.mul_f64(query);
        self.write_cost_per_1k = self.write_cost_per_1k.mul_f64(write);
    }
}

impl Default for CapacityConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CapacityConfig {
            query_workers: 2 * cores,
            query_queue: 64,
            write_workers: 2,
            write_queue: 16,
            query_base_cost: Duration::from_millis(2),
            query_cost_per_1k: Duration::from_millis(6),
            write_cost_per_1k: Duration::from_millis(2),
            cache: None,
            stall_when_full: false,
        }
    }
}

impl CapacityConfig {
    /// No extra service time, no cache: only real execution costs (for tests).
    pub fn unthrottled() -> CapacityConfig {
        CapacityConfig {
            query_base_cost: Duration::ZERO,
            query_cost_per_1k: Duration::ZERO,
            write_cost_per_1k: Duration::ZERO,
            ..CapacityConfig::default()
        }
    }
}

/// The result cache: keyed by database and normalised query, with time literals rounded
/// down to `bucket` so viewers a few seconds apart share an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// How long an entry lives. Default 10 s.
    pub ttl: Duration,
    /// Rounding of epoch-ms time literals in the key. Default 10 s.
    pub bucket: Duration,
    /// Most entries kept. Default 10 000.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: Duration::from_secs(10),
            bucket: Duration::from_secs(10),
            max_entries: 10_000,
        }
    }
}

/// A pool refused a request: every worker and queue place is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A bounded worker pool with a queue limit.
#[derive(Debug)]
pub struct Pool {
    workers: Arc<Semaphore>,
    admitted: AtomicUsize,
    places: usize,
    base_cost: Duration,
    cost_per_1k: Duration,
    /// Wait instead of refusing when full (`CapacityConfig::stall_when_full`).
    stall: bool,
}

/// Gives a pool place back when dropped (also when the request is cancelled).
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// A pool of `workers` with `queue` waiting places; service time as documented above.
    pub fn new(workers: usize, queue: usize, base_cost: Duration, cost_per_1k: Duration) -> Pool {
        let workers = workers.max(1);
        Pool {
            workers: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            places: workers + queue,
            base_cost,
            cost_per_1k,
            stall: false,
        }
    }

    /// The pool, stalling instead of refusing when `stall` (see
    /// [`CapacityConfig::stall_when_full`]).
    pub fn stalling(mut self, stall: bool) -> Pool {
        self.stall = stall;
        self
    }

    /// Requests in the pool now (running or waiting).
    pub fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Run `job` on the blocking pool once a worker is free, then keep the worker busy
    /// for the job's modelled cost. `job` returns its result, its cost and the number of
    /// statements (or batches) it ran. `Err(Busy)` when the pool is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce() -> (T, u64, u64) + Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.places {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            if self.stall {
                // Never answered: the client's timeout ends it (dropping this future).
                std::future::pending::<()>().await;
            }
            return Err(Busy);
        }
        let _place = Place(&self.admitted);
        let _permit = self
            .workers
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let (out, cost, units) = match tokio::task::spawn_blocking(job).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        let extra = self.base_cost * units.min(u64::from(u32::MAX)) as u32
            + self.cost_per_1k.mul_f64(cost as f64 / 1000.0);
        if !extra.is_zero() {
            tokio::time::sleep(extra).await;
        }
        Ok(out)
    }
}

/// A TTL cache of query results.
#[derive(Debug)]
pub struct ResultCache<V> {
    config: CacheConfig,
    entries: Mutex<HashMap<String, (Instant, Arc<V>)>>,
}

impl<V> ResultCache<V> {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        ResultCache {
            config,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key for `query` on `db`: whitespace collapsed, epoch-ms literals
    /// (`1763251234567ms`) rounded down to the bucket.
    pub fn key(&self, db: &str, query: &str) -> String {
        let bucket_ms = self.config.bucket.as_millis().max(1) as i64;
        let mut key = String::with_capacity(db.len() + query.len() + 1);
        key.push_str(db);
        key.push('\u{1f}');
        let mut words = query.split_whitespace().peekable();
        while let Some(w) = words.next() {
            key.push_str(&round_ms_literals(w, bucket_ms));
            if words.peek().is_some() {
                key.push(' ');
            }
        }
        key
    }

    /// A live entry.
    pub fn get(&self, key: &str) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.config.ttl)
            .map(|(_, v)| Arc::clone(v))
    }

    /// Store an entry, evicting expired ones (or everything) when full.
    pub fn put(&self, key: String, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.config.max_entries {
            let ttl = self.config.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.config.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }
}

/// Round every `<digits>ms` run of 12+ digits in `word` down to a multiple of `bucket_ms`.
fn round_ms_literals(word: &str, bucket_ms: i64) -> String {
    let bytes = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &word[start..i];
            let is_ms = word[i..].starts_with("ms") && digits.len() >= 12;
            match digits.parse::<i64>() {
                Ok(v) if is_ms => out.push_str(&(v - v.rem_euclid(bucket_ms)).to_string()),
                _ => out.push_str(digits),
            }
        } else {
            let c = word[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_round_time_literals_and_collapse_spaces() {
        let cache: ResultCache<u32> = ResultCache::new(CacheConfig::default());
        let a = cache.key(
            "toggl",
            "SELECT x  FROM m WHERE time >= 1763251201234ms and time <= 1763856009999ms",
        );
        let b = cache.key(
            "toggl",
            "SELECT x FROM m WHERE time >= 1763251205678ms and time <= 1763856001000ms",
        );
        assert_eq!(a, b);
        assert!(a.contains("1763251200000ms"));
        assert_ne!(
            a,
            cache.key(
                "other",
                "SELECT x FROM m WHERE time >= 1763251201234ms and time <= 1763856009999ms"
            )
        );
        cache.put(a.clone(), Arc::new(7));
        assert_eq!(cache.get(&b).as_deref(), Some(&7));
        assert_eq!(cache.get("missing"), None);
    }

    #[test]
    fn expired_entries_are_not_served() {
        let cache: ResultCache<u32> = ResultCache::new(CacheConfig {
            ttl: Duration::ZERO,
            ..CacheConfig::default()
        });
        cache.put("k".into(), Arc::new(1));
        assert_eq!(cache.get("k"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalling_pool_never_answers_past_its_limit() {
        let pool = Arc::new(Pool::new(1, 0, Duration::from_secs(1), Duration::ZERO).stalling(true));
        let p = Arc::clone(&pool);
        let first = tokio::spawn(async move { p.run(|| ((), 0, 1)).await });
        while pool.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        // Full: the next is neither served nor refused, however long one waits.
        let stalled = tokio::time::timeout(Duration::from_secs(60), pool.run(|| ((), 0, 1))).await;
        assert!(stalled.is_err(), "no answer: {stalled:?}");
        assert_eq!(first.await.unwrap(), Ok(()), "the admitted one is served");
        assert_eq!(pool.in_flight(), 0, "the stalled one took no place");
    }

    #[tokio::test]
    async fn a_full_pool_refuses_at_once_and_frees_places_after() {
        let pool = Arc::new(Pool::new(1, 1, Duration::from_millis(200), Duration::ZERO));
        let p1 = Arc::clone(&pool);
        let first = tokio::spawn(async move { p1.run(|| ((), 0, 1)).await });
        let p2 = Arc::clone(&pool);
        let second = tokio::spawn(async move { p2.run(|| ((), 0, 1)).await });
        // Let both take their places (one running, one queued).
        for _ in 0..100 {
            if pool.in_flight() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.in_flight(), 2);
        assert_eq!(pool.run(|| ((), 0, 1)).await, Err(Busy));
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(()));
        assert_eq!(pool.in_flight(), 0);
        assert_eq!(pool.run(|| (5, 0, 0)).await, Ok(5));
    }
}
