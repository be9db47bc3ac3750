//! The server section in a real browser (Debian's headless `chromium`, network
//! off): a synthetic run with a `server.csv` whose query counter is the request
//! log's own count, rendered; chromium's DOM holds every server panel and the
//! count check, all matching; a screenshot of the section is kept as
//! `target/test-artifacts/report-server.png`. Skipped, saying so, without chromium.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::browser_tests::chromium;
use super::synthetic::write_run;
use super::{render_run, ReportOptions};
use crate::runfolder::{files, RequestClass};

const CHROMIUM: &str = "/usr/bin/chromium";

/// `server.csv` for the synthetic run in `dir`: a scrape every second whose
/// query counter counts the log's panel and variable queries started before
/// it, plus levels and counters the sandbox and influxd give.
fn write_server_csv(dir: &Path, run_ms: u64) {
    let mut starts: Vec<u64> = Vec::new();
    let mut reader = csv::Reader::from_path(dir.join(files::REQUESTS)).unwrap();
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (elapsed, time, name, success) = (
        col("elapsed"),
        col("response_time"),
        col("name"),
        col("success"),
    );
    for row in reader.records() {
        let row = row.unwrap();
        let class = RequestClass::of(&row[name]);
        if matches!(
            class,
            RequestClass::PanelQuery | RequestClass::VariableQuery
        ) {
            let end: u64 = row[elapsed].parse().unwrap();
            let _ = &row[success];
            starts.push(end.saturating_sub(row[time].parse().unwrap()));
        }
    }
    starts.sort_unstable();
    let mut out = String::from("elapsed_ms,metric,value\n");
    let mut t = 0;
    while t <= run_ms + 1000 {
        // Scrapes at 500 ms past each second: calls start on whole ms, so none
        // starts exactly at a scrape.
        let at = t + 500;
        let queries = starts.partition_point(|s| *s < at);
        let x = at as f64 / 1000.0;
        let busy = (x / run_ms as f64 * 1000.0).min(1.0);
        for (m, v) in [
            ("query_requests", queries as f64),
            (
                "query_seconds",
                queries as f64 * (0.004 + 0.02 * busy * busy),
            ),
            ("http_5xx", (x * busy * busy * 0.5).floor()),
            ("heap_bytes", 40e6 + 60e6 * busy),
            ("goroutines", 40.0 + 200.0 * busy),
            ("queries_active", (16.0 * busy).round()),
            ("cache_hits", x * 3.0),
            ("cache_misses", x * 9.0),
        ] {
            let _ = writeln!(out, "{at},{m},{v}");
        }
        let _ = writeln!(out, "{at},scrape_ms,0");
        t += 1000;
    }
    std::fs::write(dir.join(files::SERVER), out).unwrap();
}

#[test]
fn chromium_renders_the_server_panels_and_the_count_check() {
    if !Path::new(CHROMIUM).exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium): the browser check of the server section was not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let meta = write_run(&run, 20_000, 4).unwrap();
    let run_ms = meta.windows.iter().map(|w| w.end_ms).max().unwrap();
    write_server_csv(&run, run_ms);
    render_run(&run, &ReportOptions::default()).unwrap();
    let report = run.join(files::REPORT_HTML);
    let html = std::fs::read_to_string(&report).unwrap();
    let section = &html[html
        .find("<section id=\"server\">")
        .expect("a server section")..];
    let section = &section[..section.find("</section>").unwrap() + "</section>".len()];
    // Requests, query time, errors, memory, goroutines, active queries, cache; no
    // points, CPU: the server gave none.
    assert_eq!(section.matches("<svg").count(), 7, "server panels");
    assert!(!section.contains("points written per second"));

    let out = chromium(
        &dir.path().join("p1"),
        &["--dump-dom", &format!("file://{}", report.display())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let server_dom = &dom[dom
        .find("id=\"server\"")
        .expect("chromium kept the section")..];
    assert_eq!(server_dom.matches("<svg").count(), 7);
    assert!(server_dom.contains("id=\"count-check\""));
    assert!(server_dom.contains("matches"), "count check rows");
    assert!(
        !server_dom.contains("MISMATCH"),
        "the log's own count matches"
    );
    assert!(!dom.contains("id=\"measurement-warnings\""));

    // The section alone, with the page's style, as a screenshot artifact.
    let head = &html[..html.find("<body>").unwrap() + "<body>".len()];
    let alone = dir.path().join("server.html");
    std::fs::write(&alone, format!("{head}{section}</body></html>")).unwrap();
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("report-server.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(
        &dir.path().join("p2"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,4400",
            "--hide-scrollbars",
            &format!("file://{}", alone.display()),
        ],
    );
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 80_000,
        "a near-empty screenshot ({} bytes)",
        bytes.len()
    );
}
