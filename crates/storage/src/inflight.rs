//! Writes in flight: data files being written that no commit references
//! yet. Orphan cleanup deletes unreferenced files, and must never take the
//! files of a COPY, CREATE TABLE AS or compaction that is still running, so
//! it asks here when the oldest such write began.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// File times come from a coarser clock than `SystemTime::now`; a write's
/// files may look this much older than the write itself.
const CLOCK_SLACK: Duration = Duration::from_secs(2);

/// The writes in flight of one table.
#[derive(Debug, Default)]
pub(crate) struct WritesInFlight {
    next: AtomicU64,
    started: Mutex<BTreeMap<u64, SystemTime>>,
}

impl WritesInFlight {
    fn started(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, SystemTime>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a write starting now; it is in flight until the returned
    /// guard is dropped (after its files are committed or discarded).
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let at = SystemTime::now()
            .checked_sub(CLOCK_SLACK)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.started().insert(id, at);
        InFlight {
            registry: self.clone(),
            id,
        }
    }

    /// No file written at or after this time may be deleted as an orphan:
    /// the start of the oldest write in flight, `None` if there is none.
    pub(crate) fn oldest(&self) -> Option<SystemTime> {
        self.started().values().min().copied()
    }
}

/// A write in flight; dropping it ends the write.
#[derive(Debug)]
pub(crate) struct InFlight {
    registry: Arc<WritesInFlight>,
    id: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.registry.started().remove(&self.id);
    }
}

#[cfg(test)]
mod tests;
