//! Human durations (`500ms`, `30s`, `1m30s`, `2h`), ranges of them (`2s..8s`),
//! and percentages (`5%`), as scenario files write them.

use std::time::Duration;

/// The longest duration a scenario may write (365 days); each field has its own,
/// narrower range (see `limits`).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);

/// Parse `500ms`, `30s`, `1.5s`, `1m30s`, `2h`, `1d`. A bare `0` is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let expected = "expected a duration such as 500ms, 30s, 1m30s or 2h";
    if s.is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}` has no unit: {expected}"))?;
        if num_len == 0 {
            return Err(format!("`{text}` is not a duration: {expected}"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: {expected}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            unit => return Err(format!("`{text}` has unknown unit `{unit}`: {expected}")),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    // Checked before converting: `Duration::from_secs_f64` panics on huge values.
    if !total.is_finite() || total > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "`{text}` is above the longest duration a scenario may write, {}",
            format_duration(MAX_DURATION)
        ));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parse a range `2s..8s` (or a single duration, meaning exactly that).
pub fn parse_duration_range(text: &str) -> Result<(Duration, Duration), String> {
    match text.split_once("..") {
        Some((lo, hi)) => {
            let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
            if lo > hi {
                return Err(format!(
                    "`{text}`: the lower bound is above the upper bound"
                ));
            }
            Ok((lo, hi))
        }
        None => parse_duration(text).map(|d| (d, d)),
    }
}

/// Parse a percentage `5%` or `0.5%` into a fraction (0.05, 0.005).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("`{text}` is not a percentage: expected e.g. 1% or 0.5%"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage: expected e.g. 1% or 0.5%"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("`{text}` is outside 0%..100%"));
    }
    Ok(value / 100.0)
}

/// Format a duration the way scenario files write it (`1m30s`, `500ms`, `7d`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= len {
            out.push_str(&format!("{}{unit}", s / len));
            s %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn bad_durations_name_the_value_and_the_expected_form() {
        let e = parse_duration("30").unwrap_err();
        assert!(e.contains("`30` has no unit"), "{e}");
        let e = parse_duration("3 parsecs").unwrap_err();
        assert!(e.contains("unknown unit"), "{e}");
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn huge_durations_are_refused_with_their_value_not_a_panic() {
        for text in [
            "99999999999999999999999d",
            "9".repeat(400).as_str(),
            "366d",
            "1d8761h",
        ] {
            let text = format!(
                "{text}{}",
                if text.ends_with(char::is_alphabetic) {
                    ""
                } else {
                    "s"
                }
            );
            let e = parse_duration(&text).unwrap_err();
            assert_eq!(
                e,
                format!("`{text}` is above the longest duration a scenario may write, 365d")
            );
        }
        assert_eq!(parse_duration("365d").unwrap(), MAX_DURATION);
    }

    #[test]
    fn ranges_and_percentages() {
        assert_eq!(
            parse_duration_range("2s..8s").unwrap(),
            (Duration::from_secs(2), Duration::from_secs(8))
        );
        assert!(parse_duration_range("8s..2s").is_err());
        assert_eq!(parse_percent("5%").unwrap(), 0.05);
        assert!(parse_percent("5").is_err());
        assert!(parse_percent("150%").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for s in ["1m30s", "500ms", "2h", "45s", "1h1m1s", "7d", "1d2h"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
