//! Division of numerics as PostgreSQL computes it.
//!
//! PostgreSQL gives a quotient of two numerics (or a numeric and an
//! integer) at least 16 significant digits: its scale is chosen per value
//! from the operands' leading digits (`select_div_scale`), and the last
//! digit is rounded half away from zero. `2.0 / 3` is
//! 0.66666666666666666667 and `10.0 / 3` is 3.3333333333333333. DataFusion
//! keeps the dividend's scale plus four digits and truncates: 0.66666 and
//! 3.33333, so `2.0 / 3 * 3` was 1.99998.
//!
//! A column has one scale, so the quotient's type keeps
//! [`quotient_scale`] digits (20 where the operands' integer digits
//! allow): every value is rounded where PostgreSQL rounds it and then
//! written at that scale (`3.33333333333333330000`, equal to PostgreSQL's
//! value). A quotient whose integer part does not fit fails with SQLSTATE
//! 22003; one PostgreSQL would give more than the type's digits (a
//! quotient below 0.0001) is rounded to the type's scale.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Decimal128Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, i256};
use arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::logical_expr::expr::{BinaryExpr, Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

use crate::columnar::{answer, arrays};
use crate::rewrite::rewrite_expressions;

/// The greatest number of digits a quotient's type keeps after the point
/// when its operands' types leave room for it.
const QUOTIENT_SCALE: i8 = 20;

/// PostgreSQL's `NUMERIC_MIN_SIG_DIGITS`.
const MIN_SIG_DIGITS: i32 = 16;

/// The precision and scale an operand of a division is read at: a
/// numeric's own, an integer's as a numeric of scale 0.
fn numeric_shape(t: &DataType) -> Option<(u8, i8)> {
    Some(match t {
        DataType::Decimal128(p, s) if *s >= 0 => (*p, *s),
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::Int64 => (19, 0),
        DataType::UInt64 => (20, 0),
        _ => return None,
    })
}

/// The scale of the quotient's type for operands of these shapes: at
/// least either operand's, and [`QUOTIENT_SCALE`] unless the quotient's
/// integer digits would leave fewer than 16 below the point.
fn quotient_scale((p1, s1): (u8, i8), (_, s2): (u8, i8)) -> i8 {
    let integer_digits = (p1 as i16 - s1 as i16) + s2 as i16;
    let room = (38 - integer_digits).clamp(16, QUOTIENT_SCALE as i16) as i8;
    room.max(s1).max(s2)
}

/// The base-10000 weight and leading base-10000 digit of the numeric
/// `unscaled / 10^scale`, as PostgreSQL stores it; (0, 0) for zero.
fn weight_and_first_digit(unscaled: i128, scale: i8) -> (i32, u128) {
    let magnitude = unscaled.unsigned_abs();
    if magnitude == 0 {
        return (0, 0);
    }
    let digits = magnitude.ilog10() as i32 + 1;
    let exponent = digits - 1 - scale as i32;
    let weight = exponent.div_euclid(4);
    let shift = scale as i32 + 4 * weight;
    let first = if shift >= 0 {
        magnitude / 10u128.pow(shift as u32)
    } else {
        magnitude * 10u128.pow((-shift) as u32)
    };
    (weight, first)
}

/// The scale PostgreSQL gives `a / b` (`select_div_scale`).
fn pg_division_scale(a: i128, a_scale: i8, b: i128, b_scale: i8) -> i32 {
    let (w1, f1) = weight_and_first_digit(a, a_scale);
    let (w2, f2) = weight_and_first_digit(b, b_scale);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    (MIN_SIG_DIGITS - qweight * 4)
        .max(a_scale as i32)
        .max(b_scale as i32)
        .max(0)
}

/// 10^n for every n a `Decimal128` holds.
const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut n = 1;
    while n < 39 {
        table[n] = table[n - 1] * 10;
        n += 1;
    }
    table
};

fn overflow() -> ArrowError {
    ArrowError::ArithmeticOverflow("numeric field overflow".into())
}

/// `n / d` rounded half away from zero (`d` is not zero).
fn rounded_quotient(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if r.unsigned_abs() < d.unsigned_abs() - r.unsigned_abs() {
        q
    } else if (n < 0) == (d < 0) {
        q + 1
    } else {
        q - 1
    }
}

/// `rounded_quotient` of `a * 10^exponent` by `b` (or of `a` by
/// `b * 10^-exponent`), in 128 bits where the operands fit and in 256
/// where they do not; `None` if the quotient does not fit 128 bits.
fn scaled_quotient(a: i128, b: i128, exponent: i32) -> Option<i128> {
    let factor = POW10.get(exponent.unsigned_abs() as usize).copied();
    let (n, d) = match (factor, exponent >= 0) {
        (Some(f), true) => (a.checked_mul(f), Some(b)),
        (Some(f), false) => (Some(a), b.checked_mul(f)),
        (None, _) => (None, None),
    };
    if let (Some(n), Some(d)) = (n, d) {
        return Some(rounded_quotient(n, d));
    }
    let ten = i256::from_i128(10);
    let factor = ten.checked_pow(exponent.unsigned_abs())?;
    let (mut n, mut d) = (i256::from_i128(a), i256::from_i128(b));
    if exponent >= 0 {
        n = n.checked_mul(factor)?;
    } else {
        d = d.checked_mul(factor)?;
    }
    let (mut q, r) = (n / d, n % d);
    if r.wrapping_abs() >= d.wrapping_abs() - r.wrapping_abs() {
        q = if (n < i256::ZERO) == (d < i256::ZERO) {
            q + i256::ONE
        } else {
            q - i256::ONE
        };
    }
    q.to_i128()
}

