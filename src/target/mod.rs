//! How a panel query, a variable query, a dashboard fetch or a batch write becomes
//! HTTP for each kind of target, and how an answer is judged. Nothing outside this
//! module builds a URL.

pub mod body;
mod datasources;
mod library;
mod metrics_endpoint;
pub mod outside_log;
pub mod preflight;
mod response;

use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use url::Url;

use crate::scenario::{Auth, QueryMethod, Target, TargetKind};
pub use datasources::resolve_inputs;
pub use library::resolve_library_panels;
pub use preflight::preflight;
pub(crate) use response::clip;
pub use response::{judge_query, judge_write, Judged};

/// One query as a user sends it.
#[derive(Debug, Clone, Copy)]
pub enum QueryCall<'a> {
    /// Grafana's `/api/ds/query` with a prebuilt JSON body.
    DsQuery {
        /// The JSON body.
        body: &'a str,
        /// Dashboard uid (`x-dashboard-uid`).
        dashboard_uid: &'a str,
        /// Data source uid (`x-datasource-uid`).
        datasource_uid: &'a str,
        /// Panel id (`x-panel-id`), absent for variable queries.
        panel_id: Option<u64>,
    },
    /// InfluxQL, macros already expanded, to InfluxDB's `/query` (on 2.x, the
    /// v1-compatible `/query` with the bucket as database).
    InfluxQl(&'a str),
    /// Flux, macros already expanded, to InfluxDB 2.x's `/api/v2/query`.
    Flux(&'a str),
}

/// Where and how requests go, resolved once per run.
#[derive(Debug, Clone)]
pub struct Endpoints {
    kind: TargetKind,
    base: Url,
    database: String,
    org: Option<String>,
    query_method: QueryMethod,
    auth: Auth,
    org_id: u32,
    timeout: Duration,
    max_body: u64,
    writes: Option<Box<Endpoints>>,
    /// Prebuilt once: every panel query and batch write clones one of these and at
    /// most appends `q`, instead of encoding and parsing a whole URL per request.
    urls: Prebuilt,
}

/// The per-run constant URLs of the hot paths.
#[derive(Debug, Clone)]
struct Prebuilt {
    /// `/query?db=…&epoch=ms[&rp=…]` (InfluxQL; on 2.x the v1-compatible endpoint).
    influxql: Url,
    /// `/api/ds/query` (Grafana and the sandbox).
    ds_query: Url,
    /// `/api/v2/query?org=…` (Flux).
    flux: Url,
    /// `/write?db=…&precision=s[&rp=…]` or `/api/v2/write?org=…&bucket=…&precision=s`.
    write: Url,
}

impl Prebuilt {
    fn new(kind: TargetKind, base: &Url, database: &str, org: &str, rp: Option<&str>) -> Prebuilt {
        let mut influxql: Vec<(&str, &str)> = vec![("db", database), ("epoch", "ms")];
        let mut write: Vec<(&str, &str)> = vec![("db", database), ("precision", "s")];
        if let Some(rp) = rp {
            influxql.push(("rp", rp));
            write.push(("rp", rp));
        }
        Prebuilt {
            influxql: join(base, "/query", &influxql),
            ds_query: join(base, "/api/ds/query", &[]),
            flux: join(base, "/api/v2/query", &[("org", org)]),
            write: match kind {
                TargetKind::Influxdb2 => join(
                    base,
                    "/api/v2/write",
                    &[("org", org), ("bucket", database), ("precision", "s")],
                ),
                _ => join(base, "/write", &write),
            },
        }
    }
}

impl Endpoints {
    /// Resolve a target; `sandbox_url` is the embedded sandbox's URL when the kind is `sandbox`.
    pub fn new(target: &Target, sandbox_url: Option<&Url>) -> Endpoints {
        let base = target.url.clone().or_else(|| sandbox_url.cloned()).expect(
            "a non-sandbox target has a url (checked by the scenario), the sandbox passes its own",
        );
        // On InfluxDB 2.x the bucket plays the database's part (v1 compatibility).
        let database = match target.kind {
            TargetKind::Influxdb2 => target
                .bucket
                .clone()
                .unwrap_or_else(|| target.database.clone()),
            _ => target.database.clone(),
        };
        register_secrets(&target.auth);
        let urls = Prebuilt::new(
            target.kind,
            &base,
            &database,
            target.org.as_deref().unwrap_or_default(),
            target.retention_policy.as_deref(),
        );
        Endpoints {
            kind: target.kind,
            base,
            database,
            org: target.org.clone(),
            query_method: target.query_method,
            auth: target.auth.clone(),
            org_id: target.org_id,
            timeout: target.timeout,
            max_body: target.max_body,
            writes: target
                .write
                .as_ref()
                .map(|w| Box::new(Endpoints::new(w, sandbox_url))),
            urls,
        }
    }

    /// The target kind.
    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    /// Whether panel queries go through Grafana's API (the sandbox speaks it too).
    pub fn uses_grafana_api(&self) -> bool {
        matches!(self.kind, TargetKind::Grafana | TargetKind::Sandbox)
    }

    /// The largest answer read (`max_body`).
    pub fn max_body(&self) -> u64 {
        self.max_body
    }

    /// How a query answer of `call` is read: its format, the limit, and whether
    /// it is kept whole for a variable's values.
    pub fn reading(&self, call: &QueryCall<'_>, want_values: bool) -> body::Reading {
        let format = match call {
            QueryCall::Flux(_) => body::Format::FluxCsv,
            _ => body::Format::Json,
        };
        body::Reading::query(format, self.max_body, want_values)
    }

    /// How a write's answer is read (on the write target, when writes go elsewhere).
    pub fn write_reading(&self) -> body::Reading {
        match &self.writes {
            Some(w) => w.write_reading(),
            None => body::Reading::write(self.max_body),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        join(&self.base, path, &[])
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match (&self.auth, self.kind) {
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

    /// The `Authorization` header value requests carry, if any.
    fn authorization(&self) -> Option<String> {
        use base64::Engine as _;
        match (&self.auth, self.kind) {
            (Auth::None, _) => None,
            (Auth::Basic { username, password }, _) => {
                let pair = format!("{username}:{}", password.expose());
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ))
            }
            (Auth::Token(token), TargetKind::Grafana) => Some(format!("Bearer {}", token.expose())),
            (Auth::Token(token), _) => Some(format!("Token {}", token.expose())),
        }
    }

    /// The Grafana Live WebSocket handshake (`GET /api/live/ws`), with the
    /// credentials the other Grafana calls carry.
    pub fn live_socket(
        &self,
    ) -> std::result::Result<tokio_tungstenite::tungstenite::handshake::client::Request, String>
    {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut url = self.url("/api/live/ws");
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| format!("{url} cannot be a WebSocket URL"))?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("{url}: {e}"))?;
        if let Some(value) = self.authorization() {
            let value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|_| "the credentials are not a valid header value".to_string())?;
            request.headers_mut().insert("authorization", value);
        }
        Ok(request)
    }

    /// `POST /api/live/push/<stream>`: line protocol for Grafana Live.
    pub fn live_push(&self, client: &Client, stream: &str, body: String) -> RequestBuilder {
        let url = self.url(&format!("/api/live/push/{stream}"));
        self.authorize(client.post(url).body(body).timeout(self.timeout))
    }

    /// The InfluxDB 2.x organisation ("" when none).
    pub fn org(&self) -> &str {
        self.org.as_deref().unwrap_or_default()
    }

    /// The database writes and InfluxQL queries name (the bucket on InfluxDB 2.x).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// `GET /ping` (InfluxDB; the sandbox answers it too).
    pub fn ping(&self, client: &Client) -> RequestBuilder {
        client.get(self.url("/ping")).timeout(self.timeout)
    }

    /// `GET /api/v2/buckets?org=…&name=…` (InfluxDB 2.x): does the bucket exist, do the credentials work.
    pub fn bucket_lookup(&self, client: &Client) -> RequestBuilder {
        let org = self.org.as_deref().unwrap_or_default();
        let params = [("org", org), ("name", self.database.as_str())];
        self.authorize(
            client
                .get(join(&self.base, "/api/v2/buckets", &params))
                .timeout(self.timeout),
        )
    }

    /// `GET /api/health` (Grafana; no auth needed).
    pub fn health(&self, client: &Client) -> RequestBuilder {
        client.get(self.url("/api/health")).timeout(self.timeout)
    }

    /// `GET /api/dashboards/uid/<uid>`.
    pub fn dashboard(&self, client: &Client, uid: &str) -> RequestBuilder {
        let url = self.url(&format!("/api/dashboards/uid/{uid}"));
        self.authorize(client.get(url).timeout(self.timeout))
    }

    /// A library panel (`GET /api/library-elements/<uid>`); the uid, from the
    /// dashboard file, is one percent-encoded path segment.
    pub fn library_element(&self, client: &Client, uid: &str) -> RequestBuilder {
        let mut url = self.url("/api/library-elements/");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(uid);
        }
        self.authorize(client.get(url).timeout(self.timeout))
    }

    /// Grafana's data sources of the org (`GET /api/datasources`).
    pub fn datasources(&self, client: &Client) -> RequestBuilder {
        let url = self.url("/api/datasources");
        self.authorize(client.get(url).timeout(self.timeout))
    }

    /// A panel or variable query.
    pub fn query(&self, client: &Client, call: QueryCall<'_>) -> RequestBuilder {
        let request = match call {
            QueryCall::DsQuery {
                body,
                dashboard_uid,
                datasource_uid,
                panel_id,
            } => {
                let mut r = client
                    .post(self.urls.ds_query.clone())
                    .header("content-type", "application/json")
                    .header("x-dashboard-uid", dashboard_uid)
                    .header("x-datasource-uid", datasource_uid)
                    .header("x-plugin-id", "influxdb")
                    .header("x-grafana-org-id", self.org_id.to_string())
                    .body(body.to_string());
                if let Some(id) = panel_id {
                    r = r.header("x-panel-id", id.to_string());
                }
                r
            }
            QueryCall::InfluxQl(q) => match self.query_method {
                QueryMethod::Get => {
                    let mut url = self.urls.influxql.clone();
                    url.query_pairs_mut().append_pair("q", q);
                    client.get(url)
                }
                QueryMethod::Post => client.post(self.urls.influxql.clone()).form(&[("q", q)]),
            },
            QueryCall::Flux(flux) => client
                .post(self.urls.flux.clone())
                .header("content-type", "application/vnd.flux")
                .header("accept", "application/csv")
                .body(flux.to_string()),
        };
        self.authorize(request.timeout(self.timeout))
    }

    /// A batch write of line protocol (seconds precision), gzipped when `gzipped`.
    pub fn write(&self, client: &Client, body: Vec<u8>, gzipped: bool) -> RequestBuilder {
        if let Some(w) = &self.writes {
            return w.write(client, body, gzipped);
        }
        let mut r = client.post(self.urls.write.clone()).body(body);
        if gzipped {
            r = r.header("Content-Encoding", "gzip");
        }
        self.authorize(r.timeout(self.timeout))
    }

    /// The InfluxQL endpoint for checking what writes landed (the write target's `/query`).
    pub fn write_side_query(&self, client: &Client, q: &str) -> RequestBuilder {
        match (&self.writes, self.kind) {
            (Some(w), _) => w.query(client, QueryCall::InfluxQl(q)),
            (None, TargetKind::Influxdb1 | TargetKind::Influxdb2) => {
                self.query(client, QueryCall::InfluxQl(q))
            }
            // The sandbox speaks InfluxDB's /query beside Grafana's API.
            (None, _) => {
                let mut e = self.clone();
                e.kind = TargetKind::Influxdb1;
                e.query(client, QueryCall::InfluxQl(q))
            }
        }
    }
}

