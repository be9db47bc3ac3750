//! Dashboard template variables (`templating.list`) and how their values are
//! written into a query: the part of Grafana's frontend that runs *before*
//! `/api/ds/query` (DOMAIN.md §1.7).
//!
//! This module owns the variable model, what a user selected ([`Selection`],
//! [`Selections`]), and the value formats (`${var:csv}`, `${var:regex}`, …,
//! and the InfluxDB data source's default). Finding the variable references in a
//! query is [`super::template`]'s job; this one only turns a selection into text.
//!
//! The default format (no `:format`) is the InfluxDB data source's, and it
//! depends on the Grafana version emulated ([`super::grafana`]): before 10.3
//! `InfluxQueryModel.interpolateQueryStr` (`influx_query_model.ts`) escapes
//! the values of a multi-value or include-all variable with `escapeRegex` and
//! joins several as `(a|b)`, and writes any other value as it is; from 10.3
//! `interpolateQueryExpr` (`datasource.ts`) escapes a multi-value variable's
//! values the same way, a single value only inside a regex literal
//! (`isVariableInRegexLiteral`), and a value JavaScript reads as a number never.

use serde_json::Value;

use super::grafana::{escape_regex, js_parses_as_float, InfluxQlPath};
use super::DatasourceRef;

/// Where a value is written, for the default format (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueContext {
    /// Where the emulated Grafana finishes InfluxQL.
    pub path: InfluxQlPath,
    /// The variable is referenced inside a regex literal of the text it is in.
    pub in_regex_literal: bool,
    /// The value is one string, as a repeated copy's scoped value is (a
    /// multi-value variable's selection is otherwise an array).
    pub scalar: bool,
}

impl ValueContext {
    /// Outside any query text (built-ins, `write_scalar`).
    pub const PLAIN: ValueContext = ValueContext {
        path: InfluxQlPath::Backend,
        in_regex_literal: false,
        scalar: true,
    };
}

/// The kinds of variable Grafana knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableKind {
    /// Values come from a data-source query (`SHOW TAG VALUES …`).
    Query,
    /// A fixed, comma-separated list.
    Custom,
    /// A list of intervals (`1m,10m,1h`).
    Interval,
    /// A hidden fixed value.
    Constant,
    /// A data-source picker.
    Datasource,
    /// Free text.
    Textbox,
    /// Ad-hoc filters (not interpolated by name).
    Adhoc,
    /// Any other type, kept by name.
    Other(String),
}

/// When a query variable re-runs its query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// `0`: never (the saved options are used).
    Never,
    /// `1`: on dashboard load.
    OnLoad,
    /// `2`: on dashboard load and on every time-range change.
    OnTimeChange,
}

/// One option of a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarOption {
    /// Display text.
    pub text: String,
    /// Value written into queries.
    pub value: String,
}

/// What is selected for a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// These values (one for a single-value variable).
    Values(Vec<String>),
    /// "All" (`$__all`).
    All,
}

/// One dashboard variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Name, as referenced by `$name`.
    pub name: String,
    /// Kind.
    pub kind: VariableKind,
    /// The variable's query: InfluxQL for `query`, the list for `custom`/`interval`,
    /// the value for `constant`, the default for `textbox`.
    pub query: String,
    /// Data source a query variable asks.
    pub datasource: Option<DatasourceRef>,
    /// When the query re-runs.
    pub refresh: Refresh,
    /// Several values may be selected.
    pub multi: bool,
    /// An "All" option exists.
    pub include_all: bool,
    /// What "All" stands for, when set (often `.*`).
    pub all_value: Option<String>,
    /// Known options (saved ones for query variables, the list for custom ones).
    pub options: Vec<VarOption>,
    /// The saved selection.
    pub current: Selection,
    /// What resolution needs beyond the value model (see [`VarExtra`]).
    pub extra: VarExtra,
}

/// The parts of a variable that decide its options and selection on load
/// (`super::resolve`), not how a value is written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VarExtra {
    /// A query variable's `regex`: keeps matching values, the first group when it has one.
    pub regex: Option<String>,
    /// A query variable's `sort` (0 off, 1/2 alphabetical, 3/4 numerical,
    /// 5/6 case-insensitive; even = descending).
    pub sort: u8,
    /// An interval variable's `auto` option: (`auto_count`, `auto_min` ms).
    pub auto: Option<(u32, u64)>,
    /// An ad hoc variable's filters.
    pub filters: Vec<AdhocFilter>,
}

