//! Aggregate and transform functions: the per-bucket accumulators (`sum`, `count`, `mean`,
//! `median`, `min`, `max`, `first`, `last`, `spread`, `stddev`, `percentile`), the
//! transforms applied across buckets (`cumulative_sum`, `difference`,
//! `non_negative_difference`, `derivative`, `non_negative_derivative`, `moving_average`),
//! and `fill`.

use super::ast::Fill;
use super::eval::Val;
use crate::sandbox::store::{FieldType, FieldValue};

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFn {
    /// `count`.
    Count,
    /// `sum`.
    Sum,
    /// `mean`.
    Mean,
    /// `median`.
    Median,
    /// `min` (selector).
    Min,
    /// `max` (selector).
    Max,
    /// `first` (selector).
    First,
    /// `last` (selector).
    Last,
    /// `spread`.
    Spread,
    /// `stddev`.
    Stddev,
    /// `percentile(field, N)` (selector).
    Percentile,
}

impl AggFn {
    /// By function name.
    pub fn from_name(name: &str) -> Option<AggFn> {
        Some(match name {
            "count" => AggFn::Count,
            "sum" => AggFn::Sum,
            "mean" => AggFn::Mean,
            "median" => AggFn::Median,
            "min" => AggFn::Min,
            "max" => AggFn::Max,
            "first" => AggFn::First,
            "last" => AggFn::Last,
            "spread" => AggFn::Spread,
            "stddev" => AggFn::Stddev,
            "percentile" => AggFn::Percentile,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            AggFn::Count => "count",
            AggFn::Sum => "sum",
            AggFn::Mean => "mean",
            AggFn::Median => "median",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::First => "first",
            AggFn::Last => "last",
            AggFn::Spread => "spread",
            AggFn::Stddev => "stddev",
            AggFn::Percentile => "percentile",
        }
    }

    /// Whether it returns one of the input points (so its time can be reported).
    pub fn is_selector(self) -> bool {
        matches!(
            self,
            AggFn::Min | AggFn::Max | AggFn::First | AggFn::Last | AggFn::Percentile
        )
    }

    /// Refuse field types the function cannot take, with InfluxDB's message.
    pub fn check_type(self, t: FieldType) -> Result<(), String> {
        let numeric_only = !matches!(self, AggFn::Count | AggFn::First | AggFn::Last);
        if numeric_only && matches!(t, FieldType::String | FieldType::Boolean) {
            let it = if t == FieldType::String {
                "string"
            } else {
                "boolean"
            };
            return Err(format!(
                "unsupported {} iterator type: *query.{it}InterruptIterator",
                self.name()
            ));
        }
        Ok(())
    }
}

/// The running state of one aggregate over one bucket.
#[derive(Debug, Clone)]
pub enum Acc {
    /// Points counted.
    Count(i64),
    /// Integer sum.
    SumInt(i64),
    /// Float sum.
    SumFloat(f64),
    /// Sum and count.
    Mean(f64, u64),
    /// The selected value and its time.
    Selected(Val, i64),
    /// All values, for order statistics.
    Values(Vec<f64>),
}

impl Acc {
    /// A fresh accumulator, seeded with the first value.
    pub fn start(f: AggFn, v: &FieldValue, t: i64) -> Acc {
        let mut acc = match f {
            AggFn::Count => Acc::Count(0),
            AggFn::Sum => match v {
                FieldValue::Integer(_) => Acc::SumInt(0),
                _ => Acc::SumFloat(0.0),
            },
            AggFn::Mean => Acc::Mean(0.0, 0),
            AggFn::Min | AggFn::Max | AggFn::First | AggFn::Last => {
                return Acc::Selected(Val::from(v), t)
            }
            AggFn::Median | AggFn::Spread | AggFn::Stddev | AggFn::Percentile => {
                Acc::Values(Vec::new())
            }
        };
        acc.push(f, v, t);
        acc
    }

    /// Add a value seen at time `t`.
    pub fn push(&mut self, f: AggFn, v: &FieldValue, t: i64) {
        let num = || match v {
            FieldValue::Integer(i) => *i as f64,
            FieldValue::Float(x) => *x,
            _ => 0.0,
        };
        match self {
            Acc::Count(n) => *n += 1,
            Acc::SumInt(s) => {
                if let FieldValue::Integer(i) = v {
                    *s = s.wrapping_add(*i)
                }
            }
            Acc::SumFloat(s) => *s += num(),
            Acc::Mean(s, n) => {
                *s += num();
                *n += 1;
            }
            Acc::Values(vs) => vs.push(num()),
            Acc::Selected(cur, ct) => {
                let new = Val::from(v);
                let replace = match f {
                    AggFn::First => t < *ct,
                    AggFn::Last => t > *ct,
                    AggFn::Min | AggFn::Max => {
                        let (a, b) = (new.as_f64().unwrap_or(0.0), cur.as_f64().unwrap_or(0.0));
                        let better = if f == AggFn::Min { a < b } else { a > b };
                        better || (a == b && t < *ct)
                    }
                    _ => false,
                };
                if replace {
                    *cur = new;
                    *ct = t;
                }
            }
        }
    }

