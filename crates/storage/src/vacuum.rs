//! Snapshot expiry and orphan-file cleanup.
//!
//! Expiry removes snapshots older than the table's retention from its
//! metadata, always keeping the newest `min-snapshots-to-keep` of the
//! current snapshot's history, and then deletes every file only the removed
//! snapshots referenced. Orphan cleanup deletes files under the table's
//! location that no snapshot and no metadata version references: the
//! leftovers of a crash or of a failed commit. A data file that nothing
//! references yet may belong to a write in progress, so only those older
//! than `floe.orphan.min-age-ms` are deleted; in the metadata folder every
//! file is written under the table's commit lock, so one older than a
//! moment at which cleanup held that lock is no write in progress.
//! Only that moment and the metadata swap hold the lock: reading the
//! manifests of many snapshots never holds up the table's commits.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use iceberg::spec::SnapshotRef;
use iceberg::table::Table;

use crate::compact::CompactionSummary;
use crate::scan::local_path;
use crate::table::TableHandle;
use crate::{Result, StorageError};

/// Table property (Iceberg's): snapshots older than this (ms) are expired.
pub const MAX_SNAPSHOT_AGE_MS: &str = "history.expire.max-snapshot-age-ms";
/// Table property (Iceberg's): snapshots of the current history always kept.
pub const MIN_SNAPSHOTS_TO_KEEP: &str = "history.expire.min-snapshots-to-keep";
/// Table property: unreferenced data files younger than this (ms) are kept.
pub const ORPHAN_MIN_AGE_MS: &str = "floe.orphan.min-age-ms";

/// How long a table keeps old snapshots and unreferenced files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Snapshots older than this are expired.
    pub max_snapshot_age: Duration,
    /// The newest snapshots of the current history kept whatever their age.
    pub min_snapshots: usize,
    /// Unreferenced data files younger than this are kept.
    pub orphan_min_age: Duration,
}

impl RetentionPolicy {
    /// The policy a table's properties set.
    pub fn for_table(properties: &HashMap<String, String>) -> RetentionPolicy {
        let get = |key: &str| crate::buffer::u64_property(properties, key);
        RetentionPolicy {
            max_snapshot_age: Duration::from_millis(get(MAX_SNAPSHOT_AGE_MS).unwrap_or(3_600_000)),
            min_snapshots: get(MIN_SNAPSHOTS_TO_KEEP).unwrap_or(1).max(1) as usize,
            orphan_min_age: Duration::from_millis(get(ORPHAN_MIN_AGE_MS).unwrap_or(3_600_000)),
        }
    }

    /// Checks a table property value; `None` if the key is not a retention setting.
    pub fn check_property(key: &str, value: &str) -> Option<std::result::Result<(), String>> {
        let value = value.trim();
        Some(match key {
            MAX_SNAPSHOT_AGE_MS | ORPHAN_MIN_AGE_MS => match value.parse::<u64>() {
                Ok(_) => Ok(()),
                _ => Err(format!(
                    "{key} must be a non-negative integer, not \"{value}\""
                )),
            },
            MIN_SNAPSHOTS_TO_KEEP => match value.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(()),
                _ => Err(format!("{key} must be a positive integer, not \"{value}\"")),
            },
            _ => return None,
        })
    }
}

/// What a vacuum did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VacuumSummary {
    /// Snapshots removed from the table's metadata.
    pub expired_snapshots: usize,
    /// Files deleted (data, delete, manifest and metadata files).
    pub deleted_files: usize,
}

impl TableHandle {
    /// VACUUM: flushes the buffer, compacts every group of small files and
    /// every file with deleted rows, expires snapshots past retention and
    /// deletes unreferenced files.
    pub async fn vacuum_now(self: &Arc<Self>) -> Result<(CompactionSummary, VacuumSummary)> {
        self.flush().await?;
        let compacted = self.compact(true).await?;
        let vacuumed = self.vacuum(true).await?;
        Ok((compacted, vacuumed))
    }

    /// Whether the table has snapshots its retention policy would expire now.
    pub fn has_expired_snapshots(&self) -> bool {
        let table = self.table();
        !expired(
            &table,
            &RetentionPolicy::for_table(table.metadata().properties()),
        )
        .is_empty()
    }

