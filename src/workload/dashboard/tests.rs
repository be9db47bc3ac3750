//! Loader and end-to-end tests: the shipped dashboard, the fixture exports
//! under `tests/fixtures/dashboards/`, and the errors a broken export gives.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::*;

/// 2025-11-23T00:00:00Z: with `now-7d` this gives DOMAIN.md §1.5's bounds.
const NOW: i64 = 1_763_856_000_000;
const FROM_7D: i64 = 1_763_251_200_000;
const TF_7D: &str = "time >= 1763251200000ms and time <= 1763856000000ms";

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn shipped() -> Dashboard {
    load(&repo("scenarios/dashboards/toggl-overview.json")).unwrap()
}

fn fixture(name: &str) -> Dashboard {
    load(&repo(&format!("tests/fixtures/dashboards/{name}"))).unwrap()
}

fn values(v: &[&str]) -> Selection {
    Selection::Values(v.iter().map(|s| s.to_string()).collect())
}

fn panel<'a>(d: &'a Dashboard, title: &str) -> &'a Panel {
    d.panels.iter().find(|p| p.title == title).unwrap()
}

/// A `$name`, `${…}` or `[[…]]` reference (a regex's `$/` anchor is not one).
fn leftover(text: &str) -> bool {
    regex::Regex::new(r"\$[A-Za-z_{]|\[\[")
        .unwrap()
        .is_match(text)
}

fn influxql(view: &View<'_>, p: &Panel) -> Vec<String> {
    let req = view.panel_request(p);
    req.queries
        .into_iter()
        .map(|q| q.influxql.unwrap())
        .collect()
}

#[test]
fn shipped_dashboard_loads_with_its_panels_rows_and_variables() {
    let d = shipped();
    assert_eq!(
        (d.uid.as_str(), d.title.as_str()),
        ("toggl-overview", "Toggl overview")
    );
    assert_eq!(d.refresh, Some(Duration::from_secs(30)));
    assert_eq!(d.time.class(), RangeClass::D7);
    assert_eq!(d.panels.len(), 12);
    let names: Vec<&str> = d.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["client", "project", "user"]);
    for v in &d.variables {
        assert!(v.multi && v.include_all, "{}", v.name);
        assert_eq!(v.all_value.as_deref(), Some(".*"));
        assert_eq!(v.current, Selection::All);
        assert_eq!(v.refresh, Refresh::OnLoad);
    }
    assert_eq!(
        d.skipped,
        [Skipped {
            panel: "\"About\" (id 11)".into(),
            reason: "text panel has no queries".into()
        }]
    );
    // The hidden target B of panel 5 is left out.
    let p5 = panel(&d, "Hours per project per day");
    assert_eq!(p5.targets.len(), 1);
    assert_eq!(p5.min_interval_ms, Some(86_400_000));
    // Lazy loading: 8 panels on the first screen, 2 below, 2 in the collapsed row.
    let first: Vec<i64> = d
        .panels
        .iter()
        .filter(|p| p.first_screen)
        .map(|p| p.id)
        .collect();
    assert_eq!(first, [1, 2, 3, 4, 5, 6, 7, 8]);
    let collapsed: Vec<i64> = d
        .panels
        .iter()
        .filter(|p| p.in_collapsed_row)
        .map(|p| p.id)
        .collect();
    assert_eq!(collapsed, [13, 14]);
    assert_eq!(
        panel(&d, "Entries per day (90 d)").row.as_deref(),
        Some("Long range")
    );
    // maxDataPoints null → width in px.
    let mdp: Vec<(u32, bool)> = [1, 5, 9]
        .iter()
        .map(|id| d.panels.iter().find(|p| p.id == *id).unwrap())
        .map(|p| (p.max_data_points, p.max_data_points_derived))
        .collect();
    assert_eq!(mdp, [(470, true), (940, true), (1880, true)]);
    let kinds = |k: TargetKind| {
        d.panels
            .iter()
            .flat_map(|p| &p.targets)
            .filter(|t| t.kind == k)
            .count()
    };
    assert_eq!(
        (
            kinds(TargetKind::RawInfluxQl),
            kinds(TargetKind::BuilderInfluxQl)
        ),
        (8, 4)
    );
}

