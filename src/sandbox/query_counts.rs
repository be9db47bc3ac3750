//! Queries received, counted per text, so a test (or an operator comparing two
//! modes of one workload) can check which queries a run sent, not only how many.
//!
//! Two runs of one workload at different times differ only in their absolute
//! time bounds, so each epoch-millisecond literal (`1765000000000ms`, what
//! `$timeFilter` expands to) is written relative to the query's first one
//! (`t0`, `t0+604800000ms`). The table is bounded: past [`MAX_TEXTS`] distinct
//! texts the rest count under [`OTHER`], and a text is cut at [`MAX_KEY_BYTES`].

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Distinct texts kept.
pub const MAX_TEXTS: usize = 10_000;
/// Longest text kept, bytes (cut at a character boundary, marked `…`).
pub const MAX_KEY_BYTES: usize = 2048;
/// Where queries go once [`MAX_TEXTS`] texts are kept.
pub const OTHER: &str = "(other queries)";

/// Counts per relative text.
#[derive(Default)]
pub struct QueryCounts(Mutex<BTreeMap<String, u64>>);

impl QueryCounts {
    /// Count one received query.
    pub fn count(&self, query: &str) {
        let key = relative(query);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = if map.len() >= MAX_TEXTS && !map.contains_key(&key) {
            OTHER.to_string()
        } else {
            key
        };
        *map.entry(key).or_insert(0) += 1;
    }

    /// What was counted so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// `query` with its epoch-ms literals (12+ digits then `ms`) made relative to
/// the first, trimmed and cut to [`MAX_KEY_BYTES`].
pub fn relative(query: &str) -> String {
    let bytes = query.trim().as_bytes();
    let text = query.trim();
    let mut out = String::with_capacity(text.len().min(MAX_KEY_BYTES));
    let mut base: Option<i128> = None;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let starts_word = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if digits >= 12 && starts_word && bytes[i + digits..].starts_with(b"ms") {
            let end = i + digits + 2;
            let after_ok = bytes
                .get(end)
                .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
            if let (true, Ok(t)) = (after_ok, text[i..i + digits].parse::<i128>()) {
                out.push_str(&text[copied..i]);
                match base {
                    None => {
                        base = Some(t);
                        out.push_str("t0");
                    }
                    Some(b) if t >= b => out.push_str(&format!("t0+{}ms", t - b)),
                    Some(b) => out.push_str(&format!("t0-{}ms", b - t)),
                }
                copied = end;
                i = end;
                continue;
            }
        }
        i += digits.max(1);
    }
    out.push_str(&text[copied..]);
    if out.len() > MAX_KEY_BYTES {
        let mut cut = MAX_KEY_BYTES;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds_become_relative_to_the_first_so_two_runs_compare() {
        let a = "SELECT sum(\"hours\") FROM \"entries\" WHERE time >= 1765000000000ms and time <= 1765604800000ms GROUP BY time(1h)";
        let b = "SELECT sum(\"hours\") FROM \"entries\" WHERE time >= 1765003600000ms and time <= 1765608400000ms GROUP BY time(1h)";
        assert_eq!(relative(a), relative(b));
        assert_eq!(
            relative(a),
            "SELECT sum(\"hours\") FROM \"entries\" WHERE time >= t0 and time <= t0+604800000ms GROUP BY time(1h)"
        );
        // Another span is another query; short numbers and names stay as sent.
        let c = "SELECT x FROM m WHERE time >= 1765000000000ms and time <= 1765086400000ms AND a = '123456789012345ms' LIMIT 10";
        assert_ne!(relative(a), relative(c));
        assert!(relative(c).contains("t0+86400000ms"), "{}", relative(c));
        assert_eq!(
            relative("SELECT x1765000000000ms FROM m"),
            "SELECT x1765000000000ms FROM m"
        );
        assert_eq!(
            relative("WHERE time <= 1765000000000ms and time >= 1764000000000ms"),
            "WHERE time <= t0 and time >= t0-1000000000ms"
        );
    }

    #[test]
    fn the_table_is_bounded_in_texts_and_bytes() {
        let counts = QueryCounts::default();
        for i in 0..MAX_TEXTS + 5 {
            counts.count(&format!("SELECT {i} FROM m"));
        }
        counts.count("SELECT 0 FROM m");
        let map = counts.snapshot();
        assert_eq!(map.len(), MAX_TEXTS + 1);
        assert_eq!(map[OTHER], 5);
        assert_eq!(map["SELECT 0 FROM m"], 2);
        let long = format!("SELECT {} FROM m", "é".repeat(4000));
        let key = relative(&long);
        assert!(key.len() <= MAX_KEY_BYTES + '…'.len_utf8() && key.ends_with('…'));
    }
}
