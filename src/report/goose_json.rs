//! Reading Goose's JSON report (`report.json`) as a fallback and for extras.
//!
//! The request log is the report's real input; Goose's JSON report holds only
//! aggregates (one latency histogram per request name for the whole run) and,
//! with `--report-graph-data`, counts per second. When the request log is
//! missing or empty the report is drawn from these: whole-run latencies per
//! name and class, requests and failures per second and per window, but no
//! latency per window or over time. Goose's users per second are always
//! taken when present, for the users chart. The file's shape is Goose's, so
//! it is read tolerantly as [`serde_json::Value`]: anything missing is skipped.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::runfolder::RequestClass;

use super::collect::{
    class_index, is_http_row, ClassAcc, Collected, ErrorKind, Tally, FINE_SIGFIG,
};

/// Counts above this in `report.json` cannot come from a run (a trillion
/// requests): the entry is set aside, so that sums cannot overflow.
const MAX_COUNT: u64 = 1_000_000_000_000;

/// Count one `report.json` entry set aside, naming the first.
fn set_aside(c: &mut Collected, why: impl FnOnce() -> String) {
    c.goose_input.out_of_range_rows += 1;
    if c.goose_input.first_out_of_range.is_none() {
        c.goose_input.first_out_of_range = Some(why());
    }
}

/// The request name inside a Goose key such as `GET load Toggl time [7d]`.
fn name_of_key(key: &str) -> &str {
    match key.split_once(' ') {
        Some((method, rest))
            if !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            rest
        }
        _ => key,
    }
}

/// The method label of a Goose metrics key (`GET panel …` → `GET`).
fn method_of_key(key: &str) -> Option<&[u8]> {
    let name = name_of_key(key);
    (name.len() < key.len()).then(|| key[..key.len() - name.len()].trim().as_bytes())
}

/// A per-second series `{ "origin": s, "data": [..] }` as `(second, value)` pairs.
fn per_second(series: &Value) -> impl Iterator<Item = (u64, u64)> + '_ {
    let origin = series.get("origin").and_then(Value::as_u64).unwrap_or(0);
    series
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(move |(i, v)| Some((origin.checked_add(i as u64)?, v.as_u64()?)))
}

/// Read `report.json` at `path`. Users per second are always taken; with
/// `use_requests` (the request log gave no rows) the aggregates are folded in too.
pub fn read_goose_report(c: &mut Collected, path: &Path, use_requests: bool) -> Result<()> {
    let Some(mut file) = c.goose_input.open(path)? else {
        return Ok(());
    };
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| Error::io(path, e))?;
    let report: Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(e) => {
            c.goose_input.note = Some(format!("report.json is not JSON: {e}"));
            return Ok(());
        }
    };
    drop(text);
    c.goose_input.used = true;
    let graphs = report.get("graphs");
    if let Some(users) = graphs.and_then(|g| g.get("users_per_second")) {
        let limit_s = c.elapsed_limit_ms / 1000;
        c.goose_users = per_second(users)
            .filter(|(s, u)| *s <= limit_s && *u <= MAX_COUNT)
            .collect();
    }
    if !use_requests {
        return Ok(());
    }
    fold_aggregates(c, &report);
    match graphs {
        Some(graphs) => fold_per_second(c, graphs),
        None => c.goose_input.note = Some(
            "report.json has no graph data (run Goose with --report-graph-data): nothing over time"
                .into(),
        ),
    }
    Ok(())
}

