//! `SELECT` execution: sources and subqueries, series selection and grouping, time
//! windows, aggregates with `fill`, `top`/`bottom`, and raw field selection.
//!
//! The shape of the answer follows InfluxDB 1.x: one output series per measurement and
//! `GROUP BY` tag set (sorted by tag values), `tags` only when grouping by tags, buckets
//! from the window holding the lower bound to the one holding the upper bound (`now()`
//! when a `GROUP BY time` query has none), the range start as the time of an aggregate
//! without `GROUP BY time` (or the selected point's time for a lone selector), `count`
//! reporting 0 for empty buckets under `fill(null)`, and the `max-select-buckets` guard.

use std::collections::{BTreeMap, HashMap};

use super::aggregate::{fill_column, Acc, AggFn, TransformFn};
use super::ast::{BinOp, Dimension, Expr, Fill, NameOrRegex, Select, Source};
use super::eval::{eval, split_condition, truthy, TimeRange, Val};
use super::tz::Tz;
use super::{ExecCtx, SeriesOut};
use crate::sandbox::store::{Database, FieldValue, Measurement, Point, Series, Store};

mod rows;

use rows::{Scan, SeriesScope};

/// A group: its `GROUP BY` tag values and its series.
type Group<'m> = (Vec<String>, Vec<&'m Series>);
/// A group's answer: column names and rows.
type Rows = (Vec<String>, Vec<Vec<Val>>);
/// A `top`/`bottom` candidate: value as f64, value, time, tag values.
type Candidate = (f64, Val, i64, Vec<String>);

const MIN_TIME: i64 = i64::MIN + 2;
const MAX_TIME: i64 = i64::MAX - 2;

/// Run a `SELECT` against `store`. `outer` is the enclosing query's time range, which a
/// subquery without its own bounds inherits.
pub fn run_select(
    store: &Store,
    db: Option<&str>,
    sel: &Select,
    ctx: &mut ExecCtx,
    outer: Option<TimeRange>,
) -> Result<Vec<SeriesOut>, String> {
    let tz = sel.tz.as_deref().map(Tz::lookup).transpose()?;
    let (mut range, rest) = split_condition(sel.condition.as_ref(), ctx.now)?;
    if let Some(o) = outer {
        range.min = range.min.or(o.min);
        range.max = range.max.or(o.max);
    }
    let plan = Plan::new(sel, tz)?;
    let mut out = Vec::new();
    for source in &sel.sources {
        match source {
            Source::Measurement { database, name, .. } => {
                let dbname = database
                    .as_deref()
                    .or(db)
                    .filter(|d| !d.is_empty())
                    .ok_or("database name required")?;
                let d = store
                    .database(dbname)
                    .ok_or_else(|| format!("database not found: {dbname}"))?;
                for (mname, m) in &d.measurements {
                    let hit = match name {
                        NameOrRegex::Name(n) => n == mname,
                        NameOrRegex::Regex(re) => re.is_match(mname),
                    };
                    if hit {
                        out.extend(plan.run(mname, m, range, rest.as_ref(), true, ctx)?);
                    }
                }
            }
            Source::Subquery(inner) => {
                let rows = run_select(store, db, inner, ctx, Some(range))?;
                let temp = to_database(&rows);
                for (mname, m) in &temp.measurements {
                    out.extend(plan.run(mname, m, range, rest.as_ref(), false, ctx)?);
                }
            }
        }
    }
    Ok(out)
}

/// Turn result series into a throwaway database, so an outer query can read a subquery.
fn to_database(series: &[SeriesOut]) -> Database {
    let mut float_cols: HashMap<&str, bool> = HashMap::new();
    for s in series {
        for row in &s.rows {
            for (c, v) in s.columns.iter().zip(row).skip(1) {
                if matches!(v, Val::Float(_)) {
                    float_cols.insert(c, true);
                }
            }
        }
    }
    let mut db = Database::default();
    for s in series {
        for row in &s.rows {
            let Some(Val::Int(time)) = row.first() else {
                continue;
            };
            let fields: Vec<(String, FieldValue)> = s
                .columns
                .iter()
                .zip(row)
                .skip(1)
                .filter_map(|(c, v)| {
                    let fv = match v {
                        Val::Null => return None,
                        Val::Int(i) if float_cols.contains_key(c.as_str()) => {
                            FieldValue::Float(*i as f64)
                        }
                        Val::Int(i) => FieldValue::Integer(*i),
                        Val::Float(f) => FieldValue::Float(*f),
                        Val::Str(s) => FieldValue::String(s.clone()),
                        Val::Bool(b) => FieldValue::Boolean(*b),
                    };
                    Some((c.clone(), fv))
                })
                .collect();
            if fields.is_empty() {
                continue;
            }
            let point = Point::new(
                s.name.clone(),
                s.tags.clone().unwrap_or_default(),
                fields,
                *time,
            );
            // Types are made uniform above; a conflict can only drop a point.
            let _ = db.write_point(&point);
        }
    }
    db
}

