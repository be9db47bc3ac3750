//! `check`'s dashboard section: the variables settled as Grafana settles them
//! on load (offline from the saved options, or with `--probe` from the
//! target's answers to the variable queries, and nothing else), every panel
//! query as it will be sent, and a warning for each query that filters on a
//! variable with no value (it matches no data). Flux is shown with its macros
//! expanded as the target's backend would (InfluxDB 2.x), multi-line queries
//! indented under their first line.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::scenario::{Scenario, Target, TargetKind};
use crate::target::{judge_query, Endpoints, QueryCall};
use crate::workload::dashboard::flux::{self, FluxContext, FluxOptions, VARIABLE_INTERVAL_MS};
use crate::workload::dashboard::{
    Dashboard, Resolution, Selection, TimeRange, Trigger, VariableKind, VariableRequest, View,
};

/// The variables settled for one range, and what their queries were.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Options and selections after settling.
    pub res: Resolution,
    /// Per variable: its query as sent (or as it would be): InfluxQL, or Flux
    /// with its macros expanded for the target.
    pub queries: Vec<Option<String>>,
    /// Per variable: what the target answered (`--probe` only).
    pub answers: Vec<Option<Answer>>,
    /// How Flux is shown (and, with `--probe`, sent) for the target.
    pub flux: FluxShown,
}

/// The one line naming the Grafana version emulated, and why that one.
pub fn grafana_line(v: &crate::scenario::Viewers, target: &Target) -> String {
    use crate::scenario::GrafanaSource;
    let why = match v.grafana_source {
        GrafanaSource::Scenario => "as [viewers] grafana says",
        GrafanaSource::Target => "as the target's /api/health reports",
        GrafanaSource::Newest if target.kind == TargetKind::Grafana => {
            "the newest rules until the target's /api/health names its version (run, check --probe)"
        }
        GrafanaSource::Newest => "the newest rules: set [viewers] grafana to emulate another",
    };
    format!("emulating {} ({why})", v.dashboard.grafana.describe())
}

/// `check --probe` on a grafana target: follow the version its
/// `/api/health` reports, as `run` does (unless the scenario names one), and
/// load the library panels the export does not carry from it.
pub fn follow_target_version(s: &mut Scenario) -> Result<()> {
    if s.target.kind != TargetKind::Grafana || s.target.url.is_none() {
        return Ok(());
    }
    let endpoints = Endpoints::new(&s.target, None);
    let client = reqwest::Client::builder()
        .timeout(s.target.timeout)
        .build()
        .map_err(|e| Error::config("--probe", e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config("--probe", e.to_string()))?;
    // A target's answer is untrusted: read with the preflight's own cap, as `run` does.
    let health = rt.block_on(async {
        let r = endpoints.health(&client).send().await.ok()?;
        let reading = crate::target::body::Reading::whole(crate::target::preflight::PREFLIGHT_BODY);
        crate::target::body::read(r, reading).await.ok()
    });
    let reported = health
        .as_ref()
        .and_then(|b| b.whole())
        .and_then(crate::target::preflight::health_version);
    if let Some(v) = s.viewers.as_mut() {
        crate::run::prepare::follow_grafana_version(v, reported.as_deref());
    }
    let calls = crate::target::outside_log::OutsideLog::default();
    rt.block_on(crate::target::resolve_library_panels(&endpoints, s, &calls))
}

/// What a probed variable query returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// These values (before the variable's regex and sort).
    Values(Vec<String>),
    /// The request failed.
    Failed(String),
}

/// Settle without sending: query variables keep their saved options.
pub fn walk_offline(d: &Dashboard, range: &TimeRange, now_ms: i64, flux: FluxShown) -> Walked {
    let mut walked = start(d, range, now_ms, flux);
    for i in Resolution::order(d) {
        if walked.res.runs_query(i, Trigger::Load) {
            let view = View::resolved(d, range, now_ms, &walked.res);
            let Some(req) = view.variable_request(i) else {
                // A skipped Flux query: the variable keeps its saved value.
                continue;
            };
            walked.queries[i] = Some(walked.flux.variable_query(&view, &req));
            // Nothing is sent: with no saved options to check it against, the
            // saved value is what Grafana would keep if the query returns it.
            if walked.res.variables[i].options.is_empty() {
                continue;
            }
        }
        walked.res.settle(i);
    }
    walked
}

