//! The Markdown summary (`--markdown FILE`): a pull-request or merge-request
//! comment in GitHub-flavoured Markdown.
//!
//! A passing run is its verdict line and one collapsed `<details>` block; any
//! other shows its answers (broke first, capacity, knee, ladder stop,
//! degradation, recovery, faults) and the failed or regressed figures first.
//! The block holds one table of the judged figures (each SLO on each hold
//! window, and the figures `[regression]` judges against the baseline: value,
//! bound and, with a baseline, its value, the change and how sure the gate is)
//! and the baseline runs by folder name. URLs are code spans (GitHub links
//! none) and local absolute paths shrink to their last part. Links to the
//! report and the CI job, as placeholders for CI to fill ([`REPORT_URL`],
//! [`JOB_URL`]), only with `--markdown-links`. Rendered from the same
//! [`Summary`] as the page, so they cannot disagree.

use std::fmt::Write as _;

use super::findings::{Degradation, Findings};
use super::summary::{Delta, SloResult, SloVerdict, Summary, Verdict};
use crate::runfolder::{RequestClass, SloMetric};

/// Placeholder for the address of the run's `report.html` (CI replaces it).
pub const REPORT_URL: &str = "{{REPORT_URL}}";
/// Placeholder for the address of the CI job that ran dashload.
pub const JOB_URL: &str = "{{JOB_URL}}";
/// The most rows the figures table shows (a comment must stay readable).
pub const MAX_ROWS: usize = 40;

/// The Markdown text of the summary. `links`: end it with links to the report
/// and the CI job as placeholders ([`REPORT_URL`], [`JOB_URL`]) for CI to fill.
///
/// A passing run is its verdict line and one collapsed `<details>` block; a
/// run that failed, regressed or could not be judged shows its answers and
/// the figures that failed or regressed, with everything else collapsed.
pub fn markdown(s: &Summary, links: bool) -> String {
    let mut m = String::new();
    let r = &s.run;
    let _ = writeln!(m, "### dashload: {} — {}\n", cell(&r.scenario), headline(s));
    let passed = s.verdict == Verdict::Pass && !s.regression && !r.interrupted;
    let answers = answers(s);
    let rows = figure_rows(s);
    if passed {
        let held = match &s.partly_judged {
            None => "Every SLO held on every hold window",
            Some(_) => "Every SLO held on the hold windows with the samples to judge it",
        };
        let baseline = s
            .baseline
            .as_ref()
            .map(|b| format!("; {}", b.verdict))
            .unwrap_or_default();
        let _ = writeln!(m, "{}\n", cell(&format!("{held}{baseline}.")));
        let _ = writeln!(
            m,
            "<details><summary>Capacity, knee and the {} judged figures</summary>\n",
            rows.len()
        );
        m.push_str(&answers);
    } else {
        m.push_str(&answers);
        let bad: Vec<&Row> = rows.iter().filter(|r| rank(r) < 2).collect();
        if !bad.is_empty() {
            table(&mut m, s, &bad);
        }
        let _ = writeln!(
            m,
            "<details><summary>Every judged figure ({}), the run and its baseline</summary>\n",
            rows.len()
        );
    }
    let _ = writeln!(
        m,
        "Started {} UTC, ran {:.0} s, peak {} viewers, target {} {}.\n",
        r.started_at.format("%Y-%m-%d %H:%M"),
        r.duration_s,
        r.peak_viewers,
        cell(&r.target.kind),
        cell(&r.target.url)
    );
    if let Some(live) = live_line(s.live.as_ref()) {
        let _ = writeln!(m, "{}\n", cell(&live));
    }
    if rows.is_empty() {
        m.push_str("No figure was judged (no SLO on a hold window, no baseline).\n\n");
    } else {
        table(&mut m, s, &rows.iter().collect::<Vec<_>>());
    }
    baselines(&mut m, s);
    m.push_str("</details>\n");
    if links {
        let _ = writeln!(m, "\n[Full report]({REPORT_URL}) · [CI job]({JOB_URL})");
    }
    m
}

