//! Output columns of one name, as PostgreSQL allows them.
//!
//! `SELECT 1 AS a, 2 AS a` is valid PostgreSQL, and ORMs and clients
//! write such lists; DataFusion refuses a projection whose columns share
//! a name. Floe names the later columns apart before planning
//! ([`name_apart`]) and gives them their names back on the planned
//! projection ([`names_back`]), each under a qualifier of its own, which
//! DataFusion accepts; a client sees the names as written.

use std::collections::HashMap;

use datafusion::common::{Column, DataFusionError, SchemaError, TableReference};
use datafusion::logical_expr::{Distinct, Expr, Limit, LogicalPlan, Projection, Sort};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, Ident, OrderBy, OrderByKind, SelectItem, SetExpr, Statement,
};

use crate::error::QueryError;

#[cfg(test)]
mod tests;

/// A SELECT list item renamed apart: its position, and the position of
/// the earlier item whose name it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Apart {
    position: usize,
    twin: usize,
}

const APART_SUFFIX: &str = "__floe_apart_";

/// Renames the later of the SELECT list items of `stmt` that share an
/// output name, and says which. ORDER BY a shared name is ambiguous, as in
/// PostgreSQL (42702).
pub(crate) fn name_apart(stmt: &mut Statement) -> Result<Vec<Apart>, QueryError> {
    let Statement::Query(query) = stmt else {
        return Ok(Vec::new());
    };
    let order_names: Vec<String> = match &query.order_by {
        Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) => items
            .iter()
            .filter_map(|item| match &item.expr {
                SqlExpr::Identifier(id) => Some(crate::names::ident(id)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Ok(Vec::new());
    };
    if select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    }) {
        return Ok(Vec::new());
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut apart = Vec::new();
    for (position, item) in select.projection.iter_mut().enumerate() {
        let name = match item {
            SelectItem::ExprWithAlias { alias, .. } => crate::names::ident(alias),
            SelectItem::UnnamedExpr(expr) => output_name(expr),
            _ => continue,
        };
        let Some(&twin) = seen.get(&name) else {
            seen.insert(name, position);
            continue;
        };
        if order_names.contains(&name) {
            return Err(QueryError::DataFusion(DataFusionError::SchemaError(
                Box::new(SchemaError::AmbiguousReference {
                    field: Box::new(Column::new_unqualified(name)),
                }),
                Box::new(None),
            )));
        }
        let alias = Ident::new(format!("{name}{APART_SUFFIX}{position}"));
        *item = match std::mem::replace(item, SelectItem::Wildcard(Default::default())) {
            SelectItem::ExprWithAlias { expr, .. } | SelectItem::UnnamedExpr(expr) => {
                SelectItem::ExprWithAlias { expr, alias }
            }
            other => other,
        };
        apart.push(Apart { position, twin });
    }
    Ok(apart)
}

/// The output name of an unnamed SELECT list item: PostgreSQL's, or the
/// item as written where Floe cannot tell it.
fn output_name(expr: &SqlExpr) -> String {
    crate::pg_syntax::output_column_name(expr).unwrap_or_else(|| expr.to_string())
}

/// `plan` with the columns renamed by [`name_apart`] named as written: on
/// the statement's projection (under its ORDER BY and LIMIT), every
/// column of a shared name takes a qualifier of its own.
pub(crate) fn names_back(plan: LogicalPlan, apart: &[Apart]) -> Result<LogicalPlan, QueryError> {
    if apart.is_empty() {
        return Ok(plan);
    }
    let (plan, _) = restore(plan, apart)?;
    Ok(plan)
}

/// `plan` restored, and the columns its output renamed (old to new).
fn restore(
    plan: LogicalPlan,
    apart: &[Apart],
) -> Result<(LogicalPlan, HashMap<Column, Column>), QueryError> {
    match plan {
        LogicalPlan::Projection(projection) => restore_projection(projection, apart),
        LogicalPlan::Sort(sort) => {
            let (input, renamed) = restore(sort.input.as_ref().clone(), apart)?;
            let expr = sort
                .expr
                .into_iter()
                .map(|s| {
                    let e = rename_columns(s.expr.clone(), &renamed)?;
                    Ok(s.with_expr(e))
                })
                .collect::<Result<Vec<_>, DataFusionError>>()?;
            let sort = Sort {
                expr,
                input: input.into(),
                fetch: sort.fetch,
            };
            Ok((LogicalPlan::Sort(sort), renamed))
        }
        LogicalPlan::Limit(limit) => {
            let (input, renamed) = restore(limit.input.as_ref().clone(), apart)?;
            let limit = Limit {
                input: input.into(),
                ..limit
            };
            Ok((LogicalPlan::Limit(limit), renamed))
        }
        LogicalPlan::Distinct(Distinct::All(input)) => {
            let (input, renamed) = restore(input.as_ref().clone(), apart)?;
            Ok((LogicalPlan::Distinct(Distinct::All(input.into())), renamed))
        }
        other => Err(shared_name(&other, apart)),
    }
}

fn restore_projection(
    projection: Projection,
    apart: &[Apart],
) -> Result<(LogicalPlan, HashMap<Column, Column>), QueryError> {
    let schema = projection.schema.clone();
    let name_of = |position: usize| schema.fields().get(position).map(|f| f.name().clone());
    let mut names: HashMap<usize, String> = HashMap::new();
    for a in apart {
        let (Some(twin), Some(own)) = (name_of(a.twin), name_of(a.position)) else {
            return Err(shared_name(&LogicalPlan::Projection(projection), apart));
        };
        if !own.contains(APART_SUFFIX) {
            return Err(shared_name(&LogicalPlan::Projection(projection), apart));
        }
        let name = names.get(&a.twin).cloned().unwrap_or(twin);
        names.insert(a.twin, name.clone());
        names.insert(a.position, name);
    }
    let mut renamed = HashMap::new();
    let mut exprs = projection.expr;
    for (&position, name) in &names {
        let (qualifier, field) = schema.qualified_field(position);
        let new = Column::new(
            Some(TableReference::bare(format!("column{}", position + 1))),
            name,
        );
        renamed.insert(Column::new(qualifier.cloned(), field.name()), new.clone());
        exprs[position] = exprs[position]
            .clone()
            .unalias()
            .alias_qualified(new.relation, new.name);
    }
    let projection = Projection::try_new(exprs, projection.input)?;
    Ok((LogicalPlan::Projection(projection), renamed))
}

fn rename_columns(expr: Expr, renamed: &HashMap<Column, Column>) -> Result<Expr, DataFusionError> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    expr.transform_up(|e| {
        Ok(match e {
            Expr::Column(c) => match renamed.get(&c) {
                Some(new) => Transformed::yes(Expr::Column(new.clone())),
                None => Transformed::no(Expr::Column(c)),
            },
            other => Transformed::no(other),
        })
    })
    .map(|t| t.data)
}

/// The error for a shared output name Floe cannot give back where the
/// statement's plan puts it.
fn shared_name(plan: &LogicalPlan, apart: &[Apart]) -> QueryError {
    let name = apart
        .first()
        .and_then(|a| plan.schema().fields().get(a.twin).map(|f| f.name().clone()))
        .unwrap_or_default();
    QueryError::DataFusion(DataFusionError::SchemaError(
        Box::new(SchemaError::DuplicateUnqualifiedField { name }),
        Box::new(None),
    ))
}
