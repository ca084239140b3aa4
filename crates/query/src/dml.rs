//! UPDATE, DELETE, TRUNCATE and INSERT ... ON CONFLICT, as merge-on-read
//! changes: changed rows are deleted by position (Iceberg position-delete
//! files) and their new versions appended, all in one snapshot.
//!
//! Each statement finds its rows through `row_positions` (every live row
//! with its `_file` and `_pos`) while holding the table's commit lock, so
//! no other commit can land between the read and the write.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::row::{RowConverter, SortField};
use datafusion::common::JoinType;
use datafusion::datasource::MemTable;
use datafusion::prelude::{DataFrame, Expr as DfExpr, cast, col};
use datafusion::sql::sqlparser::ast::{
    Assignment, AssignmentTarget, ConflictTarget, Delete, Expr, FromTable, Ident, Insert,
    ObjectName, ObjectNamePart, OnConflictAction, OnInsert, Query, SelectItem, SetExpr, Statement,
    TableFactor, TableObject, TableWithJoins, Update, UpdateTableFromKind, visit_expressions_mut,
};
use floe_storage::{PositionDeletes, TableChange, TableHandle};
use futures::StreamExt;

use crate::engine::Engine;
use crate::error::QueryError;
use crate::error::unsupported;
use crate::names;
use crate::positions::{FILE_COLUMN, POS_COLUMN, PositionTable};
use floe_auth::Privilege;

/// The table a statement changes, and the name SQL refers to it by.
struct Target {
    handle: Arc<TableHandle>,
    qualified: String,
    alias: String,
}

impl Target {
    fn resolve(
        engine: &Engine,
        name: &ObjectName,
        alias: Option<&Ident>,
    ) -> Result<Target, QueryError> {
        let (schema, table) = names::table(name)?;
        let handle = engine.table_handle(&schema, &table)?;
        Ok(Target {
            handle,
            qualified: format!("{schema}.{table}"),
            alias: alias.map(names::ident).unwrap_or(table),
        })
    }

    fn from_relation(engine: &Engine, relation: &TableWithJoins) -> Result<Target, QueryError> {
        if !relation.joins.is_empty() {
            return Err(unsupported("JOIN in the target of UPDATE or DELETE"));
        }
        let TableFactor::Table { name, alias, .. } = &relation.relation else {
            return Err(unsupported("this target of UPDATE or DELETE"));
        };
        Target::resolve(engine, name, alias.as_ref().map(|a| &a.name))
    }

    /// Fails unless the session holds every one of `privileges` on the
    /// table.
    fn require(&self, engine: &Engine, privileges: &[Privilege]) -> Result<(), QueryError> {
        for p in privileges {
            engine.check_table(*p, &self.handle.schema_name(), self.handle.name())?;
        }
        Ok(())
    }

