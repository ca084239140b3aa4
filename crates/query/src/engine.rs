//! The engine: one DataFusion session over the store, and the statement
//! dispatcher shared by every front end (PG wire, HTTP, `floe sql`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::UInt64Array;
use datafusion::catalog::CatalogProvider;
use datafusion::common::config::Dialect;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{CreateTable, ObjectType, SchemaName, Statement};
use floe_auth::{Auth, Identity};
use floe_common::defaults::{CATALOG_NAME, DEFAULT_SCHEMA, SYSTEM_SCHEMA};
use floe_storage::Store;

use crate::catalog::FloeCatalog;
use crate::error::{QueryError, unsupported};
use crate::positions::RowPositions;
use crate::session_memory::SessionMemory;
use crate::syntax::{FloeStatement, Parsed};
use crate::system::{AtSnapshot, SystemSchema};
use crate::table::append_stream;
use crate::{access, alter, copy, ddl, dml, names};
use floe_cdc::Sources;
pub(crate) use planning::plan_statement;
use privileges::superuser_action;

mod planning;
mod privileges;

/// What a statement produced.
pub enum Output {
    /// Rows, produced lazily when the frame is executed.
    Rows(Box<DataFrame>),
    /// A command's completion: the PostgreSQL command tag and, where the
    /// command counts rows, how many it affected.
    Command {
        /// The command tag (`INSERT`, `CREATE TABLE`, `COPY`, ...).
        tag: &'static str,
        /// Rows affected, for tags that carry a count.
        rows: Option<u64>,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Rows(_) => f.write_str("Rows"),
            Output::Command { tag, rows } => write!(f, "Command({tag}, {rows:?})"),
        }
    }
}

impl Output {
    pub(crate) fn command(tag: &'static str) -> Output {
        Output::Command { tag, rows: None }
    }

    fn count(tag: &'static str, rows: u64) -> Output {
        Output::Command {
            tag,
            rows: Some(rows),
        }
    }
}

tokio::task_local! {
    /// The identity statements of the current task run as.
    static SESSION: Identity;
}

/// The identity of the statement running in this task, if a front end set
/// one with [`Engine::run_as`].
pub(crate) fn current_session() -> Option<Identity> {
    SESSION.try_with(Identity::clone).ok()
}

/// What a server enforces beyond privileges.
#[derive(Debug, Clone)]
struct Secured {
    /// Directories COPY may read and write files in (canonical).
    copy_dirs: Vec<PathBuf>,
}

/// A Floe engine over one data directory.
pub struct Engine {
    store: Arc<Store>,
    sources: Arc<Sources>,
    auth: Arc<Auth>,
    ctx: SessionContext,
    /// The date and time rule, also the analyzer's (see [`Engine::plan`]).
    result_types: crate::result_types::ResultTypes,
    views: Arc<crate::views::ViewPlanner>,
    secured: OnceLock<Secured>,
    /// The memory of statements run outside any session (an engine used
    /// in process).
    memory: SessionMemory,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .finish()
    }
}

impl Engine {
    /// Locks and opens the data directory.
    pub async fn open(path: &Path) -> Result<Arc<Engine>, QueryError> {
        Engine::open_with(path, floe_storage::IngestLimits::default(), None).await
    }

    /// Like [`Engine::open`], with the given ingestion limits and the
    /// memory all running queries may hold together (unbounded when
    /// `None`): past it, sorts, aggregations and joins that can spill
    /// write to the data directory's `spill/`, and a query that still
    /// needs more fails with 54000 rather than take the process down.
    pub async fn open_with(
        path: &Path,
        limits: floe_storage::IngestLimits,
        query_memory: Option<usize>,
    ) -> Result<Arc<Engine>, QueryError> {
        let store = Store::open_with(path, DEFAULT_SCHEMA, limits).await?;
        Ok(Arc::new(Engine::with_store_limited(store, query_memory)?))
    }

    /// An engine over an opened store; access control is kept in the
    /// store's directory. Queries' memory is unbounded.
    pub fn with_store(store: Arc<Store>) -> Result<Engine, QueryError> {
        Engine::with_store_limited(store, None)
    }

