//! The page: [`Summary`] + [`Charts`] → one self-contained HTML file.
//!
//! One template written with `write!`, one escaping function ([`escape`])
//! through which every piece of text goes, and no URL of any kind: no
//! scripts, no stylesheets or fonts to fetch, charts inline. Free text from
//! the run (target, error messages, names) has its `http://`/`https://`
//! scheme removed by [`text`], so the page cannot even look like it links
//! out; the target's scheme is shown in words instead.

use std::fmt::Write;

pub mod answers;
mod faults;
mod health;
mod live;
mod server;
mod sync_attempts;
mod workers;

use crate::runfolder::{RequestClass, SloMetric, WindowKind};

use self::answers::Tone;
use super::analyse::KNEE_FRACTION;
use super::charts::Charts;
use super::format::{capitalised, clock, escape, text};
use super::summary::*;

/// A URL as shown: `host:port/path (http)`.
pub fn shown_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{} ({})", text(rest), escape(scheme)),
        None => text(url),
    }
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.2} %", v * 100.0))
}

/// A number in the page's one format: whole numbers and anything from 100
/// up without decimals, else three significant digits (`7`, `16`, `7.25`, `12.5`).
pub fn num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A figure of an SLO metric, with its unit.
fn figure(metric: SloMetric, v: Option<f64>) -> String {
    match (metric, v) {
        (_, None) => "—".into(),
        (SloMetric::ErrorRate, v) => pct(v),
        (SloMetric::MsPerPoint, Some(v)) => format!("{v:.4} ms/point"),
        (_, v) => format!("{} ms", ms(v)),
    }
}

fn verdict_cell(v: SloVerdict) -> String {
    let class = match v {
        SloVerdict::Pass => "pass",
        SloVerdict::Fail => "fail",
        SloVerdict::NoData => "nodata",
    };
    format!("<td class=\"{class}\">{}</td>", v.label())
}