#[test]
fn shipped_dashboard_expands_every_query_with_nothing_left_over() {
    assert!(leftover("x $timeFilter") && leftover("[[a]]") && !leftover("/^(a)$/"));
    let d = shipped();
    let mut sel = d.saved_selections();
    for (i, selection) in [Selection::All, values(&["Acme Corp", "Globex"])]
        .into_iter()
        .enumerate()
    {
        sel.set(&d.variables, "client", selection).unwrap();
        let view = View::new(&d, &d.time, NOW, &sel);
        let reqs = view.panel_requests();
        assert_eq!(reqs.len(), 12);
        for req in &reqs {
            for q in &req.queries {
                let sql = q.influxql.as_ref().unwrap();
                assert!(!leftover(sql), "round {i}, {}: {sql}", req.name);
                assert!(
                    !q.text.contains("$client") && !q.text.contains("$user"),
                    "{}",
                    q.text
                );
            }
            let body: Value = serde_json::from_str(&view.ds_query_body(req)).unwrap();
            let text = body.to_string();
            for var in ["$client", "$project", "$user"] {
                assert!(!text.contains(var), "{}: {text}", req.name);
            }
        }
    }
}

#[test]
fn shipped_queries_render_exactly() {
    let d = shipped();
    let mut sel = d.saved_selections();
    let view = View::new(&d, &d.time, NOW, &sel);
    assert_eq!(
        influxql(&view, panel(&d, "Hours tracked")),
        [format!(
            "SELECT sum(\"duration_s\")/3600 AS \"hours\" FROM \"time_entry\" WHERE (\"client\" =~ /^(.*)$/) \
             AND (\"project\" =~ /^(.*)$/) AND (\"user\" =~ /^(.*)$/) AND {TF_7D}"
        )]
    );
    assert_eq!(
        influxql(&view, panel(&d, "Entries per day (90 d)")),
        [format!(
            "SELECT count(\"entry_id\") AS \"entries\" FROM \"time_entry\" WHERE \"client\" =~ /^(.*)$/ \
             AND time >= {}ms and time <= {NOW}ms GROUP BY time(1d) fill(0) ORDER BY time ASC",
            NOW - 90 * 86_400_000
        )]
    );
    sel.set(&d.variables, "user", values(&["alice", "bob.smith"]))
        .unwrap();
    let view = View::new(&d, &d.time, NOW, &sel);
    let req = view.panel_request(panel(&d, "Hours by user"));
    // 7 d over 940 px → 10m, raised to the panel's 1h minimum.
    assert_eq!((req.interval_ms, req.max_data_points), (3_600_000, 940));
    assert_eq!(req.name, "panel Hours by user [7d]");
    assert_eq!(
        req.queries[0].text,
        "SELECT sum(\"duration_s\") / 3600 AS \"hours\" FROM \"time_entry\" WHERE (\"user\" =~ /^((alice|bob\\.smith))$/ \
         AND \"project\" =~ /^(.*)$/) AND $timeFilter GROUP BY time($__interval), \"user\" fill(null) ORDER BY time ASC"
    );
    assert_eq!(
        req.queries[0].influxql.as_deref().unwrap(),
        format!(
            "SELECT sum(\"duration_s\") / 3600 AS \"hours\" FROM \"time_entry\" WHERE (\"user\" =~ /^((alice|bob\\.smith))$/ \
             AND \"project\" =~ /^(.*)$/) AND {TF_7D} GROUP BY time(1h), \"user\" fill(null) ORDER BY time ASC"
        )
    );
}

#[test]
fn panel_relative_time_overrides_the_dashboard_range() {
    let d = shipped();
    let sel = d.saved_selections();
    let range = TimeRange::parse("now-24h", "now").unwrap();
    let view = View::new(&d, &range, NOW, &sel);
    let names: Vec<String> = view.panel_requests().into_iter().map(|r| r.name).collect();
    assert_eq!(names[0], "panel Hours tracked [24h]");
    assert_eq!(names[2], "panel Last 7 days total [7d]");
    assert_eq!(names[10], "panel Weekly hours by client (90 d) [90d]");
    let req = view.panel_request(panel(&d, "Last 7 days total"));
    assert_eq!((req.from_ms, req.to_ms), (FROM_7D, NOW));
}

