//! What replication needs on the source server: the publication and the
//! slot, created when a source is defined or its worker connects, and
//! dropped with the source.

use std::time::Duration;

use crate::connect::{sql_connect, sql_error};
use crate::error::{CdcError, Result};
use crate::proto::{PgConfig, ReplConn, quote_ident};
use crate::source::{SourceSpec, create_publication_sql};

/// Checks the source server and creates what replication needs there:
/// `wal_level = logical`, the publication (when Floe owns it) and the
/// slot. Returns whether the slot had to be created.
pub(crate) async fn prepare_source(config: &PgConfig, spec: &SourceSpec) -> Result<bool> {
    let source = spec.name.as_str();
    let client = sql_connect(config, source).await?;
    let level: String = client
        .query_one("SELECT current_setting('wal_level')", &[])
        .await
        .map_err(|e| sql_error(source, "reading wal_level", e))?
        .get(0);
    if level != "logical" {
        return Err(CdcError::InvalidOption {
            source_name: source.to_string(),
            option: "wal_level".into(),
            reason: format!(
                "the source has wal_level = {level}; set wal_level = logical in postgresql.conf and restart PostgreSQL"
            ),
        });
    }
    let exists = !client
        .query(
            "SELECT 1 FROM pg_publication WHERE pubname = $1",
            &[&spec.publication],
        )
        .await
        .map_err(|e| sql_error(source, "reading pg_publication", e))?
        .is_empty();
    if !exists {
        if spec.owns_publication {
            client
                .batch_execute(&create_publication_sql(spec))
                .await
                .map_err(|e| sql_error(source, "CREATE PUBLICATION", e))?;
        } else {
            return Err(CdcError::InvalidOption {
                source_name: source.to_string(),
                option: "PUBLICATION".into(),
                reason: format!(
                    "publication \"{}\" does not exist on the source",
                    spec.publication
                ),
            });
        }
    }
    let has_slot = !client
        .query(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
            &[&spec.slot],
        )
        .await
        .map_err(|e| sql_error(source, "reading pg_replication_slots", e))?
        .is_empty();
    if !has_slot {
        let mut repl = ReplConn::connect(config, source).await?;
        repl.simple_query(&format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput NOEXPORT_SNAPSHOT",
            quote_ident(&spec.slot)
        ))
        .await?;
    }
    Ok(!has_slot)
}

/// Drops the source's slot and, if Floe created it, its publication.
pub(crate) async fn drop_upstream(spec: &SourceSpec) -> Result<()> {
    let source = spec.name.as_str();
    let config = spec.config()?;
    let client = sql_connect(&config, source).await?;
    // A walsender that has not noticed the worker left yet holds the slot.
    for _ in 0..50 {
        let active: Vec<bool> = client
            .query(
                "SELECT active FROM pg_replication_slots WHERE slot_name = $1",
                &[&spec.slot],
            )
            .await
            .map_err(|e| sql_error(source, "reading pg_replication_slots", e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        match active.first() {
            None => break,
            Some(false) => {
                client
                    .query("SELECT pg_drop_replication_slot($1)", &[&spec.slot])
                    .await
                    .map_err(|e| sql_error(source, "dropping the replication slot", e))?;
                break;
            }
            Some(true) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    if spec.owns_publication {
        client
            .batch_execute(&format!(
                "DROP PUBLICATION IF EXISTS {}",
                quote_ident(&spec.publication)
            ))
            .await
            .map_err(|e| sql_error(source, "DROP PUBLICATION", e))?;
    }
    Ok(())
}
