//! The InfluxQL engine: parse a `;`-separated query, run each statement against the
//! [`Store`], and render InfluxDB 1.x's JSON (`{"results":[{"statement_id":0,"series":[…]}]}`).
//!
//! Supported: `SELECT` with `count sum mean median min max first last spread stddev
//! percentile`, `top`/`bottom`, the transforms `cumulative_sum difference
//! non_negative_difference derivative non_negative_derivative moving_average` over an
//! aggregate, arithmetic and aliases, raw fields and `*`, subqueries in `FROM`, `WHERE` on
//! time/tags/fields with `= != < <= > >= =~ !~ AND OR`, `GROUP BY time(every[, offset])`,
//! tags, `*` and `/regex/`, `fill(null|none|previous|linear|<number>)`, `ORDER BY time
//! [DESC]`, `LIMIT/OFFSET/SLIMIT/SOFFSET`, `tz('…')` (zones in [`tz`]); `SHOW DATABASES |
//! MEASUREMENTS | TAG KEYS | TAG VALUES | FIELD KEYS | SERIES | RETENTION POLICIES`;
//! `CREATE DATABASE`, `DROP DATABASE`. Anything else is a parse or statement error shaped
//! like InfluxDB's, never a panic.
//!
//! Each run also reports its cost (points scanned plus rows emitted), which the capacity
//! model turns into service time.

mod aggregate;
pub mod ast;
mod eval;
pub mod guard;
pub mod lexer;
pub mod parser;
mod select;
mod show;
pub mod tz;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::sync::RwLock;

use serde_json::{json, Map, Value};

pub use ast::Statement;
pub use eval::Val;
pub use parser::{parse_query, ParseError};

use crate::sandbox::store::Store;
use tz::Tz;

/// Guards against queries that would eat the machine (InfluxDB's coordinator limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `max-select-buckets`: most `GROUP BY time` buckets per series (default 100 000).
    pub max_select_buckets: u64,
    /// Most rows a statement may return (sandbox-specific, default 1 000 000).
    pub max_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_select_buckets: 100_000,
            max_rows: 1_000_000,
        }
    }
}

/// State threaded through one statement's execution.
#[derive(Debug, Clone)]
pub struct ExecCtx {
    /// `now()`, ns.
    pub now: i64,
    /// Guards.
    pub limits: Limits,
    /// Points scanned plus rows emitted so far.
    pub cost: u64,
}

/// One result series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesOut {
    /// Measurement (or `databases`, `measurements`; empty for `SHOW SERIES`).
    pub name: String,
    /// `GROUP BY` tags, when grouping by tags.
    pub tags: Option<Vec<(String, String)>>,
    /// Column names; the first is `time` when `has_time`.
    pub columns: Vec<String>,
    /// Rows; with `has_time`, column 0 holds the time in ns as [`Val::Int`].
    pub rows: Vec<Vec<Val>>,
    /// Whether column 0 is time.
    pub has_time: bool,
}

/// The result of one statement.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementResult {
    /// Position in the query, from 0.
    pub statement_id: usize,
    /// Series (none for an empty result).
    pub series: Vec<SeriesOut>,
    /// The statement's error, if it failed.
    pub error: Option<String>,
    /// `tz('…')` of the statement, for RFC 3339 output.
    pub tz: Option<Tz>,
}

/// A query's results and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// One result per statement.
    pub results: Vec<StatementResult>,
    /// Points scanned plus rows emitted, over all statements.
    pub cost: u64,
}

/// Timestamp unit of `epoch=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    /// `ns` (or `n`).
    Ns,
    /// `u` / `µ`.
    Us,
    /// `ms`.
    Ms,
    /// `s`.
    S,
    /// `m`.
    M,
    /// `h`.
    H,
}

impl Epoch {
    /// Read `epoch=`; `None` (RFC 3339 strings) for an absent or unknown value.
    pub fn from_param(p: &str) -> Option<Epoch> {
        Some(match p {
            "n" | "ns" => Epoch::Ns,
            "u" | "µ" | "us" => Epoch::Us,
            "ms" => Epoch::Ms,
            "s" => Epoch::S,
            "m" => Epoch::M,
            "h" => Epoch::H,
            _ => return None,
        })
    }

    fn factor(self) -> i64 {
        match self {
            Epoch::Ns => 1,
            Epoch::Us => 1_000,
            Epoch::Ms => 1_000_000,
            Epoch::S => 1_000_000_000,
            Epoch::M => 60_000_000_000,
            Epoch::H => 3_600_000_000_000,
        }
    }
}

