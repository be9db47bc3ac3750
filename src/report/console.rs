//! The end-of-run text on the terminal: the answers first, then the details.
//!
//! The answers (verdict, what broke first, capacity, knee, regression,
//! recovery, degradation, where the report is) fit in [`ANSWER_ROWS`] rows of a
//! [`WIDTH`]-column terminal, so they are on screen when the run ends whatever
//! came before. An answer too long for its rows is cut with `…` and repeated in
//! full among the details. The details (inputs, per-class table, every SLO
//! row, warnings, notes) follow; no line of either is longer than
//! [`MAX_LINE`] characters.

use std::fmt::Write as _;
use std::path::Path;

use unicode_width::UnicodeWidthStr;

use crate::runfolder::SloMetric;

use super::findings::{Findings, Recovery};
use super::format::percent;
use super::summary::{Comparison, SloResult, SloVerdict, Summary, Verdict};

/// The terminal width the answers are laid out for.
pub const WIDTH: usize = 80;
/// The most rows the answers take at [`WIDTH`] columns.
pub const ANSWER_ROWS: usize = 15;
/// The longest line of the whole text, in columns.
pub const MAX_LINE: usize = 160;
/// The answers' label column: the longest label and two spaces.
const LABEL: usize = 13;
/// Continuation rows of a detail line start this far in.
const DETAIL_INDENT: usize = 4;

/// One answer: its label and its text, one logical line.
struct Answer {
    label: &'static str,
    text: String,
}

/// The whole end-of-run text of `s`, whose page is `html`.
pub fn text(s: &Summary, html: &Path) -> String {
    let answers = answers(s, html);
    let rows = layout(&answers);
    let mut t = String::new();
    let mut cut = Vec::new();
    for (answer, rows) in answers.iter().zip(rows) {
        if rows.cut {
            cut.push(answer);
        }
        for row in rows.rows {
            let _ = writeln!(t, "{row}");
        }
    }
    let _ = writeln!(t, "\n{}", rule("details"));
    for answer in cut {
        detail(
            &mut t,
            &format!("{} (in full): {}", answer.label, answer.text),
        );
    }
    for line in details(s) {
        detail(&mut t, &line);
    }
    t
}

/// `── details ─────…` across [`WIDTH`] columns.
fn rule(title: &str) -> String {
    let head = format!("── {title} ");
    let fill = WIDTH.saturating_sub(head.width());
    format!("{head}{}", "─".repeat(fill))
}

/// Append a detail line, wrapped at [`MAX_LINE`] columns.
fn detail(t: &mut String, line: &str) {
    for row in wrap(line, MAX_LINE, DETAIL_INDENT) {
        let _ = writeln!(t, "{row}");
    }
}

/// The answers, in the order a reader asks them.
fn answers(s: &Summary, html: &Path) -> Vec<Answer> {
    let f = Findings::of(s);
    let a = |label, text| Answer { label, text };
    vec![
        a("verdict", verdict(s)),
        a("broke first", f.first_break.sentence()),
        a("capacity", f.capacity.sentence.clone()),
        a("knee", f.knee.sentence()),
        a("regression", regression(s)),
        a("recovery", Recovery::sentence_of(&f)),
        a("degradation", f.degradation.sentence()),
        a("report", html.display().to_string()),
    ]
}

/// The rows an answer gets, and whether its text was cut to fit them.
struct Rows {
    rows: Vec<String>,
    cut: bool,
}

