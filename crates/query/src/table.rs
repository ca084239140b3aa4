//! The DataFusion view of a Floe table: scans of a committed snapshot and
//! inserts through the storage writer.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::arrow::compute::SortOptions;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{LexRequirement, PhysicalSortRequirement};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use floe_storage::TableHandle;
use floe_storage::iceberg::spec::{NullOrder, SortDirection, Transform};
use futures::StreamExt;

use crate::error::QueryError;

/// A Floe table as DataFusion sees it.
///
/// Every scan reads one committed snapshot, fixed when the scan is planned:
/// a reader never sees a commit that lands while it runs.
#[derive(Debug)]
pub struct FloeTable {
    handle: Arc<TableHandle>,
    /// The schema as stored, with Iceberg field ids.
    stored: SchemaRef,
    /// The schema SQL sees.
    schema: SchemaRef,
    snapshot_id: Option<i64>,
    /// Each column's default, planned, by column name; or why they no
    /// longer plan (then every INSERT fails, rather than write NULLs).
    defaults: Result<std::collections::HashMap<String, Expr>, String>,
    /// Its size, for the join order ([`crate::estimates`]).
    estimates: Option<Arc<crate::estimates::TableEstimates>>,
}

/// The table a scan in a plan reads, as (schema, table), when it reads a
/// Floe table (directly, at a snapshot, or with its row positions).
pub(crate) fn scanned_table(
    source: &Arc<dyn datafusion::logical_expr::TableSource>,
) -> Option<(String, String)> {
    let provider = datafusion::datasource::source_as_provider(source).ok()?;
    let handle = if let Some(t) = provider.downcast_ref::<FloeTable>() {
        &t.handle
    } else {
        provider
            .downcast_ref::<crate::positions::PositionTable>()?
            .handle()
    };
    Some((handle.schema_name(), handle.name().to_string()))
}

impl FloeTable {
    /// The latest state of the table.
    pub fn new(handle: Arc<TableHandle>) -> Result<FloeTable, QueryError> {
        let stored = handle.arrow_schema()?;
        let schema = crate::uuid::logical_schema(&stored);
        Ok(FloeTable {
            handle,
            stored,
            schema,
            snapshot_id: None,
            defaults: Ok(Default::default()),
            estimates: None,
        })
    }

    /// The table with its columns' defaults ([`crate::defaults`]).
    pub(crate) fn with_defaults(
        mut self,
        defaults: Result<std::collections::HashMap<String, Expr>, QueryError>,
    ) -> FloeTable {
        self.defaults = defaults.map_err(|e| e.to_string());
        self
    }

    /// The table with its size ([`crate::estimates`]).
    pub(crate) fn with_estimates(
        mut self,
        estimates: Option<Arc<crate::estimates::TableEstimates>>,
    ) -> FloeTable {
        self.estimates = estimates;
        self
    }

    /// Its live rows, if known.
    pub(crate) fn estimated_rows(&self) -> Option<f64> {
        self.estimates.as_ref().map(|e| e.rows)
    }

    /// The smallest and largest value of the integer column `name`, if
    /// known.
    pub(crate) fn estimated_range(&self, name: &str) -> Option<(i64, i64)> {
        let field = self.stored.field_with_name(name).ok()?;
        let id = floe_storage::conform::field_id(field)?.parse().ok()?;
        self.estimates.as_ref()?.range(id)
    }

    /// The table as of an earlier snapshot (time travel); read-only.
    pub fn at_snapshot(
        handle: Arc<TableHandle>,
        snapshot_id: i64,
    ) -> Result<FloeTable, QueryError> {
        handle.table_at(snapshot_id)?;
        let stored = handle.arrow_schema()?;
        let schema = crate::uuid::logical_schema(&stored);
        Ok(FloeTable {
            handle,
            stored,
            schema,
            snapshot_id: Some(snapshot_id),
            defaults: Ok(Default::default()),
            estimates: None,
        })
    }

    /// The sort order rows are written in, as a requirement on the input.
    fn write_ordering(&self, input: &SchemaRef) -> Option<LexRequirement> {
        let table = self.handle.table();
        let metadata = table.metadata();
        let order = metadata.default_sort_order();
        let schema = metadata.current_schema();
        let mut reqs = Vec::new();
        for field in &order.fields {
            if field.transform != Transform::Identity {
                continue;
            }
            let name = schema.field_by_id(field.source_id)?.name.clone();
            let index = input.index_of(&name).ok()?;
            reqs.push(PhysicalSortRequirement::new(
                Arc::new(Column::new(&name, index)),
                Some(SortOptions {
                    descending: field.direction == SortDirection::Descending,
                    nulls_first: field.null_order == NullOrder::First,
                }),
            ));
        }
        LexRequirement::new(reqs)
    }
}

