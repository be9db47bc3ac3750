//! Analysis: folded input + `run.json` → [`Summary`]. Pure, no I/O, no drawing.
//!
//! Definitions the page and `summary.json` rely on live here:
//! - **Judged windows** are the hold windows (`WindowKind::Hold`); the run
//!   fails when any SLO fails on one. Stress steps are evaluated the same way
//!   but only reported: they are expected to break.
//! - **SLO on a window**: p50/p95/p99 (ms) of the SLO's class over the
//!   *successful* requests started in the window (failed ones have their own
//!   latency), and error rate (fraction) over all of them; `ms_per_point`
//!   is the window's summed batch write time ÷ summed points from
//!   `ingest.csv`. An SLO is judged only on enough samples ([`super::judge`]:
//!   p95 needs 20 successful requests); a window passes only when every SLO
//!   on it was judged and held, and is *not judged* otherwise (unless one
//!   failed). A run passes on the holds judged whole (the others are named in
//!   `Summary::partly_judged`); one with hold windows and SLOs none of whose
//!   holds was judged is NOT JUDGED, with the reason in `Summary::unmeasured`,
//!   and fails.
//! - **Capacity**: over hold windows and stress steps sorted by viewers, the
//!   most viewers of a window on which no SLO failed and every viewer-class SLO
//!   was judged and held, below the fewest viewers on which one failed (a lucky
//!   window above a failure does not count). `None` without SLOs or without a
//!   window that held. The **bracket** adds the fewest viewers on which an SLO
//!   failed, the SLO
//!   furthest past its bound there (observed ÷ bound), and the headroom:
//!   capacity ÷ the most viewers of the planned stages' holds.
//! - **Knee**: see [`knee`].
//! - **HTTP requests** (totals, windows, throughput, errors) count HTTP calls
//!   only; dashboard loads, transforms, sync runs and freshness lags are
//!   operations, counted in their classes and in `Totals::operations`.

use crate::runfolder::{RequestClass, RunMeta, WindowKind};

use super::collect::{is_http_class, is_viewer_class, ClassAcc, Collected, ErrorKind, WindowAcc};
use super::latency::{failed_latency, latency};
use super::summary::*;

/// The knee is where the throughput added per added viewer falls below this
/// fraction of the initial throughput per viewer.
pub const KNEE_FRACTION: f64 = 0.5;

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Counts and latencies of one class.
pub fn class_stats(class: RequestClass, acc: &ClassAcc) -> ClassStats {
    ClassStats {
        class,
        count: acc.count,
        failed: acc.failed,
        error_rate: ratio(acc.failed, acc.count),
        latency: latency(acc),
        failed_latency: failed_latency(acc),
    }
}

fn present(classes: impl Iterator<Item = (RequestClass, ClassAcc)>) -> Vec<ClassStats> {
    classes
        .filter(|(_, acc)| acc.count > 0)
        .map(|(class, acc)| class_stats(class, &acc))
        .collect()
}

pub use super::judge::combine;

/// `Some(true)` when the window's viewer-class SLOs were all judged and held
/// (and there was at least one), `None` otherwise.
fn viewer_slos_held(slos: &[SloResult], window: &str) -> Option<bool> {
    let mut viewer = slos
        .iter()
        .filter(|r| r.window == window && r.class.is_viewer())
        .peekable();
    viewer.peek()?;
    viewer
        .all(|r| r.verdict == SloVerdict::Pass)
        .then_some(true)
}

/// Capacity from `(viewers, held)` points (`held: None` = no SLO had data):
/// the most viewers that held, below the fewest viewers that failed.
pub fn capacity(points: &[(usize, Option<bool>)]) -> Option<usize> {
    let first_broken = points
        .iter()
        .filter(|(_, held)| *held == Some(false))
        .map(|(v, _)| *v)
        .min()
        .unwrap_or(usize::MAX);
    points
        .iter()
        .filter(|(v, held)| *held == Some(true) && *v < first_broken)
        .map(|(v, _)| *v)
        .max()
}

