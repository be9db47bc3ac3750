//! Accumulators the report's input is folded into, row by row.
//!
//! The post-processor must not grow with the number of requests (DESIGN.md,
//! "Reports"), so every row is folded at once into HDR histograms and counters
//! keyed by what the report shows: time bucket × request class, window ×
//! class, and request name. Memory grows only with buckets (at most
//! [`MAX_BUCKETS`]), windows, names (at most [`MAX_NAMES`]) and distinct error
//! messages (at most [`MAX_MESSAGES`]). Nothing here reads a file: `load.rs`
//! and `goose_json.rs` feed these types, `analyse.rs` reads them.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::runfolder::{RequestClass, StageWindow, WindowKind};

pub use super::classes::{is_http_class, is_viewer_class};
use super::regress::WindowBlocks;
pub use super::window_index::WindowIndex;

/// The most time buckets kept; the bucket width doubles when a run outgrows them.
pub const MAX_BUCKETS: usize = 600;
/// The most distinct request names kept; further names share one row.
pub const MAX_NAMES: usize = 2000;
/// The name that requests beyond [`MAX_NAMES`] are counted under.
pub const OVERFLOW_NAME: &str = "(other names)";
/// The most distinct error messages kept; further messages are only counted.
pub const MAX_MESSAGES: usize = 500;
/// Error messages are cut to this many characters before they are counted.
pub const MESSAGE_CHARS: usize = 200;

/// Significant digits of whole-window and per-name histograms (0.1 % precision).
pub const FINE_SIGFIG: u8 = 3;
/// Significant digits of per-time-bucket histograms (1 % precision, for charts).
pub const COARSE_SIGFIG: u8 = 2;

/// Why a request failed, as the errors chart groups failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No answer in time (transport timeout, or 504).
    Timeout,
    /// The connection could not be made (DNS, refused) or was reset or cut,
    /// before or after the status line.
    Connection,
    /// The target shed load: 429 or 503.
    Shed,
    /// Any other 5xx.
    Server,
    /// A query error in the body: a failed request answered 2xx or 400
    /// (InfluxDB answers bad queries with 400 and an `error` field).
    Query,
    /// Any other 4xx.
    Client,
    /// Anything else, including failures whose status is not known.
    Other,
}

impl ErrorKind {
    /// Every kind, in the order charts and tables list them.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Shed,
        ErrorKind::Server,
        ErrorKind::Query,
        ErrorKind::Client,
        ErrorKind::Other,
    ];

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection failed (DNS, refused, reset)",
            ErrorKind::Shed => "shed load (429/503)",
            ErrorKind::Server => "other 5xx",
            ErrorKind::Query => "query error in body (2xx/400)",
            ErrorKind::Client => "other 4xx",
            ErrorKind::Other => "other",
        }
    }

    /// The kind of a failed request with HTTP `status` (0 for none) and `error` text.
    pub fn classify(status: u16, error: &[u8]) -> ErrorKind {
        match status {
            0 => {
                if contains_ignore_case(error, b"timed out")
                    || contains_ignore_case(error, b"timeout")
                {
                    ErrorKind::Timeout
                } else if contains_ignore_case(error, b"connect")
                    || contains_ignore_case(error, b"refused")
                    || contains_ignore_case(error, b"reset")
                    || contains_ignore_case(error, b"dns")
                {
                    ErrorKind::Connection
                } else {
                    ErrorKind::Other
                }
            }
            429 | 503 => ErrorKind::Shed,
            504 => ErrorKind::Timeout,
            500..=599 => ErrorKind::Server,
            // The status came, then the body's read failed: the transport's
            // failure, not a query error in the body.
            200..=299 | 400 => transport_failure(error).unwrap_or(ErrorKind::Query),
            401..=499 => ErrorKind::Client,
            _ => ErrorKind::Other,
        }
    }

    /// Position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `text` with the positions and sizes that differ from one answer to the
/// next replaced by `N` ("invalid JSON at byte 1841", "(20311 bytes)", "at
/// line 1, char 23"), so that one cause is one row of the error table.
pub fn without_positions(text: &str) -> std::borrow::Cow<'_, str> {
    static AT: std::sync::OnceLock<[regex::Regex; 2]> = std::sync::OnceLock::new();
    let [at, size] = AT.get_or_init(|| {
        [
            regex::Regex::new(r"(?i)\b(bytes?|offset|position|line|char|column|col)(\s+)\d+")
                .expect("a valid pattern"),
            regex::Regex::new(r"\b\d+(\s*)(bytes|B)\b").expect("a valid pattern"),
        ]
    });
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return text.into();
    }
    let text = at.replace_all(text, "${1}${2}N");
    match size.replace_all(&text, "N${1}${2}") {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(o) => o.into(),
    }
}

