//! Grafana time ranges: the `from`/`to` pair of the time picker, parsed once and
//! resolved against a clock for every request.
//!
//! This module owns Grafana's date-math syntax (`now`, `now-7d`, `now-1d/d`,
//! `now/w`, …, from `@grafana/data` `datemath.ts`), absolute bounds (epoch ms as
//! in dashboard URLs, or RFC 3339 as in saved dashboards), and the short class
//! name that goes into request names (`panel <title> [7d]`), so reports group
//! requests by the range a person picked rather than by exact bounds.
//!
//! Simplifications, all in UTC: rounding uses UTC days (a browser rounds in its
//! own zone), `/w` rounds to Monday (ISO weeks; moment's default locale uses
//! Sunday), and fiscal units (`fy`, `fQ`) are rejected.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Timelike, Utc};

use crate::{Error, Result};

/// A calendar or clock unit of Grafana's date math.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `s`
    Second,
    /// `m`
    Minute,
    /// `h`
    Hour,
    /// `d`
    Day,
    /// `w` (weeks start on Monday here).
    Week,
    /// `M`
    Month,
    /// `y`
    Year,
}

impl Unit {
    fn parse(c: char) -> Option<Unit> {
        Some(match c {
            's' => Unit::Second,
            'm' => Unit::Minute,
            'h' => Unit::Hour,
            'd' => Unit::Day,
            'w' => Unit::Week,
            'M' => Unit::Month,
            'y' => Unit::Year,
            _ => return None,
        })
    }

    /// Fixed length in ms, for the units that have one.
    fn fixed_ms(self) -> Option<i64> {
        const S: i64 = 1000;
        Some(match self {
            Unit::Second => S,
            Unit::Minute => 60 * S,
            Unit::Hour => 3600 * S,
            Unit::Day => 86_400 * S,
            Unit::Week => 7 * 86_400 * S,
            Unit::Month | Unit::Year => return None,
        })
    }
}

/// One step of a relative expression, applied left to right to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+n<unit>` or `-n<unit>` (`n` signed).
    Add(i64, Unit),
    /// `/<unit>`: round down (a `from` bound) or up to the unit's last ms (a `to` bound).
    Round(Unit),
}

/// One bound of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeExpr {
    /// `now` followed by date-math steps.
    Relative(Vec<Op>),
    /// A fixed instant, epoch ms.
    Absolute(i64),
}

impl TimeExpr {
    /// Parse one bound: `now[±n<unit>…][/<unit>]`, epoch ms digits, or RFC 3339.
    pub fn parse(text: &str) -> std::result::Result<TimeExpr, String> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix("now") {
            return parse_ops(rest).map(TimeExpr::Relative).map_err(|why| {
                format!("bad relative time {text:?}: {why} (expected e.g. now, now-7d, now-1d/d)")
            });
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t
                .parse::<i64>()
                .map(TimeExpr::Absolute)
                .map_err(|e| format!("bad epoch-ms time {text:?}: {e}"));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(TimeExpr::Absolute(dt.timestamp_millis()));
        }
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S") {
            return Ok(TimeExpr::Absolute(naive.and_utc().timestamp_millis()));
        }
        Err(format!(
            "bad time {text:?}: expected now-<n><s|m|h|d|w|M|y>[/<unit>], epoch ms, or RFC 3339"
        ))
    }

    /// Resolve against `now_ms`; `round_up` is true for a range's `to` bound.
    pub fn resolve(&self, now_ms: i64, round_up: bool) -> i64 {
        let ops = match self {
            TimeExpr::Absolute(ms) => return *ms,
            TimeExpr::Relative(ops) => ops,
        };
        let mut t = Utc
            .timestamp_millis_opt(now_ms)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        for op in ops {
            t = match *op {
                Op::Add(n, unit) => add(t, n, unit),
                Op::Round(unit) => {
                    let start = start_of(t, unit);
                    if round_up {
                        let end = add(start, 1, unit);
                        end.checked_sub_signed(chrono::Duration::milliseconds(1))
                            .unwrap_or(end)
                    } else {
                        start
                    }
                }
            };
        }
        t.timestamp_millis()
    }
}

/// The largest offset one `±n<unit>` term may write: 1000 years (chrono's
/// calendar ends near ±262 000 years; a bound keeps every sum far inside it).
const MAX_OFFSET_MS: i64 = 1000 * 365 * 86_400_000;

