//! The generated Toggl account: workspaces, users, clients, projects and tags.
//!
//! Names come from the `fake` crate (English locale), drawn from a ChaCha8 RNG
//! seeded with the world seed, and are unique within their kind (a duplicate
//! user name would merge two people into one InfluxDB series). Ids are
//! monotonic in creation order and sized like Toggl's: workspaces and users 7
//! digits, clients and tags 8, projects 9. `fake` 5 is built on rand 0.10, so
//! this module and the entry generator use its re-export (`fake::rand`) rather
//! than the crate's rand 0.9, and one RNG type drives both names and entries.

use std::collections::HashSet;

use fake::faker::company::raw::{Buzzword, BuzzwordTail, CompanyName};
use fake::faker::name::raw::{FirstName, LastName};
use fake::locales::EN;
use fake::rand::rngs::ChaCha8Rng;
use fake::rand::{RngExt, SeedableRng};
use fake::Fake;
use serde_json::json;

use super::WorldConfig;

/// A Toggl workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    /// 7-digit id.
    pub id: u64,
    /// Display name.
    pub name: String,
}

/// A person logging time. Each user belongs to one workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// 7-digit id.
    pub id: u64,
    /// Workspace the user logs time in.
    pub workspace_id: u64,
    /// Full name ("Ada Lovelace"), unique in the world.
    pub name: String,
    /// `first.last@example.com`.
    pub email: String,
    /// Offset of the user's local time from UTC, in seconds. Workdays
    /// (Monday–Friday, 8:00–18:00) are in this local time. Generated offsets
    /// range from −5 h to +3 h; the offsets of a world must span less than
    /// 14 h, so one local date's workdays never interleave with the next's.
    pub utc_offset_s: i32,
    /// Indices into [`World::projects`] of the client projects this user
    /// usually works on (up to 3; the workspace's Internal project comes on top).
    pub usual_projects: Vec<usize>,
}

/// A client (customer) of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// 8-digit id.
    pub id: u64,
    /// Workspace id (Toggl calls it `wid` here).
    pub workspace_id: u64,
    /// Company name.
    pub name: String,
}

/// A project; client projects are billable, "Internal" has no client and is not.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// 9-digit id.
    pub id: u64,
    /// Workspace id.
    pub workspace_id: u64,
    /// Client id; `None` for the Internal project.
    pub client_id: Option<u64>,
    /// Display name, unique in the world.
    pub name: String,
    /// Project default for new entries.
    pub billable: bool,
    /// Toggl's `active` flag (always true here).
    pub active: bool,
}

/// A tag from the workspace's pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// 8-digit id.
    pub id: u64,
    /// Workspace id.
    pub workspace_id: u64,
    /// Tag name.
    pub name: String,
}

/// The generated people, projects, clients and tags entries refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    /// Workspaces, by ascending id.
    pub workspaces: Vec<Workspace>,
    /// Users of all workspaces, by ascending id; `users[0]` owns the API token.
    pub users: Vec<User>,
    /// Clients of all workspaces, by ascending id.
    pub clients: Vec<Client>,
    /// Projects of all workspaces (each workspace's client projects, then its
    /// "Internal"), by ascending id.
    pub projects: Vec<Project>,
    /// Tags of all workspaces, by ascending id.
    pub tags: Vec<Tag>,
}

/// Name of the per-workspace project without a client.
pub const INTERNAL_PROJECT: &str = "Internal";

const TAG_POOL: [&str; 20] = [
    "dev", "meeting", "review", "qa", "support", "ops", "design", "research", "planning", "docs",
    "urgent", "bugfix", "travel", "training", "sales", "hiring", "infra", "release", "workshop",
    "admin",
];

const UTC_OFFSETS_H: [i32; 9] = [-5, -4, 0, 0, 1, 1, 1, 2, 3];

/// Monotonic ids: a random 7/8/9-digit start, random small steps.
struct IdSeq(u64, u64);

impl IdSeq {
    fn new(rng: &mut ChaCha8Rng, start: std::ops::Range<u64>, max_step: u64) -> IdSeq {
        IdSeq(rng.random_range(start), max_step)
    }
    fn next(&mut self, rng: &mut ChaCha8Rng) -> u64 {
        self.0 += rng.random_range(1..=self.1);
        self.0
    }
}

/// Draw a name not drawn before; after a few collisions, number it.
fn unique(seen: &mut HashSet<String>, mut draw: impl FnMut() -> String) -> String {
    for _ in 0..8 {
        let s = draw();
        if seen.insert(s.clone()) {
            return s;
        }
    }
    let base = draw();
    let s = (2..)
        .map(|n| format!("{base} {n}"))
        .find(|s| !seen.contains(s))
        .expect("unbounded");
    seen.insert(s.clone());
    s
}

fn email_of(first: &str, last: &str) -> String {
    let slug = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    format!("{}.{}@example.com", slug(first), slug(last))
}

