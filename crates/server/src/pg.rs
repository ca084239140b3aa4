//! The PostgreSQL wire protocol endpoint.
//!
//! Connection handling, the extended query protocol, parameter decoding and
//! the `pg_catalog` tables psql queries come from `datafusion-postgres` and
//! `pgwire`. Floe parses every statement first: its own statements, and
//! every statement that is neither one of the library's (SET, SHOW,
//! transaction control, cursors) nor a client's catalog query
//! ([`crate::client_sql`]), are planned and executed by Floe as written, so
//! errors carry Floe's SQLSTATEs and no compatibility rewrite changes what a
//! query means. The rest take the library's path, with Floe's hook last.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldFormat, FieldInfo};
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::{QueryParser, StoredStatement};
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers, RandomPidSecretKeyGenerator,
};
use datafusion_postgres::pgwire::api::{ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::messages::response::TransactionStatus;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use datafusion_postgres::{DfSessionService, Parser, pgwire};
use floe_common::defaults::CATALOG_NAME;
use floe_query::datafusion::arrow::datatypes::{DataType, Schema};
use floe_query::datafusion::common::{DFSchema, ParamValues};
use floe_query::datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use floe_query::datafusion::prelude::{DataFrame, SessionContext};
use floe_query::datafusion::sql::sqlparser::ast::Statement;
use floe_query::{Engine, FloeStatement, Output, Parsed};
use futures::{Sink, SinkExt, StreamExt, stream};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client_sql;
use crate::errors::{pg_error, pg_error_with, pg_stream_error};
use crate::login::{Authenticate, Shared};
use crate::session::{Liveness, Session, refuse_write_in_block, session};
use floe_common::Status;

/// Registers `pg_catalog` and the PostgreSQL system functions psql and
/// drivers query, in Floe's catalog.
pub fn install_catalog(engine: &Engine) {
    if let Err(e) = setup_pg_catalog(engine.context(), CATALOG_NAME, EmptyContextProvider) {
        tracing::error!(error = %e, "could not install pg_catalog");
    } else if let Err(e) =
        crate::catalog_tables::install(engine.context(), CATALOG_NAME, engine.store().clone())
    {
        tracing::error!(error = %e, "could not install Floe's pg_catalog tables");
    }
    crate::catalog_functions::register(engine.context());
}

/// Accepts PG wire connections until `stop` turns true; with `tls`, a
/// client's SSLRequest is answered with a TLS handshake.
pub async fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    require_tls: bool,
    max_connections: usize,
    idle_timeout: Option<std::time::Duration>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers::new(engine, require_tls));
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a PG connection failed");
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, max_connections, "refused a PG connection: too many connections");
                    tokio::spawn(refuse(socket));
                    continue;
                };
                let live = Arc::new(Liveness::default());
                let connection = Connection {
                    shared: handlers.clone(),
                    live: live.clone(),
                };
                let tls = tls.clone();
                let task = tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(e) = crate::connection::process_socket(socket, tls, connection).await {
                        tracing::debug!(%peer, error = %e, "PG connection ended with an error");
                    }
                });
                if let Some(limit) = idle_timeout {
                    tokio::spawn(close_when_idle(task.abort_handle(), live, limit, peer));
                }
            }
        }
    }
}

/// Closes a connection that has run nothing for `limit` (its session or
/// its authentication). A statement running is never cut off.
async fn close_when_idle(
    task: tokio::task::AbortHandle,
    live: Arc<Liveness>,
    limit: std::time::Duration,
    peer: std::net::SocketAddr,
) {
    let tick = (limit / 4).max(std::time::Duration::from_millis(100));
    while !task.is_finished() {
        tokio::time::sleep(tick).await;
        if live.idle_for().is_some_and(|idle| idle >= limit) {
            tracing::info!(%peer, seconds = limit.as_secs(), "closed an idle PG connection");
            task.abort();
            return;
        }
    }
}

/// The pgwire handler set of one connection: the shared handlers, with
/// its own authenticator and activity record.
struct Connection {
    shared: Arc<Handlers>,
    live: Arc<Liveness>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(FloeSimple {
            inner: self.shared.session.clone(),
            engine: self.shared.engine.clone(),
        })
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.shared.extended.clone()
    }

    /// Called once per connection.
    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::new(Authenticate::new(
            self.shared.login.clone(),
            self.live.clone(),
        ))
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.shared.cancel.clone()
    }
}

