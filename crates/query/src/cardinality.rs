//! How many rows a logical plan is estimated to make, for choosing
//! between plans that give the same answer ([`crate::join_order`]).
//!
//! - A Floe table's live rows, and the range of an integer column's values
//!   ([`crate::estimates`]); a plan reading any other table has no
//!   estimate.
//! - A filter keeps a share of rows by its shape: an equality with a
//!   constant one value of an integer column's range ([`EQUALITY`] without
//!   one), a comparison [`COMPARISON`], anything else [`UNKNOWN`]; AND
//!   multiplies, OR adds, NOT takes the rest.
//! - An inner join divides the product of its sides' rows by the fewer
//!   distinct keys of its most selective key; a semi join keeps at most the
//!   smaller side's rows; an aggregate a tenth of its input.

use std::sync::Arc;

use datafusion::common::Column;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::logical_plan::FetchType;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, JoinType, LogicalPlan, Operator, TableScan};

use crate::table::FloeTable;

/// Selectivity of a condition nothing better is known of.
const UNKNOWN: f64 = 0.5;
/// Selectivity of an equality with a constant, without a range.
const EQUALITY: f64 = 0.1;
/// Selectivity of a comparison (`<`, `>=`, ...).
const COMPARISON: f64 = 0.33;

/// How many distinct values `expr`, over `plan` of `rows` rows, can take:
/// for a Floe table's column read unchanged [`column_distinct`], else
/// `rows`.
pub(crate) fn key_count(expr: &Expr, plan: &LogicalPlan, rows: f64) -> f64 {
    column_of(expr)
        .and_then(|c| column_distinct(plan, c))
        .unwrap_or(rows)
        .max(1.0)
}

/// The distinct values a column of `plan` can take, when it reads a Floe
/// table's column unchanged: at most its rows and, for an integer column,
/// its range.
pub(crate) fn column_distinct(plan: &LogicalPlan, column: &Column) -> Option<f64> {
    let (table, name) = origin(plan, column)?;
    let table = table.downcast_ref::<FloeTable>()?;
    let rows = table.estimated_rows()?;
    Some(match table.estimated_range(&name) {
        Some((lo, hi)) => rows.min(hi as f64 - lo as f64 + 1.0),
        None => rows,
    })
}

/// The table and column a column of `plan` is, read unchanged.
pub(crate) fn origin(
    plan: &LogicalPlan,
    column: &Column,
) -> Option<(Arc<dyn datafusion::datasource::TableProvider>, String)> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            Some((source_as_provider(&scan.source).ok()?, column.name.clone()))
        }
        LogicalPlan::Filter(f) => origin(&f.input, column),
        LogicalPlan::Sort(s) => origin(&s.input, column),
        LogicalPlan::Limit(l) => origin(&l.input, column),
        LogicalPlan::SubqueryAlias(a) => {
            let i = plan.schema().index_of_column(column).ok()?;
            let (qualifier, field) = a.input.schema().qualified_field(i);
            origin(&a.input, &Column::new(qualifier.cloned(), field.name()))
        }
        LogicalPlan::Projection(p) => {
            let i = plan.schema().index_of_column(column).ok()?;
            match p.expr.get(i)? {
                Expr::Column(c) => origin(&p.input, c),
                Expr::Alias(a) => match a.expr.as_ref() {
                    Expr::Column(c) => origin(&p.input, c),
                    _ => None,
                },
                _ => None,
            }
        }
        LogicalPlan::Join(j) if j.left.schema().has_column(column) => origin(&j.left, column),
        LogicalPlan::Join(j) => origin(&j.right, column),
        _ => None,
    }
}

/// The live rows of the Floe table `scan` reads.
pub(crate) fn table_rows(scan: &TableScan) -> Option<f64> {
    source_as_provider(&scan.source)
        .ok()?
        .downcast_ref::<FloeTable>()?
        .estimated_rows()
}

