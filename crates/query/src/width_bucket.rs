//! `width_bucket(operand, low, high, count)` as PostgreSQL's: the bucket
//! of `operand` among `count` equal-width buckets from `low` to `high`, 0
//! below the range and `count + 1` above it (a range may run downwards).
//! Numerics are bucketed exactly, in integers of one scale; doubles as
//! PostgreSQL's `float8` version does.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type};
use datafusion::common::{Result, exec_err, plan_err};
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
        let counts = count.as_primitive::<Int32Type>();
        let rows = operand.len();
        let mut out = Vec::with_capacity(rows);
        match operand.data_type() {
            DataType::Float64 => {
                let (o, l, h) = (
                    operand.as_primitive::<Float64Type>(),
                    low.as_primitive::<Float64Type>(),
                    high.as_primitive::<Float64Type>(),
                );
                for row in 0..rows {
                    out.push(if any_null(&[operand, low, high, &count], row) {
                        None
                    } else {
                        Some(float_bucket(
                            o.value(row),
                            l.value(row),
                            h.value(row),
                            counts.value(row),
                        )?)
                    });
                }
            }
            DataType::Decimal128(..) => {
                let (o, l, h) = (
                    operand.as_primitive::<Decimal128Type>(),
                    low.as_primitive::<Decimal128Type>(),
                    high.as_primitive::<Decimal128Type>(),
                );
                for row in 0..rows {
                    out.push(if any_null(&[operand, low, high, &count], row) {
                        None
                    } else {
                        Some(exact_bucket(
                            o.value(row),
                            l.value(row),
                            h.value(row),
                            counts.value(row),
                        )?)
                    });
                }
            }
            other => return exec_err!("width_bucket of {other}"),
        }
        answer(Arc::new(Int32Array::from(out)) as ArrayRef, scalar)
    }
}

fn any_null(arrays: &[&ArrayRef], row: usize) -> bool {
    arrays.iter().any(|a| a.is_null(row))
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
        None => exec_err!("integer out of range"),
    }
}

/// The bucket of a numeric, computed exactly: the operand and bounds are
/// integers of one scale.
pub(crate) fn exact_bucket(operand: i128, low: i128, high: i128, count: i32) -> Result<i32> {
    check_count(count)?;
    let (offset, width) = if low < high {
        if operand < low {
            return Ok(0);
        }
        if operand >= high {
            return above(count);
        }
        (operand - low, high - low)
    } else if low > high {
        if operand > low {
            return Ok(0);
        }
        if operand <= high {
            return above(count);
        }
        (low - operand, low - high)
    } else {
        return exec_err!("{}", BAD_ARGUMENTS[1]);
    };
    match offset.checked_mul(i128::from(count)) {
        // Both are positive: integer division is the floor.
        Some(scaled) => Ok((scaled / width) as i32 + 1),
        None => exec_err!("width_bucket: numeric value out of range"),
    }
}

/// The bucket of a double, as PostgreSQL's `float8` version computes it.
pub(crate) fn float_bucket(operand: f64, low: f64, high: f64, count: i32) -> Result<i32> {
    check_count(count)?;
    if operand.is_nan() || low.is_nan() || high.is_nan() {
        return exec_err!("{}", BAD_ARGUMENTS[2]);
    }
    if low.is_infinite() || high.is_infinite() {
        return exec_err!("{}", BAD_ARGUMENTS[3]);
    }
    let fraction = |offset: f64, width: f64, half_offset: f64, half_width: f64| {
        if width.is_infinite() {
            half_offset / half_width
        } else {
            offset / width
        }
    };
    let quotient = if low < high {
        if operand < low {
            return Ok(0);
        }
        if operand >= high {
            return above(count);
        }
        fraction(
            operand - low,
            high - low,
            operand / 2.0 - low / 2.0,
            high / 2.0 - low / 2.0,
        )
    } else if low > high {
        if operand > low {
            return Ok(0);
        }
        if operand <= high {
            return above(count);
        }
        fraction(
            low - operand,
            low - high,
            low / 2.0 - operand / 2.0,
            low / 2.0 - high / 2.0,
        )
    } else {
        return exec_err!("{}", BAD_ARGUMENTS[1]);
    };
    let bucket = (f64::from(count) * quotient) as i32;
    // The quotient can round up to 1.0, which would name the next bucket.
    Ok(bucket.min(count - 1) + 1)
}
