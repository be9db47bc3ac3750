//! Charts: [`Summary`] → inline SVG strings, drawn with plotters. Pure.
//!
//! Every chart has a title, axis labels with units and a legend; charts over
//! time shade the stage and stress-step windows (ramp grey, hold green,
//! stress orange) and label them. A baseline run is overlaid dashed. The SVG
//! is cleaned for inlining: plotters' `xmlns` attribute is dropped (HTML
//! puts inline `<svg>` in the SVG namespace itself), so the page holds no
//! URL at all. Drawing never fails the report: a chart that cannot be drawn
//! becomes a small SVG saying so.

mod plot;
mod server;

use std::ops::Range;

use plotters::prelude::*;

use chrono::{DateTime, Utc};

use self::plot::{
    draw, extent, log_ticks, number, pad, percent_of_tail, short_window_name, svg_sized, ticked,
    Line, Marker, Plot,
};

use crate::runfolder::{RequestClass, SloMetric, WindowKind};

use super::collect::ErrorKind;
use super::format::clock;
use super::latency_series::{needed, LatencySeries, LATENCY_CLASSES};
use super::summary::{Latency, Summary, WindowStats};

/// Width of every chart, px.
pub const WIDTH: u32 = 960;
/// Height of every chart, px.
pub const HEIGHT: u32 = 290;

const FONT: &str = "sans-serif";

/// The key to the shaded windows of every chart over time, as HTML: the
/// charts' own legends leave the window kinds out.
pub fn window_key(s: &Summary) -> String {
    let mut kinds: Vec<WindowKind> = Vec::new();
    for w in &s.windows {
        if !kinds.contains(&w.kind) {
            kinds.push(w.kind);
        }
    }
    let entries: Vec<String> = kinds
        .into_iter()
        .map(|k| {
            let name = match k {
                WindowKind::Ramp => "ramp",
                WindowKind::Hold => "hold (judged)",
                WindowKind::StressStep => "stress step",
                WindowKind::Recovery => "recovery phase",
            };
            format!(
                "<span class=\"swatch\" style=\"background:{}\"></span>{name}",
                self::plot::band_css(k)
            )
        })
        .collect();
    if entries.is_empty() {
        return String::new();
    }
    format!(
        "<p class=\"note\" id=\"window-key\">Shaded behind every chart over time, each labelled with its name: {}.</p>",
        entries.join(" ")
    )
}

/// Every chart of the page, as inline SVG.
#[derive(Debug, Clone, Default)]
pub struct Charts {
    /// Users over time.
    pub users: String,
    /// Requests per second over time.
    pub throughput: String,
    /// Points ingested per second over time.
    pub points: String,
    /// Latency percentiles over time, per class in [`LATENCY_CLASSES`].
    pub latency: Vec<(RequestClass, String)>,
    /// Latency histogram per class.
    pub histogram: String,
    /// Latency by percentile per class.
    pub percentiles: String,
    /// p95 latency against viewers.
    pub concurrency_latency: String,
    /// Error rate against viewers, with the error-rate SLO lines.
    pub concurrency_errors: String,
    /// Throughput against viewers.
    pub concurrency_throughput: String,
    /// Errors per second by kind.
    pub errors: String,
    /// The server's own figures over time (`server.csv`), the panels it has data for.
    pub server: Vec<String>,
}

impl Charts {
    /// All charts drawn, in page order.
    pub fn all(&self) -> Vec<&str> {
        let mut v = vec![self.users.as_str(), &self.throughput, &self.points];
        v.extend(self.latency.iter().map(|(_, s)| s.as_str()));
        v.extend([
            self.histogram.as_str(),
            &self.percentiles,
            &self.concurrency_latency,
            &self.concurrency_errors,
            &self.concurrency_throughput,
            &self.errors,
        ]);
        v.extend(self.server.iter().map(String::as_str));
        v.retain(|svg| !svg.is_empty());
        v
    }
}

