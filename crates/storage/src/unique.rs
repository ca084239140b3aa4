//! Unique constraints: a table's primary key and its UNIQUE column sets,
//! and the check that rows being written keep them.
//!
//! The primary key is the schema's identifier fields. UNIQUE constraints
//! are kept as the table property [`UNIQUE_PROPERTY`], naming their
//! columns by field id, so a renamed column keeps its constraint and a
//! dropped one takes it along. Rows whose UNIQUE columns hold a NULL
//! never conflict, unless the constraint says `NULLS NOT DISTINCT`.
//!
//! Every write that adds rows to a table with a constraint is checked
//! while it holds the table's commit lock, against the rows being added,
//! the buffered rows and the live rows of the committed files, less the
//! rows the same write replaces (an UPDATE's old versions).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{FieldRef, SchemaRef};
use arrow::row::RowConverter;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use iceberg::table::Table;
use serde::{Deserialize, Serialize};

use crate::commit::PositionDeletes;
use crate::table::TableHandle;
use crate::{Result, StorageError};

/// The table property holding a table's UNIQUE constraints, as JSON.
pub const UNIQUE_PROPERTY: &str = "floe.unique-constraints";

/// A UNIQUE constraint as a table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniqueConstraint {
    /// The constraint's name (PostgreSQL's `<table>_<columns>_key` unless given).
    pub name: String,
    /// The columns, by Iceberg field id, in constraint order.
    pub fields: Vec<i32>,
    /// Whether rows with a NULL in the columns never conflict (the default).
    #[serde(default = "nulls_distinct_default")]
    pub nulls_distinct: bool,
}

fn nulls_distinct_default() -> bool {
    true
}

/// The UNIQUE constraints of a table's properties (none when the property
/// is absent or unreadable).
pub fn declared(properties: &HashMap<String, String>) -> Vec<UniqueConstraint> {
    properties
        .get(UNIQUE_PROPERTY)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// The property value for `constraints`.
pub fn encode(constraints: &[UniqueConstraint]) -> String {
    serde_json::to_string(constraints).expect("constraints serialize")
}

/// A constraint resolved against the table's current schema.
pub(crate) struct Key {
    pub name: String,
    pub fields: Vec<FieldRef>,
    pub nulls_distinct: bool,
    /// The primary key, whose lookups may use the key index.
    pub primary: bool,
}

/// Every constraint of `table`: the primary key first (named
/// `<table>_pkey`), then the UNIQUE ones whose columns all still exist.
pub(crate) fn keys(table: &Table, schema: &SchemaRef) -> Vec<Key> {
    let iceberg = table.metadata().current_schema();
    let by_id = |id: i32| {
        let name = &iceberg.field_by_id(id)?.name;
        schema
            .field_with_name(name)
            .ok()
            .map(|f| Arc::new(f.clone()))
    };
    let mut out = Vec::new();
    let primary: Vec<FieldRef> = iceberg.identifier_field_ids().filter_map(by_id).collect();
    if !primary.is_empty() {
        out.push(Key {
            name: format!("{}_pkey", table.identifier().name()),
            fields: primary,
            nulls_distinct: true,
            primary: true,
        });
    }
    for c in declared(table.metadata().properties()) {
        let fields: Option<Vec<FieldRef>> = c.fields.iter().map(|&id| by_id(id)).collect();
        if let Some(fields) = fields.filter(|f| !f.is_empty()) {
            out.push(Key {
                name: c.name,
                fields,
                nulls_distinct: c.nulls_distinct,
                primary: false,
            });
        }
    }
    out
}

/// The columns of `schema` (the table's, with field ids) that some
/// constraint of `table` names, in table order.
pub(crate) fn key_schema(table: &Table, schema: &SchemaRef) -> SchemaRef {
    let named: HashSet<String> = keys(table, schema)
        .iter()
        .flat_map(|k| k.fields.iter().map(|f| f.name().clone()))
        .collect();
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .filter(|f| named.contains(f.name()))
        .cloned()
        .collect();
    Arc::new(arrow::datatypes::Schema::new(fields))
}

/// A constraint of a table as catalogs list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `<table>_pkey` for the primary key, else the UNIQUE constraint's name.
    pub name: String,
    /// The columns, in constraint order.
    pub columns: Vec<String>,
    /// The primary key (listed first).
    pub primary: bool,
    /// Whether rows with a NULL in the columns never conflict.
    pub nulls_distinct: bool,
}

impl TableHandle {
    /// The table's primary key and UNIQUE constraints.
    pub fn unique_keys(&self) -> Vec<KeyInfo> {
        let table = self.table();
        let Ok(schema) = self.arrow_schema_of(&table) else {
            return Vec::new();
        };
        keys(&table, &schema)
            .into_iter()
            .map(|k| KeyInfo {
                columns: k.fields.iter().map(|f| f.name().clone()).collect(),
                name: k.name,
                primary: k.primary,
                nulls_distinct: k.nulls_distinct,
            })
            .collect()
    }
}

/// Whether `table` has any constraint to check.
pub(crate) fn has_keys(table: &Table) -> bool {
    table
        .metadata()
        .current_schema()
        .identifier_field_ids()
        .next()
        .is_some()
        || !declared(table.metadata().properties()).is_empty()
}