/// Tell the redactor the credentials this target's requests carry, before any
/// request goes out.
fn register_secrets(auth: &Auth) {
    match auth {
        Auth::None => {}
        Auth::Basic { username, password } => {
            crate::redact::register_basic(username, password.expose())
        }
        Auth::Token(token) => crate::redact::register(token.expose()),
    }
}

/// `base` + `path` (the base's own path kept as a prefix) + query parameters.
fn join(base: &Url, path: &str, params: &[(&str, &str)]) -> Url {
    let root = base.as_str().split(['?', '#']).next().unwrap_or_default();
    let encoded: usize = params.iter().map(|(k, v)| k.len() + v.len() * 3 + 2).sum();
    let mut text = String::with_capacity(root.len() + path.len() + 1 + encoded);
    text.push_str(root.trim_end_matches('/'));
    text.push_str(path);
    if !params.is_empty() {
        text.push('?');
        let start = text.len();
        text = url::form_urlencoded::Serializer::for_suffix(text, start)
            .extend_pairs(params)
            .finish();
    }
    Url::parse(&text).expect("a valid base URL joined with a path and encoded parameters is valid")
}

/// A stack's own sync service: a trigger to POST and a status to poll.
#[derive(Debug, Clone)]
pub struct TriggerEndpoints {
    trigger: Url,
    status: Url,
    token: Option<crate::scenario::Secret>,
}

