//! Planning a read of one snapshot from what the table has read before.
//!
//! Manifest lists, manifests and position-delete files never change once
//! written, so each is read once and kept per table while a snapshot the
//! table reads still lists it (of manifest lists, the last one read, which
//! the next commit also builds on). A plan after a commit reads only the
//! files the commit added, and the deleted positions of a data file are extended
//! by its new delete files rather than gathered again. Without this a
//! table under continuous change (replication, frequent small writes)
//! would re-read every manifest and delete file on every read and write,
//! and each would get slower with every commit.
//!
//! Files are pruned with their column bounds and null counts
//! ([`might_match`]), as Iceberg's inclusive metrics evaluation does.
//!
//! The cache keeps at most its limit in bytes
//! ([`crate::CacheLimits::plan_cache`]), counted approximately. Past it,
//! after a plan, it lets go first of merged deleted positions (rebuilt
//! from the delete files without reading), then of delete files, then of
//! manifests, which later plans read again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use iceberg::expr::{Bind, BoundPredicate, Predicate, PredicateOperator};
use iceberg::spec::{
    DataContentType, DataFile, ManifestContentType, ManifestEntryRef, ManifestFile, PrimitiveType,
    Struct,
};
use iceberg::table::Table;

use crate::scan::{LiveFile, local_path, read_position_deletes};
use crate::{Result, StorageError};

/// What planning has read of one table; see the module docs.
#[derive(Default)]
pub(crate) struct PlanCache {
    state: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    /// The manifest list read last (normally the current snapshot's), by
    /// location, with its manifests.
    list: Option<(String, Arc<Vec<ManifestFile>>)>,
    /// Manifest location → its live entries, and their approximate bytes.
    manifests: HashMap<String, (Arc<Vec<ManifestEntryRef>>, u64)>,
    /// Position-delete file location → positions per data file location,
    /// and their approximate bytes.
    deletes: HashMap<String, (Arc<DeletedPositions>, u64)>,
    /// Data file location → the delete files applied and their positions.
    merged: HashMap<String, Merged>,
}

/// Positions one delete file deletes, per data file location, sorted.
pub(crate) type DeletedPositions = HashMap<String, Vec<u64>>;

struct Merged {
    /// The delete files whose positions `deleted` holds, sorted.
    applied: Vec<String>,
    deleted: Arc<BTreeSet<u64>>,
}

impl PlanCache {
    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entries held (manifest list, manifests, delete files, data
    /// files with merged deletes) and their approximate bytes.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let cached = self.cached();
        let entries = cached.list.is_some() as usize
            + cached.manifests.len()
            + cached.deletes.len()
            + cached.merged.len();
        (entries as u64, cached.bytes())
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        *self.cached() = Cached::default();
    }

