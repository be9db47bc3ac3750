//! The per-request path's instruction counts under Callgrind, against checked-in
//! budgets: a figure that does not move with a busy machine (BENCH.md), so CI can
//! fail on it. A count more than 10 % over its budget fails the bench (exit 1).
//!
//! Fixed workloads, each run once to warm up and once measured:
//! - `viewer_load`: one load of the shipped dashboard (all variables on All):
//!   every panel's InfluxQL expanded, its request built (URL and query string),
//!   the recorded sandbox answer `benches/fixtures/influx_panel_answer.json`
//!   read in 8 KB chunks (JSON check, series count), judged, and counted in the
//!   live counters, as `users::viewer::load` does; Goose's own bookkeeping is
//!   not ours and is left out.
//! - `sync_batch`: one sync batch: 500 generated Toggl entries (the default
//!   `entries_per_sync`), their line protocol, gzip, and the write request built.
//! - `request_log_1000_rows`: the report folding 1,000 rows of a Goose request
//!   log (`report::load::read_requests`), the report's per-request cost; the
//!   second pass over the same accumulators is counted (steady state).
//!
//! The binary's allocator (mimalloc) is used here too: allocation is part of the path.
//!
//! `cargo bench --bench request_path` runs each case under `valgrind
//! --tool=callgrind`, counting only the measured function (`--toggle-collect`),
//! and prints count, budget and ratio. Budgets live in
//! `benches/request_path.budgets`; `DASHLOAD_BLESS=1 cargo bench --bench
//! request_path` rewrites them with the counts just measured (see the file).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dashload::live::Live;
use dashload::report::collect::Collected;
use dashload::runfolder::{AnswerTotals, RequestClass};
use dashload::scenario::Scenario;
use dashload::target::body::BodyScan;
use dashload::target::{judge_query, Endpoints, QueryCall};
use dashload::workload::dashboard::{self, View};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The environment variable that makes this binary run one case (under valgrind).
const CASE_VAR: &str = "DASHLOAD_CALLGRIND_CASE";
/// Set to rewrite the budgets with the counts measured.
const BLESS_VAR: &str = "DASHLOAD_BLESS";
/// How far over its budget a count may go before the bench fails.
const TOLERANCE: f64 = 0.10;
const CASES: [&str; 3] = ["viewer_load", "sync_batch", "request_log_1000_rows"];
/// A fixed "now" (2026-11-26 00:00 UTC), so every expansion is the same.
const NOW_MS: i64 = 1_795_996_800_000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn budgets_path() -> PathBuf {
    root().join("benches/request_path.budgets")
}

fn main() {
    if let Ok(case) = std::env::var(CASE_VAR) {
        run_case(&case);
        return;
    }
    std::process::exit(compare());
}

// ---------------------------------------------------------------- the parent

/// Run every case under Callgrind and compare with the budgets; the exit code.
fn compare() -> i32 {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let budgets = read_budgets(&budgets_path());
    let mut counts = BTreeMap::new();
    let mut failed = false;
    println!(
        "{:<24} {:>14} {:>14} {:>7}",
        "case", "instructions", "budget", "ratio"
    );
    for case in CASES {
        let out = dir.path().join(format!("{case}.callgrind"));
        let count = match callgrind(&exe, case, &out) {
            Ok(n) => n,
            Err(why) => {
                eprintln!("{case}: {why}");
                return 2;
            }
        };
        counts.insert(case.to_string(), count);
        let verdict = match budgets.get(case) {
            Some(&budget) => {
                let ratio = count as f64 / budget as f64;
                let over = ratio > 1.0 + TOLERANCE;
                failed |= over;
                format!(
                    "{budget:>14} {ratio:>7.3}{}",
                    if over {
                        "  OVER BUDGET (more than +10 %)"
                    } else {
                        ""
                    }
                )
            }
            None => {
                failed = true;
                format!("{:>14}", "none: add it")
            }
        };
        println!("{case:<24} {count:>14} {verdict}");
    }
    if std::env::var_os(BLESS_VAR).is_some() {
        write_budgets(&budgets_path(), &counts);
        println!("budgets rewritten: {}", budgets_path().display());
        return 0;
    }
    if failed {
        println!(
            "request_path: a count is over its budget by more than 10 %: find the new work \
             on the path, or raise the budget on purpose (benches/request_path.budgets)"
        );
        1
    } else {
        println!("request_path: every count within 10 % of its budget");
        0
    }
}

