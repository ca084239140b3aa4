//! The `pg_catalog` tables Floe gives in place of the protocol library's,
//! where clients' catalog queries need PostgreSQL's column types:
//!
//! - `pg_index` and `pg_constraint` hold their key lists (`indkey`,
//!   `conkey`, ...) as arrays of `smallint` or `oid`, as PostgreSQL does,
//!   so that `unnest(indkey)` and `attnum = ANY(conkey)` plan (the
//!   library keeps them as text), and a row each for every Floe table's
//!   primary key ([`primary_keys`]);
//! - `pg_attribute` gives `numeric(p, s)` columns their type modifier
//!   ([`typmods`]);
//! - `pg_class` has the columns the library lacks and psql's `\d+` reads:
//!   `reloptions` and `relacl` (NULL: no storage options, default
//!   privileges).
//!
//! Every other table is the library's. The relation size functions
//! (`pg_table_size` and the like, [`sizes`]) read Floe's tables too.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int16Builder, Int32Builder, ListBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, memory::MemTable};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use floe_storage::Store;
use tokio::sync::OnceCell;

mod primary_keys;
mod sizes;
#[cfg(test)]
mod tests;
mod typmods;

use primary_keys::{KeyTable, PrimaryKeys};
use typmods::Attributes;

/// The element type of a key list column.
#[derive(Debug, Clone, Copy)]
enum Element {
    /// `int2vector` / `int2[]`: attribute numbers.
    Smallint,
    /// `oidvector` / `oid[]`.
    Oid,
}

/// Columns PostgreSQL types as arrays, and their element types.
type KeyLists = &'static [(&'static str, Element)];

/// The columns of the library's static tables that PostgreSQL types as
/// arrays, and their element types.
const KEY_LISTS: &[(&str, KeyTable, KeyLists)] = &[
    (
        "pg_index",
        KeyTable::Index,
        &[
            ("indkey", Element::Smallint),
            ("indcollation", Element::Oid),
            ("indclass", Element::Oid),
            ("indoption", Element::Smallint),
        ],
    ),
    (
        "pg_constraint",
        KeyTable::Constraint,
        &[
            ("conkey", Element::Smallint),
            ("confkey", Element::Smallint),
            ("conpfeqop", Element::Oid),
            ("conppeqop", Element::Oid),
            ("conffeqop", Element::Oid),
            ("confdelsetcols", Element::Smallint),
            ("conexclop", Element::Oid),
        ],
    ),
];

/// Puts Floe's `pg_catalog` (see the module doc) over the library's in
/// catalog `catalog` of `ctx`; `store` holds the tables whose primary
/// keys it lists.
pub(crate) fn install(ctx: &SessionContext, catalog_name: &str, store: Arc<Store>) -> Result<()> {
    let Some(catalog) = ctx.catalog(catalog_name) else {
        return Err(DataFusionError::Plan(format!("no catalog {catalog_name}")));
    };
    let Some(inner) = catalog.schema("pg_catalog") else {
        return Err(DataFusionError::Plan("no pg_catalog schema".into()));
    };
    let keyed = KEY_LISTS
        .iter()
        .map(|&(name, kind, lists)| (name, (kind, lists, OnceCell::new())))
        .collect();
    for size in sizes::functions(&store, &inner) {
        ctx.register_udf(size);
    }
    let keys = Arc::new(PrimaryKeys::new(store));
    catalog.register_schema("pg_catalog", Arc::new(PgCatalog { inner, keyed, keys }))?;
    Ok(())
}

/// A static table's rows with their key lists as arrays, once made.
type Converted = OnceCell<(SchemaRef, Vec<RecordBatch>)>;

