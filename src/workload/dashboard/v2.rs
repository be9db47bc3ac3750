//! Grafana 12's dashboard format (schema v2: `apiVersion:
//! dashboard.grafana.app/v2alpha…/v2beta…`, `spec.elements` and `spec.layout`)
//! turned into the classic model the rest of this module reads, as Grafana's
//! own conversion does, from the v2 schema's CUE definitions (v2alpha0
//! `DashboardV2Spec`: `PanelKind`, `QueryGroupKind`, `GridLayoutKind`,
//! `RowsLayoutKind`, `TabsLayoutKind`, `AutoGridLayoutKind`, the variable
//! kinds; v2beta1 queries as `DataQuery` with `group` and `datasource.name`).
//!
//! Layouts: a grid keeps its places; rows become classic rows (collapsed ones
//! load nothing until opened); of tabs only the first is shown on load, the
//! others are collapsed rows; an auto grid lays its panels `maxColumnCount`
//! (3) per row, 24 / columns wide and as high as its `rowHeightMode` (short 5,
//! standard 9, tall 14 grid rows; an approximation of its pixel heights).
//! What the classic model cannot express (`conditionalRendering`, repeated
//! tabs, element kinds other than panels and library panels) is refused,
//! naming it.

use serde_json::{json, Map, Value};

/// Whether `root` is a v2 dashboard (resource or bare spec).
pub fn is_v2(root: &Value) -> bool {
    let api = root.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api.starts_with("dashboard.grafana.app/v2") {
        return true;
    }
    let spec = root.get("spec").unwrap_or(root);
    spec.get("elements").is_some_and(Value::is_object) && spec.get("layout").is_some()
}

/// The classic model of a v2 dashboard; the error names the construct not supported.
pub fn to_classic(root: &Value) -> Result<Value, String> {
    let spec = root.get("spec").unwrap_or(root);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let uid = text(root.pointer("/metadata/name"));
    let time = spec.get("timeSettings").cloned().unwrap_or(json!({}));
    let mut c = Converter {
        elements: spec
            .get("elements")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        panels: Vec::new(),
    };
    let layout = spec
        .get("layout")
        .ok_or("a v2 dashboard without a layout")?;
    c.layout(layout, 0, None, "layout")?;
    let mut variables = Vec::new();
    for (i, v) in spec
        .get("variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        variables.push(variable(v).map_err(|e| format!("variables[{i}]: {e}"))?);
    }
    Ok(json!({
        "uid": uid,
        "title": text(spec.get("title")),
        "schemaVersion": 41,
        "timezone": text(time.get("timezone")),
        "time": {
            "from": time.get("from").and_then(Value::as_str).unwrap_or("now-6h"),
            "to": time.get("to").and_then(Value::as_str).unwrap_or("now"),
        },
        "refresh": text(time.get("autoRefresh")),
        "templating": {"list": variables},
        "panels": c.panels,
    }))
}

struct Converter {
    elements: Map<String, Value>,
    panels: Vec<Value>,
}

/// Where converted panels go: the top level, or a collapsed row's own list.
type Collapsed<'a> = Option<&'a mut Vec<Value>>;

