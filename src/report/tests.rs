//! End-to-end tests of `render_run` on synthetic and real (Goose) run folders.

use std::fs;
use std::path::{Path, PathBuf};

use super::synthetic::{write_run, Synthetic};
use super::*;
use crate::runfolder::{files, LadderStop, RequestClass, RunMeta, WindowKind};

/// Every chart of a page.
const CHARTS: usize = 12;

fn render(dir: &Path) -> ReportOutcome {
    render_run(dir, &ReportOptions::default()).unwrap()
}

/// A text's words, one space apart: the console wraps long lines.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap()
}

/// Asserts the page is self-contained and its main structure is balanced.
fn assert_page_is_sound(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(!html.contains(forbidden), "the page contains {forbidden:?}");
    }
    for tag in [
        "html", "head", "body", "section", "table", "tr", "figure", "svg", "details", "ul",
        "header", "nav", "footer",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            open, close,
            "<{tag}> opened {open} times, closed {close} times"
        );
    }
    // Every chart in its figure, and no more than a full run draws.
    let charts = html.matches("<svg").count();
    assert_eq!(charts, html.matches("<figure>").count());
    assert!(charts <= CHARTS, "{charts} charts");
}

fn synthetic_dir(rows: u64) -> (tempfile::TempDir, RunMeta) {
    let dir = tempfile::tempdir().unwrap();
    let meta = write_run(dir.path(), rows, 42).unwrap();
    (dir, meta)
}

#[test]
fn a_synthetic_run_renders_every_file() {
    let (dir, _) = synthetic_dir(30_000);
    let out = render(dir.path());
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert_eq!(html.matches("<svg").count(), CHARTS);
    // The answers come first: each of them before any chart and before the
    // run's provenance, in the order a reader asks them.
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("missing {needle}"))
    };
    let answers: Vec<usize> = super::html::answers::KEYS
        .iter()
        .map(|k| at(&format!("<tr id=\"answer-{k}\"")))
        .collect();
    assert!(answers.windows(2).all(|w| w[0] < w[1]), "{answers:?}");
    assert!(answers[6] < at("<figure>") && answers[6] < at("<section id=\"summary\">"));
    assert!(
        html.contains("<th scope=\"row\">Broke first</th><td>dashboard load p95 1449 ms &gt; 900 ms on step 2 (80 viewers)</td>"),
        "{}",
        &html[at("<tr id=\"answer-first-break\"")..][..300]
    );
    assert!(html.contains("<th scope=\"row\">Knee</th><td>"));
    for section in [
        "id=\"summary\"",
        "id=\"concurrency\"",
        "id=\"errors\"",
        "id=\"slos\"",
        "id=\"windows\"",
        "id=\"names\"",
        "id=\"sync\"",
    ] {
        assert!(html.contains(section), "missing {section}");
    }
    assert!(html.contains("Hours per project"));
    assert!(html.contains("127.0.0.1:8086 (http)"));
    assert_eq!(out.capacity, Some(60), "latency breaks from 80 viewers on");
    assert!(!out.slo_failed);
    assert!(
        out.text.contains("capacity     held at 60, failed at 80 ("),
        "{}",
        out.text
    );
    assert!(out.text.contains("knee         80 viewers"), "{}", out.text);
    assert!(out.text.contains(&out.html.display().to_string()));
    assert!(!dir.path().join(".report.html.tmp").exists());
}

#[test]
fn summary_json_round_trips() {
    let (dir, _) = synthetic_dir(20_000);
    render(dir.path());
    let text = read(dir.path(), files::SUMMARY);
    let summary: summary::Summary = serde_json::from_str(&text).unwrap();
    let meta = RunMeta::load(dir.path()).unwrap();
    let fresh = summarise(dir.path(), &meta, false).unwrap();
    // Not assert_eq!: the Debug print of a whole summary is pages long.
    assert!(
        summary == fresh,
        "summary.json does not read back as the summary written"
    );
    // Dashboard loads and transforms are operations, not HTTP requests.
    let operations: u64 = summary.totals.operations.iter().map(|o| o.count).sum();
    assert_eq!(summary.totals.requests + operations, 20_000);
    let classes: Vec<_> = summary.totals.operations.iter().map(|o| o.class).collect();
    assert_eq!(
        classes,
        [RequestClass::DashboardLoad, RequestClass::SyncTransform]
    );
    assert_eq!(summary.windows.len(), 8);
    assert_eq!(summary.capacity, Some(60));
}

