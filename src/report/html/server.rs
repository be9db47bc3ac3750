//! The server's section of the page: its panels, its figures per window beside
//! the client's, the count check, and a banner when the counts disagree.

use std::fmt::Write as _;

use crate::report::format::text;
use crate::report::server::{CountCheck, ServerSummary, ServerWindow};
use crate::report::summary::Summary;
use crate::runfolder::RequestClass;

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.decimals$}"))
}

/// The measurement warnings as a banner at the top of the page.
pub fn banner(h: &mut String, s: &Summary) -> std::fmt::Result {
    let Some(server) = s
        .server
        .as_ref()
        .filter(|x| !x.measurement_warnings.is_empty())
    else {
        return Ok(());
    };
    h.push_str("<div class=\"banner warn\" id=\"measurement-warnings\"><strong>Measurement warning: the client's counts and the server's disagree</strong> (see <a href=\"#server\">Server metrics</a>):<ul>");
    for w in &server.measurement_warnings {
        write!(h, "<li>{}</li>", text(w))?;
    }
    h.push_str("</ul></div>\n");
    Ok(())
}

/// The server's diagnosis in the capacity section.
pub fn diagnosis(h: &mut String, s: &Summary) -> std::fmt::Result {
    if let Some(d) = s.server.as_ref().and_then(|x| x.diagnosis.as_ref()) {
        writeln!(
            h,
            "<p id=\"server-diagnosis\"><strong>The server's side:</strong> {}.</p>",
            text(d)
        )?;
    }
    Ok(())
}

/// A table column: header, and the cell of a window (`None`: no such figure).
type Column<'a> = (&'a str, Box<dyn Fn(&ServerWindow) -> Option<String> + 'a>);

/// The section (nothing when the run has no `server.csv`).
pub fn section(h: &mut String, s: &Summary, charts: &[String]) -> std::fmt::Result {
    let Some(server) = &s.server else {
        return Ok(());
    };
    h.push_str("<section id=\"server\">\n<h2>Server metrics</h2>\n");
    writeln!(
        h,
        "<p class=\"note\">The target's own figures, scraped during the run (<code>server.csv</code>): {} scrapes, {} failed (gaps). Counters are drawn per second between scrapes; levels as scraped.</p>",
        server.scrapes, server.failed_scrapes
    )?;
    window_table(h, s, server)?;
    if !charts.is_empty() {
        // The panels on demand: the table above holds their figures per window.
        writeln!(
            h,
            "<details id=\"server-panels\"><summary>The server's panels over time ({} charts)</summary>",
            charts.len()
        )?;
        for svg in charts {
            writeln!(h, "<figure>{svg}</figure>")?;
        }
        h.push_str("</details>\n");
    }
    count_table(h, server)?;
    h.push_str("</section>\n");
    Ok(())
}

