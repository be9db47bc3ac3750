//! The page in a real browser: Debian's headless `chromium`, network off.
//!
//! Skipped, with a printed reason, when `/usr/bin/chromium` is absent. The
//! report itself holds no script, so sizes are measured by a wrapper page
//! written to the temporary folder (never the report) that loads the report
//! in an iframe and writes every SVG's rendered size into its own DOM; the
//! wrapper's DOM is then dumped. What a reader sees is measured there: the
//! rendered size of every chart text in a page 800 px wide, that no text
//! sticks out of its chart (no clipped legend entry), the UTC clock ticks
//! of the time axes, and that the dashboard-load p95 and max lines are
//! apart. Screenshots of the report, 1280 and 800 px wide, are kept as
//! `target/test-artifacts/report.png` and `report-800.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::synthetic::write_run;
use super::{render_run, ReportOptions};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

pub(crate) fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    chromium_with(profile, None, args)
}

/// The font sets a report is measured with: the widest common sans (DejaVu)
/// and a narrow one with Arial's metrics (Liberation). `.ci/run` installs
/// both packages; a reader may have either, or neither.
const FONT_SETS: [(&str, &str, &str); 2] = [
    (
        "DejaVu Sans",
        "/usr/share/fonts/truetype/dejavu",
        "fonts-dejavu-core",
    ),
    (
        "Liberation Sans",
        "/usr/share/fonts/truetype/liberation2",
        "fonts-liberation2",
    ),
];

/// A fontconfig file that offers chromium only the fonts in `dir`, with
/// `family` as its sans-serif, so a page is rendered as on a machine that
/// has just that font.
fn only_fonts(tmp: &Path, family: &str, dir: &str) -> PathBuf {
    let conf = tmp.join(format!("fonts-{}.conf", family.replace(' ', "-")));
    let cache = tmp.join("fontcache");
    std::fs::write(
        &conf,
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig><dir>{dir}</dir><cachedir>{}</cachedir>\
             <alias><family>sans-serif</family><prefer><family>{family}</family></prefer></alias></fontconfig>\n",
            cache.display()
        ),
    )
    .unwrap();
    conf
}

/// Chromium as a reader runs it; with `fonts`, a fontconfig file that
/// decides which fonts it has.
pub(crate) fn chromium_with(
    profile: &Path,
    fonts: Option<&Path>,
    args: &[&str],
) -> std::process::Output {
    let mut command = Command::new(CHROMIUM);
    if let Some(conf) = fonts {
        command.env("FONTCONFIG_FILE", conf);
    }
    command
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
    let base = dir.path().join("base");
    std::fs::create_dir(&base).unwrap();
    write_run(&base, 40_000, 3).unwrap();
    render_run(&base, &ReportOptions::default()).unwrap();
    let options = ReportOptions {
        baselines: vec![base.clone()],
        ..ReportOptions::default()
    };
    render_run(&run, &options).unwrap();
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
    // The per-panel tables as the browser built them: holds apart from
    // stress steps, slowest first.
    for id in ["names-hold", "names-stress"] {
        let p95: Vec<f64> = super::tests::table_column(&dom, id, 5)
            .iter()
            .map(|c| c.parse().unwrap_or(f64::NEG_INFINITY))
            .collect();
        assert!(!p95.is_empty(), "no #{id} table in chromium's DOM");
        assert!(p95.windows(2).all(|w| w[0] >= w[1]), "#{id}: {p95:?}");
    }
    // The windows table gives UTC wall-clock times.
    let from = super::tests::table_column(&dom, "windows", 2);
    assert!(
        from.iter()
            .all(|c| c.len() >= 8 && c.as_bytes()[2] == b':' && c.as_bytes()[5] == b':'),
        "{from:?}"
    );

    // 2. Every chart has a rendered size; what a reader sees, measured in
    // a page 800 px wide, once per font set: no text may depend on which
    // fonts the reader has.
    let wrapper = dir.path().join("measure.html");
    std::fs::write(&wrapper, MEASURE).unwrap();
    let mut title_widths = Vec::new();
    for (family, font_dir, package) in FONT_SETS {
        if !Path::new(font_dir).is_dir() {
            let why = format!("{font_dir} is missing (apt-get install -y {package})");
            assert!(std::env::var_os("DASHLOAD_CI").is_none(), "{why}");
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {why}: the report was not measured with {family}"
            );
            continue;
        }
        let conf = only_fonts(dir.path(), family, font_dir);
        let profile = dir.path().join(format!("p2-{}", family.replace(' ', "-")));
        let width = measure_report(&wrapper, &profile, &conf, charts, family);
        title_widths.push((family, width));
    }
    // The font sets really differed: the same caption measured two widths.
    if let [(a, wa), (b, wb)] = title_widths[..] {
        assert!(
            (wa - wb).abs() > 1.0,
            "the first caption was {wa:.1} px wide in {a} and {wb:.1} px in {b}: the font sets were not applied"
        );
    }

    // 3. A screenshot, kept as an artifact.
    screenshots(dir.path(), &report);
}

