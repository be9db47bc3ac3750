//! The regression gate's statistics: did a figure get worse by more than its
//! tolerance, beyond what the sampling noise of the two runs can explain?
//!
//! Two runs of the same build never give the same p95: a p99 over 50 samples
//! is its second-largest sample, and viewers that refresh together make some
//! seconds slow and others idle. So each hold window keeps its samples cut
//! into time blocks (at most [`MAX_BLOCKS`], at least [`MIN_BLOCK_MS`] long;
//! bounded memory whatever the run's length), and the gate runs a **block
//! bootstrap**: [`REPLICATES`] times, draw each run's blocks with replacement,
//! recompute the figure of both, and count how often the current run is worse
//! than the baseline by more than the tolerance. Blocks rather than single
//! requests, because neighbouring requests share their fate (a burst, a
//! pause), and resampling them one by one would understate the noise.
//!
//! A figure regressed when that share reaches the confidence asked for
//! (default 95 %). A percentile is judged only with at least
//! [`min_samples`] successful requests on both sides (five expected beyond
//! the percentile: p95 needs 100, p99 needs 500); below that the report says
//! the figure was not judged and why. The draws are seeded from the figure's
//! name, so rendering the same two runs again gives the same verdict.
//!
//! A baseline may be several runs (`--baseline median:N`): [`judge_runs`]
//! then draws in two stages, runs first and their blocks second (see there).
//!
//! A figure that did not regress also says what the gate could have caught:
//! its [`Reach`], the smallest worsening the same draws would have been sure
//! enough of (see there). "No regression" on a window too noisy to see +50 %
//! is not the same news as on one that would have seen +12 %.

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::runfolder::{SloMetric, StageWindow};

/// The most blocks a window is cut into.
pub const MAX_BLOCKS: usize = 20;
/// The shortest block, ms: shorter ones would split a dashboard load's burst.
pub const MIN_BLOCK_MS: u64 = 2_000;
/// Fewer blocks than this cannot show a window's noise; the window is not judged.
pub const MIN_BLOCKS: usize = 4;
/// Bootstrap draws per judged figure.
pub const REPLICATES: usize = 1_000;
/// The change interval shown beside a judged figure covers this share of draws.
pub const INTERVAL: f64 = 0.90;

/// Successful requests needed on each side to judge percentile `q`: five
/// expected beyond it, so that its confidence interval exists at all.
pub fn min_samples(q: f64) -> u64 {
    (5.0 / (1.0 - q)).round() as u64
}

/// The successful requests in `blocks` (the samples a percentile is judged on).
pub fn successes(blocks: &[Block]) -> u64 {
    blocks
        .iter()
        .filter_map(|b| b.ok.as_ref())
        .map(|h| h.len())
        .sum()
}

/// One time block of one class in one window.
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// Requests that started in the block.
    pub requests: u64,
    /// Of those, the ones that failed.
    pub failed: u64,
    /// Latencies of the successful ones, µs (2 significant digits: 1 %
    /// resolution is ten times finer than any sensible tolerance).
    pub ok: Option<Box<Histogram<u32>>>,
}

/// A hold window's samples per class, cut into time blocks.
#[derive(Debug, Clone)]
pub struct WindowBlocks {
    /// The window's name.
    pub name: String,
    start_ms: u64,
    block_ms: u64,
    count: usize,
    /// Per class (index in `RequestClass::ALL`); empty until a request of it arrives.
    classes: Vec<Vec<Block>>,
}

impl WindowBlocks {
    /// Blocks for `window`: as many as fit [`MIN_BLOCK_MS`], at most [`MAX_BLOCKS`].
    pub fn new(window: &StageWindow) -> WindowBlocks {
        let len = window.end_ms.saturating_sub(window.start_ms).max(1);
        let count = ((len / MIN_BLOCK_MS) as usize).clamp(1, MAX_BLOCKS);
        WindowBlocks {
            name: window.name.clone(),
            start_ms: window.start_ms,
            block_ms: len.div_ceil(count as u64),
            count,
            classes: Vec::new(),
        }
    }

