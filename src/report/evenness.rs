//! How evenly a hold window's load arrived: viewer HTTP requests counted per
//! second, and their coefficient of variation (standard deviation / mean).
//!
//! Viewers that refresh in lockstep load in bursts with silence between, so a
//! hold's per-second rate swings even though its mean looks right; the report
//! warns when a hold is [bursty](BURSTY_RATIO). Counts are kept per whole second
//! whatever the charts' bucket width, only for hold windows: one `u32` per
//! second of hold up to the last second with a request (a 24-hour hold is
//! 340 KB; a window of absurd length in a damaged `run.json` costs nothing).

use serde::{Deserialize, Serialize};

use crate::runfolder::{RequestClass, StageWindow, WindowKind};

use super::classes::is_viewer_class;

/// A hold is bursty when its CV is above this many times the CV of viewers at
/// independent random phases. A dashboard load sends its ~10 panel queries in
/// one burst, so even then requests per second vary with the number of loads
/// that fall in each second: CV ≈ 1/√(loads per second), 0.5–1 for the
/// shipped scenarios, and a fixed bound such as 0.5 would flag every hold.
/// Measured (debug build, sandbox, `staged.toml` without its ladder, and
/// `smoke.toml`): CV / random-phase CV was 1.45–1.46 on both staged holds when
/// every refresh timer started in the ramp, 0.87–1.26 once first loads started
/// at a random phase, 0.96–1.23 on smoke runs (whose 5 s ramp already equals
/// its refresh period).
pub const BURSTY_RATIO: f64 = 1.4;

/// Per-second request counts of every hold window.
#[derive(Debug, Clone, Default)]
pub struct HoldSeconds {
    holds: Vec<Hold>,
    index: super::window_index::WindowIndex,
}

#[derive(Debug, Clone)]
struct Hold {
    name: String,
    start_ms: u64,
    /// Per second, up to the last second that had a request; the rest are 0.
    requests: Vec<u32>,
    /// Seconds in the hold.
    seconds: u64,
    loads: u64,
}

impl HoldSeconds {
    /// Empty counts for the hold windows among `windows`.
    pub fn new(windows: &[StageWindow]) -> HoldSeconds {
        let kept: Vec<StageWindow> = windows
            .iter()
            .filter(|w| w.kind == WindowKind::Hold && w.end_ms > w.start_ms)
            .cloned()
            .collect();
        let index = super::window_index::WindowIndex::new(&kept);
        let holds = kept
            .iter()
            .map(|w| Hold {
                name: w.name.clone(),
                start_ms: w.start_ms,
                requests: Vec::new(),
                seconds: (w.end_ms - w.start_ms).div_ceil(1000),
                loads: 0,
            })
            .collect();
        HoldSeconds { holds, index }
    }

    /// Count one request log row. Only viewers' HTTP calls count: the sync job
    /// has its own rhythm, and a dashboard load row is the sum of its panels.
    pub fn record(&mut self, elapsed_ms: u64, class: RequestClass) {
        if !is_viewer_class(class) {
            return;
        }
        for i in self.index.holding(elapsed_ms) {
            let h = &mut self.holds[i];
            {
                if class == RequestClass::DashboardLoad {
                    h.loads += 1;
                } else {
                    let i = ((elapsed_ms - h.start_ms) / 1000) as usize;
                    if h.requests.len() <= i {
                        h.requests.resize(i + 1, 0);
                    }
                    h.requests[i] += 1;
                }
            }
        }
    }

    /// The evenness of every hold window, in window order.
    pub fn evenness(&self) -> Vec<HoldEvenness> {
        self.holds
            .iter()
            .map(|h| {
                let seconds = h.seconds;
                let (mean_rps, cv) = mean_cv(&h.requests, seconds);
                let loads_per_s = h.loads as f64 / seconds.max(1) as f64;
                let random_cv = (loads_per_s > 0.0).then(|| 1.0 / loads_per_s.sqrt());
                HoldEvenness {
                    window: h.name.clone(),
                    seconds: usize::try_from(seconds).unwrap_or(usize::MAX),
                    mean_rps,
                    cv,
                    loads_per_s,
                    random_cv,
                    bursty: matches!((cv, random_cv), (Some(cv), Some(r)) if cv > BURSTY_RATIO * r),
                }
            })
            .collect()
    }
}

/// One hold window's evenness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldEvenness {
    /// The window's name.
    pub window: String,
    /// Seconds counted.
    pub seconds: usize,
    /// Viewer HTTP requests per second, mean.
    pub mean_rps: f64,
    /// Coefficient of variation of requests per second; `None` without requests.
    pub cv: Option<f64>,
    /// Dashboard loads per second, mean.
    pub loads_per_s: f64,
    /// The CV viewers at independent random phases would give: 1/√`loads_per_s`.
    pub random_cv: Option<f64>,
    /// True when `cv` is above [`BURSTY_RATIO`] × `random_cv`.
    pub bursty: bool,
}