/// The bracket with the level the stress ladder stopped at as a failed level
/// when no lower level failed its SLOs: the ladder's stop rule judged that
/// step broken on its own samples (once it had as many as the live rule asks),
/// while the step, cut short by that very stop, may hold too few samples for
/// the report to judge its SLOs. Without this the bracket could say "no level
/// failed" of a run whose ladder stopped because a level failed.
pub fn with_ladder_stop(
    bracket: Option<CapacityBracket>,
    stop: Option<&crate::runfolder::LadderStop>,
    planned_peak: Option<usize>,
) -> Option<CapacityBracket> {
    let Some(stop) = stop else {
        return bracket;
    };
    let mut b = bracket.unwrap_or_else(|| CapacityBracket {
        held_viewers: None,
        held_window: None,
        failed_viewers: None,
        failed_window: None,
        failing_slo: None,
        planned_peak: planned_peak.filter(|p| *p > 0),
        headroom: None,
    });
    if b.failed_viewers.is_none_or(|f| f > stop.viewers) {
        b.failed_viewers = Some(stop.viewers);
        b.failed_window = Some(stop.step.clone());
        b.failing_slo = None;
    }
    Some(b)
}

/// The capacity bracket from the concurrency points (sorted or not), every SLO
/// result, and the planned peak of the stages; `None` when no level held or failed.
pub fn capacity_bracket(
    points: &[ConcurrencyPoint],
    slos: &[SloResult],
    planned_peak: Option<usize>,
) -> Option<CapacityBracket> {
    let held = capacity(
        &points
            .iter()
            .map(|p| (p.viewers, p.held))
            .collect::<Vec<_>>(),
    );
    let failed = points
        .iter()
        .filter(|p| p.held == Some(false))
        .min_by_key(|p| p.viewers);
    if held.is_none() && failed.is_none() {
        return None;
    }
    let held_window = held.and_then(|v| {
        points
            .iter()
            .filter(|p| p.viewers == v && p.held == Some(true))
            .map(|p| p.window.clone())
            .next_back()
    });
    let failing_slo = failed.and_then(|f| {
        slos.iter()
            .filter(|r| r.window == f.window && r.verdict == SloVerdict::Fail)
            .filter_map(|r| {
                let observed = r.observed?;
                let past = if r.max > 0.0 {
                    observed / r.max
                } else {
                    f64::INFINITY
                };
                Some((past, r))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, r)| FailingSlo {
                class: r.class,
                metric: r.metric,
                observed: r.observed.unwrap_or_default(),
                max: r.max,
            })
    });
    let planned_peak = planned_peak.filter(|p| *p > 0);
    Some(CapacityBracket {
        held_viewers: held,
        held_window,
        failed_viewers: failed.map(|f| f.viewers),
        failed_window: failed.map(|f| f.window.clone()),
        failing_slo,
        planned_peak,
        headroom: match (held, planned_peak) {
            (Some(h), Some(p)) => Some(h as f64 / p as f64),
            _ => None,
        },
    })
}

/// The knee of `(viewers, throughput, window)` points, with `fraction` (see
/// [`KNEE_FRACTION`]).
///
/// Points with the same viewers are averaged; points are sorted by viewers.
/// The initial slope is throughput ÷ viewers at the lowest count (the line
/// from zero). Walking up, the slope of each step is added throughput ÷
/// added viewers; the first step whose slope is below `fraction` × the
/// initial slope ends the linear part, and the knee is the count just before
/// it. `None` with fewer than two counts, no throughput, or no such step.
pub fn knee(points: &[(usize, f64, &str)], fraction: f64) -> Option<Knee> {
    let mut levels: Vec<(usize, f64, usize, &str)> = Vec::new();
    let mut sorted: Vec<_> = points.iter().filter(|p| p.0 > 0).collect();
    sorted.sort_by_key(|p| p.0);
    for &&(v, t, name) in &sorted {
        match levels.last_mut() {
            Some(last) if last.0 == v => {
                last.1 += t;
                last.2 += 1;
            }
            _ => levels.push((v, t, 1, name)),
        }
    }
    let levels: Vec<(usize, f64, &str)> = levels
        .into_iter()
        .map(|(v, sum, n, name)| (v, sum / n as f64, name))
        .collect();
    let (v0, t0, _) = *levels.first()?;
    let initial = t0 / v0 as f64;
    if initial.is_nan() || initial <= 0.0 {
        return None;
    }
    levels.windows(2).find_map(|pair| {
        let ((va, ta, _), (vb, tb, name)) = (pair[0], pair[1]);
        let slope = (tb - ta) / (vb - va) as f64;
        (slope < fraction * initial).then(|| Knee {
            viewers: va,
            next_viewers: vb,
            next_window: name.to_string(),
            slope_ratio: slope / initial,
            fraction,
        })
    })
}

