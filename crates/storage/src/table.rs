//! One table: its latest committed metadata, its buffer of rows not yet in
//! files, and its commit paths.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use floe_wal::Lsn;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, TableIdent};

use crate::buffer::{self, Buffer, Buffered, FlushPolicy, Ingest, KeyState};
use crate::catalog::SqliteCatalog;
use crate::commit::{self, Existing, PositionDeletes};
use crate::writer::TableAppend;
use crate::{Result, StorageError};

/// What a commit did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// The snapshot the commit created; `None` if there was nothing to commit.
    pub snapshot_id: Option<i64>,
    /// Rows added.
    pub rows: u64,
    /// Data files added.
    pub files: usize,
}

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

/// A table in the store.
///
/// Readers take [`TableHandle::table`], an immutable view of the latest
/// committed snapshot, and keep reading it however many commits follow;
/// [`TableHandle::read_view`] adds the buffered rows consistent with it.
pub struct TableHandle {
    catalog: Arc<SqliteCatalog>,
    ingest: Arc<Ingest>,
    /// The table's key in the WAL: its Iceberg table uuid, so a table
    /// dropped and created again under the same name never replays the
    /// old one's rows.
    key: String,
    ident: TableIdent,
    current: RwLock<Current>,
    commits: tokio::sync::Mutex<()>,
    /// Idempotency keys seen recently (buffered, committed or in flight).
    keys: std::sync::Mutex<std::collections::HashMap<String, KeyState>>,
    /// The last failure of each kind of background work (flush,
    /// compaction, vacuum), until that work next succeeds.
    errors: std::sync::Mutex<std::collections::BTreeMap<&'static str, String>>,
    /// Sorted integer primary keys of live data files, for changes by key.
    key_index: std::sync::Mutex<std::collections::HashMap<String, Arc<crate::keyed::SortedKeys>>>,
    /// Manifests and delete files planning has read.
    pub(crate) plans: crate::plan::PlanCache,
    /// Data files being written that no commit references yet.
    pub(crate) writes: Arc<crate::inflight::WritesInFlight>,
}

/// What [`TableHandle::append_buffered_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The rows were written; this many.
    Written(u64),
    /// A request with the same idempotency key was written before, with
    /// this many rows; nothing was written now.
    Duplicate(u64),
}

/// The latest committed snapshot and the buffered rows on top of it,
/// swapped together so a reader never sees a flushed row twice or not at all.
struct Current {
    table: Table,
    buffer: Buffer,
}

impl std::fmt::Debug for TableHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableHandle")
            .field("ident", &self.ident)
            .finish()
    }
}

impl TableHandle {
    pub(crate) fn new(
        catalog: Arc<SqliteCatalog>,
        ingest: Arc<Ingest>,
        table: Table,
    ) -> TableHandle {
        TableHandle {
            catalog,
            ingest,
            key: table.metadata().uuid().to_string(),
            ident: table.identifier().clone(),
            current: RwLock::new(Current {
                table,
                buffer: Buffer::default(),
            }),
            commits: tokio::sync::Mutex::new(()),
            keys: Default::default(),
            errors: Default::default(),
            key_index: Default::default(),
            plans: Default::default(),
            writes: Default::default(),
        }
    }

    /// The data files to read for `table` (a view of this table) at
    /// `snapshot_id` (its current snapshot if `None`), with their deleted
    /// rows, pruned by `predicate` with file statistics.
    pub async fn live_files(
        &self,
        table: &Table,
        snapshot_id: Option<i64>,
        predicate: Option<iceberg::expr::Predicate>,
    ) -> Result<Vec<crate::LiveFile>> {
        self.plans.live_files(table, snapshot_id, predicate).await
    }

