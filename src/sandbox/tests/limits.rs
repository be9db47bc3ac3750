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
