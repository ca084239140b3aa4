//! `information_schema` as PostgreSQL 15 has it, over Floe's catalog.
//!
//! Clients and BI tools read it to list schemas, tables and columns
//! (Grafana's query builder, Metabase's field sync, SQLAlchemy, ORMs), so
//! its views have PostgreSQL's columns, in PostgreSQL's order, with
//! PostgreSQL's values: `ordinal_position` counts from 1, `data_type` is
//! the SQL type name (`integer`, `timestamp with time zone`) and
//! `udt_name` the PostgreSQL one (`int4`, `timestamptz`), with their
//! precisions ([`column_types`]). Floe implements `tables`, `columns`,
//! `schemata`, `views`, `table_constraints` and `key_column_usage`;
//! `routines`, `parameters` and `df_settings` are the engine's own, which
//! list its functions and settings.
//!
//! As in PostgreSQL, a user sees the tables and views they hold a
//! privilege on (and every built-in relation). The rows are made when a
//! query reads a view, so they follow every CREATE, ALTER and DROP.

use std::sync::{Arc, Weak};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::memory::MemTable;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;
use floe_auth::Auth;
use floe_storage::Store;

mod column_types;
#[cfg(test)]
mod tests;

use column_types::{column_type, shown_default};

/// The schema's name.
pub(crate) const INFORMATION_SCHEMA: &str = "information_schema";

/// The views Floe makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Tables,
    Columns,
    Schemata,
    Views,
    TableConstraints,
    KeyColumnUsage,
}

const VIEWS: &[(&str, View)] = &[
    ("tables", View::Tables),
    ("columns", View::Columns),
    ("schemata", View::Schemata),
    ("views", View::Views),
    ("table_constraints", View::TableConstraints),
    ("key_column_usage", View::KeyColumnUsage),
];

/// The engine's views of its functions and settings.
const ENGINE_VIEWS: &[&str] = &["routines", "parameters", "df_settings"];

/// What kind of column a view's column is: PostgreSQL's `sql_identifier`
/// and `character_data` are text, `cardinal_number` an integer.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
}

const TEXT: Kind = Kind::Text;
const INT: Kind = Kind::Int;

