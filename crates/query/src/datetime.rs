//! Date and time arithmetic with PostgreSQL's types and answers, where
//! DataFusion's would be a different answer without an error.
//!
//! - `date ± interval` is a `timestamp`, as in PostgreSQL (DataFusion's
//!   is a date, which drops an interval's time of day).
//! - `time ± interval` is a `time`, wrapping at midnight; only the
//!   interval's time of day counts (DataFusion's is an interval).
//! - `timestamp - timestamp` (and a date with a timestamp) is an interval
//!   of days and a time of day (`63 days 15:00:00`), as PostgreSQL's
//!   `justify_hours` gives it; DataFusion's is a duration, which compares
//!   and adds to intervals differently.
//! - An interval compares with a duration by length; a quoted literal
//!   met by an interval (in a comparison, BETWEEN, IN or `CASE x WHEN`)
//!   is an interval.
//!   Two intervals compare, sort and group in [`crate::interval_order`].
//! - `date_trunc` and `date_bin` of a date or of a quoted literal work on
//!   a `timestamp with time zone`, and `date_trunc` of a `time` is an
//!   interval, as PostgreSQL resolves those calls.
//! - `timezone(zone, ts)`, which `ts AT TIME ZONE zone` becomes (see
//!   [`crate::pg_syntax`]): a `timestamp with time zone` (or a quoted
//!   literal, or a date) becomes the wall-clock `timestamp` in `zone`, and
//!   a `timestamp` read as wall-clock time in `zone` becomes a `timestamp
//!   with time zone`. Zones are IANA names or offsets; an offset written
//!   alone or after `UTC`/`GMT` is POSIX's, positive west of Greenwich,
//!   as in PostgreSQL (`'+07'` is seven hours behind UTC).

use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, IntervalMonthDayNanoArray, PrimitiveArray,
    StringArray, TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, DurationNanosecondType, Int64Type, IntervalMonthDayNano, IntervalUnit,
    Time64NanosecondType, TimeUnit, TimestampNanosecondType,
};
use arrow::error::ArrowError;
use chrono::DateTime;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result, exec_err, plan_err};
use datafusion::logical_expr::expr::{Between, BinaryExpr, Case, Cast, InList, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::columnar::{answer, arrays};
use crate::rewrite::rewrite_expressions;
use crate::zone::{from_wall_clock, pg_zone, to_wall_clock};

const DAY_NANOS: i64 = 86_400_000_000_000;

/// The time zone a `timestamp with time zone` is computed in.
const UTC: &str = "UTC";

fn is_date(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64)
}

fn is_time(t: &DataType) -> bool {
    matches!(t, DataType::Time32(_) | DataType::Time64(_))
}

fn is_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..))
}

/// An interval or a duration (what `timestamp - timestamp` is before
/// this rule).
fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_) | DataType::Duration(_))
}

pub(crate) fn is_calendar_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_))
}

/// Whether `op` compares its operands (`=`, `<`, `IS DISTINCT FROM`...).
pub(crate) fn is_comparison(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn cast_to(e: &Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e.clone()), to))
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, None)
}

fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into()))
}

/// A quoted literal met by an interval, as the interval it is read as
/// (PostgreSQL types the literal by what it meets; DataFusion would not
/// compare text with an interval in BETWEEN, IN or CASE).
fn quoted_interval(e: &Expr) -> Option<Expr> {
    matches!(e, Expr::Literal(ScalarValue::Utf8(Some(_)), _))
        .then(|| cast_to(e, DataType::Interval(IntervalUnit::MonthDayNano)))
}

fn binary(left: Expr, op: Operator, right: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
}

