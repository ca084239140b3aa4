//! `pg_table_size(oid)`, `pg_relation_size(oid)` and
//! `pg_total_relation_size(oid)`: the bytes of a Floe table's data and
//! delete files in its current snapshot (`system.tables.bytes`), 0 for a
//! relation that holds no files (a view, a catalog table), NULL for an
//! OID that names no relation, as in PostgreSQL. psql's `\dt+` shows
//! them through `pg_size_pretty`. Floe has no indexes or TOAST tables, so
//! the three agree.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::datatypes::{DataType, Int32Type};
use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::{Result, exec_err};
use datafusion::execution::SessionState;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use floe_storage::{Store, summary_count};

use super::primary_keys::relation_names;

/// The size functions, for `store`'s tables as `catalog` (the protocol
/// library's `pg_catalog`) numbers them.
pub(super) fn functions(store: &Arc<Store>, catalog: &Arc<dyn SchemaProvider>) -> Vec<ScalarUDF> {
    // The library's catalog tables read their own catalog list; a plain
    // session is all a scan of them needs.
    let state = SessionContext::new().state();
    [
        "pg_table_size",
        "pg_relation_size",
        "pg_total_relation_size",
    ]
    .into_iter()
    .map(|name| {
        let size = RelationSize {
            name,
            store: store.clone(),
            catalog: catalog.clone(),
            state: state.clone(),
            signature: Signature::any(1, Volatility::Volatile),
        };
        AsyncScalarUDF::new(Arc::new(size)).into_scalar_udf()
    })
    .collect()
}

#[derive(Debug)]
struct RelationSize {
    name: &'static str,
    store: Arc<Store>,
    catalog: Arc<dyn SchemaProvider>,
    state: SessionState,
    signature: Signature,
}

impl PartialEq for RelationSize {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RelationSize {}

impl Hash for RelationSize {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RelationSize {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{} runs asynchronously", self.name)
    }
}

impl RelationSize {
    /// The bytes of table `schema.table`'s files, or 0 if it is not one
    /// of Floe's tables.
    fn bytes(&self, schema: &str, table: &str) -> i64 {
        let Some(handle) = self.store.table(schema, table) else {
            return 0;
        };
        let table = handle.table();
        table
            .metadata()
            .current_snapshot()
            .and_then(|s| summary_count(&s.summary().additional_properties, "total-files-size"))
            .unwrap_or(0)
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for RelationSize {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [oids] = args.args.as_slice() else {
            return exec_err!("{} takes one argument", self.name);
        };
        let oids = arrow::compute::cast(&oids.to_array(args.number_rows)?, &DataType::Int32)?;
        let names = relation_names(self.catalog.as_ref(), &self.state).await?;
        let sizes: Int64Array = oids
            .as_primitive::<Int32Type>()
            .iter()
            .map(|oid| {
                let (schema, table) = names.get(&oid?)?;
                Some(self.bytes(schema, table))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(sizes)))
    }
}
