//! Judging answers. A 200 whose body carries an error (InfluxDB's
//! `results[i].error`, Grafana's per-refId `error`, a Flux CSV error table) is a
//! failure with that message, never a success (DOMAIN.md §1.5, §2.4); so is a 2xx
//! that is not what its format returns (truncated, an HTML page, too large).

use serde_json::Value;

use super::body::{show_size, Body, Format, VALUES_KEEP};

/// The verdict on one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Judged {
    /// True when the request did what it was for.
    pub ok: bool,
    /// Why not, when not.
    pub error: Option<String>,
    /// For variable queries: the values of the answer's last column.
    pub values: Vec<String>,
}

impl Judged {
    /// The request did what it was for.
    pub fn success() -> Judged {
        Judged {
            ok: true,
            error: None,
            values: Vec::new(),
        }
    }

    /// A success without an error, a failure with one.
    pub fn from_error(error: Option<String>) -> Judged {
        Judged {
            ok: error.is_none(),
            error,
            values: Vec::new(),
        }
    }

    fn fail(message: String) -> Judged {
        Judged::from_error(Some(message))
    }
}

/// Longest error text kept: enough to read, small enough for a request log.
const MAX_ERROR: usize = 300;

/// An error text as kept: secrets redacted (before the cut, so no half secret
/// survives it), trimmed, at most [`MAX_ERROR`] bytes.
pub(crate) fn clip(text: &str) -> String {
    let text = crate::redact::redact(text);
    let text = text.trim();
    if text.len() <= MAX_ERROR {
        return text.to_string();
    }
    let mut end = MAX_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// `message`, after `HTTP <status>: ` when the status is not a success.
fn with_status(status: u16, message: &str) -> String {
    if is_success(status) {
        clip(message)
    } else {
        format!("HTTP {status}: {}", clip(message))
    }
}

/// The failure of an answer that went past `max_body`.
fn oversize(status: u16, body: &Body) -> Option<Judged> {
    let limit = body.oversize?;
    Some(Judged::fail(with_status(
        status,
        &format!(
            "answer larger than max_body {}: read {} bytes, stopped",
            show_size(limit),
            body.read
        ),
    )))
}

/// The failure of a non-2xx answer without an error message of its format.
fn status_failure(status: u16, body: &Body) -> Judged {
    let text = String::from_utf8_lossy(body.head());
    Judged::fail(if text.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", clip(&text))
    })
}

/// Judge a query answer (InfluxDB `/query` JSON, Grafana `/api/ds/query` JSON,
/// Flux CSV), read by [`super::body`]. A 2xx must have the shape its format
/// has, whole: a truncated body, an HTML page or an empty answer where JSON was
/// expected is a failure that says so. `want_values` asks for the values of a
/// variable query (the body must have been kept whole for them).
pub fn judge_query(status: u16, body: &Body, want_values: bool) -> Judged {
    if let Some(failed) = oversize(status, body) {
        return failed;
    }
    let carried = match body.json() {
        Some(json) => json.error.clone(),
        None => flux_error(body.tail()),
    };
    if let Some(message) = carried {
        return Judged::fail(with_status(status, &message));
    }
    if !is_success(status) {
        return status_failure(status, body);
    }
    let expected = match body.format() {
        Format::Json => "JSON",
        Format::FluxCsv => "Flux CSV",
        Format::Any => return Judged::success(),
    };
    match (body.first(), body.format()) {
        (None, Format::Json) => {
            return Judged::fail(format!("empty answer where {expected} was expected"))
        }
        (Some(b'<'), _) => {
            return Judged::fail(format!(
                "HTML where {expected} was expected: {}",
                clip(&String::from_utf8_lossy(
                    &body.head()[..body.head().len().min(120)]
                ))
            ))
        }
        (Some(b'{' | b'['), Format::FluxCsv) => {
            return Judged::fail(format!("JSON where {expected} was expected"))
        }
        _ => {}
    }
    if let Some(invalid) = body.json().and_then(|j| j.invalid.as_ref()) {
        return Judged::fail(invalid.to_string());
    }
    if let Some(error) = body.csv_error() {
        return Judged::fail(error.to_string());
    }
    if !want_values {
        return Judged::success();
    }
    let Some(whole) = body.whole() else {
        return Judged::fail(format!(
            "variable answer larger than {}: its values were not read",
            show_size(VALUES_KEEP as u64)
        ));
    };
    let values = match body.format() {
        Format::FluxCsv => flux_values(whole),
        _ => serde_json::from_slice::<Value>(whole)
            .map(|json| answer_values(&json))
            .unwrap_or_default(),
    };
    Judged {
        ok: true,
        error: None,
        values,
    }
}

