//! The drawing machinery under every chart: a [`Plot`] (lines, SLO lines,
//! markers, shaded windows) drawn on linear or log axes with plotters, its
//! legend, and the SVG clean-up for inlining. Charts themselves live in
//! `charts.rs`; this file knows nothing of runs.

use std::error::Error as StdError;
use std::ops::Range;

use plotters::coord::ranged1d::{
    AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter,
};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::summary::WindowStats;
use crate::runfolder::WindowKind;

use super::{FONT, HEIGHT, WIDTH};

pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(super) type DrawResult = Result<(), Box<dyn StdError>>;

/// Room right of the plot for the legend, px.
const LEGEND_WIDTH: u32 = 250;
/// The smallest text of a chart as given to plotters, whose SVG writes
/// font-size = size / 1.24 (14.5 px): at [`WIDTH`] 960 shown in an 800 px
/// wide page (752 px of chart) it is still 11.4 px.
pub(super) const LABEL: u32 = 18;
/// Characters of a legend line before it wraps (14.5 px text in 210 px).
const LEGEND_CHARS: usize = 24;
/// Stroke width of a window's level, px: wide enough to tell from a line.
pub(super) const LEVEL_WIDTH: u32 = 6;
/// Height of one legend line, px.
const LEGEND_LINE: i32 = 20;
/// Legend entries start this far down, px (level with the plot's top: the
/// title is HTML above the chart, not SVG text).
const LEGEND_TOP: i32 = 40;

/// How a line is stroked: each meaning has its own look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stroke {
    /// This run.
    Solid,
    /// The baseline run overlaid: dotted.
    Baseline,
    /// A reference (linear scaling): long dashes.
    Reference,
    /// A window's own figure held across the window: a wide, pale bar.
    Level,
}

/// One line of a chart. A point with a non-finite y breaks the line: no
/// straight line is drawn across an empty stretch.
pub(super) struct Line {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) stroke: Stroke,
    pub(super) points: Vec<(f64, f64)>,
    pub(super) markers: bool,
}

