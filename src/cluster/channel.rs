//! The worker's end of the channel: the `hello` handshake that makes the
//! manager prove it knows the token before anything derived from it is sent
//! (`auth.rs`), then signed requests whose answers are read only up to
//! [`protocol::ANSWER_LIMIT`] and believed only when the session signed them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::auth::{self, Key, Session};
use super::protocol::{self, Hello, HelloRequest, Refusal};
use crate::error::{Error, Result};

/// A manager's answer to a signed request.
#[derive(Debug)]
pub enum Answer<T> {
    /// 2xx, signed by the session: its body.
    Accepted(T),
    /// A refusal, in the manager's words (unsigned refusals too: one can only
    /// make this worker stop, which anyone on the path could do anyway).
    Refused(String),
}

/// An authenticated session with a manager.
pub struct Channel {
    client: reqwest::Client,
    /// `…/cluster/v4`, no trailing slash.
    base: String,
    /// The path part of `base` (what the manager signs over).
    base_path: String,
    session: Session,
    seq: AtomicU64,
    /// The manager's dashload version, as it said in `hello`.
    pub manager_version: String,
}

/// Read at most `cap` bytes of an answer; more is an error naming `what`.
pub async fn read_capped(mut r: reqwest::Response, cap: usize, what: &str) -> Result<Vec<u8>> {
    let too_large = || {
        Error::Usage(format!(
            "{what}: the answer is larger than {} KiB: refused (not a dashload manager?)",
            cap / 1024
        ))
    };
    if r.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|e| Error::Unreachable(format!("{what}: {e}")))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Channel {
    /// Say hello to the manager at `base` (its URL, without the prefix) and
    /// check its proof. Transport errors are [`Error::Unreachable`] (the caller
    /// retries those); a manager that does not prove it knows the token is a
    /// usage error, and nothing derived from the token has been sent.
    pub async fn connect(client: reqwest::Client, base: &url::Url, key: &Key) -> Result<Channel> {
        let root = format!(
            "{}{}",
            base.as_str().trim_end_matches('/'),
            protocol::PREFIX
        );
        let worker_nonce = auth::nonce();
        let r = client
            .post(format!("{root}/hello"))
            .timeout(Duration::from_secs(5))
            .json(&HelloRequest {
                nonce: worker_nonce.clone(),
            })
            .send()
            .await
            .map_err(|e| transport_error(base, &e))?;
        let status = r.status();
        let what = format!("manager {base}");
        let body = read_capped(r, protocol::ANSWER_LIMIT, &what).await?;
        let not_a_manager = || {
            Error::Usage(format!(
                "manager {base} did not prove it knows the cluster token (wrong or missing cluster token on one side, or not a dashload manager): refusing to join"
            ))
        };
        if !status.is_success() {
            return Err(match serde_json::from_slice::<Refusal>(&body) {
                Ok(r) => Error::Usage(format!(
                    "refused by the manager {base}: {}",
                    one_line(&r.reason)
                )),
                Err(_) => not_a_manager(),
            });
        }
        let hello: Hello = serde_json::from_slice(&body).map_err(|_| not_a_manager())?;
        if !auth::is_nonce(&hello.nonce)
            || !auth::manager_proof_holds(key, &worker_nonce, &hello.nonce, &hello.proof)
        {
            return Err(not_a_manager());
        }
        let base_path = url::Url::parse(&root)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .map_err(|e| Error::Usage(format!("manager {base}: {e}")))?;
        Ok(Channel {
            client,
            base: root,
            base_path,
            session: Session::derive(key, &worker_nonce, &hello.nonce),
            seq: AtomicU64::new(0),
            manager_version: hello.version,
        })
    }

    /// The channel's root URL (`…/cluster/v4`).
    pub fn root(&self) -> &str {
        &self.base
    }

    /// The URL of `route` (`join`, `files/0/x?…`).
    pub fn url(&self, route: &str) -> String {
        format!("{}/{route}", self.base)
    }

    /// The headers of one request (`route` with its query, as sent; `digest`
    /// the body's [`auth::body_digest`] or [`auth::STREAMED`]) and its sequence number.
    pub fn sign(&self, method: &str, route: &str, digest: &str) -> (HeaderMap, u64) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let path = format!("{}/{route}", self.base_path);
        let proof = self.session.request_proof(method, &path, seq, digest);
        let mut h = HeaderMap::new();
        for (name, value) in [
            (auth::SESSION_HEADER, self.session.id.clone()),
            (auth::SEQ_HEADER, seq.to_string()),
            (auth::PROOF_HEADER, proof),
        ] {
            h.insert(
                name,
                HeaderValue::from_str(&value).expect("hex and digits make a header value"),
            );
        }
        (h, seq)
    }

    /// True when the answer to request `seq` is signed by this session.
    pub fn answer_holds(&self, seq: u64, status: u16, headers: &HeaderMap, body: &[u8]) -> bool {
        headers
            .get(auth::PROOF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| self.session.answer_holds(seq, status, body, p))
    }

    /// POST `body` to `route`; a 2xx answer is believed only when signed.
    /// Transport errors are [`Error::Unreachable`].
    pub async fn call<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<Answer<T>> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Other(e.into()))?;
        let (headers, seq) = self.sign("POST", route, &auth::body_digest(&bytes));
        let what = format!("the manager's answer to {route}");
        let r = self
            .client
            .post(self.url(route))
            .headers(headers)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(timeout)
            .body(bytes)
            .send()
            .await
            .map_err(|e| Error::Unreachable(format!("manager: {e}")))?;
        let (status, headers) = (r.status(), r.headers().clone());
        let answer = read_capped(r, protocol::ANSWER_LIMIT, &what).await?;
        if !status.is_success() {
            let reason = serde_json::from_slice::<Refusal>(&answer)
                .map_or_else(|_| status.to_string(), |r| one_line(&r.reason));
            return Ok(Answer::Refused(reason));
        }
        if !self.answer_holds(seq, status.as_u16(), &headers, &answer) {
            return Err(Error::Usage(format!(
                "{what} is not signed by the session: refused"
            )));
        }
        // An empty answer (204) reads as `null`: `()` or `IgnoredAny` take it.
        let answer: &[u8] = if answer.is_empty() { b"null" } else { &answer };
        serde_json::from_slice(answer)
            .map(Answer::Accepted)
            .map_err(|e| Error::Usage(format!("{what} is unreadable: {e}")))
    }

    /// [`Channel::call`], a refusal being a usage error.
    pub async fn expect<T: DeserializeOwned>(
        &self,
        route: &str,
        body: &impl Serialize,
        timeout: Duration,
    ) -> Result<T> {
        match self.call(route, body, timeout).await? {
            Answer::Accepted(t) => Ok(t),
            Answer::Refused(why) => Err(Error::Usage(format!("refused by the manager: {why}"))),
        }
    }
}

impl super::upload::Signer for Channel {
    fn sign_upload(&self, route: &str) -> (HeaderMap, u64) {
        self.sign("PUT", route, auth::STREAMED)
    }

    fn answer_holds(&self, seq: u64, status: u16, headers: &HeaderMap, body: &[u8]) -> bool {
        Channel::answer_holds(self, seq, status, headers, body)
    }
}

/// Why `hello` did not get through: a certificate that is not the pinned one
/// is a refusal (retrying cannot help), anything else unreachable (retried).
fn transport_error(base: &url::Url, e: &reqwest::Error) -> Error {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if text.contains("not the pinned") {
            return Error::Usage(format!("manager {base}: {text}: refusing to join"));
        }
        cause = c.source();
    }
    Error::Unreachable(format!("manager {base}: {e}"))
}

/// A manager's words on one line, at most 300 characters, without control
/// characters (they reach this worker's terminal).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect()
}