/// Judge a write answer: InfluxDB answers a stored write with 204 No Content;
/// another 2xx (a proxy's page, a 200 with a body) is not a write that landed.
/// Otherwise InfluxDB's `error` (1.x) or `message` (2.x).
pub fn judge_write(status: u16, body: &Body) -> Judged {
    if let Some(failed) = oversize(status, body) {
        return failed;
    }
    if status == 204 {
        return Judged::success();
    }
    let text = String::from_utf8_lossy(body.head());
    if is_success(status) {
        return Judged::fail(if text.trim().is_empty() {
            format!("HTTP {status} where 204 No Content was expected")
        } else {
            format!(
                "HTTP {status} where 204 No Content was expected: {}",
                clip(&text)
            )
        });
    }
    // InfluxDB 1.x says `error`; 2.x says `message` (with a `code`).
    let message = serde_json::from_slice::<Value>(body.head())
        .ok()
        .and_then(|v| {
            v.get("error")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.into_owned());
    Judged::fail(if message.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", clip(&message))
    })
}

/// The header of the table Flux answers with when a query fails after the 200 and
/// the first tables were sent: `error` and `reference` columns, one row (Flux's
/// annotated CSV spec, "Errors").
const FLUX_ERROR_HEADER: &[u8] = b",error,reference";

/// The message of a Flux error table, if the CSV answer holds one.
fn flux_error(body: &[u8]) -> Option<String> {
    let mut lines = body.split(|&b| b == b'\n');
    lines.find(|line| line.trim_ascii() == FLUX_ERROR_HEADER)?;
    let row = lines.next()?;
    let record = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(row)
        .into_byte_records()
        .next()?
        .ok()?;
    let message = String::from_utf8_lossy(record.get(1)?).into_owned();
    Some(clip(if message.trim().is_empty() {
        "Flux error table without a message"
    } else {
        &message
    }))
}

