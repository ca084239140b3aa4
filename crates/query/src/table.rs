//! The DataFusion view of a Floe table: scans of a committed snapshot and
//! inserts through the storage writer.

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::arrow::compute::SortOptions;
use datafusion::catalog::Session;
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{LexRequirement, PhysicalSortRequirement};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan};
use floe_storage::iceberg::spec::{NullOrder, SortDirection, Transform};
use floe_storage::{CommitSummary, TableHandle};
use futures::StreamExt;
use iceberg_datafusion::physical_plan::convert_filters_to_predicate;

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
        })
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
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let table = match self.snapshot_id {
            None => self.handle.table(),
            Some(id) => self.handle.table_at(id).map_err(QueryError::from)?,
        };
        let predicate = convert_filters_to_predicate(filters);
        let files = floe_storage::live_files(&table, self.snapshot_id, predicate)
            .await
            .map_err(|e| QueryError::from(e).into_datafusion())?;
        let scan =
            crate::scan::parquet_scan(state, &self.stored, &files, projection, limit).await?;
        Ok(crate::uuid::text_scan(scan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // Filters on uuid columns compare text here but bytes in storage, so
        // they are evaluated after the scan instead of pruning files.
        let uuid_columns: Vec<&str> = self
            .schema
            .fields()
            .iter()
            .filter(|f| crate::uuid::is_uuid(f))
            .map(|f| f.name().as_str())
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
        if insert_op != InsertOp::Append {
            return Err(QueryError::Unsupported {
                feature: format!("INSERT mode {insert_op}"),
            }
            .into_datafusion());
        }
        let ordering = self.write_ordering(&input.schema());
        let sink = Arc::new(FloeSink {
            handle: self.handle.clone(),
            schema: self.schema.clone(),
        });
        Ok(Arc::new(DataSinkExec::new(input, sink, ordering)))
    }
}

/// Appends a stream of batches to a table as one commit.
///
/// When this returns `Ok`, the rows are durable and visible; on error
/// nothing of the stream is visible.
pub async fn append_stream(
    handle: &Arc<TableHandle>,
    mut stream: SendableRecordBatchStream,
) -> Result<CommitSummary, QueryError> {
    let mut append = handle.append()?;
    while let Some(batch) = stream.next().await {
        append.write(batch?).await?;
    }
    Ok(append.commit().await?)
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
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DFResult<u64> {
        let summary = append_stream(&self.handle, data)
            .await
            .map_err(|e| match e {
                QueryError::DataFusion(e) => e,
                other => other.into_datafusion(),
            })?;
        Ok(summary.rows)
    }
}

impl From<QueryError> for DataFusionError {
    fn from(e: QueryError) -> Self {
        e.into_datafusion()
    }
}