/// Draw every chart of `s` that carries data, with `base` overlaid dashed
/// when given. A chart left out is an empty string: no flat-zero error chart
/// in a run without failures, no points chart without a sync job, no latency
/// chart of a class that made no request, and no chart against concurrency
/// with fewer than two viewer counts (one point shows no trend).
pub fn draw_all(s: &Summary, base: Option<&Summary>) -> Charts {
    let when =
        |carries: bool, draw: &dyn Fn() -> String| if carries { draw() } else { String::new() };
    let mut viewer_counts: Vec<usize> = s.concurrency.iter().map(|p| p.viewers).collect();
    viewer_counts.sort_unstable();
    viewer_counts.dedup();
    let trend = viewer_counts.len() >= 2;
    Charts {
        users: users(s),
        throughput: throughput(s, base),
        points: when(s.inputs.ingest.used, &|| points(s, base)),
        latency: LATENCY_CLASSES
            .iter()
            .filter(|c| s.latency_series.iter().any(|l| l.class == **c))
            .map(|c| (*c, latency_over_time(s, base, *c)))
            .collect(),
        histogram: histogram(s),
        percentiles: percentile_curve(s, base),
        concurrency_latency: when(trend, &|| concurrency_latency(s, base)),
        concurrency_errors: when(trend, &|| concurrency_errors(s)),
        concurrency_throughput: when(trend, &|| concurrency_throughput(s, base)),
        errors: when(s.errors.total > 0, &|| errors(s)),
        server: server::charts(s),
    }
}

fn class_color(class: RequestClass) -> RGBColor {
    match class {
        RequestClass::DashboardLoad => RGBColor(31, 119, 180),
        RequestClass::PanelQuery => RGBColor(255, 127, 14),
        RequestClass::VariableQuery => RGBColor(44, 160, 44),
        RequestClass::DashboardFetch => RGBColor(148, 103, 189),
        RequestClass::SyncFetch => RGBColor(140, 86, 75),
        RequestClass::SyncTransform => RGBColor(227, 119, 194),
        RequestClass::IngestBatch => RGBColor(214, 39, 40),
        RequestClass::IngestFreshness => RGBColor(188, 189, 34),
        RequestClass::SyncRun => RGBColor(23, 190, 207),
        RequestClass::Other => RGBColor(127, 127, 127),
    }
}

fn kind_color(kind: ErrorKind) -> RGBColor {
    match kind {
        ErrorKind::Timeout => RGBColor(148, 103, 189),
        ErrorKind::Connection => RGBColor(140, 86, 75),
        ErrorKind::Shed => RGBColor(255, 127, 14),
        ErrorKind::Server => RGBColor(214, 39, 40),
        ErrorKind::Query => RGBColor(31, 119, 180),
        ErrorKind::Client => RGBColor(44, 160, 44),
        ErrorKind::Other => RGBColor(127, 127, 127),
    }
}

const PERCENTILE_COLORS: [(&str, RGBColor); 5] = [
    ("p50", RGBColor(31, 119, 180)),
    ("p90", RGBColor(44, 160, 44)),
    ("p95", RGBColor(255, 127, 14)),
    ("p99", RGBColor(214, 39, 40)),
    ("max", RGBColor(127, 127, 127)),
];

fn pick(l: &Latency, i: usize) -> f64 {
    [l.p50, l.p90, l.p95, l.p99, l.max][i]
}

/// The label of every time axis.
const TIME_AXIS: &str = "time (UTC)";

/// Ticks of a time axis over `0..end` s from `start`: at round wall-clock
/// times (every 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1 h …),
/// at most 8 of them.
pub fn time_ticks(start: DateTime<Utc>, end: f64) -> Vec<f64> {
    const STEPS: [i64; 15] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600,
    ];
    // Beyond six hours, whole days, as many as keep to about seven ticks (a
    // damaged run.json can claim any length: the ticks stay few).
    let step = STEPS
        .into_iter()
        .find(|st| end / (*st as f64) <= 7.0)
        .unwrap_or_else(|| ((end / 7.0 / 86_400.0).ceil().clamp(1.0, 1e15) as i64) * 86_400);
    let t0 = start.timestamp_millis() as f64 / 1000.0;
    let first = (t0 / step as f64).ceil() * step as f64 - t0;
    let mut out = Vec::new();
    let mut x = first;
    while x <= end + 1e-9 {
        out.push(x);
        x += step as f64;
    }
    out
}

/// Draw a chart over time: x in seconds over the whole run, labelled with
/// UTC wall-clock times; a log y axis has 2-5-10 ticks.
fn time_chart(s: &Summary, mut plot: Plot, log_y: bool) -> String {
    plot.faults = super::faults::bands(&s.faults);
    let title = plot.title.clone();
    let x_end = plot.xs().fold(s.run.duration_s, f64::max).max(1.0);
    let start = s.run.started_at;
    plot.x_format = Box::new(move |x| clock(start, *x));
    let x = ticked(0.0..x_end, time_ticks(start, x_end));
    // Linear charts of counts and rates start at zero.
    let zero = (!log_y).then_some(0.0);
    let y = pad(extent(plot.ys().chain(zero), log_y), log_y);
    svg_sized(&title, plot.height(), |root| {
        if log_y {
            let ticks = log_ticks(&y, 13);
            draw(root, &plot, x, ticked(y.log_scale(), ticks))
        } else {
            draw(root, &plot, x, y)
        }
    })
}

