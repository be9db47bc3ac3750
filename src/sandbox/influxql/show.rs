//! `SHOW …`, `CREATE DATABASE` and `DROP DATABASE`, answered in InfluxDB 1.x's shapes
//! (`SHOW TAG VALUES` → columns `key`,`value` per measurement; `SHOW MEASUREMENTS` →
//! series `measurements` with column `name`; …).

use super::ast::{Expr, Limit, NameOrRegex, Source, Statement};
use super::eval::{eval, truthy, Scope, Val};
use super::{ExecCtx, SeriesOut};
use crate::sandbox::store::{Database, Measurement, Series, Store};

struct TagScope<'a>(&'a Series, i64);

impl Scope for TagScope<'_> {
    fn lookup(&self, name: &str, _cast: Option<&str>) -> Val {
        Val::Str(self.0.tag(name).into())
    }
    fn now(&self) -> i64 {
        self.1
    }
}

fn database<'s>(
    store: &'s Store,
    on: &Option<String>,
    db: Option<&str>,
) -> Result<&'s Database, String> {
    let name = on
        .as_deref()
        .or(db)
        .filter(|d| !d.is_empty())
        .ok_or("database name required")?;
    store
        .database(name)
        .ok_or_else(|| format!("database not found: {name}"))
}

/// The measurements a `FROM` names (all of them when there is no `FROM`).
fn measurements<'d>(d: &'d Database, sources: &[Source]) -> Vec<(&'d String, &'d Measurement)> {
    d.measurements
        .iter()
        .filter(|(name, _)| {
            sources.is_empty()
                || sources.iter().any(|s| match s {
                    Source::Measurement {
                        name: NameOrRegex::Name(n),
                        ..
                    } => n == *name,
                    Source::Measurement {
                        name: NameOrRegex::Regex(re),
                        ..
                    } => re.is_match(name),
                    Source::Subquery(_) => false,
                })
        })
        .collect()
}

/// Series of `m` passing a tag-only condition (time conditions are ignored, as in 1.x).
fn matching<'m>(
    m: &'m Measurement,
    cond: &Option<Expr>,
    ctx: &mut ExecCtx,
) -> Result<Vec<&'m Series>, String> {
    let (_, rest) = super::eval::split_condition(cond.as_ref(), ctx.now)?;
    ctx.cost += m.series.len() as u64;
    Ok(m.series
        .iter()
        .filter(|s| {
            rest.as_ref()
                .is_none_or(|c| truthy(&eval(c, &TagScope(s, ctx.now))))
        })
        .collect())
}