impl View {
    fn columns(self) -> &'static [(&'static str, Kind)] {
        match self {
            View::Tables => &[
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("table_type", TEXT),
                ("self_referencing_column_name", TEXT),
                ("reference_generation", TEXT),
                ("user_defined_type_catalog", TEXT),
                ("user_defined_type_schema", TEXT),
                ("user_defined_type_name", TEXT),
                ("is_insertable_into", TEXT),
                ("is_typed", TEXT),
                ("commit_action", TEXT),
            ],
            View::Columns => &[
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("column_name", TEXT),
                ("ordinal_position", INT),
                ("column_default", TEXT),
                ("is_nullable", TEXT),
                ("data_type", TEXT),
                ("character_maximum_length", INT),
                ("character_octet_length", INT),
                ("numeric_precision", INT),
                ("numeric_precision_radix", INT),
                ("numeric_scale", INT),
                ("datetime_precision", INT),
                ("interval_type", TEXT),
                ("interval_precision", INT),
                ("character_set_catalog", TEXT),
                ("character_set_schema", TEXT),
                ("character_set_name", TEXT),
                ("collation_catalog", TEXT),
                ("collation_schema", TEXT),
                ("collation_name", TEXT),
                ("domain_catalog", TEXT),
                ("domain_schema", TEXT),
                ("domain_name", TEXT),
                ("udt_catalog", TEXT),
                ("udt_schema", TEXT),
                ("udt_name", TEXT),
                ("scope_catalog", TEXT),
                ("scope_schema", TEXT),
                ("scope_name", TEXT),
                ("maximum_cardinality", INT),
                ("dtd_identifier", TEXT),
                ("is_self_referencing", TEXT),
                ("is_identity", TEXT),
                ("identity_generation", TEXT),
                ("identity_start", TEXT),
                ("identity_increment", TEXT),
                ("identity_maximum", TEXT),
                ("identity_minimum", TEXT),
                ("identity_cycle", TEXT),
                ("is_generated", TEXT),
                ("generation_expression", TEXT),
                ("is_updatable", TEXT),
            ],
            View::Schemata => &[
                ("catalog_name", TEXT),
                ("schema_name", TEXT),
                ("schema_owner", TEXT),
                ("default_character_set_catalog", TEXT),
                ("default_character_set_schema", TEXT),
                ("default_character_set_name", TEXT),
                ("sql_path", TEXT),
            ],
            View::Views => &[
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("view_definition", TEXT),
                ("check_option", TEXT),
                ("is_updatable", TEXT),
                ("is_insertable_into", TEXT),
                ("is_trigger_updatable", TEXT),
                ("is_trigger_deletable", TEXT),
                ("is_trigger_insertable_into", TEXT),
            ],
            View::TableConstraints => &[
                ("constraint_catalog", TEXT),
                ("constraint_schema", TEXT),
                ("constraint_name", TEXT),
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("constraint_type", TEXT),
                ("is_deferrable", TEXT),
                ("initially_deferred", TEXT),
                ("enforced", TEXT),
                ("nulls_distinct", TEXT),
            ],
            View::KeyColumnUsage => &[
                ("constraint_catalog", TEXT),
                ("constraint_schema", TEXT),
                ("constraint_name", TEXT),
                ("table_catalog", TEXT),
                ("table_schema", TEXT),
                ("table_name", TEXT),
                ("column_name", TEXT),
                ("ordinal_position", INT),
                ("position_in_unique_constraint", INT),
            ],
        }
    }

    fn schema(self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns()
                .iter()
                .map(|(name, kind)| {
                    let ty = match kind {
                        Kind::Text => DataType::Utf8,
                        Kind::Int => DataType::Int32,
                    };
                    Field::new(*name, ty, true)
                })
                .collect::<Vec<_>>(),
        ))
    }
}

/// What the views are made from.
#[derive(Debug)]
struct Sources {
    /// The session's catalogs (weak: the catalog holds this schema).
    catalogs: Weak<dyn CatalogProviderList>,
    store: Arc<Store>,
    auth: Arc<Auth>,
}

/// The `information_schema` schema.
#[derive(Debug)]
pub(crate) struct InformationSchema {
    sources: Arc<Sources>,
}

impl InformationSchema {
    pub(crate) fn new(
        catalogs: &Arc<dyn CatalogProviderList>,
        store: Arc<Store>,
        auth: Arc<Auth>,
    ) -> InformationSchema {
        InformationSchema {
            sources: Arc::new(Sources {
                catalogs: Arc::downgrade(catalogs),
                store,
                auth,
            }),
        }
    }
}

fn gone() -> DataFusionError {
    DataFusionError::Internal("the session's catalogs are gone".into())
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        VIEWS
            .iter()
            .map(|(name, _)| *name)
            .chain(ENGINE_VIEWS.iter().copied())
            .map(str::to_string)
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let name = name.to_ascii_lowercase();
        if let Some((_, view)) = VIEWS.iter().find(|(n, _)| *n == name) {
            return Ok(Some(Arc::new(ViewTable {
                view: *view,
                schema: view.schema(),
                sources: self.sources.clone(),
            })));
        }
        if ENGINE_VIEWS.contains(&name.as_str()) {
            let catalogs = self.sources.catalogs.upgrade().ok_or_else(gone)?;
            return InformationSchemaProvider::new(catalogs).table(&name).await;
        }
        Ok(None)
    }

    fn table_exist(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        VIEWS.iter().any(|(n, _)| *n == name) || ENGINE_VIEWS.contains(&name.as_str())
    }
}

/// The columns SQL sees of a Floe table.
fn table_fields(handle: &floe_storage::TableHandle) -> Result<SchemaRef> {
    let stored = handle
        .arrow_schema()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(crate::uuid::logical_schema(&stored))
}

