//! The trend charts of one scenario digest for the run index, each figure
//! against the runs' start with one marker per run whose shape says how the
//! run ended (passed, failed, regressed, not judged, interrupted): the p95 of
//! dashboard loads and of panel queries (over each run's hold windows), and
//! beside it the capacity bracket and the error rate. Inline SVG drawn with
//! plotters, like the report's charts: no script, no URL.

use std::error::Error as StdError;
use std::ops::Range;

use chrono::{DateTime, Utc};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::History;
use crate::report::charts::{HEIGHT, WIDTH};

/// The small charts beside the p95 one: two fit side by side in 1024 px.
const SMALL: (u32, u32) = (470, 300);

/// The most runs a chart shows (the newest); the index's table lists every run.
pub const CHART_RUNS: usize = 200;

const FONT: &str = "sans-serif";
/// Text size given to plotters (its SVG writes size / 1.24: 14.5 px), as the report's.
const LABEL: u32 = 18;
const LEGEND_WIDTH: u32 = 250;
/// A small chart's legend, below its plot: one line per series.
const SMALL_LEGEND_HEIGHT: u32 = 34;
/// The least time either side of the runs: five runs within two minutes take
/// half the axis, not a 10 px column.
const MIN_PAD_S: f64 = 60.0;

/// How a run ended, as the chart and the index mark it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed whole, no regression.
    Passed,
    /// An SLO failed on a hold window (with or without a regression).
    Failed,
    /// Passed its SLOs but regressed against its baseline.
    Regressed,
    /// Not judged (nothing to judge, or too few samples: `summary.json` says which).
    NotJudged,
    /// Cut short by a signal.
    Interrupted,
}

impl Outcome {
    /// The outcome of one run: interrupted first, then failed, regressed, passed.
    pub fn of(h: &History) -> Outcome {
        if h.interrupted {
            Outcome::Interrupted
        } else if h.verdict == "fail" {
            Outcome::Failed
        } else if h.regression {
            Outcome::Regressed
        } else if h.verdict == "pass" {
            Outcome::Passed
        } else {
            Outcome::NotJudged
        }
    }

    /// A word for the legend and the table.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Regressed => "regressed",
            Outcome::NotJudged => "not judged",
            Outcome::Interrupted => "interrupted",
        }
    }

    const ALL: [Outcome; 5] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Regressed,
        Outcome::NotJudged,
        Outcome::Interrupted,
    ];
}

const LOAD: RGBColor = RGBColor(31, 119, 180);
const PANEL: RGBColor = RGBColor(255, 127, 14);
const FAILED: RGBColor = RGBColor(214, 39, 40);
const REGRESSED: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(110, 110, 110);

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn StdError>>;
/// One line: its label, colour, and `(start, p95, outcome)` per run.
type Series = (&'static str, RGBColor, Vec<(f64, f64, Outcome)>);

/// What a trend chart plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Dashboard-load and panel-query p95, ms: the large chart, with the outcome legend.
    P95,
    /// The capacity bracket: the most viewers held and the fewest that failed.
    Capacity,
    /// Failed dashboard loads ÷ dashboard loads, percent.
    ErrorRate,
}

impl Figure {
    /// Every chart of a scenario digest, in the page's order.
    pub const ALL: [Figure; 3] = [Figure::P95, Figure::Capacity, Figure::ErrorRate];

