//! Flux queries as Grafana runs them, and what happens to them on a target that
//! cannot run them.
//!
//! Grafana's InfluxDB data source in Flux mode sends panel and variable queries
//! alike through `/api/ds/query` (`metricFindQuery` builds a `rawQuery` target
//! with `refId: "metricFindQuery"`: `public/app/plugins/datasource/influxdb/datasource.ts`);
//! its backend expands the Flux macros and posts the text to InfluxDB 2.x's
//! `/api/v2/query` (`pkg/tsdb/influxdb/flux/macros.go`, `flux.go`). [`expand`]
//! is `macros.go`'s `interpolate`, step for step:
//! - every `word.word` match of `([a-zA-Z]+)\.([a-zA-Z]+)` whose second word is
//!   `timeRangeStart`/`timeRangeStop` (RFC 3339 UTC, fractional seconds without
//!   trailing zeros, as Go's `RFC3339Nano`), `windowPeriod` (the interval as Go's
//!   `Duration.String`, `10m0s`), `bucket`, `defaultBucket` or `organization`
//!   (double-quoted, not escaped) has all its occurrences replaced, in match
//!   order; the prefix is not checked (`v.` in practice, `x.bucket` too);
//! - then `$__interval_ms` (the interval's ms) and `$__interval` (Grafana's
//!   `FormatInterval`: the largest whole unit, truncated: 90 s is `1m`).
//!
//! `v.bucket` is the target's `options.bucket`, else its `options.defaultBucket`,
//! else the data source's default bucket; `v.defaultBucket` and `v.organization`
//! likewise (`query_models.go` `getQueryModel`). An interval of 0 is 1 ms there.
//!
//! A target that runs InfluxQL only (`influxdb1`, and the sandbox's InfluxQL
//! data source) cannot run Flux: [`Dashboard::skip_flux`] takes such queries out
//! and lists them in [`Dashboard::skipped`] with the reason, so `check`, the
//! report and `summary.json` say so instead of loads that send nothing.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::{Dashboard, Skipped, TargetKind};

/// The interval a variable query's macros get (it has no panel; as the
/// InfluxQL variable queries of [`super::View::variable_requests`]).
pub const VARIABLE_INTERVAL_MS: u64 = 1000;

/// A target's own Flux options (`options` in the query JSON; rarely set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FluxOptions {
    /// `options.bucket`.
    pub bucket: Option<String>,
    /// `options.defaultBucket`.
    pub default_bucket: Option<String>,
    /// `options.organization`.
    pub organization: Option<String>,
}

impl FluxOptions {
    /// Read a target's `options` (empty strings count as unset, as in Go).
    pub fn from_target(target: &Value) -> FluxOptions {
        let get = |k: &str| {
            target
                .pointer(&format!("/options/{k}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        FluxOptions {
            bucket: get("bucket"),
            default_bucket: get("defaultBucket"),
            organization: get("organization"),
        }
    }
}

/// What a Flux query's macros expand to for one request.
#[derive(Debug, Clone, Copy)]
pub struct FluxContext<'a> {
    /// Range start, epoch ms.
    pub from_ms: i64,
    /// Range end, epoch ms.
    pub to_ms: i64,
    /// The query interval, ms (0 is read as 1 ms, as Grafana does).
    pub interval_ms: u64,
    /// The data source's default bucket (the target's bucket).
    pub default_bucket: &'a str,
    /// The data source's organisation (the target's org).
    pub organization: &'a str,
}

/// Whether a query text is Flux rather than InfluxQL: it does not start with an
/// InfluxQL statement keyword and has a Flux construct (a pipe, `from(`,
/// `buckets()`, an `import`, a `v.` macro or the `schema` package).
pub fn is_flux(text: &str) -> bool {
    let body = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ");
    let first: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    const INFLUXQL: [&str; 11] = [
        "SELECT", "SHOW", "CREATE", "DROP", "DELETE", "ALTER", "GRANT", "REVOKE", "KILL",
        "EXPLAIN", "SET",
    ];
    if INFLUXQL.contains(&first.as_str()) {
        return false;
    }
    const MARKERS: [&str; 9] = [
        "|>",
        "from(",
        "buckets()",
        "import \"",
        "v.bucket",
        "v.defaultBucket",
        "v.timeRangeStart",
        "v.organization",
        "schema.",
    ];
    MARKERS.iter().any(|m| body.contains(m))
}

fn macro_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?m)([a-zA-Z]+)\.([a-zA-Z]+)").expect("a valid regex"))
}

