//! The run's secrets, and the one redactor every message we record, print or
//! write passes through.
//!
//! A target may echo what it was sent (a 401 page quoting the `Authorization`
//! header): dashload knows the secrets it sends, so it registers each once (the
//! code that builds a request's credentials does, before any request goes out)
//! in every form it travels in: as is, base64 (HTTP Basic auth's `user:password`
//! too), URL-encoded and JSON-escaped. [`redact`] replaces them with `***`.
//! [`for_log`] also makes a message safe for Goose's CSV request log, whose writer
//! quotes commas, quotes and LF but not a bare CR.

use std::borrow::Cow;
use std::sync::RwLock;

use base64::Engine as _;

/// What a secret becomes.
pub const MASK: &str = "***";

/// Longest message kept in the request log (bytes): enough to read, never a body.
pub const MAX_LOGGED: usize = 500;

/// Every registered form of every secret, longest first (a longer form is
/// replaced before a shorter one it contains).
static FORMS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The environment variables the scenario reads secrets from (`password_env`,
/// `token_env`, …): the commands dashload runs do not inherit them.
static VARIABLES: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The variables of dashload's own secrets, whatever the scenario says.
const OWN_VARIABLES: [&str; 2] = ["DASHLOAD_CLUSTER_TOKEN", "DASHLOAD_CLUSTER_TOKEN_FILE"];

/// Register an environment variable a secret is read from (and its `NAME_FILE`
/// form, which names the secret's file).
pub fn register_variable(name: &str) {
    let mut vars = VARIABLES.write().unwrap_or_else(|e| e.into_inner());
    for v in [name.to_string(), format!("{name}_FILE")] {
        if !vars.contains(&v) {
            vars.push(v);
        }
    }
}

/// The variables of this process's environment a child process must not
/// inherit: every registered secret variable, dashload's cluster token, and any
/// variable whose value holds a registered secret.
pub fn secret_variables() -> Vec<std::ffi::OsString> {
    let named = VARIABLES.read().unwrap_or_else(|e| e.into_inner()).clone();
    let forms = FORMS.read().unwrap_or_else(|e| e.into_inner());
    std::env::vars_os()
        .map(|(k, _)| k)
        .filter(|k| {
            let key = k.to_string_lossy();
            OWN_VARIABLES.contains(&key.as_ref()) || named.iter().any(|n| *n == key)
        })
        .chain(std::env::vars_os().filter_map(|(k, v)| {
            let value = v.to_string_lossy();
            forms
                .iter()
                .any(|f| value.contains(f.as_str()))
                .then_some(k)
        }))
        .collect()
}

/// Register a secret value (a password or token) in every form it may come back in.
pub fn register(secret: &str) {
    if secret.is_empty() {
        return;
    }
    let mut forms = vec![secret.to_string()];
    forms.extend(encodings(secret));
    add(forms);
}

/// Register HTTP Basic credentials: the password itself and the header's
/// base64 of `username:password`.
pub fn register_basic(username: &str, password: &str) {
    register(password);
    let pair = format!("{username}:{password}");
    let mut forms = vec![pair.clone()];
    forms.extend(encodings(&pair));
    add(forms);
}

/// The forms a value takes in transit: base64 (padded, unpadded, URL-safe),
/// percent- and form-encoded, JSON-escaped.
fn encodings(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let json = serde_json::to_string(value).unwrap_or_default();
    vec![
        STANDARD.encode(value),
        STANDARD_NO_PAD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        json.trim_matches('"').to_string(),
    ]
}

fn add(new: Vec<String>) {
    let mut forms = FORMS.write().unwrap_or_else(|e| e.into_inner());
    for form in new {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
}

/// `text` with every registered secret form replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let forms = FORMS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for form in forms.iter() {
        if out.contains(form.as_str()) {
            out = Cow::Owned(out.replace(form.as_str(), MASK));
        }
    }
    out
}

/// A message as the request log keeps it: redacted, control characters (CR, LF,
/// NUL, …) written as escapes so every row stays one CSV record, at most
/// [`MAX_LOGGED`] bytes.
pub fn for_log(text: &str) -> String {
    let text = redact(text);
    let mut out = String::with_capacity(text.len().min(MAX_LOGGED + 8));
    for c in text.chars() {
        let escaped;
        let piece: &str = match c {
            '\r' => "\\r",
            '\n' => "\\n",
            '\t' => " ",
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                escaped = format!("\\u{{{:x}}}", c as u32);
                &escaped
            }
            c => {
                escaped = c.to_string();
                &escaped
            }
        };
        if out.len() + piece.len() > MAX_LOGGED {
            out.push('…');
            break;
        }
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_masked() {
        register("s3cr3t/+=tok");
        register_basic("alice", "pa:ss w\"rd");
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss w\"rd");
        for (text, leak) in [
            ("Authorization: Token s3cr3t/+=tok", "s3cr3t"),
            (&*format!("Authorization: Basic {basic}"), &*basic),
            ("q=s3cr3t%2F%2B%3Dtok", "s3cr3t"),
            (r#"{"echo":"pa:ss w\"rd"}"#, "pa:ss"),
            ("pw=pa%3Ass+w%22rd", "pa%3Ass"),
        ] {
            let out = redact(text);
            assert!(!out.contains(leak), "{text} → {out}");
            assert!(out.contains(MASK), "{text} → {out}");
        }
        assert_eq!(redact("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn logged_messages_are_one_line_and_bounded() {
        assert_eq!(for_log("a\rb"), "a\\rb");
        assert_eq!(for_log("x\ny,\"z"), "x\\ny,\"z");
        assert_eq!(for_log("nul\0here"), "nul\\u{0}here");
        let long = for_log(&"é".repeat(1000));
        assert!(long.len() <= MAX_LOGGED + '…'.len_utf8(), "{}", long.len());
        assert!(long.ends_with('…'));
    }

    mod proptests {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::proptest_support::config(256))]

            #[test]
            fn prop_logged_messages_are_one_csv_field(text in any::<String>()) {
                let logged = for_log(&text);
                prop_assert!(logged.len() <= MAX_LOGGED + '…'.len_utf8());
                prop_assert!(!logged.chars().any(char::is_control), "{:?}", logged);
                // Through Goose's writer rule (quote when `"`, `,` or LF) and back: one field.
                let cell = if logged.contains(['"', ',', '\n']) {
                    format!("\"{}\"", logged.replace('"', "\"\""))
                } else {
                    logged.clone()
                };
                let row = format!("a,{cell},b\n");
                let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(row.as_bytes());
                let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
                prop_assert_eq!(records.len(), 1);
                prop_assert_eq!(&records[0][1], logged.as_str());
            }

            #[test]
            fn prop_a_registered_secret_never_survives(secret in "[A-Za-z0-9]{12,24}", before in ".{0,40}", after in ".{0,40}") {
                register(&secret);
                let text = format!("{before}{secret}{after}");
                let out = redact(&text);
                prop_assert!(!out.contains(secret.as_str()), "{:?} → {:?}", text, out);
                prop_assert!(out.contains(MASK));
            }
        }
    }
}
