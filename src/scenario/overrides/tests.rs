//! `--set` and `DASHLOAD_TARGET_*`: values validated as in the file, errors located.

use std::path::PathBuf;

use super::*;
use crate::scenario::Scenario;

fn dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    (dir, path)
}

fn sets(args: &[&str]) -> Overrides {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Overrides::from_parts([], &args).unwrap()
}

fn error(text: &str, args: &[&str]) -> String {
    let (dir, path) = dir();
    let e = Scenario::parse_with(text, &path, &sets(args)).expect_err("must be refused");
    assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
    e.to_string()
        .replace(&dir.path().display().to_string(), "DIR")
}

const INFLUX: &str = "name = \"s\"\n[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:1\"\n\n[sync]\nusers = 1\n";

#[test]
fn a_written_value_is_replaced_and_a_missing_key_inserted() {
    let (_d, path) = dir();
    let s = Scenario::parse_with(
        INFLUX,
        &path,
        &sets(&[
            "target.url=http://127.0.0.1:8086",
            "target.database=staging",
            "sync.users=3",
            "seed=7",
            "regression.latency=20%",
            "regression.figures=[\"panel_query.p50\"]",
            "slo.panel_query.p95=1s",
        ]),
    )
    .unwrap();
    assert_eq!(
        s.target.url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:8086/"
    );
    assert_eq!(s.target.database, "staging");
    assert_eq!(s.sync.users, 3);
    assert_eq!(s.seed, 7);
    assert!((s.regression.latency - 0.2).abs() < 1e-12);
    assert_eq!(s.regression.figures.len(), 1);
    assert_eq!(s.slos.len(), 1);
    assert_eq!(s.slos[0].max, 1000.0);
    assert_eq!(s.overrides.len(), 7);
    assert!(s
        .overrides
        .contains(&"target.database = \"staging\"  (--set)".to_string()));
    // A key two tables deep gets a header of its own, shared by its neighbours.
    let s = Scenario::parse_with(
        INFLUX,
        &path,
        &sets(&[
            "target.write.kind=influxdb1",
            "target.write.url=http://127.0.0.1:9",
            "slo.dashboard_load.p95=2s",
        ]),
    )
    .unwrap();
    assert_eq!(
        s.target.write_target().url.as_ref().unwrap().port(),
        Some(9)
    );
    assert_eq!(s.slos.len(), 1);
}

#[test]
fn stages_are_addressed_by_index_and_inline_tables_take_keys() {
    let (_d, path) = dir();
    let text = "target = { kind = \"influxdb1\", url = \"http://127.0.0.1:1\" }\n[sync]\nusers = 1\n[[stages]]\nusers = 0\nramp = \"1s\"\nhold = \"2s\"\n[[stages]]\nusers = 0\nramp = \"1s\"\nhold = \"2s\"\n";
    let s = Scenario::parse_with(
        text,
        &path,
        &sets(&["stages.1.hold=5s", "target.database=x", "target.timeout=3s"]),
    )
    .unwrap();
    assert_eq!(s.stages[1].hold, std::time::Duration::from_secs(5));
    assert_eq!(s.stages[0].hold, std::time::Duration::from_secs(2));
    assert_eq!(s.target.database, "x");
    assert_eq!(s.target.timeout, std::time::Duration::from_secs(3));
    let e = error(text, &["stages.2.hold=5s"]);
    assert_eq!(
        e,
        "--set stages.2.hold=5s: `stages` has 2 entries (index 0 to 1): there is no entry 2"
    );
    let e = error(text, &["stages.0=5"]);
    assert!(e.contains("`stages.0` is a table"), "{e}");
    let e = error(INFLUX, &["stages.0.users=5"]);
    assert!(
        e.starts_with("--set stages.0.users=5: there is no `stages`"),
        "{e}"
    );
}

