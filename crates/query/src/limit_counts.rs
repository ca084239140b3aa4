//! Row counts given by subqueries: `LIMIT (SELECT ...)` and
//! `OFFSET (SELECT ...)` (and `FETCH FIRST`, should the parser take a
//! subquery there).
//!
//! PostgreSQL evaluates such a count once, before the query runs (it may
//! not refer to the query's own rows). Floe does the same: each count
//! subquery is planned and run first and its value written in its place,
//! so the engine plans a query with constant counts. As in PostgreSQL, a
//! NULL limit means no limit and a NULL offset none; a negative count is
//! an error (2201W, 2201X), and so is a subquery of more than one row
//! (21000).

use std::ops::ControlFlow;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::execution::SessionState;
use datafusion::physical_plan::collect;
use datafusion::sql::sqlparser::ast::{
    Expr, LimitClause, Query, Statement, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use floe_common::Status;

use crate::error::QueryError;
use crate::result_types::ResultTypes;

#[cfg(test)]
mod tests;

/// Which count a subquery gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Limit,
    Offset,
}

/// The subquery of a count expression, if it is one (in parentheses or not).
fn subquery(expr: &Expr) -> Option<&Query> {
    match expr {
        Expr::Subquery(query) => Some(query),
        Expr::Nested(inner) => subquery(inner),
        _ => None,
    }
}

/// The count expressions of one query, in a fixed order.
fn counts(query: &Query) -> Vec<(Count, &Expr)> {
    let mut counts = Vec::new();
    match &query.limit_clause {
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            counts.extend(limit.iter().map(|e| (Count::Limit, e)));
            counts.extend(offset.iter().map(|o| (Count::Offset, &o.value)));
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            counts.push((Count::Limit, limit));
            counts.push((Count::Offset, offset));
        }
        None => {}
    }
    if let Some(quantity) = query.fetch.as_ref().and_then(|f| f.quantity.as_ref()) {
        counts.push((Count::Limit, quantity));
    }
    counts
}

/// The same count expressions, to be replaced.
fn counts_mut(query: &mut Query) -> Vec<&mut Expr> {
    let mut counts = Vec::new();
    match &mut query.limit_clause {
        Some(LimitClause::LimitOffset { limit, offset, .. }) => {
            counts.extend(limit.iter_mut());
            counts.extend(offset.iter_mut().map(|o| &mut o.value));
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
            counts.push(limit);
            counts.push(offset);
        }
        None => {}
    }
    if let Some(quantity) = query.fetch.as_mut().and_then(|f| f.quantity.as_mut()) {
        counts.push(quantity);
    }
    counts
}

struct Found(Vec<(Count, Query)>);

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        for (count, expr) in counts(query) {
            if let Some(sub) = subquery(expr) {
                self.0.push((count, sub.clone()));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Writes the values in, in the order [`Found`] met the subqueries.
struct Replace(std::vec::IntoIter<Expr>);

impl VisitorMut for Replace {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        for expr in counts_mut(query) {
            if subquery(expr).is_some()
                && let Some(value) = self.0.next()
            {
                *expr = value;
            }
        }
        ControlFlow::Continue(())
    }
}

/// Runs every count subquery of `stmt` and writes its value in its place.
pub(crate) async fn evaluate(
    state: &SessionState,
    result_types: &ResultTypes,
    stmt: &mut Statement,
    user: &str,
) -> Result<(), QueryError> {
    let mut found = Found(Vec::new());
    let _ = Visit::visit(&*stmt, &mut found);
    if found.0.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(found.0.len());
    for (count, query) in found.0 {
        let plan = Box::pin(crate::engine::plan_statement(
            state,
            result_types,
            Statement::Query(Box::new(query)),
            user,
        ))
        .await?;
        let physical = state.create_physical_plan(&plan).await?;
        let batches = collect(physical, state.task_ctx()).await?;
        values.push(count_expr(count, single_value(&batches)?)?);
    }
    let _ = VisitMut::visit(stmt, &mut Replace(values.into_iter()));
    Ok(())
}

/// The one value of a count subquery's answer, as a bigint (None: NULL,
/// or no row).
fn single_value(batches: &[arrow::array::RecordBatch]) -> Result<Option<i64>, QueryError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > 1 {
        return Err(QueryError::InvalidArgument {
            status: Status::CardinalityViolation,
            message: "more than one row returned by a subquery used as an expression".into(),
        });
    }
    let Some(batch) = batches.iter().find(|b| b.num_rows() == 1) else {
        return Ok(None);
    };
    let column = batch.column(0);
    let as_bigint = |ty: &DataType| -> Result<Option<i64>, QueryError> {
        let cast = arrow::compute::cast(column, ty)?;
        let ints = cast.as_primitive::<Int64Type>();
        Ok(ints.is_valid(0).then(|| ints.value(0)))
    };
    match column.data_type() {
        DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            // PostgreSQL rounds a fractional count to the nearest bigint.
            let floats = arrow::compute::cast(column, &DataType::Float64)?;
            let floats = floats.as_primitive::<arrow::datatypes::Float64Type>();
            Ok(floats.is_valid(0).then(|| floats.value(0).round() as i64))
        }
        _ => as_bigint(&DataType::Int64),
    }
}

/// The expression written in place of a count subquery of value `value`.
fn count_expr(count: Count, value: Option<i64>) -> Result<Expr, QueryError> {
    match (count, value) {
        (Count::Limit, Some(n)) if n < 0 => Err(QueryError::InvalidArgument {
            status: Status::InvalidRowCountInLimitClause,
            message: "LIMIT must not be negative".into(),
        }),
        (Count::Offset, Some(n)) if n < 0 => Err(QueryError::InvalidArgument {
            status: Status::InvalidRowCountInResultOffsetClause,
            message: "OFFSET must not be negative".into(),
        }),
        (_, Some(n)) => Ok(Expr::value(Value::Number(n.to_string(), false))),
        // No limit: as many rows as there can be.
        (Count::Limit, None) => Ok(Expr::value(Value::Number(i64::MAX.to_string(), false))),
        (Count::Offset, None) => Ok(Expr::value(Value::Number("0".into(), false))),
    }
}