fn kind_label(kind: WindowKind) -> &'static str {
    match kind {
        WindowKind::Hold => "hold (judged)",
        other => other.label(),
    }
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1140px;padding:16px 24px;color:#1d1d1f;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:.2em 0}h2{font-size:1.35em;border-bottom:2px solid #ddd;padding-bottom:3px;margin:1.1em 0 .4em}h3{margin:1em 0 .4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}table.kv td:first-child{font-weight:600;text-align:left;background:#fafafa}table.kv td{text-align:left}
.pass{background:#e3f4e1;color:#14532d}.fail{background:#fde2e1;color:#7f1d1d;font-weight:700}.nodata{background:#f1f1f1;color:#555}
.worse{background:#fde2e1;font-weight:700}.better{background:#e3f4e1}
.banner{padding:10px 14px;margin:10px 0;border-radius:6px;border:1px solid}.banner.warn{background:#fff4d6;border-color:#e0b000}
.banner.bad{background:#fde2e1;border-color:#d33}.banner.good{background:#e3f4e1;border-color:#3a3}.banner.info{background:#eef4fb;border-color:#7aa7d8}
.verdict{display:inline-block;font-size:1.3em;font-weight:700;padding:4px 14px;border-radius:6px}
figure{margin:.6em 0;max-width:840px}figure svg{max-width:100%;height:auto;display:block;border:1px solid #eee}figcaption{font-weight:600;margin:0 0 .3em}
table.answers{width:100%;font-size:1em;margin:.4em 0 .8em}table.answers th{text-align:left;width:9em;white-space:nowrap}table.answers td{text-align:left}
table.answers tr.bad th{border-left:5px solid #d33}table.answers tr.good th{border-left:5px solid #3a3}table.answers tr.neutral th{border-left:5px solid #bbb}
details{margin:.4em 0}summary{cursor:pointer;color:#333}
nav a{margin-right:12px}.swatch{display:inline-block;width:1.6em;height:.9em;margin:0 .3em 0 .6em;vertical-align:middle;border:1px solid #ccc}small,.note{color:#555}code{background:#f4f4f4;padding:0 3px}
";

/// Render the whole page.
pub fn page(s: &Summary, charts: &Charts) -> String {
    let mut h = String::with_capacity(256 * 1024);
    let _ = render(&mut h, s, charts);
    h
}

fn render(h: &mut String, s: &Summary, c: &Charts) -> std::fmt::Result {
    let r = &s.run;
    writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>dashload report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        text(&r.scenario)
    )?;
    writeln!(
        h,
        "<header>\n<h1>dashload report: {}</h1>\n<p class=\"note\" id=\"provenance-line\">{}: {} · started {} UTC · {} s · <a href=\"#summary\">run details</a></p>\n</header>",
        text(&r.scenario),
        text(&r.target.kind),
        shown_url(&r.target.url),
        r.started_at.format("%Y-%m-%d %H:%M:%S"),
        num(r.duration_s),
    )?;
    answers_section(h, s)?;
    banners(h, s)?;
    h.push_str("<nav><a href=\"#load\">Users &amp; throughput</a><a href=\"#latency\">Latency</a>");
    if has_concurrency_section(s, c) {
        h.push_str("<a href=\"#concurrency\">Concurrency</a>");
    }
    h.push_str(
        "<a href=\"#errors\">Errors</a><a href=\"#slos\">SLOs</a><a href=\"#windows\">Windows</a>",
    );
    if !s.faults.is_empty() {
        h.push_str("<a href=\"#faults\">Faults</a>");
    }
    h.push_str("<a href=\"#health\">Evenness &amp; generator</a><a href=\"#names\">Panels</a>");
    if !s.run.skipped.is_empty() {
        h.push_str("<a href=\"#skipped\">Not loaded</a>");
    }
    h.push_str("<a href=\"#sync\">Sync job</a>");
    if s.server.is_some() {
        h.push_str("<a href=\"#server\">Server</a>");
    }
    if s.baseline.is_some() {
        h.push_str("<a href=\"#baseline\">Baseline</a>");
    }
    h.push_str("<a href=\"#summary\">Run</a><a href=\"#inputs\">Inputs</a></nav>\n");

    h.push_str("<section id=\"load\">\n<h2>Users and throughput</h2>\n");
    h.push_str(&super::charts::window_key(s));
    fig(h, &c.users)?;
    fig(h, &c.throughput)?;
    fig(h, &c.points)?;
    h.push_str("</section>\n<section id=\"latency\">\n<h2>Latency</h2>\n<p class=\"note\">Successful requests. Bars: each hold's, stress step's and the recovery's own p50, p95 and p99 across the window, from its whole histogram: the figures its SLOs are judged on. Lines: the same per time bucket, where the bucket has the samples. SLO bounds dashed.</p>\n");
    for (_, svg) in &c.latency {
        fig(h, svg)?;
    }
    h.push_str("<details id=\"distribution\"><summary>Latency distribution per class over the whole run (2 charts)</summary>\n");
    fig(h, &c.histogram)?;
    fig(h, &c.percentiles)?;
    h.push_str("</details>\n");
    h.push_str("</section>\n");
    concurrency_section(h, s, c)?;
    errors_section(h, s, c)?;
    slo_section(h, s)?;
    windows_section(h, s)?;
    if let Some(b) = &s.baseline {
        baseline_section(h, b)?;
    }
    faults::section(h, s)?;
    health::section(h, &s.health)?;
    if let Some(rows) = &s.workers {
        workers::section(h, rows)?;
    }
    server::section(h, s, &c.server)?;
    names_section(h, s)?;
    skipped_section(h, s)?;
    sync_section(h, s)?;
    live::section(h, s.live.as_ref())?;
    summary_section(h, s)?;
    inputs_section(h, s)?;
    writeln!(
        h,
        "<footer><p class=\"note\">Written by dashload {} from the run folder's files; everything on this page is also in summary.json.</p></footer>\n</body>\n</html>",
        text(&r.dashload_version)
    )
}

/// A chart; nothing for one left out (an empty string: it carried no data).
fn fig(h: &mut String, svg: &str) -> std::fmt::Result {
    if svg.is_empty() {
        return Ok(());
    }
    writeln!(h, "<figure>{svg}</figure>")
}

fn banners(h: &mut String, s: &Summary) -> std::fmt::Result {
    if s.run.interrupted {
        h.push_str("<div class=\"banner warn\" id=\"interrupted\"><strong>Interrupted:</strong> the run was cut short by Ctrl-C or a signal. Windows after the interruption hold little or no data.</div>\n");
    }
    if let Some(stop) = &s.run.ladder_stop {
        writeln!(
            h,
            "<div class=\"banner warn\" id=\"ladder-stop\"><strong>The stress ladder stopped early</strong> at {} ({} viewers, {} s into the run): {}{}</div>",
            text(&stop.step),
            stop.viewers,
            num(stop.at_ms as f64 / 1000.0),
            text(&stop.reason),
            match stop.refined_until_ms {
                Some(until) => format!(
                    ". Refine steps (<code>[stress] refine</code>) then bisected between the last level held and the first failed, until {} s; they are the <code>refine</code> windows",
                    num(until as f64 / 1000.0)
                ),
                None => String::new(),
            }
        )?;
    }
    health::banner(h, &s.health)?;
    server::banner(h, s)?;
    if !s.inputs.notes.is_empty() {
        h.push_str(
            "<div class=\"banner info\"><strong>What this report could not use:</strong><ul>",
        );
        for n in &s.inputs.notes {
            write!(h, "<li>{}</li>", text(n))?;
        }
        h.push_str("</ul></div>\n");
    }
    Ok(())
}

/// The answers, first on the page: one row each, ids `answer-<key>`.
fn answers_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"answers\">\n<table class=\"answers\">\n");
    for a in answers::answers(s) {
        let tone = match a.tone {
            Tone::Good => "good",
            Tone::Bad => "bad",
            Tone::Neutral => "neutral",
        };
        write!(
            h,
            "<tr id=\"answer-{}\" class=\"{tone}\"><th scope=\"row\">{}</th><td>",
            a.key, a.label
        )?;
        if a.key == "verdict" {
            verdict_answer(h, s, &a.text)?;
        } else {
            h.push_str(&text(&a.text));
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</table>\n</section>\n");
    Ok(())
}

/// The verdict as a badge, then why; which checks lacked samples folded away.
fn verdict_answer(h: &mut String, s: &Summary, line: &str) -> std::fmt::Result {
    let class = match s.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NotJudged => "nodata",
    };
    let why = line.split_once(": ").map_or(line, |(_, why)| why);
    write!(
        h,
        "<span class=\"verdict {class}\">{}</span> ",
        s.verdict.label()
    )?;
    match (s.verdict, &s.unmeasured) {
        (Verdict::NotJudged, Some(_)) => write!(h, "<span id=\"unmeasured\">{}</span>", text(why))?,
        _ => h.push_str(&text(why)),
    }
    if let Some(which) = &s.partly_judged {
        write!(
            h,
            "<details id=\"partly-judged\"><summary>checks that lacked samples</summary>{}</details>",
            text(which)
        )?;
    }
    Ok(())
}

fn summary_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    let r = &s.run;
    h.push_str("<section id=\"summary\">\n<h2>Run</h2>\n<table class=\"kv\">\n");
    let mut row = |k: &str, v: String| writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    row(
        "Scenario",
        format!(
            "{} <small>({}, sha256 {}…)</small>",
            text(&r.scenario),
            text(&r.scenario_file),
            text(r.scenario_digest.get(..12).unwrap_or(&r.scenario_digest))
        ),
    )?;
    row(
        "Target",
        format!(
            "{}: {}{}",
            text(&r.target.kind),
            shown_url(&r.target.url),
            r.target
                .database
                .as_deref()
                .map(|d| format!(", database {}", text(d)))
                .unwrap_or_default()
        ),
    )?;
    row(
        "Started",
        format!("{} UTC", r.started_at.format("%Y-%m-%d %H:%M:%S")),
    )?;
    row(
        "Duration",
        format!(
            "{} s{}",
            num(r.duration_s),
            if r.ended_at.is_none() {
                " (no end time recorded)"
            } else {
                ""
            }
        ),
    )?;
    // The plan as written; say when the run did not play all of it.
    let cut_short = match (&r.ladder_stop, r.interrupted) {
        (Some(stop), _) => match stop.refined_until_ms {
            Some(until) => format!(
                " (the ladder stopped at {:.0} s, {}; refine steps ran to {:.0} s)",
                stop.at_ms as f64 / 1000.0,
                text(&stop.step),
                until as f64 / 1000.0
            ),
            None => format!(
                " (the ladder stopped it at {:.0} s, {})",
                stop.at_ms as f64 / 1000.0,
                text(&stop.step)
            ),
        },
        (None, true) => " (interrupted before its end)".to_string(),
        (None, false) => String::new(),
    };
    row(
        "Test plan",
        format!("<code>{}</code>{cut_short}", text(&r.test_plan)),
    )?;
    let goose_peak = s.series.goose_users.iter().map(|(_, u)| *u as usize).max();
    row(
        "Peak users",
        format!(
            "{} active ({} viewers at most, {} sync){}",
            r.peak_users,
            r.peak_viewers,
            r.sync_users,
            match goose_peak {
                Some(g) if g > r.peak_users => format!(
                    "; Goose's plan launched up to {g}: the {} above the viewer cap stayed idle and sent nothing",
                    g - r.peak_users
                ),
                _ => String::new(),
            }
        ),
    )?;
    if s.inputs.goose_report.used {
        row(
            "Goose's report.json",
            "counts transactions (one per viewer step: a load, or a stretch idle under the viewer cap), not dashboard loads: the loads are the operations row below".into(),
        )?;
    }
    row(
        "HTTP requests",
        format!("{} ({} failed)", s.totals.requests, s.totals.failed),
    )?;
    row("HTTP error rate", pct(s.totals.error_rate))?;
    if s.totals.replaced_by_refresh > 0 {
        // Per window: the windows table's note; here the run's total.
        let per_window: Vec<String> = s
            .windows
            .iter()
            .filter(|w| w.replaced_by_refresh > 0)
            .map(|w| format!("{} {}", text(&w.name), w.replaced_by_refresh))
            .collect();
        row(
            "Replaced by a refresh",
            format!(
                "{} panel queries still in flight when the dashboard's next refresh fired, dropped as Grafana drops them (sent, not in the requests above, no latency, no failure): {}",
                s.totals.replaced_by_refresh,
                per_window.join(", ")
            ),
        )?;
    }
    h.push_str("</table>\n<details id=\"run-more\"><summary>Operations, calls outside the request log, seed</summary>\n<table class=\"kv\">\n");
    let mut row = |k: &str, v: String| writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    let outside = r.counters.outside_log_by_purpose();
    if !outside.is_empty() {
        let parts: Vec<String> = outside
            .iter()
            .map(|(p, n)| format!("{} {n}", text(&p.replace('_', " "))))
            .collect();
        row(
            "HTTP calls outside the request log",
            format!("{} ({})", s.totals.outside_log, parts.join(", ")),
        )?;
    }
    // Operations dashload times are not HTTP calls: their own counts and rates.
    for o in &s.totals.operations {
        row(
            &format!("{} (operations, not HTTP calls)", o.class.label()),
            format!("{} ({} failed, {})", o.count, o.failed, pct(o.error_rate)),
        )?;
    }
    row(
        "Interrupted",
        if r.interrupted {
            "yes".into()
        } else {
            "no".into()
        },
    )?;
    row("Seed", r.seed.to_string())?;
    h.push_str("</table>\n</details>\n</section>\n");
    Ok(())
}

/// Latencies are of successful requests; failed ones are apart (OK/KO), so fast
/// errors cannot flatter the percentiles.
fn class_table(h: &mut String, stats: &[ClassStats]) -> std::fmt::Result {
    h.push_str("<table><tr><th class=\"l\">class</th><th>count</th><th>failed</th><th>error rate</th><th>p50 ms</th><th>p90 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>mean ms</th><th>sd ms</th><th>failed p50 ms</th><th>failed p95 ms</th></tr>\n");
    for c in stats {
        let l = c.latency;
        let k = c.failed_latency;
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.class.label(),
            c.count,
            c.failed,
            pct(c.error_rate),
            ms(l.map(|l| l.p50)),
            ms(l.map(|l| l.p90)),
            ms(l.map(|l| l.p95)),
            ms(l.map(|l| l.p99)),
            ms(l.map(|l| l.max)),
            ms(l.map(|l| l.mean)),
            ms(l.map(|l| l.stddev)),
            ms(k.map(|l| l.p50)),
            ms(k.map(|l| l.p95)),
        )?;
    }
    h.push_str("</table>\n<p class=\"note\">Percentiles, mean and sd are of successful requests; failed requests' latencies are apart.</p>\n");
    Ok(())
}

/// A run at one viewer count has no concurrency section: one point shows no
/// trend, and the answers already say why there is no knee. The server's
/// diagnosis, when there is one, keeps it.
fn has_concurrency_section(s: &Summary, c: &Charts) -> bool {
    !c.concurrency_latency.is_empty() || s.server.as_ref().is_some_and(|x| x.diagnosis.is_some())
}

fn concurrency_section(h: &mut String, s: &Summary, c: &Charts) -> std::fmt::Result {
    if !has_concurrency_section(s, c) {
        return Ok(());
    }
    h.push_str(
        "<section id=\"concurrency\">\n<h2>Latency and throughput against concurrency</h2>\n",
    );
    writeln!(
        h,
        "<details><summary>How capacity and the knee are found</summary><p class=\"note\">One point per hold window or stress step (a step's ramp is not a point). The error-rate chart beside p95 shows which SLO bound the capacity stopped at. <strong>Capacity</strong>: the most viewers of a window on which every SLO with data held, below the fewest viewers on which one failed. <strong>Knee</strong>: with the initial slope taken as throughput ÷ viewers at the lowest window, the last viewer count before the first step whose added throughput per added viewer is below {:.0} % of that slope.</p></details>",
        KNEE_FRACTION * 100.0
    )?;
    server::diagnosis(h, s)?;
    if c.concurrency_latency.is_empty() {
        h.push_str("<p class=\"note\" id=\"no-concurrency-charts\">No charts against concurrency: the run held or stepped at one viewer count only, and one point shows no trend.</p>\n");
    }
    fig(h, &c.concurrency_latency)?;
    fig(h, &c.concurrency_errors)?;
    fig(h, &c.concurrency_throughput)?;
    if !s.concurrency.is_empty() {
        let (shown, hidden) = bounded(&s.concurrency, |p| p.held == Some(false));
        let rows: Vec<String> = shown
            .into_iter()
            .map(|p| {
                let p95: Vec<String> = p
                    .p95_ms
                    .iter()
                    .map(|(c, v)| format!("{} {}", c.label(), ms(Some(*v))))
                    .collect();
                format!(
                    "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td>{}</tr>",
                    text(&p.window),
                    kind_label(p.kind),
                    p.viewers,
                    num(p.viewer_throughput_rps),
                    escape(&p95.join(", ")),
                    verdict_cell(match p.held {
                        Some(true) => SloVerdict::Pass,
                        Some(false) => SloVerdict::Fail,
                        None => SloVerdict::NoData,
                    })
                )
            })
            .collect();
        h.push_str(
            "<details id=\"concurrency-points\"><summary>The points, per window</summary>\n",
        );
        folded_table(
            h,
            "concurrency-table",
            "<tr><th class=\"l\">window</th><th class=\"l\">kind</th><th>viewers</th><th>viewer req/s ok</th><th class=\"l\">p95 ms by class</th><th>every SLO held</th></tr>",
            &rows,
            "windows",
        )?;
        h.push_str("</details>\n");
        hidden_note(h, hidden)?;
    }
    h.push_str("</section>\n");
    Ok(())
}

fn errors_section(h: &mut String, s: &Summary, c: &Charts) -> std::fmt::Result {
    h.push_str("<section id=\"errors\">\n<h2>Errors</h2>\n");
    fig(h, &c.errors)?;
    if s.errors.total == 0 {
        h.push_str("<p>No request failed.</p>\n</section>\n");
        return Ok(());
    }
    let kinds: Vec<String> = s
        .errors
        .by_kind
        .iter()
        .map(|(kind, n)| format!("{} {n}", escape(kind.label())))
        .collect();
    writeln!(
        h,
        "<p id=\"errors-by-kind\"><strong>Failures by kind:</strong> {}.</p>\n<h3>Messages</h3>",
        kinds.join(" · ")
    )?;
    const SHOWN: usize = 50;
    let rows: Vec<String> = s
        .errors
        .messages
        .iter()
        .take(SHOWN)
        .map(|m| {
            format!(
                "<tr><td>{}</td><td class=\"l\">{}</td></tr>",
                m.count,
                text(&m.message)
            )
        })
        .collect();
    folded_table(
        h,
        "error-messages",
        "<tr><th>count</th><th class=\"l\">message (cut to 200 characters)</th></tr>",
        &rows,
        "messages",
    )?;
    let hidden: u64 = s
        .errors
        .messages
        .iter()
        .skip(SHOWN)
        .map(|m| m.count)
        .sum::<u64>()
        + s.errors.other_messages;
    if hidden > 0 {
        writeln!(
            h,
            "<p class=\"note\">{hidden} more failures with other messages are not listed.</p>"
        )?;
    }
    h.push_str("</section>\n");
    Ok(())
}

fn slo_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"slos\">\n<h2>SLO verdicts per window</h2>\n<details><summary>How SLOs are judged</summary><p class=\"note\">The run is judged on hold windows only. Stress steps are expected to break and are reported, not judged. An SLO is judged only on enough samples: a percentile <var>q</var> needs 1 ÷ (1 − <var>q</var>) successful requests (p95: 20, p99: 100), an error rate bounded by <var>e</var> needs 1 ÷ <var>e</var> requests (at most 100); with fewer it is <em>not judged</em>, unless the samples there already put it past its bound. A percentile fails when more than 1 − <var>q</var> of the requests failed. A window passes only when every SLO on it was judged and held; the run is judged on the hold windows that were.</p></details>\n");
    if !s.judged.is_empty() {
        h.push_str("<h3>Latency on the judged (hold) windows</h3>\n");
        class_table(h, &s.judged)?;
    }
    if s.slos.is_empty() {
        h.push_str("<p>No SLO was evaluated.</p>\n</section>\n");
        return Ok(());
    }
    // Failures first, then the judged (hold) rows, each in window order.
    let (shown, hidden) = bounded(&s.slos, |r| r.verdict == SloVerdict::Fail || r.judged);
    let mut shown = shown;
    shown.sort_by_key(|r| (r.verdict != SloVerdict::Fail, !r.judged));
    let rows: Vec<String> = shown
        .iter()
        .map(|r| {
            format!(
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>≤ {}</td><td>{}</td>{}<td class=\"l\">{}</td></tr>",
                text(&r.window),
                kind_label(r.window_kind),
                r.class.label(),
                r.metric.label(),
                figure(r.metric, Some(r.max)),
                figure(r.metric, r.observed),
                verdict_cell(r.verdict),
                r.note.as_deref().map(text).unwrap_or_default()
            )
        })
        .collect();
    folded_table(
        h,
        "slo-table",
        "<tr><th class=\"l\">window</th><th class=\"l\">kind</th><th class=\"l\">class</th><th class=\"l\">SLO</th><th>target</th><th>observed</th><th>verdict</th><th class=\"l\">note</th></tr>",
        &rows,
        "SLO results",
    )?;
    hidden_note(h, hidden)?;
    h.push_str("</section>\n");
    Ok(())
}

/// Rows a per-panel table shows before the rest folds away.
pub const VISIBLE_ROWS: usize = 10;

/// Rows the other long tables (SLO results, deltas, messages) show: they
/// are sorted worst first, and the answers above already name the worst.
pub const FEW_ROWS: usize = 5;

/// A table of `rows` (already in order, most important first): the first
/// `visible` shown, the rest in a collapsed `<details>` under it with the
/// same header, so a long table costs the page one line.
fn folded_table(
    h: &mut String,
    id: &str,
    header: &str,
    rows: &[String],
    what: &str,
) -> std::fmt::Result {
    folded_table_of(h, id, header, rows, what, FEW_ROWS)
}

/// [`folded_table`] showing `visible` rows.
fn folded_table_of(
    h: &mut String,
    id: &str,
    header: &str,
    rows: &[String],
    what: &str,
    visible: usize,
) -> std::fmt::Result {
    writeln!(h, "<table id=\"{id}\">{header}")?;
    for r in rows.iter().take(visible) {
        h.push_str(r);
        h.push('\n');
    }
    h.push_str("</table>\n");
    if rows.len() > visible {
        writeln!(
            h,
            "<details class=\"more-rows\"><summary>{} more {what}</summary>\n<table>{header}",
            rows.len() - visible
        )?;
        for r in &rows[visible..] {
            h.push_str(r);
            h.push('\n');
        }
        h.push_str("</table>\n</details>\n");
    }
    Ok(())
}

/// The most rows a per-window table shows: a ladder of 20,000 windows would
/// make a page of tens of megabytes. Every row is in summary.json.
pub const MAX_ROWS: usize = 500;

/// At most [`MAX_ROWS`] of `rows` in their order, those `important` first
/// chosen, and how many were left out.
fn bounded<T>(rows: &[T], important: impl Fn(&T) -> bool) -> (Vec<&T>, usize) {
    if rows.len() <= MAX_ROWS {
        return (rows.iter().collect(), 0);
    }
    let mut keep = vec![false; rows.len()];
    let mut left = MAX_ROWS;
    for pass in [true, false] {
        for (i, r) in rows.iter().enumerate() {
            if left > 0 && !keep[i] && (!pass || important(r)) {
                keep[i] = true;
                left -= 1;
            }
        }
    }
    let shown: Vec<&T> = rows
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| r)
        .collect();
    let hidden = rows.len() - shown.len();
    (shown, hidden)
}

/// The note under a bounded table.
fn hidden_note(h: &mut String, hidden: usize) -> std::fmt::Result {
    if hidden > 0 {
        writeln!(h, "<p class=\"note\" id=\"rows-left-out\">{hidden} more rows (the first {MAX_ROWS} shown, failures first chosen) are in summary.json.</p>")?;
    }
    Ok(())
}

fn windows_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"windows\">\n<h2>Stages and stress steps</h2>\n");
    if s.windows.is_empty() {
        h.push_str("<p>run.json lists no windows.</p>\n</section>\n");
        return Ok(());
    }
    h.push_str("<table><tr><th class=\"l\">window</th><th class=\"l\">kind</th><th>from (UTC)</th><th>to (UTC)</th><th>viewers</th><th>HTTP requests</th><th>req/s ok</th><th>viewer req/s ok</th><th>failed</th><th>error rate</th><th>panel p50</th><th>panel p95</th><th>panel p99</th><th>load p95</th><th>verdict</th></tr>\n");
    let (rows, hidden) = bounded(&s.windows, |w| w.verdict == SloVerdict::Fail);
    for w in rows {
        let lat = |class: RequestClass| {
            w.classes
                .iter()
                .find(|c| c.class == class)
                .and_then(|c| c.latency)
        };
        let panel = lat(RequestClass::PanelQuery);
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            text(&w.name),
            kind_label(w.kind),
            wall_clock(s, w.start_ms),
            wall_clock(s, w.end_ms),
            w.viewers,
            w.requests,
            num(w.throughput_rps),
            num(w.viewer_throughput_rps),
            w.failed,
            pct((w.requests > 0).then(|| w.failed as f64 / w.requests as f64)),
            ms(panel.map(|l| l.p50)),
            ms(panel.map(|l| l.p95)),
            ms(panel.map(|l| l.p99)),
            ms(lat(RequestClass::DashboardLoad).map(|l| l.p95)),
            if w.kind == WindowKind::Ramp { "<td class=\"nodata\">not judged</td>".to_string() } else { verdict_cell(w.verdict) }
        )?;
    }
    h.push_str("</table>\n");
    hidden_note(h, hidden)?;
    let detailed: Vec<&WindowStats> = s
        .windows
        .iter()
        .filter(|w| w.kind != WindowKind::Ramp && !w.classes.is_empty())
        .collect();
    let (detailed, _) = bounded(&detailed, |w| w.verdict == SloVerdict::Fail);
    if !detailed.is_empty() {
        writeln!(
            h,
            "<details id=\"window-classes\"><summary>Every request class, per window ({} windows)</summary>",
            detailed.len()
        )?;
        for w in detailed {
            writeln!(h, "<h4>{} ({} viewers)</h4>", text(&w.name), w.viewers)?;
            class_table(h, &w.classes)?;
        }
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
    Ok(())
}

