//! The built binary against the fault target (`fault_target.rs`): what a
//! misbehaving target answers is judged for what it is, recorded in a request log
//! whose every row parses, never echoes a secret, and never costs unbounded memory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::fault_target::{prepare_gzip_bomb, FaultTarget, Mode};
use crate::util::{text, workspace, ATTACK};

/// A scenario against `url`: `viewers` viewers for `hold`, `sync` sync users.
fn scenario(url: &str, target_extra: &str, viewers: u32, sync: u32, hold: &str) -> String {
    format!(
        r#"name = "faults"
seed = 5
[target]
kind = "influxdb1"
url = "{url}"
database = "toggl"
{target_extra}
[viewers]
dashboard = "dashboards/toggl-overview.json"
refresh = "2s"
refreshes_per_visit = 2
think_time = "1s..1s"
[sync]
users = {sync}
interval = "1s"
entries_per_sync = 40
batch_size = 40
freshness = false
[[stages]]
users = {viewers}
ramp = "1s"
hold = "{hold}"
"#
    )
}

/// A finished run: its output, its folder, and the child's peak RSS (kB).
struct Ran {
    out: Output,
    folder: Option<PathBuf>,
    peak_rss_kb: u64,
}

/// Run `dashload run` on `text` in `dir`, sampling the child's peak RSS (VmHWM)
/// until it exits (bounded: 180 s).
fn run(dir: &Path, text: &str, env: &[(&str, &str)]) -> Ran {
    std::fs::write(dir.join("scenarios/faults.toml"), text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dashload"))
        .args(["run", "scenarios/faults.toml", "--reports-dir", "reports"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    // Drain the pipes on threads so a chatty child never blocks on them.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).unwrap();
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).unwrap();
        v
    });
    let started = Instant::now();
    let mut peak = 0;
    let exit = loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = Output {
        status: exit,
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    };
    let folder = std::fs::read_dir(dir.join("reports")).ok().and_then(|d| {
        d.filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.is_dir())
    });
    Ran {
        out,
        folder,
        peak_rss_kb: peak,
    }
}

/// `requests.csv` rows as (name, status, success, error); every row must parse
/// with the header's field count.
fn requests(folder: &Path) -> Vec<(String, u16, bool, String)> {
    let mut reader = csv::Reader::from_path(folder.join("requests.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (name, status, success, error) = (
        col("name"),
        col("status_code"),
        col("success"),
        col("error"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("every request-log row parses");
            assert_eq!(r.len(), headers.len(), "a whole row: {r:?}");
            (
                r[name].to_string(),
                r[status].parse().unwrap(),
                &r[success] == "true",
                r[error].to_string(),
            )
        })
        .collect()
}

/// Rows of panel queries (the requests that went to `/query` as load).
fn panels(rows: &[(String, u16, bool, String)]) -> Vec<&(String, u16, bool, String)> {
    rows.iter().filter(|r| r.0.starts_with("panel ")).collect()
}

#[test]
fn truncated_json_and_html_answers_are_failures_with_their_reason() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    for (mode, reason) in [
        (Mode::TruncatedJson, "invalid JSON at byte"),
        (Mode::Html, "HTML where JSON was expected"),
    ] {
        let target = FaultTarget::start(mode.clone());
        let dir = workspace();
        let ran = run(dir.path(), &scenario(&target.url, "", 2, 0, "3s"), &[]);
        let folder = ran.folder.unwrap_or_else(|| panic!("{}", text(&ran.out)));
        let rows = requests(&folder);
        let panels = panels(&rows);
        assert!(!panels.is_empty(), "{mode:?}: panels were queried");
        for (name, status, success, error) in &panels {
            assert!(
                !success,
                "{mode:?}: {name} answered {status} counts as success"
            );
            assert!(error.contains(reason), "{mode:?}: {name}: {error}");
        }
    }
}

