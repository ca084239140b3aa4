//! Row changes by primary key, as replication applies them: finding the
//! live rows of given keys, and committing new row versions together with
//! position deletes of the rows they replace as one snapshot.
//!
//! A single integer key (the common case) is found by binary search in
//! the file's keys, sorted once per data file and kept while the file is
//! live. Other keys are compared in the row format of `arrow::row`, so
//! composite keys and every key type compare by value. Files written
//! before a key column was widened are read in their own type and cast to
//! the current one.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, FieldRef, SchemaRef};
use arrow::row::{RowConverter, SortField};
use iceberg::table::Table;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::change::TableChange;
use crate::commit::{Existing, PositionDeletes};
use crate::key_index::SortedKeys;
use crate::scan::{self, LiveFile};
use crate::table::{CommitSummary, TableHandle};
use crate::writer::TableAppend;
use crate::{Result, StorageError};

/// The key columns of a table's current schema, with field ids, in key order.
fn key_fields(schema: &SchemaRef, table: &Table) -> Result<Vec<FieldRef>> {
    let iceberg = table.metadata().current_schema();
    let mut fields = Vec::new();
    for id in iceberg.identifier_field_ids() {
        let name = iceberg
            .field_by_id(id)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let field = schema
            .fields()
            .iter()
            .find(|f| *f.name() == name)
            .cloned()
            .ok_or_else(|| StorageError::InvalidDefinition {
                table: table.identifier().to_string(),
                reason: format!("identifier field {id} is not in the schema"),
            })?;
        fields.push(field);
    }
    if fields.is_empty() {
        return Err(StorageError::Unsupported {
            table: table.identifier().to_string(),
            feature: "changes by key on a table without a primary key".into(),
        });
    }
    Ok(fields)
}

pub(crate) fn converter(keys: &[FieldRef]) -> Result<RowConverter> {
    RowConverter::new(
        keys.iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )
    .map_err(|source| StorageError::Arrow {
        operation: "encoding primary keys",
        source,
    })
}

/// The encoded keys of `batch`'s key columns (taken by name).
fn encode_keys(
    converter: &RowConverter,
    keys: &[FieldRef],
    batch: &RecordBatch,
) -> Result<Vec<Vec<u8>>> {
    let mut columns = Vec::with_capacity(keys.len());
    for field in keys {
        let column =
            batch
                .column_by_name(field.name())
                .ok_or_else(|| StorageError::SchemaMismatch {
                    table: "(changes by key)".into(),
                    column: field.name().clone(),
                    reason: "key column missing".into(),
                })?;
        columns.push(column.clone());
    }
    let rows = encode(converter, &columns)?;
    Ok(rows.iter().map(|r| r.as_ref().to_vec()).collect())
}

pub(crate) fn encode(converter: &RowConverter, columns: &[ArrayRef]) -> Result<arrow::row::Rows> {
    converter
        .convert_columns(columns)
        .map_err(|source| StorageError::Arrow {
            operation: "encoding primary keys",
            source,
        })
}

/// The keys being looked for: plain integers for a single integer key
/// (the common case, and far cheaper to hash), else encoded rows.
enum Wanted {
    Ints(HashSet<i64>),
    Rows(RowConverter, HashSet<Vec<u8>>),
}

/// Whether a key column is found by binary search in sorted integers.
fn is_int_key(field: &FieldRef) -> bool {
    matches!(field.data_type(), DataType::Int64 | DataType::Int32)
}

/// The values of an integer key column, widened to i64.
fn int_keys(column: &ArrayRef) -> Option<Vec<Option<i64>>> {
    match column.data_type() {
        DataType::Int64 => Some(
            column
                .as_any()
                .downcast_ref::<Int64Array>()?
                .iter()
                .collect(),
        ),
        DataType::Int32 => Some(
            column
                .as_any()
                .downcast_ref::<Int32Array>()?
                .iter()
                .map(|v| v.map(i64::from))
                .collect(),
        ),
        _ => None,
    }
}