    /// The logical column names of the table, in order.
    fn columns(&self) -> Result<Vec<String>, QueryError> {
        Ok(self
            .handle
            .arrow_schema()?
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }

    /// The quoted alias, for building SQL.
    fn quoted_alias(&self) -> String {
        names::quoted(&self.alias)
    }
}

/// `SELECT alias._file, alias._pos FROM row_positions('s.t') AS alias`,
/// with more output columns, FROM items and a WHERE clause spliced in.
fn positions_query(
    target: &Target,
    more_columns: Vec<SelectItem>,
    more_from: Vec<TableWithJoins>,
    selection: Option<Expr>,
) -> Result<Statement, QueryError> {
    let alias = target.quoted_alias();
    let sql = format!(
        "SELECT {alias}.\"{FILE_COLUMN}\", {alias}.\"{POS_COLUMN}\" FROM row_positions('{}') AS {alias}",
        target.qualified.replace('\'', "''")
    );
    let mut stmt = crate::syntax::sql_statement(&sql)?;
    let Statement::Query(query) = &mut stmt else {
        unreachable!("a SELECT parses as a query");
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        unreachable!("a SELECT parses as a select");
    };
    select.projection.extend(more_columns);
    select.from.extend(more_from);
    select.selection = selection;
    Ok(stmt)
}

/// Positions of rows to delete, per data file.
#[derive(Default)]
struct Positions {
    by_file: BTreeMap<String, BTreeSet<u64>>,
    rows: u64,
}

impl Positions {
    /// Adds the `_file` and `_pos` columns (the first two) of a batch;
    /// returns false if a row was already there.
    fn add(&mut self, batch: &RecordBatch) -> Result<bool, QueryError> {
        let files = batch.column(0).as_any().downcast_ref::<StringArray>();
        let positions = batch.column(1).as_any().downcast_ref::<Int64Array>();
        let (Some(files), Some(positions)) = (files, positions) else {
            return Err(QueryError::Unsupported {
                feature: "row positions of this shape".into(),
            });
        };
        let mut fresh = true;
        for i in 0..batch.num_rows() {
            let added = self
                .by_file
                .entry(files.value(i).to_string())
                .or_default()
                .insert(positions.value(i) as u64);
            if added {
                self.rows += 1;
            } else {
                fresh = false;
            }
        }
        Ok(fresh)
    }

    /// The position deletes to write, with each data file's partition.
    async fn into_deletes(
        self,
        change: &TableChange<'_>,
    ) -> Result<Vec<PositionDeletes>, QueryError> {
        if self.by_file.is_empty() {
            return Ok(Vec::new());
        }
        let base = change.base();
        let spec_id = base.metadata().default_partition_spec_id();
        let partitions = if base.metadata().default_partition_spec().is_unpartitioned() {
            HashMap::new()
        } else {
            change.file_partitions().await?
        };
        Ok(self
            .by_file
            .into_iter()
            .map(|(data_file, positions)| PositionDeletes {
                partition: partitions.get(&data_file).map(|p| (p.clone(), spec_id)),
                data_file,
                positions: positions.into_iter().collect(),
            })
            .collect())
    }
}

async fn run(engine: &Engine, stmt: Statement) -> Result<DataFrame, QueryError> {
    let plan = engine.plan(stmt).await?;
    engine.execute_plan(plan).await
}

/// `DELETE FROM t [USING ...] [WHERE ...]`; returns the rows deleted.
pub async fn delete(engine: &Engine, delete: Delete) -> Result<u64, QueryError> {
    if delete.returning.is_some() || !delete.order_by.is_empty() || delete.limit.is_some() {
        return Err(unsupported("DELETE with RETURNING, ORDER BY or LIMIT"));
    }
    if !delete.tables.is_empty() {
        return Err(unsupported("DELETE of several tables"));
    }
    let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
    let [relation] = from.as_slice() else {
        return Err(unsupported("DELETE from several tables"));
    };
    let target = Target::from_relation(engine, relation)?;
    target.require(engine, &[Privilege::Delete])?;
    let change = target.handle.begin().await?;
    let stmt = positions_query(
        &target,
        Vec::new(),
        delete.using.unwrap_or_default(),
        delete.selection,
    )?;
    let mut positions = Positions::default();
    let mut stream = run(engine, stmt).await?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        positions.add(&batch?)?;
    }
    let rows = positions.rows;
    let deletes = positions.into_deletes(&change).await?;
    change.commit_rows(None, deletes).await?;
    Ok(rows)
}

/// `TRUNCATE t`: deletes every row.
pub async fn truncate(engine: &Engine, name: &ObjectName) -> Result<(), QueryError> {
    let target = Target::resolve(engine, name, None)?;
    target.require(engine, &[Privilege::Delete])?;
    target.handle.begin().await?.truncate().await?;
    Ok(())
}