/// Values of a variable query's answer: the last column of every row.
fn answer_values(json: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match json.get("results") {
        Some(Value::Array(results)) => {
            for series in results.iter().filter_map(|r| r.get("series")?.as_array()) {
                for s in series {
                    for row in s
                        .get("values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(v) = row.as_array().and_then(|r| r.last()) {
                            out.push(scalar(v));
                        }
                    }
                }
            }
        }
        Some(Value::Object(by_ref)) => {
            for frame in by_ref
                .values()
                .filter_map(|r| r.get("frames")?.as_array())
                .flatten()
            {
                if let Some(cols) = frame.pointer("/data/values").and_then(Value::as_array) {
                    if let Some(last) = cols.last().and_then(Value::as_array) {
                        out.extend(last.iter().map(scalar));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// Values of a Flux variable query's CSV answer: each table's `_value` column
/// (its last column when it has none), as Grafana reads a metric-find frame.
/// Annotation rows (`#datatype`, …) are skipped; a table's first row after them,
/// or after a blank line, is its header.
fn flux_values(csv_text: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut column: Option<usize> = None;
    for line in csv_text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() || line.starts_with(b"#") {
            column = None;
            continue;
        }
        let Some(Ok(record)) = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line)
            .into_byte_records()
            .next()
        else {
            continue;
        };
        match column {
            None => {
                let named = record.iter().position(|f| f == b"_value");
                column = named.or(record.len().checked_sub(1));
            }
            Some(i) => {
                if let Some(v) = record.get(i) {
                    out.push(String::from_utf8_lossy(v).into_owned());
                }
            }
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::body::{Reading, DEFAULT_MAX_BODY};
    use super::*;

    /// A query answer read in one piece; CSV unless it opens as JSON.
    fn judge_query(status: u16, body: &[u8], want_values: bool) -> Judged {
        let format = if body.trim_ascii_start().starts_with(b"{") {
            Format::Json
        } else {
            Format::FluxCsv
        };
        let reading = Reading::query(format, DEFAULT_MAX_BODY, want_values);
        super::judge_query(status, &Body::from_bytes(body, reading), want_values)
    }

    fn judge_write(status: u16, body: &[u8]) -> Judged {
        super::judge_write(
            status,
            &Body::from_bytes(body, Reading::write(DEFAULT_MAX_BODY)),
        )
    }

    #[test]
    fn clean_answers_pass_without_parsing() {
        let j = judge_query(
            200,
            br#"{"results":[{"statement_id":0,"series":[]}]}"#,
            false,
        );
        assert!(j.ok);
    }

    #[test]
    fn influxdb_200_with_statement_error_is_a_failure() {
        let body = br#"{"results":[{"statement_id":0,"error":"max-select-buckets limit exceeded: (129600/100000)"}]}"#;
        let j = judge_query(200, body, false);
        assert!(!j.ok);
        assert_eq!(
            j.error.unwrap(),
            "max-select-buckets limit exceeded: (129600/100000)"
        );
    }

    #[test]
    fn influxdb_errors_keep_their_status_and_message() {
        let j = judge_query(400, br#"{"error":"error parsing query: found EOF"}"#, false);
        assert_eq!(j.error.unwrap(), "HTTP 400: error parsing query: found EOF");
        let j = judge_query(503, b"", false);
        assert_eq!(j.error.unwrap(), "HTTP 503");
    }

    #[test]
    fn grafana_per_ref_id_errors_are_failures() {
        let body = br#"{"results":{"A":{"error":"query-timeout limit exceeded","status":500}}}"#;
        let j = judge_query(400, body, false);
        assert_eq!(
            j.error.unwrap(),
            "HTTP 400: A: query-timeout limit exceeded"
        );
        let j = judge_query(200, body, false);
        assert_eq!(j.error.unwrap(), "A: query-timeout limit exceeded");
    }

    #[test]
    fn variable_values_come_from_either_format() {
        let influx = br#"{"results":[{"statement_id":0,"series":[{"name":"time_entry","columns":["key","value"],"values":[["project","Proj-01"],["project","Proj-02"]]}]}]}"#;
        assert_eq!(
            judge_query(200, influx, true).values,
            ["Proj-01", "Proj-02"]
        );
        let grafana = br#"{"results":{"metricFindQuery":{"status":200,"frames":[{"schema":{"fields":[{"name":"key"},{"name":"value"}]},"data":{"values":[["project","project"],["A","B"]]}}]}}}"#;
        assert_eq!(judge_query(200, grafana, true).values, ["A", "B"]);
        // InfluxDB 2.x's CSV for `schema.tagValues` (two tables, a blank line apart).
        let flux = b",result,table,_value\r\n,_result,0,web1\r\n,_result,0,web2\r\n\r\n,result,table,_start,_value\r\n,_result,1,x,db1\r\n";
        let reading = Reading::query(Format::FluxCsv, DEFAULT_MAX_BODY, true);
        let judged = super::judge_query(200, &Body::from_bytes(flux, reading), true);
        assert_eq!(judged.values, ["web1", "web2", "db1"]);
    }

    #[test]
    fn influxdb2_errors_carry_their_message() {
        // Shapes from InfluxDB 2.x's API docs and influxdata/influxdb#20895.
        let j = judge_write(400, br#"{"code":"invalid","message":"partial write error (1 written): unable to parse 'bad': missing fields"}"#);
        assert_eq!(
            j.error.unwrap(),
            "HTTP 400: partial write error (1 written): unable to parse 'bad': missing fields"
        );
        let j = judge_write(
            401,
            br#"{"code":"unauthorized","message":"unauthorized access"}"#,
        );
        assert_eq!(j.error.unwrap(), "HTTP 401: unauthorized access");
        let j = judge_query(400, br#"{"code":"invalid","message":"compilation failed: error @1:1-1:4: undefined identifier frm"}"#, false);
        assert_eq!(
            j.error.unwrap(),
            "HTTP 400: compilation failed: error @1:1-1:4: undefined identifier frm"
        );
        let csv = b",result,table,_start,_stop,_time,_value\r\n,_result,0,2025-11-16T00:00:00Z,2025-11-23T00:00:00Z,2025-11-16T00:00:00Z,12.5\r\n";
        assert!(
            judge_query(200, csv, false).ok,
            "a Flux CSV answer is a success"
        );
    }

    #[test]
    fn a_flux_error_table_after_the_200_is_a_failure() {
        // A first table streamed, then the query failed: Flux appends an error table.
        let csv =
            b"#datatype,string,long,double\r\n#group,false,false,false\r\n#default,_result,,\r\n\
,result,table,_value\r\n,,0,12.5\r\n\r\n\
#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n\
,error,reference\r\n,\"panic: runtime error, memory limit exceeded\",897\r\n";
        let j = judge_query(200, csv, false);
        assert!(!j.ok);
        assert_eq!(
            j.error.unwrap(),
            "panic: runtime error, memory limit exceeded"
        );
        // A column merely named `error` in data is not an error table.
        let data = b",result,table,error\r\n,,0,3\r\n";
        assert!(judge_query(200, data, false).ok);
    }

    #[test]
    fn writes_report_influxdbs_message() {
        assert!(judge_write(204, b"").ok);
        let j = judge_write(400, br#"{"error":"partial write: unable to parse 'this is bad': invalid field format dropped=0"}"#);
        assert_eq!(
            j.error.unwrap(),
            "HTTP 400: partial write: unable to parse 'this is bad': invalid field format dropped=0"
        );
        let j = judge_write(404, br#"{"error":"database not found: \"toggl\""}"#);
        assert_eq!(j.error.unwrap(), "HTTP 404: database not found: \"toggl\"");
    }

    #[test]
    fn answers_that_are_not_what_the_format_returns_are_failures() {
        let whole = br#"{"results":[{"statement_id":0,"series":[{"name":"t","columns":["time","v"],"values":[[1,2]]}]}]}"#;
        assert!(judge_query(200, whole, false).ok);
        let j = judge_query(200, &whole[..50], false);
        assert_eq!(
            j.error.unwrap(),
            "invalid JSON at byte 50: the answer ends early"
        );
        let html = b"<!DOCTYPE html><html><body>Sign in</body></html>";
        let json = Body::from_bytes(html, Reading::query(Format::Json, DEFAULT_MAX_BODY, false));
        let j = super::judge_query(200, &json, false);
        assert!(j.error.unwrap().starts_with("HTML where JSON was expected"));
        let empty = Body::from_bytes(b"  ", Reading::query(Format::Json, DEFAULT_MAX_BODY, false));
        assert_eq!(
            super::judge_query(200, &empty, false).error.unwrap(),
            "empty answer where JSON was expected"
        );
        // Grafana's answer cut short.
        let grafana = br#"{"results":{"A":{"status":200,"frames":[{"schema":{"fields":[]},"data":{"values":[[1,2"#;
        assert!(judge_query(200, grafana, false)
            .error
            .unwrap()
            .starts_with("invalid JSON at byte"));
        // Flux CSV cut inside a row, an HTML page, JSON where CSV was expected.
        let csv = b",result,table,_value\r\n,_result,0,12.5\r\n,_result,0,1";
        assert!(judge_query(200, csv, false)
            .error
            .unwrap()
            .contains("truncated CSV: ends inside a row"));
        let flux = |b: &[u8]| {
            super::judge_query(
                200,
                &Body::from_bytes(b, Reading::query(Format::FluxCsv, DEFAULT_MAX_BODY, false)),
                false,
            )
        };
        assert!(flux(html).error.unwrap().starts_with("HTML where Flux CSV"));
        assert_eq!(
            flux(br#"{"results":[]}"#).error.unwrap(),
            "JSON where Flux CSV was expected"
        );
        // Writes: InfluxDB answers 204; a 200 page is not a stored write.
        assert!(judge_write(204, b"").ok);
        assert_eq!(
            judge_write(200, b"<html>ok</html>").error.unwrap(),
            "HTTP 200 where 204 No Content was expected: <html>ok</html>"
        );
    }

    #[test]
    fn oversize_answers_fail_with_their_size() {
        let mut scan = super::super::body::BodyScan::new(Reading::query(Format::Json, 1024, false));
        assert!(scan.feed(&[b' '; 1000]));
        assert!(!scan.feed(&[b' '; 100]));
        let j = super::judge_query(200, &scan.finish(), false);
        assert_eq!(
            j.error.unwrap(),
            "answer larger than max_body 1 KB: read 1100 bytes, stopped"
        );
    }

    mod proptests {
        use super::super::super::body::{Body, Format, Reading, DEFAULT_MAX_BODY};
        use super::super::{judge_query, judge_write};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::proptest_support::config(256))]

            #[test]
            fn prop_a_success_is_whole_json(
                status in 100u16..600,
                body in prop::collection::vec(any::<u8>(), 0..200),
                cut in any::<prop::sample::Index>(),
                want_values in any::<bool>(),
            ) {
                let whole = br#"{"results":[{"statement_id":0,"series":[{"name":"t","columns":["time","v"],"values":[[1,2.5]]}]}]}"#;
                let truncated = &whole[..cut.index(whole.len())];
                for b in [&body[..], truncated] {
                    let reading = Reading::query(Format::Json, DEFAULT_MAX_BODY, want_values);
                    let j = judge_query(status, &Body::from_bytes(b, reading), want_values);
                    if j.ok {
                        prop_assert!((200..300).contains(&status));
                        prop_assert!(
                            serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok(),
                            "a success that is not JSON: {:?}", String::from_utf8_lossy(b)
                        );
                    } else {
                        let e = j.error.unwrap();
                        prop_assert!(!e.is_empty());
                        if !(200..300).contains(&status) {
                            prop_assert!(e.starts_with(&format!("HTTP {status}")), "{}", e);
                        }
                    }
                    let w = judge_write(status, &Body::from_bytes(b, Reading::write(DEFAULT_MAX_BODY)));
                    prop_assert_eq!(w.ok, status == 204);
                    prop_assert_eq!(w.error.is_some(), status != 204);
                }
            }
        }
    }
}
