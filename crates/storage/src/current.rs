//! The current state of one table: its latest committed snapshot and the
//! buffered rows on top of it, under one lock. A flush swaps in the new
//! snapshot and drops the rows it committed in one step, so a reader
//! sees every acknowledged row exactly once.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use arrow::array::RecordBatch;
use floe_wal::Lsn;
use iceberg::table::Table;

use crate::Result;
use crate::buffer::{Buffer, BufferStats, Buffered};

/// The latest committed snapshot and the buffer, swapped together.
pub(crate) struct Current {
    state: RwLock<State>,
}

struct State {
    table: Table,
    buffer: Buffer,
}

impl Current {
    /// A table's state with nothing buffered.
    pub(crate) fn new(table: Table) -> Current {
        Current {
            state: RwLock::new(State {
                table,
                buffer: Buffer::default(),
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The latest committed snapshot.
    pub(crate) fn table(&self) -> Table {
        self.read().table.clone()
    }

    /// The latest committed snapshot and the buffered entries on top of
    /// it (in LSN order, including entries not yet durable), read together.
    pub(crate) fn view(&self) -> (Table, Arc<Vec<Buffered>>) {
        let state = self.read();
        (state.table.clone(), state.buffer.entries.clone())
    }

    /// What the buffer holds.
    pub(crate) fn buffer_stats(&self) -> BufferStats {
        self.read().buffer.stats()
    }

    /// Makes `table` the latest committed snapshot (a commit that
    /// flushed no buffered rows).
    pub(crate) fn set_table(&self, table: Table) {
        self.write().table = table;
    }

    /// Buffers `batch` (`bytes` of Arrow data, the request's idempotency
    /// `key`) under the LSN `log` gives it. `log` writes the record to the
    /// write-ahead log and runs under the lock, which keeps the buffer in
    /// LSN order. Returns the LSN and the buffer's rows and bytes after.
    pub(crate) fn append(
        &self,
        log: impl FnOnce() -> Result<Lsn>,
        batch: RecordBatch,
        bytes: u64,
        key: Option<String>,
    ) -> Result<(Lsn, BufferStats)> {
        let mut state = self.write();
        let lsn = log()?;
        state.buffer.push(Buffered {
            lsn,
            batch,
            bytes,
            at: Instant::now(),
            key,
        });
        Ok((lsn, state.buffer.stats()))
    }

    /// Puts an entry back into the buffer (replayed from the write-ahead log).
    pub(crate) fn restore(&self, entry: Buffered) {
        self.write().buffer.push(entry);
    }

    /// Drops the buffered entries `keep` rejects; returns their bytes.
    pub(crate) fn discard(&self, keep: impl Fn(&Buffered) -> bool) -> u64 {
        self.write().buffer.retain(keep)
    }

    /// Makes `committed` the latest snapshot and drops the entries up to
    /// `last`, which it holds, in one step; returns their bytes.
    pub(crate) fn flushed(&self, committed: Table, last: Lsn) -> u64 {
        let mut state = self.write();
        state.table = committed;
        state.buffer.retain(|b| b.lsn > last)
    }
}

#[cfg(test)]
mod tests;
