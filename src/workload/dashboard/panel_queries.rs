//! The requests one dashboard view sends: per panel, its queries for a chosen
//! time range and variable selection, as `/api/ds/query` bodies (through
//! Grafana) and as final InfluxQL (straight to InfluxDB), plus the variable
//! queries that run on load or on a time change (DOMAIN.md §1.5, §1.7–§1.9).
//!
//! Everything that does not change per request was compiled at load: each
//! target's text and body are [`Template`]s / [`JsonTemplate`]s, so a request
//! is concatenation, then [`macros::expand`] for the backend's macros.
//! Request names follow the report contract: `panel <title> [<class>]` and
//! `variable <name> [<class>]`, with the class from [`TimeRange::class`].

use serde_json::{Map, Value};

use super::resolve::Resolution;
use super::template::{has_reference, Scope, Template};
use super::timerange::{RangeClass, TimeRange};
use super::variables::{Refresh, Selection, Selections, Variable, VariableKind};
use super::{
    parse_interval, time_from_range, time_shift_ops, Dashboard, DatasourceRef, Panel, TargetKind,
};
use crate::workload::macros::{self, MacroContext};

/// A JSON value with some string leaves templated, serialised once at load.
#[derive(Debug, Clone, Default)]
pub struct JsonTemplate {
    segs: Vec<JsonSeg>,
}

#[derive(Debug, Clone)]
enum JsonSeg {
    Lit(String),
    Str(Template),
}

impl JsonTemplate {
    /// Compile an object's fields (`{` and the fields, no closing brace: the
    /// caller appends its own fields and `}`).
    pub fn compile(obj: &Map<String, Value>, vars: &[Variable]) -> Result<JsonTemplate, String> {
        let mut t = JsonTemplate::default();
        t.lit("{");
        for (i, (k, v)) in obj.iter().enumerate() {
            if i > 0 {
                t.lit(",");
            }
            t.lit(&json_string(k));
            t.lit(":");
            t.value(v, vars)?;
        }
        Ok(t)
    }

    fn value(&mut self, v: &Value, vars: &[Variable]) -> Result<(), String> {
        match v {
            Value::String(s) if has_reference(s) => {
                let tpl = Template::compile(s, vars)?;
                match tpl.as_constant() {
                    Some(c) => self.lit(&json_string(c)),
                    None => self.segs.push(JsonSeg::Str(tpl)),
                }
            }
            Value::Array(items) => {
                self.lit("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.lit(",");
                    }
                    self.value(item, vars)?;
                }
                self.lit("]");
            }
            Value::Object(o) => {
                self.lit("{");
                for (i, (k, item)) in o.iter().enumerate() {
                    if i > 0 {
                        self.lit(",");
                    }
                    self.lit(&json_string(k));
                    self.lit(":");
                    self.value(item, vars)?;
                }
                self.lit("}");
            }
            other => self.lit(&other.to_string()),
        }
        Ok(())
    }

    /// See [`Template::with_default_format`].
    pub fn with_default_format(mut self, format: super::variables::Format) -> JsonTemplate {
        for seg in &mut self.segs {
            if let JsonSeg::Str(t) = seg {
                *t = std::mem::take(t).with_default_format(format);
            }
        }
        self
    }

    fn lit(&mut self, s: &str) {
        match self.segs.last_mut() {
            Some(JsonSeg::Lit(prev)) => prev.push_str(s),
            _ => self.segs.push(JsonSeg::Lit(s.to_string())),
        }
    }

    fn render_into(&self, scope: &Scope<'_>, out: &mut String) {
        for seg in &self.segs {
            match seg {
                JsonSeg::Lit(s) => out.push_str(s),
                JsonSeg::Str(t) => out.push_str(&json_string(&t.render(scope))),
            }
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// One final query of a panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelQuery {
    /// `A`, `B`, …
    pub ref_id: String,
    /// Raw, builder or Flux.
    pub kind: TargetKind,
    /// With dashboard variables interpolated, backend macros still in
    /// (what the browser's query text becomes).
    pub text: String,
    /// The InfluxQL Grafana's backend sends to InfluxDB (macros expanded);
    /// `None` for Flux.
    pub influxql: Option<String>,
}

/// All queries of one panel for one view: one `/api/ds/query` request.
#[derive(Debug, Clone)]
pub struct PanelRequest<'a> {
    /// The panel.
    pub panel: &'a Panel,
    /// `panel <title> [<class>]`.
    pub name: String,
    /// Range start, epoch ms.
    pub from_ms: i64,
    /// Range end, epoch ms.
    pub to_ms: i64,
    /// `intervalMs` (also what `$__interval` expands from).
    pub interval_ms: u64,
    /// `maxDataPoints`.
    pub max_data_points: u32,
    /// One per visible target.
    pub queries: Vec<PanelQuery>,
    /// A repeated copy's own values: (variable index, value), one per repeat.
    pub scoped: Vec<(usize, String)>,
    /// The range as written while it is still relative (no `timeShift`).
    pub raw_range: Option<(String, String)>,
}

