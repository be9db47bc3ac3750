//! Grafana dashboard import: any dashboard JSON export (the bare dashboard or the
//! `{dashboard, meta}` API envelope, DOMAIN.md §1.4) read into a typed model of
//! what a browser would query.
//!
//! This module owns reading and checking the file; its children own the parts:
//! [`variables`] (template variables and value formats), [`template`] (query
//! text precompiled into segments), [`builder`] (builder-mode InfluxQL as
//! Grafana's backend renders it), [`timerange`] (time-picker ranges) and
//! [`panel_queries`] (the requests one dashboard load sends).
//!
//! What counts, and the assumptions behind it:
//! - Panels are walked through rows: a collapsed row carries its panels inside
//!   its own `panels`; an expanded row's panels follow it at the top level.
//!   Panels of a collapsed row do not query until the row is opened.
//! - `first_screen`: a panel whose top edge is above grid row
//!   [`FIRST_SCREEN_ROWS`] (a 1080 px viewport minus Grafana's header, at 30 px
//!   per grid row plus margins) and not in a collapsed row. Newer Grafana
//!   lazy-loads the others when the user scrolls (DOMAIN.md §1.9).
//! - `maxDataPoints: null` (the usual case) is the panel's width in pixels: a
//!   24-column grid in a 1920 px browser leaves about 1880 px, so
//!   `w * 1880 / 24` ([`GRID_WIDTH_PX`]): 940 for a half-width panel.
//! - Data sources: `{type, uid}`, an old-style string name, or an `__inputs`
//!   placeholder (`${DS_INFLUXDB}`) whose input's `pluginId` gives the type; the
//!   placeholder stays the uid until [`Dashboard::bind_datasource`] (one uid for
//!   all) or [`Dashboard::bind_inputs`] (one per input). A string
//!   name or the default data source (none given) counts as InfluxDB when the
//!   targets have InfluxDB's shape (`query`, `measurement` or `select`).
//! - Targets: `rawQuery: true` + `query` is raw InfluxQL; Flux text
//!   ([`flux::is_flux`]: a pipe, `from(`, `buckets()`, an `import`, a `v.` macro)
//!   is Flux, kept as text, its macros expanded per request by [`flux::expand`];
//!   anything else is the query builder.
//!   `hide: true` targets are left out. Panels of other data sources, panels
//!   without queries (text, news, row) and targets Grafana could not run are
//!   listed in [`Dashboard::skipped`] with the reason.
//! - A panel's `timeFrom` (relative time, `7d`, `now/M`) replaces the dashboard
//!   range for that panel and `timeShift` (`1d`) moves it back, as Grafana's
//!   `applyPanelTimeOverrides`; these, `interval` and a string `maxDataPoints`
//!   may be written with variables (`$inter`), expanded per request.
//! - Repeated panels and rows (`repeat`): one copy per selected value of the
//!   variable, scoped to that value ([`View::panel_requests_of`]).
//! - Data sources written as a data-source variable (`$ds`) are the target's
//!   data source, bound as the default one. Ad hoc filters are added to
//!   builder queries' tags (see `Walk::with_adhoc`).
//! - Request names use the panel title as written (`Hours for [[client]]`), so
//!   report rows do not multiply with every variable value.
//! - Old exports (`schemaVersion` < 29, pre-5.0 `rows` layouts, InfluxDB 0.9
//!   targets) are first migrated as Grafana does on load ([`migrate`]).
//! - Library panels (`libraryPanel: {uid}`) take their model from the export's
//!   `__elements` ([`library_panel`]); one whose model is not there is skipped.
//! - Not modelled: annotations.

pub mod builder;
pub mod flux;
pub mod globals;
pub mod grafana;
pub mod jsregex;
pub mod migrate;
pub mod panel_queries;
pub mod resolve;
pub mod template;
pub mod timerange;
pub mod v2;
pub mod variables;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

pub use grafana::GrafanaVersion;
pub use panel_queries::{PanelQuery, PanelRequest, Trigger, VariableRequest, View};
pub use resolve::Resolution;
pub use template::Template;
pub use timerange::{RangeClass, TimeRange};
pub use variables::{Format, Refresh, Selection, Selections, Variable, VariableKind};

use crate::{Error, Result};
use panel_queries::JsonTemplate;

/// Panels whose top edge is above this grid row are on the first screen.
pub const FIRST_SCREEN_ROWS: u32 = 20;
/// Usable browser width for the 24 grid columns, px (1920 px minus margins).
pub const GRID_WIDTH_PX: u32 = 1880;

/// A data source reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasourceRef {
    /// Plugin type (`influxdb`), or empty when the export does not say.
    pub kind: String,
    /// Uid, an old-style name, or a `${DS_…}` placeholder.
    pub uid: String,
    /// `uid` is an `__inputs` placeholder (or the default data source).
    pub placeholder: bool,
}

impl DatasourceRef {
    fn is_influxdb(&self) -> bool {
        self.kind == "influxdb"
    }

