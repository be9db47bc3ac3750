//! The time entries a [`World`]'s users log, generated one day at a time.
//!
//! Model (DOMAIN.md §4.5): on each local workday (Mon–Fri in the user's UTC
//! offset, see [`super::User::utc_offset_s`]) a user is off with 4 % chance,
//! otherwise logs 4–8 entries between 8:00 and 18:00 local time, never
//! overlapping. Durations are log-normal (median 45 min, σ = 0.8) clipped to
//! 5 min – 4 h, squeezed proportionally when a day would overflow 10 hours.
//! Projects: 3 % none, 15 % the workspace's Internal, else one of the user's
//! usual client projects; entries on client projects are billable with
//! probability 0.72, others never. 0–2 distinct tags from the workspace pool.
//! 2 % of entries are edited (`at` 10 min – 2 days after stop) and 0.5 % are
//! deleted (`server_deleted_at` 1 min – 1 day after stop).
//!
//! The window's end `to_s` is "now": an edit or deletion later than `to_s` has
//! not happened yet, and the entry in progress at `to_s` (at most one per user,
//! its newest, started under 4 h ago) is running: `stop` null, `duration` =
//! −start as real Toggl responses carry.
//!
//! Determinism: each local date has its own RNG stream derived from (seed,
//! date), and every user's workday lies inside UTC [date+5h, date+23h] (offsets
//! −5 h … +3 h; any span under 14 h works), so one date's batch never
//! interleaves with the next. Entries of a date are sorted by
//! (start, user) and their ids are `3.7e9 + date × (8 × users) + rank`: rising
//! with start time, and the same whatever window asked for them.

use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use fake::rand::rngs::ChaCha8Rng;
use fake::rand::{RngExt, SeedableRng};

use super::{TimeEntry, World};

const DAY: i64 = 86_400;
const WORK_START: i64 = 8 * 3600;
const WORKDAY: i64 = 10 * 3600;
const MIN_DURATION: f64 = 300.0;
const MAX_DURATION: f64 = 4.0 * 3600.0;
const MEDIAN_DURATION: f64 = 45.0 * 60.0;
const SIGMA: f64 = 0.8;
const DAY_OFF: f64 = 0.04;
const NO_PROJECT: f64 = 0.03;
const INTERNAL: f64 = 0.15;
const BILLABLE: f64 = 0.72;
const DELETED: f64 = 0.005;
const EDITED: f64 = 0.02;
const ID_BASE: u64 = 3_700_000_000;
const MAX_PER_DAY: u64 = 8;
const NONE: u32 = u32::MAX;

/// Task descriptions: client work first, then internal chores.
const DESCRIPTIONS: [&str; 24] = [
    "Code review",
    "Bug fixing",
    "Client call",
    "Sprint planning",
    "Feature: checkout flow",
    "Write specification",
    "Deploy to staging",
    "Performance tuning",
    "Landing page",
    "Database migration",
    "Customer workshop",
    "Estimate change request",
    "Write newsletter",
    "Onboarding docs",
    "Accessibility fixes",
    "Report for \"Q3\" review",
    "Standup",
    "1:1",
    "Email",
    "Hiring interview",
    "Team meeting",
    "Admin",
    "Learning",
    "Expense reports",
];
const CLIENT_DESCRIPTIONS: Range<usize> = 0..16;
const INTERNAL_DESCRIPTIONS: Range<usize> = 16..24;

/// What the generator needs of one user, flattened.
#[derive(Debug, Clone)]
struct UserPlan {
    id: u64,
    workspace_id: u64,
    offset_s: i64,
    usual: Vec<u32>,
    internal: u32,
    tags: Range<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    Kept,
    Edited,
    Deleted,
}

/// One planned entry; turned into a [`TimeEntry`] only when yielded.
#[derive(Debug, Clone, Copy)]
struct Planned {
    start: i64,
    duration: u32,
    user: u32,
    project: u32,
    description: u8,
    tags: [u32; 2],
    n_tags: u8,
    billable: bool,
    fate: Fate,
    /// Seconds from stop to the edit or deletion.
    delay: u32,
    /// Microseconds from stop (or start, when running) to the save (`at`).
    save_us: u32,
}