/// `(bucket midpoint s, value)` per bucket.
fn over_time(
    s: &Summary,
    value: impl Fn(&super::summary::SeriesBucket) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let w = s.series.bucket_ms as f64 / 1000.0;
    s.series
        .buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| Some(((i as f64 + 0.5) * w, value(b)?)))
        .collect()
}

fn per_second(s: &Summary, n: u64) -> f64 {
    n as f64 * 1000.0 / s.series.bucket_ms.max(1) as f64
}

/// Planned viewers over time from the windows: linear over ramps, a step at
/// the start of stress steps, flat over holds.
pub fn planned_viewers(windows: &[WindowStats]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<&WindowStats> = windows.iter().collect();
    sorted.sort_by_key(|w| w.start_ms);
    let mut points = Vec::new();
    let mut before = 0.0;
    for w in sorted {
        let (x0, x1, v) = (
            w.start_ms as f64 / 1000.0,
            w.end_ms as f64 / 1000.0,
            w.viewers as f64,
        );
        match w.kind {
            WindowKind::Ramp => points.extend([(x0, before), (x1, v)]),
            _ => points.extend([(x0, before), (x0, v), (x1, v)]),
        }
        before = v;
    }
    points
}

fn users(s: &Summary) -> String {
    let mut plot = Plot::new("Users over time", TIME_AXIS, "users");
    plot.bands = &s.windows;
    plot.lines.push(Line::new(
        "planned viewers",
        RGBColor(31, 119, 180),
        planned_viewers(&s.windows),
    ));
    if !s.series.goose_users.is_empty() {
        plot.lines.push(Line::new(
            "Goose users (viewers + sync; idle ones above the viewer cap too)",
            RGBColor(255, 127, 14),
            s.series
                .goose_users
                .iter()
                .map(|(t, u)| (*t as f64, *u as f64))
                .collect(),
        ));
    }
    plot.empty = "no stage windows in run.json and no Goose graph data";
    time_chart(s, plot, false)
}

fn throughput(s: &Summary, base: Option<&Summary>) -> String {
    let mut plot = Plot::new("Throughput over time", TIME_AXIS, "requests per second");
    plot.bands = &s.windows;
    plot.lines.push(Line::new(
        "succeeded req/s",
        RGBColor(44, 160, 44),
        over_time(s, |b| Some(per_second(s, b.ok))),
    ));
    plot.lines.push(Line::new(
        "failed req/s",
        RGBColor(214, 39, 40),
        over_time(s, |b| Some(per_second(s, b.failed))),
    ));
    if let Some(b) = base {
        plot.lines.push(
            Line::new(
                "baseline succeeded req/s",
                RGBColor(44, 160, 44),
                over_time(b, |x| Some(per_second(b, x.ok))),
            )
            .baseline(),
        );
    }
    time_chart(s, plot, false)
}

/// Seconds the points-per-second line is averaged over: batches are
/// seconds apart, so per-bucket counts would saw between 0 and a batch.
const POINTS_MEAN_S: u64 = 10;

/// Points written per second, as a trailing mean over [`POINTS_MEAN_S`].
fn points_per_second(s: &Summary) -> Vec<(f64, f64)> {
    let k = (POINTS_MEAN_S * 1000)
        .div_ceil(s.series.bucket_ms.max(1))
        .max(1) as usize;
    let w = s.series.bucket_ms as f64 / 1000.0;
    let b = &s.series.buckets;
    (0..b.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(k);
            let sum: u64 = b[from..=i].iter().map(|x| x.points).sum();
            // Divided by the whole span even at the start, so a batch in the
            // first bucket does not show as a spike.
            ((i + 1) as f64 * w, sum as f64 / (k as f64 * w))
        })
        .collect()
}

fn points(s: &Summary, base: Option<&Summary>) -> String {
    let mut plot = Plot::new(
        "Points ingested over time (sync job, ingest.csv)",
        TIME_AXIS,
        "points per second",
    );
    plot.bands = &s.windows;
    let label = format!("points/s written ({POINTS_MEAN_S} s mean)");
    if s.inputs.ingest.used {
        plot.lines.push(Line::new(
            label,
            RGBColor(214, 39, 40),
            points_per_second(s),
        ));
    }
    if let Some(b) = base.filter(|b| b.inputs.ingest.used) {
        plot.lines.push(
            Line::new(
                "baseline points/s",
                RGBColor(214, 39, 40),
                points_per_second(b),
            )
            .baseline(),
        );
    }
    plot.empty = "no ingest.csv";
    time_chart(s, plot, false)
}

