//! Behaviour of the world and entry generators, and the Toggl v9 JSON shape.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Timelike};

use super::entries::inverse_normal;
use super::*;

const DAY: i64 = 86_400;
/// Wednesday 2025-11-19 14:00 UTC: most users are mid-workday.
const NOW: i64 = 1_763_560_800;
/// Twelve weeks before `NOW`: ~12 000 entries with the default world.
const FROM: i64 = NOW - 84 * DAY;

fn world(seed: u64) -> World {
    World::generate(seed, &WorldConfig::default())
}

fn entries(seed: u64) -> (World, Vec<TimeEntry>) {
    let w = world(seed);
    let e = EntryGenerator::new(&w, seed, FROM, NOW).collect();
    (w, e)
}

#[test]
fn same_seed_same_world_and_entries_other_seed_differs() {
    let (w1, e1) = entries(7);
    let (w2, e2) = entries(7);
    assert_eq!(w1, w2);
    assert_eq!(e1, e2);
    let (w3, e3) = entries(8);
    assert_ne!(w1.users[0].name, w3.users[0].name);
    assert_ne!(e1[..100], e3[..100]);
}

#[test]
fn world_ids_are_monotonic_and_sized_like_toggl() {
    let w = World::generate(
        1,
        &WorldConfig {
            workspaces: 3,
            ..WorldConfig::default()
        },
    );
    let digits = |id: u64| id.to_string().len();
    let ascending = |ids: Vec<u64>| ids.windows(2).all(|p| p[0] < p[1]);
    assert!(ascending(w.workspaces.iter().map(|x| x.id).collect()));
    assert!(ascending(w.users.iter().map(|x| x.id).collect()));
    assert!(ascending(w.projects.iter().map(|x| x.id).collect()));
    assert!(w.workspaces.iter().all(|x| digits(x.id) == 7));
    assert!(w.users.iter().all(|x| digits(x.id) == 7));
    assert!(w.projects.iter().all(|x| (8..=9).contains(&digits(x.id))));
    assert_eq!(w.users.len(), 150);
    assert_eq!(w.projects.len(), 3 * 31);
    assert_eq!(w.clients.len(), 30);
    let names: HashSet<_> = w.users.iter().map(|u| &u.name).collect();
    assert_eq!(names.len(), w.users.len(), "user names are unique");
    let names: HashSet<_> = w.projects.iter().map(|p| &p.name).collect();
    assert_eq!(names.len(), w.projects.len(), "project names are unique");
}

#[test]
fn every_client_has_a_project_and_internal_has_no_client() {
    let w = world(2);
    for c in &w.clients {
        assert!(
            w.projects.iter().any(|p| p.client_id == Some(c.id)),
            "{}",
            c.name
        );
    }
    let internal: Vec<_> = w
        .projects
        .iter()
        .filter(|p| p.client_id.is_none())
        .collect();
    assert_eq!(internal.len(), 1);
    assert_eq!(internal[0].name, "Internal");
    assert!(!internal[0].billable);
}

#[test]
fn entries_are_local_workday_hours_without_overlap() {
    let (w, e) = entries(3);
    assert!(e.len() > 10_000, "{}", e.len());
    let users: HashMap<u64, &User> = w.users.iter().map(|u| (u.id, u)).collect();
    let mut per_user: HashMap<u64, Vec<&TimeEntry>> = HashMap::new();
    let mut per_user_day: HashMap<(u64, i64), usize> = HashMap::new();
    for x in &e {
        let u = users[&x.user_id];
        let local = x.start.timestamp() + i64::from(u.utc_offset_s);
        let day = local.div_euclid(DAY);
        assert!((day + 3).rem_euclid(7) < 5, "weekend entry {x:?}");
        let tod = local.rem_euclid(DAY);
        assert!(tod >= 8 * 3600, "starts before 8:00 local: {x:?}");
        if !x.is_running() {
            assert!(
                tod + x.duration <= 18 * 3600,
                "ends after 18:00 local: {x:?}"
            );
        }
        assert_eq!(x.workspace_id, u.workspace_id);
        per_user.entry(x.user_id).or_default().push(x);
        *per_user_day.entry((x.user_id, day)).or_default() += 1;
    }
    for list in per_user.values() {
        for pair in list.windows(2) {
            let stop = pair[0].stop.expect("only the newest entry can run");
            assert!(
                stop <= pair[1].start,
                "overlap: {:?} {:?}",
                pair[0],
                pair[1]
            );
        }
    }
    // Whole days only (the first and the last are cut by the window).
    let full = |d: i64| d * DAY > FROM + DAY && (d + 2) * DAY < NOW;
    for (&(_, d), &n) in &per_user_day {
        if full(d) {
            assert!((4..=8).contains(&n), "{n} entries on a day");
        }
    }
}

