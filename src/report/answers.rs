//! The answers a reader opens the report for, in the order they ask them:
//! the verdict, what broke first, capacity, knee, regression, recovery and
//! degradation. Each is one short line drawn from the [`Summary`]; the page
//! shows them first, above everything else. Always all seven: an answer that
//! does not apply says why ("no recovery phase in this scenario").

use super::analyse::{no_knee_reason, KNEE_FRACTION};
use super::summary::{FailingSlo, SloResult, SloVerdict, Summary, Verdict};

/// How an answer reads at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Good news.
    Good,
    /// Something failed, regressed or collapsed.
    Bad,
    /// Neither: context, or nothing to say.
    Neutral,
}

/// One answer: what is asked, the line that answers it, and its tone.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Stable identifier (`verdict`, `first-break`, …): the page's element id is `answer-<key>`.
    pub key: &'static str,
    /// The question, short: "Broke first".
    pub label: &'static str,
    /// The answer, plain text.
    pub text: String,
    /// Its tone.
    pub tone: Tone,
}

/// The keys of [`answers`], in order.
pub const KEYS: [&str; 7] = [
    "verdict",
    "first-break",
    "capacity",
    "knee",
    "regression",
    "recovery",
    "degradation",
];

/// The seven answers of `s`, in [`KEYS`] order.
pub fn answers(s: &Summary) -> Vec<Answer> {
    vec![
        verdict(s),
        first_break(s),
        capacity(s),
        knee(s),
        regression(s),
        recovery(s),
        degradation(s),
    ]
}

fn answer(key: &'static str, label: &'static str, text: String, tone: Tone) -> Answer {
    Answer {
        key,
        label,
        text,
        tone,
    }
}

fn verdict(s: &Summary) -> Answer {
    let (text, tone) = match (s.verdict, &s.unmeasured) {
        (Verdict::Pass, _) => match &s.partly_judged {
            None => ("every SLO held on every hold window".to_string(), Tone::Good),
            Some(_) => (
                "every SLO held on the hold windows with the samples to judge it (some checks lacked samples: see SLO verdicts)".to_string(),
                Tone::Good,
            ),
        },
        (Verdict::Fail, _) => (fail_reason(s), Tone::Bad),
        (Verdict::NotJudged, Some(why)) => (
            format!("the run could not be judged, which fails it: {why}"),
            Tone::Bad,
        ),
        (Verdict::NotJudged, None) => (
            "nothing was judged (no hold window or no SLO)".to_string(),
            Tone::Neutral,
        ),
    };
    answer(
        "verdict",
        "Verdict",
        format!("{}: {text}", s.verdict.label()),
        tone,
    )
}

/// Why a failed run failed: a hold's SLO, the recovery or the degradation.
fn fail_reason(s: &Summary) -> String {
    let hold = s
        .slos
        .iter()
        .filter(|r| r.judged && r.verdict == SloVerdict::Fail)
        .max_by(|a, b| overshoot(a).total_cmp(&overshoot(b)));
    if let Some(r) = hold {
        return format!("an SLO failed on a hold window ({})", slo_sentence(r));
    }
    if s.recovery
        .as_ref()
        .is_some_and(|r| r.verdict == Some(SloVerdict::Fail))
    {
        return "the target took longer to recover than allowed".into();
    }
    if s.degradation
        .as_ref()
        .is_some_and(|d| d.judged && !d.graceful)
    {
        return "the target collapsed past capacity".into();
    }
    "an SLO failed".into()
}

/// How far past its bound an SLO result is: observed ÷ bound.
fn overshoot(r: &SloResult) -> f64 {
    match r.observed {
        Some(v) if r.max > 0.0 => v / r.max,
        Some(_) => f64::INFINITY,
        None => 0.0,
    }
}

/// `dashboard load p95 2340 ms > 2000 ms on step 3`: the figures as the
/// capacity bracket and the SLO table write them, so all cite the same number.
fn slo_sentence(r: &SloResult) -> String {
    let failing = FailingSlo {
        class: r.class,
        metric: r.metric,
        observed: r.observed.unwrap_or(f64::NAN),
        max: r.max,
    };
    format!("{} on {}", failing.sentence(), r.window)
}