    /// As in a `/api/ds/query` body: `{"type":…,"uid":…}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"type": self.kind, "uid": self.uid})
    }
}

/// A data-source input of an export (`__inputs`, `"type": "datasource"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasourceInput {
    /// `DS_INFLUXDB`: the placeholder is `${DS_INFLUXDB}`.
    pub name: String,
    /// The data source's plugin (`influxdb`).
    pub plugin_id: String,
    /// The exporting Grafana's data source name (`label`).
    pub label: String,
}

/// A panel's place on the 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GridPos {
    /// Column, 0–23.
    pub x: u32,
    /// Row (30 px each).
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in rows.
    pub h: u32,
}

/// What a target's text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `rawQuery: true` InfluxQL.
    RawInfluxQl,
    /// Builder-mode InfluxQL, rendered as Grafana's backend does.
    BuilderInfluxQl,
    /// Flux (InfluxDB 2.x), kept as text.
    Flux,
}

/// One query of a panel.
#[derive(Debug, Clone)]
pub struct Target {
    /// `A`, `B`, … (assigned in order when missing, as Grafana does).
    pub ref_id: String,
    /// Raw, builder or Flux.
    pub kind: TargetKind,
    /// Data source the query goes to.
    pub datasource: DatasourceRef,
    /// The query text with variables and backend macros still in.
    pub text: Template,
    /// The `/api/ds/query` query object, without `datasource`, `intervalMs`, `maxDataPoints`.
    pub(crate) body: JsonTemplate,
    /// A Flux target's own `options` (bucket, organisation) for its macros.
    pub flux_options: flux::FluxOptions,
}

/// A panel that queries InfluxDB.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Panel id.
    pub id: i64,
    /// Title (used in request names).
    pub title: String,
    /// Panel type (`timeseries`, `stat`, `table`, …).
    pub kind: String,
    /// Grid position.
    pub grid: GridPos,
    /// The panel's data source.
    pub datasource: DatasourceRef,
    /// Minimum interval (`interval`, e.g. `1h`), ms.
    pub min_interval_ms: Option<u64>,
    /// `maxDataPoints`, or the width in pixels when null.
    pub max_data_points: u32,
    /// `max_data_points` was derived from the width.
    pub max_data_points_derived: bool,
    /// Title of the row the panel sits in.
    pub row: Option<String>,
    /// The row is collapsed: the panel queries only once it is opened.
    pub in_collapsed_row: bool,
    /// Visible without scrolling (see the module docs).
    pub first_screen: bool,
    /// Panel relative time (`timeFrom`, e.g. `7d`): the range this panel
    /// queries instead of the dashboard's (`timeShift` is not modelled).
    pub time_from: Option<TimeRange>,
    /// Visible targets, in order.
    pub targets: Vec<Target>,
    /// Repeated by these variables (the panel's own `repeat`, its row's):
    /// one copy per selected value, the variable scoped to it per copy.
    pub repeat: Vec<usize>,
    /// `interval`, `maxDataPoints`, `timeFrom`, `timeShift` written with variables.
    pub(crate) templated: PanelTemplates,
}

/// Panel options that hold variables, expanded per request as Grafana's
/// `applyPanelTimeOverrides` and query runner do.
#[derive(Debug, Clone, Default)]
pub(crate) struct PanelTemplates {
    /// `interval` (`$inter`).
    pub interval: Option<Template>,
    /// `maxDataPoints` as a string (`$points`).
    pub max_data_points: Option<Template>,
    /// `timeFrom` (`$window`).
    pub time_from: Option<Template>,
    /// `timeShift` (`1d`, `$shift`), literal or not.
    pub time_shift: Option<Template>,
}

/// A panel or target left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// `"<title>" (id <id>)`, plus the refId for a single target.
    pub panel: String,
    /// Why.
    pub reason: String,
}

/// An imported dashboard.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The file it came from.
    pub source: String,
    /// Uid.
    pub uid: String,
    /// Title.
    pub title: String,
    /// Default time range (`time`; Grafana's `now-6h` to `now` when absent).
    pub time: TimeRange,
    /// Auto-refresh interval; `None` when off.
    pub refresh: Option<Duration>,
    /// Template variables, in dashboard order (chained ones after their parents).
    pub variables: Vec<Variable>,
    /// Panels that query InfluxDB, in dashboard order.
    pub panels: Vec<Panel>,
    /// What was left out.
    pub skipped: Vec<Skipped>,
    /// Data-source inputs (`__inputs`), in export order.
    pub inputs: Vec<DatasourceInput>,
    /// Compiled queries of query variables, by variable index.
    pub(crate) variable_queries: Vec<Option<Template>>,
    /// The migration steps applied to an old export ([`migrate`]), first the
    /// schema versions (`schemaVersion 12 → 29`); empty for a current one.
    pub migrated: Vec<String>,
    /// Library panels whose model the export does not carry.
    pub(crate) library_pending: Vec<PendingLibrary>,
    /// The Grafana release whose rules expand its queries ([`grafana`]).
    pub grafana: GrafanaVersion,
    /// The viewers' user, org and time zone ([`globals`]).
    pub globals: globals::Globals,
    /// The dashboard's own `timezone` (`utc`, `Europe/Paris`; empty or `browser`: the viewer's).
    pub timezone: String,
}

