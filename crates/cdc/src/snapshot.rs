//! Table syncs: the consistent initial copy of source tables.
//!
//! A sync creates a temporary replication slot that exports a snapshot,
//! copies every table it syncs inside that snapshot (`COPY ... TO STDOUT`,
//! text format) and commits each table's rows in one Floe snapshot that
//! also records the slot's consistent point `P` as the table's applied
//! LSN. The source's own slot was created earlier, so its stream holds
//! every transaction committed at or after `P`; the stream applies a
//! table's transactions only from its applied LSN on. The copy and the
//! stream therefore meet with no gap and no duplicate.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use floe_storage::{Store, TableDefinition, TableHandle};
use futures::StreamExt;
use iceberg::spec::{NestedField, Schema, Type};

use crate::connect::{sql_connect, sql_error};
use crate::error::{CdcError, Result};
use crate::props;
use crate::proto::{PgConfig, ReplConn, parse_lsn, quote_ident, quote_literal};
use crate::source::{Shared, SourceSpec, TableStatus, sync_slot};
use crate::types::{TextColumns, finish_text, iceberg_type};

/// Rows per converted batch during a copy.
const COPY_BATCH_ROWS: usize = 64 * 1024;

/// A column of a source table.
#[derive(Debug, Clone)]
pub(crate) struct ColumnDesc {
    pub name: String,
    /// Base type (domains resolved) and type modifier.
    pub type_oid: u32,
    pub type_mod: i32,
    /// Part of the primary key.
    pub key: bool,
    /// Position in the source catalog; stays the same across a rename.
    pub attnum: i16,
}

/// A source table's columns as its catalog describes them.
#[derive(Debug, Clone)]
pub(crate) struct TableDesc {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDesc>,
    /// The planner's row estimate.
    pub estimate: u64,
}

