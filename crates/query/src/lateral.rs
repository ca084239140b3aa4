//! LATERAL subqueries of computed values, joined as a projection.
//!
//! `FROM t, LATERAL (SELECT t.a + 1 AS b) AS x` is PostgreSQL's idiom for
//! naming a value computed from each row. DataFusion plans it as a join
//! with a subquery that reads the outer row, which it cannot decorrelate
//! when the subquery has no FROM, and which no physical plan executes.
//!
//! [`LateralValues`] replaces such a join by a projection over its left
//! side: the left side's columns, then the subquery's expressions with
//! their references to the outer row read from it, under the subquery's
//! alias. The subquery makes exactly one row for each left row, so an
//! inner join (its ON condition becomes a filter above) and a left join
//! on TRUE keep every row and value.
//!
//! It applies only when the subquery is a projection over one empty row
//! (no FROM, WHERE, grouping or nested subquery, nothing volatile) whose
//! outer references all resolve in the left side, and only to LATERAL
//! subqueries: in a plain derived table an outer reference names an
//! enclosing query, not the table beside it.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{
    Expr, Filter, Join, JoinType, LogicalPlan, Projection, SubqueryAlias,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::scalar::ScalarValue;

/// The analyzer rule (see the module's doc). It runs after type coercion,
/// before the optimizer: the optimizer's projection pruning does not see
/// the subquery's outer references, and would drop the columns they read.
#[derive(Debug, Default)]
pub struct LateralValues;

impl AnalyzerRule for LateralValues {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        Ok(plan
            .transform_up_with_subqueries(|node| {
                let LogicalPlan::Join(join) = node else {
                    return Ok(Transformed::no(node));
                };
                Ok(match projection_of(&join)? {
                    Some(plan) => Transformed::yes(plan),
                    None => Transformed::no(LogicalPlan::Join(join)),
                })
            })?
            .data)
    }

    fn name(&self) -> &str {
        "floe_lateral_values"
    }
}

/// The projection (and filter) `join` amounts to, if its right side is a
/// LATERAL subquery of values only.
fn projection_of(join: &Join) -> Result<Option<LogicalPlan>> {
    let filter = match &join.filter {
        None | Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) => None,
        Some(f) => Some(f.clone()),
    };
    let keeps_every_row = match join.join_type {
        JoinType::Inner => true,
        JoinType::Left => filter.is_none(),
        _ => false,
    };
    if !join.on.is_empty() || !keeps_every_row {
        return Ok(None);
    }
    // Only a LATERAL subquery reads the row beside it: a derived table's
    // outer references name an enclosing query, never a sibling in FROM.
    if !is_subquery(&join.right) {
        return Ok(None);
    }
    let Some(values) = values(&join.right) else {
        return Ok(None);
    };
    let left = join.left.schema();
    // A volatile value runs once per left row here; in the join it ran
    // once, or (inlined from an inner projection) once per use.
    if !values
        .iter()
        .all(|e| reads_only(e, left) && !e.is_volatile())
    {
        return Ok(None);
    }
    let mut exprs: Vec<Expr> = left.columns().into_iter().map(Expr::Column).collect();
    let right = join.right.schema();
    for (i, value) in values.iter().enumerate() {
        let (qualifier, field) = right.qualified_field(i);
        let value = value
            .clone()
            .unalias()
            .transform_up(|e| match e {
                Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
                e => Ok(Transformed::no(e)),
            })?
            .data;
        exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    let projection = LogicalPlan::Projection(Projection::try_new(exprs, Arc::clone(&join.left))?);
    Ok(Some(match filter {
        None => projection,
        Some(f) => LogicalPlan::Filter(Filter::try_new(f, Arc::new(projection))?),
    }))
}

/// Whether `plan` is a subquery (under its alias), as DataFusion plans a
/// LATERAL one.
fn is_subquery(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => is_subquery(input),
        LogicalPlan::Subquery(_) => true,
        _ => false,
    }
}

/// The expressions of a subquery that is projections over one empty row,
/// looking through its alias; a projection over another has the inner
/// one's expressions put in for the columns it reads (column aliases such
/// as `x(b, d)` add one).
fn values(plan: &LogicalPlan) -> Option<Vec<Expr>> {
    match plan {
        LogicalPlan::SubqueryAlias(SubqueryAlias { input, .. }) => values(input),
        LogicalPlan::Subquery(s) => values(&s.subquery),
        LogicalPlan::Projection(p) => match p.input.as_ref() {
            LogicalPlan::EmptyRelation(e) if e.produce_one_row => Some(p.expr.clone()),
            input => {
                let inner = values(input)?;
                let schema = input.schema();
                p.expr
                    .iter()
                    .map(|e| {
                        let mut resolved = true;
                        let e = e
                            .clone()
                            .transform_up(|e| match e {
                                Expr::Column(c) => match schema.maybe_index_of_column(&c) {
                                    Some(i) => Ok(Transformed::yes(inner[i].clone().unalias())),
                                    None => {
                                        resolved = false;
                                        Ok(Transformed::no(Expr::Column(c)))
                                    }
                                },
                                e => Ok(Transformed::no(e)),
                            })
                            .ok()?
                            .data;
                        resolved.then_some(e)
                    })
                    .collect()
            }
        },
        _ => None,
    }
}

/// Whether `e` is a plain expression whose outer references all name
/// columns of `left`: no subquery, aggregate or window inside.
fn reads_only(e: &Expr, left: &DFSchema) -> bool {
    let mut ok = true;
    let _ = e.apply(|e| {
        match e {
            Expr::ScalarSubquery(_)
            | Expr::Exists(_)
            | Expr::InSubquery(_)
            | Expr::SetComparison(_)
            | Expr::AggregateFunction(_)
            | Expr::WindowFunction(_) => ok = false,
            Expr::OuterReferenceColumn(_, column) if !left.has_column(column) => ok = false,
            _ => {}
        }
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    ok
}

#[cfg(test)]
mod tests;
