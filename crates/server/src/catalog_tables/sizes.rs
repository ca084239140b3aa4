//! Functions of a relation's OID that read the store:
//!
//! - `pg_table_size(oid)`, `pg_relation_size(oid)` and
//!   `pg_total_relation_size(oid)`: the bytes of a Floe table's data and
//!   delete files in its current snapshot (`system.tables.bytes`), 0 for a
//!   relation that holds no files (a view, a catalog table), NULL for an
//!   OID that names no relation, as in PostgreSQL. psql's `\dt+` shows
//!   them through `pg_size_pretty`. Floe has no indexes or TOAST tables,
//!   so the three agree.
//! - `pg_get_viewdef(oid [, pretty])`: a view's query (psql's `\d+`
//!   shows it), NULL for an OID that names no view.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
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

/// The functions, for `store`'s relations as `catalog` (the protocol
/// library's `pg_catalog`) numbers them.
pub(super) fn functions(store: &Arc<Store>, catalog: &Arc<dyn SchemaProvider>) -> Vec<ScalarUDF> {
    // The library's catalog tables read their own catalog list; a plain
    // session is all a scan of them needs.
    let state = SessionContext::new().state();
    [
        ("pg_table_size", Kind::Size),
        ("pg_relation_size", Kind::Size),
        ("pg_total_relation_size", Kind::Size),
        ("pg_get_viewdef", Kind::ViewDefinition),
    ]
    .into_iter()
    .map(|(name, kind)| {
        let arities = match kind {
            Kind::Size => vec![1],
            Kind::ViewDefinition => vec![1, 2],
        };
        let function = RelationFunction {
            name,
            kind,
            store: store.clone(),
            catalog: catalog.clone(),
            state: state.clone(),
            signature: Signature::one_of(
                arities
                    .into_iter()
                    .map(datafusion::logical_expr::TypeSignature::Any)
                    .collect(),
                Volatility::Volatile,
            ),
        };
        AsyncScalarUDF::new(Arc::new(function)).into_scalar_udf()
    })
    .collect()
}

/// What a function answers for a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// Its files' bytes.
    Size,
    /// A view's query.
    ViewDefinition,
}

#[derive(Debug)]
struct RelationFunction {
    name: &'static str,
    kind: Kind,
    store: Arc<Store>,
    catalog: Arc<dyn SchemaProvider>,
    state: SessionState,
    signature: Signature,
}

impl PartialEq for RelationFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RelationFunction {}

impl Hash for RelationFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RelationFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Size => DataType::Int64,
            Kind::ViewDefinition => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{} runs asynchronously", self.name)
    }
}

impl RelationFunction {
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
impl AsyncScalarUDFImpl for RelationFunction {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(oids) = args.args.first() else {
            return exec_err!("{} takes a relation's OID", self.name);
        };
        let oids = arrow::compute::cast(&oids.to_array(args.number_rows)?, &DataType::Int32)?;
        let names = relation_names(self.catalog.as_ref(), &self.state).await?;
        let relations = oids
            .as_primitive::<Int32Type>()
            .iter()
            .map(|oid| names.get(&oid?));
        let answers: ArrayRef = match self.kind {
            Kind::Size => Arc::new(
                relations
                    .map(|r| r.map(|(schema, table)| self.bytes(schema, table)))
                    .collect::<Int64Array>(),
            ),
            Kind::ViewDefinition => Arc::new(
                relations
                    .map(|r| {
                        r.and_then(|(schema, view)| self.store.view(schema, view))
                            .map(|v| v.sql)
                    })
                    .collect::<StringArray>(),
            ),
        };
        Ok(ColumnarValue::Array(answers))
    }
}