#[test]
fn junit_has_a_testcase_per_slo_per_hold_window() {
    let dir = tempfile::tempdir().unwrap();
    // A slower build: panel p95 breaks its 250 ms SLO on the hold windows.
    let meta = Synthetic {
        latency_factor: 3.0,
        ..Synthetic::new(20_000, 5)
    }
    .write(dir.path())
    .unwrap();
    let out = render(dir.path());
    assert!(out.slo_failed);
    let xml = read(dir.path(), files::JUNIT);
    let holds = meta
        .windows
        .iter()
        .filter(|w| w.kind == crate::runfolder::WindowKind::Hold)
        .count();
    assert_eq!(xml.matches("<testcase ").count(), holds * meta.slos.len());
    let failures = xml.matches("<failure ").count();
    assert!(failures >= 2, "{xml}");
    assert!(xml.contains(&format!("failures=\"{failures}\"")));
    assert!(xml.contains("name=\"panel_query p95 &lt;= 250 ms\""));
    assert!(xml.contains("classname=\"dashload.synthetic.stage 1 hold\""));
    // Every case carries what was observed: a failure, a skip or, when it
    // passed, the observed value in system-out.
    let passed = xml.matches("<system-out>").count();
    let skipped = xml.matches("<skipped ").count();
    assert!(passed > 0, "{xml}");
    assert_eq!(passed + failures + skipped, holds * meta.slos.len());
    assert!(xml.contains(" observed ") && xml.contains(", within "));
    // Error rates in percent, never as a fraction.
    for line in xml.lines().filter(|l| l.contains("error_rate")) {
        assert!(line.contains(" %"), "{line}");
    }
}