/// The kind of a failure whose text (after a dashboard load's `<panel>: `) is
/// one of the transport's own descriptions (`users::request::describe`).
fn transport_failure(error: &[u8]) -> Option<ErrorKind> {
    let text = String::from_utf8_lossy(error);
    match text.rsplit(": ").next().unwrap_or("").trim() {
        "timeout" => Some(ErrorKind::Timeout),
        "body read error" | "connection reset" | "connection closed" => Some(ErrorKind::Connection),
        _ => None,
    }
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Position of a class in [`RequestClass::ALL`].
pub fn class_index(class: RequestClass) -> usize {
    RequestClass::ALL
        .iter()
        .position(|c| *c == class)
        .unwrap_or(RequestClass::ALL.len() - 1)
}

/// Whether a row of `class` recorded under the method label `method` (when
/// the input says) is an HTTP call. dashload records operations under labels
/// of their own (`LOAD`, `LP`, `GEN`, `POLL`, `RUN`); the class decides for
/// logs without labels and for operations recorded under an HTTP verb.
pub fn is_http_row(method: Option<&[u8]>, class: RequestClass) -> bool {
    const VERBS: [&[u8]; 7] = [
        b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"PATCH", b"OPTIONS",
    ];
    let verb = method.is_none_or(|m| VERBS.iter().any(|v| m.eq_ignore_ascii_case(v)));
    verb && is_http_class(class)
}

/// A count and how many of it failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// All.
    pub count: u64,
    /// Failed.
    pub failed: u64,
}

impl Tally {
    /// Count one.
    pub fn record(&mut self, success: bool) {
        self.count += 1;
        if !success {
            self.failed += 1;
        }
    }

    /// Fold in another.
    pub fn merge(&mut self, other: &Tally) {
        self.count += other.count;
        self.failed += other.failed;
    }
}

fn new_histogram(sigfig: u8) -> Histogram<u64> {
    // 2 and 3 are valid significant-digit counts, so creation cannot fail;
    // fall back to the default precision rather than panic if it ever did.
    Histogram::new(sigfig).unwrap_or_else(|_| Histogram::new(3).expect("3 digits is valid"))
}

/// Exact running sums of latencies, for the mean and standard deviation
/// beside the percentiles (µs and µs² in u128: exact, and mergeable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Values folded in.
    pub n: u64,
    /// Their sum, µs.
    pub sum: u128,
    /// The sum of their squares, µs².
    pub sum_sq: u128,
}

impl Moments {
    /// Fold in one value.
    pub fn record(&mut self, us: u64) {
        self.n += 1;
        self.sum += u128::from(us);
        self.sum_sq += u128::from(us) * u128::from(us);
    }

    /// Fold in another.
    pub fn merge(&mut self, other: &Moments) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    /// Mean, µs; `None` when empty.
    pub fn mean_us(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum as f64 / self.n as f64)
    }

    /// Population standard deviation, µs; `None` when empty. Computed as
    /// √(n·Σx² − (Σx)²) ÷ n in integers, so there is no cancellation.
    pub fn stddev_us(&self) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let n = u128::from(self.n);
        let spread = n
            .checked_mul(self.sum_sq)
            .and_then(|a| self.sum.checked_mul(self.sum).map(|b| a.saturating_sub(b)));
        Some(match spread {
            Some(s) => (s as f64).sqrt() / self.n as f64,
            // Beyond u128 (not reachable by real runs): the floating-point formula.
            None => {
                let mean = self.sum as f64 / self.n as f64;
                (self.sum_sq as f64 / self.n as f64 - mean * mean)
                    .max(0.0)
                    .sqrt()
            }
        })
    }
}

/// Requests of one class (or name) in one place: counts and latencies in µs,
/// kept apart for successful and failed requests (Gatling's OK/KO): a fast 503
/// must not make the percentiles that SLOs judge look better.
#[derive(Debug, Clone)]
pub struct ClassAcc {
    /// Requests seen.
    pub count: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Latencies of successful requests, µs. May stay empty while `count` is
    /// not, when the input held counts only (Goose's per-second graph data);
    /// holds every request when only Goose's aggregates were there (they do
    /// not tell successes' latencies apart).
    pub hist: Histogram<u64>,
    /// Latencies of failed requests, µs.
    pub failed_hist: Histogram<u64>,
    /// Sums over `hist`'s values.
    pub ok_moments: Moments,
    /// Sums over `failed_hist`'s values.
    pub failed_moments: Moments,
}

fn record_into(hist: &mut Histogram<u64>, latency_us: u64) {
    // Auto-resizing histograms grow to any value; `saturating_record`
    // would clamp to the current (small) top instead of growing.
    if hist.record(latency_us).is_err() {
        hist.saturating_record(latency_us);
    }
}

impl ClassAcc {
    /// An empty accumulator with histograms of `sigfig` significant digits.
    pub fn new(sigfig: u8) -> ClassAcc {
        ClassAcc {
            count: 0,
            failed: 0,
            hist: new_histogram(sigfig),
            failed_hist: new_histogram(sigfig),
            ok_moments: Moments::default(),
            failed_moments: Moments::default(),
        }
    }

    /// Fold in one request.
    pub fn record(&mut self, latency_us: u64, success: bool) {
        self.count += 1;
        if success {
            record_into(&mut self.hist, latency_us);
            self.ok_moments.record(latency_us);
        } else {
            self.failed += 1;
            record_into(&mut self.failed_hist, latency_us);
            self.failed_moments.record(latency_us);
        }
    }

    /// Fold in another accumulator.
    pub fn merge(&mut self, other: &ClassAcc) {
        self.count += other.count;
        self.failed += other.failed;
        // Auto-resizing histograms accept any source; an error would only
        // mean a counter overflow, which u64 counts of real runs cannot reach.
        let _ = self.hist.add(&other.hist);
        let _ = self.failed_hist.add(&other.failed_hist);
        self.ok_moments.merge(&other.ok_moments);
        self.failed_moments.merge(&other.failed_moments);
    }
}