#[derive(Debug)]
struct PgCatalog {
    inner: Arc<dyn SchemaProvider>,
    /// The tables with key lists, and the library's rows of each,
    /// converted on first use.
    keyed: HashMap<&'static str, (KeyTable, KeyLists, Converted)>,
    keys: Arc<PrimaryKeys>,
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(table) = self.inner.table(name).await? else {
            return Ok(None);
        };
        let lower = name.to_ascii_lowercase();
        if lower == "pg_class" {
            return Ok(Some(Arc::new(WithColumns::pg_class(table))));
        }
        if lower == "pg_attribute" {
            return Ok(Some(Arc::new(Attributes {
                inner: table,
                catalog: self.inner.clone(),
                store: self.keys.store().clone(),
            })));
        }
        let Some((kind, lists, cell)) = self.keyed.get(lower.as_str()) else {
            return Ok(Some(table));
        };
        let (schema, rows) = cell
            .get_or_try_init(|| async { with_key_lists(table, lists).await })
            .await?
            .clone();
        Ok(Some(Arc::new(KeyedTable {
            kind: *kind,
            schema,
            rows,
            keys: self.keys.clone(),
            catalog: self.inner.clone(),
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// The rows of static table `table` with its key list columns `lists`
/// as arrays.
async fn with_key_lists(
    table: Arc<dyn TableProvider>,
    lists: &[(&str, Element)],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let state = SessionContext::new().state();
    let plan = table.scan(&state, None, &[], None).await?;
    let batches = collect(plan, state.task_ctx()).await?;
    let old = table.schema();
    let fields: Vec<Field> = old
        .fields()
        .iter()
        .map(|f| match lists.iter().find(|(n, _)| n == f.name()) {
            Some((_, element)) => Field::new(f.name(), list_type(*element), true),
            None => f.as_ref().clone(),
        })
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, old.metadata().clone()));
    let mut converted = Vec::with_capacity(batches.len());
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .zip(old.fields())
            .map(
                |(column, field)| match lists.iter().find(|(n, _)| n == field.name()) {
                    Some((_, element)) => key_list_array(column, *element),
                    None => Ok(column.clone()),
                },
            )
            .collect::<Result<Vec<_>>>()?;
        converted.push(RecordBatch::try_new(schema.clone(), columns)?);
    }
    Ok((schema, converted))
}

/// `pg_index` or `pg_constraint`: the library's rows, key lists as
/// arrays, and the rows of Floe's primary keys, made when scanned.
#[derive(Debug)]
struct KeyedTable {
    kind: KeyTable,
    schema: SchemaRef,
    rows: Vec<RecordBatch>,
    keys: Arc<PrimaryKeys>,
    catalog: Arc<dyn SchemaProvider>,
}

#[async_trait]
impl TableProvider for KeyedTable {
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
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut rows = self.rows.clone();
        let floe = self
            .keys
            .rows(self.kind, &self.schema, self.catalog.as_ref(), state)
            .await?;
        rows.extend(floe);
        MemTable::try_new(self.schema.clone(), vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

fn list_type(element: Element) -> DataType {
    let item = match element {
        Element::Smallint => DataType::Int16,
        Element::Oid => DataType::Int32,
    };
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The numbers of one key list as the library writes it: `1 2`
/// (a vector type), `[1, 2]` or `{1,2}` (an array).
fn key_list(text: &str) -> Result<Vec<i64>> {
    text.trim_matches(|c| matches!(c, '[' | ']' | '{' | '}'))
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<i64>().map_err(|_| {
                DataFusionError::Internal(format!("a key list of pg_catalog: {text:?}"))
            })
        })
        .collect()
}

/// The text key lists `column` as arrays of `element`.
fn key_list_array(column: &ArrayRef, element: Element) -> Result<ArrayRef> {
    let texts = arrow::compute::cast(column, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    macro_rules! build {
        ($builder:expr, $t:ty) => {{
            let mut lists = ListBuilder::new($builder);
            for text in texts.iter() {
                match text {
                    None => lists.append_null(),
                    Some(text) => {
                        for n in key_list(text)? {
                            let n = <$t>::try_from(n).map_err(|_| {
                                DataFusionError::Internal(format!("a key of pg_catalog: {n}"))
                            })?;
                            lists.values().append_value(n);
                        }
                        lists.append(true);
                    }
                }
            }
            Arc::new(lists.finish()) as ArrayRef
        }};
    }
    Ok(match element {
        Element::Smallint => build!(Int16Builder::new(), i16),
        Element::Oid => build!(Int32Builder::new(), i32),
    })
}

/// A table of the library's with constant columns after its own (those
/// it does not have already).
#[derive(Debug)]
struct WithColumns {
    inner: Arc<dyn TableProvider>,
    extra: Vec<(Field, ScalarValue)>,
    schema: SchemaRef,
}

impl WithColumns {
    fn pg_class(inner: Arc<dyn TableProvider>) -> WithColumns {
        let text_array = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        let null_array = ScalarValue::try_from(&text_array).unwrap_or(ScalarValue::Null);
        let extra = vec![
            (
                Field::new("reloptions", text_array.clone(), true),
                null_array.clone(),
            ),
            (Field::new("relacl", text_array, true), null_array),
        ];
        let old = inner.schema();
        let extra: Vec<(Field, ScalarValue)> = extra
            .into_iter()
            .filter(|(f, _)| old.field_with_name(f.name()).is_err())
            .collect();
        let fields: Vec<Field> = old
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .chain(extra.iter().map(|(f, _)| f.clone()))
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, old.metadata().clone()));
        WithColumns {
            inner,
            extra,
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for WithColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = self.inner.scan(state, None, &[], limit).await?;
        let own = self.inner.schema().fields().len();
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let exprs = projection
            .unwrap_or(&all)
            .iter()
            .map(|&i| {
                let field = self.schema.field(i);
                let expr: Arc<dyn datafusion::physical_expr::PhysicalExpr> = if i < own {
                    Arc::new(Column::new(field.name(), i))
                } else {
                    Arc::new(Literal::new(self.extra[i - own].1.clone()))
                };
                ProjectionExpr {
                    expr,
                    alias: field.name().clone(),
                }
            })
            .collect::<Vec<_>>();
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
