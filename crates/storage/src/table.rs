//! One table: the handle that composes its state and caches, its buffered
//! write path (appends through the write-ahead log, flushes) and its
//! commits of whole files.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use floe_wal::Lsn;

use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, TableIdent};

use crate::buffer::{self, BufferStats, Buffered, FlushPolicy, Ingest};
use crate::caches::{CacheLimits, CacheStats};
use crate::catalog::SqliteCatalog;
use crate::change::TableChange;
use crate::commit::{self, Existing};
use crate::commit_lock::{CommitGuard, CommitLock};
use crate::current::Current;
use crate::error_log::ErrorLog;
use crate::idempotency::{Claim, IDEMPOTENCY_RETENTION, IdempotencyKeys};
use crate::inflight::WritesInFlight;
use crate::key_index::KeyIndex;
use crate::plan::PlanCache;
use crate::table_wal::TableWal;
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

/// A table in the store.
///
/// Readers take [`TableHandle::table`], an immutable view of the latest
/// committed snapshot, and keep reading it however many commits follow;
/// [`TableHandle::read_view`] adds the buffered rows consistent with it.
///
/// The handle composes one part per concern: the committed snapshot and
/// the buffer on it ([`Current`]), the table's key in the write-ahead log
/// ([`TableWal`]), the commit lock ([`CommitLock`]), the idempotency keys
/// ([`IdempotencyKeys`]), the key index ([`KeyIndex`]), the plan cache
/// ([`PlanCache`]), the writes in flight ([`WritesInFlight`]) and the
/// error log of background work ([`ErrorLog`]).
pub struct TableHandle {
    catalog: Arc<SqliteCatalog>,
    ident: TableIdent,
    current: Current,
    wal: TableWal,
    commits: CommitLock,
    pub(crate) keys: IdempotencyKeys,
    errors: ErrorLog,
    pub(crate) key_index: KeyIndex,
    pub(crate) plans: PlanCache,
    pub(crate) writes: Arc<WritesInFlight>,
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
            wal: TableWal::new(ingest, table.metadata().uuid().to_string()),
            ident: table.identifier().clone(),
            current: Current::new(table),
            commits: Default::default(),
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

    /// Records the outcome of background work of one kind.
    pub(crate) fn record_outcome<T>(&self, work: &'static str, outcome: &Result<T>) {
        self.errors.record(work, outcome);
    }

    /// The last failure of background work on this table (flush, compaction,
    /// vacuum) that has not succeeded since, as `work: error` lines.
    pub fn last_error(&self) -> Option<String> {
        self.errors.last()
    }

    /// The table's cache limits, from its properties.
    pub(crate) fn cache_limits(&self) -> CacheLimits {
        CacheLimits::for_table(self.table().metadata().properties())
    }

    /// What the table's caches hold: its key index, plan cache and
    /// idempotency keys, with their limits.
    pub fn caches(&self) -> Vec<CacheStats> {
        let limits = self.cache_limits();
        let stats = |cache, (entries, bytes), limit_bytes| CacheStats {
            cache,
            entries,
            bytes,
            limit_bytes,
        };
        vec![
            stats("key_index", self.key_index.usage(), limits.key_index),
            stats("plan_cache", self.plans.usage(), limits.plan_cache),
            stats("idempotency_keys", self.keys.usage(), limits.idempotency),
        ]
    }

    pub(crate) fn catalog(&self) -> &SqliteCatalog {
        &self.catalog
    }

    /// Remembers an idempotency key committed earlier (loaded on start).
    pub(crate) fn remember_key(&self, key: String, rows: u64, age: std::time::Duration) {
        let limit = self.cache_limits().idempotency;
        self.keys.remember_committed(&key, rows, age, limit);
    }

    /// Forgets idempotency keys older than `retention`.
    pub(crate) fn expire_keys(&self, retention: std::time::Duration) {
        self.keys.expire(retention);
    }

    /// The table's key in the write-ahead log.
    pub(crate) fn wal_key(&self) -> &str {
        self.wal.key()
    }

    /// The WAL position up to which this table's rows are in committed files.
    pub(crate) fn committed_lsn(&self) -> Lsn {
        buffer::committed_lsn(self.table().metadata().properties())
    }