/// What the generator needs of a world, flattened once and shared by the
/// generators of other windows ([`EntryGenerator::reframe`]).
#[derive(Debug)]
struct Roster {
    seed: u64,
    users: Vec<UserPlan>,
    /// (id, client project) per world project.
    projects: Vec<(u64, bool)>,
    tags: Vec<(u64, String)>,
    descriptions: Vec<String>,
    /// Id space per date: more than a date's entries.
    stride: u64,
    /// Every start of date d lies in [d·DAY + first_s, d·DAY + last_s).
    first_s: i64,
    last_s: i64,
}

impl Roster {
    fn new(world: &World, seed: u64) -> Roster {
        use std::collections::HashMap;
        let mut internal = HashMap::new();
        for (i, p) in world.projects.iter().enumerate() {
            if p.client_id.is_none() {
                internal.entry(p.workspace_id).or_insert(i as u32);
            }
        }
        let mut tags: HashMap<u64, Range<u32>> = HashMap::new();
        for (i, t) in world.tags.iter().enumerate() {
            // World tags are contiguous per workspace.
            let r = tags.entry(t.workspace_id).or_insert(i as u32..i as u32);
            r.end = i as u32 + 1;
        }
        let users: Vec<UserPlan> = world
            .users
            .iter()
            .map(|u| UserPlan {
                id: u.id,
                workspace_id: u.workspace_id,
                offset_s: i64::from(u.utc_offset_s),
                usual: u.usual_projects.iter().map(|&p| p as u32).collect(),
                internal: internal.get(&u.workspace_id).copied().unwrap_or(NONE),
                tags: tags.get(&u.workspace_id).cloned().unwrap_or(0..0),
            })
            .collect();
        let offsets = users.iter().map(|u| u.offset_s);
        let (min_off, max_off) = (
            offsets.clone().min().unwrap_or(0),
            offsets.max().unwrap_or(0),
        );
        // Dates must not interleave for entries to come out in start order.
        assert!(
            max_off - min_off < DAY - WORKDAY,
            "user UTC offsets must span less than 14 hours"
        );
        Roster {
            first_s: WORK_START - max_off,
            last_s: WORK_START + WORKDAY - min_off,
            seed,
            stride: MAX_PER_DAY * users.len().max(1) as u64,
            users,
            projects: world
                .projects
                .iter()
                .map(|p| (p.id, p.client_id.is_some() && p.billable))
                .collect(),
            tags: world.tags.iter().map(|t| (t.id, t.name.clone())).collect(),
            descriptions: DESCRIPTIONS.iter().map(|d| d.to_string()).collect(),
        }
    }

    /// Plan every user's entries of local `date` (days since 1970-01-01) into
    /// `batch`, sorted by (start, user).
    fn plan_date(&self, date: i64, batch: &mut Vec<Planned>) {
        batch.clear();
        if (date + 3).rem_euclid(7) >= 5 {
            return; // 1970-01-01 was a Thursday: weekday 3 with Monday = 0.
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, date as u64));
        let mut durations = [0f64; MAX_PER_DAY as usize];
        let mut gaps = [0f64; MAX_PER_DAY as usize + 1];
        for (ui, u) in self.users.iter().enumerate() {
            if rng.random_bool(DAY_OFF) {
                continue;
            }
            let n = rng.random_range(4..=MAX_PER_DAY as usize);
            let mut total = 0.0;
            for d in &mut durations[..n] {
                let z = inverse_normal(unit(&mut rng));
                *d = (MEDIAN_DURATION * (SIGMA * z).exp()).clamp(MIN_DURATION, MAX_DURATION);
                total += *d;
            }
            // Squeeze the part above the 5-minute floor so the day fits in 90 %.
            let floor = n as f64 * MIN_DURATION;
            let budget = 0.9 * WORKDAY as f64;
            if total > budget {
                let f = (budget - floor) / (total - floor);
                for d in &mut durations[..n] {
                    *d = MIN_DURATION + (*d - MIN_DURATION) * f;
                }
            }
            let busy: f64 = durations[..n].iter().map(|d| d.floor()).sum();
            let mut weights = 0.0;
            for g in &mut gaps[..=n] {
                *g = unit(&mut rng);
                weights += *g;
            }
            let free = WORKDAY as f64 - busy;
            let mut cursor = date * DAY + WORK_START - u.offset_s;
            for i in 0..n {
                cursor += (free * gaps[i] / weights).floor() as i64;
                let duration = durations[i].floor() as u32;
                batch.push(plan_one(
                    &mut rng,
                    u,
                    ui as u32,
                    cursor,
                    duration,
                    &self.projects,
                ));
                cursor += i64::from(duration);
            }
        }
        batch.sort_unstable_by_key(|p| (p.start, p.user));
    }
}

