//! `percentile_cont` as PostgreSQL computes it: the value at fraction `p`
//! of the ordered values, interpolated linearly between the two closest
//! rows in double precision. DataFusion's rounds the interpolation weight
//! down to millionths first, so `percentile_cont(0.3)` of 10, 20, 30, 40,
//! 50 is 21.99999 rather than 22. The signature, the planning and the
//! state are DataFusion's; the accumulator is Floe's ([`Percentile`]).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, RecordBatch};
use arrow::buffer::OffsetBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Schema};
use datafusion::error::Result;
use datafusion::functions_aggregate::percentile_cont::percentile_cont_udaf;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Documentation, Signature,
};
use datafusion::scalar::ScalarValue;

/// `percentile_cont` with PostgreSQL's interpolation (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgPercentileCont {
    inner: Arc<AggregateUDF>,
}

impl PgPercentileCont {
    pub(crate) fn new() -> PgPercentileCont {
        PgPercentileCont {
            inner: percentile_cont_udaf(),
        }
    }
}

impl AggregateUDFImpl for PgPercentileCont {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        // DataFusion's checks the fraction and answers an argument of no
        // type; the rest is Floe's.
        let checked = self.inner.accumulator(args.clone())?;
        let input = args.expr_fields[0].data_type().clone();
        // The fraction is a constant (DataFusion's accumulator checked it).
        let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
        let fraction = match args.exprs.get(1).map(|e| e.evaluate(&empty)).transpose()? {
            Some(ColumnarValue::Scalar(ScalarValue::Float64(Some(p)))) => Some(p),
            Some(ColumnarValue::Scalar(ScalarValue::Float32(Some(p)))) => Some(p as f64),
            _ => None,
        };
        let (Some(fraction), false) = (fraction, input.is_null()) else {
            return Ok(checked);
        };
        let descending = args.order_bys.first().is_some_and(|s| s.options.descending);
        Ok(Box::new(Percentile {
            values: Vec::new(),
            fraction: if descending { 1.0 - fraction } else { fraction },
            distinct: args.is_distinct,
            input,
        }))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        false
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner.inner().simplify()
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The values of one group, as doubles, and the fraction to find.
#[derive(Debug)]
struct Percentile {
    values: Vec<f64>,
    fraction: f64,
    distinct: bool,
    /// The argument's type, which the state and the answer keep.
    input: DataType,
}

/// The value at `fraction` of `values`, interpolated as PostgreSQL's
/// `percentile_cont` does; NaN sorts after every number.
fn percentile(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.is_nan().cmp(&b.is_nan()).then(a.total_cmp(b)));
    let position = fraction * (values.len() - 1) as f64;
    let (first, second) = (position.floor(), position.ceil());
    let low = values[first as usize];
    if first == second {
        return Some(low);
    }
    let high = values[second as usize];
    Some(low + (high - low) * (position - first))
}

impl Accumulator for Percentile {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let doubles = cast(&values[0], &DataType::Float64)?;
        self.values
            .extend(doubles.as_primitive::<Float64Type>().iter().flatten());
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if !lists.is_null(i) {
                self.update_batch(&[lists.value(i)])?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: ArrayRef = Arc::new(Float64Array::from(std::mem::take(&mut self.values)));
        let values = cast(&values, &self.input)?;
        let list = ListArray::new(
            Arc::new(Field::new_list_field(self.input.clone(), true)),
            OffsetBuffer::from_lengths([values.len()]),
            values,
            None,
        );
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.distinct {
            self.values
                .sort_by(|a, b| a.is_nan().cmp(&b.is_nan()).then(a.total_cmp(b)));
            self.values
                .dedup_by(|a, b| a == b || (a.is_nan() && b.is_nan()));
        }
        ScalarValue::Float64(percentile(&mut self.values, self.fraction)).cast_to(&self.input)
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.values.capacity() * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests;