impl Line {
    pub(super) fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
        Line {
            label: label.into(),
            color,
            stroke: Stroke::Solid,
            points,
            markers: false,
        }
    }

    /// Drawn as the baseline overlay (dotted).
    pub(super) fn baseline(mut self) -> Line {
        self.stroke = Stroke::Baseline;
        self
    }

    /// Drawn as a level across a window (a wide, pale bar).
    pub(super) fn level(mut self) -> Line {
        self.stroke = Stroke::Level;
        self
    }

    /// Drawn as a reference line (long dashes).
    pub(super) fn reference(mut self) -> Line {
        self.stroke = Stroke::Reference;
        self
    }

    /// The runs of consecutive finite points, split where y is not finite.
    pub(super) fn segments(&self) -> Vec<&[(f64, f64)]> {
        self.points
            .split(|p| !p.1.is_finite() || !p.0.is_finite())
            .filter(|s| !s.is_empty())
            .collect()
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
    /// Fault windows to shade over them: `(start s, end s, label)`.
    pub(super) faults: Vec<(f64, f64, String)>,
    /// Point labels `(x, y, text)`.
    pub(super) notes: Vec<(f64, f64, String)>,
    pub(super) x_format: Box<dyn Fn(&f64) -> String + 'a>,
    pub(super) y_format: Box<dyn Fn(&f64) -> String + 'a>,
    pub(super) empty: &'a str,
    /// Notes at the end of the legend (what is not drawn and why).
    pub(super) legend_notes: Vec<String>,
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
            faults: Vec::new(),
            notes: Vec::new(),
            x_format: Box::new(number),
            y_format: Box::new(number),
            empty: "no data",
            legend_notes: Vec::new(),
        }
    }

    pub(super) fn has_data(&self) -> bool {
        self.lines.iter().any(|l| !l.segments().is_empty())
    }

    /// The legend, in drawing order: faults, lines, SLO lines, markers, notes.
    /// The window kinds' shades are keyed once, above the page's charts
    /// ([`crate::report::charts::WINDOW_KEY`]): each band is labelled with its
    /// window's name, and four entries in every legend made each chart taller.
    pub(super) fn legend(&self) -> Vec<(String, Mark)> {
        let mut legend = Vec::new();
        if !self.faults.is_empty() {
            legend.push(("fault window".to_string(), Mark::Band(fault_color())));
        }
        for l in self.lines.iter().filter(|l| !l.segments().is_empty()) {
            legend.push((l.label.clone(), Mark::Line(l.color, l.stroke)));
        }
        for (label, _, color) in &self.hlines {
            legend.push((label.clone(), Mark::Slo(*color)));
        }
        for m in &self.markers {
            legend.push((m.label.clone(), Mark::Vertical(m.color)));
        }
        for n in &self.legend_notes {
            legend.push((n.clone(), Mark::Note));
        }
        legend
    }

    /// Height the chart needs so that its legend is never cut off, px.
    pub(super) fn height(&self) -> u32 {
        let lines: usize = self.legend().iter().map(|(l, _)| wrap(l).len()).sum();
        let need = LEGEND_TOP + LEGEND_LINE * lines as i32 + 4 * self.legend().len() as i32 + 8;
        HEIGHT.max(need as u32)
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
            .chain(self.faults.iter().map(|f| f.1))
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

/// The shade of a fault window: red, over the window's own shade.
pub(super) fn fault_color() -> RGBAColor {
    RGBColor(214, 39, 40).mix(0.16)
}

/// The shade of a window kind as CSS, for the page's key.
pub(super) fn band_css(kind: WindowKind) -> String {
    let c = band_color(kind);
    format!("rgba({},{},{},{})", c.0, c.1, c.2, c.3)
}

pub(super) fn band_color(kind: WindowKind) -> RGBAColor {
    match kind {
        WindowKind::Ramp => RGBColor(150, 150, 150).mix(0.12),
        WindowKind::Hold => RGBColor(44, 160, 44).mix(0.12),
        WindowKind::StressStep => RGBColor(255, 127, 14).mix(0.14),
        WindowKind::Recovery => RGBColor(31, 119, 180).mix(0.14),
    }
}

/// Render `draw` into an SVG string `height` px tall, cleaned for inlining.
pub(super) fn svg_sized(
    title: &str,
    height: u32,
    draw: impl FnOnce(&Area) -> DrawResult,
) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
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

/// An axis with the ticks given: the 2-5-10 ticks of a log axis, or round
/// wall-clock times. Labels come from the chart's formatters.
pub(super) struct Ticked<R: Ranged> {
    inner: R,
    ticks: Vec<R::ValueType>,
}

/// `range` (linear or log) ticked at `ticks`.
pub(super) fn ticked<A: AsRangedCoord<Value = f64>>(
    range: A,
    ticks: Vec<f64>,
) -> Ticked<A::CoordDescType>
where
    A::CoordDescType: Ranged<ValueType = f64>,
{
    Ticked {
        inner: range.into(),
        ticks,
    }
}

impl<R: Ranged> Ranged for Ticked<R>
where
    R::ValueType: Clone,
{
    type FormatOption = DefaultFormatting;
    type ValueType = R::ValueType;

    fn map(&self, value: &Self::ValueType, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<Self::ValueType> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<Self::ValueType> {
        self.inner.range()
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// Tick values 1, 2, 5 × 10ⁿ inside `range` (a log axis's 2-5-10 ticks);
/// only the powers of ten when those would be more than `max`.
pub(super) fn log_ticks(range: &Range<f64>, max: usize) -> Vec<f64> {
    let (lo, hi) = (range.start.max(1e-9), range.end);
    let mut out = Vec::new();
    let mut e = lo.log10().floor() as i32;
    while 10f64.powi(e) <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powi(e);
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
        e += 1;
    }
    if out.len() > max {
        out.retain(|v| (v.log10() - v.log10().round()).abs() < 1e-9);
    }
    out
}

/// A chart that could not be drawn: its title, and why, as HTML text.
pub(super) fn failed_svg(title: &str, why: &str) -> String {
    format!(
        "{}<p class=\"note\">chart could not be drawn ({})</p>",
        caption(title),
        crate::report::format::escape(why)
    )
}

/// The chart's title as an HTML caption above its SVG. Titles are HTML, not
/// SVG text, so the reader's browser wraps them in whatever font it has: SVG
/// text cannot wrap, and a title measured with one machine's font metrics is
/// cut off at the chart's edge on a machine with wider fonts.
fn caption(title: &str) -> String {
    format!(
        "<figcaption>{}</figcaption>",
        crate::report::format::escape(title)
    )
}

/// Drop the namespace URL, name the chart for screen readers, and put its
/// title above it.
pub(super) fn inline(svg: &str, title: &str) -> String {
    let svg = svg
        .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "");
    let svg = svg.replacen(
        "<svg ",
        &format!(
            "<svg role=\"img\" aria-label=\"{}\" ",
            crate::report::format::escape(title)
        ),
        1,
    );
    format!("{}{svg}", caption(title))
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
    let mut chart = ChartBuilder::on(&left)
        .margin(12)
        .margin_right(30)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(plot.x_label)
        .y_desc(plot.y_label)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&*plot.x_format)
        .y_label_formatter(&*plot.y_format)
        .label_style((FONT, LABEL))
        .axis_desc_style((FONT, LABEL + 1))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()?;
    let xr = chart.x_range();
    let yr = chart.y_range();

    // Stage and stress-step windows, shaded and labelled; beyond MAX_BANDS
    // (a long ladder), runs of neighbours are merged into one unlabelled band
    // each, shaded as a hold when one is inside, so the chart stays readable.
    const MAX_BANDS: usize = 120;
    let per_band = plot.bands.len().div_ceil(MAX_BANDS).max(1);
    let merged: Vec<(u64, u64, WindowKind, Option<&str>)> = plot
        .bands
        .chunks(per_band)
        .map(|group| {
            let kind = [WindowKind::Hold, WindowKind::StressStep]
                .into_iter()
                .find(|k| group.iter().any(|w| w.kind == *k))
                .unwrap_or(WindowKind::Ramp);
            let start = group.iter().map(|w| w.start_ms).min().unwrap_or(0);
            let end = group.iter().map(|w| w.end_ms).max().unwrap_or(0);
            let label = (per_band == 1).then(|| group[0].name.as_str());
            (
                start,
                end,
                if per_band == 1 { group[0].kind } else { kind },
                label,
            )
        })
        .collect();
    for (i, (start_ms, end_ms, kind, label)) in merged.into_iter().enumerate() {
        let (x0, x1) = (start_ms as f64 / 1000.0, end_ms as f64 / 1000.0);
        let (x0, x1) = (x0.max(xr.start), x1.min(xr.end));
        if x1 <= x0 {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, yr.start), (x1, yr.end)],
            band_color(kind).filled(),
        )))?;
        let Some(name) = label else {
            continue;
        };
        let label = short_window_name(name);
        chart.draw_series(std::iter::once(
            EmptyElement::at((x0, yr.end))
                + Text::new(
                    label,
                    (3, 3 + (LABEL as i32 + 2) * (i as i32 % 2)),
                    (FONT, LABEL).into_font().color(&RGBColor(80, 80, 80)),
                ),
        ))?;
    }

    // Fault windows over the stage shading, labelled at the bottom.
    for (x0, x1, label) in &plot.faults {
        let (x0, x1) = (x0.max(xr.start), x1.min(xr.end));
        if x1 <= x0 {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, yr.start), (x1, yr.end)],
            fault_color().filled(),
        )))?;
        chart.draw_series(std::iter::once(
            EmptyElement::at((x0, yr.start))
                + Text::new(
                    label.clone(),
                    (3, -(LABEL as i32) - 4),
                    (FONT, LABEL).into_font().color(&RGBColor(160, 30, 30)),
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
        for seg in line.segments() {
            draw_stroke(&mut chart, seg, line.color, line.stroke)?;
            if seg.len() == 1 && !line.markers {
                // A lone bucket between gaps: a dot, so it shows.
                chart.draw_series(std::iter::once(Circle::new(seg[0], 2, line.color.filled())))?;
            }
        }
        if line.markers {
            chart.draw_series(
                line.points
                    .iter()
                    .filter(|p| p.1.is_finite())
                    .map(|p| Circle::new(*p, 4, line.color.filled())),
            )?;
        }
    }
    for (_, v, color) in &plot.hlines {
        // SLO bounds: thin long dashes with a gap, unlike any line of data.
        let style = ShapeStyle::from(color).stroke_width(1);
        chart.draw_series(DashedLineSeries::new(
            [(xr.start, *v), (xr.end, *v)],
            14,
            6,
            style,
        ))?;
    }
    for m in &plot.markers {
        let style = ShapeStyle::from(&m.color).stroke_width(2);
        chart.draw_series(LineSeries::new([(m.x, yr.start), (m.x, yr.end)], style))?;
    }
    for (x, y, text) in &plot.notes {
        chart.draw_series(std::iter::once(
            EmptyElement::at((*x, *y))
                + Text::new(
                    text.clone(),
                    (5, -18),
                    (FONT, LABEL).into_font().color(&RGBColor(60, 60, 60)),
                ),
        ))?;
    }
    draw_legend(&right, &plot.legend())
}

/// Draw one run of points in its stroke.
fn draw_stroke<DB, X, Y>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    seg: &[(f64, f64)],
    color: RGBColor,
    stroke: Stroke,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let pts = seg.iter().copied();
    match stroke {
        Stroke::Solid => {
            chart.draw_series(LineSeries::new(
                pts,
                ShapeStyle::from(&color).stroke_width(2),
            ))?;
        }
        Stroke::Baseline => {
            chart.draw_series(DashedLineSeries::new(
                pts,
                2,
                4,
                ShapeStyle::from(&color).stroke_width(3),
            ))?;
        }
        Stroke::Reference => {
            chart.draw_series(DashedLineSeries::new(
                pts,
                10,
                6,
                ShapeStyle::from(&color).stroke_width(2),
            ))?;
        }
        Stroke::Level => {
            chart.draw_series(LineSeries::new(
                pts,
                ShapeStyle::from(&color.mix(0.55)).stroke_width(LEVEL_WIDTH),
            ))?;
        }
    }
    Ok(())
}

