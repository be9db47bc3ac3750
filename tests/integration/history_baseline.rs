//! `--baseline median:N` over a history of real runs (the embedded sandbox,
//! through the binary), with the CI outputs of the run that uses it:
//! `--junit` (against the common JUnit schema), `--markdown`, and
//! `summary.json` against `docs/summary.schema.json`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{dashload, root, text, workspace};

/// 2 viewers for 1 + 3 s; passes on its panel-query error rate.
const HIST: &str = "name = \"hist\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
    [sync]\nusers = 0\n[[stages]]\nusers = 2\nramp = \"1s\"\nhold = \"3s\"\n[slo.panel_query]\nerror_rate = \"50%\"\n";

fn run_folders(reports: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(reports)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Run `args` in `dir`, expect `code`, and return the run folder it made.
fn run(dir: &Path, args: &[&str], code: i32) -> (PathBuf, std::process::Output) {
    let before = run_folders(&dir.join("reports"));
    let out = dashload(dir, args);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
    let made: Vec<_> = run_folders(&dir.join("reports"))
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    assert_eq!(made.len(), 1, "{args:?}: {}", text(&out));
    (made[0].clone(), out)
}

/// A run with Goose's own 30 s shape (same scenario file, same digest), cut
/// by `signal` (`INT` or `KILL`) 1.5 s into its load.
fn cut_run(dir: &Path, signal: &str) -> PathBuf {
    let before = run_folders(&dir.join("reports"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/hist.toml", "-u", "2", "-t", "30s"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let folder = loop {
        let new: Vec<_> = run_folders(&dir.join("reports"))
            .into_iter()
            .filter(|f| !before.contains(f) && f.join(".partial").is_dir())
            .collect();
        if let Some(f) = new.first() {
            break f.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(1_500));
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    folder
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// `summary.json` of `run` against the published schema.
fn assert_schema_valid(run: &Path) {
    let schema = json(&root().join("docs/summary.schema.json"));
    let v = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let doc = json(&run.join("summary.json"));
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert_eq!(errors, Vec::<String>::new(), "{}", run.display());
}

/// `junit.xml` against tests/fixtures/junit.xsd with xmllint: skipped (said)
/// without xmllint, but not under CI (`DASHLOAD_CI`, set by `.ci/run`).
fn assert_junit_valid(file: &Path) {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("tests/fixtures/junit.xsd"))
        .arg(file)
        .output();
    match out {
        Ok(out) => assert!(
            out.status.success(),
            "{} against the JUnit schema: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if std::env::var_os("DASHLOAD_CI").is_some() => {
            panic!("xmllint is required under CI (apt-get install libxml2-utils): {e}")
        }
        Err(_) => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: xmllint is not installed (apt-get install libxml2-utils): junit.xml was not checked against its schema"
            );
        }
    }
}

#[test]
fn median_of_three_takes_the_last_three_passed_runs_of_the_scenario_and_digest() {
    let _one_attack_at_a_time = crate::util::ATTACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let d = dir.path();
    let s = d.join("scenarios");
    std::fs::write(s.join("hist.toml"), HIST).unwrap();
    std::fs::write(
        s.join("hist-other.toml"),
        HIST.replace("name = \"hist\"", "name = \"other\""),
    )
    .unwrap();
    // Same name, another digest: the scenario changed.
    std::fs::write(s.join("hist-v2.toml"), format!("{HIST}# changed\n")).unwrap();

    let hist = ["run", "scenarios/hist.toml"];
    let (p1, _) = run(d, &hist, 0);
    let (p2, _) = run(d, &hist, 0);
    // Failed: a real run of the same file, its SLOs made impossible and re-rendered.
    let (failed, _) = run(d, &hist, 0);
    let mut meta = json(&failed.join("run.json"));
    meta["slos"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"class": "panel_query", "metric": "p50", "max": 0.001}));
    std::fs::write(failed.join("run.json"), meta.to_string()).unwrap();
    // Whatever a run wrote for history goes: the re-rendered summary says fail.
    let _ = std::fs::remove_file(failed.join("history.json"));
    let out = dashload(d, &["report", &failed.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (p3, _) = run(d, &hist, 0);
    let interrupted = cut_run(d, "INT");
    assert_eq!(json(&interrupted.join("run.json"))["interrupted"], true);
    let (p4, _) = run(d, &hist, 0);
    let killed = cut_run(d, "KILL");
    assert!(killed.join(".partial").is_dir());
    run(d, &["run", "scenarios/hist-other.toml"], 0);
    run(d, &["run", "scenarios/hist-v2.toml"], 0);
    // A copy of the newest passed run, left incomplete.
    let incomplete = d.join("reports/zz-incomplete");
    copy_dir(&p4, &incomplete);
    std::fs::create_dir(incomplete.join(".partial")).unwrap();

    let (current, out) = run(
        d,
        &[
            "run",
            "scenarios/hist.toml",
            "--baseline",
            "median:3",
            "--junit",
            "out/ci/junit.xml",
            "--markdown",
            "out/ci/summary.md",
            "--markdown-links",
        ],
        0,
    );
    let summary = json(&current.join("summary.json"));
    let used: Vec<String> = summary["baseline"]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| name(Path::new(r["dir"].as_str().unwrap())))
        .collect();
    assert_eq!(used, [name(&p4), name(&p3), name(&p2)], "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the median of the last 3 passed runs of hist"),
        "{stderr}"
    );
    assert!(!stderr.contains(&name(&p1)) && !stderr.contains(&name(&failed)));
    let md = std::fs::read_to_string(d.join("out/ci/summary.md")).unwrap();
    let html = std::fs::read_to_string(current.join("report.html")).unwrap();
    for p in [&p4, &p3, &p2] {
        assert!(md.contains(&name(p)), "{} in the Markdown:\n{md}", name(p));
        assert!(html.contains(&name(p)), "{} in the page", name(p));
    }
    assert!(md.contains("the median of 3 runs") && md.contains("{{REPORT_URL}}"));
    // Baselines by their folder's name: the machine's paths stay on the machine.
    assert!(!md.contains(&d.display().to_string()), "{md}");
    assert_eq!(
        std::fs::read(d.join("out/ci/junit.xml")).unwrap(),
        std::fs::read(current.join("junit.xml")).unwrap()
    );
    assert_junit_valid(&d.join("out/ci/junit.xml"));
    assert_junit_valid(&failed.join("junit.xml"));
    assert_schema_valid(&current);
    assert_schema_valid(&p1);
    assert_schema_valid(&failed);

    // Fewer than asked: the ones found, said.
    let (other, out) = run(
        d,
        &["run", "scenarios/hist-other.toml", "--baseline", "median:3"],
        0,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only 1 of 3 found"), "{stderr}");
    assert_eq!(
        json(&other.join("summary.json"))["baseline"]["runs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_bad_median_count_and_outputs_without_a_report_exit_two() {
    let dir = workspace();
    for bad in ["median:0", "median:21", "median:x"] {
        let out = dashload(
            dir.path(),
            &["run", "scenarios/smoke.toml", "--baseline", bad],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad),
            "{}",
            text(&out)
        );
    }
    for flag in ["--junit", "--markdown"] {
        let out = dashload(
            dir.path(),
            &["run", "scenarios/smoke.toml", "--no-report", flag, "x"],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag));
    }
    assert!(!dir.path().join("reports").exists(), "nothing ran");
}

