//! The answers a reader opens the report for, in the order they ask them:
//! the verdict, what broke first, capacity, knee, regression, recovery and
//! degradation. Each is one short line drawn from the [`Summary`]; the page
//! shows them first, above everything else. Always all seven: an answer that
//! does not apply says why ("no recovery phase in this scenario").

use crate::report::findings::{Degradation, Findings, FirstBreak, Recovery};
use crate::report::summary::{SloVerdict, Summary, Verdict};

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
    let f = Findings::of(s);
    vec![
        verdict(s, &f),
        first_break(&f),
        capacity(&f),
        knee(&f),
        regression(s),
        recovery(&f),
        degradation(&f),
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

fn verdict(s: &Summary, f: &Findings) -> Answer {
    let (text, tone) = match (s.verdict, &s.unmeasured) {
        (Verdict::Pass, _) => match &s.partly_judged {
            None => ("every SLO held on every hold window".to_string(), Tone::Good),
            Some(_) => (
                "every SLO held on the hold windows with the samples to judge it (some checks lacked samples: see SLO verdicts)".to_string(),
                Tone::Good,
            ),
        },
        (Verdict::Fail, _) => (fail_reason(s, f), Tone::Bad),
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
fn fail_reason(s: &Summary, f: &Findings) -> String {
    if let Some(b) = &f.worst_hold_failure {
        return format!("an SLO failed on a hold window ({})", b.sentence());
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

fn first_break(f: &Findings) -> Answer {
    let tone = match f.first_break {
        FirstBreak::Slo { .. } => Tone::Bad,
        _ => Tone::Good,
    };
    answer("first-break", "Broke first", f.first_break.sentence(), tone)
}

fn capacity(f: &Findings) -> Answer {
    let tone = match f.capacity.headroom {
        Some(h) if h < 1.0 => Tone::Bad,
        _ => Tone::Neutral,
    };
    answer("capacity", "Capacity", f.capacity.sentence.clone(), tone)
}

fn knee(f: &Findings) -> Answer {
    answer("knee", "Knee", f.knee.sentence(), Tone::Neutral)
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

fn recovery(f: &Findings) -> Answer {
    let tone = match f.recovery.as_ref().and_then(|r| r.verdict) {
        Some(SloVerdict::Fail) => Tone::Bad,
        Some(SloVerdict::Pass) => Tone::Good,
        _ => Tone::Neutral,
    };
    answer("recovery", "Recovery", Recovery::sentence_of(f), tone)
}

fn degradation(f: &Findings) -> Answer {
    let tone = match f.degradation {
        Degradation::Assessed {
            graceful: false, ..
        } => Tone::Bad,
        Degradation::Assessed {
            peak_is_goodput: false,
            ..
        } => Tone::Good,
        _ => Tone::Neutral,
    };
    answer(
        "degradation",
        "Past capacity",
        f.degradation.sentence(),
        tone,
    )
}
