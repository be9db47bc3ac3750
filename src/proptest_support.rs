//! Settings shared by the property tests on every parser: a small case count so
//! `cargo test` stays fast, raised with `PROPTEST_CASES` by `bench/fuzz.sh`.

/// `cases` by default, `PROPTEST_CASES` when set; no regression files written into
/// the source tree (a failure prints its minimal input, which becomes a unit test).
pub(crate) fn config(cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..Default::default()
    }
}
