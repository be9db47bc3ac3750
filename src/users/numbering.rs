//! Which viewer of the whole run a launched viewer is, so that one process and
//! N workers with the same scenario and seed run the same workload.
//!
//! A viewer's random stream (phase, ranges, variable picks, think times) is
//! drawn from its *global* number, never from its launch order in its own
//! process. Goose stops the most recently launched users first when a step
//! lowers the count, so in one process the running viewers are always positions
//! `0..v` of a stack, and a position filled again after a drop is a new
//! *generation* of it. A worker of rank `r` of `n` holds local positions `q`,
//! global position `q·n + r`: its share of every count
//! ([`crate::cluster::share::share_of`]) is exactly the global positions
//! `≡ r (mod n)` below that count, so the workers' running viewers together are
//! the single process's ones, step by step and generation by generation.

use crate::plan::Step;

/// Maps Goose's launch order of this process's users to global viewer numbers.
#[derive(Debug, Clone)]
pub struct ViewerNumbering {
    workers: usize,
    rank: usize,
    /// Users Goose launches before the first viewer (the sync job's).
    sync_users: usize,
    /// Per viewer launch (in order): its local position and generation.
    launches: Vec<(usize, u32)>,
}

impl Default for ViewerNumbering {
    /// One process, no plan: the launch order is the number.
    fn default() -> ViewerNumbering {
        ViewerNumbering {
            workers: 1,
            rank: 0,
            sync_users: 0,
            launches: Vec::new(),
        }
    }
}

impl ViewerNumbering {
    /// Numbering for a process of rank `rank` among `workers` that runs
    /// `steps` (its own share) with `sync_users` sync users launched first.
    pub fn new(steps: &[Step], sync_users: usize, rank: usize, workers: usize) -> ViewerNumbering {
        debug_assert!(workers > 0 && rank < workers);
        let mut generations: Vec<u32> = Vec::new();
        let mut launches = Vec::new();
        let mut running = 0;
        for step in steps {
            let viewers = step.users.saturating_sub(sync_users);
            if viewers > running {
                if generations.len() < viewers {
                    generations.resize(viewers, 0);
                }
                for (q, generation) in generations
                    .iter_mut()
                    .enumerate()
                    .take(viewers)
                    .skip(running)
                {
                    launches.push((q, *generation));
                    *generation += 1;
                }
            }
            running = viewers;
        }
        ViewerNumbering {
            workers,
            rank,
            sync_users,
            launches,
        }
    }

    /// The viewer Goose launched as user `user_index` (its launch order, sync
    /// users first): its global position and generation. Launches beyond the
    /// plan (Goose's own load shape) are numbered by their launch order.
    pub fn global(&self, user_index: usize) -> (u64, u32) {
        let local = user_index.saturating_sub(self.sync_users);
        let (q, generation) = self.launches.get(local).copied().unwrap_or((local, 0));
        ((q * self.workers + self.rank) as u64, generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::share::{rank, share_of};
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    fn steps(users: &[usize]) -> Vec<Step> {
        users
            .iter()
            .map(|&users| Step {
                users,
                duration: Duration::from_secs(1),
            })
            .collect()
    }

    /// Simulate Goose: per step, launch or stop (last launched first) users, and
    /// return the numbers of the viewers running after each step.
    fn running(numbering: &ViewerNumbering, steps: &[Step]) -> Vec<BTreeSet<(u64, u32)>> {
        let mut stack: Vec<(u64, u32)> = Vec::new();
        let mut launched = 0;
        let mut previous = 0;
        let mut out = Vec::new();
        for s in steps {
            if s.users > previous {
                for _ in previous..s.users {
                    if launched >= numbering.sync_users {
                        stack.push(numbering.global(launched));
                    }
                    launched += 1;
                }
            } else {
                let drop = previous - s.users;
                stack.truncate(stack.len().saturating_sub(drop));
            }
            previous = s.users;
            out.push(stack.iter().copied().collect());
        }
        out
    }

    #[test]
    fn one_process_numbers_its_viewers_by_position_and_refill() {
        let n = ViewerNumbering::new(&steps(&[4, 2, 5, 0]), 1, 0, 1);
        // Launches: sync user, viewers 0 1 2, then 1 2 again (generation 1), 3.
        let got: Vec<_> = (0..7).map(|u| n.global(u)).collect();
        assert_eq!(got[1..], [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (3, 0)]);
        // Beyond the plan: the launch order.
        assert_eq!(n.global(9), (8, 0));
        assert_eq!(ViewerNumbering::default().global(5), (5, 0));
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(128))]
        #[test]
        fn prop_workers_run_the_single_process_viewers_at_every_step(
            counts in proptest::collection::vec(0usize..40, 1..8),
            sync in 0usize..2,
            n in 1usize..6,
        ) {
            // A plan's steps always carry the sync users while anything runs.
            let global: Vec<usize> = counts.iter().map(|&v| v + sync).chain([0]).collect();
            let single = running(&ViewerNumbering::new(&steps(&global), sync, 0, 1), &steps(&global));
            let mut union = vec![BTreeSet::new(); global.len()];
            for index in 0..n {
                let sync_here = if index == 0 { sync } else { 0 };
                let share: Vec<usize> = global
                    .iter()
                    .map(|&u| if u == 0 { 0 } else { share_of(u - sync, index, n) + sync_here })
                    .collect();
                let numbering = ViewerNumbering::new(&steps(&share), sync_here, rank(index, n), n);
                for (k, set) in running(&numbering, &steps(&share)).into_iter().enumerate() {
                    for v in set {
                        prop_assert!(union[k].insert(v), "{:?} twice", v);
                    }
                }
            }
            prop_assert_eq!(union, single);
        }
    }
}
