//! `--export influxdb`: a finished run's results, as line protocol, into the team's
//! own InfluxDB (never the one under test), for a Grafana dashboard of trends
//! (`deploy/grafana/dashload-runs.json`).
//!
//! Everything written comes from `summary.json`, so what Grafana shows is what the
//! report states. Four measurements, timestamps in the run's own time (ms):
//! - `dashload_run`: one point per run, at its start: verdict, capacity, judged p95s.
//! - `dashload_slo`: one point per SLO judged on a hold window, at the window's start.
//! - `dashload_series`: one point per time bucket: users, requests/s, errors.
//! - `dashload_latency`: one point per time bucket and class: p50/p95/p99/max.
//!
//! Every point is tagged `scenario` and `run_id` (the run folder's name), and
//! `revision` when `DASHLOAD_REVISION` is set. A failed export is a warning: it
//! never changes the run's verdict or exit code.

use std::collections::BTreeMap;

use influxdb_line_protocol::builder::{AfterMeasurement, LineProtocolBuilder};

use crate::error::{Error, Result};
use crate::report::summary::{SloVerdict, Summary, Verdict};
use crate::scenario::{Auth, Scenario, Target, TargetKind};

/// The measurements written.
pub const RUN: &str = "dashload_run";
/// One point per judged SLO and hold window.
pub const SLO: &str = "dashload_slo";
/// Users, throughput and errors over time.
pub const SERIES: &str = "dashload_series";
/// Latency percentiles over time per class.
pub const LATENCY: &str = "dashload_latency";

/// The environment variable naming the build under test (a git revision).
pub const REVISION_ENV: &str = "DASHLOAD_REVISION";

/// Where `--export influxdb` writes, checked before the run starts: the scenario's
/// `[export]` (or `DASHLOAD_EXPORT_URL`), never the target under test.
pub fn destination(scenario: &Scenario) -> Result<Target> {
    let Some(export) = scenario.export.clone() else {
        return Err(Error::Usage(
            "--export influxdb: no InfluxDB to export to: add an [export] table to the scenario (url, database, credentials) or set DASHLOAD_EXPORT_URL (and DASHLOAD_EXPORT_DATABASE)".into(),
        ));
    };
    let url = export.url.as_ref().expect("[export] has a url (checked)");
    let load = [Some(&scenario.target), scenario.target.write.as_deref()];
    for t in load.into_iter().flatten() {
        if let Some(u) = &t.url {
            if same_server(u, url) {
                return Err(Error::Usage(format!(
                    "--export influxdb: {} is the target under test: export to another InfluxDB, so the results never load it or mix with its data",
                    export.summary().url
                )));
            }
        }
    }
    Ok(export)
}

/// The same server: the same port on a host resolving to a shared address
/// (`localhost` is `127.0.0.1`; the path does not make another server). A host
/// that does not resolve is compared by name.
fn same_server(a: &url::Url, b: &url::Url) -> bool {
    if a.port_or_known_default() != b.port_or_known_default() {
        return false;
    }
    let named = |u: &url::Url| u.host_str().map(str::to_ascii_lowercase);
    if named(a) == named(b) {
        return true;
    }
    let (a, b) = (addresses(a), addresses(b));
    a.iter().any(|ip| b.contains(ip))
}

/// The addresses `url`'s host resolves to (none when it does not).
fn addresses(url: &url::Url) -> Vec<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    let Some(host) = url.host() else {
        return Vec::new();
    };
    let port = url.port_or_known_default().unwrap_or(0);
    let found = match host {
        url::Host::Ipv4(ip) => return vec![ip.into()],
        url::Host::Ipv6(ip) => return vec![ip.into()],
        url::Host::Domain(name) => (name, port).to_socket_addrs(),
    };
    found.map_or_else(|_| Vec::new(), |a| a.map(|a| a.ip()).collect())
}

/// The most of an error answer read: enough for any message; a destination
/// answering a huge body is not read past it (the issue measured 1.1 GB of
/// memory for a 512 MB body read whole).
const ERROR_BODY_READ: u64 = crate::target::body::HEAD as u64;

