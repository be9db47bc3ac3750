//! `index.html` of a reports folder: every run folder, newest first, with its
//! verdict, capacity, p95s and error rate and a link to its report, and a
//! trend chart per scenario ([`super::trend`]).
//!
//! It is rebuilt from the folders' `history.json` files every time (after each
//! `dashload run`, and by `dashload index`), so it never drifts from what is on
//! disk; one self-contained page (inline SVG, no script, no URL), written
//! atomically. Every string that comes from a file is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::trend::{self, Outcome, CHART_RUNS};
use super::{folders, Folder, History};
use crate::error::{Error, Result};
use crate::report::html::escape;
use crate::runfolder::{files, write_atomic};

/// The index's file name, in the reports folder.
pub const INDEX: &str = "index.html";

/// What an index holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indexed {
    /// Complete runs listed.
    pub runs: usize,
    /// Incomplete run folders listed.
    pub incomplete: usize,
    /// Scenarios charted.
    pub scenarios: usize,
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
    write_atomic(&path, page.as_bytes())?;
    Ok((path, indexed))
}

/// A path segment as it may stand in a relative link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;font-size:14px}th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}\
td.n{text-align:right}tr.failed td.v{color:#c62828;font-weight:bold}tr.regressed td.v{color:#7b1fa2;font-weight:bold}\
tr.passed td.v{color:#2e7d32}tr.incomplete td{color:#777}figure{margin:0 0 1em 0}svg{max-width:100%;height:auto}";

/// The page for `found` (as [`folders`] gives them: newest first).
pub fn page(reports: &Path, found: &[(PathBuf, Folder)]) -> (String, Indexed) {
    let mut out = String::with_capacity(1024 + found.len() * 420);
    let mut indexed = Indexed {
        runs: 0,
        incomplete: 0,
        scenarios: 0,
    };
    // Per scenario, in the order of their newest run: its runs, newest first.
    let mut by_scenario: Vec<(&str, Vec<&History>)> = Vec::new();
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, f) in found {
        match f {
            Folder::Complete(h) => {
                indexed.runs += 1;
                let i = *position.entry(&h.scenario).or_insert_with(|| {
                    by_scenario.push((&h.scenario, Vec::new()));
                    by_scenario.len() - 1
                });
                by_scenario[i].1.push(h);
            }
            Folder::Incomplete { .. } => indexed.incomplete += 1,
            Folder::NotARun => {}
        }
    }
    indexed.scenarios = by_scenario.len();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dashload runs: {folder}</title><style>{STYLE}</style></head><body>\n\
         <h1>dashload runs: {folder}</h1>\n<p>{runs} runs of {scenarios} scenarios, {incomplete} incomplete run folders; newest first. \
         Rebuilt from the run folders at {now} UTC by dashload {version}. Latencies and error rates are over each run's hold windows \
         (error rate: failed dashboard loads ÷ dashboard loads).</p>\n",
        folder = escape(&reports.display().to_string()),
        runs = indexed.runs,
        scenarios = indexed.scenarios,
        incomplete = indexed.incomplete,
        now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S"),
        version = env!("CARGO_PKG_VERSION"),
    );
    if !by_scenario.is_empty() {
        out.push_str("<h2>Trends</h2>\n");
    }
    for (scenario, runs) in &by_scenario {
        let mut shown: Vec<&History> = runs.iter().take(CHART_RUNS).copied().collect();
        shown.reverse();
        let _ = write!(
            out,
            "<h3>{}</h3>\n<figure>{}</figure>\n",
            escape(scenario),
            trend::chart(scenario, &shown, runs.len())
        );
    }
    out.push_str(
        "<h2>Runs</h2>\n<table id=\"runs\"><thead><tr><th>started (UTC)</th><th>scenario</th><th>verdict</th>\
         <th>capacity (viewers)</th><th class=\"n\">dashboard load p95 ms</th><th class=\"n\">panel query p95 ms</th>\
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
                "<tr class=\"{class}\"><td>{when}</td><td>{scenario}</td><td class=\"v\">{verdict}</td><td>{capacity}</td>\
                 <td class=\"n\">{load}</td><td class=\"n\">{panel}</td><td class=\"n\">{errors}</td><td>{baseline}</td><td>{link}</td></tr>",
                class = outcome.label().replace(' ', "-"),
                when = when(Some(h.started_at)),
                scenario = escape(&h.scenario),
                load = ms(h.dashboard_load_p95_ms),
                panel = ms(h.panel_query_p95_ms),
                errors = crate::report::percent(h.error_rate),
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
                "<tr class=\"incomplete\"><td>{}</td><td>{}</td><td class=\"v\" colspan=\"6\">incomplete: {}</td><td>{link}</td></tr>",
                when(*started_at),
                scenario.as_deref().map_or("—".into(), escape),
                why.label(),
            );
        }
        Folder::NotARun => {}
    }
}
