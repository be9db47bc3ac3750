//! The load's end on the plan's clock, not when Goose's last transaction
//! returns: no request starts any more, those in flight get their timeout (a
//! short drain after a signal), then what is left is cut off (`run_end.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::interrupt;
use crate::live::Live;
use crate::run_end::RunEnd;
use crate::scenario::Scenario;

/// How long requests in flight at the plan's end may take: the longest request
/// timeout (queries, or writes to a separate write target).
pub(super) fn drain_timeout(scenario: &Scenario) -> Duration {
    let write = scenario
        .target
        .write
        .as_ref()
        .map_or(Duration::ZERO, |w| w.timeout);
    scenario.target.timeout.max(write)
}

/// After the requests in flight are cancelled, how long transactions get to
/// record them and return before they are dropped.
const RECORD_GRACE: Duration = Duration::from_secs(1);

/// End the load on time (see `run_end.rs`). When the load ends (the plan's end
/// seen by the monitor, the ladder's stop, a signal), no request starts any
/// more; requests in flight get `timeout` to finish (they end by it anyway),
/// [`interrupt::DRAIN`] after a signal, nothing after a second one; then what is
/// still in flight is cancelled, and [`RECORD_GRACE`] later transactions still
/// running are dropped. Goose's users, which stop only between transactions,
/// then exit: the run ends within its plan + one request timeout + a grace.
pub(super) async fn end_of_load(end: RunEnd, live: Arc<Live>, timeout: Duration) {
    const LOOK: Duration = Duration::from_millis(100);
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut signalled = false;
    loop {
        let signals = interrupt::count();
        let now = tokio::time::Instant::now();
        if signals > 0 {
            // Goose clears its killswitch when the attack starts: a signal that
            // came before must still stop it.
            goose::trigger_killswitch(interrupt::REASON);
        }
        if deadline.is_none() && (signals > 0 || live.is_stopping()) {
            end.end_load();
            live.stop();
            deadline = Some(now + timeout);
        }
        if let Some(d) = deadline.as_mut() {
            if signals > 0 && !signalled {
                signalled = true;
                *d = (*d).min(now + interrupt::DRAIN);
            }
            if signals > 1 || now >= *d {
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(LOOK) => {}
            _ = interrupt::received(signals + 1) => {}
        }
    }
    end.abort_in_flight();
    if interrupt::count() < 2 {
        tokio::select! {
            _ = tokio::time::sleep(RECORD_GRACE) => {}
            _ = interrupt::received(2) => {}
        }
    }
    end.stop_transactions();
}