/// `(subject, range)` of a request name: `panel Hours [7d]` → (`Hours`, `7d`).
pub fn split_name(name: &str, class: RequestClass) -> (String, Option<String>) {
    let rest = match class {
        RequestClass::Other => name,
        _ => name.split_once(' ').map_or("", |(_, r)| r),
    };
    let rest = rest.trim();
    if let Some(open) = rest.rfind(" [") {
        if rest.ends_with(']') {
            return (
                rest[..open].trim().to_string(),
                Some(rest[open + 2..rest.len() - 1].to_string()),
            );
        }
    }
    (rest.to_string(), None)
}

/// Percentiles the distribution curve is drawn through.
pub const CURVE_PERCENTILES: [f64; 16] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999,
    100.0,
];

/// The latency distribution of `acc`: ten log-spaced bins per decade, and
/// the percentile curve; `None` without latencies.
pub fn distribution(class: RequestClass, acc: &ClassAcc) -> Option<Distribution> {
    if acc.hist.is_empty() {
        return None;
    }
    let mut bins: std::collections::BTreeMap<i32, u64> = Default::default();
    for v in acc.hist.iter_recorded() {
        let ms = (v.value_iterated_to() as f64 / 1000.0).max(0.01);
        *bins.entry((ms.log10() * 10.0).floor() as i32).or_default() += v.count_at_value();
    }
    Some(Distribution {
        class,
        bins: bins
            .into_iter()
            .map(|(i, count)| Bin {
                lo_ms: 10f64.powf(i as f64 / 10.0),
                hi_ms: 10f64.powf((i + 1) as f64 / 10.0),
                count,
            })
            .collect(),
        percentiles: CURVE_PERCENTILES
            .iter()
            .map(|p| (*p, acc.hist.value_at_quantile(p / 100.0) as f64 / 1000.0))
            .collect(),
    })
}

fn window_stats(w: &WindowAcc, slos: &[SloResult]) -> WindowStats {
    let duration_s = (w.window.end_ms.saturating_sub(w.window.start_ms)) as f64 / 1000.0;
    let per_s = |n: u64| {
        if duration_s > 0.0 {
            n as f64 / duration_s
        } else {
            0.0
        }
    };
    let accs: Vec<_> = RequestClass::ALL.iter().map(|c| w.class(*c)).collect();
    let all = RequestClass::ALL.iter().zip(accs.iter().map(|a| &**a));
    let (requests, failed) = (w.http.count, w.http.failed);
    let viewer_ok = all
        .clone()
        .filter(|(c, _)| is_viewer_class(**c) && is_http_class(**c))
        .map(|(_, a)| a.count - a.failed)
        .sum();
    WindowStats {
        name: w.window.name.clone(),
        kind: w.window.kind,
        viewers: w.window.viewers,
        start_ms: w.window.start_ms,
        end_ms: w.window.end_ms,
        requests,
        failed,
        throughput_rps: per_s(requests - failed),
        viewer_throughput_rps: per_s(viewer_ok),
        classes: present(
            all.filter(|(_, a)| a.count > 0)
                .map(|(c, a)| (*c, a.clone())),
        ),
        ingest: w.ingest,
        verdict: combine(
            slos.iter()
                .filter(|s| s.window == w.window.name)
                .map(|s| s.verdict),
        ),
        replaced_by_refresh: w.replaced,
    }
}

fn slo_results(meta: &RunMeta, c: &Collected) -> Vec<SloResult> {
    let mut out = Vec::new();
    for w in &c.windows {
        if w.window.kind == WindowKind::Ramp {
            continue;
        }
        let capped = meta
            .judged_holds
            .iter()
            .find(|h| h.window == w.window.name && !h.judged);
        for slo in &meta.slos {
            let mut j = super::judge::judge(slo, &w.class(slo.class), &w.ingest);
            if let (Some(h), SloVerdict::NoData) = (capped, j.verdict) {
                // Not a hold too short by choice: it waited for the samples up to its cap.
                let cap = crate::scenario::duration::format_duration(
                    std::time::Duration::from_millis(h.at_most_ms),
                );
                j.note = Some(format!(
                    "{}; the hold hit its cap (until judged, at most {cap})",
                    j.note.unwrap_or_default()
                ));
            }
            out.push(SloResult {
                window: w.window.name.clone(),
                window_kind: w.window.kind,
                judged: w.window.kind == WindowKind::Hold,
                class: slo.class,
                metric: slo.metric,
                max: slo.max,
                observed: j.observed,
                verdict: j.verdict,
                note: j.note,
            });
        }
    }
    out
}