    /// Fold in a request of class index `class` that started at `elapsed_ms`
    /// (inside the window).
    pub fn record(&mut self, elapsed_ms: u64, class: usize, latency_us: u64, success: bool) {
        if self.classes.len() <= class {
            self.classes.resize_with(class + 1, Vec::new);
        }
        let blocks = &mut self.classes[class];
        if blocks.is_empty() {
            blocks.resize_with(self.count, Block::default);
        }
        let i = ((elapsed_ms.saturating_sub(self.start_ms) / self.block_ms) as usize)
            .min(self.count - 1);
        let block = &mut blocks[i];
        block.requests += 1;
        if success {
            let h = block.ok.get_or_insert_with(|| {
                Box::new(Histogram::new(2).expect("2 significant digits is valid"))
            });
            if h.record(latency_us).is_err() {
                h.saturating_record(latency_us);
            }
        } else {
            block.failed += 1;
        }
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the window is too short to have any block.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The blocks of class index `class` (all empty when none arrived).
    pub fn class(&self, class: usize) -> Vec<Block> {
        match self.classes.get(class) {
            Some(b) if !b.is_empty() => b.clone(),
            _ => vec![Block::default(); self.count],
        }
    }
}

/// What is worse: by how much a figure may worsen before it counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// A latency percentile: worse than `baseline × (1 + relative)` and by
    /// more than `floor_ms`.
    Latency {
        /// 0.10 = 10 %.
        relative: f64,
        /// Absolute floor, ms.
        floor_ms: f64,
    },
    /// An error rate: more than `margin` above the baseline's (absolute).
    ErrorRate {
        /// 0.01 = one percentage point.
        margin: f64,
    },
}

impl Allowance {
    fn exceeded(self, baseline: f64, current: f64) -> bool {
        match self {
            Allowance::Latency { relative, floor_ms } => {
                current > baseline * (1.0 + relative) && current - baseline > floor_ms
            }
            Allowance::ErrorRate { margin } => current - baseline > margin,
        }
    }
}

/// What the gate found for one figure.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Judged: the share of draws in which the current run was worse beyond
    /// the allowance, and the [`INTERVAL`] interval of `current − baseline`
    /// (ms for latencies, a fraction for error rates).
    Judged {
        /// 0..=1.
        sure: f64,
        /// Low and high end of the change.
        interval: [f64; 2],
        /// The smallest worsening the gate would have flagged.
        reach: Reach,
    },
    /// Not judged, and why.
    NotJudged(String),
}

/// Judge `metric` between the baseline's and the current run's blocks of one
/// window and class. `seed_key` names the figure (the draws derive from it).
pub fn judge(
    metric: SloMetric,
    base: &[Block],
    current: &[Block],
    allowance: Allowance,
    seed_key: &str,
) -> Finding {
    judge_runs(metric, &[base], current, allowance, seed_key)
}

