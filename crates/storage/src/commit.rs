//! Floe's own commit path for changes the Iceberg library does not commit:
//! row deltas (added data files plus position-delete files in one snapshot)
//! and schema evolution by field id.
//!
//! A commit writes every new file first (data, deletes, manifests, manifest
//! list; each is fsynced when closed), then hands the new metadata to
//! [`SqliteCatalog::swap`](crate::catalog::SqliteCatalog::swap), which
//! writes it and swaps the table's metadata pointer in the SQLite catalog
//! with a compare-and-swap on the previous pointer. Until that swap nothing
//! is visible; after it, all is.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema};
use bytes::Bytes;
use iceberg::TableUpdate;
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, FormatVersion, MAIN_BRANCH,
    ManifestContentType, ManifestFile, ManifestListWriter, ManifestWriterBuilder, Operation,
    Schema, Snapshot, SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Struct,
    Summary, TableMetadata,
};
use iceberg::table::Table;
use parquet::arrow::ArrowWriter;

use crate::plan::PlanCache;
use crate::{Result, StorageError};

/// Iceberg's reserved field id of `file_path` in position-delete files.
const DELETE_FILE_PATH_ID: i32 = 2147483546;
/// Iceberg's reserved field id of `pos` in position-delete files.
const DELETE_POS_ID: i32 = 2147483545;

/// Rows to delete from one data file, by position.
#[derive(Debug, Clone)]
pub struct PositionDeletes {
    /// The data file's location as the manifests name it.
    pub data_file: String,
    /// The data file's partition and partition spec id.
    pub partition: Option<(Struct, i32)>,
    /// Zero-based positions, sorted and distinct.
    pub positions: Vec<u64>,
}

/// New metadata with `schema` as the current schema.
pub(crate) fn with_schema(
    base: &Table,
    schema: Schema,
    properties: &[(&str, String)],
) -> Result<TableMetadata> {
    let ident = base.identifier();
    let location = base
        .metadata_location_result()
        .map_err(StorageError::iceberg("locating metadata of", ident))?
        .to_string();
    let builder = base
        .metadata()
        .clone()
        .into_builder(Some(location))
        .add_current_schema(schema)
        .map_err(|e| StorageError::InvalidAlter {
            table: ident.to_string(),
            reason: e.message().to_string(),
        })?;
    let builder = match set_properties(properties) {
        Some(update) => update
            .apply(builder)
            .map_err(StorageError::iceberg("setting properties of", ident))?,
        None => builder,
    };
    Ok(builder
        .build()
        .map_err(|e| StorageError::InvalidAlter {
            table: ident.to_string(),
            reason: e.message().to_string(),
        })?
        .metadata)
}

/// The update that sets `properties`; `None` if there are none.
fn set_properties(properties: &[(&str, String)]) -> Option<TableUpdate> {
    (!properties.is_empty()).then(|| TableUpdate::SetProperties {
        updates: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    })
}

/// Writes a position-delete file for each of `deletes` that deletes a row.
pub(crate) async fn write_deletes(
    table: &Table,
    deletes: &[PositionDeletes],
) -> Result<Vec<DataFile>> {
    let mut out = Vec::with_capacity(deletes.len());
    for delete in deletes.iter().filter(|d| !d.positions.is_empty()) {
        out.push(write_position_deletes(table, delete).await?);
    }
    Ok(out)
}

