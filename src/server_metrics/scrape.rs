//! The scraper: a background task that asks the metrics endpoint every interval
//! and appends what it read to `server.csv` (under `.partial/` while the run
//! goes), and one last time when told to stop, so the last sample follows the
//! load's last request.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{metric, parse, HEADER};
use crate::error::{Error, Result};

/// The largest metrics answer read: influxd's `/debug/vars` grows with its shards.
const MAX_BODY: usize = 32 << 20;

/// What the scraper did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeStats {
    /// Scrapes sent (each one HTTP call to the metrics endpoint).
    pub scrapes: u64,
    /// Scrapes that failed (no answer, an error status, or not metrics).
    pub failed: u64,
    /// Why the first failed scrape failed.
    pub first_error: Option<String>,
}

/// A running scraper.
pub struct Scraper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: Arc<Mutex<ScrapeStats>>,
    timeout: Duration,
}

impl Scraper {
    /// Create `path` (with its header) and start scraping at once, then every
    /// `interval`, with `request` building each call (its client carries the
    /// timeout). Times are ms since `clock`.
    pub fn start<F>(
        request: F,
        interval: Duration,
        timeout: Duration,
        clock: Instant,
        path: &Path,
    ) -> Result<Scraper>
    where
        F: Fn() -> RequestBuilder + Send + Sync + 'static,
    {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{HEADER}").map_err(|e| Error::io(path, e))?;
        let (stop, mut stopped) = watch::channel(false);
        let path = path.to_path_buf();
        let stats = Arc::new(Mutex::new(ScrapeStats::default()));
        let shared = stats.clone();
        let task = tokio::spawn(async move {
            let mut out = Some(out);
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let last = tokio::select! {
                    _ = tick.tick() => false,
                    _ = stopped.changed() => true,
                };
                let rows = scrape_once(&request, clock, &shared).await;
                if let Some(w) = out.as_mut() {
                    // Losing the side file must not stop the run: say so once, go on without it.
                    if let Err(e) = w.write_all(rows.as_bytes()).and_then(|_| w.flush()) {
                        eprintln!(
                            "dashload: {}: {e}; server metrics stop here",
                            path.display()
                        );
                        out = None;
                    }
                }
                if last {
                    return;
                }
            }
        });
        Ok(Scraper {
            stop,
            task,
            stats,
            timeout,
        })
    }

    /// Stop: after a last scrape when `last` (bounded by the scrape timeout, and
    /// one under way), at once otherwise (a signal: the run must end now).
    /// What the scraper did.
    pub async fn finish(self, last: bool) -> ScrapeStats {
        let _ = self.stop.send(true);
        if last {
            let mut task = self.task;
            if tokio::time::timeout(2 * self.timeout + Duration::from_millis(200), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        } else {
            self.task.abort();
        }
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Start scraping for a run (`None` when `[server_metrics]` is off): its own
/// HTTP client, with the scrape timeout, and `server.csv` in `partial`.
pub fn start_for_run(
    config: &super::ServerMetrics,
    endpoints: &crate::target::Endpoints,
    clock: Instant,
    partial: &Path,
) -> Result<Option<Scraper>> {
    if !config.enabled {
        return Ok(None);
    }
    let client = reqwest::Client::builder()
        .timeout(super::scrape_timeout(config.interval))
        .user_agent(concat!(
            "dashload/",
            env!("CARGO_PKG_VERSION"),
            " (server metrics)"
        ))
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("server metrics client: {e}")))?;
    let endpoints = endpoints.clone();
    let cfg = config.clone();
    let request = move || endpoints.metrics(&client, &cfg);
    let timeout = super::scrape_timeout(config.interval);
    Scraper::start(
        request,
        config.interval,
        timeout,
        clock,
        &partial.join(super::FILE),
    )
    .map(Some)
}