/// One time bucket of the run.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Per class (index in [`RequestClass::ALL`]), created on first use.
    pub classes: Vec<Option<Box<ClassAcc>>>,
    /// Failures of HTTP calls by kind (index in [`ErrorKind::ALL`]).
    pub errors: [u64; 7],
    /// HTTP calls (rows that are operations left out).
    pub http: Tally,
    /// Sync-job batches from `ingest.csv` that started in this bucket.
    pub ingest: IngestAcc,
}

impl Bucket {
    /// The accumulator of `class`, created if needed.
    pub fn class_entry(&mut self, class: RequestClass) -> &mut ClassAcc {
        self.class_mut(class_index(class))
    }

    fn class_mut(&mut self, index: usize) -> &mut ClassAcc {
        if self.classes.len() < RequestClass::ALL.len() {
            self.classes.resize_with(RequestClass::ALL.len(), || None);
        }
        self.classes[index].get_or_insert_with(|| Box::new(ClassAcc::new(COARSE_SIGFIG)))
    }

    /// The accumulator of a class, if any request of it fell in this bucket.
    pub fn class(&self, class: RequestClass) -> Option<&ClassAcc> {
        self.classes
            .get(class_index(class))
            .and_then(|c| c.as_deref())
    }

    fn merge(&mut self, other: Bucket) {
        for (i, acc) in other.classes.into_iter().enumerate() {
            if let Some(acc) = acc {
                self.class_mut(i).merge(&acc);
            }
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.http.merge(&other.http);
        self.ingest.merge(&other.ingest);
    }
}

/// The run cut into equal time buckets; the width doubles (merging
/// neighbours exactly) whenever a row falls past [`MAX_BUCKETS`].
#[derive(Debug, Clone)]
pub struct TimeBuckets {
    /// Bucket width, ms.
    pub width_ms: u64,
    /// Buckets from time 0.
    pub buckets: Vec<Bucket>,
}

impl TimeBuckets {
    /// Buckets for a run expected to last `run_ms`: the smallest "round"
    /// width (1 s, 2 s, 5 s, 10 s, …) giving at most [`MAX_BUCKETS`] buckets.
    pub fn for_run_length(run_ms: u64) -> TimeBuckets {
        const ROUND: [u64; 12] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
        let width_s = ROUND
            .into_iter()
            .find(|w| run_ms.div_ceil(w * 1000) <= MAX_BUCKETS as u64)
            .unwrap_or_else(|| run_ms.div_ceil(MAX_BUCKETS as u64 * 1000).max(1));
        TimeBuckets {
            width_ms: width_s * 1000,
            buckets: Vec::new(),
        }
    }

    /// The bucket holding `elapsed_ms`, coarsening first if needed.
    pub fn at(&mut self, elapsed_ms: u64) -> &mut Bucket {
        let mut index = elapsed_ms / self.width_ms;
        while index >= MAX_BUCKETS as u64 {
            self.coarsen();
            index = elapsed_ms / self.width_ms;
        }
        let index = index as usize;
        if self.buckets.len() <= index {
            self.buckets.resize_with(index + 1, Bucket::default);
        }
        &mut self.buckets[index]
    }

    /// Record a request at `elapsed_ms` (an HTTP call when `http`).
    pub fn record(
        &mut self,
        elapsed_ms: u64,
        class: RequestClass,
        latency_us: u64,
        fail: Option<ErrorKind>,
        http: bool,
    ) {
        let bucket = self.at(elapsed_ms);
        bucket
            .class_mut(class_index(class))
            .record(latency_us, fail.is_none());
        if http {
            bucket.http.record(fail.is_none());
            if let Some(kind) = fail {
                bucket.errors[kind.index()] += 1;
            }
        }
    }

    fn coarsen(&mut self) {
        self.width_ms *= 2;
        let old = std::mem::take(&mut self.buckets);
        let mut iter = old.into_iter();
        while let Some(mut first) = iter.next() {
            if let Some(second) = iter.next() {
                first.merge(second);
            }
            self.buckets.push(first);
        }
    }
}

/// Sync-job batch writes from `ingest.csv`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestAcc {
    /// Batches written (successful or not).
    pub batches: u64,
    /// Batches that failed.
    pub failed: u64,
    /// Points in successful batches.
    pub points: u64,
    /// Bytes in successful batches.
    pub bytes: u64,
    /// Write time of successful batches, µs.
    pub duration_us: u64,
}

impl IngestAcc {
    /// Fold in one batch.
    pub fn record(&mut self, points: u64, bytes: u64, duration_us: u64, success: bool) {
        self.batches += 1;
        if success {
            self.points += points;
            self.bytes += bytes;
            self.duration_us += duration_us;
        } else {
            self.failed += 1;
        }
    }

    /// Fold in another accumulator.
    pub fn merge(&mut self, other: &IngestAcc) {
        self.batches += other.batches;
        self.failed += other.failed;
        self.points += other.points;
        self.bytes += other.bytes;
        self.duration_us += other.duration_us;
    }

    /// Write time per point, ms; `None` without points.
    pub fn ms_per_point(&self) -> Option<f64> {
        (self.points > 0).then(|| self.duration_us as f64 / 1000.0 / self.points as f64)
    }
}

/// Latencies as sorted `(value, count)` pairs, each value cut to the start of
/// its bucket in a [`FINE_SIGFIG`] HDR histogram: the same precision, but
/// memory grows with the distinct values seen, not with the value range. A
/// window's classes are kept this way, so that 20,000 windows of a long
/// ladder do not each hold ten 16–70 KB histograms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseHist {
    values: Vec<(u64, u64)>,
}