impl TriggerEndpoints {
    /// From the scenario's trigger settings.
    pub fn new(trigger: &crate::scenario::Trigger) -> TriggerEndpoints {
        if let Some(token) = &trigger.token {
            crate::redact::register(token.expose());
        }
        TriggerEndpoints {
            trigger: join(&trigger.url, &trigger.trigger_path, &[]),
            status: join(&trigger.url, &trigger.status_path, &[]),
            token: trigger.token.clone(),
        }
    }

    fn authorize(&self, r: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => r.bearer_auth(t.expose()),
            None => r,
        }
    }

    /// `POST <trigger_path>`: start a sync.
    pub fn trigger(&self, client: &Client) -> RequestBuilder {
        self.authorize(client.post(self.trigger.clone()))
    }

    /// `GET <status_path>`: how the sync is going.
    pub fn status(&self, client: &Client) -> RequestBuilder {
        self.authorize(client.get(self.status.clone()))
    }
}

/// Toggl-compatible API endpoints (the sandbox's, or a real one).
#[derive(Debug, Clone)]
pub struct TogglEndpoints {
    base: Url,
    token: String,
}

impl TogglEndpoints {
    /// `base` is the API root (the sandbox's URL, or `https://api.track.toggl.com`).
    pub fn new(base: Url, token: Option<&crate::scenario::Secret>) -> TogglEndpoints {
        if let Some(token) = token {
            crate::redact::register_basic(token.expose(), "api_token");
            crate::redact::register(token.expose());
        }
        TogglEndpoints {
            base,
            token: token
                .map(|t| t.expose().to_string())
                .unwrap_or_else(|| "dashload".into()),
        }
    }

