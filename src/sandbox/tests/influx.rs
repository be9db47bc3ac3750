//! `/ping`, `/write`, `/query` status codes and bodies (DOMAIN.md §2.1–2.4).

use std::io::Write;

use serde_json::json;

use super::{config, serve, url, DATA};
use crate::sandbox::SandboxConfig;

#[tokio::test]
async fn ping_answers_204_with_a_version() {
    let s = serve(config()).await;
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let resp = s
            .client
            .request(method, format!("{}/ping", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert!(resp.headers().contains_key("x-influxdb-version"));
    }
    assert_eq!(s.state.counters().requests["HEAD /ping"], 1);
}

#[tokio::test]
async fn written_points_are_queryable_and_counted() {
    let s = serve(config()).await;
    s.write(DATA).await;
    let (status, body) = s
        .query(r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= 0ms and time <= 7199000ms GROUP BY time(1h)"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"results": [{"statement_id": 0, "series": [{
            "name": "time_entry", "columns": ["time", "sum"],
            "values": [[0, 12600], [3_600_000, 1500]]}]}]})
    );
    let c = s.state.counters();
    assert_eq!(c.points_written, 5);
    assert_eq!(c.requests["POST /write"], 1);
    assert_eq!(c.requests["GET /query"], 1);
    assert_eq!(c.statements_executed, 1);
    assert!(c.query_cost >= 5);
}

#[tokio::test]
async fn write_errors_have_influxdbs_shapes() {
    let s = serve(SandboxConfig {
        max_body_bytes: 200,
        ..config()
    })
    .await;
    let post = |path: &str, body: &str| {
        s.client
            .post(format!("{}{path}", s.url))
            .body(body.to_string())
            .send()
    };
    let resp = post("/write", "m v=1").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "database is required"})
    );

    let resp = post("/write?db=nope", "m v=1").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "database not found: \"nope\""})
    );

    let resp = post(
        "/write?db=toggl&precision=s",
        "m v=1i 1\nthis is bad\nm v=2i 2",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().contains_key("x-influxdb-error"));
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "partial write: unable to parse 'this is bad': invalid field format dropped=0"})
    );
    // The good lines were stored.
    let (_, body) = s.query("SELECT count(v) FROM m").await;
    assert_eq!(body["results"][0]["series"][0]["values"], json!([[0, 2]]));
    assert_eq!(s.state.counters().points_written, 2);

    let resp = post("/write?db=toggl&rp=nope", "m v=1").await.unwrap();
    assert_eq!(resp.status(), 500);

    let big = "m v=1i 1\n".repeat(30);
    let resp = post("/write?db=toggl", &big).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "Request Entity Too Large"})
    );

    let resp = s
        .client
        .get(format!("{}/write?db=toggl", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST, OPTIONS");

    let resp = s
        .client
        .post(format!("{}/write?db=toggl", s.url))
        .header("Content-Encoding", "gzip")
        .body("m v=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "unexpected EOF"})
    );
}

#[tokio::test]
async fn gzip_precision_and_upsert() {
    let s = serve(config()).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"m,k=a v=1i 1500\nm,k=a v=2i 2500").unwrap();
    let resp = s
        .client
        .post(format!("{}/write?db=toggl&precision=ms", s.url))
        .header("Content-Encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Same series and timestamp again: an upsert, the newer value wins.
    let resp = s
        .client
        .post(format!("{}/write?db=toggl&precision=s", s.url))
        .body("m,k=a v=7i 2.5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "2.5 is not an integer timestamp");
    let resp = s
        .client
        .post(format!("{}/write?db=toggl&precision=u", s.url))
        .body("m,k=a v=7i 2500000")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, body) = s.query("SELECT v FROM m").await;
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([[1500, 1], [2500, 7]])
    );
}

#[tokio::test]
async fn query_errors_and_post_forms() {
    let s = serve(config()).await;
    let (status, body) = s.query("SELECT user FROM m").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "error parsing query: found USER, expected identifier, string, number, bool at line 1, char 8"})
    );
    let resp = s
        .client
        .get(format!("{}/query?db=toggl", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "missing required parameter \"q\""})
    );
    // A statement-level error is a 200 with the error in the result.
    let resp = s
        .client
        .get(url(
            &s.url,
            "/query",
            &[("db", "nope"), ("q", "SELECT v FROM m")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"results": [{"statement_id": 0, "error": "database not found: nope"}]})
    );
    // POST with a form body, as Grafana's POST mode and `CREATE DATABASE` send it.
    let resp = s
        .client
        .post(format!("{}/query", s.url))
        .form(&[("q", "CREATE DATABASE stress; SHOW DATABASES")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["results"][0], json!({"statement_id": 0}));
    assert_eq!(
        body["results"][1]["series"][0]["values"],
        json!([["stress"], ["toggl"]])
    );
    let resp = s
        .client
        .post(format!("{}/write?db=stress", s.url))
        .body("m v=1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(s.state.counters().requests["POST /query"], 1);
}

#[tokio::test]
async fn rfc3339_by_default_epoch_when_asked() {
    let s = serve(config()).await;
    s.write("m v=1i 1763251200").await;
    let resp = s
        .client
        .get(url(
            &s.url,
            "/query",
            &[("db", "toggl"), ("q", "SELECT v FROM m")],
        ))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["2025-11-16T00:00:00Z", 1]])
    );
    let (_, body) = s.query("SELECT v FROM m").await;
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([[1_763_251_200_000i64, 1]])
    );
}

#[tokio::test]
async fn debug_vars_counts_query_write_and_ping_requests_as_influxd_does() {
    let s = serve(config()).await;
    s.write(DATA).await;
    for q in [
        "SELECT count(duration_s) FROM time_entry",
        "SHOW MEASUREMENTS",
    ] {
        let r = s
            .client
            .get(url(&s.url, "/query", &[("db", "toggl"), ("q", q)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let bad = s
        .client
        .get(url(
            &s.url,
            "/query",
            &[("db", "toggl"), ("q", "SELEC nothing")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    s.client
        .get(format!("{}/ping", s.url))
        .send()
        .await
        .unwrap();
    let body = s
        .client
        .get(format!("{}/debug/vars", s.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use crate::server_metrics::metric::*;
    let f = crate::server_metrics::parse::parse(&body).unwrap();
    assert_eq!(f[QUERY_REQUESTS], 3.0);
    assert_eq!(f[WRITE_REQUESTS], 1.0);
    assert_eq!(f[PING_REQUESTS], 1.0);
    assert_eq!(f[POINTS_WRITTEN], 5.0);
    assert_eq!(f[HTTP_4XX], 1.0);
    assert_eq!(
        f[HTTP_REQUESTS], 6.0,
        "the scrape counts itself, as influxd's req"
    );
    assert_eq!(f[QUERIES_ACTIVE], 0.0);
    assert!(f[QUERY_SECONDS] > 0.0);
    assert_eq!(f[CACHE_HITS], 0.0);
}

#[test]
fn debug_vars_answers_loopback_peers_only() {
    use crate::sandbox::http_debug::peer_allowed;
    assert!(peer_allowed(Some("127.0.0.1:5000".parse().unwrap())));
    assert!(peer_allowed(Some("[::1]:5000".parse().unwrap())));
    assert!(!peer_allowed(Some("192.168.1.20:5000".parse().unwrap())));
    assert!(peer_allowed(None));
}