#[test]
fn values_are_validated_as_in_the_file_and_errors_name_the_flag() {
    // A range check, a type check, an unknown key, a bad URL: each names the --set.
    let e = error(INFLUX, &["target.timeout=2h"]);
    assert!(e.starts_with("--set target.timeout=2h: "), "{e}");
    assert!(e.contains("timeout"), "{e}");
    let e = error(INFLUX, &["sync.users=many"]);
    assert!(e.starts_with("--set sync.users=many: invalid type"), "{e}");
    // An unknown key: named, its value never echoed (it may be a secret given
    // under a misspelt key).
    let e = error(INFLUX, &["target.nope=1"]);
    assert!(
        e.starts_with("--set target.nope=…: unknown field `nope`"),
        "{e}"
    );
    let e = error(INFLUX, &["nope.x=1"]);
    assert!(e.starts_with("--set nope.x=…: unknown field `nope`"), "{e}");
    let e = error(INFLUX, &["target.passwd=hunter2-s3cr3t"]);
    assert!(
        e.starts_with("--set target.passwd=…: unknown field `passwd`"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = error(INFLUX, &["target.url=not a url"]);
    assert_eq!(
        e,
        "--set target.url=not a url: `not a url` is not a URL: relative URL without a base"
    );
    // A URL's password is masked in the message, and the URL refused as in the file.
    let e = error(INFLUX, &["target.url=http://u:hunter2@127.0.0.1:1"]);
    assert!(!e.contains("hunter2"), "{e}");
    assert!(
        e.contains("credentials must not be written in the URL"),
        "{e}"
    );
}

#[test]
fn an_error_elsewhere_keeps_its_place_in_the_file_as_written() {
    // The insertion after `[target]` adds a line; the bad value on line 8 stays on line 8.
    let text = "name = \"s\"\n[target]\nkind = \"influxdb1\"\nurl = \"http://127.0.0.1:1\"\n\n[sync]\nusers = 1\ninterval = \"forever\"\n";
    let plain = error(text, &[]);
    assert!(plain.starts_with("DIR/s.toml:8:12: "), "{plain}");
    let e = error(
        text,
        &["target.database=x", "seed=3", "regression.latency=5%"],
    );
    assert_eq!(e, plain);
}

#[test]
fn secrets_are_refused_without_echoing_them() {
    for arg in [
        "target.password=hunter2",
        "target.token=hunter2",
        "sync.toggl_token=hunter2",
        "target.write.Password=hunter2",
    ] {
        let e = Overrides::from_parts([], &[arg.to_string()]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        let m = e.to_string();
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.contains("password_env / password_file"), "{m}");
    }
    // Naming where a secret is read is fine.
    let (_d, path) = dir();
    let e = Scenario::parse_with(
        INFLUX,
        &path,
        &sets(&[
            "target.username=u",
            "target.password_env=DASHLOAD_TEST_SURELY_UNSET",
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("--set target.password_env=DASHLOAD_TEST_SURELY_UNSET: environment variable `DASHLOAD_TEST_SURELY_UNSET` is not set"), "{e}");
}

#[test]
fn bad_flags_are_usage_errors() {
    for (arg, want) in [
        ("target.url", "expected key=value"),
        ("target..url=x", "is not a dotted key"),
        ("=x", "is not a dotted key"),
        ("target.u rl=x", "is not a dotted key"),
    ] {
        let e = Overrides::from_parts([], &[arg.to_string()]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        assert!(e.to_string().contains(want), "{arg}: {e}");
    }
}

#[test]
fn values_parse_as_toml_else_as_strings() {
    let o = Override::parse_flag("a=5").unwrap();
    assert_eq!(o.value, "5");
    let o = Override::parse_flag("a=30s").unwrap();
    assert_eq!(o.value, "\"30s\"");
    let o = Override::parse_flag("a=\"5\"").unwrap();
    assert_eq!(o.value, "\"5\"");
    let o = Override::parse_flag("a=[1, 2]").unwrap();
    assert_eq!(o.value, "[1, 2]");
    let o = Override::parse_flag("a=say \"hi\"").unwrap();
    assert_eq!(
        o.value.parse::<Value>().unwrap().as_str(),
        Some("say \"hi\"")
    );
    let o = Override::parse_flag("a=x=y").unwrap();
    assert_eq!(o.value, "\"x=y\"");
}

#[test]
fn the_environment_overrides_the_file_and_set_overrides_the_environment() {
    let (_d, path) = dir();
    let env = |url: &str| {
        vec![
            ("DASHLOAD_TARGET_URL", "target.url", url.to_string()),
            (
                "DASHLOAD_TARGET_DATABASE",
                "target.database",
                "envdb".to_string(),
            ),
        ]
    };
    let o = Overrides::from_parts(env("http://127.0.0.1:2"), &[]).unwrap();
    let s = Scenario::parse_with(INFLUX, &path, &o).unwrap();
    assert_eq!(s.target.url.as_ref().unwrap().port(), Some(2));
    assert_eq!(s.target.database, "envdb");
    assert!(s
        .overrides
        .iter()
        .any(|d| d.ends_with("(DASHLOAD_TARGET_URL)")));
    let o = Overrides::from_parts(
        env("http://127.0.0.1:2"),
        &["target.url=http://127.0.0.1:3".to_string()],
    )
    .unwrap();
    let s = Scenario::parse_with(INFLUX, &path, &o).unwrap();
    assert_eq!(s.target.url.as_ref().unwrap().port(), Some(3));
    // An environment value is a string, and its errors name the variable.
    let o = Overrides::from_parts(env("nope"), &[]).unwrap();
    let e = Scenario::parse_with(INFLUX, &path, &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("DASHLOAD_TARGET_URL=nope: `nope` is not a URL"),
        "{e}"
    );
    // An empty variable is as if unset.
    let o =
        Overrides::from_parts([("DASHLOAD_TARGET_URL", "target.url", String::new())], &[]).unwrap();
    assert!(o.is_empty());
}

#[test]
fn the_digest_follows_what_runs_and_not_how_it_was_asked() {
    let (_d, path) = dir();
    let digest = |args: &[&str]| {
        Scenario::parse_with(INFLUX, &path, &sets(args))
            .unwrap()
            .digest
    };
    let plain = digest(&[]);
    assert_eq!(plain, hex::encode(sha2::Sha256::digest(INFLUX.as_bytes())));
    let a = digest(&["target.database=x", "seed=3"]);
    assert_ne!(a, plain);
    assert_eq!(a, digest(&["seed=3", "target.database=x"]));
    assert_eq!(a, digest(&["seed=2", "target.database=x", "seed=3"]));
    assert_ne!(a, digest(&["target.database=y", "seed=3"]));
    // Where the results are exported does not change what runs.
    assert_eq!(plain, digest(&["export.url=http://127.0.0.1:9"]));
    use sha2::Digest as _;
}

mod proptests {
    //! Applying overrides to the text is setting the keys in the TOML tree.

    use proptest::prelude::*;

    use super::super::*;

    /// How a table is written in the generated file.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        Missing,
        Header,
        Inline,
    }

    fn layout() -> impl Strategy<Value = Layout> {
        prop_oneof![
            Just(Layout::Missing),
            Just(Layout::Header),
            Just(Layout::Inline)
        ]
    }

    /// A file: root keys, `target` and `sync` in some layout with some keys, and
    /// 0–3 `[[stages]]`.
    fn file() -> impl Strategy<Value = String> {
        (
            proptest::option::of(0u32..100),
            layout(),
            proptest::collection::vec(any::<bool>(), 3),
            layout(),
            0usize..4,
        )
            .prop_map(|(seed, target, present, sync, stages)| {
                let mut root = String::from("# a comment\n");
                if let Some(s) = seed {
                    root.push_str(&format!("seed = {s}\n"));
                }
                let mut tables = String::new();
                let keys = [
                    "kind = \"influxdb1\"",
                    "url = \"http://h:1\"",
                    "database = \"d\"",
                ];
                let target_keys: Vec<&str> = keys
                    .iter()
                    .zip(&present)
                    .filter(|(_, p)| **p)
                    .map(|(k, _)| *k)
                    .collect();
                for (name, layout, body) in [
                    ("target", target, target_keys),
                    ("sync", sync, vec!["users = 2"]),
                ] {
                    match layout {
                        Layout::Missing => {}
                        Layout::Header => {
                            tables.push_str(&format!("\n[{name}]  # header\n{}\n", body.join("\n")))
                        }
                        Layout::Inline => {
                            root.push_str(&format!("{name} = {{ {} }}\n", body.join(", ")))
                        }
                    }
                }
                for i in 0..stages {
                    tables.push_str(&format!("\n[[stages]]\nusers = {i}\nramp = \"1s\"\n"));
                }
                root + &tables
            })
    }

    fn set() -> impl Strategy<Value = (String, i64)> {
        (
            prop_oneof![
                Just("seed"),
                Just("name"),
                Just("target.url"),
                Just("target.database"),
                Just("target.timeout"),
                Just("sync.users"),
                Just("stages.0.users"),
                Just("stages.2.hold"),
                Just("regression.latency"),
                Just("slo.panel_query.p95"),
            ],
            0i64..1000,
        )
            .prop_map(|(k, v)| (k.to_string(), v))
    }

    /// Set `path` in `table` (creating tables; list entries by index).
    fn set_in(table: &mut toml::Table, path: &[&str], value: toml::Value) -> bool {
        let (first, rest) = path.split_first().unwrap();
        if rest.is_empty() {
            table.insert(first.to_string(), value);
            return true;
        }
        // A list entry of a list that is not there cannot be set.
        if !table.contains_key(*first) && rest[0].chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
        let slot = table
            .entry(first.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match slot {
            toml::Value::Table(t) => set_in(t, rest, value),
            toml::Value::Array(a) => {
                let Ok(i) = rest[0].parse::<usize>() else {
                    return false;
                };
                match a.get_mut(i) {
                    Some(toml::Value::Table(t)) if rest.len() > 1 => set_in(t, &rest[1..], value),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(128))]

        #[test]
        fn prop_applying_is_setting_the_keys(text in file(), sets in proptest::collection::vec(set(), 1..5)) {
            let args: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let overrides = Overrides::from_parts([], &args).unwrap();
            let mut want: toml::Table = toml::from_str(&text).unwrap();
            let mut possible = true;
            for o in overrides.iter() {
                let path: Vec<&str> = o.key.split('.').collect();
                let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {}", o.value))
                    .unwrap()
                    .remove("v")
                    .unwrap();
                possible &= set_in(&mut want, &path, value);
            }
            match overrides.apply(&text, "s.toml") {
                Ok(applied) => {
                    prop_assert!(possible, "applied what cannot be set: {}", applied.text);
                    let got: toml::Table = toml::from_str(&applied.text)
                        .map_err(|e| TestCaseError::fail(format!("{e}\n{}", applied.text)))?;
                    prop_assert_eq!(got, want, "{}", applied.text);
                    // Every byte of the file outside the edits maps back to itself.
                    for (i, line) in text.lines().enumerate().filter(|(_, l)| l.starts_with('#')) {
                        let at = applied.text.find(line).unwrap();
                        match applied.origin(at) {
                            Origin::File(p) => prop_assert_eq!(
                                crate::scenario::file::line_column(&text[..p]).0, i + 1
                            ),
                            Origin::Override(o) => prop_assert!(false, "{} claimed a comment", o.key),
                        }
                    }
                }
                Err(e) => prop_assert!(!possible, "refused a possible override: {e}"),
            }
        }
    }
}