impl SparseHist {
    /// Fold in one value, µs.
    pub fn record(&mut self, us: u64) {
        // A FINE_SIGFIG (3 digits) histogram is exact below 2048 and has 1024
        // sub-buckets per power of two above.
        let shift = (63 - us.max(1).leading_zeros()).saturating_sub(10);
        let key = (us >> shift) << shift;
        match self.values.binary_search_by_key(&key, |(v, _)| *v) {
            Ok(i) => self.values[i].1 += 1,
            Err(i) => self.values.insert(i, (key, 1)),
        }
    }

    /// The values as an HDR histogram of `sigfig` digits.
    pub fn histogram(&self, sigfig: u8) -> Histogram<u64> {
        let mut h = new_histogram(sigfig);
        for &(v, n) in &self.values {
            if h.record_n(v, n).is_err() {
                h.saturating_record_n(v, n);
            }
        }
        h
    }
}

/// One class's requests in one window, kept small (see [`SparseHist`]).
#[derive(Debug, Clone, Default)]
pub struct WindowClass {
    /// Requests.
    pub count: u64,
    /// Failed requests.
    pub failed: u64,
    ok: SparseHist,
    failed_values: SparseHist,
    ok_moments: Moments,
    failed_moments: Moments,
}

impl WindowClass {
    fn record(&mut self, latency_us: u64, success: bool) {
        self.count += 1;
        if success {
            self.ok.record(latency_us);
            self.ok_moments.record(latency_us);
        } else {
            self.failed += 1;
            self.failed_values.record(latency_us);
            self.failed_moments.record(latency_us);
        }
    }

    /// As a [`ClassAcc`] (histograms built now).
    pub fn acc(&self) -> ClassAcc {
        ClassAcc {
            count: self.count,
            failed: self.failed,
            hist: self.ok.histogram(FINE_SIGFIG),
            failed_hist: self.failed_values.histogram(FINE_SIGFIG),
            ok_moments: self.ok_moments,
            failed_moments: self.failed_moments,
        }
    }
}

/// One stage or stress-step window and what fell in it.
#[derive(Debug, Clone)]
pub struct WindowAcc {
    /// The window, as `run.json` gives it.
    pub window: StageWindow,
    /// Per class (index in [`RequestClass::ALL`]), created on first use.
    classes: Vec<Option<Box<WindowClass>>>,
    /// HTTP calls started in it.
    pub http: Tally,
    /// Batches from `ingest.csv`.
    pub ingest: IngestAcc,
    /// Hold windows only: samples in time blocks, for the regression gate.
    pub blocks: Option<WindowBlocks>,
    /// Failures of HTTP calls started in it by kind (index in [`ErrorKind::ALL`]).
    pub errors: [u64; 7],
    /// Panel queries a refresh replaced in flight (`runfolder::REPLACED`).
    pub replaced: u64,
}

impl WindowAcc {
    /// An empty accumulator for `window`.
    pub fn new(window: StageWindow) -> WindowAcc {
        WindowAcc {
            blocks: (window.kind == WindowKind::Hold).then(|| WindowBlocks::new(&window)),
            window,
            classes: Vec::new(),
            http: Tally::default(),
            ingest: IngestAcc::default(),
            errors: [0; 7],
            replaced: 0,
        }
    }

    /// The requests of `class` in this window, as an accumulator (built now;
    /// an empty one is shared).
    pub fn class(&self, class: RequestClass) -> std::borrow::Cow<'static, ClassAcc> {
        static EMPTY: std::sync::OnceLock<ClassAcc> = std::sync::OnceLock::new();
        match self
            .classes
            .get(class_index(class))
            .and_then(|c| c.as_deref())
        {
            Some(c) => std::borrow::Cow::Owned(c.acc()),
            None => std::borrow::Cow::Borrowed(EMPTY.get_or_init(|| ClassAcc::new(FINE_SIGFIG))),
        }
    }

    /// Requests and failures of `class`, without building histograms.
    pub fn counts(&self, class: RequestClass) -> Tally {
        self.classes
            .get(class_index(class))
            .and_then(|c| c.as_deref())
            .map_or_else(Tally::default, |c| Tally {
                count: c.count,
                failed: c.failed,
            })
    }

    fn entry(&mut self, class_index: usize) -> &mut WindowClass {
        if self.classes.len() <= class_index {
            self.classes
                .resize_with(RequestClass::ALL.len().max(class_index + 1), || None);
        }
        self.classes[class_index].get_or_insert_with(Default::default)
    }

    /// Fold in one request of class index `class_index`.
    pub fn record(&mut self, class_index: usize, latency_us: u64, success: bool) {
        self.entry(class_index).record(latency_us, success);
    }

    /// Add counts without latencies (Goose's per-second graph data).
    pub fn add_counts(&mut self, class_index: usize, count: u64, failed: u64) {
        let c = self.entry(class_index);
        c.count += count;
        c.failed += failed;
    }
}

/// Requests recorded under one name.
#[derive(Debug, Clone)]
pub struct NameAcc {
    /// The Goose request name.
    pub name: String,
    /// Its class.
    pub class: RequestClass,
    /// Counts and latencies.
    pub acc: ClassAcc,
    /// Counts and latencies per kind of window the requests fell in.
    pub by_kind: Vec<(WindowKind, ClassAcc)>,
}