#[test]
fn ds_query_body_has_the_browser_shape() {
    let d = shipped();
    let mut sel = d.saved_selections();
    sel.set(&d.variables, "user", values(&["alice", "bob.smith"]))
        .unwrap();
    let view = View::new(&d, &d.time, NOW, &sel);
    let req = view.panel_request(panel(&d, "Hours tracked"));
    let body: Value = serde_json::from_str(&view.ds_query_body(&req)).unwrap();
    assert_eq!(body["from"], "1763251200000");
    assert_eq!(body["to"], "1763856000000");
    let q = &body["queries"][0];
    assert_eq!(q["refId"], "A");
    assert_eq!(
        q["datasource"],
        serde_json::json!({"type":"influxdb","uid":"dashload-influx"})
    );
    assert_eq!(q["rawQuery"], true);
    assert_eq!(q["resultFormat"], "time_series");
    // 7 d / 470 px = 1 286 808 ms → 20m.
    assert_eq!(
        (q["intervalMs"].as_u64(), q["maxDataPoints"].as_u64()),
        (Some(1_200_000), Some(470))
    );
    assert_eq!(
        q["query"],
        "SELECT sum(\"duration_s\")/3600 AS \"hours\" FROM \"time_entry\" WHERE (\"client\" =~ /^(.*)$/) \
         AND (\"project\" =~ /^(.*)$/) AND (\"user\" =~ /^((alice|bob\\.smith))$/) AND $timeFilter"
    );
    // A builder target goes as builder fields, variables interpolated inside them.
    let req = view.panel_request(panel(&d, "Hours by user"));
    let body: Value = serde_json::from_str(&view.ds_query_body(&req)).unwrap();
    let q = &body["queries"][0];
    assert_eq!(q["tags"][0]["value"], "/^((alice|bob\\.smith))$/");
    assert_eq!(q["measurement"], "time_entry");
    assert_eq!(q["alias"], "$tag_user");
    assert!(q.get("rawQuery").is_none());
    // Deterministic: the same view gives the same bytes.
    assert_eq!(
        view.ds_query_body(&req),
        view.ds_query_body(&view.panel_request(req.panel))
    );
    assert_eq!(
        view.headers(&req, 1),
        [
            ("content-type", "application/json".to_string()),
            ("x-dashboard-uid", "toggl-overview".into()),
            ("x-datasource-uid", "dashload-influx".into()),
            ("x-panel-id", "6".into()),
            ("x-plugin-id", "influxdb".into()),
            ("x-grafana-org-id", "1".into()),
        ]
    );
}

#[test]
fn variable_queries_run_on_load_chained_on_their_parents() {
    let d = shipped();
    let mut sel = d.saved_selections();
    sel.set(&d.variables, "client", values(&["Acme Corp", "Globex"]))
        .unwrap();
    let view = View::new(&d, &d.time, NOW, &sel);
    let reqs = view.variable_requests(Trigger::Load);
    let names: Vec<&str> = reqs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "variable client [7d]",
            "variable project [7d]",
            "variable user [7d]"
        ]
    );
    assert_eq!(
        reqs[1].influxql,
        "SHOW TAG VALUES FROM \"time_entry\" WITH KEY = \"project\" WHERE \"client\" =~ /^((Acme Corp|Globex))$/"
    );
    let body: Value = serde_json::from_str(&reqs[1].body).unwrap();
    assert_eq!(body["queries"][0]["refId"], "metricFindQuery");
    assert_eq!(body["queries"][0]["rawQuery"], true);
    assert_eq!(body["queries"][0]["query"], reqs[1].text);
    assert!(view.variable_requests(Trigger::TimeChange).is_empty());
}

