//! `POST /v1/tables/{schema}.{table}/rows`: event ingestion over HTTP.
//!
//! The body (NDJSON, a JSON array, CSV with a header or an Arrow IPC
//! stream; optionally gzip or zstd) is decoded against the table's schema
//! and appended through the write-ahead log. The response comes only once
//! the rows are durable, and they are visible to every query after it.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use floe_common::{HasStatus, Status};
use floe_ingest::decode::{self, Format, MAX_REPORTED};
use floe_ingest::values::type_name;
use floe_query::names::{quoted, split_qualified};
use floe_query::{Engine, QueryError};
use floe_storage::{Appended, TableHandle};
use serde_json::{Value, json};

use crate::errors::{http_error, http_ingest_error, http_query_error};

/// Largest request body accepted, before and after decompression.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Longest accepted `Idempotency-Key`.
pub const MAX_KEY_BYTES: usize = 200;

/// Table property: `true` lets ingested rows add columns for new fields.
pub const ADD_COLUMNS: &str = "floe.ingest.add-columns";

/// Suffix of the companion table that keeps rows rejected with `on_error=skip`.
pub const REJECTED_SUFFIX: &str = "_rejected";

/// Query parameters of the rows endpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RowsParams {
    /// `auto`: create a missing table from the body's inferred schema.
    pub create: Option<String>,
    /// `abort` (default): reject the whole request if any row is bad;
    /// `skip`: write the good rows and keep the bad ones in `<table>_rejected`.
    pub on_error: Option<String>,
}

/// The handler.
pub async fn ingest(
    State(engine): State<Arc<Engine>>,
    axum::extract::Extension(who): axum::extract::Extension<floe_query::floe_auth::Identity>,
    Path(name): Path<String>,
    Query(params): Query<RowsParams>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    Engine::run_as(
        who.clone(),
        ingest_as(engine, who, name, params, headers, body),
    )
    .await
}

async fn ingest_as(
    engine: Arc<Engine>,
    who: floe_query::floe_auth::Identity,
    name: String,
    params: RowsParams,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (schema, table) = split_qualified(&name);
    let skip = match params.on_error.as_deref() {
        None | Some("abort") => false,
        Some("skip") => true,
        Some(other) => {
            return http_error(
                Status::InvalidParameterValue,
                &format!("on_error must be abort or skip, not \"{other}\""),
            );
        }
    };
    let create = match params.create.as_deref() {
        None | Some("never") => false,
        Some("auto") => true,
        Some(other) => {
            return http_error(
                Status::InvalidParameterValue,
                &format!("create must be auto or never, not \"{other}\""),
            );
        }
    };
    let header_str = |h| headers.get(h).and_then(|v| v.to_str().ok());
    if let Some(len) = header_str(header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok())
        && len > MAX_BODY_BYTES
    {
        return http_ingest_error(&floe_ingest::IngestError::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let format = match Format::from_content_type(header_str(header::CONTENT_TYPE)) {
        Ok(f) => f,
        Err(e) => return http_ingest_error(&e),
    };
    let raw = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return http_ingest_error(&floe_ingest::IngestError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
    };
    let body = match decode::decompress(header_str(header::CONTENT_ENCODING), &raw, MAX_BODY_BYTES)
    {
        Ok(b) => b,
        Err(e) => return http_ingest_error(&e),
    };

    if let Some(e) = engine.store().unavailable(&schema, &table) {
        return http_query_error(&QueryError::Storage(e));
    }
    let existing = engine.store().table(&schema, &table);
    let allowed = match &existing {
        Some(_) => engine.auth().check_table(
            &who,
            floe_query::floe_auth::Privilege::Insert,
            &schema,
            &table,
        ),
        None if create => engine.auth().require_superuser(&who, "create tables"),
        None => Ok(()),
    };
    if let Err(e) = allowed {
        return http_error(e.status(), &e.to_string());
    }
    let handle = match existing {
        Some(h) => h,
        None if create => match create_table(&engine, &schema, &table, format, &body).await {
            Ok(h) => h,
            Err(resp) => return resp,
        },
        None => {
            return http_query_error(&QueryError::Storage(
                floe_storage::StorageError::NoSuchTable { schema, table },
            ));
        }
    };
    let target = match handle.arrow_schema() {
        Ok(s) => s,
        Err(e) => return http_query_error(&QueryError::Storage(e)),
    };
    let evolve = handle
        .table()
        .metadata()
        .properties()
        .get(ADD_COLUMNS)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut extra = Vec::new();
    let mut decoded = match decode::decode(format, &body, &target, evolve.then_some(&mut extra)) {
        Ok(d) => d,
        Err(e) => return http_ingest_error(&e),
    };
    if !extra.is_empty() {
        // Schema evolution: new fields become new nullable columns.
        if let Err(resp) = add_columns(&engine, &handle, &extra).await {
            return resp;
        }
        let target = match handle.arrow_schema() {
            Ok(s) => s,
            Err(e) => return http_query_error(&QueryError::Storage(e)),
        };
        decoded = match decode::decode(format, &body, &target, None) {
            Ok(d) => d,
            Err(e) => return http_ingest_error(&e),
        };
    }
    if !decoded.rejected.is_empty() && !skip {
        return rejected_response(format, &decoded.rejected);
    }
    let idempotency_key =
        header_str(header::HeaderName::from_static("idempotency-key")).map(str::to_string);
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > MAX_KEY_BYTES)
    {
        return http_error(
            Status::InvalidParameterValue,
            &format!("Idempotency-Key must be 1 to {MAX_KEY_BYTES} bytes"),
        );
    }
    let written = match &idempotency_key {
        Some(key) => handle.append_buffered_once(&[decoded.batch], key).await,
        None => handle
            .append_buffered(&[decoded.batch])
            .await
            .map(Appended::Written),
    };
    let accepted = match written {
        Ok(Appended::Written(n)) => n,
        Ok(Appended::Duplicate(n)) => {
            return axum::Json(json!({
                "table": format!("{}.{}", handle.schema_name(), handle.name()),
                "accepted": n,
                "rejected": 0,
                "duplicate": true,
            }))
            .into_response();
        }
        Err(e) => return http_query_error(&QueryError::Storage(e)),
    };
    let rejected = decoded.rejected.len();
    if rejected > 0
        && let Err(resp) = keep_rejected(&engine, &handle, format, &decoded.rejected).await
    {
        return resp;
    }
    axum::Json(json!({
        "table": format!("{}.{}", handle.schema_name(), handle.name()),
        "accepted": accepted,
        "rejected": rejected,
    }))
    .into_response()
}

fn rejected_response(format: Format, rejected: &[decode::Rejected]) -> Response {
    let word = format.row_word();
    let rows: Vec<Value> = rejected
        .iter()
        .take(MAX_REPORTED)
        .map(|r| json!({word: r.row, "field": r.field, "reason": r.reason}))
        .collect();
    let status = Status::InvalidTextRepresentation;
    let mut body = crate::errors::http_body(status, &decode::describe(format, rejected));
    body["error"]["rejected"] = Value::Array(rows);
    body["error"]["rejected_count"] = json!(rejected.len());
    let code = axum::http::StatusCode::from_u16(status.http_status())
        .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (code, axum::Json(body)).into_response()
}

/// Creates `schema.table` from the body's inferred schema (`?create=auto`).
async fn create_table(
    engine: &Engine,
    schema: &str,
    table: &str,
    format: Format,
    body: &[u8],
) -> Result<Arc<TableHandle>, Response> {
    let inferred = decode::infer_schema(format, body).map_err(|e| http_ingest_error(&e))?;
    let columns: Vec<String> = inferred
        .fields()
        .iter()
        .map(|f| format!("{} {}", quoted(f.name()), sql_type(f.data_type())))
        .collect();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {}.{} ({})",
        quoted(schema),
        quoted(table),
        columns.join(", ")
    );
    engine
        .execute_sql(&sql)
        .await
        .map_err(|e| http_query_error(&e))?;
    engine.store().table(schema, table).ok_or_else(|| {
        http_error(
            Status::Internal,
            &format!("table {schema}.{table} vanished after it was created"),
        )
    })
}

