//! The two formats a target's metrics come in, read into dashload's own metric
//! names ([`super::metric`]): InfluxDB 1.x's `/debug/vars` (Go expvar JSON; the
//! sandbox serves the same shape) and Prometheus text (InfluxDB 2.x and Grafana
//! at `/metrics`).
//!
//! Only the figures the report uses are kept, each summed over the modules or
//! label sets it is split into (every `httpd` bind, every shard, every status
//! code), so one scrape is a few dozen numbers whatever the server's size.

use std::collections::BTreeMap;

use super::metric::*;

/// A scrape's figures: dashload metric name → value.
pub type Figures = BTreeMap<&'static str, f64>;

/// Read a scrape's body: JSON (`/debug/vars`) when it opens with `{`, else
/// Prometheus text. `Err` says why nothing could be read.
pub fn parse(body: &[u8]) -> Result<Figures, String> {
    let head = body.iter().find(|b| !b.is_ascii_whitespace());
    if head == Some(&b'{') {
        debug_vars(body)
    } else {
        prometheus(body)
    }
}

/// `(module name, field, dashload metric, scale)` of `/debug/vars`.
const DEBUG_VARS: &[(&str, &str, &str, f64)] = &[
    ("httpd", "req", HTTP_REQUESTS, 1.0),
    ("httpd", "queryReq", QUERY_REQUESTS, 1.0),
    ("httpd", "writeReq", WRITE_REQUESTS, 1.0),
    ("httpd", "pingReq", PING_REQUESTS, 1.0),
    ("httpd", "pointsWrittenOK", POINTS_WRITTEN, 1.0),
    ("httpd", "pointsWrittenFail", WRITE_ERRORS, 1.0),
    ("httpd", "pointsWrittenDropped", WRITE_ERRORS, 1.0),
    ("httpd", "clientError", HTTP_4XX, 1.0),
    ("httpd", "serverError", HTTP_5XX, 1.0),
    ("httpd", "queryReqDurationNs", QUERY_SECONDS, 1e-9),
    ("queryExecutor", "queriesActive", QUERIES_ACTIVE, 1.0),
    ("runtime", "HeapAlloc", HEAP_BYTES, 1.0),
    ("runtime", "NumGoroutine", GOROUTINES, 1.0),
    ("sandbox", "cacheHits", CACHE_HITS, 1.0),
    ("sandbox", "cacheMisses", CACHE_MISSES, 1.0),
    ("sandbox", "rejectedBusy", REJECTED_BUSY, 1.0),
];

/// InfluxDB 1.x `/debug/vars`: top-level entries `{"name": module, "tags": …,
/// "values": {field: number}}` (keyed `httpd:<bind>`, `shard:<path>:<id>`, …),
/// beside Go's `memstats` and `cmdline`, which are not read.
pub fn debug_vars(body: &[u8]) -> Result<Figures, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not /debug/vars JSON: {e}"))?;
    let top = json
        .as_object()
        .ok_or("not /debug/vars JSON: not an object")?;
    let mut out = Figures::new();
    for entry in top.values() {
        let (Some(module), Some(values)) = (
            entry.get("name").and_then(|n| n.as_str()),
            entry.get("values").and_then(|v| v.as_object()),
        ) else {
            continue;
        };
        for (m, field, metric, scale) in DEBUG_VARS {
            if *m != module {
                continue;
            }
            if let Some(v) = values.get(*field).and_then(|v| v.as_f64()) {
                *out.entry(*metric).or_default() += v * scale;
            }
        }
    }
    if out.is_empty() {
        return Err("no known module (httpd, queryExecutor, runtime) in /debug/vars".into());
    }
    Ok(out)
}

/// The endpoint kind of a request path, as the count check groups calls.
fn path_kind(path: &str) -> Option<&'static str> {
    match path {
        "/query" | "/api/v2/query" | "/api/ds/query" => Some(QUERY_REQUESTS),
        "/write" | "/api/v2/write" => Some(WRITE_REQUESTS),
        "/ping" => Some(PING_REQUESTS),
        _ => None,
    }
}

/// The status class metric of a status label (`200`, `2XX`, `4xx`).
fn status_class(status: &str) -> Option<&'static str> {
    match status.as_bytes().first() {
        Some(b'4') => Some(HTTP_4XX),
        Some(b'5') => Some(HTTP_5XX),
        _ => None,
    }
}