#[test]
fn durations_are_clipped_log_normal_with_median_near_45_minutes() {
    let (_, e) = entries(4);
    let mut d: Vec<i64> = e
        .iter()
        .filter(|x| !x.is_running())
        .map(|x| x.duration)
        .collect();
    assert!(d.iter().all(|&s| (300..=4 * 3600).contains(&s)));
    for x in e.iter().filter(|x| !x.is_running()) {
        assert_eq!(
            x.stop.unwrap().timestamp() - x.start.timestamp(),
            x.duration
        );
    }
    d.sort_unstable();
    let median = d[d.len() / 2];
    assert!((38 * 60..=50 * 60).contains(&median), "median {median}");
    assert!(d.iter().filter(|&&s| s == 300).count() > 0, "floor reached");
    assert!(d.iter().filter(|&&s| s > 3 * 3600).count() > 0, "long tail");
}

#[test]
fn billable_share_is_about_72_percent_on_client_projects_only() {
    let (w, e) = entries(5);
    let client_project: HashMap<u64, bool> = w
        .projects
        .iter()
        .map(|p| (p.id, p.client_id.is_some()))
        .collect();
    let (mut client, mut billable) = (0, 0);
    for x in &e {
        match x.project_id {
            Some(p) if client_project[&p] => {
                client += 1;
                billable += usize::from(x.billable);
            }
            _ => assert!(
                !x.billable,
                "Internal or no project is never billable: {x:?}"
            ),
        }
    }
    let share = billable as f64 / client as f64;
    assert!((0.69..=0.75).contains(&share), "{share}");
    let internal = e
        .iter()
        .filter(|x| x.project_id.is_some_and(|p| !client_project[&p]))
        .count();
    let none = e.iter().filter(|x| x.project_id.is_none()).count();
    assert!(internal > e.len() / 10 && none > 0 && none < e.len() / 20);
}

#[test]
fn ids_rise_with_start_and_tags_come_from_the_pool() {
    let (w, e) = entries(6);
    assert!(e[0].id > 3_700_000_000);
    assert!(e
        .windows(2)
        .all(|p| p[0].id < p[1].id && p[0].start <= p[1].start));
    let tags: HashMap<u64, &Tag> = w.tags.iter().map(|t| (t.id, t)).collect();
    let mut counts = [0usize; 3];
    for x in &e {
        counts[x.tags.len()] += 1;
        assert_eq!(x.tags.len(), x.tag_ids.len());
        for (name, id) in x.tags.iter().zip(&x.tag_ids) {
            assert_eq!(&tags[id].name, name);
            assert_eq!(tags[id].workspace_id, x.workspace_id);
        }
        if x.tag_ids.len() == 2 {
            assert!(x.tag_ids[0] < x.tag_ids[1]);
        }
    }
    assert!(counts.iter().all(|&c| c > e.len() / 10), "{counts:?}");
}