/// The instructions Callgrind counted inside `measured` for `case`.
fn callgrind(exe: &Path, case: &str, out: &Path) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--collect-atstart=no")
        .arg("--toggle-collect=*request_path::measured*")
        .arg(exe)
        .env(CASE_VAR, case)
        .output()
        .map_err(|e| {
            format!("cannot run valgrind ({e}): install it (Debian: apt-get install valgrind)")
        })?;
    if !output.status.success() {
        return Err(format!(
            "valgrind failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| format!("{}: no totals line", out.display()))?;
    if total == 0 {
        return Err("callgrind counted nothing: was `measured` inlined or renamed?".into());
    }
    Ok(total)
}

/// `name count` per line; `#` starts a comment.
fn read_budgets(path: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut budgets = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        match (
            fields.next(),
            fields.next().map(str::parse::<u64>),
            fields.next(),
        ) {
            (Some(name), Some(Ok(n)), None) => {
                budgets.insert(name.to_string(), n);
            }
            _ => {
                eprintln!(
                    "{}:{}: expected `name instructions`, found `{line}`",
                    path.display(),
                    i + 1
                );
                std::process::exit(2);
            }
        }
    }
    budgets
}

fn write_budgets(path: &Path, counts: &BTreeMap<String, u64>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let body: String = counts.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    std::fs::write(path, header + &body).expect("the budgets file is writable");
}

// ---------------------------------------------------------------- the child

/// Set up `case` (not counted), warm it up once, then run it once counted.
fn run_case(case: &str) {
    // Callgrind counts every call of a `measured_*` function (`--toggle-collect`
    // switches counting on inside them, whoever calls them): the warm-up calls
    // the same work by its own name, uncounted, so one-time costs (a regex
    // compiled on first use, a histogram sized, a name first seen) stay out.
    match case {
        "viewer_load" => {
            let setup = ViewerSetup::new();
            black_box(viewer_load(&setup));
            black_box(measured_viewer_load(&setup));
        }
        "sync_batch" => {
            let setup = SyncSetup::new();
            black_box(sync_batch(&setup));
            black_box(measured_sync_batch(&setup));
        }
        "request_log_1000_rows" => {
            let setup = LogSetup::new();
            // The second pass is counted: histograms sized and names known, as
            // for all but the first rows of a long log.
            let mut c = setup.collected();
            black_box(request_log(&setup, &mut c));
            black_box(measured_request_log(&setup, &mut c));
        }
        other => panic!("no case {other}"),
    }
}

struct ViewerSetup {
    dashboard: dashboard::Dashboard,
    endpoints: Endpoints,
    client: reqwest::Client,
    live: Live,
    answer: Vec<u8>,
}

impl ViewerSetup {
    fn new() -> ViewerSetup {
        let path = root().join("scenarios/dashboards/toggl-overview.json");
        let mut dashboard = dashboard::load(&path).expect("the shipped dashboard loads");
        let scenario = Scenario::parse(
            "[viewers]\ndashboard = \"dashboards/toggl-overview.json\"\n",
            &root().join("scenarios/bench.toml"),
        )
        .expect("the bench scenario parses");
        dashboard.bind_inputs(&scenario.target.datasources);
        let sandbox = url::Url::parse("http://127.0.0.1:8086").unwrap();
        ViewerSetup {
            dashboard,
            endpoints: Endpoints::new(&scenario.target, Some(&sandbox)),
            client: reqwest::Client::new(),
            live: Live::default(),
            answer: std::fs::read(root().join("benches/fixtures/influx_panel_answer.json"))
                .expect("the recorded answer"),
        }
    }
}

/// The counted call of [`viewer_load`].
#[inline(never)]
fn measured_viewer_load(s: &ViewerSetup) -> u64 {
    viewer_load(s)
}

fn viewer_load(s: &ViewerSetup) -> u64 {
    let selections = s.dashboard.saved_selections();
    let view = View::new(&s.dashboard, &s.dashboard.time, NOW_MS, &selections);
    let mut series = 0;
    for request in view.panel_requests() {
        for query in &request.queries {
            let Some(influxql) = &query.influxql else {
                continue;
            };
            let call = QueryCall::InfluxQl(influxql);
            let reading = s
                .endpoints
                .reading(&call, false)
                .counting(Some(AnswerTotals::INFLUX_SERIES));
            let built = s
                .endpoints
                .query(&s.client, call)
                .build()
                .expect("a request");
            black_box(&built);
            let mut scan = BodyScan::new(reading);
            for chunk in s.answer.chunks(8 * 1024) {
                scan.feed(chunk);
            }
            let body = scan.finish();
            let judged = judge_query(200, &body, false);
            assert!(judged.ok, "the recorded answer is judged ok");
            s.live.record_answer(&request.name, body.read, body.series);
            s.live.record(
                RequestClass::PanelQuery,
                Duration::from_micros(1500),
                judged.ok,
            );
            series += body.series;
        }
    }
    s.live
        .record(RequestClass::DashboardLoad, Duration::from_millis(20), true);
    series
}

struct SyncSetup {
    world: dashload::workload::toggl::World,
    names: dashload::workload::line_protocol::Names,
    endpoints: Endpoints,
    client: reqwest::Client,
}

impl SyncSetup {
    fn new() -> SyncSetup {
        use dashload::workload::toggl::{World, WorldConfig};
        let world = World::generate(42, &WorldConfig::default());
        let names = dashload::workload::line_protocol::Names::from_world(&world);
        let scenario = Scenario::parse("", &root().join("scenarios/bench.toml"))
            .expect("the bench scenario parses");
        let sandbox = url::Url::parse("http://127.0.0.1:8086").unwrap();
        SyncSetup {
            world,
            names,
            endpoints: Endpoints::new(&scenario.target, Some(&sandbox)),
            client: reqwest::Client::new(),
        }
    }
}

/// The counted call of [`sync_batch`].
#[inline(never)]
fn measured_sync_batch(s: &SyncSetup) -> usize {
    sync_batch(s)
}

fn sync_batch(s: &SyncSetup) -> usize {
    use dashload::workload::toggl::EntryGenerator;
    let now_s = NOW_MS / 1000;
    let entries: Vec<_> = EntryGenerator::new(&s.world, 7, now_s - 28 * 86_400, now_s)
        .take(500)
        .collect();
    let mut body = Vec::with_capacity(entries.len() * 200);
    s.names.write_entries(&entries, now_s, &mut body);
    let mut gz = Vec::new();
    dashload::workload::line_protocol::gzip(&body, &mut gz);
    let len = gz.len();
    let built = s
        .endpoints
        .write(&s.client, gz, true)
        .build()
        .expect("a request");
    black_box(built);
    len
}

struct LogSetup {
    _dir: tempfile::TempDir,
    requests: PathBuf,
    meta: dashload::runfolder::RunMeta,
}

impl LogSetup {
    fn new() -> LogSetup {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let meta =
            dashload::report::synthetic::write_run(dir.path(), 1000, 1).expect("a synthetic run");
        LogSetup {
            requests: dir.path().join("requests.csv"),
            _dir: dir,
            meta,
        }
    }
}

impl LogSetup {
    /// What the rows are folded into, made outside the count.
    fn collected(&self) -> Collected {
        let run_ms = self
            .meta
            .windows
            .iter()
            .map(|w| w.end_ms)
            .max()
            .unwrap_or(0);
        Collected::new(&self.meta.windows, run_ms)
    }
}

/// The counted call of [`request_log`].
#[inline(never)]
fn measured_request_log(s: &LogSetup, c: &mut Collected) -> u64 {
    request_log(s, c)
}

fn request_log(s: &LogSetup, c: &mut Collected) -> u64 {
    dashload::report::load::read_requests(c, &s.requests, false).expect("the log reads");
    c.requests_input.rows
}
