//! Query text split once into literal and variable segments, so that expanding
//! a query per request is concatenation (no scanning, no regex).
//!
//! Grafana's template service finds references with one regex: `$name`,
//! `[[name]]`, `[[name:format]]`, `${name}`, `${name:format}` (and ignores a
//! `.fieldPath`). A name is a greedy run of word characters looked up exactly, so
//! `$project` never matches inside `$projects`. Names that are not dashboard
//! variables stay as written: the backend macros (`$timeFilter`, `$__interval`,
//! `$__interval_ms`, `$interval`) are left for [`crate::workload::macros`], and
//! unknown names pass through as Grafana passes them. The frontend's own range
//! variables (`$__from`, `$__to`, `$__range`, `$__range_s`, `$__range_ms`) are
//! filled in here, since the browser does that.

use std::sync::OnceLock;

use regex::Regex;

use super::variables::{Format, Selections, Variable};

/// Range variables the frontend fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeVar {
    From,
    To,
    Range,
    RangeS,
    RangeMs,
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
    },
    Range(RangeVar),
}

/// A compiled query text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    segs: Vec<Seg>,
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
}

fn reference_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+?)(?::([A-Za-z0-9_]+))?\]\]|\$\{([A-Za-z0-9_]+)(?:\.[^:^\}]+)?(?::([^\}]+))?\}",
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
            let format = caps.get(3).or(caps.get(5)).map(|m| m.as_str());
            let seg = match variables.iter().position(|v| v.name == name) {
                Some(index) => {
                    let format = match format {
                        None => Format::Default,
                        Some(f) => Format::parse(f).ok_or_else(|| {
                            format!("unknown variable format {f:?} in {:?}", whole.as_str())
                        })?,
                    };
                    Some(Seg::Var {
                        index,
                        format,
                        double_backslashes,
                    })
                }
                None if format.is_none() => match name {
                    "__from" => Some(Seg::Range(RangeVar::From)),
                    "__to" => Some(Seg::Range(RangeVar::To)),
                    "__range" => Some(Seg::Range(RangeVar::Range)),
                    "__range_s" => Some(Seg::Range(RangeVar::RangeS)),
                    "__range_ms" => Some(Seg::Range(RangeVar::RangeMs)),
                    _ => None,
                },
                None => None,
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
                } => {
                    let (Some(var), Some(sel)) =
                        (scope.variables.get(*index), scope.selections.0.get(*index))
                    else {
                        continue;
                    };
                    if *double_backslashes {
                        let mut tmp = String::new();
                        var.write_value(sel, *format, &mut tmp);
                        out.push_str(&tmp.replace('\\', "\\\\"));
                    } else {
                        var.write_value(sel, *format, out);
                    }
                }
                Seg::Range(r) => {
                    let span = scope.to_ms - scope.from_ms;
                    let s = match r {
                        RangeVar::From => scope.from_ms.to_string(),
                        RangeVar::To => scope.to_ms.to_string(),
                        RangeVar::Range => format!("{}s", span / 1000),
                        RangeVar::RangeS => (span / 1000).to_string(),
                        RangeVar::RangeMs => span.to_string(),
                    };
                    out.push_str(&s);
                }
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
        }
    }

    fn expand(text: &str, vars: &[Variable]) -> String {
        let sel = Selections::saved(vars);
        let scope = Scope {
            variables: vars,
            selections: &sel,
            from_ms: 1_000,
            to_ms: 3_601_000,
        };
        Template::compile(text, vars).unwrap().render(&scope)
    }

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
            ("$project", "a\\.b|c"),
            ("${project:regex}", "(a\\.b|c)"),
            ("${project:csv}", "a.b,c"),
            ("${project:pipe}", "a.b|c"),
            ("${project:raw}", "a.b,c"),
            ("[[project:csv]]", "a.b,c"),
            ("${project.text}", "a\\.b|c"),
        ];
        for (text, want) in cases {
            assert_eq!(expand(text, &vars), want, "{text}");
        }
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
        let t = Template::compile("SELECT 1 $timeFilter", &vars).unwrap();
        assert_eq!(t.as_constant(), Some("SELECT 1 $timeFilter"));
        assert!(!Template::compile("$client", &vars).unwrap().is_constant());
    }
}