/// Answers a connection over the cap with FATAL 53300 and closes it. A
/// TLS or GSSAPI request is declined first (so the client reads the error
/// as PostgreSQL sends it, after its startup message).
async fn refuse(mut socket: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SSL_REQUEST: u32 = 80877103;
    const GSSENC_REQUEST: u32 = 80877104;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        for _ in 0..3 {
            let mut header = [0u8; 8];
            socket.read_exact(&mut header).await?;
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let code = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            if len == 8 && (code == SSL_REQUEST || code == GSSENC_REQUEST) {
                socket.write_all(b"N").await?;
                continue;
            }
            // The startup message: skip the rest of it (bounded).
            let mut rest = vec![0u8; len.clamp(8, 10_000) - 8];
            socket.read_exact(&mut rest).await?;
            break;
        }
        Ok::<(), std::io::Error>(())
    })
    .await;
    let mut message = bytes::BytesMut::new();
    let info = crate::errors::fatal_info(
        Status::TooManyConnections.sqlstate(),
        "sorry, too many clients already".into(),
    );
    if PgWireBackendMessage::ErrorResponse(info.into())
        .encode(&mut message)
        .is_err()
    {
        return;
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let _ = socket.write_all(&message).await;
        let _ = socket.shutdown().await;
    })
    .await;
}

/// The pgwire handler set: DataFusion sessions with Floe's hook first.
struct Handlers {
    engine: Arc<Engine>,
    session: Arc<DfSessionService>,
    extended: Arc<FloeExtended>,
    login: Arc<Shared>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Handlers {
    fn new(engine: Arc<Engine>, require_tls: bool) -> Handlers {
        let ctx = Arc::new(engine.context().clone());
        let library_hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(CursorGuard {
                engine: engine.clone(),
            }),
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
        ];
        let mut hooks = library_hooks.clone();
        hooks.push(Arc::new(FloeHook {
            engine: engine.clone(),
        }));
        let session = Arc::new(DfSessionService::new_with_hooks(ctx, hooks));
        let extended = Arc::new(FloeExtended {
            parser: Arc::new(FloeParser {
                inner: session.query_parser(),
                engine: engine.clone(),
            }),
            hooks: library_hooks,
            engine: engine.clone(),
        });
        let connections = Arc::new(ConnectionManager::new());
        Handlers {
            engine: engine.clone(),
            session,
            extended,
            login: Arc::new(Shared {
                engine: engine.clone(),
                require_tls,
                connections: connections.clone(),
                pids: RandomPidSecretKeyGenerator::default(),
            }),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        }
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        tracing::debug!(error = %error, "PG error response");
    }
}

/// Floe's statement hook.
struct FloeHook {
    engine: Arc<Engine>,
}

