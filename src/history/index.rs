//! `index.html` of a reports folder: every run folder, newest first, with its
//! verdict, capacity, p95s and error rate and a link to its report, and per
//! scenario digest (the file and its overrides) trends of p95, capacity and
//! error rate ([`super::trend`]). It fits a 1024 px wide window.
//!
//! It is rebuilt from the folders' `history.json` files every time (after each
//! `dashload run`, and by `dashload index`), so it never drifts from what is on
//! disk; one self-contained page (inline SVG, no script, no URL), written
//! atomically. Every string that comes from a file is HTML-escaped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::trend::{self, Figure, Outcome, CHART_RUNS};
use super::{folders, Folder, History};
use crate::error::{Error, Result};
use crate::report::format::escape;
use crate::runfolder::files;

/// The index's file name, in the reports folder.
pub const INDEX: &str = "index.html";

/// What an index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    /// Complete runs listed.
    pub runs: usize,
    /// Incomplete run folders listed.
    pub incomplete: usize,
    /// Scenarios (by name) charted.
    pub scenarios: usize,
}

impl Indexed {
    /// `4 runs of 2 scenarios, 1 incomplete run folder`, plurals right.
    pub fn counts(&self) -> String {
        format!(
            "{} of {}, {}",
            plural(self.runs, "run", "runs"),
            plural(self.scenarios, "scenario", "scenarios"),
            plural(
                self.incomplete,
                "incomplete run folder",
                "incomplete run folders"
            )
        )
    }
}

/// Rebuild `<reports>/index.html` from the run folders under `reports`.
pub fn write_index(reports: &Path) -> Result<(PathBuf, Indexed)> {
    if !reports.is_dir() {
        return Err(Error::Usage(format!(
            "{}: not a folder (give the reports folder)",
            reports.display()
        )));
    }
    let found = folders(reports);
    let (page, indexed) = page(reports, &found);
    let path = reports.join(INDEX);
    write_page(&path, page.as_bytes())?;
    Ok((path, indexed))
}

