//! One worker's part of a distributed run's plan: every step's viewers split so
//! that the workers' shares sum to the global count and differ by at most one,
//! with the sync job on exactly one worker. A worker's viewers draw from the
//! run's seed by their global number (`users::numbering`), its [`rank`] here.
//!
//! The split is a pure function of (plan, index, worker count), computed alike by
//! the manager (to check and record it) and by each worker (to run it).

use crate::plan::{Plan, Step};
use crate::scenario::RecoveryPhase;

/// The worker that runs the sync job: the first. Its loss always stops the run.
pub const SYNC_WORKER: usize = 0;

/// Worker `index`'s share of `total` over `n` workers: `⌊total/n⌋`, plus one for
/// the first `total mod n` ranks. The sync worker ranks last, so the remainders
/// go to the workers that run viewers only; a fixed rank keeps each share
/// non-decreasing wherever the global count is.
/// That is the count of numbers below `total` that are `≡ rank (mod n)`, which
/// is what lets a worker's viewers be the global viewers `q·n + rank`.
pub fn share_of(total: usize, index: usize, n: usize) -> usize {
    let rank = rank(index, n);
    total / n + usize::from(rank < total % n)
}

/// Worker `index`'s rank of `n`: the sync worker last.
pub fn rank(index: usize, n: usize) -> usize {
    debug_assert!(n > 0 && index < n);
    (index + n - 1 - SYNC_WORKER) % n
}

impl Plan {
    /// Worker `index`'s plan of `n`: each step's and window's viewers, and the
    /// `[recovery]` phase's, are its [`share_of`] the global count, durations
    /// and window times unchanged; the sync users are in its steps only when
    /// `sync_here` (and stay there through the recovery phase, as in a single
    /// run: its viewer cap leaves them alone).
    pub fn share(&self, index: usize, n: usize, sync_here: bool) -> Plan {
        let sync = if sync_here { self.sync_users } else { 0 };
        let steps = self
            .steps
            .iter()
            .map(|s| {
                let viewers = s.users.saturating_sub(self.sync_users);
                // The final ramp down (0 users) stays 0: sync users stop with it.
                let users = if s.users == 0 {
                    0
                } else {
                    share_of(viewers, index, n) + sync
                };
                Step {
                    users,
                    duration: s.duration,
                }
            })
            .collect();
        let windows = self
            .windows
            .iter()
            .map(|w| {
                let mut w = w.clone();
                w.viewers = share_of(w.viewers, index, n);
                w
            })
            .collect();
        Plan {
            steps,
            windows,
            sync_users: sync,
            refine_tail: self.refine_tail,
            recovery_tail: self.recovery_tail,
            recovery: self.recovery.map(|phase| RecoveryPhase {
                viewers: share_of(phase.viewers, index, n),
                ..phase
            }),
            until_judged: self.until_judged.clone(),
        }
    }

