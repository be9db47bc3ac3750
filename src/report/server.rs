//! The server's side in the report: the target's own figures per window from
//! `server.csv`, and the count check — the HTTP calls dashload made (by
//! endpoint kind: query, write, ping) and the points it wrote, against the
//! deltas of the server's own counters over the same interval.
//!
//! The interval of a window is the one between the scrapes nearest its edges.
//! A call counts on the server when it arrives, somewhere between its start
//! and its end; a scrape's snapshot is taken somewhere between its send and its
//! answer. So a call is surely inside an interval when it lies wholly between
//! the two scrapes, and *may* be on either side when it overlaps one of them:
//! those calls bound what the scrape interval can explain. The server's count
//! must lie in `[sure − leaving, sure + entering]`; anything beyond it is a
//! measurement warning (dashload lost or double-counted something, or
//! something else loads the target). Calls counted outside the request log
//! (run.json's `http_outside_log`) have no time: the whole run counts them
//! (the preflight's come before the first scrape and are left out), a window
//! may hold any of them.

use serde::{Deserialize, Serialize};

use crate::runfolder::{RequestClass, RunMeta, StageWindow};
use crate::server_metrics::{metric, Sample};

/// Endpoint kinds checked, in order.
pub const KINDS: [&str; 4] = ["query", "write", "ping", "points"];

/// The server counter of each of [`KINDS`].
const COUNTERS: [&str; 4] = [
    metric::QUERY_REQUESTS,
    metric::WRITE_REQUESTS,
    metric::PING_REQUESTS,
    metric::POINTS_WRITTEN,
];

/// How far a scrape's instant may sit from where its row says, ms: the
/// scraper's clock starts a little before Goose's (both before the attack),
/// and the log's times are whole ms.
const SLACK_MS: u64 = 25;

/// The longest a scrape is taken to last when finding the ones a call overlaps.
const MAX_SCRAPE_MS: u64 = 10_000;

/// The kind index of a request-log row, when it is a checked HTTP call.
pub fn kind_of(class: RequestClass) -> Option<usize> {
    match class {
        RequestClass::PanelQuery | RequestClass::VariableQuery => Some(0),
        RequestClass::IngestBatch => Some(1),
        _ => None,
    }
}

/// The kind index of an outside-the-log endpoint kind (`run.json`).
fn outside_kind(kind: &str) -> Option<usize> {
    match kind {
        "query" => Some(0),
        "write" => Some(1),
        "ping" => Some(2),
        _ => None,
    }
}

/// Folds calls into the scrape intervals while the request log streams by.
#[derive(Debug, Clone)]
pub struct CountAcc {
    /// Successful scrapes: (sent, answered) ms.
    edges: Vec<(u64, u64)>,
    /// Per interval `k` (calls starting at or after scrape `k−1`'s send and
    /// before scrape `k`'s), per kind.
    starts: Vec<[u64; 4]>,
    /// Per scrape, per kind: calls overlapping it that started before it was sent.
    before: Vec<[u64; 4]>,
    /// Per scrape, per kind: calls overlapping it that started after it was sent.
    after: Vec<[u64; 4]>,
    /// Per interval, like `starts`: calls dropped in flight that may not have
    /// reached the server (a refresh replaced them before they were answered):
    /// they count toward the most the server can have seen, not the least.
    maybe: Vec<[u64; 4]>,
    /// Goose's clock zero on the scrapes' clock, ms (`goose_clock_offset_ms`):
    /// the logs' times are Goose's.
    offset_ms: i64,
}

impl CountAcc {
    /// For the successful scrapes of `samples` (in time order), with the logs'
    /// times `offset_ms` behind the scrapes' clock.
    pub fn new(samples: &[Sample], offset_ms: i64) -> CountAcc {
        let edges: Vec<(u64, u64)> = samples
            .iter()
            .filter_map(|s| Some((s.elapsed_ms, s.elapsed_ms + s.scrape_ms?)))
            .collect();
        let n = edges.len();
        CountAcc {
            edges,
            starts: vec![[0; 4]; n + 1],
            before: vec![[0; 4]; n],
            after: vec![[0; 4]; n],
            maybe: vec![[0; 4]; n + 1],
            offset_ms,
        }
    }

    /// A call (or `weight` points) of `kind` that ran from `start_ms` to `end_ms`
    /// (the logs' clock).
    pub fn record(&mut self, kind: usize, start_ms: u64, end_ms: u64, weight: u64) {
        let shift = |t: u64| t.saturating_add_signed(self.offset_ms);
        let (start_ms, end_ms) = (shift(start_ms), shift(end_ms));
        let k = self.edges.partition_point(|(p, _)| *p <= start_ms);
        self.starts[k][kind] += weight;
        let upto = self
            .edges
            .partition_point(|(p, _)| p.saturating_sub(SLACK_MS) <= end_ms);
        for i in (0..upto).rev() {
            let (p, q) = self.edges[i];
            if p + MAX_SCRAPE_MS + SLACK_MS < start_ms {
                break;
            }
            if q + SLACK_MS >= start_ms {
                if start_ms < p {
                    self.before[i][kind] += weight;
                } else {
                    self.after[i][kind] += weight;
                }
            }
        }
    }