/// Expand Grafana's Flux macros in `query` (see the module docs).
pub fn expand(query: &str, ctx: &FluxContext<'_>, options: &FluxOptions) -> String {
    let default_bucket = options
        .default_bucket
        .as_deref()
        .unwrap_or(ctx.default_bucket);
    let bucket = options.bucket.as_deref().unwrap_or(default_bucket);
    let organization = options.organization.as_deref().unwrap_or(ctx.organization);
    let interval_ms = ctx.interval_ms.max(1);
    let mut flux = query.to_string();
    let matches: Vec<(String, String)> = macro_regex()
        .captures_iter(query)
        .map(|c| (c[0].to_string(), c[2].to_string()))
        .collect();
    for (whole, name) in matches {
        let with = match name.as_str() {
            "timeRangeStart" => rfc3339_nano(ctx.from_ms),
            "timeRangeStop" => rfc3339_nano(ctx.to_ms),
            "windowPeriod" => go_duration(interval_ms),
            "bucket" => format!("\"{bucket}\""),
            "defaultBucket" => format!("\"{default_bucket}\""),
            "organization" => format!("\"{organization}\""),
            _ => continue,
        };
        flux = flux.replace(&whole, &with);
    }
    flux.replace("$__interval_ms", &interval_ms.to_string())
        .replace("$__interval", &format_interval(interval_ms))
}

/// Go's `time.RFC3339Nano` of a UTC instant: `2025-11-16T00:00:00Z`, `…:00.5Z`.
pub fn rfc3339_nano(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let frac = ms.rem_euclid(1000);
    let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if frac == 0 {
        format!("{base}Z")
    } else {
        let digits = format!("{frac:03}");
        format!("{base}.{}Z", digits.trim_end_matches('0'))
    }
}

/// Go's `time.Duration.String` for whole milliseconds: `1ms`, `1.5s`, `10m0s`, `1h0m0s`.
pub fn go_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

pub use crate::workload::macros::format_interval;