fn start(d: &Dashboard, range: &TimeRange, now_ms: i64, flux: FluxShown) -> Walked {
    let mut res = Resolution::saved(d);
    let (from_ms, to_ms) = range.resolve(now_ms);
    res.set_range(from_ms, to_ms);
    let n = d.variables.len();
    Walked {
        res,
        queries: vec![None; n],
        answers: vec![None; n],
        flux,
    }
}

/// Settle by sending the variable queries that run on load to the scenario's
/// target (and nothing else), in dependency order.
pub fn walk_probed(s: &Scenario, now_ms: i64) -> Result<Walked> {
    let v = s
        .viewers
        .as_ref()
        .ok_or_else(|| Error::config("--probe", "the scenario has no [viewers] dashboard"))?;
    if s.target.url.is_none() {
        return Err(Error::config(
            "--probe",
            "the target is the embedded sandbox, which runs only during `run`: give a target url",
        ));
    }
    let mut d = v.dashboard.clone();
    match &s.target.datasource_uid {
        Some(uid) => d.bind_datasource(uid),
        None => d.bind_inputs(&s.target.datasources),
    }
    let range = default_range(&d);
    let endpoints = Endpoints::new(&s.target, None);
    let client = reqwest::Client::builder()
        .timeout(s.target.timeout)
        .build()
        .map_err(|e| Error::config("--probe", e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::config("--probe", e.to_string()))?;
    let grafana = endpoints.uses_grafana_api();
    let mut walked = start(&d, &range, now_ms, FluxShown::new(&s.target));
    for i in Resolution::order(&d) {
        if !walked.res.runs_query(i, Trigger::Load) {
            walked.res.settle(i);
            continue;
        }
        let view = View::resolved(&d, &range, now_ms, &walked.res);
        let Some(req) = view.variable_request(i) else {
            // A skipped Flux query: the variable keeps its saved value.
            continue;
        };
        let query = walked.flux.variable_query(&view, &req);
        let call = if grafana {
            QueryCall::DsQuery {
                body: &req.body,
                dashboard_uid: &d.uid,
                datasource_uid: &req.datasource.uid,
                panel_id: None,
            }
        } else if req.flux {
            QueryCall::Flux(&query)
        } else {
            QueryCall::InfluxQl(&query)
        };
        let reading = endpoints.reading(&call, true);
        let outcome = rt.block_on(crate::users::request::send(
            endpoints.query(&client, call),
            reading,
            |st, b| judge_query(st, b, true),
        ));
        walked.queries[i] = Some(query);
        if outcome.judged.ok {
            walked.res.answer(i, &outcome.judged.values);
            walked.answers[i] = Some(Answer::Values(outcome.judged.values));
        } else {
            walked.res.settle(i);
            let why = outcome.judged.error.unwrap_or_else(|| "failed".into());
            walked.answers[i] = Some(Answer::Failed(why));
        }
    }
    Ok(walked)
}

/// The dashboard's default range, as `check` shows it.
pub fn default_range(d: &Dashboard) -> TimeRange {
    TimeRange::parse(&d.time.raw_from, &d.time.raw_to).unwrap_or_else(|_| d.time.clone())
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Why variable `i` has no value, for the warning.
fn no_value_reason(d: &Dashboard, walked: &Walked, i: usize) -> String {
    let v = &d.variables[i];
    let mut why = format!("variable `{}` has no value", v.name);
    match (&walked.answers[i], &walked.queries[i]) {
        (Some(Answer::Values(values)), Some(q)) if values.is_empty() => {
            let _ = write!(
                why,
                "; its query `{}` returned nothing against the target",
                shorten(q)
            );
        }
        (Some(Answer::Values(_)), Some(q)) => {
            let _ = write!(
                why,
                "; no value of its query `{}` passed its regex",
                shorten(q)
            );
        }
        (Some(Answer::Failed(e)), Some(q)) => {
            let _ = write!(why, "; its query `{}` failed: {e}", shorten(q));
        }
        (None, Some(_)) => {
            why.push_str("; no saved option and nothing sent (`check --probe` asks the target)");
        }
        _ if v.kind == VariableKind::Query => why.push_str("; no saved option (refresh never)"),
        _ => {}
    }
    why
}

/// A selection as text: `a`, `a, b`, `All (n values)`, `All = .*`, `(none)`.
fn show(res: &Resolution, i: usize) -> String {
    let v = &res.variables[i];
    match &res.selections.0[i] {
        Selection::All => match &v.all_value {
            Some(a) => format!("All = {a}"),
            None => format!("All ({} values)", v.options.len()),
        },
        Selection::Values(x) if x.iter().all(String::is_empty) => "(none)".into(),
        Selection::Values(x) => x.join(", "),
    }
}

/// Write the variables and every panel query of `d` for `range` with `walked`.
pub fn write_queries(
    w: &mut String,
    d: &Dashboard,
    range: &TimeRange,
    now_ms: i64,
    walked: &Walked,
    probed: bool,
) {
    let _ = writeln!(
        w,
        "\n  queries for the dashboard's default range {}..{} and {}:",
        range.raw_from,
        range.raw_to,
        if probed {
            "the variable values the target gave (--probe)"
        } else {
            "saved variable values"
        }
    );
    let view = View::resolved(d, range, now_ms, &walked.res);
    for i in Resolution::order(d) {
        let v = &d.variables[i];
        if let Some(q) = &walked.queries[i] {
            let _ = writeln!(
                w,
                "  variable {} [{}]\n      {}",
                v.name,
                view.class(),
                indent(q)
            );
            match &walked.answers[i] {
                Some(Answer::Values(x)) if x.is_empty() => {
                    let _ = writeln!(w, "      → returned nothing against the target");
                }
                Some(Answer::Values(x)) => {
                    let mut shown: Vec<&str> = x.iter().take(5).map(String::as_str).collect();
                    if x.len() > 5 {
                        shown.push("…");
                    }
                    let _ = writeln!(w, "      → returned {}: {}", x.len(), shown.join(", "));
                }
                Some(Answer::Failed(e)) => {
                    let _ = writeln!(w, "      → failed: {e}");
                }
                None => {}
            }
        }
    }
    let values: Vec<String> = Resolution::order(d)
        .into_iter()
        .filter(|&i| !matches!(d.variables[i].kind, VariableKind::Adhoc))
        .map(|i| format!("{} = {}", d.variables[i].name, show(&walked.res, i)))
        .collect();
    if !values.is_empty() {
        let _ = writeln!(w, "  variable values: {}", values.join("; "));
    }
    let mut panels = 0;
    let mut queries = 0;
    let mut warnings = 0;
    let mut refused = 0;
    for p in &d.panels {
        for req in view.panel_requests_of(p) {
            let when = if req.panel.in_collapsed_row {
                " (collapsed row: not loaded)"
            } else if !req.panel.first_screen {
                " (below the first screen)"
            } else {
                ""
            };
            if !req.panel.in_collapsed_row {
                panels += 1;
                queries += req.queries.len();
            }
            let copy: Vec<String> = req
                .scoped
                .iter()
                .map(|(i, value)| format!("{} = {value}", d.variables[*i].name))
                .collect();
            let copy = if copy.is_empty() {
                String::new()
            } else {
                format!(" (repeat {})", copy.join(", "))
            };
            let _ = writeln!(
                w,
                "  {}{copy}{when}  interval {}ms, maxDataPoints {}",
                req.name, req.interval_ms, req.max_data_points
            );
            for (q, t) in req.queries.iter().zip(&p.targets) {
                let text = match &q.influxql {
                    Some(influxql) => influxql.clone(),
                    None => walked.flux.show(
                        &q.text,
                        req.from_ms,
                        req.to_ms,
                        req.interval_ms,
                        &t.flux_options,
                    ),
                };
                let _ = writeln!(w, "    {} {}", q.ref_id, indent(&text));
                for name in t.text.unknown_globals() {
                    let _ = writeln!(
                        w,
                        "    warning: `{name}` is no variable Grafana defines: sent as written"
                    );
                }
                if let Some(form) = q.influxql.as_deref().and_then(verbatim_macro) {
                    refused += 1;
                    let _ = writeln!(
                        w,
                        "    warning: `{form}` reaches InfluxDB as written from Grafana 10.3 (its backend replaces only $timeFilter, $interval, $__interval, $__interval_ms): the query is refused; write the `$` form"
                    );
                }
                let mut empty: Vec<usize> = t
                    .text
                    .variables()
                    .filter(|&i| match req.scoped.iter().find(|(j, _)| *j == i) {
                        Some((_, value)) => value.is_empty(),
                        None => walked.res.is_empty(i),
                    })
                    .collect();
                empty.sort();
                empty.dedup();
                warnings += usize::from(!empty.is_empty());
                for i in empty {
                    let _ = writeln!(
                        w,
                        "    warning: matches no data: {}",
                        no_value_reason(d, walked, i)
                    );
                }
            }
        }
    }
    let _ = writeln!(w, "  {panels} panels and {queries} queries per load");
    if warnings > 0 {
        let _ = writeln!(
            w,
            "  {warnings} queries filter on a variable with no value: they match no data"
        );
    }
    if refused > 0 {
        let _ = writeln!(
            w,
            "  {refused} queries keep a macro form InfluxDB refuses from {}",
            d.grafana
        );
    }
    for skip in &d.skipped {
        let _ = writeln!(w, "  skipped: {}: {}", skip.panel, skip.reason);
    }
}

/// A built-in form Grafana 10.3+ leaves in the InfluxQL it sends (see
/// `template.rs`): only the emulated version's backend leaves it there.
fn verbatim_macro(influxql: &str) -> Option<&'static str> {
    [
        "[[timeFilter]]",
        "${timeFilter",
        "[[interval]]",
        "${interval}",
        "${interval:",
    ]
    .into_iter()
    .find(|f| influxql.contains(f))
}

/// A multi-line (Flux) query's later lines under its first; blank lines stay blank.
fn indent(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("      {l}")
            }
        })
        .collect();
    lines.join("\n").trim_start().to_string()
}

