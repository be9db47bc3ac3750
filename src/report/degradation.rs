//! The degradation verdict: how the target behaved over the stress steps past
//! capacity (at or above the fewest viewers on which an SLO failed, or the
//! ladder stopped).
//!
//! Three figures: goodput (successful viewer requests per second) on the
//! worst of those steps as a fraction of the best goodput of any hold or
//! stress step; how the failures happened (429/503 refusals against timeouts
//! and connection errors, and the failed requests' p99); and the share of
//! dashboard loads that still completed. The target degraded *gracefully*
//! when goodput held, failures were fast and not mostly timeouts or
//! connection errors, and enough loads completed ([`DegradationRules`]);
//! otherwise it *collapsed*.

use serde::{Deserialize, Serialize};

use crate::runfolder::{DegradationRules, RequestClass, WindowKind};

use super::collect::{is_http_class, is_viewer_class, ClassAcc, ErrorKind, WindowAcc, FINE_SIGFIG};

/// How most failures past capacity happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Refused: 429 or 503 (the target shed the load).
    Refusals,
    /// No answer in time.
    Timeouts,
    /// Connections refused or reset.
    ConnectionErrors,
    /// Anything else (other 5xx, query errors, 4xx).
    Errors,
}

impl FailureMode {
    fn of(kind: ErrorKind) -> FailureMode {
        match kind {
            ErrorKind::Shed => FailureMode::Refusals,
            ErrorKind::Timeout => FailureMode::Timeouts,
            ErrorKind::Connection => FailureMode::ConnectionErrors,
            _ => FailureMode::Errors,
        }
    }

    /// In words, as the verdict says it.
    pub fn label(self) -> &'static str {
        match self {
            FailureMode::Refusals => "429/503 refusals",
            FailureMode::Timeouts => "timeouts",
            FailureMode::ConnectionErrors => "connection errors",
            FailureMode::Errors => "server or query errors",
        }
    }

    /// Timeouts and connection errors are what a collapse looks like.
    fn is_collapse(self) -> bool {
        matches!(self, FailureMode::Timeouts | FailureMode::ConnectionErrors)
    }
}

/// The verdict over the stress steps past capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// True when every threshold held: graceful; false: a collapse.
    pub graceful: bool,
    /// The one line: "graceful: goodput held at 94 % of peak, …".
    pub verdict: String,
    /// The thresholds missed, in words (empty when graceful).
    pub missed: Vec<String>,
    /// True when `[slo.degradation]` made it a verdict of the run.
    pub judged: bool,
    /// The stress steps judged (at or past the first failed level).
    pub steps: Vec<String>,
    /// Best goodput of any hold or stress step, successful viewer requests/s.
    pub peak_goodput_rps: f64,
    /// The window it was seen on.
    pub peak_window: String,
    /// The lowest goodput among the steps judged.
    pub goodput_rps: f64,
    /// The step it was seen on.
    pub goodput_window: String,
    /// `goodput_rps ÷ peak_goodput_rps`.
    pub goodput_fraction: f64,
    /// Viewer HTTP requests in the steps judged, and those that failed.
    pub requests: u64,
    /// Failed viewer HTTP requests in the steps judged.
    pub failed: u64,
    /// Failed HTTP requests by kind (sync job's included), most first.
    pub failures_by_kind: Vec<(ErrorKind, u64)>,
    /// How most failures happened; `None` without failures.
    pub failure_mode: Option<FailureMode>,
    /// p99 latency of the failed viewer requests, ms.
    pub failed_p99_ms: Option<f64>,
    /// Dashboard loads started in the steps judged.
    pub loads: u64,
    /// The share of them that completed; `None` without loads.
    pub loads_completed: Option<f64>,
    /// The thresholds applied.
    pub rules: DegradationRules,
}

