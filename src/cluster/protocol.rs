//! The manager–worker channel: HTTP/1.1 + JSON under [`PREFIX`] (TLS with a
//! pinned certificate when asked for), workers dialling the manager. A worker
//! says `hello` and checks the manager's proof that it knows the token
//! (`auth.rs`), joins with its version and the digest of the scenario it runs
//! (its own, from its command line: `join`), waits at the barrier (`ready`, answered
//! with a countdown when every worker is ready), ticks every [`TICK_MS`] with its
//! current stress window's figures (`tick`, answered with run, stop, or the
//! `[recovery]` drop),
//! uploads its files with their SHA-256 (`files/<index>/<name>`) and reports
//! (`done`). Every call after `hello` is signed with the session's key, and so is
//! every answer; refusals are one line. Control bodies are at most
//! [`CONTROL_BODY_LIMIT`], answers at most [`ANSWER_LIMIT`].

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::judged_hold::HoldCounts;
use crate::report::collect::{ClassAcc, Moments};
use crate::runfolder::{LadderStop, RunCounters};

/// Every route's prefix; its version changes with any change of a message
/// (v2: ticks carry each class's whole accumulator; the recovery command;
/// v3: the handshake and signed requests, the worker's own scenario; v4: the
/// assignment's seed is the run's, viewers numbered across the workers).
pub const PREFIX: &str = "/cluster/v4";
/// The largest body of a control request (everything but an upload).
pub const CONTROL_BODY_LIMIT: usize = 64 * 1024;
/// The largest answer a worker reads from its manager.
pub const ANSWER_LIMIT: usize = 1024 * 1024;
/// How often workers tick.
pub const TICK_MS: u64 = 500;
/// A worker silent this long is lost.
pub const LOST_AFTER: Duration = Duration::from_secs(3);
/// A manager silent this long makes a worker stop on its own.
pub const MANAGER_SILENT: Duration = Duration::from_secs(10);
/// The countdown from the barrier to the start.
pub const START_IN: Duration = Duration::from_secs(2);
/// A wall clock this far from the manager's is warned about.
pub const CLOCK_WARN_MS: f64 = 100.0;

/// `POST hello`: the worker's challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloRequest {
    /// A fresh nonce ([`super::auth::nonce`]).
    pub nonce: String,
}

/// The answer to `hello`: the manager's nonce and its proof that it knows the
/// token. Nothing in it tells the worker what to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The manager's dashload version.
    pub version: String,
    /// The manager's nonce: the session's id.
    pub nonce: String,
    /// [`super::auth::manager_proof`].
    pub proof: String,
}

/// `POST join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Join {
    /// The worker's dashload version.
    pub version: String,
    /// Its scenario's digest (overrides included).
    pub digest: String,
    /// The index it asks for (`--index`, `JOB_COMPLETION_INDEX`), or any.
    pub index: Option<usize>,
    /// Its host name.
    pub host: String,
    /// Its process id.
    pub pid: u32,
}

/// The answer to a join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The run's id (its folder name on the manager).
    pub run_id: String,
    /// The worker's index.
    pub index: usize,
    /// Workers in the run.
    pub workers: usize,
    /// The worker's plan share, in Goose's syntax (it computes and checks it).
    pub plan: String,
    /// The run's seed: every worker's viewers draw from it by their global
    /// number (`users::numbering`).
    pub seed: u64,
    /// The manager's embedded sandbox, when the scenario targets one.
    pub sandbox_url: Option<String>,
}

/// `POST ready` (a long poll) and the barrier's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    /// The run.
    pub run_id: String,
    /// The worker.
    pub index: usize,
}

/// Start this long after receiving the answer, on the worker's monotonic clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// Countdown, µs.
    pub start_in_us: u64,
}

/// One request class over a worker's current stress window: the report's own
/// accumulator ([`ClassAcc`]) whole, histograms serialised (HDR V2 + deflate,
/// base64), so the manager's merge is exactly the union of the workers' ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassState {
    /// Requests seen.
    pub count: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Successful requests' latencies, µs.
    pub hist: String,
    /// Failed requests' latencies, µs.
    pub failed_hist: String,
    /// Sums over `hist`'s values.
    pub ok_moments: Moments,
    /// Sums over `failed_hist`'s values.
    pub failed_moments: Moments,
}

