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
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};

use super::primary_keys::relation_oids;

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
    pub(super) catalog_name: String,
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
        let schema = self.inner.schema();
        let mut rows = Vec::with_capacity(batches.len());
        if let Some(session) = state.as_any().downcast_ref::<SessionState>() {
            let names: HashMap<i32, (String, String)> = relation_oids(self.catalog.as_ref(), state)
                .await?
                .into_iter()
                .map(|(name, (oid, _))| (oid, name))
                .collect();
            let mut columns: HashMap<i32, Option<SchemaRef>> = HashMap::new();
            for batch in batches {
                rows.push(
                    self.with_typmods(batch, &names, &mut columns, session)
                        .await?,
                );
            }
        } else {
            rows = batches;
        }
        MemTable::try_new(schema, vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

impl Attributes {
    async fn with_typmods(
        &self,
        batch: RecordBatch,
        names: &HashMap<i32, (String, String)>,
        columns: &mut HashMap<i32, Option<SchemaRef>>,
        session: &SessionState,
    ) -> Result<RecordBatch> {
        let schema = batch.schema();
        let column =
            |name: &str| -> Result<ArrayRef> { Ok(batch.column(schema.index_of(name)?).clone()) };
        let relids = arrow::compute::cast(&column("attrelid")?, &DataType::Int32)?;
        let types = arrow::compute::cast(&column("atttypid")?, &DataType::Int32)?;
        let numbers = arrow::compute::cast(&column("attnum")?, &DataType::Int32)?;
        let typmod_at = schema.index_of("atttypmod")?;
        let old = arrow::compute::cast(batch.column(typmod_at), &DataType::Int32)?;
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
                if let std::collections::hash_map::Entry::Vacant(entry) = columns.entry(relid) {
                    let table_schema = match names.get(&relid) {
                        Some((schema, table)) => self.table_schema(session, schema, table).await?,
                        None => None,
                    };
                    entry.insert(table_schema);
                }
                let field = columns.get(&relid).and_then(|s| s.as_ref()).and_then(|s| {
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
        let mut arrays = batch.columns().to_vec();
        arrays[typmod_at] = arrow::compute::cast(
            &(Arc::new(Int32Array::from(typmods)) as ArrayRef),
            schema.field(typmod_at).data_type(),
        )?;
        Ok(RecordBatch::try_new(schema, arrays)?)
    }

    /// The Arrow schema of table `schema.table` of Floe's catalog.
    async fn table_schema(
        &self,
        session: &SessionState,
        schema: &str,
        table: &str,
    ) -> Result<Option<SchemaRef>> {
        let Some(catalog) = session.catalog_list().catalog(&self.catalog_name) else {
            return Ok(None);
        };
        let Some(provider) = catalog.schema(schema) else {
            return Ok(None);
        };
        Ok(provider.table(table).await?.map(|t| t.schema()))
    }
}
