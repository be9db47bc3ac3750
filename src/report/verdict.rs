//! The outcome words of the report: of one SLO on one window, and of the run.

use serde::{Deserialize, Serialize};

/// The outcome of one SLO on one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloVerdict {
    /// Observed at or below the bound.
    Pass,
    /// Observed above the bound.
    Fail,
    /// Not judged: no data, or too few samples (see `report::judge`); a
    /// window with one is not judged, unless an SLO failed on it.
    NoData,
}

impl SloVerdict {
    /// A word for tables.
    pub fn label(self) -> &'static str {
        match self {
            SloVerdict::Pass => "pass",
            SloVerdict::Fail => "FAIL",
            SloVerdict::NoData => "not judged",
        }
    }
}

/// The run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every SLO with data held on every hold window.
    Pass,
    /// An SLO failed on a hold window.
    Fail,
    /// Not judged: no hold window or no SLO (nothing to judge, exit 0), or
    /// hold windows without enough samples (`Summary::unmeasured`, exit 1).
    NotJudged,
}

impl Verdict {
    /// A word for the page.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotJudged => "NOT JUDGED",
        }
    }
}
