//! `avg()` as PostgreSQL computes it.
//!
//! Of integers and numerics it is a numeric of at least 16 fractional
//! digits, rounded half away from zero in its last digit; of
//! floating-point numbers it is a double. DataFusion averages integers as
//! a double (whose rounding then shows in arithmetic and casts), keeps only
//! scale + 4 digits of a numeric, and truncates the last one. DataFusion's
//! accumulators keep the sums and counts; the mean is Floe's, computed
//! from their state by long division ([`mean`]), so the sum of large
//! values (bigint ids) need not fit once scaled up, which DataFusion's
//! needs. `avg(DISTINCT ...)` is DataFusion's,
//! asked for one digit more than it answers, that digit rounded away.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Decimal128Array};
use arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DataType, Decimal128Type, DecimalType, Field, FieldRef, UInt64Type,
};
use datafusion::error::Result;
use datafusion::functions_aggregate::average::avg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    ReversedUDAF, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;

use crate::functions::numeric_argument;

/// `avg()` as PostgreSQL's (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgAvg {
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl PgAvg {
    pub(crate) fn new() -> PgAvg {
        PgAvg {
            inner: avg_udaf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The type `avg` accumulates an integer argument as: an exact decimal
/// wide enough for every value of every integer type.
fn avg_integer(_arg: &DataType) -> DataType {
    DataType::Decimal128(20, 0)
}

/// The result type of `avg` over `Decimal128(precision, scale)`.
fn avg_decimal(precision: u8, scale: i8) -> DataType {
    let integer_digits = precision as i16 - scale as i16;
    let max_scale = DECIMAL128_MAX_PRECISION as i16 - integer_digits.max(0);
    let scale16 = (scale as i16 + 4).max(16).min(max_scale).max(scale as i16);
    DataType::Decimal128(DECIMAL128_MAX_PRECISION, scale16 as i8)
}

impl AggregateUDFImpl for PgAvg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        numeric_argument("avg", arg_types, avg_integer)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::Decimal128(p, s)) => Ok(avg_decimal(*p, *s)),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if let Some(shape) = Shape::of(&acc_args) {
            if !acc_args.is_distinct {
                return Ok(Box::new(Mean {
                    inner: self.inner.accumulator(acc_args)?,
                    shape,
                }));
            }
            if let Some(finer) = one_digit_more(&acc_args) {
                return Ok(Box::new(Rounded {
                    inner: self.inner.accumulator(finer)?,
                    shape,
                }));
            }
        }
        self.inner.accumulator(acc_args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let shape = Shape::of(&args);
        let inner = self.inner.create_groups_accumulator(args)?;
        Ok(match shape {
            Some(shape) => Box::new(MeanGroups { inner, shape }),
            None => inner,
        })
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_udf()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The scales of an average of decimals (integers are averaged as
/// decimals): of the sum, and of the answer.
#[derive(Debug)]
struct Shape {
    sum_scale: i8,
    precision: u8,
    scale: i8,
}

impl Shape {
    fn of(args: &AccumulatorArgs) -> Option<Shape> {
        match (
            args.expr_fields[0].data_type(),
            args.return_field.data_type(),
        ) {
            (DataType::Decimal128(_, sum_scale), DataType::Decimal128(precision, scale))
                if scale >= sum_scale =>
            {
                Some(Shape {
                    sum_scale: *sum_scale,
                    precision: *precision,
                    scale: *scale,
                })
            }
            _ => None,
        }
    }
}

/// The mean of `count` values whose (unscaled) sum is `sum`, as an
/// unscaled decimal of `shape`'s answer, rounded half away from zero. Long
/// division: the quotient and the remainder are scaled separately, so a
/// sum too large to be scaled up first still has its mean. A mean that
/// does not fit the answer's precision is 22003.
fn mean(sum: i128, count: u64, shape: &Shape) -> Result<i128> {
    let overflow = || {
        datafusion::error::DataFusionError::from(arrow::error::ArrowError::ArithmeticOverflow(
            "numeric field overflow in avg".into(),
        ))
    };
    let count = i128::from(count);
    let unit = 10i128
        .checked_pow((shape.scale - shape.sum_scale) as u32)
        .ok_or_else(overflow)?;
    let (whole, rest) = (sum / count, sum % count);
    let scaled_rest = rest.checked_mul(unit).ok_or_else(overflow)?;
    let mut fraction = scaled_rest / count;
    if (scaled_rest % count).unsigned_abs() * 2 >= count.unsigned_abs() {
        fraction += sum.signum();
    }
    let value = whole
        .checked_mul(unit)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(overflow)?;
    Decimal128Type::validate_decimal_precision(value, shape.precision, shape.scale)
        .map_err(|_| overflow())?;
    Ok(value)
}

/// The mean of every group of a state of DataFusion's decimal average:
/// its counts and its (unscaled) sums. NULL for a group without values.
fn means(state: &[ArrayRef], shape: &Shape) -> Result<ArrayRef> {
    let counts = state[0].as_primitive::<UInt64Type>();
    let sums = state[1].as_primitive::<Decimal128Type>();
    let means = counts
        .iter()
        .zip(sums.iter())
        .map(|(count, sum)| match (count, sum) {
            (Some(count), Some(sum)) if count > 0 => mean(sum, count, shape).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<Decimal128Array>>()?
        .with_precision_and_scale(shape.precision, shape.scale)?;
    Ok(Arc::new(means))
}

/// DataFusion's decimal average for one group, its mean from [`mean`].
#[derive(Debug)]
struct Mean {
    inner: Box<dyn Accumulator>,
    shape: Shape,
}

impl Accumulator for Mean {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let state = self
            .inner
            .state()?
            .iter()
            .map(ScalarValue::to_array)
            .collect::<Result<Vec<_>>>()?;
        ScalarValue::try_from_array(&means(&state, &self.shape)?, 0)
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<Shape>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}

/// DataFusion's decimal average for many groups, their means from
/// [`mean`].
struct MeanGroups {
    inner: Box<dyn GroupsAccumulator>,
    shape: Shape,
}

impl GroupsAccumulator for MeanGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .update_batch(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        means(&self.inner.state(emit_to)?, &self.shape)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.inner.state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.inner
            .merge_batch(values, group_indices, opt_filter, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        self.inner.convert_to_state(values, opt_filter)
    }

    fn supports_convert_to_state(&self) -> bool {
        self.inner.supports_convert_to_state()
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<Shape>()
    }
}

/// For `avg(DISTINCT ...)` answered as `Decimal128(p, s)` with room for
/// one more fractional digit: the arguments that ask DataFusion's
/// accumulator for `Decimal128(p, s + 1)`.
fn one_digit_more<'a>(args: &AccumulatorArgs<'a>) -> Option<AccumulatorArgs<'a>> {
    let DataType::Decimal128(precision, scale) = args.return_field.data_type() else {
        return None;
    };
    if *scale < 0 || (*scale as u8) >= *precision {
        return None;
    }
    let mut finer = args.clone();
    finer.return_field = Arc::new(Field::new(
        args.return_field.name(),
        DataType::Decimal128(*precision, scale + 1),
        args.return_field.is_nullable(),
    ));
    Some(finer)
}

/// An unscaled decimal with its last digit rounded away, half away from
/// zero.
fn drop_digit(v: i128) -> i128 {
    let (whole, rest) = (v / 10, v % 10);
    if rest.abs() >= 5 {
        whole + v.signum()
    } else {
        whole
    }
}

/// DataFusion's distinct average, one digit finer, rounded on evaluation.
#[derive(Debug)]
struct Rounded {
    inner: Box<dyn Accumulator>,
    shape: Shape,
}

impl Accumulator for Rounded {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let finer = match self.inner.evaluate()? {
            ScalarValue::Decimal128(v, ..) => v,
            other => return Ok(other),
        };
        Ok(ScalarValue::Decimal128(
            finer.map(drop_digit),
            self.shape.precision,
            self.shape.scale,
        ))
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<Shape>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.retract_batch(values)
    }

    fn supports_retract_batch(&self) -> bool {
        self.inner.supports_retract_batch()
    }
}

#[cfg(test)]
mod tests;
