//! The rows `pg_constraint` and `pg_index` hold for Floe's tables: a
//! constraint for the primary key (its Iceberg identifier fields) and for
//! each UNIQUE constraint, and the unique index PostgreSQL builds for
//! each. Clients reflect a table's keys from these: SQLAlchemy's
//! `get_pk_constraint` and `get_unique_constraints`, Metabase's field
//! sync. Floe keeps no index; the index row exists because PostgreSQL's
//! catalog ties a key's columns to it (`indkey`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::collect;
use datafusion::scalar::ScalarValue;
use floe_storage::Store;

/// The first OID given to a key's constraint; its index has the next.
/// PostgreSQL's own objects and the ones the protocol library numbers
/// (from 16384 up) stay far below.
const FIRST_KEY_OID: i32 = 1_000_000_000;

/// Which key table the rows are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyTable {
    Constraint,
    Index,
}

/// Floe's primary keys, and the OIDs their constraint and index rows get
/// (kept per table, so that a client sees the same OIDs on each query).
#[derive(Debug)]
pub(super) struct PrimaryKeys {
    store: Arc<Store>,
    oids: Mutex<HashMap<(String, String, String), i32>>,
}

/// One table's primary key or UNIQUE constraint, as the catalog rows need it.
struct Key {
    table_oid: i32,
    namespace_oid: i32,
    /// The constraint's name.
    name: String,
    primary: bool,
    /// The key columns' attribute numbers (1-based positions).
    columns: Vec<i16>,
    /// The constraint's OID; the index's is the next.
    oid: i32,
}

impl PrimaryKeys {
    /// The store whose tables' keys these are.
    pub(super) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub(super) fn new(store: Arc<Store>) -> PrimaryKeys {
        PrimaryKeys {
            store,
            oids: Mutex::new(HashMap::new()),
        }
    }

    /// The rows of `table` (with `schema`) for every Floe table with a
    /// primary key; `catalog` is the protocol library's `pg_catalog`,
    /// which numbers the tables and schemas.
    pub(super) async fn rows(
        &self,
        table: KeyTable,
        schema: &SchemaRef,
        catalog: &dyn SchemaProvider,
        state: &dyn Session,
    ) -> Result<Option<RecordBatch>> {
        let keys = self.keys(catalog, state).await?;
        if keys.is_empty() {
            return Ok(None);
        }
        let rows: Vec<HashMap<&str, ScalarValue>> = keys
            .iter()
            .map(|k| match table {
                KeyTable::Constraint => constraint_row(k),
                KeyTable::Index => index_row(k),
            })
            .collect();
        batch(schema, &rows).map(Some)
    }

    async fn keys(&self, catalog: &dyn SchemaProvider, state: &dyn Session) -> Result<Vec<Key>> {
        let mut wanted = Vec::new();
        for handle in self.store.all_tables() {
            // Attribute numbers are positions in the table's columns, as
            // the library numbers `pg_attribute`.
            let schema = handle
                .arrow_schema()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            for key in handle.unique_keys() {
                let columns: Vec<i16> = key
                    .columns
                    .iter()
                    .filter_map(|name| schema.index_of(name).ok())
                    .filter_map(|i| i16::try_from(i + 1).ok())
                    .collect();
                if columns.len() == key.columns.len() {
                    wanted.push((
                        handle.schema_name(),
                        handle.name().to_string(),
                        key.name,
                        key.primary,
                        columns,
                    ));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let relations = relation_oids(catalog, state).await?;
        let mut oids = self.oids.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys = Vec::with_capacity(wanted.len());
        for (schema, table, name, primary, columns) in wanted {
            let Some(&(table_oid, namespace_oid)) = relations.get(&(schema.clone(), table.clone()))
            else {
                continue;
            };
            let next = FIRST_KEY_OID.saturating_add(2 * oids.len() as i32);
            let oid = *oids.entry((schema, table, name.clone())).or_insert(next);
            keys.push(Key {
                table_oid,
                namespace_oid,
                name,
                primary,
                columns,
                oid,
            });
        }
        Ok(keys)
    }
}

/// The OID of each relation of `pg_class`, and of its schema, by schema
/// and relation name.
async fn relation_oids(
    catalog: &dyn SchemaProvider,
    state: &dyn Session,
) -> Result<HashMap<(String, String), (i32, i32)>> {
    let namespaces: HashMap<i32, String> =
        scan(catalog, state, "pg_namespace", &["oid", "nspname"])
            .await?
            .into_iter()
            .filter_map(|row| Some((int(&row[0])?, text(&row[1])?)))
            .collect();
    Ok(scan(
        catalog,
        state,
        "pg_class",
        &["oid", "relname", "relnamespace"],
    )
    .await?
    .into_iter()
    .filter_map(|row| {
        let namespace = int(&row[2])?;
        let schema = namespaces.get(&namespace)?.clone();
        Some(((schema, text(&row[1])?), (int(&row[0])?, namespace)))
    })
    .collect())
}

/// The schema and name of each relation of `pg_class`, by its OID.
pub(super) async fn relation_names(
    catalog: &dyn SchemaProvider,
    state: &dyn Session,
) -> Result<HashMap<i32, (String, String)>> {
    Ok(relation_oids(catalog, state)
        .await?
        .into_iter()
        .map(|(name, (oid, _))| (oid, name))
        .collect())
}

/// The values of `columns` in every row of `catalog`'s table `name`.
async fn scan(
    catalog: &dyn SchemaProvider,
    state: &dyn Session,
    name: &str,
    columns: &[&str],
) -> Result<Vec<Vec<ScalarValue>>> {
    let Some(table) = catalog.table(name).await? else {
        return Err(DataFusionError::Plan(format!("pg_catalog has no {name}")));
    };
    let schema = table.schema();
    let projection = columns
        .iter()
        .map(|c| schema.index_of(c))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let plan = table.scan(state, Some(&projection), &[], None).await?;
    let batches = collect(plan, state.task_ctx()).await?;
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, row))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
    }
    Ok(rows)
}

