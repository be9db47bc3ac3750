//! The sync job under faults, from `sync.csv` (one row per write attempt, see
//! `users::ingest_log`): retries and whether their delays followed the back-off,
//! batches split, dropped or possibly written twice, the backlog (points fetched
//! and not yet stored or dropped) and the freshness lag (how old the newest stored
//! data is) over time, the backlog each fault window built and how long it took
//! to drain after it, and whether the job keeps up at all.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::faults::FaultWindow;
use crate::error::{Error, Result};
use crate::runfolder::input;
use crate::users::ingest_log::ATTEMPTS;

/// How far a retry's wait may stray from what the back-off asked and still
/// follow it: the larger of 100 ms and 20 % (timers and a busy generator).
const FOLLOW_SLACK_MS: u64 = 100;

/// The sync job's write attempts, summed up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncResilience {
    /// Batches (each half of a split counts as its own).
    pub batches: u64,
    /// Write attempts after a batch's first.
    pub retries: u64,
    /// Waits before retries, ms: shortest, median, longest.
    pub retry_wait_ms: Option<[u64; 3]>,
    /// Retries whose wait followed the back-off asked (Retry-After, else the configured step).
    pub retries_following_backoff: u64,
    /// Batches split in two (413).
    pub split: u64,
    /// Batches given up on (not retried, or out of tries): their points are lost.
    pub dropped: u64,
    /// Points in the dropped batches.
    pub dropped_points: u64,
    /// Batches stored after an attempt that got no answer: the server may have
    /// stored that attempt too (written twice).
    pub possibly_written_twice: u64,
    /// Backlog per second, points: fetched and not yet stored or dropped.
    pub backlog: Vec<(u64, u64)>,
    /// Freshness lag per second, ms: the age of the newest stored batch's data
    /// (from its first attempt to the end of that second).
    pub freshness_lag_ms: Vec<(u64, u64)>,
    /// Per fault window: the backlog it built and the time to drain it.
    pub faults: Vec<FaultBacklog>,
    /// Set when the job cannot keep up: why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cannot_keep_up: Option<String>,
}

/// The backlog one fault window built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultBacklog {
    /// The fault's index.
    pub fault: usize,
    /// The largest backlog from the window's start until it drained, points.
    pub peak_points: u64,
    /// Retries from the window's start until the backlog drained (a stalled
    /// write is retried once it times out, often after the window).
    pub retries: u64,
    /// From the window's end until the backlog was back to zero, ms; None when it
    /// never drained before the run ended.
    pub drain_ms: Option<u64>,
}

/// One `sync.csv` row.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    elapsed_ms: u64,
    batch: u64,
    attempt: u32,
    points: u64,
    status: u16,
    outcome: String,
    waited_ms: u64,
    asked_ms: u64,
}

fn parse(line: &str) -> Option<Row> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 8 {
        return None;
    }
    Some(Row {
        elapsed_ms: f[0].parse().ok()?,
        batch: f[1].parse().ok()?,
        attempt: f[2].parse().ok()?,
        points: f[3].parse().ok()?,
        status: f[4].parse().ok()?,
        outcome: f[5].to_string(),
        waited_ms: f[6].parse().ok()?,
        asked_ms: f[7].parse().ok()?,
    })
}

/// Read `sync.csv` of `run_dir` (None when the run has none or no attempts).
pub fn read(run_dir: &Path, faults: &[FaultWindow], run_ms: u64) -> Result<Option<SyncResilience>> {
    let path = run_dir.join(ATTEMPTS);
    let text = match input::read_text(&path, input::AUX_CAP) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let rows: Vec<Row> = text.lines().skip(1).filter_map(parse).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(analyse(&rows, faults, run_ms)))
}