/// One ad hoc filter (`{key, operator, value, condition}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdhocFilter {
    /// The tag key.
    pub key: String,
    /// `=`, `!=`, `=~`, `!~`, `<`, `>`.
    pub operator: String,
    /// The value (variables in it are interpolated).
    pub value: String,
    /// `AND` / `OR` before it (`AND` when absent).
    pub condition: String,
}

impl Variable {
    /// Read one `templating.list` entry (already resolved data source).
    pub(super) fn from_json(
        v: &Value,
        datasource: Option<DatasourceRef>,
    ) -> std::result::Result<Variable, String> {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or("variable without a \"name\"")?
            .to_string();
        let kind = match v.get("type").and_then(Value::as_str).unwrap_or("query") {
            "query" => VariableKind::Query,
            "custom" => VariableKind::Custom,
            "interval" => VariableKind::Interval,
            "constant" => VariableKind::Constant,
            "datasource" => VariableKind::Datasource,
            "textbox" => VariableKind::Textbox,
            "adhoc" => VariableKind::Adhoc,
            other => VariableKind::Other(other.to_string()),
        };
        // `query` is a string, or `{query: "...", refId}` in newer exports.
        let query = match v.get("query") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        };
        let refresh = match v.get("refresh").and_then(Value::as_u64).unwrap_or(0) {
            0 => Refresh::Never,
            1 => Refresh::OnLoad,
            2 => Refresh::OnTimeChange,
            n => return Err(format!("variable {name}: refresh {n} (expected 0, 1 or 2)")),
        };
        let flag = |key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
        let all_value = v
            .get("allValue")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let mut options: Vec<VarOption> = v
            .get("options")
            .and_then(Value::as_array)
            .map(|opts| opts.iter().filter_map(option_from_json).collect())
            .unwrap_or_default();
        options.retain(|o| o.value != "$__all");
        if options.is_empty() && matches!(kind, VariableKind::Custom | VariableKind::Interval) {
            options = split_custom(&query)
                .into_iter()
                .filter(|s| !(kind == VariableKind::Interval && s == "auto"))
                .map(|s| VarOption {
                    text: s.clone(),
                    value: s,
                })
                .collect();
        }
        let current = match v.get("current").and_then(|c| c.get("value")) {
            Some(value) => selection_from_json(value),
            None => None,
        };
        let current = current.unwrap_or_else(|| match kind {
            VariableKind::Constant | VariableKind::Textbox => {
                Selection::Values(vec![query.clone()])
            }
            _ => match options.first() {
                Some(o) => Selection::Values(vec![o.value.clone()]),
                None if flag("includeAll") => Selection::All,
                None => Selection::Values(Vec::new()),
            },
        });
        let current = match (&kind, current) {
            // A constant is always its query.
            (VariableKind::Constant, _) => Selection::Values(vec![query.clone()]),
            (_, c) => c,
        };
        let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or("");
        let extra = VarExtra {
            regex: Some(text("regex").to_string()).filter(|r| !r.is_empty()),
            sort: v.get("sort").and_then(Value::as_u64).unwrap_or(0).min(8) as u8,
            auto: (kind == VariableKind::Interval && flag("auto")).then(|| {
                let count = v.get("auto_count").and_then(Value::as_u64).unwrap_or(30);
                let min = super::parse_interval(text("auto_min")).unwrap_or(10_000);
                (count.clamp(1, 100_000) as u32, min)
            }),
            filters: v
                .get("filters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| {
                    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
                    Some(AdhocFilter {
                        key: s("key").filter(|k| !k.is_empty())?,
                        operator: s("operator").unwrap_or_else(|| "=".into()),
                        value: s("value").unwrap_or_default(),
                        condition: s("condition")
                            .filter(|c| !c.is_empty())
                            .unwrap_or_else(|| "AND".into()),
                    })
                })
                .collect(),
        };
        Ok(Variable {
            name,
            kind,
            query,
            datasource,
            refresh,
            multi: flag("multi"),
            include_all: flag("includeAll"),
            all_value,
            options,
            current,
            extra,
        })
    }

    /// The values a selection stands for, and whether it is "All" (used by the
    /// formats: a custom `allValue` is written verbatim).
    fn values<'a>(&'a self, sel: &'a Selection) -> Vec<&'a str> {
        match sel {
            Selection::Values(v) => v.iter().map(String::as_str).collect(),
            Selection::All => self.options.iter().map(|o| o.value.as_str()).collect(),
        }
    }

    /// Write `sel` into `out` in format `fmt`, as Grafana's template service does.
    pub fn write_value(&self, sel: &Selection, fmt: Format, ctx: ValueContext, out: &mut String) {
        let is_all = *sel == Selection::All;
        if is_all {
            if let Some(all) = &self.all_value {
                if !matches!(fmt, Format::Text | Format::QueryParam) {
                    out.push_str(all);
                    return;
                }
            }
            if fmt == Format::Text {
                out.push_str("All");
                return;
            }
        }
        let values = self.values(sel);
        let multi = self.multi || self.include_all;
        match fmt {
            Format::Default => {
                // A multi-value variable's selection (and "All") is an array; a
                // single-value variable's, or a repeated copy's, one string.
                let scalar = values.len() == 1 && (ctx.scalar || !self.multi && !is_all);
                write_default(out, &values, scalar, self.multi, self.include_all, ctx)
            }
            Format::Raw | Format::Csv => join(out, &values, ",", push_plain),
            Format::Pipe => join(out, &values, "|", push_plain),
            Format::Regex if values.len() == 1 => join(out, &values, "", escape_regex),
            Format::Regex => {
                out.push('(');
                join(out, &values, "|", escape_regex);
                out.push(')');
            }
            Format::Glob if values.len() == 1 => join(out, &values, "", push_plain),
            Format::Glob => {
                out.push('{');
                join(out, &values, ",", push_plain);
                out.push('}');
            }
            Format::Json if values.len() == 1 && !multi => {
                out.push_str(&serde_json::to_string(values[0]).unwrap_or_default())
            }
            Format::Json => out.push_str(&serde_json::to_string(&values).unwrap_or_default()),
            Format::DoubleQuote => join(out, &values, ",", |o, v| {
                o.push('"');
                o.push_str(&v.replace('"', "\\\""));
                o.push('"');
            }),
            Format::SingleQuote => join(out, &values, ",", |o, v| {
                o.push('\'');
                o.push_str(&v.replace('\'', "\\'"));
                o.push('\'');
            }),
            Format::SqlString => join(out, &values, ",", |o, v| {
                o.push('\'');
                o.push_str(&v.replace('\'', "''"));
                o.push('\'');
            }),
            Format::Text => {
                let texts: Vec<&str> = values
                    .iter()
                    .map(|v| {
                        let opt = self.options.iter().find(|o| o.value == *v);
                        opt.map_or(*v, |o| o.text.as_str())
                    })
                    .collect();
                join(out, &texts, " + ", push_plain)
            }
            Format::PercentEncode if values.len() == 1 => join(out, &values, "", percent_encode),
            Format::PercentEncode => percent_encode(out, &format!("{{{}}}", values.join(","))),
            Format::QueryParam => {
                let values: Vec<&str> = if is_all { vec!["$__all"] } else { values };
                join(out, &values, "&", |o, v| {
                    o.push_str("var-");
                    percent_encode(o, &self.name);
                    o.push('=');
                    percent_encode(o, v);
                })
            }
        }
    }
}

