//! Values and expression evaluation: arithmetic, comparisons, regex matches, and
//! splitting a `WHERE` clause into its time range and the rest.
//!
//! Arithmetic follows InfluxQL 1.x: integer `+ - * %` stay integers, `/` always gives a
//! float, division by zero gives 0, and anything with a null is null.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::ast::{BinOp, Expr};
use crate::sandbox::store::FieldValue;

/// A value in a result or an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// No value.
    Null,
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// String.
    Str(Arc<str>),
    /// Boolean.
    Bool(bool),
}

impl Val {
    /// As a float, when numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Whether it is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// To JSON the way InfluxDB's Go encoder writes it (whole floats without `.0`,
    /// non-finite floats as null).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Null => serde_json::Value::Null,
            Val::Int(i) => (*i).into(),
            Val::Float(f) if !f.is_finite() => serde_json::Value::Null,
            Val::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (*f as i64).into(),
            Val::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Val::Str(s) => serde_json::Value::String(s.to_string()),
            Val::Bool(b) => (*b).into(),
        }
    }
}

impl From<&FieldValue> for Val {
    fn from(v: &FieldValue) -> Val {
        match v {
            FieldValue::Float(f) => Val::Float(*f),
            FieldValue::Integer(i) => Val::Int(*i),
            FieldValue::String(s) => Val::Str(s.clone()),
            FieldValue::Boolean(b) => Val::Bool(*b),
        }
    }
}

/// Where an expression's names get their values.
pub trait Scope {
    /// The value of `name` (a tag, a field, or `time`), honouring a `::tag`/`::field` cast.
    fn lookup(&self, name: &str, cast: Option<&str>) -> Val;
    /// `now()`, ns.
    fn now(&self) -> i64;
}

/// Evaluate `expr` in `scope`.
pub fn eval(expr: &Expr, scope: &dyn Scope) -> Val {
    match expr {
        Expr::VarRef { name, cast } => scope.lookup(name, cast.as_deref()),
        Expr::Int(i) => Val::Int(*i),
        Expr::Num(f) => Val::Float(*f),
        Expr::Str(s) => Val::Str(s.as_str().into()),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Duration(d) => Val::Int(*d),
        Expr::Call { name, args } if name == "now" && args.is_empty() => Val::Int(scope.now()),
        Expr::Binary { op, lhs, rhs } => match op {
            BinOp::And => Val::Bool(truthy(&eval(lhs, scope)) && truthy(&eval(rhs, scope))),
            BinOp::Or => Val::Bool(truthy(&eval(lhs, scope)) || truthy(&eval(rhs, scope))),
            BinOp::EqRegex | BinOp::NeqRegex => {
                let Expr::Regex(re) = rhs.as_ref() else {
                    return Val::Bool(false);
                };
                let matched = match eval(lhs, scope) {
                    Val::Str(s) => re.is_match(&s),
                    Val::Null => re.is_match(""),
                    _ => false,
                };
                Val::Bool(matched == (*op == BinOp::EqRegex))
            }
            _ => binary(*op, &eval(lhs, scope), &eval(rhs, scope)),
        },
        Expr::Wildcard | Expr::Regex(_) | Expr::Call { .. } => Val::Null,
    }
}

/// Whether a condition value counts as true.
pub fn truthy(v: &Val) -> bool {
    matches!(v, Val::Bool(true))
}

