//! Compaction: merging a table's small data files into files of the target
//! size, sorted by the table's sort order, with deleted rows left out.
//!
//! Flushes write one file per flush, so a busy table gains a small file
//! every few seconds. Compaction groups the small files of a partition by
//! size tier (sizes within a factor of 4 of each other) and rewrites a tier
//! once it holds enough files, so each row is rewritten a bounded number of
//! times (once per tier) on its way into a target-size file. A file that
//! position deletes have thinned out is rewritten without the deleted rows,
//! and its delete files go away with it.
//!
//! The new files are written without holding the table's commit lock; the
//! commit then takes it. If a snapshot since the one compaction read
//! deleted rows of the files it rewrote (a DELETE, an UPDATE, a replicated
//! change), those rows are found in the new file by where they came from
//! and deleted there in the same commit, so a concurrent change is never
//! undone and a table under continuous change still gets compacted. If a
//! rewritten file is gone (a concurrent compaction or TRUNCATE), or the
//! rows went to more than one new file, the compaction deletes what it
//! wrote and is tried again later.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use iceberg::spec::Operation;
use iceberg::table::Table;

use crate::buffer;
use crate::commit::{self, Existing, PositionDeletes};
use crate::scan::{self, LiveFile};
use crate::table::TableHandle;
use crate::writer::TableAppend;
use crate::{Result, StorageError};

/// Table property: whether background compaction runs (`true`/`false`).
pub const COMPACTION_ENABLED: &str = "floe.compaction.enabled";
/// Table property: how many small files of one size tier start a compaction.
pub const COMPACTION_MIN_INPUT_FILES: &str = "floe.compaction.min-input-files";
/// Table property (Iceberg's): the size compaction aims for, in bytes.
pub const TARGET_FILE_SIZE: &str = "write.target-file-size-bytes";

/// The compaction target when a table sets none. Smaller than Iceberg's
/// 512 MiB default because a group is sorted in memory.
const DEFAULT_TARGET: u64 = 128 << 20;
/// A file at least this fraction of the target is not small.
const SMALL_FRACTION: f64 = 0.75;
/// A file with at least this fraction of its rows deleted is rewritten.
const DELETED_FRACTION: f64 = 0.1;
/// Files within a tier differ in size by less than this factor.
const TIER_FACTOR: f64 = 4.0;

/// When and how a table's files are compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Whether background compaction runs.
    pub enabled: bool,
    /// Small files of one tier needed to start a background compaction.
    pub min_input_files: usize,
    /// The size of the files compaction writes, in bytes.
    pub target_file_size: u64,
}

impl CompactionPolicy {
    /// The policy a table's properties set.
    pub fn for_table(properties: &HashMap<String, String>) -> CompactionPolicy {
        let get = |key: &str| crate::buffer::u64_property(properties, key);
        CompactionPolicy {
            enabled: properties
                .get(COMPACTION_ENABLED)
                .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
            min_input_files: get(COMPACTION_MIN_INPUT_FILES).unwrap_or(4).max(2) as usize,
            target_file_size: get(TARGET_FILE_SIZE).unwrap_or(DEFAULT_TARGET).max(1),
        }
    }