/// Adds nullable columns for fields a body brought that the table lacks.
async fn add_columns(
    engine: &Engine,
    handle: &TableHandle,
    fields: &[Field],
) -> Result<(), Response> {
    for field in fields {
        let sql = format!(
            "ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS {} {}",
            quoted(&handle.schema_name()),
            quoted(handle.name()),
            quoted(field.name()),
            sql_type(field.data_type())
        );
        // IF NOT EXISTS: a concurrent request may have added it first.
        engine
            .execute_sql(&sql)
            .await
            .map_err(|e| http_query_error(&e))?;
    }
    Ok(())
}

fn sql_type(ty: &DataType) -> String {
    match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Int8 | DataType::Int16 => "SMALLINT".into(),
        DataType::UInt8 | DataType::UInt16 | DataType::Int32 => "INT".into(),
        DataType::UInt32 | DataType::UInt64 | DataType::Int64 => "BIGINT".into(),
        DataType::Float16 | DataType::Float32 => "REAL".into(),
        other => type_name(other).to_uppercase(),
    }
}

/// Writes rejected rows with their reasons to `<table>_rejected`.
async fn keep_rejected(
    engine: &Engine,
    handle: &TableHandle,
    format: Format,
    rejected: &[decode::Rejected],
) -> Result<(), Response> {
    let schema = handle.schema_name();
    let name = format!("{}{REJECTED_SUFFIX}", handle.name());
    let companion = match engine.store().table(&schema, &name) {
        Some(h) => h,
        None => {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {}.{} (received_at TIMESTAMPTZ, format TEXT, \"row\" BIGINT, field TEXT, reason TEXT, raw TEXT)",
                quoted(&schema),
                quoted(&name)
            );
            engine
                .execute_sql(&sql)
                .await
                .map_err(|e| http_query_error(&e))?;
            engine.store().table(&schema, &name).ok_or_else(|| {
                http_error(Status::Internal, "companion table vanished after creation")
            })?
        }
    };
    let now = chrono_now_micros();
    let n = rejected.len();
    let batch_schema: SchemaRef = Arc::new(Schema::new(vec![
        Field::new(
            "received_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            true,
        ),
        Field::new("format", DataType::Utf8, true),
        Field::new("row", DataType::Int64, true),
        Field::new("field", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, true),
        Field::new("raw", DataType::Utf8, true),
    ]));
    let format_name = match format {
        Format::Ndjson => "ndjson",
        Format::JsonArray => "json",
        Format::Csv => "csv",
        Format::ArrowIpc => "arrow",
    };
    let batch = RecordBatch::try_new(
        batch_schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("+00:00")),
            Arc::new(StringArray::from(vec![format_name; n])),
            Arc::new(Int64Array::from_iter_values(
                rejected.iter().map(|r| r.row as i64),
            )),
            Arc::new(StringArray::from_iter(
                rejected.iter().map(|r| r.field.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                rejected.iter().map(|r| r.reason.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                rejected.iter().map(|r| r.raw.as_str()),
            )),
        ],
    )
    .map_err(|e| http_error(Status::Internal, &e.to_string()))?;
    companion
        .append_buffered(&[batch])
        .await
        .map_err(|e| http_query_error(&QueryError::Storage(e)))?;
    Ok(())
}

fn chrono_now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
