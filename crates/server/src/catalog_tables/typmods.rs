//! `pg_attribute` with PostgreSQL's type modifier for `numeric(p, s)`
//! columns (`atttypmod`, which the protocol library leaves at -1), so that
//! `format_type` shows `numeric(10,2)` to psql's `\d` and SQLAlchemy
//! reflects the precision and scale.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::memory::MemTable;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

use floe_storage::Store;

use super::primary_keys::relation_names;

/// The OID of type `numeric`.
const NUMERIC_OID: i32 = 1700;

/// PostgreSQL's type modifier of `numeric(precision, scale)`.
pub(super) fn numeric_typmod(precision: u8, scale: i8) -> i32 {
    ((i32::from(precision) << 16) | (i32::from(scale) & 0xffff)) + 4
}

/// The library's `pg_attribute` with the type modifiers of Floe's
/// `numeric` columns.
#[derive(Debug)]
pub(super) struct Attributes {
    pub(super) inner: Arc<dyn TableProvider>,
    pub(super) catalog: Arc<dyn SchemaProvider>,
    pub(super) store: Arc<Store>,
}

#[async_trait]
impl TableProvider for Attributes {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = collect(plan, state.task_ctx()).await?;
        let names = relation_names(self.catalog.as_ref(), state).await?;
        let mut tables = HashMap::new();
        let rows = batches
            .into_iter()
            .map(|batch| self.with_typmods(batch, &names, &mut tables))
            .collect::<Result<Vec<_>>>()?;
        MemTable::try_new(self.inner.schema(), vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

impl Attributes {
    /// `batch` with the type modifier of each `numeric(p, s)` column of a
    /// Floe table; `tables` keeps the Arrow schemas looked up so far, by
    /// relation OID (None: not a Floe table).
    fn with_typmods(
        &self,
        batch: RecordBatch,
        names: &HashMap<i32, (String, String)>,
        tables: &mut HashMap<i32, Option<SchemaRef>>,
    ) -> Result<RecordBatch> {
        let schema = batch.schema();
        let int_column = |name: &str| -> Result<ArrayRef> {
            Ok(arrow::compute::cast(
                batch.column(schema.index_of(name)?),
                &DataType::Int32,
            )?)
        };
        let (relids, types, numbers, old) = (
            int_column("attrelid")?,
            int_column("atttypid")?,
            int_column("attnum")?,
            int_column("atttypmod")?,
        );
        let (relids, types, numbers, old) = (
            relids.as_primitive::<Int32Type>(),
            types.as_primitive::<Int32Type>(),
            numbers.as_primitive::<Int32Type>(),
            old.as_primitive::<Int32Type>(),
        );
        let mut typmods = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut typmod = old.is_valid(row).then(|| old.value(row));
            if types.is_valid(row) && types.value(row) == NUMERIC_OID && relids.is_valid(row) {
                let relid = relids.value(row);
                let table = tables.entry(relid).or_insert_with(|| {
                    let (schema, table) = names.get(&relid)?;
                    self.store.table(schema, table)?.arrow_schema().ok()
                });
                let field = table.as_ref().and_then(|s| {
                    usize::try_from(numbers.value(row) - 1)
                        .ok()
                        .and_then(|i| s.fields().get(i).cloned())
                });
                if let Some(field) = field
                    && let DataType::Decimal128(p, s) | DataType::Decimal256(p, s) =
                        field.data_type()
                {
                    typmod = Some(numeric_typmod(*p, *s));
                }
            }
            typmods.push(typmod);
        }
        let typmod_at = schema.index_of("atttypmod")?;
        let mut arrays = batch.columns().to_vec();
        arrays[typmod_at] = arrow::compute::cast(
            &(Arc::new(Int32Array::from(typmods)) as ArrayRef),
            schema.field(typmod_at).data_type(),
        )?;
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}
