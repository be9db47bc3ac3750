//! The row-producing halves of `SELECT`: raw field selection, `top`/`bottom`, and the
//! scan of one series' points with the scopes names resolve in.

use std::collections::BTreeMap;

use super::{Candidate, Plan, Rows};
use crate::sandbox::influxql::ast::Expr;
use crate::sandbox::influxql::eval::{eval, truthy, Scope, Val};
use crate::sandbox::influxql::ExecCtx;
use crate::sandbox::store::{Measurement, Series};

impl Plan<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn top_rows(
        &self,
        bottom: bool,
        field: &str,
        tags: &[String],
        n: usize,
        scan: &Scan,
        series: &[&Series],
        ctx: &mut ExecCtx,
    ) -> Option<Rows> {
        let fid = scan.m.field_id(field)?;
        // bucket → (value, time, tag values)
        let mut buckets: BTreeMap<i64, Vec<Candidate>> = BTreeMap::new();
        for s in series {
            let tag_vals: Vec<String> = tags.iter().map(|k| s.tag(k).to_string()).collect();
            scan.each(s, ctx, |i, t| {
                if let Some(v) = s.value(fid, i) {
                    let val = Val::from(v);
                    if let Some(x) = val.as_f64() {
                        let b = if self.sel.interval.is_some() {
                            self.window(t).0
                        } else {
                            0
                        };
                        buckets
                            .entry(b)
                            .or_default()
                            .push((x, val, t, tag_vals.clone()));
                    }
                }
            });
        }
        let mut rows = Vec::new();
        for (_, mut cands) in buckets {
            let better = |a: &Candidate, b: &Candidate| {
                let by_value = if bottom {
                    a.0.total_cmp(&b.0)
                } else {
                    b.0.total_cmp(&a.0)
                };
                by_value.then(a.2.cmp(&b.2))
            };
            cands.sort_by(better);
            if !tags.is_empty() {
                let mut seen = std::collections::HashSet::new();
                cands.retain(|c| seen.insert(c.3.clone()));
            }
            cands.truncate(n);
            cands.sort_by_key(|c| c.2);
            for (_, val, t, tv) in cands {
                let mut row = vec![Val::Int(t), val];
                row.extend(tv.into_iter().map(|v| Val::Str(v.into())));
                rows.push(row);
            }
        }
        let mut columns = vec!["time".to_string(), self.names[0].clone()];
        columns.extend(tags.iter().cloned());
        Some((columns, rows))
    }

    pub(super) fn raw_rows(
        &self,
        exprs: &[Expr],
        group_keys: &[String],
        scan: &Scan,
        series: &[&Series],
        ctx: &mut ExecCtx,
    ) -> Option<Rows> {
        let m = scan.m;
        let (exprs, names): (Vec<Expr>, Vec<String>) =
            if exprs.iter().any(|e| matches!(e, Expr::Wildcard)) {
                let mut all: Vec<String> = m.fields.iter().map(|(n, _)| n.clone()).collect();
                all.extend(
                    m.tag_keys()
                        .filter(|k| !group_keys.iter().any(|g| g == k))
                        .map(str::to_string),
                );
                all.sort();
                all.dedup();
                all.into_iter()
                    .map(|n| {
                        (
                            Expr::VarRef {
                                name: n.clone(),
                                cast: None,
                            },
                            n,
                        )
                    })
                    .unzip()
            } else {
                (exprs.to_vec(), self.names.clone())
            };
        let reads_field: Vec<bool> = exprs
            .iter()
            .map(|e| {
                let mut refs = Vec::new();
                e.var_refs(&mut refs);
                refs.iter().any(|r| m.field_id(r).is_some())
            })
            .collect();
        if !reads_field.iter().any(|b| *b) {
            return None;
        }
        let mut rows: Vec<(i64, Vec<Val>)> = Vec::new();
        for s in series {
            scan.each(s, ctx, |i, t| {
                let scope = PointScope {
                    m,
                    s,
                    i,
                    now: scan.now,
                    tags_first: false,
                };
                let vals: Vec<Val> = exprs.iter().map(|e| eval(e, &scope)).collect();
                let any_field = vals
                    .iter()
                    .zip(&reads_field)
                    .any(|(v, rf)| *rf && !v.is_null());
                if any_field {
                    rows.push((t, vals));
                }
            });
        }
        rows.sort_by_key(|(t, _)| *t);
        let rows = rows
            .into_iter()
            .map(|(t, vals)| {
                let mut row = Vec::with_capacity(vals.len() + 1);
                row.push(Val::Int(t));
                row.extend(vals);
                row
            })
            .collect();
        let mut columns = vec!["time".to_string()];
        columns.extend(names);
        Some((columns, rows))
    }
}

/// One series' points within the scan bounds that pass the point filter.
pub(super) struct Scan<'a> {
    pub(super) m: &'a Measurement,
    pub(super) lo: i64,
    pub(super) hi: i64,
    pub(super) filter: Option<&'a Expr>,
    pub(super) now: i64,
}

impl Scan<'_> {
    pub(super) fn each(&self, s: &Series, ctx: &mut ExecCtx, mut f: impl FnMut(usize, i64)) {
        let range = s.range(self.lo, self.hi);
        ctx.cost += range.len() as u64;
        for i in range {
            if let Some(cond) = self.filter {
                let scope = PointScope {
                    m: self.m,
                    s,
                    i,
                    now: self.now,
                    tags_first: true,
                };
                if !truthy(&eval(cond, &scope)) {
                    continue;
                }
            }
            f(i, s.times[i]);
        }
    }
}

/// Names resolve to a series' tags (absent tags read as `""`).
pub(super) struct SeriesScope<'a> {
    pub(super) s: &'a Series,
    pub(super) now: i64,
}

impl Scope for SeriesScope<'_> {
    fn lookup(&self, name: &str, _cast: Option<&str>) -> Val {
        Val::Str(self.s.tag(name).into())
    }
    fn now(&self) -> i64 {
        self.now
    }
}

/// Names resolve to one point's time, fields and tags.
struct PointScope<'a> {
    m: &'a Measurement,
    s: &'a Series,
    i: usize,
    now: i64,
    /// In `WHERE`, a name that is a tag key is the tag; in `SELECT`, the field wins.
    tags_first: bool,
}

impl Scope for PointScope<'_> {
    fn lookup(&self, name: &str, cast: Option<&str>) -> Val {
        if name.eq_ignore_ascii_case("time") && cast.is_none() {
            return Val::Int(self.s.times[self.i]);
        }
        let tag = || Val::Str(self.s.tag(name).into());
        let field = || {
            self.m
                .field_id(name)
                .and_then(|f| self.s.value(f, self.i))
                .map_or(Val::Null, Val::from)
        };
        match cast {
            Some("tag") => tag(),
            Some(_) => field(),
            None if self.tags_first && self.m.has_tag_key(name) => tag(),
            None if self.m.field_id(name).is_some() => field(),
            None if self.m.has_tag_key(name) => tag(),
            None if self.tags_first => tag(),
            None => Val::Null,
        }
    }
    fn now(&self) -> i64 {
        self.now
    }
}