/// `ms` after the start as UTC wall-clock time, with the elapsed seconds.
fn wall_clock(s: &Summary, ms: u64) -> String {
    format!(
        "{} <span class=\"note\">(+{} s)</span>",
        clock(s.run.started_at, ms as f64 / 1000.0),
        num(ms as f64 / 1000.0)
    )
}

fn names_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"names\">\n<h2>Per panel and time range</h2>\n");
    if s.names.is_empty() {
        h.push_str("<p>No requests.</p>\n</section>\n");
        return Ok(());
    }
    h.push_str("<p class=\"note\">One table per kind of window, hold windows (judged) apart from stress steps, each sorted slowest first (by p95). Bytes and series per answer are averages over the whole run's successful answers of that name (run.json <code>counters.answers</code>: the request log does not carry them); series are InfluxDB series or Grafana data frames, not counted for Flux CSV.</p>\n");
    for (kind, title) in [
        (Some(WindowKind::Hold), "Hold windows (judged)"),
        (Some(WindowKind::StressStep), "Stress steps"),
        (None, "Whole run"),
    ] {
        let rows: Vec<(&NameStats, &ClassStats)> = s
            .names
            .iter()
            .filter_map(|n| match kind {
                None => Some((n, &n.stats)),
                Some(k) => n.by_kind.iter().find(|(x, _)| *x == k).map(|(_, c)| (n, c)),
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let id = match kind {
            Some(WindowKind::Hold) => "names-hold",
            Some(WindowKind::StressStep) => "names-stress",
            _ => "names-run",
        };
        // Folded, each table's summary naming its slowest; opened, its ten
        // slowest shown and the rest folded again.
        let rows = slowest_first(rows);
        let slowest = rows
            .first()
            .and_then(|(n, c)| {
                Some(format!(
                    "; slowest by p95: {} {}{} ({} ms)",
                    n.class.label(),
                    text(&n.subject),
                    n.range
                        .as_deref()
                        .map(|r| format!(" [{}]", text(r)))
                        .unwrap_or_default(),
                    ms(Some(c.latency?.p95))
                ))
            })
            .unwrap_or_default();
        writeln!(
            h,
            "<details class=\"names\"><summary><strong>{title}</strong>: {} request names{slowest}</summary>",
            rows.len()
        )?;
        name_table(h, id, rows)?;
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
    Ok(())
}

/// What the dashboard import left out of every load (Flux on an InfluxQL-only
/// target, other data sources, …): listed so a cheap load is not read as a fast one.
fn skipped_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    if s.run.skipped.is_empty() {
        return Ok(());
    }
    writeln!(
        h,
        "<section id=\"skipped\">\n<h2>Not loaded</h2>\n<p class=\"note\">{} dashboard queries were never sent: the loads above do not include them.</p>\n<details><summary>Which, and why</summary>\n<table><tr><th class=\"l\">panel or variable</th><th class=\"l\">why</th></tr>",
        s.run.skipped.len()
    )?;
    for q in &s.run.skipped {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            text(&q.what),
            text(&q.reason)
        )?;
    }
    h.push_str("</table>\n</details>\n</section>\n");
    Ok(())
}

