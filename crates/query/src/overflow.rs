//! Integer arithmetic that fails on overflow, as PostgreSQL's does.
//!
//! DataFusion adds, subtracts and multiplies integers with wrapping
//! kernels: `9223372036854775807 + 1` answers -9223372036854775808, a
//! wrong number without an error. PostgreSQL answers SQLSTATE 22003
//! ("bigint out of range"). [`PgCheckedArithmetic`] replaces each such
//! operation on two integers of one type by [`CheckedArithmetic`], which
//! computes with Arrow's checked kernels. It runs twice: as an analyzer
//! rule after type coercion, before the optimizer folds constants, over
//! every node but aggregations; and as the optimizer's last rule, over
//! everything, after DataFusion's own rules have rewritten the arithmetic
//! in aggregates (`sum(x + 1)` into `sum(x) + 1 * count(x)`).

use std::sync::Arc;

use arrow::array::Datum;
use arrow::compute::kernels::numeric;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::{BinaryExpr, ScalarFunction};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::{AnalyzerRule, OptimizerConfig, OptimizerRule};
use datafusion::scalar::ScalarValue;

use crate::rewrite::{rewrite_expressions, rewrite_node};

/// An integer operation that fails on overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
}

impl Op {
    fn of(op: &Operator) -> Option<Op> {
        match op {
            Operator::Plus => Some(Op::Add),
            Operator::Minus => Some(Op::Sub),
            Operator::Multiply => Some(Op::Mul),
            _ => None,
        }
    }
}

/// `int_add(a, b)`, `int_sub(a, b)`, `int_mul(a, b)`: the operator on two
/// integers of one type, an error (22003) where the result does not fit.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CheckedArithmetic {
    op: Op,
    signature: Signature,
}

impl CheckedArithmetic {
    fn udf(op: Op) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(CheckedArithmetic {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for CheckedArithmetic {
    fn name(&self) -> &str {
        match self.op {
            Op::Add => "int_add",
            Op::Sub => "int_sub",
            Op::Mul => "int_mul",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [a, b] if a == b && a.is_integer() => Ok(a.clone()),
            _ => exec_err!("{} takes two integers of one type", self.name()),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let nullable = args.arg_fields.iter().any(|f| f.is_nullable());
        Ok(Arc::new(Field::new(
            self.name(),
            self.return_type(&types)?,
            nullable,
        )))
    }

    /// An operation on a NULL is NULL of the operands' type, folded so
    /// that what needs a constant (`nth_value`'s n) sees one.
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let null = args.iter().find_map(|a| match a {
            Expr::Literal(v, _) if v.is_null() && v.data_type().is_integer() => Some(v.clone()),
            _ => None,
        });
        Ok(match null {
            Some(null) => ExprSimplifyResult::Simplified(Expr::Literal(null, None)),
            None => ExprSimplifyResult::Original(args),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [a, b] = args.args.as_slice() else {
            return exec_err!("{} takes two arguments", self.name());
        };
        let datum = |v: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match v {
                ColumnarValue::Array(array) => Box::new(array.clone()),
                ColumnarValue::Scalar(scalar) => Box::new(scalar.to_scalar()?),
            })
        };
        let (da, db) = (datum(a)?, datum(b)?);
        let result = match self.op {
            Op::Add => numeric::add(da.as_ref(), db.as_ref()),
            Op::Sub => numeric::sub(da.as_ref(), db.as_ref()),
            Op::Mul => numeric::mul(da.as_ref(), db.as_ref()),
        }?;
        if matches!((a, b), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_))) {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// The optimizer rule that makes integer `+`, `-` and `*` fail on
/// overflow (see the module's doc).
#[derive(Debug)]
pub struct PgCheckedArithmetic {
    add: Arc<ScalarUDF>,
    sub: Arc<ScalarUDF>,
    mul: Arc<ScalarUDF>,
}

impl PgCheckedArithmetic {
    pub fn new() -> PgCheckedArithmetic {
        PgCheckedArithmetic {
            add: CheckedArithmetic::udf(Op::Add),
            sub: CheckedArithmetic::udf(Op::Sub),
            mul: CheckedArithmetic::udf(Op::Mul),
        }
    }

    fn udf(&self, op: Op) -> &Arc<ScalarUDF> {
        match op {
            Op::Add => &self.add,
            Op::Sub => &self.sub,
            Op::Mul => &self.mul,
        }
    }
}

impl Default for PgCheckedArithmetic {
    fn default() -> Self {
        PgCheckedArithmetic::new()
    }
}

impl PgCheckedArithmetic {
    /// The checked call for `e`, if it is integer `+`, `-` or `*`.
    fn checked(&self, e: &Expr, schema: &DFSchema) -> Option<Expr> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
            return None;
        };
        let op = Op::of(op)?;
        let (lt, rt) = (left.get_type(schema).ok()?, right.get_type(schema).ok()?);
        if lt != rt || !lt.is_integer() {
            return None;
        }
        Some(Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf(op).clone(),
            vec![left.as_ref().clone(), right.as_ref().clone()],
        )))
    }
}

impl AnalyzerRule for PgCheckedArithmetic {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let rewritten = plan.transform_up_with_subqueries(|node| {
            if matches!(node, LogicalPlan::Aggregate(_)) {
                return Ok(Transformed::no(node));
            }
            rewrite_node(node, &|e, schema| Ok(self.checked(e, schema)))
        })?;
        Ok(rewritten.data)
    }

    fn name(&self) -> &str {
        "floe_pg_checked_arithmetic"
    }
}

impl OptimizerRule for PgCheckedArithmetic {
    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        rewrite_expressions(plan, &|e, schema| Ok(self.checked(e, schema)))
    }

    fn name(&self) -> &str {
        "floe_pg_checked_arithmetic"
    }
}

#[cfg(test)]
mod tests;