/// [`judge`] against a baseline of several runs (`base_runs`: each run's
/// blocks of the same window and class), their samples pooled.
///
/// Pooling keeps each run's blocks apart and draws in two stages: pick as many
/// runs as there are, with replacement, then from each picked run as many of
/// its own blocks, with replacement. Blocks of different runs are independent
/// (no burst spans two runs), but they need not share one distribution: a
/// nightly staging run inherits that night's neighbours. Drawing the runs
/// first lets the spread *between* baseline runs widen the baseline's draws,
/// so that one odd night cannot make the gate over-sure; drawing all blocks
/// as one flat pool would treat N runs as one long run and shrink the noise
/// by √N whatever the runs disagree on. Identical runs give the flat pool's
/// answer. With one run this is exactly [`judge`] (the same draws).
pub fn judge_runs(
    metric: SloMetric,
    base_runs: &[&[Block]],
    current: &[Block],
    allowance: Allowance,
    seed_key: &str,
) -> Finding {
    let mut runs = Vec::with_capacity(base_runs.len());
    let mut start = 0;
    for r in base_runs {
        runs.push(start..start + r.len());
        start += r.len();
    }
    let base: Vec<Block> = base_runs.iter().flat_map(|r| r.iter().cloned()).collect();
    let base = &Runs {
        blocks: &base,
        runs,
    };
    let current = &Runs::one(current);
    let fewest_blocks = base.fewest().min(current.fewest());
    if fewest_blocks < MIN_BLOCKS {
        return Finding::NotJudged(format!(
            "window too short to measure noise ({fewest_blocks} blocks of {} s, {MIN_BLOCKS} needed)",
            MIN_BLOCK_MS / 1000
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(seed_key.as_bytes()));
    match metric {
        SloMetric::P50 | SloMetric::P95 | SloMetric::P99 => {
            let q = match metric {
                SloMetric::P50 => 0.50,
                SloMetric::P95 => 0.95,
                _ => 0.99,
            };
            let need = min_samples(q);
            let (have_b, have_c) = (successes(base.blocks), successes(current.blocks));
            if have_b.min(have_c) < need {
                return Finding::NotJudged(format!(
                    "too few samples for {}: {} successful in the baseline, {} in this run, {need} needed",
                    metric.key(),
                    have_b,
                    have_c
                ));
            }
            let pool = Pooled::new(base.blocks, current.blocks);
            let mut draws = Draws::new(allowance);
            let mut counts_b = vec![0u64; pool.values.len()];
            let mut counts_c = vec![0u64; pool.values.len()];
            for _ in 0..REPLICATES {
                let b = pool.resample_quantile(&pool.base, &base.runs, q, &mut counts_b, &mut rng);
                let c = pool.resample_quantile(
                    &pool.current,
                    &current.runs,
                    q,
                    &mut counts_c,
                    &mut rng,
                );
                if let (Some(b), Some(c)) = (b, c) {
                    draws.push(b, c);
                }
            }
            let (Some(b), Some(c)) = (
                pool.point_quantile(&pool.base, q),
                pool.point_quantile(&pool.current, q),
            ) else {
                return Finding::NotJudged("no samples on one side".into());
            };
            draws.finding(b, c)
        }
        SloMetric::ErrorRate => {
            let counts = |blocks: &[Block]| -> Vec<(u64, u64)> {
                blocks.iter().map(|b| (b.requests, b.failed)).collect()
            };
            let (cb, cc) = (counts(base.blocks), counts(current.blocks));
            let total = |c: &[(u64, u64)]| c.iter().map(|x| x.0).sum::<u64>();
            if total(&cb) == 0 || total(&cc) == 0 {
                return Finding::NotJudged("no requests on one side".into());
            }
            let mut draws = Draws::new(allowance);
            for _ in 0..REPLICATES {
                let b = resample_rate(&cb, &base.runs, &mut rng);
                let c = resample_rate(&cc, &current.runs, &mut rng);
                if let (Some(b), Some(c)) = (b, c) {
                    draws.push(b, c);
                }
            }
            let rate =
                |c: &[(u64, u64)]| c.iter().map(|x| x.1).sum::<u64>() as f64 / total(c) as f64;
            draws.finding(rate(&cb), rate(&cc))
        }
        SloMetric::MsPerPoint => Finding::NotJudged("ms per point is not gated".into()),
    }
}

/// One side's blocks, and which of them belong to which run.
struct Runs<'a> {
    blocks: &'a [Block],
    runs: Vec<std::ops::Range<usize>>,
}

impl<'a> Runs<'a> {
    fn one(blocks: &'a [Block]) -> Runs<'a> {
        Runs {
            blocks,
            runs: std::iter::once(0..blocks.len()).collect(),
        }
    }

    /// The blocks of the run with the fewest (0 without runs).
    fn fewest(&self) -> usize {
        self.runs.iter().map(|r| r.len()).min().unwrap_or(0)
    }
}

/// One two-stage draw over `runs` (see [`judge_runs`]): calls `take` with the
/// index of every drawn block. One run: its blocks drawn with replacement,
/// exactly as many as it has (the draw the single-run gate always made).
fn draw_blocks(runs: &[std::ops::Range<usize>], rng: &mut ChaCha8Rng, mut take: impl FnMut(usize)) {
    let mut from = |run: &std::ops::Range<usize>, rng: &mut ChaCha8Rng| {
        for _ in 0..run.len() {
            take(run.start + rng.random_range(0..run.len()));
        }
    };
    match runs {
        [] => {}
        [one] => from(one, rng),
        _ => {
            for _ in 0..runs.len() {
                let run = &runs[rng.random_range(0..runs.len())];
                from(run, rng);
            }
        }
    }
}

/// What the gate could have caught on one figure: for each bootstrap draw,
/// the smallest worsening of this run that would have made the draw count as
/// worse beyond the tolerance, sorted.
///
/// A worsening is modelled as the figure's shift: a latency percentile
/// multiplied (every latency of this run × (1 + x): its percentile moves by
/// the same factor), an error rate raised by x points. The shift is measured
/// from this run *centred on the baseline* (its point figure moved onto the
/// baseline's), so the reach does not depend on how this run happened to
/// compare: it answers "had the figure truly worsened by x, would the gate
/// have said so?". The draws are the verdict's own, so the reach at the
/// gate's confidence is exactly the shift at which [`Finding::Judged`]'s
/// `sure` would have reached it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    /// Per draw, the smallest shift it needs: relative for a latency (0.14 =
    /// +14 %), absolute for an error rate (0.012 = +1.2 points); sorted.
    shifts: Vec<f64>,
}

impl Reach {
    /// The smallest shift the gate would flag at `confidence`; `None` when no
    /// shift would do (draws whose figure is 0 cannot be scaled up).
    pub fn at(&self, confidence: f64) -> Option<f64> {
        let n = self.shifts.len();
        // Flagged when at least `confidence` of the draws need less than the
        // shift: the m-th smallest need is the least such shift.
        let m = ((confidence * n as f64) - 1e-9).ceil().max(1.0) as usize;
        self.shifts.get(m - 1).copied().filter(|x| x.is_finite())
    }
}

/// The bootstrap's draws of one figure.
struct Draws {
    allowance: Allowance,
    changes: Vec<f64>,
    /// Per draw, the shift of this run that would make it worse beyond the
    /// allowance, before centring (see [`Reach`]).
    needs: Vec<f64>,
    worse: usize,
}

impl Draws {
    fn new(allowance: Allowance) -> Draws {
        Draws {
            allowance,
            changes: Vec::with_capacity(REPLICATES),
            needs: Vec::with_capacity(REPLICATES),
            worse: 0,
        }
    }

    fn push(&mut self, base: f64, current: f64) {
        self.changes.push(current - base);
        if self.allowance.exceeded(base, current) {
            self.worse += 1;
        }
        self.needs.push(match self.allowance {
            // current × (1 + x) must pass both the relative bound and the floor.
            Allowance::Latency { relative, floor_ms } => {
                let bound = (base * (1.0 + relative)).max(base + floor_ms);
                if current > 0.0 {
                    bound / current - 1.0
                } else {
                    f64::INFINITY
                }
            }
            Allowance::ErrorRate { margin } => base + margin - current,
        });
    }

    /// The finding; `base` and `current` are the two runs' point figures
    /// (all their samples), to centre the reach on.
    fn finding(mut self, base: f64, current: f64) -> Finding {
        if self.changes.is_empty() {
            return Finding::NotJudged("no draw had requests on both sides".into());
        }
        self.changes.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let i = ((self.changes.len() - 1) as f64 * p).round() as usize;
            self.changes[i]
        };
        let tail = (1.0 - INTERVAL) / 2.0;
        // Centre: move this run's point figure onto the baseline's first.
        let centre = |x: f64| match self.allowance {
            Allowance::Latency { .. } if base > 0.0 => (1.0 + x) * current / base - 1.0,
            Allowance::Latency { .. } => f64::INFINITY,
            Allowance::ErrorRate { .. } => x + current - base,
        };
        let mut shifts: Vec<f64> = self.needs.iter().map(|x| centre(*x)).collect();
        shifts.sort_by(f64::total_cmp);
        Finding::Judged {
            sure: self.worse as f64 / self.changes.len() as f64,
            interval: [at(tail), at(1.0 - tail)],
            reach: Reach { shifts },
        }
    }
}

