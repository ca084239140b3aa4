//! The physical scan of a Floe table: DataFusion's Parquet reader over the
//! live data files of one snapshot.
//!
//! - Files are spread over the session's target partitions, and DataFusion
//!   may split large files further by byte range.
//! - Columns are matched to the table schema by Iceberg field id, so files
//!   written before a rename, a widening or an added column read correctly.
//! - Rows removed by position deletes are skipped through a per-file
//!   [`ParquetAccessPlan`] (a row selection), never read then filtered.
//! - Each file carries its column bounds (`file_stats`), so filters and
//!   dynamic filters (a join's, a TopK's) skip whole files unopened.
//! - Filters prune row groups and pages by statistics, and are evaluated
//!   during decoding when `datafusion.execution.parquet.pushdown_filters` is on.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::config::TableParquetOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Result, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, ParquetAccessPlan, RowGroupAccess,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::ObjectMeta;
use datafusion::object_store::path::Path;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use datafusion::physical_plan::ExecutionPlan;
use floe_storage::LiveFile;
use floe_storage::conform::field_id;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};

use source::FloeParquetSource;

mod file_stats;
mod source;

/// Builds the scan of `files` with the stored table schema `table_schema`
/// (fields carry their Iceberg field ids).
pub async fn parquet_scan(
    state: &dyn Session,
    table_schema: &SchemaRef,
    files: &[LiveFile],
    projection: Option<&Vec<usize>>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if files.is_empty() {
        // One empty partition: a scan with no file groups has none, which
        // operators that need a single partition refuse.
        let schema = match projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => table_schema.clone(),
        };
        return Ok(Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
            schema,
        )));
    }
    let url = ObjectStoreUrl::local_filesystem();
    let store = state.runtime_env().object_store(&url)?;
    let metadata_cache = state.runtime_env().cache_manager.get_file_metadata_cache();
    let options = TableParquetOptions {
        global: state.config_options().execution.parquet.clone(),
        ..Default::default()
    };
    let size_hint = options.global.metadata_size_hint;

    let mut partitioned = Vec::with_capacity(files.len());
    let mut total_rows = Some(0usize);
    for file in files {
        let meta = ObjectMeta {
            location: Path::from_absolute_path(&file.path)
                .map_err(datafusion::object_store::Error::from)?,
            // The metadata cache keys on (size, modified); Floe never rewrites a file.
            last_modified: Default::default(),
            size: file.size,
            e_tag: None,
            version: None,
        };
        let live = file.live_rows().map(|n| n as usize);
        total_rows = total_rows.zip(live).map(|(a, b)| a + b);
        let mut part = PartitionedFile::new_from_meta(meta.clone());
        // The footer is cached: the scan reads it from the cache again.
        let footer = DFParquetMetadata::new(store.as_ref(), &meta)
            .with_metadata_size_hint(size_hint)
            .with_file_metadata_cache(Some(metadata_cache.clone()))
            .fetch_metadata()
            .await?;
        if !file.deleted.is_empty() {
            let row_groups: Vec<u64> = footer
                .row_groups()
                .iter()
                .map(|rg| rg.num_rows() as u64)
                .collect();
            part = part.with_extension(skip_deleted(&row_groups, &file.deleted));
        }
        // Column bounds (see `file_stats`); no null counts: from before
        // deletes they could make DataFusion take a column for a constant.
        part = part.with_statistics(Arc::new(Statistics {
            num_rows: live.map(Precision::Exact).unwrap_or(Precision::Absent),
            total_byte_size: Precision::Inexact(file.size as usize),
            column_statistics: file_stats::column_statistics(
                &footer,
                table_schema,
                projection,
                !file.deleted.is_empty(),
            ),
        }));
        partitioned.push(part);
    }

    let source = ParquetSource::new(TableSchema::from_file_schema(table_schema.clone()))
        .with_table_parquet_options(options)
        .with_parquet_file_reader_factory(Arc::new(CachedParquetFileReaderFactory::new(
            store.clone(),
            metadata_cache,
        )));
    let source = match size_hint {
        Some(hint) => source.with_metadata_size_hint(hint),
        None => source,
    };
    let deletes = files.iter().any(|f| !f.deleted.is_empty());
    let source = FloeParquetSource::wrapping(Arc::new(source), deletes);

    let partitions = state.config_options().execution.target_partitions.max(1);
    let config = FileScanConfigBuilder::new(url, source)
        .with_file_groups(balance(partitioned, partitions))
        .with_statistics(Statistics {
            num_rows: total_rows
                .map(Precision::Exact)
                .unwrap_or(Precision::Absent),
            total_byte_size: Precision::Absent,
            column_statistics: Statistics::unknown_column(table_schema),
        })
        .with_projection_indices(projection.cloned())?
        .with_limit(limit)
        .with_expr_adapter(Some(Arc::new(FieldIdAdapterFactory)))
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// Spreads files over `partitions` groups of about equal bytes.
fn balance(mut files: Vec<PartitionedFile>, partitions: usize) -> Vec<FileGroup> {
    let groups = partitions.min(files.len()).max(1);
    files.sort_by_key(|f| std::cmp::Reverse(f.object_meta.size));
    let mut out: Vec<(u64, Vec<PartitionedFile>)> = (0..groups).map(|_| (0, Vec::new())).collect();
    for file in files {
        let smallest = out
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least one group");
        smallest.0 += file.object_meta.size;
        smallest.1.push(file);
    }
    out.into_iter()
        .filter(|(_, f)| !f.is_empty())
        .map(|(_, f)| FileGroup::new(f))
        .collect()
}