impl TableDesc {
    pub(crate) fn upstream(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Resolves domains to their base type (and the domain's modifier).
pub(crate) async fn base_type(
    client: &tokio_postgres::Client,
    source: &str,
    mut oid: u32,
    mut type_mod: i32,
) -> Result<(u32, i32)> {
    for _ in 0..16 {
        if crate::types::oid::BUILTIN.contains(&oid) {
            break;
        }
        let rows = client
            .query(
                "SELECT typtype::text, typbasetype, typtypmod FROM pg_type WHERE oid = $1",
                &[&oid],
            )
            .await
            .map_err(|e| sql_error(source, "reading pg_type", e))?;
        let Some(row) = rows.first() else {
            break;
        };
        let kind: String = row.get(0);
        if kind != "d" {
            break;
        }
        oid = row.get(1);
        let domain_mod: i32 = row.get(2);
        if domain_mod >= 0 {
            type_mod = domain_mod;
        }
    }
    Ok((oid, type_mod))
}

/// Reads a table's columns, primary key and row estimate.
pub(crate) async fn describe(
    client: &tokio_postgres::Client,
    source: &str,
    schema: &str,
    name: &str,
) -> Result<TableDesc> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod,
                    COALESCE(a.attnum = ANY(i.indkey), false), a.attnum
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[&schema, &name],
        )
        .await
        .map_err(|e| sql_error(source, "describing a table", e))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        let (oid, type_mod) = base_type(client, source, row.get(1), row.get(2)).await?;
        columns.push(ColumnDesc {
            name: row.get(0),
            type_oid: oid,
            type_mod,
            key: row.get(3),
            attnum: row.get(4),
        });
    }
    let estimate = client
        .query(
            "SELECT GREATEST(c.reltuples, 0)::int8 FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await
        .map_err(|e| sql_error(source, "describing a table", e))?
        .first()
        .map(|r| r.get::<_, i64>(0).max(0) as u64)
        .unwrap_or(0);
    Ok(TableDesc {
        schema: schema.to_string(),
        name: name.to_string(),
        columns,
        estimate,
    })
}

/// The Iceberg schema of a source table: key columns required, the rest optional.
pub(crate) fn iceberg_schema(desc: &TableDesc) -> Result<Schema> {
    let mut fields = Vec::with_capacity(desc.columns.len());
    let mut keys = Vec::new();
    for (i, c) in desc.columns.iter().enumerate() {
        let id = i as i32 + 1;
        let ty = Type::Primitive(iceberg_type(c.type_oid, c.type_mod));
        fields.push(if c.key {
            keys.push(id);
            NestedField::required(id, &c.name, ty).into()
        } else {
            NestedField::optional(id, &c.name, ty).into()
        });
    }
    Schema::builder()
        .with_fields(fields)
        .with_identifier_field_ids(keys)
        .build()
        .map_err(|e| CdcError::Unsupported {
            source_name: String::new(),
            table: desc.upstream(),
            reason: e.message().to_string(),
        })
}

/// The `floe.cdc.attnums` property: each column's source attribute number.
pub(crate) fn attnums<'a>(columns: impl Iterator<Item = (&'a str, i16)>) -> String {
    let map: serde_json::Map<String, serde_json::Value> = columns
        .map(|(n, a)| (n.to_string(), serde_json::Value::from(a)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Whether two schemas have the same columns (names, types, optionality,
/// order) and the same key, whatever their field ids.
pub(crate) fn same_columns(a: &Schema, b: &Schema) -> bool {
    let columns = |s: &Schema| -> Vec<(String, Type, bool)> {
        s.as_struct()
            .fields()
            .iter()
            .map(|f| (f.name.clone(), f.field_type.as_ref().clone(), f.required))
            .collect()
    };
    let keys = |s: &Schema| -> Vec<String> {
        let mut names: Vec<String> = s
            .identifier_field_ids()
            .filter_map(|id| s.field_by_id(id).map(|f| f.name.clone()))
            .collect();
        names.sort();
        names
    };
    columns(a) == columns(b) && keys(a) == keys(b)
}

/// The Floe table a source table is copied into: the existing one of this
/// source when its columns already match (the copy then replaces its rows
/// in one commit, so a copy that fails leaves the rows it had), else a
/// new one in its place.
async fn create_target(
    store: &Store,
    spec: &SourceSpec,
    desc: &TableDesc,
) -> Result<Arc<TableHandle>> {
    let (schema, table) = spec.target(&desc.schema, &desc.name);
    let wanted = iceberg_schema(desc).map_err(|e| match e {
        CdcError::Unsupported { table, reason, .. } => CdcError::Unsupported {
            source_name: spec.name.clone(),
            table,
            reason,
        },
        other => other,
    })?;
    if !store.schema_exists(&schema) {
        store.create_schema(&schema, true).await?;
    }
    if let Some(existing) = store.table(&schema, &table) {
        let (owner, id) = {
            let t = existing.table();
            let p = t.metadata().properties();
            (
                p.get(props::SOURCE).cloned(),
                p.get(props::SOURCE_ID).cloned(),
            )
        };
        if owner.as_deref() != Some(spec.name.as_str()) {
            return Err(CdcError::Unsupported {
                source_name: spec.name.clone(),
                table: desc.upstream(),
                reason: format!(
                    "Floe table {schema}.{table} exists and is not replicated from this source; drop it or use INTO SCHEMA"
                ),
            });
        }
        let reusable = id.as_deref() == Some(spec.id.as_str())
            && same_columns(existing.table().metadata().current_schema(), &wanted);
        if reusable {
            return Ok(existing);
        }
        store.drop_table(&schema, &table, true).await?;
    }
    let properties = HashMap::from([
        (props::SOURCE.to_string(), spec.name.clone()),
        (props::SOURCE_ID.to_string(), spec.id.clone()),
        (props::RELATION.to_string(), desc.upstream()),
        (props::SYNCED.to_string(), "false".to_string()),
        (
            props::ATTNUMS.to_string(),
            attnums(desc.columns.iter().map(|c| (c.name.as_str(), c.attnum))),
        ),
        // Replication commits often; keep ten minutes of history, not an hour.
        (
            floe_storage::MAX_SNAPSHOT_AGE_MS.to_string(),
            "600000".to_string(),
        ),
    ]);
    let definition = TableDefinition {
        schema: wanted,
        partition_spec: None,
        sort_order: None,
        properties,
    };
    store
        .create_table(&schema, &table, definition, false)
        .await?
        .ok_or_else(|| CdcError::Unsupported {
            source_name: spec.name.clone(),
            table: desc.upstream(),
            reason: format!("Floe table {schema}.{table} was created concurrently"),
        })
}

/// What a sync did.
#[derive(Default)]
pub(crate) struct Synced {
    /// The Floe tables synced, by upstream name.
    pub tables: Vec<(String, Arc<TableHandle>)>,
    /// Tables that could not be copied as they are (a value that does not
    /// convert, a table Floe cannot hold), by upstream name, with why.
    pub failed: Vec<(String, CdcError)>,
}

/// Whether an error concerns one table only (the others can go on).
pub(crate) fn table_error(e: &CdcError) -> bool {
    matches!(
        e,
        CdcError::InvalidValue { .. }
            | CdcError::IncompatibleChange { .. }
            | CdcError::Unsupported { .. }
    )
}

/// Copies `tables` (schema, name) consistently; each becomes a synced Floe
/// table whose applied LSN is the sync's consistent point. Tables without
/// a primary key are refused (their status says why); a table whose copy
/// fails for a reason of its own is reported in `failed` and the others
/// are copied.
pub(crate) async fn sync_tables(
    store: &Store,
    shared: &Shared,
    config: &PgConfig,
    tables: &[(String, String)],
) -> Result<Synced> {
    let spec = &shared.spec;
    let source = spec.name.as_str();
    let mut repl = ReplConn::connect(config, source).await?;
    let created = repl
        .simple_query(&format!(
            "CREATE_REPLICATION_SLOT {} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT",
            quote_ident(&sync_slot(spec))
        ))
        .await?;
    let row = created.first().ok_or_else(|| CdcError::Protocol {
        source_name: source.to_string(),
        reason: "CREATE_REPLICATION_SLOT returned no row".into(),
    })?;
    let point = row
        .get(1)
        .cloned()
        .flatten()
        .and_then(|t| parse_lsn(&t))
        .ok_or_else(|| CdcError::Protocol {
            source_name: source.to_string(),
            reason: "CREATE_REPLICATION_SLOT returned no consistent point".into(),
        })?;
    let snapshot = row.get(2).cloned().flatten().unwrap_or_default();

    let client = sql_connect(config, source).await?;
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            quote_literal(&snapshot)
        ))
        .await
        .map_err(|e| sql_error(source, "importing the snapshot", e))?;

    let mut synced = Synced::default();
    for (schema, name) in tables {
        let desc = describe(&client, source, schema, name).await?;
        let upstream = desc.upstream();
        let (floe_schema, floe_table) = spec.target(schema, name);
        {
            let mut status = shared.status();
            status.tables.insert(
                upstream.clone(),
                TableStatus {
                    upstream: upstream.clone(),
                    schema: floe_schema.clone(),
                    table: floe_table.clone(),
                    state: "snapshotting".into(),
                    rows_estimated: desc.estimate,
                    ..Default::default()
                },
            );
        }
        if !desc.columns.iter().any(|c| c.key) {
            let reason = format!(
                "{upstream} has no primary key; add one (ALTER TABLE {} ADD PRIMARY KEY (...)) to replicate it",
                quote_ident(name)
            );
            tracing::warn!(source, table = %upstream, "{reason}");
            let mut status = shared.status();
            if let Some(t) = status.tables.get_mut(&upstream) {
                t.state = "refused".into();
                t.last_error = Some(reason);
            }
            continue;
        }
        let copied = match create_target(store, spec, &desc).await {
            Ok(handle) => copy_table(&client, shared, &handle, &desc, point)
                .await
                .map(|rows| (handle, rows)),
            Err(e) => Err(e),
        };
        let (handle, rows) = match copied {
            Ok(copied) => copied,
            Err(e) if table_error(&e) => {
                tracing::warn!(source, table = %upstream, error = %e, "the table could not be copied");
                synced.failed.push((upstream, e));
                continue;
            }
            Err(e) => return Err(e),
        };
        tracing::info!(source, table = %upstream, rows, lsn = %crate::proto::format_lsn(point),
            "initial snapshot copied");
        let mut status = shared.status();
        if let Some(t) = status.tables.get_mut(&upstream) {
            t.state = "streaming".into();
            t.applied_lsn = point;
            t.rows_snapshotted = rows;
        }
        synced.tables.push((upstream, handle));
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| sql_error(source, "ending the snapshot", e))?;
    drop(repl);
    Ok(synced)
}

/// Copies one table inside the imported snapshot and commits it with
/// applied LSN `point`.
async fn copy_table(
    client: &tokio_postgres::Client,
    shared: &Shared,
    handle: &Arc<TableHandle>,
    desc: &TableDesc,
    point: u64,
) -> Result<u64> {
    let source = shared.spec.name.as_str();
    let upstream = desc.upstream();
    let columns: Vec<String> = desc.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "COPY (SELECT {} FROM {}.{}) TO STDOUT",
        columns.join(", "),
        quote_ident(&desc.schema),
        quote_ident(&desc.name)
    );
    let stream = client
        .copy_out(sql.as_str())
        .await
        .map_err(|e| sql_error(source, "COPY", e))?;
    futures::pin_mut!(stream);
    let change = handle.begin().await?;
    let mut append = change.append()?;
    let mut text = TextColumns::new(handle.arrow_schema()?);
    let mut carry: Vec<u8> = Vec::new();
    let mut total = 0u64;
    let mut line_no = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(|e| sql_error(source, "COPY", e))?;
        carry.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = carry[start..].iter().position(|&b| b == b'\n') {
            line_no += 1;
            add_copy_line(
                &mut text,
                &carry[start..start + end],
                &upstream,
                source,
                line_no,
            )?;
            start += end + 1;
        }
        carry.drain(..start);
        if text.rows() >= COPY_BATCH_ROWS {
            total += text.rows() as u64;
            let batch = finish_text(&mut text, source, &upstream)?;
            append.write(batch).await?;
            if let Some(t) = shared.status().tables.get_mut(&upstream) {
                t.rows_snapshotted = total;
            }
        }
    }
    if text.rows() > 0 {
        total += text.rows() as u64;
        let batch = finish_text(&mut text, source, &upstream)?;
        append.write(batch).await?;
    }
    change
        .commit_replace(
            append,
            &[
                (props::LSN, point.to_string()),
                (props::SYNCED, "true".to_string()),
                (
                    props::ATTNUMS,
                    attnums(desc.columns.iter().map(|c| (c.name.as_str(), c.attnum))),
                ),
            ],
        )
        .await?;
    // Every change streamed after the copy looks its key up in it: index
    // the keys now, so the first ones do not wait for it.
    handle.index_keys().await?;
    Ok(total)
}