/// Rows by p95, slowest first; rows without a latency last.
fn slowest_first<'a>(
    mut rows: Vec<(&'a NameStats, &'a ClassStats)>,
) -> Vec<(&'a NameStats, &'a ClassStats)> {
    let p95 = |c: &ClassStats| c.latency.map_or(f64::NEG_INFINITY, |l| l.p95);
    rows.sort_by(|a, b| p95(b.1).total_cmp(&p95(a.1)));
    rows
}

fn name_table(h: &mut String, id: &str, rows: Vec<(&NameStats, &ClassStats)>) -> std::fmt::Result {
    let header = "<tr><th class=\"l\">class</th><th class=\"l\">panel / dashboard / step</th><th class=\"l\">range</th><th>count</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>mean ms</th><th>errors</th><th>error rate</th><th>failed p95 ms</th><th>KB per answer</th><th>series per answer</th></tr>";
    let rows: Vec<String> = rows
        .into_iter()
        .map(|(n, c)| {
            let l = c.latency;
            format!(
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                n.class.label(),
                text(&n.subject),
                n.range.as_deref().map(text).unwrap_or_default(),
                c.count,
                ms(l.map(|l| l.p50)),
                ms(l.map(|l| l.p95)),
                ms(l.map(|l| l.p99)),
                ms(l.map(|l| l.max)),
                ms(l.map(|l| l.mean)),
                c.failed,
                pct(c.error_rate),
                ms(c.failed_latency.map(|l| l.p95)),
                n.answers
                    .map_or("—".into(), |a| format!("{:.1}", a.bytes / 1024.0)),
                n.answers.map_or("—".into(), |a| format!("{:.1}", a.series)),
            )
        })
        .collect();
    folded_table_of(h, id, header, &rows, "request names", VISIBLE_ROWS)
}