    /// Puts a replayed WAL record back into the buffer.
    pub(crate) fn restore(&self, lsn: Lsn, batch: RecordBatch, key: Option<String>) {
        let bytes = batch.get_array_memory_size() as u64;
        if let Some(key) = &key {
            self.keys.restore(key, batch.num_rows() as u64);
        }
        self.current.restore(Buffered {
            lsn,
            batch,
            bytes,
            at: std::time::Instant::now(),
            key,
        });
        self.wal.add_buffered(bytes as i64);
    }

    /// Empties the buffer and the caches (the table is gone).
    pub(crate) fn discard(&self) {
        let removed = self.current.discard(|_| false);
        self.wal.add_buffered(-(removed as i64));
        self.wal.forget();
        self.key_index.clear();
        self.plans.clear();
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
        self.current.table()
    }

    /// The primary key's columns (the Iceberg identifier fields of the
    /// current schema), in key order; empty for a table without one.
    pub fn primary_key(&self) -> Vec<String> {
        let table = self.table();
        let schema = table.metadata().current_schema();
        schema
            .identifier_field_ids()
            .filter_map(|id| schema.field_by_id(id).map(|f| f.name.clone()))
            .collect()
    }

    /// The latest committed state and the buffered rows on top of it,
    /// conformed by field id to `schema` (an Arrow schema of the table with
    /// field ids): together, every acknowledged row exactly once.
    pub fn read_view(&self, schema: &SchemaRef) -> Result<(Table, Vec<RecordBatch>)> {
        let (table, entries) = self.current.view();
        // Entries past the durable LSN are still being written and are not
        // acknowledged yet.
        let durable = self.wal.durable_lsn();
        let mut batches = Vec::with_capacity(entries.len());
        for entry in entries.iter().take_while(|e| e.lsn <= durable) {
            batches.push(buffer::conform_by_id(&entry.batch, schema)?);
        }
        Ok((table, batches))
    }