fn series(c: &Collected) -> Series {
    Series {
        bucket_ms: c.buckets.width_ms,
        buckets: c
            .buckets
            .buckets
            .iter()
            .map(|b| {
                let classes: Vec<(RequestClass, &ClassAcc)> = RequestClass::ALL
                    .iter()
                    .filter_map(|class| b.class(*class).map(|a| (*class, a)))
                    .collect();
                SeriesBucket {
                    ok: b.http.count - b.http.failed,
                    failed: b.http.failed,
                    errors: b.errors.to_vec(),
                    points: b.ingest.points,
                    classes: classes
                        .iter()
                        .filter_map(|(class, a)| Some((*class, latency(a)?)))
                        .collect(),
                }
            })
            .collect(),
        goose_users: c.goose_users.clone(),
    }
}

fn notes(c: &Collected, meta: &RunMeta) -> Vec<String> {
    let mut notes = Vec::new();
    let req = &c.requests_input;
    if !req.used || req.rows == 0 {
        if c.goose_input.used && c.goose_input.rows > 0 {
            notes.push("No usable request log: figures come from Goose's report.json aggregates; latencies per window and over time are not available, so latency SLOs have no data.".into());
        } else {
            notes.push("No requests were recorded: there is nothing to judge.".into());
        }
    }
    let fallback = !req.used || req.rows == 0;
    for (file, input) in [
        ("requests.csv", req),
        ("ingest.csv", &c.ingest_input),
        ("report.json", &c.goose_input),
    ] {
        if file == "report.json" && !fallback {
            continue;
        }
        if let Some(note) = &input.note {
            notes.push(format!("{file}: {note}"));
        }
        for problem in input.problems() {
            notes.push(format!("{file}: {problem}"));
        }
        if input.truncated_last_line {
            notes.push(format!(
                "{file}: the last line was cut short and was skipped"
            ));
        }
    }
    if meta.windows.is_empty() {
        notes.push("run.json lists no stage windows: nothing is judged and there are no per-window figures.".into());
    } else if !meta.windows.iter().any(|w| w.kind == WindowKind::Hold) {
        notes.push("The run has no hold window: SLOs are reported per stress step but the run is not judged.".into());
    }
    notes.extend(meta.judged_holds.iter().map(judged_hold_note));
    if meta.slos.is_empty() {
        notes.push("The scenario sets no SLOs: no verdicts and no capacity.".into());
    }
    if meta.ended_at.is_none() {
        notes.push(
            "run.json has no end time: the run's length is taken from its last request.".into(),
        );
    }
    notes
}

/// How a hold written "until judged, at most X" ended, in words.
fn judged_hold_note(h: &crate::runfolder::JudgedHold) -> String {
    let cap =
        crate::scenario::duration::format_duration(std::time::Duration::from_millis(h.at_most_ms));
    let held = h.held_ms as f64 / 1000.0;
    if h.judged {
        format!(
            "{} held until judged: {held:.1} s of at most {cap}, when every figure judged on it had its samples.",
            h.window
        )
    } else if h.short.is_empty() {
        format!(
            "{} (until judged, at most {cap}) ended after {held:.1} s, before it was judged.",
            h.window
        )
    } else {
        format!(
            "{} hit its cap: held {held:.1} s (until judged, at most {cap}) and still lacked {}.",
            h.window,
            h.short.join("; ")
        )
    }
}

/// Why a run with hold windows and SLOs was not judged: the SLOs that lacked
/// samples, the first few by name.
fn unjudged_reason(judged: &[&SloResult]) -> String {
    const SHOWN: usize = 3;
    let missing: Vec<_> = judged
        .iter()
        .filter(|r| r.verdict == SloVerdict::NoData)
        .collect();
    let mut parts: Vec<String> = missing
        .iter()
        .take(SHOWN)
        .map(|r| {
            format!(
                "{}: {} {}: {}",
                r.window,
                r.class.label(),
                r.metric.label(),
                r.note.as_deref().unwrap_or("no data")
            )
        })
        .collect();
    if missing.len() > SHOWN {
        parts.push(format!("and {} more", missing.len() - SHOWN));
    }
    format!(
        "{} of {} SLO checks on hold windows lacked the samples to judge them ({})",
        missing.len(),
        judged.len(),
        parts.join("; ")
    )
}