/// Entries of a world between two instants, in start order, deterministic from a seed.
#[derive(Debug, Clone)]
pub struct EntryGenerator {
    roster: Arc<Roster>,
    from_s: i64,
    to_s: i64,
    now_s: i64,
    /// Next date to plan, and the last one that can hold entries before `to_s`.
    date: i64,
    last_date: i64,
    batch: Vec<Planned>,
    batch_date: i64,
    pos: usize,
}

impl EntryGenerator {
    /// Entries starting in `[from_s, to_s)` (unix seconds).
    ///
    /// # Panics
    /// If the world's user UTC offsets span 14 hours or more.
    pub fn new(world: &World, seed: u64, from_s: i64, to_s: i64) -> EntryGenerator {
        Self::with_roster(Arc::new(Roster::new(world, seed)), from_s, to_s, to_s)
    }

    /// Entries starting in `[from_s, to_s)` as they look at `now_s`: edits and
    /// deletions up to `now_s` have happened and the entries in progress at
    /// `now_s` run. `to_s` is clamped to `now_s`. Shares this generator's world
    /// and seed (cheap: no world scan), e.g. for paging a long history.
    pub fn reframe(&self, from_s: i64, to_s: i64, now_s: i64) -> EntryGenerator {
        Self::with_roster(Arc::clone(&self.roster), from_s, to_s.min(now_s), now_s)
    }

    fn with_roster(roster: Arc<Roster>, from_s: i64, to_s: i64, now_s: i64) -> EntryGenerator {
        EntryGenerator {
            from_s,
            to_s,
            now_s,
            // The first date with a start ≥ from_s, the last with one < to_s.
            date: (from_s - roster.last_s).div_euclid(DAY) + 1,
            last_date: (to_s - roster.first_s - 1).div_euclid(DAY),
            batch: Vec::new(),
            batch_date: 0,
            pos: 0,
            roster,
        }
    }

    /// The number of entries left that are not deleted (as of `now`), without
    /// building them: what [`super::super::line_protocol`] would write.
    pub fn count_live(mut self) -> u64 {
        let mut n = 0;
        while let Some((p, _)) = self.next_planned() {
            n += u64::from(self.fate_at_now(&p) != Fate::Deleted);
        }
        n
    }

    /// The next planned entry in the window and its rank in its date.
    fn next_planned(&mut self) -> Option<(Planned, usize)> {
        loop {
            if let Some(&p) = self.batch.get(self.pos) {
                let rank = self.pos;
                self.pos += 1;
                if p.start < self.from_s {
                    continue;
                }
                if p.start >= self.to_s {
                    self.date = self.last_date + 1; // batches are in time order: done
                    self.pos = self.batch.len();
                    return None;
                }
                return Some((p, rank));
            }
            if self.date > self.last_date {
                return None;
            }
            self.batch_date = self.date;
            self.date += 1;
            self.pos = 0;
            self.roster.plan_date(self.batch_date, &mut self.batch);
        }
    }

    /// The entry's fate as seen at `now`: changes after `now` have not happened.
    fn fate_at_now(&self, p: &Planned) -> Fate {
        // Kept entries have no delay: this is also "not stopped yet".
        if p.start + i64::from(p.duration) + i64::from(p.delay) > self.now_s {
            Fate::Kept
        } else {
            p.fate
        }
    }

