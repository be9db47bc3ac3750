//! Time entries → InfluxDB line protocol, with the schema of DOMAIN.md §5.1.
//!
//! This module owns the one transformation both the sync job and the sandbox's
//! backfill use, so what dashboards query is the same whoever wrote it:
//!
//! ```text
//! time_entry,billable=true,client=Acme\ Corp,project=Website\ Redesign,user=Ada\ Lovelace,workspace_id=1234567 duration_s=3600i,billable_s=3600i,entry_id=3790001234i,running=false,description="Landing page" 1700000000
//! ```
//!
//! Tags are sorted by key; the `client` tag is left out when the project has
//! none; an entry without project gets `project=(no project)`. The timestamp is
//! the start in seconds (write with `precision=s`). Running entries get
//! `running=true` and `duration_s` = now − start; deleted entries are skipped.
//!
//! Escaping follows InfluxDB 1.x (DOMAIN.md §2.3): `\,` `\=` `\ ` in tag
//! values, `\"` `\\` in the string field. Two things line protocol cannot carry
//! are replaced rather than mangled: a line break or tab becomes a space, and
//! in a tag value a backslash that is last or followed by `\`, `,`, `=` or a
//! space becomes `/` (1.x would read it as an escape; other parsers unescape
//! `\\`). Names are escaped once when a [`Names`] is built, so the hot path only
//! copies bytes and formats integers into a reused buffer.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Deserialize;

use super::toggl::{TimeEntry, World};

/// Measurement all points go to.
pub const MEASUREMENT: &str = "time_entry";
/// `project` tag value of entries without a project.
pub const NO_PROJECT: &str = "(no project)";

/// What [`Names::write_entry`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// One line was appended (running entries included).
    Written,
    /// The entry has `server_deleted_at`: nothing was written.
    SkippedDeleted,
}

/// Counts of one [`Names::write_entries`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines written.
    pub written: u64,
    /// Of those, running entries.
    pub running: u64,
    /// Deleted entries skipped.
    pub deleted: u64,
}

/// Id → pre-escaped tag fragment, sorted by id (ids are few and dense enough
/// that a binary search beats hashing).
#[derive(Debug, Clone, Default)]
struct IdMap {
    ids: Vec<u64>,
    fragments: Vec<Box<[u8]>>,
}

impl IdMap {
    fn insert(&mut self, id: u64, fragment: Vec<u8>) {
        match self.ids.binary_search(&id) {
            Ok(i) => self.fragments[i] = fragment.into(),
            Err(i) => {
                self.ids.insert(i, id);
                self.fragments.insert(i, fragment.into());
            }
        }
    }

    fn get(&self, id: u64) -> Option<&[u8]> {
        self.ids
            .binary_search(&id)
            .ok()
            .map(|i| &*self.fragments[i])
    }
}

/// Id → name lookups for users, projects and their clients, pre-escaped.
///
/// Unknown ids are written as their decimal value (`user=7654321`), so a
/// stale cache degrades into ugly tags rather than lost points.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// `,user=<name>`.
    users: IdMap,
    /// `,client=<client>,project=<name>` or `,project=<name>`.
    projects: IdMap,
}

/// The parts of `GET /api/v9/me?with_related_data=true` that name things.
#[derive(Deserialize)]
struct RelatedData {
    id: u64,
    fullname: Option<String>,
    #[serde(default)]
    projects: Option<Vec<RelatedProject>>,
    #[serde(default)]
    clients: Option<Vec<RelatedNamed>>,
    #[serde(default)]
    workspace_users: Option<Vec<RelatedUser>>,
}

#[derive(Deserialize)]
struct RelatedProject {
    id: u64,
    name: String,
    client_id: Option<u64>,
}

#[derive(Deserialize)]
struct RelatedNamed {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct RelatedUser {
    id: u64,
    #[serde(alias = "fullname")]
    name: String,
}

impl Names {
    /// Empty lookups: every id is written as a number.
    pub fn new() -> Names {
        Names::default()
    }

    /// Name user `id` (replacing an earlier name).
    pub fn insert_user(&mut self, id: u64, name: &str) {
        let mut f = Vec::with_capacity(name.len() + 8);
        f.extend_from_slice(b",user=");
        if !escape_tag_value(name, &mut f) {
            f.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        }
        self.users.insert(id, f);
    }

    /// Name project `id` and its client, if any (replacing an earlier name).
    pub fn insert_project(&mut self, id: u64, name: &str, client: Option<&str>) {
        let mut f = Vec::with_capacity(name.len() + client.map_or(0, str::len) + 20);
        if let Some(client) = client {
            f.extend_from_slice(b",client=");
            if !escape_tag_value(client, &mut f) {
                f.truncate(0); // a blank client name: no client tag
            }
        }
        f.extend_from_slice(b",project=");
        if !escape_tag_value(name, &mut f) {
            f.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
        }
        self.projects.insert(id, f);
    }

    /// Names of everything in a generated world.
    pub fn from_world(world: &World) -> Names {
        let mut names = Names::new();
        for u in &world.users {
            names.insert_user(u.id, &u.name);
        }
        for p in &world.projects {
            let client = p
                .client_id
                .and_then(|c| world.clients.iter().find(|x| x.id == c));
            names.insert_project(p.id, &p.name, client.map(|c| c.name.as_str()));
        }
        names
    }

