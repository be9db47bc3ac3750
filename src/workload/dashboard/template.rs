//! Query text split once into literal and variable segments, so that expanding
//! a query per request is concatenation (no scanning, no regex).
//!
//! Grafana's template service (`public/app/features/templating/template_srv.ts`)
//! finds references with one regex: `$name`, `[[name]]`, `[[name:format]]`,
//! `${name}`, `${name.field}`, `${name:format}`. A name is a greedy run of word
//! characters looked up exactly, so `$project` never matches inside `$projects`.
//! Dashboard variables win over built-ins of the same name (a variable called
//! `interval` is the variable). Unknown names pass through as Grafana passes them.
//!
//! Built-ins ([`Builtin`]) follow the Grafana version emulated
//! ([`super::grafana`]). Before 10.3 the browser expands every form: the
//! InfluxDB data source's `classicQuery` puts `timeFilter`, `interval`,
//! `__interval` and `__interval_ms` in the scoped variables before
//! `templateSrv.replace`. From 10.3 `applyTemplateVariables` sets `__interval`
//! and `__interval_ms` to the strings `$__interval` / `$__interval_ms`, and the
//! backend (`query.go` `Build`) replaces exactly `$timeFilter`, `$interval`,
//! `$__interval_ms` and `$__interval`: so `[[timeFilter]]`, `${timeFilter}`
//! and `[[interval]]` reach InfluxDB as written, as they do from Grafana. The
//! range variables (`__from`, `__to`, `__range`, `__range_s`, `__range_ms`)
//! and `__dashboard` are the template service's own, expanded in every version.
//!
//! A variable's value is written per [`super::variables::ValueContext`]:
//! whether the variable sits in a regex literal of the text it was compiled
//! from is decided once, at compile time.

use std::sync::OnceLock;

use regex::Regex;

use super::grafana::{self, GrafanaVersion, InfluxQlPath};
use super::variables::{write_scalar, Format, Selections, ValueContext, Variable};
use crate::workload::macros;

/// Variables Grafana defines itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `timeFilter`: `time >= <from>ms and time <= <to>ms`.
    TimeFilter,
    /// `__interval`: the panel interval (`10m`).
    Interval,
    /// `interval`: the same, set by the browser only before 10.3.
    IntervalAlias,
    /// `__interval_ms`: the panel interval in ms.
    IntervalMs,
    /// `__from`: range start, epoch ms.
    From,
    /// `__to`: range end, epoch ms.
    To,
    /// `__range`: the range in whole seconds with `s` (`3600s`).
    Range,
    /// `__range_s`: the range in whole seconds.
    RangeS,
    /// `__range_ms`: the range in ms.
    RangeMs,
    /// `__dashboard` / `__dashboard.name`: the dashboard title.
    DashboardName,
    /// `__dashboard.uid`.
    DashboardUid,
    /// `__user.login`.
    UserLogin,
    /// `__user`, `__user.id`.
    UserId,
    /// `__user.email`.
    UserEmail,
    /// `__org`, `__org.id`.
    OrgId,
    /// `__org.name`.
    OrgName,
    /// `__timezone`.
    Timezone,
}

impl Builtin {
    /// The built-in called `name` (with `${name.field}`'s field, if any).
    fn lookup(name: &str, field: Option<&str>) -> Option<Builtin> {
        Some(match (name, field) {
            ("timeFilter", None) => Builtin::TimeFilter,
            ("__interval", None) => Builtin::Interval,
            ("interval", None) => Builtin::IntervalAlias,
            ("__interval_ms", None) => Builtin::IntervalMs,
            ("__from", None) => Builtin::From,
            ("__to", None) => Builtin::To,
            ("__range", None) => Builtin::Range,
            ("__range_s", None) => Builtin::RangeS,
            ("__range_ms", None) => Builtin::RangeMs,
            ("__dashboard", None | Some("name")) => Builtin::DashboardName,
            ("__dashboard", Some("uid")) => Builtin::DashboardUid,
            ("__user", Some("login")) => Builtin::UserLogin,
            ("__user", None | Some("id")) => Builtin::UserId,
            ("__user", Some("email")) => Builtin::UserEmail,
            ("__org", None | Some("id")) => Builtin::OrgId,
            ("__org", Some("name")) => Builtin::OrgName,
            ("__timezone", None) => Builtin::Timezone,
            _ => return None,
        })
    }
}

