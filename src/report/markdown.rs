//! The Markdown summary (`--markdown FILE`): a pull-request or merge-request
//! comment in GitHub-flavoured Markdown.
//!
//! A verdict line, the capacity bracket, one table of the judged figures (each
//! SLO on each hold window, and the figures `[regression]` judges against the
//! baseline: value, bound, baseline value, change and how sure the gate is),
//! the baseline runs used, and links left as placeholders for CI to fill:
//! [`REPORT_URL`] (the run's `report.html`) and [`JOB_URL`] (the CI job).
//! Rendered from the same [`Summary`] as the page, so they cannot disagree.

use std::fmt::Write as _;

use super::summary::{Delta, SloResult, SloVerdict, Summary, Verdict};
use crate::runfolder::{RequestClass, SloMetric};

/// Placeholder for the address of the run's `report.html` (CI replaces it).
pub const REPORT_URL: &str = "{{REPORT_URL}}";
/// Placeholder for the address of the CI job that ran dashload.
pub const JOB_URL: &str = "{{JOB_URL}}";
/// The most rows the figures table shows (a comment must stay readable).
pub const MAX_ROWS: usize = 40;

/// The Markdown text of the summary.
pub fn markdown(s: &Summary) -> String {
    let mut m = String::new();
    let r = &s.run;
    let _ = writeln!(m, "### dashload: {} — {}\n", cell(&r.scenario), headline(s));
    let _ = writeln!(
        m,
        "Started {} UTC, ran {:.0} s, peak {} viewers, target {} {}.\n",
        r.started_at.format("%Y-%m-%d %H:%M"),
        r.duration_s,
        r.peak_viewers,
        cell(&r.target.kind),
        cell(&r.target.url)
    );
    if let Some(why) = &s.unmeasured {
        let _ = writeln!(m, "**Not judged:** {}\n", cell(why));
    }
    if let Some(which) = &s.partly_judged {
        let _ = writeln!(
            m,
            "Judged on the holds with enough samples; {}\n",
            cell(which)
        );
    }
    let capacity = match &s.capacity_bracket {
        Some(b) => match b.headroom_sentence() {
            Some(h) => format!("{}; {h}", b.sentence()),
            None => b.sentence(),
        },
        None => s
            .capacity
            .map_or("not found".into(), |c| format!("{c} viewers")),
    };
    let _ = writeln!(m, "**Capacity:** {}\n", cell(&capacity));
    if let Some(d) = &s.degradation {
        let _ = writeln!(m, "**Past capacity:** {}\n", cell(&d.verdict));
    }
    if let Some(line) = super::recovery_line(s) {
        let _ = writeln!(m, "**Recovery:** {}\n", cell(&line));
    }
    // Faults whose recovery is a verdict; the others are in the full report.
    for f in s.faults.iter().filter(|f| f.verdict.is_some()) {
        let _ = writeln!(m, "**Fault {}:** {}\n", f.index, cell(&f.line()));
    }
    figures_table(&mut m, s);
    baselines(&mut m, s);
    let _ = writeln!(m, "[Full report]({REPORT_URL}) · [CI job]({JOB_URL})");
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

fn figures_table(m: &mut String, s: &Summary) {
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
    if rows.is_empty() {
        m.push_str("No figure was judged (no SLO on a hold window, no baseline).\n\n");
        return;
    }
    // Failures and regressions first, so a cut table keeps them.
    let rank = |r: &Row| {
        let failed = r.slo.is_some_and(|x| x.verdict == SloVerdict::Fail);
        let regressed = r.delta.is_some_and(|d| d.regression);
        u8::from(!failed) + u8::from(!regressed)
    };
    rows.sort_by_key(|r| rank(r));
    m.push_str("| window | figure | value | SLO | baseline | change | sure worse |\n");
    m.push_str("|---|---|---:|---|---:|---:|---:|\n");
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
        let (base, change, sure) = match r.delta {
            Some(d) => (unit(d.baseline), change(r.metric, d), sureness(d)),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {slo} | {base} | {change} | {sure} |",
            cell(r.window),
            cell(&format!("{} {}", r.class.label(), metric_word(r.metric))),
            unit(r.value),
        );
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

fn metric_word(metric: SloMetric) -> &'static str {
    match metric {
        SloMetric::ErrorRate => "error rate",
        SloMetric::MsPerPoint => "ms per point",
        m => m.key(),
    }
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
                let _ = writeln!(m, "- `{}` (started {started} UTC)", code(dir));
            }
            let _ = writeln!(
                m,
                "\n{}\n",
                if b.regressions.is_empty() {
                    format!("{}.", cell(&super::html::capitalised(&b.verdict)))
                } else {
                    format!("**{} regressed figure(s).**", b.regressions.len())
                }
            );
        }
    }
}

/// Text safe in a table cell or a line: `|` escaped, line breaks and HTML
/// specials neutralised.
pub fn cell(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::synthetic::{write_run, Synthetic};
    use crate::report::{render_run, ReportOptions};
    use crate::runfolder::files;

    /// The rows of the first table: cells split on unescaped `|`.
    fn table(md: &str) -> Vec<Vec<String>> {
        md.lines()
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
        assert!(md.contains(&format!("`{}`", base.display())), "{md}");
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
        assert!(rows.iter().all(|r| r.len() == 7), "{rows:?}");
        assert!(rows[2..].iter().all(|r| r[0].ends_with(" | x")), "{rows:?}");
    }
}
