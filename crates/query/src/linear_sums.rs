//! Sums of one integer column plus different constants, computed once.
//!
//! `SELECT sum(w), sum(w + 1), sum(w + 2), ... sum(w + 89)` (dashboards
//! and ClickBench's Q30 write such lists) needs only `sum(w)` and
//! `count(w)`: `sum(w + k) = sum(w) + k * count(w)`. DataFusion knows this
//! rewrite for its own `sum`, but cannot see it in Floe's plans: Floe sums
//! a bigint as an exact decimal (as PostgreSQL sums it as numeric), so the
//! argument is `CAST(w + k AS DECIMAL)`, not `w + k`.
//!
//! [`LinearSums`] rewrites an aggregation with two or more such sums over
//! one column into the shared `sum` and `count` under a projection that
//! adds `k * count` in exact decimals and casts back to the sum's type.
//! It applies only where the answer cannot differ from PostgreSQL's:
//!
//! - `w` is a smallint or integer widened to bigint (the type `w + 1`
//!   takes), and `|k| <= 2^31`, so `w + k` cannot overflow a bigint and the
//!   per-row addition could never have raised 22003;
//! - the sum's argument is the decimal Floe sums a bigint as (a narrower
//!   `numeric(p)` could overflow in one form and not the other);
//! - `w` is not volatile (it is read twice: by the sum and the count);
//! - the sum has no DISTINCT, FILTER or ORDER BY;
//! - the aggregation has no grouping sets.
//!
//! A sum over no rows is NULL either way: `NULL + k * 0` is NULL.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result};
use datafusion::functions_aggregate::count::count;
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, Alias};
use datafusion::logical_expr::{
    Aggregate, BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator, Projection,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

/// The largest constant a rewritten sum may add (see the module's doc).
const MAX_CONSTANT: i64 = 1 << 31;

/// Fewest sums over one column worth a rewrite: one sum would become two
/// aggregates.
const MIN_SHARED: usize = 2;

/// The type exact arithmetic on the shared aggregates is done in.
const EXACT: DataType = DataType::Decimal128(38, 0);

/// The analyzer rule (see the module's doc). It runs after type coercion,
/// so common subexpression elimination later shares what it produces.
#[derive(Debug, Default)]
pub struct LinearSums;

impl AnalyzerRule for LinearSums {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan
            .transform_up_with_subqueries(|node| match node {
                LogicalPlan::Aggregate(agg) => rewrite_aggregate(agg),
                other => Ok(Transformed::no(other)),
            })?
            .data)
    }

    fn name(&self) -> &str {
        "floe_linear_sums"
    }
}

/// `sum(CAST(w + k AS DECIMAL))` taken apart: the sum's call, `w` (a
/// bigint), `k` and the decimal type of the sum's argument.
struct LinearSum<'a> {
    call: &'a AggregateFunction,
    column: &'a Expr,
    constant: i64,
    argument_type: &'a DataType,
}

/// The linear sum `e` is, if it is one the rewrite may take (see the
/// module's doc).
fn linear_sum<'a>(e: &'a Expr, input: &DFSchema) -> Option<LinearSum<'a>> {
    let e = match e {
        Expr::Alias(Alias { expr, .. }) => expr.as_ref(),
        e => e,
    };
    let Expr::AggregateFunction(call) = e else {
        return None;
    };
    let AggregateFunctionParams {
        args,
        distinct,
        filter,
        order_by,
        null_treatment,
    } = &call.params;
    if !call.func.inner().is::<crate::sum::PgSum>()
        || *distinct
        || filter.is_some()
        || !order_by.is_empty()
        || null_treatment.is_some()
    {
        return None;
    }
    let [Expr::Cast(Cast { expr, field })] = args.as_slice() else {
        return None;
    };
    let data_type = field.data_type();
    // The type Floe sums a bigint as: no value of `w + k` overflows it, so
    // neither form can fail where the other does not.
    if !matches!(data_type, DataType::Decimal128(p, 0) if *p >= 20) {
        return None;
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr.as_ref() else {
        return None;
    };
    let (column, constant) = match (op, left.as_ref(), right.as_ref()) {
        (Operator::Plus, c, Expr::Literal(k, _)) | (Operator::Plus, Expr::Literal(k, _), c) => {
            (c, integer(k)?)
        }
        (Operator::Minus, c, Expr::Literal(k, _)) => (c, integer(k)?.checked_neg()?),
        _ => return None,
    };
    if constant.unsigned_abs() > MAX_CONSTANT.unsigned_abs()
        || column.is_volatile()
        || !widened_narrow_integer(column, input)
    {
        return None;
    }
    Some(LinearSum {
        call,
        column,
        constant,
        argument_type: data_type,
    })
}