    /// What the table holds in its buffer.
    pub fn buffer_stats(&self) -> BufferStats {
        self.current.buffer_stats()
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
    pub async fn append_buffered(self: &Arc<Self>, batches: &[RecordBatch]) -> Result<u64> {
        self.append_keyed(batches, None).await
    }

    /// Like [`TableHandle::append_buffered`], at most once per idempotency
    /// key: a key seen within [`IDEMPOTENCY_RETENTION`] (also across
    /// restarts) writes nothing and reports the first request's row count;
    /// a key whose request is still being written is refused (55006).
    pub async fn append_buffered_once(
        self: &Arc<Self>,
        batches: &[RecordBatch],
        key: &str,
    ) -> Result<Appended> {
        match self.keys.claim(key) {
            Claim::Duplicate(rows) => return Ok(Appended::Duplicate(rows)),
            Claim::InUse => {
                return Err(StorageError::KeyInUse {
                    key: key.to_string(),
                });
            }
            Claim::Claimed { check_catalog } => {
                if check_catalog {
                    let found = self
                        .catalog
                        .find_key(self.wal.key(), key, IDEMPOTENCY_RETENTION)
                        .await;
                    match found {
                        Ok(Some((rows, age))) => {
                            let limit = self.cache_limits().idempotency;
                            self.keys.remember_committed(key, rows, age, limit);
                            return Ok(Appended::Duplicate(rows));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            self.keys.release(key);
                            return Err(e);
                        }
                    }
                }
            }
        }
        match self.append_keyed(batches, Some(key)).await {
            Ok(rows) => {
                self.keys.written(key, rows);
                Ok(Appended::Written(rows))
            }
            Err(e) => {
                self.keys.release(key);
                Err(e)
            }
        }
    }

    async fn append_keyed(
        self: &Arc<Self>,
        batches: &[RecordBatch],
        key: Option<&str>,
    ) -> Result<u64> {
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
        // A table with unique keys checks the rows under its commit lock,
        // held until they are buffered, so no other write slips between.
        let _serial = if crate::unique::has_keys(&self.table()) {
            let serial = self.commits.lock().await;
            self.check_appended(std::slice::from_ref(&batch)).await?;
            Some(serial)
        } else {
            None
        };
        let rows = batch.num_rows() as u64;
        let bytes = batch.get_array_memory_size() as u64;
        self.wal.admit(bytes)?;
        let payload = buffer::encode(&batch, key)?;
        let policy = self.flush_policy(self.wal.default_flush());
        let (lsn, buffered) = self.current.append(
            || self.wal.submit(&payload),
            batch,
            bytes,
            key.map(str::to_string),
        )?;
        let full = buffered.rows >= policy.max_rows || buffered.bytes >= policy.max_bytes;
        self.wal.add_buffered(bytes as i64);
        if full {
            self.wal.wake_flusher();
        }
        if let Err(e) = self.wal.wait_durable(lsn).await {
            let removed = self.current.discard(|b| b.lsn != lsn);
            self.wal.add_buffered(-(removed as i64));
            return Err(e);
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
        let _serial = self.commits.try_lock()?;
        Some(self.flush_locked().await)
    }

    async fn flush_locked(self: &Arc<Self>) -> Result<CommitSummary> {
        let durable = self.wal.durable_lsn();
        let (base, entries) = self.current.view();
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
        let limits = CacheLimits::for_table(committed.metadata().properties());
        let removed = self.current.flushed(committed, last);
        self.keys
            .committed(keys.iter().map(|(k, _)| k.as_str()), limits.idempotency);
        self.wal.add_buffered(-(removed as i64));
        self.wal.release(last);
        Ok(CommitSummary {
            snapshot_id,
            rows,
            files,
        })
    }

    /// The latest committed state and the unique-key columns of every
    /// buffered row, as one batch (under the commit lock: nothing is
    /// flushed or committed meanwhile).
    pub(crate) fn buffered_keys(&self) -> Result<(Table, Vec<RecordBatch>)> {
        let (base, entries) = self.current.view();
        if entries.is_empty() {
            return Ok((base, Vec::new()));
        }
        let keys = crate::unique::key_schema(&base, &self.arrow_schema_of(&base)?);
        let parts = entries
            .iter()
            .map(|e| buffer::conform_by_id(&e.batch, &keys))
            .collect::<Result<Vec<_>>>()?;
        let batch = arrow::compute::concat_batches(&keys, &parts).map_err(|source| {
            StorageError::Arrow {
                operation: "assembling buffered keys",
                source,
            }
        })?;
        Ok((base, vec![batch]))
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

    pub(crate) fn arrow_schema_of(&self, table: &Table) -> Result<SchemaRef> {
        let schema = schema_to_arrow_schema(table.metadata().current_schema())
            .map_err(StorageError::iceberg("converting schema", &self.ident))?;
        Ok(Arc::new(schema))
    }

    /// Starts an append. Nothing is visible until [`TableAppend::commit`].
    pub fn append(self: &Arc<Self>) -> Result<TableAppend> {
        let table = self.table();
        Ok(TableAppend::new(self.clone(), table.clone())?.checking(&table))
    }

    /// Starts a change that reads the table before it writes (UPDATE,
    /// DELETE, upserts, ALTER TABLE). Every other commit to the table waits
    /// until the change commits or is dropped, so what it read is still the
    /// latest state when it commits. Buffered rows are flushed first, so
    /// every row the change can see has a file and a position.
    pub async fn begin(self: &Arc<Self>) -> Result<TableChange<'_>> {
        let serial = self.commits.lock().await;
        self.flush_locked().await?;
        Ok(TableChange::new(self, serial))
    }

    pub(crate) fn set_current(&self, table: Table) {
        self.current.set_table(table);
    }

    pub(crate) async fn lock_commits(&self) -> CommitGuard<'_> {
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
        let _serial = self.commits.lock().await;
        self.commit_files_locked(files, rows).await
    }

    /// Like [`TableHandle::commit_files`], once `new` (the unique-key
    /// columns of the files' rows) is checked against the table's unique
    /// keys under the same hold of the commit lock.
    pub(crate) async fn commit_files_checked(
        self: &Arc<Self>,
        files: Vec<DataFile>,
        rows: u64,
        new: &[RecordBatch],
    ) -> Result<CommitSummary> {
        let _serial = self.commits.lock().await;
        self.check_appended(new).await?;
        self.commit_files_locked(files, rows).await
    }

    async fn commit_files_locked(&self, files: Vec<DataFile>, rows: u64) -> Result<CommitSummary> {
        if files.is_empty() {
            return Ok(CommitSummary {
                snapshot_id: None,
                rows: 0,
                files: 0,
            });
        }
        let count = files.len();
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

/// A counter of a snapshot summary (`total-records`,
/// `total-files-size`, ...), if the summary has it as a number.
pub fn summary_count(properties: &HashMap<String, String>, key: &str) -> Option<i64> {
    properties.get(key).and_then(|v| v.parse().ok())
}