    fn materialize(&self, p: &Planned, rank: usize) -> TimeEntry {
        let r = &*self.roster;
        let u = &r.users[p.user as usize];
        let id = ID_BASE + (self.batch_date.max(0) as u64) * r.stride + rank as u64;
        let tags = &p.tags[..p.n_tags as usize];
        let stop_s = p.start + i64::from(p.duration);
        let save_us = i64::from(p.save_us);
        let now_us = self.now_s.saturating_mul(1_000_000);
        let changed_us = (stop_s + i64::from(p.delay)) * 1_000_000 + save_us;
        let (stop, duration, at_us, deleted_us) = if stop_s > self.now_s {
            (
                None,
                -p.start,
                (p.start * 1_000_000 + save_us).min(now_us),
                None,
            )
        } else {
            let stop = Some(secs(stop_s));
            match self.fate_at_now(p) {
                Fate::Edited => (stop, p.duration.into(), changed_us, None),
                Fate::Deleted => (
                    stop,
                    p.duration.into(),
                    changed_us,
                    Some(micros(changed_us)),
                ),
                Fate::Kept => (
                    stop,
                    p.duration.into(),
                    (stop_s * 1_000_000 + save_us).min(now_us),
                    None,
                ),
            }
        };
        TimeEntry {
            id,
            workspace_id: u.workspace_id,
            user_id: u.id,
            project_id: (p.project != NONE).then(|| r.projects[p.project as usize].0),
            billable: p.billable,
            start: secs(p.start),
            stop,
            duration,
            description: r.descriptions[p.description as usize].clone(),
            tags: tags.iter().map(|&t| r.tags[t as usize].1.clone()).collect(),
            tag_ids: tags.iter().map(|&t| r.tags[t as usize].0).collect(),
            at: micros(at_us),
            server_deleted_at: deleted_us,
        }
    }
}

impl Iterator for EntryGenerator {
    type Item = TimeEntry;
    fn next(&mut self) -> Option<TimeEntry> {
        let (p, rank) = self.next_planned()?;
        Some(self.materialize(&p, rank))
    }

    /// Counts without building the entries.
    fn count(mut self) -> usize {
        let mut n = 0;
        while self.next_planned().is_some() {
            n += 1;
        }
        n
    }
}

/// Draw project, description, tags, billable flag and fate of one entry.
fn plan_one(
    rng: &mut ChaCha8Rng,
    u: &UserPlan,
    user: u32,
    start: i64,
    duration: u32,
    projects: &[(u64, bool)],
) -> Planned {
    let r = unit(rng);
    let project = if r < NO_PROJECT {
        NONE
    } else if (r < NO_PROJECT + INTERNAL || u.usual.is_empty()) && u.internal != NONE {
        u.internal
    } else if u.usual.is_empty() {
        NONE
    } else {
        u.usual[rng.random_range(0..u.usual.len())]
    };
    let client_work = project != NONE && projects[project as usize].1;
    let descriptions = if client_work || (project == NONE && rng.random_bool(0.5)) {
        CLIENT_DESCRIPTIONS
    } else {
        INTERNAL_DESCRIPTIONS
    };
    let description = rng.random_range(descriptions) as u8;
    let billable = client_work && rng.random_bool(BILLABLE);
    let pool = u.tags.end - u.tags.start;
    let t = unit(rng);
    let want = if t < 0.5 {
        0
    } else if t < 0.85 {
        1
    } else {
        2
    };
    let n_tags = want.min(pool);
    let mut tags = [0u32; 2];
    if n_tags >= 1 {
        tags[0] = u.tags.start + rng.random_range(0..pool);
    }
    if n_tags == 2 {
        // A distinct second tag, kept in id order.
        let second = u.tags.start + (tags[0] - u.tags.start + rng.random_range(1..pool)) % pool;
        tags = [tags[0].min(second), tags[0].max(second)];
    }
    let f = unit(rng);
    let (fate, delay) = if f < DELETED {
        (Fate::Deleted, rng.random_range(60..DAY as u32))
    } else if f < DELETED + EDITED {
        (Fate::Edited, rng.random_range(600..2 * DAY as u32))
    } else {
        (Fate::Kept, 0)
    };
    Planned {
        start,
        duration,
        user,
        project,
        description,
        tags,
        n_tags: n_tags as u8,
        billable,
        fate,
        delay,
        save_us: rng.random_range(50_000..3_000_000),
    }
}

fn secs(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

fn micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// SplitMix64 of the seed and a stream number: independent per-date seeds.
fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in the open interval (0, 1).
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    ((rng.random::<u64>() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// Standard normal quantile (Acklam's rational approximation, rel. error < 1.2e-9).
pub(super) fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}