impl FloeHook {
    /// Executes a statement in the client's session, with its formats.
    async fn run(
        &self,
        stmt: Parsed,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<Response> {
        let session = session(client)?;
        refuse_write_in_block(client, &stmt)?;
        let options = session.format_options(client);
        self.execute(&session, stmt, options).await
    }

    async fn execute(
        &self,
        session: &Session,
        stmt: Parsed,
        options: Arc<FormatOptions>,
    ) -> PgWireResult<Response> {
        if let Some(change) = stmt.sql().and_then(floe_query::zone::zone_statement) {
            let zone = change.map_err(|e| pg_error(&e))?.zone();
            session.set_zone(zone);
            let tag = match stmt.sql() {
                Some(Statement::Reset(_)) => "RESET",
                _ => "SET",
            };
            return Ok(Response::Execution(Tag::new(tag)));
        }
        // A SET TIME ZONE earlier in the same query string counts.
        let mut options = (*options).clone();
        options.time_zone = session.zone().arrow().to_string();
        let options = Arc::new(options);
        session
            .track(&stmt.clone(), async {
                match self.engine.execute(stmt).await.map_err(|e| pg_error(&e))? {
                    Output::Command { tag, rows } => {
                        Ok(Response::Execution(command_tag(tag, rows)))
                    }
                    Output::Rows(df) => Ok(Response::Query(
                        encode(*df, &Format::UnifiedText, options).await?,
                    )),
                }
            })
            .await
    }
}

/// Runs before the protocol library's cursor hook: the query of a
/// `DECLARE ... CURSOR FOR` is planned (and so authorized) as the session.
struct CursorGuard {
    engine: Arc<Engine>,
}

impl CursorGuard {
    /// The error to answer with if `statement` declares a cursor over a
    /// query the session may not run.
    async fn refusal(
        &self,
        statement: &Statement,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireError> {
        let Statement::Declare { stmts } = statement else {
            return None;
        };
        let session = match session(client) {
            Ok(s) => s,
            Err(e) => return Some(e),
        };
        for declare in stmts {
            if let Some(query) = &declare.for_query
                && let Err(e) = session
                    .run(self.engine.plan(Statement::Query(query.clone())))
                    .await
            {
                return Some(pg_error(&e));
            }
        }
        None
    }
}

#[async_trait]
impl QueryHook for CursorGuard {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refusal(statement, &*client).await.map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.refusal(statement, client).await.map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refusal(statement, &*client).await.map(Err)
    }
}

fn command_tag(tag: &str, rows: Option<u64>) -> Tag {
    let t = Tag::new(tag);
    match (tag, rows) {
        ("INSERT", Some(n)) => t.with_oid(0).with_rows(n as usize),
        (_, Some(n)) => t.with_rows(n as usize),
        (_, None) => t,
    }
}

/// Encodes a result. The first batch is computed before this returns, so
/// the expensive part of a query runs while a cancel request can still
/// interrupt it, and errors found there carry their SQLSTATE.
async fn encode(
    df: DataFrame,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(pg_fields(
        df.schema().as_arrow(),
        format,
        Some(options.clone()),
    )?);
    let mut batches = floe_query::execute_stream(df)
        .await
        .map_err(pg_stream_error)?;
    let first = match batches.next().await {
        Some(Err(e)) => return Err(pg_stream_error(e)),
        other => other,
    };
    let rows_fields = fields.clone();
    let rows = stream::iter(first)
        .chain(batches)
        .map(move |batch| {
            let rows: Box<dyn Iterator<Item = PgWireResult<_>> + Send + Sync> = match batch {
                Ok(batch) => match wide_decimals_as_text(batch)
                    .and_then(|batch| crate::text_forms::as_text(batch, &rows_fields, &options))
                {
                    Ok(batch) => encode_recordbatch(rows_fields.clone(), batch),
                    Err(e) => Box::new(std::iter::once(Err(pg_stream_error(e.into())))),
                },
                Err(e) => Box::new(std::iter::once(Err(pg_stream_error(e)))),
            };
            stream::iter(rows)
        })
        .flatten();
    Ok(QueryResponse::new(fields, rows))
}

/// Plans `statement` as the client's user, for the extended protocol;
/// statements the engine runs itself get a placeholder plan.
async fn plan_as_session(
    engine: &Arc<Engine>,
    statement: &Parsed,
    client: &(dyn ClientInfo + Send + Sync),
) -> PgWireResult<LogicalPlan> {
    let sql = match statement {
        Parsed::Sql(sql) if !Engine::executes_itself(statement) => sql,
        _ => return Ok(placeholder_plan()),
    };
    let session = session(client)?;
    session
        .run(engine.plan(sql.as_ref().clone()))
        .await
        .map_err(|e| pg_error(&e))
}

fn placeholder_plan() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

#[async_trait]
impl QueryHook for FloeHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Some(self.run(statement.clone().into(), &*client).await)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        Some(plan_as_session(&self.engine, &statement.clone().into(), client).await)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let statement = Parsed::from(statement.clone());
        if Engine::executes_itself(&statement) {
            return Some(self.run(statement, &*client).await);
        }
        None
    }
}

/// Whether a column is a decimal wider than the protocol library's
/// numeric encoder holds (28 digits); such columns are sent as exact text.
fn wide_decimal(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Decimal128(p, _) | DataType::Decimal256(p, _) if *p > 28)
}

/// The batch with every wide decimal column as its exact decimal text.
fn wide_decimals_as_text(
    batch: floe_query::datafusion::arrow::array::RecordBatch,
) -> Result<
    floe_query::datafusion::arrow::array::RecordBatch,
    floe_query::datafusion::arrow::error::ArrowError,
> {
    use floe_query::datafusion::arrow::compute::cast;
    use floe_query::datafusion::arrow::datatypes::Field;
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| wide_decimal(f.data_type()))
    {
        return Ok(batch);
    }
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if wide_decimal(field.data_type()) {
            fields.push(Arc::new(Field::new(field.name(), DataType::Utf8, true)));
            columns.push(cast(column, &DataType::Utf8)?);
        } else {
            fields.push(field.clone());
            columns.push(column.clone());
        }
    }
    floe_query::datafusion::arrow::array::RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )
}

