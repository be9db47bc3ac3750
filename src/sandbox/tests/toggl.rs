//! Toggl API subset: auth, token bucket, hourly quota, `since` and date windows.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::Value;

use super::{config, serve, TestServer};
use crate::sandbox::{SandboxConfig, TogglConfig};
use crate::workload::toggl::TimeEntry;

fn get(s: &TestServer, path: &str) -> reqwest::RequestBuilder {
    s.client
        .get(format!("{}{path}", s.url))
        .basic_auth("0123456789abcdef", Some("api_token"))
}

async fn entries(s: &TestServer, path: &str) -> Vec<TimeEntry> {
    let resp = get(s, path).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn requests_without_basic_auth_get_an_empty_401() {
    let s = serve(config()).await;
    for auth in [None, Some("Bearer abc"), Some("Basic !!!")] {
        let mut req = s.client.get(format!("{}/api/v9/me/time_entries", s.url));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(resp.headers()["x-authorization-missing"], "true");
        assert_eq!(resp.text().await.unwrap(), "");
    }
}

#[tokio::test]
async fn me_with_related_data_lists_the_world() {
    let s = serve(config()).await;
    let resp = get(&s, "/api/v9/me?with_related_data=true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-toggl-quota-remaining"));
    let me: Value = resp.json().await.unwrap();
    assert_eq!(me["projects"].as_array().unwrap().len(), 31);
    assert_eq!(me["workspace_users"].as_array().unwrap().len(), 50);
    let plain: Value = get(&s, "/api/v9/me")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(plain.get("projects").is_none());
    assert_eq!(plain["id"], me["id"]);
}

