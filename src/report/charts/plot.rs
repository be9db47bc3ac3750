//! The drawing machinery under every chart: a [`Plot`] (lines, SLO lines,
//! markers, shaded windows) drawn on linear or log axes with plotters, its
//! legend, and the SVG clean-up for inlining. Charts themselves live in
//! `charts.rs`; this file knows nothing of runs.

use std::error::Error as StdError;
use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::summary::WindowStats;
use crate::runfolder::WindowKind;

use super::{FONT, HEIGHT, WIDTH};

pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(super) type DrawResult = Result<(), Box<dyn StdError>>;

/// Room right of the plot for the legend, px.
const LEGEND_WIDTH: u32 = 230;
const CAPTION: u32 = 20;
const LABEL: u32 = 14;

/// One line of a chart.
pub(super) struct Line {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) markers: bool,
}

impl Line {
    pub(super) fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.into(),
            color,
            dashed: false,
            points,
            markers: false,
        }
    }

    pub(super) fn dashed(mut self) -> Line {
        self.dashed = true;
        self
    }

    pub(super) fn markers(mut self) -> Line {
        self.markers = true;
        self
    }
}

/// A vertical marker line (capacity, knee).
pub(super) struct Marker {
    pub(super) label: String,
    pub(super) x: f64,
    pub(super) color: RGBColor,
}

/// What a chart shows.
pub(super) struct Plot<'a> {
    pub(super) title: String,
    pub(super) x_label: &'a str,
    pub(super) y_label: &'a str,
    pub(super) lines: Vec<Line>,
    /// Horizontal lines: label, y, colour (SLO bounds).
    pub(super) hlines: Vec<(String, f64, RGBColor)>,
    pub(super) markers: Vec<Marker>,
    /// Windows to shade, x in seconds.
    pub(super) bands: &'a [WindowStats],
    /// Point labels `(x, y, text)`.
    pub(super) notes: Vec<(f64, f64, String)>,
    pub(super) x_format: fn(&f64) -> String,
    pub(super) y_format: fn(&f64) -> String,
    pub(super) empty: &'a str,
}

impl<'a> Plot<'a> {
    pub(super) fn new(title: impl Into<String>, x_label: &'a str, y_label: &'a str) -> Plot<'a> {
        Plot {
            title: title.into(),
            x_label,
            y_label,
            lines: Vec::new(),
            hlines: Vec::new(),
            markers: Vec::new(),
            bands: &[],
            notes: Vec::new(),
            x_format: number,
            y_format: number,
            empty: "no data",
        }
    }

    pub(super) fn has_data(&self) -> bool {
        self.lines.iter().any(|l| !l.points.is_empty())
    }

    pub(super) fn ys(&self) -> impl Iterator<Item = f64> + '_ {
        self.lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .chain(self.hlines.iter().map(|h| h.1))
            .filter(|v| v.is_finite())
    }

    pub(super) fn xs(&self) -> impl Iterator<Item = f64> + '_ {
        self.lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .chain(self.markers.iter().map(|m| m.x))
            .chain(self.bands.iter().map(|w| w.end_ms as f64 / 1000.0))
            .filter(|v| v.is_finite())
    }
}

/// A tick label: integers plainly, small numbers with enough decimals.
pub(super) fn number(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 || (a >= 1.0 && v.fract() == 0.0) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

pub(super) fn percent_of_tail(x: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

pub(super) fn band_color(kind: WindowKind) -> RGBAColor {
    match kind {
        WindowKind::Ramp => RGBColor(150, 150, 150).mix(0.12),
        WindowKind::Hold => RGBColor(44, 160, 44).mix(0.12),
        WindowKind::StressStep => RGBColor(255, 127, 14).mix(0.14),
    }
}

/// Render `draw` into an SVG string of the chart size, cleaned for inlining.
pub(super) fn svg(title: &str, draw: impl FnOnce(&Area) -> DrawResult) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn StdError>::from)
            .and_then(|_| draw(&root))
            .and_then(|_| root.present().map_err(Box::<dyn StdError>::from))
    };
    if let Err(e) = result {
        return failed_svg(title, &e.to_string());
    }
    inline(&buf, title)
}

/// An SVG that says a chart could not be drawn.
pub(super) fn failed_svg(title: &str, why: &str) -> String {
    format!(
        "<svg role=\"img\" aria-label=\"{t}\" width=\"{WIDTH}\" height=\"80\" viewBox=\"0 0 {WIDTH} 80\"><text x=\"10\" y=\"30\" font-family=\"{FONT}\" font-size=\"16\">{t}: chart could not be drawn ({w})</text></svg>",
        t = crate::report::html::escape(title),
        w = crate::report::html::escape(why)
    )
}

/// Drop the namespace URL and name the chart for screen readers.
pub(super) fn inline(svg: &str, title: &str) -> String {
    let svg = svg
        .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "");
    svg.replacen(
        "<svg ",
        &format!(
            "<svg role=\"img\" aria-label=\"{}\" ",
            crate::report::html::escape(title)
        ),
        1,
    )
}

pub(super) fn pad(range: Range<f64>, log: bool) -> Range<f64> {
    let (lo, hi) = (range.start, range.end);
    if log {
        let lo = if lo > 0.0 { lo } else { 0.01 };
        let hi = if hi > lo { hi } else { lo * 10.0 };
        (lo / 1.5)..(hi * 1.5)
    } else {
        let hi = if hi > lo { hi } else { lo + 1.0 };
        lo..(hi + (hi - lo) * 0.08)
    }
}

pub(super) fn extent(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        if log && v <= 0.0 {
            continue;
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { 0.1..10.0 } else { 0.0..1.0 };
    }
    lo..hi
}