    /// A request-log row: it ended at `elapsed_ms` (dashload records calls when
    /// they end) after `latency_us`.
    pub fn record_row(&mut self, class: RequestClass, elapsed_ms: u64, latency_us: u64) {
        if let Some(kind) = kind_of(class) {
            let start = elapsed_ms.saturating_sub(latency_us.div_ceil(1000));
            self.record(kind, start, elapsed_ms, 1);
        }
    }

    /// A request-log row of a call dropped in flight, which the server may or
    /// may not have received (see `maybe`).
    pub fn record_maybe_row(&mut self, class: RequestClass, elapsed_ms: u64, latency_us: u64) {
        if let Some(kind) = kind_of(class) {
            let start = elapsed_ms.saturating_sub(latency_us.div_ceil(1000));
            let k = self
                .edges
                .partition_point(|(p, _)| *p <= start.saturating_add_signed(self.offset_ms));
            self.maybe[k][kind] += 1;
        }
    }

    /// A stored batch of `points` (ingest.csv: it ended at `elapsed_ms`).
    pub fn record_batch(&mut self, elapsed_ms: u64, duration_us: u64, points: u64) {
        let start = elapsed_ms.saturating_sub(duration_us.div_ceil(1000));
        self.record(3, start, elapsed_ms, points);
    }

    /// Sure, leaving and entering counts of `kind` between scrapes `a` < `b`.
    fn between(&self, kind: usize, a: usize, b: usize) -> (u64, u64, u64) {
        let sure: u64 = self.starts[a + 1..=b].iter().map(|s| s[kind]).sum();
        let leaving = self.after[a][kind] + self.before[b][kind];
        let maybe: u64 = self.maybe[a..=b + 1].iter().map(|s| s[kind]).sum();
        let entering = self.before[a][kind] + self.after[b][kind] + maybe;
        (sure, leaving, entering)
    }
}

/// One line of the count check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountCheck {
    /// The window's name, or `whole run`.
    pub scope: String,
    /// `query`, `write`, `ping` (HTTP calls) or `points` (points written).
    pub kind: String,
    /// The interval checked, ms (between two scrapes).
    pub from_ms: u64,
    /// Its end, ms.
    pub to_ms: u64,
    /// What the server counted over it.
    pub server: u64,
    /// What dashload sent that surely falls in it.
    pub client: u64,
    /// The fewest dashload may have sent in it (calls overlapping a scrape may be outside).
    pub client_min: u64,
    /// The most (calls overlapping a scrape, and those outside the log without a time).
    pub client_max: u64,
    /// True when the server's count is within `client_min..=client_max`.
    pub matches: bool,
}

/// A window's server figures, beside the client's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerWindow {
    /// The window's name.
    pub window: String,
    /// Query requests per second the server counted.
    pub query_rps: Option<f64>,
    /// Its mean query time, ms.
    pub query_ms: Option<f64>,
    /// Points per second it stored.
    pub points_per_s: Option<f64>,
    /// Points it failed or dropped.
    pub write_errors: Option<f64>,
    /// Answers with a 4xx status.
    pub http_4xx: Option<f64>,
    /// Answers with a 5xx status.
    pub http_5xx: Option<f64>,
    /// Cores of CPU the server used (where exposed).
    pub cpu_cores: Option<f64>,
    /// Most heap bytes seen.
    pub heap_max: Option<f64>,
    /// Most resident bytes seen.
    pub rss_max: Option<f64>,
    /// Most goroutines seen.
    pub goroutines_max: Option<f64>,
    /// Most queries active at a scrape.
    pub queries_active_max: Option<f64>,
    /// Result cache hits ÷ lookups.
    pub cache_hit_ratio: Option<f64>,
}

/// One server figure over time, for the charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSeries {
    /// dashload's metric name (`server.csv`).
    pub metric: String,
    /// Counters: per second between scrapes (at the later scrape); levels: as scraped.
    pub points: Vec<(f64, f64)>,
}

/// The server's side of the run (`summary.json` → `server`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    /// Scrapes in `server.csv`.
    pub scrapes: u64,
    /// Of those, failed (gaps).
    pub failed_scrapes: u64,
    /// Rows of `server.csv` that could not be read.
    pub unreadable_rows: u64,
    /// The metrics the server gave.
    pub metrics: Vec<String>,
    /// Per window, the server's figures.
    pub windows: Vec<ServerWindow>,
    /// The count check, the whole run first, then per window and kind.
    pub count_check: Vec<CountCheck>,
    /// What did not add up, in words: also on the console and the page.
    pub measurement_warnings: Vec<String>,
    /// Figures over time (ms → s on the x axis).
    pub series: Vec<ServerSeries>,
    /// Which server figure turned first as viewers grew, or that the server
    /// looked idle while client latency rose (see `diagnose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
}

