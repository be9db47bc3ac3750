//! Scenario parsing and every bad-input case, with exact messages.

use std::path::{Path, PathBuf};

use super::*;

/// A temp folder with a minimal dashboard, where scenario text can be parsed.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("dashboards")).unwrap();
        std::fs::write(
            dir.path().join("dashboards/d.json"),
            r#"{"uid":"d","title":"D","time":{"from":"now-7d","to":"now"},"refresh":"30s",
               "templating":{"list":[{"name":"project","type":"custom","query":"a,b","multi":true,"includeAll":true}]},
               "panels":[{"id":1,"type":"timeseries","title":"P","datasource":{"type":"influxdb","uid":"x"},
                 "targets":[{"refId":"A","rawQuery":true,"query":"SELECT count(\"entry_id\") FROM \"time_entry\" WHERE $timeFilter"}]}]}"#,
        )
        .unwrap();
        Fixture { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("s.toml")
    }

    fn parse(&self, text: &str) -> Result<Scenario> {
        Scenario::parse(text, &self.path())
    }

    /// The error message of a scenario that must fail, with the temp path made relative.
    fn error(&self, text: &str) -> String {
        let e = self
            .parse(text)
            .expect_err("the scenario should be refused");
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        e.to_string()
            .replace(&self.dir.path().display().to_string(), "DIR")
    }
}

const VIEWERS: &str = "[viewers]\ndashboard = \"dashboards/d.json\"\n";

#[test]
fn a_full_scenario_resolves() {
    let f = Fixture::new();
    let text = format!(
        r#"name = "full"
seed = 7
{VIEWERS}refresh = "15s"
think_time = "1s..3s"
[[viewers.time_ranges]]
from = "now-24h"
weight = 3
[viewers.variables.project]
all = 2
one = 1
[sync]
users = 2
entries_per_sync = 100
batch_size = 50
interval = "5s"
[[stages]]
users = 10
ramp = "5s"
hold = "10s"
[stress]
step = 10
hold = "10s"
ceiling = 40
stop_when = "p95 > 2s or errors > 5% or panel_query.p99 > 3s"
[slo.dashboard_load]
p95 = "3s"
error_rate = "1%"
[slo.ingest_batch]
ms_per_point = 0.5
"#
    );
    let s = f.parse(&text).unwrap();
    assert_eq!(s.name, "full");
    assert_eq!(s.seed, 7);
    assert_eq!(s.target.kind, TargetKind::Sandbox);
    let v = s.viewers.as_ref().unwrap();
    assert_eq!(v.refresh, Some(Duration::from_secs(15)));
    assert_eq!(
        v.think_time,
        (Duration::from_secs(1), Duration::from_secs(3))
    );
    assert_eq!(v.max_parallel, 6);
    assert_eq!(
        v.time_ranges,
        vec![WeightedRange {
            from: "now-24h".into(),
            to: "now".into(),
            weight: 3
        }]
    );
    assert_eq!(
        v.variables["project"],
        VariableMix {
            all: 2,
            one: 1,
            some: 0
        }
    );
    assert_eq!(s.sync.users, 2);
    assert_eq!(s.sync.batch_size, 50);
    assert_eq!(
        s.stages,
        vec![Stage {
            users: 10,
            ramp: Duration::from_secs(5),
            hold: Duration::from_secs(10)
        }]
    );
    let stress = s.stress.as_ref().unwrap();
    assert_eq!(stress.ramp, Duration::from_secs(10));
    assert_eq!(stress.refine, 0, "no refine steps unless asked");
    assert_eq!(
        stress.stop_when,
        vec![
            Slo {
                class: RequestClass::DashboardLoad,
                metric: SloMetric::P95,
                max: 2000.0
            },
            Slo {
                class: RequestClass::DashboardLoad,
                metric: SloMetric::ErrorRate,
                max: 0.05
            },
            Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P99,
                max: 3000.0
            },
        ]
    );
    assert_eq!(s.slos.len(), 3);
    assert!(s.slos.contains(&Slo {
        class: RequestClass::IngestBatch,
        metric: SloMetric::MsPerPoint,
        max: 0.5
    }));
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let f = Fixture::new();
    let s = f.parse(VIEWERS).unwrap();
    assert_eq!(s.name, "s", "the file stem names the scenario");
    assert_eq!(s.sync.users, 1, "one sync job by default");
    assert_eq!(s.sync.batch_size, 5000);
    let v = s.viewers.unwrap();
    assert_eq!(
        v.refresh,
        Some(Duration::from_secs(30)),
        "the dashboard's refresh"
    );
    assert!(
        v.time_ranges
            .iter()
            .any(|r| r.from == "now-7d" && r.weight >= 20),
        "the dashboard's default range weighs most"
    );
}