fn sync_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    let c = &s.run.counters;
    let i = &s.sync.ingest;
    writeln!(
        h,
        "<section id=\"sync\">\n<h2>Sync job</h2>\n<p id=\"sync-line\">{} batches written ({} failed), {} points, {} per point; {} dashboard loads completed.</p>\n<details><summary>Every sync figure</summary>\n<table class=\"kv\">",
        i.batches,
        i.failed,
        i.points,
        s.sync
            .ms_per_point
            .map_or("—".into(), |v| format!("{v:.4} ms")),
        c.dashboard_loads
    )?;
    if let Some(why) = s
        .sync
        .resilience
        .as_ref()
        .and_then(|r| r.cannot_keep_up.as_ref())
    {
        writeln!(
            h,
            "<p class=\"banner bad\" id=\"sync-cannot-keep-up\">{}</p>",
            text(why)
        )?;
    }
    let mut row = |k: &str, v: String| writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    row("Time entries fetched or generated", c.entries.to_string())?;
    row(
        "Points written (users' counter)",
        c.points_written.to_string(),
    )?;
    row("Batches (users' counter)", c.batches.to_string())?;
    row(
        "Batches in ingest.csv",
        format!("{} ({} failed)", i.batches, i.failed),
    )?;
    row("Points in successful batches", i.points.to_string())?;
    row("Bytes in successful batches", i.bytes.to_string())?;
    row(
        "Write time per point",
        s.sync
            .ms_per_point
            .map_or("—".into(), |v| format!("{v:.4} ms")),
    )?;
    row(
        "Points per second (whole run)",
        s.sync.points_per_s.map_or("—".into(), num),
    )?;
    row("Dashboard loads completed", c.dashboard_loads.to_string())?;
    row(
        "Missed auto-refreshes (previous load still running)",
        c.missed_refreshes.to_string(),
    )?;
    h.push_str("</table>\n");
    sync_attempts::section(h, s)?;
    h.push_str("</details>\n</section>\n");
    Ok(())
}