/// Both runs' blocks of one class as sparse counts over one shared list of
/// histogram values, so a draw sums counts instead of merging histograms.
struct Pooled {
    values: Vec<u64>,
    base: Vec<Vec<(u32, u64)>>,
    current: Vec<Vec<(u32, u64)>>,
}

impl Pooled {
    fn new(base: &[Block], current: &[Block]) -> Pooled {
        let recorded = |b: &Block| -> Vec<(u64, u64)> {
            b.ok.as_ref().map_or_else(Vec::new, |h| {
                h.iter_recorded()
                    .map(|v| {
                        (
                            h.highest_equivalent(v.value_iterated_to()),
                            v.count_at_value() as u64,
                        )
                    })
                    .collect()
            })
        };
        let raw_b: Vec<_> = base.iter().map(recorded).collect();
        let raw_c: Vec<_> = current.iter().map(recorded).collect();
        let mut values: Vec<u64> = raw_b
            .iter()
            .chain(&raw_c)
            .flat_map(|b| b.iter().map(|(v, _)| *v))
            .collect();
        values.sort_unstable();
        values.dedup();
        let index = |blocks: Vec<Vec<(u64, u64)>>| -> Vec<Vec<(u32, u64)>> {
            blocks
                .into_iter()
                .map(|b| {
                    b.into_iter()
                        .map(|(v, n)| (values.binary_search(&v).unwrap_or(0) as u32, n))
                        .collect()
                })
                .collect()
        };
        let base = index(raw_b);
        let current = index(raw_c);
        Pooled {
            values,
            base,
            current,
        }
    }