/// Writes one position-delete file for rows of one data file.
async fn write_position_deletes(table: &Table, deletes: &PositionDeletes) -> Result<DataFile> {
    let ident = table.identifier();
    let field = |name: &str, ty: DataType, id: i32| {
        Field::new(name, ty, false).with_metadata(HashMap::from([(
            parquet::arrow::PARQUET_FIELD_ID_META_KEY.to_string(),
            id.to_string(),
        )]))
    };
    let schema = Arc::new(ArrowSchema::new(vec![
        field("file_path", DataType::Utf8, DELETE_FILE_PATH_ID),
        field("pos", DataType::Int64, DELETE_POS_ID),
    ]));
    let rows = deletes.positions.len();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![deletes.data_file.as_str(); rows])),
            Arc::new(Int64Array::from_iter_values(
                deletes.positions.iter().map(|&p| p as i64),
            )),
        ],
    )
    .map_err(|source| StorageError::Arrow {
        operation: "assembling position deletes",
        source,
    })?;
    let location = format!(
        "{}/data/delete-{}.parquet",
        table.metadata().location(),
        uuid::Uuid::now_v7()
    );
    let pq = |e: parquet::errors::ParquetError| StorageError::DataFileIo {
        path: location.clone(),
        reason: e.to_string(),
    };
    let mut buffer = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buffer, schema, None).map_err(pq)?;
    writer.write(&batch).map_err(pq)?;
    writer.close().map_err(pq)?;
    let size = buffer.len() as u64;
    table
        .file_io()
        .new_output(&location)
        .map_err(StorageError::iceberg("writing deletes of", ident))?
        .write(Bytes::from(buffer))
        .await
        .map_err(StorageError::iceberg("writing deletes of", ident))?;
    let (partition, spec_id) = deletes.partition.clone().unwrap_or_else(|| {
        (
            Struct::empty(),
            table.metadata().default_partition_spec_id(),
        )
    });
    DataFileBuilder::default()
        .content(DataContentType::PositionDeletes)
        .file_path(location.clone())
        .file_format(DataFileFormat::Parquet)
        .partition(partition)
        .partition_spec_id(spec_id)
        .record_count(rows as u64)
        .file_size_in_bytes(size)
        .referenced_data_file(Some(deletes.data_file.clone()))
        .build()
        .map_err(|e| StorageError::DataFileIo {
            path: location,
            reason: e.to_string(),
        })
}

/// What a new snapshot does with the files of the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing<'a> {
    /// Keep every existing data and delete file.
    Keep,
    /// Drop them all (TRUNCATE): the snapshot holds only what it adds.
    Drop,
    /// Keep them except these data files (compaction), by location, and
    /// the position-delete files that reference them.
    Rewrite(&'a HashSet<String>),
}