    fn title(self) -> &'static str {
        match self {
            Figure::P95 => "p95 over the hold windows",
            Figure::Capacity => "capacity bracket",
            Figure::ErrorRate => "dashboard-load error rate",
        }
    }

    fn y_desc(self) -> &'static str {
        match self {
            Figure::P95 => "p95 latency (ms)",
            Figure::Capacity => "viewers",
            Figure::ErrorRate => "error rate (%)",
        }
    }

    fn size(self) -> (u32, u32) {
        match self {
            Figure::P95 => (WIDTH, HEIGHT),
            _ => SMALL,
        }
    }

    fn series(self, runs: &[&History]) -> Vec<Series> {
        match self {
            Figure::P95 => vec![
                (
                    "dashboard load p95",
                    LOAD,
                    points(runs, |h| h.dashboard_load_p95_ms),
                ),
                (
                    "panel query p95",
                    PANEL,
                    points(runs, |h| h.panel_query_p95_ms),
                ),
            ],
            Figure::Capacity => vec![
                (
                    "held",
                    LOAD,
                    points(runs, |h| h.capacity_held.map(|v| v as f64)),
                ),
                (
                    "failed",
                    FAILED,
                    points(runs, |h| h.capacity_failed.map(|v| v as f64)),
                ),
            ],
            Figure::ErrorRate => vec![(
                "dashboard load error rate",
                LOAD,
                points(runs, |h| h.error_rate.map(|e| e * 100.0)),
            )],
        }
    }
}

/// The `figure` chart of `scenario` over `runs` (oldest first: the newest
/// [`CHART_RUNS`] at most) of its `total` runs, as inline SVG.
pub fn chart(scenario: &str, figure: Figure, runs: &[&History], total: usize) -> String {
    let limit = if figure == Figure::P95 { 40 } else { 16 };
    let shown: String = scenario.chars().take(limit).collect();
    let ellipsis = if shown.len() < scenario.len() {
        "…"
    } else {
        ""
    };
    let title = format!("{shown}{ellipsis}: {}", figure.title());
    let (width, height) = figure.size();
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn StdError>::from)
            .and_then(|_| draw(&root, figure, &title, runs, total))
            .and_then(|_| root.present().map_err(Box::<dyn StdError>::from))
    };
    let label = crate::report::format::escape(&format!("Trend of {}: {scenario}", figure.title()));
    if let Err(e) = result {
        return format!(
            "<svg role=\"img\" aria-label=\"{label}\" width=\"{width}\" height=\"80\" viewBox=\"0 0 {width} 80\"><text x=\"10\" y=\"30\" font-family=\"{FONT}\" font-size=\"16\">chart could not be drawn ({})</text></svg>",
            crate::report::format::escape(&e.to_string())
        );
    }
    // Inline in HTML: no namespace URL, and a name for screen readers.
    buf.replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "")
        .replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{label}\" "),
            1,
        )
}

/// The run's start, seconds since the epoch.
fn x_of(h: &History) -> f64 {
    h.started_at.timestamp_millis() as f64 / 1000.0
}

/// The time axis over runs starting from `lo` to `hi` (s since the epoch):
/// 5 % of the span either side, and at least [`MIN_PAD_S`].
pub fn time_range(lo: f64, hi: f64) -> Range<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..86_400.0;
    }
    let pad = ((hi - lo) * 0.05).max(MIN_PAD_S);
    (lo - pad)..(hi + pad)
}