#[test]
fn unknown_keys_are_refused_with_their_location() {
    let f = Fixture::new();
    let e = f.error(&format!("{VIEWERS}refreshh = \"30s\"\n"));
    assert!(
        e.starts_with("DIR/s.toml:3:1: unknown field `refreshh`, expected one of"),
        "{e}"
    );
}

#[test]
fn bad_durations_name_the_value() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 5\nramp = \"10 seconds\"\nhold = \"1m\"\n"
    ));
    assert_eq!(e, "DIR/s.toml:5:8: `10 seconds` has unknown unit ` seconds`: expected a duration such as 500ms, 30s, 1m30s or 2h");
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 5\nramp = \"1500ms\"\nhold = \"1m\"\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:5:8: `1500ms`: stage and step durations are whole seconds"
    );
}

#[test]
fn zero_weights_are_refused() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[[viewers.time_ranges]]\nfrom = \"now-1h\"\nweight = 0\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:5:10: weight must be at least 1 (remove the entry instead)"
    );
    let e = f.error(&format!("{VIEWERS}[viewers.variables.project]\nall = 0\n"));
    assert!(e.starts_with("DIR/s.toml:"), "{e}");
    assert!(
        e.ends_with("variable `project`: all weights are zero"),
        "{e}"
    );
}

#[test]
fn missing_dashboard_files_are_refused_where_they_are_named() {
    let f = Fixture::new();
    let e = f.error("[viewers]\ndashboard = \"dashboards/nope.json\"\n");
    assert!(
        e.starts_with(
            "DIR/s.toml:2:13: dashboard `dashboards/nope.json`: DIR/dashboards/nope.json"
        ),
        "{e}"
    );
}

#[test]
fn a_stress_ladder_needs_a_stage() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[stress]\nstep = 10\nhold = \"10s\"\nceiling = 50\n"
    ));
    assert_eq!(e, "DIR/s.toml:3:1: a stress ladder starts from the last stage, but there is no [[stages]] entry");
}

#[test]
fn a_ladder_ceiling_must_be_above_the_last_stage() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 50\nramp = \"1s\"\nhold = \"1s\"\n[stress]\nstep = 10\nhold = \"10s\"\nceiling = 50\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:10:11: ceiling 50 is not above the last stage's 50 users"
    );
}

