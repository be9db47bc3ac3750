//! Line protocol writes as InfluxDB 1.x takes them (DOMAIN.md §2.3).
//!
//! Parsing uses the `influxdb-line-protocol` crate one line at a time, so a bad line can
//! be named in the error the way InfluxDB names it (`unable to parse '<line>': <why>`)
//! while the good lines are still written. [`write_batch`] turns a parsed batch into the
//! outcome the `/write` handler answers with: 204, or 400 with `partial write: … dropped=N`
//! (the good points were stored), or 400 with the bare parse errors when no line parsed.

use influxdb_line_protocol as lp;

use super::store::{Database, FieldValue, Point};

/// Smallest and largest timestamps InfluxDB accepts (ns).
pub const MIN_TIME_NS: i64 = -9_223_372_036_854_775_806;
/// See [`MIN_TIME_NS`].
pub const MAX_TIME_NS: i64 = 9_223_372_036_854_775_806;

/// Timestamp precision of a write (`precision=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (`n`, `ns`, or anything unknown: InfluxDB 1.x silently accepts it).
    #[default]
    Nanoseconds,
    /// Microseconds (`u`, `us`, `µ`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`).
    Seconds,
    /// Minutes (`m`).
    Minutes,
    /// Hours (`h`).
    Hours,
}

impl Precision {
    /// Read the `precision` parameter; unknown values mean nanoseconds, as in InfluxDB 1.x.
    pub fn from_param(param: Option<&str>) -> Precision {
        match param.unwrap_or("") {
            "u" | "us" | "µ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => Precision::Nanoseconds,
        }
    }

    /// Nanoseconds per unit.
    pub fn factor(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}

/// The parsed lines of one write: the points, and one message per bad line.
#[derive(Debug, Default)]
pub struct ParsedBatch {
    /// Points from the good lines, in input order.
    pub points: Vec<Point>,
    /// `unable to parse '<line>': <why>` for each bad line.
    pub errors: Vec<String>,
}

/// Parse a write body. Lines without a timestamp get `now_ns` truncated to the precision.
///
/// Large bodies are parsed on several threads (the line protocol parser is slow in debug
/// builds, and the sandbox seeds ~4 MB at start); the result keeps input order.
pub fn parse_batch(body: &str, precision: Precision, now_ns: i64) -> ParsedBatch {
    const PARALLEL_FROM: usize = 4096;
    let lines: Vec<&str> = lp::split_lines(body)
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if lines.len() < PARALLEL_FROM || threads < 2 {
        return parse_lines(&lines, precision, now_ns);
    }
    let chunk = lines.len().div_ceil(threads);
    let parts: Vec<ParsedBatch> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .map(|c| scope.spawn(move || parse_lines(c, precision, now_ns)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut batch = ParsedBatch::default();
    for part in parts {
        batch.points.extend(part.points);
        batch.errors.extend(part.errors);
    }
    batch
}

fn parse_lines(lines: &[&str], precision: Precision, now_ns: i64) -> ParsedBatch {
    let mut batch = ParsedBatch::default();
    for line in lines {
        match parse_line(line, precision, now_ns) {
            Ok(point) => batch.points.push(point),
            Err(why) => batch
                .errors
                .push(format!("unable to parse '{line}': {why}")),
        }
    }
    batch
}

fn parse_line(line: &str, precision: Precision, now_ns: i64) -> Result<Point, String> {
    if line.ends_with('\r') {
        return Err("bad timestamp".to_string());
    }
    let parsed = match lp::parse_lines(line).next() {
        Some(Ok(parsed)) => parsed,
        Some(Err(_)) if !has_field_section(line) => return Err("missing fields".to_string()),
        Some(Err(lp::Error::FieldSetMissing)) => return Err("invalid field format".to_string()),
        Some(Err(e)) => return Err(describe(&e)),
        None => return Err("missing fields".to_string()),
    };
    let time = match parsed.timestamp {
        Some(ts) => ts
            .checked_mul(precision.factor())
            .filter(|t| (MIN_TIME_NS..=MAX_TIME_NS).contains(t))
            .ok_or_else(|| format!("time outside range {MIN_TIME_NS} - {MAX_TIME_NS}"))?,
        None => now_ns - now_ns.rem_euclid(precision.factor()),
    };
    let tags = parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    if tags.iter().any(|(_, v)| v.is_empty()) {
        return Err("missing tag value".to_string());
    }
    let mut fields = Vec::with_capacity(parsed.field_set.len());
    for (key, value) in &parsed.field_set {
        let value = match value {
            lp::FieldValue::I64(i) => FieldValue::Integer(*i),
            lp::FieldValue::F64(f) => FieldValue::Float(*f),
            lp::FieldValue::Boolean(b) => FieldValue::Boolean(*b),
            lp::FieldValue::String(s) => FieldValue::String(s.as_str().into()),
            // InfluxDB 1.x OSS does not take unsigned integers.
            lp::FieldValue::U64(_) => return Err("invalid number".to_string()),
        };
        fields.push((key.to_string(), value));
    }
    Ok(Point::new(
        parsed.series.measurement.as_str(),
        tags,
        fields,
        time,
    ))
}

/// Whether something follows the series key (an unescaped space outside quotes), as
/// InfluxDB's scanner decides between "missing fields" and "invalid field format".
fn has_field_section(line: &str) -> bool {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ' ' => return !line[i..].trim().is_empty(),
            _ => {}
        }
    }
    false
}

/// InfluxDB's wording for a line protocol error.
fn describe(e: &lp::Error) -> String {
    match e {
        lp::Error::FieldSetMissing => "missing fields".to_string(),
        lp::Error::TagSetMalformed => "missing tag value".to_string(),
        lp::Error::DuplicateTag { tag_key } => format!("duplicate tags: {tag_key}"),
        lp::Error::IntegerValueInvalid { .. }
        | lp::Error::UIntegerValueInvalid { .. }
        | lp::Error::FloatValueInvalid { .. } => "invalid number".to_string(),
        lp::Error::TimestampValueInvalid { .. } => "bad timestamp".to_string(),
        lp::Error::MeasurementValueInvalid => "missing measurement".to_string(),
        _ => "invalid field format".to_string(),
    }
}

/// What a write did, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Points stored (new or upserted).
    pub written: u64,
    /// Points refused by the store (field type conflicts).
    pub dropped: u64,
    /// The 400 body's `error` text, or `None` for 204.
    pub error: Option<String>,
}

