//! The cluster's file upload on loopback, for bench/upload.sh: the manager's side
//! (`cluster::upload::receive` behind an axum route, as the manager serves it) and a
//! worker's side (`cluster::upload::send`), in two processes so each one's peak
//! memory can be measured on its own.
//!
//! Usage:
//! - `upload_throughput serve <port> <dir> <uploads>`: receive `<uploads>` files into
//!   `<dir>`, then exit.
//! - `upload_throughput send <port> <file>`: upload `<file>` and print
//!   `bytes <n> seconds <s> mib_per_s <r>` (hashing pass included).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::Router;
use dashload::cluster::upload::{self, Announced};

/// This bench's server checks no session (the streaming path is what it
/// measures): the upload goes unsigned and any answer is taken.
struct NoSession;

impl upload::Signer for NoSession {
    fn sign_upload(&self, _route: &str) -> (reqwest::header::HeaderMap, u64) {
        (reqwest::header::HeaderMap::new(), 0)
    }

    fn answer_holds(
        &self,
        _seq: u64,
        _status: u16,
        _headers: &reqwest::header::HeaderMap,
        _body: &[u8],
    ) -> bool {
        true
    }
}

struct Server {
    dir: PathBuf,
    left: AtomicU64,
    done: tokio::sync::Notify,
}

async fn file(
    State(s): State<Arc<Server>>,
    UrlPath(name): UrlPath<String>,
    Query(announced): Query<Announced>,
    req: Request,
) -> StatusCode {
    let body = req.into_body().into_data_stream();
    let r = upload::receive(body, &s.dir, &name, &announced, || {}).await;
    if let Err(e) = &r {
        eprintln!("refused: {e}");
    }
    if s.left.fetch_sub(1, Ordering::SeqCst) == 1 {
        s.done.notify_one();
    }
    match r {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(e) => e.status(),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") if args.len() == 5 => {
            let server = Arc::new(Server {
                dir: PathBuf::from(&args[3]),
                left: AtomicU64::new(args[4].parse().expect("uploads")),
                done: tokio::sync::Notify::new(),
            });
            let app = Router::new()
                .route("/files/{name}", put(file))
                .layer(axum::extract::DefaultBodyLimit::disable())
                .with_state(server.clone());
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", args[2].parse().unwrap()))
                .await
                .expect("bind");
            let done = server.clone();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { done.done.notified().await })
                .await
                .unwrap();
        }
        Some("send") if args.len() == 4 => {
            let path = PathBuf::from(&args[3]);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let base = format!("http://127.0.0.1:{}", args[2]);
            let client = reqwest::Client::new();
            let t = Instant::now();
            let route = format!("files/{name}");
            let sent = upload::send(
                &client,
                &base,
                &route,
                &NoSession,
                &Default::default(),
                &path,
            )
            .await
            .expect("upload");
            let secs = t.elapsed().as_secs_f64();
            println!(
                "bytes {} seconds {secs:.3} mib_per_s {:.1}",
                sent.size,
                sent.size as f64 / (1 << 20) as f64 / secs
            );
        }
        _ => {
            eprintln!("usage: upload_throughput serve <port> <dir> <uploads> | send <port> <file>");
            std::process::exit(2);
        }
    }
}
