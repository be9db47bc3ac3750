//! The page in a real browser: Debian's headless `chromium`, network off.
//!
//! Skipped, with a printed reason, when `/usr/bin/chromium` is absent. The
//! report itself holds no script, so sizes are measured by a wrapper page
//! written to the temporary folder (never the report) that loads the report
//! in an iframe and writes every SVG's rendered size into its own DOM; the
//! wrapper's DOM is then dumped. A screenshot of the report is kept as
//! `target/test-artifacts/report.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::synthetic::write_run;
use super::{render_run, ReportOptions};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            // Network off: every host name fails to resolve, and no proxy is tried.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--no-proxy-server",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[test]
fn chromium_renders_every_chart_with_a_size() {
    if !Path::new(CHROMIUM).exists() {
        // Straight to stderr, past the test harness's capture, so it shows.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium): the browser check of report.html was not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    write_run(&run, 40_000, 9).unwrap();
    render_run(&run, &ReportOptions::default()).unwrap();
    let report = run.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let charts = html.matches("<svg").count();
    assert_eq!(charts, 12);

    // 1. The DOM chromium builds from the report holds every chart.
    let out = chromium(
        &dir.path().join("p1"),
        &["--dump-dom", &format!("file://{}", report.display())],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        dom.matches("<svg").count(),
        charts,
        "chromium's DOM lost a chart"
    );
    assert!(dom.contains("dashload report: synthetic"));

    // 2. Every chart has a rendered size.
    let wrapper = dir.path().join("measure.html");
    std::fs::write(
        &wrapper,
        "<!DOCTYPE html><html><head><title>pending</title></head><body>\
         <iframe id=\"r\" src=\"run/report.html\" style=\"width:1280px;height:2000px\"></iframe><pre id=\"out\">pending</pre>\
         <script>document.getElementById('r').addEventListener('load', function () {\
           var d = this.contentDocument; var out = [];\
           if (!d) { document.getElementById('out').textContent = 'no access'; return; }\
           d.querySelectorAll('svg').forEach(function (s) { var r = s.getBoundingClientRect();\
             out.push(Math.round(r.width) + 'x' + Math.round(r.height)); });\
           document.getElementById('out').textContent = 'sizes:' + out.join(',');\
         });</script></body></html>",
    )
    .unwrap();
    let out = chromium(
        &dir.path().join("p2"),
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &format!("file://{}", wrapper.display()),
        ],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let sizes = dom
        .split("sizes:")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("the wrapper measured nothing: {dom}"));
    let sizes: Vec<(u32, u32)> = sizes
        .split(',')
        .map(|s| {
            let (w, h) = s.split_once('x').unwrap();
            (w.parse().unwrap(), h.parse().unwrap())
        })
        .collect();
    assert_eq!(sizes.len(), charts, "{sizes:?}");
    for (w, h) in &sizes {
        assert!(
            *w >= 600 && *h >= 200,
            "a chart rendered at {w}x{h}: {sizes:?}"
        );
    }

    // 3. A screenshot, kept as an artifact.
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("report.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(
        &dir.path().join("p3"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,4000",
            "--hide-scrollbars",
            &format!("file://{}", report.display()),
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
        bytes.len() > 100_000,
        "a near-empty screenshot ({} bytes)",
        bytes.len()
    );
}