/// When variable queries run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Dashboard load: variables with refresh 1 or 2.
    Load,
    /// Time-range change: variables with refresh 2.
    TimeChange,
}

/// One variable query (`refId: metricFindQuery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableRequest {
    /// The variable.
    pub variable: String,
    /// `variable <name> [<class>]`.
    pub name: String,
    /// Its data source.
    pub datasource: DatasourceRef,
    /// The query with other variables interpolated.
    pub text: String,
    /// The InfluxQL sent to InfluxDB (macros expanded); for a Flux query, the
    /// text as in `text` (its macros depend on the target: [`super::flux::expand`]).
    pub influxql: String,
    /// The `/api/ds/query` body.
    pub body: String,
    /// The query is Flux: straight to InfluxDB it goes to `/api/v2/query`.
    pub flux: bool,
}

/// A dashboard seen with one time range, at one instant, with one selection.
#[derive(Debug, Clone)]
pub struct View<'a> {
    dashboard: &'a Dashboard,
    /// The dashboard's variables, or a [`Resolution`]'s (options learned).
    variables: &'a [Variable],
    selections: &'a Selections,
    class: RangeClass,
    now_ms: i64,
    from_ms: i64,
    to_ms: i64,
    /// The range as written (`now-6h`, `now`).
    raw_range: (String, String),
}