/// The run's results as line protocol (precision ms).
pub fn lines(summary: &Summary, run_id: &str, revision: Option<&str>) -> Vec<u8> {
    let start = summary.run.started_at.timestamp_millis();
    let tags = Tags {
        scenario: &summary.run.scenario,
        run_id,
        revision,
    };
    let verdict = verdict_tag(summary);
    let mut b = LineProtocolBuilder::new();

    // The run.
    let p = tags.put(b.measurement(RUN)).tag("verdict", verdict);
    let mut f = Fields::default();
    f.str("status", verdict);
    f.float("duration_s", Some(summary.run.duration_s));
    f.int("requests", Some(summary.totals.requests));
    f.int("failed", Some(summary.totals.failed));
    f.float("error_rate", summary.totals.error_rate);
    f.int("peak_viewers", Some(summary.run.peak_viewers as u64));
    let bracket = summary.capacity_bracket.as_ref();
    f.int("capacity", summary.capacity.map(|c| c as u64));
    f.int(
        "failed_at",
        bracket.and_then(|c| c.failed_viewers).map(|v| v as u64),
    );
    f.float("headroom", bracket.and_then(|c| c.headroom));
    f.bool("regression", summary.regression);
    f.bool("interrupted", summary.run.interrupted);
    for c in &summary.judged {
        if let Some(l) = &c.latency {
            f.float(&format!("{}_p95", c.class.key()), Some(l.p95));
        }
        f.float(&format!("{}_error_rate", c.class.key()), c.error_rate);
    }
    b = f.close(p, start);

    // Each SLO judged on a hold window, at the window's start.
    let window_start: BTreeMap<&str, u64> = summary
        .windows
        .iter()
        .map(|w| (w.name.as_str(), w.start_ms))
        .collect();
    for s in summary.slos.iter().filter(|s| s.judged) {
        let at = start + window_start.get(s.window.as_str()).copied().unwrap_or(0) as i64;
        let p = tags
            .put(b.measurement(SLO))
            .tag("verdict", verdict)
            .tag("window", &s.window)
            .tag("class", s.class.key())
            .tag("figure", s.metric.key());
        let mut f = Fields::default();
        f.float("value", s.observed);
        f.float("slo", Some(s.max));
        f.bool("passed", s.verdict == SloVerdict::Pass);
        f.str("result", s.verdict.label());
        b = f.close(p, at);
    }

    // Over time.
    let series = &summary.series;
    let width_s = series.bucket_ms as f64 / 1000.0;
    let users: BTreeMap<u64, u64> = series.goose_users.iter().copied().collect();
    for (i, bucket) in series.buckets.iter().enumerate() {
        let offset = i as u64 * series.bucket_ms;
        let at = start + offset as i64;
        let mut f = Fields::default();
        if width_s > 0.0 {
            f.float("requests_per_s", Some(bucket.ok as f64 / width_s));
            f.float("errors_per_s", Some(bucket.failed as f64 / width_s));
            f.float("points_per_s", Some(bucket.points as f64 / width_s));
        }
        f.int("requests", Some(bucket.ok));
        f.int("errors", Some(bucket.failed));
        let all = bucket.ok + bucket.failed;
        f.float(
            "error_rate",
            (all > 0).then(|| bucket.failed as f64 / all as f64),
        );
        f.int("users", users.get(&(offset / 1000)).copied());
        b = f.close(tags.put(b.measurement(SERIES)), at);
        for (class, l) in &bucket.classes {
            let mut f = Fields::default();
            f.float("p50", Some(l.p50));
            f.float("p95", Some(l.p95));
            f.float("p99", Some(l.p99));
            f.float("max", Some(l.max));
            b = f.close(
                tags.put(b.measurement(LATENCY)).tag("class", class.key()),
                at,
            );
        }
    }
    b.build()
}

/// The run's verdict as a tag: what a trend chart marks.
pub fn verdict_tag(summary: &Summary) -> &'static str {
    if summary.run.interrupted {
        "interrupted"
    } else if summary.regression {
        "regressed"
    } else {
        match summary.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotJudged if summary.unmeasured.is_some() => "not_judged",
            Verdict::NotJudged => "nothing_to_judge",
        }
    }
}

/// The tags every point carries.
struct Tags<'a> {
    scenario: &'a str,
    run_id: &'a str,
    revision: Option<&'a str>,
}

impl Tags<'_> {
    fn put(
        &self,
        b: LineProtocolBuilder<Vec<u8>, AfterMeasurement>,
    ) -> LineProtocolBuilder<Vec<u8>, AfterMeasurement> {
        let b = b.tag("scenario", self.scenario).tag("run_id", self.run_id);
        match self.revision.filter(|r| !r.is_empty()) {
            Some(r) => b.tag("revision", r),
            None => b,
        }
    }
}

/// A point's fields, collected first: a missing figure is left out, and a
/// point needs one field at least (the builder's types say so).
#[derive(Default)]
struct Fields {
    list: Vec<(String, Field)>,
}

enum Field {
    Float(f64),
    Int(i64),
    Bool(bool),
    Str(String),
}

