//! Toggl Track time entries: a seeded, realistic generator and the API v9 JSON shape.
//! (Interface stub: the toggl generator work fills the bodies in; the signatures are
//! the contract other modules code against.)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Knobs of the generated Toggl world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// Workspaces.
    pub workspaces: u32,
    /// Users per workspace.
    pub users_per_workspace: u32,
    /// Projects per workspace (an "Internal" project with no client is added).
    pub projects: u32,
    /// Clients per workspace.
    pub clients: u32,
    /// Tags per workspace.
    pub tags: u32,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            workspaces: 1,
            users_per_workspace: 50,
            projects: 30,
            clients: 10,
            tags: 12,
        }
    }
}

/// The generated people, projects, clients and tags entries refer to.
#[derive(Debug, Clone)]
pub struct World {}

impl World {
    /// Generate a world deterministically from `seed`.
    pub fn generate(seed: u64, config: &WorldConfig) -> World {
        let _ = (seed, config);
        todo!()
    }

    /// The body of `GET /api/v9/me?with_related_data=true` for this world.
    pub fn related_data_json(&self) -> serde_json::Value {
        todo!()
    }
}

/// One time entry, serialised exactly as Toggl API v9 returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeEntry {
    /// Entry id.
    pub id: u64,
    /// Workspace id.
    pub workspace_id: u64,
    /// Owner.
    pub user_id: u64,
    /// Project, if any.
    pub project_id: Option<u64>,
    /// Billable or not.
    pub billable: bool,
    /// Start time.
    pub start: DateTime<Utc>,
    /// Stop time; `None` while running.
    pub stop: Option<DateTime<Utc>>,
    /// Seconds; negative while running.
    pub duration: i64,
    /// Free text.
    pub description: String,
    /// Tag names.
    pub tags: Vec<String>,
    /// Tag ids.
    pub tag_ids: Vec<u64>,
    /// Last modification.
    pub at: DateTime<Utc>,
    /// Set when deleted.
    pub server_deleted_at: Option<DateTime<Utc>>,
}

/// Entries of a world between two instants, in start order, deterministic from a seed.
pub struct EntryGenerator {}

impl EntryGenerator {
    /// Entries starting in `[from_s, to_s)` (unix seconds).
    pub fn new(world: &World, seed: u64, from_s: i64, to_s: i64) -> EntryGenerator {
        let _ = (world, seed, from_s, to_s);
        todo!()
    }
}

impl Iterator for EntryGenerator {
    type Item = TimeEntry;
    fn next(&mut self) -> Option<TimeEntry> {
        todo!()
    }
}

/// Write line protocol for `days` days of generated history ending at `end_s`
/// (unix seconds) into `out`, deterministically from `seed`. Returns the number
/// of points written. The sandbox pre-seeds itself with this.
pub fn backfill_line_protocol(seed: u64, days: u32, end_s: i64, out: &mut Vec<u8>) -> u64 {
    let _ = (seed, days, end_s, out);
    todo!("filled in by the toggl generator work")
}