    /// Quantile `q` (ms) of all of `blocks`, each once; `None` without samples.
    fn point_quantile(&self, blocks: &[Vec<(u32, u64)>], q: f64) -> Option<f64> {
        let mut counts = vec![0u64; self.values.len()];
        let mut total = 0;
        for &(i, n) in blocks.iter().flatten() {
            counts[i as usize] += n;
            total += n;
        }
        quantile(&self.values, &counts, total, q).map(|us| us as f64 / 1000.0)
    }

    /// Quantile `q` (ms) of one draw of `blocks` with replacement; `None` when
    /// the drawn blocks hold no sample.
    fn resample_quantile(
        &self,
        blocks: &[Vec<(u32, u64)>],
        runs: &[std::ops::Range<usize>],
        q: f64,
        counts: &mut [u64],
        rng: &mut ChaCha8Rng,
    ) -> Option<f64> {
        counts.fill(0);
        let mut total = 0u64;
        draw_blocks(runs, rng, |b| {
            for &(i, n) in &blocks[b] {
                counts[i as usize] += n;
                total += n;
            }
        });
        quantile(&self.values, counts, total, q).map(|us| us as f64 / 1000.0)
    }
}

/// The value at quantile `q` of `counts` over `values` (as HDR histograms
/// define it: the smallest value with at least `q × total` samples at or below).
fn quantile(values: &[u64], counts: &[u64], total: u64, q: f64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (v, n) in values.iter().zip(counts) {
        seen += n;
        if seen >= rank {
            return Some(*v);
        }
    }
    values.last().copied()
}

/// Error rate of one draw of `(requests, failed)` blocks with replacement.
fn resample_rate(
    blocks: &[(u64, u64)],
    runs: &[std::ops::Range<usize>],
    rng: &mut ChaCha8Rng,
) -> Option<f64> {
    let (mut requests, mut failed) = (0u64, 0u64);
    draw_blocks(runs, rng, |b| {
        let (r, f) = blocks[b];
        requests += r;
        failed += f;
    });
    (requests > 0).then(|| failed as f64 / requests as f64)
}

/// A stable 64-bit hash (FNV-1a): `std`'s hasher may change between releases.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