/// Run parsed statements against `store` with `db` as the default database. After a
/// failed statement the rest answer `not executed`, as InfluxDB does.
pub fn execute(
    store: &RwLock<Store>,
    db: Option<&str>,
    statements: &[Statement],
    now: i64,
    limits: Limits,
) -> QueryOutput {
    let mut ctx = ExecCtx {
        now,
        limits,
        cost: 0,
    };
    let mut results = Vec::with_capacity(statements.len());
    let mut failed = false;
    for (statement_id, stmt) in statements.iter().enumerate() {
        let tz = match stmt {
            Statement::Select(s) => s.tz.as_deref().and_then(|z| Tz::lookup(z).ok()),
            _ => None,
        };
        let outcome = if failed {
            Err("not executed".to_string())
        } else {
            ctx.cost += 1;
            run_statement(store, db, stmt, &mut ctx)
        };
        let (series, error) = match outcome {
            Ok(series) => (series, None),
            Err(e) => {
                failed = true;
                (Vec::new(), Some(e))
            }
        };
        results.push(StatementResult {
            statement_id,
            series,
            error,
            tz,
        });
    }
    QueryOutput {
        results,
        cost: ctx.cost,
    }
}

fn run_statement(
    store: &RwLock<Store>,
    db: Option<&str>,
    stmt: &Statement,
    ctx: &mut ExecCtx,
) -> Result<Vec<SeriesOut>, String> {
    match stmt {
        Statement::CreateDatabase(name) => {
            store
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .create_database(name);
            Ok(Vec::new())
        }
        Statement::DropDatabase(name) => {
            store
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .drop_database(name);
            Ok(Vec::new())
        }
        Statement::Select(sel) => {
            let guard = store.read().unwrap_or_else(|e| e.into_inner());
            select::run_select(&guard, db, sel, ctx, None)
        }
        other => {
            let guard = store.read().unwrap_or_else(|e| e.into_inner());
            show::run_show(&guard, db, other, ctx)
        }
    }
}

/// Parse and run `q` (convenience for tests and the Grafana path).
pub fn run_query(
    store: &RwLock<Store>,
    db: Option<&str>,
    q: &str,
    now: i64,
    limits: Limits,
) -> Result<QueryOutput, ParseError> {
    let statements = parse_query(q)?;
    Ok(execute(store, db, &statements, now, limits))
}

/// Format a time the way InfluxDB does: an integer in `epoch` units, or RFC 3339 with
/// trailing zeros of the fraction trimmed (and the zone's offset under `tz`).
pub fn format_time(ns: i64, epoch: Option<Epoch>, tz: Option<Tz>) -> Value {
    if let Some(e) = epoch {
        return json!(ns / e.factor());
    }
    let offset = tz.map_or(0, |z| z.offset_ns(ns));
    let local = ns.saturating_add(offset);
    let secs = local.div_euclid(1_000_000_000);
    let nanos = local.rem_euclid(1_000_000_000) as u32;
    let Some(dt) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return json!(ns);
    };
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    if offset == 0 {
        s.push('Z');
    } else {
        let mins = offset / 60_000_000_000;
        let sign = if mins < 0 { '-' } else { '+' };
        s.push_str(&format!(
            "{sign}{:02}:{:02}",
            mins.abs() / 60,
            mins.abs() % 60
        ));
    }
    Value::String(s)
}

/// One series as InfluxDB's JSON.
pub fn series_json(s: &SeriesOut, epoch: Option<Epoch>, tz: Option<Tz>) -> Value {
    let mut obj = Map::new();
    if !s.name.is_empty() {
        obj.insert("name".into(), json!(s.name));
    }
    if let Some(tags) = &s.tags {
        let tags: Map<String, Value> = tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        obj.insert("tags".into(), Value::Object(tags));
    }
    obj.insert("columns".into(), json!(s.columns));
    let values: Vec<Value> = s
        .rows
        .iter()
        .map(|row| {
            Value::Array(
                row.iter()
                    .enumerate()
                    .map(|(i, v)| match (i, v) {
                        (0, Val::Int(t)) if s.has_time => format_time(*t, epoch, tz),
                        _ => v.to_json(),
                    })
                    .collect(),
            )
        })
        .collect();
    obj.insert("values".into(), Value::Array(values));
    Value::Object(obj)
}

/// The `/query` response body for these results.
pub fn results_json(results: &[StatementResult], epoch: Option<Epoch>) -> Value {
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut obj = Map::new();
            obj.insert("statement_id".into(), json!(r.statement_id));
            if !r.series.is_empty() {
                let series: Vec<Value> = r
                    .series
                    .iter()
                    .map(|s| series_json(s, epoch, r.tz))
                    .collect();
                obj.insert("series".into(), Value::Array(series));
            }
            if let Some(e) = &r.error {
                obj.insert("error".into(), json!(e));
            }
            Value::Object(obj)
        })
        .collect();
    json!({ "results": results })
}