/// The scrape nearest `t` among `edges` (sends).
fn nearest(edges: &[(u64, u64)], t: u64) -> Option<usize> {
    let i = edges.partition_point(|(p, _)| *p < t);
    [i.checked_sub(1), (i < edges.len()).then_some(i)]
        .into_iter()
        .flatten()
        .min_by_key(|&j| edges[j].0.abs_diff(t))
}

/// Server figures and the count check from `samples`, with the calls `acc`
/// folded and `meta`'s windows and outside-the-log counts.
pub fn analyse(
    samples: &[Sample],
    unreadable_rows: u64,
    acc: Option<&CountAcc>,
    meta: &RunMeta,
    windows: &[StageWindow],
    missing_logs: Option<&str>,
) -> ServerSummary {
    let ok: Vec<&Sample> = samples.iter().filter(|s| s.ok()).collect();
    let mut metrics: Vec<String> = ok.iter().flat_map(|s| s.figures.keys().cloned()).collect();
    metrics.sort();
    metrics.dedup();
    let mut out = ServerSummary {
        scrapes: samples.len() as u64,
        failed_scrapes: samples.iter().filter(|s| !s.ok()).count() as u64,
        unreadable_rows,
        metrics,
        series: series(&ok, meta.counters.goose_clock_offset_ms.unwrap_or(0)),
        ..ServerSummary::default()
    };
    if let Some(acc) = acc {
        count_check(&mut out, &ok, acc, meta, windows, missing_logs);
    }
    out.windows = windows
        .iter()
        .filter_map(|w| window_figures(&ok, w))
        .collect();
    if out.scrapes > 0 && out.failed_scrapes * 2 > out.scrapes {
        out.measurement_warnings.push(format!(
            "{} of {} scrapes of the server's metrics failed: its figures have gaps",
            out.failed_scrapes, out.scrapes
        ));
    }
    out
}

/// Outside-the-log calls per kind, the preflight's left out (they come before the first scrape).
fn untimed(meta: &RunMeta) -> [u64; 4] {
    let mut n = [0u64; 4];
    for (purpose, kinds) in &meta.counters.http_outside_log {
        if purpose == crate::target::outside_log::PREFLIGHT {
            continue;
        }
        for (kind, calls) in kinds {
            if let Some(k) = outside_kind(kind) {
                n[k] += calls;
            }
        }
    }
    n
}

fn count_check(
    out: &mut ServerSummary,
    ok: &[&Sample],
    acc: &CountAcc,
    meta: &RunMeta,
    windows: &[StageWindow],
    missing_logs: Option<&str>,
) {
    if acc.edges.len() < 2 {
        return;
    }
    let untimed = untimed(meta);
    let last = acc.edges.len() - 1;
    let mut scopes: Vec<(String, usize, usize, bool)> = vec![("whole run".into(), 0, last, true)];
    for w in windows {
        if let (Some(a), Some(b)) = (
            nearest(&acc.edges, w.start_ms),
            nearest(&acc.edges, w.end_ms),
        ) {
            if a < b {
                scopes.push((w.name.clone(), a, b, false));
            }
        }
    }
    for (scope, a, b, whole) in scopes {
        for (k, kind) in KINDS.iter().enumerate() {
            let (Some(v0), Some(v1)) = (ok[a].get(COUNTERS[k]), ok[b].get(COUNTERS[k])) else {
                continue;
            };
            let (sure, leaving, entering) = acc.between(k, a, b);
            let (min_extra, max_extra) = if whole {
                (untimed[k], untimed[k])
            } else {
                (0, untimed[k])
            };
            let server = (v1 - v0).max(0.0).round() as u64;
            let client_min = sure.saturating_sub(leaving) + min_extra;
            let client_max = sure + entering + max_extra;
            let matches = (client_min..=client_max).contains(&server);
            if !matches {
                // More on the server than in the logs, with a worker's log
                // missing: that worker is the cause, not a stranger.
                let cause = match missing_logs.filter(|_| server > client_max) {
                    Some(lost) => format!("{lost}: its calls are not in the logs"),
                    None => {
                        "dashload lost or double-counted some, or something else loads the target"
                            .into()
                    }
                };
                out.measurement_warnings.push(format!(
                    "{scope}: the server counted {}, dashload sent {} \
                     (the scrape interval explains {client_min} to {client_max}): {cause}",
                    counted(server, kind),
                    sure + min_extra
                ));
            }
            out.count_check.push(CountCheck {
                scope: scope.clone(),
                kind: kind.to_string(),
                from_ms: acc.edges[a].0,
                to_ms: acc.edges[b].0,
                server,
                client: sure + min_extra,
                client_min,
                client_max,
                matches,
            });
        }
    }
}

