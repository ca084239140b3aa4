//! Reading what a plan ([`crate::plan`]) found: the live data files of a
//! snapshot with the positions of their deleted rows, and rows of those
//! files by position.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use iceberg::spec::Struct;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::{Result, StorageError};

/// A data file to read, with the positions of its deleted rows.
#[derive(Debug, Clone)]
pub struct LiveFile {
    /// The file's location as the table's manifests name it.
    pub location: String,
    /// Absolute path of the Parquet file on the local filesystem.
    pub path: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// Rows in the file, deleted ones included.
    pub record_count: Option<u64>,
    /// Zero-based positions of rows that are deleted, sorted.
    pub deleted: Arc<BTreeSet<u64>>,
    /// The partition the file belongs to, and the id of its partition spec;
    /// delete files for its rows must carry the same.
    pub partition: Option<(Struct, i32)>,
}

impl LiveFile {
    /// Rows of the file that are still live, if the row count is known.
    pub fn live_rows(&self) -> Option<u64> {
        self.record_count
            .map(|n| n.saturating_sub(self.deleted.len() as u64))
    }
}

/// Which rows of a data file [`read_rows`] returns, by position.
pub(crate) enum Rows<'a> {
    /// Every row but these (the file's deleted rows).
    AllBut(&'a BTreeSet<u64>),
    /// Only these.
    Only(&'a BTreeSet<u64>),
}

/// Reads rows of a data file by position, conformed by field id to
/// `schema`. Blocking: call it off the async workers.
pub(crate) fn read_rows(
    file: &LiveFile,
    schema: &SchemaRef,
    rows: Rows<'_>,
) -> Result<Vec<RecordBatch>> {
    let io = |reason: String| StorageError::DataFileIo {
        path: file.path.clone(),
        reason,
    };
    let handle = File::open(&file.path).map_err(|e| io(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(handle)
        .map_err(|e| io(e.to_string()))?
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| io(e.to_string()))?;
    let mut out = Vec::new();
    let mut offset = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| io(e.to_string()))?;
        let n = batch.num_rows() as u64;
        let range = offset..offset + n;
        offset += n;
        let (set, keep_listed) = match rows {
            Rows::AllBut(set) => (set, false),
            Rows::Only(set) => (set, true),
        };
        let touched = set.range(range.clone()).next().is_some();
        let batch = match (touched, keep_listed) {
            (false, false) => batch,
            (false, true) => continue,
            (true, _) => {
                let keep: BooleanArray = range
                    .map(|pos| Some(set.contains(&pos) == keep_listed))
                    .collect();
                filter_record_batch(&batch, &keep).map_err(|source| StorageError::Arrow {
                    operation: "selecting rows of a data file",
                    source,
                })?
            }
        };
        if batch.num_rows() > 0 {
            out.push(crate::buffer::conform_by_id(&batch, schema)?);
        }
    }
    Ok(out)
}

/// The filesystem path of a `file://` location.
pub fn local_path(location: &str) -> &str {
    location.strip_prefix("file://").unwrap_or(location)
}

/// Adds the (data file, position) pairs of one position-delete file.
pub(crate) fn read_position_deletes(
    location: &str,
    into: &mut HashMap<String, BTreeSet<u64>>,
) -> Result<()> {
    let io = |source: std::io::Error| StorageError::DataFileIo {
        path: location.to_string(),
        reason: source.to_string(),
    };
    let pq = |source: parquet::errors::ParquetError| StorageError::DataFileIo {
        path: location.to_string(),
        reason: source.to_string(),
    };
    let file = File::open(local_path(location)).map_err(io)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 1]);
    for batch in builder.with_projection(mask).build().map_err(pq)? {
        let batch = batch.map_err(|e| StorageError::DataFileIo {
            path: location.to_string(),
            reason: e.to_string(),
        })?;
        let paths = batch.column(0).as_any().downcast_ref::<StringArray>();
        let positions = batch.column(1).as_any().downcast_ref::<Int64Array>();
        let (Some(paths), Some(positions)) = (paths, positions) else {
            return Err(StorageError::DataFileIo {
                path: location.to_string(),
                reason: "not a position-delete file (file_path, pos)".into(),
            });
        };
        for i in 0..batch.num_rows() {
            if paths.is_null(i) || positions.is_null(i) {
                continue;
            }
            into.entry(paths.value(i).to_string())
                .or_default()
                .insert(positions.value(i) as u64);
        }
    }
    Ok(())
}
