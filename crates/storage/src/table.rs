//! One table: its latest committed metadata and its commit path.

use std::sync::{Arc, RwLock};

use arrow::datatypes::SchemaRef;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, TableIdent};
use iceberg_catalog_sql::SqlCatalog;

use crate::commit::{self, CatalogPointer, Existing, PositionDeletes};
use crate::writer::TableAppend;
use crate::{Result, StorageError};

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
/// committed snapshot, and keep reading it however many commits follow.
pub struct TableHandle {
    catalog: Arc<SqlCatalog>,
    pointer: Arc<CatalogPointer>,
    ident: TableIdent,
    current: RwLock<Table>,
    commits: tokio::sync::Mutex<()>,
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
        catalog: Arc<SqlCatalog>,
        pointer: Arc<CatalogPointer>,
        table: Table,
    ) -> TableHandle {
        TableHandle {
            catalog,
            pointer,
            ident: table.identifier().clone(),
            current: RwLock::new(table),
            commits: tokio::sync::Mutex::new(()),
        }
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
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
        let table = self.table();
        let schema = schema_to_arrow_schema(table.metadata().current_schema())
            .map_err(StorageError::iceberg("converting schema", &self.ident))?;
        Ok(Arc::new(schema))
    }

    /// Starts an append. Nothing is visible until [`TableAppend::commit`].
    pub fn append(self: &Arc<Self>) -> Result<TableAppend> {
        TableAppend::new(self.clone(), self.table())
    }

    /// Starts a change that reads the table before it writes (UPDATE,
    /// DELETE, upserts, ALTER TABLE). Every other commit to the table waits
    /// until the change commits or is dropped, so what it read is still the
    /// latest state when it commits.
    pub async fn begin(self: &Arc<Self>) -> TableChange<'_> {
        let serial = self.commits.lock().await;
        TableChange {
            handle: self,
            _serial: serial,
            base: self.table(),
        }
    }

    fn set_current(&self, table: Table) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = table;
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
        let (data, rows) = match append {
            Some(append) => append.finish().await?,
            None => (Vec::new(), 0),
        };
        let mut delete_files = Vec::with_capacity(deletes.len());
        for delete in deletes.iter().filter(|d| !d.positions.is_empty()) {
            delete_files.push(commit::write_position_deletes(&self.base, delete).await?);
        }
        if data.is_empty() && delete_files.is_empty() {
            return Ok(CommitSummary {
                snapshot_id: None,
                rows: 0,
                files: 0,
            });
        }
        let files = data.len();
        let metadata =
            commit::with_row_delta(&self.base, Existing::Keep, data, delete_files).await?;
        let committed = self.handle.pointer.swap(&self.base, metadata).await?;
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
        let metadata =
            commit::with_row_delta(&self.base, Existing::Drop, Vec::new(), Vec::new()).await?;
        let committed = self.handle.pointer.swap(&self.base, metadata).await?;
        self.handle.set_current(committed);
        Ok(())
    }

    /// Makes `schema` the table's current schema (schema evolution; field
    /// ids carry the data of existing files over).
    pub async fn commit_schema(self, schema: iceberg::spec::Schema) -> Result<()> {
        let metadata = commit::with_schema(&self.base, schema)?;
        let committed = self.handle.pointer.swap(&self.base, metadata).await?;
        self.handle.set_current(committed);
        Ok(())
    }
}