    /// Checks a table property value; `None` if the key is not a compaction setting.
    pub fn check_property(key: &str, value: &str) -> Option<std::result::Result<(), String>> {
        let value = value.trim();
        Some(match key {
            COMPACTION_ENABLED => match value.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err(format!("{key} must be true or false, not \"{value}\"")),
            },
            COMPACTION_MIN_INPUT_FILES => match value.parse::<u64>() {
                Ok(n) if n >= 2 => Ok(()),
                _ => Err(format!(
                    "{key} must be an integer of at least 2, not \"{value}\""
                )),
            },
            TARGET_FILE_SIZE => match value.parse::<u64>() {
                Ok(n) if n > 0 => Ok(()),
                _ => Err(format!("{key} must be a positive integer, not \"{value}\"")),
            },
            _ => return None,
        })
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionSummary {
    /// Data files replaced.
    pub files_removed: usize,
    /// Data files written in their place.
    pub files_added: usize,
    /// Rows written (the live rows of the replaced files).
    pub rows: u64,
}

impl CompactionSummary {
    fn add(&mut self, other: CompactionSummary) {
        self.files_removed += other.files_removed;
        self.files_added += other.files_added;
        self.rows += other.rows;
    }
}

/// Groups of files to rewrite together, each into files of the target size.
///
/// In the background (`force` false) a size tier is compacted once it holds
/// `min_input_files` small files; `force` (VACUUM) compacts any two or more
/// small files of a partition. Files with deleted rows are rewritten in
/// both cases, alone if need be.
fn plan(files: Vec<LiveFile>, policy: &CompactionPolicy, force: bool) -> Vec<Vec<LiveFile>> {
    let target = policy.target_file_size;
    let small = |f: &LiveFile| (f.size as f64) < target as f64 * SMALL_FRACTION;
    let thinned = |f: &LiveFile| {
        let deleted = f.deleted.len() as f64;
        deleted > 0.0 && (force || deleted >= f.record_count.unwrap_or(0) as f64 * DELETED_FRACTION)
    };
    let mut by_partition: HashMap<String, Vec<LiveFile>> = HashMap::new();
    for file in files {
        let key = format!("{:?}", file.partition);
        by_partition.entry(key).or_default().push(file);
    }
    let tier_of = |f: &LiveFile| {
        if force {
            0
        } else {
            ((f.size.max(1) as f64 / (1 << 20) as f64).log(TIER_FACTOR)).floor() as i32
        }
    };
    let mut groups = Vec::new();
    for (_, files) in by_partition {
        let mut tiers: HashMap<i32, Vec<LiveFile>> = HashMap::new();
        let mut chosen = Vec::new();
        // The largest tier a thinned file is in: small files up to that
        // size are merged into its rewrite, larger ones are not (a small
        // thinned file must not drag a large file into every rewrite).
        let mut thinned_tier = None;
        for file in files {
            if thinned(&file) {
                thinned_tier = thinned_tier.max(Some(tier_of(&file)));
                chosen.push(file);
            } else if small(&file) {
                tiers.entry(tier_of(&file)).or_default().push(file);
            }
        }
        let needed = if force { 2 } else { policy.min_input_files };
        for (tier, files) in tiers {
            if files.len() >= needed || thinned_tier.is_some_and(|t| tier <= t) {
                chosen.extend(files);
            }
        }
        groups.extend(pack(chosen, target));
    }
    groups
}

/// Packs files into groups of about `target` bytes, keeping their order;
/// a group of one file with nothing deleted would gain nothing and is left out.
fn pack(files: Vec<LiveFile>, target: u64) -> Vec<Vec<LiveFile>> {
    let mut groups: Vec<Vec<LiveFile>> = Vec::new();
    let mut current: Vec<LiveFile> = Vec::new();
    let mut bytes = 0;
    for file in files {
        if !current.is_empty() && bytes + file.size > target {
            groups.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += file.size;
        current.push(file);
    }
    groups.push(current);
    groups.retain(|g| g.len() > 1 || g.first().is_some_and(|f| !f.deleted.is_empty()));
    groups
}

impl TableHandle {
    /// Compacts the table's small files by its compaction policy; `force`
    /// compacts every group of two or more small files and every file with
    /// deleted rows, whatever the policy's thresholds.
    ///
    /// When this returns `Ok`, the replaced files are out of the current
    /// snapshot and the table reads exactly the rows it read before.
    pub async fn compact(self: &Arc<Self>, force: bool) -> Result<CompactionSummary> {
        let base = self.table();
        let policy = CompactionPolicy::for_table(base.metadata().properties());
        if !force && !policy.enabled {
            return Ok(CompactionSummary::default());
        }
        let files = self.live_files(&base, None, None).await?;
        let mut read_at = base.metadata().current_snapshot_id();
        let mut live: HashMap<String, LiveFile> = files
            .iter()
            .map(|f| (f.location.clone(), f.clone()))
            .collect();
        let mut summary = CompactionSummary::default();
        for group in plan(files, &policy, force) {
            // Each group commits on its own, so a long compaction makes
            // progress and later groups build on the earlier ones. The
            // group's deleted rows must be those of the snapshot the
            // rewrite checks against: a change committed since the plan
            // (a DELETE, a replicated UPDATE, an earlier group) is read
            // again, and a group whose files are gone is skipped.
            let base = self.table();
            if base.metadata().current_snapshot_id() != read_at {
                live = self
                    .live_files(&base, None, None)
                    .await?
                    .into_iter()
                    .map(|f| (f.location.clone(), f))
                    .collect();
                read_at = base.metadata().current_snapshot_id();
            }
            let Some(group) = group
                .iter()
                .map(|f| live.get(&f.location).cloned())
                .collect::<Option<Vec<LiveFile>>>()
            else {
                continue;
            };
            match self.rewrite(&base, group).await? {
                Some(done) => summary.add(done),
                None => break,
            }
        }
        Ok(summary)
    }

    /// Rewrites one group of files; `None` if a concurrent change to the
    /// table got in first (nothing is committed then).
    async fn rewrite(
        self: &Arc<Self>,
        base: &Table,
        group: Vec<LiveFile>,
    ) -> Result<Option<CompactionSummary>> {
        let metadata = base.metadata();
        let schema = self.arrow_schema()?;
        let sorted = !metadata.default_sort_order().is_unsorted();
        let mut append = TableAppend::new(self.clone(), base.clone())?;
        let mut pending = Vec::new();
        // Where each written row came from, (file in the group, position),
        // in the order the rows are written.
        let mut origins: Vec<(usize, u64)> = Vec::new();
        for (index, file) in group.iter().enumerate() {
            origins.extend(live_positions(file).map(|pos| (index, pos)));
            let batches = read_live_rows(file.clone(), schema.clone()).await?;
            if sorted {
                pending.extend(batches);
            } else {
                for batch in batches {
                    append.write(batch).await?;
                }
            }
        }
        if sorted && !pending.is_empty() {
            let batch = arrow::compute::concat_batches(&schema, &pending).map_err(|source| {
                StorageError::Arrow {
                    operation: "assembling rows to compact",
                    source,
                }
            })?;
            drop(pending);
            let order = metadata.default_sort_order();
            let batch = match buffer::sort_indices(&batch, order, metadata.current_schema())? {
                Some(indices) => {
                    origins = indices
                        .values()
                        .iter()
                        .map(|&i| origins[i as usize])
                        .collect();
                    arrow::compute::take_record_batch(&batch, &indices).map_err(|source| {
                        StorageError::Arrow {
                            operation: "sorting rows to compact",
                            source,
                        }
                    })?
                }
                None => batch,
            };
            append.write(batch).await?;
        }
        let (data, rows, _in_flight) = append.finish().await?;
        let removed: HashSet<String> = group.iter().map(|f| f.location.clone()).collect();
        let added = data.len();
        let written: Vec<String> = data.iter().map(|f| f.file_path().to_string()).collect();
        let discard = |written: Vec<String>| {
            for path in written {
                let _ = std::fs::remove_file(scan::local_path(&path));
            }
        };

        let keys = match &data[..] {
            [file] => self.keys_of_new_file(base, file).await?,
            _ => None,
        };

        let _serial = self.lock_commits().await;
        let latest = self.table();
        let mut deletes = Vec::new();
        if !only_appends_since(&latest, base) {
            // Rows of the group deleted since it was read (a DELETE, a
            // replicated UPDATE) are deleted from the new file instead.
            match self.rebase(&latest, &group, &origins, &data).await? {
                Some(rebased) => deletes = rebased,
                None => {
                    drop(_serial);
                    discard(written);
                    return Ok(None);
                }
            }
        }
        let delete_files = match commit::write_deletes(&latest, &deletes).await {
            Ok(files) => files,
            Err(e) => {
                drop(_serial);
                discard(written);
                return Err(e);
            }
        };
        let metadata = commit::with_row_delta(
            &latest,
            &self.plans,
            Existing::Rewrite(&removed),
            data,
            delete_files,
            &[],
        )
        .await?;
        let committed = self.catalog().swap(&latest, metadata).await?;
        self.set_current(committed);
        self.keep_keys(removed.iter().map(String::as_str), keys);
        tracing::info!(table = %self.ident(), removed = removed.len(), added, rows,
            "compacted data files");
        Ok(Some(CompactionSummary {
            files_removed: removed.len(),
            files_added: added,
            rows,
        }))
    }

    /// The position deletes that carry onto the rewritten file the rows of
    /// `group` deleted between its read and `latest`; `None` if that cannot
    /// be done (a file of the group is gone, or the rows went to more than
    /// one file) and the rewrite must be dropped.
    async fn rebase(
        &self,
        latest: &Table,
        group: &[LiveFile],
        origins: &[(usize, u64)],
        data: &[iceberg::spec::DataFile],
    ) -> Result<Option<Vec<PositionDeletes>>> {
        let now: HashMap<String, LiveFile> = self
            .live_files(latest, None, None)
            .await?
            .into_iter()
            .map(|f| (f.location.clone(), f))
            .collect();
        let mut gone: Vec<(usize, u64)> = Vec::new();
        for (index, file) in group.iter().enumerate() {
            let Some(current) = now.get(&file.location) else {
                return Ok(None);
            };
            gone.extend(
                current
                    .deleted
                    .difference(&file.deleted)
                    .map(|&pos| (index, pos)),
            );
        }
        if gone.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let [written] = data else {
            return Ok(None);
        };
        if origins.len() as u64 != written.record_count() {
            return Ok(None);
        }
        let gone: HashSet<(usize, u64)> = gone.into_iter().collect();
        let positions: Vec<u64> = origins
            .iter()
            .enumerate()
            .filter(|(_, origin)| gone.contains(origin))
            .map(|(at, _)| at as u64)
            .collect();
        Ok(Some(vec![PositionDeletes {
            data_file: written.file_path().to_string(),
            partition: Some((
                written.partition().clone(),
                latest.metadata().default_partition_spec_id(),
            )),
            positions,
        }]))
    }
}

/// The positions of a data file's rows that are not deleted, in order.
fn live_positions(file: &LiveFile) -> impl Iterator<Item = u64> + '_ {
    (0..file.record_count.unwrap_or(0)).filter(|pos| !file.deleted.contains(pos))
}

/// Whether every snapshot from `base`'s current one to `latest`'s current
/// one only appended files (so `base`'s files and deletes are unchanged).
fn only_appends_since(latest: &Table, base: &Table) -> bool {
    let target = base.metadata().current_snapshot_id();
    let metadata = latest.metadata();
    let mut at = metadata.current_snapshot();
    loop {
        match at {
            Some(snapshot) if Some(snapshot.snapshot_id()) == target => return true,
            Some(snapshot) => {
                if snapshot.summary().operation != Operation::Append {
                    return false;
                }
                at = snapshot
                    .parent_snapshot_id()
                    .and_then(|id| metadata.snapshot_by_id(id));
            }
            None => return target.is_none(),
        }
    }
}

/// Reads the rows of a data file that no position delete removed,
/// conformed by field id to the table's current `schema`.
async fn read_live_rows(file: LiveFile, schema: SchemaRef) -> Result<Vec<RecordBatch>> {
    tokio::task::spawn_blocking(move || {
        scan::read_rows(&file, &schema, scan::Rows::AllBut(&file.deleted))
    })
    .await
    .map_err(|e| StorageError::DataFileIo {
        path: "(compaction)".into(),
        reason: e.to_string(),
    })?
}

#[cfg(test)]
mod tests;
