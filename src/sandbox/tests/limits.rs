//! One request must not take the sandbox down: deep nesting, huge texts and bodies
//! answer InfluxDB's `{"error": …}` shapes instead of overflowing the stack or memory.

use serde_json::Value;

use super::{config, serve, TestServer, DATA};

/// The four shapes that overflowed the stack (issue 12, item 9).
fn deep_queries() -> Vec<(&'static str, String)> {
    vec![
        (
            "5,000 nested parentheses",
            format!("SELECT {}x{} FROM m", "(".repeat(5000), ")".repeat(5000)),
        ),
        (
            "2,000 nested subqueries",
            format!(
                "SELECT x FROM {}time_entry{}",
                "(SELECT x FROM ".repeat(2000),
                ")".repeat(2000)
            ),
        ),
        (
            "10,000 unary minus",
            format!("SELECT {}duration_s FROM time_entry", "- ".repeat(10_000)),
        ),
        (
            "20,000-term chain",
            format!(
                "SELECT {}duration_s FROM time_entry",
                "duration_s + ".repeat(19_999)
            ),
        ),
        (
            "20,000-term OR chain in WHERE",
            format!(
                "SELECT duration_s FROM time_entry WHERE {}project = 'A'",
                "project = 'A' OR ".repeat(19_999)
            ),
        ),
    ]
}

async fn post_query(s: &TestServer, q: &str) -> (u16, Value) {
    let resp = s
        .client
        .post(format!("{}/query", s.url))
        .form(&[("db", "toggl"), ("q", q)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn deep_nesting_answers_a_parse_error_and_the_sandbox_lives_on() {
    let s = serve(config()).await;
    s.write(DATA).await;
    for (what, q) in deep_queries() {
        let (status, body) = post_query(&s, &q).await;
        assert_eq!(status, 400, "{what}: {body}");
        let msg = body["error"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("error parsing query: ") && msg.contains(" at line 1, char "),
            "{what}: {msg}"
        );
    }
    // Still serving.
    let (status, _) = s.query("SELECT count(duration_s) FROM time_entry").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn query_bodies_over_ten_mib_answer_413_like_write() {
    let s = serve(config()).await;
    // A form body past Go's 10 MiB form limit.
    let q = format!("q=SELECT+{}x+FROM+m", "x".repeat(11 << 20));
    let resp = s
        .client
        .post(format!("{}/query?db=toggl", s.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(q)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        serde_json::json!({"error": "Request Entity Too Large"})
    );
    // A query text past the parser's limit in a body under it: a parse error.
    let (status, body) = post_query(&s, &format!("SELECT {}x FROM m", "x".repeat(2 << 20))).await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("error parsing query: query too long ("));
}

#[tokio::test]
async fn grafana_ds_query_bounds_its_body_and_its_queries() {
    let s = serve(config()).await;
    let big = serde_json::json!({"queries": [{"refId": "A", "query": "x".repeat(3 << 20)}]});
    let resp = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "request body too large");
    let many: Vec<Value> = (0..101)
        .map(|i| serde_json::json!({"refId": format!("R{i}"), "query": "SHOW DATABASES"}))
        .collect();
    let resp = s
        .client
        .post(format!("{}/api/ds/query", s.url))
        .json(&serde_json::json!({"queries": many}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "too many queries (101, at most 100)");
}

#[tokio::test]
async fn a_gzip_bomb_on_write_answers_413_and_stores_nothing() {
    use std::io::Write as _;
    let s = serve(crate::sandbox::SandboxConfig {
        max_body_bytes: 1 << 20,
        ..config()
    })
    .await;
    // 8 MiB of line protocol in a gzip body of a few KB: over the limit once inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let line = b"m v=1i 1\n";
    for _ in 0..(8 << 20) / line.len() {
        gz.write_all(line).unwrap();
    }
    let body = gz.finish().unwrap();
    assert!(body.len() < 1 << 20);
    let resp = s
        .client
        .post(format!("{}/write?db=toggl", s.url))
        .header("Content-Encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        serde_json::json!({"error": "Request Entity Too Large"})
    );
    assert_eq!(s.state.counters().points_written, 0);
}
