//! The load model over HTTP: full pools answer 503 with `Retry-After`, the cache
//! serves repeats, and `Sandbox::start` seeds deterministic history.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use super::{config, serve, url, DATA};
use crate::sandbox::{CacheConfig, CapacityConfig, Sandbox, SandboxConfig};

#[tokio::test]
async fn a_burst_past_the_queue_limit_gets_503_with_retry_after() {
    let s = serve(SandboxConfig {
        capacity: CapacityConfig {
            query_workers: 1,
            query_queue: 2,
            query_base_cost: Duration::from_millis(600),
            ..CapacityConfig::unthrottled()
        },
        ..config()
    })
    .await;
    s.write(DATA).await;
    let burst = (0..8).map(|_| {
        s.client
            .get(url(
                &s.url,
                "/query",
                &[
                    ("db", "toggl"),
                    ("q", "SELECT count(\"duration_s\") FROM \"time_entry\""),
                ],
            ))
            .send()
    });
    let answers = join_all(burst).await;
    let mut ok = 0;
    let mut busy = 0;
    for resp in answers {
        let resp = resp.unwrap();
        match resp.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(resp.headers()["retry-after"], "1");
                let body: serde_json::Value = resp.json().await.unwrap();
                assert!(body["error"].as_str().unwrap().contains("queue full"));
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    // One running and two queued fit; the other five are refused at once.
    assert_eq!(ok, 3);
    assert_eq!(busy, 5);
    assert_eq!(s.state.counters().rejected_busy, 5);

    // Grafana's path goes through the same pool.
    let body = json!({"from": "0", "to": "7199000", "queries": [{"refId": "A", "query": "SELECT count(\"duration_s\") FROM \"time_entry\""}]});
    let burst = (0..8).map(|_| {
        s.client
            .post(format!("{}/api/ds/query", s.url))
            .json(&body)
            .send()
    });
    let statuses: Vec<u16> = join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        5,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_full_write_queue_answers_503() {
    let s = serve(SandboxConfig {
        capacity: CapacityConfig {
            write_workers: 1,
            write_queue: 0,
            write_cost_per_1k: Duration::from_millis(800),
            ..CapacityConfig::unthrottled()
        },
        ..config()
    })
    .await;
    let body: String = (0..1000).map(|i| format!("m v={i}i {i}\n")).collect();
    let burst = (0..4).map(|_| {
        s.client
            .post(format!("{}/write?db=toggl&precision=s", s.url))
            .body(body.clone())
            .send()
    });
    let statuses: Vec<u16> = join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(s.state.counters().points_written, 1000);
}

#[tokio::test]
async fn modelled_cost_grows_with_points_scanned() {
    let s = serve(SandboxConfig {
        capacity: CapacityConfig {
            query_cost_per_1k: Duration::from_millis(200),
            ..CapacityConfig::unthrottled()
        },
        ..config()
    })
    .await;
    let body: String = (0..2000).map(|i| format!("m v={i}i {i}\n")).collect();
    s.write(&body).await;
    let timed = |q: &'static str| {
        let s = &s;
        async move {
            let start = Instant::now();
            let (status, _) = s.query(q).await;
            assert_eq!(status, 200);
            start.elapsed()
        }
    };
    let narrow = timed("SELECT sum(v) FROM m WHERE time < 10s").await;
    let wide = timed("SELECT sum(v) FROM m").await;
    // 2 000 points at 200 ms per 1 000 → at least 400 ms; 10 points → about 2 ms.
    assert!(wide >= Duration::from_millis(400), "{wide:?}");
    assert!(narrow < Duration::from_millis(300), "{narrow:?}");
}

#[tokio::test]
async fn the_cache_serves_repeats_within_its_bucket() {
    let s = serve(SandboxConfig {
        capacity: CapacityConfig {
            cache: Some(CacheConfig::default()),
            ..CapacityConfig::unthrottled()
        },
        ..config()
    })
    .await;
    s.write(DATA).await;
    let q1 = r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= 1000ms and time <= 1763251201234ms"#;
    let q2 = r#"SELECT sum("duration_s")  FROM "time_entry" WHERE time >= 1000ms and time <= 1763251205678ms"#;
    let (_, a) = s.query(q1).await;
    let (_, b) = s.query(q2).await;
    assert_eq!(a, b);
    let c = s.state.counters();
    assert_eq!(
        (c.cache_hits, c.cache_misses, c.statements_executed),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn start_seeds_history_without_counting_it_and_stops() {
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed_days: 90,
        capacity: CapacityConfig::unthrottled(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let seeded_in = started.elapsed();
    assert!(
        seeded_in < Duration::from_secs(10),
        "seeding took {seeded_in:?}"
    );
    let client = reqwest::Client::new();
    let body: serde_json::Value = client
        .get(url(
            &sandbox.url(),
            "/query",
            &[
                ("db", "toggl"),
                ("q", "SELECT count(\"duration_s\") FROM \"time_entry\"; SHOW TAG VALUES WITH KEY = \"user\""),
            ],
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let count = body["results"][0]["series"][0]["values"][0][1]
        .as_i64()
        .unwrap();
    // 50 users × ~64 workdays × ~6 entries.
    assert!((15_000..40_000).contains(&count), "{count}");
    let users = body["results"][1]["series"][0]["values"]
        .as_array()
        .unwrap();
    assert_eq!(users.len(), 50);
    let counters = sandbox.counters();
    assert_eq!(counters.points_written, 0);
    assert_eq!(counters.requests["GET /query"], 1);
    sandbox.stop().await;
}