/// Read a dashboard export from `path`: a regular file of at most
/// [`MAX_DASHBOARD_BYTES`](crate::scenario::file::MAX_DASHBOARD_BYTES), UTF-8.
pub fn load(path: &Path) -> Result<Dashboard> {
    use crate::scenario::file;
    let shown = path.display().to_string();
    let bytes = file::read_capped(path, file::MAX_DASHBOARD_BYTES, "dashboard")
        .map_err(|why| Error::config(&shown, why))?;
    let text = file::utf8(bytes).map_err(|(line, column, why)| {
        Error::config(
            format!("{shown}:{line}:{column}"),
            format!("dashboard is {why}"),
        )
    })?;
    parse(&text, &shown)
}

/// Read a dashboard export from `text`; `source` names it in errors.
pub fn parse(text: &str, source: &str) -> Result<Dashboard> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        Error::config(
            format!("{source}:{}:{}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    let envelope_inputs = root.get("__inputs").cloned();
    let err = |msg: String| Error::config(source, msg);
    let mut dash = match root.get("dashboard") {
        Some(d) if d.is_object() => d.clone(),
        _ => root.clone(),
    };
    // Grafana 12's schema v2 (`elements`, `layout`): read as its classic model.
    if v2::is_v2(&dash) {
        dash = v2::to_classic(&dash)
            .map_err(|e| err(format!("Grafana 12 (schema v2) dashboard: {e}")))?;
    }
    if !dash.is_object() {
        return Err(err("a dashboard export is a JSON object".into()));
    }
    // Old exports (rows, InfluxDB 0.9 targets) as Grafana migrates them on load.
    let migrated = migrate::migrate(&mut dash);
    let dash = &dash;
    let obj = dash.as_object().expect("checked above");
    let input_list = datasource_inputs(dash.get("__inputs").or(envelope_inputs.as_ref()));
    let inputs: HashMap<String, String> = input_list
        .iter()
        .map(|i| (i.name.clone(), i.plugin_id.clone()))
        .collect();
    let str_of = |key: &str| {
        obj.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };

    let time = dash.get("time");
    let bound = |key: &str, default: &str| {
        time.and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let time = TimeRange::parse(&bound("from", "now-6h"), &bound("to", "now"))
        .map_err(|e| err(format!("time: {e}")))?;
    let refresh = match dash.get("refresh") {
        Some(Value::String(s)) if !s.is_empty() => Some(Duration::from_millis(
            parse_interval(s)
                .ok_or_else(|| err(format!("refresh {s:?}: expected e.g. 30s, 1m")))?,
        )),
        _ => None,
    };

    let mut variables = Vec::new();
    let list = dash.pointer("/templating/list").and_then(Value::as_array);
    for (i, v) in list.into_iter().flatten().enumerate() {
        let ds = resolve_datasource(v.get("datasource"), &inputs);
        let var =
            Variable::from_json(v, ds).map_err(|e| err(format!("templating.list[{i}]: {e}")))?;
        // A regex JavaScript refuses fails the variable in Grafana: refuse it
        // here (one with a variable in it is only known once interpolated).
        if let Some(re) = var.extra.regex.as_deref() {
            if var.kind == VariableKind::Query && !template::has_reference(re) {
                jsregex::JsRegex::parse(re).map_err(|e| {
                    err(format!(
                        "templating.list[{i}] (variable {}): regex {e}",
                        var.name
                    ))
                })?;
            }
        }
        variables.push(var);
    }
    let ds_vars = datasource_variables(&variables);
    for v in &mut variables {
        if let Some(ds) = &v.datasource {
            v.datasource = Some(bind_variable_ds(ds.clone(), &ds_vars));
        }
    }
    let adhoc = adhoc_filters(&variables);
    let mut variable_queries = Vec::with_capacity(variables.len());
    for v in &variables {
        variable_queries.push(match v.kind {
            VariableKind::Query => {
                let t = Template::compile(&v.query, &variables)
                    .map_err(|e| err(format!("variable {}: {e}", v.name)))?;
                Some(if flux::is_flux(&v.query) {
                    t.with_default_format(Format::Glob)
                } else {
                    t
                })
            }
            _ => None,
        });
    }

    // Library panels' models (`__elements`, kind 1), by uid.
    let elements: HashMap<String, Value> = dash
        .get("__elements")
        .or(root.get("__elements"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, e)| e.get("kind").and_then(Value::as_u64).unwrap_or(1) == 1)
        .filter_map(|(uid, e)| {
            let model = e
                .get("model")
                .filter(|m| m.as_object().is_some_and(|o| !o.is_empty()))?;
            Some((uid.clone(), model.clone()))
        })
        .collect();
    let mut walk = Walk {
        source,
        elements: &elements,
        inputs: &inputs,
        variables: &variables,
        panels: Vec::new(),
        skipped: Vec::new(),
        ds_vars: &ds_vars,
        adhoc: &adhoc,
        pending: Vec::new(),
    };
    let panels = dash.get("panels").and_then(Value::as_array);
    walk.level(panels.map(Vec::as_slice).unwrap_or(&[]), None, false, None)?;

    Ok(Dashboard {
        source: source.to_string(),
        uid: str_of("uid"),
        title: str_of("title"),
        time,
        refresh,
        library_pending: walk.pending,
        panels: walk.panels,
        skipped: walk.skipped,
        variables,
        inputs: input_list,
        variable_queries,
        migrated,
        grafana: GrafanaVersion::default(),
        globals: globals::Globals {
            timezone: match str_of("timezone").as_str() {
                "" | "browser" => globals::Globals::default().timezone,
                tz => tz.to_string(),
            },
            ..Default::default()
        },
        timezone: str_of("timezone"),
    })
}

impl Dashboard {
    /// The saved selections of every variable.
    pub fn saved_selections(&self) -> Selections {
        Selections::saved(&self.variables)
    }

    /// Point placeholder and default data sources (`${DS_…}`, none given, or an
    /// old-style name) at the InfluxDB data source `uid`.
    pub fn bind_datasource(&mut self, uid: &str) {
        let bind = |ds: &mut DatasourceRef| {
            if ds.placeholder || ds.kind.is_empty() || ds.kind == "influxdb" && ds.uid.is_empty() {
                *ds = DatasourceRef {
                    kind: "influxdb".into(),
                    uid: uid.to_string(),
                    placeholder: false,
                };
            }
        };
        for p in &mut self.panels {
            bind(&mut p.datasource);
            p.targets.iter_mut().for_each(|t| bind(&mut t.datasource));
        }
        for v in &mut self.variables {
            if let Some(ds) = &mut v.datasource {
                bind(ds);
            }
        }
    }

    fn datasources_mut(&mut self) -> impl Iterator<Item = &mut DatasourceRef> {
        let panels = self.panels.iter_mut().flat_map(|p| {
            std::iter::once(&mut p.datasource)
                .chain(p.targets.iter_mut().map(|t| &mut t.datasource))
        });
        panels.chain(
            self.variables
                .iter_mut()
                .filter_map(|v| v.datasource.as_mut()),
        )
    }

    /// The `${NAME}` placeholders the queried panels and variables still use, by
    /// name, sorted: each must be bound before a request can name its data source.
    pub fn unbound_inputs(&self) -> Vec<String> {
        let panels = self.panels.iter().flat_map(|p| {
            std::iter::once(&p.datasource).chain(p.targets.iter().map(|t| &t.datasource))
        });
        // Variables of other data sources are not queried by dashload.
        let vars = self.variables.iter().filter_map(|v| v.datasource.as_ref());
        let all = panels.chain(vars.filter(|d| d.kind.is_empty() || d.is_influxdb()));
        let mut names: Vec<String> = all
            .filter(|d| d.placeholder)
            .filter_map(|d| placeholder_name(&d.uid))
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Replace each `${NAME}` placeholder that `uids` maps (input name → uid).
    pub fn bind_inputs(&mut self, uids: &BTreeMap<String, String>) {
        // A data-source variable's reference names no input: with one data
        // source mapped, it is that one.
        let mut distinct: Vec<&String> = uids.values().collect();
        distinct.sort();
        distinct.dedup();
        let only = (distinct.len() == 1).then(|| distinct[0].clone());
        for ds in self.datasources_mut() {
            if let (true, true, Some(uid)) = (ds.placeholder, ds.uid.is_empty(), &only) {
                ds.uid = uid.clone();
                ds.placeholder = false;
                continue;
            }
            let Some(uid) = placeholder_name(&ds.uid).and_then(|n| uids.get(n)) else {
                continue;
            };
            ds.uid = uid.clone();
            ds.placeholder = false;
            if ds.kind.is_empty() {
                ds.kind = "influxdb".into();
            }
        }
    }
}

/// The data-source entries of `__inputs` (constants and the like are not data sources).
fn datasource_inputs(v: Option<&Value>) -> Vec<DatasourceInput> {
    let mut out = Vec::new();
    for input in v.and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| input.get(k).and_then(Value::as_str).unwrap_or("");
        if !matches!(text("type"), "datasource" | "") || text("name").is_empty() {
            continue;
        }
        if text("pluginId").is_empty() {
            continue;
        }
        out.push(DatasourceInput {
            name: text("name").to_string(),
            plugin_id: text("pluginId").to_string(),
            label: text("label").to_string(),
        });
    }
    out
}

fn placeholder_name(s: &str) -> Option<&str> {
    s.strip_prefix("${")?.strip_suffix('}')
}

/// Resolve a `datasource` field; `None` means "the default data source".
fn resolve_datasource(
    v: Option<&Value>,
    inputs: &HashMap<String, String>,
) -> Option<DatasourceRef> {
    let (kind, uid) = match v? {
        Value::String(s) => (String::new(), s.clone()),
        Value::Object(o) => (
            o.get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            o.get("uid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        _ => return None,
    };
    let kind = match uid.as_str() {
        "-- Mixed --" => "mixed".to_string(),
        "-- Grafana --" | "grafana" => "grafana".to_string(),
        "-- Dashboard --" => "dashboard".to_string(),
        _ => kind,
    };
    match placeholder_name(&uid) {
        Some(name) => Some(DatasourceRef {
            kind: if kind.is_empty() {
                inputs.get(name).cloned().unwrap_or_default()
            } else {
                kind
            },
            uid,
            placeholder: true,
        }),
        None => Some(DatasourceRef {
            kind,
            uid,
            placeholder: false,
        }),
    }
}

/// Grafana interval syntax (`30s`, `1h`, `>10s`, `500ms`), in ms.
pub fn parse_interval(s: &str) -> Option<u64> {
    let s = s.trim().trim_start_matches(['>', '<']);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s[..digits].parse().ok()?;
    let unit: u64 = match &s[digits..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "M" => 30 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => return None,
    };
    // `9999999999999999y` would wrap: too large is not an interval.
    n.checked_mul(unit)
}

/// The panel walk: rows, skips, and each panel's targets.
struct Walk<'a> {
    source: &'a str,
    /// Library panels' models from `__elements`, by uid.
    elements: &'a HashMap<String, Value>,
    inputs: &'a HashMap<String, String>,
    variables: &'a [Variable],
    panels: Vec<Panel>,
    skipped: Vec<Skipped>,
    /// Data-source variables: name → plugin type.
    ds_vars: &'a [(String, String)],
    /// Ad hoc filters for InfluxDB builder queries.
    adhoc: &'a [variables::AdhocFilter],
    /// Library panels whose model is not in the export.
    pending: Vec<PendingLibrary>,
}

impl Walk<'_> {
    fn level(
        &mut self,
        panels: &[Value],
        row: Option<&str>,
        collapsed: bool,
        row_repeat: Option<usize>,
    ) -> Result<()> {
        let mut current_row = row.map(str::to_string);
        let mut current_repeat = row_repeat;
        for p in panels {
            if p.get("type").and_then(Value::as_str) == Some("row") {
                let title = p
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let is_collapsed = p.get("collapsed").and_then(Value::as_bool).unwrap_or(false);
                let inner = p.get("panels").and_then(Value::as_array);
                let repeat = self.repeat_of(p);
                self.level(
                    inner.map(Vec::as_slice).unwrap_or(&[]),
                    Some(&title),
                    is_collapsed,
                    repeat,
                )?;
                current_row = Some(title);
                current_repeat = repeat;
            } else {
                self.panel(p, current_row.as_deref(), collapsed, current_repeat)?;
            }
        }
        Ok(())
    }

    /// The variable a panel or row repeats by (`repeat`), when it is one of the dashboard's.
    fn repeat_of(&self, p: &Value) -> Option<usize> {
        let name = p.get("repeat").and_then(Value::as_str)?;
        self.variables.iter().position(|v| v.name == name)
    }

    /// A data source, with a data-source variable (`$ds`) standing for the
    /// target's own data source, as its only option does in a test stack.
    fn datasource(&self, v: Option<&Value>) -> Option<DatasourceRef> {
        resolve_datasource(v, self.inputs).map(|d| bind_variable_ds(d, self.ds_vars))
    }

    fn skip(&mut self, label: &str, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            panel: label.to_string(),
            reason: reason.into(),
        });
    }

    fn panel(
        &mut self,
        p: &Value,
        row: Option<&str>,
        collapsed: bool,
        row_repeat: Option<usize>,
    ) -> Result<()> {
        let id = p.get("id").and_then(Value::as_i64).unwrap_or(0);
        let title = p
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let label = format!("{title:?} (id {id})");
        let source = self.source;
        let err = |msg: String| Error::config(source, format!("panel {label}: {msg}"));
        let kind = p
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let grid = match p.get("gridPos") {
            None => GridPos::default(),
            Some(g) => {
                let n = |k: &str| -> Result<u32> {
                    let v = g.get(k).and_then(Value::as_u64);
                    v.map(|v| v as u32)
                        .ok_or_else(|| err(format!("gridPos.{k} is not a number")))
                };
                GridPos {
                    x: n("x")?,
                    y: n("y")?,
                    w: n("w")?,
                    h: n("h")?,
                }
            }
        };
        if let Some(lib) = p.get("libraryPanel") {
            let name = lib.get("name").and_then(Value::as_str).unwrap_or("?");
            let uid = lib.get("uid").and_then(Value::as_str).unwrap_or("");
            if let Some(model) = self.elements.get(uid) {
                return self.panel(&library_panel(p, model), row, collapsed, row_repeat);
            }
            if p.get("targets").is_none() {
                self.pending.push(PendingLibrary {
                    uid: uid.to_string(),
                    placeholder: p.clone(),
                    row: row.map(str::to_string),
                    collapsed,
                    row_repeat,
                    label: label.clone(),
                });
                self.skip(
                    &label,
                    format!("library panel {name:?}: its definition is not in the export"),
                );
                return Ok(());
            }
        }
        let targets_json = p.get("targets").and_then(Value::as_array);
        let targets_json = match targets_json {
            Some(t) if !t.is_empty() => t,
            _ => {
                self.skip(&label, format!("{kind} panel has no queries"));
                return Ok(());
            }
        };
        let panel_ds = self.datasource(p.get("datasource"));
        let mut templated = PanelTemplates::default();
        let vars = self.variables;
        let compile = |key: &str, s: &str| {
            Template::compile(s, vars).map_err(|e| err(format!("{key} {s:?}: {e}")))
        };
        let min_interval_ms = match p.get("interval").and_then(Value::as_str) {
            None | Some("") => None,
            Some(s) if template::has_reference(s) => {
                templated.interval = Some(compile("interval", s)?);
                None
            }
            Some(s) => Some(
                parse_interval(s)
                    .ok_or_else(|| err(format!("interval {s:?}: expected e.g. 1h, >10s")))?,
            ),
        };
        let time_from = match p.get("timeFrom").and_then(Value::as_str) {
            None | Some("") => None,
            Some(s) if template::has_reference(s) => {
                templated.time_from = Some(compile("timeFrom", s)?);
                None
            }
            Some(s) => Some(time_from_range(s).map_err(|e| err(format!("timeFrom: {e}")))?),
        };
        match p.get("timeShift").and_then(Value::as_str) {
            None | Some("") => {}
            Some(s) => {
                if !template::has_reference(s) {
                    time_shift_ops(s).map_err(|e| err(format!("timeShift: {e}")))?;
                }
                templated.time_shift = Some(compile("timeShift", s)?);
            }
        }
        let (max_data_points, derived) = match p.get("maxDataPoints") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {
                let n = n.as_u64().unwrap_or(1);
                (n.min(u64::from(u32::MAX)) as u32, false)
            }
            Some(Value::String(s)) if s.trim().parse::<u32>().is_ok_and(|n| n > 0) => {
                (s.trim().parse().unwrap_or(1), false)
            }
            other => {
                if let Some(Value::String(s)) = other {
                    if template::has_reference(s) {
                        templated.max_data_points = Some(compile("maxDataPoints", s)?);
                    }
                }
                ((grid.w.max(1) * GRID_WIDTH_PX / 24).max(1), true)
            }
        };
        let repeat: Vec<usize> = row_repeat.into_iter().chain(self.repeat_of(p)).collect();

        let mut targets = Vec::new();
        for (i, t) in targets_json.iter().enumerate() {
            if t.get("hide").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let ref_id = match t.get("refId").and_then(Value::as_str) {
                Some(r) if !r.is_empty() => r.to_string(),
                _ => ref_id_for(i),
            };
            let ds = self
                .datasource(t.get("datasource"))
                .filter(|d| d.kind != "mixed")
                .or_else(|| panel_ds.clone().filter(|d| d.kind != "mixed"))
                .unwrap_or(DatasourceRef {
                    kind: String::new(),
                    uid: String::new(),
                    placeholder: true,
                });
            let looks_influx = ["query", "measurement", "select"]
                .iter()
                .any(|k| t.get(*k).is_some());
            let ds = match ds {
                d if d.is_influxdb() => d,
                d if d.kind.is_empty() && looks_influx => DatasourceRef {
                    kind: "influxdb".into(),
                    ..d
                },
                d => {
                    let what = if d.kind.is_empty() {
                        "unknown type"
                    } else {
                        d.kind.as_str()
                    };
                    self.skip(
                        &label,
                        format!(
                            "target {ref_id}: data source {:?} ({what}) is not InfluxDB",
                            d.uid
                        ),
                    );
                    continue;
                }
            };
            match self.target(t, ref_id.clone(), ds) {
                Ok(Some(target)) => targets.push(target),
                Ok(None) => {}
                Err(TargetError::Skip(why)) => self.skip(&label, format!("target {ref_id}: {why}")),
                Err(TargetError::Fatal(why)) => return Err(err(format!("target {ref_id}: {why}"))),
            }
        }
        if targets.is_empty() {
            if !self.skipped.iter().any(|s| s.panel == label) {
                self.skip(&label, "every target is hidden");
            }
            return Ok(());
        }
        let datasource = targets[0].datasource.clone();
        self.panels.push(Panel {
            id,
            title,
            kind,
            grid,
            datasource: match panel_ds {
                Some(d) if d.is_influxdb() => d,
                _ => datasource,
            },
            min_interval_ms,
            max_data_points,
            max_data_points_derived: derived,
            row: row.map(str::to_string),
            in_collapsed_row: collapsed,
            first_screen: !collapsed && grid.y < FIRST_SCREEN_ROWS,
            time_from,
            targets,
            repeat,
            templated,
        });
        Ok(())
    }

    fn target(
        &self,
        t: &Value,
        ref_id: String,
        ds: DatasourceRef,
    ) -> Result<Option<Target>, TargetError> {
        let query = t.get("query").and_then(Value::as_str).unwrap_or("");
        let raw = t.get("rawQuery").and_then(Value::as_bool).unwrap_or(false);
        let mut with_adhoc = None;
        let (kind, text) = if flux::is_flux(query) {
            (
                TargetKind::Flux,
                Template::compile(query, self.variables)
                    .map_err(TargetError::Fatal)?
                    .with_default_format(Format::Glob),
            )
        } else if raw {
            if query.trim().is_empty() {
                return Err(TargetError::Skip("raw query is empty".into()));
            }
            (
                TargetKind::RawInfluxQl,
                Template::compile(query, self.variables).map_err(TargetError::Fatal)?,
            )
        } else {
            with_adhoc = self.with_adhoc(t);
            (
                TargetKind::BuilderInfluxQl,
                builder::render(with_adhoc.as_ref().unwrap_or(t), self.variables)
                    .map_err(TargetError::Skip)?,
            )
        };
        let t = with_adhoc.as_ref().unwrap_or(t);
        let mut obj: Map<String, Value> = t.as_object().cloned().unwrap_or_default();
        for k in ["datasource", "hide", "intervalMs", "maxDataPoints"] {
            obj.remove(k);
        }
        obj.insert("refId".into(), Value::String(ref_id.clone()));
        let mut body = JsonTemplate::compile(&obj, self.variables).map_err(TargetError::Fatal)?;
        if kind == TargetKind::Flux {
            body = body.with_default_format(Format::Glob);
        }
        Ok(Some(Target {
            ref_id,
            kind,
            datasource: ds,
            text,
            body,
            flux_options: flux::FluxOptions::from_target(t),
        }))
    }
}