/// Lay the answers out in at most [`ANSWER_ROWS`] rows: each gets one row,
/// then the rows left go to the answers that need more, in order; an answer
/// still too long is cut with `…` on its last row. The report's path is
/// never cut (a reader copies it).
fn layout(answers: &[Answer]) -> Vec<Rows> {
    let path = answers.iter().position(|a| a.label == "report");
    let wrapped: Vec<Vec<String>> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let line = format!("{:<LABEL$}{}", a.label, a.text);
            match Some(i) == path {
                // One line, label and path together (scripts read it so), however long.
                true => vec![line],
                false => wrap(&line, WIDTH, LABEL),
            }
        })
        .collect();
    let mut budget: Vec<usize> = vec![1; wrapped.len()];
    if let Some(i) = path {
        // The terminal shows a long path on as many rows as it needs.
        budget[i] = wrapped[i][0].width().div_ceil(WIDTH).max(1);
    }
    let mut left = ANSWER_ROWS.saturating_sub(budget.iter().sum());
    for (i, rows) in wrapped.iter().enumerate() {
        let more = rows.len().saturating_sub(budget[i]);
        let given = more.min(left);
        budget[i] += given;
        left -= given;
    }
    wrapped
        .into_iter()
        .zip(budget)
        .enumerate()
        .map(|(i, (mut rows, n))| {
            let cut = Some(i) != path && rows.len() > n;
            if cut {
                rows.truncate(n);
                let last = rows.last_mut().expect("at least one row");
                while last.width() + 1 > WIDTH {
                    last.pop();
                }
                last.push('…');
            }
            Rows { rows, cut }
        })
        .collect()
}

/// `line` broken at spaces into rows of at most `width` columns, each row
/// after the first indented by `indent`. A word longer than a row (a path)
/// stays whole on a row of its own.
fn wrap(line: &str, width: usize, indent: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    let pad = " ".repeat(indent);
    // Keep the line's own leading spaces (table rows, indented lists).
    let lead = line.len() - line.trim_start_matches(' ').len();
    row.push_str(&line[..lead]);
    for word in glue_units(&line[lead..]) {
        let word = word.as_str();
        let fresh = row.trim().is_empty();
        let needed = if fresh {
            word.width()
        } else {
            1 + word.width()
        };
        if !fresh && row.width() + needed > width {
            rows.push(std::mem::replace(&mut row, pad.clone()));
            row.push_str(word);
        } else {
            if !fresh {
                row.push(' ');
            }
            row.push_str(word);
        }
    }
    rows.push(row);
    rows.into_iter().map(|r| r.trim_end().to_string()).collect()
}