fn first_break(s: &Summary) -> Answer {
    let viewers_of = |name: &str| s.windows.iter().find(|w| w.name == name).map(|w| w.viewers);
    // The first window by start time on which a judged-or-stress SLO failed.
    let mut failed: Vec<&SloResult> = s
        .slos
        .iter()
        .filter(|r| r.verdict == SloVerdict::Fail)
        .collect();
    let start_of = |name: &str| {
        s.windows
            .iter()
            .find(|w| w.name == name)
            .map_or(u64::MAX, |w| w.start_ms)
    };
    failed.sort_by_key(|r| start_of(&r.window));
    let text = match failed.first() {
        Some(first) => {
            let on_first = failed
                .iter()
                .filter(|r| r.window == first.window)
                .max_by(|a, b| overshoot(a).total_cmp(&overshoot(b)))
                .unwrap_or(first);
            let viewers = viewers_of(&first.window)
                .map(|v| format!(" ({v} viewers)"))
                .unwrap_or_default();
            format!("{}{viewers}", slo_sentence(on_first))
        }
        None => match &s.run.ladder_stop {
            Some(stop) => format!(
                "no SLO failed; the ladder stopped at {} ({} viewers): {}",
                stop.step, stop.viewers, stop.reason
            ),
            None => {
                let most = s.windows.iter().map(|w| w.viewers).max().unwrap_or(0);
                format!("nothing: every SLO held on every window, up to {most} viewers")
            }
        },
    };
    let tone = if failed.is_empty() {
        Tone::Good
    } else {
        Tone::Bad
    };
    answer("first-break", "Broke first", text, tone)
}

fn capacity(s: &Summary) -> Answer {
    let text = match &s.capacity_bracket {
        Some(b) => match b.headroom_sentence() {
            Some(h) => format!("{}; {h}", b.sentence()),
            None => b.sentence(),
        },
        None => s
            .capacity
            .map_or("not found: no window where every SLO held".into(), |c| {
                format!("{c} viewers")
            }),
    };
    let tone = match s.capacity_bracket.as_ref().and_then(|b| b.headroom) {
        Some(h) if h < 1.0 => Tone::Bad,
        _ => Tone::Neutral,
    };
    answer("capacity", "Capacity", text, tone)
}

fn knee(s: &Summary) -> Answer {
    let text = match &s.knee {
        Some(k) => format!(
            "{} viewers: the next step ({}, {} viewers) added only {:.0} % of the initial throughput per viewer",
            k.viewers,
            k.next_window,
            k.next_viewers,
            k.slope_ratio * 100.0
        ),
        None => no_knee_reason(
            &s.concurrency
                .iter()
                .map(|p| (p.viewers, p.viewer_throughput_rps))
                .collect::<Vec<_>>(),
            KNEE_FRACTION,
        ),
    };
    answer("knee", "Knee", text, Tone::Neutral)
}

fn regression(s: &Summary) -> Answer {
    let Some(b) = &s.baseline else {
        return answer(
            "regression",
            "Regression",
            "not checked: no baseline given (--baseline)".into(),
            Tone::Neutral,
        );
    };
    const SHOWN: usize = 3;
    if b.regressions.is_empty() {
        return answer("regression", "Regression", b.verdict.clone(), Tone::Good);
    }
    let mut text = format!(
        "{} figure{} regressed: {}",
        b.regressions.len(),
        if b.regressions.len() == 1 { "" } else { "s" },
        b.regressions
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    if b.regressions.len() > SHOWN {
        text.push_str(&format!("; and {} more", b.regressions.len() - SHOWN));
    }
    answer("regression", "Regression", text, Tone::Bad)
}

fn recovery(s: &Summary) -> Answer {
    let tone = match s.recovery.as_ref().and_then(|r| r.verdict) {
        Some(SloVerdict::Fail) => Tone::Bad,
        Some(SloVerdict::Pass) => Tone::Good,
        _ => Tone::Neutral,
    };
    let text = super::recovery_line(s)
        .unwrap_or_else(|| "not measured: no recovery phase in this scenario".into());
    answer("recovery", "Recovery", text, tone)
}

fn degradation(s: &Summary) -> Answer {
    let (text, tone) = match &s.degradation {
        Some(d) => (
            format!("{} (over {})", d.verdict, d.steps.join(", ")),
            match (d.graceful, d.peak_window == d.goodput_window) {
                (false, _) => Tone::Bad,
                (true, false) => Tone::Good,
                (true, true) => Tone::Neutral,
            },
        ),
        None if s
            .windows
            .iter()
            .any(|w| w.kind == crate::runfolder::WindowKind::StressStep) =>
        {
            (
                "not assessed: the stress ladder never went past capacity".to_string(),
                Tone::Neutral,
            )
        }
        None => (
            "not assessed: no stress ladder in this scenario".to_string(),
            Tone::Neutral,
        ),
    };
    answer("degradation", "Past capacity", text, tone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_knee_says_which_reason() {
        let one = no_knee_reason(&[(10, 20.0)], KNEE_FRACTION);
        assert!(
            one.starts_with("none: too few windows (1 viewer count"),
            "{one}"
        );
        let idle = no_knee_reason(&[(10, 0.0), (20, 0.0)], KNEE_FRACTION);
        assert!(idle.contains("no successful viewer requests"), "{idle}");
        let growing = no_knee_reason(&[(10, 20.0), (20, 40.0), (30, 60.0)], KNEE_FRACTION);
        assert!(
            growing.starts_with(
                "none: throughput kept growing with viewers (every step up to 30 viewers"
            ),
            "{growing}"
        );
    }
}