impl Wanted {
    /// The keys of `batches`; plain integers when `ints` allows it.
    fn new(keys: &[FieldRef], batches: &[&RecordBatch], ints: bool) -> Result<Wanted> {
        if let [field] = keys
            && ints
            && is_int_key(field)
        {
            let mut set = HashSet::new();
            for batch in batches {
                if let Some(values) = batch.column_by_name(field.name()).and_then(int_keys) {
                    set.extend(values.into_iter().flatten());
                }
            }
            return Ok(Wanted::Ints(set));
        }
        let converter = converter(keys)?;
        let mut set = HashSet::new();
        for batch in batches {
            set.extend(encode_keys(&converter, keys, batch)?);
        }
        Ok(Wanted::Rows(converter, set))
    }

    fn is_empty(&self) -> bool {
        match self {
            Wanted::Ints(s) => s.is_empty(),
            Wanted::Rows(_, s) => s.is_empty(),
        }
    }
}

/// Positions of the live rows of `file` whose key is wanted.
fn matching_positions(file: &LiveFile, keys: &[FieldRef], wanted: &Wanted) -> Result<Vec<u64>> {
    let Wanted::Rows(converter, set) = wanted else {
        unreachable!("integer keys are looked up in the file's sorted keys")
    };
    let mut out = Vec::new();
    let mut offset = 0u64;
    for columns in key_columns(file, keys)? {
        let rows = encode(converter, &columns)?;
        for (i, row) in rows.iter().enumerate() {
            let pos = offset + i as u64;
            if set.contains(row.as_ref()) && !file.deleted.contains(&pos) {
                out.push(pos);
            }
        }
        offset += columns.first().map_or(0, |c| c.len() as u64);
    }
    Ok(out)
}

/// The key columns of a data file, batch by batch, in key order and the
/// keys' current types (found by field id).
fn key_columns(file: &LiveFile, keys: &[FieldRef]) -> Result<Vec<Vec<ArrayRef>>> {
    let io = |reason: String| StorageError::DataFileIo {
        path: file.path.clone(),
        reason,
    };
    let handle = std::fs::File::open(&file.path).map_err(|e| io(e.to_string()))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(handle).map_err(|e| io(e.to_string()))?;
    let file_schema = builder.schema().clone();
    let mut roots = Vec::with_capacity(keys.len());
    for key in keys {
        let id = crate::conform::field_id(key);
        let found = file_schema
            .fields()
            .iter()
            .position(|f| id.is_some() && crate::conform::field_id(f) == id)
            .ok_or_else(|| io(format!("no column for key field {}", key.name())))?;
        roots.push(found);
    }
    let mut sorted = roots.clone();
    sorted.sort_unstable();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| io(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| io(e.to_string()))?;
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(keys.len());
        for (key, root) in keys.iter().zip(&roots) {
            let at = sorted.binary_search(root).expect("projected");
            let column = batch.column(at);
            columns.push(if column.data_type() == key.data_type() {
                column.clone()
            } else {
                cast(column, key.data_type()).map_err(|e| io(e.to_string()))?
            });
        }
        out.push(columns);
    }
    Ok(out)
}

/// A data file's integer keys with their positions, sorted by key.
fn sorted_int_keys(file: &LiveFile, keys: &[FieldRef]) -> Result<SortedKeys> {
    let mut out = Vec::new();
    let mut offset = 0u32;
    for columns in key_columns(file, keys)? {
        let values = int_keys(&columns[0]).unwrap_or_default();
        let n = values.len() as u32;
        out.extend(
            values
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (v, offset + i as u32))),
        );
        offset += n;
    }
    out.sort_unstable();
    out.shrink_to_fit();
    Ok(out)
}