/// Result columns as PG fields. Columns Floe tags as uuid are reported with
/// the `uuid` type, always in text format; decimals wider than 28 digits
/// as `numeric` and bit strings as `bit varying`, in text format.
fn pg_fields(
    schema: &Schema,
    format: &Format,
    options: Option<Arc<FormatOptions>>,
) -> PgWireResult<Vec<FieldInfo>> {
    // The protocol library knows no Decimal256: describe wide decimals as
    // the text they are sent as, then name their type below.
    let described = Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                if wide_decimal(f.data_type()) {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8))
                } else {
                    f.clone()
                }
            })
            .collect::<Vec<_>>(),
    );
    let fields = arrow_schema_to_pg_fields(&described, format, options.clone())?;
    Ok(fields
        .into_iter()
        .zip(schema.fields())
        .map(|(info, field)| {
            let text_type = if floe_query::uuid::is_uuid(field) {
                Type::UUID
            } else if wide_decimal(field.data_type()) {
                Type::NUMERIC
            } else if floe_query::bits::is_bits(field.data_type()) {
                Type::VARBIT
            } else {
                return info;
            };
            let text = FieldInfo::new(
                info.name().to_string(),
                None,
                None,
                text_type,
                FieldFormat::Text,
            );
            match &options {
                Some(o) => text.with_format_options(o.clone()),
                None => text,
            }
        })
        .collect())
}

/// A statement of the extended protocol, the type `datafusion-postgres`'s
/// hooks and portal store share: its text, and the statement with its plan
/// (a placeholder for statements Floe executes itself). Floe's own
/// statements, which are not SQL statements, have neither: they are parsed
/// again from the text (see [`floe_statement`]).
type ParsedStatement = (String, Option<(Statement, LogicalPlan)>);