#[test]
fn a_baseline_shows_deltas_and_flags_only_real_regressions() {
    let (base, _) = synthetic_dir(30_000);
    render(base.path());
    let options = ReportOptions {
        baselines: vec![base.path().to_path_buf()],
        ..ReportOptions::default()
    };

    // The same run again, 5 % slower: within the 10 % tolerance.
    let same = tempfile::tempdir().unwrap();
    Synthetic {
        latency_factor: 1.05,
        ..Synthetic::new(30_000, 42)
    }
    .write(same.path())
    .unwrap();
    let out = render_run(same.path(), &options).unwrap();
    assert!(!out.regression, "{}", out.text);
    let html = read(same.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(html.contains("id=\"baseline\""));
    assert!(
        html.contains("<tr id=\"answer-regression\" class=\"good\"><th scope=\"row\">Regression</th><td>no regression; "),
        "the regression answer on the first screen"
    );
    assert!(html.contains("would have been caught"));
    assert!(
        html.contains("baseline p95"),
        "baseline overlaid on the latency charts"
    );
    assert!(html.contains("<th>change %</th>"));
    for figure in [
        "capacity (viewers)",
        "knee (viewers)",
        "first broken step (viewers)",
    ] {
        assert!(
            html.contains(figure),
            "{figure} missing from the baseline deltas"
        );
    }

    // 50 % slower: p95/p99 regress.
    let slow = tempfile::tempdir().unwrap();
    Synthetic {
        latency_factor: 1.5,
        ..Synthetic::new(30_000, 42)
    }
    .write(slow.path())
    .unwrap();
    let out = render_run(slow.path(), &options).unwrap();
    assert!(out.regression);
    let s: summary::Summary = serde_json::from_str(&read(slow.path(), files::SUMMARY)).unwrap();
    let cmp = s.baseline.unwrap();
    assert!(cmp
        .windows
        .iter()
        .any(|d| d.regression && d.figure == "panel query p95 ms" && d.change_pct.unwrap() > 30.0));
    assert!(read(slow.path(), files::REPORT_HTML).contains(
        "<tr id=\"answer-regression\" class=\"bad\"><th scope=\"row\">Regression</th><td>"
    ));
    assert!(out.text.contains("REGRESSION"));

    // More errors: error rate regresses.
    let errors = tempfile::tempdir().unwrap();
    Synthetic {
        extra_error_rate: 0.05,
        ..Synthetic::new(30_000, 42)
    }
    .write(errors.path())
    .unwrap();
    let out = render_run(errors.path(), &options).unwrap();
    assert!(out.regression);
    let s: summary::Summary = serde_json::from_str(&read(errors.path(), files::SUMMARY)).unwrap();
    assert!(s
        .baseline
        .unwrap()
        .windows
        .iter()
        .any(|d| d.regression && d.figure.ends_with("error rate")));
}

#[test]
fn a_baseline_without_summary_json_is_analysed_from_its_files() {
    let (base, _) = synthetic_dir(10_000);
    let (run, _) = synthetic_dir(10_000);
    let out = render_run(
        run.path(),
        &ReportOptions {
            baselines: vec![base.path().to_path_buf()],
            ..ReportOptions::default()
        },
    )
    .unwrap();
    assert!(!out.regression, "a run is no regression against itself");
    assert!(!base.path().join(files::SUMMARY).exists());
}

#[test]
fn a_cut_last_line_and_corrupt_rows_are_reported_not_fatal() {
    let (dir, _) = synthetic_dir(5_000);
    let path = dir.path().join(files::REQUESTS);
    let mut text = read(dir.path(), files::REQUESTS);
    let lines: Vec<&str> = text.lines().collect();
    let mut broken = lines[..100].join("\n");
    broken.push_str("\ngarbage,without,enough,fields\n");
    broken.push_str(&lines[100..].join("\n"));
    broken.push('\n');
    broken.push_str(&lines[200][..40]);
    text = broken;
    fs::write(&path, text).unwrap();
    render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    assert_eq!(s.inputs.requests.rows, 5_000);
    assert_eq!(s.inputs.requests.corrupt_rows, 1);
    assert!(s.inputs.requests.truncated_last_line);
    let html = read(dir.path(), files::REPORT_HTML);
    assert!(html
        .contains("1 row could not be read (first at line 101: 4 fields where the header has 18)"));
    assert!(html.contains("the last line was cut short"));
}

/// A run folder holding the real Goose fixtures and a hand-written run.json.
fn goose_run(with_log: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    fs::copy(
        fixtures.join("goose-report.json"),
        dir.path().join(files::GOOSE_JSON),
    )
    .unwrap();
    if with_log {
        fs::copy(
            fixtures.join("goose-requests.csv"),
            dir.path().join(files::REQUESTS),
        )
        .unwrap();
    }
    let meta = r#"{
        "dashload_version": "0.1.0", "scenario": "goose fixture", "scenario_file": "x.toml",
        "scenario_digest": "00", "seed": 1,
        "target": {"kind": "sandbox", "url": "http://127.0.0.1:18765"},
        "test_plan": "4,1s;4,1s;0,1s", "sync_users": 1,
        "windows": [
            {"name": "stage 1 ramp", "kind": "ramp", "viewers": 3, "start_ms": 0, "end_ms": 1000},
            {"name": "stage 1 hold", "kind": "hold", "viewers": 3, "start_ms": 1000, "end_ms": 2000}
        ],
        "slos": [
            {"class": "panel_query", "metric": "p95", "max": 500.0},
            {"class": "variable_query", "metric": "error_rate", "max": 0.01}
        ],
        "started_at": "2026-11-23T11:27:55Z", "ended_at": "2026-11-23T11:27:58Z"
    }"#;
    fs::write(dir.path().join(files::RUN_META), meta).unwrap();
    dir
}

#[test]
fn a_real_goose_request_log_renders() {
    let dir = goose_run(true);
    let out = render(dir.path());
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(
        html.contains("Missing, &quot;quoted&quot;"),
        "names are escaped"
    );
    // Every variable query was refused: the error-rate SLO fails on the hold window.
    assert!(out.slo_failed);
    assert!(html.contains("connection failed (DNS, refused, reset)"));
}