/// Write the page through a temporary file of this process and a rename: two
/// runs ending together in one reports folder each write a whole page (the
/// last rename wins), never a mix of the two.
fn write_page(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_file_name(format!(".{INDEX}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut file, bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| Error::io(path, e))
}

/// A path segment as it may stand in a relative link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Fits 1024 px: charts shrink with the page, and the table's long cells
/// (baselines, folder names) wrap instead of widening it.
const STYLE: &str = "body{font-family:sans-serif;margin:1em;color:#222;max-width:1400px}\
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
td.t{white-space:nowrap}td.w{overflow-wrap:anywhere;word-break:break-word}\
td.n,th.n{text-align:right;white-space:nowrap}tr.failed td.v{color:#c62828;font-weight:bold}tr.regressed td.v{color:#7b1fa2;font-weight:bold}\
tr.passed td.v{color:#2e7d32}tr.incomplete td{color:#777}.note{color:#555;font-size:14px}.digest{font-weight:normal;color:#666;font-size:14px}\
.trends{display:flex;flex-wrap:wrap;gap:0 16px}figure{margin:0 0 1em 0;max-width:100%}figure.wide{flex:1 1 100%}\
figure.small{flex:0 1 470px}svg{max-width:100%;height:auto}";

/// `1 run`, `2 runs`, `0 runs`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page for `found` (as [`folders`] gives them: newest first).
pub fn page(reports: &Path, found: &[(PathBuf, Folder)]) -> (String, Indexed) {
    let mut out = String::with_capacity(1024 + found.len() * 420);
    let mut indexed = Indexed {
        runs: 0,
        incomplete: 0,
        scenarios: 0,
    };
    // Per scenario digest (a file and its overrides: runs with other `--set`
    // values are other trends), in the order of their newest run: its runs,
    // newest first.
    let mut by_digest: Vec<((&str, &str), Vec<&History>)> = Vec::new();
    let mut position: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (_, f) in found {
        match f {
            Folder::Complete(h) => {
                indexed.runs += 1;
                let key = (h.scenario.as_str(), h.scenario_digest.as_str());
                let i = *position.entry(key).or_insert_with(|| {
                    by_digest.push((key, Vec::new()));
                    by_digest.len() - 1
                });
                by_digest[i].1.push(h);
            }
            Folder::Incomplete { .. } => indexed.incomplete += 1,
            Folder::NotARun => {}
        }
    }
    let names: BTreeSet<&str> = by_digest.iter().map(|((name, _), _)| *name).collect();
    indexed.scenarios = names.len();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>dashload runs: {folder}</title><style>{STYLE}</style></head><body>\n\
         <h1>dashload runs: {folder}</h1>\n<p>{counts}; newest first. \
         Rebuilt from the run folders at {now} UTC by dashload {version}. Latencies and error rates are over each run's hold windows \
         (error rate: failed dashboard loads ÷ dashboard loads).</p>\n",
        folder = escape(&reports.display().to_string()),
        counts = indexed.counts(),
        now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"),
        version = env!("CARGO_PKG_VERSION"),
    );
    if !by_digest.is_empty() {
        out.push_str(
            "<h2>Trends</h2>\n<p class=\"note\">One trend per scenario digest: the scenario file with its \
             overrides (<code>--set</code>, <code>DASHLOAD_TARGET_*</code>). Runs of the same file with other \
             values, or of another version of it, are trends of their own.</p>\n",
        );
    }
    for ((scenario, digest), runs) in &by_digest {
        let mut shown: Vec<&History> = runs.iter().take(CHART_RUNS).copied().collect();
        shown.reverse();
        let short: String = digest.chars().take(12).collect();
        let _ = write!(
            out,
            "<h3>{} <span class=\"digest\">digest {} · {}</span></h3>\n<div class=\"trends\">",
            escape(scenario),
            escape(&short),
            plural(runs.len(), "run", "runs"),
        );
        for figure in Figure::ALL {
            let _ = write!(
                out,
                "<figure class=\"{}\">{}</figure>",
                if figure == Figure::P95 {
                    "wide"
                } else {
                    "small"
                },
                trend::chart(scenario, figure, &shown, runs.len())
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str(
        "<h2>Runs</h2>\n<table id=\"runs\"><thead><tr><th>started (UTC)</th><th>scenario</th><th>verdict</th>\
         <th>capacity (viewers)</th><th class=\"n\">load p95 ms</th><th class=\"n\">panel p95 ms</th>\
         <th class=\"n\">error rate</th><th>baseline</th><th>run folder</th></tr></thead><tbody>\n",
    );
    for (dir, f) in found {
        row(&mut out, dir, f);
    }
    out.push_str("</tbody></table>\n</body></html>\n");
    (out, indexed)
}

/// One table row.
fn row(out: &mut String, dir: &Path, f: &Folder) {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let link = if dir.join(files::REPORT_HTML).is_file() {
        format!(
            "<a href=\"{}/{}\">{}</a>",
            utf8_percent_encode(&name, SEGMENT),
            files::REPORT_HTML,
            escape(&name)
        )
    } else {
        format!("{} (no report)", escape(&name))
    };
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("—".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    match f {
        Folder::Complete(h) => {
            let outcome = Outcome::of(h);
            let verdict = match outcome {
                Outcome::Passed => "PASS".to_string(),
                Outcome::Failed if h.regression => "FAIL, regressed".into(),
                Outcome::Failed => "FAIL".into(),
                Outcome::Regressed => "REGRESSED".into(),
                Outcome::NotJudged => "NOT JUDGED".into(),
                Outcome::Interrupted => format!("interrupted ({})", escape(&h.verdict)),
            };
            let capacity = match (h.capacity_held, h.capacity_failed) {
                (Some(held), Some(failed)) => format!("held {held}, failed {failed}"),
                (Some(held), None) => format!("held {held}"),
                (None, Some(failed)) => format!("failed {failed}"),
                (None, None) => "—".into(),
            };
            let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0}"));
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><td class=\"t\">{when}</td><td class=\"w\">{scenario}</td><td class=\"v\">{verdict}</td><td>{capacity}</td>\
                 <td class=\"n\">{load}</td><td class=\"n\">{panel}</td><td class=\"n\">{errors}</td><td class=\"w\">{baseline}</td><td class=\"w\">{link}</td></tr>",
                class = outcome.label().replace(' ', "-"),
                when = when(Some(h.started_at)),
                scenario = escape(&h.scenario),
                load = ms(h.dashboard_load_p95_ms),
                panel = ms(h.panel_query_p95_ms),
                errors = crate::report::format::percent(h.error_rate),
                baseline = escape(&h.baselines.join(", ")),
            );
        }
        Folder::Incomplete {
            why,
            scenario,
            started_at,
        } => {
            let _ = writeln!(
                out,
                "<tr class=\"incomplete\"><td class=\"t\">{}</td><td class=\"w\">{}</td><td class=\"v\" colspan=\"6\">incomplete: {}</td><td class=\"w\">{link}</td></tr>",
                when(*started_at),
                scenario.as_deref().map_or("—".into(), escape),
                why.label(),
            );
        }
        Folder::NotARun => {}
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;

    /// A complete run folder `<root>/<name>` with a history.json (and a
    /// report.html), started `minutes` after 2026-11-01 00:00 UTC.
    pub(crate) fn fake_run(
        root: &Path,
        name: &str,
        scenario: &str,
        minutes: i64,
        verdict: &str,
    ) -> PathBuf {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(files::RUN_META), "{}").unwrap();
        fs::write(
            dir.join(files::REPORT_HTML),
            "<!DOCTYPE html><title>r</title>",
        )
        .unwrap();
        let start = "2026-11-01T00:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            + chrono::Duration::minutes(minutes);
        let h = History {
            schema: super::super::record::SCHEMA_VERSION,
            run_id: name.into(),
            scenario: scenario.into(),
            scenario_digest: "d".into(),
            started_at: start,
            ended_at: Some(start + chrono::Duration::minutes(5)),
            verdict: if verdict == "regressed" || verdict == "interrupted" {
                "pass".into()
            } else {
                verdict.into()
            },
            interrupted: verdict == "interrupted",
            regression: verdict == "regressed",
            baselines: vec!["older <run>".into()],
            capacity_held: Some(100 + (minutes % 7) as usize * 10),
            capacity_failed: Some(200),
            dashboard_load_p95_ms: Some(300.0 + (minutes % 13) as f64 * 20.0),
            panel_query_p95_ms: Some(80.0 + (minutes % 5) as f64 * 10.0),
            error_rate: Some(0.001 * (minutes % 3) as f64),
            dashload_version: "test".into(),
        };
        fs::write(dir.join(files::HISTORY), serde_json::to_vec(&h).unwrap()).unwrap();
        dir
    }

    /// Change the history.json of the run folder `dir`.
    pub(crate) fn edit_history(dir: &Path, edit: impl FnOnce(&mut History)) {
        let path = dir.join(files::HISTORY);
        let mut h: History = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        edit(&mut h);
        fs::write(&path, serde_json::to_vec(&h).unwrap()).unwrap();
    }

    #[test]
    fn runs_with_other_overrides_are_a_trend_of_their_own_and_counts_read_right() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        fake_run(r, "a1", "staged", 0, "pass");
        fake_run(r, "a2", "staged", 2, "fail");
        // The same file run with `--set stages.0.users=20`: another digest.
        let other = fake_run(r, "b1", "staged", 1, "pass");
        edit_history(&other, |h| h.scenario_digest = "e0e0".into());
        let (path, n) = write_index(r).unwrap();
        assert_eq!((n.runs, n.scenarios), (3, 1));
        let page = fs::read_to_string(path).unwrap();
        assert_eq!(page.matches("<div class=\"trends\">").count(), 2, "{page}");
        assert!(page.contains("digest d · 2 runs</span>"), "{page}");
        assert!(page.contains("digest e0e0 · 1 run</span>"), "{page}");
        // Per digest: p95, capacity and error rate.
        assert_eq!(page.matches("<svg").count(), 6);
        for figure in [
            "p95 over the hold windows",
            "capacity bracket",
            "dashboard-load error rate",
        ] {
            assert_eq!(
                page.matches(&format!("aria-label=\"Trend of {figure}: staged\""))
                    .count(),
                2
            );
        }
        assert!(
            page.contains("<p>3 runs of 1 scenario, 0 incomplete run folders; newest first."),
            "{page}"
        );
        assert_eq!(
            Indexed {
                runs: 1,
                scenarios: 1,
                incomplete: 1
            }
            .counts(),
            "1 run of 1 scenario, 1 incomplete run folder"
        );
    }

    /// The hrefs of the page's links.
    fn hrefs(page: &str) -> Vec<String> {
        page.split("href=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_run_newest_first_incomplete_marked_strings_escaped() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let evil = "<script>alert(\"x\")</script> & 'co'";
        fake_run(r, "a-old", "staged", 10, "pass");
        fake_run(r, "b fail #1", evil, 20, "fail");
        fake_run(r, "c-regressed", "staged", 30, "regressed");
        fake_run(r, "d-interrupted", "staged", 40, "interrupted");
        fake_run(r, "e-not-judged", "smoke", 50, "not_judged");
        let partial = fake_run(r, "f-partial", "staged", 60, "pass");
        fs::create_dir(partial.join(crate::runfolder::recover::PARTIAL)).unwrap();
        fs::write(
            partial.join(files::RUN_META),
            r#"{"scenario":"staged","started_at":"2026-11-01T01:00:00Z"}"#,
        )
        .unwrap();
        // A folder whose run.json cannot be read: listed last, as its start is unknown.
        let unknown = r.join("0-unknown");
        fs::create_dir(&unknown).unwrap();
        fs::write(unknown.join(files::RUN_META), "{").unwrap();
        let running = r.join("g-<running>");
        fs::create_dir(&running).unwrap();
        fs::write(
            running.join(files::RUN_META),
            r#"{"scenario":"staged","started_at":"2026-11-01T01:10:00Z"}"#,
        )
        .unwrap();
        fs::create_dir(r.join("not-a-run")).unwrap();
        fs::write(r.join("not-a-run").join(files::REPORT_HTML), "x").unwrap();

        let (path, n) = write_index(r).unwrap();
        assert_eq!(path, r.join(INDEX));
        let temps = fs::read_dir(r)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(temps, 0, "a temporary file is left");
        assert_eq!(
            n,
            Indexed {
                runs: 5,
                incomplete: 3,
                scenarios: 3
            }
        );
        let page = fs::read_to_string(&path).unwrap();
        assert!(!page.contains("<script"), "an unescaped string from a file");
        assert!(!page.contains("g-<running>"));
        assert!(
            page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;")
        );
        assert!(page.contains("older &lt;run&gt;"));
        assert_eq!(
            page.matches("<svg").count(),
            9,
            "three trends per scenario digest"
        );
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no URL"
        );
        // Rows, newest first.
        let rows: Vec<&str> = page
            .split("<tr class=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                "incomplete",
                "incomplete",
                "not-judged",
                "interrupted",
                "regressed",
                "failed",
                "passed",
                "incomplete"
            ]
        );
        assert!(page.contains("incomplete: running or unfinished (.partial/ left)"));
        assert!(page.contains("incomplete: no report rendered (no summary.json)"));
        // Links: relative, encoded, to existing reports; none to the non-run folder.
        let links = hrefs(&page);
        assert_eq!(links.len(), 6, "{links:?}");
        assert!(links.contains(&"b%20fail%20%231/report.html".to_string()));
        for l in &links {
            let decoded = percent_encoding::percent_decode_str(l)
                .decode_utf8()
                .unwrap();
            assert!(r.join(&*decoded).is_file(), "{l}");
        }
        assert!(page.contains("held 100, failed 200") || page.contains("held 1"));
    }

    #[test]
    fn charts_show_the_newest_runs_and_the_table_every_run() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        let many = CHART_RUNS + 30;
        for i in 0..many {
            let verdict = ["pass", "fail", "regressed", "pass", "not_judged"][i % 5];
            fake_run(
                r,
                &format!("run-{i:04}"),
                "nightly",
                i as i64 * 1440,
                verdict,
            );
        }
        let (path, n) = write_index(r).unwrap();
        assert_eq!(n.runs, many);
        let page = fs::read_to_string(path).unwrap();
        assert_eq!(page.matches("<tr class=").count(), many);
        assert!(page.contains(&format!("the newest {CHART_RUNS} of {many}")));
        // One marker per run shown and line: passed runs are filled circles.
        let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
        let circles = svg.matches("<circle").count();
        let passed_shown = (30..many).filter(|i| i % 5 == 0 || i % 5 == 3).count();
        let not_judged_shown = (30..many).filter(|i| i % 5 == 4).count();
        // Two lines each, plus the legend's two circles (passed, not judged).
        assert_eq!(circles, 2 * (passed_shown + not_judged_shown) + 2);
    }

    #[test]
    fn a_missing_folder_is_a_usage_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = write_index(&tmp.path().join("nope")).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
    }
}