#[test]
fn server_errors_with_cr_and_lf_keep_every_row_and_every_failure() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    for error in ["a\rb", "x\ny,\"z"] {
        let target = FaultTarget::start(Mode::ErrorText(error.into()));
        let dir = workspace();
        let ran = run(dir.path(), &scenario(&target.url, "", 2, 1, "3s"), &[]);
        let folder = ran.folder.unwrap_or_else(|| panic!("{}", text(&ran.out)));
        let rows = requests(&folder);
        // HTTP rows only: a failed load (not an HTTP call) carries its panel's 500.
        let failed_500 = rows
            .iter()
            .filter(|r| r.1 == 500 && !r.2 && !r.0.starts_with("load "))
            .count() as u64;
        assert_eq!(
            failed_500,
            target.failed(),
            "every 500 the target answered is one failed row ({error:?})"
        );
        assert!(failed_500 > 0);
        let logged = error.replace('\r', "\\r").replace('\n', "\\n");
        assert!(
            rows.iter().any(|r| r.3.contains(&logged)),
            "the message is kept, escaped: {logged:?}"
        );
        // A failed load is classed by its failed panel's status, not "other".
        let loads: Vec<_> = rows.iter().filter(|r| r.0.starts_with("load ")).collect();
        assert!(!loads.is_empty());
        for (name, status, success, _) in loads {
            assert!(!success && *status == 500, "{name}: {status}");
        }
    }
}

#[test]
fn credentials_echoed_by_a_target_are_never_stored_or_printed() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let password = "Pa55-w0rd-seKret";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("loadtest:{password}"));
    let extra = "username = \"loadtest\"\npassword_env = \"DASHLOAD_FAULT_PASSWORD\"";
    for mode in [Mode::EchoAuth, Mode::EchoAuthEverywhere] {
        let target = FaultTarget::start(mode.clone());
        let dir = workspace();
        let ran = run(
            dir.path(),
            &scenario(&target.url, extra, 2, 1, "3s"),
            &[("DASHLOAD_FAULT_PASSWORD", password)],
        );
        if mode == Mode::EchoAuth {
            assert!(
                target.queries() > 0,
                "the run sent queries: {}",
                text(&ran.out)
            );
        } else {
            assert_eq!(
                ran.out.status.code(),
                Some(4),
                "preflight refuses: {}",
                text(&ran.out)
            );
        }
        let mut seen = vec![
            ("stdout".to_string(), ran.out.stdout.clone()),
            ("stderr".to_string(), ran.out.stderr.clone()),
        ];
        let mut stack = vec![dir.path().join("reports")];
        while let Some(p) = stack.pop() {
            for entry in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    seen.push((path.display().to_string(), std::fs::read(&path).unwrap()));
                }
            }
        }
        for (name, bytes) in &seen {
            let text = String::from_utf8_lossy(bytes);
            for secret in [password, &basic] {
                assert!(!text.contains(secret), "{mode:?}: {name} holds {secret}");
            }
        }
        if mode == Mode::EchoAuth {
            let rows = requests(&ran.folder.unwrap());
            assert!(
                rows.iter().any(|r| r.3.contains("Basic ***")),
                "redacted, not dropped"
            );
        }
    }
}

