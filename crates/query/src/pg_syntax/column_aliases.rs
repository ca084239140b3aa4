//! Column aliases of a CTE or a subquery in FROM that name fewer columns
//! than the query gives: PostgreSQL renames the first ones and keeps the
//! rest (`WITH n(a) AS (SELECT 1, 2) SELECT * FROM n` has columns `a`
//! and `?column?`); DataFusion refuses. Where the query is one SELECT
//! without `*`, the names move onto its first items.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Query, SelectItem, SetExpr, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};

/// Moves `alias`'s column names onto `query`'s first items, when it names
/// fewer columns than the query's one SELECT gives.
fn rename_first(alias: &mut TableAlias, query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let named = alias.columns.len();
    let wildcard = select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    if named == 0 || wildcard || named >= select.projection.len() {
        return;
    }
    if alias.columns.iter().any(|c| c.data_type.is_some()) {
        return;
    }
    for (item, column) in select.projection.iter_mut().zip(alias.columns.drain(..)) {
        match item {
            SelectItem::UnnamedExpr(expr) => {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: column.name,
                };
            }
            SelectItem::ExprWithAlias { alias, .. } => *alias = column.name,
            _ => {}
        }
    }
}

/// Renames as PostgreSQL does (see the module's doc) throughout `stmt`.
pub(super) fn partial_column_aliases(stmt: &mut Statement) {
    struct Aliases;
    impl VisitorMut for Aliases {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let Some(with) = query.with.as_mut() {
                for cte in &mut with.cte_tables {
                    rename_first(&mut cte.alias, &mut cte.query);
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Derived {
                subquery,
                alias: Some(alias),
                ..
            } = factor
            {
                rename_first(alias, subquery);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Aliases);
}

#[cfg(test)]
mod tests;