/// `date ± interval` as a date, if `e` is that sum made a timestamp by
/// this rule and the interval is a literal of whole days and months: the
/// timestamp is then a midnight, and a date compares with it as with the
/// date. A date column compared with `DATE '1998-12-01' - INTERVAL '90'
/// DAY` stays a date comparison, which file and row-group statistics
/// can prune.
fn whole_days(e: &Expr, schema: &DFSchema) -> Option<Expr> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    let whole = |i: &Expr| match i {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => v.nanoseconds == 0,
        Expr::Literal(ScalarValue::IntervalYearMonth(Some(_)), _) => true,
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => v.milliseconds == 0,
        _ => false,
    };
    let date = |d: &Expr| match d {
        Expr::Cast(Cast { expr, field })
            if *field.data_type() == timestamp()
                && expr.get_type(schema).is_ok_and(|t| is_date(&t)) =>
        {
            Some(expr.as_ref().clone())
        }
        _ => None,
    };
    match (date(left), date(right)) {
        (Some(d), None) if whole(right) => Some(binary(d, *op, *right.clone())),
        (None, Some(d)) if *op == Operator::Plus && whole(left) => {
            Some(binary(*left.clone(), *op, d))
        }
        _ => None,
    }
}

/// The analyzer rule, ahead of DataFusion's type coercion, that gives
/// date and time arithmetic, interval comparisons and `date_trunc`/
/// `date_bin` PostgreSQL's types and answers (see the module's doc).
/// It changes result types, so a statement's plan passes through it
/// when it is made (its output columns then have their final types) and
/// again when it runs; a second pass changes nothing.
#[derive(Debug)]
pub struct PgDateTime {
    minus: Arc<ScalarUDF>,
    time_trunc: Arc<ScalarUDF>,
    time_plus: Arc<ScalarUDF>,
    interval_key: Arc<ScalarUDF>,
}

impl Default for PgDateTime {
    fn default() -> Self {
        PgDateTime::new()
    }
}

impl PgDateTime {
    pub fn new() -> PgDateTime {
        PgDateTime {
            minus: Arc::new(ScalarUDF::new_from_impl(TimestampMinus::new())),
            time_trunc: Arc::new(ScalarUDF::new_from_impl(TimeTrunc::new())),
            time_plus: Arc::new(ScalarUDF::new_from_impl(TimePlusInterval::new())),
            interval_key: interval_key(),
        }
    }

