//! PostgreSQL's interval functions DataFusion lacks or answers
//! differently.
//!
//! - `interval * number`, `number * interval` and `interval / number`
//!   ([`IntervalArithmetic`], as the SQL is planned): PostgreSQL scales months, days and time apart and
//!   carries the fractions down (a fraction of a month as 30 days, of a day
//!   as 24 hours), rounding to microseconds: `interval '1 hour' * 3.5` is
//!   `03:30:00`, `interval '1 month' / 2` is `15 days`. DataFusion refuses
//!   the operation.
//! - `make_interval(years, months, weeks, days, hours, mins, secs)`, each
//!   argument defaulting to 0 (named arguments are placed by
//!   [`crate::pg_syntax`]). As PostgreSQL 15 computes it, months and days
//!   are 32-bit sums that wrap on overflow.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, IntervalMonthDayNanoArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int32Type, IntervalMonthDayNano, IntervalUnit};
use datafusion::common::{DFSchema, Result, exec_err, plan_err};
use datafusion::logical_expr::ExprSchemable;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, Expr, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::columnar::{answer, arrays};

const DAYS_PER_MONTH: f64 = 30.0;
const SECS_PER_DAY: f64 = 86_400.0;
const USECS_PER_SEC: f64 = 1_000_000.0;

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_))
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric()
}

/// Plans `interval * number`, `number * interval` and `interval / number`
/// as PostgreSQL computes them (DataFusion's planner refuses them).
#[derive(Debug)]
pub(crate) struct IntervalArithmetic;

impl ExprPlanner for IntervalArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        use datafusion::sql::sqlparser::ast::BinaryOperator;
        let op = match expr.op {
            BinaryOperator::Multiply => Operator::Multiply,
            BinaryOperator::Divide => Operator::Divide,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        Ok(match scaled(&expr.left, op, &expr.right, &lt, &rt) {
            Some(planned) => PlannerResult::Planned(planned),
            None => PlannerResult::Original(expr),
        })
    }
}

/// The call PostgreSQL makes of `left op right` if it scales an interval
/// by a number (`lt` and `rt` are the operands' types).
fn scaled(left: &Expr, op: Operator, right: &Expr, lt: &DataType, rt: &DataType) -> Option<Expr> {
    let (interval, factor, divide) = match op {
        Operator::Multiply if is_interval(lt) && is_number(rt) => (left, right, false),
        Operator::Multiply if is_number(lt) && is_interval(rt) => (right, left, false),
        Operator::Divide if is_interval(lt) && is_number(rt) => (left, right, true),
        _ => return None,
    };
    Some(Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(ScalarUDF::new_from_impl(IntervalScale::new(divide))),
        vec![interval.clone(), factor.clone()],
    )))
}

/// Rounds to microseconds, as PostgreSQL's `TSROUND`.
fn ts_round(v: f64) -> f64 {
    (v * USECS_PER_SEC).round_ties_even() / USECS_PER_SEC
}

/// 22008, as PostgreSQL: an interval past what its fields hold (here
/// Arrow's: 64-bit nanoseconds, about 292 years of time).
fn out_of_range() -> datafusion::error::DataFusionError {
    crate::QueryError::InvalidArgument {
        status: floe_common::Status::DatetimeFieldOverflow,
        message: "interval out of range".into(),
    }
    .into_datafusion()
}

fn to_i32(v: f64) -> Result<i32> {
    if v.is_nan() || v > i32::MAX as f64 || v < i32::MIN as f64 {
        return Err(out_of_range());
    }
    Ok(v as i32)
}