/// The words of `line`, a unit kept with the number before it (`5000 ms`,
/// `1.00 %`) so that no row starts with a bare unit.
fn glue_units(line: &str) -> Vec<String> {
    const UNITS: [&str; 4] = ["ms", "%", "s", "×"];
    let mut words: Vec<String> = Vec::new();
    for word in line.split(' ') {
        let unit = UNITS.contains(&word.trim_end_matches([',', ';', ')', '.', ':']));
        match words.last_mut() {
            Some(last) if unit && last.ends_with(|c: char| c.is_ascii_digit()) => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    words
}

/// The verdict, with why when it is not a pass.
fn verdict(s: &Summary) -> String {
    format!(
        "{} ({}){}",
        s.verdict.label(),
        s.run.scenario,
        verdict_reason(s)
    )
}

/// What follows the verdict's word: regression, interruption, and why.
fn verdict_reason(s: &Summary) -> String {
    let mut v = String::new();
    if s.regression {
        v += ", REGRESSION";
    }
    if s.run.interrupted {
        v += ", INTERRUPTED (the run was cut short)";
    }
    match (s.verdict, &s.unmeasured) {
        (Verdict::NotJudged, Some(why)) => v += &format!(": {why}"),
        (Verdict::NotJudged, None) => v += ": nothing to judge (no hold window or no SLO)",
        (Verdict::Fail, _) => {
            if let Some(b) = &Findings::of(s).worst_hold_failure {
                v += &format!(": {}", b.sentence());
            }
        }
        (Verdict::Pass, _) => match &s.partly_judged {
            Some(_) => v += " on the holds with enough samples",
            None => v += ": every SLO held on every hold window",
        },
    }
    v
}

fn regression(s: &Summary) -> String {
    let Some(b) = &s.baseline else {
        return "no baseline (--baseline DIR, last-passed or median:N compares)".into();
    };
    match b.regressions.as_slice() {
        [] => b.verdict.clone(),
        [one] => format!("REGRESSION: {one}"),
        [first, rest @ ..] => format!("REGRESSION: {first}; and {} more (details)", rest.len()),
    }
}

/// An SLO figure in its unit: whole ms from 10 ms up, else one decimal; an
/// error rate in percent with two decimals.
fn figure(metric: SloMetric, v: f64) -> String {
    match metric {
        SloMetric::ErrorRate => percent(Some(v)),
        SloMetric::MsPerPoint => format!("{v:.4} ms/point"),
        _ => format!("{} ms", ms(v)),
    }
}

/// Milliseconds as the console prints them: `6390`, `45.6`, `0.5`.
fn ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Everything else, one logical line each.
fn details(s: &Summary) -> Vec<String> {
    let r = &s.run;
    let mut d = Vec::new();
    d.push(format!(
        "target    {} {}{}",
        r.target.kind,
        r.target.url,
        r.target
            .database
            .as_deref()
            .map(|db| format!(" ({db})"))
            .unwrap_or_default()
    ));
    d.push(format!(
        "ran       {} UTC for {:.0} s, peak {} users ({} viewers, {} sync)",
        r.started_at.format("%Y-%m-%d %H:%M:%S"),
        r.duration_s,
        r.peak_users,
        r.peak_viewers,
        r.sync_users
    ));
    d.push(http_headline(s));
    d.extend(operations_line(s));
    d.extend(live_line(s.live.as_ref()));
    if let Some(which) = &s.partly_judged {
        d.push(format!("judged on the holds with enough samples; {which}"));
    }
    if let Some(stop) = &r.ladder_stop {
        d.push(format!(
            "ladder stopped early at {} ({} viewers): {}{}",
            stop.step,
            stop.viewers,
            stop.reason,
            if stop.refined_until_ms.is_some() {
                "; refine steps followed"
            } else {
                ""
            }
        ));
    }
    class_table(s, &mut d);
    slo_rows(s, &mut d);
    if let Some(diagnosis) = s.server.as_ref().and_then(|x| x.diagnosis.as_ref()) {
        d.push(format!("server    {diagnosis}"));
    }
    for w in s.server.iter().flat_map(|x| &x.measurement_warnings) {
        d.push(format!("MEASUREMENT WARNING: {w}"));
    }
    let f = Findings::of(s);
    d.extend(f.recovery.map(|r| format!("recovery  {}", r.sentence)));
    if let Some(r) = &s.recovery {
        for left in &r.left_out {
            d.push(format!("recovery  left out: {left}"));
        }
    }
    for f in &s.faults {
        d.push(format!("fault {}   {}", f.index, f.line()));
    }
    if let Some(b) = &s.baseline {
        if let Some(how) = &b.selection {
            d.push(format!("baseline  chosen: {how}"));
        }
        let (gated, unjudged) = b
            .windows
            .iter()
            .filter(|w| w.judged)
            .fold((0, 0), |(g, u), w| match w.sure {
                Some(_) => (g + 1, u),
                None => (g, u + 1),
            });
        d.push(format!(
            "baseline  against {}; {gated} figures judged, {unjudged} without enough data",
            baseline_names(b)
        ));
        for line in &b.regressions {
            d.push(format!("  REGRESSION {line}"));
        }
    }
    d.extend(s.health.evenness_line());
    d.extend(s.health.cpu_line());
    for w in &s.health.warnings {
        d.push(format!("WARNING   {w}"));
    }
    for n in &s.inputs.notes {
        d.push(format!("note      {n}"));
    }
    d
}

/// Per class over the hold windows pooled: percentiles, count, failures.
fn class_table(s: &Summary, d: &mut Vec<String>) {
    if s.judged.is_empty() {
        return;
    }
    d.push(format!(
        "hold windows     {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "p50 ms", "p95 ms", "p99 ms", "mean ms", "count", "failed"
    ));
    for c in &s.judged {
        let l = c.latency;
        let f = |v: Option<f64>| v.map_or("—".into(), ms);
        d.push(format!(
            "  {:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            c.class.label(),
            f(l.map(|l| l.p50)),
            f(l.map(|l| l.p95)),
            f(l.map(|l| l.p99)),
            f(l.map(|l| l.mean)),
            c.count,
            c.failed
        ));
    }
}

/// The judged SLO rows, failures first, at most [`SLO_ROWS`].
fn slo_rows(s: &Summary, d: &mut Vec<String>) {
    const SLO_ROWS: usize = 12;
    let judged: Vec<&SloResult> = s.slos.iter().filter(|r| r.judged).collect();
    let mut shown: Vec<&&SloResult> = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::Fail)
        .collect();
    shown.extend(judged.iter().filter(|r| r.verdict != SloVerdict::Fail));
    for r in shown.iter().take(SLO_ROWS) {
        d.push(format!(
            "  {:<7} {} {} {}: {} (bound {})",
            r.verdict.label(),
            r.window,
            r.class.label(),
            r.metric.label(),
            r.observed.map_or("no data".into(), |v| figure(r.metric, v)),
            figure(r.metric, r.max)
        ));
    }
    if shown.len() > SLO_ROWS {
        d.push(format!(
            "  … {} more SLO results in the report",
            shown.len() - SLO_ROWS
        ));
    }
}

/// The widest row of `text`, in columns.
pub fn widest(text: &str) -> usize {
    text.lines().map(|l| l.width()).max().unwrap_or(0)
}

/// Rows of `text` before its details, at [`WIDTH`] columns (a row wider than
/// the terminal takes more than one).
pub fn answer_rows(text: &str) -> usize {
    text.lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.width().div_ceil(WIDTH).max(1))
        .sum()
}

