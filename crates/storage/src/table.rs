//! One table: its latest committed metadata and its commit path.

use std::sync::{Arc, RwLock};

use arrow::datatypes::SchemaRef;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::DataFile;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, TableIdent};
use iceberg_catalog_sql::SqlCatalog;

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
    pub(crate) fn new(catalog: Arc<SqlCatalog>, table: Table) -> TableHandle {
        TableHandle {
            catalog,
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
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = committed;
        Ok(CommitSummary {
            snapshot_id,
            rows,
            files: count,
        })
    }
}