#[test]
fn without_a_request_log_the_goose_report_is_used() {
    let dir = goose_run(false);
    let out = render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    assert!(!s.inputs.requests.used);
    assert!(s.inputs.goose_report.used);
    assert!(s.totals.requests > 0);
    assert!(
        s.judged.iter().all(|c| c.latency.is_none()),
        "no latency per window from aggregates"
    );
    assert!(
        s.overall.iter().any(|c| c.latency.is_some()),
        "whole-run latency from aggregates"
    );
    let p95 = s
        .slos
        .iter()
        .find(|r| r.judged && r.metric == crate::runfolder::SloMetric::P95)
        .unwrap();
    assert_eq!(p95.verdict, summary::SloVerdict::NoData);
    assert!(
        out.slo_failed,
        "error rates per window come from the per-second counts"
    );
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(html.contains("No usable request log"));
}

#[test]
fn an_empty_interrupted_run_says_so() {
    let (dir, mut meta) = synthetic_dir(100);
    fs::write(
        dir.path().join(files::REQUESTS),
        format!("{}\n", synthetic::REQUESTS_HEADER),
    )
    .unwrap();
    fs::remove_file(dir.path().join(files::INGEST)).unwrap();
    meta.interrupted = true;
    meta.ended_at = None;
    meta.ladder_stop = Some(LadderStop {
        step: "step 2".into(),
        viewers: 80,
        reason: "p95 1200 ms > 2 × SLO <b>".into(),
        at_ms: 70_000,
        refined_until_ms: None,
        judged_from_ms: None,
    });
    meta.store(dir.path()).unwrap();
    let out = render(dir.path());
    assert!(!out.slo_failed);
    assert_eq!(out.capacity, None);
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(html.contains("id=\"interrupted\""));
    assert!(html.contains("id=\"ladder-stop\""));
    assert!(html.contains("SLO &lt;b&gt;"), "reasons are escaped");
    assert!(
        html.contains("(the ladder stopped it at 70 s, step 2)"),
        "the planned test plan says where it was cut short"
    );
    assert!(html.contains("No requests were recorded"));
    assert!(html.contains("ingest.csv is missing"));
    assert!(html.contains("NOT JUDGED"));
    assert!(out.text.contains("INTERRUPTED"));
}

#[test]
fn hostile_names_and_messages_are_escaped() {
    let (dir, _) = synthetic_dir(200);
    let mut text = read(dir.path(), files::REQUESTS);
    text.push_str("500,0,viewer,1,,raw,panel <script>alert(1)</script> [1h],,false,5,500,false,false,1,\"<img src=x onerror=alert(1)> see https://evil.example/\",0,0,5000\n");
    fs::write(dir.path().join(files::REQUESTS), text).unwrap();
    render(dir.path());
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(!html.contains("<img"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("see evil.example/"));
}

#[test]
fn a_missing_run_json_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let err = render_run(dir.path(), &ReportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("run.json"), "{err}");
}

#[test]
fn an_old_run_json_whose_steps_span_ramp_and_hold_still_renders() {
    let (dir, mut meta) = synthetic_dir(20_000);
    // Older dashload: each `step k` window spanned its ramp (here 1/5 of it) and hold.
    let mut plan = Vec::new();
    let mut expected = (0, 0, 0);
    for w in &meta.windows {
        let (s, e) = (w.start_ms / 1000, w.end_ms / 1000);
        if w.kind == WindowKind::StressStep {
            let ramp = (e - s) / 5;
            plan.push(format!(
                "{},{ramp}s;{},{}s",
                w.viewers,
                w.viewers,
                e - s - ramp
            ));
            if w.name == "step 1" {
                expected = (w.start_ms, (s + ramp) * 1000, w.end_ms);
            }
        } else {
            plan.push(format!("{},{}s", w.viewers, e - s));
        }
    }
    assert!(expected.1 > expected.0, "the synthetic run has a step 1");
    meta.test_plan = format!("{};0,0s", plan.join(";"));
    meta.store(dir.path()).unwrap();
    let out = render(dir.path());
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    let summary: summary::Summary =
        serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    let step1: Vec<_> = summary
        .windows
        .iter()
        .filter(|w| w.name.starts_with("step 1"))
        .map(|w| (w.name.as_str(), w.kind, w.start_ms, w.end_ms))
        .collect();
    assert_eq!(
        step1,
        [
            ("step 1 ramp", WindowKind::Ramp, expected.0, expected.1),
            ("step 1", WindowKind::StressStep, expected.1, expected.2),
        ]
    );
    assert!(out.capacity.is_some());
}