impl Walk<'_> {
    /// A builder target with the dashboard's ad hoc filters appended to its
    /// tags, as the InfluxDB data source's `applyTemplateVariables` does before
    /// the backend renders it (`adhocFilters` → `tags`, condition dropped, so
    /// the backend joins them with AND). Raw queries are left as they are, as
    /// Grafana's backend leaves them. `None` when there are no filters.
    fn with_adhoc(&self, t: &Value) -> Option<Value> {
        if self.adhoc.is_empty() {
            return None;
        }
        let mut t = t.clone();
        let obj = t.as_object_mut()?;
        let tags = obj
            .entry("tags")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !tags.is_array() {
            *tags = Value::Array(Vec::new());
        }
        let list = tags.as_array_mut()?;
        for f in self.adhoc {
            list.push(serde_json::json!({"key": f.key, "operator": f.operator, "value": f.value}));
        }
        obj.insert(
            "adhocFilters".into(),
            Value::Array(
                self.adhoc
                    .iter()
                    .map(|f| serde_json::json!({"key": f.key, "operator": f.operator, "value": f.value, "condition": f.condition}))
                    .collect(),
            ),
        );
        Some(t)
    }
}

/// A library panel as the dashboard shows it (`LibraryPanelBehavior.
/// setPanelFromLibPanel`, `public/app/features/dashboard-scene/scene/`): the
/// library model's queries, data source, type and time overrides, with the
/// dashboard panel's id and place, its title when it has one, and its repeat
/// (else the model's).
fn library_panel(placeholder: &Value, model: &Value) -> Value {
    let mut merged = model.clone();
    let Some(obj) = merged.as_object_mut() else {
        return merged;
    };
    obj.remove("libraryPanel");
    for key in ["id", "gridPos"] {
        match placeholder.get(key) {
            Some(v) => obj.insert(key.into(), v.clone()),
            None => obj.remove(key),
        };
    }
    for key in ["title", "repeat", "repeatDirection"] {
        if let Some(v) = placeholder
            .get(key)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            obj.insert(key.into(), v.clone());
        }
    }
    merged
}

