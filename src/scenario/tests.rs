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
            some: 0,
            value: None
        }
    );
    assert_eq!(s.sync.users, 2);
    assert_eq!(s.sync.batch_size, 50);
    assert_eq!(
        s.stages,
        vec![Stage {
            users: 10,
            ramp: Duration::from_secs(5),
            hold: Duration::from_secs(10),
            until_judged: false,
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
fn stop_when_counts_failures_against_a_percentile_only_when_asked() {
    let f = Fixture::new();
    let ladder = "[[stages]]\nusers = 5\nramp = \"1s\"\nhold = \"1s\"\n[stress]\nstep = 5\nhold = \"5s\"\nceiling = 20\n";
    let s = f
        .parse(&format!(
            "{VIEWERS}{ladder}stop_when = \"p95 > 4s or errors > 10%\"\n"
        ))
        .unwrap();
    let rule = s.stress.unwrap().stop_rule();
    assert!(!rule.failure_share, "as written by default");
    let s = f
        .parse(&format!(
            "{VIEWERS}{ladder}stop_when = \"p95 > 4s\"\nstop_on_failure_share = true\n"
        ))
        .unwrap();
    assert!(s.stress.unwrap().stop_rule().failure_share);
    let e = f.error(&format!("{VIEWERS}{ladder}stop_on_failure_share = true\n"));
    assert_eq!(
        e,
        "DIR/s.toml:11:25: stop_on_failure_share changes how stop_when judges a percentile, but there is no stop_when"
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
    assert_eq!(e, "DIR/s.toml:1:1: target kind `influxdb1` needs a `url`: write it in [target], or give it with DASHLOAD_TARGET_URL=… or --set target.url=…");
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
        "DIR/s.toml:4:13: environment variable `DASHLOAD_TEST_UNSET_TOKEN` is not set (nor `DASHLOAD_TEST_UNSET_TOKEN_FILE`, naming a file)"
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

const STAGE: &str = "[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"1s\"\n";
const HUGE: &str = "99999999999999999999999d";

#[test]
fn huge_durations_in_every_field_are_located_errors_not_panics() {
    let f = Fixture::new();
    let ladder = "[stress]\nstep = 2\nceiling = 6\n";
    for (text, at) in [
        (
            format!("{VIEWERS}[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"{HUGE}\"\n"),
            "6:8",
        ),
        (format!("[target]\ntimeout = \"{HUGE}\"\n{VIEWERS}"), "2:11"),
        (format!("{VIEWERS}think_time = \"{HUGE}\"\n"), "3:14"),
        (
            format!("{VIEWERS}{STAGE}{ladder}hold = \"5s\"\nstop_when = \"p95 > {HUGE}\"\n"),
            "11:13",
        ),
        (
            format!("{VIEWERS}[slo.dashboard_load]\np95 = \"{HUGE}\"\n"),
            "4:7",
        ),
        (format!("{VIEWERS}[sync]\ninterval = \"{HUGE}\"\n"), "4:12"),
        (format!("{VIEWERS}refresh = \"{HUGE}\"\n"), "3:11"),
    ] {
        let e = f.error(&text);
        assert!(e.starts_with(&format!("DIR/s.toml:{at}: ")), "{e}");
        assert!(e.contains(HUGE), "the value is echoed: {e}");
        assert!(
            e.contains("above the longest duration a scenario may write, 365d"),
            "{e}"
        );
    }
}

#[test]
fn durations_outside_their_field_range_are_refused() {
    let f = Fixture::new();
    assert_eq!(
        f.error(&format!("[target]\ntimeout = \"0\"\n{VIEWERS}")),
        "DIR/s.toml:2:11: timeout `0` is outside 1ms..1h"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}refresh = \"2d\"\n")),
        "DIR/s.toml:3:11: refresh `2d` is outside 1s..1d"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}think_time = \"1s..2h\"\n")),
        "DIR/s.toml:3:14: think_time `1s..2h` is outside 0s..1h"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[slo.panel_query]\np50 = \"0\"\n")),
        "DIR/s.toml:4:7: p50 `0` is outside 1ms..1h"
    );
    let e = f.error(&format!(
        "{VIEWERS}{STAGE}[stress]\nstep = 2\nceiling = 6\nhold = \"5s\"\nstop_when = \"p95 > 0s\"\n"
    ));
    assert_eq!(
        e,
        "DIR/s.toml:11:13: `p95 > 0s`: a latency bound must be within 1ms..1h"
    );
    assert_eq!(
        f.error(&format!(
            "{VIEWERS}[slo.ingest_batch]\nms_per_point = inf\n"
        )),
        "DIR/s.toml:4:16: ms_per_point inf must be above 0 and at most 60000"
    );
}

