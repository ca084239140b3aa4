//! Views: `CREATE VIEW` and `DROP VIEW`, and the plan a view's name stands
//! for when a statement reads it.
//!
//! The store keeps a view's query as SQL text. Each statement that names
//! the view plans that text again, through the same rewrites as any
//! statement, so the view sees the tables as they are now; DataFusion then
//! inlines the plan where the name stood. A view runs with the privileges
//! of the session that reads it (PostgreSQL's `security_invoker`): reading
//! one needs SELECT on the tables it reads.

use std::sync::{Arc, OnceLock};

use datafusion::catalog::view::ViewTable;
use datafusion::common::DFSchema;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{CreateView, ObjectName, Statement};
use floe_storage::ViewDefinition;

use crate::engine::{Engine, Output, plan_statement};
use crate::error::{QueryError, unsupported};
use crate::names;
use crate::result_types::ResultTypes;
use crate::syntax::Parsed;

/// How deep views may name views (a view replaced to read itself would
/// otherwise expand forever).
const MAX_DEPTH: usize = 32;

tokio::task_local! {
    /// How many views deep the current planning is.
    static DEPTH: usize;
}

/// Whether this runs inside the planning of a view's query.
pub(crate) fn planning_a_view() -> bool {
    DEPTH.try_with(|d| *d > 0).unwrap_or(false)
}

/// The current session state, if the engine is still there.
type StateSource = Box<dyn Fn() -> Option<SessionState> + Send + Sync>;

/// Plans views for the catalog, in the engine's session.
pub(crate) struct ViewPlanner {
    state: OnceLock<StateSource>,
    result_types: ResultTypes,
}

impl std::fmt::Debug for ViewPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewPlanner")
    }
}

impl ViewPlanner {
    /// A planner that plans once [`ViewPlanner::attach`] gives it a session.
    pub(crate) fn new(result_types: ResultTypes) -> ViewPlanner {
        ViewPlanner {
            state: OnceLock::new(),
            result_types,
        }
    }

    /// Plans in `ctx`'s session from now on. The planner holds the session
    /// weakly: the session holds the catalog that holds the planner.
    pub(crate) fn attach(&self, ctx: &datafusion::prelude::SessionContext) {
        let weak = ctx.state_weak_ref();
        let _ = self.state.set(Box::new(move || {
            weak.upgrade().map(|state| state.read().clone())
        }));
    }

    /// The table `schema.name` stands for when a statement reads the view.
    pub(crate) async fn table(
        &self,
        schema: &str,
        name: &str,
        view: &ViewDefinition,
    ) -> Result<ViewTable, QueryError> {
        let state = self
            .state
            .get()
            .and_then(|state| state())
            .ok_or_else(|| internal("views are planned without a session"))?;
        let depth = DEPTH.try_with(|d| *d).unwrap_or(0);
        if depth >= MAX_DEPTH {
            return Err(QueryError::InvalidArgument {
                status: floe_common::Status::StatementTooComplex,
                message: format!(
                    "view \"{schema}.{name}\" names views more than {MAX_DEPTH} deep \
                     (does it read itself?)"
                ),
            });
        }
        // Each view a view reads plans inside this one; boxed, a level
        // costs the stack a pointer rather than the whole planning state.
        let plan = DEPTH
            .scope(depth + 1, Box::pin(self.plan(&state, view)))
            .await
            .map_err(unwrap_nested)?;
        let now: Vec<&String> = plan.schema().fields().iter().map(|f| f.name()).collect();
        if !view.query_columns.is_empty() && now != view.query_columns.iter().collect::<Vec<_>>() {
            return Err(QueryError::InvalidArgument {
                status: floe_common::Status::ObjectNotInPrerequisiteState,
                message: format!(
                    "view \"{schema}.{name}\" no longer matches its query: the query now gives \
                     the columns ({}) where it gave ({}) when the view was created (a table \
                     it reads changed); recreate the view with CREATE OR REPLACE VIEW",
                    now.iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    view.query_columns.join(", ")
                ),
            });
        }
        let plan = rename(plan, &view.columns)?;
        Ok(ViewTable::new(plan, Some(view.sql.clone())))
    }

