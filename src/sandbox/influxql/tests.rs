//! InfluxQL answers against hand-computed expectations over a small data set.
//!
//! The data (precision s), five entries over two hours:
//!
//! | t (s) | project | user | duration_s | billable_s | description |
//! |------:|---------|------|-----------:|-----------:|-------------|
//! |     0 | A       | u1   |       3600 |       3600 | a1          |
//! |   600 | A       | u2   |       1800 |          0 | a2          |
//! |  1200 | B       | u1   |       7200 |       7200 | b1          |
//! |  3600 | B       | u1   |        600 |          0 | b2          |
//! |  4000 | C       | u1   |        900 |        900 | c1          |

use std::sync::RwLock;

use serde_json::{json, Value};

use super::{results_json, run_query, Epoch, Limits};
use crate::sandbox::lineproto::{parse_batch, write_batch, Precision};
use crate::sandbox::store::Store;

const DATA: &str = "\
time_entry,project=A,user=u1 duration_s=3600i,billable_s=3600i,description=\"a1\" 0
time_entry,project=A,user=u2 duration_s=1800i,billable_s=0i,description=\"a2\" 600
time_entry,project=B,user=u1 duration_s=7200i,billable_s=7200i,description=\"b1\" 1200
time_entry,project=B,user=u1 duration_s=600i,billable_s=0i,description=\"b2\" 3600
time_entry,project=C,user=u1 duration_s=900i,billable_s=900i,description=\"c1\" 4000
";

const NOW_NS: i64 = 4_500 * 1_000_000_000;
const RANGE: &str = "time >= 0ms and time <= 7199000ms";

fn store() -> RwLock<Store> {
    let mut store = Store::with_databases(["toggl"]);
    let outcome = write_batch(
        store.database_mut("toggl").unwrap(),
        &parse_batch(DATA, Precision::Seconds, 0),
    );
    assert_eq!(outcome.error, None);
    RwLock::new(store)
}

fn query_with(q: &str, epoch: Option<Epoch>) -> Value {
    let store = store();
    let out = run_query(&store, Some("toggl"), q, NOW_NS, Limits::default())
        .unwrap_or_else(|e| panic!("{q}: {}", e.message));
    results_json(&out.results, epoch)
}

fn query(q: &str) -> Value {
    query_with(q, Some(Epoch::Ms))
}

