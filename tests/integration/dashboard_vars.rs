//! Dashboards as Grafana runs them, against a real InfluxDB 1.x seeded with
//! matching data: the `vars-*` fixtures (written for this test in the export
//! styles of Grafana 5 to 11) have their variables settled by `check --probe`'s
//! walk (only the variable queries sent), then every panel query Grafana would
//! send is sent: none filters on an empty value, influxd accepts every one, and
//! each returns series. `check`'s dashboard section for each is a reviewed
//! snapshot under tests/snapshots/ (rewritten only with
//! `DASHLOAD_UPDATE_SNAPSHOTS=1`, then reviewed before committing).

use std::path::Path;

use dashload::cli::check_dashboard::{walk_probed, write_queries, Walked};
use dashload::scenario::Scenario;
use dashload::workload::dashboard::{Dashboard, PanelRequest, View};

use crate::influxd::Influxd;
use crate::util::{dashload, root, text, workspace, ATTACK};

/// The instant every snapshot is taken at: 2026-01-01T12:00:00Z.
const NOW_MS: i64 = 1_767_268_800_000;

/// Two days of 5-minute points before [`NOW_MS`]: `cpu` per (dc, host, cpu)
/// and `net` per (dc, host, interface).
fn seed(server: &Influxd) {
    server.query("CREATE DATABASE telegraf", None, None);
    let hosts = [
        ("eu-west", "web-1"),
        ("eu-west", "web-2"),
        ("us.east", "db-1"),
    ];
    let now_s = NOW_MS / 1000;
    let mut lines = String::new();
    for step in 0..(2 * 24 * 12) {
        let t = now_s - step * 300;
        for (n, (dc, host)) in hosts.iter().enumerate() {
            for cpu in ["cpu0", "cpu1"] {
                lines.push_str(&format!(
                    "cpu,dc={dc},host={host},cpu={cpu} usage_user={},usage_system={},usage_idle={} {t}\n",
                    10 + n as i64 + step % 7,
                    3 + step % 5,
                    80 - n as i64
                ));
            }
            for iface in ["eth0", "lo"] {
                lines.push_str(&format!(
                    "net,dc={dc},host={host},interface={iface} bytes_recv={}i {t}\n",
                    1000 + step * 10 + n as i64
                ));
            }
        }
    }
    // Mount points (with `/` in them) on a dotted host, and a host the
    // unescaped dot would also match.
    for step in 0..(2 * 24 * 12) {
        let t = now_s - step * 300;
        for host in ["fw1.example", "fw1xexample"] {
            for path in ["/", "/boot", "/var/log"] {
                lines.push_str(&format!(
                    "disk,host={host},path={path} used_percent={} {t}\n",
                    40 + step % 9
                ));
            }
        }
    }
    assert_eq!(server.write("telegraf", lines.into_bytes()), 204);
}

/// With `[viewers] grafana = "<version>"` when given.
fn scenario_as(url: &str, fixture: &str, grafana: Option<&str>) -> Scenario {
    let dashboard = root().join("tests/fixtures/dashboards").join(fixture);
    let grafana = grafana.map_or(String::new(), |v| format!("grafana = \"{v}\"\n"));
    let text = format!(
        "[target]\nkind = \"influxdb1\"\nurl = \"{url}\"\ndatabase = \"telegraf\"\n\
         [viewers]\ndashboard = \"{}\"\n{grafana}[[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"1s\"\n",
        dashboard.display()
    );
    Scenario::parse(&text, &root().join("scenarios/x.toml")).unwrap()
}

/// Compare with (or, with `DASHLOAD_UPDATE_SNAPSHOTS=1`, rewrite) the snapshot.
fn snapshot(name: &str, actual: &str) {
    crate::util::assert_snapshot(
        &root().join("tests/snapshots").join(format!("{name}.txt")),
        actual,
    );
}