/// The Floe statement a parsed extended-protocol statement holds, if any.
fn floe_statement(stmt: &ParsedStatement) -> Option<FloeStatement> {
    match stmt {
        (sql, None) => match Engine::parse(sql).ok()?.as_slice() {
            [Parsed::Floe(floe)] => Some(floe.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Parses with `datafusion-postgres` (which rewrites psql's catalog
/// queries and runs Floe's hook for planning) and describes results with
/// Floe's type mapping.
struct FloeParser {
    inner: Arc<Parser>,
    engine: Arc<Engine>,
}

#[async_trait]
impl QueryParser for FloeParser {
    type Statement = ParsedStatement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<ParsedStatement>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        // Floe's own statements and the access-control statements, which
        // the library's parser does not read as Floe does, run through the
        // engine (see `FloeExtended::do_query`); every other statement but
        // the library's own and clients' catalog queries is planned as
        // written, without the library's rewrites.
        match Engine::parse(sql) {
            Ok(mut statements) if statements.len() == 1 => {
                let statement = statements.remove(0);
                let Parsed::Sql(sql_statement) = &statement else {
                    return Ok((sql.to_string(), None));
                };
                if statement.is_floe_syntax() {
                    let stmt = sql_statement.as_ref().clone();
                    return Ok((sql.to_string(), Some((stmt, placeholder_plan()))));
                }
                if !client_sql::needs_client_compat(sql_statement) {
                    let plan = plan_as_session(&self.engine, &statement, client).await?;
                    let stmt = sql_statement.as_ref().clone();
                    return Ok((sql.to_string(), Some((stmt, plan))));
                }
            }
            Ok(_) => {}
            Err(e) if !client_sql::library_reads(sql) => return Err(pg_error(&e)),
            Err(_) => {}
        }
        let setting = client_sql::library_setting_text(sql);
        self.inner
            .parse_sql(client, setting.as_deref().unwrap_or(sql), types)
            .await
            .map_err(parse_failure)
    }

    fn get_parameter_types(&self, stmt: &ParsedStatement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &ParsedStatement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let format = column_format.unwrap_or(&Format::UnifiedText);
        match stmt {
            (_, None) => match floe_statement(stmt) {
                Some(FloeStatement::CreateToken { .. }) => {
                    pg_fields(&floe_query::token_schema(), format, None)
                }
                _ => Ok(vec![]),
            },
            (_, Some((_, plan))) if !matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Dml(_)) => {
                pg_fields(plan.schema().as_arrow(), format, None)
            }
            _ => Ok(vec![]),
        }
    }
}

/// The extended query protocol: Floe executes every portal itself, so
/// results use Floe's type mapping, errors carry Floe's SQLSTATEs, and the
/// first batch is computed where a cancel request can interrupt it.
struct FloeExtended {
    engine: Arc<Engine>,
    parser: Arc<FloeParser>,
    hooks: Vec<Arc<dyn QueryHook>>,
}

/// Parameter types in `$1, $2, ...` order.
fn ordered_parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types().map_err(pg_stream_error)?;
    let mut types: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .map(|(name, ty)| {
            (
                name.trim_start_matches('$').parse().unwrap_or(usize::MAX),
                ty,
            )
        })
        .collect();
    types.sort_by_key(|(i, _)| *i);
    Ok(types.into_iter().map(|(_, t)| t).collect())
}

#[async_trait]
impl ExtendedQueryHandler for FloeExtended {
    type Statement = ParsedStatement;
    type QueryParser = FloeParser;

    fn query_parser(&self) -> Arc<FloeParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<ParsedStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = ParsedStatement>,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (_, Some((stmt, plan))) = &portal.statement.statement else {
            let Some(floe) = floe_statement(&portal.statement.statement) else {
                return Ok(Response::EmptyQuery);
            };
            let hook = FloeHook {
                engine: self.engine.clone(),
            };
            return hook.run(Parsed::Floe(floe), &*client).await;
        };
        let types = ordered_parameter_types(plan)?;
        let type_refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
        // Settings Floe keeps or answers itself, ahead of the library's
        // hooks (which would take a SET or SHOW of them as their own).
        if crate::client_sql::floe_setting(stmt) {
            let zone = floe_query::zone::zone_statement(stmt).is_some();
            let session = session(client)?;
            let options = session.format_options(client);
            let hook = FloeHook {
                engine: self.engine.clone(),
            };
            let stmt: Parsed = stmt.clone().into();
            session.record_client_settings(client, &stmt);
            let response = hook.execute(&session, stmt, options).await?;
            if zone {
                announce_zone(client, &session).await?;
            }
            return Ok(response);
        }
        let params = match uuid_parameters_as_text(portal) {
            Some(portal) => deserialize_parameters(&portal, &type_refs)?,
            None => deserialize_parameters(portal, &type_refs)?,
        };
        for hook in &self.hooks {
            if let Some(result) = hook
                .handle_extended_query(stmt, plan, &params, self.engine.context(), client)
                .await
            {
                return result;
            }
        }
        let stmt = &Parsed::from(stmt.clone());
        let session = session(client)?;
        refuse_write_in_block(client, stmt)?;
        let options = session.format_options(client);
        if Engine::executes_itself(stmt) {
            return FloeHook {
                engine: self.engine.clone(),
            }
            .execute(&session, stmt.clone(), options)
            .await;
        }
        session
            .track(stmt, async {
                // Privileges are checked again at execution: a prepared
                // statement outlives a REVOKE.
                self.engine.authorize(plan).map_err(|e| pg_error(&e))?;
                let plan = plan
                    .clone()
                    .replace_params_with_values(&params)
                    .map_err(pg_stream_error)?;
                let df = self
                    .engine
                    .execute_plan(plan)
                    .await
                    .map_err(|e| pg_error(&e))?;
                if matches!(stmt.sql(), Some(Statement::Insert(_))) {
                    let batches = df.collect().await.map_err(pg_stream_error)?;
                    let rows = batches
                        .first()
                        .and_then(|b| b.column_by_name("count"))
                        .and_then(|c| {
                            c.as_any()
                                .downcast_ref::<floe_query::datafusion::arrow::array::UInt64Array>()
                        })
                        .map_or(0, |a| a.value(0));
                    return Ok(Response::Execution(command_tag("INSERT", Some(rows))));
                }
                Ok(Response::Query(
                    encode(df, &portal.result_column_format, options).await?,
                ))
            })
            .await
    }
}

/// Tells the client the session's time zone (a ParameterStatus message,
/// as PostgreSQL sends after `SET TIME ZONE`).
async fn announce_zone<C>(client: &mut C, session: &Session) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    use datafusion_postgres::pgwire::messages::startup::ParameterStatus;
    client
        .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
            "TimeZone".into(),
            session.zone().shown().to_string(),
        )))
        .await?;
    Ok(())
}