#[test]
fn refine_is_0_to_10_steps_and_needs_a_stop_rule() {
    let f = Fixture::new();
    let ladder = "[[stages]]\nusers = 5\nramp = \"1s\"\nhold = \"1s\"\n[stress]\nstep = 5\nhold = \"5s\"\nceiling = 20\n";
    let s = f
        .parse(&format!(
            "{VIEWERS}{ladder}stop_when = \"p95 > 2s\"\nrefine = 3\n"
        ))
        .unwrap();
    assert_eq!(s.stress.unwrap().refine, 3);
    let e = f.error(&format!(
        "{VIEWERS}{ladder}stop_when = \"p95 > 2s\"\nrefine = 11\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:12:10: refine must be 0..=10 bisection steps (got 11)"
    );
    let e = f.error(&format!(
        "{VIEWERS}{ladder}stop_when = \"p95 > 2s\"\nrefine = -1\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:12:10: refine must be 0..=10 bisection steps (got -1)"
    );
    let e = f.error(&format!("{VIEWERS}{ladder}refine = 2\n"));
    assert_eq!(
        e,
        "DIR/s.toml:11:10: refine bisects after the ladder stops, but there is no stop_when to stop it"
    );
}

#[test]
fn bad_stop_conditions_and_slo_classes() {
    let f = Fixture::new();
    let stage = "[[stages]]\nusers = 5\nramp = \"1s\"\nhold = \"1s\"\n";
    let e = f.error(&format!("{VIEWERS}{stage}[stress]\nstep = 5\nhold = \"5s\"\nceiling = 20\nstop_when = \"p97 > 2s\"\n"));
    assert_eq!(
        e,
        "DIR/s.toml:11:13: `p97`: expected p50, p95, p99 or errors"
    );
    let e = f.error(&format!("{VIEWERS}[slo.dashboard]\np95 = \"1s\"\n"));
    assert!(e.starts_with("DIR/s.toml:3:6: unknown request class `dashboard` in [slo]: expected one of dashboard_load,"), "{e}");
    let e = f.error(&format!("{VIEWERS}[slo.panel_query]\nms_per_point = 1.0\n"));
    assert_eq!(
        e,
        "DIR/s.toml:4:16: ms_per_point applies only to [slo.ingest_batch]"
    );
}

#[test]
fn targets_validate_kind_url_and_secrets() {
    let f = Fixture::new();
    let e = f.error("[target]\nkind = \"mysql\"\n");
    assert_eq!(e, "DIR/s.toml:2:8: unknown target kind `mysql`: expected sandbox, influxdb1, influxdb2 or grafana");
    let e = f.error("[target]\nkind = \"influxdb1\"\n");
    assert_eq!(e, "DIR/s.toml:1:1: target kind `influxdb1` needs a `url`");
    let e = f.error("[target]\nkind = \"influxdb1\"\nurl = \"http://u:hunter2@127.0.0.1:8086\"\n");
    assert!(
        e.contains("credentials must not be written in the URL"),
        "{e}"
    );
    assert!(
        !e.contains("hunter2"),
        "the error must not repeat the secret: {e}"
    );
    let e = f.error("[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:8086\"\ntoken_env = \"DASHLOAD_TEST_UNSET_TOKEN\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:4:13: environment variable `DASHLOAD_TEST_UNSET_TOKEN` is not set"
    );
}

#[test]
fn secrets_from_files_are_read_and_never_shown() {
    let f = Fixture::new();
    std::fs::write(f.dir.path().join("pw"), "s3cret-value\n").unwrap();
    let s = f
        .parse("[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:8086\"\nusername = \"lt\"\npassword_file = \"pw\"\n")
        .unwrap();
    match &s.target.auth {
        Auth::Basic { username, password } => {
            assert_eq!(username, "lt");
            assert_eq!(password.expose(), "s3cret-value");
        }
        other => panic!("expected basic auth, got {other:?}"),
    }
    assert!(
        !format!("{s:?}").contains("s3cret-value"),
        "Debug output leaks the secret"
    );
    let summary = serde_json::to_string(&s.target.summary()).unwrap();
    assert!(!summary.contains("s3cret"), "{summary}");
}

#[test]
fn toml_syntax_errors_carry_line_and_column() {
    let f = Fixture::new();
    let e = f.error("[viewers\n");
    assert!(e.starts_with("DIR/s.toml:1:"), "{e}");
}

#[test]
fn load_reads_the_file_and_digests_it() {
    let f = Fixture::new();
    std::fs::write(f.path(), VIEWERS).unwrap();
    let s = Scenario::load(&f.path()).unwrap();
    assert_eq!(s.digest.len(), 64);
    let e = Scenario::load(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/x.toml: cannot read scenario"),
        "{e}"
    );
}

#[test]
fn influxdb2_needs_org_bucket_and_a_token_and_grafana_needs_a_write_target() {
    let f = Fixture::new();
    let e = f
        .error("[target]\nkind = \"influxdb2\"\nurl = \"http://127.0.0.1:8086\"\nbucket = \"b\"\n");
    assert_eq!(e, "DIR/s.toml:1:1: target kind `influxdb2` needs `org`");
    std::fs::write(f.dir.path().join("tok"), "t").unwrap();
    let e = f.error("[target]\nkind = \"influxdb2\"\nurl = \"http://127.0.0.1:8086\"\norg = \"o\"\nbucket = \"b\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:1:1: target kind `influxdb2` needs an API token: token_env or token_file"
    );
    assert!(f.parse("[target]\nkind = \"influxdb2\"\nurl = \"http://127.0.0.1:8086\"\norg = \"o\"\nbucket = \"b\"\ntoken_file = \"tok\"\n").is_ok());
    let e = f.error(
        "[target]\nkind = \"grafana\"\nurl = \"http://127.0.0.1:3000\"\ntoken_file = \"tok\"\n",
    );
    assert!(e.contains("add [target.write]"), "{e}");
    let s = f
        .parse("[target]\nkind = \"grafana\"\nurl = \"http://127.0.0.1:3000\"\ntoken_file = \"tok\"\n[target.write]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:8086\"\n")
        .unwrap();
    assert_eq!(s.target.write_target().kind, TargetKind::Influxdb1);
}

#[test]
fn regression_rules_and_sandbox_costs_resolve() {
    let f = Fixture::new();
    let s = f
        .parse(&format!(
            "{VIEWERS}[regression]\nlatency = \"15%\"\nlatency_floor = \"5ms\"\nerror_rate = \"2%\"\nconfidence = \"99%\"\nfigures = [\"panel_query.p50\", \"sync_fetch.error_rate\"]\n[sandbox]\nquery_cost = 1.3\n"
        ))
        .unwrap();
    let r = &s.regression;
    assert_eq!(
        (r.latency, r.latency_floor_ms, r.error_rate),
        (0.15, 5.0, 0.02)
    );
    assert_eq!(r.confidence, 0.99);
    assert_eq!(
        r.figures,
        [
            JudgedFigure {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P50
            },
            JudgedFigure {
                class: RequestClass::SyncFetch,
                metric: SloMetric::ErrorRate
            }
        ]
    );
    assert_eq!(s.sandbox.query_cost, 1.3);
    assert_eq!(s.sandbox.write_cost, 1.0);
    let d = f.parse(VIEWERS).unwrap();
    assert_eq!(d.regression, RegressionRules::default());
    assert_eq!(d.sandbox, SandboxTuning::default());
}

#[test]
fn bad_regression_rules_and_sandbox_costs_name_the_value() {
    let f = Fixture::new();
    assert_eq!(
        f.error(&format!("{VIEWERS}[regression]\nfigures = [\"panel_query.p42\"]\n")),
        "DIR/s.toml:4:12: `panel_query.p42` is not a figure: expected <class>.<p50|p95|p99|error_rate>, e.g. panel_query.p95"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[regression]\nconfidence = \"20%\"\n")),
        "DIR/s.toml:4:14: confidence `20%` must be between 50% and 99.9%"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[regression]\nlatency = \"ten\"\n")),
        "DIR/s.toml:4:11: `ten` is not a percentage: expected e.g. 1% or 0.5%"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[sandbox]\nquery_cost = 0\n")),
        "DIR/s.toml:4:14: cost factor 0 must be between 0.01 and 100"
    );
    let e = f.error(&format!(
        "[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:1\"\n{VIEWERS}[sandbox]\nquery_cost = 2.0\n"
    ));
    assert!(
        e.starts_with(
            "DIR/s.toml:6:1: [sandbox] tunes the embedded sandbox, but the target is influxdb1"
        ),
        "{e}"
    );
}