/// 4 viewers for 1 + 10 s (5 blocks of 2 s): enough panel queries for the
/// gate's p50 and p95, too few loads for dashboard-load p95.
const GATE: &str = "name = \"gate\"\n[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\nrefresh = \"2s\"\n\
    [sync]\nusers = 0\n[[stages]]\nusers = 4\nramp = \"1s\"\nhold = \"10s\"\n[slo.panel_query]\nerror_rate = \"50%\"\n";

/// `failures="N"` of junit.xml's `<testsuites>`.
fn junit_failures(xml: &str) -> u64 {
    let at = xml.find("failures=\"").expect("a failures count") + "failures=\"".len();
    xml[at..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn a_run_that_exits_three_never_has_an_all_green_junit_and_a_held_one_says_what_it_could_catch() {
    let _one_attack_at_a_time = crate::util::ATTACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = workspace();
    let d = dir.path();
    std::fs::write(d.join("scenarios/gate.toml"), GATE).unwrap();
    let (base, _) = run(d, &["run", "scenarios/gate.toml"], 0);
    let base = base.display().to_string();

    // The sandbox far slower on queries (100 × its extra service time, +200 ms a
    // statement): a regression, and junit.xml fails it.
    let (slow, out) = run(
        d,
        &[
            "run",
            "scenarios/gate.toml",
            "--set",
            "sandbox.query_cost=100",
            "--baseline",
            &base,
            "--junit",
            "out/slow.xml",
        ],
        3,
    );
    let xml = std::fs::read_to_string(d.join("out/slow.xml")).unwrap();
    assert!(
        junit_failures(&xml) > 0,
        "exit 3 with an all-green junit.xml:\n{xml}"
    );
    assert!(
        xml.contains("type=\"Regression\"") && xml.contains("panel query p50 regressed: "),
        "{xml}"
    );
    assert_junit_valid(&d.join("out/slow.xml"));
    assert_schema_valid(&slow);
    assert!(text(&out).contains("REGRESSION"), "{}", text(&out));

    // The same build: no regression, and every output says what it could have caught.
    let (same, out) = run(
        d,
        &[
            "run",
            "scenarios/gate.toml",
            "--baseline",
            &base,
            "--junit",
            "out/same.xml",
            "--markdown",
            "out/same.md",
        ],
        0,
    );
    let verdict = json(&same.join("summary.json"))["baseline"]["verdict"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        verdict.starts_with("no regression; ") && verdict.contains("% on panel query p95"),
        "{verdict}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The console wraps its answers at 80 columns.
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat(&stdout).contains(&flat(&verdict)), "{stdout}");
    let md = std::fs::read_to_string(d.join("out/same.md")).unwrap();
    assert!(md.contains("would have been caught"), "{md}");
    assert!(!md.contains("No regression.\n"), "{md}");
    let page = std::fs::read_to_string(same.join("report.html")).unwrap();
    assert!(page.contains("would have been caught"));
    let xml = std::fs::read_to_string(d.join("out/same.xml")).unwrap();
    assert_eq!(junit_failures(&xml), 0, "{xml}");
    assert!(xml.contains("no regression in panel query p95: "), "{xml}");
    // Few loads: dashboard-load p95 is skipped, saying p50 was judged instead.
    assert!(
        xml.contains("too few samples for p95") && xml.contains("p50 judged in its place"),
        "{xml}"
    );
    assert_junit_valid(&d.join("out/same.xml"));
    assert_schema_valid(&same);
}
