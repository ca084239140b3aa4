//! `sum()` as PostgreSQL types it.
//!
//! PostgreSQL sums `smallint` and `integer` as `bigint`, and `bigint` as
//! `numeric`, which cannot overflow. DataFusion sums every integer as a
//! 64-bit integer with wrapping additions, so the sum of bigints past
//! 2^63 comes back as a wrong number without an error. Floe sums 64-bit
//! integers as exact decimals (its answer is a numeric, as PostgreSQL's);
//! everything else, and every accumulator, is DataFusion's `sum`.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::cast;
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
use crate::mapped::Mapped;

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

/// The type `sum` takes an integer argument as: 64-bit integers as exact
/// decimals; smaller ones as they are, added as bigint (see [`widen`]).
/// Casting them to bigint in the plan would not be stable: a second type
/// coercion of the same plan (DataFusion coerces a subquery's plan twice)
/// would then take that bigint for a 64-bit argument.
fn sum_integer(arg: &DataType) -> DataType {
    match arg {
        DataType::Int64 | DataType::UInt64 => DataType::Decimal128(20, 0),
        t if is_narrow(t) => t.clone(),
        _ => DataType::Int64,
    }
}

/// Integers narrower than 64 bits, which `sum` adds as bigint.
pub(crate) fn is_narrow(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

/// The arguments widened to bigint where narrower.
fn widen(values: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    values
        .iter()
        .map(|v| {
            if is_narrow(v.data_type()) {
                Ok(cast(v, &DataType::Int64)?)
            } else {
                Ok(Arc::clone(v))
            }
        })
        .collect()
}

/// The accumulator `build` makes for `args` with narrow integer arguments
/// typed as bigint, wrapped by `wrap` (to widen them) if any was narrow.
fn widened<T: ?Sized>(
    args: AccumulatorArgs,
    build: impl FnOnce(AccumulatorArgs) -> Result<Box<T>>,
    wrap: fn(Box<T>) -> Box<T>,
) -> Result<Box<T>> {
    let (fields, narrow) = widened_fields(&args);
    let inner = build(AccumulatorArgs {
        expr_fields: &fields,
        ..args
    })?;
    Ok(if narrow { wrap(inner) } else { inner })
}

/// `args` with narrow integer arguments typed as bigint, and whether any
/// was narrow.
fn widened_fields(args: &AccumulatorArgs) -> (Vec<FieldRef>, bool) {
    let mut narrow = false;
    let fields = args
        .expr_fields
        .iter()
        .map(|f| {
            if is_narrow(f.data_type()) {
                narrow = true;
                Arc::new(f.as_ref().clone().with_data_type(DataType::Int64))
            } else {
                Arc::clone(f)
            }
        })
        .collect();
    (fields, narrow)
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
        match arg_types {
            [t] if is_narrow(t) => Ok(DataType::Int64),
            _ => self.inner.return_type(arg_types),
        }
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        widened(
            args,
            |a| self.inner.accumulator(a),
            |a| {
                Box::new(Mapped {
                    inner: a,
                    input: widen,
                    output: None,
                })
            },
        )
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        let (fields, _) = widened_fields(&args);
        self.inner.groups_accumulator_supported(AccumulatorArgs {
            expr_fields: &fields,
            ..args
        })
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        widened(
            args,
            |a| self.inner.create_groups_accumulator(a),
            |a| {
                Box::new(Mapped {
                    inner: a,
                    input: widen,
                    output: None,
                })
            },
        )
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        widened(
            args,
            |a| self.inner.create_sliding_accumulator(a),
            |a| {
                Box::new(Mapped {
                    inner: a,
                    input: widen,
                    output: None,
                })
            },
        )
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
