//! The in-memory buffer of rows that are durable in the write-ahead log but
//! not yet in a committed Parquet file, and its flush policy.
//!
//! Buffered batches keep the Arrow schema (with Iceberg field ids) they were
//! written with. Readers and flushes conform them to the table's current
//! schema by field id, so a schema change never needs to rewrite the buffer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use floe_wal::Lsn;
use iceberg::spec::{NullOrder, SortDirection, SortOrder, Transform};

use crate::{Result, StorageError};

/// Table property: flush the buffer once its oldest row is this old (ms).
pub const FLUSH_INTERVAL_MS: &str = "floe.flush.interval-ms";
/// Table property: flush the buffer once it holds this many rows.
pub const FLUSH_MAX_ROWS: &str = "floe.flush.max-rows";
/// Table property: flush the buffer once it holds this many bytes of Arrow data.
pub const FLUSH_MAX_BYTES: &str = "floe.flush.max-bytes";
/// Table property: the highest WAL LSN whose rows are in committed files.
pub(crate) const WAL_LSN: &str = "floe.wal-lsn";

/// When a table's buffer is flushed to a Parquet file and a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPolicy {
    /// Flush once the oldest buffered row has waited this long.
    pub interval: Duration,
    /// Flush once this many rows are buffered.
    pub max_rows: u64,
    /// Flush once this many bytes are buffered.
    pub max_bytes: u64,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            interval: Duration::from_secs(5),
            max_rows: 1_000_000,
            max_bytes: 64 << 20,
        }
    }
}

impl FlushPolicy {
    /// The policy of a table: its properties override `defaults`.
    pub fn for_table(
        properties: &std::collections::HashMap<String, String>,
        defaults: FlushPolicy,
    ) -> FlushPolicy {
        let get = |key: &str| crate::buffer::u64_property(properties, key);
        FlushPolicy {
            interval: get(FLUSH_INTERVAL_MS)
                .map(Duration::from_millis)
                .unwrap_or(defaults.interval),
            max_rows: get(FLUSH_MAX_ROWS).unwrap_or(defaults.max_rows),
            max_bytes: get(FLUSH_MAX_BYTES).unwrap_or(defaults.max_bytes),
        }
    }

    /// Checks a table property value; `None` if the key is not a flush setting.
    pub fn check_property(key: &str, value: &str) -> Option<std::result::Result<(), String>> {
        if ![FLUSH_INTERVAL_MS, FLUSH_MAX_ROWS, FLUSH_MAX_BYTES].contains(&key) {
            return None;
        }
        Some(match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(format!("{key} must be a positive integer, not \"{value}\"")),
        })
    }
}

/// A table property read as a non-negative integer; `None` if it is unset
/// or not a number (CREATE TABLE refuses such values, see
/// [`crate::check_property`]).
pub(crate) fn u64_property(
    properties: &std::collections::HashMap<String, String>,
    key: &str,
) -> Option<u64> {
    properties
        .get(key)
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Bounds on ingestion, for the whole store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// The default flush policy of tables that set none.
    pub flush: FlushPolicy,
    /// Writes are refused while all buffers together hold more than this.
    pub max_buffer_bytes: u64,
    /// Writes are refused while the write-ahead log holds more than this on disk.
    pub max_wal_bytes: u64,
    /// A new write-ahead log segment is started past this size.
    pub wal_segment_bytes: u64,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            flush: FlushPolicy::default(),
            max_buffer_bytes: 1 << 30,
            max_wal_bytes: 4 << 30,
            wal_segment_bytes: floe_wal::WalOptions::default().segment_bytes,
        }
    }
}

/// Ingestion state shared by every table of a store.
pub(crate) struct Ingest {
    pub wal: floe_wal::Wal,
    pub limits: IngestLimits,
    /// Bytes in all tables' buffers.
    pub buffered_bytes: std::sync::atomic::AtomicU64,
    /// Wakes the background flusher before its next tick.
    pub flush_now: tokio::sync::Notify,
}

impl Ingest {
    /// Refuses a write of `bytes` more while a bound is exceeded.
    pub fn admit(&self, bytes: u64) -> Result<()> {
        let used = self
            .buffered_bytes
            .load(std::sync::atomic::Ordering::Relaxed);
        if used + bytes > self.limits.max_buffer_bytes && used > 0 {
            self.flush_now.notify_one();
            return Err(StorageError::Overloaded {
                resource: "the ingestion buffer",
                used,
                limit: self.limits.max_buffer_bytes,
            });
        }
        let wal = self.wal.disk_bytes();
        if wal > self.limits.max_wal_bytes {
            self.flush_now.notify_one();
            return Err(StorageError::Overloaded {
                resource: "the write-ahead log",
                used: wal,
                limit: self.limits.max_wal_bytes,
            });
        }
        Ok(())
    }

    pub fn add_bytes(&self, delta: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        if delta >= 0 {
            self.buffered_bytes.fetch_add(delta as u64, Relaxed);
        } else {
            self.buffered_bytes.fetch_sub(delta.unsigned_abs(), Relaxed);
        }
    }
}

/// One buffered write: the rows of one statement or request.
#[derive(Debug, Clone)]
pub(crate) struct Buffered {
    pub lsn: Lsn,
    pub batch: RecordBatch,
    pub bytes: u64,
    pub at: Instant,
    /// The request's idempotency key, if it had one.
    pub key: Option<String>,
}