/// The ad hoc filters builder queries get (InfluxDB or unnamed data sources).
fn adhoc_filters(variables: &[Variable]) -> Vec<variables::AdhocFilter> {
    variables
        .iter()
        .filter(|v| v.kind == VariableKind::Adhoc)
        .filter(|v| {
            v.datasource
                .as_ref()
                .is_none_or(|d| d.kind.is_empty() || d.is_influxdb())
        })
        .flat_map(|v| v.extra.filters.iter().cloned())
        .collect()
}

/// A library panel whose model the export does not carry: where it sits, for
/// when its model comes from Grafana (`/api/library-elements/<uid>`).
#[derive(Debug, Clone)]
pub(crate) struct PendingLibrary {
    uid: String,
    placeholder: Value,
    row: Option<String>,
    collapsed: bool,
    row_repeat: Option<usize>,
    /// The placeholder's label in [`Dashboard::skipped`].
    label: String,
}

impl Dashboard {
    /// The library panels (uid) whose model is not in the export.
    pub fn missing_library_panels(&self) -> Vec<String> {
        let mut uids: Vec<String> = self.library_pending.iter().map(|p| p.uid.clone()).collect();
        uids.dedup();
        uids
    }

    /// Load the library panels whose model `models` (uid → model) now holds,
    /// as if the export had carried them; they leave [`Dashboard::skipped`].
    pub fn add_library_models(&mut self, models: &HashMap<String, Value>) -> Result<()> {
        let inputs: HashMap<String, String> = self
            .inputs
            .iter()
            .map(|i| (i.name.clone(), i.plugin_id.clone()))
            .collect();
        let ds_vars = datasource_variables(&self.variables);
        let adhoc = adhoc_filters(&self.variables);
        let (now, later): (Vec<PendingLibrary>, Vec<PendingLibrary>) =
            std::mem::take(&mut self.library_pending)
                .into_iter()
                .partition(|p| models.contains_key(&p.uid));
        self.library_pending = later;
        let mut walk = Walk {
            source: &self.source,
            elements: models,
            inputs: &inputs,
            variables: &self.variables,
            panels: Vec::new(),
            skipped: Vec::new(),
            ds_vars: &ds_vars,
            adhoc: &adhoc,
            pending: Vec::new(),
        };
        for p in &now {
            walk.panel(&p.placeholder, p.row.as_deref(), p.collapsed, p.row_repeat)?;
        }
        let (panels, skipped) = (walk.panels, walk.skipped);
        self.skipped.retain(|s| {
            !now.iter()
                .any(|p| p.label == s.panel && s.reason.starts_with("library panel"))
        });
        self.skipped.extend(skipped);
        self.panels.extend(panels);
        Ok(())
    }