fn strings(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<Vec<Val>> {
    rows.into_iter()
        .map(|r| r.into_iter().map(|s| Val::Str(s.into())).collect())
        .collect()
}

fn series(name: &str, columns: &[&str], rows: Vec<Vec<Val>>) -> SeriesOut {
    SeriesOut {
        name: name.to_string(),
        tags: None,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
        has_time: false,
    }
}

fn limited(limit: &Limit, rows: Vec<Vec<Val>>) -> Vec<Vec<Val>> {
    limit.apply(rows)
}

/// Run a non-`SELECT` statement. `CREATE`/`DROP` need `store_mut`.
pub fn run_show(
    store: &Store,
    db: Option<&str>,
    stmt: &Statement,
    ctx: &mut ExecCtx,
) -> Result<Vec<SeriesOut>, String> {
    let mut out = Vec::new();
    match stmt {
        Statement::ShowDatabases => {
            let rows = strings(store.databases.keys().map(|k| vec![k.clone()]));
            out.push(series("databases", &["name"], rows));
        }
        Statement::ShowMeasurements {
            database: on,
            filter,
            condition,
            limit,
        } => {
            let d = database(store, on, db)?;
            let mut names = Vec::new();
            for (name, m) in &d.measurements {
                if filter.as_ref().is_some_and(|f| !f.matches(name)) {
                    continue;
                }
                if condition.is_some() && matching(m, condition, ctx)?.is_empty() {
                    continue;
                }
                names.push(vec![name.clone()]);
            }
            let rows = limited(limit, strings(names));
            if !rows.is_empty() {
                out.push(series("measurements", &["name"], rows));
            }
        }
        Statement::ShowTagKeys {
            database: on,
            sources,
            condition,
            limit,
        } => {
            let d = database(store, on, db)?;
            for (name, m) in measurements(d, sources) {
                let mut keys: Vec<String> = matching(m, condition, ctx)?
                    .iter()
                    .flat_map(|s| s.tags.iter().map(|(k, _)| k.clone()))
                    .collect();
                keys.sort();
                keys.dedup();
                let rows = limited(limit, strings(keys.into_iter().map(|k| vec![k])));
                if !rows.is_empty() {
                    out.push(series(name, &["tagKey"], rows));
                }
            }
        }
        Statement::ShowTagValues {
            database: on,
            sources,
            key,
            condition,
            limit,
        } => {
            let d = database(store, on, db)?;
            for (name, m) in measurements(d, sources) {
                let mut pairs: Vec<Vec<String>> = if condition.is_none() {
                    // Straight from the tag index.
                    ctx.cost += m.tag_index.len() as u64;
                    m.tag_index
                        .iter()
                        .filter(|(k, _)| key.matches(k))
                        .flat_map(|(k, vals)| vals.keys().map(move |v| vec![k.clone(), v.clone()]))
                        .collect()
                } else {
                    matching(m, condition, ctx)?
                        .iter()
                        .flat_map(|s| {
                            s.tags
                                .iter()
                                .filter(|(k, _)| key.matches(k))
                                .map(|(k, v)| vec![k.clone(), v.clone()])
                        })
                        .collect()
                };
                pairs.sort();
                pairs.dedup();
                let rows = limited(limit, strings(pairs));
                if !rows.is_empty() {
                    out.push(series(name, &["key", "value"], rows));
                }
            }
        }
        Statement::ShowFieldKeys {
            database: on,
            sources,
        } => {
            let d = database(store, on, db)?;
            for (name, m) in measurements(d, sources) {
                let mut fields: Vec<Vec<String>> = m
                    .fields
                    .iter()
                    .map(|(f, t)| vec![f.clone(), t.name().to_string()])
                    .collect();
                fields.sort();
                if !fields.is_empty() {
                    out.push(series(name, &["fieldKey", "fieldType"], strings(fields)));
                }
            }
        }
        Statement::ShowSeries {
            database: on,
            sources,
            condition,
            limit,
        } => {
            let d = database(store, on, db)?;
            let mut keys = Vec::new();
            for (name, m) in measurements(d, sources) {
                for s in matching(m, condition, ctx)? {
                    let mut key = escape_key(name, &[' ', ',']);
                    for (k, v) in &s.tags {
                        key.push(',');
                        key.push_str(&escape_key(k, &[' ', ',', '=']));
                        key.push('=');
                        key.push_str(&escape_key(v, &[' ', ',', '=']));
                    }
                    keys.push(vec![key]);
                }
            }
            keys.sort();
            let rows = limited(limit, strings(keys));
            if !rows.is_empty() {
                out.push(series("", &["key"], rows));
            }
        }
        Statement::ShowRetentionPolicies { database: on } => {
            database(store, on, db)?;
            out.push(series(
                "",
                &[
                    "name",
                    "duration",
                    "shardGroupDuration",
                    "replicaN",
                    "default",
                ],
                vec![vec![
                    Val::Str("autogen".into()),
                    Val::Str("0s".into()),
                    Val::Str("168h0m0s".into()),
                    Val::Int(1),
                    Val::Bool(true),
                ]],
            ));
        }
        Statement::Select(_) | Statement::CreateDatabase(_) | Statement::DropDatabase(_) => {
            return Err("not a SHOW statement".to_string())
        }
    }
    Ok(out)
}

fn escape_key(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
