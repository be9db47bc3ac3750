//! Grafana's InfluxQL query builder, rendered as its backend renders it
//! (`pkg/tsdb/influxdb/models/query.go` and `query_part.go`, DOMAIN.md §1.4, §1.6).
//!
//! A builder-mode target (no `rawQuery`) stores the query as parts: measurement,
//! policy, `select` chains, `tags`, `groupBy`, `orderByTime`, `limit`, `slimit`,
//! `tz`. Grafana's backend turns them into one statement:
//!
//! `SELECT <selects> FROM ["<policy>".]"<measurement>" WHERE [(<tags>) AND ]$timeFilter
//!  [GROUP BY …][ ORDER BY time …][ limit n][ slimit n][ tz('…')]`
//!
//! quirks included: a math part is appended after a space (`mean("value") / 100`),
//! `fill(…)` follows the previous group-by without a comma, `=`/`!=` tag values
//! are single-quoted with backslashes doubled and `/^…$/` wrappers removed, and
//! `<`/`>` values go unquoted. `$timeFilter` and `$__interval` are left in, for
//! [`crate::workload::macros::expand`], which gives the backend's exact text.
//!
//! The output is a [`Template`]: dashboard variables inside tag values,
//! measurements or parameters stay references, so the frontend's interpolation
//! runs per request. An unknown part type fails the query in Grafana
//! ("missing query definition"); here it is an error the caller turns into a
//! skip reason.

use serde_json::Value;

use super::template::Template;
use super::variables::Variable;