/// The first screen and the page's length, as a reader sees them at 1400×900:
/// the seven answers above the fold (y ≤ 900), the run's provenance below it,
/// a staged run (with a baseline) at most 10 screens long and a smoke run at
/// most 6. Screenshots of both first screens, and of the whole smoke page,
/// are kept in `target/test-artifacts/`.
#[test]
fn the_first_screen_answers_and_the_page_is_short() {
    if !Path::new(CHROMIUM).exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {CHROMIUM} is not installed (apt-get install -y chromium): the first screen was not measured"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let folder = |name: &str| {
        let p = dir.path().join(name);
        std::fs::create_dir(&p).unwrap();
        p
    };
    let (staged, base, smoke) = (folder("staged"), folder("base"), folder("smoke"));
    write_run(&base, 40_000, 3).unwrap();
    render_run(&base, &ReportOptions::default()).unwrap();
    write_run(&staged, 40_000, 9).unwrap();
    let with_base = ReportOptions {
        baselines: vec![base.clone()],
        ..ReportOptions::default()
    };
    render_run(&staged, &with_base).unwrap();
    super::synthetic::write_smoke(&smoke, 20_000, 5).unwrap();
    render_run(&smoke, &ReportOptions::default()).unwrap();
    let wrapper = dir.path().join("fold.html");
    std::fs::write(&wrapper, FOLD).unwrap();

    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (name, run, screens) in [("staged", &staged, 10), ("smoke", &smoke, 6)] {
        let report = run.join("report.html");
        std::fs::copy(&report, artifacts.join(format!("report-{name}.html"))).unwrap();
        let out = chromium(
            &dir.path().join(format!("fold-{name}")),
            &[
                "--allow-file-access-from-files",
                "--virtual-time-budget=10000",
                "--dump-dom",
                &format!("file://{}?r={}", wrapper.display(), report.display()),
            ],
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let measured = dom
            .split("<pre id=\"out\">")
            .nth(1)
            .and_then(|s| s.split("</pre>").next())
            .unwrap_or_default();
        let field = |key: &str| -> f64 {
            measured
                .split('|')
                .find_map(|kv| kv.strip_prefix(&format!("{key}:")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name}: the wrapper measured no {key}: {measured}"))
        };
        for key in super::html::answers::KEYS {
            let bottom = field(&format!("answer-{key}"));
            assert!(
                bottom > 0.0 && bottom <= 900.0,
                "{name}: the {key} answer ends at y = {bottom} px, below the first screen"
            );
        }
        let provenance = field("summary");
        assert!(
            provenance > 900.0,
            "{name}: the run's provenance starts at y = {provenance} px, on the first screen"
        );
        let height = field("height");
        println!(
            "{name}: {height} px at 1400 wide ({:.1} screens)",
            height / 900.0
        );
        assert!(
            height <= screens as f64 * 900.0,
            "{name}: the page is {height} px, more than {screens} screens of 900 px"
        );
        let png = artifacts.join(format!("report-{name}-first-screen.png"));
        let _ = std::fs::remove_file(&png);
        chromium(
            &dir.path().join(format!("shot-{name}")),
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1400,900",
                "--hide-scrollbars",
                &format!("file://{}", report.display()),
            ],
        );
        assert!(png.exists(), "no first-screen screenshot of {name}");
    }
    let png = artifacts.join("report-smoke-1400.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &dir.path().join("shot-smoke-all"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,5400",
            "--hide-scrollbars",
            &format!("file://{}", smoke.join("report.html").display()),
        ],
    );
    assert!(png.exists(), "no whole-page screenshot of smoke");
}

