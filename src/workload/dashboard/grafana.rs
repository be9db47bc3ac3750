//! Which Grafana dashload emulates, and the rules that differ between versions.
//!
//! The InfluxDB data source changed where InfluxQL is interpolated and how a
//! variable's value is escaped (the book's docs/src/grafana-versions.md lists each
//! rule with its source):
//! - before 10.3 the browser built the final InfluxQL (`classicQuery` with
//!   `InfluxQueryModel.render`, `public/app/plugins/datasource/influxdb/
//!   influx_query_model.ts`): every variable form is replaced there, including
//!   `[[timeFilter]]` and `$__interval`, and the time filter is written from the
//!   raw range (`now() - 6h`; `datasource.ts` `getTimeFilter`/`getInfluxTime`);
//!   a value is regex-escaped only for a multi-value or include-all variable;
//! - from 10.3 (grafana/grafana PR #76641, "Enable InfluxDB backend mode by
//!   default") the backend does (`pkg/tsdb/influxdb/influxql/.../query.go`
//!   `Build`): it replaces exactly `$timeFilter`, `$interval`, `$__interval_ms`
//!   and `$__interval`; the browser turns `${__interval}`/`[[__interval]]` into
//!   `$__interval` (`applyTemplateVariables`) and leaves `[[timeFilter]]` and
//!   `[[interval]]` as written, which InfluxDB then refuses; the value of a
//!   multi-value variable is escaped and joined as `(a|b)`, a single value is
//!   escaped only inside a regex literal (`interpolateQueryExpr`,
//!   `isVariableInRegexLiteral`), a number never.

use std::fmt;

/// A Grafana release, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrafanaVersion {
    /// `11` of `11.3`.
    pub major: u32,
    /// `3` of `11.3`.
    pub minor: u32,
}

/// Where InfluxQL text is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfluxQlPath {
    /// In the browser (Grafana before 10.3): every macro form is replaced there.
    Browser,
    /// In Grafana's backend (10.3 and later): only the bare macros are.
    Backend,
}

impl GrafanaVersion {
    /// The newest behaviour dashload knows (the default).
    pub const NEWEST: GrafanaVersion = GrafanaVersion {
        major: 12,
        minor: 3,
    };
    /// The first release that runs InfluxQL through the backend by default.
    pub const BACKEND_INFLUXQL: GrafanaVersion = GrafanaVersion {
        major: 10,
        minor: 3,
    };
    /// The oldest release dashload emulates (the dashboard model it reads).
    pub const OLDEST: GrafanaVersion = GrafanaVersion { major: 7, minor: 0 };

    /// Parse `11.3`, `11.3.2`, `v12.0.0`, `10.4.1-security-01` or `12` (minor 0).
    pub fn parse(text: &str) -> Result<GrafanaVersion, String> {
        let t = text.trim();
        let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
        let core = t.split(['-', '+', ' ']).next().unwrap_or("");
        let mut parts = core.split('.');
        let number = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let bad = || format!("{text:?} is not a Grafana version (expected e.g. \"11.3\")");
        let major = number(parts.next()).ok_or_else(bad)?;
        let minor = match parts.next() {
            None => 0,
            some => number(some).ok_or_else(bad)?,
        };
        let v = GrafanaVersion { major, minor };
        if v < GrafanaVersion::OLDEST {
            return Err(format!(
                "Grafana {v} is older than the oldest dashload emulates ({})",
                GrafanaVersion::OLDEST
            ));
        }
        Ok(v)
    }

    /// Where InfluxQL is finished in this release.
    pub fn influxql_path(self) -> InfluxQlPath {
        if self >= GrafanaVersion::BACKEND_INFLUXQL {
            InfluxQlPath::Backend
        } else {
            InfluxQlPath::Browser
        }
    }

    /// One line for `check`: the version and what follows from it.
    pub fn describe(self) -> String {
        match self.influxql_path() {
            InfluxQlPath::Backend => format!(
                "Grafana {self}: InfluxQL finished by Grafana's backend (10.3 and later); \
                 multi-value variables as (a|b), single values escaped inside /…/"
            ),
            InfluxQlPath::Browser => format!(
                "Grafana {self}: InfluxQL finished in the browser (before 10.3); \
                 multi-value and include-all variables as (a|b), single values as written"
            ),
        }
    }
}

impl Default for GrafanaVersion {
    fn default() -> Self {
        GrafanaVersion::NEWEST
    }
}