fn slo_lines(s: &Summary, class: RequestClass) -> Vec<(String, f64, RGBColor)> {
    let mut seen: Vec<(SloMetric, f64)> = Vec::new();
    for r in s.slos.iter().filter(|r| r.class == class) {
        if matches!(r.metric, SloMetric::P50 | SloMetric::P95 | SloMetric::P99)
            && !seen.contains(&(r.metric, r.max))
        {
            seen.push((r.metric, r.max));
        }
    }
    seen.into_iter()
        .map(|(m, max)| {
            let color = match m {
                SloMetric::P50 => RGBColor(31, 119, 180),
                SloMetric::P95 => RGBColor(255, 127, 14),
                _ => RGBColor(214, 39, 40),
            };
            (format!("SLO {} ≤ {} ms", m.key(), number(&max)), max, color)
        })
        .collect()
}

/// The percentile (in %) of each [`PERCENTILE_COLORS`] entry; 100 is the maximum.
const PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 100.0];

/// `(bucket midpoint s, value)` of percentile `i` of `class`: NaN (a break
/// in the line) where a bucket is empty or holds too few samples for it.
fn latency_points(sum: &Summary, class: RequestClass, i: usize) -> Vec<(f64, f64)> {
    series_points(sum.latency_series.iter().find(|l| l.class == class), i)
}

/// The [`PERCENTILE_COLORS`] entries drawn as a level per window: p50, p95, p99.
const LEVELS: [usize; 3] = [0, 2, 3];

/// Percentile `i` of `class` as a level across each hold, stress step and
/// recovery phase, from the window's own histogram (what the SLOs judge),
/// where the window holds enough successful requests for it
/// ([`needed`]); NaN points break the line between windows.
fn window_levels(s: &Summary, class: RequestClass, i: usize) -> Vec<(f64, f64)> {
    let need = needed(PERCENTILES[i]);
    let mut points = Vec::new();
    for w in s.windows.iter().filter(|w| {
        matches!(
            w.kind,
            WindowKind::Hold | WindowKind::StressStep | WindowKind::Recovery
        )
    }) {
        let Some(c) = w.classes.iter().find(|c| c.class == class) else {
            continue;
        };
        let (Some(l), true) = (c.latency, c.count.saturating_sub(c.failed) >= need) else {
            continue;
        };
        let v = pick(&l, i);
        let (x0, x1) = (w.start_ms as f64 / 1000.0, w.end_ms as f64 / 1000.0);
        points.extend([(x0, v), (x1, v), (x1, f64::NAN)]);
    }
    points
}

fn series_points(ls: Option<&LatencySeries>, i: usize) -> Vec<(f64, f64)> {
    let Some(ls) = ls else {
        return Vec::new();
    };
    let need = needed(PERCENTILES[i]);
    let w = ls.bucket_ms as f64 / 1000.0;
    ls.buckets
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let v = b
                .latency
                .filter(|_| b.count >= need)
                .map_or(f64::NAN, |l| pick(&l, i));
            ((k as f64 + 0.5) * w, v)
        })
        .collect()
}

fn latency_over_time(s: &Summary, base: Option<&Summary>, class: RequestClass) -> String {
    let series = s.latency_series.iter().find(|l| l.class == class);
    let width = series.map_or(String::new(), |l| {
        format!(", {} s buckets", number(&(l.bucket_ms as f64 / 1000.0)))
    });
    let mut plot = Plot::new(
        format!(
            "Latency over time: {}{width}, successful requests (log scale)",
            class.label()
        ),
        TIME_AXIS,
        "latency (ms, log scale)",
    );
    plot.bands = &s.windows;
    let mut levels_drawn = Vec::new();
    for i in LEVELS {
        let (name, color) = PERCENTILE_COLORS[i];
        let line = Line::new(
            format!("{name} per window"),
            color,
            window_levels(s, class, i),
        )
        .level();
        if !line.segments().is_empty() {
            levels_drawn.push(i);
            plot.lines.push(line);
        }
    }
    // Per bucket: p90 is left out (no SLO judges it; the chart is busy enough).
    let judged: Vec<&str> = s
        .slos
        .iter()
        .filter(|r| r.class == class)
        .map(|r| r.metric.key())
        .collect();
    for (i, (name, color)) in PERCENTILE_COLORS.iter().enumerate() {
        if *name == "p90" {
            continue;
        }
        let line = Line::new(
            format!("{name} per bucket"),
            *color,
            latency_points(s, class, i),
        );
        if line.segments().is_empty()
            && series.is_some()
            && !levels_drawn.contains(&i)
            && judged.contains(name)
        {
            plot.legend_notes.push(format!(
                "{name} not drawn: no window or bucket holds {} requests",
                needed(PERCENTILES[i])
            ));
        }
        plot.lines.push(line);
    }
    if let Some(b) = base {
        plot.lines.push(
            Line::new(
                "baseline p95",
                PERCENTILE_COLORS[2].1,
                latency_points(b, class, 2),
            )
            .baseline(),
        );
    }
    if !plot.has_data() {
        plot.lines.clear();
        plot.legend_notes.clear();
    } else {
        plot.legend_notes.push(format!(
            "each drawn where 5 requests lie beyond it (p95: {})",
            needed(95.0)
        ));
    }
    plot.hlines = slo_lines(s, class);
    plot.empty = "no latencies of this class over time";
    time_chart(s, plot, true)
}