#[test]
fn counts_outside_their_range_are_refused_not_overflowed() {
    let f = Fixture::new();
    assert_eq!(
        f.error(&format!("{VIEWERS}max_parallel = 1000\n")),
        "DIR/s.toml:3:16: max_parallel must be 1..=100 (got 1000)"
    );
    // all + one + some overflowed u32 (a panic in debug builds).
    let e = f.error(&format!(
        "{VIEWERS}[viewers.variables.project]\nall = 4294967295\none = 1\n"
    ));
    assert!(
        e.ends_with("variable `project`: weight all must be 0..=1000000 (got 4294967295)"),
        "{e}"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[sync]\nentries_per_sync = 2000000\n")),
        "DIR/s.toml:4:20: entries_per_sync must be 1..=1000000 (got 2000000)"
    );
}

#[test]
fn the_load_size_is_bounded_by_limits_that_the_scenario_raises_knowingly() {
    let f = Fixture::new();
    let ladder = |ceiling: &str| {
        format!("{VIEWERS}{STAGE}[stress]\nstep = 1\nceiling = {ceiling}\nhold = \"1s\"\n")
    };
    // ceiling = 100000 passed `check` and made `run` abort at 6.5 GB.
    let e = f.error(&ladder("100000"));
    assert!(
        e.starts_with("DIR/s.toml:9:11: ceiling 100000 makes Goose launch 100001 users"),
        "{e}"
    );
    assert!(e.contains("above [limits] users = 10000"), "{e}");
    let e = f.error(&ladder("5000"));
    assert!(
        e.starts_with("DIR/s.toml:8:8: step 1 climbs from 2 to 5000 viewers in 4998 steps"),
        "{e}"
    );
    assert!(e.contains("above [limits] steps = 1000"), "{e}");
    // Raised knowingly, the same ladder is a scenario.
    let s = f
        .parse(&format!("{}[limits]\nsteps = 5000\n", ladder("5000")))
        .unwrap();
    assert_eq!(s.limits.steps, 5000);
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 1000000000000\nramp = \"1s\"\nhold = \"1s\"\n"
    ));
    assert!(
        e.starts_with(
            "DIR/s.toml:4:9: stage users 1000000000000 make Goose launch 1000000000001 users"
        ),
        "{e}"
    );
    let e = f.error(&format!("{VIEWERS}{STAGE}[sync]\nusers = 1000000000000\n"));
    assert!(
        e.starts_with("DIR/s.toml:8:9: 1000000000000 sync users are above [limits] users = 10000"),
        "{e}"
    );
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"8d\"\n"
    ));
    assert!(
        e.starts_with(
            "DIR/s.toml:6:8: the stages up to this one last 8d1s, above [limits] duration = 7d"
        ),
        "{e}"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[limits]\nusers = 2000000\n")),
        "DIR/s.toml:4:9: [limits] users must be 1..=1000000 (got 2000000)"
    );
    assert_eq!(
        f.error(&format!("{VIEWERS}[limits]\nduration = \"400d\"\n")),
        "DIR/s.toml:4:12: `400d` is above the longest duration a scenario may write, 365d"
    );
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 0\nramp = \"1s\"\nhold = \"1s\"\n[sync]\nusers = 0\n"
    ));
    assert!(
        e.ends_with("the plan starts no user: every stage has 0 viewers and [sync] users = 0"),
        "{e}"
    );
}

