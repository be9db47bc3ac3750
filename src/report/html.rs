//! The page: [`Summary`] + [`Charts`] → one self-contained HTML file.
//!
//! One template written with `write!`, one escaping function ([`escape`])
//! through which every piece of text goes, and no URL of any kind: no
//! scripts, no stylesheets or fonts to fetch, charts inline. Free text from
//! the run (target, error messages, names) has its `http://`/`https://`
//! scheme removed by [`text`], so the page cannot even look like it links
//! out; the target's scheme is shown in words instead.

use std::fmt::Write;

use crate::runfolder::{RequestClass, SloMetric, WindowKind};

use super::analyse::KNEE_FRACTION;
use super::charts::Charts;
use super::summary::*;

/// Escape text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Free text for the page: schemes removed, then escaped.
pub fn text(s: &str) -> String {
    escape(&s.replace("https://", "").replace("http://", ""))
}

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

fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
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
h1{font-size:1.7em;margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #d0d0d0;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}table.kv td:first-child{font-weight:600;text-align:left;background:#fafafa}table.kv td{text-align:left}
.pass{background:#e3f4e1;color:#14532d}.fail{background:#fde2e1;color:#7f1d1d;font-weight:700}.nodata{background:#f1f1f1;color:#555}
.worse{background:#fde2e1;font-weight:700}.better{background:#e3f4e1}
.banner{padding:10px 14px;margin:10px 0;border-radius:6px;border:1px solid}.banner.warn{background:#fff4d6;border-color:#e0b000}
.banner.bad{background:#fde2e1;border-color:#d33}.banner.good{background:#e3f4e1;border-color:#3a3}.banner.info{background:#eef4fb;border-color:#7aa7d8}
.verdict{display:inline-block;font-size:1.3em;font-weight:700;padding:4px 14px;border-radius:6px}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;display:block;border:1px solid #eee}figcaption{font-weight:600;margin:0 0 .3em}
nav a{margin-right:12px}small,.note{color:#555}code{background:#f4f4f4;padding:0 3px}
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
    let verdict_class = match s.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NotJudged => "nodata",
    };
    writeln!(
        h,
        "<header>\n<h1>dashload report: {}</h1>\n<p><span class=\"verdict {verdict_class}\">{}</span> {}</p>\n</header>",
        text(&r.scenario),
        s.verdict.label(),
        match (s.verdict, &s.unmeasured) {
            (Verdict::Pass, _) => match &s.partly_judged {
                None => "every SLO held on every hold window".to_string(),
                Some(which) => format!(
                    "every SLO held on the hold windows with enough samples to judge it <span id=\"partly-judged\">({})</span>",
                    text(which)
                ),
            },
            (Verdict::Fail, _) => "an SLO failed on a hold window".to_string(),
            (Verdict::NotJudged, Some(why)) => format!(
                "<span id=\"unmeasured\">the run could not be judged, which fails it: {}</span>",
                text(why)
            ),
            (Verdict::NotJudged, None) => "nothing was judged (see the notes below)".to_string(),
        }
    )?;
    banners(h, s)?;
    h.push_str("<nav><a href=\"#summary\">Summary</a><a href=\"#load\">Users &amp; throughput</a><a href=\"#latency\">Latency</a><a href=\"#concurrency\">Concurrency</a><a href=\"#errors\">Errors</a><a href=\"#slos\">SLOs</a><a href=\"#windows\">Windows</a>");
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
    h.push_str("<a href=\"#inputs\">Inputs</a></nav>\n");
    summary_section(h, s)?;

    h.push_str("<section id=\"load\">\n<h2>Users and throughput</h2>\n");
    fig(h, &c.users)?;
    fig(h, &c.throughput)?;
    fig(h, &c.points)?;
    h.push_str("</section>\n<section id=\"latency\">\n<h2>Latency</h2>\n<p class=\"note\">Percentiles of successful requests per time bucket of ");
    writeln!(
        h,
        "{} s (1 % precision), with the SLO bounds dashed.</p>",
        num(s.series.bucket_ms as f64 / 1000.0)
    )?;
    for (_, svg) in &c.latency {
        fig(h, svg)?;
    }
    h.push_str("<h3>Distribution</h3>\n");
    fig(h, &c.histogram)?;
    fig(h, &c.percentiles)?;
    h.push_str("</section>\n");
    concurrency_section(h, s, c)?;
    errors_section(h, s, c)?;
    slo_section(h, s)?;
    windows_section(h, s)?;
    super::faults::section(h, s)?;
    s.health.html_section(h)?;
    if let Some(rows) = &s.workers {
        crate::cluster::merge::html_section(h, rows)?;
    }
    super::server::html::section(h, s, &c.server)?;
    names_section(h, s)?;
    skipped_section(h, s)?;
    sync_section(h, s)?;
    if let Some(b) = &s.baseline {
        baseline_section(h, b)?;
    }
    inputs_section(h, s)?;
    writeln!(
        h,
        "<footer><p class=\"note\">Written by dashload {} from the run folder's files; everything on this page is also in summary.json.</p></footer>\n</body>\n</html>",
        text(&r.dashload_version)
    )
}

fn fig(h: &mut String, svg: &str) -> std::fmt::Result {
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
    if let Some(b) = &s.baseline {
        if s.regression {
            writeln!(h, "<div class=\"banner bad\" id=\"regression\"><strong>Regression against the baseline</strong> ({} regressed figure(s); see <a href=\"#baseline\">Baseline</a>).</div>", b.regressions.len())?;
        } else {
            writeln!(
                h,
                "<div class=\"banner {}\" id=\"regression\">Against the baseline: {}.</div>",
                if b.reach.iter().any(|r| r.detectable_pct.is_some()) {
                    "good"
                } else {
                    "warn"
                },
                text(&b.verdict)
            )?;
        }
    }
    s.health.html_banner(h)?;
    super::server::html::banner(h, s)?;
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

fn summary_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    let r = &s.run;
    h.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"kv\">\n");
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
    row(
        "Peak users",
        format!(
            "{} ({} viewers at most, sync users: {})",
            r.peak_users, r.peak_viewers, r.sync_users
        ),
    )?;
    row(
        "HTTP requests",
        format!("{} ({} failed)", s.totals.requests, s.totals.failed),
    )?;
    row("HTTP error rate", pct(s.totals.error_rate))?;
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
        "Verdict",
        format!(
            "<span class=\"{}\">{}</span>",
            if s.slo_failed { "fail" } else { "pass" },
            s.verdict.label()
        ),
    )?;
    row(
        "Capacity",
        match &s.capacity_bracket {
            Some(b) => format!(
                "<span id=\"capacity-bracket\">{}</span>{}",
                text(&b.sentence()),
                b.headroom_sentence()
                    .map(|h| format!("; {}", text(&h)))
                    .unwrap_or_default()
            ),
            None => s
                .capacity
                .map_or("not found (no window where every SLO held)".into(), |c| {
                    format!("{c} viewers")
                }),
        },
    )?;
    row(
        "Knee",
        s.knee.as_ref().map_or("none found (throughput kept growing with viewers, or too few windows)".into(), |k| {
            format!("{} viewers (the next step, {} at {} viewers, added only {:.0} % of the initial throughput per viewer)", k.viewers, text(&k.next_window), k.next_viewers, k.slope_ratio * 100.0)
        }),
    )?;
    row(
        "First stress step that broke",
        s.first_break.as_deref().map_or("none".into(), text),
    )?;
    if let Some(d) = &s.degradation {
        row(
            "Past capacity",
            format!(
                "<span id=\"degradation\" class=\"{}\">{}</span> <small>(over {})</small>",
                if d.graceful { "pass" } else { "fail" },
                text(&d.verdict),
                text(&d.steps.join(", "))
            ),
        )?;
    }
    if let Some(line) = super::recovery_line(s) {
        let class = match s.recovery.as_ref().and_then(|r| r.verdict) {
            Some(SloVerdict::Fail) => "fail",
            Some(SloVerdict::Pass) => "pass",
            _ => "nodata",
        };
        row(
            "Recovery",
            format!(
                "<span id=\"recovery\" class=\"{class}\">{}</span>",
                text(&line)
            ),
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
    h.push_str("</table>\n<h3>Latency on the judged (hold) windows</h3>\n");
    if s.judged.is_empty() {
        h.push_str("<p class=\"note\">No requests on hold windows.</p>\n");
    } else {
        class_table(h, &s.judged)?;
    }
    h.push_str("</section>\n");
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

fn concurrency_section(h: &mut String, s: &Summary, c: &Charts) -> std::fmt::Result {
    h.push_str(
        "<section id=\"concurrency\">\n<h2>Latency and throughput against concurrency</h2>\n",
    );
    writeln!(
        h,
        "<p class=\"note\">One point per hold window or stress step (a step's ramp is not a point). The error-rate chart beside p95 shows which SLO bound the capacity stopped at. <strong>Capacity</strong>: the most viewers of a window on which every SLO with data held, below the fewest viewers on which one failed. <strong>Knee</strong>: with the initial slope taken as throughput ÷ viewers at the lowest window, the last viewer count before the first step whose added throughput per added viewer is below {:.0} % of that slope.</p>",
        KNEE_FRACTION * 100.0
    )?;
    super::server::html::diagnosis(h, s)?;
    fig(h, &c.concurrency_latency)?;
    fig(h, &c.concurrency_errors)?;
    fig(h, &c.concurrency_throughput)?;
    if !s.concurrency.is_empty() {
        h.push_str("<table><tr><th class=\"l\">window</th><th class=\"l\">kind</th><th>viewers</th><th>viewer req/s ok</th><th class=\"l\">p95 ms by class</th><th>every SLO held</th></tr>\n");
        let (rows, hidden) = bounded(&s.concurrency, |p| p.held == Some(false));
        for p in rows {
            let p95: Vec<String> = p
                .p95_ms
                .iter()
                .map(|(c, v)| format!("{} {}", c.label(), ms(Some(*v))))
                .collect();
            writeln!(
                h,
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
            )?;
        }
        h.push_str("</table>\n");
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
    h.push_str("<h3>By kind</h3>\n<table><tr><th class=\"l\">kind</th><th>failures</th></tr>\n");
    for (kind, n) in &s.errors.by_kind {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{n}</td></tr>",
            escape(kind.label())
        )?;
    }
    h.push_str("</table>\n<h3>Messages</h3>\n<table><tr><th>count</th><th class=\"l\">message (cut to 200 characters)</th></tr>\n");
    const SHOWN: usize = 50;
    for m in s.errors.messages.iter().take(SHOWN) {
        writeln!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td></tr>",
            m.count,
            text(&m.message)
        )?;
    }
    h.push_str("</table>\n");
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
    h.push_str("<section id=\"slos\">\n<h2>SLO verdicts per window</h2>\n<p class=\"note\">The run is judged on hold windows only. Stress steps are expected to break and are reported, not judged. An SLO is judged only on enough samples: a percentile <var>q</var> needs 1 ÷ (1 − <var>q</var>) successful requests (p95: 20, p99: 100), an error rate bounded by <var>e</var> needs 1 ÷ <var>e</var> requests (at most 100); with fewer it is <em>not judged</em>, unless the samples there already put it past its bound. A percentile fails when more than 1 − <var>q</var> of the requests failed. A window passes only when every SLO on it was judged and held; the run is judged on the hold windows that were.</p>\n");
    if s.slos.is_empty() {
        h.push_str("<p>No SLO was evaluated.</p>\n</section>\n");
        return Ok(());
    }
    if let Some(step) = &s.first_break {
        let viewers = s
            .windows
            .iter()
            .find(|w| &w.name == step)
            .map_or(0, |w| w.viewers);
        writeln!(h, "<p>The stress ladder first broke an SLO at <strong>{}</strong> ({viewers} viewers).</p>", text(step))?;
    }
    h.push_str("<table><tr><th class=\"l\">window</th><th class=\"l\">kind</th><th class=\"l\">class</th><th class=\"l\">SLO</th><th>target</th><th>observed</th><th>verdict</th><th class=\"l\">note</th></tr>\n");
    let (rows, hidden) = bounded(&s.slos, |r| r.verdict == SloVerdict::Fail || r.judged);
    for r in rows {
        writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>≤ {}</td><td>{}</td>{}<td class=\"l\">{}</td></tr>",
            text(&r.window),
            kind_label(r.window_kind),
            r.class.label(),
            r.metric.key(),
            figure(r.metric, Some(r.max)),
            figure(r.metric, r.observed),
            verdict_cell(r.verdict),
            r.note.as_deref().map(text).unwrap_or_default()
        )?;
    }
    h.push_str("</table>\n");
    hidden_note(h, hidden)?;
    h.push_str("</section>\n");
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
    for w in detailed {
        writeln!(
            h,
            "<details><summary>{} ({} viewers): every class</summary>",
            text(&w.name),
            w.viewers
        )?;
        class_table(h, &w.classes)?;
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
    Ok(())
}

/// `ms` after the start as UTC wall-clock time, with the elapsed seconds.
fn wall_clock(s: &Summary, ms: u64) -> String {
    format!(
        "{} <span class=\"note\">(+{} s)</span>",
        super::charts::clock(s.run.started_at, ms as f64 / 1000.0),
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
        writeln!(h, "<h3 id=\"{id}\">{title}</h3>")?;
        name_table(h, slowest_first(rows))?;
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
        "<section id=\"skipped\">\n<h2>Not loaded</h2>\n<p class=\"note\">{} dashboard queries were never sent: the loads above do not include them.</p>\n<table><tr><th class=\"l\">panel or variable</th><th class=\"l\">why</th></tr>",
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
    h.push_str("</table>\n</section>\n");
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

fn name_table(h: &mut String, rows: Vec<(&NameStats, &ClassStats)>) -> std::fmt::Result {
    h.push_str("<table><tr><th class=\"l\">class</th><th class=\"l\">panel / dashboard / step</th><th class=\"l\">range</th><th>count</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>mean ms</th><th>errors</th><th>error rate</th><th>failed p95 ms</th><th>KB per answer</th><th>series per answer</th></tr>\n");
    for (n, c) in rows {
        let l = c.latency;
        writeln!(
            h,
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
        )?;
    }
    h.push_str("</table>\n");
    Ok(())
}

fn sync_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    let c = &s.run.counters;
    let i = &s.sync.ingest;
    h.push_str("<section id=\"sync\">\n<h2>Sync job</h2>\n<table class=\"kv\">\n");
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
    super::sync_attempts::section(h, s)?;
    h.push_str("</section>\n");
    Ok(())
}

fn delta_table(h: &mut String, deltas: &[Delta], scope_title: &str) -> std::fmt::Result {
    let gated = deltas.iter().any(|d| d.judged);
    write!(h, "<table><tr><th class=\"l\">{scope_title}</th><th class=\"l\">figure</th><th>baseline</th><th>this run</th><th>change</th><th>change %</th>")?;
    if gated {
        h.push_str("<th class=\"l\">gate: how sure it is worse beyond the tolerance</th>");
    }
    h.push_str("</tr>\n");
    for d in by_size(deltas) {
        let class = if d.regression { " class=\"worse\"" } else { "" };
        write!(
            h,
            "<tr{class}><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            text(&d.scope),
            text(&d.figure),
            delta_value(d, d.baseline),
            delta_value(d, d.current),
            d.change.map_or("—".into(), |v| delta_change(d, v)),
            d.change_pct.map_or("—".into(), |p| format!("{p:+.1} %")),
        )?;
        if gated {
            write!(h, "<td class=\"l\">{}</td>", text(&gate_cell(d)))?;
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    Ok(())
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

/// `text` with its first letter in upper case.
pub fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
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
        "<p class=\"note\">Only the judged figures ({}) can regress, on hold windows matched by name. A latency percentile regressed when it is more than {:.0} % <em>and</em> more than {} ms above the baseline's, an error rate when it is more than {:.1} percentage points above; <em>and</em> a bootstrap over both request logs (time blocks of each window drawn again {} times) is at least {:.0} % sure of it, so sampling noise alone cannot raise the alarm. A percentile needs five samples expected beyond it on both sides (p95: 100, p99: 500) to be judged. Everything else is context.</p>",
        text(&b.judged_figures.join(", ")),
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
    h.push_str("<h3>Run and stress ladder</h3>\n<p class=\"note\">Each table is sorted by the size of the change, largest first; regressions on top.</p>\n");
    delta_table(h, &b.totals, "scope")?;
    h.push_str("<h3>Hold windows</h3>\n");
    delta_table(h, &b.windows, "window")?;
    h.push_str("<h3>Per panel and time range</h3>\n");
    delta_table(h, &b.names, "request name")?;
    h.push_str("</section>\n");
    Ok(())
}

fn inputs_section(h: &mut String, s: &Summary) -> std::fmt::Result {
    h.push_str("<section id=\"inputs\">\n<h2>Inputs</h2>\n<table><tr><th class=\"l\">file</th><th class=\"l\">used</th><th>rows</th><th>unreadable rows skipped</th><th>out-of-range rows set aside</th><th class=\"l\">last line cut short</th><th class=\"l\">note</th></tr>\n");
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
    h.push_str("</table>\n<p class=\"note\">Error kinds: timeout (transport timeout or 504), connection failed (DNS, refused, reset, or the body cut after the status), shed load (429/503), other 5xx, query error in the body (a failed request answered 2xx or 400 whose body was read), other 4xx.</p>\n</section>\n");
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
