//! Streaming the run folder's CSV files into [`Collected`].
//!
//! `requests.csv` can hold tens of millions of rows, so it is read once, row
//! by row, into one reused [`csv::ByteRecord`]; fields are parsed from bytes
//! and only names and error messages never seen before are turned into
//! strings. Rows that cannot be parsed are counted and skipped, and rows whose
//! values cannot belong to the run (an elapsed time past its end, a negative or
//! longer-than-the-run latency) are set aside and counted apart, so that one
//! absurd row cannot stretch every chart; the first of each is named by line.
//! A last line cut short (a run killed while writing) is told apart from
//! corruption. Only `\n` ends a row: Goose does not quote a bare `\r` in a
//! server's error text, and ending rows there split one failure into two
//! unreadable halves.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use csv::ByteRecord;

use crate::error::{Error, Result};

use super::collect::{is_http_row, Collected, ErrorKind, InputStatus, LastProblem};

/// Inputs at least this large get a progress bar (when asked for and stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Columns of Goose's request log that the report reads.
struct RequestColumns {
    elapsed: usize,
    name: usize,
    response_time: usize,
    status_code: usize,
    success: usize,
    error: Option<usize>,
    response_time_us: Option<usize>,
    raw: Option<usize>,
}

impl RequestColumns {
    fn find(header: &ByteRecord) -> std::result::Result<RequestColumns, String> {
        let pos = |name: &str| {
            header
                .iter()
                .position(|h| h.trim_ascii() == name.as_bytes())
        };
        let need =
            |name: &str| pos(name).ok_or_else(|| format!("no `{name}` column in the header"));
        Ok(RequestColumns {
            elapsed: need("elapsed")?,
            name: need("name")?,
            response_time: need("response_time")?,
            status_code: need("status_code")?,
            success: need("success")?,
            error: pos("error"),
            response_time_us: pos("response_time_us"),
            raw: pos("raw"),
        })
    }
}

/// A reader that counts the bytes read through it, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether the file's last byte is a line end (an empty file counts as ended).
fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(last[0] == b'\n')
}

/// A decimal integer with an optional sign, as wide as any such field can be
/// (up to 38 digits); `None` when it is not one.
fn parse_int(bytes: &[u8]) -> Option<i128> {
    let bytes = bytes.trim_ascii();
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 38 {
        return None;
    }
    let mut n: i128 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i128::from(b - b'0');
    }
    Some(if negative { -n } else { n })
}

/// Why a row was not folded in.
#[derive(Debug)]
enum Problem {
    /// It could not be read: wrong number of fields, a field that is not what it should be.
    Unreadable(String),
    /// It was read, but a value cannot belong to the run.
    OutOfRange(String),
}

/// A field's bytes for a message: at most 40 characters, control characters escaped.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(40).flat_map(char::escape_debug).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Field `i` of `rec` as an integer, or why it is unreadable.
fn int_field(rec: &ByteRecord, i: usize, what: &str) -> Result<i128, Problem> {
    let bytes = rec.get(i).unwrap_or_default();
    parse_int(bytes)
        .ok_or_else(|| Problem::Unreadable(format!("`{what}` is not a number: `{}`", shown(bytes))))
}

/// `value` (ms) when it lies in `0..=limit_ms`, or why it is out of range.
fn in_range(value: i128, limit_ms: u64, what: &str) -> Result<u64, Problem> {
    match u64::try_from(value) {
        Ok(v) if v <= limit_ms => Ok(v),
        _ => Err(Problem::OutOfRange(format!(
            "{what} {value} ms is outside the run (0 to {limit_ms} ms)"
        ))),
    }
}

/// The method label in Goose's raw request (`… custom_method: "LOAD" }`, or
/// `method: Get` when the label is empty); `None` when it cannot be read.
fn method_of_raw(raw: &[u8]) -> Option<&[u8]> {
    const LABEL: &[u8] = b"custom_method: \"";
    // The label is the last field: search from the end, past any URL or body.
    let at = memchr::memmem::rfind(raw, LABEL)? + LABEL.len();
    let len = memchr::memchr(b'"', &raw[at..])?;
    if len > 0 {
        return Some(&raw[at..at + len]);
    }
    let at = memchr::memmem::find(raw, b"method: ")? + b"method: ".len();
    let len = raw[at..].iter().position(|b| !b.is_ascii_alphabetic())?;
    Some(&raw[at..at + len])
}

