//! The HTTP API: `GET /healthz`, `GET /metrics`, `GET /v1/tables`,
//! `POST /v1/sql` and `POST /v1/tables/{schema}.{table}/rows` (see
//! [`crate::rows`]). Every path but `/healthz` needs a bearer token
//! ([`crate::login::require_token`]) and runs as the token's role.

use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use floe_common::{HasStatus, Status};
use floe_query::datafusion::error::DataFusionError;
use floe_query::datafusion::physical_plan::SendableRecordBatchStream;
use floe_query::floe_auth::Identity;
use floe_query::{Engine, Output, QueryError};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::errors::{http_error, http_query_error};

/// Largest SQL text `POST /v1/sql` accepts.
pub const MAX_SQL_BYTES: usize = 16 * 1024 * 1024;

const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The router, for serving or for tests with `oneshot`.
pub fn router(engine: Arc<Engine>) -> Router {
    let authenticated = Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/tables", get(tables))
        .route("/v1/sql", post(sql))
        .layer(DefaultBodyLimit::max(MAX_SQL_BYTES))
        // The rows endpoint bounds its body itself, to answer in JSON.
        .route(
            "/v1/tables/{name}/rows",
            post(crate::rows::ingest).layer(DefaultBodyLimit::disable()),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            crate::login::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(authenticated)
        .with_state(engine)
}

/// How long a client may take to send a request's headers, and how long
/// an idle keep-alive connection is kept, by default.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Largest request head (request line and headers) read; more is 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long in-flight requests may take to finish at shutdown.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTP (or HTTPS, from a [`crate::tls::TlsListener`]) until `stop`
/// turns true; in-flight requests finish first.
///
/// Each connection must send a request's headers within `header_timeout`
/// (slow and idle clients are closed) and in at most
/// [`MAX_HEAD_BYTES`]. Beyond `max_connections` open connections, new
/// ones are answered 503 and closed.
pub async fn serve<L>(
    engine: Arc<Engine>,
    mut listener: L,
    max_connections: usize,
    header_timeout: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    let app = router(engine);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (io, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let slot = slots.clone().try_acquire_owned().ok();
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |request: axum::http::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let mut request = request.map(Body::new);
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(crate::login::Peer(peer)));
                    tower::ServiceExt::oneshot(app, request).await
                }
            },
        );
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(MAX_HEAD_BYTES);
        match slot {
            Some(slot) => {
                let conn = graceful.watch(builder.serve_connection(TokioIo::new(io), service));
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                    }
                });
            }
            None => {
                tracing::warn!(%peer, max_connections, "refused an HTTP connection: too many connections");
                let busy = hyper::service::service_fn(|_request| async {
                    let mut response = http_error(
                        Status::TooManyConnections,
                        "too many connections; try again later",
                    );
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    Ok::<_, std::convert::Infallible>(response)
                });
                builder.keep_alive(false);
                let conn = builder.serve_connection(TokioIo::new(io), busy);
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(header_timeout, conn).await;
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running at shutdown were cut off");
    }
    Ok(())
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