    /// Names from the body of Toggl's `GET /api/v9/me?with_related_data=true`:
    /// the token owner (`id`, `fullname`), `projects`, `clients`, and the other
    /// people under `workspace_users` (`[{"id","name"}]`, as the sandbox adds
    /// them; real Toggl serves them at `GET /workspaces/{wid}/users`, feed those
    /// to [`Names::insert_user`]). Null lists read as empty.
    pub fn from_related_data(json: &serde_json::Value) -> Result<Names, serde_json::Error> {
        let data = RelatedData::deserialize(json)?;
        let mut names = Names::new();
        for u in data.workspace_users.unwrap_or_default() {
            names.insert_user(u.id, &u.name);
        }
        if let Some(me) = &data.fullname {
            names.insert_user(data.id, me);
        }
        let clients = data.clients.unwrap_or_default();
        for p in data.projects.unwrap_or_default() {
            let client = p.client_id.and_then(|c| clients.iter().find(|x| x.id == c));
            names.insert_project(p.id, &p.name, client.map(|c| c.name.as_str()));
        }
        Ok(names)
    }

    /// Append one line for `entry` to `out` (with its `\n`), treating `now_s`
    /// (unix seconds) as the current time for running entries. Allocates only
    /// when `out` grows.
    pub fn write_entry(&self, entry: &TimeEntry, now_s: i64, out: &mut Vec<u8>) -> Outcome {
        if entry.server_deleted_at.is_some() {
            return Outcome::SkippedDeleted;
        }
        let start = entry.start.timestamp();
        let running = entry.is_running();
        let duration = if running {
            (now_s - start).max(0)
        } else {
            entry.duration
        };
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"time_entry,billable=");
        out.extend_from_slice(if entry.billable { b"true" } else { b"false" });
        match entry.project_id {
            None => out.extend_from_slice(b",project=(no\\ project)"),
            Some(id) => match self.projects.get(id) {
                Some(f) => out.extend_from_slice(f),
                None => {
                    out.extend_from_slice(b",project=");
                    out.extend_from_slice(num.format(id).as_bytes());
                }
            },
        }
        match self.users.get(entry.user_id) {
            Some(f) => out.extend_from_slice(f),
            None => {
                out.extend_from_slice(b",user=");
                out.extend_from_slice(num.format(entry.user_id).as_bytes());
            }
        }
        out.extend_from_slice(b",workspace_id=");
        out.extend_from_slice(num.format(entry.workspace_id).as_bytes());
        out.extend_from_slice(b" duration_s=");
        out.extend_from_slice(num.format(duration).as_bytes());
        out.extend_from_slice(b"i,billable_s=");
        out.extend_from_slice(
            num.format(if entry.billable { duration } else { 0 })
                .as_bytes(),
        );
        out.extend_from_slice(b"i,entry_id=");
        out.extend_from_slice(num.format(entry.id).as_bytes());
        out.extend_from_slice(if running {
            b"i,running=true,description=\""
        } else {
            b"i,running=false,description=\""
        });
        escape_string_field(&entry.description, out);
        out.extend_from_slice(b"\" ");
        out.extend_from_slice(num.format(start).as_bytes());
        out.push(b'\n');
        Outcome::Written
    }

    /// [`Names::write_entry`] for each entry; returns what was written.
    pub fn write_entries<'a>(
        &self,
        entries: impl IntoIterator<Item = &'a TimeEntry>,
        now_s: i64,
        out: &mut Vec<u8>,
    ) -> Counts {
        let mut counts = Counts::default();
        for e in entries {
            match self.write_entry(e, now_s, out) {
                Outcome::Written => {
                    counts.written += 1;
                    counts.running += u64::from(e.is_running());
                }
                Outcome::SkippedDeleted => counts.deleted += 1,
            }
        }
        counts
    }
}

/// Escape `s` as a tag value into `out`; false (and nothing written) when `s`
/// is blank, since InfluxDB rejects an empty tag value.
fn escape_tag_value(s: &str, out: &mut Vec<u8>) -> bool {
    if s.trim().is_empty() {
        return false;
    }
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b',' | b'=' | b' ' => out.extend_from_slice(&[b'\\', b]),
            b'\n' | b'\r' | b'\t' => out.extend_from_slice(b"\\ "),
            b'\\' => match bytes.get(i + 1) {
                None | Some(b'\\' | b',' | b'=' | b' ' | b'\n' | b'\r' | b'\t') => out.push(b'/'),
                Some(_) => out.push(b'\\'),
            },
            _ => out.push(b),
        }
    }
    true
}

/// Escape `s` as the inside of a string field value into `out`.
fn escape_string_field(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|&b| matches!(b, b'"' | b'\\' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\n' | b'\r' => out.push(b' '),
            _ => out.push(b),
        }
    }
}

/// Gzip a batch for `Content-Encoding: gzip` into `out` (cleared first), at
/// level 1: a load generator's CPU is worth more than the last 20 % of bytes.
pub fn gzip(lp: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut enc = GzEncoder::new(std::mem::take(out), Compression::fast());
    enc.write_all(lp).expect("writing to a Vec cannot fail");
    *out = enc.finish().expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests;
