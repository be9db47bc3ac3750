//! Formatting every output shares: HTML escaping, percentages, durations and
//! clock times, capitalisation. Not an output itself: outputs, charts and the
//! run index import it so that none has to import another output.

use chrono::{DateTime, Utc};

/// Escape text for HTML (and XML) element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Free text for a page: `http://`/`https://` schemes removed (so nothing
/// even looks like a link out), then escaped.
pub fn text(s: &str) -> String {
    escape(&s.replace("https://", "").replace("http://", ""))
}

/// `text` with its first letter in upper case.
pub fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// A rate as a percentage with two decimals, "—" without one.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".into(), |e| format!("{:.2} %", e * 100.0))
}

/// `ms` as people read it: `17 s`, `5.5 s`.
pub fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `x` s after `start` as a UTC wall-clock time, HH:MM:SS.
pub fn clock(start: DateTime<Utc>, x: f64) -> String {
    match chrono::Duration::try_milliseconds((x * 1000.0).round() as i64)
        .and_then(|d| start.checked_add_signed(d))
    {
        Some(t) => t.format("%H:%M:%S").to_string(),
        None => format!("+{x:.0} s"),
    }
}

/// Counts by reason, most common wording kept as given: "2× 3504 connection
/// limit, 1× 3008 slow".
pub fn counted(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(reason, n)| format!("{n}× {reason}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_the_outputs_print_them() {
        assert_eq!(
            escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert_eq!(
            text("see http://127.0.0.1:3000/d <b>"),
            "see 127.0.0.1:3000/d &lt;b&gt;"
        );
        assert_eq!(capitalised("élan vital"), "Élan vital");
        assert_eq!(percent(Some(0.0612)), "6.12 %");
        assert_eq!(percent(None), "—");
        assert_eq!(seconds(17_000), "17 s");
        assert_eq!(seconds(5_500), "5.5 s");
        let start = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(clock(start, 61.0), "20:01:01");
    }
}
