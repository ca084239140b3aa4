//! Floe's write-ahead log.
//!
//! This crate owns the `wal/` directory of a data directory: append-only
//! segment files of checksummed records, the writer thread that makes them
//! durable with one `fdatasync` per group of concurrent appends (group
//! commit), replay on start, and deleting segments once every record in
//! them is durable elsewhere. It knows nothing of tables or Arrow: a record
//! is a key (whose records they are) and an opaque payload.
//!
//! Invariants:
//! - Every record has a log sequence number (LSN); LSNs increase in the
//!   order records are submitted and never repeat, also across restarts.
//! - [`Wal::wait_durable`] returns only when the record and every record
//!   before it is on disk (written and fsynced).
//! - Replay returns every durable record exactly once, in LSN order. A torn
//!   write at the end of the last segment (a crash mid-write) is cut off;
//!   it was never acknowledged. A damaged record followed by an intact one
//!   of a later group was acknowledged, so that, and damage in any other
//!   segment, is an error, never skipped silently. A last segment left
//!   without records is removed, so writing resumes with its name.
//! - A segment is deleted only when, for every key in it, the owner has
//!   released its records up to the segment's last LSN for that key.

mod segment;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use floe_common::{HasStatus, Status};

pub use segment::Entry;

/// A log sequence number.
pub type Lsn = u64;

/// An error from the write-ahead log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Reading, writing or syncing a WAL file failed.
    #[error("write-ahead log {}: {operation}: {source}", path.display())]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A record inside the log (not at its very end) is damaged.
    #[error(
        "write-ahead log segment {} is damaged at byte {offset}: {reason}; move the file away to start without it (its rows are lost)",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An earlier write failed, so the log accepts no more records.
    #[error("write-ahead log is unavailable after an earlier error: {reason}")]
    Failed { reason: String },
    /// A record is larger than a segment may hold.
    #[error("record of {bytes} bytes exceeds the write-ahead log's limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
}

impl HasStatus for WalError {
    fn status(&self) -> Status {
        match self {
            WalError::TooLarge { .. } => Status::ProgramLimitExceeded,
            WalError::Io { .. } | WalError::Corrupt { .. } | WalError::Failed { .. } => {
                Status::IoError
            }
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = WalError> = std::result::Result<T, E>;

/// Settings of a [`Wal`].
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A new segment is started once the current one holds this many bytes.
    pub segment_bytes: u64,
    /// The largest record accepted.
    pub max_record_bytes: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            max_record_bytes: 1 << 30,
        }
    }
}

/// The write-ahead log of one data directory.
pub struct Wal {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

struct Shared {
    dir: PathBuf,
    options: WalOptions,
    state: Mutex<State>,
    wake_writer: Condvar,
    durable: tokio::sync::watch::Sender<Durable>,
    syncs: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Durable {
    lsn: Lsn,
    failed: Option<String>,
}

#[derive(Default)]
struct State {
    next_lsn: Lsn,
    /// Encoded records not yet handed to the writer.
    pending: Vec<u8>,
    pending_first: Lsn,
    pending_last: Lsn,
    pending_keys: HashMap<String, Lsn>,
    failed: Option<String>,
    shutdown: bool,
    /// Segments in LSN order; the last one is the one being written.
    segments: Vec<segment::SegmentInfo>,
    released: HashMap<String, Lsn>,
}

impl Wal {
    /// Opens (creating if needed) the log in `dir` and replays it.
    ///
    /// Returns the log and every durable record in LSN order. New records get
    /// LSNs above both the log's last record and `min_next_lsn - 1`, so an
    /// owner that recorded LSNs elsewhere never sees one reused.
    pub fn open(dir: &Path, options: WalOptions, min_next_lsn: Lsn) -> Result<(Wal, Vec<Entry>)> {
        let io = |operation, source| WalError::Io {
            path: dir.to_path_buf(),
            operation,
            source,
        };
        floe_common::fs::create_dir_all_durable(dir).map_err(|e| io("creating directory", e))?;
        let (segments, entries) = segment::replay(dir)?;
        let last = segments.iter().map(|s| s.last_lsn).max().unwrap_or(0);
        let next_lsn = (last + 1).max(min_next_lsn).max(1);
        let (durable, _) = tokio::sync::watch::channel(Durable {
            lsn: next_lsn - 1,
            failed: None,
        });
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(State {
                next_lsn,
                segments,
                ..State::default()
            }),
            wake_writer: Condvar::new(),
            durable,
            syncs: Default::default(),
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("floe-wal".into())
                .spawn(move || shared.run_writer())
                .map_err(|e| io("starting the writer thread", e))?
        };
        Ok((
            Wal {
                shared,
                writer: Some(writer),
            },
            entries,
        ))
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Queues a record and returns its LSN at once; it is durable when
    /// [`Wal::wait_durable`] for that LSN returns.
    ///
    /// Callers that need records of one key to be ordered by LSN submit them
    /// under their own lock.
    pub fn submit(&self, key: &str, payload: &[u8]) -> Result<Lsn> {
        let size = segment::record_size(key, payload);
        if size > self.shared.options.max_record_bytes {
            return Err(WalError::TooLarge {
                bytes: size,
                limit: self.shared.options.max_record_bytes,
            });
        }
        let mut state = self.shared.lock();
        if let Some(reason) = &state.failed {
            return Err(WalError::Failed {
                reason: reason.clone(),
            });
        }
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        if state.pending.is_empty() {
            state.pending_first = lsn;
        }
        state.pending_last = lsn;
        let group = state.pending_first;
        segment::encode(&mut state.pending, lsn, group, key, payload);
        state.pending_keys.insert(key.to_string(), lsn);
        drop(state);
        self.shared.wake_writer.notify_one();
        Ok(lsn)
    }