impl World {
    /// Generate a world deterministically from `seed`.
    pub fn generate(seed: u64, config: &WorldConfig) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0f70_661e);
        let mut ws_ids = IdSeq::new(&mut rng, 1_000_000..2_000_000, 5_000);
        let mut user_ids = IdSeq::new(&mut rng, 2_000_000..4_000_000, 40);
        let mut client_ids = IdSeq::new(&mut rng, 40_000_000..60_000_000, 300);
        let mut project_ids = IdSeq::new(&mut rng, 150_000_000..190_000_000, 20_000);
        let mut tag_ids = IdSeq::new(&mut rng, 10_000_000..20_000_000, 100);
        let mut seen = HashSet::new();
        let mut world = World {
            workspaces: Vec::new(),
            users: Vec::new(),
            clients: Vec::new(),
            projects: Vec::new(),
            tags: Vec::new(),
        };
        for _ in 0..config.workspaces.max(1) {
            let wid = ws_ids.next(&mut rng);
            let name = unique(&mut seen, || CompanyName(EN).fake_with_rng(&mut rng));
            world.workspaces.push(Workspace { id: wid, name });

            let first_client = world.clients.len();
            for _ in 0..config.clients {
                let id = client_ids.next(&mut rng);
                let name = unique(&mut seen, || CompanyName(EN).fake_with_rng(&mut rng));
                world.clients.push(Client {
                    id,
                    workspace_id: wid,
                    name,
                });
            }
            let ws_clients = first_client..world.clients.len();

            let first_project = world.projects.len();
            for p in 0..config.projects as usize {
                // Every client gets a project first, then the rest at random.
                let client_id = if ws_clients.is_empty() {
                    None
                } else if p < ws_clients.len() {
                    Some(world.clients[ws_clients.start + p].id)
                } else {
                    Some(world.clients[rng.random_range(ws_clients.clone())].id)
                };
                let id = project_ids.next(&mut rng);
                let name = unique(&mut seen, || {
                    let head: String = Buzzword(EN).fake_with_rng(&mut rng);
                    let tail: String = BuzzwordTail(EN).fake_with_rng(&mut rng);
                    format!("{head} {tail}")
                });
                world.projects.push(Project {
                    id,
                    workspace_id: wid,
                    client_id,
                    name,
                    billable: true,
                    active: true,
                });
            }
            let client_projects = first_project..world.projects.len();
            let internal_name = if world.workspaces.len() == 1 {
                INTERNAL_PROJECT.to_string()
            } else {
                // Keep project names (InfluxDB tag values) unique across workspaces.
                format!("{INTERNAL_PROJECT} {}", world.workspaces.len())
            };
            world.projects.push(Project {
                id: project_ids.next(&mut rng),
                workspace_id: wid,
                client_id: None,
                name: internal_name,
                billable: false,
                active: true,
            });

            for t in 0..config.tags as usize {
                let name = match TAG_POOL.get(t) {
                    Some(n) if world.workspaces.len() == 1 => n.to_string(),
                    Some(n) => format!("{n}-{}", world.workspaces.len()),
                    None => format!("tag-{t}"),
                };
                world.tags.push(Tag {
                    id: tag_ids.next(&mut rng),
                    workspace_id: wid,
                    name,
                });
            }

            for _ in 0..config.users_per_workspace.max(1) {
                let (mut first, mut last) = (String::new(), String::new());
                let name = unique(&mut seen, || {
                    first = FirstName(EN).fake_with_rng(&mut rng);
                    last = LastName(EN).fake_with_rng(&mut rng);
                    format!("{first} {last}")
                });
                let mut usual = Vec::new();
                while usual.len() < 3.min(client_projects.len()) {
                    let p = rng.random_range(client_projects.clone());
                    if !usual.contains(&p) {
                        usual.push(p);
                    }
                }
                let offset_h = UTC_OFFSETS_H[rng.random_range(0..UTC_OFFSETS_H.len())];
                world.users.push(User {
                    id: user_ids.next(&mut rng),
                    workspace_id: wid,
                    email: email_of(&first, &last),
                    name,
                    utc_offset_s: offset_h * 3600,
                    usual_projects: usual,
                });
            }
        }
        world
    }

    /// The body of `GET /api/v9/me?with_related_data=true` for this world.
    ///
    /// The token owner is `users[0]`, a member of every workspace. Real Toggl
    /// lists the other people of a workspace only at
    /// `GET /api/v9/workspaces/{wid}/users`; we add them here under
    /// `"workspace_users"` (`[{"id","name","workspace_id"}]`) so one call gives
    /// the sync job every id → name map it needs.
    pub fn related_data_json(&self) -> serde_json::Value {
        let me = &self.users[0];
        json!({
            "id": me.id,
            "email": me.email,
            "fullname": me.name,
            "default_workspace_id": me.workspace_id,
            "workspaces": self.workspaces.iter()
                .map(|w| json!({"id": w.id, "name": w.name}))
                .collect::<Vec<_>>(),
            "projects": self.projects.iter()
                .map(|p| json!({"id": p.id, "workspace_id": p.workspace_id,
                    "client_id": p.client_id, "name": p.name,
                    "billable": p.billable, "active": p.active}))
                .collect::<Vec<_>>(),
            "clients": self.clients.iter()
                .map(|c| json!({"id": c.id, "wid": c.workspace_id, "name": c.name}))
                .collect::<Vec<_>>(),
            "tags": self.tags.iter()
                .map(|t| json!({"id": t.id, "workspace_id": t.workspace_id, "name": t.name}))
                .collect::<Vec<_>>(),
            "time_entries": [],
            "workspace_users": self.users.iter()
                .map(|u| json!({"id": u.id, "name": u.name, "workspace_id": u.workspace_id}))
                .collect::<Vec<_>>(),
        })
    }

    /// The user with this id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The project with this id.
    pub fn project(&self, id: u64) -> Option<&Project> {
        self.projects.iter().find(|p| p.id == id)
    }
}
