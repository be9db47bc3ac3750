//! The Live section: what the live viewers measured, from `live.csv`
//! (`users::live_log`): connects made or refused (with the server's
//! reasons), reconnects and the time back, connect and subscribe times, publications received with their
//! delivery latency (push sent → received), the publications their offsets say
//! were missed, the server's disconnects, and the publisher's pushes.
//!
//! Analysis only: `read` gives summary.json's `live`; the console, the
//! Markdown summary and the page (`html/live.rs`) render it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::users::live_log::{self, LiveEvent, LiveRow, LIVE};

/// The live viewers' figures (summary.json `live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSummary {
    /// Connect attempts (a session's first, and each reconnect attempt).
    pub connect_attempts: u64,
    /// Connect attempts that connected.
    pub connected: u64,
    /// Sessions back after a lost connection.
    pub reconnects: u64,
    /// Time from a lost connection to being back, ms.
    pub reconnect_ms: Option<Percentiles>,
    /// Connects that failed, by the server's reason (or the client's, e.g. a timeout).
    pub connect_failures: BTreeMap<String, u64>,
    /// Connect time (handshake and `connect` reply), ms, successes only.
    pub connect_ms: Option<Percentiles>,
    /// Subscriptions made.
    pub subscribed: u64,
    /// Subscribes refused, by the server's reason.
    pub subscribe_failures: BTreeMap<String, u64>,
    /// Subscribe time, ms, successes only.
    pub subscribe_ms: Option<Percentiles>,
    /// Publications received, all channels and viewers.
    pub messages: u64,
    /// Delivery latency (push sent → received), ms, of those carrying a send time.
    pub delivery_ms: Option<Percentiles>,
    /// Publications the offsets say were skipped (sequence gaps).
    pub missed: u64,
    /// Sessions the server closed, by its code and reason.
    pub disconnects: BTreeMap<String, u64>,
    /// The publisher's pushes that were accepted.
    pub pushes: u64,
    /// Pushes refused or unanswered.
    pub push_failures: u64,
}

/// Nearest-rank percentiles, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// From samples in µs; `None` without any.
    pub fn of_us(mut us: Vec<u64>) -> Option<Percentiles> {
        if us.is_empty() {
            return None;
        }
        us.sort_unstable();
        let n = us.len();
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            us[rank - 1] as f64 / 1000.0
        };
        Some(Percentiles {
            count: n as u64,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: us[n - 1] as f64 / 1000.0,
        })
    }
}

/// The section's figures from the run folder's `live.csv`; `None` without one.
pub fn read(run_dir: &Path) -> Result<Option<LiveSummary>> {
    let path = run_dir.join(LIVE);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(summarise(&live_log::read(&path)?)))
}

/// Sum the rows up.
pub fn summarise(rows: &[LiveRow]) -> LiveSummary {
    let mut s = LiveSummary {
        connect_attempts: 0,
        connected: 0,
        reconnects: 0,
        reconnect_ms: None,
        connect_failures: BTreeMap::new(),
        connect_ms: None,
        subscribed: 0,
        subscribe_failures: BTreeMap::new(),
        subscribe_ms: None,
        messages: 0,
        delivery_ms: None,
        missed: 0,
        disconnects: BTreeMap::new(),
        pushes: 0,
        push_failures: 0,
    };
    let (mut connect, mut subscribe, mut delivery) = (Vec::new(), Vec::new(), Vec::new());
    let mut back = Vec::new();
    for r in rows {
        match (r.event, r.ok) {
            (LiveEvent::Connect, true) => {
                s.connect_attempts += 1;
                s.connected += 1;
                connect.extend(r.duration_us);
            }
            (LiveEvent::Connect, false) => {
                s.connect_attempts += 1;
                *s.connect_failures.entry(r.reason.clone()).or_default() += 1;
            }
            (LiveEvent::Subscribe, true) => {
                s.subscribed += 1;
                subscribe.extend(r.duration_us);
            }
            (LiveEvent::Subscribe, false) => {
                *s.subscribe_failures.entry(r.reason.clone()).or_default() += 1;
            }
            (LiveEvent::Delivery, _) => {
                s.messages += 1;
                s.missed += r.missed;
                delivery.extend(r.duration_us);
            }
            (LiveEvent::Disconnect, _) => {
                *s.disconnects.entry(r.reason.clone()).or_default() += 1;
            }
            (LiveEvent::Push, true) => s.pushes += 1,
            (LiveEvent::Push, false) => s.push_failures += 1,
            (LiveEvent::Reconnect, _) => {
                s.reconnects += 1;
                back.extend(r.duration_us);
            }
            (LiveEvent::Close, _) => {}
        }
    }
    s.connect_ms = Percentiles::of_us(connect);
    s.subscribe_ms = Percentiles::of_us(subscribe);
    s.delivery_ms = Percentiles::of_us(delivery);
    s.reconnect_ms = Percentiles::of_us(back);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(event: LiveEvent, ok: bool, us: Option<u64>, missed: u64, reason: &str) -> LiveRow {
        LiveRow {
            elapsed_ms: 0,
            viewer: 0,
            event,
            channel: String::new(),
            duration_us: us,
            offset: 0,
            missed,
            ok,
            reason: reason.into(),
        }
    }

    #[test]
    fn rows_sum_up_into_counts_reasons_and_percentiles() {
        let mut rows = vec![
            row(LiveEvent::Connect, true, Some(2_000), 0, ""),
            row(LiveEvent::Reconnect, true, Some(1_500), 0, ""),
            row(LiveEvent::Connect, false, None, 0, "3504 connection limit"),
            row(LiveEvent::Connect, false, None, 0, "3504 connection limit"),
            row(LiveEvent::Subscribe, true, Some(500), 0, ""),
            row(
                LiveEvent::Subscribe,
                false,
                None,
                0,
                "103 permission denied",
            ),
            row(LiveEvent::Disconnect, false, None, 0, "3008 slow"),
            row(LiveEvent::Push, true, Some(100), 0, ""),
            row(LiveEvent::Push, false, None, 0, "503"),
        ];
        for ms in 1..=100 {
            rows.push(row(
                LiveEvent::Delivery,
                true,
                Some(ms * 1000),
                (ms == 50) as u64 * 3,
                "",
            ));
        }
        rows.push(row(LiveEvent::Delivery, true, None, 0, ""));
        let s = summarise(&rows);
        assert_eq!((s.connect_attempts, s.connected, s.subscribed), (3, 1, 1));
        assert_eq!(s.reconnects, 1);
        assert_eq!(s.reconnect_ms.unwrap().max, 1.5);
        assert_eq!(s.connect_failures["3504 connection limit"], 2);
        assert_eq!(s.subscribe_failures["103 permission denied"], 1);
        assert_eq!(s.disconnects["3008 slow"], 1);
        assert_eq!((s.messages, s.missed), (101, 3));
        assert_eq!((s.pushes, s.push_failures), (1, 1));
        let d = s.delivery_ms.unwrap();
        assert_eq!(
            (d.count, d.p50, d.p95, d.p99, d.max),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(s.connect_ms.unwrap().max, 2.0);
    }
}
