//! `[live]`: viewers that also hold a Grafana Live session (one WebSocket per
//! viewer, subscribed to channels), and the publisher whose points they time.
//!
//! ```toml
//! [live]
//! share = "50%"                        # of the viewers (default all)
//! channels = ["stream/dashload/probe"] # default: the publisher's channel
//! stream = "dashload"                  # publish to /api/live/push/dashload
//! rate = 10                            # pushes per second (default 10)
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::duration::parse_percent;
use super::{Ctx, TargetKind, Viewers};
use crate::error::Result;
use crate::sandbox::http_live::{grafana_channel, valid_stream_id};

/// The measurement the publisher pushes: its channel is `stream/<stream>/probe`.
pub const PROBE_MEASUREMENT: &str = "probe";

/// The most pushes per second one publisher sends.
const MAX_RATE: i64 = 1000;

/// `[live]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLive {
    /// Share of the viewers, `"50%"`.
    pub share: Option<Spanned<String>>,
    /// Channels to subscribe to.
    #[serde(default)]
    pub channels: Vec<Spanned<String>>,
    /// The stream id the publisher pushes to.
    pub stream: Option<Spanned<String>>,
    /// Pushes per second.
    pub rate: Option<Spanned<i64>>,
}

/// The live viewers and their publisher.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveViewers {
    /// Share of the viewers that hold a live session (0 < share ≤ 1).
    pub share: f64,
    /// Channels every live viewer subscribes to, in order.
    pub channels: Vec<String>,
    /// The publisher, when the scenario has a stream to push to.
    pub publisher: Option<Publisher>,
}

/// Pushes one probe point to `/api/live/push/<stream>` `rate` times a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Publisher {
    /// The stream id.
    pub stream: String,
    /// Pushes per second.
    pub rate: u32,
}

impl Publisher {
    /// The channel its points are published to.
    pub fn channel(&self) -> String {
        format!("stream/{}/{PROBE_MEASUREMENT}", self.stream)
    }
}

