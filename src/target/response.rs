//! Judging answers. A 200 whose body carries an error (InfluxDB's
//! `results[i].error`, Grafana's per-refId `error`, a Flux CSV error table) is a
//! failure with that message, never a success (DOMAIN.md §1.5, §2.4).

use serde_json::Value;

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

fn clip(text: &str) -> String {
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

/// Judge a query answer (InfluxDB `/query` JSON or Grafana `/api/ds/query` JSON).
/// `want_values` asks for the values of a variable query.
pub fn judge_query(status: u16, body: &[u8], want_values: bool) -> Judged {
    // Most answers are clean 200s: only parse the body when it may hold an error
    // or when values are wanted, so big panel answers cost a scan, not a parse.
    // JSON (InfluxQL, Grafana) carries errors in an "error" key; Flux's CSV in an
    // error table. One SIMD scan of the body for the marker of its own format.
    let marker: &[u8] = if body.trim_ascii_start().starts_with(b"{") {
        b"\"error\""
    } else {
        FLUX_ERROR_HEADER
    };
    let may_hold_error = memchr::memmem::find(body, marker).is_some();
    if (200..300).contains(&status) && !may_hold_error && !want_values {
        return Judged::success();
    }
    let json: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(message) = json
        .as_ref()
        .and_then(body_error)
        .or_else(|| flux_error(body))
    {
        return Judged::fail(if (200..300).contains(&status) {
            message
        } else {
            format!("HTTP {status}: {message}")
        });
    }
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(body);
        return Judged::fail(if text.trim().is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {}", clip(&text))
        });
    }
    let values = if want_values {
        json.as_ref().map(answer_values).unwrap_or_default()
    } else {
        Vec::new()
    };
    Judged {
        ok: true,
        error: None,
        values,
    }
}

/// Judge a write answer: 204 (or any 2xx) is success; otherwise InfluxDB's `error`.
pub fn judge_write(status: u16, body: &[u8]) -> Judged {
    if (200..300).contains(&status) {
        return Judged::success();
    }
    // InfluxDB 1.x says `error`; 2.x says `message` (with a `code`).
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    Judged::fail(if message.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", clip(&message))
    })
}

/// The first error a query answer carries, wherever the format puts it.
fn body_error(json: &Value) -> Option<String> {
    // InfluxDB: {"error": "..."} or {"results":[{"statement_id":0,"error":"..."}]}
    if let Some(e) = json.get("error").and_then(Value::as_str) {
        return Some(clip(e));
    }
    match json.get("results") {
        Some(Value::Array(results)) => results
            .iter()
            .find_map(|r| r.get("error").and_then(Value::as_str))
            .map(clip),
        // Grafana: {"results":{"A":{"error":"...","status":500}}}
        Some(Value::Object(by_ref)) => by_ref.iter().find_map(|(ref_id, r)| {
            r.get("error")
                .and_then(Value::as_str)
                .map(|e| clip(&format!("{ref_id}: {e}")))
        }),
        _ => json.get("message").and_then(Value::as_str).map(clip),
    }
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

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