    /// The result and, for selectors, the selected point's time.
    pub fn finish(&self, f: AggFn, arg: f64) -> (Val, Option<i64>) {
        match self {
            Acc::Count(n) => (Val::Int(*n), None),
            Acc::SumInt(s) => (Val::Int(*s), None),
            Acc::SumFloat(s) => (Val::Float(*s), None),
            Acc::Mean(s, n) => (Val::Float(s / *n as f64), None),
            Acc::Selected(v, t) => (v.clone(), Some(*t)),
            Acc::Values(vs) => {
                let mut vs = vs.clone();
                vs.sort_by(f64::total_cmp);
                let n = vs.len();
                let v = match f {
                    AggFn::Median if n % 2 == 1 => Val::Float(vs[n / 2]),
                    AggFn::Median => Val::Float((vs[n / 2 - 1] + vs[n / 2]) / 2.0),
                    AggFn::Spread => Val::Float(vs[n - 1] - vs[0]),
                    AggFn::Stddev if n < 2 => Val::Null,
                    AggFn::Stddev => {
                        let mean = vs.iter().sum::<f64>() / n as f64;
                        let var =
                            vs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                        Val::Float(var.sqrt())
                    }
                    AggFn::Percentile => {
                        let i = (n as f64 * arg / 100.0 + 0.5).floor() as i64 - 1;
                        if i < 0 || i as usize >= n {
                            Val::Null
                        } else {
                            Val::Float(vs[i as usize])
                        }
                    }
                    _ => Val::Null,
                };
                (v, None)
            }
        }
    }
}

/// A function applied to an aggregate's values across buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformFn {
    /// `cumulative_sum`.
    CumulativeSum,
    /// `difference`.
    Difference,
    /// `non_negative_difference`.
    NonNegativeDifference,
    /// `derivative(x[, unit])`.
    Derivative,
    /// `non_negative_derivative(x[, unit])`.
    NonNegativeDerivative,
    /// `moving_average(x, N)`.
    MovingAverage,
}

impl TransformFn {
    /// By function name.
    pub fn from_name(name: &str) -> Option<TransformFn> {
        Some(match name {
            "cumulative_sum" => TransformFn::CumulativeSum,
            "difference" => TransformFn::Difference,
            "non_negative_difference" => TransformFn::NonNegativeDifference,
            "derivative" => TransformFn::Derivative,
            "non_negative_derivative" => TransformFn::NonNegativeDerivative,
            "moving_average" => TransformFn::MovingAverage,
            _ => return None,
        })
    }

    /// Apply over `(time, value)` in time order; nulls are skipped and stay null.
    /// `arg` is the derivative unit (ns) or the moving-average window.
    pub fn apply(self, times: &[i64], values: &[Val], arg: i64) -> Vec<Val> {
        let mut out = vec![Val::Null; values.len()];
        let mut prev: Option<(i64, Val)> = None;
        let mut sum = Val::Int(0);
        let mut window: std::collections::VecDeque<f64> = Default::default();
        let mut window_sum = 0.0;
        for (i, v) in values.iter().enumerate() {
            if v.is_null() {
                continue;
            }
            out[i] = match self {
                TransformFn::CumulativeSum => {
                    sum = super::eval::binary(super::ast::BinOp::Add, &sum, v);
                    sum.clone()
                }
                TransformFn::Difference | TransformFn::NonNegativeDifference => match &prev {
                    Some((_, p)) => {
                        let d = super::eval::binary(super::ast::BinOp::Sub, v, p);
                        let negative = d.as_f64().is_some_and(|x| x < 0.0);
                        if negative && self == TransformFn::NonNegativeDifference {
                            Val::Null
                        } else {
                            d
                        }
                    }
                    None => Val::Null,
                },
                TransformFn::Derivative | TransformFn::NonNegativeDerivative => match &prev {
                    Some((pt, p)) if times[i] > *pt => {
                        let d = v.as_f64().unwrap_or(0.0) - p.as_f64().unwrap_or(0.0);
                        let rate = d / ((times[i] - pt) as f64 / arg.max(1) as f64);
                        if rate < 0.0 && self == TransformFn::NonNegativeDerivative {
                            Val::Null
                        } else {
                            Val::Float(rate)
                        }
                    }
                    _ => Val::Null,
                },
                TransformFn::MovingAverage => {
                    // A running sum, as InfluxDB's reducer keeps: summing the window
                    // afresh made `moving_average(x, 100000)` quadratic in the buckets.
                    let x = v.as_f64().unwrap_or(0.0);
                    window.push_back(x);
                    window_sum += x;
                    if window.len() > arg.max(1) as usize {
                        window_sum -= window.pop_front().unwrap_or(0.0);
                    }
                    if window.len() == arg.max(1) as usize {
                        Val::Float(window_sum / window.len() as f64)
                    } else {
                        Val::Null
                    }
                }
            };
            prev = Some((times[i], v.clone()));
        }
        out
    }
}