#[test]
fn legacy_export_with_string_datasource_and_bracket_variables() {
    let d = fixture("legacy-grafana6.json");
    assert_eq!(d.refresh, None);
    assert_eq!(d.time.class(), RangeClass::H24);
    let client = &d.variables[0];
    let opts: Vec<&str> = client.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(opts, ["Acme Corp", "Globex, Inc.", "Initech"]);
    assert_eq!(d.panels.len(), 2);
    let p1 = &d.panels[0];
    assert_eq!(
        p1.datasource,
        DatasourceRef {
            kind: "influxdb".into(),
            uid: "Toggl InfluxDB".into(),
            placeholder: false
        }
    );
    assert_eq!(
        (p1.row.as_deref(), p1.in_collapsed_row, p1.first_screen),
        (Some("Overview"), false, true)
    );
    assert_eq!((p1.min_interval_ms, p1.targets.len()), (Some(3_600_000), 1));
    let range = TimeRange::parse("1763769600000", "1763856000000").unwrap();
    let sel = d.saved_selections();
    let view = View::new(&d, &range, NOW, &sel);
    assert_eq!(
        view.panel_request(p1).name,
        "panel Hours for [[client]] [custom]"
    );
    assert_eq!(
        influxql(&view, p1),
        ["SELECT sum(\"duration_s\")/3600 FROM \"time_entry\" WHERE \"client\" = 'Acme Corp' AND \
          \"user\" =~ /^((alice|bob\\.smith))$/ AND \"workspace_id\" = '1001' AND \
          time >= 1763769600000ms and time <= 1763856000000ms GROUP BY time(6h) fill(0)"]
    );
    // Builder, no operators, `auto` time, a retention policy; refId assigned.
    let p2 = &d.panels[1];
    assert_eq!(
        (p2.targets[0].ref_id.as_str(), p2.max_data_points),
        ("A", 100)
    );
    assert_eq!(
        influxql(&view, p2),
        ["SELECT count(\"entry_id\") FROM \"autogen\".\"time_entry\" WHERE (\"billable\" = 'true' AND \
          \"user\" =~ /^(alice|bob\\.smith)$/) AND time >= 1763769600000ms and time <= 1763856000000ms \
          GROUP BY time(15m) fill(none)"]
    );
    let skipped: Vec<(&str, &str)> = d
        .skipped
        .iter()
        .map(|s| (s.panel.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("\"Go routines\" (id 3)", "target A: data source \"Prometheus\" (unknown type) is not InfluxDB"),
            ("\"Notes\" (id 4)", "text panel has no queries"),
            (
                "\"Entries with odd parts\" (id 5)",
                "target A: unsupported query part \"exp\" (Grafana's backend has no definition for it)"
            ),
        ]
    );
    let reqs = view.variable_requests(Trigger::TimeChange);
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].text,
        "SHOW TAG VALUES FROM \"time_entry\" WITH KEY = \"user\" WHERE \"client\" = 'Acme Corp'"
    );
}

#[test]
fn shared_export_resolves_inputs_placeholders() {
    let mut d = fixture("shared-export.json");
    assert_eq!(d.refresh, Some(Duration::from_secs(60)));
    assert_eq!(d.time.class(), RangeClass::Today);
    assert_eq!(
        d.variables[0].query,
        "SHOW TAG VALUES WITH KEY = \"project\""
    );
    let ph = DatasourceRef {
        kind: "influxdb".into(),
        uid: "${DS_INFLUXDB}".into(),
        placeholder: true,
    };
    assert_eq!(d.panels[0].datasource, ph);
    assert_eq!(d.panels[1].targets[0].datasource, ph);
    let skipped: Vec<&str> = d.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "target B: data source \"${DS_PROMETHEUS}\" (prometheus) is not InfluxDB",
            "library panel \"Billable ratio\": its definition is not in the export",
        ]
    );
    d.bind_datasource("dashload-influx");
    let sel = d.saved_selections();
    let view = View::new(&d, &d.time, NOW, &sel);
    let req = view.panel_request(&d.panels[0]);
    assert_eq!(req.queries[0].kind, TargetKind::Flux);
    assert_eq!(req.queries[0].influxql, None);
    assert!(
        req.queries[0]
            .text
            .contains("r.project =~ /^.*$/) |> aggregateWindow"),
        "{}",
        req.queries[0].text
    );
    let body = view.ds_query_body(&req);
    assert!(
        body.contains("\"datasource\":{\"type\":\"influxdb\",\"uid\":\"dashload-influx\"}"),
        "{body}"
    );
    assert_eq!(
        view.variable_requests(Trigger::Load)[0].datasource.uid,
        "dashload-influx"
    );
}