impl Dashboard {
    /// Take out the Flux queries a target that runs InfluxQL only cannot run
    /// (`why` says which target), listing each in [`Dashboard::skipped`]: Flux
    /// targets of a panel (the panel itself when it has no other query), and
    /// Flux variable queries (the variable keeps its saved value).
    pub fn skip_flux(&mut self, why: &str) {
        let mut kept = Vec::with_capacity(self.panels.len());
        for mut panel in std::mem::take(&mut self.panels) {
            let flux: Vec<String> = panel
                .targets
                .iter()
                .filter(|t| t.kind == TargetKind::Flux)
                .map(|t| t.ref_id.clone())
                .collect();
            if flux.is_empty() {
                kept.push(panel);
                continue;
            }
            let label = format!("{:?} (id {})", panel.title, panel.id);
            let all = flux.len() == panel.targets.len();
            let reason = match (all, flux.len()) {
                (true, 1) => format!("Flux query: {why}"),
                (true, _) => format!("Flux queries ({}): {why}", flux.join(", ")),
                (false, 1) => format!("target {}: Flux query: {why}", flux[0]),
                (false, _) => format!("targets {}: Flux queries: {why}", flux.join(", ")),
            };
            self.skipped.push(Skipped {
                panel: label,
                reason,
            });
            if !all {
                panel.targets.retain(|t| t.kind != TargetKind::Flux);
                kept.push(panel);
            }
        }
        self.panels = kept;
        for (v, query) in self.variables.iter().zip(self.variable_queries.iter_mut()) {
            if query.is_some() && is_flux(&v.query) {
                *query = None;
                self.skipped.push(Skipped {
                    panel: format!("variable {:?}", v.name),
                    reason: format!("Flux query: {why}; its saved value is used"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(from_ms: i64, to_ms: i64, interval_ms: u64) -> FluxContext<'static> {
        FluxContext {
            from_ms,
            to_ms,
            interval_ms,
            default_bucket: "grafana3",
            organization: "grafana1",
        }
    }

    #[test]
    fn grafanas_own_interpolation_test_gives_the_same_text() {
        // pkg/tsdb/influxdb/flux/macros_test.go `TestInterpolate`: any word before
        // the dot matches; `a91{}.bucket` does not.
        let options = FluxOptions {
            bucket: Some("grafana2".into()),
            ..Default::default()
        };
        let before = "v.timeRangeStart, something.timeRangeStop, XYZ.bucket, uuUUu.defaultBucket, aBcDefG.organization, window.windowPeriod, a91{}.bucket";
        assert_eq!(
            expand(before, &ctx(0, 0, 1000), &options),
            "1970-01-01T00:00:00Z, 1970-01-01T00:00:00Z, \"grafana2\", \"grafana3\", \"grafana1\", 1s, a91{}.bucket"
        );
    }

    #[test]
    fn bucket_falls_back_to_the_default_bucket_and_options_win() {
        let q = "from(bucket: v.bucket) |> range(start: v.timeRangeStart)";
        let c = ctx(1_763_251_200_000, 1_763_856_000_000, 600_000);
        assert_eq!(
            expand(q, &c, &FluxOptions::default()),
            "from(bucket: \"grafana3\") |> range(start: 2025-11-16T00:00:00Z)"
        );
        let own = FluxOptions {
            default_bucket: Some("other".into()),
            organization: Some("org2".into()),
            ..Default::default()
        };
        assert_eq!(
            expand("v.bucket v.defaultBucket v.organization", &c, &own),
            "\"other\" \"other\" \"org2\""
        );
    }

    #[test]
    fn times_durations_and_interval_macros_follow_go() {
        assert_eq!(rfc3339_nano(1_500_376_552_001), "2017-07-18T11:15:52.001Z");
        assert_eq!(rfc3339_nano(1_500_376_552_500), "2017-07-18T11:15:52.5Z");
        assert_eq!(go_duration(600_000), "10m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(1500), "1.5s");
        assert_eq!(go_duration(20), "20ms");
        assert_eq!(format_interval(90_000), "1m");
        assert_eq!(format_interval(86_400_000 * 8), "8d");
        assert_eq!(format_interval(500), "500ms");
        let q = "aggregateWindow(every: $__interval) |> limit(n: $__interval_ms) |> x(every: v.windowPeriod)";
        assert_eq!(
            expand(q, &ctx(0, 0, 90_000), &FluxOptions::default()),
            "aggregateWindow(every: 1m) |> limit(n: 90000) |> x(every: 1m30s)"
        );
        // An interval of 0 is 1 ms, as getQueryModel makes it.
        assert_eq!(
            expand(
                "v.windowPeriod $__interval_ms",
                &ctx(0, 0, 0),
                &FluxOptions::default()
            ),
            "1ms 1"
        );
    }

    #[test]
    fn a_match_replaces_every_occurrence_of_its_text_like_strings_replace_all() {
        // Go's ReplaceAll of `v.bucket` also rewrites the `v.bucket` inside `v.buckets`.
        assert_eq!(
            expand("v.bucket v.buckets", &ctx(0, 0, 1), &FluxOptions::default()),
            "\"grafana3\" \"grafana3\"s"
        );
        // Unknown names stay: `r._measurement`, `r.host`, `strings.title`.
        let q = "filter(fn: (r) => r._measurement == \"cpu\" and r.host == \"a\")";
        assert_eq!(expand(q, &ctx(0, 0, 1), &FluxOptions::default()), q);
    }

    #[test]
    fn flux_is_told_from_influxql_by_statement_and_constructs() {
        for flux in [
            "from(bucket: v.defaultBucket) |> range(start: -1h)",
            "buckets()",
            "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: v.bucket, tag: \"host\")",
            "  // hosts\nschema.measurements(bucket: \"b\")",
        ] {
            assert!(is_flux(flux), "{flux}");
        }
        for influxql in [
            "SHOW TAG VALUES WITH KEY = \"host\"",
            "select mean(value) from cpu where $timeFilter",
            "SHOW MEASUREMENTS WHERE \"from(\" = 'x'",
            "",
            "custom,values",
        ] {
            assert!(!is_flux(influxql), "{influxql}");
        }
    }

    mod loaded {
        use super::super::{expand, FluxContext, VARIABLE_INTERVAL_MS};
        use crate::workload::dashboard::{load, Dashboard, TargetKind, TimeRange, Trigger, View};

        const NOW: i64 = 1_763_856_000_000;

        fn fixture(name: &str) -> Dashboard {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dashboards")
                .join(name);
            load(&path).unwrap()
        }

        #[test]
        fn flux_panels_and_variables_are_sent_as_flux_with_every_macro_expanded() {
            let d = fixture("flux-mixed.json");
            let sel = d.saved_selections();
            let range = TimeRange::parse("now-6h", "now").unwrap();
            let view = View::new(&d, &range, NOW, &sel);
            let vars = view.variable_requests(Trigger::Load);
            let kinds: Vec<(&str, bool)> =
                vars.iter().map(|v| (v.variable.as_str(), v.flux)).collect();
            assert_eq!(kinds, [("bucket", true), ("host", true), ("qlhost", false)]);
            let (from_ms, to_ms) = view.range_ms();
            let ctx = |interval_ms| FluxContext {
                from_ms,
                to_ms,
                interval_ms,
                default_bucket: "telegraf",
                organization: "acme",
            };
            assert_eq!(
                expand(&vars[1].text, &ctx(VARIABLE_INTERVAL_MS), &Default::default()),
                "import \"influxdata/influxdb/schema\"\nschema.tagValues(bucket: \"telegraf\", tag: \"host\", \
                 predicate: (r) => r._measurement == \"cpu\", start: 2025-11-22T18:00:00Z)"
            );
            // Through Grafana the variable query is the data source's metricFindQuery target.
            let body: serde_json::Value = serde_json::from_str(&vars[0].body).unwrap();
            assert_eq!(body["queries"][0]["query"], "buckets()");
            let cpu = view.panel_request(&d.panels[0]);
            assert_eq!(cpu.queries[0].kind, TargetKind::Flux);
            assert_eq!(cpu.interval_ms, 20_000);
            assert_eq!(
                expand(&cpu.queries[0].text, &ctx(cpu.interval_ms), &d.panels[0].targets[0].flux_options),
                "from(bucket: \"telegraf\")\n  |> range(start: 2025-11-22T18:00:00Z, stop: 2025-11-23T00:00:00Z)\n  \
                 |> filter(fn: (r) => r._measurement == \"cpu\" and r._field == \"usage_user\" and r.host == \"web1\")\n  \
                 |> aggregateWindow(every: 20s, fn: mean, createEmpty: false)\n  |> yield(name: \"mean\")"
            );
            // maxDataPoints 200 over 6 h: 2 min; `$__interval` is Grafana's `2m`.
            let mem = view.panel_request(&d.panels[1]);
            let text = expand(
                &mem.queries[0].text,
                &ctx(mem.interval_ms),
                &Default::default(),
            );
            assert!(text.starts_with("from(bucket: \"telegraf\")"), "{text}");
            assert!(
                text.ends_with("aggregateWindow(every: 2m, fn: max)"),
                "{text}"
            );
        }

        #[test]
        fn on_an_influxql_only_target_flux_is_taken_out_and_listed() {
            let mut d = fixture("flux-mixed.json");
            d.skip_flux("no Flux here");
            let titles: Vec<(&str, usize)> = d
                .panels
                .iter()
                .map(|p| (p.title.as_str(), p.targets.len()))
                .collect();
            assert_eq!(titles, [("CPU user (InfluxQL)", 1), ("Disk (mixed)", 1)]);
            assert_eq!(d.panels[1].targets[0].ref_id, "B");
            let skipped: Vec<(&str, &str)> = d
                .skipped
                .iter()
                .map(|s| (s.panel.as_str(), s.reason.as_str()))
                .collect();
            assert_eq!(
                skipped,
                [
                    ("\"CPU user (Flux)\" (id 1)", "Flux query: no Flux here"),
                    ("\"Memory (Flux)\" (id 2)", "Flux query: no Flux here"),
                    (
                        "\"Disk (mixed)\" (id 4)",
                        "target A: Flux query: no Flux here"
                    ),
                    (
                        "variable \"bucket\"",
                        "Flux query: no Flux here; its saved value is used"
                    ),
                    (
                        "variable \"host\"",
                        "Flux query: no Flux here; its saved value is used"
                    ),
                ]
            );
            let sel = d.saved_selections();
            let view = View::new(&d, &d.time, NOW, &sel);
            let vars: Vec<String> = view
                .variable_requests(Trigger::Load)
                .into_iter()
                .map(|v| v.variable)
                .collect();
            assert_eq!(vars, ["qlhost"]);

            let mut only = fixture("flux-only.json");
            only.skip_flux("no Flux here");
            assert!(only.panels.is_empty());
            assert_eq!(only.skipped.len(), 4, "{:?}", only.skipped);
        }
    }
}