    /// True when worker `index` of `n` would start no user at all: a worker
    /// count above the peak viewers (the sync worker aside) is refused.
    pub fn share_is_empty(&self, index: usize, n: usize) -> bool {
        let peak = self
            .steps
            .iter()
            .map(|s| s.users.saturating_sub(self.sync_users))
            .max()
            .unwrap_or(0);
        share_of(peak, index, n) == 0 && !(index == SYNC_WORKER && self.sync_users > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Stage, Stress};
    use std::time::Duration;

    fn plan(sync: usize) -> Plan {
        let stages = [
            Stage {
                users: 10,
                ramp: Duration::from_secs(5),
                hold: Duration::from_secs(10),
                until_judged: false,
            },
            Stage {
                users: 7,
                ramp: Duration::ZERO,
                hold: Duration::from_secs(10),
                until_judged: false,
            },
        ];
        let stress = Stress {
            step: 5,
            ramp: Duration::from_secs(2),
            hold: Duration::from_secs(8),
            ceiling: 17,
            stop_when: vec![],
            stop_on_failure_share: false,
            refine: 0,
            until_judged: false,
        };
        Plan::build(&stages, Some(&stress), sync)
    }

    #[test]
    fn three_workers_split_every_step_and_window_with_the_sync_job_on_one() {
        let global = plan(1);
        assert_eq!(
            global.goose_test_plan(),
            "11,5s;11,10s;8,0s;8,10s;13,2s;13,8s;18,2s;18,8s;0,1s"
        );
        let shares: Vec<Plan> = (0..3).map(|i| global.share(i, 3, i == 0)).collect();
        // Worker 0 runs the sync job and ranks last: the remainders go to 1 and 2.
        assert_eq!(
            shares[0].goose_test_plan(),
            "4,5s;4,10s;3,0s;3,10s;5,2s;5,8s;6,2s;6,8s;0,1s"
        );
        assert_eq!(
            shares[1].goose_test_plan(),
            "4,5s;4,10s;3,0s;3,10s;4,2s;4,8s;6,2s;6,8s;0,1s"
        );
        assert_eq!(
            shares[2].goose_test_plan(),
            "3,5s;3,10s;2,0s;2,10s;4,2s;4,8s;6,2s;6,8s;0,1s"
        );
        assert_eq!(
            (
                shares[0].sync_users,
                shares[1].sync_users,
                shares[2].sync_users
            ),
            (1, 0, 0)
        );
        for (k, w) in global.windows.iter().enumerate() {
            let v: Vec<usize> = shares.iter().map(|p| p.windows[k].viewers).collect();
            assert_eq!(v.iter().sum::<usize>(), w.viewers, "{}", w.name);
            assert_eq!(shares[0].windows[k].start_ms, w.start_ms);
            assert_eq!(shares[2].windows[k].end_ms, w.end_ms);
        }
        // Launched users add up to the global run's.
        let launched: usize = shares.iter().map(Plan::total_launched).sum();
        assert_eq!(launched, global.total_launched());
    }

    #[test]
    fn the_recovery_phase_is_shared_like_a_step_with_its_tail_on_every_worker() {
        let phase = RecoveryPhase {
            viewers: 7,
            hold: Duration::from_secs(20),
            window: Duration::from_secs(5),
        };
        let global = plan(1).with_recovery(Some(phase));
        assert_eq!(
            global.goose_test_plan(),
            "11,5s;11,10s;8,0s;8,10s;13,2s;13,8s;18,2s;18,8s;18,22s;0,1s"
        );
        let shares: Vec<Plan> = (0..3).map(|i| global.share(i, 3, i == 0)).collect();
        let caps: Vec<usize> = shares
            .iter()
            .map(|p| p.recovery.expect("every worker recovers").viewers)
            .collect();
        // The sync worker ranks last, as in every step: the remainder goes to 1.
        assert_eq!(caps, [2, 3, 2]);
        for p in &shares {
            let r = p.recovery.unwrap();
            assert_eq!((r.hold, r.window), (phase.hold, phase.window));
            assert_eq!(p.recovery_tail, global.recovery_tail);
            // The tail holds the ladder's users, so the cap has viewers to keep.
            let tail = p.steps[p.steps.len() - 2];
            assert_eq!(tail.duration, Duration::from_secs(22));
            assert!(tail.users - p.sync_users >= r.viewers, "{p:?}");
        }
        assert_eq!(shares[0].steps[8].users, 5 + 1, "the sync user stays");
        let launched: usize = shares.iter().map(Plan::total_launched).sum();
        assert_eq!(launched, global.total_launched());
    }

    #[test]
    fn a_worker_with_no_user_at_all_is_detected() {
        let global = plan(1);
        // 17 viewers at the peak: over 18 workers the sync worker (ranked last)
        // gets no viewer but runs the sync job; over 19 one worker has nothing.
        assert_eq!(global.share(0, 18, true).peak_viewers(), 0);
        assert!((0..18).all(|i| !global.share_is_empty(i, 18)));
        assert!((1..19).any(|i| global.share_is_empty(i, 19)));
        let no_sync = plan(0);
        assert!((0..18).any(|i| no_sync.share_is_empty(i, 18)));
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        fn stage() -> impl Strategy<Value = Stage> {
            (0usize..500, 0u64..20, 0u64..20).prop_map(|(users, r, h)| Stage {
                users,
                ramp: Duration::from_secs(r),
                hold: Duration::from_secs(h),
                until_judged: false,
            })
        }

        proptest! {
            #![proptest_config(crate::proptest_support::config(64))]
            #[test]
            fn prop_shares_sum_to_the_global_count_and_differ_by_at_most_one(
                stages in proptest::collection::vec(stage(), 1..5),
                ladder in proptest::option::of((1usize..100, 0u64..5, 1u64..10, 0usize..300)),
                recovery in proptest::option::of(0usize..400),
                sync in 0usize..3,
                n in 1usize..9,
            ) {
                let stress = ladder.map(|(step, r, h, extra)| Stress {
                    step,
                    ramp: Duration::from_secs(r),
                    hold: Duration::from_secs(h),
                    ceiling: stages.last().unwrap().users + extra,
                    stop_when: vec![],
                    stop_on_failure_share: false,
                    refine: 0,
                    until_judged: false,
                });
                let global = Plan::build(&stages, stress.as_ref(), sync).with_recovery(
                    recovery.map(|viewers| RecoveryPhase {
                        viewers,
                        hold: Duration::from_secs(10),
                        window: Duration::from_secs(5),
                    }),
                );
                let shares: Vec<Plan> = (0..n).map(|i| global.share(i, n, i == SYNC_WORKER)).collect();
                // The recovery cap: shared as a step is, or on no worker at all.
                match global.recovery {
                    Some(phase) => {
                        let caps: Option<Vec<usize>> = shares.iter().map(|p| p.recovery.map(|r| r.viewers)).collect();
                        prop_assert!(caps.is_some(), "every worker recovers");
                        let caps = caps.unwrap();
                        prop_assert_eq!(caps.iter().sum::<usize>(), phase.viewers);
                        prop_assert!(caps.iter().max().unwrap() - caps.iter().min().unwrap() <= 1, "{:?}", caps);
                    }
                    None => prop_assert!(shares.iter().all(|p| p.recovery.is_none())),
                }
                for (k, step) in global.steps.iter().enumerate() {
                    let users: Vec<usize> = shares.iter().map(|p| p.steps[k].users).collect();
                    prop_assert_eq!(users.iter().sum::<usize>(), step.users);
                    let viewers: Vec<usize> = shares.iter().map(|p| p.steps[k].users - p.sync_users.min(p.steps[k].users)).collect();
                    let (lo, hi) = (viewers.iter().min().unwrap(), viewers.iter().max().unwrap());
                    prop_assert!(hi - lo <= 1, "step {}: {:?}", k, viewers);
                    prop_assert!(shares.iter().all(|p| p.steps[k].duration == step.duration));
                }
                for (k, w) in global.windows.iter().enumerate() {
                    let v: Vec<usize> = shares.iter().map(|p| p.windows[k].viewers).collect();
                    prop_assert_eq!(v.iter().sum::<usize>(), w.viewers);
                    prop_assert!(v.iter().max().unwrap() - v.iter().min().unwrap() <= 1);
                }
                // A share never falls while the global count rises.
                for p in &shares {
                    for k in 1..global.windows.len() {
                        if global.windows[k].viewers >= global.windows[k - 1].viewers {
                            prop_assert!(p.windows[k].viewers >= p.windows[k - 1].viewers);
                        }
                    }
                }
                let with_sync = shares.iter().filter(|p| p.sync_users > 0).count();
                prop_assert_eq!(with_sync, usize::from(sync > 0));
            }
        }
    }
}