/// A compiled aggregate field expression: calls replaced by spec indexes.
#[derive(Debug, Clone)]
enum CExpr {
    Spec(usize),
    Lit(Val),
    Bin(BinOp, Box<CExpr>, Box<CExpr>),
}

impl CExpr {
    fn eval(&self, specs: &[Val]) -> Val {
        match self {
            CExpr::Spec(i) => specs[*i].clone(),
            CExpr::Lit(v) => v.clone(),
            CExpr::Bin(op, l, r) => super::eval::binary(*op, &l.eval(specs), &r.eval(specs)),
        }
    }
}

#[derive(Debug, Clone)]
enum Spec {
    Agg {
        func: AggFn,
        field: String,
        arg: f64,
    },
    Transform {
        func: TransformFn,
        inner: usize,
        arg: i64,
    },
}

enum Kind {
    Raw(Vec<Expr>),
    Agg {
        specs: Vec<Spec>,
        cols: Vec<CExpr>,
    },
    Top {
        bottom: bool,
        field: String,
        tags: Vec<String>,
        n: usize,
    },
}

struct Plan<'s> {
    sel: &'s Select,
    kind: Kind,
    names: Vec<String>,
    tz: Option<Tz>,
}

fn has_call(e: &Expr) -> bool {
    match e {
        Expr::Call { name, .. } => name != "now",
        Expr::Binary { lhs, rhs, .. } => has_call(lhs) || has_call(rhs),
        _ => false,
    }
}

fn dedupe(names: Vec<String>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    names
        .into_iter()
        .map(|n| {
            let k = seen.entry(n.clone()).or_insert(0);
            *k += 1;
            if *k == 1 {
                n
            } else {
                format!("{n}_{}", *k - 1)
            }
        })
        .collect()
}

