//! The page's "Evenness and generator CPU" section.

use std::fmt::Write as _;

use crate::report::evenness::BURSTY_RATIO;
use crate::report::format::{capitalised, text};
use crate::report::generator::BUSY_SHARE;
use crate::report::health::RunHealth;

/// The page's section: per window, the holds' evenness and dashload's CPU.
pub fn section(h: &mut String, health: &RunHealth) -> std::fmt::Result {
    h.push_str("<section id=\"health\">\n<h2>Evenness and generator CPU</h2>\n");
    // The generator's line stands; the per-window table folds (the banner
    // above the answers already names a bursty hold or a busy generator).
    match health.cpu_line() {
        Some(line) => writeln!(h, "<p id=\"generator-line\">{}.</p>", text(&capitalised(&line)))?,
        None => h.push_str("<p class=\"note\">No <code>cpu.csv</code>: the generator's CPU was not recorded for this run.</p>\n"),
    }
    writeln!(
        h,
        "<details id=\"health-windows\"><summary>Per window, and how evenness and generator CPU are measured</summary><p class=\"note\">Evenness: viewer HTTP requests counted per second over each hold, and their coefficient of variation (CV, standard deviation / mean). Dashboard loads send their panels together, so even viewers at random phases give a CV near 1/&radic;(loads per second) (the <em>random-phase CV</em>); a hold above {BURSTY_RATIO} &times; that is bursty. Generator CPU: dashload's own process CPU time (<code>cpu.csv</code>, sampled every second) over each window; above {:.0} % of its cores its figures include its own queueing.</p>",
        BUSY_SHARE * 100.0
    )?;
    h.push_str("<table><tr><th class=\"l\">window</th><th>requests/s</th><th>loads/s</th><th>CV of requests/s</th><th>random-phase CV</th><th>dashload cores</th><th>% of cores</th></tr>\n");
    let cpu = |name: &str| {
        health
            .generator_cpu
            .as_ref()
            .and_then(|g| g.windows.iter().find(|w| w.window == name))
    };
    let mut names: Vec<&str> = health.evenness.iter().map(|e| e.window.as_str()).collect();
    if let Some(g) = &health.generator_cpu {
        for w in &g.windows {
            if !names.contains(&w.window.as_str()) {
                names.push(&w.window);
            }
        }
    }
    for name in names {
        let e = health.evenness.iter().find(|e| e.window == name);
        let c = cpu(name);
        let flag = |bad: bool, v: String| {
            if bad {
                format!("<span class=\"fail\">{v}</span>")
            } else {
                v
            }
        };
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(name),
            e.map_or("—".into(), |e| format!("{:.1}", e.mean_rps)),
            e.map_or("—".into(), |e| format!("{:.2}", e.loads_per_s)),
            e.and_then(|e| Some(flag(e.bursty, format!("{:.2}", e.cv?))))
                .unwrap_or_else(|| "—".into()),
            e.and_then(|e| e.random_cv)
                .map_or("—".into(), |cv| format!("{cv:.2}")),
            c.map_or("—".into(), |c| format!("{:.2}", c.cores_used)),
            c.map_or("—".into(), |c| flag(c.busy, format!("{:.0} %", c.share * 100.0))),
        )?;
    }
    h.push_str("</table>\n</details>\n</section>\n");
    Ok(())
}

/// The warnings as a banner at the top of the page (nothing without warnings).
pub fn banner(h: &mut String, health: &RunHealth) -> std::fmt::Result {
    if health.warnings.is_empty() {
        return Ok(());
    }
    h.push_str("<div class=\"banner warn\" id=\"health-warnings\"><strong>Read these figures with care:</strong><ul>");
    for w in &health.warnings {
        write!(h, "<li>{}</li>", text(w))?;
    }
    h.push_str("</ul> See <a href=\"#health\">Evenness &amp; generator</a>.</div>\n");
    Ok(())
}