    pub(crate) fn key_index(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<crate::keyed::SortedKeys>>>
    {
        self.key_index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the outcome of background work of one kind.
    pub(crate) fn record_outcome<T>(&self, work: &'static str, outcome: &Result<T>) {
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(_) => {
                errors.remove(work);
            }
            Err(e) => {
                errors.insert(work, e.to_string());
            }
        }
    }

    /// The last failure of background work on this table (flush, compaction,
    /// vacuum) that has not succeeded since, as `work: error` lines.
    pub fn last_error(&self) -> Option<String> {
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        (!errors.is_empty()).then(|| {
            errors
                .iter()
                .map(|(work, e)| format!("{work}: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub(crate) fn catalog(&self) -> &SqliteCatalog {
        &self.catalog
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, KeyState>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers an idempotency key committed earlier (loaded on start).
    pub(crate) fn remember_key(&self, key: String, rows: u64, age: std::time::Duration) {
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        self.keys().insert(key, KeyState::Done { rows, at });
    }

    /// Forgets idempotency keys older than `retention`.
    pub(crate) fn expire_keys(&self, retention: std::time::Duration) {
        self.keys().retain(|_, state| match state {
            KeyState::Pending => true,
            KeyState::Done { at, .. } => at.elapsed() < retention,
        });
    }

    /// The table's key in the write-ahead log.
    pub(crate) fn wal_key(&self) -> &str {
        &self.key
    }

    /// The WAL position up to which this table's rows are in committed files.
    pub(crate) fn committed_lsn(&self) -> Lsn {
        buffer::committed_lsn(self.table().metadata().properties())
    }

    /// Puts a replayed WAL record back into the buffer.
    pub(crate) fn restore(&self, lsn: Lsn, batch: RecordBatch, key: Option<String>) {
        let bytes = batch.get_array_memory_size() as u64;
        if let Some(key) = &key {
            let rows = batch.num_rows() as u64;
            self.keys().insert(
                key.clone(),
                KeyState::Done {
                    rows,
                    at: Instant::now(),
                },
            );
        }
        self.current_mut().buffer.push(Buffered {
            lsn,
            batch,
            bytes,
            at: Instant::now(),
            key,
        });
        self.ingest.add_bytes(bytes as i64);
    }

    /// Empties the buffer (the table is gone).
    pub(crate) fn discard_buffer(&self) {
        let removed = self.current_mut().buffer.retain(|_| false);
        self.ingest.add_bytes(-(removed as i64));
        self.ingest.wal.forget(&self.key);
    }

    /// The schema (namespace) the table lives in.
    pub fn schema_name(&self) -> String {
        self.ident.namespace().join(".")
    }

    /// The table's name within its schema.
    pub fn name(&self) -> &str {
        self.ident.name()
    }

    /// The table's Iceberg identifier.
    pub fn ident(&self) -> &TableIdent {
        &self.ident
    }

    /// The latest committed state of the table.
    pub fn table(&self) -> Table {
        self.current_ref().table.clone()
    }

    /// The latest committed state and the buffered rows on top of it,
    /// conformed by field id to `schema` (an Arrow schema of the table with
    /// field ids): together, every acknowledged row exactly once.
    pub fn read_view(&self, schema: &SchemaRef) -> Result<(Table, Vec<RecordBatch>)> {
        let (table, entries) = {
            let current = self.current_ref();
            (current.table.clone(), current.buffer.entries.clone())
        };
        // Entries past the durable LSN are still being written and are not
        // acknowledged yet.
        let durable = self.ingest.wal.durable_lsn();
        let mut batches = Vec::with_capacity(entries.len());
        for entry in entries.iter().take_while(|e| e.lsn <= durable) {
            batches.push(buffer::conform_by_id(&entry.batch, schema)?);
        }
        Ok((table, batches))
    }

    /// What the table holds in its buffer.
    pub fn buffer_stats(&self) -> BufferStats {
        let current = self.current_ref();
        BufferStats {
            rows: current.buffer.rows,
            bytes: current.buffer.bytes,
            oldest: current.buffer.oldest(),
        }
    }

    /// The table's flush policy: its properties over `defaults`.
    pub fn flush_policy(&self, defaults: FlushPolicy) -> FlushPolicy {
        FlushPolicy::for_table(self.table().metadata().properties(), defaults)
    }

    /// Appends rows through the write-ahead log into the buffer.
    ///
    /// When this returns `Ok`, the rows are durable (fsynced in the WAL) and
    /// visible to every later read; on error none of them is. Columns are
    /// matched by name and cast to the table's types.
    pub async fn append_buffered(&self, batches: &[RecordBatch]) -> Result<u64> {
        self.append_keyed(batches, None).await
    }

    /// Like [`TableHandle::append_buffered`], at most once per idempotency
    /// key: a key seen within [`buffer::IDEMPOTENCY_RETENTION`] (also across
    /// restarts) writes nothing and reports the first request's row count;
    /// a key whose request is still being written is refused (55006).
    pub async fn append_buffered_once(
        &self,
        batches: &[RecordBatch],
        key: &str,
    ) -> Result<Appended> {
        {
            // Looked up and claimed under one lock: of two requests with the
            // same key, exactly one writes.
            let mut keys = self.keys();
            match keys.get(key).copied() {
                Some(KeyState::Done { rows, .. }) => return Ok(Appended::Duplicate(rows)),
                Some(KeyState::Pending) => {
                    return Err(StorageError::KeyInUse {
                        key: key.to_string(),
                    });
                }
                None => keys.insert(key.to_string(), KeyState::Pending),
            };
        }
        match self.append_keyed(batches, Some(key)).await {
            Ok(rows) => {
                self.keys().insert(
                    key.to_string(),
                    KeyState::Done {
                        rows,
                        at: Instant::now(),
                    },
                );
                Ok(Appended::Written(rows))
            }
            Err(e) => {
                self.keys().remove(key);
                Err(e)
            }
        }
    }

    async fn append_keyed(&self, batches: &[RecordBatch], key: Option<&str>) -> Result<u64> {
        let schema = self.arrow_schema()?;
        let mut conformed = Vec::with_capacity(batches.len());
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            conformed.push(crate::writer::conform(&schema, &self.ident, batch)?);
        }
        if conformed.is_empty() {
            return Ok(0);
        }
        let batch = arrow::compute::concat_batches(&schema, &conformed).map_err(|source| {
            StorageError::Arrow {
                operation: "assembling rows",
                source,
            }
        })?;
        let rows = batch.num_rows() as u64;
        let bytes = batch.get_array_memory_size() as u64;
        self.ingest.admit(bytes)?;
        let payload = buffer::encode(&batch, key)?;
        let policy = self.flush_policy(self.ingest.limits.flush);
        let (lsn, full) = {
            // Submitting under the lock keeps the buffer in LSN order.
            let mut current = self.current_mut();
            let lsn = self.ingest.wal.submit(&self.key, &payload)?;
            current.buffer.push(Buffered {
                lsn,
                batch,
                bytes,
                at: Instant::now(),
                key: key.map(str::to_string),
            });
            let full =
                current.buffer.rows >= policy.max_rows || current.buffer.bytes >= policy.max_bytes;
            (lsn, full)
        };
        self.ingest.add_bytes(bytes as i64);
        if full {
            self.ingest.flush_now.notify_one();
        }
        if let Err(e) = self.ingest.wal.wait_durable(lsn).await {
            let removed = self.current_mut().buffer.retain(|b| b.lsn != lsn);
            self.ingest.add_bytes(-(removed as i64));
            return Err(e.into());
        }
        Ok(rows)
    }

    /// Writes the buffered rows to Parquet and commits them as one snapshot.
    pub async fn flush(self: &Arc<Self>) -> Result<CommitSummary> {
        let _serial = self.commits.lock().await;
        self.flush_locked().await
    }

    /// Like [`TableHandle::flush`], unless a change holds the table's
    /// commit lock: then `None` at once, so one long UPDATE never holds up
    /// the flushing of other tables.
    pub(crate) async fn try_flush(self: &Arc<Self>) -> Option<Result<CommitSummary>> {
        let _serial = self.commits.try_lock().ok()?;
        Some(self.flush_locked().await)
    }

    async fn flush_locked(self: &Arc<Self>) -> Result<CommitSummary> {
        let durable = self.ingest.wal.durable_lsn();
        let (base, entries) = {
            let current = self.current_ref();
            (current.table.clone(), current.buffer.entries.clone())
        };
        let flushed: Vec<&Buffered> = entries.iter().take_while(|e| e.lsn <= durable).collect();
        let Some(last) = flushed.last().map(|e| e.lsn) else {
            return Ok(CommitSummary::default());
        };
        let metadata = base.metadata();
        let schema = self.arrow_schema_of(&base)?;
        let mut batches = Vec::with_capacity(flushed.len());
        for entry in &flushed {
            batches.push(buffer::conform_by_id(&entry.batch, &schema)?);
        }
        let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|source| {
            StorageError::Arrow {
                operation: "assembling buffered rows",
                source,
            }
        })?;
        let batch = buffer::sort_batch(
            batch,
            metadata.default_sort_order(),
            metadata.current_schema(),
        )?;
        let mut append = TableAppend::new(self.clone(), base.clone())?;
        append.write(batch).await?;
        let (data, rows, _in_flight) = append.finish().await?;
        let files = data.len();
        let metadata = commit::with_row_delta(
            &base,
            &self.plans,
            Existing::Keep,
            data,
            Vec::new(),
            &[(buffer::WAL_LSN, last.to_string())],
        )
        .await?;
        let keys: Vec<(String, u64)> = flushed
            .iter()
            .filter_map(|e| e.key.clone().map(|k| (k, e.batch.num_rows() as u64)))
            .collect();
        let committed = self.catalog.swap_with_keys(&base, metadata, &keys).await?;
        let snapshot_id = committed.metadata().current_snapshot_id();
        let removed = {
            let mut current = self.current_mut();
            current.table = committed;
            current.buffer.retain(|b| b.lsn > last)
        };
        self.ingest.add_bytes(-(removed as i64));
        self.ingest.wal.release(&self.key, last);
        Ok(CommitSummary {
            snapshot_id,
            rows,
            files,
        })
    }

    /// The table as it was at `snapshot_id`, for time travel.
    pub fn table_at(&self, snapshot_id: i64) -> Result<Table> {
        let table = self.table();
        if table.metadata().snapshot_by_id(snapshot_id).is_none() {
            return Err(StorageError::NoSuchSnapshot {
                table: self.ident.to_string(),
                snapshot_id,
            });
        }
        Ok(table)
    }

    /// The Arrow schema of the current table schema, with Iceberg field ids.
    pub fn arrow_schema(&self) -> Result<SchemaRef> {
        self.arrow_schema_of(&self.table())
    }

    fn arrow_schema_of(&self, table: &Table) -> Result<SchemaRef> {
        let schema = schema_to_arrow_schema(table.metadata().current_schema())
            .map_err(StorageError::iceberg("converting schema", &self.ident))?;
        Ok(Arc::new(schema))
    }

    fn current_ref(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn current_mut(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts an append. Nothing is visible until [`TableAppend::commit`].
    pub fn append(self: &Arc<Self>) -> Result<TableAppend> {
        TableAppend::new(self.clone(), self.table())
    }

    /// Starts a change that reads the table before it writes (UPDATE,
    /// DELETE, upserts, ALTER TABLE). Every other commit to the table waits
    /// until the change commits or is dropped, so what it read is still the
    /// latest state when it commits. Buffered rows are flushed first, so
    /// every row the change can see has a file and a position.
    pub async fn begin(self: &Arc<Self>) -> Result<TableChange<'_>> {
        let serial = self.commits.lock().await;
        self.flush_locked().await?;
        Ok(TableChange {
            handle: self,
            _serial: serial,
            base: self.table(),
        })
    }

    pub(crate) fn set_current(&self, table: Table) {
        self.current_mut().table = table;
    }

    pub(crate) async fn lock_commits(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.commits.lock().await
    }

    /// Commits written data files as one new snapshot on top of the latest one.
    ///
    /// When this returns, the snapshot is durable and visible to every later read.
    pub(crate) async fn commit_files(
        &self,
        files: Vec<DataFile>,
        rows: u64,
    ) -> Result<CommitSummary> {
        if files.is_empty() {
            return Ok(CommitSummary {
                snapshot_id: None,
                rows: 0,
                files: 0,
            });
        }
        let count = files.len();
        let _serial = self.commits.lock().await;
        let latest = self.table();
        let tx = Transaction::new(&latest);
        let tx = tx
            .fast_append()
            .add_data_files(files)
            .apply(tx)
            .map_err(StorageError::iceberg("appending to", &self.ident))?;
        let committed = tx
            .commit(self.catalog.as_ref() as &dyn Catalog)
            .await
            .map_err(StorageError::iceberg("committing to", &self.ident))?;
        let snapshot_id = committed.metadata().current_snapshot_id();
        self.set_current(committed);
        Ok(CommitSummary {
            snapshot_id,
            rows,
            files: count,
        })
    }
}

/// A read-then-write change to one table; see [`TableHandle::begin`].
pub struct TableChange<'a> {
    handle: &'a Arc<TableHandle>,
    _serial: tokio::sync::MutexGuard<'a, ()>,
    base: Table,
}

impl TableChange<'_> {
    /// The state the change reads and builds on.
    pub fn base(&self) -> &Table {
        &self.base
    }

    /// Starts writing new rows; they are committed by [`TableChange::commit_rows`].
    pub fn append(&self) -> Result<TableAppend> {
        TableAppend::new(self.handle.clone(), self.base.clone())
    }

    /// Commits new rows and deletes of existing rows as one snapshot.
    ///
    /// When this returns, the change is durable and visible; on error none
    /// of it is.
    pub async fn commit_rows(
        self,
        append: Option<TableAppend>,
        deletes: Vec<PositionDeletes>,
    ) -> Result<CommitSummary> {
        self.commit_delta(append, deletes, Existing::Keep, &[])
            .await
    }

    pub(crate) fn handle(&self) -> &Arc<TableHandle> {
        self.handle
    }

    /// The partition of every live data file of the base, by location.
    pub async fn file_partitions(
        &self,
    ) -> Result<std::collections::HashMap<String, iceberg::spec::Struct>> {
        self.handle.plans.file_partitions(&self.base).await
    }

    /// One row-delta snapshot: new rows, position deletes, the existing
    /// files kept or dropped, and table properties set.
    pub(crate) async fn commit_delta(
        self,
        append: Option<TableAppend>,
        deletes: Vec<PositionDeletes>,
        existing: Existing<'_>,
        properties: &[(&str, String)],
    ) -> Result<CommitSummary> {
        let started = std::time::Instant::now();
        let (data, rows, _in_flight) = match append {
            Some(append) => {
                let (data, rows, in_flight) = append.finish().await?;
                (data, rows, Some(in_flight))
            }
            None => (Vec::new(), 0, None),
        };
        let delete_files = commit::write_deletes(&self.base, &deletes).await?;
        let drops =
            matches!(existing, Existing::Drop) && self.base.metadata().current_snapshot().is_some();
        if data.is_empty() && delete_files.is_empty() && !drops && properties.is_empty() {
            return Ok(CommitSummary {
                snapshot_id: None,
                rows: 0,
                files: 0,
            });
        }
        let files = data.len();
        let written_ms = started.elapsed().as_millis() as u64;
        let delete_count = delete_files.len();
        let metadata = commit::with_row_delta(
            &self.base,
            &self.handle.plans,
            existing,
            data,
            delete_files,
            properties,
        )
        .await?;
        let committed = self.handle.catalog.swap(&self.base, metadata).await?;
        tracing::debug!(
            table = %self.handle.ident,
            data_files = files,
            delete_files = delete_count,
            written_ms,
            total_ms = started.elapsed().as_millis() as u64,
            "committed a row delta"
        );
        let snapshot_id = committed.metadata().current_snapshot_id();
        self.handle.set_current(committed);
        Ok(CommitSummary {
            snapshot_id,
            rows,
            files,
        })
    }

    /// Removes every row (TRUNCATE): a snapshot that references no files.
    /// Earlier snapshots keep theirs, so time travel still reads them.
    pub async fn truncate(self) -> Result<()> {
        if self.base.metadata().current_snapshot().is_none() {
            return Ok(());
        }
        let metadata = commit::with_row_delta(
            &self.base,
            &self.handle.plans,
            Existing::Drop,
            Vec::new(),
            Vec::new(),
            &[],
        )
        .await?;
        let committed = self.handle.catalog.swap(&self.base, metadata).await?;
        self.handle.set_current(committed);
        Ok(())
    }

    /// Makes `schema` the table's current schema (schema evolution; field
    /// ids carry the data of existing files over) and sets `properties`,
    /// in one commit.
    pub async fn commit_schema(
        self,
        schema: iceberg::spec::Schema,
        properties: &[(&str, String)],
    ) -> Result<()> {
        let metadata = commit::with_schema(&self.base, schema, properties)?;
        let committed = self.handle.catalog.swap(&self.base, metadata).await?;
        self.handle.set_current(committed);
        Ok(())
    }
}