/// The value of an integer literal.
fn integer(k: &ScalarValue) -> Option<i64> {
    match k {
        ScalarValue::Int8(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(*v),
        _ => None,
    }
}

/// Whether `e` is a bigint cast of a value no wider than 32 bits, so that
/// adding a constant up to [`MAX_CONSTANT`] cannot overflow.
fn widened_narrow_integer(e: &Expr, input: &DFSchema) -> bool {
    let Expr::Cast(Cast { expr, field }) = e else {
        return false;
    };
    *field.data_type() == DataType::Int64
        && expr
            .get_type(input)
            .is_ok_and(|t| crate::sum::is_narrow(&t))
}

/// The aggregation with its linear sums rewritten, where two or more share
/// a column.
fn rewrite_aggregate(agg: Aggregate) -> Result<Transformed<LogicalPlan>> {
    if agg
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    let input = agg.input.schema();
    let mut shared: HashMap<&Expr, usize> = HashMap::new();
    for e in &agg.aggr_expr {
        if let Some(sum) = linear_sum(e, input) {
            *shared.entry(sum.column).or_default() += 1;
        }
    }
    if !shared.values().any(|n| *n >= MIN_SHARED) {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }

    // The new aggregation's expressions, and for each old one how the
    // projection computes it from them. The shared aggregates get names
    // of their own: an expression's name leaves out its casts, so
    // `sum(CAST(w AS DECIMAL))` would share its name with `sum(w)`.
    let mut aggregates: Vec<Expr> = Vec::new();
    let mut shared_names: Vec<(Expr, String)> = Vec::new();
    let mut share = |e: Expr, aggregates: &mut Vec<Expr>| -> Column {
        if let Some((_, name)) = shared_names.iter().find(|(known, _)| *known == e) {
            return Column::from_name(name.clone());
        }
        let name = (0..)
            .map(|n| format!("__floe_linear_{}_{n}", shared_names.len()))
            .find(|name| !input.has_column_with_unqualified_name(name))
            .expect("some name is free");
        aggregates.push(e.clone().alias(name.clone()));
        shared_names.push((e, name.clone()));
        Column::from_name(name)
    };
    let mut outputs: Vec<Expr> = Vec::new();
    for e in &agg.aggr_expr {
        let rewritten = match linear_sum(e, input) {
            Some(sum) if shared[sum.column] >= MIN_SHARED => {
                let base = Expr::AggregateFunction(AggregateFunction {
                    func: Arc::clone(&sum.call.func),
                    params: AggregateFunctionParams {
                        args: vec![cast(sum.column.clone(), sum.argument_type.clone())],
                        ..sum.call.params.clone()
                    },
                });
                let base = share(base, &mut aggregates);
                let rows = share(count(sum.column.clone()), &mut aggregates);
                let constant = ScalarValue::Decimal128(Some(i128::from(sum.constant)), 38, 0);
                Some(
                    cast(Expr::Column(base), EXACT)
                        + Expr::Literal(constant, None) * cast(Expr::Column(rows), EXACT),
                )
            }
            _ => None,
        };
        outputs.push(match rewritten {
            Some(formula) => formula,
            None => {
                aggregates.push(e.clone());
                Expr::Column(Column::from_name(e.schema_name().to_string()))
            }
        });
    }

    let old_schema = Arc::clone(&agg.schema);
    let groups = agg.group_expr.len();
    let inner = LogicalPlan::Aggregate(Aggregate::try_new(
        Arc::clone(&agg.input),
        agg.group_expr.clone(),
        aggregates,
    )?);
    let inner_schema = Arc::clone(inner.schema());
    let mut exprs: Vec<Expr> = Vec::with_capacity(old_schema.fields().len());
    for (i, (qualifier, field)) in old_schema.iter().enumerate() {
        let value = if i < groups {
            let (q, f) = inner_schema.qualified_field(i);
            Expr::Column(Column::new(q.cloned(), f.name()))
        } else {
            match outputs[i - groups].clone() {
                Expr::Column(c) => Expr::Column(c),
                formula => cast(formula, field.data_type().clone()),
            }
        };
        exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    let projection = Projection::try_new(exprs, Arc::new(inner))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}

/// `CAST(e AS to)`.
fn cast(e: Expr, to: DataType) -> Expr {
    Expr::Cast(Cast::new(Box::new(e), to))
}

#[cfg(test)]
mod tests;