/// How much of each input could be used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputStatus {
    /// The file was present and read.
    pub used: bool,
    /// Rows folded in.
    pub rows: u64,
    /// Rows skipped because they could not be read.
    pub corrupt_rows: u64,
    /// Where the first unreadable row is and why: `line 17: 12 fields where the header has 18`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_corrupt: Option<String>,
    /// Rows set aside because a value cannot belong to the run (an elapsed
    /// time past its end, a negative or longer-than-the-run latency).
    #[serde(default)]
    pub out_of_range_rows: u64,
    /// Where the first out-of-range row is and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_out_of_range: Option<String>,
    /// The last line was cut short (the run was probably interrupted while writing).
    pub truncated_last_line: bool,
    /// What happened, in words, when something did not go as expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the last row was, while reading (a cut last line is not counted).
    #[serde(skip)]
    pub(crate) last_problem: Option<LastProblem>,
}

/// Which count the last problem row went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastProblem {
    Corrupt,
    OutOfRange,
}

/// Above this share of a file's rows unreadable or out of range, the rows read
/// cannot stand for the run (the ones lost may have been its failures): the run
/// is not judged. At or below it they are named, and the verdict stands.
pub const SET_ASIDE_SHARE: f64 = 0.001;

impl InputStatus {
    /// Rows unreadable or out of range.
    pub fn set_aside(&self) -> u64 {
        self.corrupt_rows + self.out_of_range_rows
    }

    /// The share of all rows set aside, when any was.
    pub fn set_aside_share(&self) -> Option<f64> {
        let all = self.rows + self.set_aside();
        (self.set_aside() > 0).then(|| self.set_aside() as f64 / all as f64)
    }

    /// What was set aside, in words: `3 rows could not be read (first at line
    /// 17: …); 1 row was out of range (first at line 40: …)`.
    pub fn problems(&self) -> Vec<String> {
        let rows = |n: u64| {
            if n == 1 {
                "1 row".to_string()
            } else {
                format!("{n} rows")
            }
        };
        let at = |first: &Option<String>| {
            first
                .as_deref()
                .map(|f| format!(" (first at {f})"))
                .unwrap_or_default()
        };
        let mut out = Vec::new();
        if self.corrupt_rows > 0 {
            out.push(format!(
                "{} could not be read{}",
                rows(self.corrupt_rows),
                at(&self.first_corrupt)
            ));
        }
        if self.out_of_range_rows > 0 {
            out.push(format!(
                "{} {} out of range and set aside{}",
                rows(self.out_of_range_rows),
                if self.out_of_range_rows == 1 {
                    "was"
                } else {
                    "were"
                },
                at(&self.first_out_of_range)
            ));
        }
        out
    }
}

impl InputStatus {
    /// Open an input file. A missing one, one that is not a regular file (a
    /// FIFO, a link to a device: never opened for reading) or one that cannot
    /// be opened is noted here and gives `None`: the report is still drawn
    /// from the other files.
    pub fn open(&mut self, path: &Path) -> crate::error::Result<Option<File>> {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match crate::runfolder::input::open_regular(path) {
            Ok(Some(f)) => Ok(Some(f)),
            Ok(None) => {
                self.note = Some(format!("{name} is missing"));
                Ok(None)
            }
            Err(e) => {
                self.note = Some(format!("{name}: {e}"));
                Ok(None)
            }
        }
    }
}

/// The latest start (ms) a row of a run expected to last `run_ms` can have: its
/// length plus a quarter, and at least ten minutes more (requests in flight at
/// the end, a run that overran its plan); a week when the length is unknown.
pub fn elapsed_limit_ms(run_ms: u64) -> u64 {
    const WEEK_MS: u64 = 7 * 24 * 3_600_000;
    if run_ms == 0 {
        return WEEK_MS;
    }
    run_ms.saturating_add((run_ms / 4).max(600_000))
}

/// Everything the input was folded into.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Over time.
    pub buckets: TimeBuckets,
    /// Per window of `run.json`, in its order.
    pub windows: Vec<WindowAcc>,
    /// Per class over the whole run.
    pub totals: Vec<ClassAcc>,
    /// Per request name, in first-seen order.
    pub names: Vec<NameAcc>,
    name_index: HashMap<Box<[u8]>, usize>,
    /// Finds the windows holding an instant.
    pub window_index: WindowIndex,
    /// HTTP calls over the whole run (the headline's "HTTP requests").
    pub http: Tally,
    /// Rows that are not HTTP calls (dashboard loads, transforms, …), per
    /// class (index in [`RequestClass::ALL`]).
    pub operations: Vec<Tally>,
    /// Failures of HTTP calls by kind over the whole run (index in [`ErrorKind::ALL`]).
    pub errors: [u64; 7],
    /// Distinct (truncated) error messages of failed HTTP calls and their counts.
    pub messages: HashMap<String, u64>,
    /// Failures whose message was not kept because [`MAX_MESSAGES`] were already.
    pub other_messages: u64,
    /// Batches from `ingest.csv` over the whole run.
    pub ingest: IngestAcc,
    /// Users per second from Goose's graph data, when available: `(second, users)`.
    pub goose_users: Vec<(u64, u64)>,
    /// The latest `elapsed` seen, ms.
    pub last_elapsed_ms: u64,
    /// `requests.csv`.
    pub requests_input: InputStatus,
    /// `ingest.csv`.
    pub ingest_input: InputStatus,
    /// `report.json`.
    pub goose_input: InputStatus,
    /// Rows starting after this (ms) cannot belong to the run: they are set
    /// aside (see [`elapsed_limit_ms`]).
    pub elapsed_limit_ms: u64,
    /// Per-second viewer requests of the hold windows, for their evenness.
    pub hold_seconds: super::evenness::HoldSeconds,
    /// Rows the run's end cut off (`runfolder::CANCELLED`): neither a
    /// failure of the target nor a latency sample, so counted apart.
    pub cancelled: u64,
    /// Panel queries a dashboard's next refresh replaced in flight
    /// (`runfolder::REPLACED`): sent, so the server counted them, but neither
    /// a latency sample nor a failure; counted per window too.
    pub replaced: u64,
    /// The count check's accumulator, when the run has `server.csv`.
    pub server: Option<super::server::CountAcc>,
    /// Added to the `elapsed` of the rows being read: a distributed run's worker
    /// logs are each on their own clock (`cluster::merge`).
    pub shift_ms: i64,
    /// What could not be read and was left out, in words, for the report's notes.
    pub notes: Vec<String>,
    /// The window a ladder stopped in, judged as the stop decision was: on the
    /// requests recorded in `[from, to)` ms (see [`Collected::judge_as_stopped`]).
    stopped: Option<Stopped>,
}

