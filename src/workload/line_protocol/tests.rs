//! The line protocol we write, parsed back with `influxdb-line-protocol`.

use chrono::DateTime;
use influxdb_line_protocol::{parse_lines, FieldValue, ParsedLine};

use super::*;
use crate::workload::toggl::{EntryGenerator, WorldConfig};

const START: i64 = 1_700_000_000;

fn entry() -> TimeEntry {
    TimeEntry {
        id: 3_790_001_234,
        workspace_id: 1001,
        user_id: 7,
        project_id: Some(42),
        billable: true,
        start: DateTime::from_timestamp(START, 0).unwrap(),
        stop: DateTime::from_timestamp(START + 3600, 0),
        duration: 3600,
        description: "Landing page".into(),
        tags: vec![],
        tag_ids: vec![],
        at: DateTime::from_timestamp(START + 3601, 0).unwrap(),
        server_deleted_at: None,
    }
}

fn names() -> Names {
    let mut n = Names::new();
    n.insert_user(7, "alice");
    n.insert_project(42, "Website Redesign", Some("Acme Corp"));
    n.insert_project(43, "Internal", None);
    n
}

fn line(names: &Names, e: &TimeEntry, now: i64) -> String {
    let mut out = Vec::new();
    assert_eq!(names.write_entry(e, now, &mut out), Outcome::Written);
    String::from_utf8(out).unwrap()
}

fn parse(text: &str) -> ParsedLine<'_> {
    let mut lines: Vec<_> = parse_lines(text).collect();
    assert_eq!(lines.len(), 1, "{text}");
    lines
        .pop()
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn tag(l: &ParsedLine<'_>, key: &str) -> Option<String> {
    l.tag_value(key).map(|v| v.to_string())
}

#[test]
fn writes_the_domain_schema_exactly() {
    assert_eq!(
        line(&names(), &entry(), START),
        "time_entry,billable=true,client=Acme\\ Corp,project=Website\\ Redesign,user=alice,\
         workspace_id=1001 duration_s=3600i,billable_s=3600i,entry_id=3790001234i,\
         running=false,description=\"Landing page\" 1700000000\n"
    );
}