/// Prometheus text exposition (InfluxDB 2.x, Grafana; the Go and process
/// collectors' figures of any exporter).
pub fn prometheus(body: &[u8]) -> Result<Figures, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not Prometheus text: {e}"))?;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("not Prometheus text: {e}"))?;
    let mut out = Figures::new();
    let mut add = |metric: &'static str, v: f64| {
        if v.is_finite() {
            *out.entry(metric).or_default() += v;
        }
    };
    for s in &scrape.samples {
        let v = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        let label = |name: &str| s.labels.get(name).unwrap_or_default();
        match s.metric.as_str() {
            "go_goroutines" => add(GOROUTINES, v),
            "go_memstats_heap_alloc_bytes" => add(HEAP_BYTES, v),
            "process_resident_memory_bytes" => add(RSS_BYTES, v),
            "process_cpu_seconds_total" => add(CPU_SECONDS, v),
            // InfluxDB 2.x: every API call, by path and status class ("2XX").
            "http_api_requests_total" => {
                add(HTTP_REQUESTS, v);
                if let Some(kind) = path_kind(label("path")) {
                    add(kind, v);
                }
                let status = match label("status") {
                    "" => label("response_code"),
                    s => s,
                };
                if let Some(class) = status_class(status) {
                    add(class, v);
                }
            }
            "http_api_request_duration_seconds_sum"
                if path_kind(label("path")) == Some(QUERY_REQUESTS) =>
            {
                add(QUERY_SECONDS, v)
            }
            "storage_writer_ok_points" => add(POINTS_WRITTEN, v),
            "storage_writer_err_points" | "storage_writer_dropped_points" => add(WRITE_ERRORS, v),
            "qc_executing_active" => add(QUERIES_ACTIVE, v),
            // Grafana: every HTTP request by handler and status code.
            "grafana_http_request_duration_seconds_count" => {
                add(HTTP_REQUESTS, v);
                if let Some(kind) = path_kind(label("handler")) {
                    add(kind, v);
                }
                if let Some(class) = status_class(label("status_code")) {
                    add(class, v);
                }
            }
            "grafana_http_request_duration_seconds_sum"
                if path_kind(label("handler")) == Some(QUERY_REQUESTS) =>
            {
                add(QUERY_SECONDS, v)
            }
            // Data source calls (and the data source proxy) that did not answer 2xx.
            "grafana_datasource_request_total" | "grafana_proxy_response_status_total" => {
                let code = label("code");
                if !code.is_empty() && !code.starts_with('2') {
                    add(DATASOURCE_ERRORS, v);
                }
            }
            _ => {}
        }
    }
    if scrape.samples.is_empty() {
        return Err("no Prometheus samples in the answer".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/server-metrics")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn influxd_1x_debug_vars_as_captured_from_the_suites_influxd() {
        // One CREATE DATABASE, one write of 2 points, one SELECT, one /ping, then
        // this /debug/vars (req counts itself).
        let f = parse(&fixture("influxd-1.x-debug-vars.json")).unwrap();
        assert_eq!(f[QUERY_REQUESTS], 2.0);
        assert_eq!(f[WRITE_REQUESTS], 1.0);
        assert_eq!(f[PING_REQUESTS], 1.0);
        assert_eq!(f[POINTS_WRITTEN], 2.0);
        assert_eq!(f[HTTP_REQUESTS], 5.0);
        assert_eq!(f[HTTP_4XX], 0.0);
        assert_eq!(f[GOROUTINES], 15.0);
        assert_eq!(f[HEAP_BYTES], 2_225_320.0);
        assert_eq!(f[QUERIES_ACTIVE], 0.0);
        assert!((f[QUERY_SECONDS] - 0.007_539_447).abs() < 1e-12);
        assert!(!f.contains_key(RSS_BYTES), "influxd 1.x has no RSS figure");
    }

    #[test]
    fn influxdb_2x_metrics_sum_over_labels_by_path_and_status() {
        let f = parse(&fixture("influxdb-2.x-metrics.txt")).unwrap();
        assert_eq!(f[QUERY_REQUESTS], 1204.0 + 3.0 + 61.0);
        assert_eq!(f[WRITE_REQUESTS], 388.0 + 2.0);
        assert_eq!(f[PING_REQUESTS], 15.0);
        assert_eq!(f[HTTP_4XX], 3.0 + 2.0);
        assert_eq!(f[HTTP_5XX], 0.0 + 61.0);
        assert_eq!(
            f[HTTP_REQUESTS],
            1204.0 + 3.0 + 61.0 + 388.0 + 2.0 + 15.0 + 97.0
        );
        assert_eq!(f[POINTS_WRITTEN], 1_940_000.0);
        assert_eq!(f[WRITE_ERRORS], 12.0);
        assert_eq!(f[GOROUTINES], 271.0);
        assert_eq!(f[RSS_BYTES], 2.87096832e8);
        assert_eq!(f[CPU_SECONDS], 1531.47);
        assert_eq!(f[QUERIES_ACTIVE], 4.0);
        assert!((f[QUERY_SECONDS] - (96.4 + 0.02 + 30.5)).abs() < 1e-9);
    }

    #[test]
    fn grafana_metrics_count_ds_query_by_handler_and_datasource_errors() {
        let f = parse(&fixture("grafana-metrics.txt")).unwrap();
        assert_eq!(f[QUERY_REQUESTS], 5230.0 + 41.0);
        assert_eq!(f[HTTP_5XX], 41.0);
        assert_eq!(f[HTTP_4XX], 7.0);
        assert_eq!(f[HTTP_REQUESTS], 5230.0 + 41.0 + 212.0 + 7.0 + 1400.0);
        assert!((f[QUERY_SECONDS] - (612.25 + 120.5)).abs() < 1e-9);
        assert_eq!(f[DATASOURCE_ERRORS], 41.0 + 3.0);
        assert_eq!(f[GOROUTINES], 188.0);
        assert_eq!(f[RSS_BYTES], 1.73453312e8);
        assert!(!f.contains_key(WRITE_REQUESTS), "Grafana takes no writes");
    }

    #[test]
    fn what_is_not_metrics_is_refused_with_a_reason() {
        assert!(parse(b"<html>login</html>")
            .unwrap_err()
            .contains("no Prometheus samples"));
        assert!(parse(b"{\"cmdline\": []}")
            .unwrap_err()
            .contains("no known module"));
        assert!(parse(b"{ not json")
            .unwrap_err()
            .contains("not /debug/vars JSON"));
    }
}