/// The scrapes nearest a window's edges, and its figures between them.
fn window_figures(ok: &[&Sample], w: &StageWindow) -> Option<ServerWindow> {
    let edges: Vec<(u64, u64)> = ok.iter().map(|s| (s.elapsed_ms, 0)).collect();
    let (a, b) = (nearest(&edges, w.start_ms)?, nearest(&edges, w.end_ms)?);
    if a >= b {
        return None;
    }
    let (s0, s1) = (ok[a], ok[b]);
    let secs = (s1.elapsed_ms - s0.elapsed_ms) as f64 / 1000.0;
    let delta = |m: &str| Some((s1.get(m)? - s0.get(m)?).max(0.0));
    let rate = |m: &str| delta(m).map(|d| d / secs);
    let peak = |m: &str| {
        ok[a..=b]
            .iter()
            .filter_map(|s| s.get(m))
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |x| x.max(v)))
            })
    };
    let queries = delta(metric::QUERY_REQUESTS);
    let hits = delta(metric::CACHE_HITS);
    let misses = delta(metric::CACHE_MISSES);
    Some(ServerWindow {
        window: w.name.clone(),
        query_rps: rate(metric::QUERY_REQUESTS),
        query_ms: match (delta(metric::QUERY_SECONDS), queries) {
            (Some(s), Some(n)) if n > 0.0 => Some(s * 1000.0 / n),
            _ => None,
        },
        points_per_s: rate(metric::POINTS_WRITTEN),
        write_errors: delta(metric::WRITE_ERRORS),
        http_4xx: delta(metric::HTTP_4XX),
        http_5xx: delta(metric::HTTP_5XX),
        cpu_cores: rate(metric::CPU_SECONDS),
        heap_max: peak(metric::HEAP_BYTES),
        rss_max: peak(metric::RSS_BYTES),
        goroutines_max: peak(metric::GOROUTINES),
        queries_active_max: peak(metric::QUERIES_ACTIVE),
        cache_hit_ratio: match (hits, misses) {
            (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
            _ => None,
        },
    })
}

/// Levels as scraped; counters per second between consecutive scrapes.
const LEVELS: [&str; 4] = [
    metric::QUERIES_ACTIVE,
    metric::HEAP_BYTES,
    metric::RSS_BYTES,
    metric::GOROUTINES,
];

/// Every metric over time, on the client charts' clock (Goose's: `offset_ms`
/// after the scrapes'); the mean query time is its own series (`query_ms`).
fn series(ok: &[&Sample], offset_ms: i64) -> Vec<ServerSeries> {
    let mut names: Vec<&str> = ok
        .iter()
        .flat_map(|s| s.figures.keys().map(String::as_str))
        .collect();
    names.sort();
    names.dedup();
    let x = |s: &Sample| (s.elapsed_ms as f64 - offset_ms as f64) / 1000.0;
    let mut out: Vec<ServerSeries> = names
        .iter()
        .map(|name| {
            let points = if LEVELS.contains(name) {
                ok.iter()
                    .filter_map(|s| Some((x(s), s.get(name)?)))
                    .collect()
            } else {
                ok.windows(2)
                    .filter_map(|p| {
                        let secs = (p[1].elapsed_ms.checked_sub(p[0].elapsed_ms)?) as f64 / 1000.0;
                        let d = p[1].get(name)? - p[0].get(name)?;
                        (secs > 0.0 && d >= 0.0).then(|| (x(p[1]), d / secs))
                    })
                    .collect()
            };
            ServerSeries {
                metric: name.to_string(),
                points,
            }
        })
        .collect();
    let query_ms: Vec<(f64, f64)> = ok
        .windows(2)
        .filter_map(|p| {
            let n = p[1].get(metric::QUERY_REQUESTS)? - p[0].get(metric::QUERY_REQUESTS)?;
            let s = p[1].get(metric::QUERY_SECONDS)? - p[0].get(metric::QUERY_SECONDS)?;
            (n > 0.0 && s >= 0.0).then(|| (x(p[1]), s * 1000.0 / n))
        })
        .collect();
    if !query_ms.is_empty() {
        out.push(ServerSeries {
            metric: "query_ms".into(),
            points: query_ms,
        });
    }
    out
}

pub mod diagnose;

#[cfg(test)]
mod tests;

/// `n` of a count-check kind in words: "15 query HTTP calls", "2387 points
/// written" (`points` is already the noun).
fn counted(n: u64, kind: &str) -> String {
    match kind {
        "points" => format!("{n} points written"),
        k => format!("{n} {k} HTTP calls"),
    }
}
