//! The engine: one DataFusion session over the store, and the statement
//! dispatcher shared by every front end (PG wire, HTTP, `floe sql`).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::UInt64Array;
use datafusion::catalog::CatalogProvider;
use datafusion::common::config::Dialect;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{CreateTable, ObjectType, SchemaName, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use floe_common::defaults::{CATALOG_NAME, DEFAULT_SCHEMA, SYSTEM_SCHEMA};
use floe_storage::Store;

use crate::catalog::FloeCatalog;
use crate::error::{QueryError, unsupported};
use crate::positions::RowPositions;
use crate::system::{AtSnapshot, SystemSchema};
use crate::table::append_stream;
use crate::{alter, copy, ddl, dml, names, sources};
use floe_cdc::Sources;

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
    fn command(tag: &'static str) -> Output {
        Output::Command { tag, rows: None }
    }

    fn count(tag: &'static str, rows: u64) -> Output {
        Output::Command {
            tag,
            rows: Some(rows),
        }
    }
}

/// A Floe engine over one data directory.
pub struct Engine {
    store: Arc<Store>,
    sources: Arc<Sources>,
    ctx: SessionContext,
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
        let store = Store::open(path, DEFAULT_SCHEMA).await?;
        Ok(Arc::new(Engine::with_store(store)))
    }

    /// An engine over an opened store.
    pub fn with_store(store: Arc<Store>) -> Engine {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG_NAME, DEFAULT_SCHEMA);
        config.options_mut().sql_parser.dialect = Dialect::PostgreSQL;
        // As in PostgreSQL, 1.5 is a numeric literal, not a double: it
        // compares exactly with DECIMAL columns.
        config.options_mut().sql_parser.parse_float_as_decimal = true;
        let ctx = SessionContext::new_with_config(config);
        let sources = Sources::open(store.clone()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the replication sources; none will run");
            Sources::none(store.clone())
        });
        let catalog = Arc::new(FloeCatalog::new(store.clone()));
        catalog
            .register_schema(
                SYSTEM_SCHEMA,
                Arc::new(SystemSchema::new(store.clone(), sources.clone())),
            )
            .expect("registering a built-in schema cannot fail");
        ctx.register_catalog(CATALOG_NAME, catalog);
        for udaf in crate::functions::aggregates() {
            ctx.register_udaf(udaf);
        }
        ctx.register_udtf("at_snapshot", Arc::new(AtSnapshot::new(store.clone())));
        ctx.register_udtf("row_positions", Arc::new(RowPositions::new(store.clone())));
        Engine {
            store,
            sources,
            ctx,
        }
    }

    /// The replication sources (`CREATE SOURCE`); `floe serve` starts them.
    pub fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// The DataFusion session every front end plans in.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Parses SQL text (PostgreSQL dialect) into statements.
    ///
    /// `CHECKPOINT`, which the SQL parser does not know, is recognized here
    /// and represented by [`checkpoint_statement`].
    pub fn parse(sql: &str) -> Result<Vec<Statement>, QueryError> {
        use datafusion::sql::sqlparser::tokenizer::Token;
        let parse_error = |e: datafusion::sql::sqlparser::parser::ParserError| QueryError::Parse {
            message: e
                .to_string()
                .trim_start_matches("sql parser error: ")
                .to_string(),
        };
        let dialect = PostgreSqlDialect {};
        let mut parser = Parser::new(&dialect)
            .try_with_sql(sql)
            .map_err(parse_error)?;
        let mut statements = Vec::new();
        loop {
            while parser.consume_token(&Token::SemiColon) {}
            let next = parser.peek_token();
            let statement = match &next.token {
                Token::EOF => break,
                Token::Word(w)
                    if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("checkpoint") =>
                {
                    parser.next_token();
                    checkpoint_statement()
                }
                Token::Word(_) if sources::at_words(&parser, &["create", "source"]) => {
                    sources::parse_create(&mut parser).map_err(parse_error)?
                }
                Token::Word(_) if sources::at_words(&parser, &["drop", "source"]) => {
                    sources::parse_drop(&mut parser).map_err(parse_error)?
                }
                _ => parser.parse_statement().map_err(parse_error)?,
            };
            statements.push(statement);
            let after = parser.peek_token();
            if !matches!(after.token, Token::SemiColon | Token::EOF) {
                return Err(QueryError::Parse {
                    message: format!(
                        "Expected: end of statement, found: {} at {}",
                        after.token, after.span.start
                    ),
                });
            }
        }
        Ok(statements)
    }

    /// The SQL text of a parsed statement, as it can be parsed again.
    pub fn statement_text(stmt: &Statement) -> String {
        if is_checkpoint(stmt) {
            "CHECKPOINT".to_string()
        } else if let Some(text) = sources::statement_text(stmt) {
            text
        } else {
            stmt.to_string()
        }
    }

    /// Flushes every table's buffered rows into committed files.
    pub async fn checkpoint(&self) -> Result<Output, QueryError> {
        self.store.flush_all().await?;
        Ok(Output::command("CHECKPOINT"))
    }

    /// `VACUUM [table]`: flushes, compacts every group of small files and
    /// every file with deleted rows, expires snapshots past retention and
    /// deletes unreferenced files, for one table or every table.
    pub async fn vacuum(
        &self,
        vacuum: datafusion::sql::sqlparser::ast::VacuumStatement,
    ) -> Result<Output, QueryError> {
        if vacuum.threshold.is_some() || vacuum.boost || vacuum.reindex || vacuum.recluster {
            return Err(unsupported("VACUUM with Redshift options"));
        }
        let tables = match &vacuum.table_name {
            Some(name) => {
                let (schema, table) = names::table(name)?;
                let handle =
                    self.store
                        .table(&schema, &table)
                        .ok_or_else(|| QueryError::NoSuchTable {
                            name: format!("{schema}.{table}"),
                        })?;
                vec![handle]
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
    pub fn executes_itself(stmt: &Statement) -> bool {
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
                | Statement::Vacuum(_)
                | Statement::CreateConnector(_)
                | Statement::DropConnector { .. }
                | Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
        ) || matches!(
            stmt,
            Statement::Drop {
                object_type: ObjectType::Table | ObjectType::Schema,
                ..
            }
        ) || is_checkpoint(stmt)
    }

    /// Plans a statement with DataFusion.
    pub async fn plan(&self, mut stmt: Statement) -> Result<LogicalPlan, QueryError> {
        pg_literals(&mut stmt)?;
        let state = self.ctx.state();
        Ok(state
            .statement_to_plan(DFStatement::Statement(Box::new(stmt)))
            .await?)
    }

    /// Parses and executes every statement in `sql`, in order, stopping at
    /// the first error. Row results are returned unexecuted.
    pub async fn execute_sql(&self, sql: &str) -> Result<Vec<Output>, QueryError> {
        let mut outputs = Vec::new();
        for stmt in Engine::parse(sql)? {
            outputs.push(self.execute(stmt).await?);
        }
        Ok(outputs)
    }

    /// Executes one statement. When a write statement returns, its rows are
    /// durable and visible to every later statement.
    pub async fn execute(&self, stmt: Statement) -> Result<Output, QueryError> {
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
                        self.store.drop_table(&schema, &table, if_exists).await?;
                    } else {
                        let schema = names::table(name)?.1;
                        self.store.drop_schema(&schema, if_exists, cascade).await?;
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
            Statement::Insert(_) => {
                let plan = self.plan(stmt).await?;
                let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
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
            Statement::Vacuum(vacuum) => self.vacuum(vacuum).await,
            Statement::CreateConnector(create) => {
                self.sources.create(sources::options(&create)?).await?;
                Ok(Output::command("CREATE SOURCE"))
            }
            Statement::DropConnector { if_exists, name } => {
                self.sources
                    .drop_source(&names::ident(&name), if_exists)
                    .await?;
                Ok(Output::command("DROP SOURCE"))
            }
            stmt if is_checkpoint(&stmt) => self.checkpoint().await,
            other => {
                let plan = self.plan(other).await?;
                let df = self.ctx.execute_logical_plan(plan).await?;
                Ok(Output::Rows(Box::new(df)))
            }
        }
    }

    async fn create_table(&self, ct: CreateTable) -> Result<Output, QueryError> {
        let (schema, table) = names::table(&ct.name)?;
        if ct.external || ct.like.is_some() || ct.clone.is_some() {
            return Err(unsupported("CREATE TABLE of this form"));
        }
        let Some(query) = ct.query.clone() else {
            let definition = ddl::from_columns(&ct)?;
            self.store
                .create_table(&schema, &table, definition, ct.if_not_exists)
                .await?;
            return Ok(Output::command("CREATE TABLE"));
        };
        if !ct.columns.is_empty() {
            return Err(unsupported("CREATE TABLE AS with a column list"));
        }
        let plan = self.plan(Statement::Query(query)).await?;
        let df = self.ctx.execute_logical_plan(plan).await?;
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

/// How `CHECKPOINT` is represented among parsed statements: MySQL's
/// `FLUSH TABLES`, which the PostgreSQL dialect never produces itself.
pub fn checkpoint_statement() -> Statement {
    use datafusion::sql::sqlparser::ast::FlushType;
    Statement::Flush {
        object_type: FlushType::Tables,
        location: None,
        channel: None,
        read_lock: false,
        export: false,
        tables: Vec::new(),
    }
}

/// Whether `stmt` is one of Floe's own statements that the PostgreSQL
/// protocol library's parser does not know (CHECKPOINT, CREATE SOURCE,
/// DROP SOURCE); front ends hand such text to [`Engine::parse`].
pub fn is_floe_statement(stmt: &Statement) -> bool {
    is_checkpoint(stmt)
        || matches!(
            stmt,
            Statement::CreateConnector(_) | Statement::DropConnector { .. }
        )
}

/// Whether `stmt` is `CHECKPOINT` (see [`checkpoint_statement`]).
pub fn is_checkpoint(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Flush { .. })
}

/// Rewrites PostgreSQL literal forms drivers send that DataFusion reads
/// differently:
/// - `'\x0aff'::bytea` (the hex form of a bytea literal) becomes a binary
///   literal; DataFusion would otherwise cast the text's own bytes;
/// - numeric literals with an exponent (`1e300`) become double precision;
///   others are decimals, as in PostgreSQL;
/// - `::uuid` casts become casts to text, the type uuid columns have in SQL
///   (values are checked as uuids when they are written).
fn pg_literals(stmt: &mut Statement) -> Result<(), QueryError> {
    use datafusion::sql::sqlparser::ast::{
        DataType as SqlType, Expr, Value, visit_expressions_mut,
    };
    let outcome = visit_expressions_mut(stmt, |expr| {
        if let Expr::Value(v) = expr
            && let Value::Number(text, _) = &v.value
            && text.contains(['e', 'E'])
        {
            // Numeric literals are decimals, but one with an exponent may
            // not fit a decimal: it is a double precision value.
            *expr = Expr::Cast {
                kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                expr: Box::new(Expr::Value(Value::SingleQuotedString(text.clone()).into())),
                data_type: SqlType::DoublePrecision,
                array: false,
                format: None,
            };
            return std::ops::ControlFlow::Continue(());
        }
        if let Expr::Cast {
            data_type, expr, ..
        } = expr
            && *data_type == SqlType::Uuid
        {
            *data_type = SqlType::Text;
            if let Expr::Value(v) = expr.as_mut()
                && let Value::SingleQuotedString(text) = &mut v.value
            {
                match uuid::Uuid::parse_str(text.trim()) {
                    Ok(u) => *text = u.hyphenated().to_string(),
                    Err(_) => {
                        return std::ops::ControlFlow::Break(QueryError::InvalidLiteral {
                            ty: "uuid",
                            value: text.clone(),
                        });
                    }
                }
            }
        }
        if let Expr::Cast {
            data_type: SqlType::Bytea,
            expr: inner,
            ..
        } = expr
            && let Expr::Value(v) = inner.as_ref()
            && let Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) = &v.value
            && let Some(hex) = text.strip_prefix("\\x")
            && hex.len() % 2 == 0
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            *expr = Expr::Value(Value::HexStringLiteral(hex.to_string()).into());
        }
        std::ops::ControlFlow::Continue(())
    });
    match outcome {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}