/// `span * factor` (or `span / factor`) as PostgreSQL's `interval_mul` and
/// `interval_div` compute it.
pub(crate) fn scale(
    span: IntervalMonthDayNano,
    factor: f64,
    divide: bool,
) -> Result<IntervalMonthDayNano> {
    if divide && factor == 0.0 {
        return Err(datafusion::error::DataFusionError::ArrowError(
            Box::new(arrow::error::ArrowError::DivideByZero),
            None,
        ));
    }
    let apply = |v: f64| if divide { v / factor } else { v * factor };
    let micros = span.nanoseconds / 1000;
    let month = to_i32(apply(span.months as f64))?;
    let mut day = to_i32(apply(span.days as f64))?;
    let month_remainder_days =
        ts_round((apply(span.months as f64) - month as f64) * DAYS_PER_MONTH);
    let mut sec_remainder = ts_round(
        (apply(span.days as f64) - day as f64 + month_remainder_days
            - month_remainder_days.trunc())
            * SECS_PER_DAY,
    );
    if sec_remainder.abs() >= SECS_PER_DAY {
        let whole = (sec_remainder / SECS_PER_DAY).trunc();
        day = day.checked_add(whole as i32).ok_or_else(out_of_range)?;
        sec_remainder -= whole * SECS_PER_DAY;
    }
    day = day
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(out_of_range)?;
    let time = (apply(micros as f64) + sec_remainder * USECS_PER_SEC).round_ties_even();
    if time.is_nan() || time >= i64::MAX as f64 / 1000.0 || time <= i64::MIN as f64 / 1000.0 {
        return Err(out_of_range());
    }
    Ok(IntervalMonthDayNano::new(month, day, time as i64 * 1000))
}

/// `pg_interval_mul(interval, number)` / `pg_interval_div(...)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalScale {
    divide: bool,
    signature: Signature,
}