impl ClassState {
    /// An accumulator as a tick carries it.
    pub fn of(acc: &ClassAcc) -> ClassState {
        ClassState {
            count: acc.count,
            failed: acc.failed,
            hist: encode(&acc.hist),
            failed_hist: encode(&acc.failed_hist),
            ok_moments: acc.ok_moments,
            failed_moments: acc.failed_moments,
        }
    }

    /// The accumulator back; `None` if a histogram does not decode.
    pub fn decode(&self) -> Option<ClassAcc> {
        Some(ClassAcc {
            count: self.count,
            failed: self.failed,
            hist: decode(&self.hist)?,
            failed_hist: decode(&self.failed_hist)?,
            ok_moments: self.ok_moments,
            failed_moments: self.failed_moments,
        })
    }
}

/// A worker's current stress window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowState {
    /// The window's name (`step 3`).
    pub name: String,
    /// Dashboard loads, then panel queries.
    pub classes: [ClassState; 2],
}

/// `POST tick`, every [`TICK_MS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The run.
    pub run_id: String,
    /// The worker.
    pub index: usize,
    /// Its sequence number.
    pub seq: u64,
    /// Its clock since its start, µs, when sent.
    pub since_zero_us: u64,
    /// Its wall clock, µs since the Unix epoch, when sent.
    pub wall_us: i64,
    /// The previous tick's round trip, µs (the manager pairs it with that tick).
    pub rtt_us: Option<u64>,
    /// The current stress window, once it has run long enough to be the
    /// worker's live window.
    pub window: Option<WindowState>,
    /// Viewers started.
    pub viewers: u64,
    /// Dashboard loads so far.
    pub dashboard_loads: u64,
    /// The until-judged hold running, with its samples so far: the manager
    /// ends it on every worker's counts added up.
    #[serde(default)]
    pub hold: Option<HoldState>,
}

/// A worker's current until-judged hold (`judged_hold`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldState {
    /// The window's name (`stage 1 hold`).
    pub name: String,
    /// Its samples on this worker.
    pub counts: HoldCounts,
}

/// The manager's answer to a tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Keep going.
    Run,
    /// End the until-judged hold `window` `in_us` after receiving this (every
    /// worker at once): every figure of it has its samples over all workers.
    /// Repeated on every tick that still reports the window.
    EndHold {
        /// The window's name.
        window: String,
        /// Until its end, µs, from when this answer was sent.
        in_us: u64,
    },
    /// Stop now: the ladder's stop (with the step, on the global counts), or
    /// another reason (a worker lost, the manager interrupted).
    Stop {
        /// Why, in words.
        reason: String,
        /// The ladder's stop, when that is why.
        ladder: Option<LadderStop>,
    },
    /// `[recovery]`: the ladder stopped (or held to its ceiling); drop to this
    /// worker's share of the phase's viewers `in_us` after receiving this (every
    /// worker at once: the manager answers each tick with the time left), hold
    /// for the phase, then end the run. Repeated on every tick until then.
    Recover {
        /// Why the run ends after the phase, in words (Goose's killswitch reason).
        reason: String,
        /// The ladder's stop, when the ladder stopped (not at its ceiling).
        ladder: Option<LadderStop>,
        /// Until the drop, µs, from when this answer was sent.
        in_us: u64,
    },
}

/// How long before the drop the manager decides the recovery phase: longer
/// than a tick, so every worker hears it before its time.
pub const RECOVERY_LEAD: Duration = Duration::from_millis(TICK_MS + 250);

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSum {
    /// Its name in the worker's folder.
    pub name: String,
    /// SHA-256, hex.
    pub sha256: String,
}

/// `POST done`, after the files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    /// The run.
    pub run_id: String,
    /// The worker.
    pub index: usize,
    /// The worker's run was cut short (a signal, the manager's stop).
    pub interrupted: bool,
    /// Its counters.
    pub counters: RunCounters,
    /// Viewers it started.
    pub viewers_started: u64,
    /// The files it uploaded.
    pub files: Vec<FileSum>,
}