/// The cells of column `col` (0-based) of the table after `id="<id>"` in
/// `html`, with the rows folded under it (`<details class="more-rows">`).
pub(super) fn table_column(html: &str, id: &str, col: usize) -> Vec<String> {
    let after = html
        .split(&format!("id=\"{id}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no #{id}"));
    let (table, rest) = after.split_once("</table>").unwrap();
    let mut tables = vec![table];
    if let Some(more) = rest
        .trim_start()
        .strip_prefix("<details class=\"more-rows\">")
    {
        tables.push(more.split("</table>").next().unwrap());
    }
    tables
        .into_iter()
        .flat_map(|table| table.split("<tr>").skip(2)) // before the table, the header row
        .filter_map(|row| {
            let cell = row.split("<td").nth(col + 1)?;
            let text = cell.split_once('>')?.1.split("</td>").next()?;
            Some(text.to_string())
        })
        .collect()
}

#[test]
fn per_panel_tables_split_holds_from_stress_slowest_first() {
    let (dir, _) = synthetic_dir(20_000);
    render(dir.path());
    let html = read(dir.path(), files::REPORT_HTML);
    for id in ["names-hold", "names-stress", "names-run"] {
        let p95: Vec<f64> = table_column(&html, id, 5)
            .iter()
            .map(|c| c.parse().unwrap_or(f64::NEG_INFINITY))
            .collect();
        assert!(p95.len() >= 3, "#{id}: {p95:?}");
        assert!(
            p95.windows(2).all(|w| w[0] >= w[1]),
            "#{id} not slowest first: {p95:?}"
        );
    }
    // The same panel is slower under stress than in the holds.
    let hold = table_column(&html, "names-hold", 5)[0]
        .parse::<f64>()
        .unwrap();
    let stress = table_column(&html, "names-stress", 5)[0]
        .parse::<f64>()
        .unwrap();
    assert!(stress > hold, "stress {stress} vs hold {hold}");
}

#[test]
fn per_panel_tables_show_the_average_answer_from_run_json() {
    let (dir, mut meta) = synthetic_dir(20_000);
    render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    let panel = s
        .names
        .iter()
        .find(|n| n.class == RequestClass::PanelQuery)
        .expect("the synthetic run has panel queries")
        .name
        .clone();
    meta.counters.answers.insert(
        panel.clone(),
        crate::runfolder::AnswerTotals {
            answers: 4,
            bytes: 4 * 3072,
            series: 10,
        },
    );
    meta.store(dir.path()).unwrap();
    render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    let n = s.names.iter().find(|n| n.name == panel).unwrap();
    assert_eq!(
        n.answers,
        Some(summary::AnswerSize {
            bytes: 3072.0,
            series: 2.5
        })
    );
    assert!(
        s.names
            .iter()
            .filter(|m| m.name != panel)
            .all(|m| m.answers.is_none()),
        "names without counters show none"
    );
    // The whole-run table: KB per answer (column 12) and series per answer (13).
    let html = read(dir.path(), files::REPORT_HTML);
    let kb = table_column(&html, "names-run", 12);
    let series = table_column(&html, "names-run", 13);
    assert!(kb.iter().any(|c| c == "3.0"), "{kb:?}");
    assert!(series.iter().any(|c| c == "2.5"), "{series:?}");
}

/// A request log of `rows` panel queries spread over `[0, span_ms)`, the
/// `i`-th failed (connection refused) when `fail(i)`.
pub(super) fn panel_log(rows: u64, span_ms: u64, fail: impl Fn(u64) -> bool) -> String {
    let mut text = format!("{}\n", synthetic::REQUESTS_HEADER);
    for i in 0..rows {
        let (status, ok, error) = if fail(i) {
            (0, false, "error sending request: connection refused")
        } else {
            (200, true, "")
        };
        text.push_str(&format!(
            "{},0,viewer,1,,raw,panel Hours [7d],,false,12,{status},{ok},false,1,\"{error}\",0,0,12000\n",
            i * span_ms / rows
        ));
    }
    text
}

