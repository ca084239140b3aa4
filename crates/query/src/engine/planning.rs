//! The one planning path of statements and views: Floe's rewrites of the
//! statement, DataFusion's planner, and the rules that give the plan's
//! output columns their final types.

use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement;

use crate::error::QueryError;
use crate::pg_syntax;

/// Plans a statement in `state` through Floe's rewrites, for `user`
/// (`session_user`): the one planning path of statements and views.
pub(crate) async fn plan_statement(
    state: &datafusion::execution::SessionState,
    result_types: &crate::result_types::ResultTypes,
    mut stmt: Statement,
    user: &str,
) -> Result<LogicalPlan, QueryError> {
    if let Some(query) = pg_syntax::show_query(&stmt) {
        stmt = query?;
    }
    if let Statement::CreateIndex(_) = stmt {
        return Err(QueryError::NoIndexes);
    }
    if let Statement::ShowCreate { .. } = stmt {
        return Err(crate::error::unsupported(
            "SHOW CREATE (information_schema.columns and psql's \\d describe a table)",
        ));
    }
    // A view's own text was qualified when the view was created.
    if !crate::views::planning_a_view() {
        crate::temp_views::qualify(&mut stmt)?;
    }
    pg_syntax::rewrite(&mut stmt)?;
    pg_syntax::session_user(&mut stmt, user);
    crate::coercion::quoted_numeric_arguments(&mut stmt, state);
    crate::coercion::int4_literal_arguments(&mut stmt);
    let apart = crate::output_names::name_apart(&mut stmt)?;
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(stmt)))
        .await?;
    let plan = crate::output_names::names_back(plan, &apart)?;
    // The plan's output columns get their final types now, before a
    // client is told them (see `result_types`).
    Ok(result_types.analyze(plan, state.config_options())?)
}
