//! Property tests on the InfluxQL entry point (lexer, parser, guard, executor, JSON):
//! arbitrary and mutated-valid queries never panic, and a query that does not parse
//! gets InfluxDB's `… at line L, char C` with a position inside the query.

use std::sync::RwLock;

use proptest::prelude::*;

use super::{results_json, run_query, Epoch, Limits};
use crate::sandbox::lineproto::{parse_batch, write_batch, Precision};
use crate::sandbox::store::Store;

const DATA: &str = "\
time_entry,project=A,user=u1 duration_s=3600i,billable_s=3600i,description=\"a1\" 0
time_entry,project=B,user=u2 duration_s=1800i,billable_s=0i,description=\"b1\" 600
time_entry,project=B,user=u1 duration_s=7200i,billable_s=7200i,description=\"b2\" 4000
";

/// Queries of every supported shape, to mutate.
const VALID: &[&str] = &[
    r#"SELECT sum("duration_s")/3600 AS "h", count("description") FROM "autogen"."time_entry" WHERE ("user" =~ /^(u1|u2)$/ OR "project" != 'x') AND time >= 0ms and time <= now() - 1h30m GROUP BY time(10m, -4m), "project", * fill(-1.5) ORDER BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 1 tz('Europe/Berlin')"#,
    r#"SELECT top("h","project",2) FROM (SELECT sum("duration_s")/3600.0 AS "h" FROM time_entry GROUP BY "project") GROUP BY time(1h) fill(none)"#,
    r#"SELECT cumulative_sum(sum(duration_s)), moving_average(mean(billable_s), 3), non_negative_derivative(max(duration_s), 1m) FROM time_entry WHERE time > 0 GROUP BY time(5m) fill(previous)"#,
    r#"SELECT *, duration_s::field, project::tag, -duration_s * 2 % 7 FROM /time_.*/ WHERE description = 'a1' OR duration_s >= 100 AND billable_s < 5e3"#,
    r#"SHOW TAG VALUES ON toggl FROM "time_entry" WITH KEY IN ("project", "user") WHERE "user" =~ /u/ LIMIT 1; SHOW MEASUREMENTS WITH MEASUREMENT =~ /t.*/; SHOW FIELD KEYS; SHOW SERIES; SHOW TAG KEYS; SHOW RETENTION POLICIES ON toggl; SHOW DATABASES"#,
    r#"SELECT percentile(duration_s, 95), median(duration_s), spread(duration_s), stddev(duration_s), first(description), last(description), min(duration_s) FROM time_entry GROUP BY time(1d) fill(linear)"#,
    r#"CREATE DATABASE "x" WITH DURATION 7d; DROP DATABASE x"#,
];

/// Fragments that exercise the lexer and parser more often than random text.
const FRAGMENTS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "time(",
    "fill(",
    ")",
    "(",
    ",",
    ";",
    "'",
    "\"",
    "/",
    "/^a$/",
    "=~",
    "!~",
    "AND",
    "OR",
    "-",
    "--",
    "+",
    "*",
    "::",
    ".",
    "..",
    "1h",
    "10m",
    "now()",
    "1e309",
    "9223372036854775808",
    "-9223372036854775808",
    "0.5",
    "LIMIT",
    "SLIMIT",
    "OFFSET",
    "tz('x')",
    "SHOW",
    "TAG",
    "VALUES",
    "WITH KEY",
    "=",
    "IN",
    "\\",
    "\n",
    "\t",
    "ä",
    "𝄞",
    "duration_s",
    "time_entry",
    "sum(",
    "top(",
    "percentile(",
    "$x",
];

/// Parse errors InfluxDB itself reports without `at line L, char C`.
const POSITIONLESS: &[&str] = &["unable to find time zone "];

fn store() -> RwLock<Store> {
    let mut store = Store::with_databases(["toggl"]);
    write_batch(
        store.database_mut("toggl").unwrap(),
        &parse_batch(DATA, Precision::Seconds, 0),
    );
    RwLock::new(store)
}

/// Run `q` as `/query` does; a parse error must end with a position inside `q`
/// (unless InfluxDB gives none for it either).
fn check(q: &str) -> Result<(), TestCaseError> {
    let store = store();
    match run_query(
        &store,
        Some("toggl"),
        q,
        5_000_000_000_000,
        Limits::default(),
    ) {
        Ok(out) => {
            prop_assert!(!out.results.is_empty());
            let _ = results_json(&out.results, None);
            let _ = results_json(&out.results, Some(Epoch::Ms));
        }
        // influxd's parser gives these without a position (`errors.New` in parseLocation).
        Err(e) if POSITIONLESS.iter().any(|p| e.message.starts_with(p)) => {}
        Err(e) => {
            let (line, ch) = position(&e.message)
                .ok_or_else(|| TestCaseError::fail(format!("no position: {}", e.message)))?;
            let lines = q.split('\n').count();
            prop_assert!(
                line >= 1 && line <= lines,
                "line {line} of {lines}: {}",
                e.message
            );
            let width = q.split('\n').nth(line - 1).map_or(0, |l| l.chars().count());
            prop_assert!(
                ch >= 1 && ch <= width + 1,
                "char {ch} of {width}: {}",
                e.message
            );
        }
    }
    Ok(())
}

/// `(line, char)` from a message ending `at line L, char C`.
fn position(message: &str) -> Option<(usize, usize)> {
    let (_, tail) = message.rsplit_once(" at line ")?;
    let (line, ch) = tail.split_once(", char ")?;
    Some((line.parse().ok()?, ch.parse().ok()?))
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..20).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), proptest::sample::select(FRAGMENTS))
            .prop_map(|(at, f)| Mutation::Insert(at, f)),
        (any::<usize>(), 0usize..30).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Apply `m` to `q` on character boundaries.
fn mutate(q: &str, m: &Mutation) -> String {
    let chars: Vec<char> = q.chars().collect();
    let at = |i: usize| i % (chars.len() + 1);
    let s = |a: usize, b: usize| chars[a..b.min(chars.len())].iter().collect::<String>();
    match *m {
        Mutation::Delete(i, n) => format!(
            "{}{}",
            s(0, at(i)),
            s((at(i) + n).min(chars.len()), chars.len())
        ),
        Mutation::Insert(i, f) => format!("{}{f}{}", s(0, at(i)), s(at(i), chars.len())),
        Mutation::Duplicate(i, n) => {
            let piece = s(at(i), at(i) + n);
            format!("{}{piece}{piece}{}", s(0, at(i)), s(at(i), chars.len()))
        }
        Mutation::Truncate(i) => s(0, at(i)),
    }
}

proptest! {
    #![proptest_config(crate::proptest_support::config(64))]

    #[test]
    fn prop_influxql_arbitrary_text_never_panics(q in "\\PC{0,80}") {
        check(&q)?;
    }

    #[test]
    fn prop_influxql_token_soup_never_panics(
        parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..40)
    ) {
        check(&parts.join(" "))?;
    }

    #[test]
    fn prop_influxql_mutated_valid_queries_never_panic(
        base in proptest::sample::select(VALID),
        muts in proptest::collection::vec(mutation(), 1..4),
    ) {
        let q = muts.iter().fold(base.to_string(), |q, m| mutate(&q, m));
        check(&q)?;
    }
}

#[test]
fn valid_queries_run() {
    let store = store();
    for q in VALID {
        let out = run_query(
            &store,
            Some("toggl"),
            q,
            5_000_000_000_000,
            Limits::default(),
        )
        .unwrap_or_else(|e| panic!("{q}: {}", e.message));
        for r in &out.results {
            assert_eq!(r.error, None, "{q}");
        }
    }
}
