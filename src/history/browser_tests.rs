//! The run index in a real browser: Debian's headless `chromium`, network off
//! (the report's helpers, `report::browser_tests`). Skipped, with a printed
//! reason, when chromium is absent. A wrapper page in the temporary folder
//! loads the index 1024 px wide in an iframe and writes into its own DOM every
//! SVG's rendered size, the page's width (nothing may stick out of 1024 px)
//! and every link as the browser resolved it; the links must name report.html
//! files that exist. A screenshot is kept as `target/test-artifacts/index.png`.

use std::path::{Path, PathBuf};

use super::index::tests::{edit_history, fake_run};
use super::index::write_index;
use crate::report::browser_tests::{chromium, CHROMIUM};

#[test]
fn chromium_renders_the_index_with_sized_trends_and_working_links() {
    if !Path::new(CHROMIUM).exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium): the browser check of index.html was not run"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    for i in 0..40i64 {
        let verdict = [
            "pass",
            "pass",
            "fail",
            "regressed",
            "not_judged",
            "interrupted",
        ][i as usize % 6];
        fake_run(
            &reports,
            &format!("2026{i:04}-staged"),
            "staged",
            i * 1440,
            verdict,
        );
        if i % 3 == 0 {
            fake_run(
                &reports,
                &format!("2026{i:04}-smoke run #{i}"),
                "smoke & <co>",
                i * 1440 + 60,
                "pass",
            );
        }
    }
    // A run with other overrides (its own trend), long baseline names and a long
    // folder name: the table wraps them rather than widening the page.
    let other = fake_run(
        &reports,
        &format!("20260041-staged-{}", "with-a-long-name-".repeat(4)),
        "staged",
        41 * 1440,
        "pass",
    );
    edit_history(&other, |h| {
        h.scenario_digest = "e0e0".into();
        h.baselines = (0..5)
            .map(|i| format!("2026110{i}T020000Z-staged-nightly-against-staging"))
            .collect();
    });
    let partial = fake_run(&reports, "zz-partial", "staged", 99_999, "pass");
    std::fs::create_dir(partial.join(crate::runfolder::recover::PARTIAL)).unwrap();
    let (index, n) = write_index(&reports).unwrap();
    assert_eq!((n.runs, n.scenarios, n.incomplete), (55, 2, 1));

    // 1. The DOM chromium builds from the index: both charts, every row.
    let out = chromium(
        &tmp.path().join("p1"),
        &["--dump-dom", &format!("file://{}", index.display())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    // Three digests (staged twice, smoke), three charts each.
    assert_eq!(
        dom.matches("<svg").count(),
        9,
        "chromium's DOM lost a chart"
    );
    assert_eq!(dom.matches("<tr class=").count(), 56);
    assert!(dom.contains("smoke &amp; &lt;co&gt;"));

    // 2. Sizes and links as the browser has them, the index 1024 px wide.
    std::fs::write(tmp.path().join("measure.html"), MEASURE).unwrap();
    let out = chromium(
        &tmp.path().join("p2"),
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &format!("file://{}", tmp.path().join("measure.html").display()),
        ],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> String {
        dom.split(&format!("{name}:"))
            .nth(1)
            .and_then(|s| s.split(['|', '<']).next())
            .unwrap_or_else(|| panic!("the wrapper measured no {name}: {dom}"))
            .to_string()
    };
    let sizes: Vec<(u32, u32)> = field("sizes")
        .split(',')
        .map(|s| {
            let (w, h) = s.split_once('x').unwrap();
            (w.parse().unwrap(), h.parse().unwrap())
        })
        .collect();
    assert_eq!(sizes.len(), 9, "{sizes:?}");
    // Per digest: p95 across the page, capacity and error rate side by side.
    for trio in sizes.chunks(3) {
        let (wide, small) = (trio[0], &trio[1..]);
        assert!(
            wide.0 >= 900 && wide.1 >= 250,
            "a p95 trend rendered at {wide:?}"
        );
        for (w, h) in small {
            assert!(*w >= 400 && *h >= 250, "a small trend rendered at {w}x{h}");
        }
    }
    let width: u32 = field("pagewidth").parse().unwrap();
    assert!(
        width <= 1024,
        "the index is {width} px wide in a 1024 px window"
    );
    // The small charts sit beside each other: two tops equal.
    let tops: Vec<i64> = field("tops")
        .split(',')
        .map(|t| t.parse().unwrap())
        .collect();
    for trio in tops.chunks(3) {
        assert_eq!(
            trio[1], trio[2],
            "capacity and error rate not side by side: {tops:?}"
        );
        assert!(trio[0] < trio[1]);
    }
    let outside = field("outside");
    assert!(
        outside.is_empty(),
        "text cut off at a chart's edge: {outside}"
    );
    let links: Vec<String> = field("links").split(' ').map(str::to_string).collect();
    assert_eq!(links.len(), 56, "a link per run folder with a report");
    for link in &links {
        let path = link.strip_prefix("file://").expect("a file link");
        let path = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .unwrap();
        let path = PathBuf::from(&*path);
        assert!(
            path.is_file() && path.ends_with("report.html") && path.starts_with(&reports),
            "{link}"
        );
    }

    // 3. A screenshot, kept as an artifact.
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("index.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &tmp.path().join("p3"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,1400",
            "--hide-scrollbars",
            &format!("file://{}", index.display()),
        ],
    );
    assert!(png.exists(), "no screenshot");
}

/// The measuring page: the index 800 px wide in an iframe; writes `name:value|`.
const MEASURE: &str = r#"<!DOCTYPE html><html><head><title>pending</title></head><body>
<iframe id="r" src="reports/index.html" style="width:1024px;height:2000px;border:0"></iframe><pre id="out">pending</pre>
<script>
document.getElementById('r').addEventListener('load', function () {
  var d = this.contentDocument, out = document.getElementById('out');
  if (!d) { out.textContent = 'no access'; return; }
  var sizes = [], outside = [], links = [], tops = [];
  d.querySelectorAll('svg').forEach(function (s) {
    var r = s.getBoundingClientRect();
    sizes.push(Math.round(r.width) + 'x' + Math.round(r.height));
    tops.push(Math.round(r.top));
    s.querySelectorAll('text').forEach(function (t) {
      if (!t.textContent.trim()) return;
      var b = t.getBoundingClientRect();
      if (b.left < r.left - 1 || b.top < r.top - 1 || b.right > r.right + 1 || b.bottom > r.bottom + 1)
        outside.push(t.textContent.trim());
    });
  });
  d.querySelectorAll('a[href]').forEach(function (a) { links.push(a.href); });
  var width = Math.max(d.documentElement.scrollWidth, d.body.scrollWidth);
  out.textContent = 'sizes:' + sizes.join(',') + '|tops:' + tops.join(',') + '|pagewidth:' + width +
    '|outside:' + outside.join('; ') + '|links:' + links.join(' ') + '|';
});
</script></body></html>"#;