/// "HTTP requests …": calls only, with those made outside the request log.
pub fn http_headline(s: &Summary) -> String {
    let t = &s.totals;
    let mut line = format!(
        "HTTP requests  {} ({} failed, error rate {})",
        t.requests,
        t.failed,
        percent(t.error_rate)
    );
    let outside = s.run.counters.outside_log_by_purpose();
    if !outside.is_empty() {
        let parts: Vec<String> = outside
            .iter()
            .map(|(purpose, n)| format!("{} {n}", purpose.replace('_', " ")))
            .collect();
        line += &format!(
            "; {} more outside the request log ({})",
            t.outside_log,
            parts.join(", ")
        );
    }
    if t.replaced_by_refresh > 0 {
        line += &format!(
            "; {} replaced in flight by the next refresh (sent, not counted)",
            t.replaced_by_refresh
        );
    }
    if t.cancelled > 0 {
        line += &format!("; {} cut off by the run's end (not counted)", t.cancelled);
    }
    line
}

/// Dashboard loads, transforms, sync runs…: operations, not HTTP calls.
pub fn operations_line(s: &Summary) -> Option<String> {
    let parts: Vec<String> = s
        .totals
        .operations
        .iter()
        .map(|o| {
            format!(
                "{} {} ({} failed, {})",
                o.class.label(),
                o.count,
                o.failed,
                percent(o.error_rate)
            )
        })
        .collect();
    (!parts.is_empty()).then(|| format!("operations     {}", parts.join(" · ")))
}