    fn call(udf: &Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), args))
    }

    fn key(&self, e: &Expr) -> Expr {
        Self::call(&self.interval_key, vec![e.clone()])
    }

    fn rewrite(&self, e: &Expr, schema: &DFSchema) -> Result<Option<Expr>> {
        let type_of = |e: &Expr| e.get_type(schema).ok();
        Ok(match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (Some(lt), Some(rt)) = (type_of(left), type_of(right)) else {
                    return Ok(None);
                };
                let additive = matches!(op, Operator::Plus | Operator::Minus);
                if additive && is_date(&lt) && is_calendar_interval(&rt) {
                    Some(binary(cast_to(left, timestamp()), *op, *right.clone()))
                } else if *op == Operator::Plus && is_calendar_interval(&lt) && is_date(&rt) {
                    Some(binary(*left.clone(), *op, cast_to(right, timestamp())))
                } else if additive && is_time(&lt) && is_calendar_interval(&rt) {
                    let sign = if *op == Operator::Minus { -1 } else { 1 };
                    Some(Self::call(
                        &self.time_plus,
                        vec![
                            *left.clone(),
                            *right.clone(),
                            Expr::Literal(ScalarValue::Int64(Some(sign)), None),
                        ],
                    ))
                } else if *op == Operator::Plus && is_calendar_interval(&lt) && is_time(&rt) {
                    Some(Self::call(
                        &self.time_plus,
                        vec![
                            *right.clone(),
                            *left.clone(),
                            Expr::Literal(ScalarValue::Int64(Some(1)), None),
                        ],
                    ))
                } else if *op == Operator::Minus
                    && (is_timestamp(&lt) || is_date(&lt))
                    && (is_timestamp(&rt) || is_date(&rt))
                    && !(is_date(&lt) && is_date(&rt))
                {
                    Some(Self::call(&self.minus, vec![*left.clone(), *right.clone()]))
                } else if is_comparison(op) && is_interval(&lt) && is_interval(&rt) && lt != rt {
                    // An interval met by a duration, which Arrow cannot
                    // compare; two intervals compare in `interval_order`.
                    Some(binary(self.key(left), *op, self.key(right)))
                } else if is_comparison(op)
                    && is_calendar_interval(&lt)
                    && let Some(r) = quoted_interval(right)
                {
                    Some(binary(*left.clone(), *op, r))
                } else if is_comparison(op)
                    && is_calendar_interval(&rt)
                    && let Some(l) = quoted_interval(left)
                {
                    Some(binary(l, *op, *right.clone()))
                } else if is_comparison(op) && is_date(&lt) && is_timestamp(&rt) {
                    whole_days(right, schema).map(|r| binary(*left.clone(), *op, r))
                } else if is_comparison(op) && is_timestamp(&lt) && is_date(&rt) {
                    whole_days(left, schema).map(|l| binary(l, *op, *right.clone()))
                } else {
                    None
                }
            }
            Expr::Between(b) if type_of(&b.expr).is_some_and(|t| is_calendar_interval(&t)) => {
                let (low, high) = (quoted_interval(&b.low), quoted_interval(&b.high));
                (low.is_some() || high.is_some()).then(|| {
                    Expr::Between(Between::new(
                        b.expr.clone(),
                        b.negated,
                        Box::new(low.unwrap_or_else(|| *b.low.clone())),
                        Box::new(high.unwrap_or_else(|| *b.high.clone())),
                    ))
                })
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) if type_of(expr).is_some_and(|t| is_calendar_interval(&t))
                && list.iter().any(|e| quoted_interval(e).is_some()) =>
            {
                Some(Expr::InList(InList::new(
                    expr.clone(),
                    list.iter()
                        .map(|e| quoted_interval(e).unwrap_or_else(|| e.clone()))
                        .collect(),
                    *negated,
                )))
            }
            Expr::Case(Case {
                expr: Some(base),
                when_then_expr,
                else_expr,
            }) if type_of(base).is_some_and(|t| is_calendar_interval(&t))
                && when_then_expr
                    .iter()
                    .any(|(w, _)| quoted_interval(w).is_some()) =>
            {
                Some(Expr::Case(Case {
                    expr: Some(base.clone()),
                    when_then_expr: when_then_expr
                        .iter()
                        .map(|(w, t)| {
                            (
                                Box::new(quoted_interval(w).unwrap_or_else(|| *w.clone())),
                                t.clone(),
                            )
                        })
                        .collect(),
                    else_expr: else_expr.clone(),
                }))
            }
            Expr::ScalarFunction(f) if matches!(f.name(), "date_trunc" | "date_bin") => {
                self.truncation(f, schema)?
            }
            _ => None,
        })
    }

    /// `date_trunc(unit, x)` or `date_bin(stride, x, origin)` with the
    /// argument types PostgreSQL resolves the call to: a date or a quoted
    /// literal is a `timestamp with time zone`, unless the other argument
    /// is a timestamp; `date_trunc` of a `time` is an interval.
    fn truncation(&self, f: &ScalarFunction, schema: &DFSchema) -> Result<Option<Expr>> {
        let mut args = f.args.clone();
        let literal = |e: &Expr| matches!(e, Expr::Literal(ScalarValue::Utf8(Some(_)), _));
        // A quoted literal takes the type of the timestamp beside it, if
        // there is one (`date_bin(i, ts, '2000-01-01')`).
        let mut to = timestamptz();
        for arg in args.iter().skip(1).filter(|a| !literal(a)) {
            if let t @ DataType::Timestamp(..) = arg.get_type(schema)? {
                to = t;
            }
        }
        let mut changed = false;
        // PostgreSQL's spellings of a unit (`'mon'`, `'hrs'`) by the names
        // the engine knows.
        if f.name() == "date_trunc"
            && let Some(Expr::Literal(ScalarValue::Utf8(Some(unit)), _)) = args.first()
            && let Some(canonical) = canonical_unit(unit)
            && canonical != unit
        {
            args[0] = Expr::Literal(ScalarValue::Utf8(Some(canonical.to_string())), None);
            changed = true;
        }
        for arg in args.iter_mut().skip(1) {
            if literal(arg) || is_date(&arg.get_type(schema)?) {
                *arg = cast_to(arg, to.clone());
                changed = true;
            }
        }
        if f.name() == "date_trunc"
            && let Some(of) = args.get(1)
            && is_time(&of.get_type(schema)?)
        {
            return Ok(Some(Self::call(&self.time_trunc, args)));
        }
        Ok(changed.then(|| Expr::ScalarFunction(ScalarFunction::new_udf(f.func.clone(), args))))
    }
}

