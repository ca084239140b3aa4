//! Row counts given by subqueries: `LIMIT (SELECT ...)` and
//! `OFFSET (SELECT ...)` (and `FETCH FIRST`, should the parser take a
//! subquery there).
//!
//! PostgreSQL evaluates such a count once, before the query runs (it may
//! not refer to the query's own rows). Floe does the same: each count
//! subquery is planned and run first, with the session's privileges and
//! the common table expressions around it, and its value written in its
//! place, so the engine plans a query with constant counts. As in
//! PostgreSQL, a NULL limit means no limit and a NULL offset none; a
//! fraction rounds; a negative count is an error (2201W, 2201X), and so is
//! a subquery of more than one row (21000) or of a value that is not a
//! number (42804). A view, a PREPARE and an EXPLAIN cannot have such a
//! count (0A000): its subquery would run when the statement is made, not
//! when it is read or executed.

use std::ops::ControlFlow;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    Cte, Expr, LimitClause, Query, Statement, Value, Visit, VisitMut, Visitor, VisitorMut, With,
};
use floe_common::Status;

use crate::engine::Engine;
use crate::error::QueryError;

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

/// The count subqueries of a statement, outermost first, each with the
/// common table expressions it may read (those of the queries around it).
/// Counts inside a count subquery are not collected: planning that
/// subquery evaluates them.
#[derive(Default)]
struct Found {
    counts: Vec<(Count, Query)>,
    /// The WITH clauses of the queries being visited, outermost first.
    scopes: Vec<Option<With>>,
    /// The count subqueries collected, by address, and how deep the visit
    /// is inside them.
    roots: Vec<usize>,
    inside: usize,
}

impl Visitor for Found {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.roots.contains(&address(query)) {
            self.inside += 1;
        }
        self.scopes.push(query.with.clone());
        if self.inside > 0 {
            return ControlFlow::Continue(());
        }
        for (count, expr) in counts(query) {
            if let Some(sub) = subquery(expr) {
                self.roots.push(address(sub));
                self.counts.push((count, self.scoped(sub)));
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.scopes.pop();
        if self.roots.contains(&address(query)) {
            self.inside -= 1;
        }
        ControlFlow::Continue(())
    }
}

/// Where a query of the statement being visited is (the statement does
/// not change while [`Found`] visits it).
fn address(query: &Query) -> usize {
    query as *const Query as usize
}

impl Found {
    /// `sub` with the common table expressions of the enclosing queries
    /// it does not define itself (an inner name hides an outer one).
    fn scoped(&self, sub: &Query) -> Query {
        let mut sub = sub.clone();
        let mut visible: Vec<Cte> = Vec::new();
        let mut recursive = false;
        for with in self.scopes.iter().rev().flatten() {
            recursive |= with.recursive;
            for cte in &with.cte_tables {
                let name = &cte.alias.name.value;
                if !visible.iter().any(|c| &c.alias.name.value == name) {
                    visible.push(cte.clone());
                }
            }
        }
        if visible.is_empty() {
            return sub;
        }
        // Outermost first, as they were declared.
        visible.reverse();
        match &mut sub.with {
            Some(own) => {
                visible.retain(|c| {
                    !own.cte_tables
                        .iter()
                        .any(|o| o.alias.name.value == c.alias.name.value)
                });
                own.recursive |= recursive;
                own.cte_tables.splice(0..0, visible);
            }
            None => {
                sub.with = Some(With {
                    with_token: AttachedToken::empty(),
                    recursive,
                    cte_tables: visible,
                });
            }
        }
        sub
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

/// Whether `query` has a count given by a subquery (which a view may not:
/// it would run when the view is made, not when it is read).
pub(crate) fn has_subquery_count(query: &Query) -> bool {
    let mut found = Found::default();
    let _ = Visit::visit(query, &mut found);
    !found.counts.is_empty()
}

/// Runs every count subquery of `stmt` as `engine`'s session (with its
/// privileges) and writes its value in its place. A PREPARE, an EXPLAIN
/// and a CREATE VIEW keep theirs: their counts are not to run now.
pub(crate) async fn evaluate(engine: &Engine, stmt: &mut Statement) -> Result<(), QueryError> {
    if matches!(
        stmt,
        Statement::Prepare { .. } | Statement::Explain { .. } | Statement::CreateView(_)
    ) {
        return Ok(());
    }
    let mut found = Found::default();
    let _ = Visit::visit(&*stmt, &mut found);
    if found.counts.is_empty() {
        return Ok(());
    }
    let mut values = Vec::with_capacity(found.counts.len());
    for (count, query) in found.counts {
        let plan = Box::pin(engine.plan(Statement::Query(Box::new(query)))).await?;
        let batches = engine.execute_plan(plan).await?.collect().await?;
        values.push(count_expr(count, single_value(count, &batches)?)?);
    }
    let _ = VisitMut::visit(stmt, &mut Replace(values.into_iter()));
    Ok(())
}

/// The one value of a count subquery's answer, as a bigint (None: NULL,
/// or no row). A fraction rounds as PostgreSQL rounds it to a bigint.
fn single_value(
    count: Count,
    batches: &[arrow::array::RecordBatch],
) -> Result<Option<i64>, QueryError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows > 1 {
        return Err(QueryError::InvalidArgument {
            status: Status::CardinalityViolation,
            message: "more than one row returned by a subquery used as an expression".into(),
        });
    }
    let clause = match count {
        Count::Limit => "LIMIT",
        Count::Offset => "OFFSET",
    };
    let Some(batch) = batches.first() else {
        return Ok(None);
    };
    let mismatch = |what: String| QueryError::InvalidArgument {
        status: Status::DatatypeMismatch,
        message: format!("argument of {clause} must be type bigint, not {what}"),
    };
    if batch.num_columns() != 1 {
        return Err(QueryError::InvalidArgument {
            status: Status::SyntaxError,
            message: "subquery must return only one column".into(),
        });
    }
    let Some(batch) = batches.iter().find(|b| b.num_rows() == 1) else {
        return Ok(None);
    };
    let column = batch.column(0);
    let strict = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let overflow = || QueryError::InvalidArgument {
        status: Status::NumericValueOutOfRange,
        message: "bigint out of range".into(),
    };
    let float = |column: &arrow::array::ArrayRef| -> Result<Option<f64>, QueryError> {
        let floats = arrow::compute::cast_with_options(column, &DataType::Float64, &strict)?;
        let floats = floats.as_primitive::<Float64Type>();
        Ok(floats.is_valid(0).then(|| floats.value(0)))
    };
    let from_float = |v: f64| -> Result<i64, QueryError> {
        if v.is_finite() && v.abs() < 9.2e18 {
            Ok(v as i64)
        } else {
            Err(overflow())
        }
    };
    match column.data_type() {
        DataType::Null => Ok(None),
        // A double rounds half to even (PostgreSQL's rint).
        DataType::Float16 | DataType::Float32 | DataType::Float64 => float(column)?
            .map(|v| from_float(v.round_ties_even()))
            .transpose(),
        // A numeric rounds half away from zero.
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            float(column)?.map(|v| from_float(v.round())).transpose()
        }
        t if t.is_integer() => {
            let ints = arrow::compute::cast_with_options(column, &DataType::Int64, &strict)
                .map_err(|_| overflow())?;
            let ints = ints.as_primitive::<Int64Type>();
            Ok(ints.is_valid(0).then(|| ints.value(0)))
        }
        other => Err(mismatch(format!(
            "type {}",
            floe_ingest::values::type_name(other)
        ))),
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
