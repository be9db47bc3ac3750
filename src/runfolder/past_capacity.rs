//! How a run judges the load past its capacity and after it, as run.json
//! records it: the `[recovery]` phase's sliding window and `[slo.recovery]`,
//! and the degradation thresholds of `[slo.degradation]`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RequestClass;

/// `[recovery]` window, `[slo.recovery]` and `[slo.degradation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PastCapacityRules {
    /// The recovery measurement's sliding window, ms (`[recovery] window`).
    pub recovery_window_ms: u64,
    /// `[slo.recovery] max`: the time to recover allowed, ms; a run that takes
    /// longer, or does not recover, fails. `None`: reported only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_max_ms: Option<u64>,
    /// `[slo.recovery] dashboard_load = "20s"` and the like: a class's own
    /// bound, ms, over `recovery_max_ms`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub recovery_max_by_class: BTreeMap<RequestClass, u64>,
    /// What past capacity counts as graceful.
    pub degradation: DegradationRules,
    /// True when the scenario gave `[slo.degradation]`: a collapse fails the run.
    pub degradation_judged: bool,
}

impl Default for PastCapacityRules {
    fn default() -> Self {
        PastCapacityRules {
            recovery_window_ms: 5_000,
            recovery_max_ms: None,
            recovery_max_by_class: BTreeMap::new(),
            degradation: DegradationRules::default(),
            degradation_judged: false,
        }
    }
}

impl PastCapacityRules {
    /// True when nothing differs from the defaults (run.json leaves it out).
    pub fn is_default(&self) -> bool {
        *self == PastCapacityRules::default()
    }
}

/// The thresholds of a graceful degradation over the stress steps past
/// capacity: every one must hold, and the failures must not be mostly
/// timeouts or connection errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DegradationRules {
    /// Lowest goodput (successful viewer requests/s) allowed, as a fraction
    /// of the best goodput seen (`goodput = "70%"`).
    pub min_goodput: f64,
    /// Highest p99 latency of the failed requests, ms: failures must be fast
    /// refusals (`failure_p99 = "1s"`).
    pub max_failure_p99_ms: f64,
    /// Lowest share of dashboard loads that still completed
    /// (`loads_completed = "0%"`: not required by default).
    pub min_loads_completed: f64,
}

impl Default for DegradationRules {
    fn default() -> Self {
        DegradationRules {
            min_goodput: 0.70,
            max_failure_p99_ms: 1000.0,
            min_loads_completed: 0.0,
        }
    }
}
