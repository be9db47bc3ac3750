//! A stage's or stress step's `hold`: a fixed length (`"30s"`), or
//! `"until judged, at most 90s"`, a hold that ends as soon as every SLO and
//! regression figure of its window has the samples its judgement needs
//! (`crate::judged_hold`), and at the latest after the cap.

/// The phrase that makes a hold last until judged.
pub const UNTIL_JUDGED: &str = "until judged";

/// What a `hold` value says, before its duration is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldText<'a> {
    /// The fixed length, or the cap of an until-judged hold, as written.
    pub length: &'a str,
    /// True for `"until judged, at most X"`.
    pub until_judged: bool,
}

/// Split a `hold` value: `"30s"` or `"until judged, at most 90s"` (spaces and
/// case around the words are free). An until-judged hold without its cap, or
/// any other wording, is refused with the syntax to write.
pub fn parse_hold(text: &str) -> Result<HoldText<'_>, String> {
    let trimmed = text.trim();
    let syntax = "write a duration such as \"30s\", or \"until judged, at most 90s\"";
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let first = words.first().map(|w| w.to_ascii_lowercase());
    if first.as_deref() != Some("until") {
        return Ok(HoldText {
            length: trimmed,
            until_judged: false,
        });
    }
    let Some(rest) = strip_words(trimmed, &["until", "judged"]) else {
        return Err(format!("hold `{text}`: {syntax}"));
    };
    if rest.is_empty() {
        return Err(format!(
            "hold `{text}` has no cap: an until-judged hold ends at the latest after its cap; write \"until judged, at most 90s\""
        ));
    }
    let Some(rest) = rest.strip_prefix(',') else {
        return Err(format!("hold `{text}`: {syntax}"));
    };
    let Some(cap) = strip_words(rest, &["at", "most"]) else {
        return Err(format!("hold `{text}`: {syntax}"));
    };
    if cap.is_empty() {
        return Err(format!(
            "hold `{text}` has no cap after `at most`: write \"until judged, at most 90s\""
        ));
    }
    Ok(HoldText {
        length: cap,
        until_judged: true,
    })
}

/// `text` without its leading `words` (case-insensitive, any spaces), trimmed.
fn strip_words<'a>(text: &'a str, words: &[&str]) -> Option<&'a str> {
    let mut rest = text.trim_start();
    for word in words {
        let head = rest.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word) {
            return None;
        }
        rest = &rest[word.len()..];
        // A whole word: `untiljudged` or `judgedx` is not the phrase.
        if rest.starts_with(|c: char| c.is_alphanumeric()) {
            return None;
        }
        rest = rest.trim_start();
    }
    Some(rest.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_duration_is_a_fixed_hold() {
        assert_eq!(
            parse_hold(" 30s "),
            Ok(HoldText {
                length: "30s",
                until_judged: false
            })
        );
    }

    #[test]
    fn until_judged_takes_its_cap() {
        for text in [
            "until judged, at most 90s",
            "Until Judged ,  at most 90s ",
            "until judged,at most 90s",
        ] {
            assert_eq!(
                parse_hold(text),
                Ok(HoldText {
                    length: "90s",
                    until_judged: true
                }),
                "{text}"
            );
        }
        assert_eq!(
            parse_hold("until judged, at most 1m30s").unwrap().length,
            "1m30s"
        );
    }

    #[test]
    fn an_until_judged_hold_needs_its_cap_and_the_exact_words() {
        let e = parse_hold("until judged").unwrap_err();
        assert!(e.contains("has no cap"), "{e}");
        let e = parse_hold("until judged, at most").unwrap_err();
        assert!(e.contains("no cap after `at most`"), "{e}");
        for text in [
            "until done, at most 90s",
            "until judged at most 90s",
            "until judged, at least 90s",
            "until judgedx, at most 90s",
            "until",
        ] {
            let e = parse_hold(text).unwrap_err();
            assert!(e.contains("until judged, at most 90s"), "{text}: {e}");
        }
    }
}