/// One of Floe's views, made when scanned.
#[derive(Debug)]
struct ViewTable {
    view: View,
    schema: SchemaRef,
    sources: Arc<Sources>,
}

#[async_trait]
impl TableProvider for ViewTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = self.sources.rows(self.view).await?;
        let batch = batch(&self.schema, self.view.columns(), rows)?;
        MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// A row's value: text, an integer or NULL.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Int(i32),
    Null,
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<Option<i32>> for Value {
    fn from(n: Option<i32>) -> Value {
        n.map_or(Value::Null, Value::Int)
    }
}

fn yes_no(yes: bool) -> Value {
    Value::from(if yes { "YES" } else { "NO" })
}

fn batch(
    schema: &SchemaRef,
    columns: &[(&str, Kind)],
    rows: Vec<Vec<Value>>,
) -> Result<RecordBatch> {
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| {
            let values = rows.iter().map(|row| match (&row[i], kind) {
                (Value::Text(t), _) => ScalarValue::Utf8(Some(t.clone())),
                (Value::Int(n), _) => ScalarValue::Int32(Some(*n)),
                (Value::Null, Kind::Text) => ScalarValue::Utf8(None),
                (Value::Null, Kind::Int) => ScalarValue::Int32(None),
            });
            let ty = schema.field(i).data_type();
            if rows.is_empty() {
                Ok(arrow::array::new_empty_array(ty))
            } else {
                ScalarValue::iter_to_array(values)
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// What a relation is, for the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// A Floe table.
    Table,
    /// A Floe view.
    View,
    /// A built-in relation (`system`, `pg_catalog`, `information_schema`).
    BuiltIn(TableType),
}

/// A relation the session may see.
struct Listed {
    catalog: String,
    schema: String,
    name: String,
    relation: Relation,
}

impl Listed {
    /// The relation's catalog, schema and name, as a view's first columns.
    fn qualified(&self) -> Vec<Value> {
        vec![
            Value::from(self.catalog.as_str()),
            Value::from(self.schema.as_str()),
            Value::from(self.name.as_str()),
        ]
    }
}

impl Sources {
    fn catalogs(&self) -> Result<Arc<dyn CatalogProviderList>> {
        self.catalogs.upgrade().ok_or_else(gone)
    }

    /// Whether the session may see Floe relation `schema.name`.
    fn visible(&self, schema: &str, name: &str) -> bool {
        match crate::engine::current_session() {
            Some(who) => self.auth.can_see_table(&who, schema, name),
            None => true,
        }
    }

    /// The relations the session may see, schema by schema.
    async fn relations(&self) -> Result<Vec<Listed>> {
        let catalogs = self.catalogs()?;
        let mut listed = Vec::new();
        for catalog_name in catalogs.catalog_names() {
            let Some(catalog) = catalogs.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let mut push = |name: String, relation| {
                    listed.push(Listed {
                        catalog: catalog_name.clone(),
                        schema: schema_name.clone(),
                        name,
                        relation,
                    })
                };
                if schema_name == INFORMATION_SCHEMA {
                    for (name, _) in VIEWS {
                        push(name.to_string(), Relation::BuiltIn(TableType::View));
                    }
                    for name in ENGINE_VIEWS {
                        push(name.to_string(), Relation::BuiltIn(TableType::View));
                    }
                } else if self.store.schema_exists(&schema_name) {
                    for name in self.store.table_names(&schema_name) {
                        if self.visible(&schema_name, &name) {
                            push(name, Relation::Table);
                        }
                    }
                    for name in self.store.view_names(&schema_name) {
                        if self.visible(&schema_name, &name) {
                            push(name, Relation::View);
                        }
                    }
                } else if let Some(schema) = catalog.schema(&schema_name) {
                    let mut names = schema.table_names();
                    names.sort();
                    for name in names {
                        if let Some(kind) = schema.table_type(&name).await? {
                            push(name, Relation::BuiltIn(kind));
                        }
                    }
                }
            }
        }
        Ok(listed)
    }

    /// The schema names of every catalog.
    fn schemas(&self) -> Result<Vec<(String, String)>> {
        let catalogs = self.catalogs()?;
        let mut schemas = Vec::new();
        for catalog_name in catalogs.catalog_names() {
            if let Some(catalog) = catalogs.catalog(&catalog_name) {
                for schema in catalog.schema_names() {
                    schemas.push((catalog_name.clone(), schema));
                }
            }
        }
        Ok(schemas)
    }

    async fn rows(&self, view: View) -> Result<Vec<Vec<Value>>> {
        match view {
            View::Schemata => Ok(self
                .schemas()?
                .into_iter()
                .map(|(catalog, schema)| {
                    // As in PostgreSQL 15, `public` belongs to the database's
                    // owner; Floe keeps no owner of the others.
                    let owner = if schema == floe_common::defaults::DEFAULT_SCHEMA {
                        Value::from("pg_database_owner")
                    } else {
                        Value::Null
                    };
                    let mut row = vec![Value::from(catalog), Value::from(schema), owner];
                    row.resize(View::Schemata.columns().len(), Value::Null);
                    row
                })
                .collect()),
            View::Tables => Ok(self
                .relations()
                .await?
                .into_iter()
                .map(|r| {
                    let table_type = match r.relation {
                        Relation::View | Relation::BuiltIn(TableType::View) => "VIEW",
                        Relation::BuiltIn(TableType::Temporary) => "LOCAL TEMPORARY",
                        Relation::Table | Relation::BuiltIn(_) => "BASE TABLE",
                    };
                    let mut row = r.qualified();
                    row.push(Value::from(table_type));
                    row.extend(std::iter::repeat_n(Value::Null, 5));
                    row.push(yes_no(r.relation == Relation::Table));
                    row.extend([Value::from("NO"), Value::Null]);
                    row
                })
                .collect()),
            View::Views => Ok(self
                .relations()
                .await?
                .into_iter()
                .filter(|r| r.relation == Relation::View)
                .filter_map(|r| {
                    let definition = self.store.view(&r.schema, &r.name)?.sql;
                    let mut row = r.qualified();
                    row.extend([Value::from(definition), Value::from("NONE")]);
                    row.extend(std::iter::repeat_n(Value::from("NO"), 5));
                    Some(row)
                })
                .collect()),
            View::Columns => self.columns().await,
            View::TableConstraints | View::KeyColumnUsage => self.constraints(view).await,
        }
    }

    /// The fields SQL sees of a view or built-in relation (none for a
    /// view that no longer plans).
    async fn fields(&self, r: &Listed) -> Result<Option<SchemaRef>> {
        if r.schema == INFORMATION_SCHEMA {
            if let Some((_, view)) = VIEWS.iter().find(|(n, _)| *n == r.name) {
                return Ok(Some(view.schema()));
            }
            let engine = InformationSchemaProvider::new(self.catalogs()?);
            return Ok(engine.table(&r.name).await?.map(|t| t.schema()));
        }
        let catalogs = self.catalogs()?;
        let Some(schema) = catalogs
            .catalog(&r.catalog)
            .and_then(|c| c.schema(&r.schema))
        else {
            return Ok(None);
        };
        Ok(schema.table(&r.name).await?.map(|t| t.schema()))
    }

    async fn columns(&self) -> Result<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        for r in self.relations().await? {
            // A table's columns and defaults come from its handle: the
            // provider would plan every default too.
            let (fields, defaults) = match r.relation {
                Relation::Table => {
                    let Some(handle) = self.store.table(&r.schema, &r.name) else {
                        continue;
                    };
                    (table_fields(&handle)?, crate::defaults::stored(&handle))
                }
                _ => match self.fields(&r).await? {
                    Some(fields) => (fields, Default::default()),
                    None => continue,
                },
            };
            let writable = yes_no(r.relation == Relation::Table);
            for (i, field) in fields.fields().iter().enumerate() {
                let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                let ty = column_type(field);
                let default = defaults.get(field.name()).map_or(Value::Null, |d| {
                    Value::from(shown_default(d, &ty.data_type))
                });
                // A view's columns are nullable, as PostgreSQL says.
                let nullable = field.is_nullable() || r.relation == Relation::View;
                let mut row = r.qualified();
                row.extend([
                    Value::from(field.name().as_str()),
                    Value::Int(position),
                    default,
                    yes_no(nullable),
                    Value::from(ty.data_type),
                    Value::Null,
                    Value::from(ty.character_octet_length),
                    Value::from(ty.numeric_precision),
                    Value::from(ty.numeric_precision_radix),
                    Value::from(ty.numeric_scale),
                    Value::from(ty.datetime_precision),
                ]);
                // interval, character set, collation, domain
                row.extend(std::iter::repeat_n(Value::Null, 11));
                row.extend([
                    Value::from(r.catalog.as_str()),
                    Value::from("pg_catalog"),
                    Value::from(ty.udt_name),
                ]);
                // scope, maximum_cardinality
                row.extend(std::iter::repeat_n(Value::Null, 4));
                row.extend([
                    Value::from(position.to_string()),
                    Value::from("NO"),
                    Value::from("NO"),
                ]);
                // identity: none
                row.extend(std::iter::repeat_n(Value::Null, 5));
                row.extend([
                    Value::from("NO"),
                    Value::from("NEVER"),
                    Value::Null,
                    writable.clone(),
                ]);
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// `table_constraints` or `key_column_usage`: each Floe table's
    /// primary key (`<table>_pkey`, as PostgreSQL names it) and UNIQUE
    /// constraints and, in
    /// `table_constraints`, a CHECK row for each NOT NULL column, as
    /// PostgreSQL lists them.
    async fn constraints(&self, view: View) -> Result<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        for r in self.relations().await? {
            if r.relation != Relation::Table {
                continue;
            }
            let Some(handle) = self.store.table(&r.schema, &r.name) else {
                continue;
            };
            let keys = handle.unique_keys();
            let names = |constraint: String| {
                let mut row = vec![
                    Value::from(r.catalog.as_str()),
                    Value::from(r.schema.as_str()),
                    Value::from(constraint),
                ];
                row.extend(r.qualified());
                row
            };
            if view == View::KeyColumnUsage {
                for key in &keys {
                    for (i, column) in key.columns.iter().enumerate() {
                        let mut row = names(key.name.clone());
                        row.extend([
                            Value::from(column.as_str()),
                            Value::Int(i32::try_from(i + 1).unwrap_or(i32::MAX)),
                            Value::Null,
                        ]);
                        rows.push(row);
                    }
                }
                continue;
            }
            let constraint = |name: String, kind: &str, nulls_distinct: Value| {
                let mut row = names(name);
                row.extend([
                    Value::from(kind),
                    Value::from("NO"),
                    Value::from("NO"),
                    Value::from("YES"),
                    nulls_distinct,
                ]);
                row
            };
            for key in &keys {
                rows.push(if key.primary {
                    // PostgreSQL's nulls_distinct is YES or NO for UNIQUE
                    // constraints only.
                    constraint(key.name.clone(), "PRIMARY KEY", Value::Null)
                } else {
                    let distinct = if key.nulls_distinct { "YES" } else { "NO" };
                    constraint(key.name.clone(), "UNIQUE", Value::from(distinct))
                });
            }
            for (i, field) in table_fields(&handle)?.fields().iter().enumerate() {
                if !field.is_nullable() {
                    let name = format!("{}_{}_{}_not_null", r.schema, r.name, i + 1);
                    rows.push(constraint(name, "CHECK", Value::Null));
                }
            }
        }
        Ok(rows)
    }
}