/// Draw `plot` with x and y axes from `x` and `y` (linear or log ranges).
pub(super) fn draw<X, Y>(root: &Area, plot: &Plot, x: X, y: Y) -> DrawResult
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let (left, right) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let mut legend: Vec<(String, Mark)> = Vec::new();
    let mut chart = ChartBuilder::on(&left)
        .caption(&plot.title, (FONT, CAPTION))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .x_labels(10)
        .y_labels(8)
        .x_label_formatter(&plot.x_format)
        .y_label_formatter(&plot.y_format)
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL + 1))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    let xr = chart.x_range();
    let yr = chart.y_range();

    // Stage and stress-step windows, shaded and labelled.
    let mut kinds_seen = Vec::new();
    for (i, w) in plot.bands.iter().enumerate() {
        let (x0, x1) = (w.start_ms as f64 / 1000.0, w.end_ms as f64 / 1000.0);
        let (x0, x1) = (x0.max(xr.start), x1.min(xr.end));
        if x1 <= x0 {
            continue;
        }
        let color = band_color(w.kind);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, yr.start), (x1, yr.end)],
            color.filled(),
        )))?;
        if !kinds_seen.contains(&w.kind) {
            kinds_seen.push(w.kind);
            let name = match w.kind {
                WindowKind::Ramp => "ramp window",
                WindowKind::Hold => "hold window (judged)",
                WindowKind::StressStep => "stress step",
            };
            legend.push((name.to_string(), Mark::Band(color)));
        }
        let label = short_window_name(&w.name);
        chart.draw_series(std::iter::once(
            EmptyElement::at((x0, yr.end))
                + Text::new(
                    label,
                    (3, 3 + 14 * (i as i32 % 2)),
                    (FONT, 12).into_font().color(&RGBColor(80, 80, 80)),
                ),
        ))?;
    }

    if !plot.has_data() {
        let mid = ((xr.start + xr.end) / 2.0, yr.end);
        chart.draw_series(std::iter::once(
            EmptyElement::at(mid)
                + Text::new(
                    plot.empty.to_string(),
                    (-60, 60),
                    (FONT, 18).into_font().color(&RGBColor(120, 120, 120)),
                ),
        ))?;
    }

    for line in &plot.lines {
        let style = ShapeStyle::from(&line.color).stroke_width(2);
        if line.dashed {
            chart.draw_series(DashedLineSeries::new(
                line.points.iter().copied(),
                6,
                4,
                style,
            ))?;
        } else {
            chart.draw_series(LineSeries::new(line.points.iter().copied(), style))?;
        }
        legend.push((line.label.clone(), Mark::Line(line.color, line.dashed)));
        if line.markers {
            chart.draw_series(
                line.points
                    .iter()
                    .map(|p| Circle::new(*p, 4, line.color.filled())),
            )?;
        }
    }
    for (label, v, color) in &plot.hlines {
        let style = ShapeStyle::from(color).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(
            [(xr.start, *v), (xr.end, *v)],
            8,
            5,
            style,
        ))?;
        legend.push((label.clone(), Mark::Line(*color, true)));
    }
    for m in &plot.markers {
        let style = ShapeStyle::from(&m.color).stroke_width(2);
        chart.draw_series(LineSeries::new([(m.x, yr.start), (m.x, yr.end)], style))?;
        legend.push((m.label.clone(), Mark::Vertical(m.color)));
    }
    for (x, y, text) in &plot.notes {
        chart.draw_series(std::iter::once(
            EmptyElement::at((*x, *y))
                + Text::new(
                    text.clone(),
                    (5, -16),
                    (FONT, 12).into_font().color(&RGBColor(60, 60, 60)),
                ),
        ))?;
    }
    draw_legend(&right, &legend)
}

/// How a legend entry is marked.
pub(super) enum Mark {
    Band(RGBAColor),
    Line(RGBColor, bool),
    Vertical(RGBColor),
}

/// The legend, in its own area right of the plot so it never hides data.
pub(super) fn draw_legend(area: &Area, entries: &[(String, Mark)]) -> DrawResult {
    const MAX_CHARS: usize = 34;
    let font = (FONT, 13).into_font().color(&RGBColor(40, 40, 40));
    if !entries.is_empty() {
        area.draw(&Text::new(
            "legend",
            (8, 34),
            (FONT, 13).into_font().color(&RGBColor(120, 120, 120)),
        ))?;
    }
    for (i, (label, mark)) in entries.iter().enumerate() {
        let y = 58 + 19 * i as i32;
        match mark {
            Mark::Band(c) => area.draw(&Rectangle::new([(8, y - 6), (30, y + 6)], c.filled()))?,
            Mark::Line(c, false) => area.draw(&PathElement::new(
                vec![(8, y), (30, y)],
                ShapeStyle::from(c).stroke_width(2),
            ))?,
            Mark::Line(c, true) => {
                for x in [8, 17, 26] {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 5, y)],
                        ShapeStyle::from(c).stroke_width(2),
                    ))?;
                }
            }
            Mark::Vertical(c) => area.draw(&PathElement::new(
                vec![(19, y - 7), (19, y + 7)],
                ShapeStyle::from(c).stroke_width(2),
            ))?,
        }
        let text: String = if label.chars().count() > MAX_CHARS {
            label.chars().take(MAX_CHARS - 1).chain(['…']).collect()
        } else {
            label.clone()
        };
        area.draw(&Text::new(text, (36, y - 7), font.clone()))?;
    }
    Ok(())
}

/// `stage 1 hold` → `s1 hold`, `step 3` stays: band labels must be short.
pub(super) fn short_window_name(name: &str) -> String {
    name.replace("stage ", "s")
}