/// Height of one small multiple of the distribution chart, px.
const CELL_HEIGHT: u32 = 210;

/// A histogram bar: from ms, to ms, share of the class's requests (%).
type Bar = (f64, f64, f64);

/// The latency distribution as small multiples: one histogram per class,
/// two a row, sharing the latency axis, so no class hides another.
fn histogram(s: &Summary) -> String {
    let title = "Latency distribution per class (whole run)";
    let cells: Vec<(RequestClass, u64, Vec<Bar>)> = s
        .distributions
        .iter()
        .filter_map(|d| {
            let total: u64 = d.bins.iter().map(|b| b.count).sum();
            (total > 0).then(|| {
                let bars = d
                    .bins
                    .iter()
                    .map(|b| (b.lo_ms, b.hi_ms, b.count as f64 * 100.0 / total as f64))
                    .collect();
                (d.class, total, bars)
            })
        })
        .collect();
    if cells.is_empty() {
        let mut plot = Plot::new(title, "latency (ms, log scale)", "share of requests (%)");
        plot.empty = "no latencies recorded";
        return svg_sized(title, HEIGHT, |root| draw(root, &plot, 0.0..1.0, 0.0..1.0));
    }
    let x = pad(
        extent(
            cells
                .iter()
                .flat_map(|c| c.2.iter().flat_map(|b| [b.0, b.1])),
            true,
        ),
        true,
    );
    let rows = cells.len().div_ceil(2);
    let height = CELL_HEIGHT * rows as u32;
    let title =
        format!("{title}: share of successful requests (%) per latency bin (ms, log scale)");
    svg_sized(&title, height, |root| {
        let areas = root.split_evenly((rows, 2));
        for ((class, total, bars), area) in cells.iter().zip(areas.iter()) {
            let top = bars.iter().map(|b| b.2).fold(0.0, f64::max);
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{} ({total} requests)", class.label()),
                    (FONT, plot::LABEL + 1),
                )
                .margin(8)
                .x_label_area_size(32)
                .y_label_area_size(52)
                .build_cartesian_2d(
                    ticked(x.clone().log_scale(), log_ticks(&x, 7)),
                    0.0..(top * 1.1).max(1.0),
                )?;
            chart
                .configure_mesh()
                .x_label_formatter(&number)
                .y_label_formatter(&number)
                .y_labels(4)
                .label_style((FONT, plot::LABEL))
                .light_line_style(WHITE.mix(0.0))
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()?;
            let color = class_color(*class);
            chart.draw_series(bars.iter().map(|(lo, hi, share)| {
                Rectangle::new([(*lo, 0.0), (*hi, *share)], color.mix(0.75).filled())
            }))?;
        }
        Ok(())
    })
}

/// x position of percentile `p` on the tail axis: −log10(1 − p/100), capped at 5.
fn tail_x(p: f64) -> f64 {
    let q = 1.0 - p / 100.0;
    if q <= 1e-5 {
        5.0
    } else {
        -q.log10()
    }
}

fn percentile_curve(s: &Summary, base: Option<&Summary>) -> String {
    let mut plot = Plot::new(
        "Latency by percentile, successful requests (whole run)",
        "percentile (tail stretched)",
        "latency (ms, log scale)",
    );
    for d in &s.distributions {
        plot.lines.push(Line::new(
            d.class.label(),
            class_color(d.class),
            d.percentiles
                .iter()
                .map(|(p, ms)| (tail_x(*p), *ms))
                .collect(),
        ));
    }
    if let Some(b) = base {
        for d in &b.distributions {
            if s.distributions.iter().any(|x| x.class == d.class) {
                plot.lines.push(
                    Line::new(
                        format!("baseline {}", d.class.label()),
                        class_color(d.class),
                        d.percentiles
                            .iter()
                            .map(|(p, ms)| (tail_x(*p), *ms))
                            .collect(),
                    )
                    .baseline(),
                );
            }
        }
    }
    plot.x_format = Box::new(percent_of_tail);
    plot.empty = "no latencies recorded";
    let y = pad(extent(plot.ys(), true), true);
    let ticks = log_ticks(&y, 13);
    svg_sized(&plot.title.clone(), plot.height(), |root| {
        draw(root, &plot, 0.0..5.0, ticked(y.log_scale(), ticks))
    })
}