/// Send one InfluxQL query to influxd as Grafana's backend does (GET, epoch ms).
fn ask(server: &Influxd, q: &str) -> serde_json::Value {
    let url = url::Url::parse_with_params(
        &format!("{}/query", server.url),
        &[("db", "telegraf"), ("q", q), ("epoch", "ms")],
    )
    .unwrap();
    reqwest::blocking::Client::new()
        .get(url)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// What one fixture's load sends, after the probe walk.
struct Load {
    dashboard: Dashboard,
    walked: Walked,
    check: String,
}

fn load(server: &Influxd, fixture: &str) -> Load {
    load_as(server, fixture, None)
}

fn load_as(server: &Influxd, fixture: &str, grafana: Option<&str>) -> Load {
    let s = scenario_as(&server.url, fixture, grafana);
    let walked = walk_probed(&s, NOW_MS).unwrap();
    let dashboard = s.viewers.as_ref().unwrap().dashboard.clone();
    let range = dashload::cli::check_dashboard::default_range(&dashboard);
    let mut check = String::new();
    write_queries(&mut check, &dashboard, &range, NOW_MS, &walked, true);
    Load {
        dashboard,
        walked,
        check,
    }
}

/// Every loaded panel request of `l`, with its copies.
fn requests(l: &Load) -> Vec<PanelRequest<'_>> {
    let range = dashload::cli::check_dashboard::default_range(&l.dashboard);
    let view = View::resolved(&l.dashboard, &range, NOW_MS, &l.walked.res);
    l.dashboard
        .panels
        .iter()
        .filter(|p| !p.in_collapsed_row)
        .flat_map(|p| view.panel_requests_of(p))
        .collect()
}

/// Every query parses, none filters on an empty value, each returns series.
fn every_query_returns_data(server: &Influxd, fixture: &str, l: &Load) {
    let reqs = requests(l);
    assert!(!reqs.is_empty(), "{fixture}: no panel request");
    for r in &reqs {
        for (q, t) in r.queries.iter().zip(&r.panel.targets) {
            let sql = q.influxql.as_deref().unwrap();
            for i in t.text.variables() {
                let scoped = r.scoped.iter().find(|(j, _)| *j == i);
                let empty = scoped.map_or(l.walked.res.is_empty(i), |(_, v)| v.is_empty());
                assert!(!empty, "{fixture}: {sql} filters on an empty value");
            }
            assert!(!sql.contains("''"), "{fixture}: {sql}");
            let answer = ask(server, sql);
            assert!(
                answer.pointer("/results/0/error").is_none() && answer.get("error").is_none(),
                "{fixture}: influxd refused {sql}: {answer}"
            );
            assert!(
                answer.pointer("/results/0/series/0").is_some(),
                "{fixture}: no series for {sql}: {answer}"
            );
        }
    }
}

const FIXTURES: [&str; 8] = [
    "vars-grafana5-chained.json",
    "vars-grafana6-custom.json",
    "vars-grafana7-repeat.json",
    "vars-grafana8-datasource-adhoc.json",
    "vars-grafana10-time-overrides.json",
    "vars-grafana11-formats.json",
    "vars-grafana11-mounts.json",
    "v2-grafana12.json",
];

#[test]
fn every_query_grafana_would_send_is_sent_filled_in_and_answered_by_influxd() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    seed(&server);
    for fixture in FIXTURES {
        let l = load(&server, fixture);
        every_query_returns_data(&server, fixture, &l);
        assert!(
            !l.check.contains("warning"),
            "{fixture}: unexpected warning:\n{}",
            l.check
        );
        snapshot(fixture.trim_end_matches(".json"), &l.check);
    }
}

fn sql_of(l: &Load) -> Vec<String> {
    requests(l)
        .iter()
        .flat_map(|r| r.queries.iter().map(|q| q.influxql.clone().unwrap()))
        .collect()
}

