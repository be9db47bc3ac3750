//! How long a run lasted, as far as the report believes `run.json`.
//!
//! The report keeps per-second series, so its memory grows with the run's
//! span (~100–250 bytes per second): a damaged or hand-edited `run.json`
//! ending in the year 9999 would cost GBs before a page is drawn. A span is
//! held to what a run can last instead, and the report says so.

use chrono::Duration;

use super::collect::elapsed_limit_ms;
use crate::runfolder::RunMeta;

/// The longest span the report draws: a run's default duration limit
/// (`[limits] duration`, a week).
pub const MAX_SPAN_MS: u64 = crate::scenario::limits::DEFAULT_DURATION.as_millis() as u64;

/// `meta` with its windows and its end held to a sane span, and a note when
/// anything was cut. The end may pass the planned windows' by the slack a row
/// may have ([`elapsed_limit_ms`]); without windows, by [`MAX_SPAN_MS`].
pub fn clamp(meta: &RunMeta) -> (RunMeta, Option<String>) {
    let mut meta = meta.clone();
    let mut notes = Vec::new();
    let planned_ms = meta.windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
    if planned_ms > MAX_SPAN_MS {
        notes.push(format!(
            "run.json plans windows up to {}; the report covers the first {} only",
            seconds(planned_ms),
            seconds(MAX_SPAN_MS)
        ));
        meta.windows.retain(|w| w.start_ms < MAX_SPAN_MS);
        for w in &mut meta.windows {
            w.end_ms = w.end_ms.min(MAX_SPAN_MS);
        }
    }
    let planned_ms = planned_ms.min(MAX_SPAN_MS);
    let limit_ms = elapsed_limit_ms(planned_ms).min(MAX_SPAN_MS);
    if let Some(end) = meta.ended_at {
        let claimed_ms = (end - meta.started_at).num_milliseconds();
        if claimed_ms > limit_ms as i64 {
            meta.ended_at = Some(meta.started_at + Duration::milliseconds(limit_ms as i64));
            notes.push(format!(
                "run.json says the run ended at {}, {} after its start: more than a run of its plan can last; the report covers the first {} only",
                end.to_rfc3339(),
                seconds(claimed_ms as u64),
                seconds(limit_ms)
            ));
        }
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    (meta, note)
}

fn seconds(ms: u64) -> String {
    format!("{} s", ms / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{StageWindow, WindowKind};

    fn meta(end_secs: i64, window_end_ms: u64) -> RunMeta {
        let mut m: RunMeta = serde_json::from_value(serde_json::json!({
            "dashload_version": "0", "scenario": "s", "scenario_file": "s.toml",
            "scenario_digest": "d", "seed": 1,
            "target": {"kind": "sandbox", "url": "http://127.0.0.1:1"},
            "test_plan": "", "sync_users": 0, "windows": [], "slos": [],
            "started_at": "2026-12-01T00:00:00Z",
        }))
        .unwrap();
        m.ended_at = Some(m.started_at + Duration::seconds(end_secs));
        m.windows = vec![StageWindow {
            name: "stage 1 hold".into(),
            kind: WindowKind::Hold,
            viewers: 2,
            start_ms: 0,
            end_ms: window_end_ms,
        }];
        m
    }

    #[test]
    fn an_end_in_the_year_9999_is_held_to_the_plan_and_said() {
        let mut m = meta(0, 30_000);
        m.ended_at = Some("9999-12-31T23:59:59Z".parse().unwrap());
        let (held, note) = clamp(&m);
        let ran = held.ended_at.unwrap() - held.started_at;
        // 30 s planned: at most ten minutes of slack.
        assert_eq!(ran.num_milliseconds(), 630_000);
        let note = note.expect("a note");
        assert!(
            note.contains("9999-12-31") && note.contains("630 s"),
            "{note}"
        );
    }

    #[test]
    fn absurd_windows_are_cut_to_a_week_and_sane_runs_left_alone() {
        let (held, note) = clamp(&meta(40, u64::MAX / 2));
        assert_eq!(held.windows[0].end_ms, MAX_SPAN_MS);
        assert!(note.unwrap().contains("plans windows"));
        let sane = meta(31, 30_000);
        let (same, note) = clamp(&sane);
        assert_eq!(note, None);
        assert_eq!(same.ended_at, sane.ended_at);
    }
}