fn marker_lines(s: &Summary) -> Vec<Marker> {
    let mut m = Vec::new();
    if let Some(c) = s.capacity {
        m.push(Marker {
            label: format!("capacity: {c} viewers"),
            x: c as f64,
            color: RGBColor(44, 160, 44),
        });
    }
    if let Some(k) = &s.knee {
        m.push(Marker {
            label: format!("knee: {} viewers", k.viewers),
            x: k.viewers as f64,
            color: RGBColor(148, 103, 189),
        });
    }
    m
}

fn concurrency_x(s: &Summary, base: Option<&Summary>) -> Range<f64> {
    let max = s
        .concurrency
        .iter()
        .chain(base.iter().flat_map(|b| b.concurrency.iter()))
        .map(|p| p.viewers)
        .max()
        .unwrap_or(1) as f64;
    0.0..(max * 1.08).max(1.0)
}

fn concurrency_latency(s: &Summary, base: Option<&Summary>) -> String {
    let mut plot = Plot::new(
        "p95 latency of successful requests against concurrency (holds and stress steps)",
        "viewers",
        "p95 latency (ms, log scale)",
    );
    let classes: Vec<RequestClass> = RequestClass::ALL
        .into_iter()
        .filter(|c| {
            s.concurrency
                .iter()
                .any(|p| p.p95_ms.iter().any(|(x, _)| x == c))
        })
        .filter(|c| LATENCY_CLASSES.contains(c) || s.slos.iter().any(|r| r.class == *c))
        .collect();
    let p95_of = |sum: &Summary, class: RequestClass| -> Vec<(f64, f64)> {
        sum.concurrency
            .iter()
            .filter_map(|p| {
                Some((
                    p.viewers as f64,
                    p.p95_ms.iter().find(|(c, _)| *c == class)?.1,
                ))
            })
            .collect()
    };
    for class in &classes {
        plot.lines.push(
            Line::new(
                format!("{} p95", class.label()),
                class_color(*class),
                p95_of(s, *class),
            )
            .markers(),
        );
        if let Some(b) = base {
            plot.lines.push(
                Line::new(
                    format!("baseline {} p95", class.label()),
                    class_color(*class),
                    p95_of(b, *class),
                )
                .baseline(),
            );
        }
        plot.hlines.extend(
            slo_lines(s, *class)
                .into_iter()
                .filter(|(l, _, _)| l.contains("p95"))
                .map(|(l, v, _)| (format!("{}: {l}", class.label()), v, class_color(*class))),
        );
    }
    plot.markers = marker_lines(s);
    plot.empty = "no hold windows or stress steps with latencies";
    let x = concurrency_x(s, base);
    let y = pad(extent(plot.ys(), true), true);
    let ticks = log_ticks(&y, 13);
    svg_sized(&plot.title.clone(), plot.height(), |root| {
        draw(root, &plot, x, ticked(y.log_scale(), ticks))
    })
}

/// Error rate (%) per viewer class against viewers, beside the p95 chart, with the
/// error-rate SLO lines and the capacity marker: with the p95 chart it shows which
/// bound the capacity stopped at.
fn concurrency_errors(s: &Summary) -> String {
    let mut plot = Plot::new(
        "Error rate against concurrency (hold windows and stress steps)",
        "viewers",
        "failed requests (% of the class)",
    );
    for class in [RequestClass::DashboardLoad, RequestClass::PanelQuery] {
        let pts = concurrency_error_rates(s, class);
        if pts.is_empty() {
            continue;
        }
        plot.lines.push(
            Line::new(
                format!("{} error rate", class.label()),
                class_color(class),
                pts,
            )
            .markers(),
        );
        let mut bounds: Vec<f64> = Vec::new();
        for r in s
            .slos
            .iter()
            .filter(|r| r.class == class && r.metric == SloMetric::ErrorRate)
        {
            if !bounds.contains(&r.max) {
                bounds.push(r.max);
            }
        }
        plot.hlines.extend(bounds.into_iter().map(|max| {
            (
                format!(
                    "{}: SLO error rate ≤ {} %",
                    class.label(),
                    number(&(max * 100.0))
                ),
                max * 100.0,
                class_color(class),
            )
        }));
    }
    plot.markers = marker_lines(s);
    plot.empty = "no hold windows or stress steps with viewer requests";
    let x = concurrency_x(s, None);
    let y = pad(extent(plot.ys().chain([0.0]), false), false);
    svg_sized(&plot.title.clone(), plot.height(), |root| {
        draw(root, &plot, x, y)
    })
}

