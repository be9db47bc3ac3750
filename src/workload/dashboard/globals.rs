//! Grafana's global variables that are not about the range or the panel:
//! `__user`, `__org` (`addSystemTemplateVariables` in
//! `public/app/features/variables/state/actions.ts`: `${__user}` is the user's
//! id, `.login`, `.id`, `.email`; `${__org}` the org's id, `.name`, `.id`),
//! `__timezone` (`public/app/features/templating/macroRegistry.ts`: the
//! dashboard's zone, or the browser's for `browser`), and the moment.js
//! patterns of `${__from:date:YYYY-MM-DD}` (the `date` format of
//! `formatRegistry.ts`: `dateTime(ms).format(pattern)`).
//!
//! The user and org are the scenario's (`[viewers.user]`, `[viewers.org]`);
//! defaults are a fresh Grafana's (`admin`, id 1, `Main Org.`, id 1).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// Who the viewers are, and their browser's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    /// `${__user.login}`.
    pub user_login: String,
    /// `${__user.id}` (and `${__user}`).
    pub user_id: u64,
    /// `${__user.email}`.
    pub user_email: String,
    /// `${__org.id}` (and `${__org}`).
    pub org_id: u64,
    /// `${__org.name}`.
    pub org_name: String,
    /// `${__timezone}`: the dashboard's zone, or the browser's.
    pub timezone: String,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            user_login: "admin".into(),
            user_id: 1,
            user_email: "admin@localhost".into(),
            org_id: 1,
            org_name: "Main Org.".into(),
            timezone: "UTC".into(),
        }
    }
}

/// `dateTime(ms).format(pattern)` of moment.js, in UTC (the zone the
/// emulated browser runs in): the tokens below; a letter that is no token
/// and text in `[…]` are written as they are, as moment does.
pub fn moment_format(ms: i64, pattern: &str) -> String {
    let t: DateTime<Utc> = DateTime::from_timestamp_millis(ms).unwrap_or_default();
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let month = t.month0() as usize;
    let weekday = t.weekday().num_days_from_sunday() as usize;
    let h12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let ordinal = |n: u32| {
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        format!("{n}{suffix}")
    };
    // Longest tokens first, as moment's tokenizer takes them.
    let tokens: [(&str, String); 28] = [
        ("YYYY", format!("{:04}", t.year())),
        ("MMMM", MONTHS[month].to_string()),
        ("dddd", DAYS[weekday].to_string()),
        ("MMM", MONTHS[month][..3].to_string()),
        ("ddd", DAYS[weekday][..3].to_string()),
        ("SSS", format!("{:03}", t.timestamp_subsec_millis())),
        ("DDDD", format!("{:03}", t.ordinal())),
        ("YY", format!("{:02}", t.year().rem_euclid(100))),
        ("MM", format!("{:02}", t.month())),
        ("DD", format!("{:02}", t.day())),
        ("Do", ordinal(t.day())),
        ("HH", format!("{:02}", t.hour())),
        ("hh", format!("{h12:02}")),
        ("mm", format!("{:02}", t.minute())),
        ("ss", format!("{:02}", t.second())),
        ("ZZ", "+0000".into()),
        ("Z", "+00:00".into()),
        ("Q", (month / 3 + 1).to_string()),
        ("M", t.month().to_string()),
        ("D", t.day().to_string()),
        ("d", weekday.to_string()),
        ("H", t.hour().to_string()),
        ("h", h12.to_string()),
        ("m", t.minute().to_string()),
        ("s", t.second().to_string()),
        ("A", if t.hour() < 12 { "AM" } else { "PM" }.into()),
        ("X", t.timestamp().to_string()),
        ("x", ms.to_string()),
    ];
    let mut out = String::new();
    let mut rest = pattern;
    'outer: while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            if let Some(end) = inner.find(']') {
                out.push_str(&inner[..end]);
                rest = &inner[end + 1..];
                continue;
            }
        }
        for (token, value) in &tokens {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(value);
                rest = after;
                continue 'outer;
            }
        }
        if let Some(after) = rest.strip_prefix('a') {
            out.push_str(if t.hour() < 12 { "am" } else { "pm" });
            rest = after;
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moment_patterns_as_grafanas_date_format_writes_them() {
        // 2026-01-01T12:34:56.789Z, a Thursday.
        let ms = 1_767_270_896_789;
        let cases = [
            ("YYYY-MM", "2026-01"),
            ("YYYY-MM-DD HH:mm:ss.SSS", "2026-01-01 12:34:56.789"),
            ("DD/MM/YY", "01/01/26"),
            ("MMM Do, h:mm A", "Jan 1st, 12:34 PM"),
            ("dddd [week] Q", "Thursday week 1"),
            ("X", "1767270896"),
            ("x", "1767270896789"),
            ("YYYY-MM-DDTHH:mm:ssZ", "2026-01-01T12:34:56+00:00"),
        ];
        for (pattern, want) in cases {
            assert_eq!(moment_format(ms, pattern), want, "{pattern}");
        }
    }
}
