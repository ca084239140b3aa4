//! Floe's storage layer.
//!
//! This crate owns the data directory and everything in it: the lock that
//! makes one process its only owner, the Iceberg SQL catalog (one SQLite
//! database in the layout PyIceberg's `SqlCatalog` reads, which Floe reads
//! and writes through one connection pool), the warehouse of Parquet files and
//! Iceberg metadata, and the commits that make written files visible as a new
//! snapshot. It knows nothing of SQL: callers hand it Arrow record batches and
//! Iceberg spec types.
//!
//! Invariants:
//! - Files become visible only through a catalog commit; a write that fails
//!   before its commit leaves no visible trace (at most unreferenced files).
//! - Commits to one table are serialized, and each applies on top of the
//!   latest committed snapshot, so concurrent appends never lose rows.
//! - Changes that read before they write (row deletes and updates, schema
//!   changes) hold the table's commit lock from the read to the commit
//!   ([`TableHandle::begin`]) and swap the catalog's metadata pointer with a
//!   compare-and-swap, so no commit is lost or applied to a stale state.
//! - When a commit returns, the snapshot is durable and every later read
//!   sees it: every file it references (data, deletes, manifests, manifest
//!   list, metadata JSON) and its directory entry were synced before the
//!   SQLite catalog pointer moved, and the catalog commit is synced.
//! - Small writes go through the write-ahead log into a per-table Arrow
//!   buffer ([`TableHandle::append_buffered`]); they are acknowledged once
//!   fsynced in the log. A flush commits buffered rows together with the
//!   highest LSN they cover (table property `floe.wal-lsn`), and swaps the
//!   committed snapshot and the shrunken buffer in one step, so a reader
//!   sees each row once, and a replay after a crash skips exactly the rows
//!   already committed.
//! - Background maintenance keeps tables healthy: compaction replaces small
//!   files with target-size ones without changing what any snapshot reads
//!   ([`TableHandle::compact`]), and vacuum expires old snapshots and
//!   deletes the files nothing references any more ([`TableHandle::vacuum`]).
//! - What a table keeps in memory beyond its buffer (the key index, the
//!   plan cache, idempotency keys) stays within limits in bytes set by
//!   table properties ([`CacheLimits`]), and each cache reports its size
//!   ([`TableHandle::caches`]).

mod buffer;
mod caches;
mod catalog;
mod change;
mod commit;
mod commit_lock;
mod compact;
pub mod conform;
mod current;
mod datadir;
mod durable_io;
mod error;
mod error_log;
mod idempotency;
mod inflight;
pub mod interval_text;
mod key_index;
mod keyed;
mod maintenance;
mod plan;
mod scan;
mod store;
mod table;
mod table_wal;
pub mod unique;
mod vacuum;
mod writer;

pub use buffer::{
    BufferStats, FLUSH_INTERVAL_MS, FLUSH_MAX_BYTES, FLUSH_MAX_ROWS, FlushPolicy, IngestLimits,
};
pub use caches::{
    CacheLimits, CacheStats, DEFAULT_IDEMPOTENCY_BYTES, DEFAULT_KEY_INDEX_BYTES,
    DEFAULT_PLAN_CACHE_BYTES, IDEMPOTENCY_MAX_BYTES, KEY_INDEX_MAX_BYTES, PLAN_CACHE_MAX_BYTES,
};
pub use catalog::views::ViewDefinition;
pub use change::TableChange;
pub use commit::PositionDeletes;
pub use compact::{
    COMPACTION_ENABLED, COMPACTION_MIN_INPUT_FILES, CompactionPolicy, CompactionSummary,
    TARGET_FILE_SIZE,
};
pub use datadir::DataDir;
pub use error::StorageError;
pub use scan::{LiveFile, local_path};
pub use store::{Store, TableDefinition};
pub use table::{Appended, CommitSummary, TableHandle, summary_count};
pub use vacuum::{
    MAX_SNAPSHOT_AGE_MS, MIN_SNAPSHOTS_TO_KEEP, ORPHAN_MIN_AGE_MS, RetentionPolicy, VacuumSummary,
};
pub use writer::{BIT_VARYING_DOC, SMALLINT_DOC, TableAppend, is_bit_string};

/// Checks the value of a table property Floe reads (flush, compaction,
/// retention and cache settings): `Err` names what is wrong; other keys pass.
pub fn check_property(key: &str, value: &str) -> std::result::Result<(), String> {
    FlushPolicy::check_property(key, value)
        .or_else(|| CompactionPolicy::check_property(key, value))
        .or_else(|| RetentionPolicy::check_property(key, value))
        .or_else(|| CacheLimits::check_property(key, value))
        .unwrap_or(Ok(()))
}

/// Result type of this crate.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// The Iceberg crate, re-exported so callers use the same version.
pub use iceberg;