impl<'s> Plan<'s> {
    fn new(sel: &'s Select, tz: Option<Tz>) -> Result<Plan<'s>, String> {
        let names = dedupe(sel.fields.iter().map(|f| f.name()).collect());
        let top = sel.fields.iter().find_map(|f| match &f.expr {
            Expr::Call { name, args } if name == "top" || name == "bottom" => {
                Some((name == "bottom", args))
            }
            _ => None,
        });
        let kind = if let Some((bottom, args)) = top {
            if sel.fields.len() != 1 {
                return Err(format!(
                    "selector function {}() cannot be combined with other functions",
                    if bottom { "bottom" } else { "top" }
                ));
            }
            let fname = if bottom { "bottom" } else { "top" };
            let n = match args.last() {
                Some(Expr::Int(n)) if *n > 0 => *n as usize,
                _ => {
                    return Err(format!(
                        "expected integer as last argument in {fname}(), found {}",
                        args.len()
                    ))
                }
            };
            let mut refs = args[..args.len() - 1].iter().map(|a| match a {
                Expr::VarRef { name, .. } => Ok(name.clone()),
                _ => Err(format!(
                    "expected first argument to be a field in {fname}()"
                )),
            });
            let field = refs.next().ok_or_else(|| {
                format!(
                    "invalid number of arguments for {fname}, expected at least 2, got {}",
                    args.len()
                )
            })??;
            let tags = refs.collect::<Result<Vec<_>, _>>()?;
            Kind::Top {
                bottom,
                field,
                tags,
                n,
            }
        } else if sel.fields.iter().any(|f| has_call(&f.expr)) {
            let mut specs = Vec::new();
            let cols = sel
                .fields
                .iter()
                .map(|f| compile(&f.expr, &mut specs))
                .collect::<Result<Vec<_>, _>>()?;
            Kind::Agg { specs, cols }
        } else {
            Kind::Raw(sel.fields.iter().map(|f| f.expr.clone()).collect())
        };
        Ok(Plan {
            sel,
            kind,
            names,
            tz,
        })
    }

    /// Bucket `[start, end)` holding `t`, as InfluxDB's `IteratorOptions.Window`
    /// (saturating at the ends of time instead of overflowing).
    fn window(&self, t: i64) -> (i64, i64) {
        let Some(iv) = self.sel.interval else {
            return (MIN_TIME, MAX_TIME);
        };
        let every = iv.every;
        let t = t.saturating_sub(iv.offset);
        let zone = self.tz.map_or(0, |z| z.offset_ns(t));
        let dt = t.saturating_add(zone).rem_euclid(every);
        let mut start = t.saturating_sub(dt);
        let mut end = t.saturating_add(every - dt);
        if let Some(z) = self.tz {
            let o = zone - z.offset_ns(start);
            if o != 0 && o.abs() < every {
                start = start.saturating_add(o);
            }
            let o = zone - z.offset_ns(end);
            if o != 0 && o.abs() < every {
                end = end.saturating_add(o);
            }
        }
        (
            start.saturating_add(iv.offset),
            end.saturating_add(iv.offset),
        )
    }

    fn groups<'m>(
        &self,
        m: &'m Measurement,
        series_filter: Option<&Expr>,
        now: i64,
    ) -> (Vec<String>, Vec<Group<'m>>) {
        let mut keys: Vec<String> = Vec::new();
        for d in &self.sel.dimensions {
            match d {
                Dimension::Tag(k) => keys.push(k.clone()),
                Dimension::All => keys.extend(m.tag_keys().map(str::to_string)),
                Dimension::Regex(re) => {
                    keys.extend(m.tag_keys().filter(|k| re.is_match(k)).map(str::to_string))
                }
            }
        }
        keys.sort();
        keys.dedup();
        let mut groups: BTreeMap<Vec<String>, Vec<&Series>> = BTreeMap::new();
        for s in &m.series {
            if let Some(f) = series_filter {
                if !truthy(&eval(f, &SeriesScope { s, now })) {
                    continue;
                }
            }
            let key = keys.iter().map(|k| s.tag(k).to_string()).collect();
            groups.entry(key).or_default().push(s);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        for (_, ss) in &mut groups {
            ss.sort_by(|a, b| a.tags.cmp(&b.tags));
        }
        (keys, self.sel.slimit.apply(groups))
    }

    fn run(
        &self,
        mname: &str,
        m: &Measurement,
        range: TimeRange,
        rest: Option<&Expr>,
        time_filter: bool,
        ctx: &mut ExecCtx,
    ) -> Result<Vec<SeriesOut>, String> {
        // A filter on tags only is decided once per series; one that reads fields or
        // time is decided per point.
        let point_level = rest.is_some_and(|e| {
            let mut refs = Vec::new();
            e.var_refs(&mut refs);
            refs.iter().any(|r| {
                r.eq_ignore_ascii_case("time") || (m.field_id(r).is_some() && !m.has_tag_key(r))
            })
        });
        let (series_filter, point_filter) = if point_level {
            (None, rest)
        } else {
            (rest, None)
        };
        let (keys, groups) = self.groups(m, series_filter, ctx.now);
        let lo = range.min.unwrap_or(MIN_TIME);
        let hi = range.max.unwrap_or(if self.sel.interval.is_some() {
            ctx.now
        } else {
            MAX_TIME
        });
        let (scan_lo, scan_hi) = if time_filter {
            (lo, hi)
        } else {
            (MIN_TIME, MAX_TIME)
        };
        let scan = Scan {
            m,
            lo: scan_lo,
            hi: scan_hi,
            filter: point_filter,
            now: ctx.now,
        };
        let mut out = Vec::new();
        let mut rows_total = 0u64;
        for (key, series) in groups {
            let rows = match &self.kind {
                Kind::Raw(exprs) => self.raw_rows(exprs, &keys, &scan, &series, ctx),
                Kind::Top {
                    bottom,
                    field,
                    tags,
                    n,
                } => self.top_rows(*bottom, field, tags, *n, &scan, &series, ctx),
                Kind::Agg { specs, cols } => {
                    self.agg_rows(specs, cols, &scan, &series, range, hi, ctx)?
                }
            };
            let Some((columns, mut rows)) = rows else {
                continue;
            };
            if rows.is_empty() {
                continue;
            }
            if self.sel.order_desc {
                rows.reverse();
            }
            let rows = self.sel.limit.apply(rows);
            rows_total += rows.len() as u64;
            if rows_total > ctx.limits.max_rows {
                return Err(format!(
                    "max-select-rows limit exceeded: ({rows_total}/{})",
                    ctx.limits.max_rows
                ));
            }
            ctx.cost += rows.len() as u64;
            out.push(SeriesOut {
                name: mname.to_string(),
                tags: (!keys.is_empty()).then(|| keys.iter().cloned().zip(key).collect()),
                columns,
                rows,
                has_time: true,
            });
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn agg_rows(
        &self,
        specs: &[Spec],
        cols: &[CExpr],
        scan: &Scan,
        series: &[&Series],
        range: TimeRange,
        hi: i64,
        ctx: &mut ExecCtx,
    ) -> Result<Option<Rows>, String> {
        let m = scan.m;
        let aggs: Vec<(usize, AggFn, Option<usize>, f64)> = specs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Spec::Agg { func, field, arg } => Some((i, *func, m.field_id(field), *arg)),
                Spec::Transform { .. } => None,
            })
            .collect();
        for (_, func, fid, _) in &aggs {
            if let Some(fid) = fid {
                func.check_type(m.fields[*fid].1)?;
            }
        }
        // Bucket range first: the guard must trip before any work is done.
        let first_bucket = match (self.sel.interval, range.min) {
            (None, _) => 0,
            (Some(_), Some(lo)) => self.window(lo).0,
            (Some(_), None) => {
                let earliest = series.iter().filter_map(|s| s.times.first().copied()).min();
                match earliest {
                    Some(t) => self.window(t).0,
                    None => return Ok(None),
                }
            }
        };
        if let Some(iv) = self.sel.interval {
            let buckets = ((hi as i128 - first_bucket as i128) / iv.every as i128 + 1).max(0);
            if buckets > ctx.limits.max_select_buckets as i128 {
                return Err(format!(
                    "max-select-buckets limit exceeded: ({buckets}/{})",
                    ctx.limits.max_select_buckets
                ));
            }
        }
        let mut buckets: BTreeMap<i64, Vec<Option<Acc>>> = BTreeMap::new();
        for s in series {
            scan.each(s, ctx, |i, t| {
                let mut vals = aggs
                    .iter()
                    .enumerate()
                    .filter_map(|(k, (_, func, fid, _))| {
                        fid.and_then(|f| s.value(f, i)).map(|v| (k, *func, v))
                    })
                    .peekable();
                if vals.peek().is_none() {
                    return;
                }
                let b = if self.sel.interval.is_some() {
                    self.window(t).0
                } else {
                    0
                };
                let accs = buckets.entry(b).or_insert_with(|| vec![None; aggs.len()]);
                for (k, func, v) in vals {
                    match &mut accs[k] {
                        Some(acc) => acc.push(func, v, t),
                        slot => *slot = Some(Acc::start(func, v, t)),
                    }
                }
            });
        }
        if buckets.is_empty() {
            return Ok(None);
        }
        let times: Vec<i64> = match self.sel.interval {
            None => vec![range.min.unwrap_or(0)],
            Some(_) => {
                let mut ts = Vec::new();
                let mut t = first_bucket;
                while t <= hi && ts.len() as u64 <= ctx.limits.max_select_buckets {
                    ts.push(t);
                    t = self.window(t).1;
                }
                ts
            }
        };
        let key_of = |t: i64| if self.sel.interval.is_some() { t } else { 0 };
        let mut spec_cols: Vec<Vec<Val>> = vec![Vec::new(); specs.len()];
        let mut selected_time = None;
        for (k, (si, func, _, arg)) in aggs.iter().enumerate() {
            let mut col = Vec::with_capacity(times.len());
            for &t in &times {
                let acc = buckets.get(&key_of(t)).and_then(|a| a[k].as_ref());
                col.push(match acc {
                    Some(acc) => {
                        let (v, at) = acc.finish(*func, *arg);
                        selected_time = at;
                        v
                    }
                    None if *func == AggFn::Count && self.sel.fill == Fill::Null => Val::Int(0),
                    None => Val::Null,
                });
            }
            fill_column(self.sel.fill, &times, &mut col);
            spec_cols[*si] = col;
        }
        let mut transformed = false;
        for (si, spec) in specs.iter().enumerate() {
            if let Spec::Transform { func, inner, arg } = spec {
                transformed = true;
                spec_cols[si] = func.apply(&times, &spec_cols[*inner], *arg);
            }
        }
        // A lone selector without GROUP BY time reports the selected point's time.
        let lone_selector = self.sel.interval.is_none()
            && matches!(specs, [Spec::Agg { func, .. }] if func.is_selector());
        let mut rows = Vec::with_capacity(times.len());
        for (bi, &t) in times.iter().enumerate() {
            if self.sel.fill == Fill::None && !buckets.contains_key(&key_of(t)) {
                continue;
            }
            let vals: Vec<Val> = spec_cols.iter().map(|c| c[bi].clone()).collect();
            let mut row = Vec::with_capacity(cols.len() + 1);
            let time = match (lone_selector, selected_time) {
                (true, Some(st)) => st,
                _ => t,
            };
            row.push(Val::Int(time));
            row.extend(cols.iter().map(|c| c.eval(&vals)));
            if transformed && row[1..].iter().all(Val::is_null) {
                continue;
            }
            rows.push(row);
        }
        let mut columns = vec!["time".to_string()];
        columns.extend(self.names.iter().cloned());
        Ok(Some((columns, rows)))
    }
}

fn compile(e: &Expr, specs: &mut Vec<Spec>) -> Result<CExpr, String> {
    Ok(match e {
        Expr::Int(i) => CExpr::Lit(Val::Int(*i)),
        Expr::Num(f) => CExpr::Lit(Val::Float(*f)),
        Expr::Duration(d) => CExpr::Lit(Val::Int(*d)),
        Expr::Str(s) => CExpr::Lit(Val::Str(s.as_str().into())),
        Expr::Bool(b) => CExpr::Lit(Val::Bool(*b)),
        Expr::Binary { op, lhs, rhs } => CExpr::Bin(
            *op,
            Box::new(compile(lhs, specs)?),
            Box::new(compile(rhs, specs)?),
        ),
        Expr::VarRef { .. } | Expr::Wildcard | Expr::Regex(_) => {
            return Err("mixing aggregate and non-aggregate queries is not supported".into())
        }
        Expr::Call { name, args } => {
            if let Some(func) = AggFn::from_name(name) {
                let field = match args.first() {
                    Some(Expr::VarRef { name, .. }) => name.clone(),
                    Some(Expr::Wildcard) => {
                        return Err(format!("{name}(*) is not supported by the sandbox"))
                    }
                    _ => return Err(format!("expected field argument in {name}()")),
                };
                let arg = match (func, args.get(1)) {
                    (AggFn::Percentile, Some(Expr::Int(n))) => *n as f64,
                    (AggFn::Percentile, Some(Expr::Num(n))) => *n,
                    (AggFn::Percentile, _) => {
                        return Err("expected float argument in percentile()".into())
                    }
                    (_, None) => 0.0,
                    (_, Some(_)) => {
                        return Err(format!(
                            "invalid number of arguments for {name}, expected 1, got {}",
                            args.len()
                        ))
                    }
                };
                specs.push(Spec::Agg { func, field, arg });
                CExpr::Spec(specs.len() - 1)
            } else if let Some(func) = TransformFn::from_name(name) {
                let inner = match args.first().map(|a| compile(a, specs)).transpose()? {
                    Some(CExpr::Spec(i)) => i,
                    _ => {
                        return Err(format!(
                            "{name}() needs an aggregate argument in the sandbox (e.g. {name}(sum(\"x\")))"
                        ))
                    }
                };
                let arg = match (func, args.get(1)) {
                    (TransformFn::MovingAverage, Some(Expr::Int(n))) if *n > 0 => *n,
                    (TransformFn::MovingAverage, _) => {
                        return Err("moving_average window must be greater than 1".into())
                    }
                    (_, Some(Expr::Duration(d))) => *d,
                    (_, _) => 1_000_000_000,
                };
                specs.push(Spec::Transform { func, inner, arg });
                CExpr::Spec(specs.len() - 1)
            } else if name == "top" || name == "bottom" {
                return Err(format!(
                    "selector function {name}() cannot be combined with other functions"
                ));
            } else {
                return Err(format!("undefined function {name}()"));
            }
        }
    })
}