fn draw(root: &Area, figure: Figure, title: &str, runs: &[&History], total: usize) -> DrawResult {
    let (width, height) = figure.size();
    let (plot, legend_area) = match figure {
        Figure::P95 => root.split_horizontally(width - LEGEND_WIDTH),
        _ => root.split_vertically(height - SMALL_LEGEND_HEIGHT),
    };
    let series = figure.series(runs);
    let xs = runs.iter().map(|h| x_of(h));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let x_range = time_range(lo, hi);
    let y_max = series
        .iter()
        .flat_map(|s| s.2.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let y_range = 0.0..if y_max > 0.0 { y_max * 1.12 } else { 1.0 };
    let small = figure != Figure::P95;
    // Ticks at most; and their labels, centred on them, must not stick out of
    // the chart: none within this share of the axis from either end.
    let (most, inset) = if small { (3.0, 0.14) } else { (5.0, 0.07) };
    let (ticks, format) = time_ticks(&x_range, most);
    let span = x_range.end - x_range.start;
    let ticks: Vec<f64> = ticks
        .into_iter()
        .filter(|t| *t >= x_range.start + inset * span && *t <= x_range.end - inset * span)
        .collect();
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FONT, if small { 19 } else { 22 }))
        .margin(12)
        .margin_right(if small { 24 } else { 30 })
        .x_label_area_size(if small { 30 } else { 48 })
        .y_label_area_size(if small { 64 } else { 76 })
        .build_cartesian_2d(
            Ticked {
                range: x_range.clone(),
                ticks,
            },
            y_range,
        )?;
    let y_format = move |y: &f64| match figure {
        Figure::ErrorRate => format!("{y:.1}"),
        _ => format!("{y:.0}"),
    };
    let x_format = |x: &f64| clock(*x, format);
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(figure.y_desc())
        .x_labels(8)
        .y_labels(if small { 5 } else { 8 })
        .x_label_formatter(&x_format)
        .y_label_formatter(&y_format)
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL + 1))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225));
    if !small {
        mesh.x_desc("run start (UTC)");
    }
    mesh.draw()?;
    if series.iter().all(|s| s.2.is_empty()) {
        let why = match figure {
            Figure::P95 => "no run has p95 figures (no hold window with dashboard loads)",
            Figure::Capacity => "no run found a capacity bracket",
            Figure::ErrorRate => "no run has an error rate",
        };
        chart.draw_series(std::iter::once(
            EmptyElement::at((x_range.start, 1.0))
                + Text::new(
                    why,
                    (20, if small { 60 } else { 120 }),
                    (FONT, LABEL).into_font().color(&GREY),
                ),
        ))?;
    }
    for (_, color, pts) in &series {
        chart.draw_series(LineSeries::new(
            pts.iter().map(|p| (p.0, p.1)),
            ShapeStyle::from(color).stroke_width(1),
        ))?;
        for (x, y, outcome) in pts {
            marker(chart.plotting_area(), *outcome, *color, (*x, *y))?;
        }
    }
    match figure {
        Figure::P95 => legend(&legend_area, &series, runs.len(), total),
        _ => line_legend(&legend_area, &series),
    }
}

/// A small chart's legend: its lines in a row under the plot.
fn line_legend(area: &Area, series: &[Series]) -> DrawResult {
    let text = (FONT, LABEL).into_font().color(&BLACK);
    let mut x = 76;
    for (label, color, _) in series {
        area.draw(&PathElement::new(
            [(x, 14), (x + 26, 14)],
            ShapeStyle::from(color).stroke_width(2),
        ))?;
        area.draw(&Text::new(label.to_string(), (x + 32, 6), text.clone()))?;
        x += 44 + 9 * label.len() as i32;
    }
    Ok(())
}

/// `(start, value, outcome)` of every run with a value.
fn points(runs: &[&History], value: impl Fn(&History) -> Option<f64>) -> Vec<(f64, f64, Outcome)> {
    runs.iter()
        .filter_map(|h| {
            let v = value(h).filter(|v| v.is_finite())?;
            Some((x_of(h), v, Outcome::of(h)))
        })
        .collect()
}

/// Draw a run's marker at `at`: its outcome's shape, in the line's colour when it passed.
fn marker<CT>(
    area: &DrawingArea<SVGBackend, CT>,
    o: Outcome,
    line: RGBColor,
    at: CT::From,
) -> DrawResult
where
    CT: plotters::coord::CoordTranslate,
    CT::From: Clone + 'static,
{
    match o {
        Outcome::Passed => area.draw(&Circle::new(at, 4, line.filled()))?,
        Outcome::Failed => area.draw(&Cross::new(at, 6, FAILED.stroke_width(3)))?,
        Outcome::Regressed => area.draw(&TriangleMarker::new(at, 8, REGRESSED.filled()))?,
        Outcome::NotJudged => area.draw(&Circle::new(at, 5, GREY.stroke_width(2)))?,
        Outcome::Interrupted => area.draw(
            &(EmptyElement::at(at) + Rectangle::new([(-5, -5), (5, 5)], GREY.stroke_width(2))),
        )?,
    }
    Ok(())
}

