//! Which server figure turned first as viewers grew, for the capacity section.
//!
//! More viewers send more queries, and a healthy server does proportionally
//! more work: twice the query rate means about twice the CPU and, by Little's
//! law, twice the queries in flight at the same query time. So each figure is
//! taken per unit of load, the query rate the server counted (the client's
//! viewer throughput when the server gives none): query time (already per
//! query), CPU per query, in-flight queries and goroutines per query/s, heap
//! and resident memory per query/s. A figure "turns" at the first window (in
//! viewer order, holds and stress steps) where that per-unit figure reaches
//! [`TURN`] times its value at the lowest window: it rose faster than the
//! load. When client latency doubled and no server figure turned, the server
//! looked idle: the generator or the network may be the bottleneck.

use super::ServerWindow;
use crate::report::summary::Summary;
use crate::runfolder::RequestClass;

/// How much a figure per unit of load must grow over the lowest window to
/// count as turned: half again, well past the scatter of a steady server.
const TURN: f64 = 1.5;

/// How a figure relates to the load.
#[derive(Clone, Copy, PartialEq)]
enum Per {
    /// Already per query (a mean query time): compared as it is.
    Query,
    /// A level or rate that grows with the load: divided by the query rate.
    QueryRate,
}

/// The figures watched: label (per unit), unit, how it relates to the load,
/// and the value of a window.
type Figure = (
    &'static str,
    &'static str,
    Per,
    fn(&ServerWindow) -> Option<f64>,
);

const FIGURES: [Figure; 6] = [
    ("query time", "ms", Per::Query, |w| w.query_ms),
    ("in-flight queries per query/s", "s", Per::QueryRate, |w| {
        w.queries_active_max
    }),
    (
        "CPU per query",
        "core-ms",
        Per::QueryRate,
        // cores ÷ queries/s = core-seconds per query.
        |w| w.cpu_cores.map(|c| c * 1000.0),
    ),
    ("goroutines per query/s", "", Per::QueryRate, |w| {
        w.goroutines_max
    }),
    ("heap per query/s", "MB", Per::QueryRate, |w| {
        w.heap_max.map(|b| b / 1e6)
    }),
    ("resident memory per query/s", "MB", Per::QueryRate, |w| {
        w.rss_max.map(|b| b / 1e6)
    }),
];

fn shown(v: f64, unit: &str) -> String {
    let n = if v >= 10.0 {
        format!("{v:.0}")
    } else if v >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// One window in viewer order: viewers, client p95 (ms), the load (queries
/// per second), the server's figures.
pub(super) struct Point<'a> {
    pub viewers: usize,
    pub p95_ms: Option<f64>,
    pub load: Option<f64>,
    pub server: &'a ServerWindow,
}

/// The sentence, when the windows say something.
pub fn diagnose(s: &Summary) -> Option<String> {
    let server = s.server.as_ref()?;
    let points: Vec<Point> = s
        .concurrency
        .iter()
        .filter_map(|p| {
            let w = server.windows.iter().find(|w| w.window == p.window)?;
            let p95 = p
                .p95_ms
                .iter()
                .find(|(c, _)| *c == RequestClass::DashboardLoad)
                .or_else(|| p.p95_ms.first())
                .map(|(_, v)| *v);
            let load = w
                .query_rps
                .or((p.viewer_throughput_rps > 0.0).then_some(p.viewer_throughput_rps));
            Some(Point {
                viewers: p.viewers,
                p95_ms: p95,
                load: load.filter(|l| *l > 0.0),
                server: w,
            })
        })
        .collect();
    let knee = s.knee.as_ref().map(|k| k.viewers);
    diagnose_points(points, knee)
}

/// A figure's value per unit of load at `p`.
fn per_unit(p: &Point, per: Per, get: fn(&ServerWindow) -> Option<f64>) -> Option<f64> {
    let v = get(p.server)?;
    match per {
        Per::Query => Some(v),
        Per::QueryRate => p.load.map(|l| v / l),
    }
}