fn parse_ops(mut rest: &str) -> std::result::Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '/' => {
                let u = rest.chars().next().ok_or("missing unit after '/'")?;
                let unit = Unit::parse(u).ok_or_else(|| format!("unknown unit {u:?}"))?;
                rest = &rest[u.len_utf8()..];
                ops.push(Op::Round(unit));
            }
            '+' | '-' => {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let n: i64 = if digits == 0 {
                    1
                } else {
                    rest[..digits].parse().map_err(|e| format!("{e}"))?
                };
                rest = &rest[digits..];
                let u = rest.chars().next().ok_or("missing unit")?;
                let unit = Unit::parse(u).ok_or_else(|| format!("unknown unit {u:?}"))?;
                rest = &rest[u.len_utf8()..];
                let ms = match unit.fixed_ms() {
                    Some(ms) => n.checked_mul(ms),
                    None if unit == Unit::Year => n.checked_mul(365 * 86_400_000),
                    None => n.checked_mul(30 * 86_400_000),
                };
                if ms.is_none_or(|ms| ms > MAX_OFFSET_MS) {
                    return Err(format!("offset {c}{n}{u} is beyond 1000 years"));
                }
                ops.push(Op::Add(if c == '-' { -n } else { n }, unit));
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(ops)
}

fn add(t: DateTime<Utc>, n: i64, unit: Unit) -> DateTime<Utc> {
    if let Some(ms) = unit.fixed_ms() {
        // Beyond chrono's calendar (many terms): stay put rather than panic.
        return chrono::Duration::try_milliseconds(n.saturating_mul(ms))
            .and_then(|d| t.checked_add_signed(d))
            .unwrap_or(t);
    }
    let months = if unit == Unit::Year {
        n.saturating_mul(12)
    } else {
        n
    };
    let m = Months::new(months.unsigned_abs().min(u32::MAX as u64) as u32);
    let shifted = if months >= 0 {
        t.checked_add_months(m)
    } else {
        t.checked_sub_months(m)
    };
    shifted.unwrap_or(t)
}

fn start_of(t: DateTime<Utc>, unit: Unit) -> DateTime<Utc> {
    let date = t.date_naive();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|n| n.and_utc()).unwrap_or(t);
    match unit {
        Unit::Second => t.with_nanosecond(0).unwrap_or(t),
        Unit::Minute => t
            .with_second(0)
            .and_then(|x| x.with_nanosecond(0))
            .unwrap_or(t),
        Unit::Hour => t
            .with_minute(0)
            .and_then(|x| x.with_second(0))
            .and_then(|x| x.with_nanosecond(0))
            .unwrap_or(t),
        Unit::Day => midnight(date),
        Unit::Week => {
            let back = i64::from(date.weekday().num_days_from_monday());
            midnight(date - chrono::Duration::days(back))
        }
        Unit::Month => midnight(date.with_day(1).unwrap_or(date)),
        Unit::Year => midnight(NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date)),
    }
}

/// The short, stable name of a range, used in request names (`panel <title> [7d]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeClass {
    /// Last hour.
    H1,
    /// Last 6 hours.
    H6,
    /// Last 24 hours (`now-24h` or `now-1d`).
    H24,
    /// Last 7 days.
    D7,
    /// Last 30 days.
    D30,
    /// Last 90 days.
    D90,
    /// `now/d` to `now/d` (or to `now`).
    Today,
    /// Anything else.
    Custom,
}

impl RangeClass {
    /// `1h`, `6h`, `24h`, `7d`, `30d`, `90d`, `today` or `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeClass::H1 => "1h",
            RangeClass::H6 => "6h",
            RangeClass::H24 => "24h",
            RangeClass::D7 => "7d",
            RangeClass::D30 => "30d",
            RangeClass::D90 => "90d",
            RangeClass::Today => "today",
            RangeClass::Custom => "custom",
        }
    }
}

impl std::fmt::Display for RangeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A time-picker range as the user chose it (`from`/`to` kept verbatim too,
/// since Grafana sends the raw form in `range.raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    /// Start bound.
    pub from: TimeExpr,
    /// End bound.
    pub to: TimeExpr,
    /// `from` as written.
    pub raw_from: String,
    /// `to` as written.
    pub raw_to: String,
}

impl TimeRange {
    /// Parse a range; the error names the offending value.
    pub fn parse(from: &str, to: &str) -> Result<TimeRange> {
        let bad = |which: &str, why: String| Error::config(format!("time range {which}"), why);
        Ok(TimeRange {
            from: TimeExpr::parse(from).map_err(|e| bad("from", e))?,
            to: TimeExpr::parse(to).map_err(|e| bad("to", e))?,
            raw_from: from.to_string(),
            raw_to: to.to_string(),
        })
    }

    /// `(from_ms, to_ms)` at `now_ms`; `to` rounds up as Grafana's does.
    pub fn resolve(&self, now_ms: i64) -> (i64, i64) {
        (
            self.from.resolve(now_ms, false),
            self.to.resolve(now_ms, true),
        )
    }