/// Write one plain value (a built-in's) in `fmt`; the default format writes it
/// as is, since Grafana's scoped variables are not escaped by the data source.
pub fn write_scalar(value: &str, fmt: Format, out: &mut String) {
    if fmt == Format::Default {
        out.push_str(value);
        return;
    }
    let v = Variable {
        name: String::new(),
        kind: VariableKind::Constant,
        query: value.to_string(),
        datasource: None,
        refresh: Refresh::Never,
        multi: false,
        include_all: false,
        all_value: None,
        options: Vec::new(),
        current: Selection::Values(vec![value.to_string()]),
        extra: VarExtra::default(),
    };
    v.write_value(&v.current, fmt, ValueContext::PLAIN, out);
}

/// The value formats of `${var:format}` (Grafana's `FormatRegistryID`), plus the
/// InfluxDB data source's own default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// No format given: the data source's `interpolateQueryExpr`.
    Default,
    /// `raw`: values as they are, comma-joined.
    Raw,
    /// `regex`: regex-escaped, `(a|b)` for several.
    Regex,
    /// `pipe`: `a|b`.
    Pipe,
    /// `csv`: `a,b`.
    Csv,
    /// `glob`: `{a,b}`.
    Glob,
    /// `json`: `["a","b"]`.
    Json,
    /// `doublequote`: `"a","b"`.
    DoubleQuote,
    /// `singlequote`: `'a','b'`.
    SingleQuote,
    /// `sqlstring`: `'a','b'` with `'` doubled.
    SqlString,
    /// `text`: the options' display text, `a + b`.
    Text,
    /// `percentencode`.
    PercentEncode,
    /// `queryparam`: `var-name=a&var-name=b`.
    QueryParam,
}

