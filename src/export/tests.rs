//! Line protocol of a summary, and the destination checks.

use influxdb_line_protocol::{parse_lines, FieldValue};

use super::*;

/// A summary of a synthetic staged run with a stress ladder.
fn summary() -> Summary {
    let dir = tempfile::tempdir().unwrap();
    let meta = crate::report::synthetic::write_run(dir.path(), 4000, 3).unwrap();
    crate::report::summarise(dir.path(), &meta, false).unwrap()
}

fn float(v: Option<&FieldValue<'_>>) -> Option<f64> {
    match v? {
        FieldValue::F64(x) => Some(*x),
        _ => None,
    }
}

fn int(v: Option<&FieldValue<'_>>) -> Option<i64> {
    match v? {
        FieldValue::I64(x) => Some(*x),
        _ => None,
    }
}

#[test]
fn every_judged_slo_and_bucket_is_a_point_with_the_summarys_exact_values() {
    let s = summary();
    let body = lines(&s, "20261129T020000Z-staged", Some("abc123"));
    let text = String::from_utf8(body).unwrap();
    let parsed: Vec<_> = parse_lines(&text).map(|l| l.unwrap()).collect();
    let start = s.run.started_at.timestamp_millis();
    let of = |m: &str| {
        parsed
            .iter()
            .filter(|l| l.series.measurement.as_str() == m)
            .collect::<Vec<_>>()
    };
    for l in &parsed {
        assert_eq!(l.tag_value("scenario").unwrap().as_str(), s.run.scenario);
        assert_eq!(
            l.tag_value("run_id").unwrap().as_str(),
            "20261129T020000Z-staged"
        );
        assert_eq!(l.tag_value("revision").unwrap().as_str(), "abc123");
    }

    let run = of(RUN);
    assert_eq!(run.len(), 1);
    assert_eq!(run[0].timestamp, Some(start));
    assert_eq!(
        run[0].tag_value("verdict").unwrap().as_str(),
        verdict_tag(&s)
    );
    assert_eq!(
        int(run[0].field_value("requests")),
        Some(s.totals.requests as i64)
    );
    assert_eq!(float(run[0].field_value("error_rate")), s.totals.error_rate);
    assert_eq!(
        int(run[0].field_value("capacity")),
        s.capacity.map(|c| c as i64)
    );
    let load = s
        .judged
        .iter()
        .find(|c| c.class == crate::runfolder::RequestClass::DashboardLoad)
        .unwrap();
    assert_eq!(
        float(run[0].field_value("dashboard_load_p95")),
        load.latency.map(|l| l.p95)
    );

    let judged: Vec<_> = s.slos.iter().filter(|x| x.judged).collect();
    assert!(!judged.is_empty());
    let slo = of(SLO);
    assert_eq!(slo.len(), judged.len());
    for (point, want) in slo.iter().zip(&judged) {
        assert_eq!(point.tag_value("window").unwrap().as_str(), want.window);
        assert_eq!(point.tag_value("class").unwrap().as_str(), want.class.key());
        assert_eq!(
            point.tag_value("figure").unwrap().as_str(),
            want.metric.key()
        );
        assert_eq!(float(point.field_value("value")), want.observed);
        assert_eq!(float(point.field_value("slo")), Some(want.max));
        let window = s.windows.iter().find(|w| w.name == want.window).unwrap();
        assert_eq!(point.timestamp, Some(start + window.start_ms as i64));
    }

    let series = of(SERIES);
    assert_eq!(series.len(), s.series.buckets.len());
    let width = s.series.bucket_ms as f64 / 1000.0;
    for (i, (point, bucket)) in series.iter().zip(&s.series.buckets).enumerate() {
        assert_eq!(
            point.timestamp,
            Some(start + (i as u64 * s.series.bucket_ms) as i64)
        );
        assert_eq!(
            float(point.field_value("requests_per_s")),
            Some(bucket.ok as f64 / width)
        );
        assert_eq!(int(point.field_value("errors")), Some(bucket.failed as i64));
    }
    let latency = of(LATENCY);
    let classes: usize = s.series.buckets.iter().map(|b| b.classes.len()).sum();
    assert_eq!(latency.len(), classes);
    assert!(classes > 0);
}