/// The `success` column of a log row: `true` or `false`, anything else unreadable.
fn success_field(rec: &csv::ByteRecord, i: usize) -> std::result::Result<bool, Problem> {
    let field = rec.get(i).unwrap_or_default();
    parse_bool(field).ok_or_else(|| {
        Problem::Unreadable(format!(
            "`success` is not true or false: `{}`",
            shown(field)
        ))
    })
}

fn parse_bool(bytes: &[u8]) -> Option<bool> {
    match bytes.trim_ascii() {
        b"true" | b"1" => Some(true),
        b"false" | b"0" => Some(false),
        _ => None,
    }
}

/// A row's `elapsed` on the run's clock: a distributed run's worker logs are
/// shifted by the worker's offset (`cluster::merge`); a row a worker logged just
/// before the run's zero counts at 0.
fn shifted(c: &Collected, elapsed: i128) -> i128 {
    if c.shift_ms == 0 {
        elapsed
    } else {
        (elapsed + i128::from(c.shift_ms)).max(0)
    }
}

/// One request row, parsed and folded in; or why it was not.
fn fold_request(
    c: &mut Collected,
    cols: &RequestColumns,
    rec: &ByteRecord,
    width: usize,
) -> Result<(), Problem> {
    if rec.len() != width {
        return Err(Problem::Unreadable(format!(
            "{} fields where the header has {width}",
            rec.len()
        )));
    }
    let elapsed = shifted(c, int_field(rec, cols.elapsed, "elapsed")?);
    let ms = int_field(rec, cols.response_time, "response_time")?;
    let us = match cols.response_time_us {
        Some(i) => int_field(rec, i, "response_time_us")?,
        None => 0,
    };
    let status = int_field(rec, cols.status_code, "status_code")?;
    let success = success_field(rec, cols.success)?;
    let limit = c.elapsed_limit_ms;
    let elapsed = in_range(elapsed, limit, "elapsed")?;
    let latency_us = if us != 0 {
        in_range(us, limit.saturating_mul(1000), "response_time_us")?
    } else {
        in_range(ms, limit, "response_time")? * 1000
    };
    let status = u16::try_from(status)
        .ok()
        .filter(|s| *s <= 999)
        .ok_or_else(|| {
            Problem::OutOfRange(format!("status_code {status} is not an HTTP status"))
        })?;
    let name = rec.get(cols.name).unwrap_or_default();
    let error = cols.error.and_then(|i| rec.get(i)).unwrap_or(b"");
    // Replaced in flight by the dashboard's next refresh: the server got it,
    // no answer was awaited. Counted apart, per window and in the count check.
    if !success && std::str::from_utf8(error).is_ok_and(crate::runfolder::is_replaced) {
        c.record_replaced(elapsed);
        if let Some(acc) = c.server.as_mut() {
            let class = std::str::from_utf8(name).map_or(
                crate::runfolder::RequestClass::Other,
                crate::runfolder::RequestClass::of,
            );
            // Dropped in flight: it may not have left the client yet.
            acc.record_maybe_row(class, elapsed, latency_us);
        }
        return Ok(());
    }
    // Cut off by the run's end, not failed by the target: counted apart.
    if !success && std::str::from_utf8(error).is_ok_and(crate::runfolder::is_cancelled) {
        c.cancelled += 1;
        // Dropped in flight, it was sent: the server counted it (one never sent, not).
        if let (Some(acc), Ok(name), Ok(error)) = (
            c.server.as_mut(),
            std::str::from_utf8(name),
            std::str::from_utf8(error),
        ) {
            let class = crate::runfolder::RequestClass::of(name);
            let method = cols.raw.and_then(|i| rec.get(i)).and_then(method_of_raw);
            if !crate::runfolder::is_not_sent(error) && is_http_row(method, class) {
                acc.record_row(class, elapsed, latency_us);
            }
        }
        return Ok(());
    }
    let fail = (!success).then(|| ErrorKind::classify(status, error));
    let slot = c.name_slot(name);
    let method = cols.raw.and_then(|i| rec.get(i)).and_then(method_of_raw);
    let http = is_http_row(method, c.names[slot].class);
    if let (true, Some(acc)) = (http, c.server.as_mut()) {
        acc.record_row(c.names[slot].class, elapsed, latency_us);
    }
    c.record_row(elapsed, slot, latency_us, fail, error, http);
    Ok(())
}

