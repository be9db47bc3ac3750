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
        .filter_map(move |(i, v)| Some((origin + i as u64, v.as_u64()?)))
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
        c.goose_users = per_second(users).collect();
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
        let slot = c.name_slot(name_of_key(key).as_bytes());
        let mut acc = ClassAcc::new(FINE_SIGFIG);
        if let Some(times) = entry
            .pointer("/raw_data/times_us")
            .and_then(Value::as_object)
        {
            for (us, n) in times {
                if let (Ok(us), Some(n)) = (us.parse::<u64>(), n.as_u64()) {
                    let _ = acc.hist.record_n(us, n);
                }
            }
        }
        let ok = entry
            .get("success_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        acc.failed = entry.get("fail_count").and_then(Value::as_u64).unwrap_or(0);
        acc.count = ok + acc.failed;
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
            let failed = failures
                .iter()
                .find(|(s, _)| *s == second)
                .map_or(0, |(_, f)| *f)
                .min(n);
            let ms = second * 1000;
            let bucket = c.buckets.at(ms);
            let acc = bucket.class_entry(class);
            acc.count += n;
            acc.failed += failed;
            let tally = Tally { count: n, failed };
            if http {
                bucket.errors[ErrorKind::Other.index()] += failed;
                bucket.http.merge(&tally);
            }
            for w in &mut c.windows {
                if w.contains(ms) {
                    let acc = &mut w.classes[class_index(class)];
                    acc.count += n;
                    acc.failed += failed;
                    if http {
                        w.http.merge(&tally);
                    }
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