/// Prometheus text exposition: replication state and lag per source, rows
/// per replicated table.
async fn metrics(State(engine): State<Arc<Engine>>) -> Response {
    use std::fmt::Write;
    let sources = engine.sources().list();
    let label = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let per_source = |f: &dyn Fn(&floe_query::floe_cdc::SourceStatus) -> String| {
        sources
            .iter()
            .map(|v| (format!("source=\"{}\"", label(&v.name)), f(&v.status)))
            .collect::<Vec<_>>()
    };
    family(
        "floe_replication_lag_seconds",
        "gauge",
        "Seconds from the commit of the last applied source transaction to its changes being visible in Floe; 0 when caught up.",
        per_source(&|s| s.lag_seconds.to_string()),
    );
    family(
        "floe_replication_lag_bytes",
        "gauge",
        "Bytes of source WAL not yet confirmed as applied.",
        per_source(&|s| s.lag_bytes().to_string()),
    );
    family(
        "floe_replication_streaming",
        "gauge",
        "1 while the source streams changes, 0 while it connects, copies or retries.",
        per_source(&|s| u8::from(s.state == "streaming").to_string()),
    );
    let per_table = |f: &dyn Fn(&floe_query::floe_cdc::TableStatus) -> u64| {
        sources
            .iter()
            .flat_map(|v| {
                v.status.tables.values().map(|t| {
                    (
                        format!(
                            "source=\"{}\",table=\"{}.{}\"",
                            label(&v.name),
                            label(&t.schema),
                            label(&t.table)
                        ),
                        f(t).to_string(),
                    )
                })
            })
            .collect::<Vec<_>>()
    };
    family(
        "floe_replication_rows_applied_total",
        "counter",
        "Row changes applied from the replication stream.",
        per_table(&|t| t.rows_applied),
    );
    family(
        "floe_replication_rows_snapshotted",
        "gauge",
        "Rows copied by the table's initial snapshot.",
        per_table(&|t| t.rows_snapshotted),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

async fn tables(
    State(engine): State<Arc<Engine>>,
    Extension(who): Extension<Identity>,
) -> Response {
    let mut out = Vec::new();
    for handle in engine.store().all_tables() {
        if !engine
            .auth()
            .can_see_table(&who, &handle.schema_name(), handle.name())
        {
            continue;
        }
        let schema = match handle.arrow_schema() {
            Ok(s) => s,
            Err(e) => return http_query_error(&QueryError::Storage(e)),
        };
        let columns: Vec<Value> = schema
            .fields()
            .iter()
            .map(|f| json!({"name": f.name(), "type": f.data_type().to_string(), "nullable": f.is_nullable()}))
            .collect();
        out.push(
            json!({"schema": handle.schema_name(), "name": handle.name(), "columns": columns}),
        );
    }
    axum::Json(json!({"tables": out})).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Csv,
    Arrow,
}

fn negotiate(headers: &HeaderMap) -> Encoding {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or("").trim();
        match media {
            "text/csv" => return Encoding::Csv,
            ARROW_STREAM => return Encoding::Arrow,
            "application/json" => return Encoding::Json,
            _ => {}
        }
    }
    Encoding::Json
}

async fn sql(
    State(engine): State<Arc<Engine>>,
    Extension(who): Extension<Identity>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = engine.auth().activity().open(who.clone());
    Engine::run_as(who, run_sql(engine, session, headers, body)).await
}

async fn run_sql(
    engine: Arc<Engine>,
    session: floe_query::floe_auth::activity::SessionGuard,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return http_error(
            Status::InvalidParameterValue,
            "request body is not valid UTF-8",
        );
    };
    let statements = match Engine::parse(text) {
        Ok(s) => s,
        Err(e) => return http_query_error(&e),
    };
    if statements.is_empty() {
        return http_error(Status::SyntaxError, "request body holds no SQL statement");
    }
    let mut last = None;
    let mut block = floe_query::transaction::TransactionBlock::default();
    for stmt in statements {
        if let Err(e) = block.check(&stmt) {
            return http_query_error(&e);
        }
        let running = session.begin(stmt.text());
        match engine.execute(stmt).await {
            Ok(out) => {
                running.finish("ok");
                last = Some(out);
            }
            Err(e) => {
                running.finish(e.status().sqlstate());
                return http_query_error(&e);
            }
        }
    }
    let encoding = negotiate(&headers);
    match last.expect("at least one statement ran") {
        Output::Command { tag, rows } => command_response(encoding, tag, rows),
        Output::Rows(df) => {
            let df = *df;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let mut batches = match floe_query::execute_stream(df).await {
                Ok(s) => s,
                Err(e) => return http_query_error(&e.into()),
            };
            // Compute the first batch before answering, so that errors found
            // there get a proper status instead of a cut-off body.
            let first = match batches.next().await {
                Some(Err(e)) => return http_query_error(&e.into()),
                other => other,
            };
            rows_response(encoding, schema, first, batches)
        }
    }
}

fn command_response(encoding: Encoding, tag: &str, rows: Option<u64>) -> Response {
    match encoding {
        Encoding::Csv => {
            let body = match rows {
                Some(n) => format!("count\n{n}\n"),
                None => String::new(),
            };
            ([(header::CONTENT_TYPE, "text/csv")], body).into_response()
        }
        _ => {
            let (columns, data) = match rows {
                Some(n) => (json!([{"name": "count", "type": "UInt64"}]), json!([[n]])),
                None => (json!([]), json!([])),
            };
            axum::Json(json!({"command": tag, "columns": columns, "rows": data})).into_response()
        }
    }
}

