//! Ordinary SQL connections to a source (the replication connection is
//! `proto`'s), and how their errors become [`CdcError`]s.

use tokio_postgres::NoTls;

use crate::error::{CdcError, Result};
use crate::proto::PgConfig;

/// A failed SQL command on the source, with its SQLSTATE when the
/// server sent one.
pub(crate) fn sql_error(source: &str, command: &str, e: tokio_postgres::Error) -> CdcError {
    match e.as_db_error() {
        Some(db) => CdcError::Server {
            source_name: source.to_string(),
            command: command.to_string(),
            sqlstate: db.code().code().to_string(),
            message: db.message().to_string(),
        },
        None => CdcError::Protocol {
            source_name: source.to_string(),
            reason: format!("{command}: {e}"),
        },
    }
}

/// An ordinary SQL connection to the source, over a stream secured as
/// the connection string's `sslmode` says.
pub(crate) async fn sql_connect(config: &PgConfig, source: &str) -> Result<tokio_postgres::Client> {
    let stream = crate::proto::open_stream(config, source).await?;
    let (client, connection) = config
        .sql_config()
        .connect_raw(stream, NoTls)
        .await
        .map_err(|e| match e.as_db_error() {
            Some(_) => sql_error(source, "connecting", e),
            None => CdcError::Connect {
                source_name: source.to_string(),
                address: config.address(),
                reason: e.to_string(),
            },
        })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