fn pct(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

fn ms(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// What [`assess`] reads of a window's figures (`summary::WindowStats`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepFigures<'a> {
    /// The window's name.
    pub name: &'a str,
    /// Its kind.
    pub kind: WindowKind,
    /// Its viewers.
    pub viewers: usize,
    /// Start, ms since the run's start.
    pub start_ms: u64,
    /// End, ms since the run's start.
    pub end_ms: u64,
    /// Successful viewer requests per second.
    pub viewer_throughput_rps: f64,
}

/// The verdict over the windows of `windows` (with their figures in `stats`,
/// in the same order) that are stress steps at or above `failed_viewers`;
/// `None` when there is no such step (the ladder never went past capacity).
pub fn assess(
    windows: &[WindowAcc],
    stats: &[StepFigures],
    failed_viewers: Option<usize>,
    rules: DegradationRules,
    judged: bool,
) -> Option<Degradation> {
    let failed_viewers = failed_viewers?;
    let past: Vec<(&WindowAcc, &StepFigures)> = windows
        .iter()
        .zip(stats)
        .filter(|(_, s)| s.kind == WindowKind::StressStep && s.viewers >= failed_viewers)
        .filter(|(_, s)| s.end_ms > s.start_ms)
        .collect();
    let (_, worst) = past.iter().min_by(|a, b| {
        a.1.viewer_throughput_rps
            .total_cmp(&b.1.viewer_throughput_rps)
    })?;
    let peak = stats
        .iter()
        .filter(|s| matches!(s.kind, WindowKind::Hold | WindowKind::StressStep))
        .max_by(|a, b| a.viewer_throughput_rps.total_cmp(&b.viewer_throughput_rps))?;
    let goodput_fraction = if peak.viewer_throughput_rps > 0.0 {
        worst.viewer_throughput_rps / peak.viewer_throughput_rps
    } else {
        0.0
    };
    let mut errors = [0u64; 7];
    let mut failed_acc = ClassAcc::new(FINE_SIGFIG);
    let (mut requests, mut failed, mut loads, mut loads_ok) = (0, 0, 0, 0);
    for (w, _) in &past {
        for (e, n) in errors.iter_mut().zip(w.errors) {
            *e += n;
        }
        for class in RequestClass::ALL {
            if is_viewer_class(class) && is_http_class(class) {
                let acc = w.class(class);
                requests += acc.count;
                failed += acc.failed;
                failed_acc.merge(&acc);
            }
        }
        let l = w.counts(RequestClass::DashboardLoad);
        loads += l.count;
        loads_ok += l.count - l.failed;
    }
    let mut by_kind: Vec<(ErrorKind, u64)> = ErrorKind::ALL
        .iter()
        .map(|k| (*k, errors[k.index()]))
        .filter(|(_, n)| *n > 0)
        .collect();
    by_kind.sort_by_key(|k| std::cmp::Reverse(k.1));
    let mut modes: Vec<(FailureMode, u64)> = Vec::new();
    for (k, n) in &by_kind {
        let m = FailureMode::of(*k);
        match modes.iter_mut().find(|(x, _)| *x == m) {
            Some(e) => e.1 += n,
            None => modes.push((m, *n)),
        }
    }
    let failure_mode = modes.iter().max_by_key(|(_, n)| *n).map(|(m, _)| *m);
    let failed_p99_ms = (!failed_acc.failed_hist.is_empty())
        .then(|| failed_acc.failed_hist.value_at_quantile(0.99) as f64 / 1000.0);
    let loads_completed = (loads > 0).then(|| loads_ok as f64 / loads as f64);

    let mut missed = Vec::new();
    if goodput_fraction < rules.min_goodput {
        missed.push(format!(
            "goodput {} of peak, below {}",
            pct(goodput_fraction),
            pct(rules.min_goodput)
        ));
    }
    if let Some(m) = failure_mode.filter(|m| m.is_collapse()) {
        missed.push(format!("failures were mostly {}", m.label()));
    }
    if let Some(p) = failed_p99_ms.filter(|p| *p > rules.max_failure_p99_ms) {
        missed.push(format!(
            "failed requests' p99 {}, above {}",
            ms(p),
            ms(rules.max_failure_p99_ms)
        ));
    }
    if let Some(c) = loads_completed.filter(|c| *c < rules.min_loads_completed) {
        missed.push(format!(
            "{} of dashboard loads completed, below {}",
            pct(c),
            pct(rules.min_loads_completed)
        ));
    }
    let graceful = missed.is_empty();
    // The worst step past capacity is also the best window of the run (a
    // single step past capacity that was the peak): goodput had nothing to
    // fall from, so "held at 100 %" would say nothing.
    let nothing_to_compare = worst.name == peak.name;
    let goodput = if nothing_to_compare {
        format!(
            "goodput not compared ({} is both the only level past capacity and the run's best window)",
            worst.name
        )
    } else if goodput_fraction >= rules.min_goodput {
        format!("goodput held at {} of peak", pct(goodput_fraction))
    } else {
        format!("goodput fell to {} of peak", pct(goodput_fraction))
    };
    let failures = match (failure_mode, failed_p99_ms) {
        (Some(m), Some(p)) => format!("failures were {} (p99 {})", m.label(), ms(p)),
        (Some(m), None) => format!("failures were {}", m.label()),
        (None, _) => "no request failed".to_string(),
    };
    let loads_text = loads_completed
        .map(|c| format!(", {} of dashboard loads completed", pct(c)))
        .unwrap_or_default();
    let verdict = format!(
        "{}: {goodput}, {failures}{loads_text}",
        match (graceful, nothing_to_compare) {
            (false, _) => "collapse",
            (true, false) => "graceful",
            (true, true) => "no collapse seen",
        }
    );
    Some(Degradation {
        graceful,
        verdict,
        missed,
        judged,
        steps: past.iter().map(|(_, s)| s.name.to_string()).collect(),
        peak_goodput_rps: peak.viewer_throughput_rps,
        peak_window: peak.name.to_string(),
        goodput_rps: worst.viewer_throughput_rps,
        goodput_window: worst.name.to_string(),
        goodput_fraction,
        requests,
        failed,
        failures_by_kind: by_kind,
        failure_mode,
        failed_p99_ms,
        loads,
        loads_completed,
        rules,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write as _;
    use std::path::Path;

    use crate::report::recovery::Recovery;
    use crate::report::summary::{SloVerdict, Summary, Verdict};
    use crate::report::synthetic::REQUESTS_HEADER;
    use crate::runfolder::{
        files, PastCapacityRules, RequestClass, RunCounters, RunMeta, Slo, SloMetric, StageWindow,
        TargetSummary, WindowKind,
    };

    use super::*;

    fn window(name: &str, kind: WindowKind, viewers: usize, from_s: u64, to_s: u64) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind,
            viewers,
            start_ms: from_s * 1000,
            end_ms: to_s * 1000,
        }
    }

    /// A run folder: a 30 s hold at 10 viewers, a stress step at 20 (30–60 s),
    /// the recovery phase back at 10 (60–120 s). Panel queries 40 a second;
    /// `row(t_ms)` gives each one's (latency ms, status, error).
    pub(crate) fn run(
        dir: &Path,
        rules: PastCapacityRules,
        row: impl Fn(u64) -> (u64, u16, &'static str),
    ) -> Summary {
        let started = "2026-11-23T10:00:00Z".parse().unwrap();
        let meta = RunMeta {
            dashload_version: "test".into(),
            scenario: "recovery".into(),
            scenario_file: "recovery.toml".into(),
            scenario_digest: "00".into(),
            seed: 1,
            target: TargetSummary {
                kind: "sandbox".into(),
                url: "http://127.0.0.1:1".into(),
                database: None,
            },
            test_plan: String::new(),
            sync_users: 0,
            windows: vec![
                window("stage 1 hold", WindowKind::Hold, 10, 0, 30),
                window("step 1", WindowKind::StressStep, 20, 30, 60),
                window("recovery", WindowKind::Recovery, 10, 60, 120),
            ],
            slos: vec![Slo {
                class: RequestClass::PanelQuery,
                metric: SloMetric::P95,
                max: 1000.0,
            }],
            started_at: started,
            ended_at: Some(started + chrono::Duration::seconds(120)),
            interrupted: false,
            ladder_stop: None,
            counters: RunCounters::default(),
            regression: Default::default(),
            overrides: Vec::new(),
            skipped: Vec::new(),
            past_capacity: rules,
            judged_holds: Default::default(),
        };
        meta.store(dir).unwrap();
        let mut out = std::fs::File::create(dir.join(files::REQUESTS)).unwrap();
        writeln!(out, "{REQUESTS_HEADER}").unwrap();
        for i in 0..120 * 40 {
            let t = i * 25;
            let (ms, status, error) = row(t);
            let ok = status == 200;
            writeln!(
                out,
                "{t},0,viewer,1,,\"GooseRawRequest {{ method: Post, url: \"\"/query\"\", headers: [], body: \"\"\"\", custom_method: \"\"\"\" }}\",panel Hours [7d],/query,false,{ms},{status},{ok},false,{},\"{error}\",0,0,{}",
                i % 20,
                ms * 1000
            )
            .unwrap();
        }
        drop(out);
        crate::report::summarise(dir, &meta, false).unwrap()
    }

    #[test]
    fn one_step_past_capacity_that_is_also_the_peak_is_not_called_graceful() {
        // The step only got slower: same goodput as the hold, so the step past
        // capacity is the run's best window and goodput has nothing to fall from.
        let dir = tempfile::tempdir().unwrap();
        let s = run(dir.path(), PastCapacityRules::default(), |t| match t {
            30_000..60_000 => (2000, 200, ""),
            _ => (50, 200, ""),
        });
        let d = s.degradation.expect("a step past capacity");
        assert_eq!(d.steps, ["step 1"]);
        assert_eq!(d.peak_window, d.goodput_window);
        assert!(
            d.verdict
                .starts_with("no collapse seen: goodput not compared (step 1 is both"),
            "{}",
            d.verdict
        );
        assert!(!d.verdict.contains("graceful"), "{}", d.verdict);
    }

    /// Past capacity (30–60 s) every fourth query is refused at once, or (with
    /// `stall`) three in four time out after 10 s; then slow answers until
    /// 72 s, 12 s into the recovery phase.
    pub(crate) fn shape(stall: bool) -> impl Fn(u64) -> (u64, u16, &'static str) {
        move |t| match t {
            30_000..60_000 if stall && t % 100 != 0 => {
                (10_000, 0, "error sending request: operation timed out")
            }
            30_000..60_000 if !stall && t % 100 == 0 => (1, 503, "503 Service Unavailable"),
            30_000..60_000 => (400, 200, ""),
            60_000..72_000 => (3000, 200, ""),
            _ => (50, 200, ""),
        }
    }

    #[test]
    fn fast_refusals_are_graceful_and_recovery_is_measured_from_the_drop() {
        let dir = tempfile::tempdir().unwrap();
        let rules = PastCapacityRules {
            recovery_max_ms: Some(30_000),
            degradation_judged: true,
            ..Default::default()
        };
        let s = run(dir.path(), rules, shape(false));
        let d = s.degradation.as_ref().expect("a step past capacity");
        assert_eq!(d.steps, ["step 1"]);
        assert!(d.graceful, "{d:?}");
        assert!((d.goodput_fraction - 0.75).abs() < 0.01, "{d:?}");
        assert_eq!(d.failure_mode, Some(FailureMode::Refusals));
        assert!(
            d.verdict.starts_with(
                "graceful: goodput held at 75 % of peak, failures were 429/503 refusals (p99 1"
            ),
            "{}",
            d.verdict
        );
        // The slow answers end 12 s after the drop: the first clean 5 s window
        // is 12..17 s.
        let r = s.recovery.as_ref().expect("a recovery window");
        assert_eq!(r.recovery, Recovery::between(12_000, 17_000));
        assert_eq!(r.verdict, Some(SloVerdict::Pass));
        assert_eq!(s.verdict, Verdict::Pass);
        // The recovery window is no level of load: not a concurrency point.
        assert!(s.concurrency.iter().all(|p| p.kind != WindowKind::Recovery));
        assert!(s.windows.iter().any(|w| w.kind == WindowKind::Recovery));
    }

    #[test]
    fn timeouts_are_a_collapse_and_a_slow_recovery_fails_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let rules = PastCapacityRules {
            recovery_max_ms: Some(10_000),
            degradation_judged: true,
            ..Default::default()
        };
        let s = run(dir.path(), rules, shape(true));
        let d = s.degradation.as_ref().unwrap();
        assert!(!d.graceful, "{d:?}");
        assert_eq!(d.failure_mode, Some(FailureMode::Timeouts));
        assert!(
            d.verdict.starts_with(
                "collapse: goodput fell to 25 % of peak, failures were timeouts (p99 10"
            ),
            "{}",
            d.verdict
        );
        assert_eq!(d.missed.len(), 3, "goodput, timeouts, p99: {:?}", d.missed);
        let r = s.recovery.as_ref().unwrap();
        assert_eq!(r.recovery, Recovery::between(12_000, 17_000));
        assert_eq!(r.verdict, Some(SloVerdict::Fail), "12..17 s > 10 s");
        assert_eq!(
            r.sentence,
            "viewers recovered after 14.5 s (±2.5 s) (panel query recovered after 14.5 s (±2.5 s) (allowed: 10 s))"
        );
        assert!(s.slo_failed);
        assert_eq!(s.verdict, Verdict::Fail);
        // Without the [slo.*] sections both are reported, not judged.
        let dir = tempfile::tempdir().unwrap();
        let s = run(dir.path(), PastCapacityRules::default(), shape(true));
        assert!(!s.degradation.as_ref().unwrap().graceful);
        assert_eq!(s.recovery.as_ref().unwrap().verdict, None);
        assert_eq!(s.verdict, Verdict::Pass);
        // A class's own bound wins over `max`: panel queries may take 20 s.
        let dir = tempfile::tempdir().unwrap();
        let rules = PastCapacityRules {
            recovery_max_ms: Some(10_000),
            recovery_max_by_class: [(RequestClass::PanelQuery, 20_000)].into(),
            ..Default::default()
        };
        let s = run(dir.path(), rules, shape(false));
        let r = s.recovery.as_ref().unwrap();
        assert_eq!(r.classes.len(), 1);
        assert_eq!(r.classes[0].max_ms, Some(20_000));
        assert_eq!(r.classes[0].verdict, Some(SloVerdict::Pass));
        assert_eq!(r.verdict, Some(SloVerdict::Pass));
    }
}