#[test]
fn a_dashboard_with_no_panel_the_target_can_run_is_refused() {
    let f = Fixture::new();
    let write = |name: &str, panels: &str| {
        std::fs::write(
            f.dir.path().join("dashboards").join(name),
            format!(r#"{{"uid":"u","title":"T","panels":[{panels}]}}"#),
        )
        .unwrap();
    };
    write("text.json", r#"{"id":1,"type":"text","title":"Read me"}"#);
    let e = f.error("[viewers]\ndashboard = \"dashboards/text.json\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:2:13: dashboard `dashboards/text.json`: no panel a load opens has a query the sandbox target can run (panels: 1 skipped (\"Read me\" (id 1): text panel has no queries))"
    );
    let flux = r#"{"id":2,"type":"timeseries","title":"F","datasource":{"type":"influxdb","uid":"x"},"targets":[{"refId":"A","query":"from(bucket: \"b\") |> range(start: -1h)"}]}"#;
    write("flux.json", flux);
    let e = f.error("[viewers]\ndashboard = \"dashboards/flux.json\"\n");
    assert!(
        e.ends_with("(panels: 1 skipped (\"F\" (id 2): Flux query: the sandbox's InfluxDB data source runs InfluxQL only))"),
        "{e}"
    );
    // InfluxDB 2.x runs Flux: the same dashboard is fine there.
    std::fs::write(f.dir.path().join("tok"), "t").unwrap();
    assert!(f
        .parse("[target]\nkind = \"influxdb2\"\nurl = \"http://127.0.0.1:1\"\norg = \"o\"\nbucket = \"b\"\ntoken_file = \"tok\"\n[viewers]\ndashboard = \"dashboards/flux.json\"\n")
        .is_ok());
    let below = r#"{"id":3,"type":"stat","title":"B","gridPos":{"x":0,"y":40,"w":6,"h":4},"datasource":{"type":"influxdb","uid":"x"},"targets":[{"refId":"A","rawQuery":true,"query":"SELECT 1 FROM m"}]}"#;
    write("below.json", below);
    let e = f.error("[viewers]\ndashboard = \"dashboards/below.json\"\nfirst_screen_only = true\n");
    assert!(
        e.ends_with("(panels: 1 below the first screen (first_screen_only))"),
        "{e}"
    );
    assert!(f
        .parse("[viewers]\ndashboard = \"dashboards/below.json\"\n")
        .is_ok());
}

#[test]
fn files_are_capped_and_must_be_regular() {
    let f = Fixture::new();
    let e = f.error("[viewers]\ndashboard = \"/dev/zero\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:2:13: dashboard `/dev/zero`: /dev/zero: a dashboard must be a regular file, not a device, FIFO or socket"
    );
    let big = f.dir.path().join("dashboards/big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(file::MAX_DASHBOARD_BYTES + 1)
        .unwrap();
    let e = f.error("[viewers]\ndashboard = \"dashboards/big.json\"\n");
    assert!(
        e.ends_with(
            "dashboard is 64.0 MiB (67108865 bytes), above the 64 MiB a dashboard may have"
        ),
        "{e}"
    );
    std::fs::File::create(f.path())
        .unwrap()
        .set_len(file::MAX_SCENARIO_BYTES + 1)
        .unwrap();
    let e = Scenario::load(&f.path()).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "s.toml: scenario is 1.0 MiB (1048577 bytes), above the 1 MiB a scenario may have"
        ),
        "{e}"
    );
    let e = f.error("[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:1\"\ntoken_file = \"/dev/zero\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:4:14: secret file `/dev/zero`: a secret file must be a regular file, not a device, FIFO or socket"
    );
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let f = Fixture::new();
    let fifo = f.dir.path().join("dashboards/fifo.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let e = f.error("[viewers]\ndashboard = \"dashboards/fifo.json\"\n");
    assert!(
        e.ends_with("a dashboard must be a regular file, not a device, FIFO or socket"),
        "{e}"
    );
}

#[test]
fn a_non_utf8_scenario_is_located_at_its_first_bad_byte() {
    let f = Fixture::new();
    std::fs::write(f.path(), b"name = \"x\"\ndescription = \"caf\xe9\"\n").unwrap();
    let e = Scenario::load(&f.path()).unwrap_err();
    assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
    let e = e
        .to_string()
        .replace(&f.dir.path().display().to_string(), "DIR");
    assert_eq!(
        e,
        "DIR/s.toml:2:19: scenario is not UTF-8: invalid byte 0xE9"
    );
}

#[test]
fn toml_errors_echo_the_offending_value() {
    let f = Fixture::new();
    assert_eq!(
        f.error("seed = 99999999999999999999999\n"),
        "DIR/s.toml:1:8: number too large to fit in target type (`99999999999999999999999`)"
    );
}

#[test]
fn time_ranges_beyond_a_thousand_years_are_refused_not_panics() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[[viewers.time_ranges]]\nfrom = \"now-99999999999999d\"\nweight = 1\n"
    ));
    assert!(e.starts_with("DIR/s.toml:4:8: "), "{e}");
    assert!(
        e.contains("offset -99999999999999d is beyond 1000 years"),
        "{e}"
    );
    let e = f.error(&format!(
        "{VIEWERS}[[viewers.time_ranges]]\nfrom = \"now€\"\nweight = 1\n"
    ));
    assert!(e.contains("unexpected '€'"), "{e}");
}