/// Why the rows read cannot stand for the run: more than
/// [`SET_ASIDE_SHARE`](super::collect::SET_ASIDE_SHARE) of a log's rows were
/// unreadable or out of range (the rows lost may have been its failures).
fn set_aside_reason(c: &Collected) -> Option<String> {
    let parts: Vec<String> = [
        ("requests.csv", &c.requests_input),
        ("ingest.csv", &c.ingest_input),
    ]
    .into_iter()
    .filter_map(|(file, input)| {
        let share = input.set_aside_share()?;
        (share > super::collect::SET_ASIDE_SHARE).then(|| {
            format!(
                "{file}: {} of {} rows ({:.2} %) unreadable or out of range ({})",
                input.set_aside(),
                input.rows + input.set_aside(),
                share * 100.0,
                input.problems().join("; ")
            )
        })
    })
    .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "{}: more than {} % of the rows were lost, so the rest cannot stand for the run",
            parts.join("; "),
            super::collect::SET_ASIDE_SHARE * 100.0
        )
    })
}

/// Analyse a run: everything the report states, without a baseline.
pub fn analyse(meta: &RunMeta, c: &Collected) -> Summary {
    let slos = slo_results(meta, c);
    let windows: Vec<WindowStats> = c.windows.iter().map(|w| window_stats(w, &slos)).collect();
    let judged_slos: Vec<&SloResult> = slos.iter().filter(|s| s.judged).collect();
    let slo_failed = judged_slos.iter().any(|s| s.verdict == SloVerdict::Fail);
    // A run passes on the hold windows that were judged whole; it is NOT JUDGED
    // only when none was (a hold without enough samples is named, not counted).
    let any_judged_window = windows.iter().any(|w| {
        w.kind == WindowKind::Hold
            && w.verdict == SloVerdict::Pass
            && judged_slos.iter().any(|s| s.window == w.name)
    });
    let verdict = match combine(judged_slos.iter().map(|s| s.verdict)) {
        SloVerdict::Fail => Verdict::Fail,
        SloVerdict::Pass => Verdict::Pass,
        SloVerdict::NoData if any_judged_window => Verdict::Pass,
        SloVerdict::NoData => Verdict::NotJudged,
    };
    let partly_judged = (verdict == Verdict::Pass
        && judged_slos.iter().any(|s| s.verdict == SloVerdict::NoData))
    .then(|| unjudged_reason(&judged_slos));
    let mut unmeasured = (verdict == Verdict::NotJudged && !judged_slos.is_empty())
        .then(|| unjudged_reason(&judged_slos));
    // Too many rows lost: what was read cannot stand for the run.
    let lost = set_aside_reason(c);
    if let Some(lost) = &lost {
        unmeasured = Some(match unmeasured {
            Some(why) => format!("{lost}; {why}"),
            None => lost.clone(),
        });
    }
    let verdict = match verdict {
        Verdict::Pass if lost.is_some() => Verdict::NotJudged,
        v => v,
    };
    let mut steps: Vec<&WindowStats> = windows
        .iter()
        .filter(|w| w.kind == WindowKind::StressStep)
        .collect();
    steps.sort_by_key(|w| w.viewers);
    let first_break = steps
        .iter()
        .find(|w| w.verdict == SloVerdict::Fail)
        .map(|w| w.name.clone());

    let mut concurrency: Vec<ConcurrencyPoint> = c
        .windows
        .iter()
        .zip(&windows)
        // Levels of load: the recovery phase is judged on its time to recover.
        .filter(|(_, s)| matches!(s.kind, WindowKind::Hold | WindowKind::StressStep))
        .filter(|(_, s)| s.viewers > 0)
        .map(|(w, s)| ConcurrencyPoint {
            window: s.name.clone(),
            kind: s.kind,
            viewers: s.viewers,
            viewer_throughput_rps: s.viewer_throughput_rps,
            p95_ms: RequestClass::ALL
                .iter()
                .filter_map(|class| Some((*class, latency(&w.class(*class))?.p95)))
                .collect(),
            held: match s.verdict {
                SloVerdict::Pass => Some(true),
                SloVerdict::Fail => Some(false),
                // Capacity is counted in viewers: a level held when the viewers'
                // SLOs were judged and held, even if the sync job (one user, a
                // batch every few seconds) had too few samples for its own.
                SloVerdict::NoData => viewer_slos_held(&slos, &s.name),
            },
        })
        .collect();
    concurrency.sort_by_key(|p| p.viewers);
    let capacity_found = if meta.slos.is_empty() || lost.is_some() {
        None
    } else {
        capacity(
            &concurrency
                .iter()
                .map(|p| (p.viewers, p.held))
                .collect::<Vec<_>>(),
        )
    };
    let bracket = if meta.slos.is_empty() || lost.is_some() {
        None
    } else {
        let planned = meta
            .windows
            .iter()
            .filter(|w| w.kind == WindowKind::Hold)
            .map(|w| w.viewers)
            .max();
        with_ladder_stop(
            capacity_bracket(&concurrency, &slos, planned),
            meta.ladder_stop.as_ref(),
            planned,
        )
    };
    let steps: Vec<super::degradation::StepFigures> = windows
        .iter()
        .map(|w| super::degradation::StepFigures {
            name: &w.name,
            kind: w.kind,
            viewers: w.viewers,
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            viewer_throughput_rps: w.viewer_throughput_rps,
        })
        .collect();
    let degradation = super::degradation::assess(
        &c.windows,
        &steps,
        bracket
            .as_ref()
            .and_then(|b| b.failed_viewers)
            .or(meta.ladder_stop.as_ref().map(|s| s.viewers)),
        meta.past_capacity.degradation,
        meta.past_capacity.degradation_judged,
    );
    let recovery = recovery_summary(meta, c);
    let (verdict, slo_failed, unmeasured) = past_capacity_verdict(
        (verdict, slo_failed, unmeasured),
        recovery.as_ref(),
        degradation.as_ref(),
    );
    let knee_found = knee(
        &concurrency
            .iter()
            .map(|p| (p.viewers, p.viewer_throughput_rps, p.window.as_str()))
            .collect::<Vec<_>>(),
        KNEE_FRACTION,
    );

    let mut judged_acc: Vec<ClassAcc> = RequestClass::ALL
        .iter()
        .map(|_| ClassAcc::new(super::collect::FINE_SIGFIG))
        .collect();
    for w in c
        .windows
        .iter()
        .filter(|w| w.window.kind == WindowKind::Hold)
    {
        for (acc, class) in judged_acc.iter_mut().zip(RequestClass::ALL) {
            acc.merge(&w.class(class));
        }
    }

    let end_ms = meta
        .ended_at
        .map(|e| (e - meta.started_at).num_milliseconds().max(0) as u64)
        .unwrap_or_else(|| {
            let last_window = meta.windows.iter().map(|w| w.end_ms).max().unwrap_or(0);
            c.last_elapsed_ms.max(last_window)
        });
    let duration_s = end_ms as f64 / 1000.0;
    // `summarise` has already dropped the windows the run never reached.
    let peak_viewers = meta.windows.iter().map(|w| w.viewers).max().unwrap_or(0);
    let goose_peak = c
        .goose_users
        .iter()
        .map(|(_, u)| *u as usize)
        .max()
        .unwrap_or(0);
    let (requests, failed) = (c.http.count, c.http.failed);
    let operations = RequestClass::ALL
        .iter()
        .zip(&c.operations)
        .filter(|(_, t)| t.count > 0)
        .map(|(class, t)| Operation {
            class: *class,
            count: t.count,
            failed: t.failed,
            error_rate: ratio(t.failed, t.count),
        })
        .collect();

    let mut names: Vec<NameStats> = c
        .names
        .iter()
        .map(|n| {
            let (subject, range) = split_name(&n.name, n.class);
            NameStats {
                name: n.name.clone(),
                class: n.class,
                subject,
                range,
                stats: class_stats(n.class, &n.acc),
                by_kind: n
                    .by_kind
                    .iter()
                    .map(|(k, a)| (*k, class_stats(n.class, a)))
                    .collect(),
                answers: meta
                    .counters
                    .answers
                    .get(&n.name)
                    .filter(|a| a.answers > 0)
                    .map(|a| AnswerSize {
                        bytes: a.bytes as f64 / a.answers as f64,
                        series: a.series as f64 / a.answers as f64,
                    }),
            }
        })
        .collect();
    names.sort_by(|a, b| (a.class, &a.subject, &a.range).cmp(&(b.class, &b.subject, &b.range)));

    let mut messages: Vec<ErrorMessage> = c
        .messages
        .iter()
        .map(|(m, n)| ErrorMessage {
            message: m.clone(),
            count: *n,
        })
        .collect();
    messages.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.message.cmp(&b.message))
    });

    Summary {
        schema: SCHEMA_VERSION,
        run: RunInfo {
            scenario: meta.scenario.clone(),
            scenario_file: meta.scenario_file.clone(),
            scenario_digest: meta.scenario_digest.clone(),
            dashload_version: meta.dashload_version.clone(),
            seed: meta.seed,
            target: meta.target.clone(),
            test_plan: meta.test_plan.clone(),
            started_at: meta.started_at,
            ended_at: meta.ended_at,
            duration_s,
            peak_viewers,
            // Active users: Goose's own count also holds the viewers launched
            // above the ladder's cap, which stay idle and send nothing.
            peak_users: if peak_viewers > 0 {
                peak_viewers + meta.sync_users
            } else {
                goose_peak
            },
            sync_users: meta.sync_users,
            interrupted: meta.interrupted,
            ladder_stop: meta.ladder_stop.clone(),
            counters: meta.counters.clone(),
            skipped: meta.skipped.clone(),
        },
        inputs: Inputs {
            requests: c.requests_input.clone(),
            ingest: c.ingest_input.clone(),
            goose_report: c.goose_input.clone(),
            notes: notes(c, meta),
        },
        totals: Totals {
            requests,
            failed,
            error_rate: ratio(failed, requests),
            outside_log: meta.counters.outside_log_calls(),
            cancelled: c.cancelled,
            replaced_by_refresh: c.replaced,
            operations,
        },
        overall: present(
            RequestClass::ALL
                .iter()
                .copied()
                .zip(c.totals.iter().cloned()),
        ),
        judged: present(RequestClass::ALL.iter().copied().zip(judged_acc)),
        windows,
        slos,
        verdict,
        slo_failed,
        unmeasured,
        partly_judged,
        first_break,
        concurrency,
        capacity: capacity_found,
        capacity_bracket: bracket,
        knee: knee_found,
        distributions: RequestClass::ALL
            .iter()
            .zip(&c.totals)
            .filter_map(|(class, acc)| distribution(*class, acc))
            .collect(),
        names,
        errors: ErrorSummary {
            total: c.errors.iter().sum(),
            by_kind: ErrorKind::ALL
                .iter()
                .map(|k| (*k, c.errors[k.index()]))
                .filter(|(_, n)| *n > 0)
                .collect(),
            messages,
            other_messages: c.other_messages,
        },
        sync: SyncStats {
            ingest: c.ingest,
            ms_per_point: c.ingest.ms_per_point(),
            points_per_s: (duration_s > 0.0 && c.ingest.batches > 0)
                .then(|| c.ingest.points as f64 / duration_s),
            resilience: None,
        },
        series: series(c),
        latency_series: super::latency_series::build(
            &c.buckets,
            &super::latency_series::LATENCY_CLASSES,
        ),
        baseline: None,
        regression: false,
        health: super::health::RunHealth::new(c.hold_seconds.evenness(), None),
        server: None,
        recovery,
        degradation,
        faults: Vec::new(),
        live: None,
        workers: None,
    }
}