impl Fields {
    fn float(&mut self, key: &str, v: Option<f64>) {
        // Line protocol has no NaN or infinity.
        if let Some(v) = v.filter(|v| v.is_finite()) {
            self.list.push((key.into(), Field::Float(v)));
        }
    }
    fn int(&mut self, key: &str, v: Option<u64>) {
        if let Some(v) = v.and_then(|v| i64::try_from(v).ok()) {
            self.list.push((key.into(), Field::Int(v)));
        }
    }
    fn bool(&mut self, key: &str, v: bool) {
        self.list.push((key.into(), Field::Bool(v)));
    }
    fn str(&mut self, key: &str, v: &str) {
        self.list.push((key.into(), Field::Str(v.into())));
    }

    /// Write the fields and the timestamp; a point without fields is not written.
    fn close(
        self,
        b: LineProtocolBuilder<Vec<u8>, AfterMeasurement>,
        at_ms: i64,
    ) -> LineProtocolBuilder<Vec<u8>> {
        let mut fields = self.list.into_iter();
        let Some((k, v)) = fields.next() else {
            // Not reached: every point above has a field always present.
            return b.field("present", true).timestamp(at_ms).close_line();
        };
        let mut b = match v {
            Field::Float(x) => b.field(&k, x),
            Field::Int(x) => b.field(&k, x),
            Field::Bool(x) => b.field(&k, x),
            Field::Str(x) => b.field(&k, x.as_str()),
        };
        for (k, v) in fields {
            b = match v {
                Field::Float(x) => b.field(&k, x),
                Field::Int(x) => b.field(&k, x),
                Field::Bool(x) => b.field(&k, x),
                Field::Str(x) => b.field(&k, x.as_str()),
            };
        }
        b.timestamp(at_ms).close_line()
    }
}

/// Write `body` to the export destination (precision ms). The error says what
/// the server answered, secrets masked.
pub async fn write(target: &Target, body: Vec<u8>) -> std::result::Result<usize, String> {
    let base = target.url.as_ref().expect("[export] has a url (checked)");
    let mut url = base.clone();
    let path = match target.kind {
        TargetKind::Influxdb2 => "api/v2/write",
        _ => "write",
    };
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|_| "bad export url".to_string())?;
        segments.pop_if_empty();
        for s in path.split('/') {
            segments.push(s);
        }
    }
    {
        let mut q = url.query_pairs_mut();
        match target.kind {
            TargetKind::Influxdb2 => {
                q.append_pair("org", target.org.as_deref().unwrap_or_default());
                let bucket = target.bucket.as_deref().unwrap_or(&target.database);
                q.append_pair("bucket", bucket);
            }
            _ => {
                q.append_pair("db", &target.database);
                if let Some(rp) = &target.retention_policy {
                    q.append_pair("rp", rp);
                }
            }
        }
        q.append_pair("precision", "ms");
    }
    // Redirects are not followed: the results go where the scenario says or
    // nowhere (a redirect is reported with where it pointed).
    let client = reqwest::Client::builder()
        .timeout(target.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.post(url.clone()).body(body);
    request = match &target.auth {
        Auth::None => request,
        Auth::Basic { username, password } => {
            crate::redact::register_basic(username, password.expose());
            request.basic_auth(username, Some(password.expose()))
        }
        Auth::Token(token) => {
            crate::redact::register(token.expose());
            request.header("Authorization", format!("Token {}", token.expose()))
        }
    };
    let shown = target.summary().url;
    let answer = request
        .send()
        .await
        .map_err(|e| crate::redact::redact(&format!("{shown}: {e}")).into_owned())?;
    let status = answer.status();
    // InfluxDB (1.x and 2.x) answers a stored write 204 No Content: another
    // success (a proxy's or a login page's 200) stored nothing.
    if status == reqwest::StatusCode::NO_CONTENT {
        return Ok(status.as_u16() as usize);
    }
    let why = if status.is_redirection() {
        let to = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("nowhere said");
        format!("a redirect to {to}, not followed (set [export] url to the real destination)")
    } else if status.is_success() {
        let kind = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|c| c.to_str().ok())
            .unwrap_or("no content type")
            .to_string();
        format!("not InfluxDB's 204 for a stored write ({kind}): nothing is known to be stored")
    } else {
        String::new()
    };
    let body =
        crate::target::body::read(answer, crate::target::body::Reading::write(ERROR_BODY_READ))
            .await
            .map(|b| String::from_utf8_lossy(b.head()).into_owned())
            .unwrap_or_default();
    let text: String = body.trim().chars().take(300).collect();
    let text = match (why.is_empty(), text.is_empty()) {
        (true, _) => text,
        (false, true) => why,
        (false, false) => format!("{why}; it said: {text}"),
    };
    Err(crate::redact::redact(&format!("{shown} answered {status}: {text}")).into_owned())
}

#[cfg(test)]
mod tests;