    fn get(&self, client: &Client, path: &str, params: &[(&str, &str)]) -> RequestBuilder {
        // Toggl's API token goes in basic auth with the literal password `api_token`.
        client
            .get(join(&self.base, path, params))
            .basic_auth(&self.token, Some("api_token"))
    }

    /// `GET /api/v9/me?with_related_data=true`: names for ids.
    pub fn related_data(&self, client: &Client) -> RequestBuilder {
        self.get(client, "/api/v9/me", &[("with_related_data", "true")])
    }

    /// `GET /api/v9/me/time_entries?start_date=…&end_date=…`: entries starting in a window.
    pub fn entries_between(&self, client: &Client, start_s: i64, end_s: i64) -> RequestBuilder {
        let rfc3339 = |s: i64| {
            chrono::DateTime::from_timestamp(s, 0)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        self.get(
            client,
            "/api/v9/me/time_entries",
            &[
                ("start_date", &rfc3339(start_s)),
                ("end_date", &rfc3339(end_s)),
            ],
        )
    }

    /// `GET /api/v9/me/time_entries?since=<unix s>`: entries changed since.
    pub fn entries_since(&self, client: &Client, since_s: i64) -> RequestBuilder {
        self.get(
            client,
            "/api/v9/me/time_entries",
            &[("since", &since_s.to_string())],
        )
    }
}

#[cfg(test)]
mod tests;