/// The rows `plan` is estimated to make; `None` when it reads a table of
/// unknown size.
pub(crate) fn rows(plan: &LogicalPlan) -> Option<f64> {
    use LogicalPlan as P;
    Some(match plan {
        P::TableScan(scan) => {
            let filters: Vec<&Expr> = scan.filters.iter().collect();
            table_rows(scan)? * selectivity_of(&filters, plan)
        }
        P::Filter(f) => {
            let mut filters = split_conjunction(&f.predicate);
            let input = match f.input.as_ref() {
                P::TableScan(scan) => {
                    for e in &scan.filters {
                        if !filters.contains(&e) {
                            filters.push(e);
                        }
                    }
                    table_rows(scan)?
                }
                other => rows(other)?,
            };
            input * selectivity_of(&filters, &f.input)
        }
        P::Projection(p) => rows(&p.input)?,
        P::SubqueryAlias(a) => rows(&a.input)?,
        P::Sort(s) => {
            let input = rows(&s.input)?;
            s.fetch.map_or(input, |n| input.min(n as f64))
        }
        P::Limit(l) => {
            let input = rows(&l.input)?;
            match l.get_fetch_type() {
                Ok(FetchType::Literal(Some(n))) => input.min(n as f64),
                _ => input,
            }
        }
        P::Aggregate(a) if a.group_expr.is_empty() => 1.0,
        P::Aggregate(a) => (rows(&a.input)? / 10.0).max(1.0),
        P::Join(j) => {
            let (l, r) = (rows(&j.left)?, rows(&j.right)?);
            match j.join_type {
                JoinType::Inner => {
                    let keys =
                        j.on.iter()
                            .map(|(a, b)| key_count(a, &j.left, l).min(key_count(b, &j.right, r)))
                            .fold(1.0, f64::max);
                    (l * r / keys).max(1.0)
                }
                // At most one row of a side for each of the other's keys.
                JoinType::LeftSemi => l.min(r),
                JoinType::RightSemi => r.min(l),
                JoinType::Left | JoinType::LeftAnti | JoinType::LeftMark => l,
                JoinType::Right | JoinType::RightAnti | JoinType::RightMark => r,
                JoinType::Full => l + r,
            }
        }
        P::Union(u) => u.inputs.iter().map(|i| rows(i)).sum::<Option<f64>>()?,
        P::Values(v) => v.values.len() as f64,
        P::EmptyRelation(e) => f64::from(u8::from(e.produce_one_row)),
        other => {
            let inputs = other.inputs();
            if inputs.is_empty() {
                return None;
            }
            inputs
                .into_iter()
                .map(rows)
                .collect::<Option<Vec<f64>>>()?
                .into_iter()
                .fold(0.0, f64::max)
        }
    })
}

pub(crate) fn column_of(expr: &Expr) -> Option<&Column> {
    match expr {
        Expr::Column(c) => Some(c),
        Expr::Cast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => Some(c),
            _ => None,
        },
        _ => None,
    }
}

/// The share of rows of `plan` all of `filters` keep.
pub(crate) fn selectivity_of(filters: &[&Expr], plan: &LogicalPlan) -> f64 {
    filters
        .iter()
        .map(|e| selectivity(e, Some(plan)))
        .product::<f64>()
        .clamp(1e-9, 1.0)
}

/// The share of rows `expr` keeps, by its shape (see the module's doc);
/// `plan`, when given, is the input whose columns it reads.
pub(crate) fn selectivity(expr: &Expr, plan: Option<&LogicalPlan>) -> f64 {
    let equality = |column: &Expr| -> f64 {
        let keys = plan.zip(column_of(column)).and_then(|(p, c)| {
            let (table, name) = origin(p, c)?;
            let range = table.downcast_ref::<FloeTable>()?.estimated_range(&name)?;
            Some(range.1 as f64 - range.0 as f64 + 1.0)
        });
        keys.map_or(EQUALITY, |k| 1.0 / k.max(1.0))
    };
    let s = match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => selectivity(left, plan) * selectivity(right, plan),
            Operator::Or => {
                let (a, b) = (selectivity(left, plan), selectivity(right, plan));
                a + b - a * b
            }
            Operator::Eq if matches!(right.as_ref(), Expr::Literal(..)) => equality(left),
            Operator::Eq if matches!(left.as_ref(), Expr::Literal(..)) => equality(right),
            Operator::Eq => EQUALITY,
            Operator::NotEq => 1.0 - EQUALITY,
            Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => COMPARISON,
            Operator::LikeMatch
            | Operator::ILikeMatch
            | Operator::RegexMatch
            | Operator::RegexIMatch => EQUALITY,
            _ => UNKNOWN,
        },
        Expr::Not(e) => 1.0 - selectivity(e, plan),
        Expr::Between(b) if b.negated => 1.0 - COMPARISON * COMPARISON,
        Expr::Between(_) => COMPARISON * COMPARISON,
        Expr::InList(list) => {
            let s = (list.list.len() as f64 * equality(&list.expr)).min(1.0);
            if list.negated { 1.0 - s } else { s }
        }
        Expr::IsNull(_) => EQUALITY,
        Expr::IsNotNull(_) => 1.0 - EQUALITY,
        Expr::Like(l) if l.negated => 1.0 - EQUALITY,
        Expr::Like(_) => EQUALITY,
        _ => UNKNOWN,
    };
    s.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests;