    /// The class name for reports.
    pub fn class(&self) -> RangeClass {
        const H: i64 = 3_600_000;
        const D: i64 = 24 * H;
        let to_now = matches!(&self.to, TimeExpr::Relative(ops) if ops.is_empty());
        let to_today =
            matches!(&self.to, TimeExpr::Relative(ops) if ops == &[Op::Round(Unit::Day)]);
        match &self.from {
            TimeExpr::Relative(ops) if ops == &[Op::Round(Unit::Day)] && (to_now || to_today) => {
                RangeClass::Today
            }
            TimeExpr::Relative(ops) if to_now => match ops.as_slice() {
                [Op::Add(n, unit)] if *n < 0 => {
                    match unit.fixed_ms().and_then(|ms| n.checked_mul(-ms)) {
                        Some(H) => RangeClass::H1,
                        Some(x) if x == 6 * H => RangeClass::H6,
                        Some(D) => RangeClass::H24,
                        Some(x) if x == 7 * D => RangeClass::D7,
                        Some(x) if x == 30 * D => RangeClass::D30,
                        Some(x) if x == 90 * D => RangeClass::D90,
                        _ => RangeClass::Custom,
                    }
                }
                _ => RangeClass::Custom,
            },
            _ => RangeClass::Custom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-11-23T15:42:10.123Z, a Sunday.
    const NOW: i64 = 1_763_912_530_123;
    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn ms(rfc: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn relative_ranges_resolve_against_now() {
        let r = TimeRange::parse("now-7d", "now").unwrap();
        assert_eq!(r.resolve(NOW), (NOW - 7 * D, NOW));
        let r = TimeRange::parse("now-30m", "now").unwrap();
        assert_eq!(r.resolve(NOW), (NOW - 30 * 60_000, NOW));
        let r = TimeRange::parse("now-24h", "now-1h").unwrap();
        assert_eq!(r.resolve(NOW), (NOW - 24 * H, NOW - H));
    }

    #[test]
    fn rounding_goes_down_for_from_and_up_for_to() {
        let r = TimeRange::parse("now/d", "now/d").unwrap();
        assert_eq!(
            r.resolve(NOW),
            (ms("2025-11-23T00:00:00Z"), ms("2025-11-23T23:59:59.999Z"))
        );
        let r = TimeRange::parse("now-1d/d", "now-1d/d").unwrap();
        assert_eq!(
            r.resolve(NOW),
            (ms("2025-11-22T00:00:00Z"), ms("2025-11-22T23:59:59.999Z"))
        );
        let r = TimeRange::parse("now/w", "now").unwrap();
        assert_eq!(r.resolve(NOW).0, ms("2025-11-17T00:00:00Z"));
        let r = TimeRange::parse("now-1M/M", "now-1M/M").unwrap();
        assert_eq!(
            r.resolve(NOW),
            (ms("2025-10-01T00:00:00Z"), ms("2025-10-31T23:59:59.999Z"))
        );
    }

    #[test]
    fn absolute_bounds_parse_as_epoch_ms_or_rfc3339() {
        let r = TimeRange::parse("1763251200000", "2025-11-23T00:00:00.000Z").unwrap();
        assert_eq!(r.resolve(NOW), (1_763_251_200_000, 1_763_856_000_000));
        assert_eq!(r.class(), RangeClass::Custom);
    }

    #[test]
    fn class_names_are_stable() {
        let cases = [
            ("now-1h", "now", "1h"),
            ("now-60m", "now", "1h"),
            ("now-6h", "now", "6h"),
            ("now-24h", "now", "24h"),
            ("now-1d", "now", "24h"),
            ("now-7d", "now", "7d"),
            ("now-30d", "now", "30d"),
            ("now-90d", "now", "90d"),
            ("now/d", "now/d", "today"),
            ("now/d", "now", "today"),
            ("now-2d", "now", "custom"),
            ("now-7d", "now-1d", "custom"),
            ("now-1d/d", "now-1d/d", "custom"),
        ];
        for (from, to, want) in cases {
            let got = TimeRange::parse(from, to).unwrap().class().to_string();
            assert_eq!(got, want, "{from} to {to}");
        }
    }

    #[test]
    fn errors_name_the_offending_value() {
        let err = TimeRange::parse("now-7x", "now").unwrap_err().to_string();
        assert!(
            err.starts_with("time range from: bad relative time \"now-7x\""),
            "{err}"
        );
        let err = TimeRange::parse("now-7d", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"yesterday\""), "{err}");
        assert!(TimeRange::parse("now-", "now").is_err());
    }
}