/// The time to recover of the run's first `recovery` window, per request
/// class and as the viewers' headline, with the verdicts against
/// `[slo.recovery]` (per class: its own bound, else `max`).
fn recovery_summary(meta: &RunMeta, c: &Collected) -> Option<RecoverySummary> {
    use super::format::seconds;
    use super::recovery::{self as rec};
    let w = c
        .windows
        .iter()
        .map(|w| &w.window)
        .find(|w| w.kind == WindowKind::Recovery)?;
    let rules = &meta.past_capacity;
    let checks = rec::per_class(
        &c.buckets,
        &meta.slos,
        w.start_ms,
        w.end_ms.saturating_sub(w.start_ms),
        rules.recovery_window_ms,
    );
    let headline = rec::headline(&checks);
    let viewers = checks
        .iter()
        .any(|(class, _)| super::collect::is_viewer_class(*class));
    let classes: Vec<ClassRecovery> = checks
        .iter()
        .map(|(class, check)| {
            let own = rules.recovery_max_by_class.get(class).copied();
            // `max` bounds every class measured; a class's own bound asks for
            // a verdict even when it could not be measured.
            let max = own.or(rules
                .recovery_max_ms
                .filter(|_| !matches!(check.recovery, rec::Recovery::NotJudged { .. })));
            let mut sentence = format!("{} {}", class.label(), check.recovery.sentence());
            if let Some(max) = max {
                sentence.push_str(&format!(" (allowed: {})", seconds(max)));
            }
            ClassRecovery {
                class: *class,
                recovery: check.recovery.clone(),
                left_out: check.left_out.clone(),
                max_ms: max,
                verdict: max.map(|max| check.recovery.verdict_within(max)),
                sentence,
            }
        })
        .collect();
    let bounded = rules.recovery_max_ms.is_some() || !rules.recovery_max_by_class.is_empty();
    // No class measured under a bound: not judged (`combine` of nothing).
    let verdict = bounded.then(|| super::judge::combine(classes.iter().filter_map(|k| k.verdict)));
    let mut sentence = String::new();
    if viewers {
        sentence.push_str("viewers ");
    }
    sentence.push_str(&headline.sentence());
    let said = |pick: bool| -> Vec<&str> {
        classes
            .iter()
            .filter(|k| super::collect::is_viewer_class(k.class) == pick)
            .map(|k| k.sentence.as_str())
            .collect()
    };
    if viewers {
        sentence.push_str(&format!(" ({})", said(true).join(", ")));
        for other in said(false) {
            sentence.push_str(&format!("; {other}"));
        }
    } else if let [only] = classes.as_slice() {
        sentence = only.sentence.clone();
    } else {
        sentence.push_str(&format!(" ({})", said(false).join(", ")));
    }
    Some(RecoverySummary {
        window: w.name.clone(),
        viewers: w.viewers,
        start_ms: w.start_ms,
        end_ms: w.end_ms,
        sliding_window_ms: rules.recovery_window_ms,
        recovery: headline,
        left_out: checks
            .iter()
            .flat_map(|(_, check)| check.left_out.iter().cloned())
            .collect(),
        max_ms: rules.recovery_max_ms,
        verdict,
        sentence,
        classes,
    })
}