/// The baseline run(s) of a comparison, in words: its folder, or "the median
/// of N runs (a, b, c)".
pub fn baseline_names(b: &Comparison) -> String {
    match b.runs.as_slice() {
        [] => b.dir.clone(),
        [one] => one.dir.clone(),
        runs => format!(
            "the median of {} runs ({})",
            runs.len(),
            runs.iter()
                .map(|r| r.dir.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The console's detail line, when the run had live viewers.
pub fn live_line(live: Option<&super::live::LiveSummary>) -> Option<String> {
    let l = live?;
    let connect = l
        .connect_ms
        .map_or("-".into(), |p| format!("{:.0} ms", p.p95));
    let delivery = l.delivery_ms.map_or("-".into(), |p| {
        format!("{:.0}/{:.0}/{:.0}/{:.0} ms", p.p50, p.p95, p.p99, p.max)
    });
    let mut line = format!(
        "live      {}/{} connected (connect p95 {connect}), {} messages, delivery p50/p95/p99/max {delivery}, {} missed",
        l.connected, l.connect_attempts, l.messages, l.missed
    );
    if !l.connect_failures.is_empty() {
        line.push_str(&format!(
            "; refused: {}",
            super::format::counted(&l.connect_failures)
        ));
    }
    if !l.disconnects.is_empty() {
        line.push_str(&format!(
            "; disconnected: {}",
            super::format::counted(&l.disconnects)
        ));
    }
    if let Some(p) = l.reconnect_ms {
        line.push_str(&format!(
            "; {} reconnects, back in max {:.0} ms",
            l.reconnects, p.max
        ));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::report::baseline::{self, BaseRun};
    use crate::report::recovery::Recovery;
    use crate::report::summary::RecoverySummary;
    use crate::report::synthetic::Synthetic;
    use crate::report::{load_baseline, summarise_with_samples};
    use crate::runfolder::RunMeta;

    const LABELS: [&str; 8] = [
        "verdict",
        "broke first",
        "capacity",
        "knee",
        "regression",
        "recovery",
        "degradation",
        "report",
    ];

    /// A staged-like run at its wordiest: holds and a stress ladder that
    /// breaks, slower and failing more than its baseline (several regressed
    /// figures), interrupted, a recovery phase that did not recover, and notes.
    fn staged_like(root: &Path) -> Summary {
        let write = |name: &str, synthetic: Synthetic| {
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            synthetic.write(&dir).unwrap();
            dir
        };
        let base = write("20261116T020000Z-staged", Synthetic::new(20_000, 7));
        let slow = write(
            "20261123T020000Z-staged",
            Synthetic {
                latency_factor: 1.6,
                extra_error_rate: 0.03,
                ..Synthetic::new(20_000, 7)
            },
        );
        let meta = RunMeta::load(&slow).unwrap();
        let (mut s, blocks) = summarise_with_samples(&slow, &meta, false).unwrap();
        let (b, b_blocks) = load_baseline(&base, false).unwrap();
        let runs = [BaseRun {
            dir: base.display().to_string(),
            summary: &b,
            blocks: &b_blocks,
        }];
        let cmp = baseline::compare(&s, &blocks, &runs, &meta.regression);
        assert!(cmp.regressions.len() >= 2, "{:?}", cmp.regressions);
        s.regression = true;
        s.baseline = Some(cmp);
        s.run.interrupted = true;
        let sentence = "viewers did not recover within 59.7 s (dashboard load did not recover \
                        within 59.7 s, panel query did not recover within 59.7 s, variable query \
                        did not recover within 59.7 s); ingest batch did not recover within 59.7 s"
            .to_string();
        s.recovery = Some(RecoverySummary {
            window: "recovery".into(),
            viewers: 40,
            start_ms: 400_000,
            end_ms: 460_000,
            sliding_window_ms: 5_000,
            recovery: Recovery::NotRecovered { within_ms: 59_700 },
            left_out: vec!["ingest batch error rate: 10 samples in 59.7 s, 20 needed".into()],
            max_ms: Some(30_000),
            verdict: Some(SloVerdict::Fail),
            sentence,
            classes: Vec::new(),
        });
        s.inputs
            .notes
            .push(format!("baseline: {}", "a very long note ".repeat(20)));
        s
    }

    /// Rows of the answers (before the blank line), and of the details.
    fn parts(text: &str) -> (Vec<&str>, Vec<&str>) {
        let rows: Vec<&str> = text.lines().collect();
        let blank = rows
            .iter()
            .position(|l| l.is_empty())
            .expect("a blank line");
        (rows[..blank].to_vec(), rows[blank + 1..].to_vec())
    }

    fn assert_answers_first(text: &str, html: &Path) {
        let (answers, details) = parts(text);
        assert!(
            answer_rows(text) <= ANSWER_ROWS,
            "{} answer rows:\n{text}",
            answer_rows(text)
        );
        let path = html.display().to_string();
        for row in &answers {
            assert!(
                row.width() <= WIDTH || row.ends_with(&path),
                "an answer row wider than {WIDTH} columns: {row:?}"
            );
        }
        assert!(widest(text) <= MAX_LINE, "a line over {MAX_LINE}:\n{text}");
        // Every answer, in order, each on a row that starts with its label.
        let starts: Vec<usize> = LABELS
            .iter()
            .map(|label| {
                answers
                    .iter()
                    .position(|r| r.starts_with(&format!("{label:<LABEL$}")))
                    .unwrap_or_else(|| panic!("no {label:?} answer:\n{text}"))
            })
            .collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}\n{text}");
        assert!(answers.last().unwrap().ends_with(&path), "{text}");
        assert!(details[0].starts_with("── details"), "{text}");
    }

    #[test]
    fn calls_outside_the_log_are_in_the_headline() {
        use crate::report::analyse::analyse;
        use crate::report::analyse::counts_tests::one_failed_load;
        use crate::report::analyse::tests::{meta, window};
        use crate::runfolder::WindowKind;
        let mut m = meta(
            vec![window("stage 1 hold", WindowKind::Hold, 1, 0, 10)],
            vec![],
        );
        let calls = &mut m.counters.http_outside_log;
        calls
            .entry("preflight".into())
            .or_default()
            .extend([("ping".to_string(), 1), ("query".to_string(), 1)]);
        calls
            .entry("freshness_poll".into())
            .or_default()
            .insert("query".into(), 5);
        let s = analyse(&m, &one_failed_load());
        assert_eq!(s.totals.outside_log, 7);
        assert_eq!(
            http_headline(&s),
            "HTTP requests  12 (1 failed, error rate 8.33 %); 7 more outside the request log (freshness poll 5, preflight 2)"
        );
        assert_eq!(
            operations_line(&s).unwrap(),
            "operations     dashboard load 1 (1 failed, 100.00 %) · sync transform 1 (0 failed, 0.00 %)"
        );
    }

    #[test]
    fn a_staged_like_run_answers_in_fifteen_rows_of_eighty_columns() {
        let root = tempfile::tempdir().unwrap();
        let s = staged_like(root.path());
        let html = PathBuf::from("reports/20261123T020000Z-staged/report.html");
        let text = text(&s, &html);
        assert_answers_first(&text, &html);
        let (answers, details) = parts(&text);
        let answers = answers.join("\n");
        assert!(
            answers.contains("FAIL (synthetic), REGRESSION, INTERRUPTED"),
            "{answers}"
        );
        assert!(answers.contains("REGRESSION: "), "{answers}");
        assert!(answers.contains("capacity     held at "), "{answers}");
        // Every regressed figure is in the details, and so is each answer cut short.
        let details = details.join("\n");
        for r in &s.baseline.as_ref().unwrap().regressions {
            let head: String = r.chars().take(40).collect();
            assert!(details.contains(&head), "{r} missing:\n{details}");
        }
        for row in answers.lines().filter(|r| r.ends_with('…')) {
            let label = LABELS
                .iter()
                .find(|l| row.starts_with(&format!("{l:<LABEL$}")));
            if let Some(label) = label {
                assert!(
                    details.contains(&format!("{label} (in full): ")),
                    "{label} cut and not repeated:\n{text}"
                );
            }
        }
        // The SLO rows say what was judged in words, with the bound.
        assert!(!details.contains("error_rate"), "{details}");
        assert!(details.contains(" (bound "), "{details}");
    }

    #[test]
    fn a_run_without_baseline_or_recovery_says_so_in_one_row_each() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        std::fs::create_dir_all(&dir).unwrap();
        Synthetic::new(8_000, 3).write(&dir).unwrap();
        let meta = RunMeta::load(&dir).unwrap();
        let (s, _) = summarise_with_samples(&dir, &meta, false).unwrap();
        let html = PathBuf::from("/tmp/runs/20261207T171721Z-smoke/report.html");
        let text = text(&s, &html);
        assert_answers_first(&text, &html);
        let (answers, _) = parts(&text);
        assert!(answers.len() <= 12, "{text}");
        let row = |label: &str| {
            let i = answers
                .iter()
                .position(|r| r.starts_with(&format!("{label:<LABEL$}")))
                .unwrap();
            (answers[i], answers[i + 1])
        };
        for (label, says) in [
            ("regression", "no baseline"),
            ("recovery", "no recovery phase"),
        ] {
            let (first, next) = row(label);
            assert!(first.contains(says), "{text}");
            assert!(!next.starts_with(' '), "{label} takes one row:\n{text}");
        }
    }

    #[test]
    fn a_report_path_longer_than_a_row_is_never_cut() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        std::fs::create_dir_all(&dir).unwrap();
        Synthetic::new(4_000, 5).write(&dir).unwrap();
        let meta = RunMeta::load(&dir).unwrap();
        let (s, _) = summarise_with_samples(&dir, &meta, false).unwrap();
        let html = PathBuf::from(format!("/srv/{}/report.html", "nightly-runs/".repeat(8)));
        let text = text(&s, &html);
        let row = format!("{:<LABEL$}{}", "report", html.display());
        assert!(text.lines().any(|l| l == row), "{text}");
        assert!(answer_rows(&text) <= ANSWER_ROWS, "{text}");
    }

    #[test]
    fn rows_break_at_spaces_and_keep_a_unit_with_its_number() {
        let rows = wrap(
            "capacity     held at 50, failed at 100 (p95 2000 ms > 1500 ms)",
            40,
            13,
        );
        assert_eq!(
            rows,
            [
                "capacity     held at 50, failed at 100",
                "             (p95 2000 ms > 1500 ms)"
            ]
        );
        let rows = wrap("knee         error rate 43.12 % > 1.00 %", 35, 13);
        assert_eq!(
            rows,
            ["knee         error rate 43.12 % >", "             1.00 %"]
        );
        // A word longer than the row stays whole.
        let long = "x".repeat(50);
        assert_eq!(
            wrap(&format!("report {long}"), 20, 2),
            ["report", &format!("  {long}")]
        );
        // Leading spaces (table rows) are kept.
        assert_eq!(
            wrap("  FAIL    stage 1 hold", 80, 4),
            ["  FAIL    stage 1 hold"]
        );
    }

    #[test]
    fn answers_too_long_for_their_rows_are_cut_and_the_rest_keep_a_row() {
        let long = |label| Answer {
            label,
            text: "word ".repeat(200),
        };
        let mut answers: Vec<Answer> = LABELS.iter().map(|l| long(l)).collect();
        answers[7].text = format!("/srv/{}/report.html", "nightly-runs/".repeat(8));
        let laid = layout(&answers);
        let rows: usize = laid.iter().map(|r| r.rows.len()).sum();
        assert!(rows <= ANSWER_ROWS, "{rows}");
        assert!(laid.iter().all(|r| !r.rows.is_empty()));
        // The first answers get the rows to spare; the path is never cut.
        assert!(laid[0].rows.len() > 1);
        assert!(laid[..7].iter().all(|r| r.cut));
        assert!(
            laid[7].rows.len() == 1 && !laid[7].cut,
            "{:?}",
            laid[7].rows
        );
        assert!(laid[7].rows[0].starts_with("report       /srv/"));
        for r in &laid[..7] {
            assert!(r.rows.iter().all(|row| row.width() <= WIDTH));
        }
    }
}