#[test]
fn a_run_where_most_requests_failed_fails_and_one_without_samples_is_not_judged() {
    let (dir, mut meta) = synthetic_dir(100);
    meta.slos.retain(|s| {
        s.class == RequestClass::PanelQuery && s.metric == crate::runfolder::SloMetric::P95
    });
    meta.store(dir.path()).unwrap();
    let end = meta.windows.iter().map(|w| w.end_ms).max().unwrap();
    // 95 % refused, the few successful samples all fast: only a latency SLO,
    // and still the run fails (a p95 is a promise about all requests).
    fs::write(
        dir.path().join(files::REQUESTS),
        panel_log(8_000, end, |i| i % 20 != 0),
    )
    .unwrap();
    let out = render(dir.path());
    assert!(out.slo_failed, "{}", out.text);
    assert_eq!(crate::cli::report::verdict_code(out.failed(), false), 1);

    // A handful of requests over the whole run: no hold has what a p95 needs.
    fs::write(
        dir.path().join(files::REQUESTS),
        panel_log(8, end, |_| false),
    )
    .unwrap();
    let out = render(dir.path());
    assert!(out.failed(), "exit 1, not 0");
    assert!(!out.slo_failed);
    let why = out.unmeasured.clone().expect("why it was not judged");
    assert!(why.contains("panel query p95"), "{why}");
    assert!(why.contains("needs 20"), "{why}");
    assert!(out.text.contains("NOT JUDGED"), "{}", out.text);
    assert!(words(&out.text).contains(&words(&why)), "{}", out.text);
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    assert_eq!(s.verdict, summary::Verdict::NotJudged);
    assert_eq!(s.unmeasured.as_deref(), Some(why.as_str()));
    let xml = read(dir.path(), files::JUNIT);
    assert!(xml.contains("type=\"NotJudged\""), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
    let html = read(dir.path(), files::REPORT_HTML);
    assert_page_is_sound(&html);
    assert!(html.contains("id=\"unmeasured\""));
    assert_eq!(crate::cli::report::verdict_code(out.failed(), false), 1);
}

#[test]
fn unreadable_rows_are_named_and_too_many_keep_a_run_from_passing() {
    let (dir, _) = synthetic_dir(30_000);
    assert_eq!(
        render(dir.path()).unmeasured,
        None,
        "the clean run is judged"
    );
    let path = dir.path().join(files::REQUESTS);
    let text = read(dir.path(), files::REQUESTS);
    let mut lines: Vec<&str> = text.lines().collect();
    // 40 unreadable rows (0.13 %): each an error whose bare CR split it, as
    // Goose's CSV writer leaves it, but with a line feed.
    let broken =
        "500,0,viewer,1,,raw,panel Hours per project [1h],,false,7,500,false,false,1,a\nb,0,0,7000";
    for i in 0..20 {
        lines.insert(1000 + i * 100, broken);
    }
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let out = render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    assert_eq!(s.inputs.requests.corrupt_rows, 40);
    let first = s.inputs.requests.first_corrupt.clone().unwrap();
    assert!(
        first.starts_with("line 1001: 15 fields where the header has 18"),
        "{first}"
    );
    let named = format!("40 rows could not be read (first at {first})");
    assert!(out.failed(), "{}", out.text);
    assert_eq!(s.verdict, summary::Verdict::NotJudged);
    assert!(s.unmeasured.as_deref().unwrap().contains(&named));
    assert_eq!(s.capacity, None);
    assert!(words(&out.text).contains(&words(&named)), "{}", out.text);
    let html = read(dir.path(), files::REPORT_HTML);
    assert!(html.contains(&super::format::text(&named)));
    assert!(read(dir.path(), files::JUNIT).contains("\"requests_unreadable_rows\" value=\"40\""));
}

#[test]
fn an_absurd_row_is_set_aside_and_the_charts_keep_their_scale() {
    let (dir, _) = synthetic_dir(30_000);
    render(dir.path());
    let clean: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    let path = dir.path().join(files::REQUESTS);
    let mut text = read(dir.path(), files::REQUESTS);
    text.push_str("9999999999999999999,0,viewer,1,,raw,panel Hours per project [1h],,false,7,200,true,false,1,,0,0,7000\n");
    fs::write(&path, text).unwrap();
    let out = render(dir.path());
    let s: summary::Summary = serde_json::from_str(&read(dir.path(), files::SUMMARY)).unwrap();
    assert_eq!(s.series.bucket_ms, clean.series.bucket_ms);
    assert_eq!(s.series.buckets.len(), clean.series.buckets.len());
    assert_eq!(s.run.duration_s, clean.run.duration_s);
    assert_eq!(s.inputs.requests.out_of_range_rows, 1);
    let named =
        "1 row was out of range and set aside (first at line 30002: elapsed 9999999999999999999 ms";
    assert!(
        s.inputs.notes.iter().any(|n| n.contains(named)),
        "{:?}",
        s.inputs.notes
    );
    assert!(read(dir.path(), files::REPORT_HTML).contains(named));
    assert_eq!(
        s.verdict, clean.verdict,
        "one row in 30,001 does not unjudge a run"
    );
    assert_eq!(out.failed(), clean.slo_failed);
}

mod proptests {
    use proptest::prelude::*;

    use super::*;
    use crate::runfolder::{Slo, SloMetric, StageWindow};

    fn window() -> impl Strategy<Value = StageWindow> {
        (
            prop_oneof![
                Just(WindowKind::Ramp),
                Just(WindowKind::Hold),
                Just(WindowKind::StressStep)
            ],
            any::<usize>(),
            prop_oneof![any::<u64>(), 0u64..200_000],
            prop_oneof![any::<u64>(), 0u64..200_000],
        )
            .prop_map(|(kind, viewers, start_ms, end_ms)| StageWindow {
                name: format!("w {start_ms}"),
                kind,
                viewers,
                start_ms,
                end_ms,
            })
    }

    fn slo() -> impl Strategy<Value = Slo> {
        (
            proptest::sample::select(RequestClass::ALL.to_vec()),
            proptest::sample::select(vec![
                SloMetric::P50,
                SloMetric::P95,
                SloMetric::P99,
                SloMetric::ErrorRate,
                SloMetric::MsPerPoint,
            ]),
            prop_oneof![
                any::<f64>().prop_filter("JSON numbers", |f| f.is_finite()),
                0.0f64..1000.0
            ],
        )
            .prop_map(|(class, metric, max)| Slo { class, metric, max })
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(12))]

        #[test]
        fn prop_run_json_that_is_not_a_run_names_file_line_and_column(
            bytes in proptest::collection::vec(any::<u8>(), 0..300)
        ) {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(files::RUN_META), &bytes).unwrap();
            let err = render_run(dir.path(), &ReportOptions::default()).unwrap_err().to_string();
            prop_assert!(err.contains("run.json"), "{}", err);
            // Not UTF-8 is an I/O error of the file; anything else a JSON error with its place.
            prop_assert!(err.contains(" line ") || err.contains("UTF-8"), "{}", err);
        }

        #[test]
        fn prop_run_json_with_any_windows_and_slos_renders(
            windows in proptest::collection::vec(window(), 0..6),
            slos in proptest::collection::vec(slo(), 0..4),
            ended_s in prop_oneof![Just(None), (0i64..1_000_000).prop_map(Some)],
            interrupted in any::<bool>(),
        ) {
            let (dir, mut meta) = synthetic_dir(100);
            meta.windows = windows;
            meta.slos = slos;
            meta.ended_at = ended_s.map(|s| meta.started_at + chrono::Duration::seconds(s));
            meta.interrupted = interrupted;
            meta.store(dir.path()).unwrap();
            let out = render_run(dir.path(), &ReportOptions::default());
            prop_assert!(out.is_ok(), "{:?}", out.err());
        }
    }
}