    /// The runtime queries share: a memory pool of `query_memory` bytes
    /// shared fairly among the operators that can spill, spilling into the
    /// data directory's `spill/` (emptied here: what a stopped process
    /// left there is of no use).
    fn runtime(
        store: &Store,
        query_memory: Option<usize>,
    ) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, QueryError> {
        use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
        use datafusion::execution::memory_pool::FairSpillPool;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        let spill = store.root().join("spill");
        let _ = std::fs::remove_dir_all(&spill);
        std::fs::create_dir_all(&spill).map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!(
                "cannot create {}: {e}",
                spill.display()
            ))
        })?;
        let mut builder = RuntimeEnvBuilder::new().with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![spill])),
        );
        if let Some(bytes) = query_memory {
            builder = builder.with_memory_pool(Arc::new(FairSpillPool::new(bytes)));
        }
        Ok(builder.build_arc()?)
    }

    /// [`Engine::with_store`] with the memory queries may hold together
    /// (see [`Engine::open_with`]).
    pub fn with_store_limited(
        store: Arc<Store>,
        query_memory: Option<usize>,
    ) -> Result<Engine, QueryError> {
        let auth = Auth::open(store.root())?;
        let mut config = SessionConfig::new()
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG_NAME, DEFAULT_SCHEMA);
        config.options_mut().sql_parser.dialect = Dialect::PostgreSQL;
        // As in PostgreSQL, 1.5 is a numeric literal, not a double: it
        // compares exactly with DECIMAL columns.
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        // The session time zone is UTC, as a PostgreSQL server with
        // TimeZone = UTC: `TIMESTAMPTZ '2000-01-01T01:01:01+07:00'` is a
        // timestamp with time zone (without one it lost its zone).
        config.options_mut().execution.time_zone = Some("UTC".to_string());
        let ctx =
            SessionContext::new_with_config_rt(config, Engine::runtime(&store, query_memory)?);
        // PostgreSQL's date/time arithmetic, bit strings, numeric division
        // and float/numeric coercion go ahead of DataFusion's type coercion.
        let result_types = crate::result_types::ResultTypes::new();
        let mut state = SessionStateBuilder::new_from_existing(ctx.state())
            .with_query_planner(Arc::new(crate::apply::FloePlanner));
        if let Some(planners) = state.expr_planners() {
            planners.insert(0, Arc::new(crate::intervals::IntervalArithmetic));
        }
        if let Some(analyzer) = state.analyzer() {
            for (i, rule) in result_types.rules().enumerate() {
                analyzer.rules.insert(i, rule.clone());
            }
        }
        let ctx = SessionContext::new_with_state(state.build());
        let sources = Sources::open(store.clone()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the replication sources; none will run");
            Sources::none(store.clone())
        });
        let views = Arc::new(crate::views::ViewPlanner::new(result_types.clone()));
        let estimates = Arc::new(crate::estimates::EstimateCache::default());
        let catalog = Arc::new(FloeCatalog::new(
            store.clone(),
            views.clone(),
            estimates.clone(),
        ));
        catalog
            .register_schema(
                SYSTEM_SCHEMA,
                Arc::new(
                    SystemSchema::new(store.clone(), sources.clone(), auth.clone())
                        .with_estimates(estimates.clone()),
                ),
            )
            .expect("registering a built-in schema cannot fail");
        catalog
            .register_schema(
                crate::information_schema::INFORMATION_SCHEMA,
                Arc::new(crate::information_schema::InformationSchema::new(
                    &ctx.state().catalog_list().clone(),
                    store.clone(),
                    auth.clone(),
                )),
            )
            .expect("registering a built-in schema cannot fail");
        ctx.register_catalog(CATALOG_NAME, catalog);
        views.attach(&ctx);
        ctx.register_udf(crate::bytea::udf().as_ref().clone());
        ctx.register_udf(crate::bits::VarbitIn::udf());
        ctx.add_analyzer_rule(Arc::new(crate::bits::PgBitStrings::refusals()));
        ctx.add_analyzer_rule(Arc::new(crate::bytea::casts()));
        ctx.add_analyzer_rule(Arc::new(crate::arrays::casts()));
        ctx.add_analyzer_rule(Arc::new(crate::coercion::PgIntegerCasts::new()));
        ctx.add_analyzer_rule(Arc::new(crate::timestamp_input::PgTimestampText::new()));
        ctx.add_analyzer_rule(Arc::new(crate::zone_casts::SessionZoneCasts::new()));
        ctx.add_analyzer_rule(Arc::new(crate::pg_text::PgTextCasts::new()));
        ctx.add_analyzer_rule(Arc::new(crate::regexp::PgRegexOperators));
        ctx.add_analyzer_rule(Arc::new(crate::string_agg::RowDelimiters::new()));
        let checked = Arc::new(crate::overflow::PgCheckedArithmetic::new());
        ctx.add_analyzer_rule(checked.clone());
        ctx.add_optimizer_rule(checked);
        ctx.add_optimizer_rule(Arc::new(crate::join_order::JoinOrder));
        ctx.add_analyzer_rule(Arc::new(crate::linear_sums::LinearSums));
        ctx.add_analyzer_rule(Arc::new(crate::lateral::LateralValues));
        let intervals = Arc::new(crate::interval_order::PgIntervalOrder::new());
        ctx.add_analyzer_rule(intervals.clone());
        ctx.add_optimizer_rule(intervals);
        // Last: it marks the subqueries DataFusion's checks would refuse.
        ctx.add_analyzer_rule(Arc::new(crate::apply::PgSubqueries));
        for udaf in crate::functions::aggregates() {
            ctx.register_udaf(udaf);
        }
        for udf in crate::functions::scalars() {
            ctx.register_udf(udf);
        }
        ctx.register_udtf(
            "at_snapshot",
            Arc::new(AtSnapshot::new(store.clone(), auth.clone())),
        );
        ctx.register_udtf(
            "row_positions",
            Arc::new(RowPositions::new(store.clone(), auth.clone())),
        );
        Ok(Engine {
            store,
            sources,
            auth,
            ctx,
            result_types,
            views,
            secured: OnceLock::new(),
            memory: SessionMemory::default(),
        })
    }

    /// Makes this engine a server's: every statement must then run in a
    /// session ([`Engine::run_as`]), and COPY reads and writes files only
    /// in `copy_dirs` (none: no file access). Directories that do not
    /// exist are an error.
    pub fn secure(&self, copy_dirs: &[PathBuf]) -> Result<(), QueryError> {
        let copy_dirs = copy_dirs
            .iter()
            .map(|d| {
                std::fs::canonicalize(d).map_err(|source| QueryError::File {
                    path: d.display().to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let _ = self.secured.set(Secured { copy_dirs });
        Ok(())
    }

    /// Runs `work` (statements on this engine) as `who`, in UTC, with a
    /// memory of its own (prepared statements, custom settings).
    pub async fn run_as<F: Future>(who: Identity, work: F) -> F::Output {
        let memory = SessionMemory::default();
        SESSION
            .scope(who, crate::session_memory::scope(memory, work))
            .await
    }

    /// Runs `work` as `who`, in a session whose time zone is `zone` and
    /// whose memory is `memory`.
    pub async fn run_in<F: Future>(
        who: Identity,
        zone: crate::zone::SessionZone,
        memory: SessionMemory,
        work: F,
    ) -> F::Output {
        let work = crate::session_memory::scope(memory, crate::zone::scope(zone, work));
        SESSION.scope(who, work).await
    }

    /// Who the current statement runs as: the session's identity, or the
    /// in-process owner on an engine that is not a server's.
    pub fn session(&self) -> Result<Identity, QueryError> {
        match current_session() {
            Some(who) => Ok(who),
            None if self.secured.get().is_none() => Ok(Identity::local()),
            None => Err(QueryError::NoSession),
        }
    }

    /// Access control.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// The directories COPY may use; `None` when any path may be used.
    pub(crate) fn copy_dirs(&self) -> Option<&[PathBuf]> {
        self.secured.get().map(|s| s.copy_dirs.as_slice())
    }

    /// The replication sources (`CREATE SOURCE`); `floe serve` starts them.
    pub fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// Plans the views statements read.
    pub(crate) fn view_planner(&self) -> &crate::views::ViewPlanner {
        &self.views
    }

    /// The DataFusion session every front end plans in.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The table `schema.table`: `NoSuchTable` if there is none, the
    /// storage error if it failed to load.
    pub fn table_handle(
        &self,
        schema: &str,
        table: &str,
    ) -> Result<Arc<floe_storage::TableHandle>, QueryError> {
        lookup(&self.store, schema, table)
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Flushes every table's buffered rows into committed files.
    pub async fn checkpoint(&self) -> Result<Output, QueryError> {
        self.store.flush_all().await?;
        Ok(Output::command("CHECKPOINT"))
    }

    /// `VACUUM [table]`: flushes, compacts every group of small files and
    /// every file with deleted rows, expires snapshots past retention and
    /// deletes unreferenced files, for one table or every table.
    async fn vacuum(
        &self,
        vacuum: datafusion::sql::sqlparser::ast::VacuumStatement,
    ) -> Result<Output, QueryError> {
        if vacuum.threshold.is_some() || vacuum.boost || vacuum.reindex || vacuum.recluster {
            return Err(unsupported("VACUUM with Redshift options"));
        }
        let tables = match &vacuum.table_name {
            Some(name) => {
                let (schema, table) = names::table(name)?;
                vec![self.table_handle(&schema, &table)?]
            }
            None => self.store.all_tables(),
        };
        for handle in tables {
            handle.vacuum_now().await?;
        }
        Ok(Output::command("VACUUM"))
    }

    /// Whether Floe executes the statement itself rather than handing it to
    /// DataFusion's planner (DDL, COPY, and DML DataFusion cannot write).
    pub fn executes_itself(stmt: &Parsed) -> bool {
        let Parsed::Sql(stmt) = stmt else {
            return true;
        };
        let stmt = stmt.as_ref();
        matches!(
            stmt,
            Statement::CreateSchema { .. }
                | Statement::CreateTable(_)
                | Statement::Copy { .. }
                | Statement::Update(_)
                | Statement::Delete(_)
                | Statement::AlterTable(_)
                | Statement::Truncate(_)
                | Statement::Merge(_)
                | Statement::CreateFunction(_)
                | Statement::DropFunction(_)
                | Statement::Vacuum(_)
                | Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Savepoint { .. }
                | Statement::ReleaseSavepoint { .. }
        ) || access::is_access_statement(stmt)
            || crate::zone::zone_statement(stmt).is_some()
            || crate::custom_settings::changes_custom_setting(stmt)
            || matches!(
                stmt,
                Statement::Drop {
                    object_type: ObjectType::Table | ObjectType::Schema,
                    ..
                }
            )
    }

    /// The state the current session's statements plan and run in: the
    /// engine's, in the session's time zone ([`crate::zone`]).
    pub fn state(&self) -> SessionState {
        let mut state = self.ctx.state();
        let zone = crate::zone::current();
        if !zone.is_utc() {
            state.config_mut().options_mut().execution.time_zone = Some(zone.arrow().to_string());
            // Functions that read the zone when built (`now()`'s type)
            // are built again for it, as DataFusion's SET does.
            let options = state.config().options().clone();
            let updated: Vec<_> = state
                .scalar_functions()
                .values()
                .filter_map(|f| f.inner().with_updated_config(&options).map(Arc::new))
                .collect();
            for f in updated {
                let _ = datafusion::execution::FunctionRegistry::register_udf(&mut state, f);
            }
            // Execution reads the settings it was started with.
            state.mark_start_execution();
        }
        state
    }

    /// A DataFrame reading `table` in the current session's state.
    pub(crate) fn read_table(
        &self,
        table: Arc<dyn datafusion::catalog::TableProvider>,
    ) -> Result<DataFrame, QueryError> {
        let plan = datafusion::logical_expr::LogicalPlanBuilder::scan(
            "?table?",
            datafusion::datasource::provider_as_source(table),
            None,
        )?
        .build()?;
        Ok(DataFrame::new(self.state(), plan))
    }

    /// Runs a planned statement in the current session's state.
    pub async fn execute_plan(&self, plan: LogicalPlan) -> Result<DataFrame, QueryError> {
        use datafusion::logical_expr::Statement as Planned;
        let statements = || crate::session_memory::current(&self.memory);
        let done = || -> Result<DataFrame, QueryError> {
            let empty = datafusion::logical_expr::LogicalPlanBuilder::empty(false).build()?;
            Ok(DataFrame::new(self.state(), empty))
        };
        Ok(match plan {
            LogicalPlan::Statement(Planned::Prepare(prepare)) => {
                statements().prepare(prepare)?;
                done()?
            }
            LogicalPlan::Statement(Planned::Execute(execute)) => {
                let state = self.state();
                let plan = statements().bind(execute, &state)?;
                // Privileges are those of the user executing, now.
                self.authorize(&plan)?;
                DataFrame::new(state, plan)
            }
            LogicalPlan::Statement(Planned::Deallocate(deallocate)) => {
                statements().deallocate(&deallocate.name)?;
                done()?
            }
            // The engine's own DDL and settings live in the engine's state.
            LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => {
                self.ctx.execute_logical_plan(plan).await?
            }
            plan => DataFrame::new(self.state(), plan),
        })
    }

    /// Plans a statement with DataFusion, and checks the session may run it.
    pub async fn plan(&self, mut stmt: Statement) -> Result<LogicalPlan, QueryError> {
        if let Statement::Insert(insert) = &mut stmt {
            crate::defaults::fill_insert_into(&self.store, insert)?;
        }
        crate::limit_counts::evaluate(self, &mut stmt).await?;
        let given_types = crate::prepared::given_types(&stmt);
        let state = self.state();
        let plan = plan_statement(&state, &self.result_types, stmt, &self.session()?.user).await?;
        let plan = crate::prepared::complete(plan, given_types)?;
        self.authorize(&plan)?;
        Ok(plan)
    }

    /// Parses and executes every statement in `sql`, in order, stopping at
    /// the first error. Row results are returned unexecuted.
    pub async fn execute_sql(&self, sql: &str) -> Result<Vec<Output>, QueryError> {
        let mut outputs = Vec::new();
        let mut block = crate::transaction::TransactionBlock::default();
        for stmt in Engine::parse(sql)? {
            block.check(&stmt)?;
            outputs.push(self.execute(stmt).await?);
        }
        Ok(outputs)
    }

    /// Executes one statement. When a write statement returns, its rows are
    /// durable and visible to every later statement.
    pub async fn execute(&self, stmt: Parsed) -> Result<Output, QueryError> {
        // One statement's future, on the heap: it is large.
        let work = Box::pin(self.execute_statement(stmt));
        if crate::session_memory::in_session() {
            return work.await;
        }
        // An engine used in process remembers its owner's session.
        crate::session_memory::scope(self.memory.clone(), work).await
    }

    async fn execute_statement(&self, stmt: Parsed) -> Result<Output, QueryError> {
        let stmt = match stmt {
            Parsed::Sql(stmt) => *stmt,
            Parsed::Floe(floe) => return self.execute_floe(floe).await,
        };
        if let Some(change) = crate::zone::zone_statement(&stmt) {
            if change?.zone().is_utc() {
                // Outside a session every statement runs in UTC already.
                return Ok(Output::command("SET"));
            }
            return Err(unsupported(
                "SET TIME ZONE outside a PostgreSQL session (the zone is a session's; \
                 HTTP requests and COPY run in UTC)",
            ));
        }
        if let Some(result) =
            crate::custom_settings::execute(&crate::session_memory::current(&self.memory), &stmt)
        {
            return result;
        }
        crate::temp_views::refuse_writes(&stmt)?;
        if access::is_access_statement(&stmt) {
            let who = self.session()?;
            return access::execute(self, &who, stmt).await;
        }
        if let Some(action) = superuser_action(&stmt) {
            let detail = access::masked_text(&stmt);
            let who = self.require_superuser(&detail, action)?;
            let result = Box::pin(self.execute_checked(stmt)).await;
            self.auth.record(&who, "ddl", result.is_ok(), detail);
            return result;
        }
        self.execute_checked(stmt).await
    }

    /// Executes one of Floe's own statements.
    async fn execute_floe(&self, stmt: FloeStatement) -> Result<Output, QueryError> {
        let action = match &stmt {
            FloeStatement::CreateToken { .. } | FloeStatement::DropToken { .. } => {
                let who = self.session()?;
                return access::execute_token(self, &who, stmt).await;
            }
            FloeStatement::Checkpoint => "run CHECKPOINT",
            FloeStatement::CreateSource(_) => "create sources",
            FloeStatement::DropSource { .. } => "drop sources",
        };
        let detail = stmt.to_string();
        let who = self.require_superuser(&detail, action)?;
        let result = match stmt {
            FloeStatement::CreateSource(options) => self
                .sources
                .create(options)
                .await
                .map(|_| Output::command("CREATE SOURCE"))
                .map_err(QueryError::from),
            FloeStatement::DropSource { name, if_exists } => self
                .sources
                .drop_source(&name, if_exists)
                .await
                .map(|_| Output::command("DROP SOURCE"))
                .map_err(QueryError::from),
            _ => self.checkpoint().await,
        };
        self.auth.record(&who, "ddl", result.is_ok(), detail);
        result
    }

    /// Executes a statement whose statement-level privileges are checked.
    async fn execute_checked(&self, stmt: Statement) -> Result<Output, QueryError> {
        match stmt {
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => {
                let name = match &schema_name {
                    SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => {
                        names::table(n)?.1
                    }
                    SchemaName::UnnamedAuthorization(i) => names::ident(i),
                };
                self.store.create_schema(&name, if_not_exists).await?;
                Ok(Output::command("CREATE SCHEMA"))
            }
            Statement::CreateTable(ct) => self.create_table(ct).await,
            Statement::CreateView(view) => crate::views::create(self, view).await,
            Statement::Drop {
                object_type: ObjectType::View,
                if_exists,
                names: views,
                cascade,
                ..
            } => crate::views::drop(self, &views, if_exists, cascade).await,
            Statement::Drop {
                object_type,
                if_exists,
                names: objects,
                cascade,
                ..
            } if matches!(object_type, ObjectType::Table | ObjectType::Schema) => {
                for name in &objects {
                    if object_type == ObjectType::Table {
                        let (schema, table) = names::table(name)?;
                        if self.store.table(&schema, &table).is_some() {
                            crate::views::drop_dependents(
                                self,
                                &schema,
                                &table,
                                "table",
                                cascade,
                                &[],
                            )
                            .await?;
                        }
                        self.store.drop_table(&schema, &table, if_exists).await?;
                        self.auth.forget_table(&schema, &table)?;
                    } else {
                        let schema = names::table(name)?.1;
                        self.store.drop_schema(&schema, if_exists, cascade).await?;
                        self.auth.forget_schema(&schema)?;
                    }
                }
                Ok(Output::command(if object_type == ObjectType::Table {
                    "DROP TABLE"
                } else {
                    "DROP SCHEMA"
                }))
            }
            Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                ..
            } => {
                let rows = copy::execute(self, source, to, target, options, legacy_options).await?;
                Ok(Output::count("COPY", rows))
            }
            Statement::Insert(insert) if insert.on.is_some() => {
                let rows = dml::upsert(self, insert).await?;
                Ok(Output::count("INSERT", rows))
            }
            Statement::Insert(ref insert) => {
                if let datafusion::sql::sqlparser::ast::TableObject::TableName(name) = &insert.table
                {
                    let (schema, table) = names::table(name)?;
                    not_a_view(&self.store, &schema, &table)?;
                }
                let plan = self.plan(stmt).await?;
                let batches = self.execute_plan(plan).await?.collect().await?;
                let rows = batches
                    .first()
                    .and_then(|b| b.column_by_name("count"))
                    .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                    .map(|a| a.value(0))
                    .unwrap_or(0);
                Ok(Output::count("INSERT", rows))
            }
            Statement::StartTransaction { .. } => Ok(Output::command("BEGIN")),
            Statement::Commit { .. } => Ok(Output::command("COMMIT")),
            Statement::Rollback { .. } => Ok(Output::command("ROLLBACK")),
            // A block holds no writes (see `transaction`), so a savepoint
            // has nothing to keep or discard.
            Statement::Savepoint { .. } => Ok(Output::command("SAVEPOINT")),
            Statement::ReleaseSavepoint { .. } => Ok(Output::command("RELEASE")),
            Statement::Update(update) => {
                let rows = dml::update(self, update).await?;
                Ok(Output::count("UPDATE", rows))
            }
            Statement::Delete(delete) => {
                let rows = dml::delete(self, delete).await?;
                Ok(Output::count("DELETE", rows))
            }
            Statement::AlterTable(alter_table) => {
                alter::execute(self, alter_table).await?;
                Ok(Output::command("ALTER TABLE"))
            }
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    dml::truncate(self, &target.name).await?;
                }
                Ok(Output::command("TRUNCATE TABLE"))
            }
            Statement::Merge(_) => Err(unsupported("MERGE")),
            Statement::CreateFunction(_) => Err(unsupported(
                "CREATE FUNCTION (Floe has no user-defined functions)",
            )),
            Statement::DropFunction(drop) => self.drop_function(&drop),
            Statement::Vacuum(vacuum) => self.vacuum(vacuum).await,
            other => {
                let plan = self.plan(other).await?;
                let df = self.execute_plan(plan).await?;
                Ok(Output::Rows(Box::new(df)))
            }
        }
    }

    /// DROP FUNCTION: Floe has no user-defined functions, and its built-in
    /// ones are the server's, shared by every session, so none is dropped.
    fn drop_function(
        &self,
        drop: &datafusion::sql::sqlparser::ast::DropFunction,
    ) -> Result<Output, QueryError> {
        let state = self.ctx.state();
        for function in &drop.func_desc {
            let name = function
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(names::ident)
                .unwrap_or_default();
            let built_in = state.scalar_functions().contains_key(&name)
                || state.aggregate_functions().contains_key(&name)
                || state.window_functions().contains_key(&name);
            if built_in {
                return Err(QueryError::InvalidArgument {
                    status: floe_common::Status::DependentObjectsStillExist,
                    message: format!(
                        "cannot drop function {name} because it is required by the database system"
                    ),
                });
            }
            if !drop.if_exists {
                return Err(QueryError::InvalidArgument {
                    status: floe_common::Status::UndefinedFunction,
                    message: format!("function {name} does not exist"),
                });
            }
        }
        Ok(Output::command("DROP FUNCTION"))
    }

    async fn create_table(&self, ct: CreateTable) -> Result<Output, QueryError> {
        let (schema, table) = names::table(&ct.name)?;
        if ct.external || ct.like.is_some() || ct.clone.is_some() {
            return Err(unsupported("CREATE TABLE of this form"));
        }
        let Some(query) = ct.query.clone() else {
            let mut definition = ddl::from_columns(&ct)?;
            crate::defaults::declare(self, &ct, &mut definition).await?;
            self.store
                .create_table(&schema, &table, definition, ct.if_not_exists)
                .await?;
            return Ok(Output::command("CREATE TABLE"));
        };
        if !ct.columns.is_empty() {
            return Err(unsupported("CREATE TABLE AS with a column list"));
        }
        let plan = self.plan(Statement::Query(query)).await?;
        let df = self.execute_plan(plan).await?;
        let definition = ddl::from_query(&ct, df.schema().as_arrow())?;
        let Some(handle) = self
            .store
            .create_table(&schema, &table, definition, ct.if_not_exists)
            .await?
        else {
            return Ok(Output::count("SELECT", 0));
        };
        let result = async { append_stream(&handle, df.execute_stream().await?).await }.await;
        match result {
            Ok(rows) => Ok(Output::count("SELECT", rows)),
            Err(e) => {
                // CREATE TABLE AS is all or nothing: take the new table away again.
                if let Err(drop_err) = self.store.drop_table(&schema, &table, true).await {
                    tracing::warn!(error = %drop_err, "could not drop table after failed CREATE TABLE AS");
                }
                Err(e)
            }
        }
    }
}

/// Fails if `schema.table` is a view: a statement that writes into it
/// (views are read-only).
fn not_a_view(store: &Store, schema: &str, table: &str) -> Result<(), QueryError> {
    match store.view(schema, table) {
        Some(_) => Err(QueryError::ReadOnlyView {
            name: format!("{schema}.{table}"),
        }),
        None => Ok(()),
    }
}

/// A table of `store` by name, or why there is none.
pub(crate) fn lookup(
    store: &Store,
    schema: &str,
    table: &str,
) -> Result<Arc<floe_storage::TableHandle>, QueryError> {
    if let Some(handle) = store.table(schema, table) {
        return Ok(handle);
    }
    not_a_view(store, schema, table)?;
    Err(match store.unavailable(schema, table) {
        Some(e) => QueryError::Storage(e),
        None => QueryError::NoSuchTable {
            name: format!("{schema}.{table}"),
        },
    })
}