#[test]
fn api_envelope_is_unwrapped() {
    let text = r#"{"meta":{"url":"/d/x/y","canSave":true},
        "dashboard":{"uid":"x","title":"Y","panels":[{"id":1,"type":"stat","title":"S",
        "datasource":{"type":"influxdb","uid":"u"},"gridPos":{"x":0,"y":0,"w":24,"h":4},
        "targets":[{"refId":"A","rawQuery":true,"query":"SELECT 1"}]}]}}"#;
    let d = parse(text, "envelope.json").unwrap();
    assert_eq!((d.uid.as_str(), d.panels.len()), ("x", 1));
    assert_eq!(d.time.class(), RangeClass::H6);
}

#[test]
fn bad_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        "{\n  \"uid\": \"x\",\n  \"panels\": [\n    {\"id\": 1,}\n  ]\n}\n",
    )
    .unwrap();
    let err = load(&path).unwrap_err();
    match &err {
        Error::Config { location, .. } => assert_eq!(location, &format!("{}:4:14", path.display())),
        other => panic!("{other:?}"),
    }
    match load(&dir.path().join("missing.json")) {
        Err(Error::Config { message, .. }) => {
            assert!(message.starts_with("cannot read dashboard: "), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_refresh_too_large_for_milliseconds_is_an_error_not_a_wrap() {
    let e = parse(r#"{"uid":"x","refresh":"9999999999999999y"}"#, "d.json").unwrap_err();
    assert_eq!(
        e.to_string(),
        "d.json: refresh \"9999999999999999y\": expected e.g. 30s, 1m"
    );
    assert_eq!(
        parse_interval("584942417y"),
        Some(584_942_417 * 365 * 86_400_000)
    );
    assert_eq!(parse_interval("584942418y"), None);
}

#[test]
fn semantic_errors_name_the_panel_or_target() {
    let panel_json = |extra: &str| {
        format!(
            r#"{{"panels":[{{"id":9,"type":"graph","title":"P","datasource":{{"type":"influxdb","uid":"u"}},
            "gridPos":{{"x":0,"y":0,"w":12,"h":8}},"targets":[{{"refId":"A","rawQuery":true,"query":"SELECT 1"}}]{extra}}}]}}"#
        )
    };
    let msg = |text: &str| parse(text, "d.json").unwrap_err().to_string();
    assert_eq!(
        msg(&panel_json(r#","interval":"fast""#)),
        "d.json: panel \"P\" (id 9): interval \"fast\": expected e.g. 1h, >10s"
    );
    let bad_grid = panel_json("").replace("\"w\":12", "\"w\":\"12\"");
    assert_eq!(
        msg(&bad_grid),
        "d.json: panel \"P\" (id 9): gridPos.w is not a number"
    );
    let bad_format = panel_json("").replace("SELECT 1", "SELECT ${x:nope}").replace(
        "{\"panels\"",
        "{\"templating\":{\"list\":[{\"name\":\"x\",\"type\":\"constant\",\"query\":\"1\"}]},\"panels\"",
    );
    assert_eq!(
        msg(&bad_format),
        "d.json: panel \"P\" (id 9): target A: unknown variable format \"nope\" in \"${x:nope}\""
    );
    assert!(msg(r#"{"time":{"from":"now-3q","to":"now"}}"#)
        .starts_with("d.json: time: time range from: bad relative time \"now-3q\""));
    assert_eq!(
        msg(r#"{"refresh":"often"}"#),
        "d.json: refresh \"often\": expected e.g. 30s, 1m"
    );
    // A pre-5.0 `rows` layout is migrated as Grafana does (migrate.rs), not refused.
    let rows = parse(r#"{"rows":[]}"#, "d.json").unwrap();
    assert_eq!(
        rows.migrated,
        ["schemaVersion 0 → 29", "rows → 0 grid panels"]
    );
}

/// The query texts of a panel's `/api/ds/query` body (what the browser sends).
fn body_queries(view: &View<'_>, p: &Panel) -> Vec<String> {
    let body: Value = serde_json::from_str(&view.ds_query_body(&view.panel_request(p))).unwrap();
    body["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["query"].as_str().unwrap().to_string())
        .collect()
}

/// Grafana 7's browser finished every query: `[[timeFilter]]` and `[[interval]]`
/// expanded, the relative range written as `now() - 7d` (`getTimeFilter`),
/// multi-value variables as `(a|b)` (`InfluxQueryModel.interpolateQueryStr`).
#[test]
fn grafana7_export_with_rows_and_bracket_macros_expands_as_grafana() {
    let mut d = fixture("grafana7-rows.json");
    d.grafana = GrafanaVersion::parse("7.5").unwrap();
    const TF_7D: &str = "time >= now() - 7d and time <= now()";
    assert_eq!(d.unbound_inputs(), ["DS_INFLUXDB"]);
    d.bind_inputs(&[("DS_INFLUXDB".to_string(), "influx-1".to_string())].into());
    assert!(d.unbound_inputs().is_empty());
    let sel = d.saved_selections();
    let view = View::new(&d, &d.time, NOW, &sel);
    // Half width: 940 points over 7 d → 10m; full width: 1880 → 5m.
    let hours = panel(&d, "Hours for [[client]]");
    let want = format!("SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE \"client\" = 'Acme Corp' AND {TF_7D} GROUP BY time(10m) fill(0)");
    assert_eq!(body_queries(&view, hours), std::slice::from_ref(&want));
    assert_eq!(influxql(&view, hours), [want]);
    let projects = panel(&d, "Projects");
    assert_eq!(
        body_queries(&view, projects),
        [
            format!("SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE \"project\" =~ /^(Proj-01|Proj-02)$/ AND {TF_7D} GROUP BY \"project\""),
            format!("SELECT count(\"duration_s\") FROM \"time_entry\" WHERE \"project\" =~ /^(Proj-01|Proj-02)$/ AND {TF_7D}"),
        ]
    );
    assert_eq!(
        influxql(&view, projects)[0],
        format!("SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE \"project\" =~ /^(Proj-01|Proj-02)$/ AND {TF_7D} GROUP BY \"project\"")
    );
    let per_user = panel(&d, "Per user");
    assert!(per_user.in_collapsed_row && !per_user.first_screen);
    assert_eq!(per_user.row.as_deref(), Some("Details"));
    assert_eq!(
        influxql(&view, per_user),
        [format!("SELECT sum(\"duration_s\")/300000 FROM \"time_entry\" WHERE {TF_7D} GROUP BY time(5m), \"user\"")]
    );
    let vars = view.variable_requests(Trigger::TimeChange);
    assert_eq!(
        vars[0].influxql,
        format!("SHOW TAG VALUES FROM \"time_entry\" WITH KEY = \"project\" WHERE \"client\" = 'Acme Corp' AND {}", self::TF_7D)
    );
    assert_eq!(vars[0].datasource.uid, "influx-1");
    for p in &d.panels {
        for q in influxql(&view, p) {
            assert!(!leftover(&q), "{}: {q}", p.title);
        }
    }
}

#[test]
fn grafana11_export_with_builtins_formats_and_a_library_panel() {
    let mut d = fixture("grafana11-builtins.json");
    assert_eq!(
        d.inputs,
        [DatasourceInput {
            name: "DS_TOGGL".into(),
            plugin_id: "influxdb".into(),
            label: "Toggl Influx".into(),
        }]
    );
    assert_eq!(d.unbound_inputs(), ["DS_TOGGL"]);
    assert_eq!(
        d.skipped[0].reason,
        "library panel \"Billable share\": its definition is not in the export"
    );
    d.bind_inputs(&[("DS_TOGGL".to_string(), "toggl-uid".to_string())].into());
    let sel = d.saved_selections();
    let view = View::new(&d, &d.time, NOW, &sel);
    let hours = panel(&d, "Hours");
    assert_eq!(
        body_queries(&view, hours),
        [
            "SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE \"user\" =~ /^(ann|bob)$/ AND time >= 1763251200000ms AND time <= 1763856000000ms GROUP BY time($__interval) fill(null)",
            "SELECT count(\"duration_s\") AS \"g11-builtins\" FROM \"time_entry\" WHERE $timeFilter AND time >= 1763251200s LIMIT 604800",
        ]
    );
    assert_eq!(
        influxql(&view, hours),
        [
            "SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE \"user\" =~ /^(ann|bob)$/ AND time >= 1763251200000ms AND time <= 1763856000000ms GROUP BY time(10m) fill(null)".to_string(),
            format!("SELECT count(\"duration_s\") AS \"g11-builtins\" FROM \"time_entry\" WHERE {TF_7D} AND time >= 1763251200s LIMIT 604800"),
        ]
    );
    let body = view.ds_query_body(&view.panel_request(hours));
    assert!(
        body.contains("\"datasource\":{\"type\":\"influxdb\",\"uid\":\"toggl-uid\"}"),
        "{body}"
    );
    assert!(!body.contains("DS_TOGGL"), "{body}");
    let entries = panel(&d, "Entries by user");
    assert!(entries.in_collapsed_row);
    assert_eq!(
        influxql(&view, entries),
        // `${timeFilter}` is no variable of Grafana 10.3+ and not one of its
        // backend's macros: it reaches InfluxDB as written (and is refused).
        ["SELECT count(\"duration_s\") AS \"n_ann,bob\" FROM \"time_entry\" WHERE \"user\" =~ /^(ann|bob)$/ AND ${timeFilter} LIMIT 604800"]
    );
}

/// Issue 23 item 5: a library panel whose model the export carries in
/// `__elements` is queried (it was skipped), with the dashboard panel's id,
/// place and title; one whose model is missing is still skipped, saying so.
#[test]
fn library_panels_take_their_model_from_elements() {
    let d = fixture("vars-grafana11-mounts.json");
    let lib = d
        .panels
        .iter()
        .find(|p| p.id == 6)
        .expect("the library panel is loaded");
    assert_eq!(lib.title, "Disk use on $host");
    assert_eq!((lib.grid.x, lib.grid.y, lib.grid.w), (12, 16, 12));
    assert_eq!(lib.targets.len(), 1);
    assert!(
        lib.datasource.placeholder,
        "its ${{DS_…}} input binds as the others"
    );
    assert!(
        d.skipped.iter().all(|s| !s.panel.contains("(id 6)")),
        "{:?}",
        d.skipped
    );
    let g11 = fixture("grafana11-builtins.json");
    assert_eq!(
        g11.skipped[0].reason,
        "library panel \"Billable share\": its definition is not in the export"
    );
}

/// Issue 23 item 6: a Grafana 12 (schema v2) dashboard loads ("it has no
/// panels" before): the first tab's rows, the collapsed row and the other tab
/// not loaded, variables from their kinds; a construct not modelled is refused.
#[test]
fn grafana12_schema_v2_dashboards_load() {
    let d = fixture("v2-grafana12.json");
    assert_eq!(d.uid, "v2-disks");
    assert_eq!(d.time.raw_from, "now-3h");
    type Shown<'a> = (&'a str, Option<&'a str>, bool, u32, u32, u32);
    let shown: Vec<Shown<'_>> = d
        .panels
        .iter()
        .map(|p| {
            (
                p.title.as_str(),
                p.row.as_deref(),
                p.in_collapsed_row,
                p.grid.x,
                p.grid.y,
                p.grid.w,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("Disk $mount", Some("Per mount"), false, 0, 1, 12),
            ("Peak", Some("Per mount"), false, 12, 1, 12),
            ("Last", Some("More"), true, 0, 10, 12),
            ("Last", Some("tab Details"), true, 0, 11, 8),
        ]
    );
    assert_eq!(d.panels[0].repeat.len(), 1, "repeated by mount");
    assert_eq!(d.panels[1].max_data_points, 100);
    let host = &d.variables[0];
    assert_eq!(host.kind, VariableKind::Query);
    assert_eq!(host.refresh, Refresh::OnLoad);
    assert_eq!(
        host.query,
        "SHOW TAG VALUES FROM \"disk\" WITH KEY = \"host\""
    );
    assert_eq!(host.datasource.as_ref().unwrap().uid, "influx-uid");
    assert_eq!(host.extra.sort, 1);
    assert_eq!(d.variables[1].kind, VariableKind::Custom);

    let text =
        std::fs::read_to_string(repo("tests/fixtures/dashboards/v2-grafana12.json")).unwrap();
    let hidden = text.replacen(
        "\"title\": \"More\", \"collapse\": true,",
        "\"title\": \"More\", \"collapse\": true, \"conditionalRendering\": {\"kind\": \"ConditionalRenderingGroup\", \"spec\": {}},",
        1,
    );
    let e = parse(&hidden, "v2.json").unwrap_err();
    assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
    assert!(
        e.to_string().contains("Grafana 12 (schema v2) dashboard: layout.tabs[0].layout.rows[1]: conditionalRendering is not supported"),
        "{e}"
    );
}
