//! `sum()` as PostgreSQL types it.
//!
//! PostgreSQL sums `smallint` and `integer` as `bigint`, and `bigint` as
//! `numeric`, which cannot overflow. DataFusion sums every integer as a
//! 64-bit integer with wrapping additions, so the sum of bigints past
//! 2^63 comes back as a wrong number without an error. Floe sums 64-bit
//! integers as exact decimals (its answer is a numeric, as PostgreSQL's);
//! everything else, and every accumulator, is DataFusion's `sum`.

use std::sync::Arc;

use arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, GroupsAccumulator, Operator,
    ReversedUDAF, SetMonotonicity, Signature, Volatility,
};

use crate::functions::numeric_argument;

/// `sum()` as PostgreSQL's (see the module's doc).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct PgSum {
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl PgSum {
    pub(crate) fn new() -> PgSum {
        PgSum {
            inner: sum_udaf(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The type `sum` adds an integer argument as: 64-bit integers as exact
/// decimals, smaller ones as bigint.
fn sum_integer(arg: &DataType) -> DataType {
    match arg {
        DataType::Int64 | DataType::UInt64 => DataType::Decimal128(20, 0),
        _ => DataType::Int64,
    }
}

impl AggregateUDFImpl for PgSum {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        numeric_argument("sum", arg_types, sum_integer)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.accumulator(args)
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

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        self.inner.reverse_udf()
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        self.inner.inner().order_sensitivity()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn set_monotonicity(&self, data_type: &DataType) -> SetMonotonicity {
        self.inner.inner().set_monotonicity(data_type)
    }

    fn simplify_expr_op_literal(
        &self,
        agg_function: &AggregateFunction,
        arg: &Expr,
        op: Operator,
        lit: &Expr,
        arg_is_left: bool,
    ) -> Result<Option<Expr>> {
        self.inner
            .inner()
            .simplify_expr_op_literal(agg_function, arg, op, lit, arg_is_left)
    }
}

#[cfg(test)]
mod tests;
