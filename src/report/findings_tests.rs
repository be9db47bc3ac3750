//! The page, the console and the Markdown state the same answers for one run:
//! each answer is read back out of each output and compared, so the check
//! holds whatever computes them.

use std::path::{Path, PathBuf};

use super::findings::Findings;
use super::summary::{SloResult, SloVerdict, Summary};
use super::synthetic::{write_run, write_smoke, Synthetic};
use super::{charts, console, html, markdown, summarise_with_samples};
use crate::runfolder::{RequestClass, RunMeta, SloMetric, WindowKind};

/// HTML or Markdown text back to plain text.
fn unescape(text: &str) -> String {
    text.replace("\\|", "|")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The page's answer `key` (`first-break`, `knee`, `capacity`).
fn page_answer(page: &str, key: &str) -> String {
    let row = &page[page
        .find(&format!("<tr id=\"answer-{key}\""))
        .unwrap_or_else(|| panic!("no answer-{key} row"))..];
    let td = &row[row.find("<td>").unwrap() + 4..];
    unescape(&td[..td.find("</td>").unwrap()])
}

/// The console's answer `label`, in full: its rows joined, or the details'
/// `label (in full): ` line when the rows cut it.
fn console_answer(text: &str, label: &str) -> String {
    let join = |rows: &[&str]| rows.iter().map(|r| r.trim()).collect::<Vec<_>>().join(" ");
    let lines: Vec<&str> = text.lines().collect();
    let continued = |from: usize, indent: &str| {
        let mut rows = vec![lines[from]];
        rows.extend(
            lines[from + 1..]
                .iter()
                .take_while(|l| l.starts_with(indent)),
        );
        rows
    };
    let full = format!("{label} (in full): ");
    if let Some(i) = lines.iter().position(|l| l.starts_with(&full)) {
        return join(&continued(i, "    "))[full.len()..].to_string();
    }
    let head = format!("{label:<13}");
    let i = lines
        .iter()
        .position(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no {label:?} answer:\n{text}"));
    join(&continued(i, &" ".repeat(13)))[label.len()..]
        .trim()
        .to_string()
}

/// The Markdown's `**label:** …` paragraph.
fn markdown_answer(md: &str, label: &str) -> String {
    let head = format!("**{label}:** ");
    let line = md
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no {label:?} in the Markdown:\n{md}"));
    unescape(&line[head.len()..])
}

/// The three outputs' broke-first, knee and capacity answers, each the same.
fn assert_outputs_agree(s: &Summary) -> [String; 3] {
    let page = html::page(s, &charts::draw_all(s, None));
    let text = console::text(s, &PathBuf::from("report.html"));
    let md = markdown::markdown(s, false);
    [
        ("first-break", "broke first", "Broke first"),
        ("knee", "knee", "Knee"),
        ("capacity", "capacity", "Capacity"),
    ]
    .map(|(key, console_label, md_label)| {
        let on_page = page_answer(&page, key);
        let on_console = console_answer(&text, console_label);
        let in_markdown = markdown_answer(&md, md_label);
        assert_eq!(on_page, on_console, "{key}: page and console differ");
        assert_eq!(on_page, in_markdown, "{key}: page and Markdown differ");
        on_page
    })
}

fn summary_of(dir: &Path) -> Summary {
    let meta = RunMeta::load(dir).unwrap();
    summarise_with_samples(dir, &meta, false).unwrap().0
}

#[test]
fn page_console_and_markdown_state_the_same_first_break_knee_and_capacity() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), 8_000, 42).unwrap();
    let s = summary_of(dir.path());
    let [first_break, knee, _] = assert_outputs_agree(&s);
    // The synthetic ladder breaks on a stress step and has a knee.
    assert!(first_break.contains(" on step "), "{first_break}");
    assert!(
        knee.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "{knee}"
    );
}

#[test]
fn a_failure_only_on_the_recovery_window_is_not_what_broke_first_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    write_smoke(dir.path(), 4_000, 7).unwrap();
    let mut s = summary_of(dir.path());
    // Every SLO held on the hold; only the recovery window failed one.
    s.slos.retain(|r| r.verdict != SloVerdict::Fail);
    let end = s.windows.iter().map(|w| w.end_ms).max().unwrap();
    let mut recovery = s.windows.last().unwrap().clone();
    recovery.name = "recovery".into();
    recovery.kind = WindowKind::Recovery;
    (recovery.start_ms, recovery.end_ms) = (end, end + 30_000);
    recovery.verdict = SloVerdict::Fail;
    s.windows.push(recovery);
    s.slos.push(SloResult {
        window: "recovery".into(),
        window_kind: WindowKind::Recovery,
        judged: false,
        class: RequestClass::DashboardLoad,
        metric: SloMetric::P95,
        max: 900.0,
        observed: Some(4_000.0),
        verdict: SloVerdict::Fail,
        note: None,
    });
    let [first_break, knee, _] = assert_outputs_agree(&s);
    assert!(
        first_break.starts_with("nothing: every SLO held"),
        "{first_break}"
    );
    assert!(knee.starts_with("none: too few windows"), "{knee}");
}

#[test]
fn page_and_console_give_the_same_reason_for_a_failed_hold() {
    let dir = tempfile::tempdir().unwrap();
    Synthetic {
        latency_factor: 1.6,
        extra_error_rate: 0.03,
        ..Synthetic::new(8_000, 7)
    }
    .write(dir.path())
    .unwrap();
    let s = summary_of(dir.path());
    let why = Findings::of(&s)
        .worst_hold_failure
        .expect("a hold failed")
        .sentence();
    let page = html::page(&s, &charts::draw_all(&s, None));
    let verdict = page_answer(&page, "verdict");
    assert!(verdict.contains(&why), "{why:?} not in {verdict:?}");
    let text = console::text(&s, &PathBuf::from("report.html"));
    let verdict = console_answer(&text, "verdict");
    assert!(verdict.contains(&why), "{why:?} not in {verdict:?}");
}