/// Whole-run histograms and counts per name, and error messages.
fn fold_aggregates(c: &mut Collected, report: &Value) {
    let requests = report
        .pointer("/raw_metrics/requests")
        .and_then(Value::as_object);
    for (key, entry) in requests.into_iter().flatten() {
        let ok = entry
            .get("success_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let failed = entry.get("fail_count").and_then(Value::as_u64).unwrap_or(0);
        if ok > MAX_COUNT || failed > MAX_COUNT {
            set_aside(c, || {
                format!("`{key}`: success_count {ok} or fail_count {failed} above {MAX_COUNT}")
            });
            continue;
        }
        let slot = c.name_slot(name_of_key(key).as_bytes());
        let mut acc = ClassAcc::new(FINE_SIGFIG);
        let longest_us = c.elapsed_limit_ms.saturating_mul(1000);
        if let Some(times) = entry
            .pointer("/raw_data/times_us")
            .and_then(Value::as_object)
        {
            for (us, n) in times {
                match (us.parse::<u64>(), n.as_u64()) {
                    (Ok(us), Some(n)) if us <= longest_us && n <= MAX_COUNT => {
                        let _ = acc.hist.record_n(us, n);
                    }
                    _ => set_aside(c, || format!("`{key}`: times_us {us}: {n}")),
                }
            }
        }
        acc.failed = failed;
        acc.count = ok + failed;
        let class = c.names[slot].class;
        c.names[slot].acc.merge(&acc);
        c.totals[class_index(class)].merge(&acc);
        let tally = Tally {
            count: acc.count,
            failed: acc.failed,
        };
        if is_http_row(method_of_key(key), class) {
            c.http.merge(&tally);
        } else {
            c.operations[class_index(class)].merge(&tally);
        }
        c.goose_input.rows += acc.count;
    }
    let errors = report.get("errors").and_then(Value::as_array);
    for error in errors.into_iter().flatten() {
        let method = error.get("method").and_then(Value::as_str);
        let name = error.get("name").and_then(Value::as_str).unwrap_or("");
        // Failed operations (a dashboard load) are counted in their class only.
        if !is_http_row(method.map(str::as_bytes), RequestClass::of(name)) {
            continue;
        }
        let text = error.get("error").and_then(Value::as_str).unwrap_or("");
        let n = error
            .get("occurrences")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if n > MAX_COUNT {
            set_aside(c, || {
                format!("error `{name}`: occurrences {n} above {MAX_COUNT}")
            });
            continue;
        }
        // Goose writes HTTP failures as "404 Not Found: <name>".
        let status = text
            .split_whitespace()
            .next()
            .and_then(|w| w.parse::<u16>().ok())
            .unwrap_or(0);
        c.errors[ErrorKind::classify(status, text.as_bytes()).index()] += n;
        if n > 0 {
            c.record_messages(text.as_bytes(), n);
        }
    }
}

/// Requests and failures per second into time buckets and windows (counts only).
fn fold_per_second(c: &mut Collected, graphs: &Value) {
    let failed_of = |name: &str| -> Vec<(u64, u64)> {
        graphs
            .get("errors_per_second")
            .and_then(|e| e.get(name))
            .map(|s| per_second(s).collect())
            .unwrap_or_default()
    };
    let series = graphs.get("requests_per_second").and_then(Value::as_object);
    for (key, counts) in series.into_iter().flatten() {
        let class = RequestClass::of(name_of_key(key));
        let http = is_http_row(method_of_key(key), class);
        let failures = failed_of(key);
        for (second, n) in per_second(counts) {
            let ms = second.saturating_mul(1000);
            if ms > c.elapsed_limit_ms || n > MAX_COUNT {
                set_aside(c, || {
                    format!("`{key}`: {n} requests at second {second}, outside the run")
                });
                continue;
            }
            let failed = failures
                .iter()
                .find(|(s, _)| *s == second)
                .map_or(0, |(_, f)| *f)
                .min(n);
            let bucket = c.buckets.at(ms);
            let acc = bucket.class_entry(class);
            acc.count += n;
            acc.failed += failed;
            let tally = Tally { count: n, failed };
            if http {
                bucket.errors[ErrorKind::Other.index()] += failed;
                bucket.http.merge(&tally);
            }
            let holding: Vec<usize> = c.window_index.holding(ms).collect();
            for i in holding {
                let w = &mut c.windows[i];
                w.add_counts(class_index(class), n, failed);
                if http {
                    w.http.merge(&tally);
                }
            }
            c.last_elapsed_ms = c.last_elapsed_ms.max(ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/goose-report.json")
    }

    #[test]
    fn keys_lose_their_method() {
        assert_eq!(
            name_of_key("GET load Toggl time [7d]"),
            "load Toggl time [7d]"
        );
        assert_eq!(name_of_key("sync write"), "sync write");
    }

    #[test]
    fn a_real_goose_report_gives_aggregates_and_series() {
        let mut c = Collected::new(&[], 3000);
        read_goose_report(&mut c, &fixture(), true).unwrap();
        assert!(c.goose_input.used);
        let names: Vec<&str> = c.names.iter().map(|n| n.name.as_str()).collect();
        assert!(names.contains(&"load Toggl time [7d]"), "{names:?}");
        let load = c.total(RequestClass::DashboardLoad);
        assert!(load.count > 0);
        assert_eq!(load.hist.len(), load.count);
        let missing = c
            .names
            .iter()
            .find(|n| n.name.starts_with("panel Missing"))
            .unwrap();
        assert_eq!(missing.acc.failed, missing.acc.count);
        assert!(c.errors[ErrorKind::Client.index()] > 0);
        assert!(c.errors[ErrorKind::Connection.index()] > 0);
        assert!(!c.goose_users.is_empty());
        let per_second: u64 = c
            .buckets
            .buckets
            .iter()
            .filter_map(|b| b.class(RequestClass::DashboardLoad))
            .map(|a| a.count)
            .sum();
        assert_eq!(per_second, load.count);
    }

    #[test]
    fn only_users_are_taken_when_the_request_log_was_used() {
        let mut c = Collected::new(&[], 3000);
        read_goose_report(&mut c, &fixture(), false).unwrap();
        assert!(c.names.is_empty());
        assert!(!c.goose_users.is_empty());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    fn read(bytes: &[u8]) -> Collected {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, bytes).unwrap();
        let windows = [crate::runfolder::StageWindow {
            name: "stage 1 hold".into(),
            kind: crate::runfolder::WindowKind::Hold,
            viewers: 1,
            start_ms: 0,
            end_ms: 10_000,
        }];
        let mut c = Collected::new(&windows, 10_000);
        read_goose_report(&mut c, &path, true).expect("a readable file never errors");
        c
    }

    /// Any JSON value, small.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            "[ -~]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    "(GET |LOAD )?(panel|load|sync write|origin|data|times_us|[0-9]{1,4})",
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(64))]

        #[test]
        fn prop_bytes_that_are_not_json_are_a_note_with_line_and_column(
            bytes in proptest::collection::vec(any::<u8>(), 0..400)
        ) {
            let c = read(&bytes);
            if serde_json::from_slice::<Value>(&bytes).is_err() {
                let note = c.goose_input.note.clone().expect("a note");
                prop_assert!(note.contains("report.json") && note.contains("line "), "{}", note);
                prop_assert!(!c.goose_input.used);
            }
        }

        #[test]
        fn prop_goose_shaped_reports_with_any_values_never_panic(
            requests in value(),
            counts in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<u64>()), 0..4),
            origin in any::<u64>(),
            data in proptest::collection::vec(any::<u64>(), 0..6),
            errors in value(),
        ) {
            let mut entries = serde_json::Map::new();
            for (i, (us, ok, failed)) in counts.iter().enumerate() {
                entries.insert(
                    format!("GET panel P{i} [1h]"),
                    json!({"raw_data": {"times_us": {us.to_string(): ok}}, "success_count": ok, "fail_count": failed}),
                );
            }
            entries.insert("GET panel any [1h]".into(), requests);
            let report = json!({
                "raw_metrics": {"requests": entries},
                "errors": errors,
                "graphs": {
                    "requests_per_second": {"GET panel P0 [1h]": {"origin": origin, "data": data}},
                    "errors_per_second": {"GET panel P0 [1h]": {"origin": origin, "data": data}},
                    "users_per_second": {"origin": origin, "data": data},
                },
            });
            let c = read(report.to_string().as_bytes());
            prop_assert!(c.goose_input.used);
            prop_assert!(c.last_elapsed_ms <= c.elapsed_limit_ms);
            prop_assert!(c.buckets.width_ms <= 1000 * 1024, "{}", c.buckets.width_ms);
        }
    }
}