    /// A library panel Grafana could not give: say why in its skip reason.
    pub fn library_unavailable(&mut self, uid: &str, why: &str) {
        for p in self.library_pending.iter().filter(|p| p.uid == uid) {
            for s in self.skipped.iter_mut().filter(|s| s.panel == p.label) {
                s.reason = format!("{}; Grafana: {why}", s.reason);
            }
        }
    }
}

/// Data-source variables: (name, plugin type) (`query` holds the plugin id).
fn datasource_variables(variables: &[Variable]) -> Vec<(String, String)> {
    variables
        .iter()
        .filter(|v| v.kind == VariableKind::Datasource)
        .map(|v| (v.name.clone(), v.query.clone()))
        .collect()
}

/// A data source written as a data-source variable (`$ds`, `${ds}`, `[[ds]]`)
/// is the target's data source of the variable's plugin type, bound as the
/// default one is ([`Dashboard::bind_datasource`]).
fn bind_variable_ds(d: DatasourceRef, ds_vars: &[(String, String)]) -> DatasourceRef {
    let name = d
        .uid
        .trim_start_matches("${")
        .trim_start_matches('$')
        .trim_start_matches("[[")
        .trim_end_matches('}')
        .trim_end_matches("]]");
    if !(d.uid.starts_with('$') || d.uid.starts_with("[[")) {
        return d;
    }
    match ds_vars.iter().find(|(n, _)| n == name) {
        Some((_, plugin)) => DatasourceRef {
            kind: if plugin.is_empty() {
                "influxdb".into()
            } else {
                plugin.clone()
            },
            uid: String::new(),
            placeholder: true,
        },
        None => d,
    }
}