impl fmt::Display for GrafanaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// `$timeFilter` as the browser wrote it before 10.3 (`datasource.ts`
/// `getTimeFilter`/`getInfluxTime`): `now` is `now()`, `now-<n><d|h|m|s>` is
/// `now() - <n><unit>`, anything else (and a range no longer as written, e.g.
/// shifted) the instant in ms.
pub fn browser_time_filter(raw: Option<(&str, &str)>, from_ms: i64, to_ms: i64) -> String {
    let bound = |raw: Option<&str>, ms: i64| -> String {
        let Some(r) = raw else {
            return format!("{ms}ms");
        };
        if r == "now" {
            return "now()".into();
        }
        let relative = r.strip_prefix("now-").and_then(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit = &rest[digits..];
            (digits > 0 && matches!(unit, "d" | "h" | "m" | "s"))
                .then(|| format!("now() - {}{unit}", &rest[..digits]))
        });
        relative.unwrap_or_else(|| format!("{ms}ms"))
    };
    format!(
        "time >= {} and time <= {}",
        bound(raw.map(|r| r.0), from_ms),
        bound(raw.map(|r| r.1), to_ms)
    )
}

/// JavaScript's `!isNaN(parseFloat(value))`: the text starts (after white
/// space) with a number, as `10.0.0.1` or `3 apples` do. Such values are
/// never escaped by the ≥ 10.3 data source.
pub fn js_parses_as_float(value: &str) -> bool {
    let s = value.trim_start();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s.starts_with("Infinity") {
        return true;
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// `@grafana/data`'s `escapeRegex`: a backslash before each of `\ ^ $ * + ? . ( ) | [ ] { } /`.
pub fn escape_regex(out: &mut String, v: &str) {
    for c in v.chars() {
        if "\\^$*+?.()|[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Whether variable `name` is referenced (`$name`, `${name}`, `${name:fmt}`;
/// not `[[name]]`) inside a regex literal of `query`, as the data source's
/// `isVariableInRegexLiteral` decides (`public/app/plugins/datasource/influxdb/
/// regexLiterals.ts`): a `/` opens a literal only where an operand cannot end
/// (not after a word other than SELECT/FROM/BY, a string, or a closing
/// bracket); strings, quoted identifiers and comments are skipped.
pub fn is_variable_in_regex_literal(name: &str, query: &str) -> bool {
    regex_literals(query)
        .iter()
        .any(|body| references_in_literal(name, body))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The bodies of every regex literal of an InfluxQL or Flux query.
fn regex_literals(query: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = query.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    let byte = |i: usize| chars.get(i).map_or(query.len(), |(b, _)| *b);
    let starts = |i: usize, s: &str| query[byte(i)..].starts_with(s);
    // From the opening delimiter at `start` to the closing one (exclusive) and past it.
    let scan = |start: usize, delim: char, single_line: bool| -> (usize, usize) {
        let mut i = start + 1;
        while let Some(c) = at(i) {
            if c == delim || (single_line && c == '\n') {
                break;
            }
            i += if c == '\\' { 2 } else { 1 };
        }
        let end = i.min(chars.len());
        let next = if at(end) == Some(delim) { end + 1 } else { end };
        (end, next)
    };
    let mut literals = Vec::new();
    let mut after_operand = false;
    let mut i = 0;
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
        } else if starts(i, "--") || starts(i, "//") {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
        } else if starts(i, "/*") {
            match query[byte(i + 2)..].find("*/") {
                Some(off) => {
                    let close = byte(i + 2) + off + 2;
                    while byte(i) < close {
                        i += 1;
                    }
                }
                None => i = chars.len(),
            }
        } else if c == '\'' || c == '"' {
            i = scan(i, c, false).1;
            after_operand = true;
        } else if c == '/' && !after_operand {
            let (end, next) = scan(i, '/', true);
            literals.push(&query[byte(i + 1)..byte(end)]);
            i = next;
            after_operand = true;
        } else if is_word_char(c) {
            let start = i;
            while at(i).is_some_and(is_word_char) {
                i += 1;
            }
            let word = &query[byte(start)..byte(i)];
            if word.bytes().all(|b| b.is_ascii_digit()) && at(i) == Some('.') {
                i += 1;
            }
            let member = start > 0 && at(start - 1) == Some('.');
            after_operand =
                member || !matches!(word.to_ascii_lowercase().as_str(), "select" | "from" | "by");
        } else {
            after_operand = matches!(c, ')' | ']' | '}');
            i += 1;
        }
    }
    literals
}

/// `\$(?:name\b|\{name(?::[^}]*)?\})` anywhere in `body`.
fn references_in_literal(name: &str, body: &str) -> bool {
    body.match_indices('$').any(|(i, _)| {
        let rest = &body[i + 1..];
        if let Some(after) = rest.strip_prefix(name) {
            let boundary = !after
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let name_ends_word = name
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if boundary && name_ends_word {
                return true;
            }
        }
        match rest.strip_prefix('{').and_then(|r| r.strip_prefix(name)) {
            Some(after) if after.starts_with('}') => true,
            Some(after) => after
                .strip_prefix(':')
                .is_some_and(|f| f.find('}').is_some()),
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_pick_the_path() {
        let v = |s: &str| GrafanaVersion::parse(s).unwrap();
        assert_eq!(
            v("11.3"),
            GrafanaVersion {
                major: 11,
                minor: 3
            }
        );
        assert_eq!(
            v("v12.0.2"),
            GrafanaVersion {
                major: 12,
                minor: 0
            }
        );
        assert_eq!(
            v("10.4.1-security-01"),
            GrafanaVersion {
                major: 10,
                minor: 4
            }
        );
        assert_eq!(v("9"), GrafanaVersion { major: 9, minor: 0 });
        assert_eq!(v("10.2").influxql_path(), InfluxQlPath::Browser);
        assert_eq!(v("10.3").influxql_path(), InfluxQlPath::Backend);
        assert_eq!(GrafanaVersion::default().to_string(), "12.3");
        for bad in ["", "eleven", "11.x", "6.7", "1.2.3.4.5x"] {
            assert!(GrafanaVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert!(GrafanaVersion::parse("6.7").unwrap_err().contains("older"));
    }

    #[test]
    fn numbers_are_what_javascripts_parse_float_reads() {
        for yes in [
            "1", "1.5", " 42", "-3", ".5", "10.0.0.1", "3 apples", "Infinity",
        ] {
            assert!(js_parses_as_float(yes), "{yes:?}");
        }
        for no in ["", "a1", "/boot", ".", "-", "fw1.example", "NaN"] {
            assert!(!js_parses_as_float(no), "{no:?}");
        }
    }

    /// The cases of Grafana's `regexLiterals.test.ts` (InfluxQL and Flux).
    #[test]
    fn regex_literal_detection_follows_grafanas_test_cases() {
        let found = [
            ("host", r#"SELECT * FROM "m" WHERE "host" =~ /^$host$/"#),
            ("host", r#"SELECT * FROM "m" WHERE "host" !~ /^$host$/"#),
            ("f", r#"SELECT /^$f$/ FROM "h2o_feet" LIMIT 1"#),
            ("f", r#"SELECT mean(/^$f$/) FROM "h2o_feet""#),
            ("tk", r#"SELECT mean("v") FROM "m" GROUP BY /^$tk$/"#),
            ("m", r#"SELECT mean("value") FROM /^$m$/ WHERE $timeFilter"#),
            ("m", r#"SELECT mean("v") FROM "autogen"./^$m$/"#),
            ("m", r#"SELECT mean("v") FROM autogen./^$m$/"#),
            ("m", r#"SELECT mean("v") FROM "mydb"."autogen"./^$m$/"#),
            ("m2", r#"SELECT mean("v") FROM /^$m1$/, /^$m2$/"#),
            (
                "hostname",
                r#"SHOW TAG VALUES WITH KEY = "service" WHERE hostname =~ /^$hostname$/"#,
            ),
            ("host", r#"SELECT * FROM "m" WHERE "host" =~ /^${host}$/"#),
            ("host", r#"SELECT * FROM "m" WHERE "host" =~ /^${host:regex}$/"#),
            ("path", r#"SELECT * FROM "m" WHERE "path" =~ /^\/var\/$path$/"#),
            (
                "mac",
                r#"SELECT last("sent") / $__interval_ms FROM "m" WHERE "mac" =~ /^$mac$/"#,
            ),
            (
                "host",
                r#"SELECT * FROM "m" WHERE "cmd" = 'load from /data' AND "host" =~ /^$host$/"#,
            ),
            (
                "host",
                "SELECT mean(\"v\") FROM \"cpu\"\nWHERE \"host\" =~ /^$host$/\nGROUP BY time(1m)",
            ),
            ("HPU", "/^$HPU$/"),
            ("h", r#"SELECT "a/b" FROM "m" WHERE "h" =~ /^$h$/"#),
            ("sym", r#"SELECT return / 100 FROM "stocks" WHERE "sym" =~ /^$sym$/"#),
            (
                "m",
                r#"from(bucket: "b") |> filter(fn: (r) => r._measurement =~ /^${m}$/)"#,
            ),
            (
                "host",
                r#"from(bucket: "b") |> filter(fn: (r) => r["host"] =~ /^${host}$/)"#,
            ),
            (
                "host",
                "// filter by host\nfrom(bucket: \"b\")\n  |> filter(fn: (r) => r.host =~ /^${host}$/)",
            ),
            (
                "x",
                r#"from(bucket: "b") |> map(fn: (r) => ({ r with v: r.from / 2 })) |> filter(fn: (r) => r.h =~ /^${x}$/)"#,
            ),
        ];
        for (name, q) in found {
            assert!(is_variable_in_regex_literal(name, q), "{name} in {q}");
        }
        let not_found = [
            (
                "__interval_ms",
                r#"SELECT last("sent") / $__interval_ms FROM "m" WHERE "mac" =~ /^$mac$/"#,
            ),
            (
                "tempVar",
                "select atan(z/sqrt(3.14)), that where path /$tempVar/",
            ),
            (
                "host",
                r#"SELECT * FROM "m" WHERE "host" = '$host' AND "cpu" =~ /^cpu-total$/"#,
            ),
            ("path", r#"SELECT * FROM "m" WHERE "path" = '/var/$path/'"#),
            (
                "host",
                r#"SELECT * FROM "m" WHERE "host" = '$host' -- see /docs/$host/"#,
            ),
            (
                "host",
                "/* panel note */\nSELECT mean(\"usage_idle\") FROM \"cpu\"\nWHERE \"host\" = '$host'\nAND \"cpu\" =~ /^cpu-total$/",
            ),
            ("host", r#"SELECT * FROM "m" WHERE "host" =~ /^$other$/"#),
            ("host", r#"SELECT * FROM "m" WHERE "host" =~ /^$host_name$/"#),
            ("HPU", "$HPU"),
            ("h", r#"SELECT "bytes/sec" / $h FROM "m""#),
            ("sym", r#"SELECT return / 100 FROM "stocks" WHERE "sym" = '$sym'"#),
            ("h", "WHERE a =~ /^x\nAND \"h\" = $h"),
            (
                "host",
                r#"from(bucket: "b") |> filter(fn: (r) => r.host == "${host}")"#,
            ),
            (
                "host",
                "// ${host} lives here /tmp/${host}/\nfrom(bucket: \"b\") |> filter(fn: (r) => r.cpu =~ /^cpu-total$/)",
            ),
            (
                "divisor",
                r#"from(bucket: "b") |> map(fn: (r) => ({ r with _value: r._value / ${divisor} }))"#,
            ),
            (
                "host",
                r#"from(bucket: "b") |> map(fn: (r) => ({ r with rate: r.from / 60.0, label: "${host}" }))"#,
            ),
            (
                "host",
                r#"from(bucket: "b") |> map(fn: (r) => ({ r with rate: 0. / r._value, label: "${host}" }))"#,
            ),
            ("h", "x = ${a} / ${h}"),
            ("h", "x = arr[0] / ${h}"),
        ];
        for (name, q) in not_found {
            assert!(!is_variable_in_regex_literal(name, q), "{name} in {q}");
        }
        // `[[name]]` is not a reference the data source looks for.
        assert!(!is_variable_in_regex_literal("h", "WHERE h =~ /^[[h]]$/"));
    }

    #[test]
    fn the_browsers_time_filter_keeps_relative_bounds() {
        let f = |raw| browser_time_filter(raw, 1_000, 2_000);
        assert_eq!(
            f(Some(("now-6h", "now"))),
            "time >= now() - 6h and time <= now()"
        );
        // Only `now-<n><d|h|m|s>` is kept relative; the rest is epoch ms.
        assert_eq!(
            f(Some(("now-7d/d", "now-1w"))),
            "time >= 1000ms and time <= 2000ms"
        );
        assert_eq!(f(None), "time >= 1000ms and time <= 2000ms");
    }

    #[test]
    fn escape_regex_matches_grafana_data() {
        let mut out = String::new();
        escape_regex(&mut out, "/boot.x|(a)[b]{c}*+?^$\\");
        assert_eq!(out, r"\/boot\.x\|\(a\)\[b\]\{c\}\*\+\?\^\$\\");
    }
}