impl<'a> View<'a> {
    /// Resolve `range` at `now_ms` for `dashboard` with `selections`.
    pub fn new(
        dashboard: &'a Dashboard,
        range: &TimeRange,
        now_ms: i64,
        selections: &'a Selections,
    ) -> View<'a> {
        let (from_ms, to_ms) = range.resolve(now_ms);
        View {
            dashboard,
            variables: &dashboard.variables,
            selections,
            class: range.class(),
            now_ms,
            from_ms,
            to_ms,
            raw_range: (range.raw_from.clone(), range.raw_to.clone()),
        }
    }

    /// Resolve `range` at `now_ms` for `dashboard` with the variables as
    /// `resolution` holds them (options learned from their queries).
    pub fn resolved(
        dashboard: &'a Dashboard,
        range: &TimeRange,
        now_ms: i64,
        resolution: &'a Resolution,
    ) -> View<'a> {
        let mut view = View::new(dashboard, range, now_ms, &resolution.selections);
        view.variables = &resolution.variables;
        view
    }

    /// The range in epoch ms.
    pub fn range_ms(&self) -> (i64, i64) {
        (self.from_ms, self.to_ms)
    }

    fn scope_with<'s>(
        &'s self,
        selections: &'s Selections,
        from_ms: i64,
        to_ms: i64,
        interval_ms: u64,
    ) -> Scope<'s>
    where
        'a: 's,
    {
        Scope {
            variables: self.variables,
            selections,
            from_ms,
            to_ms,
            interval_ms,
            dashboard_uid: &self.dashboard.uid,
            dashboard_title: &self.dashboard.title,
            grafana: self.dashboard.grafana,
            raw_range: None,
            scoped: &[],
            globals: &self.dashboard.globals,
        }
    }

    /// The range class used in request names.
    pub fn class(&self) -> RangeClass {
        self.class
    }

    /// The request of one panel, repeats not expanded.
    pub fn panel_request(&self, panel: &'a Panel) -> PanelRequest<'a> {
        self.scoped_request(panel, Vec::new())
    }

    /// The selections with a repeated copy's values in.
    fn scoped_selections(&self, scoped: &[(usize, String)]) -> Option<Selections> {
        if scoped.is_empty() {
            return None;
        }
        let mut s = self.selections.clone();
        for (i, value) in scoped {
            if let Some(slot) = s.0.get_mut(*i) {
                *slot = Selection::Values(vec![value.clone()]);
            }
        }
        Some(s)
    }

    /// The requests of one panel: one per repeated copy (Grafana's
    /// `DashboardModel.processRepeats`: a copy per selected value, every
    /// option for "All"; a panel in a repeated row repeats with the row).
    pub fn panel_requests_of(&self, panel: &'a Panel) -> Vec<PanelRequest<'a>> {
        let mut combos: Vec<Vec<(usize, String)>> = vec![Vec::new()];
        for &i in &panel.repeat {
            let values: Vec<String> = match self.selections.0.get(i) {
                Some(Selection::All) => self.variables[i]
                    .options
                    .iter()
                    .map(|o| o.value.clone())
                    .collect(),
                Some(Selection::Values(v)) => v.clone(),
                None => Vec::new(),
            };
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((i, v.clone()));
                        c
                    })
                })
                .collect();
        }
        if combos.is_empty() {
            // No value to repeat over: Grafana's `repeatPanel` makes no copy
            // and the source panel stays, unscoped (`getPanelClone` reuses it
            // for the first value), so it is still loaded once.
            return vec![self.scoped_request(panel, Vec::new())];
        }
        combos
            .into_iter()
            .map(|c| self.scoped_request(panel, c))
            .collect()
    }

    fn scoped_request(&self, panel: &'a Panel, scoped: Vec<(usize, String)>) -> PanelRequest<'a> {
        let owned = self.scoped_selections(&scoped);
        let selections = owned.as_ref().unwrap_or(self.selections);
        let mut options = self.scope_with(selections, self.from_ms, self.to_ms, 0);
        options.scoped = &scoped;
        let t = &panel.templated;
        let time_from = match (&panel.time_from, &t.time_from) {
            (Some(r), _) => Some(r.clone()),
            // Grafana ignores an invalid override ("invalid time override").
            (None, Some(tpl)) => time_from_range(&tpl.render(&options)).ok(),
            (None, None) => None,
        };
        let (mut from_ms, mut to_ms, class) = match &time_from {
            Some(r) => {
                let (f, t) = r.resolve(self.now_ms);
                (f, t, r.class())
            }
            None => (self.from_ms, self.to_ms, self.class),
        };
        // `applyPanelTimeOverrides`: a relative override keeps its raw text,
        // a shifted range is absolute.
        let mut raw_range = Some(match &time_from {
            Some(r) => (r.raw_from.clone(), r.raw_to.clone()),
            None => self.raw_range.clone(),
        });
        if let Some(shift) = t
            .time_shift
            .as_ref()
            .and_then(|tpl| time_shift_ops(&tpl.render(&options)).ok())
        {
            from_ms = shift.resolve(from_ms, false);
            to_ms = shift.resolve(to_ms, true);
            raw_range = None;
        }
        let min_interval_ms = panel.min_interval_ms.or_else(|| {
            let tpl = t.interval.as_ref()?;
            parse_interval(&tpl.render(&options))
        });
        let max_data_points = t
            .max_data_points
            .as_ref()
            .and_then(|tpl| tpl.render(&options).trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(panel.max_data_points);
        let interval_ms = macros::interval_ms(from_ms, to_ms, max_data_points, min_interval_ms);
        let ctx = MacroContext {
            from_ms,
            to_ms,
            interval_ms,
        };
        let mut scope = self.scope_with(selections, from_ms, to_ms, interval_ms);
        scope.scoped = &scoped;
        scope.raw_range = raw_range.as_ref().map(|(f, t)| (f.as_str(), t.as_str()));
        let queries = panel
            .targets
            .iter()
            .map(|t| {
                let text = t.text.render(&scope);
                let influxql = match t.kind {
                    TargetKind::Flux => None,
                    _ => Some(macros::expand(&text, &ctx)),
                };
                PanelQuery {
                    ref_id: t.ref_id.clone(),
                    kind: t.kind,
                    text,
                    influxql,
                }
            })
            .collect();
        PanelRequest {
            panel,
            name: format!("panel {} [{}]", panel.title, class),
            from_ms,
            to_ms,
            interval_ms,
            max_data_points,
            queries,
            scoped,
            raw_range,
        }
    }

    /// Every panel's request, in dashboard order (filter on
    /// [`Panel::first_screen`] / [`Panel::in_collapsed_row`] for lazy loading).
    pub fn panel_requests(&self) -> Vec<PanelRequest<'a>> {
        let panels = &self.dashboard.panels;
        panels
            .iter()
            .flat_map(|p| self.panel_requests_of(p))
            .collect()
    }

    /// The `/api/ds/query` body of a panel request, as the browser sends it:
    /// each target object with variables interpolated, plus `datasource`,
    /// `intervalMs`, `maxDataPoints`; `from`/`to` as epoch-ms strings.
    pub fn ds_query_body(&self, req: &PanelRequest<'_>) -> String {
        let owned = self.scoped_selections(&req.scoped);
        let selections = owned.as_ref().unwrap_or(self.selections);
        let mut scope = self.scope_with(selections, req.from_ms, req.to_ms, req.interval_ms);
        scope.scoped = &req.scoped;
        scope.raw_range = req
            .raw_range
            .as_ref()
            .map(|(f, t)| (f.as_str(), t.as_str()));
        let mut out = String::with_capacity(512 * req.panel.targets.len());
        out.push_str(&format!(
            "{{\"from\":\"{}\",\"to\":\"{}\",\"queries\":[",
            req.from_ms, req.to_ms
        ));
        for (i, t) in req.panel.targets.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            t.body.render_into(&scope, &mut out);
            out.push_str(&format!(
                ",\"datasource\":{},\"intervalMs\":{},\"maxDataPoints\":{}}}",
                t.datasource.to_json(),
                req.interval_ms,
                req.max_data_points
            ));
        }
        out.push_str("]}");
        out
    }

    /// The headers a browser adds to a panel's `/api/ds/query` (DOMAIN.md §1.1).
    pub fn headers(&self, req: &PanelRequest<'_>, org_id: u32) -> Vec<(&'static str, String)> {
        let ds = &req.panel.datasource;
        vec![
            ("content-type", "application/json".to_string()),
            ("x-dashboard-uid", self.dashboard.uid.clone()),
            ("x-datasource-uid", ds.uid.clone()),
            ("x-panel-id", req.panel.id.to_string()),
            ("x-plugin-id", ds.kind.clone()),
            ("x-grafana-org-id", org_id.to_string()),
        ]
    }

    /// The variable queries `trigger` runs, in dashboard order (parents before
    /// the variables chained on them), each interpolated with the current
    /// selections (a viewer resolves them one at a time with
    /// [`View::variable_request`], so that children see their parents' values).
    pub fn variable_requests(&self, trigger: Trigger) -> Vec<VariableRequest> {
        let vars = &self.dashboard.variables;
        (0..vars.len())
            .filter(|&i| vars[i].kind == VariableKind::Query)
            .filter(|&i| match trigger {
                Trigger::Load => vars[i].refresh != Refresh::Never,
                Trigger::TimeChange => vars[i].refresh == Refresh::OnTimeChange,
            })
            .filter_map(|i| self.variable_request(i))
            .collect()
    }

    /// The query of variable `i`, interpolated with the current selections;
    /// `None` when it is not a query variable or its Flux query was skipped
    /// ([`Dashboard::skip_flux`]: it keeps its saved value).
    pub fn variable_request(&self, i: usize) -> Option<VariableRequest> {
        // Variable queries carry no panel: Grafana's documented defaults apply.
        let ctx = MacroContext {
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            interval_ms: 1000,
        };
        // The classic `metricFindQuery` passed the resolved range: epoch ms.
        let scope = self.scope_with(self.selections, ctx.from_ms, ctx.to_ms, ctx.interval_ms);
        let v = self.variables.get(i)?;
        let t = self.dashboard.variable_queries.get(i)?.as_ref()?;
        let text = t.render(&scope);
        let datasource = v.datasource.clone().unwrap_or(DatasourceRef {
            kind: "influxdb".into(),
            uid: String::new(),
            placeholder: true,
        });
        let body = serde_json::json!({
            "from": self.from_ms.to_string(),
            "to": self.to_ms.to_string(),
            "queries": [{
                "refId": "metricFindQuery",
                "datasource": datasource.to_json(),
                "query": text,
                "rawQuery": true,
            }],
        });
        let flux = super::flux::is_flux(&v.query);
        Some(VariableRequest {
            variable: v.name.clone(),
            name: format!("variable {} [{}]", v.name, self.class),
            influxql: if flux {
                text.clone()
            } else {
                macros::expand(&text, &ctx)
            },
            datasource,
            text,
            body: body.to_string(),
            flux,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_767_268_800_000;

    fn fixture(name: &str) -> Dashboard {
        let path = format!(
            "{}/tests/fixtures/dashboards/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        super::super::load(std::path::Path::new(&path)).unwrap()
    }

    fn settle(d: &Dashboard, answers: &[(&str, &[&str])]) -> Resolution {
        let mut r = Resolution::saved(d);
        for i in Resolution::order(d) {
            let name = &d.variables[i].name;
            match answers.iter().find(|(n, _)| n == name) {
                Some((_, values)) => {
                    let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
                    r.answer(i, &values);
                }
                None => r.settle(i),
            }
        }
        r
    }

    #[test]
    fn repeated_panels_and_rows_send_one_request_per_value_with_it_scoped() {
        let d = fixture("vars-grafana7-repeat.json");
        let r = settle(&d, &[("dc", &["eu", "us"]), ("host", &["h1", "h2", "h3"])]);
        let view = View::resolved(&d, &d.time, NOW_MS, &r);
        let reqs = view.panel_requests();
        let loaded: Vec<&PanelRequest<'_>> =
            reqs.iter().filter(|q| !q.panel.in_collapsed_row).collect();
        let sql: Vec<&str> = loaded
            .iter()
            .map(|q| q.queries[0].influxql.as_deref().unwrap())
            .collect();
        assert_eq!(loaded.len(), 5, "3 host copies + 2 dc row copies: {sql:?}");
        for h in ["h1", "h2", "h3"] {
            assert_eq!(
                sql.iter().filter(|q| q.contains(&format!("'{h}'"))).count(),
                1
            );
        }
        assert!(
            sql.iter().any(|q| q.contains(r#""dc" =~ /^us$/"#)),
            "{sql:?}"
        );
        // The collapsed repeated row: listed, not loaded.
        assert_eq!(reqs.len() - loaded.len(), 3);
        // The browser's body carries the copy's own value too.
        let body = view.ds_query_body(loaded[1]);
        assert!(body.contains("h2"), "{body}");
        // One value selected: one copy.
        let mut one = r.clone();
        let host = d.variables.iter().position(|v| v.name == "host").unwrap();
        one.select(host, Selection::Values(vec!["h2".into()]));
        let view = View::resolved(&d, &d.time, NOW_MS, &one);
        assert_eq!(view.panel_requests_of(&d.panels[0]).len(), 1);
        // No value at all: Grafana keeps the source panel, unscoped: one request.
        let mut none = r.clone();
        none.select(host, Selection::Values(Vec::new()));
        let view = View::resolved(&d, &d.time, NOW_MS, &none);
        let reqs = view.panel_requests_of(&d.panels[0]);
        assert_eq!(reqs.len(), 1);
        assert!(reqs[0].scoped.is_empty());
    }

    #[test]
    fn time_overrides_interval_and_max_data_points_come_from_variables() {
        let d = fixture("vars-grafana10-time-overrides.json");
        let mut r = settle(&d, &[]);
        let view = View::resolved(&d, &d.time, NOW_MS, &r);
        let req = view.panel_request(&d.panels[0]);
        let h = 3_600_000;
        assert_eq!((req.from_ms, req.to_ms), (NOW_MS - 30 * h, NOW_MS - 24 * h));
        assert_eq!((req.max_data_points, req.interval_ms), (120, 300_000));
        // Another pick, another range and interval, as Grafana re-reads them.
        let pick = |name: &str| d.variables.iter().position(|v| v.name == name).unwrap();
        r.select(pick("window"), Selection::Values(vec!["1d".into()]));
        r.select(pick("shift"), Selection::Values(vec!["1h".into()]));
        r.select(pick("minstep"), Selection::Values(vec!["30m".into()]));
        let view = View::resolved(&d, &d.time, NOW_MS, &r);
        let req = view.panel_request(&d.panels[0]);
        assert_eq!((req.from_ms, req.to_ms), (NOW_MS - 25 * h, NOW_MS - h));
        assert_eq!(req.interval_ms, 1_800_000);
        let sql = req.queries[0].influxql.as_deref().unwrap();
        assert!(sql.contains("GROUP BY time(30m)"), "{sql}");
    }

    #[test]
    fn ad_hoc_filters_join_builder_tags_and_data_source_variables_bind() {
        let mut d = fixture("vars-grafana8-datasource-adhoc.json");
        assert!(d.unbound_inputs().is_empty(), "$ds names no input");
        d.bind_datasource("influx-uid");
        assert_eq!(d.panels[0].datasource.uid, "influx-uid");
        assert_eq!(
            d.variables[1].datasource.as_ref().unwrap().uid,
            "influx-uid"
        );
        let r = settle(&d, &[("host", &["db-1", "web-1", "web-2"])]);
        let view = View::resolved(&d, &d.time, NOW_MS, &r);
        let req = view.panel_request(&d.panels[0]);
        let sql = req.queries[0].influxql.as_deref().unwrap();
        assert!(
            sql.contains(r#"WHERE ("host" = 'web-2' AND "dc" = 'eu-west') AND time"#),
            "{sql}"
        );
        let body = view.ds_query_body(&req);
        assert!(body.contains(r#""adhocFilters":[{"#), "{body}");
    }
}