/// New metadata with one more snapshot on `base` that adds `data` files and
/// `deletes` files, keeping or dropping the existing ones, and sets the
/// table `properties` in the same commit. The parent's manifest list comes
/// from `plans` (the table's plan cache), which planning the change has
/// usually read already.
pub(crate) async fn with_row_delta(
    base: &Table,
    plans: &PlanCache,
    existing: Existing<'_>,
    data: Vec<DataFile>,
    deletes: Vec<DataFile>,
    properties: &[(&str, String)],
) -> Result<TableMetadata> {
    let ident = base.identifier();
    let err = |op| StorageError::iceberg(op, ident);
    let metadata = base.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(StorageError::Unsupported {
            table: ident.to_string(),
            feature: format!("format version {}", metadata.format_version()),
        });
    }
    let snapshot_id = new_snapshot_id(metadata);
    let commit_id = uuid::Uuid::now_v7();
    let sequence_number = metadata.next_sequence_number();
    let parent = metadata.current_snapshot();

    let mut manifests: Vec<ManifestFile> = match parent {
        // A manifest that lists no live file (only files an earlier snapshot
        // removed) has done its job and is not carried forward.
        Some(parent) if existing != Existing::Drop => plans
            .manifest_list(base, parent)
            .await?
            .iter()
            .filter(|m| m.has_added_files() || m.has_existing_files())
            .cloned()
            .collect(),
        _ => Vec::new(),
    };

    let schema = metadata.current_schema().clone();
    let spec = metadata.default_partition_spec().clone();
    let mut summary = SnapshotSummaryCollector::default();
    for file in data.iter().chain(&deletes) {
        summary.add_file(file, schema.clone(), spec.clone());
    }
    let ctx = ManifestContext {
        base,
        snapshot_id,
        commit_id,
    };
    let mut counter = 0;
    if let Existing::Rewrite(removed) = existing {
        manifests = rewrite_manifests(&ctx, manifests, removed, &mut summary, &mut counter).await?;
    }
    let removes_rows = !deletes.is_empty() || existing == Existing::Drop;
    let added_data = !data.is_empty();

    for (content, files) in [
        (ManifestContentType::Data, data),
        (ManifestContentType::Deletes, deletes),
    ] {
        if files.is_empty() {
            continue;
        }
        let mut writer =
            ctx.writer(&mut counter, content, schema.clone(), spec.as_ref().clone())?;
        for file in files {
            writer
                .add_file(file, sequence_number)
                .map_err(err("writing manifests of"))?;
        }
        manifests.push(
            writer
                .write_manifest_file()
                .await
                .map_err(err("writing manifests of"))?,
        );
    }

    let list_path = format!(
        "{}/metadata/snap-{snapshot_id}-0-{commit_id}.avro",
        metadata.location()
    );
    let list_out = base
        .file_io()
        .new_output(&list_path)
        .map_err(err("writing the manifest list of"))?
        .writer()
        .await
        .map_err(err("writing the manifest list of"))?;
    let mut list = ManifestListWriter::v2(
        list_out,
        snapshot_id,
        metadata.current_snapshot_id(),
        sequence_number,
    );
    list.add_manifests(manifests.into_iter())
        .map_err(err("writing the manifest list of"))?;
    list.close()
        .await
        .map_err(err("writing the manifest list of"))?;

    let properties_to_set = properties;
    let mut properties = summary.build();
    let parent_summary = parent.map(|p| &p.summary().additional_properties);
    match existing {
        Existing::Keep | Existing::Rewrite(_) => totals(&mut properties, parent_summary),
        Existing::Drop => {
            totals(&mut properties, None);
            for (removed, total) in [
                ("deleted-data-files", "total-data-files"),
                ("deleted-records", "total-records"),
            ] {
                if let Some(n) = parent_summary.and_then(|p| p.get(total)) {
                    properties.insert(removed.to_string(), n.clone());
                }
            }
        }
    }
    let operation = match (added_data, removes_rows) {
        _ if matches!(existing, Existing::Rewrite(_)) => Operation::Replace,
        (true, false) => Operation::Append,
        (false, _) => Operation::Delete,
        (true, true) => Operation::Overwrite,
    };
    let snapshot = Snapshot::builder()
        .with_manifest_list(list_path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(metadata.current_snapshot_id())
        .with_sequence_number(sequence_number)
        .with_summary(Summary {
            operation,
            additional_properties: properties,
        })
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(floe_common::now_ms())
        .build();

    let location = base
        .metadata_location_result()
        .map_err(err("locating metadata of"))?
        .to_string();
    let mut builder = metadata.clone().into_builder(Some(location));
    let mut updates = vec![
        TableUpdate::AddSnapshot { snapshot },
        TableUpdate::SetSnapshotRef {
            ref_name: MAIN_BRANCH.to_string(),
            reference: SnapshotReference::new(
                snapshot_id,
                SnapshotRetention::branch(None, None, None),
            ),
        },
    ];
    updates.extend(set_properties(properties_to_set));
    for update in updates {
        builder = update.apply(builder).map_err(err("committing to"))?;
    }
    Ok(builder.build().map_err(err("committing to"))?.metadata)
}

/// Carries the `total-*` counters of the parent snapshot forward, adding
/// what this snapshot added and subtracting what it removed.
fn totals(properties: &mut HashMap<String, String>, parent: Option<&HashMap<String, String>>) {
    let get = |map: &HashMap<String, String>, key: &str| {
        map.get(key)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    for (total, added, removed) in [
        ("total-records", "added-records", "deleted-records"),
        ("total-data-files", "added-data-files", "deleted-data-files"),
        (
            "total-delete-files",
            "added-delete-files",
            "removed-delete-files",
        ),
        (
            "total-position-deletes",
            "added-position-deletes",
            "removed-position-deletes",
        ),
        (
            "total-equality-deletes",
            "added-equality-deletes",
            "removed-equality-deletes",
        ),
        ("total-files-size", "added-files-size", "removed-files-size"),
    ] {
        let before = parent.map(|p| get(p, total)).unwrap_or(0);
        let sum = (before + get(properties, added)).saturating_sub(get(properties, removed));
        properties.insert(total.to_string(), sum.to_string());
    }
}

/// Where the manifests of a new snapshot are written.
struct ManifestContext<'a> {
    base: &'a Table,
    snapshot_id: i64,
    commit_id: uuid::Uuid,
}

