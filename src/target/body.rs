//! Reading an answer's body as it streams in, in bounded memory: every byte is
//! counted, the shape is checked on the fly (a streaming JSON syntax check that
//! also picks out InfluxDB's and Grafana's error messages, or the framing of a
//! Flux CSV answer), series markers are counted across chunk boundaries, and only
//! a head and a tail are kept. An answer over `max_body` stops being read.
//!
//! A load tester meets 100 MB answers and gzip bombs: buffering each whole body
//! (10 viewers × 6 panels × 100 MB) is what ran a run out of memory.

use std::fmt;

/// What an answer should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// InfluxDB `/query` or Grafana `/api/ds/query` JSON.
    Json,
    /// Flux annotated CSV (InfluxDB 2.x `/api/v2/query`); errors come as JSON.
    FluxCsv,
    /// Anything (writes, a Toggl API): only counted and kept up to the limit.
    Any,
}

/// How to read one answer.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The shape it should have.
    pub format: Format,
    /// Stop reading (and fail) past this many bytes.
    pub max_body: u64,
    /// Keep the first this many bytes (the whole body, when it fits).
    pub keep: usize,
    /// Count occurrences of this marker (series or frames) over the whole body.
    pub series: Option<&'static [u8]>,
}

/// Default `max_body` (`[target] max_body`).
pub const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;
/// The head kept of every answer: enough for any error message.
pub const HEAD: usize = 64 * 1024;
/// The tail kept of a long answer (Flux appends its error table at the end).
const TAIL: usize = 64 * 1024;
/// The most of a variable query's answer kept for its values.
pub const VALUES_KEEP: usize = 4 * 1024 * 1024;

impl Reading {
    /// A panel or variable query's answer (`want_values` keeps up to [`VALUES_KEEP`]).
    pub fn query(format: Format, max_body: u64, want_values: bool) -> Reading {
        Reading {
            format,
            max_body,
            keep: if want_values { VALUES_KEEP } else { HEAD },
            series: None,
        }
    }

    /// A write's answer (an empty 204, or an error message).
    pub fn write(max_body: u64) -> Reading {
        Reading {
            format: Format::Any,
            max_body,
            keep: HEAD,
            series: None,
        }
    }

    /// An answer parsed whole afterwards (Toggl's API, a status): kept up to `max_body`.
    pub fn whole(max_body: u64) -> Reading {
        Reading {
            format: Format::Any,
            max_body,
            keep: usize::try_from(max_body).unwrap_or(usize::MAX),
            series: None,
        }
    }

    /// Count `marker` (a series or frame opening) over the body.
    pub fn counting(mut self, marker: Option<&'static [u8]>) -> Reading {
        self.series = marker;
        self
    }
}

/// Read a response's body chunk by chunk (decompressed as it comes), stopping
/// past `max_body`: memory stays at the kept head and tail whatever the size.
pub async fn read(mut response: reqwest::Response, reading: Reading) -> reqwest::Result<Body> {
    let mut scan = BodyScan::new(reading);
    while let Some(chunk) = response.chunk().await? {
        if !scan.feed(&chunk) {
            break;
        }
    }
    Ok(scan.finish())
}

/// What a body turned out to be.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// Bytes read (after decompression), up to where reading stopped.
    pub read: u64,
    /// The limit, when the answer went past it and reading stopped.
    pub oversize: Option<u64>,
    /// Series markers counted.
    pub series: u64,
    format: Option<Format>,
    head: Vec<u8>,
    whole: bool,
    tail: Vec<u8>,
    first: Option<u8>,
    json: Option<JsonVerdict>,
    csv_error: Option<String>,
}

impl Body {
    /// A body read in one piece (tests, and callers that already hold it).
    pub fn from_bytes(bytes: &[u8], reading: Reading) -> Body {
        let mut scan = BodyScan::new(reading);
        scan.feed(bytes);
        scan.finish()
    }

    /// The body, when every byte of it was kept.
    pub fn whole(&self) -> Option<&[u8]> {
        self.whole.then_some(&self.head[..])
    }