    /// The files to read for `table` at `snapshot_id` (the current
    /// snapshot if `None`), pruned by `predicate` with file statistics.
    pub(crate) async fn live_files(
        &self,
        table: &Table,
        snapshot_id: Option<i64>,
        predicate: Option<Predicate>,
    ) -> Result<Vec<LiveFile>> {
        let ident = table.identifier().to_string();
        let metadata = table.metadata();
        let current = snapshot_id.is_none() || snapshot_id == metadata.current_snapshot_id();
        let Some(snapshot) = snapshot_id
            .or(metadata.current_snapshot_id())
            .and_then(|id| metadata.snapshot_by_id(id))
        else {
            if current {
                *self.cached() = Cached::default();
            }
            return Ok(Vec::new());
        };
        let list = self.manifest_list(table, snapshot).await?;
        let entries = self.entries(table, &list).await?;
        // Pruning only saves reading: a filter Iceberg cannot bind (a
        // literal it cannot convert to the column's type, such as the text
        // 'NaN' for a double) prunes nothing and is evaluated on the rows.
        let predicate = predicate.and_then(|p| {
            p.rewrite_not()
                .bind(metadata.current_schema().clone(), true)
                .inspect_err(
                    |e| tracing::debug!(table = %ident, error = %e, "the filter prunes no files"),
                )
                .ok()
        });

        let mut data: Vec<&DataFile> = Vec::new();
        let mut delete_paths: Vec<&str> = Vec::new();
        for entry in entries.iter().flat_map(|m| m.iter()) {
            let file = entry.data_file();
            match file.content_type() {
                DataContentType::Data => data.push(file),
                DataContentType::PositionDeletes => delete_paths.push(file.file_path()),
                DataContentType::EqualityDeletes => {
                    return Err(StorageError::Unsupported {
                        table: ident,
                        feature: "equality delete files".into(),
                    });
                }
            }
        }
        let deletes = self.delete_files(&delete_paths).await?;

        // Which delete files name each data file.
        let mut by_data: HashMap<&str, Vec<&str>> = HashMap::new();
        for (path, positions) in &deletes {
            for data_file in positions.keys() {
                by_data.entry(data_file).or_default().push(path);
            }
        }
        let spec_id = metadata.default_partition_spec_id();
        let mut cached = self.cached();
        let mut out = Vec::with_capacity(data.len());
        for file in data {
            let mut applied = by_data.remove(file.file_path()).unwrap_or_default();
            applied.sort_unstable();
            let deleted = if current {
                cached.merged_deletes(file.file_path(), &applied, &deletes)
            } else {
                Arc::new(merge(file.file_path(), &applied, &deletes, BTreeSet::new()))
            };
            if let Some(predicate) = &predicate
                && !might_match(predicate, file)
            {
                continue;
            }
            out.push(LiveFile {
                location: file.file_path().to_string(),
                path: local_path(file.file_path()).to_string(),
                size: file.file_size_in_bytes(),
                record_count: Some(file.record_count()),
                deleted,
                // Floe never evolves partition specs, so every file has the default one.
                partition: Some((file.partition().clone(), spec_id)),
            });
        }
        if current {
            cached.keep_only(&list, &entries, &deletes);
        }
        cached.bound(limit(table));
        Ok(out)
    }

    /// The partition of every data file of the current snapshot, by location.
    pub(crate) async fn file_partitions(&self, table: &Table) -> Result<HashMap<String, Struct>> {
        let Some(snapshot) = table.metadata().current_snapshot() else {
            return Ok(HashMap::new());
        };
        let list = self.manifest_list(table, snapshot).await?;
        let partitions = self
            .entries(table, &list)
            .await?
            .iter()
            .flat_map(|m| m.iter())
            .filter(|e| e.content_type() == DataContentType::Data)
            .map(|e| (e.file_path().to_string(), e.data_file().partition().clone()))
            .collect();
        self.cached().bound(limit(table));
        Ok(partitions)
    }

    /// The manifests `snapshot` lists, read where not cached.
    pub(crate) async fn manifest_list(
        &self,
        table: &Table,
        snapshot: &iceberg::spec::SnapshotRef,
    ) -> Result<Arc<Vec<ManifestFile>>> {
        let list_path = snapshot.manifest_list();
        if let Some((path, list)) = &self.cached().list
            && path == list_path
        {
            return Ok(list.clone());
        }
        let list: Vec<ManifestFile> = table
            .manifest_list_reader(snapshot)
            .load()
            .await
            .map_err(StorageError::iceberg(
                "reading manifests of",
                table.identifier(),
            ))?
            .consume_entries()
            .into_iter()
            .collect();
        let list = Arc::new(list);
        self.cached().list = Some((list_path.to_string(), list.clone()));
        Ok(list)
    }

