//! The server's panels: the target's own figures (`server.csv`) over time, on
//! the client charts' time axis with the same stage and step bands. A panel
//! whose metrics the server did not give is left out, not drawn empty.

use plotters::prelude::RGBColor;

use super::plot::{Line, Plot};
use super::{time_chart, TIME_AXIS};
use crate::report::summary::Summary;
use crate::server_metrics::metric;

/// One panel: title, y axis, and its lines (metric, legend, scale).
type Panel = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, f64)],
);

const PANELS: &[Panel] = &[
    (
        "Server: requests per second (its own counters)",
        "requests per second",
        &[
            (metric::QUERY_REQUESTS, "query", 1.0),
            (metric::WRITE_REQUESTS, "write", 1.0),
            (metric::PING_REQUESTS, "ping", 1.0),
        ],
    ),
    (
        "Server: mean query time",
        "ms",
        &[("query_ms", "mean time of a query request", 1.0)],
    ),
    (
        "Server: points written per second",
        "points per second",
        &[
            (metric::POINTS_WRITTEN, "stored", 1.0),
            (metric::WRITE_ERRORS, "failed or dropped", 1.0),
        ],
    ),
    (
        "Server: errors per second",
        "per second",
        &[
            (metric::HTTP_4XX, "HTTP 4xx", 1.0),
            (metric::HTTP_5XX, "HTTP 5xx", 1.0),
            (metric::DATASOURCE_ERRORS, "data source errors", 1.0),
            (metric::REJECTED_BUSY, "refused busy (503)", 1.0),
        ],
    ),
    (
        "Server: memory",
        "MB",
        &[
            (metric::HEAP_BYTES, "heap in use", 1e-6),
            (metric::RSS_BYTES, "resident", 1e-6),
        ],
    ),
    (
        "Server: CPU",
        "cores busy",
        &[(metric::CPU_SECONDS, "process CPU", 1.0)],
    ),
    (
        "Server: goroutines",
        "goroutines",
        &[(metric::GOROUTINES, "goroutines", 1.0)],
    ),
    (
        "Server: queries active at each scrape",
        "queries",
        &[(metric::QUERIES_ACTIVE, "active queries", 1.0)],
    ),
    (
        "Server: result cache per second",
        "lookups per second",
        &[
            (metric::CACHE_HITS, "hits", 1.0),
            (metric::CACHE_MISSES, "misses", 1.0),
        ],
    ),
];

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// A line smaller than this share of its panel's largest is drawn on a panel
/// of its own: under the largest line's axis it would lie flat on zero.
const SMALL_SHARE: f64 = 0.1;

/// Every panel with data, in page order. A panel only carries lines with a
/// value other than zero; lines much smaller than the panel's largest (write
/// and ping calls beside queries) get a panel of their own, on their own axis.
pub fn charts(s: &Summary) -> Vec<String> {
    let Some(server) = &s.server else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (title, y, lines) in PANELS {
        let mut drawn: Vec<(f64, Line)> = Vec::new();
        for (i, (name, label, scale)) in lines.iter().enumerate() {
            let Some(series) = server.series.iter().find(|x| x.metric == *name) else {
                continue;
            };
            let points: Vec<(f64, f64)> =
                series.points.iter().map(|(x, v)| (*x, v * scale)).collect();
            let top = points
                .iter()
                .map(|p| p.1.abs())
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            if top > 0.0 {
                drawn.push((top, Line::new(*label, COLORS[i % COLORS.len()], points)));
            }
        }
        let largest = drawn.iter().map(|d| d.0).fold(0.0, f64::max);
        let (big, small): (Vec<_>, Vec<_>) = drawn
            .into_iter()
            .partition(|(top, _)| *top >= SMALL_SHARE * largest);
        for (part, lines) in [(None, big), (Some(()), small)] {
            if lines.is_empty() {
                continue;
            }
            let title = match part {
                None => title.to_string(),
                Some(()) => format!(
                    "{title}: {} (own axis: under a tenth of the largest line)",
                    lines
                        .iter()
                        .map(|(_, l)| l.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let mut plot = Plot::new(title, TIME_AXIS, y);
            plot.bands = &s.windows;
            plot.lines = lines.into_iter().map(|(_, l)| l).collect();
            out.push(time_chart(s, plot, false));
        }
    }
    out
}