/// How a built-in's value is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BuiltinFormat {
    /// A value format (`raw`, `regex`, …; `Default` = as is).
    Value(Format),
    /// `${__from:date}` / `:date:iso`: ISO 8601 UTC with ms, as JavaScript's `toISOString`.
    DateIso,
    /// `:date:seconds`: epoch seconds.
    DateSeconds,
    /// `:date:ms`: epoch ms.
    DateMs,
    /// `:date:<moment.js pattern>` (`YYYY-MM-DD`), in UTC.
    DatePattern(String),
}

impl BuiltinFormat {
    fn parse(builtin: Builtin, format: Option<&str>) -> Result<BuiltinFormat, String> {
        let is_time = matches!(builtin, Builtin::From | Builtin::To);
        Ok(match format {
            None => BuiltinFormat::Value(Format::Default),
            Some("date" | "date:iso") if is_time => BuiltinFormat::DateIso,
            Some("date:seconds") if is_time => BuiltinFormat::DateSeconds,
            Some("date:ms") if is_time => BuiltinFormat::DateMs,
            // `formatRegistry.ts` `date`: any other argument is a moment.js pattern.
            Some(f) if is_time && f.starts_with("date:") => {
                BuiltinFormat::DatePattern(f["date:".len()..].to_string())
            }
            Some(f) => BuiltinFormat::Value(
                Format::parse(f).ok_or_else(|| format!("unknown variable format {f:?}"))?,
            ),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Var {
        index: usize,
        format: Format,
        /// Grafana's builder doubles backslashes of an `=` tag value after
        /// interpolation (`models/query.go` `renderTags`).
        double_backslashes: bool,
        /// The variable is referenced in a regex literal of the compiled text.
        in_regex_literal: bool,
    },
    Builtin {
        builtin: Builtin,
        format: BuiltinFormat,
        /// The `$name` form (the only one Grafana's backend replaces).
        bare: bool,
        /// The reference as written, for the versions that send it so.
        raw: String,
    },
}

/// A compiled query text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    segs: Vec<Seg>,
    /// `__…` references Grafana does not define, sent as written.
    unknown: Vec<String>,
}

/// What one expansion needs: the variables, their selections and the range.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The dashboard's variables.
    pub variables: &'a [Variable],
    /// Their selections.
    pub selections: &'a Selections,
    /// Range start, epoch ms.
    pub from_ms: i64,
    /// Range end, epoch ms.
    pub to_ms: i64,
    /// The panel interval, ms (`__interval`, `__interval_ms`).
    pub interval_ms: u64,
    /// The dashboard's uid (`${__dashboard.uid}`).
    pub dashboard_uid: &'a str,
    /// The dashboard's title (`${__dashboard}`).
    pub dashboard_title: &'a str,
    /// The Grafana release emulated.
    pub grafana: GrafanaVersion,
    /// The range as written (`now-6h`, `now`), when the request's range is
    /// still relative: the browser's time filter (before 10.3) uses it.
    pub raw_range: Option<(&'a str, &'a str)>,
    /// A repeated copy's own values: these variables hold one string.
    pub scoped: &'a [(usize, String)],
    /// The viewers' user, org and time zone.
    pub globals: &'a super::globals::Globals,
}

fn reference_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+?)(?::([A-Za-z0-9_]+))?\]\]|\$\{([A-Za-z0-9_]+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}",
        )
        .expect("static regex")
    })
}

/// Whether `text` holds anything that looks like a variable reference.
pub fn has_reference(text: &str) -> bool {
    (text.contains('$') || text.contains("[[")) && reference_regex().is_match(text)
}

impl Template {
    /// Compile `text`; an unknown `:format` is an error naming it.
    pub fn compile(text: &str, variables: &[Variable]) -> Result<Template, String> {
        let mut t = Template::default();
        t.push(text, variables, false)?;
        Ok(t)
    }