#[test]
fn some_entries_are_edited_or_deleted_before_now() {
    let (_, e) = entries(7);
    let n = e.len() as f64;
    let deleted = e.iter().filter(|x| x.server_deleted_at.is_some()).count() as f64;
    let edited = e
        .iter()
        .filter(|x| x.server_deleted_at.is_none())
        .filter(|x| {
            x.stop
                .is_some_and(|s| x.at > s + chrono::Duration::seconds(60))
        })
        .count() as f64;
    assert!(
        (0.002..=0.01).contains(&(deleted / n)),
        "deleted {}",
        deleted / n
    );
    assert!(
        (0.01..=0.03).contains(&(edited / n)),
        "edited {}",
        edited / n
    );
    for x in &e {
        assert!(x.at.timestamp() <= NOW, "no change after now: {x:?}");
        if let Some(d) = x.server_deleted_at {
            assert_eq!(d, x.at);
            assert!(d > x.stop.unwrap());
        }
    }
}

#[test]
fn running_entries_are_the_newest_per_user_and_in_progress_now() {
    let (_, e) = entries(8);
    let running: Vec<_> = e.iter().filter(|x| x.is_running()).collect();
    assert!(
        running.len() >= 5,
        "{} running at 14:00 UTC on a Wednesday",
        running.len()
    );
    let mut users = HashSet::new();
    for x in &running {
        assert!(users.insert(x.user_id), "two running entries for one user");
        assert_eq!(x.stop, None);
        assert_eq!(x.duration, -x.start.timestamp());
        assert!(NOW - x.start.timestamp() <= 4 * 3600);
        assert!(x.server_deleted_at.is_none());
        let newest = e
            .iter()
            .filter(|y| y.user_id == x.user_id)
            .max_by_key(|y| y.start);
        assert_eq!(newest.unwrap().id, x.id);
    }
}

#[test]
fn windows_split_and_counted_agree_with_one_pass() {
    let w = world(9);
    let base = EntryGenerator::new(&w, 9, FROM, NOW);
    let whole: Vec<_> = base.clone().collect();
    assert_eq!(base.reframe(FROM, NOW, NOW).collect::<Vec<_>>(), whole);
    let day = (FROM / DAY + 30) * DAY;
    for mid in [day, day + 5 * 3600, day + 13 * 3600 + 17, day + 23 * 3600] {
        let mut split: Vec<_> = base.reframe(FROM, mid, NOW).collect();
        split.extend(base.reframe(mid, NOW, NOW));
        assert_eq!(split, whole, "split at {mid}");
    }
    assert_eq!(base.clone().count(), whole.len());
    let live = whole
        .iter()
        .filter(|x| x.server_deleted_at.is_none())
        .count();
    assert_eq!(base.count_live(), live as u64);
}

#[test]
fn an_earlier_now_sees_fewer_changes_and_running_entries() {
    let w = world(10);
    let g = EntryGenerator::new(&w, 10, FROM, NOW);
    let before: Vec<_> = g.reframe(FROM, NOW - 7 * DAY, NOW - 7 * DAY).collect();
    let after: Vec<_> = g.reframe(FROM, NOW - 7 * DAY, NOW).collect();
    assert_eq!(before.len(), after.len());
    let deleted = |v: &[TimeEntry]| v.iter().filter(|x| x.server_deleted_at.is_some()).count();
    assert!(deleted(&before) < deleted(&after));
    assert!(before
        .iter()
        .zip(&after)
        .all(|(b, a)| b.id == a.id && b.start == a.start));
}

#[test]
#[should_panic(expected = "14 hours")]
fn offsets_spanning_14_hours_are_refused() {
    let mut w = world(1);
    w.users[0].utc_offset_s = -12 * 3600;
    w.users[1].utc_offset_s = 2 * 3600;
    let _ = EntryGenerator::new(&w, 1, FROM, NOW);
}

/// DOMAIN.md §4.1, a real v9 response shape.
const SAMPLE: &str = r#"{"id":3790001234,"workspace_id":1234567,"project_id":187654321,"task_id":null,"billable":false,"start":"2024-12-12T19:49:11+00:00","stop":"2024-12-12T20:38:05+00:00","duration":2934,"description":"Write newsletter","tags":["writing"],"tag_ids":[16000001],"duronly":true,"at":"2024-12-12T20:38:06.061437Z","server_deleted_at":null,"user_id":7654321,"uid":7654321,"wid":1234567,"pid":187654321}"#;

