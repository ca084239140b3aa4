//! `avg()` as PostgreSQL computes it.
//!
//! Of integers and numerics it is a numeric of at least 16 fractional
//! digits, rounded half away from zero in its last digit; of
//! floating-point numbers it is a double. DataFusion averages integers as
//! a double (whose rounding then shows in arithmetic and casts), keeps only
//! scale + 4 digits of a numeric, and truncates the last one. The sums and
//! counts are DataFusion's accumulators'; Floe asks them for one digit more
//! than it answers and rounds that digit away.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray};
use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, Decimal128Type, Field, FieldRef};
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
        match one_digit_more(&acc_args) {
            Some((finer, answer)) => Ok(Box::new(Rounded {
                inner: self.inner.accumulator(finer)?,
                answer,
            })),
            None => self.inner.accumulator(acc_args),
        }
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
        match one_digit_more(&args) {
            Some((finer, answer)) => Ok(Box::new(RoundedGroups {
                inner: self.inner.create_groups_accumulator(finer)?,
                answer,
            })),
            None => self.inner.create_groups_accumulator(args),
        }
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

/// For an average answered as `Decimal128(p, s)` with room for one more
/// fractional digit: the arguments that ask DataFusion's accumulator for
/// `Decimal128(p, s + 1)`, and the answer's type.
fn one_digit_more<'a>(args: &AccumulatorArgs<'a>) -> Option<(AccumulatorArgs<'a>, DataType)> {
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
    Some((finer, args.return_field.data_type().clone()))
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

/// A decimal array of one digit more than `answer` (a `Decimal128`)
/// rounded to `answer`.
fn round_array(finer: ArrayRef, answer: &DataType) -> Result<ArrayRef> {
    let DataType::Decimal128(precision, scale) = answer else {
        return Ok(finer);
    };
    let rounded = finer
        .as_primitive::<Decimal128Type>()
        .unary::<_, Decimal128Type>(drop_digit)
        .with_precision_and_scale(*precision, *scale)?;
    Ok(Arc::new(rounded))
}

/// DataFusion's accumulator, one digit finer, rounded on evaluation.
#[derive(Debug)]
struct Rounded {
    inner: Box<dyn Accumulator>,
    answer: DataType,
}

impl Accumulator for Rounded {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.inner.update_batch(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let finer = self.inner.evaluate()?;
        ScalarValue::try_from_array(&round_array(finer.to_array()?, &self.answer)?, 0)
    }

    fn size(&self) -> usize {
        self.inner.size() + size_of::<DataType>()
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

/// DataFusion's groups accumulator, one digit finer, rounded on
/// evaluation.
struct RoundedGroups {
    inner: Box<dyn GroupsAccumulator>,
    answer: DataType,
}

impl GroupsAccumulator for RoundedGroups {
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
        round_array(self.inner.evaluate(emit_to)?, &self.answer)
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
        self.inner.size() + size_of::<DataType>()
    }
}

#[cfg(test)]
mod tests;