    /// Write references without a `:format` in `format` instead of the InfluxQL
    /// data source's default: Flux queries go through `templateSrv.replace`
    /// without a format function (`applyTemplateVariables`), whose default is
    /// `glob` (`template_srv.ts` `formatValue`).
    pub fn with_default_format(mut self, format: Format) -> Template {
        for seg in &mut self.segs {
            if let Seg::Var {
                format: f @ Format::Default,
                ..
            } = seg
            {
                *f = format;
            }
        }
        self
    }

    /// Append `text`; with `double_backslashes`, literal backslashes are doubled
    /// now and interpolated ones at expansion.
    pub fn push(
        &mut self,
        text: &str,
        variables: &[Variable],
        double_backslashes: bool,
    ) -> Result<(), String> {
        let mut last = 0;
        for caps in reference_regex().captures_iter(text) {
            let whole = caps.get(0).expect("group 0");
            let name = caps
                .get(1)
                .or(caps.get(2))
                .or(caps.get(4))
                .map_or("", |m| m.as_str());
            let field = caps.get(5).map(|m| m.as_str());
            let format = caps.get(3).or(caps.get(6)).map(|m| m.as_str());
            let in_context = |e: String| format!("{e} in {:?}", whole.as_str());
            let seg = match variables.iter().position(|v| v.name == name) {
                Some(index) => {
                    let format = match format {
                        None => Format::Default,
                        Some(f) => Format::parse(f)
                            .ok_or_else(|| in_context(format!("unknown variable format {f:?}")))?,
                    };
                    Some(Seg::Var {
                        index,
                        format,
                        double_backslashes,
                        in_regex_literal: grafana::is_variable_in_regex_literal(name, text),
                    })
                }
                None => match Builtin::lookup(name, field) {
                    Some(b) => Some(Seg::Builtin {
                        builtin: b,
                        format: BuiltinFormat::parse(b, format).map_err(in_context)?,
                        bare: caps.get(1).is_some(),
                        raw: whole.as_str().to_string(),
                    }),
                    None => {
                        // `$__timeFilter` too: Grafana's InfluxDB data source
                        // has no such macro (query.go replaces `$timeFilter`).
                        if name.starts_with("__")
                            && !self.unknown.iter().any(|u| u == whole.as_str())
                        {
                            self.unknown.push(whole.as_str().to_string());
                        }
                        None
                    }
                },
            };
            if let Some(seg) = seg {
                self.lit(&text[last..whole.start()], double_backslashes);
                self.segs.push(seg);
                last = whole.end();
            }
        }
        self.lit(&text[last..], double_backslashes);
        Ok(())
    }

    fn lit(&mut self, s: &str, double_backslashes: bool) {
        if s.is_empty() {
            return;
        }
        let s = if double_backslashes {
            s.replace('\\', "\\\\")
        } else {
            s.to_string()
        };
        match self.segs.last_mut() {
            Some(Seg::Lit(prev)) => prev.push_str(&s),
            _ => self.segs.push(Seg::Lit(s)),
        }
    }

    /// The dashboard variables referenced, by index (with repeats).
    pub fn variables(&self) -> impl Iterator<Item = usize> + '_ {
        self.segs.iter().filter_map(|s| match s {
            Seg::Var { index, .. } => Some(*index),
            _ => None,
        })
    }

    /// References to `__…` variables Grafana does not define (sent as written).
    pub fn unknown_globals(&self) -> &[String] {
        &self.unknown
    }

    /// Whether expansion depends on selections or the range.
    pub fn is_constant(&self) -> bool {
        self.segs.iter().all(|s| matches!(s, Seg::Lit(_)))
    }

    /// The text when it is constant.
    pub fn as_constant(&self) -> Option<&str> {
        match self.segs.as_slice() {
            [] => Some(""),
            [Seg::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// Expand into `out`.
    pub fn render_into(&self, scope: &Scope<'_>, out: &mut String) {
        for seg in &self.segs {
            match seg {
                Seg::Lit(s) => out.push_str(s),
                Seg::Var {
                    index,
                    format,
                    double_backslashes,
                    in_regex_literal,
                } => {
                    let (Some(var), Some(sel)) =
                        (scope.variables.get(*index), scope.selections.0.get(*index))
                    else {
                        continue;
                    };
                    let ctx = ValueContext {
                        path: scope.grafana.influxql_path(),
                        in_regex_literal: *in_regex_literal,
                        scalar: scope.scoped.iter().any(|(i, _)| i == index),
                    };
                    if *double_backslashes {
                        let mut tmp = String::new();
                        var.write_value(sel, *format, ctx, &mut tmp);
                        out.push_str(&tmp.replace('\\', "\\\\"));
                    } else {
                        var.write_value(sel, *format, ctx, out);
                    }
                }
                Seg::Builtin {
                    builtin,
                    format,
                    bare,
                    raw,
                } => write_builtin(*builtin, format, *bare, raw, scope, out),
            }
        }
    }

    /// Expand into a new string.
    pub fn render(&self, scope: &Scope<'_>) -> String {
        let mut out = String::with_capacity(self.len_hint());
        self.render_into(scope, &mut out);
        out
    }

    fn len_hint(&self) -> usize {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Lit(s) => s.len(),
                _ => 16,
            })
            .sum()
    }
}