impl ManifestContext<'_> {
    /// A writer for the next manifest of the snapshot.
    fn writer(
        &self,
        counter: &mut usize,
        content: ManifestContentType,
        schema: iceberg::spec::SchemaRef,
        spec: iceberg::spec::PartitionSpec,
    ) -> Result<iceberg::spec::ManifestWriter> {
        let path = format!(
            "{}/metadata/{}-m{counter}.avro",
            self.base.metadata().location(),
            self.commit_id
        );
        *counter += 1;
        let output = self
            .base
            .file_io()
            .new_output(path)
            .map_err(StorageError::iceberg(
                "writing manifests of",
                self.base.identifier(),
            ))?;
        let builder = ManifestWriterBuilder::new(output, Some(self.snapshot_id), schema, spec);
        Ok(match content {
            ManifestContentType::Data => builder.build_v2_data(),
            ManifestContentType::Deletes => builder.build_v2_deletes(),
        })
    }
}

/// Takes the `removed` data files, and the position-delete files that
/// reference them, out of `manifests`: every manifest that lists one of them
/// is merged with the others of its content into one manifest where they
/// are marked deleted and the rest existing. Manifests without any of them
/// are kept as they are.
async fn rewrite_manifests(
    ctx: &ManifestContext<'_>,
    manifests: Vec<ManifestFile>,
    removed: &HashSet<String>,
    summary: &mut SnapshotSummaryCollector,
    counter: &mut usize,
) -> Result<Vec<ManifestFile>> {
    let err = |op| StorageError::iceberg(op, ctx.base.identifier());
    let goes = |file: &DataFile| {
        removed.contains(file.file_path())
            || (file.content_type() == DataContentType::PositionDeletes
                && file
                    .referenced_data_file()
                    .is_some_and(|d| removed.contains(&d)))
    };
    let mut kept = Vec::with_capacity(manifests.len());
    let mut writers: HashMap<ManifestContentType, iceberg::spec::ManifestWriter> = HashMap::new();
    for manifest in manifests {
        let loaded = manifest
            .load_manifest(ctx.base.file_io())
            .await
            .map_err(err("reading manifests of"))?;
        if !loaded
            .entries()
            .iter()
            .any(|e| e.is_alive() && goes(e.data_file()))
        {
            kept.push(manifest);
            continue;
        }
        let writer = match writers.entry(manifest.content) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(ctx.writer(
                counter,
                manifest.content,
                loaded.metadata().schema().clone(),
                loaded.metadata().partition_spec().clone(),
            )?),
        };
        let schema = loaded.metadata().schema().clone();
        let spec = Arc::new(loaded.metadata().partition_spec().clone());
        for entry in loaded.entries().iter().filter(|e| e.is_alive()) {
            let file = entry.data_file().clone();
            let sequence = entry.sequence_number().unwrap_or(manifest.sequence_number);
            let file_sequence = entry.file_sequence_number.or(Some(sequence));
            if goes(&file) {
                summary.remove_file(&file, schema.clone(), spec.clone());
                writer
                    .add_delete_file(file, sequence, file_sequence)
                    .map_err(err("writing manifests of"))?;
            } else {
                let added_by = entry.snapshot_id().unwrap_or(manifest.added_snapshot_id);
                writer
                    .add_existing_file(file, added_by, sequence, file_sequence)
                    .map_err(err("writing manifests of"))?;
            }
        }
    }
    for (_, writer) in writers {
        kept.push(
            writer
                .write_manifest_file()
                .await
                .map_err(err("writing manifests of"))?,
        );
    }
    Ok(kept)
}

/// A positive snapshot id not used in the table yet.
fn new_snapshot_id(metadata: &TableMetadata) -> i64 {
    loop {
        let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) & (i64::MAX as u64)) as i64;
        if id != 0 && metadata.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}