/// `(viewers, error rate %)` of `class` per concurrency point that has requests of it.
fn concurrency_error_rates(s: &Summary, class: RequestClass) -> Vec<(f64, f64)> {
    let by_name: std::collections::HashMap<&str, &WindowStats> =
        s.windows.iter().map(|w| (w.name.as_str(), w)).collect();
    s.concurrency
        .iter()
        .filter_map(|p| {
            let w = by_name.get(p.window.as_str())?;
            let c = w.classes.iter().find(|c| c.class == class)?;
            Some((p.viewers as f64, c.error_rate? * 100.0))
        })
        .collect()
}

fn concurrency_throughput(s: &Summary, base: Option<&Summary>) -> String {
    let mut plot = Plot::new(
        "Viewer throughput against concurrency",
        "viewers",
        "successful viewer requests per second",
    );
    let pts = |sum: &Summary| -> Vec<(f64, f64)> {
        sum.concurrency
            .iter()
            .map(|p| (p.viewers as f64, p.viewer_throughput_rps))
            .collect()
    };
    plot.lines
        .push(Line::new("throughput", RGBColor(31, 119, 180), pts(s)).markers());
    if let Some(first) = s.concurrency.first().filter(|p| p.viewers > 0) {
        let slope = first.viewer_throughput_rps / first.viewers as f64;
        let x_end = concurrency_x(s, base).end;
        plot.lines.push(
            Line::new(
                "linear scaling from the first window",
                RGBColor(160, 160, 160),
                vec![(0.0, 0.0), (x_end, slope * x_end)],
            )
            .reference(),
        );
    }
    if let Some(b) = base {
        plot.lines
            .push(Line::new("baseline throughput", RGBColor(31, 119, 180), pts(b)).baseline());
    }
    plot.notes = s
        .concurrency
        .iter()
        .map(|p| {
            (
                p.viewers as f64,
                p.viewer_throughput_rps,
                short_window_name(&p.window),
            )
        })
        .collect();
    plot.markers = marker_lines(s);
    if let Some(d) = &s.degradation {
        plot.hlines.push((
            format!(
                "graceful floor: {:.0} % of the peak goodput",
                d.rules.min_goodput * 100.0
            ),
            d.peak_goodput_rps * d.rules.min_goodput,
            if d.graceful {
                RGBColor(44, 160, 44)
            } else {
                RGBColor(214, 39, 40)
            },
        ));
        plot.legend_notes
            .push(format!("past capacity — {}", d.verdict));
    }
    plot.empty = "no hold windows or stress steps";
    let x = concurrency_x(s, base);
    let y = pad(extent(plot.ys().chain([0.0]), false), false);
    let y = 0.0..y.end;
    svg_sized(&plot.title.clone(), plot.height(), |root| {
        draw(root, &plot, x, y)
    })
}

