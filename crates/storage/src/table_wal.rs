//! One table's part in the store's write path: its key in the write-ahead
//! log (the table's Iceberg uuid, so a table dropped and created again
//! under the same name never replays the old one's rows) and the ingestion
//! state every table shares (the bound on buffered bytes, the flusher).

use std::sync::Arc;

use floe_wal::Lsn;

use crate::Result;
use crate::buffer::{FlushPolicy, Ingest};

/// A table's key in the write-ahead log, with the shared ingestion state.
pub(crate) struct TableWal {
    ingest: Arc<Ingest>,
    key: String,
}

impl TableWal {
    pub(crate) fn new(ingest: Arc<Ingest>, key: String) -> TableWal {
        TableWal { ingest, key }
    }

    /// The table's key in the write-ahead log.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// The highest LSN durable in the log: records up to it are acknowledged.
    pub(crate) fn durable_lsn(&self) -> Lsn {
        self.ingest.wal.durable_lsn()
    }

    /// Queues a record of the table; it is durable once
    /// [`TableWal::wait_durable`] returns for its LSN.
    pub(crate) fn submit(&self, payload: &[u8]) -> Result<Lsn> {
        Ok(self.ingest.wal.submit(&self.key, payload)?)
    }

    /// Waits until the record at `lsn` is durable.
    pub(crate) async fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        Ok(self.ingest.wal.wait_durable(lsn).await?)
    }

    /// The table's records up to `lsn` are in committed files; the log
    /// may delete segments no table needs any more.
    pub(crate) fn release(&self, lsn: Lsn) {
        self.ingest.wal.release(&self.key, lsn);
    }

    /// The table is gone: the log needs none of its records.
    pub(crate) fn forget(&self) {
        self.ingest.wal.forget(&self.key);
    }

    /// Refuses a write of `bytes` while the store's bounds on buffered
    /// bytes or the log on disk are exceeded.
    pub(crate) fn admit(&self, bytes: u64) -> Result<()> {
        self.ingest.admit(bytes)
    }

    /// Counts `delta` bytes more (or fewer) in the store's buffers.
    pub(crate) fn add_buffered(&self, delta: i64) {
        self.ingest.add_bytes(delta);
    }

    /// The flush policy of tables that set none.
    pub(crate) fn default_flush(&self) -> FlushPolicy {
        self.ingest.limits.flush
    }

    /// Wakes the flusher before its next tick.
    pub(crate) fn wake_flusher(&self) {
        self.ingest.flush_now.notify_one();
    }
}