/// The windows a row recorded at `elapsed_ms` counts in: those holding it,
/// except that a stopped step counts the span its stop decision counted. Per
/// row, so nothing is allocated; a function of the two fields (not a method)
/// so the caller can update `windows` while iterating.
fn windows_of(
    index: &WindowIndex,
    stopped: Option<Stopped>,
    elapsed_ms: u64,
) -> impl Iterator<Item = usize> + '_ {
    let stopped_here = stopped
        .filter(|s| (s.from_ms..s.to_ms).contains(&elapsed_ms))
        .map(|s| s.window);
    index
        .holding(elapsed_ms)
        .filter(move |&i| stopped.is_none_or(|s| i != s.window))
        .chain(stopped_here)
}

/// The window a ladder stopped in, and the span its stop decision counted.
#[derive(Debug, Clone, Copy)]
struct Stopped {
    window: usize,
    from_ms: u64,
    to_ms: u64,
}

impl Collected {
    /// Empty accumulators for a run with these windows, expected to last `run_ms`.
    pub fn new(windows: &[StageWindow], run_ms: u64) -> Collected {
        Collected {
            buckets: TimeBuckets::for_run_length(run_ms),
            windows: windows.iter().cloned().map(WindowAcc::new).collect(),
            totals: RequestClass::ALL
                .iter()
                .map(|_| ClassAcc::new(FINE_SIGFIG))
                .collect(),
            names: Vec::new(),
            name_index: HashMap::new(),
            window_index: WindowIndex::new(windows),
            http: Tally::default(),
            operations: vec![Tally::default(); RequestClass::ALL.len()],
            errors: [0; 7],
            messages: HashMap::new(),
            other_messages: 0,
            ingest: IngestAcc::default(),
            goose_users: Vec::new(),
            last_elapsed_ms: 0,
            requests_input: InputStatus::default(),
            ingest_input: InputStatus::default(),
            goose_input: InputStatus::default(),
            elapsed_limit_ms: elapsed_limit_ms(run_ms),
            hold_seconds: super::evenness::HoldSeconds::new(windows),
            cancelled: 0,
            replaced: 0,
            server: None,
            shift_ms: 0,
            stopped: None,
            notes: Vec::new(),
        }
    }

    /// Judge the window named `window` on the rows stamped from `from_ms` up
    /// to, not including, `to_ms` (the log's clock): the stress step a ladder
    /// stopped in, counted as the live stop rule counted it. The live rule
    /// counts the requests recorded from the moment it began watching the step
    /// (up to a monitor tick after the step's start) to its decision
    /// (`runfolder::LadderStop::judged_from_ms`, `at_ms`), both cuts on the
    /// log's clock between rows (`Live::cut`); a row's `elapsed` is when it was
    /// recorded, as the request finished. The step's figures, its SLO rows and
    /// the capacity line then cite the decision's own count.
    /// Call before any row is read.
    pub fn judge_as_stopped(&mut self, window: &str, from_ms: u64, to_ms: u64) {
        self.stopped = self
            .windows
            .iter()
            .position(|w| w.window.name == window)
            .map(|window| Stopped {
                window,
                from_ms,
                to_ms,
            });
    }

    /// The index of `name` in [`Collected::names`], adding it if new (or the
    /// overflow row once [`MAX_NAMES`] names are kept).
    pub fn name_slot(&mut self, name: &[u8]) -> usize {
        if let Some(&i) = self.name_index.get(name) {
            return i;
        }
        let (key, text): (&[u8], String) = if self.names.len() + 1 >= MAX_NAMES {
            (OVERFLOW_NAME.as_bytes(), OVERFLOW_NAME.to_string())
        } else {
            (name, String::from_utf8_lossy(name).into_owned())
        };
        if let Some(&i) = self.name_index.get(key) {
            return i;
        }
        let class = if text == OVERFLOW_NAME {
            RequestClass::Other
        } else {
            RequestClass::of(&text)
        };
        self.names.push(NameAcc {
            name: text,
            class,
            acc: ClassAcc::new(FINE_SIGFIG),
            by_kind: Vec::new(),
        });
        let i = self.names.len() - 1;
        self.name_index.insert(key.into(), i);
        i
    }