#[test]
fn a_dashboard_refresh_outside_its_range_needs_the_scenario_to_set_one() {
    let f = Fixture::new();
    let dashboards = f.dir.path().join("dashboards");
    let text = std::fs::read_to_string(dashboards.join("d.json")).unwrap();
    std::fs::write(
        dashboards.join("slow.json"),
        text.replace("\"30s\"", "\"2d\""),
    )
    .unwrap();
    let e = f.error("[viewers]\ndashboard = \"dashboards/slow.json\"\n");
    assert_eq!(
        e,
        "DIR/s.toml:2:13: dashboard `dashboards/slow.json`: its refresh 2d is outside 1s..1d: set [viewers] refresh"
    );
    assert!(f
        .parse("[viewers]\ndashboard = \"dashboards/slow.json\"\nrefresh = \"off\"\n")
        .is_ok());
}

#[test]
fn server_metrics_default_on_every_second_and_can_be_turned_off() {
    let f = Fixture::new();
    let s = f.parse(VIEWERS).unwrap();
    assert!(s.server_metrics.enabled);
    assert_eq!(s.server_metrics.interval, Duration::from_secs(1));
    assert!(s.server_metrics.url.is_none() && s.server_metrics.auth.is_none());
    let off = f
        .parse(&format!("server_metrics = \"off\"\n{VIEWERS}"))
        .unwrap();
    assert!(!off.server_metrics.enabled);
    let off = f
        .parse(&format!("{VIEWERS}[server_metrics]\nenabled = false\n"))
        .unwrap();
    assert!(!off.server_metrics.enabled);
    std::env::set_var("DASHLOAD_TEST_METRICS_TOKEN", "metrics-tok-1");
    let own = f
        .parse(&format!(
            "{VIEWERS}[server_metrics]\nurl = \"http://127.0.0.1:3000/metrics\"\ninterval = \"250ms\"\ntoken_env = \"DASHLOAD_TEST_METRICS_TOKEN\"\n"
        ))
        .unwrap();
    let m = own.server_metrics;
    assert_eq!(m.interval, Duration::from_millis(250));
    assert_eq!(m.url.unwrap().path(), "/metrics");
    assert!(matches!(m.auth, Some(Auth::Token(t)) if t.expose() == "metrics-tok-1"));
}