impl Key {
    fn columns(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.fields
            .iter()
            .map(|f| {
                batch.column_by_name(f.name()).cloned().ok_or_else(|| {
                    StorageError::SchemaMismatch {
                        table: "(unique check)".into(),
                        column: f.name().clone(),
                        reason: "key column missing".into(),
                    }
                })
            })
            .collect()
    }

    /// The rows of `batch` that can conflict: all of them, or with
    /// distinct NULLs those without a NULL in the key.
    fn comparable(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if !self.nulls_distinct {
            return Ok(batch.clone());
        }
        let columns = self.columns(batch)?;
        if columns.iter().all(|c| c.null_count() == 0) {
            return Ok(batch.clone());
        }
        let keep: BooleanArray = (0..batch.num_rows())
            .map(|i| Some(columns.iter().all(|c| c.is_valid(i))))
            .collect();
        filter_record_batch(batch, &keep).map_err(|source| StorageError::Arrow {
            operation: "checking unique keys",
            source,
        })
    }

    /// `(a, b)=(1, x)`, as PostgreSQL names a key in its message.
    fn describe(&self, batch: &RecordBatch, row: usize) -> String {
        let names: Vec<&str> = self.fields.iter().map(|f| f.name().as_str()).collect();
        let options = FormatOptions::default().with_null("null");
        let values: Vec<String> = self
            .columns(batch)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                ArrayFormatter::try_new(c.as_ref(), &options)
                    .map(|f| f.value(row).to_string())
                    .unwrap_or_default()
            })
            .collect();
        format!("({})=({})", names.join(", "), values.join(", "))
    }

    fn violation(&self, table: &Table, batch: &RecordBatch, row: usize) -> StorageError {
        StorageError::UniqueViolation {
            table: table.identifier().to_string(),
            constraint: self.name.clone(),
            key: self.describe(batch, row),
        }
    }
}

/// Encoded keys of `new`, failing on a key that repeats among them.
fn distinct_keys(
    table: &Table,
    key: &Key,
    new: &[RecordBatch],
) -> Result<(RowConverter, HashSet<Vec<u8>>)> {
    let converter = crate::keyed::converter(&key.fields)?;
    let mut seen = HashSet::new();
    for batch in new {
        let rows = crate::keyed::encode(&converter, &key.columns(batch)?)?;
        for (i, row) in rows.iter().enumerate() {
            if !seen.insert(row.as_ref().to_vec()) {
                return Err(key.violation(table, batch, i));
            }
        }
    }
    Ok((converter, seen))
}

impl TableHandle {
    /// Checks that `new` (batches in the table's current Arrow schema)
    /// keeps every constraint against the latest committed state and the
    /// buffer. Call it holding the commit lock.
    pub(crate) async fn check_appended(self: &Arc<Self>, new: &[RecordBatch]) -> Result<()> {
        let (base, buffered) = self.buffered_keys()?;
        self.check_unique(&base, new, &buffered, &[]).await
    }

    /// Checks that `new` (batches in the table's current Arrow schema)
    /// keeps every constraint of `base` against itself, the `buffered`
    /// rows and the live rows of `base`'s files other than those
    /// `replaced`. Call it holding the commit lock, so nothing else is
    /// added between the check and the commit.
    pub(crate) async fn check_unique(
        self: &Arc<Self>,
        base: &Table,
        new: &[RecordBatch],
        buffered: &[RecordBatch],
        replaced: &[PositionDeletes],
    ) -> Result<()> {
        let schema = self.arrow_schema_of(base)?;
        let replaced: HashMap<&str, HashSet<u64>> = replaced
            .iter()
            .map(|d| (d.data_file.as_str(), d.positions.iter().copied().collect()))
            .collect();
        for key in keys(base, &schema) {
            let new: Vec<RecordBatch> = new
                .iter()
                .map(|b| key.comparable(b))
                .filter(|b| b.as_ref().map_or(true, |b| b.num_rows() > 0))
                .collect::<Result<_>>()?;
            if new.is_empty() {
                continue;
            }
            let (converter, wanted) = distinct_keys(base, &key, &new)?;
            for batch in buffered {
                let rows = crate::keyed::encode(&converter, &key.columns(batch)?)?;
                if let Some(i) = rows.iter().position(|r| wanted.contains(r.as_ref())) {
                    return Err(key.violation(base, batch, i));
                }
            }
            let refs: Vec<&RecordBatch> = new.iter().collect();
            let located = self
                .locate_keys(base, key.fields.clone(), key.primary, &refs)
                .await?;
            for (file, positions) in located.files {
                let gone = replaced.get(file.location.as_str());
                let live: Vec<u64> = positions
                    .into_iter()
                    .filter(|p| !gone.is_some_and(|g| g.contains(p)))
                    .take(1)
                    .collect();
                if !live.is_empty() {
                    let rows = self.rows_at(file, live).await?;
                    let row = rows.iter().find(|b| b.num_rows() > 0);
                    return Err(match row {
                        Some(batch) => key.violation(base, batch, 0),
                        None => StorageError::UniqueViolation {
                            table: base.identifier().to_string(),
                            constraint: key.name.clone(),
                            key: String::new(),
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
