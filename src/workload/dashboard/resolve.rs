//! Variable resolution as Grafana's dashboard does it on load and on a time
//! change: which variable queries run, in what order, and what each variable
//! holds afterwards (its options and its selection).
//!
//! Matched against Grafana's own code (`public/app/features/variables/`):
//! - order: a variable waits for the variables its query or data source
//!   references (`state/actions.ts` `processVariableDependencies`), so parents
//!   are queried first and children with the parents' chosen values;
//! - which queries run: `refresh` 1 (on load) and 2 (also on a time change);
//!   0 keeps the saved options (`processVariable`);
//! - options from an answer: `regex` keeps matching values (the first group
//!   when it has one), then de-duplicated by value and sorted per `sort`; "All"
//!   first when `includeAll`; none at all gives the single `None` option whose
//!   value is empty (`query/reducer.ts` `updateVariableOptions`,
//!   `metricNamesToVariableValues`, `sortVariableValues`);
//! - selection: kept when still among the options (single value by text,
//!   several by value), otherwise the first option — "All" when `includeAll`
//!   (`state/actions.ts` `validateVariableSelectionState`);
//! - custom options re-read from the query (`custom/reducer.ts`); interval
//!   `auto` is `calculateInterval(range, auto_count, auto_min)`
//!   (`interval/actions.ts` `updateAutoValue`); constants are their query,
//!   text boxes their value.
//!
//! [`Resolution`] holds the resolved copy of the dashboard's variables (their
//! options as Grafana holds them now) and the selections; a [`View`](super::View)
//! made with [`View::resolved`](super::View::resolved) expands queries with it.

use super::jsregex::JsRegex;
use super::variables::{split_custom, Refresh, Selection, Selections, VarOption, Variable};
use super::{Dashboard, Trigger, VariableKind};
use crate::workload::macros;

/// The variables of one dashboard as a viewer's browser holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// The dashboard's variables, options replaced by the resolved ones ("All" not among them).
    pub variables: Vec<Variable>,
    /// What is selected, per variable.
    pub selections: Selections,
    /// Per variable: its options came from a query answer (not the saved ones).
    pub answered: Vec<bool>,
    /// Per variable: an interval variable on `auto` (its value follows the range).
    auto: Vec<bool>,
}

impl Resolution {
    /// The saved state: saved options and selections, not yet validated.
    pub fn saved(d: &Dashboard) -> Resolution {
        let mut variables = d.variables.clone();
        for v in &mut variables {
            if matches!(v.kind, VariableKind::Custom | VariableKind::Interval) {
                v.options = split_custom(&v.query)
                    .into_iter()
                    .filter(|s| !(v.kind == VariableKind::Interval && s == "auto"))
                    .map(|s| VarOption {
                        text: s.clone(),
                        value: s,
                    })
                    .collect();
            }
        }
        let selections = Selections::saved(&variables);
        // `auto` is the interval variable's first option: a saved value that is
        // not among the others selects it too.
        let auto = variables
            .iter()
            .zip(&selections.0)
            .map(|(v, sel)| {
                v.extra.auto.is_some()
                    && match sel {
                        Selection::Values(x) => {
                            is_auto(x, &v.name) || !v.options.iter().any(|o| x.contains(&o.value))
                        }
                        Selection::All => true,
                    }
            })
            .collect();
        Resolution {
            selections,
            answered: vec![false; variables.len()],
            variables,
            auto,
        }
    }

