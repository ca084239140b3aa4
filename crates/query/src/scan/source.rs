//! Floe's Parquet file source: DataFusion's, with two guards around it.
//!
//! - **Deleted rows stay deleted under a LIMIT.** With a limit, DataFusion's
//!   Parquet opener may replace a row group's row selection by a full scan
//!   when statistics say every row matches, which would bring rows removed
//!   by position deletes back. When the scan has deletes, the openers never
//!   see the limit; it is still applied to the output.
//! - **Filters on floating-point columns are not pushed into the reader.**
//!   Parquet's min/max statistics leave NaN out, while SQL orders NaN above
//!   every number, so pruning row groups or pages by them drops NaN rows
//!   that `x = 'NaN'`, `x > 5` or a TopK threshold keep. Those filters run
//!   on the rows instead; files are still pruned by Floe's own bounds check,
//!   which knows each file's NaN count.

use std::fmt::Formatter;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileOpener, FileScanConfig, FileSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::object_store::ObjectStore;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::filter_pushdown::{FilterPushdownPropagation, PushedDown};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::{DisplayFormatType, SortOrderPushdownResult};
use datafusion_datasource::morsel::Morselizer;

/// DataFusion's Parquet source (`inner`) with Floe's guards.
pub(crate) struct FloeParquetSource {
    inner: Arc<dyn FileSource>,
    /// The scan has deleted rows: openers must not see the limit.
    deletes: bool,
}

impl std::fmt::Debug for FloeParquetSource {
    fn fmt(&self, f: &mut Formatter<'_>) -> std::fmt::Result {
        write!(f, "FloeParquetSource({})", self.inner.file_type())
    }
}

impl FloeParquetSource {
    pub(crate) fn wrapping(inner: Arc<dyn FileSource>, deletes: bool) -> Arc<dyn FileSource> {
        Arc::new(FloeParquetSource { inner, deletes })
    }

    fn wrap(&self, inner: Arc<dyn FileSource>) -> Arc<dyn FileSource> {
        FloeParquetSource::wrapping(inner, self.deletes)
    }

    /// The configuration the inner source sees.
    fn config(&self, config: &FileScanConfig) -> FileScanConfig {
        let mut config = config.clone();
        if self.deletes {
            config.limit = None;
        }
        config
    }
}

/// Whether `filter` reads a column that holds floating-point values,
/// directly or inside a struct, list or map.
fn reads_floats(filter: &Arc<dyn PhysicalExpr>, schema: &Schema) -> bool {
    collect_columns(filter).iter().any(|c| {
        schema
            .field_with_name(c.name())
            .map_or(true, |f| holds_floats(f.data_type()))
    })
}

fn holds_floats(ty: &DataType) -> bool {
    match ty {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => true,
        DataType::Struct(fields) => fields.iter().any(|f| holds_floats(f.data_type())),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => holds_floats(f.data_type()),
        DataType::Dictionary(_, value) => holds_floats(value),
        DataType::RunEndEncoded(_, values) => holds_floats(values.data_type()),
        _ => false,
    }
}

impl FileSource for FloeParquetSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        self.inner
            .create_file_opener(object_store, &self.config(base_config), partition)
    }

    fn create_morselizer(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Box<dyn Morselizer>> {
        self.inner
            .create_morselizer(object_store, &self.config(base_config), partition)
    }

    fn reorder_files(&self, files: Vec<PartitionedFile>) -> Vec<PartitionedFile> {
        self.inner.reorder_files(files)
    }

    fn table_schema(&self) -> &TableSchema {
        self.inner.table_schema()
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        self.wrap(self.inner.with_batch_size(batch_size))
    }

    fn filter(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.inner.filter()
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        self.inner.projection()
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        self.inner.metrics()
    }

    fn file_type(&self) -> &str {
        self.inner.file_type()
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut Formatter) -> std::fmt::Result {
        self.inner.fmt_extra(t, f)
    }

    fn supports_repartitioning(&self) -> bool {
        self.inner.supports_repartitioning()
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn FileSource>>> {
        let schema = self.inner.table_schema().table_schema().clone();
        let mut outcome = vec![PushedDown::No; filters.len()];
        let (offered, safe): (Vec<usize>, Vec<_>) = filters
            .into_iter()
            .enumerate()
            .filter(|(_, f)| !reads_floats(f, &schema))
            .unzip();
        let pushed = self.inner.try_pushdown_filters(safe, config)?;
        for (i, result) in offered.into_iter().zip(pushed.filters) {
            outcome[i] = result;
        }
        Ok(FilterPushdownPropagation {
            filters: outcome,
            updated_node: pushed.updated_node.map(|n| self.wrap(n)),
        })
    }

    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
        eq_properties: &EquivalenceProperties,
    ) -> Result<SortOrderPushdownResult<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_sort(order, eq_properties)?
            .map(|n| self.wrap(n)))
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_projection(projection)?
            .map(|n| self.wrap(n)))
    }
}
