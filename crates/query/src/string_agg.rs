//! `string_agg` answering text, as PostgreSQL's does. DataFusion's answers
//! `LargeUtf8`, the type Floe keeps for bit strings ([`crate::bits`]), so
//! its answer would be shown as `bit varying` and refused by text
//! functions. The aggregation is DataFusion's; only the answer is cast.

use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::string_agg::string_agg_udaf;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, GroupsAccumulator, ReversedUDAF,
    Signature,
};

use crate::mapped::{Mapped, unchanged};

/// `string_agg` answering `Utf8` (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgStringAgg {
    inner: Arc<AggregateUDF>,
}

impl PgStringAgg {
    pub(crate) fn new() -> PgStringAgg {
        PgStringAgg {
            inner: string_agg_udaf(),
        }
    }
}

impl AggregateUDFImpl for PgStringAgg {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Mapped {
            inner: self.inner.accumulator(args)?,
            input: unchanged,
            output: Some(DataType::Utf8),
        }))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Mapped {
            inner: self.inner.create_groups_accumulator(args)?,
            input: unchanged,
            output: Some(DataType::Utf8),
        }))
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        match self.inner.reverse_udf() {
            ReversedUDAF::Reversed(_) => {
                ReversedUDAF::Reversed(Arc::new(AggregateUDF::new_from_impl(PgStringAgg::new())))
            }
            other => other,
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}