/// Positions of the live rows with one of `wanted`'s keys, by binary search.
fn positions_in(sorted: &SortedKeys, file: &LiveFile, wanted: &HashSet<i64>) -> Vec<u64> {
    let mut out = Vec::new();
    for &key in wanted {
        let start = sorted.partition_point(|(k, _)| *k < key);
        for &(k, pos) in &sorted[start..] {
            if k != key {
                break;
            }
            if !file.deleted.contains(&u64::from(pos)) {
                out.push(u64::from(pos));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The rows of `file` at `positions`, conformed to `schema`.
fn rows_at(file: &LiveFile, positions: &[u64], schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    let wanted: BTreeSet<u64> = positions.iter().copied().collect();
    scan::read_rows(file, schema, scan::Rows::Only(&wanted))
}

impl TableHandle {
    /// The sorted integer keys of `file`, from the key index, or read and
    /// kept there if they fit within `limit` bytes. Blocking.
    fn sorted_keys(
        &self,
        file: &LiveFile,
        keys: &[FieldRef],
        limit: u64,
    ) -> Result<Arc<SortedKeys>> {
        if let Some(sorted) = self.key_index.get(&file.location) {
            return Ok(sorted);
        }
        let sorted = Arc::new(sorted_int_keys(file, keys)?);
        self.key_index
            .insert(file.location.clone(), sorted.clone(), limit);
        Ok(sorted)
    }

    /// The sorted keys of `file`, a data file compaction wrote and is about
    /// to commit, if the table keeps a key index and is in use (it has
    /// indexed files): the first changes after the commit then find them
    /// ready. Built before the commit, kept by [`TableHandle::keep_keys`].
    pub(crate) async fn keys_of_new_file(
        &self,
        table: &Table,
        file: &iceberg::spec::DataFile,
    ) -> Result<Option<(String, Arc<SortedKeys>)>> {
        if self.key_index.is_empty() {
            return Ok(None);
        }
        let schema = self.arrow_schema()?;
        let keys = match key_fields(&schema, table) {
            Ok(keys) if matches!(&keys[..], [k] if is_int_key(k)) => keys,
            _ => return Ok(None),
        };
        let live = LiveFile {
            location: file.file_path().to_string(),
            path: scan::local_path(file.file_path()).to_string(),
            size: file.file_size_in_bytes(),
            record_count: Some(file.record_count()),
            deleted: Default::default(),
            partition: None,
        };
        let sorted = tokio::task::spawn_blocking(move || sorted_int_keys(&live, &keys))
            .await
            .map_err(|e| StorageError::DataFileIo {
                path: "(key index)".into(),
                reason: e.to_string(),
            })??;
        Ok(Some((file.file_path().to_string(), Arc::new(sorted))))
    }

    /// Once compaction has committed: forgets the keys of the files it
    /// `removed` and keeps those built by [`TableHandle::keys_of_new_file`]
    /// (call it under the commit lock).
    pub(crate) fn keep_keys<'a>(
        &self,
        removed: impl IntoIterator<Item = &'a str>,
        keys: Option<(String, Arc<SortedKeys>)>,
    ) {
        self.key_index.remove(removed);
        if let Some((location, sorted)) = keys {
            let limit = self.cache_limits().key_index;
            self.key_index.insert(location, sorted, limit);
        }
    }

    /// Reads and sorts the keys of every live data file not indexed yet,
    /// so the first changes by key after a large load (a replicated
    /// table's initial copy) do not wait for it. Only tables with a single
    /// integer key keep such an index; for others this does nothing.
    pub async fn index_keys(self: &Arc<Self>) -> Result<()> {
        let table = self.table();
        let schema = self.arrow_schema()?;
        let keys = key_fields(&schema, &table)?;
        if !matches!(&keys[..], [k] if is_int_key(k)) {
            return Ok(());
        }
        let limit = self.cache_limits().key_index;
        let files = self.live_files(&table, None, None).await?;
        let handle = self.clone();
        tokio::task::spawn_blocking(move || {
            for file in &files {
                if handle.key_index.get(&file.location).is_some() {
                    continue;
                }
                let sorted = Arc::new(sorted_int_keys(file, &keys)?);
                if !handle
                    .key_index
                    .insert(file.location.clone(), sorted, limit)
                {
                    // The index is full; the rest are read when changes need them.
                    break;
                }
            }
            Ok::<_, StorageError>(())
        })
        .await
        .map_err(|e| StorageError::DataFileIo {
            path: "(key index)".into(),
            reason: e.to_string(),
        })?
    }
}

/// Where the live rows of a set of keys are.
pub(crate) struct Located {
    pub(crate) files: Vec<(LiveFile, Vec<u64>)>,
}

impl TableHandle {
    /// Where the live rows of `base` are whose `keys` columns equal those
    /// of a row of `batches` (taken by name). Only the primary key
    /// (`primary`) is looked up in the key index.
    pub(crate) async fn locate_keys(
        self: &Arc<Self>,
        base: &Table,
        keys: Vec<FieldRef>,
        primary: bool,
        batches: &[&RecordBatch],
    ) -> Result<Located> {
        let wanted = Wanted::new(&keys, batches, primary)?;
        if wanted.is_empty() {
            return Ok(Located { files: Vec::new() });
        }
        let files = self.live_files(base, None, None).await?;
        if primary {
            // Forget the sorted keys of files that are no longer live.
            let live: HashSet<&str> = files.iter().map(|f| f.location.as_str()).collect();
            self.key_index.retain(|location| live.contains(location));
        }
        let limit = self.cache_limits().key_index;
        let handle = self.clone();
        let found = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for file in files {
                let positions = match &wanted {
                    Wanted::Ints(set) => {
                        positions_in(&*handle.sorted_keys(&file, &keys, limit)?, &file, set)
                    }
                    Wanted::Rows(..) => matching_positions(&file, &keys, &wanted)?,
                };
                if !positions.is_empty() {
                    found.push((file, positions));
                }
            }
            Ok::<_, StorageError>(found)
        })
        .await
        .map_err(|e| StorageError::DataFileIo {
            path: "(key lookup)".into(),
            reason: e.to_string(),
        })??;
        Ok(Located { files: found })
    }

    /// The rows of `file` at `positions`, in the table's current Arrow schema.
    pub(crate) async fn rows_at(
        &self,
        file: LiveFile,
        positions: Vec<u64>,
    ) -> Result<Vec<RecordBatch>> {
        let schema = self.arrow_schema()?;
        tokio::task::spawn_blocking(move || rows_at(&file, &positions, &schema))
            .await
            .map_err(|e| StorageError::DataFileIo {
                path: "(key lookup)".into(),
                reason: e.to_string(),
            })?
    }
}

impl TableChange<'_> {
    async fn locate(&self, batches: &[&RecordBatch]) -> Result<(Located, SchemaRef)> {
        let base = self.base().clone();
        let schema = self.handle().arrow_schema()?;
        let keys = key_fields(&schema, &base)?;
        let located = self
            .handle()
            .locate_keys(&base, keys, true, batches)
            .await?;
        Ok((located, schema))
    }

    /// The live rows whose primary key is one of the rows of `keys` (a
    /// batch holding at least the key columns, by name, in their current
    /// types), in the table's current Arrow schema.
    pub async fn rows_by_key(&self, keys: &RecordBatch) -> Result<Vec<RecordBatch>> {
        let (located, schema) = self.locate(&[keys]).await?;
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for (file, positions) in &located.files {
                out.extend(rows_at(file, positions, &schema)?);
            }
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::DataFileIo {
            path: "(key lookup)".into(),
            reason: e.to_string(),
        })?
    }

    /// Commits changes by primary key as one snapshot: the live rows whose
    /// key is in `delete_keys` or in `upserts` are deleted, the `upserts`
    /// rows (in the table's current Arrow schema, at most one per key) are
    /// appended, and `properties` are set.
    pub async fn commit_keyed(
        self,
        upserts: Vec<RecordBatch>,
        delete_keys: Vec<RecordBatch>,
        properties: &[(&str, String)],
    ) -> Result<CommitSummary> {
        let started = std::time::Instant::now();
        let all: Vec<&RecordBatch> = upserts.iter().chain(delete_keys.iter()).collect();
        let (located, _) = self.locate(&all).await?;
        let located_ms = started.elapsed().as_millis() as u64;
        let mut deletes = Vec::with_capacity(located.files.len());
        for (file, positions) in located.files {
            deletes.push(PositionDeletes {
                data_file: file.location.clone(),
                partition: file.partition.clone(),
                positions,
            });
        }
        let append = if upserts.iter().any(|b| b.num_rows() > 0) {
            let mut append = self.append()?;
            for batch in upserts {
                if batch.num_rows() > 0 {
                    append.write(batch).await?;
                }
            }
            Some(append)
        } else {
            None
        };
        let summary = self
            .commit_delta(append, deletes, Existing::Keep, properties)
            .await?;
        tracing::debug!(
            located_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "committed changes by key"
        );
        Ok(summary)
    }

    /// Replaces every row of the table with the rows of `append` and sets
    /// `properties`, as one snapshot (an initial load).
    pub async fn commit_replace(
        self,
        append: TableAppend,
        properties: &[(&str, String)],
    ) -> Result<CommitSummary> {
        self.commit_delta(Some(append), Vec::new(), Existing::Drop, properties)
            .await
    }
}

#[cfg(test)]
mod tests;
