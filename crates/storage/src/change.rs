//! A read-then-write change to one table (UPDATE, DELETE, upserts,
//! TRUNCATE, ALTER TABLE, changes by key): it holds the table's commit
//! lock from its read to its commit, so what it read is still the latest
//! state when it commits.

use std::sync::Arc;

use iceberg::table::Table;

use crate::Result;
use crate::commit::{self, Existing, PositionDeletes};
use crate::commit_lock::CommitGuard;
use crate::table::{CommitSummary, TableHandle};
use crate::writer::TableAppend;

/// A read-then-write change to one table; see [`TableHandle::begin`].
pub struct TableChange<'a> {
    handle: &'a Arc<TableHandle>,
    _serial: CommitGuard<'a>,
    base: Table,
}

impl<'a> TableChange<'a> {
    /// A change of `handle`, holding its commit lock, on its latest state.
    pub(crate) fn new(handle: &'a Arc<TableHandle>, serial: CommitGuard<'a>) -> TableChange<'a> {
        TableChange {
            handle,
            _serial: serial,
            base: handle.table(),
        }
    }

    /// The state the change reads and builds on.
    pub fn base(&self) -> &Table {
        &self.base
    }

    /// Starts writing new rows; they are committed by [`TableChange::commit_rows`].
    pub fn append(&self) -> Result<TableAppend> {
        TableAppend::new(self.handle.clone(), self.base.clone())
    }

    /// Like [`TableChange::append`], for rows that must keep the table's
    /// unique keys: [`TableChange::commit_rows`] checks them.
    pub fn append_checked(&self) -> Result<TableAppend> {
        Ok(self.append()?.checking(&self.base))
    }

    /// Commits new rows and deletes of existing rows as one snapshot. New
    /// rows from [`TableChange::append_checked`] are checked against the
    /// table's unique keys first, the deleted rows left out (23505).
    ///
    /// When this returns, the change is durable and visible; on error none
    /// of it is.
    pub async fn commit_rows(
        self,
        mut append: Option<TableAppend>,
        deletes: Vec<PositionDeletes>,
    ) -> Result<CommitSummary> {
        if let Some(new) = append.as_mut().and_then(TableAppend::take_checked) {
            self.handle
                .check_unique(&self.base, &new, &[], &deletes)
                .await?;
        }
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
        let committed = self.handle.catalog().swap(&self.base, metadata).await?;
        tracing::debug!(
            table = %self.handle.ident(),
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
        let committed = self.handle.catalog().swap(&self.base, metadata).await?;
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
        let committed = self.handle.catalog().swap(&self.base, metadata).await?;
        self.handle.set_current(committed);
        Ok(())
    }
}
