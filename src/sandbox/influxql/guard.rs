//! Bounds on what one query may ask of the sandbox: its length, its number of
//! statements, how deeply it nests, and how large its regexes compile.
//!
//! InfluxDB (Go) has none of these in its parser: goroutine stacks grow to 1 GB, so
//! nesting costs it memory, not a crash. Our parser and evaluator recurse on a fixed
//! thread stack (2 MiB for tokio's workers), so the sandbox refuses what would
//! overflow it, with InfluxDB's parse-error shape (`… at line L, char C`, answered as
//! 400 `{"error":"error parsing query: …"}`). The limits sit far above what Grafana
//! and the shipped dashboards send (a handful of statements, nesting under 20).

use regex::{Regex, RegexBuilder};

/// Longest query text (bytes). A 1 MiB query tokenizes into at most ~50 MB.
pub const MAX_QUERY_BYTES: usize = 1 << 20;

/// Most statements in one query (Grafana sends one per panel target).
pub const MAX_STATEMENTS: usize = 100;

/// Deepest nesting of parentheses, calls and unary minus: the parser recurses once
/// per level, with frames of 5–10 KB in debug builds (100 levels fit a 1 MiB stack,
/// 200 do not; Flux caps the same at 80).
pub const MAX_NESTING: usize = 64;

/// Tallest expression tree: an operator chain (`a OR b OR …`) is as tall as it is
/// long, and evaluating, compiling and dropping it recurse over that height
/// (0.5–1 KB a level in debug builds: 1,000 fit a 1 MiB stack, 2,000 do not).
pub const MAX_EXPR_HEIGHT: usize = 500;

/// Most fields of one `SELECT`: each aggregate is a column over every bucket, so
/// fields times `max-select-buckets` bounds the cells one series can produce.
pub const MAX_FIELDS: usize = 200;

/// Deepest `FROM (SELECT …)` nesting; each level runs a whole `SELECT`.
pub const MAX_SUBQUERY_DEPTH: usize = 32;

/// Compiled-program limit of one regex (the `regex` crate's default is 10 MiB);
/// an alternation of a few thousand tag values fits.
pub const REGEX_SIZE_LIMIT: usize = 2 << 20;

/// Lazy-DFA cache limit of one regex (the crate's default is 2 MiB).
pub const REGEX_DFA_SIZE_LIMIT: usize = 2 << 20;

/// Compile a query's regex within the limits. Errors read like Go's `regexp`
/// (`error parsing regexp: expression too large: …`), with a long pattern shortened.
pub fn regex(src: &str) -> Result<Regex, String> {
    RegexBuilder::new(src)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => format!(
                "error parsing regexp: expression too large: `{}`",
                shorten(src)
            ),
            // The crate's message repeats the whole pattern; keep its last line.
            other => {
                let text = other.to_string();
                let reason = text.lines().last().unwrap_or_default().trim();
                let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                format!("invalid regular expression /{}/: {reason}", shorten(src))
            }
        })
}