fn window_table(h: &mut String, s: &Summary, server: &ServerSummary) -> std::fmt::Result {
    if server.windows.is_empty() {
        return Ok(());
    }
    let client = |name: &str| s.windows.iter().find(|w| w.name == name);
    let client_rps = |name: &str| {
        client(name).map(|w| {
            let secs = (w.end_ms.saturating_sub(w.start_ms)) as f64 / 1000.0;
            format!("{:.1}", w.requests as f64 / secs.max(0.001))
        })
    };
    let client_query_ms = |name: &str| {
        client(name)?
            .classes
            .iter()
            .find(|c| c.class == RequestClass::PanelQuery)?
            .latency
            .as_ref()
            .map(|l| format!("{:.1}", l.mean))
    };
    let cols: Vec<Column> = vec![
        ("client HTTP req/s", Box::new(|w| client_rps(&w.window))),
        (
            "server query req/s",
            Box::new(|w| w.query_rps.map(|v| num(Some(v), 1))),
        ),
        (
            "client panel query mean ms",
            Box::new(|w| client_query_ms(&w.window)),
        ),
        (
            "server query mean ms",
            Box::new(|w| w.query_ms.map(|v| num(Some(v), 1))),
        ),
        (
            "server points/s",
            Box::new(|w| w.points_per_s.map(|v| num(Some(v), 0))),
        ),
        (
            "write errors",
            Box::new(|w| w.write_errors.map(|v| num(Some(v), 0))),
        ),
        (
            "HTTP 4xx",
            Box::new(|w| w.http_4xx.map(|v| num(Some(v), 0))),
        ),
        (
            "HTTP 5xx",
            Box::new(|w| w.http_5xx.map(|v| num(Some(v), 0))),
        ),
        (
            "CPU cores",
            Box::new(|w| w.cpu_cores.map(|v| num(Some(v), 2))),
        ),
        (
            "heap MB (max)",
            Box::new(|w| w.heap_max.map(|v| num(Some(v / 1e6), 1))),
        ),
        (
            "RSS MB (max)",
            Box::new(|w| w.rss_max.map(|v| num(Some(v / 1e6), 1))),
        ),
        (
            "goroutines (max)",
            Box::new(|w| w.goroutines_max.map(|v| num(Some(v), 0))),
        ),
        (
            "active queries (max)",
            Box::new(|w| w.queries_active_max.map(|v| num(Some(v), 0))),
        ),
        (
            "cache hits",
            Box::new(|w| w.cache_hit_ratio.map(|v| format!("{:.1} %", v * 100.0))),
        ),
    ];
    // Only the columns some window has a figure for.
    let cols: Vec<&Column> = cols
        .iter()
        .filter(|(_, f)| server.windows.iter().any(|w| f(w).is_some()))
        .collect();
    h.push_str("<h3>Per window, server beside client</h3>\n<table><tr><th class=\"l\">window</th>");
    for (head, _) in &cols {
        write!(h, "<th>{}</th>", text(head))?;
    }
    h.push_str("</tr>\n");
    for w in &server.windows {
        write!(h, "<tr><td class=\"l\">{}</td>", text(&w.window))?;
        for (_, f) in &cols {
            write!(h, "<td>{}</td>", f(w).unwrap_or_else(|| "—".into()))?;
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    Ok(())
}

/// The count check: one line when every count matches, else the mismatches
/// listed (the matching rows folded under them).
fn count_table(h: &mut String, server: &ServerSummary) -> std::fmt::Result {
    if server.count_check.is_empty() {
        return Ok(());
    }
    let (bad, good): (Vec<_>, Vec<_>) = server.count_check.iter().partition(|c| !c.matches);
    h.push_str("<h3 id=\"count-check\">Count check</h3>\n");

    let how = "The HTTP calls dashload sent (request log, calls cancelled in flight at the run's end included, plus run.json's calls outside the log) and the points it stored, against the server's own counters over the same interval (between the scrapes nearest each window's edges). Calls running across a scrape may fall on either side: they make the range the interval explains.";
    if bad.is_empty() {
        writeln!(
            h,
            "<p class=\"pass\" id=\"count-check-line\">All {} counts match the server's (dashload's HTTP calls and points, per window and over the run).</p>\n<details><summary>How counts are checked, and every count</summary><p class=\"note\">{how}</p>",
            good.len()
        )?;
        rows(h, &good)?;
        h.push_str("</details>\n");
        return Ok(());
    }
    writeln!(
        h,
        "<p class=\"fail\" id=\"count-check-line\">{} of {} counts do not match the server's:</p>\n<p class=\"note\">{how}</p>",
        bad.len(),
        server.count_check.len()
    )?;
    rows(h, &bad)?;
    if !good.is_empty() {
        writeln!(
            h,
            "<details><summary>{} counts that match</summary>",
            good.len()
        )?;
        rows(h, &good)?;
        h.push_str("</details>\n");
    }
    Ok(())
}

fn rows(h: &mut String, checks: &[&CountCheck]) -> std::fmt::Result {
    h.push_str("<table><tr><th class=\"l\">scope</th><th class=\"l\">kind</th><th>from s</th><th>to s</th><th>dashload sent</th><th>explained range</th><th>server counted</th><th>check</th></tr>\n");
    for c in checks {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}–{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            text(&c.scope),
            text(&c.kind),
            c.from_ms as f64 / 1000.0,
            c.to_ms as f64 / 1000.0,
            c.client,
            c.client_min,
            c.client_max,
            c.server,
            if c.matches { "pass" } else { "fail" },
            if c.matches { "matches" } else { "MISMATCH" },
        )?;
    }
    h.push_str("</table>\n");
    Ok(())
}
