//! Property tests on scenario files: a valid scenario with any value in any
//! field, or its text damaged anywhere, resolves or fails with exit 2 at a
//! `file:line:column` inside the file; never a panic. And duration strings.

use std::path::PathBuf;

use proptest::prelude::*;

use super::duration::{parse_duration, parse_duration_range, MAX_DURATION};
use super::*;

/// Every field a scenario has, one per line, with a valid value.
const LINES: &[&str] = &[
    "name = \"p\"",
    "seed = 7",
    "[target]",
    "timeout = \"10s\"",
    "query_method = \"GET\"",
    "[viewers]",
    "dashboard = \"dashboards/toggl-overview.json\"",
    "max_parallel = 6",
    "refresh = \"15s\"",
    "refreshes_per_visit = 3",
    "think_time = \"1s..3s\"",
    "first_screen_only = false",
    "[[viewers.time_ranges]]",
    "from = \"now-24h\"",
    "to = \"now\"",
    "weight = 3",
    "[viewers.variables.project]",
    "all = 2",
    "one = 1",
    "some = 1",
    "[sync]",
    "users = 1",
    "entries_per_sync = 100",
    "batch_size = 50",
    "interval = \"5s\"",
    "gzip = true",
    "freshness = false",
    "[[stages]]",
    "users = 10",
    "ramp = \"5s\"",
    "hold = \"10s\"",
    "[stress]",
    "step = 10",
    "ramp = \"2s\"",
    "hold = \"10s\"",
    "ceiling = 40",
    "stop_when = \"p95 > 2s or errors > 5%\"",
    "refine = 2",
    "[slo.dashboard_load]",
    "p50 = \"1s\"",
    "p95 = \"3s\"",
    "p99 = \"5s\"",
    "error_rate = \"1%\"",
    "[slo.ingest_batch]",
    "ms_per_point = 0.5",
    "[regression]",
    "latency = \"10%\"",
    "latency_floor = \"1ms\"",
    "error_rate = \"1%\"",
    "confidence = \"95%\"",
    "figures = [\"panel_query.p50\"]",
    "[sandbox]",
    "query_cost = 1.0",
    "[limits]",
    "users = 20000",
    "steps = 2000",
    "duration = \"1d\"",
];

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/p.toml")
}

/// TOML values of every type, in and far out of every range.
fn any_value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => (0i64..200).prop_map(|n| n.to_string()),
        1 => "[0-9]{15,30}",
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => Just("inf".to_string()),
        1 => Just("nan".to_string()),
        1 => Just("-inf".to_string()),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => "[0-9.]{1,25}(ms|s|m|h|d|y|)".prop_map(|d| format!("{d:?}")),
        // Durations past u64 seconds: `Duration::from_secs_f64` panicked on them.
        4 => "[1-9][0-9]{19,30}(ms|s|m|h|d)".prop_map(|d| format!("{d:?}")),
        1 => "[0-9]{1,4}(ms|s|m|h|d)\\.\\.[0-9]{1,25}(ms|s|m|h|d)".prop_map(|d| format!("{d:?}")),
        1 => "(p50|p95|p99|errors|[a-z_]{1,12}\\.p99) > [0-9.]{1,25}(ms|s|%|d)".prop_map(|d| format!("{d:?}")),
        1 => "now[-+/][0-9]{0,20}[smhdwMy€]?".prop_map(|d| format!("{d:?}")),
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
        1 => Just("[]".to_string()),
        1 => Just("{}".to_string()),
        1 => Just("\"\"".to_string()),
    ]
}

/// The scenario is fine, or the error is exit 2 at a line and column of the text.
fn assert_resolves_or_located(text: &str) -> std::result::Result<(), TestCaseError> {
    let file = path();
    if let Err(e) = Scenario::parse(text, &file) {
        prop_assert_eq!(e.exit_code(), crate::error::exit_code::USAGE, "{}", e);
        let Error::Config { location, .. } = &e else {
            return Err(TestCaseError::fail(format!(
                "not a configuration error: {e}"
            )));
        };
        let rest = location.strip_prefix(&file.display().to_string());
        let lc: Vec<usize> = rest
            .unwrap_or("")
            .trim_start_matches(':')
            .split(':')
            .filter_map(|n| n.parse().ok())
            .collect();
        prop_assert!(lc.len() == 2, "no file:line:col in `{}`", e);
        let lines = text.lines().count().max(1) + 1;
        prop_assert!(
            lc[0] >= 1 && lc[0] <= lines && lc[1] >= 1,
            "{} outside the text",
            location
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::proptest_support::config(256))]

    #[test]
    fn prop_any_value_in_any_field_resolves_or_is_located(
        field in any::<prop::sample::Index>(),
        value in any_value(),
    ) {
        let mut lines: Vec<String> = LINES.iter().map(|l| l.to_string()).collect();
        let candidates: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
        let i = candidates[field.index(candidates.len())];
        let key = lines[i].split(" = ").next().unwrap().to_string();
        lines[i] = format!("{key} = {value}");
        assert_resolves_or_located(&lines.join("\n"))?;
    }

    #[test]
    fn prop_damaged_scenario_text_resolves_or_is_located(
        cut in any::<prop::sample::Index>(),
        insert in "[\\[\\]\"=.,a-z0-9 \n#€]{0,5}",
        drop in 0usize..6,
    ) {
        let text = LINES.join("\n");
        let at = cut.index(text.len());
        let end = (at + drop).min(text.len());
        // LINES is ASCII: every index is a char boundary.
        let damaged = format!("{}{insert}{}", &text[..at], &text[end..]);
        assert_resolves_or_located(&damaged)?;
    }

    #[test]
    fn prop_durations_parse_within_range_or_echo_the_text(text in "\\PC{0,30}|[0-9.]{1,40}(ms|s|m|h|d){1,3}") {
        match parse_duration(&text) {
            Ok(d) => prop_assert!(d <= MAX_DURATION),
            Err(e) => prop_assert!(text.trim().is_empty() || e.contains(&format!("`{text}`")), "{}", e),
        }
        if let Ok((lo, hi)) = parse_duration_range(&text) {
            prop_assert!(lo <= hi && hi <= MAX_DURATION);
        }
    }

    #[test]
    fn prop_whole_durations_round_trip(secs in 0u64..=MAX_DURATION.as_secs()) {
        let d = Duration::from_secs(secs);
        prop_assert_eq!(parse_duration(&duration::format_duration(d)).unwrap(), d);
    }
}
