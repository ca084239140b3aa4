//! Applying source changes to a Floe table: the net effect of a run of
//! transactions per primary key, committed as one snapshot; and following
//! the source's schema (Iceberg schema evolution).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::{concat_batches, interleave};
use arrow::datatypes::{Schema as ArrowSchema, SchemaRef};
use arrow::row::{RowConverter, SortField};
use floe_storage::TableHandle;
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};

use crate::error::{CdcError, Result};
use crate::pgoutput::{Relation, Value};
use crate::props;
use crate::snapshot;
use crate::types::{TextColumns, finish_text, iceberg_type, widens};

/// One row change, with the relation version it was written under.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// INSERT or UPDATE: the new row; `old` is the old key or row when
    /// the key may have changed.
    Upsert {
        relation: Arc<Relation>,
        old: Option<Vec<Value>>,
        new: Vec<Value>,
    },
    /// DELETE, by the old key (or row).
    Delete {
        relation: Arc<Relation>,
        old: Vec<Value>,
    },
    /// TRUNCATE.
    Truncate,
}

/// The net change to one key after a run of operations.
enum Net {
    /// The row's final version, by Floe column, and which columns kept
    /// their old (TOASTed, untouched) value.
    Upsert {
        values: Vec<Option<String>>,
        unchanged: Vec<bool>,
    },
    /// The row is gone; its key values.
    Delete(Vec<Option<String>>),
}

/// The columns of a Floe table, by name, and its key columns.
struct Layout {
    schema: SchemaRef,
    names: HashMap<String, usize>,
    keys: Vec<usize>,
}

impl Layout {
    fn of(handle: &TableHandle) -> Result<Layout> {
        let schema = handle.arrow_schema()?;
        let names = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name().clone(), i))
            .collect();
        let table = handle.table();
        let iceberg = table.metadata().current_schema();
        let keys = iceberg
            .identifier_field_ids()
            .filter_map(|id| iceberg.field_by_id(id))
            .filter_map(|f| schema.index_of(&f.name).ok())
            .collect();
        Ok(Layout {
            schema,
            names,
            keys,
        })
    }

    /// A tuple's values by Floe column (`None` for columns the relation lacks).
    fn row(&self, relation: &Relation, tuple: &[Value]) -> (Vec<Option<String>>, Vec<bool>) {
        let width = self.schema.fields().len();
        let mut values = vec![None; width];
        let mut unchanged = vec![false; width];
        for (column, value) in relation.columns.iter().zip(tuple) {
            if let Some(&i) = self.names.get(&column.name) {
                match value {
                    Value::Text(t) => values[i] = Some(t.clone()),
                    Value::Null => {}
                    Value::Unchanged => unchanged[i] = true,
                }
            }
        }
        (values, unchanged)
    }

    fn key(&self, values: &[Option<String>]) -> String {
        let mut key = String::new();
        for &k in &self.keys {
            key.push_str(values[k].as_deref().unwrap_or("\u{1}NULL"));
            key.push('\u{0}');
        }
        key
    }
}

/// Applies `ops` (in commit order) to `handle` as one snapshot and, with
/// `end_lsn`, records it as the table's applied LSN.
pub(crate) async fn apply_ops(
    handle: &Arc<TableHandle>,
    ops: Vec<Op>,
    end_lsn: Option<u64>,
    source: &str,
    upstream: &str,
) -> Result<()> {
    let layout = Layout::of(handle)?;
    let mut net: HashMap<String, Net> = HashMap::new();
    let mut truncate = false;
    for op in ops {
        match op {
            Op::Truncate => {
                net.clear();
                truncate = true;
            }
            Op::Upsert { relation, old, new } => {
                let (mut values, mut unchanged) = layout.row(&relation, &new);
                let key = layout.key(&values);
                if let Some(old) = old {
                    let (old_values, _) = layout.row(&relation, &old);
                    let old_key = layout.key(&old_values);
                    if old_key != key {
                        let key_values =
                            layout.keys.iter().map(|&k| old_values[k].clone()).collect();
                        // The old row's untouched values move to the new key.
                        if let Some(Net::Upsert {
                            values: prior,
                            unchanged: prior_unchanged,
                        }) = net.insert(old_key, Net::Delete(key_values))
                        {
                            fill(&mut values, &mut unchanged, &prior, &prior_unchanged);
                        }
                    }
                }
                if let Some(Net::Upsert {
                    values: prior,
                    unchanged: prior_unchanged,
                }) = net.get(&key)
                {
                    fill(&mut values, &mut unchanged, prior, prior_unchanged);
                }
                net.insert(key, Net::Upsert { values, unchanged });
            }
            Op::Delete { relation, old } => {
                let (values, _) = layout.row(&relation, &old);
                let key = layout.key(&values);
                let key_values = layout.keys.iter().map(|&k| values[k].clone()).collect();
                net.insert(key, Net::Delete(key_values));
            }
        }
    }

    let key_schema = Arc::new(ArrowSchema::new(
        layout
            .keys
            .iter()
            .map(|&k| layout.schema.field(k).clone())
            .collect::<Vec<_>>(),
    ));
    let mut upserts = TextColumns::new(layout.schema.clone());
    let mut deletes = TextColumns::new(key_schema);
    let mut keep_old: Vec<(usize, usize)> = Vec::new();
    for change in net.into_values() {
        match change {
            Net::Upsert { values, unchanged } => {
                let row = upserts.rows();
                for (i, value) in values.iter().enumerate() {
                    if unchanged[i] {
                        keep_old.push((row, i));
                    }
                    match value {
                        Some(v) => upserts.column(i).append_value(v),
                        None => upserts.column(i).append_null(),
                    }
                }
                upserts.end_row();
            }
            Net::Delete(keys) => {
                for (i, value) in keys.iter().enumerate() {
                    match value {
                        Some(v) => deletes.column(i).append_value(v),
                        None => deletes.column(i).append_null(),
                    }
                }
                deletes.end_row();
            }
        }
    }
    let mut upserts = finish_text(&mut upserts, source, upstream)?;
    let deletes = finish_text(&mut deletes, source, upstream)?;
    let lsn: Vec<(&str, String)> = end_lsn
        .map(|lsn| (props::LSN, lsn.to_string()))
        .into_iter()
        .collect();

    let change = handle.begin().await?;
    if !keep_old.is_empty() && !truncate {
        let old = change.rows_by_key(&upserts).await?;
        upserts = carry_unchanged(&layout, upserts, &old, &keep_old, upstream)?;
    }
    if truncate {
        let mut append = change.append()?;
        if upserts.num_rows() > 0 {
            append.write(upserts).await?;
        }
        change.commit_replace(append, &lsn).await?;
    } else {
        change
            .commit_keyed(vec![upserts], vec![deletes], &lsn)
            .await?;
    }
    Ok(())
}