/// Fill the nulls of one aggregate column as `fill(…)` says (`none` is handled by the
/// caller, which drops empty buckets). A numeric fill value takes the column's type.
pub fn fill_column(fill: Fill, times: &[i64], col: &mut [Val]) {
    let is_float = col.iter().any(|v| matches!(v, Val::Float(_)));
    match fill {
        Fill::Null | Fill::None => {}
        Fill::Int(n) => {
            let v = if is_float {
                Val::Float(n as f64)
            } else {
                Val::Int(n)
            };
            col.iter_mut()
                .filter(|v| v.is_null())
                .for_each(|x| *x = v.clone());
        }
        Fill::Float(f) => col
            .iter_mut()
            .filter(|v| v.is_null())
            .for_each(|x| *x = Val::Float(f)),
        Fill::Previous => {
            let mut last = Val::Null;
            for v in col.iter_mut() {
                if v.is_null() {
                    *v = last.clone();
                } else {
                    last = v.clone();
                }
            }
        }
        Fill::Linear => {
            let known: Vec<usize> = (0..col.len()).filter(|&i| !col[i].is_null()).collect();
            for w in known.windows(2) {
                let (a, b) = (w[0], w[1]);
                let (Some(va), Some(vb)) = (col[a].as_f64(), col[b].as_f64()) else {
                    continue;
                };
                for i in a + 1..b {
                    let frac = (times[i] - times[a]) as f64 / (times[b] - times[a]) as f64;
                    let v = va + (vb - va) * frac;
                    col[i] = if is_float {
                        Val::Float(v)
                    } else {
                        Val::Int(v as i64)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: AggFn, vals: &[(i64, f64)], arg: f64) -> (Val, Option<i64>) {
        let fv = |v: f64| FieldValue::Float(v);
        let mut acc = Acc::start(f, &fv(vals[0].1), vals[0].0);
        for (t, v) in &vals[1..] {
            acc.push(f, &fv(*v), *t);
        }
        acc.finish(f, arg)
    }

    #[test]
    fn order_statistics_and_selectors() {
        let data = [(3, 5.0), (1, 1.0), (2, 9.0), (4, 3.0)];
        assert_eq!(run(AggFn::Median, &data, 0.0).0, Val::Float(4.0));
        assert_eq!(run(AggFn::Spread, &data, 0.0).0, Val::Float(8.0));
        assert_eq!(run(AggFn::Percentile, &data, 50.0).0, Val::Float(3.0));
        assert_eq!(run(AggFn::Max, &data, 0.0), (Val::Float(9.0), Some(2)));
        assert_eq!(run(AggFn::First, &data, 0.0), (Val::Float(1.0), Some(1)));
        assert_eq!(run(AggFn::Last, &data, 0.0), (Val::Float(3.0), Some(4)));
        let sd = run(AggFn::Stddev, &[(1, 2.0), (2, 4.0)], 0.0)
            .0
            .as_f64()
            .unwrap();
        assert!((sd - std::f64::consts::SQRT_2).abs() < 1e-12);
        assert!(AggFn::Sum.check_type(FieldType::String).is_err());
        assert!(AggFn::Count.check_type(FieldType::String).is_ok());
    }

    #[test]
    fn transforms_and_fills() {
        let t = [0, 10, 20, 30];
        let v = [Val::Int(1), Val::Null, Val::Int(3), Val::Int(2)];
        assert_eq!(
            TransformFn::CumulativeSum.apply(&t, &v, 0),
            vec![Val::Int(1), Val::Null, Val::Int(4), Val::Int(6)]
        );
        assert_eq!(
            TransformFn::NonNegativeDifference.apply(&t, &v, 0),
            vec![Val::Null, Val::Null, Val::Int(2), Val::Null]
        );
        assert_eq!(
            TransformFn::Derivative.apply(&t, &v, 10),
            vec![Val::Null, Val::Null, Val::Float(1.0), Val::Float(-1.0)]
        );
        let mut col = v.to_vec();
        fill_column(Fill::Linear, &t, &mut col);
        assert_eq!(col[1], Val::Int(2));
        let mut col = v.to_vec();
        fill_column(Fill::Previous, &t, &mut col);
        assert_eq!(col[1], Val::Int(1));
        let mut col = vec![Val::Float(1.5), Val::Null];
        fill_column(Fill::Int(0), &t[..2], &mut col);
        assert_eq!(col[1], Val::Float(0.0));
    }
}