/// Part types Grafana's backend knows, by renderer.
fn renderer(kind: &str) -> Option<Renderer> {
    Some(match kind {
        "field" | "tag" => Renderer::Field,
        "math" => Renderer::Suffix,
        "alias" => Renderer::Alias,
        "spread"
        | "count"
        | "distinct"
        | "integral"
        | "mean"
        | "median"
        | "sum"
        | "mode"
        | "cumulative_sum"
        | "non_negative_difference"
        | "holt_winters"
        | "holt_winters_with_fit"
        | "derivative"
        | "non_negative_derivative"
        | "difference"
        | "moving_average"
        | "stddev"
        | "time"
        | "fill"
        | "elapsed"
        | "bottom"
        | "first"
        | "last"
        | "max"
        | "min"
        | "percentile"
        | "top" => Renderer::Function,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Renderer {
    Field,
    Function,
    Suffix,
    Alias,
}

struct Part {
    kind: String,
    params: Vec<String>,
}

fn parse_part(v: &Value) -> Result<Part, String> {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("query part without a \"type\": {v}"))?
        .to_string();
    let mut params = Vec::new();
    for p in v
        .get("params")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match p {
            Value::String(s) => params.push(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => params.push(n.to_string()),
            other => {
                return Err(format!(
                    "{kind}: parameter {other} is not a string or integer"
                ))
            }
        }
    }
    if renderer(&kind).is_none() {
        return Err(format!(
            "unsupported query part {kind:?} (Grafana's backend has no definition for it)"
        ));
    }
    Ok(Part { kind, params })
}

/// Quote an identifier as `fieldRenderer` does (`*`, `"x"`, `"x"::tag`, `"x"::field`).
fn quote_ident(name: &str) -> String {
    if name == "*" {
        return "*".into();
    }
    for suffix in ["::tag", "::field"] {
        if let Some(base) = name.strip_suffix(suffix) {
            return format!("\"{base}\"{suffix}");
        }
    }
    format!("\"{name}\"")
}

fn render_part(part: &Part, inner: &str) -> Result<String, String> {
    let first = || {
        part.params
            .first()
            .cloned()
            .ok_or_else(|| format!("{}: missing parameter", part.kind))
    };
    Ok(match renderer(&part.kind).expect("checked in parse_part") {
        Renderer::Field => quote_ident(&first()?),
        Renderer::Suffix => format!("{inner} {}", first()?),
        Renderer::Alias => format!("{inner} AS \"{}\"", first()?),
        Renderer::Function => {
            let mut params: Vec<&str> = Vec::with_capacity(part.params.len() + 1);
            if !inner.is_empty() {
                params.push(inner);
            }
            for p in &part.params {
                params.push(if part.kind == "time" && p == "auto" {
                    "$__interval"
                } else {
                    p
                });
            }
            format!("{}({})", part.kind, params.join(", "))
        }
    })
}

fn string_field(target: &Value, key: &str) -> String {
    match target.get(key) {
        Some(Value::String(s)) => s.clone(),
        // The frontend sends `limit.toString()`, so numbers count too.
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `^/\^(.*)\$/$` → the inner value (Go's `removeRegexWrappers`).
fn strip_regex_wrapper(value: &str) -> Option<&str> {
    value.strip_prefix("/^")?.strip_suffix("$/")
}

/// Render a builder-mode target into a template; `Err` is a skip reason.
pub fn render(target: &Value, variables: &[Variable]) -> Result<Template, String> {
    let mut t = Template::default();
    let push = |t: &mut Template, s: &str| t.push(s, variables, false);

    // SELECT
    let selects = target.get("select").and_then(Value::as_array);
    let selects = selects.filter(|s| !s.is_empty()).ok_or("no select parts")?;
    let mut rendered = Vec::with_capacity(selects.len());
    for chain in selects {
        let mut expr = String::new();
        for part in chain.as_array().into_iter().flatten() {
            expr = render_part(&parse_part(part)?, &expr)?;
        }
        rendered.push(expr);
    }
    push(&mut t, &format!("SELECT {}", rendered.join(", ")))?;

    // FROM
    let measurement = string_field(target, "measurement");
    if measurement.is_empty() {
        return Err("no measurement".into());
    }
    let policy = target
        .get("policy")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let policy = if policy.is_empty() || policy == "default" {
        String::new()
    } else {
        format!("\"{policy}\".")
    };
    let is_regex =
        measurement.len() >= 2 && measurement.starts_with('/') && measurement.ends_with('/');
    let measurement = if is_regex {
        measurement
    } else {
        format!("\"{measurement}\"")
    };
    push(&mut t, &format!(" FROM {policy}{measurement} WHERE "))?;

    // WHERE tags AND $timeFilter
    let tags = target
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if tags.len() > 1 {
        push(&mut t, "(")?;
    }
    for (i, tag) in tags.iter().enumerate() {
        render_tag(&mut t, i, tag, variables)?;
    }
    if tags.len() > 1 {
        push(&mut t, ")")?;
    }
    if !tags.is_empty() {
        push(&mut t, " AND ")?;
    }
    push(&mut t, "$timeFilter")?;

    // GROUP BY
    let group_by = target
        .get("groupBy")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut tail = String::new();
    for (i, g) in group_by.iter().enumerate() {
        let part = parse_part(g)?;
        if i == 0 {
            tail.push_str(" GROUP BY");
        }
        tail.push_str(if i > 0 && part.kind != "fill" {
            ", "
        } else {
            " "
        });
        tail.push_str(&render_part(&part, "")?);
    }
    let order = string_field(target, "orderByTime");
    if !order.is_empty() {
        tail.push_str(&format!(" ORDER BY time {order}"));
    }
    for (key, word) in [("limit", "limit"), ("slimit", "slimit")] {
        let v = string_field(target, key);
        if !v.is_empty() {
            tail.push_str(&format!(" {word} {v}"));
        }
    }
    let tz = string_field(target, "tz");
    if !tz.is_empty() {
        tail.push_str(&format!(" tz('{tz}')"));
    }
    push(&mut t, &tail)?;
    Ok(t)
}

fn render_tag(t: &mut Template, i: usize, tag: &Value, vars: &[Variable]) -> Result<(), String> {
    let key = tag
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("tag without a \"key\": {tag}"))?;
    let value = tag
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("tag {key:?} without a string \"value\""))?;
    let mut prefix = String::new();
    if i > 0 {
        // Conditions are joined with a space, each after the first led by AND/OR.
        prefix.push(' ');
        let cond = tag.get("condition").and_then(Value::as_str).unwrap_or("");
        prefix.push_str(if cond.is_empty() { "AND" } else { cond });
        prefix.push(' ');
    }
    let is_regex_value = value.len() >= 2 && value.starts_with('/') && value.ends_with('/');
    let operator = match tag.get("operator").and_then(Value::as_str).unwrap_or("") {
        "" if is_regex_value => "=~",
        "" => "=",
        op => op,
    };
    let head = |t: &mut Template, op: &str| {
        t.push(&format!("{prefix}{} {op} ", quote_ident(key)), vars, false)
    };
    match operator {
        "=~" | "!~" => {
            head(t, operator)?;
            t.push(value, vars, false)
        }
        "<" | ">" | ">=" | "<=" => {
            head(t, operator)?;
            match strip_regex_wrapper(value) {
                Some(inner) => t.push(&format!("'{inner}'"), vars, false),
                None => t.push(value, vars, false),
            }
        }
        "Is" | "Is Not" => {
            head(t, if operator == "Is" { "=" } else { "!=" })?;
            // Type detection needs the final value; with a variable in it, a string.
            let lower = value.to_ascii_lowercase();
            let literal = !super::template::has_reference(value) && !key.ends_with("::tag");
            if literal && (lower == "true" || lower == "false") {
                t.push(&lower, vars, false)
            } else if literal && is_numeric(value) {
                t.push(value, vars, false)
            } else {
                quoted(t, value, vars)
            }
        }
        _ => {
            head(t, operator)?;
            quoted(t, strip_regex_wrapper(value).unwrap_or(value), vars)
        }
    }
}

/// `'value'` with backslashes doubled (also those a variable brings in).
fn quoted(t: &mut Template, value: &str, vars: &[Variable]) -> Result<(), String> {
    t.push("'", vars, false)?;
    t.push(value, vars, true)?;
    t.push("'", vars, false)
}

/// `^(-?\d+)(\.\d+)?$`
fn is_numeric(v: &str) -> bool {
    let v = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (v, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::super::template::Scope;
    use super::super::variables::Selections;
    use super::*;
    use serde_json::json;

    fn text(target: Value) -> String {
        let t = render(&target, &[]).unwrap();
        let sel = Selections(Vec::new());
        t.render(&Scope {
            variables: &[],
            selections: &sel,
            from_ms: 0,
            to_ms: 0,
            interval_ms: 600_000,
            dashboard_uid: "toggl-main",
            dashboard_title: "Toggl time",
            grafana: Default::default(),
            raw_range: None,
            scoped: &[],
            globals: &Default::default(),
        })
    }

    fn mean_value() -> Value {
        json!([[{"type":"field","params":["value"]},{"type":"mean","params":[]}]])
    }

    fn tag_text(tag: Value) -> String {
        let q = text(json!({"measurement":"cpu","select":mean_value(),"tags":[tag]}));
        let start = q.find("WHERE ").unwrap() + 6;
        q[start..q.find(" AND $timeFilter").unwrap()].to_string()
    }

    #[test]
    fn simple_query_with_policy_matches_grafanas_test() {
        let q = text(
            json!({"measurement":"cpu","policy":"policy","select":mean_value(),
            "groupBy":[{"type":"time","params":["$__interval"]},{"type":"fill","params":["null"]}]}),
        );
        assert_eq!(
            q,
            "SELECT mean(\"value\") FROM \"policy\".\"cpu\" WHERE $timeFilter GROUP BY time($__interval) fill(null)"
        );
    }

    #[test]
    fn tags_or_group_bys_and_fill_match_grafanas_test() {
        let q = text(json!({"measurement":"cpu","select":mean_value(),
            "tags":[{"key":"hostname","value":"server1","operator":"="},
                    {"key":"hostname","value":"server2","operator":"=","condition":"OR"}],
            "groupBy":[{"type":"time","params":["$__interval"]},{"type":"tag","params":["datacenter"]},
                       {"type":"fill","params":["null"]}]}));
        assert_eq!(
            q,
            "SELECT mean(\"value\") FROM \"cpu\" WHERE (\"hostname\" = 'server1' OR \"hostname\" = 'server2') \
             AND $timeFilter GROUP BY time($__interval), \"datacenter\" fill(null)"
        );
    }

    #[test]
    fn toggl_example_from_domain_renders_exactly() {
        let q = text(json!({"measurement":"time_entry","policy":"default",
            "select":[[{"type":"field","params":["duration_s"]},{"type":"sum","params":[]}]],
            "tags":[{"key":"user","operator":"=","value":"a"},
                    {"condition":"OR","key":"user","operator":"=","value":"b"}],
            "groupBy":[{"type":"time","params":["$__interval"]},{"type":"tag","params":["project"]},
                       {"type":"fill","params":["null"]}]}));
        assert_eq!(
            q,
            "SELECT sum(\"duration_s\") FROM \"time_entry\" WHERE (\"user\" = 'a' OR \"user\" = 'b') \
             AND $timeFilter GROUP BY time($__interval), \"project\" fill(null)"
        );
    }

    #[test]
    fn math_alias_and_several_selects() {
        let q = text(json!({"measurement":"time_entry",
            "select":[[{"type":"field","params":["duration_s"]},{"type":"sum","params":[]},
                       {"type":"math","params":["/ 3600"]},{"type":"alias","params":["hours"]}],
                      [{"type":"field","params":["entry_id"]},{"type":"count","params":[]}]]}));
        assert_eq!(
            q,
            "SELECT sum(\"duration_s\") / 3600 AS \"hours\", count(\"entry_id\") FROM \"time_entry\" WHERE $timeFilter"
        );
    }

    #[test]
    fn parameterised_functions_and_auto_time() {
        let q = text(json!({"measurement":"m",
            "select":[[{"type":"field","params":["v"]},{"type":"percentile","params":[95]}],
                      [{"type":"field","params":["v"]},{"type":"mean","params":[]},
                       {"type":"non_negative_derivative","params":["1s"]}],
                      [{"type":"field","params":["v"]},{"type":"top","params":["5"]}]],
            "groupBy":[{"type":"time","params":["auto"]}]}));
        assert_eq!(
            q,
            "SELECT percentile(\"v\", 95), non_negative_derivative(mean(\"v\"), 1s), top(\"v\", 5) \
             FROM \"m\" WHERE $timeFilter GROUP BY time($__interval)"
        );
    }

    #[test]
    fn order_limit_slimit_tz_come_in_grafanas_order() {
        let q = text(json!({"measurement":"cpu","select":mean_value(),
            "groupBy":[{"type":"time","params":["$__interval"]}],
            "tz":"Europe/Paris","limit":"1","slimit":1,"orderByTime":"ASC"}));
        assert_eq!(
            q,
            "SELECT mean(\"value\") FROM \"cpu\" WHERE $timeFilter GROUP BY time($__interval) \
             ORDER BY time ASC limit 1 slimit 1 tz('Europe/Paris')"
        );
    }

    #[test]
    fn tag_operators_render_as_the_backend_does() {
        let cases = [
            (json!({"key":"key","value":"value"}), "\"key\" = 'value'"),
            (json!({"key":"key","value":"/value/"}), "\"key\" =~ /value/"),
            (
                json!({"key":"key","value":"/value/","operator":"=~"}),
                "\"key\" =~ /value/",
            ),
            (
                json!({"key":"key","value":"/^v$/","operator":"!~"}),
                "\"key\" !~ /^v$/",
            ),
            (
                json!({"key":"key","value":"10001","operator":"="}),
                "\"key\" = '10001'",
            ),
            (
                json!({"key":"key","value":"10001","operator":"<"}),
                "\"key\" < 10001",
            ),
            (
                json!({"key":"key","value":"10001","operator":">="}),
                "\"key\" >= 10001",
            ),
            (
                json!({"key":"key","value":"/^12.2$/","operator":">"}),
                "\"key\" > '12.2'",
            ),
            (
                json!({"key":"key","value":"/^a$/","operator":"!="}),
                "\"key\" != 'a'",
            ),
            (
                json!({"key":"key","value":"C:\\test\\","operator":"="}),
                "\"key\" = 'C:\\\\test\\\\'",
            ),
            (
                json!({"key":"key","value":"False","operator":"Is"}),
                "\"key\" = false",
            ),
            (
                json!({"key":"key","value":"true","operator":"Is Not"}),
                "\"key\" != true",
            ),
            (
                json!({"key":"key","value":"-1.23","operator":"Is"}),
                "\"key\" = -1.23",
            ),
            (
                json!({"key":"key","value":"A string","operator":"Is"}),
                "\"key\" = 'A string'",
            ),
            (
                json!({"key":"k::tag","value":"1","operator":"Is"}),
                "\"k\"::tag = '1'",
            ),
        ];
        for (tag, want) in cases {
            assert_eq!(tag_text(tag.clone()), want, "{tag}");
        }
    }

    #[test]
    fn regex_measurement_stays_unquoted() {
        let q = text(json!({"measurement":"/apa/","policy":"policy","select":mean_value()}));
        assert_eq!(
            q,
            "SELECT mean(\"value\") FROM \"policy\"./apa/ WHERE $timeFilter"
        );
    }

    #[test]
    fn broken_targets_give_reasons() {
        let unknown = json!({"measurement":"m","select":[[{"type":"field","params":["v"]},{"type":"exp","params":[]}]]});
        assert_eq!(
            render(&unknown, &[]).unwrap_err(),
            "unsupported query part \"exp\" (Grafana's backend has no definition for it)"
        );
        assert_eq!(
            render(&json!({"select":mean_value()}), &[]).unwrap_err(),
            "no measurement"
        );
        assert_eq!(
            render(&json!({"measurement":"m"}), &[]).unwrap_err(),
            "no select parts"
        );
    }
}