    /// Variable indices in the order Grafana settles them: each after the
    /// variables its query or data source references, otherwise in dashboard order.
    pub fn order(d: &Dashboard) -> Vec<usize> {
        let n = d.variables.len();
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                let mut deps: Vec<usize> = d.variable_queries[i]
                    .iter()
                    .flat_map(|t| t.variables())
                    .filter(|j| *j != i)
                    .collect();
                if let Some(ds) = &d.variables[i].datasource {
                    deps.extend(
                        d.variables
                            .iter()
                            .enumerate()
                            .filter(|(j, v)| *j != i && references(&ds.uid, &v.name))
                            .map(|(j, _)| j),
                    );
                }
                deps
            })
            .collect();
        let mut done = vec![false; n];
        let mut order = Vec::with_capacity(n);
        while order.len() < n {
            let ready = (0..n).find(|&i| !done[i] && deps[i].iter().all(|&j| done[j]));
            // A cycle: Grafana would wait forever; take the next in dashboard order.
            let i = ready.unwrap_or_else(|| (0..n).find(|&i| !done[i]).expect("one left"));
            done[i] = true;
            order.push(i);
        }
        order
    }

    /// Whether `trigger` runs variable `i`'s query.
    pub fn runs_query(&self, i: usize, trigger: Trigger) -> bool {
        let v = &self.variables[i];
        v.kind == VariableKind::Query
            && match trigger {
                Trigger::Load => v.refresh != Refresh::Never,
                Trigger::TimeChange => v.refresh == Refresh::OnTimeChange,
            }
    }

    /// Settle variable `i` without a query (saved options, custom lists,
    /// constants, text boxes): the selection is validated against its options.
    pub fn settle(&mut self, i: usize) {
        let v = &self.variables[i];
        match v.kind {
            // A data-source variable's options are the stack's data sources,
            // which the export does not hold: its value stays.
            VariableKind::Constant
            | VariableKind::Textbox
            | VariableKind::Adhoc
            | VariableKind::Datasource => {}
            VariableKind::Interval if self.auto[i] => {}
            VariableKind::Other(_) => {}
            _ => self.validate(i),
        }
    }

    /// Variable `i`'s query answered `values` (empty when it failed): its
    /// options become them, filtered and sorted as Grafana does, and the
    /// selection is validated.
    pub fn answer(&mut self, i: usize, values: &[String]) {
        let v = &mut self.variables[i];
        v.options = options_from_answer(values, v.extra.regex.as_deref(), v.extra.sort);
        self.answered[i] = true;
        self.validate(i);
    }

    /// Grafana's `validateVariableSelectionState`: keep what is still there,
    /// otherwise the first option (All when the variable has it, else the
    /// first value, else `None`, the empty value).
    pub fn validate(&mut self, i: usize) {
        let v = &self.variables[i];
        let sel = &self.selections.0[i];
        let first = || {
            if v.include_all {
                Selection::All
            } else {
                let first = v.options.first().map_or(String::new(), |o| o.value.clone());
                Selection::Values(vec![first])
            }
        };
        let next = match sel {
            Selection::All if v.include_all => Selection::All,
            Selection::All => first(),
            Selection::Values(values) if v.multi && values.len() != 1 => {
                let kept: Vec<String> = values
                    .iter()
                    .filter(|x| v.options.iter().any(|o| &o.value == *x))
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    first()
                } else {
                    Selection::Values(kept)
                }
            }
            Selection::Values(values) => {
                // One value: Grafana looks it up by text, then by value for a saved value.
                let x = values.first().map(String::as_str).unwrap_or("");
                let found = v.options.iter().find(|o| o.text == x || o.value == x);
                match found {
                    Some(o) => Selection::Values(vec![o.value.clone()]),
                    None => first(),
                }
            }
        };
        self.selections.0[i] = next;
    }

    /// Select `sel` for variable `i` (a viewer's pick): an interval variable
    /// leaves `auto` for it.
    pub fn select(&mut self, i: usize, sel: Selection) {
        self.auto[i] = false;
        self.selections.0[i] = sel;
    }

    /// Set interval variables on `auto` to the interval of the range
    /// `from_ms..to_ms` (`calculateInterval(range, auto_count, auto_min)`).
    pub fn set_range(&mut self, from_ms: i64, to_ms: i64) {
        for (i, v) in self.variables.iter().enumerate() {
            let (Some((count, min_ms)), true) = (v.extra.auto, self.auto[i]) else {
                continue;
            };
            let span = (to_ms - from_ms).max(0) as u64;
            let ms = macros::round_interval(span / u64::from(count)).max(min_ms);
            self.selections.0[i] = Selection::Values(vec![macros::format_interval(ms)]);
        }
    }

    /// Whether variable `i` stands for no value at all: an empty value, or
    /// "All" over no options without an `allValue`.
    pub fn is_empty(&self, i: usize) -> bool {
        let v = &self.variables[i];
        match &self.selections.0[i] {
            Selection::All => v.all_value.is_none() && v.options.iter().all(|o| o.value.is_empty()),
            Selection::Values(values) => values.iter().all(String::is_empty),
        }
    }

    /// The values a repeat by variable `i` makes one copy for: every option
    /// for "All", else the selected values (`getSelectedVariableOptions`).
    pub fn repeat_values(&self, i: usize) -> Vec<String> {
        match &self.selections.0[i] {
            Selection::All => self.variables[i]
                .options
                .iter()
                .map(|o| o.value.clone())
                .collect(),
            Selection::Values(v) => v.clone(),
        }
    }
}

