//! HTTP calls made outside the request log, counted by purpose and endpoint,
//! so that the log's HTTP rows plus these equal what the server saw (issue 8).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::runfolder::OutsideLogCalls;

/// Preflight checks before any user starts (`/ping`, `SHOW DATABASES`, …).
pub const PREFLIGHT: &str = "preflight";
/// The sync job's freshness probe: queries until a written point is visible.
pub const FRESHNESS_POLL: &str = "freshness_poll";
/// Status polls of a triggered sync (`sync run` is one row for all of them).
pub const SYNC_STATUS_POLL: &str = "sync_status_poll";
/// A panel with several queries is one `panel …` row; its second and later queries.
pub const PANEL_EXTRA_QUERY: &str = "panel_extra_query";

/// Endpoint kinds, as InfluxDB's `httpd` statistics count them.
pub const PING: &str = "ping";
/// `/query`, `/api/v2/query`, `/api/ds/query`.
pub const QUERY: &str = "query";
/// Any other endpoint (Grafana's health and dashboards, a sync service's status, …).
pub const OTHER: &str = "other";

/// Counts shared by the preflight and every user; a mutex is enough, as these
/// calls are a small share of the load.
#[derive(Debug, Default)]
pub struct OutsideLog(Mutex<BTreeMap<(&'static str, &'static str), u64>>);

impl OutsideLog {
    /// Count `n` calls made for `purpose` to an endpoint of `kind`.
    pub fn add(&self, purpose: &'static str, kind: &'static str, n: u64) {
        if n > 0 {
            *self.lock().entry((purpose, kind)).or_default() += n;
        }
    }

    /// Fold in another's counts.
    pub fn absorb(&self, other: &OutsideLog) {
        let theirs = other.lock().clone();
        let mut mine = self.lock();
        for (key, n) in theirs {
            *mine.entry(key).or_default() += n;
        }
    }

    /// The counts for `run.json`: purpose → endpoint kind → calls.
    pub fn snapshot(&self) -> OutsideLogCalls {
        let mut out = OutsideLogCalls::new();
        for ((purpose, kind), n) in self.lock().iter() {
            out.entry(purpose.to_string())
                .or_default()
                .insert(kind.to_string(), *n);
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, &'static str), u64>> {
        // A panic while counting leaves a count, not a broken invariant.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fold_by_purpose_and_endpoint() {
        let a = OutsideLog::default();
        a.add(PREFLIGHT, PING, 1);
        a.add(PREFLIGHT, QUERY, 1);
        let b = OutsideLog::default();
        b.add(FRESHNESS_POLL, QUERY, 3);
        b.add(FRESHNESS_POLL, QUERY, 2);
        b.add(PANEL_EXTRA_QUERY, QUERY, 0);
        a.absorb(&b);
        let s = a.snapshot();
        assert_eq!(s["preflight"]["ping"], 1);
        assert_eq!(s["preflight"]["query"], 1);
        assert_eq!(s["freshness_poll"]["query"], 5);
        assert!(
            !s.contains_key("panel_extra_query"),
            "zero counts are not listed"
        );
    }
}