/// The legend: the two lines, then every outcome's marker, then how many runs are shown.
fn legend(area: &Area, series: &[Series], shown: usize, total: usize) -> DrawResult {
    let text = (FONT, LABEL).into_font().color(&BLACK);
    let mut y = 58;
    for (label, color, _) in series {
        area.draw(&PathElement::new(
            [(8, y), (38, y)],
            ShapeStyle::from(color).stroke_width(2),
        ))?;
        area.draw(&Text::new(label.to_string(), (46, y - 8), text.clone()))?;
        y += 26;
    }
    for o in Outcome::ALL {
        marker(area, o, GREY, (23, y))?;
        area.draw(&Text::new(o.label().to_string(), (46, y - 8), text.clone()))?;
        y += 26;
    }
    if total > shown {
        area.draw(&Text::new(
            format!("the newest {shown} of {total}"),
            (8, y),
            (FONT, LABEL).into_font().color(&GREY),
        ))?;
    }
    Ok(())
}

/// An x axis ticked where [`time_ticks`] says.
struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let t = if span > 0.0 {
            (v - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Ticks at round UTC times over `range` (s since the epoch), at most
/// `most` (the labels are wide), and their label format.
fn time_ticks(range: &Range<f64>, most: f64) -> (Vec<f64>, &'static str) {
    const MINUTE: f64 = 60.0;
    const HOUR: f64 = 3_600.0;
    const DAY: f64 = 86_400.0;
    const STEPS: [f64; 23] = [
        10.0,
        30.0,
        MINUTE,
        2.0 * MINUTE,
        5.0 * MINUTE,
        10.0 * MINUTE,
        15.0 * MINUTE,
        30.0 * MINUTE,
        HOUR,
        2.0 * HOUR,
        3.0 * HOUR,
        6.0 * HOUR,
        12.0 * HOUR,
        DAY,
        2.0 * DAY,
        7.0 * DAY,
        14.0 * DAY,
        28.0 * DAY,
        56.0 * DAY,
        91.0 * DAY,
        182.0 * DAY,
        364.0 * DAY,
        728.0 * DAY,
    ];
    let span = range.end - range.start;
    let step = STEPS
        .into_iter()
        .find(|st| span / st <= most)
        .unwrap_or_else(|| (span / most / DAY).ceil().max(1.0) * DAY);
    let format = if step < MINUTE {
        "%H:%M:%S"
    } else if step < DAY {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    };
    let mut ticks = Vec::new();
    let mut x = (range.start / step).ceil() * step;
    while x <= range.end && ticks.len() < 10 {
        ticks.push(x);
        x += step;
    }
    (ticks, format)
}

/// `x` s since the epoch as a UTC time in `format`.
fn clock(x: f64, format: &str) -> String {
    DateTime::<Utc>::from_timestamp(x.round() as i64, 0)
        .map_or_else(String::new, |t| t.format(format).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_minutes_apart_fill_the_axis_and_get_minute_ticks() {
        // Five runs within two minutes: before, padded by an hour either side,
        // they sat in 2 min / 122 min of the axis (about 10 px of 600).
        let lo = 1_790_000_000.0;
        let range = time_range(lo, lo + 120.0);
        let share = 120.0 / (range.end - range.start);
        assert!(share >= 0.45, "the runs take {share:.2} of the axis");
        let (ticks, format) = time_ticks(&range, 5.0);
        assert!((2..=5).contains(&ticks.len()), "{ticks:?}");
        assert_eq!(format, "%m-%d %H:%M");
        // A single run is centred with a minute either side.
        assert_eq!(time_range(lo, lo), (lo - 60.0)..(lo + 60.0));
        // Months of runs: 5 % either side, day ticks.
        let range = time_range(lo, lo + 90.0 * 86_400.0);
        assert!((range.end - range.start) < 100.0 * 86_400.0);
        assert_eq!(time_ticks(&range, 5.0).1, "%Y-%m-%d");
    }
}