fn int(value: &ScalarValue) -> Option<i32> {
    match value.cast_to(&DataType::Int32).ok()? {
        ScalarValue::Int32(v) => v,
        _ => None,
    }
}

fn text(value: &ScalarValue) -> Option<String> {
    match value.cast_to(&DataType::Utf8).ok()? {
        ScalarValue::Utf8(v) => v,
        _ => None,
    }
}

fn smallints(values: impl IntoIterator<Item = i16>) -> ScalarValue {
    let values: Vec<ScalarValue> = values
        .into_iter()
        .map(|v| ScalarValue::Int16(Some(v)))
        .collect();
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int16))
}

fn oids(count: usize) -> ScalarValue {
    let values = vec![ScalarValue::Int32(Some(0)); count];
    ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Int32))
}

fn constraint_row(key: &Key) -> HashMap<&'static str, ScalarValue> {
    HashMap::from([
        ("oid", ScalarValue::Int32(Some(key.oid))),
        ("conname", ScalarValue::from(key.name.clone())),
        ("connamespace", ScalarValue::Int32(Some(key.namespace_oid))),
        (
            "contype",
            ScalarValue::from(if key.primary { "p" } else { "u" }),
        ),
        ("convalidated", ScalarValue::Boolean(Some(true))),
        ("conrelid", ScalarValue::Int32(Some(key.table_oid))),
        ("conindid", ScalarValue::Int32(Some(key.oid + 1))),
        ("confupdtype", ScalarValue::from(" ")),
        ("confdeltype", ScalarValue::from(" ")),
        ("confmatchtype", ScalarValue::from(" ")),
        ("conislocal", ScalarValue::Boolean(Some(true))),
        ("connoinherit", ScalarValue::Boolean(Some(true))),
        ("conkey", smallints(key.columns.iter().copied())),
    ])
}

fn index_row(key: &Key) -> HashMap<&'static str, ScalarValue> {
    let yes = ScalarValue::Boolean(Some(true));
    let count = key.columns.len();
    let natts = ScalarValue::Int16(Some(count as i16));
    HashMap::from([
        ("indexrelid", ScalarValue::Int32(Some(key.oid + 1))),
        ("indrelid", ScalarValue::Int32(Some(key.table_oid))),
        ("indnatts", natts.clone()),
        ("indnkeyatts", natts),
        ("indisunique", yes.clone()),
        ("indisprimary", ScalarValue::Boolean(Some(key.primary))),
        ("indimmediate", yes.clone()),
        ("indisvalid", yes.clone()),
        ("indisready", yes.clone()),
        ("indislive", yes),
        ("indkey", smallints(key.columns.iter().copied())),
        ("indcollation", oids(count)),
        ("indclass", oids(count)),
        ("indoption", smallints(std::iter::repeat_n(0, count))),
    ])
}

/// `rows` as a batch of `schema`: a column a row does not name is NULL,
/// or, where the column allows none, false, zero or empty.
fn batch(schema: &SchemaRef, rows: &[HashMap<&str, ScalarValue>]) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let absent = if field.is_nullable() {
                ScalarValue::try_from(field.data_type())?
            } else {
                match field.data_type() {
                    DataType::Boolean => ScalarValue::Boolean(Some(false)),
                    DataType::Utf8 => ScalarValue::from(""),
                    other => ScalarValue::new_zero(other)?,
                }
            };
            let values = rows.iter().map(|row| {
                row.get(field.name().as_str())
                    .cloned()
                    .unwrap_or_else(|| absent.clone())
            });
            let array = ScalarValue::iter_to_array(values)?;
            Ok(if array.data_type() == field.data_type() {
                array
            } else {
                arrow::compute::cast(&array, field.data_type())?
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