/// The answers a reviewer looks for, one paragraph each: why it was not
/// judged, capacity, knee, the ladder's stop, recovery, past capacity, faults
/// judged on their recovery.
fn answers(s: &Summary) -> String {
    let mut m = String::new();
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(m, "**{label}:** {}\n", cell(text));
    };
    if let Some(why) = &s.unmeasured {
        line("Not judged", why);
    }
    if let Some(which) = &s.partly_judged {
        line(
            "Partly judged",
            &format!("judged on the holds with enough samples; {which}"),
        );
    }
    let f = Findings::of(s);
    line("Broke first", &f.first_break.sentence());
    line("Capacity", &f.capacity.sentence);
    line("Knee", &f.knee.sentence());
    if let Some(stop) = &s.run.ladder_stop {
        line(
            "Ladder stop",
            &format!("{} ({} viewers): {}", stop.step, stop.viewers, stop.reason),
        );
    }
    if let Degradation::Assessed { .. } = f.degradation {
        line("Past capacity", &f.degradation.sentence());
    }
    if let Some(recovery) = &f.recovery {
        line("Recovery", &recovery.sentence);
    }
    // Faults whose recovery is a verdict; the others are in the full report.
    for f in s.faults.iter().filter(|f| f.verdict.is_some()) {
        line(&format!("Fault {}", f.index), &f.line());
    }
    m
}

/// "✅ PASS", "❌ FAIL · ⚠️ REGRESSION", …
fn headline(s: &Summary) -> String {
    let mut words = vec![match s.verdict {
        Verdict::Pass => "✅ PASS",
        Verdict::Fail => "❌ FAIL",
        Verdict::NotJudged if s.unmeasured.is_some() => "❌ NOT JUDGED",
        Verdict::NotJudged => "NOT JUDGED (nothing to judge)",
    }];
    if s.regression {
        words.push("⚠️ REGRESSION");
    }
    if s.run.interrupted {
        words.push("⏹ INTERRUPTED");
    }
    words.join(" · ")
}

/// One row of the figures table.
struct Row<'a> {
    window: &'a str,
    class: RequestClass,
    metric: SloMetric,
    value: Option<f64>,
    slo: Option<&'a SloResult>,
    delta: Option<&'a Delta>,
}

/// The delta of a judged figure's name, as `baseline::class_deltas` names it.
fn delta_figure(class: RequestClass, metric: SloMetric) -> String {
    match metric {
        SloMetric::ErrorRate => format!("{} error rate", class.label()),
        m => format!("{} {} ms", class.label(), m.key()),
    }
}

/// Every judged figure: each SLO on a hold window, then the gate's other
/// figures; failures and regressions first.
fn figure_rows(s: &Summary) -> Vec<Row<'_>> {
    let deltas: Vec<&Delta> = s
        .baseline
        .iter()
        .flat_map(|b| b.windows.iter())
        .filter(|d| d.judged)
        .collect();
    let find = |window: &str, class, metric| {
        let name = delta_figure(class, metric);
        deltas
            .iter()
            .copied()
            .find(|d| d.scope == window && d.figure == name)
    };
    let mut rows: Vec<Row> = s
        .slos
        .iter()
        .filter(|r| r.judged)
        .map(|r| Row {
            window: &r.window,
            class: r.class,
            metric: r.metric,
            value: r.observed,
            slo: Some(r),
            delta: find(&r.window, r.class, r.metric),
        })
        .collect();
    // Figures judged against the baseline that have no SLO of their own.
    for d in &deltas {
        let known = rows
            .iter()
            .any(|r| r.delta.is_some_and(|x| std::ptr::eq(x, *d)));
        if known {
            continue;
        }
        let parsed = RequestClass::ALL.iter().find_map(|c| {
            [
                SloMetric::P50,
                SloMetric::P95,
                SloMetric::P99,
                SloMetric::ErrorRate,
            ]
            .into_iter()
            .find(|metric| delta_figure(*c, *metric) == d.figure)
            .map(|metric| (*c, metric))
        });
        if let Some((class, metric)) = parsed {
            rows.push(Row {
                window: &d.scope,
                class,
                metric,
                value: d.current,
                slo: None,
                delta: Some(d),
            });
        }
    }
    rows.sort_by_key(rank);
    rows
}

/// 0: failed and regressed, 1: either, 2: neither.
fn rank(r: &Row) -> u8 {
    let failed = r.slo.is_some_and(|x| x.verdict == SloVerdict::Fail);
    let regressed = r.delta.is_some_and(|d| d.regression);
    u8::from(!failed) + u8::from(!regressed)
}

