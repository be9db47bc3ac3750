//! Old dashboard exports brought up to the current layout the way Grafana's
//! `DashboardMigrator.updateSchema` does on load
//! (`public/app/features/dashboard/state/DashboardMigrator.ts`), so a Grafana 2–4
//! export loads as Grafana would show it.
//!
//! Only the steps that change what a load queries are applied, each under the
//! schema version Grafana applies it for (`schemaVersion` absent counts as 0):
//! - < 2: `services.filter.time` / `.list` become `time` / `templating.list`.
//! - < 6: a template variable without a `type` (or type `filter`) is a query variable.
//! - < 8: the InfluxDB 0.9 target model (`fields` + `tags` + `groupBy`) becomes
//!   `select` parts; `groupBy` `interval`/`key` become `params`; `fill` becomes a
//!   `fill` group-by part (a raw query just drops `fields` and `fill`).
//! - < 12: a variable `refresh` that is set becomes 1 (on load), else 0.
//! - < 16: `rows` become panels on the 24-column grid (`upgradeToGridLayout`):
//!   `span` (of 12) × 2 columns wide, heights in px over 38 px grid rows, panels
//!   placed left to right and wrapped like Grafana's `RowArea`; row panels are
//!   added only when a row is collapsed, repeated or shows its title; a collapsed
//!   row keeps its panels inside it; `repeatIteration` rows are dropped; `repeat`
//!   of rows and panels is carried over. Panels are then sorted by grid position
//!   (`DashboardModel.sortPanelsByGridPos`).
//! - < 17: `minSpan` becomes `maxPerRow`.
//! - < 29: a query variable refreshes at least on load (`refresh` 0 becomes 1)
//!   and its saved `options` are dropped.
//!
//! Panel ids missing in a < 3 export are assigned from 1 up, as Grafana's
//! step 3 does (it counts from the panels it has before the rows are laid out).
//! Not applied (no effect on queries): graph axes, thresholds, table styles,
//! links, singlestat → stat, value mappings, CloudWatch, legend options.

use serde_json::{json, Map, Value};

/// Grafana's grid (`app/core/constants.ts`).
const GRID_COLUMN_COUNT: u32 = 24;
const GRID_CELL_HEIGHT: f64 = 30.0;
const GRID_CELL_VMARGIN: f64 = 8.0;
const DEFAULT_PANEL_SPAN: f64 = 4.0;
const DEFAULT_ROW_HEIGHT: f64 = 250.0;
const MIN_PANEL_HEIGHT: f64 = GRID_CELL_HEIGHT * 3.0;

/// The schema version this module brings a dashboard to: the first one without `rows`
/// and with every step above applied.
pub const MIGRATED_TO: u64 = 29;