/// Takes untouched values from an earlier version of the same row.
fn fill(
    values: &mut [Option<String>],
    unchanged: &mut [bool],
    prior: &[Option<String>],
    prior_unchanged: &[bool],
) {
    for i in 0..values.len() {
        if unchanged[i] {
            values[i] = prior[i].clone();
            unchanged[i] = prior_unchanged[i];
        }
    }
}

/// Replaces the values an UPDATE left untouched (TOASTed columns) with the
/// values of the row's current version in the table.
fn carry_unchanged(
    layout: &Layout,
    upserts: RecordBatch,
    old: &[RecordBatch],
    keep_old: &[(usize, usize)],
    upstream: &str,
) -> Result<RecordBatch> {
    let arrow = |source| {
        CdcError::Storage(floe_storage::StorageError::Arrow {
            operation: "carrying untouched values",
            source,
        })
    };
    if old.is_empty() {
        tracing::warn!(table = %upstream, rows = keep_old.len(),
            "an UPDATE left values untouched for rows Floe does not have");
        return Ok(upserts);
    }
    let old = concat_batches(&layout.schema, old).map_err(arrow)?;
    let converter = RowConverter::new(
        layout
            .keys
            .iter()
            .map(|&k| SortField::new(layout.schema.field(k).data_type().clone()))
            .collect(),
    )
    .map_err(arrow)?;
    let key_columns = |b: &RecordBatch| -> Vec<ArrayRef> {
        layout.keys.iter().map(|&k| b.column(k).clone()).collect()
    };
    let old_keys = converter
        .convert_columns(&key_columns(&old))
        .map_err(arrow)?;
    let by_key: HashMap<Vec<u8>, usize> = old_keys
        .iter()
        .enumerate()
        .map(|(i, r)| (r.as_ref().to_vec(), i))
        .collect();
    let new_keys = converter
        .convert_columns(&key_columns(&upserts))
        .map_err(arrow)?;
    let mut columns: Vec<ArrayRef> = upserts.columns().to_vec();
    let mut by_column: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(row, column) in keep_old {
        by_column.entry(column).or_default().push(row);
    }
    for (column, rows) in by_column {
        let mut indices: Vec<(usize, usize)> = (0..upserts.num_rows()).map(|r| (0, r)).collect();
        for row in rows {
            if let Some(&at) = by_key.get(new_keys.row(row).as_ref()) {
                indices[row] = (1, at);
            }
        }
        columns[column] = interleave(
            &[upserts.column(column).as_ref(), old.column(column).as_ref()],
            &indices,
        )
        .map_err(arrow)?;
    }
    RecordBatch::try_new(upserts.schema(), columns).map_err(arrow)
}

/// What following a relation's columns took.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reconciled {
    /// The table already has the relation's columns.
    Same,
    /// The table's schema evolved in place.
    Evolved,
    /// Rows that exist already changed in the source without the change
    /// being streamed (a column added with a default): the table must be
    /// copied again.
    Resync(String),
}