    /// Expires snapshots past the table's retention and deletes the files
    /// only they referenced; with `orphans`, also deletes unreferenced files
    /// under the table's location.
    ///
    /// When this returns `Ok`, the current snapshot reads what it read
    /// before, and every file it or a kept snapshot needs is still there.
    pub async fn vacuum(self: &Arc<Self>, orphans: bool) -> Result<VacuumSummary> {
        // The table as of a moment with no commit in flight: a file in its
        // metadata folder that it does not reference and that is older
        // than this moment is no write in progress. Reading manifests
        // needs no lock (they never change), so commits go on meanwhile.
        let (mut table, started) = {
            let _serial = self.lock_commits().await;
            (self.table(), std::time::SystemTime::now())
        };
        let policy = RetentionPolicy::for_table(table.metadata().properties());
        let expire = expired(&table, &policy);
        let mut summary = VacuumSummary::default();
        let mut dead = HashSet::new();
        // Snapshots share most manifests: each is read once per vacuum.
        let mut manifests = HashMap::new();
        if !expire.is_empty() {
            for id in &expire {
                if let Some(snapshot) = table.metadata().snapshot_by_id(*id) {
                    files_of(&table, snapshot, &mut dead, &mut manifests).await?;
                }
            }
            // Only the swap holds the commit lock, on the latest metadata.
            let _serial = self.lock_commits().await;
            let latest = self.table();
            let location = latest
                .metadata_location_result()
                .map_err(StorageError::iceberg("locating metadata of", self.ident()))?
                .to_string();
            let next = latest
                .metadata()
                .clone()
                .into_builder(Some(location))
                .remove_snapshots(&expire)
                .build()
                .map_err(StorageError::iceberg("expiring snapshots of", self.ident()))?
                .metadata;
            table = self.catalog().swap(&latest, next).await?;
            self.set_current(table.clone());
            summary.expired_snapshots = expire.len();
        } else if !orphans {
            return Ok(summary);
        } else {
            table = self.table();
        }
        // Every snapshot kept, and every commit since the start, holds what
        // it references in the latest metadata; a later commit references
        // only files it writes itself or that this metadata references.
        let live = live_files(&table, &mut manifests).await?;
        let root = PathBuf::from(local_path(table.metadata().location()));
        let files: Vec<(PathBuf, bool)> = [("metadata", true), ("data", false)]
            .into_iter()
            .flat_map(|(folder, metadata)| {
                walk(&root.join(folder))
                    .into_iter()
                    .map(move |p| (p, metadata))
            })
            .collect();
        // Paths on disk and paths in the metadata must be spelled alike, or
        // every file would look unreferenced: the current metadata file
        // proves they are.
        let current = table.metadata_location().map(|l| local_path(l).to_string());
        if !files
            .iter()
            .any(|(p, _)| Some(p.to_string_lossy().as_ref()) == current.as_deref())
        {
            return Err(StorageError::DataFileIo {
                path: root.to_string_lossy().to_string(),
                reason: format!(
                    "the current metadata file {} is not under the table's location; \
                     not deleting unreferenced files",
                    current.unwrap_or_default()
                ),
            });
        }
        let now = std::time::SystemTime::now();
        // Files of a write still in flight are newer than its start.
        let writing_since = self.writes.oldest();
        for (path, in_metadata) in files {
            let name = path.to_string_lossy().to_string();
            if live.contains(&name) {
                continue;
            }
            let old_enough = || {
                std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .filter(|at| writing_since.is_none_or(|since| *at < since))
                    .and_then(|at| now.duration_since(at).ok())
                    .is_some_and(|age| age >= policy.orphan_min_age)
            };
            // Everything in the metadata folder is written under the commit
            // lock, so an unreferenced file there written before `started`
            // is no write in progress.
            let written_before = || {
                std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at < started)
            };
            if dead.contains(&name)
                || (in_metadata && written_before())
                || (orphans && old_enough())
            {
                match std::fs::remove_file(&path) {
                    Ok(()) => summary.deleted_files += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(StorageError::DataFileIo {
                            path: name,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        }
        if summary != VacuumSummary::default() {
            tracing::info!(table = %self.ident(), expired = summary.expired_snapshots,
                deleted = summary.deleted_files, "vacuumed");
        }
        Ok(summary)
    }
}

/// The snapshots `policy` expires: older than the maximum age and not among
/// the newest `min_snapshots` of the current snapshot's history.
fn expired(table: &Table, policy: &RetentionPolicy) -> Vec<i64> {
    let metadata = table.metadata();
    let mut keep = HashSet::new();
    let mut at = metadata.current_snapshot();
    while let Some(snapshot) = at {
        if keep.len() >= policy.min_snapshots {
            break;
        }
        keep.insert(snapshot.snapshot_id());
        at = snapshot
            .parent_snapshot_id()
            .and_then(|id| metadata.snapshot_by_id(id));
    }
    let now = floe_common::now_ms();
    let cutoff = now - policy.max_snapshot_age.as_millis() as i64;
    metadata
        .snapshots()
        .filter(|s| !keep.contains(&s.snapshot_id()) && s.timestamp_ms() <= cutoff)
        .map(|s| s.snapshot_id())
        .collect()
}

/// Every file the table's metadata references: its metadata files (the
/// current one and those in the metadata log) and, for every snapshot, the
/// manifest list, the manifests and their data and delete files. Paths are
/// local filesystem paths.
async fn live_files(
    table: &Table,
    manifests: &mut HashMap<String, Vec<String>>,
) -> Result<HashSet<String>> {
    let mut live = HashSet::new();
    if let Some(current) = table.metadata_location() {
        live.insert(local_path(current).to_string());
    }
    for entry in table.metadata().metadata_log() {
        live.insert(local_path(&entry.metadata_file).to_string());
    }
    for snapshot in table.metadata().snapshots() {
        files_of(table, snapshot, &mut live, manifests).await?;
    }
    Ok(live)
}

/// Adds the files one snapshot references to `into`; `seen` caches the
/// contents of manifests (which never change once written) shared between
/// snapshots.
async fn files_of(
    table: &Table,
    snapshot: &SnapshotRef,
    into: &mut HashSet<String>,
    seen: &mut HashMap<String, Vec<String>>,
) -> Result<()> {
    let err = |op| StorageError::iceberg(op, table.identifier());
    into.insert(local_path(snapshot.manifest_list()).to_string());
    let list = table
        .manifest_list_reader(snapshot)
        .load()
        .await
        .map_err(err("reading manifests of"))?;
    for manifest in list.entries() {
        let path = local_path(&manifest.manifest_path).to_string();
        if !seen.contains_key(&path) {
            let loaded = manifest
                .load_manifest(table.file_io())
                .await
                .map_err(err("reading manifests of"))?;
            // An entry marked deleted records that this snapshot removed
            // the file; the snapshots that still hold it list it as alive.
            let files = loaded
                .entries()
                .iter()
                .filter(|e| e.is_alive())
                .map(|e| local_path(e.file_path()).to_string())
                .collect();
            seen.insert(path.clone(), files);
        }
        into.extend(seen[&path].iter().cloned());
        into.insert(path);
    }
    Ok(())
}

/// Every file under `dir`, recursively; a missing folder has none.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out
}