impl Format {
    /// Parse a format id (`csv`, `regex`, …).
    pub fn parse(id: &str) -> Option<Format> {
        Some(match id {
            "raw" => Format::Raw,
            "regex" => Format::Regex,
            "pipe" => Format::Pipe,
            "csv" => Format::Csv,
            "glob" => Format::Glob,
            "json" => Format::Json,
            "doublequote" => Format::DoubleQuote,
            "singlequote" => Format::SingleQuote,
            "sqlstring" => Format::SqlString,
            "text" => Format::Text,
            "percentencode" => Format::PercentEncode,
            "queryparam" => Format::QueryParam,
            _ => return None,
        })
    }
}

/// The selection of every variable of a dashboard, in `Dashboard::variables` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selections(pub Vec<Selection>);

impl Selections {
    /// The saved (`current`) selections of `variables`.
    pub fn saved(variables: &[Variable]) -> Selections {
        Selections(variables.iter().map(|v| v.current.clone()).collect())
    }

    /// Select `selection` for the variable called `name`.
    pub fn set(
        &mut self,
        variables: &[Variable],
        name: &str,
        selection: Selection,
    ) -> crate::Result<()> {
        let i = variables
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| crate::Error::config("variables", format!("no variable {name:?}")))?;
        if let Some(slot) = self.0.get_mut(i) {
            *slot = selection;
        }
        Ok(())
    }
}

fn option_from_json(o: &Value) -> Option<VarOption> {
    let value = scalar_text(o.get("value")?)?;
    let text = o.get("text").and_then(scalar_text).unwrap_or(value.clone());
    Some(VarOption { text, value })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn selection_from_json(v: &Value) -> Option<Selection> {
    let values: Vec<String> = match v {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => vec![scalar_text(other)?],
    };
    if values.iter().any(|v| v == "$__all") {
        Some(Selection::All)
    } else {
        Some(Selection::Values(values))
    }
}

/// Split a custom variable's query: commas separate, `\,` is a literal comma.
pub(super) fn split_custom(query: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn join(out: &mut String, values: &[&str], sep: &str, mut each: impl FnMut(&mut String, &str)) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        each(out, v);
    }
}

fn push_plain(out: &mut String, v: &str) {
    out.push_str(v);
}

/// The data source's default format for `values` (see the module docs).
fn write_default(
    out: &mut String,
    values: &[&str],
    scalar: bool,
    multi: bool,
    include_all: bool,
    ctx: ValueContext,
) {
    let escaped = |out: &mut String| {
        if scalar {
            join(out, values, "", escape_regex)
        } else {
            out.push('(');
            join(out, values, "|", escape_regex);
            out.push(')');
        }
    };
    match ctx.path {
        // `InfluxQueryModel.interpolateQueryStr`.
        InfluxQlPath::Browser if multi || include_all => escaped(out),
        // An array that reaches no format function is written as JavaScript's
        // `Array.toString` does: comma-joined.
        InfluxQlPath::Browser => join(out, values, ",", push_plain),
        // `interpolateQueryExpr`: numbers first, then multi, then regex literals.
        InfluxQlPath::Backend if scalar && js_parses_as_float(values[0]) => out.push_str(values[0]),
        InfluxQlPath::Backend if multi || ctx.in_regex_literal => escaped(out),
        InfluxQlPath::Backend => join(out, values, ",", push_plain),
    }
}