#[async_trait]
impl TableProvider for FloeTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.defaults.as_ref().ok()?.get(column)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let (table, buffered) = match self.snapshot_id {
            None => self
                .handle
                .read_view(&self.stored)
                .map_err(QueryError::from)?,
            Some(id) => (
                self.handle.table_at(id).map_err(QueryError::from)?,
                Vec::new(),
            ),
        };
        let predicate = crate::prune::filters_to_predicate(filters, &self.stored);
        let files = self
            .handle
            .live_files(&table, self.snapshot_id, predicate)
            .await
            .map_err(|e| QueryError::from(e).into_datafusion())?;
        let mut parts = Vec::with_capacity(2);
        if !files.is_empty() || buffered.is_empty() {
            parts.push(
                crate::scan::parquet_scan(state, &self.stored, &files, projection, limit).await?,
            );
        }
        if !buffered.is_empty() {
            // Rows acknowledged but not yet flushed to a file.
            let memory: Arc<dyn ExecutionPlan> = MemorySourceConfig::try_new_exec(
                &[buffered],
                self.stored.clone(),
                projection.cloned(),
            )?;
            parts.push(memory);
        }
        let scan = UnionExec::try_new(parts)?;
        Ok(crate::uuid::text_scan(scan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // Filters on columns SQL sees with another type than storage keeps
        // (uuid columns compare text here but bytes in storage; bit
        // strings; arrays) are evaluated after the scan instead of pruning
        // files.
        let uuid_columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .zip(self.stored.fields())
            .filter(|(f, stored)| f.data_type() != stored.data_type())
            .map(|(f, _)| f.name().as_str())
            .collect();
        Ok(filters
            .iter()
            .map(|f| {
                let on_uuid = f
                    .column_refs()
                    .iter()
                    .any(|c| uuid_columns.contains(&c.name.as_str()));
                if on_uuid {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if self.snapshot_id.is_some() {
            return Err(QueryError::Unsupported {
                feature: "writing to a table at an earlier snapshot".into(),
            }
            .into_datafusion());
        }
        if let Err(reason) = &self.defaults {
            return Err(QueryError::InvalidArgument {
                status: floe_common::Status::ObjectNotInPrerequisiteState,
                message: format!(
                    "a column default of table \"{}\" no longer plans ({reason}); \
                     set it again with ALTER TABLE ... ALTER COLUMN ... SET DEFAULT",
                    self.handle.name()
                ),
            }
            .into_datafusion());
        }
        if insert_op != InsertOp::Append {
            return Err(QueryError::Unsupported {
                feature: format!("INSERT mode {insert_op}"),
            }
            .into_datafusion());
        }
        let ordering = self.write_ordering(&input.schema());
        // The sink admits NULLs everywhere: the storage writer checks NOT
        // NULL columns and names the column, as PostgreSQL does (23502).
        let nullable: Vec<arrow::datatypes::Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let sink = Arc::new(FloeSink {
            handle: self.handle.clone(),
            schema: Arc::new(arrow::datatypes::Schema::new_with_metadata(
                nullable,
                self.schema.metadata().clone(),
            )),
        });
        Ok(Arc::new(DataSinkExec::new(input, sink, ordering)))
    }
}

/// Statements that write fewer rows than this (and fewer bytes than
/// [`DIRECT_WRITE_BYTES`]) go through the write-ahead log and the table's
/// buffer; larger ones write Parquet files and commit them directly.
pub const DIRECT_WRITE_ROWS: usize = 100_000;
/// See [`DIRECT_WRITE_ROWS`].
pub const DIRECT_WRITE_BYTES: usize = 32 << 20;

/// Appends a stream of batches to a table.
///
/// Small writes are acknowledged from the write-ahead log and buffered;
/// large ones become one snapshot of their own. Either way, when this
/// returns `Ok` the rows are durable and visible, and on error nothing of
/// the stream is.
pub async fn append_stream(
    handle: &Arc<TableHandle>,
    mut stream: SendableRecordBatchStream,
) -> Result<u64, QueryError> {
    let mut held = Vec::new();
    let (mut rows, mut bytes) = (0usize, 0usize);
    while rows < DIRECT_WRITE_ROWS && bytes < DIRECT_WRITE_BYTES {
        match stream.next().await {
            Some(batch) => {
                let batch = batch?;
                rows += batch.num_rows();
                bytes += batch.get_array_memory_size();
                held.push(batch);
            }
            None => return Ok(handle.append_buffered(&held).await?),
        }
    }
    let mut append = handle.append()?;
    for batch in held {
        append.write(batch).await?;
    }
    while let Some(batch) = stream.next().await {
        append.write(batch?).await?;
    }
    Ok(append.commit().await?.rows)
}

/// The sink behind INSERT: one commit per statement.
#[derive(Debug)]
struct FloeSink {
    handle: Arc<TableHandle>,
    schema: SchemaRef,
}

impl DisplayAs for FloeSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "FloeSink: table={}", self.handle.ident())
    }
}

#[async_trait]
impl DataSink for FloeSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DFResult<u64> {
        append_stream(&self.handle, data)
            .await
            .map_err(|e| match e {
                QueryError::DataFusion(e) => e,
                other => other.into_datafusion(),
            })
    }
}

impl From<QueryError> for DataFusionError {
    fn from(e: QueryError) -> Self {
        e.into_datafusion()
    }
}
