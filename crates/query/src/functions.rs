//! Functions whose results follow PostgreSQL rather than DataFusion's defaults.

use std::sync::Arc;

use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType, FieldRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::average::avg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    Signature,
};

/// The aggregate functions Floe registers over DataFusion's.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![AggregateUDF::new_from_impl(PgAvg::new())]
}

/// `avg()` of a numeric column keeps at least 16 fractional digits, as
/// PostgreSQL's `avg(numeric)` does (DataFusion keeps only scale + 4).
/// Everything else is DataFusion's `avg`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgAvg {
    inner: Arc<AggregateUDF>,
}

impl PgAvg {
    fn new() -> PgAvg {
        PgAvg { inner: avg_udaf() }
    }
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
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::Decimal128(p, s)) => Ok(avg_decimal(*p, *s)),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
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
        self.inner.create_groups_accumulator(args)
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

#[cfg(test)]
mod tests;