    /// Column defaults ([`crate::defaults`]) by column name, planned.
    pub(crate) async fn defaults(
        &self,
        texts: &std::collections::HashMap<String, String>,
    ) -> Result<std::collections::HashMap<String, datafusion::logical_expr::Expr>, QueryError> {
        let state = self
            .state
            .get()
            .and_then(|state| state())
            .ok_or_else(|| internal("column defaults are planned without a session"))?;
        let mut planned = std::collections::HashMap::new();
        for (column, text) in texts {
            let stmt = crate::defaults::select_of(text)?;
            let plan = plan_statement(&state, &self.result_types, stmt, "").await?;
            planned.insert(column.clone(), crate::defaults::planned_expression(&plan)?);
        }
        Ok(planned)
    }

    /// The view's query, planned.
    async fn plan(
        &self,
        state: &SessionState,
        view: &ViewDefinition,
    ) -> Result<LogicalPlan, QueryError> {
        let stmt = view_query(&view.sql)?;
        let user = crate::engine::current_session()
            .map(|who| who.user)
            .unwrap_or_default();
        plan_statement(state, &self.result_types, stmt, &user).await
    }
}

/// A view whose query no longer plans (a table it reads was dropped or
/// changed): listed with no columns, so one broken view does not break
/// every catalog listing, and reading it fails with the reason.
#[derive(Debug)]
pub(crate) struct BrokenView {
    reason: QueryError,
}

impl BrokenView {
    pub(crate) fn new(reason: QueryError) -> BrokenView {
        BrokenView { reason }
    }
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for BrokenView {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        Arc::new(datafusion::arrow::datatypes::Schema::empty())
    }

    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn datafusion::catalog::Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use floe_common::HasStatus;
        Err(QueryError::InvalidArgument {
            status: self.reason.status(),
            message: self.reason.to_string(),
        }
        .into_datafusion())
    }
}

/// The error of a view read inside another view's query, out of the
/// engine's wrapping at each level.
fn unwrap_nested(e: QueryError) -> QueryError {
    use datafusion::error::DataFusionError;
    match e {
        QueryError::DataFusion(DataFusionError::External(inner)) => {
            match inner.downcast::<QueryError>() {
                Ok(q) => unwrap_nested(*q),
                Err(other) => QueryError::DataFusion(DataFusionError::External(other)),
            }
        }
        other => other,
    }
}

/// A stored view's query, parsed.
fn view_query(sql: &str) -> Result<Statement, QueryError> {
    match Engine::parse(sql)?.pop() {
        Some(Parsed::Sql(stmt)) => Ok(*stmt),
        _ => Err(internal(format!(
            "a view's query does not parse as one: {sql}"
        ))),
    }
}

fn internal(message: impl Into<String>) -> QueryError {
    QueryError::DataFusion(datafusion::error::DataFusionError::Internal(message.into()))
}