/// Adds one line of COPY text format: tab-separated, `\N` for NULL,
/// backslash escapes.
fn add_copy_line(
    text: &mut TextColumns,
    line: &[u8],
    upstream: &str,
    source: &str,
    line_no: u64,
) -> Result<()> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    let expected = text.width();
    if fields.len() != expected {
        return Err(CdcError::Protocol {
            source_name: source.to_string(),
            reason: format!(
                "COPY of {upstream}, line {line_no}: {} fields where {expected} were expected",
                fields.len()
            ),
        });
    }
    for (i, field) in fields.into_iter().enumerate() {
        let builder = text.column(i);
        if field == b"\\N" {
            builder.append_null();
        } else if !field.contains(&b'\\') {
            builder.append_value(String::from_utf8_lossy(field));
        } else {
            builder.append_value(unescape(field));
        }
    }
    text.end_row();
    Ok(())
}

/// Undoes COPY text-format escaping.
pub(crate) fn unescape(field: &[u8]) -> String {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b != b'\\' || i + 1 == field.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let next = field[i + 1];
        i += 2;
        match next {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(next - b'0');
                let mut n = 1;
                while n < 3 && i < field.len() && (b'0'..=b'7').contains(&field[i]) {
                    v = v * 8 + u32::from(field[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < field.len() && field[i].is_ascii_hexdigit() {
                    v = v * 16 + (field[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