fn is_auto(values: &[String], name: &str) -> bool {
    matches!(values, [v] if v == "auto" || v == &format!("$__auto_interval_{name}") || v == "$__auto_interval")
}

/// Whether `text` references variable `name` (`$name`, `${name…}`, `[[name…]]`).
fn references(text: &str, name: &str) -> bool {
    let at = |prefix: &str| {
        text.match_indices(prefix).any(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            rest.starts_with(name)
                && !rest[name.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    at("$") || at("${") || at("[[")
}

/// `metricNamesToVariableValues` + `sortVariableValues`: the regex as
/// JavaScript runs it ([`JsRegex`]), options de-duplicated by value.
pub fn options_from_answer(values: &[String], regex: Option<&str>, sort: u8) -> Vec<VarOption> {
    // Refused at load when JavaScript would refuse it; one written with a
    // variable and wrong once interpolated keeps every value.
    let re = regex.and_then(|r| JsRegex::parse(r).ok());
    let mut out: Vec<VarOption> = Vec::with_capacity(values.len());
    for v in values {
        let found = match &re {
            None => vec![(v.clone(), v.clone())],
            Some(re) => re.options(v),
        };
        for (text, value) in found {
            if out.iter().any(|o| o.value == value) {
                continue;
            }
            out.push(VarOption { text, value });
        }
    }
    let kind = sort.div_ceil(2);
    match kind {
        1 => out.sort_by(|a, b| a.text.cmp(&b.text)),
        2 => out.sort_by_key(|o| first_number(&o.text)),
        3 => out.sort_by_key(|o| o.text.to_lowercase()),
        _ => {}
    }
    if sort > 0 && sort.is_multiple_of(2) && kind <= 3 {
        out.reverse();
    }
    out
}

/// The first run of digits, or -1 (Grafana's numerical sort key).
fn first_number(text: &str) -> i64 {
    let digits: String = text
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn texts(o: &[VarOption]) -> Vec<&str> {
        o.iter().map(|o| o.value.as_str()).collect()
    }

    #[test]
    fn answers_are_filtered_deduplicated_and_sorted_as_grafana_does() {
        let v = strings(&["web-10", "web-9", "db-1", "web-9", "Web-2"]);
        assert_eq!(
            texts(&options_from_answer(&v, None, 0)),
            ["web-10", "web-9", "db-1", "Web-2"]
        );
        assert_eq!(
            texts(&options_from_answer(&v, Some("/web-(.*)/"), 0)),
            ["10", "9"]
        );
        assert_eq!(
            texts(&options_from_answer(&v, Some("/^web/i"), 1)),
            ["Web-2", "web-10", "web-9"]
        );
        assert_eq!(
            texts(&options_from_answer(&v, None, 3)),
            ["db-1", "Web-2", "web-9", "web-10"]
        );
        assert_eq!(
            texts(&options_from_answer(&v, None, 4)),
            ["web-10", "web-9", "Web-2", "db-1"]
        );
        assert_eq!(
            texts(&options_from_answer(&v, None, 5)),
            ["db-1", "web-10", "Web-2", "web-9"]
        );
    }

    /// Issue 23: a look-ahead was ignored (every value kept, +26 % queries on
    /// one dashboard); a regex JavaScript refuses is an error naming the variable.
    #[test]
    fn variable_regexes_run_as_javascript_and_bad_ones_are_refused_at_load() {
        let v = strings(&["eth0", "veth1", "lo", "tap0", "all"]);
        assert_eq!(
            texts(&options_from_answer(
                &v,
                Some("/^(?!.*veth|all|tap).*$/"),
                0
            )),
            ["eth0", "lo"]
        );
        let d = serde_json::json!({"title": "t", "templating": {"list": [
            query("ok", "q", serde_json::json!({"regex": "/^(?<value>[a-z]+)$/"})),
            query("iface", "q", serde_json::json!({"regex": "/^(?!veth/"})),
        ]}, "panels": []});
        let e = super::super::parse(&d.to_string(), "d.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("d.json") && e.contains("templating.list[1] (variable iface): regex \"/^(?!veth/\" is not a valid JavaScript regular expression"),
            "{e}"
        );
    }

    #[test]
    fn references_match_whole_names_only() {
        assert!(references("${ds}", "ds"));
        assert!(references("$ds", "ds"));
        assert!(references("[[ds]]", "ds"));
        assert!(!references("$dsx", "ds"));
    }

    /// A dashboard of `vars` (templating entries) and no panels.
    fn dashboard(vars: serde_json::Value) -> Dashboard {
        let d = serde_json::json!({"uid": "u", "title": "t", "templating": {"list": vars}, "panels": []});
        super::super::parse(&d.to_string(), "d.json").unwrap()
    }

    fn query(name: &str, q: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({"name": name, "type": "query", "query": q, "refresh": 1,
            "datasource": {"type": "influxdb", "uid": "x"}, "current": {}});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn parents_settle_before_the_variables_that_reference_them() {
        // Listed child first: Grafana still waits for the parents.
        let d = dashboard(serde_json::json!([
            query("cpu", "SHOW TAG VALUES WITH KEY = \"cpu\" WHERE \"host\" =~ /^$host$/", serde_json::json!({})),
            query("host", "SHOW TAG VALUES WITH KEY = \"host\" WHERE \"dc\" = '${dc}'", serde_json::json!({})),
            query("dc", "SHOW TAG VALUES WITH KEY = \"dc\"", serde_json::json!({})),
            {"name": "other", "type": "custom", "query": "a,b"},
        ]));
        assert_eq!(Resolution::order(&d), [2, 1, 0, 3]);
        // A cycle does not hang: dashboard order for what is left.
        let d = dashboard(serde_json::json!([
            query(
                "a",
                "SHOW TAG VALUES WITH KEY = \"$b\"",
                serde_json::json!({})
            ),
            query(
                "b",
                "SHOW TAG VALUES WITH KEY = \"$a\"",
                serde_json::json!({})
            ),
        ]));
        assert_eq!(Resolution::order(&d), [0, 1]);
    }

    #[test]
    fn a_value_not_among_the_options_gives_way_to_the_first_option() {
        let d = dashboard(serde_json::json!([
            query(
                "one",
                "q",
                serde_json::json!({"current": {"text": "gone", "value": "gone"}})
            ),
            query(
                "all",
                "q",
                serde_json::json!({"includeAll": true, "multi": true, "current": {"text": "", "value": ""}})
            ),
            query(
                "multi",
                "q",
                serde_json::json!({"multi": true, "current": {"value": ["b", "gone"]}})
            ),
            query("none", "q", serde_json::json!({"current": {"value": "x"}})),
            query(
                "kept",
                "q",
                serde_json::json!({"current": {"text": "b", "value": "b"}})
            ),
        ]));
        let mut r = Resolution::saved(&d);
        let ab = strings(&["a", "b"]);
        for i in 0..4 {
            assert!(r.runs_query(i, Trigger::Load));
            assert!(
                !r.runs_query(i, Trigger::TimeChange),
                "refresh 1: on load only"
            );
        }
        for i in [0, 1, 2, 4] {
            r.answer(i, &ab);
        }
        r.answer(3, &[]);
        let sel = |v: &[&str]| Selection::Values(strings(v));
        assert_eq!(r.selections.0[0], sel(&["a"]));
        assert_eq!(
            r.selections.0[1],
            Selection::All,
            "All is first when included"
        );
        assert_eq!(
            r.selections.0[2],
            sel(&["b"]),
            "several values keep those still there"
        );
        assert_eq!(
            r.selections.0[3],
            sel(&[""]),
            "no values: None, the empty value"
        );
        assert!(r.is_empty(3) && !r.is_empty(1));
        assert_eq!(r.selections.0[4], sel(&["b"]));
        assert_eq!(
            r.repeat_values(1),
            ab,
            "a repeat over All is one copy per option"
        );
    }

    #[test]
    fn custom_constant_textbox_and_auto_interval_settle_without_queries() {
        let d = dashboard(serde_json::json!([
            {"name": "c", "type": "custom", "query": "x, y\\,z", "current": {"text": "gone", "value": "gone"}},
            {"name": "k", "type": "constant", "query": "42"},
            {"name": "t", "type": "textbox", "query": "dflt", "current": {"value": "typed"}},
            {"name": "i", "type": "interval", "query": "1m,1h", "auto": true, "auto_count": 10, "auto_min": "2m",
             "current": {"text": "auto", "value": "$__auto_interval_i"}},
            {"name": "j", "type": "interval", "query": "1m,1h", "current": {"text": "1h", "value": "1h"}},
        ]));
        let mut r = Resolution::saved(&d);
        for i in Resolution::order(&d) {
            assert!(!r.runs_query(i, Trigger::Load));
            r.settle(i);
        }
        let sel = |v: &[&str]| Selection::Values(strings(v));
        assert_eq!(r.selections.0[0], sel(&["x"]));
        assert_eq!(r.variables[0].options[1].value, "y,z");
        assert_eq!(r.selections.0[1], sel(&["42"]));
        assert_eq!(r.selections.0[2], sel(&["typed"]));
        // auto: range / auto_count, rounded, at least auto_min.
        r.set_range(0, 6 * 3_600_000);
        assert_eq!(r.selections.0[3], sel(&["30m"]), "6h / 10 = 36m → 30m");
        r.set_range(0, 600_000);
        assert_eq!(r.selections.0[3], sel(&["2m"]), "auto_min");
        assert_eq!(r.selections.0[4], sel(&["1h"]), "not on auto");
        r.select(3, sel(&["1m"]));
        r.set_range(0, 6 * 3_600_000);
        assert_eq!(r.selections.0[3], sel(&["1m"]), "a pick leaves auto");
    }

    mod proptests {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::proptest_support::config(64))]

            /// Whatever was saved and whatever the query answers, the
            /// selection ends among the options (or All, or None when there
            /// are none), and settling again changes nothing.
            #[test]
            fn prop_validated_selections_are_options_and_stable(
                answer in proptest::collection::vec("[a-c]{0,2}", 0..6),
                saved in proptest::collection::vec("[a-c]{0,2}", 0..3),
                multi in any::<bool>(),
                include_all in any::<bool>(),
                sort in 0u8..7,
            ) {
                let d = dashboard(serde_json::json!([query("v", "q", serde_json::json!({
                    "multi": multi, "includeAll": include_all, "sort": sort,
                    "current": {"value": saved},
                }))]));
                let mut r = Resolution::saved(&d);
                r.answer(0, &answer);
                let opts: Vec<String> = r.variables[0].options.iter().map(|o| o.value.clone()).collect();
                match &r.selections.0[0] {
                    Selection::All => prop_assert!(include_all),
                    Selection::Values(v) => {
                        prop_assert!(!v.is_empty());
                        if opts.is_empty() {
                            prop_assert_eq!(v, &vec![String::new()]);
                        } else {
                            prop_assert!(v.iter().all(|x| opts.contains(x)), "{:?} not in {:?}", v, opts);
                        }
                    }
                }
                let once = r.clone();
                r.validate(0);
                prop_assert_eq!(r, once);
            }
        }
    }
}