/// The figures table, at most [`MAX_ROWS`] rows; the baseline's columns only
/// with a baseline (a column of "—" says nothing).
fn table(m: &mut String, s: &Summary, rows: &[&Row]) {
    let with_baseline = s.baseline.is_some();
    if with_baseline {
        m.push_str("| window | figure | value | SLO | baseline | change | sure worse |\n");
        m.push_str("|---|---|---:|---|---:|---:|---:|\n");
    } else {
        m.push_str("| window | figure | value | SLO |\n");
        m.push_str("|---|---|---:|---|\n");
    }
    for r in rows.iter().take(MAX_ROWS) {
        let unit = |v: Option<f64>| v.map_or("—".into(), |v| value(r.metric, v));
        let slo = match r.slo {
            Some(x) => format!(
                "≤ {} {}",
                value(r.metric, x.max),
                match x.verdict {
                    SloVerdict::Pass => "✅",
                    SloVerdict::Fail => "❌",
                    SloVerdict::NoData => "not judged",
                }
            ),
            None => "—".into(),
        };
        let _ = write!(
            m,
            "| {} | {} | {} | {slo} |",
            cell(r.window),
            cell(&format!("{} {}", r.class.label(), r.metric.label())),
            unit(r.value),
        );
        if with_baseline {
            let (base, change, sure) = match r.delta {
                Some(d) => (unit(d.baseline), change(r.metric, d), sureness(d)),
                None => ("—".into(), "—".into(), "—".into()),
            };
            let _ = write!(m, " {base} | {change} | {sure} |");
        }
        m.push('\n');
    }
    if rows.len() > MAX_ROWS {
        let _ = writeln!(
            m,
            "\n… and {} more in the full report.",
            rows.len() - MAX_ROWS
        );
    }
    m.push('\n');
}

/// A figure in its unit: ms, % or ms/point.
fn value(metric: SloMetric, v: f64) -> String {
    match metric {
        SloMetric::ErrorRate => format!("{:.2} %", v * 100.0),
        SloMetric::MsPerPoint => format!("{v:.4} ms/point"),
        _ => format!("{v:.1} ms"),
    }
}

/// "+12.3 ms (+8.0 %)", "+1.20 pp".
fn change(metric: SloMetric, d: &Delta) -> String {
    let Some(c) = d.change else {
        return "—".into();
    };
    match metric {
        SloMetric::ErrorRate => format!("{:+.2} pp", c * 100.0),
        _ => match d.change_pct {
            Some(p) => format!("{c:+.1} ms ({p:+.1} %)"),
            None => format!("{c:+.1} ms"),
        },
    }
}

/// How sure the gate is the figure worsened beyond its tolerance; why it
/// was not judged otherwise.
fn sureness(d: &Delta) -> String {
    match (d.sure, &d.note) {
        (Some(sure), _) => format!(
            "{:.1} %{}",
            sure * 100.0,
            match (d.regression, d.detectable_pct, d.detectable) {
                (true, _, _) => " ⚠️ regressed".to_string(),
                // What a pass here could have caught.
                (false, Some(pct), _) => format!(" (would catch {pct:+.0} %)"),
                (false, None, Some(x)) => format!(" (would catch {:+.2} pp)", x * 100.0),
                _ => String::new(),
            }
        ),
        (None, Some(_)) => "not judged".into(),
        (None, None) => "—".into(),
    }
}

fn baselines(m: &mut String, s: &Summary) {
    match &s.baseline {
        None => {
            m.push_str("**Baseline:** none: judged on its SLOs alone.");
            for note in s.inputs.notes.iter().filter(|n| n.starts_with("baseline")) {
                let _ = write!(m, " {}", cell(note));
            }
            m.push_str("\n\n");
        }
        Some(b) => {
            let runs: Vec<(&str, String)> = if b.runs.is_empty() {
                vec![(
                    b.dir.as_str(),
                    b.started_at.format("%Y-%m-%d %H:%M").to_string(),
                )]
            } else {
                b.runs
                    .iter()
                    .map(|r| {
                        (
                            r.dir.as_str(),
                            r.started_at.format("%Y-%m-%d %H:%M").to_string(),
                        )
                    })
                    .collect()
            };
            if runs.len() > 1 {
                let _ = writeln!(
                    m,
                    "**Baseline:** the median of {} runs (the gate pools their samples):",
                    runs.len()
                );
            } else {
                m.push_str("**Baseline:**\n");
            }
            if let Some(how) = &b.selection {
                let _ = writeln!(m, "chosen: {}.", cell(how));
            }
            m.push('\n');
            for (dir, started) in runs {
                let _ = writeln!(m, "- `{}` (started {started} UTC)", code(&folder_name(dir)));
            }
            let _ = writeln!(
                m,
                "\n{}\n",
                if b.regressions.is_empty() {
                    format!("{}.", cell(&super::format::capitalised(&b.verdict)))
                } else {
                    format!("**{} regressed figure(s).**", b.regressions.len())
                }
            );
        }
    }
}

