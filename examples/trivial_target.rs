//! A trivial InfluxDB 1.x stand-in for generator benchmarks: `/ping` 204, `/query`
//! a fixed small answer (SHOW DATABASES lists `toggl`), `/write` 204, `GET /` a
//! short text. It does no work, so the generator's cost is what is measured.
//!
//! With a delay, `/query` and `GET /` answer after exactly that many milliseconds and
//! the target times its own handlers: the ground truth a load generator's reported
//! latency is compared with (bench/accuracy.sh).
//!
//! Usage: `trivial_target <port> [delay_ms]`. On Ctrl-C it prints
//! `served <requests>` and, with a delay, `handler_us p50 <µs> p99 <µs> count <n>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use hdrhistogram::Histogram;

const ANSWER: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["toggl"]]}]}]}"#;

/// What every handler shares: the request count and, with a delay, the handler times.
struct Target {
    served: AtomicU64,
    delay: Option<Duration>,
    handler_us: Mutex<Histogram<u64>>,
}

impl Target {
    /// Count the request; with a delay, wait it out and record how long the handler took.
    async fn serve(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
        if let Some(delay) = self.delay {
            let started = Instant::now();
            tokio::time::sleep(delay).await;
            let us = started.elapsed().as_micros() as u64;
            self.handler_us.lock().unwrap().saturating_record(us);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18086);
    let delay = args
        .next()
        .and_then(|d| d.parse().ok())
        .map(Duration::from_millis);
    let target = Arc::new(Target {
        served: AtomicU64::new(0),
        delay,
        handler_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()),
    });
    let (q, r, p, w) = (
        target.clone(),
        target.clone(),
        target.clone(),
        target.clone(),
    );
    let app = Router::new()
        .route(
            "/ping",
            get(move || async move {
                p.served.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/query",
            get(move || async move {
                q.serve().await;
                ANSWER
            }),
        )
        .route(
            "/write",
            post(move || async move {
                w.served.fetch_add(1, Ordering::Relaxed);
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/",
            get(move || async move {
                r.serve().await;
                "ok"
            }),
        );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let server = axum::serve(listener, app);
        tokio::select! {
            _ = server => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        println!("served {}", target.served.load(Ordering::Relaxed));
        if target.delay.is_some() {
            let h = target.handler_us.lock().unwrap();
            println!(
                "handler_us p50 {} p99 {} count {}",
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.len()
            );
        }
    });
}