#[test]
fn variables_settle_as_grafana_settles_them() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    seed(&server);
    let value = |l: &Load, name: &str| {
        let i = l
            .dashboard
            .variables
            .iter()
            .position(|v| v.name == name)
            .unwrap();
        format!("{:?}", l.walked.res.selections.0[i])
    };

    // Blank saved values: the first option (sorted), then the children with it.
    let g5 = load(&server, "vars-grafana5-chained.json");
    assert_eq!(value(&g5, "dc"), r#"Values(["eu-west"])"#);
    assert_eq!(
        value(&g5, "host"),
        "All",
        "includeAll: All is the first option"
    );
    assert_eq!(value(&g5, "cpu"), r#"Values(["cpu0"])"#);
    let host = g5
        .dashboard
        .variables
        .iter()
        .position(|v| v.name == "host")
        .unwrap();
    let hosts: Vec<&str> = g5.walked.res.variables[host]
        .options
        .iter()
        .map(|o| o.value.as_str())
        .collect();
    assert_eq!(hosts, ["web-1", "web-2"], "queried with dc = eu-west");
    let sql = sql_of(&g5);
    // `interval: "$inter"` on auto: 6h / 30 = 12m → rounded 10m, above the panel's own.
    assert!(sql[0].contains("time(10m)"), "{}", sql[0]);
    assert!(sql[0].contains("\"cpu\" = 'cpu0'"), "{}", sql[0]);

    // A repeated panel and row: one request per value (All over what the query returned).
    let g7 = load(&server, "vars-grafana7-repeat.json");
    let names: Vec<String> = requests(&g7).iter().map(|r| r.name.clone()).collect();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("panel CPU $host"))
            .count(),
        3
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("panel Traffic in $dc"))
            .count(),
        2
    );
    assert_eq!(
        names.len(),
        5,
        "the collapsed repeated row stays unloaded: {names:?}"
    );
    let sql = sql_of(&g7);
    for host in ["db-1", "web-1", "web-2"] {
        assert!(
            sql.iter()
                .any(|q| q.contains(&format!("\"host\" = '{host}'"))),
            "{sql:?}"
        );
    }
    assert!(
        sql.iter().any(|q| q.contains(r#""dc" =~ /^us\.east$/"#)),
        "{sql:?}"
    );

    // Regex + descending sort decide the first option; ad hoc filters join the builder's tags.
    let g8 = load(&server, "vars-grafana8-datasource-adhoc.json");
    assert_eq!(value(&g8, "host"), r#"Values(["web-2"])"#);
    let sql = sql_of(&g8);
    assert!(
        sql[0].contains(r#"WHERE ("host" = 'web-2' AND "dc" = 'eu-west') AND time"#),
        "{}",
        sql[0]
    );
    assert!(
        !sql[1].contains("eu-west"),
        "raw queries keep their text: {}",
        sql[1]
    );

    // timeFrom / timeShift / interval / maxDataPoints from variables.
    let g10 = load(&server, "vars-grafana10-time-overrides.json");
    let reqs = requests(&g10);
    let day = 86_400_000;
    assert_eq!(reqs[0].to_ms - reqs[0].from_ms, 6 * 3_600_000);
    assert_eq!(reqs[0].to_ms, NOW_MS - day, "shifted back by $shift = 1d");
    assert_eq!(reqs[0].max_data_points, 120);
    assert_eq!(reqs[0].interval_ms, 300_000, "$minstep = 5m over 6h/120");
    assert_eq!(reqs[1].from_ms, NOW_MS - NOW_MS % day, "timeFrom now/d");

    // A saved value gone from the options: the first one; a multi value keeps what is left.
    let g11 = load(&server, "vars-grafana11-formats.json");
    assert_eq!(value(&g11, "dc"), r#"Values(["eu-west"])"#);
    assert_eq!(value(&g11, "host"), r#"Values(["web-1"])"#);
}

/// Issue 23: a repeat over mount points sent `"path" =~ /^/boot$/`, which
/// influxd refuses (400), and `/^fw1.example$/` also matched `fw1xexample`.
/// Grafana 10.3+ escapes a value inside a regex literal (`interpolateQueryExpr`
/// with `isVariableInRegexLiteral`, `datasource.ts`); Grafana 10.2's browser
/// did not (`InfluxQueryModel.interpolateQueryStr`), and influxd refused its
/// queries too.
#[test]
fn values_inside_regex_literals_are_escaped_as_grafana_escapes_them() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    seed(&server);
    let l = load(&server, "vars-grafana11-mounts.json");
    let sql = sql_of(&l);
    // Expected per load (Grafana 11's `processRepeats`): one copy of the
    // repeated panel per mount of "All" (`/`, `/boot`, `/var/log`), the
    // table, the stat, and one row per system mount: the regex
    // `/^(?!\/var).*$/` (a JavaScript look-ahead, `stringToJsRegex`) keeps
    // `/` and `/boot` (all three before), and the library panel whose model
    // is in `__elements` (skipped before): 8 queries.
    assert_eq!(sql.len(), 8, "{sql:?}");
    let lib = l
        .dashboard
        .panels
        .iter()
        .find(|p| p.id == 6)
        .expect("the library panel");
    assert_eq!(
        (lib.title.as_str(), lib.grid.x, lib.grid.y),
        ("Disk use on $host", 12, 16)
    );
    let system = l
        .dashboard
        .variables
        .iter()
        .position(|v| v.name == "system")
        .unwrap();
    let kept: Vec<&str> = l.walked.res.variables[system]
        .options
        .iter()
        .map(|o| o.value.as_str())
        .collect();
    assert_eq!(kept, ["/", "/boot"]);
    for want in [
        r#""path" =~ /^\/$/"#,
        r#""path" =~ /^\/boot$/"#,
        r#""path" =~ /^\/var\/log$/"#,
        r#""host" =~ /^fw1\.example$/"#,
        // Multi-value "All" over every option, each escaped, as (a|b|c).
        r#""path" =~ /^(\/|\/boot|\/var\/log)$/"#,
        // A single value outside a regex is written as it is.
        r#""host" = 'fw1.example'"#,
        // A single-value custom variable inside one is escaped.
        r#""path" =~ /^\/boot$/ AND"#,
    ] {
        assert!(
            sql.iter().any(|q| q.contains(want)),
            "{want} not in {sql:?}"
        );
    }
    // Every one is accepted and answers series (of fw1.example only).
    every_query_returns_data(&server, "vars-grafana11-mounts.json", &l);
    for q in &sql {
        let answer = ask(&server, q);
        let series = answer
            .pointer("/results/0/series")
            .unwrap()
            .as_array()
            .unwrap();
        assert!(!series.is_empty(), "{q}");
    }
    // The variable query of `mount` filtered on the escaped host too.
    let mount = l
        .dashboard
        .variables
        .iter()
        .position(|v| v.name == "mount")
        .unwrap();
    assert_eq!(
        l.walked.queries[mount].as_deref(),
        Some(r#"SHOW TAG VALUES FROM "disk" WITH KEY = "path" WHERE "host" =~ /^fw1\.example$/"#)
    );

    // As Grafana 10.2's browser sent them: single values unescaped, so the
    // dot matches the other host too, and influxd refuses `/^/boot$/`.
    let old = load_as(&server, "vars-grafana11-mounts.json", Some("10.2"));
    let old_sql = sql_of(&old);
    assert!(
        old_sql
            .iter()
            .any(|q| q.contains(r#""host" =~ /^fw1.example$/"#)),
        "{old_sql:?}"
    );
    let hosts = |re: &str| {
        let q = format!(r#"SHOW TAG VALUES FROM "disk" WITH KEY = "host" WHERE "host" =~ {re}"#);
        let a = ask(&server, &q);
        a.pointer("/results/0/series/0/values")
            .map_or(0, |v| v.as_array().unwrap().len())
    };
    assert_eq!(hosts("/^fw1.example$/"), 2);
    assert_eq!(hosts(r"/^fw1\.example$/"), 1);
    let boot = old_sql
        .iter()
        .find(|q| q.contains("/^/boot$/"))
        .unwrap_or_else(|| panic!("{old_sql:?}"));
    let answer = ask(&server, boot);
    let error = answer
        .get("error")
        .or(answer.pointer("/results/0/error"))
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("boot"), "influxd took {boot}: {answer}");
}

/// Issue 23 item 6: a Grafana 12 (schema v2) export loads and runs: per load
/// (derived from the layout as Grafana shows it) the first tab's expanded
/// row only: "Disk $mount" once per mount of All (`/`, `/boot`) and "Peak":
/// 3 queries; the collapsed row and the second tab send nothing.
#[test]
fn a_grafana12_schema_v2_dashboard_is_queried_as_grafana_shows_it() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    seed(&server);
    let l = load(&server, "v2-grafana12.json");
    let sql = sql_of(&l);
    assert_eq!(sql.len(), 3, "{sql:?}");
    assert!(
        sql.iter().all(|q| !q.contains("fw1xexample")),
        "the host regex /^fw1\\./ keeps fw1.example only: {sql:?}"
    );
    every_query_returns_data(&server, "v2-grafana12.json", &l);
}

#[test]
fn check_warns_for_queries_on_a_variable_the_target_has_no_value_for() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    seed(&server);
    let l = load(&server, "vars-grafana9-missing-tag.json");
    assert!(
        l.check.contains(
            "warning: matches no data: variable `rack` has no value; its query `SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"rack\"` returned nothing against the target"
        ),
        "{}",
        l.check
    );
    snapshot("vars-grafana9-missing-tag", &l.check);

    // The binary: `check --probe` prints the same, `check` alone says it sent nothing.
    let dir = tempfile::tempdir().unwrap();
    let dashboard = root().join("tests/fixtures/dashboards/vars-grafana9-missing-tag.json");
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        format!(
            "[target]\nkind = \"influxdb1\"\nurl = \"{}\"\ndatabase = \"telegraf\"\n\
             [viewers]\ndashboard = \"{}\"\n[[stages]]\nusers = 1\nramp = \"1s\"\nhold = \"1s\"\n",
            server.url,
            dashboard.display()
        ),
    )
    .unwrap();
    let probed = dashload(dir.path(), &["check", "--probe", "s.toml"]);
    let out = text(&probed);
    assert_eq!(probed.status.code(), Some(0), "{out}");
    assert!(
        out.contains("→ returned nothing against the target"),
        "{out}"
    );
    assert!(out.contains("returned nothing against the target"), "{out}");
    let offline = dashload(dir.path(), &["check", "s.toml"]);
    let out = text(&offline);
    assert!(
        out.contains("warning: matches no data: variable `rack` has no value; no saved option and nothing sent (`check --probe` asks the target)"),
        "{out}"
    );
    assert!(!Path::new(&dir.path().join("reports")).exists());
}

/// A short run of viewers on the repeat dashboard: each load sends one
/// request per repeated copy (3 hosts, 2 data centres), the variable queries
/// run, and nothing fails against influxd.
#[test]
fn viewers_send_one_request_per_repeated_copy() {
    let Some(server) = Influxd::start(false) else {
        return;
    };
    let _one_attack_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    seed(&server);
    let dir = workspace();
    let path = dir.path().join("scenarios/vars.toml");
    let dashboard = root().join("tests/fixtures/dashboards/vars-grafana7-repeat.json");
    std::fs::write(
        &path,
        format!(
            "name = \"vars\"\nseed = 3\n[target]\nkind = \"influxdb1\"\nurl = \"{}\"\ndatabase = \"telegraf\"\n\
             [viewers]\ndashboard = \"{}\"\nrefresh = \"2s\"\nrefreshes_per_visit = 1\nthink_time = \"1s..1s\"\n\
             [sync]\nusers = 1\nentries_per_sync = 10\ninterval = \"5s\"\n\
             [[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"6s\"\n",
            server.url,
            dashboard.display()
        ),
    )
    .unwrap();
    let options = dashload::run::RunOptions {
        scenario: path,
        reports_dir: dir.path().join("reports"),
        report: Default::default(),
        goose: goose::config::GooseConfiguration::parse_args_default(&["--quiet"]).unwrap(),
        goose_shape: false,
        goose_total_users: None,
        render: false,
        overrides: dashload::scenario::Overrides::none(),
        worker: None,
    };
    let result = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(dashload::run::run(options))
        .expect("the run succeeds");
    let requests =
        std::fs::read_to_string(result.run_dir.join(dashload::runfolder::files::REQUESTS)).unwrap();
    let count = |needle: &str| requests.lines().filter(|l| l.contains(needle)).count();
    let loads = count(",load Repeats (Grafana 7 export) [");
    assert!(loads >= 4, "{requests}");
    // A load still in flight at the end may lack some copies: at most one per viewer.
    let cpu = count(",panel CPU $host [");
    let traffic = count(",panel Traffic in $dc [");
    assert!(
        cpu >= 3 * (loads - 2) && cpu <= 3 * loads + 6,
        "{cpu} for {loads} loads"
    );
    assert!(
        traffic >= 2 * (loads - 2) && traffic <= 2 * loads + 4,
        "{traffic} for {loads} loads"
    );
    assert_eq!(
        count(",panel System CPU $host ["),
        0,
        "collapsed row: not loaded"
    );
    assert!(count(",variable dc [") >= 2, "dc refreshes on load");
    assert!(
        count(",variable host [") >= count(",variable dc ["),
        "host also on time change"
    );
}