/// Schema metadata key that carries an idempotency key in a WAL record.
pub(crate) const IDEMPOTENCY_KEY: &str = "floe.idempotency-key";

/// How much a table holds in its buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Rows buffered (durable in the WAL, not yet in a committed file).
    pub rows: u64,
    /// Bytes of Arrow data buffered.
    pub bytes: u64,
    /// When the oldest buffered row was written.
    pub oldest: Option<Instant>,
}

/// The buffer of one table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buffer {
    pub entries: Arc<Vec<Buffered>>,
    pub rows: u64,
    pub bytes: u64,
}

impl Buffer {
    pub fn push(&mut self, entry: Buffered) {
        self.rows += entry.batch.num_rows() as u64;
        self.bytes += entry.bytes;
        Arc::make_mut(&mut self.entries).push(entry);
    }

    /// Keeps only the entries `keep` accepts; returns the bytes removed.
    pub fn retain(&mut self, keep: impl Fn(&Buffered) -> bool) -> u64 {
        let before = self.bytes;
        let entries = Arc::make_mut(&mut self.entries);
        entries.retain(keep);
        self.rows = entries.iter().map(|e| e.batch.num_rows() as u64).sum();
        self.bytes = entries.iter().map(|e| e.bytes).sum();
        before - self.bytes
    }

    pub fn stats(&self) -> BufferStats {
        BufferStats {
            rows: self.rows,
            bytes: self.bytes,
            oldest: self.entries.first().map(|e| e.at),
        }
    }
}

/// Serializes a batch for the write-ahead log (Arrow IPC stream), with the
/// request's idempotency key in the schema metadata.
pub(crate) fn encode(batch: &RecordBatch, key: Option<&str>) -> Result<Vec<u8>> {
    let arrow = |source| StorageError::Arrow {
        operation: "encoding rows for the write-ahead log",
        source,
    };
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    let schema = match key {
        None => batch.schema(),
        Some(key) => {
            let mut metadata = batch.schema().metadata().clone();
            metadata.insert(IDEMPOTENCY_KEY.to_string(), key.to_string());
            Arc::new(batch.schema().as_ref().clone().with_metadata(metadata))
        }
    };
    let batch = batch.clone().with_schema(schema.clone()).map_err(arrow)?;
    let mut writer = StreamWriter::try_new(&mut out, &schema).map_err(arrow)?;
    writer.write(&batch).map_err(arrow)?;
    writer.finish().map_err(arrow)?;
    drop(writer);
    Ok(out)
}

/// Reads back a batch written by [`encode`], and its idempotency key.
pub(crate) fn decode(payload: &[u8]) -> Result<(RecordBatch, Option<String>)> {
    let arrow = |source| StorageError::Arrow {
        operation: "decoding rows from the write-ahead log",
        source,
    };
    let reader = StreamReader::try_new(std::io::Cursor::new(payload), None).map_err(arrow)?;
    let schema = reader.schema();
    let key = schema.metadata().get(IDEMPOTENCY_KEY).cloned();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(arrow)?;
    let batch = arrow::compute::concat_batches(&schema, &batches).map_err(arrow)?;
    Ok((batch, key))
}

/// Conforms a buffered batch to the table's current schema by field id.
pub(crate) fn conform_by_id(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    crate::conform::conform_by_id(batch, target).map_err(|source| StorageError::Arrow {
        operation: "conforming buffered rows",
        source,
    })
}

/// Sorts a batch by the identity fields of a sort order (other transforms
/// are ignored); unsorted tables return the batch as it is.
pub(crate) fn sort_batch(
    batch: RecordBatch,
    order: &SortOrder,
    schema: &iceberg::spec::Schema,
) -> Result<RecordBatch> {
    match sort_indices(&batch, order, schema)? {
        Some(indices) => {
            take_record_batch(&batch, &indices).map_err(|source| StorageError::Arrow {
                operation: "sorting buffered rows",
                source,
            })
        }
        None => Ok(batch),
    }
}

/// The order `sort_batch` puts the rows of `batch` in, as indices into
/// it; `None` if it keeps them as they are.
pub(crate) fn sort_indices(
    batch: &RecordBatch,
    order: &SortOrder,
    schema: &iceberg::spec::Schema,
) -> Result<Option<arrow::array::UInt32Array>> {
    let mut columns = Vec::new();
    for field in &order.fields {
        if field.transform != Transform::Identity {
            continue;
        }
        let Some(name) = schema.field_by_id(field.source_id).map(|f| f.name.clone()) else {
            continue;
        };
        let Ok(index) = batch.schema().index_of(&name) else {
            continue;
        };
        columns.push(SortColumn {
            values: batch.column(index).clone(),
            options: Some(SortOptions {
                descending: field.direction == SortDirection::Descending,
                nulls_first: field.null_order == NullOrder::First,
            }),
        });
    }
    if columns.is_empty() || batch.num_rows() < 2 {
        return Ok(None);
    }
    lexsort_to_indices(&columns, None)
        .map(Some)
        .map_err(|source| StorageError::Arrow {
            operation: "sorting buffered rows",
            source,
        })
}

/// The committed WAL position recorded in a table's properties.
pub(crate) fn committed_lsn(properties: &std::collections::HashMap<String, String>) -> Lsn {
    properties
        .get(WAL_LSN)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