/// Apply an arithmetic or comparison operator.
pub fn binary(op: BinOp, l: &Val, r: &Val) -> Val {
    use BinOp::*;
    match (l, r) {
        (Val::Null, _) | (_, Val::Null) => match op {
            // A missing tag compares as "" (InfluxDB reads absent tags as empty).
            Eq | Neq => Val::Bool(false),
            _ => Val::Null,
        },
        (Val::Int(a), Val::Int(b)) => match op {
            Add => Val::Int(a.wrapping_add(*b)),
            Sub => Val::Int(a.wrapping_sub(*b)),
            Mul => Val::Int(a.wrapping_mul(*b)),
            Div if *b == 0 => Val::Float(0.0),
            Div => Val::Float(*a as f64 / *b as f64),
            Mod if *b == 0 => Val::Int(0),
            Mod => Val::Int(a.wrapping_rem(*b)),
            _ => compare(op, a.cmp(b)),
        },
        (Val::Str(a), Val::Str(b)) => match op {
            Add => Val::Str(format!("{a}{b}").into()),
            Eq | Neq | Lt | Lte | Gt | Gte => compare(op, a.cmp(b)),
            _ => Val::Null,
        },
        (Val::Bool(a), Val::Bool(b)) => match op {
            Eq => Val::Bool(a == b),
            Neq => Val::Bool(a != b),
            _ => Val::Null,
        },
        _ => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => match op {
                Add => Val::Float(a + b),
                Sub => Val::Float(a - b),
                Mul => Val::Float(a * b),
                Div if b == 0.0 => Val::Float(0.0),
                Div => Val::Float(a / b),
                Mod if b == 0.0 => Val::Float(0.0),
                Mod => Val::Float(a % b),
                _ => match a.partial_cmp(&b) {
                    Some(ord) => compare(op, ord),
                    None => Val::Bool(false),
                },
            },
            _ => match op {
                Eq => Val::Bool(false),
                Neq => Val::Bool(true),
                _ => Val::Null,
            },
        },
    }
}

fn compare(op: BinOp, ord: std::cmp::Ordering) -> Val {
    use std::cmp::Ordering::*;
    Val::Bool(match op {
        BinOp::Eq => ord == Equal,
        BinOp::Neq => ord != Equal,
        BinOp::Lt => ord == Less,
        BinOp::Lte => ord != Greater,
        BinOp::Gt => ord == Greater,
        BinOp::Gte => ord != Less,
        _ => false,
    })
}

/// Parse a time string literal: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` or `YYYY-MM-DD` (UTC).
pub fn parse_time_literal(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_utc().timestamp_nanos_opt())
}

/// A constant time expression (`1763251200000ms`, `now() - 7d`, `'2025-11-16T00:00:00Z'`,
/// a bare integer in ns) → ns.
pub fn const_time(expr: &Expr, now: i64) -> Option<i64> {
    match expr {
        Expr::Int(i) => Some(*i),
        Expr::Num(f) => Some(*f as i64),
        Expr::Duration(d) => Some(*d),
        Expr::Str(s) => parse_time_literal(s),
        Expr::Call { name, args } if name == "now" && args.is_empty() => Some(now),
        Expr::Binary {
            op: BinOp::Add,
            lhs,
            rhs,
        } => const_time(lhs, now)?.checked_add(const_time(rhs, now)?),
        Expr::Binary {
            op: BinOp::Sub,
            lhs,
            rhs,
        } => const_time(lhs, now)?.checked_sub(const_time(rhs, now)?),
        _ => None,
    }
}

/// Inclusive time bounds of a query, ns; `None` = unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// Lower bound.
    pub min: Option<i64>,
    /// Upper bound.
    pub max: Option<i64>,
}

impl TimeRange {
    fn raise_min(&mut self, t: i64) {
        self.min = Some(self.min.map_or(t, |m| m.max(t)));
    }

    fn lower_max(&mut self, t: i64) {
        self.max = Some(self.max.map_or(t, |m| m.min(t)));
    }
}

/// Take the time comparisons out of the top-level `AND` chain of `cond`, returning the
/// bounds they set and what is left (`None` when nothing is).
pub fn split_condition(cond: Option<&Expr>, now: i64) -> Result<(TimeRange, Option<Expr>), String> {
    let mut range = TimeRange::default();
    let rest = match cond {
        Some(c) => take_time(c, now, &mut range)?,
        None => None,
    };
    Ok((range, rest))
}

fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