/// One scrape: its `server.csv` rows (figures and `scrape_ms`, or a `scrape_error`).
async fn scrape_once<F>(request: &F, clock: Instant, stats: &Mutex<ScrapeStats>) -> String
where
    F: Fn() -> RequestBuilder + Sync,
{
    let sent = clock.elapsed();
    stats.lock().unwrap_or_else(|e| e.into_inner()).scrapes += 1;
    let answer = fetch(request()).await;
    let took = clock.elapsed().saturating_sub(sent);
    let at = sent.as_millis();
    let mut rows = String::new();
    match answer.and_then(|body| parse::parse(&body)) {
        Ok(figures) => {
            for (name, value) in figures {
                let _ = writeln!(rows, "{at},{name},{value}");
            }
            let _ = writeln!(rows, "{at},{},{}", metric::SCRAPE_MS, took.as_millis());
        }
        Err(why) => {
            let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
            stats.failed += 1;
            if stats.first_error.is_none() {
                stats.first_error = Some(crate::redact::redact(&why).into_owned());
            }
            let _ = writeln!(rows, "{at},{},1", metric::SCRAPE_ERROR);
        }
    }
    rows
}

/// The endpoint's answer body, read up to [`MAX_BODY`].
async fn fetch(request: RequestBuilder) -> std::result::Result<Vec<u8>, String> {
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Sandbox, SandboxConfig};
    use crate::server_metrics::metric;

    #[tokio::test]
    async fn the_last_scrape_follows_the_loads_last_request() {
        let sandbox = Sandbox::start(SandboxConfig {
            seed_days: 0,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::FILE);
        let client = reqwest::Client::new();
        let vars = format!("{}/debug/vars", sandbox.url());
        let c = client.clone();
        let scraper = Scraper::start(
            move || c.get(&vars),
            Duration::from_secs(3600),
            Duration::from_secs(2),
            Instant::now(),
            &path,
        )
        .unwrap();
        let r = client
            .post(format!("{}/write?db=toggl&precision=s", sandbox.url()))
            .body("m v=1i 1700000000\nm v=2i 1700000001\n")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        let stats = scraper.finish(true).await;
        assert!(stats.scrapes >= 1 && stats.failed == 0, "{stats:?}");
        let (samples, bad) = super::super::read(&path).unwrap().unwrap();
        assert_eq!(bad, 0);
        assert_eq!(samples.len() as u64, stats.scrapes);
        let last = samples.last().unwrap();
        assert!(last.ok());
        assert_eq!(last.get(metric::WRITE_REQUESTS), Some(1.0));
        assert_eq!(last.get(metric::POINTS_WRITTEN), Some(2.0));
        sandbox.stop().await;
    }

    #[tokio::test]
    async fn a_failed_scrape_is_a_gap_not_an_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/debug/vars", closed.local_addr().unwrap());
        drop(closed);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(super::super::FILE);
        let client = reqwest::Client::new();
        let scraper = Scraper::start(
            move || client.get(&url),
            Duration::from_secs(3600),
            Duration::from_secs(2),
            Instant::now(),
            &path,
        )
        .unwrap();
        let stats = scraper.finish(true).await;
        assert_eq!(stats.failed, stats.scrapes);
        assert!(stats.first_error.is_some());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("elapsed_ms,metric,value\n"));
        assert!(text.contains(",scrape_error,1\n"), "{text}");
    }

    #[tokio::test]
    async fn after_a_signal_the_scraper_stops_without_waiting_for_a_stuck_server() {
        // Bound but never accepting: a scrape hangs until its timeout.
        let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/debug/vars", stuck.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let scraper = Scraper::start(
            move || client.get(&url),
            Duration::from_secs(3600),
            Duration::from_secs(30),
            Instant::now(),
            &dir.path().join(super::super::FILE),
        )
        .unwrap();
        tokio::task::yield_now().await;
        let stats = tokio::time::timeout(Duration::from_secs(10), scraper.finish(false))
            .await
            .expect("finish(false) does not wait for the stuck scrape");
        assert!(stats.scrapes <= 1 && stats.failed == 0, "{stats:?}");
    }
}
