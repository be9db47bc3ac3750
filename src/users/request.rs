//! Sending one request outside Goose's own `request()` (so a viewer can keep several
//! panel queries in flight at once), timing it, judging the answer, and recording
//! it in Goose's metrics and request log like any other request.

use std::time::{Duration, Instant};

use goose::prelude::*;
use reqwest::RequestBuilder;

use crate::target::body::{self, Body, Reading};
use crate::target::Judged;

/// What came of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status, 0 when no answer came.
    pub status: u16,
    /// Time from send to the whole body read.
    pub elapsed: Duration,
    /// The verdict.
    pub judged: Judged,
    /// How long a 429 or 503 asked us to wait (`Retry-After` seconds, capped).
    pub retry_after: Option<Duration>,
}

/// The longest `Retry-After` honoured: a server asking for an hour does not
/// stall the sync job for the rest of the run.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// `Retry-After` of a 429 or 503, in seconds (an HTTP date is not followed), capped.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    if !matches!(response.status().as_u16(), 429 | 503) {
        return None;
    }
    let secs: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// Send, read the body as `reading` says (streaming, bounded), judge it.
pub async fn send(
    request: RequestBuilder,
    reading: Reading,
    judge: impl FnOnce(u16, &Body) -> Judged,
) -> Outcome {
    let started = Instant::now();
    // The run's end cuts it off (not sent, or dropped in flight): see run_end.rs.
    crate::run_end::cancellable(send_inner(request, reading, judge, started))
        .await
        .unwrap_or_else(|cut| failed(started, 0, cut.message().into()))
}

async fn send_inner(
    request: RequestBuilder,
    reading: Reading,
    judge: impl FnOnce(u16, &Body) -> Judged,
    started: Instant,
) -> Outcome {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = retry_after(&response);
            match body::read(response, reading).await {
                Ok(body) => {
                    let judged = judge(status, &body);
                    Outcome {
                        status,
                        elapsed: started.elapsed(),
                        judged,
                        retry_after,
                    }
                }
                Err(e) => failed(started, status, describe(&e)),
            }
        }
        Err(e) => failed(started, 0, describe(&e)),
    }
}

fn failed(started: Instant, status: u16, error: String) -> Outcome {
    Outcome {
        status,
        elapsed: started.elapsed(),
        judged: Judged::from_error(Some(error)),
        retry_after: None,
    }
}

/// A short, stable description of a transport error (the report groups by it).
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    if e.is_connect() {
        let text = format!("{e:?}");
        // Before `refused`: a name that does not resolve is not a refusal.
        if text.contains("dns error") {
            return "dns lookup failed".into();
        }
        if text.contains("ConnectionRefused") || text.contains("Connection refused") {
            return "connection refused".into();
        }
        return "connect error".into();
    }
    if e.is_body() || e.is_decode() {
        return "body read error".into();
    }
    let text = format!("{e:?}");
    if text.contains("ConnectionReset") || text.contains("connection reset") {
        return "connection reset".into();
    }
    if text.contains("IncompleteMessage") || text.contains("connection closed") {
        return "connection closed".into();
    }
    "request error".into()
}

/// Record an outcome under `name` in Goose's metrics and request log. This is
/// the one place an error message enters the log: it goes in redacted and made
/// safe for Goose's CSV writer (see [`crate::redact::for_log`]).
pub async fn record(
    user: &mut GooseUser,
    method: &str,
    name: &str,
    outcome: &Outcome,
) -> TransactionResult {
    user.record_custom_request_duration(
        method,
        name,
        outcome.elapsed,
        outcome.judged.ok,
        Some(outcome.status),
        outcome
            .judged
            .error
            .as_deref()
            .map(crate::redact::for_log)
            .as_deref(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::describe;

    /// A resolver that knows no name, as a DNS server answering NXDOMAIN.
    struct NoNames;

    impl reqwest::dns::Resolve for NoNames {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async {
                Err::<reqwest::dns::Addrs, _>(
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such name").into(),
                )
            })
        }
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_not_a_refused_connection() {
        let client = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(NoNames))
            .build()
            .unwrap();
        let e = client
            .get("http://influx.example.test:8086/ping")
            .send()
            .await
            .unwrap_err();
        assert_eq!(describe(&e), "dns lookup failed");

        // A loopback port nobody listens on: refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/ping"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(describe(&e), "connection refused");
    }
}