#[test]
fn toggl_v9_json_round_trips() {
    let e: TimeEntry = serde_json::from_str(SAMPLE).unwrap();
    assert_eq!(e.id, 3_790_001_234);
    assert_eq!(e.project_id, Some(187_654_321));
    assert_eq!(e.start.timestamp(), 1_734_032_951);
    assert_eq!(e.at.nanosecond(), 61_437_000);
    assert_eq!(e.tags, ["writing"]);
    assert_eq!(serde_json::to_string(&e).unwrap(), SAMPLE);
}

#[test]
fn running_entry_and_nulls_in_toggl_json() {
    let json = r#"{"id":1,"workspace_id":2,"project_id":null,"billable":false,
        "start":"2024-12-12T21:38:54+01:00","stop":null,"duration":-1734035934,
        "description":null,"tags":null,"tag_ids":null,"at":"2024-12-12T20:38:56Z",
        "server_deleted_at":null,"user_id":3,"unknown_field":{"x":1}}"#;
    let e: TimeEntry = serde_json::from_str(json).unwrap();
    assert!(e.is_running());
    assert_eq!(e.start.hour(), 20, "offsets are converted to UTC");
    assert_eq!(
        (e.description.as_str(), e.tags.len(), e.tag_ids.len()),
        ("", 0, 0)
    );
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["stop"], serde_json::Value::Null);
    assert_eq!(v["start"], "2024-12-12T20:38:54+00:00");
    assert_eq!(v["at"], "2024-12-12T20:38:56.000000Z");
    assert!(v.get("pid").is_none(), "pid is omitted without a project");
    assert_eq!(v["wid"], 2);
    let back: TimeEntry = serde_json::from_value(v).unwrap();
    assert_eq!(back, e);
}

#[test]
fn generated_entries_round_trip_through_json() {
    let (_, e) = entries(11);
    for x in e.iter().step_by(97) {
        let back: TimeEntry = serde_json::from_str(&serde_json::to_string(x).unwrap()).unwrap();
        assert_eq!(&back, x);
    }
}

#[test]
fn related_data_has_the_toggl_me_shape_plus_users() {
    let w = world(12);
    let v = w.related_data_json();
    assert_eq!(v["id"], w.users[0].id);
    assert_eq!(v["fullname"], w.users[0].name.as_str());
    assert_eq!(v["default_workspace_id"], w.workspaces[0].id);
    assert_eq!(v["projects"].as_array().unwrap().len(), w.projects.len());
    assert_eq!(v["clients"][0]["wid"], w.workspaces[0].id);
    assert_eq!(v["tags"].as_array().unwrap().len(), 12);
    assert_eq!(v["time_entries"], serde_json::json!([]));
    assert_eq!(v["workspace_users"].as_array().unwrap().len(), 50);
    let internal = v["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Internal");
    assert_eq!(internal.unwrap()["client_id"], serde_json::Value::Null);
    assert!(w.users[0].email.ends_with("@example.com"));
}

#[test]
fn backfill_writes_parseable_points_deterministically() {
    let mut a = Vec::new();
    let n = backfill_line_protocol(13, 14, NOW, &mut a);
    let text = std::str::from_utf8(&a).unwrap();
    let lines: Vec<_> = influxdb_line_protocol::parse_lines(text)
        .map(|l| l.unwrap())
        .collect();
    assert_eq!(lines.len() as u64, n);
    assert!(n > 1_500, "{n}");
    let ts = lines.iter().map(|l| l.timestamp.unwrap());
    assert!(ts.clone().all(|t| (NOW - 14 * DAY..NOW).contains(&t)));
    let mut b = Vec::new();
    assert_eq!(backfill_line_protocol(13, 14, NOW, &mut b), n);
    assert_eq!(a, b);
}

#[test]
fn inverse_normal_matches_known_quantiles() {
    assert!(inverse_normal(0.5).abs() < 1e-9);
    assert!((inverse_normal(0.975) - 1.959_964).abs() < 1e-5);
    assert!((inverse_normal(0.001) + 3.090_232).abs() < 1e-5);
    let day = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    assert_eq!(day.weekday(), chrono::Weekday::Wed, "test premise");
}