fn mean(counts: &[u32]) -> f64 {
    if counts.is_empty() {
        return 0.0;
    }
    counts.iter().map(|&c| c as f64).sum::<f64>() / counts.len() as f64
}

/// The mean and [`cv`] of `seconds` counts of which `counts` are the first
/// (the rest are 0), without materialising the zeros.
fn mean_cv(counts: &[u32], seconds: u64) -> (f64, Option<f64>) {
    let n = seconds.max(counts.len() as u64);
    if n == 0 {
        return (0.0, None);
    }
    let m = counts.iter().map(|&c| c as f64).sum::<f64>() / n as f64;
    if n < 2 || m == 0.0 {
        return (m, None);
    }
    let zeros = (n - counts.len() as u64) as f64;
    let var =
        (counts.iter().map(|&c| (c as f64 - m).powi(2)).sum::<f64>() + zeros * m * m) / n as f64;
    (m, Some(var.sqrt() / m))
}

/// Population standard deviation / mean; `None` for fewer than two values or no requests.
pub fn cv(counts: &[u32]) -> Option<f64> {
    let m = mean(counts);
    if counts.len() < 2 || m == 0.0 {
        return None;
    }
    let var = counts.iter().map(|&c| (c as f64 - m).powi(2)).sum::<f64>() / counts.len() as f64;
    Some(var.sqrt() / m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str, kind: WindowKind, start_ms: u64, end_ms: u64) -> StageWindow {
        StageWindow {
            name: name.into(),
            kind,
            viewers: 10,
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn cv_has_known_values() {
        assert_eq!(cv(&[5, 5, 5, 5]), Some(0.0));
        // Half the seconds silent, the other half equal: σ = μ.
        assert_eq!(cv(&[0, 10, 0, 10]), Some(1.0));
        assert!((cv(&[1, 2, 3]).unwrap() - (2.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
        assert_eq!(cv(&[0, 0]), None, "no requests");
        assert_eq!(cv(&[7]), None, "one second");
    }

    #[test]
    fn only_viewer_http_calls_in_holds_are_counted_per_second() {
        let windows = [
            window("stage 1 ramp", WindowKind::Ramp, 0, 2_000),
            window("stage 1 hold", WindowKind::Hold, 2_000, 6_000),
        ];
        let mut h = HoldSeconds::new(&windows);
        for t in [100, 2_000, 2_999, 4_500, 5_999, 6_000] {
            h.record(t, RequestClass::PanelQuery);
        }
        h.record(3_000, RequestClass::IngestBatch);
        h.record(3_000, RequestClass::DashboardLoad);
        h.record(3_100, RequestClass::DashboardLoad);
        let e = h.evenness();
        assert_eq!(e.len(), 1, "ramps are not judged for evenness");
        assert_eq!(e[0].window, "stage 1 hold");
        assert_eq!(e[0].seconds, 4);
        // Per second: [2, 0, 1, 1].
        assert_eq!(e[0].mean_rps, 1.0);
        assert_eq!(e[0].cv, cv(&[2, 0, 1, 1]));
        assert_eq!(e[0].loads_per_s, 0.5);
        assert!((e[0].random_cv.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert!(!e[0].bursty, "cv {:?} is what random phases give", e[0].cv);
    }

    #[test]
    fn lockstep_is_bursty_and_random_phases_are_not() {
        // 60 s hold, 2 loads a second of 10 requests each on average.
        let windows = [window("stage 1 hold", WindowKind::Hold, 0, 60_000)];
        let hold = |loads_per_second: &dyn Fn(u64) -> u64| {
            let mut h = HoldSeconds::new(&windows);
            for s in 0..60 {
                for _ in 0..loads_per_second(s) {
                    h.record(s * 1000, RequestClass::DashboardLoad);
                    for _ in 0..10 {
                        h.record(s * 1000 + 10, RequestClass::PanelQuery);
                    }
                }
            }
            h.evenness().remove(0)
        };
        // In step: all loads in the first third of each 30 s refresh period.
        let lockstep = hold(&|s| if s % 30 < 10 { 6 } else { 0 });
        assert!((lockstep.cv.unwrap() - 2f64.sqrt()).abs() < 1e-9);
        assert!(lockstep.bursty);
        // Random phases: a fixed pattern with the spread of Poisson arrivals (0–4 a second).
        let random = hold(&|s| [2, 1, 3, 2, 0, 2, 4, 1, 2, 3][(s % 10) as usize]);
        assert!(random.cv.unwrap() < 0.75, "{:?}", random.cv);
        assert!(!random.bursty);
        let none = hold(&|_| 0);
        assert_eq!((none.cv, none.random_cv, none.bursty), (None, None, false));
    }
}
