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

use super::template::{has_reference, Scope, Template};
use super::timerange::{RangeClass, TimeRange};
use super::variables::{Refresh, Selections, Variable, VariableKind};
use super::{Dashboard, DatasourceRef, Panel, TargetKind};
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
    selections: &'a Selections,
    class: RangeClass,
    now_ms: i64,
    from_ms: i64,
    to_ms: i64,
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
            selections,
            class: range.class(),
            now_ms,
            from_ms,
            to_ms,
        }
    }

    fn scope_for(&self, from_ms: i64, to_ms: i64, interval_ms: u64) -> Scope<'a> {
        Scope {
            variables: &self.dashboard.variables,
            selections: self.selections,
            from_ms,
            to_ms,
            interval_ms,
            dashboard_uid: &self.dashboard.uid,
            dashboard_title: &self.dashboard.title,
        }
    }

    /// The range class used in request names.
    pub fn class(&self) -> RangeClass {
        self.class
    }

    /// The dashboard range, epoch ms (what variable queries run over).
    pub fn range_ms(&self) -> (i64, i64) {
        (self.from_ms, self.to_ms)
    }

    /// The request of one panel.
    pub fn panel_request(&self, panel: &'a Panel) -> PanelRequest<'a> {
        let (from_ms, to_ms, class) = match &panel.time_from {
            Some(r) => {
                let (f, t) = r.resolve(self.now_ms);
                (f, t, r.class())
            }
            None => (self.from_ms, self.to_ms, self.class),
        };
        let interval_ms =
            macros::interval_ms(from_ms, to_ms, panel.max_data_points, panel.min_interval_ms);
        let ctx = MacroContext {
            from_ms,
            to_ms,
            interval_ms,
        };
        let scope = self.scope_for(from_ms, to_ms, interval_ms);
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
            max_data_points: panel.max_data_points,
            queries,
        }
    }

    /// Every panel's request, in dashboard order (filter on
    /// [`Panel::first_screen`] / [`Panel::in_collapsed_row`] for lazy loading).
    pub fn panel_requests(&self) -> Vec<PanelRequest<'a>> {
        let panels = &self.dashboard.panels;
        panels.iter().map(|p| self.panel_request(p)).collect()
    }

    /// The `/api/ds/query` body of a panel request, as the browser sends it:
    /// each target object with variables interpolated, plus `datasource`,
    /// `intervalMs`, `maxDataPoints`; `from`/`to` as epoch-ms strings.
    pub fn ds_query_body(&self, req: &PanelRequest<'_>) -> String {
        let scope = self.scope_for(req.from_ms, req.to_ms, req.interval_ms);
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
    /// selections.
    pub fn variable_requests(&self, trigger: Trigger) -> Vec<VariableRequest> {
        // Variable queries carry no panel: Grafana's documented defaults apply.
        let ctx = MacroContext {
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            interval_ms: 1000,
        };
        let scope = self.scope_for(ctx.from_ms, ctx.to_ms, ctx.interval_ms);
        let vars = &self.dashboard.variables;
        let compiled = &self.dashboard.variable_queries;
        vars.iter()
            .zip(compiled)
            .filter(|(v, _)| v.kind == VariableKind::Query)
            .filter(|(v, _)| match trigger {
                Trigger::Load => v.refresh != Refresh::Never,
                Trigger::TimeChange => v.refresh == Refresh::OnTimeChange,
            })
            .filter_map(|(v, t)| {
                let text = t.as_ref()?.render(&scope);
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
            })
            .collect()
    }
}