#[test]
fn without_a_revision_there_is_no_revision_tag() {
    let s = summary();
    let text = String::from_utf8(lines(&s, "r", None)).unwrap();
    assert!(parse_lines(&text).all(|l| l.unwrap().tag_value("revision").is_none()));
}

fn scenario(text: &str) -> Result<Scenario> {
    let dir = tempfile::tempdir().unwrap();
    Scenario::parse(text, &dir.path().join("s.toml"))
}

const TARGET: &str = "[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:8086\"\n";

#[test]
fn the_destination_is_never_the_target_under_test() {
    let s = scenario(&format!(
        "{TARGET}[export]\nurl = \"http://127.0.0.1:8086/\"\n"
    ))
    .unwrap();
    let e = destination(&s).unwrap_err().to_string();
    assert!(e.contains("is the target under test"), "{e}");
    // `localhost` is 127.0.0.1: the same server, by address (issue 25).
    let s = scenario(&format!(
        "{TARGET}[export]\nurl = \"http://localhost:8086\"\ndatabase = \"dashload\"\n"
    ))
    .unwrap();
    let e = destination(&s).unwrap_err().to_string();
    assert!(e.contains("is the target under test"), "{e}");
    let s = scenario(&format!(
        "{TARGET}[export]\nurl = \"http://localhost:8087\"\ndatabase = \"dashload\"\n"
    ))
    .unwrap();
    let to = destination(&s).unwrap();
    assert_eq!(to.database, "dashload");
    assert_eq!(to.kind, TargetKind::Influxdb1);
    let e = destination(&scenario(TARGET).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("DASHLOAD_EXPORT_URL"), "{e}");
}

#[test]
fn export_tables_are_checked_as_targets_are() {
    let e = scenario(&format!(
        "{TARGET}[export]\nkind = \"grafana\"\nurl = \"http://x\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("[export] kind `grafana`: expected influxdb1 or influxdb2"),
        "{e}"
    );
    let e = scenario(&format!("{TARGET}[export]\ndatabase = \"d\"\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("[export] needs a `url`"), "{e}");
    let e = scenario(&format!(
        "{TARGET}[export]\nkind = \"influxdb2\"\nurl = \"http://x\"\norg = \"o\"\nbucket = \"b\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs an API token"), "{e}");
    let e = scenario(&format!(
        "{TARGET}[export]\nurl = \"http://x\"\nquery_method = \"POST\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("[export] takes no `query_method`"), "{e}");
}

/// Serve `app` on a free loopback port; its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The export destination at `url`.
fn export_to(url: &str) -> Target {
    destination(
        &scenario(&format!(
            "{TARGET}[export]\nurl = \"{url}\"\ndatabase = \"dashload\"\n"
        ))
        .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn only_influxdbs_204_counts_as_exported() {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    let login = serve(axum::Router::new().route(
        "/write",
        post(|| async {
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Sign in</body></html>",
            )
                .into_response()
        }),
    ))
    .await;
    let e = write(&export_to(&login), b"m f=1 1".to_vec())
        .await
        .unwrap_err();
    assert!(
        e.contains("200 OK") && e.contains("not InfluxDB's 204") && e.contains("text/html"),
        "{e}"
    );
    let influx =
        serve(axum::Router::new().route("/write", post(|| async { StatusCode::NO_CONTENT }))).await;
    assert_eq!(
        write(&export_to(&influx), b"m f=1 1".to_vec()).await,
        Ok(204)
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_says_where_it_pointed() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use axum::http::{header, StatusCode};
    use axum::routing::post;
    let hits = Arc::new(AtomicU64::new(0));
    let elsewhere = {
        let hits = hits.clone();
        serve(axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::NO_CONTENT }
        }))
        .await
    };
    let to = format!("{elsewhere}/write?db=dashload");
    let redirecting = {
        let to = to.clone();
        serve(axum::Router::new().route(
            "/write",
            post(move || async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]) }),
        ))
        .await
    };
    let e = write(&export_to(&redirecting), b"m f=1 1".to_vec())
        .await
        .unwrap_err();
    assert!(
        e.contains("307") && e.contains(&format!("a redirect to {to}, not followed")),
        "{e}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}