    /// Count a panel query recorded at `elapsed_ms` that a refresh replaced in
    /// flight: in total and in the windows holding it.
    pub fn record_replaced(&mut self, elapsed_ms: u64) {
        self.replaced += 1;
        for i in windows_of(&self.window_index, self.stopped, elapsed_ms) {
            self.windows[i].replaced += 1;
        }
    }

    /// Fold in one request row: `name_slot` from [`Collected::name_slot`],
    /// `fail` the kind of failure or `None` for a success, `error` its text.
    /// Whether it is an HTTP call follows from its class ([`is_http_row`]).
    pub fn record(
        &mut self,
        elapsed_ms: u64,
        name_slot: usize,
        latency_us: u64,
        fail: Option<ErrorKind>,
        error: &[u8],
    ) {
        let http = is_http_row(None, self.names[name_slot].class);
        self.record_row(elapsed_ms, name_slot, latency_us, fail, error, http);
    }

    /// [`Collected::record`] for a row known to be an HTTP call or not. Only
    /// HTTP calls count as requests and errors: an operation (a dashboard
    /// load failed by a panel's 503) is counted in its class, not again as
    /// a failed request.
    pub fn record_row(
        &mut self,
        elapsed_ms: u64,
        name_slot: usize,
        latency_us: u64,
        fail: Option<ErrorKind>,
        error: &[u8],
        http: bool,
    ) {
        let class = self.names[name_slot].class;
        let success = fail.is_none();
        self.names[name_slot].acc.record(latency_us, success);
        let ci = class_index(class);
        self.totals[ci].record(latency_us, success);
        let mut first: Option<usize> = None;
        for i in windows_of(&self.window_index, self.stopped, elapsed_ms) {
            let w = &mut self.windows[i];
            w.record(ci, latency_us, success);
            if let Some(b) = &mut w.blocks {
                b.record(elapsed_ms, ci, latency_us, success);
            }
            if http {
                w.http.record(success);
                if let Some(kind) = fail {
                    w.errors[kind.index()] += 1;
                }
            }
            first = Some(first.map_or(i, |f| f.min(i)));
        }
        if let Some(kind) = first.map(|i| self.windows[i].window.kind) {
            let by_kind = &mut self.names[name_slot].by_kind;
            let i = match by_kind.iter().position(|(k, _)| *k == kind) {
                Some(i) => i,
                None => {
                    by_kind.push((kind, ClassAcc::new(COARSE_SIGFIG)));
                    by_kind.len() - 1
                }
            };
            by_kind[i].1.record(latency_us, success);
        }
        self.buckets
            .record(elapsed_ms, class, latency_us, fail, http);
        self.hold_seconds.record(elapsed_ms, class);
        self.last_elapsed_ms = self.last_elapsed_ms.max(elapsed_ms);
        if !http {
            self.operations[ci].record(success);
            return;
        }
        self.http.record(success);
        if let Some(kind) = fail {
            self.errors[kind.index()] += 1;
            self.record_message(error);
        }
    }

    /// Count one failure's message (cut to [`MESSAGE_CHARS`]).
    pub fn record_message(&mut self, error: &[u8]) {
        self.record_messages(error, 1);
    }

    /// Count `n` failures with the same message (cut to [`MESSAGE_CHARS`]).
    pub fn record_messages(&mut self, error: &[u8], n: u64) {
        let text = String::from_utf8_lossy(error);
        // A bare CR or other control character in a server's error must not
        // reach a terminal or a table cell as such.
        let text: String = if text.chars().any(char::is_control) {
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        } else {
            text.into_owned()
        };
        let text = without_positions(text.trim());
        let text = if text.is_empty() {
            "(no message)"
        } else {
            &text
        };
        let cut: String = if text.chars().count() > MESSAGE_CHARS {
            text.chars()
                .take(MESSAGE_CHARS)
                .chain("…".chars())
                .collect()
        } else {
            text.to_string()
        };
        if let Some(count) = self.messages.get_mut(&cut) {
            *count += n;
        } else if self.messages.len() < MAX_MESSAGES {
            self.messages.insert(cut, n);
        } else {
            self.other_messages += n;
        }
    }

    /// Fold in one sync batch write from `ingest.csv`.
    pub fn record_batch(
        &mut self,
        elapsed_ms: u64,
        points: u64,
        bytes: u64,
        duration_us: u64,
        success: bool,
    ) {
        self.ingest.record(points, bytes, duration_us, success);
        for i in windows_of(&self.window_index, self.stopped, elapsed_ms) {
            self.windows[i]
                .ingest
                .record(points, bytes, duration_us, success);
        }
        self.buckets
            .at(elapsed_ms)
            .ingest
            .record(points, bytes, duration_us, success);
        self.last_elapsed_ms = self.last_elapsed_ms.max(elapsed_ms);
    }