/// A refusal's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// One line.
    pub reason: String,
}

/// Serialise a histogram for a tick.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serialising to memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A histogram from a tick; `None` if it does not decode.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .ok()
}

/// A worker's clocks as the manager estimates them from its ticks (NTP's rule:
/// the tick with the shortest round trip says most).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClockEstimate {
    /// The round trip the estimate comes from, µs.
    pub rtt_us: Option<u64>,
    /// When the worker's zero was on the manager's clock, µs after the run's zero.
    pub zero_us: i64,
    /// The worker's wall clock minus the manager's, µs.
    pub wall_offset_us: i64,
}

/// A tick as the manager received it, kept until the worker reports that
/// exchange's round trip in its next tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sent {
    /// The worker's clock since its zero when it sent the tick, µs.
    pub since_zero_us: u64,
    /// The worker's wall clock then, µs.
    pub wall_us: i64,
    /// When the manager received it, µs after the run's zero.
    pub recv_us: i64,
    /// The manager's wall clock then, µs.
    pub recv_wall_us: i64,
}

impl ClockEstimate {
    /// Take in one exchange: a tick `sent` as received, and its round trip
    /// `rtt_us` (reported by the worker in its next tick). The tick was sent
    /// about half the round trip before it was received.
    pub fn observe(&mut self, sent: &Sent, rtt_us: u64) {
        if self.rtt_us.is_some_and(|best| rtt_us >= best) {
            return;
        }
        let half = rtt_us as i64 / 2;
        self.rtt_us = Some(rtt_us);
        self.zero_us = sent.recv_us - half - sent.since_zero_us as i64;
        self.wall_offset_us = sent.wall_us - (sent.recv_wall_us - half);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(since_zero_us: u64, wall_us: i64, recv_us: i64, recv_wall_us: i64) -> Sent {
        Sent {
            since_zero_us,
            wall_us,
            recv_us,
            recv_wall_us,
        }
    }

    #[test]
    fn the_shortest_round_trip_places_a_workers_zero() {
        let mut c = ClockEstimate::default();
        // Worker started 4 ms after the run's zero; its wall clock is 250 ms ahead.
        // Sent at run time 504 ms (worker 500 ms), received 6 ms later (rtt 12 ms).
        c.observe(
            &sent(500_000, 1_000_504_000 + 250_000, 510_000, 1_000_510_000),
            12_000,
        );
        assert_eq!(c.zero_us, 4_000);
        assert_eq!(c.wall_offset_us, 250_000);
        // A slower exchange (rtt 40 ms, sent at 1004 ms, received 20 ms later) does not replace it.
        c.observe(
            &sent(1_000_000, 1_001_004_000 + 250_000, 1_024_000, 1_001_024_000),
            40_000,
        );
        assert_eq!(c.rtt_us, Some(12_000));
        // A faster one does: rtt 2 ms, sent at 1504 ms.
        c.observe(
            &sent(1_500_000, 1_001_504_000 + 250_000, 1_505_000, 1_001_505_000),
            2_000,
        );
        assert_eq!(
            (c.zero_us, c.wall_offset_us, c.rtt_us),
            (4_000, 250_000, Some(2_000))
        );
        // A worker that started before the run's zero has a negative offset.
        let mut early = ClockEstimate::default();
        early.observe(&sent(600_000, 0, 597_500, 0), 1_000);
        assert_eq!(early.zero_us, -3_000);
    }

    #[test]
    fn the_recovery_command_is_tagged_with_its_countdown() {
        let c = Command::Recover {
            reason: "stress ladder held to its ceiling".into(),
            ladder: None,
            in_us: 750_000,
        };
        let text = serde_json::to_string(&c).unwrap();
        assert!(text.contains(r#""command":"recover""#), "{text}");
        assert_eq!(serde_json::from_str::<Command>(&text).unwrap(), c);
    }

    #[test]
    fn histograms_survive_a_tick() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [1, 999, 12_345, 2_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert!(decode("not base64!").is_none());
    }
}
