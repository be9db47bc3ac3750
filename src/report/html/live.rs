//! The page's Live section: the live viewers' figures (`report::live`).

use super::super::format::{counted, escape};
use super::super::live::{LiveSummary, Percentiles};

/// The page's Live table.
pub fn section(h: &mut String, live: Option<&LiveSummary>) -> std::fmt::Result {
    use std::fmt::Write as _;
    let Some(l) = live else { return Ok(()) };
    let esc = escape;
    let ms = |p: Option<Percentiles>| {
        p.map_or("-".into(), |p| {
            format!(
                "p50 {:.1} · p95 {:.1} · p99 {:.1} · max {:.1} ms ({} samples)",
                p.p50, p.p95, p.p99, p.max, p.count
            )
        })
    };
    h.push_str("<section id=\"live\">\n<h2>Live</h2>\n<table class=\"kv\">\n");
    let mut row = |k: &str, v: String| writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    row(
        "Connections (connected / attempts)",
        format!("{} / {}", l.connected, l.connect_attempts),
    )?;
    row(
        "Reconnects (time back after a lost connection)",
        format!("{} ({})", l.reconnects, ms(l.reconnect_ms)),
    )?;
    row("Connect time", ms(l.connect_ms))?;
    if !l.connect_failures.is_empty() {
        row("Connects refused", esc(&counted(&l.connect_failures)))?;
    }
    row("Subscriptions", l.subscribed.to_string())?;
    row("Subscribe time", ms(l.subscribe_ms))?;
    if !l.subscribe_failures.is_empty() {
        row("Subscribes refused", esc(&counted(&l.subscribe_failures)))?;
    }
    row("Messages received", l.messages.to_string())?;
    row("Delivery latency (push sent → received)", ms(l.delivery_ms))?;
    row("Messages missed (offset gaps)", l.missed.to_string())?;
    if !l.disconnects.is_empty() {
        row("Disconnected by the server", esc(&counted(&l.disconnects)))?;
    }
    row(
        "Publisher pushes (accepted / failed)",
        format!("{} / {}", l.pushes, l.push_failures),
    )?;
    h.push_str("</table>\n</section>\n");
    Ok(())
}