/// How a legend entry is marked.
pub(super) enum Mark {
    Band(RGBAColor),
    Line(RGBColor, Stroke),
    Slo(RGBColor),
    Vertical(RGBColor),
    Note,
}

/// `label` cut into legend lines of at most [`LEGEND_CHARS`], at spaces
/// where it can be; nothing is dropped.
pub(super) fn wrap(label: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in label.split(' ') {
        let mut word = word.to_string();
        loop {
            let cur_len = cur.chars().count();
            let sep = usize::from(cur_len > 0);
            if cur_len + sep + word.chars().count() <= LEGEND_CHARS {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.push_str(&word);
                break;
            }
            if cur_len > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            // One word longer than a line: cut it.
            let head: String = word.chars().take(LEGEND_CHARS).collect();
            word = word.chars().skip(LEGEND_CHARS).collect();
            lines.push(head);
            if word.is_empty() {
                break;
            }
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The legend, in its own area right of the plot so it never hides data;
/// long entries wrap, and the chart is tall enough for all of them.
pub(super) fn draw_legend(area: &Area, entries: &[(String, Mark)]) -> DrawResult {
    let font = (FONT, LABEL).into_font().color(&RGBColor(40, 40, 40));
    if !entries.is_empty() {
        area.draw(&Text::new(
            "legend",
            (8, 16),
            (FONT, LABEL).into_font().color(&RGBColor(120, 120, 120)),
        ))?;
    }
    let mut y = LEGEND_TOP;
    for (label, mark) in entries {
        let path = |pts: Vec<(i32, i32)>, c: &RGBColor, w: u32| {
            PathElement::new(pts, ShapeStyle::from(c).stroke_width(w))
        };
        match mark {
            Mark::Band(c) => area.draw(&Rectangle::new([(8, y - 6), (30, y + 6)], c.filled()))?,
            Mark::Line(c, Stroke::Solid) => area.draw(&path(vec![(8, y), (30, y)], c, 2))?,
            Mark::Line(c, Stroke::Baseline) => {
                for x in (8..30).step_by(6) {
                    area.draw(&path(vec![(x, y), (x + 2, y)], c, 3))?;
                }
            }
            Mark::Line(c, Stroke::Level) => area.draw(&PathElement::new(
                vec![(8, y), (30, y)],
                ShapeStyle::from(&c.mix(0.55)).stroke_width(LEVEL_WIDTH),
            ))?,
            Mark::Line(c, Stroke::Reference) => {
                area.draw(&path(vec![(8, y), (18, y)], c, 2))?;
                area.draw(&path(vec![(24, y), (30, y)], c, 2))?;
            }
            Mark::Slo(c) => {
                area.draw(&path(vec![(8, y), (22, y)], c, 1))?;
                area.draw(&path(vec![(28, y), (30, y)], c, 1))?;
            }
            Mark::Vertical(c) => area.draw(&path(vec![(19, y - 7), (19, y + 7)], c, 2))?,
            Mark::Note => {}
        }
        let (indent, color) = match mark {
            Mark::Note => (8, RGBColor(90, 90, 90)),
            _ => (36, RGBColor(40, 40, 40)),
        };
        for line in wrap(label) {
            area.draw(&Text::new(line, (indent, y - 7), font.color(&color)))?;
            y += LEGEND_LINE;
        }
        y += 4;
    }
    Ok(())
}

/// `stage 1 hold` → `s1 hold`, `step 3` stays: band labels must be short.
pub(super) fn short_window_name(name: &str) -> String {
    name.replace("stage ", "s")
}
