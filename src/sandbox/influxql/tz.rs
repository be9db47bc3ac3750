//! Time zones for `tz('…')`: UTC offsets with EU and US daylight-saving rules.
//!
//! The crate carries no tz database, so this knows the zones dashboards use (UTC, the EU
//! zones, the main US and a few fixed-offset Asian zones) with the current DST rules
//! (EU: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC; US: second
//! Sunday of March 02:00 local to first Sunday of November 02:00 local). Any other name
//! is refused the way InfluxDB refuses an unknown zone.

use chrono::{DateTime, Datelike, NaiveDate, Weekday};

/// A supported time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tz {
    std_offset_s: i32,
    rule: DstRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DstRule {
    None,
    Eu,
    Us,
}

const ZONES: &[(&str, i32, DstRule)] = &[
    ("UTC", 0, DstRule::None),
    ("Etc/UTC", 0, DstRule::None),
    ("GMT", 0, DstRule::None),
    ("Europe/London", 0, DstRule::Eu),
    ("Europe/Dublin", 0, DstRule::Eu),
    ("Europe/Lisbon", 0, DstRule::Eu),
    ("Europe/Berlin", 3600, DstRule::Eu),
    ("Europe/Paris", 3600, DstRule::Eu),
    ("Europe/Amsterdam", 3600, DstRule::Eu),
    ("Europe/Brussels", 3600, DstRule::Eu),
    ("Europe/Vienna", 3600, DstRule::Eu),
    ("Europe/Zurich", 3600, DstRule::Eu),
    ("Europe/Madrid", 3600, DstRule::Eu),
    ("Europe/Rome", 3600, DstRule::Eu),
    ("Europe/Stockholm", 3600, DstRule::Eu),
    ("Europe/Oslo", 3600, DstRule::Eu),
    ("Europe/Copenhagen", 3600, DstRule::Eu),
    ("Europe/Prague", 3600, DstRule::Eu),
    ("Europe/Warsaw", 3600, DstRule::Eu),
    ("Europe/Budapest", 3600, DstRule::Eu),
    ("Europe/Helsinki", 7200, DstRule::Eu),
    ("Europe/Athens", 7200, DstRule::Eu),
    ("Europe/Kyiv", 7200, DstRule::Eu),
    ("Europe/Riga", 7200, DstRule::Eu),
    ("Europe/Tallinn", 7200, DstRule::Eu),
    ("Europe/Vilnius", 7200, DstRule::Eu),
    ("Europe/Bucharest", 7200, DstRule::Eu),
    ("Europe/Sofia", 7200, DstRule::Eu),
    ("America/New_York", -5 * 3600, DstRule::Us),
    ("America/Toronto", -5 * 3600, DstRule::Us),
    ("America/Chicago", -6 * 3600, DstRule::Us),
    ("America/Denver", -7 * 3600, DstRule::Us),
    ("America/Phoenix", -7 * 3600, DstRule::None),
    ("America/Los_Angeles", -8 * 3600, DstRule::Us),
    ("America/Vancouver", -8 * 3600, DstRule::Us),
    ("Asia/Tokyo", 9 * 3600, DstRule::None),
    ("Asia/Shanghai", 8 * 3600, DstRule::None),
    ("Asia/Singapore", 8 * 3600, DstRule::None),
    ("Asia/Kolkata", 19_800, DstRule::None),
    ("Asia/Dubai", 4 * 3600, DstRule::None),
];

impl Tz {
    /// Look a zone up by its IANA name; the error is InfluxDB's.
    pub fn lookup(name: &str) -> Result<Tz, String> {
        ZONES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, std_offset_s, rule)| Tz { std_offset_s, rule })
            .ok_or_else(|| format!("unable to find time zone {name}"))
    }

    /// UTC offset at instant `t_ns`, in ns.
    pub fn offset_ns(&self, t_ns: i64) -> i64 {
        i64::from(self.offset_s(t_ns.div_euclid(1_000_000_000))) * 1_000_000_000
    }

    fn offset_s(&self, t_s: i64) -> i32 {
        let dst = match self.rule {
            DstRule::None => false,
            DstRule::Eu => {
                let year = year_of(t_s);
                let start = nth_sunday_utc(year, 3, Nth::Last) + 3600;
                let end = nth_sunday_utc(year, 10, Nth::Last) + 3600;
                (start..end).contains(&t_s)
            }
            DstRule::Us => {
                let year = year_of(t_s);
                let std = i64::from(self.std_offset_s);
                let start = nth_sunday_utc(year, 3, Nth::Second) + 2 * 3600 - std;
                let end = nth_sunday_utc(year, 11, Nth::First) + 2 * 3600 - (std + 3600);
                (start..end).contains(&t_s)
            }
        };
        self.std_offset_s + if dst { 3600 } else { 0 }
    }
}

enum Nth {
    First,
    Second,
    Last,
}

fn year_of(t_s: i64) -> i32 {
    DateTime::from_timestamp(t_s, 0).map_or(1970, |d| d.year())
}

/// Midnight UTC (epoch s) of the given Sunday of `month`.
fn nth_sunday_utc(year: i32, month: u32, nth: Nth) -> i64 {
    let day = match nth {
        Nth::First | Nth::Second => {
            let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month");
            let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
            let d = 1 + to_sunday;
            if matches!(nth, Nth::Second) {
                d + 7
            } else {
                d
            }
        }
        Nth::Last => {
            let next = if month == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(year, month + 1, 1)
            }
            .expect("valid month");
            let last = next.pred_opt().expect("a day before");
            let back = last.weekday().num_days_from_sunday();
            last.day() - back
        }
    };
    let date = NaiveDate::from_ymd_opt(year, month, day).expect("valid day");
    debug_assert_eq!(date.weekday(), Weekday::Sun);
    date.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    #[test]
    fn berlin_switches_on_the_last_sundays_of_march_and_october() {
        let tz = Tz::lookup("Europe/Berlin").unwrap();
        const H: i64 = 3_600_000_000_000;
        assert_eq!(tz.offset_ns(at("2025-03-30T00:59:59Z")), H);
        assert_eq!(tz.offset_ns(at("2025-03-30T01:00:00Z")), 2 * H);
        assert_eq!(tz.offset_ns(at("2025-10-26T00:59:59Z")), 2 * H);
        assert_eq!(tz.offset_ns(at("2025-10-26T01:00:00Z")), H);
    }

    #[test]
    fn new_york_switches_at_two_local() {
        let tz = Tz::lookup("America/New_York").unwrap();
        const H: i64 = 3_600_000_000_000;
        assert_eq!(tz.offset_ns(at("2025-03-09T06:59:59Z")), -5 * H);
        assert_eq!(tz.offset_ns(at("2025-03-09T07:00:00Z")), -4 * H);
        assert_eq!(tz.offset_ns(at("2025-11-02T05:59:59Z")), -4 * H);
        assert_eq!(tz.offset_ns(at("2025-11-02T06:00:00Z")), -5 * H);
        assert_eq!(
            Tz::lookup("Mars/Olympus").unwrap_err(),
            "unable to find time zone Mars/Olympus"
        );
    }
}