impl Ctx<'_> {
    /// `[live]`, checked against the viewers and the target it needs.
    pub(super) fn live(
        &self,
        raw: Option<&Spanned<RawLive>>,
        viewers: Option<&Viewers>,
        kind: TargetKind,
    ) -> Result<Option<LiveViewers>> {
        let Some(raw) = raw else { return Ok(None) };
        if viewers.is_none() {
            return self.err(
                raw.span(),
                "[live] gives viewers a Grafana Live session, but the scenario has no [viewers]",
            );
        }
        if !matches!(kind, TargetKind::Sandbox | TargetKind::Grafana) {
            return self.err(
                raw.span(),
                format!(
                    "[live] needs Grafana Live (target kind sandbox or grafana), but the target is {}",
                    kind.name()
                ),
            );
        }
        let section = raw.get_ref();
        let share = match &section.share {
            None => 1.0,
            Some(s) => {
                let share = parse_percent(s.get_ref()).or_else(|m| self.err(s.span(), m))?;
                if share <= 0.0 {
                    return self.err(
                        s.span(),
                        format!("share `{}` must be more than 0%", s.get_ref()),
                    );
                }
                share
            }
        };
        let publisher = match &section.stream {
            None => None,
            Some(s) => {
                if !valid_stream_id(s.get_ref()) {
                    return self.err(
                        s.span(),
                        format!(
                            "stream `{}` is not a Grafana Live stream id: 1 to 64 letters, digits, `-`, `_` or `.`",
                            s.get_ref()
                        ),
                    );
                }
                let rate = match &section.rate {
                    None => 10,
                    Some(r) if (1..=MAX_RATE).contains(r.get_ref()) => *r.get_ref() as u32,
                    Some(r) => {
                        return self.err(
                            r.span(),
                            format!(
                                "rate {} must be between 1 and {MAX_RATE} pushes per second",
                                r.get_ref()
                            ),
                        )
                    }
                };
                Some(Publisher {
                    stream: s.get_ref().clone(),
                    rate,
                })
            }
        };
        if let (Some(r), None) = (&section.rate, &publisher) {
            return self.err(
                r.span(),
                "rate is how often the publisher pushes, but [live] has no `stream` to push to",
            );
        }
        let mut channels = Vec::new();
        for c in &section.channels {
            if !grafana_channel(c.get_ref()) {
                return self.err(
                    c.span(),
                    format!(
                        "`{}` is not a Grafana Live channel: expected <scope>/<namespace>/<path>, scope grafana, stream, ds or plugin",
                        c.get_ref()
                    ),
                );
            }
            if channels.contains(c.get_ref()) {
                return self.err(
                    c.span(),
                    format!("channel `{}` is listed twice", c.get_ref()),
                );
            }
            channels.push(c.get_ref().clone());
        }
        if channels.is_empty() {
            match &publisher {
                Some(p) => channels.push(p.channel()),
                None => {
                    return self.err(
                        raw.span(),
                        "[live] needs `channels` to subscribe to, or a `stream` to publish to",
                    )
                }
            }
        }
        Ok(Some(LiveViewers {
            share,
            channels,
            publisher,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::scenario::Scenario;

    fn parse(extra: &str) -> (tempfile::TempDir, crate::error::Result<Scenario>) {
        let dir = tempfile::tempdir().unwrap();
        let dashboard = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/dashboards/toggl-overview.json");
        let text = format!(
            "[viewers]\ndashboard = {:?}\n[[stages]]\nusers = 4\nramp = \"2s\"\nhold = \"10s\"\n{extra}",
            dashboard.display().to_string()
        );
        let path = dir.path().join("s.toml");
        let parsed = Scenario::parse(&text, &path);
        (dir, parsed)
    }

    fn error(extra: &str) -> String {
        let (dir, parsed) = parse(extra);
        let e = parsed.expect_err("refused");
        assert_eq!(e.exit_code(), crate::error::exit_code::USAGE);
        e.to_string()
            .replace(&dir.path().display().to_string(), "DIR")
    }

    #[test]
    fn a_stream_alone_gives_every_viewer_its_channel_at_ten_pushes_a_second() {
        let (_d, s) = parse("[live]\nstream = \"dashload\"\n");
        let live = s.unwrap().live.unwrap();
        assert_eq!(live.share, 1.0);
        assert_eq!(live.channels, ["stream/dashload/probe"]);
        assert_eq!(
            live.publisher,
            Some(Publisher {
                stream: "dashload".into(),
                rate: 10
            })
        );
        let (_d, s) = parse(
            "[live]\nshare = \"25%\"\nchannels = [\"grafana/dashboard/uid/abc\", \"stream/x/y\"]\n",
        );
        let live = s.unwrap().live.unwrap();
        assert_eq!(live.share, 0.25);
        assert_eq!(live.channels.len(), 2);
        assert_eq!(live.publisher, None);
        let (_d, s) = parse("[live]\nshare = \"50%\"\nstream = \"dashload\"\nrate = 20\n");
        let text = crate::cli::check::describe(&s.unwrap(), 0);
        assert!(
            text.contains("live      50 % of the viewers hold a Grafana Live session on stream/dashload/probe; a publisher pushes to /api/live/push/dashload 20 times a second"),
            "{text}"
        );
        assert_eq!(parse("").1.unwrap().live, None);
    }

    #[test]
    fn the_sandboxs_live_connection_limit_is_set_in_its_section() {
        let (_d, s) = parse("[sandbox]\nlive_max_connections = 5\n");
        assert_eq!(s.unwrap().sandbox.live_max_connections, 5);
        let (_d, s) = parse("");
        assert_eq!(s.unwrap().sandbox.live_max_connections, 100);
        assert_eq!(
            error("[sandbox]\nlive_max_connections = 0\n"),
            "DIR/s.toml:8:24: live_max_connections 0 must be between 1 and 1000000"
        );
    }

    #[test]
    fn bad_values_are_named_where_they_are_written() {
        assert_eq!(
            error("[live]\nshare = \"0%\"\nstream = \"s\"\n"),
            "DIR/s.toml:8:9: share `0%` must be more than 0%"
        );
        assert!(error("[live]\nshare = \"half\"\nstream = \"s\"\n")
            .starts_with("DIR/s.toml:8:9: `half` is not a percentage"));
        assert_eq!(
            error("[live]\nchannels = [\"stream/x/y\", \"nowhere\"]\n"),
            "DIR/s.toml:8:27: `nowhere` is not a Grafana Live channel: expected <scope>/<namespace>/<path>, scope grafana, stream, ds or plugin"
        );
        assert_eq!(
            error("[live]\nstream = \"a b\"\n"),
            "DIR/s.toml:8:10: stream `a b` is not a Grafana Live stream id: 1 to 64 letters, digits, `-`, `_` or `.`"
        );
        assert_eq!(
            error("[live]\nstream = \"s\"\nrate = 0\n"),
            "DIR/s.toml:9:8: rate 0 must be between 1 and 1000 pushes per second"
        );
        assert!(error("[live]\nrate = 5\nchannels = [\"stream/x/y\"]\n")
            .starts_with("DIR/s.toml:8:8: rate is how often"));
        assert!(error("[live]\nshare = \"50%\"\n")
            .ends_with("[live] needs `channels` to subscribe to, or a `stream` to publish to"));
        assert!(error("[live]\nstreams = \"s\"\n").contains("unknown field `streams`"));
    }
}
