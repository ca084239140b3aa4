//! The one place where errors become protocol responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use floe_common::{HasStatus, Status};
use floe_query::QueryError;
use floe_query::datafusion::error::DataFusionError;
use serde_json::json;

/// A PG wire error response for a Floe error.
pub fn pg_error(e: &QueryError) -> PgWireError {
    pg_error_with(e.status(), e.message())
}

/// A PG wire error response with a status and a message.
pub fn pg_error_with(status: Status, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        status.sqlstate().to_string(),
        message,
    )))
}

/// A FATAL PG wire error: the server sends it and closes the connection.
/// `28000` (invalid authorization specification) is the SQLSTATE
/// PostgreSQL uses when `pg_hba.conf` refuses a connection.
pub fn pg_fatal(sqlstate: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(fatal_info(sqlstate, message)))
}

/// The body of a FATAL error response.
pub fn fatal_info(sqlstate: &str, message: String) -> ErrorInfo {
    ErrorInfo::new("FATAL".to_string(), sqlstate.to_string(), message)
}

/// A PG wire error response for an error raised while streaming rows.
pub fn pg_stream_error(e: DataFusionError) -> PgWireError {
    pg_error(&QueryError::DataFusion(e))
}

/// The JSON body of an HTTP error.
pub fn http_body(status: Status, message: &str) -> serde_json::Value {
    json!({"error": {"code": status.sqlstate(), "message": message}})
}

/// An HTTP error response: the status's HTTP code and a JSON body naming
/// the SQLSTATE. Overload answers tell the client when to retry.
pub fn http_error(status: Status, message: &str) -> Response {
    let code =
        StatusCode::from_u16(status.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, axum::Json(http_body(status, message))).into_response();
    if status == Status::InsufficientResources {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    response
}

/// An HTTP error response for a body that cannot be ingested.
pub fn http_ingest_error(e: &floe_ingest::IngestError) -> Response {
    http_error(e.status(), &e.to_string())
}

/// An HTTP error response for a Floe error.
pub fn http_query_error(e: &QueryError) -> Response {
    http_error(e.status(), &e.message())
}