/// How `check` shows a Flux query: macros expanded as Grafana's backend would for
/// an InfluxDB 2.x target (its bucket and org); through Grafana, as the browser
/// sends it (Grafana's data source settings are not known here).
#[derive(Debug, Clone, Default)]
pub struct FluxShown {
    /// The default bucket and the org, on InfluxDB 2.x.
    bucket_org: Option<(String, String)>,
}

impl FluxShown {
    /// For the scenario's target.
    pub fn new(t: &Target) -> FluxShown {
        let bucket_org = (t.kind == TargetKind::Influxdb2).then(|| {
            (
                t.bucket.clone().unwrap_or_else(|| t.database.clone()),
                t.org.clone().unwrap_or_default(),
            )
        });
        FluxShown { bucket_org }
    }

    /// A variable query as sent: InfluxQL, or Flux with the variable macros.
    fn variable_query(&self, view: &View<'_>, req: &VariableRequest) -> String {
        if !req.flux {
            return req.influxql.clone();
        }
        let (from_ms, to_ms) = view.range_ms();
        self.show(
            &req.text,
            from_ms,
            to_ms,
            VARIABLE_INTERVAL_MS,
            &Default::default(),
        )
    }

    fn show(
        &self,
        text: &str,
        from_ms: i64,
        to_ms: i64,
        interval_ms: u64,
        o: &FluxOptions,
    ) -> String {
        let Some((default_bucket, organization)) = &self.bucket_org else {
            return text.to_string();
        };
        let ctx = FluxContext {
            from_ms,
            to_ms,
            interval_ms,
            default_bucket,
            organization,
        };
        flux::expand(text, &ctx, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::dashboard::GrafanaVersion;

    /// What `check` writes of `d`'s queries offline, at a fixed clock.
    fn queries_offline(d: &crate::workload::dashboard::Dashboard) -> String {
        let range = default_range(d);
        let now_ms = 1_763_856_000_000;
        let walked = walk_offline(d, &range, now_ms, FluxShown::default());
        let mut w = String::new();
        write_queries(&mut w, d, &range, now_ms, &walked, false);
        w
    }

    fn check_text(grafana: &str) -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dashboards/grafana11-builtins.json"
        );
        let mut d = crate::workload::dashboard::load(std::path::Path::new(path)).unwrap();
        d.grafana = GrafanaVersion::parse(grafana).unwrap();
        queries_offline(&d)
    }