    /// The first bytes kept (the whole body when it fit).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The last bytes (the whole body when it fit).
    pub fn tail(&self) -> &[u8] {
        if self.whole {
            &self.head
        } else {
            &self.tail
        }
    }

    /// The shape it should have.
    pub fn format(&self) -> Format {
        self.format.unwrap_or(Format::Any)
    }

    /// The first non-whitespace byte.
    pub fn first(&self) -> Option<u8> {
        self.first
    }

    /// The JSON verdict, when the body was checked as JSON.
    pub fn json(&self) -> Option<&JsonVerdict> {
        self.json.as_ref()
    }

    /// Why a Flux CSV answer is not whole, when it is not.
    pub fn csv_error(&self) -> Option<&str> {
        self.csv_error.as_deref()
    }
}

/// The reading of one body, chunk by chunk.
pub struct BodyScan {
    reading: Reading,
    read: u64,
    oversize: bool,
    head: Vec<u8>,
    tail: Vec<u8>,
    first: Option<u8>,
    json: Option<JsonCheck>,
    csv: Option<CsvCheck>,
    series: Option<MarkerCount>,
}

impl BodyScan {
    /// Start reading.
    pub fn new(reading: Reading) -> BodyScan {
        BodyScan {
            reading,
            read: 0,
            oversize: false,
            head: Vec::new(),
            tail: Vec::new(),
            first: None,
            json: None,
            csv: None,
            series: reading.series.map(MarkerCount::new),
        }
    }

    /// Take one chunk; false when the body went past `max_body` (stop reading).
    pub fn feed(&mut self, chunk: &[u8]) -> bool {
        if self.oversize {
            return false;
        }
        if chunk.len() as u64 > self.reading.max_body.saturating_sub(self.read) {
            self.read += chunk.len() as u64;
            self.oversize = true;
            return false;
        }
        let start = self.read;
        self.read += chunk.len() as u64;
        self.keep(chunk);
        let mut chunk = chunk;
        if self.first.is_none() {
            // The shape is decided by the first byte that is not whitespace.
            let Some(at) = chunk.iter().position(|b| !is_json_space(*b)) else {
                return true;
            };
            self.first = Some(chunk[at]);
            match (self.reading.format, chunk[at]) {
                (Format::Json, _) | (Format::FluxCsv, b'{' | b'[') => {
                    self.json = Some(JsonCheck {
                        offset: start + at as u64,
                        ..JsonCheck::default()
                    })
                }
                (Format::FluxCsv, _) => self.csv = Some(CsvCheck::default()),
                (Format::Any, _) => {}
            }
            chunk = &chunk[at..];
        }
        if let Some(j) = &mut self.json {
            j.feed(chunk);
        }
        if let Some(c) = &mut self.csv {
            c.feed(chunk);
        }
        if let Some(s) = &mut self.series {
            s.feed(chunk);
        }
        true
    }

    fn keep(&mut self, chunk: &[u8]) {
        let room = self.reading.keep.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if self.read > self.reading.keep as u64 {
            // Past the head: keep a rolling tail (trimmed in halves, not per byte).
            let take = &chunk[chunk.len().saturating_sub(TAIL)..];
            self.tail.extend_from_slice(take);
            if self.tail.len() > 2 * TAIL {
                self.tail.drain(..self.tail.len() - TAIL);
            }
        }
    }

    /// The verdict on what was read.
    pub fn finish(self) -> Body {
        let whole = !self.oversize && self.read == self.head.len() as u64;
        let mut tail = self.tail;
        if tail.len() > TAIL {
            tail.drain(..tail.len() - TAIL);
        }
        Body {
            read: self.read,
            oversize: self.oversize.then_some(self.reading.max_body),
            series: self.series.map_or(0, |s| s.count),
            format: Some(self.reading.format),
            head: self.head,
            whole,
            tail,
            first: self.first,
            json: match (self.json, self.reading.format) {
                (Some(check), _) => Some(check.finish()),
                // Nothing but whitespace where JSON was expected.
                (None, Format::Json) => Some(JsonVerdict {
                    invalid: Some(JsonError {
                        at: self.read,
                        truncated: true,
                    }),
                    error: None,
                }),
                (None, _) => None,
            },
            csv_error: self.csv.and_then(CsvCheck::finish),
        }
    }
}