/// At most 64 characters of `s`, with `…` when cut.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::RwLock;

    use super::*;
    use crate::sandbox::influxql::{parse_query, run_query, Limits};
    use crate::sandbox::lineproto::{parse_batch, write_batch, Precision};
    use crate::sandbox::store::Store;

    /// Half of a tokio worker's 2 MiB: the limits must leave that much margin.
    const SMALL_STACK: usize = 1 << 20;

    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    fn store() -> RwLock<Store> {
        let mut store = Store::with_databases(["toggl"]);
        let data =
            "time_entry,project=A duration_s=3600i 0\ntime_entry,project=B duration_s=60i 600\n";
        write_batch(
            store.database_mut("toggl").unwrap(),
            &parse_batch(data, Precision::Seconds, 0),
        );
        RwLock::new(store)
    }

    /// The shapes that overflowed the stack (issue 12, item 9), at a given size.
    fn deep(n: usize) -> Vec<(&'static str, String)> {
        vec![
            (
                "parentheses",
                format!(
                    "SELECT {}duration_s{} FROM time_entry",
                    "(".repeat(n),
                    ")".repeat(n)
                ),
            ),
            (
                "subqueries",
                format!(
                    "SELECT duration_s FROM {}time_entry{}",
                    "(SELECT duration_s FROM ".repeat(n),
                    ")".repeat(n)
                ),
            ),
            (
                "unary minus",
                format!("SELECT {}duration_s FROM time_entry", "- ".repeat(n)),
            ),
            (
                "chain",
                format!(
                    "SELECT {}duration_s FROM time_entry",
                    "duration_s + ".repeat(n)
                ),
            ),
            (
                "OR chain",
                format!(
                    "SELECT duration_s FROM time_entry WHERE {}project = 'A'",
                    "project = 'A' OR ".repeat(n)
                ),
            ),
            (
                "calls",
                format!(
                    "SELECT {}duration_s{} FROM time_entry",
                    "abs(".repeat(n),
                    ")".repeat(n)
                ),
            ),
        ]
    }

    #[test]
    fn deep_nesting_is_a_parse_error_with_a_position_not_a_stack_overflow() {
        for (what, q) in [deep(5_000), deep(20_000)].concat() {
            let err = on_small_stack(move || parse_query(&q).map(|_| ()).unwrap_err().message);
            assert!(
                ["nest too deeply", "nests too deeply", "expression too long"]
                    .iter()
                    .any(|m| err.contains(m)),
                "{what}: {err}"
            );
            assert!(err.contains(" at line 1, char "), "{what}: {err}");
        }
    }

    #[test]
    fn max_nesting_fits_half_a_worker_stack() {
        // Just under every limit: parses, runs, and drops on a 1 MiB stack.
        let cases = [
            ("parentheses", MAX_NESTING - 1),
            ("subqueries", MAX_SUBQUERY_DEPTH),
            ("unary minus", MAX_NESTING - 1),
            ("chain", MAX_EXPR_HEIGHT - 1),
            ("OR chain", MAX_EXPR_HEIGHT - 2),
            ("calls", MAX_NESTING - 1),
        ];
        for (what, n) in cases {
            let q = deep(n).into_iter().find(|(w, _)| *w == what).unwrap().1;
            let outcome = on_small_stack(move || {
                let store = store();
                run_query(&store, Some("toggl"), &q, 0, Limits::default())
                    .map(|out| out.results.len())
                    .map_err(|e| e.message)
            });
            assert_eq!(outcome, Ok(1), "{what} at {n}");
        }
        for (what, n) in [
            ("parentheses", MAX_NESTING + 1),
            ("subqueries", MAX_SUBQUERY_DEPTH + 1),
            ("unary minus", MAX_NESTING + 1),
            ("chain", MAX_EXPR_HEIGHT),
            ("OR chain", MAX_EXPR_HEIGHT),
            ("calls", MAX_NESTING + 1),
        ] {
            let q = deep(n).into_iter().find(|(w, _)| *w == what).unwrap().1;
            assert!(
                parse_query(&q).is_err(),
                "{what} just over the limit parses"
            );
        }
    }

    #[test]
    fn long_queries_and_many_statements_are_parse_errors_with_a_position() {
        let long = format!(
            "SELECT duration_s FROM time_entry WHERE project = '{}'",
            "x".repeat(MAX_QUERY_BYTES)
        );
        let err = parse_query(&long).unwrap_err().message;
        assert!(err.starts_with("query too long ("), "{err}");
        assert!(
            err.ends_with(&format!("at line 1, char {}", MAX_QUERY_BYTES + 1)),
            "{err}"
        );
        let many = "SHOW DATABASES;".repeat(MAX_STATEMENTS + 1);
        let err = parse_query(&many).unwrap_err().message;
        assert_eq!(
            err,
            format!(
                "too many statements (more than {MAX_STATEMENTS}) at line 1, char {}",
                MAX_STATEMENTS * 15 + 1
            )
        );
        assert!(parse_query(&"SHOW DATABASES;".repeat(MAX_STATEMENTS)).is_ok());
        let wide = |n: usize| format!("SELECT {} FROM m", vec!["mean(x)"; n].join(","));
        assert!(parse_query(&wide(MAX_FIELDS)).is_ok());
        let err = parse_query(&wide(MAX_FIELDS + 1)).unwrap_err().message;
        assert_eq!(
            err,
            format!(
                "too many fields (more than {MAX_FIELDS}) at line 1, char {}",
                7 + MAX_FIELDS * 8 + 1
            )
        );
    }

    #[test]
    fn regexes_over_the_size_limit_are_refused_and_tag_alternations_fit() {
        let err = regex("(a{1000}){1000}").unwrap_err();
        assert!(
            err.starts_with("error parsing regexp: expression too large: `(a{1000})"),
            "{err}"
        );
        let names: Vec<String> = (0..3000).map(|i| format!("user-{i:05}")).collect();
        assert!(regex(&format!("^({})$", names.join("|"))).is_ok());
        let long = format!("({}", "x".repeat(500));
        let err = regex(&long).unwrap_err();
        assert!(err.len() < 400, "{err}");
    }
}