    /// Issue 23: globals are written (the fixture's `${__user.login}`-style
    /// references) and an unknown `__` name is a warning, not a refusal.
    #[test]
    fn unknown_globals_are_warnings() {
        let d = crate::workload::dashboard::parse(
            &serde_json::json!({"title": "t", "uid": "u", "panels": [{"id": 1, "title": "p",
                "type": "table", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                "targets": [{"refId": "A", "rawQuery": true,
                    "query": "SELECT * FROM \"m\" WHERE \"who\" = '${__user.login}' AND \"org\" = '${__org.name}' AND \"x\" = '${__nope}' AND time >= '${__from:date:YYYY-MM-DD}' AND $timeFilter"}]}]})
            .to_string(),
            "d.json",
        )
        .unwrap();
        let w = queries_offline(&d);
        assert!(w.contains(r#""who" = 'admin' AND "org" = 'Main Org.' AND "x" = '${__nope}' AND time >= '2025-11-22'"#), "{w}");
        assert!(
            w.contains("warning: `${__nope}` is no variable Grafana defines: sent as written"),
            "{w}"
        );
    }

    /// Issue 23 item 8: a variable saved as `alice` without saved options
    /// showed blank; it keeps its saved value (and one saved blank is flagged).
    #[test]
    fn a_saved_value_without_saved_options_survives() {
        let d = crate::workload::dashboard::parse(
            &serde_json::json!({"title": "t", "uid": "u", "templating": {"list": [
                {"name": "user", "type": "query", "refresh": 1, "query": "SHOW TAG VALUES WITH KEY = \"user\"",
                 "datasource": {"type": "influxdb", "uid": "x"},
                 "current": {"text": "alice", "value": "alice"}, "options": []},
                {"name": "blank", "type": "query", "refresh": 1, "query": "SHOW TAG VALUES WITH KEY = \"b\"",
                 "datasource": {"type": "influxdb", "uid": "x"}, "current": {}, "options": []}
            ]}, "panels": [{"id": 1, "title": "p", "type": "table",
                "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8}, "datasource": {"type": "influxdb", "uid": "x"},
                "targets": [{"refId": "A", "rawQuery": true,
                    "query": "SELECT * FROM \"m\" WHERE \"user\" = '$user' AND \"b\" = '$blank' AND $timeFilter"}]}]})
            .to_string(),
            "d.json",
        )
        .unwrap();
        let w = queries_offline(&d);
        assert!(
            w.contains("variable values: user = alice; blank = (none)"),
            "{w}"
        );
        assert!(w.contains(r#""user" = 'alice'"#), "{w}");
        assert!(w.contains("variable `blank` has no value"), "{w}");
        assert!(!w.contains("variable `user` has no value"), "{w}");
    }

    /// `${timeFilter}` reaches InfluxDB as written from Grafana 10.3: `check`
    /// says so; Grafana 10.2's browser expanded it.
    #[test]
    fn macro_forms_the_backend_leaves_are_flagged() {
        let newest = check_text("12.3");
        assert!(
            newest
                .contains("warning: `${timeFilter` reaches InfluxDB as written from Grafana 10.3"),
            "{newest}"
        );
        assert!(newest.contains("queries keep a macro form InfluxDB refuses from 12.3"));
        let old = check_text("10.2");
        assert!(!old.contains("reaches InfluxDB as written"), "{old}");
    }
}
