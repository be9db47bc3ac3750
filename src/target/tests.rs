//! URL and header building per target kind.

use super::*;
use crate::scenario::{Secret, Target};

fn target(kind: TargetKind, auth: Auth) -> Target {
    Target {
        kind,
        url: Some(Url::parse("http://127.0.0.1:8086/base/").unwrap()),
        database: "toggl".into(),
        retention_policy: Some("r90".into()),
        query_method: QueryMethod::Get,
        auth,
        org: None,
        bucket: None,
        datasource_uid: None,
        datasources: Default::default(),
        org_id: 3,
        timeout: Duration::from_secs(5),
        max_body: body::DEFAULT_MAX_BODY,
        write: None,
    }
}

#[test]
fn influxql_goes_to_query_with_db_epoch_and_rp() {
    let e = Endpoints::new(&target(TargetKind::Influxdb1, Auth::None), None);
    let r = e
        .query(&Client::new(), QueryCall::InfluxQl("SELECT 1"))
        .build()
        .unwrap();
    assert_eq!(r.method(), "GET");
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/query?db=toggl&epoch=ms&rp=r90&q=SELECT+1"
    );
}

#[test]
fn post_mode_sends_the_query_in_a_form_body() {
    let mut t = target(TargetKind::Influxdb1, Auth::None);
    t.query_method = QueryMethod::Post;
    let r = Endpoints::new(&t, None)
        .query(&Client::new(), QueryCall::InfluxQl("SELECT 1"))
        .build()
        .unwrap();
    assert_eq!(r.method(), "POST");
    assert_eq!(r.url().query(), Some("db=toggl&epoch=ms&rp=r90"));
    assert_eq!(r.body().unwrap().as_bytes().unwrap(), b"q=SELECT+1");
}

#[test]
fn grafana_queries_carry_the_browser_headers_and_a_bearer_token() {
    let e = Endpoints::new(
        &target(TargetKind::Grafana, Auth::Token(Secret::new("glsa_x"))),
        None,
    );
    let call = QueryCall::DsQuery {
        body: "{}",
        dashboard_uid: "d1",
        datasource_uid: "ds1",
        panel_id: Some(4),
    };
    let r = e.query(&Client::new(), call).build().unwrap();
    assert_eq!(r.url().path(), "/base/api/ds/query");
    let h = r.headers();
    assert_eq!(h["x-dashboard-uid"], "d1");
    assert_eq!(h["x-datasource-uid"], "ds1");
    assert_eq!(h["x-panel-id"], "4");
    assert_eq!(h["x-plugin-id"], "influxdb");
    assert_eq!(h["x-grafana-org-id"], "3");
    assert_eq!(h["authorization"], "Bearer glsa_x");
}

#[test]
fn writes_use_seconds_precision_gzip_and_basic_auth() {
    let auth = Auth::Basic {
        username: "lt".into(),
        password: Secret::new("pw"),
    };
    let e = Endpoints::new(&target(TargetKind::Influxdb1, auth), None);
    let r = e
        .write(&Client::new(), b"m f=1i 1".to_vec(), true)
        .build()
        .unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/write?db=toggl&precision=s&rp=r90"
    );
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["authorization"], "Basic bHQ6cHc=");
}

#[test]
fn the_sandbox_uses_its_own_url() {
    let mut t = target(TargetKind::Sandbox, Auth::None);
    t.url = None;
    let sandbox = Url::parse("http://127.0.0.1:5555").unwrap();
    let e = Endpoints::new(&t, Some(&sandbox));
    assert!(e.uses_grafana_api());
    let r = e
        .dashboard(&Client::new(), "toggl-overview")
        .build()
        .unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:5555/api/dashboards/uid/toggl-overview"
    );
}

#[test]
fn toggl_requests_use_the_api_token_convention() {
    let t = TogglEndpoints::new(
        Url::parse("http://127.0.0.1:9/").unwrap(),
        Some(&Secret::new("tok")),
    );
    let r = t.entries_since(&Client::new(), 1700000000).build().unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:9/api/v9/me/time_entries?since=1700000000"
    );
    assert_eq!(r.headers()["authorization"], "Basic dG9rOmFwaV90b2tlbg==");
}

fn influxdb2() -> Target {
    let mut t = target(TargetKind::Influxdb2, Auth::Token(Secret::new("tok2")));
    t.org = Some("acme".into());
    t.bucket = Some("toggl-bucket".into());
    t
}

#[test]
fn influxdb2_writes_go_to_api_v2_write_with_org_bucket_and_token() {
    let e = Endpoints::new(&influxdb2(), None);
    let r = e
        .write(&Client::new(), b"m f=1i 1".to_vec(), false)
        .build()
        .unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/api/v2/write?org=acme&bucket=toggl-bucket&precision=s"
    );
    assert_eq!(r.headers()["authorization"], "Token tok2");
}

#[test]
fn influxdb2_queries_flux_to_api_v2_query_and_influxql_to_v1_compat() {
    let e = Endpoints::new(&influxdb2(), None);
    let r = e
        .query(
            &Client::new(),
            QueryCall::Flux("from(bucket: \"toggl-bucket\")"),
        )
        .build()
        .unwrap();
    assert_eq!(r.method(), "POST");
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/api/v2/query?org=acme"
    );
    assert_eq!(r.headers()["content-type"], "application/vnd.flux");
    assert_eq!(r.headers()["accept"], "application/csv");
    assert_eq!(
        r.body().unwrap().as_bytes().unwrap(),
        b"from(bucket: \"toggl-bucket\")"
    );
    let r = e
        .query(&Client::new(), QueryCall::InfluxQl("SELECT 1"))
        .build()
        .unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/query?db=toggl-bucket&epoch=ms&rp=r90&q=SELECT+1"
    );
    assert_eq!(r.headers()["authorization"], "Token tok2");
    let r = e.bucket_lookup(&Client::new()).build().unwrap();
    assert_eq!(
        r.url().as_str(),
        "http://127.0.0.1:8086/base/api/v2/buckets?org=acme&name=toggl-bucket"
    );
}