fn take_time(e: &Expr, now: i64, range: &mut TimeRange) -> Result<Option<Expr>, String> {
    let Expr::Binary { op, lhs, rhs } = e else {
        return Ok(Some(e.clone()));
    };
    if *op == BinOp::And {
        let l = take_time(lhs, now, range)?;
        let r = take_time(rhs, now, range)?;
        return Ok(match (l, r) {
            (Some(l), Some(r)) => Some(Expr::Binary {
                op: BinOp::And,
                lhs: Box::new(l),
                rhs: Box::new(r),
            }),
            (l, r) => l.or(r),
        });
    }
    let (op, other) = if is_time(lhs) {
        (*op, rhs.as_ref())
    } else if is_time(rhs) {
        let flipped = match op {
            BinOp::Lt => BinOp::Gt,
            BinOp::Lte => BinOp::Gte,
            BinOp::Gt => BinOp::Lt,
            BinOp::Gte => BinOp::Lte,
            o => *o,
        };
        (flipped, lhs.as_ref())
    } else {
        return Ok(Some(e.clone()));
    };
    let Some(t) = const_time(other, now) else {
        return Err(format!(
            "invalid operation: time and {} are not compatible",
            describe_literal(other)
        ));
    };
    match op {
        BinOp::Gt => range.raise_min(t.saturating_add(1)),
        BinOp::Gte => range.raise_min(t),
        BinOp::Lt => range.lower_max(t.saturating_sub(1)),
        BinOp::Lte => range.lower_max(t),
        BinOp::Eq => {
            range.raise_min(t);
            range.lower_max(t);
        }
        _ => return Err("invalid time comparison operator".to_string()),
    }
    Ok(None)
}

fn describe_literal(e: &Expr) -> &'static str {
    match e {
        Expr::Str(_) => "*influxql.StringLiteral",
        Expr::Bool(_) => "*influxql.BooleanLiteral",
        Expr::VarRef { .. } => "*influxql.VarRef",
        _ => "*influxql.BinaryExpr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::influxql::ast::Statement;
    use crate::sandbox::influxql::parser::parse_query;

    fn where_of(q: &str) -> Expr {
        match parse_query(q).unwrap().remove(0) {
            Statement::Select(s) => s.condition.unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn time_bounds_come_out_of_the_and_chain() {
        let now = 100 * 86_400_000_000_000;
        let c = where_of(
            "SELECT x FROM m WHERE (\"p\" = 'a' OR \"p\" = 'b') AND time >= 1000ms and time < 5s",
        );
        let (range, rest) = split_condition(Some(&c), now).unwrap();
        assert_eq!(range.min, Some(1_000_000_000));
        assert_eq!(range.max, Some(4_999_999_999));
        assert!(matches!(rest, Some(Expr::Binary { op: BinOp::Or, .. })));

        let c = where_of("SELECT x FROM m WHERE time > now() - 7d");
        let (range, rest) = split_condition(Some(&c), now).unwrap();
        assert_eq!(range.min, Some(93 * 86_400_000_000_000 + 1));
        assert_eq!(range.max, None);
        assert!(rest.is_none());

        let c = where_of("SELECT x FROM m WHERE '2025-11-16T00:00:00Z' <= time");
        let (range, _) = split_condition(Some(&c), now).unwrap();
        assert_eq!(range.min, Some(1_763_251_200_000_000_000));

        let c = where_of("SELECT x FROM m WHERE time > 'yesterday'");
        assert!(split_condition(Some(&c), now).is_err());
    }

    #[test]
    fn arithmetic_follows_influxql() {
        assert_eq!(
            binary(BinOp::Div, &Val::Int(7), &Val::Int(2)),
            Val::Float(3.5)
        );
        assert_eq!(
            binary(BinOp::Div, &Val::Int(7), &Val::Int(0)),
            Val::Float(0.0)
        );
        assert_eq!(binary(BinOp::Mul, &Val::Int(7), &Val::Int(2)), Val::Int(14));
        assert_eq!(
            binary(BinOp::Add, &Val::Int(1), &Val::Float(0.5)),
            Val::Float(1.5)
        );
        assert_eq!(binary(BinOp::Add, &Val::Null, &Val::Int(1)), Val::Null);
        assert_eq!(Val::Float(12.0).to_json(), serde_json::json!(12));
        assert_eq!(Val::Float(12.5).to_json(), serde_json::json!(12.5));
        assert_eq!(Val::Float(f64::NAN).to_json(), serde_json::Value::Null);
    }
}