/// The run's verdict with `[slo.recovery]` and `[slo.degradation]`: a missed
/// recovery or a collapse fails it; a recovery with a bound that could not be
/// judged leaves a passing run NOT JUDGED.
fn past_capacity_verdict(
    (mut verdict, mut failed, mut unmeasured): (Verdict, bool, Option<String>),
    recovery: Option<&RecoverySummary>,
    degradation: Option<&super::degradation::Degradation>,
) -> (Verdict, bool, Option<String>) {
    if let Some(r) = recovery {
        fold_bound(
            r.verdict,
            || format!("[slo.recovery]: {}", r.sentence),
            (&mut verdict, &mut failed, &mut unmeasured),
        );
    }
    if degradation.is_some_and(|d| d.judged && !d.graceful) {
        failed = true;
    }
    if failed {
        verdict = Verdict::Fail;
    }
    (verdict, failed, unmeasured)
}

/// Fold a bound's verdict (`[slo.recovery]`, a fault's `recover_within`) into
/// the run's: a failed one fails the run; one that could not be judged leaves a
/// passing run NOT JUDGED, saying `why`.
pub(super) fn fold_bound(
    bound: Option<SloVerdict>,
    why: impl FnOnce() -> String,
    (verdict, failed, unmeasured): (&mut Verdict, &mut bool, &mut Option<String>),
) {
    match bound {
        Some(SloVerdict::Fail) => {
            *failed = true;
            *verdict = Verdict::Fail;
        }
        Some(SloVerdict::NoData) if *verdict == Verdict::Pass => {
            *verdict = Verdict::NotJudged;
            *unmeasured = Some(why());
        }
        _ => {}
    }
}

/// The run's verdict with each fault's `recover_within`: a missed one fails
/// the run; one that could not be judged leaves a passing run NOT JUDGED.
pub fn fold_fault_verdicts(s: &mut Summary) {
    for f in &s.faults {
        fold_bound(
            f.verdict,
            || format!("fault {} recover_within: {}", f.index, f.sentence()),
            (&mut s.verdict, &mut s.slo_failed, &mut s.unmeasured),
        );
    }
}

#[cfg(test)]
pub(crate) mod counts_tests;
#[cfg(test)]
mod judgement_tests;
#[cfg(test)]
mod ok_ko_tests;
#[cfg(test)]
pub(crate) mod tests;
