//! A baseline of several runs (`--baseline median:N`) through `render_run`.

use std::path::{Path, PathBuf};

use super::synthetic::Synthetic;
use super::*;

fn run(root: &Path, name: &str, factor: f64, seed: u64) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Synthetic {
        latency_factor: factor,
        ..Synthetic::new(20_000, seed)
    }
    .write(&dir)
    .unwrap();
    dir
}

fn against(dir: &Path, baselines: &[&PathBuf]) -> (ReportOutcome, Summary) {
    let out = render_run(
        dir,
        &ReportOptions {
            baselines: baselines.iter().map(|b| b.to_path_buf()).collect(),
            baseline_selection: Some("the test's choice".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let s = serde_json::from_slice(&std::fs::read(dir.join(files::SUMMARY)).unwrap()).unwrap();
    (out, s)
}

#[test]
fn each_figure_is_the_median_of_the_baseline_runs_and_every_run_is_named() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let bases = [
        run(r, "b-fast", 0.9, 1),
        run(r, "b-mid", 1.0, 2),
        run(r, "b-slow", 1.1, 3),
    ];
    let current = run(r, "current", 1.0, 4);
    let (out, s) = against(&current, &bases.iter().collect::<Vec<_>>());
    let cmp = s.baseline.as_ref().unwrap();
    assert_eq!(
        cmp.runs
            .iter()
            .map(|b| PathBuf::from(&b.dir))
            .collect::<Vec<_>>(),
        bases.to_vec()
    );
    assert_eq!(cmp.dir, bases[0].display().to_string());
    assert_eq!(cmp.selection.as_deref(), Some("the test's choice"));
    // The baseline value of every hold window's panel-query p95 and error rate is
    // the median of the three runs' own values.
    let own: Vec<Summary> = bases
        .iter()
        .map(|b| summarise(b, &RunMeta::load(b).unwrap(), false).unwrap())
        .collect();
    let mut checked = 0;
    for d in cmp.windows.iter().filter(|d| d.judged) {
        let class = d.figure.split(' ').take(2).collect::<Vec<_>>().join(" ");
        let values: Vec<Option<f64>> = own
            .iter()
            .map(|s| {
                let w = s.windows.iter().find(|w| w.name == d.scope)?;
                let c = w.classes.iter().find(|c| c.class.label() == class)?;
                if d.figure.ends_with("error rate") {
                    c.error_rate
                } else {
                    let l = c.latency?;
                    Some(match d.figure.split(' ').nth(2) {
                        Some("p50") => l.p50,
                        Some("p95") => l.p95,
                        _ => l.p99,
                    })
                }
            })
            .collect();
        assert_eq!(d.baseline, baseline::median(values), "{d:?}");
        checked += 1;
    }
    assert!(checked >= 8, "{checked} judged figures checked");
    // A p95 of a window in the middle run lies between the others: the median is its own.
    let html = std::fs::read_to_string(current.join(files::REPORT_HTML)).unwrap();
    assert!(html.contains("the median of 3 runs"));
    for b in &bases {
        assert!(
            html.contains(&b.display().to_string()),
            "{} named",
            b.display()
        );
        assert!(out.text.contains(&b.display().to_string()), "{}", out.text);
    }
    assert!(out.text.contains("chosen: the test's choice"));
}

#[test]
fn copies_of_one_run_pooled_pass_that_run_and_flag_a_slower_one() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let base = run(r, "base", 1.0, 42);
    let copies = [&base, &base, &base];
    let again = run(r, "again", 1.0, 42);
    let (out, s) = against(&again, &copies);
    assert!(!out.regression, "{}", out.text);
    let cmp = s.baseline.unwrap();
    assert_eq!(cmp.runs.len(), 3);
    let judged: Vec<_> = cmp.windows.iter().filter(|d| d.sure.is_some()).collect();
    assert!(judged.len() >= 8, "{judged:?}");
    // The same samples: no draw majority finds it worse (few-sample figures
    // such as a dashboard-load p95 over ~100 loads stay noisy, well below 95 %).
    assert!(judged.iter().all(|d| d.sure.unwrap() < 0.5), "{judged:?}");
    assert!(judged.iter().all(|d| d.change == Some(0.0)), "{judged:?}");

    let slow = run(r, "slow", 1.5, 42);
    let (out, s) = against(&slow, &copies);
    assert!(out.regression, "{}", out.text);
    assert!(s
        .baseline
        .unwrap()
        .windows
        .iter()
        .any(|d| d.regression && d.figure == "panel query p95 ms"));
}