    /// Waits until the record with `lsn` (and every record before it) is durable.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        let mut rx = self.shared.durable.subscribe();
        let durable = rx
            .wait_for(|d| d.lsn >= lsn || d.failed.is_some())
            .await
            .map_err(|_| WalError::Failed {
                reason: "the log was closed".into(),
            })?;
        if durable.lsn >= lsn {
            return Ok(());
        }
        Err(WalError::Failed {
            reason: durable.failed.clone().unwrap_or_default(),
        })
    }

    /// Submits a record and waits until it is durable.
    pub async fn append(&self, key: &str, payload: &[u8]) -> Result<Lsn> {
        let lsn = self.submit(key, payload)?;
        self.wait_durable(lsn).await?;
        Ok(lsn)
    }

    /// The highest LSN up to which every record is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable.borrow().lsn
    }

    /// The highest LSN handed out so far (0 if none).
    pub fn last_lsn(&self) -> Lsn {
        self.shared.lock().next_lsn - 1
    }

    /// Declares the records of `key` up to `lsn` durable elsewhere; segments
    /// that hold nothing else still needed are deleted.
    pub fn release(&self, key: &str, lsn: Lsn) {
        let mut state = self.shared.lock();
        let released = state.released.entry(key.to_string()).or_insert(0);
        *released = (*released).max(lsn);
        self.shared.delete_released(&mut state);
    }

    /// Declares every record of `key`, present and future, unneeded (the
    /// key's owner is gone).
    pub fn forget(&self, key: &str) {
        self.release(key, Lsn::MAX);
    }

    /// Bytes of all segment files on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.shared.lock().segments.iter().map(|s| s.bytes).sum()
    }

    /// How many times the writer has synced a group of records to disk.
    pub fn sync_count(&self) -> u64 {
        self.shared.syncs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.shared.lock().segments.len()
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake_writer.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run_writer(&self) {
        let mut file: Option<File> = None;
        loop {
            let mut state = self.lock();
            while state.pending.is_empty() && !state.shutdown {
                state = self
                    .wake_writer
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if state.pending.is_empty() {
                return;
            }
            let batch = std::mem::take(&mut state.pending);
            let (first, last) = (state.pending_first, state.pending_last);
            let keys = std::mem::take(&mut state.pending_keys);
            let rotate = match state.segments.last() {
                Some(s) => file.is_none() || s.bytes >= self.options.segment_bytes,
                None => true,
            };
            drop(state);

            let result = self.write_batch(&mut file, rotate, first, &batch);
            let mut state = self.lock();
            match result {
                Ok(()) => {
                    let segment = state.segments.last_mut().expect("a segment is open");
                    segment.bytes += batch.len() as u64;
                    segment.last_lsn = last;
                    for (key, lsn) in keys {
                        segment.keys.insert(key, lsn);
                    }
                    if rotate {
                        self.delete_released(&mut state);
                    }
                    drop(state);
                    self.durable.send_modify(|d| d.lsn = last);
                }
                Err(e) => {
                    let reason = e.to_string();
                    tracing::error!(error = %reason, "write-ahead log write failed; ingestion stops");
                    state.failed = Some(reason.clone());
                    state.pending.clear();
                    drop(state);
                    self.durable.send_modify(|d| d.failed = Some(reason));
                    return;
                }
            }
        }
    }

    fn write_batch(
        &self,
        file: &mut Option<File>,
        rotate: bool,
        first: Lsn,
        batch: &[u8],
    ) -> Result<()> {
        if rotate {
            let (f, info) = segment::create(&self.dir, first)?;
            *file = Some(f);
            self.lock().segments.push(info);
        }
        let f = file.as_mut().expect("a segment is open");
        let path = || self.lock().segments.last().map(|s| s.path.clone());
        f.write_all(batch).map_err(|source| WalError::Io {
            path: path().unwrap_or_default(),
            operation: "writing",
            source,
        })?;
        f.sync_data().map_err(|source| WalError::Io {
            path: path().unwrap_or_default(),
            operation: "syncing",
            source,
        })?;
        self.syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Deletes every segment but the active one whose records are all released.
    fn delete_released(&self, state: &mut State) {
        let active = state.segments.len().saturating_sub(1);
        let released = &state.released;
        let mut keep = Vec::with_capacity(state.segments.len());
        for (i, segment) in std::mem::take(&mut state.segments).into_iter().enumerate() {
            let done = i < active
                && segment
                    .keys
                    .iter()
                    .all(|(k, lsn)| released.get(k).is_some_and(|r| r >= lsn));
            if done {
                match std::fs::remove_file(&segment.path) {
                    Ok(()) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        tracing::warn!(path = %segment.path.display(), error = %e,
                            "could not delete a released write-ahead log segment");
                    }
                }
            }
            keep.push(segment);
        }
        state.segments = keep;
    }
}

#[cfg(test)]
mod tests;