/// `encodeURIComponent` plus `!'()*` (Grafana's `encodeURIComponentStrict`).
fn percent_encode(out: &mut String, v: &str) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(multi: bool, include_all: bool, all_value: Option<&str>) -> Variable {
        Variable {
            name: "project".into(),
            kind: VariableKind::Custom,
            query: String::new(),
            datasource: None,
            refresh: Refresh::Never,
            multi,
            include_all,
            all_value: all_value.map(str::to_string),
            options: ["Web.site", "Ops|Infra", "O'Neil"]
                .iter()
                .map(|s| VarOption {
                    text: format!("T {s}"),
                    value: s.to_string(),
                })
                .collect(),
            current: Selection::All,
            extra: VarExtra::default(),
        }
    }

    fn write(v: &Variable, sel: &Selection, fmt: Format) -> String {
        write_in(v, sel, fmt, InfluxQlPath::Backend, false)
    }

    fn write_in(
        v: &Variable,
        sel: &Selection,
        fmt: Format,
        path: InfluxQlPath,
        in_regex_literal: bool,
    ) -> String {
        let ctx = ValueContext {
            path,
            in_regex_literal,
            scalar: false,
        };
        let mut out = String::new();
        v.write_value(sel, fmt, ctx, &mut out);
        out
    }

    fn values(v: &[&str]) -> Selection {
        Selection::Values(v.iter().map(|s| s.to_string()).collect())
    }

    /// The cases of Grafana's `datasource.test.ts` `describe('interpolateQueryExpr')`
    /// (10.3 and later) that agree with `regexLiterals.ts` (the newest rule).
    #[test]
    fn backend_default_format_follows_grafanas_interpolate_query_expr_tests() {
        let single = var(false, false, None);
        let special = values(&["/special/path"]);
        let b = InfluxQlPath::Backend;
        // Outside a regex literal: as it is.
        assert_eq!(
            write_in(&single, &special, Format::Default, b, false),
            "/special/path"
        );
        // Inside one (`=~ /$tempVar/`, `!~ /^$tempVar$/`): escaped.
        assert_eq!(
            write_in(&single, &special, Format::Default, b, true),
            r"\/special\/path"
        );
        // A number never.
        assert_eq!(
            write_in(&single, &values(&["12.2"]), Format::Default, b, true),
            "12.2"
        );
        assert_eq!(
            write_in(&single, &values(&["1.0"]), Format::Default, b, true),
            "1.0"
        );
        // Multi-value: always escaped, joined as (a|b), in a regex or not.
        let multi = var(true, false, None);
        let two = values(&["/special/path", "/some/other/path"]);
        let want = r"(\/special\/path|\/some\/other\/path)";
        assert_eq!(write_in(&multi, &two, Format::Default, b, false), want);
        // A multi-value selection is an array even with one value.
        assert_eq!(
            write_in(&multi, &values(&["a.b"]), Format::Default, b, false),
            r"(a\.b)"
        );
        // Include-all, not multi, "All" with an empty allValue, in a regex.
        let mut all = var(false, true, None);
        all.options = ["/special/path", "/some/other/path"]
            .iter()
            .map(|s| VarOption {
                text: s.to_string(),
                value: s.to_string(),
            })
            .collect();
        assert_eq!(
            write_in(&all, &Selection::All, Format::Default, b, true),
            want
        );
        // The mount point of issue 23: `/^/boot$/` was answered 400 by influxd.
        assert_eq!(
            write_in(&single, &values(&["/boot"]), Format::Default, b, true),
            r"\/boot"
        );
        assert_eq!(
            write_in(&single, &values(&["fw1.example"]), Format::Default, b, true),
            r"fw1\.example"
        );
    }

    /// Before 10.3, `InfluxQueryModel.interpolateQueryStr`: multi-value and
    /// include-all variables escaped, `(a|b)` for an array; others as written.
    #[test]
    fn browser_default_format_follows_interpolate_query_str() {
        let f = InfluxQlPath::Browser;
        let single = var(false, false, None);
        assert_eq!(
            write_in(&single, &values(&["/boot"]), Format::Default, f, true),
            "/boot"
        );
        assert_eq!(
            write_in(&single, &values(&["O'Neil"]), Format::Default, f, false),
            "O'Neil"
        );
        let multi = var(true, false, None);
        assert_eq!(
            write_in(
                &multi,
                &values(&["Web.site", "Ops|Infra"]),
                Format::Default,
                f,
                false
            ),
            r"(Web\.site|Ops\|Infra)"
        );
        let ctx = ValueContext {
            path: f,
            in_regex_literal: false,
            scalar: true,
        };
        let mut out = String::new();
        multi.write_value(&values(&["a.b"]), Format::Default, ctx, &mut out);
        assert_eq!(out, r"a\.b", "a repeated copy's value is one string");
        assert_eq!(
            write_in(
                &var(false, true, None),
                &Selection::All,
                Format::Default,
                f,
                false
            ),
            r"(Web\.site|Ops\|Infra|O'Neil)"
        );
    }

    #[test]
    fn all_uses_all_value_verbatim_or_every_option() {
        assert_eq!(
            write(
                &var(true, true, Some(".*")),
                &Selection::All,
                Format::Default
            ),
            ".*"
        );
        assert_eq!(
            write(&var(true, true, Some(".*")), &Selection::All, Format::Csv),
            ".*"
        );
        assert_eq!(
            write(&var(true, true, None), &Selection::All, Format::Default),
            r"(Web\.site|Ops\|Infra|O'Neil)"
        );
        assert_eq!(
            write(&var(true, true, Some(".*")), &Selection::All, Format::Text),
            "All"
        );
    }

    #[test]
    fn named_formats_render_as_grafana_does() {
        let v = var(true, true, None);
        let two = values(&["Web.site", "Ops|Infra"]);
        let cases = [
            (Format::Raw, "Web.site,Ops|Infra"),
            (Format::Csv, "Web.site,Ops|Infra"),
            (Format::Pipe, "Web.site|Ops|Infra"),
            (Format::Regex, "(Web\\.site|Ops\\|Infra)"),
            (Format::Glob, "{Web.site,Ops|Infra}"),
            (Format::Json, "[\"Web.site\",\"Ops|Infra\"]"),
            (Format::DoubleQuote, "\"Web.site\",\"Ops|Infra\""),
            (Format::SingleQuote, "'Web.site','Ops|Infra'"),
            (Format::Text, "T Web.site + T Ops|Infra"),
            (Format::PercentEncode, "%7BWeb.site%2COps%7CInfra%7D"),
            (
                Format::QueryParam,
                "var-project=Web.site&var-project=Ops%7CInfra",
            ),
        ];
        for (fmt, want) in cases {
            assert_eq!(write(&v, &two, fmt), want, "{fmt:?}");
        }
        assert_eq!(
            write(&v, &values(&["Web.site"]), Format::Regex),
            "Web\\.site"
        );
        assert_eq!(
            write(&v, &values(&["O'Neil"]), Format::SqlString),
            "'O''Neil'"
        );
    }

    #[test]
    fn custom_queries_split_on_unescaped_commas() {
        assert_eq!(split_custom("a, b\\,c ,d"), vec!["a", "b,c", "d"]);
    }

    #[test]
    fn variables_read_from_json() {
        let j = serde_json::json!({"name":"env","type":"custom","query":"dev,prod",
            "multi":true,"includeAll":true,"allValue":"","current":{"text":"All","value":"$__all"}});
        let v = Variable::from_json(&j, None).unwrap();
        assert_eq!(v.options.len(), 2);
        assert_eq!(v.current, Selection::All);
        assert_eq!(v.all_value, None);
        let j = serde_json::json!({"name":"c","type":"constant","query":"42"});
        assert_eq!(
            Variable::from_json(&j, None).unwrap().current,
            values(&["42"])
        );
        let j = serde_json::json!({"name":"x","refresh":7});
        assert!(Variable::from_json(&j, None)
            .unwrap_err()
            .contains("refresh 7"));
    }

    mod proptests {
        use super::*;
        use crate::workload::dashboard::grafana::InfluxQlPath;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::proptest_support::config(64))]

            /// The regex-escaping formats (the InfluxDB default for multi-value
            /// variables, `regex`) make a pattern matching exactly the values
            /// chosen, whatever characters they hold.
            #[test]
            fn prop_regex_formats_match_exactly_the_values(
                values in proptest::collection::vec("[a-z.|()\\[\\]{}*+?^$\\\\/' -]{1,8}", 1..4),
                other in "[a-z.|()*+?^$ -]{1,8}",
            ) {
                let mut v = var(true, true, None);
                v.options = values.iter().map(|s| VarOption { text: s.clone(), value: s.clone() }).collect();
                let sel = Selection::Values(values.clone());
                let cases = [
                    (Format::Default, InfluxQlPath::Backend),
                    (Format::Default, InfluxQlPath::Browser),
                    (Format::Regex, InfluxQlPath::Backend),
                ];
                for (fmt, path) in cases {
                    let pattern = write_in(&v, &sel, fmt, path, true);
                    let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
                    for x in &values {
                        prop_assert!(re.is_match(x), "{:?} {} does not match {:?}", fmt, pattern, x);
                    }
                    if !values.contains(&other) {
                        prop_assert!(!re.is_match(&other), "{:?} {} matches {:?}", fmt, pattern, other);
                    }
                }
            }
        }
    }
}