impl AnalyzerRule for PgDateTime {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(rewrite_expressions(plan, &|e, schema| self.rewrite(e, schema))?.data)
    }

    fn name(&self) -> &str {
        "floe_pg_datetime"
    }
}

/// An interval's length in nanoseconds, a month counted as 30 days and a
/// day as 24 hours: what PostgreSQL compares intervals by.
pub(crate) fn interval_length(v: IntervalMonthDayNano) -> i128 {
    (v.months as i128 * 30 + v.days as i128) * DAY_NANOS as i128 + v.nanoseconds as i128
}

/// A duration, an interval or a time of day as nanoseconds, a month
/// counted as 30 days and a day as 24 hours (the comparison value
/// PostgreSQL gives an interval); durations and times as their length.
fn nanoseconds(array: &ArrayRef) -> Result<PrimitiveArray<arrow::datatypes::Decimal128Type>> {
    let t = array.data_type();
    Ok(match t {
        DataType::Null => PrimitiveArray::new_null(array.len()),
        DataType::Interval(_) => {
            let v = cast(array, &DataType::Interval(IntervalUnit::MonthDayNano))?;
            v.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
                .unary(interval_length)
        }
        DataType::Duration(_) => cast(array, &DataType::Duration(TimeUnit::Nanosecond))?
            .as_primitive::<DurationNanosecondType>()
            .unary(|v| v as i128),
        DataType::Time32(_) | DataType::Time64(_) => {
            cast(array, &DataType::Time64(TimeUnit::Nanosecond))?
                .as_primitive::<Time64NanosecondType>()
                .unary(|v| v as i128)
        }
        other => return exec_err!("not an interval, a duration or a time: {other}"),
    })
}

/// `pg_interval_cmp_key(x)`: an interval's (or duration's) comparison
/// value, as a numeric of nanoseconds.
pub(crate) fn interval_key() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(IntervalKey::new()))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalKey {
    signature: Signature,
}