#[test]
fn escapes_exactly_as_domain_2_3() {
    // DOMAIN.md §2.3: tag `a,b=c d` is written `a\,b\=c\ d`; a string field
    // `say "hi" \ ok` is written `"say \"hi\" \\ ok"`.
    let mut n = Names::new();
    n.insert_user(7, "a,b=c d");
    let mut e = entry();
    e.description = r#"say "hi" \ ok"#.into();
    let text = line(&n, &e, START);
    assert!(text.contains(r",user=a\,b\=c\ d,workspace_id="), "{text}");
    assert!(
        text.contains(r#"description="say \"hi\" \\ ok" "#),
        "{text}"
    );
}

#[test]
fn tags_are_sorted_and_fields_typed() {
    let text = line(&names(), &entry(), START);
    let l = parse(&text);
    assert_eq!(l.series.measurement.as_str(), MEASUREMENT);
    let keys: Vec<_> = l
        .series
        .tag_set
        .as_ref()
        .unwrap()
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    assert_eq!(
        keys,
        ["billable", "client", "project", "user", "workspace_id"]
    );
    assert_eq!(l.field_value("duration_s"), Some(&FieldValue::I64(3600)));
    assert_eq!(
        l.field_value("entry_id"),
        Some(&FieldValue::I64(3_790_001_234))
    );
    assert_eq!(l.field_value("running"), Some(&FieldValue::Boolean(false)));
    assert_eq!(l.timestamp, Some(START));
}

#[test]
fn project_without_client_and_no_project() {
    let n = names();
    let mut e = entry();
    e.project_id = Some(43);
    e.billable = false;
    let text = line(&n, &e, START);
    let l = parse(&text);
    assert_eq!(tag(&l, "client"), None);
    assert_eq!(tag(&l, "project").as_deref(), Some("Internal"));
    assert_eq!(l.field_value("billable_s"), Some(&FieldValue::I64(0)));
    e.project_id = None;
    let text = line(&n, &e, START);
    let l = parse(&text);
    assert_eq!(tag(&l, "client"), None);
    assert_eq!(tag(&l, "project").as_deref(), Some(NO_PROJECT));
}

#[test]
fn unknown_ids_are_written_as_numbers() {
    let mut e = entry();
    e.user_id = 9_999_999;
    e.project_id = Some(123_456_789);
    let text = line(&Names::new(), &e, START);
    let l = parse(&text);
    assert_eq!(tag(&l, "user").as_deref(), Some("9999999"));
    assert_eq!(tag(&l, "project").as_deref(), Some("123456789"));
    assert_eq!(tag(&l, "client"), None);
}

#[test]
fn tricky_names_round_trip_through_the_parser() {
    let tricky = [
        "Ada Lovelace",
        "Smith, Jones = Partners",
        "O'Brien \"the boss\"",
        "back\\slash mid",
        "C:\\Users\\x",
        "Zoë Ångström 山田 🚀",
        " leading and trailing ",
        "a=b,c d",
        "==,,  ",
    ];
    for name in tricky {
        let mut n = Names::new();
        n.insert_user(7, name);
        n.insert_project(42, name, Some(name));
        let mut e = entry();
        e.description = format!("{name} \"quoted\" \\ end\\");
        let text = line(&n, &e, START);
        let l = parse(&text);
        assert_eq!(tag(&l, "user").as_deref(), Some(name), "{text}");
        assert_eq!(tag(&l, "project").as_deref(), Some(name), "{text}");
        assert_eq!(tag(&l, "client").as_deref(), Some(name), "{text}");
        match l.field_value("description") {
            Some(FieldValue::String(s)) => assert_eq!(s.as_str(), e.description),
            other => panic!("{other:?} in {text}"),
        }
    }
}

#[test]
fn what_line_protocol_cannot_carry_is_replaced_not_mangled() {
    let mut n = Names::new();
    n.insert_user(7, "ends with\\");
    n.insert_project(42, "two\\\\ slashes\nand a line", Some("   "));
    let mut e = entry();
    e.description = "line one\nline two\r\n".into();
    let text = line(&n, &e, START);
    assert_eq!(text.matches('\n').count(), 1, "{text}");
    let l = parse(&text);
    assert_eq!(tag(&l, "user").as_deref(), Some("ends with/"));
    assert_eq!(
        tag(&l, "project").as_deref(),
        Some("two// slashes and a line")
    );
    assert_eq!(
        tag(&l, "client"),
        None,
        "a blank client name means no client tag"
    );
    match l.field_value("description") {
        Some(FieldValue::String(s)) => assert_eq!(s.as_str(), "line one line two  "),
        other => panic!("{other:?}"),
    }
    // A blank user or project name falls back to the id.
    n.insert_user(7, " ");
    n.insert_project(42, "", None);
    let l2 = line(&n, &e, START);
    let l2 = parse(&l2);
    assert_eq!(tag(&l2, "user").as_deref(), Some("7"));
    assert_eq!(tag(&l2, "project").as_deref(), Some("42"));
}

#[test]
fn running_entries_count_up_to_now_and_deleted_are_skipped() {
    let mut e = entry();
    e.stop = None;
    e.duration = -START;
    let text = line(&names(), &e, START + 1234);
    let l = parse(&text);
    assert_eq!(l.field_value("running"), Some(&FieldValue::Boolean(true)));
    assert_eq!(l.field_value("duration_s"), Some(&FieldValue::I64(1234)));
    assert_eq!(l.field_value("billable_s"), Some(&FieldValue::I64(1234)));
    let mut d = entry();
    d.server_deleted_at = Some(d.at);
    let mut out = b"keep".to_vec();
    assert_eq!(
        names().write_entry(&d, START, &mut out),
        Outcome::SkippedDeleted
    );
    assert_eq!(out, b"keep");
    let counts = names().write_entries([&entry(), &e, &d], START + 1234, &mut out);
    assert_eq!(
        counts,
        Counts {
            written: 2,
            running: 1,
            deleted: 1
        }
    );
}

#[test]
fn names_from_related_data_match_names_from_the_world() {
    let world = World::generate(
        21,
        &WorldConfig {
            workspaces: 2,
            ..WorldConfig::default()
        },
    );
    let from_world = Names::from_world(&world);
    let json = world.related_data_json();
    let from_json = Names::from_related_data(&json).unwrap();
    let now = 1_763_560_800;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let entries: Vec<_> = EntryGenerator::new(&world, 21, now - 14 * 86_400, now).collect();
    let counts = from_world.write_entries(&entries, now, &mut a);
    assert_eq!(from_json.write_entries(&entries, now, &mut b), counts);
    assert_eq!(a, b);
    let text = std::str::from_utf8(&a).unwrap();
    let parsed: Vec<_> = parse_lines(text).map(|l| l.unwrap()).collect();
    assert_eq!(parsed.len() as u64, counts.written);
    // Every user and project is named, none falls back to its id.
    for l in &parsed {
        let user = tag(l, "user").unwrap();
        assert!(world.users.iter().any(|u| u.name == user), "{user}");
        let project = tag(l, "project").unwrap();
        assert!(project == NO_PROJECT || world.projects.iter().any(|p| p.name == project));
    }
    assert!(Names::from_related_data(&serde_json::json!({"fullname": "x"})).is_err());
}

#[test]
fn gzip_round_trips() {
    use std::io::Read;
    let lp = line(&names(), &entry(), START).repeat(100);
    let mut gz = vec![1, 2, 3];
    gzip(lp.as_bytes(), &mut gz);
    assert!(gz.len() < lp.len() / 10);
    let mut back = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut back)
        .unwrap();
    assert_eq!(back, lp);
}
