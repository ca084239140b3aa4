//! What the planner may assume of a table's size: its live rows, and for
//! integer and date columns the range their values span.
//!
//! The join order ([`crate::join_order`]) estimates how many rows each
//! join makes. A column's values can take no more distinct values than
//! its range holds, so `supplier.s_nationkey` (0 to 24) joins each
//! customer to about 400 suppliers, where taking every key for unique
//! would expect one. The ranges come from the row group statistics in the
//! data files' Parquet footers, matched to columns by Iceberg field id;
//! rows still in the write buffer count toward the rows, not the ranges.
//!
//! They are estimates: never used to skip data or answer a query, only to
//! choose between plans that give the same answer. Data files never
//! change, so each file's ranges are read once and kept (up to
//! [`FILE_BYTES_LIMIT`], shown in `system.caches` as `column_ranges`); a
//! table's are summed again only when its snapshot changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use floe_storage::TableHandle;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::statistics::Statistics;

/// The memory the files' ranges may take; past it the cache starts over.
pub(crate) const FILE_BYTES_LIMIT: usize = 16 << 20;
/// Tables whose sums are kept; past this the cache starts over.
const TABLE_LIMIT: usize = 10_000;
/// Tables with more live files than this get rows but no ranges, so that
/// planning never reads thousands of footers.
const FOOTER_LIMIT: usize = 2_000;

/// The ranges of a file's (or a table's) columns, by Iceberg field id.
type Ranges = HashMap<i32, (i64, i64)>;

/// What the planner may assume of one table (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct TableEstimates {
    /// Live rows, in data files and in the write buffer.
    pub(crate) rows: f64,
    ranges: Arc<Ranges>,
}

impl TableEstimates {
    /// The smallest and largest value of the column with this field id, if
    /// known.
    pub(crate) fn range(&self, field_id: i32) -> Option<(i64, i64)> {
        self.ranges.get(&field_id).copied()
    }
}

/// A table's estimates as of one snapshot, before the buffered rows.
struct Summed {
    snapshot: Option<i64>,
    file_rows: f64,
    ranges: Arc<Ranges>,
}

/// The ranges read from data files, and the tables' sums of them.
#[derive(Default)]
pub(crate) struct EstimateCache {
    files: Mutex<Files>,
    tables: Mutex<HashMap<(String, String), Arc<Summed>>>,
}

/// Each file's ranges, and about the memory they take.
#[derive(Default)]
struct Files {
    ranges: HashMap<String, Arc<Ranges>>,
    bytes: usize,
}

/// About the memory one file's entry takes.
fn entry_bytes(path: &str, ranges: &Ranges) -> usize {
    96 + path.len() + ranges.len() * 32
}

impl std::fmt::Debug for EstimateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EstimateCache")
    }
}

impl EstimateCache {
    /// Files whose ranges are kept, and about the memory they take.
    pub(crate) fn usage(&self) -> (usize, usize) {
        let files = lock(&self.files);
        (files.ranges.len(), files.bytes)
    }

    /// The estimates of the table `handle` names, as of now. `None` when its
    /// files cannot be listed (the scan will report why).
    pub(crate) async fn estimates(&self, handle: &TableHandle) -> Option<Arc<TableEstimates>> {
        let table = handle.table();
        let snapshot = table.metadata().current_snapshot_id();
        let key = (handle.schema_name(), handle.name().to_string());
        let cached = lock(&self.tables).get(&key).cloned();
        let summed = match cached {
            Some(s) if s.snapshot == snapshot => s,
            _ => {
                let files = handle.live_files(&table, None, None).await.ok()?;
                let file_rows = files
                    .iter()
                    .map(|f| f.live_rows().unwrap_or(0) as f64)
                    .sum();
                let ranges = if files.len() <= FOOTER_LIMIT {
                    let paths: Vec<String> = files.into_iter().map(|f| f.path).collect();
                    self.table_ranges(paths).await
                } else {
                    Ranges::new()
                };
                let summed = Arc::new(Summed {
                    snapshot,
                    file_rows,
                    ranges: Arc::new(ranges),
                });
                let mut tables = lock(&self.tables);
                if tables.len() >= TABLE_LIMIT {
                    tables.clear();
                }
                tables.insert(key, summed.clone());
                summed
            }
        };
        Some(Arc::new(TableEstimates {
            rows: summed.file_rows + handle.buffer_stats().rows as f64,
            ranges: summed.ranges.clone(),
        }))
    }