/// [`diagnose`] over the windows' points, with the knee's viewers.
pub(super) fn diagnose_points(mut points: Vec<Point>, knee: Option<usize>) -> Option<String> {
    points.sort_by_key(|p| p.viewers);
    if points.len() < 2 {
        return None;
    }
    let (v0, p0) = (points[0].viewers, points[0].p95_ms);
    // Each figure's first turn: (viewers, label, from, to, unit).
    let mut turns: Vec<(usize, &str, f64, f64, &str)> = Vec::new();
    let mut flat: Vec<String> = Vec::new();
    for (label, unit, per, get) in FIGURES {
        let Some(base) = per_unit(&points[0], per, get).filter(|b| *b > 0.0) else {
            continue;
        };
        match points[1..].iter().find_map(|p| {
            per_unit(p, per, get)
                .filter(|x| *x >= TURN * base)
                .map(|x| (p.viewers, x))
        }) {
            Some((v, x)) => turns.push((v, label, base, x, unit)),
            None => {
                let last = per_unit(&points[points.len() - 1], per, get).unwrap_or(base);
                flat.push(format!("{label} {:.1}×", last / base));
            }
        }
    }
    turns.sort_by_key(|t| t.0);
    let knee = knee
        .map(|k| format!(" (knee at {k} viewers)"))
        .unwrap_or_default();
    if let Some((v, label, from, to, unit)) = turns.first() {
        let mut text = format!(
            "{label} turned first{knee}, rising faster than the load: {} at {v0} viewers, {} at {v} viewers",
            shown(*from, unit),
            shown(*to, unit)
        );
        let later: Vec<String> = turns[1..]
            .iter()
            .map(|(v, l, _, _, _)| format!("{l} at {v}"))
            .collect();
        if !later.is_empty() {
            text += &format!("; then {}", later.join(", "));
        }
        if !flat.is_empty() {
            text += &format!("; in step with the load: {}", flat.join(", "));
        }
        if *label == "query time" && flat.iter().any(|f| f.starts_with("CPU")) {
            text += " — queries waited while CPU per query stayed flat: queueing";
        }
        return Some(text);
    }
    let (vn, pn) = (
        points[points.len() - 1].viewers,
        points[points.len() - 1].p95_ms,
    );
    match (p0, pn) {
        (Some(a), Some(b)) if a > 0.0 && b >= 2.0 * a && !flat.is_empty() => Some(format!(
            "the server looked idle while client p95 rose {:.1}× from {v0} to {vn} viewers (no server figure rose faster than the load: {}): the generator or the network may be the bottleneck",
            b / a,
            flat.join(", ")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::{diagnose_points, Point, ServerWindow};
    use std::path::Path;

    use crate::report::synthetic::write_run;
    use crate::runfolder::files;

    /// A server figure as a function of the run's progress (0 to 1).
    type Figure<'a> = (&'a str, fn(f64) -> f64);

    /// A synthetic run whose server gives these figures; its report's diagnosis.
    fn diagnosis(figures: &[Figure]) -> Option<String> {
        let dir = tempfile::tempdir().unwrap();
        let meta = write_run(dir.path(), 20_000, 4).unwrap();
        let run_ms = meta.windows.iter().map(|w| w.end_ms).max().unwrap();
        let mut out = String::from("elapsed_ms,metric,value\n");
        for at in (0..=run_ms).step_by(1000) {
            let f = at as f64 / run_ms as f64;
            for (m, value) in figures {
                let _ = writeln!(out, "{at},{m},{}", value(f));
            }
            let _ = writeln!(out, "{at},scrape_ms,1");
        }
        std::fs::write(dir.path().join(files::SERVER), out).unwrap();
        let summary = crate::report::summarise(Path::new(dir.path()), &meta, false).unwrap();
        summary.server.unwrap().diagnosis
    }

    #[test]
    fn the_figure_that_turned_first_is_named_with_its_values() {
        // Queries take longer and longer (cumulative seconds grow ever faster)
        // while CPU stays at one core: queueing.
        let d = diagnosis(&[
            ("query_requests", |f| f * 10_000.0),
            ("query_seconds", |f| f * f * 600.0 + f * 20.0),
            ("cpu_seconds", |f| f * 120.0),
            ("goroutines", |f| 50.0 + 60.0 * f),
        ])
        .expect("a diagnosis");
        assert!(d.starts_with("query time turned first"), "{d}");
        assert!(
            d.contains("in step with the load: CPU per query 1.0×"),
            "{d}"
        );
        assert!(d.ends_with("queueing"), "{d}");
    }

    /// A window of `viewers` at `rps` queries/s, `query_ms` each, `active`
    /// queries in flight and `cores` of CPU.
    fn window(rps: f64, query_ms: f64, active: f64, cores: f64) -> ServerWindow {
        ServerWindow {
            query_rps: Some(rps),
            query_ms: Some(query_ms),
            queries_active_max: Some(active),
            cpu_cores: Some(cores),
            ..Default::default()
        }
    }

    fn points<'a>(rows: &'a [(usize, f64, ServerWindow)]) -> Vec<Point<'a>> {
        rows.iter()
            .map(|(viewers, p95, w)| Point {
                viewers: *viewers,
                p95_ms: Some(*p95),
                load: w.query_rps,
                server: w,
            })
            .collect()
    }

    #[test]
    fn in_flight_queries_that_grow_with_the_query_rate_are_not_flagged() {
        // Twice the query rate at the same query time: twice the queries in
        // flight (Little's law) and twice the CPU. Nothing rose faster than
        // the load, and client latency stayed flat: nothing to say.
        let rows = [
            (50, 300.0, window(20.0, 45.0, 7.0, 0.5)),
            (100, 310.0, window(40.0, 45.0, 14.0, 1.0)),
            (200, 320.0, window(80.0, 46.0, 28.0, 2.0)),
        ];
        assert_eq!(diagnose_points(points(&rows), None), None);
    }

    #[test]
    fn on_a_staged_like_run_query_time_turned_first_not_active_queries() {
        // The staged run's figures: the query rate doubled with the viewers
        // and active queries with it (7 → 16), while query time went 45, 56,
        // 85, 180 ms. Query time rose faster than the load; in-flight queries
        // per query/s only followed it later.
        let rows = [
            (50, 300.0, window(20.7, 45.0, 7.0, 0.40)),
            (100, 330.0, window(40.8, 56.0, 16.0, 0.80)),
            (200, 600.0, window(79.0, 85.0, 35.0, 1.55)),
            (300, 1500.0, window(90.0, 180.0, 60.0, 1.80)),
        ];
        let d = diagnose_points(points(&rows), Some(200)).expect("a diagnosis");
        assert!(
            d.starts_with(
                "query time turned first (knee at 200 viewers), rising faster than the load: 45 ms at 50 viewers, 85 ms at 200 viewers"
            ),
            "{d}"
        );
        assert!(
            d.contains("then in-flight queries per query/s at 300"),
            "{d}"
        );
        assert!(d.contains("CPU per query 1.0×"), "{d}");
    }

    #[test]
    fn an_idle_server_under_rising_latency_points_at_the_generator() {
        let d = diagnosis(&[
            ("query_requests", |f| f * 10_000.0),
            ("query_seconds", |f| f * 50.0),
            ("goroutines", |_| 40.0),
        ]);
        let d = d.expect("the synthetic run's p95 rises past its saturation");
        assert!(
            d.starts_with("the server looked idle while client p95 rose"),
            "{d}"
        );
        assert!(
            d.contains("the generator or the network may be the bottleneck"),
            "{d}"
        );
    }
}
