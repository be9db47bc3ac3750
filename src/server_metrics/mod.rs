//! The server's side of a run: the target's own metrics, scraped during the
//! run and left in the run folder as `server.csv`, so the report can put the
//! server's figures beside the client's and check the client's HTTP counts
//! against the server's own counters.
//!
//! InfluxDB 1.x (and the sandbox) serve `/debug/vars` JSON, InfluxDB 2.x and
//! Grafana Prometheus text at `/metrics` ([`parse`]). A background task
//! ([`scrape`]) asks every `[server_metrics] interval` on an HTTP client of its
//! own, with a short timeout: no scrape is load, none is in the request log,
//! and a scrape that fails is a gap (a `scrape_error` row), never a failed run.
//!
//! `server.csv` is long and compact: `elapsed_ms,metric,value`, one row per
//! figure per scrape, `elapsed_ms` when the scrape was sent (the attack's
//! clock, as the request log), and a `scrape_ms` row saying how long the
//! answer took: the server's snapshot was taken somewhere in between.

pub mod parse;
pub mod scrape;

use std::path::Path;
use std::time::Duration;

use crate::runfolder::input;
use crate::scenario::{Auth, TargetKind};

/// dashload's names for what servers count, as `server.csv` writes them. Counters
/// only grow (their rate over an interval is the figure); gauges are levels.
pub mod metric {
    /// Counter: every HTTP request the server answered (scrapes included).
    pub const HTTP_REQUESTS: &str = "http_requests";
    /// Counter: requests to a query endpoint (`/query`, `/api/v2/query`, `/api/ds/query`).
    pub const QUERY_REQUESTS: &str = "query_requests";
    /// Counter: requests to a write endpoint (`/write`, `/api/v2/write`).
    pub const WRITE_REQUESTS: &str = "write_requests";
    /// Counter: `/ping` requests.
    pub const PING_REQUESTS: &str = "ping_requests";
    /// Counter: seconds spent answering query requests (their durations summed).
    pub const QUERY_SECONDS: &str = "query_seconds";
    /// Counter: points the server stored.
    pub const POINTS_WRITTEN: &str = "points_written";
    /// Counter: points the server failed or dropped.
    pub const WRITE_ERRORS: &str = "write_errors";
    /// Counter: answers with a 4xx status.
    pub const HTTP_4XX: &str = "http_4xx";
    /// Counter: answers with a 5xx status.
    pub const HTTP_5XX: &str = "http_5xx";
    /// Counter: Grafana's data source calls (and proxy calls) not answered 2xx.
    pub const DATASOURCE_ERRORS: &str = "datasource_errors";
    /// Gauge: queries executing now.
    pub const QUERIES_ACTIVE: &str = "queries_active";
    /// Gauge: heap bytes in use.
    pub const HEAP_BYTES: &str = "heap_bytes";
    /// Gauge: resident memory, bytes.
    pub const RSS_BYTES: &str = "rss_bytes";
    /// Gauge: Go goroutines.
    pub const GOROUTINES: &str = "goroutines";
    /// Counter: the server process's CPU time, seconds.
    pub const CPU_SECONDS: &str = "cpu_seconds";
    /// Counter: result cache hits (the sandbox's cache).
    pub const CACHE_HITS: &str = "cache_hits";
    /// Counter: result cache misses.
    pub const CACHE_MISSES: &str = "cache_misses";
    /// Counter: requests refused because a worker pool was full (the sandbox's 503s).
    pub const REJECTED_BUSY: &str = "rejected_busy";
    /// Per scrape: how long its answer took, ms (the snapshot is somewhere in it).
    pub const SCRAPE_MS: &str = "scrape_ms";
    /// Per failed scrape: 1 (a gap in the figures).
    pub const SCRAPE_ERROR: &str = "scrape_error";
}

/// The header of `server.csv`.
pub const HEADER: &str = "elapsed_ms,metric,value";

/// File name in the run folder.
pub const FILE: &str = "server.csv";

/// The default path of the metrics endpoint on a target of `kind`.
pub fn default_path(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Influxdb1 | TargetKind::Sandbox => "/debug/vars",
        TargetKind::Influxdb2 | TargetKind::Grafana => "/metrics",
    }
}

/// How long one scrape may take: short, so a stuck server leaves a gap, not a
/// pile of scrapes.
pub fn scrape_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// `[server_metrics]`, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMetrics {
    /// Scrape at all (on by default).
    pub enabled: bool,
    /// The endpoint when it is not the target's own (`<target>/debug/vars` or `/metrics`).
    pub url: Option<url::Url>,
    /// Credentials for `url`; `None`: the target's own when `url` is unset, none otherwise.
    pub auth: Option<Auth>,
    /// Time between scrapes.
    pub interval: Duration,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            enabled: true,
            url: None,
            auth: None,
            interval: Duration::from_secs(1),
        }
    }
}

/// One scrape as read back from `server.csv`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// When it was sent, ms since the attack started.
    pub elapsed_ms: u64,
    /// How long its answer took, ms; `None` for a failed scrape.
    pub scrape_ms: Option<u64>,
    /// Its figures (empty for a failed scrape).
    pub figures: std::collections::BTreeMap<String, f64>,
}

impl Sample {
    /// True when the scrape answered.
    pub fn ok(&self) -> bool {
        self.scrape_ms.is_some()
    }

    /// A figure, when the server gave it.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.figures.get(metric).copied()
    }
}

/// Read `server.csv`: the scrapes in time order. `Ok(None)` when there is no
/// such file; rows that cannot be read are skipped and counted.
pub fn read(path: &Path) -> crate::Result<Option<(Vec<Sample>, u64)>> {
    let text = match input::read_text(path, input::AUX_CAP) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(crate::Error::io(path, e)),
    };
    let mut samples: Vec<Sample> = Vec::new();
    let mut bad = 0u64;
    for line in text.lines().skip(1) {
        let mut parts = line.splitn(3, ',');
        let (Some(t), Some(m), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
            bad += 1;
            continue;
        };
        let (Ok(t), Ok(v)) = (t.parse::<u64>(), v.parse::<f64>()) else {
            bad += 1;
            continue;
        };
        if samples.last().is_none_or(|s| s.elapsed_ms != t) {
            samples.push(Sample {
                elapsed_ms: t,
                ..Sample::default()
            });
        }
        let s = samples.last_mut().expect("pushed above");
        match m {
            metric::SCRAPE_MS => s.scrape_ms = Some(v.max(0.0) as u64),
            metric::SCRAPE_ERROR => {}
            _ => {
                s.figures.insert(m.to_string(), v);
            }
        }
    }
    samples.sort_by_key(|s| s.elapsed_ms);
    Ok(Some((samples, bad)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_csv_reads_back_into_scrapes_with_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(
            &path,
            "elapsed_ms,metric,value\n0,query_requests,5\n0,scrape_ms,3\n\
             1000,scrape_error,1\n2000,query_requests,9\n2000,heap_bytes,1.5e6\n2000,scrape_ms,2\nbad row\n",
        )
        .unwrap();
        let (s, bad) = read(&path).unwrap().unwrap();
        assert_eq!(bad, 1);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].get(metric::QUERY_REQUESTS), Some(5.0));
        assert!(!s[1].ok(), "a failed scrape is a gap");
        assert_eq!(s[2].scrape_ms, Some(2));
        assert_eq!(s[2].get(metric::HEAP_BYTES), Some(1.5e6));
        assert!(read(&dir.path().join("none.csv")).unwrap().is_none());
    }
}
