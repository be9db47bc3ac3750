//! The target's metrics endpoint (`/debug/vars` or `/metrics`, or the
//! `[server_metrics] url`), as the server-metrics scraper asks it.

use reqwest::{Client, RequestBuilder};

use super::{register_secrets, Endpoints};
use crate::scenario::{Auth, TargetKind};
use crate::server_metrics::{default_path, ServerMetrics};

impl Endpoints {
    /// A GET of the metrics endpoint on `client`: the scenario's own `url` and
    /// credentials when set, else the target's path with the target's credentials
    /// (a separate `url` gets only its own, never the target's).
    pub fn metrics(&self, client: &Client, config: &ServerMetrics) -> RequestBuilder {
        let (url, auth) = match &config.url {
            Some(url) => (url.clone(), config.auth.as_ref().unwrap_or(&Auth::None)),
            None => (
                self.url(default_path(self.kind)),
                config.auth.as_ref().unwrap_or(&self.auth),
            ),
        };
        register_secrets(auth);
        authorize_with(auth, self.kind, client.get(url))
    }
}

fn authorize_with(auth: &Auth, kind: TargetKind, request: RequestBuilder) -> RequestBuilder {
    match (auth, kind) {
        (Auth::None, _) => request,
        (Auth::Basic { username, password }, _) => {
            request.basic_auth(username, Some(password.expose()))
        }
        (Auth::Token(token), TargetKind::Grafana) => request.bearer_auth(token.expose()),
        (Auth::Token(token), _) => {
            request.header("Authorization", format!("Token {}", token.expose()))
        }
    }
}
