//! Streaming the run folder's CSV files into [`Collected`].
//!
//! `requests.csv` can hold tens of millions of rows, so it is read once, row
//! by row, into one reused [`csv::ByteRecord`]; fields are parsed from bytes
//! and only names and error messages never seen before are turned into
//! strings. Rows that cannot be parsed are counted and skipped; a last line
//! cut short (a run killed while writing) is told apart from corruption.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use csv::ByteRecord;

use crate::error::{Error, Result};

use super::collect::{is_http_row, Collected, ErrorKind};

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
        let pos = |name: &str| header.iter().position(|h| h == name.as_bytes());
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

fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let bytes = bytes.trim_ascii();
    if bytes.is_empty() || bytes.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
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

fn parse_bool(bytes: &[u8]) -> Option<bool> {
    match bytes.trim_ascii() {
        b"true" | b"1" => Some(true),
        b"false" | b"0" => Some(false),
        _ => None,
    }
}

/// One request row, parsed; `None` when a field the report needs is unusable.
fn fold_request(
    c: &mut Collected,
    cols: &RequestColumns,
    rec: &ByteRecord,
    width: usize,
) -> Option<()> {
    if rec.len() != width {
        return None;
    }
    let elapsed = parse_u64(rec.get(cols.elapsed)?)?;
    let name = rec.get(cols.name)?;
    let ms = parse_u64(rec.get(cols.response_time)?)?;
    let us = match cols.response_time_us {
        Some(i) => parse_u64(rec.get(i)?)?,
        None => 0,
    };
    let latency_us = if us > 0 { us } else { ms * 1000 };
    let status = u16::try_from(parse_u64(rec.get(cols.status_code)?)?).ok()?;
    let success = parse_bool(rec.get(cols.success)?)?;
    let error = cols.error.and_then(|i| rec.get(i)).unwrap_or(b"");
    let fail = (!success).then(|| ErrorKind::classify(status, error));
    let slot = c.name_slot(name);
    let method = cols.raw.and_then(|i| rec.get(i)).and_then(method_of_raw);
    let http = is_http_row(method, c.names[slot].class);
    c.record_row(elapsed, slot, latency_us, fail, error, http);
    Some(())
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
        let ok = match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => fold_request(c, &cols, &rec, width).is_some(),
            Err(e) if e.is_io_error() => {
                return Err(Error::Report(format!("{}: {e}", path.display())));
            }
            Err(_) => false,
        };
        if ok {
            c.requests_input.rows += 1;
        } else {
            c.requests_input.corrupt_rows += 1;
        }
        last_bad = !ok;
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
        c.requests_input.corrupt_rows -= 1;
        c.requests_input.truncated_last_line = true;
    }
    Ok(())
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
        .from_reader(BufReader::new(file));
    let mut rec = ByteRecord::new();
    c.ingest_input.used = true;
    match reader.read_byte_record(&mut rec) {
        Ok(true)
            if rec.iter().eq(crate::runfolder::INGEST_HEADER
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
        let row = match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) if rec.len() == 6 => (|| {
                Some((
                    parse_u64(rec.get(0)?)?,
                    parse_u64(rec.get(1)?)?,
                    parse_u64(rec.get(2)?)?,
                    parse_u64(rec.get(3)?)?,
                    parse_bool(rec.get(5)?)?,
                ))
            })(),
            Err(e) if e.is_io_error() => {
                return Err(Error::Report(format!("{}: {e}", path.display())));
            }
            _ => None,
        };
        last_bad = row.is_none();
        match row {
            Some((elapsed, points, bytes, duration, success)) => {
                c.record_batch(elapsed, points, bytes, duration, success);
                c.ingest_input.rows += 1;
            }
            None => c.ingest_input.corrupt_rows += 1,
        }
    }
    if last_bad && !ended {
        c.ingest_input.corrupt_rows -= 1;
        c.ingest_input.truncated_last_line = true;
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
