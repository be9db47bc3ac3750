//! Which server figure turned first as viewers grew, for the capacity section:
//! a figure "turns" at the first window (in viewer order, holds and stress
//! steps) where it reaches twice its value at the lowest one. When client
//! latency doubled and no server figure did, the server looked idle: the
//! generator or the network may be the bottleneck.

use super::ServerWindow;
use crate::report::summary::Summary;
use crate::runfolder::RequestClass;

/// How much a figure must grow over the lowest window to count as turned.
const TURN: f64 = 2.0;

/// The figures watched: label, unit, value of a window.
type Figure = (&'static str, &'static str, fn(&ServerWindow) -> Option<f64>);

const FIGURES: [Figure; 6] = [
    ("query time", "ms", |w| w.query_ms),
    ("active queries", "", |w| w.queries_active_max),
    ("CPU", "cores", |w| w.cpu_cores),
    ("goroutines", "", |w| w.goroutines_max),
    ("heap", "MB", |w| w.heap_max.map(|b| b / 1e6)),
    ("resident memory", "MB", |w| w.rss_max.map(|b| b / 1e6)),
];

fn shown(v: f64, unit: &str) -> String {
    let n = if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

/// The sentence, when the windows say something.
pub fn diagnose(s: &Summary) -> Option<String> {
    let server = s.server.as_ref()?;
    let mut points: Vec<_> = s
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
            Some((p.viewers, p95, w))
        })
        .collect();
    points.sort_by_key(|(v, _, _)| *v);
    if points.len() < 2 {
        return None;
    }
    let (v0, p0, w0) = points[0];
    // Each figure's first turn: (viewers, label, from, to, unit).
    let mut turns: Vec<(usize, &str, f64, f64, &str)> = Vec::new();
    let mut flat: Vec<String> = Vec::new();
    for (label, unit, get) in FIGURES {
        let Some(base) = get(w0).filter(|b| *b > 0.0) else {
            continue;
        };
        match points[1..]
            .iter()
            .find_map(|(v, _, w)| get(w).filter(|x| *x >= TURN * base).map(|x| (*v, x)))
        {
            Some((v, x)) => turns.push((v, label, base, x, unit)),
            None => {
                let last = get(points[points.len() - 1].2).unwrap_or(base);
                flat.push(format!("{label} {:.1}×", last / base));
            }
        }
    }
    turns.sort_by_key(|t| t.0);
    let knee = s
        .knee
        .as_ref()
        .map(|k| format!(" (knee at {} viewers)", k.viewers))
        .unwrap_or_default();
    if let Some((v, label, from, to, unit)) = turns.first() {
        let mut text = format!(
            "{label} turned first{knee}: {} at {v0} viewers, {} at {v} viewers",
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
            text += &format!("; flat: {}", flat.join(", "));
        }
        if *label == "query time" && flat.iter().any(|f| f.starts_with("CPU")) {
            text += " — queries waited while CPU stayed flat: queueing";
        }
        return Some(text);
    }
    let (vn, pn, _) = points[points.len() - 1];
    match (p0, pn) {
        (Some(a), Some(b)) if a > 0.0 && b >= TURN * a && !flat.is_empty() => Some(format!(
            "the server looked idle while client p95 rose {:.1}× from {v0} to {vn} viewers (no server figure doubled: {}): the generator or the network may be the bottleneck",
            b / a,
            flat.join(", ")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
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
        assert!(d.contains("flat: CPU 1.0×"), "{d}");
        assert!(d.ends_with("queueing"), "{d}");
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