/// Makes the Floe table follow a relation's columns: a renamed column
/// keeps its data (the source's attribute number tells a rename from a
/// drop and an add), new columns are added, dropped ones dropped, a
/// widened type is promoted (Iceberg schema evolution; field ids keep
/// existing data). A column added with a default gave existing rows a
/// value the stream never carries, so the table is copied again. A change
/// Iceberg cannot express is an error, and the table pauses.
pub(crate) async fn reconcile(
    handle: &Arc<TableHandle>,
    relation: &Relation,
    client: &tokio_postgres::Client,
    source: &str,
) -> Result<Reconciled> {
    let upstream = format!("{}.{}", relation.namespace, relation.name);
    let incompatible = |reason: String| CdcError::IncompatibleChange {
        source_name: source.to_string(),
        table: upstream.clone(),
        reason,
    };
    let table = handle.table();
    let metadata = table.metadata();
    let current = metadata.current_schema();
    let keys: Vec<i32> = current.identifier_field_ids().collect();
    let mut wanted: Vec<(String, PrimitiveType)> = Vec::with_capacity(relation.columns.len());
    for column in &relation.columns {
        let (oid, type_mod) =
            snapshot::base_type(client, source, column.type_oid, column.type_mod).await?;
        wanted.push((column.name.clone(), iceberg_type(oid, type_mod)));
    }
    let same = wanted.len() == current.as_struct().fields().len()
        && wanted.iter().all(|(name, ty)| {
            current
                .field_by_name(name)
                .is_some_and(|f| *f.field_type == Type::Primitive(ty.clone()))
        });
    if same {
        return Ok(Reconciled::Same);
    }

    // The source catalog now: attribute numbers and which columns give
    // existing rows a value (a default).
    let rows = client
        .query(
            "SELECT attname::text, attnum, (atthasmissing OR atthasdef)
             FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
            &[&relation.id],
        )
        .await
        .map_err(|e| crate::connect::sql_error(source, "reading pg_attribute", e))?;
    let catalog: HashMap<String, (i16, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                (r.get::<_, i16>(1), r.get::<_, bool>(2)),
            )
        })
        .collect();
    let before: HashMap<String, i16> = metadata
        .properties()
        .get(props::ATTNUMS)
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();

    let mut fields: Vec<NestedField> = Vec::new();
    let mut placed: Vec<&str> = Vec::new();
    for field in current.as_struct().fields() {
        // The column under its name now: the same name, or the column the
        // source renamed it to (same attribute number).
        let renamed = || {
            let attnum = before.get(&field.name)?;
            wanted
                .iter()
                .find(|(n, _)| {
                    current.field_by_name(n).is_none()
                        && catalog.get(n).map(|c| c.0) == Some(*attnum)
                })
                .map(|(n, _)| n.as_str())
        };
        let name = if wanted.iter().any(|(n, _)| *n == field.name) {
            Some(field.name.as_str())
        } else {
            renamed()
        };
        let Some(name) = name else {
            if keys.contains(&field.id) {
                return Err(incompatible(format!(
                    "primary-key column \"{}\" was dropped",
                    field.name
                )));
            }
            continue;
        };
        let ty = &wanted.iter().find(|(n, _)| n == name).expect("wanted").1;
        let Type::Primitive(have) = field.field_type.as_ref() else {
            return Err(incompatible(format!(
                "column \"{}\" is not a primitive type",
                field.name
            )));
        };
        if !widens(have, ty) {
            return Err(incompatible(format!(
                "column \"{name}\" changed from {have} to {ty}, which Iceberg cannot promote; \
                 the table is paused until it is copied again"
            )));
        }
        let mut f = field.as_ref().clone();
        f.name = name.to_string();
        f.field_type = Box::new(Type::Primitive(ty.clone()));
        fields.push(f);
        placed.push(name);
    }
    let mut next_id = metadata.last_column_id() + 1;
    for (name, ty) in &wanted {
        if placed.contains(&name.as_str()) {
            continue;
        }
        if catalog.get(name).is_some_and(|c| c.1) {
            return Ok(Reconciled::Resync(format!(
                "column \"{name}\" was added with a default, which gives existing rows a value"
            )));
        }
        fields.push(NestedField::optional(
            next_id,
            name,
            Type::Primitive(ty.clone()),
        ));
        next_id += 1;
    }
    let schema = Schema::builder()
        .with_schema_id(current.schema_id())
        .with_fields(fields.into_iter().map(Arc::new))
        .with_identifier_field_ids(keys)
        .build()
        .map_err(|e| incompatible(e.message().to_string()))?;
    tracing::info!(source, table = %upstream, "following a schema change of the source");
    // The attribute numbers change with the schema, in the same commit, so
    // a later rename is always told against the schema it applies to.
    let numbers = snapshot::attnums(
        wanted
            .iter()
            .filter_map(|(n, _)| catalog.get(n).map(|c| (n.as_str(), c.0))),
    );
    handle
        .begin()
        .await?
        .commit_schema(schema, &[(props::ATTNUMS, numbers)])
        .await?;
    Ok(Reconciled::Evolved)
}