/// A panel's `timeFrom` as Grafana's `describeTextRange` reads it: `7d` is
/// `now-7d..now`, `now/M` is `now/M..now`, `+1h` is `now..now+1h`.
pub(crate) fn time_from_range(s: &str) -> Result<TimeRange> {
    let s = s.trim();
    if let Some(ahead) = s.strip_prefix('+') {
        let to = if ahead.contains("now") {
            ahead.to_string()
        } else {
            format!("now+{ahead}")
        };
        return TimeRange::parse("now", &to);
    }
    let from = if s.contains("now") {
        s.to_string()
    } else {
        format!("now-{s}")
    };
    TimeRange::parse(&from, "now")
}

/// A panel's `timeShift` (`1d`, `1M/M`) as the date-math steps that move both
/// ends of the range (`parseDateMath('-' + shift, bound)`).
pub(crate) fn time_shift_ops(s: &str) -> std::result::Result<timerange::TimeExpr, String> {
    timerange::TimeExpr::parse(&format!("now-{}", s.trim()))
}

enum TargetError {
    /// Grafana could not run it either: leave it out, say why.
    Skip(String),
    /// The dashboard itself is wrong (e.g. an unknown variable format).
    Fatal(String),
}

/// `A`…`Z`, then `AA`, `AB`, … as Grafana's `getNextRefId`.
fn ref_id_for(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if i < 26 {
        (letters[i] as char).to_string()
    } else {
        let first = letters[(i / 26 - 1) % 26] as char;
        format!("{first}{}", letters[i % 26] as char)
    }
}