fn progress_bar(len: u64, enabled: bool, what: &str) -> Option<indicatif::ProgressBar> {
    if !enabled || len < PROGRESS_MIN_BYTES || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    Some(bar)
}

/// Stream `requests.csv` at `path` into `c`. A missing file leaves
/// `c.requests_input.used` false; an unreadable header is an input note, not
/// an error, so the report can still be drawn from the other files.
pub fn read_requests(c: &mut Collected, path: &Path, progress: bool) -> Result<()> {
    let Some(mut file) = c.requests_input.open(path)? else {
        return Ok(());
    };
    let ended = ends_with_newline(&mut file).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let read = Arc::new(AtomicU64::new(0));
    let bar = progress_bar(len, progress, "requests.csv");
    let counting = Counting {
        inner: BufReader::with_capacity(1 << 20, file),
        read: read.clone(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(counting);
    let mut rec = ByteRecord::new();
    let status = &mut c.requests_input;
    status.used = true;
    match reader.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => {
            status.note = Some("requests.csv is empty".into());
            return Ok(());
        }
        Err(e) => {
            status.note = Some(format!("requests.csv header unreadable: {e}"));
            status.used = false;
            return Ok(());
        }
    }
    let cols = match RequestColumns::find(&rec) {
        Ok(cols) => cols,
        Err(why) => {
            status.note = Some(format!("requests.csv is not a Goose request log: {why}"));
            status.used = false;
            return Ok(());
        }
    };
    let width = rec.len();
    let mut last_bad = false;
    let mut rows: u64 = 0;
    loop {
        let outcome = match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => fold_request(c, &cols, &rec, width),
            Err(e) if e.is_io_error() => {
                return Err(Error::Report(format!("{}: {e}", path.display())));
            }
            Err(e) => Err(Problem::Unreadable(e.to_string())),
        };
        let line = rec.position().map_or(0, |p| p.line());
        last_bad = outcome.is_err();
        c.requests_input.count(outcome, line);
        rows += 1;
        if rows.is_multiple_of(65_536) {
            if let Some(bar) = &bar {
                bar.set_position(read.load(Ordering::Relaxed));
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if last_bad && !ended {
        c.requests_input.uncount_last();
    }
    c.requests_input.last_problem = None;
    Ok(())
}

impl InputStatus {
    /// Count one row's outcome; `line` is where it starts (1-based).
    fn count(&mut self, outcome: std::result::Result<(), Problem>, line: u64) {
        match outcome {
            Ok(()) => self.rows += 1,
            Err(Problem::Unreadable(why)) => {
                self.corrupt_rows += 1;
                self.last_problem = Some(LastProblem::Corrupt);
                self.first_corrupt
                    .get_or_insert_with(|| format!("line {line}: {why}"));
            }
            Err(Problem::OutOfRange(why)) => {
                self.out_of_range_rows += 1;
                self.last_problem = Some(LastProblem::OutOfRange);
                self.first_out_of_range
                    .get_or_insert_with(|| format!("line {line}: {why}"));
            }
        }
    }

    /// The last row was cut short (the file does not end with a line end): it is
    /// not a problem row but an interrupted write.
    fn uncount_last(&mut self) {
        match self.last_problem {
            Some(LastProblem::Corrupt) => self.corrupt_rows -= 1,
            Some(LastProblem::OutOfRange) => self.out_of_range_rows -= 1,
            None => return,
        }
        if self.corrupt_rows == 0 {
            self.first_corrupt = None;
        }
        if self.out_of_range_rows == 0 {
            self.first_out_of_range = None;
        }
        self.truncated_last_line = true;
    }
}

/// Stream `ingest.csv` (`elapsed_ms,points,bytes,duration_us,status,success`) into `c`.
pub fn read_ingest(c: &mut Collected, path: &Path) -> Result<()> {
    let Some(mut file) = c.ingest_input.open(path)? else {
        return Ok(());
    };
    let ended = ends_with_newline(&mut file).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(BufReader::new(file));
    let mut rec = ByteRecord::new();
    c.ingest_input.used = true;
    match reader.read_byte_record(&mut rec) {
        Ok(true)
            if rec
                .iter()
                .map(<[u8]>::trim_ascii)
                .eq(crate::runfolder::INGEST_HEADER
                    .split(',')
                    .map(str::as_bytes)) => {}
        Ok(false) => {
            c.ingest_input.note = Some("ingest.csv is empty".into());
            return Ok(());
        }
        _ => {
            c.ingest_input.used = false;
            c.ingest_input.note = Some(format!(
                "ingest.csv does not start with the header `{}`",
                crate::runfolder::INGEST_HEADER
            ));
            return Ok(());
        }
    }
    let mut last_bad = false;
    loop {
        let outcome = match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => fold_batch(c, &rec),
            Err(e) if e.is_io_error() => {
                return Err(Error::Report(format!("{}: {e}", path.display())));
            }
            Err(e) => Err(Problem::Unreadable(e.to_string())),
        };
        let line = rec.position().map_or(0, |p| p.line());
        last_bad = outcome.is_err();
        c.ingest_input.count(outcome, line);
    }
    if last_bad && !ended {
        c.ingest_input.uncount_last();
    }
    c.ingest_input.last_problem = None;
    Ok(())
}

/// One `ingest.csv` row (`elapsed_ms,points,bytes,duration_us,status,success`), folded in.
fn fold_batch(c: &mut Collected, rec: &ByteRecord) -> std::result::Result<(), Problem> {
    if rec.len() != 6 {
        return Err(Problem::Unreadable(format!(
            "{} fields where the header has 6",
            rec.len()
        )));
    }
    let count = |i: usize, what: &str| -> std::result::Result<u64, Problem> {
        let v = int_field(rec, i, what)?;
        u64::try_from(v).map_err(|_| Problem::OutOfRange(format!("{what} {v} is negative")))
    };
    let (elapsed, points, bytes, duration) = (
        shifted(c, int_field(rec, 0, "elapsed_ms")?),
        count(1, "points")?,
        count(2, "bytes")?,
        count(3, "duration_us")?,
    );
    let success = success_field(rec, 5)?;
    let limit = c.elapsed_limit_ms;
    let elapsed = in_range(elapsed, limit, "elapsed_ms")?;
    if duration > limit.saturating_mul(1000) {
        return Err(Problem::OutOfRange(format!(
            "duration_us {duration} is longer than the run ({limit} ms)"
        )));
    }
    c.record_batch(elapsed, points, bytes, duration, success);
    if let (true, Some(acc)) = (success, c.server.as_mut()) {
        acc.record_batch(elapsed, duration, points);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::RequestClass;

    const HEADER: &str = "elapsed,scenario_index,scenario_name,transaction_index,transaction_name,raw,name,final_url,redirected,response_time,status_code,success,update,user,error,coordinated_omission_elapsed,user_cadence,response_time_us\n";

    fn row(
        elapsed: u64,
        name: &str,
        ms: u64,
        status: u16,
        ok: bool,
        error: &str,
        us: u64,
    ) -> String {
        format!(
            "{elapsed},0,viewer,0,,\"GooseRawRequest {{ url: \"\"x\"\", body: \"\"a,b\"\" }}\",\"{}\",,false,{ms},{status},{ok},false,0,\"{}\",0,0,{us}\n",
            name.replace('"', "\"\""),
            error.replace('"', "\"\"")
        )
    }

    fn load(text: &str) -> Collected {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.csv");
        std::fs::write(&path, text).unwrap();
        let mut c = Collected::new(&[], 10_000);
        read_requests(&mut c, &path, false).unwrap();
        c
    }

    #[test]
    fn rows_with_quotes_and_commas_are_read() {
        let mut text = HEADER.to_string();
        text += &row(
            10,
            "panel Hours, \"per\" project [7d]",
            12,
            200,
            true,
            "",
            12_345,
        );
        text += &row(
            20,
            "panel Hours, \"per\" project [7d]",
            3,
            0,
            false,
            "client error (Connect)",
            0,
        );
        let c = load(&text);
        assert_eq!(c.requests_input.rows, 2);
        assert_eq!(c.requests_input.corrupt_rows, 0);
        assert_eq!(c.names.len(), 1);
        assert_eq!(c.names[0].name, "panel Hours, \"per\" project [7d]");
        let panel = c.total(RequestClass::PanelQuery);
        assert_eq!((panel.count, panel.failed), (2, 1));
        // µs column wins; 0 falls back to whole ms.
        assert_eq!(panel.hist.max(), panel.hist.highest_equivalent(12_345));
        assert_eq!(
            panel.failed_hist.min(),
            3000,
            "the failure's latency is kept apart"
        );
        assert_eq!(c.errors[ErrorKind::Connection.index()], 1);
        assert_eq!(c.messages.get("client error (Connect)"), Some(&1));
    }

    #[test]
    fn corrupt_rows_are_counted_and_a_cut_last_line_is_told_apart() {
        let mut text = HEADER.to_string();
        text += &row(10, "load D [1h]", 12, 200, true, "", 0);
        text += "not,a,row\n";
        text += &row(30, "load D [1h]", 12, 200, true, "", 0).replace(",12,", ",twelve,");
        text += &row(40, "load D [1h]", 12, 200, true, "", 0);
        let cut = row(50, "load D [1h]", 12, 200, true, "", 0);
        text += &cut[..cut.len() / 2];
        let c = load(&text);
        assert_eq!(c.requests_input.rows, 2);
        assert_eq!(c.requests_input.corrupt_rows, 2);
        assert!(c.requests_input.truncated_last_line);
    }

    #[test]
    fn a_bare_cr_in_an_unquoted_error_does_not_split_the_row() {
        // As Goose writes it: the error field is quoted for commas and quotes,
        // not for a bare CR.
        let mut text = HEADER.to_string();
        for i in 0..3 {
            text += &format!(
                "{},0,viewer,0,,raw,panel P [1h],,false,7,500,false,false,0,influxdb: a\rb,0,0,7000\n",
                10 * i
            );
        }
        text += &row(40, "panel P [1h]", 12, 200, true, "", 0);
        let c = load(&text);
        assert_eq!(c.requests_input.corrupt_rows, 0, "{:?}", c.requests_input);
        assert_eq!(c.requests_input.rows, 4);
        let panel = c.total(RequestClass::PanelQuery);
        assert_eq!(
            (panel.count, panel.failed),
            (4, 3),
            "the failures are counted"
        );
        assert_eq!(c.messages.get("influxdb: a b"), Some(&3));
    }

    #[test]
    fn a_crlf_log_is_read() {
        let text = format!(
            "{}{}",
            HEADER,
            row(10, "panel P [1h]", 12, 200, true, "", 12_000)
        )
        .replace('\n', "\r\n");
        let c = load(&text);
        assert_eq!(
            (c.requests_input.rows, c.requests_input.corrupt_rows),
            (1, 0)
        );
    }

    #[test]
    fn unreadable_rows_name_their_first_line_and_why() {
        let mut text = HEADER.to_string();
        text += &row(10, "load D [1h]", 12, 200, true, "", 0);
        text += "not,a,row\n";
        text += &row(30, "load D [1h]", 12, 200, true, "", 0).replace(",12,", ",twelve,");
        let c = load(&text);
        assert_eq!(c.requests_input.corrupt_rows, 2);
        assert_eq!(
            c.requests_input.first_corrupt.as_deref(),
            Some("line 3: 3 fields where the header has 18")
        );
        assert_eq!(
            c.requests_input.problems(),
            ["2 rows could not be read (first at line 3: 3 fields where the header has 18)"]
        );
    }

    #[test]
    fn out_of_range_rows_are_set_aside_and_named() {
        let mut text = HEADER.to_string();
        text += &row(10, "panel P [1h]", 12, 200, true, "", 0);
        // Past the run's end, negative, absurdly slow, and an elapsed wider than u64.
        text += &row(
            9_999_999_999_999_999_999,
            "panel P [1h]",
            12,
            200,
            true,
            "",
            0,
        );
        text +=
            &row(20, "panel P [1h]", 12, 200, true, "", 0).replace("20,0,viewer", "-5,0,viewer");
        text += &row(30, "panel P [1h]", 12, 200, true, "", 99_999_999_999_999);
        text += &row(40, "panel P [1h]", 12, 200, true, "", 0)
            .replace("40,0,viewer", "99999999999999999999999,0,viewer");
        let c = load(&text);
        let input = &c.requests_input;
        assert_eq!(
            (input.rows, input.corrupt_rows, input.out_of_range_rows),
            (1, 0, 4)
        );
        assert_eq!(
            input.first_out_of_range.as_deref(),
            Some("line 3: elapsed 9999999999999999999 ms is outside the run (0 to 610000 ms)")
        );
        assert_eq!(
            c.last_elapsed_ms, 10,
            "nothing out of range reached the charts"
        );
        assert_eq!(c.buckets.width_ms, 1000);
        assert_eq!(c.total(RequestClass::PanelQuery).count, 1);
    }

    #[test]
    fn missing_and_foreign_files_are_notes_not_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Collected::new(&[], 1000);
        read_requests(&mut c, &dir.path().join("requests.csv"), false).unwrap();
        assert!(!c.requests_input.used);
        assert!(c
            .requests_input
            .note
            .as_deref()
            .unwrap()
            .contains("missing"));
        let c = load("a,b,c\n1,2,3\n");
        assert!(!c.requests_input.used);
        assert!(c
            .requests_input
            .note
            .as_deref()
            .unwrap()
            .contains("not a Goose request log"));
        let c = load("");
        assert_eq!(c.requests_input.rows, 0);
    }

    #[test]
    fn the_goose_fixture_is_read_whole() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/goose-requests.csv");
        let mut c = Collected::new(&[], 3000);
        read_requests(&mut c, &path, false).unwrap();
        let lines = std::fs::read_to_string(&path).unwrap().lines().count() as u64;
        assert_eq!(c.requests_input.rows, lines - 1);
        assert_eq!(c.requests_input.corrupt_rows, 0);
        assert!(c.total(RequestClass::IngestBatch).count > 0);
        assert!(c.errors[ErrorKind::Connection.index()] > 0);
        assert!(c.errors[ErrorKind::Client.index()] > 0);
    }

    #[test]
    fn ingest_rows_are_folded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ingest.csv");
        std::fs::write(
            &path,
            format!(
                "{}\n100,5000,1000,50000,204,true\n200,5000,1000,60000,500,false\nbad\n300,2500,500,25000,204,true\n400,50",
                crate::runfolder::INGEST_HEADER
            ),
        )
        .unwrap();
        let mut c = Collected::new(&[], 1000);
        read_ingest(&mut c, &path).unwrap();
        assert_eq!(c.ingest.batches, 3);
        assert_eq!(c.ingest.failed, 1);
        assert_eq!(c.ingest.points, 7500);
        assert_eq!(c.ingest.ms_per_point(), Some(75.0 / 7500.0));
        assert_eq!(c.ingest_input.corrupt_rows, 1);
        assert!(c.ingest_input.truncated_last_line);
    }

    #[test]
    fn the_method_label_tells_http_calls_from_operations() {
        let raw = |method: &str, custom: &str| {
            format!("GooseRawRequest {{ method: {method}, url: \"load x custom_method: \", headers: [], body: \"\", custom_method: \"{custom}\" }}")
        };
        assert_eq!(
            method_of_raw(raw("Custom", "LOAD").as_bytes()),
            Some(&b"LOAD"[..])
        );
        assert_eq!(method_of_raw(raw("Get", "").as_bytes()), Some(&b"Get"[..]));
        assert_eq!(method_of_raw(b"GooseRawRequest { url: \"x\" }"), None);
        let mut text = HEADER.to_string();
        text += &row(10, "sync fetch", 12, 200, true, "", 0)
            .replace("{ url: \"\"x\"\"", "{ custom_method: \"\"GEN\"\"");
        text += &row(20, "sync fetch", 12, 503, false, "shed", 0)
            .replace("{ url: \"\"x\"\"", "{ custom_method: \"\"GET\"\"");
        text += &row(30, "panel P [1h]", 12, 200, true, "", 0);
        let c = load(&text);
        assert_eq!((c.http.count, c.http.failed), (2, 1));
        assert_eq!(
            c.operations[crate::report::collect::class_index(RequestClass::SyncFetch)].count,
            1,
            "the generated fetch"
        );
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::report::synthetic::REQUESTS_HEADER;

    fn load(body: &[u8]) -> Collected {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.csv");
        let mut text = format!("{REQUESTS_HEADER}\n").into_bytes();
        text.extend_from_slice(body);
        std::fs::write(&path, text).unwrap();
        let mut c = Collected::new(&[], 60_000);
        read_requests(&mut c, &path, false).expect("a readable file never errors");
        c
    }

    /// Every problem row is counted and the first of each kind named by line.
    fn assert_named(input: &InputStatus) {
        for (n, first) in [
            (input.corrupt_rows, &input.first_corrupt),
            (input.out_of_range_rows, &input.first_out_of_range),
        ] {
            if n > 0 {
                let first = first.as_deref().expect("the first problem row is named");
                assert!(first.starts_with("line "), "{first}");
            } else {
                assert_eq!(first, &None);
            }
        }
    }

    /// A field as a log might hold it: a number (maybe huge or negative), a
    /// boolean, or any text with quotes, commas, CR and LF.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i128>().prop_map(|n| n.to_string()),
            (0u64..100_000).prop_map(|n| n.to_string()),
            Just("true".to_string()),
            Just("false".to_string()),
            "[ -~\r\n\"]{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(64))]

        #[test]
        fn prop_arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let c = load(&body);
            assert_named(&c.requests_input);
            prop_assert!(c.last_elapsed_ms <= c.elapsed_limit_ms);
        }

        #[test]
        fn prop_rows_of_arbitrary_fields_are_read_or_named(
            rows in proptest::collection::vec(proptest::collection::vec(field(), 0..20), 0..12)
        ) {
            let body: String = rows.iter().map(|r| r.join(",") + "\n").collect();
            let c = load(body.as_bytes());
            let input = &c.requests_input;
            assert_named(input);
            prop_assert!(c.last_elapsed_ms <= c.elapsed_limit_ms);
            // Every row folded in is within the run.
            prop_assert!(c.buckets.width_ms <= 1000 * 1024, "{}", c.buckets.width_ms);
        }

        #[test]
        fn prop_well_formed_rows_with_any_values_are_read_or_set_aside(
            values in proptest::collection::vec((any::<i64>(), any::<i64>(), 0u32..2000, any::<bool>()), 1..20)
        ) {
            let body: String = values
                .iter()
                .map(|(elapsed, us, status, ok)| {
                    format!("{elapsed},0,viewer,0,,raw,panel P [1h],,false,0,{status},{ok},false,0,,0,0,{us}\n")
                })
                .collect();
            let c = load(body.as_bytes());
            let input = &c.requests_input;
            assert_named(input);
            prop_assert_eq!(input.corrupt_rows, 0);
            prop_assert_eq!(input.rows + input.out_of_range_rows, values.len() as u64);
        }
    }
}
