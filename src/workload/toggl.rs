//! Toggl Track time entries: a seeded, realistic generator and the API v9 JSON shape.
//! (Interface stub: to be filled in.)

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

/// Write line protocol for `days` days of generated history ending at `end_s`
/// (unix seconds) into `out`, deterministically from `seed`. Returns the number
/// of points written. The sandbox pre-seeds itself with this.
pub fn backfill_line_protocol(seed: u64, days: u32, end_s: i64, out: &mut Vec<u8>) -> u64 {
    let _ = (seed, days, end_s, out);
    todo!("filled in by the toggl generator work")
}