#[tokio::test]
async fn since_returns_entries_changed_since_newest_first() {
    let s = serve(config()).await;
    let now = Utc::now().timestamp();
    let since = now - 3 * 86_400;
    let list = entries(&s, &format!("/api/v9/me/time_entries?since={since}")).await;
    assert!(!list.is_empty());
    assert!(list.len() <= 1000);
    assert!(list.iter().all(|e| e.at.timestamp() >= since));
    assert!(list.iter().all(|e| e.start.timestamp() <= now));
    assert!(list.windows(2).all(|w| w[0].start >= w[1].start));
    // A later `since` sees a subset.
    let later = entries(
        &s,
        &format!("/api/v9/me/time_entries?since={}", now - 86_400),
    )
    .await;
    assert!(later.len() <= list.len());
    assert!(later.iter().all(|e| e.at.timestamp() >= now - 86_400));

    let resp = get(
        &s,
        &format!("/api/v9/me/time_entries?since={since}&before=2025-01-01"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.text().await.unwrap(),
        "\"'since' and 'before' can not be present simultaneously\""
    );
    let resp = get(&s, "/api/v9/me/time_entries?since=yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn date_windows_filter_on_start_and_are_deterministic() {
    let s = serve(SandboxConfig {
        toggl: TogglConfig {
            max_entries: 50,
            ..TogglConfig::default()
        },
        ..config()
    })
    .await;
    let path = "/api/v9/me/time_entries?start_date=2025-11-17&end_date=2025-11-19";
    let a = entries(&s, path).await;
    let b = entries(&s, path).await;
    assert_eq!(a, b);
    assert_eq!(a.len(), 50, "capped to max_entries");
    let from: DateTime<Utc> = "2025-11-17T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2025-11-19T00:00:00Z".parse().unwrap();
    assert!(a.iter().all(|e| e.start >= from && e.start < to));
    assert!(a.iter().all(|e| e.server_deleted_at.is_none()));
    // The newest are kept.
    let rfc =
        "/api/v9/me/time_entries?start_date=2025-11-18T12:00:00Z&end_date=2025-11-19T00:00:00Z";
    let late = entries(&s, rfc).await;
    assert_eq!(late[0], a[0]);
    let resp = get(&s, "/api/v9/me/time_entries?start_date=soon")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_token_bucket_answers_429_with_retry_after() {
    let s = serve(SandboxConfig {
        toggl: TogglConfig {
            rate_per_s: 0.01,
            burst: 3.0,
            hourly_quota: None,
            ..TogglConfig::default()
        },
        ..config()
    })
    .await;
    let statuses: Vec<reqwest::Response> = join_all((0..5).map(|_| get(&s, "/api/v9/me").send()))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ok = statuses.iter().filter(|r| r.status() == 200).count();
    let limited: Vec<_> = statuses.iter().filter(|r| r.status() == 429).collect();
    assert_eq!((ok, limited.len()), (3, 2));
    assert!(limited.iter().all(|r| r.headers()["retry-after"] == "1"));
    assert_eq!(s.state.counters().rate_limited, 2);
    // Another token has its own bucket.
    let other = s
        .client
        .get(format!("{}/api/v9/me", s.url))
        .basic_auth("another-token", Some("api_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn the_hourly_quota_answers_402_with_quota_headers() {
    let s = serve(SandboxConfig {
        toggl: TogglConfig {
            hourly_quota: Some(2),
            ..TogglConfig::default()
        },
        ..config()
    })
    .await;
    let first = get(&s, "/api/v9/me").send().await.unwrap();
    assert_eq!(first.headers()["x-toggl-quota-remaining"], "1");
    let second = get(&s, "/api/v9/me").send().await.unwrap();
    assert_eq!(second.headers()["x-toggl-quota-remaining"], "0");
    let third = get(&s, "/api/v9/me").send().await.unwrap();
    assert_eq!(third.status(), 402);
    assert_eq!(third.headers()["x-toggl-quota-remaining"], "0");
    let resets: u64 = third.headers()["x-toggl-quota-resets-in"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&resets), "{resets}");
    assert_eq!(s.state.counters().quota_exceeded, 1);
}

#[tokio::test]
async fn toggl_entries_agree_with_the_seeded_history() {
    // The pre-seeded points and the Toggl API come from the same world and seed.
    let s = serve(SandboxConfig {
        seed_days: 10,
        toggl: TogglConfig {
            max_entries: 100_000,
            ..TogglConfig::default()
        },
        ..config()
    })
    .await;
    s.state.seed();
    // A week (five workdays) ending yesterday at midnight UTC.
    let day_end = Utc::now().timestamp() / 86_400 * 86_400 - 86_400;
    let day_start = day_end - 7 * 86_400;
    let start = DateTime::from_timestamp(day_start, 0).unwrap().to_rfc3339();
    let end = DateTime::from_timestamp(day_end, 0).unwrap().to_rfc3339();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("start_date", &start)
        .append_pair("end_date", &end)
        .finish();
    let path = format!("/api/v9/me/time_entries?{query}");
    let resp = get(&s, &path).send().await.unwrap();
    let list: Vec<TimeEntry> = resp.json().await.unwrap();
    let (_, body) = s
        .query(&format!(
            "SELECT count(\"entry_id\") FROM \"time_entry\" WHERE time >= {day_start}s AND time < {day_end}s"
        ))
        .await;
    let stored = body["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap();
    assert!(list.len() > 1000, "{}", list.len());
    assert_eq!(stored as usize, list.len());
}

#[tokio::test]
async fn since_zero_is_bounded_to_the_newest_entries_of_a_year() {
    let s = serve(config()).await;
    let started = std::time::Instant::now();
    let list = entries(&s, "/api/v9/me/time_entries?since=0").await;
    assert_eq!(list.len(), 1000);
    let year_ago = Utc::now().timestamp() - 366 * 86_400;
    assert!(list.iter().all(|e| e.start.timestamp() >= year_ago));
    assert!(list.windows(2).all(|w| w[0].start >= w[1].start));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let current = get(&s, "/api/v9/me/time_entries/current")
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
    let body: Value = current.json().await.unwrap();
    assert!(
        body.is_null() || body["duration"].as_i64().unwrap() < 0,
        "{body}"
    );
}
