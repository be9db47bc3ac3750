//! How the end of the load reaches the requests users have in flight.
//!
//! Goose stops a user only between transactions, and one dashboard load is one
//! transaction of many requests (variable queries in turn, panels six at a time),
//! each with its own timeout: against a target that stalls, a run overran its plan
//! by several timeouts. So the run's end goes to the requests themselves, in three
//! steps that `run.rs` takes in turn:
//!
//! 1. [`RunEnd::end_load`] when the load ends (plan over, ladder stopped, a
//!    signal): no request starts any more. One that would is not sent and is
//!    recorded as [`CANCELLED`]; those in flight go on.
//! 2. [`RunEnd::abort_in_flight`] once they had their chance (a request timeout
//!    after the plan's end, a short drain after a signal): those still in flight
//!    are dropped and recorded as [`CANCELLED`], not as a failure of the target.
//! 3. [`RunEnd::stop_transactions`] a moment later: whatever a transaction still
//!    awaits outside [`cancellable`] is dropped, so Goose's users exit.
//!
//! Requests reach the run's [`RunEnd`] through a task-local set around every
//! transaction ([`RunEnd::scope`]), so the request code needs no extra argument.

use std::future::Future;

use tokio_util::sync::CancellationToken;

pub use crate::runfolder::CANCELLED;

/// How long a transaction called after the load's end waits before returning.
const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

tokio::task_local! {
    static CURRENT: RunEnd;
}

/// The run's end, as requests and transactions see it. Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct RunEnd {
    load_over: CancellationToken,
    abort: CancellationToken,
    stop: CancellationToken,
}

impl RunEnd {
    /// The load is over: no request starts from now on.
    pub fn end_load(&self) {
        self.load_over.cancel();
    }

    /// Requests still in flight end now, recorded as cancelled.
    pub fn abort_in_flight(&self) {
        self.end_load();
        self.abort.cancel();
    }

    /// Transactions still running are dropped (Goose's users then exit).
    pub fn stop_transactions(&self) {
        self.abort_in_flight();
        self.stop.cancel();
    }

    /// True once [`RunEnd::end_load`] was called.
    pub fn is_load_over(&self) -> bool {
        self.load_over.is_cancelled()
    }

    /// Run one transaction `f` under this run's end: its requests see it through
    /// [`cancellable`], and the whole transaction is dropped at
    /// [`RunEnd::stop_transactions`] (yielding `stopped`). Once the load is over
    /// no transaction starts: it yields `stopped` after a short pause (Goose
    /// calls it again until the user exits).
    pub async fn scope<T>(&self, f: impl Future<Output = T>, stopped: T) -> T {
        if self.is_load_over() {
            tokio::time::sleep(IDLE).await;
            return stopped;
        }
        let stop = self.stop.clone();
        CURRENT
            .scope(self.clone(), async move {
                tokio::select! {
                    biased;
                    out = f => out,
                    _ = stop.cancelled() => stopped,
                }
            })
            .await
    }
}

/// How the run's end cut a request off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Never sent: the load was over (the target never saw it).
    NotSent,
    /// Dropped in flight at [`RunEnd::abort_in_flight`] (the target may have).
    InFlight,
}

impl Cut {
    /// The request log's error text for it.
    pub fn message(self) -> &'static str {
        match self {
            Cut::NotSent => crate::runfolder::NOT_SENT,
            Cut::InFlight => CANCELLED,
        }
    }
}

/// Run one request's future `f` under the current transaction's [`RunEnd`]:
/// [`Cut`] when it was not started (the load is over) or was dropped in flight
/// ([`RunEnd::abort_in_flight`]). Outside a transaction `f` simply runs.
pub async fn cancellable<F: Future>(f: F) -> Result<F::Output, Cut> {
    let Ok(end) = CURRENT.try_with(RunEnd::clone) else {
        return Ok(f.await);
    };
    if end.is_load_over() {
        return Err(Cut::NotSent);
    }
    tokio::select! {
        biased;
        _ = end.abort.cancelled() => Err(Cut::InFlight),
        out = f => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn requests_run_until_the_load_ends_then_none_starts() {
        let end = RunEnd::default();
        let out = end
            .scope(cancellable(async { 7 }), Err(Cut::InFlight))
            .await;
        assert_eq!(out, Ok(7));
        end.end_load();
        // A transaction no longer starts at all...
        let out = end.scope(async { "ran" }, "stopped").await;
        assert_eq!(out, "stopped");
        // ...and a request asked for inside one is not sent.
        let started = std::sync::atomic::AtomicBool::new(false);
        let out = CURRENT
            .scope(
                end.clone(),
                cancellable(async {
                    started.store(true, std::sync::atomic::Ordering::SeqCst);
                    7
                }),
            )
            .await;
        assert_eq!(out, Err(Cut::NotSent), "not sent after the load's end");
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(cancellable(async { 3 }).await, Ok(3), "outside a run");
    }

    #[tokio::test]
    async fn a_request_in_flight_is_dropped_at_the_abort_and_a_transaction_at_the_stop() {
        let end = RunEnd::default();
        let e = end.clone();
        let request = tokio::spawn(async move {
            e.scope(cancellable(std::future::pending::<()>()), Ok(()))
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        end.end_load();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !request.is_finished(),
            "in flight: goes on past the load's end"
        );
        end.abort_in_flight();
        let out = tokio::time::timeout(Duration::from_secs(5), request)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out, Err(Cut::InFlight), "dropped as cancelled");

        let e = end.clone();
        let stuck = tokio::spawn(async move { e.scope(std::future::pending(), "stopped").await });
        end.stop_transactions();
        let out = tokio::time::timeout(Duration::from_secs(5), stuck)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out, "stopped");
    }
}