type BatchResult = Result<RecordBatch, DataFusionError>;

fn rows_response(
    encoding: Encoding,
    schema: SchemaRef,
    first: Option<BatchResult>,
    rest: SendableRecordBatchStream,
) -> Response {
    let batches = stream::iter(first).chain(rest);
    let (content_type, body) = match encoding {
        Encoding::Json => ("application/json", json_body(schema, batches)),
        Encoding::Csv => ("text/csv", csv_body(batches)),
        Encoding::Arrow => (ARROW_STREAM, arrow_body(schema, batches)),
    };
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn io_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn json_body(
    schema: SchemaRef,
    batches: impl futures::Stream<Item = BatchResult> + Send + 'static,
) -> Body {
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": f.data_type().to_string()}))
        .collect();
    let head = format!("{{\"columns\":{},\"rows\":[", Value::Array(columns));
    let mut first_row = true;
    let rows = batches.map(move |batch| {
        let batch = batch.map_err(io_error)?;
        let mut out = String::new();
        for row in json_rows(&batch).map_err(io_error)? {
            if !first_row {
                out.push(',');
            }
            first_row = false;
            out.push_str(&row.to_string());
        }
        Ok::<_, std::io::Error>(Bytes::from(out))
    });
    let stream = stream::once(async move { Ok(Bytes::from(head)) })
        .chain(rows)
        .chain(stream::once(async { Ok(Bytes::from_static(b"]}")) }));
    Body::from_stream(stream)
}

/// Rows as JSON arrays: numbers and booleans as JSON values, everything
/// else in its text form.
pub fn json_rows(batch: &RecordBatch) -> Result<Vec<Value>, arrow::error::ArrowError> {
    let options = FormatOptions::default();
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let mut row = Vec::with_capacity(batch.num_columns());
        for (c, column) in batch.columns().iter().enumerate() {
            if column.is_null(r) {
                row.push(Value::Null);
                continue;
            }
            let text = formatters[c].value(r).to_string();
            row.push(json_value(column.data_type(), text));
        }
        rows.push(Value::Array(row));
    }
    Ok(rows)
}

fn json_value(ty: &DataType, text: String) -> Value {
    match ty {
        DataType::Boolean => Value::Bool(text == "true"),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64 => serde_json::from_str::<serde_json::Number>(&text)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        _ => Value::String(text),
    }
}

fn csv_body(batches: impl futures::Stream<Item = BatchResult> + Send + 'static) -> Body {
    let mut header = true;
    let stream = batches.map(move |batch| {
        let batch = batch.map_err(io_error)?;
        let mut buf = Vec::new();
        {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(header)
                .build(&mut buf);
            w.write(&batch).map_err(io_error)?;
        }
        header = false;
        Ok::<_, std::io::Error>(Bytes::from(buf))
    });
    Body::from_stream(stream)
}

fn arrow_body(
    schema: SchemaRef,
    batches: impl futures::Stream<Item = BatchResult> + Send + 'static,
) -> Body {
    let writer = match arrow::ipc::writer::StreamWriter::try_new(Vec::new(), &schema) {
        Ok(w) => w,
        Err(e) => {
            return Body::from_stream(stream::once(async move { Err::<Bytes, _>(io_error(e)) }));
        }
    };
    let state = Arc::new(std::sync::Mutex::new(Some(writer)));
    let tail_state = state.clone();
    let body = batches.map(move |batch| {
        let batch = batch.map_err(io_error)?;
        let mut guard = state.lock().map_err(io_error)?;
        let w = guard
            .as_mut()
            .ok_or_else(|| io_error("stream already finished"))?;
        w.write(&batch).map_err(io_error)?;
        Ok::<_, std::io::Error>(Bytes::from(std::mem::take(w.get_mut())))
    });
    let tail = stream::once(async move {
        let mut guard = tail_state.lock().map_err(io_error)?;
        let mut w = guard
            .take()
            .ok_or_else(|| io_error("stream already finished"))?;
        w.finish().map_err(io_error)?;
        Ok::<_, std::io::Error>(Bytes::from(std::mem::take(w.get_mut())))
    });
    Body::from_stream(body.chain(tail))
}

#[cfg(test)]
mod tests;
