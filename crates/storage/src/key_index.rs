//! The key index of one table: the integer primary keys of its live data
//! files, each file's sorted once, for changes by key (replication's
//! updates and deletes). Data files never change, so a file's sorted keys
//! stay valid while it is live.
//!
//! The index keeps at most its limit in bytes
//! ([`crate::CacheLimits::key_index`]). A change by key looks in every
//! live file, so evicting the least recently used file would only trade
//! one file's keys for another's on every change; instead a full index
//! keeps what it holds, and the keys of further files are read for each
//! change without being kept, until files leave the table (compaction,
//! replacement) and free room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A data file's integer keys with their positions, sorted by key.
pub(crate) type SortedKeys = Vec<(i64, u32)>;

/// Bytes an entry takes beyond its keys and location (map slot, `Arc`
/// and `Vec` headers), roughly.
const ENTRY_OVERHEAD: u64 = 96;

/// The sorted keys of a table's data files, by file location.
#[derive(Debug, Default)]
pub(crate) struct KeyIndex {
    files: Mutex<Files>,
}

#[derive(Debug, Default)]
struct Files {
    by_location: HashMap<String, (Arc<SortedKeys>, u64)>,
    bytes: u64,
}

/// The approximate memory of one file's entry.
fn entry_bytes(location: &str, keys: &SortedKeys) -> u64 {
    (location.len() + keys.capacity() * std::mem::size_of::<(i64, u32)>()) as u64 + ENTRY_OVERHEAD
}

impl Files {
    fn remove(&mut self, location: &str) {
        if let Some((_, bytes)) = self.by_location.remove(location) {
            self.bytes -= bytes;
        }
    }
}

impl KeyIndex {
    fn files(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sorted keys of the file at `location`, if kept.
    pub(crate) fn get(&self, location: &str) -> Option<Arc<SortedKeys>> {
        self.files()
            .by_location
            .get(location)
            .map(|(keys, _)| keys.clone())
    }

    /// Keeps `keys` as those of the file at `location` if the index stays
    /// within `limit` bytes with them; returns whether they were kept.
    pub(crate) fn insert(&self, location: String, keys: Arc<SortedKeys>, limit: u64) -> bool {
        let bytes = entry_bytes(&location, &keys);
        let mut files = self.files();
        files.remove(&location);
        if files.bytes + bytes > limit {
            return false;
        }
        files.bytes += bytes;
        files.by_location.insert(location, (keys, bytes));
        true
    }

    /// Forgets every file for which `live` is false.
    pub(crate) fn retain(&self, live: impl Fn(&str) -> bool) {
        let mut files = self.files();
        let mut freed = 0;
        files.by_location.retain(|location, (_, bytes)| {
            let keep = live(location);
            if !keep {
                freed += *bytes;
            }
            keep
        });
        files.bytes -= freed;
    }

    /// Forgets the files at `locations`.
    pub(crate) fn remove<'a>(&self, locations: impl IntoIterator<Item = &'a str>) {
        let mut files = self.files();
        for location in locations {
            files.remove(location);
        }
    }

    /// Forgets every file.
    pub(crate) fn clear(&self) {
        *self.files() = Files::default();
    }

    /// Whether no file's keys are kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.files().by_location.is_empty()
    }

    /// The files kept and their approximate bytes.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let files = self.files();
        (files.by_location.len() as u64, files.bytes)
    }
}

#[cfg(test)]
mod tests;