/// Write a built-in's value (see [`Builtin`] and the module docs).
fn write_builtin(
    b: Builtin,
    f: &BuiltinFormat,
    bare: bool,
    raw: &str,
    scope: &Scope<'_>,
    out: &mut String,
) {
    if scope.grafana.influxql_path() == InfluxQlPath::Backend {
        let left = match b {
            // The backend's own macros, left in for it.
            Builtin::TimeFilter | Builtin::IntervalAlias if bare => Some(raw),
            // Not a variable the browser knows: sent as written.
            Builtin::TimeFilter | Builtin::IntervalAlias => {
                out.push_str(raw);
                return;
            }
            // `applyTemplateVariables`: these stand for the backend's macros.
            Builtin::Interval => Some("$__interval"),
            Builtin::IntervalMs => Some("$__interval_ms"),
            _ => None,
        };
        if let Some(text) = left {
            match f {
                BuiltinFormat::Value(fmt) => write_scalar(text, *fmt, out),
                _ => out.push_str(text),
            }
            return;
        }
    }
    // `Math.round(ms / 1000)`, as Grafana's `getRangeScopedVars`.
    let range_s = ((scope.to_ms - scope.from_ms) as f64 / 1000.0).round() as i64;
    let time_ms = match b {
        Builtin::To => scope.to_ms,
        _ => scope.from_ms,
    };
    let value = match (b, f) {
        (_, BuiltinFormat::DateIso) => chrono::DateTime::from_timestamp_millis(time_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        (_, BuiltinFormat::DateSeconds) => ((time_ms as f64 / 1000.0).round() as i64).to_string(),
        (_, BuiltinFormat::DateMs) => time_ms.to_string(),
        (_, BuiltinFormat::DatePattern(p)) => super::globals::moment_format(time_ms, p),
        (Builtin::TimeFilter, _) => {
            grafana::browser_time_filter(scope.raw_range, scope.from_ms, scope.to_ms)
        }
        (Builtin::Interval | Builtin::IntervalAlias, _) => {
            macros::format_interval(scope.interval_ms)
        }
        (Builtin::IntervalMs, _) => scope.interval_ms.to_string(),
        (Builtin::From | Builtin::To, _) => time_ms.to_string(),
        (Builtin::Range, _) => format!("{range_s}s"),
        (Builtin::RangeS, _) => range_s.to_string(),
        (Builtin::RangeMs, _) => (scope.to_ms - scope.from_ms).to_string(),
        (Builtin::DashboardName, _) => scope.dashboard_title.to_string(),
        (Builtin::DashboardUid, _) => scope.dashboard_uid.to_string(),
        (Builtin::UserLogin, _) => scope.globals.user_login.clone(),
        (Builtin::UserId, _) => scope.globals.user_id.to_string(),
        (Builtin::UserEmail, _) => scope.globals.user_email.clone(),
        (Builtin::OrgId, _) => scope.globals.org_id.to_string(),
        (Builtin::OrgName, _) => scope.globals.org_name.clone(),
        (Builtin::Timezone, _) => scope.globals.timezone.clone(),
    };
    match f {
        BuiltinFormat::Value(fmt) => write_scalar(&value, *fmt, out),
        _ => out.push_str(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::super::variables::{Refresh, Selection, VarOption, VariableKind};
    use super::*;

    fn var(name: &str, multi: bool, values: &[&str]) -> Variable {
        Variable {
            name: name.into(),
            kind: VariableKind::Custom,
            query: String::new(),
            datasource: None,
            refresh: Refresh::Never,
            multi,
            include_all: multi,
            all_value: Some(".*".into()),
            options: values
                .iter()
                .map(|s| VarOption {
                    text: s.to_string(),
                    value: s.to_string(),
                })
                .collect(),
            current: Selection::Values(values.iter().map(|s| s.to_string()).collect()),
            extra: Default::default(),
        }
    }

    fn expand(text: &str, vars: &[Variable]) -> String {
        expand_as(text, vars, GrafanaVersion::NEWEST, None)
    }

    fn expand_as(
        text: &str,
        vars: &[Variable],
        grafana: GrafanaVersion,
        raw_range: Option<(&str, &str)>,
    ) -> String {
        let sel = Selections::saved(vars);
        let scope = Scope {
            variables: vars,
            selections: &sel,
            from_ms: 1_000,
            to_ms: 3_601_000,
            interval_ms: 600_000,
            dashboard_uid: "toggl-main",
            dashboard_title: "Toggl time",
            grafana,
            raw_range,
            scoped: &[],
            globals: &Default::default(),
        };
        Template::compile(text, vars).unwrap().render(&scope)
    }

    const V10_2: GrafanaVersion = GrafanaVersion {
        major: 10,
        minor: 2,
    };

    #[test]
    fn every_syntax_is_interpolated() {
        let vars = [
            var("client", false, &["Acme"]),
            var("project", true, &["a.b", "c"]),
        ];
        let cases = [
            ("$client", "Acme"),
            ("${client}", "Acme"),
            ("[[client]]", "Acme"),
            ("$project", r"(a\.b|c)"),
            ("${project:regex}", r"(a\.b|c)"),
            ("${project:csv}", "a.b,c"),
            ("${project:pipe}", "a.b|c"),
            ("${project:raw}", "a.b,c"),
            ("[[project:csv]]", "a.b,c"),
            ("${project.text}", r"(a\.b|c)"),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text, &vars), want, "{text}");
        }
    }

    /// Issue 23: a repeat over mount points sent `/^/boot$/`, which influxd
    /// refuses; from 10.3 a single value inside a regex literal is escaped,
    /// and the same value in a string is not.
    #[test]
    fn single_values_are_escaped_inside_regex_literals_only() {
        let vars = [
            var("mount", false, &["/boot"]),
            var("host", false, &["fw1.example"]),
        ];
        let q = r#"SELECT * FROM "disk" WHERE "path" =~ /^$mount$/ AND "host" = '$host'"#;
        assert_eq!(
            expand(q, &vars),
            r#"SELECT * FROM "disk" WHERE "path" =~ /^\/boot$/ AND "host" = 'fw1.example'"#
        );
        assert_eq!(
            expand(r#""host" =~ /^${host}$/"#, &vars),
            r#""host" =~ /^fw1\.example$/"#
        );
        // `[[host]]` is not a form `isVariableInRegexLiteral` looks for.
        assert_eq!(
            expand(r#""host" =~ /^[[host]]$/"#, &vars),
            r#""host" =~ /^fw1.example$/"#
        );
        // Before 10.3 the browser wrote single values as they are.
        assert_eq!(
            expand_as(q, &vars, V10_2, None),
            r#"SELECT * FROM "disk" WHERE "path" =~ /^/boot$/ AND "host" = 'fw1.example'"#
        );
    }

    /// Flux goes through `templateSrv.replace` without the InfluxQL format
    /// function: the template service's `glob` default.
    #[test]
    fn flux_references_use_the_template_services_glob_default() {
        let vars = [
            var("host", true, &["a.b", "c"]),
            var("one", false, &["x.y"]),
        ];
        let sel = Selections::saved(&vars);
        let scope = Scope {
            variables: &vars,
            selections: &sel,
            from_ms: 0,
            to_ms: 1,
            interval_ms: 1,
            dashboard_uid: "",
            dashboard_title: "",
            grafana: GrafanaVersion::NEWEST,
            raw_range: None,
            scoped: &[],
            globals: &Default::default(),
        };
        let t = Template::compile(
            r#"r.host =~ /^${host}$/ and r.one == "$one" ${host:pipe}"#,
            &vars,
        )
        .unwrap()
        .with_default_format(Format::Glob);
        assert_eq!(
            t.render(&scope),
            r#"r.host =~ /^{a.b,c}$/ and r.one == "x.y" a.b|c"#
        );
    }

    #[test]
    fn longest_name_wins_and_unknown_names_stay() {
        let vars = [
            var("project", false, &["p"]),
            var("projects", false, &["ps"]),
        ];
        assert_eq!(expand("$projects $project", &vars), "ps p");
        assert_eq!(expand("$project_id $nope", &vars), "$project_id $nope");
    }

    #[test]
    fn backend_macros_are_left_for_the_backend() {
        let vars = [var("interval_x", false, &["1m"])];
        let q =
            "WHERE $timeFilter GROUP BY time($__interval) $__interval_ms $interval $__timeFilter";
        assert_eq!(expand(q, &vars), q);
    }

    #[test]
    fn frontend_range_variables_are_filled_in() {
        assert_eq!(
            expand("$__from $__to $__range $__range_s ${__range_ms}", &[]),
            "1000 3601000 3600s 3600 3600000"
        );
    }

    #[test]
    fn every_builtin_expands_in_every_syntax_in_the_browser_before_10_3() {
        // Range 1 000 → 3 601 000 ms, interval 600 000 ms (see `expand`).
        let tf = "time >= 1000ms and time <= 3601000ms";
        let cases = [
            ("[[timeFilter]]", tf),
            ("$timeFilter", tf),
            ("${timeFilter}", tf),
            ("${timeFilter:raw}", tf),
            ("[[__interval]]", "10m"),
            ("$__interval", "10m"),
            ("${__interval}", "10m"),
            ("[[interval]]", "10m"),
            ("$interval", "10m"),
            ("${interval}", "10m"),
            ("${__interval:raw}", "10m"),
            ("[[__interval_ms]]", "600000"),
            ("$__interval_ms", "600000"),
            ("${__interval_ms}", "600000"),
            ("[[__from]]", "1000"),
            ("${__to}", "3601000"),
            ("${__from:date}", "1970-01-01T00:00:01.000Z"),
            ("${__to:date:iso}", "1970-01-01T01:00:01.000Z"),
            ("${__to:date:seconds}", "3601"),
            ("${__from:date:ms}", "1000"),
            ("[[__range]]", "3600s"),
            ("${__range_s}", "3600"),
            ("[[__range_ms]]", "3600000"),
            ("$__dashboard", "Toggl time"),
            ("${__dashboard}", "Toggl time"),
            ("${__dashboard.name}", "Toggl time"),
            ("${__dashboard.uid}", "toggl-main"),
            ("${__dashboard:json}", "\"Toggl time\""),
        ];
        for (text, want) in cases {
            assert_eq!(expand_as(text, &[], V10_2, None), want, "{text}");
        }
        // A relative range is written relative, as `getTimeFilter` did.
        assert_eq!(
            expand_as("$timeFilter", &[], V10_2, Some(("now-1h", "now"))),
            "time >= now() - 1h and time <= now()"
        );
    }

    #[test]
    fn from_10_3_only_the_backends_macros_are_finished() {
        let cases = [
            // Sent as written: Grafana's backend replaces none of these.
            ("[[timeFilter]]", "[[timeFilter]]"),
            ("${timeFilter}", "${timeFilter}"),
            ("[[interval]]", "[[interval]]"),
            ("${interval}", "${interval}"),
            // `applyTemplateVariables` turns these into the backend's macros.
            ("[[__interval]]", "$__interval"),
            ("${__interval:raw}", "$__interval"),
            ("[[__interval_ms]]", "$__interval_ms"),
            ("${__interval_ms}", "$__interval_ms"),
            // The template service's own still are.
            ("${__to:date:seconds}", "3601"),
            ("[[__range]]", "3600s"),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text, &[]), want, "{text}");
        }
    }

    #[test]
    fn a_raw_query_with_bracket_macros_is_sent_as_each_version_sends_it() {
        let q = "SELECT sum(\"d\") FROM \"m\" WHERE [[timeFilter]] AND $timeFilter \
                 GROUP BY time([[interval]]), time($__interval) LIMIT ${__interval_ms}";
        assert_eq!(
            expand(q, &[]),
            "SELECT sum(\"d\") FROM \"m\" WHERE [[timeFilter]] AND $timeFilter \
             GROUP BY time([[interval]]), time($__interval) LIMIT $__interval_ms"
        );
        assert_eq!(
            expand_as(q, &[], V10_2, None),
            "SELECT sum(\"d\") FROM \"m\" WHERE time >= 1000ms and time <= 3601000ms AND \
             time >= 1000ms and time <= 3601000ms GROUP BY time(10m), time(10m) LIMIT 600000"
        );
    }

    #[test]
    fn a_dashboard_variable_shadows_the_builtin_of_its_name() {
        let vars = [var("interval", false, &["1h"])];
        assert_eq!(
            expand("$interval [[interval]] ${interval}", &vars),
            "1h 1h 1h"
        );
    }

    #[test]
    fn range_seconds_round_as_grafana_does() {
        let sel = Selections(Vec::new());
        let scope = Scope {
            variables: &[],
            selections: &sel,
            from_ms: 0,
            to_ms: 1_500,
            interval_ms: 1,
            dashboard_uid: "",
            dashboard_title: "",
            grafana: GrafanaVersion::NEWEST,
            raw_range: None,
            scoped: &[],
            globals: &Default::default(),
        };
        let t = Template::compile("$__range_s ${__range} $__range_ms", &[]).unwrap();
        assert_eq!(t.render(&scope), "2 2s 1500");
    }

    /// Issue 23: `${__user.login}`, `${__org.name}`, `${__timezone}` went out
    /// verbatim and `${__from:date:YYYY-MM}` refused the whole dashboard.
    #[test]
    fn global_variables_and_date_patterns_are_written() {
        let cases = [
            ("${__user.login}", "admin"),
            ("${__user}", "1"),
            ("${__user.id}", "1"),
            ("${__user.email}", "admin@localhost"),
            ("$__org", "1"),
            ("${__org.name}", "Main Org."),
            ("${__org.name:sqlstring}", "'Main Org.'"),
            ("${__timezone}", "UTC"),
            ("${__from:date:YYYY-MM}", "1970-01"),
            ("${__to:date:YYYY-MM-DD HH:mm}", "1970-01-01 01:00"),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text, &[]), want, "{text}");
        }
        let err = Template::compile("${__interval:nope}", &[]).unwrap_err();
        assert_eq!(
            err,
            "unknown variable format \"nope\" in \"${__interval:nope}\""
        );
        // Unknown `__` names pass through, as in Grafana, and are listed for `check`.
        assert_eq!(
            expand("${__dashboard.id} $__user_x ${__rate_interval}", &[]),
            "${__dashboard.id} $__user_x ${__rate_interval}"
        );
        // `$__timeFilter` is no InfluxDB macro either: listed, sent as written.
        let t = Template::compile("${__dashboard.id} $__user_x $__timeFilter", &[]).unwrap();
        assert_eq!(
            t.unknown_globals(),
            ["${__dashboard.id}", "$__user_x", "$__timeFilter"]
        );
    }

    #[test]
    fn unknown_formats_are_errors() {
        let vars = [var("client", false, &["Acme"])];
        let err = Template::compile("${client:nope}", &vars).unwrap_err();
        assert_eq!(
            err,
            "unknown variable format \"nope\" in \"${client:nope}\""
        );
    }

    #[test]
    fn constant_templates_are_recognised() {
        let vars = [var("client", false, &["Acme"])];
        let t = Template::compile("SELECT 1 FROM m", &vars).unwrap();
        assert_eq!(t.as_constant(), Some("SELECT 1 FROM m"));
        assert!(!Template::compile("$client", &vars).unwrap().is_constant());
    }
}