/// A table of deltas, regressions and the largest changes first; past
/// [`VISIBLE_ROWS`] the rest fold away.
fn delta_table(h: &mut String, id: &str, deltas: &[Delta], scope_title: &str) -> std::fmt::Result {
    let gated = deltas.iter().any(|d| d.judged);
    let mut header = format!("<tr><th class=\"l\">{scope_title}</th><th class=\"l\">figure</th><th>baseline</th><th>this run</th><th>change</th><th>change %</th>");
    if gated {
        header.push_str("<th class=\"l\">gate: how sure it is worse beyond the tolerance</th>");
    }
    header.push_str("</tr>");
    let rows: Vec<String> = by_size(deltas)
        .into_iter()
        .map(|d| {
            let class = if d.regression { " class=\"worse\"" } else { "" };
            let mut row = format!(
                "<tr{class}><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                text(&d.scope),
                text(&d.figure),
                delta_value(d, d.baseline),
                delta_value(d, d.current),
                d.change.map_or("—".into(), |v| delta_change(d, v)),
                d.change_pct.map_or("—".into(), |p| format!("{p:+.1} %")),
            );
            if gated {
                row.push_str(&format!("<td class=\"l\">{}</td>", text(&gate_cell(d))));
            }
            row.push_str("</tr>");
            row
        })
        .collect();
    folded_table(h, id, &header, &rows, "figures")
}