impl IntervalScale {
    fn new(divide: bool) -> IntervalScale {
        IntervalScale {
            divide,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntervalScale {
    fn name(&self) -> &str {
        if self.divide {
            "pg_interval_div"
        } else {
            "pg_interval_mul"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [i, n] if is_interval(i) && (is_number(n) || n.is_null()) => Ok(vec![
                DataType::Interval(IntervalUnit::MonthDayNano),
                DataType::Float64,
            ]),
            _ => plan_err!("{} takes an interval and a number", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [spans, factors] = arrays.as_slice() else {
            return exec_err!("{} takes two arguments", self.name());
        };
        let spans = cast(spans, &DataType::Interval(IntervalUnit::MonthDayNano))?;
        let factors = cast(factors, &DataType::Float64)?;
        let spans = spans.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>();
        let factors = factors.as_primitive::<Float64Type>();
        let out = spans
            .iter()
            .zip(factors.iter())
            .map(|(s, f)| match (s, f) {
                (Some(s), Some(f)) => scale(s, f, self.divide).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<IntervalMonthDayNanoArray>>()?;
        answer(Arc::new(out), scalar)
    }
}

/// `make_interval(years, months, weeks, days, hours, mins, secs)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MakeInterval {
    signature: Signature,
}

const PARTS: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];

impl MakeInterval {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(MakeInterval {
            signature: Signature::user_defined(Volatility::Immutable)
                .with_parameter_names(PARTS.to_vec())
                .expect("make_interval's names fit its signature"),
        })
    }
}

impl ScalarUDFImpl for MakeInterval {
    fn name(&self) -> &str {
        "make_interval"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() > PARTS.len() {
            return plan_err!("make_interval takes at most 7 arguments");
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if !(t.is_numeric() || t.is_null()) {
                    return plan_err!("make_interval's {} must be a number, not {t}", PARTS[i]);
                }
                Ok(if i == 6 {
                    DataType::Float64
                } else {
                    DataType::Int32
                })
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.is_empty() {
            return Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::IntervalMonthDayNano(Some(
                    IntervalMonthDayNano::new(0, 0, 0),
                )),
            ));
        }
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let rows = arrays.first().map_or(1, |a| a.len());
        let ints: Vec<ArrayRef> = arrays
            .iter()
            .take(6)
            .map(|a| cast(a, &DataType::Int32))
            .collect::<std::result::Result<_, _>>()?;
        let secs: Option<ArrayRef> = arrays
            .get(6)
            .map(|a| cast(a, &DataType::Float64))
            .transpose()?;
        let int = |i: usize, row: usize| -> Option<Option<i32>> {
            match ints.get(i) {
                None => Some(Some(0)),
                Some(a) if a.is_null(row) => None,
                Some(a) => Some(Some(a.as_primitive::<Int32Type>().value(row))),
            }
        };
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let parts: Option<Vec<i32>> = (0..6).map(|i| int(i, row).flatten()).collect();
            let sec = match &secs {
                None => Some(0.0),
                Some(s) if s.is_null(row) => None,
                Some(s) => Some(
                    s.as_any()
                        .downcast_ref::<Float64Array>()
                        .map_or(0.0, |s| s.value(row)),
                ),
            };
            let (Some(p), Some(sec)) = (parts, sec) else {
                out.push(None);
                continue;
            };
            if !sec.is_finite() {
                return Err(out_of_range());
            }
            // PostgreSQL 15 sums months and days in 32 bits, wrapping.
            let months = p[0].wrapping_mul(12).wrapping_add(p[1]);
            let days = p[2].wrapping_mul(7).wrapping_add(p[3]);
            let secs = (sec * USECS_PER_SEC).round_ties_even();
            if secs.abs() >= i64::MAX as f64 {
                return Err(out_of_range());
            }
            let nanos = (p[4] as i64)
                .checked_mul(3_600_000_000)
                .and_then(|h| h.checked_add((p[5] as i64) * 60_000_000))
                .and_then(|t| t.checked_add(secs as i64))
                .and_then(|micros| micros.checked_mul(1000))
                .ok_or_else(out_of_range)?;
            out.push(Some(IntervalMonthDayNano::new(months, days, nanos)));
        }
        answer(Arc::new(IntervalMonthDayNanoArray::from(out)), scalar)
    }
}

/// `make_interval(days => 10)` with its arguments in place: DataFusion
/// places named arguments but has no defaults for the ones before them,
/// so those are written as 0.
pub(crate) fn place_named_arguments(stmt: &mut datafusion::sql::sqlparser::ast::Statement) {
    use datafusion::sql::sqlparser::ast::{
        Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, Value,
        visit_expressions_mut,
    };
    let _ = visit_expressions_mut(stmt, |expr| {
        if let SqlExpr::Function(f) = expr
            && crate::pg_syntax::names_function(&f.name, "make_interval")
            && let FunctionArguments::List(list) = &mut f.args
            && list
                .args
                .iter()
                .any(|a| matches!(a, FunctionArg::Named { .. } | FunctionArg::ExprNamed { .. }))
        {
            let mut placed: Vec<Option<SqlExpr>> = vec![None; PARTS.len()];
            for (i, arg) in list.args.iter().enumerate() {
                let (at, value) = match arg {
                    FunctionArg::Named {
                        name,
                        arg: FunctionArgExpr::Expr(e),
                        ..
                    }
                    | FunctionArg::ExprNamed {
                        name: SqlExpr::Identifier(name),
                        arg: FunctionArgExpr::Expr(e),
                        ..
                    } => match PARTS
                        .iter()
                        .position(|p| p.eq_ignore_ascii_case(&name.value))
                    {
                        Some(at) => (at, e.clone()),
                        None => return std::ops::ControlFlow::<()>::Continue(()),
                    },
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => (i, e.clone()),
                    _ => return std::ops::ControlFlow::Continue(()),
                };
                if at < PARTS.len() {
                    placed[at] = Some(value);
                }
            }
            let last = placed.iter().rposition(Option::is_some).unwrap_or(0);
            list.args = placed
                .into_iter()
                .take(last + 1)
                .enumerate()
                .map(|(i, a)| {
                    let zero = if i == 6 { "0.0" } else { "0" };
                    let a = a.unwrap_or_else(|| SqlExpr::value(Value::Number(zero.into(), false)));
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(a))
                })
                .collect();
        }
        std::ops::ControlFlow::Continue(())
    });
}

#[cfg(test)]
mod tests;