/// Counts a marker's occurrences over a stream: one split across two chunks
/// counts once (the last `len − 1` bytes are carried to the next chunk). The
/// searcher is built once per body and the carry reuses its buffers: a chunk is
/// searched in place, never copied.
struct MarkerCount {
    finder: memchr::memmem::Finder<'static>,
    /// The last `len − 1` bytes seen.
    carry: Vec<u8>,
    /// The carry followed by the head of the next chunk.
    window: Vec<u8>,
    count: u64,
}

impl MarkerCount {
    fn new(marker: &'static [u8]) -> MarkerCount {
        MarkerCount {
            finder: memchr::memmem::Finder::new(marker),
            carry: Vec::new(),
            window: Vec::new(),
            count: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let keep = self.finder.needle().len().saturating_sub(1);
        if keep == 0 {
            self.count += self.finder.find_iter(chunk).count() as u64;
            return;
        }
        // Any match in carry ++ chunk[..keep] straddles the boundary: neither side
        // alone is long enough to hold one.
        let head = &chunk[..chunk.len().min(keep)];
        self.window.clear();
        self.window.extend_from_slice(&self.carry);
        self.window.extend_from_slice(head);
        self.count += self.finder.find_iter(&self.window).count() as u64;
        self.count += self.finder.find_iter(chunk).count() as u64;
        // The next carry: the last `keep` bytes of carry ++ chunk (the window
        // is all of that when the chunk is shorter than `keep`).
        let tail = if chunk.len() >= keep {
            &chunk[chunk.len() - keep..]
        } else {
            &self.window[self.window.len().saturating_sub(keep)..]
        };
        self.carry.clear();
        self.carry.extend_from_slice(tail);
    }
}

/// A Flux CSV answer's framing: a whole answer ends at a line end, outside quotes.
#[derive(Default)]
struct CsvCheck {
    in_quotes: bool,
    last: Option<u8>,
    read: u64,
}

impl CsvCheck {
    fn feed(&mut self, chunk: &[u8]) {
        let quotes = memchr::memchr_iter(b'"', chunk).count();
        self.in_quotes ^= quotes % 2 == 1;
        self.last = chunk.last().copied().or(self.last);
        self.read += chunk.len() as u64;
    }

    fn finish(self) -> Option<String> {
        if self.in_quotes {
            return Some(format!(
                "truncated CSV: ends inside a quoted field at byte {}",
                self.read
            ));
        }
        match self.last {
            Some(b'\n') | None => None,
            Some(_) => Some(format!(
                "truncated CSV: ends inside a row at byte {}",
                self.read
            )),
        }
    }
}

/// What the streaming JSON check found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonVerdict {
    /// Where the body stops being JSON, and why.
    pub invalid: Option<JsonError>,
    /// The error the answer carries, where InfluxDB and Grafana put it: top-level
    /// `error`; else `results[i].error` (InfluxDB) or `results.<refId>.error`
    /// (Grafana, as `refId: message`); else a top-level `message` (InfluxDB 2.x).
    pub error: Option<String>,
}

/// Where and why a body is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    /// Byte offset of the first byte that is not JSON (the length when it ended early).
    pub at: u64,
    /// True when the body ended before the value did.
    pub truncated: bool,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.truncated {
            write!(f, "invalid JSON at byte {}: the answer ends early", self.at)
        } else {
            write!(f, "invalid JSON at byte {}", self.at)
        }
    }
}