/// Deltas by size: largest relative change first (absolute change when
/// there is no relative one), regressions before anything else, no change last.
fn by_size(deltas: &[Delta]) -> Vec<&Delta> {
    let size = |d: &Delta| {
        d.change_pct
            .map(|p| p.abs())
            .or(d.change.map(|c| c.abs()))
            .unwrap_or(-1.0)
    };
    let mut v: Vec<&Delta> = deltas.iter().collect();
    v.sort_by(|a, b| {
        b.regression
            .cmp(&a.regression)
            .then(size(b).total_cmp(&size(a)))
    });
    v
}

/// A figure of a delta row: error rates in percent.
fn delta_value(d: &Delta, v: Option<f64>) -> String {
    if d.figure.ends_with("error rate") {
        pct(v)
    } else {
        v.map_or("—".into(), num4)
    }
}

/// A change of a delta row: error rates in percentage points.
fn delta_change(d: &Delta, v: f64) -> String {
    if d.figure.ends_with("error rate") {
        format!("{:+.2} pp", v * 100.0)
    } else {
        format!("{}{}", if v > 0.0 { "+" } else { "" }, num4(v))
    }
}

/// The gate's word on one delta: how sure, the change interval, or why not judged.
fn gate_cell(d: &Delta) -> String {
    if !d.judged {
        return match &d.note {
            Some(note) => format!("not judged: {note}"),
            None => "context (not judged)".into(),
        };
    }
    if let Some(note) = &d.note {
        return format!("not judged: {note}");
    }
    let (Some(sure), Some([lo, hi])) = (d.sure, d.interval) else {
        return "not judged".into();
    };
    let unit = |v: f64| {
        if d.figure.ends_with("error rate") {
            format!("{:+.2} pp", v * 100.0)
        } else {
            format!("{}{} ms", if v > 0.0 { "+" } else { "" }, num4(v))
        }
    };
    let reach = match (d.detectable_pct, d.detectable) {
        _ if d.regression => String::new(),
        (Some(pct), _) => format!("; {pct:+.0} % would have been caught"),
        (None, Some(x)) => format!("; {:+.2} pp would have been caught", x * 100.0),
        _ => String::new(),
    };
    format!(
        "{}{:.1} % sure (90 % of draws: {} … {}){reach}",
        if d.regression { "REGRESSED, " } else { "" },
        sure * 100.0,
        unit(lo),
        unit(hi)
    )
}

/// A figure's key in words: `dashboard_load.error_rate` → `dashboard load error rate`.
fn figure_words(key: &str) -> String {
    match key.split_once('.') {
        Some((class, metric)) => format!(
            "{} {}",
            RequestClass::from_key(class).map_or(class, |c| c.label()),
            metric.replace('_', " ")
        ),
        None => key.replace('_', " "),
    }
}