/// Statements the library's parser rejects are syntax errors (42601).
/// A copy of the portal with uuid parameters turned into text, the type uuid
/// columns have in SQL; `None` if it has no uuid parameter. Binary uuids
/// (16 bytes) become their canonical text form.
fn uuid_parameters_as_text(portal: &Portal<ParsedStatement>) -> Option<Portal<ParsedStatement>> {
    let types = &portal.statement.parameter_types;
    let is_uuid = |i: usize| matches!(types.get(i), Some(Some(t)) if *t == Type::UUID);
    if !(0..types.len()).any(is_uuid) {
        return None;
    }
    let text_types = types
        .iter()
        .map(|t| match t {
            Some(t) if *t == Type::UUID => Some(Type::TEXT),
            other => other.clone(),
        })
        .collect();
    let mut copy = Portal::default();
    copy.name = portal.name.clone();
    copy.statement = Arc::new(StoredStatement::new(
        portal.statement.id.clone(),
        portal.statement.statement.clone(),
        text_types,
    ));
    copy.parameter_format = portal.parameter_format.clone();
    copy.result_column_format = portal.result_column_format.clone();
    copy.parameters = portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, value)| match value {
            Some(bytes) if is_uuid(i) && portal.parameter_format.is_binary(i) => {
                match uuid::Uuid::from_slice(bytes) {
                    Ok(u) => Some(bytes::Bytes::from(u.hyphenated().to_string())),
                    Err(_) => value.clone(),
                }
            }
            _ => value.clone(),
        })
        .collect();
    Some(copy)
}

fn parse_failure(e: PgWireError) -> PgWireError {
    match e {
        PgWireError::ApiError(e) => pg_error_with(
            Status::SyntaxError,
            e.to_string()
                .trim_start_matches("sql parser error: ")
                .to_string(),
        ),
        other => other,
    }
}

/// The simple query protocol: the library's handler, with parse failures
/// reported as syntax errors.
struct FloeSimple {
    inner: Arc<DfSessionService>,
    engine: Arc<Engine>,
}

#[async_trait]
impl SimpleQueryHandler for FloeSimple {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Floe runs its own statements (CHECKPOINT, CREATE/DROP SOURCE: not
        // SQL the protocol library's parser knows) and every statement that
        // is neither the library's own nor a client's catalog query, as
        // written: the library's compatibility rewrites may change a
        // query's meaning. A batch with any such statement runs statement
        // by statement, the others through the library as their own text.
        let runs_as_written = |s: &Parsed| {
            s.is_floe_syntax() || !s.sql().is_some_and(client_sql::needs_client_compat)
        };
        let statements = match Engine::parse_with_text(query) {
            Ok(statements) => statements,
            // Text only the library's parser reads is a client's catalog
            // query; any other error is Floe's, the same as over HTTP.
            Err(e) if !client_sql::library_reads(query) => return Err(pg_error(&e)),
            Err(_) => Vec::new(),
        };
        if statements.iter().any(|(s, _)| runs_as_written(s)) {
            let session = session(client)?;
            let hook = FloeHook {
                engine: self.engine.clone(),
            };
            let options = session.format_options(client);
            let mut responses = Vec::with_capacity(statements.len());
            // Within one query string the client's transaction status is
            // still the one before it, so the block is followed here.
            let mut block = floe_query::transaction::TransactionBlock::starting(
                client.transaction_status() == TransactionStatus::Transaction,
            );
            for (stmt, text) in statements {
                let outcome = match block.check(&stmt) {
                    Err(e) => Err(pg_error(&e)),
                    Ok(()) if runs_as_written(&stmt) => {
                        let sets_zone = stmt.sql().and_then(floe_query::zone::zone_statement);
                        session.record_client_settings(client, &stmt);
                        let outcome = hook.execute(&session, stmt, options.clone()).await;
                        if outcome.is_ok() && sets_zone.is_some() {
                            announce_zone(client, &session).await?;
                        }
                        outcome
                    }
                    Ok(()) => {
                        let answered =
                            SimpleQueryHandler::do_query(self.inner.as_ref(), client, &text)
                                .await
                                .map_err(parse_failure)?;
                        let failed = answered.iter().any(|r| matches!(r, Response::Error(_)));
                        responses.extend(answered);
                        if failed {
                            break;
                        }
                        continue;
                    }
                };
                match outcome {
                    Ok(response) => responses.push(response),
                    // Statements after a failed one do not run.
                    Err(PgWireError::UserError(info)) if !responses.is_empty() => {
                        responses.push(Response::Error(info));
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(responses);
        }
        let setting = client_sql::library_setting_text(query);
        SimpleQueryHandler::do_query(
            self.inner.as_ref(),
            client,
            setting.as_deref().unwrap_or(query),
        )
        .await
        .map_err(parse_failure)
    }
}
