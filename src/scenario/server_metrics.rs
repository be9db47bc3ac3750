//! `[server_metrics]`: whether and how the target's own metrics are scraped
//! during a run (see `crate::server_metrics`). On by default; `enabled = false`,
//! or `server_metrics = "off"` at the top level, turns it off.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::{limits, Auth, Ctx};
use crate::error::Result;
use crate::server_metrics::ServerMetrics;

/// The table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerMetricsTable {
    pub enabled: Option<bool>,
    pub url: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub username: Option<String>,
    pub password_env: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
}

/// `server_metrics = "off"` or a `[server_metrics]` table.
#[derive(Debug)]
pub enum RawServerMetrics {
    /// A string: only `off` is known.
    Word(String),
    /// The table.
    Table(Box<RawServerMetricsTable>),
}

impl<'de> Deserialize<'de> for RawServerMetrics {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawServerMetrics;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [server_metrics] table or \"off\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(RawServerMetrics::Word(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                RawServerMetricsTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawServerMetrics::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

impl Ctx<'_> {
    pub(super) fn server_metrics(
        &self,
        raw: Option<&Spanned<RawServerMetrics>>,
    ) -> Result<ServerMetrics> {
        let mut out = ServerMetrics::default();
        let Some(raw) = raw else { return Ok(out) };
        let t = match raw.get_ref() {
            RawServerMetrics::Word(w) if w == "off" => {
                out.enabled = false;
                return Ok(out);
            }
            RawServerMetrics::Word(w) => {
                return self.err(
                    raw.span(),
                    format!("server_metrics `{w}`: expected a [server_metrics] table or \"off\""),
                )
            }
            RawServerMetrics::Table(t) => t,
        };
        out.enabled = t.enabled.unwrap_or(true);
        if let Some(i) = &t.interval {
            out.interval = self.duration_in(
                i,
                limits::SERVER_METRICS_INTERVAL,
                "[server_metrics] interval",
            )?;
        }
        if let Some(u) = &t.url {
            out.url = Some(self.http_url(u)?);
        }
        let password = self.secret(&t.password_env, &t.password_file)?;
        let token = self.secret(&t.token_env, &t.token_file)?;
        out.auth = match (t.username.clone(), password, token) {
            (_, Some(_), Some(_)) => {
                return self.err(
                    raw.span(),
                    "[server_metrics]: give a password or a token, not both",
                )
            }
            (Some(username), Some(password), None) => Some(Auth::Basic { username, password }),
            (None, Some(_), None) => {
                return self.err(
                    raw.span(),
                    "[server_metrics]: a password needs a `username`",
                )
            }
            (_, None, Some(token)) => Some(Auth::Token(token)),
            (_, None, None) => None,
        };
        Ok(out)
    }
}