/// Deepest nesting accepted (serde_json's own limit).
const MAX_DEPTH: usize = 128;
/// Most bytes of a key or error message captured.
const CAPTURE: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A value is expected (top level, after `:`, after `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value: `,`, a closing bracket, or the end.
    After,
    /// In a string; `key` for object keys.
    Str {
        key: bool,
    },
    /// After a backslash in a string.
    Escape {
        key: bool,
    },
    /// In a `\u` escape, `left` hex digits to go.
    Hex {
        key: bool,
        left: u8,
    },
    Number(Num),
    /// In `true`/`false`/`null`, `at` bytes matched.
    Literal {
        word: &'static [u8],
        at: u8,
    },
    /// The top-level value is complete: whitespace only.
    Done,
    Failed,
}

/// Where a captured string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    TopError,
    TopMessage,
    ResultError,
    RefError,
}

/// A streaming JSON syntax check (RFC 8259: strings, numbers, literals, nesting,
/// UTF-8) that notes the error messages InfluxDB and Grafana answers carry.
struct JsonCheck {
    state: State,
    stack: Vec<Container>,
    /// Byte offset of the next byte.
    offset: u64,
    invalid: Option<JsonError>,
    utf8: Utf8Check,
    /// The current key at depths 1..=3 (raw bytes, bounded).
    keys: [Vec<u8>; 4],
    /// The string being captured (a key or a wanted value) and where it goes.
    capture: Vec<u8>,
    slot: Option<Slot>,
    results: Option<Container>,
    top_error: Option<String>,
    top_message: Option<String>,
    result_error: Option<String>,
    ref_error: Option<String>,
}

impl Default for JsonCheck {
    fn default() -> JsonCheck {
        JsonCheck {
            state: State::Value,
            stack: Vec::new(),
            offset: 0,
            invalid: None,
            utf8: Utf8Check::default(),
            keys: Default::default(),
            capture: Vec::new(),
            slot: None,
            results: None,
            top_error: None,
            top_message: None,
            result_error: None,
            ref_error: None,
        }
    }
}

impl JsonCheck {
    fn feed(&mut self, chunk: &[u8]) {
        if self.state == State::Failed {
            return;
        }
        if let Err(at) = self.utf8.feed(chunk, self.offset) {
            // Fail at the first bad UTF-8 byte, unless the grammar failed sooner.
            self.scan(&chunk[..(at - self.offset) as usize]);
            if self.state != State::Failed {
                self.fail(at, false);
            }
            return;
        }
        self.scan(chunk);
    }

    fn fail(&mut self, at: u64, truncated: bool) {
        self.state = State::Failed;
        self.invalid = Some(JsonError { at, truncated });
    }

    fn depth(&self) -> usize {
        self.stack.len()
    }

    fn scan(&mut self, chunk: &[u8]) {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let at = self.offset + i as u64;
            match self.state {
                State::Failed => return,
                State::Str { key } => {
                    // Fast path: run to the next quote, backslash or control byte.
                    let start = i;
                    while i < chunk.len()
                        && chunk[i] >= 0x20
                        && chunk[i] != b'"'
                        && chunk[i] != b'\\'
                    {
                        i += 1;
                    }
                    self.note(&chunk[start..i]);
                    if i == chunk.len() {
                        break;
                    }
                    match chunk[i] {
                        b'"' => self.end_string(key),
                        b'\\' => {
                            self.note(b"\\");
                            self.state = State::Escape { key };
                        }
                        _ => self.fail(self.offset + i as u64, false),
                    }
                    i += 1;
                    continue;
                }
                State::Escape { key } => {
                    self.note(&[b]);
                    match b {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {
                            self.state = State::Str { key }
                        }
                        b'u' => self.state = State::Hex { key, left: 4 },
                        _ => self.fail(at, false),
                    }
                }
                State::Hex { key, left } => {
                    self.note(&[b]);
                    if !b.is_ascii_hexdigit() {
                        self.fail(at, false);
                    } else if left == 1 {
                        self.state = State::Str { key };
                    } else {
                        self.state = State::Hex {
                            key,
                            left: left - 1,
                        };
                    }
                }
                State::Number(Num::Int | Num::Frac | Num::Exp) if b.is_ascii_digit() => {
                    // Fast path: the rest of the digits (most of a time series).
                    while i < chunk.len() && chunk[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
                State::Number(n) => {
                    let next = match (n, b) {
                        (Num::Minus, b'0') => Some(Num::Zero),
                        (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                        (Num::Int, b'0'..=b'9') => Some(Num::Int),
                        (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                        (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                        (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                        (Num::E, b'+' | b'-') => Some(Num::ESign),
                        (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                        _ => None,
                    };
                    match next {
                        Some(n) => self.state = State::Number(n),
                        None if matches!(n, Num::Zero | Num::Int | Num::Frac | Num::Exp) => {
                            // The number ended: this byte belongs to what follows.
                            self.value_done();
                            continue;
                        }
                        None => self.fail(at, false),
                    }
                }
                State::Literal { word, at: k } => {
                    if b != word[k as usize] {
                        self.fail(at, false);
                    } else if k as usize + 1 == word.len() {
                        self.value_done();
                    } else {
                        self.state = State::Literal { word, at: k + 1 };
                    }
                }
                _ if is_json_space(b) => {}
                State::Value | State::ArrayFirst => self.value_start(b, at),
                State::ObjectFirst | State::Key => match b {
                    b'"' => {
                        self.capture.clear();
                        self.state = State::Str { key: true };
                    }
                    b'}' if self.state == State::ObjectFirst => self.close(Container::Object, at),
                    _ => self.fail(at, false),
                },
                State::Colon => match b {
                    b':' => self.state = State::Value,
                    _ => self.fail(at, false),
                },
                State::After => match (b, self.stack.last()) {
                    (b',', Some(Container::Object)) => self.state = State::Key,
                    (b',', Some(Container::Array)) => self.state = State::Value,
                    (b'}', Some(Container::Object)) => self.close(Container::Object, at),
                    (b']', Some(Container::Array)) => self.close(Container::Array, at),
                    _ => self.fail(at, false),
                },
                State::Done => self.fail(at, false),
            }
            i += 1;
        }
        self.offset += chunk.len() as u64;
    }

    fn value_start(&mut self, b: u8, at: u64) {
        match b {
            b'{' | b'[' => {
                if self.depth() >= MAX_DEPTH {
                    return self.fail(at, false);
                }
                let kind = if b == b'{' {
                    Container::Object
                } else {
                    Container::Array
                };
                if self.depth() == 1
                    && self.stack[0] == Container::Object
                    && self.keys[1] == b"results"
                    && self.results.is_none()
                {
                    self.results = Some(kind);
                }
                self.stack.push(kind);
                if let Some(k) = self.keys.get_mut(self.stack.len()) {
                    k.clear();
                }
                self.state = if kind == Container::Object {
                    State::ObjectFirst
                } else {
                    State::ArrayFirst
                };
            }
            b']' if self.state == State::ArrayFirst => self.close(Container::Array, at),
            b'"' => {
                self.capture.clear();
                self.slot = self.wanted();
                self.state = State::Str { key: false };
            }
            b'-' => self.state = State::Number(Num::Minus),
            b'0' => self.state = State::Number(Num::Zero),
            b'1'..=b'9' => self.state = State::Number(Num::Int),
            b't' => {
                self.state = State::Literal {
                    word: b"true",
                    at: 1,
                }
            }
            b'f' => {
                self.state = State::Literal {
                    word: b"false",
                    at: 1,
                }
            }
            b'n' => {
                self.state = State::Literal {
                    word: b"null",
                    at: 1,
                }
            }
            _ => self.fail(at, false),
        }
    }

    /// Whether the string value starting now is an error message we look for.
    fn wanted(&self) -> Option<Slot> {
        if self.stack.last() != Some(&Container::Object) {
            return None;
        }
        let key = &self.keys[self.depth().min(3)][..];
        match (self.depth(), key) {
            (1, b"error") if self.top_error.is_none() => Some(Slot::TopError),
            (1, b"message") if self.top_message.is_none() => Some(Slot::TopMessage),
            (3, b"error") if self.keys[1] == b"results" => match self.stack[1] {
                Container::Array if self.result_error.is_none() => Some(Slot::ResultError),
                Container::Object if self.ref_error.is_none() => Some(Slot::RefError),
                _ => None,
            },
            _ => None,
        }
    }

    /// Note string bytes when capturing (keys at depth ≤ 3, wanted values).
    fn note(&mut self, bytes: &[u8]) {
        let capturing = match self.state {
            State::Str { key: true }
            | State::Escape { key: true }
            | State::Hex { key: true, .. } => self.depth() <= 3,
            _ => self.slot.is_some(),
        };
        if capturing && self.capture.len() < CAPTURE {
            let room = CAPTURE - self.capture.len();
            self.capture
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    fn end_string(&mut self, key: bool) {
        if key {
            let depth = self.depth();
            if depth <= 3 {
                // Swapped, not taken: both buffers are kept for the next keys (the
                // capture is cleared when the next string starts).
                std::mem::swap(&mut self.keys[depth], &mut self.capture);
            }
            self.state = State::Colon;
            return;
        }
        if let Some(slot) = self.slot.take() {
            let text = unescape(&self.capture);
            let text = match slot {
                Slot::RefError => format!("{}: {text}", unescape(&self.keys[2])),
                _ => text,
            };
            let place = match slot {
                Slot::TopError => &mut self.top_error,
                Slot::TopMessage => &mut self.top_message,
                Slot::ResultError => &mut self.result_error,
                Slot::RefError => &mut self.ref_error,
            };
            place.get_or_insert(text);
        }
        self.value_done();
    }

    fn close(&mut self, kind: Container, at: u64) {
        if self.stack.pop() != Some(kind) {
            return self.fail(at, false);
        }
        self.value_done();
    }

    fn value_done(&mut self) {
        self.state = if self.stack.is_empty() {
            State::Done
        } else {
            State::After
        };
    }

    fn finish(mut self) -> JsonVerdict {
        if self.state != State::Failed {
            if self.utf8.pending() {
                self.fail(self.offset, true);
            } else {
                match self.state {
                    State::Done => {}
                    State::Number(Num::Zero | Num::Int | Num::Frac | Num::Exp)
                        if self.stack.is_empty() => {}
                    _ => self.fail(self.offset, true),
                }
            }
        }
        let error = self.top_error.or(match self.results {
            Some(Container::Array) => self.result_error,
            Some(Container::Object) => self.ref_error,
            None => self.top_message,
        });
        JsonVerdict {
            invalid: self.invalid,
            error,
        }
    }
}

/// A JSON string's raw bytes (between the quotes) as text; a capture cut short
/// by [`CAPTURE`] is shown as far as it goes.
fn unescape(raw: &[u8]) -> String {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    match serde_json::from_slice::<String>(&quoted) {
        Ok(s) => s,
        Err(_) => {
            let text = String::from_utf8_lossy(raw).into_owned();
            if raw.len() >= CAPTURE {
                format!("{text}…")
            } else {
                text
            }
        }
    }
}

/// UTF-8 validity over a stream: a character split across chunks is carried.
#[derive(Default)]
struct Utf8Check {
    carry: Vec<u8>,
}

impl Utf8Check {
    /// `offset` is the stream offset of `chunk`; `Err` holds the offset of the
    /// first invalid byte.
    fn feed(&mut self, chunk: &[u8], offset: u64) -> Result<(), u64> {
        let mut start = 0;
        if !self.carry.is_empty() {
            let width = match self.carry[0] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            start = (width - self.carry.len()).min(chunk.len());
            self.carry.extend_from_slice(&chunk[..start]);
            if self.carry.len() < width {
                return Ok(());
            }
            if std::str::from_utf8(&self.carry).is_err() {
                return Err(offset);
            }
            self.carry.clear();
        }
        match std::str::from_utf8(&chunk[start..]) {
            Ok(_) => Ok(()),
            Err(e) => {
                let end = start + e.valid_up_to();
                match e.error_len() {
                    Some(_) => Err(offset + end as u64),
                    None => {
                        self.carry.extend_from_slice(&chunk[end..]);
                        Ok(())
                    }
                }
            }
        }
    }

    fn pending(&self) -> bool {
        !self.carry.is_empty()
    }
}

/// Parse a byte size: `32 MB`, `512KB`, `1 GB`, `1048576` (bytes). Units are
/// binary (1 MB = 1,048,576 bytes), as `max_body` is about memory.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: expected e.g. \"32 MB\""))?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" => 1 << 10,
        "MB" | "MIB" => 1 << 20,
        "GB" | "GIB" => 1 << 30,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (B, KB, MB or GB)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A size as people read it (`32 MB`).
pub fn show_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// JSON's whitespace (RFC 8259 §2): space, tab, LF, CR. Not form feed, which
/// `u8::is_ascii_whitespace` also counts and serde_json (rightly) refuses.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &[u8]) -> JsonVerdict {
        Body::from_bytes(body, Reading::query(Format::Json, DEFAULT_MAX_BODY, false))
            .json
            .unwrap()
    }

    /// The same body fed one byte at a time.
    fn json_bytewise(body: &[u8]) -> JsonVerdict {
        let mut scan = BodyScan::new(Reading::query(Format::Json, DEFAULT_MAX_BODY, false));
        for b in body {
            scan.feed(std::slice::from_ref(b));
        }
        scan.finish().json.unwrap()
    }

    #[test]
    fn truncated_and_non_json_bodies_are_located() {
        let whole = br#"{"results":[{"statement_id":0,"series":[{"columns":["time"],"values":[[1,2.5e3]]}]}]}"#;
        assert_eq!(json(whole).invalid, None);
        let cut = &whole[..40];
        assert_eq!(
            json(cut).invalid,
            Some(JsonError {
                at: 40,
                truncated: true
            })
        );
        assert_eq!(json(b"<html>").invalid.unwrap().at, 0);
        assert_eq!(json(b"{\"a\":1,}").invalid.unwrap().at, 7);
        assert_eq!(json(b"  {\"a\":01}").invalid.unwrap().at, 8);
        assert_eq!(json(b"{\"a\":\"\xff\"}").invalid.unwrap().at, 6);
        assert_eq!(json(b"{} x").invalid.unwrap().at, 3);
        assert!(json(b"").invalid.unwrap().truncated);
        // Found by bench/fuzz.sh: form feed is not JSON whitespace, before or
        // inside a document.
        assert_eq!(json(b"\x0c0").invalid.unwrap().at, 0);
        assert_eq!(json(b"[1,\x0c2]").invalid.unwrap().at, 3);
        assert_eq!(json(b" \t\r\n[1]").invalid, None);
    }

    #[test]
    fn error_messages_are_found_where_each_format_puts_them() {
        for (body, want) in [
            (&br#"{"error":"boom"}"#[..], Some("boom")),
            (
                br#"{"results":[{"statement_id":0,"series":[]},{"statement_id":1,"error":"max-select-buckets"}]}"#,
                Some("max-select-buckets"),
            ),
            (
                br#"{"results":{"A":{"frames":[]},"B":{"error":"query-timeout","status":500}}}"#,
                Some("B: query-timeout"),
            ),
            (
                br#"{"code":"invalid","message":"compilation failed"}"#,
                Some("compilation failed"),
            ),
            // A tag or column named error is data, not an error.
            (
                br#"{"results":[{"series":[{"tags":{"error":"x"},"columns":["error"]}]}]}"#,
                None,
            ),
            (br#"{"results":[],"message":"ignored"}"#, None),
            (br#"{"error":"tab\tquote\" \u00e9"}"#, Some("tab\tquote\" é")),
        ] {
            assert_eq!(json(body).error.as_deref(), want, "{}", String::from_utf8_lossy(body));
            assert_eq!(json_bytewise(body), json(body));
        }
    }

    #[test]
    fn markers_split_across_chunks_count_once() {
        let body = br#"{"results":[{"series":[{"columns":["a"]},{"columns":["b"]}]}]}"#;
        let marker = crate::runfolder::AnswerTotals::INFLUX_SERIES;
        for size in 1..body.len() {
            let mut scan = BodyScan::new(
                Reading::query(Format::Json, DEFAULT_MAX_BODY, false).counting(Some(marker)),
            );
            for chunk in body.chunks(size) {
                scan.feed(chunk);
            }
            let b = scan.finish();
            assert_eq!(b.series, 2, "chunks of {size}");
            assert_eq!(b.read, body.len() as u64);
        }
    }

    #[test]
    fn long_bodies_keep_a_head_and_a_tail_and_stop_past_the_limit() {
        let mut scan = BodyScan::new(Reading::query(Format::Json, 1 << 20, false));
        assert!(scan.feed(b"{\"a\":["));
        let chunk = vec![b'1'; 1000];
        let mut n = 6;
        while scan.feed(&chunk) {
            n += 1000;
            assert!(scan.head.len() <= HEAD && scan.tail.len() <= 2 * TAIL + 1000);
        }
        let b = scan.finish();
        assert_eq!(b.oversize, Some(1 << 20));
        assert_eq!(b.read, n + 1000);
        assert!(b.whole().is_none());
    }

    #[test]
    fn sizes_parse_and_show() {
        assert_eq!(parse_size("32 MB"), Ok(32 << 20));
        assert_eq!(parse_size("512kb"), Ok(512 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 TB").unwrap_err().contains("TB"));
        assert!(parse_size("99999999999999 GB").is_err());
        assert_eq!(show_size(32 << 20), "32 MB");
        assert_eq!(show_size(1000), "1000 bytes");
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        /// Small JSON documents, serialized by serde_json.
        fn documents() -> impl Strategy<Value = Vec<u8>> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(serde_json::Value::from),
                ".{0,12}".prop_map(serde_json::Value::from),
            ];
            let value = leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                    prop::collection::btree_map("[a-z]{0,6}|error|results", inner, 0..6)
                        .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]
            });
            value.prop_map(|v| serde_json::to_vec(&v).unwrap())
        }

        proptest! {
            #![proptest_config(crate::proptest_support::config(256))]

            #[test]
            fn prop_valid_json_passes_in_any_chunking(doc in documents(), size in 1usize..64) {
                let mut scan = BodyScan::new(Reading::query(Format::Json, DEFAULT_MAX_BODY, false));
                for chunk in doc.chunks(size) {
                    scan.feed(chunk);
                }
                let verdict = scan.finish().json.unwrap();
                prop_assert_eq!(verdict.invalid, None, "{}", String::from_utf8_lossy(&doc));
            }

            #[test]
            fn prop_a_cut_document_is_invalid_at_or_before_the_cut(doc in documents(), cut in any::<prop::sample::Index>()) {
                let cut = cut.index(doc.len());
                let part = &doc[..cut];
                let verdict = json(part);
                if serde_json::from_slice::<serde::de::IgnoredAny>(part).is_err() {
                    let e = verdict.invalid.expect("a cut document that serde rejects is invalid");
                    prop_assert!(e.at <= cut as u64, "{:?} past the cut {}", e, cut);
                }
            }

            #[test]
            fn prop_what_passes_is_json(body in prop::collection::vec(any::<u8>(), 0..64), text in "[\\[\\]{}\":,0-9a-z\\\\ .eE+-]{0,40}") {
                for b in [&body[..], text.as_bytes()] {
                    if json(b).invalid.is_none() {
                        prop_assert!(
                            serde_json::from_slice::<serde::de::IgnoredAny>(b).is_ok(),
                            "accepted {:?}", String::from_utf8_lossy(b)
                        );
                    } else {
                        prop_assert!(json(b).invalid.unwrap().at <= b.len() as u64);
                    }
                }
            }
        }
    }
}
