//! A misbehaving InfluxDB 1.x for tests: real HTTP on loopback, answering `/ping`
//! (204) and preflight's `SHOW DATABASES` like InfluxDB, and every other `/query`
//! and `/write` as its [`Mode`] says: resets, 5xx bursts, stalls, truncated JSON,
//! HTML pages, huge and gzip-bomb bodies, slow drips, 200-with-error, 429/503
//! with `Retry-After`, a 401 echoing the `Authorization` header, errors with CR/LF.
//! It counts what it answered, so tests can hold the request log against it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::stream::{self, StreamExt};

/// How `/query` and `/write` answer.
#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code)] // every mode is part of the harness, not every test uses each
pub enum Mode {
    /// Answer like InfluxDB: a small series, writes 204.
    Healthy,
    /// Start a 200 body and cut the connection mid-way.
    Reset,
    /// `fail` of every `every` answers are 500 (the rest healthy).
    Burst5xx { every: u64, fail: u64 },
    /// Accept and never answer.
    Stall,
    /// 200 with the first half of a JSON answer (a correct Content-Length).
    TruncatedJson,
    /// 200 with an HTML page (a proxy's login or error page).
    Html,
    /// 200 with a JSON answer of this many MB, streamed.
    Huge { mb: u64 },
    /// 200, `Content-Encoding: gzip`, ~1 MB inflating to 1 GiB.
    GzipBomb,
    /// 200 with a healthy answer dripped a byte every `ms`.
    SlowDrip { ms: u64 },
    /// 200 with InfluxDB's statement error.
    ErrorIn200,
    /// `status` (429 or 503) with `Retry-After: secs`, `times` times, then healthy.
    RetryAfter { status: u16, secs: u64, times: u64 },
    /// 401 whose body quotes the request's `Authorization` header.
    EchoAuth,
    /// 401 echoing credentials to preflight's `SHOW DATABASES` too.
    EchoAuthEverywhere,
    /// 500 with this error text (InfluxDB's `{"error": …}`).
    ErrorText(String),
    /// 502 `text/html` with this page (a proxy's error page), queries and writes.
    HtmlError(String),
}

/// A running fault target.
pub struct FaultTarget {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    state: Shared,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    /// `/query` answers other than preflight's `SHOW DATABASES`.
    queries: Arc<AtomicU64>,
    /// `/write` requests, with when they came.
    writes: Arc<Mutex<Vec<(Instant, u16)>>>,
    /// Answers with a 4xx/5xx status (queries and writes).
    failed: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
}

impl FaultTarget {
    /// Start on a free loopback port.
    pub fn start(mode: Mode) -> FaultTarget {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Shared {
            mode: Arc::new(Mutex::new(mode)),
            queries: Arc::default(),
            writes: Arc::default(),
            failed: Arc::default(),
            answered: Arc::default(),
        };
        let app = Router::new()
            .route("/ping", get(|| async { StatusCode::NO_CONTENT }))
            .route("/query", any(query))
            .route("/write", any(write))
            .with_state(state.clone());
        let url = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            url
        });
        FaultTarget {
            url,
            state,
            _runtime: runtime,
        }
    }

    /// A URL nothing listens on (the `refused` mode).
    pub fn refused_url() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("http://127.0.0.1:{port}")
    }

    /// `/query` requests answered (preflight's `SHOW DATABASES` not counted).
    pub fn queries(&self) -> u64 {
        self.state.queries.load(Ordering::SeqCst)
    }

    /// `/write` requests: when each came and its status.
    pub fn writes(&self) -> Vec<(Instant, u16)> {
        self.state.writes.lock().unwrap().clone()
    }

    /// Answers with a 4xx/5xx status.
    pub fn failed(&self) -> u64 {
        self.state.failed.load(Ordering::SeqCst)
    }
}

const HEALTHY: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"time_entry","columns":["time","value"],"values":[[1763856000000,12.5],[1763859600000,3]]}]}]}"#;

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

async fn query(
    State(s): State<Shared>,
    RawQuery(params): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = format!(
        "{} {}",
        params.unwrap_or_default(),
        String::from_utf8_lossy(&body)
    );
    let mode = s.mode.lock().unwrap().clone();
    if text.contains("SHOW+DATABASES") || text.contains("SHOW%20DATABASES") {
        if mode != Mode::EchoAuthEverywhere {
            return json(
                StatusCode::OK,
                r#"{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["_internal"],["toggl"]]}]}]}"#,
            );
        }
    } else {
        s.queries.fetch_add(1, Ordering::SeqCst);
    }
    let response = answer(&s, &mode, &headers, true).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        s.failed.fetch_add(1, Ordering::SeqCst);
    }
    response
}