#[test]
fn huge_answers_and_gzip_bombs_stay_in_bounded_memory() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let bomb = prepare_gzip_bomb();
    for (mode, what) in [
        (Mode::Huge { mb: 100 }, "100 MB answers"),
        (Mode::GzipBomb, "a gzip bomb (1 GiB inflated)"),
    ] {
        let target = FaultTarget::start(mode.clone());
        let dir = workspace();
        // A 4 MB limit so a debug build reads to it in time on a shared
        // machine; memory does not depend on the limit (only a head and a tail are kept).
        let extra = "max_body = \"4 MB\"\ntimeout = \"20s\"";
        let ran = run(dir.path(), &scenario(&target.url, extra, 10, 0, "4s"), &[]);
        let folder = ran.folder.unwrap_or_else(|| panic!("{}", text(&ran.out)));
        eprintln!(
            "peak RSS with 10 viewers and {what} ({} bytes on the wire for the bomb): {} MB",
            bomb,
            ran.peak_rss_kb / 1024
        );
        assert!(ran.peak_rss_kb > 0, "VmHWM was read");
        assert!(
            ran.peak_rss_kb < 200 * 1024,
            "{what}: peak RSS {} MB",
            ran.peak_rss_kb / 1024
        );
        let rows = requests(&folder);
        let panels = panels(&rows);
        assert!(!panels.is_empty());
        // Every panel fails; those read to the limit in time say so (on a
        // starved machine some time out first, also a failure).
        let oversize = panels
            .iter()
            .filter(|r| r.3.contains("answer larger than max_body 4 MB: read "))
            .count();
        for (name, _, success, error) in &panels {
            assert!(!success, "{name}: {error}");
        }
        eprintln!(
            "{what}: {} panel queries, {oversize} stopped at max_body",
            panels.len()
        );
        assert!(oversize > 0, "{:?}", &panels[..panels.len().min(5)]);
    }
}

#[test]
fn sync_writes_retry_429_and_503_after_retry_after() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    for status in [429, 503] {
        let target = FaultTarget::start(Mode::RetryAfter {
            status,
            secs: 2,
            times: 1,
        });
        let dir = workspace();
        let ran = run(dir.path(), &scenario(&target.url, "", 0, 1, "3s"), &[]);
        let folder = ran.folder.unwrap_or_else(|| panic!("{}", text(&ran.out)));
        let writes = target.writes();
        assert!(writes.len() >= 2, "{status}: {writes:?} {}", text(&ran.out));
        assert_eq!(writes[0].1, status);
        assert_eq!(writes[1].1, 204, "the batch was retried");
        let waited = writes[1].0 - writes[0].0;
        assert!(
            waited >= Duration::from_millis(1900),
            "{status}: Retry-After 2 s honoured, retried after {waited:?}"
        );
        let rows = requests(&folder);
        let logged: Vec<_> = rows.iter().filter(|r| r.0 == "sync write").collect();
        assert_eq!(logged.len(), writes.len(), "every attempt is in the log");
        assert_eq!((logged[0].1, logged[0].2), (status, false));
        assert_eq!((logged[1].1, logged[1].2), (204, true));
    }
}