/// `a / 10^a_scale` divided by `b / 10^b_scale`, rounded half away from
/// zero where PostgreSQL rounds it, as an unscaled value at `scale`.
pub(crate) fn divide(
    a: i128,
    a_scale: i8,
    b: i128,
    b_scale: i8,
    scale: i8,
) -> std::result::Result<i128, ArrowError> {
    if b == 0 {
        return Err(ArrowError::DivideByZero);
    }
    let digits = pg_division_scale(a, a_scale, b, b_scale).min(scale as i32);
    // a / b * 10^digits = a * 10^(digits + b_scale - a_scale) / b.
    let exponent = digits + b_scale as i32 - a_scale as i32;
    let q = scaled_quotient(a, b, exponent).ok_or_else(overflow)?;
    let widen = POW10[(scale as i32 - digits) as usize];
    let value = q.checked_mul(widen).ok_or_else(overflow)?;
    if value.unsigned_abs() >= POW10[38].unsigned_abs() {
        return Err(overflow());
    }
    Ok(value)
}

/// `pg_numeric_div(a, b)`: `a / b` for numerics and integers, as
/// PostgreSQL divides them (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericDivide {
    signature: Signature,
}

impl ScalarUDFImpl for NumericDivide {
    fn name(&self) -> &str {
        "pg_numeric_div"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [a, b] = arg_types else {
            return plan_err!("pg_numeric_div takes two arguments");
        };
        match (numeric_shape(a), numeric_shape(b)) {
            (Some(a), Some(b)) => Ok(DataType::Decimal128(38, quotient_scale(a, b))),
            _ => plan_err!("pg_numeric_div divides numerics and integers, not {a} and {b}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(_, scale) = *args.return_field.data_type() else {
            return plan_err!("pg_numeric_div answers a numeric");
        };
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let operand = |a: &ArrayRef| -> Result<(ArrayRef, i8)> {
            let (p, s) = numeric_shape(a.data_type()).unwrap_or((38, 0));
            Ok((cast(a, &DataType::Decimal128(p, s))?, s))
        };
        let (a, a_scale) = operand(&arrays[0])?;
        let (b, b_scale) = operand(&arrays[1])?;
        let (a, b) = (
            a.as_primitive::<Decimal128Type>(),
            b.as_primitive::<Decimal128Type>(),
        );
        let quotient: Decimal128Array =
            arrow::compute::try_binary(a, b, |x, y| divide(x, a_scale, y, b_scale, scale))?;
        answer(
            Arc::new(quotient.with_precision_and_scale(38, scale)?),
            scalar,
        )
    }
}

/// The analyzer rule, ahead of DataFusion's type coercion, that divides
/// numerics as PostgreSQL does (see the module's doc).
#[derive(Debug)]
pub struct PgNumericDivision {
    divide: Arc<ScalarUDF>,
}

impl PgNumericDivision {
    pub fn new() -> PgNumericDivision {
        PgNumericDivision {
            divide: Arc::new(ScalarUDF::new_from_impl(NumericDivide {
                signature: Signature::any(2, Volatility::Immutable),
            })),
        }
    }

    fn rewrite(&self, e: &Expr, schema: &DFSchema) -> Option<Expr> {
        let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Divide,
            right,
        }) = e
        else {
            return None;
        };
        let (lt, rt) = (left.get_type(schema).ok()?, right.get_type(schema).ok()?);
        let decimal = |t: &DataType| matches!(t, DataType::Decimal128(..));
        let both_numbers = numeric_shape(&lt).is_some() && numeric_shape(&rt).is_some();
        if !both_numbers || !(decimal(&lt) || decimal(&rt)) {
            return None;
        }
        Some(Expr::ScalarFunction(ScalarFunction::new_udf(
            self.divide.clone(),
            vec![narrowed(left), narrowed(right)],
        )))
    }
}

/// An integer literal as a numeric of just its digits, so that `1 / 3.0`
/// keeps as many digits as PostgreSQL's (a bigint's 19 integer digits
/// would leave room for fewer); any other operand as it is.
fn narrowed(operand: &Expr) -> Expr {
    if let Expr::Literal(value, _) = operand
        && let Ok(ScalarValue::Int64(Some(v))) = value.cast_to(&DataType::Int64)
        && value.data_type().is_integer()
    {
        let digits = v.unsigned_abs().checked_ilog10().unwrap_or(0) as u8 + 1;
        return Expr::Cast(Cast::new(
            Box::new(operand.clone()),
            DataType::Decimal128(digits, 0),
        ));
    }
    operand.clone()
}

impl Default for PgNumericDivision {
    fn default() -> Self {
        PgNumericDivision::new()
    }
}

impl AnalyzerRule for PgNumericDivision {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(rewrite_expressions(plan, &|e, schema| Ok(self.rewrite(e, schema)))?.data)
    }

    fn name(&self) -> &str {
        "floe_pg_numeric_division"
    }
}

#[cfg(test)]
mod tests;
