//! `row_positions('schema.table')`: every live row of a table together with
//! the data file it is stored in (`_file`) and its position there (`_pos`).
//!
//! UPDATE, DELETE and INSERT ... ON CONFLICT find the rows they change
//! through this scan and delete them by position (Iceberg position deletes).
//! It reads files in order without pruning, so it is exact rather than fast.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use floe_storage::{LiveFile, Store, TableHandle};
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;

use crate::error::QueryError;

/// Column holding the path of the data file a row is stored in.
pub const FILE_COLUMN: &str = "_file";
/// Column holding the zero-based position of a row in its data file.
pub const POS_COLUMN: &str = "_pos";

/// Converts a batch read from a data file to the table's current schema:
/// columns are matched by Iceberg field id (so renamed columns keep their
/// data), widened types are cast, and columns added after the file was
/// written come out as NULL.
pub fn adapt_to_table(batch: &RecordBatch, table: &SchemaRef) -> DFResult<RecordBatch> {
    Ok(floe_storage::conform::conform_by_id(batch, table)?)
}

/// The table function behind `row_positions('schema.table')`.
#[derive(Debug)]
pub struct RowPositions {
    store: Arc<Store>,
    auth: Arc<floe_auth::Auth>,
}

impl RowPositions {
    /// The function over a store.
    pub fn new(store: Arc<Store>, auth: Arc<floe_auth::Auth>) -> RowPositions {
        RowPositions { store, auth }
    }
}

impl TableFunctionImpl for RowPositions {
    fn call(&self, args: &[Expr]) -> DFResult<Arc<dyn TableProvider>> {
        let [Expr::Literal(ScalarValue::Utf8(Some(name)), _)] = args else {
            return Err(DataFusionError::Plan(
                "row_positions takes a table name: row_positions('public.t')".into(),
            ));
        };
        let handle = crate::system::table_by_name(&self.store, &self.auth, name)?;
        Ok(Arc::new(PositionTable::new(handle)?))
    }
}

/// The provider behind `row_positions`.
#[derive(Debug)]
pub struct PositionTable {
    handle: Arc<TableHandle>,
    /// The stored schema, with field ids.
    stored: SchemaRef,
    /// What SQL sees: the logical table columns, then `_file` and `_pos`.
    schema: SchemaRef,
}

impl PositionTable {
    /// The table whose rows this lists.
    pub(crate) fn handle(&self) -> &Arc<TableHandle> {
        &self.handle
    }

    /// The positional view of the table's latest snapshot.
    pub fn new(handle: Arc<TableHandle>) -> Result<PositionTable, QueryError> {
        let stored = handle.arrow_schema()?;
        let logical = crate::uuid::logical_schema(&stored);
        for name in [FILE_COLUMN, POS_COLUMN] {
            if logical.index_of(name).is_ok() {
                return Err(QueryError::Unsupported {
                    feature: format!(
                        "changing rows of a table with a column named \"{name}\" (reserved)"
                    ),
                });
            }
        }
        let mut fields: Vec<Field> = logical
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(FILE_COLUMN, DataType::Utf8, false));
        fields.push(Field::new(POS_COLUMN, DataType::Int64, false));
        Ok(PositionTable {
            handle,
            stored,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

#[async_trait]
impl TableProvider for PositionTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let files = self
            .handle
            .live_files(&self.handle.table(), None, None)
            .await
            .map_err(|e| QueryError::from(e).into_datafusion())?;
        let projection = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let schema = Arc::new(self.schema.project(&projection)?);
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Arc::new(PositionScanExec {
            files,
            stored: self.stored.clone(),
            full: self.schema.clone(),
            projection,
            schema,
            properties,
        }))
    }
}

/// Reads live files in order, tagging each row with `_file` and `_pos`.
#[derive(Debug)]
struct PositionScanExec {
    files: Vec<LiveFile>,
    stored: SchemaRef,
    full: SchemaRef,
    projection: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for PositionScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "PositionScanExec: files={}", self.files.len())
    }
}

impl ExecutionPlan for PositionScanExec {
    fn name(&self) -> &str {
        "PositionScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size();
        let stored = self.stored.clone();
        let full = self.full.clone();
        let projection = self.projection.clone();
        let stream = futures::stream::iter(self.files.clone())
            .then(move |file| {
                let stored = stored.clone();
                let full = full.clone();
                let projection = projection.clone();
                async move {
                    let batches = read_file(file, batch_size).await?;
                    let out = batches.map(move |batch| {
                        let (batch, path, first) = batch?;
                        tag(&batch, &path, first, &stored, &full, &projection)
                    });
                    Ok::<_, DataFusionError>(out)
                }
            })
            .try_flatten()
            .try_filter(|b| futures::future::ready(b.num_rows() > 0));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

type FileBatches = futures::stream::BoxStream<'static, DFResult<(RecordBatch, Arc<LiveFile>, u64)>>;

/// Streams a data file's batches with the position of each batch's first row.
async fn read_file(file: LiveFile, batch_size: usize) -> DFResult<FileBatches> {
    let handle = tokio::fs::File::open(&file.path)
        .await
        .map_err(|e| DataFusionError::External(format!("{}: {e}", file.path).into()))?;
    let stream = ParquetRecordBatchStreamBuilder::new(handle)
        .await?
        .with_batch_size(batch_size)
        .build()?;
    let file = Arc::new(file);
    let mut next = 0u64;
    Ok(stream
        .map(move |batch| {
            let batch = batch?;
            let first = next;
            next += batch.num_rows() as u64;
            Ok((batch, file.clone(), first))
        })
        .boxed())
}

/// Adapts one batch to the table schema, drops deleted rows, and adds the
/// `_file` and `_pos` columns.
fn tag(
    batch: &RecordBatch,
    file: &LiveFile,
    first: u64,
    stored: &SchemaRef,
    full: &SchemaRef,
    projection: &[usize],
) -> DFResult<RecordBatch> {
    let adapted = adapt_to_table(batch, stored)?;
    let rows = adapted.num_rows();
    let mut columns = crate::uuid::columns_as_logical(adapted.columns(), full)?;
    columns.push(Arc::new(StringArray::from(vec![file.location.as_str(); rows])) as ArrayRef);
    columns.push(Arc::new(Int64Array::from_iter_values(
        (first..first + rows as u64).map(|p| p as i64),
    )));
    let tagged = RecordBatch::try_new(full.clone(), columns)?.project(projection)?;
    if file
        .deleted
        .range(first..first + rows as u64)
        .next()
        .is_none()
    {
        return Ok(tagged);
    }
    let keep: BooleanArray = (first..first + rows as u64)
        .map(|p| Some(!file.deleted.contains(&p)))
        .collect();
    Ok(filter_record_batch(&tagged, &keep)?)
}
