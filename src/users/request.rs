//! Sending one request outside Goose's own `request()` (so a viewer can keep several
//! panel queries in flight at once), timing it, judging the answer, and recording
//! it in Goose's metrics and request log like any other request.

use std::time::{Duration, Instant};

use goose::prelude::*;
use reqwest::RequestBuilder;

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
}

/// Send, read the whole body, judge it.
pub async fn send(request: RequestBuilder, judge: impl FnOnce(u16, &[u8]) -> Judged) -> Outcome {
    let started = Instant::now();
    // The run's end cuts it off (not sent, or dropped in flight): see run_end.rs.
    crate::run_end::cancellable(send_inner(request, judge, started))
        .await
        .unwrap_or_else(|| failed(started, 0, crate::run_end::CANCELLED.into()))
}

async fn send_inner(
    request: RequestBuilder,
    judge: impl FnOnce(u16, &[u8]) -> Judged,
    started: Instant,
) -> Outcome {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(body) => {
                    let judged = judge(status, &body);
                    Outcome {
                        status,
                        elapsed: started.elapsed(),
                        judged,
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
    }
}

/// A short, stable description of a transport error (the report groups by it).
pub fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    if e.is_connect() {
        let text = format!("{e:?}");
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

/// Record an outcome under `name` in Goose's metrics and request log.
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
        outcome.judged.error.as_deref(),
    )
    .await
}