/// The export's `schemaVersion` (0 when absent, as Grafana reads it).
pub fn schema_version(dash: &Value) -> u64 {
    dash.get("schemaVersion")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Migrate `dash` in place; returns the steps applied, in words (empty when none was needed).
pub fn migrate(dash: &mut Value) -> Vec<String> {
    let old = schema_version(dash);
    let mut steps = Vec::new();
    let Some(obj) = dash.as_object_mut() else {
        return steps;
    };
    if old >= MIGRATED_TO {
        return steps;
    }
    if old < 2 {
        if let Some(filter) = obj.get("services").and_then(|s| s.get("filter")).cloned() {
            if let Some(time) = filter.get("time") {
                obj.insert("time".into(), time.clone());
            }
            let list = filter.get("list").cloned().unwrap_or(json!([]));
            obj.insert("templating".into(), json!({ "list": list }));
            steps.push("services.filter → time, templating".into());
        }
    }
    if old < 6 {
        for v in variables(obj) {
            let kind = v.get("type").and_then(Value::as_str);
            if matches!(kind, None | Some("filter")) {
                v.insert("type".into(), json!("query"));
            }
        }
    }
    if old < 12 {
        for v in variables(obj) {
            let set = v.get("refresh").is_some_and(truthy);
            v.insert("refresh".into(), json!(if set { 1 } else { 0 }));
        }
    }
    if obj.contains_key("rows") && old < 16 {
        let rows = obj.remove("rows").unwrap_or(Value::Null);
        let mut panels = upgrade_to_grid_layout(rows.as_array().map(Vec::as_slice).unwrap_or(&[]));
        sort_by_grid_pos(&mut panels);
        steps.push(format!("rows → {} grid panels", count_panels(&panels)));
        obj.insert("panels".into(), Value::Array(panels));
    }
    // Step 3 counts from the panels Grafana had before the rows were laid out:
    // none for a rows export, so missing ids are numbered from 1.
    let mut next_id = 1;
    for_each_panel(obj, &mut |p| {
        if old < 3 && p.get("id").and_then(Value::as_i64).unwrap_or(0) == 0 {
            p["id"] = json!(next_id);
            next_id += 1;
        }
        if old < 8 {
            upgrade_influx_targets(p);
        }
        if old < 17 {
            if let Some(map) = p.as_object_mut() {
                if let Some(min_span) = map.remove("minSpan").and_then(|m| m.as_f64()) {
                    if let Some(per_row) = max_per_row(min_span) {
                        map.insert("maxPerRow".into(), json!(per_row));
                    }
                }
            }
        }
    });
    if old < 29 {
        for v in variables(obj) {
            if v.get("type").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let refresh = v.get("refresh").and_then(Value::as_i64);
            if !matches!(refresh, Some(1 | 2)) {
                v.insert("refresh".into(), json!(1));
            }
            if v.get("options")
                .and_then(Value::as_array)
                .is_some_and(|o| !o.is_empty())
            {
                v.insert("options".into(), json!([]));
            }
        }
    }
    steps.insert(0, format!("schemaVersion {old} → {MIGRATED_TO}"));
    obj.insert("schemaVersion".into(), json!(MIGRATED_TO));
    steps
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn variables(obj: &mut Map<String, Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    obj.get_mut("templating")
        .and_then(|t| t.get_mut("list"))
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Apply `f` to every panel, then to the panels a row panel holds (Grafana's order).
fn for_each_panel(obj: &mut Map<String, Value>, f: &mut impl FnMut(&mut Value)) {
    let panels = obj.get_mut("panels").and_then(Value::as_array_mut);
    for p in panels.into_iter().flatten() {
        f(p);
        let inner = p.get_mut("panels").and_then(Value::as_array_mut);
        for q in inner.into_iter().flatten() {
            f(q);
        }
    }
}

fn count_panels(panels: &[Value]) -> usize {
    panels
        .iter()
        .map(|p| {
            1 + p
                .get("panels")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        })
        .sum()
}

/// `getGridHeight`: px (a number or `"250px"`) to grid rows, at least 3.
fn grid_height(height: &Value) -> u32 {
    let px = match height {
        Value::Number(n) => n.as_f64().unwrap_or(DEFAULT_ROW_HEIGHT),
        // `parseInt("250px")`: the leading digits.
        Value::String(s) => {
            let s = s.trim().trim_end_matches("px");
            let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<f64>().unwrap_or(f64::NAN)
        }
        _ => DEFAULT_ROW_HEIGHT,
    };
    // NaN < 90 is false in JavaScript as here; ceil(NaN) then gives NaN, which
    // Grafana's grid reads as 0: a one-row minimum keeps the panel visible.
    let px = if px < MIN_PANEL_HEIGHT {
        MIN_PANEL_HEIGHT
    } else {
        px
    };
    let rows = (px / (GRID_CELL_HEIGHT + GRID_CELL_VMARGIN)).ceil();
    if rows.is_finite() && rows >= 1.0 {
        rows as u32
    } else {
        1
    }
}

/// Grafana's `RowArea`: how full each column of the current band is.
struct RowArea {
    area: Vec<u32>,
    y_pos: u32,
    height: u32,
}

impl RowArea {
    fn new(height: u32, y_pos: u32) -> RowArea {
        RowArea {
            area: vec![0; GRID_COLUMN_COUNT as usize],
            y_pos,
            height,
        }
    }

    fn add_panel(&mut self, x: u32, y: u32, w: u32, h: u32) {
        for i in x..(x + w).min(GRID_COLUMN_COUNT) {
            let filled = y + h - self.y_pos;
            let cell = &mut self.area[i as usize];
            if *cell == 0 || filled > *cell {
                *cell = filled;
            }
        }
    }

    /// `getPanelPosition`: the free run at the right end of the band, else wrap once.
    fn position(&mut self, width: u32, call_once: bool) -> Option<(u32, u32)> {
        let (mut start, mut end) = (None, None);
        let n = self.area.len();
        for i in (0..n).rev() {
            if self.height as i64 - self.area[i] as i64 > 0 {
                if end.is_none() {
                    end = Some(i);
                } else if i < n - 1 && self.area[i] <= self.area[i + 1] {
                    start = Some(i);
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        if let (Some(s), Some(e)) = (start, end) {
            if e as i64 - s as i64 >= width as i64 - 1 {
                let y = self.area[s..].iter().copied().max().unwrap_or(0);
                return Some((s as u32, y));
            }
        }
        if call_once {
            return None;
        }
        self.y_pos += self.height;
        self.area.fill(0);
        self.position(width, true)
    }
}

/// `upgradeToGridLayout`: the top-level panels for `rows`.
fn upgrade_to_grid_layout(rows: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let mut y_pos: u32 = 0;
    let width_factor = GRID_COLUMN_COUNT / 12;
    let max_panel_id = rows
        .iter()
        .flat_map(|r| {
            r.get("panels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|p| p.get("id").and_then(Value::as_i64))
        .max()
        .unwrap_or(0);
    let mut next_row_id = max_panel_id + 1;
    let flag = |row: &Value, key: &str| row.get(key).is_some_and(truthy);
    let show_rows = rows
        .iter()
        .any(|r| flag(r, "collapse") || flag(r, "showTitle") || flag(r, "repeat"));

    for row in rows {
        if flag(row, "repeatIteration") {
            continue;
        }
        let row_height = grid_height(row.get("height").unwrap_or(&json!(DEFAULT_ROW_HEIGHT)));
        let collapsed = flag(row, "collapse");
        let mut row_panel: Option<Value> = None;
        if show_rows {
            let mut rp = json!({
                "id": next_row_id,
                "type": "row",
                "title": row.get("title").cloned().unwrap_or(Value::Null),
                "collapsed": collapsed,
                "panels": [],
                "gridPos": {"x": 0, "y": y_pos, "w": GRID_COLUMN_COUNT, "h": row_height},
            });
            if let Some(repeat) = row.get("repeat").filter(|r| truthy(r)) {
                rp["repeat"] = repeat.clone();
            }
            row_panel = Some(rp);
            next_row_id += 1;
            y_pos += 1;
        }
        let mut area = RowArea::new(row_height, y_pos);
        for panel in row
            .get("panels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut panel = panel.clone();
            let Some(map) = panel.as_object_mut() else {
                continue;
            };
            let span = map
                .remove("span")
                .and_then(|s| s.as_f64())
                .filter(|s| *s != 0.0)
                .unwrap_or(DEFAULT_PANEL_SPAN);
            if let Some(min_span) = map.get("minSpan").and_then(Value::as_f64) {
                let scaled = (f64::from(GRID_COLUMN_COUNT) / 12.0 * min_span)
                    .min(f64::from(GRID_COLUMN_COUNT));
                map.insert("minSpan".into(), json!(scaled));
            }
            let width = (span.floor().max(1.0) as u32 * width_factor).min(GRID_COLUMN_COUNT);
            let height = match map.get("height") {
                Some(h) if truthy(h) => grid_height(h),
                _ => row_height,
            };
            let (x, y) = area.position(width, false).unwrap_or((0, 0));
            y_pos = area.y_pos;
            let grid = (x, y_pos + y, width, height);
            map.insert(
                "gridPos".into(),
                json!({"x": grid.0, "y": grid.1, "w": grid.2, "h": grid.3}),
            );
            area.add_panel(grid.0, grid.1, grid.2, grid.3);
            match (&mut row_panel, collapsed) {
                (Some(rp), true) => rp["panels"]
                    .as_array_mut()
                    .expect("built above")
                    .push(panel),
                _ => out.push(panel),
            }
        }
        let had_row = row_panel.is_some();
        if let Some(rp) = row_panel {
            out.push(rp);
        }
        if !(had_row && collapsed) {
            y_pos += row_height;
        }
    }
    out
}

/// `sortPanelsByGridPos`: by `y`, then `x` (stable).
fn sort_by_grid_pos(panels: &mut [Value]) {
    let key = |p: &Value| {
        let n = |k: &str| {
            p.pointer(&format!("/gridPos/{k}"))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        (n("y"), n("x"))
    };
    panels.sort_by_key(key);
}

/// Step 17: the largest factor of 24 not above `24 / minSpan`.
fn max_per_row(min_span: f64) -> Option<u32> {
    if min_span <= 0.0 {
        return None;
    }
    let max = f64::from(GRID_COLUMN_COUNT) / min_span;
    const FACTORS: [u32; 8] = [1, 2, 3, 4, 6, 8, 12, 24];
    // `factors[findIndex(o => o > max) - 1]`: with none above, index -2 is undefined.
    let above = FACTORS.iter().position(|&f| f64::from(f) > max)?;
    above.checked_sub(1).map(|i| FACTORS[i])
}

/// Step 8: InfluxDB 0.9 targets (`fields`, `tags`, `groupBy`) to `select` parts.
fn upgrade_influx_targets(panel: &mut Value) {
    let targets = panel.get_mut("targets").and_then(Value::as_array_mut);
    for t in targets
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        if !(t.get("fields").is_some_and(truthy)
            && t.get("tags").is_some_and(truthy)
            && t.get("groupBy").is_some_and(truthy))
        {
            continue;
        }
        if t.get("rawQuery").is_some_and(truthy) {
            t.remove("fields");
            t.remove("fill");
            continue;
        }
        let fields = t.remove("fields").unwrap_or(Value::Null);
        let select: Vec<Value> = fields
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                let mut parts = vec![
                    json!({"type": "field", "params": [f.get("name").cloned().unwrap_or(Value::Null)]}),
                    json!({"type": f.get("func").cloned().unwrap_or(Value::Null), "params": []}),
                ];
                if let Some(m) = f.get("mathExpr").filter(|m| truthy(m)) {
                    parts.push(json!({"type": "math", "params": [m]}));
                }
                if let Some(a) = f.get("asExpr").filter(|a| truthy(a)) {
                    parts.push(json!({"type": "alias", "params": [a]}));
                }
                Value::Array(parts)
            })
            .collect();
        t.insert("select".into(), Value::Array(select));
        if let Some(group_by) = t.get_mut("groupBy").and_then(Value::as_array_mut) {
            for part in group_by.iter_mut().filter_map(Value::as_object_mut) {
                let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
                let moved = match kind {
                    "time" => "interval",
                    "tag" => "key",
                    _ => continue,
                };
                if let Some(v) = part.get(moved).filter(|v| truthy(v)).cloned() {
                    part.insert("params".into(), json!([v]));
                    part.remove(moved);
                }
            }
        }
        if let Some(fill) = t.remove("fill") {
            if truthy(&fill) {
                if let Some(group_by) = t.get_mut("groupBy").and_then(Value::as_array_mut) {
                    group_by.push(json!({"type": "fill", "params": [fill]}));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/dashboards")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// `(type, id, title, [x, y, w, h])` of the top-level panels, and of a row's own panels.
    fn layout(panels: &Value) -> Vec<(String, i64, String, [u64; 4])> {
        panels
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let n = |k: &str| p["gridPos"][k].as_u64().unwrap();
                (
                    p["type"].as_str().unwrap().to_string(),
                    p["id"].as_i64().unwrap(),
                    p["title"].as_str().unwrap_or("").to_string(),
                    [n("x"), n("y"), n("w"), n("h")],
                )
            })
            .collect()
    }

    fn row(kind: &str, id: i64, title: &str, grid: [u64; 4]) -> (String, i64, String, [u64; 4]) {
        (kind.into(), id, title.into(), grid)
    }

    #[test]
    fn grafana4_rows_become_row_panels_on_grafanas_grid() {
        let mut d = fixture("legacy-grafana4-rows.json");
        let steps = migrate(&mut d);
        assert_eq!(steps, ["schemaVersion 14 → 29", "rows → 11 grid panels"]);
        assert!(d.get("rows").is_none());
        assert_eq!(d["schemaVersion"], 29);
        // 250 px rows are 7 grid rows (250 / 38, up); span 6 of 12 is 12 of 24
        // columns; the 100 px singlestat wraps below the full band; row panels
        // (ids from the largest panel id + 1) sit one grid row above their panels;
        // a collapsed row takes no height but its header.
        assert_eq!(
            layout(&d["panels"]),
            [
                row("row", 8, "CPU", [0, 0, 24, 7]),
                row("graph", 1, "CPU user", [0, 1, 12, 7]),
                row("graph", 2, "CPU system", [12, 1, 12, 7]),
                row("singlestat", 3, "Idle now", [0, 8, 8, 3]),
                row("row", 9, "Memory", [0, 15, 24, 8]),
                row("graph", 4, "Memory used on $host", [0, 16, 24, 8]),
                row("row", 10, "Network $host", [0, 24, 24, 6]),
                row("row", 11, "Dashboard Row", [0, 25, 24, 7]),
                row("graph", 6, "Disk used", [0, 26, 8, 7]),
                row("text", 7, "Notes", [8, 26, 16, 7]),
            ]
        );
        let net = &d["panels"][6];
        assert_eq!(
            (net["collapsed"].as_bool(), net["repeat"].as_str()),
            (Some(true), Some("host"))
        );
        assert_eq!(
            layout(&net["panels"]),
            [row("graph", 5, "Bytes received", [0, 25, 24, 6])]
        );
        // Panel repeat carried over; minSpan 4 (of 12) is 8 columns: at most 3 per row.
        let mem = &d["panels"][5];
        assert_eq!(mem["repeat"], "host");
        assert_eq!(mem["maxPerRow"], 3);
        assert!(mem.get("minSpan").is_none() && mem.get("span").is_none());
        // A row without a repeat gets none; an uncollapsed row is `collapsed: false`.
        assert!(d["panels"][0].get("repeat").is_none());
        assert_eq!(d["panels"][0]["collapsed"], false);
        // Query variables refresh on load at least, their saved options dropped.
        let host = &d["templating"]["list"][0];
        assert_eq!(
            (
                host["refresh"].as_i64(),
                host["options"].as_array().map(Vec::len)
            ),
            (Some(1), Some(0))
        );
    }

    #[test]
    fn grafana2_rows_without_titles_give_plain_panels_and_influxdb09_targets_get_select_parts() {
        let mut d = fixture("legacy-grafana2.json");
        migrate(&mut d);
        assert_eq!(
            layout(&d["panels"]),
            [
                row("graph", 1, "CPU idle", [0, 0, 12, 7]),
                row("graph", 2, "Memory (raw)", [12, 0, 12, 7]),
                row("graph", 3, "Network in", [0, 7, 16, 8]),
                row("graph", 4, "Disk", [16, 7, 8, 8]),
            ]
        );
        let t = |i: usize| d["panels"][i]["targets"][0].clone();
        assert_eq!(
            t(0)["select"],
            json!([[{"type": "field", "params": ["usage_idle"]}, {"type": "mean", "params": []}]])
        );
        assert_eq!(
            t(0)["groupBy"],
            json!([{"type": "time", "params": ["auto"]}, {"type": "tag", "params": ["host"]},
                   {"type": "fill", "params": ["null"]}])
        );
        assert!(t(0).get("fields").is_none() && t(0).get("fill").is_none());
        // A raw query keeps its text; the builder fields go.
        assert!(t(1).get("fields").is_none() && t(1).get("fill").is_none());
        assert!(t(1)["query"]
            .as_str()
            .unwrap()
            .starts_with("SELECT mean(\"used_percent\")"));
        assert_eq!(
            t(2)["select"],
            json!([[{"type": "field", "params": ["bytes_recv"]}, {"type": "max", "params": []},
                    {"type": "math", "params": ["/ 1024"]}, {"type": "alias", "params": ["kb"]}]])
        );
        // The `refresh: true` query variable is refreshed on load.
        let host = &d["templating"]["list"][0];
        assert_eq!(
            (host["type"].as_str(), host["refresh"].as_i64()),
            (Some("query"), Some(1))
        );
    }

    #[test]
    fn grafana1_services_filter_and_missing_ids() {
        let mut d = json!({
            "services": {"filter": {"time": {"from": "now-1h", "to": "now"},
                                    "list": [{"name": "h", "query": "SHOW TAG VALUES WITH KEY = \"host\""}]}},
            "rows": [{"height": "90px", "panels": [{"type": "graph", "span": 12}, {"type": "graph", "id": 0, "span": 3}]}]
        });
        migrate(&mut d);
        assert_eq!(d["time"]["from"], "now-1h");
        assert_eq!(d["templating"]["list"][0]["type"], "query");
        assert_eq!(d["templating"]["list"][0]["refresh"], 1);
        // 90 px is the minimum height: 3 grid rows; ids numbered from 1 in order.
        assert_eq!(
            layout(&d["panels"]),
            [
                row("graph", 1, "", [0, 0, 24, 3]),
                row("graph", 2, "", [0, 3, 6, 3])
            ]
        );
    }

    #[test]
    fn repeat_iterations_are_dropped_and_current_exports_are_left_alone() {
        let mut d = json!({"schemaVersion": 12, "rows": [
            {"title": "r", "repeat": "host", "panels": [{"id": 1, "type": "graph"}]},
            {"title": "r", "repeatIteration": 1_500_000_000, "panels": [{"id": 2, "type": "graph"}]}
        ]});
        migrate(&mut d);
        let ids: Vec<i64> = d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [3, 1], "the row panel (id 3), then its one panel");
        let current = json!({"schemaVersion": 38, "panels": [], "templating": {"list": [{"type": "query", "refresh": 0}]}});
        let mut same = current.clone();
        assert!(migrate(&mut same).is_empty());
        assert_eq!(same, current);
    }

    #[test]
    fn heights_and_per_row_follow_grafanas_helpers() {
        assert_eq!(grid_height(&json!("250px")), 7);
        assert_eq!(grid_height(&json!(300)), 8);
        assert_eq!(grid_height(&json!("30px")), 3);
        assert_eq!(grid_height(&json!(1000)), 27);
        assert_eq!(max_per_row(8.0), Some(3));
        assert_eq!(max_per_row(24.0), Some(1));
        assert_eq!(max_per_row(2.0), Some(12));
    }

    /// The fixtures load through `dashboard::load` as Grafana would show them.
    mod loaded {
        use super::super::super::{load, Dashboard, TimeRange, View};

        const NOW: i64 = 1_763_856_000_000;

        fn fixture(name: &str) -> Dashboard {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/dashboards")
                .join(name);
            load(&path).unwrap()
        }

        fn influxql(d: &Dashboard, title: &str) -> Vec<String> {
            let sel = d.saved_selections();
            let range = TimeRange::parse("now-6h", "now").unwrap();
            let view = View::new(d, &range, NOW, &sel);
            let p = d.panels.iter().find(|p| p.title == title).unwrap();
            let req = view.panel_request(p);
            req.queries
                .into_iter()
                .map(|q| q.influxql.unwrap())
                .collect()
        }

        #[test]
        fn grafana4_export_loads_with_rows_lazy_loading_and_skips() {
            let d = fixture("legacy-grafana4-rows.json");
            let shown: Vec<(&str, Option<&str>, bool, bool)> = d
                .panels
                .iter()
                .map(|p| {
                    (
                        p.title.as_str(),
                        p.row.as_deref(),
                        p.in_collapsed_row,
                        p.first_screen,
                    )
                })
                .collect();
            assert_eq!(
                shown,
                [
                    ("CPU user", Some("CPU"), false, true),
                    ("CPU system", Some("CPU"), false, true),
                    ("Idle now", Some("CPU"), false, true),
                    ("Memory used on $host", Some("Memory"), false, true),
                    ("Bytes received", Some("Network $host"), true, false),
                    ("Disk used", Some("Dashboard Row"), false, false),
                ]
            );
            assert_eq!(d.skipped.len(), 1, "{:?}", d.skipped);
            assert_eq!(d.skipped[0].reason, "text panel has no queries");
            // The grid width gives maxDataPoints: 12 columns are 940 px.
            assert_eq!(d.panels[0].max_data_points, 940);
            let tf = "time >= 1763834400000ms and time <= 1763856000000ms";
            assert_eq!(
                influxql(&d, "CPU system"),
                [format!(
                    "SELECT mean(\"usage_system\") FROM \"cpu\" WHERE (\"host\" =~ /^(web1)$/ AND \"cpu\" = 'cpu-total') \
                     AND {tf} GROUP BY time(20s) fill(null)"
                )]
            );
            assert_eq!(
                d.migrated,
                ["schemaVersion 14 → 29", "rows → 11 grid panels"]
            );
        }

        #[test]
        fn grafana2_export_runs_its_influxdb09_targets_through_the_builder() {
            let d = fixture("legacy-grafana2.json");
            assert!(d.skipped.is_empty(), "{:?}", d.skipped);
            let tf = "time >= 1763834400000ms and time <= 1763856000000ms";
            assert_eq!(
                influxql(&d, "CPU idle"),
                [format!(
                    "SELECT mean(\"usage_idle\") FROM \"cpu\" WHERE \"host\" =~ /web1$/ AND {tf} \
                     GROUP BY time(20s), \"host\" fill(null)"
                )]
            );
            assert_eq!(
                influxql(&d, "Network in"),
                [format!(
                    "SELECT max(\"bytes_recv\") / 1024 AS \"kb\" FROM \"net\" WHERE \"interface\" = 'eth0' AND {tf} \
                     GROUP BY time(1m) fill(0)"
                )]
            );
            assert_eq!(
                influxql(&d, "Disk"),
                [format!(
                    "SELECT last(\"used_percent\"), max(\"used_percent\") FROM \"disk\" WHERE \"host\" = 'web1' AND {tf} \
                     GROUP BY time(5m) fill(none)"
                )]
            );
            assert_eq!(
                influxql(&d, "Memory (raw)"),
                [format!("SELECT mean(\"used_percent\") FROM \"mem\" WHERE {tf} GROUP BY time(20s) fill(null)")]
            );
            // refIds assigned; the variable is a query variable, refreshed on load.
            assert_eq!(d.panels[0].targets[0].ref_id, "A");
            assert_eq!(d.variables[0].refresh, super::super::super::Refresh::OnLoad);
        }
    }
}

#[cfg(test)]
mod proptests {
    //! Any rows layout migrates without a panic into panels inside the 24
    //! columns, sorted as Grafana sorts them, none lost.

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::migrate;

    fn height() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            (0u32..2000).prop_map(|n| json!(n)),
            (0u32..2000).prop_map(|n| json!(format!("{n}px"))),
            "[ -~]{0,6}".prop_map(Value::String),
            (-50.0f64..50.0).prop_map(|f| json!(f)),
        ]
    }

    fn panel() -> impl Strategy<Value = Value> {
        (
            prop::option::of(0i64..40),
            prop_oneof![
                Just(Value::Null),
                (-2.0f64..15.0).prop_map(|s| json!(s)),
                (0u32..14).prop_map(|s| json!(s))
            ],
            height(),
            prop::option::of(0u32..14),
        )
            .prop_map(|(id, span, height, min_span)| {
                let mut p = json!({"type": "graph", "span": span, "height": height});
                if let Some(id) = id {
                    p["id"] = json!(id);
                }
                if let Some(m) = min_span {
                    p["minSpan"] = json!(m);
                }
                p
            })
    }

    fn row() -> impl Strategy<Value = Value> {
        (
            prop::collection::vec(panel(), 0..6),
            height(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of("[a-z]{1,4}"),
            prop::bool::weighted(0.1),
        )
            .prop_map(
                |(panels, height, collapse, show_title, repeat, iteration)| {
                    let mut r = json!({"title": "r", "panels": panels, "height": height,
                                   "collapse": collapse, "showTitle": show_title});
                    if let Some(v) = repeat {
                        r["repeat"] = json!(v);
                    }
                    if iteration {
                        r["repeatIteration"] = json!(1);
                    }
                    r
                },
            )
    }

    proptest! {
        #![proptest_config(crate::proptest_support::config(64))]

        #[test]
        fn prop_rows_become_panels_inside_the_grid_sorted_and_none_lost(
            rows in prop::collection::vec(row(), 0..5),
            version in 0u64..16,
        ) {
            let mut d = json!({"schemaVersion": version, "rows": rows.clone()});
            migrate(&mut d);
            let kept: Vec<&Value> = rows.iter().filter(|r| r["repeatIteration"].is_null()).collect();
            let inner: usize = kept.iter().map(|r| r["panels"].as_array().unwrap().len()).sum();
            let top = d["panels"].as_array().unwrap();
            let mut all = Vec::new();
            for p in top {
                all.push(p);
                all.extend(p["panels"].as_array().into_iter().flatten());
            }
            let row_panels = all.iter().filter(|p| p["type"] == "row").count();
            prop_assert_eq!(all.len() - row_panels, inner);
            prop_assert!(row_panels == 0 || row_panels == kept.len());
            for p in &all {
                let n = |k: &str| p["gridPos"][k].as_u64().unwrap();
                prop_assert!(n("w") >= 1 && n("x") + n("w") <= 24, "{}", p);
                prop_assert!(n("h") >= 1, "{}", p);
                prop_assert!(p.get("span").is_none());
            }
            let keys: Vec<(u64, u64)> = top
                .iter()
                .map(|p| (p["gridPos"]["y"].as_u64().unwrap(), p["gridPos"]["x"].as_u64().unwrap()))
                .collect();
            prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{:?}", keys);
        }
    }
}
