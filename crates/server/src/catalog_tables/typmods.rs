//! `pg_attribute` with the PostgreSQL type of each column of a Floe table
//! (`atttypid`, where the protocol library says `text` for every type it
//! does not list: `timestamptz`, `uuid`, arrays, ...) and the type modifier
//! of `numeric(p, s)` columns (`atttypmod`, which it leaves at -1), so that
//! `format_type` shows `timestamp with time zone`, `integer[]` and
//! `numeric(10,2)` to psql's `\d`, and SQLAlchemy reflects them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int32Type, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::memory::MemTable;
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion_postgres::arrow_pg::datatypes::into_pg_type;
use datafusion_postgres::pgwire::api::Type;

use floe_storage::Store;

use super::primary_keys::relation_names;

/// The OID of the PostgreSQL type of a Floe table's column, as SQL sees
/// it (`field`, of the table's logical schema): the type the wire reports
/// for it, with `uuid`, `bit varying` and `smallint`, which Arrow does not
/// tell apart, named from Floe's tags.
fn column_type_oid(field: &Field) -> Option<i32> {
    let doc = field.metadata().get("doc").map(String::as_str);
    let ty = if floe_query::uuid::is_uuid(field) {
        Type::UUID
    } else if floe_query::bits::is_bits(field.data_type()) {
        Type::VARBIT
    } else if doc == Some(floe_storage::SMALLINT_DOC) {
        Type::INT2
    } else {
        into_pg_type(field.data_type()).ok()?
    };
    i32::try_from(ty.oid()).ok()
}

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
        let mut type_oids = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut typmod = old.is_valid(row).then(|| old.value(row));
            let mut type_oid = types.is_valid(row).then(|| types.value(row));
            let field = relids
                .is_valid(row)
                .then(|| relids.value(row))
                .and_then(|relid| {
                    let table = tables.entry(relid).or_insert_with(|| {
                        let (schema, table) = names.get(&relid)?;
                        let stored = self.store.table(schema, table)?.arrow_schema().ok()?;
                        Some(floe_query::uuid::logical_schema(&stored))
                    });
                    let i = usize::try_from(numbers.value(row) - 1).ok()?;
                    table.as_ref()?.fields().get(i).cloned()
                });
            if let Some(field) = field {
                type_oid = column_type_oid(&field).or(type_oid);
                let scalar = match field.data_type() {
                    DataType::List(element) => element.data_type().clone(),
                    other => other.clone(),
                };
                if let DataType::Decimal128(p, s) | DataType::Decimal256(p, s) = scalar {
                    typmod = Some(numeric_typmod(p, s));
                }
            }
            typmods.push(typmod);
            type_oids.push(type_oid);
        }
        let mut arrays = batch.columns().to_vec();
        for (name, values) in [("atttypmod", typmods), ("atttypid", type_oids)] {
            let at = schema.index_of(name)?;
            arrays[at] = arrow::compute::cast(
                &(Arc::new(Int32Array::from(values)) as ArrayRef),
                schema.field(at).data_type(),
            )?;
        }
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}