fn errors(s: &Summary) -> String {
    let mut plot = Plot::new(
        "Errors over time by kind",
        TIME_AXIS,
        "failed requests per second",
    );
    plot.bands = &s.windows;
    for kind in ErrorKind::ALL {
        let i = kind.index();
        if s.series
            .buckets
            .iter()
            .any(|b| b.errors.get(i).copied().unwrap_or(0) > 0)
        {
            plot.lines.push(Line::new(
                kind.label(),
                kind_color(kind),
                over_time(s, |b| {
                    Some(per_second(s, b.errors.get(i).copied().unwrap_or(0)))
                }),
            ));
        }
    }
    plot.empty = "no failed requests";
    time_chart(s, plot, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_axis_puts_the_nines_at_integers() {
        assert_eq!(tail_x(0.0), 0.0);
        assert!((tail_x(90.0) - 1.0).abs() < 1e-9);
        assert!((tail_x(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(tail_x(100.0), 5.0);
        assert_eq!(percent_of_tail(&2.0), "99%");
        assert_eq!(percent_of_tail(&0.0), "0%");
    }

    #[test]
    fn log_axes_tick_at_1_2_5() {
        assert_eq!(
            log_ticks(&(15.0..600.0), 10),
            vec![20.0, 50.0, 100.0, 200.0, 500.0]
        );
        assert_eq!(
            log_ticks(&(0.5..20000.0), 7),
            vec![1.0, 10.0, 100.0, 1000.0, 10000.0]
        );
    }

    #[test]
    fn time_axes_tick_at_round_utc_times() {
        let start: DateTime<Utc> = "2026-01-02T10:00:07.500Z".parse().unwrap();
        let ticks = time_ticks(start, 120.0);
        assert_eq!(ticks[0], 22.5, "first tick on 10:00:30");
        let labels: Vec<String> = ticks.iter().map(|x| clock(start, *x)).collect();
        assert_eq!(labels[..3], ["10:00:30", "10:01:00", "10:01:30"]);
        assert!(ticks.len() <= 8);
    }

    #[test]
    fn empty_buckets_and_thin_buckets_break_latency_lines() {
        use crate::report::latency_series::LatencyBucket;
        let l = Latency {
            p50: 10.0,
            p90: 20.0,
            p95: 30.0,
            p99: 40.0,
            max: 50.0,
            mean: 15.0,
            stddev: 5.0,
        };
        let ls = LatencySeries {
            class: RequestClass::DashboardLoad,
            bucket_ms: 2000,
            buckets: vec![
                LatencyBucket {
                    count: 120,
                    latency: Some(l),
                },
                LatencyBucket {
                    count: 0,
                    latency: None,
                },
                LatencyBucket {
                    count: 60,
                    latency: Some(l),
                },
            ],
        };
        let p95 = series_points(Some(&ls), 2);
        assert_eq!(p95[0], (1.0, 30.0));
        assert!(p95[1].1.is_nan() && p95[2].1.is_nan(), "{p95:?}");
        let p90 = series_points(Some(&ls), 1);
        assert_eq!(p90[2], (5.0, 20.0));
        let line = Line::new("p90", RGBColor(0, 0, 0), p90);
        assert_eq!(line.segments().len(), 2, "no line across the empty bucket");
    }

    #[test]
    fn legend_entries_wrap_and_the_chart_grows_to_hold_them() {
        let long = "baseline dashboard load p95 over a long name";
        let lines = plot::wrap(long);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), long, "nothing dropped");
        let mut plot = Plot::new("t", "x", "y");
        for i in 0..30 {
            plot.lines.push(Line::new(
                format!("{long} {i}"),
                RGBColor(0, 0, 0),
                vec![(0.0, 1.0)],
            ));
        }
        assert!(plot.height() > HEIGHT);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(number(&0.0), "0");
        assert_eq!(number(&1500.0), "1500");
        assert_eq!(number(&2.5), "2.5");
        assert_eq!(number(&0.05), "0.05");
    }

    #[test]
    fn charts_are_inline_svg_without_urls() {
        let plot = Plot::new("t", "x (s)", "y (ms)");
        let out = svg_sized("a <chart>", HEIGHT, |root| {
            draw(root, &plot, 0.0..1.0, 0.0..1.0)
        });
        assert!(
            out.starts_with(
                "<figcaption>a &lt;chart&gt;</figcaption><svg role=\"img\" aria-label=\"a &lt;chart&gt;\""
            ),
            "{}",
            &out[..80]
        );
        assert!(!out.contains("http://"));
        assert!(out.contains("no data"));
    }

    #[test]
    fn the_error_rate_chart_has_a_point_per_concurrency_window_and_the_slo_line() {
        let dir = tempfile::tempdir().unwrap();
        let meta = crate::report::synthetic::write_run(dir.path(), 20_000, 3).unwrap();
        let s = crate::report::summarise(dir.path(), &meta, false).unwrap();
        let pts = concurrency_error_rates(&s, RequestClass::PanelQuery);
        assert_eq!(pts.len(), s.concurrency.len());
        for (p, (viewers, pct)) in s.concurrency.iter().zip(&pts) {
            assert_eq!(p.viewers as f64, *viewers);
            let w = s.windows.iter().find(|w| w.name == p.window).unwrap();
            let c = w
                .classes
                .iter()
                .find(|c| c.class == RequestClass::PanelQuery);
            assert_eq!(c.unwrap().error_rate.unwrap() * 100.0, *pct);
        }
        let svg = concurrency_errors(&s);
        assert!(svg.contains("panel query error rate"), "no series");
        // Legend entries wrap: every line of the SLO's label is in the chart.
        let slo = s
            .slos
            .iter()
            .find(|r| r.class == RequestClass::PanelQuery && r.metric == SloMetric::ErrorRate)
            .expect("the synthetic run has a panel-query error-rate SLO");
        let label = format!(
            "{}: SLO error rate ≤ {} %",
            RequestClass::PanelQuery.label(),
            number(&(slo.max * 100.0))
        );
        for line in plot::wrap(&label) {
            assert!(svg.contains(&line), "no SLO line: {line:?} of {label:?}");
        }
    }
}
