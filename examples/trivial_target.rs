//! A trivial InfluxDB 1.x stand-in for generator benchmarks: `/ping` 204, `/query`
//! a fixed small answer (SHOW DATABASES lists `toggl`), `/write` 204, `GET /` a
//! short text. It does no work, so the generator's cost is what is measured.
//!
//! Usage: `trivial_target <port>`; prints the number of requests served on Ctrl-C.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

const ANSWER: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["toggl"]]}]}]}"#;

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18086);
    let served = Arc::new(AtomicU64::new(0));
    let count = |served: &Arc<AtomicU64>| {
        let served = served.clone();
        move || {
            served.fetch_add(1, Ordering::Relaxed);
            async {}
        }
    };
    let (a, b, c, d) = (
        count(&served),
        count(&served),
        count(&served),
        count(&served),
    );
    let app = Router::new()
        .route(
            "/ping",
            get(move || {
                let f = a();
                async move {
                    f.await;
                    StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/query",
            get(move || {
                let f = b();
                async move {
                    f.await;
                    ANSWER
                }
            }),
        )
        .route(
            "/write",
            post(move || {
                let f = c();
                async move {
                    f.await;
                    StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/",
            get(move || {
                let f = d();
                async move {
                    f.await;
                    "ok"
                }
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
        println!("served {}", served.load(Ordering::Relaxed));
    });
}