    /// The live entries of every manifest of `list`, read where not cached.
    async fn entries(
        &self,
        table: &Table,
        list: &[ManifestFile],
    ) -> Result<Vec<Arc<Vec<ManifestEntryRef>>>> {
        let err = |op| StorageError::iceberg(op, table.identifier());
        let mut out = Vec::with_capacity(list.len());
        for manifest in list.iter() {
            if !manifest.has_added_files() && !manifest.has_existing_files() {
                continue;
            }
            let cached = self
                .cached()
                .manifests
                .get(&manifest.manifest_path)
                .map(|(entries, _)| entries.clone());
            let entries = match cached {
                Some(entries) => entries,
                None => {
                    let loaded = manifest
                        .load_manifest(table.file_io())
                        .await
                        .map_err(err("reading manifests of"))?;
                    let live: Vec<ManifestEntryRef> = loaded
                        .entries()
                        .iter()
                        .filter(|e| e.is_alive())
                        .filter(|e| match manifest.content {
                            ManifestContentType::Data => e.content_type() == DataContentType::Data,
                            ManifestContentType::Deletes => {
                                e.content_type() != DataContentType::Data
                            }
                        })
                        .cloned()
                        .collect();
                    let live = Arc::new(live);
                    let bytes = manifest_bytes(&manifest.manifest_path, &live);
                    self.cached()
                        .manifests
                        .insert(manifest.manifest_path.clone(), (live.clone(), bytes));
                    live
                }
            };
            out.push(entries);
        }
        Ok(out)
    }

