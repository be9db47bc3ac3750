//! Toggl Track time entries: a seeded, realistic generator and the API v9 JSON shape.
//!
//! This module owns what "a Toggl account" looks like to the rest of dashload: the
//! [`World`] (workspaces, users, clients, projects, tags; `world.rs`), the entries
//! its users log ([`EntryGenerator`]; `entries.rs`) and [`TimeEntry`], serialised
//! exactly as `GET /api/v9/me/time_entries` returns it (DOMAIN.md §4.1). The sandbox
//! serves these, the sync job turns them into line protocol
//! ([`super::line_protocol`]), and `dashload generate toggl` prints them.
//!
//! Everything is a pure function of the seed: the same seed, world and window give
//! byte-identical entries, and the entries of one day do not depend on the window
//! they are asked for in (so incremental sync windows agree with a backfill).

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod entries;
#[cfg(test)]
mod tests;
mod world;

pub use entries::EntryGenerator;
pub use world::{Client, Project, Tag, User, Workspace, World};

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

/// One time entry, serialised exactly as Toggl API v9 returns it.
///
/// Serialisation adds the fields Toggl always sends and we do not model
/// (`task_id: null`, `duronly: true`) and the legacy duplicates `uid`, `wid`,
/// `pid` (omitted when there is no project). `start`/`stop` are written with
/// second precision and `+00:00`, `at`/`server_deleted_at` with microseconds and
/// `Z`, as Toggl does. Deserialisation accepts any RFC 3339 offset, ignores
/// unknown fields and reads a null `description`, `tags` or `tag_ids` as empty.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    #[serde(deserialize_with = "de_time")]
    pub start: DateTime<Utc>,
    /// Stop time; `None` while running.
    #[serde(deserialize_with = "de_opt_time", default)]
    pub stop: Option<DateTime<Utc>>,
    /// Seconds; negative while running (Toggl sends `-<start epoch s>`).
    pub duration: i64,
    /// Free text (null reads as empty).
    #[serde(deserialize_with = "de_null_default", default)]
    pub description: String,
    /// Tag names.
    #[serde(deserialize_with = "de_null_default", default)]
    pub tags: Vec<String>,
    /// Tag ids.
    #[serde(deserialize_with = "de_null_default", default)]
    pub tag_ids: Vec<u64>,
    /// Last modification.
    #[serde(deserialize_with = "de_time")]
    pub at: DateTime<Utc>,
    /// Set when deleted.
    #[serde(deserialize_with = "de_opt_time", default)]
    pub server_deleted_at: Option<DateTime<Utc>>,
}

impl TimeEntry {
    /// True while the timer runs (Toggl: negative duration, no stop).
    pub fn is_running(&self) -> bool {
        self.duration < 0
    }
}

/// The wire shape, borrowed: field order as Toggl sends it.
#[derive(Serialize)]
struct TimeEntryWire<'a> {
    id: u64,
    workspace_id: u64,
    project_id: Option<u64>,
    task_id: Option<u64>,
    billable: bool,
    start: Rfc3339,
    stop: Option<Rfc3339>,
    duration: i64,
    description: &'a str,
    tags: &'a [String],
    tag_ids: &'a [u64],
    duronly: bool,
    at: Rfc3339,
    server_deleted_at: Option<Rfc3339>,
    user_id: u64,
    uid: u64,
    wid: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u64>,
}

impl Serialize for TimeEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TimeEntryWire {
            id: self.id,
            workspace_id: self.workspace_id,
            project_id: self.project_id,
            task_id: None,
            billable: self.billable,
            start: Rfc3339::seconds(&self.start),
            stop: self.stop.as_ref().map(Rfc3339::seconds),
            duration: self.duration,
            description: &self.description,
            tags: &self.tags,
            tag_ids: &self.tag_ids,
            duronly: true,
            at: Rfc3339::micros(&self.at),
            server_deleted_at: self.server_deleted_at.as_ref().map(Rfc3339::micros),
            user_id: self.user_id,
            uid: self.user_id,
            wid: self.workspace_id,
            pid: self.project_id,
        }
        .serialize(s)
    }
}

/// An RFC 3339 UTC time formatted on the stack (no allocation per field).
struct Rfc3339 {
    buf: [u8; 32],
    len: usize,
}

impl Rfc3339 {
    /// `2024-12-12T19:49:11+00:00` (Toggl's `start`/`stop`).
    fn seconds(t: &DateTime<Utc>) -> Rfc3339 {
        Self::format(t, false)
    }

    /// `2024-12-12T20:38:06.061437Z` (Toggl's `at`).
    fn micros(t: &DateTime<Utc>) -> Rfc3339 {
        Self::format(t, true)
    }

    fn format(t: &DateTime<Utc>, micros: bool) -> Rfc3339 {
        let mut out = Rfc3339 {
            buf: [0; 32],
            len: 0,
        };
        let year = t.year();
        if !(0..=9999).contains(&year) {
            // Outside what 4 digits hold: let chrono spell it.
            let s = t.to_rfc3339();
            let n = s.len().min(32);
            out.buf[..n].copy_from_slice(&s.as_bytes()[..n]);
            out.len = n;
            return out;
        }
        push_digits(&mut out, year as u32, 4);
        let sep = |out: &mut Rfc3339, c: u8| {
            out.buf[out.len] = c;
            out.len += 1;
        };
        let fields = [
            (b'-', t.month()),
            (b'-', t.day()),
            (b'T', t.hour()),
            (b':', t.minute()),
            (b':', t.second()),
        ];
        for (c, v) in fields {
            sep(&mut out, c);
            push_digits(&mut out, v, 2);
        }
        if micros {
            sep(&mut out, b'.');
            push_digits(&mut out, t.nanosecond().min(999_999_999) / 1000, 6);
            sep(&mut out, b'Z');
        } else {
            out.buf[out.len..out.len + 6].copy_from_slice(b"+00:00");
            out.len += 6;
        }
        out
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("ASCII digits")
    }
}

fn push_digits(out: &mut Rfc3339, mut v: u32, width: usize) {
    for i in (0..width).rev() {
        out.buf[out.len + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.len += width;
}

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(serde::de::Error::custom)
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom),
    }
}

fn de_null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Write line protocol for `days` days of generated history ending at `end_s`
/// (unix seconds) into `out`, deterministically from `seed`. Returns the number
/// of points written. The sandbox pre-seeds itself with this.
///
/// Uses the default [`WorldConfig`]; deleted entries are left out, an entry in
/// progress at `end_s` is written with `running=true` (DOMAIN.md §5.1).
pub fn backfill_line_protocol(seed: u64, days: u32, end_s: i64, out: &mut Vec<u8>) -> u64 {
    use super::line_protocol::{Names, Outcome};
    let world = World::generate(seed, &WorldConfig::default());
    let names = Names::from_world(&world);
    let from_s = end_s - i64::from(days) * 86_400;
    let mut written = 0;
    for e in EntryGenerator::new(&world, seed, from_s, end_s) {
        if names.write_entry(&e, end_s, out) == Outcome::Written {
            written += 1;
        }
    }
    written
}
