//! The commit lock of one table. Every commit to the table (a flush, an
//! append's commit, a change from [`crate::TableHandle::begin`] to its
//! commit, compaction's and vacuum's metadata swaps, DROP TABLE) holds it,
//! so commits apply one after another, each on the latest snapshot.

use tokio::sync::{Mutex, MutexGuard};

/// Serializes the commits to one table.
#[derive(Debug, Default)]
pub(crate) struct CommitLock(Mutex<()>);

/// A held commit lock; dropping it lets the next commit go.
pub(crate) type CommitGuard<'a> = MutexGuard<'a, ()>;

impl CommitLock {
    /// Waits for the running commit, if any, and holds the lock.
    pub(crate) async fn lock(&self) -> CommitGuard<'_> {
        self.0.lock().await
    }

    /// Holds the lock if no commit holds it now; `None` otherwise.
    pub(crate) fn try_lock(&self) -> Option<CommitGuard<'_>> {
        self.0.try_lock().ok()
    }
}