/// The column an assignment sets, checked against the table.
fn assigned_column(
    target: &Target,
    columns: &[String],
    a: &Assignment,
) -> Result<String, QueryError> {
    let AssignmentTarget::ColumnName(name) = &a.target else {
        return Err(unsupported("assigning to a tuple of columns"));
    };
    let column = name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .map(names::ident)
        .unwrap_or_default();
    if !columns.contains(&column) {
        return Err(QueryError::NoSuchColumn {
            table: target.qualified.clone(),
            column,
        });
    }
    Ok(column)
}

/// `UPDATE t SET ... [FROM ...] [WHERE ...]`; returns the rows updated.
pub async fn update(engine: &Engine, update: Update) -> Result<u64, QueryError> {
    if update.returning.is_some() || update.limit.is_some() || update.or.is_some() {
        return Err(unsupported("UPDATE with RETURNING, LIMIT or OR"));
    }
    let target = Target::from_relation(engine, &update.table)?;
    target.require(engine, &[Privilege::Update])?;
    let columns = target.columns()?;
    let defaults = crate::defaults::stored(&target.handle);
    let mut values: HashMap<String, Expr> = HashMap::new();
    for a in &update.assignments {
        let column = assigned_column(&target, &columns, a)?;
        let value = crate::defaults::assigned(a.value.clone(), &defaults, &column)?;
        if values.insert(column.clone(), value).is_some() {
            return Err(QueryError::Parse {
                message: format!("multiple assignments to same column \"{column}\""),
            });
        }
    }
    let alias = Ident::with_quote('"', &target.alias);
    let projection = columns
        .iter()
        .map(|c| match values.remove(c) {
            Some(expr) => SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('"', c),
            },
            None => SelectItem::ExprWithAlias {
                expr: Expr::CompoundIdentifier(vec![alias.clone(), Ident::with_quote('"', c)]),
                alias: Ident::with_quote('"', c),
            },
        })
        .collect();
    let from = match update.from {
        Some(UpdateTableFromKind::AfterSet(f) | UpdateTableFromKind::BeforeSet(f)) => f,
        None => Vec::new(),
    };

    let change = target.handle.begin().await?;
    let stmt = positions_query(&target, projection, from, update.selection)?;
    let mut positions = Positions::default();
    let mut append = change.append_checked()?;
    let mut stream = run(engine, stmt).await?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if !positions.add(&batch)? {
            return Err(QueryError::RowChangedTwice {
                command: "UPDATE",
                table: target.qualified.clone(),
            });
        }
        let rows: Vec<usize> = (2..batch.num_columns()).collect();
        append.write(batch.project(&rows)?).await?;
    }
    let rows = positions.rows;
    let deletes = positions.into_deletes(&change).await?;
    change.commit_rows(Some(append), deletes).await?;
    Ok(rows)
}