/// Write a parsed batch into `db` and say what to answer, as InfluxDB 1.x does.
pub fn write_batch(db: &mut Database, batch: &ParsedBatch) -> WriteOutcome {
    if batch.points.is_empty() && !batch.errors.is_empty() {
        return WriteOutcome {
            written: 0,
            dropped: 0,
            error: Some(batch.errors.join("\n")),
        };
    }
    let mut written = 0;
    let mut dropped = 0;
    let mut conflict = None;
    for point in &batch.points {
        match db.write_point(point) {
            Ok(()) => written += 1,
            Err(e) => {
                dropped += 1;
                conflict.get_or_insert(e.message);
            }
        }
    }
    let error = match conflict {
        Some(reason) => Some(format!("partial write: {reason} dropped={dropped}")),
        None if !batch.errors.is_empty() => Some(format!(
            "partial write: {} dropped=0",
            batch.errors.join("\n")
        )),
        None => None,
    };
    WriteOutcome {
        written,
        dropped,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bad_line_of_three_is_a_partial_write_and_the_others_are_stored() {
        let body = "m v=1i 1\nthis is bad\nm v=2i 2\n";
        let batch = parse_batch(body, Precision::Nanoseconds, 0);
        let mut db = Database::default();
        let outcome = write_batch(&mut db, &batch);
        assert_eq!(outcome.written, 2);
        assert_eq!(
            outcome.error.as_deref(),
            Some("partial write: unable to parse 'this is bad': invalid field format dropped=0")
        );
        assert_eq!(db.point_count(), 2);
    }

    #[test]
    fn only_bad_lines_is_a_plain_parse_error() {
        let batch = parse_batch("m,a=b\n", Precision::Nanoseconds, 0);
        let mut db = Database::default();
        let outcome = write_batch(&mut db, &batch);
        assert_eq!(outcome.written, 0);
        assert_eq!(
            outcome.error.as_deref(),
            Some("unable to parse 'm,a=b': missing fields")
        );
    }

    #[test]
    fn type_conflicts_drop_points_and_say_how_many() {
        let mut db = Database::default();
        write_batch(
            &mut db,
            &parse_batch("time_entry duration_s=1i 1", Precision::Seconds, 0),
        );
        let outcome = write_batch(
            &mut db,
            &parse_batch(
                "time_entry duration_s=1.5 2\ntime_entry duration_s=3i 3",
                Precision::Seconds,
                0,
            ),
        );
        assert_eq!(outcome.written, 1);
        assert_eq!(outcome.dropped, 1);
        assert_eq!(
            outcome.error.as_deref(),
            Some("partial write: field type conflict: input field \"duration_s\" on measurement \"time_entry\" is type float, already exists as type integer dropped=1")
        );
    }

    #[test]
    fn precision_scales_timestamps_and_missing_ones_get_now() {
        for (p, factor) in [
            ("n", 1),
            ("u", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ] {
            let batch = parse_batch("m v=1 7", Precision::from_param(Some(p)), 0);
            assert_eq!(batch.points[0].time, 7 * factor, "precision {p}");
        }
        let batch = parse_batch("m v=1", Precision::Seconds, 5_123_456_789);
        assert_eq!(batch.points[0].time, 5_000_000_000);
    }

    #[test]
    fn large_bodies_keep_their_order_and_errors() {
        let mut body = String::new();
        for i in 0..10_000 {
            body.push_str(&format!("m v={i}i {i}\n"));
            if i == 7_777 {
                body.push_str("broken line\n");
            }
        }
        let batch = parse_batch(&body, Precision::Seconds, 0);
        assert_eq!(batch.points.len(), 10_000);
        assert!(batch
            .points
            .iter()
            .enumerate()
            .all(|(i, p)| p.time == i as i64 * 1_000_000_000));
        assert_eq!(
            batch.errors,
            vec!["unable to parse 'broken line': invalid field format"]
        );
    }

    #[test]
    fn escapes_types_and_ranges_follow_influxdb() {
        let body = r#"esc\ m,tag\ key=a\,b\=c\ d field\ k="say \"hi\" \\ ok",b=t,f=1.5,i=-3i 1"#;
        let batch = parse_batch(body, Precision::Nanoseconds, 0);
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        let p = &batch.points[0];
        assert_eq!(p.measurement, "esc m");
        assert_eq!(p.tags, vec![("tag key".to_string(), "a,b=c d".to_string())]);
        assert_eq!(
            p.fields,
            vec![
                (
                    "field k".to_string(),
                    FieldValue::String("say \"hi\" \\ ok".into())
                ),
                ("b".to_string(), FieldValue::Boolean(true)),
                ("f".to_string(), FieldValue::Float(1.5)),
                ("i".to_string(), FieldValue::Integer(-3)),
            ]
        );
        let batch = parse_batch("m v=1 99999999999999", Precision::Seconds, 0);
        assert_eq!(
            batch.errors,
            vec!["unable to parse 'm v=1 99999999999999': time outside range -9223372036854775806 - 9223372036854775806"]
        );
        let batch = parse_batch("m v=1 1\r\n", Precision::Seconds, 0);
        assert_eq!(
            batch.errors,
            vec!["unable to parse 'm v=1 1\r': bad timestamp"]
        );
        let batch = parse_batch("m,a= v=1", Precision::Seconds, 0);
        assert_eq!(batch.errors.len(), 1);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::sandbox::store::Store;

    /// Lines the parser and store take, to mutate.
    const VALID: &[&str] = &[
        "time_entry,project=A,user=u1 duration_s=3600i,billable_s=3600i,description=\"a 1\" 1700000000",
        "cpu,host=a\\ b,region=eu\\,w usage=0.5,ok=true,name=\"x\\\"y\" 1700000000000000000",
        "m\\ x,t\\=k=v\\=w f=-1.5e3,g=1i,h=F",
        "weather temp=21",
    ];

    /// The non-empty, non-comment lines `parse_batch` considers.
    fn considered(body: &str) -> Vec<&str> {
        lp::split_lines(body)
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    /// Every line is a point or an error naming that line in InfluxDB's words, and
    /// storing the batch never panics.
    fn check(body: &str) -> Result<(), TestCaseError> {
        let lines = considered(body);
        let batch = parse_batch(body, Precision::Nanoseconds, 1_700_000_000_000_000_000);
        prop_assert_eq!(batch.points.len() + batch.errors.len(), lines.len());
        for e in &batch.errors {
            prop_assert!(e.starts_with("unable to parse '"), "{}", e);
            let quoted = &e["unable to parse '".len()..];
            prop_assert!(
                lines.iter().any(|l| quoted.starts_with(&format!("{l}': "))),
                "error names no input line: {}",
                e
            );
        }
        let mut store = Store::with_databases(["db"]);
        let outcome = write_batch(store.database_mut("db").unwrap(), &batch);
        prop_assert!(outcome.written <= batch.points.len() as u64);
        if let Some(msg) = outcome.error {
            prop_assert!(
                msg.starts_with("partial write: ") || msg.starts_with("unable to parse '"),
                "{}",
                msg
            );
        }
        Ok(())
    }

    fn mutated() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(VALID),
            any::<usize>(),
            0usize..8,
            "[ ,=\"\\\\#\\n\\r\\tiuTFe.0-9a-z-]{0,4}",
        )
            .prop_map(|(base, at, cut, insert)| {
                let chars: Vec<char> = base.chars().collect();
                let at = at % (chars.len() + 1);
                let end = (at + cut).min(chars.len());
                let head: String = chars[..at].iter().collect();
                let tail: String = chars[end..].iter().collect();
                format!("{head}{insert}{tail}")
            })
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(128))]

        #[test]
        fn prop_lineproto_arbitrary_bodies_never_panic(body in "\\PC{0,120}") {
            check(&body)?;
        }

        #[test]
        fn prop_lineproto_mutated_valid_lines_never_panic(
            lines in proptest::collection::vec(mutated(), 1..6)
        ) {
            check(&lines.join("\n"))?;
        }

        #[test]
        fn prop_lineproto_valid_lines_all_parse(
            lines in proptest::collection::vec(proptest::sample::select(VALID), 1..6)
        ) {
            let body = lines.join("\n");
            let batch = parse_batch(&body, Precision::Nanoseconds, 0);
            prop_assert!(batch.errors.is_empty(), "{:?}", batch.errors);
            prop_assert_eq!(batch.points.len(), lines.len());
        }
    }
}