impl IntervalKey {
    fn new() -> IntervalKey {
        IntervalKey {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IntervalKey {
    fn name(&self) -> &str {
        "pg_interval_cmp_key"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(38, 0))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [value] = arrays.as_slice() else {
            return exec_err!("pg_interval_cmp_key takes one argument");
        };
        let keys: Decimal128Array = nanoseconds(value)?.with_precision_and_scale(38, 0)?;
        answer(Arc::new(keys), scalar)
    }
}

/// `pg_timestamp_minus(a, b)`: PostgreSQL's `timestamp - timestamp`
/// (either may be a date or have a time zone), an interval of days and a
/// time of day.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampMinus {
    signature: Signature,
}

impl TimestampMinus {
    fn new() -> TimestampMinus {
        TimestampMinus {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// `nanos` as an interval of whole days and the rest, each with the sign
/// of the whole (PostgreSQL's `justify_hours`).
fn days_and_time(nanos: i128) -> std::result::Result<IntervalMonthDayNano, ArrowError> {
    let days = i32::try_from(nanos / DAY_NANOS as i128)
        .map_err(|_| ArrowError::ComputeError("interval out of range".into()))?;
    Ok(IntervalMonthDayNano::new(
        0,
        days,
        (nanos % DAY_NANOS as i128) as i64,
    ))
}

impl ScalarUDFImpl for TimestampMinus {
    fn name(&self) -> &str {
        "pg_timestamp_minus"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [a, b] = arrays.as_slice() else {
            return exec_err!("pg_timestamp_minus takes two arguments");
        };
        // Instants (a zone's timestamps are UTC underneath); a date or a
        // timestamp without time zone is read in the session's zone, UTC.
        let instants = |x: &ArrayRef| -> Result<ArrayRef> {
            let x = match x.data_type() {
                DataType::Timestamp(unit, Some(_)) => {
                    cast(x, &DataType::Timestamp(*unit, Some(UTC.into())))?
                }
                _ => x.clone(),
            };
            Ok(cast(
                &cast(&x, &DataType::Timestamp(TimeUnit::Nanosecond, None))?,
                &DataType::Int64,
            )?)
        };
        let (a, b) = (instants(a)?, instants(b)?);
        let intervals: IntervalMonthDayNanoArray = arrow::compute::try_binary(
            a.as_primitive::<Int64Type>(),
            b.as_primitive::<Int64Type>(),
            |a, b| days_and_time(a as i128 - b as i128),
        )?;
        answer(Arc::new(intervals), scalar)
    }
}

/// `pg_date_trunc_time(unit, t)`: `date_trunc` of a time of day, as an
/// interval (PostgreSQL truncates the time's interval). The time is
/// rounded to microseconds first, as PostgreSQL reads it; units of a day
/// or more truncate it to zero.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeTrunc {
    signature: Signature,
}

impl TimeTrunc {
    fn new() -> TimeTrunc {
        TimeTrunc {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The unit PostgreSQL reads `unit` as (`'mon'`, `'hrs'`, `'Y'`...), by
/// the name `date_trunc` knows it as, or `None` if it names no unit.
pub(crate) fn canonical_unit(unit: &str) -> Option<&'static str> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "microsecond" | "microseconds" | "microsecon" | "us" | "usec" | "usecs" | "useconds" => {
            "microsecond"
        }
        "millisecond" | "milliseconds" | "millisecon" | "ms" | "msec" | "msecs" | "mseconds" => {
            "millisecond"
        }
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "minute" | "minutes" | "m" | "min" | "mins" => "minute",
        "hour" | "hours" | "h" | "hr" | "hrs" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "quarter" | "qtr" => "quarter",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" | "dec" | "decs" => "decade",
        "century" | "centuries" | "c" | "cent" => "century",
        "millennium" | "millennia" | "mil" | "mils" => "millennium",
        _ => return None,
    })
}

/// The nanoseconds a time of day is truncated to multiples of, for
/// `unit`; 0 for units of a day or more.
fn time_unit_nanos(unit: &str) -> Result<i64> {
    Ok(match canonical_unit(unit) {
        Some("microsecond") => 1_000,
        Some("millisecond") => 1_000_000,
        Some("second") => 1_000_000_000,
        Some("minute") => 60_000_000_000,
        Some("hour") => 3_600_000_000_000,
        Some("week") | None => {
            return exec_err!("unit \"{unit}\" not supported for type interval");
        }
        Some(_) => 0,
    })
}

impl ScalarUDFImpl for TimeTrunc {
    fn name(&self) -> &str {
        "pg_date_trunc_time"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [units, times] = arrays.as_slice() else {
            return exec_err!("pg_date_trunc_time takes two arguments");
        };
        let units = cast(units, &DataType::Utf8)?;
        let units: &StringArray = units.as_string();
        let nanos = nanoseconds(times)?;
        let mut out = Vec::with_capacity(nanos.len());
        for (i, n) in nanos.iter().enumerate() {
            let (Some(n), false) = (n, units.is_null(i)) else {
                out.push(None);
                continue;
            };
            let n = n as i64;
            let micros_rounded = (n + 500).div_euclid(1_000) * 1_000;
            let truncated = match time_unit_nanos(units.value(i))? {
                0 => 0,
                unit => micros_rounded - micros_rounded.rem_euclid(unit),
            };
            out.push(Some(IntervalMonthDayNano::new(0, 0, truncated)));
        }
        answer(Arc::new(IntervalMonthDayNanoArray::from(out)), scalar)
    }
}

/// `pg_time_plus_interval(t, i, sign)`: the time of day `t` plus `sign`
/// times the time-of-day part of the interval `i`, wrapping at midnight
/// (PostgreSQL's `time + interval`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimePlusInterval {
    signature: Signature,
}

impl TimePlusInterval {
    fn new() -> TimePlusInterval {
        TimePlusInterval {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TimePlusInterval {
    fn name(&self) -> &str {
        "pg_time_plus_interval"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(t) if is_time(t) => Ok(t.clone()),
            _ => plan_err!("pg_time_plus_interval takes a time"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [time, interval, sign] = arrays.as_slice() else {
            return exec_err!("pg_time_plus_interval takes three arguments");
        };
        let of = time.data_type().clone();
        let time = cast(time, &DataType::Time64(TimeUnit::Nanosecond))?;
        let interval = cast(interval, &DataType::Interval(IntervalUnit::MonthDayNano))?;
        let sign = sign.as_primitive::<Int64Type>();
        let sum: PrimitiveArray<Time64NanosecondType> = arrow::compute::binary(
            time.as_primitive::<Time64NanosecondType>(),
            interval.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>(),
            |t, i| {
                (t as i128 + i.nanoseconds as i128 * sign.value(0) as i128)
                    .rem_euclid(DAY_NANOS as i128) as i64
            },
        )?;
        answer(cast(&sum, &of)?, scalar)
    }
}

/// `timezone(zone, ts)`: PostgreSQL's `ts AT TIME ZONE zone` (see the
/// module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgTimezone {
    signature: Signature,
}

impl PgTimezone {
    pub(crate) fn new() -> PgTimezone {
        PgTimezone {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for PgTimezone {
    fn name(&self) -> &str {
        "timezone"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [zone, ts]
                if zone.is_null()
                    || matches!(
                        zone,
                        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                    ) =>
            {
                Ok(vec![DataType::Utf8, ts.clone()])
            }
            _ => plan_err!("timezone(zone, timestamp) takes the zone as text"),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.get(1) {
            Some(DataType::Timestamp(_, None)) => Ok(timestamptz()),
            Some(t) if is_timestamp(t) || is_date(t) || t.is_null() => Ok(timestamp()),
            Some(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => Ok(timestamp()),
            Some(other) => plan_err!(
                "AT TIME ZONE of a {other}: Floe takes a timestamp, a timestamp with time zone or a date"
            ),
            None => plan_err!("timezone takes two arguments"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [zones, values] = arrays.as_slice() else {
            return exec_err!("timezone takes two arguments");
        };
        let zones = cast(zones, &DataType::Utf8)?;
        let zones: &StringArray = zones.as_string();
        let wall_clock_in = matches!(values.data_type(), DataType::Timestamp(_, None));
        let nanos: ArrayRef = match values.data_type() {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                let text = cast(values, &DataType::Utf8)?;
                let parsed: TimestampNanosecondArray = text
                    .as_string::<i32>()
                    .iter()
                    .map(|s| {
                        s.map(arrow::compute::kernels::cast_utils::string_to_timestamp_nanos)
                            .transpose()
                    })
                    .collect::<std::result::Result<_, _>>()?;
                Arc::new(parsed)
            }
            DataType::Null => {
                return answer(
                    arrow::array::new_null_array(
                        &args.return_field.data_type().clone(),
                        arrays[1].len(),
                    ),
                    scalar,
                );
            }
            _ => cast(values, &DataType::Timestamp(TimeUnit::Nanosecond, None))?,
        };
        let nanos = nanos.as_primitive::<TimestampNanosecondType>();
        let mut last: Option<(String, Tz)> = None;
        let mut out = Vec::with_capacity(nanos.len());
        for (i, v) in nanos.iter().enumerate() {
            let (Some(v), false) = (v, zones.is_null(i)) else {
                out.push(None);
                continue;
            };
            let zone = zones.value(i);
            let tz = match &last {
                Some((name, tz)) if name == zone => *tz,
                _ => {
                    let tz = pg_zone(zone)?;
                    last = Some((zone.to_string(), tz));
                    tz
                }
            };
            out.push(Some(if wall_clock_in {
                let wall = DateTime::from_timestamp_nanos(v).naive_utc();
                match from_wall_clock(&tz, wall) {
                    Some(instant) => instant,
                    None => return exec_err!("timestamp out of range"),
                }
            } else {
                to_wall_clock(&tz, v)
            }));
        }
        let out = TimestampNanosecondArray::from(out);
        let out: ArrayRef = if wall_clock_in {
            Arc::new(out.with_timezone(UTC))
        } else {
            Arc::new(out)
        };
        answer(out, scalar)
    }
}

#[cfg(test)]
mod tests;