fn num4(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn baseline_section(h: &mut String, b: &Comparison) -> std::fmt::Result {
    h.push_str("<section id=\"baseline\">\n<h2>Against the baseline</h2>\n");
    if let Some(how) = &b.selection {
        writeln!(h, "<p>Chosen: {}.</p>", text(how))?;
    }
    if b.runs.len() > 1 {
        writeln!(
            h,
            "<p>Baseline: the median of {} runs (each figure's baseline value is the median of theirs; the gate pools their samples):</p>\n<ul>",
            b.runs.len()
        )?;
        for r in &b.runs {
            writeln!(
                h,
                "<li>{} (scenario {}, started {} UTC)</li>",
                text(&r.dir),
                text(&r.scenario),
                r.started_at.format("%Y-%m-%d %H:%M:%S")
            )?;
        }
        writeln!(
            h,
            "</ul>\n<p>Charts above overlay the first, {}, dotted.</p>",
            text(&b.dir)
        )?;
    } else {
        writeln!(
            h,
            "<p>Baseline: {} (scenario {}, started {} UTC). Charts above overlay it dotted.</p>",
            text(&b.dir),
            text(&b.scenario),
            b.started_at.format("%Y-%m-%d %H:%M:%S"),
        )?;
    }
    writeln!(
        h,
        "<details><summary>How the gate judges a regression</summary><p class=\"note\">Only the judged figures ({}) can regress, on hold windows matched by name. A latency percentile regressed when it is more than {:.0} % <em>and</em> more than {} ms above the baseline's, an error rate when it is more than {:.1} percentage points above; <em>and</em> a bootstrap over both request logs (time blocks of each window drawn again {} times) is at least {:.0} % sure of it, so sampling noise alone cannot raise the alarm. A percentile needs five samples expected beyond it on both sides (p95: 100, p99: 500) to be judged. Everything else is context.</p></details>",
        text(
            &b.judged_figures
                .iter()
                .map(|f| figure_words(f))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        b.tolerance * 100.0,
        num(b.latency_floor_ms),
        b.error_margin * 100.0,
        super::regress::REPLICATES,
        b.confidence * 100.0
    )?;
    if b.regressions.is_empty() {
        writeln!(
            h,
            "<p class=\"pass\">{}.</p>",
            text(&capitalised(&b.verdict))
        )?;
        if !b.reach.is_empty() {
            writeln!(
                h,
                "<p class=\"note\">What the gate could have caught: the smallest worsening of each judged figure that the same bootstrap draws would have been at least {:.0} % sure of (this run's samples moved onto the baseline's figure, then made slower), on the window where it sees best:</p>\n<ul>",
                b.confidence * 100.0
            )?;
            for r in &b.reach {
                writeln!(
                    h,
                    "<li>{}</li>",
                    text(&super::baseline::reach_phrase(r, true))
                )?;
            }
            h.push_str("</ul>\n");
        }
    } else {
        h.push_str("<ul class=\"fail\">");
        for r in &b.regressions {
            write!(h, "<li>{}</li>", text(r))?;
        }
        h.push_str("</ul>\n");
    }
    if !b.unmatched_windows.is_empty() {
        writeln!(
            h,
            "<p class=\"note\">Hold windows with no namesake in the baseline: {}.</p>",
            text(&b.unmatched_windows.join(", "))
        )?;
    }
    h.push_str("<h3>Hold windows</h3>\n<p class=\"note\">Each table is sorted by the size of the change, largest first; regressions on top.</p>\n");
    delta_table(h, "baseline-windows", &b.windows, "window")?;
    h.push_str("<h3>Run and stress ladder</h3>\n");
    delta_table(h, "baseline-totals", &b.totals, "scope")?;
    writeln!(
        h,
        "<details id=\"baseline-names\"><summary><strong>Per panel and time range</strong>: {} figures, largest change first</summary>",
        b.names.len()
    )?;
    delta_table(h, "baseline-names-table", &b.names, "request name")?;
    h.push_str("</details>\n</section>\n");
    Ok(())
}

fn inputs_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"inputs\">\n<h2>Inputs</h2>\n<details><summary>The files this report was read from, and rows set aside</summary>\n<table><tr><th class=\"l\">file</th><th class=\"l\">used</th><th>rows</th><th>unreadable rows skipped</th><th>out-of-range rows set aside</th><th class=\"l\">last line cut short</th><th class=\"l\">note</th></tr>\n");
    for (file, i) in [
        ("requests.csv", &s.inputs.requests),
        ("ingest.csv", &s.inputs.ingest),
        ("report.json", &s.inputs.goose_report),
    ] {
        writeln!(
            h,
            "<tr><td class=\"l\">{file}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            if i.used { "yes" } else { "no" },
            i.rows,
            i.corrupt_rows,
            i.out_of_range_rows,
            if i.truncated_last_line { "yes" } else { "no" },
            i.note.as_deref().map(text).unwrap_or_default()
        )?;
    }
    h.push_str("</table>\n<p class=\"note\">Error kinds: timeout (transport timeout or 504), connection failed (DNS, refused, reset, or the body cut after the status), shed load (429/503), other 5xx, query error in the body (a failed request answered 2xx or 400 whose body was read), other 4xx.</p>\n</details>\n</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tables_keep_their_order_and_choose_failures_first() {
        let rows: Vec<u32> = (0..MAX_ROWS as u32 + 100).collect();
        let (shown, hidden) = bounded(&rows, |r| *r >= MAX_ROWS as u32 + 90);
        assert_eq!((shown.len(), hidden), (MAX_ROWS, 100));
        assert!(shown.windows(2).all(|p| p[0] < p[1]), "in order");
        assert_eq!(
            **shown.last().unwrap(),
            MAX_ROWS as u32 + 99,
            "the important ones are in"
        );
        let (all, none) = bounded(&rows[..10], |_| false);
        assert_eq!((all.len(), none), (10, 0));
    }

    #[test]
    fn deltas_are_sorted_by_size_regressions_first() {
        let d = |figure: &str, pct: Option<f64>, regression: bool| Delta {
            scope: "run".into(),
            figure: figure.into(),
            baseline: Some(1.0),
            current: Some(1.0),
            change: pct.map(|p| p / 100.0),
            change_pct: pct,
            regression,
            judged: false,
            sure: None,
            interval: None,
            detectable: None,
            detectable_pct: None,
            note: None,
        };
        let deltas = [
            d("a", Some(2.0), false),
            d("b", Some(-30.0), false),
            d("c", None, false),
            d("d", Some(12.0), true),
        ];
        let order: Vec<&str> = by_size(&deltas).iter().map(|d| d.figure.as_str()).collect();
        assert_eq!(order, ["d", "b", "a", "c"]);
        let e = d("dashboard load error rate", Some(50.0), false);
        assert_eq!(delta_value(&e, Some(0.0123)), "1.23 %");
        assert_eq!(delta_change(&e, 0.005), "+0.50 pp");
    }

    #[test]
    fn escaping_and_scheme_removal() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            text("GET https://user@host/x <b>"),
            "GET user@host/x &lt;b&gt;"
        );
        assert_eq!(shown_url("http://127.0.0.1:8086"), "127.0.0.1:8086 (http)");
        assert_eq!(shown_url("influx"), "influx");
    }
}