#[test]
fn bad_server_metrics_values_are_located() {
    let f = Fixture::new();
    assert_eq!(
        f.error(&format!("{VIEWERS}[server_metrics]\ninterval = \"10ms\"\n")),
        "DIR/s.toml:4:12: [server_metrics] interval `10ms` is outside 100ms..10m"
    );
    assert!(f
        .error(&format!("{VIEWERS}[server_metrics]\nevery = \"1s\"\n"))
        .contains("unknown field `every`"));
    assert_eq!(
        f.error(&format!("server_metrics = \"sometimes\"\n{VIEWERS}")),
        "DIR/s.toml:1:18: server_metrics `sometimes`: expected a [server_metrics] table or \"off\""
    );
    assert!(f
        .error(&format!(
            "{VIEWERS}[server_metrics]\nurl = \"http://u:p@127.0.0.1:3000/metrics\"\n"
        ))
        .contains("credentials must not be written in the URL"));
}

#[test]
fn a_name_is_one_line_of_text() {
    let f = Fixture::new();
    for (name, shown) in [
        (r#""a\nb""#, "newline"),
        (r#""run\r\u001b[2Jx""#, "escape"),
        (r#""tab\tname""#, "tab"),
    ] {
        let e = f.error(&format!("name = {name}\n{VIEWERS}"));
        assert_eq!(
            e,
            "DIR/s.toml:1:8: `name` must be one line of text: no newline, tab or other control character",
            "{shown}"
        );
    }
    assert_eq!(
        f.parse(&format!("name = \"nightly – staging\"\n{VIEWERS}"))
            .unwrap()
            .name,
        "nightly – staging"
    );
}

#[test]
fn a_hold_can_last_until_judged_with_a_cap() {
    let f = Fixture::new();
    let s = f
        .parse(&format!(
            "{VIEWERS}[[stages]]\nusers = 5\nramp = \"5s\"\nhold = \"until judged, at most 90s\"\n[stress]\nstep = 5\nhold = \"Until judged, at most 1m\"\nceiling = 10\n"
        ))
        .unwrap();
    assert_eq!(
        (s.stages[0].hold, s.stages[0].until_judged),
        (Duration::from_secs(90), true)
    );
    let stress = s.stress.unwrap();
    assert_eq!(
        (stress.hold, stress.until_judged),
        (Duration::from_secs(60), true)
    );
    let fixed = f
        .parse(&format!(
            "{VIEWERS}[[stages]]\nusers = 5\nramp = \"5s\"\nhold = \"30s\"\n"
        ))
        .unwrap();
    assert!(!fixed.stages[0].until_judged);
}

#[test]
fn bad_until_judged_holds_are_located_with_the_syntax_to_write() {
    let f = Fixture::new();
    let stage = |hold: &str| {
        f.error(&format!(
            "{VIEWERS}[[stages]]\nusers = 5\nramp = \"5s\"\nhold = \"{hold}\"\n"
        ))
    };
    assert_eq!(
        stage("until judged"),
        "DIR/s.toml:6:8: hold `until judged` has no cap: an until-judged hold ends at the latest after its cap; write \"until judged, at most 90s\""
    );
    assert_eq!(
        stage("until done, at most 90s"),
        "DIR/s.toml:6:8: hold `until done, at most 90s`: write a duration such as \"30s\", or \"until judged, at most 90s\""
    );
    assert_eq!(
        stage("until judged, at most 1.5s"),
        "DIR/s.toml:6:8: `1.5s`: stage and step durations are whole seconds"
    );
    assert_eq!(
        stage("until judged, at most 0s"),
        "DIR/s.toml:6:8: hold `until judged, at most 0s`: the cap of an until-judged hold must be longer than 0s"
    );
    let e = stage("until judged, at most soon");
    assert!(e.starts_with("DIR/s.toml:6:8: `soon`"), "{e}");
    // The ladder's hold, alike.
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 5\nramp = \"5s\"\nhold = \"5s\"\n[stress]\nstep = 5\nhold = \"until judged\"\nceiling = 10\n"
    ));
    assert!(
        e.starts_with("DIR/s.toml:9:8: hold `until judged` has no cap"),
        "{e}"
    );
}

#[test]
fn faults_are_refused_beside_a_hold_until_judged() {
    let f = Fixture::new();
    let e = f.error(&format!(
        "{VIEWERS}[[stages]]\nusers = 5\nramp = \"5s\"\nhold = \"until judged, at most 60s\"\n[[stages]]\nusers = 5\nramp = \"0s\"\nhold = \"30s\"\n[[faults]]\nwindow = \"stage 2 hold\"\nkind = \"latency\"\non = \"queries\"\nlatency = \"100ms\"\n"
    ));
    assert!(
        e.starts_with(
            "DIR/s.toml:6:8: a hold until judged moves the windows after it, but [[faults]]"
        ),
        "{e}"
    );
}

/// Issue 23 item 1 and 7: the Grafana version emulated, the viewers' user, org
/// and browser time zone; bad values are located.
#[test]
fn viewers_name_their_grafana_version_user_org_and_time_zone() {
    use crate::workload::dashboard::GrafanaVersion;
    let f = Fixture::new();
    let text = format!(
        "{VIEWERS}grafana = \"10.2.3\"\ntimezone = \"Europe/Paris\"\n[viewers.user]\nlogin = \"alice\"\nid = 7\n[viewers.org]\nname = \"Toggl\"\n"
    );
    let s = f.parse(&text).unwrap();
    let v = s.viewers.as_ref().unwrap();
    assert_eq!(v.grafana_source, GrafanaSource::Scenario);
    assert_eq!(
        v.dashboard.grafana,
        GrafanaVersion {
            major: 10,
            minor: 2
        }
    );
    let g = &v.dashboard.globals;
    assert_eq!(
        (g.user_login.as_str(), g.user_id, g.user_email.as_str()),
        ("alice", 7, "admin@localhost")
    );
    assert_eq!((g.org_name.as_str(), g.org_id), ("Toggl", 1));
    assert_eq!(g.timezone, "Europe/Paris");
    let s = f.parse(VIEWERS).unwrap();
    let v = s.viewers.as_ref().unwrap();
    assert_eq!(v.grafana_source, GrafanaSource::Newest);
    assert_eq!(v.dashboard.grafana, GrafanaVersion::NEWEST);
    assert_eq!(
        f.error(&format!("{VIEWERS}grafana = \"eleven\"\n")),
        "DIR/s.toml:3:11: grafana: \"eleven\" is not a Grafana version (expected e.g. \"11.3\")"
    );
    assert!(f
        .error(&format!("{VIEWERS}grafana = \"6.7\"\n"))
        .contains("older than the oldest dashload emulates (7.0)"));
    assert!(f
        .error(&format!("{VIEWERS}timezone = \"\"\n"))
        .contains("timezone must be 1 to 256 characters"));
}

#[test]
fn busy_refresh_skips_by_default_and_refuses_an_unknown_value_where_it_stands() {
    let f = Fixture::new();
    let s = f.parse(VIEWERS).unwrap();
    assert_eq!(s.viewers.unwrap().busy_refresh, super::BusyRefresh::Skip);
    let s = f
        .parse(&format!("{VIEWERS}busy_refresh = \"cancel\"\n"))
        .unwrap();
    assert_eq!(s.viewers.unwrap().busy_refresh, super::BusyRefresh::Cancel);
    let e = f.error(&format!("{VIEWERS}busy_refresh = \"abort\"\n"));
    assert!(e.contains(":3:"), "the line: {e}");
    assert!(
        e.contains(
            r#"busy_refresh: expected "cancel" (what Grafana does) or "skip", found "abort""#
        ),
        "{e}"
    );
}