impl Converter {
    /// Convert `layout` placed from grid row `y`; returns the row after it.
    fn layout(
        &mut self,
        layout: &Value,
        y: u64,
        mut into: Collapsed<'_>,
        at: &str,
    ) -> Result<u64, String> {
        refuse_conditional(layout, at)?;
        let kind = layout.get("kind").and_then(Value::as_str).unwrap_or("");
        let spec = layout.get("spec").cloned().unwrap_or(json!({}));
        let list = |k: &str| {
            spec.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        match kind {
            "GridLayout" => {
                let mut bottom = y;
                for (i, item) in list("items").iter().enumerate() {
                    let at = format!("{at}.items[{i}]");
                    refuse_conditional(item, &at)?;
                    let s = item.get("spec").cloned().unwrap_or(json!({}));
                    let n = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
                    match item.get("kind").and_then(Value::as_str) {
                        Some("GridLayoutItem") => {
                            let grid = json!({"x": n("x"), "y": y + n("y"), "w": n("width"), "h": n("height")});
                            bottom = bottom.max(y + n("y") + n("height"));
                            let p = self.element(&s, grid, &at)?;
                            push(&mut self.panels, into.as_deref_mut(), p);
                        }
                        Some("GridLayoutRow") => {
                            let row_y = y + n("y");
                            let collapsed =
                                s.get("collapsed").and_then(Value::as_bool).unwrap_or(false);
                            let inner = json!({"kind": "GridLayout", "spec": {"items": s.get("elements").cloned().unwrap_or(json!([]))}});
                            bottom = bottom.max(self.row(
                                &s,
                                row_y,
                                collapsed,
                                &inner,
                                into.as_deref_mut(),
                                &at,
                            )?);
                        }
                        other => {
                            return Err(format!("{at}: grid item kind {other:?} is not supported"))
                        }
                    }
                }
                Ok(bottom)
            }
            "RowsLayout" => {
                let mut y = y;
                for (i, row) in list("rows").iter().enumerate() {
                    let at = format!("{at}.rows[{i}]");
                    refuse_conditional(row, &at)?;
                    let s = row.get("spec").cloned().unwrap_or(json!({}));
                    let collapsed = s.get("collapse").and_then(Value::as_bool).unwrap_or(false);
                    let inner = s
                        .get("layout")
                        .cloned()
                        .ok_or(format!("{at}: row without a layout"))?;
                    y = self.row(&s, y, collapsed, &inner, into.as_deref_mut(), &at)?;
                }
                Ok(y)
            }
            "TabsLayout" => {
                let mut y = y;
                for (i, tab) in list("tabs").iter().enumerate() {
                    let at = format!("{at}.tabs[{i}]");
                    refuse_conditional(tab, &at)?;
                    let s = tab.get("spec").cloned().unwrap_or(json!({}));
                    if s.get("repeat").is_some() {
                        return Err(format!("{at}: a repeated tab is not supported"));
                    }
                    let inner = s
                        .get("layout")
                        .cloned()
                        .ok_or(format!("{at}: tab without a layout"))?;
                    // Only the first tab shows on load; the others as collapsed rows.
                    y = if i == 0 {
                        self.layout(&inner, y, into.as_deref_mut(), &format!("{at}.layout"))?
                    } else {
                        let title = s.get("title").and_then(Value::as_str).unwrap_or("");
                        let row = json!({"title": format!("tab {title}")});
                        self.row(&row, y, true, &inner, into.as_deref_mut(), &at)?
                    };
                }
                Ok(y)
            }
            "AutoGridLayout" => {
                let cols = spec
                    .get("maxColumnCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(3)
                    .clamp(1, 24);
                let h = match spec.get("rowHeightMode").and_then(Value::as_str) {
                    Some("short") => 5,
                    Some("tall") => 14,
                    _ => 9,
                };
                let w = 24 / cols;
                let items = list("items");
                for (i, item) in items.iter().enumerate() {
                    let at = format!("{at}.items[{i}]");
                    refuse_conditional(item, &at)?;
                    let s = item.get("spec").cloned().unwrap_or(json!({}));
                    let (col, line) = (i as u64 % cols, i as u64 / cols);
                    let grid = json!({"x": col * w, "y": y + line * h, "w": w, "h": h});
                    let p = self.element(&s, grid, &at)?;
                    push(&mut self.panels, into.as_deref_mut(), p);
                }
                Ok(y + (items.len() as u64).div_ceil(cols) * h)
            }
            other => Err(format!("{at}: layout kind {other:?} is not supported")),
        }
    }

    /// A classic row at `y` holding `inner`; returns the row after it.
    fn row(
        &mut self,
        spec: &Value,
        y: u64,
        collapsed: bool,
        inner: &Value,
        into: Collapsed<'_>,
        at: &str,
    ) -> Result<u64, String> {
        let mut row = json!({
            "type": "row", "title": spec.get("title").and_then(Value::as_str).unwrap_or(""),
            "collapsed": collapsed, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": [],
        });
        if let Some(r) = spec.pointer("/repeat/value").and_then(Value::as_str) {
            row["repeat"] = json!(r);
        }
        let inside_collapsed = into.is_some();
        if collapsed || inside_collapsed {
            let mut held = Vec::new();
            let end = self.layout(inner, y + 1, Some(&mut held), &format!("{at}.layout"))?;
            match into {
                // A row inside a collapsed one: its panels load with the outer row.
                Some(outer) => outer.extend(held),
                None => {
                    row["panels"] = Value::Array(held);
                    self.panels.push(row);
                }
            }
            Ok(if collapsed { y + 1 } else { end })
        } else {
            self.panels.push(row);
            self.layout(inner, y + 1, None, &format!("{at}.layout"))
        }
    }

    /// The classic panel of an element reference (`spec.element`), placed at `grid`.
    fn element(&self, item: &Value, grid: Value, at: &str) -> Result<Value, String> {
        let name = item
            .pointer("/element/name")
            .and_then(Value::as_str)
            .ok_or(format!("{at}: no element reference"))?;
        let e = self
            .elements
            .get(name)
            .ok_or(format!("{at}: element {name:?} is not in spec.elements"))?;
        let s = e.get("spec").cloned().unwrap_or(json!({}));
        let mut p = match e.get("kind").and_then(Value::as_str) {
            Some("Panel") => panel(&s).map_err(|why| format!("element {name:?}: {why}"))?,
            Some("LibraryPanel") => json!({
                "id": s.get("id"), "title": s.get("title"),
                "libraryPanel": s.get("libraryPanel"),
            }),
            other => return Err(format!("element {name:?}: kind {other:?} is not supported")),
        };
        p["gridPos"] = grid;
        if let Some(r) = item.pointer("/repeat/value").and_then(Value::as_str) {
            p["repeat"] = json!(r);
            if let Some(d) = item.pointer("/repeat/direction") {
                p["repeatDirection"] = d.clone();
            }
        }
        Ok(p)
    }
}

fn push(top: &mut Vec<Value>, into: Collapsed<'_>, p: Value) {
    match into {
        Some(list) => list.push(p),
        None => top.push(p),
    }
}

/// `conditionalRendering` hides a part by a rule dashload does not evaluate.
fn refuse_conditional(v: &Value, at: &str) -> Result<(), String> {
    match v.pointer("/spec/conditionalRendering") {
        Some(c) if !c.is_null() => Err(format!(
            "{at}: conditionalRendering is not supported (dashload cannot tell whether the part shows)"
        )),
        _ => Ok(()),
    }
}

/// A `PanelKind` spec as a classic panel.
fn panel(s: &Value) -> Result<Value, String> {
    let data = s.pointer("/data/spec").cloned().unwrap_or(json!({}));
    let mut targets = Vec::new();
    let mut panel_ds = Value::Null;
    for q in data
        .get("queries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let qs = q.get("spec").cloned().unwrap_or(json!({}));
        let query = qs.get("query").cloned().unwrap_or(json!({}));
        let mut t = query
            .get("spec")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // v2alpha: the query's kind is the data source type, `datasource` beside it;
        // v2beta: `kind: DataQuery`, `group` the type, `datasource.name` the uid.
        let ds = match (
            query.get("kind").and_then(Value::as_str),
            qs.get("datasource"),
        ) {
            (Some("DataQuery"), _) => json!({
                "type": query.get("group").and_then(Value::as_str).unwrap_or(""),
                "uid": query.pointer("/datasource/name").and_then(Value::as_str).unwrap_or(""),
            }),
            (_, Some(d)) => d.clone(),
            (Some(kind), None) => json!({"type": kind}),
            (None, None) => Value::Null,
        };
        if panel_ds.is_null() {
            panel_ds = ds.clone();
        }
        t.insert(
            "refId".into(),
            qs.get("refId").cloned().unwrap_or(json!("")),
        );
        t.insert(
            "hide".into(),
            qs.get("hidden").cloned().unwrap_or(json!(false)),
        );
        if !ds.is_null() {
            t.insert("datasource".into(), ds);
        }
        targets.push(Value::Object(t));
    }
    let vis = s.get("vizConfig").cloned().unwrap_or(json!({}));
    let kind = vis
        .get("group")
        .or(vis.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut p = json!({
        "id": s.get("id"), "title": s.get("title"), "type": kind,
        "datasource": panel_ds, "targets": targets,
    });
    if let Some(o) = data.get("queryOptions").and_then(Value::as_object) {
        for k in ["interval", "maxDataPoints", "timeFrom", "timeShift"] {
            if let Some(v) = o.get(k) {
                p[k] = v.clone();
            }
        }
    }
    Ok(p)
}

/// A variable kind as a classic `templating.list` entry.
fn variable(v: &Value) -> Result<Value, String> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut s = v
        .get("spec")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ty = match kind {
        "QueryVariable" => "query",
        "CustomVariable" => "custom",
        "ConstantVariable" => "constant",
        "IntervalVariable" => "interval",
        "TextVariable" => "textbox",
        "DatasourceVariable" => "datasource",
        "AdhocVariable" => "adhoc",
        "GroupByVariable" => "groupby",
        other => return Err(format!("variable kind {other:?} is not supported")),
    };
    s.insert("type".into(), json!(ty));
    let refresh = match s.get("refresh").and_then(Value::as_str) {
        Some("onDashboardLoad") => 1,
        Some("onTimeRangeChanged") => 2,
        _ => 0,
    };
    s.insert("refresh".into(), json!(refresh));
    if let Some(sort) = s.get("sort").and_then(Value::as_str) {
        let n = [
            "disabled",
            "alphabeticalAsc",
            "alphabeticalDesc",
            "numericalAsc",
            "numericalDesc",
            "alphabeticalCaseInsensitiveAsc",
            "alphabeticalCaseInsensitiveDesc",
            "naturalAsc",
            "naturalDesc",
        ]
        .iter()
        .position(|k| *k == sort)
        .unwrap_or(0);
        s.insert("sort".into(), json!(n));
    }
    if kind == "QueryVariable" {
        // `query` is a DataQueryKind: its spec holds the query text.
        let q = s.get("query").cloned().unwrap_or(json!({}));
        let text = q
            .pointer("/spec/query")
            .or(s.get("definition"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if q.get("kind").and_then(Value::as_str) == Some("DataQuery")
            && !s.contains_key("datasource")
        {
            s.insert(
                "datasource".into(),
                json!({"type": q.get("group"), "uid": q.pointer("/datasource/name")}),
            );
        }
        s.insert("query".into(), json!(text));
    }
    if kind == "DatasourceVariable" {
        let plugin = s.get("pluginId").cloned().unwrap_or(json!(""));
        s.insert("query".into(), plugin);
    }
    Ok(Value::Object(s))
}