    /// The positions of each delete file, read where not cached.
    async fn delete_files(&self, paths: &[&str]) -> Result<HashMap<String, Arc<DeletedPositions>>> {
        let mut out = HashMap::with_capacity(paths.len());
        let mut missing = Vec::new();
        {
            let cached = self.cached();
            for &path in paths {
                match cached.deletes.get(path) {
                    Some((found, _)) => {
                        out.insert(path.to_string(), found.clone());
                    }
                    None => missing.push(path.to_string()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        // Parquet reads block; keep them off the async workers.
        let read = tokio::task::spawn_blocking(move || {
            missing
                .into_iter()
                .map(|path| {
                    let mut positions = HashMap::new();
                    read_position_deletes(&path, &mut positions)?;
                    let positions: DeletedPositions = positions
                        .into_iter()
                        .map(|(data, set)| (data, set.into_iter().collect()))
                        .collect();
                    Ok((path, Arc::new(positions)))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| StorageError::DataFileIo {
            path: "position-delete files".into(),
            reason: e.to_string(),
        })??;
        let mut cached = self.cached();
        for (path, positions) in read {
            let bytes = deleted_bytes(&path, &positions);
            cached
                .deletes
                .insert(path.clone(), (positions.clone(), bytes));
            out.insert(path, positions);
        }
        Ok(out)
    }
}

/// The plan cache limit of `table`, from its properties.
fn limit(table: &Table) -> u64 {
    crate::CacheLimits::for_table(table.metadata().properties()).plan_cache
}

/// Bytes of a map slot, `String`, `Arc` and `Vec` headers, roughly.
const OVERHEAD: u64 = 96;
/// Bytes a position takes in a merged `BTreeSet`, nodes included, roughly.
const MERGED_POSITION: u64 = 16;
/// Bytes a column statistic (a count, or a bound) takes in a data file's maps.
const COLUMN_STAT: u64 = 32;

/// The approximate memory of a manifest's cached entries.
fn manifest_bytes(path: &str, entries: &[ManifestEntryRef]) -> u64 {
    let datum = std::mem::size_of::<iceberg::spec::Datum>() as u64;
    let per_entry = |e: &ManifestEntryRef| {
        let f = e.data_file();
        let counts = f.column_sizes().len()
            + f.value_counts().len()
            + f.null_value_counts().len()
            + f.nan_value_counts().len();
        let bounds = f.lower_bounds().len() + f.upper_bounds().len();
        std::mem::size_of::<iceberg::spec::ManifestEntry>() as u64
            + f.file_path().len() as u64
            + counts as u64 * COLUMN_STAT
            + bounds as u64 * (COLUMN_STAT + datum)
            + f.split_offsets().map_or(0, |o| o.len() as u64 * 8)
            + f.partition().fields().len() as u64 * datum
            + OVERHEAD
    };
    path.len() as u64 + OVERHEAD + entries.iter().map(per_entry).sum::<u64>()
}

/// The approximate memory of a delete file's cached positions.
fn deleted_bytes(path: &str, positions: &DeletedPositions) -> u64 {
    path.len() as u64
        + OVERHEAD
        + positions
            .iter()
            .map(|(data, p)| data.len() as u64 + p.capacity() as u64 * 8 + OVERHEAD)
            .sum::<u64>()
}

impl Merged {
    /// The approximate memory of a data file's merged deleted positions.
    fn bytes(&self, data_file: &str) -> u64 {
        data_file.len() as u64
            + OVERHEAD
            + self
                .applied
                .iter()
                .map(|p| p.len() as u64 + 24)
                .sum::<u64>()
            + self.deleted.len() as u64 * MERGED_POSITION
    }
}

impl Cached {
    /// The approximate memory of everything cached.
    fn bytes(&self) -> u64 {
        let list = self.list.as_ref().map_or(0, |(path, list)| {
            path.len() as u64
                + OVERHEAD
                + list
                    .iter()
                    .map(|m| {
                        std::mem::size_of::<ManifestFile>() as u64
                            + m.manifest_path.len() as u64
                            + m.partitions.as_ref().map_or(0, |p| p.len() as u64 * 64)
                    })
                    .sum::<u64>()
        });
        list + self.manifests.values().map(|(_, b)| b).sum::<u64>()
            + self.deletes.values().map(|(_, b)| b).sum::<u64>()
            + self
                .merged
                .iter()
                .map(|(path, m)| m.bytes(path))
                .sum::<u64>()
    }

    /// Lets go of entries until within `limit` bytes: merged positions
    /// first (rebuilt without reading), then delete files, then
    /// manifests, then the manifest list.
    fn bound(&mut self, limit: u64) {
        let bytes = self.bytes();
        if bytes <= limit {
            return;
        }
        let mut excess = bytes - limit;
        let mut keep = |size: u64| {
            if excess == 0 {
                return true;
            }
            excess = excess.saturating_sub(size);
            false
        };
        self.merged.retain(|path, m| keep(m.bytes(path)));
        self.deletes.retain(|_, (_, size)| keep(*size));
        self.manifests.retain(|_, (_, size)| keep(*size));
        if excess > 0 {
            self.list = None;
        }
    }

    /// The deleted positions of `data_file` from the delete files
    /// `applied` (sorted), extending what was merged for it before.
    fn merged_deletes(
        &mut self,
        data_file: &str,
        applied: &[&str],
        deletes: &HashMap<String, Arc<DeletedPositions>>,
    ) -> Arc<BTreeSet<u64>> {
        if let Some(merged) = self.merged.get_mut(data_file) {
            if merged.applied.iter().eq(applied.iter()) {
                return merged.deleted.clone();
            }
            let before: HashSet<&str> = merged.applied.iter().map(String::as_str).collect();
            if before.iter().all(|p| applied.contains(p)) {
                let new: Vec<&str> = applied
                    .iter()
                    .copied()
                    .filter(|p| !before.contains(p))
                    .collect();
                let set = Arc::make_mut(&mut merged.deleted);
                *set = merge(data_file, &new, deletes, std::mem::take(set));
                merged.applied = applied.iter().map(|p| p.to_string()).collect();
                return merged.deleted.clone();
            }
        }
        let deleted = Arc::new(merge(data_file, applied, deletes, BTreeSet::new()));
        self.merged.insert(
            data_file.to_string(),
            Merged {
                applied: applied.iter().map(|p| p.to_string()).collect(),
                deleted: deleted.clone(),
            },
        );
        deleted
    }

    /// Forgets every file the current snapshot, listing the manifests
    /// `list`, no longer references.
    fn keep_only(
        &mut self,
        list: &[ManifestFile],
        entries: &[Arc<Vec<ManifestEntryRef>>],
        deletes: &HashMap<String, Arc<DeletedPositions>>,
    ) {
        let manifests: HashSet<&str> = list.iter().map(|m| m.manifest_path.as_str()).collect();
        let data: HashSet<&str> = entries
            .iter()
            .flat_map(|m| m.iter())
            .filter(|e| e.content_type() == DataContentType::Data)
            .map(|e| e.file_path())
            .collect();
        self.manifests
            .retain(|path, _| manifests.contains(path.as_str()));
        self.deletes.retain(|path, _| deletes.contains_key(path));
        self.merged.retain(|path, _| data.contains(path.as_str()));
    }
}

/// `into` plus the positions of `data_file` in the delete files `paths`.
fn merge(
    data_file: &str,
    paths: &[&str],
    deletes: &HashMap<String, Arc<DeletedPositions>>,
    mut into: BTreeSet<u64>,
) -> BTreeSet<u64> {
    for path in paths {
        if let Some(positions) = deletes.get(*path).and_then(|d| d.get(data_file)) {
            into.extend(positions.iter().copied());
        }
    }
    into
}

/// Whether `file` might hold rows for which `predicate` is true, from its
/// column bounds and counts; `false` only when it certainly holds none.
pub(crate) fn might_match(predicate: &BoundPredicate, file: &DataFile) -> bool {
    match predicate {
        BoundPredicate::AlwaysTrue => true,
        BoundPredicate::AlwaysFalse => false,
        BoundPredicate::And(e) => {
            let [a, b] = e.inputs();
            might_match(a, file) && might_match(b, file)
        }
        BoundPredicate::Or(e) => {
            let [a, b] = e.inputs();
            might_match(a, file) || might_match(b, file)
        }
        // NOT was rewritten away before binding; keep the file if one is left.
        BoundPredicate::Not(_) => true,
        BoundPredicate::Unary(e) => {
            let id = e.term().field().id;
            let nulls = file.null_value_counts().get(&id);
            match e.op() {
                PredicateOperator::IsNull => nulls != Some(&0),
                PredicateOperator::NotNull => {
                    !matches!((nulls, file.value_counts().get(&id)), (Some(n), Some(v)) if n == v)
                }
                _ => true,
            }
        }
        BoundPredicate::Binary(e) => {
            let Some((lower, upper)) = bounds(file, e.term().field()) else {
                return true;
            };
            let lit = e.literal();
            use std::cmp::Ordering::*;
            let cmp = |a: &iceberg::spec::Datum, b: &iceberg::spec::Datum| a.partial_cmp(b);
            match e.op() {
                PredicateOperator::LessThan => {
                    cmp(lower, lit) != Some(Greater) && cmp(lower, lit) != Some(Equal)
                }
                PredicateOperator::LessThanOrEq => cmp(lower, lit) != Some(Greater),
                PredicateOperator::GreaterThan => {
                    cmp(upper, lit) != Some(Less) && cmp(upper, lit) != Some(Equal)
                }
                PredicateOperator::GreaterThanOrEq => cmp(upper, lit) != Some(Less),
                PredicateOperator::Eq => {
                    cmp(lit, lower) != Some(Less) && cmp(lit, upper) != Some(Greater)
                }
                _ => true,
            }
        }
        BoundPredicate::Set(e) => {
            if e.op() != PredicateOperator::In {
                return true;
            }
            let Some((lower, upper)) = bounds(file, e.term().field()) else {
                return true;
            };
            e.literals().iter().any(|lit| {
                lit.partial_cmp(lower) != Some(std::cmp::Ordering::Less)
                    && lit.partial_cmp(upper) != Some(std::cmp::Ordering::Greater)
            })
        }
    }
}

/// A column's lower and upper bound in `file`, when both are known and
/// comparisons against them are sound: floating-point bounds leave NaN
/// out, and NaN compares greater than every number in SQL, so those are
/// used only when the file counts no NaN.
fn bounds<'a>(
    file: &'a DataFile,
    field: &iceberg::spec::NestedField,
) -> Option<(&'a iceberg::spec::Datum, &'a iceberg::spec::Datum)> {
    let id = field.id;
    let floating = matches!(
        field.field_type.as_primitive_type(),
        Some(PrimitiveType::Float | PrimitiveType::Double)
    );
    if floating && file.nan_value_counts().get(&id) != Some(&0) {
        return None;
    }
    Some((file.lower_bounds().get(&id)?, file.upper_bounds().get(&id)?))
}

#[cfg(test)]
mod tests;
