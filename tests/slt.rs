//! The two sqllogictest drivers: one executes through the engine in
//! process, the other sends the same text over the PG wire protocol.

use std::sync::Arc;

use async_trait::async_trait;
use floe_common::HasStatus;
use floe_query::{Engine, Output};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

/// An error as SQL logic tests see it: `SQLSTATE: message`, on both drivers.
#[derive(Debug)]
pub struct SltError(pub String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

fn cell(v: Option<String>) -> String {
    match v {
        None => "NULL".to_string(),
        Some(s) if s.is_empty() => "(empty)".to_string(),
        Some(s) => s,
    }
}

/// Runs statements through the engine directly.
pub struct InProcess {
    /// The engine.
    pub engine: Arc<Engine>,
    /// The session's transaction block, as a PG connection would track it.
    pub block: floe_query::transaction::TransactionBlock,
    /// The session's time zone (`SET TIME ZONE`), as a PG connection keeps it.
    pub zone: floe_query::zone::SessionZone,
}

#[async_trait]
impl AsyncDB for InProcess {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let fail = |e: floe_query::QueryError| {
            SltError(format!("{}: {}", e.status().sqlstate(), e.message()))
        };
        let mut last = DBOutput::StatementComplete(0);
        for stmt in Engine::parse(sql).map_err(fail)? {
            self.block.check(&stmt).map_err(fail)?;
            if let Some(change) = stmt.sql().and_then(floe_query::zone::zone_statement) {
                self.zone = change.map_err(fail)?.zone();
                last = DBOutput::StatementComplete(0);
                continue;
            }
            let zone = self.zone.clone();
            let output = floe_query::zone::scope(zone.clone(), self.engine.execute(stmt));
            last = match output.await.map_err(fail)? {
                Output::Command { rows, .. } => DBOutput::StatementComplete(rows.unwrap_or(0)),
                Output::Rows(df) => {
                    let df = *df;
                    let width = df.schema().fields().len();
                    let batches = df.collect().await.map_err(|e| fail(e.into()))?;
                    let tz = floe_query::zone::arrow_zone(zone.arrow())
                        .map_err(|e| SltError(e.to_string()))?;
                    let rows = crate::render::rows(&batches, &tz)
                        .into_iter()
                        .map(|r| r.into_iter().map(cell).collect())
                        .collect();
                    DBOutput::Rows {
                        types: vec![DefaultColumnType::Any; width],
                        rows,
                    }
                }
            };
        }
        Ok(last)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "floe-in-process"
    }
}

/// Sends statements over the PG wire protocol (simple query protocol).
pub struct PgWire {
    /// The client.
    pub client: tokio_postgres::Client,
}

#[async_trait]
impl AsyncDB for PgWire {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        use tokio_postgres::SimpleQueryMessage;
        let messages = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) => SltError(format!("{}: {}", db.code().code(), db.message())),
                None => SltError(format!("XX000: {e}")),
            })?;
        let mut rows = Vec::new();
        let mut width = None;
        let mut last = DBOutput::StatementComplete(0);
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => width = Some(cols.len()),
                SimpleQueryMessage::Row(row) => {
                    width = Some(row.len());
                    rows.push(
                        (0..row.len())
                            .map(|i| cell(row.get(i).map(trim_fraction)))
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => {
                    last = match width.take() {
                        Some(w) => DBOutput::Rows {
                            types: vec![DefaultColumnType::Any; w],
                            rows: std::mem::take(&mut rows),
                        },
                        None => DBOutput::StatementComplete(n),
                    };
                }
                _ => {}
            }
        }
        Ok(last)
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "floe-pg-wire"
    }
}

/// The PG wire endpoint prints timestamps with six fractional digits
/// (`12:34:56.789000`); PostgreSQL and the in-process renderer print only
/// the significant ones (`12:34:56.789`). Trailing zeros are trimmed so the
/// two drivers compare equal.
fn trim_fraction(text: &str) -> String {
    let bytes = text.as_bytes();
    let looks_like_time = bytes.len() >= 19
        && bytes.get(10) == Some(&b' ')
        && bytes.get(13) == Some(&b':')
        && bytes.get(16) == Some(&b':');
    if !looks_like_time || bytes.get(19) != Some(&b'.') {
        return text.to_string();
    }
    let (head, rest) = text.split_at(20);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        format!("{}{tail}", &head[..19])
    } else {
        format!("{head}{digits}{tail}")
    }
}