/// `INSERT ... ON CONFLICT (key) DO NOTHING | DO UPDATE SET ... [WHERE ...]`;
/// returns the rows inserted or updated.
pub async fn upsert(engine: &Engine, mut insert: Insert) -> Result<u64, QueryError> {
    crate::defaults::fill_insert_into(engine.store(), &mut insert)?;
    let Some(OnInsert::OnConflict(on_conflict)) = insert.on else {
        return Err(unsupported("ON DUPLICATE KEY UPDATE"));
    };
    if insert.returning.is_some() {
        return Err(unsupported("INSERT ... RETURNING"));
    }
    let TableObject::TableName(name) = &insert.table else {
        return Err(unsupported("INSERT into a table function"));
    };
    let Some(source) = insert.source else {
        return Err(unsupported("INSERT without VALUES or SELECT"));
    };
    let target = Target::resolve(engine, name, insert.table_alias.as_ref().map(|a| &a.alias))?;
    let columns = target.columns()?;
    let key = target.handle.primary_key();
    match &on_conflict.conflict_target {
        Some(ConflictTarget::Columns(cols)) => {
            let named: BTreeSet<String> = cols.iter().map(names::ident).collect();
            if key.is_empty() || named != key.iter().cloned().collect() {
                return Err(QueryError::NoConflictTarget {
                    table: target.qualified.clone(),
                    key: if key.is_empty() {
                        "none".into()
                    } else {
                        key.join(", ")
                    },
                });
            }
        }
        Some(ConflictTarget::OnConstraint(_)) => {
            return Err(unsupported("ON CONFLICT ON CONSTRAINT"));
        }
        None if matches!(on_conflict.action, OnConflictAction::DoUpdate(_)) => {
            return Err(QueryError::Parse {
                message:
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name"
                        .into(),
            });
        }
        None => {}
    }

    target.require(
        engine,
        match on_conflict.action {
            OnConflictAction::DoNothing => &[Privilege::Insert],
            OnConflictAction::DoUpdate(_) => &[Privilege::Insert, Privilege::Update],
        },
    )?;
    let change = target.handle.begin().await?;
    let do_update = match on_conflict.action {
        OnConflictAction::DoNothing => None,
        OnConflictAction::DoUpdate(u) => Some(u),
    };
    let named = insert
        .columns
        .iter()
        .map(column_name)
        .collect::<Result<Vec<_>, _>>()?;
    let incoming =
        incoming_rows(engine, &target, &named, *source, &key, do_update.is_some()).await?;
    let mut append = change.append_checked()?;
    if key.is_empty() {
        // No key to conflict on: every row is new.
        let mut rows = 0;
        let mut stream = incoming.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            append.write(batch).await?;
        }
        change.commit_rows(Some(append), Vec::new()).await?;
        return Ok(rows);
    }

    let existing = engine
        .read_table(Arc::new(PositionTable::new(target.handle.clone())?))?
        .alias(&target.alias)?;
    let incoming = incoming.alias("excluded")?;
    let keys: Vec<&str> = key.iter().map(String::as_str).collect();
    let mut rows = 0;
    let mut positions = Positions::default();

    if let Some(u) = do_update {
        let joined =
            existing
                .clone()
                .join(incoming.clone(), JoinType::Inner, &keys, &keys, None)?;
        let joined = match u.selection {
            Some(cond) => {
                let cond = joined.parse_sql_expr(&qualify(cond, &target.alias).to_string())?;
                joined.filter(cond)?
            }
            None => joined,
        };
        let mut values: HashMap<String, Expr> = HashMap::new();
        for a in &u.assignments {
            let column = assigned_column(&target, &columns, a)?;
            values.insert(column, qualify(a.value.clone(), &target.alias));
        }
        let mut projection: Vec<DfExpr> = vec![
            qualified(&target.alias, FILE_COLUMN).alias(FILE_COLUMN),
            qualified(&target.alias, POS_COLUMN).alias(POS_COLUMN),
        ];
        for c in &columns {
            let expr = match values.remove(c) {
                Some(v) => joined.parse_sql_expr(&v.to_string())?,
                None => qualified(&target.alias, c),
            };
            projection.push(expr.alias(c));
        }
        let mut stream = joined.select(projection)?.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            positions.add(&batch)?;
            rows += batch.num_rows() as u64;
            let keep: Vec<usize> = (2..batch.num_columns()).collect();
            append.write(batch.project(&keep)?).await?;
        }
    }

    let new_rows = incoming.join(existing, JoinType::LeftAnti, &keys, &keys, None)?;
    let projection: Vec<DfExpr> = columns
        .iter()
        .map(|c| qualified("excluded", c).alias(c))
        .collect();
    let mut stream = new_rows.select(projection)?.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        append.write(batch).await?;
    }
    let deletes = positions.into_deletes(&change).await?;
    change.commit_rows(Some(append), deletes).await?;
    Ok(rows)
}

fn qualified(relation: &str, column: &str) -> DfExpr {
    col(datafusion::common::Column::new(Some(relation), column))
}