async fn write(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let mode = s.mode.lock().unwrap().clone();
    let response = answer(&s, &mode, &headers, false).await;
    s.writes
        .lock()
        .unwrap()
        .push((Instant::now(), response.status().as_u16()));
    if response.status().is_client_error() || response.status().is_server_error() {
        s.failed.fetch_add(1, Ordering::SeqCst);
    }
    response
}

fn healthy(is_query: bool) -> Response {
    if is_query {
        json(StatusCode::OK, HEALTHY)
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn answer(s: &Shared, mode: &Mode, headers: &HeaderMap, is_query: bool) -> Response {
    let n = s.answered.fetch_add(1, Ordering::SeqCst);
    match mode {
        Mode::Healthy => healthy(is_query),
        Mode::Reset => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"results\":[{\"statement_id\":0,")),
                Err(std::io::Error::other("reset")),
            ];
            json(StatusCode::OK, Body::from_stream(stream::iter(chunks)))
        }
        Mode::Burst5xx { every, fail } => {
            if n % every < *fail {
                json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"error":"internal error"}"#,
                )
            } else {
                healthy(is_query)
            }
        }
        Mode::Stall => {
            futures::future::pending::<()>().await;
            unreachable!()
        }
        Mode::TruncatedJson if is_query => json(StatusCode::OK, &HEALTHY[..HEALTHY.len() / 2]),
        Mode::Html if is_query => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>",
        )
            .into_response(),
        Mode::Huge { mb } if is_query => json(StatusCode::OK, huge(*mb)),
        Mode::GzipBomb if is_query => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            Body::from(gzip_bomb().clone()),
        )
            .into_response(),
        Mode::SlowDrip { ms } if is_query => {
            let ms = *ms;
            let drip = stream::iter(HEALTHY.as_bytes().to_vec()).then(move |b| async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok::<_, std::io::Error>(Bytes::from(vec![b]))
            });
            json(StatusCode::OK, Body::from_stream(drip))
        }
        Mode::ErrorIn200 if is_query => json(
            StatusCode::OK,
            r#"{"results":[{"statement_id":0,"error":"max-select-buckets limit exceeded: (129600/100000)"}]}"#,
        ),
        Mode::RetryAfter {
            status,
            secs,
            times,
        } => {
            if n < *times {
                (
                    StatusCode::from_u16(*status).unwrap(),
                    [(header::RETRY_AFTER, secs.to_string())],
                    r#"{"error":"slow down"}"#,
                )
                    .into_response()
            } else {
                healthy(is_query)
            }
        }
        Mode::EchoAuth | Mode::EchoAuthEverywhere => {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(none)");
            json(
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"{{"error":"authorization failed for Authorization: {auth}","header":"{auth}"}}"#
                ),
            )
        }
        Mode::ErrorText(text) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "error": text }).to_string(),
        ),
        Mode::HtmlError(page) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            page.clone(),
        )
            .into_response(),
        // Query-only faults: writes succeed.
        _ => healthy(is_query),
    }
}

/// A JSON answer of `mb` MB, streamed in 64 KB chunks (never held whole).
fn huge(mb: u64) -> Body {
    static ROWS: OnceLock<Bytes> = OnceLock::new();
    let rows = ROWS
        .get_or_init(|| Bytes::from("[1763856000000,12.5],".repeat(64 * 1024 / 21)))
        .clone();
    let count = mb * 1024 * 1024 / rows.len() as u64;
    let open = stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(
            br#"{"results":[{"statement_id":0,"series":[{"name":"t","columns":["time","v"],"values":["#,
        ))
    });
    let middle = stream::iter(0..count).map(move |_| Ok(rows.clone()));
    let close = stream::once(async { Ok(Bytes::from_static(b"[1,1]]}]}]}")) });
    Body::from_stream(open.chain(middle).chain(close))
}

/// ~1 MB of gzip inflating to 1 GiB of a JSON answer's padding, built once.
fn gzip_bomb() -> &'static Bytes {
    static BOMB: OnceLock<Bytes> = OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(
            br#"{"results":[{"statement_id":0,"series":[{"name":"t","columns":["v"],"values":[[""#,
        )
        .unwrap();
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..1024 {
            gz.write_all(&spaces).unwrap();
        }
        gz.write_all(br#""]]}]}]}"#).unwrap();
        Bytes::from(gz.finish().unwrap())
    })
}

/// Build the gzip bomb now (it takes a while in a debug build), returning its size.
pub fn prepare_gzip_bomb() -> usize {
    gzip_bomb().len()
}