/// One `/query` of the fault target in `mode`, read and judged as a panel's.
fn judged(mode: Mode, url: Option<String>) -> Result<dashload::target::Judged, String> {
    use dashload::target::body::{read, Format, Reading, DEFAULT_MAX_BODY};
    let target = url.is_none().then(|| FaultTarget::start(mode));
    let url = url.unwrap_or_else(|| target.as_ref().unwrap().url.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let response = client
            .get(format!("{url}/query?db=toggl&q=SELECT+1"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let reading = Reading::query(Format::Json, DEFAULT_MAX_BODY, false);
        let body = read(response, reading).await.map_err(|e| e.to_string())?;
        Ok(dashload::target::judge_query(status, &body, false))
    })
}

#[test]
fn every_fault_mode_is_judged_for_what_it_is() {
    // Transport faults: no verdict at all, an error.
    assert!(judged(Mode::Healthy, Some(FaultTarget::refused_url())).is_err());
    assert!(judged(Mode::Reset, None).is_err(), "a cut body is an error");
    assert!(judged(Mode::Stall, None).is_err(), "a stall times out");
    // Answers: failures with their reason, or successes when whole.
    let fail = |mode: Mode, want: &str| {
        let j = judged(mode.clone(), None).unwrap();
        assert!(!j.ok, "{mode:?}");
        let e = j.error.unwrap();
        assert!(e.contains(want), "{mode:?}: {e}");
    };
    fail(
        Mode::Burst5xx { every: 1, fail: 1 },
        "HTTP 500: internal error",
    );
    fail(
        Mode::TruncatedJson,
        "invalid JSON at byte 71: the answer ends early",
    );
    fail(Mode::Html, "HTML where JSON was expected");
    fail(Mode::ErrorIn200, "max-select-buckets limit exceeded");
    fail(
        Mode::RetryAfter {
            status: 503,
            secs: 1,
            times: 1,
        },
        "HTTP 503: slow down",
    );
    fail(Mode::Huge { mb: 40 }, "answer larger than max_body 32 MB");
    let j = judged(Mode::SlowDrip { ms: 1 }, None).unwrap();
    assert!(j.ok, "a slow but whole answer is a success: {:?}", j.error);
    assert!(judged(Mode::Healthy, None).unwrap().ok);
}

/// Script a page would run: `<script>`, event-handler attributes, `javascript:`
/// URLs, frames and plugins, and anything loaded from elsewhere (`src` with a
/// scheme, `<link href>`, an `href` off the page).
const EXECUTABLE: &str =
    "count(//script | //iframe | //object | //embed | //@*[starts-with(name(), 'on')] \
    | //@*[contains(translate(., 'JAVSCRIPT', 'javscript'), 'javascript:')] \
    | //@src[contains(., ':') or starts-with(., '//')] | //link[@href] \
    | //@href[contains(., ':') or starts-with(., '//')])";

/// Every `.html` file under `dir`.
fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// Issue 25: a dashboard whose titles are markup and a target whose error pages
/// are HTML leave no executable element in any page of the run folder (Goose's
/// HTML report, which ran them, is no longer written).
#[test]
fn hostile_titles_and_html_error_pages_run_nowhere_in_the_run_folder() {
    let _one_at_a_time = ATTACK.lock().unwrap_or_else(|e| e.into_inner());
    let hostile = [
        "<script>alert('title')</script>",
        "\"><img src=x onerror=alert(1)>",
        "<a href=\"javascript:alert(2)\">x</a><iframe src=//evil.example/>",
    ];
    let dir = workspace();
    let original = dir.path().join("scenarios/dashboards/toggl-overview.json");
    let mut dashboard: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&original).unwrap()).unwrap();
    dashboard["title"] = hostile[0].into();
    let mut titled = 0;
    for (i, panel) in dashboard["panels"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        panel["title"] = format!("{} {i}", hostile[i % hostile.len()]).into();
        titled += 1;
    }
    assert!(titled >= 3);
    std::fs::write(
        dir.path().join("scenarios/dashboards/hostile.json"),
        dashboard.to_string(),
    )
    .unwrap();
    let target = FaultTarget::start(Mode::HtmlError(format!(
        "<html><head><script src=\"https://evil.example/x.js\"></script></head><body onload=\"alert(3)\">{}</body></html>",
        hostile.join(" ")
    )));
    let hostile_scenario =
        scenario(&target.url, "", 2, 1, "3s").replace("toggl-overview.json", "hostile.json");
    let ran = run(dir.path(), &hostile_scenario, &[]);
    let folder = ran.folder.expect("a run folder");
    // The hostile text did reach the run: the request log names the panels.
    let rows = requests(&folder);
    assert!(
        rows.iter()
            .any(|r| r.0.contains("<script>alert('title')</script>") && !r.2),
        "no failed request under a hostile name"
    );
    assert!(!folder.join("goose-report.html").exists());
    let mut pages = Vec::new();
    html_files(&dir.path().join("reports"), &mut pages);
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"report.html".to_string()) && names.contains(&"index.html".to_string()),
        "{names:?}\n{}",
        text(&ran.out)
    );
    for page in &pages {
        let out = Command::new("xmllint")
            .args(["--html", "--nowarning", "--xpath", EXECUTABLE])
            .arg(page)
            .output()
            .expect("xmllint runs (Debian: libxml2-utils)");
        let count = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            count,
            "0",
            "{}: {count} executable elements",
            page.display()
        );
    }
}