    /// The whole-run accumulator of `class`.
    pub fn total(&self, class: RequestClass) -> &ClassAcc {
        &self.totals[class_index(class)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_after_the_status_is_not_a_query_error() {
        assert_eq!(ErrorKind::classify(200, b"timeout"), ErrorKind::Timeout);
        assert_eq!(
            ErrorKind::classify(200, b"Panel A: timeout"),
            ErrorKind::Timeout
        );
        assert_eq!(
            ErrorKind::classify(200, b"connection reset"),
            ErrorKind::Connection
        );
        assert_eq!(
            ErrorKind::classify(200, b"B: query-timeout"),
            ErrorKind::Query
        );
        assert_eq!(
            ErrorKind::classify(400, b"error parsing query"),
            ErrorKind::Query
        );
        assert_eq!(
            ErrorKind::classify(0, b"dns lookup failed"),
            ErrorKind::Connection
        );
    }

    #[test]
    fn one_cause_is_one_row_whatever_its_byte_counts() {
        let mut c = Collected::new(&[], 1_000);
        for at in 0..48u64 {
            c.record_message(format!("invalid JSON at byte {}", 1_000 + at * 37).as_bytes());
            c.record_message(format!("answer cut short ({} bytes)", 20_000 + at).as_bytes());
        }
        c.record_message(b"error parsing query: found X, expected Y at line 1, char 23");
        c.record_message(b"error parsing query: found X, expected Y at line 1, char 41");
        let mut rows: Vec<(&String, &u64)> = c.messages.iter().collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                (&"answer cut short (N bytes)".to_string(), &48),
                (
                    &"error parsing query: found X, expected Y at line N, char N".to_string(),
                    &2
                ),
                (&"invalid JSON at byte N".to_string(), &48),
            ]
        );
        // Text without positions is kept as it is.
        assert_eq!(without_positions("Panel 3: HTTP 500"), "Panel 3: HTTP 500");
    }

    #[test]
    fn failures_are_classified_by_status_and_text() {
        assert_eq!(
            ErrorKind::classify(0, b"operation timed out"),
            ErrorKind::Timeout
        );
        assert_eq!(
            ErrorKind::classify(0, b"error sending request: client error (Connect)"),
            ErrorKind::Connection
        );
        assert_eq!(ErrorKind::classify(0, b""), ErrorKind::Other);
        assert_eq!(ErrorKind::classify(429, b""), ErrorKind::Shed);
        assert_eq!(ErrorKind::classify(503, b""), ErrorKind::Shed);
        assert_eq!(ErrorKind::classify(504, b""), ErrorKind::Timeout);
        assert_eq!(ErrorKind::classify(500, b""), ErrorKind::Server);
        assert_eq!(
            ErrorKind::classify(200, b"error parsing query"),
            ErrorKind::Query
        );
        assert_eq!(
            ErrorKind::classify(400, b"error parsing query"),
            ErrorKind::Query
        );
        assert_eq!(ErrorKind::classify(404, b"Not Found"), ErrorKind::Client);
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
    }

    #[test]
    fn buckets_coarsen_exactly_when_the_run_outgrows_them() {
        let mut b = TimeBuckets::for_run_length(60_000);
        assert_eq!(b.width_ms, 1000);
        for s in 0..1200u64 {
            b.record(s * 1000, RequestClass::PanelQuery, 1000 + s, None, true);
        }
        assert_eq!(b.width_ms, 2000);
        assert_eq!(b.buckets.len(), 600);
        let total: u64 = b
            .buckets
            .iter()
            .map(|x| x.class(RequestClass::PanelQuery).map_or(0, |c| c.count))
            .sum();
        assert_eq!(total, 1200);
        assert!(b
            .buckets
            .iter()
            .all(|x| x.class(RequestClass::PanelQuery).unwrap().count == 2));
    }

    #[test]
    fn bucket_width_is_round_and_bounded() {
        assert_eq!(TimeBuckets::for_run_length(0).width_ms, 1000);
        assert_eq!(TimeBuckets::for_run_length(600_000).width_ms, 1000);
        assert_eq!(TimeBuckets::for_run_length(600_001).width_ms, 2000);
        assert_eq!(TimeBuckets::for_run_length(3_600_000).width_ms, 10_000);
        let huge = TimeBuckets::for_run_length(1_000 * 3600 * 1000);
        assert!(1_000 * 3600 * 1000 / huge.width_ms <= MAX_BUCKETS as u64);
    }

    #[test]
    fn names_and_messages_are_bounded() {
        let mut c = Collected::new(&[], 1000);
        for i in 0..MAX_NAMES + 50 {
            let slot = c.name_slot(format!("panel p{i} [1h]").as_bytes());
            c.record(
                0,
                slot,
                10,
                Some(ErrorKind::Server),
                format!("boom {i}").as_bytes(),
            );
        }
        assert_eq!(c.names.len(), MAX_NAMES);
        assert_eq!(c.names.last().unwrap().name, OVERFLOW_NAME);
        assert_eq!(c.messages.len(), MAX_MESSAGES);
        assert_eq!(c.other_messages, (MAX_NAMES + 50 - MAX_MESSAGES) as u64);
        let long = "x".repeat(1000);
        c.messages.clear();
        c.record_message(long.as_bytes());
        assert_eq!(
            c.messages.keys().next().unwrap().chars().count(),
            MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn moments_merge_to_the_whole() {
        let (mut a, mut b, mut whole) =
            (Moments::default(), Moments::default(), Moments::default());
        for v in [3u64, 9, 27, 1_000_000, 5] {
            whole.record(v);
            if v % 2 == 0 {
                b.record(v)
            } else {
                a.record(v)
            }
        }
        a.merge(&b);
        assert_eq!(a, whole);
        assert_eq!(Moments::default().mean_us(), None);
        let two = {
            let mut m = Moments::default();
            m.record(2);
            m.record(4);
            m
        };
        assert_eq!(two.mean_us(), Some(3.0));
        assert_eq!(two.stddev_us(), Some(1.0));
    }
}