/// The rows of each row group to read, skipping deleted positions. Every
/// selection covers exactly its row group's rows.
fn skip_deleted(row_groups: &[u64], deleted: &BTreeSet<u64>) -> ParquetAccessPlan {
    let mut plan = Vec::with_capacity(row_groups.len());
    let mut start = 0u64;
    for &rows in row_groups {
        let end = start + rows;
        let gone: Vec<u64> = deleted.range(start..end).copied().collect();
        if gone.is_empty() {
            plan.push(RowGroupAccess::Scan);
        } else if gone.len() as u64 == rows {
            plan.push(RowGroupAccess::Skip);
        } else {
            let mut selectors = Vec::with_capacity(gone.len() * 2 + 1);
            let mut at = start;
            for position in gone {
                if position > at {
                    selectors.push(RowSelector::select((position - at) as usize));
                }
                selectors.push(RowSelector::skip(1));
                at = position + 1;
            }
            if end > at {
                selectors.push(RowSelector::select((end - at) as usize));
            }
            plan.push(RowGroupAccess::Selection(RowSelection::from(selectors)));
        }
        start = end;
    }
    ParquetAccessPlan::new(plan)
}

/// Matches table columns to file columns by Iceberg field id, then lets
/// DataFusion's default adapter cast widened types and fill missing columns
/// with NULL.
#[derive(Debug, Default)]
pub struct FieldIdAdapterFactory;

#[derive(Debug)]
struct FieldIdAdapter {
    /// Table column name → the name of the file column with the same id.
    rename: HashMap<String, String>,
    inner: Arc<dyn PhysicalExprAdapter>,
}

impl PhysicalExprAdapterFactory for FieldIdAdapterFactory {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> Result<Arc<dyn PhysicalExprAdapter>> {
        let physical: HashMap<&str, &str> = physical_file_schema
            .fields()
            .iter()
            .filter_map(|f| field_id(f).map(|id| (id, f.name().as_str())))
            .collect();
        let mut rename = HashMap::new();
        let fields: Vec<Field> = logical_file_schema
            .fields()
            .iter()
            .map(|field| {
                let name = match field_id(field) {
                    Some(id) if !physical.is_empty() => match physical.get(id) {
                        Some(name) => name.to_string(),
                        // Added after the file was written: a name no file
                        // column has, so it reads as NULL.
                        None => format!("__floe_missing_field_{id}"),
                    },
                    _ => field.name().clone(),
                };
                rename.insert(field.name().clone(), name.clone());
                field.as_ref().clone().with_name(name)
            })
            .collect();
        let renamed = Arc::new(Schema::new_with_metadata(
            fields,
            logical_file_schema.metadata().clone(),
        ));
        let inner = DefaultPhysicalExprAdapterFactory.create(renamed, physical_file_schema)?;
        Ok(Arc::new(FieldIdAdapter { rename, inner }))
    }
}

impl PhysicalExprAdapter for FieldIdAdapter {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        let renamed = expr
            .transform(|e| {
                if let Some(column) = e.downcast_ref::<Column>()
                    && let Some(name) = self.rename.get(column.name())
                    && name != column.name()
                {
                    let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(name, column.index()));
                    return Ok(Transformed::yes(column));
                }
                Ok(Transformed::no(e))
            })
            .data()?;
        self.inner.rewrite(renamed)
    }
}