/// The series of statement 0.
fn series(q: &str) -> Vec<Value> {
    let v = query(q);
    assert!(
        v["results"][0]["error"].is_null(),
        "{q}: {}",
        v["results"][0]["error"]
    );
    v["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn values(q: &str) -> Value {
    let s = series(q);
    assert_eq!(s.len(), 1, "{q}: {s:?}");
    s[0]["values"].clone()
}

fn error(q: &str) -> String {
    query(q)["results"][0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{q}: no error"))
        .to_string()
}

#[test]
fn sum_per_time_bucket() {
    let q =
        format!(r#"SELECT sum("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1h)"#);
    let s = series(&q);
    assert_eq!(s[0]["name"], "time_entry");
    assert_eq!(s[0]["columns"], json!(["time", "sum"]));
    assert!(s[0].get("tags").is_none());
    assert_eq!(s[0]["values"], json!([[0, 12600], [3_600_000, 1500]]));
}

#[test]
fn group_by_tag_with_fill_modes() {
    let base = format!(
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1h), "project""#
    );
    let s = series(&format!("{base} fill(0)"));
    assert_eq!(s.len(), 3);
    assert_eq!(s[0]["tags"], json!({"project": "A"}));
    assert_eq!(s[0]["values"], json!([[0, 5400], [3_600_000, 0]]));
    assert_eq!(s[1]["values"], json!([[0, 7200], [3_600_000, 600]]));
    assert_eq!(s[2]["tags"], json!({"project": "C"}));
    assert_eq!(s[2]["values"], json!([[0, 0], [3_600_000, 900]]));

    let s = series(&format!("{base} fill(null)"));
    assert_eq!(s[0]["values"], json!([[0, 5400], [3_600_000, null]]));
    let s = series(&format!("{base} fill(none)"));
    assert_eq!(s[0]["values"], json!([[0, 5400]]));
    let s = series(&format!("{base} fill(previous)"));
    assert_eq!(s[0]["values"], json!([[0, 5400], [3_600_000, 5400]]));
    let s = series(&format!("{base} fill(-1)"));
    assert_eq!(s[2]["values"], json!([[0, -1], [3_600_000, 900]]));

    // count reports 0 for empty buckets under fill(null), as InfluxDB 1.x does.
    let s = series(&format!(
        r#"SELECT count("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1h), "project""#
    ));
    assert_eq!(s[0]["values"], json!([[0, 2], [3_600_000, 0]]));
}

#[test]
fn mean_and_last_per_tag_without_time_buckets() {
    let s = series(
        r#"SELECT mean("duration_s"), last("duration_s") FROM "time_entry" GROUP BY "user""#,
    );
    assert_eq!(s.len(), 2);
    assert_eq!(s[0]["columns"], json!(["time", "mean", "last"]));
    assert_eq!(s[0]["tags"], json!({"user": "u1"}));
    assert_eq!(s[0]["values"], json!([[0, 3075, 900]]));
    assert_eq!(s[1]["values"], json!([[0, 1800, 1800]]));
    // A lone selector reports the selected point's time.
    let s = series(r#"SELECT last("duration_s") FROM "time_entry" GROUP BY "user""#);
    assert_eq!(s[0]["values"], json!([[4_000_000, 900]]));
    assert_eq!(s[1]["values"], json!([[600_000, 1800]]));
    // With a lower bound, the row carries the range start.
    let v = values(
        r#"SELECT max("duration_s"), min("duration_s") FROM "time_entry" WHERE time > now() - 1h"#,
    );
    assert_eq!(v, json!([[900_000, 7200, 600]]));
}

#[test]
fn tag_filters_regex_and_boolean_logic() {
    let total = |cond: &str| {
        let v = values(&format!(
            r#"SELECT sum("duration_s") FROM "time_entry" WHERE {cond}"#
        ));
        v[0][1].as_i64().unwrap()
    };
    assert_eq!(total(r#""project" =~ /^(A|B)$/"#), 13200);
    assert_eq!(total(r#""project" !~ /^A$/"#), 8700);
    assert_eq!(total(r#""user" = 'u1' AND "project" != 'C'"#), 11400);
    assert_eq!(
        total(r#"("project" = 'A' OR "project" = 'C') AND "user" = 'u1'"#),
        4500
    );
    assert_eq!(
        total(r#""project" = 'A' OR "project" = 'C' AND "user" = 'u1'"#),
        6300
    );
    assert_eq!(total(r#""duration_s" > 1000 AND time >= 1000s"#), 7200);
    assert_eq!(total(r#""client" = ''"#), 14100);
    assert_eq!(
        series(r#"SELECT sum("duration_s") FROM "time_entry" WHERE "project" = 'Z'"#),
        Vec::<Value>::new()
    );
}

#[test]
fn raw_fields_order_by_time_desc_limit() {
    let s = series(
        r#"SELECT "user","project","description","duration_s" FROM "time_entry" ORDER BY time DESC LIMIT 2"#,
    );
    assert_eq!(
        s[0]["columns"],
        json!(["time", "user", "project", "description", "duration_s"])
    );
    assert_eq!(
        s[0]["values"],
        json!([
            [4_000_000, "u1", "C", "c1", 900],
            [3_600_000, "u1", "B", "b2", 600]
        ])
    );
    let v = values(r#"SELECT "duration_s" / 60 AS "min" FROM "time_entry" WHERE "user" = 'u2'"#);
    assert_eq!(v, json!([[600_000, 30]]));
    let s = series(r#"SELECT * FROM "time_entry" LIMIT 1 OFFSET 1"#);
    assert_eq!(
        s[0]["columns"],
        json!([
            "time",
            "billable_s",
            "description",
            "duration_s",
            "project",
            "user"
        ])
    );
    assert_eq!(s[0]["values"], json!([[600_000, 0, "a2", 1800, "A", "u2"]]));
}

#[test]
fn arithmetic_on_aggregates_and_aliases() {
    let s = series(
        r#"SELECT sum("billable_s")/sum("duration_s")*100 AS "billable_pct", sum("duration_s")/3600 FROM "time_entry""#,
    );
    assert_eq!(s[0]["columns"], json!(["time", "billable_pct", "sum"]));
    let row = &s[0]["values"][0];
    assert!((row[1].as_f64().unwrap() - 11700.0 / 14100.0 * 100.0).abs() < 1e-9);
    assert!((row[2].as_f64().unwrap() - 14100.0 / 3600.0).abs() < 1e-12);
    let s = series(r#"SELECT sum("duration_s"), sum("billable_s") FROM "time_entry""#);
    assert_eq!(s[0]["columns"], json!(["time", "sum", "sum_1"]));
}

#[test]
fn cumulative_sum_over_buckets() {
    let v = values(&format!(
        r#"SELECT cumulative_sum(sum("duration_s")) FROM "time_entry" WHERE {RANGE} GROUP BY time(1h)"#
    ));
    assert_eq!(v, json!([[0, 12600], [3_600_000, 14100]]));
}

#[test]
fn subqueries_top_and_count() {
    let s = series(
        r#"SELECT top("hours","project",2) FROM (SELECT sum("duration_s")/3600.0 AS "hours" FROM "time_entry" GROUP BY "project")"#,
    );
    assert_eq!(s[0]["columns"], json!(["time", "top", "project"]));
    assert_eq!(
        s[0]["values"],
        json!([[0, 7800.0 / 3600.0, "B"], [0, 1.5, "A"]])
    );
    let v = values(&format!(
        r#"SELECT count("s") FROM (SELECT sum("duration_s") AS "s" FROM "time_entry" WHERE {RANGE} GROUP BY time(1h),"user") WHERE {RANGE} GROUP BY time(1h)"#
    ));
    assert_eq!(v, json!([[0, 2], [3_600_000, 1]]));
}

#[test]
fn show_statements() {
    let s = series(r#"SHOW TAG VALUES FROM "time_entry" WITH KEY = "project""#);
    assert_eq!(s[0]["name"], "time_entry");
    assert_eq!(s[0]["columns"], json!(["key", "value"]));
    assert_eq!(
        s[0]["values"],
        json!([["project", "A"], ["project", "B"], ["project", "C"]])
    );
    let v = values(
        r#"SHOW TAG VALUES FROM "time_entry" WITH KEY = "project" WHERE "user" =~ /^(u2)$/"#,
    );
    assert_eq!(v, json!([["project", "A"]]));
    let v = values(r#"SHOW TAG VALUES WITH KEY IN ("user")"#);
    assert_eq!(v, json!([["user", "u1"], ["user", "u2"]]));
    assert_eq!(values("SHOW MEASUREMENTS"), json!([["time_entry"]]));
    assert_eq!(values("SHOW DATABASES"), json!([["toggl"]]));
    assert_eq!(values("SHOW TAG KEYS"), json!([["project"], ["user"]]));
    assert_eq!(
        values("SHOW FIELD KEYS"),
        json!([
            ["billable_s", "integer"],
            ["description", "string"],
            ["duration_s", "integer"]
        ])
    );
}

#[test]
fn rfc3339_times_and_time_zones() {
    let q =
        format!(r#"SELECT sum("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1h)"#);
    let v = query_with(&q, None);
    assert_eq!(
        v["results"][0]["series"][0]["values"],
        json!([
            ["1970-01-01T00:00:00Z", 12600],
            ["1970-01-01T01:00:00Z", 1500]
        ])
    );
    // Day buckets start at local midnight under tz().
    let q = format!(
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1d) tz('Europe/Berlin')"#
    );
    assert_eq!(
        query_with(&q, None)["results"][0]["series"][0]["values"],
        json!([["1970-01-01T00:00:00+01:00", 14100]])
    );
    assert_eq!(values(&q), json!([[-3_600_000, 14100]]));
    // time(1w, 4d): weeks start on Monday (1969-12-29), not on Thursday.
    let v = values(&format!(
        r#"SELECT count("duration_s") FROM "time_entry" WHERE {RANGE} GROUP BY time(1w, 4d)"#
    ));
    assert_eq!(v, json!([[-3 * 86_400_000, 5]]));
}

#[test]
fn slimit_and_soffset_pick_series() {
    let s = series(
        r#"SELECT sum("duration_s") FROM "time_entry" GROUP BY "project" SLIMIT 1 SOFFSET 1"#,
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["tags"], json!({"project": "B"}));
}

#[test]
fn statement_errors_are_per_statement() {
    assert_eq!(
        error(r#"SELECT sum("description") FROM "time_entry""#),
        "unsupported sum iterator type: *query.stringInterruptIterator"
    );
    assert_eq!(
        error(r#"SELECT foo("x") FROM "time_entry""#),
        "undefined function foo()"
    );
    assert_eq!(
        error(
            r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= 0ms and time <= 200000s GROUP BY time(1s)"#
        ),
        "max-select-buckets limit exceeded: (200001/100000)"
    );
    assert_eq!(
        error(r#"SELECT sum("duration_s"), "user" FROM "time_entry""#),
        "mixing aggregate and non-aggregate queries is not supported"
    );
    assert_eq!(
        error(r#"SELECT x FROM nope.autogen.m"#),
        "database not found: nope"
    );
    let v = query(
        r#"SELECT count("duration_s") FROM "time_entry"; SELECT foo(x) FROM m; SHOW DATABASES"#,
    );
    assert_eq!(v["results"][0]["series"][0]["values"], json!([[0, 5]]));
    assert_eq!(v["results"][1]["error"], "undefined function foo()");
    assert_eq!(
        v["results"][2],
        json!({"statement_id": 2, "error": "not executed"})
    );
}

#[test]
fn parse_errors_and_empty_results() {
    let store = store();
    let err = run_query(
        &store,
        Some("toggl"),
        "SELECT user FROM x",
        0,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "found USER, expected identifier, string, number, bool at line 1, char 8"
    );
    let err = run_query(
        &store,
        Some("toggl"),
        "SELECT x FROM m tz('Mars/Base')",
        0,
        Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.message, "unable to find time zone Mars/Base");
    let v = query(r#"SELECT sum("duration_s") FROM "nothing""#);
    assert_eq!(v, json!({"results": [{"statement_id": 0}]}));
    let out = run_query(&store, None, "SELECT x FROM m", 0, Limits::default()).unwrap();
    assert_eq!(
        out.results[0].error.as_deref(),
        Some("database name required")
    );
}

#[test]
fn create_database_then_query_it() {
    let store = store();
    let out = run_query(
        &store,
        None,
        "CREATE DATABASE other; SHOW DATABASES",
        0,
        Limits::default(),
    )
    .unwrap();
    let v = results_json(&out.results, None);
    assert_eq!(v["results"][0], json!({"statement_id": 0}));
    assert_eq!(
        v["results"][1]["series"][0]["values"],
        json!([["other"], ["toggl"]])
    );
}

#[test]
fn cost_counts_points_scanned() {
    let store = store();
    let all = run_query(
        &store,
        Some("toggl"),
        r#"SELECT sum("duration_s") FROM "time_entry""#,
        NOW_NS,
        Limits::default(),
    )
    .unwrap();
    let some = run_query(
        &store,
        Some("toggl"),
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= 3600s"#,
        NOW_NS,
        Limits::default(),
    )
    .unwrap();
    // 1 per statement + points scanned + rows emitted.
    assert_eq!(all.cost, 1 + 5 + 1);
    assert_eq!(some.cost, 1 + 2 + 1);
}

#[test]
fn extreme_bounds_and_odd_queries_answer_without_panicking() {
    let queries = [
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= -9223372036854775806 GROUP BY time(1w, 4d)"#,
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE time <= 9223372036854775806 AND time >= 9223372036854775000 GROUP BY time(1h) tz('America/New_York')"#,
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE time > now() + 10000w"#,
        r#"SELECT percentile("duration_s", 101), median("description") FROM "time_entry""#,
        r#"SELECT moving_average(sum("duration_s"), 2), derivative(mean("duration_s"), 1h) FROM "time_entry" WHERE time >= 0ms GROUP BY time(10m) fill(linear)"#,
        r#"SELECT "nothing" FROM "time_entry""#,
        r#"SELECT * FROM /.*/ WHERE "duration_s" / 0 = 0 LIMIT 1"#,
        r#"SELECT bottom("duration_s", 2) FROM "time_entry" GROUP BY time(1h)"#,
        r#"SHOW TAG VALUES FROM /time/ WITH KEY =~ /./ WHERE time > now() - 1h"#,
    ];
    let store = store();
    for q in queries {
        let out = run_query(&store, Some("toggl"), q, NOW_NS, Limits::default())
            .unwrap_or_else(|e| panic!("{q}: {}", e.message));
        let _ = results_json(&out.results, None);
    }
    // Weeks over all of time are only ~15 k buckets; hours are millions.
    assert_eq!(
        series(queries[0])[0]["values"].as_array().unwrap().len(),
        15_251
    );
    assert!(error(
        r#"SELECT sum("duration_s") FROM "time_entry" WHERE time >= -9223372036854775806 GROUP BY time(1h)"#
    )
    .starts_with("max-select-buckets limit exceeded: (25620"));
    let v = values(r#"SELECT bottom("duration_s", 2) FROM "time_entry""#);
    assert_eq!(v, json!([[3_600_000, 600], [4_000_000, 900]]));
}