/// Qualifies bare column names in an ON CONFLICT expression with the target
/// table, as PostgreSQL reads them (`EXCLUDED.x` names the proposed row).
fn qualify(mut expr: Expr, alias: &str) -> Expr {
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let Expr::Identifier(id) = e {
            *e = Expr::CompoundIdentifier(vec![Ident::with_quote('"', alias), id.clone()]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    expr
}

/// A column an INSERT names: one identifier.
fn column_name(name: &ObjectName) -> Result<Ident, QueryError> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Ok(ident.clone()),
        _ => Err(unsupported(
            "a qualified column name in the column list of INSERT",
        )),
    }
}

/// The rows an INSERT proposes, materialized, with the table's column names
/// and types (columns the INSERT does not name are NULL), one per key.
async fn incoming_rows(
    engine: &Engine,
    target: &Target,
    named: &[Ident],
    source: Query,
    key: &[String],
    strict: bool,
) -> Result<DataFrame, QueryError> {
    let columns = target.columns()?;
    let df = run(engine, Statement::Query(Box::new(source))).await?;
    let produced = df.schema().fields().len();
    let named: Vec<String> = if named.is_empty() {
        columns.iter().take(produced).cloned().collect()
    } else {
        named.iter().map(names::ident).collect()
    };
    if named.len() != produced {
        return Err(QueryError::Parse {
            message: format!(
                "INSERT has {} target columns but {produced} expressions",
                named.len()
            ),
        });
    }
    for n in &named {
        if !columns.contains(n) {
            return Err(QueryError::NoSuchColumn {
                table: target.qualified.clone(),
                column: n.clone(),
            });
        }
    }
    let schema = crate::uuid::logical_schema(&target.handle.arrow_schema()?);
    // Columns the INSERT leaves out take their defaults.
    let mut defaults = crate::defaults::stored(&target.handle);
    defaults.retain(|column, _| !named.contains(column));
    let mut default_values = engine.view_planner().defaults(&defaults).await?;
    let source_names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let projection: Vec<DfExpr> = schema
        .fields()
        .iter()
        .map(|field| {
            let value = match named.iter().position(|n| n == field.name()) {
                Some(i) => col(datafusion::common::Column::from_name(&source_names[i])),
                None => default_values
                    .remove(field.name())
                    .unwrap_or(DfExpr::Literal(datafusion::common::ScalarValue::Null, None)),
            };
            cast(value, field.data_type().clone()).alias(field.name())
        })
        .collect();
    let df = df.select(projection)?;
    let out_schema = Arc::new(df.schema().as_arrow().clone());
    let mut batches = df.collect().await?;
    if !key.is_empty() {
        let key: Vec<usize> = key
            .iter()
            .map(|k| out_schema.index_of(k))
            .collect::<Result<_, _>>()?;
        batches = first_per_key(batches, &key, strict, target)?;
    }
    let table = MemTable::try_new(out_schema, vec![batches])?;
    engine.read_table(Arc::new(table))
}

/// Drops proposed rows whose key was already seen: each conflicts with the
/// first. With DO UPDATE (`strict`) a repeated key is an error instead, as
/// the row would change twice.
fn first_per_key(
    batches: Vec<RecordBatch>,
    key: &[usize],
    strict: bool,
    target: &Target,
) -> Result<Vec<RecordBatch>, QueryError> {
    let Some(first) = batches.first() else {
        return Ok(batches);
    };
    let fields = key
        .iter()
        .map(|&i| SortField::new(first.schema().field(i).data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let keys: Vec<_> = key.iter().map(|&i| batch.column(i).clone()).collect();
        let rows = converter.convert_columns(&keys)?;
        let keep: arrow::array::BooleanArray = (0..batch.num_rows())
            .map(|i| Some(seen.insert(rows.row(i).owned())))
            .collect();
        if strict && keep.true_count() != batch.num_rows() {
            return Err(QueryError::RowChangedTwice {
                command: "ON CONFLICT DO UPDATE",
                table: target.qualified.clone(),
            });
        }
        out.push(arrow::compute::filter_record_batch(&batch, &keep)?);
    }
    Ok(out)
}