/// A run folder by its name alone: the path it was read from is the
/// reader's machine's, which a comment must not publish.
fn folder_name(dir: &str) -> String {
    let trimmed = dir.trim_end_matches('/');
    std::path::Path::new(trimmed)
        .file_name()
        .map_or(trimmed.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Text safe in a table cell or a line: `|` escaped, line breaks and HTML
/// specials neutralised, and each URL in a code span, so that GitHub links
/// no address (a loopback one least of all) and absolute paths in it
/// (`/home/…/reports/x`) shrink to their last part.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("http://").or_else(|| rest.find("https://")) {
        let at = [rest.find("http://"), rest.find("https://")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(at);
        out.push_str(&plain(&rest[..at]));
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '|' | '<' | '>' | '`' | ')' | ','))
            .map_or(rest.len(), |e| at + e);
        let _ = write!(out, "`{}`", code(&rest[at..end]).replace('|', "\\|"));
        rest = &rest[end..];
    }
    out.push_str(&plain(rest));
    out
}

/// [`cell`] for text without URLs: escaped, and every absolute path of this
/// machine (one that exists here: a reports folder, a baseline) by its last part.
fn plain(text: &str) -> String {
    let text = text
        .split(' ')
        .map(|word| {
            let path = word.trim_end_matches([',', ';', ':', ')', '.']);
            let local =
                path.starts_with('/') && path.len() > 1 && std::path::Path::new(path).exists();
            match local {
                true => word.replacen(path, &folder_name(path), 1),
                false => word.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' | '\r' | '\t' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: backticks would end it early.
fn code(text: &str) -> String {
    text.replace('`', "'").replace(['\n', '\r'], " ")
}

/// The Markdown summary's Live paragraph: the console line's figures.
fn live_line(live: Option<&super::live::LiveSummary>) -> Option<String> {
    let line = super::console::live_line(live)?;
    let figures = line.trim_start_matches("live").trim_start();
    Some(format!("Live: {figures}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic::{write_run, Synthetic};
    use crate::report::{render_run, ReportOptions};
    use crate::runfolder::files;

    /// The rows of the full table (in the details block): cells split on unescaped `|`.
    fn table(md: &str) -> Vec<Vec<String>> {
        md.lines()
            .skip_while(|l| !l.starts_with("<details>"))
            .skip_while(|l| !l.starts_with("| window"))
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let mut cells = Vec::new();
                let mut cur = String::new();
                let mut chars = l.trim().chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' if chars.peek() == Some(&'|') => {
                            cur.push('|');
                            chars.next();
                        }
                        '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
                        c => cur.push(c),
                    }
                }
                cells.remove(0);
                cells
            })
            .collect()
    }

    #[test]
    fn cells_escape_pipes_line_breaks_and_html() {
        assert_eq!(cell("a|b\nc<d>&"), "a\\|b c&lt;d&gt;&amp;");
    }

    #[test]
    fn a_run_against_a_slower_baseline_lists_every_judged_figure_with_its_delta() {
        let dir = tempfile::tempdir().unwrap();
        let (base, run) = (dir.path().join("base"), dir.path().join("run"));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        write_run(&base, 20_000, 42).unwrap();
        Synthetic {
            latency_factor: 1.5,
            ..Synthetic::new(20_000, 42)
        }
        .write(&run)
        .unwrap();
        let out_file = dir.path().join("out/deep/summary.md");
        let out = render_run(
            &run,
            &ReportOptions {
                baselines: vec![base.clone()],
                markdown: Some(out_file.clone()),
                markdown_links: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(out.regression);
        let md = std::fs::read_to_string(&out_file).unwrap();
        let s: Summary =
            serde_json::from_slice(&std::fs::read(run.join(files::SUMMARY)).unwrap()).unwrap();
        assert!(md.starts_with("### dashload: synthetic — "), "{md}");
        assert!(md.contains("REGRESSION"), "{md}");
        assert!(md.contains(&format!("[Full report]({REPORT_URL})")));
        assert!(md.contains(&format!("[CI job]({JOB_URL})")));
        // The baseline by its folder's name, never the path it was read from.
        assert!(md.contains("- `base` (started "), "{md}");
        assert!(!md.contains(&dir.path().display().to_string()), "{md}");
        let capacity = s.capacity_bracket.as_ref().unwrap().sentence();
        assert!(md.contains(&cell(&capacity)), "{md}");

        let rows = table(&md);
        assert_eq!(
            rows[0],
            [
                "window",
                "figure",
                "value",
                "SLO",
                "baseline",
                "change",
                "sure worse"
            ]
        );
        assert!(rows.iter().all(|r| r.len() == 7), "{rows:?}");
        // One row per SLO judged on a hold window, then the gate's other figures.
        let judged = s.slos.iter().filter(|r| r.judged).count();
        let with_slo = rows[2..].iter().filter(|r| r[3] != "—").count();
        assert_eq!(with_slo, judged, "{md}");
        let gated = s
            .baseline
            .as_ref()
            .unwrap()
            .windows
            .iter()
            .filter(|d| d.judged)
            .count();
        assert!(rows.len() - 2 >= gated, "{md}");
        // The panel-query p95 of a hold: its value, bound, baseline and sureness.
        let p95 = s
            .baseline
            .as_ref()
            .unwrap()
            .windows
            .iter()
            .find(|d| d.regression && d.figure == "panel query p95 ms")
            .unwrap();
        let row = rows
            .iter()
            .find(|r| r[0] == p95.scope && r[1] == "panel query p95")
            .unwrap();
        assert_eq!(row[2], format!("{:.1} ms", p95.current.unwrap()));
        assert_eq!(row[4], format!("{:.1} ms", p95.baseline.unwrap()));
        assert!(row[3].starts_with("≤ 250.0 ms"), "{row:?}");
        assert!(row[5].starts_with('+') && row[5].contains(" %)"), "{row:?}");
        assert_eq!(
            row[6],
            format!("{:.1} % ⚠️ regressed", p95.sure.unwrap() * 100.0)
        );
    }

    #[test]
    fn no_regression_says_what_the_gate_could_have_caught() {
        let dir = tempfile::tempdir().unwrap();
        let (base, run) = (dir.path().join("base"), dir.path().join("run"));
        std::fs::create_dir_all(&base).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        write_run(&base, 20_000, 42).unwrap();
        write_run(&run, 20_000, 43).unwrap();
        let out_file = dir.path().join("summary.md");
        let out = render_run(
            &run,
            &ReportOptions {
                baselines: vec![base],
                markdown: Some(out_file.clone()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!out.regression);
        let md = std::fs::read_to_string(&out_file).unwrap();
        assert!(!md.contains("\nNo regression.\n"), "{md}");
        let line = md
            .lines()
            .find(|l| l.starts_with("No regression; "))
            .unwrap_or_else(|| panic!("{md}"));
        assert!(
            line.contains("% on panel query p95") && line.ends_with(" would have been caught."),
            "{line}"
        );
    }

    #[test]
    fn without_a_baseline_it_says_so_and_names_stay_in_their_cells() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        write_run(&run, 5_000, 7).unwrap();
        let mut meta = crate::runfolder::RunMeta::load(&run).unwrap();
        meta.scenario = "a|b <c>".into();
        for w in &mut meta.windows {
            w.name = format!("{} | x", w.name);
        }
        crate::runfolder::write_atomic(
            &run.join(files::RUN_META),
            &serde_json::to_vec(&meta).unwrap(),
        )
        .unwrap();
        let out_file = dir.path().join("summary.md");
        render_run(
            &run,
            &ReportOptions {
                markdown: Some(out_file.clone()),
                baseline_selection: Some("no passed run of x: judged on its SLOs alone".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let md = std::fs::read_to_string(&out_file).unwrap();
        assert!(md.starts_with("### dashload: a\\|b &lt;c&gt; — "), "{md}");
        assert!(
            md.contains(
                "**Baseline:** none: judged on its SLOs alone. baseline: no passed run of x"
            ),
            "{md}"
        );
        let rows = table(&md);
        assert!(rows.len() > 2, "{md}");
        // Without a baseline, no baseline columns (a column of "—" says nothing).
        assert!(rows.iter().all(|r| r.len() == 4), "{rows:?}");
        assert!(rows[2..].iter().all(|r| r[0].ends_with(" | x")), "{rows:?}");
    }

    /// The Markdown of a synthetic run of `rows` requests, changed by `edit`.
    fn markdown_of(rows: u64, links: bool, edit: impl FnOnce(&mut Summary)) -> String {
        let dir = tempfile::tempdir().unwrap();
        write_run(dir.path(), rows, 11).unwrap();
        let meta = crate::runfolder::RunMeta::load(dir.path()).unwrap();
        let (mut s, _) = crate::report::summarise_with_samples(dir.path(), &meta, false).unwrap();
        edit(&mut s);
        markdown(&s, links)
    }

    /// Mark every SLO result passed: a passing run.
    fn passing(s: &mut Summary) {
        for r in &mut s.slos {
            r.verdict = SloVerdict::Pass;
        }
        s.verdict = Verdict::Pass;
        s.slo_failed = false;
        s.unmeasured = None;
        s.partly_judged = None;
    }

    #[test]
    fn a_passing_run_is_a_verdict_line_and_one_collapsed_block() {
        let md = markdown_of(6_000, false, passing);
        let lines: Vec<&str> = md.lines().filter(|l| !l.is_empty()).collect();
        assert!(
            lines[0].starts_with("### dashload: synthetic — ✅ PASS"),
            "{md}"
        );
        assert!(
            lines[1].starts_with("Every SLO held on every hold window"),
            "{md}"
        );
        assert!(lines[2].starts_with("<details><summary>"), "{md}");
        assert_eq!(*lines.last().unwrap(), "</details>", "{md}");
        assert_eq!(md.matches("<details>").count(), 1, "{md}");
        // Knee and capacity inside; no placeholder unless asked for.
        assert!(md.contains("**Knee:** "), "{md}");
        assert!(md.contains("**Capacity:** "), "{md}");
        assert!(!md.contains("{{"), "{md}");
        let linked = markdown_of(6_000, true, passing);
        assert!(linked.trim_end().ends_with(&format!(
            "[Full report]({REPORT_URL}) · [CI job]({JOB_URL})"
        )));
    }

    #[test]
    fn a_failed_run_shows_its_answers_and_failures_before_the_collapsed_rest() {
        let md = markdown_of(6_000, false, |s| {
            let r = s.slos.iter_mut().find(|r| r.judged).unwrap();
            r.verdict = SloVerdict::Fail;
            s.verdict = Verdict::Fail;
            s.run.ladder_stop = Some(crate::runfolder::LadderStop {
                step: "step 3".into(),
                viewers: 100,
                reason: "dashboard load p95 4200 ms > 4000 ms".into(),
                at_ms: 1,
                refined_until_ms: None,
                judged_from_ms: None,
            });
        });
        let open = md.find("<details>").expect("a details block");
        let visible = &md[..open];
        for answer in [
            "**Broke first:** ",
            "**Capacity:** ",
            "**Knee:** ",
            "**Ladder stop:** step 3 (100 viewers): ",
        ] {
            assert!(
                visible.contains(answer),
                "{answer} missing before the details:\n{md}"
            );
        }
        // The visible table holds only failed (or regressed) figures.
        let failed_rows = visible
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| window"))
            .count();
        assert!(failed_rows > 0, "{md}");
        assert!(
            visible
                .lines()
                .filter(|l| l.starts_with("| ") && !l.starts_with("| window"))
                .all(|l| l.contains("❌")),
            "{md}"
        );
    }

    #[test]
    fn loopback_addresses_and_local_paths_are_never_links_or_published() {
        let here = tempfile::tempdir().unwrap();
        let reports = here.path().join("reports");
        std::fs::create_dir_all(&reports).unwrap();
        let note = format!(
            "baseline: the newest passed run of x: none under {}: judged on its SLOs alone",
            reports.display()
        );
        let md = markdown_of(4_000, false, |s| {
            s.run.target.url = "http://127.0.0.1:8086".into();
            s.inputs.notes.push(note.clone());
        });
        assert!(md.contains("`http://127.0.0.1:8086`"), "{md}");
        // Outside code spans, no address GitHub would autolink.
        let outside: String = md.split('`').step_by(2).collect();
        assert!(!outside.contains("http://"), "{md}");
        assert!(!md.contains(&here.path().display().to_string()), "{md}");
        assert!(md.contains("none under reports: judged"), "{md}");
        assert_eq!(
            cell("see http://[::1]:3000/x|y, then"),
            "see `http://[::1]:3000/x`\\|y, then"
        );
    }
}