/// The fold page: loads the report given as `?r=` 1400 px wide in an iframe
/// 900 px tall (one screen) and writes the page's height, the bottom of each
/// answer and the top of the provenance section into its own DOM.
const FOLD: &str = r#"<!DOCTYPE html><html><head><title>pending</title></head><body style="margin:0">
<iframe id="r" style="width:1400px;height:900px;border:0"></iframe><pre id="out">pending</pre>
<script>
var f = document.getElementById('r');
f.addEventListener('load', function () {
  var d = this.contentDocument, out = document.getElementById('out');
  if (!d) { out.textContent = 'no access'; return; }
  var parts = ['height:' + d.documentElement.scrollHeight];
  d.querySelectorAll('tr[id^="answer-"]').forEach(function (e) {
    parts.push(e.id + ':' + e.getBoundingClientRect().bottom.toFixed(0));
  });
  var s = d.getElementById('summary');
  if (s) parts.push('summary:' + s.getBoundingClientRect().top.toFixed(0));
  out.textContent = parts.join('|') + '|';
});
f.src = 'file://' + decodeURIComponent(location.search.slice(3));
</script></body></html>"#;

/// Measure the report in the wrapper page with only the fonts of `conf`;
/// returns the rendered width of the first chart caption.
fn measure_report(wrapper: &Path, profile: &Path, conf: &Path, charts: usize, family: &str) -> f64 {
    let out = chromium_with(
        profile,
        Some(conf),
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &format!("file://{}", wrapper.display()),
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
    assert_eq!(sizes.len(), charts, "{sizes:?}");
    for (w, h) in &sizes {
        assert!(
            *w >= 600 && *h >= 200,
            "a chart rendered at {w}x{h}: {sizes:?}"
        );
    }
    // Text at least 11 px as rendered in the 800 px page.
    let smallest: f64 = field("minfont").parse().unwrap();
    assert!(smallest >= 11.0, "chart text rendered at {smallest:.2} px");
    // No text sticks out of its chart: legends are whole.
    let outside = field("outside");
    assert!(
        outside.is_empty(),
        "text cut off at the chart edge in {family}: {outside}"
    );
    // Time axes tick in UTC wall-clock time.
    let clock_ticks: usize = field("clockticks").parse().unwrap();
    assert!(clock_ticks >= 3 * 5, "{clock_ticks} HH:MM:SS tick labels");
    // Dashboard-load p95 and max are distinct lines, not one: their mean
    // heights differ by more than 5 px on the screen.
    let apart: f64 = field("p95max").parse().unwrap();
    assert!(apart > 5.0, "p95 and max drawn {apart:.1} px apart");
    // SLO lines and baseline overlays are stroked differently.
    assert_eq!(field("slodash"), "slo dashed, baseline dotted");

    println!(
        "measured at 800 px in {family}: smallest text {smallest:.2} px, p95/max {apart:.1} px apart, {clock_ticks} clock ticks, {multiples_} small multiples",
        multiples_ = field("multiples")
    );
    // The latency distribution: one small chart per class, each titled.
    let multiples: usize = field("multiples").parse().unwrap();
    assert!(multiples >= 3, "{multiples} small multiples");
    // Every chart has its title, as HTML above it.
    let captions: usize = field("captions").parse().unwrap();
    assert_eq!(captions, charts, "charts without a caption in {family}");
    field("textwidth").parse().unwrap()
}

/// Screenshots of the report, 1280 and 800 px wide, kept as artifacts.
fn screenshots(tmp: &Path, report: &Path) {
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("report.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(
        &tmp.join("p3"),
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
    let narrow = artifacts.join("report-800.png");
    let _ = std::fs::remove_file(&narrow);
    chromium(
        &tmp.join("p4"),
        &[
            &format!("--screenshot={}", narrow.display()),
            "--window-size=800,6000",
            "--hide-scrollbars",
            &format!("file://{}", report.display()),
        ],
    );
    assert!(narrow.exists(), "no 800 px screenshot");
}

/// The measuring page: loads the report 800 px wide in an iframe and writes
/// what it measured into its own DOM, `name:value|` each.
const MEASURE: &str = r#"<!DOCTYPE html><html><head><title>pending</title></head><body>
<iframe id="r" src="run/report.html" style="width:800px;height:2000px;border:0"></iframe><pre id="out">pending</pre>
<script>
document.getElementById('r').addEventListener('load', function () {
  var d = this.contentDocument, out = document.getElementById('out');
  if (!d) { out.textContent = 'no access'; return; }
  // Folded blocks open: every chart is measured, the folded ones too.
  d.querySelectorAll('details').forEach(function (x) { x.open = true; });
  var multiples = 0, sizes = [], minfont = 1e9, outside = [], clock = 0, p95max = -1, slodash = '', textwidth = -1;
  // Captions are HTML: none may overflow its line box.
  var captions = 0;
  d.querySelectorAll('figure > figcaption').forEach(function (c) {
    captions++;
    if (c.scrollWidth > c.clientWidth + 1) outside.push('caption: ' + c.textContent.trim());
  });
  d.querySelectorAll('svg').forEach(function (s) {
    var r = s.getBoundingClientRect();
    sizes.push(Math.round(r.width) + 'x' + Math.round(r.height));
    var vb = s.viewBox.baseVal, scale = r.width / (vb && vb.width ? vb.width : r.width);
    var label = s.getAttribute('aria-label') || '';
    if (textwidth < 0) {
      // The rendered width of the first chart's texts: it differs between fonts.
      textwidth = 0;
      s.querySelectorAll('text').forEach(function (t) { textwidth += t.getBoundingClientRect().width; });
    }
    s.querySelectorAll('text').forEach(function (t) {
      if (!t.textContent.trim()) return;
      var px = parseFloat(d.defaultView.getComputedStyle(t).fontSize) * scale;
      minfont = Math.min(minfont, px);
      var b = t.getBoundingClientRect();
      if (b.left < r.left - 1 || b.top < r.top - 1 || b.right > r.right + 1 || b.bottom > r.bottom + 1)
        outside.push(label + ': ' + t.textContent.trim());
      if (/^\d\d:\d\d:\d\d$/.test(t.textContent.trim())) clock++;
      if (label.indexOf('Latency distribution') === 0 && /\(\d+ requests\)$/.test(t.textContent.trim())) multiples++;
    });
    if (label.indexOf('Latency over time: dashboard load') === 0) {
      // p95 per bucket (2 px) and per window (6 px) against the maximum per bucket.
      var mean = function (color) {
        var ys = [];
        s.querySelectorAll('polyline[stroke="' + color + '"]:not([stroke-width="1"]):not([stroke-width="3"])').forEach(function (p) {
          p.getAttribute('points').trim().split(/\s+/).forEach(function (xy) {
            var y = parseFloat(xy.split(',')[1]); if (!isNaN(y)) ys.push(y);
          });
        });
        return ys.length ? ys.reduce(function (a, b) { return a + b; }, 0) / ys.length : NaN;
      };
      p95max = Math.abs(mean('#FF7F0E') - mean('#7F7F7F')) * scale;
    }
  });
  // Dashes as drawn: SLO lines 1 px wide in 14 px dashes, baseline 3 px dots.
  var slo = 0, dots = 0;
  d.querySelectorAll('svg').forEach(function (s) {
    if ((s.getAttribute('aria-label') || '').indexOf('Latency over time: panel query') !== 0) return;
    s.querySelectorAll('polyline').forEach(function (p) {
      var pts = p.getAttribute('points').trim().split(/\s+/);
      if (pts.length !== 2) return;
      var a = pts[0].split(',').map(Number), b = pts[1].split(',').map(Number);
      var len = Math.hypot(b[0] - a[0], b[1] - a[1]), w = p.getAttribute('stroke-width');
      if (w === '1' && a[1] === b[1] && Math.abs(len - 14) < 1) slo++;
      if (w === '3' && len <= 3) dots++;
    });
  });
  slodash = 'slo ' + (slo > 10 ? 'dashed' : slo) + ', baseline ' + (dots > 10 ? 'dotted' : dots);
  document.title = 'measured';
  out.textContent = 'sizes:' + sizes.join(',') + '|minfont:' + minfont.toFixed(2) +
    '|outside:' + outside.join('; ') + '|clockticks:' + clock + '|p95max:' + p95max.toFixed(1) +
    '|slodash:' + slodash + '|multiples:' + multiples + '|captions:' + captions + '|textwidth:' + textwidth.toFixed(1) + '|';
});
</script></body></html>"#;