    /// The union of the ranges of the files at `paths`. A column missing
    /// from a file's statistics has no range.
    async fn table_ranges(&self, paths: Vec<String>) -> Ranges {
        let known: Vec<Option<Arc<Ranges>>> = {
            let files = lock(&self.files);
            paths.iter().map(|p| files.ranges.get(p).cloned()).collect()
        };
        let missing: Vec<String> = paths
            .iter()
            .zip(&known)
            .filter(|(_, k)| k.is_none())
            .map(|(p, _)| p.clone())
            .collect();
        let read = if missing.is_empty() {
            Vec::new()
        } else {
            tokio::task::spawn_blocking(move || {
                missing
                    .into_iter()
                    .map(|p| {
                        let ranges = Arc::new(file_ranges(&p).unwrap_or_default());
                        (p, ranges)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default()
        };
        let mut by_path: HashMap<&str, Arc<Ranges>> = HashMap::new();
        {
            let mut files = lock(&self.files);
            for (p, r) in &read {
                let size = entry_bytes(p, r);
                if files.bytes + size > FILE_BYTES_LIMIT {
                    *files = Files::default();
                }
                if files.ranges.insert(p.clone(), r.clone()).is_none() {
                    files.bytes += size;
                }
            }
        }
        for (p, r) in &read {
            by_path.insert(p.as_str(), r.clone());
        }
        let mut out: Option<Ranges> = None;
        for (path, known) in paths.iter().zip(known) {
            let Some(file) = known.or_else(|| by_path.get(path.as_str()).cloned()) else {
                return Ranges::new();
            };
            out = Some(match out {
                None => (*file).clone(),
                Some(acc) => union(acc, &file),
            });
        }
        out.unwrap_or_default()
    }
}

/// The columns both hold, each over both ranges.
fn union(acc: Ranges, file: &Ranges) -> Ranges {
    acc.into_iter()
        .filter_map(|(id, (lo, hi))| {
            let (flo, fhi) = file.get(&id)?;
            Some((id, (lo.min(*flo), hi.max(*fhi))))
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The ranges of a data file's top-level integer columns, from its footer:
/// those whose every row group has both bounds.
fn file_ranges(path: &str) -> Option<Ranges> {
    let file = std::fs::File::open(path).ok()?;
    let footer = ParquetMetaDataReader::new().parse_and_finish(&file).ok()?;
    let schema = footer.file_metadata().schema_descr();
    let mut out = Ranges::new();
    for (i, column) in schema.columns().iter().enumerate() {
        let info = column.self_type().get_basic_info();
        if column.path().parts().len() != 1 || !info.has_id() {
            continue;
        }
        let mut range: Option<(i64, i64)> = None;
        let mut complete = true;
        for rg in footer.row_groups() {
            let bounds = match rg.column(i).statistics() {
                Some(Statistics::Int32(s)) => s
                    .min_opt()
                    .zip(s.max_opt())
                    .map(|(a, b)| (*a as i64, *b as i64)),
                Some(Statistics::Int64(s)) => s.min_opt().zip(s.max_opt()).map(|(a, b)| (*a, *b)),
                _ => None,
            };
            // A row group of nulls only has no bounds and adds no values.
            match bounds {
                Some((lo, hi)) => {
                    range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
                None if rg.column(i).statistics().and_then(|s| s.null_count_opt())
                    == Some(rg.num_rows() as u64) => {}
                None => complete = false,
            }
        }
        if let (true, Some(r)) = (complete, range) {
            out.insert(info.id(), r);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
