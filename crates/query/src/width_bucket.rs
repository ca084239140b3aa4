//! `width_bucket(operand, low, high, count)` as PostgreSQL's: the bucket
//! of `operand` among `count` equal-width buckets from `low` to `high`, 0
//! below the range and `count + 1` above it (a range may run downwards).
//! Numerics are bucketed exactly, in integers of one scale; doubles as
//! PostgreSQL's `float8` version does.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::compute::cast;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Decimal128Type, Float64Type, Int32Type};
use arrow::error::ArrowError;
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::columnar::{answer, arrays};

#[cfg(test)]
mod tests;

/// PostgreSQL's messages for bad arguments (SQLSTATE 2201G).
pub(crate) const BAD_ARGUMENTS: [&str; 4] = [
    "count must be greater than zero",
    "lower bound cannot equal upper bound",
    "operand, lower bound, and upper bound cannot be NaN",
    "lower and upper bounds must be finite",
];

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgWidthBucket {
    signature: Signature,
}

impl PgWidthBucket {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(PgWidthBucket {
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

/// The type the operand and bounds are compared in: double if any is a
/// float, else a numeric of their largest scale.
fn common_type(types: &[DataType]) -> Result<DataType> {
    let mut scale: i8 = 0;
    let mut float = false;
    for t in types {
        match t {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => float = true,
            DataType::Decimal32(_, s)
            | DataType::Decimal64(_, s)
            | DataType::Decimal128(_, s)
            | DataType::Decimal256(_, s) => scale = scale.max(*s),
            t if t.is_integer() || t.is_null() => {}
            other => return plan_err!("width_bucket takes numbers, not {other}"),
        }
    }
    Ok(if float {
        DataType::Float64
    } else {
        DataType::Decimal128(38, scale)
    })
}

impl ScalarUDFImpl for PgWidthBucket {
    fn name(&self) -> &str {
        "width_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [operand, low, high, count] = arg_types else {
            return plan_err!(
                "width_bucket takes four arguments (operand, low, high, count), not {}",
                arg_types.len()
            );
        };
        if !(count.is_integer() || count.is_null()) {
            return plan_err!("width_bucket's count is an integer, not {count}");
        }
        let common = common_type(&[operand.clone(), low.clone(), high.clone()])?;
        Ok(vec![
            common.clone(),
            common.clone(),
            common,
            DataType::Int32,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = arrays(&args.args, args.number_rows)?;
        let [operand, low, high, count] = arrays.as_slice() else {
            return exec_err!("width_bucket takes four arguments");
        };
        let count = cast(count, &DataType::Int32)?;
        let out = match operand.data_type() {
            DataType::Float64 => {
                buckets::<Float64Type>([operand, low, high], &count, float_bucket)?
            }
            DataType::Decimal128(..) => {
                buckets::<Decimal128Type>([operand, low, high], &count, exact_bucket)?
            }
            other => return exec_err!("width_bucket of {other}"),
        };
        answer(Arc::new(Int32Array::from(out)) as ArrayRef, scalar)
    }
}

/// A bucket function over operand, low, high and count.
type Bucket<N> = fn(N, N, N, i32) -> Result<i32>;

/// `bucket` of each row of the operand, low and high `values` (arrays of
/// `T`) and `count`; NULL where any is NULL.
fn buckets<T: ArrowPrimitiveType>(
    values: [&ArrayRef; 3],
    count: &ArrayRef,
    bucket: Bucket<T::Native>,
) -> Result<Vec<Option<i32>>> {
    let counts = count.as_primitive::<Int32Type>();
    let [o, l, h] = values.map(|v| v.as_primitive::<T>());
    (0..o.len())
        .map(|row| {
            if values.iter().any(|v| v.is_null(row)) || count.is_null(row) {
                return Ok(None);
            }
            bucket(o.value(row), l.value(row), h.value(row), counts.value(row)).map(Some)
        })
        .collect()
}

/// An overflow, 22003 as in PostgreSQL.
fn out_of_range(what: &str) -> Result<i32> {
    Err(DataFusionError::ArrowError(
        Box::new(ArrowError::ArithmeticOverflow(format!(
            "width_bucket: {what}"
        ))),
        None,
    ))
}

fn check_count(count: i32) -> Result<()> {
    if count <= 0 {
        return exec_err!("{}", BAD_ARGUMENTS[0]);
    }
    Ok(())
}

fn above(count: i32) -> Result<i32> {
    match count.checked_add(1) {
        Some(c) => Ok(c),
        None => out_of_range("integer out of range"),
    }
}

/// The bucket of an operand outside the upward range `low..high`: 0
/// below it, `count + 1` at or above `high`; None inside it.
fn outside<N: PartialOrd>(operand: &N, low: &N, high: &N, count: i32) -> Result<Option<i32>> {
    if low == high {
        return exec_err!("{}", BAD_ARGUMENTS[1]);
    }
    if operand < low {
        return Ok(Some(0));
    }
    if operand >= high {
        return above(count).map(Some);
    }
    Ok(None)
}

/// The bucket of a numeric, computed exactly: the operand and bounds are
/// integers of one scale. A downward range is the upward one negated
/// (values of 38 digits negate without overflow).
pub(crate) fn exact_bucket(operand: i128, low: i128, high: i128, count: i32) -> Result<i32> {
    check_count(count)?;
    if low > high {
        return exact_bucket(-operand, -low, -high, count);
    }
    if let Some(bucket) = outside(&operand, &low, &high, count)? {
        return Ok(bucket);
    }
    match (operand - low).checked_mul(i128::from(count)) {
        // Both are positive: integer division is the floor.
        Some(scaled) => Ok((scaled / (high - low)) as i32 + 1),
        None => out_of_range("numeric value out of range"),
    }
}

/// The bucket of a double, as PostgreSQL's `float8` version computes it;
/// a downward range is the upward one negated (exact for doubles).
pub(crate) fn float_bucket(operand: f64, low: f64, high: f64, count: i32) -> Result<i32> {
    check_count(count)?;
    if operand.is_nan() || low.is_nan() || high.is_nan() {
        return exec_err!("{}", BAD_ARGUMENTS[2]);
    }
    if low.is_infinite() || high.is_infinite() {
        return exec_err!("{}", BAD_ARGUMENTS[3]);
    }
    if low > high {
        return float_bucket(-operand, -low, -high, count);
    }
    if let Some(bucket) = outside(&operand, &low, &high, count)? {
        return Ok(bucket);
    }
    let quotient = if (high - low).is_infinite() {
        (operand / 2.0 - low / 2.0) / (high / 2.0 - low / 2.0)
    } else {
        (operand - low) / (high - low)
    };
    let bucket = (f64::from(count) * quotient) as i32;
    // The quotient can round up to 1.0, which would name the next bucket.
    Ok(bucket.min(count - 1) + 1)
}