/// `plan` with its first columns named `columns`.
fn rename(plan: LogicalPlan, columns: &[String]) -> Result<LogicalPlan, QueryError> {
    if columns.is_empty() {
        return Ok(plan);
    }
    let schema: &DFSchema = plan.schema();
    if columns.len() > schema.fields().len() {
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::SyntaxError,
            message: format!(
                "CREATE VIEW specifies more column names than columns ({} names, {} columns)",
                columns.len(),
                schema.fields().len()
            ),
        });
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(datafusion::common::Column::new(
                qualifier.cloned(),
                field.name(),
            ));
            match columns.get(i) {
                Some(name) => column.alias(name),
                None => column,
            }
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`.
/// A view that reads a temporary view is temporary itself
/// ([`crate::temp_views`]).
pub(crate) async fn create(engine: &Engine, mut view: CreateView) -> Result<Output, QueryError> {
    if view.materialized {
        return Err(unsupported("CREATE MATERIALIZED VIEW"));
    }
    let temporary = crate::temp_views::qualify(&mut view.query)? || view.temporary;
    let (schema, name) = if temporary {
        let name = crate::temp_views::view_name(&view.name)?;
        (crate::temp_views::SCHEMA.to_string(), name)
    } else {
        names::table(&view.name)?
    };
    let columns: Vec<String> = view.columns.iter().map(|c| names::ident(&c.name)).collect();
    // Checked before the names are applied: the engine refuses a
    // projection with a name twice, with its own message.
    if let Some(c) = columns
        .iter()
        .enumerate()
        .find_map(|(i, c)| columns[..i].contains(c).then_some(c))
    {
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::DuplicateColumn,
            message: format!("column \"{c}\" specified more than once"),
        });
    }
    if crate::limit_counts::has_subquery_count(&view.query) {
        return Err(unsupported("a LIMIT or OFFSET subquery in a view"));
    }
    let sql = view.query.to_string();
    // The query must plan now, as the session that creates the view.
    let plan = engine.plan(Statement::Query(view.query)).await?;
    let definition = ViewDefinition {
        sql,
        columns,
        query_columns: plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
    };
    // A name the query gives twice (`SELECT 1 AS a, 2 AS a`).
    let plan = rename(plan, &definition.columns)?;
    let fields = plan.schema().fields();
    if let Some(dup) = fields.iter().enumerate().find_map(|(i, f)| {
        fields[..i]
            .iter()
            .any(|g| g.name() == f.name())
            .then_some(f.name())
    }) {
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::DuplicateColumn,
            message: format!("column \"{dup}\" specified more than once"),
        });
    }
    let old = match temporary {
        true => crate::session_memory::temp_view(&name),
        false => engine.store().view(&schema, &name),
    };
    if view.or_replace
        && let Some(old) = old
    {
        keeps_columns(engine, &schema, &name, &old, &plan).await?;
    }
    if temporary {
        crate::temp_views::keep(&name, definition, view.or_replace, view.if_not_exists)?;
        return Ok(Output::command("CREATE VIEW"));
    }
    engine
        .store()
        .create_view(
            &schema,
            &name,
            definition,
            view.or_replace,
            view.if_not_exists,
        )
        .await?;
    Ok(Output::command("CREATE VIEW"))
}

/// As in PostgreSQL, CREATE OR REPLACE VIEW may add columns at the end but
/// not drop, rename or retype the view's columns.
async fn keeps_columns(
    engine: &Engine,
    schema: &str,
    name: &str,
    old: &ViewDefinition,
    new: &LogicalPlan,
) -> Result<(), QueryError> {
    // A view that no longer plans (a table it read is gone) may be replaced
    // by anything.
    let Ok(old) = engine.view_planner().table(schema, name, old).await else {
        return Ok(());
    };
    let old = old.logical_plan().schema().clone();
    let new = new.schema();
    let invalid = |message| QueryError::InvalidArgument {
        status: floe_common::Status::InvalidTableDefinition,
        message,
    };
    if new.fields().len() < old.fields().len() {
        return Err(invalid(format!(
            "cannot drop columns from view \"{schema}.{name}\""
        )));
    }
    for (was, is) in old.fields().iter().zip(new.fields()) {
        let message = match is {
            is if is.name() != was.name() => format!(
                "cannot change name of view column \"{}\" to \"{}\"",
                was.name(),
                is.name()
            ),
            is if is.data_type() != was.data_type() => format!(
                "cannot change data type of view column \"{}\" from {} to {}",
                was.name(),
                was.data_type(),
                is.data_type()
            ),
            _ => continue,
        };
        return Err(invalid(message));
    }
    Ok(())
}

/// `DROP VIEW [IF EXISTS] name, ... [CASCADE]`.
pub(crate) async fn drop(
    engine: &Engine,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<Output, QueryError> {
    let temporary: Vec<String> = names
        .iter()
        .filter_map(crate::temp_views::dropped)
        .collect();
    if !temporary.is_empty() {
        if temporary.len() < names.len() {
            return Err(unsupported(
                "DROP VIEW of temporary and other views in one statement",
            ));
        }
        crate::temp_views::drop(&temporary, if_exists, cascade)?;
        return Ok(Output::command("DROP VIEW"));
    }
    let named = names
        .iter()
        .map(names::table)
        .collect::<Result<Vec<_>, _>>()?;
    for (schema, view) in &named {
        if engine.store().view(schema, view).is_some() {
            // Views this statement drops anyway do not hold the others back.
            drop_dependents(engine, schema, view, "view", cascade, &named).await?;
        }
        engine.store().drop_view(schema, view, if_exists).await?;
    }
    Ok(Output::command("DROP VIEW"))
}

/// Before the relation `schema.name` (a `kind`) is dropped: as in
/// PostgreSQL, fails with 2BP01 while views other than `dropped_too` read
/// it, or with `cascade` drops those views (and the views that read them)
/// first.
pub(crate) async fn drop_dependents(
    engine: &Engine,
    schema: &str,
    name: &str,
    kind: &str,
    cascade: bool,
    dropped_too: &[(String, String)],
) -> Result<(), QueryError> {
    let store = engine.store();
    let relation = (schema.to_string(), name.to_string());
    let mut readers = readers_of(store, &relation);
    readers.retain(|r| !dropped_too.contains(r));
    if readers.is_empty() {
        return Ok(());
    }
    if !cascade {
        let (s, v) = &readers[0];
        return Err(QueryError::InvalidArgument {
            status: floe_common::Status::DependentObjectsStillExist,
            message: format!(
                "cannot drop {kind} {schema}.{name} because other objects depend on it: \
                 view {s}.{v} depends on {kind} {schema}.{name}; use DROP ... CASCADE to drop \
                 the dependent objects too"
            ),
        });
    }
    // Every view that reads the relation, directly or through other views
    // (views that read each other are each found once).
    let mut doomed: Vec<(String, String)> = Vec::new();
    let mut next = readers;
    while let Some(view) = next.pop() {
        if view != relation && !doomed.contains(&view) {
            next.extend(readers_of(store, &view));
            doomed.push(view);
        }
    }
    for (s, v) in doomed {
        store.drop_view(&s, &v, true).await?;
    }
    Ok(())
}

/// The other views whose query names `relation` (schema, name), as
/// (schema, view).
fn readers_of(store: &floe_storage::Store, relation: &(String, String)) -> Vec<(String, String)> {
    let mut readers = Vec::new();
    for s in store.schemas() {
        for v in store.view_names(&s) {
            let reader = (s.clone(), v);
            if &reader == relation {
                continue;
            }
            if let Some(view) = store.view(&reader.0, &reader.1)
                && names_relation(&view.sql, &relation.0, &relation.1)
            {
                readers.push(reader);
            }
        }
    }
    readers
}

/// Whether the query `sql` names the relation `schema.name` (a name in a
/// WITH clause is not a relation).
pub(crate) fn names_relation(sql: &str, schema: &str, name: &str) -> bool {
    use datafusion::sql::sqlparser::ast::visit_relations;
    use std::ops::ControlFlow;
    let Ok(stmt) = view_query(sql) else {
        return false;
    };
    let ctes = crate::temp_views::cte_names(&stmt);
    let found = visit_relations(&stmt, |relation| {
        let named = match names::table(relation) {
            Ok((s, t)) => s == schema && t == name && !(relation.0.len() == 1 && ctes.contains(&t)),
            Err(_) => false,
        };
        if named {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found.is_break()
}