fn analyse(rows: &[Row], faults: &[FaultWindow], run_ms: u64) -> SyncResilience {
    // Per batch: when it was ready (its first attempt's end, less that attempt's
    // own time being unknown: the first row's stamp), when resolved, how.
    struct Batch {
        ready: u64,
        points: u64,
        resolved: Option<(u64, bool)>,
    }
    let mut batches: BTreeMap<u64, Batch> = BTreeMap::new();
    let mut no_answer: BTreeMap<u64, bool> = BTreeMap::new();
    let mut waits = Vec::new();
    let mut out = SyncResilience {
        batches: 0,
        retries: 0,
        retry_wait_ms: None,
        retries_following_backoff: 0,
        split: 0,
        dropped: 0,
        dropped_points: 0,
        possibly_written_twice: 0,
        backlog: Vec::new(),
        freshness_lag_ms: Vec::new(),
        faults: Vec::new(),
        cannot_keep_up: None,
    };
    for r in rows {
        let b = batches.entry(r.batch).or_insert(Batch {
            ready: r.elapsed_ms,
            points: r.points,
            resolved: None,
        });
        if r.attempt > 1 {
            out.retries += 1;
            waits.push(r.waited_ms);
            let slack = FOLLOW_SLACK_MS.max(r.asked_ms / 5);
            if r.waited_ms + slack >= r.asked_ms && r.waited_ms <= r.asked_ms + slack {
                out.retries_following_backoff += 1;
            }
        }
        match r.outcome.as_str() {
            "stored" => {
                b.resolved = Some((r.elapsed_ms, true));
                if no_answer.get(&r.batch).copied().unwrap_or(false) {
                    out.possibly_written_twice += 1;
                }
            }
            "split" => {
                out.split += 1;
                b.resolved = Some((r.elapsed_ms, false));
            }
            "dropped" => {
                out.dropped += 1;
                out.dropped_points += r.points;
                b.resolved = Some((r.elapsed_ms, false));
            }
            _ => {}
        }
        if r.status == 0 {
            no_answer.insert(r.batch, true);
        }
    }
    out.batches = batches.len() as u64;
    if !waits.is_empty() {
        waits.sort_unstable();
        out.retry_wait_ms = Some([waits[0], waits[waits.len() / 2], waits[waits.len() - 1]]);
    }
    // Per second: the backlog at its end, and the newest stored data's age.
    let seconds = run_ms.div_ceil(1000).max(1);
    let mut stored: Vec<(u64, u64)> = batches
        .values()
        .filter_map(|b| match b.resolved {
            Some((at, true)) => Some((at, b.ready)),
            _ => None,
        })
        .collect();
    stored.sort_unstable();
    for s in 0..seconds {
        let t = (s + 1) * 1000;
        let backlog: u64 = batches
            .values()
            .filter(|b| b.ready <= t && b.resolved.is_none_or(|(at, _)| at > t))
            .map(|b| b.points)
            .sum();
        out.backlog.push((s, backlog));
        let newest = stored
            .iter()
            .filter(|(at, _)| *at <= t)
            .map(|(_, ready)| *ready)
            .max();
        if let Some(ready) = newest {
            out.freshness_lag_ms.push((s, t.saturating_sub(ready)));
        }
    }
    let backlog_at = |t: u64| -> u64 {
        batches
            .values()
            .filter(|b| b.ready <= t && b.resolved.is_none_or(|(at, _)| at > t))
            .map(|b| b.points)
            .sum()
    };
    // Instants the backlog can change at: every row's stamp.
    let mut stamps: Vec<u64> = rows.iter().map(|r| r.elapsed_ms).collect();
    stamps.sort_unstable();
    stamps.dedup();
    for f in faults {
        let (Some(start), Some(end)) = (f.start_ms, f.end_ms) else {
            continue;
        };
        let drained = stamps
            .iter()
            .copied()
            .filter(|&t| t >= end)
            .find(|&t| backlog_at(t) == 0)
            .or_else(|| (backlog_at(end) == 0).then_some(end));
        let until = drained.unwrap_or(u64::MAX);
        let peak = stamps
            .iter()
            .copied()
            .filter(|&t| t >= start && t <= until)
            .map(backlog_at)
            .max()
            .unwrap_or(0);
        let retries = rows
            .iter()
            .filter(|r| r.attempt > 1 && r.elapsed_ms >= start && r.elapsed_ms <= until)
            .count() as u64;
        out.faults.push(FaultBacklog {
            fault: f.index,
            peak_points: peak,
            retries,
            drain_ms: drained.map(|t| t - end),
        });
    }
    // Cannot keep up: a backlog still there at the run's end that has been there
    // since before the last fault window ended (or for the run's last 10 s).
    let last = stamps.last().copied().unwrap_or(0);
    if backlog_at(last) > 0 {
        let since = out
            .backlog
            .iter()
            .rev()
            .take_while(|(_, b)| *b > 0)
            .last()
            .map(|(s, _)| s * 1000);
        let last_fault_end = faults.iter().filter_map(|f| f.end_ms).max();
        let stuck_for = since.map(|s| last.saturating_sub(s)).unwrap_or(0);
        let stuck = match last_fault_end {
            Some(end) => out.faults.iter().any(|f| f.drain_ms.is_none()) && last > end,
            None => stuck_for >= 10_000,
        };
        if stuck {
            out.cannot_keep_up = Some(format!(
                "the sync job cannot keep up: {} points were still waiting at the run's end, backlogged for {:.0} s",
                backlog_at(last),
                stuck_for as f64 / 1000.0
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        t: u64,
        batch: u64,
        attempt: u32,
        status: u16,
        outcome: &str,
        waited: u64,
        asked: u64,
    ) -> Row {
        Row {
            elapsed_ms: t,
            batch,
            attempt,
            points: 100,
            status,
            outcome: outcome.into(),
            waited_ms: waited,
            asked_ms: asked,
        }
    }

    fn fault(start: u64, end: u64) -> FaultWindow {
        FaultWindow {
            index: 1,
            name: "stall".into(),
            kind: "stall".into(),
            describe: String::new(),
            window: String::new(),
            start_ms: Some(start),
            end_ms: Some(end),
            hits: None,
            requests: 0,
            failed: 0,
            failures_by_kind: Vec::new(),
            commands: None,
            recovery: None,
            recovery_by_class: Vec::new(),
            recover_within_ms: None,
            verdict: None,
        }
    }

    #[test]
    fn retries_backlog_and_drain_time_from_a_known_log() {
        let rows = vec![
            row(500, 1, 1, 204, "stored", 0, 0),
            // Batch 2: no answer at 2 s (a stall), retried after 0.5 s as asked,
            // stored at 3.2 s: possibly written twice.
            row(2000, 2, 1, 0, "retry", 0, 0),
            row(3200, 2, 2, 204, "stored", 510, 500),
            // Batch 3: a 503, retried after 3 s where 1 s was asked (not following), dropped.
            row(2500, 3, 1, 503, "retry", 0, 0),
            row(5600, 3, 2, 503, "dropped", 3000, 1000),
            // Batch 4: split, its halves 5 and 6 stored.
            row(6000, 4, 1, 413, "split", 0, 0),
            row(6100, 5, 1, 204, "stored", 0, 0),
            row(6200, 6, 1, 204, "stored", 0, 0),
        ];
        let r = analyse(&rows, &[fault(1800, 3000)], 7000);
        assert_eq!(r.batches, 6);
        assert_eq!(r.retries, 2);
        assert_eq!(r.retries_following_backoff, 1);
        assert_eq!(r.retry_wait_ms, Some([510, 3000, 3000]));
        assert_eq!((r.split, r.dropped, r.dropped_points), (1, 1, 100));
        assert_eq!(r.possibly_written_twice, 1);
        // At the end of second 2 (3 s): batches 2 and 3 wait.
        assert_eq!(r.backlog[2], (2, 200));
        assert_eq!(r.backlog[6], (6, 0));
        // Batch 3 waits until it is dropped at 5.6 s: the backlog drains then.
        assert_eq!(r.faults[0].drain_ms, Some(2600));
        assert_eq!(r.faults[0].peak_points, 200);
        assert_eq!(r.faults[0].retries, 2);
        // The newest stored data at 3 s is batch 1's (ready 0.5 s): 2.5 s old.
        assert!(r.freshness_lag_ms.contains(&(2, 2500)));
        assert_eq!(r.cannot_keep_up, None);
    }

    #[test]
    fn a_backlog_that_never_drains_is_named() {
        let rows = vec![
            row(500, 1, 1, 204, "stored", 0, 0),
            row(2000, 2, 1, 0, "retry", 0, 0),
            row(9000, 3, 1, 0, "retry", 0, 0),
        ];
        let r = analyse(&rows, &[fault(1500, 4000)], 9500);
        assert_eq!(r.faults[0].drain_ms, None);
        assert!(r.cannot_keep_up.unwrap().contains("cannot keep up"));
    }
}
